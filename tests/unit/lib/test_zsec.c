/* lib/zsec: key files (modes, Z85), the role and rights tables, and real CURVE handshakes over
 * TCP against the ZAP handler: an accepted key arrives with its User-Id, an unknown key and a
 * plain (NULL mechanism) client fail their handshake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/cluster.h"
#include "lib/proto.h"
#include "lib/zsec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/oks-test-zsec-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
    static char p[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void keygen_writes_a_loadable_pair_with_modes(void **state)
{
    (void)state;
    oks_err e;
    const char *k = path_of("one");
    assert_int_equal(oks_zsec_keygen(k, &e), 0);
    struct stat st;
    assert_int_equal(stat(k, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(path_of("one.pub"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    uint8_t sec[32], pub[32], derived[32];
    assert_int_equal(oks_zsec_key_read(k, true, sec, &e), 0);
    assert_int_equal(oks_zsec_key_read(path_of("one.pub"), false, pub, &e), 0);
    char secz[41], pubz[41];
    zmq_z85_encode(secz, sec, 32);
    assert_int_equal(zmq_curve_public(pubz, secz), 0);
    zmq_z85_decode(derived, pubz);
    assert_memory_equal(pub, derived, 32);
    /* never overwritten */
    assert_int_equal(oks_zsec_keygen(k, &e), OKS_E_ARG);
    assert_non_null(strstr(e.msg, "exists"));
}

static void secret_key_readable_by_others_is_refused(void **state)
{
    (void)state;
    oks_err e;
    const char *k = path_of("loose");
    assert_int_equal(oks_zsec_keygen(k, &e), 0);
    uint8_t key[32];
    /* owned by someone other than root (as root: given away first) */
    if (geteuid() == 0)
        assert_int_equal(chown(k, 11371, (gid_t)-1), 0);
    assert_int_equal(chmod(k, 0640), 0);
    assert_int_equal(oks_zsec_key_read(k, true, key, &e), OKS_E_ARG);
    assert_non_null(strstr(e.msg, "mode 0640"));
    assert_int_equal(chmod(k, 0604), 0);
    assert_int_equal(oks_zsec_key_read(k, true, key, &e), OKS_E_ARG);
    assert_int_equal(chmod(k, 0400), 0);
    assert_int_equal(oks_zsec_key_read(k, true, key, &e), 0);
    /* root's file that its group may read, as a Secret volume under fsGroup */
    if (geteuid() == 0) {
        assert_int_equal(chown(k, 0, (gid_t)-1), 0);
        assert_int_equal(chmod(k, 0440), 0);
        assert_int_equal(oks_zsec_key_read(k, true, key, &e), 0);
        assert_int_equal(chmod(k, 0460), 0);
        assert_int_equal(oks_zsec_key_read(k, true, key, &e), OKS_E_ARG);
    }
    /* a public key file has no such rule */
    assert_int_equal(chmod(path_of("loose.pub"), 0666), 0);
    assert_int_equal(oks_zsec_key_read(path_of("loose.pub"), false, key, &e), 0);
}

static void secret_modes_follow_the_owner(void **state)
{
    (void)state;
    assert_true(oks_zsec_secret_mode_ok(1000, S_IFREG | 0600));
    assert_true(oks_zsec_secret_mode_ok(1000, S_IFREG | 0400));
    assert_false(oks_zsec_secret_mode_ok(1000, S_IFREG | 0640));
    assert_false(oks_zsec_secret_mode_ok(1000, S_IFREG | 0440));
    assert_false(oks_zsec_secret_mode_ok(1000, S_IFREG | 0604));
    assert_true(oks_zsec_secret_mode_ok(0, S_IFREG | 0600));
    assert_true(oks_zsec_secret_mode_ok(0, S_IFREG | 0640));
    assert_true(oks_zsec_secret_mode_ok(0, S_IFREG | 0440));
    assert_false(oks_zsec_secret_mode_ok(0, S_IFREG | 0660));
    assert_false(oks_zsec_secret_mode_ok(0, S_IFREG | 0650));
    assert_false(oks_zsec_secret_mode_ok(0, S_IFREG | 0644));
    assert_false(oks_zsec_secret_mode_ok(0, S_IFREG | 0604));
}

static void bad_key_files_are_refused_with_a_reason(void **state)
{
    (void)state;
    oks_err e;
    uint8_t key[32];
    const char *p = path_of("bad");
    write_file(p, "too short\n", 0600);
    assert_int_equal(oks_zsec_key_read(p, true, key, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "expected 40 Z85 characters, found 9"));
    /* 40 characters, one of them (a quote) outside Z85 */
    write_file(p, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"\n", 0600);
    assert_int_equal(oks_zsec_key_read(p, true, key, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "character 40 is not Z85"));
    write_file(p, "", 0600);
    assert_int_equal(oks_zsec_key_read(p, true, key, &e), OKS_E_FORMAT);
    char big[200];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(p, big, 0600);
    assert_int_equal(oks_zsec_key_read(p, true, key, &e), OKS_E_FORMAT);
    assert_int_equal(oks_zsec_key_read(path_of("missing"), false, key, &e), OKS_E_IO);
    assert_int_equal(oks_zsec_key_read(dir, false, key, &e), OKS_E_ARG); /* a directory */
    /* the well-known test vector of the Z85 spec's CURVE examples loads, with CRLF */
    write_file(p, "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\r\n", 0600);
    assert_int_equal(oks_zsec_key_read(p, true, key, &e), 0);
}

static void key_names_are_file_names_without_pub(void **state)
{
    (void)state;
    char n[64];
    oks_zsec_key_name("/etc/oks/keys/gw-eu.pub", n, sizeof n);
    assert_string_equal(n, "gw-eu");
    oks_zsec_key_name("admin", n, sizeof n);
    assert_string_equal(n, "admin");
    oks_zsec_key_name("a/b.pubx", n, sizeof n);
    assert_string_equal(n, "b.pubx");
}

static void rights_table(void **state)
{
    (void)state;
    int reads[] = {OKS__REQUEST__OP_GET_FINGERPRINT, OKS__REQUEST__OP_GET_KEY_ID,
                   OKS__REQUEST__OP_SEARCH,          OKS__REQUEST__OP_GET_HASH,
                   OKS__REQUEST__OP_STATS,           OKS__REQUEST__OP_CHANGES,
                   OKS__REQUEST__OP_HEALTH,          OKS__REQUEST__OP_LIST};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        assert_int_equal(oks_zsec_op_class(reads[i]), OKS_OP_READ);
    assert_int_equal(oks_zsec_op_class(OKS__REQUEST__OP_ADD), OKS_OP_ADD);
    assert_int_equal(oks_zsec_op_class(OKS__REQUEST__OP_DELETE), OKS_OP_ADMIN);
    assert_int_equal(oks_zsec_op_class(999), OKS_OP_ADMIN); /* unknown: the strictest */
    /* a shard reads and adds as a replica peer following another's change log */
    oks_role clients[] = {OKS_ROLE_HTTP, OKS_ROLE_MAIL, OKS_ROLE_SYNC, OKS_ROLE_ROUTER,
                          OKS_ROLE_SHARD};
    for (size_t i = 0; i < 5; i++) {
        assert_true(oks_zsec_may(clients[i], OKS_OP_READ));
        assert_true(oks_zsec_may(clients[i], OKS_OP_ADD));
        assert_false(oks_zsec_may(clients[i], OKS_OP_ADMIN));
    }
    assert_true(oks_zsec_may(OKS_ROLE_ADMIN, OKS_OP_ADMIN));
    assert_true(oks_zsec_may(OKS_ROLE_ADMIN, OKS_OP_READ));
    for (int c = OKS_OP_READ; c <= OKS_OP_ADMIN; c++)
        assert_false(oks_zsec_may(OKS_ROLE_NONE, (oks_op_class)c));
    /* who may connect to whom */
    assert_true(oks_zsec_accepts(OKS_ROLE_SHARD, OKS_ROLE_ROUTER));
    assert_true(oks_zsec_accepts(OKS_ROLE_SHARD, OKS_ROLE_ADMIN));
    assert_false(oks_zsec_accepts(OKS_ROLE_SHARD, OKS_ROLE_HTTP));
    assert_true(oks_zsec_accepts(OKS_ROLE_SHARD, OKS_ROLE_SHARD)); /* replica peers */
    assert_true(oks_zsec_accepts(OKS_ROLE_ROUTER, OKS_ROLE_HTTP));
    assert_true(oks_zsec_accepts(OKS_ROLE_ROUTER, OKS_ROLE_MAIL));
    assert_true(oks_zsec_accepts(OKS_ROLE_ROUTER, OKS_ROLE_SYNC));
    assert_true(oks_zsec_accepts(OKS_ROLE_ROUTER, OKS_ROLE_ADMIN));
    assert_false(oks_zsec_accepts(OKS_ROLE_ROUTER, OKS_ROLE_ROUTER));
    assert_false(oks_zsec_accepts(OKS_ROLE_ROUTER, OKS_ROLE_SHARD));
    assert_false(oks_zsec_accepts(OKS_ROLE_HTTP, OKS_ROLE_ADMIN));
    /* User-Ids */
    char n[64];
    assert_int_equal(oks_zsec_parse_user("admin:alice", n, sizeof n), OKS_ROLE_ADMIN);
    assert_string_equal(n, "alice");
    assert_int_equal(oks_zsec_parse_user("http:gw:2", n, sizeof n), OKS_ROLE_HTTP);
    assert_string_equal(n, "gw:2");
    assert_int_equal(oks_zsec_parse_user("root:x", n, sizeof n), OKS_ROLE_NONE);
    assert_int_equal(oks_zsec_parse_user("admin", n, sizeof n), OKS_ROLE_NONE);
    assert_int_equal(oks_zsec_parse_user(NULL, n, sizeof n), OKS_ROLE_NONE);
    assert_string_equal(oks_role_name(OKS_ROLE_SYNC), "sync");
    assert_int_equal(oks_role_parse("mail", 4), OKS_ROLE_MAIL);
}

static void config_without_keys_is_refused(void **state)
{
    (void)state;
    static const char text[] = "[cluster]\nslots = 16\nrouters = tcp://127.0.0.1:1\n"
                               "[shard.s0]\nendpoint = tcp://127.0.0.1:2\nslots = 0-15\n";
    oks_cluster c;
    oks_err e;
    assert_int_equal(oks_cluster_load_text("t.conf", text, sizeof text - 1, &c, &e), 0);
    void *z = zmq_ctx_new();
    for (int r = OKS_ROLE_ROUTER; r < OKS_ROLE_COUNT; r++) {
        assert_int_equal(oks_zsec_start(&c, (oks_role)r, z, &e), OKS_E_ARG);
        assert_non_null(strstr(e.msg, "_key is not set"));
        assert_int_equal(oks_zsec_self(), OKS_ROLE_NONE);
    }
    zmq_ctx_term(z);
    oks_cluster_release(&c);
}

/* Waits for a handshake outcome event on a client socket's monitor. */
static int handshake_event(void *mon)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        assert_true(zmq_msg_recv(&ev, mon, 0) >= 0);
        assert_true(zmq_msg_recv(&addr, mon, 0) >= 0);
        uint16_t id;
        memcpy(&id, zmq_msg_data(&ev), 2);
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_DISCONNECTED)
            return id;
    }
}

static void *client(void *z, const char *ep, const uint8_t *server, const char *secret_path,
                    void **mon)
{
    static int n;
    void *s = zmq_socket(z, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (secret_path) {
        uint8_t sec[32], pub[32];
        char sz[41], pz[41];
        assert_int_equal(oks_zsec_key_read(secret_path, true, sec, NULL), 0);
        zmq_z85_encode(sz, sec, 32);
        zmq_curve_public(pz, sz);
        zmq_z85_decode(pub, pz);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 32);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 32);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 32);
    }
    char mep[64];
    snprintf(mep, sizeof mep, "inproc://test-zsec-mon-%d", n++);
    assert_int_equal(zmq_socket_monitor(s, mep, ZMQ_EVENT_ALL), 0);
    *mon = zmq_socket(z, ZMQ_PAIR);
    zmq_setsockopt(*mon, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(*mon, mep), 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

static void zap_handler_accepts_listed_keys_only(void **state)
{
    (void)state;
    oks_err e;
    const char *roles[] = {"router", "shard", "gw-a", "gw-b", "admin", "stranger"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(oks_zsec_keygen(path_of(roles[i]), &e), 0);
    char text[2048];
    snprintf(text, sizeof text,
             "[cluster]\nslots = 16\nrouters = tcp://127.0.0.1:1\n"
             "[shard.s0]\nendpoint = tcp://127.0.0.1:2\nslots = 0-15\n"
             "[security]\nrouter_key = %s/router\nshard_key = %s/shard\nhttp_key = %s/gw-a\n"
             "admin_key = %s/admin\nhttp_gateways = %s/gw-a.pub %s/gw-b.pub\n",
             dir, dir, dir, dir, dir, dir);
    oks_cluster c;
    assert_int_equal(oks_cluster_load_text("t.conf", text, strlen(text), &c, &e), 0);
    void *z = zmq_ctx_new();
    assert_int_equal(oks_zsec_start(&c, OKS_ROLE_ROUTER, z, &e), 0);
    assert_int_equal(oks_zsec_self(), OKS_ROLE_ROUTER);
    void *srv = zmq_socket(z, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(oks_zsec_server(srv, &e), 0);
    assert_int_equal(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t len = sizeof ep;
    zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &len);
    uint8_t server[32];
    assert_int_equal(oks_zsec_key_read(path_of("router.pub"), false, server, &e), 0);

    /* both listed gateway keys (a rotation) and the admin: accepted, User-Id ROLE:NAME */
    const char *ok[] = {"gw-a", "gw-b", "admin"};
    const char *uid[] = {"http:gw-a", "http:gw-b", "admin:admin"};
    for (size_t i = 0; i < 3; i++) {
        void *mon, *s = client(z, ep, server, path_of(ok[i]), &mon);
        assert_int_equal(handshake_event(mon), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
        assert_int_equal(zmq_send(s, "hi", 2, 0), 2);
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&id, srv, 0) >= 0);
        assert_true(zmq_msg_recv(&body, srv, 0) >= 0);
        assert_string_equal(zmq_msg_gets(&body, "User-Id"), uid[i]);
        char name[64];
        oks_role r = oks_zsec_peer(&body, name, sizeof name);
        assert_int_equal(r, i < 2 ? OKS_ROLE_HTTP : OKS_ROLE_ADMIN);
        assert_string_equal(name, ok[i]);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        zmq_close(s);
        zmq_close(mon);
    }
    /* a key nobody listed, and a shard's key (a role routers do not accept): refused */
    const char *bad[] = {"stranger", "shard"};
    for (size_t i = 0; i < 2; i++) {
        void *mon, *s = client(z, ep, server, path_of(bad[i]), &mon);
        assert_int_equal(handshake_event(mon), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        zmq_close(s);
        zmq_close(mon);
    }
    /* a plain client: no CURVE, no handshake */
    void *mon, *s = client(z, ep, NULL, NULL, &mon);
    int ev = handshake_event(mon);
    assert_true(ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || ev == ZMQ_EVENT_DISCONNECTED);
    zmq_close(s);
    zmq_close(mon);

    zmq_close(srv);
    oks_zsec_stop();
    assert_int_equal(oks_zsec_self(), OKS_ROLE_NONE);
    zmq_ctx_term(z);
    oks_cluster_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_writes_a_loadable_pair_with_modes),
        cmocka_unit_test(secret_key_readable_by_others_is_refused),
        cmocka_unit_test(secret_modes_follow_the_owner),
        cmocka_unit_test(bad_key_files_are_refused_with_a_reason),
        cmocka_unit_test(key_names_are_file_names_without_pub),
        cmocka_unit_test(rights_table),
        cmocka_unit_test(config_without_keys_is_refused),
        cmocka_unit_test(zap_handler_accepts_listed_keys_only),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}

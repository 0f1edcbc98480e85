/* lib/etcd: the answer parser on etcd 3.4's JSON gateway answers (and broken ones), range ends,
 * base64, and the options a handle refuses. The calls themselves run against a real etcd in
 * tests/integration/1A-etcd-client.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "lib/cluster.h"
#include "lib/etcd.h"

#include <jansson.h>

#define S(x) x, strlen(x)

static void a_range_answer_gives_keys_values_and_revisions(void **state)
{
    (void)state;
    oks_etcd_answer a;
    oks_err e;
    const char *j = "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":\"22\"},"
                    "\"kvs\":[{\"key\":\"L3gvYQ==\",\"create_revision\":\"17\",\"mod_revision\":"
                    "\"18\",\"version\":\"2\",\"value\":\"djE=\",\"lease\":\"99\"},"
                    "{\"key\":\"L3gvYg==\"}],\"count\":\"2\"}";
    assert_int_equal(oks_etcd_parse_answer(OKS_ETCD_RANGE, S(j), 0, &a, &e), 0);
    assert_int_equal(a.revision, 22);
    assert_int_equal(a.n_kvs, 2);
    assert_string_equal(a.kvs[0].key, "/x/a");
    assert_int_equal(a.kvs[0].len, 2);
    assert_memory_equal(a.kvs[0].val, "v1", 2);
    assert_int_equal(a.kvs[0].mod_rev, 18);
    assert_int_equal(a.kvs[0].create_rev, 17);
    assert_int_equal(a.kvs[0].lease, 99);
    assert_int_equal(a.kvs[1].len, 0); /* absent value: empty, still NUL-terminated */
    assert_non_null(a.kvs[1].val);
    assert_false(a.more);
    oks_etcd_answer_release(&a);
    assert_int_equal(oks_etcd_parse_answer(OKS_ETCD_RANGE, S(j), 1, &a, &e), OKS_E_LIMIT);
    assert_null(a.kvs);
}

static void broken_answers_are_protocol_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "not json", "[]", "{}", "{\"header\":[]}", "{\"header\":{\"revision\":\"-3\"}}",
        "{\"header\":{\"revision\":\"12x\"}}", "{\"header\":{\"revision\":true}}",
        "{\"header\":{\"revision\":\"99999999999999999999999\"}}",
        "{\"header\":{},\"kvs\":{}}", "{\"header\":{},\"kvs\":[1]}", "{\"header\":{},\"kvs\":[{}]}",
        "{\"header\":{},\"kvs\":[{\"key\":\"***\"}]}",
        "{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"value\":7}]}",
        "{\"header\":{},\"more\":\"yes\"}", "{\"header\":{},\"header\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oks_etcd_answer a;
        oks_err e;
        int r = oks_etcd_parse_answer(OKS_ETCD_RANGE, S(bad[i]), 0, &a, &e);
        if (r != OKS_E_PROTO)
            fail_msg("%s: %d (%s)", bad[i], r, e.msg);
        assert_non_null(strstr(e.msg, "etcd answer"));
    }
}

static void error_objects_map_grpc_codes(void **state)
{
    (void)state;
    oks_etcd_answer a;
    oks_err e;
    const char *nf = "{\"error\":\"etcdserver: requested lease not found\",\"code\":5,"
                     "\"message\":\"etcdserver: requested lease not found\"}";
    assert_int_equal(oks_etcd_parse_answer(OKS_ETCD_LEASE_REVOKE, S(nf), 0, &a, &e),
                     OKS_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "requested lease not found"));
    const char *ul = "{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}";
    assert_int_equal(oks_etcd_parse_answer(OKS_ETCD_LEASE_KEEPALIVE, S(ul), 0, &a, &e),
                     OKS_E_UNAVAILABLE);
    assert_non_null(strstr(e.msg, "no leader"));
}

static void a_failed_txn_reports_the_current_revisions(void **state)
{
    (void)state;
    oks_etcd_answer a;
    oks_err e;
    const char *j = "{\"header\":{\"revision\":\"23\"},\"responses\":[{\"response_range\":"
                    "{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":\"17\"}]}},"
                    "{\"response_range\":{\"header\":{}}}]}";
    assert_int_equal(oks_etcd_parse_answer(OKS_ETCD_TXN, S(j), 0, &a, &e), 0);
    assert_false(a.succeeded);
    assert_int_equal(a.n_failed, 2);
    assert_int_equal(a.failed[0].mod_rev, 17);
    assert_int_equal(a.failed[1].mod_rev, 0); /* absent key */
    oks_etcd_answer_release(&a);
}

typedef struct seen {
    int n;
    int del[4];
    int64_t rev[4];
    int stop_at;
} seen;

static int on_event(void *arg, int is_delete, const oks_etcd_kv *kv, int64_t rev)
{
    seen *s = arg;
    (void)kv;
    s->del[s->n] = is_delete;
    s->rev[s->n++] = rev;
    return s->n == s->stop_at ? 42 : 0;
}

static void watch_messages_give_events_in_order(void **state)
{
    (void)state;
    oks_etcd_watch_msg m;
    oks_err e;
    int64_t last = 0;
    seen s = {0};
    const char *created = "{\"result\":{\"header\":{\"revision\":\"17\"},\"created\":true}}";
    assert_int_equal(oks_etcd_parse_watch(S(created), on_event, &s, &m, &last, &e), 0);
    assert_true(m.created);
    assert_int_equal(m.header_rev, 17);
    const char *evs = "{\"result\":{\"header\":{\"revision\":\"19\"},\"events\":[{\"kv\":"
                      "{\"key\":\"L3gvYg==\",\"mod_revision\":\"18\",\"value\":\"aA==\"}},"
                      "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3gvYg==\",\"mod_revision\":"
                      "\"19\"}}]}}";
    assert_int_equal(oks_etcd_parse_watch(S(evs), on_event, &s, &m, &last, &e), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.del[0], 0);
    assert_int_equal(s.del[1], 1);
    assert_int_equal(last, 19);
    /* the callback's value stops the parse */
    seen s2 = {.stop_at = 1};
    last = 0;
    assert_int_equal(oks_etcd_parse_watch(S(evs), on_event, &s2, &m, &last, &e), 42);
    assert_int_equal(s2.n, 1);
    /* going backwards is a protocol error */
    last = 30;
    assert_int_equal(oks_etcd_parse_watch(S(evs), on_event, &s, &m, &last, &e), OKS_E_PROTO);
    const char *comp = "{\"result\":{\"header\":{},\"canceled\":true,\"compact_revision\":\"22\"}}";
    assert_int_equal(oks_etcd_parse_watch(S(comp), on_event, &s, &m, &last, &e), 0);
    assert_true(m.canceled);
    assert_int_equal(m.compact_rev, 22);
}

static void range_end_and_base64(void **state)
{
    (void)state;
    uint8_t *end;
    size_t n;
    assert_int_equal(oks_etcd_prefix_end("/oks/", &end, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(end, "/oks0", 5);
    free(end);
    assert_int_equal(oks_etcd_prefix_end("a\xff\xff", &end, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(end[0], 'b');
    free(end);
    assert_int_equal(oks_etcd_prefix_end("", &end, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(end[0], 0);
    free(end);
    static const char *const in[] = {"", "f", "fo", "foo", "foob"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg=="};
    for (int i = 0; i < 5; i++) {
        json_t *s = oks_etcd_b64(in[i], strlen(in[i]));
        assert_string_equal(json_string_value(s), out[i]);
        json_decref(s);
    }
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    oks_etcd *c;
    oks_err e;
    oks_etcd_opts o = {.endpoints = ""};
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    assert_null(c);
    o.endpoints = "127.0.0.1:2379";
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    assert_non_null(strstr(e.msg, "127.0.0.1:2379"));
    o.endpoints = "http://a:1, https://b:2/";
    assert_int_equal(oks_etcd_open(&o, &c, &e), 0);
    assert_string_equal(oks_etcd_endpoint(c), "http://a:1");
    oks_etcd_close(c);
    char key[] = "/tmp/oks-etcd-key.XXXXXX";
    int fd = mkstemp(key);
    assert_true(fd >= 0);
    close(fd);
    o.cert_file = key; /* any readable file: the certificate is read by TLS, later */
    o.key_file = key;
    chmod(key, 0644);
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    assert_non_null(strstr(e.msg, "chmod 600"));
    chmod(key, 0600);
    assert_int_equal(oks_etcd_open(&o, &c, &e), 0);
    oks_etcd_close(c);
    o.key_file = NULL;
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    unlink(key);
    o.key_file = key;
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_IO);
}

static void authenticate_answers_and_password_files(void **state)
{
    (void)state;
    oks_etcd_answer a;
    oks_err e;
    const char *ok = "{\"header\":{\"revision\":\"5\"},\"token\":\"abc.12\"}";
    assert_int_equal(oks_etcd_parse_answer(OKS_ETCD_AUTHENTICATE, S(ok), 0, &a, &e), 0);
    assert_string_equal(a.token, "abc.12");
    oks_etcd_answer_release(&a);
    static const char *const bad[] = {
        "{\"header\":{}}", "{\"header\":{},\"token\":\"\"}", "{\"header\":{},\"token\":7}",
        "{\"header\":{},\"token\":\"a\\nInjected: 1\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (oks_etcd_parse_answer(OKS_ETCD_AUTHENTICATE, S(bad[i]), 0, &a, &e) != OKS_E_PROTO)
            fail_msg("%s accepted", bad[i]);
    /* a user needs its password file (and the other way round); the file is a secret */
    oks_etcd *c;
    oks_etcd_opts o = {.endpoints = "http://a:1", .user = "oks"};
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    char pw[] = "/tmp/oks-etcd-pw.XXXXXX";
    int fd = mkstemp(pw);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\nrest\n", 12), 12);
    close(fd);
    o.user = NULL;
    o.password_file = pw;
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    o.user = "oks";
    chmod(pw, 0644);
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG);
    assert_non_null(strstr(e.msg, "chmod 600"));
    chmod(pw, 0600);
    assert_int_equal(oks_etcd_open(&o, &c, &e), 0);
    oks_etcd_close(c);
    fd = open(pw, O_WRONLY | O_TRUNC);
    close(fd);
    assert_int_equal(oks_etcd_open(&o, &c, &e), OKS_E_ARG); /* empty: no password */
    unlink(pw);
}

static const char SHARD[] = "[shard.a]\nendpoint = tcp://127.0.0.1:1\nslots = 0-4095\n";

static int load(const char *cluster, oks_cluster *c, oks_err *e)
{
    char text[1024];
    snprintf(text, sizeof text, "[cluster]\n%s%s", cluster, SHARD);
    return oks_cluster_load_text("t.conf", text, strlen(text), c, e);
}

static void the_config_keys(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    oks_etcd *h;
    assert_int_equal(load("", &c, &e), 0);
    assert_string_equal(c.etcd.prefix, "/oks/");
    assert_int_equal(c.etcd.timeout_ms, 5000);
    assert_int_equal(oks_etcd_open_conf(&c, &h, &e), OKS_E_ARG);
    assert_non_null(strstr(e.msg, "static"));
    oks_cluster_release(&c);
    assert_int_equal(load("etcd = http://10.0.0.1:2379, http://10.0.0.2:2379\n"
                          "etcd_timeout_ms = 800\n", &c, &e), 0);
    assert_int_equal(oks_etcd_open_conf(&c, &h, &e), 0);
    assert_string_equal(oks_etcd_endpoint(h), "http://10.0.0.1:2379");
    oks_etcd_close(h);
    oks_cluster_release(&c);
    assert_int_equal(load("etcd = 10.0.0.1:2379\n", &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "[cluster] etcd: 10.0.0.1:2379"));
    assert_int_equal(load("etcd = https://h:2379\netcd_cert = /c.pem\n", &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "etcd_cert: needs etcd_key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_range_answer_gives_keys_values_and_revisions),
        cmocka_unit_test(broken_answers_are_protocol_errors),
        cmocka_unit_test(error_objects_map_grpc_codes),
        cmocka_unit_test(authenticate_answers_and_password_files),
        cmocka_unit_test(a_failed_txn_reports_the_current_revisions),
        cmocka_unit_test(watch_messages_give_events_in_order),
        cmocka_unit_test(range_end_and_base64),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(the_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

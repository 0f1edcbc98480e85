/* sync/recon: whole sessions between a requester and a responder on the two ends of a real
 * socket pair (two threads, each with its own tree): the to-fetch sets on both sides must be
 * exactly the two set differences, for differences from none to thousands each way; and a peer
 * that sends garbage, refuses the config, or stalls ends the session with an error, one that
 * floods requests without reading hits the unread-output cap, and the work per session is
 * bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sync/recon.h"

typedef struct side {
    int fd;
    enum oks_recon_role role;
    oks_ptree *t;
    oks_recon_opts o;
    oks_recon_result res;
    oks_err e;
    int rc;
} side;

static void *run_side(void *arg)
{
    side *s = arg;
    s->rc = oks_recon_session(s->fd, s->role, s->t, &s->o, &s->res, &s->e);
    return NULL;
}

static int in_list(uint8_t (*v)[16], size_t n, const uint8_t h[16])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(v[i], h, 16) == 0)
            return 1;
    return 0;
}

/* common, only-requester, only-responder sizes */
static void run_case(size_t common, size_t only_req, size_t only_resp)
{
    size_t total = common + only_req + only_resp;
    uint8_t(*h)[16] = malloc(total * 16 + 16);
    gcry_randomize(h, total * 16, GCRY_WEAK_RANDOM);
    side a = {0}, b = {0};
    oks_err e;
    assert_int_equal(oks_ptree_open(NULL, &a.t, &e), 0);
    assert_int_equal(oks_ptree_open(NULL, &b.t, &e), 0);
    for (size_t i = 0; i < total; i++) {
        if (i < common + only_req)
            assert_int_equal(oks_ptree_insert(a.t, h[i], &e), 0);
        if (i < common || i >= common + only_req)
            assert_int_equal(oks_ptree_insert(b.t, h[i], &e), 0);
    }
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    a.fd = sv[0];
    a.role = OKS_RECON_REQUESTER;
    b.fd = sv[1];
    b.role = OKS_RECON_RESPONDER;
    oks_recon_opts_default(&a.o);
    oks_recon_opts_default(&b.o);
    a.o.cfg.http_port = 1111;
    b.o.cfg.http_port = 2222;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_side, &a);
    pthread_create(&tb, NULL, run_side, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (a.rc || b.rc)
        fail_msg("session failed: requester %d (%s), responder %d (%s)", a.rc, a.e.msg, b.rc,
                 b.e.msg);
    assert_int_equal(a.res.peer_http_port, 2222);
    assert_int_equal(b.res.peer_http_port, 1111);
    /* requester fetches the responder-only keys, responder the requester-only keys */
    assert_int_equal(a.res.nfetch, only_resp);
    assert_int_equal(b.res.nfetch, only_req);
    for (size_t i = 0; i < only_resp; i++)
        assert_true(in_list(a.res.fetch, a.res.nfetch, h[common + only_req + i]));
    for (size_t i = 0; i < only_req; i++)
        assert_true(in_list(b.res.fetch, b.res.nfetch, h[common + i]));
    oks_recon_result_release(&a.res);
    oks_recon_result_release(&b.res);
    oks_ptree_free(a.t);
    oks_ptree_free(b.t);
    close(sv[0]);
    close(sv[1]);
    free(h);
}

static void test_identical_sets_move_nothing(void **state)
{
    (void)state;
    run_case(0, 0, 0);
    run_case(5000, 0, 0);
}

static void test_small_differences_found_by_polynomials(void **state)
{
    (void)state;
    run_case(3000, 1, 0);
    run_case(3000, 0, 1);
    run_case(3000, 2, 3);
    run_case(40, 2, 2);
}

static void test_large_differences_both_ways(void **state)
{
    (void)state;
    run_case(2000, 1000, 1000);
    run_case(0, 300, 0);
    run_case(0, 0, 3000);
    run_case(100, 5000, 20);
}

/* one side is the test itself, writing raw bytes */
typedef struct raw_case {
    enum oks_recon_role role;
    const uint8_t *bytes;
    size_t len;
    int expect;
    const char *msg_part;
} raw_case;

/* budgets for the next run_raw (0: the defaults) */
static size_t raw_max_buffer;
static uint64_t raw_max_work;

static void run_raw(const raw_case *rc, int close_after)
{
    side s = {0};
    oks_err e;
    assert_int_equal(oks_ptree_open(NULL, &s.t, &e), 0);
    uint8_t h[16];
    for (int i = 0; i < 400; i++) {
        gcry_randomize(h, 16, GCRY_WEAK_RANDOM);
        oks_ptree_insert(s.t, h, &e);
    }
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s.fd = sv[0];
    s.role = rc->role;
    oks_recon_opts_default(&s.o);
    s.o.read_timeout_ms = 300;
    s.o.config_timeout_ms = 300;
    if (raw_max_buffer)
        s.o.max_buffer = raw_max_buffer;
    if (raw_max_work)
        s.o.max_work = raw_max_work;
    pthread_t th;
    pthread_create(&th, NULL, run_side, &s);
    /* a valid config and verdict first, then the raw bytes */
    oks_buf b = OKS_BUF_INIT;
    oks_recon_config c = {"1.1.6", 5555, 2, 5, "yminsky.merge,yminsky.dedup"};
    oks_recon_config_write(&b, &c);
    oks_recon_verdict_write(&b, NULL);
    oks_buf_append(&b, rc->bytes, rc->len);
    assert_int_equal(write(sv[1], b.data, b.len), (ssize_t)b.len);
    if (close_after)
        shutdown(sv[1], SHUT_WR);
    /* what the side writes (config, verdict, a few requests) fits in the socket buffer */
    pthread_join(th, NULL);
    assert_int_equal(s.rc, rc->expect);
    if (rc->msg_part)
        assert_non_null(strstr(s.e.msg, rc->msg_part));
    oks_recon_result_release(&s.res);
    oks_ptree_free(s.t);
    oks_buf_release(&b);
    close(sv[0]);
    close(sv[1]);
}

static void test_malformed_messages_end_the_session(void **state)
{
    (void)state;
    const raw_case cases[] = {
        /* unknown type */
        {OKS_RECON_RESPONDER, (const uint8_t *)"\0\0\0\1\x2a", 5, OKS_E_PROTO, "unknown"},
        /* zero length */
        {OKS_RECON_RESPONDER, (const uint8_t *)"\0\0\0\0", 4, OKS_E_FORMAT, "length 0"},
        /* absurd length */
        {OKS_RECON_RESPONDER, (const uint8_t *)"\x7f\0\0\0\x02", 5, OKS_E_LIMIT, "limit"},
        /* huge element count in a short message */
        {OKS_RECON_RESPONDER, (const uint8_t *)"\0\0\0\5\x02\x7f\xff\xff\xff", 9, OKS_E_LIMIT,
         "elements"},
        /* a reply type sent to a responder */
        {OKS_RECON_RESPONDER, (const uint8_t *)"\0\0\0\1\x04", 5, OKS_E_PROTO, "SyncFail"},
        /* requester: a Done instead of a reply */
        {OKS_RECON_REQUESTER, (const uint8_t *)"\0\0\0\1\x05", 5, OKS_E_PROTO, "Done"},
        /* requester: the peer's Error */
        {OKS_RECON_REQUESTER, (const uint8_t *)"\0\0\0\x0a\x07\0\0\0\5oops!", 14, OKS_E_PROTO,
         "oops!"},
        /* message cut short, then EOF */
        {OKS_RECON_RESPONDER, (const uint8_t *)"\0\0\0\x30\x01\0\0", 7, OKS_E_PROTO, "closed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_raw(&cases[i], 1);
}

static void test_stalled_peer_times_out(void **state)
{
    (void)state;
    raw_case stall = {OKS_RECON_RESPONDER, (const uint8_t *)"", 0, OKS_E_TIMEOUT, "silent"};
    run_raw(&stall, 0);
    raw_case stall2 = {OKS_RECON_REQUESTER, (const uint8_t *)"", 0, OKS_E_TIMEOUT, "silent"};
    run_raw(&stall2, 0);
}

/* ReconRqst_Full at the root with an empty set: "send me everything" */
#define ROOT_FULL "\0\0\0\x0d\x01\0\0\0\0\0\0\0\0\0\0\0\0"

static uint8_t *repeat(const char *msg, size_t len, size_t n)
{
    uint8_t *v = malloc(len * n);
    for (size_t i = 0; i < n; i++)
        memcpy(v + i * len, msg, len);
    return v;
}

static void test_flood_without_reading_hits_the_buffer_cap(void **state)
{
    (void)state;
    uint8_t *v = repeat(ROOT_FULL, 17, 2000); /* each answer holds the 400 elements */
    raw_case flood = {OKS_RECON_RESPONDER, v, 17 * 2000, OKS_E_LIMIT, "not read by the peer"};
    raw_max_buffer = 65536;
    run_raw(&flood, 0);
    raw_max_buffer = 0;
    free(v);
}

static void test_work_is_bounded(void **state)
{
    (void)state;
    uint8_t *v = repeat(ROOT_FULL, 17, 50); /* 50 x 400 elements read from the tree */
    raw_case work = {OKS_RECON_RESPONDER, v, 17 * 50, OKS_E_LIMIT, "work limit"};
    raw_max_work = 5000;
    run_raw(&work, 0);
    raw_max_work = 0;
    free(v);
}

/* request, Flush and Done in one write, the peer then waits without closing: driven like the
 * worker's event loop does (step again only on a poll event), the session must end without
 * waiting for anything more from the peer */
static void test_done_right_after_flush_ends_the_session(void **state)
{
    (void)state;
    oks_ptree *t;
    oks_err e;
    assert_int_equal(oks_ptree_open(NULL, &t, &e), 0);
    uint8_t h[16];
    for (int i = 0; i < 400; i++) {
        gcry_randomize(h, 16, GCRY_WEAK_RANDOM);
        oks_ptree_insert(t, h, &e);
    }
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    oks_buf b = OKS_BUF_INIT;
    oks_recon_config c = {"1.1.6", 5555, 2, 5, "yminsky.merge,yminsky.dedup"};
    oks_recon_config_write(&b, &c);
    oks_recon_verdict_write(&b, NULL);
    oks_buf_append(&b, ROOT_FULL "\0\0\0\1\x06\0\0\0\1\x05", 27);
    assert_int_equal(write(sv[1], b.data, b.len), (ssize_t)b.len);
    oks_recon_opts o;
    oks_recon_opts_default(&o);
    oks_recon_sess *s = oks_recon_sess_new(sv[0], OKS_RECON_RESPONDER, t, &o);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        rc = oks_recon_sess_step(s, &e);
        struct pollfd p = {sv[0], oks_recon_sess_events(s), 0};
        if (rc == 0 && poll(&p, 1, 0) == 0)
            break; /* it waits for the peer although all it needs is buffered */
    }
    assert_int_equal(rc, 1);
    oks_recon_sess_free(s);
    oks_ptree_free(t);
    oks_buf_release(&b);
    close(sv[0]);
    close(sv[1]);
}

static void test_config_with_other_filters_refused(void **state)
{
    (void)state;
    side a = {0}, b = {0};
    oks_err e;
    oks_ptree_open(NULL, &a.t, &e);
    oks_ptree_open(NULL, &b.t, &e);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    a.fd = sv[0];
    a.role = OKS_RECON_REQUESTER;
    b.fd = sv[1];
    b.role = OKS_RECON_RESPONDER;
    oks_recon_opts_default(&a.o);
    oks_recon_opts_default(&b.o);
    b.o.cfg.filters = "schema:application/pgp-keys,yminsky.merge,yminsky.dedup";
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_side, &a);
    pthread_create(&tb, NULL, run_side, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, OKS_E_PROTO);
    assert_int_equal(b.rc, OKS_E_PROTO);
    assert_non_null(strstr(a.e.msg, "filters differ"));
    oks_ptree_free(a.t);
    oks_ptree_free(b.t);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_sets_move_nothing),
        cmocka_unit_test(test_small_differences_found_by_polynomials),
        cmocka_unit_test(test_large_differences_both_ways),
        cmocka_unit_test(test_malformed_messages_end_the_session),
        cmocka_unit_test(test_stalled_peer_times_out),
        cmocka_unit_test(test_config_with_other_filters_refused),
        cmocka_unit_test(test_flood_without_reading_hits_the_buffer_cap),
        cmocka_unit_test(test_work_is_bounded),
        cmocka_unit_test(test_done_right_after_flush_ends_the_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* lib/proto: request/response packing with size limits, version and operation checks, error
 * replies, status mapping, and multipart frames over a real ZeroMQ inproc pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto.h"

static void pack(const Oks__Request *r, oks_buf *b)
{
    b->len = 0;
    assert_int_equal(oks_proto_pack_request(r, b), 0);
}

static void request_round_trips(void **state)
{
    (void)state;
    uint8_t fpr[20];
    memset(fpr, 0xab, sizeof fpr);
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    g.fingerprint = (ProtobufCBinaryData){sizeof fpr, fpr};
    Oks__Request r = OKS__REQUEST__INIT;
    r.version = OKS_PROTO_VERSION;
    r.deadline_ms = 250;
    r.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    r.get_fingerprint = &g;
    oks_buf b = OKS_BUF_INIT;
    pack(&r, &b);
    Oks__Request *out = NULL;
    oks_err e;
    assert_int_equal(oks_proto_request_unpack(b.data, b.len, 1024, &out, &e), 0);
    assert_non_null(out);
    assert_int_equal(out->op_case, OKS__REQUEST__OP_GET_FINGERPRINT);
    assert_int_equal(out->deadline_ms, 250);
    assert_int_equal(out->get_fingerprint->fingerprint.len, 20);
    assert_memory_equal(out->get_fingerprint->fingerprint.data, fpr, 20);
    oks__request__free_unpacked(out, NULL);
    oks_buf_release(&b);
}

static void oversized_request_is_refused_before_unpacking(void **state)
{
    (void)state;
    uint8_t big[4096];
    memset(big, 0, sizeof big);
    Oks__Add a = OKS__ADD__INIT;
    ProtobufCBinaryData k = {sizeof big, big};
    a.n_keys = 1;
    a.keys = &k;
    Oks__Request r = OKS__REQUEST__INIT;
    r.version = OKS_PROTO_VERSION;
    r.op_case = OKS__REQUEST__OP_ADD;
    r.add = &a;
    oks_buf b = OKS_BUF_INIT;
    pack(&r, &b);
    Oks__Request *out = (Oks__Request *)1;
    oks_err e;
    assert_int_equal(oks_proto_request_unpack(b.data, b.len, 1024, &out, &e), OKS_E_LIMIT);
    assert_null(out);
    assert_int_equal(oks_proto_status_of(e.code), OKS__STATUS__STATUS_TOO_LARGE);
    oks_buf_release(&b);
}

static void unknown_version_is_refused(void **state)
{
    (void)state;
    Oks__Health h = OKS__HEALTH__INIT;
    Oks__Request r = OKS__REQUEST__INIT;
    r.version = OKS_PROTO_VERSION + 1;
    r.op_case = OKS__REQUEST__OP_HEALTH;
    r.health = &h;
    oks_buf b = OKS_BUF_INIT;
    pack(&r, &b);
    Oks__Request *out = NULL;
    oks_err e;
    assert_int_equal(oks_proto_request_unpack(b.data, b.len, 1024, &out, &e), OKS_E_UNSUPPORTED);
    assert_null(out);
    assert_non_null(strstr(e.msg, "version 2"));
    assert_int_equal(oks_proto_status_of(e.code), OKS__STATUS__STATUS_BAD_VERSION);
    r.version = 0; /* a request that never set its version */
    pack(&r, &b);
    assert_int_equal(oks_proto_request_unpack(b.data, b.len, 1024, &out, &e), OKS_E_UNSUPPORTED);
    oks_buf_release(&b);
}

static void request_without_operation_is_refused(void **state)
{
    (void)state;
    Oks__Request r = OKS__REQUEST__INIT;
    r.version = OKS_PROTO_VERSION;
    oks_buf b = OKS_BUF_INIT;
    pack(&r, &b);
    Oks__Request *out = NULL;
    oks_err e;
    assert_int_equal(oks_proto_request_unpack(b.data, b.len, 1024, &out, &e), OKS_E_FORMAT);
    assert_null(out);
    oks_buf_release(&b);
}

static void unknown_operation_is_named_in_the_error(void **state)
{
    (void)state;
    /* version 1, then field 40 (length-delimited, empty): an operation of a newer schema */
    const uint8_t req[] = {0x08, 0x01, 0xc2, 0x02, 0x00};
    Oks__Request *out = NULL;
    oks_err e;
    assert_int_equal(oks_proto_request_unpack(req, sizeof req, 1024, &out, &e), OKS_E_FORMAT);
    assert_null(out);
    assert_non_null(strstr(e.msg, "unknown field 40"));
    assert_int_equal(oks_proto_status_of(e.code), OKS__STATUS__STATUS_BAD_REQUEST);
}

static void garbage_bytes_are_a_format_error(void **state)
{
    (void)state;
    uint8_t junk[64];
    srand(7);
    int refused = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(rand() % (int)sizeof junk);
        for (size_t j = 0; j < n; j++)
            junk[j] = (uint8_t)rand();
        Oks__Request *out = NULL;
        oks_err e;
        int rc = oks_proto_request_unpack(junk, n, sizeof junk, &out, &e);
        if (rc == 0)
            oks__request__free_unpacked(out, NULL);
        else
            refused++;
    }
    assert_true(refused > 1900);
    uint8_t bad[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* field 1, length past the end */
    Oks__Response *resp = NULL;
    oks_err e;
    assert_int_equal(oks_proto_response_unpack(bad, sizeof bad, 1024, &resp, &e), OKS_E_FORMAT);
}

static void error_reply_carries_status_and_reason(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_proto_pack_error(OKS__STATUS__STATUS_WRONG_SHARD, "slot 7 is not mine", &b), 0);
    Oks__Response *resp = NULL;
    oks_err e;
    assert_int_equal(oks_proto_response_unpack(b.data, b.len, 1024, &resp, &e), 0);
    assert_int_equal(resp->version, OKS_PROTO_VERSION);
    assert_int_equal(resp->status, OKS__STATUS__STATUS_WRONG_SHARD);
    assert_string_equal(resp->error, "slot 7 is not mine");
    assert_string_equal(oks_proto_status_name(resp->status), "STATUS_WRONG_SHARD");
    oks__response__free_unpacked(resp, NULL);
    oks_buf_release(&b);
}

static void status_of_maps_error_codes(void **state)
{
    (void)state;
    assert_int_equal(oks_proto_status_of(0), OKS__STATUS__STATUS_OK);
    assert_int_equal(oks_proto_status_of(OKS_E_NOTFOUND), OKS__STATUS__STATUS_NOT_FOUND);
    assert_int_equal(oks_proto_status_of(OKS_E_STATE), OKS__STATUS__STATUS_WRONG_SHARD);
    assert_int_equal(oks_proto_status_of(OKS_E_UNAVAILABLE), OKS__STATUS__STATUS_UNAVAILABLE);
    assert_int_equal(oks_proto_status_of(OKS_E_TIMEOUT), OKS__STATUS__STATUS_TIMEOUT);
    assert_int_equal(oks_proto_status_of(OKS_E_IO), OKS__STATUS__STATUS_INTERNAL);
    assert_int_equal(oks_proto_status_of(OKS_E_FORMAT), OKS__STATUS__STATUS_BAD_REQUEST);
}

static void multipart_frames_arrive_whole_and_extra_frames_are_flagged(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    oks_zsock_defaults(a, 1 << 20);
    oks_zsock_defaults(b, 1 << 20);
    assert_int_equal(zmq_bind(a, "inproc://test-proto"), 0);
    assert_int_equal(zmq_connect(b, "inproc://test-proto"), 0);
    oks_slice parts[3] = {oks_slice_of("id", 2), oks_slice_of("", 0), oks_slice_of("payload", 7)};
    assert_int_equal(oks_zsend(a, parts, 3, 0), 0);
    oks_zframes m;
    assert_int_equal(oks_zrecv(b, &m, 0), 0);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.truncated, 0);
    assert_int_equal(oks_zframe(&m, 2).len, 7);
    assert_memory_equal(oks_zframe(&m, 2).ptr, "payload", 7);
    oks_zframes_close(&m);
    oks_slice many[OKS_ZMAX_FRAMES + 3];
    for (size_t i = 0; i < OKS_ZMAX_FRAMES + 3; i++)
        many[i] = oks_slice_of("x", 1);
    assert_int_equal(oks_zsend(a, many, OKS_ZMAX_FRAMES + 3, 0), 0);
    assert_int_equal(oks_zrecv(b, &m, 0), 0);
    assert_int_equal(m.n, OKS_ZMAX_FRAMES);
    assert_int_equal(m.truncated, 1);
    oks_zframes_close(&m);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

/* A router stand-in on a real ROUTER socket: answers each request with the next status of its
 * list, echoing the caller's id, and records the version each request arrived with. */
typedef struct answerer {
    void *sock;
    const Oks__Status *statuses;
    size_t n;
    unsigned versions[8];
} answerer;

static void *answer(void *arg)
{
    answerer *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        oks_zframes m;
        if (oks_zrecv(a->sock, &m, 0) != 0 || m.n != 3)
            return NULL;
        oks_slice body = oks_zframe(&m, 2);
        Oks__Request *q = oks__request__unpack(NULL, body.len, body.ptr);
        a->versions[i] = q ? q->version : 999;
        if (q)
            oks__request__free_unpacked(q, NULL);
        oks_buf b = OKS_BUF_INIT;
        oks_proto_pack_error(a->statuses[i], "why", &b);
        oks_slice parts[3] = {oks_zframe(&m, 0), oks_zframe(&m, 1), oks_slice_of(b.data, b.len)};
        oks_zsend(a->sock, parts, 3, 0);
        oks_buf_release(&b);
        oks_zframes_close(&m);
    }
    return NULL;
}

static void client_sets_the_version_and_checks_the_status(void **state)
{
    (void)state;
    static const Oks__Status st[] = {
        OKS__STATUS__STATUS_OK,          OKS__STATUS__STATUS_NOT_FOUND,
        OKS__STATUS__STATUS_UNAVAILABLE, OKS__STATUS__STATUS_WRONG_SHARD,
        OKS__STATUS__STATUS_NOT_FOUND,   OKS__STATUS__STATUS_OK,
    };
    void *ctx = zmq_ctx_new();
    answerer a = {.sock = zmq_socket(ctx, ZMQ_ROUTER), .statuses = st, .n = 6};
    oks_zsock_defaults(a.sock, 1 << 20);
    assert_int_equal(zmq_bind(a.sock, "inproc://test-client"), 0);
    oks_err e;
    oks_client *c = oks_client_new(ctx, "inproc://test-client", 1 << 20, &e);
    assert_non_null(c);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, answer, &a), 0);
    Oks__Request q = OKS__REQUEST__INIT; /* version left 0 */
    Oks__GetStats gs = OKS__GET_STATS__INIT;
    q.op_case = OKS__REQUEST__OP_STATS;
    q.stats = &gs;
    Oks__Response *r;
    /* answers: OK and NOT_FOUND come back, cluster failures are errors */
    assert_int_equal(oks_client_call_checked(c, &q, &r, 5000, OKS_CALL_ANSWERS, &e), 0);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    oks__response__free_unpacked(r, NULL);
    assert_int_equal(oks_client_call_checked(c, &q, &r, 5000, OKS_CALL_ANSWERS, &e), 0);
    assert_int_equal(r->status, OKS__STATUS__STATUS_NOT_FOUND);
    oks__response__free_unpacked(r, NULL);
    assert_int_equal(oks_client_call_checked(c, &q, &r, 5000, OKS_CALL_ANSWERS, &e),
                     OKS_E_UNAVAILABLE);
    assert_null(r);
    assert_string_equal(e.msg, "router: STATUS_UNAVAILABLE: why");
    assert_int_equal(oks_client_call_checked(c, &q, &r, 5000, OKS_CALL_ANSWERS, &e),
                     OKS_E_UNAVAILABLE);
    assert_null(r);
    /* OK only: NOT_FOUND is an error too */
    assert_int_equal(oks_client_call_checked(c, &q, &r, 5000, OKS_CALL_OK_ONLY, &e),
                     OKS_E_UNAVAILABLE);
    assert_null(r);
    assert_string_equal(e.msg, "router: STATUS_NOT_FOUND: why");
    assert_int_equal(oks_client_call_checked(c, &q, &r, 5000, OKS_CALL_OK_ONLY, &e), 0);
    oks__response__free_unpacked(r, NULL);
    pthread_join(th, NULL);
    for (size_t i = 0; i < a.n; i++)
        assert_int_equal(a.versions[i], OKS_PROTO_VERSION);
    assert_int_equal(q.version, 0); /* the caller's request is not written to */
    assert_true(oks_proto_status_unavailable(OKS__STATUS__STATUS_TIMEOUT));
    assert_true(oks_proto_status_unavailable(OKS__STATUS__STATUS_INTERNAL));
    assert_false(oks_proto_status_unavailable(OKS__STATUS__STATUS_PARTIAL));
    assert_false(oks_proto_status_unavailable(OKS__STATUS__STATUS_BAD_REQUEST));
    oks_client_free(c);
    zmq_close(a.sock);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_round_trips),
        cmocka_unit_test(oversized_request_is_refused_before_unpacking),
        cmocka_unit_test(unknown_version_is_refused),
        cmocka_unit_test(request_without_operation_is_refused),
        cmocka_unit_test(unknown_operation_is_named_in_the_error),
        cmocka_unit_test(garbage_bytes_are_a_format_error),
        cmocka_unit_test(error_reply_carries_status_and_reason),
        cmocka_unit_test(status_of_maps_error_codes),
        cmocka_unit_test(multipart_frames_arrive_whole_and_extra_frames_are_flagged),
        cmocka_unit_test(client_sets_the_version_and_checks_the_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

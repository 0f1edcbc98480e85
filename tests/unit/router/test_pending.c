/* router/pending: how shard replies of one request are merged: keys deduplicated by fingerprint
 * and limited, totals summed, add results put back in the caller's order, and the final status
 * (PARTIAL, UNAVAILABLE, NOT_FOUND, a shard's own error) with the failed shards named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/pending.h"

static void start(oks_pending *p, int op, unsigned expected, size_t limit)
{
    memset(p, 0, sizeof *p);
    p->id = 1;
    p->op = op;
    p->expected = expected;
    p->limit = limit;
    zmq_msg_init(&p->client);
    zmq_msg_init(&p->rid);
    p->merged = malloc(sizeof *p->merged);
    assert_non_null(p->merged);
    oks__response__init(p->merged);
}

/* A reply of one shard holding keys with the given one-byte fingerprint tags, as unpacked. */
static Oks__Response *reply_keys(const uint8_t *tags, size_t n, uint32_t total)
{
    Oks__Key k[8], *kp[8];
    uint8_t fpr[8][20];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        oks__key__init(&k[i]);
        memset(fpr[i], tags[i], 20);
        k[i].fingerprint = (ProtobufCBinaryData){20, fpr[i]};
        k[i].data = (ProtobufCBinaryData){20, fpr[i]};
        kp[i] = &k[i];
    }
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    r.keys = kp;
    r.n_keys = n;
    r.total = total;
    r.status = n ? OKS__STATUS__STATUS_OK : OKS__STATUS__STATUS_NOT_FOUND;
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_proto_pack_response(&r, &b), 0);
    Oks__Response *out = oks__response__unpack(NULL, b.len, b.data);
    oks_buf_release(&b);
    assert_non_null(out);
    return out;
}

static Oks__Response *finish(oks_pending *p)
{
    oks_buf b = OKS_BUF_INIT;
    oks_pending_finish(p, &b);
    Oks__Response *r = oks__response__unpack(NULL, b.len, b.data);
    oks_buf_release(&b);
    assert_non_null(r);
    return r;
}

static void merge(oks_pending *p, size_t shard, Oks__Response *r)
{
    char name[16];
    snprintf(name, sizeof name, "s%zu", shard);
    oks_pending_merge(p, shard, name, r);
    oks__response__free_unpacked(r, NULL);
    p->received++;
}

static void fan_out_keys_are_deduplicated_by_fingerprint(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_GET_KEY_ID, 2, 100);
    merge(&p, 0, reply_keys((const uint8_t[]){1, 2}, 2, 2));
    merge(&p, 1, reply_keys((const uint8_t[]){2, 3}, 2, 2));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_keys, 3);
    assert_int_equal(r->keys[0]->fingerprint.data[0], 1);
    assert_int_equal(r->keys[1]->fingerprint.data[0], 2);
    assert_int_equal(r->keys[2]->fingerprint.data[0], 3);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void fan_out_results_are_limited_and_totals_summed(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_SEARCH, 2, 2);
    merge(&p, 0, reply_keys((const uint8_t[]){1, 2}, 2, 7));
    merge(&p, 1, reply_keys((const uint8_t[]){3}, 1, 5));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_keys, 2);
    assert_int_equal(r->total, 12);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void failed_shard_of_a_fan_out_gives_partial_naming_it(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_SEARCH, 2, 100);
    merge(&p, 0, reply_keys((const uint8_t[]){1}, 1, 1));
    oks_pending_fail(&p, "s1", "deadline");
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_PARTIAL);
    assert_int_equal(r->n_keys, 1);
    assert_int_equal(r->n_failed_shards, 1);
    assert_string_equal(r->failed_shards[0], "s1");
    assert_non_null(strstr(r->error, "s1"));
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void failed_single_shard_is_unavailable(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_GET_FINGERPRINT, 1, 100);
    oks_pending_fail(&p, "s3", "not connected");
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_UNAVAILABLE);
    assert_non_null(strstr(r->error, "s3"));
    assert_int_equal(r->n_failed_shards, 1);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 1);
}

static void two_failed_shards_are_both_named(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_SEARCH, 3, 100);
    merge(&p, 1, reply_keys((const uint8_t[]){9}, 1, 1));
    oks_pending_fail(&p, "s0", "deadline");
    oks_pending_fail(&p, "s2", "deadline");
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_PARTIAL);
    assert_int_equal(r->n_failed_shards, 2);
    assert_string_equal(r->failed_shards[0], "s0");
    assert_string_equal(r->failed_shards[1], "s2");
    assert_non_null(strstr(r->error, "shard s0 unavailable (deadline)"));
    assert_non_null(strstr(r->error, "shard s2 unavailable (deadline)"));
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 3);
}

static void nothing_found_anywhere_is_not_found(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_GET_KEY_ID, 2, 100);
    merge(&p, 0, reply_keys(NULL, 0, 0));
    merge(&p, 1, reply_keys(NULL, 0, 0));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_NOT_FOUND);
    assert_int_equal(r->n_keys, 0);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void a_shard_error_wins_over_ok_replies(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_SEARCH, 2, 100);
    merge(&p, 0, reply_keys((const uint8_t[]){1}, 1, 1));
    Oks__Response e = OKS__RESPONSE__INIT;
    e.version = OKS_PROTO_VERSION;
    e.status = OKS__STATUS__STATUS_WRONG_SHARD;
    e.error = "shard s1: the request's slot map differs";
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_response(&e, &b);
    merge(&p, 1, oks__response__unpack(NULL, b.len, b.data));
    oks_buf_release(&b);
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_WRONG_SHARD);
    assert_non_null(strstr(r->error, "slot map"));
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static Oks__Response *reply_adds(const uint32_t *idx, const Oks__Outcome *out, size_t n)
{
    Oks__AddResult a[4], *ap[4];
    for (size_t i = 0; i < n; i++) {
        oks__add_result__init(&a[i]);
        a[i].index = idx[i];
        a[i].outcome = out[i];
        ap[i] = &a[i];
    }
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    r.results = ap;
    r.n_results = n;
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_response(&r, &b);
    Oks__Response *o = oks__response__unpack(NULL, b.len, b.data);
    oks_buf_release(&b);
    assert_non_null(o);
    return o;
}

static void add_results_come_back_in_the_callers_order(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_ADD, 2, 100);
    /* keys 0 and 3 went to shard 0, keys 1 and 2 to shard 1 */
    p.add_index = calloc(2, sizeof *p.add_index);
    p.add_index[0] = malloc(2 * sizeof(uint32_t));
    p.add_index[1] = malloc(2 * sizeof(uint32_t));
    p.add_index[0][0] = 0, p.add_index[0][1] = 3;
    p.add_index[1][0] = 1, p.add_index[1][1] = 2;
    merge(&p, 1, reply_adds((const uint32_t[]){0, 1},
                            (const Oks__Outcome[]){OKS__OUTCOME__OUTCOME_UPDATED,
                                                   OKS__OUTCOME__OUTCOME_REJECTED}, 2));
    merge(&p, 0, reply_adds((const uint32_t[]){0, 1},
                            (const Oks__Outcome[]){OKS__OUTCOME__OUTCOME_NEW,
                                                   OKS__OUTCOME__OUTCOME_UNCHANGED}, 2));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(r->results[i]->index, i);
    assert_int_equal(r->results[0]->outcome, OKS__OUTCOME__OUTCOME_NEW);
    assert_int_equal(r->results[1]->outcome, OKS__OUTCOME__OUTCOME_UPDATED);
    assert_int_equal(r->results[2]->outcome, OKS__OUTCOME__OUTCOME_REJECTED);
    assert_int_equal(r->results[3]->outcome, OKS__OUTCOME__OUTCOME_UNCHANGED);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static Oks__Response *reply_error(Oks__Status st, const char *msg)
{
    Oks__Response e = OKS__RESPONSE__INIT;
    e.version = OKS_PROTO_VERSION;
    e.status = st;
    e.error = (char *)msg;
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_response(&e, &b);
    Oks__Response *o = oks__response__unpack(NULL, b.len, b.data);
    oks_buf_release(&b);
    assert_non_null(o);
    return o;
}

/* The reason a shard failed reaches the client, for each way of failing. */
static void the_reason_of_a_failure_is_passed_on(void **state)
{
    (void)state;
    static const char *const why[] = {"deadline passed", "disconnected", "not connected"};
    for (size_t i = 0; i < 3; i++) {
        oks_pending p;
        start(&p, OKS__REQUEST__OP_GET_KEY_ID, 1, 100);
        oks_pending_fail(&p, "s1", why[i]);
        Oks__Response *r = finish(&p);
        assert_int_equal(r->status, OKS__STATUS__STATUS_UNAVAILABLE);
        assert_non_null(strstr(r->error, why[i]));
        assert_non_null(strstr(r->error, "shard s1 unavailable"));
        oks__response__free_unpacked(r, NULL);
        oks_pending_release(&p, 1);
    }
}

/* A shard's storage failure is an error for the whole answer (never "no matching key", even
 * when the other shards found nothing), with the shard's reason and its name in the list. */
static void a_storage_error_is_an_error_not_a_missing_key(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_GET_KEY_ID, 2, 100);
    merge(&p, 0, reply_keys(NULL, 0, 0));
    merge(&p, 1, reply_error(OKS__STATUS__STATUS_INTERNAL,
                             "shard s1: key read failed: leveldb get: Corruption: checksum"));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_INTERNAL);
    assert_non_null(strstr(r->error, "Corruption: checksum"));
    assert_int_equal(r->n_failed_shards, 1);
    assert_string_equal(r->failed_shards[0], "s1");
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

/* A bad request answered by every shard is that error, and no shard counts as failed. */
static void a_refused_request_names_no_failed_shard(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_SEARCH, 2, 100);
    merge(&p, 0, reply_error(OKS__STATUS__STATUS_BAD_REQUEST, "search text has no words"));
    merge(&p, 1, reply_error(OKS__STATUS__STATUS_BAD_REQUEST, "search text has no words"));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_BAD_REQUEST);
    assert_string_equal(r->error, "search text has no words");
    assert_int_equal(r->n_failed_shards, 0);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

/* A fingerprint lookup answered by several shards lists the key with that primary fingerprint
 * first, whichever shard answered first. */
static void a_fingerprint_lookup_lists_the_primary_first(void **state)
{
    (void)state;
    oks_pending p;
    start(&p, OKS__REQUEST__OP_GET_FINGERPRINT, 2, 100);
    memset(p.fpr, 7, 20);
    p.fpr_len = 20;
    merge(&p, 0, reply_keys((const uint8_t[]){3, 5}, 2, 2));
    merge(&p, 1, reply_keys((const uint8_t[]){7}, 1, 1));
    Oks__Response *r = finish(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_keys, 3);
    assert_int_equal(r->keys[0]->fingerprint.data[0], 7);
    assert_int_equal(r->keys[1]->fingerprint.data[0], 3);
    assert_int_equal(r->keys[2]->fingerprint.data[0], 5);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fan_out_keys_are_deduplicated_by_fingerprint),
        cmocka_unit_test(fan_out_results_are_limited_and_totals_summed),
        cmocka_unit_test(failed_shard_of_a_fan_out_gives_partial_naming_it),
        cmocka_unit_test(failed_single_shard_is_unavailable),
        cmocka_unit_test(two_failed_shards_are_both_named),
        cmocka_unit_test(nothing_found_anywhere_is_not_found),
        cmocka_unit_test(a_shard_error_wins_over_ok_replies),
        cmocka_unit_test(add_results_come_back_in_the_callers_order),
        cmocka_unit_test(the_reason_of_a_failure_is_passed_on),
        cmocka_unit_test(a_storage_error_is_an_error_not_a_missing_key),
        cmocka_unit_test(a_refused_request_names_no_failed_shard),
        cmocka_unit_test(a_fingerprint_lookup_lists_the_primary_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

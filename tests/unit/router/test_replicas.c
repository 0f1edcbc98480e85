/* router/replicas: replica groups of a map, which replica a request asks (up ones first, in
 * turn), and the write quorum of a replicated add (router/pending). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/pending.h"
#include "router/replicas.h"

/* Three shards, two replicas: 0-5 on a+b, 6-10 on b+c, 11-15 on a+c. */
static const char ring3[] = "[cluster]\nslots=16\nreplicas=2\n"
                            "[shard.a]\nendpoint=tcp://h:1\nslots=0-5,11-15\n"
                            "[shard.b]\nendpoint=tcp://h:2\nslots=0-5,6-10\n"
                            "[shard.c]\nendpoint=tcp://h:3\nslots=6-10,11-15\n";

static void load(oks_cluster *c, const char *text)
{
    oks_err e;
    int r = oks_cluster_load_text("t.conf", text, strlen(text), c, &e);
    if (r)
        fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(r, 0);
}

static void slots_with_one_replica_set_form_a_group(void **state)
{
    (void)state;
    oks_cluster c;
    oks_replicas x;
    load(&c, ring3);
    oks_replicas_init(&x, &c);
    assert_int_equal(x.n_groups, 3);
    assert_int_equal(x.group_of[0], x.group_of[5]);
    assert_int_not_equal(x.group_of[5], x.group_of[6]);
    const uint16_t *g = oks_replicas_group(&x, x.group_of[7]);
    assert_int_equal(g[0], 1);
    assert_int_equal(g[1], 2);
    oks_replicas_release(&x);
    oks_cluster_release(&c);
}

/* A map in etcd with a replica being added: 0-5 on a+b+c, 6-10 on b+c, 11-14 on a only, 15 on
 * a+d, and d joining 6-10. Groups by holders; reads pick only among the holders of their slot. */
static const char uneven[] = "[cluster]\nslots=16\nreplicas=2\nepoch=3\n"
                             "[shard.a]\nendpoint=tcp://h:1\nslots=0-5,11-15\n"
                             "[shard.b]\nendpoint=tcp://h:2\nslots=0-10\n"
                             "[shard.c]\nendpoint=tcp://h:3\nslots=0-10\n"
                             "[shard.d]\nendpoint=tcp://h:4\nslots=15\njoining=6-10\n";

static void groups_and_picks_follow_each_ranges_holders(void **state)
{
    (void)state;
    oks_cluster c;
    oks_replicas x;
    load(&c, uneven);
    oks_replicas_init(&x, &c);
    assert_int_equal(x.n_groups, 4);
    assert_int_equal(oks_replicas_count(&x, oks_replicas_group(&x, x.group_of[0])), 3);
    assert_int_equal(oks_replicas_count(&x, oks_replicas_group(&x, x.group_of[15])), 2);
    assert_int_equal(oks_replicas_count(&x, oks_replicas_group(&x, x.group_of[8])), 2);
    assert_int_equal(oks_replicas_count(&x, oks_replicas_group(&x, x.group_of[12])), 1);
    x.up[0] = x.up[1] = x.up[2] = x.up[3] = true;
    uint8_t asked[4] = {0};
    int seen[4] = {0};
    for (int i = 0; i < 12; i++)
        seen[oks_replicas_pick(&x, oks_cluster_replicas_of(&c, 2), asked)]++;
    assert_int_equal(seen[0], 4);
    assert_int_equal(seen[1], 4);
    assert_int_equal(seen[2], 4);
    /* the joining shard is never read; the one holder of 11-15 is the only pick */
    for (int i = 0; i < 6; i++) {
        assert_int_not_equal(oks_replicas_pick(&x, oks_cluster_replicas_of(&c, 7), asked), 3);
        assert_int_equal(oks_replicas_pick(&x, oks_cluster_replicas_of(&c, 13), asked), 0);
    }
    asked[0] = OKS_ASK_FAILED;
    assert_int_equal(oks_replicas_pick(&x, oks_cluster_replicas_of(&c, 13), asked), -1);
    assert_int_equal(oks_replicas_untried(&x, oks_cluster_replicas_of(&c, 2), asked), 2);
    assert_true(oks_cluster_receives(&c, 7, 3));
    assert_false(oks_cluster_holds(&c, 7, 3));
    oks_replicas_release(&x);
    oks_cluster_release(&c);
}

static void reads_take_turns_between_replicas_that_are_up(void **state)
{
    (void)state;
    oks_cluster c;
    oks_replicas x;
    load(&c, ring3);
    oks_replicas_init(&x, &c);
    x.up[0] = x.up[1] = x.up[2] = true;
    uint8_t asked[3] = {0};
    const uint16_t *m = oks_cluster_replicas_of(&c, 3); /* a, b */
    int seen[3] = {0};
    for (int i = 0; i < 10; i++)
        seen[oks_replicas_pick(&x, m, asked)]++;
    assert_int_equal(seen[0], 5);
    assert_int_equal(seen[1], 5);
    assert_int_equal(seen[2], 0);
    /* a replica that is down is not picked while another is up */
    x.up[0] = false;
    for (int i = 0; i < 4; i++)
        assert_int_equal(oks_replicas_pick(&x, m, asked), 1);
    /* nor one already asked; with none up, a down one is still tried */
    asked[1] = OKS_ASK_FAILED;
    assert_int_equal(oks_replicas_pick(&x, m, asked), 0);
    assert_int_equal(oks_replicas_untried(&x, m, asked), 1);
    asked[0] = OKS_ASK_FAILED;
    assert_int_equal(oks_replicas_pick(&x, m, asked), -1);
    oks_replicas_release(&x);
    oks_cluster_release(&c);
}

/* A fan-out the way the router covers the groups (oks_replicas_fan_out): each group by a
 * replica already asked if there is one, else by a pick. Counts the shards asked. */
static void fan_out(oks_replicas *x, int seen[3])
{
    uint8_t asked[3] = {0};
    size_t n = x->n_groups;
    unsigned f = oks_replicas_fan_out(x);
    for (size_t k = 0; k < n; k++) {
        size_t g = (f + k) % n;
        if (oks_replicas_covering(x, g, asked) >= 0)
            continue;
        int i = oks_replicas_pick_from(x, oks_replicas_group(x, g), asked, f / n + k);
        assert_true(i >= 0);
        asked[i] = OKS_ASK_WAITING;
        seen[i]++;
    }
}

static void fan_outs_spread_over_every_replica(void **state)
{
    (void)state;
    oks_cluster c;
    oks_replicas x;
    load(&c, ring3);
    oks_replicas_init(&x, &c);
    x.up[0] = x.up[1] = x.up[2] = true;
    int seen[3] = {0};
    for (int i = 0; i < 60; i++)
        fan_out(&x, seen);
    /* two shards cover the three groups: 120 asks in all, none of the shards left out (the
     * groups covered always from the first with one turn counter asked a and c only) */
    print_message("fan-outs asked a %d, b %d, c %d times\n", seen[0], seen[1], seen[2]);
    assert_int_equal(seen[0] + seen[1] + seen[2], 120);
    for (int i = 0; i < 3; i++)
        assert_true(seen[i] >= 30);
    oks_replicas_release(&x);
    oks_cluster_release(&c);
}

static void a_group_is_covered_by_a_replica_asked_for_another(void **state)
{
    (void)state;
    oks_cluster c;
    oks_replicas x;
    load(&c, ring3);
    oks_replicas_init(&x, &c);
    uint8_t asked[3] = {OKS_ASK_WAITING, 0, 0}; /* a asked for 0-5 */
    assert_int_equal(oks_replicas_covering(&x, x.group_of[12], asked), 0); /* a holds 11-15 */
    assert_int_equal(oks_replicas_covering(&x, x.group_of[7], asked), -1);
    asked[0] = OKS_ASK_FAILED;
    assert_int_equal(oks_replicas_covering(&x, x.group_of[12], asked), -1);
    asked[2] = OKS_ASK_DONE;
    assert_int_equal(oks_replicas_covering(&x, x.group_of[12], asked), 2);
    oks_replicas_release(&x);
    oks_cluster_release(&c);
}

/* ---- write quorum ---------------------------------------------------------------------------- */

static void start_add(oks_pending *p, size_t n_keys, unsigned need)
{
    memset(p, 0, sizeof *p);
    p->id = 1;
    p->op = OKS__REQUEST__OP_ADD;
    p->slot = -1;
    zmq_msg_init(&p->client);
    zmq_msg_init(&p->rid);
    p->merged = calloc(1, sizeof *p->merged);
    assert_non_null(p->merged);
    oks__response__init(p->merged);
    oks_pending_add_start(p, n_keys, 2);
    memset(p->need, (int)need, n_keys);
    /* both shards were sent every key, in the caller's order */
    for (size_t s = 0; s < 2; s++) {
        p->add_n[s] = (uint32_t)n_keys;
        p->add_index[s] = malloc(n_keys * sizeof(uint32_t));
        for (size_t i = 0; i < n_keys; i++)
            p->add_index[s][i] = (uint32_t)i;
    }
}

/* r as a shard sends it and the router unpacks it (the router owns what comes back). */
static Oks__Response *over_the_wire(const Oks__Response *r)
{
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_proto_pack_response(r, &b), 0);
    Oks__Response *out = oks__response__unpack(NULL, b.len, b.data);
    oks_buf_release(&b);
    assert_non_null(out);
    return out;
}

/* A shard's reply: results for keys 0..n-1 with the given outcome, or a failure status. */
static Oks__Response *reply(size_t n, Oks__Outcome outcome, Oks__Status st)
{
    Oks__AddResult res[4], *rp[4];
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    r.status = st;
    if (st == OKS__STATUS__STATUS_OK) {
        for (size_t i = 0; i < n; i++) {
            oks__add_result__init(&res[i]);
            res[i].index = (uint32_t)i;
            res[i].outcome = outcome;
            rp[i] = &res[i];
        }
        r.results = rp;
        r.n_results = n;
    } else {
        r.error = "shard x: storage error";
    }
    return over_the_wire(&r);
}

static bool feed(oks_pending *p, size_t shard, Oks__Response *r)
{
    bool done = oks_pending_add_reply(p, shard, shard ? "b" : "a", r);
    oks__response__free_unpacked(r, NULL);
    p->received++;
    return done;
}

static Oks__Response *answer(oks_pending *p)
{
    oks_buf b = OKS_BUF_INIT;
    oks_pending_finish(p, &b);
    Oks__Response *r = oks__response__unpack(NULL, b.len, b.data);
    oks_buf_release(&b);
    assert_non_null(r);
    return r;
}

static void quorum_one_answers_at_the_first_replica(void **state)
{
    (void)state;
    oks_pending p;
    start_add(&p, 2, 1);
    p.expected = 2;
    assert_true(feed(&p, 1, reply(2, OKS__OUTCOME__OUTCOME_NEW, OKS__STATUS__STATUS_OK)));
    Oks__Response *r = answer(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 2);
    assert_int_equal(r->results[1]->index, 1);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void quorum_two_waits_for_both_and_keeps_the_first_result(void **state)
{
    (void)state;
    oks_pending p;
    start_add(&p, 2, 2);
    p.expected = 2;
    assert_false(feed(&p, 0, reply(2, OKS__OUTCOME__OUTCOME_NEW, OKS__STATUS__STATUS_OK)));
    assert_true(feed(&p, 1, reply(2, OKS__OUTCOME__OUTCOME_UNCHANGED, OKS__STATUS__STATUS_OK)));
    Oks__Response *r = answer(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 2);
    assert_int_equal(r->results[0]->outcome, OKS__OUTCOME__OUTCOME_NEW);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void a_failed_replica_does_not_matter_once_the_quorum_is_met(void **state)
{
    (void)state;
    oks_pending p;
    start_add(&p, 1, 1);
    p.expected = 2;
    assert_false(feed(&p, 0, reply(1, 0, OKS__STATUS__STATUS_INTERNAL)));
    assert_true(feed(&p, 1, reply(1, OKS__OUTCOME__OUTCOME_NEW, OKS__STATUS__STATUS_OK)));
    Oks__Response *r = answer(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 1);
    assert_int_equal(r->n_failed_shards, 0);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void short_of_the_quorum_is_not_acknowledged(void **state)
{
    (void)state;
    oks_pending p;
    start_add(&p, 1, 2);
    p.expected = 2;
    assert_false(feed(&p, 0, reply(1, OKS__OUTCOME__OUTCOME_NEW, OKS__STATUS__STATUS_OK)));
    oks_pending_fail(&p, "b", "disconnected");
    p.received++;
    Oks__Response *r = answer(&p);
    /* the one replica that stored it is not enough: no result, the failure named */
    assert_int_equal(r->status, OKS__STATUS__STATUS_UNAVAILABLE);
    assert_int_equal(r->n_results, 0);
    assert_int_equal(r->n_failed_shards, 1);
    assert_string_equal(r->failed_shards[0], "b");
    assert_false(r->partial);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

/* A slot move's new replica (joining) gets the writes, but its answer is no acknowledgement:
 * with the one full replica down, the key is not acknowledged however the joiner answered. */
static void a_joining_replica_does_not_count_toward_the_quorum(void **state)
{
    (void)state;
    oks_pending p;
    start_add(&p, 1, 1);
    p.expected = 2;
    p.add_index[1][0] |= OKS_PENDING_JOINER;
    assert_false(feed(&p, 1, reply(1, OKS__OUTCOME__OUTCOME_NEW, OKS__STATUS__STATUS_OK)));
    oks_pending_fail(&p, "a", "disconnected");
    p.received++;
    Oks__Response *r = answer(&p);
    assert_int_not_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 0);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
    /* the full replica's answer acknowledges it, whatever the joiner does */
    start_add(&p, 1, 1);
    p.expected = 2;
    p.add_index[1][0] |= OKS_PENDING_JOINER;
    assert_true(feed(&p, 0, reply(1, OKS__OUTCOME__OUTCOME_NEW, OKS__STATUS__STATUS_OK)));
    r = answer(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 1);
    assert_int_equal(r->results[0]->index, 0);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

/* The same for a delete's tombstone: the joiner's OK is not one of write_quorum. */
static void a_joining_replica_does_not_count_toward_a_delete_quorum(void **state)
{
    (void)state;
    for (int joined = 0; joined < 2; joined++) {
        oks_pending p;
        memset(&p, 0, sizeof p);
        p.id = 1;
        p.op = OKS__REQUEST__OP_DELETE;
        p.slot = -1;
        zmq_msg_init(&p.client);
        zmq_msg_init(&p.rid);
        p.merged = calloc(1, sizeof *p.merged);
        assert_non_null(p.merged);
        oks__response__init(p.merged);
        p.quorum = 1;
        p.has_joiner = !joined; /* second round: shard 1 is a full replica */
        p.joiner = 1;
        p.expected = 2;
        Oks__Response *ok = reply(0, 0, OKS__STATUS__STATUS_OK);
        oks_pending_merge(&p, 1, "b", ok);
        oks__response__free_unpacked(ok, NULL);
        p.received++;
        oks_pending_fail(&p, "a", "disconnected");
        p.received++;
        Oks__Response *r = answer(&p);
        if (joined)
            assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
        else
            assert_int_not_equal(r->status, OKS__STATUS__STATUS_OK);
        oks__response__free_unpacked(r, NULL);
        oks_pending_release(&p, 2);
    }
}

/* Verifying once: the replica that verifies a key is picked by its key ID's low byte among
 * those up, so both replicas of a slot get a share. */
static void the_first_replica_is_spread_by_key_id_and_up(void **state)
{
    (void)state;
    const uint16_t m[2] = {4, 7};
    bool up[8] = {false};
    uint8_t even[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x10};
    uint8_t odd[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x11};
    assert_int_equal(oks_replicas_first(m, 2, even, up), -1); /* none up */
    up[4] = up[7] = true;
    assert_int_equal(oks_replicas_first(m, 2, even, up), 4);
    assert_int_equal(oks_replicas_first(m, 2, odd, up), 7);
    up[7] = false; /* the other one, when the chosen one is down */
    assert_int_equal(oks_replicas_first(m, 2, odd, up), 4);
    oks_cluster c;
    load(&c, ring3);
    assert_int_equal(oks_replicas_receiver_pos(&c, 7, 1), 0); /* b holds 6-10 first */
    assert_int_equal(oks_replicas_receiver_pos(&c, 7, 2), 1);
    assert_int_equal(oks_replicas_receiver_pos(&c, 7, 0), -1);
    oks_cluster_release(&c);
}

/* A reply of shard 0 for key 0: outcome, with stored bytes when given. */
static Oks__Response *reply_stored(Oks__Outcome outcome, const char *stored)
{
    Oks__AddResult res, *rp = &res;
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    oks__add_result__init(&res);
    res.outcome = outcome;
    if (stored)
        res.stored_key = (ProtobufCBinaryData){strlen(stored), (uint8_t *)stored};
    r.results = &rp;
    r.n_results = 1;
    return over_the_wire(&r);
}

/* One key of slot 3 deferred to shard 0 (a), which alone was sent it. */
static void start_deferred(oks_pending *p, unsigned need)
{
    start_add(p, 1, need);
    p->add_n[1] = 0;
    oks_pending_fwd_defer(p, 0, 3, 0, (const uint8_t *)"upload", 6);
    p->expected = 1;
}

static void the_stored_form_goes_on_and_not_to_the_client(void **state)
{
    (void)state;
    oks_pending p;
    start_deferred(&p, 1);
    assert_true(oks_pending_fwd_waits_on(&p, 0));
    assert_false(oks_pending_fwd_waits_on(&p, 1));
    assert_true(feed(&p, 0, reply_stored(OKS__OUTCOME__OUTCOME_NEW, "stored-form")));
    assert_int_equal(p.fwd[0].stage, OKS_FWD_READY);
    assert_true(p.fwd[0].verified);
    assert_int_equal(p.fwd[0].bytes.len, 11);
    assert_memory_equal(p.fwd[0].bytes.data, "stored-form", 11);
    Oks__Response *r = answer(&p);
    assert_int_equal(r->n_results, 1);
    assert_int_equal(r->results[0]->outcome, OKS__OUTCOME__OUTCOME_NEW);
    assert_int_equal(r->results[0]->stored_key.len, 0);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

static void an_unchanged_key_goes_on_as_uploaded(void **state)
{
    (void)state;
    oks_pending p;
    start_deferred(&p, 1);
    feed(&p, 0, reply_stored(OKS__OUTCOME__OUTCOME_UNCHANGED, NULL));
    assert_int_equal(p.fwd[0].stage, OKS_FWD_READY);
    assert_false(p.fwd[0].verified);
    assert_memory_equal(p.fwd[0].bytes.data, "upload", 6);
    oks_pending_release(&p, 2);
}

/* Rejected by the replica that verified it: sent no further, and the rejection answers even a
 * quorum of two. */
static void a_rejected_key_is_not_sent_on_and_answers(void **state)
{
    (void)state;
    oks_pending p;
    start_deferred(&p, 2);
    assert_true(feed(&p, 0, reply_stored(OKS__OUTCOME__OUTCOME_REJECTED, NULL)));
    assert_int_equal(p.fwd[0].stage, OKS_FWD_DONE);
    Oks__Response *r = answer(&p);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r->n_results, 1);
    assert_int_equal(r->results[0]->outcome, OKS__OUTCOME__OUTCOME_REJECTED);
    oks__response__free_unpacked(r, NULL);
    oks_pending_release(&p, 2);
}

/* The first replica failed or is late: the upload itself goes on (the others verify it); a
 * later answer of that replica does not make it go again. */
static void a_failed_first_replica_sends_the_upload_on(void **state)
{
    (void)state;
    oks_pending p;
    start_deferred(&p, 1);
    oks_pending_fwd_fallback(&p, 1); /* another shard: nothing changes */
    assert_int_equal(p.fwd[0].stage, OKS_FWD_WAIT);
    oks_pending_fwd_fallback(&p, 0);
    assert_int_equal(p.fwd[0].stage, OKS_FWD_READY);
    assert_false(p.fwd[0].verified);
    p.fwd[0].sent = 1;
    feed(&p, 0, reply_stored(OKS__OUTCOME__OUTCOME_NEW, "stored-form"));
    assert_false(p.fwd[0].verified);
    assert_int_equal(p.fwd[0].sent, 1);
    assert_memory_equal(p.fwd[0].bytes.data, "upload", 6);
    oks_pending_release(&p, 2);
}

/* What goes on: to the other replica of the slot only, once, as a verified key. */
static void the_other_replica_gets_the_stored_form_once(void **state)
{
    (void)state;
    oks_cluster c;
    load(&c, ring3); /* slot 3 on a (0) and b (1) */
    oks_pending p;
    start_deferred(&p, 1);
    p.deadline_ms = 5000;
    oks_buf b = OKS_BUF_INIT;
    assert_false(oks_pending_fwd_part(&p, &c, 1, 1000, &b)); /* the first has not answered */
    feed(&p, 0, reply_stored(OKS__OUTCOME__OUTCOME_NEW, "stored-form"));
    assert_false(oks_pending_fwd_part(&p, &c, 0, 1000, &b)); /* the first replica */
    assert_false(oks_pending_fwd_part(&p, &c, 2, 1000, &b)); /* c holds no slot 3 */
    assert_true(oks_pending_fwd_part(&p, &c, 1, 1000, &b));
    Oks__Request *q = oks__request__unpack(NULL, b.len, b.data);
    assert_non_null(q);
    assert_int_equal(q->op_case, OKS__REQUEST__OP_ADD);
    assert_int_equal(q->add->n_keys, 0);
    assert_int_equal(q->add->n_verified_keys, 1);
    assert_memory_equal(q->add->verified_keys[0].data, "stored-form", 11);
    assert_int_equal(q->deadline_ms, 4000);
    assert_int_equal(p.add_n[1], 1);
    assert_int_equal(p.add_index[1][0], 0);
    oks__request__free_unpacked(q, NULL);
    b.len = 0;
    assert_false(oks_pending_fwd_part(&p, &c, 1, 1000, &b)); /* sent already */
    oks_buf_release(&b);
    oks_pending_release(&p, 2);
    oks_cluster_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slots_with_one_replica_set_form_a_group),
        cmocka_unit_test(reads_take_turns_between_replicas_that_are_up),
        cmocka_unit_test(groups_and_picks_follow_each_ranges_holders),
        cmocka_unit_test(a_group_is_covered_by_a_replica_asked_for_another),
        cmocka_unit_test(fan_outs_spread_over_every_replica),
        cmocka_unit_test(quorum_one_answers_at_the_first_replica),
        cmocka_unit_test(quorum_two_waits_for_both_and_keeps_the_first_result),
        cmocka_unit_test(a_failed_replica_does_not_matter_once_the_quorum_is_met),
        cmocka_unit_test(short_of_the_quorum_is_not_acknowledged),
        cmocka_unit_test(a_joining_replica_does_not_count_toward_the_quorum),
        cmocka_unit_test(a_joining_replica_does_not_count_toward_a_delete_quorum),
        cmocka_unit_test(the_first_replica_is_spread_by_key_id_and_up),
        cmocka_unit_test(the_stored_form_goes_on_and_not_to_the_client),
        cmocka_unit_test(an_unchanged_key_goes_on_as_uploaded),
        cmocka_unit_test(a_rejected_key_is_not_sent_on_and_answers),
        cmocka_unit_test(a_failed_first_replica_sends_the_upload_on),
        cmocka_unit_test(the_other_replica_gets_the_stored_form_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

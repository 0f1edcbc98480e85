/* The router's event loop: frontend ROUTER, one DEALER per shard, in-flight table, deadlines
 * (see router.h). */
#include "router/router_int.h"
#include "lib/xalloc.h"

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "lib/zsec.h"
#include "router/authz.h"
#include "router/metrics.h"
#include "router/pending.h"
#include "router/maps.h"
#include "router/replicas.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Messages taken from one socket per poll round, so no socket starves the others. */
#define OKS_ROUTER_IO_BATCH 512
/* How often, at most, the in-flight table is scanned for passed deadlines (and the poll
 * timeout, so a deadline is noticed that late at most). */
#define OKS_ROUTER_EXPIRE_MS 50

static void reply_raw(oks_router *r, zmq_msg_t *client, zmq_msg_t *rid, const void *p, size_t n)
{
    zmq_msg_t c, d;
    zmq_msg_init(&c);
    zmq_msg_init(&d);
    zmq_msg_copy(&c, client);
    zmq_msg_copy(&d, rid);
    zmq_msg_send(&c, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_msg_send(&d, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(r->front, p, n, ZMQ_DONTWAIT);
    zmq_msg_close(&c);
    zmq_msg_close(&d);
}

static void reply_error(oks_router *r, zmq_msg_t *client, zmq_msg_t *rid, Oks__Status st,
                        const char *msg)
{
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_error(st, msg, &b);
    reply_raw(r, client, rid, b.data, b.len);
    oks_buf_release(&b);
}

/* Stats: the cluster's keys counted once, from the shards' per-range counts: per replica group,
 * the replica that answered with the most. */
static void stats_total(oks_router *r, oks_pending *p)
{
    const oks_replicas *rp = PREP(p);
    size_t ng = rp->n_groups;
    uint64_t *best = oks_xcalloc(ng, sizeof *best), *mine = oks_xcalloc(ng, sizeof *mine);
    for (size_t i = 0; i < p->merged->n_shards; i++) {
        const Oks__ShardStats *s = p->merged->shards[i];
        memset(mine, 0, ng * sizeof *mine);
        for (size_t k = 0; k < s->n_ranges; k++)
            if (s->ranges[k]->first < r->conf->n_slots)
                mine[rp->group_of[s->ranges[k]->first]] += s->ranges[k]->keys;
        for (size_t g = 0; g < ng; g++)
            if (mine[g] > best[g])
                best[g] = mine[g];
    }
    p->merged->total_keys = 0;
    for (size_t g = 0; g < ng; g++)
        p->merged->total_keys += best[g];
    free(best);
    free(mine);
}

/* Health: the slots without a replica that answered, by the map this request ran on. */
static void health_coverage(oks_pending *p)
{
    const oks_cluster *c = PMAP(p)->conf;
    bool down[OKS_MAX_SHARDS] = {false};
    for (size_t i = 0; i < p->n_failed; i++) {
        int k = oks_cluster_shard_index(c, p->failed[i].shard);
        if (k >= 0)
            down[k] = true;
    }
    oks_buf ranges = OKS_BUF_INIT;
    Oks__Response *m = p->merged;
    m->slots_uncovered = oks_cluster_uncovered(c, down, &ranges);
    oks_buf_append(&ranges, "", 1); /* a C string: the response owns it */
    if (m->uncovered && m->uncovered != protobuf_c_empty_string)
        free(m->uncovered);
    m->uncovered = (char *)ranges.data; /* freed by oks_pending_release */
    m->coverage = true;
    m->map_slots = c->n_slots;
    m->map_shards = 0;
    for (size_t i = 0; i < c->n_shards; i++)
        m->map_shards += !c->epoch || oks_router_map_has_slots(c, i); /* not a shard removed */
}

static void finish(oks_router *r, oks_pending *p)
{
    oks_buf b = OKS_BUF_INIT;
    if (p->op == OKS__REQUEST__OP_STATS)
        stats_total(r, p);
    if (p->op == OKS__REQUEST__OP_HEALTH)
        health_coverage(p);
    oks_pending_finish(p, &b);
    oks_router_metrics_request(p->op, oks_proto_peek_status(b.data, b.len), p->start_us);
    if (p->acks)
        oks_router_metrics_quorum(p->unacked == 0);
    reply_raw(r, &p->client, &p->rid, b.data, b.len);
    oks_buf_release(&b);
    oks_router_pending_end(p);
    r->inflight--;
}

static void add_down_stats(oks_pending *p, const char *name)
{
    Oks__ShardStats *s = oks_xmalloc(sizeof *s);
    void *nv = oks_xrealloc(p->merged->shards, (p->merged->n_shards + 1) * sizeof(void *));
    if (!s || !nv) {
        free(s);
        if (nv)
            p->merged->shards = nv;
        return;
    }
    oks__shard_stats__init(s);
    s->name = oks_xstrdup(name);
    s->up = 0;
    p->merged->shards = nv;
    p->merged->shards[p->merged->n_shards++] = s;
}

/* Sends a packed request to shard i. False when it cannot be sent (the shard is not connected):
 * the shard then counts as failed for this request, and as down. */
static bool send_to_shard(oks_router *r, oks_pending *p, size_t i, const oks_buf *body)
{
    oks_slice parts[2] = {oks_slice_of(&p->id, sizeof p->id), oks_slice_of(body->data, body->len)};
    p->expected++;
    p->asked[i] = OKS_ASK_WAITING;
    if (oks_zsend(r->shard_socks[i], parts, 2, ZMQ_DONTWAIT) != 0) {
        p->asked[i] = OKS_ASK_FAILED;
        p->received++;
        r->up[i] = false;
        return false;
    }
    return true;
}

/* Sends to shard i, which every such request asks (stats, health, a named shard): a shard that
 * cannot be asked is a failure of the request. */
static void send_or_fail(oks_router *r, oks_pending *p, size_t i, const oks_buf *body)
{
    if (send_to_shard(r, p, i, body))
        return;
    oks_pending_fail(p, r->conf->shards[i].name, "not connected");
    if (p->op == OKS__REQUEST__OP_STATS)
        add_down_stats(p, r->conf->shards[i].name);
}

/* The slot a request routes to, or -1 if it must fan out. *first: for a single-slot read, where
 * the choice among the slot's replicas starts, from the key ID's low half (the slot comes from its
 * high half): the reads of one key go to the same replica while it is up, so its blocks sit in
 * one shard's cache, and the keys of a slot spread over its replicas. */
static int single_slot(const oks_router *r, const Oks__Request *q, unsigned *first)
{
    uint8_t kid[8];
    const uint8_t *k = NULL;
    *first = 0;
    if (q->op_case == OKS__REQUEST__OP_GET_FINGERPRINT && !q->get_fingerprint->subkeys &&
        oks_keyid_of_fpr(q->get_fingerprint->fingerprint.data, q->get_fingerprint->fingerprint.len,
                         kid) == 0)
        k = kid;
    else if (q->op_case == OKS__REQUEST__OP_GET_KEY_ID && q->get_key_id->primary_only &&
             q->get_key_id->key_id.len == 8)
        k = q->get_key_id->key_id.data;
    else if (q->op_case == OKS__REQUEST__OP_DELETE &&
             oks_keyid_of_fpr(q->delete_->fingerprint.data, q->delete_->fingerprint.len, kid) == 0)
        k = kid;
    else if (q->op_case == OKS__REQUEST__OP_UNDELETE &&
             oks_keyid_of_fpr(q->undelete->fingerprint.data, q->undelete->fingerprint.len,
                              kid) == 0)
        k = kid;
    if (!k)
        return -1;
    *first = (unsigned)k[4] << 24 | (unsigned)k[5] << 16 | (unsigned)k[6] << 8 | k[7];
    return (int)oks_slot_of_keyid(k, r->conf->n_slots);
}

static unsigned waiting(const oks_pending *p)
{
    unsigned n = 0;
    for (size_t i = 0; i < OKS_MAX_SHARDS; i++)
        n += p->asked[i] == OKS_ASK_WAITING;
    return n;
}

/* Single-slot read: asks the next replica of p->slot from p->first on (up_only: only one believed
 * up). Each
 * attempt gets an equal share of the time left, so a replica that does not answer leaves time
 * for the others. False when no replica is left to ask. */
static bool ask_replica(oks_router *r, oks_pending *p, bool up_only)
{
    const uint16_t *m = oks_cluster_replicas_of(PMAP(p)->conf, (unsigned)p->slot);
    int i;
    while ((i = oks_replicas_pick_from(PREP(p), m, p->asked, p->first)) >= 0) {
        if (up_only && !r->up[i])
            return false;
        if (send_to_shard(r, p, (size_t)i, &p->body)) {
            unsigned left = oks_replicas_untried(PREP(p), m, p->asked);
            uint64_t now = oks_now_ms();
            p->attempt_ms = left && p->deadline_ms > now ? now + (p->deadline_ms - now) / (left + 1)
                                                         : 0;
            return true;
        }
        oks_pending_fail(p, r->conf->shards[i].name, "not connected");
    }
    return false;
}

/* Fan-out: makes sure replica group g has a replica asked, asking one if needed (trying its
 * members from the start-th on). False when no replica of the group is left. */
static bool cover_group(oks_router *r, oks_pending *p, size_t g, unsigned start)
{
    int c = oks_replicas_covering(PREP(p), g, p->asked);
    if (c < 0) {
        const uint16_t *m = oks_replicas_group(PREP(p), g);
        while ((c = oks_replicas_pick_from(PREP(p), m, p->asked, start)) >= 0 &&
               !send_to_shard(r, p, (size_t)c, &p->body))
            oks_pending_fail(p, r->conf->shards[c].name, "not connected");
    }
    p->group_by[g] = c;
    return c >= 0;
}

/* Fan-out: shard si failed; the groups it answered for move to other replicas. False when one of
 * them has none left (the failure then shows in the answer). */
static bool regroup(oks_router *r, oks_pending *p, size_t si)
{
    bool ok = true;
    for (size_t g = 0; g < PREP(p)->n_groups; g++)
        if (p->group_by[g] == (int32_t)si && !cover_group(r, p, g, PREP(p)->turn++)) {
            ok = false;
            p->uncovered = true;
        }
    return ok;
}

/* Add, verifying once: sends the keys ready to go on (their first replica answered, failed or
 * is late) to the other receivers of their slots, each in one Add: the first replica's stored
 * forms as verified_keys, uploads it did not store (unchanged) or never answered for as keys.
 * A shard still busy with a part of this request gets its keys after answering, so that it has
 * one part in flight (its answer is matched to add_index); force: now, to every shard not
 * failed, the request is ending (nothing waits for these answers; what still waits for its
 * first replica goes as uploaded). */
static void fwd_flush(oks_router *r, oks_pending *p, bool force)
{
    if (!p->fwd)
        return;
    if (force)
        oks_pending_fwd_fallback(p, -1);
    const oks_cluster *c = PMAP(p)->conf;
    uint64_t now = oks_now_ms();
    for (size_t s = 0; s < c->n_shards; s++) {
        if (p->asked[s] == OKS_ASK_FAILED || (!force && p->asked[s] == OKS_ASK_WAITING))
            continue;
        oks_buf b = OKS_BUF_INIT;
        if (oks_pending_fwd_part(p, c, s, now, &b) && !send_to_shard(r, p, s, &b))
            oks_pending_fail(p, c->shards[s].name, "not connected");
        oks_buf_release(&b);
    }
}

/* Shard si gave no usable answer to p (why; reply: its failure reply, or NULL). Another replica
 * is asked when the request can move; otherwise the failure is recorded. */
static void shard_failed(oks_router *r, oks_pending *p, size_t si, const char *why,
                         Oks__Response *reply)
{
    const char *name = r->conf->shards[si].name;
    p->asked[si] = OKS_ASK_FAILED;
    bool moved = false;
    if (p->slot >= 0)
        moved = ask_replica(r, p, false);
    else if (p->group_by)
        moved = regroup(r, p, si);
    if (moved && p->slot < 0)
        return; /* a fan-out: the others answer for it, nothing to report */
    if (reply && !p->acks)
        oks_pending_merge(p, si, name, reply);
    else if (reply)
        oks_pending_add_reply(p, si, name, reply);
    else
        oks_pending_fail(p, name, why);
    if (p->op == OKS__REQUEST__OP_STATS)
        add_down_stats(p, name);
    if (p->fwd) { /* what waited for its answer goes on to the others as uploaded */
        oks_pending_fwd_fallback(p, (int)si);
        fwd_flush(r, p, false);
    }
}

static bool complete(const oks_pending *p)
{
    if (p->acks && p->unacked == 0)
        return true;
    return p->slot >= 0 ? waiting(p) == 0 : p->received == p->expected;
}

/* Splits an add by the replicas of each key's slot. A key with more than one receiver goes to
 * one replica that is up first (oks_replicas_first), which verifies it; the others get its
 * stored form when it answers (fwd_flush; docs/replicas.md "Verifying once"). A key with one
 * receiver, or none up, goes to every receiver at once. Keys whose primary packet cannot be
 * read go to shard 0 only, which rejects them with the parser's reason. */
static void route_add(oks_router *r, oks_pending *p, Oks__Request *q)
{
    const oks_cluster *c = PMAP(p)->conf;
    size_t ns = c->n_shards, n = q->add->n_keys;
    unsigned W = oks_cluster_write_quorum(c);
    ProtobufCBinaryData *orig = q->add->keys;
    int32_t *slot = oks_xmalloc((n ? n : 1) * sizeof *slot);
    oks_pending_add_start(p, n, OKS_MAX_SHARDS);
    for (size_t i = 0; i < n; i++) {
        size_t off = 0;
        oks_pgp_packet pkt;
        oks_pgp_pubkey pk;
        oks_err e;
        slot[i] = -1;
        if (oks_pgp_packet_next(orig[i].data, orig[i].len, &off, &pkt, &e) == 0 &&
            pkt.tag == OKS_PGP_TAG_PUBKEY &&
            oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &pk, &e) == 0)
            slot[i] = (int32_t)oks_slot_of_keyid(pk.keyid, c->n_slots);
        if (slot[i] < 0) {
            p->add_n[0]++;
            continue;
        }
        p->need[i] = (uint8_t)W;
        const uint16_t *rs = oks_cluster_replicas_of(c, (unsigned)slot[i]);
        unsigned nr = oks_cluster_nreplicas(c, (unsigned)slot[i]);
        int first = nr + (c->slot_joining[slot[i]] != UINT16_MAX) > 1
                        ? oks_replicas_first(rs, nr, pk.keyid, r->up)
                        : -1;
        if (first >= 0) {
            oks_pending_fwd_defer(p, i, (uint32_t)slot[i], first, orig[i].data, orig[i].len);
            p->add_n[first]++;
            continue;
        }
        for (unsigned k = 0; k < nr; k++)
            p->add_n[rs[k]]++;
        if (c->slot_joining[slot[i]] != UINT16_MAX) /* a slot move's new replica: its writes */
            p->add_n[c->slot_joining[slot[i]]]++;
    }
    ProtobufCBinaryData *sub = oks_xmalloc((n ? n : 1) * sizeof *sub);
    for (size_t s = 0; s < ns; s++) {
        if (!p->add_n[s])
            continue;
        p->add_index[s] = oks_xmalloc(p->add_n[s] * sizeof(uint32_t));
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (slot[i] < 0                                 ? s == 0
                : p->fwd && p->fwd[i].stage == OKS_FWD_WAIT ? p->fwd[i].first == (int)s
                                                            : oks_cluster_receives(c, (unsigned)slot[i], s)) {
                /* a slot move's new replica gets the key but its answer is no acknowledgement */
                bool full = slot[i] < 0 || oks_cluster_holds(c, (unsigned)slot[i], s);
                p->add_index[s][k] = (uint32_t)i | (full ? 0 : OKS_PENDING_JOINER);
                sub[k++] = orig[i];
            }
        q->add->keys = sub;
        q->add->n_keys = k;
        q->add->return_stored = oks_pending_fwd_waits_on(p, s); /* to send on */
        oks_buf b = OKS_BUF_INIT;
        oks_proto_pack_request(q, &b);
        if (!send_to_shard(r, p, s, &b)) {
            oks_pending_fail(p, r->conf->shards[s].name, "not connected");
            oks_pending_fwd_fallback(p, (int)s);
        }
        oks_buf_release(&b);
    }
    q->add->keys = orig;
    q->add->n_keys = n;
    free(sub);
    free(slot);
    if (p->fwd) {
        /* the first replicas get half the time left: then the others get the uploads */
        uint64_t now = oks_now_ms();
        p->attempt_ms = p->deadline_ms > now ? now + (p->deadline_ms - now) / 2 : 0;
        p->origin = (int)q->add->origin;
        fwd_flush(r, p, false);
    }
}

/* The shard a request names (change log, key listing, tombstones, repair), or NULL. */
static const char *named_shard(const Oks__Request *q)
{
    switch (q->op_case) {
    case OKS__REQUEST__OP_CHANGES: return q->changes->shard;
    case OKS__REQUEST__OP_LIST: return q->list->shard;
    case OKS__REQUEST__OP_TOMBSTONES: return q->tombstones->shard;
    case OKS__REQUEST__OP_DIGESTS: return q->digests->shard;
    case OKS__REQUEST__OP_SLOT_HASHES: return q->slot_hashes->shard;
    case OKS__REQUEST__OP_REPAIR: return q->repair->shard;
    default: return NULL;
    }
}

static uint64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Routes a request other than an add: one replica of a single slot, one replica per replica
 * group for a fan-out, every shard for stats and health, the named shard for a change log or
 * key listing. */
static void route(oks_router *r, oks_pending *p, Oks__Request *q)
{
    if (q->op_case == OKS__REQUEST__OP_BACKUP) { /* its pages name one shard's snapshot */
        p->worst = OKS__STATUS__STATUS_BAD_REQUEST;
        p->worst_msg = oks_xstrdup("a backup is asked of a shard directly, not through a router "
                                   "(oksctl backup --shard NAME)");
        return;
    }
    const char *named = named_shard(q);
    if (named) {
        int i = oks_cluster_shard_index(PMAP(p)->conf, named);
        if (i < 0) {
            p->worst = OKS__STATUS__STATUS_BAD_REQUEST;
            p->worst_msg = oks_xstrdup("no such shard");
            return;
        }
        oks_proto_pack_request(q, &p->body);
        p->raw_forward = true;
        send_or_fail(r, p, (size_t)i, &p->body);
        return;
    }
    unsigned first;
    int slot = single_slot(r, q, &first);
    q->slot = slot;
    bool tomb = q->op_case == OKS__REQUEST__OP_DELETE || q->op_case == OKS__REQUEST__OP_UNDELETE;
    uint64_t *stamp = q->op_case == OKS__REQUEST__OP_DELETE     ? &q->delete_->stamp_ms
                      : q->op_case == OKS__REQUEST__OP_UNDELETE ? &q->undelete->stamp_ms
                                                                : NULL;
    if (stamp && !*stamp) /* every replica's tombstone gets the same version */
        *stamp = now_unix_ms();
    oks_proto_pack_request(q, &p->body);
    if (slot >= 0 && tomb) {
        /* every replica keeps its own tombstone: a delete goes to all of them, and succeeds
         * once write_quorum stored it (the others copy it from their logs) */
        const oks_cluster *c = PMAP(p)->conf;
        const uint16_t *m = oks_cluster_replicas_of(c, (unsigned)slot);
        p->quorum = oks_cluster_write_quorum(c);
        for (unsigned k = 0; k < oks_cluster_nreplicas(c, (unsigned)slot); k++)
            send_or_fail(r, p, m[k], &p->body);
        p->has_joiner = c->slot_joining[slot] != UINT16_MAX; /* not in the quorum */
        p->joiner = c->slot_joining[slot];
        if (c->slot_joining[slot] != UINT16_MAX &&
            !send_to_shard(r, p, c->slot_joining[slot], &p->body))
            oks_pending_fail(p, c->shards[c->slot_joining[slot]].name, "not connected");
    } else if (slot >= 0) {
        p->slot = slot;
        p->first = first;
        p->raw_forward = true;
        ask_replica(r, p, false);
    } else if (q->op_case == OKS__REQUEST__OP_STATS || q->op_case == OKS__REQUEST__OP_HEALTH) {
        const oks_cluster *c = PMAP(p)->conf;
        for (size_t i = 0; i < c->n_shards; i++)
            if (!c->epoch || oks_router_map_has_slots(c, i)) /* not a shard removed */
                send_or_fail(r, p, i, &p->body);
    } else {
        size_t n = PREP(p)->n_groups;
        unsigned f = oks_replicas_fan_out(PREP(p));
        p->group_by = oks_xmalloc(n * sizeof *p->group_by);
        for (size_t k = 0; k < n; k++) /* where it starts turns, so reads spread over all */
            if (!cover_group(r, p, (f + k) % n, f / n + k))
                p->uncovered = true;
    }
}

/* Ends a request whose parts are all in (or whose deadline passed). A single-slot read that a
 * replica answered NOT_FOUND while the others failed is answered NOT_FOUND: the replica that
 * answered is the best knowledge there is. */
static void done(oks_router *r, oks_pending *p)
{
    p->raw_forward = false;
    fwd_flush(r, p, true); /* keys not sent on yet: their answers are not awaited */
    if (p->slot >= 0 && p->not_found) {
        reply_error(r, &p->client, &p->rid, OKS__STATUS__STATUS_NOT_FOUND, "no matching key");
        oks_router_metrics_request(p->op, OKS__STATUS__STATUS_NOT_FOUND, p->start_us);
        oks_router_pending_end(p);
        r->inflight--;
        return;
    }
    finish(r, p);
}

static void on_client(oks_router *r, oks_zframes *m)
{
    if (m->n != 3 || m->truncated) {
        if (m->n >= 2)
            reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_BAD_REQUEST,
                        "expected frames [request id][request]");
        return;
    }
    oks_slice body = oks_zframe(m, 2);
    Oks__Request *q;
    oks_err e;
    if (oks_proto_request_unpack(body.ptr, body.len, r->conf->max_message_bytes, &q, &e)) {
        reply_error(r, &m->f[0], &m->f[1], oks_proto_status_of(e.code), e.msg);
        return;
    }
    char authority[64], *client_authority = q->authority; /* the router's, never the client's */
    if (oks_router_authorize(&m->f[2], q, authority, sizeof authority, e.msg, sizeof e.msg)) {
        reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_FORBIDDEN, e.msg);
        oks_router_metrics_refused(q->op_case);
        oks__request__free_unpacked(q, NULL);
        return;
    }
    if (q->op_case == OKS__REQUEST__OP_TOPOLOGY) { /* authorized and audited: nothing to route */
        reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_OK, "recorded");
        oks_router_metrics_request(q->op_case, OKS__STATUS__STATUS_OK, 0);
        oks__request__free_unpacked(q, NULL);
        return;
    }
    uint64_t id = r->next_id++;
    oks_pending *p = &r->table[id % OKS_ROUTER_MAX_INFLIGHT];
    if (p->id) {
        reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_UNAVAILABLE,
                    "router overloaded: too many requests in flight");
        oks_router_metrics_request(q->op_case, OKS__STATUS__STATUS_UNAVAILABLE, 0);
        oks__request__free_unpacked(q, NULL);
        return;
    }
    memset(p, 0, sizeof *p);
    p->id = id;
    p->start_us = oks_now_us();
    p->op = q->op_case;
    p->slot = -1;
    p->has_joiner = false;
    zmq_msg_init(&p->client);
    zmq_msg_init(&p->rid);
    zmq_msg_move(&p->client, &m->f[0]);
    zmq_msg_move(&p->rid, &m->f[1]);
    p->deadline_ms = oks_now_ms() + (q->deadline_ms ? q->deadline_ms : r->conf->router_deadline_ms);
    p->limit = r->conf->router_max_results;
    if (q->op_case == OKS__REQUEST__OP_SEARCH && q->search->limit && q->search->limit < p->limit)
        p->limit = q->search->limit;
    p->asked = oks_xcalloc(OKS_MAX_SHARDS, 1);
    p->map = oks_router_map_hold(r->map);
    p->merged = oks_xmalloc(sizeof *p->merged);
    oks__response__init(p->merged);
    if (q->op_case == OKS__REQUEST__OP_GET_FINGERPRINT &&
        q->get_fingerprint->fingerprint.len <= sizeof p->fpr) {
        p->fpr_len = q->get_fingerprint->fingerprint.len;
        memcpy(p->fpr, q->get_fingerprint->fingerprint.data, p->fpr_len);
    }
    r->inflight++;
    q->map_digest = (ProtobufCBinaryData){32, (uint8_t *)r->map->conf->digest};
    q->authority = authority;
    q->slot = -1;
    if (q->op_case == OKS__REQUEST__OP_ADD)
        route_add(r, p, q);
    else
        route(r, p, q);
    q->map_digest = (ProtobufCBinaryData){0, NULL};
    q->authority = client_authority;
    oks__request__free_unpacked(q, NULL);
    if (p->id && complete(p))
        done(r, p);
}

/* Passes a single shard's reply frame on as is (moved, not copied) and ends the request. */
static void forward_raw(oks_router *r, oks_pending *p, zmq_msg_t *frame)
{
    oks_router_metrics_request(p->op, oks_proto_peek_status(zmq_msg_data(frame), zmq_msg_size(frame)),
                               p->start_us);
    zmq_msg_send(&p->client, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_msg_send(&p->rid, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_msg_send(frame, r->front, ZMQ_DONTWAIT);
    oks_router_pending_end(p);
    r->inflight--;
}

static void on_shard(oks_router *r, size_t si, oks_zframes *m)
{
    if (m->n != 2 || zmq_msg_size(&m->f[0]) != sizeof(uint64_t))
        return;
    uint64_t id;
    memcpy(&id, zmq_msg_data(&m->f[0]), sizeof id);
    oks_pending *p = &r->table[id % OKS_ROUTER_MAX_INFLIGHT];
    if (p->id != id || p->asked[si] != OKS_ASK_WAITING)
        return; /* late reply to a request that already timed out or moved on */
    p->asked[si] = OKS_ASK_DONE;
    p->received++;
    oks_router_metrics_rtt(si, p->start_us);
    oks_slice body = oks_zframe(m, 1);
    if (p->raw_forward) {
        Oks__Status st = oks_proto_peek_status(body.ptr, body.len);
        if (st == OKS__STATUS__STATUS_NOT_FOUND && p->slot >= 0 && ask_replica(r, p, true)) {
            /* a replica may not have caught up yet: another one that is up is asked too */
            p->not_found = true;
            return;
        }
        if (!oks_pending_shard_failed(st) || (p->slot < 0 && p->expected == 1)) {
            forward_raw(r, p, &m->f[1]);
            return;
        }
    }
    Oks__Response *rep;
    oks_err e;
    if (oks_proto_response_unpack(body.ptr, body.len, r->conf->max_message_bytes, &rep, &e) == 0) {
        if (oks_pending_shard_failed(rep->status) && (p->slot >= 0 || p->group_by || p->acks))
            shard_failed(r, p, si, NULL, rep);
        else if (p->acks) {
            oks_pending_add_reply(p, si, r->conf->shards[si].name, rep);
            fwd_flush(r, p, false);
        }
        else
            oks_pending_merge(p, si, r->conf->shards[si].name, rep);
        oks__response__free_unpacked(rep, NULL);
    } else {
        shard_failed(r, p, si, "garbled reply", NULL);
    }
    if (p->id && complete(p))
        done(r, p);
}

/* A single-slot read whose replica has not answered in its share of the time: the next replica
 * is asked (the late answer, if any, is dropped). */
static void next_attempt(oks_router *r, oks_pending *p)
{
    p->attempt_ms = 0;
    if (p->fwd) { /* an add's first replicas are late: the others get the uploads themselves */
        oks_pending_fwd_fallback(p, -1);
        fwd_flush(r, p, false);
        return;
    }
    size_t ns = OKS_MAX_SHARDS, n = 0;
    size_t *late = oks_xmalloc(ns * sizeof *late);
    for (size_t s = 0; s < ns; s++)
        if (p->asked[s] == OKS_ASK_WAITING)
            late[n++] = s;
    for (size_t k = 0; k < n; k++) {
        p->received++;
        shard_failed(r, p, late[k], "no answer in its share of the deadline", NULL);
    }
    free(late);
}

static void expire(oks_router *r, uint64_t now)
{
    if (!r->inflight)
        return;
    for (size_t i = 0; i < OKS_ROUTER_MAX_INFLIGHT; i++) {
        oks_pending *p = &r->table[i];
        if (!p->id)
            continue;
        if (p->deadline_ms > now) {
            if (p->attempt_ms && p->attempt_ms <= now) {
                next_attempt(r, p);
                if (complete(p))
                    done(r, p);
            }
            continue;
        }
        for (size_t s = 0; s < r->conf->n_shards; s++)
            if (p->asked[s] == OKS_ASK_WAITING) {
                oks_pending_fail(p, r->conf->shards[s].name, "deadline passed");
                if (p->op == OKS__REQUEST__OP_STATS)
                    add_down_stats(p, r->conf->shards[s].name);
            }
        done(r, p);
    }
}

/* Shard si's connection dropped: whatever it was asked and has not answered will never be
 * answered (its replies go to the old connection), so those parts move to another replica or
 * fail now. */
static void on_disconnect(oks_router *r, size_t si)
{
    size_t failed = 0;
    r->up[si] = false;
    for (size_t i = 0; r->inflight && i < OKS_ROUTER_MAX_INFLIGHT; i++) {
        oks_pending *p = &r->table[i];
        if (!p->id || p->asked[si] != OKS_ASK_WAITING)
            continue;
        p->received++;
        failed++;
        shard_failed(r, p, si, "disconnected", NULL);
        if (p->id && complete(p))
            done(r, p);
    }
    oks_log(OKS_LOG_WARN,
            "router: shard %s disconnected (%s); %zu unanswered requests moved or failed",
            r->conf->shards[si].name, r->conf->shards[si].endpoint, failed);
}

/* Drains shard si's monitor: one event is two frames (event id + value, endpoint). */
static void drain_monitor(oks_router *r, size_t si)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, r->monitors[si], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&id, zmq_msg_data(&ev), 2);
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) {
            zmq_msg_init(&addr);
            zmq_msg_recv(&addr, r->monitors[si], 0);
            zmq_msg_close(&addr);
        }
        if (id == ZMQ_EVENT_DISCONNECTED)
            on_disconnect(r, si);
        else if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            r->up[si] = true;
    }
}

int oks_router_run(oks_router *r, atomic_int *stop)
{
    size_t ns = r->conf->n_shards;
    int ni;
    zmq_pollitem_t *items = oks_router_poll_items(r, &ni);
    uint64_t last_expire = oks_now_ms();
    while (!*stop) {
        int n = zmq_poll(items, ni, OKS_ROUTER_EXPIRE_MS);
        if (n < 0 && errno != EINTR) {
            oks_log(OKS_LOG_ERROR, "router: poll: %s", zmq_strerror(errno));
            free(items);
            return OKS_E_IO;
        }
        oks_zframes m;
        for (size_t i = 0; n > 0 && i < ns; i++)
            for (int k = 0; k < OKS_ROUTER_IO_BATCH && (items[i + 1].revents & ZMQ_POLLIN) &&
                            oks_zrecv(r->shard_socks[i], &m, ZMQ_DONTWAIT) == 0;
                 k++) {
                on_shard(r, i, &m);
                oks_zframes_close(&m);
            }
        for (int k = 0; n > 0 && k < OKS_ROUTER_IO_BATCH && (items[0].revents & ZMQ_POLLIN) &&
                        oks_zrecv(r->front, &m, ZMQ_DONTWAIT) == 0;
             k++) {
            on_client(r, &m);
            oks_zframes_close(&m);
        }
        /* after the replies above: an answer that came before the drop still counts */
        for (int k = (int)ns + 2; n > 0 && k < ni; k++)
            if (items[k].revents & ZMQ_POLLIN)
                for (size_t i = 0; i < ns; i++)
                    if (r->monitors[i] == items[k].socket)
                        drain_monitor(r, i);
        oks_cluster *next;
        if (n > 0 && (items[ns + 1].revents & ZMQ_POLLIN) &&
            zmq_recv(r->maps_in, &next, sizeof next, ZMQ_DONTWAIT) == (int)sizeof next) {
            oks_router_apply_map(r, next); /* between requests: those in flight keep their map */
            free(items);
            items = oks_router_poll_items(r, &ni);
            ns = r->conf->n_shards;
        }
        uint64_t now = oks_now_ms();
        if (now - last_expire >= OKS_ROUTER_EXPIRE_MS) {
            expire(r, now);
            last_expire = now;
        }
        oks_router_metrics_loop(r->inflight, r->maps_live, r->up, ns);
    }
    free(items);
    return 0;
}

/* Merging shard replies into one answer (see pending.h). Entries are moved out of each
 * unpacked reply into the merged response, so nothing is copied twice. */
#include "router/pending.h"
#include "lib/xalloc.h"
#include "router/replicas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOVE_ALL(dst, ndst, src, nsrc)                                                             \
    do {                                                                                           \
        if ((nsrc) == 0)                                                                           \
            break;                                                                                 \
        void *nv_ = oks_xrealloc((dst), ((ndst) + (nsrc)) * sizeof *(dst));                             \
        if (!nv_)                                                                                  \
            break;                                                                                 \
        (dst) = nv_;                                                                               \
        memcpy((dst) + (ndst), (src), (nsrc) * sizeof *(dst));                                     \
        (ndst) += (nsrc);                                                                          \
        (nsrc) = 0;                                                                                \
    } while (0)

static bool has_fpr(const Oks__Response *m, const ProtobufCBinaryData *f)
{
    for (size_t i = 0; i < m->n_keys; i++)
        if (m->keys[i]->fingerprint.len == f->len &&
            memcmp(m->keys[i]->fingerprint.data, f->data, f->len) == 0)
            return true;
    return false;
}

/* Statuses with which a shard says it could not answer (as opposed to a bad request). */
bool oks_pending_shard_failed(Oks__Status st)
{
    return st == OKS__STATUS__STATUS_INTERNAL || st == OKS__STATUS__STATUS_UNAVAILABLE ||
           st == OKS__STATUS__STATUS_TIMEOUT || st == OKS__STATUS__STATUS_WRONG_SHARD;
}

static void add_failure(oks_pending *p, const char *name, const char *why, bool reply);

void oks_pending_merge(oks_pending *p, size_t shard_idx, const char *name, Oks__Response *r)
{
    Oks__Response *m = p->merged;
    p->n_not_found += r->status == OKS__STATUS__STATUS_NOT_FOUND;
    if (r->status == OKS__STATUS__STATUS_OK) {
        p->n_ok += !(p->has_joiner && shard_idx == p->joiner);
        if (!p->note && r->error && *r->error)
            p->note = oks_xstrdup(r->error);
    }
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_NOT_FOUND) {
        const char *why = r->error && *r->error ? r->error : oks_proto_status_name(r->status);
        if (p->worst == OKS__STATUS__STATUS_OK) {
            p->worst = r->status;
            free(p->worst_msg);
            p->worst_msg = oks_xstrdup(why);
        }
        if (oks_pending_shard_failed(r->status))
            add_failure(p, name, why, true);
    }
    m->total += r->total;
    m->truncated = m->truncated || r->truncated; /* a shard's work budget cut its part */
    if (r->last_seq > m->last_seq)
        m->last_seq = r->last_seq;
    /* keys: deduplicated by fingerprint, limited */
    for (size_t i = 0; i < r->n_keys; i++) {
        Oks__Key *k = r->keys[i];
        if (m->n_keys >= p->limit || has_fpr(m, &k->fingerprint))
            continue;
        void *nv = oks_xrealloc(m->keys, (m->n_keys + 1) * sizeof *m->keys);
        m->keys = nv;
        m->keys[m->n_keys++] = k;
        r->keys[i] = NULL;
    }
    for (size_t i = 0; i < r->n_keys; i++)
        if (r->keys[i])
            oks__key__free_unpacked(r->keys[i], NULL);
    r->n_keys = 0;
    /* add results: back to the caller's numbering */
    if (p->add_index && p->add_index[shard_idx]) {
        for (size_t i = 0; i < r->n_results; i++) {
            uint32_t ix = r->results[i]->index;
            r->results[i]->index = p->add_index[shard_idx][ix] & ~OKS_PENDING_JOINER;
        }
    }
    MOVE_ALL(m->results, m->n_results, r->results, r->n_results);
    MOVE_ALL(m->shards, m->n_shards, r->shards, r->n_shards);
    MOVE_ALL(m->changes, m->n_changes, r->changes, r->n_changes);
}

void oks_pending_add_start(oks_pending *p, size_t n_keys, size_t n_shards)
{
    p->n_add = p->unacked = n_keys;
    p->acks = oks_xcalloc(n_keys ? n_keys : 1, 1);
    p->need = oks_xmalloc(n_keys ? n_keys : 1);
    memset(p->need, 1, n_keys ? n_keys : 1);
    p->add_index = oks_xcalloc(n_shards, sizeof *p->add_index);
    p->add_n = oks_xcalloc(n_shards, sizeof *p->add_n);
}

/* One more answer for key ix. */
static void ack(oks_pending *p, uint32_t ix)
{
    if (ix >= p->n_add || p->acks[ix] == 255)
        return;
    if (++p->acks[ix] == p->need[ix])
        p->unacked--;
}

void oks_pending_fwd_defer(oks_pending *p, size_t ix, uint32_t slot, int first,
                           const uint8_t *key, size_t len)
{
    if (!p->fwd)
        p->fwd = oks_xcalloc(p->n_add ? p->n_add : 1, sizeof *p->fwd);
    oks_pending_fwd *f = &p->fwd[ix];
    f->stage = OKS_FWD_WAIT;
    f->first = (int16_t)first;
    f->slot = slot;
    oks_buf_append(&f->bytes, key, len);
}

void oks_pending_fwd_fallback(oks_pending *p, int si)
{
    for (size_t i = 0; p->fwd && i < p->n_add; i++)
        if (p->fwd[i].stage == OKS_FWD_WAIT && (si < 0 || p->fwd[i].first == si))
            p->fwd[i].stage = OKS_FWD_READY; /* the upload's own bytes: verified by each */
}

bool oks_pending_fwd_waits_on(const oks_pending *p, size_t si)
{
    for (size_t i = 0; p->fwd && i < p->n_add; i++)
        if (p->fwd[i].stage == OKS_FWD_WAIT && p->fwd[i].first == (int)si)
            return true;
    return false;
}

bool oks_pending_fwd_part(oks_pending *p, const oks_cluster *c, size_t s, uint64_t now_ms,
                          oks_buf *out)
{
    size_t n = p->n_add, np = 0, nv = 0; /* uploads from keys[0], stored forms from keys[n] */
    ProtobufCBinaryData *keys = oks_xmalloc(2 * (n ? n : 1) * sizeof *keys);
    uint32_t *ix = oks_xmalloc(2 * (n ? n : 1) * sizeof *ix);
    for (size_t i = 0; p->fwd && i < n; i++) {
        oks_pending_fwd *f = &p->fwd[i];
        int pos = f->stage == OKS_FWD_READY && f->first != (int)s
                      ? oks_replicas_receiver_pos(c, f->slot, s)
                      : -1;
        if (pos < 0 || (f->sent & 1u << pos))
            continue;
        f->sent |= (uint16_t)(1u << pos);
        size_t k = f->verified ? n + nv++ : np++;
        keys[k] = (ProtobufCBinaryData){f->bytes.len, f->bytes.data};
        /* a slot move's new replica gets it, but its answer is no acknowledgement */
        ix[k] = (uint32_t)i | (oks_cluster_holds(c, f->slot, s) ? 0 : OKS_PENDING_JOINER);
    }
    if (np || nv) {
        free(p->add_index[s]);
        p->add_index[s] = oks_xmalloc((np + nv) * sizeof(uint32_t)); /* answers: keys first */
        memcpy(p->add_index[s], ix, np * sizeof *ix);
        memcpy(p->add_index[s] + np, ix + n, nv * sizeof *ix);
        p->add_n[s] = (uint32_t)(np + nv);
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__Add a = OKS__ADD__INIT;
        q.version = OKS_PROTO_VERSION;
        q.deadline_ms = p->deadline_ms > now_ms ? (uint32_t)(p->deadline_ms - now_ms) : 1;
        q.map_digest = (ProtobufCBinaryData){32, (uint8_t *)c->digest};
        q.slot = -1;
        q.op_case = OKS__REQUEST__OP_ADD;
        q.add = &a;
        a.origin = (Oks__Origin)p->origin;
        a.keys = keys;
        a.n_keys = np;
        a.verified_keys = keys + n;
        a.n_verified_keys = nv;
        oks_proto_pack_request(&q, out);
    }
    free(keys);
    free(ix);
    return np || nv;
}

/* The answer of key ix's first replica si: what goes on to the others. A rejected key goes no
 * further, and its rejection is its answer (no other replica is asked to reach the quorum). */
static void fwd_result(oks_pending *p, size_t si, uint32_t ix, const Oks__AddResult *a)
{
    oks_pending_fwd *f = p->fwd ? &p->fwd[ix] : NULL;
    if (!f || f->stage != OKS_FWD_WAIT || f->first != (int)si)
        return;
    if (a->outcome == OKS__OUTCOME__OUTCOME_REJECTED) {
        f->stage = OKS_FWD_DONE;
        if (p->acks[ix] < p->need[ix]) {
            p->need[ix] = p->acks[ix];
            p->unacked--;
        }
        return;
    }
    f->stage = OKS_FWD_READY;
    if ((a->outcome == OKS__OUTCOME__OUTCOME_NEW || a->outcome == OKS__OUTCOME__OUTCOME_UPDATED) &&
        a->stored_key.len) {
        f->bytes.len = 0;
        oks_buf_append(&f->bytes, a->stored_key.data, a->stored_key.len);
        f->verified = true;
    }
}

bool oks_pending_add_reply(oks_pending *p, size_t si, const char *name, Oks__Response *r)
{
    if (oks_pending_shard_failed(r->status)) {
        add_failure(p, name, r->error && *r->error ? r->error : oks_proto_status_name(r->status),
                    true);
        return p->unacked == 0;
    }
    if (r->status != OKS__STATUS__STATUS_OK) {
        /* a refusal of the whole request (bad request, too large): an answer for every key */
        oks_pending_merge(p, si, name, r);
        for (uint32_t k = 0; k < p->add_n[si]; k++)
            if (!(p->add_index[si][k] & OKS_PENDING_JOINER))
                ack(p, p->add_index[si][k]);
        for (size_t i = 0; p->fwd && i < p->n_add; i++)
            if (p->fwd[i].stage == OKS_FWD_WAIT && p->fwd[i].first == (int)si)
                p->fwd[i].stage = OKS_FWD_DONE; /* the others would refuse it the same way */
        return p->unacked == 0;
    }
    Oks__Response *m = p->merged;
    for (size_t i = 0; i < r->n_results; i++) {
        Oks__AddResult *a = r->results[i];
        if (a->index >= p->add_n[si])
            continue; /* not a key this shard was sent */
        uint32_t ix = p->add_index[si][a->index];
        if (ix & OKS_PENDING_JOINER)
            continue; /* a joining replica's copy: no acknowledgement, its result not used */
        bool first = p->acks[ix] == 0;
        ack(p, ix);
        fwd_result(p, si, ix, a);
        if (!first)
            continue;
        a->index = ix;
        a->stored_key.len = 0; /* for the router only (its data is still freed with a) */
        void *nv = oks_xrealloc(m->results, (m->n_results + 1) * sizeof *m->results);
        m->results = nv;
        m->results[m->n_results++] = a;
        r->results[i] = NULL;
    }
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i])
            oks__add_result__free_unpacked(r->results[i], NULL);
    r->n_results = 0;
    return p->unacked == 0;
}

/* Add: drops the results of keys short of their quorum; forgets replica failures when every key
 * reached it. */
static void settle_add(oks_pending *p)
{
    Oks__Response *m = p->merged;
    if (!p->acks)
        return;
    if (p->unacked == 0) {
        for (size_t i = 0; i < p->n_failed; i++) {
            free(p->failed[i].shard);
            free(p->failed[i].why);
        }
        p->n_failed = 0;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n_results; i++) {
        uint32_t ix = m->results[i]->index;
        if (ix < p->n_add && p->acks[ix] < p->need[ix])
            oks__add_result__free_unpacked(m->results[i], NULL);
        else
            m->results[k++] = m->results[i];
    }
    m->n_results = k;
}

void oks_pending_fail(oks_pending *p, const char *name, const char *why)
{
    add_failure(p, name, why, false);
}

static void add_failure(oks_pending *p, const char *name, const char *why, bool reply)
{
    oks_pending_failure *v = oks_xrealloc(p->failed, (p->n_failed + 1) * sizeof *v);
    p->failed = v;
    v[p->n_failed].shard = oks_xstrdup(name);
    v[p->n_failed].why = oks_xstrdup(why);
    v[p->n_failed].reply = reply;
    if (!v[p->n_failed].shard || !v[p->n_failed].why) {
        free(v[p->n_failed].shard);
        free(v[p->n_failed].why);
        return;
    }
    p->n_failed++;
}

static int cmp_results(const void *a, const void *b)
{
    const Oks__AddResult *x = *(Oks__AddResult *const *)a, *y = *(Oks__AddResult *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Moves the key whose fingerprint was asked for to the front (the others keep their order). */
static void primary_first(oks_pending *p)
{
    Oks__Response *m = p->merged;
    for (size_t i = 1; p->fpr_len && i < m->n_keys; i++) {
        Oks__Key *k = m->keys[i];
        if (k->fingerprint.len == p->fpr_len &&
            memcmp(k->fingerprint.data, p->fpr, p->fpr_len) == 0) {
            memmove(m->keys + 1, m->keys, i * sizeof *m->keys);
            m->keys[0] = k;
            return;
        }
    }
}

/* Appends, separated by "; ", what failed: a shard's own error as it is, any other failure as
 * "shard NAME unavailable (WHY)". */
static void describe_failures(const oks_pending *p, oks_buf *msg)
{
    for (size_t i = 0; i < p->n_failed; i++) {
        const oks_pending_failure *f = &p->failed[i];
        if (f->reply)
            oks_buf_printf(msg, "%s%s", msg->len ? "; " : "", f->why);
        else
            oks_buf_printf(msg, "%sshard %s unavailable (%s)", msg->len ? "; " : "", f->shard,
                           f->why);
    }
}

void oks_pending_finish(oks_pending *p, oks_buf *out)
{
    Oks__Response *m = p->merged;
    oks_buf msg = OKS_BUF_INIT;
    m->version = OKS_PROTO_VERSION;
    settle_add(p);
    if (m->n_results > 1)
        qsort(m->results, m->n_results, sizeof *m->results, cmp_results);
    if (p->op == OKS__REQUEST__OP_GET_FINGERPRINT)
        primary_first(p);
    char **names = p->n_failed ? oks_xcalloc(p->n_failed, sizeof *names) : NULL;
    for (size_t i = 0; names && i < p->n_failed; i++)
        names[i] = p->failed[i].shard;
    m->failed_shards = names;
    m->n_failed_shards = names ? p->n_failed : 0;
    if (p->quorum && p->n_ok >= p->quorum) {
        /* a tombstone on W replicas: the others copy it from their change logs */
        m->status = OKS__STATUS__STATUS_OK;
        oks_buf_printf(&msg, "%s", p->note ? p->note : "");
        if (p->n_failed) {
            oks_buf_printf(&msg, "%snot yet on every replica: ", msg.len ? "; " : "");
            oks_buf tail = OKS_BUF_INIT;
            describe_failures(p, &tail);
            oks_buf_append(&msg, tail.data, tail.len);
            oks_buf_release(&tail);
            oks_buf_printf(&msg, " (they copy the tombstone from the other replicas when back)");
        }
    } else if (p->worst != OKS__STATUS__STATUS_OK) {
        m->status = p->worst;
        /* a failure status is among the failures described; a refusal (bad request) is not */
        if (!oks_pending_shard_failed(p->worst))
            oks_buf_printf(&msg, "%s", p->worst_msg ? p->worst_msg : "");
        describe_failures(p, &msg);
    } else if (p->n_failed) {
        bool some = m->n_keys > 0 || m->n_results > 0 || m->n_shards > 0;
        bool fanout = p->expected > 1;
        m->status = some && fanout ? OKS__STATUS__STATUS_PARTIAL : OKS__STATUS__STATUS_UNAVAILABLE;
        m->partial = fanout && p->op != OKS__REQUEST__OP_ADD && p->op != OKS__REQUEST__OP_STATS;
        describe_failures(p, &msg);
    } else if (p->op == OKS__REQUEST__OP_DELETE && p->received && p->n_not_found == p->received) {
        m->status = OKS__STATUS__STATUS_NOT_FOUND; /* no replica had it */
        oks_buf_printf(&msg, "no such key");
    } else if (m->n_keys == 0 && (p->op == OKS__REQUEST__OP_GET_FINGERPRINT ||
                                  p->op == OKS__REQUEST__OP_GET_KEY_ID ||
                                  p->op == OKS__REQUEST__OP_SEARCH ||
                                  p->op == OKS__REQUEST__OP_GET_HASH)) {
        m->status = OKS__STATUS__STATUS_NOT_FOUND;
        oks_buf_printf(&msg, "no matching key");
    } else {
        m->status = OKS__STATUS__STATUS_OK;
    }
    m->error = msg.len ? (char *)msg.data : (char *)protobuf_c_empty_string;
    oks_proto_pack_response(m, out);
    m->error = (char *)protobuf_c_empty_string;
    oks_buf_release(&msg);
    free(names);
    m->failed_shards = NULL;
    m->n_failed_shards = 0;
}

void oks_pending_release(oks_pending *p, size_t n_shards)
{
    Oks__Response *m = p->merged;
    if (m) {
        for (size_t i = 0; i < m->n_keys; i++)
            oks__key__free_unpacked(m->keys[i], NULL);
        for (size_t i = 0; i < m->n_results; i++)
            oks__add_result__free_unpacked(m->results[i], NULL);
        for (size_t i = 0; i < m->n_shards; i++)
            oks__shard_stats__free_unpacked(m->shards[i], NULL);
        for (size_t i = 0; i < m->n_changes; i++)
            oks__change__free_unpacked(m->changes[i], NULL);
        free(m->keys);
        free(m->results);
        free(m->shards);
        free(m->changes);
        if (m->uncovered && m->uncovered != protobuf_c_empty_string)
            free(m->uncovered); /* health: the router's own (oks_buf data) */
        free(m);
    }
    if (p->add_index) {
        for (size_t i = 0; i < n_shards; i++)
            free(p->add_index[i]);
        free(p->add_index);
    }
    free(p->add_n);
    for (size_t i = 0; p->fwd && i < p->n_add; i++)
        oks_buf_release(&p->fwd[i].bytes);
    free(p->fwd);
    free(p->acks);
    free(p->need);
    free(p->group_by);
    oks_buf_release(&p->body);
    free(p->asked);
    for (size_t i = 0; i < p->n_failed; i++) {
        free(p->failed[i].shard);
        free(p->failed[i].why);
    }
    free(p->failed);
    free(p->worst_msg);
    free(p->note);
    zmq_msg_close(&p->client);
    zmq_msg_close(&p->rid);
    memset(p, 0, sizeof *p);
}

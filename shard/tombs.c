/* Tombstones at the shard: deletes and undeletes, tombstones copied from replica peers, and the
 * reads of replica repair (slot digests, slot hash lists, tombstone lists). docs/replicas.md. */
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "shard/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tombstones a SlotHashes answer carries at most (a slot with more is repaired over several
 * rounds: the digests keep differing until every one of them is copied). */
#define SLOT_TOMBS_MAX 1000
#define PAGE_DEFAULT 1000

int oks_shard_tomb_apply(oks_shard *sh, const oks_tomb *t, bool *changed, bool *had_key,
                         oks_err *e)
{
    oks_tomb old;
    oks_store_record rec = {0};
    oks_pgp_key *key = NULL;
    *changed = *had_key = false;
    oks_store_write_lock(sh->store);
    int r = oks_store_tomb_get(sh->store, t->fpr, t->fpr_len, &old, e);
    if (r < 0 || (r == 1 && oks_tomb_cmp(t, &old) <= 0)) {
        oks_store_write_unlock(sh->store);
        return r < 0 ? r : 0; /* the stored one is the same or wins */
    }
    bool has_old = r == 1;
    int found = 0;
    if (!t->lifted) {
        found = oks_store_get(sh->store, t->fpr, t->fpr_len, &rec, e);
        if (found == 1) {
            oks_pgp_limits big = sh->lim;
            big.max_key_bytes = (size_t)-1;
            if (oks_pgp_key_parse(rec.key.ptr, rec.key.len, &big, OKS_PGP_TRUSTED, &key, e))
                found = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "stored key unreadable");
        }
    }
    if (found >= 0) {
        oks_store_change ch = {.fpr = t->fpr, .fpr_len = t->fpr_len, .tomb = t,
                               .old_tomb = has_old ? &old : NULL};
        if (found == 1) {
            ch.old_key = key;
            ch.old_hash = rec.hash;
            ch.old_bytes = rec.key.len;
        }
        found = oks_store_apply(sh->store, &ch, 1, true, e) ? -1 : found;
        if (found >= 0) {
            *changed = true;
            *had_key = found == 1;
        }
    }
    oks_store_write_unlock(sh->store);
    oks_pgp_key_free(key);
    oks_store_record_release(&rec);
    return found < 0 ? (e->code ? e->code : OKS_E_IO) : 0;
}

void oks_shard_handle_tomb_op(oks_shard *sh, const Oks__Request *req, Oks__Response *r)
{
    bool lift = req->op_case == OKS__REQUEST__OP_UNDELETE;
    const ProtobufCBinaryData *fpr = lift ? &req->undelete->fingerprint
                                          : &req->delete_->fingerprint;
    const char *reason = lift ? req->undelete->reason : req->delete_->reason;
    uint64_t stamp = lift ? req->undelete->stamp_ms : req->delete_->stamp_ms;
    uint8_t kid[8];
    oks_tomb t;
    oks_err e;
    char msg[300];
    if (oks_keyid_of_fpr(fpr->data, fpr->len, kid) != 0) {
        r->status = OKS__STATUS__STATUS_BAD_REQUEST;
        r->error = oks_xstrdup("fingerprint must be 20 or 32 bytes");
        return;
    }
    if (!oks_shard_check_route(sh, req, r))
        return;
    if (!oks_shard_owns_keyid(sh, kid)) {
        r->status = OKS__STATUS__STATUS_WRONG_SHARD;
        snprintf(msg, sizeof msg, "shard %s does not hold the slot of that fingerprint",
                 sh->conf->shards[sh->self].name);
        r->error = oks_xstrdup(msg);
        return;
    }
    if (!stamp) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        stamp = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    }
    oks_tomb_init(&t, fpr->data, fpr->len, lift, stamp, reason, strlen(reason),
                  req->authority && req->authority[0] ? req->authority : "-", &e);
    bool changed, had_key;
    if (oks_shard_tomb_apply(sh, &t, &changed, &had_key, &e)) {
        r->status = OKS__STATUS__STATUS_INTERNAL;
        snprintf(msg, sizeof msg, "shard %s: %s", sh->conf->shards[sh->self].name, e.msg);
        r->error = oks_xstrdup(msg);
        return;
    }
    /* an OK answer's error is a note for the operator */
    snprintf(msg, sizeof msg, "%s", !changed ? "a newer tombstone is already stored"
                                   : lift     ? "tombstone lifted"
                                   : had_key  ? "key deleted"
                                              : "no key was stored; tombstone stored");
    r->error = oks_xstrdup(msg);
}

/* ---- reads: tombstone lists, slot digests, slot hash lists --------------------------------- */

static Oks__Tombstone *tomb_msg(const oks_tomb *t)
{
    size_t rl = strlen(t->reason) + 1, wl = strlen(t->who) + 1;
    Oks__Tombstone *m = oks_xmalloc(sizeof *m + t->fpr_len + rl + wl);
    if (!m)
        return NULL;
    oks__tombstone__init(m);
    uint8_t *p = (uint8_t *)(m + 1);
    memcpy(p, t->fpr, t->fpr_len);
    m->fingerprint = (ProtobufCBinaryData){t->fpr_len, p};
    m->reason = memcpy(p + t->fpr_len, t->reason, rl);
    m->who = memcpy(p + t->fpr_len + rl, t->who, wl);
    m->lifted = t->lifted;
    m->stamp_ms = t->stamp_ms;
    return m;
}

static int push_tomb(const oks_tomb *t, void *arg)
{
    Oks__Response *r = arg;
    Oks__Tombstone *m = tomb_msg(t);
    Oks__Tombstone **v = m ? oks_xrealloc(r->tombstones, (r->n_tombstones + 1) * sizeof *v) : NULL;
    if (!v) {
        free(m);
        return 1;
    }
    r->tombstones = v;
    v[r->n_tombstones++] = m;
    return 0;
}

typedef struct hash_page {
    Oks__Response *r;
    uint8_t *data;
    size_t cap;
} hash_page;

static int push_hash(unsigned slot, const uint8_t hash[16], const uint8_t *fpr, size_t len,
                     void *arg)
{
    (void)fpr, (void)len;
    hash_page *h = arg;
    Oks__Response *r = h->r;
    if (r->n_hashes == h->cap)
        return 1;
    uint8_t *p = h->data + 20 * r->n_hashes;
    p[0] = (uint8_t)(slot >> 24);
    p[1] = (uint8_t)(slot >> 16);
    p[2] = (uint8_t)(slot >> 8);
    p[3] = (uint8_t)slot;
    memcpy(p + 4, hash, 16);
    r->hashes[r->n_hashes++] = (ProtobufCBinaryData){20, p};
    return 0;
}

static void read_error(oks_shard *sh, Oks__Response *r, Oks__Status st, const char *what,
                       const char *why)
{
    char msg[300];
    snprintf(msg, sizeof msg, "shard %s: %s: %s", sh->conf->shards[sh->self].name, what, why);
    if (st == OKS__STATUS__STATUS_INTERNAL)
        oks_warn("%s", msg);
    r->status = st;
    free(r->error == protobuf_c_empty_string ? NULL : r->error);
    r->error = oks_xstrdup(msg);
}

static void slot_digests(oks_shard *sh, const Oks__SlotDigests *q, Oks__Response *r)
{
    const oks_cluster *c = sh->conf; /* joining slots too: a slot move compares them */
    unsigned n = c->n_slots, last = q->last < n ? q->last : n - 1;
    if (q->first > last) {
        read_error(sh, r, OKS__STATUS__STATUS_BAD_REQUEST, "slot digests", "no such slot range");
        return;
    }
    size_t cap = last - q->first + 1;
    if (cap > OKS_PROTO_MAX_ITEMS)
        cap = OKS_PROTO_MAX_ITEMS;
    r->digests = oks_xcalloc(cap, sizeof *r->digests);
    Oks__SlotDigest *d = oks_xcalloc(cap, sizeof *d + 16);
    if (!r->digests || !d) {
        free(d);
        read_error(sh, r, OKS__STATUS__STATUS_INTERNAL, "slot digests", "out of memory");
        return;
    }
    uint8_t *dig = (uint8_t *)(d + cap);
    for (unsigned s = q->first; s <= last && r->n_digests < cap; s++) {
        if (!oks_cluster_receives(c, s, (size_t)sh->self))
            continue;
        Oks__SlotDigest *x = &d[r->n_digests];
        oks__slot_digest__init(x);
        x->slot = s;
        if (!oks_store_slot_digest(sh->store, s, dig + 16 * r->n_digests, &x->keys)) {
            read_error(sh, r, OKS__STATUS__STATUS_INTERNAL, "slot digests",
                       "this store keeps none (damaged slot counters)");
            break;
        }
        x->digest = (ProtobufCBinaryData){16, dig + 16 * r->n_digests};
        r->digests[r->n_digests++] = x;
    }
    if (!r->n_digests)
        free(d);
}

static void slot_hashes(oks_shard *sh, const Oks__SlotHashes *q, Oks__Response *r)
{
    oks_err e;
    if (q->slot >= sh->conf->n_slots || !oks_shard_takes_slot(sh, q->slot)) {
        read_error(sh, r, OKS__STATUS__STATUS_WRONG_SHARD, "slot hashes",
                   "the shard does not hold that slot");
        return;
    }
    if (q->after.len && q->after.len != 20) {
        read_error(sh, r, OKS__STATUS__STATUS_BAD_REQUEST, "slot hashes",
                   "after must be a slot and an SKS hash (20 bytes)");
        return;
    }
    unsigned last = q->last_slot < q->slot ? q->slot : q->last_slot;
    if (last >= sh->conf->n_slots)
        last = sh->conf->n_slots - 1;
    size_t lim = q->limit ? q->limit : PAGE_DEFAULT;
    if (lim > OKS_PROTO_MAX_ITEMS)
        lim = OKS_PROTO_MAX_ITEMS;
    hash_page h = {r, oks_xmalloc(20 * lim), lim};
    r->hashes = oks_xmalloc(lim * sizeof *r->hashes);
    if (!h.data || !r->hashes) {
        free(h.data);
        read_error(sh, r, OKS__STATUS__STATUS_INTERNAL, "slot hashes", "out of memory");
        return;
    }
    if (oks_store_slot_hashes(sh->store, q->slot, last, q->after.len ? q->after.data : NULL, lim,
                              push_hash, &h, &e) ||
        (!q->after.len &&
         oks_store_slot_tombs(sh->store, q->slot, last, SLOT_TOMBS_MAX, push_tomb, r, &e)))
        read_error(sh, r, OKS__STATUS__STATUS_INTERNAL, "slot hashes", e.msg);
    if (!r->n_hashes)
        free(h.data);
    r->truncated = r->n_hashes == lim;
}

void oks_shard_handle_slots(oks_shard *sh, const Oks__Request *req, Oks__Response *r)
{
    oks_err e;
    switch (req->op_case) {
    case OKS__REQUEST__OP_TOMBSTONES: {
        const Oks__ListTombstones *q = req->tombstones;
        size_t lim = q->limit ? q->limit : PAGE_DEFAULT;
        if (lim > OKS_PROTO_MAX_ITEMS)
            lim = OKS_PROTO_MAX_ITEMS;
        if (oks_store_tombs(sh->store, q->after.data, q->after.len, q->lifted, lim, push_tomb, r,
                            &e))
            read_error(sh, r, OKS__STATUS__STATUS_INTERNAL, "tombstone list", e.msg);
        break;
    }
    case OKS__REQUEST__OP_DIGESTS:
        slot_digests(sh, req->digests, r);
        break;
    case OKS__REQUEST__OP_SLOT_HASHES:
        slot_hashes(sh, req->slot_hashes, r);
        break;
    default:
        break;
    }
}

void oks_shard_release_slots(Oks__Response *r)
{
    for (size_t i = 0; i < r->n_tombstones; i++)
        free(r->tombstones[i]);
    free(r->tombstones);
    if (r->n_digests)
        free(r->digests[0]); /* one block: every digest and its bytes */
    free(r->digests);
    if (r->n_hashes)
        free(r->hashes[0].data);
    free(r->hashes);
    r->tombstones = NULL;
    r->digests = NULL;
    r->hashes = NULL;
    r->n_tombstones = r->n_digests = r->n_hashes = 0;
}

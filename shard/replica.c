/* Anti-entropy: following the replica peers' change logs (see replica.h). */
#include "shard/replica_int.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/reclaim.h"
#include "lib/xalloc.h"
#include "shard/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One call, in slices so a stopping shard is not held up. The reply is the caller's. */
int oks_replica_call(follower *f, oks_client *c, const Oks__Request *q, Oks__Response **resp,
                int timeout_ms, oks_err *e)
{
    static _Atomic uint64_t ids;
    uint64_t id = ++ids, got;
    *resp = NULL;
    int r = oks_client_send(c, id, q, e);
    uint64_t until = oks_now_ms() + (uint64_t)timeout_ms;
    while (r == 0 && !atomic_load(&f->sh->rstop)) {
        if (oks_now_ms() >= until)
            return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "no answer in %d ms", timeout_ms);
        r = oks_client_recv(c, &got, resp, 200, e);
        if (r == OKS_E_TIMEOUT) {
            r = 0;
            continue;
        }
        if (r == 0 && got == id)
            return 0;
        if (r == 0) {
            oks__response__free_unpacked(*resp, NULL);
            *resp = NULL;
        }
    }
    return r ? r : oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "shard stopping");
}

/* Whether this shard should copy a change of the peer: a new hash, in a slot it holds, that it
 * does not store under that hash. */
static bool wanted(oks_shard *sh, const Oks__Change *c)
{
    uint8_t kid[8], fpr[32];
    size_t fl;
    oks_err e;
    if (c->new_hash.len != 16 ||
        oks_keyid_of_fpr(c->fingerprint.data, c->fingerprint.len, kid) != 0 ||
        !oks_shard_owns_keyid(sh, kid))
        return false;
    /* a read error copies the key anyway: adding what is stored changes nothing */
    if (oks_store_by_hash(sh->store, c->new_hash.data, fpr, &fl, &e) == 1)
        return false;
    oks_tomb t; /* a deleted key is not fetched: its add would be refused */
    return oks_store_tomb_get(sh->store, c->fingerprint.data, c->fingerprint.len, &t, &e) != 1 ||
           t.lifted;
}

int oks_replica_take_tomb(oks_shard *sh, const Oks__Tombstone *m, oks_err *e)
{
    uint8_t kid[8];
    oks_tomb t;
    if (oks_keyid_of_fpr(m->fingerprint.data, m->fingerprint.len, kid) != 0 ||
        !oks_shard_owns_keyid(sh, kid))
        return 0;
    if (oks_tomb_init(&t, m->fingerprint.data, m->fingerprint.len, m->lifted, m->stamp_ms,
                      m->reason, strlen(m->reason), m->who, e))
        return 0;
    bool changed, had_key;
    int r = oks_shard_tomb_apply(sh, &t, &changed, &had_key, e);
    if (r == 0 && changed)
        oks_info("replica: tombstone of a key %s (%s, by %s)%s", t.lifted ? "lifted" : "deleted",
                 t.reason, t.who, had_key ? ": stored copy removed" : "");
    return r;
}

/* Copies the keys of n hashes from peer p into this shard. */
void oks_replica_add_of(const Oks__Response *got, Oks__Request *a, Oks__Add *add)
{
    ProtobufCBinaryData *keys = oks_xmalloc(got->n_keys * sizeof *keys);
    for (size_t i = 0; i < got->n_keys; i++)
        keys[i] = got->keys[i]->data;
    a->op_case = OKS__REQUEST__OP_ADD;
    a->add = add;
    a->deadline_ms = SELF_TIMEOUT_MS;
    add->keys = keys;
    add->n_keys = got->n_keys;
    add->origin = OKS__ORIGIN__ORIGIN_REPLICA;
}

int oks_replica_copy(follower *f, peer *p, ProtobufCBinaryData *hashes, size_t n, oks_err *e)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    q.op_case = OKS__REQUEST__OP_GET_HASH;
    q.get_hash = &gh;
    gh.hashes = hashes;
    gh.n_hashes = n;
    Oks__Response *r;
    int rc = oks_replica_call(f, p->client, &q, &r, PEER_TIMEOUT_MS, e);
    if (rc)
        return rc;
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_NOT_FOUND) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "get by hash: %s",
                         r->error ? r->error : "");
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    if (r->n_keys) {
        Oks__Request a = OKS__REQUEST__INIT;
        Oks__Add add = OKS__ADD__INIT;
        oks_replica_add_of(r, &a, &add);
        Oks__Response *ar;
        rc = oks_replica_call(f, f->self, &a, &ar, SELF_TIMEOUT_MS, e);
        if (rc == 0 && ar->status != OKS__STATUS__STATUS_OK)
            rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "own add: %s",
                             ar->error ? ar->error : "");
        if (ar)
            oks__response__free_unpacked(ar, NULL);
        free(add.keys);
    }
    oks__response__free_unpacked(r, NULL);
    return rc;
}

/* Reads one page of peer p's log and copies what is missing. Returns the entries read (0 when
 * the log had nothing new), or a negative error. */
static long follow_page(follower *f, peer *p, oks_err *e)
{
    oks_shard *sh = f->sh;
    const oks_shard_conf *pc = &sh->conf->shards[p->idx];
    if (!p->client &&
        !(p->client = oks_client_new(sh->zctx, pc->endpoint, sh->conf->max_message_bytes, e)))
        return -1;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__ChangeLog cl = OKS__CHANGE_LOG__INIT;
    q.op_case = OKS__REQUEST__OP_CHANGES;
    q.changes = &cl;
    cl.shard = (char *)pc->name;
    cl.after_seq = p->cursor;
    cl.limit = OKS_REPLICA_PAGE;
    Oks__Response *r;
    int rc = oks_replica_call(f, p->client, &q, &r, PEER_TIMEOUT_MS, e);
    if (rc)
        return rc;
    if (r->status != OKS__STATUS__STATUS_OK) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "change log: %s",
                         r->error ? r->error : "");
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    if (r->first_seq > p->cursor + 1) {
        /* the entries after the cursor are pruned from the peer's log: compare everything,
         * then follow from where its log was before the comparison */
        uint64_t resume = r->last_seq, first = r->first_seq;
        oks__response__free_unpacked(r, NULL);
        oks_info("replica: the change log of %s starts at %llu, after our cursor %llu: full "
                 "comparison", pc->name, (unsigned long long)first,
                 (unsigned long long)p->cursor);
        rc = oks_replica_repair(f, p, e);
        if (rc)
            return rc;
        oks_err e2;
        if (oks_store_cursor_put(sh->store, p->cursor_name, resume, &e2) == 0)
            p->cursor = resume;
        return 1;
    }
    ProtobufCBinaryData *want = oks_xmalloc(p->batch * sizeof *want);
    size_t nw = 0;
    uint64_t last = p->cursor;
    for (size_t i = 0; i < r->n_changes && rc == 0; i++) {
        const Oks__Change *c = r->changes[i];
        if (c->tombstone && (rc = oks_replica_take_tomb(sh, c->tombstone, e)) != 0)
            break; /* the cursor stays before it */
        if (wanted(sh, c))
            want[nw++] = c->new_hash;
        if (nw < p->batch && i + 1 < r->n_changes)
            continue;
        if (nw && (rc = oks_replica_copy(f, p, want, nw, e)) != 0 && p->batch > 1)
            p->batch /= 2;
        nw = 0;
        if (rc == 0 && c->seq > last)
            last = c->seq; /* the log is in sequence order: everything up to here is copied */
    }
    long n = (long)r->n_changes;
    oks_shard_metrics_replica(p->idx, r->last_seq, last);
    free(want);
    oks__response__free_unpacked(r, NULL);
    if (last > p->cursor) {
        /* what was copied stays copied; a cursor that could not be stored is read again */
        oks_err e2;
        if (oks_store_cursor_put(sh->store, p->cursor_name, last, &e2) == 0)
            p->cursor = last;
        else
            oks_warn("replica: cursor of %s: %s", pc->name, e2.msg);
    }
    return rc ? rc : n;
}

/* A full comparison with p when one is due (asked for, periodic, or the first after the store
 * was found empty: then the cursor moves to where p's log was before it). 1 done, 0 not due,
 * or an error. */
static long repair_step(follower *f, peer *p, uint64_t now, oks_err *e)
{
    oks_shard *sh = f->sh;
    unsigned every = sh->conf->shard_repair_interval_s;
    if (!p->repair && !(p->repair_ms && now >= p->repair_ms))
        return 0;
    uint64_t last = 0;
    int rc = p->initial ? oks_replica_peer_last(f, p, &last, e) : 0;
    if (rc == 0)
        rc = oks_replica_repair(f, p, e);
    if (rc)
        return rc;
    oks_err e2;
    if (p->initial && last > p->cursor &&
        oks_store_cursor_put(sh->store, p->cursor_name, last, &e2) == 0) {
        oks_info("replica: following %s from change %llu after the comparison",
                 sh->conf->shards[p->idx].name, (unsigned long long)last);
        p->cursor = last;
    }
    if (p->initial)
        atomic_fetch_sub(&sh->rebuilding, 1);
    p->initial = p->repair = false;
    p->repair_ms = every ? oks_now_ms() + 1000ull * every : 0;
    return 1;
}

/* rd: the thread's reader of the shard's maps (lib/reclaim.h); it holds none between rounds */
static void follow_loop(follower *f, oks_reclaim_reader *rd)
{
    unsigned gen = atomic_load(&f->sh->map_gen);
    /* a new map may bring new peers: the caller starts over with them */
    while (!atomic_load(&f->sh->rstop) && atomic_load(&f->sh->map_gen) == gen) {
        oks_reclaim_quiescent(rd);
        long busy = 0;
        uint64_t now = oks_now_ms();
        if (atomic_exchange(&f->sh->repair_now, 0))
            for (size_t i = 0; i < f->n_peers; i++)
                f->peers[i].repair = true;
        for (size_t i = 0; i < f->n_peers && !atomic_load(&f->sh->rstop); i++) {
            peer *p = &f->peers[i];
            if (now < p->retry_ms)
                continue;
            oks_err e = {0};
            long n = repair_step(f, p, now, &e);
            if (n >= 0)
                n = follow_page(f, p, &e);
            if (n < 0) {
                oks_debug("replica: following %s: %s", f->sh->conf->shards[p->idx].name, e.msg);
                oks_shard_metrics_replica_failed(p->idx);
                oks_client_free(p->client); /* drops whatever is queued for it */
                p->client = NULL;
                p->retry_ms = oks_now_ms() + PEER_BACKOFF_MS;
            } else {
                busy += n;
            }
        }
        for (int t = 0; !busy && t < OKS_REPLICA_IDLE_MS / 50 && !atomic_load(&f->sh->rstop); t++)
            usleep(50 * 1000);
    }
}

/* Whether shards a and b both take the writes of some slot (holding it, or joining it). */
static bool peers(const oks_cluster *c, size_t a, size_t b)
{
    for (unsigned s = 0; s < c->n_slots; s++)
        if (oks_cluster_receives(c, s, a) && oks_cluster_receives(c, s, b))
            return true;
    return false;
}

/* Follows the peers of the map in force until the shard stops or the map changes. */
static void follow_map(oks_shard *sh, oks_reclaim_reader *rd)
{
    const oks_cluster *c = sh->conf;
    follower f = {.sh = sh};
    int initial = 0;
    f.peers = oks_xcalloc(c->n_shards, sizeof *f.peers);
    for (size_t i = 0; i < c->n_shards; i++) {
        if ((int)i == sh->self || !peers(c, (size_t)sh->self, i))
            continue;
        peer *p = &f.peers[f.n_peers];
        oks_err e;
        p->idx = i;
        p->batch = OKS_REPLICA_BATCH;
        snprintf(p->cursor_name, sizeof p->cursor_name, "replica.%s", c->shards[i].name);
        if (oks_store_cursor_get(sh->store, p->cursor_name, &p->cursor, &e)) {
            oks_error("replica: cursor of %s: %s; not following it", c->shards[i].name, e.msg);
            continue;
        }
        oks_info("replica: following %s from change %llu", c->shards[i].name,
                 (unsigned long long)p->cursor);
        /* an empty store (new, or its directory wiped) compares everything first: the peers'
         * logs may not go back far enough (changelog_keep) */
        p->initial = p->repair = oks_store_was_empty(sh->store) && p->cursor == 0;
        initial += p->initial;
        if (c->shard_repair_interval_s)
            p->repair_ms = oks_now_ms() + 1000ull * c->shard_repair_interval_s;
        f.n_peers++;
    }
    oks_err e;
    atomic_store(&sh->rebuilding, initial);
    if (f.n_peers && !(f.self = oks_client_new(sh->zctx, sh->self_ep, c->max_message_bytes, &e))) {
        oks_error("replica: %s; not following the replica peers", e.msg);
        atomic_store(&sh->rebuilding, 0); /* nothing will come: what is stored is all there is */
    } else if (f.n_peers) {
        follow_loop(&f, rd); /* c is not used from there on */
    }
    for (size_t i = 0; i < f.n_peers; i++)
        oks_client_free(f.peers[i].client);
    oks_client_free(f.self);
    free(f.peers);
}

void *oks_shard_replica_main(void *arg)
{
    oks_shard *sh = arg;
    oks_reclaim_reader *rd = oks_reclaim_reader_new(sh->gc);
    while (!atomic_load(&sh->rstop)) {
        unsigned gen = atomic_load(&sh->map_gen);
        follow_map(sh, rd);
        /* no peer (or no client): wait for a map that brings one */
        while (!atomic_load(&sh->rstop) && atomic_load(&sh->map_gen) == gen) {
            oks_reclaim_quiescent(rd);
            usleep(50 * 1000);
        }
        oks_reclaim_quiescent(rd);
    }
    oks_reclaim_reader_free(rd);
    return NULL;
}

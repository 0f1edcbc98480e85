/* Anti-entropy: following the replica peers' change logs (see replica.h). */
#include "shard/replica.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "shard/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Per peer call, and for the own Add (which verifies signatures), ms. */
#define PEER_TIMEOUT_MS 5000
#define SELF_TIMEOUT_MS 60000
/* Pause before asking a peer again after it failed, ms. */
#define PEER_BACKOFF_MS 1000

typedef struct peer {
    size_t idx;          /* in conf->shards */
    oks_client *client;  /* NULL until connected, and again after a failure */
    uint64_t cursor;     /* last sequence of its log copied */
    uint64_t retry_ms;   /* not asked before this time */
    size_t batch;        /* hashes per GetByHash: halved after a failed copy (a reply too large
                          * for [cluster] max_message_bytes drops the connection) */
    char cursor_name[80];
} peer;

typedef struct follower {
    oks_shard *sh;
    oks_client *self;
    peer *peers;
    size_t n_peers;
} follower;

/* One call, in slices so a stopping shard is not held up. The reply is the caller's. */
static int call(follower *f, oks_client *c, const Oks__Request *q, Oks__Response **resp,
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
    return oks_store_by_hash(sh->store, c->new_hash.data, fpr, &fl, &e) != 1;
}

/* Copies the keys of n hashes from peer p into this shard. */
static int copy_keys(follower *f, peer *p, ProtobufCBinaryData *hashes, size_t n, oks_err *e)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    q.op_case = OKS__REQUEST__OP_GET_HASH;
    q.get_hash = &gh;
    gh.hashes = hashes;
    gh.n_hashes = n;
    Oks__Response *r;
    int rc = call(f, p->client, &q, &r, PEER_TIMEOUT_MS, e);
    if (rc)
        return rc;
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_NOT_FOUND) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "get by hash: %s",
                         r->error ? r->error : "");
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    if (r->n_keys) {
        ProtobufCBinaryData *keys = oks_xmalloc(r->n_keys * sizeof *keys);
        for (size_t i = 0; i < r->n_keys; i++)
            keys[i] = r->keys[i]->data;
        Oks__Request a = OKS__REQUEST__INIT;
        Oks__Add add = OKS__ADD__INIT;
        a.op_case = OKS__REQUEST__OP_ADD;
        a.add = &add;
        a.deadline_ms = SELF_TIMEOUT_MS;
        add.keys = keys;
        add.n_keys = r->n_keys;
        add.origin = OKS__ORIGIN__ORIGIN_REPLICA;
        Oks__Response *ar;
        rc = call(f, f->self, &a, &ar, SELF_TIMEOUT_MS, e);
        if (rc == 0 && ar->status != OKS__STATUS__STATUS_OK)
            rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "own add: %s",
                             ar->error ? ar->error : "");
        if (ar)
            oks__response__free_unpacked(ar, NULL);
        free(keys);
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
    int rc = call(f, p->client, &q, &r, PEER_TIMEOUT_MS, e);
    if (rc)
        return rc;
    if (r->status != OKS__STATUS__STATUS_OK) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "change log: %s",
                         r->error ? r->error : "");
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    ProtobufCBinaryData *want = oks_xmalloc(p->batch * sizeof *want);
    size_t nw = 0;
    uint64_t last = p->cursor;
    for (size_t i = 0; i < r->n_changes && rc == 0; i++) {
        const Oks__Change *c = r->changes[i];
        if (wanted(sh, c))
            want[nw++] = c->new_hash;
        if (nw < p->batch && i + 1 < r->n_changes)
            continue;
        if (nw && (rc = copy_keys(f, p, want, nw, e)) != 0 && p->batch > 1)
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

static void follow_loop(follower *f)
{
    while (!atomic_load(&f->sh->rstop)) {
        long busy = 0;
        uint64_t now = oks_now_ms();
        for (size_t i = 0; i < f->n_peers && !atomic_load(&f->sh->rstop); i++) {
            peer *p = &f->peers[i];
            if (now < p->retry_ms)
                continue;
            oks_err e = {0};
            long n = follow_page(f, p, &e);
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

void *oks_shard_replica_main(void *arg)
{
    oks_shard *sh = arg;
    const oks_cluster *c = sh->conf;
    follower f = {.sh = sh};
    f.peers = oks_xcalloc(c->n_shards, sizeof *f.peers);
    for (size_t i = 0; i < c->n_shards; i++) {
        if ((int)i == sh->self || !oks_cluster_share_slots(c, (size_t)sh->self, i))
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
        f.n_peers++;
    }
    oks_err e;
    if (f.n_peers && !(f.self = oks_client_new(sh->zctx, sh->self_ep, c->max_message_bytes, &e)))
        oks_error("replica: %s; not following the replica peers", e.msg);
    else if (f.n_peers)
        follow_loop(&f);
    for (size_t i = 0; i < f.n_peers; i++)
        oks_client_free(f.peers[i].client);
    oks_client_free(f.self);
    free(f.peers);
    return NULL;
}

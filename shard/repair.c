/* Full comparison with a replica peer by slot digests (see replica_int.h, docs/replicas.md
 * "Repair"): SlotDigests pages of the peer against this shard's own digests; for each slot that
 * differs, SlotHashes pages of the peer (its tombstones come with the first page); the hashes
 * this shard does not store are copied in batches (GetByHash there, Add here), the tombstones
 * stored when they win. Only pulls: the peer pulls what it lacks in its own comparison, so both
 * end with the union. The work per request is bounded by the page sizes. */
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "shard/replica_int.h"

#include <stdlib.h>
#include <string.h>

/* Hashes per SlotHashes page, hashes copied per GetByHash/Add during a repair (each Add is one
 * write, synced but during a rebuild: large batches keep the syncs few; an answer cut by the
 * peer's read budget halves it), own Adds in flight (each is prepared by one verifier thread:
 * two keep two of them busy), and GetByHash requests in flight (sent on a connection of their
 * own while the lists go on and earlier answers are written). Memory: at most REPAIR_FETCHES +
 * REPAIR_ADDS answers of at most REPAIR_BATCH keys each (each no larger than the peer's read
 * budget and the message limit). */
#define REPAIR_PAGE 1000
#define REPAIR_BATCH 1024
#define REPAIR_ADDS 2
#define REPAIR_FETCHES 2
/* Passes over the differing slots per repair: keys cut from a GetByHash answer by its read
 * budget, or stored meanwhile, are compared again. */
#define REPAIR_PASSES 3
/* A paced comparison ([shard] background_rate) asks for at most this many keys at a time, with
 * one GetByHash and one own Add in flight: each write the shard makes for it is short. */
#define REPAIR_PACED_BATCH 128

typedef struct repair {
    follower *f;
    peer *p;
    ProtobufCBinaryData *want;
    uint8_t (*buf)[16];
    size_t nw, cap;
    uint64_t adds[REPAIR_ADDS]; /* ids of the own Adds in flight */
    size_t n_adds;
    oks_client *fc;                /* GetByHash to the peer (owned) */
    uint64_t fetches[REPAIR_FETCHES]; /* ids of the GetByHash requests in flight */
    size_t n_fetches;
    size_t max_adds, max_fetches; /* in flight at most */
    oks_pace pace;                /* keys asked for per second at most (rate 0: no limit) */
    size_t slots, differ, copied, tombs;
    uint64_t ms_list, ms_fetch, ms_add; /* waiting for SlotDigests/SlotHashes, GetByHash, own Adds */
    uint64_t ms_pace;                   /* paused for the rate */
} repair;

static int ask(repair *x, Oks__Request *q, Oks__Response **r, oks_err *e)
{
    int rc = oks_replica_call(x->f, x->p->client, q, r, PEER_TIMEOUT_MS, e);
    if (rc == 0 && (*r)->status != OKS__STATUS__STATUS_OK &&
        (*r)->status != OKS__STATUS__STATUS_NOT_FOUND) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "%s", (*r)->error);
        oks__response__free_unpacked(*r, NULL);
        *r = NULL;
    }
    return rc;
}

/* Waits for the answer to one own Add in flight. */
static int add_wait_(repair *x, oks_err *e);

static int add_wait(repair *x, oks_err *e)
{
    uint64_t t0 = oks_now_ms();
    int rc = add_wait_(x, e);
    x->ms_add += oks_now_ms() - t0;
    return rc;
}

static int add_wait_(repair *x, oks_err *e)
{
    uint64_t until = oks_now_ms() + SELF_TIMEOUT_MS;
    while (!atomic_load(&x->f->sh->rstop)) {
        if (oks_now_ms() >= until)
            return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "own add: no answer");
        uint64_t id;
        Oks__Response *r;
        int rc = oks_client_recv(x->f->self, &id, &r, 200, e);
        if (rc == OKS_E_TIMEOUT)
            continue;
        if (rc)
            return rc;
        size_t k = 0;
        while (k < x->n_adds && x->adds[k] != id)
            k++;
        if (k == x->n_adds) {
            oks__response__free_unpacked(r, NULL);
            continue;
        }
        x->adds[k] = x->adds[--x->n_adds];
        if (r->status != OKS__STATUS__STATUS_OK)
            rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "own add: %s", r->error);
        for (size_t i = 0; i < r->n_results; i++)
            x->copied += r->results[i]->outcome != OKS__OUTCOME__OUTCOME_REJECTED;
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "shard stopping");
}

static int adds_drain(repair *x, oks_err *e)
{
    int rc = 0;
    while (x->n_adds) {
        int r = add_wait(x, e);
        if (r) {
            rc = r;
            if (r == OKS_E_TIMEOUT)
                break;
        }
    }
    x->n_adds = 0;
    return rc;
}

/* Hands a GetByHash answer (freed here) to an own Add without waiting for it. */
static int add_send(repair *x, Oks__Response *r, oks_err *e)
{
    int rc = 0;
    if (r->truncated && x->cap > 16)
        x->cap /= 2; /* the rest is fetched in the next pass */
    if (!r->n_keys || (x->n_adds == x->max_adds && (rc = add_wait(x, e)) != 0)) {
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    static _Atomic uint64_t ids = 1ull << 62; /* apart from oks_replica_call's */
    Oks__Request a = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    oks_replica_add_of(r, &a, &add);
    uint64_t id = ++ids;
    rc = oks_client_send(x->f->self, id, &a, e); /* packed: the reply may go */
    if (rc == 0)
        x->adds[x->n_adds++] = id;
    free(add.keys);
    oks__response__free_unpacked(r, NULL);
    return rc;
}

/* Waits for the answer to one GetByHash in flight and hands it to an own Add. */
static int fetch_wait(repair *x, oks_err *e)
{
    uint64_t t0 = oks_now_ms(), until = t0 + PEER_TIMEOUT_MS;
    Oks__Response *r = NULL;
    int rc = 0;
    while (!r && rc == 0) {
        /* both are OKS_E_TIMEOUT, like an empty 200 ms wait below: they end the loop here */
        if (atomic_load(&x->f->sh->rstop)) {
            rc = oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "shard stopping");
            break;
        }
        if (oks_now_ms() >= until) {
            rc = oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "get by hash: no answer in %d ms",
                             PEER_TIMEOUT_MS);
            break;
        }
        uint64_t id;
        rc = oks_client_recv(x->fc, &id, &r, 200, e);
        if (rc == OKS_E_TIMEOUT) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        size_t k = 0;
        while (k < x->n_fetches && x->fetches[k] != id)
            k++;
        if (k == x->n_fetches) { /* a second answer to a request sent again on reconnection */
            oks__response__free_unpacked(r, NULL);
            r = NULL;
            continue;
        }
        x->fetches[k] = x->fetches[--x->n_fetches];
    }
    x->ms_fetch += oks_now_ms() - t0;
    if (rc)
        return rc;
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_NOT_FOUND) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "get by hash: %s", r->error);
        oks__response__free_unpacked(r, NULL);
        return rc;
    }
    return add_send(x, r, e);
}

static int fetches_drain(repair *x, oks_err *e)
{
    int rc = 0;
    while (x->n_fetches && rc == 0)
        rc = fetch_wait(x, e);
    x->n_fetches = 0; /* after an error: late answers are dropped by id */
    return rc;
}

/* Asks the peer for the wanted keys without waiting for them (but for the oldest answers when
 * max_fetches are out). */
static int flush(repair *x, oks_err *e)
{
    if (!x->nw)
        return 0;
    int rc = 0;
    if (x->n_fetches == x->max_fetches && (rc = fetch_wait(x, e)) != 0)
        return rc;
    x->ms_pace += oks_shard_pace(x->f->sh, &x->pace, x->nw);
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    q.op_case = OKS__REQUEST__OP_GET_HASH;
    q.get_hash = &gh;
    gh.hashes = x->want;
    gh.n_hashes = x->nw;
    x->nw = 0;
    static _Atomic uint64_t ids = 1ull << 61; /* apart from the own Adds' */
    uint64_t id = ++ids;
    rc = oks_client_send(x->fc, id, &q, e); /* packed: the wanted list may be refilled */
    if (rc == 0)
        x->fetches[x->n_fetches++] = id;
    return rc;
}

/* Pulls what this shard lacks of slots first..last (a run of slots that differ). */
static int repair_run(repair *x, unsigned first, unsigned last, oks_err *e)
{
    oks_shard *sh = x->f->sh;
    const char *name = sh->conf->shards[x->p->idx].name;
    uint8_t after[20];
    bool start = true;
    for (;;) {
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__SlotHashes h = OKS__SLOT_HASHES__INIT;
        q.op_case = OKS__REQUEST__OP_SLOT_HASHES;
        q.slot_hashes = &h;
        h.shard = (char *)name;
        h.slot = first;
        h.last_slot = last;
        h.limit = REPAIR_PAGE;
        if (!start)
            h.after = (ProtobufCBinaryData){20, after};
        Oks__Response *r;
        uint64_t t0 = oks_now_ms();
        int rc = ask(x, &q, &r, e);
        x->ms_list += oks_now_ms() - t0;
        if (rc)
            return rc;
        for (size_t i = 0; i < r->n_tombstones && rc == 0; i++) {
            rc = oks_replica_take_tomb(sh, r->tombstones[i], e);
            x->tombs++;
        }
        for (size_t i = 0; i < r->n_hashes && rc == 0; i++) {
            uint8_t fpr[32];
            size_t fl;
            oks_err le;
            if (r->hashes[i].len != 20 ||
                oks_store_by_hash(sh->store, r->hashes[i].data + 4, fpr, &fl, &le) == 1)
                continue;
            memcpy(x->buf[x->nw], r->hashes[i].data + 4, 16);
            x->want[x->nw] = (ProtobufCBinaryData){16, x->buf[x->nw]};
            if (++x->nw == x->cap)
                rc = flush(x, e);
        }
        bool more = r->n_hashes == REPAIR_PAGE && r->hashes[r->n_hashes - 1].len == 20;
        if (more)
            memcpy(after, r->hashes[r->n_hashes - 1].data, 20);
        oks__response__free_unpacked(r, NULL);
        if (rc || !more)
            return rc;
        start = false;
    }
}

/* One pass: the digests of every slot both hold, page by page; the runs of differing slots
 * pulled. */
static int repair_pass(repair *x, oks_err *e)
{
    oks_shard *sh = x->f->sh;
    const oks_cluster *c = sh->conf;
    unsigned next = 0;
    long run = -1, prev = -2; /* the run of differing slots being collected */
    int rc = 0;
    x->slots = x->differ = 0;
    while (rc == 0 && next < c->n_slots && !atomic_load(&sh->rstop)) {
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__SlotDigests d = OKS__SLOT_DIGESTS__INIT;
        q.op_case = OKS__REQUEST__OP_DIGESTS;
        q.digests = &d;
        d.shard = (char *)c->shards[x->p->idx].name;
        d.first = next;
        d.last = c->n_slots - 1;
        Oks__Response *r;
        uint64_t t0 = oks_now_ms();
        rc = ask(x, &q, &r, e);
        x->ms_list += oks_now_ms() - t0;
        if (rc)
            break;
        next = c->n_slots;
        for (size_t i = 0; i < r->n_digests && rc == 0; i++) {
            const Oks__SlotDigest *g = r->digests[i];
            uint8_t mine[16];
            uint64_t keys;
            if (i + 1 == r->n_digests && r->n_digests == OKS_PROTO_MAX_ITEMS)
                next = g->slot + 1; /* a full page: ask again after it */
            if (g->slot >= c->n_slots || g->digest.len != 16 ||
                !oks_cluster_receives(c, g->slot, (size_t)sh->self))
                continue;
            x->slots++;
            if (!oks_store_slot_digest(sh->store, g->slot, mine, &keys)) {
                rc = oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET, "this store keeps no digests");
                break;
            }
            if (memcmp(mine, g->digest.data, 16) == 0)
                continue;
            x->differ++;
            if ((long)g->slot != prev + 1 && run >= 0)
                rc = repair_run(x, (unsigned)run, (unsigned)prev, e);
            if ((long)g->slot != prev + 1)
                run = g->slot;
            prev = g->slot;
        }
        oks__response__free_unpacked(r, NULL);
    }
    if (rc == 0 && run >= 0)
        rc = repair_run(x, (unsigned)run, (unsigned)prev, e);
    if (rc == 0)
        rc = flush(x, e);
    int r2 = fetches_drain(x, e);
    int r3 = adds_drain(x, e);
    return rc ? rc : r2 ? r2 : r3;
}

/* Whether this shard is joining a slot (the new replica of a slot move). */
static bool joining(const oks_shard *sh)
{
    const oks_cluster *c = sh->conf;
    for (unsigned s = 0; s < c->n_slots; s++)
        if (c->slot_joining[s] == (size_t)sh->self)
            return true;
    return false;
}

int oks_replica_repair(follower *f, peer *p, oks_err *e)
{
    oks_shard *sh = f->sh;
    const oks_shard_conf *pc = &sh->conf->shards[p->idx];
    if (!p->client &&
        !(p->client = oks_client_new(sh->zctx, pc->endpoint, sh->conf->max_message_bytes, e)))
        return OKS_E_UNAVAILABLE;
    /* The first comparison of a wiped replica goes as fast as it can (the shard answers no
     * lookup that finds nothing meanwhile, so nothing waits on it but the rebuild), its own
     * writes unsynced but for one at the end. Any other (a live replica's, or the new replica's
     * of a slot move, whose peers serve the slots meanwhile) is paced by [shard]
     * background_rate. */
    bool fast = p->initial && !joining(sh);
    unsigned rate = fast ? 0 : sh->conf->shard_background_rate;
    repair x = {.f = f,
                .p = p,
                .cap = rate ? REPAIR_PACED_BATCH : REPAIR_BATCH,
                .max_adds = rate ? 1 : REPAIR_ADDS,
                .max_fetches = rate ? 1 : REPAIR_FETCHES,
                .pace = {rate, 0}};
    if (!(x.fc = oks_client_new(sh->zctx, pc->endpoint, sh->conf->max_message_bytes, e)))
        return OKS_E_UNAVAILABLE;
    if (fast)
        atomic_store(&sh->bulk, 1);
    x.want = oks_xmalloc(x.cap * sizeof *x.want);
    x.buf = oks_xmalloc(x.cap * sizeof *x.buf);
    uint64_t t0 = oks_now_ms();
    size_t copied = 0, tombs = 0, differed = 0;
    int rc = 0;
    for (int pass = 0; pass < REPAIR_PASSES && rc == 0; pass++) {
        x.copied = x.tombs = 0;
        rc = repair_pass(&x, e);
        copied += x.copied;
        tombs += x.tombs;
        if (pass == 0)
            differed = x.differ;
        if (x.differ == 0 || (x.copied == 0 && x.tombs == 0))
            break;
    }
    free(x.want);
    free(x.buf);
    oks_client_free(x.fc);
    if (fast) {
        atomic_store(&sh->bulk, 0);
        oks_err se;
        int r2 = oks_store_sync(sh->store, &se);
        if (r2 && rc == 0) {
            *e = se;
            rc = r2;
        }
    }
    if (rc == 0)
        oks_info("replica: repair with %s done: %zu slots compared, %zu differed, %zu keys "
                 "copied, %zu tombstones seen, %llu ms (waiting for lists %llu, keys %llu, own "
                 "adds %llu, paced %llu)%s", pc->name, x.slots, differed, copied, tombs,
                 (unsigned long long)(oks_now_ms() - t0), (unsigned long long)x.ms_list,
                 (unsigned long long)x.ms_fetch, (unsigned long long)x.ms_add,
                 (unsigned long long)x.ms_pace, fast ? ", rebuild" : "");
    else
        oks_warn("replica: repair with %s stopped: %s", pc->name, e->msg);
    return rc;
}

int oks_replica_peer_last(follower *f, peer *p, uint64_t *last, oks_err *e)
{
    oks_shard *sh = f->sh;
    const oks_shard_conf *pc = &sh->conf->shards[p->idx];
    if (!p->client &&
        !(p->client = oks_client_new(sh->zctx, pc->endpoint, sh->conf->max_message_bytes, e)))
        return OKS_E_UNAVAILABLE;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__ChangeLog cl = OKS__CHANGE_LOG__INIT;
    q.op_case = OKS__REQUEST__OP_CHANGES;
    q.changes = &cl;
    cl.shard = (char *)pc->name;
    cl.after_seq = UINT64_MAX - 1; /* nothing after it: only last_seq comes back */
    cl.limit = 1;
    Oks__Response *r;
    repair x = {.f = f, .p = p};
    int rc = ask(&x, &q, &r, e);
    if (rc == 0) {
        *last = r->last_seq;
        oks__response__free_unpacked(r, NULL);
    }
    return rc;
}

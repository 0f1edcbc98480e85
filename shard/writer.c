/* Shard writes: adds prepared on verifier threads are committed by the single writer thread in
 * synced group batches, and answered by it once on disk, so verifiers go on verifying while a
 * batch is written (and the next group commit collects everything prepared meanwhile). Deletes
 * do not go through the writer: the admin worker runs each one under the store's write lock,
 * which the writer holds for a whole batch (see shard.h, shard/tombs.c). */
#include "shard/ingest.h"
#include "lib/clock.h"
#include "lib/reclaim.h"
#include "lib/xalloc.h"
#include "shard/metrics.h"
#include "shard/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Batches handed to the writer without waiting, per verifier, before verifiers wait: bounds
 * the memory of prepared keys when the disk is slower than verification. */
#define OKS_SHARD_WRITER_QUEUE_PER_WORKER 4

static void enqueue(oks_shard *sh, oks_commit *c)
{
    if (sh->wtail)
        sh->wtail->next = c;
    else
        sh->whead = c;
    sh->wtail = c;
    pthread_cond_signal(&sh->wcond);
}

int oks_shard_commit_wait(oks_shard *sh, oks_ingest *jobs, size_t n)
{
    oks_commit c = {NULL, jobs, n, false, 0, NULL};
    pthread_mutex_lock(&sh->wlock);
    enqueue(sh, &c);
    while (!c.done)
        pthread_cond_wait(&sh->wdone, &sh->wlock);
    pthread_mutex_unlock(&sh->wlock);
    return c.status;
}

static void finish_add(oks_ingest *jobs, size_t n, int status, bool stored, Oks__Response *r);

/* Whether the group is written with a sync: always, but for a group made only of the
 * follower's copies while a wiped replica rebuilds (sh->bulk): they are on the peers, the
 * rebuild syncs once at its end, before its cursor moves and before the shard answers lookups
 * that find nothing. */
static bool group_sync(oks_shard *sh, const oks_commit *list)
{
    if (!atomic_load(&sh->bulk))
        return true;
    for (const oks_commit *c = list; c; c = c->next)
        if (!c->job || !c->job->local || c->job->req->op_case != OKS__REQUEST__OP_ADD ||
            c->job->req->add->origin != OKS__ORIGIN__ORIGIN_REPLICA)
            return true;
    return false;
}

/* Commits the given commits' jobs: one batch, flushed early when a fingerprint repeats (the
 * second write of a key must see the first). */
static void write_batches(oks_shard *sh, oks_commit *list, void *push)
{
    bool sync = group_sync(sh, list);
    size_t cap = 0, n = 0;
    for (oks_commit *c = list; c; c = c->next)
        cap += c->n;
    oks_store_change *ch = oks_xcalloc(cap ? cap : 1, sizeof *ch);
    oks_ingest **owner = oks_xcalloc(cap ? cap : 1, sizeof *owner);
    int status = 0;
    oks_store_write_lock(sh->store);
    uint64_t t0 = oks_now_us();
    for (oks_commit *c = list; c && ch && owner; c = c->next) {
        for (size_t i = 0; i < c->n; i++) {
            oks_ingest *j = &c->jobs[i];
            if (j->outcome == OKS_REJECTED || j->outcome == OKS_UNCHANGED || !j->key)
                continue;
            for (size_t k = 0; k < n; k++) {
                if (owner[k]->fpr_len == j->fpr_len && !memcmp(owner[k]->fpr, j->fpr, j->fpr_len)) {
                    oks_err e;
                    if (oks_store_apply(sh->store, ch, n, sync, &e)) {
                        status = e.code;
                        for (size_t m = 0; m < n; m++)
                            owner[m]->outcome = OKS_REJECTED;
                    }
                    n = 0;
                    break;
                }
            }
            oks_err e;
            int r = oks_ingest_commit(sh->store, &sh->lim, j, &ch[n], &e);
            if (r == 0)
                owner[n++] = j;
            else if (r < 0) {
                j->outcome = OKS_REJECTED;
                snprintf(j->reason, sizeof j->reason, "store: %.150s", e.msg);
            }
        }
    }
    if (n) {
        oks_err e;
        if (oks_store_apply(sh->store, ch, n, sync, &e)) {
            status = e.code;
            for (size_t m = 0; m < n; m++) {
                owner[m]->outcome = OKS_REJECTED;
                snprintf(owner[m]->reason, sizeof owner[m]->reason, "store: %.150s", e.msg);
            }
        }
    }
    oks_shard_metrics_commit(oks_now_us() - t0, cap);
    oks_store_write_unlock(sh->store);
    free(ch);
    free(owner);
    /* answer the batches whose verifiers did not wait (everything above is synced) */
    size_t answered = 0;
    oks_commit **link = &list;
    while (*link) {
        oks_commit *c = *link;
        if (!c->job) {
            link = &c->next;
            continue;
        }
        *link = c->next;
        Oks__Response r = OKS__RESPONSE__INIT;
        r.version = OKS_PROTO_VERSION;
        finish_add(c->jobs, c->n, status, c->job->req->add->return_stored, &r);
        oks_shard_reply(push, c->job, &r);
        oks_job_free(c->job);
        free(c);
        answered++;
    }
    pthread_mutex_lock(&sh->wlock);
    for (oks_commit *c = list, *next; c; c = next) {
        next = c->next;
        c->status = status;
        c->done = true;
    }
    sh->wqueued -= answered;
    pthread_cond_broadcast(&sh->wdone);
    pthread_mutex_unlock(&sh->wlock);
}

void *oks_shard_writer(void *arg)
{
    oks_shard *sh = arg;
    void *push = zmq_socket(sh->zctx, ZMQ_PUSH);
    oks_zsock_defaults(push, 0);
    zmq_connect(push, sh->reply_ep);
    oks_reclaim_reader *rd = oks_reclaim_reader_new(sh->gc); /* between batches: no map held */
    for (;;) {
        oks_reclaim_offline(rd);
        pthread_mutex_lock(&sh->wlock);
        while (!sh->whead && !sh->wstop)
            pthread_cond_wait(&sh->wcond, &sh->wlock);
        oks_commit *list = sh->whead;
        sh->whead = sh->wtail = NULL;
        bool stop = sh->wstop;
        pthread_mutex_unlock(&sh->wlock);
        oks_reclaim_online(rd);
        if (list)
            write_batches(sh, list, push);
        else if (stop)
            break;
    }
    oks_reclaim_reader_free(rd);
    zmq_close(push);
    return NULL;
}

/* One key's result; with stored (Add.return_stored), the key as stored when it was written. */
static void add_result(Oks__Response *r, size_t idx, const oks_ingest *j, bool stored)
{
    stored = stored && (j->outcome == OKS_NEW || j->outcome == OKS_UPDATED) && j->bytes.len;
    Oks__AddResult *a = oks_xcalloc(1, sizeof *a + 32 + 32 + (stored ? j->bytes.len : 0));
    oks__add_result__init(a);
    uint8_t *p = (uint8_t *)(a + 1);
    if (stored) { /* for the router to send on to the other replicas (docs/replicas.md) */
        memcpy(p + 64, j->bytes.data, j->bytes.len);
        a->stored_key = (ProtobufCBinaryData){j->bytes.len, p + 64};
    }
    a->index = (uint32_t)idx;
    a->outcome = (Oks__Outcome)j->outcome;
    a->reason = j->reason[0] ? oks_xstrdup(j->reason) : (char *)protobuf_c_empty_string;
    memcpy(p, j->fpr, j->fpr_len);
    a->fingerprint = (ProtobufCBinaryData){j->fpr_len, p};
    if (j->had_old) {
        memcpy(p + 32, j->old_hash, 16);
        a->old_hash = (ProtobufCBinaryData){16, p + 32};
    }
    if (j->outcome != OKS_REJECTED) {
        memcpy(p + 48, j->new_hash, 16);
        a->new_hash = (ProtobufCBinaryData){16, p + 48};
    }
    a->sigs_verified = (uint32_t)j->vst.self_verified;
    a->sigs_dropped = (uint32_t)j->vst.self_dropped;
    a->deleted = j->deleted;
    r->results[r->n_results++] = a;
}

/* Prepares every key of an add (parse, merge, verify, slot check) into a new jobs array; NULL
 * (with r filled) when the request is refused as a whole. *to_write counts keys to store. */
static oks_ingest *prepare_add(oks_shard *sh, const oks_job *job, Oks__Response *r,
                               size_t *to_write)
{
    const Oks__Request *req = job->req;
    /* the own follower's copies from replica peers: verified by the peer that stored them */
    unsigned flags = job->local && req->add->origin == OKS__ORIGIN__ORIGIN_REPLICA
                         ? OKS_PGP_TRUSTED
                         : 0;
    *to_write = 0;
    if (!oks_shard_check_route(sh, req, r))
        return NULL;
    const Oks__Add *add = req->add;
    size_t n = add->n_keys + add->n_verified_keys;
    if (n > OKS_PROTO_MAX_ITEMS) {
        r->status = OKS__STATUS__STATUS_TOO_LARGE;
        r->error = oks_xstrdup("at most " OKS_PROTO_MAX_ITEMS_TEXT " keys per add request");
        return NULL;
    }
    oks_ingest *jobs = oks_xcalloc(n ? n : 1, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        oks_ingest *j = &jobs[i];
        /* verified_keys: the stored form of another replica of the slot, sent on by a router
         * (shard/authz.c takes them from nobody else): verified there */
        bool v = i >= add->n_keys;
        const ProtobufCBinaryData *k = v ? &add->verified_keys[i - add->n_keys] : &add->keys[i];
        oks_ingest_prepare_flags(sh->store, k->data, k->len, &sh->lim,
                                 v ? OKS_PGP_TRUSTED : flags, j);
        if (j->outcome != OKS_REJECTED && !oks_shard_owns_keyid(sh, j->keyid)) {
            j->outcome = OKS_REJECTED;
            snprintf(j->reason, sizeof j->reason, "slot %u is not owned by shard %s",
                     oks_slot_of_keyid(j->keyid, sh->conf->n_slots),
                     sh->conf->shards[sh->self].name);
            oks_pgp_key_free(j->key);
            j->key = NULL;
        }
        atomic_fetch_add(&sh->sigs_verified, j->vst.self_verified);
        *to_write += j->key != NULL;
    }
    atomic_fetch_add(&sh->adds, n);
    return jobs;
}

/* Fills r with one result per job (status from the write; stored: each stored key's bytes too)
 * and frees the jobs. */
static void finish_add(oks_ingest *jobs, size_t n, int status, bool stored, Oks__Response *r)
{
    if (status != 0) {
        r->status = OKS__STATUS__STATUS_INTERNAL;
        r->error = oks_xstrdup("storage write failed; see the shard log");
    }
    r->results = oks_xcalloc(n ? n : 1, sizeof *r->results);
    for (size_t i = 0; i < n; i++) {
        if (r->results)
            add_result(r, i, &jobs[i], stored && status == 0);
        oks_ingest_release(&jobs[i]);
    }
    if (!r->results) {
        r->status = OKS__STATUS__STATUS_INTERNAL;
        free(r->error == protobuf_c_empty_string ? NULL : r->error);
        r->error = oks_xstrdup("out of memory");
    }
    free(jobs);
}

void oks_shard_add_async(oks_shard *sh, oks_job *job, void *push)
{
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    size_t to_write;
    oks_ingest *jobs = prepare_add(sh, job, &r, &to_write);
    size_t n = job->req->add->n_keys + job->req->add->n_verified_keys;
    bool stored = job->req->add->return_stored;
    oks_commit *c = jobs && to_write ? oks_xcalloc(1, sizeof *c) : NULL;
    if (!c) {
        /* refused, nothing to store, or no memory for the hand-over: answer here */
        if (jobs && to_write)
            finish_add(jobs, n, oks_shard_commit_wait(sh, jobs, n), stored, &r);
        else if (jobs)
            finish_add(jobs, n, 0, stored, &r);
        oks_shard_reply(push, job, &r);
        oks_job_free(job);
        return;
    }
    c->jobs = jobs;
    c->n = n;
    c->job = job;
    pthread_mutex_lock(&sh->wlock);
    while (sh->wqueued >= OKS_SHARD_WRITER_QUEUE_PER_WORKER * (size_t)sh->n_workers && !sh->wstop)
        pthread_cond_wait(&sh->wdone, &sh->wlock);
    sh->wqueued++;
    enqueue(sh, c);
    pthread_mutex_unlock(&sh->wlock);
}

/*
 * The cache's change-log follower: one thread per gateway with its own router connection (it
 * blocks, so it never runs in an event loop). Every cache_check_ms it reads each shard's change
 * log from where it stopped and invalidates the fingerprints that changed; after a complete pass
 * over all shards it marks the cache fresh. A shard that cannot be read leaves the cache stale,
 * so cached answers stop being served after cache_max_stale_ms; a change log that went backwards
 * (a shard restored or rebuilt) or a backlog too long to read flushes everything.
 */
#include "gw-http/follow.h"

#include "lib/clock.h"
#include "lib/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 1000     /* changes per request */
#define MAX_PAGES 20  /* per shard and pass; more means flush and skip ahead */

/* Reads one shard's new changes. Returns 0 when the shard was read to its end. */
static int follow_shard(gw_follow *f, size_t i, oks_client *cl)
{
    const oks_cluster *cc = f->cluster;
    for (int page = 0; page < MAX_PAGES; page++) {
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__ChangeLog cq = OKS__CHANGE_LOG__INIT;
        q.op_case = OKS__REQUEST__OP_CHANGES;
        q.changes = &cq;
        cq.shard = (char *)cc->shards[i].name;
        cq.after_seq = f->known[i] ? f->cursor[i] : UINT64_MAX - 1;
        cq.limit = PAGE;
        Oks__Response *r = NULL;
        oks_err e;
        if (oks_client_call_checked(cl, &q, &r, (int)f->timeout_ms, OKS_CALL_OK_ONLY, &e) != 0) {
            oks_warn("answer cache: change log of shard %s unreadable: %s", cq.shard, e.msg);
            return -1;
        }
        if (!f->known[i] || r->last_seq < f->cursor[i]) {
            if (f->known[i])
                oks_warn("answer cache: change log of shard %s went back from %llu to %llu; "
                         "flushing", cq.shard, (unsigned long long)f->cursor[i],
                         (unsigned long long)r->last_seq);
            gw_cache_flush(f->cache);
            f->cursor[i] = r->last_seq;
            f->known[i] = true;
            oks__response__free_unpacked(r, NULL);
            return 0;
        }
        for (size_t k = 0; k < r->n_changes; k++) {
            Oks__Change *ch = r->changes[k];
            gw_cache_invalidate(f->cache, ch->fingerprint.data, ch->fingerprint.len);
            if (ch->seq > f->cursor[i])
                f->cursor[i] = ch->seq;
            f->changes++;
        }
        size_t n = r->n_changes;
        oks__response__free_unpacked(r, NULL);
        if (n < PAGE)
            return 0;
    }
    oks_warn("answer cache: more than %d changes on shard %s since the last pass; flushing",
             PAGE * MAX_PAGES, cc->shards[i].name);
    gw_cache_flush(f->cache);
    f->known[i] = false; /* skip ahead to the end on the next call */
    return follow_shard(f, i, cl);
}

static void *follow_main(void *arg)
{
    gw_follow *f = arg;
    oks_err e;
    oks_client *cl = oks_client_new_routers(f->zctx, f->cluster, &e);
    if (!cl) {
        oks_error("answer cache: cannot connect to the router: %s; cache off", e.msg);
        return NULL;
    }
    bool ok_before = true;
    while (!atomic_load(&f->stop)) {
        bool ok = true;
        for (size_t i = 0; i < f->cluster->n_shards && !atomic_load(&f->stop); i++)
            if (follow_shard(f, i, cl) != 0)
                ok = false;
        if (ok)
            gw_cache_fresh(f->cache, oks_now_ms());
        if (ok != ok_before)
            oks_info("answer cache: change logs %s", ok ? "readable again" : "unreadable; "
                                                           "cached answers are bypassed");
        ok_before = ok;
        struct timespec ts = {f->check_ms / 1000, (long)(f->check_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    oks_client_free(cl);
    return NULL;
}

int gw_follow_start(gw_follow *f)
{
    atomic_store(&f->stop, 0);
    return pthread_create(&f->tid, NULL, follow_main, f) == 0 ? 0 : -1;
}

void gw_follow_stop(gw_follow *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->tid, NULL);
}

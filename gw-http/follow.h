/*
 * The thread that keeps the answer cache (cache.h) true: it follows every shard's change log
 * through the router and invalidates what changed.
 */
#ifndef OKS_GW_FOLLOW_H
#define OKS_GW_FOLLOW_H

#include "gw-http/cache.h"
#include "lib/cluster.h"
#include "lib/proto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct gw_follow {
    /* set by the caller */
    gw_cache *cache;
    const oks_cluster *cluster;
    void *zctx;
    unsigned check_ms;   /* pause between passes */
    unsigned timeout_ms; /* per change-log request */
    /* state */
    pthread_t tid;
    atomic_int stop;
    uint64_t cursor[OKS_MAX_SHARDS];
    bool known[OKS_MAX_SHARDS];
    uint64_t changes; /* invalidations read so far */
} gw_follow;

int gw_follow_start(gw_follow *f);
void gw_follow_stop(gw_follow *f);

#endif

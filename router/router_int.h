/*
 * The router's state, shared by its event loop (router/router.c) and its setup and map changes
 * (router/setup.c). One thread uses it: the router's.
 */
#ifndef OKS_ROUTER_ROUTER_INT_H
#define OKS_ROUTER_ROUTER_INT_H

#include "router/maps.h"
#include "router/pending.h"
#include "router/router.h"

#include <zmq.h>

/* ZeroMQ heartbeats on the shard connections: a shard that stops answering them (hung, host
 * gone without a reset) is disconnected, and its requests moved or failed, within
 * OKS_ROUTER_HB_TIMEOUT_MS + OKS_ROUTER_HB_IVL_MS. */
#define OKS_ROUTER_HB_IVL_MS 500
#define OKS_ROUTER_HB_TIMEOUT_MS 1500

struct oks_router {
    const oks_cluster *conf; /* the map in force (router/maps.h): shard names and endpoints of
                              * every map applied (later maps extend earlier ones) */
    oks_router_map *map;     /* the map in force (one reference; requests hold the others) */
    size_t maps_live;        /* maps from etcd not freed yet (metric oks_router_maps_live) */
    void *zctx, *front;
    void *maps_in;      /* PAIR receiving new maps from the map watcher (NULL: static map) */
    void **shard_socks; /* OKS_MAX_SHARDS entries, the first conf->n_shards connected */
    void **monitors;    /* per shard: PAIR socket receiving its DEALER's disconnect events */
    bool up[OKS_MAX_SHARDS]; /* per shard: connected, as far as the router knows */
    oks_pending *table; /* OKS_ROUTER_MAX_INFLIGHT entries, indexed by id % size */
    uint64_t next_id;
    size_t inflight;
};

/* The map a request was routed with: its replica sets and groups stay those of that map. */
#define PMAP(p) ((const oks_router_map *)(p)->map)
#define PREP(p) ((oks_replicas *)&PMAP(p)->rep)

/* Ends a request: frees what it holds, and drops its reference to the map it was routed with. */
static inline void oks_router_pending_end(oks_pending *p)
{
    oks_router_map *m = (oks_router_map *)PMAP(p);
    oks_pending_release(p, OKS_MAX_SHARDS);
    oks_router_map_drop(m);
}
/* router/setup.c: makes next the map in force (taking it), connecting the shards it adds; the
 * epoch in force afterwards goes back to the watcher. */
void oks_router_apply_map(oks_router *r, oks_cluster *next);
/* The poll items: the frontend, every shard, the map input, the monitors (n of them; heap). */
zmq_pollitem_t *oks_router_poll_items(oks_router *r, int *n);

#endif

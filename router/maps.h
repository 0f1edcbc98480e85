/*
 * The slot maps of a router (docs/replicas.md "Slot moves"). A map kept in etcd changes while the
 * router runs: each map applied gets its replica groups, and each request keeps the map it was
 * routed with until it is answered, so its replica set and groups never change under it. A new
 * map keeps the shards of the one before at their indexes (shards are only added; one removed
 * keeps its section with no slots), so shard indexes, connections and the up/down state are
 * shared by every map.
 *
 * Life: a map is counted. The router holds one reference to the map in force and each request
 * in flight one to the map it was routed with; the map is freed when the last goes (the router
 * replacing it, or its last request answered or expired). One thread uses them all (the
 * router's loop), so the count is a plain integer and a map replaced while no request uses it
 * is freed at once.
 */
#ifndef OKS_ROUTER_MAPS_H
#define OKS_ROUTER_MAPS_H

#include "lib/cluster.h"
#include "router/replicas.h"

typedef struct oks_router_map {
    unsigned refs;               /* the router's (while in force) and its requests' */
    oks_cluster *owned;          /* the map, when the router owns it (NULL: the caller's) */
    const oks_cluster *conf;
    oks_replicas rep;            /* its replica groups; rep.up is the router's */
    size_t *live;                /* the router's count of owned maps not freed */
} oks_router_map;

/* A map for conf with one reference (owned: conf itself, freed with the map, and then counted
 * in *live; or NULL); up: the router's per-shard state (OKS_MAX_SHARDS entries), shared by
 * every map. */
oks_router_map *oks_router_map_new(const oks_cluster *conf, oks_cluster *owned, bool *up,
                                   size_t *live);
/* Takes a reference to m; returns m. */
oks_router_map *oks_router_map_hold(oks_router_map *m);
/* Drops a reference to m (NULL: nothing), freeing it with the last. */
void oks_router_map_drop(oks_router_map *m);
/* 0 when next can replace cur (newer epoch, same slot count, cur's shards at their indexes). */
int oks_router_map_check(const oks_cluster *cur, const oks_cluster *next, oks_err *e);
/* Whether shard i holds or is joining any slot of c. */
bool oks_router_map_has_slots(const oks_cluster *c, size_t i);

#endif

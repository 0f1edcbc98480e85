/*
 * The router: a ZeroMQ ROUTER frontend for clients (gateways, oksctl, sync) and one DEALER per
 * shard. Single-threaded event loop; many requests in flight, replies matched by an internal id
 * and returned in whatever order shards answer (no head-of-line blocking). Every slot is held by
 * the shards of its replica set ([cluster] replicas, router/replicas.h, docs/replicas.md):
 *   - by 64-bit primary key ID, or by fingerprint for the primary key only: one replica of the
 *     slot, whose answer is passed on unchanged; another replica is asked, within the same
 *     deadline, when it fails, does not answer in its share of the time, or answers NOT_FOUND;
 *   - add: keys split by slot, each part sent to every replica of its slots; the answer comes
 *     once [cluster] write_quorum replicas answered for every key, results put back in order;
 *   - delete: every replica of the slot;
 *   - by fingerprint with subkeys (what clients ask: the key with that primary fingerprint and
 *     every key with that subkey), other key IDs, searches, hashes: one replica per replica
 *     group, in parallel, moving a group to another replica when its replica fails; results
 *     merged, deduplicated by fingerprint and limited; a fingerprint's primary key comes first;
 *     a group with no replica left makes the answer partial;
 *   - stats, health: every shard.
 * A shard that is down, misses the deadline or answers a failure (a storage error) fails the
 * requests that need it and that no other replica can answer, with an error naming it and why.
 * Dropped connections are seen by a socket monitor at once, a hung shard by ZeroMQ heartbeats
 * within about 2 s; ZeroMQ reconnects by itself when it comes back.
 */
#ifndef OKS_ROUTER_ROUTER_H
#define OKS_ROUTER_ROUTER_H

#include "lib/cluster.h"
#include "lib/err.h"

#include <stdatomic.h>

typedef struct oks_router oks_router;

/* ZeroMQ I/O threads of the router's context. With CURVE an I/O thread seals and opens every
 * frame of its connections (libsodium, about 1.4 GB/s a core): with one thread, every answer
 * is opened (from a shard) and sealed again (to a client) on that one core. With two, the
 * clients' connections have one and the shards' the other (oks_router_new), so the two halves
 * of the work run on two cores. */
#define OKS_ROUTER_IO_THREADS 2

/* A ZeroMQ context for the router: OKS_ROUTER_IO_THREADS I/O threads. NULL on failure. */
void *oks_router_zctx_new(void);

/* endpoint: the frontend to bind (one of conf->routers). zctx: from oks_router_zctx_new (any
 * other context works: with fewer than two I/O threads every connection shares the one). */
oks_router *oks_router_new(const oks_cluster *conf, void *zctx, const char *endpoint, oks_err *e);
int oks_router_run(oks_router *r, atomic_int *stop);
/* Binds the inproc PAIR endpoint a map watcher (router/mapwatch.h) hands new maps to: each
 * message is an oks_cluster * (heap, handed over), applied between requests; the router
 * answers each with the epoch it applied (uint32_t, 0 = refused). Before oks_router_run. */
int oks_router_maps_bind(oks_router *r, const char *endpoint, oks_err *e);
void oks_router_free(oks_router *r);

#endif

/*
 * The router: a ZeroMQ ROUTER frontend for clients (gateways, oksctl, sync) and one DEALER per
 * shard. Single-threaded event loop; many requests in flight, replies matched by an internal id
 * and returned in whatever order shards answer (no head-of-line blocking).
 *   - by 64-bit primary key ID, or by fingerprint for the primary key only: exactly one shard
 *     (the slot's owner), whose answer is passed on unchanged;
 *   - add: keys split by slot owner, one sub-request per shard, results put back in order;
 *   - by fingerprint with subkeys (what clients ask: the key with that primary fingerprint and
 *     every key with that subkey), other key IDs, searches, hashes, stats, health: all shards in
 *     parallel, results merged, deduplicated by fingerprint and limited; a fingerprint's primary
 *     key comes first.
 * A shard that is down, misses the deadline or answers a failure (a storage error) fails the
 * requests that need it, with an error naming it and why; ZeroMQ reconnects by itself when it
 * comes back.
 */
#ifndef OKS_ROUTER_ROUTER_H
#define OKS_ROUTER_ROUTER_H

#include "lib/cluster.h"
#include "lib/err.h"

#include <stdatomic.h>

typedef struct oks_router oks_router;

/* endpoint: the frontend to bind (one of conf->routers). */
oks_router *oks_router_new(const oks_cluster *conf, void *zctx, const char *endpoint, oks_err *e);
int oks_router_run(oks_router *r, atomic_int *stop);
void oks_router_free(oks_router *r);

#endif

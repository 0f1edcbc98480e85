/*
 * A daemon's side of the map kept in etcd (docs/replicas.md "Slot moves"): the map it starts
 * with, and a watcher that hands every newer map to it without a restart and registers, under a
 * lease, the epoch it applied (PREFIX/members/ROLE/NAME), so oksctl knows when every live
 * member runs a map. Two threads of its own (the watch blocks; the registration renews the
 * lease), so no etcd call ever runs in a daemon's event loop.
 */
#ifndef OKS_MAPWATCH_H
#define OKS_MAPWATCH_H

#include "lib/cluster.h"
#include "lib/err.h"

#include <stdint.h>

typedef struct oks_mapwatch oks_mapwatch;

/* With [cluster] etcd set in conf (loaded from conf_path) and a map in etcd: replaces conf by
 * oks.conf's local settings plus that map. *rev: where the watch starts. Without etcd: 0 and
 * conf unchanged (*rev 0). */
int oks_mapwatch_initial(oks_cluster *conf, const char *conf_path, uint64_t *rev, oks_err *e);

/* Applies a new map (taken, heap: oks_cluster_release then free), returning the epoch in force
 * afterwards (the old one when refused). Called on the watcher's thread. */
typedef unsigned (*oks_mapwatch_apply_fn)(oks_cluster *next, void *arg);

/* Starts watching after revision rev (conf: the map in force; conf_path: oks.conf, whose local
 * part every new map joins). role/name: the member key. */
int oks_mapwatch_start(const oks_cluster *conf, const char *conf_path, const char *role,
                       const char *name, uint64_t rev, oks_mapwatch_apply_fn fn, void *arg,
                       oks_mapwatch **out, oks_err *e);
/* Stops the threads (within about 200 ms) and removes the member key. */
void oks_mapwatch_stop(oks_mapwatch *w);

#endif

/*
 * The sync worker's Prometheus metrics (docs/operations.md, "Monitoring"): rounds by outcome and
 * their duration, hashes and keys moved, the tree's size, and per partner its rounds, failures,
 * last good round and back-off. Served on [sync] metrics_listen by `oks-sync run`. The counting
 * functions do nothing until oks_sync_metrics_start ran.
 */
#ifndef OKS_SYNC_METRICS_H
#define OKS_SYNC_METRICS_H

#include "lib/cluster.h"
#include "sync/backoff.h"
#include "sync/state.h"

/* Registers the metrics and, when [sync] metrics_listen is set, starts the server. 0, or an
 * error (the address cannot be bound). */
int oks_sync_metrics_start(const oks_cluster *conf, oks_err *e);
void oks_sync_metrics_stop(void);
/* A round ended: rd as recorded in the state; failed = keys whose add failed. */
void oks_sync_metrics_round(const oks_sync_round *rd, size_t failed);
/* n bytes of a partner's /pks/hashquery answer came in. */
void oks_sync_metrics_received(size_t n);
/* The partner state changed: copies what the partner series show (the worker's thread owns s
 * and b; the exposition thread reads the copy). */
void oks_sync_metrics_state(const oks_sync_state *s, const oks_sync_backoff *b, size_t tree,
                            int running);

#endif

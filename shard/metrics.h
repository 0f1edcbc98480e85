/*
 * The shard's Prometheus metrics (docs/operations.md, "Monitoring"): requests by operation and
 * status, keys added by outcome and origin, deletes, read, add and group-commit latency, queue
 * depths, the store's keys and bytes, LevelDB's files and compaction work per level, and the
 * replica follower's lag behind each peer. Served on [shard.NAME] or [shard] metrics_listen.
 * The counting functions do nothing until oks_shard_metrics_start ran (unit tests).
 */
#ifndef OKS_SHARD_METRICS_H
#define OKS_SHARD_METRICS_H

#include "shard/job.h"

struct oks_shard;

/* Registers the metrics of shard sh (which must outlive them) and, when the shard has a
 * metrics_listen, starts the exposition server. 0, or an error (the address cannot be bound). */
int oks_shard_metrics_start(struct oks_shard *sh, oks_err *e);
void oks_shard_metrics_stop(void);
/* A request answered: its operation and status, its time in the shard, an add's outcomes. */
void oks_shard_metrics_reply(const oks_job *j, const Oks__Response *r);
/* The writer committed a batch of n keys in us microseconds. */
void oks_shard_metrics_commit(uint64_t us, size_t n);
/* The follower read peer shard idx's log: its last sequence, and this shard's cursor in it. */
void oks_shard_metrics_replica(size_t idx, uint64_t head, uint64_t cursor);
/* The follower could not follow peer shard idx (down, error). */
void oks_shard_metrics_replica_failed(size_t idx);

#endif

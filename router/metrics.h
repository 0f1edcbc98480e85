/*
 * The router's Prometheus metrics (docs/operations.md, "Monitoring"): requests by operation and
 * status and their duration, requests in flight, each shard's state (up or down) and round trip,
 * write-quorum outcomes of adds, and requests refused by authorization. Served on [router]
 * metrics_listen. The counting functions do nothing until oks_router_metrics_start ran.
 */
#ifndef OKS_ROUTER_METRICS_H
#define OKS_ROUTER_METRICS_H

#include "lib/cluster.h"

#include <stdbool.h>
#include <stdint.h>

/* Registers the metrics and, when [router] metrics_listen is set, starts the server; conf must
 * outlive them. 0, or an error (the address cannot be bound). */
int oks_router_metrics_start(const oks_cluster *conf, oks_err *e);
void oks_router_metrics_stop(void);
/* A request answered with status; start_us: when it came (oks_now_us), 0 = not timed. */
void oks_router_metrics_request(int op, int status, uint64_t start_us);
/* A request refused by authorization (answered FORBIDDEN). */
void oks_router_metrics_refused(int op);
/* Shard si answered a request start_us (oks_now_us) after the router received it. */
void oks_router_metrics_rtt(size_t si, uint64_t start_us);
/* An add finished: every key reached the write quorum (met) or not. */
void oks_router_metrics_quorum(bool met);
/* After each turn of the loop: requests in flight, maps from etcd not freed yet and whether
 * each of n shards is up. */
void oks_router_metrics_loop(size_t inflight, size_t maps_live, const bool *up, size_t n);

#endif

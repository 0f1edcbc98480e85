/* The router's metrics (see metrics.h). */
#include "router/metrics.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics_http.h"
#include "lib/metrics_proto.h"
#include "lib/proto.h"

#include <string.h>

static struct {
    oks_metrics *reg;
    oks_metrics_http *http;
    oks_metrics_proto_labels pl;
    oks_metric *requests, *duration, *inflight, *up, *rtt, *quorum, *refused, *maps_live;
    const char *shards[OKS_MAX_SHARDS + 1];
    size_t n_shards; /* the shards labelled (a map that adds shards later: not those) */
} M;

static const char *const quorum_outcomes[] = {"met", "missed", NULL};

int oks_router_metrics_start(const oks_cluster *c, oks_err *e) {
    if (!c->router_metrics.listen.port)
        return 0;
    oks_metrics_proto_labels_init(&M.pl);
    for (size_t i = 0; i < c->n_shards; i++)
        M.shards[i] = c->shards[i].name;
    M.shards[c->n_shards] = NULL;
    M.n_shards = c->n_shards;
    M.reg = oks_metrics_new();
    const oks_metric_type C = OKS_METRIC_COUNTER, G = OKS_METRIC_GAUGE, H = OKS_METRIC_HISTOGRAM;
    int rc = !M.reg ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory") : 0;
#define R(...) (rc = rc ? rc : oks_metrics_reg(M.reg, __VA_ARGS__, e))
    R(&M.requests, "oks_router_requests_total",
      "Client requests answered, by operation and status.", C, "op", M.pl.ops, "status",
      M.pl.status);
    R(&M.duration, "oks_router_request_duration_seconds",
      "Time from receiving a client request to its answer, by operation.", H, "op", M.pl.ops, NULL,
      NULL);
    R(&M.inflight, "oks_router_inflight_requests", "Client requests not answered yet.", G, NULL,
      NULL, NULL, NULL);
    R(&M.maps_live, "oks_router_maps_live",
      "Slot maps from etcd in memory: the one in force and replaced ones that requests in "
      "flight still use (freed with the last).", G, NULL, NULL, NULL, NULL);
    R(&M.up, "oks_router_shard_up",
      "1 while the shard's connection is up (handshake done, no disconnect since), else 0.", G,
      "shard", M.shards, NULL, NULL);
    R(&M.rtt, "oks_router_shard_rtt_seconds",
      "Time from receiving a request to a shard's answer to it, per shard.", H, "shard", M.shards,
      NULL, NULL);
    R(&M.quorum, "oks_router_write_quorum_total",
      "Add requests by whether every key reached [cluster] write_quorum replicas.", C, "outcome",
      quorum_outcomes, NULL, NULL);
    R(&M.refused, "oks_router_authz_refused_total",
      "Requests refused because the sender's key may not make them, by operation.", C, "op",
      M.pl.ops, NULL, NULL);
#undef R
    rc = oks_metrics_http_serve(&M.reg, rc, &c->router_metrics.listen, c->router_metrics.allow, &M.http, e);
    if (rc)
        memset(&M, 0, sizeof M);
    return rc;
}

void oks_router_metrics_stop(void) {
    oks_metrics_http_stop(M.http);
    oks_metrics_free(M.reg);
    memset(&M, 0, sizeof M);
}

void oks_router_metrics_request(int op, int status, uint64_t start_us) {
    if (!M.reg)
        return;
    size_t o = oks_metrics_proto_op(&M.pl, op);
    oks_metric_inc(M.requests, o, oks_metrics_proto_status(&M.pl, status));
    if (start_us)
        oks_metric_observe(M.duration, o, 0, (double)(oks_now_us() - start_us) / 1e6);
}

void oks_router_metrics_refused(int op) {
    if (!M.reg)
        return;
    size_t o = oks_metrics_proto_op(&M.pl, op);
    oks_metric_inc(M.refused, o, 0);
    oks_metric_inc(M.requests, o, oks_metrics_proto_status(&M.pl, OKS__STATUS__STATUS_FORBIDDEN));
}

void oks_router_metrics_rtt(size_t si, uint64_t start_us) {
    if (M.reg && start_us && si < M.n_shards)
        oks_metric_observe(M.rtt, si, 0, (double)(oks_now_us() - start_us) / 1e6);
}

void oks_router_metrics_quorum(bool met) {
    oks_metric_inc(M.quorum, met ? 0 : 1, 0);
}

void oks_router_metrics_loop(size_t inflight, size_t maps_live, const bool *up, size_t n) {
    if (!M.reg)
        return;
    oks_metric_set(M.inflight, 0, 0, (double)inflight);
    oks_metric_set(M.maps_live, 0, 0, (double)maps_live);
    for (size_t i = 0; i < n && i < M.n_shards; i++)
        oks_metric_set(M.up, i, 0, up[i] ? 1 : 0);
}

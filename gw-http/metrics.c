/* /metrics in the Prometheus text format: requests by op and status class, the router round
 * trip histogram, keys submitted by outcome, and the answer cache's counters. */
#include "gw-http/gw.h"
#include "gw-http/query.h"
#include "lib/net.h"

#include <stdio.h>

int gw_on_metrics(h2o_handler_t *self, h2o_req_t *req) {
    (void)self;
    static const char *st[GW_HTTP_CLASSES] = {"2xx", "304", "400", "404",
                                              "413", "4xx", "503", "5xx"};
    static const char *le[] = {"0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                               "0.05",    "0.1",    "0.25",  "0.5",    "1",     "+Inf"};
    gw *g = gw_thread_of(req)->g;
    char client[64];
    gw_client_of(req, client);
    if (!oks_nets_match(gw_live_of(req)->metrics_allow, client)) {
        gw_error(req, 403, "/metrics is not open to this address (see [http] metrics_allow)");
        return 0;
    }
    gw_metrics *m = &g->metrics;
    oks_buf out = OKS_BUF_INIT;
    oks_buf_printf(&out, "# HELP oks_http_requests_total HTTP requests by operation and status.\n"
                         "# TYPE oks_http_requests_total counter\n");
    for (int o = 0; o < GW_OPS; o++)
        for (int s = 0; s < GW_HTTP_CLASSES; s++) {
            unsigned long v = atomic_load(&m->requests[o][s]);
            if (v)
                oks_buf_printf(&out, "oks_http_requests_total{op=\"%s\",status=\"%s\"} %lu\n",
                               gw_op_name((enum gw_op)o), st[s], v);
        }
    oks_buf_printf(&out,
                   "# HELP oks_http_cluster_rtt_seconds Round trip gateway -> router -> shards.\n"
                   "# TYPE oks_http_cluster_rtt_seconds histogram\n");
    unsigned long cum = 0;
    for (int b = 0; b <= GW_LAT_BUCKETS; b++) {
        cum += atomic_load(&m->latency[b]);
        oks_buf_printf(&out, "oks_http_cluster_rtt_seconds_bucket{le=\"%s\"} %lu\n", le[b], cum);
    }
    oks_buf_printf(
        &out, "oks_http_cluster_rtt_seconds_sum %.6f\noks_http_cluster_rtt_seconds_count %lu\n",
        (double)atomic_load(&m->latency_sum_us) / 1e6, atomic_load(&m->latency_count));
    oks_buf_printf(
        &out,
        "# HELP oks_http_keys_submitted_total Keys submitted through this gateway by outcome.\n"
        "# TYPE oks_http_keys_submitted_total counter\n"
        "oks_http_keys_submitted_total{outcome=\"new\"} "
        "%lu\noks_http_keys_submitted_total{outcome=\"updated\"} "
        "%lu\n"
        "oks_http_keys_submitted_total{outcome=\"unchanged\"} %lu\n"
        "oks_http_keys_submitted_total{outcome=\"rejected\"} %lu\n",
        atomic_load(&m->keys_added), atomic_load(&m->keys_updated), atomic_load(&m->keys_unchanged),
        atomic_load(&m->keys_rejected));
    if (g->conns) {
        unsigned long full, peer_full;
        gw_conns_refused(g->conns, &full, &peer_full);
        oks_buf_printf(&out,
                       "# HELP oks_http_connections Client connections open now.\n"
                       "# TYPE oks_http_connections gauge\noks_http_connections %u\n"
                       "# HELP oks_http_connections_max The cap on connections open at once.\n"
                       "# TYPE oks_http_connections_max gauge\noks_http_connections_max %u\n"
                       "# HELP oks_http_connections_refused_total Connections closed on accept "
                       "(their client had its share open, or no memory to count them).\n"
                       "# TYPE oks_http_connections_refused_total counter\n"
                       "oks_http_connections_refused_total{reason=\"per_client\"} %lu\n"
                       "oks_http_connections_refused_total{reason=\"no_memory\"} %lu\n"
                       "# HELP oks_http_accept_errors_total accept() failures for want of "
                       "descriptors or memory (the listeners rest 100 ms after each).\n"
                       "# TYPE oks_http_accept_errors_total counter\n"
                       "oks_http_accept_errors_total %lu\n"
                       "# HELP oks_http_inflight_refused_total Requests answered 429 because "
                       "their client had max_inflight_per_client cluster requests unanswered.\n"
                       "# TYPE oks_http_inflight_refused_total counter\n"
                       "oks_http_inflight_refused_total %lu\n"
                       "# HELP oks_http_orphaned_total Cluster requests whose HTTP request went "
                       "away first (stream reset, connection closed).\n"
                       "# TYPE oks_http_orphaned_total counter\noks_http_orphaned_total %lu\n",
                       gw_conns_open(g->conns), gw_conns_max(g->conns), peer_full, full,
                       atomic_load(&m->accept_errors), gw_conns_refused_inflight(g->conns),
                       atomic_load(&m->orphaned));
    }
    int cs = atomic_load(&g->metrics.cluster_state);
    oks_buf_printf(
        &out,
        "# HELP oks_http_router_resent_total Cluster requests sent again to another router "
        "after theirs failed.\n# TYPE oks_http_router_resent_total counter\n"
        "oks_http_router_resent_total %lu\n"
        "# HELP oks_http_router_drops_total Router connections seen dropping (each sends the "
        "requests out again).\n# TYPE oks_http_router_drops_total counter\n"
        "oks_http_router_drops_total %lu\n"
        "# HELP oks_http_cluster_ready 1 when the last /pks/health found a shard for every "
        "slot, 0 when not, -1 when no router answered it (or none ran yet).\n"
        "# TYPE oks_http_cluster_ready gauge\noks_http_cluster_ready %d\n",
        atomic_load(&m->router_resent), atomic_load(&m->router_drops),
        cs == 2   ? 1
        : cs == 1 ? 0
                  : -1);
    if (cs)
        oks_buf_printf(
            &out,
            "# HELP oks_http_cluster_shards_down Shards that did not answer the last "
            "/pks/health.\n# TYPE oks_http_cluster_shards_down gauge\n"
            "oks_http_cluster_shards_down %lu\n"
            "# HELP oks_http_cluster_slots_uncovered Slots without an answering shard at "
            "the last /pks/health.\n# TYPE oks_http_cluster_slots_uncovered gauge\n"
            "oks_http_cluster_slots_uncovered %lu\n",
            atomic_load(&m->cluster_shards_down), atomic_load(&m->cluster_slots_uncovered));
    if (g->cache) {
        gw_cache_counters cc;
        gw_cache_counters_get(g->cache, &cc);
        oks_buf_printf(
            &out,
            "# HELP oks_http_cache_lookups_total Answer cache lookups by result.\n"
            "# TYPE oks_http_cache_lookups_total counter\n"
            "oks_http_cache_lookups_total{result=\"hit\"} %llu\n"
            "oks_http_cache_lookups_total{result=\"miss\"} %llu\n"
            "# HELP oks_http_cache_invalidated_total Cached answers dropped because what "
            "they depend on changed.\n# TYPE oks_http_cache_invalidated_total counter\n"
            "oks_http_cache_invalidated_total %llu\n"
            "# HELP oks_http_cache_evicted_total Cached answers dropped for space.\n"
            "# TYPE oks_http_cache_evicted_total counter\noks_http_cache_evicted_total %llu\n"
            "# HELP oks_http_cache_entries Answers in the cache.\n"
            "# TYPE oks_http_cache_entries gauge\noks_http_cache_entries %llu\n"
            "# HELP oks_http_cache_bytes Bytes charged to the cache.\n"
            "# TYPE oks_http_cache_bytes gauge\noks_http_cache_bytes %llu\n",
            (unsigned long long)cc.hits, (unsigned long long)cc.misses,
            (unsigned long long)cc.stale, (unsigned long long)cc.evicted,
            (unsigned long long)cc.entries, (unsigned long long)cc.bytes);
    }
    gw_respond(req, 200, NULL, "text/plain; version=0.0.4", out.data, out.len);
    oks_buf_release(&out);
    return 0;
}

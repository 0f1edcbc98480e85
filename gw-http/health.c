/* Health for load balancers and monitoring.
 *
 * /pks/health/live is liveness: 200 "live" when this gateway runs and a router answers (with
 * whatever status: shards being down does not make the gateway useless, it still serves the
 * other shards' keys), 503 when no router answers. Load balancers check this one.
 *
 * /pks/health is readiness, a JSON document: whether every slot has a replica that answers, the
 * shards that do not, and the slot ranges left without one; 200 when every slot is covered,
 * 503 otherwise. The last figures are also in /metrics (oks_cluster_*). */
#include "gw-http/gw.h"

#include "lib/json.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* The router is asked with this deadline for liveness: any answer will do. */
#define GW_LIVE_DEADLINE_MS 1000

static void on_ready(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    (void)data;
    gw *g = gw_thread_of(req)->g;
    if (!r) {
        atomic_store(&g->metrics.cluster_state, 0);
        gw_error(req, status, why);
        return;
    }
    const oks_cluster *c = &g->cluster;
    bool *down = oks_xcalloc(c->n_shards ? c->n_shards : 1, sizeof *down);
    json_t *names = json_array();
    size_t n_down = 0;
    for (size_t i = 0; i < r->n_failed_shards; i++) {
        int k = oks_cluster_shard_index(c, r->failed_shards[i]);
        if (r->coverage) { /* the router's map may name shards this gateway's does not */
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(r->failed_shards[j], r->failed_shards[i]) == 0;
            if (seen)
                continue;
        } else if (k < 0 || down[k]) {
            continue;
        }
        if (k >= 0)
            down[k] = true;
        n_down++;
        json_array_append_new(names, oks_json_cstr(r->failed_shards[i]));
    }
    oks_buf ranges = OKS_BUF_INIT;
    unsigned n_unc, n_slots = c->n_slots, n_shards = (unsigned)c->n_shards;
    if (r->coverage) { /* by the router's map, which follows the map in etcd */
        n_unc = r->slots_uncovered;
        n_slots = r->map_slots;
        n_shards = r->map_shards;
        oks_buf_printf(&ranges, "%s", r->uncovered ? r->uncovered : "");
    } else {
        n_unc = oks_cluster_uncovered(c, down, &ranges);
    }
    if (r->status != OKS__STATUS__STATUS_OK && n_down == 0) {
        /* the router could not say which shards: count nothing as covered */
        oks_buf_release(&ranges);
        oks_buf_printf(&ranges, "0-%u", n_slots - 1);
        n_unc = n_slots;
    }
    bool ready = n_unc == 0;
    atomic_store(&g->metrics.cluster_state, ready ? 2 : 1);
    atomic_store(&g->metrics.cluster_shards_down, n_down);
    atomic_store(&g->metrics.cluster_slots_uncovered, n_unc);
    json_t *o = json_object();
    json_object_set_new(o, "live", json_true());
    json_object_set_new(o, "ready", json_boolean(ready));
    json_object_set_new(o, "slots", oks_json_uint(n_slots));
    json_object_set_new(o, "slots_uncovered", oks_json_uint(n_unc));
    json_object_set_new(o, "uncovered_ranges", oks_json_text(ranges.len ? (const char *)ranges.data : "", ranges.len));
    json_object_set_new(o, "shards", oks_json_uint(n_shards));
    json_object_set_new(o, "shards_down", names);
    if (r->status != OKS__STATUS__STATUS_OK && r->error && *r->error)
        json_object_set_new(o, "error", oks_json_cstr(r->error));
    oks_buf body = OKS_BUF_INIT;
    if (oks_json_dump(o, &body, true) == 0)
        gw_respond(req, ready ? 200 : 503, NULL, "application/json", body.data, body.len);
    else
        gw_error(req, 503, "out of memory");
    json_decref(o);
    oks_buf_release(&body);
    oks_buf_release(&ranges);
    free(down);
}

static void on_live(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    (void)data;
    if (!r)
        gw_error(req, status, why);
    else
        gw_respond(req, 200, NULL, "text/plain", "live\n", 5);
}

int gw_on_health(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    static const char live[] = "/pks/health/live";
    bool is_live = req->path_normalized.len == sizeof live - 1 &&
                   memcmp(req->path_normalized.base, live, sizeof live - 1) == 0;
    if (!is_live && req->path_normalized.len != sizeof "/pks/health" - 1) {
        gw_error(req, 404, "no such page");
        return 0;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Health h = OKS__HEALTH__INIT;
    q.op_case = OKS__REQUEST__OP_HEALTH;
    q.health = &h;
    if (is_live)
        q.deadline_ms = GW_LIVE_DEADLINE_MS;
    gw_call(req, &q, is_live ? on_live : on_ready, NULL);
    return 0;
}

/* The router's setup: its sockets, the shard connections, and the change to a new slot map
 * handed over by the map watcher (see router.h, router/maps.h). */
#include "router/router_int.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "lib/zsec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *oks_router_zctx_new(void)
{
    void *z = zmq_ctx_new();
    if (z && zmq_ctx_set(z, ZMQ_IO_THREADS, OKS_ROUTER_IO_THREADS) != 0) {
        zmq_ctx_term(z);
        return NULL;
    }
    return z;
}

/* The ZMQ_AFFINITY of the frontend (front) or of the shards' DEALERs: I/O thread 0 for the
 * clients' connections, 1 for the shards', when the context has two; 0 (any) otherwise. */
static uint64_t io_affinity(void *zctx, bool front)
{
    if (zmq_ctx_get(zctx, ZMQ_IO_THREADS) < 2)
        return 0;
    return front ? 1u : 2u;
}

/* Opens the DEALER of shard i of conf (and its monitor) and connects it. */
static int connect_shard(oks_router *r, const oks_cluster *conf, size_t i, oks_err *e)
{
    uint64_t back_aff = io_affinity(r->zctx, false);
    void *s = zmq_socket(r->zctx, ZMQ_DEALER);
    int one = 1, ivl = 100, ivl_max = 1000, hb = OKS_ROUTER_HB_IVL_MS,
        hb_timeout = OKS_ROUTER_HB_TIMEOUT_MS, hb_ttl = 2 * OKS_ROUTER_HB_TIMEOUT_MS;
    oks_zsock_defaults(s, conf->max_message_bytes);
    zmq_setsockopt(s, ZMQ_AFFINITY, &back_aff, sizeof back_aff);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl);
    /* queue nothing for a shard that is not connected: fail fast instead */
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    /* a shard whose host or link is down sends no RST: pings find it within ~2 s */
    int hb_ivl = OKS_CLIENT_HEARTBEAT_IVL_MS, hb_tmo = OKS_CLIENT_HEARTBEAT_TIMEOUT_MS,
        ctmo = 1000;
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_tmo, sizeof hb_tmo);
    zmq_setsockopt(s, ZMQ_CONNECT_TIMEOUT, &ctmo, sizeof ctmo);
    /* a shard that drops the connection (crash, kill -9) fails its requests at once, so
     * long deadlines (big adds) do not delay noticing a dead shard */
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://oks-router-mon-%p-%zu", (void *)r, i);
    if (zmq_socket_monitor(s, mon, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) ==
        0) {
        void *m = zmq_socket(r->zctx, ZMQ_PAIR);
        if (m && zmq_connect(m, mon) == 0)
            r->monitors[i] = m;
        else if (m)
            zmq_close(m);
    }
    r->shard_socks[i] = s;
    if (oks_zsec_client(s, conf->shards[i].endpoint, e) != 0)
        return -1;
    if (zmq_connect(s, conf->shards[i].endpoint) != 0)
        oks_log(OKS_LOG_ERROR, "router: cannot connect to shard %s at %s: %s",
                conf->shards[i].name, conf->shards[i].endpoint, zmq_strerror(errno));
    return 0;
}

oks_router *oks_router_new(const oks_cluster *conf, void *zctx, const char *endpoint, oks_err *e)
{
    oks_router *r = oks_xcalloc(1, sizeof *r);
    r->conf = conf;
    r->zctx = zctx;
    r->table = oks_xcalloc(OKS_ROUTER_MAX_INFLIGHT, sizeof *r->table);
    r->shard_socks = oks_xcalloc(OKS_MAX_SHARDS, sizeof *r->shard_socks);
    r->monitors = oks_xcalloc(OKS_MAX_SHARDS, sizeof *r->monitors);
    r->map = oks_router_map_new(conf, NULL, r->up, &r->maps_live);
    r->front = zmq_socket(zctx, ZMQ_ROUTER);
    if (!r->table || !r->shard_socks || !r->monitors || !r->front) {
        oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "router tables");
        oks_router_free(r);
        return NULL;
    }
    oks_zsock_defaults(r->front, conf->max_message_bytes);
    uint64_t front_aff = io_affinity(zctx, true);
    zmq_setsockopt(r->front, ZMQ_AFFINITY, &front_aff, sizeof front_aff);
    if (oks_zsec_server(r->front, e) != 0 || zmq_bind(r->front, endpoint) != 0) {
        oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot bind %s: %s%s", endpoint,
                    zmq_strerror(errno),
                    errno == ENODEV ? " (a host name cannot be bound: set [router] bind or "
                                      "--bind, e.g. tcp://0.0.0.0:PORT)"
                                    : "");
        oks_router_free(r);
        return NULL;
    }
    for (size_t i = 0; i < conf->n_shards; i++)
        if (connect_shard(r, conf, i, e) != 0) {
            oks_router_free(r);
            return NULL;
        }
    r->next_id = 1;
    return r;
}

void oks_router_free(oks_router *r)
{
    if (!r)
        return;
    if (r->table) {
        for (size_t i = 0; i < OKS_ROUTER_MAX_INFLIGHT; i++)
            if (r->table[i].id)
                oks_router_pending_end(&r->table[i]);
        free(r->table);
    }
    for (size_t i = 0; r->monitors && i < OKS_MAX_SHARDS; i++)
        if (r->monitors[i])
            zmq_close(r->monitors[i]);
    free(r->monitors);
    for (size_t i = 0; r->shard_socks && i < OKS_MAX_SHARDS; i++)
        if (r->shard_socks[i]) {
            zmq_socket_monitor(r->shard_socks[i], NULL, 0);
            zmq_close(r->shard_socks[i]);
        }
    free(r->shard_socks);
    if (r->maps_in)
        zmq_close(r->maps_in);
    oks_router_map_drop(r->map);
    if (r->front)
        zmq_close(r->front);
    free(r);
}

int oks_router_maps_bind(oks_router *r, const char *endpoint, oks_err *e)
{
    r->maps_in = zmq_socket(r->zctx, ZMQ_PAIR);
    if (!r->maps_in || zmq_bind(r->maps_in, endpoint) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot bind %s: %s", endpoint,
                           zmq_strerror(errno));
    return 0;
}

void oks_router_apply_map(oks_router *r, oks_cluster *next)
{
    oks_err e;
    uint32_t applied = 0;
    int rc = oks_router_map_check(r->map->conf, next, &e);
    for (size_t i = r->map->conf->n_shards; rc == 0 && i < next->n_shards; i++) {
        oks_zsec_add_shard(next->shards[i].endpoint);
        rc = connect_shard(r, next, i, &e);
    }
    if (rc) {
        oks_log(OKS_LOG_ERROR, "router: map epoch %u refused: %s", next->epoch, e.msg);
        oks_cluster_release(next);
        free(next);
    } else {
        oks_router_map *old = r->map;
        r->map = oks_router_map_new(next, next, r->up, &r->maps_live);
        r->conf = next;
        oks_router_map_drop(old); /* freed now unless a request in flight still uses it */
        oks_log(OKS_LOG_INFO, "router: map epoch %u applied (%zu shards)", next->epoch,
                next->n_shards);
    }
    applied = r->conf->epoch; /* the next one's when applied, else the one in force */
    zmq_send(r->maps_in, &applied, sizeof applied, ZMQ_DONTWAIT);
}

zmq_pollitem_t *oks_router_poll_items(oks_router *r, int *n)
{
    size_t ns = r->conf->n_shards;
    zmq_pollitem_t *items = oks_xcalloc(2 * ns + 2, sizeof *items);
    items[0] = (zmq_pollitem_t){r->front, 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < ns; i++)
        items[i + 1] = (zmq_pollitem_t){r->shard_socks[i], 0, ZMQ_POLLIN, 0};
    int ni = (int)ns + 1;
    items[ni++] = (zmq_pollitem_t){r->maps_in, 0, r->maps_in ? ZMQ_POLLIN : 0, 0};
    for (size_t i = 0; i < ns; i++)
        if (r->monitors[i])
            items[ni++] = (zmq_pollitem_t){r->monitors[i], 0, ZMQ_POLLIN, 0};
    *n = ni;
    return items;
}


/*
 * The ZeroMQ bridge of one loop thread: a DEALER to the router whose descriptor is watched by
 * the h2o loop (H2O_SOCKET_FLAG_DONT_READ: h2o only notifies, ZeroMQ keeps its own signal),
 * requests matched to replies by id, and a deadline per request.
 * A request's entry (gw_ref, heap) lives until its reply or its deadline, whatever becomes of the
 * HTTP request: when the client resets the stream or closes the connection first, the entry is
 * orphaned (its req cleared through a holder in the request's pool) and still counts against the
 * client's requests in flight, so resetting streams cannot put more work on the cluster than
 * waiting for the answers would (the HTTP/2 rapid-reset attack).
 * The DEALER connects to every router (lib/proto.h, "client of the routers"): a request whose
 * router's connection dropped, or that got no answer within its per-try timeout, is sent again
 * under the same id until its deadline; a request made while no router is connected waits for
 * one until its deadline.
 */
#include "gw-http/gw.h"
#include "lib/xalloc.h"

#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Takes r out of the table and the deadline list and gives its client's slot back. Returns
 * whether the HTTP request is still there to be answered (then *r->holder is cleared). */
static bool finish_ref(gw_ref *r)
{
    gw_ref **slot = &r->t->table[r->id % GW_MAX_INFLIGHT];
    if (*slot == r)
        *slot = NULL;
    if (h2o_timeout_is_linked(&r->tmo))
        h2o_timeout_unlink(&r->tmo);
    if (h2o_timeout_is_linked(&r->retry))
        h2o_timeout_unlink(&r->retry);
    oks_buf_release(&r->body);
    if (r->ticket)
        gw_conns_inflight_release(r->ticket);
    if (!r->req)
        return false;
    *r->holder = NULL;
    return true;
}

/* The HTTP request is gone before its reply: the entry stays until the reply or deadline. */
static void on_dispose(void *p)
{
    gw_ref **holder = p;
    if (*holder) {
        (*holder)->req = NULL;
        atomic_fetch_add(&(*holder)->t->g->metrics.orphaned, 1);
    }
}

static gw_conn_ticket *ticket_of(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock && sock->on_close.cb == gw_on_conn_closed ? sock->on_close.data : NULL;
}

static void record_latency(gw *g, uint64_t us)
{
    static const uint64_t le_us[GW_LAT_BUCKETS] = {250,   500,    1000,   2500,   5000,   10000,
                                                   25000, 50000, 100000, 250000, 500000, 1000000};
    int b = 0;
    while (b < GW_LAT_BUCKETS && us > le_us[b])
        b++;
    atomic_fetch_add(&g->metrics.latency[b], 1);
    atomic_fetch_add(&g->metrics.latency_sum_us, us);
    atomic_fetch_add(&g->metrics.latency_count, 1);
}

static void drain(gw_thread *t)
{
    for (;;) {
        int ev = 0;
        size_t sz = sizeof ev;
        if (zmq_getsockopt(t->dealer, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
            return;
        oks_zframes m;
        if (oks_zrecv(t->dealer, &m, ZMQ_DONTWAIT) != 0)
            return;
        if (m.n == 2 && zmq_msg_size(&m.f[0]) == sizeof(uint64_t)) {
            uint64_t id;
            memcpy(&id, zmq_msg_data(&m.f[0]), sizeof id);
            gw_ref *r = t->table[id % GW_MAX_INFLIGHT];
            if (r && r->id == id) {
                record_latency(t->g, oks_now_us() - r->sent_us);
                if (finish_ref(r)) {
                    oks_slice body = oks_zframe(&m, 1);
                    Oks__Response *resp;
                    oks_err e;
                    if (oks_proto_response_unpack(body.ptr, body.len,
                                                  t->g->cluster.max_message_bytes, &resp,
                                                  &e) == 0) {
                        r->cb(r->req, r->data, resp, 0, NULL);
                        oks__response__free_unpacked(resp, NULL);
                    } else {
                        r->cb(r->req, r->data, NULL, 503, "garbled reply from the cluster");
                    }
                }
                free(r);
            }
        }
        oks_zframes_close(&m);
    }
}

static void on_zmq_ready(h2o_socket_t *sock, const char *err)
{
    (void)err;
    drain(sock->data);
}

static void on_drain_timer(h2o_timeout_entry_t *entry)
{
    gw_thread *t = H2O_STRUCT_FROM_MEMBER(gw_thread, drain_entry, entry);
    drain(t);
}

/* Sends r (again); links its next try: the per-try timeout while another router may answer,
 * or a short wait when no router is connected. */
static void send_ref(gw_ref *r)
{
    gw_thread *t = r->t;
    oks_slice parts[2] = {oks_slice_of(&r->id, sizeof r->id), oks_slice_of(r->body.data,
                                                                           r->body.len)};
    if (h2o_timeout_is_linked(&r->retry))
        h2o_timeout_unlink(&r->retry);
    if (oks_zsend(t->dealer, parts, 2, ZMQ_DONTWAIT) != 0) {
        h2o_timeout_link(t->ctx.loop, &t->wait_tmo, &r->retry);
        return;
    }
    if (r->tries++)
        atomic_fetch_add(&t->g->metrics.router_resent, 1);
    if (r->tries < t->g->cluster.n_routers + r->lost)
        h2o_timeout_link(t->ctx.loop, &t->try_tmo, &r->retry);
    /* a send can consume the descriptor's edge while replies are queued: drain soon */
    if (!h2o_timeout_is_linked(&t->drain_entry))
        h2o_timeout_link(t->ctx.loop, &t->ctx.zero_timeout, &t->drain_entry);
}

static void on_retry(h2o_timeout_entry_t *entry)
{
    send_ref(H2O_STRUCT_FROM_MEMBER(gw_ref, retry, entry));
}

/* A router's connection dropped: what it was asked will not be answered by it. Every request
 * out is sent again, 100 ms later (wait_tmo): right at the event the DEALER may still hand a
 * message to the dropped pipe, where it is lost. Answers are matched by id, a second one is
 * dropped; each drop also allows one more try, so a resend lost all the same is sent again
 * when its try time ends instead of waiting for the deadline. */
static void on_zmon_ready(h2o_socket_t *sock, const char *err)
{
    (void)err;
    gw_thread *t = sock->data;
    if (!oks_client_monitor_disconnected(t->zmon))
        return;
    atomic_fetch_add(&t->g->metrics.router_drops, 1);
    for (size_t i = 0; i < GW_MAX_INFLIGHT; i++) {
        gw_ref *r = t->table[i];
        if (!r || r->tries > t->g->cluster.n_routers + 1)
            continue;
        r->lost++;
        if (h2o_timeout_is_linked(&r->retry))
            h2o_timeout_unlink(&r->retry);
        h2o_timeout_link(t->ctx.loop, &t->wait_tmo, &r->retry);
    }
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    gw_ref *r = H2O_STRUCT_FROM_MEMBER(gw_ref, tmo, entry);
    if (finish_ref(r))
        r->cb(r->req, r->data, NULL, 503, "the cluster did not answer in time");
    free(r);
}

int gw_bridge_start(gw_thread *t)
{
    t->dealer = zmq_socket(t->g->zctx, ZMQ_DEALER);
    if (!t->dealer)
        return -1;
    oks_zsock_defaults(t->dealer, t->g->cluster.max_message_bytes);
    oks_err e;
    if (oks_client_connect_routers(t->dealer, (const char(*)[256])t->g->cluster.routers,
                                   t->g->cluster.n_routers, &e) != 0) {
        oks_error("%s", e.msg);
        return -1;
    }
    int zfd;
    size_t sz = sizeof zfd;
    zmq_getsockopt(t->dealer, ZMQ_FD, &zfd, &sz);
    t->zsock = h2o_evloop_socket_create(t->ctx.loop, dup(zfd), H2O_SOCKET_FLAG_DONT_READ);
    t->zsock->data = t;
    h2o_socket_read_start(t->zsock, on_zmq_ready);
    t->zmon = oks_client_monitor_new(t->g->zctx, t->dealer);
    if (t->zmon && zmq_getsockopt(t->zmon, ZMQ_FD, &zfd, &sz) == 0) {
        t->zmon_sock = h2o_evloop_socket_create(t->ctx.loop, dup(zfd), H2O_SOCKET_FLAG_DONT_READ);
        t->zmon_sock->data = t;
        h2o_socket_read_start(t->zmon_sock, on_zmon_ready);
    }
    h2o_timeout_init(t->ctx.loop, &t->deadline, t->g->conf.deadline_ms);
    h2o_timeout_init(t->ctx.loop, &t->try_tmo, oks_client_try_ms(t->g->conf.deadline_ms));
    h2o_timeout_init(t->ctx.loop, &t->wait_tmo, 100);
    t->drain_entry.cb = on_drain_timer;
    t->next_id = 1;
    return 0;
}

int gw_call(h2o_req_t *req, Oks__Request *q, gw_cont cb, void *data)
{
    gw_thread *t = gw_thread_of(req);
    uint64_t id = t->next_id++;
    if (t->table[id % GW_MAX_INFLIGHT]) {
        gw_error(req, 503, "gateway overloaded, try again");
        return -1;
    }
    gw_conn_ticket *ticket = ticket_of(req);
    if (ticket && !gw_conns_inflight_take(ticket, t->g->conf.max_inflight_per_client)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("1"));
        gw_error(req, 429, "too many requests of this client in flight, wait for their answers");
        return -1;
    }
    gw_ref *r = oks_xcalloc(1, sizeof *r);
    gw_ref **holder = h2o_mem_alloc_shared(&req->pool, sizeof *holder, on_dispose);
    if (!r) {
        *holder = NULL;
        if (ticket)
            gw_conns_inflight_release(ticket);
        gw_error(req, 503, "gateway out of memory");
        return -1;
    }
    *holder = r;
    r->holder = holder;
    r->ticket = ticket;
    r->req = req;
    r->id = id;
    r->cb = cb;
    r->data = data;
    r->t = t;
    q->version = OKS_PROTO_VERSION;
    if (!q->deadline_ms || q->deadline_ms > t->g->conf.deadline_ms)
        q->deadline_ms = t->g->conf.deadline_ms > 200 ? t->g->conf.deadline_ms - 100 : 100;
    r->body = (oks_buf)OKS_BUF_INIT;
    oks_proto_pack_request(q, &r->body);
    r->retry.cb = on_retry;
    t->table[id % GW_MAX_INFLIGHT] = r;
    r->sent_us = oks_now_us();
    r->tmo.cb = on_deadline;
    h2o_timeout_link(t->ctx.loop, &t->deadline, &r->tmo);
    send_ref(r);
    return 0;
}

/* Protocol glue: limits, versions, error replies, ZeroMQ frames, router client (see proto.h). */
#include "lib/proto.h"
#include "lib/xalloc.h"
#include "lib/cluster.h"
#include "lib/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include "lib/zsec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int oks_proto_request_unpack(const uint8_t *p, size_t n, size_t max, Oks__Request **out,
                             oks_err *e)
{
    *out = NULL;
    if (n > max)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "request of %zu bytes over the %zu limit",
                           n, max);
    Oks__Request *r = oks__request__unpack(NULL, n, p);
    if (!r)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "request is not a valid message");
    if (r->version != OKS_PROTO_VERSION) {
        unsigned v = r->version;
        oks__request__free_unpacked(r, NULL);
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "protocol version %u not supported (this server speaks %d)", v,
                           OKS_PROTO_VERSION);
    }
    if (r->op_case == OKS__REQUEST__OP__NOT_SET) {
        /* a field this schema does not know: most likely an operation of a newer schema */
        uint32_t unknown = r->base.n_unknown_fields ? r->base.unknown_fields[0].tag : 0;
        oks__request__free_unpacked(r, NULL);
        if (unknown)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "request names no operation this server knows (unknown field %u)",
                               unknown);
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "request names no operation");
    }
    *out = r;
    return 0;
}

int oks_proto_response_unpack(const uint8_t *p, size_t n, size_t max, Oks__Response **out,
                              oks_err *e)
{
    *out = NULL;
    if (n > max)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "response of %zu bytes over the %zu limit", n, max);
    Oks__Response *r = oks__response__unpack(NULL, n, p);
    if (!r)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "response is not a valid message");
    *out = r;
    return 0;
}

int oks_proto_pack_request(const Oks__Request *r, oks_buf *out)
{
    size_t n = oks__request__get_packed_size(r);
    int rc = oks_buf_reserve(out, n);
    if (rc)
        return rc;
    out->len += oks__request__pack(r, out->data + out->len);
    return 0;
}

int oks_proto_pack_response(const Oks__Response *r, oks_buf *out)
{
    size_t n = oks__response__get_packed_size(r);
    int rc = oks_buf_reserve(out, n);
    if (rc)
        return rc;
    out->len += oks__response__pack(r, out->data + out->len);
    return 0;
}

int oks_proto_pack_error(Oks__Status st, const char *msg, oks_buf *out)
{
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    r.status = st;
    r.error = (char *)(msg ? msg : "");
    return oks_proto_pack_response(&r, out);
}

Oks__Status oks_proto_status_of(int code)
{
    switch (code) {
    case 0: return OKS__STATUS__STATUS_OK;
    case OKS_E_NOTFOUND: return OKS__STATUS__STATUS_NOT_FOUND;
    case OKS_E_LIMIT: return OKS__STATUS__STATUS_TOO_LARGE;
    case OKS_E_UNSUPPORTED: return OKS__STATUS__STATUS_BAD_VERSION;
    case OKS_E_UNAVAILABLE: return OKS__STATUS__STATUS_UNAVAILABLE;
    case OKS_E_TIMEOUT: return OKS__STATUS__STATUS_TIMEOUT;
    case OKS_E_STATE: return OKS__STATUS__STATUS_WRONG_SHARD;
    case OKS_E_IO:
    case OKS_E_NOMEM: return OKS__STATUS__STATUS_INTERNAL;
    default: return OKS__STATUS__STATUS_BAD_REQUEST;
    }
}

const char *oks_proto_status_name(Oks__Status st)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&oks__status__descriptor, st);
    return v ? v->name : "STATUS_UNKNOWN";
}

int oks_zrecv(void *sock, oks_zframes *m, int flags)
{
    m->n = 0;
    m->truncated = 0;
    int more;
    do {
        zmq_msg_t tmp, *dst = m->n < OKS_ZMAX_FRAMES ? &m->f[m->n] : &tmp;
        zmq_msg_init(dst);
        int r;
        while ((r = zmq_msg_recv(dst, sock, m->n == 0 ? flags : 0)) < 0 && errno == EINTR)
            ;
        if (r < 0) {
            int err = errno;
            zmq_msg_close(dst);
            oks_zframes_close(m);
            errno = err;
            return -1;
        }
        more = zmq_msg_more(dst);
        if (dst == &tmp) {
            zmq_msg_close(&tmp);
            m->truncated = 1;
        } else {
            m->n++;
        }
    } while (more);
    return 0;
}

void oks_zframes_close(oks_zframes *m)
{
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(&m->f[i]);
    m->n = 0;
}

int oks_zsend(void *sock, const oks_slice *parts, size_t n, int flags)
{
    for (size_t i = 0; i < n; i++) {
        int f = flags | (i + 1 < n ? ZMQ_SNDMORE : 0);
        int r;
        while ((r = zmq_send(sock, parts[i].ptr, parts[i].len, f)) < 0 && errno == EINTR)
            ;
        if (r < 0)
            return -1;
    }
    return 0;
}

void oks_zsock_defaults(void *sock, size_t max_msg)
{
    int zero = 0, hwm = 100000;
    /* the transport cap is twice the protocol limit, so a message somewhat over the limit still
     * arrives and gets an error reply; far over it, ZeroMQ drops the connection */
    int64_t mx = max_msg ? 2 * (int64_t)max_msg + 4096 : -1;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &mx, sizeof mx);
}

/* A request sent and not yet answered, kept for sending again to another router. */
typedef struct client_req {
    uint64_t id;
    oks_buf body;       /* the packed request */
    uint64_t sent_ms;   /* last send; 0 = waiting for a connected router */
    uint64_t try_ms;    /* per-try timeout */
    uint64_t expire_ms; /* given up after this: no more sends */
    unsigned tries;
} client_req;

struct oks_client {
    void *sock, *mon;
    size_t max_msg;
    uint64_t next_id;
    size_t n_routers;
    unsigned deadline_ms; /* for requests that carry none */
    client_req *reqs;
    size_t n_reqs, cap_reqs;
    unsigned long resent;
};

int oks_client_connect_routers(void *sock, const char (*routers)[256], size_t n, oks_err *e)
{
    int one = 1, ivl = 100, ivl_max = 1000, hb_ivl = OKS_CLIENT_HEARTBEAT_IVL_MS,
        hb_tmo = OKS_CLIENT_HEARTBEAT_TIMEOUT_MS, ctmo = 1000;
    /* nothing is queued for a router that is not connected: a send goes to a live one */
    zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    zmq_setsockopt(sock, ZMQ_CONNECT_TIMEOUT, &ctmo, sizeof ctmo);
    /* a router that stops answering pings (host down, link cut: no RST) is disconnected */
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_tmo, sizeof hb_tmo);
    if (n == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "no router endpoint ([cluster] routers)");
    /* CURVE (lib/zsec.h): this process's keypair and the server key of the first endpoint
     * (every router shares the router key; a shard endpoint gets the shard key) */
    int rc = oks_zsec_client(sock, routers[0], e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (zmq_connect(sock, routers[i]) != 0)
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "cannot connect to %s: %s",
                               routers[i], zmq_strerror(errno));
    return 0;
}

void *oks_client_monitor_new(void *zctx, void *sock)
{
    static atomic_uint seq;
    char ep[80];
    snprintf(ep, sizeof ep, "inproc://oks-client-mon-%p-%u", sock, atomic_fetch_add(&seq, 1));
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_DISCONNECTED) != 0)
        return NULL;
    void *m = zmq_socket(zctx, ZMQ_PAIR);
    if (m && zmq_connect(m, ep) == 0) {
        /* ZMQ_FD signals only when the socket's command queue goes from empty to not empty:
         * process the commands of the connect now, or a caller polling the descriptor (an
         * event loop) never sees it become readable */
        int events;
        size_t sz = sizeof events;
        zmq_getsockopt(m, ZMQ_EVENTS, &events, &sz);
        return m;
    }
    if (m)
        zmq_close(m);
    zmq_socket_monitor(sock, NULL, 0);
    return NULL;
}

bool oks_client_monitor_disconnected(void *mon)
{
    bool any = false;
    oks_zframes m;
    while (mon && oks_zrecv(mon, &m, ZMQ_DONTWAIT) == 0) {
        uint16_t ev = 0;
        if (m.n >= 1 && zmq_msg_size(&m.f[0]) >= 2)
            memcpy(&ev, zmq_msg_data(&m.f[0]), 2);
        if (ev == ZMQ_EVENT_DISCONNECTED)
            any = true;
        oks_zframes_close(&m);
    }
    return any;
}

unsigned oks_client_try_ms(unsigned deadline_ms)
{
    unsigned t = deadline_ms / 2;
    return t < OKS_CLIENT_MIN_TRY_MS ? OKS_CLIENT_MIN_TRY_MS : t;
}

static oks_client *client_open(void *zctx, const char (*routers)[256], size_t n, size_t max_msg,
                               unsigned deadline_ms, oks_err *e)
{
    oks_client *c = oks_xcalloc(1, sizeof *c);
    c->sock = zmq_socket(zctx, ZMQ_DEALER);
    c->max_msg = max_msg ? max_msg : (64u << 20);
    c->n_routers = n;
    c->deadline_ms = deadline_ms ? deadline_ms : 5000;
    if (!c->sock) {
        oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "zmq_socket: %s", zmq_strerror(errno));
        free(c);
        return NULL;
    }
    oks_zsock_defaults(c->sock, c->max_msg);
    if (oks_client_connect_routers(c->sock, routers, n, e) != 0) {
        zmq_close(c->sock);
        free(c);
        return NULL;
    }
    c->mon = oks_client_monitor_new(zctx, c->sock);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->next_id = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
    return c;
}

oks_client *oks_client_new(void *zctx, const char *endpoint, size_t max_msg, oks_err *e)
{
    char one[1][256];
    if (snprintf(one[0], sizeof one[0], "%s", endpoint) >= (int)sizeof one[0]) {
        oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "endpoint longer than 255 bytes");
        return NULL;
    }
    return client_open(zctx, (const char(*)[256])one, 1, max_msg, 0, e);
}

oks_client *oks_client_new_routers(void *zctx, const oks_cluster *conf, oks_err *e)
{
    return client_open(zctx, (const char(*)[256])conf->routers, conf->n_routers,
                       conf->max_message_bytes, conf->router_deadline_ms, e);
}

static void req_drop(oks_client *c, size_t i)
{
    oks_buf_release(&c->reqs[i].body);
    c->reqs[i] = c->reqs[--c->n_reqs];
}

static void req_forget(oks_client *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_reqs; i++)
        if (c->reqs[i].id == id) {
            req_drop(c, i);
            return;
        }
}

void oks_client_free(oks_client *c)
{
    if (!c)
        return;
    while (c->n_reqs)
        req_drop(c, 0);
    free(c->reqs);
    if (c->mon) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->mon);
    }
    zmq_close(c->sock);
    free(c);
}

void *oks_client_socket(oks_client *c)
{
    return c->sock;
}

unsigned long oks_client_resent(const oks_client *c)
{
    return c->resent;
}

/* One send without waiting; false if no router is connected (then it waits for one). */
static bool req_send(oks_client *c, client_req *q, uint64_t now)
{
    oks_slice parts[2] = {oks_slice_of(&q->id, sizeof q->id), oks_slice_of(q->body.data,
                                                                           q->body.len)};
    if (oks_zsend(c->sock, parts, 2, ZMQ_DONTWAIT) != 0) {
        q->sent_ms = 0;
        return false;
    }
    if (q->tries++)
        c->resent++;
    q->sent_ms = now;
    return true;
}

/* Sends what is due: requests waiting for a router, requests whose try timed out (when
 * another router may answer), every request after a router's connection dropped. Drops
 * requests past their expiry. Returns the ms until the next try falls due (-1: none), and
 * whether a request waits for a connected router (*want_out). */
static long client_pump(oks_client *c, bool *want_out)
{
    uint64_t now = oks_now_ms();
    bool dropped = oks_client_monitor_disconnected(c->mon);
    long next = -1;
    *want_out = false;
    for (size_t i = 0; i < c->n_reqs;) {
        client_req *q = &c->reqs[i];
        if (now >= q->expire_ms) {
            req_drop(c, i);
            continue;
        }
        bool due = !q->sent_ms || (dropped && q->tries <= c->n_routers + 1) ||
                   (c->n_routers > 1 && q->tries < c->n_routers && now >= q->sent_ms + q->try_ms);
        if (due && !req_send(c, q, now))
            *want_out = true;
        if (q->sent_ms && c->n_routers > 1 && q->tries < c->n_routers) {
            long w = (long)(q->sent_ms + q->try_ms - now);
            if (next < 0 || w < next)
                next = w < 0 ? 0 : w;
        }
        i++;
    }
    return next;
}

/* Queues a request (packed once, kept for sending again) and sends it if a router is
 * connected. wait_ms: how long an answer is of use, which bounds its tries. */
static int client_enqueue(oks_client *c, uint64_t id, const Oks__Request *req, unsigned wait_ms,
                          oks_err *e)
{
    Oks__Request q = *req; /* shallow: only the version differs */
    q.version = OKS_PROTO_VERSION;
    if (c->n_reqs == c->cap_reqs) {
        size_t cap = c->cap_reqs ? 2 * c->cap_reqs : 16;
        c->reqs = oks_xrealloc(c->reqs, cap * sizeof *c->reqs);
        c->cap_reqs = cap;
    }
    client_req *r = &c->reqs[c->n_reqs];
    *r = (client_req){.id = id, .body = OKS_BUF_INIT};
    if (oks_proto_pack_request(&q, &r->body)) {
        oks_buf_release(&r->body);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "packing request");
    }
    c->n_reqs++;
    uint64_t now = oks_now_ms();
    r->try_ms = oks_client_try_ms(wait_ms);
    r->expire_ms = now + wait_ms;
    req_send(c, r, now); /* none connected yet: sent once one is */
    return 0;
}

int oks_client_send(oks_client *c, uint64_t id, const Oks__Request *req, oks_err *e)
{
    unsigned dl = req->deadline_ms ? req->deadline_ms : c->deadline_ms;
    return client_enqueue(c, id, req, dl + OKS_CLIENT_MIN_TRY_MS, e);
}

int oks_client_recv(oks_client *c, uint64_t *id, Oks__Response **resp, int timeout_ms, oks_err *e)
{
    *resp = NULL;
    uint64_t end = oks_now_ms() + (timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
    for (;;) {
        bool want_out;
        long next = client_pump(c, &want_out);
        long left = -1;
        if (timeout_ms >= 0) {
            uint64_t now = oks_now_ms();
            left = now >= end ? 0 : (long)(end - now);
        }
        long wait = left;
        if (next >= 0 && (wait < 0 || next < wait))
            wait = next;
        /* no pending try and no router connected: look again soon */
        if (want_out && (wait < 0 || wait > 100))
            wait = 100;
        oks_zframes m;
        if (timeout_ms == 0) {
            /* only what is there now: a receive that does not wait, without the poll(2) calls
             * of zmq_poll (event loops call this once per reply and once more to find none) */
            if (oks_zrecv(c->sock, &m, ZMQ_DONTWAIT) != 0) {
                if (left == 0)
                    return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "no reply waiting");
                continue;
            }
        } else {
            zmq_pollitem_t it[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
            int r = zmq_poll(it, c->mon ? 2 : 1, wait);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || !(it[0].revents & ZMQ_POLLIN)) {
                if (left == 0)
                    return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                                       "no reply from the router in %d ms", timeout_ms);
                continue;
            }
            if (oks_zrecv(c->sock, &m, ZMQ_DONTWAIT) != 0)
                continue;
        }
        if (m.n != 2 || zmq_msg_size(&m.f[0]) != sizeof *id) {
            oks_zframes_close(&m);
            continue; /* not a reply of ours */
        }
        memcpy(id, zmq_msg_data(&m.f[0]), sizeof *id);
        req_forget(c, *id);
        oks_slice body = oks_zframe(&m, 1);
        int rc = oks_proto_response_unpack(body.ptr, body.len, c->max_msg, resp, e);
        oks_zframes_close(&m);
        return rc;
    }
}

int oks_client_call(oks_client *c, const Oks__Request *req, Oks__Response **resp, int timeout_ms,
                    oks_err *e)
{
    uint64_t id = ++c->next_id, got;
    unsigned wait = timeout_ms >= 0 ? (unsigned)timeout_ms
                                    : (req->deadline_ms ? req->deadline_ms : c->deadline_ms) +
                                          OKS_CLIENT_MIN_TRY_MS;
    int r = client_enqueue(c, id, req, wait, e);
    if (r)
        return r;
    uint64_t t0 = oks_now_ms();
    for (;;) {
        int left = timeout_ms;
        if (timeout_ms >= 0) {
            uint64_t el = oks_now_ms() - t0;
            left = el >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int)el;
        }
        r = oks_client_recv(c, &got, resp, left, e);
        if (r || got == id) {
            req_forget(c, id);
            return r;
        }
        oks__response__free_unpacked(*resp, NULL);
        *resp = NULL;
    }
}

Oks__Status oks_proto_peek_status(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (int field = 0; field < 2 && i < n; field++) {
        uint8_t tag = p[i++];
        uint64_t v = 0;
        for (int shift = 0; i < n && shift < 64; shift += 7) {
            uint8_t b = p[i++];
            v |= (uint64_t)(b & 0x7F) << shift;
            if (!(b & 0x80))
                break;
        }
        if (tag == (2 << 3))
            return (Oks__Status)v;
        if (tag != (1 << 3))
            break;
    }
    return OKS__STATUS__STATUS_OK;
}

bool oks_proto_status_unavailable(Oks__Status st)
{
    return st == OKS__STATUS__STATUS_UNAVAILABLE || st == OKS__STATUS__STATUS_TIMEOUT ||
           st == OKS__STATUS__STATUS_INTERNAL || st == OKS__STATUS__STATUS_WRONG_SHARD;
}

int oks_client_call_checked(oks_client *c, const Oks__Request *req, Oks__Response **resp,
                            int timeout_ms, enum oks_call_accept acc, oks_err *e)
{
    int rc = oks_client_call(c, req, resp, timeout_ms, e);
    if (rc)
        return rc;
    Oks__Response *r = *resp;
    bool refused = acc == OKS_CALL_OK_ONLY ? r->status != OKS__STATUS__STATUS_OK
                                           : oks_proto_status_unavailable(r->status);
    if (!refused)
        return 0;
    rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "router: %s: %s",
                     oks_proto_status_name(r->status), r->error ? r->error : "");
    oks__response__free_unpacked(r, NULL);
    *resp = NULL;
    return rc;
}

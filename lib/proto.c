/* Protocol glue: limits, versions, error replies, ZeroMQ frames, router client (see proto.h). */
#include "lib/proto.h"
#include "lib/xalloc.h"
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

struct oks_client {
    void *sock;
    size_t max_msg;
    uint64_t next_id;
};

oks_client *oks_client_new(void *zctx, const char *endpoint, size_t max_msg, oks_err *e)
{
    oks_client *c = oks_xcalloc(1, sizeof *c);
    c->sock = zmq_socket(zctx, ZMQ_DEALER);
    c->max_msg = max_msg ? max_msg : (64u << 20);
    if (!c->sock) {
        oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "zmq_socket: %s", zmq_strerror(errno));
        free(c);
        return NULL;
    }
    oks_zsock_defaults(c->sock, c->max_msg);
    if (oks_zsec_client(c->sock, endpoint, e) != 0) { /* CURVE keys (lib/zsec.h) */
        zmq_close(c->sock);
        free(c);
        return NULL;
    }
    if (zmq_connect(c->sock, endpoint) != 0) {
        oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "cannot connect to %s: %s", endpoint,
                    zmq_strerror(errno));
        zmq_close(c->sock);
        free(c);
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->next_id = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
    return c;
}

void oks_client_free(oks_client *c)
{
    if (!c)
        return;
    zmq_close(c->sock);
    free(c);
}

void *oks_client_socket(oks_client *c)
{
    return c->sock;
}

int oks_client_send(oks_client *c, uint64_t id, const Oks__Request *req, oks_err *e)
{
    Oks__Request q = *req; /* shallow: only the version differs */
    q.version = OKS_PROTO_VERSION;
    oks_buf b = OKS_BUF_INIT;
    if (oks_proto_pack_request(&q, &b)) {
        oks_buf_release(&b);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "packing request");
    }
    oks_slice parts[2] = {oks_slice_of(&id, sizeof id), oks_slice_of(b.data, b.len)};
    int r = oks_zsend(c->sock, parts, 2, 0);
    oks_buf_release(&b);
    if (r)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "send: %s", zmq_strerror(errno));
    return 0;
}

int oks_client_recv(oks_client *c, uint64_t *id, Oks__Response **resp, int timeout_ms, oks_err *e)
{
    *resp = NULL;
    for (;;) {
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        int r = zmq_poll(&it, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "no reply from the router in %d ms",
                               timeout_ms);
        oks_zframes m;
        if (oks_zrecv(c->sock, &m, ZMQ_DONTWAIT) != 0)
            continue;
        if (m.n != 2 || zmq_msg_size(&m.f[0]) != sizeof *id) {
            oks_zframes_close(&m);
            continue; /* not a reply of ours */
        }
        memcpy(id, zmq_msg_data(&m.f[0]), sizeof *id);
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
    int r = oks_client_send(c, id, req, e);
    if (r)
        return r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int left = timeout_ms;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
            left = el >= timeout_ms ? 0 : timeout_ms - (int)el;
        }
        r = oks_client_recv(c, &got, resp, left, e);
        if (r)
            return r;
        if (got == id)
            return 0;
        oks__response__free_unpacked(*resp, NULL);
        *resp = NULL;
    }
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

/*
 * The event loop of oks-gw-dns: one thread, zmq_poll over the UDP socket, the TCP listener, the
 * TCP connections and the DEALER to the routers (lib/proto.h client: failover and resends).
 * Nothing in it blocks: a query that needs the cluster becomes a pending entry (by request id)
 * answered when the reply comes, or with SERVFAIL at its deadline.
 * TCP: 2-byte length framing, at most [dns] max_tcp connections, each closed after tcp_idle_ms
 * without traffic; a connection with GWD_TCP_PIPELINE queries out is not read until they are
 * answered, and one whose unsent answers pass GWD_TCP_OUT_MAX is closed.
 */
#include "gw-dns/dns.h"

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/proto.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libknot/libknot.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GWD_PENDING 4096
#define GWD_TCP_PIPELINE 16
#define GWD_TCP_OUT_MAX (256u << 10)
#define GWD_UDP_BATCH 64
#define GWD_POS_CACHE_MS 60000u

typedef struct tcp_conn {
    int fd;
    uint32_t gen;
    uint8_t in[2 + 65535];
    size_t in_len;
    oks_buf out;
    size_t out_off;
    uint64_t last_ms;
    unsigned pending;
} tcp_conn;

typedef struct pend {
    uint64_t id, deadline_ms;
    int conn; /* -1: UDP */
    uint32_t gen;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    gwd_query q;
    uint8_t head[KNOT_WIRE_HEADER_SIZE];
    gwd_name name;
} pend;

typedef struct srv {
    const oks_cluster *conf;
    const oks_conf_dns *dc;
    gwd_zones zones;
    gwd_soa soa;
    unsigned deadline_ms;
    int udp, tcp;
    tcp_conn *conns;
    size_t n_conns;
    uint32_t next_gen;
    oks_client *client;
    uint64_t next_id;
    pend *pending[GWD_PENDING];
    gwd_cache *cache;
    gwd_rrl *rrl;
    uint8_t buf[65535];
    gwd_records recs;
} srv;

static int bind_socket(const char *host, unsigned port, int type, oks_err *e)
{
    struct addrinfo hints = {.ai_socktype = type, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    int r = getaddrinfo(host, ps, &hints, &ai);
    if (r)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "[dns] listen %s: %s", host,
                           gai_strerror(r));
    int fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        (type == SOCK_STREAM && listen(fd, 128) != 0)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "[dns] listen %s:%u (%s): %s", host, port,
                           type == SOCK_STREAM ? "tcp" : "udp", strerror(err));
    }
    freeaddrinfo(ai);
    return fd;
}

/* ---- sending answers --------------------------------------------------------------------- */

static void conn_close(srv *s, size_t i)
{
    tcp_conn *c = &s->conns[i];
    close(c->fd);
    oks_buf_release(&c->out);
    c->fd = -1;
    c->in_len = 0;
    c->out_off = 0;
    c->pending = 0;
}

static void conn_flush(srv *s, size_t i)
{
    tcp_conn *c = &s->conns[i];
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (w <= 0) {
            conn_close(s, i);
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    }
}

static void send_tcp(srv *s, size_t i, const uint8_t *p, size_t n)
{
    tcp_conn *c = &s->conns[i];
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    if (c->out.len - c->out_off + n + 2 > GWD_TCP_OUT_MAX || oks_buf_append(&c->out, len, 2) ||
        oks_buf_append(&c->out, p, n)) {
        conn_close(s, i);
        return;
    }
    c->last_ms = oks_now_ms();
    conn_flush(s, i);
}

/* Writes and sends the answer of q to its client (UDP under RRL, or TCP connection conn). */
static void respond(srv *s, const uint8_t *qhead, const gwd_query *q, int conn,
                    const struct sockaddr *peer, socklen_t peer_len, int rcode,
                    const gwd_records *recs, const char *zone)
{
    size_t cap = gwd_answer_cap(q, conn >= 0);
    if (conn < 0) {
        enum gwd_rrl_verdict v = gwd_rrl_check(s->rrl, peer, oks_now_ms());
        if (v == GWD_RRL_DROP)
            return;
        if (v == GWD_RRL_SLIP)
            cap = 0; /* gwd_answer below with nothing: TC=1 */
    }
    size_t n;
    if (cap == 0) {
        n = gwd_answer(qhead, q, KNOT_RCODE_NOERROR, NULL, 0, NULL, &s->soa, s->buf,
                       KNOT_WIRE_MIN_PKTSIZE);
        if (n >= KNOT_WIRE_HEADER_SIZE)
            knot_wire_set_tc(s->buf);
    } else {
        n = gwd_answer(qhead, q, rcode, recs, s->dc->ttl, zone, &s->soa, s->buf, cap);
    }
    if (n == 0)
        return;
    if (conn >= 0)
        send_tcp(s, (size_t)conn, s->buf, n);
    else
        sendto(s->udp, s->buf, n, MSG_DONTWAIT, peer, peer_len);
}

/* ---- answering --------------------------------------------------------------------------- */

/* The answer of a name whose lookup result (rcode, records) is known. */
static void answer_owner(srv *s, const uint8_t *head, const gwd_query *q, const gwd_name *nm,
                         int conn, const struct sockaddr *peer, socklen_t pl, int rcode,
                         const gwd_records *recs)
{
    const char *zone = s->zones.names[nm->zone];
    bool want = q->qtype == KNOT_RRTYPE_OPENPGPKEY || q->qtype == KNOT_RRTYPE_ANY;
    if (rcode == KNOT_RCODE_NOERROR && !want)
        respond(s, head, q, conn, peer, pl, rcode, NULL, zone); /* NODATA */
    else
        respond(s, head, q, conn, peer, pl, rcode, recs, zone);
}

static void tcp_input(srv *s, size_t i);

static void lookup_done(srv *s, pend *p, Oks__Response *r)
{
    gwd_records *recs = &s->recs;
    recs->n = 0;
    recs->data.len = 0;
    recs->type = 0;
    int rcode = KNOT_RCODE_SERVFAIL;
    if (r && (r->status == OKS__STATUS__STATUS_OK || r->status == OKS__STATUS__STATUS_NOT_FOUND)) {
        const char *zone = s->zones.names[p->name.zone];
        oks_buf one = OKS_BUF_INIT;
        uint32_t now = (uint32_t)time(NULL);
        for (size_t i = 0; i < r->n_keys && recs->n < s->dc->max_records; i++) {
            oks_err e;
            one.len = 0;
            if (gwd_minimise(r->keys[i]->data.data, r->keys[i]->data.len, p->name.hash, zone, now,
                             &one, &e) == 1)
                gwd_records_add(recs, one.data, one.len);
        }
        oks_buf_release(&one);
        rcode = recs->n ? KNOT_RCODE_NOERROR : KNOT_RCODE_NXDOMAIN;
        uint64_t keep = recs->n ? GWD_POS_CACHE_MS : (uint64_t)s->dc->negative_ttl * 1000;
        if (keep > (uint64_t)s->dc->ttl * 1000)
            keep = (uint64_t)s->dc->ttl * 1000;
        gwd_cache_put(s->cache, p->name.hash, p->name.zone, oks_now_ms() + keep, rcode, recs);
    } else if (r) {
        oks_warn("lookup %s: %s: %s", p->name.hash, oks_proto_status_name(r->status),
                 r->error ? r->error : "");
    }
    if (p->conn >= 0) {
        tcp_conn *c = &s->conns[p->conn];
        if (c->fd < 0 || c->gen != p->gen)
            return;
        c->pending--;
    }
    answer_owner(s, p->head, &p->q, &p->name, p->conn, (struct sockaddr *)&p->peer, p->peer_len,
                 rcode, recs);
    if (p->conn >= 0)
        tcp_input(s, (size_t)p->conn); /* queries held back by the pipeline cap */
}

static void start_lookup(srv *s, const uint8_t *head, const gwd_query *q, const gwd_name *nm,
                         int conn, const struct sockaddr *peer, socklen_t pl)
{
    uint64_t id = ++s->next_id;
    pend **slot = &s->pending[id % GWD_PENDING];
    if (*slot) {
        respond(s, head, q, conn, peer, pl, KNOT_RCODE_SERVFAIL, NULL, NULL);
        return;
    }
    char text[GWD_HASH_HEX + 1 + 256];
    snprintf(text, sizeof text, "%s@%s", nm->hash, s->zones.names[nm->zone]);
    Oks__Request rq = OKS__REQUEST__INIT;
    Oks__Search sr = OKS__SEARCH__INIT;
    rq.op_case = OKS__REQUEST__OP_SEARCH;
    rq.search = &sr;
    rq.version = OKS_PROTO_VERSION;
    rq.deadline_ms = s->deadline_ms > 200 ? s->deadline_ms - 100 : 100;
    sr.text = text;
    sr.kind = OKS__SEARCH_KIND__SEARCH_DANE;
    sr.limit = s->dc->max_records;
    oks_err e;
    if (oks_client_send(s->client, id, &rq, &e)) {
        oks_warn("router: %s", e.msg);
        respond(s, head, q, conn, peer, pl, KNOT_RCODE_SERVFAIL, NULL, NULL);
        return;
    }
    pend *p = oks_xcalloc(1, sizeof *p);
    p->id = id;
    p->deadline_ms = oks_now_ms() + s->deadline_ms;
    p->conn = conn;
    if (conn >= 0) {
        p->gen = s->conns[conn].gen;
        s->conns[conn].pending++;
    } else {
        memcpy(&p->peer, peer, pl);
        p->peer_len = pl;
    }
    p->q = *q;
    memcpy(p->head, head, sizeof p->head);
    p->name = *nm;
    *slot = p;
}

/* One query from a client: answered at once, or a lookup started. */
static void handle(srv *s, const uint8_t *wire, size_t n, int conn, const struct sockaddr *peer,
                   socklen_t pl)
{
    gwd_query q;
    if (gwd_query_parse(wire, n, &q))
        return;
    if (q.rcode >= 0) {
        respond(s, wire, &q, conn, peer, pl, q.rcode, NULL, NULL);
        return;
    }
    gwd_name nm;
    gwd_name_classify(&s->zones, q.qname, &nm);
    if (nm.kind == GWD_NAME_OUTSIDE || (q.qclass != KNOT_CLASS_IN && q.qclass != KNOT_CLASS_ANY)) {
        respond(s, wire, &q, conn, peer, pl, KNOT_RCODE_REFUSED, NULL, NULL);
        return;
    }
    const char *zone = s->zones.names[nm.zone];
    if (nm.kind == GWD_NAME_OTHER) {
        respond(s, wire, &q, conn, peer, pl, KNOT_RCODE_NXDOMAIN, NULL, zone);
        return;
    }
    if (nm.kind == GWD_NAME_APEX) {
        gwd_records *recs = NULL;
        if (q.qtype == KNOT_RRTYPE_SOA || q.qtype == KNOT_RRTYPE_ANY) {
            uint8_t rd[2 * KNOT_DNAME_MAXLEN + 20];
            size_t sl = gwd_soa_rdata(zone, &s->soa, rd, sizeof rd);
            recs = &s->recs;
            recs->n = 0;
            recs->data.len = 0;
            recs->type = KNOT_RRTYPE_SOA;
            if (!sl || gwd_records_add(recs, rd, sl))
                recs = NULL;
        }
        respond(s, wire, &q, conn, peer, pl, KNOT_RCODE_NOERROR, recs, zone);
        return;
    }
    int rcode;
    if (gwd_cache_get(s->cache, nm.hash, nm.zone, oks_now_ms(), &rcode, &s->recs)) {
        answer_owner(s, wire, &q, &nm, conn, peer, pl, rcode, &s->recs);
        return;
    }
    start_lookup(s, wire, &q, &nm, conn, peer, pl);
}

/* ---- I/O --------------------------------------------------------------------------------- */

static void read_udp(srv *s)
{
    for (int k = 0; k < GWD_UDP_BATCH; k++) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        uint8_t in[65535];
        ssize_t n = recvfrom(s->udp, in, sizeof in, MSG_DONTWAIT, (struct sockaddr *)&peer, &pl);
        if (n < 0)
            return;
        handle(s, in, (size_t)n, -1, (struct sockaddr *)&peer, pl);
    }
}

static void accept_tcp(srv *s)
{
    for (;;) {
        int fd = accept4(s->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        size_t i = 0;
        while (i < s->n_conns && s->conns[i].fd >= 0)
            i++;
        if (i == s->n_conns) {
            close(fd); /* at max_tcp */
            continue;
        }
        tcp_conn *c = &s->conns[i];
        c->fd = fd;
        c->gen = ++s->next_gen;
        c->in_len = 0;
        c->out = (oks_buf)OKS_BUF_INIT;
        c->out_off = 0;
        c->pending = 0;
        c->last_ms = oks_now_ms();
    }
}

/* Answers or starts the complete queries buffered on connection i, up to the pipeline cap. */
static void tcp_input(srv *s, size_t i)
{
    tcp_conn *c = &s->conns[i];
    size_t off = 0;
    while (c->fd >= 0 && c->in_len - off >= 2 && c->pending < GWD_TCP_PIPELINE) {
        size_t ml = (size_t)c->in[off] << 8 | c->in[off + 1];
        if (c->in_len - off - 2 < ml)
            break;
        handle(s, c->in + off + 2, ml, (int)i, NULL, 0);
        off += 2 + ml;
    }
    if (c->fd >= 0 && off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void read_tcp(srv *s, size_t i)
{
    tcp_conn *c = &s->conns[i];
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(s, i);
        return;
    }
    c->in_len += (size_t)n;
    c->last_ms = oks_now_ms();
    tcp_input(s, i);
}

static void drain_cluster(srv *s)
{
    for (int k = 0; k < 256; k++) {
        uint64_t id;
        Oks__Response *r;
        oks_err e;
        int rc = oks_client_recv(s->client, &id, &r, 0, &e);
        if (rc == OKS_E_TIMEOUT)
            return;
        pend **slot = &s->pending[id % GWD_PENDING];
        pend *p = *slot;
        if (p && p->id == id) {
            *slot = NULL;
            lookup_done(s, p, rc ? NULL : r);
            free(p);
        }
        if (r)
            oks__response__free_unpacked(r, NULL);
    }
}

static void expire(srv *s, uint64_t now)
{
    for (size_t i = 0; i < GWD_PENDING; i++) {
        pend *p = s->pending[i];
        if (p && p->deadline_ms <= now) {
            s->pending[i] = NULL;
            lookup_done(s, p, NULL);
            free(p);
        }
    }
    for (size_t i = 0; i < s->n_conns; i++)
        if (s->conns[i].fd >= 0 && s->conns[i].last_ms + s->dc->tcp_idle_ms <= now)
            conn_close(s, i);
}

static int loop(srv *s, atomic_int *stop)
{
    size_t nit = 3 + s->n_conns;
    zmq_pollitem_t *it = oks_xcalloc(nit, sizeof *it);
    size_t *idx = oks_xcalloc(nit, sizeof *idx);
    uint64_t last_expire = oks_now_ms();
    while (!atomic_load(stop)) {
        it[0] = (zmq_pollitem_t){NULL, s->udp, ZMQ_POLLIN, 0};
        it[1] = (zmq_pollitem_t){NULL, s->tcp, ZMQ_POLLIN, 0};
        it[2] = (zmq_pollitem_t){oks_client_socket(s->client), 0, ZMQ_POLLIN, 0};
        size_t n = 3;
        for (size_t i = 0; i < s->n_conns; i++) {
            tcp_conn *c = &s->conns[i];
            if (c->fd < 0)
                continue;
            short ev = c->pending < GWD_TCP_PIPELINE ? ZMQ_POLLIN : 0;
            if (c->out.len > c->out_off)
                ev |= ZMQ_POLLOUT;
            idx[n] = i;
            it[n++] = (zmq_pollitem_t){NULL, c->fd, ev, 0};
        }
        int r = zmq_poll(it, (int)n, 100);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (it[0].revents & ZMQ_POLLIN))
            read_udp(s);
        if (r > 0 && (it[1].revents & ZMQ_POLLIN))
            accept_tcp(s);
        for (size_t k = 3; r > 0 && k < n; k++) {
            size_t i = idx[k];
            if (s->conns[i].fd >= 0 && (it[k].revents & ZMQ_POLLOUT))
                conn_flush(s, i);
            if (s->conns[i].fd >= 0 && (it[k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                read_tcp(s, i);
        }
        /* always: the client resends requests whose router went away */
        drain_cluster(s);
        uint64_t now = oks_now_ms();
        if (now - last_expire >= 50) {
            expire(s, now);
            last_expire = now;
        }
    }
    free(it);
    free(idx);
    return 0;
}

int gwd_run(const oks_cluster *conf, const char *listen_at, atomic_int *stop, void *zctx,
            oks_err *e)
{
    srv *s = oks_xcalloc(1, sizeof *s);
    s->conf = conf;
    s->dc = &conf->dns;
    int rc = gwd_zones_parse(&s->zones, s->dc->domains, e);
    if (!rc && s->zones.n == 0)
        rc = oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "[dns] domains names no domain");
    oks_hostport hp = s->dc->listen;
    if (!rc && listen_at)
        rc = oks_hostport_parse(listen_at, &hp, e);
    if (rc) {
        free(s);
        return rc;
    }
    snprintf(s->soa.mname, sizeof s->soa.mname, "%s", s->dc->soa_mname);
    snprintf(s->soa.rname, sizeof s->soa.rname, "%s", s->dc->soa_rname);
    s->soa.serial = s->dc->soa_serial;
    s->soa.refresh = s->dc->soa_refresh;
    s->soa.retry = s->dc->soa_retry;
    s->soa.expire = s->dc->soa_expire;
    s->soa.minimum = s->dc->negative_ttl;
    s->deadline_ms = s->dc->deadline_ms ? s->dc->deadline_ms : conf->router_deadline_ms + 500;
    s->udp = bind_socket(hp.host, hp.port, SOCK_DGRAM, e);
    if (s->udp < 0) {
        rc = s->udp;
        free(s);
        return rc;
    }
    s->tcp = bind_socket(hp.host, hp.port, SOCK_STREAM, e);
    if (s->tcp < 0) {
        rc = s->tcp;
        close(s->udp);
        free(s);
        return rc;
    }
    s->client = oks_client_new_routers(zctx, conf, e);
    if (!s->client) {
        close(s->udp);
        close(s->tcp);
        free(s);
        return OKS_E_IO;
    }
    s->n_conns = s->dc->max_tcp;
    s->conns = oks_xcalloc(s->n_conns, sizeof *s->conns);
    for (size_t i = 0; i < s->n_conns; i++)
        s->conns[i].fd = -1;
    s->cache = gwd_cache_new(s->dc->cache_entries);
    s->rrl = gwd_rrl_new(s->dc->rrl_rate, s->dc->rrl_burst, s->dc->rrl_slip, 65536);
    oks_info("serving OPENPGPKEY for %s on %s:%u (udp, tcp)", s->dc->domains, hp.host, hp.port);
    oks_notify_ready();
    rc = loop(s, stop);
    for (size_t i = 0; i < GWD_PENDING; i++)
        free(s->pending[i]);
    for (size_t i = 0; i < s->n_conns; i++)
        if (s->conns[i].fd >= 0)
            conn_close(s, i);
    free(s->conns);
    gwd_cache_free(s->cache);
    gwd_rrl_free(s->rrl);
    oks_buf_release(&s->recs.data);
    oks_client_free(s->client);
    close(s->udp);
    close(s->tcp);
    free(s);
    return rc;
}

/* The oks-bench HTTP/1.1 load client: non-blocking sockets on one epoll loop, keep-alive, one
 * request in flight per connection, reconnect when the server closes; a response parser that
 * knows Content-Length, chunked bodies and bodies delimited by close. */
#include "bench/http.h"

#include "bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>


/* ---- response parsing ------------------------------------------------------------------- */

static const uint8_t *find(const uint8_t *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s));
}

/* Chunked body starting at p: returns its length up to and including the final CRLF, 0 when
 * incomplete, -1 when malformed. */
static long chunked_len(const uint8_t *p, size_t n)
{
    size_t off = 0;
    for (;;) {
        const uint8_t *eol = find(p + off, n - off, "\r\n");
        if (!eol)
            return n - off > 64 ? -1 : 0;
        size_t size = 0;
        const uint8_t *c = p + off;
        int digits = 0;
        for (; c < eol; c++, digits++) {
            int v = *c >= '0' && *c <= '9' ? *c - '0'
                    : (*c | 0x20) >= 'a' && (*c | 0x20) <= 'f' ? (*c | 0x20) - 'a' + 10
                                                                 : -1;
            if (v < 0)
                break; /* chunk extensions */
            if (size > BENCH_HTTP_MAX_RESPONSE)
                return -1;
            size = size * 16 + (size_t)v;
        }
        if (digits == 0)
            return -1;
        off = (size_t)(eol - p) + 2;
        if (size == 0) { /* trailers end with an empty line */
            const uint8_t *end = find(p + off - 2, n - (off - 2), "\r\n\r\n");
            return end ? (long)((size_t)(end - p) + 4) : 0;
        }
        if (n - off < size + 2)
            return 0;
        off += size + 2;
    }
}

int bench_http_parse_response(const uint8_t *p, size_t n, bool eof, bench_http_resp *r)
{
    const uint8_t *he = find(p, n, "\r\n\r\n");
    if (!he)
        return n > 65536 || (eof && n) ? -1 : 0;
    size_t head = (size_t)(he - p) + 4;
    if (head < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        st = st * 10 + (p[i] - '0');
    }
    r->status = st;
    r->close = p[7] == '0';
    long clen = -1;
    bool chunked = false;
    const uint8_t *line = find(p, head, "\r\n") + 2;
    while (line < p + head - 2) {
        const uint8_t *eol = find(line, (size_t)(p + head - line), "\r\n");
        size_t len = (size_t)(eol - line);
        char h[256];
        if (len >= sizeof(h))
            len = sizeof(h) - 1;
        memcpy(h, line, len);
        h[len] = '\0';
        char *colon = strchr(h, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strcasecmp(h, "content-length") == 0) {
                char *end;
                clen = strtol(v, &end, 10);
                if (end == v || clen < 0 || clen > (long)BENCH_HTTP_MAX_RESPONSE)
                    return -1;
            } else if (strcasecmp(h, "transfer-encoding") == 0 && strcasestr(v, "chunked")) {
                chunked = true;
            } else if (strcasecmp(h, "connection") == 0) {
                if (strcasestr(v, "close"))
                    r->close = true;
                else if (strcasestr(v, "keep-alive"))
                    r->close = false;
            }
        }
        line = eol + 2;
    }
    if (st == 204 || st == 304 || (st >= 100 && st < 200))
        clen = 0;
    if (chunked) {
        long b = chunked_len(p + head, n - head);
        if (b < 0)
            return -1;
        if (b == 0)
            return eof ? -1 : 0;
        r->total = head + (size_t)b;
        return 1;
    }
    if (clen >= 0) {
        if (n - head < (size_t)clen)
            return eof ? -1 : 0;
        r->total = head + (size_t)clen;
        return 1;
    }
    if (n - head > BENCH_HTTP_MAX_RESPONSE)
        return -1;
    if (!eof)
        return 0;
    r->close = true;
    r->total = n;
    return 1;
}

int bench_http_parse_url(const char *url, struct sockaddr_storage *addr, socklen_t *alen,
                         char *host_header, size_t hsize, char *err, size_t esize)
{
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, esize, "only http:// URLs: %s", url);
        return -1;
    }
    const char *h = url + 7;
    char host[64];
    const char *port_s;
    if (*h == '[') {
        const char *e = strchr(h, ']');
        if (!e || (size_t)(e - h - 1) >= sizeof(host) || e[1] != ':') {
            snprintf(err, esize, "bad URL: %s", url);
            return -1;
        }
        memcpy(host, h + 1, (size_t)(e - h - 1));
        host[e - h - 1] = '\0';
        port_s = e + 2;
    } else {
        const char *c = strchr(h, ':');
        if (!c || (size_t)(c - h) >= sizeof(host)) {
            snprintf(err, esize, "URL needs HOST:PORT: %s", url);
            return -1;
        }
        memcpy(host, h, (size_t)(c - h));
        host[c - h] = '\0';
        port_s = c + 1;
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    if (end == port_s || (*end && *end != '/') || port < 1 || port > 65535) {
        snprintf(err, esize, "bad port in %s", url);
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127) {
            snprintf(err, esize, "refusing non-loopback address %s", host);
            return -1;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *alen = sizeof(*a4);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
            snprintf(err, esize, "refusing non-loopback address %s", host);
            return -1;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *alen = sizeof(*a6);
    } else {
        snprintf(err, esize, "host must be a loopback address or localhost: %s", host);
        return -1;
    }
    snprintf(host_header, hsize, "%.*s", (int)(end - h), h);
    return 0;
}

/* ---- the load loop ----------------------------------------------------------------------- */

enum { C_CLOSED, C_IDLE, C_CONNECTING, C_SENDING, C_RECEIVING };

typedef struct conn {
    int fd, state;
    oks_buf out, in;
    size_t sent;
    double t0;
    unsigned kind;
} conn;

static void record(bench_load_result *res, unsigned kind, int status, double lat)
{
    bench_load_kind *k = &res->kind[kind];
    if (k->nlat == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 1024;
        uint32_t *n = realloc(k->lat_us, nc * sizeof(*n));
        if (!n)
            return;
        k->lat_us = n;
        k->cap = nc;
    }
    double us = lat * 1e6;
    k->lat_us[k->nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
    k->done++;
    k->status[status >= 100 && status < 600 ? status / 100 : 0]++;
    res->done++;
}

static void conn_close(int ep, conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_CLOSED;
    c->in.len = 0;
}

static int conn_open(int ep, conn *c, const bench_load_opts *o)
{
    c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    if (connect(c->fd, (const struct sockaddr *)&o->addr, o->alen) != 0 &&
        errno != EINPROGRESS) {
        conn_close(ep, c);
        return -1;
    }
    c->state = C_CONNECTING;
    return 0;
}

static void want(int ep, conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what it can; moves to RECEIVING when the request is out. -1: connection lost. */
static int conn_send(int ep, conn *c)
{
    while (c->sent < c->out.len) {
        ssize_t k = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN) {
            want(ep, c, true);
            return 0;
        }
        if (k <= 0)
            return -1;
        c->sent += (size_t)k;
    }
    c->state = C_RECEIVING;
    want(ep, c, false);
    return 0;
}

/* Reads and completes the response. -1: error (connection dropped). */
static int conn_recv(int ep, conn *c, bench_load_result *res)
{
    bool eof = false;
    for (;;) {
        if (oks_buf_reserve(&c->in, 65536) < 0)
            return -1;
        ssize_t k = recv(c->fd, c->in.data + c->in.len, 65536, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            break;
        if (k < 0)
            return -1;
        if (k == 0) {
            eof = true;
            break;
        }
        c->in.len += (size_t)k;
    }
    if (c->state != C_RECEIVING)
        return eof || c->in.len ? -2 : 0; /* idle connection closed by the server, or junk */
    bench_http_resp r;
    int pr = bench_http_parse_response(c->in.data, c->in.len, eof, &r);
    if (pr < 0)
        return -1;
    if (pr == 0)
        return eof ? -1 : 0;
    record(res, c->kind, r.status, bench_now_s() - c->t0);
    if (r.close || eof || r.total != c->in.len) {
        conn_close(ep, c); /* (bytes after the response: not ours, drop the connection) */
        return 0;
    }
    c->in.len = 0;
    c->state = C_IDLE;
    return 0;
}

int bench_load_run(const bench_load_opts *o, bench_load_result *res)
{
    memset(res, 0, sizeof(*res));
    if (o->conns < 1 || o->conns > BENCH_HTTP_MAX_CONNS || o->duration <= 0) {
        fprintf(stderr, "oks-bench: connections 1..%u and a positive duration needed\n",
                BENCH_HTTP_MAX_CONNS);
        return -1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc(o->conns, sizeof(*cs));
    if (ep < 0 || !cs) {
        fprintf(stderr, "oks-bench: cannot set up the event loop\n");
        free(cs);
        if (ep >= 0)
            close(ep);
        return -1;
    }
    for (unsigned i = 0; i < o->conns; i++) {
        cs[i].fd = -1;
        oks_buf_init(&cs[i].out);
        oks_buf_init(&cs[i].in);
    }
    double start = bench_now_s(), end = start + o->duration, last = start, stop_at = 0;
    bool exhausted = false;
    unsigned inflight = 0;
    for (;;) {
        double t = bench_now_s();
        bool stop = t >= end || exhausted || (o->max_requests && res->started >= o->max_requests);
        int timeout = 50;
        for (unsigned i = 0; i < o->conns && !stop; i++) {
            conn *c = &cs[i];
            if (c->state != C_IDLE && c->state != C_CLOSED)
                continue;
            if (o->rate > 0 && (double)res->started >= (t - start) * o->rate) {
                double wait = ((double)res->started / o->rate - (t - start)) * 1000.0;
                timeout = wait < 1 ? 1 : wait > 50 ? 50 : (int)wait;
                break;
            }
            if (o->max_requests && res->started >= o->max_requests)
                break;
            c->out.len = 0;
            c->sent = 0;
            int nr = o->next(o->ctx, res->started, &c->out, &c->kind);
            if (nr != 0 || c->kind >= BENCH_HTTP_KINDS) {
                exhausted = true;
                break;
            }
            bool fresh = c->state == C_CLOSED;
            if (fresh && conn_open(ep, c, o) != 0) {
                res->errors++;
                res->started++;
                continue;
            }
            res->started++;
            inflight++;
            c->t0 = bench_now_s();
            if (fresh)
                continue; /* sends once connected */
            c->state = C_SENDING;
            if (conn_send(ep, c) != 0) {
                res->errors++;
                inflight--;
                conn_close(ep, c);
            }
        }
        if (stop && stop_at == 0)
            stop_at = t;
        if (stop && (inflight == 0 || t >= stop_at + o->grace))
            break;
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            int rc = 0;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);
                if ((evs[i].events & (EPOLLERR | EPOLLHUP)) ||
                    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
                    rc = -1;
                } else {
                    c->state = C_SENDING;
                    rc = conn_send(ep, c);
                }
            } else if (c->state == C_SENDING && (evs[i].events & EPOLLOUT)) {
                rc = conn_send(ep, c);
            }
            if (rc == 0 && c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                int was = c->state;
                rc = conn_recv(ep, c, res);
                if (rc == 0 && was == C_RECEIVING && c->state != C_RECEIVING) {
                    inflight--;
                    last = bench_now_s();
                }
            }
            if (rc < 0) { /* in flight: an error; idle: the server closed it */
                if (c->state == C_CONNECTING || c->state == C_SENDING ||
                    c->state == C_RECEIVING) {
                    res->errors++;
                    inflight--;
                    last = bench_now_s();
                }
                conn_close(ep, c);
            }
        }
    }
    res->errors += inflight; /* answers that never came within the grace period */
    res->elapsed = last - start;
    for (unsigned i = 0; i < o->conns; i++) {
        conn_close(ep, &cs[i]);
        oks_buf_release(&cs[i].out);
        oks_buf_release(&cs[i].in);
    }
    free(cs);
    close(ep);
    return 0;
}

void bench_load_result_free(bench_load_result *res)
{
    for (int i = 0; i < BENCH_HTTP_KINDS; i++)
        free(res->kind[i].lat_us);
    memset(res, 0, sizeof(*res));
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

double bench_load_percentile(bench_load_result *res, int kind, double pct)
{
    size_t n = 0;
    for (int i = 0; i < BENCH_HTTP_KINDS; i++)
        if (kind < 0 || kind == i)
            n += res->kind[i].nlat;
    if (n == 0)
        return 0;
    uint32_t *all = malloc(n * sizeof(*all));
    if (!all)
        return 0;
    size_t k = 0;
    for (int i = 0; i < BENCH_HTTP_KINDS; i++)
        if ((kind < 0 || kind == i) && res->kind[i].nlat) {
            memcpy(all + k, res->kind[i].lat_us, res->kind[i].nlat * sizeof(*all));
            k += res->kind[i].nlat;
        }
    qsort(all, n, sizeof(*all), cmp_u32);
    size_t idx = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
    if (idx >= n)
        idx = n - 1;
    double v = all[idx] / 1000.0;
    free(all);
    return v;
}

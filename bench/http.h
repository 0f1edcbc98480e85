/* Small epoll HTTP/1.1 keep-alive load client for oks-bench (loopback targets only): many
 * connections, one request in flight each, optional target rate, fixed duration and request
 * cap, latency per request kind. */
#ifndef OKS_BENCH_HTTP_H
#define OKS_BENCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"

#define BENCH_HTTP_KINDS 4
#define BENCH_HTTP_MAX_CONNS 4096
#define BENCH_HTTP_MAX_RESPONSE (64u << 20) /* a bigger response counts as an error */

/* A parsed response head + where the whole response ends. */
typedef struct bench_http_resp {
    int status;
    bool close;      /* connection must be closed after this response */
    size_t total;    /* bytes of the whole response (head + body) */
} bench_http_resp;

/* Looks for one complete response at the start of p[0..n). Returns 1 when complete (r filled),
 * 0 when more bytes are needed, -1 when malformed. eof: the peer closed (a response without
 * length ends there). */
int bench_http_parse_response(const uint8_t *p, size_t n, bool eof, bench_http_resp *r);

/* "http://HOST:PORT[/...]" with HOST 127.x.y.z, localhost or [::1]; anything else refused. */
int bench_http_parse_url(const char *url, struct sockaddr_storage *addr, socklen_t *alen,
                         char *host_header, size_t hsize, char *err, size_t esize);

/* Fills req with request number i (whole HTTP request bytes) and its kind (< KINDS). Returns
 * 0, or 1 when there is nothing left to send (e.g. no distinct keys left). */
typedef int (*bench_http_next_fn)(void *ctx, uint64_t i, oks_buf *req, unsigned *kind);

typedef struct bench_load_opts {
    struct sockaddr_storage addr;
    socklen_t alen;
    unsigned conns;        /* 1..BENCH_HTTP_MAX_CONNS */
    double rate;           /* requests/s over all connections; 0 = as fast as possible */
    double duration;       /* seconds during which requests are started */
    uint64_t max_requests; /* cap; 0 = none */
    double grace;          /* seconds to wait for in-flight answers after the end */
    bench_http_next_fn next;
    void *ctx;
} bench_load_opts;

typedef struct bench_load_kind {
    uint64_t done;
    uint64_t status[6];    /* by class: [1]=1xx .. [5]=5xx, [0]=other */
    uint32_t *lat_us;      /* one per completed request */
    size_t nlat, cap;
} bench_load_kind;

typedef struct bench_load_result {
    uint64_t started, done, errors; /* errors: connection failures, malformed or lost answers */
    double elapsed;                 /* seconds from start to the last answer */
    bench_load_kind kind[BENCH_HTTP_KINDS];
} bench_load_result;

/* Runs the load. Returns 0, or -1 with a message on stderr when it could not run at all. */
int bench_load_run(const bench_load_opts *o, bench_load_result *res);
void bench_load_result_free(bench_load_result *res);

/* Latency percentile (0..100) in milliseconds of one kind, or of all when kind < 0. */
double bench_load_percentile(bench_load_result *res, int kind, double pct);

#endif

/*
 * sync/fetch: downloads keys by hash from a peer's /pks/hashquery and adds them through the
 * router, pipelined: several hashquery requests in flight (non-blocking HTTP/1.0 connections)
 * and several Add requests in flight on the router connection, all driven by one zmq_poll loop
 * in the caller's thread, so fetching, verifying (on the shards' verifier threads) and storing
 * overlap. Each fetched key whose add is rejected or stored under another SKS hash than the
 * one it arrived with is reported through the `ignore` callback.
 */
#ifndef OKS_SYNC_FETCH_H
#define OKS_SYNC_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/proto.h"

typedef struct oks_sync_fetch_opts {
    size_t batch;          /* hashes per hashquery: 100 (SKS's http_fetch_size) */
    int http_parallel;     /* hashqueries in flight: 4 */
    int add_parallel;      /* Add requests in flight: 4 */
    int http_timeout_ms;   /* per hashquery read/write: 60000 */
    int add_timeout_ms;    /* per Add: router deadline + 2 s */
    void (*ignore)(void *arg, const uint8_t hash[16]);
    void *arg;
} oks_sync_fetch_opts;

typedef struct oks_sync_fetch_stats {
    size_t fetched;   /* keys received */
    size_t added;     /* keys not rejected */
    int64_t fetch_ms; /* summed time hashqueries were outstanding */
    int64_t add_ms;   /* summed time adds were outstanding */
} oks_sync_fetch_stats;

/* Fetches h[0..n) from http://host:port and adds the keys. Stops starting new work at the
 * first error and returns it after the requests in flight ended. */
int oks_sync_fetch_add(oks_client *cl, const char *host, int port, const uint8_t (*h)[16],
                       size_t n, const oks_sync_fetch_opts *o, oks_sync_fetch_stats *st,
                       oks_err *e);

#endif

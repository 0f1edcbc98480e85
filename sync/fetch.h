/*
 * sync/fetch: downloads keys by hash from a peer's /pks/hashquery and adds them through the
 * router, pipelined: several hashquery requests in flight (non-blocking HTTP/1.0 connections)
 * and several Add requests in flight on the router connection, all driven by one zmq_poll loop
 * in the caller's thread, so fetching, verifying (on the shards' verifier threads) and storing
 * overlap. An Add that fails (shards too slow for the router's deadline) is sent again, up to
 * OKS_SYNC_ADD_TRIES times, and the number of Adds in flight halves (then grows by one per
 * success again, up to add_parallel); OKS_SYNC_ADD_GIVE_UP failures in a row end the round. Each fetched key whose add is rejected or stored under another SKS hash than the
 * one it arrived with is reported through the `ignore` callback.
 */
#ifndef OKS_SYNC_FETCH_H
#define OKS_SYNC_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/proto.h"

#define OKS_SYNC_ADD_TRIES 3      /* attempts per Add before its keys wait for a later round */
#define OKS_SYNC_ADD_GIVE_UP 10   /* failed Adds in a row that end the round */

typedef struct oks_sync_fetch_opts {
    size_t batch;          /* hashes per hashquery: 100 (SKS's http_fetch_size) */
    int http_parallel;     /* hashqueries in flight: 4 */
    int add_parallel;      /* Add requests in flight: 4 */
    int http_timeout_ms;   /* per hashquery read/write: 60000 */
    int add_timeout_ms;    /* per Add: router deadline + 2 s */
    size_t max_bytes;      /* per hashquery answer (it becomes one Add): the cluster's
                              max_message_bytes less 1 MiB of room; 0 = 64 MiB */
    int listen_fd;         /* recon listening socket: connections are dropped meanwhile (-1) */
    void (*ignore)(void *arg, const uint8_t hash[16]);
    void *arg;
} oks_sync_fetch_opts;

typedef struct oks_sync_fetch_stats {
    size_t fetched;   /* keys received */
    size_t added;     /* keys not rejected */
    size_t failed;    /* keys whose Add failed every try (fetched again next round) */
    int64_t fetch_ms; /* summed time hashqueries were outstanding */
    int64_t add_ms;   /* summed time adds were outstanding */
} oks_sync_fetch_stats;

/* Fetches h[0..n) from http://host:port and adds the keys. Stops starting new work at the
 * first error and returns it after the requests in flight ended. */
int oks_sync_fetch_add(oks_client *cl, const char *host, int port, const uint8_t (*h)[16],
                       size_t n, const oks_sync_fetch_opts *o, oks_sync_fetch_stats *st,
                       oks_err *e);

#endif

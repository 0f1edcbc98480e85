/*
 * sync/fetch: downloads keys by hash from a peer's /pks/hashquery and adds them through the
 * router, pipelined: several hashquery requests in flight (non-blocking HTTP/1.0 connections)
 * and several Add requests in flight on the router connection. A fetch is a state machine that
 * the worker's event loop drives next to recon sessions and other fetches (it never waits): the
 * loop polls the fetch's sockets, hands it the router replies whose id is its own, and steps it.
 * An Add that fails (shards too slow for the router's deadline) is sent again, up to
 * OKS_SYNC_ADD_TRIES times, and the number of Adds in flight halves (then grows by one per
 * success again, up to add_parallel); OKS_SYNC_ADD_GIVE_UP failures in a row end the fetch.
 * Each hashquery has its own time limit, and the whole fetch one (deadline_ms): past it no
 * new hashquery starts, those in flight are closed, and the Adds in flight are awaited. Each
 * fetched key whose add is rejected or stored under another SKS hash than the one it arrived
 * with is reported through the `ignore` callback.
 */
#ifndef OKS_SYNC_FETCH_H
#define OKS_SYNC_FETCH_H

#include <stddef.h>
#include <poll.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/proto.h"

#define OKS_SYNC_ADD_TRIES 3      /* attempts per Add before its keys wait for a later round */
#define OKS_SYNC_ADD_GIVE_UP 10   /* failed Adds in a row that end the round */
#define OKS_SYNC_FETCH_MAX_PAR 32 /* hashqueries or Adds in flight, at most */

typedef struct oks_sync_fetch_opts {
    size_t batch;          /* hashes per hashquery: 100 (SKS's http_fetch_size) */
    int http_parallel;     /* hashqueries in flight: 4 */
    int add_parallel;      /* Add requests in flight: 4 */
    int http_timeout_ms;   /* per hashquery, whole (connect, request, answer): 60000 */
    int deadline_ms;       /* the whole fetch: no new hashquery after it (0: none) */
    uint64_t id_base;      /* router request ids of this fetch: id_base + 1, + 2, ... */
    int add_timeout_ms;    /* per Add: router deadline + 2 s */
    size_t max_bytes;      /* per hashquery answer (it becomes one Add): the cluster's
                              max_message_bytes less 1 MiB of room; 0 = 64 MiB */
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

typedef struct oks_sync_fetch oks_sync_fetch;

/* A fetch of h[0..n) (copied) from http://host:port; o is copied. Nothing starts before the
 * first step. */
oks_sync_fetch *oks_sync_fetch_new(oks_client *cl, const char *host, int port,
                                   const uint8_t (*h)[16], size_t n,
                                   const oks_sync_fetch_opts *o);
void oks_sync_fetch_free(oks_sync_fetch *f);
/* Its HTTP sockets to poll: fills p[0..] (at most OKS_SYNC_FETCH_MAX_PAR), returns how many. */
int oks_sync_fetch_pollfds(const oks_sync_fetch *f, struct pollfd *p);
/* The oks_now_ms() time by which step must be called again even without events. */
int64_t oks_sync_fetch_deadline(const oks_sync_fetch *f);
/* Hands a router reply to the fetch: 1 if id is one of its Adds (resp is then read, not kept;
 * the caller frees it), 0 if not. */
int oks_sync_fetch_reply(oks_sync_fetch *f, uint64_t id, const Oks__Response *resp);
/* Progresses: p[0..n) as oks_sync_fetch_pollfds filled them, with revents (n = 0: none).
 * Returns 0 while running, 1 when the fetch is over (oks_sync_fetch_result tells how). */
int oks_sync_fetch_step(oks_sync_fetch *f, const struct pollfd *p, int n);
/* The figures, and 0 or the first error (HTTP, deadline, or the router refusing Adds). */
int oks_sync_fetch_result(const oks_sync_fetch *f, oks_sync_fetch_stats *st, oks_err *e);
/* Whether the error, if any, came from the peer (its HTTP server, the deadline), not from the
 * router or the shards. */
int oks_sync_fetch_peer_failed(const oks_sync_fetch *f);

#endif

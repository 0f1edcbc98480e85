/*
 * sync/round: the rounds the sync worker runs at once. A round is one recon session with one
 * partner (sync/recon.h), then the fetch of what the partner has and the cluster lacks
 * (sync/fetch.h), both non-blocking state machines driven by the worker's zmq_poll loop. The
 * table holds at most `max` rounds and at most one per partner (label). Every round has its own
 * budgets: the session's deadlines, work and unread-output caps, at most fetch_max hashes
 * fetched (the rest wait for a later round) and the fetch's own deadline.
 */
#ifndef OKS_SYNC_ROUND_H
#define OKS_SYNC_ROUND_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "lib/err.h"
#include "lib/proto.h"
#include "sync/fetch.h"
#include "sync/follow.h"
#include "sync/recon.h"

#define OKS_SYNC_MAX_ROUNDS 64
/* poll items one round may add: its recon socket or its hashquery connections */
#define OKS_SYNC_ROUND_ITEMS OKS_SYNC_FETCH_MAX_PAR

typedef struct oks_sync_slot {
    int used;
    char label[272];             /* the partner, as membership names it */
    char ip[16];                 /* its address: hashqueries go there */
    int fd;                      /* the recon socket until the session ends, else -1 */
    enum oks_recon_role role;
    oks_recon_sess *rs;          /* the session, then NULL */
    oks_sync_fetch *fs;          /* the fetch, once the session ended well */
    oks_recon_result r;          /* what the session learned */
    size_t ignored, asked;       /* hashes skipped (ignore set); hashes fetched (<= fetch_max) */
    int64_t t0, t1;              /* start; end of the session (ms) */
    int rc;                      /* 0, or the round's error (e) */
    int peer_fault;              /* the error was the partner's (it is backed off) */
    int unreachable;             /* ... and we connected but never heard from it (it is down
                                  * or not up yet: its own sessions are still accepted) */
    oks_err e;
    int first, n;                /* its poll items in the last oks_sync_rounds_items */
} oks_sync_slot;

typedef struct oks_sync_round_opts {
    oks_recon_opts recon;        /* max_work 0: 4 x tree size + 1,000,000 at the round's start */
    oks_sync_fetch_opts fetch;   /* id_base is set per round */
    size_t fetch_max;            /* hashes fetched per round */
} oks_sync_round_opts;

typedef struct oks_sync_rounds {
    oks_sync_slot v[OKS_SYNC_MAX_ROUNDS];
    int max;                     /* rounds at once (<= OKS_SYNC_MAX_ROUNDS) */
    uint64_t rounds_started;     /* also makes each fetch's router ids distinct */
    oks_sync_follow *fl;         /* tree and ignore set (borrowed) */
    oks_client *adds;            /* router client for Adds (borrowed) */
    oks_sync_round_opts o;
    void (*done)(void *arg, oks_sync_slot *s); /* a round ended (before its slot is freed) */
    void *arg;
} oks_sync_rounds;

/* Rounds running now; whether one with this partner runs. */
int oks_sync_rounds_running(const oks_sync_rounds *r);
int oks_sync_rounds_busy(const oks_sync_rounds *r, const char *label);
/* Starts a round on connected (or connecting) socket fd, which the round then owns; returns 0,
 * or OKS_E_LIMIT (fd closed) when the table is full or the partner already has a round. */
int oks_sync_rounds_start(oks_sync_rounds *r, int fd, enum oks_recon_role role, const char *ip,
                          const char *label);
/* Appends the rounds' poll items to it[*n..max) and lowers *deadline (oks_now_ms time) to the
 * earliest time a round must be stepped. */
void oks_sync_rounds_items(oks_sync_rounds *r, zmq_pollitem_t *it, int *n, int max,
                           int64_t *deadline);
/* Steps the rounds whose items (as filled last) have events, or whose deadline passed; each
 * round that ends is reported through done and freed. */
void oks_sync_rounds_step(oks_sync_rounds *r, const zmq_pollitem_t *it);
/* Router replies on the adds client, each to the round it belongs to. */
void oks_sync_rounds_replies(oks_sync_rounds *r);
/* Ends every round now (error `why`, not the partners' fault), reported through done. */
void oks_sync_rounds_abort(oks_sync_rounds *r, const char *why);

#endif

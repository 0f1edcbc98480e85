/*
 * sync/worker: the long-running sync worker. It keeps the prefix tree equal to the set of SKS
 * hashes stored in the cluster by following every shard's change log through the router (one
 * durable cursor per shard, stored in the tree's LevelDB in the same batch as the hashes),
 * accepts recon sessions from its partners (requester role; partners come from an SKS-style
 * membership file and/or the command line), gossips with a random partner every interval
 * (responder role), fetches what the peer has from its /pks/hashquery and adds those keys through
 * the router, pipelined (sync/fetch.c). Hashes whose key is stored in another form
 * (different hash after cleaning) go into an ignore set with an expiry so they are not fetched
 * again every round. After every round the partner state file (sync/state.h) is rewritten for
 * the gateway's op=stats.
 *
 * Single-threaded, one event loop: up to `sessions` rounds (a recon session, then its fetch) run
 * at once, at most one per partner, each a non-blocking state machine with budgets of its own
 * (whole-session and whole-fetch deadlines, work, unread output, hashes per round), so a slow or
 * hostile partner holds one slot, never the worker. A partner whose round fails is backed off
 * (sync/backoff.h). The tree is updated from the change logs between two steps of the sessions.
 */
#ifndef OKS_SYNC_WORKER_H
#define OKS_SYNC_WORKER_H

#include "lib/err.h"

#define OKS_SYNC_MAX_PARTNERS 32 /* on the command line; the membership file holds more */

typedef struct oks_sync_conf {
    const char *cluster_conf;    /* oks.conf: router endpoint, limits */
    const char *tree_dir;        /* LevelDB of the prefix tree */
    int recon_port;              /* 0: do not listen */
    int http_port;               /* announced in Config: where peers POST /pks/hashquery */
    const char *partners[OKS_SYNC_MAX_PARTNERS]; /* "HOST:PORT" recon addresses */
    int n_partners;
    const char *membership;      /* SKS-style membership file (NULL: none); re-read when it
                                    changes and on SIGHUP */
    int gossip_seconds;          /* 60; 0 disables gossip */
    int ignore_seconds;          /* how long a hash that cleans to another form is skipped: 86400 */
    int session_timeout_s;       /* each message whole, each hashquery whole: 60 */
    const char *stats_path;      /* one line appended per round (NULL: not written) */
    const char *state_path;      /* partner state for op=stats, rewritten per round (NULL: none) */
    int fetch_batch;             /* hashes per hashquery: 100 */
    int fetch_parallel;          /* hashqueries in flight: 4 */
    int add_parallel;            /* Add requests in flight: 4 */
    /* 0: the [sync] setting of oks.conf (lib/conf_table.c has the defaults) */
    int sessions;                /* rounds at once */
    int session_seconds;         /* whole recon session */
    long long session_work;      /* elements per session (0 there: 4 x tree + 1,000,000) */
    long long session_buffer;    /* bytes of answers the peer has not read */
    int fetch_max;               /* hashes fetched per round */
    int fetch_seconds;           /* whole fetch of a round */
    int backoff_seconds, backoff_max_seconds;
} oks_sync_conf;

/* Defaults for every field (paths NULL). */
void oks_sync_conf_default(oks_sync_conf *c);
/* Brings the tree up to date with every shard's change log once. */
int oks_sync_catch_up(const oks_sync_conf *c, oks_err *e);
/* Runs until SIGINT/SIGTERM. */
int oks_sync_run(const oks_sync_conf *c, oks_err *e);
/* Drops the tree and rebuilds it from the shards' change logs from the start; *hashes = size of
 * the rebuilt tree (may be NULL). */
int oks_sync_rebuild(const oks_sync_conf *c, size_t *hashes, oks_err *e);

#endif

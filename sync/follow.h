/*
 * sync/follow: the prefix tree follows the cluster, and remembers what not to fetch again.
 *
 * Change logs: every shard's change log is read through the router from the shard's cursor
 * (tree metadata "cursor.<shard>" = BE64 sequence). The entries of one ChangeLog answer are
 * netted (a hash added then deleted cancels out) and applied in one LevelDB batch together with
 * the last cursor, so a crash never loses or repeats a change.
 *
 * A pass reads the shard list, then each shard's log from its cursor to the end, a page of
 * OKS_SYNC_FOLLOW_PAGE entries at a time. The worker's loop never waits for the router: it starts
 * passes with oks_sync_follow_kick, polls the client's socket and calls oks_sync_follow_step,
 * which handles the answers (one LevelDB batch each) and sends the next request; a request
 * unanswered after timeout_ms ends the pass (logged) and the next one starts from the cursors.
 * oks_sync_follow_catch_up is the blocking form for start-up and the command-line tools.
 *
 * Ignore set: tree metadata "ignore.<HEX>" = BE64 expiry (Unix seconds). A hash goes in when the
 * key fetched for it is stored under another hash (cleaned to another form) or rejected, so it
 * is not fetched again every round until the entry expires.
 */
#ifndef OKS_SYNC_FOLLOW_H
#define OKS_SYNC_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/proto.h"
#include "sync/ptree.h"

#define OKS_SYNC_FOLLOW_PAGE 1000 /* change-log entries asked for at once */

typedef struct oks_sync_follow {
    oks_client *client;  /* the routers (borrowed); used by the follower only */
    int timeout_ms;      /* per router request */
    oks_ptree *t;        /* the tree (borrowed) */
    int ignore_seconds;  /* how long an ignored hash stays ignored */
    size_t ignored;      /* entries of the ignore set not expired (oks_sync_ignore_count) */
    /* the pass under way (owned) */
    int busy;            /* 0: none; waiting for the shard list or a page */
    int again;           /* another pass is wanted when this one ends */
    uint64_t started;    /* passes started, ended, ended reading every log to its end */
    uint64_t done;
    uint64_t ok;
    uint64_t next_id, req_id;
    int64_t req_until;   /* ms: the request out is given up then */
    char **names;        /* shard names of the pass */
    size_t n_names, cur_name;
    uint64_t cursor;     /* of names[cur_name] */
    size_t applied;      /* changes applied in this pass */
    uint8_t (*add)[16], (*del)[16]; /* one page, netted */
} oks_sync_follow;

/* Reads every shard's change log to its end into the tree, waiting for each answer (a pass
 * under way is abandoned first). */
int oks_sync_follow_catch_up(oks_sync_follow *f, oks_err *e);
/* Starts a pass if none runs, else asks for one more after it. Returns the number of the pass
 * that reads every change made until now: done >= it once that pass ended. */
uint64_t oks_sync_follow_kick(oks_sync_follow *f);
/* Handles the answers waiting on client's socket (without waiting), sends the next request,
 * ends a pass whose request timed out. Call it when the socket is readable, and at least every
 * OKS_CLIENT_MIN_TRY_MS while a pass runs (the client sends requests again from it). */
void oks_sync_follow_step(oks_sync_follow *f);
/* When oks_sync_follow_step must run next at the latest (INT64_MAX when no pass runs). */
int64_t oks_sync_follow_deadline(const oks_sync_follow *f);
/* Abandons the pass under way (its late answers are dropped), e.g. before the tree changes. */
void oks_sync_follow_abort(oks_sync_follow *f);
/* Frees what passes allocated (not the client or the tree). */
void oks_sync_follow_release(oks_sync_follow *f);

/* The cursor of a shard: the last change-log sequence applied, 0 when none is stored. */
uint64_t oks_sync_cursor(oks_ptree *t, const char *shard);

/* Nets one change (old and/or new hash, NULL when absent) into the pending adds and deletes of
 * one batch: a hash added then deleted cancels out, and so does a hash deleted then added. A
 * new hash equal to a recon sample point (0, 1, 2) is skipped: it cannot be reconciled. The
 * arrays must have room for one more entry each. */
void oks_sync_net_change(uint8_t (*add)[16], size_t *nadd, uint8_t (*del)[16], size_t *ndel,
                         const uint8_t *old_hash, const uint8_t *new_hash);

/* Whether h is in the ignore set and not expired. */
bool oks_sync_ignored(oks_sync_follow *f, const uint8_t h[16]);
/* Puts h in the ignore set for ignore_seconds from now (arg: the oks_sync_follow; the shape of
 * the fetcher's callback). A failed write is not reported: the hash is fetched again. */
void oks_sync_ignore(void *arg, const uint8_t h[16]);
/* Counts the ignore set's entries not expired into f->ignored. */
void oks_sync_ignore_count(oks_sync_follow *f);

#endif

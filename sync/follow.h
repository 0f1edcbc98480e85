/*
 * sync/follow: the prefix tree follows the cluster, and remembers what not to fetch again.
 *
 * Change logs: every shard's change log is read through the router from the shard's cursor
 * (tree metadata "cursor.<shard>" = BE64 sequence). The entries of one ChangeLog answer are
 * netted (a hash added then deleted cancels out) and applied in one LevelDB batch together with
 * the last cursor, so a crash never loses or repeats a change.
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

typedef struct oks_sync_follow {
    oks_client *client;  /* the router (borrowed) */
    int timeout_ms;      /* per router call */
    oks_ptree *t;        /* the tree (borrowed) */
    int ignore_seconds;  /* how long an ignored hash stays ignored */
    size_t ignored;      /* entries of the ignore set not expired (oks_sync_ignore_count) */
} oks_sync_follow;

/* Reads every shard's change log to its end into the tree. */
int oks_sync_follow_catch_up(oks_sync_follow *f, oks_err *e);

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

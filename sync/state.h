/*
 * sync/state: what the sync worker tells operators about its partners: per partner when it was
 * last synced and what the last round moved, plus the most recent rounds, written as a small
 * text file (atomically: temporary file + rename) that the HTTP gateway shows in op=stats.
 *
 * File format (one record per line, words separated by one space, values never contain spaces):
 *   oks-sync-state 1
 *   sync updated=UNIX pid=N tree=N ignored=N members=N rebuilds=N
 *   partner name=HOST:PORT last_sync=UNIX last_sync_utc=ISO|never last_result=ok|failed|none
 *           rounds=N failures=N fetch=N fetched=N added=N sent=N ignored=N total_added=N
 *           total_sent=N                                          (one line per member)
 *   round time=UNIX utc=ISO partner=HOST:PORT result=ok|failed fetch=N fetched=N added=N
 *         sent=N ignored=N ms=N      (newest first; only rounds that moved keys or failed)
 * fetch = hashes the partner has and we lack, fetched = keys received, added = keys the cluster
 * stored (new or updated), sent = hashes the partner learned from us, ignored = hashes skipped
 * because the key is stored in another form (ignore set), ms = duration of the round.
 */
#ifndef OKS_SYNC_STATE_H
#define OKS_SYNC_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "sync/membership.h"

#define OKS_SYNC_STATE_ROUNDS 20

typedef struct oks_sync_round {
    int64_t time;
    char partner[272];
    int ok;
    size_t fetch, fetched, added, sent, ignored;
    int64_t ms;
} oks_sync_round;

typedef struct oks_sync_peer_stats {
    char name[272];
    int64_t last_sync;  /* last successful round, 0 = never */
    int last_result;    /* -1 none, 0 failed, 1 ok */
    uint64_t rounds, failures, total_added, total_sent;
    oks_sync_round last;
} oks_sync_peer_stats;

typedef struct oks_sync_state {
    oks_sync_peer_stats peers[OKS_SYNC_MAX_MEMBERS];
    size_t n_peers;
    oks_sync_round recent[OKS_SYNC_STATE_ROUNDS]; /* ring, newest at (head - 1) */
    size_t head, n_recent;
    uint64_t rebuilds;  /* trees rebuilt on request (SIGUSR1, `oksctl sync rebuild`) */
} oks_sync_state;

/* Makes the partner list equal to the members, keeping the figures of members kept. */
void oks_sync_state_set_members(oks_sync_state *s, const oks_sync_members *m);
/* Records a round (a partner not in the list is added while there is room). */
void oks_sync_state_round(oks_sync_state *s, const oks_sync_round *r);
/* Writes the file (path.tmp then rename). */
int oks_sync_state_write(const oks_sync_state *s, const char *path, size_t tree, size_t ignored,
                         oks_err *e);

#endif

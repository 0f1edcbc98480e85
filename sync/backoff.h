/*
 * sync/backoff: which partners the sync worker leaves alone for a while. A partner that wastes
 * a round (it times out, exceeds a budget, breaks the protocol, cannot be reached, or its
 * /pks/hashquery fails) waits base seconds before its next round, doubled with each failure in
 * a row, at most max seconds; a good round clears it. While a partner waits, gossip skips it;
 * its incoming recon connections are closed at once too, unless its last failure was only that
 * it could not be reached (down, or not up yet): then its own sessions are welcome, and one
 * that goes well clears the wait (two partners that start at different times would otherwise
 * refuse each other for ever longer). Partners are named by their membership
 * label ("host:port"); at most OKS_SYNC_BACKOFF_MAX are tracked (the oldest entry that no longer
 * waits is reused). Pure bookkeeping over times given by the caller (ms).
 */
#ifndef OKS_SYNC_BACKOFF_H
#define OKS_SYNC_BACKOFF_H

#include <stdint.h>

#define OKS_SYNC_BACKOFF_MAX 256

typedef struct oks_sync_backoff_entry {
    char name[272];
    unsigned failures; /* in a row */
    int64_t until;     /* ms; 0: not waiting */
    int unreachable;   /* the last failure: it could not be reached */
} oks_sync_backoff_entry;

typedef struct oks_sync_backoff {
    oks_sync_backoff_entry v[OKS_SYNC_BACKOFF_MAX];
    unsigned n;
    int64_t base_ms, max_ms;
} oks_sync_backoff;

void oks_sync_backoff_init(oks_sync_backoff *b, int64_t base_ms, int64_t max_ms);
/* ms the partner still waits at now (0: it may have a round). */
int64_t oks_sync_backoff_left(const oks_sync_backoff *b, const char *name, int64_t now);
/* Whether the partner's incoming sessions are refused at now: it waits, and its last failure
 * was more than not being reachable. */
int oks_sync_backoff_refuses_inbound(const oks_sync_backoff *b, const char *name, int64_t now);
/* Records a wasted round at now (unreachable: we could not reach the partner): returns the wait
 * applied (ms); *failures = failures in a row. */
int64_t oks_sync_backoff_fail(oks_sync_backoff *b, const char *name, int64_t now, int unreachable,
                              unsigned *failures);
/* Records a good round: the partner no longer waits. */
void oks_sync_backoff_ok(oks_sync_backoff *b, const char *name);

#endif

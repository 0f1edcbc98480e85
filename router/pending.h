/*
 * In-flight requests of the router and how their shard replies are merged into one answer.
 */
#ifndef OKS_ROUTER_PENDING_H
#define OKS_ROUTER_PENDING_H

#include "lib/proto.h"

#include <stdbool.h>
#include <stdint.h>

#define OKS_ROUTER_MAX_INFLIGHT 65536

typedef struct oks_pending {
    uint64_t id;          /* internal id; 0 = free slot */
    zmq_msg_t client, rid; /* client envelope */
    int op;               /* Oks__Request__OpCase */
    uint64_t deadline_ms; /* monotonic */
    unsigned expected, received;
    uint8_t *asked;       /* per shard: 1 if a sub-request went there, 2 once answered */
    uint32_t **add_index; /* per shard: original indexes of the keys sent there */
    size_t limit;
    bool raw_forward;     /* single-shard request: forward the shard's bytes unchanged */
    Oks__Response *merged; /* accumulated answer (heap, owned) */
    char *failed;         /* comma-separated names of shards that failed */
    Oks__Status worst;    /* first error status a shard returned */
    char *worst_msg;
} oks_pending;

/* Merges one shard's reply into p->merged. shard_idx names the shard for add index remapping. */
void oks_pending_merge(oks_pending *p, size_t shard_idx, Oks__Response *reply);
/* Notes that a shard failed (down, timeout); name is copied. */
void oks_pending_fail(oks_pending *p, const char *name, const char *why);
/* Builds the final answer into out. */
void oks_pending_finish(oks_pending *p, oks_buf *out);
void oks_pending_release(oks_pending *p, size_t n_shards);

#endif

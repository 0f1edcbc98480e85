/*
 * In-flight requests of the router and how their shard replies are merged into one answer.
 */
#ifndef OKS_ROUTER_PENDING_H
#define OKS_ROUTER_PENDING_H

#include "lib/proto.h"

#include <stdbool.h>
#include <stdint.h>

#define OKS_ROUTER_MAX_INFLIGHT 65536

/* A shard that gave no usable answer to a request, and why. */
typedef struct oks_pending_failure {
    char *shard; /* owned */
    char *why;   /* owned: "deadline passed", "disconnected", or the shard's own error */
    bool reply;  /* why is the error text of the shard's reply (which names the shard) */
} oks_pending_failure;

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
    oks_pending_failure *failed; /* in the order they failed */
    size_t n_failed;
    Oks__Status worst;    /* first error status a shard returned */
    char *worst_msg;
    uint8_t fpr[32];      /* fingerprint lookup: the fingerprint asked for (its key first) */
    size_t fpr_len;
} oks_pending;

/* Merges one shard's reply into p->merged. shard_idx (named name) is used for add index
 * remapping; a reply with an error status also counts the shard as failed, with the shard's
 * error as the reason. */
void oks_pending_merge(oks_pending *p, size_t shard_idx, const char *name, Oks__Response *reply);
/* Notes that a shard failed (down, deadline, garbled reply) and why; both strings are copied. */
void oks_pending_fail(oks_pending *p, const char *name, const char *why);
/* Builds the final answer into out: the first error status a shard answered wins (its error
 * text first); otherwise failed shards make it PARTIAL (a fan-out that still has results) or
 * UNAVAILABLE. The error text names every failed shard with its reason, and failed_shards lists
 * their names. A fingerprint lookup lists the key with that primary fingerprint first. */
void oks_pending_finish(oks_pending *p, oks_buf *out);
void oks_pending_release(oks_pending *p, size_t n_shards);

#endif

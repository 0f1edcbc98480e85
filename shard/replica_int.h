/*
 * The inside of the replica follower, shared by shard/replica.c (following the peers' change
 * logs) and shard/repair.c (full comparison by slot digests). Not for other files.
 */
#ifndef OKS_SHARD_REPLICA_INT_H
#define OKS_SHARD_REPLICA_INT_H

#include "shard/replica.h"

/* Per peer call, and for the own Add (which verifies signatures), ms. */
#define PEER_TIMEOUT_MS 5000
#define SELF_TIMEOUT_MS 60000
/* Pause before asking a peer again after it failed, ms. */
#define PEER_BACKOFF_MS 1000

typedef struct peer {
    size_t idx;          /* in conf->shards */
    oks_client *client;  /* NULL until connected, and again after a failure */
    uint64_t cursor;     /* last sequence of its log copied */
    uint64_t retry_ms;   /* not asked before this time */
    uint64_t repair_ms;  /* next periodic comparison (0: none) */
    bool repair;         /* compare with it as soon as it answers */
    bool initial;        /* that comparison is the first of an empty store */
    size_t batch;        /* hashes per GetByHash: halved after a failed copy (a reply too large
                          * for [cluster] max_message_bytes drops the connection) */
    char cursor_name[80];
} peer;

typedef struct follower {
    oks_shard *sh;
    oks_client *self;
    peer *peers;
    size_t n_peers;
} follower;

/* One call, in slices so a stopping shard is not held up. The reply (*resp) is the caller's. */
int oks_replica_call(follower *f, oks_client *c, const Oks__Request *q, Oks__Response **resp,
                     int timeout_ms, oks_err *e);
/* Fills a (and add) as the own Add (origin REPLICA) of the keys of a GetByHash answer; add->keys
 * is the caller's to free, the bytes stay got's. */
void oks_replica_add_of(const Oks__Response *got, Oks__Request *a, Oks__Add *add);
/* Copies the keys of n hashes from peer p into this shard (GetByHash there, Add here). */
int oks_replica_copy(follower *f, peer *p, ProtobufCBinaryData *hashes, size_t n, oks_err *e);
/* Stores a tombstone a peer has (when it is in a slot this shard holds and wins). */
int oks_replica_take_tomb(oks_shard *sh, const Oks__Tombstone *m, oks_err *e);
/* Full comparison with peer p (shard/repair.c): every slot both hold whose digests differ gets
 * the keys and tombstones this shard lacks. 0 or an error (the connection is then dropped). */
int oks_replica_repair(follower *f, peer *p, oks_err *e);
/* The last sequence of peer p's change log now (an empty page). */
int oks_replica_peer_last(follower *f, peer *p, uint64_t *last, oks_err *e);

#endif

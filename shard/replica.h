/*
 * Anti-entropy between replicas (docs/replicas.md).
 *
 * Every shard follows the change log of each replica peer (a shard holding one of its slots,
 * [cluster] replicas > 1), straight from the peer's endpoint: a ChangeLog page after its cursor,
 * the keys of the entries in the slots both hold whose hash this shard does not store (GetByHash
 * to the peer), then an Add of those keys to itself (origin REPLICA), through the same queues,
 * verification and merge as any upload. The cursor of each peer ("p" name in the store) moves
 * only after that Add was answered, so a shard that was down, or restarted with an empty
 * directory, copies what it missed from where it stopped (the change logs are never pruned, so
 * from the first entry). OpenPGP merge is a union, so copying in any order converges: once both
 * hold the union, each one's copy has the hash the other stores, and the following stops.
 */
#ifndef OKS_SHARD_REPLICA_H
#define OKS_SHARD_REPLICA_H

#include "shard/shard.h"

/* Log entries read per ChangeLog call, and hashes per GetByHash (and keys per Add): 16 keys of
 * at most [limits] max_key_bytes (1 MiB by default) stay far below max_message_bytes (64 MiB);
 * after a failed copy a peer's batch is halved, down to one key. */
#define OKS_REPLICA_PAGE 1000
#define OKS_REPLICA_BATCH 16
/* Pause after a round that found nothing new, ms. */
#define OKS_REPLICA_IDLE_MS 200

/* The follower thread's body (arg: the oks_shard). Runs until sh->rstop is set; a shard with no
 * replica peer returns at once. self_ep: an endpoint of the shard's own ROUTER (inproc). */
void *oks_shard_replica_main(void *arg);

#endif

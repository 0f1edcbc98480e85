/*
 * The add path of a shard, in two halves so that the expensive part runs on many threads and
 * the write on one:
 *   oks_ingest_prepare (any worker thread): parse the incoming key, merge it with the stored
 *     copy (whose signatures are trusted: verified when they were stored), verify only what is
 *     new, compute the SKS hash; decides new / updated / unchanged / rejected.
 *   oks_ingest_commit (the writer thread): re-reads the stored copy, merges again if it changed
 *     since prepare (so concurrent adds of one key never lose an update), writes key + indexes +
 *     change log in the writer's batch.
 */
#ifndef OKS_SHARD_INGEST_H
#define OKS_SHARD_INGEST_H

#include "lib/pgp.h"
#include "shard/store.h"

#include <stdbool.h>

enum oks_outcome { OKS_NEW = 0, OKS_UPDATED = 1, OKS_UNCHANGED = 2, OKS_REJECTED = 3 };

typedef struct oks_ingest {
    enum oks_outcome outcome;
    char reason[200];
    uint8_t fpr[32];
    size_t fpr_len;
    uint8_t keyid[8];
    bool had_old;
    bool deleted;         /* rejected: the fingerprint has a tombstone */
    uint8_t old_hash[16]; /* stored hash prepare merged with */
    uint8_t new_hash[16];
    oks_pgp_key *key;     /* merged + verified, owned (NULL when nothing to write) */
    oks_buf bytes;        /* serialized key */
    oks_pgp_verify_stats vst;
    oks_pgp_key *prep_old; /* stored copy prepare merged with (old_hash), owned, or NULL */
    size_t prep_old_bytes;
    /* filled by commit */
    oks_pgp_key *old_key; /* stored key replaced, owned */
    size_t old_bytes;
} oks_ingest;

/* Verification hook: NULL until lib provides oks_pgp_key_verify. */
void oks_ingest_prepare(oks_store *s, const uint8_t *data, size_t len, const oks_pgp_limits *lim,
                        oks_ingest *out);
/* The same with parse flags: OKS_PGP_TRUSTED for a copy from a replica peer (it verified what
 * it stores): its self-signatures are not verified again (cleaning still applies). */
void oks_ingest_prepare_flags(oks_store *s, const uint8_t *data, size_t len,
                              const oks_pgp_limits *lim, unsigned flags, oks_ingest *out);
/* Brings job up to date with the store (merging with a newer stored copy if needed) and fills
 * the store change. Returns 0, or an error (job becomes rejected). */
int oks_ingest_commit(oks_store *s, const oks_pgp_limits *lim, oks_ingest *job,
                      oks_store_change *ch, oks_err *e);
void oks_ingest_release(oks_ingest *job);

#endif

/*
 * Shard storage on LevelDB. One database per shard holds:
 *   "k" fpr                -> record: u8 format(1), BE64 updated, 16-byte SKS hash, key packets
 *   "i" keyid8 fpr         -> ""   (64-bit key IDs of the primary key and of every subkey)
 *   "s" keyid4 fpr         -> ""   (32-bit key IDs, same keys)
 *   "f" subkey-fpr         -> primary fpr
 *   "e" address 0x00 fpr   -> ""   (normalised e-mail addresses of user IDs)
 *   "d" sha256(local)[0..28] domain 0x00 fpr -> ""  (the same addresses by RFC 7929 owner name)
 *   "w" word 0x00 fpr      -> ""   (SKS words of user IDs)
 *   "u" uid 0x00 fpr       -> ""   (whole user IDs, for exact search; over 255 bytes cut)
 *   "h" hash16             -> fpr
 *   "c" BE64 seq           -> packed oks.Change
 *   "m"                    -> BE64 keys, BE64 bytes, BE64 last seq
 *   "n"                    -> BE32 the slot count the "n" counters are for
 *   "n" BE32 slot          -> BE64 keys stored in that slot (when opened with n_slots)
 *   "p" name               -> BE64 a cursor: the last change-log sequence of a replica peer
 *                             that this shard has copied (shard/replica.h)
 * With n_slots set (shard/store_slots.c, docs/replicas.md "Repair"):
 *   "t" BE32 slot fpr      -> tombstone (lib/tomb.h): the key is deleted (or the delete lifted)
 *   "y" BE32 slot hash16   -> fpr   (the SKS hashes of each slot, in hash order)
 *   "d" BE32 slot          -> 16 bytes: XOR of the slot's key hashes and tombstone hashes
 *   "Y"                    -> BE32 the slot count "t", "y" and "d" are for
 * The index entries of a key are built by shard/keyidx.h, each once; an update deletes and puts
 * only the entries in which the stored and the new copy differ.
 * Invariant: a key, all its index entries, its change-log entry and the counters change in one
 * WriteBatch, so the indexes can never disagree with the keys. Writes come from one thread (the
 * shard's writer); reads from any thread, concurrently (LevelDB is thread-safe).
 */
#ifndef OKS_SHARD_STORE_H
#define OKS_SHARD_STORE_H

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/pgp.h"
#include "lib/tomb.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct oks_store oks_store;

typedef struct oks_store_stats {
    uint64_t keys, bytes, last_seq, disk_bytes;
} oks_store_stats;

typedef struct oks_store_record {
    uint64_t updated;
    uint8_t hash[16];
    oks_slice key; /* points into the owned buffer below */
    char *raw;     /* owned (leveldb_free) */
} oks_store_record;

/* How a store uses memory (docs/shard.md "Shard memory"). Zero fields take the defaults. */
typedef enum oks_store_reads {
    OKS_STORE_READS_PREAD = 0, /* table files read with pread: RSS bounded by the caches */
    OKS_STORE_READS_MMAP,      /* LevelDB's default: tables mapped, RSS grows with the DB */
} oks_store_reads;

typedef struct oks_store_opts {
    size_t cache_mb;          /* LevelDB block cache, MiB (64) */
    size_t write_buffer_mb;   /* memtable size, MiB (OKS_STORE_WRITE_BUFFER_MB) */
    unsigned max_open_files;  /* table files kept open (OKS_STORE_MAX_OPEN_FILES) */
    oks_store_reads table_reads;
    unsigned n_slots;         /* > 0: keys are also counted per slot (for [cluster] slots of
                               * that many; rebuilt by a scan at open when missing or made for
                               * another count); also the tombstones, slot digests and slot
                               * hash lists (below) */
    uint64_t changelog_keep;  /* > 0: keep only the newest this many change-log entries */
} oks_store_opts;

#define OKS_STORE_CACHE_MB 64
#define OKS_STORE_WRITE_BUFFER_MB 16
#define OKS_STORE_MAX_OPEN_FILES 500

struct oks_cluster;
/* Fills o from [shard] cache_mb, write_buffer_mb, max_open_files and table_reads (pread|mmap)
 * of the cluster config (checked when the config was loaded, so this cannot fail today). */
int oks_store_opts_from_config(const struct oks_cluster *c, oks_store_opts *o, oks_err *e);

/* o NULL: every default. */
int oks_store_open(const char *dir, const oks_store_opts *o, oks_store **out, oks_err *e);
void oks_store_close(oks_store *s);

/* 1 found, 0 not found, <0 error. rec->raw must be released with oks_store_record_release. */
int oks_store_get(oks_store *s, const uint8_t *fpr, size_t fpr_len, oks_store_record *rec,
                  oks_err *e);
void oks_store_record_release(oks_store_record *rec);

/* Primary fingerprints whose index entries start with prefix (kind byte + bytes); calls fn for
 * each (fn returns non-zero to stop). At most max results. Work bound: after max_steps index
 * entries looked at (matching or skipped) the scan stops with OKS_E_LIMIT, e saying so (the
 * entries found until then were already passed to fn). */
typedef int (*oks_store_fpr_fn)(const uint8_t *fpr, size_t len, void *arg);
int oks_store_scan(oks_store *s, char kind, const uint8_t *prefix, size_t prefix_len,
                   bool terminated, size_t max, size_t max_steps, oks_store_fpr_fn fn, void *arg,
                   oks_err *e);

/* Search terms of one intersection: at most OKS_STORE_MAX_TERMS, each 1..OKS_STORE_MAX_TERM
 * bytes (longer words are not indexed whole anyway). */
#define OKS_STORE_MAX_TERMS 16
#define OKS_STORE_MAX_TERM 255

/* Primary fingerprints whose index entries of kind exist for every term (kind, term, NUL,
 * fingerprint), in fingerprint order, by leapfrogging over the index lists (shard/intersect.h):
 * the work grows with the rarest term's list. Repeated terms count once. Stops after
 * max_results; more than max_moves iterator moves: OKS_E_LIMIT. A storage error is returned as
 * OKS_E_IO, never as fewer results. */
int oks_store_intersect(oks_store *s, char kind, const oks_slice *terms, size_t n,
                        size_t max_results, size_t max_moves, oks_store_fpr_fn fn, void *arg,
                        oks_err *e);

/* Looks up the primary fingerprint of a subkey fingerprint. 1 found, 0 not, <0 error. */
int oks_store_subkey_owner(oks_store *s, const uint8_t *fpr, size_t len, uint8_t out[32],
                           size_t *out_len, oks_err *e);
/* Primary fingerprint stored under an SKS hash. */
int oks_store_by_hash(oks_store *s, const uint8_t hash[16], uint8_t out[32], size_t *out_len,
                      oks_err *e);
/* Whether a key with this primary key ID and fingerprint is stored: 1 yes, 0 no, <0 error.
 * Answered from the key's 64-bit key ID entry, which is small and stays cached; the key record
 * is not read. */
int oks_store_known(oks_store *s, const uint8_t keyid[8], const uint8_t *fpr, size_t len,
                    oks_err *e);

/* One change to apply: new_key NULL deletes. old_key is the stored key being replaced (NULL if
 * none); its index entries are removed. */
typedef struct oks_store_change {
    const uint8_t *fpr;
    size_t fpr_len;
    const oks_pgp_key *old_key;
    const uint8_t *old_hash; /* 16 bytes or NULL */
    size_t old_bytes;
    const oks_pgp_key *new_key;
    const uint8_t *new_key_bytes; /* serialized new_key */
    size_t new_key_len;
    const uint8_t *new_hash;
    const oks_tomb *tomb;     /* set: this tombstone replaces old_tomb (new_key is then NULL) */
    const oks_tomb *old_tomb; /* the stored tombstone it replaces, or NULL */
    bool unlogged;            /* no change-log entry (a purge after a slot move: the key lives
                               * on in the slot's replicas, whose readers must not drop it) */
} oks_store_change;

/* Every read-modify-write (the writer's batches, deletes) holds the write lock, so the stored
 * copy a change was computed from is the one it replaces. */
void oks_store_write_lock(oks_store *s);
void oks_store_write_unlock(oks_store *s);

/* Applies n changes in one WriteBatch (group commit), synced unless sync is false; caller
 * holds the write lock. Assigns change-log sequence numbers. */
int oks_store_apply(oks_store *s, const oks_store_change *ch, size_t n, bool sync, oks_err *e);
/* Makes every write before it durable (one synced write of an empty batch: LevelDB syncs its
 * log, which holds the unsynced writes before it). */
int oks_store_sync(oks_store *s, oks_err *e);

void oks_store_stats_get(oks_store *s, oks_store_stats *st);
/* False when the per-slot counts could not be read at open (a damaged table): not reported. */
bool oks_store_slot_counts_ok(const oks_store *s);
/* A LevelDB property of the store (e.g. "leveldb.stats"): text to free(), or NULL. */
char *oks_store_property(oks_store *s, const char *name);
/* Keys stored in slots first..last (0 when the store counts no slots). */
uint64_t oks_store_slot_keys(oks_store *s, unsigned first, unsigned last);

/* The cursor named name (at most 128 bytes): *v = 0 when none is stored. */
int oks_store_cursor_get(oks_store *s, const char *name, uint64_t *v, oks_err *e);
/* Stores a cursor (synced). */
int oks_store_cursor_put(oks_store *s, const char *name, uint64_t v, oks_err *e);

/* The store's leveldb_t, for a raw copy of every entry (shard/backup.c); valid until close. */
void *oks_store_leveldb(oks_store *s);

/* Change-log entries with seq > after, at most limit; fn gets the packed oks.Change. */
typedef int (*oks_store_change_fn)(uint64_t seq, const uint8_t *packed, size_t len, void *arg);
int oks_store_changes(oks_store *s, uint64_t after, size_t limit, oks_store_change_fn fn,
                      void *arg, oks_err *e);

/* Calls fn for every stored key after the given fingerprint (export), in fingerprint order;
 * stops when fn returns non-zero. */
typedef int (*oks_store_key_fn)(const oks_store_record *rec, const uint8_t *fpr, size_t fpr_len,
                                void *arg);
int oks_store_each_key(oks_store *s, const uint8_t *after, size_t after_len, oks_store_key_fn fn,
                       void *arg, oks_err *e);

/* ---- tombstones, slot digests, slot hash lists (shard/store_slots.c) ------------------------- */
/* Tombstones work in every store; digests and hash lists need n_slots (and counters that could
 * be read at open). */

/* The tombstone of a fingerprint: 1 found (t filled), 0 none, <0 error. */
int oks_store_tomb_get(oks_store *s, const uint8_t *fpr, size_t fpr_len, oks_tomb *t,
                       oks_err *e);
/* Tombstones after the fingerprint after (in the order of their slots, then fingerprints; NULL:
 * from the first), lifted ones too when lifted; fn returns non-zero to stop. At most max. */
typedef int (*oks_store_tomb_fn)(const oks_tomb *t, void *arg);
int oks_store_tombs(oks_store *s, const uint8_t *after, size_t after_len, bool lifted,
                    size_t max, oks_store_tomb_fn fn, void *arg, oks_err *e);
/* The tombstones of slots first..last (at most max). */
int oks_store_slot_tombs(oks_store *s, unsigned first, unsigned last, size_t max,
                         oks_store_tomb_fn fn, void *arg, oks_err *e);
/* Digest and key count of a slot; false when the store keeps none (no n_slots). */
bool oks_store_slot_digest(oks_store *s, unsigned slot, uint8_t out[16], uint64_t *keys);
/* SKS hashes of the keys of slots first..last in slot then hash order, after `after` (20 bytes:
 * BE32 slot + hash, or NULL), at most max; fn gets each slot, hash and fingerprint. */
typedef int (*oks_store_hash_fn)(unsigned slot, const uint8_t hash[16], const uint8_t *fpr,
                                 size_t len, void *arg);
int oks_store_slot_hashes(oks_store *s, unsigned first, unsigned last, const uint8_t *after,
                          size_t max, oks_store_hash_fn fn, void *arg, oks_err *e);
/* Oldest change-log entry kept (0: nothing written yet). */
uint64_t oks_store_first_seq(oks_store *s);
/* Whether the store was created empty by this open (a new or wiped data directory). */
bool oks_store_was_empty(const oks_store *s);

#endif

/*
 * The inside of a shard store, shared by shard/store.c (keys, indexes, change log) and
 * shard/store_slots.c (tombstones, per-slot digests and hash lists, change-log pruning). Not for
 * other files: they use shard/store.h.
 */
#ifndef OKS_SHARD_STORE_INT_H
#define OKS_SHARD_STORE_INT_H

#include "shard/store.h"

#include <leveldb/c.h>
#include <pthread.h>

/* A write batch being built (shard/store_batch.c): the writes in the order made, put into a
 * LevelDB batch in key order (writes to one key in their order) when it is written. Growing it
 * cannot fail (lib/xalloc.h). */
typedef struct oks_wbatch {
    oks_buf kv; /* keys and values, back to back */
    struct oks_wbent *e;
    size_t n, cap;
    struct oks_wbsort *sort; /* scratch of the sort: 2 * sort_cap entries */
    size_t sort_cap;
} oks_wbatch;

struct oks_store {
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *bloom;
    leveldb_readoptions_t *ro, *ro_scan;
    leveldb_writeoptions_t *wo_sync, *wo;
    char *dir;
    pthread_mutex_t lock; /* counters */
    pthread_mutex_t wlock; /* read-modify-write */
    uint64_t keys, bytes, last_seq;
    unsigned n_slots;     /* > 0: keys counted per slot too */
    uint64_t *slot_keys;  /* n_slots counters (under lock) */
    bool slot_counts_broken; /* they could not be read at open: not counted, not reported */
    uint8_t (*slot_digest)[16]; /* n_slots digests (under lock; shard/store_slots.c) */
    uint64_t changelog_keep;  /* > 0: change-log entries kept; older ones pruned */
    uint64_t first_seq;       /* oldest change-log entry kept (0: none written yet) */
    bool was_empty;           /* nothing was stored when it was opened */
    unsigned tomb_slots;      /* the slot count of the "t" keys: n_slots as configured, kept
                               * when damaged counters turn the per-slot features off */
    uint64_t *fresh;          /* opened empty: what was written since (shard/store_fresh.c) */
    /* the batch oks_store_apply builds and the LevelDB batch it fills, kept from one write to
     * the next (under wlock) so that their memory is not allocated, grown and faulted in anew
     * for every group commit */
    oks_wbatch wb;
    leveldb_writebatch_t *lwb;
};

/* shard/store_fresh.c: bits of the fingerprints and SKS hashes written since a store opened
 * empty (id: at least 4 bytes of a digest). absent is true only when id was surely never
 * written; always false for a store that was not empty when opened. */
void oks_store_fresh_init(oks_store *s);
void oks_store_fresh_free(oks_store *s);
void oks_store_fresh_mark(oks_store *s, const uint8_t *id, size_t len);
bool oks_store_fresh_absent(const oks_store *s, const uint8_t *id, size_t len);


void oks_wbatch_init(oks_wbatch *b);
void oks_wbatch_release(oks_wbatch *b);
/* Empties b, keeping its memory for the next batch. */
void oks_wbatch_reset(oks_wbatch *b);
/* Bytes b holds on to (what oks_wbatch_reset keeps). */
size_t oks_wbatch_held(const oks_wbatch *b);
/* Appends the writes of b in key order to out (the caller's, usually just cleared). */
void oks_wbatch_fill(oks_wbatch *b, leveldb_writebatch_t *out);
void oks_wbatch_put(oks_wbatch *b, const void *k, size_t kl, const void *v, size_t vl);
void oks_wbatch_delete(oks_wbatch *b, const void *k, size_t kl);
/* A new LevelDB batch (the caller's) with the writes of b in key order. */
leveldb_writebatch_t *oks_wbatch_leveldb(oks_wbatch *b);

/* Per slot keys and digests (what store_slots.c adds to a batch): slot of a fingerprint. */
unsigned oks_store_slot_of(const oks_store *s, const uint8_t *fpr, size_t len);
/* Loads the per-slot digests, the slot-hash index and the tombstones' slots, rebuilding them by
 * a scan when missing or made for another slot count (at open, with n_slots set). */
int oks_store_slots_open(oks_store *s, oks_err *e);
/* Adds to wb what change c means for the slot-hash index ("y"), the tombstones ("t") and the
 * digests of its slot (dig: the slot's digest, updated). */
int oks_store_slots_change(oks_store *s, oks_wbatch *wb, const oks_store_change *c,
                           uint8_t dig[16]);
/* Adds to wb the stored form of c->tomb (with or without the per-slot features). */
int oks_store_tomb_put(oks_store *s, oks_wbatch *wb, const oks_store_change *c);
/* Adds to wb the deletion of change-log entries that fall out of changelog_keep when the log
 * grows from old_last to new_last; returns the new first_seq. */
uint64_t oks_store_prune(oks_store *s, oks_wbatch *wb, uint64_t old_last,
                         uint64_t new_last);
/* Finds the oldest change-log entry kept (at open). */
int oks_store_first_load(oks_store *s, oks_err *e);
void oks_store_put_be32(uint8_t *p, uint32_t v);

#endif

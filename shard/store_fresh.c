/* What a store opened empty has written since: one bit per fingerprint and per SKS hash written
 * (set before the write; never cleared). A clear bit proves that no key, tombstone or hash entry
 * of that fingerprint or hash was ever stored, so the reads that nearly always miss while a wiped
 * replica rebuilds (is the key there, is it deleted, is this hash stored) are answered without
 * LevelDB: each such miss still costs a memtable search and a filter check per table file. A set
 * bit (written, or another one sharing it) only means "read LevelDB". Fingerprints and SKS hashes
 * are digests, so their first bytes spread evenly over the bits.
 *
 * Every write of a store goes through oks_store_apply (under the write lock), which marks before
 * it writes; a reader racing with that write either sees the bit and reads, or sees it clear and
 * answers as if it had read just before the write. A store that was not empty when opened has no
 * bit set (reads always go to LevelDB). */
#include "lib/xalloc.h"
#include "shard/store_int.h"

#include <stdlib.h>

/* 2^26 bits (8 MiB): fewer than 1 % of the bits are set after 300,000 keys (two bits a key),
 * one in four after 10 million; past that the reads simply go to LevelDB more often. */
#define FRESH_BITS_LOG2 26

static size_t bit_of(const uint8_t *id)
{
    uint32_t v = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
    return v >> (32 - FRESH_BITS_LOG2);
}

void oks_store_fresh_init(oks_store *s)
{
    if (s->was_empty)
        s->fresh = oks_xcalloc((size_t)1 << (FRESH_BITS_LOG2 - 6), sizeof *s->fresh);
}

void oks_store_fresh_free(oks_store *s)
{
    free(s->fresh);
    s->fresh = NULL;
}

void oks_store_fresh_mark(oks_store *s, const uint8_t *id, size_t len)
{
    if (!s->fresh || len < 4)
        return;
    size_t b = bit_of(id);
    __atomic_fetch_or(&s->fresh[b >> 6], (uint64_t)1 << (b & 63), __ATOMIC_RELEASE);
}

bool oks_store_fresh_absent(const oks_store *s, const uint8_t *id, size_t len)
{
    if (!s->fresh || len < 4)
        return false;
    size_t b = bit_of(id);
    return !(__atomic_load_n(&s->fresh[b >> 6], __ATOMIC_ACQUIRE) & ((uint64_t)1 << (b & 63)));
}

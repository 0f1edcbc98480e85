/*
 * The gateway's answer cache: machine-readable lookup answers (op=get/index/vindex/hget with
 * options=mr) kept in memory and served without asking the cluster, for as long as nothing they
 * depend on has changed.
 *
 * Validity is decided by a logical clock, not by time. A request takes a tag (the clock) before
 * it is sent; every invalidation advances the clock and stamps what it invalidates. An answer to
 * a primary-fingerprint lookup depends on that key only (one of 65536 buckets by fingerprint);
 * every other answer (searches, key IDs, subkeys) depends on every key. An entry is served while
 * its tag is not older than the last stamp of what it depends on, and while the cluster's change
 * logs were read recently (gw_cache_fresh); see follow.c for who calls the invalidations.
 * Answers computed while an invalidation raced with them are never stored.
 *
 * Thread-safe: lock-striped hash tables with an LRU list each, bounded by bytes.
 */
#ifndef OKS_GW_CACHE_H
#define OKS_GW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_cache gw_cache;

/* One cached answer (status 200). */
typedef struct gw_cached {
    const char *ctype; /* static string */
    const uint8_t *body;
    size_t len;
    char etag[40];  /* with quotes; "" when none */
    uint32_t count; /* X-HKP-Results-Count */
    bool attachment; /* Content-Disposition: attachment */
} gw_cached;

typedef struct gw_cache_counters {
    uint64_t hits, misses, stale, stored, evicted, entries, bytes;
} gw_cache_counters;

/* max_bytes: bodies + keys; max_stale_ms: entries are bypassed when the change logs have not
 * been read for that long. Returns NULL on allocation failure. */
gw_cache *gw_cache_new(size_t max_bytes, unsigned max_stale_ms);
void gw_cache_free(gw_cache *c);

/* The tag to take before sending the request whose answer may be stored. */
uint64_t gw_cache_tag(gw_cache *c);

/* Stores a copy of v under key, depending on fpr (fpr_len 20 or 32) or, with fpr NULL, on every
 * key. Nothing is stored when an invalidation happened since tag, or when v is larger than a
 * stripe's share of the budget. Returns true when stored. */
bool gw_cache_put(gw_cache *c, const void *key, size_t klen, const uint8_t *fpr, size_t fpr_len,
                  uint64_t tag, const gw_cached *v);

/* On a valid hit calls fn(arg, entry) with the stripe locked (fn copies what it needs) and
 * returns true. now_ms is a monotonic clock in milliseconds. */
bool gw_cache_get(gw_cache *c, const void *key, size_t klen, uint64_t now_ms,
                  void (*fn)(void *arg, const gw_cached *v), void *arg);

/* The key with this fingerprint changed (also invalidates every answer that depends on all). */
void gw_cache_invalidate(gw_cache *c, const uint8_t *fpr, size_t fpr_len);
/* Everything is invalid (a change log went backwards, or too many changes to read). */
void gw_cache_flush(gw_cache *c);
/* Every shard's change log has been read up to now_ms. */
void gw_cache_fresh(gw_cache *c, uint64_t now_ms);

void gw_cache_counters_get(gw_cache *c, gw_cache_counters *out);

#endif

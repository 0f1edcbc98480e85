/*
 * Intersection of sorted lists of fingerprints (index scans of several search words) by
 * leapfrogging: each list is a cursor that can seek to the first entry at or after a given one,
 * and the cursors take turns seeking to the largest entry seen, so the work grows with the
 * shortest list (times the number of lists and a seek), never with the product or the sum of the
 * lists. A budget of cursor moves bounds the work whatever the data.
 * Entries compare bytewise, a shorter entry before a longer one it is a prefix of (the order of
 * LevelDB's default comparator over keys that share a prefix).
 */
#ifndef OKS_SHARD_INTERSECT_H
#define OKS_SHARD_INTERSECT_H

#include "lib/buf.h"
#include "lib/err.h"

#include <stddef.h>
#include <stdint.h>

#define OKS_INTERSECT_MAX_ENTRY 32

typedef struct oks_cursor_ops {
    /* Positions cur at the first entry >= target (target NULL: the first entry). Returns 1 when
     * on an entry, 0 past the end, or a negative OKS_E_* (e filled). */
    int (*seek)(void *cur, const uint8_t *target, size_t len, oks_err *e);
    /* Moves to the next entry: 1, 0 past the end, or a negative OKS_E_*. */
    int (*next)(void *cur, oks_err *e);
    /* The current entry (valid until the cursor moves; at most OKS_INTERSECT_MAX_ENTRY bytes). */
    oks_slice (*get)(void *cur);
} oks_cursor_ops;

/* Called for each entry found in every list, in order; non-zero stops the intersection. */
typedef int (*oks_intersect_fn)(const uint8_t *entry, size_t len, void *arg);

/* Intersects k >= 1 cursors. Stops after max_results entries (returns 0), at the end of any list
 * (0), on a cursor error (its code), or when more than max_moves cursor moves would be needed:
 * OKS_E_LIMIT, e saying so (entries found until then were already passed to fn). */
int oks_intersect(void *const *cursors, const oks_cursor_ops *ops, size_t k, size_t max_results,
                  size_t max_moves, oks_intersect_fn fn, void *arg, oks_err *e);

/* The entry order above: <0, 0, >0. */
int oks_intersect_cmp(oks_slice a, oks_slice b);

#endif

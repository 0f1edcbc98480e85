/* A store's write batch, written to LevelDB in key order. LevelDB inserts each write of a batch
 * into its memtable, a skip list, by a search from the top; in the order the store builds a
 * batch (per key: its record, then its index entries, scattered over the whole key space) each
 * search misses the CPU cache at nearly every level, and those misses were most of a shard's
 * write time. In key order each search walks nodes the previous one just touched. The batch is
 * atomic, so the order of writes to different keys does not matter; writes to the same key keep
 * their order (the later one still wins: the sort is stable).
 *
 * The writes are collected here (keys and values back to back in one buffer) and put into a
 * LevelDB batch only once, sorted: no second batch to copy into, no callbacks to read one back.
 * The sort is a merge sort of 16-byte entries (the key's first 8 bytes, which decide most
 * comparisons, and its index), with the comparison inlined. */
#include "shard/store_int.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct oks_wbent {
    size_t off;     /* of the key in kv; the value follows it */
    uint32_t kl, vl;
    bool del;
};

/* what is sorted */
typedef struct oks_wbsort {
    uint64_t head; /* the key's first 8 bytes, big-endian, zero-padded */
    uint32_t i;    /* its entry */
} sent;

void oks_wbatch_init(oks_wbatch *b)
{
    memset(b, 0, sizeof *b);
}

void oks_wbatch_release(oks_wbatch *b)
{
    oks_buf_release(&b->kv);
    free(b->e);
    free(b->sort);
    oks_wbatch_init(b);
}

void oks_wbatch_reset(oks_wbatch *b)
{
    b->kv.len = 0;
    b->n = 0;
}

size_t oks_wbatch_held(const oks_wbatch *b)
{
    return b->kv.cap + b->cap * sizeof *b->e + 2 * b->sort_cap * sizeof *b->sort;
}

static void add(oks_wbatch *b, const void *k, size_t kl, const void *v, size_t vl, bool del)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->e = oks_xrealloc(b->e, b->cap * sizeof *b->e);
    }
    b->e[b->n++] = (struct oks_wbent){b->kv.len, (uint32_t)kl, (uint32_t)vl, del};
    oks_buf_append(&b->kv, k, kl);
    if (vl)
        oks_buf_append(&b->kv, v, vl);
}

void oks_wbatch_put(oks_wbatch *b, const void *k, size_t kl, const void *v, size_t vl)
{
    add(b, k, kl, v, vl, false);
}

void oks_wbatch_delete(oks_wbatch *b, const void *k, size_t kl)
{
    add(b, k, kl, NULL, 0, true);
}

/* LevelDB's default comparator: bytewise, a prefix first (ties: the order of the writes, kept
 * by the merge) */
static inline bool less(const oks_wbatch *b, const sent *x, const sent *y)
{
    if (x->head != y->head)
        return x->head < y->head;
    const struct oks_wbent *p = &b->e[x->i], *q = &b->e[y->i];
    if (p->kl <= 8 || q->kl <= 8)
        return p->kl < q->kl;
    size_t m = (p->kl < q->kl ? p->kl : q->kl) - 8;
    int c = memcmp(b->kv.data + p->off + 8, b->kv.data + q->off + 8, m);
    return c ? c < 0 : p->kl < q->kl;
}

/* Stable bottom-up merge sort of a[0..n) (t: scratch of n); returns where the result is. */
static sent *msort(const oks_wbatch *b, sent *a, sent *t, size_t n)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                t[k++] = less(b, &a[j], &a[i]) ? a[j++] : a[i++];
            while (i < mid)
                t[k++] = a[i++];
            while (j < hi)
                t[k++] = a[j++];
        }
        sent *s = a;
        a = t;
        t = s;
    }
    return a;
}

leveldb_writebatch_t *oks_wbatch_leveldb(oks_wbatch *b)
{
    leveldb_writebatch_t *out = leveldb_writebatch_create();
    oks_wbatch_fill(b, out);
    return out;
}

void oks_wbatch_fill(oks_wbatch *b, leveldb_writebatch_t *out)
{
    size_t n = b->n;
    if (n > b->sort_cap) {
        free(b->sort);
        b->sort_cap = n;
        b->sort = oks_xmalloc(n * 2 * sizeof *b->sort);
    }
    sent *a = b->sort, *s = a;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = b->kv.data + b->e[i].off;
        uint64_t head = 0;
        for (size_t j = 0; j < 8; j++)
            head = head << 8 | (j < b->e[i].kl ? k[j] : 0);
        a[i] = (sent){head, (uint32_t)i};
    }
    if (n > 1)
        s = msort(b, a, a + n, n);
    for (size_t i = 0; i < n; i++) {
        const struct oks_wbent *x = &b->e[s[i].i];
        const char *k = (const char *)b->kv.data + x->off;
        if (x->del)
            leveldb_writebatch_delete(out, k, x->kl);
        else
            leveldb_writebatch_put(out, k, x->kl, k + x->kl, x->vl);
    }
}

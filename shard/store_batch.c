/* Key order for a LevelDB write batch before it is written. LevelDB inserts each write of a
 * batch into its memtable, a skip list, by a search from the top; in the order the store builds
 * a batch (per key: its record, then its index entries, scattered over the whole key space) each
 * search misses the CPU cache at nearly every level, and those misses were most of a shard's
 * write time. In key order each search walks nodes the previous one just touched. The batch is
 * atomic, so the order of writes to different keys does not matter; writes to the same key keep
 * their order (the later one still wins). */
#include "shard/store_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct bentry {
    const char *k, *v; /* into the source batch */
    size_t kl, vl;
    uint64_t head; /* the key's first 8 bytes, big-endian, zero-padded: most comparisons */
    size_t pos; /* order in the source batch: ties keep it */
    bool del;
} bentry;

typedef struct bcollect {
    bentry *e;
    size_t n, cap;
    bool nomem;
} bcollect;

static void add(bcollect *c, const char *k, size_t kl, const char *v, size_t vl, bool del)
{
    if (c->nomem)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        bentry *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne) {
            c->nomem = true;
            return;
        }
        c->e = ne;
        c->cap = cap;
    }
    uint64_t head = 0;
    for (size_t i = 0; i < 8; i++)
        head = head << 8 | (i < kl ? (uint8_t)k[i] : 0);
    c->e[c->n] = (bentry){k, v, kl, vl, head, c->n, del};
    c->n++;
}

static void on_put(void *st, const char *k, size_t kl, const char *v, size_t vl)
{
    add(st, k, kl, v, vl, false);
}

static void on_del(void *st, const char *k, size_t kl)
{
    add(st, k, kl, NULL, 0, true);
}

/* LevelDB's default comparator: bytewise, a prefix first */
static int cmp(const void *a, const void *b)
{
    const bentry *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    size_t m = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, m);
    if (c == 0)
        c = x->kl < y->kl ? -1 : x->kl > y->kl;
    if (c == 0)
        c = x->pos < y->pos ? -1 : x->pos > y->pos;
    return c;
}

leveldb_writebatch_t *oks_store_batch_sorted(const leveldb_writebatch_t *wb)
{
    bcollect c = {0};
    leveldb_writebatch_iterate(wb, &c, on_put, on_del);
    leveldb_writebatch_t *out = c.nomem ? NULL : leveldb_writebatch_create();
    if (out) {
        if (c.n)
            qsort(c.e, c.n, sizeof *c.e, cmp);
        for (size_t i = 0; i < c.n; i++) {
            if (c.e[i].del)
                leveldb_writebatch_delete(out, c.e[i].k, c.e[i].kl);
            else
                leveldb_writebatch_put(out, c.e[i].k, c.e[i].kl, c.e[i].v, c.e[i].vl);
        }
    }
    free(c.e);
    return out;
}

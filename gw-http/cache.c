/*
 * The answer cache of cache.h: 32 stripes, each a chained hash table with an LRU list under one
 * mutex and 1/32 of the byte budget; a logical clock and per-fingerprint-bucket stamps for
 * validity (atomics, read without the stripe locks).
 */
#include "gw-http/cache.h"
#include "lib/xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 32
#define FPR_BUCKETS 65536
#define ENTRY_OVERHEAD 128 /* bytes charged per entry besides key and body */

typedef struct entry {
    struct entry *hnext, *prev, *next; /* hash chain, LRU (most recent after head) */
    uint64_t h, tag;
    int bucket; /* fingerprint bucket, -1: depends on every key */
    size_t klen, cost;
    gw_cached v;
    uint8_t *body; /* owned; v.body points here */
    uint8_t key[];
} entry;

typedef struct stripe {
    pthread_mutex_t lock;
    entry **tab;
    size_t cap, n, bytes;
    entry lru; /* sentinel */
} stripe;

struct gw_cache {
    stripe s[STRIPES];
    size_t stripe_budget;
    unsigned max_stale_ms;
    atomic_uint_fast64_t clock, all_stamp, flush_stamp, fresh_ms;
    atomic_uint_fast64_t hits, misses, stale, stored, evicted;
    atomic_uint_fast64_t fpr_stamp[FPR_BUCKETS];
};

static uint64_t hash_of(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static int bucket_of(const uint8_t *fpr, size_t n)
{
    return n >= 2 ? (int)(((unsigned)fpr[0] << 8 | fpr[1]) % FPR_BUCKETS) : 0;
}

gw_cache *gw_cache_new(size_t max_bytes, unsigned max_stale_ms)
{
    gw_cache *c = oks_xcalloc(1, sizeof *c);
    c->stripe_budget = max_bytes / STRIPES;
    c->max_stale_ms = max_stale_ms;
    atomic_store(&c->clock, 1);
    for (int i = 0; i < STRIPES; i++) {
        stripe *s = &c->s[i];
        pthread_mutex_init(&s->lock, NULL);
        s->cap = 64;
        s->tab = oks_xcalloc(s->cap, sizeof *s->tab);
        s->lru.prev = s->lru.next = &s->lru;
        if (!s->tab) {
            gw_cache_free(c);
            return NULL;
        }
    }
    return c;
}

static void entry_free(entry *e)
{
    free(e->body);
    free(e);
}

void gw_cache_free(gw_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < STRIPES; i++) {
        stripe *s = &c->s[i];
        if (s->tab)
            for (entry *e = s->lru.next; e && e != &s->lru;) {
                entry *nx = e->next;
                entry_free(e);
                e = nx;
            }
        free(s->tab);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

uint64_t gw_cache_tag(gw_cache *c)
{
    return atomic_load(&c->clock);
}

/* Raises *stamp to a fresh clock value (never lowers it, whoever else stamps concurrently). */
static void stamp(gw_cache *c, atomic_uint_fast64_t *st)
{
    uint64_t v = atomic_fetch_add(&c->clock, 1) + 1;
    uint64_t cur = atomic_load(st);
    while (cur < v && !atomic_compare_exchange_weak(st, &cur, v))
        ;
}

void gw_cache_invalidate(gw_cache *c, const uint8_t *fpr, size_t fpr_len)
{
    stamp(c, &c->fpr_stamp[bucket_of(fpr, fpr_len)]);
    stamp(c, &c->all_stamp);
}

void gw_cache_flush(gw_cache *c)
{
    stamp(c, &c->flush_stamp);
}

void gw_cache_fresh(gw_cache *c, uint64_t now_ms)
{
    atomic_store(&c->fresh_ms, now_ms);
}

static bool valid(gw_cache *c, uint64_t tag, int bucket)
{
    if (tag < atomic_load(&c->flush_stamp))
        return false;
    return tag >= atomic_load(bucket < 0 ? &c->all_stamp : &c->fpr_stamp[bucket]);
}

static void unlink_entry(stripe *s, entry *e)
{
    entry **pp = &s->tab[e->h % s->cap];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->prev->next = e->next;
    e->next->prev = e->prev;
    s->n--;
    s->bytes -= e->cost;
}

static void lru_front(stripe *s, entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = s->lru.next;
    e->prev = &s->lru;
    s->lru.next->prev = e;
    s->lru.next = e;
}

static entry *find(stripe *s, uint64_t h, const void *key, size_t klen)
{
    for (entry *e = s->tab[h % s->cap]; e; e = e->hnext)
        if (e->h == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

static void grow(stripe *s)
{
    size_t cap = s->cap * 2;
    entry **tab = oks_xcalloc(cap, sizeof *tab);
    if (!tab)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->cap; i++)
        for (entry *e = s->tab[i], *nx; e; e = nx) {
            nx = e->hnext;
            e->hnext = tab[e->h % cap];
            tab[e->h % cap] = e;
        }
    free(s->tab);
    s->tab = tab;
    s->cap = cap;
}

bool gw_cache_get(gw_cache *c, const void *key, size_t klen, uint64_t now_ms,
                  void (*fn)(void *arg, const gw_cached *v), void *arg)
{
    uint64_t h = hash_of(key, klen);
    stripe *s = &c->s[h % STRIPES];
    uint64_t fresh = atomic_load(&c->fresh_ms);
    bool recent = fresh && now_ms <= fresh + c->max_stale_ms;
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, h, key, klen);
    if (e && !valid(c, e->tag, e->bucket)) {
        unlink_entry(s, e);
        entry_free(e);
        e = NULL;
        atomic_fetch_add(&c->stale, 1);
    }
    if (!e || !recent) {
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add(&c->misses, 1);
        return false;
    }
    lru_front(s, e);
    fn(arg, &e->v);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&c->hits, 1);
    return true;
}

bool gw_cache_put(gw_cache *c, const void *key, size_t klen, const uint8_t *fpr, size_t fpr_len,
                  uint64_t tag, const gw_cached *v)
{
    int bucket = fpr ? bucket_of(fpr, fpr_len) : -1;
    size_t cost = ENTRY_OVERHEAD + klen + v->len;
    if (cost > c->stripe_budget / 4 || !valid(c, tag, bucket))
        return false;
    entry *n = oks_xmalloc(sizeof *n + klen);
    uint8_t *body = oks_xmalloc(v->len ? v->len : 1);
    if (!n || !body) {
        free(n);
        free(body);
        return false;
    }
    memcpy(n->key, key, klen);
    memcpy(body, v->body, v->len);
    n->klen = klen;
    n->h = hash_of(key, klen);
    n->tag = tag;
    n->bucket = bucket;
    n->cost = cost;
    n->v = *v;
    n->v.body = n->body = body;
    stripe *s = &c->s[n->h % STRIPES];
    pthread_mutex_lock(&s->lock);
    entry *old = find(s, n->h, key, klen);
    if (old) {
        unlink_entry(s, old);
        entry_free(old);
    }
    while (s->bytes + cost > c->stripe_budget && s->lru.prev != &s->lru) {
        entry *victim = s->lru.prev;
        unlink_entry(s, victim);
        entry_free(victim);
        atomic_fetch_add(&c->evicted, 1);
    }
    if (s->n + 1 > s->cap)
        grow(s);
    n->hnext = s->tab[n->h % s->cap];
    s->tab[n->h % s->cap] = n;
    n->prev = &s->lru;
    n->next = s->lru.next;
    s->lru.next->prev = n;
    s->lru.next = n;
    s->n++;
    s->bytes += cost;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&c->stored, 1);
    return true;
}

void gw_cache_counters_get(gw_cache *c, gw_cache_counters *out)
{
    memset(out, 0, sizeof *out);
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->stale = atomic_load(&c->stale);
    out->stored = atomic_load(&c->stored);
    out->evicted = atomic_load(&c->evicted);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&c->s[i].lock);
        out->entries += c->s[i].n;
        out->bytes += c->s[i].bytes;
        pthread_mutex_unlock(&c->s[i].lock);
    }
}

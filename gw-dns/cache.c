/* The answer cache: direct-mapped, one lookup result per slot (see dns.h). */
#include "gw-dns/dns.h"

#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char hash[GWD_HASH_HEX + 1];
    size_t zone;
    uint64_t expires_ms;
    int rcode;
    gwd_records recs;
    bool used;
} entry;

struct gwd_cache {
    size_t n;
    entry *v;
};

gwd_cache *gwd_cache_new(size_t slots)
{
    if (!slots)
        return NULL;
    gwd_cache *c = oks_xcalloc(1, sizeof *c);
    c->n = slots;
    c->v = oks_xcalloc(slots, sizeof *c->v);
    return c;
}

void gwd_cache_free(gwd_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        oks_buf_release(&c->v[i].recs.data);
    free(c->v);
    free(c);
}

static entry *slot(gwd_cache *c, const char *hash, size_t zone)
{
    /* the hash is already uniformly distributed: its first 16 hex digits index */
    uint64_t h = zone * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 16; i++)
        h = h << 4 | (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &c->v[h % c->n];
}

bool gwd_cache_get(gwd_cache *c, const char *hash, size_t zone, uint64_t now_ms, int *rcode,
                   gwd_records *out)
{
    if (!c)
        return false;
    entry *e = slot(c, hash, zone);
    if (!e->used || e->zone != zone || strcmp(e->hash, hash) != 0 || e->expires_ms <= now_ms)
        return false;
    *rcode = e->rcode;
    out->n = 0;
    out->data.len = 0;
    out->type = e->recs.type;
    size_t o = 0;
    for (size_t i = 0; i < e->recs.n; i++) {
        if (gwd_records_add(out, e->recs.data.data + o, e->recs.len[i]))
            return false;
        o += e->recs.len[i];
    }
    return true;
}

void gwd_cache_put(gwd_cache *c, const char *hash, size_t zone, uint64_t expires_ms, int rcode,
                   const gwd_records *recs)
{
    if (!c)
        return;
    entry *e = slot(c, hash, zone);
    e->used = false;
    e->recs.n = 0;
    e->recs.data.len = 0;
    e->recs.type = recs ? recs->type : 0;
    size_t o = 0;
    for (size_t i = 0; recs && i < recs->n; i++) {
        if (gwd_records_add(&e->recs, recs->data.data + o, recs->len[i]))
            return;
        o += recs->len[i];
    }
    memcpy(e->hash, hash, sizeof e->hash);
    e->zone = zone;
    e->expires_ms = expires_ms;
    e->rcode = rcode;
    e->used = true;
}

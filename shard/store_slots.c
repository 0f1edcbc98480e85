/* Shard storage by slot: tombstones, per-slot digests and hash lists, change-log pruning (see
 * store.h; docs/replicas.md "Tombstones" and "Repair"). */
#include "lib/cluster.h"
#include "lib/ldb.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "shard/store_int.h"

#include <stdlib.h>
#include <string.h>

/* Entries written per batch while rebuilding. */
#define REBUILD_BATCH 10000

static void tkey(const oks_store *s, const uint8_t *fpr, size_t len, uint8_t k[37])
{
    uint8_t kid[8];
    unsigned slot = s->tomb_slots && oks_keyid_of_fpr(fpr, len, kid) == 0
                        ? oks_slot_of_keyid(kid, s->tomb_slots)
                        : 0;
    k[0] = 't';
    oks_store_put_be32(k + 1, slot);
    memcpy(k + 5, fpr, len);
}

int oks_store_tomb_put(oks_store *s, oks_wbatch *wb, const oks_store_change *c)
{
    uint8_t tk[37];
    oks_buf b = OKS_BUF_INIT;
    if (oks_tomb_encode(c->tomb, &b))
        return OKS_E_NOMEM;
    tkey(s, c->fpr, c->fpr_len, tk);
    oks_wbatch_put(wb, tk, 5 + c->fpr_len, b.data, b.len);
    oks_buf_release(&b);
    return 0;
}

/* Calls fn(key, klen, value, vlen) for every entry starting with prefix; stops on non-zero. */
typedef int (*entry_fn)(const char *k, size_t kl, const char *v, size_t vl, void *arg);
static int each_entry(oks_store *s, const char *prefix, size_t plen, entry_fn fn, void *arg,
                      const char *what, oks_err *e)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    int r = 0;
    for (leveldb_iter_seek(it, prefix, plen); leveldb_iter_valid(it) && !r;
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < plen || memcmp(k, prefix, plen) != 0)
            break;
        const char *v = leveldb_iter_value(it, &vl);
        r = fn(k, kl, v, vl, arg);
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err)
        return oks_ldb_error(e, err, "leveldb", what);
    return r < 0 ? oks_err_set(e, r, OKS_NO_OFFSET, "%s", what) : 0;
}

typedef struct rebuild {
    oks_store *s;
    leveldb_writebatch_t *wb;
    size_t n;
    char *err;
} rebuild;

static void rb_flush(rebuild *b, bool force)
{
    if (b->err || (!force && b->n < REBUILD_BATCH))
        return;
    leveldb_write(b->s->db, b->s->wo_sync, b->wb, &b->err);
    leveldb_writebatch_clear(b->wb);
    b->n = 0;
}

static int rb_drop_y(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
    (void)v, (void)vl;
    rebuild *b = arg;
    leveldb_writebatch_delete(b->wb, k, kl);
    b->n++;
    rb_flush(b, false);
    return b->err ? -1 : 0;
}

static int rb_key(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
    rebuild *b = arg;
    const uint8_t *fpr = (const uint8_t *)k + 1;
    size_t fl = kl - 1;
    if ((fl != 20 && fl != 32) || vl < 25)
        return 0; /* not a key record: reads of it fail on their own */
    unsigned slot = oks_store_slot_of(b->s, fpr, fl);
    uint8_t yk[21] = {'y'};
    oks_store_put_be32(yk + 1, slot);
    memcpy(yk + 5, v + 9, 16); /* the record's SKS hash (store.c REC_HASH_AT) */
    leveldb_writebatch_put(b->wb, (char *)yk, 21, (const char *)fpr, fl);
    oks_digest_xor(b->s->slot_digest[slot], (const uint8_t *)v + 9);
    b->n++;
    rb_flush(b, false);
    return b->err ? -1 : 0;
}

static int rb_tomb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
    rebuild *b = arg;
    oks_tomb t;
    oks_err e;
    if (kl != 25 && kl != 37)
        return 0;
    if (oks_tomb_decode((const uint8_t *)v, vl, (const uint8_t *)k + 5, kl - 5, &t, &e)) {
        oks_warn("store: dropping an unreadable tombstone: %s", e.msg);
        leveldb_writebatch_delete(b->wb, k, kl);
        return 0;
    }
    uint8_t nk[37], h[16];
    tkey(b->s, t.fpr, t.fpr_len, nk);
    if (memcmp(nk, k, kl) != 0) { /* made for another slot count */
        leveldb_writebatch_delete(b->wb, k, kl);
        leveldb_writebatch_put(b->wb, (char *)nk, kl, v, vl);
    }
    oks_tomb_hash(&t, h);
    oks_digest_xor(b->s->slot_digest[oks_store_slot_of(b->s, t.fpr, t.fpr_len)], h);
    b->n++;
    rb_flush(b, false);
    return b->err ? -1 : 0;
}

static int slots_rebuild(oks_store *s, oks_err *e)
{
    rebuild b = {s, leveldb_writebatch_create(), 0, NULL};
    memset(s->slot_digest, 0, s->n_slots * sizeof *s->slot_digest);
    int r = each_entry(s, "y", 1, rb_drop_y, &b, "drop slot hash list", e);
    rb_flush(&b, true);
    if (!r && !b.err)
        r = each_entry(s, "k", 1, rb_key, &b, "slot hash list", e);
    if (!r && !b.err)
        r = each_entry(s, "t", 1, rb_tomb, &b, "tombstones", e);
    if (!r && !b.err) {
        uint8_t k[5] = {'d'}, v[4];
        for (unsigned i = 0; i < s->n_slots; i++) {
            oks_store_put_be32(k + 1, i);
            leveldb_writebatch_put(b.wb, (char *)k, 5, (char *)s->slot_digest[i], 16);
        }
        oks_store_put_be32(v, s->n_slots);
        leveldb_writebatch_put(b.wb, "Y", 1, (char *)v, 4);
        rb_flush(&b, true);
    }
    leveldb_writebatch_destroy(b.wb);
    if (b.err)
        return oks_ldb_error(e, b.err, "leveldb", "write slot digests");
    return r;
}

static int load_digest(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
    oks_store *s = arg;
    unsigned slot = kl == 5 ? oks_be32((const uint8_t *)k + 1) : s->n_slots;
    if (slot < s->n_slots && vl == 16)
        memcpy(s->slot_digest[slot], v, 16);
    return 0;
}

static int first_change(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
    (void)v, (void)vl;
    if (kl == 9)
        *(uint64_t *)arg = oks_be64((const uint8_t *)k + 1);
    return 1;
}

int oks_store_first_load(oks_store *s, oks_err *e)
{
    return each_entry(s, "c", 1, first_change, &s->first_seq, "change log", e);
}

int oks_store_slots_open(oks_store *s, oks_err *e)
{
    s->slot_digest = oks_xcalloc(s->n_slots, sizeof *s->slot_digest);
    char *err = NULL;
    size_t n = 0;
    char *mark = leveldb_get(s->db, s->ro, "Y", 1, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "read slot digests");
    bool ok = mark && n == 4 && oks_be32((uint8_t *)mark) == s->n_slots;
    leveldb_free(mark);
    if (!ok) {
        if (!s->was_empty)
            oks_info("store %s: building the per-slot digests and hash lists", s->dir);
        return slots_rebuild(s, e);
    }
    return each_entry(s, "d", 1, load_digest, s, "read slot digests", e);
}

int oks_store_slots_change(oks_store *s, oks_wbatch *wb, const oks_store_change *c,
                           uint8_t dig[16])
{
    unsigned slot = oks_store_slot_of(s, c->fpr, c->fpr_len);
    uint8_t yk[21] = {'y'};
    oks_store_put_be32(yk + 1, slot);
    if (c->old_hash) {
        memcpy(yk + 5, c->old_hash, 16);
        oks_wbatch_delete(wb, yk, 21);
        oks_digest_xor(dig, c->old_hash);
    }
    if (c->new_key) {
        memcpy(yk + 5, c->new_hash, 16);
        oks_wbatch_put(wb, yk, 21, c->fpr, c->fpr_len);
        oks_digest_xor(dig, c->new_hash);
    }
    if (c->tomb) {
        uint8_t h[16];
        if (c->old_tomb) {
            oks_tomb_hash(c->old_tomb, h);
            oks_digest_xor(dig, h);
        }
        oks_tomb_hash(c->tomb, h);
        oks_digest_xor(dig, h);
        return oks_store_tomb_put(s, wb, c);
    }
    return 0;
}

uint64_t oks_store_prune(oks_store *s, oks_wbatch *wb, uint64_t old_last,
                         uint64_t new_last)
{
    uint64_t first = s->first_seq ? s->first_seq : (new_last > old_last ? old_last + 1 : 0);
    if (!s->changelog_keep || new_last <= s->changelog_keep)
        return first;
    uint64_t keep_from = new_last - s->changelog_keep + 1;
    for (uint64_t q = first; q && q < keep_from; q++) {
        uint8_t ck[9] = {'c'};
        oks_put_be64(ck + 1, q);
        oks_wbatch_delete(wb, ck, 9);
    }
    return keep_from > first ? keep_from : first;
}

uint64_t oks_store_first_seq(oks_store *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t f = s->first_seq;
    pthread_mutex_unlock(&s->lock);
    return f;
}

bool oks_store_was_empty(const oks_store *s)
{
    return s->was_empty;
}

int oks_store_tomb_get(oks_store *s, const uint8_t *fpr, size_t fpr_len, oks_tomb *t,
                       oks_err *e)
{
    if (fpr_len != 20 && fpr_len != 32)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "fingerprint of %zu bytes", fpr_len);
    if (oks_store_fresh_absent(s, fpr, fpr_len))
        return 0;
    uint8_t k[37];
    tkey(s, fpr, fpr_len, k);
    char *err = NULL;
    size_t n = 0;
    char *v = leveldb_get(s->db, s->ro, (char *)k, 5 + fpr_len, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "get tombstone");
    if (!v)
        return 0;
    int r = oks_tomb_decode((uint8_t *)v, n, fpr, fpr_len, t, e);
    leveldb_free(v);
    return r ? oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt tombstone: %s", e->msg) : 1;
}

typedef struct tomb_walk {
    oks_store_tomb_fn fn;
    void *arg;
    bool lifted;
    size_t max, n;
    const char *skip; /* key to step over (the "after" one) */
    size_t skip_len;
} tomb_walk;

static int walk_tomb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
    tomb_walk *w = arg;
    oks_tomb t;
    oks_err e;
    if (w->n >= w->max)
        return 1;
    if ((kl != 25 && kl != 37) || (kl == w->skip_len && memcmp(k, w->skip, kl) == 0))
        return 0;
    if (oks_tomb_decode((const uint8_t *)v, vl, (const uint8_t *)k + 5, kl - 5, &t, &e))
        return OKS_E_IO;
    if (t.lifted && !w->lifted)
        return 0;
    w->n++;
    return w->fn(&t, w->arg) ? 1 : 0;
}

int oks_store_tombs(oks_store *s, const uint8_t *after, size_t after_len, bool lifted,
                    size_t max, oks_store_tomb_fn fn, void *arg, oks_err *e)
{
    uint8_t k[37] = {'t'};
    size_t kl = 1;
    if (after_len == 20 || after_len == 32) {
        tkey(s, after, after_len, k);
        kl = 5 + after_len;
    }
    tomb_walk w = {fn, arg, lifted, max, 0, kl > 1 ? (char *)k : NULL, kl > 1 ? kl : 0};
    /* from the "after" entry on (each_entry checks the "t" prefix only) */
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    int r = 0;
    for (leveldb_iter_seek(it, (char *)k, kl); leveldb_iter_valid(it) && !r;
         leveldb_iter_next(it)) {
        size_t ekl, vl;
        const char *ek = leveldb_iter_key(it, &ekl);
        if (ekl < 1 || ek[0] != 't')
            break;
        const char *v = leveldb_iter_value(it, &vl);
        r = walk_tomb(ek, ekl, v, vl, &w);
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "tombstones");
    return r < 0 ? oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt tombstone") : 0;
}

int oks_store_slot_tombs(oks_store *s, unsigned first, unsigned last, size_t max,
                         oks_store_tomb_fn fn, void *arg, oks_err *e)
{
    if (!s->n_slots)
        return 0;
    uint8_t p[5] = {'t'};
    oks_store_put_be32(p + 1, first);
    tomb_walk w = {fn, arg, true, max, 0, NULL, 0};
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    int r = 0;
    for (leveldb_iter_seek(it, (char *)p, 5); leveldb_iter_valid(it) && !r;
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < 5 || k[0] != 't' || oks_be32((const uint8_t *)k + 1) > last)
            break;
        const char *v = leveldb_iter_value(it, &vl);
        r = walk_tomb(k, kl, v, vl, &w);
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "tombstones of slots");
    return r < 0 ? oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt tombstone") : 0;
}

bool oks_store_slot_digest(oks_store *s, unsigned slot, uint8_t out[16], uint64_t *keys)
{
    if (!s->n_slots || slot >= s->n_slots)
        return false;
    pthread_mutex_lock(&s->lock);
    memcpy(out, s->slot_digest[slot], 16);
    *keys = s->slot_keys[slot];
    pthread_mutex_unlock(&s->lock);
    return true;
}

int oks_store_slot_hashes(oks_store *s, unsigned first, unsigned last, const uint8_t *after,
                          size_t max, oks_store_hash_fn fn, void *arg, oks_err *e)
{
    if (!s->n_slots)
        return 0;
    uint8_t p[21] = {'y'};
    size_t pl = 5;
    oks_store_put_be32(p + 1, first);
    if (after && oks_be32(after) >= first) {
        memcpy(p + 1, after, 20);
        pl = 21;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    size_t n = 0;
    for (leveldb_iter_seek(it, (char *)p, pl); leveldb_iter_valid(it) && n < max;
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < 5 || k[0] != 'y' || oks_be32((const uint8_t *)k + 1) > last)
            break;
        const char *v = leveldb_iter_value(it, &vl);
        if (kl != 21 || (vl != 20 && vl != 32) || (pl == 21 && memcmp(k, p, 21) == 0))
            continue;
        n++;
        if (fn(oks_be32((const uint8_t *)k + 1), (const uint8_t *)k + 5, (const uint8_t *)v, vl,
               arg))
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    return err ? oks_ldb_error(e, err, "leveldb", "slot hash list") : 0;
}

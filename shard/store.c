/* Shard storage on LevelDB: keys, indexes, change log, counters (see store.h). */
#include "shard/store.h"
#include "lib/xalloc.h"

#include "lib/cluster.h"
#include "lib/ldb.h"
#include "lib/log.h"
#include "lib/proto.h"
#include "shard/intersect.h"
#include "shard/keyidx.h"
#include "shard/store_env.h"
#include "shard/store_int.h"

#include <ctype.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


static void mkdir_p(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(p, 0755);
            *c = '/';
        }
    mkdir(p, 0755);
}

int oks_store_opts_from_config(const oks_cluster *c, oks_store_opts *o, oks_err *e)
{
    (void)e; /* lib/conf.c checked every value when the file was read */
    memset(o, 0, sizeof *o);
    o->cache_mb = c->shard_cache_mb;
    o->write_buffer_mb = c->shard_write_buffer_mb;
    o->max_open_files = c->shard_max_open_files;
    o->table_reads = c->shard_table_reads == 1 ? OKS_STORE_READS_MMAP : OKS_STORE_READS_PREAD;
    o->n_slots = c->n_slots;
    o->changelog_keep = c->shard_changelog_keep;
    return 0;
}

/* ---- keys per slot: "n" -> BE32 slot count the counters are for, "n" BE32 slot -> BE64 -------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static unsigned slot_of_fpr(const oks_store *s, const uint8_t *fpr, size_t len)
{
    uint8_t kid[8];
    return s->n_slots && oks_keyid_of_fpr(fpr, len, kid) == 0 ? oks_slot_of_keyid(kid, s->n_slots)
                                                              : 0;
}

unsigned oks_store_slot_of(const oks_store *s, const uint8_t *fpr, size_t len)
{
    return slot_of_fpr(s, fpr, len);
}

void oks_store_put_be32(uint8_t *p, uint32_t v)
{
    put_be32(p, v);
}

/* Counts every stored key by slot and stores the counters (a store written before they existed,
 * or for another slot count). */
static int slot_counts_rebuild(oks_store *s, oks_err *e)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    for (leveldb_iter_seek(it, "k", 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'k')
            break;
        s->slot_keys[slot_of_fpr(s, (const uint8_t *)k + 1, kl - 1)]++;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "count keys per slot");
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    uint8_t k[5] = {'n'}, v[8];
    for (unsigned i = 0; i < s->n_slots; i++) {
        put_be32(k + 1, i);
        oks_put_be64(v, s->slot_keys[i]);
        leveldb_writebatch_put(wb, (char *)k, 5, (char *)v, 8);
    }
    put_be32(v, s->n_slots);
    leveldb_writebatch_put(wb, "n", 1, (char *)v, 4);
    leveldb_write(s->db, s->wo_sync, wb, &err);
    leveldb_writebatch_destroy(wb);
    return err ? oks_ldb_error(e, err, "leveldb", "write slot counters") : 0;
}

static int slot_counts_load(oks_store *s, oks_err *e)
{
    char *err = NULL;
    size_t n = 0;
    char *mark = leveldb_get(s->db, s->ro, "n", 1, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "read slot counters");
    bool ok = mark && n == 4 && oks_be32((uint8_t *)mark) == s->n_slots;
    leveldb_free(mark);
    if (!ok)
        return slot_counts_rebuild(s, e);
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    for (leveldb_iter_seek(it, "n", 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl), *v = leveldb_iter_value(it, &vl);
        if (kl < 1 || k[0] != 'n')
            break;
        unsigned slot = kl == 5 ? oks_be32((const uint8_t *)k + 1) : s->n_slots;
        if (slot < s->n_slots && vl == 8)
            s->slot_keys[slot] = oks_be64((const uint8_t *)v);
    }
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    return err ? oks_ldb_error(e, err, "leveldb", "read slot counters") : 0;
}

bool oks_store_slot_counts_ok(const oks_store *s)
{
    return !s->slot_counts_broken;
}

uint64_t oks_store_slot_keys(oks_store *s, unsigned first, unsigned last)
{
    uint64_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = first; i <= last && i < s->n_slots; i++)
        n += s->slot_keys[i];
    pthread_mutex_unlock(&s->lock);
    return n;
}

int oks_store_open(const char *dir, const oks_store_opts *o, oks_store **out, oks_err *e)
{
    static const oks_store_opts defaults = {0};
    if (!o)
        o = &defaults;
    leveldb_env_t *env = NULL;
    if (o->table_reads == OKS_STORE_READS_PREAD && !(env = oks_store_pread_env()))
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "store environment");
    oks_store *s = oks_xcalloc(1, sizeof *s);
    mkdir_p(dir);
    s->dir = oks_xstrdup(dir);
    s->opt = leveldb_options_create();
    s->cache = leveldb_cache_create_lru((o->cache_mb ? o->cache_mb : OKS_STORE_CACHE_MB) << 20);
    s->bloom = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_create_if_missing(s->opt, 1);
    leveldb_options_set_cache(s->opt, s->cache);
    leveldb_options_set_filter_policy(s->opt, s->bloom);
    if (env)
        leveldb_options_set_env(s->opt, env);
    /* keys are already compressed data (MPIs, signatures): snappy still wins on index keys and
     * user IDs and costs little */
    leveldb_options_set_compression(s->opt, leveldb_snappy_compression);
    leveldb_options_set_write_buffer_size(
        s->opt, (o->write_buffer_mb ? o->write_buffer_mb : OKS_STORE_WRITE_BUFFER_MB) << 20);
    leveldb_options_set_max_open_files(
        s->opt, (int)(o->max_open_files ? o->max_open_files : OKS_STORE_MAX_OPEN_FILES));
    leveldb_options_set_max_file_size(s->opt, 32 << 20);
    s->ro = leveldb_readoptions_create();
    s->ro_scan = leveldb_readoptions_create();
    leveldb_readoptions_set_fill_cache(s->ro_scan, 0);
    /* every block read from a table file is checked against its CRC, so a damaged file is a
     * read error (answered as one), never wrong data or a missing key; blocks in the cache were
     * checked when they were read */
    leveldb_readoptions_set_verify_checksums(s->ro, 1);
    leveldb_readoptions_set_verify_checksums(s->ro_scan, 1);
    s->wo = leveldb_writeoptions_create();
    s->wo_sync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wo_sync, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    char *err = NULL;
    s->db = leveldb_open(s->opt, dir, &err);
    if (err) {
        int r = oks_ldb_error(e, err, "leveldb", "open");
        s->db = NULL;
        oks_store_close(s);
        return r;
    }
    size_t n = 0;
    char *m = leveldb_get(s->db, s->ro, "m", 1, &n, &err);
    if (err) {
        int r = oks_ldb_error(e, err, "leveldb", "read counters");
        oks_store_close(s);
        return r;
    }
    if (m && n == 24) {
        s->keys = oks_be64((uint8_t *)m);
        s->bytes = oks_be64((uint8_t *)m + 8);
        s->last_seq = oks_be64((uint8_t *)m + 16);
    }
    leveldb_free(m);
    s->was_empty = !m;
    oks_store_fresh_init(s);
    s->changelog_keep = o->changelog_keep;
    s->tomb_slots = o->n_slots;
    if (o->n_slots) {
        s->n_slots = o->n_slots;
        s->slot_keys = oks_xcalloc(o->n_slots, sizeof *s->slot_keys);
        oks_err ce;
        if (slot_counts_load(s, &ce)) {
            /* a damaged table must not keep the shard from serving what it can still read (each
             * read of damaged data fails on its own): the per-slot counts are left out of its
             * stats instead */
            char msg[300];
            oks_error("store %s: per-slot key counts unavailable, stats leave this shard's "
                      "ranges out: %s", dir, oks_err_format(&ce, msg, sizeof msg));
            free(s->slot_keys);
            s->slot_keys = NULL;
            s->n_slots = 0;
            s->slot_counts_broken = true;
        }
    }
    /* as for the slot counts: a damaged table must not keep the shard from serving */
    oks_err se;
    char msg[300];
    if (oks_store_first_load(s, &se))
        oks_error("store %s: change log unreadable, its first entry unknown: %s", dir,
                  oks_err_format(&se, msg, sizeof msg));
    if (s->n_slots && oks_store_slots_open(s, &se)) {
        oks_error("store %s: per-slot digests unavailable (no tombstones, no replica repair, "
                  "no per-slot stats): %s", dir, oks_err_format(&se, msg, sizeof msg));
        free(s->slot_keys);
        free(s->slot_digest);
        s->slot_keys = NULL;
        s->slot_digest = NULL;
        s->n_slots = 0;
        s->slot_counts_broken = true;
    }
    *out = s;
    return 0;
}

void oks_store_close(oks_store *s)
{
    if (!s)
        return;
    if (s->db)
        leveldb_close(s->db);
    leveldb_options_destroy(s->opt);
    leveldb_cache_destroy(s->cache);
    leveldb_filterpolicy_destroy(s->bloom);
    leveldb_readoptions_destroy(s->ro);
    leveldb_readoptions_destroy(s->ro_scan);
    leveldb_writeoptions_destroy(s->wo);
    leveldb_writeoptions_destroy(s->wo_sync);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->wlock);
    free(s->dir);
    free(s->slot_keys);
    free(s->slot_digest);
    oks_store_fresh_free(s);
    oks_wbatch_release(&s->wb);
    if (s->lwb)
        leveldb_writebatch_destroy(s->lwb);
    free(s);
}

/* A key record ("k" entries, see store.h): format byte, BE64 time of the last change, SKS hash,
 * then the key packets. */
#define REC_FORMAT 1
#define REC_UPDATED_AT 1
#define REC_HASH_AT (REC_UPDATED_AT + 8)
#define REC_HEADER (REC_HASH_AT + 16)

/* Fills rec from a record value (borrowed); -1 if it is not a record of this format. */
static int decode_record(const char *v, size_t n, oks_store_record *rec)
{
    if (n < REC_HEADER || v[0] != REC_FORMAT)
        return -1;
    rec->updated = oks_be64((const uint8_t *)v + REC_UPDATED_AT);
    memcpy(rec->hash, v + REC_HASH_AT, 16);
    rec->key = oks_slice_of(v + REC_HEADER, n - REC_HEADER);
    return 0;
}

static int parse_record(char *raw, size_t n, oks_store_record *rec)
{
    if (decode_record(raw, n, rec))
        return -1;
    rec->raw = raw;
    return 0;
}

int oks_store_get(oks_store *s, const uint8_t *fpr, size_t fpr_len, oks_store_record *rec,
                  oks_err *e)
{
    uint8_t k[33];
    if (fpr_len > 32)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "fingerprint of %zu bytes", fpr_len);
    k[0] = 'k';
    memcpy(k + 1, fpr, fpr_len);
    char *err = NULL;
    size_t n = 0;
    memset(rec, 0, sizeof *rec);
    if (oks_store_fresh_absent(s, fpr, fpr_len))
        return 0;
    char *v = leveldb_get(s->db, s->ro, (char *)k, fpr_len + 1, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "get");
    if (!v)
        return 0;
    if (parse_record(v, n, rec)) {
        leveldb_free(v);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt key record");
    }
    return 1;
}

void oks_store_record_release(oks_store_record *rec)
{
    if (rec->raw)
        leveldb_free(rec->raw);
    rec->raw = NULL;
}

int oks_store_scan(oks_store *s, char kind, const uint8_t *prefix, size_t prefix_len,
                   bool terminated, size_t max, size_t max_steps, oks_store_fpr_fn fn, void *arg,
                   oks_err *e)
{
    oks_buf p = OKS_BUF_INIT;
    oks_buf_putc(&p, (uint8_t)kind);
    oks_buf_append(&p, prefix, prefix_len);
    if (terminated)
        oks_buf_putc(&p, 0);
    if (!p.data) {
        oks_buf_release(&p);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "scan");
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    size_t found = 0, steps = 0;
    int rc = 0;
    for (leveldb_iter_seek(it, (char *)p.data, p.len); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        if (steps++ >= max_steps) {
            rc = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                             "index scan stopped after %zu entries (work budget)", max_steps);
            break;
        }
        size_t kl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < p.len || memcmp(k, p.data, p.len) != 0)
            break;
        const uint8_t *fpr = (const uint8_t *)k + p.len;
        size_t fl = kl - p.len;
        if (!terminated && kind != 'i' && kind != 's') {
            /* prefix scan on a text index: the fingerprint follows the first NUL */
            const uint8_t *z = memchr(fpr, 0, fl);
            if (!z)
                continue;
            fl -= (size_t)(z + 1 - fpr);
            fpr = z + 1;
        }
        if (fl != 20 && fl != 32)
            continue;
        if (fn(fpr, fl, arg) || ++found >= max)
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    oks_buf_release(&p);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "scan");
    return rc;
}

/* "p" name -> BE64: a named cursor (replica peers' change logs, shard/replica.h). */
#define META_MAX 128

int oks_store_cursor_get(oks_store *s, const char *name, uint64_t *v, oks_err *e)
{
    char k[META_MAX + 1], *err = NULL;
    size_t kl = strlen(name), n = 0;
    if (kl > META_MAX)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "cursor name too long");
    k[0] = 'p';
    memcpy(k + 1, name, kl);
    char *val = leveldb_get(s->db, s->ro, k, kl + 1, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "get cursor");
    *v = val && n == 8 ? oks_be64((const uint8_t *)val) : 0;
    int bad = val && n != 8;
    leveldb_free(val);
    return bad ? oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt cursor %s", name) : 0;
}

int oks_store_sync(oks_store *s, oks_err *e)
{
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    char *err = NULL;
    leveldb_write(s->db, s->wo_sync, wb, &err);
    leveldb_writebatch_destroy(wb);
    return err ? oks_ldb_error(e, err, "leveldb", "sync") : 0;
}

int oks_store_cursor_put(oks_store *s, const char *name, uint64_t v, oks_err *e)
{
    char k[META_MAX + 1], *err = NULL;
    uint8_t val[8];
    size_t kl = strlen(name);
    if (kl > META_MAX)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "cursor name too long");
    k[0] = 'p';
    memcpy(k + 1, name, kl);
    oks_put_be64(val, v);
    leveldb_put(s->db, s->wo_sync, k, kl + 1, (const char *)val, 8, &err);
    return err ? oks_ldb_error(e, err, "leveldb", "put cursor") : 0;
}

static int get_fpr_value(oks_store *s, const uint8_t *k, size_t kl, uint8_t out[32],
                         size_t *out_len, oks_err *e)
{
    char *err = NULL;
    size_t n = 0;
    char *v = leveldb_get(s->db, s->ro, (const char *)k, kl, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "get");
    if (!v)
        return 0;
    int ok = n == 20 || n == 32;
    if (ok) {
        memcpy(out, v, n);
        *out_len = n;
    }
    leveldb_free(v);
    return ok ? 1 : oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt index value");
}

int oks_store_subkey_owner(oks_store *s, const uint8_t *fpr, size_t len, uint8_t out[32],
                           size_t *out_len, oks_err *e)
{
    uint8_t k[33];
    if (len > 32)
        return 0;
    k[0] = 'f';
    memcpy(k + 1, fpr, len);
    return get_fpr_value(s, k, len + 1, out, out_len, e);
}

int oks_store_known(oks_store *s, const uint8_t keyid[8], const uint8_t *fpr, size_t len,
                    oks_err *e)
{
    uint8_t k[41];
    if (len > 32)
        return 0;
    if (oks_store_fresh_absent(s, fpr, len))
        return 0;
    k[0] = 'i';
    memcpy(k + 1, keyid, 8);
    memcpy(k + 9, fpr, len);
    char *err = NULL;
    size_t n = 0;
    char *v = leveldb_get(s->db, s->ro, (const char *)k, 9 + len, &n, &err);
    if (err)
        return oks_ldb_error(e, err, "leveldb", "get");
    int found = v != NULL;
    leveldb_free(v);
    return found;
}

int oks_store_by_hash(oks_store *s, const uint8_t hash[16], uint8_t out[32], size_t *out_len,
                      oks_err *e)
{
    uint8_t k[17];
    if (oks_store_fresh_absent(s, hash, 16))
        return 0;
    k[0] = 'h';
    memcpy(k + 1, hash, 16);
    return get_fpr_value(s, k, 17, out, out_len, e);
}

/* ---- index entries of a key --------------------------------------------------------------- */

/* Writes the change from the entries of the stored copy (old) to those of the new one: entries
 * only in old are deleted, entries only in new are put, entries in both are left alone. Either
 * side may be empty (a new key, a deleted key). */
static void idx_write(oks_wbatch *wb, const oks_keyidx *old, const oks_keyidx *new)
{
    size_t i = 0, j = 0;
    while (i < old->n || j < new->n) {
        int c = i == old->n ? 1 : j == new->n ? -1 : oks_keyidx_cmp(old, i, new, j);
        if (c < 0) {
            oks_wbatch_delete(wb, oks_keyidx_key(old, i), old->v[i].klen);
            i++;
        } else if (c > 0) {
            oks_wbatch_put(wb, oks_keyidx_key(new, j), new->v[j].klen, oks_keyidx_val(new, j),
                           new->v[j].vlen);
            j++;
        } else {
            i++;
            j++;
        }
    }
}

void oks_store_write_lock(oks_store *s)
{
    pthread_mutex_lock(&s->wlock);
}

void oks_store_write_unlock(oks_store *s)
{
    pthread_mutex_unlock(&s->wlock);
}

/* Bytes of batch memory kept between writes at most (a group commit of 1,024 typical keys
 * takes about 2 MiB); a larger batch's is released after its write. */
#define STORE_BATCH_KEEP (16u << 20)

int oks_store_apply(oks_store *s, const oks_store_change *ch, size_t n, bool sync, oks_err *e)
{
    oks_wbatch *wb = &s->wb;
    oks_wbatch_reset(wb);
    uint64_t keys = s->keys, bytes = s->bytes, seq = s->last_seq;
    uint64_t now = (uint64_t)time(NULL);
    oks_buf tmp = OKS_BUF_INIT;
    oks_keyidx oldx = OKS_KEYIDX_INIT, newx = OKS_KEYIDX_INIT;
    int r = 0;
    /* per slot touched: the key count after the batch */
    unsigned *ts = s->n_slots ? oks_xmalloc((n ? n : 1) * sizeof *ts) : NULL;
    uint64_t *tc = s->n_slots ? oks_xmalloc((n ? n : 1) * sizeof *tc) : NULL;
    uint8_t (*td)[16] = s->n_slots ? oks_xmalloc((n ? n : 1) * sizeof *td) : NULL;
    size_t nt = 0;
    for (size_t i = 0; i < n && !r; i++) {
        const oks_store_change *c = &ch[i];
        oks_store_fresh_mark(s, c->fpr, c->fpr_len);
        if (c->new_key)
            oks_store_fresh_mark(s, c->new_hash, 16);
        if (s->n_slots) {
            unsigned sl = slot_of_fpr(s, c->fpr, c->fpr_len);
            size_t t = 0;
            while (t < nt && ts[t] != sl)
                t++;
            if (t == nt) {
                ts[nt] = sl;
                pthread_mutex_lock(&s->lock);
                tc[nt] = s->slot_keys[sl];
                memcpy(td[nt++], s->slot_digest[sl], 16);
                pthread_mutex_unlock(&s->lock);
            }
            if (!c->old_key != !c->new_key)
                tc[t] += c->new_key ? 1 : (uint64_t)-1;
            r = oks_store_slots_change(s, wb, c, td[t]);
            if (r)
                break;
        } else if (c->tomb && (r = oks_store_tomb_put(s, wb, c)) != 0) {
            break;
        }
        uint8_t k[33];
        k[0] = 'k';
        memcpy(k + 1, c->fpr, c->fpr_len);
        oldx.n = newx.n = 0;
        if (c->old_key)
            r = oks_keyidx_build(&oldx, c->old_key, c->fpr, c->fpr_len);
        if (c->new_key && !r)
            r = oks_keyidx_build(&newx, c->new_key, c->fpr, c->fpr_len);
        if (r)
            break;
        idx_write(wb, &oldx, &newx);
        if (c->old_key) {
            keys--;
            bytes -= c->old_bytes;
        }
        if (c->old_hash) {
            uint8_t hk[17] = {'h'};
            memcpy(hk + 1, c->old_hash, 16);
            oks_wbatch_delete(wb, hk, 17);
        }
        if (c->new_key) {
            tmp.len = 0;
            uint8_t hdr[REC_HEADER];
            hdr[0] = REC_FORMAT;
            oks_put_be64(hdr + REC_UPDATED_AT, now);
            memcpy(hdr + REC_HASH_AT, c->new_hash, 16);
            r = oks_buf_append(&tmp, hdr, REC_HEADER);
            r = r ? r : oks_buf_append(&tmp, c->new_key_bytes, c->new_key_len);
            if (r)
                break;
            oks_wbatch_put(wb, k, c->fpr_len + 1, tmp.data, tmp.len);
            uint8_t hk[17] = {'h'};
            memcpy(hk + 1, c->new_hash, 16);
            oks_wbatch_put(wb, hk, 17, c->fpr, c->fpr_len);
            keys++;
            bytes += c->new_key_len;
        } else {
            oks_wbatch_delete(wb, k, c->fpr_len + 1);
        }
        if (c->unlogged)
            continue;
        Oks__Change cg = OKS__CHANGE__INIT;
        cg.seq = ++seq;
        cg.fingerprint = (ProtobufCBinaryData){c->fpr_len, (uint8_t *)c->fpr};
        if (c->old_hash)
            cg.old_hash = (ProtobufCBinaryData){16, (uint8_t *)c->old_hash};
        if (c->new_key)
            cg.new_hash = (ProtobufCBinaryData){16, (uint8_t *)c->new_hash};
        cg.time = now;
        Oks__Tombstone tb = OKS__TOMBSTONE__INIT;
        if (c->tomb) {
            tb.fingerprint = (ProtobufCBinaryData){c->tomb->fpr_len, (uint8_t *)c->tomb->fpr};
            tb.lifted = c->tomb->lifted;
            tb.stamp_ms = c->tomb->stamp_ms;
            tb.reason = (char *)c->tomb->reason;
            tb.who = (char *)c->tomb->who;
            cg.tombstone = &tb;
        }
        tmp.len = 0;
        r = oks_buf_reserve(&tmp, oks__change__get_packed_size(&cg));
        if (r)
            break;
        tmp.len = oks__change__pack(&cg, tmp.data);
        uint8_t ck[9] = {'c'};
        oks_put_be64(ck + 1, seq);
        oks_wbatch_put(wb, ck, 9, tmp.data, tmp.len);
    }
    oks_keyidx_release(&oldx);
    oks_keyidx_release(&newx);
    if (r) {
        oks_wbatch_reset(wb);
        oks_buf_release(&tmp);
        free(ts);
        free(tc);
        free(td);
        return oks_err_set(e, r, OKS_NO_OFFSET, "store: out of memory building a batch");
    }
    uint8_t m[24];
    oks_put_be64(m, keys);
    oks_put_be64(m + 8, bytes);
    oks_put_be64(m + 16, seq);
    oks_wbatch_put(wb, "m", 1, m, 24);
    for (size_t t = 0; t < nt; t++) {
        uint8_t sk[5] = {'n'}, sv[8];
        put_be32(sk + 1, ts[t]);
        oks_put_be64(sv, tc[t]);
        oks_wbatch_put(wb, sk, 5, sv, 8);
        sk[0] = 'd';
        oks_wbatch_put(wb, sk, 5, td[t], 16);
    }
    uint64_t first = oks_store_prune(s, wb, s->last_seq, seq);
    char *err = NULL;
    /* in key order the memtable inserts are several times cheaper (shard/store_batch.c) */
    if (!s->lwb)
        s->lwb = leveldb_writebatch_create();
    leveldb_writebatch_clear(s->lwb);
    oks_wbatch_fill(wb, s->lwb);
    leveldb_write(s->db, sync ? s->wo_sync : s->wo, s->lwb, &err);
    if (oks_wbatch_held(wb) > STORE_BATCH_KEEP) {
        /* an unusually large batch: its memory is not kept */
        oks_wbatch_release(wb);
        leveldb_writebatch_destroy(s->lwb);
        s->lwb = NULL;
    }
    oks_buf_release(&tmp);
    if (err) {
        free(ts);
        free(tc);
        free(td);
        return oks_ldb_error(e, err, "leveldb", "write");
    }
    pthread_mutex_lock(&s->lock);
    for (size_t t = 0; t < nt; t++) {
        s->slot_keys[ts[t]] = tc[t];
        memcpy(s->slot_digest[ts[t]], td[t], 16);
    }
    s->first_seq = first;
    free(ts);
    free(tc);
    free(td);
    s->keys = keys;
    s->bytes = bytes;
    s->last_seq = seq;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static uint64_t dir_bytes(const char *dir)
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[1024];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
    return total;
}

void oks_store_stats_get(oks_store *s, oks_store_stats *st)
{
    pthread_mutex_lock(&s->lock);
    st->keys = s->keys;
    st->bytes = s->bytes;
    st->last_seq = s->last_seq;
    pthread_mutex_unlock(&s->lock);
    st->disk_bytes = dir_bytes(s->dir);
}

char *oks_store_property(oks_store *s, const char *name)
{
    return leveldb_property_value(s->db, name);
}

void *oks_store_leveldb(oks_store *s)
{
    return s->db;
}

int oks_store_changes(oks_store *s, uint64_t after, size_t limit, oks_store_change_fn fn,
                      void *arg, oks_err *e)
{
    uint8_t ck[9] = {'c'};
    oks_put_be64(ck + 1, after + 1);
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    size_t n = 0;
    for (leveldb_iter_seek(it, (char *)ck, 9); leveldb_iter_valid(it) && n < limit;
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl != 9 || k[0] != 'c')
            break;
        const char *v = leveldb_iter_value(it, &vl);
        if (fn(oks_be64((const uint8_t *)k + 1), (const uint8_t *)v, vl, arg))
            break;
        n++;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    return err ? oks_ldb_error(e, err, "leveldb", "change log") : 0;
}

int oks_store_each_key(oks_store *s, const uint8_t *after, size_t after_len, oks_store_key_fn fn,
                       void *arg, oks_err *e)
{
    uint8_t start[33] = {'k'};
    size_t sl = 1;
    if (after_len && after_len <= 32) {
        memcpy(start + 1, after, after_len);
        sl += after_len;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
    for (leveldb_iter_seek(it, (char *)start, sl); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'k')
            break;
        if (sl > 1 && kl == sl && memcmp(k, start, sl) == 0)
            continue;
        const char *v = leveldb_iter_value(it, &vl);
        oks_store_record rec = {0};
        if (decode_record(v, vl, &rec)) {
            leveldb_iter_destroy(it);
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "corrupt key record");
        }
        if (fn(&rec, (const uint8_t *)k + 1, kl - 1, arg))
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    return err ? oks_ldb_error(e, err, "leveldb", "scan keys") : 0;
}

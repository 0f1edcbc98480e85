/* sync/follow: change logs into the prefix tree, cursors, the ignore set (see follow.h). */
#include "sync/follow.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

/* shard names (malloc'd array of malloc'd strings) */
static int shard_names(oks_sync_follow *f, char ***names, size_t *n, oks_err *e)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetStats st = OKS__GET_STATS__INIT;
    q.op_case = OKS__REQUEST__OP_STATS;
    q.stats = &st;
    Oks__Response *r;
    int rc = oks_client_call_checked(f->client, &q, &r, f->timeout_ms, OKS_CALL_OK_ONLY, e);
    if (rc)
        return rc;
    *names = oks_xcalloc(r->n_shards ? r->n_shards : 1, sizeof **names);
    *n = 0;
    for (size_t i = 0; *names && i < r->n_shards; i++)
        (*names)[(*n)++] = oks_xstrdup(r->shards[i]->name);
    oks__response__free_unpacked(r, NULL);
    return *names ? 0 : OKS_E_NOMEM;
}

/* a BE64 metadata value, 0 when absent or not 8 bytes */
static uint64_t meta_u64(oks_ptree *t, const char *key)
{
    uint8_t *v;
    size_t l;
    oks_err e;
    uint64_t x = 0;
    if (oks_ptree_meta_get(t, key, &v, &l, &e) == 0) {
        if (l == 8)
            x = oks_be64(v);
        free(v);
    }
    return x;
}

uint64_t oks_sync_cursor(oks_ptree *t, const char *shard)
{
    char key[300];
    snprintf(key, sizeof key, "cursor.%s", shard);
    return meta_u64(t, key);
}

void oks_sync_net_change(uint8_t (*add)[16], size_t *nadd, uint8_t (*del)[16], size_t *ndel,
                         const uint8_t *old_hash, const uint8_t *new_hash)
{
    if (old_hash) {
        size_t i;
        for (i = 0; i < *nadd && memcmp(add[i], old_hash, 16) != 0; i++)
            ;
        if (i < *nadd)
            memmove(add[i], add[i + 1], (--*nadd - i) * 16);
        else
            memcpy(del[(*ndel)++], old_hash, 16);
    }
    if (new_hash) {
        int small = 1;
        for (int k = 1; k < 16; k++)
            small &= new_hash[k] == 0;
        if (small && new_hash[0] <= 2)
            return; /* a hash equal to a sample point cannot be reconciled; skip it */
        size_t i;
        for (i = 0; i < *ndel && memcmp(del[i], new_hash, 16) != 0; i++)
            ;
        if (i < *ndel)
            memmove(del[i], del[i + 1], (--*ndel - i) * 16);
        else
            memcpy(add[(*nadd)++], new_hash, 16);
    }
}

static int catch_up_shard(oks_sync_follow *f, const char *shard, size_t *applied, oks_err *e)
{
    char key[300];
    snprintf(key, sizeof key, "cursor.%s", shard);
    uint64_t cur = oks_sync_cursor(f->t, shard);
    enum { LIMIT = 1000 };
    uint8_t(*add)[16] = oks_xmalloc(LIMIT * 16), (*del)[16] = oks_xmalloc(LIMIT * 16);
    int rc = add && del ? 0 : oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    while (rc == 0) {
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__ChangeLog cl = OKS__CHANGE_LOG__INIT;
        q.op_case = OKS__REQUEST__OP_CHANGES;
        q.changes = &cl;
        cl.shard = (char *)shard;
        cl.after_seq = cur;
        cl.limit = LIMIT;
        Oks__Response *r;
        rc = oks_client_call_checked(f->client, &q, &r, f->timeout_ms, OKS_CALL_OK_ONLY, e);
        if (rc)
            break;
        size_t n = r->n_changes < LIMIT ? r->n_changes : LIMIT, nadd = 0, ndel = 0;
        for (size_t i = 0; i < n; i++) {
            const Oks__Change *ch = r->changes[i];
            oks_sync_net_change(add, &nadd, del, &ndel,
                                ch->old_hash.len == 16 ? ch->old_hash.data : NULL,
                                ch->new_hash.len == 16 ? ch->new_hash.data : NULL);
            cur = ch->seq;
        }
        oks__response__free_unpacked(r, NULL);
        if (n == 0)
            break;
        uint8_t seq[8];
        oks_put_be64(seq, cur);
        rc = oks_ptree_apply(f->t, (const uint8_t(*)[16])add, nadd, (const uint8_t(*)[16])del,
                             ndel, key, seq, 8, e);
        *applied += n;
    }
    free(add);
    free(del);
    return rc;
}

int oks_sync_follow_catch_up(oks_sync_follow *f, oks_err *e)
{
    char **names;
    size_t n, applied = 0;
    int rc = shard_names(f, &names, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = catch_up_shard(f, names[i], &applied, e);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (applied)
        oks_info("tree: %zu changes applied, %zu hashes", applied, oks_ptree_count(f->t));
    return rc;
}

/* ---- ignore set ----------------------------------------------------------------------------- */

static void ignore_key(char key[64], const uint8_t h[16])
{
    char hex[33];
    oks_hex(hex, h, 16, 1);
    snprintf(key, 64, "ignore.%s", hex);
}

bool oks_sync_ignored(oks_sync_follow *f, const uint8_t h[16])
{
    char key[64];
    ignore_key(key, h);
    return meta_u64(f->t, key) > (uint64_t)time(NULL);
}

void oks_sync_ignore(void *arg, const uint8_t h[16])
{
    oks_sync_follow *f = arg;
    char key[64];
    ignore_key(key, h);
    if (!oks_sync_ignored(f, h))
        f->ignored++;
    uint8_t v[8];
    oks_put_be64(v, (uint64_t)time(NULL) + (uint64_t)f->ignore_seconds);
    oks_err e;
    oks_ptree_apply(f->t, NULL, 0, NULL, 0, key, v, 8, &e);
}

static void count_one(void *arg, const char *key, size_t klen, const uint8_t *v, size_t vl)
{
    (void)key;
    (void)klen;
    oks_sync_follow *f = arg;
    if (vl == 8 && oks_be64(v) > (uint64_t)time(NULL))
        f->ignored++;
}

void oks_sync_ignore_count(oks_sync_follow *f)
{
    f->ignored = 0;
    oks_ptree_meta_scan(f->t, "ignore.", count_one, f);
}

/* The topology in etcd (see mapstore.h). */
#include "lib/mapstore.h"
#include "lib/etcd.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oks_mapstore {
    oks_etcd *c;
    char prefix[300]; /* ends with "/" */
    char map_key[320], move_key[320], members[320];
    int64_t lease;
};

int oks_mapstore_open(const oks_cluster *c, oks_mapstore **out, oks_err *e)
{
    *out = NULL;
    if (!c->etcd.endpoints[0])
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "the slot map is the static one of %s: a change needs [cluster] etcd",
                           c->path ? c->path : "oks.conf");
    oks_mapstore *s = oks_xcalloc(1, sizeof *s);
    int r = oks_etcd_open_conf(c, &s->c, e);
    if (r) {
        free(s);
        return r;
    }
    size_t n = strlen(c->etcd.prefix);
    snprintf(s->prefix, sizeof s->prefix, "%s%s", c->etcd.prefix,
             n && c->etcd.prefix[n - 1] == '/' ? "" : "/");
    snprintf(s->map_key, sizeof s->map_key, "%smap", s->prefix);
    snprintf(s->move_key, sizeof s->move_key, "%smove", s->prefix);
    snprintf(s->members, sizeof s->members, "%smembers/", s->prefix);
    *out = s;
    return 0;
}

void oks_mapstore_close(oks_mapstore *s)
{
    if (!s)
        return;
    if (s->lease)
        oks_etcd_lease_revoke(s->c, s->lease, NULL);
    oks_etcd_close(s->c);
    free(s);
}

int oks_mapstore_get_map(oks_mapstore *s, oks_buf *doc, uint64_t *mod_rev, uint64_t *rev,
                         oks_err *e)
{
    oks_etcd_kv kv;
    int64_t at = 0;
    int r = oks_etcd_get(s->c, s->map_key, &kv, &at, e);
    if (r)
        return r;
    r = oks_buf_append(doc, kv.val, kv.len);
    *mod_rev = (uint64_t)kv.mod_rev;
    if (rev)
        *rev = (uint64_t)at;
    oks_etcd_kv_release(&kv);
    return r ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "map document") : 0;
}

int oks_mapstore_get_move(oks_mapstore *s, oks_buf *doc, oks_err *e)
{
    oks_etcd_kv kv;
    int r = oks_etcd_get(s->c, s->move_key, &kv, NULL, e);
    if (r)
        return r;
    r = oks_buf_append(doc, kv.val, kv.len);
    oks_etcd_kv_release(&kv);
    return r ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "move record") : 0;
}

int oks_mapstore_change(oks_mapstore *s, uint64_t expect, const oks_buf *map, const char *move,
                        uint64_t *new_rev, oks_err *e)
{
    oks_etcd_cmp cmp = {s->map_key, (int64_t)expect};
    oks_etcd_op ops[2] = {{.kind = OKS_ETCD_PUT, .key = s->map_key, .val = map->data,
                           .len = map->len}};
    size_t n = 1;
    if (move && move[0])
        ops[n++] = (oks_etcd_op){.kind = OKS_ETCD_PUT, .key = s->move_key, .val = move,
                                 .len = strlen(move)};
    else if (move)
        ops[n++] = (oks_etcd_op){.kind = OKS_ETCD_DELETE, .key = s->move_key};
    int64_t rev = 0;
    int r = oks_etcd_txn(s->c, &cmp, 1, ops, n, &rev, e);
    if (r == 0 && new_rev)
        *new_rev = (uint64_t)rev;
    return r;
}

typedef struct watch_ctx {
    oks_mapstore *s;
    oks_mapstore_fn fn;
    void *arg;
} watch_ctx;

static int on_event(void *arg, int is_delete, const oks_etcd_kv *kv, int64_t rev)
{
    (void)rev;
    watch_ctx *w = arg;
    if (!is_delete && strcmp(kv->key, w->s->map_key) == 0)
        w->fn((const char *)kv->val, kv->len, (uint64_t)kv->mod_rev, w->arg);
    return 0;
}

int oks_mapstore_watch(oks_mapstore *s, uint64_t from_rev, oks_mapstore_fn fn, void *arg,
                       atomic_int *stop, oks_err *e)
{
    watch_ctx w = {s, fn, arg};
    /* the watch polls *stop as a plain int; an atomic_int has its layout */
    return oks_etcd_watch(s->c, s->map_key, (int64_t)from_rev, on_event, &w,
                          (const volatile int *)stop, e);
}

int oks_mapstore_member(oks_mapstore *s, const char *role, const char *name, unsigned epoch,
                        unsigned ttl_s, oks_err *e)
{
    int r = 0;
    if (s->lease && oks_etcd_lease_keepalive(s->c, s->lease, NULL) != 0)
        s->lease = 0; /* expired (etcd was away longer than ttl): a new one */
    if (!s->lease)
        r = oks_etcd_lease_grant(s->c, ttl_s, &s->lease, e);
    if (r)
        return r;
    char key[512], val[16];
    snprintf(key, sizeof key, "%s%s/%s", s->members, role, name);
    int n = snprintf(val, sizeof val, "%u", epoch);
    return oks_etcd_put(s->c, key, val, (size_t)n, s->lease, NULL, e);
}

int oks_mapstore_members(oks_mapstore *s, oks_mapstore_member_fn fn, void *arg, oks_err *e)
{
    oks_etcd_kv *kvs;
    size_t n;
    int r = oks_etcd_list(s->c, s->members, 10000, &kvs, &n, NULL, e);
    if (r)
        return r;
    size_t pl = strlen(s->members);
    for (size_t i = 0; i < n; i++)
        fn(kvs[i].key + pl, (unsigned)strtoul((const char *)kvs[i].val, NULL, 10), arg);
    oks_etcd_kvs_free(kvs, n);
    return 0;
}

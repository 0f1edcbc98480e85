/*
 * sync/ptree: prefix tree of key hashes (see ptree.h). The child of an element at depth d is
 * given by bits 2d and 2d+1 of its hash, most significant bit of byte 0 first, read high bit
 * first (as SKS). LevelDB records: "h" + 16-byte hash -> empty; "m" + name -> metadata.
 */
#include "sync/ptree.h"
#include "lib/xalloc.h"

#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ldb.h"

#define MAX_DEPTH 64

typedef struct elem {
    uint8_t h[16];
    oks_zzp z;
} elem;

typedef struct node {
    uint32_t count;
    oks_zzp s[OKS_RECON_SAMPLES];
    struct node *child[4];  /* all NULL for a leaf */
    elem *el;               /* leaf elements */
    uint32_t nel, cap;
} node;

struct oks_ptree {
    node *root;
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_writeoptions_t *wo;
    leveldb_readoptions_t *ro;
    oks_zzp points[OKS_RECON_SAMPLES];
};

static int child_index(const uint8_t h[16], int depth)
{
    return (oks_recon_bit(h, (uint32_t)(2 * depth)) << 1) |
           oks_recon_bit(h, (uint32_t)(2 * depth + 1));
}

static node *node_new(void)
{
    node *n = oks_xcalloc(1, sizeof *n);
    for (int i = 0; i < OKS_RECON_SAMPLES; i++)
        n->s[i] = oks_zzp_one();
    return n;
}

static void node_free(node *n)
{
    if (!n)
        return;
    for (int i = 0; i < 4; i++)
        node_free(n->child[i]);
    free(n->el);
    free(n);
}

static int is_leaf(const node *n)
{
    return n->child[0] == NULL;
}

static void mul_in(const oks_ptree *t, node *n, oks_zzp x)
{
    for (int i = 0; i < OKS_RECON_SAMPLES; i++)
        n->s[i] = oks_zzp_mul(n->s[i], oks_zzp_sub(t->points[i], x));
}

static int leaf_push(node *n, const elem *e)
{
    if (n->nel == n->cap) {
        uint32_t cap = n->cap ? n->cap * 2 : 8;
        elem *v = oks_xrealloc(n->el, cap * sizeof *v);
        n->el = v;
        n->cap = cap;
    }
    n->el[n->nel++] = *e;
    return 0;
}

static int split(const oks_ptree *t, node *n, int depth)
{
    if (n->nel <= OKS_PTREE_SPLIT || depth >= MAX_DEPTH)
        return 0;
    for (int c = 0; c < 4; c++)
        if (!(n->child[c] = node_new()))
            return OKS_E_NOMEM;
    for (uint32_t i = 0; i < n->nel; i++) {
        node *c = n->child[child_index(n->el[i].h, depth)];
        int rc = leaf_push(c, &n->el[i]);
        if (rc)
            return rc;
        c->count++;
        mul_in(t, c, n->el[i].z);
    }
    free(n->el);
    n->el = NULL;
    n->nel = n->cap = 0;
    for (int c = 0; c < 4; c++) {
        int rc = split(t, n->child[c], depth + 1);
        if (rc)
            return rc;
    }
    return 0;
}

static int collect(const node *n, elem **v, uint32_t *nv, uint32_t *cap)
{
    if (is_leaf(n)) {
        for (uint32_t i = 0; i < n->nel; i++) {
            if (*nv == *cap) {
                uint32_t c = *cap ? *cap * 2 : 64;
                elem *x = oks_xrealloc(*v, c * sizeof *x);
                *v = x;
                *cap = c;
            }
            (*v)[(*nv)++] = n->el[i];
        }
        return 0;
    }
    for (int c = 0; c < 4; c++) {
        int rc = collect(n->child[c], v, nv, cap);
        if (rc)
            return rc;
    }
    return 0;
}

static int join(node *n)
{
    elem *v = NULL;
    uint32_t nv = 0, cap = 0;
    int rc = collect(n, &v, &nv, &cap);
    if (rc) {
        free(v);
        return rc;
    }
    for (int c = 0; c < 4; c++) {
        node_free(n->child[c]);
        n->child[c] = NULL;
    }
    n->el = v;
    n->nel = nv;
    n->cap = cap;
    return 0;
}

static int find_in_leaf(const node *n, const uint8_t h[16])
{
    for (uint32_t i = 0; i < n->nel; i++)
        if (memcmp(n->el[i].h, h, 16) == 0)
            return (int)i;
    return -1;
}

static const node *leaf_for(const oks_ptree *t, const uint8_t h[16])
{
    const node *n = t->root;
    int depth = 0;
    while (!is_leaf(n))
        n = n->child[child_index(h, depth++)];
    return n;
}

int oks_ptree_has(const oks_ptree *t, const uint8_t hash[16])
{
    return find_in_leaf(leaf_for(t, hash), hash) >= 0;
}

size_t oks_ptree_count(const oks_ptree *t)
{
    return t->root->count;
}

static int mem_insert(oks_ptree *t, const uint8_t hash[16], oks_err *e)
{
    int small = 1;
    for (int i = 1; i < 16; i++)
        small &= hash[i] == 0;
    if (small && hash[0] <= 2)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "hash equals a sample point");
    if (oks_ptree_has(t, hash))
        return 1;
    elem el;
    memcpy(el.h, hash, 16);
    el.z = oks_zzp_from_hash(hash);
    node *n = t->root;
    int depth = 0;
    for (;;) {
        n->count++;
        mul_in(t, n, el.z);
        if (is_leaf(n))
            break;
        n = n->child[child_index(hash, depth++)];
    }
    int rc = leaf_push(n, &el);
    if (rc == 0)
        rc = split(t, n, depth);
    if (rc)
        return oks_err_set(e, rc, OKS_NO_OFFSET, "prefix tree: out of memory");
    return 0;
}

static int mem_delete(oks_ptree *t, const uint8_t hash[16], oks_err *e)
{
    const node *leaf = leaf_for(t, hash);
    int idx = find_in_leaf(leaf, hash);
    if (idx < 0)
        return 1;
    oks_zzp x = oks_zzp_from_hash(hash), inv[OKS_RECON_SAMPLES];
    for (int i = 0; i < OKS_RECON_SAMPLES; i++)
        inv[i] = oks_zzp_inv(oks_zzp_sub(t->points[i], x));
    node *n = t->root, *joined = NULL;
    int depth = 0;
    for (;;) {
        n->count--;
        for (int i = 0; i < OKS_RECON_SAMPLES; i++)
            n->s[i] = oks_zzp_mul(n->s[i], inv[i]);
        if (is_leaf(n))
            break;
        if (!joined && n->count <= OKS_PTREE_JOIN)
            joined = n;
        n = n->child[child_index(hash, depth++)];
    }
    n->el[idx] = n->el[--n->nel];
    if (joined && join(joined))
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "prefix tree: out of memory");
    return 0;
}

int oks_ptree_open(const char *dir, oks_ptree **out, oks_err *e)
{
    oks_ptree *t = oks_xcalloc(1, sizeof *t);
    if (!t || !(t->root = node_new())) {
        free(t);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "prefix tree: out of memory");
    }
    for (int i = 0; i < OKS_RECON_SAMPLES; i++)
        t->points[i] = oks_recon_point(i);
    *out = t;
    if (!dir)
        return 0;
    char *err = NULL;
    t->opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(t->opt, 1);
    t->wo = leveldb_writeoptions_create();
    t->ro = leveldb_readoptions_create();
    t->db = leveldb_open(t->opt, dir, &err);
    if (err) {
        int rc = oks_ldb_error(e, err, "prefix tree LevelDB", "open");
        oks_ptree_free(t);
        *out = NULL;
        return rc;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(t->db, t->ro);
    int rc = 0;
    for (leveldb_iter_seek(it, "h", 1); rc == 0 && leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t kl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'h')
            break;
        if (kl != 17)
            continue;
        rc = mem_insert(t, (const uint8_t *)k + 1, e);
        if (rc == 1)
            rc = 0;
    }
    leveldb_iter_destroy(it);
    if (rc) {
        oks_ptree_free(t);
        *out = NULL;
    }
    return rc;
}

void oks_ptree_free(oks_ptree *t)
{
    if (!t)
        return;
    node_free(t->root);
    if (t->db)
        leveldb_close(t->db);
    if (t->opt)
        leveldb_options_destroy(t->opt);
    if (t->wo)
        leveldb_writeoptions_destroy(t->wo);
    if (t->ro)
        leveldb_readoptions_destroy(t->ro);
    free(t);
}

int oks_ptree_apply(oks_ptree *t, const uint8_t (*add)[16], size_t nadd,
                    const uint8_t (*del)[16], size_t ndel, const char *meta_key,
                    const void *meta, size_t meta_len, oks_err *e)
{
    for (size_t i = 0; i < nadd; i++) {
        int small = 1;
        for (int k = 1; k < 16; k++)
            small &= add[i][k] == 0;
        if (small && add[i][0] <= 2)
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "hash equals a sample point");
    }
    if (t->db) {
        leveldb_writebatch_t *wb = leveldb_writebatch_create();
        char k[1 + 16];
        k[0] = 'h';
        for (size_t i = 0; i < ndel; i++) {
            memcpy(k + 1, del[i], 16);
            leveldb_writebatch_delete(wb, k, sizeof k);
        }
        for (size_t i = 0; i < nadd; i++) {
            memcpy(k + 1, add[i], 16);
            leveldb_writebatch_put(wb, k, sizeof k, "", 0);
        }
        if (meta_key) {
            size_t kl = strlen(meta_key);
            char *mk = oks_xmalloc(kl + 1);
            mk[0] = 'm';
            memcpy(mk + 1, meta_key, kl);
            leveldb_writebatch_put(wb, mk, kl + 1, meta, meta_len);
            free(mk);
        }
        char *err = NULL;
        leveldb_write(t->db, t->wo, wb, &err);
        leveldb_writebatch_destroy(wb);
        if (err)
            return oks_ldb_error(e, err, "prefix tree LevelDB", "write");
    }
    for (size_t i = 0; i < ndel; i++) {
        int rc = mem_delete(t, del[i], e);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < nadd; i++) {
        int rc = mem_insert(t, add[i], e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int oks_ptree_insert(oks_ptree *t, const uint8_t hash[16], oks_err *e)
{
    if (oks_ptree_has(t, hash))
        return 1;
    return oks_ptree_apply(t, (const uint8_t(*)[16])hash, 1, NULL, 0, NULL, NULL, 0, e);
}

int oks_ptree_delete(oks_ptree *t, const uint8_t hash[16], oks_err *e)
{
    if (!oks_ptree_has(t, hash))
        return 1;
    return oks_ptree_apply(t, NULL, 0, (const uint8_t(*)[16])hash, 1, NULL, NULL, 0, e);
}

int oks_ptree_meta_get(oks_ptree *t, const char *key, uint8_t **val, size_t *len, oks_err *e)
{
    if (!t->db)
        return oks_err_set(e, OKS_E_NOTFOUND, OKS_NO_OFFSET, "no metadata in memory tree");
    size_t kl = strlen(key);
    char *mk = oks_xmalloc(kl + 1);
    mk[0] = 'm';
    memcpy(mk + 1, key, kl);
    char *err = NULL;
    size_t vl = 0;
    char *v = leveldb_get(t->db, t->ro, mk, kl + 1, &vl, &err);
    free(mk);
    if (err)
        return oks_ldb_error(e, err, "prefix tree LevelDB", "read");
    if (!v)
        return oks_err_set(e, OKS_E_NOTFOUND, OKS_NO_OFFSET, "no metadata %s", key);
    *val = oks_xmalloc(vl ? vl : 1);
    if (!*val) {
        leveldb_free(v);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    }
    memcpy(*val, v, vl);
    *len = vl;
    leveldb_free(v);
    return 0;
}

int oks_ptree_meta_scan(oks_ptree *t, const char *prefix,
                        void (*cb)(void *arg, const char *key, size_t klen, const uint8_t *val,
                                   size_t vlen),
                        void *arg)
{
    if (!t->db)
        return 0;
    size_t pl = strlen(prefix);
    char *mk = oks_xmalloc(pl + 1);
    mk[0] = 'm';
    memcpy(mk + 1, prefix, pl);
    leveldb_iterator_t *it = leveldb_create_iterator(t->db, t->ro);
    for (leveldb_iter_seek(it, mk, pl + 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < pl + 1 || memcmp(k, mk, pl + 1) != 0)
            break;
        const char *v = leveldb_iter_value(it, &vl);
        cb(arg, k + 1, kl - 1, (const uint8_t *)v, vl);
    }
    leveldb_iter_destroy(it);
    free(mk);
    return 0;
}

static int prefix_match(const uint8_t h[16], const oks_recon_bits *p)
{
    for (uint32_t i = 0; i < p->nbits; i++)
        if (oks_recon_bit(h, i) != oks_recon_bit(p->b, i))
            return 0;
    return 1;
}

/* deepest node whose prefix is a prefix of p; *depth = its depth */
static const node *descend(const oks_ptree *t, const oks_recon_bits *p, int *depth)
{
    const node *n = t->root;
    int d = 0;
    while (!is_leaf(n) && (uint32_t)(2 * d + 2) <= p->nbits) {
        n = n->child[child_index(p->b, d)];
        d++;
    }
    *depth = d;
    return n;
}

int oks_ptree_elements(const oks_ptree *t, const oks_recon_bits *prefix, oks_zzp **out,
                       size_t *n)
{
    int depth;
    const node *nd = descend(t, prefix, &depth);
    elem *v = NULL;
    uint32_t nv = 0, cap = 0;
    int rc = collect(nd, &v, &nv, &cap);
    if (rc) {
        free(v);
        return rc;
    }
    oks_zzp *z = oks_xmalloc(nv ? nv * sizeof *z : 1);
    size_t k = 0;
    for (uint32_t i = 0; i < nv; i++)
        if ((uint32_t)(2 * depth) == prefix->nbits || prefix_match(v[i].h, prefix))
            z[k++] = v[i].z;
    free(v);
    *out = z;
    *n = k;
    return 0;
}

int oks_ptree_node_at(const oks_ptree *t, const oks_recon_bits *prefix, oks_ptree_node *out)
{
    int depth;
    const node *nd = descend(t, prefix, &depth);
    if ((uint32_t)(2 * depth) == prefix->nbits) {
        out->exact = 1;
        out->leaf = is_leaf(nd);
        out->count = nd->count;
        memcpy(out->samples, nd->s, sizeof out->samples);
        return 0;
    }
    /* covering leaf (or odd prefix): the matching elements, sample values on the fly */
    oks_zzp *z;
    size_t n;
    int rc = oks_ptree_elements(t, prefix, &z, &n);
    if (rc)
        return rc;
    out->exact = 0;
    out->leaf = 1;
    out->count = (uint32_t)n;
    for (int i = 0; i < OKS_RECON_SAMPLES; i++) {
        out->samples[i] = oks_zzp_one();
        for (size_t k = 0; k < n; k++)
            out->samples[i] = oks_zzp_mul(out->samples[i], oks_zzp_sub(t->points[i], z[k]));
    }
    free(z);
    return 0;
}

int oks_ptree_all_hashes(const oks_ptree *t, uint8_t (**out)[16], size_t *n)
{
    elem *v = NULL;
    uint32_t nv = 0, cap = 0;
    int rc = collect(t->root, &v, &nv, &cap);
    if (rc) {
        free(v);
        return rc;
    }
    uint8_t(*h)[16] = oks_xmalloc(nv ? nv * 16 : 1);
    if (!h) {
        free(v);
        return OKS_E_NOMEM;
    }
    for (uint32_t i = 0; i < nv; i++)
        memcpy(h[i], v[i].h, 16);
    free(v);
    *out = h;
    *n = nv;
    return 0;
}

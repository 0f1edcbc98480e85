/*
 * The SKS key hash (protocols.md 2.2): MD5 over every packet of the stored key sorted by
 * (tag, body bytes), each fed as BE32 tag, BE32 body length, body. Recon compares these hashes
 * with SKS and Hockeypuck peers, so this must match SKS's keyHash.ml byte for byte.
 */
#include "lib/pgp.h"
#include "lib/xalloc.h"

#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

typedef struct sks_item {
    uint8_t tag;
    const uint8_t *body;
    size_t len;
} sks_item;

static int item_cmp(const void *x, const void *y)
{
    const sks_item *a = x, *b = y;
    if (a->tag != b->tag)
        return a->tag < b->tag ? -1 : 1;
    int c = memcmp(a->body, b->body, a->len < b->len ? a->len : b->len);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static void add_sigs(sks_item *v, size_t *n, const oks_pgp_sigs *l)
{
    for (size_t i = 0; i < l->n; i++)
        v[(*n)++] = (sks_item){OKS_PGP_TAG_SIG, l->v[i].body, l->v[i].len};
}

static void feed(gcry_md_hd_t h, const sks_item *it)
{
    uint8_t hdr[8] = {0, 0, 0, it->tag, (uint8_t)(it->len >> 24), (uint8_t)(it->len >> 16),
                      (uint8_t)(it->len >> 8), (uint8_t)it->len};
    gcry_md_write(h, hdr, 8);
    gcry_md_write(h, it->body, it->len);
}

void oks_pgp_key_sks_hash(const oks_pgp_key *key, uint8_t out[16])
{
    size_t total = 1 + key->sigs.n + key->n_uids + key->n_subkeys, n = 0;
    for (size_t i = 0; i < key->n_uids; i++)
        total += key->uids[i].sigs.n;
    for (size_t i = 0; i < key->n_subkeys; i++)
        total += key->subkeys[i].sigs.n;
    sks_item small[64];
    sks_item *v = total <= 64 ? small : oks_xmalloc(total * sizeof *v);
    gcry_md_hd_t h;
    if (gcry_md_open(&h, GCRY_MD_MD5, 0) != 0) {
        memset(out, 0, 16);
        if (v != small)
            free(v);
        return;
    }
    if (!v) {
        /* no memory for the sort: hash in place after a sorted walk is impossible; report a
         * hash nobody computes rather than a wrong-but-plausible one */
        memset(out, 0, 16);
        gcry_md_close(h);
        return;
    }
    v[n++] = (sks_item){key->primary.tag, key->primary.body, key->primary.len};
    add_sigs(v, &n, &key->sigs);
    for (size_t i = 0; i < key->n_uids; i++) {
        v[n++] = (sks_item){key->uids[i].tag, key->uids[i].body, key->uids[i].len};
        add_sigs(v, &n, &key->uids[i].sigs);
    }
    for (size_t i = 0; i < key->n_subkeys; i++) {
        const oks_pgp_pubkey *sk = &key->subkeys[i].key;
        v[n++] = (sks_item){sk->tag, sk->body, sk->len};
        add_sigs(v, &n, &key->subkeys[i].sigs);
    }
    qsort(v, n, sizeof *v, item_cmp);
    for (size_t i = 0; i < n; i++)
        feed(h, &v[i]);
    memcpy(out, gcry_md_read(h, GCRY_MD_MD5), 16);
    gcry_md_close(h);
    if (v != small)
        free(v);
}

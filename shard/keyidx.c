/* Index entries of one key, sorted and unique (see keyidx.h). */
#include "shard/keyidx.h"
#include "lib/xalloc.h"

#include "lib/err.h"

#include <gcrypt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void oks_keyidx_release(oks_keyidx *x)
{
    oks_buf_release(&x->bytes);
    free(x->v);
    *x = (oks_keyidx)OKS_KEYIDX_INIT;
}

typedef struct build {
    oks_keyidx *x;
    const uint8_t *fpr;
    size_t fpr_len;
    int words, err;
} build;

/* One entry: kind, p[0..n), a 0 byte when terminated, then the primary fingerprint in the key
 * (val NULL) or as the value. */
static void emit(build *b, char kind, const void *p, size_t n, bool terminated, const void *val,
                 size_t vlen)
{
    oks_keyidx *x = b->x;
    if (b->err)
        return;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 32;
        oks_keyidx_ent *v = oks_xrealloc(x->v, cap * sizeof *v);
        x->v = v;
        x->cap = cap;
    }
    size_t off = x->bytes.len;
    int r = oks_buf_putc(&x->bytes, (uint8_t)kind);
    r = r ? r : oks_buf_append(&x->bytes, p, n);
    if (terminated)
        r = r ? r : oks_buf_putc(&x->bytes, 0);
    if (!val)
        r = r ? r : oks_buf_append(&x->bytes, b->fpr, b->fpr_len);
    size_t klen = x->bytes.len - off;
    if (val)
        r = r ? r : oks_buf_append(&x->bytes, val, vlen);
    if (r) {
        b->err = r;
        return;
    }
    x->v[x->n++] = (oks_keyidx_ent){off, (uint32_t)klen, val ? (uint32_t)vlen : 0};
}

static void word(const char *w, size_t n, void *arg)
{
    build *b = arg;
    if (b->words++ < OKS_KEYIDX_WORDS_PER_UID && n > 0 && n < 128)
        emit(b, 'w', w, n, true, NULL, 0);
}

static void pubkey(build *b, const oks_pgp_pubkey *pk, bool primary)
{
    emit(b, 'i', pk->keyid, 8, false, NULL, 0);
    emit(b, 's', pk->keyid + 4, 4, false, NULL, 0);
    if (!primary)
        emit(b, 'f', pk->fpr, pk->fpr_len, false, b->fpr, b->fpr_len);
}

/* The DNS OPENPGPKEY entry of an address (RFC 7929): 'd', SHA2-256 of the local part cut to 28
 * octets, the domain, a 0 byte, the fingerprint. The address is already lowercased. */
static void dane_entry(build *b, const char *mail, size_t ml)
{
    const char *at = memrchr(mail, '@', ml);
    if (!at || at == mail || (size_t)(at - mail) + 1 >= ml)
        return;
    uint8_t k[OKS_KEYIDX_DANE_HASH + 256], h[32];
    size_t dl = ml - (size_t)(at + 1 - mail);
    if (dl > 255)
        return;
    gcry_md_hash_buffer(GCRY_MD_SHA256, h, mail, (size_t)(at - mail));
    memcpy(k, h, OKS_KEYIDX_DANE_HASH);
    memcpy(k + OKS_KEYIDX_DANE_HASH, at + 1, dl);
    emit(b, 'd', k, OKS_KEYIDX_DANE_HASH + dl, true, NULL, 0);
}

static int cmp_raw(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

int oks_keyidx_cmp(const oks_keyidx *a, size_t i, const oks_keyidx *b, size_t j)
{
    return cmp_raw(oks_keyidx_key(a, i), a->v[i].klen, oks_keyidx_key(b, j), b->v[j].klen);
}

static int cmp_sort(const void *pa, const void *pb, void *arg)
{
    const oks_keyidx *x = arg;
    const oks_keyidx_ent *a = pa, *b = pb;
    return cmp_raw(x->bytes.data + a->off, a->klen, x->bytes.data + b->off, b->klen);
}

int oks_keyidx_build(oks_keyidx *x, const oks_pgp_key *key, const uint8_t *fpr, size_t fpr_len)
{
    x->bytes.len = 0;
    x->n = 0;
    build b = {x, fpr, fpr_len, 0, 0};
    pubkey(&b, &key->primary, true);
    for (size_t i = 0; i < key->n_subkeys; i++)
        pubkey(&b, &key->subkeys[i].key, false);
    for (size_t i = 0; i < key->n_uids; i++) {
        const oks_pgp_uid *u = &key->uids[i];
        if (u->tag != OKS_PGP_TAG_UID)
            continue;
        char mail[256];
        size_t ml = oks_pgp_uid_email(u->body, u->len, mail, sizeof mail);
        if (ml > 0 && ml < sizeof mail)
            emit(&b, 'e', mail, ml, true, NULL, 0);
        if (ml > 0 && ml < sizeof mail)
            dane_entry(&b, mail, ml);
        size_t ul = u->len > OKS_KEYIDX_UID_MAX ? OKS_KEYIDX_UID_MAX : u->len;
        if (!memchr(u->body, 0, ul))
            emit(&b, 'u', u->body, ul, true, NULL, 0);
        b.words = 0;
        oks_pgp_words(u->body, u->len, word, &b);
    }
    if (b.err) {
        x->bytes.len = 0;
        x->n = 0;
        return b.err;
    }
    if (x->n > 1)
        qsort_r(x->v, x->n, sizeof *x->v, cmp_sort, x);
    /* Equal keys carry equal values (the value of an 'f' entry is the primary fingerprint, the
     * same for every entry of the key), so keeping the first of a run loses nothing. */
    size_t w = 0;
    for (size_t i = 0; i < x->n; i++)
        if (w == 0 || oks_keyidx_cmp(x, w - 1, x, i) != 0)
            x->v[w++] = x->v[i];
    x->n = w;
    return 0;
}

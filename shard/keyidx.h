/*
 * The index entries of one key (the kinds are listed in store.h), built once, sorted and without
 * duplicates. A key whose user IDs share words ("example", the owner's name) then writes each
 * entry once, and an update writes only the entries in which the stored and the new copy differ.
 */
#ifndef OKS_SHARD_KEYIDX_H
#define OKS_SHARD_KEYIDX_H

#include "lib/buf.h"
#include "lib/pgp.h"

#include <stddef.h>
#include <stdint.h>

#define OKS_KEYIDX_WORDS_PER_UID 32 /* words indexed per user ID */
#define OKS_KEYIDX_UID_MAX 255      /* whole user IDs are indexed up to this many bytes */
#define OKS_KEYIDX_DANE_HASH 28     /* octets of SHA2-256(local part) in a 'd' entry (RFC 7929) */

typedef struct oks_keyidx_ent {
    size_t off;          /* key bytes at bytes.data + off, value right after them */
    uint32_t klen, vlen; /* vlen 0: the value is empty */
} oks_keyidx_ent;

/* Owns its storage; reuse it for key after key (oks_keyidx_build empties it first). */
typedef struct oks_keyidx {
    oks_buf bytes;
    oks_keyidx_ent *v;
    size_t n, cap;
} oks_keyidx;

#define OKS_KEYIDX_INIT {OKS_BUF_INIT, NULL, 0, 0}

void oks_keyidx_release(oks_keyidx *x);

/* Replaces x's entries by those of key (stored under primary fingerprint fpr), sorted by key
 * bytes, each once. OKS_E_NOMEM leaves x empty. */
int oks_keyidx_build(oks_keyidx *x, const oks_pgp_key *key, const uint8_t *fpr, size_t fpr_len);

static inline const uint8_t *oks_keyidx_key(const oks_keyidx *x, size_t i)
{
    return x->bytes.data + x->v[i].off;
}

static inline const uint8_t *oks_keyidx_val(const oks_keyidx *x, size_t i)
{
    return x->bytes.data + x->v[i].off + x->v[i].klen;
}

/* memcmp order of entry i of a and entry j of b (shorter first on a common prefix). */
int oks_keyidx_cmp(const oks_keyidx *a, size_t i, const oks_keyidx *b, size_t j);

#endif

/*
 * Transferable public keys: assembly from a packet sequence, the canonical form (dedup, merge of
 * repeated user IDs / subkeys, deterministic order), merging two copies, serialization, and
 * splitting a keyring stream into keys. After parse or merge every body lives in one compact
 * storage block owned by the key, in canonical order (see pgp.h for the order).
 */
#include "lib/pgp.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* ---- growable arrays: capacity is implicit (4, then powers of two) ------------------------ */

static int grow(void **v, size_t n, size_t elem)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return 0;
    size_t cap = n ? n * 2 : 4;
    void *nv = oks_xrealloc(*v, cap * elem);
    *v = nv;
    return 0;
}

static int sigs_push(oks_pgp_sigs *l, const oks_pgp_sig *s)
{
    if (grow((void **)&l->v, l->n, sizeof *l->v))
        return OKS_E_NOMEM;
    l->v[l->n++] = *s;
    return 0;
}

static int sigs_append(oks_pgp_sigs *l, const oks_pgp_sigs *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (sigs_push(l, &from->v[i]))
            return OKS_E_NOMEM;
    return 0;
}

void oks_pgp_key_free(oks_pgp_key *key)
{
    if (!key)
        return;
    free(key->sigs.v);
    for (size_t i = 0; i < key->n_uids; i++)
        free(key->uids[i].sigs.v);
    for (size_t i = 0; i < key->n_subkeys; i++)
        free(key->subkeys[i].sigs.v);
    free(key->uids);
    free(key->subkeys);
    free(key->storage);
    free(key);
}

/* ---- canonical order --------------------------------------------------------------------- */

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int sig_cmp(const void *x, const void *y)
{
    const oks_pgp_sig *a = x, *b = y;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return bytes_cmp(a->body, a->len, b->body, b->len);
}

/* User IDs and subkeys are ordered like SKS orders its packets (length, then tag, then body
 * bytes), so the mr index lists user IDs in the same order as SKS does. */
static int uid_cmp(const void *x, const void *y)
{
    const oks_pgp_uid *a = x, *b = y;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    if (a->tag != b->tag)
        return a->tag < b->tag ? -1 : 1;
    return memcmp(a->body, b->body, a->len);
}

static int pubkey_cmp(const oks_pgp_pubkey *a, const oks_pgp_pubkey *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->body, b->body, a->len);
}

static int subkey_cmp(const void *x, const void *y)
{
    const oks_pgp_subkey *a = x, *b = y;
    return pubkey_cmp(&a->key, &b->key);
}

static bool same_fpr(const oks_pgp_pubkey *a, const oks_pgp_pubkey *b)
{
    return a->fpr_len == b->fpr_len && memcmp(a->fpr, b->fpr, a->fpr_len) == 0;
}

/* By fingerprint, then the greater packet first. */
static int subkey_fpr_cmp(const void *x, const void *y)
{
    const oks_pgp_subkey *a = x, *b = y;
    if (a->key.fpr_len != b->key.fpr_len)
        return a->key.fpr_len < b->key.fpr_len ? -1 : 1;
    int c = memcmp(a->key.fpr, b->key.fpr, a->key.fpr_len);
    return c ? c : -pubkey_cmp(&a->key, &b->key);
}

static int state_rank(enum oks_pgp_sig_state s)
{
    return s == OKS_SIG_GOOD ? 2 : s == OKS_SIG_THIRD_PARTY ? 1 : 0;
}

static void sigs_canon(oks_pgp_sigs *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof *l->v, sig_cmp);
    size_t w = 0;
    for (size_t i = 1; i < l->n; i++) {
        oks_pgp_sig *k = &l->v[w];
        if (l->v[i].len == k->len && memcmp(l->v[i].body, k->body, k->len) == 0) {
            if (state_rank(l->v[i].state) > state_rank(k->state))
                k->state = l->v[i].state;
        } else {
            l->v[++w] = l->v[i];
        }
    }
    l->n = w + 1;
}

static int canonicalize(oks_pgp_key *k, const oks_pgp_limits *lim, oks_err *e)
{
    size_t w;
    sigs_canon(&k->sigs);
    if (k->n_uids > 1) {
        /* qsort is not stable, but equal entries are merged below so order among them is moot */
        qsort(k->uids, k->n_uids, sizeof *k->uids, uid_cmp);
        w = 0;
        for (size_t i = 1; i < k->n_uids; i++) {
            if (uid_cmp(&k->uids[w], &k->uids[i]) == 0) {
                if (sigs_append(&k->uids[w].sigs, &k->uids[i].sigs))
                    return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
                free(k->uids[i].sigs.v);
            } else {
                k->uids[++w] = k->uids[i];
            }
        }
        k->n_uids = w + 1;
    }
    if (k->n_subkeys > 1) {
        /* one entry per subkey fingerprint: packets that differ only in bytes after the key
         * material (see hashed_len) are one subkey; the greater packet is kept, as for the
         * primary in a merge */
        qsort(k->subkeys, k->n_subkeys, sizeof *k->subkeys, subkey_fpr_cmp);
        w = 0;
        for (size_t i = 1; i < k->n_subkeys; i++) {
            if (same_fpr(&k->subkeys[w].key, &k->subkeys[i].key)) {
                if (sigs_append(&k->subkeys[w].sigs, &k->subkeys[i].sigs))
                    return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
                free(k->subkeys[i].sigs.v);
            } else {
                k->subkeys[++w] = k->subkeys[i];
            }
        }
        k->n_subkeys = w + 1;
        qsort(k->subkeys, k->n_subkeys, sizeof *k->subkeys, subkey_cmp);
    }
    for (size_t i = 0; i < k->n_uids; i++)
        sigs_canon(&k->uids[i].sigs);
    for (size_t i = 0; i < k->n_subkeys; i++)
        sigs_canon(&k->subkeys[i].sigs);
    if (k->n_uids > lim->max_uids)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "%zu user IDs (limit %zu)", k->n_uids,
                           lim->max_uids);
    if (k->n_subkeys > lim->max_subkeys)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "%zu subkeys (limit %zu)",
                           k->n_subkeys, lim->max_subkeys);
    for (size_t i = 0; i < k->n_uids; i++)
        if (k->uids[i].sigs.n > lim->max_sigs_per_uid)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                               "%zu signatures on one user ID (limit %zu)", k->uids[i].sigs.n,
                               lim->max_sigs_per_uid);
    return 0;
}

/* ---- compact storage --------------------------------------------------------------------- */

static const uint8_t *move_ptr(const uint8_t *p, const uint8_t *from, const uint8_t *to)
{
    return p ? to + (p - from) : NULL;
}

static void pubkey_move(oks_pgp_pubkey *pk, uint8_t **w)
{
    memcpy(*w, pk->body, pk->len);
    pk->material = move_ptr(pk->material, pk->body, *w);
    pk->body = *w;
    *w += pk->len;
}

static void sigs_move(oks_pgp_sigs *l, uint8_t **w)
{
    for (size_t i = 0; i < l->n; i++) {
        oks_pgp_sig *s = &l->v[i];
        memcpy(*w, s->body, s->len);
        s->hashed = move_ptr(s->hashed, s->body, *w);
        s->salt = move_ptr(s->salt, s->body, *w);
        s->mpis = move_ptr(s->mpis, s->body, *w);
        s->embedded = move_ptr(s->embedded, s->body, *w);
        s->attested = move_ptr(s->attested, s->body, *w);
        s->body = *w;
        *w += s->len;
    }
}

static size_t sigs_bytes(const oks_pgp_sigs *l)
{
    size_t t = 0;
    for (size_t i = 0; i < l->n; i++)
        t += l->v[i].len;
    return t;
}

/* Copies every body into one new block in canonical order; the old storage is freed. */
static int compact(oks_pgp_key *k)
{
    size_t total = k->primary.len + sigs_bytes(&k->sigs);
    for (size_t i = 0; i < k->n_uids; i++)
        total += k->uids[i].len + sigs_bytes(&k->uids[i].sigs);
    for (size_t i = 0; i < k->n_subkeys; i++)
        total += k->subkeys[i].key.len + sigs_bytes(&k->subkeys[i].sigs);
    uint8_t *st = oks_xmalloc(total ? total : 1), *w = st;
    if (!st)
        return OKS_E_NOMEM;
    pubkey_move(&k->primary, &w);
    sigs_move(&k->sigs, &w);
    for (size_t i = 0; i < k->n_uids; i++) {
        oks_pgp_uid *u = &k->uids[i];
        memcpy(w, u->body, u->len);
        u->body = w;
        w += u->len;
        sigs_move(&u->sigs, &w);
    }
    for (size_t i = 0; i < k->n_subkeys; i++) {
        pubkey_move(&k->subkeys[i].key, &w);
        sigs_move(&k->subkeys[i].sigs, &w);
    }
    free(k->storage);
    k->storage = st;
    k->storage_len = total;
    return 0;
}

/* ---- parse ------------------------------------------------------------------------------- */

static bool issued_by(const oks_pgp_sig *s, const oks_pgp_pubkey *pk)
{
    if (s->issuer_fpr_len)
        return s->issuer_fpr_len == pk->fpr_len && memcmp(s->issuer_fpr, pk->fpr, pk->fpr_len) == 0;
    return s->has_issuer && memcmp(s->issuer, pk->keyid, 8) == 0;
}

enum { AT_DIRECT, AT_UID, AT_SUBKEY, AT_SKIP };

static oks_pgp_sigs *current_list(oks_pgp_key *k, int at)
{
    if (at == AT_UID)
        return &k->uids[k->n_uids - 1].sigs;
    if (at == AT_SUBKEY)
        return &k->subkeys[k->n_subkeys - 1].sigs;
    return &k->sigs;
}

/* True when every MPI in m[0..n) (count of them, or all while bytes remain when count is 0)
 * has at most OKS_PGP_MAX_MPI_BITS bits as its length field states: gpg refuses longer ones. */
static bool mpis_fit(const uint8_t *m, size_t n, size_t count)
{
    size_t o = 0;
    for (size_t i = 0; (count ? i < count : true) && n - o >= 2; i++) {
        size_t bits = oks_be16(m + o);
        if (bits > OKS_PGP_MAX_MPI_BITS)
            return false;
        o += 2 + (bits + 7) / 8;
        if (o > n)
            return true; /* malformed: verification decides */
    }
    return true;
}

/* What GnuPG 2.2 / 2.4 can import (see OKS_PGP_MAX_*): a signature whose subpacket areas or
 * MPIs are longer makes gpg refuse the whole key. */
static bool sig_importable(const oks_pgp_sig *s)
{
    if (s->hashed_len > OKS_PGP_MAX_SUBPACKET_AREA || s->unhashed_len > OKS_PGP_MAX_SUBPACKET_AREA)
        return false;
    switch (s->algo) {
    case OKS_PGP_RSA: case OKS_PGP_RSA_E: case OKS_PGP_RSA_S: case OKS_PGP_ELGAMAL_E:
    case OKS_PGP_DSA: case OKS_PGP_ECDSA: case OKS_PGP_ELGAMAL: case OKS_PGP_EDDSA:
        return mpis_fit(s->mpis, s->mpis_len, 0);
    default:
        return true;
    }
}

static bool key_importable(const oks_pgp_pubkey *pk)
{
    switch (pk->algo) {
    case OKS_PGP_RSA: case OKS_PGP_RSA_E: case OKS_PGP_RSA_S:
        return mpis_fit(pk->material, pk->material_len, 2);
    case OKS_PGP_DSA:
        return mpis_fit(pk->material, pk->material_len, 4);
    case OKS_PGP_ELGAMAL_E: case OKS_PGP_ELGAMAL:
        return mpis_fit(pk->material, pk->material_len, 3);
    default:
        return true;
    }
}

static int parse_body(oks_pgp_key *k, const uint8_t *p, size_t n, const oks_pgp_limits *lim,
                      unsigned flags, oks_err *e)
{
    size_t off = 0, count = 0;
    oks_pgp_packet pkt;
    int at = AT_DIRECT, r;
    while (off < n) {
        if ((r = oks_pgp_packet_next(p, n, &off, &pkt, e)))
            return r;
        if (++count > lim->max_packets)
            return oks_err_set(e, OKS_E_LIMIT, pkt.offset, "more than %zu packets in one key",
                               lim->max_packets);
        if (count == 1) {
            if (pkt.tag == OKS_PGP_TAG_SECKEY)
                return oks_err_set(e, OKS_E_SECRET, pkt.offset, "secret key packet refused");
            if (pkt.tag != OKS_PGP_TAG_PUBKEY)
                return oks_err_set(e, OKS_E_NOTKEY, pkt.offset,
                                   "a key starts with a public-key packet, not tag %u", pkt.tag);
            if (pkt.len > lim->max_packet_bytes)
                return oks_err_set(e, OKS_E_LIMIT, pkt.offset,
                                   "public-key packet of %zu bytes (limit %zu)", pkt.len,
                                   lim->max_packet_bytes);
            if ((r = oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &k->primary, e)))
                return r;
            continue;
        }
        switch (pkt.tag) {
        case OKS_PGP_TAG_PUBKEY:
            return oks_err_set(e, OKS_E_NOTKEY, pkt.offset, "second public-key packet in a key");
        case OKS_PGP_TAG_SECKEY:
        case OKS_PGP_TAG_SECSUBKEY:
            return oks_err_set(e, OKS_E_SECRET, pkt.offset, "secret key packet refused");
        case OKS_PGP_TAG_SIG: {
            oks_pgp_sig s;
            if (at == AT_SKIP || pkt.len > lim->max_sig_bytes ||
                oks_pgp_sig_parse(pkt.body, pkt.len, pkt.offset, &s, NULL) != 0 ||
                !sig_importable(&s)) {
                k->dropped_packets++;
                break;
            }
            oks_pgp_sigs *l = current_list(k, at);
            if (l->n >= lim->max_sigs_per_uid)
                return oks_err_set(e, OKS_E_LIMIT, pkt.offset,
                                   "more than %zu signatures on one component",
                                   lim->max_sigs_per_uid);
            if (flags & OKS_PGP_TRUSTED)
                s.state = issued_by(&s, &k->primary) ? OKS_SIG_GOOD : OKS_SIG_THIRD_PARTY;
            if (sigs_push(l, &s))
                return oks_err_set(e, OKS_E_NOMEM, pkt.offset, "out of memory");
            break;
        }
        case OKS_PGP_TAG_UID:
        case OKS_PGP_TAG_UAT:
            if (pkt.len > (pkt.tag == OKS_PGP_TAG_UID ? lim->max_packet_bytes
                                                      : lim->max_attribute_bytes) ||
                (pkt.tag == OKS_PGP_TAG_UID && pkt.len > OKS_PGP_MAX_UID_BYTES)) {
                k->dropped_packets++;
                at = AT_SKIP;
                break;
            }
            if (k->n_uids >= lim->max_uids)
                return oks_err_set(e, OKS_E_LIMIT, pkt.offset,
                                   "more than %zu user IDs and attributes", lim->max_uids);
            if (grow((void **)&k->uids, k->n_uids, sizeof *k->uids))
                return oks_err_set(e, OKS_E_NOMEM, pkt.offset, "out of memory");
            k->uids[k->n_uids++] = (oks_pgp_uid){pkt.tag, pkt.body, pkt.len, {NULL, 0}};
            at = AT_UID;
            break;
        case OKS_PGP_TAG_PUBSUBKEY: {
            oks_pgp_pubkey sk;
            if (pkt.len > lim->max_packet_bytes ||
                oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &sk, NULL) != 0 ||
                !key_importable(&sk)) {
                k->dropped_packets++;
                at = AT_SKIP;
                break;
            }
            if (k->n_subkeys >= lim->max_subkeys)
                return oks_err_set(e, OKS_E_LIMIT, pkt.offset, "more than %zu subkeys",
                                   lim->max_subkeys);
            if (grow((void **)&k->subkeys, k->n_subkeys, sizeof *k->subkeys))
                return oks_err_set(e, OKS_E_NOMEM, pkt.offset, "out of memory");
            k->subkeys[k->n_subkeys++] = (oks_pgp_subkey){sk, {NULL, 0}};
            at = AT_SUBKEY;
            break;
        }
        default:
            /* trust, marker, padding, message and private/experimental packets */
            k->dropped_packets++;
            break;
        }
    }
    if (count == 0)
        return oks_err_set(e, OKS_E_NOTKEY, 0, "empty input");
    return 0;
}

int oks_pgp_key_parse(const uint8_t *p, size_t n, const oks_pgp_limits *lim, unsigned flags,
                      oks_pgp_key **out, oks_err *e)
{
    oks_pgp_limits dl;
    if (!lim) {
        oks_pgp_limits_default(&dl);
        lim = &dl;
    }
    *out = NULL;
    if (n > lim->max_key_bytes)
        return oks_err_set(e, OKS_E_LIMIT, 0, "key of %zu bytes (limit %zu)", n,
                           lim->max_key_bytes);
    oks_pgp_key *k = oks_xcalloc(1, sizeof *k);
    int r = parse_body(k, p, n, lim, flags, e);
    if (!r)
        r = canonicalize(k, lim, e);
    if (!r && compact(k))
        r = oks_err_set(e, OKS_E_NOMEM, 0, "out of memory");
    if (r) {
        oks_pgp_key_free(k);
        return r;
    }
    *out = k;
    return 0;
}

/* ---- merge ------------------------------------------------------------------------------- */

static int copy_components(oks_pgp_key *k, const oks_pgp_key *a)
{
    if (sigs_append(&k->sigs, &a->sigs))
        return OKS_E_NOMEM;
    for (size_t i = 0; i < a->n_uids; i++) {
        if (grow((void **)&k->uids, k->n_uids, sizeof *k->uids))
            return OKS_E_NOMEM;
        oks_pgp_uid *u = &k->uids[k->n_uids++];
        *u = a->uids[i];
        u->sigs = (oks_pgp_sigs){NULL, 0};
        if (sigs_append(&u->sigs, &a->uids[i].sigs))
            return OKS_E_NOMEM;
    }
    for (size_t i = 0; i < a->n_subkeys; i++) {
        if (grow((void **)&k->subkeys, k->n_subkeys, sizeof *k->subkeys))
            return OKS_E_NOMEM;
        oks_pgp_subkey *s = &k->subkeys[k->n_subkeys++];
        *s = a->subkeys[i];
        s->sigs = (oks_pgp_sigs){NULL, 0};
        if (sigs_append(&s->sigs, &a->subkeys[i].sigs))
            return OKS_E_NOMEM;
    }
    return 0;
}

int oks_pgp_key_merge(const oks_pgp_key *a, const oks_pgp_key *b, const oks_pgp_limits *lim,
                      oks_pgp_key **out, oks_err *e)
{
    oks_pgp_limits dl;
    if (!lim) {
        oks_pgp_limits_default(&dl);
        lim = &dl;
    }
    *out = NULL;
    if (!same_fpr(&a->primary, &b->primary))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "merge of two different primary keys");
    oks_pgp_key *k = oks_xcalloc(1, sizeof *k);
    /* same fingerprint, so the packets can differ only in bytes after the key material (see
     * hashed_len): keep the greater by (length, bytes), whichever copy came first */
    k->primary = pubkey_cmp(&a->primary, &b->primary) >= 0 ? a->primary : b->primary;
    int r = 0;
    if (copy_components(k, a) || copy_components(k, b))
        r = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (!r)
        r = canonicalize(k, lim, e);
    if (!r && compact(k))
        r = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (!r && k->storage_len > lim->max_key_bytes)
        r = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "merged key of %zu bytes (limit %zu)",
                        k->storage_len, lim->max_key_bytes);
    if (r) {
        oks_pgp_key_free(k);
        return r;
    }
    *out = k;
    return 0;
}

/* ---- serialize ---------------------------------------------------------------------------- */

static int write_sigs(oks_buf *out, const oks_pgp_sigs *l, bool nf)
{
    int r = 0;
    for (size_t i = 0; i < l->n && !r; i++)
        r = oks_pgp_packet_write(out, OKS_PGP_TAG_SIG, l->v[i].body, l->v[i].len, nf);
    return r;
}

int oks_pgp_key_serialize(const oks_pgp_key *key, oks_buf *out)
{
    /* v6 material is written with new-format headers (RFC 9580), older keys with old format */
    bool nf = key->primary.version == 6;
    int r = oks_buf_reserve(out, key->storage_len + 16);
    if (!r)
        r = oks_pgp_packet_write(out, key->primary.tag, key->primary.body, key->primary.len, nf);
    if (!r)
        r = write_sigs(out, &key->sigs, nf);
    for (size_t i = 0; i < key->n_uids && !r; i++) {
        r = oks_pgp_packet_write(out, key->uids[i].tag, key->uids[i].body, key->uids[i].len, nf);
        if (!r)
            r = write_sigs(out, &key->uids[i].sigs, nf);
    }
    for (size_t i = 0; i < key->n_subkeys && !r; i++) {
        const oks_pgp_pubkey *sk = &key->subkeys[i].key;
        r = oks_pgp_packet_write(out, sk->tag, sk->body, sk->len, nf);
        if (!r)
            r = write_sigs(out, &key->subkeys[i].sigs, nf);
    }
    return r;
}

/* ---- split a stream into keys ------------------------------------------------------------- */

/* Moves *off to the next tag-6 packet at or after start (or to n, also on a framing error). */
/* After broken framing (a length running past the data, a bad header byte): the first offset
 * from `from` where a plausible public-key packet starts — a tag-6 header whose packet fits and
 * whose body begins with a known key version — or n. Keys after the damage are not lost. */
static size_t resync(const uint8_t *p, size_t n, size_t from)
{
    for (size_t q = from; q < n; q++) {
        if (p[q] != 0x98 && p[q] != 0x99 && p[q] != 0x9a && p[q] != 0xc6)
            continue;
        size_t o = q;
        oks_pgp_packet pkt;
        if (oks_pgp_packet_next(p, n, &o, &pkt, NULL) == 0 && pkt.tag == OKS_PGP_TAG_PUBKEY &&
            pkt.len >= 6 && pkt.body[0] >= 3 && pkt.body[0] <= 6)
            return q;
    }
    return n;
}

static void skip_to_key(const uint8_t *p, size_t n, size_t start, size_t *off)
{
    size_t o = start;
    oks_pgp_packet pkt;
    while (o < n) {
        size_t at = o;
        if (oks_pgp_packet_next(p, n, &o, &pkt, NULL) != 0) {
            *off = resync(p, n, at + 1);
            return;
        }
        if (pkt.tag == OKS_PGP_TAG_PUBKEY) {
            *off = at;
            return;
        }
    }
    *off = n;
}

int oks_pgp_split_next(const uint8_t *p, size_t n, size_t *off, oks_slice *key, oks_err *e)
{
    size_t start = *off, o = start;
    oks_pgp_packet pkt;
    if (start >= n)
        return 1;
    int r = oks_pgp_packet_next(p, n, &o, &pkt, e);
    if (r) {
        *off = resync(p, n, start + 1);
        return r;
    }
    if (pkt.tag != OKS_PGP_TAG_PUBKEY) {
        if (pkt.tag == OKS_PGP_TAG_SECKEY || pkt.tag == OKS_PGP_TAG_SECSUBKEY)
            r = oks_err_set(e, OKS_E_SECRET, start, "secret key packet refused");
        else
            r = oks_err_set(e, OKS_E_NOTKEY, start,
                            "tag-%u packet before any public-key packet", pkt.tag);
        skip_to_key(p, n, o, off);
        return r;
    }
    for (;;) {
        size_t at = o;
        if (o >= n)
            break;
        r = oks_pgp_packet_next(p, n, &o, &pkt, e);
        if (r) {
            *off = resync(p, n, at + 1);
            return r;
        }
        if (pkt.tag == OKS_PGP_TAG_PUBKEY) {
            o = at;
            break;
        }
        if (pkt.tag == OKS_PGP_TAG_SECKEY || pkt.tag == OKS_PGP_TAG_SECSUBKEY) {
            r = oks_err_set(e, OKS_E_SECRET, at, "secret key packet refused");
            skip_to_key(p, n, o, off);
            return r;
        }
    }
    *key = oks_slice_of(p + start, o - start);
    *off = o;
    return 0;
}

/*
 * The acceptance policy (oks_pgp_key_acceptable: no v3 keys, no RSA keys too costly to check)
 * and the cleaning policy applied to every key before it is stored (oks_pgp_key_verify):
 * keep self-signatures that verify, drop the others; drop user IDs and subkeys left without a
 * valid self-signature (as GnuPG's import does); keep signatures by other keys unverified
 * wherever they sit, within a budget that depends only on the key's content: per user ID at
 * most min(max_third_party_per_uid, max(1, max_third_party_per_key / user IDs)), on the primary
 * and each subkey at most max(1, max_third_party_per_key / 16 / (1 + subkeys)), chosen oldest first
 * among those not older than the key (a claimed creation time in the future never outranks a
 * real one), each at most max_third_party_sig_bytes. Certifications the key's owner attested
 * (rfc4880bis-10 5.2.3.30: an attestation signature, type 0x16, on the user ID listing their
 * digests; the newest valid one counts and is the only one kept) rank before every other one,
 * so forged certifications can crowd out only what the owner did not vouch for, and the owner
 * repairs a flooded user ID by attesting the certifications worth keeping. The owner's material
 * is never cut for third-party material. The public-key work of one cleaning is bounded (max_verify_cost).
 * Signatures already marked good (stored keys) are never verified again. Also the facts
 * derived from the valid self-signatures: expiry and revocation.
 *
 * Why the result is the same whatever order copies arrive in: each list keeps the first k of
 * its third-party signatures under a total order of their content, with k fixed by the owner's
 * material; a signature among the first k of a union is among the first k of any part holding
 * it, so clean(merge(clean(a), b)) == clean(merge(a, b)). One exception: a certification cut
 * before the attestation naming it arrived comes back only with a copy that carries it again
 * (sq sends both together); replicas and recon partners converge on the union all the same.
 */
#include "lib/pgp.h"
#include "lib/xalloc.h"
#include "lib/pgp_verify.h"

#include <stdlib.h>
#include <string.h>

static bool is_self(const oks_pgp_sig *s, const oks_pgp_pubkey *pk)
{
    if (s->issuer_fpr_len)
        return s->issuer_fpr_len == pk->fpr_len && memcmp(s->issuer_fpr, pk->fpr, pk->fpr_len) == 0;
    if (s->has_issuer)
        return memcmp(s->issuer, pk->keyid, 8) == 0;
    /* no issuer at all: only a self-signature can be checked, so try it as one */
    return true;
}

static bool is_cert(uint8_t t)
{
    return t >= 0x10 && t <= 0x13;
}

/* Significant bits of the MPI at m[*o] (advances *o), or -1. */
static long mpi_bits(const uint8_t *m, size_t n, size_t *o, size_t *bytes)
{
    if (n - *o < 2)
        return -1;
    size_t len = (oks_be16(m + *o) + 7u) / 8u, i = *o + 2;
    if (n - *o - 2 < len)
        return -1;
    *o += 2 + len;
    while (i < *o && m[i] == 0)
        i++;
    *bytes = *o - i;
    if (i == *o)
        return 0;
    long bits = (long)(*o - i) * 8;
    for (uint8_t top = m[i]; !(top & 0x80); top <<= 1)
        bits--;
    return bits;
}

size_t oks_pgp_verify_cost(const oks_pgp_pubkey *pk)
{
    size_t o = 0, nb = 0, eb = 0;
    long nbits, ebits;
    switch (pk->algo) {
    case OKS_PGP_RSA:
    case OKS_PGP_RSA_E:
    case OKS_PGP_RSA_S: {
        nbits = mpi_bits(pk->material, pk->material_len, &o, &nb);
        ebits = mpi_bits(pk->material, pk->material_len, &o, &eb);
        if (nbits < 0 || ebits < 0)
            return 1; /* malformed: fails before any arithmetic */
        size_t c = (nb * nb + 65535) / 65536 * (size_t)ebits;
        c = (c + 16) / 17;
        return c ? c : 1;
    }
    case OKS_PGP_DSA: {
        /* two exponentiations modulo p with exponents as long as q */
        nbits = mpi_bits(pk->material, pk->material_len, &o, &nb);
        ebits = mpi_bits(pk->material, pk->material_len, &o, &eb);
        if (nbits < 0 || ebits < 0)
            return 1;
        size_t c = ((nb * nb + 65535) / 65536 * 2 * (size_t)ebits + 16) / 17;
        return c ? c : 1;
    }
    case OKS_PGP_ED25519:
        return 1;
    case OKS_PGP_EDDSA:
        return pk->curve && strcmp(pk->curve, "ed25519") == 0 ? 1 : 10;
    default:
        return 10; /* ECDSA, Ed448 through libgcrypt */
    }
}

/* Verifies (or trusts) one self-signature; returns 1 if it stays, 0 if not, or OKS_E_LIMIT when
 * checking it would take the work past the budget. */
static int check_self(const oks_pgp_key *k, const oks_pgp_uid *uid, const oks_pgp_pubkey *sub,
                      oks_pgp_sig *s, const oks_pgp_limits *lim, oks_pgp_verify_stats *st,
                      oks_err *e)
{
    if (s->state == OKS_SIG_GOOD) {
        st->self_trusted++;
        return 1;
    }
    /* the digest prefix first: a signature that cannot match costs no public-key work */
    uint8_t d[64];
    size_t dl;
    oks_err ignored;
    if (oks_pgp_sig_digest(&k->primary, uid, sub, s, d, &dl, &ignored) != 0 ||
        d[0] != s->left16[0] || d[1] != s->left16[1]) {
        st->self_dropped++;
        return 0;
    }
    size_t cost = oks_pgp_verify_cost(&k->primary);
    if (st->verify_cost + cost > lim->max_verify_cost)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "checking its signatures takes more than %zu units of work (%zu "
                           "checked)", lim->max_verify_cost, st->pk_ops);
    st->verify_cost += cost;
    st->pk_ops++;
    if (oks_pgp_sig_verify(&k->primary, &k->primary, uid, sub, s, &ignored) == 0) {
        s->state = OKS_SIG_GOOD;
        st->self_verified++;
        return 1;
    }
    st->self_dropped++;
    return 0;
}

/* A third-party signature while the caps are applied: attested by the owner or not. */
typedef struct tp_entry {
    const oks_pgp_sig *sig;
    bool attested;
} tp_entry;

/* The order third-party signatures are kept in: attested by the owner first, then oldest first
 * (creation time as signed; the future never comes first), then by length and bytes, a total
 * order of the content. */
static int tp_rank(const void *a, const void *b)
{
    const tp_entry *ea = a, *eb = b;
    if (ea->attested != eb->attested)
        return ea->attested ? -1 : 1;
    const oks_pgp_sig *x = ea->sig, *y = eb->sig;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->body, y->body, x->len);
}

static void compact(oks_pgp_sigs *l, const bool *keep)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++)
        if (keep[i])
            l->v[w++] = l->v[i];
    l->n = w;
}

/* Whether att (a valid attestation, or NULL) names the certification c. */
static bool is_attested(const oks_pgp_sig *att, const oks_pgp_sig *c)
{
    uint8_t d[64];
    size_t dl;
    oks_err ignored;
    if (!att || !att->attested || oks_pgp_sig_confirm_digest(c, att->hash_algo, d, &dl, &ignored))
        return false;
    for (size_t o = 0; o + dl <= att->attested_len; o += dl)
        if (memcmp(att->attested + o, d, dl) == 0)
            return true;
    return false;
}

/* Keeps the first cap third-party signatures of l under tp_rank, those att attests counting as
 * attested; 0 or OKS_E_NOMEM. */
static int cap_third_party(oks_pgp_sigs *l, size_t cap, const oks_pgp_sig *att,
                           oks_pgp_verify_stats *st, oks_err *e)
{
    (void)e;
    size_t n = 0, n_att = 0;
    tp_entry *tp = oks_xmalloc((l->n ? l->n : 1) * sizeof *tp);
    bool *keep = oks_xmalloc((l->n ? l->n : 1) * sizeof *keep);
    for (size_t i = 0; i < l->n; i++) {
        keep[i] = true;
        if (l->v[i].state == OKS_SIG_THIRD_PARTY) {
            tp[n].sig = &l->v[i];
            tp[n].attested = is_cert(l->v[i].type) && is_attested(att, &l->v[i]);
            n_att += tp[n].attested;
            n++;
        }
    }
    if (n > cap) {
        qsort(tp, n, sizeof *tp, tp_rank);
        for (size_t i = cap; i < n; i++)
            keep[tp[i].sig - l->v] = false;
        st->third_party_dropped += n - cap;
        n_att = 0;
        for (size_t i = 0; i < cap; i++)
            n_att += tp[i].attested;
        n = cap;
    }
    st->third_party += n;
    st->attested += n_att;
    compact(l, keep);
    free(tp);
    free(keep);
    return 0;
}

/* Keeps only the newest of the valid attestations of a user ID's list (creation time, then
 * length and bytes: the same one whatever else arrived) and returns it, or NULL. An older
 * attestation is superseded by a newer one, which may attest nothing. */
static const oks_pgp_sig *newest_attestation(oks_pgp_sigs *l)
{
    size_t best = l->n;
    for (size_t i = 0; i < l->n; i++) {
        const oks_pgp_sig *s = &l->v[i];
        if (s->type != 0x16 || s->state != OKS_SIG_GOOD)
            continue;
        if (best == l->n) {
            best = i;
            continue;
        }
        const oks_pgp_sig *b = &l->v[best];
        int c = s->created != b->created ? (s->created > b->created ? 1 : -1)
                : s->len != b->len       ? (s->len > b->len ? 1 : -1)
                                         : memcmp(s->body, b->body, s->len);
        if (c > 0)
            best = i;
    }
    if (best == l->n)
        return NULL;
    size_t w = 0, kept = l->n;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].type == 0x16 && l->v[i].state == OKS_SIG_GOOD && i != best)
            continue;
        if (i == best)
            kept = w;
        l->v[w++] = l->v[i];
    }
    l->n = w;
    return &l->v[kept];
}

/* Cleans the self-signatures of one list and marks the third-party ones (capped later, once
 * the lists that stay are known). uid / sub say what the list is attached to. Returns 1 if a
 * valid self-signature of the binding kind (certification or revocation for user IDs, binding
 * or revocation for subkeys, direct-key signature for the primary) stays, 0 if not, or an
 * error. */
static int clean_list(const oks_pgp_key *k, oks_pgp_sigs *l, const oks_pgp_uid *uid,
                      const oks_pgp_pubkey *sub, const oks_pgp_limits *lim,
                      oks_pgp_verify_stats *st, oks_err *e)
{
    int bound = 0;
    bool *keep = oks_xcalloc(l->n ? l->n : 1, sizeof *keep);
    for (size_t i = 0; i < l->n; i++) {
        oks_pgp_sig *s = &l->v[i];
        uint8_t t = s->type;
        bool fits = uid ? (is_cert(t) || t == 0x16 || t == 0x30)
                        : sub ? (t == 0x18 || t == 0x28)
                              : (t == 0x1F || t == 0x20);
        if (!s->exportable) {
            st->third_party_dropped++;
        } else if (!is_self(s, &k->primary)) {
            /* signatures by other keys (certifications, designated revocations) are kept
             * unverified wherever they sit, as SKS keeps them (their issuers may not be on this
             * server), unless larger than any real one or older than the key they sign */
            if (s->len > lim->max_third_party_sig_bytes || s->created < k->primary.created) {
                st->third_party_dropped++;
            } else {
                s->state = OKS_SIG_THIRD_PARTY;
                keep[i] = true;
            }
        } else if (!fits) {
            st->self_dropped++;
        } else {
            int r = check_self(k, uid, sub, s, lim, st, e);
            if (r < 0) {
                free(keep);
                return r;
            }
            keep[i] = r == 1;
            /* a valid self-revocation also keeps its user ID or subkey (shown revoked), as
             * GnuPG does; a bare direct-key revocation does not make a v6 key usable */
            if (keep[i] && ((uid && t != 0x16) || sub || t == 0x1F))
                bound = 1;
        }
    }
    compact(l, keep);
    free(keep);
    return bound;
}

/* RSA keys beyond what real implementations accept, refused before any arithmetic. */
static int rsa_bounds(const oks_pgp_pubkey *pk, oks_err *e)
{
    if (pk->algo != OKS_PGP_RSA && pk->algo != OKS_PGP_RSA_E && pk->algo != OKS_PGP_RSA_S)
        return 0;
    size_t o = 0, nb, eb;
    long nbits = mpi_bits(pk->material, pk->material_len, &o, &nb);
    long ebits = mpi_bits(pk->material, pk->material_len, &o, &eb);
    if (nbits > OKS_PGP_MAX_MPI_BITS)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "RSA modulus of %ld bits (limit %d, as gpg)", nbits,
                           OKS_PGP_MAX_MPI_BITS);
    if (ebits > OKS_PGP_MAX_RSA_EXP_BITS)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "RSA public exponent of %ld bits (limit %d)", ebits,
                           OKS_PGP_MAX_RSA_EXP_BITS);
    return 0;
}

int oks_pgp_key_acceptable(const oks_pgp_key *k, oks_err *e)
{
    if (k->primary.version == 3)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "v3 keys are not accepted (MD5 fingerprints; gpg 2.2 refuses them)");
    return rsa_bounds(&k->primary, e);
}

static size_t self_candidates(const oks_pgp_sigs *l, const oks_pgp_pubkey *pk)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].state != OKS_SIG_GOOD && is_self(&l->v[i], pk);
    return n;
}

size_t oks_pgp_key_verify_estimate(const oks_pgp_key *k, const oks_pgp_limits *lim)
{
    oks_pgp_limits dl;
    oks_err ignored;
    if (!lim) {
        oks_pgp_limits_default(&dl);
        lim = &dl;
    }
    if (oks_pgp_key_acceptable(k, &ignored))
        return 0; /* refused before any public-key operation */
    size_t n = self_candidates(&k->sigs, &k->primary);
    for (size_t i = 0; i < k->n_uids; i++)
        n += self_candidates(&k->uids[i].sigs, &k->primary);
    for (size_t i = 0; i < k->n_subkeys; i++)
        n += self_candidates(&k->subkeys[i].sigs, &k->primary);
    size_t c = oks_pgp_verify_cost(&k->primary);
    return n > lim->max_verify_cost / c ? lim->max_verify_cost : n * c;
}

int oks_pgp_key_verify(oks_pgp_key *k, const oks_pgp_limits *lim, oks_pgp_verify_stats *st,
                       oks_err *e)
{
    oks_pgp_limits dl;
    oks_pgp_verify_stats local;
    if (!lim) {
        oks_pgp_limits_default(&dl);
        lim = &dl;
    }
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    /* also here, for callers that skip the acceptance policy: nothing signed by such a key is
     * worth checking */
    int rb = rsa_bounds(&k->primary, e);
    if (rb)
        return rb;
    int direct = clean_list(k, &k->sigs, NULL, NULL, lim, st, e);
    if (direct < 0)
        return direct;
    size_t w = 0;
    for (size_t i = 0; i < k->n_uids; i++) {
        int r = clean_list(k, &k->uids[i].sigs, &k->uids[i], NULL, lim, st, e);
        if (r < 0)
            return r;
        if (r)
            k->uids[w++] = k->uids[i];
        else {
            free(k->uids[i].sigs.v);
            st->uids_dropped++;
        }
    }
    k->n_uids = w;
    w = 0;
    for (size_t i = 0; i < k->n_subkeys; i++) {
        int r = clean_list(k, &k->subkeys[i].sigs, NULL, &k->subkeys[i].key, lim, st, e);
        if (r < 0)
            return r;
        if (r)
            k->subkeys[w++] = k->subkeys[i];
        else {
            free(k->subkeys[i].sigs.v);
            st->subkeys_dropped++;
        }
    }
    k->n_subkeys = w;
    /* the third-party budget of each list, fixed by the owner's material that stays: user IDs
     * share max_third_party_per_key; the primary and the subkeys (designated revocations,
     * misplaced certifications) share a sixteenth of it */
    size_t cap = lim->max_third_party_per_key / (k->n_uids ? k->n_uids : 1);
    if (cap < 1)
        cap = 1;
    if (cap > lim->max_third_party_per_uid)
        cap = lim->max_third_party_per_uid;
    size_t cap_other = lim->max_third_party_per_key / 16 / (1 + k->n_subkeys);
    if (cap_other < 1)
        cap_other = 1;
    if (cap_other > cap)
        cap_other = cap;
    int r = cap_third_party(&k->sigs, cap_other, NULL, st, e);
    for (size_t i = 0; i < k->n_uids && !r; i++) {
        const oks_pgp_sig *att = newest_attestation(&k->uids[i].sigs);
        r = cap_third_party(&k->uids[i].sigs, cap, att, st, e);
    }
    for (size_t i = 0; i < k->n_subkeys && !r; i++)
        r = cap_third_party(&k->subkeys[i].sigs, cap_other, NULL, st, e);
    if (r)
        return r;
    bool has_uid = false;
    for (size_t i = 0; i < k->n_uids; i++)
        has_uid |= k->uids[i].tag == OKS_PGP_TAG_UID;
    if (k->primary.version == 6 ? !direct : !has_uid)
        return oks_err_set(e, OKS_E_NOTKEY, OKS_NO_OFFSET,
                           k->primary.version == 6 ? "no valid direct-key self-signature"
                                                   : "no valid self-signed user ID");
    return 0;
}

static size_t packet_bytes(size_t len, bool nf)
{
    if (nf)
        return len + (len < 192 ? 2 : len < 8384 ? 3 : 6);
    return len + (len < 256 ? 2 : len < 65536 ? 3 : 5);
}

static size_t owner_sig_bytes(const oks_pgp_sigs *l, bool nf)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].state != OKS_SIG_THIRD_PARTY)
            n += packet_bytes(l->v[i].len, nf);
    return n;
}

size_t oks_pgp_key_owner_bytes(const oks_pgp_key *k)
{
    bool nf = k->primary.version == 6;
    size_t n = packet_bytes(k->primary.len, nf) + owner_sig_bytes(&k->sigs, nf);
    for (size_t i = 0; i < k->n_uids; i++)
        n += packet_bytes(k->uids[i].len, nf || k->uids[i].tag >= 16) +
             owner_sig_bytes(&k->uids[i].sigs, nf);
    for (size_t i = 0; i < k->n_subkeys; i++)
        n += packet_bytes(k->subkeys[i].key.len, nf) + owner_sig_bytes(&k->subkeys[i].sigs, nf);
    return n;
}

uint32_t oks_pgp_key_expires(const oks_pgp_key *k)
{
    if (k->primary.version == 3)
        return k->primary.v3_days ? k->primary.created + k->primary.v3_days * 86400u : 0;
    const oks_pgp_sig *best = NULL;
    for (size_t i = 0; i < k->sigs.n; i++)
        if (k->sigs.v[i].state == OKS_SIG_GOOD && k->sigs.v[i].type == 0x1F &&
            (!best || k->sigs.v[i].created > best->created))
            best = &k->sigs.v[i];
    for (size_t u = 0; u < k->n_uids; u++)
        for (size_t i = 0; i < k->uids[u].sigs.n; i++) {
            const oks_pgp_sig *s = &k->uids[u].sigs.v[i];
            if (s->state == OKS_SIG_GOOD && is_cert(s->type) && (!best || s->created > best->created))
                best = s;
        }
    if (!best || !best->has_key_expires || best->key_expires == 0)
        return 0;
    return k->primary.created + best->key_expires;
}

static bool has_good(const oks_pgp_sigs *l, uint8_t type)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].type == type && l->v[i].state == OKS_SIG_GOOD)
            return true;
    return false;
}

bool oks_pgp_key_revoked(const oks_pgp_key *k)
{
    return has_good(&k->sigs, 0x20);
}

bool oks_pgp_subkey_revoked(const oks_pgp_key *k, const oks_pgp_subkey *sk)
{
    (void)k;
    return has_good(&sk->sigs, 0x28);
}

/*
 * The acceptance policy (oks_pgp_key_acceptable: no v3 keys) and the cleaning policy applied to
 * every key before it is stored (oks_pgp_key_verify): keep self-signatures that verify, drop
 * the others; drop user IDs and subkeys left without a valid self-signature (as GnuPG's import
 * does); keep signatures by other keys unverified wherever they sit (as SKS does, so the SKS
 * hash stays SKS's), newest first up to a limit per list; refuse a key with nothing usable
 * left. Signatures already marked good (stored keys) are never verified again. Also the facts
 * derived from the valid self-signatures: expiry and revocation.
 */
#include "lib/pgp.h"

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

/* Verifies (or trusts) one self-signature; returns true if it stays. */
static bool check_self(const oks_pgp_key *k, const oks_pgp_uid *uid, const oks_pgp_pubkey *sub,
                       oks_pgp_sig *s, oks_pgp_verify_stats *st)
{
    if (s->state == OKS_SIG_GOOD) {
        st->self_trusted++;
        return true;
    }
    oks_err e;
    if (oks_pgp_sig_verify(&k->primary, &k->primary, uid, sub, s, &e) == 0) {
        s->state = OKS_SIG_GOOD;
        st->self_verified++;
        return true;
    }
    st->self_dropped++;
    return false;
}

static int newest_first(const void *a, const void *b)
{
    const oks_pgp_sig *x = *(const oks_pgp_sig *const *)a, *y = *(const oks_pgp_sig *const *)b;
    return x->created > y->created ? -1 : x->created < y->created;
}

/* Third-party signatures beyond the cap are dropped, oldest first. keep[] marks survivors. */
static void cap_third_party(oks_pgp_sigs *l, bool *keep, size_t cap, oks_pgp_verify_stats *st)
{
    size_t n = 0;
    const oks_pgp_sig **tp = malloc((l->n ? l->n : 1) * sizeof *tp);
    if (!tp)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (keep[i] && l->v[i].state == OKS_SIG_THIRD_PARTY)
            tp[n++] = &l->v[i];
    if (n > cap) {
        qsort(tp, n, sizeof *tp, newest_first);
        for (size_t i = cap; i < n; i++) {
            keep[tp[i] - l->v] = false;
            st->third_party_dropped++;
        }
        n = cap;
    }
    st->third_party += n;
    free(tp);
}

static void compact(oks_pgp_sigs *l, const bool *keep)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++)
        if (keep[i])
            l->v[w++] = l->v[i];
    l->n = w;
}

/* Cleans one list of signatures. uid / sub say what they are attached to; returns true if a
 * valid self-signature of the binding kind (certification or revocation for user IDs, binding
 * or revocation for subkeys, direct-key signature for the primary) stays. */
static bool clean_list(const oks_pgp_key *k, oks_pgp_sigs *l, const oks_pgp_uid *uid,
                       const oks_pgp_pubkey *sub, const oks_pgp_limits *lim,
                       oks_pgp_verify_stats *st)
{
    bool bound = false;
    bool *keep = calloc(l->n ? l->n : 1, sizeof *keep);
    if (!keep)
        return false;
    for (size_t i = 0; i < l->n; i++) {
        oks_pgp_sig *s = &l->v[i];
        uint8_t t = s->type;
        bool fits = uid ? (is_cert(t) || t == 0x30)
                        : sub ? (t == 0x18 || t == 0x28)
                              : (t == 0x1F || t == 0x20);
        if (!s->exportable) {
            st->third_party_dropped++;
        } else if (!is_self(s, &k->primary)) {
            /* signatures by other keys (certifications, designated revocations) are kept
             * unverified wherever they sit, as SKS keeps them: their issuers may not be on this
             * server, and dropping one SKS stores would give the key another SKS hash */
            s->state = OKS_SIG_THIRD_PARTY;
            keep[i] = true;
        } else if (!fits) {
            st->self_dropped++;
        } else {
            keep[i] = check_self(k, uid, sub, s, st);
            /* a valid self-revocation also keeps its user ID or subkey (shown revoked), as
             * GnuPG does; a bare direct-key revocation does not make a v6 key usable */
            if (keep[i] && (uid || sub || t == 0x1F))
                bound = true;
        }
    }
    cap_third_party(l, keep, lim->max_third_party_per_uid, st);
    compact(l, keep);
    free(keep);
    return bound;
}

int oks_pgp_key_acceptable(const oks_pgp_key *k, oks_err *e)
{
    if (k->primary.version == 3)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "v3 keys are not accepted (MD5 fingerprints; gpg 2.2 refuses them)");
    return 0;
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
    bool direct = clean_list(k, &k->sigs, NULL, NULL, lim, st);
    size_t w = 0;
    for (size_t i = 0; i < k->n_uids; i++) {
        if (clean_list(k, &k->uids[i].sigs, &k->uids[i], NULL, lim, st))
            k->uids[w++] = k->uids[i];
        else {
            free(k->uids[i].sigs.v);
            st->uids_dropped++;
        }
    }
    k->n_uids = w;
    w = 0;
    for (size_t i = 0; i < k->n_subkeys; i++) {
        if (clean_list(k, &k->subkeys[i].sigs, NULL, &k->subkeys[i].key, lim, st))
            k->subkeys[w++] = k->subkeys[i];
        else {
            free(k->subkeys[i].sigs.v);
            st->subkeys_dropped++;
        }
    }
    k->n_subkeys = w;
    bool has_uid = false;
    for (size_t i = 0; i < k->n_uids; i++)
        has_uid |= k->uids[i].tag == OKS_PGP_TAG_UID;
    if (k->primary.version == 6 ? !direct : !has_uid)
        return oks_err_set(e, OKS_E_NOTKEY, OKS_NO_OFFSET,
                           k->primary.version == 6 ? "no valid direct-key self-signature"
                                                   : "no valid self-signed user ID");
    return 0;
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

/*
 * RFC 7929 section 2.1: an OPENPGPKEY record should hold a minimal key: the primary key, the
 * user ID of the address asked for with its self-signature, and the encryption subkeys with
 * their binding signatures; no third-party certifications. Keys come from the cluster's store,
 * where self-signatures are already verified (OKS_PGP_TRUSTED).
 */
#include "gw-dns/dns.h"

#include "lib/pgp.h"

#include <stdlib.h>
#include <string.h>

static bool is_cert(uint8_t t)
{
    return t >= 0x10 && t <= 0x13;
}

/* Newest good signature of the types in [lo, hi] (NULL if none). */
static const oks_pgp_sig *newest(const oks_pgp_sigs *s, uint8_t lo, uint8_t hi)
{
    const oks_pgp_sig *b = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].state == OKS_SIG_GOOD && s->v[i].type >= lo && s->v[i].type <= hi &&
            (!b || s->v[i].created >= b->created))
            b = &s->v[i];
    return b;
}

/* Keeps only *keep (or nothing) in s. */
static void keep_one(oks_pgp_sigs *s, const oks_pgp_sig *keep)
{
    if (keep) {
        oks_pgp_sig one = *keep;
        s->v[0] = one;
        s->n = 1;
    } else {
        s->n = 0;
    }
}

static bool uid_matches(const oks_pgp_uid *u, const char *hash, const char *domain)
{
    char mail[320];
    if (u->tag != OKS_PGP_TAG_UID)
        return false;
    size_t ml = oks_pgp_uid_email(u->body, u->len, mail, sizeof mail);
    if (!ml || ml >= sizeof mail)
        return false;
    char *at = strrchr(mail, '@');
    if (!at || strcmp(at + 1, domain) != 0)
        return false;
    char h[GWD_HASH_HEX + 1];
    gwd_owner_hash(mail, (size_t)(at - mail), h);
    return strcmp(h, hash) == 0;
}

static bool sig_expired(const oks_pgp_sig *s, uint32_t now)
{
    return s->sig_expires && (uint64_t)s->created + s->sig_expires <= now;
}

int gwd_minimise(const uint8_t *p, size_t n, const char *addr_hash, const char *domain,
                 uint32_t now, oks_buf *out, oks_err *e)
{
    oks_pgp_key *k;
    int rc = oks_pgp_key_parse(p, n, NULL, OKS_PGP_TRUSTED, &k, e);
    if (rc)
        return rc;
    uint32_t exp = oks_pgp_key_expires(k);
    if (oks_pgp_key_revoked(k) || (exp && exp <= now) || k->primary.version == 3) {
        oks_pgp_key_free(k);
        return 0;
    }
    /* direct-key self-signatures stay (they may carry the key's preferences and flags) */
    size_t w = 0;
    for (size_t i = 0; i < k->sigs.n; i++)
        if (k->sigs.v[i].state == OKS_SIG_GOOD && k->sigs.v[i].type == 0x1f)
            k->sigs.v[w++] = k->sigs.v[i];
    k->sigs.n = w;
    /* the first valid user ID with that address */
    size_t found = k->n_uids;
    for (size_t u = 0; u < k->n_uids && found == k->n_uids; u++) {
        oks_pgp_uid *id = &k->uids[u];
        if (!uid_matches(id, addr_hash, domain))
            continue;
        const oks_pgp_sig *cert = NULL;
        for (size_t i = 0; i < id->sigs.n; i++) {
            const oks_pgp_sig *s = &id->sigs.v[i];
            if (s->state == OKS_SIG_GOOD && is_cert(s->type) && !sig_expired(s, now) &&
                (!cert || s->created >= cert->created))
                cert = s;
        }
        const oks_pgp_sig *rev = newest(&id->sigs, 0x30, 0x30);
        if (!cert || (rev && rev->created >= cert->created))
            continue;
        keep_one(&id->sigs, cert);
        found = u;
    }
    if (found == k->n_uids) {
        oks_pgp_key_free(k);
        return 0;
    }
    for (size_t u = 0; u < k->n_uids; u++)
        if (u != found)
            free(k->uids[u].sigs.v);
    k->uids[0] = k->uids[found];
    k->n_uids = 1;
    /* encryption subkeys (flags 0x04 / 0x08) that are bound, not revoked, not expired */
    w = 0;
    for (size_t i = 0; i < k->n_subkeys; i++) {
        oks_pgp_subkey *sk = &k->subkeys[i];
        const oks_pgp_sig *b = newest(&sk->sigs, 0x18, 0x18);
        bool ok = b && !oks_pgp_subkey_revoked(k, sk) && b->has_key_flags &&
                  (b->key_flags & 0x0c) && !sig_expired(b, now) &&
                  !(b->has_key_expires && b->key_expires &&
                    (uint64_t)sk->key.created + b->key_expires <= now);
        if (!ok) {
            free(sk->sigs.v);
            continue;
        }
        keep_one(&sk->sigs, b);
        k->subkeys[w++] = *sk;
    }
    k->n_subkeys = w;
    rc = oks_pgp_key_serialize(k, out);
    oks_pgp_key_free(k);
    return rc ? rc : 1;
}

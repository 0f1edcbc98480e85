/*
 * gw-http/keyview: one key as the context of the HTML pages (index, vindex, key page): what
 * lib/keyctx gives the mail replies plus what a reader of a web page wants to know at a glance:
 * the fingerprint in blocks of four, a status word (valid / revoked / expired) for the key, each
 * user ID and each subkey, the usages (certify / sign / encrypt / auth) and expiry of the primary
 * key and of each subkey. Only verified self-signatures (OKS_SIG_GOOD) are believed. The listing
 * is bounded by a budget of list items shared by the keys of one page (gw.h: GW_HTML_MAX_*).
 */
#include "gw-http/gw.h"

#include "lib/keyctx.h"

#include <stdio.h>
#include <string.h>

void gw_fpr_groups(const char *hex, char *out, size_t out_size)
{
    size_t n = strlen(hex), o = 0;
    if (out_size == 0)
        return;
    for (size_t i = 0; i < n && o + 1 < out_size; i++) {
        if (i && i % 4 == 0) {
            /* a space between blocks; two in the middle of a v4 fingerprint, as gpg prints it */
            size_t gap = (n == 40 && i == 20) ? 2 : 1;
            for (size_t g = 0; g < gap && o + 1 < out_size; g++)
                out[o++] = ' ';
            if (o + 1 >= out_size)
                break;
        }
        out[o++] = hex[i];
    }
    out[o] = '\0';
}

unsigned gw_key_usage(uint8_t algo, bool has_flags, uint8_t flags, bool primary)
{
    if (has_flags)
        return flags & (GW_USE_CERTIFY | GW_USE_SIGN | GW_USE_ENCRYPT | GW_USE_AUTH);
    unsigned u;
    switch (algo) {
    case OKS_PGP_RSA: u = GW_USE_SIGN | GW_USE_ENCRYPT; break;
    case OKS_PGP_RSA_E: case OKS_PGP_ELGAMAL_E: case OKS_PGP_ELGAMAL: case OKS_PGP_ECDH:
    case OKS_PGP_X25519: case OKS_PGP_X448: u = GW_USE_ENCRYPT; break;
    default: u = GW_USE_SIGN;
    }
    /* a primary key certifies its own user IDs and subkeys whatever its flags say */
    return primary ? u | GW_USE_CERTIFY : u;
}

/* flags 0x04 and 0x08 (communications, storage) are both shown as "encrypt" */
static int set_usages(oks_tmpl *t, unsigned u)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{GW_USE_CERTIFY, "certify"}, {GW_USE_SIGN, "sign"},
                 {GW_USE_ENCRYPT, "encrypt"}, {GW_USE_AUTH, "auth"}};
    bool any = false;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!(u & names[i].bit))
            continue;
        oks_tmpl *it = oks_tmpl_push(t, "usages");
        if (!it || oks_tmpl_set(it, "name", names[i].name, strlen(names[i].name)))
            return OKS_E_NOMEM;
        any = true;
    }
    /* always a list, so an item never shows the usages of the key around it */
    if (!any) {
        oks_tmpl *it = oks_tmpl_push(t, "usages");
        if (!it || oks_tmpl_set(it, "name", "none", 4))
            return OKS_E_NOMEM;
    }
    return 0;
}

const char *gw_uid_status(const oks_pgp_uid *u, uint64_t now)
{
    const oks_pgp_sig *cert = NULL;
    uint32_t rev = 0;
    bool has_rev = false;
    for (size_t i = 0; i < u->sigs.n; i++) {
        const oks_pgp_sig *s = &u->sigs.v[i];
        if (s->state != OKS_SIG_GOOD)
            continue;
        if (s->type >= 0x10 && s->type <= 0x13 && (!cert || s->created >= cert->created))
            cert = s;
        else if (s->type == 0x30 && (!has_rev || s->created > rev)) {
            rev = s->created;
            has_rev = true;
        }
    }
    /* a revocation stands unless a newer self-certification came after it */
    if (has_rev && (!cert || rev >= cert->created))
        return "revoked";
    if (cert && cert->sig_expires && (uint64_t)cert->created + cert->sig_expires <= now)
        return "expired";
    return "valid";
}

/* the newest verified self-signature of type lo..hi in sigs, or NULL */
static const oks_pgp_sig *newest(const oks_pgp_sigs *sigs, uint8_t lo, uint8_t hi)
{
    const oks_pgp_sig *best = NULL;
    for (size_t i = 0; i < sigs->n; i++) {
        const oks_pgp_sig *s = &sigs->v[i];
        if (s->state == OKS_SIG_GOOD && s->type >= lo && s->type <= hi &&
            (!best || s->created >= best->created))
            best = s;
    }
    return best;
}

/* key flags of the primary key: the newest verified self-signature that carries them */
static const oks_pgp_sig *primary_flags(const oks_pgp_key *k)
{
    const oks_pgp_sig *best = NULL;
    const oks_pgp_sigs *lists[1] = {&k->sigs};
    for (size_t i = 0; i <= k->n_uids; i++) {
        const oks_pgp_sigs *l = i == 0 ? lists[0] : &k->uids[i - 1].sigs;
        for (size_t j = 0; j < l->n; j++) {
            const oks_pgp_sig *s = &l->v[j];
            if (s->state == OKS_SIG_GOOD && s->has_key_flags &&
                (s->type == 0x1F || (s->type >= 0x10 && s->type <= 0x13)) &&
                (!best || s->created >= best->created))
                best = s;
        }
    }
    return best;
}

static int set_common(oks_tmpl *t, const oks_pgp_pubkey *pk)
{
    char hex[65], groups[100];
    oks_hex(hex, pk->fpr, pk->fpr_len <= 32 ? pk->fpr_len : 32, 1);
    gw_fpr_groups(hex, groups, sizeof groups);
    if (oks_tmpl_set(t, "fpr", hex, strlen(hex)) ||
        oks_tmpl_set(t, "fpr_groups", groups, strlen(groups)) ||
        oks_keyctx_hex(t, "keyid", pk->keyid, 8) ||
        oks_tmpl_setf(t, "algo", "%s", oks_pgp_algo_name(pk->algo)) ||
        oks_tmpl_setf(t, "bits", "%u", pk->bits) || oks_keyctx_date(t, "created", pk->created))
        return OKS_E_NOMEM;
    return 0;
}

/* expires (a date, or "never") and status of a key or subkey */
static int set_state(oks_tmpl *t, uint32_t expires, bool revoked, uint64_t now)
{
    int r = expires ? oks_keyctx_date(t, "expires", expires) : oks_tmpl_set(t, "expires", "never", 5);
    const char *st = revoked ? "revoked" : expires && expires <= now ? "expired" : "valid";
    return r || oks_tmpl_set(t, "status", st, strlen(st)) ? OKS_E_NOMEM : 0;
}

/* a user ID as text: control characters as '?', attributes named */
static int set_uid(oks_tmpl *t, const char *name, const oks_pgp_uid *u)
{
    if (u->tag != OKS_PGP_TAG_UID)
        return oks_tmpl_set(t, name, "[user attribute]", 16);
    char v[OKS_PGP_MAX_UID_BYTES + 1];
    size_t n = u->len < OKS_PGP_MAX_UID_BYTES ? u->len : OKS_PGP_MAX_UID_BYTES;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = u->body[i];
        v[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return oks_tmpl_set(t, name, v, n);
}

static int set_sig(oks_tmpl *st, const oks_pgp_key *k, const oks_pgp_sig *s)
{
    bool self = s->state == OKS_SIG_GOOD ||
                (s->has_issuer && memcmp(s->issuer, k->primary.keyid, 8) == 0);
    if (oks_tmpl_set(st, "issuer", "", 0) ||
        (s->has_issuer && oks_keyctx_hex(st, "issuer", s->issuer, 8)) ||
        oks_tmpl_setf(st, "type", "0x%02X", s->type) ||
        oks_keyctx_date(st, "created", s->created) ||
        oks_tmpl_set(st, "self", self ? "yes" : "", self ? 3 : 0))
        return OKS_E_NOMEM;
    return 0;
}

/* the user ID shown as the key's title: the one a verified self-signature marks primary, else
 * the first valid one, else the first */
static const oks_pgp_uid *title_uid(const oks_pgp_key *k, uint64_t now)
{
    const oks_pgp_uid *first_valid = NULL;
    for (size_t i = 0; i < k->n_uids; i++) {
        const oks_pgp_uid *u = &k->uids[i];
        if (u->tag != OKS_PGP_TAG_UID)
            continue;
        const oks_pgp_sig *c = newest(&u->sigs, 0x10, 0x13);
        bool valid = strcmp(gw_uid_status(u, now), "valid") == 0;
        if (c && c->primary_uid && valid)
            return u;
        if (valid && !first_valid)
            first_valid = u;
    }
    if (first_valid)
        return first_valid;
    return k->n_uids ? &k->uids[0] : NULL;
}

static int set_truncated(oks_tmpl *kt, const oks_keyctx_omitted *om)
{
    if (!om->uids && !om->sigs && !om->subkeys)
        return oks_tmpl_set(kt, "truncated", "", 0);
    char what[160];
    size_t n = 0;
    const struct {
        size_t count;
        const char *name;
    } parts[3] = {{om->sigs, "signatures"}, {om->uids, "user IDs"}, {om->subkeys, "subkeys"}};
    for (int i = 0; i < 3; i++)
        if (parts[i].count && n < sizeof what)
            n += (size_t)snprintf(what + n, sizeof what - n, "%s%zu more %s", n ? ", " : "",
                                  parts[i].count, parts[i].name);
    return oks_tmpl_setf(kt, "truncated", "%s", what);
}

int gw_page_key(oks_tmpl *kt, const oks_pgp_key *k, bool sigs, uint64_t now, size_t *lines)
{
    oks_keyctx_omitted om = {0};
    const oks_pgp_sig *pf = primary_flags(k);
    const oks_pgp_uid *tu = title_uid(k, now);
    if (set_common(kt, &k->primary) ||
        set_state(kt, oks_pgp_key_expires(k), oks_pgp_key_revoked(k), now) ||
        set_usages(kt, gw_key_usage(k->primary.algo, pf != NULL, pf ? pf->key_flags : 0, true)) ||
        oks_tmpl_setf(kt, "n_uids", "%zu", k->n_uids) ||
        oks_tmpl_setf(kt, "n_subkeys", "%zu", k->n_subkeys) ||
        (tu ? set_uid(kt, "title", tu) : oks_tmpl_set(kt, "title", "", 0)))
        return OKS_E_NOMEM;
    for (size_t u = 0; u < k->n_uids; u++) {
        if (*lines == 0) {
            om.uids++;
            om.sigs += sigs ? k->uids[u].sigs.n : 0;
            continue;
        }
        --*lines;
        const char *st = gw_uid_status(&k->uids[u], now);
        oks_tmpl *ut = oks_tmpl_push(kt, "uids");
        if (!ut || set_uid(ut, "uid", &k->uids[u]) || oks_tmpl_set(ut, "status", st, strlen(st)))
            return OKS_E_NOMEM;
        for (size_t i = 0; sigs && i < k->uids[u].sigs.n; i++) {
            if (*lines == 0) {
                om.sigs += k->uids[u].sigs.n - i;
                break;
            }
            --*lines;
            oks_tmpl *st2 = oks_tmpl_push(ut, "sigs");
            if (!st2 || set_sig(st2, k, &k->uids[u].sigs.v[i]))
                return OKS_E_NOMEM;
        }
    }
    for (size_t s = 0; s < k->n_subkeys; s++) {
        if (*lines == 0) {
            om.subkeys += k->n_subkeys - s;
            break;
        }
        --*lines;
        const oks_pgp_subkey *sk = &k->subkeys[s];
        const oks_pgp_sig *b = newest(&sk->sigs, 0x18, 0x18);
        uint32_t exp = b && b->has_key_expires && b->key_expires
                           ? (uint32_t)((uint64_t)sk->key.created + b->key_expires > UINT32_MAX
                                            ? UINT32_MAX
                                            : sk->key.created + b->key_expires)
                           : 0;
        oks_tmpl *st = oks_tmpl_push(kt, "subkeys");
        if (!st || set_common(st, &sk->key) ||
            set_state(st, exp, oks_pgp_subkey_revoked(k, sk), now) ||
            set_usages(st, gw_key_usage(sk->key.algo, b && b->has_key_flags,
                                        b ? b->key_flags : 0, false)))
            return OKS_E_NOMEM;
    }
    return set_truncated(kt, &om);
}

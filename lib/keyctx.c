/* A key as a template context (see keyctx.h). */
#include "lib/keyctx.h"
#include "lib/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int oks_keyctx_date(oks_tmpl *t, const char *name, uint32_t when)
{
    time_t tt = when;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return oks_tmpl_set(t, name, "?", 1);
    return oks_tmpl_setf(t, name, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday);
}

int oks_keyctx_hex(oks_tmpl *t, const char *name, const uint8_t *p, size_t n)
{
    char hex[65];
    if (n > 32)
        n = 32;
    oks_hex(hex, p, n, 1);
    return oks_tmpl_set(t, name, hex, 2 * n);
}

static int set_uid(oks_tmpl *t, const oks_pgp_uid *u)
{
    if (u->tag != OKS_PGP_TAG_UID)
        return oks_tmpl_set(t, "uid", "[user attribute]", 16);
    char *v = oks_xmalloc(u->len + 1);
    for (size_t i = 0; i < u->len; i++) {
        uint8_t c = u->body[i];
        v[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    int r = oks_tmpl_set(t, "uid", v, u->len);
    free(v);
    return r;
}

/* fpr, keyid, algo, bits, created of a primary key or subkey */
static int key_fields(oks_tmpl *t, const oks_pgp_pubkey *pk)
{
    if (oks_keyctx_hex(t, "fpr", pk->fpr, pk->fpr_len) ||
        oks_keyctx_hex(t, "keyid", pk->keyid, 8) ||
        oks_tmpl_setf(t, "algo", "%s", oks_pgp_algo_name(pk->algo)) ||
        oks_tmpl_setf(t, "bits", "%u", pk->bits) || oks_keyctx_date(t, "created", pk->created))
        return OKS_E_NOMEM;
    return 0;
}

static int sig_fields(oks_tmpl *st, const oks_pgp_key *k, const oks_pgp_sig *s)
{
    bool self = s->state == OKS_SIG_GOOD ||
                (s->has_issuer && memcmp(s->issuer, k->primary.keyid, 8) == 0);
    if ((s->has_issuer && oks_keyctx_hex(st, "issuer", s->issuer, 8)) ||
        oks_tmpl_setf(st, "type", "0x%02X", s->type) ||
        oks_keyctx_date(st, "created", s->created) ||
        (self && oks_tmpl_set(st, "self", "yes", 3)))
        return OKS_E_NOMEM;
    return 0;
}

int oks_keyctx_key_max(oks_tmpl *kt, const oks_pgp_key *k, bool sigs, size_t *lines,
                       oks_keyctx_omitted *om)
{
    uint32_t exp = oks_pgp_key_expires(k);
    if (key_fields(kt, &k->primary) || (exp && oks_keyctx_date(kt, "expires", exp)) ||
        (oks_pgp_key_revoked(k) && oks_tmpl_set(kt, "revoked", "yes", 3)))
        return OKS_E_NOMEM;
    for (size_t u = 0; u < k->n_uids; u++) {
        if (*lines == 0) {
            om->uids++;
            om->sigs += sigs ? k->uids[u].sigs.n : 0;
            continue;
        }
        --*lines;
        oks_tmpl *ut = oks_tmpl_push(kt, "uids");
        if (!ut || set_uid(ut, &k->uids[u]))
            return OKS_E_NOMEM;
        for (size_t i = 0; sigs && i < k->uids[u].sigs.n; i++) {
            if (*lines == 0) {
                om->sigs += k->uids[u].sigs.n - i;
                break;
            }
            --*lines;
            oks_tmpl *st = oks_tmpl_push(ut, "sigs");
            if (!st || sig_fields(st, k, &k->uids[u].sigs.v[i]))
                return OKS_E_NOMEM;
        }
    }
    for (size_t s = 0; s < k->n_subkeys; s++) {
        if (*lines == 0) {
            om->subkeys += k->n_subkeys - s;
            break;
        }
        --*lines;
        oks_tmpl *st = oks_tmpl_push(kt, "subkeys");
        if (!st || key_fields(st, &k->subkeys[s].key) ||
            (oks_pgp_subkey_revoked(k, &k->subkeys[s]) && oks_tmpl_set(st, "revoked", "yes", 3)))
            return OKS_E_NOMEM;
    }
    return 0;
}

int oks_keyctx_key(oks_tmpl *kt, const oks_pgp_key *k, bool sigs)
{
    size_t lines = SIZE_MAX;
    oks_keyctx_omitted om = {0};
    return oks_keyctx_key_max(kt, k, sigs, &lines, &om);
}

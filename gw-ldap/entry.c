/*
 * Entries: the LDAP view of a stored key (GnuPG's LDAP schema, version 2: the attributes
 * dirmngr's ks-engine-ldap reads and writes), and LDIF output for slapd's back-sock, which
 * parses what we write with its own LDIF reader (str2entry) and checks every value against the
 * attribute's syntax: a value that is not valid UTF-8 would make slapd drop the whole entry, so
 * user IDs are cleaned first.
 */
#include "gw-ldap/gwl.h"

#include "lib/pgp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- the entry container ------------------------------------------------------------------ */

void gwl_entry_init(gwl_entry *en, gwl_arena *a, const char *dn)
{
    memset(en, 0, sizeof *en);
    en->arena = a;
    en->dn = gwl_strndup(a, dn, strlen(dn));
}

static gwl_attr *attr_of(gwl_entry *en, const char *name)
{
    for (size_t i = 0; i < en->n_attrs; i++)
        if (strcasecmp(en->attrs[i].name, name) == 0)
            return &en->attrs[i];
    if (en->n_attrs == GWL_ENTRY_MAX_ATTRS)
        return NULL;
    gwl_attr *a = &en->attrs[en->n_attrs++];
    a->name = name;
    return a;
}

void gwl_entry_add(gwl_entry *en, const char *name, const void *p, size_t n)
{
    gwl_attr *a = attr_of(en, name);
    if (!a)
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        gwl_val *v = gwl_alloc(en->arena, cap * sizeof *v);
        if (a->n)
            memcpy(v, a->v, a->n * sizeof *v);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].p = gwl_strndup(en->arena, p, n);
    a->v[a->n].n = n;
    a->n++;
}

void gwl_entry_adds(gwl_entry *en, const char *name, const char *s)
{
    gwl_entry_add(en, name, s, strlen(s));
}

const gwl_attr *gwl_entry_get(const gwl_entry *en, const char *name)
{
    for (size_t i = 0; i < en->n_attrs; i++)
        if (strcasecmp(en->attrs[i].name, name) == 0)
            return &en->attrs[i];
    return NULL;
}

/* ---- a key as an entry -------------------------------------------------------------------- */

size_t gwl_utf8_clean(const uint8_t *in, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = in[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        bool ok = len > 0 && c != 0 && i + len <= n;
        for (size_t j = 1; ok && j < len; j++)
            ok = (in[i + j] & 0xC0) == 0x80;
        if (ok && len == 3) { /* no overlong forms, no surrogates */
            ok = !(c == 0xE0 && in[i + 1] < 0xA0) && !(c == 0xED && in[i + 1] >= 0xA0);
        } else if (ok && len == 4) {
            ok = !(c == 0xF0 && in[i + 1] < 0x90) && !(c == 0xF4 && in[i + 1] >= 0x90);
        }
        if (!ok) {
            out[k++] = '?';
            i++;
            continue;
        }
        memcpy(out + k, in + i, len);
        k += len;
        i += len;
    }
    if (k == 0)
        out[k++] = '?';
    out[k] = '\0';
    return k;
}

static void add_time(gwl_entry *en, const char *name, uint32_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char s[32];
    if (!gmtime_r(&tt, &tm))
        return;
    strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm);
    gwl_entry_adds(en, name, s);
}

static void add_hex(gwl_entry *en, const char *name, const uint8_t *p, size_t n)
{
    char h[65];
    oks_hex(h, p, n, 1);
    gwl_entry_add(en, name, h, 2 * n);
}

static void add_size(gwl_entry *en, const oks_pgp_pubkey *pk)
{
    if (pk->bits == 0 || pk->bits > 99999)
        return;
    char s[8];
    snprintf(s, sizeof s, "%05u", pk->bits); /* zero-padded, as GnuPG writes it */
    gwl_entry_adds(en, "pgpKeySize", s);
}

static const char *key_type(uint8_t algo)
{
    switch (algo) {
    case OKS_PGP_RSA:
    case OKS_PGP_RSA_E:
    case OKS_PGP_RSA_S: return "RSA";
    case OKS_PGP_DSA: return "DSS/DH";
    default: return oks_pgp_algo_name(algo);
    }
}

#define MAX_SIGNERS 64

void gwl_entry_of_key(gwl_entry *en, gwl_arena *a, const oks_pgp_key *k, const uint8_t *data,
                      size_t len, const char *keyspace, bool with_key)
{
    const oks_pgp_pubkey *pk = &k->primary;
    char cert[17], dn[400];
    oks_hex(cert, pk->keyid, 8, 1);
    snprintf(dn, sizeof dn, "pgpCertID=%s,%s", cert, keyspace);
    gwl_entry_init(en, a, dn);
    gwl_entry_adds(en, "objectClass", "top");
    gwl_entry_adds(en, "objectClass", "pgpKeyInfo");
    gwl_entry_adds(en, "objectClass", "extensibleObject"); /* cn and mail beside the schema */
    gwl_entry_adds(en, "pgpCertID", cert);
    gwl_entry_adds(en, "pgpKeyID", cert + 8);
    add_hex(en, "gpgFingerprint", pk->fpr, pk->fpr_len);
    gwl_entry_adds(en, "pgpKeyType", key_type(pk->algo));
    add_size(en, pk);
    add_time(en, "pgpKeyCreateTime", pk->created);
    uint32_t exp = oks_pgp_key_expires(k);
    if (exp)
        add_time(en, "pgpKeyExpireTime", exp);
    gwl_entry_adds(en, "pgpRevoked", oks_pgp_key_revoked(k) ? "1" : "0");
    gwl_entry_adds(en, "pgpDisabled", "0");
    for (size_t i = 0; i < k->n_subkeys; i++) {
        const oks_pgp_pubkey *sk = &k->subkeys[i].key;
        add_hex(en, "pgpSubKeyID", sk->keyid, 8);
        add_hex(en, "gpgSubFingerprint", sk->fpr, sk->fpr_len);
        add_size(en, sk);
    }
    uint8_t signers[MAX_SIGNERS][8];
    size_t n_signers = 0;
    for (size_t i = 0; i < k->n_uids; i++) {
        const oks_pgp_uid *u = &k->uids[i];
        if (u->tag != OKS_PGP_TAG_UID)
            continue;
        char *clean = gwl_alloc(en->arena, u->len + 2);
        size_t cl = gwl_utf8_clean(u->body, u->len, clean);
        gwl_entry_add(en, "pgpUserID", clean, cl);
        gwl_entry_add(en, "cn", clean, cl); /* for address books */
        char mail[OKS_PGP_MAX_UID_BYTES + 1];
        size_t ml = oks_pgp_uid_email(u->body, u->len, mail, sizeof mail);
        if (ml) {
            char *mc = gwl_alloc(en->arena, ml + 2);
            size_t mcl = gwl_utf8_clean((const uint8_t *)mail, ml, mc);
            const gwl_attr *have = gwl_entry_get(en, "gpgMailbox");
            bool dup = false;
            for (size_t j = 0; have && j < have->n && !dup; j++)
                dup = have->v[j].n == mcl && memcmp(have->v[j].p, mc, mcl) == 0;
            if (!dup) {
                gwl_entry_add(en, "gpgMailbox", mc, mcl);
                /* mail (cosine) is IA5: only ASCII addresses go there */
                bool ascii = true;
                for (size_t j = 0; j < mcl && ascii; j++)
                    ascii = (unsigned char)mc[j] < 0x80;
                if (ascii)
                    gwl_entry_add(en, "mail", mc, mcl);
            }
        }
        for (size_t s = 0; s < u->sigs.n && n_signers < MAX_SIGNERS; s++) {
            const oks_pgp_sig *sg = &u->sigs.v[s];
            if (!sg->has_issuer || memcmp(sg->issuer, pk->keyid, 8) == 0)
                continue;
            bool seen = false;
            for (size_t j = 0; j < n_signers && !seen; j++)
                seen = memcmp(signers[j], sg->issuer, 8) == 0;
            if (!seen)
                memcpy(signers[n_signers++], sg->issuer, 8);
        }
    }
    for (size_t j = 0; j < n_signers; j++)
        add_hex(en, "pgpSignerID", signers[j], 8);
    if (with_key) {
        oks_buf arm = OKS_BUF_INIT;
        oks_armor_encode(data, len, &arm);
        gwl_entry_add(en, "pgpKey", arm.data, arm.len);
        oks_buf_release(&arm);
    }
}

/* ---- LDIF --------------------------------------------------------------------------------- */

#define FOLD GWL_LDIF_FOLD

/* Appends s[0..n) folded: the first line holds FOLD - col more bytes, the next ones a space
 * and FOLD - 1 bytes. */
static void put_folded(oks_buf *out, const char *s, size_t n, size_t col)
{
    size_t room = col < FOLD ? FOLD - col : 1;
    while (n > room) {
        oks_buf_append(out, s, room);
        oks_buf_append(out, "\n ", 2);
        s += room;
        n -= room;
        room = FOLD - 1;
    }
    oks_buf_append(out, s, n);
    oks_buf_putc(out, '\n');
}

static bool safe_string(const char *p, size_t n)
{
    if (n == 0)
        return true;
    if (p[0] == ' ' || p[0] == ':' || p[0] == '<' || p[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == 0 || c == '\n' || c == '\r' || c >= 0x80)
            return false;
    }
    return true;
}

static void base64(oks_buf *out, const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    oks_buf_reserve(out, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {t[v >> 18], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        oks_buf_append(out, q, 4);
    }
}

static void put_line(oks_buf *out, const char *name, const char *p, size_t n)
{
    size_t nl = strlen(name);
    oks_buf_append(out, name, nl);
    if (safe_string(p, n)) {
        oks_buf_append(out, ": ", 2);
        put_folded(out, p, n, nl + 2);
    } else {
        oks_buf_append(out, ":: ", 3);
        oks_buf enc = OKS_BUF_INIT;
        base64(&enc, (const uint8_t *)p, n);
        put_folded(out, (const char *)enc.data, enc.len, nl + 3);
        oks_buf_release(&enc);
    }
}

void gwl_ldif_entry(oks_buf *out, const gwl_entry *en, bool (*want)(const void *, const char *),
                    const void *arg)
{
    put_line(out, "dn", en->dn, strlen(en->dn));
    for (size_t i = 0; i < en->n_attrs; i++) {
        const gwl_attr *a = &en->attrs[i];
        if (want && !want(arg, a->name))
            continue;
        for (size_t j = 0; j < a->n; j++)
            put_line(out, a->name, a->v[j].p, a->v[j].n);
    }
    oks_buf_putc(out, '\n');
}

/* One line of text for a RESULT field: control characters become spaces. */
static void put_text(oks_buf *out, const char *s)
{
    for (; s && *s; s++)
        oks_buf_putc(out, (unsigned char)*s < 0x20 ? ' ' : (uint8_t)*s);
}

void gwl_ldif_result(oks_buf *out, int code, const char *matched, const char *info)
{
    /* slapd keeps what follows "matched:" and "info:" verbatim: no space after the colon */
    oks_buf_printf(out, "RESULT\ncode: %d\n", code);
    if (matched && *matched) {
        oks_buf_append(out, "matched:", 8);
        put_text(out, matched);
        oks_buf_putc(out, '\n');
    }
    if (info && *info) {
        oks_buf_append(out, "info:", 5);
        put_text(out, info);
        oks_buf_putc(out, '\n');
    }
    oks_buf_putc(out, '\n');
}

void gwl_dn_norm(const char *dn, char *out, size_t size)
{
    size_t k = 0;
    if (size == 0)
        return;
    for (const char *p = dn; *p && k + 1 < size; p++) {
        char c = *p;
        if (c == ' ') {
            /* spaces next to a separator or at either end do not count */
            const char *q = p;
            while (*q == ' ')
                q++;
            bool around = k == 0 || *q == '\0' || *q == ',' || *q == '=' || *q == '+' ||
                          out[k - 1] == ',' || out[k - 1] == '=' || out[k - 1] == '+';
            if (!around)
                out[k++] = ' ';
            p = q - 1;
            continue;
        }
        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[k] = '\0';
}

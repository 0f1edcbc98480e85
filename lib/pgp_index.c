/*
 * What a keyserver derives from a key for searching and listing: the HKP machine-readable index
 * record (protocols.md 1.5, with the OKS escaping rule), the e-mail address of a user ID, and
 * SKS's word splitting for text search.
 */
#include "lib/pgp.h"

#include <string.h>

/* A self-signature for listing purposes: issued by the primary key and not known bad (after
 * oks_pgp_key_verify only verified ones are left; before it, the issuer field decides). */
static bool listed_self(const oks_pgp_key *k, const oks_pgp_sig *s)
{
    if (s->state == OKS_SIG_THIRD_PARTY)
        return false;
    if (s->state == OKS_SIG_GOOD)
        return true;
    if (s->issuer_fpr_len)
        return s->issuer_fpr_len == k->primary.fpr_len &&
               memcmp(s->issuer_fpr, k->primary.fpr, s->issuer_fpr_len) == 0;
    return s->has_issuer && memcmp(s->issuer, k->primary.keyid, 8) == 0;
}

static bool is_cert(uint8_t type)
{
    return type >= 0x10 && type <= 0x13;
}

/* SKS's pub expiry: the newest user ID self-certification with a key-expiration subpacket
 * (direct-key self-signatures when no user ID carries one, as v6 keys do); v3: the days field. */
static uint32_t index_expires(const oks_pgp_key *k)
{
    const oks_pgp_pubkey *pk = &k->primary;
    if (pk->version == 3)
        return pk->v3_days ? pk->created + (uint32_t)pk->v3_days * 86400u : 0;
    const oks_pgp_sig *best = NULL;
    for (size_t i = 0; i < k->n_uids; i++)
        for (size_t j = 0; j < k->uids[i].sigs.n; j++) {
            const oks_pgp_sig *s = &k->uids[i].sigs.v[j];
            if (is_cert(s->type) && s->has_key_expires && listed_self(k, s) &&
                (!best || s->created >= best->created))
                best = s;
        }
    for (size_t j = 0; !best && j < k->sigs.n; j++) {
        const oks_pgp_sig *s = &k->sigs.v[j];
        if (s->type == 0x1f && s->has_key_expires && listed_self(k, s))
            best = s;
    }
    if (!best || best->key_expires == 0)
        return 0;
    return pk->created + best->key_expires;
}

static bool index_revoked(const oks_pgp_key *k)
{
    for (size_t j = 0; j < k->sigs.n; j++)
        if (k->sigs.v[j].type == 0x20 && k->sigs.v[j].state == OKS_SIG_GOOD)
            return true;
    return false;
}

/* Key size column as SKS prints it: curve sizes rounded to whole bytes (Curve25519: 256). */
static unsigned index_bits(const oks_pgp_pubkey *pk)
{
    return pk->bits == 255 ? 256 : pk->bits;
}

static int put_escaped(oks_buf *out, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (oks_buf_reserve(out, n * 3))
        return OKS_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20 || c == '%' || c == ':' || c >= 0x7f) {
            out->data[out->len++] = '%';
            out->data[out->len++] = (uint8_t)hex[c >> 4];
            out->data[out->len++] = (uint8_t)hex[c & 15];
        } else {
            out->data[out->len++] = c;
        }
    }
    return 0;
}

static void put_time(oks_buf *out, uint32_t t)
{
    if (t)
        oks_buf_printf(out, "%u", t);
}

int oks_pgp_key_mr_index(const oks_pgp_key *key, oks_buf *out)
{
    const oks_pgp_pubkey *pk = &key->primary;
    char id[65];
    if (pk->version == 3)
        oks_hex(id, pk->keyid, 8, 1);
    else
        oks_hex(id, pk->fpr, pk->fpr_len, 1);
    int r = oks_buf_printf(out, "pub:%s:%u:%u:%u:", id, pk->algo, index_bits(pk), pk->created);
    put_time(out, index_expires(key));
    r = r ? r : oks_buf_printf(out, ":%s\n", index_revoked(key) ? "r" : "");
    for (size_t i = 0; i < key->n_uids && !r; i++) {
        const oks_pgp_uid *u = &key->uids[i];
        if (u->tag == OKS_PGP_TAG_UAT) {
            r = oks_buf_printf(out, "uat::::\n");
            continue;
        }
        const oks_pgp_sig *best = NULL, *rev = NULL;
        for (size_t j = 0; j < u->sigs.n; j++) {
            const oks_pgp_sig *s = &u->sigs.v[j];
            if (!listed_self(key, s))
                continue;
            if (is_cert(s->type) && (!best || s->created >= best->created))
                best = s;
            if (s->type == 0x30 && s->state == OKS_SIG_GOOD && (!rev || s->created > rev->created))
                rev = s;
        }
        oks_buf_printf(out, "uid:");
        r = put_escaped(out, u->body, u->len);
        oks_buf_putc(out, ':');
        if (best) {
            put_time(out, best->created);
            oks_buf_putc(out, ':');
            if (best->sig_expires)
                put_time(out, best->created + best->sig_expires);
        } else {
            oks_buf_putc(out, ':');
        }
        bool revoked = rev && (!best || rev->created >= best->created);
        r = r ? r : oks_buf_printf(out, ":%s\n", revoked ? "r" : "");
    }
    return r;
}

size_t oks_pgp_uid_email(const uint8_t *uid, size_t len, char *out, size_t out_size)
{
    const uint8_t *a = NULL;
    size_t al = 0;
    const uint8_t *lt = NULL;
    for (size_t i = len; i > 0; i--)
        if (uid[i - 1] == '<') {
            lt = uid + i - 1;
            break;
        }
    if (lt) {
        const uint8_t *gt = memchr(lt, '>', (size_t)(uid + len - lt));
        if (!gt)
            return 0;
        a = lt + 1;
        al = (size_t)(gt - a);
    } else {
        size_t s = 0, e = len;
        while (s < e && (uid[s] == ' ' || uid[s] == '\t'))
            s++;
        while (e > s && (uid[e - 1] == ' ' || uid[e - 1] == '\t'))
            e--;
        a = uid + s;
        al = e - s;
    }
    const uint8_t *at = al ? memchr(a, '@', al) : NULL;
    if (!at || at == a || at == a + al - 1 || al + 1 > out_size)
        return 0;
    for (size_t i = 0; i < al; i++) {
        uint8_t c = a[i];
        if (c <= ' ' || c == '<' || c == '>' || c == 0x7f)
            return 0;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[al] = '\0';
    return al;
}

static bool word_byte(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0xc0;
}

void oks_pgp_words(const uint8_t *text, size_t len,
                   void (*fn)(const char *word, size_t len, void *arg), void *arg)
{
    char w[256];
    size_t i = 0;
    while (i < len) {
        while (i < len && !word_byte(text[i]))
            i++;
        size_t s = i;
        while (i < len && word_byte(text[i]))
            i++;
        if (i == s)
            continue;
        /* words longer than the buffer are cut: nobody searches for 256-byte words */
        size_t n = i - s < sizeof w - 1 ? i - s : sizeof w - 1;
        for (size_t k = 0; k < n; k++) {
            uint8_t c = text[s + k];
            w[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        w[n] = '\0';
        fn(w, n, arg);
    }
}

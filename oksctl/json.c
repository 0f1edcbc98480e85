/*
 * JSON form of one inspected key for `oksctl inspect --json`: one object per line. Strings are
 * escaped per RFC 8259; bytes that are not valid UTF-8 become U+FFFD.
 */
#include "lib/pgp.h"

#include <string.h>

void oksctl_json_key(oks_buf *out, const oks_pgp_key *k, const oks_pgp_verify_stats *st,
                     bool verified, const char *hash, uint32_t now);

/* Length of a valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t l;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        l = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        l = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        l = 4, cp = c & 0x07;
    else
        return 0;
    if (n < l)
        return 0;
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((l == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return l;
}

static void json_str(oks_buf *out, const uint8_t *p, size_t n)
{
    oks_buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            oks_buf_putc(out, '\\');
            oks_buf_putc(out, c);
            i++;
        } else if (c < 0x20) {
            oks_buf_printf(out, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0) {
                oks_buf_printf(out, "\\ufffd");
                i++;
            } else {
                oks_buf_append(out, p + i, l);
                i += l;
            }
        }
    }
    oks_buf_putc(out, '"');
}

static void json_cstr(oks_buf *out, const char *s)
{
    if (s)
        json_str(out, (const uint8_t *)s, strlen(s));
    else
        oks_buf_printf(out, "null");
}

static void key_fields(oks_buf *out, const oks_pgp_pubkey *pk)
{
    char fpr[65], id[17];
    oks_hex(fpr, pk->fpr, pk->fpr_len, 1);
    oks_hex(id, pk->keyid, 8, 1);
    oks_buf_printf(out, "\"fingerprint\":\"%s\",\"keyid\":\"%s\",\"version\":%u,\"algorithm\":%u,"
                        "\"algorithm_name\":\"%s\",\"bits\":%u,\"curve\":",
                   fpr, id, pk->version, pk->algo, oks_pgp_algo_name(pk->algo), pk->bits);
    json_cstr(out, pk->curve);
    oks_buf_printf(out, ",\"created\":%u", pk->created);
}

/* Subkey expiry: the newest good binding signature carrying a key-expiration subpacket. */
static uint32_t subkey_expires(const oks_pgp_subkey *sk)
{
    const oks_pgp_sig *best = NULL;
    for (size_t i = 0; i < sk->sigs.n; i++) {
        const oks_pgp_sig *s = &sk->sigs.v[i];
        if (s->type == 0x18 && s->state == OKS_SIG_GOOD && (!best || s->created >= best->created))
            best = s;
    }
    return best && best->has_key_expires && best->key_expires
               ? sk->key.created + best->key_expires
               : 0;
}

void oksctl_json_key(oks_buf *out, const oks_pgp_key *k, const oks_pgp_verify_stats *st,
                     bool verified, const char *hash, uint32_t now)
{
    uint32_t exp = oks_pgp_key_expires(k);
    bool rev = oks_pgp_key_revoked(k);
    size_t uat = 0, third = 0;
    oks_buf_putc(out, '{');
    key_fields(out, &k->primary);
    oks_buf_printf(out, ",\"expires\":%u,\"revoked\":%s,\"expired\":%s,\"uids\":[", exp,
                   rev ? "true" : "false", exp && exp <= now ? "true" : "false");
    bool first = true;
    for (size_t i = 0; i < k->n_uids; i++) {
        if (k->uids[i].tag == OKS_PGP_TAG_UAT) {
            uat++;
            continue;
        }
        if (!first)
            oks_buf_putc(out, ',');
        first = false;
        json_str(out, k->uids[i].body, k->uids[i].len);
    }
    oks_buf_printf(out, "],\"user_attributes\":%zu,\"subkeys\":[", uat);
    for (size_t i = 0; i < k->n_subkeys; i++) {
        const oks_pgp_subkey *sk = &k->subkeys[i];
        oks_buf_printf(out, "%s{", i ? "," : "");
        key_fields(out, &sk->key);
        bool srev = oks_pgp_subkey_revoked(k, sk);
        oks_buf_printf(out, ",\"expires\":%u,\"revoked\":%s}", subkey_expires(sk),
                       srev ? "true" : "false");
    }
    if (!verified) {
        for (size_t i = 0; i < k->n_uids; i++)
            for (size_t j = 0; j < k->uids[i].sigs.n; j++) {
                const oks_pgp_sig *s = &k->uids[i].sigs.v[j];
                if (!s->has_issuer || memcmp(s->issuer, k->primary.keyid, 8) != 0)
                    third++;
            }
    } else {
        third = st->third_party;
    }
    oks_buf_printf(out,
                   "],\"sks_hash\":\"%s\",\"verified\":%s,\"self_sigs_verified\":%zu,"
                   "\"self_sigs_dropped\":%zu,\"third_party_sigs\":%zu,\"uids_dropped\":%zu,"
                   "\"subkeys_dropped\":%zu,\"packets_dropped\":%zu}\n",
                   hash, verified ? "true" : "false", st->self_verified + st->self_trusted,
                   st->self_dropped, third, st->uids_dropped, st->subkeys_dropped,
                   k->dropped_packets);
}

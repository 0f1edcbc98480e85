/*
 * Signature packet bodies (tag 2): v3, v4 and v6 layouts and the subpackets a keyserver reads
 * (creation and expiry times, issuer key ID and fingerprint, key flags, primary user ID,
 * revocation reason, exportability, embedded signature). Every subpacket length is checked
 * against its area; all pointers in the result borrow from the body.
 */
#include "lib/pgp.h"

#include <string.h>

/* Reads the subpackets of area a[0..n); hashed says which area (creation, expiry and flags count
 * only when hashed; issuer and embedded signature are taken from either). */
static int subpackets(oks_pgp_sig *s, const uint8_t *a, size_t n, bool hashed, size_t off,
                      oks_err *e)
{
    size_t o = 0;
    while (o < n) {
        size_t len;
        uint8_t l0 = a[o];
        if (l0 < 192) {
            len = l0;
            o += 1;
        } else if (l0 < 255) {
            if (n - o < 2)
                goto trunc;
            len = ((size_t)(l0 - 192) << 8) + a[o + 1] + 192;
            o += 2;
        } else {
            if (n - o < 5)
                goto trunc;
            len = oks_be32(a + o + 1);
            o += 5;
        }
        if (len == 0 || len > n - o)
            goto trunc;
        uint8_t type = a[o] & 0x7f;
        const uint8_t *d = a + o + 1;
        size_t dl = len - 1;
        o += len;
        switch (type) {
        case 2:
            if (hashed && dl >= 4)
                s->created = oks_be32(d);
            break;
        case 3:
            if (hashed && dl >= 4)
                s->sig_expires = oks_be32(d);
            break;
        case 4:
            if (hashed && dl >= 1 && d[0] == 0)
                s->exportable = false;
            break;
        case 9:
            if (hashed && dl >= 4) {
                s->key_expires = oks_be32(d);
                s->has_key_expires = true;
            }
            break;
        case 16:
            if (dl >= 8 && (!s->has_issuer || hashed)) {
                memcpy(s->issuer, d, 8);
                s->has_issuer = true;
            }
            break;
        case 25:
            if (hashed && dl >= 1)
                s->primary_uid = d[0] != 0;
            break;
        case 27:
            if (hashed && dl >= 1) {
                s->key_flags = d[0];
                s->has_key_flags = true;
            }
            break;
        case 29:
            if (hashed && dl >= 1) {
                s->revocation_reason = d[0];
                s->has_revocation_reason = true;
            }
            break;
        case 32:
            if (!s->embedded) {
                s->embedded = d;
                s->embedded_len = dl;
            }
            break;
        case 37:
            if (hashed && !s->attested) {
                s->attested = d;
                s->attested_len = dl;
            }
            break;
        case 33:
            if (dl >= 1 && (d[0] == 4 || d[0] == 6) && dl - 1 == (d[0] == 4 ? 20u : 32u) &&
                (!s->issuer_fpr_len || hashed)) {
                s->issuer_fpr_len = (uint8_t)(dl - 1);
                memcpy(s->issuer_fpr, d + 1, dl - 1);
            }
            break;
        default:
            break;
        }
    }
    return 0;
trunc:
    return oks_err_set(e, OKS_E_TRUNCATED, off, "signature subpacket runs past its area");
}

int oks_pgp_sig_parse(const uint8_t *body, size_t len, size_t off, oks_pgp_sig *s, oks_err *e)
{
    memset(s, 0, sizeof *s);
    s->body = body;
    s->len = len;
    s->exportable = true;
    if (len < 1)
        return oks_err_set(e, OKS_E_TRUNCATED, off, "empty signature packet");
    s->version = body[0];
    size_t o;
    if (s->version == 2 || s->version == 3) {
        if (len < 19)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "v3 signature too short");
        if (body[1] != 5)
            return oks_err_set(e, OKS_E_FORMAT, off, "v3 signature hashed length %u, not 5",
                               body[1]);
        s->version = 3;
        s->type = body[2];
        s->created = oks_be32(body + 3);
        memcpy(s->issuer, body + 7, 8);
        s->has_issuer = true;
        s->algo = body[15];
        s->hash_algo = body[16];
        memcpy(s->left16, body + 17, 2);
        o = 19;
    } else if (s->version == 4 || s->version == 6) {
        size_t ll = s->version == 4 ? 2 : 4;
        if (len < 4 + ll)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "v%u signature too short", s->version);
        s->type = body[1];
        s->algo = body[2];
        s->hash_algo = body[3];
        o = 4;
        size_t hl = ll == 2 ? oks_be16(body + o) : oks_be32(body + o);
        o += ll;
        if (hl > len - o)
            return oks_err_set(e, OKS_E_TRUNCATED, off,
                               "hashed subpacket length %zu runs past the signature", hl);
        s->hashed = body + o;
        s->hashed_len = hl;
        int r = subpackets(s, body + o, hl, true, off, e);
        if (r)
            return r;
        o += hl;
        s->hashed_end = o;
        if (len - o < ll)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "unhashed subpacket length missing");
        size_t ul = ll == 2 ? oks_be16(body + o) : oks_be32(body + o);
        o += ll;
        if (ul > len - o)
            return oks_err_set(e, OKS_E_TRUNCATED, off,
                               "unhashed subpacket length %zu runs past the signature", ul);
        s->unhashed_len = ul;
        r = subpackets(s, body + o, ul, false, off, e);
        if (r)
            return r;
        o += ul;
        if (len - o < 2)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "signature ends before left-16 bits");
        memcpy(s->left16, body + o, 2);
        o += 2;
        if (s->version == 6) {
            if (len - o < 1 || len - o - 1 < body[o])
                return oks_err_set(e, OKS_E_TRUNCATED, off, "v6 signature salt truncated");
            s->salt_len = body[o];
            s->salt = body + o + 1;
            o += 1 + s->salt_len;
        }
    } else {
        return oks_err_set(e, OKS_E_UNSUPPORTED, off, "signature version %u", s->version);
    }
    s->mpis = body + o;
    s->mpis_len = len - o;
    return 0;
}

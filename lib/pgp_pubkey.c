/*
 * Public-key packet bodies (tags 6 and 14): version 3, 4 and 6 layouts, algorithm-specific
 * material checked field by field, key size and curve name exactly as gpg prints them, and the
 * v3 / v4 / v6 fingerprints and key IDs. Pure functions over a borrowed body.
 */
#include "lib/pgp.h"

#include <gcrypt.h>
#include <string.h>

typedef struct curve_info {
    const char *oid; /* hex of the OID bytes as they appear in the packet */
    const char *name;
    unsigned bits;
} curve_info;

/* gpg's names and sizes (--with-colons fields 3 and 17) */
static const curve_info curves[] = {
    {"2a8648ce3d030107", "nistp256", 256},
    {"2b81040022", "nistp384", 384},
    {"2b81040023", "nistp521", 521},
    {"2b2403030208010107", "brainpoolP256r1", 256},
    {"2b240303020801010b", "brainpoolP384r1", 384},
    {"2b240303020801010d", "brainpoolP512r1", 512},
    {"2b06010401da470f01", "ed25519", 255},
    {"2b060104019755010501", "cv25519", 255},
    {"2b6570", "ed25519", 255},
    {"2b656e", "cv25519", 255},
    {"2b6571", "ed448", 448},
    {"2b656f", "cv448", 448},
    {"2b8104000a", "secp256k1", 256},
};

static const curve_info *curve_lookup(const uint8_t *oid, size_t len)
{
    char hex[64];
    if (len == 0 || len > 31)
        return NULL;
    oks_hex(hex, oid, len, 0);
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (strcmp(hex, curves[i].oid) == 0)
            return &curves[i];
    return NULL;
}

/* One MPI at *o of m[0..n): checks the bit count against the remaining bytes. Returns the
 * number of significant bits (counted from the bytes, as gpg does), or -1. */
static long mpi_read(const uint8_t *m, size_t n, size_t *o, const uint8_t **mag, size_t *mag_len)
{
    if (n - *o < 2)
        return -1;
    size_t bits = oks_be16(m + *o), bytes = (bits + 7) / 8;
    if (n - *o - 2 < bytes)
        return -1;
    const uint8_t *v = m + *o + 2;
    *o += 2 + bytes;
    if (mag) {
        *mag = v;
        *mag_len = bytes;
    }
    size_t i = 0;
    while (i < bytes && v[i] == 0)
        i++;
    if (i == bytes)
        return 0;
    long b = (long)(bytes - i - 1) * 8;
    for (uint8_t x = v[i]; x; x >>= 1)
        b++;
    return b;
}

static int material_parse(oks_pgp_pubkey *pk, size_t hdr, size_t off, oks_err *e)
{
    const uint8_t *m = pk->material;
    size_t n = pk->material_len, o = 0;
    long bits = 0;
    const curve_info *c;
    switch (pk->algo) {
    case OKS_PGP_RSA:
    case OKS_PGP_RSA_E:
    case OKS_PGP_RSA_S:
        bits = mpi_read(m, n, &o, NULL, NULL);
        if (bits < 0 || mpi_read(m, n, &o, NULL, NULL) < 0)
            goto bad;
        break;
    case OKS_PGP_DSA:
        bits = mpi_read(m, n, &o, NULL, NULL);
        for (int i = 0; i < 3 && bits >= 0; i++)
            if (mpi_read(m, n, &o, NULL, NULL) < 0)
                bits = -1;
        if (bits < 0)
            goto bad;
        break;
    case OKS_PGP_ELGAMAL_E:
    case OKS_PGP_ELGAMAL:
        bits = mpi_read(m, n, &o, NULL, NULL);
        for (int i = 0; i < 2 && bits >= 0; i++)
            if (mpi_read(m, n, &o, NULL, NULL) < 0)
                bits = -1;
        if (bits < 0)
            goto bad;
        break;
    case OKS_PGP_ECDSA:
    case OKS_PGP_ECDH:
    case OKS_PGP_EDDSA:
        if (n < 1 || m[0] == 0 || m[0] == 0xff || n - 1 < m[0])
            goto bad;
        c = curve_lookup(m + 1, m[0]);
        o = 1 + (size_t)m[0];
        if (mpi_read(m, n, &o, NULL, NULL) < 0)
            goto bad;
        if (pk->algo == OKS_PGP_ECDH) {
            if (n - o < 1 || n - o - 1 < m[o])
                goto bad;
            o += 1 + (size_t)m[o];
        }
        pk->curve = c ? c->name : NULL;
        bits = c ? c->bits : 0;
        break;
    case OKS_PGP_X25519:
    case OKS_PGP_ED25519:
        o = 32;
        bits = 255;
        pk->curve = pk->algo == OKS_PGP_X25519 ? "cv25519" : "ed25519";
        break;
    case OKS_PGP_X448:
        o = 56;
        bits = 448;
        pk->curve = "cv448";
        break;
    case OKS_PGP_ED448:
        o = 57;
        bits = 448;
        pk->curve = "ed448";
        break;
    default:
        /* unknown algorithm: kept opaque (its fingerprint is still defined for v4/v6) */
        pk->bits = 0;
        return 0;
    }
    if (o > n)
        goto bad;
    /* v4 material has no length of its own. gpg 2.2 parses the fields it knows, ignores bytes
     * after them, and hashes the key re-encoded from the parsed fields: its fingerprint (and
     * the key its self-signatures cover) leaves those bytes out, so ours does too. The packet
     * is still kept as received (SKS stores and hashes it so). v6 material length was checked
     * by the caller. */
    if (pk->version == 4)
        pk->hashed_len = hdr + o;
    pk->bits = (unsigned)bits;
    return 0;
bad:
    return oks_err_set(e, OKS_E_FORMAT, off, "public-key material of algorithm %u is malformed",
                       pk->algo);
}

int oks_pgp_pubkey_parse(const uint8_t *body, size_t len, uint8_t tag, size_t off,
                         oks_pgp_pubkey *pk, oks_err *e)
{
    memset(pk, 0, sizeof *pk);
    pk->body = body;
    pk->len = len;
    pk->tag = tag;
    if (len < 1)
        return oks_err_set(e, OKS_E_TRUNCATED, off, "empty public-key packet");
    pk->version = body[0];
    size_t hdr;
    switch (pk->version) {
    case 2:
    case 3:
        if (len < 8)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "v3 public-key packet too short");
        pk->created = oks_be32(body + 1);
        pk->v3_days = oks_be16(body + 5);
        pk->algo = body[7];
        hdr = 8;
        if (pk->algo != OKS_PGP_RSA && pk->algo != OKS_PGP_RSA_E && pk->algo != OKS_PGP_RSA_S)
            return oks_err_set(e, OKS_E_UNSUPPORTED, off, "v3 key with non-RSA algorithm %u",
                               pk->algo);
        pk->version = 3;
        break;
    case 4:
        if (len < 6)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "v4 public-key packet too short");
        pk->created = oks_be32(body + 1);
        pk->algo = body[5];
        hdr = 6;
        break;
    case 6:
        if (len < 10)
            return oks_err_set(e, OKS_E_TRUNCATED, off, "v6 public-key packet too short");
        pk->created = oks_be32(body + 1);
        pk->algo = body[5];
        hdr = 10;
        if (oks_be32(body + 6) != len - 10)
            return oks_err_set(e, OKS_E_FORMAT, off,
                               "v6 key material length %u does not match the packet (%zu)",
                               oks_be32(body + 6), len - 10);
        break;
    default:
        return oks_err_set(e, OKS_E_UNSUPPORTED, off, "public-key packet version %u",
                           pk->version);
    }
    pk->material = body + hdr;
    pk->material_len = len - hdr;
    pk->hashed_len = len;
    int r = material_parse(pk, hdr, off, e);
    if (r)
        return r;
    return oks_pgp_fingerprint(pk, e);
}

int oks_pgp_fingerprint(oks_pgp_pubkey *pk, oks_err *e)
{
    gcry_buffer_t iov[2];
    uint8_t pre[5];
    memset(iov, 0, sizeof iov);
    if (pk->version == 3) {
        const uint8_t *nb, *eb;
        size_t nl, el, o = 0;
        if (mpi_read(pk->material, pk->material_len, &o, &nb, &nl) < 0 ||
            mpi_read(pk->material, pk->material_len, &o, &eb, &el) < 0 || nl < 8)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "v3 RSA key material malformed");
        iov[0].data = (void *)nb;
        iov[0].len = nl;
        iov[1].data = (void *)eb;
        iov[1].len = el;
        gcry_md_hash_buffers(GCRY_MD_MD5, 0, pk->fpr, iov, 2);
        pk->fpr_len = 16;
        memcpy(pk->keyid, nb + nl - 8, 8);
        return 0;
    }
    if (pk->version == 4) {
        size_t hl = pk->hashed_len;
        if (hl > 0xffff)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "v4 key packet over 65535 bytes");
        pre[0] = 0x99;
        pre[1] = (uint8_t)(hl >> 8);
        pre[2] = (uint8_t)hl;
        iov[0].data = pre;
        iov[0].len = 3;
        iov[1].data = (void *)pk->body;
        iov[1].len = hl;
        gcry_md_hash_buffers(GCRY_MD_SHA1, 0, pk->fpr, iov, 2);
        pk->fpr_len = 20;
        memcpy(pk->keyid, pk->fpr + 12, 8);
        return 0;
    }
    if (pk->version == 6) {
        pre[0] = 0x9b;
        pre[1] = (uint8_t)(pk->len >> 24);
        pre[2] = (uint8_t)(pk->len >> 16);
        pre[3] = (uint8_t)(pk->len >> 8);
        pre[4] = (uint8_t)pk->len;
        iov[0].data = pre;
        iov[0].len = 5;
        iov[1].data = (void *)pk->body;
        iov[1].len = pk->len;
        gcry_md_hash_buffers(GCRY_MD_SHA256, 0, pk->fpr, iov, 2);
        pk->fpr_len = 32;
        memcpy(pk->keyid, pk->fpr, 8);
        return 0;
    }
    return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "key version %u", pk->version);
}

const char *oks_pgp_algo_name(uint8_t algo)
{
    switch (algo) {
    case OKS_PGP_RSA: return "rsa";
    case OKS_PGP_RSA_E: return "rsa-e";
    case OKS_PGP_RSA_S: return "rsa-s";
    case OKS_PGP_ELGAMAL_E: return "elgamal";
    case OKS_PGP_DSA: return "dsa";
    case OKS_PGP_ECDH: return "ecdh";
    case OKS_PGP_ECDSA: return "ecdsa";
    case OKS_PGP_ELGAMAL: return "elgamal-sign";
    case OKS_PGP_EDDSA: return "eddsa";
    case OKS_PGP_X25519: return "x25519";
    case OKS_PGP_X448: return "x448";
    case OKS_PGP_ED25519: return "ed25519";
    case OKS_PGP_ED448: return "ed448";
    }
    return "unknown";
}

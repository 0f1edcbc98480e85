/*
 * Signature verification: the OpenPGP digest of a signature (v3, v4, v6) over a primary key, a
 * user ID / attribute or a subkey (libgcrypt hashing), the cheap "left 16 bits" check, then the
 * public-key operation for RSA, DSA, ECDSA, EdDSA (legacy and RFC 9580 Ed25519 / Ed448) with
 * libgcrypt — except Ed25519, the commonest algorithm of new keys, which goes through OpenSSL's
 * libcrypto (already linked for hkps): it verifies about 5x faster than libgcrypt 1.10.
 * Pure functions over parsed keys; thread-safe once libgcrypt is initialised.
 */
#include "lib/pgp_verify.h"

#include <gcrypt.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

typedef struct hash_info {
    uint8_t id;
    int gcry;
    /* DER DigestInfo prefix of EMSA-PKCS1-v1_5 (RFC 9580 5.2.2): the RSA frame is built here,
     * since libgcrypt 1.10 has no usable ASN.1 prefix for SHA3 */
    uint8_t der_len;
    uint8_t der[19];
} hash_info;

#define OID_NIST(n) 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n, \
                    0x05, 0x00, 0x04
static const hash_info hashes[] = {
    {1, GCRY_MD_MD5, 18, {0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                          0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10}},
    {2, GCRY_MD_SHA1, 15, {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
                           0x05, 0x00, 0x04, 0x14}},
    {3, GCRY_MD_RMD160, 15, {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x24, 0x03, 0x02, 0x01,
                             0x05, 0x00, 0x04, 0x14}},
    {8, GCRY_MD_SHA256, 19, {0x30, 0x31, OID_NIST(0x01), 0x20}},
    {9, GCRY_MD_SHA384, 19, {0x30, 0x41, OID_NIST(0x02), 0x30}},
    {10, GCRY_MD_SHA512, 19, {0x30, 0x51, OID_NIST(0x03), 0x40}},
    {11, GCRY_MD_SHA224, 19, {0x30, 0x2d, OID_NIST(0x04), 0x1c}},
    {12, GCRY_MD_SHA3_256, 19, {0x30, 0x31, OID_NIST(0x08), 0x20}},
    {14, GCRY_MD_SHA3_512, 19, {0x30, 0x51, OID_NIST(0x0a), 0x40}},
};

static const hash_info *hash_lookup(uint8_t id)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].id == id)
            return &hashes[i];
    return NULL;
}

/* Key packets are hashed framed as 0x99 + BE16 length (v3/v4) or 0x9B + BE32 length (v6). */
static void hash_key(gcry_md_hd_t md, const oks_pgp_pubkey *pk)
{
    uint8_t hdr[5];
    if (pk->version == 6) {
        hdr[0] = 0x9B;
        hdr[1] = (uint8_t)(pk->len >> 24);
        hdr[2] = (uint8_t)(pk->len >> 16);
        hdr[3] = (uint8_t)(pk->len >> 8);
        hdr[4] = (uint8_t)pk->len;
        gcry_md_write(md, hdr, 5);
        gcry_md_write(md, pk->body, pk->len);
    } else {
        /* as the fingerprint: without bytes after the last public field (see hashed_len) */
        hdr[0] = 0x99;
        hdr[1] = (uint8_t)(pk->hashed_len >> 8);
        hdr[2] = (uint8_t)pk->hashed_len;
        gcry_md_write(md, hdr, 3);
        gcry_md_write(md, pk->body, pk->hashed_len);
    }
}

int oks_pgp_sig_digest(const oks_pgp_pubkey *primary, const oks_pgp_uid *uid,
                       const oks_pgp_pubkey *subkey, const oks_pgp_sig *sig, uint8_t *out,
                       size_t *out_len, oks_err *e)
{
    const hash_info *h = hash_lookup(sig->hash_algo);
    if (!h)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "hash algorithm %u",
                           sig->hash_algo);
    if ((primary->hashed_len > 0xFFFF && primary->version != 6) ||
        (subkey && subkey->hashed_len > 0xFFFF && subkey->version != 6))
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "key packet too long to hash");
    if (sig->version == 6) {
        /* RFC 9580 5.2.3 and table 23: the salt size is fixed by the hash algorithm; MD5,
         * SHA-1 and RIPEMD-160 are not allowed in v6 signatures */
        size_t want = h->id == 9 ? 24 : h->id == 10 || h->id == 14 ? 32 : h->id >= 8 ? 16 : 0;
        if (want == 0 || sig->salt_len != want)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "v6 signature: salt of %zu octets for hash algorithm %u",
                               sig->salt_len, sig->hash_algo);
    }
    gcry_md_hd_t md;
    if (gcry_md_open(&md, h->gcry, 0))
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "hash algorithm %u unavailable",
                           sig->hash_algo);
    if (sig->version == 6 && sig->salt_len)
        gcry_md_write(md, sig->salt, sig->salt_len);
    hash_key(md, primary);
    if (subkey)
        hash_key(md, subkey);
    if (uid) {
        if (sig->version >= 4) {
            uint8_t hdr[5] = {uid->tag == OKS_PGP_TAG_UAT ? 0xD1 : 0xB4,
                              (uint8_t)(uid->len >> 24), (uint8_t)(uid->len >> 16),
                              (uint8_t)(uid->len >> 8), (uint8_t)uid->len};
            gcry_md_write(md, hdr, 5);
        }
        gcry_md_write(md, uid->body, uid->len);
    }
    if (sig->version == 3) {
        gcry_md_write(md, sig->body + 2, 5);
    } else {
        gcry_md_write(md, sig->body, sig->hashed_end);
        uint8_t tr[6] = {sig->version, 0xFF, (uint8_t)(sig->hashed_end >> 24),
                         (uint8_t)(sig->hashed_end >> 16), (uint8_t)(sig->hashed_end >> 8),
                         (uint8_t)sig->hashed_end};
        gcry_md_write(md, tr, 6);
    }
    size_t n = gcry_md_get_algo_dlen(h->gcry);
    memcpy(out, gcry_md_read(md, h->gcry), n);
    *out_len = n;
    gcry_md_close(md);
    return 0;
}

int oks_pgp_sig_confirm_digest(const oks_pgp_sig *cert, uint8_t hash_algo, uint8_t *out,
                               size_t *out_len, oks_err *e)
{
    const hash_info *h = hash_lookup(hash_algo);
    if (!h)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "hash algorithm %u", hash_algo);
    if (cert->version != 4 || cert->hashed_end + 2 + cert->unhashed_len > cert->len)
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "only v4 certifications can be attested");
    /* the body as hashed: the unhashed area dropped, its length written as zero */
    size_t tail = cert->hashed_end + 2 + cert->unhashed_len, len = cert->len - cert->unhashed_len;
    gcry_md_hd_t md;
    if (gcry_md_open(&md, h->gcry, 0))
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "hash algorithm %u unavailable",
                           hash_algo);
    uint8_t hdr[5] = {0x88, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    static const uint8_t zero[2] = {0, 0};
    gcry_md_write(md, hdr, 5);
    gcry_md_write(md, cert->body, cert->hashed_end);
    gcry_md_write(md, zero, 2);
    gcry_md_write(md, cert->body + tail, cert->len - tail);
    size_t n = gcry_md_get_algo_dlen(h->gcry);
    memcpy(out, gcry_md_read(md, h->gcry), n);
    *out_len = n;
    gcry_md_close(md);
    return 0;
}

/* Reads one MPI (BE16 bit count + magnitude); the magnitude is returned without leading zero
 * bytes. */
static int mpi_at(const uint8_t *p, size_t n, size_t *o, const uint8_t **v, size_t *vl)
{
    if (n - *o < 2)
        return -1;
    size_t bytes = (oks_be16(p + *o) + 7u) / 8u;
    if (n - *o - 2 < bytes)
        return -1;
    *v = p + *o + 2;
    *vl = bytes;
    *o += 2 + bytes;
    while (*vl > 0 && **v == 0) {
        (*v)++;
        (*vl)--;
    }
    return 0;
}

/* libgcrypt curve name of an OpenPGP curve OID in key material. */
static const char *gcry_curve(const oks_pgp_pubkey *pk, size_t *order_bytes)
{
    static const struct {
        const char *gpg, *gcry;
        size_t order;
    } map[] = {
        {"nistp256", "NIST P-256", 32},           {"nistp384", "NIST P-384", 48},
        {"nistp521", "NIST P-521", 66},           {"brainpoolP256r1", "brainpoolP256r1", 32},
        {"brainpoolP384r1", "brainpoolP384r1", 48}, {"brainpoolP512r1", "brainpoolP512r1", 64},
        {"ed25519", "Ed25519", 32},               {"ed448", "Ed448", 57},
        {"secp256k1", "secp256k1", 32},
    };
    if (!pk->curve)
        return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(pk->curve, map[i].gpg) == 0) {
            *order_bytes = map[i].order;
            return map[i].gcry;
        }
    return NULL;
}

static int build_key(const oks_pgp_pubkey *pk, gcry_sexp_t *out, size_t *order, oks_err *e)
{
    const uint8_t *m = pk->material, *a, *b, *c, *d;
    size_t n = pk->material_len, o = 0, al, bl, cl, dl;
    gcry_error_t ge = 1;
    const char *curve;
    switch (pk->algo) {
    case OKS_PGP_RSA:
    case OKS_PGP_RSA_S:
        if (mpi_at(m, n, &o, &a, &al) || mpi_at(m, n, &o, &b, &bl))
            break;
        /* the check costs time linear in the exponent's length: refuse what no real key uses */
        if (bl * 8 > OKS_PGP_MAX_RSA_EXP_BITS + 7)
            return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                               "RSA public exponent of %zu bytes", bl);
        *order = al; /* modulus length: the size of the PKCS#1 frame */
        ge = gcry_sexp_build(out, NULL, "(public-key(rsa(n %b)(e %b)))", (int)al, a, (int)bl, b);
        break;
    case OKS_PGP_DSA:
        if (mpi_at(m, n, &o, &a, &al) || mpi_at(m, n, &o, &b, &bl) ||
            mpi_at(m, n, &o, &c, &cl) || mpi_at(m, n, &o, &d, &dl))
            break;
        *order = bl;
        ge = gcry_sexp_build(out, NULL, "(public-key(dsa(p %b)(q %b)(g %b)(y %b)))", (int)al, a,
                             (int)bl, b, (int)cl, c, (int)dl, d);
        break;
    case OKS_PGP_ECDSA:
    case OKS_PGP_EDDSA:
        if (!(curve = gcry_curve(pk, order)) || n < 1)
            break;
        o = 1 + (size_t)m[0];
        if (o > n || mpi_at(m, n, &o, &a, &al))
            break;
        if (pk->algo == OKS_PGP_EDDSA)
            ge = gcry_sexp_build(out, NULL, "(public-key(ecc(curve %s)(flags eddsa)(q %b)))", curve,
                                 (int)al, a);
        else
            ge = gcry_sexp_build(out, NULL, "(public-key(ecc(curve %s)(q %b)))", curve, (int)al, a);
        break;
    case OKS_PGP_ED25519:
        if (n < 32)
            break;
        *order = 32;
        ge = gcry_sexp_build(out, NULL, "(public-key(ecc(curve Ed25519)(flags eddsa)(q %b)))", 32,
                             m);
        break;
    case OKS_PGP_ED448:
        if (n < 57)
            break;
        *order = 57;
        ge = gcry_sexp_build(out, NULL, "(public-key(ecc(curve Ed448)(flags eddsa)(q %b)))", 57, m);
        break;
    default:
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "public-key algorithm %u cannot sign", pk->algo);
    }
    if (ge)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "signer key material of algorithm %u",
                           pk->algo);
    return 0;
}

/* r and s of EdDSA are fixed-size strings: left-pad MPI magnitudes. */
static void pad(uint8_t *dst, size_t size, const uint8_t *v, size_t vl)
{
    memset(dst, 0, size);
    if (vl <= size)
        memcpy(dst + size - vl, v, vl);
}

static int build_sig(const oks_pgp_pubkey *signer, const oks_pgp_sig *sig, size_t order,
                     gcry_sexp_t *out, oks_err *e)
{
    const uint8_t *m = sig->mpis, *r, *s;
    size_t n = sig->mpis_len, o = 0, rl, sl;
    gcry_error_t ge = 1;
    uint8_t rb[64], sb[64];
    switch (signer->algo) {
    case OKS_PGP_RSA:
    case OKS_PGP_RSA_S:
        if (mpi_at(m, n, &o, &r, &rl))
            break;
        ge = gcry_sexp_build(out, NULL, "(sig-val(rsa(s %b)))", (int)rl, r);
        break;
    case OKS_PGP_DSA:
    case OKS_PGP_ECDSA:
        if (mpi_at(m, n, &o, &r, &rl) || mpi_at(m, n, &o, &s, &sl))
            break;
        ge = gcry_sexp_build(out, NULL,
                             signer->algo == OKS_PGP_DSA ? "(sig-val(dsa(r %b)(s %b)))"
                                                         : "(sig-val(ecdsa(r %b)(s %b)))",
                             (int)rl, r, (int)sl, s);
        break;
    case OKS_PGP_EDDSA:
        if (mpi_at(m, n, &o, &r, &rl) || mpi_at(m, n, &o, &s, &sl) || rl > 32 || sl > 32)
            break;
        pad(rb, 32, r, rl);
        pad(sb, 32, s, sl);
        ge = gcry_sexp_build(out, NULL, "(sig-val(eddsa(r %b)(s %b)))", 32, rb, 32, sb);
        break;
    case OKS_PGP_ED25519:
    case OKS_PGP_ED448:
        if (n < 2 * order)
            break;
        ge = gcry_sexp_build(out, NULL, "(sig-val(eddsa(r %b)(s %b)))", (int)order, m, (int)order,
                             m + order);
        break;
    default:
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "signature algorithm %u",
                           signer->algo);
    }
    if (ge)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "signature material malformed");
    return 0;
}

/* Ed25519 in both encodings (legacy EdDSA on curve Ed25519: key MPI 0x40||A, r and s as MPIs;
 * RFC 9580 Ed25519: raw A and r||s) through libcrypto. The signed message is the OpenPGP digest.
 * Returns 1 when the signature is not Ed25519 in a form handled here (libgcrypt then decides). */
static int verify_ed25519(const oks_pgp_pubkey *signer, const oks_pgp_sig *sig,
                          const uint8_t *digest, size_t dl, oks_err *e)
{
    uint8_t a[32], rs[64];
    if (signer->algo == OKS_PGP_ED25519) {
        if (signer->material_len < 32 || sig->mpis_len < 64)
            return 1;
        memcpy(a, signer->material, 32);
        memcpy(rs, sig->mpis, 64);
    } else if (signer->algo == OKS_PGP_EDDSA && signer->curve &&
               strcmp(signer->curve, "ed25519") == 0) {
        const uint8_t *m = signer->material, *q, *r, *sv;
        size_t n = signer->material_len, o, ql, rl, sl;
        if (n < 1 || (o = 1 + (size_t)m[0]) > n || mpi_at(m, n, &o, &q, &ql) || ql != 33 ||
            q[0] != 0x40)
            return 1;
        memcpy(a, q + 1, 32);
        o = 0;
        if (mpi_at(sig->mpis, sig->mpis_len, &o, &r, &rl) ||
            mpi_at(sig->mpis, sig->mpis_len, &o, &sv, &sl) || rl > 32 || sl > 32)
            return 1;
        pad(rs, 32, r, rl);
        pad(rs + 32, 32, sv, sl);
    } else {
        return 1;
    }
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc;
    if (!pk || !ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
        rc = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "signer key material of algorithm %u",
                         signer->algo);
    else if (EVP_DigestVerify(ctx, rs, 64, digest, dl) == 1)
        rc = 0;
    else
        rc = oks_err_set(e, OKS_E_BADSIG, OKS_NO_OFFSET, "signature does not verify");
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc;
}

int oks_pgp_sig_verify(const oks_pgp_pubkey *signer, const oks_pgp_pubkey *primary,
                       const oks_pgp_uid *uid, const oks_pgp_pubkey *subkey,
                       const oks_pgp_sig *sig, oks_err *e)
{
    uint8_t digest[64];
    size_t dl;
    if (sig->algo != signer->algo &&
        !(sig->algo == OKS_PGP_RSA && signer->algo == OKS_PGP_RSA_S) &&
        !(sig->algo == OKS_PGP_RSA_S && signer->algo == OKS_PGP_RSA))
        return oks_err_set(e, OKS_E_BADSIG, OKS_NO_OFFSET,
                           "signature algorithm %u does not match the key's %u", sig->algo,
                           signer->algo);
    int rc = oks_pgp_sig_digest(primary, uid, subkey, sig, digest, &dl, e);
    if (rc)
        return rc;
    if (digest[0] != sig->left16[0] || digest[1] != sig->left16[1])
        return oks_err_set(e, OKS_E_BADSIG, OKS_NO_OFFSET, "digest prefix mismatch");
    if ((rc = verify_ed25519(signer, sig, digest, dl, e)) != 1)
        return rc;
    size_t order = 0;
    gcry_sexp_t key = NULL, sv = NULL, data = NULL;
    if ((rc = build_key(signer, &key, &order, e)) || (rc = build_sig(signer, sig, order, &sv, e)))
        goto out;
    const hash_info *h = hash_lookup(sig->hash_algo);
    gcry_error_t ge;
    switch (signer->algo) {
    case OKS_PGP_RSA:
    case OKS_PGP_RSA_S: {
        /* EMSA-PKCS1-v1_5: 00 01 FF..FF 00 DigestInfo digest, as long as the modulus; the
         * verification raises s to e and compares with this frame */
        uint8_t em[2048];
        size_t t = h->der_len + dl;
        if (order > sizeof em || order < t + 11) {
            rc = oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                             "RSA modulus of %zu bytes unsupported", order);
            goto out;
        }
        em[0] = 0x00;
        em[1] = 0x01;
        memset(em + 2, 0xFF, order - t - 3);
        em[order - t - 1] = 0x00;
        memcpy(em + order - t, h->der, h->der_len);
        memcpy(em + order - dl, digest, dl);
        ge = gcry_sexp_build(&data, NULL, "(data(flags raw)(value %b))", (int)order, em);
        break;
    }
    case OKS_PGP_DSA:
    case OKS_PGP_ECDSA: {
        size_t n = order && dl > order ? order : dl;
        ge = gcry_sexp_build(&data, NULL, "(data(flags raw)(value %b))", (int)n, digest);
        break;
    }
    case OKS_PGP_ED448:
        ge = gcry_sexp_build(&data, NULL, "(data(flags eddsa)(hash-algo shake256)(value %b))",
                             (int)dl, digest);
        break;
    default:
        ge = gcry_sexp_build(&data, NULL, "(data(flags eddsa)(hash-algo sha512)(value %b))",
                             (int)dl, digest);
    }
    if (ge) {
        rc = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "cannot build digest");
        goto out;
    }
    ge = gcry_pk_verify(sv, data, key);
    if (gcry_err_code(ge) == GPG_ERR_BAD_SIGNATURE)
        rc = oks_err_set(e, OKS_E_BADSIG, OKS_NO_OFFSET, "signature does not verify");
    else if (ge)
        rc = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "cannot verify: %s", gcry_strerror(ge));
out:
    gcry_sexp_release(key);
    gcry_sexp_release(sv);
    gcry_sexp_release(data);
    return rc;
}

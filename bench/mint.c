/* Synthetic OpenPGP keys for the benchmarks, deterministic from a seed: the Ed25519 and
 * X25519 secrets come from a SHA-512 counter stream keyed by (seed, index), not from
 * gcry_pk_genkey; Ed25519 signatures are deterministic, v6 salts come from the stream.
 * v4: EdDSA legacy (22) + ECDH cv25519 (18); v6: Ed25519 (27) + X25519 (25), RFC 9580. */
#include "bench/mint.h"

#include <gcrypt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "lib/pgp.h"

#define HASH_ALGO 10 /* SHA-512 for every signature */
#define SIG_CERT_POSITIVE 0x13
#define SIG_CERT_GENERIC 0x10
#define SIG_SUBKEY_BINDING 0x18
#define SIG_DIRECT_KEY 0x1f

static const uint8_t OID_ED25519[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01};
static const uint8_t OID_CV25519[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                      0x97, 0x55, 0x01, 0x05, 0x01};

static const char *const FIRST[] = {
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Karin", "Lukas", "Maria", "Nils", "Olga", "Pedro", "Quentin", "Rosa", "Stefan", "Tanja",
    "Ulrich", "Vera", "Walter", "Xenia", "Yusuf", "Zoe", "Amir", "Brigitte", "Chen", "Dmitri",
    "Emma", "Farid", "Hannah", "Ivan", "Julia", "Kenji", "Lea", "Mohammed", "Noah", "Priya"};
static const char *const LAST[] = {
    "Schmidt", "Garcia", "Nguyen", "Rossi", "Kowalski", "Dubois", "Jensen", "Novak", "Silva",
    "Yamamoto", "Fischer", "Martin", "Okafor", "Petrov", "Larsen", "Moreau", "Weber", "Costa",
    "Kim", "Hansen", "Becker", "Lopez", "Ivanova", "Schulz", "Bauer", "Meyer", "Horvat",
    "Andersson", "Murphy", "Walsh"};
static const char *const DOMAIN[] = {"example.org", "example.com", "example.net",
                                     "mail.example.org", "dev.example.com", "lists.example.net"};
static const char *const ROLE[] = {"", " (work)", " (personal)", " (release signing)"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- deterministic stream ---------------------------------------------------------------- */

typedef struct stream {
    uint8_t key[32];
    uint32_t ctr;
    uint8_t block[64];
    size_t pos;
} stream;

static void stream_init(stream *s, const char *seed, uint32_t index, const char *label)
{
    gcry_md_hd_t h;
    uint8_t be[4] = {(uint8_t)(index >> 24), (uint8_t)(index >> 16), (uint8_t)(index >> 8),
                     (uint8_t)index};
    gcry_md_open(&h, GCRY_MD_SHA256, 0);
    gcry_md_write(h, "oks-bench mint\0", 15);
    gcry_md_write(h, seed, strlen(seed) + 1);
    gcry_md_write(h, be, 4);
    gcry_md_write(h, label, strlen(label));
    memcpy(s->key, gcry_md_read(h, GCRY_MD_SHA256), 32);
    gcry_md_close(h);
    s->ctr = 0;
    s->pos = sizeof(s->block);
}

static void stream_bytes(stream *s, uint8_t *out, size_t n)
{
    while (n) {
        if (s->pos == sizeof(s->block)) {
            uint8_t in[36];
            memcpy(in, s->key, 32);
            in[32] = (uint8_t)(s->ctr >> 24);
            in[33] = (uint8_t)(s->ctr >> 16);
            in[34] = (uint8_t)(s->ctr >> 8);
            in[35] = (uint8_t)s->ctr;
            s->ctr++;
            gcry_md_hash_buffer(GCRY_MD_SHA512, s->block, in, sizeof(in));
            s->pos = 0;
        }
        size_t k = sizeof(s->block) - s->pos;
        if (k > n)
            k = n;
        memcpy(out, s->block + s->pos, k);
        s->pos += k;
        out += k;
        n -= k;
    }
}

static uint32_t stream_u32(stream *s)
{
    uint8_t b[4];
    stream_bytes(s, b, 4);
    return oks_be32(b);
}

/* ---- key material ------------------------------------------------------------------------ */

/* Ed25519 and X25519 through OpenSSL's libcrypto (about five times libgcrypt 1.10's rate;
 * both are deterministic, so the keys are the same bytes whichever library makes them). */
static int ed25519_public(const uint8_t secret[32], uint8_t pub[32], oks_err *e)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, 32);
    size_t n = 32;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32;
    EVP_PKEY_free(k);
    return ok ? 0
              : oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                            "libcrypto could not derive an Ed25519 public key");
}

static int x25519_public(const uint8_t secret[32], uint8_t pub[32], oks_err *e)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, 32);
    size_t n = 32;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32;
    EVP_PKEY_free(k);
    return ok ? 0 : oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "libcrypto X25519 failed");
}

/* r||s (64 bytes) of an Ed25519 signature over msg. */
static int ed25519_sign(const uint8_t secret[32], const uint8_t pub[32], const uint8_t *msg,
                        size_t len, uint8_t sig[64], oks_err *e)
{
    (void)pub;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 64;
    int ok = k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == 64;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return ok ? 0 : oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "libcrypto Ed25519 signing failed");
}

/* Appends an MPI of the big-endian bytes p (leading zeros stripped). */
static int put_mpi(oks_buf *b, const uint8_t *p, size_t n)
{
    while (n && *p == 0) {
        p++;
        n--;
    }
    unsigned bits = n ? (unsigned)(n - 1) * 8 : 0;
    if (n)
        for (uint8_t c = p[0]; c; c >>= 1)
            bits++;
    if (oks_buf_put_be16(b, (uint16_t)bits) < 0)
        return OKS_E_NOMEM;
    return oks_buf_append(b, p, n);
}

/* Public key packet body. v4: 22/18 with OIDs and 0x40-prefixed points; v6: 27/25 raw. */
static int key_body(oks_buf *b, uint8_t version, bool subkey, uint32_t created,
                    const uint8_t pub[32], const bench_rsa_key *rsa)
{
    int rc = oks_buf_putc(b, version);
    rc |= oks_buf_put_be32(b, created);
    if (rsa) { /* v4 RSA primary */
        rc |= oks_buf_putc(b, 1);
        rc |= put_mpi(b, rsa->n, rsa->n_len);
        rc |= put_mpi(b, rsa->e, rsa->e_len);
        return rc ? OKS_E_NOMEM : 0;
    }
    if (version == 6) {
        rc |= oks_buf_putc(b, subkey ? 25 : 27);
        rc |= oks_buf_put_be32(b, 32);
        rc |= oks_buf_append(b, pub, 32);
        return rc ? OKS_E_NOMEM : 0;
    }
    uint8_t point[33];
    point[0] = 0x40;
    memcpy(point + 1, pub, 32);
    if (subkey) {
        static const uint8_t kdf[] = {3, 1, 8, 7}; /* SHA-256, AES-128 */
        rc |= oks_buf_putc(b, 18);
        rc |= oks_buf_putc(b, sizeof(OID_CV25519));
        rc |= oks_buf_append(b, OID_CV25519, sizeof(OID_CV25519));
        rc |= put_mpi(b, point, 33);
        rc |= oks_buf_append(b, kdf, sizeof(kdf));
    } else {
        rc |= oks_buf_putc(b, 22);
        rc |= oks_buf_putc(b, sizeof(OID_ED25519));
        rc |= oks_buf_append(b, OID_ED25519, sizeof(OID_ED25519));
        rc |= put_mpi(b, point, 33);
    }
    return rc ? OKS_E_NOMEM : 0;
}

/* Feeds the key's hashing prefix (0x99 + 2-byte length, or 0x9B + 4-byte length) and body. */
static void hash_key(gcry_md_hd_t h, uint8_t version, const oks_buf *body)
{
    uint8_t pre[5];
    size_t n;
    if (version == 6) {
        pre[0] = 0x9b;
        pre[1] = (uint8_t)(body->len >> 24);
        pre[2] = (uint8_t)(body->len >> 16);
        pre[3] = (uint8_t)(body->len >> 8);
        pre[4] = (uint8_t)body->len;
        n = 5;
    } else {
        pre[0] = 0x99;
        pre[1] = (uint8_t)(body->len >> 8);
        pre[2] = (uint8_t)body->len;
        n = 3;
    }
    gcry_md_write(h, pre, n);
    gcry_md_write(h, body->data, body->len);
}

static void fingerprint(uint8_t version, const oks_buf *body, uint8_t *fpr)
{
    gcry_md_hd_t h;
    int algo = version == 6 ? GCRY_MD_SHA256 : GCRY_MD_SHA1;
    gcry_md_open(&h, algo, 0);
    hash_key(h, version, body);
    memcpy(fpr, gcry_md_read(h, algo), version == 6 ? 32 : 20);
    gcry_md_close(h);
}

static int subpacket(oks_buf *b, uint8_t type, const uint8_t *data, size_t n)
{
    int rc = oks_buf_putc(b, (uint8_t)(n + 1)); /* every subpacket here is < 191 bytes */
    rc |= oks_buf_putc(b, type);
    rc |= oks_buf_append(b, data, n);
    return rc ? OKS_E_NOMEM : 0;
}

/* What one signature covers and who makes it. */
typedef struct sig_req {
    uint8_t type;
    uint32_t created;
    const bench_mint_primary *signer;
    uint8_t target_version;          /* version of the certified key (hash prefix) */
    const oks_buf *primary_body;     /* target primary key body */
    const oks_buf *subkey_body;      /* 0x18 only */
    const uint8_t *uid;              /* 0x10/0x13 only */
    size_t uid_len;
    uint8_t key_flags;               /* 0: no key flags subpacket */
    bool prefs;                      /* preferences + features (self-signatures on the primary) */
} sig_req;

static int make_sig(const sig_req *r, const bench_mint_opts *opts, stream *st, oks_buf *out,
                    oks_err *e)
{
    const bench_mint_primary *s = r->signer;
    uint8_t v = s->version;
    oks_buf hashed, body;
    oks_buf_init(&hashed);
    oks_buf_init(&body);
    uint8_t t[4] = {(uint8_t)(r->created >> 24), (uint8_t)(r->created >> 16),
                    (uint8_t)(r->created >> 8), (uint8_t)r->created};
    uint8_t ifp[33];
    ifp[0] = v;
    memcpy(ifp + 1, s->fpr, v == 6 ? 32 : 20);
    int rc = subpacket(&hashed, 2, t, 4);
    rc |= subpacket(&hashed, 33, ifp, v == 6 ? 33 : 21);
    if (r->key_flags)
        rc |= subpacket(&hashed, 27, &r->key_flags, 1);
    if (r->prefs) {
        static const uint8_t sym[] = {9, 8, 7}, hash[] = {10, 9, 8}, zip[] = {2, 3, 1};
        static const uint8_t feat = 0x01 | 0x08; /* SEIPD v1 and v2 */
        rc |= subpacket(&hashed, 11, sym, sizeof(sym));
        rc |= subpacket(&hashed, 21, hash, sizeof(hash));
        if (v == 4)
            rc |= subpacket(&hashed, 22, zip, sizeof(zip));
        rc |= subpacket(&hashed, 30, &feat, 1);
    }
    /* signature fields up to the end of the hashed area */
    rc |= oks_buf_putc(&body, v);
    rc |= oks_buf_putc(&body, r->type);
    rc |= oks_buf_putc(&body, s->algo == 1 ? 1 : v == 6 ? 27 : 22);
    rc |= oks_buf_putc(&body, HASH_ALGO);
    if (v == 6)
        rc |= oks_buf_put_be32(&body, (uint32_t)hashed.len);
    else
        rc |= oks_buf_put_be16(&body, (uint16_t)hashed.len);
    rc |= oks_buf_append(&body, hashed.data, hashed.len);
    if (rc) {
        rc = OKS_E_NOMEM;
        goto done;
    }
    size_t hashed_part = body.len;

    uint8_t salt[32];
    gcry_md_hd_t h;
    gcry_md_open(&h, GCRY_MD_SHA512, 0);
    if (v == 6) {
        stream_bytes(st, salt, sizeof(salt));
        gcry_md_write(h, salt, sizeof(salt));
    }
    hash_key(h, r->target_version, r->primary_body);
    if (r->type == SIG_SUBKEY_BINDING)
        hash_key(h, r->target_version, r->subkey_body);
    if (r->uid) {
        uint8_t pre[5] = {0xb4, (uint8_t)(r->uid_len >> 24), (uint8_t)(r->uid_len >> 16),
                          (uint8_t)(r->uid_len >> 8), (uint8_t)r->uid_len};
        gcry_md_write(h, pre, 5);
        gcry_md_write(h, r->uid, r->uid_len);
    }
    gcry_md_write(h, body.data, hashed_part);
    uint8_t trailer[6] = {v, 0xff, (uint8_t)(hashed_part >> 24), (uint8_t)(hashed_part >> 16),
                          (uint8_t)(hashed_part >> 8), (uint8_t)hashed_part};
    gcry_md_write(h, trailer, 6);
    uint8_t digest[64];
    memcpy(digest, gcry_md_read(h, GCRY_MD_SHA512), 64);
    gcry_md_close(h);

    uint8_t sig[64];
    if (s->algo == 1) {
        rc = oks_buf_put_be16(&body, 10);
        rc |= subpacket(&body, 16, s->fpr + 12, 8);
        rc |= oks_buf_append(&body, digest, 2);
        if (rc == 0)
            rc = bench_rsa_sign_mpi(&opts->rsa->keys[s->rsa_idx], digest, &body, e);
        goto packet;
    }
    rc = ed25519_sign(s->secret, s->pub, digest, sizeof(digest), sig, e);
    if (rc)
        goto done;
    if (v == 6) {
        rc = oks_buf_put_be32(&body, 0); /* no unhashed subpackets */
        rc |= oks_buf_append(&body, digest, 2);
        rc |= oks_buf_putc(&body, sizeof(salt));
        rc |= oks_buf_append(&body, salt, sizeof(salt));
        rc |= oks_buf_append(&body, sig, 64);
    } else {
        const uint8_t *keyid = s->fpr + 12;
        rc = oks_buf_put_be16(&body, 10);
        rc |= subpacket(&body, 16, keyid, 8);
        rc |= oks_buf_append(&body, digest, 2);
        rc |= put_mpi(&body, sig, 32);
        rc |= put_mpi(&body, sig + 32, 32);
    }
packet:
    if (rc)
        goto done;
    rc |= oks_pgp_packet_write(out, 2, body.data, body.len, v == 6);
    if (rc)
        rc = OKS_E_NOMEM;
done:
    if (rc == OKS_E_NOMEM)
        oks_err_set(e, rc, OKS_NO_OFFSET, "out of memory minting a signature");
    oks_buf_release(&hashed);
    oks_buf_release(&body);
    return rc;
}

static int make_uid(stream *st, uint32_t index, unsigned n, const char *first, const char *last,
                    char *uid, size_t size, char *email, size_t esize)
{
    const char *domain = DOMAIN[stream_u32(st) % N_OF(DOMAIN)];
    const char *role = n == 0 ? "" : ROLE[1 + stream_u32(st) % (N_OF(ROLE) - 1)];
    /* the index keeps e-mail addresses unique across the whole minted set */
    int k = n == 0 ? snprintf(email, esize, "%c%c.%c%c%s.%u@%s", first[0] | 0x20, first[1],
                              last[0] | 0x20, last[1], last + 2, index, domain)
                   : snprintf(email, esize, "%c%s.%u.%u@%s", first[0] | 0x20, first + 1,
                              index, n, domain);
    if (k < 0 || (size_t)k >= esize)
        return OKS_E_LIMIT;
    /* lower-case the whole address */
    for (char *c = email; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c |= 0x20;
    k = snprintf(uid, size, "%s %s%s <%s>", first, last, role, email);
    return k < 0 || (size_t)k >= size ? OKS_E_LIMIT : 0;
}

/* Version, creation time, Ed25519 secret and public key, fingerprint: the first draws of the
 * key's stream (bench_mint_one continues from there). */
static int derive_primary(const bench_mint_opts *opts, uint32_t index, stream *st,
                          bench_mint_primary *p, oks_err *e)
{
    memset(p, 0, sizeof(*p));
    double u = (stream_u32(st) % 1000000) / 1000000.0;
    p->version = u < opts->v6_ratio ? 6 : 4;
    /* creation times spread over 2015..2025 */
    p->created = 1420070400u + stream_u32(st) % (11u * 365 * 86400);
    stream_bytes(st, p->secret, 32);
    const bench_rsa_key *rsa = NULL;
    if (opts->rsa_ratio > 0 && opts->rsa && opts->rsa->count &&
        (stream_u32(st) % 1000000) / 1000000.0 < opts->rsa_ratio) {
        p->algo = 1;
        p->version = 4;
        p->rsa_idx = index % (uint32_t)opts->rsa->count;
        rsa = &opts->rsa->keys[p->rsa_idx];
    }
    int rc = ed25519_public(p->secret, p->pub, e);
    if (rc)
        return rc;
    oks_buf body;
    oks_buf_init(&body);
    rc = key_body(&body, p->version, false, p->created, p->pub, rsa);
    if (rc == 0)
        fingerprint(p->version, &body, p->fpr);
    else
        oks_err_set(e, rc, OKS_NO_OFFSET, "out of memory minting a key");
    oks_buf_release(&body);
    return rc;
}

int bench_mint_derive_primary(const bench_mint_opts *opts, uint32_t index,
                              bench_mint_primary *p, oks_err *e)
{
    stream st;
    stream_init(&st, opts->seed, index, "key");
    return derive_primary(opts, index, &st, p, e);
}

int bench_mint_one(const bench_mint_opts *opts, uint32_t index,
                   const bench_mint_primary *earlier, oks_buf *out, bench_mint_key *key,
                   oks_err *e)
{
    stream st;
    stream_init(&st, opts->seed, index, "key");
    bench_mint_primary *p = &key->primary;
    memset(key, 0, sizeof(*key));
    int rc = derive_primary(opts, index, &st, p, e);
    if (rc)
        return rc;

    uint8_t sub_secret[32], sub_pub[32];
    stream_bytes(&st, sub_secret, 32);
    sub_secret[0] &= 248; /* X25519 clamping */
    sub_secret[31] &= 127;
    sub_secret[31] |= 64;
    if ((rc = x25519_public(sub_secret, sub_pub, e)) != 0)
        return rc;
    uint32_t sub_created = p->created + stream_u32(&st) % 86400;

    oks_buf pbody, sbody;
    oks_buf_init(&pbody);
    oks_buf_init(&sbody);
    rc = key_body(&pbody, p->version, false, p->created, p->pub,
                  p->algo == 1 ? &opts->rsa->keys[p->rsa_idx] : NULL);
    if (rc == 0)
        rc = key_body(&sbody, p->version, true, sub_created, sub_pub, NULL);
    if (rc) {
        oks_err_set(e, rc, OKS_NO_OFFSET, "out of memory minting a key");
        goto done;
    }
    oks_hex(key->fpr_hex, p->fpr, p->version == 6 ? 32 : 20, 1);
    key->fpr_hex[p->version == 6 ? 64 : 40] = '\0';

    bool v6 = p->version == 6;
    rc = oks_pgp_packet_write(out, 6, pbody.data, pbody.len, v6) ? OKS_E_NOMEM : 0;
    sig_req r = {.created = p->created, .signer = p, .target_version = p->version,
                 .primary_body = &pbody, .key_flags = 0x03, .prefs = true};
    if (rc == 0 && v6) {
        r.type = SIG_DIRECT_KEY;
        rc = make_sig(&r, opts, &st, out, e);
    }
    const char *first = FIRST[stream_u32(&st) % N_OF(FIRST)];
    const char *last = LAST[stream_u32(&st) % N_OF(LAST)];
    unsigned span = opts->uids_max - opts->uids_min + 1;
    unsigned nuids = opts->uids_min + stream_u32(&st) % span;
    for (unsigned i = 0; rc == 0 && i < nuids; i++) {
        char uid[256], email[96];
        rc = make_uid(&st, index, i, first, last, uid, sizeof(uid), email, sizeof(email));
        if (rc) {
            oks_err_set(e, rc, OKS_NO_OFFSET, "user ID too long");
            break;
        }
        if (i == 0)
            memcpy(key->email, email, sizeof(key->email));
        size_t ulen = strlen(uid);
        if (oks_pgp_packet_write(out, 13, (const uint8_t *)uid, ulen, v6)) {
            rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
            break;
        }
        r.type = SIG_CERT_POSITIVE;
        r.signer = p;
        r.uid = (const uint8_t *)uid;
        r.uid_len = ulen;
        r.created = p->created + i;
        r.key_flags = 0x03;
        r.prefs = true;
        rc = make_sig(&r, opts, &st, out, e);
        /* third-party certifications on the first user ID, from earlier keys of the same
         * version (a key signs with its own signature version) */
        for (unsigned c = 0; rc == 0 && i == 0 && c < opts->certs && earlier && index > 0;
             c++) {
            const bench_mint_primary *signer = NULL;
            for (unsigned tries = 0; tries < 8 && !signer; tries++) {
                const bench_mint_primary *cand = &earlier[stream_u32(&st) % index];
                if (cand->version == p->version)
                    signer = cand;
            }
            if (!signer)
                continue;
            sig_req c3 = r;
            c3.type = SIG_CERT_GENERIC;
            c3.signer = signer;
            c3.created = p->created + 3600 + c;
            c3.key_flags = 0;
            c3.prefs = false;
            rc = make_sig(&c3, opts, &st, out, e);
        }
    }
    if (rc == 0 && oks_pgp_packet_write(out, 14, sbody.data, sbody.len, v6))
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (rc == 0) {
        sig_req b = {.type = SIG_SUBKEY_BINDING, .created = sub_created, .signer = p,
                     .target_version = p->version, .primary_body = &pbody,
                     .subkey_body = &sbody, .key_flags = 0x0c};
        rc = make_sig(&b, opts, &st, out, e);
    }
done:
    oks_buf_release(&pbody);
    oks_buf_release(&sbody);
    return rc;
}

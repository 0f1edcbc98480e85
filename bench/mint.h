/* Deterministic minting of synthetic OpenPGP keys (v4 and v6, Ed25519 primary + X25519
 * subkey) for the benchmarks: same seed and index, same bytes. */
#ifndef OKS_BENCH_MINT_H
#define OKS_BENCH_MINT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "bench/rsa_pool.h"

#define BENCH_MINT_MAX_UIDS 3

typedef struct bench_mint_opts {
    const char *seed;   /* any string */
    double v6_ratio;    /* 0..1: share of v6 keys */
    unsigned uids_min;  /* 1..3 */
    unsigned uids_max;  /* uids_min..3 */
    unsigned certs;     /* third-party certifications per key (from earlier keys, same version) */
    double rsa_ratio;   /* 0..1: share of v4 keys with an RSA primary from the pool */
    const bench_rsa_pool *rsa; /* needed when rsa_ratio > 0 */
} bench_mint_opts;

/* What later keys need of an earlier one to certify it. */
typedef struct bench_mint_primary {
    uint8_t version;    /* 4 or 6 */
    uint8_t algo;       /* 0: Ed25519; 1: RSA from the pool (v4 only) */
    uint32_t rsa_idx;   /* pool entry: key index modulo the pool size */
    uint8_t secret[32]; /* Ed25519 secret */
    uint8_t pub[32];
    uint32_t created;
    uint8_t fpr[32];    /* 20 bytes for v4 */
} bench_mint_primary;

/* One minted key: the transferable public key, its fingerprint (hex) and first e-mail. */
typedef struct bench_mint_key {
    bench_mint_primary primary;
    char fpr_hex[65];
    char email[96];
} bench_mint_key;

/* Mints key number `index` and appends its packets to out. `earlier` holds keys 0..index-1
 * (their primary part) for third-party certifications; may be NULL when opts->certs is 0.
 * Needs libgcrypt initialised. */
int bench_mint_one(const bench_mint_opts *opts, uint32_t index,
                   const bench_mint_primary *earlier, oks_buf *out, bench_mint_key *key,
                   oks_err *e);

/* Only the primary part of key `index` (what a certifier needs): cheaper than minting it. */
int bench_mint_derive_primary(const bench_mint_opts *opts, uint32_t index,
                              bench_mint_primary *p, oks_err *e);

#endif

/* A file-backed pool of RSA secret keys for oks-bench mint: RSA key generation is slow, so keys
 * are generated once, appended to the pool file (one canonical S-expression in hex per line)
 * and reused by later runs. Minted RSA keys are deterministic given the same pool file. */
#ifndef OKS_BENCH_RSA_POOL_H
#define OKS_BENCH_RSA_POOL_H

#include <gcrypt.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define BENCH_RSA_POOL_MAX 4096

typedef struct bench_rsa_key {
    gcry_sexp_t secret;     /* (private-key (rsa ...)) */
    uint8_t *n, *e;         /* big-endian public values */
    size_t n_len, e_len;
} bench_rsa_key;

typedef struct bench_rsa_pool {
    bench_rsa_key *keys;
    size_t count;
    unsigned bits;
} bench_rsa_pool;

/* Loads the keys of `bits` from path and generates (and appends) keys until there are `want`.
 * A missing file is created. */
int bench_rsa_pool_load(bench_rsa_pool *pool, const char *path, unsigned bits, size_t want,
                        oks_err *e);
void bench_rsa_pool_free(bench_rsa_pool *pool);

/* PKCS#1 v1.5 signature over a SHA-512 digest; appends the signature MPI to out. */
int bench_rsa_sign_mpi(const bench_rsa_key *k, const uint8_t digest[64], oks_buf *out,
                       oks_err *e);

#endif

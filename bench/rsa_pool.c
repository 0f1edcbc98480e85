/* RSA key pool for oks-bench mint (see rsa_pool.h). */
#include "bench/rsa_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mpi_bytes(gcry_sexp_t key, const char *name, uint8_t **out, size_t *len)
{
    gcry_sexp_t t = gcry_sexp_find_token(key, name, 0);
    gcry_mpi_t m = t ? gcry_sexp_nth_mpi(t, 1, GCRYMPI_FMT_USG) : NULL;
    gcry_sexp_release(t);
    if (!m)
        return -1;
    int rc = gcry_mpi_aprint(GCRYMPI_FMT_USG, out, len, m) ? -1 : 0;
    gcry_mpi_release(m);
    return rc;
}

static int pool_add(bench_rsa_pool *pool, gcry_sexp_t secret)
{
    bench_rsa_key k = {.secret = secret};
    if (mpi_bytes(secret, "n", &k.n, &k.n_len) || mpi_bytes(secret, "e", &k.e, &k.e_len) ||
        k.n_len * 8 < pool->bits - 7 || k.n_len * 8 > pool->bits) {
        gcry_free(k.n);
        gcry_free(k.e);
        gcry_sexp_release(secret);
        return 1; /* another size, or not RSA: skipped */
    }
    bench_rsa_key *nk = realloc(pool->keys, (pool->count + 1) * sizeof(*nk));
    if (!nk) {
        gcry_free(k.n);
        gcry_free(k.e);
        gcry_sexp_release(secret);
        return -1;
    }
    pool->keys = nk;
    pool->keys[pool->count++] = k;
    return 0;
}

int bench_rsa_pool_load(bench_rsa_pool *pool, const char *path, unsigned bits, size_t want,
                        oks_err *e)
{
    memset(pool, 0, sizeof(*pool));
    pool->bits = bits;
    if (bits != 2048 && bits != 3072)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "RSA size must be 2048 or 3072");
    if (want > BENCH_RSA_POOL_MAX)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "RSA pool over %d keys",
                           BENCH_RSA_POOL_MAX);
    FILE *f = fopen(path, "r");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (pool->count < want && (n = getline(&line, &cap, f)) > 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n == 0 || n % 2)
                continue;
            uint8_t *raw = malloc((size_t)n / 2);
            gcry_sexp_t s = NULL;
            if (raw && oks_unhex(raw, line, (size_t)n / 2) == 0 &&
                gcry_sexp_new(&s, raw, (size_t)n / 2, 1) == 0 && pool_add(pool, s) < 0) {
                free(raw);
                free(line);
                fclose(f);
                return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
            }
            free(raw);
        }
        free(line);
        fclose(f);
    }
    if (pool->count >= want)
        return 0;
    f = fopen(path, "a");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot write the RSA pool %s", path);
    fprintf(stderr, "oks-bench: generating %zu RSA-%u keys into %s\n", want - pool->count, bits,
            path);
    while (pool->count < want) {
        gcry_sexp_t parms = NULL, kp = NULL, sk = NULL;
        char spec[64];
        snprintf(spec, sizeof(spec), "(genkey(rsa(nbits %u:%u)))", bits >= 1000 ? 4 : 3, bits);
        if (gcry_sexp_new(&parms, spec, 0, 1) || gcry_pk_genkey(&kp, parms) ||
            !(sk = gcry_sexp_find_token(kp, "private-key", 0))) {
            gcry_sexp_release(parms);
            gcry_sexp_release(kp);
            fclose(f);
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "RSA key generation failed");
        }
        gcry_sexp_release(parms);
        gcry_sexp_release(kp);
        size_t len = gcry_sexp_sprint(sk, GCRYSEXP_FMT_CANON, NULL, 0);
        uint8_t *raw = malloc(len);
        char *hex = malloc(len * 2 + 1);
        if (!raw || !hex) {
            free(raw);
            free(hex);
            gcry_sexp_release(sk);
            fclose(f);
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        }
        gcry_sexp_sprint(sk, GCRYSEXP_FMT_CANON, raw, len);
        oks_hex(hex, raw, len, 0);
        hex[len * 2] = '\0';
        fprintf(f, "%s\n", hex);
        free(raw);
        free(hex);
        if (pool_add(pool, sk) < 0) {
            fclose(f);
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        }
    }
    if (fclose(f) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot write the RSA pool %s", path);
    return 0;
}

void bench_rsa_pool_free(bench_rsa_pool *pool)
{
    for (size_t i = 0; i < pool->count; i++) {
        gcry_sexp_release(pool->keys[i].secret);
        gcry_free(pool->keys[i].n);
        gcry_free(pool->keys[i].e);
    }
    free(pool->keys);
    memset(pool, 0, sizeof(*pool));
}

int bench_rsa_sign_mpi(const bench_rsa_key *k, const uint8_t digest[64], oks_buf *out,
                       oks_err *e)
{
    gcry_sexp_t data = NULL, sig = NULL, s = NULL;
    gcry_mpi_t m = NULL;
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = OKS_E_FORMAT;
    if (gcry_sexp_build(&data, NULL, "(data(flags pkcs1)(hash sha512 %b))", 64, digest) == 0 &&
        gcry_pk_sign(&sig, data, k->secret) == 0 && (s = gcry_sexp_find_token(sig, "s", 0)) &&
        (m = gcry_sexp_nth_mpi(s, 1, GCRYMPI_FMT_USG)) &&
        gcry_mpi_aprint(GCRYMPI_FMT_USG, &raw, &len, m) == 0) {
        unsigned bits = gcry_mpi_get_nbits(m);
        size_t skip = 0;
        while (skip < len && raw[skip] == 0)
            skip++;
        rc = oks_buf_put_be16(out, (uint16_t)bits) || oks_buf_append(out, raw + skip, len - skip)
                 ? OKS_E_NOMEM
                 : 0;
    }
    gcry_free(raw);
    gcry_mpi_release(m);
    gcry_sexp_release(s);
    gcry_sexp_release(sig);
    gcry_sexp_release(data);
    if (rc)
        oks_err_set(e, rc, OKS_NO_OFFSET, "RSA signature failed");
    return rc;
}

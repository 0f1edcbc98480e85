/* oks-bench mint: writes N minted keys as one keyring (binary or armored) or as an SKS-style
 * dump folder of *.pgp files, plus an optional list "fingerprint e-mail" per key. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench.h"
#include "bench/mint.h"
#include "lib/pgp.h"

#define MINT_MAX_COUNT 100000000u
#define MINT_MAX_THREADS 64
#define BATCH 64

/* One thread's share of a round: keys first..first+n-1 into out (ends[j]: end of key j). */
typedef struct worker {
    pthread_t th;
    const bench_mint_opts *o;
    bench_mint_primary *prim;
    unsigned long first, count;
    unsigned n, stride;
    bool primaries_only;
    oks_buf out;
    size_t ends[BATCH];
    bench_mint_key keys[BATCH];
    int rc;
    bool started;
    char err[320];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    oks_err e;
    w->out.len = 0;
    if (w->primaries_only) { /* every stride-th key from first */
        for (unsigned long i = w->first; i < w->count && w->rc == 0; i += w->stride)
            if (bench_mint_derive_primary(w->o, (uint32_t)i, &w->prim[i], &e) != 0) {
                w->rc = -1;
                snprintf(w->err, sizeof(w->err), "key %lu: %s", i, e.msg);
            }
        return NULL;
    }
    for (unsigned j = 0; j < w->n && w->rc == 0; j++) {
        unsigned long i = w->first + j;
        if (bench_mint_one(w->o, (uint32_t)i, w->prim, &w->out, &w->keys[j], &e) != 0) {
            w->rc = -1;
            snprintf(w->err, sizeof(w->err), "key %lu: %s", i, e.msg);
        }
        w->ends[j] = w->out.len;
    }
    return NULL;
}

/* One round: thread t mints BATCH keys from base + t * BATCH (or, primaries_only, every
 * threads-th primary of 0..count-1). */
static int run_workers(worker *w, unsigned threads, unsigned long base, unsigned long count,
                       bool primaries_only)
{
    int rc = 0;
    for (unsigned t = 0; t < threads; t++) {
        w[t].primaries_only = primaries_only;
        w[t].count = count;
        w[t].stride = threads;
        w[t].first = primaries_only ? t : base + (unsigned long)t * BATCH;
        w[t].n = w[t].first >= count ? 0
                 : count - w[t].first < BATCH ? (unsigned)(count - w[t].first) : BATCH;
        w[t].rc = 0;
        w[t].started = pthread_create(&w[t].th, NULL, worker_main, &w[t]) == 0;
        if (!w[t].started) {
            w[t].rc = -1;
            snprintf(w[t].err, sizeof(w[t].err), "cannot start a thread");
        }
    }
    for (unsigned t = 0; t < threads; t++) {
        if (w[t].started)
            pthread_join(w[t].th, NULL);
        w[t].started = false;
        if (w[t].rc) {
            fprintf(stderr, "oks-bench mint: %s\n", w[t].err);
            rc = -1;
        }
    }
    return rc;
}

static int write_file(const char *path, const oks_buf *b, bool armor)
{
    oks_buf a;
    oks_buf_init(&a);
    const oks_buf *w = b;
    if (armor) {
        if (oks_armor_encode(b->data, b->len, &a) < 0) {
            fprintf(stderr, "oks-bench mint: armor failed\n");
            return -1;
        }
        w = &a;
    }
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f || fwrite(w->data, 1, w->len, f) != w->len)
        rc = -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc)
        fprintf(stderr, "oks-bench mint: cannot write %s: %s\n", path, strerror(errno));
    oks_buf_release(&a);
    return rc;
}

static void mint_usage(FILE *f)
{
    fprintf(f,
            "usage: oks-bench mint --count N --seed S (--out FILE | --dump-dir DIR)\n"
            "         [--v6-ratio R] [--uids A[-B]] [--certs K] [--keys-per-file N] [--armor]\n"
            "         [--list FILE] [--threads N] [--rsa | --rsa-ratio R] [--rsa-bits B]\n"
            "         [--rsa-pool FILE] [--rsa-pool-size N]\n"
            "  --count N          keys to mint (1..%u)\n"
            "  --seed S           any string; same seed and options give the same bytes\n"
            "  --v6-ratio R       share of v6 keys, 0..1 (default 0)\n"
            "  --uids A[-B]       user IDs per key, 1..3 (default 1-3)\n"
            "  --certs K          third-party certifications per key from earlier keys (0..16)\n"
            "  --out FILE         one keyring file\n"
            "  --dump-dir DIR     SKS-style dump: DIR/oks-bench-NNNN.pgp of --keys-per-file\n"
            "                     keys each (default 1000)\n"
            "  --armor            ASCII-armor each written file\n"
            "  --list FILE        write \"FINGERPRINT EMAIL\" per key\n"
            "  --threads N        minting threads (default 2, max %d); output does not depend on it\n"
            "  --rsa              same as --rsa-ratio 0.1\n"
            "  --rsa-ratio R      share of v4 keys with an RSA primary (cv25519 subkey kept)\n"
            "  --rsa-bits B       2048 (default) or 3072\n"
            "  --rsa-pool FILE    RSA keys generated once and reused (default\n"
            "                     ~/.cache/oks-bench-rsa-BITS.pool); key i uses entry i %% size\n"
            "  --rsa-pool-size N  keys in the pool (default 32, max %d)\n",
            MINT_MAX_COUNT, MINT_MAX_THREADS, BENCH_RSA_POOL_MAX);
}

int bench_cmd_mint(int argc, char **argv)
{
    static const struct option lo[] = {
        {"count", 1, 0, 'n'}, {"seed", 1, 0, 's'},  {"v6-ratio", 1, 0, 'r'},
        {"uids", 1, 0, 'u'},  {"certs", 1, 0, 'c'}, {"out", 1, 0, 'o'},
        {"dump-dir", 1, 0, 'd'}, {"keys-per-file", 1, 0, 'k'}, {"armor", 0, 0, 'a'},
        {"list", 1, 0, 'l'}, {"threads", 1, 0, 't'}, {"rsa", 0, 0, 'R'},
        {"rsa-ratio", 1, 0, 'x'}, {"rsa-bits", 1, 0, 'b'}, {"rsa-pool", 1, 0, 'p'},
        {"rsa-pool-size", 1, 0, 'P'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    bench_mint_opts o = {.seed = NULL, .v6_ratio = 0, .uids_min = 1, .uids_max = 3};
    unsigned long count = 0, per_file = 1000, threads = 2, rsa_bits = 2048, pool_size = 32;
    const char *pool_path = NULL;
    bench_rsa_pool pool;
    memset(&pool, 0, sizeof(pool));
    const char *out = NULL, *dir = NULL, *list = NULL;
    bool armor = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'n': count = strtoul(optarg, &end, 10); break;
        case 's': o.seed = optarg; break;
        case 'r': o.v6_ratio = strtod(optarg, &end); break;
        case 'u': {
            unsigned a = 0, b = 0;
            int k = sscanf(optarg, "%u-%u", &a, &b);
            if (k == 1)
                b = a;
            if (k < 1 || a < 1 || b > BENCH_MINT_MAX_UIDS || a > b) {
                fprintf(stderr, "oks-bench mint: --uids wants A or A-B within 1..3\n");
                return 2;
            }
            o.uids_min = a;
            o.uids_max = b;
            break;
        }
        case 'c': o.certs = (unsigned)strtoul(optarg, &end, 10); break;
        case 'o': out = optarg; break;
        case 'd': dir = optarg; break;
        case 'k': per_file = strtoul(optarg, &end, 10); break;
        case 'a': armor = true; break;
        case 'l': list = optarg; break;
        case 't': threads = strtoul(optarg, &end, 10); break;
        case 'R': if (o.rsa_ratio == 0) o.rsa_ratio = 0.1; break;
        case 'x': o.rsa_ratio = strtod(optarg, &end); break;
        case 'b': rsa_bits = strtoul(optarg, &end, 10); break;
        case 'p': pool_path = optarg; break;
        case 'P': pool_size = strtoul(optarg, &end, 10); break;
        case 'h': mint_usage(stdout); return 0;
        default: mint_usage(stderr); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "oks-bench mint: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc || !o.seed || count < 1 || count > MINT_MAX_COUNT || !out == !dir ||
        per_file < 1 || o.rsa_ratio < 0 || o.rsa_ratio > 1 || pool_size < 1 ||
        pool_size > BENCH_RSA_POOL_MAX || (rsa_bits != 2048 && rsa_bits != 3072) || threads < 1 || threads > MINT_MAX_THREADS || o.v6_ratio < 0 || o.v6_ratio > 1 || o.certs > 16) {
        mint_usage(stderr);
        return 2;
    }
    if (dir && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "oks-bench mint: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char def_pool[4096];
    if (o.rsa_ratio > 0) {
        if (!pool_path) {
            const char *home = getenv("HOME");
            snprintf(def_pool, sizeof(def_pool), "%s/.cache/oks-bench-rsa-%lu.pool",
                     home ? home : ".", rsa_bits);
            pool_path = def_pool;
        }
        oks_err e;
        if (bench_rsa_pool_load(&pool, pool_path, (unsigned)rsa_bits, pool_size, &e) != 0) {
            fprintf(stderr, "oks-bench mint: %s\n", e.msg);
            bench_rsa_pool_free(&pool);
            return 1;
        }
        o.rsa = &pool;
    }
    bench_mint_primary *prim = NULL;
    if (o.certs) {
        prim = calloc(count, sizeof(*prim));
        if (!prim) {
            fprintf(stderr, "oks-bench mint: out of memory\n");
            return 1;
        }
    }
    FILE *lf = list ? fopen(list, "w") : NULL;
    if (list && !lf) {
        fprintf(stderr, "oks-bench mint: cannot write %s: %s\n", list, strerror(errno));
        free(prim);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    oks_buf b;
    oks_buf_init(&b);
    int rc = 0;
    unsigned file_no = 0;
    worker *w = calloc(threads, sizeof(*w));
    if (!w) {
        fprintf(stderr, "oks-bench mint: out of memory\n");
        rc = -1;
        threads = 0;
    }
    for (unsigned t = 0; t < threads; t++) {
        w[t].o = &o;
        w[t].prim = prim;
        oks_buf_init(&w[t].out);
    }
    if (prim) /* what certifiers need, before any key is signed */
        rc = run_workers(w, (unsigned)threads, 0, count, true);
    for (unsigned long base = 0; base < count && rc == 0; base += (unsigned long)threads * BATCH) {
        rc = run_workers(w, (unsigned)threads, base, count, false);
        for (unsigned t = 0; t < threads && rc == 0; t++) {
            size_t start = 0;
            for (unsigned j = 0; j < w[t].n && rc == 0; j++) {
                unsigned long i = w[t].first + j;
                if (lf)
                    fprintf(lf, "%s %s\n", w[t].keys[j].fpr_hex, w[t].keys[j].email);
                if (oks_buf_append(&b, w[t].out.data + start, w[t].ends[j] - start) < 0)
                    rc = -1;
                start = w[t].ends[j];
                if (rc == 0 && dir && ((i + 1) % per_file == 0 || i + 1 == count)) {
                    char path[4096];
                    snprintf(path, sizeof(path), "%s/oks-bench-%04u.pgp", dir, file_no++);
                    rc = write_file(path, &b, armor);
                    b.len = 0;
                }
            }
        }
    }
    for (unsigned t = 0; t < threads; t++)
        oks_buf_release(&w[t].out);
    free(w);
    if (rc == 0 && out)
        rc = write_file(out, &b, armor);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (lf && fclose(lf) != 0)
        rc = -1;
    if (rc == 0)
        fprintf(stderr, "minted %lu keys in %.3f s (%.0f keys/s)\n", count, s,
                s > 0 ? (double)count / s : 0.0);
    oks_buf_release(&b);
    free(prim);
    bench_rsa_pool_free(&pool);
    return rc ? 1 : 0;
}

/* oks-bench upload and oks-bench mixed: HKP workloads over the load client (bench/http.c).
 * upload: POST /pks/add, one distinct key (from a minted keyring) per request.
 * mixed: get by fingerprint / index by e-mail / add in given shares, chosen by a seeded PRNG;
 * the key of a lookup is picked uniformly from the list, or with --zipf S by a Zipf law over the
 * list's order (its first keys the most asked for; minted lists are in random fingerprint order,
 * so the hot keys fall in random slots).
 * Output: one line per request kind and one for all, key=value (rps, latency percentiles). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/http.h"
#include "bench/zipf.h"
#include "lib/pgp.h"

enum { K_GET, K_INDEX, K_ADD };
static const char *const KIND_NAME[] = {"get", "index", "add", "other"};

typedef struct load_ctx {
    char host[128];
    uint8_t *ring;       /* keyring bytes (adds) */
    size_t ring_len, ring_off;
    char (*fpr)[65];     /* lookups */
    char (*email)[96];
    size_t nlist;
    unsigned share_get, share_index; /* percent; the rest is add */
    uint64_t rng;
    uint64_t adds;
    bench_zipf *zipf; /* NULL: uniform picks */
    uint64_t picks, top_picks; /* lookups, and those among the first 1 % of the list */
} load_ctx;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int url_encode(oks_buf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (oks_buf_reserve(b, n * 3) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            b->data[b->len++] = c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = (uint8_t)hex[c >> 4];
            b->data[b->len++] = (uint8_t)hex[c & 15];
        }
    }
    return 0;
}

/* POST /pks/add with the next unused key of the keyring; 1 when none is left. */
static int add_request(load_ctx *x, oks_buf *req)
{
    oks_slice key;
    oks_err e;
    int r;
    do {
        r = oks_pgp_split_next(x->ring, x->ring_len, &x->ring_off, &key, &e);
    } while (r < 0 && x->ring_off < x->ring_len);
    if (r != 0)
        return 1;
    oks_buf arm, body;
    oks_buf_init(&arm);
    oks_buf_init(&body);
    int rc = oks_armor_encode(key.ptr, key.len, &arm);
    rc |= oks_buf_printf(&body, "keytext=");
    rc |= url_encode(&body, arm.data, arm.len);
    rc |= oks_buf_printf(req,
                         "POST /pks/add HTTP/1.1\r\nHost: %s\r\nUser-Agent: oks-bench\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         x->host, body.len);
    rc |= oks_buf_append(req, body.data, body.len);
    oks_buf_release(&arm);
    oks_buf_release(&body);
    x->adds++;
    return rc ? 1 : 0;
}

static int next_upload(void *ctx, uint64_t i, oks_buf *req, unsigned *kind)
{
    (void)i;
    *kind = K_ADD;
    return add_request(ctx, req);
}

/* The first 1 % of the list (at least one key): the share of lookups that fall there shows the
 * distribution (1 % when uniform). */
static size_t top_count(const load_ctx *x)
{
    return x->nlist >= 100 ? x->nlist / 100 : 1;
}

static int next_mixed(void *ctx, uint64_t i, oks_buf *req, unsigned *kind)
{
    (void)i;
    load_ctx *x = ctx;
    unsigned roll = (unsigned)(rng_next(&x->rng) % 100);
    if (roll >= x->share_get + x->share_index && x->ring) {
        *kind = K_ADD;
        if (add_request(x, req) == 0)
            return 0;
        req->len = 0;
        roll = 0; /* no fresh key left: a lookup instead */
    }
    if (x->nlist == 0)
        return 1;
    size_t k = x->zipf ? bench_zipf_pick(x->zipf, rng_next(&x->rng))
                       : (size_t)(rng_next(&x->rng) % x->nlist);
    x->picks++;
    x->top_picks += k < top_count(x);
    if (roll < x->share_get || roll >= x->share_get + x->share_index) {
        *kind = K_GET;
        return oks_buf_printf(req,
                              "GET /pks/lookup?op=get&options=mr&search=0x%s HTTP/1.1\r\n"
                              "Host: %s\r\nUser-Agent: oks-bench\r\n\r\n",
                              x->fpr[k], x->host) < 0;
    }
    *kind = K_INDEX;
    int rc = oks_buf_printf(req, "GET /pks/lookup?op=index&options=mr&search=");
    rc |= url_encode(req, (const uint8_t *)x->email[k], strlen(x->email[k]));
    rc |= oks_buf_printf(req, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: oks-bench\r\n\r\n",
                         x->host);
    return rc ? 1 : 0;
}

static int read_all(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "oks-bench: cannot read %s\n", path);
        return -1;
    }
    oks_buf b;
    oks_buf_init(&b);
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
        if (oks_buf_append(&b, tmp, k) < 0)
            break;
    fclose(f);
    *data = oks_buf_detach(&b, len);
    return 0;
}

static int read_list(const char *path, load_ctx *x)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "oks-bench: cannot read %s\n", path);
        return -1;
    }
    size_t cap = 0;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char fpr[65], email[96];
        if (sscanf(line, "%64s %95s", fpr, email) != 2)
            continue;
        if (x->nlist == cap) {
            cap = cap ? cap * 2 : 1024;
            void *a = realloc(x->fpr, cap * sizeof(*x->fpr));
            if (!a)
                break;
            x->fpr = a;
            void *b = realloc(x->email, cap * sizeof(*x->email));
            if (!b)
                break;
            x->email = b;
        }
        memcpy(x->fpr[x->nlist], fpr, sizeof(fpr));
        memcpy(x->email[x->nlist], email, sizeof(email));
        x->nlist++;
    }
    fclose(f);
    return 0;
}

static void print_kind(const char *name, bench_load_result *r, int kind, uint64_t done,
                       const uint64_t *st)
{
    printf("%s requests=%llu 2xx=%llu 3xx=%llu 4xx=%llu 5xx=%llu rps=%.1f p50_ms=%.3f "
           "p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
           name, (unsigned long long)done, (unsigned long long)st[2],
           (unsigned long long)st[3], (unsigned long long)st[4], (unsigned long long)st[5],
           r->elapsed > 0 ? (double)done / r->elapsed : 0.0,
           bench_load_percentile(r, kind, 50), bench_load_percentile(r, kind, 90),
           bench_load_percentile(r, kind, 99), bench_load_percentile(r, kind, 99.9),
           bench_load_percentile(r, kind, 100));
}

static void load_usage(FILE *f)
{
    fprintf(f,
            "usage: oks-bench upload --url URL --keys KEYRING [options]\n"
            "       oks-bench mixed  --url URL --list LIST [--keys KEYRING] [--get P]\n"
            "                        [--index P] [options]   (add share = 100 - get - index)\n"
            "options: --conns N (default 8, max %u)  --rate R (requests/s) | --max\n"
            "         --duration S (default 10)  --max-requests N  --grace S (default 5)\n"
            "         --seed N (mixed: request choice)  --zipf S (mixed: keys picked by a Zipf\n"
            "         law of exponent S over LIST's order instead of uniformly)\n"
            "URL: http://127.0.0.1:PORT (loopback only). KEYRING from oks-bench mint (each key is\n"
            "sent once); LIST from oks-bench mint --list (FINGERPRINT EMAIL per line).\n",
            BENCH_HTTP_MAX_CONNS);
}

int bench_cmd_load(int argc, char **argv)
{
    static const struct option lo[] = {
        {"url", 1, 0, 'u'}, {"keys", 1, 0, 'k'}, {"list", 1, 0, 'l'}, {"get", 1, 0, 'g'},
        {"index", 1, 0, 'i'}, {"conns", 1, 0, 'c'}, {"rate", 1, 0, 'r'}, {"max", 0, 0, 'M'},
        {"duration", 1, 0, 'd'}, {"max-requests", 1, 0, 'n'}, {"grace", 1, 0, 'G'},
        {"seed", 1, 0, 's'}, {"zipf", 1, 0, 'z'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    bool mixed = strcmp(argv[0], "mixed") == 0;
    const char *url = NULL, *keys = NULL, *list = NULL;
    bench_load_opts o = {.conns = 8, .duration = 10, .grace = 5};
    load_ctx x = {.share_get = 90, .share_index = 8, .rng = 88172645463325252ull};
    double zipf_s = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'k': keys = optarg; break;
        case 'l': list = optarg; break;
        case 'g': x.share_get = (unsigned)atoi(optarg); break;
        case 'i': x.share_index = (unsigned)atoi(optarg); break;
        case 'c': o.conns = (unsigned)atoi(optarg); break;
        case 'r': o.rate = atof(optarg); break;
        case 'M': o.rate = 0; break;
        case 'd': o.duration = atof(optarg); break;
        case 'n': o.max_requests = strtoull(optarg, NULL, 10); break;
        case 'G': o.grace = atof(optarg); break;
        case 's': x.rng = strtoull(optarg, NULL, 10) * 2654435761ull + 1; break;
        case 'z': zipf_s = atof(optarg); break;
        case 'h': load_usage(stdout); return 0;
        default: load_usage(stderr); return 2;
        }
    }
    if (optind != argc || !url || (!mixed && !keys) || (mixed && !list) ||
        x.share_get + x.share_index > 100 || (mixed && !keys && x.share_get + x.share_index < 100) ||
        o.duration <= 0 || o.rate < 0 || o.grace < 0 || o.conns < 1 || zipf_s < 0 ||
        o.conns > BENCH_HTTP_MAX_CONNS) {
        load_usage(stderr);
        return 2;
    }
    char err[256];
    if (bench_http_parse_url(url, &o.addr, &o.alen, x.host, sizeof(x.host), err,
                             sizeof(err)) != 0) {
        fprintf(stderr, "oks-bench: %s\n", err);
        return 2;
    }
    int rc = 1;
    if (keys && read_all(keys, &x.ring, &x.ring_len) != 0)
        goto out;
    if (list && read_list(list, &x) != 0)
        goto out;
    if (mixed && x.nlist == 0) {
        fprintf(stderr, "oks-bench: %s holds no FINGERPRINT EMAIL lines\n", list);
        goto out;
    }
    if (zipf_s > 0 && !(x.zipf = bench_zipf_new(x.nlist, zipf_s))) {
        fprintf(stderr, "oks-bench: no Zipf table for %zu keys and exponent %g\n", x.nlist,
                zipf_s);
        goto out;
    }
    o.next = mixed ? next_mixed : next_upload;
    o.ctx = &x;
    bench_load_result r;
    if (bench_load_run(&o, &r) != 0)
        goto out;
    uint64_t st[6] = {0};
    for (int k = 0; k < BENCH_HTTP_KINDS; k++) {
        if (r.kind[k].done && mixed)
            print_kind(KIND_NAME[k], &r, k, r.kind[k].done, r.kind[k].status);
        for (int s = 0; s < 6; s++)
            st[s] += r.kind[k].status[s];
    }
    print_kind(mixed ? "mixed" : "upload", &r, -1, r.done, st);
    if (x.picks)
        printf("keys distribution=%s s=%g keys=%zu top1pct_share=%.4f expected=%.4f\n",
               x.zipf ? "zipf" : "uniform", zipf_s, x.nlist,
               (double)x.top_picks / (double)x.picks,
               x.zipf ? bench_zipf_mass(x.zipf, top_count(&x))
                      : (double)top_count(&x) / (double)x.nlist);
    printf("summary started=%llu answered=%llu errors=%llu seconds=%.3f conns=%u\n",
           (unsigned long long)r.started, (unsigned long long)r.done,
           (unsigned long long)r.errors, r.elapsed, o.conns);
    bench_load_result_free(&r);
    rc = 0;
out:
    bench_zipf_free(x.zipf);
    free(x.ring);
    free(x.fpr);
    free(x.email);
    return rc;
}

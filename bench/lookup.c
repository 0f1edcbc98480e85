/*
 * Lookup load for bench/spine.sh: fingerprints from a file, fetched either through a router
 * with W requests in flight, or straight from shard LevelDB directories in this process (the
 * cost floor the spine is compared with). Prints requests/s and latency percentiles.
 */
#include "bench/bench.h"

#include "lib/cluster.h"
#include "lib/proto.h"
#include "lib/zsec.h"
#include "shard/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t load_fprs(const char *path, uint8_t (**out)[20])
{
    FILE *f = fopen(path, "r");
    char line[128];
    size_t n = 0, cap = 0;
    *out = NULL;
    while (f && fgets(line, sizeof line, f)) {
        if (strlen(line) < 40)
            continue;
        if (n == cap)
            *out = realloc(*out, (cap = cap ? cap * 2 : 1024) * sizeof **out);
        if (oks_unhex((*out)[n], line, 20) == 0)
            n++;
    }
    if (f)
        fclose(f);
    return n;
}

void bench_report_lookups(const char *what, unsigned window, size_t n, double secs,
                          double *lat)
{
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("%s window=%u requests=%zu seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f\n", what,
           window, n, secs, (double)n / secs, lat[n / 2] * 1e3, lat[(size_t)((double)n * 0.99)] * 1e3);
}

int bench_router_lookup(const char *conf_path, const char *fpr_file, unsigned window,
                        double seconds)
{
    oks_cluster c;
    oks_err e;
    if (oks_cluster_load(conf_path, &c, &e)) {
        fprintf(stderr, "oks-bench: %s\n", e.msg);
        return 1;
    }
    uint8_t(*fprs)[20];
    size_t nf = load_fprs(fpr_file, &fprs);
    if (!nf) {
        fprintf(stderr, "oks-bench: no fingerprints in %s\n", fpr_file);
        return 1;
    }
    void *z = zmq_ctx_new();
    oks_client *cl = oks_zsec_start(&c, OKS_ROLE_ADMIN, z, &e) == 0
                         ? oks_client_new(z, c.routers[0], 0, &e)
                         : NULL;
    if (!cl) {
        fprintf(stderr, "oks-bench: %s\n", e.msg);
        return 1;
    }
    size_t cap = 1 << 22, done = 0, sent = 0, errors = 0;
    double *lat = malloc(cap * sizeof *lat), *start = calloc(window, sizeof *start);
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    q.get_fingerprint = &g;
    double t0 = bench_now_s(), end = t0 + seconds;
    for (unsigned w = 0; w < window; w++) {
        g.fingerprint = (ProtobufCBinaryData){20, fprs[sent % nf]};
        start[w] = bench_now_s();
        oks_client_send(cl, w, &q, &e);
        sent++;
    }
    while (done < cap) {
        uint64_t id;
        Oks__Response *r;
        if (oks_client_recv(cl, &id, &r, 5000, &e) || id >= window) {
            errors++;
            break;
        }
        double t = bench_now_s();
        lat[done++] = t - start[id];
        if (r->status != OKS__STATUS__STATUS_OK || r->n_keys != 1)
            errors++;
        oks__response__free_unpacked(r, NULL);
        if (t < end) {
            g.fingerprint = (ProtobufCBinaryData){20, fprs[sent % nf]};
            start[id] = t;
            oks_client_send(cl, id, &q, &e);
            sent++;
        } else if (done == sent) {
            break;
        }
    }
    bench_report_lookups("router", window, done, bench_now_s() - t0, lat);
    if (errors)
        printf("errors=%zu\n", errors);
    oks_client_free(cl);
    oks_zsec_stop();
    zmq_ctx_term(z);
    free(lat);
    free(start);
    free(fprs);
    oks_cluster_release(&c);
    return errors ? 1 : 0;
}

int bench_direct_lookup(const char *conf_path, const char *fpr_file, double seconds)
{
    oks_cluster c;
    oks_err e;
    if (oks_cluster_load(conf_path, &c, &e)) {
        fprintf(stderr, "oks-bench: %s\n", e.msg);
        return 1;
    }
    uint8_t(*fprs)[20];
    size_t nf = load_fprs(fpr_file, &fprs);
    oks_store **st = calloc(c.n_shards, sizeof *st);
    oks_store_opts so;
    if (oks_store_opts_from_config(&c, &so, &e)) {
        fprintf(stderr, "oks-bench: %s\n", e.msg);
        return 1;
    }
    for (size_t i = 0; i < c.n_shards; i++)
        if (oks_store_open(c.shards[i].data_dir, &so, &st[i], &e)) {
            fprintf(stderr, "oks-bench: %s (stop the cluster first)\n", e.msg);
            return 1;
        }
    size_t cap = 1 << 22, n = 0, errors = 0;
    double *lat = malloc(cap * sizeof *lat), t0 = bench_now_s(), end = t0 + seconds;
    while (n < cap) {
        const uint8_t *fpr = fprs[n % nf];
        uint8_t kid[8];
        oks_keyid_of_fpr(fpr, 20, kid);
        oks_store *s = st[c.slot_owner[oks_slot_of_keyid(kid, c.n_slots)]];
        double t = bench_now_s();
        if (t >= end)
            break;
        oks_store_record rec;
        if (oks_store_get(s, fpr, 20, &rec, &e) == 1)
            oks_store_record_release(&rec);
        else
            errors++;
        lat[n++] = bench_now_s() - t;
    }
    bench_report_lookups("direct", 1, n, bench_now_s() - t0, lat);
    for (size_t i = 0; i < c.n_shards; i++)
        oks_store_close(st[i]);
    free(st);
    free(lat);
    free(fprs);
    oks_cluster_release(&c);
    return errors ? 1 : 0;
}

/*
 * oksctl import: loads keyrings (binary or armored) and SKS dump folders into a cluster.
 * Keys are split locally, sent in batches with many requests in flight (the router spreads
 * each batch over the shards, which verify in parallel), and every key's outcome is counted.
 */
#include "lib/pgp.h"
#include "lib/xalloc.h"
#include "oksctl/cluster.h"
#include "oksctl/keyfile.h"
#include "oksctl/oksctl.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OKSCTL_IMPORT_MS_PER_KEY 20u
#define OKSCTL_IMPORT_MS_PER_KIB 1u
#define OKSCTL_IMPORT_MAX_DEADLINE_MS 600000u

typedef struct batch {
    uint64_t id;
    oksctl_keyfile *src;       /* the keys point into it; one reference per batch */
    ProtobufCBinaryData *keys;
    size_t n;
    int tries;
    unsigned deadline_ms; /* given to the router with the last send */
} batch;

typedef struct reason_count {
    char reason[120];
    size_t n;
} reason_count;

typedef struct import_state {
    oksctl_conn *c;
    size_t batch_keys, batch_bytes, window;
    int retries;
    unsigned deadline_ms; /* fixed add deadline; 0 = by the work in flight */
    size_t unchanged_retried; /* unchanged answers to keys sent again after no answer */
    batch *inflight;
    size_t n_inflight;
    uint64_t next_id;
    size_t counts[5]; /* new, updated, unchanged, rejected, failed */
    reason_count reasons[32];
    size_t n_reasons;
    FILE *report;
    bool progress;
    uint64_t bytes_total, bytes_done;
    struct timespec t0, last_print;
    size_t keys_done;
} import_state;

static double elapsed(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void note_reason(import_state *s, const char *r)
{
    for (size_t i = 0; i < s->n_reasons; i++)
        if (strncmp(s->reasons[i].reason, r, sizeof s->reasons[i].reason - 1) == 0) {
            s->reasons[i].n++;
            return;
        }
    if (s->n_reasons < 32) {
        snprintf(s->reasons[s->n_reasons].reason, sizeof s->reasons[0].reason, "%s", r);
        s->reasons[s->n_reasons++].n = 1;
    }
}

static void print_progress(import_state *s, bool final)
{
    if (!s->progress)
        return;
    if (!final && elapsed(&s->last_print) < 0.25)
        return;
    clock_gettime(CLOCK_MONOTONIC, &s->last_print);
    double t = elapsed(&s->t0), rate = t > 0 ? (double)s->keys_done / t : 0;
    double frac = s->bytes_total ? (double)s->bytes_done / (double)s->bytes_total : 1;
    double eta = frac > 0 ? t / frac - t : 0;
    int bar = (int)(frac * 30);
    fprintf(stderr, "\r[%-30.*s] %3.0f%% %zu keys  %.0f keys/s  ETA %.0fs ", bar,
            "##############################", frac * 100, s->keys_done, rate, eta < 0 ? 0 : eta);
    if (final)
        fputc('\n', stderr);
}

static const char *outcome_name[] = {"new", "updated", "unchanged", "rejected", "failed"};

static void fpr_hex(const uint8_t *p, size_t n, char *out)
{
    oks_hex(out, p, n, 1);
}

static void record(import_state *s, int outcome, const uint8_t *fpr, size_t fl, const char *why)
{
    s->counts[outcome]++;
    s->keys_done++;
    if (outcome >= 3 && why && *why)
        note_reason(s, why);
    if (s->report) {
        char hex[65] = "-";
        if (fl)
            fpr_hex(fpr, fl, hex);
        fprintf(s->report, "%s %s%s%s\n", hex, outcome_name[outcome], why && *why ? " " : "",
                why ? why : "");
    }
}

static void free_batch(batch *b)
{
    oksctl_keyfile_unref(b->src);
    free(b->keys);
    memset(b, 0, sizeof *b);
}

/* The router's deadline for an add: long enough for the work queued ahead of it at the shards
 * (the keys and bytes in flight, this batch included) even on a slow or shared machine, so a
 * batch is not given up (and sent again, verified twice) while the shards are still working on
 * it. A crashed shard is noticed by the router when its connection drops, not by this deadline. */
static unsigned add_deadline(const import_state *s, const batch *b)
{
    if (s->deadline_ms)
        return s->deadline_ms;
    uint64_t keys = b->n, bytes = 0;
    for (size_t i = 0; i < b->n; i++)
        bytes += b->keys[i].len;
    for (size_t i = 0; i < s->n_inflight; i++)
        if (&s->inflight[i] != b) {
            keys += s->inflight[i].n;
            for (size_t k = 0; k < s->inflight[i].n; k++)
                bytes += s->inflight[i].keys[k].len;
        }
    uint64_t ms = s->c->conf.router_deadline_ms + OKSCTL_IMPORT_MS_PER_KEY * keys +
                  OKSCTL_IMPORT_MS_PER_KIB * (bytes >> 10);
    return ms > OKSCTL_IMPORT_MAX_DEADLINE_MS ? OKSCTL_IMPORT_MAX_DEADLINE_MS : (unsigned)ms;
}

/* How long to wait for the next reply: the longest deadline in flight, plus the router's
 * margin. */
static int recv_timeout(const import_state *s)
{
    unsigned ms = s->c->conf.router_deadline_ms;
    for (size_t i = 0; i < s->n_inflight; i++)
        if (s->inflight[i].deadline_ms > ms)
            ms = s->inflight[i].deadline_ms;
    return (int)ms + 2000;
}

static int send_batch(import_state *s, batch *b)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = b->keys;
    add.n_keys = b->n;
    add.origin = OKS__ORIGIN__ORIGIN_IMPORT;
    b->deadline_ms = add_deadline(s, b);
    q.deadline_ms = b->deadline_ms;
    oks_err e;
    b->id = ++s->next_id;
    b->tries++;
    return oks_client_send(s->c->client, b->id, &q, &e);
}

/* Fingerprint of a key's primary packet, for keys a shard never answered for. */
static size_t key_fpr(const ProtobufCBinaryData *k, uint8_t out[32])
{
    size_t off = 0;
    oks_pgp_packet pkt;
    oks_pgp_pubkey pk;
    oks_err e;
    if (oks_pgp_packet_next(k->data, k->len, &off, &pkt, &e) || pkt.tag != OKS_PGP_TAG_PUBKEY ||
        oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &pk, &e))
        return 0;
    memcpy(out, pk.fpr, pk.fpr_len);
    return pk.fpr_len;
}

/* Waits for one reply and accounts for it; retries keys whose shard did not answer. */
static int collect_one(import_state *s)
{
    uint64_t id;
    Oks__Response *r;
    oks_err e;
    if (oks_client_recv(s->c->client, &id, &r, recv_timeout(s), &e)) {
        /* the router itself is gone: everything in flight failed */
        for (size_t i = 0; i < s->n_inflight; i++) {
            for (size_t k = 0; k < s->inflight[i].n; k++) {
                uint8_t f[32];
                size_t fl = key_fpr(&s->inflight[i].keys[k], f);
                record(s, 4, f, fl, "no reply from the router");
            }
            free_batch(&s->inflight[i]);
        }
        s->n_inflight = 0;
        return -1;
    }
    size_t bi = 0;
    while (bi < s->n_inflight && s->inflight[bi].id != id)
        bi++;
    if (bi == s->n_inflight) {
        oks__response__free_unpacked(r, NULL);
        return 0;
    }
    batch *b = &s->inflight[bi];
    bool *answered = oks_xcalloc(b->n ? b->n : 1, 1);
    for (size_t i = 0; i < r->n_results && answered; i++) {
        Oks__AddResult *a = r->results[i];
        if (a->index >= b->n)
            continue;
        answered[a->index] = true;
        int outcome = a->outcome <= 3 ? (int)a->outcome : 3;
        if (outcome == 2 && b->tries > 1) {
            /* an earlier attempt got no answer: it may have stored the key itself */
            s->unchanged_retried++;
            record(s, outcome, a->fingerprint.data, a->fingerprint.len,
                   "sent again after no answer: stored by the earlier attempt or already there");
            continue;
        }
        record(s, outcome, a->fingerprint.data, a->fingerprint.len, a->reason);
    }
    /* keys of a shard that was down: retry them in a new batch, later give up */
    batch retry = {0};
    for (size_t i = 0; i < b->n && answered; i++) {
        if (answered[i])
            continue;
        if (b->tries <= s->retries &&
            (retry.keys || (retry.keys = oks_xcalloc(b->n, sizeof *retry.keys)))) {
            if (!retry.src) {
                retry.src = b->src;
                oksctl_keyfile_ref(retry.src);
            }
            retry.keys[retry.n++] = b->keys[i];
        } else {
            uint8_t f[32];
            size_t fl = key_fpr(&b->keys[i], f);
            char why[200];
            snprintf(why, sizeof why, "%s", r->error && *r->error ? r->error : "no answer");
            record(s, 4, f, fl, why);
        }
    }
    retry.tries = b->tries;
    free(answered);
    oks__response__free_unpacked(r, NULL);
    free_batch(b);
    s->inflight[bi] = s->inflight[--s->n_inflight];
    if (retry.n) {
        usleep(200000u * (unsigned)retry.tries);
        s->inflight[s->n_inflight] = retry;
        if (send_batch(s, &s->inflight[s->n_inflight]) == 0)
            s->n_inflight++;
        else
            free_batch(&retry);
    }
    print_progress(s, false);
    return 0;
}

static int submit(import_state *s, batch *b)
{
    while (s->n_inflight >= s->window)
        if (collect_one(s))
            break;
    s->inflight[s->n_inflight] = *b;
    memset(b, 0, sizeof *b);
    if (send_batch(s, &s->inflight[s->n_inflight]) == 0)
        s->n_inflight++;
    else
        free_batch(&s->inflight[s->n_inflight]);
    return 0;
}

/* Splits the keys of src and sends them in batches that point into it. */
static void import_file(import_state *s, const char *name, oksctl_keyfile *src)
{
    const uint8_t *p = src->data;
    size_t n = src->len;
    batch b = {0};
    size_t off = 0, last = 0, bytes = 0;
    oks_slice k;
    oks_err e;
    int r;
    b.keys = oks_xcalloc(s->batch_keys, sizeof *b.keys);
    while ((r = oks_pgp_split_next(p, n, &off, &k, &e)) != 1) {
        s->bytes_done += off - last;
        last = off;
        if (r < 0) {
            char m[400], why[300];
            snprintf(why, sizeof why, "%s: %s", name, oks_err_format(&e, m, sizeof m));
            record(s, 3, NULL, 0, why);
            continue;
        }
        if (!b.src) {
            b.src = src;
            oksctl_keyfile_ref(src);
        }
        /* the bytes stay src's: sending only reads them */
        b.keys[b.n++] = (ProtobufCBinaryData){k.len, (uint8_t *)k.ptr};
        bytes += k.len;
        /* bounded by bytes too: big keys in small batches keep every verifier busy to the end */
        if (b.n == s->batch_keys || bytes >= s->batch_bytes) {
            submit(s, &b);
            b.keys = oks_xcalloc(s->batch_keys, sizeof *b.keys);
            bytes = 0;
            if (!b.keys)
                return;
        }
    }
    if (b.n)
        submit(s, &b);
    else
        free_batch(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands directories into their key files (*.pgp, *.gpg, *.asc, *.kbx excluded), sorted. */
static char **expand(char **args, int n, size_t *count)
{
    char **out = NULL;
    size_t k = 0, cap = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (strcmp(args[i], "-") != 0 && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(args[i]);
            struct dirent *de;
            size_t first = k;
            while (d && (de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                if (!dot || (strcmp(dot, ".pgp") && strcmp(dot, ".gpg") && strcmp(dot, ".asc")))
                    continue;
                if (k == cap)
                    out = oks_xrealloc(out, (cap = cap ? cap * 2 : 64) * sizeof *out);
                size_t len = strlen(args[i]) + strlen(de->d_name) + 2;
                out[k] = oks_xmalloc(len);
                snprintf(out[k++], len, "%s/%s", args[i], de->d_name);
            }
            if (d)
                closedir(d);
            qsort(out + first, k - first, sizeof *out, cmp_str);
        } else {
            if (k == cap)
                out = oks_xrealloc(out, (cap = cap ? cap * 2 : 64) * sizeof *out);
            out[k++] = oks_xstrdup(args[i]);
        }
    }
    *count = k;
    return out;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oksctl import [-c CONFIG] [--batch N] [--batch-kb N] [--window N]\n"
            "                     [--deadline S] [--retries N] [--report FILE] [--quiet]\n"
            "                     FILE|DIR...\n"
            "\n"
            "Adds every key of binary or armored keyrings (FILE - reads stdin) and SKS dump\n"
            "folders (*.pgp, *.gpg, *.asc) to the cluster, up to N keys (default 64) and N KiB\n"
            "of keys (default 256) per request, with N requests in flight (default 16).\n"
            "Each request's deadline at the router fits the work in flight ahead of it (router\n"
            "deadline + 20 ms per key + 1 ms per KiB in flight, at most 600 s); --deadline S\n"
            "sets a fixed one instead.\n"
            "Keys whose shard does not answer are retried (default 3 times). On a terminal a\n"
            "progress bar shows keys/s and ETA. The summary counts new, updated, unchanged,\n"
            "rejected (with reasons) and failed keys; --report writes one line per key:\n"
            "'FINGERPRINT OUTCOME [REASON]'. Exit 0 when every key got an answer.\n");
}

int oksctl_import(int argc, char **argv)
{
    const char *conf = NULL, *report = NULL;
    import_state s;
    memset(&s, 0, sizeof s);
    s.batch_keys = 64;
    s.batch_bytes = 256 << 10;
    s.window = 16;
    s.retries = 3;
    s.progress = isatty(2);
    static const struct option opts[] = {
        {"config", 1, NULL, 'c'},  {"batch", 1, NULL, 'b'}, {"batch-kb", 1, NULL, 'k'},
        {"window", 1, NULL, 'w'},  {"deadline", 1, NULL, 'd'},
        {"retries", 1, NULL, 'r'}, {"report", 1, NULL, 'R'}, {"quiet", 0, NULL, 'q'},
        {"help", 0, NULL, 'h'},    {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:k:w:d:r:R:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'b': s.batch_keys = (size_t)atoi(optarg); break;
        case 'k': s.batch_bytes = (size_t)atoi(optarg) << 10; break;
        case 'w': s.window = (size_t)atoi(optarg); break;
        case 'd': s.deadline_ms = (unsigned)(atof(optarg) * 1000); break;
        case 'r': s.retries = atoi(optarg); break;
        case 'R': report = optarg; break;
        case 'q': s.progress = false; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc || s.batch_keys < 1 || s.batch_keys > OKS_PROTO_MAX_ITEMS ||
        s.batch_bytes < 1024 || s.batch_bytes > (64u << 20) || s.window < 1 ||
        s.window > 1024 || s.deadline_ms > OKSCTL_IMPORT_MAX_DEADLINE_MS) {
        usage(stderr);
        return 2;
    }
    oksctl_conn conn;
    if (oksctl_connect(&conn, conf))
        return 1;
    s.c = &conn;
    s.inflight = oks_xcalloc(s.window + 1, sizeof *s.inflight);
    if (report && !(s.report = fopen(report, "w"))) {
        perror(report);
        oksctl_disconnect(&conn);
        return 1;
    }
    size_t nfiles;
    char **files = expand(argv + optind, argc - optind, &nfiles);
    for (size_t i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0)
            s.bytes_total += (uint64_t)st.st_size;
    }
    clock_gettime(CLOCK_MONOTONIC, &s.t0);
    int status = 0;
    for (size_t i = 0; i < nfiles; i++) {
        oksctl_keyfile *src = NULL;
        char err[512];
        struct stat st;
        uint64_t before = s.bytes_done;
        if (oksctl_keyfile_open(files[i], &src, err, sizeof err)) {
            fprintf(stderr, "oksctl import: %s\n", err);
            status = 1;
        }
        if (src)
            import_file(&s, files[i], src);
        oksctl_keyfile_unref(src);
        /* armored files shrink when decoded: count the file's real size as done */
        if (stat(files[i], &st) == 0)
            s.bytes_done = before + (uint64_t)st.st_size;
        free(files[i]);
    }
    free(files);
    while (s.n_inflight)
        if (collect_one(&s))
            break;
    print_progress(&s, true);
    double t = elapsed(&s.t0);
    printf("imported %zu keys in %.1f s (%.0f keys/s): %zu new, %zu updated, %zu unchanged, "
           "%zu rejected, %zu failed\n",
           s.keys_done, t, t > 0 ? (double)s.keys_done / t : 0, s.counts[0], s.counts[1],
           s.counts[2], s.counts[3], s.counts[4]);
    if (s.unchanged_retried)
        printf("  %6zu  of the unchanged were sent again after an attempt that got no answer "
               "(that attempt may have stored them)\n",
               s.unchanged_retried);
    for (size_t i = 0; i < s.n_reasons; i++)
        printf("  %6zu  %s\n", s.reasons[i].n, s.reasons[i].reason);
    if (s.report)
        fclose(s.report);
    free(s.inflight);
    oksctl_disconnect(&conn);
    return status || s.counts[4] ? 1 : 0;
}

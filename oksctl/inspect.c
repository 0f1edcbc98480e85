/*
 * oksctl inspect [--json] [--no-verify] [--threads N] FILE...
 * Reads keyrings or armored key files, splits them into keys, parses, verifies (self-signatures
 * with libgcrypt, the same cleaning a shard applies), hashes each key, and prints per key the
 * HKP mr index lines and "hash:<sks hash>", or one JSON object per line. Keys are processed by
 * a few threads; output keeps the input order. Exit 0 when every key was good.
 */
#include "lib/pgp.h"
#include "lib/xalloc.h"
#include "oksctl/json.h"
#include "oksctl/oksctl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    oks_slice in;       /* borrowed from the file buffer */
    size_t where;       /* byte offset of the key in its file (or in the decoded armor) */
    const char *file;
    bool armored;
    oks_buf out;        /* stdout text */
    char err[400];      /* error line, empty if the key was good */
} job;

typedef struct inspect_opts {
    bool json, verify;
    unsigned threads;
    oks_pgp_limits lim;
    uint32_t now;
} inspect_opts;

typedef struct pool {
    job *jobs;
    size_t n;
    atomic_size_t next;
    const inspect_opts *o;
} pool;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oksctl inspect [--json] [--no-verify] [--threads N] FILE...\n"
            "\n"
            "Reads OpenPGP public keys (binary keyrings or ASCII armor; '-' = stdin), and for\n"
            "each key prints the HKP machine-readable index lines (pub:, uid:, uat:) followed\n"
            "by 'hash:<SKS key hash>', exactly as the keyserver would store and list it.\n"
            "\n"
            "  --json        one JSON object per key per line instead\n"
            "  --no-verify   skip self-signature verification (key as received, like SKS;\n"
            "                keys the keyserver refuses, v3 keys, are still refused)\n"
            "  --threads N   worker threads (default 2)\n"
            "\n"
            "Exit status 0 when every key was good; otherwise 1, with one line per bad key on\n"
            "stderr (the good keys are still printed).\n");
}

static int read_all(const char *path, oks_buf *b)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return OKS_E_IO;
    size_t n;
    do {
        if (oks_buf_reserve(b, 1 << 16)) {
            if (f != stdin)
                fclose(f);
            return OKS_E_NOMEM;
        }
        n = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
        b->len += n;
    } while (n > 0);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    return bad ? OKS_E_IO : 0;
}

static void process(job *j, const inspect_opts *o)
{
    oks_err e;
    oks_err_clear(&e);
    oks_pgp_key *k = NULL;
    oks_pgp_verify_stats st;
    memset(&st, 0, sizeof st);
    int r = oks_pgp_key_parse(j->in.ptr, j->in.len, &o->lim, 0, &k, &e);
    if (!r)
        r = oks_pgp_key_acceptable(k, &e);
    if (!r && o->verify)
        r = oks_pgp_key_verify(k, &o->lim, &st, &e);
    if (r) {
        char msg[300];
        size_t at = e.offset == OKS_NO_OFFSET ? j->where : j->where + e.offset;
        e.offset = OKS_NO_OFFSET;
        snprintf(j->err, sizeof j->err, "oksctl inspect: %s: key at %sbyte %zu: %s", j->file,
                 j->armored ? "decoded " : "", at, oks_err_format(&e, msg, sizeof msg));
        oks_pgp_key_free(k);
        return;
    }
    uint8_t h[16];
    char hex[33];
    oks_pgp_key_sks_hash(k, h);
    oks_hex(hex, h, 16, 0);
    if (o->json) {
        if (oksctl_json_key(&j->out, k, &st, o->verify, hex, o->now))
            snprintf(j->err, sizeof j->err, "oksctl inspect: %s: key at %sbyte %zu: out of memory",
                     j->file, j->armored ? "decoded " : "", j->where);
    } else {
        oks_pgp_key_mr_index(k, &j->out);
        oks_buf_printf(&j->out, "hash:%s\n", hex);
    }
    oks_pgp_key_free(k);
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            return NULL;
        process(&p->jobs[i], p->o);
    }
}

/* Splits one input into jobs; returns the number of framing errors (already printed). */
static int add_jobs(const char *file, const uint8_t *p, size_t n, bool armored, job **jobs,
                    size_t *nj, size_t *cap)
{
    size_t off = 0;
    int bad = 0;
    for (;;) {
        oks_slice s;
        oks_err e;
        size_t at = off;
        int r = oks_pgp_split_next(p, n, &off, &s, &e);
        if (r == 1)
            break;
        if (r < 0) {
            char msg[300];
            fprintf(stderr, "oksctl inspect: %s: %s%s\n", file, armored ? "decoded " : "",
                    oks_err_format(&e, msg, sizeof msg));
            bad++;
            if (off <= at)
                break;
            continue;
        }
        if (*nj == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            job *nv = oks_xrealloc(*jobs, nc * sizeof *nv);
            *jobs = nv;
            *cap = nc;
        }
        job *j = &(*jobs)[(*nj)++];
        memset(j, 0, sizeof *j);
        j->in = s;
        j->where = (size_t)(s.ptr - p);
        j->file = file;
        j->armored = armored;
    }
    return bad;
}

int oksctl_inspect(int argc, char **argv)
{
    inspect_opts o = {false, true, 2, {0}, (uint32_t)time(NULL)};
    oks_pgp_limits_default(&o.lim);
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--json") == 0)
            o.json = true;
        else if (strcmp(a, "--no-verify") == 0)
            o.verify = false;
        else if (strcmp(a, "--threads") == 0 && first + 1 < argc)
            o.threads = (unsigned)strtoul(argv[++first], NULL, 10);
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--") == 0) {
            first++;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "oksctl inspect: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else
            break;
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    if (o.threads < 1 || o.threads > 64)
        o.threads = 2;

    size_t nfiles = (size_t)(argc - first), nj = 0, cap = 0;
    oks_buf *data = oks_xcalloc(nfiles, sizeof *data);
    job *jobs = NULL;
    int bad = 0;
    if (!data)
        return 1;
    for (size_t f = 0; f < nfiles; f++) {
        const char *file = argv[first + (int)f];
        oks_buf raw = OKS_BUF_INIT;
        if (read_all(file, &raw)) {
            fprintf(stderr, "oksctl inspect: %s: cannot read\n", file);
            oks_buf_release(&raw);
            bad++;
            continue;
        }
        if (oks_armor_detect(raw.data, raw.len)) {
            size_t off = 0;
            oks_err e;
            int blocks = 0;
            for (;;) {
                int r = oks_armor_decode((const char *)raw.data, raw.len, &off, &data[f], &e);
                if (r == 1)
                    break;
                blocks++;
                if (r < 0) {
                    char msg[300];
                    fprintf(stderr, "oksctl inspect: %s: %s\n", file,
                            oks_err_format(&e, msg, sizeof msg));
                    bad++;
                }
            }
            if (blocks == 0) {
                fprintf(stderr, "oksctl inspect: %s: no armored public key block\n", file);
                bad++;
            }
            oks_buf_release(&raw);
            bad += add_jobs(file, data[f].data, data[f].len, true, &jobs, &nj, &cap);
        } else {
            data[f] = raw;
            bad += add_jobs(file, data[f].data, data[f].len, false, &jobs, &nj, &cap);
        }
    }

    pool p = {jobs, nj, 0, &o};
    pthread_t th[64];
    unsigned started = 0;
    for (unsigned t = 1; t < o.threads && nj > 1; t++)
        if (pthread_create(&th[started], NULL, worker, &p) == 0)
            started++;
    worker(&p);
    for (unsigned t = 0; t < started; t++)
        pthread_join(th[t], NULL);

    for (size_t i = 0; i < nj; i++) {
        if (jobs[i].err[0]) {
            fprintf(stderr, "%s\n", jobs[i].err);
            bad++;
        } else {
            fwrite(jobs[i].out.data, 1, jobs[i].out.len, stdout);
        }
        oks_buf_release(&jobs[i].out);
    }
    free(jobs);
    for (size_t f = 0; f < nfiles; f++)
        oks_buf_release(&data[f]);
    free(data);
    if (fflush(stdout) != 0)
        return 1;
    return bad ? 1 : 0;
}

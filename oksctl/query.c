/* oksctl get, search, stats, export: one request (or a few) to the cluster each. */
#include "lib/pgp.h"
#include "oksctl/cluster.h"
#include "oksctl/oksctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --shard NAME: talk to that shard directly instead of a router (an admin key only) */
static const char *direct_shard;

/* Common option parsing: -c CONFIG, --help; returns index of the first operand or -1. */
static int parse_common(int argc, char **argv, const char **conf, const char *usage_text,
                        int *flags, const char *flag_names)
{
    static const struct option opts[] = {{"config", 1, NULL, 'c'}, {"help", 0, NULL, 'h'},
                                         {"email", 0, NULL, 'e'},  {"exact", 0, NULL, 'x'},
                                         {"binary", 0, NULL, 'B'}, {"mr", 0, NULL, 'm'},
                                         {"keys-per-file", 1, NULL, 'k'},
                                         {"shard", 1, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    *flags = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            *conf = optarg;
        else if (c == 'h') {
            fputs(usage_text, stdout);
            return -2;
        } else if (c == 's' && strchr(flag_names, 's')) {
            direct_shard = optarg;
        } else if (c == 'k' && strchr(flag_names, 'k')) {
            *flags = atoi(optarg);
        } else if (c != '?' && c != 'k' && c != 's' && strchr(flag_names, c)) {
            *flags |= 1 << (strchr(flag_names, c) - flag_names);
        } else {
            fputs(usage_text, stderr);
            return -1;
        }
    }
    return optind;
}

static int status_exit(Oks__Response *r)
{
    if (r->status == OKS__STATUS__STATUS_OK)
        return 0;
    fprintf(stderr, "oksctl: %s: %s\n", oks_proto_status_name(r->status), r->error);
    return r->status == OKS__STATUS__STATUS_NOT_FOUND ? 3 : 1;
}

/* What to do with an answer; returns the exit code. May ask again on the same connection. */
typedef int (*answer_fn)(oksctl_conn *c, Oks__Request *q, Oks__Response *r, void *arg);

/* Connects, sends q, hands the answer to fn, disconnects. Exit 1 when nothing came back. */
static int ask(const char *conf, Oks__Request *q, answer_fn fn, void *arg)
{
    oksctl_conn c;
    if (oksctl_connect_to(&c, conf, direct_shard))
        return 1;
    Oks__Response *r = oksctl_call(&c, q);
    int rc = 1;
    if (r) {
        rc = fn(&c, q, r, arg);
        oks__response__free_unpacked(r, NULL);
    }
    oksctl_disconnect(&c);
    return rc;
}

static void print_keys(Oks__Response *r, bool binary, bool mr)
{
    oks_buf all = OKS_BUF_INIT, out = OKS_BUF_INIT;
    for (size_t i = 0; i < r->n_keys; i++) {
        if (mr) {
            oks_pgp_key *k;
            oks_err e;
            if (oks_pgp_key_parse(r->keys[i]->data.data, r->keys[i]->data.len, NULL,
                                  OKS_PGP_TRUSTED, &k, &e) == 0) {
                oks_pgp_key_mr_index(k, &out);
                oks_pgp_key_free(k);
            }
        } else {
            oks_buf_append(&all, r->keys[i]->data.data, r->keys[i]->data.len);
        }
    }
    if (!mr) {
        if (binary)
            oks_buf_append(&out, all.data, all.len);
        else
            oks_armor_encode(all.data, all.len, &out);
    }
    fwrite(out.data, 1, out.len, stdout);
    oks_buf_release(&all);
    oks_buf_release(&out);
}

static const char get_usage[] =
    "usage: oksctl get [-c CONFIG] [--binary] [--mr] FINGERPRINT|KEYID\n"
    "\n"
    "Prints the key(s) with that v4/v6 fingerprint (primary or subkey) or 64/32-bit key ID,\n"
    "armored (default), as binary packets (--binary) or as HKP index lines (--mr).\n"
    "Exit 3 when nothing matches; exit 0 with a message when keys were found while a shard\n"
    "failed (PARTIAL).\n";

static int show_get(oksctl_conn *c, Oks__Request *q, Oks__Response *r, void *arg)
{
    (void)c;
    (void)q;
    int flags = *(int *)arg;
    int rc = status_exit(r);
    if (r->n_keys)
        print_keys(r, flags & 1, flags & 2);
    /* keys found while some shard failed: printed, and the failure said on stderr */
    return r->status == OKS__STATUS__STATUS_PARTIAL && r->n_keys ? 0 : rc;
}

int oksctl_get(int argc, char **argv)
{
    const char *conf = NULL;
    int flags;
    int i = parse_common(argc, argv, &conf, get_usage, &flags, "Bm");
    if (i == -2)
        return 0;
    if (i < 0 || i + 1 != argc) {
        fputs(get_usage, stderr);
        return 2;
    }
    uint8_t id[32];
    size_t len;
    char kind = oksctl_parse_id(argv[i], id, &len);
    if (!kind) {
        fprintf(stderr, "oksctl get: '%s' is not a fingerprint or key ID (8, 16, 40 or 64 hex)\n",
                argv[i]);
        return 2;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint gf = OKS__GET_BY_FINGERPRINT__INIT;
    Oks__GetByKeyId gk = OKS__GET_BY_KEY_ID__INIT;
    if (kind == 'f') {
        q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
        q.get_fingerprint = &gf;
        gf.fingerprint = (ProtobufCBinaryData){len, id};
        gf.subkeys = 1; /* primary and subkey matches, as for a key ID */
    } else {
        q.op_case = OKS__REQUEST__OP_GET_KEY_ID;
        q.get_key_id = &gk;
        gk.key_id = (ProtobufCBinaryData){len, id};
    }
    return ask(conf, &q, show_get, &flags);
}

static const char search_usage[] =
    "usage: oksctl search [-c CONFIG] [--email|--exact] TEXT\n"
    "\n"
    "Prints the HKP index lines of keys whose user IDs contain every word of TEXT, or\n"
    "(--email) that have the address TEXT, or (--exact) the user ID TEXT. Exit 3 if none.\n";

static int show_search(oksctl_conn *c, Oks__Request *q, Oks__Response *r, void *arg)
{
    (void)c, (void)q, (void)arg;
    int rc = status_exit(r);
    if (r->n_keys) {
        printf("info:1:%zu\n", r->n_keys);
        fflush(stdout);
        print_keys(r, false, true);
    }
    return rc;
}

int oksctl_search(int argc, char **argv)
{
    const char *conf = NULL;
    int flags;
    int i = parse_common(argc, argv, &conf, search_usage, &flags, "ex");
    if (i == -2)
        return 0;
    if (i < 0 || i + 1 != argc) {
        fputs(search_usage, stderr);
        return 2;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Search s = OKS__SEARCH__INIT;
    q.op_case = OKS__REQUEST__OP_SEARCH;
    q.search = &s;
    s.text = argv[i];
    s.kind = flags & 1 ? OKS__SEARCH_KIND__SEARCH_EMAIL
             : flags & 2 ? OKS__SEARCH_KIND__SEARCH_EXACT
                         : OKS__SEARCH_KIND__SEARCH_WORDS;
    return ask(conf, &q, show_search, NULL);
}

static const char stats_usage[] =
    "usage: oksctl stats [-c CONFIG] [--shard NAME]\n"
    "\n"
    "Per shard: keys, bytes of keys, bytes on disk, slots, last change-log sequence, requests\n"
    "answered unworked since start because their deadline passed while they were queued.\n"
    "--shard asks shard NAME directly instead of through the router (admin key).\n";

static int show_stats(oksctl_conn *c, Oks__Request *q, Oks__Response *r, void *arg)
{
    (void)c, (void)q, (void)arg;
    uint64_t keys = 0;
    printf("%-12s %4s %10s %12s %12s %6s %10s %8s\n", "shard", "up", "keys", "key-bytes",
           "disk-bytes", "slots", "last-seq", "expired");
    for (size_t k = 0; k < r->n_shards; k++) {
        Oks__ShardStats *s = r->shards[k];
        printf("%-12s %4s %10llu %12llu %12llu %6u %10llu %8llu\n", s->name,
               s->up ? "yes" : "NO", (unsigned long long)s->keys, (unsigned long long)s->bytes,
               (unsigned long long)s->disk_bytes, s->slots, (unsigned long long)s->last_seq,
               (unsigned long long)s->expired);
        keys += s->keys;
    }
    if (r->total_keys) /* each key once, though replicas hold it R times */
        keys = r->total_keys;
    printf("total keys: %llu\n", (unsigned long long)keys);
    return r->status == OKS__STATUS__STATUS_OK ? 0 : status_exit(r);
}

int oksctl_stats(int argc, char **argv)
{
    const char *conf = NULL;
    int flags;
    int i = parse_common(argc, argv, &conf, stats_usage, &flags, "s");
    if (i == -2)
        return 0;
    if (i < 0 || i != argc) {
        fputs(stats_usage, stderr);
        return 2;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetStats gs = OKS__GET_STATS__INIT;
    q.op_case = OKS__REQUEST__OP_STATS;
    q.stats = &gs;
    return ask(conf, &q, show_stats, NULL);
}

static const char export_usage[] =
    "usage: oksctl export [-c CONFIG] [--keys-per-file N] DIR\n"
    "\n"
    "Writes every key of the cluster as binary dump files DIR/oks-NNNN.pgp of N keys each\n"
    "(default 10000), loadable by 'oksctl import DIR' and by 'sks build'.\n";

int oksctl_export(int argc, char **argv)
{
    const char *conf = NULL;
    int per_file;
    int i = parse_common(argc, argv, &conf, export_usage, &per_file, "k");
    if (i == -2)
        return 0;
    if (i < 0 || i + 1 != argc) {
        fputs(export_usage, stderr);
        return 2;
    }
    if (per_file <= 0)
        per_file = 10000;
    const char *dir = argv[i];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    oksctl_conn c;
    if (oksctl_connect(&c, conf))
        return 1;
    FILE *f = NULL;
    int file_no = 0, in_file = 0, rc = 0;
    size_t total = 0;
    for (size_t s = 0; s < c.conf.n_shards && rc == 0; s++) {
        uint8_t after[32];
        size_t after_len = 0;
        for (;;) {
            Oks__Request q = OKS__REQUEST__INIT;
            Oks__ListKeys l = OKS__LIST_KEYS__INIT;
            q.op_case = OKS__REQUEST__OP_LIST;
            q.list = &l;
            l.shard = c.conf.shards[s].name;
            l.after = (ProtobufCBinaryData){after_len, after};
            l.limit = 1000;
            Oks__Response *r = oksctl_call(&c, &q);
            if (!r || r->status != OKS__STATUS__STATUS_OK) {
                rc = r ? status_exit(r) : 1;
                if (r)
                    oks__response__free_unpacked(r, NULL);
                break;
            }
            for (size_t k = 0; k < r->n_keys; k++) {
                if (!f || in_file == per_file) {
                    if (f)
                        fclose(f);
                    char path[4096];
                    snprintf(path, sizeof path, "%s/oks-%04d.pgp", dir, file_no++);
                    f = fopen(path, "wb");
                    in_file = 0;
                    if (!f) {
                        perror(path);
                        rc = 1;
                        break;
                    }
                }
                fwrite(r->keys[k]->data.data, 1, r->keys[k]->data.len, f);
                in_file++;
                total++;
            }
            size_t n = r->n_keys;
            if (n) {
                after_len = r->keys[n - 1]->fingerprint.len;
                memcpy(after, r->keys[n - 1]->fingerprint.data, after_len);
            }
            oks__response__free_unpacked(r, NULL);
            if (n == 0 || rc)
                break;
        }
    }
    if (f)
        fclose(f);
    printf("exported %zu keys into %d file(s) in %s\n", total, file_no, dir);
    oksctl_disconnect(&c);
    return rc;
}

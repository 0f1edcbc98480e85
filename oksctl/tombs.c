/* oksctl delete, undelete, tombstones, repair: tombstones and replica repair (docs/replicas.md). */
#include "oksctl/cluster.h"
#include "oksctl/oksctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char delete_usage[] =
    "usage: oksctl delete [-c CONFIG] [--shard NAME] --reason TEXT FINGERPRINT\n"
    "\n"
    "Deletes the key with that primary fingerprint from every replica of its slot and keeps a\n"
    "tombstone there: uploads (HTTP, mail), SKS recon and replicas that still hold a copy can\n"
    "no longer bring it back; they are refused with \"deleted by the operator: TEXT\".\n"
    "Succeeds once [cluster] write_quorum replicas stored the tombstone (the others copy it\n"
    "when they are back), also when no replica stored the key. Administrative: needs the admin\n"
    "key of [security] admin_key; the audit log records the admin key and TEXT (required,\n"
    "at most 200 bytes). --shard sends it to shard NAME directly instead of through a router.\n"
    "'oksctl undelete' lifts it.\n";

static const char undelete_usage[] =
    "usage: oksctl undelete [-c CONFIG] [--shard NAME] --reason TEXT FINGERPRINT\n"
    "\n"
    "Lifts the tombstone of that fingerprint on every replica of its slot: the key may be\n"
    "uploaded again (it is not restored: upload it). Administrative and audited like delete.\n";

static const char tombstones_usage[] =
    "usage: oksctl tombstones [-c CONFIG] [--all] [--shard NAME]\n"
    "\n"
    "Lists the deleted fingerprints of the cluster, once each: fingerprint, state (deleted),\n"
    "time of the delete (UTC), admin key, reason. --all lists lifted deletes too (state\n"
    "\"lifted\"); --shard lists what shard NAME stores (asked through a router).\n"
    "Administrative (admin key).\n";

static const char repair_usage[] =
    "usage: oksctl repair [-c CONFIG] SHARD\n"
    "\n"
    "Starts a full comparison of SHARD with each of its replica peers now (per-slot digests,\n"
    "then the hashes of the slots that differ); SHARD copies what it lacks. Answered at once;\n"
    "the shard's log reports \"repair with PEER done\". Administrative (admin key).\n";

/* -c, --shard, --reason, --all; returns the index of the first operand, -1 bad usage, -2 help */
static int options(int argc, char **argv, const char *usage, const char **conf,
                   const char **shard, const char **reason, int *all)
{
    static const struct option opts[] = {{"config", 1, NULL, 'c'}, {"help", 0, NULL, 'h'},
                                         {"shard", 1, NULL, 's'},  {"reason", 1, NULL, 'r'},
                                         {"all", 0, NULL, 'a'},    {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            *conf = optarg;
        else if (c == 'h') {
            fputs(usage, stdout);
            return -2;
        } else if (c == 's' && shard)
            *shard = optarg;
        else if (c == 'r' && reason)
            *reason = optarg;
        else if (c == 'a' && all)
            *all = 1;
        else {
            fputs(usage, stderr);
            return -1;
        }
    }
    return optind;
}

static int answer(Oks__Response *r)
{
    int rc = r->status == OKS__STATUS__STATUS_OK ? 0 : r->status == OKS__STATUS__STATUS_NOT_FOUND ? 3 : 1;
    if (rc)
        fprintf(stderr, "oksctl: %s: %s\n", oks_proto_status_name(r->status), r->error);
    else if (r->error && *r->error)
        printf("%s\n", r->error);
    return rc;
}

/* Connects (to shard when set, else a router), asks q, prints the answer; the exit status. */
static int call_once(const char *conf, const char *shard, Oks__Request *q)
{
    oksctl_conn c;
    if (oksctl_connect_to(&c, conf, shard))
        return 1;
    Oks__Response *r = oksctl_call(&c, q);
    int rc = r ? answer(r) : 1;
    if (r)
        oks__response__free_unpacked(r, NULL);
    oksctl_disconnect(&c);
    return rc;
}

static int tomb_op(int argc, char **argv, bool lift)
{
    const char *usage = lift ? undelete_usage : delete_usage;
    const char *conf = NULL, *shard = NULL, *reason = NULL;
    int i = options(argc, argv, usage, &conf, &shard, &reason, NULL);
    if (i == -2)
        return 0;
    uint8_t id[32];
    size_t len;
    if (i < 0 || i + 1 != argc || oksctl_parse_id(argv[i], id, &len) != 'f') {
        fputs(usage, stderr);
        return 2;
    }
    if (!reason || !*reason || strlen(reason) > 200) {
        fprintf(stderr, "oksctl: --reason TEXT is required (1 to 200 bytes): it goes to the audit "
                        "log and the tombstone\n");
        return 2;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Delete d = OKS__DELETE__INIT;
    Oks__Undelete u = OKS__UNDELETE__INIT;
    if (lift) {
        q.op_case = OKS__REQUEST__OP_UNDELETE;
        q.undelete = &u;
        u.fingerprint = (ProtobufCBinaryData){len, id};
        u.reason = (char *)reason;
    } else {
        q.op_case = OKS__REQUEST__OP_DELETE;
        q.delete_ = &d;
        d.fingerprint = (ProtobufCBinaryData){len, id};
        d.reason = (char *)reason;
    }
    return call_once(conf, shard, &q);
}

int oksctl_delete(int argc, char **argv)
{
    return tomb_op(argc, argv, false);
}

int oksctl_undelete(int argc, char **argv)
{
    return tomb_op(argc, argv, true);
}

/* Whether fingerprint f was already printed (a tombstone is on every replica of its slot). */
static bool seen(const uint8_t (*v)[33], size_t n, const ProtobufCBinaryData *f)
{
    for (size_t i = 0; i < n; i++)
        if (v[i][0] == f->len && memcmp(v[i] + 1, f->data, f->len) == 0)
            return true;
    return false;
}

int oksctl_tombstones(int argc, char **argv)
{
    const char *conf = NULL, *only = NULL;
    int all = 0;
    int i = options(argc, argv, tombstones_usage, &conf, &only, NULL, &all);
    if (i == -2)
        return 0;
    if (i < 0 || i != argc) {
        fputs(tombstones_usage, stderr);
        return 2;
    }
    oksctl_conn c;
    if (oksctl_connect(&c, conf))
        return 1;
    uint8_t (*printed)[33] = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (only && oks_cluster_shard_index(&c.conf, only) < 0) {
        fprintf(stderr, "oksctl: no shard %s in the config\n", only);
        oksctl_disconnect(&c);
        return 2;
    }
    for (size_t s = 0; s < c.conf.n_shards && rc == 0; s++) {
        uint8_t after[32];
        size_t after_len = 0;
        if (only && strcmp(only, c.conf.shards[s].name) != 0)
            continue;
        for (;;) {
            Oks__Request q = OKS__REQUEST__INIT;
            Oks__ListTombstones l = OKS__LIST_TOMBSTONES__INIT;
            q.op_case = OKS__REQUEST__OP_TOMBSTONES;
            q.tombstones = &l;
            l.shard = c.conf.shards[s].name;
            l.after = (ProtobufCBinaryData){after_len, after};
            l.lifted = all;
            Oks__Response *r = oksctl_call(&c, &q);
            if (!r || r->status != OKS__STATUS__STATUS_OK) {
                /* a replica down: its tombstones are on its peers too */
                if (r)
                    fprintf(stderr, "oksctl: shard %s: %s: %s\n", c.conf.shards[s].name,
                            oks_proto_status_name(r->status), r->error);
                rc = c.conf.replicas > 1 && !only ? 0 : 1;
                if (r)
                    oks__response__free_unpacked(r, NULL);
                break;
            }
            for (size_t k = 0; k < r->n_tombstones; k++) {
                const Oks__Tombstone *t = r->tombstones[k];
                if (t->fingerprint.len > 32 || seen(printed, n, &t->fingerprint))
                    continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    printed = realloc(printed, cap * sizeof *printed);
                    if (!printed)
                        return 1;
                }
                printed[n][0] = (uint8_t)t->fingerprint.len;
                memcpy(printed[n++] + 1, t->fingerprint.data, t->fingerprint.len);
                char hex[65], when[32];
                for (size_t b = 0; b < t->fingerprint.len; b++)
                    snprintf(hex + 2 * b, 3, "%02X", t->fingerprint.data[b]);
                time_t secs = (time_t)(t->stamp_ms / 1000);
                struct tm tm;
                gmtime_r(&secs, &tm);
                strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("%s %s %s %s %s\n", hex, t->lifted ? "lifted" : "deleted", when, t->who,
                       t->reason);
            }
            size_t got = r->n_tombstones;
            if (got) {
                after_len = r->tombstones[got - 1]->fingerprint.len;
                memcpy(after, r->tombstones[got - 1]->fingerprint.data, after_len);
            }
            oks__response__free_unpacked(r, NULL);
            if (!got)
                break;
        }
    }
    free(printed);
    oksctl_disconnect(&c);
    return rc;
}

int oksctl_repair(int argc, char **argv)
{
    const char *conf = NULL;
    int i = options(argc, argv, repair_usage, &conf, NULL, NULL, NULL);
    if (i == -2)
        return 0;
    if (i < 0 || i + 1 != argc) {
        fputs(repair_usage, stderr);
        return 2;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Repair rp = OKS__REPAIR__INIT;
    q.op_case = OKS__REQUEST__OP_REPAIR;
    q.repair = &rp;
    rp.shard = argv[i];
    return call_once(conf, NULL, &q);
}

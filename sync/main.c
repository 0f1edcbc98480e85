/*
 * oks-sync: SKS recon gossip. This version runs one reconciliation session (`oks-sync once`)
 * between a prefix tree built from keyring files and a peer (SKS, Hockeypuck or OKS), prints
 * the set difference it learned, and can fetch the missing keys from the peer's hashquery.
 * The long-running worker (change-log following, gossip loop) builds on the same units.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cluster.h"
#include "lib/xalloc.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "sync/peer.h"
#include "sync/recon.h"
#include "sync/worker.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: oks-sync once --keyring FILE [--keyring FILE...] (--connect HOST:PORT | "
            "--listen PORT)\n"
            "                     [--http-port N] [--timeout SECONDS] [--fetch]\n"
            "  Runs one recon session: --connect makes us the initiator (recon responder),\n"
            "  --listen waits for the peer to connect (we are the requester). Prints\n"
            "  'fetch HASH' for each hash the peer has and we lack, 'sent N' for the hashes we\n"
            "  announced; --fetch downloads the missing keys from the peer's /pks/hashquery and\n"
            "  prints 'fetched HASH' for the SKS hash of each key received.\n"
            "       oks-sync hashes --keyring FILE [--keyring FILE...]\n"
            "  Prints the SKS hash of every key of the keyrings.\n"
            "       oks-sync run -c oks.conf [--tree DIR] [--recon-port P] [--http-port P]\n"
            "                    [--membership FILE] [--partner HOST:PORT]... [--gossip-seconds N]\n"
            "                    [--timeout S] [--ignore-seconds N] [--stats FILE] [--state FILE]\n"
            "                    [--fetch-batch N] [--fetch-parallel N] [--add-parallel N]\n"
            "                    [--sessions N] [--session-seconds S] [--session-work N]\n"
            "                    [--session-buffer BYTES] [--fetch-max N] [--fetch-seconds S]\n"
            "                    [--backoff-seconds S] [--backoff-max-seconds S] [--log FILE]\n"
            "  The sync worker (SIGHUP re-reads the membership file). --timeout (60): each\n"
            "  recon message and each hashquery answer must arrive whole within it; the other\n"
            "  limits default to the [sync] settings of oks.conf (docs/config.md).\n"
            "       oks-sync rebuild -c oks.conf [--tree DIR]      (default: [sync] tree)\n"
            "  Rebuilds the tree from the shards' change logs (worker stopped).\n"
            "       oks-sync dump --tree DIR\n");
}

static int fetch_keys(const char *host, uint32_t port, const oks_recon_result *r, int tmo)
{
    size_t total = 0;
    for (size_t i = 0; i < r->nfetch; i += 100) {
        size_t n = r->nfetch - i < 100 ? r->nfetch - i : 100;
        oks_buf body = OKS_BUF_INIT;
        oks_err e;
        if (oks_sync_hashquery(host, (int)port, r->fetch + i, n, tmo, &body, &e) != 0) {
            oks_error("hashquery %s:%u: %s", host, port, e.msg);
            oks_buf_release(&body);
            return 1;
        }
        if (body.len < 4) {
            oks_buf_release(&body);
            return 1;
        }
        uint32_t cnt = oks_be32(body.data);
        size_t off = 4;
        for (uint32_t k = 0; k < cnt; k++) {
            if (body.len - off < 4 || body.len - off - 4 < oks_be32(body.data + off)) {
                oks_error("hashquery answer truncated at byte %zu", off);
                oks_buf_release(&body);
                return 1;
            }
            uint32_t kl = oks_be32(body.data + off);
            oks_pgp_key *key = NULL;
            if (oks_pgp_key_parse(body.data + off + 4, kl, NULL, OKS_PGP_TRUSTED, &key, &e) ==
                0) {
                uint8_t h[16];
                char hex[33];
                oks_pgp_key_sks_hash(key, h);
                oks_hex(hex, h, 16, 1);
                printf("fetched %s\n", hex);
                oks_pgp_key_free(key);
                total++;
            }
            off += 4 + kl;
        }
        oks_buf_release(&body);
    }
    printf("fetched-count %zu\n", total);
    return 0;
}

static int cmd_once(int argc, char **argv)
{
    const char *connect_to = NULL;
    int listen_port = 0, do_fetch = 0, timeout_s = 60;
    oks_recon_opts o;
    oks_recon_opts_default(&o);
    oks_ptree *t;
    oks_err e;
    if (oks_ptree_open(NULL, &t, &e))
        return 2;
    size_t keys = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--fetch") == 0) {
            do_fetch = 1;
            continue;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--keyring") == 0) {
            size_t n;
            if (oks_sync_tree_add_keyring(t, v, &n, &e)) {
                fprintf(stderr, "oks-sync: %s\n", e.msg);
                return 2;
            }
            keys += n;
        } else if (strcmp(a, "--connect") == 0)
            connect_to = v;
        else if (strcmp(a, "--listen") == 0)
            listen_port = atoi(v);
        else if (strcmp(a, "--http-port") == 0)
            o.cfg.http_port = (uint32_t)atoi(v);
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    if (!connect_to == !listen_port || timeout_s <= 0) {
        usage();
        return 2;
    }
    o.read_timeout_ms = o.config_timeout_ms = timeout_s * 1000;
    int fd = connect_to ? oks_sync_connect(connect_to, timeout_s * 1000, &e)
                        : oks_sync_accept_one(listen_port, timeout_s * 1000, &e);
    if (fd < 0) {
        fprintf(stderr, "oks-sync: %s\n", e.msg);
        return 1;
    }
    oks_recon_result r;
    int rc = oks_recon_session(fd, connect_to ? OKS_RECON_RESPONDER : OKS_RECON_REQUESTER, t, &o,
                               &r, &e);
    close(fd);
    if (rc) {
        oks_error("recon session with %s failed: %s", connect_to ? connect_to : "peer", e.msg);
        fprintf(stderr, "oks-sync: %s\n", e.msg);
        oks_recon_result_release(&r);
        oks_ptree_free(t);
        return 1;
    }
    for (size_t i = 0; i < r.nfetch; i++) {
        char hex[33];
        oks_hex(hex, r.fetch[i], 16, 1);
        printf("fetch %s\n", hex);
    }
    printf("keys %zu\nfetch-count %zu\nsent %zu\npeer-http-port %u\nmessages %zu\n", keys,
           r.nfetch, r.sent, r.peer_http_port, r.messages);
    fflush(stdout);
    if (do_fetch) {
        char host[64] = "127.0.0.1";
        unsigned port; /* the recon port; the peer's HTTP port came in its Config */
        if (connect_to && oks_hostport_split(connect_to, host, sizeof host, &port, &e) != 0)
            rc = 1; /* not reached: oks_sync_connect parsed it already */
        else
            rc = fetch_keys(host, r.peer_http_port, &r, timeout_s * 1000);
    }
    oks_recon_result_release(&r);
    oks_ptree_free(t);
    return rc ? 1 : 0;
}

/* oks-sync hashes --keyring FILE...: the SKS hash of every key, as the tree holds them;
 * oks-sync dump --tree DIR: the hashes of a worker's tree */
static int cmd_hashes(int argc, char **argv)
{
    oks_ptree *t;
    oks_err e;
    const char *dir = argc == 3 && strcmp(argv[1], "--tree") == 0 ? argv[2] : NULL;
    if (oks_ptree_open(dir, &t, &e)) {
        fprintf(stderr, "oks-sync: %s\n", e.msg);
        return 2;
    }
    for (int i = 1; !dir && i + 1 < argc; i += 2) {
        size_t n;
        if (strcmp(argv[i], "--keyring") != 0) {
            fprintf(stderr, "oks-sync: --keyring FILE expected\n");
            oks_ptree_free(t);
            return 2;
        }
        if (oks_sync_tree_add_keyring(t, argv[i + 1], &n, &e)) {
            fprintf(stderr, "oks-sync: %s\n", e.msg);
            oks_ptree_free(t);
            return 2;
        }
    }
    uint8_t(*h)[16];
    size_t n;
    if (oks_ptree_all_hashes(t, &h, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            char hex[33];
            oks_hex(hex, h[i], 16, 1);
            printf("%s\n", hex);
        }
        free(h);
    }
    oks_ptree_free(t);
    return 0;
}

/* oks-sync run|rebuild -c oks.conf --tree DIR [--recon-port P] [--http-port P]
 * [--partner IP:PORT]... [--membership FILE] [--gossip-seconds N] [--stats FILE]
 * [--state FILE] [--fetch-batch N] [--fetch-parallel N] [--add-parallel N] [--log FILE] and
 * the round limits (0 or absent: the [sync] settings of oks.conf) */
static int cmd_worker(int argc, char **argv)
{
    const char *cmd = argv[0];
    oks_sync_conf c;
    oks_sync_conf_default(&c);
    const char *log = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "-c") == 0)
            c.cluster_conf = v;
        else if (strcmp(a, "--tree") == 0)
            c.tree_dir = v;
        else if (strcmp(a, "--recon-port") == 0)
            c.recon_port = atoi(v);
        else if (strcmp(a, "--http-port") == 0)
            c.http_port = atoi(v);
        else if (strcmp(a, "--partner") == 0 && c.n_partners < OKS_SYNC_MAX_PARTNERS)
            c.partners[c.n_partners++] = v;
        else if (strcmp(a, "--gossip-seconds") == 0)
            c.gossip_seconds = atoi(v);
        else if (strcmp(a, "--timeout") == 0)
            c.session_timeout_s = atoi(v);
        else if (strcmp(a, "--ignore-seconds") == 0)
            c.ignore_seconds = atoi(v);
        else if (strcmp(a, "--stats") == 0)
            c.stats_path = v;
        else if (strcmp(a, "--state") == 0)
            c.state_path = v;
        else if (strcmp(a, "--membership") == 0)
            c.membership = v;
        else if (strcmp(a, "--fetch-batch") == 0)
            c.fetch_batch = atoi(v);
        else if (strcmp(a, "--fetch-parallel") == 0)
            c.fetch_parallel = atoi(v);
        else if (strcmp(a, "--add-parallel") == 0)
            c.add_parallel = atoi(v);
        else if (strcmp(a, "--log") == 0)
            log = v;
        else if (strcmp(a, "--sessions") == 0)
            c.sessions = atoi(v);
        else if (strcmp(a, "--session-seconds") == 0)
            c.session_seconds = atoi(v);
        else if (strcmp(a, "--session-work") == 0)
            c.session_work = atoll(v);
        else if (strcmp(a, "--session-buffer") == 0)
            c.session_buffer = atoll(v);
        else if (strcmp(a, "--fetch-max") == 0)
            c.fetch_max = atoi(v);
        else if (strcmp(a, "--fetch-seconds") == 0)
            c.fetch_seconds = atoi(v);
        else if (strcmp(a, "--backoff-seconds") == 0)
            c.backoff_seconds = atoi(v);
        else if (strcmp(a, "--backoff-max-seconds") == 0)
            c.backoff_max_seconds = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    if (c.sessions < 0 || c.sessions > 64 || c.session_seconds < 0 || c.session_work < 0 ||
        c.session_buffer < 0 || (c.session_buffer && c.session_buffer < 65536) ||
        c.fetch_max < 0 || c.fetch_seconds < 0 || c.backoff_seconds < 0 ||
        c.backoff_max_seconds < 0) {
        usage();
        return 2;
    }
    char *conf_tree = NULL; /* [sync] tree of oks.conf when --tree is not given */
    if (c.cluster_conf && !c.tree_dir) {
        oks_cluster cl;
        oks_err ce;
        if (oks_cluster_load(c.cluster_conf, &cl, &ce)) {
            fprintf(stderr, "oks-sync: config: %s\n", ce.msg);
            return 1;
        }
        if (cl.sync.tree[0] && !(conf_tree = oks_xstrdup(cl.sync.tree))) {
            oks_cluster_release(&cl);
            return 1;
        }
        oks_cluster_release(&cl);
        c.tree_dir = conf_tree;
    }
    if (!c.cluster_conf || !c.tree_dir || c.session_timeout_s <= 0 || c.fetch_batch < 1 ||
        c.fetch_batch > OKS_PROTO_MAX_ITEMS || c.fetch_parallel < 1 || c.fetch_parallel > 32 ||
        c.add_parallel < 1 || c.add_parallel > 32) {
        free(conf_tree);
        usage();
        return 2;
    }
    if (log)
        oks_log_open("oks-sync", log);
    oks_err e;
    oks_err_clear(&e);
    size_t hashes = 0;
    int rc = strcmp(cmd, "run") == 0 ? oks_sync_run(&c, &e) : oks_sync_rebuild(&c, &hashes, &e);
    if (rc == 0 && strcmp(cmd, "rebuild") == 0)
        oks_info("tree rebuilt: %zu hashes", hashes);
    free(conf_tree);
    if (rc) {
        fprintf(stderr, "oks-sync: %s\n", e.msg);
        oks_error("%s", e.msg);
        return 1;
    }
    return 0;
}

/* subcommands: each gets argv from its own name on */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"once", cmd_once},       {"hashes", cmd_hashes}, {"dump", cmd_hashes},
    {"run", cmd_worker},      {"rebuild", cmd_worker},
};

int main(int argc, char **argv)
{
    if (oks_gcrypt_init()) {
        fprintf(stderr, "libgcrypt too old\n");
        return 2;
    }
    oks_log_open("oks-sync", NULL);
    for (size_t i = 0; argc >= 2 && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    usage();
    return 2;
}

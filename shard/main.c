/* oks-shard: one shard server of an OKS cluster. Parses options, opens the store, runs. */
#include "lib/cluster.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/mapwatch.h"
#include "lib/reclaim.h"
#include "lib/zsec.h"
#include "shard/metrics.h"
#include "shard/shard.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int stop_flag;

/* A new map from etcd (lib/mapwatch.h), on the watcher's thread. */
static unsigned apply_map(oks_cluster *next, void *arg)
{
    oks_shard *sh = arg;
    oks_err e;
    if (oks_shard_map_apply(sh, next, &e))
        oks_warn("%s", e.msg);
    free(next);
    return sh->conf->epoch;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oks-shard -c CONFIG --name NAME [--log FILE] [--log-level LEVEL]\n"
            "\n"
            "Serves the slots that CONFIG (see deploy/oks.conf.example) gives to the shard\n"
            "section [shard.NAME]: binds its bind endpoint (else its endpoint), stores keys\n"
            "in its data directory.\n"
            "  -c, --config FILE   cluster config (default: $OKS_CONFIG)\n"
            "  -n, --name NAME     which [shard.NAME] this process is\n"
            "  -l, --log FILE      log file (default: stderr)\n"
            "      --log-level L   debug, info, warn or error (default info)\n");
}

int main(int argc, char **argv)
{
    const char *conf_path = getenv("OKS_CONFIG"), *name = NULL, *log_path = NULL;
    int level = OKS_LOG_INFO;
    static const struct option opts[] = {{"config", 1, NULL, 'c'}, {"name", 1, NULL, 'n'},
                                         {"log", 1, NULL, 'l'},    {"log-level", 1, NULL, 'L'},
                                         {"help", 0, NULL, 'h'},   {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:n:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf_path = optarg; break;
        case 'n': name = optarg; break;
        case 'l': log_path = optarg; break;
        case 'L':
            if ((level = oks_daemon_log_level("shard", optarg)) < 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!conf_path || !name) {
        usage(stderr);
        return 2;
    }
    char prog[80];
    snprintf(prog, sizeof prog, "shard.%s", name);
    oks_cluster conf;
    if (oks_daemon_start(prog, conf_path, log_path, level, &stop_flag, &conf))
        return 1;
    oks_err e;
    char msg[400];
    uint64_t map_rev = 0;
    if (oks_mapwatch_initial(&conf, conf_path, &map_rev, &e)) {
        oks_error("slot map in etcd: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    oks_shard sh;
    memset(&sh, 0, sizeof sh);
    sh.conf = &conf;
    sh.self = oks_cluster_shard_index(&conf, name);
    if (sh.self < 0) {
        oks_error("config %s has no [shard.%s]", conf_path, name);
        return 1;
    }
    oks_pgp_limits_default(&sh.lim);
#define LIM(f)                                                                                     \
    if (conf.f)                                                                                    \
    sh.lim.f = conf.f
    LIM(max_key_bytes); LIM(max_packet_bytes); LIM(max_attribute_bytes); LIM(max_sig_bytes);
    LIM(max_packets); LIM(max_uids); LIM(max_subkeys); LIM(max_sigs_per_uid);
    LIM(max_third_party_per_uid);
#undef LIM
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    sh.n_workers = conf.shard_workers ? conf.shard_workers : (unsigned)(ncpu > 0 ? ncpu : 2);
    const char *dir = conf.shards[sh.self].data_dir;
    if (!dir[0]) {
        oks_error("[shard.%s] has no data directory", name);
        return 1;
    }
    oks_store_opts so;
    if (oks_store_opts_from_config(&conf, &so, &e)) {
        oks_error("config: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    sh.zctx = zmq_ctx_new();
    bool keys = oks_zsec_start(&conf, OKS_ROLE_SHARD, sh.zctx, &e) == 0;
    if (!keys || oks_store_open(dir, &so, &sh.store, &e)) {
        if (keys)
            oks_error("store %s: %s", dir, oks_err_format(&e, msg, sizeof msg));
        else
            oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        oks_zsec_stop();
        zmq_ctx_term(sh.zctx);
        return 1;
    }
    int rc = oks_shard_metrics_start(&sh, &e);
    oks_mapwatch *mw = NULL;
    sh.gc = oks_reclaim_new(); /* before the watcher applies a map or a thread reads one */
    if (rc == 0 && conf.etcd.endpoints[0])
        rc = oks_mapwatch_start(&conf, conf_path, "shard", name, map_rev, apply_map, &sh, &mw,
                                &e);
    if (rc == 0)
        rc = oks_shard_run(&sh, &stop_flag, &e);
    oks_mapwatch_stop(mw);
    if (rc)
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
    oks_shard_metrics_stop();
    oks_zsec_stop();
    zmq_ctx_term(sh.zctx);
    oks_store_close(sh.store);
    oks_shard_maps_release(&sh);
    oks_cluster_release(&conf);
    return rc ? 1 : 0;
}

/* oks-gw-dns: OPENPGPKEY records (RFC 7929) of an OKS cluster over DNS (UDP and TCP). */
#include "gw-dns/dns.h"

#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/zsec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

static oks_cluster the_conf;
static atomic_int the_stop;

static void usage(FILE *f)
{
    fprintf(f, "usage: oks-gw-dns -c CONFIG [--listen HOST:PORT] [--log FILE] [--log-level L]\n"
               "\n"
               "Answers DNS OPENPGPKEY queries (RFC 7929) over UDP and TCP for the mail domains\n"
               "of [dns] domains (<sha256-28 hex>._openpgpkey.DOMAIN) from the keys of the\n"
               "cluster, asking every router of CONFIG ([cluster] routers, failing over). Other\n"
               "domains get REFUSED. Settings come from the [dns] section: listen\n"
               "(127.0.0.1:5353), domains, ttl, negative_ttl, soa_*, deadline_ms, max_records,\n"
               "max_tcp, tcp_idle_ms, cache_entries, rrl_rate, rrl_burst, rrl_slip (see\n"
               "oks.conf(5)). With CURVE it uses the HTTP gateways' key ([security] http_key).\n");
}

int main(int argc, char **argv)
{
    const char *conf_path = getenv("OKS_CONFIG"), *listen = NULL, *log_path = NULL;
    int level = OKS_LOG_INFO, c;
    static const struct option opts[] = {{"config", 1, NULL, 'c'}, {"listen", 1, NULL, 'L'},
                                         {"log", 1, NULL, 'l'},    {"log-level", 1, NULL, 'v'},
                                         {"help", 0, NULL, 'h'},   {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf_path = optarg;
            break;
        case 'L':
            listen = optarg;
            break;
        case 'l':
            log_path = optarg;
            break;
        case 'v':
            if ((level = oks_daemon_log_level("gw-dns", optarg)) < 0)
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!conf_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (oks_daemon_start("gw-dns", conf_path, log_path, level, &the_stop, &the_conf))
        return 1;
    if (the_conf.n_routers == 0) {
        oks_error("%s names no router", conf_path);
        return 1;
    }
    oks_err e;
    char msg[400];
    void *zctx = zmq_ctx_new();
    if (oks_zsec_start(&the_conf, OKS_ROLE_HTTP, zctx, &e) ||
        gwd_run(&the_conf, listen, &the_stop, zctx, &e)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    oks_notify_stopping();
    oks_info("gateway stopped");
    zmq_ctx_term(zctx);
    oks_cluster_release(&the_conf);
    return 0;
}

/* oks-router: routes cluster requests from clients to the shards that own the keys. */
#include "lib/cluster.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/mapwatch.h"
#include "lib/notify.h"
#include "lib/zsec.h"
#include "router/metrics.h"
#include "router/router.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static atomic_int stop_flag;

static void usage(FILE *f)
{
    fprintf(f, "usage: oks-router -c CONFIG [--bind ENDPOINT] [--metrics-listen HOST:PORT|off]\n"
               "                  [--log FILE] [--log-level LEVEL]\n"
               "\n"
               "Binds a frontend for clients and connects to every shard of CONFIG.\n"
               "  -c, --config FILE   cluster config (default: $OKS_CONFIG)\n"
               "  -b, --bind EP       frontend endpoint (default: [router] bind, else the first of [cluster] routers)\n"
               "      --metrics-listen HOST:PORT|off\n"
               "                      /metrics address instead of [router] metrics_listen (for\n"
               "                      a second router on the same host; off: none)\n"
               "  -l, --log FILE      log file (default: stderr)\n"
               "      --log-level L   debug, info, warn or error (default info)\n");
}

/* The watcher's side of the router's map input (router.h): a PAIR of the watcher thread. */
typedef struct map_input {
    void *zctx, *sock;
    char ep[64], name[128];
} map_input;

/* A new map from etcd (lib/mapwatch.h), on the watcher's thread: handed to the router's loop,
 * which answers with the epoch it applied. */
static unsigned apply_map(oks_cluster *next, void *arg)
{
    map_input *in = arg;
    unsigned epoch = next->epoch;
    if (!in->sock) {
        in->sock = zmq_socket(in->zctx, ZMQ_PAIR);
        int wait_ms = 5000, linger = 0; /* a router that stopped does not hold its watcher */
        if (in->sock) {
            zmq_setsockopt(in->sock, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
            zmq_setsockopt(in->sock, ZMQ_SNDTIMEO, &wait_ms, sizeof wait_ms);
            zmq_setsockopt(in->sock, ZMQ_LINGER, &linger, sizeof linger);
        }
        if (!in->sock || zmq_connect(in->sock, in->ep) != 0) {
            oks_error("map input %s: %s", in->ep, zmq_strerror(errno));
            oks_cluster_release(next);
            free(next);
            return 0;
        }
    }
    if (zmq_send(in->sock, &next, sizeof next, 0) != (int)sizeof next) {
        oks_cluster_release(next);
        free(next);
        return 0;
    }
    uint32_t applied = 0; /* no answer: 0, nothing known applied */
    while (zmq_recv(in->sock, &applied, sizeof applied, 0) < 0 && errno == EINTR)
        ;
    if (applied != epoch)
        oks_warn("map epoch %u refused", epoch);
    return applied;
}

/* The router's member name: its host and frontend port ("host:port"). */
static const char *member_name(const char *bind, char *out, size_t n)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    const char *port = strrchr(bind, ':');
    snprintf(out, n, "%s%s", host, port ? port : "");
    return out;
}

int main(int argc, char **argv)
{
    const char *conf_path = getenv("OKS_CONFIG"), *bind = NULL, *log_path = NULL;
    const char *metrics_listen = NULL;
    int level = OKS_LOG_INFO, c;
    static const struct option opts[] = {{"config", 1, NULL, 'c'}, {"bind", 1, NULL, 'b'},
                                         {"log", 1, NULL, 'l'},    {"log-level", 1, NULL, 'L'},
                                         {"metrics-listen", 1, NULL, 'M'},
                                         {"help", 0, NULL, 'h'},   {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "c:b:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf_path = optarg; break;
        case 'b': bind = optarg; break;
        case 'l': log_path = optarg; break;
        case 'M': metrics_listen = optarg; break;
        case 'L':
            if ((level = oks_daemon_log_level("router", optarg)) < 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!conf_path) {
        usage(stderr);
        return 2;
    }
    oks_cluster conf;
    if (oks_daemon_start("router", conf_path, log_path, level, &stop_flag, &conf))
        return 1;
    oks_err e;
    char msg[400];
    uint64_t map_rev = 0;
    if (oks_mapwatch_initial(&conf, conf_path, &map_rev, &e)) {
        oks_error("slot map in etcd: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (metrics_listen && strcmp(metrics_listen, "off") == 0) {
        memset(&conf.router_metrics.listen, 0, sizeof conf.router_metrics.listen);
    } else if (metrics_listen &&
               oks_hostport_parse(metrics_listen, &conf.router_metrics.listen, &e)) {
        oks_error("--metrics-listen: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (!bind)
        bind = conf.router_bind[0] ? conf.router_bind : conf.n_routers ? conf.routers[0] : NULL;
    if (!bind) {
        oks_error("no --bind, no [router] bind and no [cluster] routers in %s", conf_path);
        return 1;
    }
    void *zctx = oks_router_zctx_new();
    if (!zctx) {
        oks_error("cannot create the ZeroMQ context: %s", zmq_strerror(errno));
        return 1;
    }
    oks_router *r = NULL;
    if (oks_zsec_start(&conf, OKS_ROLE_ROUTER, zctx, &e) == 0)
        r = oks_router_new(&conf, zctx, bind, &e);
    if (!r) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        oks_zsec_stop();
        zmq_ctx_term(zctx);
        return 1;
    }
    if (oks_router_metrics_start(&conf, &e)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        oks_router_free(r);
        oks_zsec_stop();
        zmq_ctx_term(zctx);
        return 1;
    }
    oks_info("router on %s for %zu shards, %u slots", bind, conf.n_shards, conf.n_slots);
    map_input in = {.zctx = zctx};
    snprintf(in.ep, sizeof in.ep, "inproc://oks-router-maps-%p", (void *)r);
    oks_mapwatch *mw = NULL;
    if (conf.etcd.endpoints[0] &&
        (oks_router_maps_bind(r, in.ep, &e) != 0 ||
         oks_mapwatch_start(&conf, conf_path, "router", member_name(bind, in.name, sizeof in.name),
                            map_rev, apply_map, &in, &mw, &e) != 0)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        oks_router_metrics_stop();
        oks_router_free(r);
        oks_zsec_stop();
        zmq_ctx_term(zctx);
        return 1;
    }
    oks_notify_ready();
    int rc = oks_router_run(r, &stop_flag);
    oks_mapwatch_stop(mw);
    if (in.sock)
        zmq_close(in.sock);
    if (rc)
        oks_error("router loop failed: %s", rc == OKS_E_NOMEM ? "out of memory" : "poll error");
    oks_info("router stopping");
    oks_notify_stopping();
    oks_router_metrics_stop();
    oks_router_free(r);
    oks_zsec_stop();
    zmq_ctx_term(zctx);
    oks_cluster_release(&conf);
    return rc ? 1 : 0;
}

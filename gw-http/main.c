/* oks-gw-http: the HTTP gateway (HKP) of an OKS cluster. */
#include "gw-http/gw.h"

#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/zsec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw the_gw;

static void usage(FILE *f)
{
    fprintf(f, "usage: oks-gw-http -c CONFIG [--listen HOST:PORT] [--log FILE] [--log-level L]\n"
               "\n"
               "Serves HKP (/pks/lookup, /pks/add, /pks/hashquery), /pks/health (readiness),\n"
               "/pks/health/live (liveness) and /metrics, talking to every router of CONFIG\n"
               "([cluster] routers, failing over). Settings come from the [http] section:\n"
               "listen (127.0.0.1:11371), threads (2), max_body (5242880 bytes; 413 above),\n"
               "max_url (8192 bytes; 414 above), max_keys_per_upload (100; 413 above),\n"
               "deadline_ms (router deadline + 500; 503 with Retry-After above), max_results\n"
               "(500 keys per answer), templates (directory of NAME.html page templates).\n"
               "\n"
               "oks-gw-http dump-templates DIR writes the built-in page templates (home, index,\n"
               "key, stats, upload, error, submit) and style.css into DIR as a starting point\n"
               "for [http] templates (docs/web.md names their variables).\n"
               "\n"
               "SIGHUP re-reads the templates, the rate limits ([http] rate_*, burst_*) and\n"
               "metrics_allow from CONFIG (a bad file is logged and the running settings stay)\n"
               "and reopens the log file.\n");
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
        case 'c': conf_path = optarg; break;
        case 'L': listen = optarg; break;
        case 'l': log_path = optarg; break;
        case 'v':
            if ((level = oks_daemon_log_level("gw-http", optarg)) < 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 2 == argc && strcmp(argv[optind], "dump-templates") == 0)
        return gw_pages_dump(argv[optind + 1]);
    if (!conf_path) {
        usage(stderr);
        return 2;
    }
    the_gw.conf_path = conf_path;
    if (oks_daemon_start("gw-http", conf_path, log_path, level, &the_gw.stop, &the_gw.cluster))
        return 1;
    oks_err e;
    char msg[400];
    if (gw_load_conf(&the_gw, listen, &e)) {
        oks_error("config: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (the_gw.cluster.n_routers == 0) {
        oks_error("%s names no router", conf_path);
        return 1;
    }
    the_gw.zctx = zmq_ctx_new();
    if (oks_zsec_start(&the_gw.cluster, OKS_ROLE_HTTP, the_gw.zctx, &e)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (gw_run(&the_gw, &e)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    oks_notify_stopping();
    oks_info("gateway stopped");
    /* loops and contexts are not torn down: h2o 2.2 asserts on disposing linked timers, and
     * the process is ending anyway */
    return 0;
}

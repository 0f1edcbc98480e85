/* oks-gw-ldap: the LDAP gateway of an OKS cluster, behind slapd's back-sock (docs/ldap.md). */
#include "gw-ldap/gwl.h"

#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/zsec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static gwl the_gwl;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oks-gw-ldap -c CONFIG [--socket PATH] [--log FILE] [--log-level L]\n"
            "       oks-gw-ldap -c CONFIG [--socket PATH] slapd-conf DIR [--schema-dir D]\n"
            "                   [--module-dir D]\n"
            "\n"
            "Answers the LDAP operations slapd's back-sock database hands over for [ldap]\n"
            "base_dn (GnuPG's LDAP keyserver schema: pgpServerInfo, pgpKeyInfo entries),\n"
            "looking keys up through every router of CONFIG ([cluster] routers, failing over).\n"
            "Settings come from the [ldap] section: socket (/run/oks/gw-ldap.sock), base_dn\n"
            "(o=OpenKeyServer), allow_upload (no), threads (16), max_filter_terms (16),\n"
            "max_lookups (4), min_word_length (3), size_limit (100), time_limit (10 s),\n"
            "deadline_ms (router deadline + 500), max_request (4M), metrics_listen (unset:\n"
            "no /metrics), metrics_allow (127.0.0.0/8 ::1).\n"
            "\n"
            "slapd-conf DIR writes DIR/slapd.conf and DIR/oks-pgp.schema for these settings\n"
            "(slapd's schema files from --schema-dir, default /etc/ldap/schema; back_sock from\n"
            "--module-dir, default /usr/lib/ldap); then: slapd -f DIR/slapd.conf -h ldap://H:P/\n");
}

int main(int argc, char **argv)
{
    const char *conf_path = getenv("OKS_CONFIG"), *sock = NULL, *log_path = NULL;
    gwl_slapd_paths paths = {.schema_dir = "/etc/ldap/schema", .module_dir = "/usr/lib/ldap"};
    int level = OKS_LOG_INFO, c;
    static const struct option opts[] = {
        {"config", 1, NULL, 'c'},     {"socket", 1, NULL, 's'},     {"log", 1, NULL, 'l'},
        {"log-level", 1, NULL, 'v'},  {"schema-dir", 1, NULL, 'S'}, {"module-dir", 1, NULL, 'M'},
        {"help", 0, NULL, 'h'},       {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf_path = optarg; break;
        case 's': sock = optarg; break;
        case 'l': log_path = optarg; break;
        case 'S': paths.schema_dir = optarg; break;
        case 'M': paths.module_dir = optarg; break;
        case 'v':
            if ((level = oks_daemon_log_level("gw-ldap", optarg)) < 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bool slapd_conf = optind + 2 == argc && strcmp(argv[optind], "slapd-conf") == 0;
    if (!conf_path || (optind != argc && !slapd_conf)) {
        usage(stderr);
        return 2;
    }
    if (oks_daemon_start("gw-ldap", conf_path, log_path, level, &the_gwl.stop, &the_gwl.cluster))
        return 1;
    oks_err e;
    char msg[400];
    if (gwl_load_conf(&the_gwl, sock, &e)) {
        oks_error("config: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (slapd_conf) {
        paths.dir = argv[optind + 1];
        if (gwl_slapd_conf(&the_gwl, &paths, &e)) {
            oks_error("%s", oks_err_format(&e, msg, sizeof msg));
            return 1;
        }
        return 0;
    }
    if (the_gwl.cluster.n_routers == 0) {
        oks_error("%s names no router", conf_path);
        return 1;
    }
    the_gwl.zctx = zmq_ctx_new();
    /* the LDAP gateway reads and adds as the HTTP gateway does, under its role and key */
    if (oks_zsec_start(&the_gwl.cluster, OKS_ROLE_HTTP, the_gwl.zctx, &e)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (gwl_metrics_start(&the_gwl.cluster, &e)) {
        oks_error("metrics: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    int rc = gwl_run(&the_gwl, &e);
    gwl_metrics_stop();
    if (rc) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    oks_notify_stopping();
    oks_info("gateway stopped");
    return 0;
}

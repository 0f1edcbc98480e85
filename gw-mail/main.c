/* oks-gw-mail: the PKS-style e-mail keyserver: polls a POP3 mailbox, answers by SMTP. */
#include "gw-mail/conf.h"
#include "gw-mail/metrics.h"
#include "lib/xalloc.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/proto.h"
#include "lib/zsec.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static atomic_int stop_flag;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oks-gw-mail -c CONFIG [options]\n"
            "\n"
            "Polls a POP3 mailbox and answers PKS mail commands (HELP, ADD, INDEX, VERBOSE INDEX,\n"
            "GET, MGET, LAST, INCREMENTAL from sync sites) by SMTP, using the cluster's router.\n"
            "Settings come from the [mail] section of CONFIG; these options override it:\n"
            "  -c, --config FILE         cluster config (default: $OKS_CONFIG)\n"
            "      --pop3 HOST:PORT      mailbox server        --pop3-tls none|starttls|implicit\n"
            "      --user USER           POP3 user             --password PASS | --password-file F\n"
            "      --smtp HOST:PORT      SMTP server for replies\n"
            "      --address ADDR        the gateway's own address (From of replies)\n"
            "      --state-dir DIR       where the answered-mail store lives\n"
            "      --templates DIR       reply-body templates (NAME.txt; missing = built-in)\n"
            "      --poll-seconds N      poll interval (default 30)\n"
            "      --once                one poll, then exit (0 when it succeeded)\n"
            "      --crash-after-replies N  testing: exit(3) after N replies, before DELE\n"
            "  -l, --log FILE            log file (default stderr)   --log-level LEVEL\n"
            "\n"
            "oks-gw-mail dump-templates DIR writes the built-in reply templates (help, invalid,\n"
            "failed, get, index, add, mget, last, toobig, incremental) into DIR as a starting\n"
            "point for [mail] templates.\n"
            "\n"
            "SIGHUP re-reads the templates and the rate limits of [mail] (between two polls; a\n"
            "bad file is logged and the running settings stay) and reopens the log file.\n");
}

int main(int argc, char **argv)
{
    const char *conf_path = getenv("OKS_CONFIG"), *log_path = NULL;
    int level = OKS_LOG_INFO, c, once = 0;
    static oks_mail_conf cf;
    oks_mail_exec x;
    oks_mail_conf_defaults(&cf, &x);
    struct {
        const char *pop3, *pop3_tls, *user, *password, *password_file, *smtp, *address, *state,
            *poll, *crash, *templates;
    } o = {0};
    static const struct option opts[] = {
        {"config", 1, NULL, 'c'},        {"pop3", 1, NULL, 'P'},
        {"pop3-tls", 1, NULL, 'T'},      {"user", 1, NULL, 'u'},
        {"password", 1, NULL, 'p'},      {"password-file", 1, NULL, 'F'},
        {"smtp", 1, NULL, 'S'},          {"address", 1, NULL, 'a'},
        {"state-dir", 1, NULL, 'd'},     {"poll-seconds", 1, NULL, 'i'},
        {"once", 0, NULL, '1'},          {"crash-after-replies", 1, NULL, 'X'},
        {"log", 1, NULL, 'l'},           {"log-level", 1, NULL, 'L'},
        {"templates", 1, NULL, 't'},     {"help", 0, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf_path = optarg; break;
        case 'P': o.pop3 = optarg; break;
        case 'T': o.pop3_tls = optarg; break;
        case 'u': o.user = optarg; break;
        case 'p': o.password = optarg; break;
        case 'F': o.password_file = optarg; break;
        case 'S': o.smtp = optarg; break;
        case 'a': o.address = optarg; break;
        case 'd': o.state = optarg; break;
        case 'i': o.poll = optarg; break;
        case '1': once = 1; break;
        case 'X': o.crash = optarg; break;
        case 't': o.templates = optarg; break;
        case 'l': log_path = optarg; break;
        case 'L':
            if ((level = oks_daemon_log_level("gw-mail", optarg)) < 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 2 == argc && strcmp(argv[optind], "dump-templates") == 0)
        return oks_mail_tmpl_dump(argv[optind + 1]);
    if (!conf_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    oks_cluster cl;
    if (oks_daemon_start("gw-mail", conf_path, log_path, level, &stop_flag, &cl))
        return 1;
    oks_err e;
    char msg[400];
    if (oks_mail_conf_load(&cl, &cf, &x, &e) ||
        (o.pop3 && oks_mail_hostport(o.pop3, cf.pop3_host, sizeof cf.pop3_host, &cf.pop3_port, &e)) ||
        (o.pop3_tls && oks_mail_parse_tls(o.pop3_tls, &cf.pop3_tls, &e)) ||
        (o.smtp && oks_mail_hostport(o.smtp, cf.smtp_host, sizeof cf.smtp_host, &cf.smtp_port, &e)) ||
        (o.password_file &&
         oks_mail_read_password_file(o.password_file, cf.password, sizeof cf.password, &e))) {
        oks_error("config: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (o.user)
        snprintf(cf.user, sizeof cf.user, "%s", o.user);
    if (o.password)
        snprintf(cf.password, sizeof cf.password, "%s", o.password);
    if (o.address)
        snprintf(cf.address, sizeof cf.address, "%s", o.address);
    if (o.state)
        snprintf(cf.state_dir, sizeof cf.state_dir, "%s", o.state);
    if (o.poll)
        cf.poll_seconds = (unsigned)strtoul(o.poll, NULL, 10);
    if (o.crash)
        cf.crash_after_replies = (unsigned)strtoul(o.crash, NULL, 10);
    if (o.templates)
        snprintf(cf.templates_dir, sizeof cf.templates_dir, "%s", o.templates);
    static oks_mail_templates tmpl;
    if (oks_mail_tmpl_load(&tmpl, cf.templates_dir, &e)) {
        oks_error("templates: %s", oks_err_format(&e, msg, sizeof msg));
        oks_mail_conf_release(&cf);
        oks_cluster_release(&cl);
        return 1;
    }
    x.templates = &tmpl;
    x.server_name = cf.name;
    x.server_address = cf.address;
    if (oks_mail_conf_check(&cf, &e)) {
        oks_error("config: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (cl.n_routers == 0) {
        oks_error("config: %s names no router ([cluster] routers)", conf_path);
        return 1;
    }
    x.n_shards = cl.n_shards;
    x.shards = oks_xcalloc(cl.n_shards ? cl.n_shards : 1, sizeof(char *));
    for (size_t i = 0; x.shards && i < cl.n_shards; i++)
        x.shards[i] = cl.shards[i].name;
    x.timeout_ms = (int)cl.router_deadline_ms + 2000;
    mkdir(cf.state_dir, 0700);
    oks_mail_answered *ans =
        oks_mail_answered_open(cf.state_dir, (int64_t)cf.answered_days * 86400, &e);
    if (ans == NULL) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    void *zctx = zmq_ctx_new();
    if (oks_zsec_start(&cl, OKS_ROLE_MAIL, zctx, &e) == 0)
        x.client = oks_client_new_routers(zctx, &cl, &e);
    if (x.client == NULL) {
        oks_error("router: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }

    if (oks_mail_metrics_start(&cl, &e)) {
        oks_error("%s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    static oks_mail_poller p;
    p.conf = &cf;
    p.exec = &x;
    p.answered = ans;
    p.stop = &stop_flag;
    p.rate = oks_mail_rate_new(&cf.rate);
    static atomic_int reload_flag; /* SIGHUP: gw-mail/reload.c */
    p.reload = &reload_flag;
    p.on_reload = oks_mail_reload;
    p.conf_path = conf_path;
    p.templates_override = o.templates;
    p.templates = &tmpl;
    oks_daemon_signal_add(SIGHUP, &reload_flag);
    oks_info("polling %s@%s:%u every %u s, replying as %s via %s:%u, router %s", cf.user,
             cf.pop3_host, cf.pop3_port, cf.poll_seconds, cf.address, cf.smtp_host, cf.smtp_port,
             cl.routers[0]);
    oks_notify_ready();
    int rc = 0;
    if (once) {
        if (oks_mail_poll_once(&p, &e) != 0) {
            oks_error("poll failed: %s", e.msg);
            rc = 1;
        }
    } else {
        oks_mail_poll_loop(&p);
    }
    oks_notify_stopping();
    oks_info("stopping: %lu polls, %lu mails fetched, %lu deleted, %u replies", p.polls,
             p.fetched, p.deleted, p.replies);
    oks_mail_metrics_stop();
    oks_mail_rate_free(p.rate);
    oks_client_free(x.client);
    oks_zsec_stop();
    zmq_ctx_term(zctx);
    oks_mail_answered_close(ans);
    free(x.shards);
    oks_mail_conf_release(&cf);
    oks_mail_tmpl_release(&tmpl);
    oks_cluster_release(&cl);
    return rc;
}

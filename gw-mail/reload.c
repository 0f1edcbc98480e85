/* SIGHUP in the mail gateway (see poller.h): the poll loop, between two polls, re-reads the
 * config file and takes its [mail] templates and rate limits. The gateway is one thread, so the
 * swap races with nothing; a file that does not load leaves everything as it was. */
#include "gw-mail/conf.h"
#include "gw-mail/poller.h"
#include "gw-mail/templates.h"
#include "lib/log.h"

void oks_mail_reload(oks_mail_poller *p)
{
    oks_cluster c;
    oks_err e;
    char msg[400];
    if (oks_cluster_load(p->conf_path, &c, &e)) {
        oks_error("SIGHUP: %s not reloaded, the running settings stay: %s", p->conf_path,
                  oks_err_format(&e, msg, sizeof msg));
        return;
    }
    static oks_mail_conf cf; /* large; used by this thread only */
    oks_mail_exec x;
    oks_mail_conf_defaults(&cf, &x);
    oks_mail_templates t;
    if (oks_mail_conf_load(&c, &cf, &x, &e) ||
        oks_mail_tmpl_load(&t, p->templates_override ? p->templates_override : cf.templates_dir,
                           &e)) {
        oks_error("SIGHUP: %s not reloaded, the running settings stay: %s", p->conf_path,
                  oks_err_format(&e, msg, sizeof msg));
    } else {
        oks_mail_tmpl_release(p->templates);
        *p->templates = t;
        oks_mail_rate_set_limits(p->rate, &cf.rate);
        oks_info("SIGHUP: templates and rate limits reloaded from %s (per sender %u, global %u)",
                 p->conf_path, cf.rate.per_sender, cf.rate.global);
    }
    oks_mail_conf_release(&cf);
    oks_cluster_release(&c);
}

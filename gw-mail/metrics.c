/* The mail gateway's metrics (see metrics.h). */
#include "gw-mail/metrics.h"
#include "gw-mail/mail.h"
#include "lib/log.h"
#include "lib/metrics_http.h"

#include <string.h>

static struct {
    oks_metrics *reg;
    oks_metrics_http *http;
    oks_metric *mails, *replies, *reply_bytes, *limited, *backlog, *polls;
} M;

/* by enum oks_mail_cmd_kind, then a mail whose header did not parse, then anything newer */
static const char *const commands[] = {"none",          "unknown", "help", "add",  "index",
                                       "verbose_index", "get",     "mget", "last", "incremental",
                                       "unparsable",    "other",   NULL};
#define CMD_UNPARSABLE 10
#define CMD_OTHER 11
static const char *const outcomes[] = {"deleted", "retry", "kept", NULL};
static const char *const poll_outcomes[] = {"ok", "failed", NULL};

int oks_mail_metrics_start(const oks_cluster *c, oks_err *e) {
    if (!c->mail_metrics.listen.port)
        return 0;
    M.reg = oks_metrics_new();
    const oks_metric_type C = OKS_METRIC_COUNTER;
    int rc = !M.reg ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory") : 0;
#define R(...) (rc = rc ? rc : oks_metrics_reg(M.reg, __VA_ARGS__, e))
    R(&M.mails, "oks_mail_mails_total",
      "Mails handled, by command and outcome (deleted: answered or dropped; retry: kept, its "
      "command failed; kept: the mail system failed).",
      C, "command", commands, "outcome", outcomes);
    R(&M.replies, "oks_mail_replies_total", "Replies the SMTP server accepted.", C, NULL, NULL,
      NULL, NULL);
    R(&M.reply_bytes, "oks_mail_reply_bytes_total", "Bytes of the replies sent.", C, NULL, NULL,
      NULL, NULL);
    R(&M.limited, "oks_mail_rate_limited_total",
      "Mails deleted unrun because their sender, domain or the gateway was over a rate limit.", C,
      NULL, NULL, NULL, NULL);
    R(&M.backlog, "oks_mail_backlog_messages",
      "Messages in the mailbox when the last poll listed it.", OKS_METRIC_GAUGE, NULL, NULL, NULL,
      NULL);
    R(&M.polls, "oks_mail_polls_total", "Polls of the mailbox by outcome.", C, "outcome",
      poll_outcomes, NULL, NULL);
#undef R
    rc = oks_metrics_http_serve(&M.reg, rc, &c->mail_metrics.listen, c->mail_metrics.allow, &M.http, e);
    if (rc)
        memset(&M, 0, sizeof M);
    return rc;
}

void oks_mail_metrics_stop(void) {
    oks_metrics_http_stop(M.http);
    oks_metrics_free(M.reg);
    memset(&M, 0, sizeof M);
}

void oks_mail_metrics_mail(int kind, int outcome) {
    size_t k = kind < 0 ? CMD_UNPARSABLE : kind < CMD_UNPARSABLE ? (size_t)kind : CMD_OTHER;
    oks_metric_inc(M.mails, k, (size_t)outcome);
}

void oks_mail_metrics_reply(size_t bytes) {
    oks_metric_inc(M.replies, 0, 0);
    oks_metric_add(M.reply_bytes, 0, 0, bytes);
}

void oks_mail_metrics_rate_limited(void) {
    oks_metric_inc(M.limited, 0, 0);
}

void oks_mail_metrics_backlog(size_t n) {
    oks_metric_set(M.backlog, 0, 0, (double)n);
}

void oks_mail_metrics_poll(bool ok) {
    oks_metric_inc(M.polls, ok ? 0 : 1, 0);
}

/*
 * The mail gateway's Prometheus metrics (docs/operations.md, "Monitoring"): mails by command and
 * outcome, replies sent and their bytes, the mailbox backlog at the last poll, mails refused by
 * the rate limits, and polls by outcome. Served on [mail] metrics_listen. The counting functions
 * do nothing until oks_mail_metrics_start ran.
 */
#ifndef OKS_MAIL_METRICS_H
#define OKS_MAIL_METRICS_H

#include "lib/cluster.h"

#include <stdbool.h>
#include <stddef.h>

/* What became of a mail: deleted (answered, or dropped by policy), kept for a retry because
 * its command failed, kept because the mail system failed. */
enum { OKS_MAIL_METRICS_DELETED, OKS_MAIL_METRICS_RETRY, OKS_MAIL_METRICS_KEPT };

int oks_mail_metrics_start(const oks_cluster *conf, oks_err *e);
void oks_mail_metrics_stop(void);
/* A mail handled: kind its command (enum oks_mail_cmd_kind; -1: header not parsable). */
void oks_mail_metrics_mail(int kind, int outcome);
void oks_mail_metrics_reply(size_t bytes);
void oks_mail_metrics_rate_limited(void);
/* Messages in the mailbox when the last poll listed it. */
void oks_mail_metrics_backlog(size_t n);
void oks_mail_metrics_poll(bool ok);

#endif

/* Gateway settings from the [mail] section of the cluster config (conf.c). */
#ifndef OKS_MAIL_CONF_H
#define OKS_MAIL_CONF_H

#include "gw-mail/poller.h"
#include "lib/cluster.h"

void oks_mail_conf_defaults(oks_mail_conf *cf, oks_mail_exec *x);
/* Reads [mail] keys present in c over the defaults. */
int oks_mail_conf_load(const oks_cluster *c, oks_mail_conf *cf, oks_mail_exec *x, oks_err *e);
/* Checks that what is needed to run is there (address, user, state dir). */
int oks_mail_conf_check(const oks_mail_conf *cf, oks_err *e);
void oks_mail_conf_release(oks_mail_conf *cf);

int oks_mail_hostport(const char *s, char *host, size_t hsize, unsigned *port, oks_err *e);
int oks_mail_parse_tls(const char *s, enum oks_mail_tls *t, oks_err *e);
int oks_mail_read_password_file(const char *path, char *out, size_t size, oks_err *e);

#endif

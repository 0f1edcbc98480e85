/*
 * The [mail] section of the cluster config (docs/config.md; its values and defaults were checked
 * against lib/conf.c's table when the file was loaded) into the gateway's settings;
 * command-line options of main.c override it.
 */
#include "gw-mail/conf.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char default_help[] =
    "This is an OpenPGP keyserver that answers commands sent by mail (PKS style).\n"
    "Put the command in the Subject line:\n"
    "\n"
    "  HELP                  this text\n"
    "  ADD                   add the public keys in the body or attached (armored, or\n"
    "                        application/pgp-keys); the reply says what happened to each\n"
    "  INDEX <search>        list keys whose user IDs contain every word of <search>\n"
    "  VERBOSE INDEX <search> the same with signatures\n"
    "  GET <search>          the matching keys, armored; <search> may be words, an e-mail\n"
    "                        address, 0x + a 16/8-digit key ID, or a fingerprint\n"
    "  MGET <regex>          keys with a user ID matching a POSIX extended regular expression\n"
    "                        (2 to 128 characters, case-insensitive, no back-references)\n"
    "  LAST <days>           keys added or changed in the last <days> days\n"
    "\n"
    "Replies carry at most a limited number of keys. Mail marked as automatic, bulk or a\n"
    "bounce is never answered. Large answers are sent only to addresses that this server's\n"
    "mail system authenticated (DMARC, DKIM or SPF pass for the reply address's domain);\n"
    "others get a short notice. Each address and domain gets a limited number of replies\n"
    "and bytes per hour.\n";

int oks_mail_hostport(const char *s, char *host, size_t hsize, unsigned *port, oks_err *e)
{
    oks_hostport hp;
    int r = oks_hostport_parse(s, &hp, e);
    if (!r && strlen(hp.host) >= hsize)
        r = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "host of '%s' is too long", s);
    if (r)
        return r;
    strcpy(host, hp.host);
    *port = hp.port;
    return 0;
}

int oks_mail_parse_tls(const char *s, enum oks_mail_tls *t, oks_err *e)
{
    if (strcmp(s, "none") == 0)
        *t = OKS_MAIL_TLS_NONE;
    else if (strcmp(s, "starttls") == 0 || strcmp(s, "stls") == 0)
        *t = OKS_MAIL_TLS_STARTTLS;
    else if (strcmp(s, "implicit") == 0 || strcmp(s, "pop3s") == 0 || strcmp(s, "smtps") == 0)
        *t = OKS_MAIL_TLS_IMPLICIT;
    else
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "TLS mode '%s' is not none, starttls "
                           "or implicit", s);
    return 0;
}

int oks_mail_read_password_file(const char *path, char *out, size_t size, oks_err *e)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "password file %s: %s", path,
                           strerror(errno));
    if (fgets(out, (int)size, f) == NULL)
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

void oks_mail_conf_defaults(oks_mail_conf *cf, oks_mail_exec *x)
{
    memset(cf, 0, sizeof(*cf));
    strcpy(cf->pop3_host, "127.0.0.1");
    cf->pop3_port = 110;
    strcpy(cf->smtp_host, "127.0.0.1");
    cf->smtp_port = 25;
    strcpy(cf->name, "OpenPGP keyserver");
    cf->poll_seconds = 30;
    cf->io_timeout_s = 30;
    cf->backoff_max_s = 300;
    cf->max_mails_per_poll = 1000;
    cf->delete_batch = 50;
    cf->rate = (oks_mail_rate_conf){.per_sender = 20, .per_domain = 200,
                                    .bytes_per_sender = 4u << 20, .bytes_per_domain = 32u << 20,
                                    .scan_per_sender = 200000, .sender_window_s = 3600,
                                    .global = 600, .scan_global = 300000, .global_window_s = 60};
    cf->unauth_reply_bytes = 16u << 10;
    cf->max_tries = 5;
    cf->answered_days = 14;
    oks_mail_limits_default(&cf->limits);
    oks_mail_exec_defaults(x);
    x->help_text = default_help;
}

static enum oks_mail_tls tls_of(int conf_tls)
{
    return conf_tls == OKS_CONF_TLS_IMPLICIT   ? OKS_MAIL_TLS_IMPLICIT
           : conf_tls == OKS_CONF_TLS_STARTTLS ? OKS_MAIL_TLS_STARTTLS
                                               : OKS_MAIL_TLS_NONE;
}

/* Copies s into a field of size n; lib/conf.c bounds most [mail] strings already. */
static int copy(char *out, size_t n, const char *s, const char *key, oks_err *e)
{
    if (strlen(s) >= n)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "[mail] %s is longer than %zu bytes",
                           key, n - 1);
    strcpy(out, s);
    return 0;
}

int oks_mail_conf_load(const oks_cluster *c, oks_mail_conf *cf, oks_mail_exec *x, oks_err *e)
{
    const oks_conf_mail *m = &c->mail; /* every value checked when the config was loaded */
    int r;
    if ((r = copy(cf->pop3_host, sizeof cf->pop3_host, m->pop3.host, "pop3", e)) ||
        (r = copy(cf->smtp_host, sizeof cf->smtp_host, m->smtp.host, "smtp", e)) ||
        (r = copy(cf->user, sizeof cf->user, m->user, "user", e)) ||
        (r = copy(cf->password, sizeof cf->password, m->password, "password", e)) ||
        (r = copy(cf->smtp_user, sizeof cf->smtp_user, m->smtp_user, "smtp_user", e)) ||
        (r = copy(cf->smtp_password, sizeof cf->smtp_password, m->smtp_password,
                  "smtp_password", e)) ||
        (r = copy(cf->address, sizeof cf->address, m->address, "address", e)) ||
        (r = copy(cf->name, sizeof cf->name, m->name, "name", e)) ||
        (r = copy(cf->state_dir, sizeof cf->state_dir, m->state_dir, "state_dir", e)) ||
        (r = copy(cf->templates_dir, sizeof cf->templates_dir, m->templates, "templates", e)) ||
        (r = copy(cf->auth_serv_id, sizeof cf->auth_serv_id, m->auth_serv_id, "auth_serv_id",
                  e)) ||
        (m->password_file[0] &&
         (r = oks_mail_read_password_file(m->password_file, cf->password, sizeof cf->password,
                                          e))) ||
        (m->smtp_password_file[0] &&
         (r = oks_mail_read_password_file(m->smtp_password_file, cf->smtp_password,
                                          sizeof cf->smtp_password, e))))
        return r;
    cf->pop3_port = m->pop3.port;
    cf->pop3_tls = tls_of(m->pop3_tls);
    cf->smtp_port = m->smtp.port;
    cf->smtp_tls = tls_of(m->smtp_tls);
    cf->poll_seconds = m->poll_seconds;
    cf->io_timeout_s = m->io_timeout_seconds;
    cf->backoff_max_s = m->backoff_max_seconds;
    cf->max_mails_per_poll = m->max_mails_per_poll;
    cf->delete_batch = m->delete_batch;
    cf->limits.max_message_bytes = m->max_message_bytes;
    cf->limits.max_attachments = m->max_attachments;
    cf->limits.max_parts = m->max_parts;
    cf->rate.per_sender = m->rate_per_sender_hour;
    cf->rate.global = m->rate_global_minute;
    cf->rate.per_domain = m->rate_per_domain_hour;
    cf->rate.bytes_per_sender = m->reply_bytes_per_sender_hour;
    cf->rate.bytes_per_domain = m->reply_bytes_per_domain_hour;
    cf->rate.scan_per_sender = m->scan_per_sender_hour;
    cf->rate.scan_global = m->scan_global_minute;
    cf->unauth_reply_bytes = m->unauth_reply_bytes;
    cf->max_tries = m->max_tries;
    cf->answered_days = m->answered_days;
    x->max_reply_keys = m->max_reply_keys;
    x->max_index_keys = m->max_index_keys;
    x->max_add_keys = m->max_add_keys;
    x->max_last_days = m->max_last_days;
    x->mget_scan_max = m->mget_scan_max;
    x->last_scan_max = m->last_scan_max;
    char sites[sizeof m->sync_sites];
    strcpy(sites, m->sync_sites);
    for (char *save = NULL, *t = strtok_r(sites, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char **ns = oks_xrealloc(cf->sync_sites, (cf->n_sync_sites + 1) * sizeof(*ns));
        if (ns == NULL || (ns[cf->n_sync_sites] = oks_xstrdup(t)) == NULL) {
            if (ns)
                cf->sync_sites = ns;
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        }
        cf->sync_sites = ns;
        cf->n_sync_sites++;
    }
    if (m->help_file[0]) {
        FILE *f = fopen(m->help_file, "r");
        if (f == NULL)
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "help_file %s: %s", m->help_file,
                               strerror(errno));
        char *text = oks_xcalloc(1, 65537);
        size_t n = text ? fread(text, 1, 65536, f) : 0;
        fclose(f);
        if (text == NULL)
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        text[n] = '\0';
        cf->help_owned = text;
        x->help_text = text;
    }
    return 0;
}

int oks_mail_conf_check(const oks_mail_conf *cf, oks_err *e)
{
    if (!oks_mail_addr_valid(cf->address))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "the gateway's address ([mail] address / --address) is missing or "
                           "not a bare local@domain");
    if (cf->user[0] == '\0')
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "no POP3 user ([mail] user / --user)");
    if (cf->state_dir[0] == '\0')
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "no state directory ([mail] state_dir / --state-dir)");
    for (size_t i = 0; i < cf->n_sync_sites; i++)
        if (!oks_mail_addr_valid(cf->sync_sites[i]))
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "sync site '%s' is not an address",
                               cf->sync_sites[i]);
    if (cf->poll_seconds == 0 || cf->io_timeout_s == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "poll_seconds and io_timeout must be > 0");
    return 0;
}

void oks_mail_conf_release(oks_mail_conf *cf)
{
    for (size_t i = 0; i < cf->n_sync_sites; i++)
        free(cf->sync_sites[i]);
    free(cf->sync_sites);
    free(cf->help_owned);
    cf->sync_sites = NULL;
    cf->n_sync_sites = 0;
    cf->help_owned = NULL;
}

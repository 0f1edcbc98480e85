/*
 * The [mail] section of the cluster config (see deploy/oks.conf.example) into the gateway's
 * settings, with the documented defaults; command-line options of main.c override it.
 */
#include "gw-mail/conf.h"

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
    "bounce is never answered.\n";

static int get_str(const oks_cluster *c, const char *key, char *out, size_t size, oks_err *e)
{
    char *v = oks_cluster_get(c, "mail", key);
    if (v == NULL)
        return 0;
    size_t n = strlen(v);
    if (n >= size) {
        free(v);
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "[mail] %s is longer than %zu bytes",
                           key, size - 1);
    }
    memcpy(out, v, n + 1);
    free(v);
    return 0;
}

static int get_num(const oks_cluster *c, const char *key, unsigned long long max, void *out,
                   size_t width, oks_err *e)
{
    char *v = oks_cluster_get(c, "mail", key);
    if (v == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    bool bad = errno || end == v || *end || x > max || v[0] == '-';
    free(v);
    if (bad)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "[mail] %s must be a number <= %llu",
                           key, max);
    if (width == sizeof(unsigned))
        *(unsigned *)out = (unsigned)x;
    else
        *(size_t *)out = (size_t)x;
    return 0;
}

int oks_mail_hostport(const char *s, char *host, size_t hsize, unsigned *port, oks_err *e)
{
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long p = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon == s || (size_t)(colon - s) >= hsize || *end || p == 0 || p > 65535)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%s' is not HOST:PORT", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (unsigned)p;
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
    cf->rate_per_sender = 20;
    cf->rate_global = 600;
    cf->answered_days = 14;
    oks_mail_limits_default(&cf->limits);
    oks_mail_exec_defaults(x);
    x->help_text = default_help;
}

int oks_mail_conf_load(const oks_cluster *c, oks_mail_conf *cf, oks_mail_exec *x, oks_err *e)
{
    char tmp[1024] = "";
    int r = 0;
    const unsigned long long U = 0xffffffffu;
    if ((r = get_str(c, "pop3", tmp, sizeof(tmp), e)) || (tmp[0] &&
        (r = oks_mail_hostport(tmp, cf->pop3_host, sizeof(cf->pop3_host), &cf->pop3_port, e))))
        return r;
    tmp[0] = '\0';
    if ((r = get_str(c, "pop3_tls", tmp, sizeof(tmp), e)) ||
        (tmp[0] && (r = oks_mail_parse_tls(tmp, &cf->pop3_tls, e))))
        return r;
    tmp[0] = '\0';
    if ((r = get_str(c, "smtp", tmp, sizeof(tmp), e)) || (tmp[0] &&
        (r = oks_mail_hostport(tmp, cf->smtp_host, sizeof(cf->smtp_host), &cf->smtp_port, e))))
        return r;
    tmp[0] = '\0';
    if ((r = get_str(c, "smtp_tls", tmp, sizeof(tmp), e)) ||
        (tmp[0] && (r = oks_mail_parse_tls(tmp, &cf->smtp_tls, e))))
        return r;
    tmp[0] = '\0';
    if ((r = get_str(c, "user", cf->user, sizeof(cf->user), e)) ||
        (r = get_str(c, "password", cf->password, sizeof(cf->password), e)) ||
        (r = get_str(c, "password_file", tmp, sizeof(tmp), e)) ||
        (tmp[0] && (r = oks_mail_read_password_file(tmp, cf->password, sizeof(cf->password), e))) ||
        (r = get_str(c, "smtp_user", cf->smtp_user, sizeof(cf->smtp_user), e)) ||
        (r = get_str(c, "smtp_password", cf->smtp_password, sizeof(cf->smtp_password), e)) ||
        (tmp[0] = '\0', r = get_str(c, "smtp_password_file", tmp, sizeof(tmp), e)) ||
        (tmp[0] && (r = oks_mail_read_password_file(tmp, cf->smtp_password,
                                                    sizeof(cf->smtp_password), e))) ||
        (r = get_str(c, "address", cf->address, sizeof(cf->address), e)) ||
        (r = get_str(c, "name", cf->name, sizeof(cf->name), e)) ||
        (r = get_str(c, "state_dir", cf->state_dir, sizeof(cf->state_dir), e)) ||
        (r = get_str(c, "templates", cf->templates_dir, sizeof(cf->templates_dir), e)) ||
        (r = get_num(c, "poll_seconds", 86400, &cf->poll_seconds, sizeof(unsigned), e)) ||
        (r = get_num(c, "io_timeout_seconds", 3600, &cf->io_timeout_s, sizeof(unsigned), e)) ||
        (r = get_num(c, "backoff_max_seconds", 86400, &cf->backoff_max_s, sizeof(unsigned), e)) ||
        (r = get_num(c, "max_mails_per_poll", U, &cf->max_mails_per_poll, sizeof(unsigned), e)) ||
        (r = get_num(c, "delete_batch", 10000, &cf->delete_batch, sizeof(unsigned), e)) ||
        (r = get_num(c, "max_message_bytes", 1ull << 30, &cf->limits.max_message_bytes,
                     sizeof(size_t), e)) ||
        (r = get_num(c, "max_attachments", 1000, &cf->limits.max_attachments, sizeof(size_t), e)) ||
        (r = get_num(c, "max_parts", 1000, &cf->limits.max_parts, sizeof(size_t), e)) ||
        (r = get_num(c, "rate_per_sender_hour", U, &cf->rate_per_sender, sizeof(unsigned), e)) ||
        (r = get_num(c, "rate_global_minute", U, &cf->rate_global, sizeof(unsigned), e)) ||
        (r = get_num(c, "answered_days", 3650, &cf->answered_days, sizeof(unsigned), e)) ||
        (r = get_num(c, "max_reply_keys", 100000, &x->max_reply_keys, sizeof(unsigned), e)) ||
        (r = get_num(c, "max_index_keys", 100000, &x->max_index_keys, sizeof(unsigned), e)) ||
        (r = get_num(c, "max_add_keys", 100000, &x->max_add_keys, sizeof(unsigned), e)) ||
        (r = get_num(c, "max_last_days", 3650, &x->max_last_days, sizeof(unsigned), e)) ||
        (r = get_num(c, "mget_scan_max", U, &x->mget_scan_max, sizeof(unsigned), e)) ||
        (r = get_num(c, "last_scan_max", U, &x->last_scan_max, sizeof(unsigned), e)))
        return r;
    tmp[0] = '\0';
    if ((r = get_str(c, "sync_sites", tmp, sizeof(tmp), e)))
        return r;
    for (char *save = NULL, *t = strtok_r(tmp, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char **ns = realloc(cf->sync_sites, (cf->n_sync_sites + 1) * sizeof(*ns));
        if (ns == NULL || (ns[cf->n_sync_sites] = strdup(t)) == NULL) {
            if (ns)
                cf->sync_sites = ns;
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        }
        cf->sync_sites = ns;
        cf->n_sync_sites++;
    }
    tmp[0] = '\0';
    if ((r = get_str(c, "help_file", tmp, sizeof(tmp), e)))
        return r;
    if (tmp[0]) {
        FILE *f = fopen(tmp, "r");
        if (f == NULL)
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "help_file %s: %s", tmp,
                               strerror(errno));
        char *text = calloc(1, 65537);
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

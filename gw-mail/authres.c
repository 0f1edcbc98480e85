/*
 * Authentication-Results (RFC 8601) and whether a reply address is authenticated (mail.h).
 *
 * The header is written by the receiving mail system: "authserv-id [version]; method=result
 * [reason=...] [ptype.property=value ...]; ..." or "authserv-id; none". Comments in ( ) are
 * skipped (nesting bounded), values may be quoted strings. The parser is a small lexer over the
 * text with fixed-size outputs; anything it does not understand in one result makes it skip to
 * the next ";".
 */
#include "gw-mail/mail.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct lex {
    const char *p;
} lex;

/* Skips white space and (nested) comments. */
static void skip_cfws(lex *l)
{
    for (;;) {
        while (*l->p == ' ' || *l->p == '\t' || *l->p == '\r' || *l->p == '\n')
            l->p++;
        if (*l->p != '(')
            return;
        int depth = 0;
        while (*l->p) {
            if (*l->p == '\\' && l->p[1]) {
                l->p += 2;
                continue;
            }
            if (*l->p == '(')
                depth++;
            else if (*l->p == ')' && --depth == 0) {
                l->p++;
                break;
            }
            l->p++;
        }
    }
}

/* A token (up to one of ; = ( " or white space) or a quoted string, copied into out (cut at
 * size - 1). Returns its length, 0 when there is none. lower: lowercase the copy. */
static size_t word(lex *l, char *out, size_t size, bool lower, bool stop_at_slash)
{
    skip_cfws(l);
    size_t o = 0, n = 0;
    if (*l->p == '"') {
        l->p++;
        while (*l->p && *l->p != '"') {
            if (*l->p == '\\' && l->p[1])
                l->p++;
            if (o + 1 < size)
                out[o++] = lower ? (char)tolower((unsigned char)*l->p) : *l->p;
            l->p++;
            n++;
        }
        if (*l->p == '"')
            l->p++;
        out[o] = '\0';
        return n ? n : 1; /* "" is a value */
    }
    while (*l->p && !strchr(";=(\" \t\r\n", *l->p) && !(stop_at_slash && *l->p == '/')) {
        if (o + 1 < size)
            out[o++] = lower ? (char)tolower((unsigned char)*l->p) : *l->p;
        l->p++;
        n++;
    }
    out[o] = '\0';
    return n;
}

static bool punct(lex *l, char c)
{
    skip_cfws(l);
    if (*l->p != c)
        return false;
    l->p++;
    return true;
}

static void skip_to_semicolon(lex *l)
{
    while (*l->p && *l->p != ';') {
        if (*l->p == '(') {
            skip_cfws(l);
            continue;
        }
        if (*l->p == '"') {
            char tmp[2];
            word(l, tmp, sizeof(tmp), false, false);
            continue;
        }
        l->p++;
    }
}

int oks_mail_authres_parse(const char *value, oks_mail_authres *out, oks_err *e)
{
    memset(out, 0, sizeof(*out));
    lex l = {value ? value : ""};
    if (word(&l, out->authserv_id, sizeof(out->authserv_id), true, false) == 0)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "Authentication-Results without an "
                           "authserv-id");
    skip_to_semicolon(&l); /* an optional version */
    while (punct(&l, ';')) {
        if (out->n >= OKS_MAIL_AUTHRES_MAX_RESULTS)
            break;
        __typeof__(out->res[0]) *r = &out->res[out->n];
        memset(r, 0, sizeof(*r));
        if (word(&l, r->method, sizeof(r->method), true, true) == 0) {
            skip_to_semicolon(&l);
            continue;
        }
        if (punct(&l, '/')) { /* method version */
            char v[16];
            word(&l, v, sizeof(v), false, false);
        }
        if (strcmp(r->method, "none") == 0 || !punct(&l, '=') ||
            word(&l, r->result, sizeof(r->result), true, false) == 0) {
            skip_to_semicolon(&l);
            continue;
        }
        /* reason=value and ptype.property=value pairs up to the next ";" */
        for (;;) {
            skip_cfws(&l);
            if (*l.p == '\0' || *l.p == ';')
                break;
            char name[48], val[256];
            if (word(&l, name, sizeof(name), true, false) == 0 || !punct(&l, '=') ||
                word(&l, val, sizeof(val), false, false) == 0) {
                skip_to_semicolon(&l);
                break;
            }
            if (strchr(name, '.') && r->n_props < OKS_MAIL_AUTHRES_MAX_PROPS) {
                snprintf(r->prop[r->n_props].name, sizeof(r->prop[0].name), "%s", name);
                snprintf(r->prop[r->n_props].value, sizeof(r->prop[0].value), "%s", val);
                r->n_props++;
            }
        }
        out->n++;
    }
    return 0;
}

static const char *prop(const oks_mail_authres *a, size_t i, const char *name)
{
    for (size_t k = 0; k < a->res[i].n_props; k++)
        if (strcmp(a->res[i].prop[k].name, name) == 0)
            return a->res[i].prop[k].value;
    return NULL;
}

/* The domain a property value names: after the last '@' of "user@dom" or "@dom", else all. */
static const char *domain_of(const char *v)
{
    const char *at = v ? strrchr(v, '@') : NULL;
    return at ? at + 1 : v;
}

/* dom equals auth, or is a subdomain of it (case-insensitive; trailing dots ignored). */
static bool aligned(const char *dom, const char *auth)
{
    if (dom == NULL || auth == NULL)
        return false;
    size_t dn = strlen(dom), an = strlen(auth);
    while (dn && dom[dn - 1] == '.')
        dn--;
    while (an && auth[an - 1] == '.')
        an--;
    if (an == 0 || dn < an || strncasecmp(dom + dn - an, auth, an) != 0)
        return false;
    return dn == an || dom[dn - an - 1] == '.';
}

bool oks_mail_reply_authenticated(const oks_mail_msg *msg, const char *authserv_id,
                                  const char **how)
{
    const char *to = oks_mail_reply_address(msg);
    const char *dom = to ? strrchr(to, '@') : NULL;
    if (how)
        *how = "no Authentication-Results of this server's mail system";
    if (authserv_id == NULL || authserv_id[0] == '\0' || dom == NULL)
        return false;
    dom++;
    for (size_t i = 0; i < msg->n_auth_results; i++) {
        oks_mail_authres a;
        oks_err e;
        if (oks_mail_authres_parse(msg->auth_results[i], &a, &e) != 0 ||
            strcasecmp(a.authserv_id, authserv_id) != 0)
            continue;
        /* the first header of our authserv-id is the receiving MTA's; later ones may be the
         * sender's */
        if (how)
            *how = "no dmarc, dkim or spf pass for the reply address's domain";
        for (size_t k = 0; k < a.n; k++) {
            if (strcmp(a.res[k].result, "pass") != 0)
                continue;
            const char *m = a.res[k].method, *d = NULL;
            if (strcmp(m, "dmarc") == 0)
                d = prop(&a, k, "header.from");
            else if (strcmp(m, "dkim") == 0)
                d = prop(&a, k, "header.d") ? prop(&a, k, "header.d")
                                            : domain_of(prop(&a, k, "header.i"));
            else if (strcmp(m, "spf") == 0)
                d = prop(&a, k, "smtp.mailfrom") ? domain_of(prop(&a, k, "smtp.mailfrom"))
                                                 : prop(&a, k, "smtp.helo");
            else
                continue;
            if (aligned(dom, domain_of(d))) {
                if (how)
                    *how = strcmp(m, "dmarc") == 0 ? "dmarc=pass"
                           : strcmp(m, "dkim") == 0 ? "dkim=pass"
                                                    : "spf=pass";
                return true;
            }
        }
        return false;
    }
    return false;
}

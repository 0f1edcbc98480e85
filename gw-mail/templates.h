/*
 * Reply bodies from templates (lib/tmpl, rendered as plain text: no HTML escaping): one
 * built-in default per reply kind, each replaceable by NAME.txt in the [mail] templates
 * directory (`oks-gw-mail dump-templates DIR` writes the defaults there as a starting point).
 * Headers and the MIME structure are not templated (reply.c builds them).
 */
#ifndef OKS_MAIL_TEMPLATES_H
#define OKS_MAIL_TEMPLATES_H

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/tmpl.h"

enum oks_mail_tmpl_id {
    OKS_MAIL_T_HELP = 0,  /* HELP: {{help}} */
    OKS_MAIL_T_INVALID,   /* no/unknown/malformed command: no_command, error, unknown, help */
    OKS_MAIL_T_FAILED,    /* a command that could not run: message */
    OKS_MAIL_T_GET,       /* GET: search, count, found, plural, keys[fpr], more, partial */
    OKS_MAIL_T_INDEX,     /* INDEX / VERBOSE INDEX: search, count, found, plural, verbose, keys[..] */
    OKS_MAIL_T_ADD,       /* ADD: count, found, plural, results[fpr, outcome, reason], skipped.. */
    OKS_MAIL_T_MGET,      /* MGET: pattern, count, found, plural, more, cut, keys[fpr] */
    OKS_MAIL_T_LAST,      /* LAST: days, count, found, plural, more, keys[fpr] */
    OKS_MAIL_T_TOOBIG,    /* mail over max_message_bytes: size, limit */
    OKS_MAIL_T_INCREMENTAL, /* body of PKS sync mails: count */
    OKS_MAIL_T_COUNT
};

#define OKS_MAIL_TMPL_MAX_BYTES (256u * 1024u) /* largest template file accepted */

typedef struct oks_mail_templates {
    char *text[OKS_MAIL_T_COUNT]; /* NULL = built-in default */
} oks_mail_templates;

/* File name stem of a template ("get" for OKS_MAIL_T_GET). */
const char *oks_mail_tmpl_name(enum oks_mail_tmpl_id id);
/* The built-in default text. */
const char *oks_mail_tmpl_builtin(enum oks_mail_tmpl_id id);

/* Loads NAME.txt for every template found in dir (missing files keep the default; dir NULL or
 * empty = all defaults; a dir that is not a directory is an error). Each is test-rendered; a broken or unreadable one fails the load with
 * the file and byte offset named. Release with oks_mail_tmpl_release. */
int oks_mail_tmpl_load(oks_mail_templates *t, const char *dir, oks_err *e);
void oks_mail_tmpl_release(oks_mail_templates *t);
/* Writes every default as DIR/NAME.txt (creating DIR); prints the paths. 0 or 1. */
int oks_mail_tmpl_dump(const char *dir);

/* Renders template id (t NULL = defaults) with ctx, appended to out. A configured template that
 * fails at render time falls back to the default (and the error is returned in e only when the
 * default fails too). */
int oks_mail_tmpl_render(const oks_mail_templates *t, enum oks_mail_tmpl_id id,
                         const oks_tmpl *ctx, oks_buf *out, oks_err *e);

/* Context helpers: a decimal number; a flag set to "yes" only when on (unset = false). */
int oks_mail_tmpl_num(oks_tmpl *ctx, const char *name, unsigned long long n);
int oks_mail_tmpl_flag(oks_tmpl *ctx, const char *name, int on);
/* A string value; NULL sets nothing. */
int oks_mail_tmpl_str(oks_tmpl *ctx, const char *name, const char *s);

#endif

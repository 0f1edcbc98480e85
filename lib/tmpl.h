/*
 * A small Mustache-like template engine for HTML pages and mail replies.
 *   {{name}}            value, HTML-escaped by the engine (callers never escape); as is when
 *                       rendered as text (oks_tmpl_render_text)
 *   {{{name}}}          value as is (only for text the program itself produced)
 *   {{#name}}..{{/name}} repeated for each item of a list, or once if name is set and not empty
 *   {{^name}}..{{/name}} shown when name is unset, empty or an empty list
 * Names are looked up in the current item, then in the enclosing ones. Debian 12 ships no C
 * template library (ctemplate is C++ with its own syntax), hence this one (~250 lines).
 * A context owns copies of every string set into it; oks_tmpl_free releases the whole tree.
 */
#ifndef OKS_TMPL_H
#define OKS_TMPL_H

#include "lib/buf.h"
#include "lib/err.h"

#include <stddef.h>

typedef struct oks_tmpl oks_tmpl;

oks_tmpl *oks_tmpl_new(void);
void oks_tmpl_free(oks_tmpl *t);
/* Sets a string value (copied; n bytes). */
int oks_tmpl_set(oks_tmpl *t, const char *name, const char *value, size_t n);
int oks_tmpl_setf(oks_tmpl *t, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a new item to the list name and returns it (owned by t), or NULL. */
oks_tmpl *oks_tmpl_push(oks_tmpl *t, const char *name);

/* Renders src with t into out. Errors (unbalanced sections, unterminated tags, nesting deeper
 * than 16) name the byte offset in src. */
int oks_tmpl_render(const char *src, size_t len, const oks_tmpl *t, oks_buf *out, oks_err *e);
/* The same for plain text (mail bodies): {{name}} inserts the value as is, like {{{name}}}. */
int oks_tmpl_render_text(const char *src, size_t len, const oks_tmpl *t, oks_buf *out,
                         oks_err *e);

/* The template file dir/file into *out (malloc'd, NUL-terminated; free it), or a copy of
 * builtin when dir is NULL or empty or the file does not exist. A file that exists but cannot
 * be read (OKS_E_IO) or is larger than max bytes (OKS_E_LIMIT) is an error naming it, never a
 * silent fallback to the built-in text. */
int oks_tmpl_load(const char *dir, const char *file, const char *builtin, size_t max, char **out,
                  oks_err *e);

#endif

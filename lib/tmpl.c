/* The template engine (see tmpl.h). */
#include "lib/tmpl.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

typedef struct entry {
    char *name;
    char *value;       /* string value, or NULL for a list */
    oks_tmpl **items;  /* list items */
    size_t n_items;
} entry;

struct oks_tmpl {
    const oks_tmpl *parent; /* set while rendering */
    entry *e;
    size_t n;
};

oks_tmpl *oks_tmpl_new(void)
{
    return oks_xcalloc(1, sizeof(oks_tmpl));
}

void oks_tmpl_free(oks_tmpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].name);
        free(t->e[i].value);
        for (size_t k = 0; k < t->e[i].n_items; k++)
            oks_tmpl_free(t->e[i].items[k]);
        free(t->e[i].items);
    }
    free(t->e);
    free(t);
}

static entry *find_own(const oks_tmpl *t, const char *name, size_t n)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->e[i].name) == n && memcmp(t->e[i].name, name, n) == 0)
            return &t->e[i];
    return NULL;
}

static entry *get_or_add(oks_tmpl *t, const char *name)
{
    entry *e = find_own(t, name, strlen(name));
    if (e)
        return e;
    entry *ne = oks_xrealloc(t->e, (t->n + 1) * sizeof *ne);
    t->e = ne;
    e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = oks_xstrdup(name)))
        return NULL;
    t->n++;
    return e;
}

int oks_tmpl_set(oks_tmpl *t, const char *name, const char *value, size_t n)
{
    entry *e = get_or_add(t, name);
    char *v = oks_xmalloc(n + 1);
    if (!e || !v) {
        free(v);
        return OKS_E_NOMEM;
    }
    memcpy(v, value, n);
    v[n] = '\0';
    free(e->value);
    e->value = v;
    return 0;
}

int oks_tmpl_setf(oks_tmpl *t, const char *name, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return OKS_E_FORMAT;
    return oks_tmpl_set(t, name, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

oks_tmpl *oks_tmpl_push(oks_tmpl *t, const char *name)
{
    entry *e = get_or_add(t, name);
    if (!e)
        return NULL;
    oks_tmpl **ni = oks_xrealloc(e->items, (e->n_items + 1) * sizeof *ni);
    oks_tmpl *item = oks_tmpl_new();
    if (!ni || !item) {
        free(item);
        if (ni)
            e->items = ni;
        return NULL;
    }
    e->items = ni;
    e->items[e->n_items++] = item;
    return item;
}

static const entry *lookup(const oks_tmpl *t, const char *name, size_t n)
{
    for (; t; t = t->parent) {
        const entry *e = find_own(t, name, n);
        if (e)
            return e;
    }
    return NULL;
}

static void escape(oks_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': oks_buf_append(out, "&lt;", 4); break;
        case '>': oks_buf_append(out, "&gt;", 4); break;
        case '&': oks_buf_append(out, "&amp;", 5); break;
        case '"': oks_buf_append(out, "&quot;", 6); break;
        case '\'': oks_buf_append(out, "&#39;", 5); break;
        default: oks_buf_putc(out, (uint8_t)*s);
        }
    }
}

/* Finds the {{/name}} closing the section opened before src+i; returns its offset or -1. */
static long find_close(const char *src, size_t len, size_t i, const char *name, size_t n)
{
    int depth = 1;
    while (i + 4 < len) {
        const char *o = memmem(src + i, len - i, "{{", 2);
        if (!o)
            return -1;
        size_t at = (size_t)(o - src);
        const char *c = memmem(src + at + 2, len - at - 2, "}}", 2);
        if (!c)
            return -1;
        char kind = src[at + 2];
        const char *tn = src + at + 3;
        size_t tl = (size_t)(c - tn);
        if ((kind == '#' || kind == '^') && tl == n && memcmp(tn, name, n) == 0)
            depth++;
        if (kind == '/' && tl == n && memcmp(tn, name, n) == 0 && --depth == 0)
            return (long)at;
        i = (size_t)(c - src) + 2;
    }
    return -1;
}

static int render(const char *src, size_t len, size_t base, const oks_tmpl *t, oks_buf *out,
                  int depth, bool html, oks_err *e)
{
    if (depth > MAX_DEPTH)
        return oks_err_set(e, OKS_E_LIMIT, base, "template sections nested deeper than %d",
                           MAX_DEPTH);
    size_t i = 0;
    while (i < len) {
        const char *o = memmem(src + i, len - i, "{{", 2);
        if (!o) {
            oks_buf_append(out, src + i, len - i);
            break;
        }
        size_t at = (size_t)(o - src);
        oks_buf_append(out, src + i, at - i);
        bool raw = at + 2 < len && src[at + 2] == '{';
        const char *close = memmem(src + at, len - at, raw ? "}}}" : "}}", raw ? 3 : 2);
        if (!close)
            return oks_err_set(e, OKS_E_FORMAT, base + at, "unterminated template tag");
        const char *name = src + at + (raw ? 3 : 2);
        size_t nl = (size_t)(close - name);
        size_t next = (size_t)(close - src) + (raw ? 3 : 2);
        char kind = raw ? 0 : *name;
        if (kind == '#' || kind == '^') {
            name++;
            nl--;
            long end = find_close(src, len, next, name, nl);
            if (end < 0)
                return oks_err_set(e, OKS_E_FORMAT, base + at, "section '%.*s' is not closed",
                                   (int)nl, name);
            const entry *v = lookup(t, name, nl);
            bool has = v && ((v->value && *v->value) || v->n_items > 0);
            if (kind == '^') {
                if (!has) {
                    int r = render(src + next, (size_t)end - next, base + next, t, out,
                                   depth + 1, html, e);
                    if (r)
                        return r;
                }
            } else if (v && v->n_items) {
                for (size_t k = 0; k < v->n_items; k++) {
                    oks_tmpl *item = v->items[k];
                    const oks_tmpl *saved = item->parent;
                    item->parent = t;
                    int r = render(src + next, (size_t)end - next, base + next, item, out,
                                   depth + 1, html, e);
                    item->parent = saved;
                    if (r)
                        return r;
                }
            } else if (has) {
                int r = render(src + next, (size_t)end - next, base + next, t, out, depth + 1,
                               html, e);
                if (r)
                    return r;
            }
            const char *cl = memmem(src + end, len - (size_t)end, "}}", 2);
            i = (size_t)(cl - src) + 2;
            continue;
        }
        if (kind == '/')
            return oks_err_set(e, OKS_E_FORMAT, base + at, "unexpected close of '%.*s'",
                               (int)nl - 1, name + 1);
        if (kind == '!') { /* comment */
            i = next;
            continue;
        }
        const entry *v = lookup(t, name, nl);
        if (v && v->value) {
            if (raw || !html)
                oks_buf_append(out, v->value, strlen(v->value));
            else
                escape(out, v->value);
        }
        i = next;
    }
    return 0;
}

int oks_tmpl_render(const char *src, size_t len, const oks_tmpl *t, oks_buf *out, oks_err *e)
{
    return render(src, len, 0, t, out, 0, true, e);
}

int oks_tmpl_render_text(const char *src, size_t len, const oks_tmpl *t, oks_buf *out, oks_err *e)
{
    return render(src, len, 0, t, out, 0, false, e);
}

int oks_tmpl_load(const char *dir, const char *file, const char *builtin, size_t max, char **out,
                  oks_err *e)
{
    *out = NULL;
    if (dir && *dir) {
        char path[1024];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "template path %s/%s too long",
                               dir, file);
        FILE *f = fopen(path, "rb");
        if (!f && errno != ENOENT)
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "template %s: %s", path,
                               strerror(errno));
        if (f) {
            oks_buf b = OKS_BUF_INIT;
            char chunk[8192];
            size_t n;
            while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= max)
                oks_buf_append(&b, chunk, n);
            int bad = ferror(f);
            fclose(f);
            if (bad || b.len > max) {
                oks_buf_release(&b);
                return bad ? oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "template %s: read error",
                                         path)
                           : oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                                         "template %s is larger than %zu bytes", path, max);
            }
            oks_buf_terminate(&b);
            *out = (char *)oks_buf_detach(&b, NULL);
            return 0;
        }
    }
    if (!builtin)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "template %s: no such template", file);
    *out = oks_xstrdup(builtin);
    return 0;
}

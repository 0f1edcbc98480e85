/*
 * The requests of slapd's back-sock (slapd-sock(5)): a command line, "name: value" lines, for
 * ADD the entry in LDIF and for MODIFY LDIF-style modifications ("replace: attr", values, "-"),
 * ended by a blank line. Values follow LDIF (RFC 2849): "name:: base64", lines folded by a
 * leading space. Lines slapd adds when `extensions` is set (binddn, peername, ssf, connid) and
 * any other unknown name are ignored. Every limit of the request is checked here: the reader
 * hands over at most [ldap] max_request bytes.
 */
#include "gw-ldap/gwl.h"

#include "lib/pgp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct line {
    char *name;
    gwl_val v;
    bool bare; /* no ':' at all (e.g. the "-" of MODIFY, the command) */
} line;

#define MAX_LINES (GWL_REQ_MAX_VALUES + GWL_REQ_MAX_ATTRS + 64)

static int bad(oks_err *e, size_t lineno, const char *why)
{
    return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "request line %zu: %s", lineno + 1, why);
}

/* Unfolds physical lines into logical ones, up to the first empty line. Two passes, so a long
 * folded value (an upload) is copied once. */
static int split_lines(const char *t, size_t n, gwl_arena *a, line **out, size_t *count,
                       oks_err *e)
{
    /* pass 1: physical lines; phys[j].n counts the bytes of a logical line's pieces */
    size_t cap = 32, np = 0, k = 0;
    gwl_val *phys = gwl_alloc(a, cap * sizeof *phys);
    bool *cont = gwl_alloc(a, cap * sizeof *cont);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(t + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - t) : n, len = end - i;
        if (len && t[end - 1] == '\r')
            len--;
        if (len == 0)
            break; /* the blank line ends the request */
        bool c = t[i] == ' ';
        if (c && np == 0)
            return bad(e, 0, "continuation line first");
        if (!c && ++k > MAX_LINES)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "request: more than %d lines",
                               MAX_LINES);
        if (np == cap) {
            gwl_val *bp = gwl_alloc(a, 2 * cap * sizeof *bp);
            bool *bc = gwl_alloc(a, 2 * cap * sizeof *bc);
            memcpy(bp, phys, np * sizeof *phys);
            memcpy(bc, cont, np * sizeof *cont);
            phys = bp;
            cont = bc;
            cap *= 2;
        }
        phys[np].p = (char *)t + i + c;
        phys[np].n = len - c;
        cont[np++] = c;
        i = nl ? end + 1 : n;
    }
    if (k == 0)
        return bad(e, 0, "empty request");
    /* pass 2: join; comment lines (and their continuations) dropped */
    gwl_val *raw = gwl_alloc(a, k * sizeof *raw);
    size_t m = 0;
    for (size_t j = 0; j < np;) {
        size_t len = phys[j].n, q = j + 1;
        while (q < np && cont[q])
            len += phys[q++].n;
        if (phys[j].n && phys[j].p[0] == '#') {
            j = q;
            continue;
        }
        char *joined = gwl_alloc(a, len + 1);
        size_t o = 0;
        for (size_t x = j; x < q; x++) {
            memcpy(joined + o, phys[x].p, phys[x].n);
            o += phys[x].n;
        }
        raw[m].p = joined;
        raw[m++].n = len;
        j = q;
    }
    if (m == 0)
        return bad(e, 0, "empty request");
    k = m;
    line *ls = gwl_alloc(a, k * sizeof *ls);
    for (size_t j = 0; j < k; j++) {
        const char *p = raw[j].p;
        size_t len = raw[j].n;
        const char *colon = memchr(p, ':', len);
        if (!colon) {
            ls[j].bare = true;
            ls[j].v.p = gwl_strndup(a, p, len);
            ls[j].v.n = len;
            continue;
        }
        ls[j].name = gwl_strndup(a, p, (size_t)(colon - p));
        size_t v = (size_t)(colon - p) + 1;
        bool b64 = v < len && p[v] == ':';
        if (v < len && p[v] == '<')
            return bad(e, j, "URL values are not accepted");
        v += b64;
        while (v < len && p[v] == ' ')
            v++;
        if (b64) {
            oks_buf dec = OKS_BUF_INIT;
            if (oks_base64_decode((const uint8_t *)p + v, len - v, &dec)) {
                oks_buf_release(&dec);
                return bad(e, j, "bad base64 value");
            }
            ls[j].v.p = gwl_strndup(a, (const char *)dec.data, dec.len);
            ls[j].v.n = dec.len;
            oks_buf_release(&dec);
        } else {
            ls[j].v.p = gwl_strndup(a, p + v, len - v);
            ls[j].v.n = len - v;
        }
    }
    *out = ls;
    *count = k;
    return 0;
}

static bool is(const line *l, const char *name)
{
    return l->name && strcasecmp(l->name, name) == 0;
}

static int number(const line *l, size_t lineno, long *out, oks_err *e)
{
    char *end;
    errno = 0;
    long v = strtol(l->v.p, &end, 10);
    if (l->v.n == 0 || *end != '\0' || errno)
        return bad(e, lineno, "number expected");
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    gwl_op op;
} commands[] = {
    {"SEARCH", GWL_OP_SEARCH}, {"ADD", GWL_OP_ADD},         {"MODIFY", GWL_OP_MODIFY},
    {"DELETE", GWL_OP_DELETE}, {"MODRDN", GWL_OP_MODRDN},   {"COMPARE", GWL_OP_COMPARE},
    {"BIND", GWL_OP_BIND},     {"UNBIND", GWL_OP_UNBIND},   {"EXTENDED", GWL_OP_EXTENDED},
};

/* The lines every command has before its own: msgid, suffixes, extensions. */
static int common_line(const line *l, size_t lineno, gwl_arena *a, gwl_req *r, bool *used,
                       oks_err *e)
{
    *used = true;
    if (is(l, "msgid"))
        return number(l, lineno, &r->msgid, e);
    if (is(l, "suffix")) {
        if (!r->suffix)
            r->suffix = l->v.p;
        return 0;
    }
    (void)a;
    *used = is(l, "binddn") || is(l, "peername") || is(l, "ssf") || is(l, "connid");
    return 0;
}

static int parse_search(const line *ls, size_t n, gwl_arena *a, gwl_req *r, oks_err *e)
{
    bool have_base = false, have_filter = false;
    for (size_t i = 1; i < n; i++) {
        const line *l = &ls[i];
        bool used;
        int rc;
        if (l->bare)
            return bad(e, i, "':' expected");
        if ((rc = common_line(l, i, a, r, &used, e)))
            return rc;
        if (used)
            continue;
        long v;
        if (is(l, "base")) {
            r->dn = l->v.p;
            have_base = true;
        } else if (is(l, "scope")) {
            if ((rc = number(l, i, &v, e)))
                return rc;
            if (v < 0 || v > 3)
                return bad(e, i, "scope must be 0..3");
            r->scope = (int)v;
        } else if (is(l, "deref")) {
            if ((rc = number(l, i, &v, e)))
                return rc;
            r->deref = (int)(v & 3);
        } else if (is(l, "sizelimit")) {
            if ((rc = number(l, i, &r->sizelimit, e)))
                return rc;
        } else if (is(l, "timelimit")) {
            if ((rc = number(l, i, &r->timelimit, e)))
                return rc;
        } else if (is(l, "filter")) {
            r->filter = l->v.p;
            have_filter = true;
        } else if (is(l, "attrsonly")) {
            if ((rc = number(l, i, &v, e)))
                return rc;
            r->attrsonly = v != 0;
        } else if (is(l, "attrs")) {
            size_t cap = 1;
            for (size_t j = 0; j < l->v.n; j++)
                cap += l->v.p[j] == ' ';
            if (cap > GWL_REQ_MAX_ATTRS * 4)
                return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "request: too many attrs");
            r->attrs = gwl_alloc(a, cap * sizeof *r->attrs);
            r->n_attrs = 0;
            r->all_attrs = false;
            char *s = l->v.p;
            while (*s) {
                while (*s == ' ')
                    s++;
                char *w = s;
                while (*s && *s != ' ')
                    s++;
                if (s == w)
                    break;
                char *word = gwl_strndup(a, w, (size_t)(s - w));
                if (strcasecmp(word, "all") == 0)
                    r->all_attrs = true;
                else
                    r->attrs[r->n_attrs++] = word;
            }
        }
    }
    if (!have_base || !have_filter)
        return bad(e, n - 1, "SEARCH without base or filter");
    if (!r->n_attrs)
        r->all_attrs = true;
    return 0;
}

/* Appends a value to item it (the values grow in the arena). */
static int add_value(gwl_arena *a, gwl_rattr *it, const gwl_val *v, size_t *total, oks_err *e)
{
    if (++*total > GWL_REQ_MAX_VALUES)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "request: more than %d values",
                           GWL_REQ_MAX_VALUES);
    gwl_val *nv = gwl_alloc(a, (it->n + 1) * sizeof *nv);
    if (it->n)
        memcpy(nv, it->v, it->n * sizeof *nv);
    nv[it->n++] = *v;
    it->v = nv;
    return 0;
}

static gwl_rattr *new_item(gwl_arena *a, gwl_req *r, const char *name, int mod, oks_err *e)
{
    if (!r->items)
        r->items = gwl_alloc(a, GWL_REQ_MAX_ATTRS * sizeof *r->items);
    if (r->n_items == GWL_REQ_MAX_ATTRS) {
        oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "request: more than %d attributes",
                    GWL_REQ_MAX_ATTRS);
        return NULL;
    }
    gwl_rattr *it = &r->items[r->n_items++];
    it->name = (char *)name;
    it->mod = mod;
    return it;
}

/* ADD and MODIFY: the common lines up to "dn:"; *at is the line after it. */
static int prelude(const line *ls, size_t n, gwl_arena *a, gwl_req *r, size_t *at, oks_err *e)
{
    size_t i = 1;
    int rc;
    for (; i < n && !is(&ls[i], "dn"); i++) {
        bool used;
        if (ls[i].bare)
            return bad(e, i, "':' expected");
        if ((rc = common_line(&ls[i], i, a, r, &used, e)))
            return rc;
    }
    if (i == n)
        return bad(e, n - 1, "dn expected");
    r->dn = ls[i].v.p;
    *at = i + 1;
    return 0;
}

static int parse_add(const line *ls, size_t n, gwl_arena *a, gwl_req *r, oks_err *e)
{
    size_t i, total = 0;
    int rc;
    if ((rc = prelude(ls, n, a, r, &i, e)))
        return rc;
    for (; i < n; i++) {
        const line *l = &ls[i];
        if (l->bare)
            return bad(e, i, "':' expected");
        gwl_rattr *it = NULL;
        for (size_t j = 0; j < r->n_items && !it; j++)
            if (strcasecmp(r->items[j].name, l->name) == 0)
                it = &r->items[j];
        if (!it && !(it = new_item(a, r, l->name, GWL_MOD_ADD, e)))
            return e ? e->code : OKS_E_LIMIT;
        if ((rc = add_value(a, it, &l->v, &total, e)))
            return rc;
    }
    return 0;
}

static int parse_modify(const line *ls, size_t n, gwl_arena *a, gwl_req *r, oks_err *e)
{
    size_t i, total = 0;
    int rc;
    if ((rc = prelude(ls, n, a, r, &i, e)))
        return rc;
    gwl_rattr *it = NULL;
    for (; i < n; i++) {
        const line *l = &ls[i];
        if (l->bare) {
            if (!(l->v.n == 1 && l->v.p[0] == '-') || !it)
                return bad(e, i, "'-' ends a modification, nothing else stands alone");
            it = NULL;
            continue;
        }
        if (!it) {
            static const char *const ops[] = {"add", "delete", "replace", "increment"};
            int op = -1;
            for (int k = 0; k < 4; k++)
                if (is(l, ops[k]))
                    op = k;
            if (op < 0)
                return bad(e, i, "add:, delete:, replace: or increment: expected");
            if (!(it = new_item(a, r, l->v.p, op, e)))
                return e ? e->code : OKS_E_LIMIT;
            continue;
        }
        if (strcasecmp(l->name, it->name) != 0)
            return bad(e, i, "value of another attribute inside a modification");
        if ((rc = add_value(a, it, &l->v, &total, e)))
            return rc;
    }
    if (it)
        return bad(e, n - 1, "modification not ended by '-'");
    return 0;
}

/* DELETE, MODRDN, COMPARE, BIND, UNBIND, EXTENDED: only msgid and dn are read; BIND's
 * credentials may be any bytes, so lines that are not "name: value" are skipped. */
static void parse_other(const line *ls, size_t n, gwl_req *r)
{
    for (size_t i = 1; i < n; i++) {
        const line *l = &ls[i];
        if (is(l, "msgid")) {
            char *end;
            long v = strtol(l->v.p, &end, 10);
            if (*end == '\0')
                r->msgid = v;
        } else if (is(l, "suffix") && !r->suffix) {
            r->suffix = l->v.p;
        } else if (is(l, "dn") && !r->dn) {
            r->dn = l->v.p;
        }
    }
}

int gwl_req_parse(const char *text, size_t n, gwl_arena *a, gwl_req *r, oks_err *e)
{
    memset(r, 0, sizeof *r);
    line *ls = NULL;
    size_t k = 0;
    int rc = split_lines(text, n, a, &ls, &k, e);
    if (rc)
        return rc;
    if (!ls[0].bare)
        return bad(e, 0, "command expected");
    size_t c = 0, nc = sizeof commands / sizeof commands[0];
    while (c < nc && strcasecmp(ls[0].v.p, commands[c].name) != 0)
        c++;
    if (c == nc)
        return bad(e, 0, "unknown command");
    r->op = commands[c].op;
    switch (r->op) {
    case GWL_OP_SEARCH: return parse_search(ls, k, a, r, e);
    case GWL_OP_ADD: return parse_add(ls, k, a, r, e);
    case GWL_OP_MODIFY: return parse_modify(ls, k, a, r, e);
    default: parse_other(ls, k, r); return 0;
    }
}

bool gwl_req_wants(const gwl_req *r, const char *name)
{
    if (r->all_attrs)
        return true;
    for (size_t i = 0; i < r->n_attrs; i++)
        if (strcmp(r->attrs[i], "*") == 0 || strcasecmp(r->attrs[i], name) == 0)
            return true;
    return false;
}

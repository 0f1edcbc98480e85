/*
 * Search filters: the string form (RFC 4515) that slapd's back-sock writes on its "filter:"
 * line, parsed into a tree, and three-valued matching of that tree against an entry.
 *
 * slapd writes the filter it decoded from the client's BER, normalized: attribute types in
 * their schema spelling, assertion values case-folded with \HH escapes, "(?attr=...)" for an
 * attribute type it does not know, "(?=false)" / "(?=true)" / "(?=undefined)" for parts it
 * already evaluated, "(&)" and "(|)" for absolute true and false (RFC 4526). Anything else is a
 * format error; the parser never reads past n and never recurses deeper than
 * GWL_FILTER_MAX_DEPTH.
 */
#include "gw-ldap/gwl.h"

#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct parser {
    const char *s;
    size_t n, i;
    unsigned terms, max_terms;
    gwl_arena *a;
    oks_err *e;
} parser;

static int fail(parser *p, const char *why)
{
    return oks_err_set(p->e, OKS_E_FORMAT, p->i, "filter: %s", why);
}

static int peek(const parser *p)
{
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* attributedescription: (descr | numericoid) *(";" option); lowercased into f->attr. */
static int parse_attr(parser *p, gwl_filter *f)
{
    size_t start = p->i;
    int c = peek(p);
    if (is_alpha(c)) {
        while (is_alpha(c = peek(p)) || is_digit(c) || c == '-')
            p->i++;
    } else if (is_digit(c)) {
        for (;;) {
            if (!is_digit(peek(p)))
                return fail(p, "bad numeric OID");
            while (is_digit(peek(p)))
                p->i++;
            if (peek(p) != '.')
                break;
            p->i++;
        }
    } else {
        return fail(p, "attribute type expected");
    }
    size_t end = p->i;
    while (peek(p) == ';') {
        p->i++;
        if (!is_alpha(c = peek(p)) && !is_digit(c) && c != '-')
            return fail(p, "empty attribute option");
        while (is_alpha(c = peek(p)) || is_digit(c) || c == '-')
            p->i++;
        f->has_options = true;
    }
    f->attr = gwl_strndup(p->a, p->s + start, end - start);
    for (char *q = f->attr; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    return 0;
}

/* Reads value characters up to ')' (or, when star_ends, up to '*'), unescaping \HH. */
static int parse_value(parser *p, bool star_ends, gwl_val *out)
{
    size_t start = p->i, len = 0;
    /* first pass: validate and measure */
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return fail(p, "unterminated value");
        if (c == ')' || (star_ends && c == '*'))
            break;
        if (c == '(' || c == '*' || c == 0)
            return fail(p, "unescaped '(', '*' or NUL in a value");
        if (c == '\\') {
            uint8_t b;
            if (p->i + 2 >= p->n || oks_unhex(&b, p->s + p->i + 1, 1))
                return fail(p, "bad \\HH escape");
            p->i += 3;
        } else {
            p->i++;
        }
        len++;
    }
    char *v = gwl_alloc(p->a, len + 1);
    size_t k = 0;
    for (size_t i = start; i < p->i;) {
        if (p->s[i] == '\\') {
            uint8_t b = 0;
            oks_unhex(&b, p->s + i + 1, 1); /* checked above */
            v[k++] = (char)b;
            i += 3;
        } else {
            v[k++] = p->s[i++];
        }
    }
    v[k] = '\0';
    out->p = v;
    out->n = k;
    return 0;
}

/* After "attr=": equality, presence or substrings. */
static int parse_eq_or_sub(parser *p, gwl_filter *f)
{
    gwl_val seg[GWL_FILTER_MAX_DEPTH * 4];
    size_t n = 0;
    int rc;
    for (;;) {
        if (n == sizeof seg / sizeof seg[0])
            return oks_err_set(p->e, OKS_E_LIMIT, p->i, "filter: too many substrings");
        if ((rc = parse_value(p, true, &seg[n])))
            return rc;
        n++;
        if (peek(p) != '*')
            break;
        p->i++;
    }
    if (n == 1) {
        f->type = GWL_F_EQ;
        f->value = seg[0];
        return 0;
    }
    if (n == 2 && seg[0].n == 0 && seg[1].n == 0) {
        f->type = GWL_F_PRESENT;
        return 0;
    }
    f->type = GWL_F_SUB;
    if (seg[0].n)
        f->initial = seg[0];
    if (seg[n - 1].n)
        f->final = seg[n - 1];
    if (n > 2) {
        f->any = gwl_alloc(p->a, (n - 2) * sizeof *f->any);
        for (size_t i = 1; i + 1 < n; i++) {
            if (seg[i].n == 0)
                return fail(p, "empty substring between '*'s");
            f->any[f->n_any++] = seg[i];
        }
    }
    return 0;
}

/* extensible: [attr] [":dn"] [":" rule] ":=" value; the attribute (if any) is already read. */
static int parse_ext(parser *p, gwl_filter *f)
{
    f->type = GWL_F_EXT;
    int c;
    while (peek(p) == ':') {
        p->i++;
        if (peek(p) == '=') {
            p->i++;
            return parse_value(p, false, &f->value);
        }
        size_t start = p->i;
        while (is_alpha(c = peek(p)) || is_digit(c) || c == '-' || c == '.')
            p->i++;
        if (p->i == start)
            return fail(p, "bad extensible match");
    }
    return fail(p, "':=' expected");
}

static int parse_filter(parser *p, unsigned depth, gwl_filter **out);

static int parse_item(parser *p, gwl_filter *f)
{
    if (peek(p) == '?') {
        p->i++;
        if (peek(p) == '=') { /* slapd's evaluated parts */
            p->i++;
            size_t start = p->i;
            while (is_alpha(peek(p)))
                p->i++;
            size_t len = p->i - start;
            const char *w = p->s + start;
            if (len == 4 && memcmp(w, "true", 4) == 0)
                f->type = GWL_F_TRUE;
            else if (len == 5 && memcmp(w, "false", 5) == 0)
                f->type = GWL_F_FALSE;
            else if (len > 0)
                f->type = GWL_F_UNDEF;
            else
                return fail(p, "bad (?=...)");
            return 0;
        }
        f->undefined_attr = true;
    }
    int rc;
    if (peek(p) == ':') /* extensible without an attribute */
        return parse_ext(p, f);
    if ((rc = parse_attr(p, f)))
        return rc;
    int c = peek(p);
    if (c == ':')
        return parse_ext(p, f);
    if (c == '~' || c == '>' || c == '<') {
        p->i++;
        if (peek(p) != '=')
            return fail(p, "'=' expected");
        p->i++;
        f->type = c == '~' ? GWL_F_APPROX : c == '>' ? GWL_F_GE : GWL_F_LE;
        return parse_value(p, false, &f->value);
    }
    if (c != '=')
        return fail(p, "'=', '~=', '>=', '<=' or ':' expected");
    p->i++;
    return parse_eq_or_sub(p, f);
}

static int parse_filter(parser *p, unsigned depth, gwl_filter **out)
{
    if (depth > GWL_FILTER_MAX_DEPTH)
        return oks_err_set(p->e, OKS_E_LIMIT, p->i, "filter: nested deeper than %d",
                           GWL_FILTER_MAX_DEPTH);
    if (++p->terms > p->max_terms)
        return oks_err_set(p->e, OKS_E_LIMIT, p->i, "filter: more than %u terms", p->max_terms);
    if (peek(p) != '(')
        return fail(p, "'(' expected");
    p->i++;
    gwl_filter *f = gwl_alloc(p->a, sizeof *f);
    int c = peek(p), rc;
    if (c == '&' || c == '|') {
        p->i++;
        f->type = c == '&' ? GWL_F_AND : GWL_F_OR;
        gwl_filter *kids[64];
        size_t cap = sizeof kids / sizeof kids[0];
        while (peek(p) == '(') {
            gwl_filter *k;
            if ((rc = parse_filter(p, depth + 1, &k)))
                return rc;
            if (f->n_kids == cap)
                return oks_err_set(p->e, OKS_E_LIMIT, p->i, "filter: more than %zu operands",
                                   cap);
            kids[f->n_kids++] = k;
        }
        if (f->n_kids) {
            f->kids = gwl_alloc(p->a, f->n_kids * sizeof *f->kids);
            memcpy(f->kids, kids, f->n_kids * sizeof *kids);
        } else {
            f->type = f->type == GWL_F_AND ? GWL_F_TRUE : GWL_F_FALSE;
        }
    } else if (c == '!') {
        p->i++;
        f->type = GWL_F_NOT;
        f->kids = gwl_alloc(p->a, sizeof *f->kids);
        f->n_kids = 1;
        if ((rc = parse_filter(p, depth + 1, &f->kids[0])))
            return rc;
    } else if ((rc = parse_item(p, f))) {
        return rc;
    }
    if (peek(p) != ')')
        return fail(p, "')' expected");
    p->i++;
    *out = f;
    return 0;
}

int gwl_filter_parse(const char *s, size_t n, unsigned max_terms, gwl_arena *a,
                     gwl_filter **out, oks_err *e)
{
    parser p = {.s = s, .n = n, .max_terms = max_terms, .a = a, .e = e};
    *out = NULL;
    int rc = parse_filter(&p, 1, out);
    if (rc == 0 && p.i != n) {
        *out = NULL;
        return fail(&p, "text after the filter");
    }
    if (rc)
        *out = NULL;
    return rc;
}

bool gwl_filter_mentions(const gwl_filter *f, const char *attr)
{
    if (f->attr && strcmp(f->attr, attr) == 0)
        return true;
    for (size_t i = 0; i < f->n_kids; i++)
        if (gwl_filter_mentions(f->kids[i], attr))
            return true;
    return false;
}

/* ---- folding ------------------------------------------------------------------------------ */

static unsigned fold_cp(unsigned cp)
{
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 0x20;
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
        return cp | 1;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return (cp & 1) ? cp + 1 : cp;
    if (cp == 0x178)
        return 0xFF;
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        return cp + 0x20;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 0x50;
    return cp;
}

size_t gwl_fold(const char *in, size_t n, char *out, bool trim)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = true;
            i++;
            continue;
        }
        if (space && (k > 0 || !trim))
            out[k++] = ' ';
        space = false;
        if (c >= 'A' && c <= 'Z') {
            out[k++] = (char)(c + 32);
            i++;
        } else if (c >= 0xC2 && c <= 0xDF && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            unsigned cp = fold_cp((c & 0x1F) << 6 | (s[i + 1] & 0x3F));
            out[k++] = (char)(0xC0 | cp >> 6);
            out[k++] = (char)(0x80 | (cp & 0x3F));
            i += 2;
        } else {
            out[k++] = (char)c;
            i++;
        }
    }
    if (space && !trim)
        out[k++] = ' ';
    return k;
}

/* ---- matching ----------------------------------------------------------------------------- */

typedef struct folded {
    char small[256];
    char *p;
    size_t n;
} folded;

static void fold_into(folded *f, const gwl_val *v, bool trim)
{
    f->p = v->n < sizeof f->small ? f->small : oks_xmalloc(v->n + 1);
    f->n = gwl_fold(v->p, v->n, f->p, trim);
}

static void fold_done(folded *f)
{
    if (f->p != f->small)
        free(f->p);
}

static const char *find(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0)
        return h;
    if (nn > hn)
        return NULL;
    return memmem(h, hn, nd, nn);
}

static bool sub_match(const gwl_filter *f, const folded *v)
{
    const char *p = v->p, *end = v->p + v->n;
    bool ok = true;
    folded c;
    if (f->initial.p) {
        fold_into(&c, &f->initial, false);
        ok = c.n <= (size_t)(end - p) && memcmp(p, c.p, c.n) == 0;
        p += ok ? c.n : 0;
        fold_done(&c);
    }
    for (size_t i = 0; ok && i < f->n_any; i++) {
        fold_into(&c, &f->any[i], false);
        const char *at = find(p, (size_t)(end - p), c.p, c.n);
        ok = at != NULL;
        if (ok)
            p = at + c.n;
        fold_done(&c);
    }
    if (ok && f->final.p) {
        fold_into(&c, &f->final, false);
        ok = c.n <= (size_t)(end - p) && memcmp(end - c.n, c.p, c.n) == 0;
        fold_done(&c);
    }
    return ok;
}

static int cmp_folded(const folded *a, const folded *b)
{
    size_t m = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->p, b->p, m);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

static gwl_tri match_item(const gwl_filter *f, const gwl_entry *en)
{
    if (f->undefined_attr || f->has_options)
        return GWL_UNDEFINED;
    const gwl_attr *at = gwl_entry_get(en, f->attr);
    if (f->type == GWL_F_PRESENT)
        return at && at->n ? GWL_TRUE : GWL_FALSE;
    if (!at || at->n == 0)
        return GWL_FALSE;
    folded want = {.p = NULL};
    if (f->type != GWL_F_SUB)
        fold_into(&want, &f->value, true);
    bool hit = false;
    for (size_t i = 0; i < at->n && !hit; i++) {
        folded v;
        fold_into(&v, &at->v[i], true);
        switch (f->type) {
        case GWL_F_EQ:
        case GWL_F_APPROX: hit = cmp_folded(&v, &want) == 0; break;
        case GWL_F_GE: hit = cmp_folded(&v, &want) >= 0; break;
        case GWL_F_LE: hit = cmp_folded(&v, &want) <= 0; break;
        case GWL_F_SUB: hit = sub_match(f, &v); break;
        default: break;
        }
        fold_done(&v);
    }
    if (want.p)
        fold_done(&want);
    return hit ? GWL_TRUE : GWL_FALSE;
}

gwl_tri gwl_filter_match(const gwl_filter *f, const gwl_entry *en)
{
    switch (f->type) {
    case GWL_F_AND: {
        gwl_tri r = GWL_TRUE;
        for (size_t i = 0; i < f->n_kids; i++) {
            gwl_tri k = gwl_filter_match(f->kids[i], en);
            if (k == GWL_FALSE)
                return GWL_FALSE;
            if (k == GWL_UNDEFINED)
                r = GWL_UNDEFINED;
        }
        return r;
    }
    case GWL_F_OR: {
        gwl_tri r = GWL_FALSE;
        for (size_t i = 0; i < f->n_kids; i++) {
            gwl_tri k = gwl_filter_match(f->kids[i], en);
            if (k == GWL_TRUE)
                return GWL_TRUE;
            if (k == GWL_UNDEFINED)
                r = GWL_UNDEFINED;
        }
        return r;
    }
    case GWL_F_NOT: {
        gwl_tri k = gwl_filter_match(f->kids[0], en);
        return k == GWL_UNDEFINED ? k : k == GWL_TRUE ? GWL_FALSE : GWL_TRUE;
    }
    case GWL_F_TRUE: return GWL_TRUE;
    case GWL_F_FALSE: return GWL_FALSE;
    case GWL_F_UNDEF:
    case GWL_F_EXT: return GWL_UNDEFINED;
    default: return match_item(f, en);
    }
}

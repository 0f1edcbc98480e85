/* HKP request parsing (see query.h). */
#include "gw-http/query.h"
#include "lib/xalloc.h"

#include "lib/buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes s[0..n) into out (n+1 bytes); returns decoded length or -1. */
static long decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
                (lo = hexval((unsigned char)s[i + 2])) < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

long gw_url_decode(const char *s, size_t n, char *out)
{
    return decode(s, n, out);
}

int gw_form_parse(gw_form *f, const char *s, size_t len, const char **why)
{
    memset(f, 0, sizeof *f);
    f->buf = oks_xmalloc(2 * len + 2);
    char *w = f->buf;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        if (end > i) {
            if (f->n == GW_FORM_MAX_FIELDS) {
                *why = "too many form fields";
                gw_form_release(f);
                return -1;
            }
            const char *eq = memchr(s + i, '=', end - i);
            size_t nl = eq ? (size_t)(eq - (s + i)) : end - i;
            long a = decode(s + i, nl, w);
            if (a < 0) {
                *why = "bad percent-encoding";
                gw_form_release(f);
                return -1;
            }
            f->f[f->n].name = w;
            w += a + 1;
            long b = eq ? decode(eq + 1, (size_t)(s + end - eq - 1), w) : (w[0] = '\0', 0);
            if (b < 0) {
                *why = "bad percent-encoding";
                gw_form_release(f);
                return -1;
            }
            f->f[f->n].value = w;
            f->f[f->n].len = (size_t)b;
            w += b + 1;
            f->n++;
        }
        i = end + 1;
    }
    return 0;
}

const char *gw_form_get(const gw_form *f, const char *name, size_t *len)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0) {
            if (len)
                *len = f->f[i].len;
            return f->f[i].value;
        }
    return NULL;
}

void gw_form_release(gw_form *f)
{
    free(f->buf);
    f->buf = NULL;
    f->n = 0;
}

static bool on(const gw_form *f, const char *name)
{
    const char *v = gw_form_get(f, name, NULL);
    return v && strcasecmp(v, "on") == 0;
}

/* Hex digits of s (spaces between groups allowed); returns count or -1 if anything else. */
static long hex_digits(const char *s, char *out, size_t max)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ')
            continue;
        if (!isxdigit((unsigned char)*s) || n == max)
            return -1;
        out[n++] = *s;
    }
    out[n] = '\0';
    return (long)n;
}

static const char *const op_names[GW_OPS] = {
    [GW_OP_GET] = "get",     [GW_OP_INDEX] = "index",         [GW_OP_VINDEX] = "vindex",
    [GW_OP_STATS] = "stats", [GW_OP_HGET] = "hget",           [GW_OP_ADD] = "add",
    [GW_OP_HASHQUERY] = "hashquery", [GW_OP_HEALTH] = "health", [GW_OP_OTHER] = "other",
};

const char *gw_op_name(enum gw_op op)
{
    return (unsigned)op < GW_OPS ? op_names[op] : "other";
}

/* The lookup operation named by the value of op=, or -1. */
static int lookup_op(const char *v)
{
    static const struct {
        const char *name;
        enum gw_op op;
    } ops[] = {{"get", GW_OP_GET},        {"index", GW_OP_INDEX},    {"vindex", GW_OP_VINDEX},
               {"stats", GW_OP_STATS},    {"x-stats", GW_OP_STATS},  {"hget", GW_OP_HGET},
               {"x-hget", GW_OP_HGET}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(v, ops[i].name) == 0)
            return (int)ops[i].op;
    return -1;
}

enum gw_op gw_request_op(const char *path, size_t path_len, const char *query, size_t query_len)
{
    static const struct {
        const char *path;
        enum gw_op op;
    } paths[] = {{"/pks/add", GW_OP_ADD},
                 {"/pks/hashquery", GW_OP_HASHQUERY},
                 {"/pks/health", GW_OP_HEALTH},
                 {"/pks/health/live", GW_OP_HEALTH}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (path_len == strlen(paths[i].path) && memcmp(path, paths[i].path, path_len) == 0)
            return paths[i].op;
    if (path_len != 11 || memcmp(path, "/pks/lookup", 11) != 0 || !query)
        return GW_OP_OTHER;
    /* the first op field, decoded as gw_form_parse decodes it; longer ones are no operation */
    for (size_t i = 0; i < query_len;) {
        const char *f = query + i, *amp = memchr(f, '&', query_len - i);
        size_t fl = amp ? (size_t)(amp - f) : query_len - i;
        const char *eq = memchr(f, '=', fl);
        size_t nl = eq ? (size_t)(eq - f) : fl;
        char name[8], value[16];
        if (nl < sizeof name && decode(f, nl, name) >= 0 && strcmp(name, "op") == 0) {
            size_t vl = eq ? fl - nl - 1 : 0;
            if (vl >= sizeof value || decode(eq ? eq + 1 : f, vl, value) < 0)
                return GW_OP_OTHER;
            int op = lookup_op(value);
            return op < 0 ? GW_OP_OTHER : (enum gw_op)op;
        }
        i += fl + 1;
    }
    return GW_OP_OTHER;
}

int gw_lookup_parse(const gw_form *f, gw_lookup *l, const char **why)
{
    memset(l, 0, sizeof *l);
    const char *op = gw_form_get(f, "op", NULL);
    if (!op) {
        *why = "missing op parameter";
        return 400;
    }
    int known = lookup_op(op);
    if (known >= 0) {
        l->op = (enum gw_op)known;
    } else {
        bool word = *op != '\0';
        for (const char *c = op; *c; c++)
            word &= isalnum((unsigned char)*c) || *c == '-' || *c == '_';
        *why = word ? "unsupported operation" : "malformed op parameter";
        return word ? 501 : 400;
    }
    const char *opts = gw_form_get(f, "options", NULL);
    if (opts) {
        char tmp[128];
        size_t n = strlen(opts);
        if (n >= sizeof tmp) {
            *why = "options too long";
            return 400;
        }
        memcpy(tmp, opts, n + 1);
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "mr") == 0)
                l->mr = true;
            else if (strcmp(t, "nm") == 0)
                l->nm = true;
        }
    }
    l->exact = on(f, "exact");
    l->show_fpr = on(f, "fingerprint");
    if (l->op == GW_OP_STATS)
        return 0;
    const char *s = gw_form_get(f, "search", NULL);
    if (!s || !*s) {
        *why = "missing search parameter";
        return 400;
    }
    if (strlen(s) > 1024) {
        *why = "search too long";
        return 400;
    }
    char hex[80];
    if (l->op == GW_OP_HGET) {
        if (hex_digits(s, hex, 64) != 32 || oks_unhex(l->id, hex, 16)) {
            *why = "hget needs a 32-digit hexadecimal SKS hash";
            return 400;
        }
        l->kind = GW_S_HASH;
        l->id_len = 16;
        return 0;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        long n = hex_digits(s + 2, hex, 79);
        if (n == 32) {
            *why = "v3 fingerprints are not supported";
            return 404;
        }
        if (n != 8 && n != 16 && n != 40 && n != 64) {
            *why = "malformed key ID or fingerprint (0x + 8, 16, 40 or 64 hex digits)";
            return 400;
        }
        oks_unhex(l->id, hex, (size_t)n / 2);
        l->id_len = (size_t)n / 2;
        l->kind = n == 8 ? GW_S_SHORTID : n == 16 ? GW_S_KEYID : GW_S_FPR;
        return 0;
    }
    /* a bare 16/40/64-digit hex string is an identifier too */
    long n = hex_digits(s, hex, 79);
    if (n == 16 || n == 40 || n == 64) {
        oks_unhex(l->id, hex, (size_t)n / 2);
        l->id_len = (size_t)n / 2;
        l->kind = n == 16 ? GW_S_KEYID : GW_S_FPR;
        return 0;
    }
    l->text = s;
    const char *at = strchr(s, '@');
    bool email = at && at != s && at[1] && !strchr(s, ' ');
    l->kind = email ? GW_S_EMAIL : GW_S_WORDS;
    return 0;
}

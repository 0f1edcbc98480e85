/* Reading oks.conf against the table of lib/conf_table.c (see lib/conf.h). */
#include "lib/conf.h"
#include "lib/xalloc.h"
#include "lib/net.h"
#include "lib/cluster.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINE 4096 /* bytes of one line, newline included */
#define SHARD_KEYS 6  /* keys of a [shard.NAME] section */

/* ---- one value --------------------------------------------------------------------------- */

static int why_set(char *why, size_t n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int why_set(char *why, size_t n, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return code;
}

static int parse_digits(const char *v, unsigned long long *out, const char **rest)
{
    if (!isdigit((unsigned char)*v))
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno)
        return -1;
    *out = x;
    *rest = end;
    return 0;
}

static int set_number(const oks_conf_entry *e, void *field, const char *v, char *why, size_t n)
{
    unsigned long long x;
    const char *rest;
    if (parse_digits(v, &x, &rest))
        return why_set(why, n, OKS_E_FORMAT, "'%s' is not a number", v);
    if (e->type == OKS_CONF_SIZE && *rest) {
        unsigned shift = 0;
        switch (*rest) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        }
        if (!shift || rest[1])
            return why_set(why, n, OKS_E_FORMAT,
                           "'%s' is not a size (a number with an optional K, M or G)", v);
        if (x > (ULLONG_MAX >> shift))
            return why_set(why, n, OKS_E_FORMAT, "'%s' is out of range %llu..%llu", v, e->min,
                           e->max);
        x <<= shift;
    } else if (*rest)
        return why_set(why, n, OKS_E_FORMAT, "'%s' is not a number", v);
    if (x < e->min || x > e->max)
        return why_set(why, n, OKS_E_FORMAT, "'%s' is out of range %llu..%llu", v, e->min, e->max);
    if (e->size == sizeof(unsigned))
        *(unsigned *)field = (unsigned)x;
    else
        *(size_t *)field = (size_t)x;
    return 0;
}

static int set_decimal(const oks_conf_entry *e, void *field, const char *v, char *why, size_t n)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!isdigit((unsigned char)*v) || v[strspn(v, "0123456789.")] || *end || errno ||
        !isfinite(x))
        return why_set(why, n, OKS_E_FORMAT, "'%s' is not a decimal number", v);
    if (x < e->dmin || x > e->dmax)
        return why_set(why, n, OKS_E_FORMAT, "'%s' is out of range %.15g..%.15g", v, e->dmin,
                       e->dmax);
    *(double *)field = x;
    return 0;
}

static int set_bool(void *field, const char *v, char *why, size_t n)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
                                                                               "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *(bool *)field = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return why_set(why, n, OKS_E_FORMAT, "'%s' is not yes or no", v);
}

static int set_string(const oks_conf_entry *e, void *field, const char *v, char *why, size_t n)
{
    size_t len = strlen(v);
    if (len >= e->size)
        return why_set(why, n, OKS_E_LIMIT, "longer than %zu bytes", e->size - 1);
    memcpy(field, v, len + 1);
    return 0;
}

/* HOSTPORT values go through the one HOST:PORT parser of the tree (lib/net.h). */
static int set_hostport(oks_hostport *hp, const char *v, char *why, size_t n)
{
    memset(hp, 0, sizeof *hp);
    if (!*v)
        return 0;
    oks_err e;
    unsigned port;
    char host[sizeof hp->host];
    if (oks_hostport_split(v, host, sizeof host, &port, &e))
        return why_set(why, n, OKS_E_FORMAT, "'%s' is not HOST:PORT (port 1..65535): %s", v,
                       e.msg);
    memcpy(hp->host, host, sizeof host);
    hp->port = port;
    return 0;
}

int oks_hostport_parse(const char *s, oks_hostport *hp, oks_err *e)
{
    char why[160];
    if (!*s)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "empty HOST:PORT");
    int r = set_hostport(hp, s, why, sizeof why);
    return r ? oks_err_set(e, r, OKS_NO_OFFSET, "%s", why) : 0;
}

static int set_enum(const oks_conf_entry *e, void *field, const char *v, char *why, size_t n)
{
    char all[160] = "";
    for (int i = 0; e->names[i]; i++) {
        if (strcmp(v, e->names[i]) == 0) {
            *(int *)field = i;
            return 0;
        }
        size_t l = strlen(all);
        snprintf(all + l, sizeof all - l, "%s%s", i ? ", " : "", e->names[i]);
    }
    return why_set(why, n, OKS_E_FORMAT, "'%s' is not one of %s", v, all);
}

/* A ZeroMQ endpoint: tcp://HOST:PORT (HOST a name or an address, [IPv6] bracketed; "*" only
 * where it is bound), ipc://PATH or inproc://NAME. Returns 0 or writes the reason. */
static int zmq_endpoint_check(const char *w, bool bind, char *why, size_t n)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(schemes[i]);
        if (strncmp(w, schemes[i], l) || !w[l])
            continue;
        if (i > 0)
            return 0;
        char host[256];
        unsigned port;
        oks_err e;
        if (oks_hostport_split(w + l, host, sizeof host, &port, &e))
            return why_set(why, n, OKS_E_FORMAT, "'%s' is not tcp://HOST:PORT: %s", w, e.msg);
        if (!bind && strcmp(host, "*") == 0)
            return why_set(why, n, OKS_E_FORMAT,
                           "'%s': '*' can be bound, not connected to (name the host; a "
                           "shard binds its own bind endpoint)", w);
        return 0;
    }
    return why_set(why, n, OKS_E_FORMAT,
                   "'%s' is not a ZeroMQ endpoint (tcp://, ipc://, inproc://)", w);
}

/* LIST and ZMQ_LIST: words separated by spaces or commas. */
static int set_list(const oks_conf_entry *e, void *field, const char *v, char *why, size_t n)
{
    bool zmq = e->type == OKS_CONF_ZMQ_LIST;
    size_t cap = zmq ? OKS_MAX_ROUTERS : 0, count = 0, used = 0;
    char *out = field;
    if (zmq)
        memset(field, 0, e->size);
    else
        out[0] = '\0';
    for (const char *p = v; *p;) {
        size_t skip = strspn(p, " \t,"), len = strcspn(p + skip, " \t,");
        p += skip;
        if (!len)
            break;
        char w[512];
        if (len >= sizeof w)
            return why_set(why, n, OKS_E_LIMIT, "an entry is longer than %zu bytes",
                           sizeof w - 1);
        memcpy(w, p, len);
        w[len] = '\0';
        p += len;
        if (zmq) {
            char (*routers)[256] = field;
            int r = zmq_endpoint_check(w, false, why, n);
            if (r)
                return r;
            if (count == cap)
                return why_set(why, n, OKS_E_LIMIT, "more than %zu endpoints", cap);
            if (len >= sizeof routers[0])
                return why_set(why, n, OKS_E_LIMIT, "an endpoint is longer than %zu bytes",
                               sizeof routers[0] - 1);
            memcpy(routers[count], w, len + 1);
        } else {
            if (used + len + 2 > e->size)
                return why_set(why, n, OKS_E_LIMIT, "longer than %zu bytes", e->size - 1);
            used += (size_t)snprintf(out + used, e->size - used, "%s%s", used ? " " : "", w);
        }
        count++;
    }
    return 0;
}

static int set_slots(void *field, const char *v, char *why, size_t n)
{
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("-, ", *p))
            return why_set(why, n, OKS_E_FORMAT, "'%s' is not a slot list such as 0-2047,4000",
                           v);
    char *dup = oks_xstrdup(v);
    free(*(char **)field);
    *(char **)field = dup;
    return 0;
}

int oks_conf_set(const oks_conf_entry *e, void *base, const char *v, char *why, size_t n)
{
    void *field = (char *)base + e->offset;
    switch (e->type) {
    case OKS_CONF_UINT:
    case OKS_CONF_SIZE: return set_number(e, field, v, why, n);
    case OKS_CONF_DECIMAL: return set_decimal(e, field, v, why, n);
    case OKS_CONF_BOOL: return set_bool(field, v, why, n);
    case OKS_CONF_STRING: return set_string(e, field, v, why, n);
    case OKS_CONF_HOSTPORT: return set_hostport(field, v, why, n);
    case OKS_CONF_ENUM: return set_enum(e, field, v, why, n);
    case OKS_CONF_ZMQ:
    case OKS_CONF_ZMQ_BIND: {
        int r = *v ? zmq_endpoint_check(v, e->type == OKS_CONF_ZMQ_BIND, why, n) : 0;
        return r ? r : set_string(e, field, v, why, n);
    }
    case OKS_CONF_LIST:
    case OKS_CONF_ZMQ_LIST: return set_list(e, field, v, why, n);
    case OKS_CONF_SLOTS: return set_slots(field, v, why, n);
    case OKS_CONF_NETS: {
        oks_err ne;
        if (oks_nets_check(v, &ne))
            return why_set(why, n, OKS_E_FORMAT, "%s", ne.msg);
        return set_list(e, field, v, why, n);
    }
    }
    return why_set(why, n, OKS_E_ARG, "unknown setting type");
}

/* ---- the file ---------------------------------------------------------------------------- */

typedef struct parse_ctx {
    const char *name;        /* file name for messages */
    const char *p, *end;     /* the text not yet handed to inih */
    int line;                /* lines handed to inih so far = the line inih is parsing */
    oks_cluster *c;
    const oks_conf_entry *table;
    size_t n_table;
    int *set_line;           /* per table entry: line it was set on (global sections) */
    int shard_lines[OKS_MAX_SHARDS][SHARD_KEYS]; /* per [shard.NAME] key: line it was set on */
    int err_line;            /* first error (0: none) */
    int err_code;
    char err[200];
} parse_ctx;

static void fail_at(parse_ctx *x, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_at(parse_ctx *x, int line, int code, const char *fmt, ...)
{
    if (x->err_line && x->err_line <= line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, sizeof x->err, fmt, ap);
    va_end(ap);
    x->err_line = line;
    x->err_code = code;
}

static bool shard_name_ok(const char *s, size_t len)
{
    if (len == 0 || len >= sizeof(((oks_shard_conf *)0)->name))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
            return false;
    return true;
}

static bool section_known(const parse_ctx *x, const char *s, size_t len)
{
    if (len > 6 && strncmp(s, "shard.", 6) == 0)
        return true; /* its name is checked when a key of it is read */
    for (size_t i = 0; i < x->n_table; i++)
        if (strlen(x->table[i].section) == len && strncmp(x->table[i].section, s, len) == 0)
            return true;
    return false;
}

/* inih's line reader: hands over one whole line at a time, so inih's line count is ours; a
 * line too long for inih's buffer is an error rather than two lines; every section header is
 * checked here, so an unknown section is refused even when it holds no key. */
static char *read_line(char *buf, int size, void *stream)
{
    parse_ctx *x = stream;
    if (x->p >= x->end)
        return NULL;
    const char *nl = memchr(x->p, '\n', (size_t)(x->end - x->p));
    size_t len = nl ? (size_t)(nl - x->p) + 1 : (size_t)(x->end - x->p);
    x->line++;
    if (memchr(x->p, '\0', len))
        fail_at(x, x->line, OKS_E_FORMAT, "a NUL byte in the line");
    if (len + 1 > (size_t)size) {
        fail_at(x, x->line, OKS_E_LIMIT, "line longer than %d bytes", size - 2);
        len = (size_t)size - 2;
        memcpy(buf, x->p, len);
        buf[len] = '\n';
        buf[len + 1] = '\0';
    } else {
        memcpy(buf, x->p, len);
        buf[len] = '\0';
    }
    x->p += nl ? (size_t)(nl - x->p) + 1 : (size_t)(x->end - x->p);
    const char *s = buf + strspn(buf, " \t\r");
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close && !section_known(x, s + 1, (size_t)(close - s - 1)))
            fail_at(x, x->line, OKS_E_FORMAT, "[%.*s]: unknown section", (int)(close - s - 1),
                    s + 1);
    }
    return buf;
}

static int shard_entry(parse_ctx *x, const char *section, const char *key, const char *value)
{
    const char *sname = section + 6;
    oks_cluster *c = x->c;
    if (!shard_name_ok(sname, strlen(sname))) {
        fail_at(x, x->line, OKS_E_FORMAT,
                "[%s]: a shard name is 1..63 letters, digits, '_', '-' or '.'", section);
        return 0;
    }
    int i = oks_cluster_shard_index(c, sname);
    if (i < 0) {
        if (c->n_shards == OKS_MAX_SHARDS) {
            fail_at(x, x->line, OKS_E_LIMIT, "[%s]: more than %d shards", section,
                    OKS_MAX_SHARDS);
            return 0;
        }
        i = (int)c->n_shards++;
        snprintf(c->shards[i].name, sizeof c->shards[i].name, "%s", sname);
    }
    for (size_t k = 0, slot = 0; k < x->n_table; k++) {
        const oks_conf_entry *e = &x->table[k];
        if (strcmp(e->section, "shard.*"))
            continue;
        if (strcmp(e->key, key) == 0) {
            int *seen = &x->shard_lines[i][slot];
            char why[160];
            if (*seen)
                fail_at(x, x->line, OKS_E_FORMAT, "[%s] %s: set twice (first on line %d)",
                        section, key, *seen);
            else if (oks_conf_set(e, &c->shards[i], value, why, sizeof why))
                fail_at(x, x->line, OKS_E_FORMAT, "[%s] %s: %s", section, key, why);
            else {
                *seen = x->line;
                return 1;
            }
            return 0;
        }
        slot++;
    }
    fail_at(x, x->line, OKS_E_FORMAT, "[%s] %s: unknown key", section, key);
    return 0;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    parse_ctx *x = user;
    if (!*section) {
        fail_at(x, x->line, OKS_E_FORMAT, "%s: a key before any [section]", key);
        return 0;
    }
    if (strncmp(section, "shard.", 6) == 0)
        return shard_entry(x, section, key, value);
    bool section_seen = false;
    for (size_t i = 0; i < x->n_table; i++) {
        const oks_conf_entry *e = &x->table[i];
        if (strcmp(e->section, section))
            continue;
        section_seen = true;
        if (strcmp(e->key, key))
            continue;
        char why[160];
        if (x->set_line[i]) {
            fail_at(x, x->line, OKS_E_FORMAT, "[%s] %s: set twice (first on line %d)", section,
                    key, x->set_line[i]);
            return 0;
        }
        int r = oks_conf_set(e, x->c, value, why, sizeof why);
        if (r) {
            fail_at(x, x->line, r, "[%s] %s: %s", section, key, why);
            return 0;
        }
        x->set_line[i] = x->line;
        return 1;
    }
    if (section_seen)
        fail_at(x, x->line, OKS_E_FORMAT, "[%s] %s: unknown key", section, key);
    else /* normally reported by read_line already, on the section's own line */
        fail_at(x, x->line, OKS_E_FORMAT, "[%s]: unknown section", section);
    return 0;
}

static int entry_index(const parse_ctx *x, const char *section, const char *key)
{
    for (size_t i = 0; i < x->n_table; i++)
        if (strcmp(x->table[i].section, section) == 0 && strcmp(x->table[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* Rules that tie two keys together. */
static void check_pairs(parse_ctx *x)
{
    const oks_conf_http *h = &x->c->http;
    int tl = x->set_line[entry_index(x, "http", "tls_listen")];
    if (h->tls_listen.port && (!h->tls_cert[0] || !h->tls_key[0]))
        fail_at(x, tl, OKS_E_FORMAT, "[http] tls_listen: needs tls_cert and tls_key");
    if (h->cache_max_stale_ms < h->cache_check_ms) {
        int l = x->set_line[entry_index(x, "http", "cache_max_stale_ms")];
        fail_at(x, l ? l : x->set_line[entry_index(x, "http", "cache_check_ms")], OKS_E_FORMAT,
                "[http] cache_max_stale_ms: must be at least cache_check_ms (%u)",
                h->cache_check_ms);
    }
    const oks_conf_etcd *et = &x->c->etcd;
    if (!et->cert[0] != !et->key[0])
        fail_at(x, x->set_line[entry_index(x, "cluster", et->cert[0] ? "etcd_cert" : "etcd_key")],
                OKS_E_FORMAT, "[cluster] %s: needs %s", et->cert[0] ? "etcd_cert" : "etcd_key",
                et->cert[0] ? "etcd_key" : "etcd_cert");
    for (const char *w = et->endpoints; *w;) {
        size_t n = strcspn(w, " ");
        if (n && strncmp(w, "http://", 7) != 0 && strncmp(w, "https://", 8) != 0)
            fail_at(x, x->set_line[entry_index(x, "cluster", "etcd")], OKS_E_FORMAT,
                    "[cluster] etcd: %.*s: not http://HOST:PORT or https://HOST:PORT",
                    (int)(n > 100 ? 100 : n), w);
        w += n;
        w += strspn(w, " ");
    }
    for (size_t i = 0; i < x->c->n_shards; i++) {
        const oks_shard_conf *s = &x->c->shards[i];
        int first = 0;
        for (int k = 0; k < SHARD_KEYS; k++)
            if (x->shard_lines[i][k] && (!first || x->shard_lines[i][k] < first))
                first = x->shard_lines[i][k];
        if (!s->endpoint[0] || !s->slot_spec)
            fail_at(x, first, OKS_E_FORMAT, "[shard.%s]: needs endpoint and slots", s->name);
    }
}

/* Debian's libinih exposes its build options as variables: no continuation lines (an indented
 * line is a line of its own), and lines up to MAX_LINE bytes. */
static void inih_setup(void)
{
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_max_line = MAX_LINE;
    ini_initial_alloc = MAX_LINE;
}

int oks_conf_parse(const char *name, const char *text, size_t len, oks_cluster *c, oks_err *e)
{
    memset(c, 0, sizeof *c);
    parse_ctx *x = oks_xcalloc(1, sizeof *x);
    size_t n;
    const oks_conf_entry *t = oks_conf_table(&n);
    int *lines = oks_xcalloc(n, sizeof *lines);
    if (!x || !lines) {
        free(x);
        free(lines);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "config");
    }
    *x = (parse_ctx){.name = name, .p = text, .end = text + len, .c = c, .table = t,
                     .n_table = n, .set_line = lines};
    for (size_t i = 0; i < n; i++) {
        char why[160];
        if (strcmp(t[i].section, "shard.*") && oks_conf_set(&t[i], c, t[i].def, why, sizeof why))
            fail_at(x, 1, OKS_E_ARG, "[%s] %s: the default '%s': %s", t[i].section, t[i].key,
                    t[i].def, why);
    }
    inih_setup();
    int r = x->err_line ? 0 : ini_parse_stream(read_line, x, on_entry, x);
    if (r == -2)
        fail_at(x, 1, OKS_E_NOMEM, "out of memory");
    else if (r > 0) /* a line inih could not parse; a handler failure is already recorded */
        fail_at(x, r, OKS_E_FORMAT, "expected KEY = VALUE, a [section] or a ; comment");
    if (!x->err_line)
        check_pairs(x);
    while (c->n_routers < OKS_MAX_ROUTERS && c->routers[c->n_routers][0])
        c->n_routers++;
    int code = 0;
    if (!x->err_line && c->n_shards == 0)
        code = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "%s: no [shard.NAME] section", name);
    else if (x->err_line)
        code = oks_err_set(e, x->err_code, OKS_NO_OFFSET, "%s:%d: %s", name, x->err_line, x->err);
    free(lines);
    free(x);
    return code;
}

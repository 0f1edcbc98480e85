/* The metrics registry and the text exposition format (see metrics.h). */
#include "lib/metrics.h"
#include "lib/log.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOOKS 8

const double oks_metrics_seconds_bounds[] = {
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t oks_metrics_seconds_n =
    sizeof oks_metrics_seconds_bounds / sizeof oks_metrics_seconds_bounds[0];

struct oks_metric {
    struct oks_metric *next;
    char *name, *help;
    oks_metric_type type;
    size_t n_labels;
    char *label[OKS_METRIC_MAX_LABELS];
    char **values[OKS_METRIC_MAX_LABELS]; /* NULL-terminated copies */
    size_t n_values[OKS_METRIC_MAX_LABELS];
    double *bounds;
    size_t n_bounds;
    size_t stride;          /* cells per series */
    _Atomic uint64_t *cell; /* counter: count; gauge: double bits; histogram: the buckets
                              (n_bounds + 1, not cumulative), then count, then sum (bits) */
};

struct oks_metrics {
    oks_metric *head, **tail;
    oks_metrics_collect_fn collect[MAX_HOOKS];
    void *collect_arg[MAX_HOOKS];
    size_t n_collect;
    oks_metrics_write_fn write[MAX_HOOKS];
    void *write_arg[MAX_HOOKS];
    size_t n_write;
};

static uint64_t bits_of(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double double_of(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void atomic_add_double(_Atomic uint64_t *c, double d) {
    uint64_t old = atomic_load_explicit(c, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(c, &old, bits_of(double_of(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

oks_metrics *oks_metrics_new(void) {
    oks_metrics *r = calloc(1, sizeof *r);
    if (r)
        r->tail = &r->head;
    return r;
}

static void metric_free(oks_metric *m) {
    if (!m)
        return;
    free(m->name);
    free(m->help);
    for (size_t k = 0; k < OKS_METRIC_MAX_LABELS; k++) {
        free(m->label[k]);
        for (size_t i = 0; m->values[k] && m->values[k][i]; i++)
            free(m->values[k][i]);
        free(m->values[k]);
    }
    free(m->bounds);
    free(m->cell);
    free(m);
}

void oks_metrics_free(oks_metrics *r) {
    if (!r)
        return;
    for (oks_metric *m = r->head, *n; m; m = n) {
        n = m->next;
        metric_free(m);
    }
    free(r);
}

static bool name_ok(const char *s, bool colon) {
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || (colon && *s == ':')))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int check_spec(const oks_metrics *r, const oks_metric_spec *s, oks_err *e) {
    if (!name_ok(s->name, true))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "metric name \"%s\" is not valid",
                           s->name ? s->name : "");
    if (s->type == OKS_METRIC_COUNTER && !ends_with(s->name, "_total"))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "counter %s: name must end in _total",
                           s->name);
    if (s->type > OKS_METRIC_HISTOGRAM)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s: unknown type", s->name);
    for (const oks_metric *m = r->head; m; m = m->next)
        if (!strcmp(m->name, s->name))
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "metric %s registered twice", s->name);
    for (size_t k = 0; k < OKS_METRIC_MAX_LABELS; k++) {
        if (!s->label[k]) {
            if (k + 1 < OKS_METRIC_MAX_LABELS && s->label[k + 1])
                return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s: labels must come first",
                                   s->name);
            continue;
        }
        if (!name_ok(s->label[k], false) || !strcmp(s->label[k], "le") ||
            !strncmp(s->label[k], "__", 2) || (k && !strcmp(s->label[0], s->label[k])))
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s: label name \"%s\" not valid",
                               s->name, s->label[k]);
        if (!s->values[k] || !s->values[k][0])
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s: label %s has no values", s->name,
                               s->label[k]);
        size_t n = 0;
        while (s->values[k][n])
            if (++n > OKS_METRIC_MAX_VALUES)
                return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "%s: label %s: too many values",
                                   s->name, s->label[k]);
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (!strcmp(s->values[k][i], s->values[k][j]))
                    return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                                       "%s: label %s: value \"%s\" given twice", s->name,
                                       s->label[k], s->values[k][i]);
    }
    if (s->type == OKS_METRIC_HISTOGRAM && s->bounds) {
        if (s->n_bounds == 0 || s->n_bounds > OKS_METRIC_MAX_BOUNDS)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "%s: 1 to %d bounds", s->name,
                               OKS_METRIC_MAX_BOUNDS);
        for (size_t i = 0; i < s->n_bounds; i++)
            if (!isfinite(s->bounds[i]) || (i && s->bounds[i] <= s->bounds[i - 1]))
                return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                                   "%s: bounds must be finite and ascending", s->name);
    }
    return 0;
}

int oks_metrics_register(oks_metrics *r, const oks_metric_spec *s, oks_metric **out, oks_err *e) {
    int rc = check_spec(r, s, e);
    if (rc)
        return rc;
    oks_metric *m = calloc(1, sizeof *m);
    if (!m)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    m->type = s->type;
    m->name = strdup(s->name);
    m->help = strdup(s->help ? s->help : "");
    bool nomem = !m->name || !m->help;
    size_t series = 1;
    for (size_t k = 0; k < OKS_METRIC_MAX_LABELS && s->label[k] && !nomem; k++) {
        size_t n = 0;
        while (s->values[k][n])
            n++;
        m->label[k] = strdup(s->label[k]);
        m->values[k] = calloc(n + 1, sizeof *m->values[k]);
        nomem = !m->label[k] || !m->values[k];
        for (size_t i = 0; i < n && !nomem; i++)
            nomem = !(m->values[k][i] = strdup(s->values[k][i]));
        m->n_values[k] = n;
        m->n_labels = k + 1;
        series *= n;
    }
    if (m->type == OKS_METRIC_HISTOGRAM && !nomem) {
        const double *b = s->bounds ? s->bounds : oks_metrics_seconds_bounds;
        m->n_bounds = s->bounds ? s->n_bounds : oks_metrics_seconds_n;
        m->bounds = malloc(m->n_bounds * sizeof *m->bounds);
        nomem = !m->bounds;
        if (m->bounds)
            memcpy(m->bounds, b, m->n_bounds * sizeof *m->bounds);
    }
    m->stride = m->type == OKS_METRIC_HISTOGRAM ? m->n_bounds + 3 : 1;
    if (!nomem) {
        m->cell = calloc(series * m->stride, sizeof *m->cell);
        nomem = !m->cell;
    }
    if (nomem) {
        metric_free(m);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    }
    *r->tail = m;
    r->tail = &m->next;
    *out = m;
    return 0;
}

static oks_metric *simple(oks_metrics *r, const char *name, const char *help, oks_metric_type t) {
    oks_metric_spec s = {.name = name, .help = help, .type = t};
    oks_metric *m = NULL;
    oks_err e;
    if (r && oks_metrics_register(r, &s, &m, &e))
        oks_error("metrics: %s", e.msg);
    return m;
}

int oks_metrics_reg(oks_metrics *r, oks_metric **out, const char *name, const char *help,
                    oks_metric_type t, const char *l0, const char *const *v0, const char *l1,
                    const char *const *v1, oks_err *e) {
    oks_metric_spec s = {
        .name = name, .help = help, .type = t, .label = {l0, l1}, .values = {v0, v1}};
    return oks_metrics_register(r, &s, out, e);
}

oks_metric *oks_metrics_counter(oks_metrics *r, const char *name, const char *help) {
    return simple(r, name, help, OKS_METRIC_COUNTER);
}

oks_metric *oks_metrics_gauge(oks_metrics *r, const char *name, const char *help) {
    return simple(r, name, help, OKS_METRIC_GAUGE);
}

/* The first cell of series (i, j), or NULL. */
static _Atomic uint64_t *series(const oks_metric *m, size_t i, size_t j) {
    if (!m)
        return NULL;
    size_t n0 = m->n_labels > 0 ? m->n_values[0] : 1, n1 = m->n_labels > 1 ? m->n_values[1] : 1;
    if (i >= n0 || j >= n1)
        return NULL;
    return m->cell + (i * n1 + j) * m->stride;
}

void oks_metric_add(oks_metric *m, size_t i, size_t j, uint64_t n) {
    _Atomic uint64_t *c = series(m, i, j);
    if (c && m->type == OKS_METRIC_COUNTER)
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void oks_metric_set(oks_metric *m, size_t i, size_t j, double v) {
    _Atomic uint64_t *c = series(m, i, j);
    if (c && m->type == OKS_METRIC_GAUGE)
        atomic_store_explicit(c, bits_of(v), memory_order_relaxed);
    else if (c && m->type == OKS_METRIC_COUNTER && v >= 0 && v < 1.8e19)
        atomic_store_explicit(c, (uint64_t)v, memory_order_relaxed);
}

void oks_metric_gauge_add(oks_metric *m, size_t i, size_t j, double d) {
    _Atomic uint64_t *c = series(m, i, j);
    if (c && m->type == OKS_METRIC_GAUGE)
        atomic_add_double(c, d);
}

void oks_metric_observe(oks_metric *m, size_t i, size_t j, double v) {
    _Atomic uint64_t *c = series(m, i, j);
    if (!c || m->type != OKS_METRIC_HISTOGRAM || isnan(v))
        return;
    size_t b = 0;
    while (b < m->n_bounds && v > m->bounds[b])
        b++;
    atomic_fetch_add_explicit(&c[b], 1, memory_order_relaxed);
    atomic_add_double(&c[m->n_bounds + 2], v);
    atomic_fetch_add_explicit(&c[m->n_bounds + 1], 1, memory_order_relaxed);
}

double oks_metric_value(const oks_metric *m, size_t i, size_t j) {
    _Atomic uint64_t *c = series(m, i, j);
    if (!c)
        return 0;
    uint64_t u = atomic_load_explicit(m->type == OKS_METRIC_HISTOGRAM ? &c[m->n_bounds + 1] : c,
                                      memory_order_relaxed);
    return m->type == OKS_METRIC_GAUGE ? double_of(u) : (double)u;
}

long oks_metric_label_index(const oks_metric *m, size_t k, const char *value) {
    if (!m || k >= m->n_labels)
        return -1;
    for (size_t i = 0; i < m->n_values[k]; i++)
        if (!strcmp(m->values[k][i], value))
            return (long)i;
    return -1;
}

int oks_metrics_on_collect(oks_metrics *r, oks_metrics_collect_fn fn, void *arg) {
    if (r->n_collect == MAX_HOOKS)
        return OKS_E_LIMIT;
    r->collect[r->n_collect] = fn;
    r->collect_arg[r->n_collect++] = arg;
    return 0;
}

int oks_metrics_on_write(oks_metrics *r, oks_metrics_write_fn fn, void *arg) {
    if (r->n_write == MAX_HOOKS)
        return OKS_E_LIMIT;
    r->write[r->n_write] = fn;
    r->write_arg[r->n_write++] = arg;
    return 0;
}

void oks_metrics_escape_label(oks_buf *out, const char *v) {
    for (; *v; v++) {
        if (*v == '\\')
            oks_buf_append(out, "\\\\", 2);
        else if (*v == '"')
            oks_buf_append(out, "\\\"", 2);
        else if (*v == '\n')
            oks_buf_append(out, "\\n", 2);
        else
            oks_buf_putc(out, (uint8_t)*v);
    }
}

/* v as the format writes it, into t (at least 32 bytes) */
static void fmt_value(char *t, size_t n, double v) {
    if (isnan(v))
        snprintf(t, n, "NaN");
    else if (isinf(v))
        snprintf(t, n, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (fabs(v) < 9.007199254740992e15 && v == (double)(int64_t)v)
        snprintf(t, n, "%lld", (long long)v);
    else {
        snprintf(t, n, "%.15g", v);
        if (strtod(t, NULL) != v)
            snprintf(t, n, "%.17g", v);
    }
}

void oks_metrics_write_value(oks_buf *out, double v) {
    char t[40];
    fmt_value(t, sizeof t, v);
    oks_buf_printf(out, "%s", t);
}

void oks_metrics_write_head(oks_buf *out, const char *name, const char *help, oks_metric_type t) {
    static const char *const types[] = {"counter", "gauge", "histogram"};
    oks_buf_printf(out, "# HELP %s ", name);
    for (const char *h = help; *h; h++) {
        if (*h == '\\')
            oks_buf_append(out, "\\\\", 2);
        else if (*h == '\n')
            oks_buf_append(out, "\\n", 2);
        else
            oks_buf_putc(out, (uint8_t)*h);
    }
    oks_buf_printf(out, "\n# TYPE %s %s\n", name, types[t]);
}

/* name{labels[,extra]} value\n; extra: a whole pair such as le="0.5", or NULL */
static void sample(oks_buf *out, const char *name, const char *suffix, const char *const *keys,
                   const char *const *vals, size_t n, const char *extra, double v) {
    oks_buf_printf(out, "%s%s", name, suffix);
    if (n || extra) {
        oks_buf_putc(out, '{');
        for (size_t k = 0; k < n; k++) {
            oks_buf_printf(out, "%s%s=\"", k ? "," : "", keys[k]);
            oks_metrics_escape_label(out, vals[k]);
            oks_buf_putc(out, '"');
        }
        if (extra)
            oks_buf_printf(out, "%s%s", n ? "," : "", extra);
        oks_buf_putc(out, '}');
    }
    oks_buf_putc(out, ' ');
    oks_metrics_write_value(out, v);
    oks_buf_putc(out, '\n');
}

void oks_metrics_write_sample(oks_buf *out, const char *name, const char *const *keys,
                              const char *const *vals, size_t n, double v) {
    sample(out, name, "", keys, vals, n, NULL, v);
}

static void write_series(oks_buf *out, const oks_metric *m, const _Atomic uint64_t *c,
                         const char *const *vals) {
    const char *const *keys = (const char *const *)m->label;
    if (m->type != OKS_METRIC_HISTOGRAM) {
        uint64_t u = atomic_load_explicit(c, memory_order_relaxed);
        sample(out, m->name, "", keys, vals, m->n_labels, NULL,
               m->type == OKS_METRIC_GAUGE ? double_of(u) : (double)u);
        return;
    }
    /* count first, buckets after, so a scrape racing an observation never shows a bucket
     * above the count; +Inf is the count itself */
    uint64_t count = atomic_load_explicit(&c[m->n_bounds + 1], memory_order_acquire);
    double sum = double_of(atomic_load_explicit(&c[m->n_bounds + 2], memory_order_relaxed));
    uint64_t cum = 0;
    for (size_t b = 0; b < m->n_bounds; b++) {
        cum += atomic_load_explicit(&c[b], memory_order_relaxed);
        if (cum > count)
            cum = count;
        char t[40], le[48];
        fmt_value(t, sizeof t, m->bounds[b]);
        snprintf(le, sizeof le, "le=\"%s\"", t);
        sample(out, m->name, "_bucket", keys, vals, m->n_labels, le, (double)cum);
    }
    sample(out, m->name, "_bucket", keys, vals, m->n_labels, "le=\"+Inf\"", (double)count);
    sample(out, m->name, "_sum", keys, vals, m->n_labels, NULL, sum);
    sample(out, m->name, "_count", keys, vals, m->n_labels, NULL, (double)count);
}

int oks_metrics_render(oks_metrics *r, oks_buf *out) {
    for (size_t h = 0; h < r->n_collect; h++)
        r->collect[h](r->collect_arg[h]);
    for (const oks_metric *m = r->head; m; m = m->next) {
        oks_metrics_write_head(out, m->name, m->help, m->type);
        size_t n0 = m->n_labels > 0 ? m->n_values[0] : 1;
        size_t n1 = m->n_labels > 1 ? m->n_values[1] : 1;
        for (size_t i = 0; i < n0; i++)
            for (size_t j = 0; j < n1; j++) {
                const char *vals[OKS_METRIC_MAX_LABELS] = {m->n_labels > 0 ? m->values[0][i] : NULL,
                                                           m->n_labels > 1 ? m->values[1][j]
                                                                           : NULL};
                write_series(out, m, m->cell + (i * n1 + j) * m->stride, vals);
            }
    }
    for (size_t h = 0; h < r->n_write; h++)
        r->write[h](r->write_arg[h], out);
    return oks_buf_terminate(out);
}

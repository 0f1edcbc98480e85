/*
 * Metrics in the Prometheus text exposition format (version 0.0.4): a registry of metric
 * families, each a counter, a gauge or a histogram with fixed upper bounds, and with at most two
 * labels whose values are a fixed set given at registration. Every series of a family is a slot
 * of atomic counters, so updating one is a few atomic adds: no lock, no allocation, safe from
 * any thread. Families are registered while the program starts, before anything renders or
 * updates them; the registry does not change after that, so rendering (the exposition server's
 * thread, lib/metrics_http.h) reads it without a lock too.
 *
 * Values that exist elsewhere (a store's key count, a queue's length) are read when the
 * registry is rendered: a collect hook sets gauges from them, and a write hook appends families
 * whose label values change at run time (the sync worker's partners).
 *
 * Every update function takes a NULL family and does nothing: code counts unconditionally, and
 * a program (or a unit test) that registered nothing pays a branch.
 */
#ifndef OKS_METRICS_H
#define OKS_METRICS_H

#include "lib/buf.h"
#include "lib/err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum oks_metric_type {
    OKS_METRIC_COUNTER,
    OKS_METRIC_GAUGE,
    OKS_METRIC_HISTOGRAM,
} oks_metric_type;

#define OKS_METRIC_MAX_LABELS 2
#define OKS_METRIC_MAX_BOUNDS 32
#define OKS_METRIC_MAX_VALUES 1024 /* values of one label */

/* What a family is. name: [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's ends in _total. Label names:
 * [a-zA-Z_][a-zA-Z0-9_]*, not "le" and not starting with "__". values[i]: the NULL-terminated
 * values of label[i] (any UTF-8 text; escaped when written). bounds: a histogram's upper bounds,
 * ascending and finite (+Inf is added); NULL = oks_metrics_seconds_bounds. Everything is copied. */
typedef struct oks_metric_spec {
    const char *name, *help;
    oks_metric_type type;
    const char *label[OKS_METRIC_MAX_LABELS];
    const char *const *values[OKS_METRIC_MAX_LABELS];
    const double *bounds;
    size_t n_bounds;
} oks_metric_spec;

typedef struct oks_metrics oks_metrics;
typedef struct oks_metric oks_metric;

/* Upper bounds for durations from 250 us to 10 s (15 bounds). */
extern const double oks_metrics_seconds_bounds[];
extern const size_t oks_metrics_seconds_n;

oks_metrics *oks_metrics_new(void);
void oks_metrics_free(oks_metrics *r);

/* Registers a family; *out is owned by r. OKS_E_ARG for a bad name, label, bounds or a name
 * registered before; OKS_E_LIMIT for too many labels, values or bounds. Not thread-safe: call
 * while the program starts. */
int oks_metrics_register(oks_metrics *r, const oks_metric_spec *s, oks_metric **out, oks_err *e);

/* oks_metrics_register for a family with labels l0 (values v0) and l1 (values v1), NULL for an
 * absent one, and a histogram's default bounds: what the daemons' metrics units register. */
int oks_metrics_reg(oks_metrics *r, oks_metric **out, const char *name, const char *help,
                    oks_metric_type t, const char *l0, const char *const *v0, const char *l1,
                    const char *const *v1, oks_err *e);

/* Shorthands that register a family without labels (NULL on error, logged). */
oks_metric *oks_metrics_counter(oks_metrics *r, const char *name, const char *help);
oks_metric *oks_metrics_gauge(oks_metrics *r, const char *name, const char *help);

/* Series are addressed by the indexes of their label values (0 for an absent label); an index
 * outside its label's values is ignored. */
void oks_metric_add(oks_metric *m, size_t i, size_t j, uint64_t n); /* counter */
static inline void oks_metric_inc(oks_metric *m, size_t i, size_t j) {
    oks_metric_add(m, i, j, 1);
}
/* A gauge's value; or a counter's, when the count is kept elsewhere (a library's figures,
 * copied in by a collect hook; whole numbers). */
void oks_metric_set(oks_metric *m, size_t i, size_t j, double v);
void oks_metric_gauge_add(oks_metric *m, size_t i, size_t j, double d); /* gauge */
void oks_metric_observe(oks_metric *m, size_t i, size_t j, double v);   /* histogram */
/* A counter's or gauge's value, a histogram's count (tests, collect hooks). */
double oks_metric_value(const oks_metric *m, size_t i, size_t j);
/* The index of a label value (k: which label), or -1. */
long oks_metric_label_index(const oks_metric *m, size_t k, const char *value);

/* Called at the start of every render, before any family is written (set gauges there). */
typedef void (*oks_metrics_collect_fn)(void *arg);
/* Called after the registered families are written: appends families of its own to out (use
 * oks_metrics_write_* below). */
typedef void (*oks_metrics_write_fn)(void *arg, oks_buf *out);
int oks_metrics_on_collect(oks_metrics *r, oks_metrics_collect_fn fn, void *arg);
int oks_metrics_on_write(oks_metrics *r, oks_metrics_write_fn fn, void *arg);

/* Writes every family in the text format (out stays NUL-terminated). Any thread, any time. */
int oks_metrics_render(oks_metrics *r, oks_buf *out);

/* Pieces of the format for write hooks: "# HELP" and "# TYPE" lines (help escaped), and one
 * sample line: name{k0="v0",k1="v1"} value, label values escaped (\\, \", \n). keys/vals: n
 * pairs. */
void oks_metrics_write_head(oks_buf *out, const char *name, const char *help, oks_metric_type t);
void oks_metrics_write_sample(oks_buf *out, const char *name, const char *const *keys,
                              const char *const *vals, size_t n, double v);
/* A label value escaped as the format wants it (appended to out). */
void oks_metrics_escape_label(oks_buf *out, const char *v);
/* A sample value: integers as such, +Inf, -Inf, NaN, otherwise the shortest text that reads
 * back as the same double. */
void oks_metrics_write_value(oks_buf *out, double v);

#endif

/*
 * The LDAP gateway's metrics (gwl.h, docs/ldap.md "Metrics"): back-sock requests by operation
 * and LDAP result, their duration, the requests being served, the cluster lookups the searches
 * made by kind, the entries returned, and the cluster calls that failed by reason. Served on
 * [ldap] metrics_listen; every counting function does nothing until gwl_metrics_start ran.
 */
#include "gw-ldap/gwl.h"

#include "lib/clock.h"
#include "lib/metrics_http.h"

#include <string.h>

static struct {
    oks_metrics *reg;
    oks_metrics_http *http;
    oks_metric *requests, *duration, *inflight, *lookups, *entries, *backend;
} M;

/* by gwl_op, then GWL_METRICS_OP_INVALID */
static const char *const ops[] = {"search",  "add",    "modify", "delete",   "modrdn", "compare",
                                  "bind",    "unbind", "extended", "invalid", NULL};
/* by LDAP result code (codes[]), then "none" (an unbind: no answer) and "other" */
static const char *const results[] = {
    "success",      "protocol_error", "time_limit",          "size_limit",
    "admin_limit",  "constraint",     "no_such_object",      "invalid_credentials",
    "insufficient_access", "busy",    "unavailable",         "unwilling",
    "other",        "none",           NULL};
static const int codes[] = {GWL_LDAP_SUCCESS,      GWL_LDAP_PROTOCOL_ERROR,
                            GWL_LDAP_TIMELIMIT,    GWL_LDAP_SIZELIMIT,
                            GWL_LDAP_ADMINLIMIT,   GWL_LDAP_CONSTRAINT,
                            GWL_LDAP_NO_SUCH_OBJECT, GWL_LDAP_INVALID_CREDENTIALS,
                            GWL_LDAP_INSUFFICIENT_ACCESS, GWL_LDAP_BUSY,
                            GWL_LDAP_UNAVAILABLE,  GWL_LDAP_UNWILLING,
                            GWL_LDAP_OTHER};
#define RESULT_NONE 13
/* by gwl_lk_kind */
static const char *const kinds[] = {"fingerprint", "fingerprint_or_subkey", "key_id",
                                    "key_id_or_subkey", "short_key_id", "email", "words", NULL};
/* by gwl_backend_error */
static const char *const reasons[] = {"timeout", "unavailable", "partial", "too_large",
                                      "refused", "other", NULL};

int gwl_metrics_start(const oks_cluster *c, oks_err *e)
{
    if (!c->ldap_metrics.listen.port)
        return 0;
    M.reg = oks_metrics_new();
    const oks_metric_type C = OKS_METRIC_COUNTER, G = OKS_METRIC_GAUGE, H = OKS_METRIC_HISTOGRAM;
    int rc = !M.reg ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory") : 0;
#define R(...) (rc = rc ? rc : oks_metrics_reg(M.reg, __VA_ARGS__, e))
    R(&M.requests, "oks_ldap_requests_total",
      "Operations slapd handed over, by operation and LDAP result (invalid: a request that did "
      "not parse or was over [ldap] max_request; none: an unbind, which gets no answer).",
      C, "op", ops, "result", results);
    R(&M.duration, "oks_ldap_request_duration_seconds",
      "Time from accepting slapd's connection to the answer written, by operation.", H, "op", ops,
      NULL, NULL);
    R(&M.inflight, "oks_ldap_inflight_requests", "Operations being served now.", G, NULL, NULL,
      NULL, NULL);
    R(&M.lookups, "oks_ldap_lookups_total",
      "Cluster lookups made for searches, by what they look up.", C, "kind", kinds, NULL, NULL);
    R(&M.entries, "oks_ldap_entries_total", "Entries returned to slapd.", C, NULL, NULL, NULL,
      NULL);
    R(&M.backend, "oks_ldap_backend_errors_total",
      "Cluster calls that failed, by reason (timeout: no answer within [ldap] deadline_ms; "
      "unavailable: no router could serve it; partial: shards missing; too_large: the cluster's "
      "work bound; refused: a bad request; other).",
      C, "reason", reasons, NULL, NULL);
#undef R
    rc = oks_metrics_http_serve(&M.reg, rc, &c->ldap_metrics.listen, c->ldap_metrics.allow,
                                &M.http, e);
    if (rc)
        memset(&M, 0, sizeof M);
    return rc;
}

void gwl_metrics_stop(void)
{
    oks_metrics_http_stop(M.http);
    oks_metrics_free(M.reg);
    memset(&M, 0, sizeof M);
}

uint64_t gwl_metrics_begin(void)
{
    if (!M.reg)
        return 0;
    oks_metric_gauge_add(M.inflight, 0, 0, 1);
    return oks_now_us();
}

void gwl_metrics_end(int op, int code, uint64_t start_us)
{
    if (!M.reg)
        return;
    size_t o = op >= 0 && op < GWL_METRICS_OP_INVALID ? (size_t)op : GWL_METRICS_OP_INVALID;
    size_t r = RESULT_NONE - 1; /* "other" */
    if (code == GWL_METRICS_NO_ANSWER)
        r = RESULT_NONE;
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (codes[i] == code)
            r = i;
    oks_metric_inc(M.requests, o, r);
    oks_metric_observe(M.duration, o, 0, (double)(oks_now_us() - start_us) / 1e6);
    oks_metric_gauge_add(M.inflight, 0, 0, -1);
}

void gwl_metrics_lookup(int kind)
{
    oks_metric_inc(M.lookups, (size_t)kind, 0);
}

void gwl_metrics_entry(void)
{
    oks_metric_inc(M.entries, 0, 0);
}

void gwl_metrics_backend(gwl_backend_error why)
{
    oks_metric_inc(M.backend, (size_t)why, 0);
}

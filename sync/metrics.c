/* The sync worker's metrics (see metrics.h). */
#include "sync/metrics.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics_http.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct partner {
    char name[272];
    double last_sync, backoff_until;
    uint64_t rounds, failures, added, sent;
    unsigned in_row;
} partner;

static struct {
    oks_metrics *reg;
    oks_metrics_http *http;
    oks_metric *rounds, *duration, *to_fetch, *fetched, *added, *failed, *sent, *ignored;
    oks_metric *tree, *running, *partners, *received;
    pthread_mutex_t lock; /* the copy below */
    partner *p;
    size_t n;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const outcomes[] = {"ok", "failed", NULL};
static const double round_bounds[] = {0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 900, 1800};

static void write_partners(void *arg, oks_buf *out) {
    (void)arg;
    static const struct {
        const char *name, *help;
        oks_metric_type t;
    } f[] = {
        {"oks_sync_partner_rounds_total", "Rounds with the partner since the worker started.",
         OKS_METRIC_COUNTER},
        {"oks_sync_partner_failures_total", "Rounds with the partner that failed.",
         OKS_METRIC_COUNTER},
        {"oks_sync_partner_keys_added_total", "Keys from the partner the cluster stored.",
         OKS_METRIC_COUNTER},
        {"oks_sync_partner_hashes_sent_total", "Hashes the partner learned from us.",
         OKS_METRIC_COUNTER},
        {"oks_sync_partner_last_success_timestamp_seconds",
         "Unix time of the last good round with the partner (0: none yet).", OKS_METRIC_GAUGE},
        {"oks_sync_partner_failures_in_row",
         "Failed rounds with the partner since its last "
         "good one (it is backed off).",
         OKS_METRIC_GAUGE},
        {"oks_sync_partner_backoff_until_timestamp_seconds",
         "Unix time until which the partner is left alone after failures (0: not waiting).",
         OKS_METRIC_GAUGE},
    };
    static const char *const keys[] = {"partner"};
    pthread_mutex_lock(&M.lock);
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        oks_metrics_write_head(out, f[k].name, f[k].help, f[k].t);
        for (size_t i = 0; i < M.n; i++) {
            const partner *p = &M.p[i];
            double v[] = {(double)p->rounds, (double)p->failures, (double)p->added, (double)p->sent,
                          p->last_sync,      (double)p->in_row,   p->backoff_until};
            const char *vals[] = {p->name};
            oks_metrics_write_sample(out, f[k].name, keys, vals, 1, v[k]);
        }
    }
    pthread_mutex_unlock(&M.lock);
}

static int reg(oks_metric **m, const char *name, const char *help, oks_metric_type t,
               const char *const *outcome, const double *bounds, size_t nb, oks_err *e) {
    oks_metric_spec s = {.name = name,
                         .help = help,
                         .type = t,
                         .label = {outcome ? "outcome" : NULL},
                         .values = {outcome},
                         .bounds = bounds,
                         .n_bounds = nb};
    return oks_metrics_register(M.reg, &s, m, e);
}

int oks_sync_metrics_start(const oks_cluster *c, oks_err *e) {
    if (!c->sync_metrics.listen.port)
        return 0;
    M.reg = oks_metrics_new();
    M.p = calloc(OKS_SYNC_MAX_MEMBERS, sizeof *M.p);
    const oks_metric_type C = OKS_METRIC_COUNTER, G = OKS_METRIC_GAUGE;
    int rc = !M.reg || !M.p ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory") : 0;
#define R(...) (rc = rc ? rc : reg(__VA_ARGS__, e))
    R(&M.rounds, "oks_sync_rounds_total", "Rounds (recon session, then fetch) by outcome.", C,
      outcomes, NULL, 0);
    R(&M.duration, "oks_sync_round_duration_seconds", "Time of one round, start to end.",
      OKS_METRIC_HISTOGRAM, NULL, round_bounds, sizeof round_bounds / sizeof round_bounds[0]);
    R(&M.to_fetch, "oks_sync_hashes_to_fetch_total",
      "Hashes partners had that the cluster lacked (recon's finding).", C, NULL, NULL, 0);
    R(&M.fetched, "oks_sync_keys_fetched_total", "Keys received from partners' hashquery.", C, NULL,
      NULL, 0);
    R(&M.added, "oks_sync_keys_added_total", "Fetched keys the cluster stored.", C, NULL, NULL, 0);
    R(&M.failed, "oks_sync_keys_add_failed_total",
      "Fetched keys whose add failed every try (fetched again by a later round).", C, NULL, NULL,
      0);
    R(&M.sent, "oks_sync_hashes_sent_total", "Hashes partners learned from this cluster.", C, NULL,
      NULL, 0);
    R(&M.ignored, "oks_sync_hashes_ignored_total",
      "Hashes skipped because the cluster stores the key in another form.", C, NULL, NULL, 0);
    R(&M.received, "oks_sync_fetch_received_bytes_total",
      "Bytes of partners' /pks/hashquery answers received.", C, NULL, NULL, 0);
    R(&M.tree, "oks_sync_tree_hashes", "Hashes in the worker's prefix tree.", G, NULL, NULL, 0);
    R(&M.running, "oks_sync_rounds_running", "Rounds running now.", G, NULL, NULL, 0);
    R(&M.partners, "oks_sync_partners", "Partners in the membership.", G, NULL, NULL, 0);
#undef R
    if (rc == 0)
        rc = oks_metrics_on_write(M.reg, write_partners, NULL);
    rc = oks_metrics_http_serve(&M.reg, rc, &c->sync_metrics.listen, c->sync_metrics.allow,
                                &M.http, e);
    if (rc)
        oks_sync_metrics_stop();
    return rc;
}

void oks_sync_metrics_stop(void) {
    oks_metrics_http_stop(M.http);
    oks_metrics_free(M.reg);
    free(M.p);
    M.http = NULL;
    M.reg = NULL;
    M.p = NULL;
    M.n = 0;
}

void oks_sync_metrics_round(const oks_sync_round *rd, size_t failed) {
    if (!M.reg)
        return;
    oks_metric_inc(M.rounds, rd->ok ? 0 : 1, 0);
    oks_metric_observe(M.duration, 0, 0, (double)rd->ms / 1000.0);
    oks_metric_add(M.to_fetch, 0, 0, rd->fetch);
    oks_metric_add(M.fetched, 0, 0, rd->fetched);
    oks_metric_add(M.added, 0, 0, rd->added);
    oks_metric_add(M.failed, 0, 0, failed);
    oks_metric_add(M.sent, 0, 0, rd->sent);
    oks_metric_add(M.ignored, 0, 0, rd->ignored);
}

void oks_sync_metrics_received(size_t n) {
    oks_metric_add(M.received, 0, 0, n);
}

void oks_sync_metrics_state(const oks_sync_state *s, const oks_sync_backoff *b, size_t tree,
                            int running) {
    if (!M.reg)
        return;
    oks_metric_set(M.tree, 0, 0, (double)tree);
    oks_metric_set(M.running, 0, 0, running);
    oks_metric_set(M.partners, 0, 0, (double)s->n_peers);
    int64_t now = (int64_t)oks_now_ms();
    double wall = (double)time(NULL);
    pthread_mutex_lock(&M.lock);
    M.n = 0;
    for (size_t i = 0; i < s->n_peers && i < OKS_SYNC_MAX_MEMBERS; i++) {
        const oks_sync_peer_stats *ps = &s->peers[i];
        partner *p = &M.p[M.n++];
        memset(p, 0, sizeof *p);
        memcpy(p->name, ps->name, sizeof p->name);
        p->name[sizeof p->name - 1] = 0;
        p->last_sync = (double)ps->last_sync;
        p->rounds = ps->rounds;
        p->failures = ps->failures;
        p->added = ps->total_added;
        p->sent = ps->total_sent;
        for (unsigned k = 0; k < b->n; k++)
            if (!strcmp(b->v[k].name, ps->name)) {
                int64_t left = oks_sync_backoff_left(b, ps->name, now);
                p->in_row = b->v[k].failures;
                p->backoff_until = left > 0 ? wall + (double)left / 1000.0 : 0;
            }
    }
    pthread_mutex_unlock(&M.lock);
}

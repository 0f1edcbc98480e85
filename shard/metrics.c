/* The shard's metrics (see metrics.h). */
#include "shard/metrics.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics_http.h"
#include "lib/metrics_proto.h"
#include "shard/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEVELS 7

static struct {
    oks_metrics *reg;
    oks_metrics_http *http;
    oks_shard *sh;
    oks_metrics_proto_labels pl;
    oks_metric *requests, *added, *deletes, *read_s, *add_s, *commit_s, *commit_keys;
    oks_metric *keys, *bytes, *disk, *last_seq, *queue, *expired, *sigs;
    oks_metric *ldb_files, *ldb_seconds, *ldb_read, *ldb_written;
    oks_metric *lag, *peer_head, *follow_errors;
    oks_metric *maps_live;
    int peer_pos[OKS_MAX_SHARDS]; /* shard index -> position among the peer label values */
} M;

static const char *const outcomes[] = {"new", "updated", "unchanged", "rejected", NULL};
static const char *const origins[] = {"unknown", "hkp", "mail", "recon", "import", "replica", NULL};
static const char *const queues[] = {"readers", "searchers", "verifiers", "admin", "writer", NULL};
static const char *const levels[] = {"0", "1", "2", "3", "4", "5", "6", NULL};
static const double key_counts[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

static size_t qlen(const oks_jobq *q) {
    return __atomic_load_n(&q->len, __ATOMIC_RELAXED);
}

/* "leveldb.stats": a table of per-level Files, Size(MB), Time(sec), Read(MB), Write(MB) */
static void leveldb_stats(oks_store *s) {
    char *t = oks_store_property(s, "leveldb.stats");
    for (char *line = t ? strchr(t, '\n') : NULL; line; line = strchr(line + 1, '\n')) {
        int level;
        double files, size, secs, rd, wr;
        if (sscanf(line + 1, "%d %lf %lf %lf %lf %lf", &level, &files, &size, &secs, &rd, &wr) !=
                6 ||
            level < 0 || level >= LEVELS)
            continue;
        oks_metric_set(M.ldb_files, (size_t)level, 0, files);
        /* counted since the store was opened: always rising while the process lives */
        oks_metric_set(M.ldb_seconds, (size_t)level, 0, secs);
        oks_metric_set(M.ldb_read, (size_t)level, 0, rd * 1048576.0);
        oks_metric_set(M.ldb_written, (size_t)level, 0, wr * 1048576.0);
    }
    free(t);
}

static void collect(void *arg) {
    oks_shard *sh = arg;
    oks_store_stats st;
    oks_store_stats_get(sh->store, &st);
    oks_metric_set(M.keys, 0, 0, (double)st.keys);
    oks_metric_set(M.bytes, 0, 0, (double)st.bytes);
    oks_metric_set(M.disk, 0, 0, (double)st.disk_bytes);
    oks_metric_set(M.last_seq, 0, 0, (double)st.last_seq);
    oks_metric_set(M.queue, 0, 0, (double)qlen(&sh->readers));
    oks_metric_set(M.queue, 1, 0, (double)qlen(&sh->searchers));
    oks_metric_set(M.queue, 2, 0, (double)qlen(&sh->adders));
    oks_metric_set(M.queue, 3, 0, (double)qlen(&sh->admin));
    oks_metric_set(M.queue, 4, 0, (double)__atomic_load_n(&sh->wqueued, __ATOMIC_RELAXED));
    oks_metric_set(M.expired, 0, 0, (double)atomic_load(&sh->expired));
    oks_metric_set(M.sigs, 0, 0, (double)atomic_load(&sh->sigs_verified));
    oks_metric_set(M.maps_live, 0, 0, (double)atomic_load(&sh->maps_live));
    leveldb_stats(sh->store);
}

static int reg(oks_metric **m, const char *name, const char *help, oks_metric_type t,
               const char *l0, const char *const *v0, const char *l1, const char *const *v1,
               const double *bounds, size_t nb, oks_err *e) {
    oks_metric_spec s = {.name = name,
                         .help = help,
                         .type = t,
                         .label = {l0, l1},
                         .values = {v0, v1},
                         .bounds = bounds,
                         .n_bounds = nb};
    return oks_metrics_register(M.reg, &s, m, e);
}

int oks_shard_metrics_start(oks_shard *sh, oks_err *e) {
    const oks_cluster *c = sh->conf;
    const oks_hostport *listen = c->shards[sh->self].metrics_listen.port
                                     ? &c->shards[sh->self].metrics_listen
                                     : &c->shard_metrics.listen;
    if (!listen->port)
        return 0;
    oks_metrics_proto_labels_init(&M.pl);
    static const char *peers[OKS_MAX_SHARDS + 1];
    size_t np = 0;
    for (size_t i = 0; i < c->n_shards; i++) {
        M.peer_pos[i] = -1;
        if ((int)i != sh->self && oks_cluster_replicated(c) &&
            oks_cluster_share_slots(c, (size_t)sh->self, i)) {
            M.peer_pos[i] = (int)np;
            peers[np++] = c->shards[i].name;
        }
    }
    peers[np] = NULL;
    M.reg = oks_metrics_new();
    M.sh = sh;
    const oks_metric_type C = OKS_METRIC_COUNTER, G = OKS_METRIC_GAUGE, H = OKS_METRIC_HISTOGRAM;
    int rc = !M.reg ? oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory") : 0;
#define R(...) (rc = rc ? rc : reg(__VA_ARGS__, e))
    R(&M.requests, "oks_shard_requests_total", "Requests answered, by operation and status.", C,
      "op", M.pl.ops, "status", M.pl.status, NULL, 0);
    R(&M.added, "oks_shard_keys_added_total",
      "Keys of add requests by outcome and origin (replica: copied from a replica peer).", C,
      "outcome", outcomes, "origin", origins, NULL, 0);
    R(&M.deletes, "oks_shard_deletes_total", "Keys deleted.", C, NULL, NULL, NULL, NULL, NULL, 0);
    R(&M.read_s, "oks_shard_read_duration_seconds",
      "Time from receiving a read request (every operation but add and delete) to its answer.", H,
      NULL, NULL, NULL, NULL, NULL, 0);
    R(&M.add_s, "oks_shard_add_duration_seconds",
      "Time from receiving an add request to its answer (verified and synced to disk).", H, NULL,
      NULL, NULL, NULL, NULL, 0);
    R(&M.commit_s, "oks_shard_commit_duration_seconds",
      "Time the writer took for one group commit (one synced LevelDB batch).", H, NULL, NULL, NULL,
      NULL, NULL, 0);
    R(&M.commit_keys, "oks_shard_commit_keys", "Keys written per group commit.", H, NULL, NULL,
      NULL, NULL, key_counts, sizeof key_counts / sizeof key_counts[0]);
    R(&M.keys, "oks_shard_keys", "Keys stored.", G, NULL, NULL, NULL, NULL, NULL, 0);
    R(&M.bytes, "oks_shard_stored_bytes", "Bytes of the keys stored.", G, NULL, NULL, NULL, NULL,
      NULL, 0);
    R(&M.disk, "oks_shard_disk_bytes", "Bytes of the store's directory on disk.", G, NULL, NULL,
      NULL, NULL, NULL, 0);
    R(&M.last_seq, "oks_shard_change_log_sequence", "Highest sequence of the change log.", G, NULL,
      NULL, NULL, NULL, NULL, 0);
    R(&M.queue, "oks_shard_queue_depth",
      "Requests waiting per queue (writer: add batches verified, not yet committed).", G, "queue",
      queues, NULL, NULL, NULL, 0);
    R(&M.expired, "oks_shard_expired_total",
      "Requests answered with a timeout unworked: their deadline passed in a queue.", C, NULL, NULL,
      NULL, NULL, NULL, 0);
    R(&M.sigs, "oks_shard_signatures_verified_total", "Self-signatures verified.", C, NULL, NULL,
      NULL, NULL, NULL, 0);
    R(&M.maps_live, "oks_shard_maps_live",
      "Slot maps from etcd in memory: the one in force, the one before it, and replaced ones a "
      "thread may still use (freed once none can).", G, NULL, NULL, NULL, NULL, NULL, 0);
    R(&M.ldb_files, "oks_shard_leveldb_files", "LevelDB table files per level.", G, "level", levels,
      NULL, NULL, NULL, 0);
    R(&M.ldb_seconds, "oks_shard_leveldb_compaction_seconds_total",
      "Time LevelDB spent compacting into each level since the shard started.", C, "level", levels,
      NULL, NULL, NULL, 0);
    R(&M.ldb_read, "oks_shard_leveldb_compaction_read_bytes_total",
      "Bytes LevelDB compactions read per level since the shard started.", C, "level", levels, NULL,
      NULL, NULL, 0);
    R(&M.ldb_written, "oks_shard_leveldb_compaction_written_bytes_total",
      "Bytes LevelDB compactions wrote per level since the shard started.", C, "level", levels,
      NULL, NULL, NULL, 0);
    if (np) {
        R(&M.lag, "oks_shard_replica_lag_entries",
          "Change-log entries of a replica peer this shard has not followed yet.", G, "peer", peers,
          NULL, NULL, NULL, 0);
        R(&M.peer_head, "oks_shard_replica_peer_sequence",
          "The replica peer's highest change-log sequence, as last read.", G, "peer", peers, NULL,
          NULL, NULL, 0);
        R(&M.follow_errors, "oks_shard_replica_follow_errors_total",
          "Failed reads of a replica peer's change log (peer down or failing).", C, "peer", peers,
          NULL, NULL, NULL, 0);
    }
#undef R
    if (rc == 0)
        rc = oks_metrics_on_collect(M.reg, collect, sh);
    rc = oks_metrics_http_serve(&M.reg, rc, listen, c->shard_metrics.allow, &M.http, e);
    if (rc)
        memset(&M, 0, sizeof M);
    return rc;
}

void oks_shard_metrics_stop(void) {
    oks_metrics_http_stop(M.http);
    oks_metrics_free(M.reg);
    memset(&M, 0, sizeof M);
}

void oks_shard_metrics_reply(const oks_job *j, const Oks__Response *r) {
    if (!M.reg)
        return;
    int op = j->req ? (int)j->req->op_case : 0;
    oks_metric_inc(M.requests, oks_metrics_proto_op(&M.pl, op),
                   oks_metrics_proto_status(&M.pl, (int)r->status));
    double s = (double)(oks_now_ms() - j->received_ms) / 1000.0;
    if (op == OKS__REQUEST__OP_ADD) {
        oks_metric_observe(M.add_s, 0, 0, s);
        size_t origin = j->req->add ? (size_t)j->req->add->origin : 0;
        for (size_t i = 0; i < r->n_results; i++)
            oks_metric_inc(M.added, (size_t)r->results[i]->outcome, origin);
    } else if (op == OKS__REQUEST__OP_DELETE) {
        if (r->status == OKS__STATUS__STATUS_OK)
            oks_metric_inc(M.deletes, 0, 0);
    } else {
        oks_metric_observe(M.read_s, 0, 0, s);
    }
}

void oks_shard_metrics_commit(uint64_t us, size_t n) {
    oks_metric_observe(M.commit_s, 0, 0, (double)us / 1e6);
    oks_metric_observe(M.commit_keys, 0, 0, (double)n);
}

void oks_shard_metrics_replica(size_t idx, uint64_t head, uint64_t cursor) {
    if (!M.lag || idx >= OKS_MAX_SHARDS || M.peer_pos[idx] < 0)
        return;
    oks_metric_set(M.lag, (size_t)M.peer_pos[idx], 0, head > cursor ? (double)(head - cursor) : 0);
    oks_metric_set(M.peer_head, (size_t)M.peer_pos[idx], 0, (double)head);
}

void oks_shard_metrics_replica_failed(size_t idx) {
    if (M.follow_errors && idx < OKS_MAX_SHARDS && M.peer_pos[idx] >= 0)
        oks_metric_inc(M.follow_errors, (size_t)M.peer_pos[idx], 0);
}

/*
 * sync/worker: the sync daemon's loop and scheduling (see worker.h): the recon port, gossip
 * with a random partner, rounds (sessions and their fetches, sync/round.c), back-off,
 * membership reloads, the state file, signals. Following the change logs and the ignore set
 * live in sync/follow.c.
 */
#include "sync/worker.h"
#include "lib/xalloc.h"
#include "lib/zsec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "lib/clock.h"
#include "lib/cluster.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "sync/backoff.h"
#include "sync/follow.h"
#include "sync/membership.h"
#include "sync/metrics.h"
#include "sync/peer.h"
#include "sync/round.h"
#include "sync/state.h"

typedef struct ctx {
    const oks_sync_conf *c;
    oks_cluster conf;
    void *zctx;
    oks_sync_follow fl;          /* change-log passes (own router client), tree, ignore set */
    oks_client *adds;            /* router client for the rounds' Adds (replies by id) */
    oks_sync_rounds rounds;      /* running rounds and their settings */
    oks_sync_backoff backoff;    /* partners whose last rounds failed */
    oks_sync_members *members;   /* membership file + command-line partners */
    struct stat members_st;      /* of the membership file when last read */
    int members_loaded;
    oks_sync_state *state;
    char *membership;            /* --membership, else [sync] membership of oks.conf */
    char *state_path;            /* --state, else [sync] state of oks.conf */
    int listen_fd;               /* recon port, -1 */
    uint64_t gossip_pass;        /* gossip once this follower pass ended (0: none due) */
    uint64_t rebuild_pass;       /* the tree is rebuilt once a pass at least this new ended well */
    int resolver[2];             /* pipe: the resolver thread hands back resolved members */
    int resolving;               /* a resolver thread runs */
    int resolve_again;           /* the members changed while it ran */
} ctx;

/* set by the signal handlers of lib/daemon.c: SIGINT/SIGTERM, SIGHUP, SIGUSR1 */
static atomic_int stop_flag, hup_flag, rebuild_flag;

void oks_sync_conf_default(oks_sync_conf *c)
{
    memset(c, 0, sizeof *c);
    c->gossip_seconds = 60;
    c->ignore_seconds = 86400;
    c->session_timeout_s = 60;
    c->http_port = 11371;
    c->fetch_batch = 100;
    c->fetch_parallel = 4;
    c->add_parallel = 4;
}

static int ctx_open(ctx *x, const oks_sync_conf *c, oks_err *e)
{
    memset(x, 0, sizeof *x);
    x->c = c;
    x->listen_fd = -1;
    x->resolver[0] = x->resolver[1] = -1;
    if (oks_cluster_load(c->cluster_conf, &x->conf, e))
        return e ? e->code : OKS_E_ARG;
    if (x->conf.n_routers == 0) {
        oks_cluster_release(&x->conf);
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s names no router", c->cluster_conf);
    }
    x->zctx = zmq_ctx_new();
    if (oks_zsec_start(&x->conf, OKS_ROLE_SYNC, x->zctx, e) == 0)
        x->fl.client = oks_client_new_routers(x->zctx, &x->conf, e);
    x->fl.ignore_seconds = c->ignore_seconds;
    if (!x->fl.client) {
        zmq_ctx_term(x->zctx);
        oks_cluster_release(&x->conf);
        return e ? e->code : OKS_E_IO;
    }
    x->fl.timeout_ms = (int)x->conf.router_deadline_ms + 2000;
    x->adds = oks_client_new_routers(x->zctx, &x->conf, e);
    if (!x->adds) {
        oks_client_free(x->fl.client);
        zmq_ctx_term(x->zctx);
        oks_cluster_release(&x->conf);
        return e ? e->code : OKS_E_IO;
    }
    const char *mem = c->membership ? c->membership : x->conf.sync.membership;
    const char *st = c->state_path ? c->state_path : x->conf.sync.state;
    x->membership = mem[0] ? oks_xstrdup(mem) : NULL;
    x->state_path = st[0] ? oks_xstrdup(st) : NULL;
    int rc = oks_ptree_open(c->tree_dir, &x->fl.t, e);
    if (rc) {
        free(x->membership);
        free(x->state_path);
        oks_client_free(x->adds);
        oks_client_free(x->fl.client);
        zmq_ctx_term(x->zctx);
        oks_cluster_release(&x->conf);
    }
    return rc;
}

static void ctx_close(ctx *x)
{
    free(x->members);
    free(x->state);
    free(x->membership);
    free(x->state_path);
    oks_sync_follow_release(&x->fl);
    oks_ptree_free(x->fl.t);
    oks_client_free(x->adds);
    oks_client_free(x->fl.client);
    oks_zsec_stop();
    zmq_ctx_term(x->zctx);
    oks_cluster_release(&x->conf);
}

int oks_sync_catch_up(const oks_sync_conf *c, oks_err *e)
{
    ctx x;
    int rc = ctx_open(&x, c, e);
    if (rc)
        return rc;
    rc = oks_sync_follow_catch_up(&x.fl, e);
    ctx_close(&x);
    return rc;
}

static int remove_tree(const char *dir, oks_err *e)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (strchr(dir, '\'') || strlen(dir) > 1000 || system(cmd) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot remove %s", dir);
    return 0;
}

/* the running worker's own rebuild (SIGUSR1): drop the tree and reopen it empty; the follower's
 * passes fill it again (see on_rebuild) */
static int rebuild_in_place(ctx *x, oks_err *e)
{
    oks_sync_follow_abort(&x->fl);
    oks_ptree_free(x->fl.t);
    x->fl.t = NULL;
    int rc = remove_tree(x->c->tree_dir, e);
    int rc2 = oks_ptree_open(x->c->tree_dir, &x->fl.t, e);
    if (rc2)
        return rc2; /* the caller stops: no tree */
    x->fl.ignored = 0;
    return rc;
}

int oks_sync_rebuild(const oks_sync_conf *c, size_t *hashes, oks_err *e)
{
    if (remove_tree(c->tree_dir, e))
        return e ? e->code : OKS_E_IO;
    ctx x;
    int rc = ctx_open(&x, c, e);
    if (rc)
        return rc;
    rc = oks_sync_follow_catch_up(&x.fl, e);
    if (hashes)
        *hashes = oks_ptree_count(x.fl.t);
    ctx_close(&x);
    return rc;
}

static void write_state(ctx *x)
{
    oks_sync_metrics_state(x->state, &x->backoff, x->fl.t ? oks_ptree_count(x->fl.t) : 0,
                           oks_sync_rounds_running(&x->rounds));
    oks_err e;
    if (x->state_path &&
        oks_sync_state_write(x->state, x->state_path, oks_ptree_count(x->fl.t), x->fl.ignored, &e))
        oks_warn("state file: %s", e.msg);
}

/* ---- names of members, looked up off the loop ------------------------------------------------ */

static void *resolver_main(void *arg)
{
    int *job = arg; /* [0] the pipe's write end; the members follow */
    oks_sync_members *m = (oks_sync_members *)(job + 2);
    oks_sync_members_resolve(m);
    if (write(job[0], &job, sizeof job) != (ssize_t)sizeof job)
        free(job); /* the worker is gone */
    return NULL;
}

/* looks up the names of x->members in a detached thread; the answer comes through the pipe */
static void resolve_members(ctx *x)
{
    if (x->resolver[1] < 0 || oks_sync_members_unresolved(x->members) == 0)
        return;
    if (x->resolving) {
        x->resolve_again = 1;
        return;
    }
    /* one allocation: the pipe's fd, padding, then a copy of the members */
    int *job = oks_xmalloc(2 * sizeof(int) + sizeof(oks_sync_members));
    if (!job)
        return;
    job[0] = x->resolver[1];
    memcpy(job + 2, x->members, sizeof(oks_sync_members));
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, resolver_main, job) != 0) {
        oks_warn("membership: cannot start the name look-up: %s", strerror(errno));
        free(job);
    } else
        x->resolving = 1;
    pthread_attr_destroy(&a);
}

/* the looked-up addresses, for the members still listed under the same name */
static void on_resolved(ctx *x)
{
    int *job;
    if (read(x->resolver[0], &job, sizeof job) != (ssize_t)sizeof job)
        return;
    const oks_sync_members *r = (const oks_sync_members *)(job + 2);
    size_t got = 0;
    for (size_t i = 0; i < x->members->n; i++) {
        oks_sync_member *mb = &x->members->v[i];
        for (size_t j = 0; !mb->ip[0] && j < r->n; j++)
            if (r->v[j].ip[0] && strcmp(r->v[j].host, mb->host) == 0) {
                memcpy(mb->ip, r->v[j].ip, sizeof mb->ip);
                got++;
            }
    }
    free(job);
    x->resolving = 0;
    if (got) {
        oks_info("membership: %zu names resolved", got);
        oks_sync_state_set_members(x->state, x->members);
        write_state(x);
    }
    if (x->resolve_again) {
        x->resolve_again = 0;
        resolve_members(x);
    }
}

/* (re)reads the membership file when it changed (or force), adds the command-line partners */
static void load_members(ctx *x, int force)
{
    const oks_sync_conf *c = x->c;
    struct stat st;
    if (x->members_loaded && !force) {
        if (!x->membership || stat(x->membership, &st) != 0)
            return;
        if (st.st_mtim.tv_sec == x->members_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == x->members_st.st_mtim.tv_nsec &&
            st.st_size == x->members_st.st_size && st.st_ino == x->members_st.st_ino)
            return;
    }
    oks_sync_members *m = oks_xcalloc(1, sizeof *m);
    oks_err e;
    if (x->membership) {
        if (stat(x->membership, &st) != 0 || oks_sync_members_load(x->membership, m, &e) != 0) {
            if (x->members_loaded && !force) {
                free(m);
                return;
            }
            oks_warn("membership %s: %s; using the command-line partners only", x->membership,
                     stat(x->membership, &st) != 0 ? strerror(errno) : e.msg);
            m->n = m->malformed = 0;
            memset(&x->members_st, 0, sizeof x->members_st);
        } else
            x->members_st = st;
    }
    for (int i = 0; i < c->n_partners; i++)
        if (oks_sync_members_add(m, c->partners[i], &e))
            oks_warn("%s", e.msg);
    oks_info("membership: %zu partners (%s%s), %zu malformed lines", m->n,
             x->membership ? x->membership : "",
             x->membership && c->n_partners ? " and command line" : c->n_partners ? "command line" : "",
             m->malformed);
    free(x->members);
    x->members = m;
    x->members_loaded = 1;
    oks_sync_state_set_members(x->state, m);
    write_state(x);
    resolve_members(x);
}

/* a round ended: log it, the stats file, the state file, the partner's back-off */
static void round_done(void *arg, oks_sync_slot *sl)
{
    ctx *x = arg;
    oks_err e;
    oks_sync_fetch_stats fs;
    memset(&fs, 0, sizeof fs);
    if (sl->fs)
        oks_sync_fetch_result(sl->fs, &fs, NULL);
    if (sl->rc)
        oks_warn("%s with %s: %s", sl->fs ? "fetch" : "recon", sl->label, sl->e.msg);
    int64_t t2 = (int64_t)oks_now_ms();
    if (oks_sync_follow_catch_up(&x->fl, &e))
        oks_warn("change log: %s", e.msg);
    int64_t t3 = (int64_t)oks_now_ms();
    oks_sync_round rd;
    memset(&rd, 0, sizeof rd);
    snprintf(rd.partner, sizeof rd.partner, "%s", sl->label);
    rd.time = (int64_t)time(NULL);
    rd.ok = sl->rc == 0;
    rd.fetch = sl->r.nfetch;
    rd.ignored = sl->ignored;
    rd.fetched = fs.fetched;
    rd.added = fs.added;
    rd.sent = sl->r.sent;
    rd.ms = t3 - sl->t0;
    if (sl->r.nfetch || sl->r.sent)
        oks_info("round with %s: recon %lld ms, fetch+add %lld ms (hashqueries outstanding %lld "
                 "ms, adds outstanding %lld ms), tree update %lld ms",
                 sl->label, (long long)((sl->t1 ? sl->t1 : t2) - sl->t0),
                 (long long)(sl->t1 ? t2 - sl->t1 : 0), (long long)fs.fetch_ms,
                 (long long)fs.add_ms, (long long)(t3 - t2));
    oks_info("round with %s: %s; to fetch %zu%s (ignored %zu), fetched %zu, added %zu, peer "
             "learns %zu; tree %zu; %lld ms",
             sl->label, sl->rc ? "failed" : "ok", sl->r.nfetch,
             sl->r.truncated ? " (truncated)" : "", rd.ignored, rd.fetched, rd.added, rd.sent,
             oks_ptree_count(x->fl.t), (long long)rd.ms);
    if (sl->rc && sl->peer_fault) {
        unsigned k;
        int64_t w = oks_sync_backoff_fail(&x->backoff, sl->label, t3, &k);
        oks_warn("partner %s backed off for %lld s (failure %u in a row)", sl->label,
                 (long long)(w / 1000), k);
    } else if (sl->rc == 0)
        oks_sync_backoff_ok(&x->backoff, sl->label);
    oks_sync_state_round(x->state, &rd);
    oks_sync_metrics_round(&rd, fs.failed);
    write_state(x);
    if (!x->c->stats_path)
        return;
    FILE *f = fopen(x->c->stats_path, "a");
    if (!f)
        return;
    fprintf(f, "%ld %s %s fetch=%zu ignored=%zu fetched=%zu added=%zu sent=%zu tree=%zu\n",
            (long)time(NULL), sl->label, sl->rc ? "failed" : "ok", sl->r.nfetch, rd.ignored,
            rd.fetched, rd.added, rd.sent, oks_ptree_count(x->fl.t));
    fclose(f);
}

/* a round that could not start (no connection): recorded like a failed one */
static void round_failed_early(ctx *x, const char *label, const char *ip, const oks_err *e)
{
    oks_sync_slot sl;
    memset(&sl, 0, sizeof sl);
    snprintf(sl.label, sizeof sl.label, "%s", label);
    snprintf(sl.ip, sizeof sl.ip, "%s", ip);
    sl.rc = e->code ? e->code : OKS_E_IO;
    sl.e = *e;
    sl.peer_fault = 1;
    sl.t0 = (int64_t)oks_now_ms();
    round_done(x, &sl);
}

static int64_t next_gossip(const oks_sync_conf *c)
{
    uint32_t r;
    gcry_create_nonce(&r, sizeof r);
    /* interval +-10 % */
    int64_t base = (int64_t)c->gossip_seconds * 1000;
    return (int64_t)oks_now_ms() + base * 9 / 10 + (int64_t)(r % (uint32_t)(base / 5 + 1));
}

/* one pending connection on the recon port: a round, or closed with the reason logged */
static int on_accept(ctx *x, int ls)
{
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int fd = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return -1;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    load_members(x, 0);
    int m = oks_sync_members_find_ip(x->members, ip);
    if (m < 0) {
        oks_warn("recon connection from %s refused: not a partner", ip);
        close(fd);
        return 0;
    }
    char label[sizeof x->members->v[0].label];
    memcpy(label, x->members->v[m].label, sizeof label);
    int64_t left = oks_sync_backoff_left(&x->backoff, label, (int64_t)oks_now_ms());
    const char *why = NULL;
    char buf[400];
    if (left > 0) {
        snprintf(buf, sizeof buf, "%s is backed off for %lld s more", label,
                 (long long)(left + 999) / 1000);
        why = buf;
    } else if (x->rebuild_pass) {
        why = "the tree is being rebuilt";
    } else if (oks_sync_rounds_busy(&x->rounds, label)) {
        snprintf(buf, sizeof buf, "a round with %s is running", label);
        why = buf;
    } else if (oks_sync_rounds_running(&x->rounds) >= x->rounds.max) {
        snprintf(buf, sizeof buf, "%d rounds are running", x->rounds.max);
        why = buf;
    }
    if (why) {
        oks_warn("recon connection from %s refused: %s", ip, why);
        close(fd);
        return 0;
    }
    oks_err e;
    if (oks_sync_follow_catch_up(&x->fl, &e))
        oks_warn("change log: %s", e.msg);
    oks_sync_rounds_start(&x->rounds, fd, OKS_RECON_REQUESTER, ip, label);
    return 0;
}

/* a random member other than ourselves, not in a round and not backed off, or -1 */
static int pick_partner(ctx *x)
{
    size_t cand[OKS_SYNC_MAX_MEMBERS], n = 0;
    int64_t now = (int64_t)oks_now_ms();
    for (size_t i = 0; i < x->members->n; i++) {
        const oks_sync_member *m = &x->members->v[i];
        if (!m->ip[0])
            continue;
        if (x->c->recon_port && m->port == x->c->recon_port && strncmp(m->ip, "127.", 4) == 0)
            continue; /* our own listening address */
        if (oks_sync_rounds_busy(&x->rounds, m->label) ||
            oks_sync_backoff_left(&x->backoff, m->label, now) > 0)
            continue;
        cand[n++] = i;
    }
    if (n == 0)
        return -1;
    uint32_t r;
    gcry_create_nonce(&r, sizeof r);
    return (int)cand[r % (uint32_t)n];
}

static void gossip(ctx *x)
{
    load_members(x, 0);
    if (x->rebuild_pass)
        return;
    if (oks_sync_rounds_running(&x->rounds) >= x->rounds.max)
        return;
    int i = pick_partner(x);
    if (i < 0)
        return;
    const oks_sync_member *m = &x->members->v[i];
    char hp[64], label[sizeof m->label], ip[sizeof m->ip];
    snprintf(hp, sizeof hp, "%s:%d", m->ip, m->port);
    memcpy(label, m->label, sizeof label);
    memcpy(ip, m->ip, sizeof ip);
    oks_err e;
    int fd = oks_sync_connect_start(hp, &e); /* connected while the session's Config waits */
    if (fd < 0)
        round_failed_early(x, label, ip, &e);
    else
        oks_sync_rounds_start(&x->rounds, fd, OKS_RECON_RESPONDER, ip, label);
}

/* the [sync] settings of oks.conf unless the command line gave them */
static void round_opts(ctx *x)
{
    const oks_sync_conf *c = x->c;
    const oks_conf_sync *s = &x->conf.sync;
    oks_sync_round_opts *o = &x->rounds.o;
    oks_recon_opts_default(&o->recon);
    o->recon.cfg.http_port = (uint32_t)c->http_port;
    o->recon.read_timeout_ms = c->session_timeout_s * 1000;
    if (o->recon.config_timeout_ms > o->recon.read_timeout_ms)
        o->recon.config_timeout_ms = o->recon.read_timeout_ms;
    o->recon.session_timeout_ms =
        (c->session_seconds ? c->session_seconds : (int)s->session_seconds) * 1000;
    o->recon.max_work = c->session_work ? (uint64_t)c->session_work : s->session_work;
    o->recon.max_buffer = c->session_buffer ? (size_t)c->session_buffer : s->session_buffer;
    o->fetch_max = (size_t)(c->fetch_max ? c->fetch_max : (int)s->fetch_max);
    size_t maxb = x->conf.max_message_bytes;
    o->fetch = (oks_sync_fetch_opts){
        .batch = (size_t)c->fetch_batch,
        .http_parallel = c->fetch_parallel,
        .add_parallel = c->add_parallel,
        .http_timeout_ms = c->session_timeout_s * 1000,
        .deadline_ms = (c->fetch_seconds ? c->fetch_seconds : (int)s->fetch_seconds) * 1000,
        .add_timeout_ms = x->fl.timeout_ms,
        .max_bytes = maxb > (2u << 20) ? maxb - (1u << 20) : maxb,
        .ignore = oks_sync_ignore,
        .arg = &x->fl};
    x->rounds.max = c->sessions ? c->sessions : (int)s->sessions;
    if (x->rounds.max > OKS_SYNC_MAX_ROUNDS)
        x->rounds.max = OKS_SYNC_MAX_ROUNDS;
    x->rounds.fl = &x->fl;
    x->rounds.adds = x->adds;
    x->rounds.done = round_done;
    x->rounds.arg = x;
    oks_sync_backoff_init(
        &x->backoff,
        (int64_t)(c->backoff_seconds ? c->backoff_seconds : (int)s->backoff_seconds) * 1000,
        (int64_t)(c->backoff_max_seconds ? c->backoff_max_seconds : (int)s->backoff_max_seconds) *
            1000);
}

static int64_t rebuild_t0;

static void on_rebuild(ctx *x)
{
    oks_info("SIGUSR1: rebuilding the tree from the change logs");
    oks_sync_rounds_abort(&x->rounds, "ended: the tree is being rebuilt");
    rebuild_t0 = (int64_t)oks_now_ms();
    oks_err re;
    if (rebuild_in_place(x, &re))
        oks_error("rebuild: %s", re.msg);
    x->rebuild_pass = oks_sync_follow_kick(&x->fl);
}

/* the rebuild ends with the first pass after it that read every log to its end */
static void rebuild_check(ctx *x)
{
    if (!x->rebuild_pass || x->fl.ok < x->rebuild_pass)
        return;
    x->rebuild_pass = 0;
    oks_info("tree rebuilt: %zu hashes in %lld ms", oks_ptree_count(x->fl.t),
             (long long)((int64_t)oks_now_ms() - rebuild_t0));
    x->state->rebuilds++;
    write_state(x);
}

int oks_sync_run(const oks_sync_conf *c, oks_err *e)
{
    ctx *x = oks_xcalloc(1, sizeof *x); /* the round table is large */
    int rc = ctx_open(x, c, e);
    if (rc) {
        free(x);
        return rc;
    }
    x->state = oks_xcalloc(1, sizeof *x->state);
    if ((rc = oks_sync_metrics_start(&x->conf, e)) != 0) {
        free(x->state);
        x->state = NULL;
        ctx_close(x);
        free(x);
        return rc;
    }
    round_opts(x);
    oks_daemon_signals(&stop_flag);
    oks_daemon_signal(SIGHUP, &hup_flag);
    oks_daemon_signal(SIGUSR1, &rebuild_flag);
    int ls = c->recon_port ? oks_sync_listen(c->recon_port, 64, e) : -1;
    if (c->recon_port && ls < 0) {
        oks_sync_metrics_stop();
        ctx_close(x);
        free(x);
        return ls;
    }
    x->listen_fd = ls;
    if (pipe2(x->resolver, O_CLOEXEC) != 0) {
        oks_warn("membership: no pipe for name look-ups (%s); names are not resolved",
                 strerror(errno));
        x->resolver[0] = x->resolver[1] = -1;
    }
    load_members(x, 1);
    oks_sync_ignore_count(&x->fl);
    if (oks_sync_follow_catch_up(&x->fl, e))
        oks_warn("change log: %s", e->msg);
    write_state(x);
    oks_info("oks-sync: tree %zu hashes, recon port %d, %zu partners, gossip %d s, %zu hashes "
             "in the ignore set, %d rounds at once",
             oks_ptree_count(x->fl.t), c->recon_port, x->members->n, c->gossip_seconds,
             x->fl.ignored, x->rounds.max);
    oks_notify_ready();
    int64_t gossip_at = c->gossip_seconds > 0 ? next_gossip(c) : -1;
    int64_t catch_at = (int64_t)oks_now_ms() + 1000;
    enum { FIXED = 4, MAX_ITEMS = FIXED + OKS_SYNC_MAX_ROUNDS * OKS_SYNC_ROUND_ITEMS };
    zmq_pollitem_t *it = oks_xcalloc(MAX_ITEMS, sizeof *it);
    while (!atomic_load(&stop_flag)) {
        int64_t now = (int64_t)oks_now_ms(), until = now + 1000;
        if (gossip_at >= 0 && gossip_at < until)
            until = gossip_at;
        if (oks_sync_follow_deadline(&x->fl) < until)
            until = oks_sync_follow_deadline(&x->fl);
        int n = 0;
        /* [0] the recon port (left out when there is none), [1] the rounds' Adds, [2] the change
         * logs, [3] the resolver's pipe, then the rounds' sockets */
        it[n++] = (zmq_pollitem_t){NULL, ls, ls >= 0 ? ZMQ_POLLIN : 0, 0};
        it[n++] = (zmq_pollitem_t){oks_client_socket(x->adds), 0, ZMQ_POLLIN, 0};
        it[n++] = (zmq_pollitem_t){oks_client_socket(x->fl.client), 0, ZMQ_POLLIN, 0};
        it[n++] = (zmq_pollitem_t){NULL, x->resolver[0], x->resolver[0] >= 0 ? ZMQ_POLLIN : 0, 0};
        oks_sync_rounds_items(&x->rounds, it, &n, MAX_ITEMS, &until);
        if (ls < 0)
            it[0].fd = -1, it[0].events = 0;
        long wait = until > now ? (long)(until - now) : 0;
        int pr = zmq_poll(ls >= 0 ? it : it + 1, ls >= 0 ? n : n - 1, wait);
        if (pr < 0 && errno != EINTR)
            oks_warn("poll: %s", zmq_strerror(errno));
        if (ls < 0)
            it[0].revents = 0;
        if (atomic_exchange(&hup_flag, 0)) {
            oks_info("SIGHUP: reloading the membership");
            load_members(x, 1);
        }
        if (atomic_exchange(&rebuild_flag, 0)) {
            on_rebuild(x);
            if (!x->fl.t) {
                rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "rebuild: no tree");
                break;
            }
            continue; /* the rounds' poll items are gone */
        }
        if (it[3].revents & ZMQ_POLLIN)
            on_resolved(x);
        oks_sync_follow_step(&x->fl);
        rebuild_check(x);
        oks_sync_rounds_replies(&x->rounds);
        oks_sync_rounds_step(&x->rounds, it);
        /* at most 16 connections per turn, so that rounds keep going under a connection flood */
        for (int k = 0; k < 16 && (it[0].revents & ZMQ_POLLIN); k++)
            if (on_accept(x, ls) < 0)
                break;
        now = (int64_t)oks_now_ms();
        if (gossip_at >= 0 && now >= gossip_at) {
            /* the round starts once the tree holds every change made until now */
            x->gossip_pass = oks_sync_follow_kick(&x->fl);
            gossip_at = next_gossip(c);
        }
        if (x->gossip_pass && x->fl.done >= x->gossip_pass) {
            x->gossip_pass = 0;
            gossip(x);
        }
        if (now >= catch_at) {
            load_members(x, 0);
            oks_sync_follow_kick(&x->fl);
            catch_at = (int64_t)oks_now_ms() + 1000;
        }
    }
    free(it);
    oks_sync_rounds_abort(&x->rounds, "ended: the worker stops");
    if (ls >= 0)
        close(ls);
    if (x->resolver[0] >= 0 && !x->resolving) { /* else the thread still writes to it */
        close(x->resolver[0]);
        close(x->resolver[1]);
    }
    oks_notify_stopping();
    oks_info("oks-sync: stopping, tree %zu hashes", x->fl.t ? oks_ptree_count(x->fl.t) : 0);
    oks_sync_metrics_stop();
    ctx_close(x);
    free(x);
    return rc;
}

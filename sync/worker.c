/*
 * sync/worker: the sync daemon's loop (see worker.h). Change-log entries are applied one by one,
 * each in one LevelDB batch with the shard's cursor ("cursor.<shard>", BE64 sequence), so a
 * crash never loses or repeats a change. Ignore set: metadata "ignore.<HEX>" = BE64 expiry.
 */
#include "sync/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gcrypt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "lib/cluster.h"
#include "lib/log.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "sync/peer.h"
#include "sync/recon.h"

typedef struct ctx {
    const oks_sync_conf *c;
    oks_cluster conf;
    void *zctx;
    oks_client *client;
    oks_ptree *t;
    int timeout_ms;
} ctx;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int ctx_open(ctx *x, const oks_sync_conf *c, oks_err *e)
{
    memset(x, 0, sizeof *x);
    x->c = c;
    if (oks_cluster_load(c->cluster_conf, &x->conf, e))
        return e ? e->code : OKS_E_ARG;
    if (x->conf.n_routers == 0) {
        oks_cluster_release(&x->conf);
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s names no router", c->cluster_conf);
    }
    x->zctx = zmq_ctx_new();
    x->client = oks_client_new(x->zctx, x->conf.routers[0], x->conf.max_message_bytes, e);
    if (!x->client) {
        zmq_ctx_term(x->zctx);
        oks_cluster_release(&x->conf);
        return e ? e->code : OKS_E_IO;
    }
    x->timeout_ms = (int)x->conf.router_deadline_ms + 2000;
    int rc = oks_ptree_open(c->tree_dir, &x->t, e);
    if (rc) {
        oks_client_free(x->client);
        zmq_ctx_term(x->zctx);
        oks_cluster_release(&x->conf);
    }
    return rc;
}

static void ctx_close(ctx *x)
{
    oks_ptree_free(x->t);
    oks_client_free(x->client);
    zmq_ctx_term(x->zctx);
    oks_cluster_release(&x->conf);
}

static int call(ctx *x, Oks__Request *q, Oks__Response **r, oks_err *e)
{
    q->version = OKS_PROTO_VERSION;
    int rc = oks_client_call(x->client, q, r, x->timeout_ms, e);
    if (rc)
        return rc;
    if ((*r)->status != OKS__STATUS__STATUS_OK) {
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "router: %s", (*r)->error);
        oks__response__free_unpacked(*r, NULL);
        *r = NULL;
    }
    return rc;
}

/* shard names (malloc'd array of malloc'd strings) */
static int shard_names(ctx *x, char ***names, size_t *n, oks_err *e)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetStats st = OKS__GET_STATS__INIT;
    q.op_case = OKS__REQUEST__OP_STATS;
    q.stats = &st;
    Oks__Response *r;
    int rc = call(x, &q, &r, e);
    if (rc)
        return rc;
    *names = calloc(r->n_shards ? r->n_shards : 1, sizeof **names);
    *n = 0;
    for (size_t i = 0; *names && i < r->n_shards; i++)
        (*names)[(*n)++] = strdup(r->shards[i]->name);
    oks__response__free_unpacked(r, NULL);
    return *names ? 0 : OKS_E_NOMEM;
}

static uint64_t get_cursor(ctx *x, const char *shard)
{
    char key[300];
    snprintf(key, sizeof key, "cursor.%s", shard);
    uint8_t *v;
    size_t l;
    oks_err e;
    uint64_t seq = 0;
    if (oks_ptree_meta_get(x->t, key, &v, &l, &e) == 0) {
        for (size_t i = 0; i < l && i < 8; i++)
            seq = (seq << 8) | v[i];
        free(v);
    }
    return seq;
}

static int catch_up_shard(ctx *x, const char *shard, size_t *applied, oks_err *e)
{
    char key[300];
    snprintf(key, sizeof key, "cursor.%s", shard);
    uint64_t cur = get_cursor(x, shard);
    for (;;) {
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__ChangeLog cl = OKS__CHANGE_LOG__INIT;
        q.op_case = OKS__REQUEST__OP_CHANGES;
        q.changes = &cl;
        cl.shard = (char *)shard;
        cl.after_seq = cur;
        cl.limit = 1000;
        Oks__Response *r;
        int rc = call(x, &q, &r, e);
        if (rc)
            return rc;
        size_t n = r->n_changes;
        for (size_t i = 0; i < n && rc == 0; i++) {
            const Oks__Change *ch = r->changes[i];
            uint8_t seq[8];
            for (int k = 0; k < 8; k++)
                seq[k] = (uint8_t)(ch->seq >> (56 - 8 * k));
            const uint8_t(*del)[16] = NULL, (*add)[16] = NULL;
            if (ch->old_hash.len == 16)
                del = (const uint8_t(*)[16])ch->old_hash.data;
            if (ch->new_hash.len == 16)
                add = (const uint8_t(*)[16])ch->new_hash.data;
            rc = oks_ptree_apply(x->t, add, add ? 1 : 0, del, del ? 1 : 0, key, seq, 8, e);
            if (rc == OKS_E_ARG)
                rc = 0; /* a hash equal to a sample point cannot be reconciled; skip it */
            cur = ch->seq;
            (*applied)++;
        }
        oks__response__free_unpacked(r, NULL);
        if (rc)
            return rc;
        if (n == 0)
            return 0;
    }
}

static int catch_up(ctx *x, oks_err *e)
{
    char **names;
    size_t n, applied = 0;
    int rc = shard_names(x, &names, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = catch_up_shard(x, names[i], &applied, e);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (applied)
        oks_info("tree: %zu changes applied, %zu hashes", applied, oks_ptree_count(x->t));
    return rc;
}

int oks_sync_catch_up(const oks_sync_conf *c, oks_err *e)
{
    ctx x;
    int rc = ctx_open(&x, c, e);
    if (rc)
        return rc;
    rc = catch_up(&x, e);
    ctx_close(&x);
    return rc;
}

int oks_sync_rebuild(const oks_sync_conf *c, oks_err *e)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->tree_dir);
    if (strchr(c->tree_dir, '\'') || system(cmd) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot remove %s", c->tree_dir);
    return oks_sync_catch_up(c, e);
}

static int ignored(ctx *x, const uint8_t h[16])
{
    char key[64], hex[33];
    oks_hex(hex, h, 16, 1);
    snprintf(key, sizeof key, "ignore.%s", hex);
    uint8_t *v;
    size_t l;
    oks_err e;
    if (oks_ptree_meta_get(x->t, key, &v, &l, &e))
        return 0;
    uint64_t exp = 0;
    for (size_t i = 0; i < l && i < 8; i++)
        exp = (exp << 8) | v[i];
    free(v);
    return exp > (uint64_t)time(NULL);
}

static void ignore(ctx *x, const uint8_t h[16])
{
    char key[64], hex[33];
    oks_hex(hex, h, 16, 1);
    snprintf(key, sizeof key, "ignore.%s", hex);
    uint64_t exp = (uint64_t)time(NULL) + (uint64_t)x->c->ignore_seconds;
    uint8_t v[8];
    for (int k = 0; k < 8; k++)
        v[k] = (uint8_t)(exp >> (56 - 8 * k));
    oks_err e;
    oks_ptree_apply(x->t, NULL, 0, NULL, 0, key, v, 8, &e);
}

typedef struct round_stats {
    size_t wanted, fetched, added, ignored;
} round_stats;

/* fetches the hashes from host:port and adds the keys through the router */
static int fetch_and_add(ctx *x, const char *host, uint32_t port, const oks_recon_result *r,
                         round_stats *st, oks_err *e)
{
    uint8_t(*todo)[16] = malloc(r->nfetch ? r->nfetch * 16 : 1);
    size_t n = 0;
    if (!todo)
        return OKS_E_NOMEM;
    for (size_t i = 0; i < r->nfetch; i++) {
        if (ignored(x, r->fetch[i]))
            st->ignored++;
        else
            memcpy(todo[n++], r->fetch[i], 16);
    }
    st->wanted = n;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += 100) {
        size_t b = n - i < 100 ? n - i : 100;
        oks_buf body = OKS_BUF_INIT;
        rc = oks_sync_hashquery(host, (int)port, todo + i, b, x->c->session_timeout_s * 1000,
                                &body, e);
        if (rc == 0 && body.len < 4)
            rc = oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "hashquery answer too short");
        uint32_t cnt = rc ? 0 : oks_be32(body.data);
        size_t off = 4;
        ProtobufCBinaryData *keys = calloc(cnt ? cnt : 1, sizeof *keys);
        size_t nk = 0;
        for (uint32_t k = 0; rc == 0 && keys && k < cnt; k++) {
            if (body.len - off < 4 || body.len - off - 4 < oks_be32(body.data + off)) {
                rc = oks_err_set(e, OKS_E_PROTO, off, "hashquery answer truncated");
                break;
            }
            uint32_t kl = oks_be32(body.data + off);
            keys[nk].data = body.data + off + 4;
            keys[nk].len = kl;
            nk++;
            off += 4 + kl;
        }
        st->fetched += nk;
        if (rc == 0 && nk) {
            Oks__Request q = OKS__REQUEST__INIT;
            Oks__Add add = OKS__ADD__INIT;
            q.op_case = OKS__REQUEST__OP_ADD;
            q.add = &add;
            add.keys = keys;
            add.n_keys = nk;
            add.origin = OKS__ORIGIN__ORIGIN_RECON;
            Oks__Response *resp;
            rc = call(x, &q, &resp, e);
            if (rc == 0) {
                /* a key stored under another hash than the one we asked for: ignore that hash */
                for (size_t k = 0; k < resp->n_results; k++) {
                    const Oks__AddResult *ar = resp->results[k];
                    if (ar->outcome != OKS__OUTCOME__OUTCOME_REJECTED)
                        st->added++;
                    if (ar->index >= nk)
                        continue;
                    oks_pgp_key *key = NULL;
                    oks_err ke;
                    uint8_t h[16];
                    if (oks_pgp_key_parse(keys[ar->index].data, keys[ar->index].len, NULL,
                                          OKS_PGP_TRUSTED, &key, &ke) != 0)
                        continue;
                    oks_pgp_key_sks_hash(key, h);
                    oks_pgp_key_free(key);
                    if (ar->outcome == OKS__OUTCOME__OUTCOME_REJECTED || ar->new_hash.len != 16 ||
                        memcmp(ar->new_hash.data, h, 16) != 0)
                        ignore(x, h);
                }
                oks__response__free_unpacked(resp, NULL);
            }
        }
        free(keys);
        oks_buf_release(&body);
    }
    /* asked for but not served at all: also ignored for a while */
    free(todo);
    return rc;
}

static void write_stats(ctx *x, const char *peer, const round_stats *st, const oks_recon_result *r,
                        int rc)
{
    oks_info("round with %s: %s; to fetch %zu (ignored %zu), fetched %zu, added %zu, peer learns "
             "%zu; tree %zu",
             peer, rc ? "failed" : "ok", r->nfetch, st->ignored, st->fetched, st->added, r->sent,
             oks_ptree_count(x->t));
    if (!x->c->stats_path)
        return;
    FILE *f = fopen(x->c->stats_path, "a");
    if (!f)
        return;
    fprintf(f, "%ld %s %s fetch=%zu ignored=%zu fetched=%zu added=%zu sent=%zu tree=%zu\n",
            (long)time(NULL), peer, rc ? "failed" : "ok", r->nfetch, st->ignored, st->fetched,
            st->added, r->sent, oks_ptree_count(x->t));
    fclose(f);
}

static void session(ctx *x, int fd, enum oks_recon_role role, const char *peer_ip,
                    const char *label)
{
    oks_recon_opts o;
    oks_recon_opts_default(&o);
    o.cfg.http_port = (uint32_t)x->c->http_port;
    o.read_timeout_ms = x->c->session_timeout_s * 1000;
    oks_recon_result r;
    oks_err e;
    round_stats st = {0, 0, 0, 0};
    int rc = oks_recon_session(fd, role, x->t, &o, &r, &e);
    close(fd);
    if (rc)
        oks_warn("recon with %s: %s", label, e.msg);
    else if (r.nfetch)
        rc = fetch_and_add(x, peer_ip, r.peer_http_port, &r, &st, &e);
    if (rc == 0 && catch_up(x, &e))
        oks_warn("change log: %s", e.msg);
    write_stats(x, label, &st, &r, rc);
    oks_recon_result_release(&r);
}

static int listen_on(int port, oks_err *e)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (ls < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "socket: %s", strerror(errno));
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 16)) {
        int err = errno;
        close(ls);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "recon port %d: %s", port, strerror(err));
    }
    return ls;
}

static int is_partner_ip(const oks_sync_conf *c, const char *ip)
{
    for (int i = 0; i < c->n_partners; i++) {
        const char *colon = strrchr(c->partners[i], ':');
        size_t l = colon ? (size_t)(colon - c->partners[i]) : strlen(c->partners[i]);
        if (strlen(ip) == l && memcmp(ip, c->partners[i], l) == 0)
            return 1;
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t next_gossip(const oks_sync_conf *c)
{
    uint32_t r;
    gcry_create_nonce(&r, sizeof r);
    /* interval +-10 % */
    int64_t base = (int64_t)c->gossip_seconds * 1000;
    return now_ms() + base * 9 / 10 + (int64_t)(r % (uint32_t)(base / 5 + 1));
}

int oks_sync_run(const oks_sync_conf *c, oks_err *e)
{
    ctx x;
    int rc = ctx_open(&x, c, e);
    if (rc)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int ls = c->recon_port ? listen_on(c->recon_port, e) : -1;
    if (c->recon_port && ls < 0) {
        ctx_close(&x);
        return ls;
    }
    if (catch_up(&x, e))
        oks_warn("change log: %s", e->msg);
    oks_info("oks-sync: tree %zu hashes, recon port %d, %d partners, gossip %d s",
             oks_ptree_count(x.t), c->recon_port, c->n_partners, c->gossip_seconds);
    int64_t gossip_at = c->gossip_seconds > 0 && c->n_partners ? next_gossip(c) : -1;
    int64_t catch_at = now_ms() + 1000;
    while (!stop_flag) {
        int64_t wait = 1000, now = now_ms();
        if (gossip_at >= 0 && gossip_at - now < wait)
            wait = gossip_at - now > 0 ? gossip_at - now : 0;
        struct pollfd p = {ls, POLLIN, 0};
        int pr = ls >= 0 ? poll(&p, 1, (int)wait) : poll(NULL, 0, (int)wait);
        if (pr > 0 && (p.revents & POLLIN)) {
            struct sockaddr_in peer;
            socklen_t pl = sizeof peer;
            int fd = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
            if (fd >= 0) {
                char ip[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
                if (!is_partner_ip(c, ip)) {
                    oks_warn("recon connection from %s refused: not a partner", ip);
                    close(fd);
                } else {
                    if (catch_up(&x, e))
                        oks_warn("change log: %s", e->msg);
                    session(&x, fd, OKS_RECON_REQUESTER, ip, ip);
                }
            }
        }
        now = now_ms();
        if (gossip_at >= 0 && now >= gossip_at) {
            uint32_t r;
            gcry_create_nonce(&r, sizeof r);
            const char *partner = c->partners[r % (uint32_t)c->n_partners];
            if (catch_up(&x, e))
                oks_warn("change log: %s", e->msg);
            oks_err ce;
            int fd = oks_sync_connect(partner, 30000, &ce);
            if (fd < 0) {
                oks_warn("gossip with %s: %s", partner, ce.msg);
            } else {
                char host[64];
                const char *colon = strrchr(partner, ':');
                snprintf(host, sizeof host, "%.*s", (int)(colon - partner), partner);
                session(&x, fd, OKS_RECON_RESPONDER, host, partner);
            }
            gossip_at = next_gossip(c);
        }
        if (now >= catch_at) {
            if (catch_up(&x, e))
                oks_warn("change log: %s", e->msg);
            catch_at = now_ms() + 1000;
        }
    }
    if (ls >= 0)
        close(ls);
    oks_info("oks-sync: stopping, tree %zu hashes", oks_ptree_count(x.t));
    ctx_close(&x);
    return 0;
}

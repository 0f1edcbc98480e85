/*
 * sync/fetch: pipelined hashquery fetch + router add (see fetch.h). Bodies received wait in a
 * short queue (at most add_parallel of them) until an Add slot is free; no new hashquery starts
 * while that queue is full, so memory stays bounded by (http_parallel + 2 * add_parallel)
 * answers of at most max_bytes each.
 */
#include "sync/fetch.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/pgp.h"
#include "sync/metrics.h"
#include "sync/peer.h"

#define MAX_PAR OKS_SYNC_FETCH_MAX_PAR

typedef struct hq {
    int fd;               /* -1: slot free */
    int sending;
    oks_buf req, resp;
    size_t off;
    int64_t started, deadline;
} hq;

typedef struct body {
    oks_buf b;
    ProtobufCBinaryData *keys;
    size_t nk;
    int tries;            /* Add attempts so far */
} body;

typedef struct addq {
    uint64_t id;          /* 0: slot free */
    body bd;
    int64_t started, deadline;
} addq;

static void body_free(body *b)
{
    oks_buf_release(&b->b);
    free(b->keys);
    memset(b, 0, sizeof *b);
}

/* splits a hashquery body (BE32 count, then BE32 length + key each) into key slices */
static int body_split(body *b, oks_err *e)
{
    if (b->b.len < 4)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "hashquery answer too short");
    uint32_t cnt = oks_be32(b->b.data);
    size_t off = 4;
    if (cnt > (b->b.len - 4) / 4)
        return oks_err_set(e, OKS_E_PROTO, 0, "hashquery answer: count %u too large", cnt);
    b->keys = oks_xcalloc(cnt ? cnt : 1, sizeof *b->keys);
    for (uint32_t k = 0; k < cnt; k++) {
        if (b->b.len - off < 4 || b->b.len - off - 4 < oks_be32(b->b.data + off))
            return oks_err_set(e, OKS_E_PROTO, off, "hashquery answer truncated");
        uint32_t kl = oks_be32(b->b.data + off);
        b->keys[b->nk].data = b->b.data + off + 4;
        b->keys[b->nk].len = kl;
        b->nk++;
        off += 4 + kl;
    }
    return 0;
}

static int hq_start(hq *q, const char *host, int port, const uint8_t (*h)[16], size_t n,
                    int timeout_ms, oks_err *e)
{
    char hp[96];
    snprintf(hp, sizeof hp, "%s:%d", host, port);
    memset(q, 0, sizeof *q);
    q->fd = -1;
    int fd = oks_sync_connect_start(hp, e); /* the connection completes while we poll */
    if (fd < 0)
        return fd;
    if (oks_sync_hashquery_request(&q->req, h, n)) {
        close(fd);
        oks_buf_release(&q->req);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    }
    q->fd = fd;
    q->sending = 1;
    q->started = oks_now_ms();
    q->deadline = q->started + timeout_ms;
    return 0;
}

static void hq_close(hq *q)
{
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    oks_buf_release(&q->req);
    oks_buf_release(&q->resp);
}

/* progresses one connection; 1 = answer complete (moved into *out), 0 = more to do */
static int hq_step(hq *q, size_t max_bytes, body *out, oks_err *e)
{
    if (q->sending) {
        ssize_t w = send(q->fd, q->req.data + q->off, q->req.len - q->off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (w < 0)
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "hashquery: send: %s",
                               strerror(errno));
        q->off += (size_t)w;
        if (q->off == q->req.len)
            q->sending = 0;
        return 0;
    }
    for (;;) {
        if (oks_buf_reserve(&q->resp, 65536))
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        ssize_t r = recv(q->fd, q->resp.data + q->resp.len, 65536, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (r < 0)
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "hashquery: recv: %s",
                               strerror(errno));
        if (r == 0)
            break;
        q->resp.len += (size_t)r;
        oks_sync_metrics_received((size_t)r);
        if (q->resp.len > max_bytes)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                               "hashquery answer larger than %zu bytes (use a smaller batch)",
                               max_bytes);
    }
    memset(out, 0, sizeof *out);
    int rc = oks_sync_http_body(q->resp.data, q->resp.len, &out->b, e);
    if (rc == 0)
        rc = body_split(out, e);
    if (rc) {
        body_free(out);
        return rc;
    }
    return 1;
}

static int add_send(oks_client *cl, addq *a, uint64_t id, int timeout_ms, oks_err *e)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = a->bd.keys;
    add.n_keys = a->bd.nk;
    add.origin = OKS__ORIGIN__ORIGIN_RECON;
    int rc = oks_client_send(cl, id, &q, e);
    if (rc == 0) {
        a->id = id;
        a->started = oks_now_ms();
        a->deadline = a->started + timeout_ms;
    }
    return rc;
}

/* a key stored under another hash than the one it came with (or rejected): ignore that hash */
static void add_done(addq *a, const Oks__Response *r, const oks_sync_fetch_opts *o,
                     oks_sync_fetch_stats *st)
{
    for (size_t k = 0; k < r->n_results; k++) {
        const Oks__AddResult *ar = r->results[k];
        if (ar->outcome != OKS__OUTCOME__OUTCOME_REJECTED)
            st->added++;
        if (ar->index >= a->bd.nk)
            continue;
        oks_pgp_key *key = NULL;
        oks_err ke;
        uint8_t h[16];
        const ProtobufCBinaryData *kd = &a->bd.keys[ar->index];
        if (oks_pgp_key_parse(kd->data, kd->len, NULL, OKS_PGP_TRUSTED, &key, &ke) != 0)
            continue;
        oks_pgp_key_sks_hash(key, h);
        oks_pgp_key_free(key);
        if (ar->outcome != OKS__OUTCOME__OUTCOME_REJECTED && ar->new_hash.len == 16 &&
            memcmp(ar->new_hash.data, h, 16) == 0)
            continue;
        if (o->ignore)
            o->ignore(o->arg, h);
    }
}

/* an Add that failed (router error or no answer): the body goes back to the queue for another
 * try while it has tries left (adding is idempotent: a key stored meanwhile comes back
 * "unchanged"), else its keys count as failed. Either way the number of Adds in flight halves
 * (*cur), as the shards are slower than we send. */
static void add_failed(addq *a, body *ready, size_t *nready, int *cur, int *fails,
                       oks_sync_fetch_stats *st, const char *why)
{
    *cur = *cur > 1 ? *cur / 2 : 1;
    (*fails)++;
    if (a->bd.tries < OKS_SYNC_ADD_TRIES) {
        oks_warn("add of %zu fetched keys failed (%s); trying again, %d add(s) in flight", a->bd.nk,
                 why, *cur);
        ready[(*nready)++] = a->bd;
        memset(&a->bd, 0, sizeof a->bd);
    } else {
        oks_warn("add of %zu fetched keys failed %d times (%s); left for a later round",
                 a->bd.nk, a->bd.tries, why);
        st->failed += a->bd.nk;
        body_free(&a->bd);
    }
    a->id = 0;
}

struct oks_sync_fetch {
    oks_client *cl;
    char host[64];
    int port;
    uint8_t (*h)[16];
    size_t n, next;           /* hashes; the first not yet asked for */
    oks_sync_fetch_opts o;
    int hp, ap, cur, fails;   /* parallelism; Adds allowed in flight now; failures in a row */
    hq q[MAX_PAR];
    addq a[MAX_PAR];
    body ready[2 * MAX_PAR];
    size_t nready;
    int nq, na, rc, peer_failed, over;
    uint64_t ids;
    int64_t deadline;         /* of the whole fetch, 0: none */
    oks_sync_fetch_stats st;
    oks_err e;
};

oks_sync_fetch *oks_sync_fetch_new(oks_client *cl, const char *host, int port,
                                   const uint8_t (*h)[16], size_t n,
                                   const oks_sync_fetch_opts *o)
{
    oks_sync_fetch *f = oks_xcalloc(1, sizeof *f);
    f->cl = cl;
    snprintf(f->host, sizeof f->host, "%s", host);
    f->port = port;
    f->h = oks_xmalloc(n ? n * 16 : 1);
    memcpy(f->h, h, n * 16);
    f->n = n;
    f->o = *o;
    f->hp = o->http_parallel < 1 ? 1 : o->http_parallel > MAX_PAR ? MAX_PAR : o->http_parallel;
    f->ap = o->add_parallel < 1 ? 1 : o->add_parallel > MAX_PAR ? MAX_PAR : o->add_parallel;
    f->cur = f->ap;
    if (!f->o.batch)
        f->o.batch = 100;
    if (!f->o.max_bytes)
        f->o.max_bytes = (size_t)64 << 20;
    f->ids = o->id_base;
    f->deadline = o->deadline_ms > 0 ? (int64_t)oks_now_ms() + o->deadline_ms : 0;
    for (int i = 0; i < MAX_PAR; i++)
        f->q[i].fd = -1;
    oks_err_clear(&f->e);
    return f;
}

void oks_sync_fetch_free(oks_sync_fetch *f)
{
    if (!f)
        return;
    for (int i = 0; i < MAX_PAR; i++) {
        hq_close(&f->q[i]);
        if (f->a[i].id)
            body_free(&f->a[i].bd);
    }
    while (f->nready)
        body_free(&f->ready[--f->nready]);
    free(f->h);
    free(f);
}

int oks_sync_fetch_pollfds(const oks_sync_fetch *f, struct pollfd *p)
{
    int k = 0;
    for (int i = 0; i < f->hp; i++)
        if (f->q[i].fd >= 0)
            p[k++] = (struct pollfd){f->q[i].fd, f->q[i].sending ? POLLOUT : POLLIN, 0};
    return k;
}

int64_t oks_sync_fetch_deadline(const oks_sync_fetch *f)
{
    int64_t d = f->deadline ? f->deadline : INT64_MAX;
    for (int i = 0; i < f->hp; i++)
        if (f->q[i].fd >= 0 && f->q[i].deadline < d)
            d = f->q[i].deadline;
    for (int i = 0; i < f->ap; i++)
        if (f->a[i].id && f->a[i].deadline < d)
            d = f->a[i].deadline;
    return d;
}

/* the first error is the one reported; from_peer: the peer's side caused it */
static void fail(oks_sync_fetch *f, const oks_err *e, int from_peer)
{
    if (f->rc)
        return;
    f->rc = e->code ? e->code : OKS_E_IO;
    f->e = *e;
    f->peer_failed = from_peer;
}

int oks_sync_fetch_reply(oks_sync_fetch *f, uint64_t id, const Oks__Response *resp)
{
    int i;
    for (i = 0; i < f->ap && (!f->a[i].id || f->a[i].id != id); i++)
        ;
    if (i == f->ap)
        return id > f->o.id_base && id <= f->ids; /* a late reply to an Add given up on */
    f->st.add_ms += (int64_t)oks_now_ms() - f->a[i].started;
    f->na--;
    if (resp->status == OKS__STATUS__STATUS_OK) {
        add_done(&f->a[i], resp, &f->o, &f->st);
        body_free(&f->a[i].bd);
        f->a[i].id = 0;
        f->fails = 0;
        if (f->cur < f->ap)
            f->cur++;
    } else
        add_failed(&f->a[i], f->ready, &f->nready, &f->cur, &f->fails, &f->st, resp->error);
    return 1;
}

/* HTTP events, then the time limits */
static void step_io(oks_sync_fetch *f, const struct pollfd *p, int n)
{
    int64_t now = (int64_t)oks_now_ms();
    for (int k = 0; k < n; k++) {
        if (!p[k].revents)
            continue;
        int i;
        for (i = 0; i < f->hp && f->q[i].fd != p[k].fd; i++)
            ;
        if (i == f->hp)
            continue;
        hq *x = &f->q[i];
        body got;
        oks_err he;
        int r = hq_step(x, f->o.max_bytes, &got, &he);
        if (r == 0)
            continue;
        f->st.fetch_ms += now - x->started;
        hq_close(x);
        f->nq--;
        if (r == 1 && f->rc == 0) {
            f->st.fetched += got.nk;
            f->ready[f->nready++] = got;
        } else if (r == 1)
            body_free(&got);
        else
            fail(f, &he, 1);
    }
    int past = f->deadline && now >= f->deadline;
    for (int i = 0; i < f->hp; i++) {
        if (f->q[i].fd >= 0 && (now >= f->q[i].deadline || past)) {
            hq_close(&f->q[i]);
            f->nq--;
            oks_err te;
            if (past)
                oks_err_set(&te, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                            "fetch from %s:%d: not done in %d ms (%zu of %zu hashes asked for)",
                            f->host, f->port, f->o.deadline_ms, f->next, f->n);
            else
                oks_err_set(&te, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                            "hashquery to %s:%d: no whole answer in %d ms", f->host, f->port,
                            f->o.http_timeout_ms);
            fail(f, &te, 1);
        }
    }
    if (past && f->rc == 0 && f->next < f->n) {
        oks_err te;
        oks_err_set(&te, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                    "fetch from %s:%d: not done in %d ms (%zu of %zu hashes asked for)", f->host,
                    f->port, f->o.deadline_ms, f->next, f->n);
        fail(f, &te, 1);
    }
    for (int i = 0; i < f->ap; i++) {
        if (f->a[i].id && now >= f->a[i].deadline) {
            f->na--;
            add_failed(&f->a[i], f->ready, &f->nready, &f->cur, &f->fails, &f->st,
                       "no answer in time");
        }
    }
    if (f->fails >= OKS_SYNC_ADD_GIVE_UP && f->rc == 0) {
        oks_err ae;
        oks_err_set(&ae, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                    "router: %d adds in a row failed; giving up this round", f->fails);
        fail(f, &ae, 0);
    }
}

int oks_sync_fetch_step(oks_sync_fetch *f, const struct pollfd *p, int n)
{
    if (f->over)
        return 1;
    step_io(f, p, n);
    oks_err e;
    /* start hashqueries while there is room for their answers */
    for (int i = 0; f->rc == 0 && i < f->hp && f->next < f->n &&
                    f->nready + (size_t)f->nq < (size_t)f->ap;
         i++) {
        if (f->q[i].fd >= 0)
            continue;
        size_t b = f->n - f->next < f->o.batch ? f->n - f->next : f->o.batch;
        if (hq_start(&f->q[i], f->host, f->port, f->h + f->next, b, f->o.http_timeout_ms, &e))
            fail(f, &e, 1);
        else {
            f->next += b;
            f->nq++;
        }
    }
    /* hand ready answers to free add slots (at most cur in flight) */
    for (int i = 0; f->rc == 0 && i < f->ap && f->nready && f->na < f->cur; i++) {
        if (f->a[i].id)
            continue;
        f->a[i].bd = f->ready[--f->nready];
        f->a[i].bd.tries++;
        if (f->a[i].bd.nk == 0) {
            body_free(&f->a[i].bd);
            continue;
        }
        if (add_send(f->cl, &f->a[i], ++f->ids, f->o.add_timeout_ms, &e)) {
            body_free(&f->a[i].bd);
            fail(f, &e, 0);
        } else
            f->na++;
    }
    if (f->nq || f->na || (f->rc == 0 && (f->next < f->n || f->nready)))
        return 0;
    while (f->nready) {
        f->st.failed += f->ready[f->nready - 1].nk;
        body_free(&f->ready[--f->nready]);
    }
    if (f->rc == 0 && f->st.failed) {
        oks_err_set(&e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                    "%zu fetched keys could not be added (router or shards too slow)",
                    f->st.failed);
        fail(f, &e, 0);
    }
    f->over = 1;
    return 1;
}

int oks_sync_fetch_result(const oks_sync_fetch *f, oks_sync_fetch_stats *st, oks_err *e)
{
    *st = f->st;
    if (f->rc && e)
        *e = f->e;
    return f->rc;
}

int oks_sync_fetch_peer_failed(const oks_sync_fetch *f)
{
    return f->rc && f->peer_failed;
}

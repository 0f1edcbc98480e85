/*
 * sync/fetch: pipelined hashquery fetch + router add (see fetch.h). Bodies received wait in a
 * short queue (at most add_parallel of them) until an Add slot is free; no new hashquery starts
 * while that queue is full, so memory stays bounded by (http_parallel + 2 * add_parallel)
 * answers.
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
#include "sync/peer.h"

#define MAX_PAR 32
#define ID_BASE (UINT64_C(1) << 62) /* away from oks_client_call's ids */

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
    int fd = oks_sync_connect(hp, timeout_ms, e);
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

/* a recon connection while we fetch: closed at once, as SKS does while fetches are pending, so
 * the peer does not wait for its config timeout */
static void drop_incoming(int ls)
{
    int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        oks_info("recon connection dropped: fetching from a peer");
        close(fd);
    }
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

int oks_sync_fetch_add(oks_client *cl, const char *host, int port, const uint8_t (*h)[16],
                       size_t n, const oks_sync_fetch_opts *o, oks_sync_fetch_stats *st,
                       oks_err *e)
{
    int hp = o->http_parallel < 1 ? 1 : o->http_parallel > MAX_PAR ? MAX_PAR : o->http_parallel;
    int ap = o->add_parallel < 1 ? 1 : o->add_parallel > MAX_PAR ? MAX_PAR : o->add_parallel;
    size_t batch = o->batch ? o->batch : 100;
    hq q[MAX_PAR];
    addq a[MAX_PAR];
    body ready[2 * MAX_PAR];
    size_t nready = 0, next = 0;
    int nq = 0, na = 0, rc = 0, cur = ap, fails = 0;
    uint64_t ids = ID_BASE + (oks_now_ms() << 16);
    for (int i = 0; i < MAX_PAR; i++) {
        q[i].fd = -1;
        a[i].id = 0;
    }
    for (;;) {
        /* start hashqueries while there is room for their answers */
        for (int i = 0; rc == 0 && i < hp && next < n && nready + (size_t)nq < (size_t)ap; i++) {
            if (q[i].fd >= 0)
                continue;
            size_t b = n - next < batch ? n - next : batch;
            rc = hq_start(&q[i], host, port, h + next, b, o->http_timeout_ms, e);
            if (rc == 0) {
                next += b;
                nq++;
            }
        }
        /* hand ready answers to free add slots (at most cur in flight) */
        for (int i = 0; rc == 0 && i < ap && nready && na < cur; i++) {
            if (a[i].id)
                continue;
            a[i].bd = ready[--nready];
            a[i].bd.tries++;
            if (a[i].bd.nk == 0) {
                body_free(&a[i].bd);
                continue;
            }
            rc = add_send(cl, &a[i], ++ids, o->add_timeout_ms, e);
            if (rc)
                body_free(&a[i].bd);
            else
                na++;
        }
        if (nq == 0 && na == 0 && (rc || (next == n && nready == 0)))
            break;
        zmq_pollitem_t it[MAX_PAR + 2];
        int map[MAX_PAR + 2], ni = 0;
        int64_t now = oks_now_ms(), wait = 1000;
        if (na) {
            it[ni] = (zmq_pollitem_t){oks_client_socket(cl), 0, ZMQ_POLLIN, 0};
            map[ni++] = -1;
        }
        if (o->listen_fd >= 0) {
            it[ni] = (zmq_pollitem_t){NULL, o->listen_fd, ZMQ_POLLIN, 0};
            map[ni++] = -2;
        }
        for (int i = 0; i < hp; i++) {
            if (q[i].fd < 0)
                continue;
            it[ni] = (zmq_pollitem_t){NULL, q[i].fd, q[i].sending ? ZMQ_POLLOUT : ZMQ_POLLIN, 0};
            map[ni++] = i;
            if (q[i].deadline - now < wait)
                wait = q[i].deadline - now;
        }
        for (int i = 0; i < ap; i++)
            if (a[i].id && a[i].deadline - now < wait)
                wait = a[i].deadline - now;
        int pr = zmq_poll(it, ni, wait > 0 ? (long)wait : 0);
        if (pr < 0 && errno != EINTR && rc == 0)
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "poll: %s", zmq_strerror(errno));
        now = oks_now_ms();
        for (int k = 0; pr > 0 && k < ni; k++) {
            if (map[k] == -2 && it[k].revents)
                drop_incoming(o->listen_fd);
            if (map[k] < 0 || !it[k].revents)
                continue;
            hq *x = &q[map[k]];
            body got;
            oks_err he;
            int r = hq_step(x, o->max_bytes ? o->max_bytes : (size_t)64 << 20, &got, &he);
            if (r == 0)
                continue;
            st->fetch_ms += now - x->started;
            hq_close(x);
            nq--;
            if (r == 1 && rc == 0) {
                st->fetched += got.nk;
                ready[nready++] = got;
            } else if (r == 1)
                body_free(&got);
            else if (rc == 0) {
                rc = r;
                if (e)
                    *e = he;
            }
        }
        /* router replies */
        while (na) {
            uint64_t id;
            Oks__Response *resp = NULL;
            oks_err re;
            if (oks_client_recv(cl, &id, &resp, 0, &re) != 0)
                break;
            int i;
            for (i = 0; i < ap && a[i].id != id; i++)
                ;
            if (i == ap) {
                oks__response__free_unpacked(resp, NULL);
                continue; /* a late reply to an Add we gave up on */
            }
            st->add_ms += now - a[i].started;
            na--;
            if (resp->status == OKS__STATUS__STATUS_OK) {
                add_done(&a[i], resp, o, st);
                body_free(&a[i].bd);
                a[i].id = 0;
                fails = 0;
                if (cur < ap)
                    cur++;
            } else
                add_failed(&a[i], ready, &nready, &cur, &fails, st, resp->error);
            oks__response__free_unpacked(resp, NULL);
        }
        /* deadlines */
        for (int i = 0; i < hp; i++) {
            if (q[i].fd >= 0 && now >= q[i].deadline) {
                hq_close(&q[i]);
                nq--;
                if (rc == 0)
                    rc = oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                                     "hashquery to %s:%d: no answer in %d ms", host, port,
                                     o->http_timeout_ms);
            }
        }
        for (int i = 0; i < ap; i++) {
            if (a[i].id && now >= a[i].deadline) {
                na--;
                add_failed(&a[i], ready, &nready, &cur, &fails, st, "no answer in time");
            }
        }
        if (fails >= OKS_SYNC_ADD_GIVE_UP && rc == 0)
            rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                             "router: %d adds in a row failed; giving up this round", fails);
    }
    while (nready) {
        st->failed += ready[nready - 1].nk;
        body_free(&ready[--nready]);
    }
    if (rc == 0 && st->failed)
        rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                         "%zu fetched keys could not be added (router or shards too slow)",
                         st->failed);
    return rc;
}

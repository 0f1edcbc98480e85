/* Shard server threads: the I/O loop on the ROUTER socket and the worker pools (readers,
 * searchers, verifiers, the admin worker); starts and stops the writer (see shard.h).
 * Word searches have workers of their own, fewer than the readers, so however many costly
 * searches arrive, point lookups keep readers free; and a worker answers a job whose deadline
 * passed while it was queued with STATUS_TIMEOUT instead of working on it, so a backlog left by
 * a burst is gone in moments instead of being worked through long after its clients left. */
#include "lib/clock.h"
#include "lib/xalloc.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/reclaim.h"
#include "shard/replica.h"
#include "lib/zsec.h"
#include "shard/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLY_ENDPOINT_FMT "inproc://shard-replies-%p"
#define SELF_ENDPOINT_FMT "inproc://shard-self-%p"
/* Messages taken from one socket per poll round, so neither direction starves the other. */
#define OKS_SHARD_IO_BATCH 256

typedef struct worker {
    oks_shard *sh;
    oks_jobq *q;
    char reply_ep[64];
    pthread_t tid;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    void *push = zmq_socket(w->sh->zctx, ZMQ_PUSH);
    oks_zsock_defaults(push, 0);
    zmq_connect(push, w->reply_ep);
    /* between two jobs the worker holds no map: offline while it waits for the next one */
    oks_reclaim_reader *rd = oks_reclaim_reader_new(w->sh->gc);
    for (;;) {
        oks_reclaim_offline(rd);
        oks_job *j = oks_jobq_pop(w->q);
        oks_reclaim_online(rd);
        if (!j)
            break;
        Oks__Response r = OKS__RESPONSE__INIT;
        r.version = OKS_PROTO_VERSION;
        if (oks_job_expired(j, oks_now_ms(), w->sh->conf->router_deadline_ms)) {
            atomic_fetch_add(&w->sh->expired, 1);
            r.status = OKS__STATUS__STATUS_TIMEOUT;
            r.error = oks_xstrdup("the request's deadline passed while it waited in the shard's queue");
            oks_shard_reply(push, j, &r);
            oks_job_free(j);
            continue;
        }
        switch (j->req->op_case) {
        case OKS__REQUEST__OP_ADD:
            oks_shard_add_async(w->sh, j, push); /* answered by the writer (or in there) */
            continue;
        case OKS__REQUEST__OP_DELETE:
        case OKS__REQUEST__OP_UNDELETE:
            oks_shard_handle_tomb_op(w->sh, j->req, &r);
            oks_shard_audit(j->req, &r);
            break;
        case OKS__REQUEST__OP_REPAIR:
            if (oks_shard_check_route(w->sh, j->req, &r)) {
                atomic_store(&w->sh->repair_now, 1);
                r.error = oks_xstrdup(oks_cluster_replicated(w->sh->conf)
                                          ? "repair started: see the shard's log"
                                          : "nothing to repair: [cluster] replicas = 1");
            }
            oks_shard_audit(j->req, &r);
            break;
        case OKS__REQUEST__OP_BACKUP:
            oks_shard_handle_backup(w->sh, j->req, &r);
            if (!j->req->backup->id || r.status != OKS__STATUS__STATUS_OK)
                oks_shard_audit(j->req, &r); /* its first page, and any failure */
            break;
        default:
            oks_shard_handle_read(w->sh, j->req, &r);
        }
        oks_shard_reply(push, j, &r);
        oks_job_free(j);
    }
    oks_reclaim_reader_free(rd);
    zmq_close(push);
    return NULL;
}

/* Answers an envelope directly from the I/O thread (errors found before queueing). */
static void reply_error(void *router, oks_zframes *m, Oks__Status st, const char *msg)
{
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_error(st, msg, &b);
    oks_slice parts[3] = {oks_zframe(m, 0), oks_zframe(m, 1), oks_slice_of(b.data, b.len)};
    oks_zsend(router, parts, 3, ZMQ_DONTWAIT);
    oks_buf_release(&b);
}

static void dispatch(oks_shard *sh, void *router, oks_zframes *m)
{
    /* [conn][rid][payload] from a router's DEALER */
    if (m->n != 3 || m->truncated) {
        if (m->n >= 2)
            reply_error(router, m, OKS__STATUS__STATUS_BAD_REQUEST,
                        "expected frames [request id][request]");
        oks_warn("dropped a message of %zu frames", m->n);
        return;
    }
    oks_slice body = oks_zframe(m, 2);
    oks_err e;
    Oks__Request *req;
    if (oks_proto_request_unpack(body.ptr, body.len, sh->conf->max_message_bytes, &req, &e)) {
        reply_error(router, m, oks_proto_status_of(e.code), e.msg);
        oks_info("bad request: %s", e.msg);
        return;
    }
    if (oks_shard_authorize(&m->f[2], req, e.msg, sizeof e.msg)) {
        reply_error(router, m, OKS__STATUS__STATUS_FORBIDDEN, e.msg);
        oks__request__free_unpacked(req, NULL);
        return;
    }
    oks_job *j = oks_xcalloc(1, sizeof *j);
    zmq_msg_init(&j->conn);
    zmq_msg_init(&j->rid);
    zmq_msg_move(&j->conn, &m->f[0]);
    zmq_msg_move(&j->rid, &m->f[1]);
    j->req = req;
    j->received_ms = oks_now_ms();
    j->local = !zmq_msg_gets(&m->f[2], "Peer-Address");
    switch (req->op_case) {
    case OKS__REQUEST__OP_ADD:
        oks_jobq_push(&sh->adders, j);
        break;
    case OKS__REQUEST__OP_DELETE:
    case OKS__REQUEST__OP_UNDELETE:
    case OKS__REQUEST__OP_REPAIR:
    case OKS__REQUEST__OP_BACKUP:
        oks_jobq_push(&sh->admin, j);
        break;
    case OKS__REQUEST__OP_SEARCH:
        if (req->search && req->search->kind != OKS__SEARCH_KIND__SEARCH_EMAIL &&
            req->search->kind != OKS__SEARCH_KIND__SEARCH_EXACT &&
            req->search->kind != OKS__SEARCH_KIND__SEARCH_DANE) {
            oks_jobq_push(&sh->searchers, j); /* word searches: the costly ones */
            break;
        }
        /* an e-mail, DANE or exact user ID search is one index scan: a reader's */
        __attribute__((fallthrough));
    default:
        oks_jobq_push(&sh->readers, j);
    }
}

int oks_shard_run(oks_shard *sh, atomic_int *stop, oks_err *e)
{
    if (!sh->gc)
        sh->gc = oks_reclaim_new(); /* before any thread that reads the map starts */
    oks_reclaim_reader *io = oks_reclaim_reader_new(sh->gc); /* me stays valid until a round */
    const oks_shard_conf *me = &sh->conf->shards[sh->self];
    void *router = zmq_socket(sh->zctx, ZMQ_ROUTER);
    void *pull = zmq_socket(sh->zctx, ZMQ_PULL);
    oks_zsock_defaults(router, sh->conf->max_message_bytes);
    oks_zsock_defaults(pull, 0);
    char ep[64];
    snprintf(ep, sizeof ep, REPLY_ENDPOINT_FMT, (void *)sh);
    snprintf(sh->reply_ep, sizeof sh->reply_ep, "%s", ep);
    const char *bind = me->bind[0] ? me->bind : me->endpoint;
    snprintf(sh->self_ep, sizeof sh->self_ep, SELF_ENDPOINT_FMT, (void *)sh);
    if (oks_zsec_server(router, NULL) != 0 || zmq_bind(pull, ep) != 0 ||
        zmq_bind(router, sh->self_ep) != 0 ||
        zmq_bind(router, bind) != 0) {
        int r = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot bind %s: %s%s", bind,
                            zmq_strerror(errno),
                            errno == ENODEV ? " (a host name cannot be bound: set bind in the "
                                              "shard's section, e.g. tcp://0.0.0.0:PORT)"
                                            : "");
        oks_reclaim_reader_free(io);
        zmq_close(router);
        zmq_close(pull);
        return r;
    }
    oks_jobq_init(&sh->readers);
    oks_jobq_init(&sh->searchers);
    oks_jobq_init(&sh->adders);
    oks_jobq_init(&sh->admin);
    pthread_mutex_init(&sh->wlock, NULL);
    pthread_cond_init(&sh->wcond, NULL);
    pthread_cond_init(&sh->wdone, NULL);
    unsigned nw = sh->n_workers, ns = nw > 2 ? nw / 2 : 1;
    size_t total = 2 * (size_t)nw + ns + 1;
    worker *ws = oks_xcalloc(total, sizeof *ws);
    pthread_t writer;
    int rc = 0;
    size_t started = 0;
    if (!ws) {
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "shard worker table");
    } else if ((errno = pthread_create(&writer, NULL, oks_shard_writer, sh)) != 0) {
        rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start the writer: %s",
                         strerror(errno));
        free(ws);
        ws = NULL;
    }
    for (size_t i = 0; ws && i < total; i++) {
        ws[i].sh = sh;
        ws[i].q = i < nw                  ? &sh->readers
                  : i < 2 * (size_t)nw      ? &sh->adders
                  : i < 2 * (size_t)nw + ns ? &sh->searchers
                                            : &sh->admin;
        snprintf(ws[i].reply_ep, sizeof ws[i].reply_ep, "%s", ep);
        if ((errno = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i])) != 0) {
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start worker %zu: %s", i,
                             strerror(errno));
            break;
        }
        started++;
    }
    if (!ws) {
        oks_reclaim_reader_free(io);
        zmq_close(router);
        zmq_close(pull);
        return rc;
    }
    pthread_t follower;
    bool following = false;
    atomic_store(&sh->rstop, 0);
    /* set before the first request is read; the follower sets the exact count */
    atomic_store(&sh->rebuilding, sh->conf->replicas > 1 && oks_store_was_empty(sh->store));
    if (rc == 0 && oks_cluster_replicated(sh->conf)) {
        if ((errno = pthread_create(&follower, NULL, oks_shard_replica_main, sh)) != 0)
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start the replica follower: %s",
                             strerror(errno));
        else
            following = true;
    }
    pthread_t purger;
    bool purging = false;
    if (rc == 0) {
        if ((errno = pthread_create(&purger, NULL, oks_shard_purge_main, sh)) != 0)
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start the purge: %s",
                             strerror(errno));
        else
            purging = true;
    }
    if (rc == 0) {
        oks_info("shard %s serving slots %s on %s with %u readers, %u searchers and %u "
                 "verifiers", me->name, me->slot_spec, me->endpoint, nw, ns, nw);
        oks_notify_ready();
    }
    while (rc == 0 && !*stop) {
        /* between rounds the I/O thread holds no map; it frees the replaced ones no thread
         * holds any more (at most a round late: the poll waits 200 ms at most) */
        oks_reclaim_quiescent(io);
        oks_reclaim_poll(sh->gc);
        zmq_pollitem_t items[2] = {{router, 0, ZMQ_POLLIN, 0}, {pull, 0, ZMQ_POLLIN, 0}};
        int r = zmq_poll(items, 2, 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        oks_zframes m;
        for (int i = 0; i < OKS_SHARD_IO_BATCH && items[1].revents &&
                        oks_zrecv(pull, &m, ZMQ_DONTWAIT) == 0;
             i++) {
            /* a reply: forward [conn][rid][body] to the router socket as is */
            for (size_t k = 0; k < m.n; k++)
                zmq_msg_send(&m.f[k], router, (k + 1 < m.n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
            oks_zframes_close(&m);
        }
        for (int i = 0; i < OKS_SHARD_IO_BATCH && items[0].revents &&
                        oks_zrecv(router, &m, ZMQ_DONTWAIT) == 0;
             i++) {
            dispatch(sh, router, &m);
            oks_zframes_close(&m);
        }
    }
    oks_info("shard %s stopping", sh->conf->shards[sh->self].name); /* me: maybe freed */
    oks_notify_stopping();
    atomic_store(&sh->rstop, 1);
    if (following)
        pthread_join(follower, NULL); /* before the queues stop: its own adds are answered */
    if (purging)
        pthread_join(purger, NULL);
    oks_jobq_stop(&sh->readers);
    oks_jobq_stop(&sh->searchers);
    oks_jobq_stop(&sh->adders);
    oks_jobq_stop(&sh->admin);
    for (size_t i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    pthread_mutex_lock(&sh->wlock);
    sh->wstop = true;
    pthread_cond_signal(&sh->wcond);
    pthread_mutex_unlock(&sh->wlock);
    pthread_join(writer, NULL);
    oks_shard_backup_release_all(sh);
    oks_reclaim_reader_free(io);
    free(ws);
    oks_jobq_drain(&sh->readers);
    oks_jobq_drain(&sh->searchers);
    oks_jobq_drain(&sh->adders);
    oks_jobq_drain(&sh->admin);
    zmq_close(router);
    zmq_close(pull);
    return rc;
}

/* Shard server threads: the I/O loop on the ROUTER socket, reader and verifier pools, the
 * writer (see shard.h). */
#include "lib/log.h"
#include "shard/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLY_ENDPOINT_FMT "inproc://shard-replies-%p"

void oks_jobq_init(oks_jobq *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
}

void oks_jobq_push(oks_jobq *q, oks_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

oks_job *oks_jobq_pop(oks_jobq *q)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->stop)
        pthread_cond_wait(&q->cond, &q->lock);
    oks_job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
    }
    pthread_mutex_unlock(&q->lock);
    return j;
}

void oks_jobq_stop(oks_jobq *q)
{
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void oks_job_free(oks_job *j)
{
    if (!j)
        return;
    zmq_msg_close(&j->conn);
    zmq_msg_close(&j->rid);
    if (j->req)
        oks__request__free_unpacked(j->req, NULL);
    free(j);
}

typedef struct worker {
    oks_shard *sh;
    oks_jobq *q;
    char reply_ep[64];
    pthread_t tid;
} worker;

static void free_body(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Hands the packed reply to ZeroMQ without copying it (body is left empty). */
static void send_reply(void *push, zmq_msg_t *conn, zmq_msg_t *rid, oks_buf *body)
{
    size_t len;
    uint8_t *data = oks_buf_detach(body, &len);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, data, len, free_body, NULL) != 0) {
        free(data);
        return;
    }
    zmq_msg_send(conn, push, ZMQ_SNDMORE);
    zmq_msg_send(rid, push, ZMQ_SNDMORE);
    if (zmq_msg_send(&m, push, 0) < 0)
        zmq_msg_close(&m);
}

void oks_shard_reply(void *push, oks_job *j, Oks__Response *r)
{
    oks_buf out = OKS_BUF_INIT;
    if (oks_proto_pack_response(r, &out) == 0)
        send_reply(push, &j->conn, &j->rid, &out);
    oks_buf_release(&out);
    oks_shard_response_release(r);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    void *push = zmq_socket(w->sh->zctx, ZMQ_PUSH);
    oks_zsock_defaults(push, 0);
    zmq_connect(push, w->reply_ep);
    oks_job *j;
    while ((j = oks_jobq_pop(w->q))) {
        Oks__Response r = OKS__RESPONSE__INIT;
        r.version = OKS_PROTO_VERSION;
        switch (j->req->op_case) {
        case OKS__REQUEST__OP_ADD:
            oks_shard_add_async(w->sh, j, push); /* answered by the writer (or in there) */
            continue;
        case OKS__REQUEST__OP_DELETE:
            oks_shard_handle_delete(w->sh, j->req, &r);
            break;
        default:
            oks_shard_handle_read(w->sh, j->req, &r);
        }
        oks_shard_reply(push, j, &r);
        oks_job_free(j);
    }
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
    oks_job *j = calloc(1, sizeof *j);
    if (!j) {
        oks__request__free_unpacked(req, NULL);
        reply_error(router, m, OKS__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    zmq_msg_init(&j->conn);
    zmq_msg_init(&j->rid);
    zmq_msg_move(&j->conn, &m->f[0]);
    zmq_msg_move(&j->rid, &m->f[1]);
    j->req = req;
    switch (req->op_case) {
    case OKS__REQUEST__OP_ADD:
        oks_jobq_push(&sh->adders, j);
        break;
    case OKS__REQUEST__OP_DELETE:
        oks_jobq_push(&sh->admin, j);
        break;
    default:
        oks_jobq_push(&sh->readers, j);
    }
}

int oks_shard_run(oks_shard *sh, atomic_int *stop, oks_err *e)
{
    const oks_shard_conf *me = &sh->conf->shards[sh->self];
    void *router = zmq_socket(sh->zctx, ZMQ_ROUTER);
    void *pull = zmq_socket(sh->zctx, ZMQ_PULL);
    oks_zsock_defaults(router, sh->conf->max_message_bytes);
    oks_zsock_defaults(pull, 0);
    char ep[64];
    snprintf(ep, sizeof ep, REPLY_ENDPOINT_FMT, (void *)sh);
    snprintf(sh->reply_ep, sizeof sh->reply_ep, "%s", ep);
    if (zmq_bind(pull, ep) != 0 || zmq_bind(router, me->endpoint) != 0) {
        int r = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot bind %s: %s", me->endpoint,
                            zmq_strerror(errno));
        zmq_close(router);
        zmq_close(pull);
        return r;
    }
    oks_jobq_init(&sh->readers);
    oks_jobq_init(&sh->adders);
    oks_jobq_init(&sh->admin);
    pthread_mutex_init(&sh->wlock, NULL);
    pthread_cond_init(&sh->wcond, NULL);
    pthread_cond_init(&sh->wdone, NULL);
    unsigned nw = sh->n_workers;
    size_t total = 2 * (size_t)nw + 1;
    worker *ws = calloc(total, sizeof *ws);
    pthread_t writer;
    pthread_create(&writer, NULL, oks_shard_writer, sh);
    for (size_t i = 0; i < total; i++) {
        ws[i].sh = sh;
        ws[i].q = i < nw ? &sh->readers : i < 2 * (size_t)nw ? &sh->adders : &sh->admin;
        snprintf(ws[i].reply_ep, sizeof ws[i].reply_ep, "%s", ep);
        pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
    }
    oks_info("shard %s serving slots %s on %s with %u readers and %u verifiers", me->name,
             me->slot_spec, me->endpoint, nw, nw);
    while (!*stop) {
        zmq_pollitem_t items[2] = {{router, 0, ZMQ_POLLIN, 0}, {pull, 0, ZMQ_POLLIN, 0}};
        int r = zmq_poll(items, 2, 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        oks_zframes m;
        for (int i = 0; i < 256 && items[1].revents && oks_zrecv(pull, &m, ZMQ_DONTWAIT) == 0; i++) {
            /* a reply: forward [conn][rid][body] to the router socket as is */
            for (size_t k = 0; k < m.n; k++)
                zmq_msg_send(&m.f[k], router, (k + 1 < m.n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
            oks_zframes_close(&m);
        }
        for (int i = 0; i < 256 && items[0].revents && oks_zrecv(router, &m, ZMQ_DONTWAIT) == 0; i++) {
            dispatch(sh, router, &m);
            oks_zframes_close(&m);
        }
    }
    oks_info("shard %s stopping", me->name);
    oks_jobq_stop(&sh->readers);
    oks_jobq_stop(&sh->adders);
    oks_jobq_stop(&sh->admin);
    for (size_t i = 0; i < total; i++)
        pthread_join(ws[i].tid, NULL);
    pthread_mutex_lock(&sh->wlock);
    sh->wstop = true;
    pthread_cond_signal(&sh->wcond);
    pthread_mutex_unlock(&sh->wlock);
    pthread_join(writer, NULL);
    free(ws);
    for (oks_jobq *q = &sh->readers; q; q = q == &sh->readers ? &sh->adders : q == &sh->adders ? &sh->admin : NULL) {
        oks_job *j;
        while ((j = q->head)) {
            q->head = j->next;
            oks_job_free(j);
        }
    }
    zmq_close(router);
    zmq_close(pull);
    return 0;
}

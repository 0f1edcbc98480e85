/* Jobs, job queues and the reply path of the shard (see job.h). */
#include "shard/job.h"

#include "shard/metrics.h"
#include "shard/shard.h"

#include <stdlib.h>
#include <string.h>

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

void oks_jobq_drain(oks_jobq *q)
{
    pthread_mutex_lock(&q->lock);
    oks_job *j = q->head;
    q->head = q->tail = NULL;
    q->len = 0;
    pthread_mutex_unlock(&q->lock);
    while (j) {
        oks_job *next = j->next;
        oks_job_free(j);
        j = next;
    }
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
    oks_shard_metrics_reply(j, r);
    if (oks_proto_pack_response(r, &out) == 0)
        send_reply(push, &j->conn, &j->rid, &out);
    oks_buf_release(&out);
    oks_shard_response_release(r);
}

bool oks_job_expired(const oks_job *j, uint64_t now_ms, unsigned default_ms)
{
    uint32_t d = j->req->deadline_ms ? j->req->deadline_ms : default_ms;
    return d && now_ms > j->received_ms && now_ms - j->received_ms > d;
}

/*
 * The shard's requests in flight between its threads: a job is one request with the envelope
 * its reply needs; job queues hand jobs from the I/O thread to the worker pools; the reply path
 * packs a response and pushes it, with the job's envelope, to the I/O thread's reply socket.
 * Shared by the worker pools (shard/server.c) and the writer (shard/writer.c), which both
 * answer jobs.
 */
#ifndef OKS_SHARD_JOB_H
#define OKS_SHARD_JOB_H

#include "lib/proto.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oks_job {
    struct oks_job *next;
    zmq_msg_t conn, rid; /* envelope, echoed in the reply */
    Oks__Request *req;   /* owned */
    uint64_t received_ms; /* when the I/O thread took it (monotonic clock) */
    bool local;          /* from the shard's own replica follower (inproc, no peer address) */
} oks_job;

typedef struct oks_jobq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    oks_job *head, *tail;
    size_t len;
    bool stop;
} oks_jobq;

void oks_jobq_init(oks_jobq *q);
void oks_jobq_push(oks_jobq *q, oks_job *j);
/* Blocks until a job or stop; NULL on stop. */
oks_job *oks_jobq_pop(oks_jobq *q);
void oks_jobq_stop(oks_jobq *q);
/* Frees the jobs still queued (after every consumer has stopped). */
void oks_jobq_drain(oks_jobq *q);
void oks_job_free(oks_job *j);
/* True when the job's deadline (the request's deadline_ms, counted from when the shard received
 * it) has passed at now_ms: whoever sent it has stopped waiting, so it is answered
 * STATUS_TIMEOUT without being worked on. A request without a deadline (deadline_ms 0: "the
 * receiver's default") has default_ms, the router's deadline, which is how long the router
 * waits for it; default_ms 0: it never expires. */
bool oks_job_expired(const oks_job *j, uint64_t now_ms, unsigned default_ms);

/* Packs resp, sends [conn][rid][body] of job over push (the I/O thread's reply socket) and
 * releases resp with oks_shard_response_release. The job stays the caller's. */
void oks_shard_reply(void *push, oks_job *job, Oks__Response *resp);

#endif

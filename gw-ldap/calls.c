/*
 * The gateway's one router client. Workers (server.c) block on their own back-sock request;
 * their cluster lookups go through one thread that owns a single oks_client and pipelines every
 * lookup in flight over it (ids of its own, replies in any order), as oks-gw-http's event loops
 * do: the router and the shards then see one connection carrying many requests, not one socket
 * per worker with one request each. A worker hands its request over under the mutex (which
 * guards the queue only), wakes the thread through an eventfd and waits on its call's own
 * semaphore; the thread completes the call with the reply, an error of the client, or a timeout
 * at the call's deadline, and posts it. Completing takes no lock: once handed over a call is the
 * thread's until posted, so workers never contend for the mutex while they wait. Once
 * the thread ends (stop, or a failed poll) it fails what it holds and takes no more calls.
 */
#include "gw-ldap/gwl.h"

#include "lib/log.h"
#include "lib/proto.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PENDING 1024 /* lookups in flight; more than [ldap] threads (at most 256) ever make */

typedef struct call {
    const Oks__Request *rq;
    unsigned wait_ms;
    Oks__Response *resp;
    int rc;
    oks_err e;
    uint64_t id, deadline_ms;
    sem_t done; /* posted once rc, resp and e are set */
    struct call *next;
} call;

struct gwl_calls {
    oks_client *client;
    pthread_mutex_t mu;
    call *head, *tail; /* handed over, not sent yet */
    call *pending[PENDING];
    int efd;
    uint64_t next_id;
    atomic_int stop;
    bool dead; /* under mu: the thread takes no more calls */
    pthread_t thread;
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Hands the call back to its worker (the thread's last touch of it). */
static void complete(call *c, int rc, Oks__Response *r, const oks_err *e)
{
    c->rc = rc;
    c->resp = r;
    if (e)
        c->e = *e;
    sem_post(&c->done);
}

static void fail(call *c, int code, const char *why)
{
    oks_err e;
    oks_err_set(&e, code, OKS_NO_OFFSET, "%s", why);
    complete(c, code, NULL, &e);
}

static void send_queued(gwl_calls *cs)
{
    pthread_mutex_lock(&cs->mu);
    call *q = cs->head;
    cs->head = cs->tail = NULL;
    pthread_mutex_unlock(&cs->mu);
    while (q) {
        call *c = q;
        q = q->next;
        uint64_t id = ++cs->next_id;
        call **slot = &cs->pending[id % PENDING];
        if (*slot) {
            fail(c, OKS_E_LIMIT, "too many lookups in flight");
            continue;
        }
        oks_err e;
        c->id = id;
        c->deadline_ms = now_ms() + c->wait_ms;
        if (oks_client_send(cs->client, id, c->rq, &e)) {
            complete(c, e.code, NULL, &e);
            continue;
        }
        *slot = c;
    }
}

static void drain(gwl_calls *cs)
{
    for (int k = 0; k < 1024; k++) {
        uint64_t id;
        Oks__Response *r;
        oks_err e;
        int rc = oks_client_recv(cs->client, &id, &r, 0, &e);
        if (rc == OKS_E_TIMEOUT && !r)
            return;
        call **slot = &cs->pending[id % PENDING];
        call *c = *slot;
        if (c && c->id == id) {
            *slot = NULL;
            complete(c, rc, rc ? NULL : r, &e);
            if (!rc)
                r = NULL; /* the worker owns it now */
        }
        if (r)
            oks__response__free_unpacked(r, NULL);
    }
}

static void expire(gwl_calls *cs, uint64_t now, bool all)
{
    for (size_t i = 0; i < PENDING; i++) {
        call *c = cs->pending[i];
        if (c && (all || c->deadline_ms <= now)) {
            cs->pending[i] = NULL;
            fail(c, all ? OKS_E_UNAVAILABLE : OKS_E_TIMEOUT,
                 all ? "the gateway is stopping" : "no answer from the routers in time");
        }
    }
}

static void *calls_main(void *arg)
{
    gwl_calls *cs = arg;
    uint64_t last = now_ms();
    while (!atomic_load(&cs->stop)) {
        /* the client's own poll runs only when a reply waits or every 50 ms (it also resends
         * requests whose router went away): each poll costs libzmq a getpid() per socket */
        zmq_pollitem_t it[2] = {{oks_client_socket(cs->client), 0, ZMQ_POLLIN, 0},
                                {NULL, cs->efd, ZMQ_POLLIN, 0}};
        int r = zmq_poll(it, 2, 50);
        if (r < 0 && errno != EINTR) {
            oks_error("router client: poll: %s", zmq_strerror(errno));
            break;
        }
        if (r > 0 && (it[1].revents & ZMQ_POLLIN)) {
            uint64_t v;
            if (read(cs->efd, &v, sizeof v) < 0 && errno != EAGAIN)
                oks_warn("eventfd: %s", strerror(errno));
        }
        send_queued(cs);
        uint64_t now = now_ms();
        bool tick = now - last >= 50;
        if ((r > 0 && (it[0].revents & ZMQ_POLLIN)) || tick)
            drain(cs);
        if (tick) {
            expire(cs, now, false);
            last = now;
        }
    }
    /* from here on gwl_call refuses new calls; the ones handed over and in flight fail */
    pthread_mutex_lock(&cs->mu);
    cs->dead = true;
    call *q = cs->head;
    cs->head = cs->tail = NULL;
    pthread_mutex_unlock(&cs->mu);
    while (q) {
        call *c = q;
        q = q->next;
        fail(c, OKS_E_UNAVAILABLE, "the gateway's router client stopped");
    }
    expire(cs, 0, true);
    return NULL;
}

gwl_calls *gwl_calls_start(void *zctx, const oks_cluster *cluster, oks_err *e)
{
    gwl_calls *cs = oks_xcalloc(1, sizeof *cs);
    cs->client = oks_client_new_routers(zctx, cluster, e);
    if (!cs->client) {
        free(cs);
        return NULL;
    }
    cs->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&cs->mu, NULL);
    if (cs->efd < 0 || pthread_create(&cs->thread, NULL, calls_main, cs)) {
        oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "router client thread: %s", strerror(errno));
        if (cs->efd >= 0)
            close(cs->efd);
        oks_client_free(cs->client);
        free(cs);
        return NULL;
    }
    return cs;
}

void gwl_calls_stop(gwl_calls *cs)
{
    if (!cs)
        return;
    atomic_store(&cs->stop, 1);
    uint64_t one = 1;
    if (write(cs->efd, &one, sizeof one) < 0)
        oks_warn("eventfd: %s", strerror(errno));
    pthread_join(cs->thread, NULL);
    oks_client_free(cs->client);
    close(cs->efd);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}

int gwl_call(gwl_calls *cs, const Oks__Request *rq, unsigned wait_ms, Oks__Response **resp,
             oks_err *e)
{
    call c = {.rq = rq, .wait_ms = wait_ms};
    *resp = NULL;
    pthread_mutex_lock(&cs->mu);
    if (cs->dead) {
        pthread_mutex_unlock(&cs->mu);
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                           "the gateway's router client stopped");
    }
    /* a queue that was not empty has a wake-up on its way (its first call's) that the thread
     * has not acted on yet: it takes the whole queue then, this call included */
    bool wake = cs->head == NULL;
    if (cs->tail)
        cs->tail->next = &c;
    else
        cs->head = &c;
    cs->tail = &c;
    sem_init(&c.done, 0, 0); /* before the unlock: the thread may complete the call at once */
    pthread_mutex_unlock(&cs->mu);
    uint64_t one = 1;
    if (wake && write(cs->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        oks_warn("eventfd: %s", strerror(errno));
    while (sem_wait(&c.done) && errno == EINTR)
        ;
    sem_destroy(&c.done);
    if (c.rc) {
        if (e)
            *e = c.e;
        return c.rc;
    }
    /* as oks_client_call_checked with OKS_CALL_ANSWERS: only "could not serve" is an error */
    if (oks_proto_status_unavailable(c.resp->status)) {
        int rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "router: %s: %s",
                             oks_proto_status_name(c.resp->status), c.resp->error);
        oks__response__free_unpacked(c.resp, NULL);
        return rc;
    }
    *resp = c.resp;
    return 0;
}

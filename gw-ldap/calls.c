/*
 * The gateway's one router client, driven by the event loop (server.c): every operation's
 * lookups are pipelined over one oks_client (ids of its own, replies in any order), as
 * oks-gw-http's and oks-gw-dns's event loops do, so the router and the shards see one
 * connection carrying many requests. A call is a (task, index) pair in a table by id; its reply,
 * an error of the client, or a timeout at its deadline is handed to the task
 * (gwl_task_answered), and the loop is told once a task's last call is in. No locks and no
 * thread hand-offs: only the loop's thread touches any of it.
 */
#include "gw-ldap/gwl.h"

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/proto.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <zmq.h>

typedef struct call {
    gwl_task *t; /* NULL: free */
    size_t i;
    uint64_t id, deadline_ms;
} call;

struct gwl_calls {
    oks_client *client;
    call *pending; /* by id % n_pending */
    size_t n_pending, in_flight;
    uint64_t next_id;
    bool sent; /* a send since ZMQ_EVENTS was last read (a send may take the wake-up) */
};

gwl_calls *gwl_calls_new(void *zctx, const oks_cluster *cluster, size_t max_pending, oks_err *e)
{
    gwl_calls *cs = oks_xcalloc(1, sizeof *cs);
    cs->client = oks_client_new_routers(zctx, cluster, e);
    if (!cs->client) {
        free(cs);
        return NULL;
    }
    /* twice the most calls ever in flight: a slot is free again long before its id comes round */
    cs->n_pending = 64;
    while (cs->n_pending < 2 * max_pending)
        cs->n_pending *= 2;
    cs->pending = oks_xcalloc(cs->n_pending, sizeof *cs->pending);
    return cs;
}

void gwl_calls_free(gwl_calls *cs)
{
    if (!cs)
        return;
    oks_client_free(cs->client);
    free(cs->pending);
    free(cs);
}

int gwl_calls_fd(gwl_calls *cs)
{
    int fd = -1;
    size_t sz = sizeof fd;
    if (zmq_getsockopt(oks_client_socket(cs->client), ZMQ_FD, &fd, &sz) != 0)
        return -1;
    return fd;
}

/* Whether a reply waits (ZMQ_EVENTS processes libzmq's pending commands: afterwards the
 * descriptor wakes the loop for the next reply). */
static bool replies_in(gwl_calls *cs)
{
    int ev = 0;
    size_t sz = sizeof ev;
    return zmq_getsockopt(oks_client_socket(cs->client), ZMQ_EVENTS, &ev, &sz) == 0 &&
           (ev & ZMQ_POLLIN);
}

/* Hands the answer to the call's task; done() when it was the task's last. */
static void complete(gwl_calls *cs, call *c, int rc, Oks__Response *r, const oks_err *e,
                     void (*done)(gwl_task *, void *), void *arg)
{
    gwl_task *t = c->t;
    size_t i = c->i;
    c->t = NULL;
    cs->in_flight--;
    gwl_task_answered(t, i, rc, r, e);
    if (t->n_done == t->n_calls && done)
        done(t, arg);
}

void gwl_calls_send(gwl_calls *cs, gwl_task *t, size_t i, const Oks__Request *rq,
                    unsigned wait_ms)
{
    oks_err e;
    uint64_t id = ++cs->next_id;
    call *c = &cs->pending[id % cs->n_pending];
    if (c->t) {
        oks_err_set(&e, OKS_E_LIMIT, OKS_NO_OFFSET, "too many lookups in flight");
        gwl_task_answered(t, i, e.code, NULL, &e);
        return;
    }
    if (oks_client_send(cs->client, id, rq, &e)) {
        gwl_task_answered(t, i, e.code, NULL, &e);
        return;
    }
    *c = (call){.t = t, .i = i, .id = id, .deadline_ms = oks_now_ms() + wait_ms};
    cs->in_flight++;
    cs->sent = true;
}

/* Takes the replies that are in (receives that do not wait: no system call while libzmq has
 * them queued). Returns true when it stopped with more perhaps waiting. */
static bool drain(gwl_calls *cs, void (*done)(gwl_task *, void *), void *arg)
{
    for (int k = 0; k < 1024; k++) {
        uint64_t id;
        Oks__Response *r;
        oks_err e;
        int rc = oks_client_recv(cs->client, &id, &r, 0, &e);
        if (rc == OKS_E_TIMEOUT && !r)
            return false;
        call *c = &cs->pending[id % cs->n_pending];
        if (c->t && c->id == id) {
            complete(cs, c, rc, rc ? NULL : r, &e, done, arg);
            if (!rc)
                r = NULL; /* the task owns it now */
        }
        if (r)
            oks__response__free_unpacked(r, NULL);
    }
    return true;
}

bool gwl_calls_pump(gwl_calls *cs, bool woken, bool tick, void (*done)(gwl_task *, void *),
                    void *arg)
{
    bool look = woken || cs->sent;
    cs->sent = false;
    bool more = false;
    if (tick || (look && replies_in(cs)))
        more = drain(cs, done, arg);
    if (!tick || !cs->in_flight)
        return more;
    uint64_t now = oks_now_ms();
    for (size_t k = 0; k < cs->n_pending; k++) {
        call *c = &cs->pending[k];
        if (c->t && c->deadline_ms <= now) {
            oks_err e;
            oks_err_set(&e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "no answer from the routers in time");
            complete(cs, c, e.code, NULL, &e, done, arg);
        }
    }
    return more;
}

void gwl_calls_cancel(gwl_calls *cs, const gwl_task *t)
{
    for (size_t k = 0; k < cs->n_pending && cs->in_flight; k++)
        if (cs->pending[k].t == t) {
            cs->pending[k].t = NULL;
            cs->in_flight--;
        }
}

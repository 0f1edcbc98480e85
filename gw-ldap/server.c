/*
 * The back-sock socket and the event loop. slapd opens one connection per operation, writes the
 * request ended by a blank line, reads the answer until the gateway closes. One thread polls
 * the listening socket, the connections and the router client's DEALER (poll(2), the DEALER
 * through its ZMQ_FD as oks-gw-http's loops do): a connection is read until its request is whole (at most [ldap] max_request bytes),
 * its operation becomes a task (serve.c) whose cluster calls go out through the router client
 * (calls.c), and once they are answered the answer is written and the connection closed. No
 * call blocks, and nothing is handed between threads: the request, the lookups and the answer
 * of an operation are all handled where its bytes arrive. At most [ldap] threads operations are
 * in progress at once (more connections wait in the listen backlog, slapd's threads with them);
 * each wait for slapd (its request, room for the answer) lasts at most [ldap] time_limit.
 */
#include "gw-ldap/gwl.h"

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/proto.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

int gwl_load_conf(gwl *g, const char *socket_override, oks_err *e)
{
    const oks_conf_ldap *l = &g->cluster.ldap;
    gwl_conf *c = &g->conf;
    memset(c, 0, sizeof *c);
    const char *sock = socket_override ? socket_override : l->socket;
    if (strlen(sock) >= sizeof c->socket || !*sock)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "[ldap] socket: empty or longer than %zu",
                           sizeof c->socket - 1);
    snprintf(c->socket, sizeof c->socket, "%s", sock);
    if (!*l->base_dn || !strchr(l->base_dn, '=') || strpbrk(l->base_dn, "\n\r\\\"#"))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "[ldap] base_dn: a DN such as o=OpenKeyServer or dc=example,dc=org "
                           "expected (no quotes, backslashes or '#')");
    snprintf(c->base_dn, sizeof c->base_dn, "%s", l->base_dn);
    snprintf(c->keyspace, sizeof c->keyspace, "%s,%s", GWL_KEYSPACE_RDN, l->base_dn);
    snprintf(c->serverinfo, sizeof c->serverinfo, "%s,%s", GWL_SERVERINFO_RDN, l->base_dn);
    c->allow_upload = l->allow_upload;
    c->threads = l->threads ? l->threads : 1; /* operations in progress at once */
    c->max_filter_terms = l->max_filter_terms;
    c->max_lookups = l->max_lookups;
    c->min_word_length = l->min_word_length;
    c->size_limit = l->size_limit;
    c->time_limit = l->time_limit;
    c->deadline_ms = l->deadline_ms ? l->deadline_ms : g->cluster.router_deadline_ms + 500;
    c->max_request = l->max_request;
    return 0;
}

/* The listening socket: a stale socket file is replaced, anything else at the path is not. */
static int listen_unix(const char *path, oks_err *e)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s exists and is not a socket", path);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128)) {
        int err = errno;
        close(fd);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: %s", path, strerror(err));
    }
    /* the keys are public and uploads are checked like any other: slapd's user (often another
     * account than the gateway's) may connect */
    chmod(path, 0666);
    return fd;
}

#define KEEP_BUF (256 * 1024) /* a connection's buffers past this are freed after use */
#define TICK_MS 50             /* deadlines are checked this often */

typedef enum cstate { C_FREE, C_READ, C_WAIT, C_WRITE } cstate;

typedef struct conn {
    int fd;
    cstate st;
    bool started;         /* t holds a task */
    oks_buf in, out;      /* the request, its answer (kept from one connection to the next) */
    size_t scanned, sent; /* in: searched for the end so far; out: written so far */
    uint64_t start_us;    /* for the metrics */
    uint64_t until_ms;    /* the current wait for slapd ends then */
    int op, code;         /* for the metrics, when no task says */
    gwl_task t;
} conn;

typedef struct srv {
    gwl *g;
    int lfd;
    conn *conns;
    size_t n_conns, n_open;
    uint64_t wait_ms; /* [ldap] time_limit */
} srv;

static void conn_close(srv *s, conn *c)
{
    int op = c->op, code = c->code;
    if (c->started) {
        if (c->st == C_WAIT)
            gwl_calls_cancel(s->g->calls, &c->t);
        op = c->t.op;
        code = c->t.code;
        gwl_task_release(&c->t);
        c->started = false;
    }
    close(c->fd);
    c->fd = -1;
    c->st = C_FREE;
    if (c->in.cap > KEEP_BUF)
        oks_buf_release(&c->in);
    if (c->out.cap > KEEP_BUF)
        oks_buf_release(&c->out);
    s->n_open--;
    gwl_metrics_end(op, code, c->start_us);
}

/* Writes what the socket takes; closes the connection once all is written or slapd went away
 * (a timeout or an abandon: nothing to tell anyone). */
static void conn_write(srv *s, conn *c)
{
    while (c->sent < c->out.len) {
        ssize_t k = write(c->fd, c->out.data + c->sent, c->out.len - c->sent);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->st = C_WRITE;
            c->until_ms = oks_now_ms() + s->wait_ms;
            return;
        }
        if (k <= 0)
            break;
        c->sent += (size_t)k;
    }
    conn_close(s, c);
}

/* The task's calls are all answered (or it needed none): the answer goes out. */
static void conn_answer(srv *s, conn *c)
{
    gwl_task_finish(&c->t);
    if (!c->t.answer) {
        conn_close(s, c);
        return;
    }
    c->st = C_WRITE; /* its calls are all in: none to cancel */
    c->sent = 0;
    conn_write(s, c);
}

static void task_done(gwl_task *t, void *arg)
{
    conn_answer(arg, t->owner);
}

/* Whether in holds a whole request: "\n\n" (or "\n\r\n") anywhere, or an empty first line. */
static bool request_whole(conn *c)
{
    const oks_buf *in = &c->in;
    for (size_t i = c->scanned; i < in->len; i++) {
        if (in->data[i] != '\n')
            continue;
        size_t j = i + 1;
        if (j < in->len && in->data[j] == '\r')
            j++;
        if (j < in->len && in->data[j] == '\n')
            return true;
    }
    c->scanned = in->len > 2 ? in->len - 2 : 0;
    return false;
}

/* Reads what slapd sent; once the request is whole its task starts. */
static void conn_read(srv *s, conn *c)
{
    const gwl_conf *cf = &s->g->conf;
    for (;;) {
        if (request_whole(c))
            break;
        if (c->in.len >= cf->max_request) {
            c->out.len = 0;
            gwl_ldif_result(&c->out, GWL_LDAP_ADMINLIMIT, NULL,
                            "request larger than [ldap] max_request");
            atomic_fetch_add(&s->g->stats.errors, 1);
            c->code = GWL_LDAP_ADMINLIMIT;
            c->sent = 0;
            conn_write(s, c);
            return;
        }
        size_t want = cf->max_request - c->in.len < 16384 ? cf->max_request - c->in.len : 16384;
        oks_buf_reserve(&c->in, want);
        ssize_t n = read(c->fd, c->in.data + c->in.len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->until_ms = oks_now_ms() + s->wait_ms;
            return;
        }
        if (n < 0 || (n == 0 && c->in.len == 0)) {
            conn_close(s, c); /* slapd closed before a whole request came */
            return;
        }
        if (n == 0)
            break; /* slapd closed its side: what came is all */
        c->in.len += (size_t)n;
    }
    c->out.len = 0;
    c->started = true;
    c->t.owner = c;
    gwl_task_start(&c->t, s->g, (const char *)c->in.data, c->in.len, &c->out);
    if (c->t.n_done == c->t.n_calls)
        conn_answer(s, c);
    else
        c->st = C_WAIT;
}

static void accept_all(srv *s)
{
    while (s->n_open < s->n_conns) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                oks_warn("accept: %s", strerror(errno)); /* out of descriptors or the like */
            return;
        }
        conn *c = NULL;
        for (size_t i = 0; i < s->n_conns && !c; i++)
            if (s->conns[i].st == C_FREE)
                c = &s->conns[i];
        s->n_open++;
        c->fd = fd;
        c->st = C_READ;
        c->in.len = c->out.len = 0;
        c->scanned = c->sent = 0;
        c->op = GWL_METRICS_OP_INVALID;
        c->code = GWL_METRICS_NO_ANSWER;
        c->start_us = gwl_metrics_begin();
        conn_read(s, c); /* the request is often there already */
    }
}

/* Closes the connections whose wait for slapd is over. */
static void expire(srv *s, uint64_t now)
{
    for (size_t i = 0; i < s->n_conns; i++) {
        conn *c = &s->conns[i];
        if ((c->st == C_READ || c->st == C_WRITE) && c->until_ms <= now)
            conn_close(s, c);
    }
}

/* poll(2) on the descriptors, the DEALER's among them (ZMQ_FD), instead of zmq_poll, which makes
 * two poll calls (one without waiting first) every time it has to wait. */
static int loop(srv *s)
{
    gwl *g = s->g;
    int zfd = gwl_calls_fd(g->calls);
    if (zfd < 0) {
        oks_error("router client: no descriptor to wait on: %s", zmq_strerror(errno));
        return OKS_E_IO;
    }
    size_t cap = 2 + s->n_conns;
    struct pollfd *it = oks_xcalloc(cap, sizeof *it);
    conn **who = oks_xcalloc(cap, sizeof *who);
    uint64_t last = oks_now_ms();
    bool woken = true;
    while (!atomic_load(&g->stop)) {
        uint64_t now = oks_now_ms();
        bool tick = now - last >= TICK_MS;
        bool more = gwl_calls_pump(g->calls, woken, tick, task_done, s);
        if (tick) {
            expire(s, now);
            last = now;
        }
        size_t n = 0;
        it[n++] = (struct pollfd){.fd = zfd, .events = POLLIN};
        if (s->n_open < s->n_conns)
            it[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        size_t first = n;
        for (size_t i = 0; i < s->n_conns; i++) {
            conn *c = &s->conns[i];
            if (c->st == C_READ || c->st == C_WRITE) {
                who[n] = c;
                it[n++] = (struct pollfd){.fd = c->fd,
                                          .events = c->st == C_READ ? POLLIN : POLLOUT};
            }
        }
        int r = poll(it, (nfds_t)n, more ? 0 : TICK_MS);
        if (r < 0 && errno != EINTR) {
            oks_error("poll: %s", strerror(errno));
            break;
        }
        woken = r > 0 && it[0].revents;
        for (size_t k = first; r > 0 && k < n; k++) {
            conn *c = who[k];
            if (!it[k].revents || c->st == C_FREE)
                continue;
            if (c->st == C_READ)
                conn_read(s, c);
            else if (c->st == C_WRITE)
                conn_write(s, c);
        }
        if (r > 0 && first == 2 && (it[1].revents & POLLIN))
            accept_all(s);
    }
    free(it);
    free(who);
    return 0;
}

int gwl_run(gwl *g, oks_err *e)
{
    srv s = {.g = g, .n_conns = g->conf.threads, .wait_ms = (uint64_t)g->conf.time_limit * 1000};
    g->calls = gwl_calls_new(g->zctx, &g->cluster, s.n_conns * g->conf.max_lookups, e);
    if (!g->calls)
        return e ? e->code : OKS_E_UNAVAILABLE;
    s.lfd = listen_unix(g->conf.socket, e);
    if (s.lfd < 0) {
        gwl_calls_free(g->calls);
        g->calls = NULL;
        return s.lfd;
    }
    s.conns = oks_xcalloc(s.n_conns, sizeof *s.conns);
    for (size_t i = 0; i < s.n_conns; i++)
        s.conns[i] = (conn){.fd = -1, .in = OKS_BUF_INIT, .out = OKS_BUF_INIT};
    oks_info("serving slapd back-sock requests on %s for %s (%zu at once, uploads %s)",
             g->conf.socket, g->conf.base_dn, s.n_conns, g->conf.allow_upload ? "on" : "off");
    oks_notify_ready();
    int rc = loop(&s);
    for (size_t i = 0; i < s.n_conns; i++) {
        if (s.conns[i].st != C_FREE)
            conn_close(&s, &s.conns[i]);
        oks_buf_release(&s.conns[i].in);
        oks_buf_release(&s.conns[i].out);
    }
    free(s.conns);
    gwl_calls_free(g->calls);
    g->calls = NULL;
    close(s.lfd);
    unlink(g->conf.socket);
    oks_info("%lu requests, %lu searches, %lu entries, %lu uploads, %lu errors",
             atomic_load(&g->stats.requests), atomic_load(&g->stats.searches),
             atomic_load(&g->stats.entries), atomic_load(&g->stats.uploads),
             atomic_load(&g->stats.errors));
    if (rc)
        return oks_err_set(e, rc, OKS_NO_OFFSET, "event loop: poll failed");
    return 0;
}

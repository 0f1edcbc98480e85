/*
 * The back-sock socket and the workers. slapd opens one connection per operation, writes the
 * request ended by a blank line, reads the answer until the gateway closes. Each worker thread
 * accepts on the shared listening socket, reads one request (at most [ldap] max_request bytes;
 * each wait for slapd at most [ldap] time_limit seconds), answers it with lookups through the gateway's one router
 * client (calls.c) and closes. Blocking calls are fine here: a worker serves one request at a
 * time, and [ldap] threads of them run at once; slapd queues the rest in its own threads.
 */
#include "gw-ldap/gwl.h"

#include "lib/log.h"
#include "lib/notify.h"
#include "lib/proto.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
    c->threads = l->threads ? l->threads : 1;
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
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

/* Waits until fd (non-blocking) is ready for events, at most timeout_ms: 0 or OKS_E_TIMEOUT /
 * OKS_E_IO. The connection is non-blocking so that the usual case (the request there, the
 * answer fits the socket buffer) costs no wait and no per-connection timeout setting. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return OKS_E_TIMEOUT;
        if (errno != EINTR)
            return OKS_E_IO;
    }
}

/* Reads one request: up to the first empty line, at most max bytes, each wait at most
 * timeout_ms. 0, or OKS_E_LIMIT / OKS_E_IO / OKS_E_TIMEOUT / OKS_E_TRUNCATED. */
static int read_request(int fd, size_t max, int timeout_ms, oks_buf *in)
{
    char chunk[16384];
    size_t scanned = 0;
    for (;;) {
        /* the end: "\n\n" (or "\n\r\n") anywhere, or an empty first line */
        for (size_t i = scanned; i < in->len; i++) {
            if (in->data[i] != '\n')
                continue;
            size_t j = i + 1;
            if (j < in->len && in->data[j] == '\r')
                j++;
            if (j < in->len && in->data[j] == '\n')
                return 0;
        }
        scanned = in->len > 2 ? in->len - 2 : 0;
        if (in->len >= max)
            return OKS_E_LIMIT;
        size_t want = max - in->len < sizeof chunk ? max - in->len : sizeof chunk;
        ssize_t n = read(fd, chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLIN, timeout_ms);
            if (rc)
                return rc;
            continue;
        }
        if (n < 0)
            return OKS_E_IO;
        if (n == 0)
            return in->len ? 0 : OKS_E_TRUNCATED; /* slapd closed its side: what came is all */
        oks_buf_append(in, chunk, (size_t)n);
    }
}

static void write_all(int fd, const uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, timeout_ms))
                return; /* slapd stopped reading (timeout, abandon) */
            continue;
        }
        if (k <= 0)
            return; /* slapd went away (timeout, abandon): nothing to tell anyone */
        p += k;
        n -= (size_t)k;
    }
}

typedef struct worker_arg {
    gwl *g;
    int lfd;
} worker_arg;

#define KEEP_BUF (256 * 1024)

static void serve_conn(gwl_worker *w, int fd)
{
    const gwl_conf *cf = &w->g->conf;
    uint64_t start = gwl_metrics_begin();
    w->op = GWL_METRICS_OP_INVALID;
    w->code = GWL_METRICS_NO_ANSWER; /* slapd closed before a whole request came */
    int timeout_ms = (int)cf->time_limit * 1000;
    oks_buf *in = &w->in, *out = &w->out;
    in->len = out->len = 0;
    int rc = read_request(fd, cf->max_request, timeout_ms, in);
    if (rc == OKS_E_LIMIT) {
        gwl_ldif_result(out, GWL_LDAP_ADMINLIMIT, NULL,
                        "request larger than [ldap] max_request");
        atomic_fetch_add(&w->g->stats.errors, 1);
        w->code = GWL_LDAP_ADMINLIMIT;
    } else if (rc == 0) {
        gwl_serve(w, (const char *)in->data, in->len, out);
    }
    if (out->len)
        write_all(fd, out->data, out->len, timeout_ms);
    /* the buffers stay for the next request, unless an upload or a large answer grew them */
    if (in->cap > KEEP_BUF)
        oks_buf_release(in);
    if (out->cap > KEEP_BUF)
        oks_buf_release(out);
    close(fd);
    gwl_metrics_end(w->op, w->code, start);
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    gwl_worker w = {.g = wa->g, .in = OKS_BUF_INIT, .out = OKS_BUF_INIT};
    /* a blocking accept wakes one worker per connection; gwl_run shuts the listening socket
     * down to stop them */
    while (!atomic_load(&wa->g->stop)) {
        int fd = accept4(wa->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && !atomic_load(&wa->g->stop))
                usleep(10000); /* out of descriptors or the like: do not spin */
            continue;
        }
        serve_conn(&w, fd);
    }
    oks_buf_release(&w.in);
    oks_buf_release(&w.out);
    return NULL;
}

int gwl_run(gwl *g, oks_err *e)
{
    g->calls = gwl_calls_start(g->zctx, &g->cluster, e);
    if (!g->calls)
        return e ? e->code : OKS_E_UNAVAILABLE;
    int lfd = listen_unix(g->conf.socket, e);
    if (lfd < 0) {
        gwl_calls_stop(g->calls);
        return lfd;
    }
    unsigned n = g->conf.threads;
    pthread_t *t = calloc(n, sizeof *t);
    worker_arg wa = {.g = g, .lfd = lfd};
    unsigned started = 0;
    for (; started < n; started++)
        if (pthread_create(&t[started], NULL, worker_main, &wa))
            break;
    if (started == 0) {
        free(t);
        gwl_calls_stop(g->calls);
        close(lfd);
        unlink(g->conf.socket);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "no worker thread could start");
    }
    oks_info("serving slapd back-sock requests on %s for %s (%u workers, uploads %s)",
             g->conf.socket, g->conf.base_dn, started, g->conf.allow_upload ? "on" : "off");
    oks_notify_ready();
    while (!atomic_load(&g->stop))
        usleep(100000);
    shutdown(lfd, SHUT_RDWR); /* every accept() returns: the workers see the stop flag */
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    gwl_calls_stop(g->calls); /* after the workers: none calls any more */
    g->calls = NULL;
    close(lfd);
    unlink(g->conf.socket);
    oks_info("%lu requests, %lu searches, %lu entries, %lu uploads, %lu errors",
             atomic_load(&g->stats.requests), atomic_load(&g->stats.searches),
             atomic_load(&g->stats.entries), atomic_load(&g->stats.uploads),
             atomic_load(&g->stats.errors));
    return 0;
}

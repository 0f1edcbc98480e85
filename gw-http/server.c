/* The gateway's threads: each with its own listening socket on the shared port (SO_REUSEPORT,
 * so the kernel spreads connections evenly over the threads), one h2o context and one router
 * bridge per thread, path handlers, and the configuration from [http]. */
#include "gw-http/gw.h"

#include "lib/daemon.h"
#include "lib/xalloc.h"

#include "gw-http/hygiene.h"
#include "lib/log.h"
#include "lib/notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_accept(h2o_socket_t *listener, const char *err);
static void on_accept_tls(h2o_socket_t *listener, const char *err);

void gw_on_conn_closed(void *ticket)
{
    gw_conns_release(ticket);
}

static void listeners_read(gw_thread *t, bool on)
{
    h2o_socket_t *ls[2] = {t->listener, t->listener_tls};
    for (int i = 0; i < 2; i++) {
        if (!ls[i])
            continue;
        if (on)
            h2o_socket_read_start(ls[i], ls[i] == t->listener ? on_accept : on_accept_tls);
        else
            h2o_socket_read_stop(ls[i]);
    }
}

static void on_pause_over(h2o_timeout_entry_t *entry)
{
    gw_thread *t = H2O_STRUCT_FROM_MEMBER(gw_thread, pause_entry, entry);
    listeners_read(t, true);
}

/* Out of descriptors, or at the connection cap: the listeners stop reading for a moment instead
 * of being woken again at once by the same pending connection (a busy loop), and the kernel's
 * backlog holds new connections meanwhile. */
static void pause_listeners(gw_thread *t)
{
    if (h2o_timeout_is_linked(&t->pause_entry))
        return;
    listeners_read(t, false);
    h2o_timeout_link(t->ctx.loop, &t->pause, &t->pause_entry);
}

static bool peer_is_proxy(gw *g, h2o_socket_t *sock, struct sockaddr_storage *ss)
{
    char ip[GW_ADDR_TEXT];
    socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)ss);
    return sl && gw_addr_text(ss, ip) && gw_rl_is_proxy(g->conf.trusted_proxies, ip);
}

static void accept_some(gw_thread *t, h2o_socket_t *listener, h2o_accept_ctx_t *actx)
{
    gw *g = t->g;
    for (int i = 0; i < 16; i++) {
        if (!gw_conns_reserve(g->conns)) {
            pause_listeners(t);
            return;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) {
            gw_conns_unreserve(g->conns);
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                atomic_fetch_add(&g->metrics.accept_errors, 1);
                pause_listeners(t);
            }
            return;
        }
        struct sockaddr_storage ss = {0};
        bool proxy = peer_is_proxy(g, sock, &ss);
        gw_conn_ticket *ticket;
        if (gw_conns_admit_reserved(g->conns, (struct sockaddr *)&ss, proxy, &ticket) !=
            GW_ADMIT_OK) {
            h2o_socket_close(sock);
            continue;
        }
        sock->on_close.cb = gw_on_conn_closed;
        sock->on_close.data = ticket;
        h2o_accept(actx, sock);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    gw_thread *t = listener->data;
    if (!err)
        accept_some(t, listener, &t->actx);
}

static void on_accept_tls(h2o_socket_t *listener, const char *err)
{
    gw_thread *t = listener->data;
    if (!err)
        accept_some(t, listener, &t->actx_tls);
}

static void *thread_main(void *arg)
{
    gw_thread *t = arg;
    gw_live_turn(t);
    h2o_context_init(&t->ctx, h2o_evloop_create(), &t->g->h2o);
    t->actx.ctx = &t->ctx;
    t->actx.hosts = t->g->h2o.hosts;
    if (gw_bridge_start(t) != 0) {
        oks_error("cannot connect to the routers");
        t->g->stop = 1;
        return NULL;
    }
    h2o_timeout_init(t->ctx.loop, &t->pause, 100);
    t->pause_entry.cb = on_pause_over;
    t->listener = h2o_evloop_socket_create(t->ctx.loop, t->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    if (t->g->ssl_ctx) {
        t->actx_tls = t->actx;
        t->actx_tls.ssl_ctx = t->g->ssl_ctx;
        t->listener_tls = h2o_evloop_socket_create(t->ctx.loop, t->tls_fd,
                                                   H2O_SOCKET_FLAG_DONT_READ);
        t->listener_tls->data = t;
    }
    listeners_read(t, true);
    do
        gw_live_turn(t); /* SIGHUP's reload (reload.c) */
    while (!t->g->stop && h2o_evloop_run(t->ctx.loop, 200) == 0);
    return NULL;
}

/* Every path's handler runs behind the request hygiene checks (hygiene.h). */
typedef struct gw_handler {
    h2o_handler_t super;
    int (*fn)(h2o_handler_t *, h2o_req_t *);
} gw_handler;

static const char *raw_header_problem(h2o_req_t *req)
{
    /* HTTP/2 frames its messages itself; a request without Content-Length or
     * Transfer-Encoding (no entity: most lookups) has nothing to re-parse */
    if (req->version >= 0x200 || !req->entity.base || !req->conn->callbacks->get_socket)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || !sock->input)
        return NULL;
    return gw_hygiene_headers(sock->input->bytes, sock->input->size);
}

static int on_req_checked(h2o_handler_t *self, h2o_req_t *req)
{
    const char *why = gw_hygiene_target(req->path.base, req->path.len);
    if (!why)
        why = raw_header_problem(req);
    if (why) {
        req->http1_is_persistent = 0; /* the rest of this connection cannot be framed safely */
        gw_error(req, 400, why);
        return 0;
    }
    return ((gw_handler *)self)->fn(self, req);
}

static void path(h2o_hostconf_t *hc, const char *p, int (*fn)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pc = h2o_config_register_path(hc, p, 0);
    gw_handler *h = (gw_handler *)h2o_create_handler(pc, sizeof(gw_handler));
    h->super.on_req = on_req_checked;
    h->fn = fn;
}

/* [http] of the cluster config, checked against lib/conf.c's table when it was loaded, into
 * the gateway's settings; --listen overrides [http] listen. */
int gw_load_conf(gw *g, const char *listen_override, oks_err *e)
{
    gw_conf *c = &g->conf;
    const oks_conf_http *h = &g->cluster.http;
    oks_hostport listen = h->listen;
    oks_err le;
    if (listen_override && oks_hostport_parse(listen_override, &listen, &le))
        return oks_err_set(e, le.code, OKS_NO_OFFSET, "--listen: %s", le.msg);
    size_t lh = strlen(listen.host), th = strlen(h->tls_listen.host);
    if (lh >= sizeof c->listen_host || th >= sizeof c->tls_host)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "[http] listen address too long");
    memcpy(c->listen_host, listen.host, lh + 1);
    c->listen_port = (int)listen.port;
    c->threads = h->threads;
    c->max_body = h->max_body;
    c->max_url = h->max_url;
    c->max_keys_per_upload = h->max_keys_per_upload;
    c->deadline_ms = h->deadline_ms ? h->deadline_ms : g->cluster.router_deadline_ms + 500;
    c->max_results = h->max_results;
    c->rate[GW_RL_LOOKUP] = h->rate_lookup;
    c->rate[GW_RL_UPLOAD] = h->rate_upload;
    c->burst[GW_RL_LOOKUP] = h->burst_lookup;
    c->burst[GW_RL_UPLOAD] = h->burst_upload;
    c->rate[GW_RL_VERIFY] = h->rate_verify;
    c->burst[GW_RL_VERIFY] = h->burst_verify;
    snprintf(c->trusted_proxies, sizeof c->trusted_proxies, "%s", h->trusted_proxies);
    snprintf(c->metrics_allow, sizeof c->metrics_allow, "%s", h->metrics_allow);
    c->max_connections = h->max_connections;
    c->max_connections_per_client = h->max_connections_per_client;
    c->max_inflight_per_client = h->max_inflight_per_client;
    if (h->tls_listen.port) { /* lib/conf.c made sure tls_cert and tls_key are set */
        memcpy(c->tls_host, h->tls_listen.host, th + 1);
        c->tls_port = (int)h->tls_listen.port;
        snprintf(c->tls_cert, sizeof c->tls_cert, "%s", h->tls_cert);
        snprintf(c->tls_key, sizeof c->tls_key, "%s", h->tls_key);
    }
    gw_live *l = gw_live_new(h);
    if (!l)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "cannot load the HTML templates (see the log line above)");
    atomic_store(&g->live, l);
    c->cache_bytes = h->cache_mb << 20;
    c->cache_check_ms = h->cache_check_ms;
    c->cache_max_stale_ms = h->cache_max_stale_ms;
    snprintf(c->sync_state, sizeof c->sync_state, "%s", g->cluster.sync.state);
    snprintf(c->wkd_domains, sizeof c->wkd_domains, "%s", h->wkd_domains);
    return 0;
}

static int listen_on(const char *host, int port, int *out, oks_err *e)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "listen address %s is not IPv4", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        int err = errno;
        close(fd);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot listen on %s:%d: %s", host, port,
                           strerror(err));
    }
    *out = fd;
    return 0;
}

/* hkps: TLS 1.2+ with the configured chain and key; ALPN offers HTTP/2 and HTTP/1.1. */
static int tls_setup(gw *g, oks_err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, g->conf.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, g->conf.tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char msg[256];
        ERR_error_string_n(ERR_get_error(), msg, sizeof msg);
        SSL_CTX_free(ctx);
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "TLS certificate %s / key %s: %s",
                           g->conf.tls_cert, g->conf.tls_key, msg);
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    g->ssl_ctx = ctx;
    return 0;
}

/* One listening socket per thread on the same address: with a single shared socket the thread
 * that wakes first accepts a burst of connections and keeps them, leaving the others idle. */
static int listen_all(gw *g, oks_err *e)
{
    g->threads = oks_xcalloc(g->conf.threads, sizeof *g->threads);
    for (unsigned i = 0; i < g->conf.threads; i++)
        g->threads[i].listen_fd = g->threads[i].tls_fd = -1;
    for (unsigned i = 0; i < g->conf.threads; i++) {
        gw_thread *t = &g->threads[i];
        int r = listen_on(g->conf.listen_host, g->conf.listen_port, &t->listen_fd, e);
        if (!r && g->ssl_ctx)
            r = listen_on(g->conf.tls_host, g->conf.tls_port, &t->tls_fd, e);
        if (r)
            return r;
    }
    return 0;
}

/* Descriptors the gateway keeps for itself beyond client connections: listeners, ZeroMQ
 * sockets and their I/O threads, the log, TLS files, the change-log follower. */
#define GW_FD_RESERVE 128

/* Raises the soft descriptor limit to the hard one (systemd's default soft limit is 1024) and
 * sizes the connection cap below it, so accept() runs out of connections before descriptors. */
static int setup_conns(gw *g, oks_err *e)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long fds = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (unsigned long)rl.rlim_cur;
    unsigned long room = fds > GW_FD_RESERVE * 2 ? fds - GW_FD_RESERVE : fds / 2;
    unsigned max = g->conf.max_connections;
    if (!max)
        max = room > 1000000 ? 1000000 : (unsigned)room;
    else if (max > room)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "[http] max_connections %u does not fit the descriptor limit %lu "
                           "(at most %lu)", max, fds, room);
    g->conns = gw_conns_new(max, g->conf.max_connections_per_client);
    if (!g->conns)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "connection table");
    oks_info("connections: at most %u (descriptor limit %lu), %u per client", max, fds,
             g->conf.max_connections_per_client);
    return 0;
}

int gw_run(gw *g, oks_err *e)
{
    int r;
    if ((r = setup_conns(g, e)) || (g->conf.tls_host[0] && (r = tls_setup(g, e))) ||
        (r = listen_all(g, e)))
        return r;
    h2o_config_init(&g->h2o);
    /* No cleartext HTTP/2 (h2c upgrade or prior knowledge): no HKP client needs it, and the
     * HTTP/2 stream-reset floods this libh2o predates would reach the plain port. HTTP/2 stays
     * on hkps, negotiated by ALPN. */
    g->h2o.http1.upgrade_to_http2 = 0;
    g->h2o.max_request_entity_size = g->conf.max_body;
    g->h2o.server_name = h2o_iovec_init(H2O_STRLIT("oks"));
    h2o_hostconf_t *hc = h2o_config_register_host(&g->h2o, h2o_iovec_init(H2O_STRLIT("default")),
                                                  65535);
    path(hc, "/pks/lookup", gw_on_lookup);
    path(hc, "/pks/add", gw_on_add);
    path(hc, "/pks/hashquery", gw_on_hashquery);
    path(hc, "/pks/health", gw_on_health);
    path(hc, "/metrics", gw_on_metrics);
    path(hc, "/vks/v1", gw_on_vks);
    path(hc, "/.well-known/openpgpkey", gw_on_wkd);
    path(hc, "/", gw_on_home);
    if (g->conf.cache_bytes) {
        g->cache = gw_cache_new(g->conf.cache_bytes, g->conf.cache_max_stale_ms);
        g->follow.cache = g->cache;
        g->follow.cluster = &g->cluster;
        g->follow.zctx = g->zctx;
        g->follow.check_ms = g->conf.cache_check_ms;
        g->follow.timeout_ms = g->conf.deadline_ms;
        if (!g->cache || gw_follow_start(&g->follow) != 0)
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "cannot start the answer cache");
    }
    oks_daemon_signal_add(SIGHUP, &g->reload); /* reload.c */
    unsigned started = 0;
    for (; started < g->conf.threads; started++) {
        g->threads[started].g = g;
        if ((errno = pthread_create(&g->threads[started].tid, NULL, thread_main,
                                    &g->threads[started])) != 0) {
            r = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start loop thread %u: %s",
                            started, strerror(errno));
            g->stop = 1; /* the threads already started leave their loops */
            for (unsigned i = 0; i < started; i++)
                pthread_join(g->threads[i].tid, NULL);
            if (g->cache)
                gw_follow_stop(&g->follow);
            return r;
        }
    }
    oks_info("HTTP gateway on %s:%d%s%s with %u threads, routers %s (%zu in all), answer cache "
             "%zu MiB", g->conf.listen_host, g->conf.listen_port, g->ssl_ctx ? ", hkps on " : "",
             g->ssl_ctx ? g->conf.tls_host : "", g->conf.threads, g->cluster.routers[0],
             g->cluster.n_routers, g->conf.cache_bytes >> 20);
    oks_notify_ready();
    for (unsigned i = 0; i < g->conf.threads; i++)
        pthread_join(g->threads[i].tid, NULL);
    if (g->cache)
        gw_follow_stop(&g->follow);
    return 0;
}

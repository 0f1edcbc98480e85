/* The gateway's threads: each with its own listening socket on the shared port (SO_REUSEPORT,
 * so the kernel spreads connections evenly over the threads), one h2o context and one router
 * bridge per thread, path handlers, and the configuration from [http]. */
#include "gw-http/gw.h"

#include "lib/log.h"
#include "lib/notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_accept(h2o_socket_t *listener, const char *err)
{
    gw_thread *t = listener->data;
    if (err)
        return;
    h2o_socket_t *sock;
    for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++)
        h2o_accept(&t->actx, sock);
}

static void on_accept_tls(h2o_socket_t *listener, const char *err)
{
    gw_thread *t = listener->data;
    if (err)
        return;
    h2o_socket_t *sock;
    for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++)
        h2o_accept(&t->actx_tls, sock);
}

static void *thread_main(void *arg)
{
    gw_thread *t = arg;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &t->g->h2o);
    t->actx.ctx = &t->ctx;
    t->actx.hosts = t->g->h2o.hosts;
    if (gw_bridge_start(t) != 0) {
        oks_error("cannot connect to the router %s", t->g->cluster.routers[0]);
        t->g->stop = 1;
        return NULL;
    }
    h2o_socket_t *ls = h2o_evloop_socket_create(t->ctx.loop, t->listen_fd,
                                                H2O_SOCKET_FLAG_DONT_READ);
    ls->data = t;
    h2o_socket_read_start(ls, on_accept);
    if (t->g->ssl_ctx) {
        t->actx_tls = t->actx;
        t->actx_tls.ssl_ctx = t->g->ssl_ctx;
        h2o_socket_t *tl = h2o_evloop_socket_create(t->ctx.loop, t->tls_fd,
                                                    H2O_SOCKET_FLAG_DONT_READ);
        tl->data = t;
        h2o_socket_read_start(tl, on_accept_tls);
    }
    while (!t->g->stop && h2o_evloop_run(t->ctx.loop, 200) == 0)
        ;
    return NULL;
}

static void path(h2o_hostconf_t *hc, const char *p, int (*fn)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pc = h2o_config_register_path(hc, p, 0);
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = fn;
}

static unsigned long num(const oks_cluster *c, const char *key, unsigned long def)
{
    char *v = oks_cluster_get(c, "http", key);
    unsigned long r = v ? strtoul(v, NULL, 10) : def;
    free(v);
    return r;
}

int gw_load_conf(gw *g, const char *listen_override, oks_err *e)
{
    gw_conf *c = &g->conf;
    char *listen = listen_override ? strdup(listen_override) : oks_cluster_get(&g->cluster, "http", "listen");
    if (!listen)
        listen = strdup("127.0.0.1:11371");
    char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof c->listen_host) {
        free(listen);
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "listen must be HOST:PORT");
    }
    *colon = '\0';
    snprintf(c->listen_host, sizeof c->listen_host, "%s", listen);
    c->listen_port = atoi(colon + 1);
    free(listen);
    c->threads = (unsigned)num(&g->cluster, "threads", 2);
    c->max_body = num(&g->cluster, "max_body", 5u << 20);
    c->max_url = num(&g->cluster, "max_url", 8192);
    c->max_keys_per_upload = (unsigned)num(&g->cluster, "max_keys_per_upload", 100);
    c->deadline_ms = (unsigned)num(&g->cluster, "deadline_ms", g->cluster.router_deadline_ms + 500);
    c->max_results = (unsigned)num(&g->cluster, "max_results", 500);
    static const char *rk[] = {"rate_lookup", "rate_upload"}, *bk[] = {"burst_lookup", "burst_upload"};
    static const double rd[] = {0, 0}, bd[] = {100, 10};
    for (int i = 0; i < GW_RL_CLASSES; i++) {
        char *v = oks_cluster_get(&g->cluster, "http", rk[i]);
        c->rate[i] = v ? strtod(v, NULL) : rd[i];
        free(v);
        v = oks_cluster_get(&g->cluster, "http", bk[i]);
        c->burst[i] = v ? strtod(v, NULL) : bd[i];
        free(v);
    }
    char *tp = oks_cluster_get(&g->cluster, "http", "trusted_proxies");
    snprintf(c->trusted_proxies, sizeof c->trusted_proxies, "%s", tp ? tp : "");
    free(tp);
    g->rl = gw_rl_new(c->rate, c->burst);
    char *tls = oks_cluster_get(&g->cluster, "http", "tls_listen");
    if (tls) {
        char *cert = oks_cluster_get(&g->cluster, "http", "tls_cert");
        char *key = oks_cluster_get(&g->cluster, "http", "tls_key");
        char *col = strrchr(tls, ':');
        int bad = !col || !cert || !key || (size_t)(col - tls) >= sizeof c->tls_host;
        if (!bad) {
            *col = '\0';
            snprintf(c->tls_host, sizeof c->tls_host, "%s", tls);
            c->tls_port = atoi(col + 1);
            snprintf(c->tls_cert, sizeof c->tls_cert, "%s", cert);
            snprintf(c->tls_key, sizeof c->tls_key, "%s", key);
        }
        free(tls);
        free(cert);
        free(key);
        if (bad)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "tls_listen needs HOST:PORT, tls_cert and tls_key");
    }
    char *tdir = oks_cluster_get(&g->cluster, "http", "templates");
    int tr = gw_pages_load(g, tdir);
    free(tdir);
    if (tr)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "cannot load the HTML templates (see the log line above)");
    c->cache_bytes = num(&g->cluster, "cache_mb", 256) << 20;
    c->cache_check_ms = (unsigned)num(&g->cluster, "cache_check_ms", 100);
    c->cache_max_stale_ms = (unsigned)num(&g->cluster, "cache_max_stale_ms", 2000);
    if (c->cache_check_ms < 10 || c->cache_check_ms > 60000 ||
        c->cache_max_stale_ms < c->cache_check_ms)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "[http] cache_check_ms must be 10..60000 and cache_max_stale_ms at "
                           "least cache_check_ms");
    char *ss = oks_cluster_get(&g->cluster, "sync", "state");
    snprintf(c->sync_state, sizeof c->sync_state, "%s", ss ? ss : "");
    free(ss);
    char *wkd = oks_cluster_get(&g->cluster, "http", "wkd_domains");
    snprintf(c->wkd_domains, sizeof c->wkd_domains, "%s", wkd ? wkd : "");
    free(wkd);
    if (c->threads < 1 || c->threads > 64 || c->listen_port <= 0 || c->listen_port > 65535)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "bad [http] threads or port");
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
    g->threads = calloc(g->conf.threads, sizeof *g->threads);
    if (!g->threads)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "threads");
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

int gw_run(gw *g, oks_err *e)
{
    int r;
    if ((g->conf.tls_host[0] && (r = tls_setup(g, e))) || (r = listen_all(g, e)))
        return r;
    h2o_config_init(&g->h2o);
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
    for (unsigned i = 0; i < g->conf.threads; i++) {
        g->threads[i].g = g;
        pthread_create(&g->threads[i].tid, NULL, thread_main, &g->threads[i]);
    }
    oks_info("HTTP gateway on %s:%d%s%s with %u threads, router %s, answer cache %zu MiB",
             g->conf.listen_host, g->conf.listen_port, g->ssl_ctx ? ", hkps on " : "",
             g->ssl_ctx ? g->conf.tls_host : "", g->conf.threads, g->cluster.routers[0],
             g->conf.cache_bytes >> 20);
    oks_notify_ready();
    for (unsigned i = 0; i < g->conf.threads; i++)
        pthread_join(g->threads[i].tid, NULL);
    if (g->cache)
        gw_follow_stop(&g->follow);
    return 0;
}

/* GET /metrics over libmicrohttpd (see metrics_http.h). */
#include "lib/metrics_http.h"
#include "lib/log.h"
#include "lib/net.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct oks_metrics_http {
    struct MHD_Daemon *d;
    oks_metrics *reg;
    char *allow;
    unsigned port;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              void *body, size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg) {
    return answer(c, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
                  MHD_RESPMEM_PERSISTENT);
}

/* The client's address as text ("" when unknown, which no list matches). */
static void client_of(struct MHD_Connection *c, char *out, size_t size) {
    out[0] = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state) {
    (void)version;
    (void)upload;
    oks_metrics_http *s = cls;
    if (!*state && *upload_size == 0 && strcmp(method, "GET") && strcmp(method, "HEAD")) {
        *state = s; /* answered once the body (if any) has been read */
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body is read and dropped */
        return MHD_YES;
    }
    char client[INET6_ADDRSTRLEN];
    client_of(c, client, sizeof client);
    if (!oks_nets_match(s->allow, client))
        return text(c, MHD_HTTP_FORBIDDEN,
                    "/metrics is not open to this address (see metrics_allow)\n");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics is served here\n");
    if (strcmp(url, "/metrics"))
        return text(c, MHD_HTTP_NOT_FOUND, "not found: only /metrics is served here\n");
    oks_buf out = OKS_BUF_INIT;
    oks_metrics_render(s->reg, &out);
    size_t len;
    uint8_t *body = oks_buf_detach(&out, &len);
    return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                  MHD_RESPMEM_MUST_FREE);
}

oks_metrics_http *oks_metrics_http_start(oks_metrics *r, const oks_hostport *listen,
                                         const char *allow, oks_err *e) {
    char port[8];
    snprintf(port, sizeof port, "%u", listen->port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM},
                    *ai = NULL;
    int g = getaddrinfo(listen->host[0] ? listen->host : NULL, port, &hints, &ai);
    if (g != 0 || !ai) {
        oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "metrics_listen %s:%u: %s", listen->host,
                    listen->port, g ? gai_strerror(g) : "no address");
        if (ai)
            freeaddrinfo(ai);
        return NULL;
    }
    oks_metrics_http *s = calloc(1, sizeof *s);
    if (!s || !(s->allow = strdup(allow ? allow : ""))) {
        free(s);
        freeaddrinfo(ai);
        oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        return NULL;
    }
    s->reg = r;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_INTERNAL_THREAD |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->d =
        MHD_start_daemon(flags, (uint16_t)listen->port, NULL, NULL, on_request, s,
                         MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET,
                    "metrics_listen %s:%u: cannot listen (address in use or not local?)",
                    listen->host, listen->port);
        free(s->allow);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : listen->port;
    return s;
}

int oks_metrics_http_serve(oks_metrics **reg, int rc, const oks_hostport *listen,
                           const char *allow, oks_metrics_http **http, oks_err *e) {
    oks_err local;
    if (!e)
        e = &local;
    if (rc == 0 && !(*http = oks_metrics_http_start(*reg, listen, allow, e)))
        rc = e->code;
    if (rc) {
        oks_metrics_free(*reg);
        *reg = NULL;
        return rc;
    }
    oks_info("metrics on http://%s:%u/metrics", listen->host, oks_metrics_http_port(*http));
    return 0;
}

unsigned oks_metrics_http_port(const oks_metrics_http *s) {
    return s->port;
}

void oks_metrics_http_stop(oks_metrics_http *s) {
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s->allow);
    free(s);
}

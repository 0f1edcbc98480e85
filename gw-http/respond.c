/* Building HTTP answers: bodies copied into the request's pool, the headers every HKP answer
 * carries (CORS), error bodies with a reason, the status mapping from cluster answers, and the
 * request counters behind /metrics. */
#include "gw-http/gw.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Error";
}

/* Metrics slot of a request, from its path (and the op parameter of lookups). */
static int op_of(h2o_req_t *req)
{
    h2o_iovec_t p = req->path_normalized;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/pks/add")))
        return GW_M_ADD;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/pks/hashquery")))
        return GW_M_HASHQUERY;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/pks/health")))
        return GW_M_HEALTH;
    if (!h2o_memis(p.base, p.len, H2O_STRLIT("/pks/lookup")) || req->query_at == SIZE_MAX)
        return GW_M_OTHER;
    static const struct {
        const char *s;
        int op;
    } ops[] = {{"op=get", GW_M_GET},     {"op=index", GW_M_INDEX}, {"op=vindex", GW_M_VINDEX},
               {"op=stats", GW_M_STATS}, {"op=hget", GW_M_HGET}};
    const char *q = req->path.base + req->query_at;
    size_t ql = req->path.len - req->query_at;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].s);
        for (size_t k = 0; k + n <= ql; k++)
            if (memcmp(q + k, ops[i].s, n) == 0 && (k + n == ql || q[k + n] == '&') &&
                (q[k - 1] == '?' || q[k - 1] == '&'))
                return ops[i].op;
    }
    return GW_M_OTHER;
}

static void respond(h2o_req_t *req, int status, const char *reason, const char *ctype,
                    const void *body, size_t len, bool copy)
{
    static h2o_generator_t gen = {NULL, NULL};
    gw_count(gw_thread_of(req)->g, op_of(req), status);
    req->res.status = status;
    req->res.reason = reason ? reason : reason_of(status);
    if (ctype)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL,
                   H2O_STRLIT("*"));
    req->res.content_length = len;
    h2o_iovec_t b = h2o_iovec_init(NULL, 0);
    if (len && copy) {
        b.base = h2o_mem_alloc_pool(&req->pool, len);
        memcpy(b.base, body, len);
        b.len = len;
    } else if (len) {
        b = h2o_iovec_init(body, len);
    }
    h2o_start_response(req, &gen);
    h2o_send(req, &b, 1, H2O_SEND_STATE_FINAL);
}

void gw_respond(h2o_req_t *req, int status, const char *reason, const char *ctype,
                const void *body, size_t len)
{
    respond(req, status, reason, ctype, body, len, true);
}

void gw_respond_pooled(h2o_req_t *req, int status, const char *ctype, const void *body,
                       size_t len)
{
    respond(req, status, NULL, ctype, body, len, false);
}

void gw_error(h2o_req_t *req, int status, const char *why)
{
    if (gw_wants_html(req)) {
        oks_tmpl *t = oks_tmpl_new();
        oks_tmpl_setf(t, "status", "%d", status);
        oks_tmpl_setf(t, "reason", "%s", reason_of(status));
        oks_tmpl_setf(t, "message", "%s", why);
        if (status == 503 || status == 429)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                           H2O_STRLIT("5"));
        gw_page(req, status, GW_PAGE_ERROR, t);
        oks_tmpl_free(t);
        return;
    }
    char body[512];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", status, reason_of(status), why);
    if (status == 503 || status == 429)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("5"));
    gw_respond(req, status, NULL, "text/plain; charset=utf-8", body,
               (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

void gw_error_from(h2o_req_t *req, const Oks__Response *r)
{
    int status;
    switch (r->status) {
    case OKS__STATUS__STATUS_NOT_FOUND: status = 404; break;
    case OKS__STATUS__STATUS_BAD_REQUEST: status = 400; break;
    case OKS__STATUS__STATUS_TOO_LARGE: status = 413; break;
    case OKS__STATUS__STATUS_INTERNAL: status = 500; break;
    default: status = 503; /* unavailable, timeout, partial, wrong shard: try again / elsewhere */
    }
    if (status >= 500) /* the cluster could not answer: the reason goes to the log too */
        oks_warn("%.*s: %d: %s: %s", (int)req->path.len, req->path.base, status,
                 oks_proto_status_name(r->status), r->error ? r->error : "");
    gw_error(req, status, status == 404 ? "No results found" : r->error ? r->error : "");
}

void gw_count(gw *g, int op, int status)
{
    int s = status < 300 ? GW_S_2XX : status == 304 ? GW_S_304 : status == 400 ? GW_S_400
            : status == 404 ? GW_S_404 : status == 413 ? GW_S_413 : status < 500 ? GW_S_4XX
            : status == 503 ? GW_S_503 : GW_S_5XX;
    atomic_fetch_add(&g->metrics.requests[op][s], 1);
}

bool gw_allow(h2o_req_t *req, enum gw_rl_class cls)
{
    gw *g = gw_thread_of(req)->g;
    if (!g->rl || g->conf.rate[cls] <= 0)
        return true;
    struct sockaddr_storage ss;
    char peer[64] = "?", client[64];
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, sizeof peer);
    else if (sl && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, sizeof peer);
    ssize_t x = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, -1);
    gw_rl_client(peer, x >= 0 ? req->headers.entries[x].value.base : NULL,
                 x >= 0 ? req->headers.entries[x].value.len : 0, g->conf.trusted_proxies, client);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned wait = gw_rl_take(g->rl, cls, client, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    if (!wait)
        return true;
    char *v = h2o_mem_alloc_pool(&req->pool, 16);
    int n = snprintf(v, 16, "%u", wait);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    static const char body[] = "429 Too Many Requests: slow down\n";
    gw_respond(req, 429, NULL, "text/plain; charset=utf-8", body, sizeof body - 1);
    return false;
}

/* Writing HTTP answers: bodies copied into the request's pool (or already there), the headers
 * every answer carries (CORS) or that several handlers set (result count, ETag match), and the
 * request counters behind /metrics. This file only writes; what to answer is decided by the
 * handlers and by errors.c. */
#include "gw-http/gw.h"
#include "gw-http/query.h"

#include <stdio.h>
#include <string.h>

const char *gw_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
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

static void respond(h2o_req_t *req, int status, const char *reason, const char *ctype,
                    const void *body, size_t len, bool copy)
{
    static h2o_generator_t gen = {NULL, NULL};
    bool has_query = req->query_at != SIZE_MAX;
    gw_count(gw_thread_of(req)->g,
             gw_request_op(req->path_normalized.base, req->path_normalized.len,
                           has_query ? req->path.base + req->query_at + 1 : NULL,
                           has_query ? req->path.len - req->query_at - 1 : 0),
             status);
    req->res.status = status;
    req->res.reason = reason ? reason : gw_status_reason(status);
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

void gw_set_result_count(h2o_req_t *req, size_t n)
{
    char *v = h2o_mem_alloc_pool(&req->pool, 24);
    int l = snprintf(v, 24, "%zu", n);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-hkp-results-count"), 0,
                          "X-HKP-Results-Count", v, (size_t)l);
}

bool gw_set_truncated(h2o_req_t *req, const Oks__Response *r)
{
    if (r->truncated)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-oks-truncated"), 0,
                              "X-OKS-Truncated", H2O_STRLIT("work-budget"));
    return r->truncated;
}

bool gw_not_modified(h2o_req_t *req, const char *etag)
{
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    return etag[0] && inm >= 0 &&
           h2o_memis(req->headers.entries[inm].value.base, req->headers.entries[inm].value.len,
                     etag, strlen(etag));
}

void gw_count(gw *g, enum gw_op op, int status)
{
    enum gw_status_class s = status < 300 ? GW_HTTP_2XX : status == 304 ? GW_HTTP_304
                             : status == 400 ? GW_HTTP_400 : status == 404 ? GW_HTTP_404
                             : status == 413 ? GW_HTTP_413 : status < 500 ? GW_HTTP_4XX
                             : status == 503 ? GW_HTTP_503 : GW_HTTP_5XX;
    atomic_fetch_add(&g->metrics.requests[op][s], 1);
}

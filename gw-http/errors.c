/*
 * Error answers and content negotiation: a browser (Accept: text/html) gets the HTML error
 * page (template "error"), every other client a one-line text body "STATUS REASON: why".
 * 429 and 503 carry Retry-After. Cluster answers are mapped to HTTP statuses here too.
 */
#include "gw-http/gw.h"

#include "lib/log.h"

#include <stdio.h>
#include <string.h>

/* Retry-After of 503 and 429 answers from errors (seconds): long enough for a restarted shard
 * or router to come back, short enough for an interactive client to retry. */
#define GW_RETRY_AFTER "5"

bool gw_wants_html(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    return i >= 0 && memmem(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                            "text/html", 9) != NULL;
}

/* The HTML error page; false when its template fails (the caller falls back to text). */
static bool error_page(h2o_req_t *req, int status, const char *why)
{
    const char *src = gw_live_of(req)->pages[GW_PAGE_ERROR];
    oks_tmpl *t = oks_tmpl_new();
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    bool ok = t && oks_tmpl_setf(t, "status", "%d", status) == 0 &&
              oks_tmpl_setf(t, "reason", "%s", gw_status_reason(status)) == 0 &&
              oks_tmpl_setf(t, "message", "%s", why) == 0 && gw_page_globals(req, t) == 0;
    if (ok && oks_tmpl_render(src, strlen(src), t, &out, &e) != 0) {
        oks_error("template error: %s (at byte %zu)", e.msg, e.offset);
        ok = false;
    }
    if (ok)
        gw_respond(req, status, NULL, "text/html; charset=utf-8", out.data, out.len);
    oks_tmpl_free(t);
    oks_buf_release(&out);
    return ok;
}

void gw_error(h2o_req_t *req, int status, const char *why)
{
    if (status == 503 || status == 429)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT(GW_RETRY_AFTER));
    if (gw_wants_html(req) && error_page(req, status, why))
        return;
    char body[512];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", status, gw_status_reason(status), why);
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

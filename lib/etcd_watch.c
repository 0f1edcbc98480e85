/*
 * The etcd client's watch (lib/etcd.h): POST /v3/watch opens a stream of newline-separated
 * JSON messages, read through a libcurl multi handle polled every 200 ms so that *stop is seen
 * while the stream is quiet. When the stream breaks (member killed, connection lost, member
 * without a leader: the request carries gRPC's "hasleader" metadata, so a member cut off from
 * the quorum cancels it), the watch resumes on the next endpoint from the revision after the
 * last event handed to the callback, so no event is lost or repeated.
 */
#include "lib/etcd_impl.h"

#include <string.h>
#include <time.h>

typedef struct wctx {
    oks_etcd *c;
    const char *ep;
    oks_etcd_watch_cb cb;
    void *arg;
    oks_buf line;     /* the message being received */
    int64_t last_rev; /* of the last event handed to cb */
    int64_t start;    /* where a new stream starts when no event was seen (0: now) */
    bool created;     /* this stream was accepted */
    bool stop;        /* abort the transfer */
    bool final;       /* ... and return result */
    int result, cb_rc;
    bool failed;      /* this stream failed with err (another endpoint may do) */
    oks_err err;
} wctx;

static int cb_wrap(void *arg, int is_delete, const oks_etcd_kv *kv, int64_t rev)
{
    wctx *w = arg;
    int r = w->cb(w->arg, is_delete, kv, rev);
    if (r) {
        w->cb_rc = r;
        return 1;
    }
    return 0;
}

/* One message; sets w->stop when the stream is done with. */
static void on_message(wctx *w, const uint8_t *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\n'))
        n--;
    if (n == 0)
        return;
    oks_etcd_watch_msg m;
    int r = oks_etcd_parse_watch(p, n, cb_wrap, w, &m, &w->last_rev, &w->err);
    if (r == 1) { /* the callback said stop */
        w->stop = w->final = true;
        w->result = w->cb_rc;
        return;
    }
    if (r) {
        char msg[sizeof w->err.msg];
        snprintf(msg, sizeof msg, "%s", w->err.msg);
        oks_err_set(&w->err, r, OKS_NO_OFFSET, "etcd %s: watch: %s", w->ep,
                    oks_etcd_unprefixed(msg));
        w->stop = true;
        if (r == OKS_E_UNAVAILABLE)
            w->failed = true; /* no leader: another member may do */
        else
            w->final = true, w->result = r;
        return;
    }
    if (m.created) {
        w->created = true;
        if (w->start == 0 && w->last_rev == 0)
            w->start = m.header_rev + 1;
    }
    if (m.canceled) {
        w->stop = true;
        if (m.compact_rev) {
            w->final = true;
            w->result = oks_err_set(&w->err, OKS_E_STATE, OKS_NO_OFFSET,
                                    "etcd %s: watch: revision %lld was compacted (oldest kept: "
                                    "%lld): read again", w->ep,
                                    (long long)(w->last_rev ? w->last_rev + 1 : w->start),
                                    (long long)m.compact_rev);
        } else {
            w->failed = true;
            oks_err_set(&w->err, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "etcd %s: watch canceled: %s",
                        w->ep, m.cancel_reason[0] ? m.cancel_reason : "no reason given");
        }
    }
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    wctx *w = arg;
    size_t n = size * nmemb;
    if (w->stop)
        return 0;
    const char *q = p, *end = p + n;
    while (q < end && !w->stop) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t take = nl ? (size_t)(nl - q) : (size_t)(end - q);
        if (take > w->c->max_answer - w->line.len) {
            w->stop = w->final = true;
            w->result = oks_err_set(&w->err, OKS_E_LIMIT, OKS_NO_OFFSET,
                                    "etcd %s: watch message larger than %zu bytes", w->ep,
                                    w->c->max_answer);
            break;
        }
        oks_buf_append(&w->line, q, take);
        q += take;
        if (nl) {
            q++;
            on_message(w, w->line.data, w->line.len);
            w->line.len = 0;
        }
    }
    return w->stop ? 0 : n;
}

static char *watch_body(const char *prefix, int64_t start)
{
    json_t *cr = json_object();
    json_object_set_new(cr, "key", oks_etcd_b64(prefix, strlen(prefix)));
    uint8_t *end;
    size_t n;
    if (oks_etcd_prefix_end(prefix, &end, &n) != 0) {
        json_decref(cr);
        return NULL;
    }
    json_object_set_new(cr, "range_end", oks_etcd_b64(end, n));
    free(end);
    if (start > 0) {
        char s[24];
        snprintf(s, sizeof s, "%lld", (long long)start);
        json_object_set_new(cr, "start_revision", json_string(s));
    }
    json_t *req = json_object();
    json_object_set_new(req, "create_request", cr);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return body;
}

/* One stream on the current endpoint, until it ends, fails, or w->stop. */
static void run_stream(oks_etcd *c, CURLM *m, CURL *h, wctx *w, const char *prefix,
                       const volatile int *stop)
{
    char url[600], errbuf[CURL_ERROR_SIZE];
    w->ep = c->eps[c->cur];
    w->created = w->stop = w->failed = false;
    w->line.len = 0;
    char *body = watch_body(prefix, w->last_rev ? w->last_rev + 1 : w->start);
    if (!body) {
        w->stop = w->final = true;
        w->result = oks_err_set(&w->err, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd: out of memory");
        return;
    }
    snprintf(url, sizeof url, "%s/v3/watch", w->ep);
    oks_etcd_setup(c, h, url, errbuf);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    struct curl_slist *hdr = oks_etcd_headers(c, true);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_multi_add_handle(m, h);
    CURLcode rc = CURLE_OK;
    for (;;) {
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        bool done = false;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE) {
                rc = msg->data.result;
                done = true;
            }
        if (done || !running || w->stop || (stop && *stop))
            break;
        curl_multi_poll(m, NULL, 0, 200, NULL);
    }
    curl_multi_remove_handle(m, h);
    curl_slist_free_all(hdr);
    free(body);
    if (w->stop || (stop && *stop))
        return;
    if (w->line.len) /* an answer without a final newline: an error object */
        on_message(w, w->line.data, w->line.len);
    if (w->stop)
        return;
    w->failed = true;
    if (rc != CURLE_OK) {
        oks_etcd_curl_fail(c, h, rc, w->ep, errbuf, &w->err);
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        oks_err_set(&w->err, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                    "etcd %s: watch stream ended (HTTP status %ld)", w->ep, status);
    }
}

int oks_etcd_watch(oks_etcd *c, const char *prefix, int64_t from_rev, oks_etcd_watch_cb cb,
                   void *arg, const volatile int *stop, oks_err *e)
{
    if (!cb || !prefix || from_rev < 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd watch: bad arguments");
    CURLM *m = curl_multi_init();
    CURL *h = curl_easy_init();
    if (!m || !h) {
        if (m)
            curl_multi_cleanup(m);
        if (h)
            curl_easy_cleanup(h);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd watch: out of memory");
    }
    wctx w = {.c = c, .cb = cb, .arg = arg, .start = from_rev, .line = OKS_BUF_INIT};
    oks_err_clear(&w.err);
    size_t fails = 0; /* endpoints failed in a row without a stream accepted */
    int r = 0;
    for (;;) {
        if (stop && *stop)
            break;
        if (fails >= c->n_eps) {
            r = c->n_eps > 1 ? oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                                           "%.180s (none of %zu endpoints answered)", w.err.msg,
                                           c->n_eps)
                             : oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "%s", w.err.msg);
            break;
        }
        if (c->user) { /* a token of its own for every stream: one kept may have expired */
            oks_err ae;
            if (oks_etcd_auth(c, true, &ae) != 0) {
                w.err = ae;
                fails++;
                c->cur = (c->cur + 1) % c->n_eps;
                continue;
            }
        }
        run_stream(c, m, h, &w, prefix, stop);
        if (w.final) {
            r = w.result;
            if (r < 0 && e)
                *e = w.err;
            break;
        }
        if (stop && *stop)
            break;
        fails = w.created ? 1 : fails + 1;
        c->cur = (c->cur + 1) % c->n_eps;
        if (w.created) { /* a stream that worked ended: not in a tight loop */
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (r == 0)
        oks_err_clear(e);
    oks_buf_release(&w.line);
    curl_easy_cleanup(h);
    curl_multi_cleanup(m);
    return r;
}

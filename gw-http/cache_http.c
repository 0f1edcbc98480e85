/*
 * The answer cache (cache.c) applied to HTTP: the key of a lookup is the v6 rule plus the path
 * with its query; a hit is copied into the request's pool and answered with its ETag (304 when
 * If-None-Match matches), its result count and, for armored keys, the attachment header; an
 * add that changed keys forgets what depends on them.
 */
#include "gw-http/gw.h"

#include <string.h>
#include <time.h>

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Cache key: what the answer depends on besides the cluster: the v6 rule and the path with its
 * query. Returns its length (0 when it does not fit: such requests are not cached). */
static size_t cache_key(h2o_req_t *req, bool v6_ok, char *k, size_t cap)
{
    if (req->path.len + 1 > cap)
        return 0;
    k[0] = v6_ok ? '6' : '4';
    memcpy(k + 1, req->path.base, req->path.len);
    return req->path.len + 1;
}

typedef struct cached_copy {
    h2o_req_t *req;
    gw_cached v; /* body in the request's pool */
} cached_copy;

/* Copies a cached answer into the request's pool. It runs with the cache stripe locked, so it
 * only copies; the answer is sent once the lock is released. */
static void copy_cached(void *arg, const gw_cached *v)
{
    cached_copy *cc = arg;
    uint8_t *body = h2o_mem_alloc_pool(&cc->req->pool, v->len ? v->len : 1);
    memcpy(body, v->body, v->len);
    cc->v = *v;
    cc->v.body = body;
}

bool gw_cache_serve(h2o_req_t *req, bool v6_ok)
{
    gw *g = gw_thread_of(req)->g;
    char k[1024];
    size_t kl;
    cached_copy cc = {.req = req};
    if (!g->cache || !(kl = cache_key(req, v6_ok, k, sizeof k)) ||
        !gw_cache_get(g->cache, k, kl, mono_ms(), copy_cached, &cc))
        return false;
    if (cc.v.etag[0]) {
        size_t l = strlen(cc.v.etag);
        char *v = h2o_mem_alloc_pool(&req->pool, l);
        memcpy(v, cc.v.etag, l);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, v, l);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-cache"));
    }
    gw_set_result_count(req, cc.v.count);
    if (gw_not_modified(req, cc.v.etag)) {
        gw_respond(req, 304, NULL, NULL, NULL, 0);
        return true;
    }
    if (cc.v.attachment)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL,
                       H2O_STRLIT("attachment; filename=gpgkey.asc"));
    gw_respond_pooled(req, 200, cc.v.ctype, cc.v.body, cc.v.len);
    return true;
}

void gw_cache_store(h2o_req_t *req, bool v6_ok, uint64_t tag, const uint8_t *dep,
                    size_t dep_len, const gw_cached *v)
{
    gw *g = gw_thread_of(req)->g;
    char k[1024];
    size_t kl;
    if (g->cache && (kl = cache_key(req, v6_ok, k, sizeof k)))
        gw_cache_put(g->cache, k, kl, dep, dep_len, tag, v);
}

void gw_cache_forget(gw *g, const Oks__Response *added)
{
    if (!g->cache)
        return;
    for (size_t i = 0; i < added->n_results; i++) {
        const Oks__AddResult *a = added->results[i];
        if (a->outcome == OKS__OUTCOME__OUTCOME_NEW || a->outcome == OKS__OUTCOME__OUTCOME_UPDATED)
            gw_cache_invalidate(g->cache, a->fingerprint.data, a->fingerprint.len);
    }
}

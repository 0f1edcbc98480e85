/*
 * GET /pks/lookup: op=get|index|vindex|stats|hget with the options, status codes and output
 * formats HKP clients (GnuPG's dirmngr, Sequoia, SKS peers) expect: armored keys with ETag /
 * If-None-Match, the machine-readable index (SKS's format, escaping fixed: lib/pgp_index.c),
 * HTML for browsers, JSON statistics, 404 for no match, 503 with Retry-After when the cluster
 * cannot answer. v6 keys are only served to clients known to parse them.
 */
#include "gw-http/gw.h"
#include "lib/xalloc.h"
#include "gw-http/json.h"
#include "gw-http/query.h"

#include "lib/keyctx.h"
#include "lib/clock.h"
#include "lib/pgp.h"

#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct lookup_ctx {
    gw_lookup l;
    gw_form form; /* released when the request dies */
    bool v6_ok;
    bool truncated; /* a work budget cut the answer: marked, never cached */
    uint64_t tag; /* answer cache clock when the request was sent */
    Oks__GetByFingerprint gf;
    bool partial; /* some slots had no replica answering: X-OKS-Partial, not cached */
} lookup_ctx;

static void release_ctx(void *p)
{
    gw_form_release(&((lookup_ctx *)p)->form);
}

/* v6 keys only go to clients that say they parse them: GnuPG >= 2.5 and Sequoia announce
 * themselves; dirmngr 2.2/2.4 sends no User-Agent, so no User-Agent means "GnuPG-like". */
static bool client_takes_v6(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
    if (i < 0)
        return false;
    h2o_iovec_t ua = req->headers.entries[i].value;
    char s[256];
    size_t n = ua.len < sizeof s - 1 ? ua.len : sizeof s - 1;
    memcpy(s, ua.base, n);
    s[n] = '\0';
    const char *g = strstr(s, "GnuPG/");
    if (g) {
        int major = 0, minor = 0;
        sscanf(g + 6, "%d.%d", &major, &minor);
        return major > 2 || (major == 2 && minor >= 5);
    }
    return strcasestr(s, "sequoia") || strcasestr(s, "sq/") || strcasestr(s, "Mozilla/");
}

/* Parses the keys of an answer, dropping v6 keys for clients that cannot take them. */
static size_t parse_keys(const Oks__Response *r, bool v6_ok, oks_pgp_key **keys, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_keys && n < max; i++) {
        oks_pgp_key *k;
        oks_err e;
        if (oks_pgp_key_parse(r->keys[i]->data.data, r->keys[i]->data.len, NULL, OKS_PGP_TRUSTED,
                              &k, &e) != 0)
            continue;
        if (k->primary.version == 6 && !v6_ok) {
            oks_pgp_key_free(k);
            continue;
        }
        keys[n++] = k;
    }
    return n;
}

static void free_keys(oks_pgp_key **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        oks_pgp_key_free(keys[i]);
}

/* Keeps a machine-readable answer. Every answer depends on every key: even a lookup by
 * fingerprint, as it also lists the keys that have that fingerprint as a subkey, which a change
 * of any key can add or remove (the change logs name primary fingerprints only). */
static void cache_store(h2o_req_t *req, const lookup_ctx *c, const char *ctype,
                        const oks_buf *body, const char *etag, size_t n, bool attachment)
{
    if (c->truncated || c->partial)
        return; /* the cache would drop the marker; a cut or partial answer is not worth keeping */
    gw_cached v = {.ctype = ctype, .body = body->data, .len = body->len,
                   .count = (uint32_t)n, .attachment = attachment};
    snprintf(v.etag, sizeof v.etag, "%s", etag ? etag : "");
    gw_cache_store(req, c->v6_ok, c->tag, NULL, 0, &v);
}

/* Version of a stored key from its first packet, without parsing the rest. */
static int key_version(const ProtobufCBinaryData *d)
{
    size_t off = 0;
    oks_pgp_packet pkt;
    oks_err e;
    if (oks_pgp_packet_next(d->data, d->len, &off, &pkt, &e) || pkt.len < 1)
        return -1;
    return pkt.body[0];
}

/* The HTML key page of op=get: each key's facts (keyview.c), the commands to fetch it and its
 * armor. It renders on the event loop: the keys are listed within the page's line budget and a
 * key too large to show is linked, not armored. */
static void key_page(h2o_req_t *req, lookup_ctx *c, const Oks__Response *r, const oks_buf *bin,
                     size_t max)
{
    oks_tmpl *t = oks_tmpl_new();
    oks_buf armor = OKS_BUF_INIT;
    bool ok = t != NULL;
    if (ok && bin->len > GW_HTML_MAX_ARMOR) {
        ok = oks_tmpl_setf(t, "too_large", "%zu", bin->len) == 0;
    } else if (ok) {
        ok = oks_armor_encode(bin->data, bin->len, &armor) == 0 &&
             oks_tmpl_set(t, "armor", (const char *)armor.data, armor.len) == 0;
    }
    oks_buf_release(&armor);
    oks_pgp_key **keys = ok ? oks_xmalloc((r->n_keys ? r->n_keys : 1) * sizeof *keys) : NULL;
    size_t n = keys ? parse_keys(r, c->v6_ok, keys, max) : 0;
    size_t page = GW_HTML_MAX_LINES;
    uint64_t now = (uint64_t)time(NULL);
    for (size_t i = 0; ok && i < n; i++) {
        oks_tmpl *kt = oks_tmpl_push(t, "keys");
        size_t lines = page < GW_HTML_MAX_KEY_LINES ? page : GW_HTML_MAX_KEY_LINES, had = lines;
        ok = kt && gw_page_key(kt, keys[i], false, now, &lines) == 0;
        page -= had - lines;
    }
    free_keys(keys, n);
    free(keys);
    if (ok)
        gw_page(req, 200, GW_PAGE_KEY, t);
    else
        gw_error(req, 500, "out of memory");
    oks_tmpl_free(t);
}

/* op=get / hget: the stored bytes are already the canonical form, so they are served as they
 * are (no parse); the ETag comes from the stored SKS hashes. */
static void answer_get(h2o_req_t *req, lookup_ctx *c, const Oks__Response *r, size_t max)
{
    oks_buf bin = OKS_BUF_INIT, out = OKS_BUF_INIT;
    gcry_md_hd_t md;
    gcry_md_open(&md, GCRY_MD_MD5, 0);
    size_t n = 0;
    for (size_t i = 0; i < r->n_keys && n < max; i++) {
        int v = key_version(&r->keys[i]->data);
        if (v < 0 || (v == 6 && !c->v6_ok))
            continue;
        oks_buf_append(&bin, r->keys[i]->data.data, r->keys[i]->data.len);
        gcry_md_write(md, r->keys[i]->sks_hash.data, r->keys[i]->sks_hash.len);
        n++;
    }
    if (n == 0) {
        gcry_md_close(md);
        oks_buf_release(&bin);
        gw_error(req, 404, "No results found");
        return;
    }
    char *etag = h2o_mem_alloc_pool(&req->pool, 40);
    etag[0] = '"';
    oks_hex(etag + 1, gcry_md_read(md, GCRY_MD_MD5), 16, 0);
    etag[33] = '"';
    etag[34] = '\0';
    gcry_md_close(md);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag, 34);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache"));
    gw_set_result_count(req, n);
    if (gw_not_modified(req, etag)) {
        gw_respond(req, 304, NULL, NULL, NULL, 0);
    } else if (c->l.mr) {
        static const char ctype[] = "application/pgp-keys; charset=utf-8";
        oks_armor_encode(bin.data, bin.len, &out);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL,
                       H2O_STRLIT("attachment; filename=gpgkey.asc"));
        gw_respond(req, 200, NULL, ctype, out.data, out.len);
        cache_store(req, c, ctype, &out, etag, n, true);
    } else {
        key_page(req, c, r, &bin, max);
    }
    oks_buf_release(&bin);
    oks_buf_release(&out);
}

static void answer_index(h2o_req_t *req, lookup_ctx *c, oks_pgp_key **keys, size_t n,
                         size_t max)
{
    gw_set_result_count(req, n);
    if (c->l.mr) {
        static const char ctype[] = "text/plain; charset=utf-8";
        oks_buf out = OKS_BUF_INIT;
        oks_buf_printf(&out, "info:1:%zu\n", n);
        for (size_t i = 0; i < n; i++)
            oks_pgp_key_mr_index(keys[i], &out);
        gw_respond(req, 200, NULL, ctype, out.data, out.len);
        cache_store(req, c, ctype, &out, NULL, n, false);
        oks_buf_release(&out);
        return;
    }
    oks_tmpl *t = oks_tmpl_new();
    const char *search = gw_form_get(&c->form, "search", NULL);
    bool ok = t && oks_tmpl_setf(t, "search", "%s", search ? search : "") == 0 &&
              oks_tmpl_setf(t, "count", "%zu", n) == 0 &&
              oks_tmpl_setf(t, "count_word", "%s", n == 1 ? "key" : "keys") == 0 &&
              (!c->truncated || oks_tmpl_set(t, "partial", "yes", 3) == 0) &&
              (!c->partial || oks_tmpl_set(t, "unavailable", "yes", 3) == 0) &&
              (n < max || oks_tmpl_set(t, "capped", "yes", 3) == 0) &&
              (c->l.op != GW_OP_VINDEX || oks_tmpl_set(t, "vindex", "yes", 3) == 0);
    size_t page = GW_HTML_MAX_LINES; /* the page's work bound, shared by its keys */
    uint64_t now = (uint64_t)time(NULL);
    for (size_t i = 0; ok && i < n; i++) {
        oks_tmpl *kt = oks_tmpl_push(t, "keys");
        size_t lines = page < GW_HTML_MAX_KEY_LINES ? page : GW_HTML_MAX_KEY_LINES, had = lines;
        ok = kt && gw_page_key(kt, keys[i], c->l.op == GW_OP_VINDEX, now, &lines) == 0;
        page -= had - lines;
    }
    if (ok && page == 0)
        ok = oks_tmpl_set(t, "page_cut", "yes", 3) == 0;
    if (!ok) {
        oks_tmpl_free(t);
        gw_error(req, 500, "out of memory");
        return;
    }
    gw_page(req, 200, GW_PAGE_INDEX, t);
    oks_tmpl_free(t);
}

static void on_keys(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    lookup_ctx *c = data;
    if (!r) {
        gw_error(req, status, why);
        return;
    }
    if (r->status != OKS__STATUS__STATUS_OK && !(r->status == OKS__STATUS__STATUS_PARTIAL &&
                                                   r->n_keys > 0)) {
        gw_error_from(req, r);
        return;
    }
    c->partial = r->partial || r->status == OKS__STATUS__STATUS_PARTIAL;
    if (c->partial)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-oks-partial"), 0,
                              "X-OKS-Partial", H2O_STRLIT("1"));
    size_t max = gw_thread_of(req)->g->conf.max_results;
    c->truncated = gw_set_truncated(req, r);
    if (c->l.op == GW_OP_GET || c->l.op == GW_OP_HGET) {
        answer_get(req, c, r, max);
        return;
    }
    oks_pgp_key **keys = oks_xmalloc((r->n_keys ? r->n_keys : 1) * sizeof *keys);
    size_t n = keys ? parse_keys(r, c->v6_ok, keys, max) : 0;
    if (n == 0)
        gw_error(req, 404, "No results found");
    else
        answer_index(req, c, keys, n, max);
    free_keys(keys, n);
    free(keys);
}

static void on_stats(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    lookup_ctx *c = data;
    if (!r) {
        gw_error(req, status, why);
        return;
    }
    oks_buf out = OKS_BUF_INIT;
    uint64_t total = 0;
    for (size_t i = 0; i < r->n_shards; i++)
        total += r->shards[i]->keys;
    if (r->total_keys) /* each key once, though replicas hold it R times */
        total = r->total_keys;
    if (c->l.mr) {
        json_t *j = gw_json_stats(r, gw_thread_of(req)->g->conf.sync_state);
        if (oks_json_dump(j, &out, true))
            gw_error(req, 500, "out of memory");
        else
            gw_respond(req, 200, NULL, "application/json", out.data, out.len);
        json_decref(j);
    } else {
        oks_tmpl *t = oks_tmpl_new();
        size_t up = 0;
        oks_tmpl_setf(t, "total", "%llu", (unsigned long long)total);
        for (size_t i = 0; i < r->n_shards; i++) {
            Oks__ShardStats *sh = r->shards[i];
            oks_tmpl *st = oks_tmpl_push(t, "shards");
            oks_tmpl_setf(st, "name", "%s", sh->name);
            oks_tmpl_setf(st, "up", "%s", sh->up ? "yes" : "no");
            oks_tmpl_setf(st, "state", "%s", sh->up ? "up" : "down");
            oks_tmpl_setf(st, "keys", "%llu", (unsigned long long)sh->keys);
            oks_tmpl_setf(st, "bytes", "%llu", (unsigned long long)sh->bytes);
            oks_tmpl_setf(st, "slots", "%u", sh->slots);
            up += sh->up != 0;
        }
        oks_tmpl_setf(t, "shards_up", "%zu", up);
        oks_tmpl_setf(t, "shards_n", "%zu", r->n_shards);
        gw_sync_stats_tmpl(gw_thread_of(req)->g->conf.sync_state, t);
        gw_page(req, 200, GW_PAGE_STATS, t);
        oks_tmpl_free(t);
    }
    oks_buf_release(&out);
}

int gw_on_lookup(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    gw *g = gw_thread_of(req)->g;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        gw_error(req, 405, "use GET for /pks/lookup");
        return 0;
    }
    if (req->path.len > g->conf.max_url) {
        gw_error(req, 414, "request URL too long");
        return 0;
    }
    if (!gw_allow(req, GW_RL_LOOKUP))
        return 0;
    bool v6_ok = client_takes_v6(req);
    if (gw_cache_serve(req, v6_ok))
        return 0;
    lookup_ctx *c = h2o_mem_alloc_shared(&req->pool, sizeof *c, release_ctx);
    memset(c, 0, sizeof *c);
    const char *why = "";
    const char *q = req->query_at == SIZE_MAX ? "" : req->path.base + req->query_at + 1;
    size_t ql = req->query_at == SIZE_MAX ? 0 : req->path.len - req->query_at - 1;
    if (gw_form_parse(&c->form, q, ql, &why)) {
        gw_error(req, 400, why);
        return 0;
    }
    int st = gw_lookup_parse(&c->form, &c->l, &why);
    if (st) {
        gw_error(req, st, why);
        return 0;
    }
    c->v6_ok = v6_ok;
    c->tag = g->cache ? gw_cache_tag(g->cache) : 0;
    Oks__Request rq = OKS__REQUEST__INIT;
    Oks__GetByKeyId gk = OKS__GET_BY_KEY_ID__INIT;
    Oks__Search sr = OKS__SEARCH__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    Oks__GetStats gs = OKS__GET_STATS__INIT;
    ProtobufCBinaryData hb = {16, c->l.id};
    oks__get_by_fingerprint__init(&c->gf);
    gw_cont cb = on_keys;
    switch (c->l.op == GW_OP_STATS ? GW_S_NONE : c->l.kind) {
    case GW_S_NONE:
        rq.op_case = OKS__REQUEST__OP_STATS;
        rq.stats = &gs;
        cb = on_stats;
        break;
    case GW_S_FPR:
        /* one request for primary and subkey matches: the router asks every shard, as for a
         * key ID, and the answer holds the key with that primary fingerprint first, then every
         * key with a subkey of that fingerprint */
        rq.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
        rq.get_fingerprint = &c->gf;
        c->gf.fingerprint = (ProtobufCBinaryData){c->l.id_len, c->l.id};
        c->gf.subkeys = 1;
        break;
    case GW_S_KEYID:
    case GW_S_SHORTID:
        rq.op_case = OKS__REQUEST__OP_GET_KEY_ID;
        rq.get_key_id = &gk;
        gk.key_id = (ProtobufCBinaryData){c->l.id_len, c->l.id};
        break;
    case GW_S_HASH:
        rq.op_case = OKS__REQUEST__OP_GET_HASH;
        rq.get_hash = &gh;
        gh.hashes = &hb;
        gh.n_hashes = 1;
        break;
    case GW_S_EMAIL:
    case GW_S_WORDS:
        rq.op_case = OKS__REQUEST__OP_SEARCH;
        rq.search = &sr;
        sr.text = (char *)c->l.text;
        sr.kind = c->l.exact ? (c->l.kind == GW_S_EMAIL ? OKS__SEARCH_KIND__SEARCH_EMAIL
                                                        : OKS__SEARCH_KIND__SEARCH_EXACT)
                  : c->l.kind == GW_S_EMAIL ? OKS__SEARCH_KIND__SEARCH_EMAIL
                                            : OKS__SEARCH_KIND__SEARCH_WORDS;
        sr.limit = g->conf.max_results;
        break;
    }
    gw_call(req, &rq, cb, c);
    return 0;
}

/* POST /pks/add: form field keytext, any field order, one or several armor blocks. */
#include "gw-http/gw.h"
#include "gw-http/query.h"

#include "lib/pgp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_post(h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
}

static const char *outcome_name[] = {"new", "updated", "unchanged", "rejected"};

double gw_upload_cost(const uint8_t *key, size_t len)
{
    oks_pgp_key *k;
    oks_err e;
    if (oks_pgp_key_parse(key, len, NULL, 0, &k, &e))
        return 0; /* the shard refuses it after the same parse, before any signature check */
    size_t c = oks_pgp_key_verify_estimate(k, NULL);
    oks_pgp_key_free(k);
    return (double)c;
}

static void on_added(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    (void)data;
    gw *g = gw_thread_of(req)->g;
    if (!r) {
        gw_error(req, status, why);
        return;
    }
    if (r->n_results == 0) {
        gw_error_from(req, r);
        return;
    }
    gw_cache_forget(g, r);
    oks_buf out = OKS_BUF_INIT;
    oks_tmpl *page = gw_wants_html(req) ? oks_tmpl_new() : NULL;
    size_t ok = 0, counts[4] = {0};
    bool page_ok = true;
    for (size_t i = 0; i < r->n_results; i++) {
        Oks__AddResult *a = r->results[i];
        char fpr[65] = "(unparsable)";
        if (a->fingerprint.len == 20 || a->fingerprint.len == 32)
            oks_hex(fpr, a->fingerprint.data, a->fingerprint.len, 1);
        int o = a->outcome <= 3 ? (int)a->outcome : 3;
        oks_buf_printf(&out, "%s %s%s%s\n", fpr, outcome_name[o], *a->reason ? ": " : "",
                       a->reason);
        ok += o != 3;
        if (page) {
            char groups[100];
            gw_fpr_groups(fpr, groups, sizeof groups);
            oks_tmpl *it = oks_tmpl_push(page, "results");
            /* every name set in each item, so none shows a value of the page around it */
            bool link = o != 3 && fpr[0] != '(';
            if (!it || oks_tmpl_setf(it, "fpr", "%s", fpr) ||
                oks_tmpl_setf(it, "fpr_groups", "%s", groups) ||
                oks_tmpl_setf(it, "outcome", "%s", outcome_name[o]) ||
                oks_tmpl_setf(it, "reason", "%s", a->reason) ||
                oks_tmpl_set(it, "link", link ? "yes" : "", link ? 3 : 0))
                page_ok = false;
        }
        counts[o]++;
        atomic_ulong *ctr[] = {&g->metrics.keys_added, &g->metrics.keys_updated,
                               &g->metrics.keys_unchanged, &g->metrics.keys_rejected};
        atomic_fetch_add(ctr[o], 1);
    }
    if (r->status != OKS__STATUS__STATUS_OK)
        oks_buf_printf(&out, "warning: %s\n", r->error);
    /* 200 as soon as one key went in (gpg only looks at the status); 422 when none did */
    if (page) {
        /* "3 keys: 1 new, 2 unchanged" */
        char sum[200];
        size_t sl = (size_t)snprintf(sum, sizeof sum, "%zu %s:", r->n_results,
                                     r->n_results == 1 ? "key" : "keys");
        for (int o = 0, first = 1; o < 4; o++)
            if (counts[o] && sl < sizeof sum) {
                sl += (size_t)snprintf(sum + sl, sizeof sum - sl, "%s %zu %s", first ? "" : ",",
                                       counts[o], outcome_name[o]);
                first = 0;
            }
        if (oks_tmpl_setf(page, "summary", "%s", sum) ||
            (r->status != OKS__STATUS__STATUS_OK && oks_tmpl_setf(page, "warning", "%s", r->error)))
            page_ok = false;
        if (page_ok)
            gw_page(req, ok ? 200 : 422, GW_PAGE_UPLOAD, page);
        else
            gw_error(req, 500, "out of memory");
        oks_tmpl_free(page);
    } else {
        gw_respond(req, ok ? 200 : 422, NULL, "text/plain; charset=utf-8", out.data, out.len);
    }
    oks_buf_release(&out);
}

int gw_on_add(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    gw *g = gw_thread_of(req)->g;
    if (!is_post(req) && gw_wants_html(req) &&
        (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
         h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))) {
        /* a browser: the upload form, which posts back here */
        oks_tmpl *t = oks_tmpl_new();
        if (t && oks_tmpl_setf(t, "max_keys", "%u", g->conf.max_keys_per_upload) == 0)
            gw_page(req, 200, GW_PAGE_SUBMIT, t);
        else
            gw_error(req, 500, "out of memory");
        oks_tmpl_free(t);
        return 0;
    }
    if (!is_post(req)) {
        gw_error(req, 405, "use POST with a keytext form field");
        return 0;
    }
    if (!gw_allow(req, GW_RL_UPLOAD))
        return 0;
    gw_form form;
    const char *why;
    if (gw_form_parse(&form, req->entity.base ? req->entity.base : "", req->entity.len, &why)) {
        gw_error(req, 400, why);
        return 0;
    }
    size_t tl;
    const char *text = gw_form_get(&form, "keytext", &tl);
    if (!text || !tl) {
        gw_form_release(&form);
        gw_error(req, 400, "missing keytext field");
        return 0;
    }
    oks_buf bin = OKS_BUF_INIT;
    size_t off = 0;
    oks_err e;
    int r = 1, blocks = 0;
    if (oks_armor_detect((const uint8_t *)text, tl))
        while ((r = oks_armor_decode(text, tl, &off, &bin, &e)) == 0)
            blocks++;
    gw_form_release(&form);
    if (r < 0 || blocks == 0) {
        char msg[300];
        oks_buf_release(&bin);
        gw_error(req, 400, blocks ? oks_err_format(&e, msg, sizeof msg)
                                  : "keytext holds no armored public key block");
        return 0;
    }
    /* split into keys; each is one entry of the add request */
    size_t cap = g->conf.max_keys_per_upload, n = 0;
    ProtobufCBinaryData *keys = h2o_mem_alloc_pool(&req->pool, (cap + 1) * sizeof *keys);
    oks_slice k;
    off = 0;
    while ((r = oks_pgp_split_next(bin.data, bin.len, &off, &k, &e)) != 1) {
        if (r < 0)
            continue; /* the shard reports what it cannot use; here only structure is cut */
        if (n == cap) {
            oks_buf_release(&bin);
            gw_error(req, 413, "too many keys in one upload");
            return 0;
        }
        uint8_t *copy = h2o_mem_alloc_pool(&req->pool, k.len ? k.len : 1);
        memcpy(copy, k.ptr, k.len);
        keys[n++] = (ProtobufCBinaryData){k.len, copy};
    }
    oks_buf_release(&bin);
    if (n == 0) {
        gw_error(req, 422, "no public key found in keytext");
        return 0;
    }
    /* the signature work these keys can cause, charged to the client before it is done */
    double cost = 0;
    for (size_t i = 0; i < n; i++)
        cost += gw_upload_cost(keys[i].data, keys[i].len);
    if (cost > 0 && !gw_allow_n(req, GW_RL_VERIFY, cost))
        return 0;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = keys;
    add.n_keys = n;
    add.origin = OKS__ORIGIN__ORIGIN_HKP;
    gw_call(req, &q, on_added, NULL);
    return 0;
}

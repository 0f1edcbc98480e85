/*
 * The VKS API as keys.openpgp.org (Hagrid) serves it: GET /vks/v1/by-fingerprint/,
 * /by-keyid/, /by-email/ and POST /vks/v1/upload (JSON). Same paths, status codes and bodies;
 * OKS publishes every user ID it stores (addresses are not e-mail-verified), so an upload
 * reports each address as "published".
 */
#include "gw-http/gw.h"
#include "gw-http/json.h"
#include "gw-http/query.h"

#include "lib/pgp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers status with body (taken; NULL when building ran out of memory: answered 500). */
static void json_answer(h2o_req_t *req, int status, json_t *body)
{
    oks_buf b = OKS_BUF_INIT;
    if (oks_json_dump(body, &b, true))
        gw_error(req, 500, "out of memory");
    else
        gw_respond(req, status, NULL, "application/json", b.data, b.len);
    json_decref(body);
    oks_buf_release(&b);
}

static void json_error(h2o_req_t *req, int status, const char *msg)
{
    json_answer(req, status, gw_json_error(msg));
}

typedef struct vks_ctx {
    char name[80]; /* download file name */
} vks_ctx;

static void on_vks_keys(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    vks_ctx *c = data;
    if (!r) {
        gw_error(req, status, why);
        return;
    }
    if (r->status != OKS__STATUS__STATUS_OK || r->n_keys == 0) {
        /* only a real "no match" is 404; a failure (no keys either) is the failure */
        if (r->status == OKS__STATUS__STATUS_NOT_FOUND || r->status == OKS__STATUS__STATUS_OK)
            gw_error(req, 404, "No key found");
        else
            gw_error_from(req, r);
        return;
    }
    oks_buf bin = OKS_BUF_INIT, arm = OKS_BUF_INIT;
    for (size_t i = 0; i < r->n_keys; i++)
        oks_buf_append(&bin, r->keys[i]->data.data, r->keys[i]->data.len);
    oks_armor_encode(bin.data, bin.len, &arm);
    char *disp = h2o_mem_alloc_pool(&req->pool, 128);
    int n = snprintf(disp, 128, "attachment; filename=\"%s.asc\"", c->name);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL, disp,
                   (size_t)n);
    gw_respond(req, 200, NULL, "application/pgp-keys", arm.data, arm.len);
    oks_buf_release(&bin);
    oks_buf_release(&arm);
}

/* Hex identifier of exactly want_len bytes (an optional 0x is accepted). */
static bool parse_hex_id(const char *s, uint8_t *out, size_t want)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    return strlen(s) == 2 * want && oks_unhex(out, s, want) == 0;
}

static int vks_get(h2o_req_t *req, const char *kind, const char *arg)
{
    vks_ctx *c = h2o_mem_alloc_pool(&req->pool, sizeof *c);
    uint8_t *id = h2o_mem_alloc_pool(&req->pool, 32);
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint gf = OKS__GET_BY_FINGERPRINT__INIT;
    Oks__GetByKeyId gk = OKS__GET_BY_KEY_ID__INIT;
    Oks__Search sr = OKS__SEARCH__INIT;
    snprintf(c->name, sizeof c->name, "%.64s", arg);
    if (strcmp(kind, "by-fingerprint") == 0) {
        size_t len = strlen(arg) - (arg[0] == '0' && (arg[1] | 0x20) == 'x' ? 2 : 0);
        if ((len != 40 && len != 64) || !parse_hex_id(arg, id, len / 2)) {
            gw_error(req, 400, "malformed fingerprint");
            return 0;
        }
        q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
        q.get_fingerprint = &gf;
        gf.fingerprint = (ProtobufCBinaryData){len / 2, id};
        gf.subkeys = 1;
    } else if (strcmp(kind, "by-keyid") == 0) {
        if (!parse_hex_id(arg, id, 8)) {
            gw_error(req, 400, "malformed key id");
            return 0;
        }
        q.op_case = OKS__REQUEST__OP_GET_KEY_ID;
        q.get_key_id = &gk;
        gk.key_id = (ProtobufCBinaryData){8, id};
    } else if (strcmp(kind, "by-email") == 0) {
        char mail[256];
        if (!strchr(arg, '@') ||
            oks_pgp_uid_email((const uint8_t *)arg, strlen(arg), mail, sizeof mail) == 0) {
            gw_error(req, 400, "malformed e-mail address");
            return 0;
        }
        q.op_case = OKS__REQUEST__OP_SEARCH;
        q.search = &sr;
        sr.text = (char *)arg;
        sr.kind = OKS__SEARCH_KIND__SEARCH_EMAIL;
        sr.limit = 10;
    } else {
        gw_error(req, 404, "no such VKS endpoint");
        return 0;
    }
    gw_call(req, &q, on_vks_keys, c);
    return 0;
}

typedef struct upload_ctx {
    oks_buf first_key; /* binary packets of the first uploaded key */
} upload_ctx;

static void release_upload(void *p)
{
    oks_buf_release(&((upload_ctx *)p)->first_key);
}

static void on_uploaded(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    upload_ctx *c = data;
    if (!r) {
        json_error(req, status, why);
        return;
    }
    if (r->n_results == 0 || r->results[0]->outcome == OKS__OUTCOME__OUTCOME_REJECTED) {
        json_error(req, r->n_results ? 400 : 503,
                   r->n_results ? r->results[0]->reason : (*r->error ? r->error : "no answer"));
        return;
    }
    gw_cache_forget(gw_thread_of(req)->g, r);
    Oks__AddResult *a = r->results[0];
    char fpr[65], tok[33] = "";
    oks_hex(fpr, a->fingerprint.data, a->fingerprint.len, 1);
    if (a->new_hash.len == 16)
        oks_hex(tok, a->new_hash.data, 16, 0);
    oks_pgp_key *k = NULL;
    oks_err e;
    if (oks_pgp_key_parse(c->first_key.data, c->first_key.len, NULL, 0, &k, &e) != 0)
        k = NULL;
    json_answer(req, 200, gw_json_vks_upload(fpr, tok, k));
    oks_pgp_key_free(k);
}

static int vks_upload(h2o_req_t *req)
{
    oks_buf text = OKS_BUF_INIT, bin = OKS_BUF_INIT;
    const char *body = req->entity.base ? req->entity.base : "";
    oks_err je;
    int jr = oks_json_get_string(body, req->entity.len, "keytext", &text, &je);
    if (jr) {
        char msg[300];
        oks_buf_release(&text);
        if (jr == OKS_E_NOMEM) {
            json_error(req, 500, "out of memory");
        } else {
            snprintf(msg, sizeof msg, "expected application/json data with a keytext string: %s",
                     je.msg);
            json_error(req, 400, msg);
        }
        return 0;
    }
    int rc;
    if (oks_armor_detect(text.data, text.len)) {
        size_t off = 0;
        oks_err e;
        while ((rc = oks_armor_decode((const char *)text.data, text.len, &off, &bin, &e)) == 0)
            ;
        rc = rc < 0 ? -1 : 0;
    } else {
        rc = oks_base64_decode(text.data, text.len, &bin);
    }
    oks_buf_release(&text);
    oks_slice k;
    size_t off = 0;
    oks_err e;
    if (rc || oks_pgp_split_next(bin.data, bin.len, &off, &k, &e) != 0) {
        oks_buf_release(&bin);
        json_error(req, 400, "keytext holds no OpenPGP public key");
        return 0;
    }
    double cost = gw_upload_cost(k.ptr, k.len);
    if (cost > 0 && !gw_allow_n(req, GW_RL_VERIFY, cost)) {
        oks_buf_release(&bin);
        return 0;
    }
    upload_ctx *c = h2o_mem_alloc_shared(&req->pool, sizeof *c, release_upload);
    oks_buf_init(&c->first_key);
    oks_buf_append(&c->first_key, k.ptr, k.len);
    ProtobufCBinaryData key = {c->first_key.len, c->first_key.data};
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = &key;
    add.n_keys = 1;
    add.origin = OKS__ORIGIN__ORIGIN_HKP;
    gw_call(req, &q, on_uploaded, c);
    oks_buf_release(&bin);
    return 0;
}

int gw_on_vks(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    bool upload = req->path.len >= 14 && memcmp(req->path.base + 8, "upload", 6) == 0;
    if (!gw_allow(req, upload ? GW_RL_UPLOAD : GW_RL_LOOKUP))
        return 0;
    static const char prefix[] = "/vks/v1/";
    size_t pl = sizeof prefix - 1;
    size_t qa = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    if (qa < pl || memcmp(req->path.base, prefix, pl) != 0) {
        gw_error(req, 404, "no such VKS endpoint");
        return 0;
    }
    const char *rest = req->path.base + pl;
    size_t rl = qa - pl;
    if (rl == 6 && memcmp(rest, "upload", 6) == 0) {
        if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
            json_error(req, 405, "use POST");
            return 0;
        }
        return vks_upload(req);
    }
    if (rl == 14 && memcmp(rest, "request-verify", 14) == 0) {
        json_error(req, 501, "this keyserver publishes keys without e-mail verification");
        return 0;
    }
    const char *slash = memchr(rest, '/', rl);
    if (!slash || slash == rest + rl - 1 || rl > 600) {
        gw_error(req, 404, "no such VKS endpoint");
        return 0;
    }
    char kind[32], arg[600];
    size_t kl = (size_t)(slash - rest);
    if (kl >= sizeof kind) {
        gw_error(req, 404, "no such VKS endpoint");
        return 0;
    }
    memcpy(kind, rest, kl);
    kind[kl] = '\0';
    if (gw_url_decode(slash + 1, (size_t)(rest + rl - slash - 1), arg) < 0 || strchr(arg, '/')) {
        gw_error(req, 400, "malformed request path");
        return 0;
    }
    return vks_get(req, kind, arg);
}

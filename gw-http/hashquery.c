/*
 * POST /pks/hashquery: the key fetch of SKS reconciliation. The body is a BE32 count, then per
 * hash BE32 16 and the 16-byte SKS hash; the answer is a BE32 count, then per key BE32 length
 * and the key's packets, then CRLF (the format SKS's recon partners send and expect).
 * Work bounds: at most OKS_PROTO_MAX_ITEMS hashes, and a body of exactly that many entries (its
 * size is checked before anything is read from it); the keys answered are bounded by the
 * shards' read budget, a cut answer carrying X-OKS-Truncated (the partner fetches the rest
 * later, as it does for any key missing from an answer).
 */
#include "gw-http/gw.h"

#include "lib/buf.h"

static void on_hashes(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    (void)data;
    if (!r) {
        gw_error(req, status, why);
        return;
    }
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_NOT_FOUND) {
        gw_error_from(req, r);
        return;
    }
    gw_set_truncated(req, r);
    oks_buf out = OKS_BUF_INIT;
    oks_buf_put_be32(&out, (uint32_t)r->n_keys);
    for (size_t i = 0; i < r->n_keys; i++) {
        oks_buf_put_be32(&out, (uint32_t)r->keys[i]->data.len);
        oks_buf_append(&out, r->keys[i]->data.data, r->keys[i]->data.len);
    }
    oks_buf_append(&out, "\r\n", 2);
    gw_respond(req, 200, NULL, "pgp/keys", out.data, out.len);
    oks_buf_release(&out);
}

int gw_on_hashquery(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        gw_error(req, 405, "use POST");
        return 0;
    }
    const uint8_t *p = (const uint8_t *)req->entity.base;
    size_t len = req->entity.len;
    if (!p || len < 4) {
        gw_error(req, 400, "hashquery body too short");
        return 0;
    }
    uint32_t n = oks_be32(p);
    if (n > OKS_PROTO_MAX_ITEMS || len > 4 + 20 * (size_t)OKS_PROTO_MAX_ITEMS) {
        gw_error(req, 413, "at most " OKS_PROTO_MAX_ITEMS_TEXT " hashes per hashquery");
        return 0;
    }
    if (len != 4 + 20 * (size_t)n) {
        gw_error(req, 400, "malformed hashquery: the body must hold exactly its count of hashes "
                           "(BE32 16 + 16 bytes each)");
        return 0;
    }
    ProtobufCBinaryData *h = h2o_mem_alloc_pool(&req->pool, (n ? n : 1) * sizeof *h);
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 4 || oks_be32(p + off) != 16 || len - off - 4 < 16) {
            gw_error(req, 400, "malformed hashquery: each hash is BE32 16 + 16 bytes");
            return 0;
        }
        h[i] = (ProtobufCBinaryData){16, (uint8_t *)p + off + 4};
        off += 20;
    }
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    q.op_case = OKS__REQUEST__OP_GET_HASH;
    q.get_hash = &gh;
    gh.hashes = h;
    gh.n_hashes = n;
    gw_call(req, &q, on_hashes, NULL);
    return 0;
}

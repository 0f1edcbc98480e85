/*
 * The JSON side of the etcd client (lib/etcd.h): the answers of etcd's JSON gateway read into
 * C structs, defensively. The gateway writes protobuf messages as JSON with their original
 * field names, bytes fields in base64, int64 fields as decimal strings, and leaves out every
 * field that holds its zero value; so an absent field reads as zero, a present one must have
 * the right type and range, and anything else is OKS_E_PROTO naming the field. Pure functions
 * over buffers: fuzzed by tests/fuzz/fuzz_etcd.c.
 */
#include "lib/etcd.h"
#include "lib/buf.h"
#include "lib/pgp.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int proto(oks_err *e, const char *what)
{
    return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s", what);
}

/* An int64 field: absent = 0; a decimal string or a JSON integer. */
static int get_i64(const json_t *obj, const char *name, int64_t *out, oks_err *e)
{
    *out = 0;
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is not an integer",
                           name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char *end = NULL;
    errno = 0;
    long long x = n && n < 24 ? strtoll(s, &end, 10) : 0;
    bool digits = n && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'));
    if (!digits || n >= 24 || errno || !end || end != s + n)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET,
                           "etcd answer: %s is not a decimal integer", name);
    *out = x;
    return 0;
}

/* A revision-like field: an int64 >= 0. */
static int get_rev(const json_t *obj, const char *name, int64_t *out, oks_err *e)
{
    int r = get_i64(obj, name, out, e);
    if (r == 0 && *out < 0)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is negative", name);
    return r;
}

static int get_bool(const json_t *obj, const char *name, bool *out, oks_err *e)
{
    *out = false;
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is not a boolean",
                           name);
    *out = json_is_true(v);
    return 0;
}

/* An object member (absent: NULL, not an error; present and not an object: an error). */
static int get_obj(const json_t *obj, const char *name, const json_t **out, oks_err *e)
{
    *out = json_object_get(obj, name);
    if (*out && !json_is_object(*out))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is not an object",
                           name);
    return 0;
}

/* A bytes field (absent: empty) decoded into out, NUL-terminated. */
static int get_bytes(const json_t *obj, const char *name, oks_buf *out, oks_err *e)
{
    out->len = 0;
    const json_t *v = json_object_get(obj, name);
    if (v && !json_is_string(v))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is not a string",
                           name);
    if (v && oks_base64_decode((const uint8_t *)json_string_value(v), json_string_length(v),
                               out) != 0)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is not base64",
                           name);
    oks_buf_terminate(out);
    return 0;
}

void oks_etcd_kv_release(oks_etcd_kv *kv)
{
    if (!kv)
        return;
    free(kv->key);
    free(kv->val);
    memset(kv, 0, sizeof *kv);
}

void oks_etcd_kvs_free(oks_etcd_kv *kvs, size_t n)
{
    for (size_t i = 0; kvs && i < n; i++)
        oks_etcd_kv_release(&kvs[i]);
    free(kvs);
}

void oks_etcd_answer_release(oks_etcd_answer *a)
{
    oks_etcd_kvs_free(a->kvs, a->n_kvs);
    oks_etcd_kvs_free(a->failed, a->n_failed);
    memset(a, 0, sizeof *a);
}

/* A mvccpb.KeyValue into kv (zeroed first; released on error). */
static int parse_kv(const json_t *j, oks_etcd_kv *kv, oks_err *e)
{
    memset(kv, 0, sizeof *kv);
    if (!json_is_object(j))
        return proto(e, "a kv is not an object");
    oks_buf b = OKS_BUF_INIT;
    int r = get_bytes(j, "key", &b, e);
    if (r == 0 && b.len == 0)
        r = proto(e, "a kv has no key");
    if (r == 0 && memchr(b.data, 0, b.len)) /* OKS keys are C strings */
        r = proto(e, "a key with a NUL byte");
    if (r == 0) {
        size_t n;
        kv->key = (char *)oks_buf_detach(&b, &n);
        r = get_bytes(j, "value", &b, e);
    }
    if (r == 0)
        kv->val = oks_buf_detach(&b, &kv->len);
    if (r == 0 && !kv->val)
        kv->val = (uint8_t *)calloc(1, 1);
    if (r == 0 && !kv->val)
        r = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd answer: out of memory");
    if (r == 0)
        r = get_rev(j, "mod_revision", &kv->mod_rev, e);
    if (r == 0)
        r = get_rev(j, "create_revision", &kv->create_rev, e);
    if (r == 0)
        r = get_rev(j, "lease", &kv->lease, e);
    oks_buf_release(&b);
    if (r)
        oks_etcd_kv_release(kv);
    return r;
}

/* An array member of kvs (absent: none) into a new array. */
static int parse_kvs(const json_t *obj, const char *name, size_t max, oks_etcd_kv **out,
                     size_t *n, oks_err *e)
{
    *out = NULL;
    *n = 0;
    const json_t *arr = json_object_get(obj, name);
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "etcd answer: %s is not an array",
                           name);
    size_t len = json_array_size(arr);
    if (max && len > max)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "etcd answer: %zu keys, more than the %zu asked for", len, max);
    if (len == 0)
        return 0;
    oks_etcd_kv *kvs = calloc(len, sizeof *kvs);
    if (!kvs)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd answer: out of memory");
    for (size_t i = 0; i < len; i++) {
        int r = parse_kv(json_array_get(arr, i), &kvs[i], e);
        if (r) {
            oks_etcd_kvs_free(kvs, i);
            return r;
        }
    }
    *out = kvs;
    *n = len;
    return 0;
}

/* grpc status code -> OKS_E_* */
static int grpc_code(int64_t code)
{
    switch (code) {
    case 3: return OKS_E_ARG;        /* invalid argument */
    case 4: return OKS_E_TIMEOUT;    /* deadline exceeded */
    case 5: return OKS_E_NOTFOUND;   /* e.g. requested lease not found */
    case 8: return OKS_E_LIMIT;      /* resource exhausted: too many requests, request too large */
    case 9: case 11: return OKS_E_STATE; /* failed precondition, out of range (compacted) */
    case 14: return OKS_E_UNAVAILABLE;   /* no leader, stopping */
    default: return OKS_E_IO;
    }
}

/* An error object of the gateway: unary {"error": "...", "code": N, "message": "..."} or
 * streaming {"error": {"grpc_code": N, "message": "...", ...}}. 1 when root is not one. */
static int error_object(const json_t *root, oks_err *e)
{
    const json_t *err = json_object_get(root, "error");
    if (!err)
        return 1;
    const json_t *holder = json_is_object(err) ? err : root;
    int64_t code = 0;
    if (get_i64(holder, json_is_object(err) ? "grpc_code" : "code", &code, e))
        return OKS_E_PROTO;
    const json_t *msg = json_object_get(holder, "message");
    if (!json_is_string(msg))
        msg = json_is_string(err) ? err : NULL;
    return oks_err_set(e, grpc_code(code), OKS_NO_OFFSET, "etcd: %.160s (code %lld)",
                       msg ? json_string_value(msg) : "error without a message", (long long)code);
}

static int load(const void *body, size_t n, json_t **root, oks_err *e)
{
    json_error_t je;
    *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (!*root)
        return oks_err_set(e, OKS_E_PROTO, (size_t)je.position, "etcd answer: not JSON: %.80s",
                           je.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return proto(e, "not a JSON object");
    }
    return 0;
}

static int header_rev(const json_t *obj, int64_t *rev, oks_err *e)
{
    const json_t *h;
    int r = get_obj(obj, "header", &h, e);
    *rev = 0;
    if (r == 0 && h)
        r = get_rev(h, "revision", rev, e);
    return r;
}

/* The failure branch of a txn: responses[i].response_range.kvs[0] (or a zero kv). */
static int parse_failed(const json_t *obj, oks_etcd_answer *a, oks_err *e)
{
    const json_t *arr = json_object_get(obj, "responses");
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return proto(e, "responses is not an array");
    size_t len = json_array_size(arr);
    if (len == 0)
        return 0;
    a->failed = calloc(len, sizeof *a->failed);
    if (!a->failed)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd answer: out of memory");
    a->n_failed = len;
    for (size_t i = 0; i < len; i++) {
        const json_t *resp = json_array_get(arr, i), *rr;
        if (!json_is_object(resp))
            return proto(e, "a response is not an object");
        int r = get_obj(resp, "response_range", &rr, e);
        if (r)
            return r;
        if (!rr)
            continue;
        oks_etcd_kv *kvs;
        size_t nk;
        if ((r = parse_kvs(rr, "kvs", 1, &kvs, &nk, e)) != 0)
            return r;
        if (nk) {
            a->failed[i] = kvs[0];
            free(kvs);
        }
    }
    return 0;
}

int oks_etcd_parse_answer(oks_etcd_call call, const void *body, size_t n, size_t max_kvs,
                          oks_etcd_answer *a, oks_err *e)
{
    memset(a, 0, sizeof *a);
    json_t *root;
    int r = load(body, n, &root, e);
    if (r)
        return r;
    const json_t *obj = root;
    if ((r = error_object(root, e)) <= 0)
        goto out;
    if (call == OKS_ETCD_LEASE_KEEPALIVE) { /* a stream: {"result": {...}} */
        if ((r = get_obj(root, "result", &obj, e)) != 0)
            goto out;
        if (!obj) {
            r = proto(e, "keepalive answer without a result");
            goto out;
        }
    }
    if ((r = header_rev(obj, &a->revision, e)) != 0)
        goto out;
    if (!json_object_get(obj, "header")) {
        r = proto(e, "no header");
        goto out;
    }
    switch (call) {
    case OKS_ETCD_RANGE:
        r = get_bool(obj, "more", &a->more, e);
        if (r == 0)
            r = get_rev(obj, "count", &a->count, e);
        if (r == 0)
            r = parse_kvs(obj, "kvs", max_kvs, &a->kvs, &a->n_kvs, e);
        break;
    case OKS_ETCD_TXN:
        r = get_bool(obj, "succeeded", &a->succeeded, e);
        if (r == 0 && !a->succeeded)
            r = parse_failed(obj, a, e);
        break;
    case OKS_ETCD_DELETERANGE:
        r = get_rev(obj, "deleted", &a->deleted, e);
        break;
    case OKS_ETCD_LEASE_GRANT:
    case OKS_ETCD_LEASE_KEEPALIVE:
        r = get_i64(obj, "ID", &a->id, e);
        if (r == 0)
            r = get_i64(obj, "TTL", &a->ttl, e);
        if (r == 0 && call == OKS_ETCD_LEASE_GRANT && a->id <= 0)
            r = proto(e, "lease grant without a lease ID");
        break;
    case OKS_ETCD_AUTHENTICATE: {
        const json_t *t = json_object_get(obj, "token");
        if (!json_is_string(t) || json_string_length(t) == 0 ||
            json_string_length(t) >= sizeof a->token || strchr(json_string_value(t), '\n') ||
            strchr(json_string_value(t), '\r'))
            r = proto(e, "authenticate answer without a usable token");
        else
            memcpy(a->token, json_string_value(t), json_string_length(t) + 1);
        break;
    }
    case OKS_ETCD_PUT_CALL:
    case OKS_ETCD_LEASE_REVOKE:
        break;
    }
out:
    if (r)
        oks_etcd_answer_release(a);
    json_decref(root);
    return r;
}

int oks_etcd_parse_watch(const void *body, size_t n, oks_etcd_watch_cb cb, void *arg,
                         oks_etcd_watch_msg *m, int64_t *last_rev, oks_err *e)
{
    memset(m, 0, sizeof *m);
    json_t *root;
    int r = load(body, n, &root, e);
    if (r)
        return r;
    const json_t *res;
    if ((r = error_object(root, e)) <= 0)
        goto out;
    if ((r = get_obj(root, "result", &res, e)) != 0)
        goto out;
    if (!res) {
        r = proto(e, "watch message without a result");
        goto out;
    }
    if ((r = header_rev(res, &m->header_rev, e)) ||
        (r = get_bool(res, "created", &m->created, e)) ||
        (r = get_bool(res, "canceled", &m->canceled, e)) ||
        (r = get_rev(res, "compact_revision", &m->compact_rev, e)))
        goto out;
    const json_t *reason = json_object_get(res, "cancel_reason");
    if (json_is_string(reason))
        snprintf(m->cancel_reason, sizeof m->cancel_reason, "%s", json_string_value(reason));
    const json_t *evs = json_object_get(res, "events");
    if (evs && !json_is_array(evs)) {
        r = proto(e, "events is not an array");
        goto out;
    }
    for (size_t i = 0; evs && i < json_array_size(evs); i++) {
        const json_t *ev = json_array_get(evs, i), *kvj, *type;
        if (!json_is_object(ev)) {
            r = proto(e, "an event is not an object");
            goto out;
        }
        type = json_object_get(ev, "type");
        int is_delete = 0;
        if (type && json_is_string(type) && strcmp(json_string_value(type), "DELETE") == 0)
            is_delete = 1;
        else if (type && !(json_is_string(type) && strcmp(json_string_value(type), "PUT") == 0) &&
                 !(json_is_integer(type) && json_integer_value(type) <= 1 &&
                   json_integer_value(type) >= 0)) {
            r = proto(e, "an event of unknown type");
            goto out;
        } else if (json_is_integer(type))
            is_delete = json_integer_value(type) == 1;
        if ((r = get_obj(ev, "kv", &kvj, e)) != 0)
            goto out;
        if (!kvj) {
            r = proto(e, "an event without a kv");
            goto out;
        }
        oks_etcd_kv kv;
        if ((r = parse_kv(kvj, &kv, e)) != 0)
            goto out;
        if (kv.mod_rev <= 0 || kv.mod_rev < *last_rev) {
            oks_etcd_kv_release(&kv);
            r = proto(e, "an event whose revision goes backwards");
            goto out;
        }
        int64_t rev = kv.mod_rev;
        int cr = cb(arg, is_delete, &kv, rev);
        oks_etcd_kv_release(&kv);
        *last_rev = rev;
        if (cr) {
            r = cr;
            goto out;
        }
    }
out:
    json_decref(root);
    return r;
}

int oks_etcd_prefix_end(const char *prefix, uint8_t **out, size_t *n)
{
    size_t len = strlen(prefix);
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return OKS_E_NOMEM;
    memcpy(p, prefix, len);
    /* the first key after every key that starts with prefix: drop trailing 0xff bytes, then
     * add one to the last byte; none left (or empty prefix) = "\0", etcd's "to the end" */
    while (len && p[len - 1] == 0xff)
        len--;
    if (len == 0) {
        p[0] = 0;
        *out = p;
        *n = 1;
        return 0;
    }
    p[len - 1]++;
    *out = p;
    *n = len;
    return 0;
}

json_t *oks_etcd_b64(const void *p, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *s = p;
    size_t olen = (n + 2) / 3 * 4;
    char *o = malloc(olen + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        o[j++] = A[v >> 18 & 63];
        o[j++] = A[v >> 12 & 63];
        o[j++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        o[j++] = i + 2 < n ? A[v & 63] : '=';
    }
    json_t *r = json_stringn(o, j);
    free(o);
    return r;
}

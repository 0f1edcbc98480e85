/* JSON helpers over jansson (see json.h). */
#include "lib/json.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when p[0] does not start one. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t l;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        l = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        l = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        l = 4, cp = c & 0x07;
    else
        return 0;
    if (n < l)
        return 0;
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (l == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (l == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return l;
}

int oks_json_utf8(oks_buf *out, const uint8_t *p, size_t n)
{
    static const uint8_t replacement[3] = {0xef, 0xbf, 0xbd};
    if (oks_buf_reserve(out, n))
        return OKS_E_NOMEM;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(p + i, n - i);
        int r = l ? oks_buf_append(out, p + i, l) : oks_buf_append(out, replacement, 3);
        if (r)
            return OKS_E_NOMEM;
        i += l ? l : 1;
    }
    return 0;
}

json_t *oks_json_text(const void *p, size_t n)
{
    oks_buf b = OKS_BUF_INIT;
    json_t *s = NULL;
    if (oks_json_utf8(&b, p, n) == 0)
        s = json_stringn(b.data ? (const char *)b.data : "", b.len);
    oks_buf_release(&b);
    return s;
}

json_t *oks_json_cstr(const char *s)
{
    return s ? oks_json_text(s, strlen(s)) : json_null();
}

json_t *oks_json_uint(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

json_t *oks_json_hex(const uint8_t *p, size_t n, bool upper)
{
    char hex[129];
    if (n > 64)
        return NULL;
    oks_hex(hex, p, n, upper);
    return json_stringn(hex, 2 * n);
}

int oks_json_set_key(json_t *obj, const void *key, size_t klen, json_t *v)
{
    oks_buf k = OKS_BUF_INIT;
    int r = -1;
    if (v && oks_json_utf8(&k, key, klen) == 0)
        r = json_object_setn_new(obj, k.data ? (const char *)k.data : "", k.len, v);
    else
        json_decref(v);
    oks_buf_release(&k);
    return r;
}

static int append_cb(const char *p, size_t n, void *arg)
{
    return oks_buf_append(arg, p, n) ? -1 : 0;
}

int oks_json_dump(const json_t *j, oks_buf *out, bool nl)
{
    size_t before = out->len;
    if (!j || json_dump_callback(j, append_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ||
        (nl && oks_buf_putc(out, '\n'))) {
        out->len = before;
        return OKS_E_NOMEM;
    }
    return 0;
}

int oks_json_get_string(const void *text, size_t n, const char *key, oks_buf *out, oks_err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return oks_err_set(e, OKS_E_FORMAT, (size_t)je.position, "not JSON: %s", je.text);
    int r = 0;
    json_t *v = json_object_get(root, key);
    if (!json_is_object(root))
        r = oks_err_set(e, OKS_E_FORMAT, 0, "expected a JSON object");
    else if (!json_is_string(v))
        r = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "expected a \"%s\" string member", key);
    else if (oks_buf_append(out, json_string_value(v), json_string_length(v)) ||
             oks_buf_terminate(out))
        r = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    json_decref(root);
    return r;
}

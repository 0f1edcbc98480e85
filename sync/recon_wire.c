/*
 * sync/recon_wire: encode/decode of recon messages (see recon_wire.h). The parser reads from a
 * cursor that never moves past the end: each field checks its length against what remains.
 */
#include "sync/recon_wire.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oks_recon_limits_default(oks_recon_limits *l)
{
    l->max_msg = 16u << 20;
    l->max_elements = 500000;
    l->max_string = 65536;
    l->max_config = 64;
}

int oks_recon_bits_child(const oks_recon_bits *p, int c, oks_recon_bits *out)
{
    if (p->nbits + 2 > OKS_RECON_MAX_BITS || c < 0 || c > 3)
        return OKS_E_ARG;
    *out = *p;
    for (int k = 0; k < 2; k++) {
        uint32_t i = p->nbits + (uint32_t)k;
        uint8_t mask = (uint8_t)(0x80 >> (i % 8));
        if ((c >> (1 - k)) & 1)
            out->b[i / 8] |= mask;
        else
            out->b[i / 8] &= (uint8_t)~mask;
    }
    out->nbits = p->nbits + 2;
    return 0;
}

const char *oks_recon_bits_str(const oks_recon_bits *p, char *out, size_t size)
{
    size_t k = 0;
    for (uint32_t i = 0; i < p->nbits && k + 1 < size; i++)
        out[k++] = (char)('0' + oks_recon_bit(p->b, i));
    if (size)
        out[k] = '\0';
    return out;
}

static const char *names[] = {"ReconRqst_Poly", "ReconRqst_Full", "Elements", "FullElements",
                              "SyncFail", "Done", "Flush", "Error", "DbRqst", "DbRepl", "Config"};

const char *oks_recon_type_name(int type)
{
    return type >= 0 && type <= OKS_RECON_CONFIG ? names[type] : "unknown";
}

void oks_recon_msg_init(oks_recon_msg *m, int type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
}

void oks_recon_msg_release(oks_recon_msg *m)
{
    free(m->elems);
    free(m->text);
    for (size_t i = 0; i < m->nkv; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    memset(m, 0, sizeof *m);
}

int oks_recon_frame_len(const uint8_t hdr[4], const oks_recon_limits *lim, uint32_t *len,
                        oks_err *e)
{
    uint32_t l = oks_be32(hdr);
    if (l == 0)
        return oks_err_set(e, OKS_E_FORMAT, 0, "recon message of length 0 (no type byte)");
    if (l > lim->max_msg)
        return oks_err_set(e, OKS_E_LIMIT, 0, "recon message length %u over the limit %u", l,
                           lim->max_msg);
    *len = l;
    return 0;
}

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    const oks_recon_limits *lim;
    oks_err *e;
} rd;

static int rd_int(rd *r, uint32_t *v, const char *what)
{
    if (r->len - r->off < 4)
        return oks_err_set(r->e, OKS_E_TRUNCATED, r->off, "recon: %s truncated", what);
    *v = oks_be32(r->p + r->off);
    r->off += 4;
    return 0;
}

/* string into a fresh NUL-terminated allocation */
static int rd_string(rd *r, char **s, uint32_t *n, const char *what)
{
    uint32_t l;
    int rc = rd_int(r, &l, what);
    if (rc)
        return rc;
    if (l > r->lim->max_string)
        return oks_err_set(r->e, OKS_E_LIMIT, r->off - 4, "recon: %s length %u over limit %u",
                           what, l, r->lim->max_string);
    if (r->len - r->off < l)
        return oks_err_set(r->e, OKS_E_TRUNCATED, r->off - 4,
                           "recon: %s of %u bytes runs past the message end", what, l);
    *s = oks_xmalloc((size_t)l + 1);
    if (!*s)
        return oks_err_set(r->e, OKS_E_NOMEM, r->off, "recon: out of memory");
    memcpy(*s, r->p + r->off, l);
    (*s)[l] = '\0';
    *n = l;
    r->off += l;
    return 0;
}

static int rd_bits(rd *r, oks_recon_bits *b)
{
    uint32_t nbits = 0, nbytes = 0;
    size_t at = r->off;
    int rc = rd_int(r, &nbits, "bitstring length");
    if (rc == 0)
        rc = rd_int(r, &nbytes, "bitstring bytes");
    if (rc)
        return rc;
    if (nbits > OKS_RECON_MAX_BITS)
        return oks_err_set(r->e, OKS_E_LIMIT, at, "recon: prefix of %u bits (max %d)", nbits,
                           OKS_RECON_MAX_BITS);
    if (nbytes != (nbits + 7) / 8)
        return oks_err_set(r->e, OKS_E_FORMAT, at + 4,
                           "recon: prefix of %u bits carried in %u bytes", nbits, nbytes);
    if (r->len - r->off < nbytes)
        return oks_err_set(r->e, OKS_E_TRUNCATED, at, "recon: prefix truncated");
    memset(b, 0, sizeof *b);
    memcpy(b->b, r->p + r->off, nbytes);
    b->nbits = nbits;
    if (nbits % 8)
        b->b[nbits / 8] &= (uint8_t)(0xff << (8 - nbits % 8)); /* unused bits are zero */
    r->off += nbytes;
    return 0;
}

static int cmp_words(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(oks_zzp));
}

/* ZSet / ZZp array: count + count x 17 bytes */
static int rd_zset(rd *r, oks_zzp **out, size_t *n, int dedup)
{
    uint32_t cnt;
    size_t at = r->off;
    int rc = rd_int(r, &cnt, "element count");
    if (rc)
        return rc;
    if (cnt > r->lim->max_elements)
        return oks_err_set(r->e, OKS_E_LIMIT, at, "recon: %u elements over the limit %u", cnt,
                           r->lim->max_elements);
    if ((r->len - r->off) / OKS_ZZP_BYTES < cnt)
        return oks_err_set(r->e, OKS_E_TRUNCATED, at,
                           "recon: %u elements announced, %zu bytes remain", cnt,
                           r->len - r->off);
    oks_zzp *v = oks_xmalloc(cnt ? cnt * sizeof *v : 1);
    for (uint32_t i = 0; i < cnt; i++) {
        v[i] = oks_zzp_from_bytes(r->p + r->off);
        r->off += OKS_ZZP_BYTES;
    }
    size_t k = cnt;
    if (dedup && cnt > 1) {
        /* any total order finds duplicates; the raw words are cheapest */
        qsort(v, cnt, sizeof *v, cmp_words);
        k = 1;
        for (uint32_t i = 1; i < cnt; i++)
            if (!oks_zzp_eq(v[i], v[k - 1]))
                v[k++] = v[i];
    }
    *out = v;
    *n = k;
    return 0;
}

int oks_recon_msg_parse(const uint8_t *p, size_t len, const oks_recon_limits *lim,
                        oks_recon_msg *out, oks_err *e)
{
    oks_recon_msg_init(out, -1);
    if (len < 1)
        return oks_err_set(e, OKS_E_TRUNCATED, 0, "recon: empty message");
    rd r = {p, len, 1, lim, e};
    int rc = 0;
    out->type = p[0];
    switch (p[0]) {
    case OKS_RECON_RQST_POLY: {
        oks_zzp *s = NULL;
        size_t n = 0;
        size_t at;
        rc = rd_bits(&r, &out->prefix);
        if (rc == 0)
            rc = rd_int(&r, &out->size, "poly size");
        at = r.off;
        if (rc == 0)
            rc = rd_zset(&r, &s, &n, 0);
        if (rc == 0 && n != OKS_RECON_SAMPLES)
            rc = oks_err_set(e, OKS_E_FORMAT, at, "recon: %zu sample values (expected %d)", n,
                             OKS_RECON_SAMPLES);
        if (rc == 0)
            memcpy(out->samples, s, sizeof out->samples);
        free(s);
        break;
    }
    case OKS_RECON_RQST_FULL:
        rc = rd_bits(&r, &out->prefix);
        if (rc == 0)
            rc = rd_zset(&r, &out->elems, &out->nelems, 1);
        break;
    case OKS_RECON_ELEMENTS:
    case OKS_RECON_FULL_ELEMENTS:
        rc = rd_zset(&r, &out->elems, &out->nelems, 1);
        break;
    case OKS_RECON_SYNC_FAIL:
    case OKS_RECON_DONE:
    case OKS_RECON_FLUSH:
        break;
    case OKS_RECON_ERROR:
    case OKS_RECON_DB_RQST:
    case OKS_RECON_DB_REPL:
        rc = rd_string(&r, &out->text, &out->text_len, "text");
        break;
    case OKS_RECON_CONFIG: {
        uint32_t n;
        rc = rd_int(&r, &n, "config count");
        if (rc)
            break;
        if (n > lim->max_config) {
            rc = oks_err_set(e, OKS_E_LIMIT, 1, "recon: %u config entries (max %u)", n,
                             lim->max_config);
            break;
        }
        out->kv = oks_xcalloc(n ? n : 1, sizeof *out->kv);
        for (uint32_t i = 0; i < n && rc == 0; i++) {
            uint32_t kl;
            rc = rd_string(&r, &out->kv[i].key, &kl, "config key");
            if (rc == 0) {
                out->nkv = i + 1;
                rc = rd_string(&r, &out->kv[i].value, &out->kv[i].value_len, "config value");
            }
        }
        break;
    }
    default:
        rc = oks_err_set(e, OKS_E_PROTO, 0, "recon: unknown message type %u", p[0]);
    }
    if (rc == 0 && r.off != len)
        rc = oks_err_set(e, OKS_E_FORMAT, r.off, "recon: %zu trailing bytes after %s",
                         len - r.off, oks_recon_type_name(out->type));
    if (rc)
        oks_recon_msg_release(out);
    return rc;
}

static int put_bits(oks_buf *b, const oks_recon_bits *bits)
{
    uint32_t nbytes = (bits->nbits + 7) / 8;
    int rc = oks_buf_put_be32(b, bits->nbits);
    if (rc == 0)
        rc = oks_buf_put_be32(b, nbytes);
    if (rc == 0)
        rc = oks_buf_append(b, bits->b, nbytes);
    return rc;
}

static int put_zset(oks_buf *b, const oks_zzp *v, size_t n)
{
    if (n > UINT32_MAX)
        return OKS_E_LIMIT;
    int rc = oks_buf_put_be32(b, (uint32_t)n);
    if (rc == 0)
        rc = oks_buf_reserve(b, n * OKS_ZZP_BYTES);
    for (size_t i = 0; i < n && rc == 0; i++) {
        oks_zzp_to_bytes(v[i], b->data + b->len);
        b->len += OKS_ZZP_BYTES;
    }
    return rc;
}

static int put_string(oks_buf *b, const void *s, size_t n)
{
    int rc = oks_buf_put_be32(b, (uint32_t)n);
    return rc ? rc : oks_buf_append(b, s, n);
}

/* patches the BE32 length written at `start` to cover everything after it */
static void patch_len(oks_buf *b, size_t start)
{
    uint32_t l = (uint32_t)(b->len - start - 4);
    b->data[start] = (uint8_t)(l >> 24);
    b->data[start + 1] = (uint8_t)(l >> 16);
    b->data[start + 2] = (uint8_t)(l >> 8);
    b->data[start + 3] = (uint8_t)l;
}

int oks_recon_msg_write(oks_buf *out, const oks_recon_msg *m)
{
    size_t start = out->len;
    int rc = oks_buf_put_be32(out, 0);
    if (rc == 0)
        rc = oks_buf_putc(out, (uint8_t)m->type);
    if (rc)
        return rc;
    switch (m->type) {
    case OKS_RECON_RQST_POLY:
        rc = put_bits(out, &m->prefix);
        if (rc == 0)
            rc = oks_buf_put_be32(out, m->size);
        if (rc == 0)
            rc = put_zset(out, m->samples, OKS_RECON_SAMPLES);
        break;
    case OKS_RECON_RQST_FULL:
        rc = put_bits(out, &m->prefix);
        if (rc == 0)
            rc = put_zset(out, m->elems, m->nelems);
        break;
    case OKS_RECON_ELEMENTS:
    case OKS_RECON_FULL_ELEMENTS:
        rc = put_zset(out, m->elems, m->nelems);
        break;
    case OKS_RECON_SYNC_FAIL:
    case OKS_RECON_DONE:
    case OKS_RECON_FLUSH:
        break;
    case OKS_RECON_ERROR:
    case OKS_RECON_DB_RQST:
    case OKS_RECON_DB_REPL:
        rc = put_string(out, m->text ? m->text : "", m->text ? m->text_len : 0);
        break;
    case OKS_RECON_CONFIG:
        rc = oks_buf_put_be32(out, (uint32_t)m->nkv);
        for (size_t i = 0; i < m->nkv && rc == 0; i++) {
            rc = put_string(out, m->kv[i].key, strlen(m->kv[i].key));
            if (rc == 0)
                rc = put_string(out, m->kv[i].value, m->kv[i].value_len);
        }
        break;
    default:
        rc = OKS_E_ARG;
    }
    if (rc) {
        out->len = start;
        return rc;
    }
    patch_len(out, start);
    return 0;
}

int oks_recon_write_set(oks_buf *out, int type, const oks_zzp *elems, size_t n)
{
    oks_recon_msg m;
    oks_recon_msg_init(&m, type);
    m.elems = (oks_zzp *)elems; /* borrowed for the write only */
    m.nelems = n;
    return oks_recon_msg_write(out, &m);
}

int oks_recon_write_empty(oks_buf *out, int type)
{
    oks_recon_msg m;
    oks_recon_msg_init(&m, type);
    return oks_recon_msg_write(out, &m);
}

int oks_recon_write_error(oks_buf *out, const char *text)
{
    oks_recon_msg m;
    oks_recon_msg_init(&m, OKS_RECON_ERROR);
    m.text = (char *)text; /* borrowed */
    m.text_len = (uint32_t)strlen(text);
    return oks_recon_msg_write(out, &m);
}

static int put_kv(oks_buf *b, const char *k, const void *v, size_t n)
{
    int rc = put_string(b, k, strlen(k));
    return rc ? rc : put_string(b, v, n);
}

int oks_recon_config_write(oks_buf *out, const oks_recon_config *c)
{
    size_t start = out->len;
    uint8_t port[4] = {(uint8_t)(c->http_port >> 24), (uint8_t)(c->http_port >> 16),
                       (uint8_t)(c->http_port >> 8), (uint8_t)c->http_port};
    uint8_t bq[4] = {0, 0, 0, (uint8_t)c->bitquantum}, mb[4] = {0, 0, 0, (uint8_t)c->mbar};
    /* sorted by key, as SKS sends them */
    int rc = oks_buf_put_be32(out, 0);
    if (rc == 0)
        rc = oks_buf_putc(out, OKS_RECON_CONFIG);
    if (rc == 0)
        rc = oks_buf_put_be32(out, 5);
    if (rc == 0)
        rc = put_kv(out, "bitquantum", bq, 4);
    if (rc == 0)
        rc = put_kv(out, "filters", c->filters, strlen(c->filters));
    if (rc == 0)
        rc = put_kv(out, "http port", port, 4);
    if (rc == 0)
        rc = put_kv(out, "mbar", mb, 4);
    if (rc == 0)
        rc = put_kv(out, "version", c->version, strlen(c->version));
    if (rc) {
        out->len = start;
        return rc;
    }
    patch_len(out, start);
    return 0;
}

static const oks_recon_kv *find_kv(const oks_recon_msg *m, const char *key)
{
    for (size_t i = 0; i < m->nkv; i++)
        if (strcmp(m->kv[i].key, key) == 0)
            return &m->kv[i];
    return NULL;
}

/* filter lists compared as sets of comma-separated names */
static int filters_equal(const char *a, const char *b)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *x = pass ? b : a, *y = pass ? a : b;
        const char *s = x;
        while (*s) {
            const char *end = strchr(s, ',');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            int found = 0;
            const char *t = y;
            while (*t && !found) {
                const char *tend = strchr(t, ',');
                size_t tn = tend ? (size_t)(tend - t) : strlen(t);
                found = tn == n && memcmp(s, t, n) == 0;
                t = tend ? tend + 1 : t + tn;
            }
            if (!found && n > 0)
                return 0;
            s = end ? end + 1 : s + n;
        }
    }
    return 1;
}

static int version_ok(const char *v)
{
    unsigned a, b, c;
    if (sscanf(v, "%u.%u.%u", &a, &b, &c) != 3)
        return 0;
    return a > 0 || b > 1 || (b == 1 && c >= 5);
}

int oks_recon_config_check(const oks_recon_msg *peer, const oks_recon_config *mine,
                           uint32_t *http_port, oks_err *e)
{
    if (peer->type != OKS_RECON_CONFIG)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "expected Config, got %s",
                           oks_recon_type_name(peer->type));
    const oks_recon_kv *ver = find_kv(peer, "version"), *port = find_kv(peer, "http port"),
                       *bq = find_kv(peer, "bitquantum"), *mb = find_kv(peer, "mbar"),
                       *fl = find_kv(peer, "filters");
    if (!ver || !port || !bq || !mb || !fl)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "Missing entry in configdata");
    if (port->value_len != 4 || bq->value_len != 4 || mb->value_len != 4)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET,
                           "config integer entries must be 4 bytes");
    if (!version_ok(ver->value))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "version %.40s too old or unreadable",
                           ver->value);
    if (oks_be32((const uint8_t *)bq->value) != mine->bitquantum)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "bitquantum %u, expected %u",
                           oks_be32((const uint8_t *)bq->value), mine->bitquantum);
    if (oks_be32((const uint8_t *)mb->value) != mine->mbar)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "mbar %u, expected %u",
                           oks_be32((const uint8_t *)mb->value), mine->mbar);
    if (strlen(fl->value) != fl->value_len || !filters_equal(fl->value, mine->filters))
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET,
                           "filters differ: peer \"%.80s\", ours \"%.80s\"", fl->value,
                           mine->filters);
    uint32_t hp = oks_be32((const uint8_t *)port->value);
    if (hp == 0 || hp > 65535)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "http port %u out of range", hp);
    *http_port = hp;
    return 0;
}

int oks_recon_verdict_write(oks_buf *out, const char *failed_reason)
{
    if (!failed_reason)
        return put_string(out, "passed", 6);
    int rc = put_string(out, "failed", 6);
    return rc ? rc : put_string(out, failed_reason, strlen(failed_reason));
}

/* Tombstones: stored form, order, digest hash (see tomb.h). */
#include "lib/tomb.h"

#include <gcrypt.h>
#include <string.h>

#define TOMB_FORMAT 1
#define TOMB_LIFTED 0x01

static void copy_text(char *dst, size_t max, const char *src, size_t len)
{
    if (len > max)
        len = max;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    dst[len] = '\0';
}

int oks_tomb_init(oks_tomb *t, const uint8_t *fpr, size_t fpr_len, bool lifted,
                  uint64_t stamp_ms, const char *reason, size_t reason_len, const char *who,
                  oks_err *e)
{
    memset(t, 0, sizeof *t);
    if (fpr_len != 20 && fpr_len != 32)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "fingerprint must be 20 or 32 bytes");
    memcpy(t->fpr, fpr, fpr_len);
    t->fpr_len = fpr_len;
    t->lifted = lifted;
    t->stamp_ms = stamp_ms;
    if (!reason || !reason_len) {
        reason = OKS_TOMB_NO_REASON;
        reason_len = strlen(reason);
    }
    copy_text(t->reason, OKS_TOMB_MAX_REASON, reason, reason_len);
    copy_text(t->who, OKS_TOMB_MAX_WHO, who ? who : "-", who ? strlen(who) : 1);
    return 0;
}

int oks_tomb_encode(const oks_tomb *t, oks_buf *out)
{
    size_t wl = strlen(t->who), rl = strlen(t->reason);
    uint8_t h[11];
    h[0] = TOMB_FORMAT;
    h[1] = t->lifted ? TOMB_LIFTED : 0;
    oks_put_be64(h + 2, t->stamp_ms);
    h[10] = (uint8_t)wl;
    uint8_t l[2] = {(uint8_t)(rl >> 8), (uint8_t)rl};
    int r = oks_buf_append(out, h, sizeof h);
    r = r ? r : oks_buf_append(out, t->who, wl);
    r = r ? r : oks_buf_append(out, l, 2);
    return r ? r : oks_buf_append(out, t->reason, rl);
}

int oks_tomb_decode(const uint8_t *p, size_t n, const uint8_t *fpr, size_t fpr_len, oks_tomb *t,
                    oks_err *e)
{
    memset(t, 0, sizeof *t);
    if (fpr_len != 20 && fpr_len != 32)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "tombstone of a %zu-byte fingerprint",
                           fpr_len);
    if (n < 11)
        return oks_err_set(e, OKS_E_TRUNCATED, 0, "tombstone of %zu bytes", n);
    if (p[0] != TOMB_FORMAT || (p[1] & ~TOMB_LIFTED))
        return oks_err_set(e, OKS_E_FORMAT, 0, "tombstone format %u flags %u", p[0], p[1]);
    size_t wl = p[10], o = 11;
    if (wl > OKS_TOMB_MAX_WHO || n - o < wl + 2)
        return oks_err_set(e, OKS_E_TRUNCATED, o, "tombstone: who of %zu bytes", wl);
    memcpy(t->who, p + o, wl);
    o += wl;
    size_t rl = (size_t)p[o] << 8 | p[o + 1];
    o += 2;
    if (rl > OKS_TOMB_MAX_REASON || n - o != rl)
        return oks_err_set(e, OKS_E_FORMAT, o, "tombstone: reason of %zu bytes (%zu left)", rl,
                           n - o);
    memcpy(t->reason, p + o, rl);
    if (memchr(t->who, 0, wl) || memchr(t->reason, 0, rl))
        return oks_err_set(e, OKS_E_FORMAT, o, "tombstone: NUL in a text");
    memcpy(t->fpr, fpr, fpr_len);
    t->fpr_len = fpr_len;
    t->lifted = p[1] & TOMB_LIFTED;
    t->stamp_ms = oks_be64(p + 2);
    return 0;
}

int oks_tomb_cmp(const oks_tomb *a, const oks_tomb *b)
{
    if (a->stamp_ms != b->stamp_ms)
        return a->stamp_ms > b->stamp_ms ? 1 : -1;
    if (a->lifted != b->lifted)
        return a->lifted ? -1 : 1; /* a delete wins a tie */
    int c = strcmp(a->reason, b->reason);
    if (!c)
        c = strcmp(a->who, b->who);
    return c > 0 ? 1 : c < 0 ? -1 : 0;
}

void oks_tomb_hash(const oks_tomb *t, uint8_t out[16])
{
    oks_buf b = OKS_BUF_INIT;
    oks_buf_append(&b, t->fpr, t->fpr_len);
    oks_tomb_encode(t, &b);
    gcry_md_hash_buffer(GCRY_MD_MD5, out, b.data, b.len);
    oks_buf_release(&b);
}

/* Growable byte buffers and hex helpers (see buf.h). */
#include "lib/buf.h"

#include "lib/err.h"
#include "lib/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oks_buf_init(oks_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void oks_buf_release(oks_buf *b)
{
    free(b->data);
    oks_buf_init(b);
}

uint8_t *oks_buf_detach(oks_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    oks_buf_init(b);
    return p;
}

int oks_buf_reserve(oks_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        oks_oom(SIZE_MAX, "a buffer past the address space");
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = oks_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int oks_buf_append(oks_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return oks_buf_reserve(b, 0);
    int r = oks_buf_reserve(b, n);
    if (r)
        return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int oks_buf_putc(oks_buf *b, uint8_t c)
{
    return oks_buf_append(b, &c, 1);
}

int oks_buf_put_be16(oks_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return oks_buf_append(b, x, 2);
}

int oks_buf_put_be32(oks_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return oks_buf_append(b, x, 4);
}

int oks_buf_printf(oks_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return OKS_E_FORMAT;
    int r = oks_buf_reserve(b, (size_t)n);
    if (r)
        return r;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int oks_buf_terminate(oks_buf *b)
{
    int r = oks_buf_reserve(b, 0);
    if (r)
        return r;
    b->data[b->len] = '\0';
    return 0;
}

void oks_hex(char *out, const uint8_t *p, size_t n, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int oks_unhex(uint8_t *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

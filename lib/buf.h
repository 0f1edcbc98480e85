/*
 * Byte slices and growable buffers. An oks_slice borrows bytes (never freed through it);
 * an oks_buf owns its bytes (oks_buf_release frees them, oks_buf_detach hands them over).
 * Growing a buffer cannot fail: out of memory aborts the process (lib/xalloc.h), so the int
 * results below are 0 (oks_buf_printf: OKS_E_FORMAT for a format vsnprintf rejects).
 */
#ifndef OKS_BUF_H
#define OKS_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct oks_slice {
    const uint8_t *ptr;
    size_t len;
} oks_slice;

typedef struct oks_buf {
    uint8_t *data;
    size_t len, cap;
} oks_buf;

#define OKS_BUF_INIT {NULL, 0, 0}

static inline oks_slice oks_slice_of(const void *p, size_t n)
{
    return (oks_slice){(const uint8_t *)p, n};
}

void oks_buf_init(oks_buf *b);
void oks_buf_release(oks_buf *b);
/* Returns the owned bytes (caller frees with free()) and leaves b empty. */
uint8_t *oks_buf_detach(oks_buf *b, size_t *len);
int oks_buf_reserve(oks_buf *b, size_t extra);
int oks_buf_append(oks_buf *b, const void *p, size_t n);
int oks_buf_putc(oks_buf *b, uint8_t c);
int oks_buf_printf(oks_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int oks_buf_put_be16(oks_buf *b, uint16_t v);
int oks_buf_put_be32(oks_buf *b, uint32_t v);
/* Keeps a NUL after the last byte (not counted in len), so data can be used as a C string. */
int oks_buf_terminate(oks_buf *b);

static inline uint16_t oks_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t oks_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t oks_be64(const uint8_t *p)
{
    return ((uint64_t)oks_be32(p) << 32) | oks_be32(p + 4);
}
/* Writes v big-endian into p[0..7]. */
static inline void oks_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Lowercase/uppercase hex of n bytes into out (2n+1 bytes). */
void oks_hex(char *out, const uint8_t *p, size_t n, int upper);
/* Parses exactly 2n hex digits (any case); returns 0 or -1. */
int oks_unhex(uint8_t *out, const char *hex, size_t n);

#endif

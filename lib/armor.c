/*
 * ASCII armor for public key blocks (RFC 4880 / RFC 9580 section 6, protocols.md 1.9): decoding
 * one block at a time out of arbitrary text (headers, CRLF or LF, trailing whitespace, CRC-24
 * optional but checked when present) and encoding with 64-column lines and a CRC.
 */
#include "lib/pgp.h"

#include <pthread.h>
#include <string.h>

static const char BEGIN[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
static const char END[] = "-----END PGP PUBLIC KEY BLOCK-----";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* CRC-24 a byte at a time through a table built once (8 times faster than bit by bit, which
 * showed up in profiles of op=get on large keys). */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t crc = b << 16;
        for (int k = 0; k < 8; k++) {
            crc <<= 1;
            if (crc & 0x1000000)
                crc ^= 0x1864cfb;
        }
        crc_table[b] = crc & 0xffffff;
    }
}

static uint32_t crc24(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    for (size_t i = 0; i < n; i++)
        crc = ((crc << 8) ^ crc_table[((crc >> 16) ^ p[i]) & 0xff]) & 0xffffff;
    return crc;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* A line [*s, *e) starting at o (without its line end, trailing whitespace trimmed); returns
 * the offset of the next line. */
static size_t line_at(const char *t, size_t len, size_t o, size_t *s, size_t *e)
{
    size_t i = o;
    while (i < len && t[i] != '\n')
        i++;
    size_t end = i;
    while (end > o && (t[end - 1] == '\r' || t[end - 1] == ' ' || t[end - 1] == '\t'))
        end--;
    *s = o;
    *e = end;
    return i < len ? i + 1 : len;
}

static bool line_is(const char *t, size_t s, size_t e, const char *what)
{
    size_t wl = strlen(what);
    /* leading whitespace before the armor line is tolerated */
    while (s < e && (t[s] == ' ' || t[s] == '\t'))
        s++;
    return e - s == wl && memcmp(t + s, what, wl) == 0;
}

static int decode_block(const char *text, size_t len, size_t *off, oks_buf *out, oks_err *e)
{
    size_t o = *off, s, le;
    /* find the BEGIN line */
    for (;;) {
        if (o >= len)
            return 1;
        size_t next = line_at(text, len, o, &s, &le);
        if (line_is(text, s, le, BEGIN)) {
            o = next;
            break;
        }
        o = next;
    }
    size_t begin_at = s;
    *off = o; /* on error the caller goes on after the BEGIN line */
    /* header lines "Key: value" up to a blank line; a missing blank line is tolerated when
     * the first line after BEGIN is not a header */
    bool headers = true;
    size_t start = out->len;
    uint32_t acc = 0;
    int nbits = 0;
    bool pad = false, have_crc = false;
    uint8_t crc_bytes[3] = {0, 0, 0};
    while (o < len || headers) {
        if (o >= len)
            break;
        size_t next = line_at(text, len, o, &s, &le);
        if (headers) {
            if (le == s) {
                headers = false;
                o = next;
                continue;
            }
            if (memchr(text + s, ':', le - s)) {
                o = next;
                continue;
            }
            headers = false;
        }
        if (line_is(text, s, le, END)) {
            if (nbits >= 6)
                return oks_err_set(e, OKS_E_ARMOR, s, "base64 data ends with stray bits");
            size_t got = out->len - start;
            if (got == 0) /* checked first: out->data may still be NULL */
                return oks_err_set(e, OKS_E_ARMOR, begin_at, "armor block holds no data");
            if (have_crc && crc24(0xb704ce, out->data + start, got) !=
                                    ((uint32_t)crc_bytes[0] << 16 | crc_bytes[1] << 8 | crc_bytes[2]))
                return oks_err_set(e, OKS_E_CRC, begin_at, "armor CRC-24 does not match the data");
            *off = next;
            return 0;
        }
        if (le == s) {
            o = next;
            continue;
        }
        if (have_crc)
            return oks_err_set(e, OKS_E_ARMOR, s, "data after the armor checksum line");
        if (text[s] == '=') {
            uint8_t c4[4];
            if (le - s != 5)
                return oks_err_set(e, OKS_E_ARMOR, s, "armor checksum line is malformed");
            for (int i = 0; i < 4; i++) {
                int v = b64val((unsigned char)text[s + 1 + i]);
                if (v < 0)
                    return oks_err_set(e, OKS_E_ARMOR, s + 1 + i, "bad base64 in checksum");
                c4[i] = (uint8_t)v;
            }
            crc_bytes[0] = (uint8_t)(c4[0] << 2 | c4[1] >> 4);
            crc_bytes[1] = (uint8_t)(c4[1] << 4 | c4[2] >> 2);
            crc_bytes[2] = (uint8_t)(c4[2] << 6 | c4[3]);
            have_crc = true;
            o = next;
            continue;
        }
        if (oks_buf_reserve(out, (le - s) * 3 / 4 + 3))
            return oks_err_set(e, OKS_E_NOMEM, s, "out of memory");
        for (size_t i = s; i < le; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c == '=') {
                pad = true;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r')
                continue;
            int v = b64val(c);
            if (v < 0 || pad)
                return oks_err_set(e, OKS_E_ARMOR, i, "bad base64 character 0x%02x", c);
            acc = acc << 6 | (uint32_t)v;
            nbits += 6;
            if (nbits >= 8) {
                nbits -= 8;
                out->data[out->len++] = (uint8_t)(acc >> nbits);
            }
        }
        o = next;
    }
    return oks_err_set(e, OKS_E_ARMOR, begin_at, "armor block has no END line");
}

int oks_armor_decode(const char *text, size_t len, size_t *off, oks_buf *out, oks_err *e)
{
    size_t start = out->len;
    int r = decode_block(text, len, off, out, e);
    if (r < 0)
        out->len = start;
    return r;
}

int oks_armor_encode(const uint8_t *p, size_t n, oks_buf *out)
{
    int r = oks_buf_reserve(out, n * 4 / 3 + n / 48 + 128);
    if (r)
        return r;
    oks_buf_printf(out, "%s\n\n", BEGIN);
    /* 4 characters per 3 bytes, a newline per 64 characters, then CRC and END line */
    size_t body = (n + 2) / 3 * 4, need = body + body / 64 + 2 + sizeof END + 8;
    if (oks_buf_reserve(out, need))
        return OKS_E_NOMEM;
    char *w = (char *)out->data + out->len;
    size_t col = 0;
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t k = n - i;
        if (k > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (k > 2)
            v |= p[i + 2];
        w[0] = B64[v >> 18 & 63];
        w[1] = B64[v >> 12 & 63];
        w[2] = k > 1 ? B64[v >> 6 & 63] : '=';
        w[3] = k > 2 ? B64[v & 63] : '=';
        w += 4;
        col += 4;
        if (col == 64) {
            *w++ = '\n';
            col = 0;
        }
    }
    if (col)
        *w++ = '\n';
    out->len = (size_t)(w - (char *)out->data);
    uint32_t c = crc24(0xb704ce, p, n);
    q[0] = B64[c >> 18 & 63];
    q[1] = B64[c >> 12 & 63];
    q[2] = B64[c >> 6 & 63];
    q[3] = B64[c & 63];
    oks_buf_putc(out, '=');
    oks_buf_append(out, q, 4);
    return oks_buf_printf(out, "\n%s\n", END);
}

int oks_base64_decode(const uint8_t *s, size_t n, oks_buf *out)
{
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' || s[i] == '\n' || s[i] == '\r' || s[i] == ' ')
            continue;
        int v = b64val(s[i]);
        if (v < 0)
            return OKS_E_FORMAT;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (oks_buf_putc(out, (uint8_t)(acc >> bits)))
                return OKS_E_NOMEM;
        }
    }
    return 0;
}

bool oks_armor_detect(const uint8_t *p, size_t n)
{
    /* binary key material starts with a packet header (bit 7 set); text does not, and may put
     * anything before the armor: mail headers and a greeting, a web page, a form dump */
    if (n == 0 || (p[0] & 0x80))
        return false;
    return memmem(p, n, "-----BEGIN PGP", 14) != NULL;
}

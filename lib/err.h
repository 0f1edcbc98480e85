/*
 * oks_err: how every OKS function reports failure. A function returns 0 on success or a
 * negative OKS_E_* code, and fills the caller's oks_err (may be NULL) with the same code, the
 * byte offset in the input where the problem was found (or OKS_NO_OFFSET) and a message that
 * names what was wrong. Bad input is never an abort: it is an error like any other.
 */
#ifndef OKS_ERR_H
#define OKS_ERR_H

#include <stddef.h>
#include <stdint.h>

enum {
    OKS_OK = 0,
    OKS_E_NOMEM = -1,       /* allocation failed */
    OKS_E_TRUNCATED = -2,   /* input ends inside a structure, or a length runs past the end */
    OKS_E_FORMAT = -3,      /* malformed structure (bad header, bad field value) */
    OKS_E_LIMIT = -4,       /* a configured limit (size, count) was exceeded */
    OKS_E_UNSUPPORTED = -5, /* well-formed but not supported (version, algorithm) */
    OKS_E_ARMOR = -6,       /* ASCII armor could not be decoded */
    OKS_E_CRC = -7,         /* armor checksum mismatch */
    OKS_E_NOTKEY = -8,      /* packet structure that is not a public key */
    OKS_E_SECRET = -9,      /* secret key material offered: refused */
    OKS_E_BADSIG = -10,     /* a signature did not verify */
    OKS_E_NOTFOUND = -11,
    OKS_E_IO = -12,         /* I/O or storage error */
    OKS_E_ARG = -13,        /* invalid argument from the caller */
    OKS_E_STATE = -14,      /* wrong state (e.g. shard does not own a slot) */
    OKS_E_TIMEOUT = -15,
    OKS_E_UNAVAILABLE = -16,/* a needed server is down */
    OKS_E_PROTO = -17,      /* peer violated a wire protocol */
};

#define OKS_NO_OFFSET SIZE_MAX

typedef struct oks_err {
    int code;
    size_t offset;
    char msg[240];
} oks_err;

/* Static name of an error code ("truncated", "limit", ...). */
const char *oks_strerror(int code);

/* Fills e (if not NULL) and returns code, so callers can `return oks_err_set(e, ...)`. */
int oks_err_set(oks_err *e, int code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void oks_err_clear(oks_err *e)
{
    if (e) {
        e->code = 0;
        e->offset = OKS_NO_OFFSET;
        e->msg[0] = '\0';
    }
}

/* "message (at byte N)" into buf; returns buf. */
const char *oks_err_format(const oks_err *e, char *buf, size_t size);

#endif

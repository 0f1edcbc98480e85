/* Error codes and messages shared by every module (see err.h). */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *oks_strerror(int code)
{
    switch (code) {
    case OKS_OK: return "ok";
    case OKS_E_NOMEM: return "out of memory";
    case OKS_E_TRUNCATED: return "truncated";
    case OKS_E_FORMAT: return "malformed";
    case OKS_E_LIMIT: return "limit exceeded";
    case OKS_E_UNSUPPORTED: return "unsupported";
    case OKS_E_ARMOR: return "bad armor";
    case OKS_E_CRC: return "armor checksum mismatch";
    case OKS_E_NOTKEY: return "not a public key";
    case OKS_E_SECRET: return "secret key material";
    case OKS_E_BADSIG: return "bad signature";
    case OKS_E_NOTFOUND: return "not found";
    case OKS_E_IO: return "I/O error";
    case OKS_E_ARG: return "invalid argument";
    case OKS_E_STATE: return "wrong state";
    case OKS_E_TIMEOUT: return "timeout";
    case OKS_E_UNAVAILABLE: return "unavailable";
    case OKS_E_PROTO: return "protocol error";
    }
    return "unknown error";
}

int oks_err_set(oks_err *e, int code, size_t offset, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        e->offset = offset;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *oks_err_format(const oks_err *e, char *buf, size_t size)
{
    if (!e || e->code == 0)
        snprintf(buf, size, "ok");
    else if (e->offset == OKS_NO_OFFSET)
        snprintf(buf, size, "%s: %s", oks_strerror(e->code), e->msg);
    else
        snprintf(buf, size, "%s: %s (at byte %zu)", oks_strerror(e->code), e->msg, e->offset);
    return buf;
}

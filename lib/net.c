/* HOST:PORT text (see net.h). */
#include "lib/net.h"

#include <string.h>

int oks_port_parse(const char *s, size_t len)
{
    long p = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        p = p * 10 + (s[i] - '0');
    }
    return p >= 1 && p <= 65535 ? (int)p : -1;
}

int oks_hostport_split(const char *s, char *host, size_t hsize, unsigned *port, oks_err *e)
{
    const char *h = s, *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "'%s' is not [ADDRESS]:PORT (no ']:' after the address)", s);
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
        if (memchr(h, '[', hl))
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%s': '[' inside the address", s);
    } else {
        colon = strchr(s, ':');
        if (!colon)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%s' is not HOST:PORT (no port)",
                               s);
        if (strchr(colon + 1, ':'))
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "'%s': an IPv6 address is written [ADDRESS]:PORT", s);
        hl = (size_t)(colon - s);
        if (memchr(s, ']', hl))
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%s': ']' without '['", s);
    }
    if (hl == 0)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%s' is not HOST:PORT (no host)", s);
    if (hl >= hsize)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "'%s': the host is longer than %zu bytes", s, hsize - 1);
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "'%s': a space or control character in the host", s);
    int p = oks_port_parse(colon + 1, strlen(colon + 1));
    if (p < 0)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "'%s': the port must be a number from 1 to 65535", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}

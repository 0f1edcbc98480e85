/* HOST:PORT text and address networks (see net.h). */
#include "lib/net.h"

#include <arpa/inet.h>
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

/* ---- networks ----------------------------------------------------------------------------- */

static bool addr_parse(const char *s, unsigned char out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return true;
    }
    return inet_pton(AF_INET6, s, out) == 1;
}

int oks_net_parse(const char *s, size_t len, oks_net *out, oks_err *e)
{
    char w[INET6_ADDRSTRLEN + 8];
    if (len == 3 && memcmp(s, "any", 3) == 0) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    if (len == 0 || len >= sizeof w)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%.*s' is not a network",
                           (int)(len < 64 ? len : 64), s);
    memcpy(w, s, len);
    w[len] = '\0';
    char *slash = strchr(w, '/');
    if (slash)
        *slash = '\0';
    oks_net n;
    if (!addr_parse(w, n.addr))
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "'%.*s' is not an IPv4 or IPv6 address or network", (int)len, s);
    bool v4 = !strchr(w, ':');
    unsigned max = v4 ? 32 : 128, bits = max;
    if (slash) {
        const char *d = slash + 1;
        size_t dl = strlen(d);
        long b = 0;
        if (dl == 0 || dl > 3 || strspn(d, "0123456789") != dl)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "'%.*s': bad prefix length",
                               (int)len, s);
        for (size_t i = 0; i < dl; i++)
            b = b * 10 + (d[i] - '0');
        if (b > (long)max)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "'%.*s': prefix length over %u", (int)len, s, max);
        bits = (unsigned)b;
    }
    n.bits = v4 ? bits + 96 : bits;
    for (unsigned i = n.bits; i < 128; i++)
        if (n.addr[i / 8] & (0x80u >> (i % 8)))
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "'%.*s': address bits set past the prefix length", (int)len, s);
    if (v4 && bits == 0)
        n.bits = 96; /* 0.0.0.0/0: every IPv4 address, not every address */
    *out = n;
    return 0;
}

static bool net_contains(const oks_net *n, const unsigned char a[16])
{
    unsigned full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->addr, a, full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return (n->addr[full] & mask) == (a[full] & mask);
}

/* Calls fn for each word of list; stops at the first nonzero return and passes it on. */
static int nets_each(const char *list, int (*fn)(const char *, size_t, void *), void *arg)
{
    for (const char *p = list; *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (!len)
            break;
        int r = fn(p, len, arg);
        if (r)
            return r;
        p += len;
    }
    return 0;
}

static int check_one(const char *s, size_t len, void *arg)
{
    oks_net n;
    return oks_net_parse(s, len, &n, arg);
}

int oks_nets_check(const char *list, oks_err *e)
{
    return nets_each(list, check_one, e);
}

static int match_one(const char *s, size_t len, void *arg)
{
    oks_net n;
    oks_err ignored;
    return !oks_net_parse(s, len, &n, &ignored) && net_contains(&n, arg);
}

bool oks_nets_match(const char *list, const char *addr)
{
    unsigned char a[16];
    return list && addr_parse(addr, a) && nets_each(list, match_one, a) == 1;
}

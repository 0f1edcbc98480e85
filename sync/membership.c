/*
 * sync/membership: SKS-compatible membership file (see membership.h).
 */
#include "sync/membership.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "lib/net.h"

/* dotted IPv4 of host when it is an address, else "" (no look-up) */
static void numeric(const char *host, char ip[16])
{
    struct in_addr a;
    ip[0] = '\0';
    if (inet_pton(AF_INET, host, &a) == 1)
        inet_ntop(AF_INET, &a, ip, 16);
}

static int resolve(const char *host, char ip[16])
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, 16);
    freeaddrinfo(res);
    return 0;
}

size_t oks_sync_members_unresolved(const oks_sync_members *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->v[i].ip[0] == '\0';
    return n;
}

size_t oks_sync_members_resolve(oks_sync_members *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        oks_sync_member *mb = &m->v[i];
        if (mb->ip[0])
            continue;
        if (resolve(mb->host, mb->ip) == 0)
            n++;
        else
            oks_warn("membership: cannot resolve %s; it is kept and looked up again at reload",
                     mb->host);
    }
    return n;
}

/* adds host (hl bytes) and port (-1: malformed); 0, or -1 if malformed or full */
static int add_member(oks_sync_members *m, const char *host, size_t hl, int p)
{
    if (p < 0 || hl == 0 || hl >= sizeof m->v[0].host || m->n >= OKS_SYNC_MAX_MEMBERS)
        return -1;
    oks_sync_member *mb = &m->v[m->n];
    memcpy(mb->host, host, hl);
    mb->host[hl] = '\0';
    mb->port = p;
    char label[sizeof mb->label];
    snprintf(label, sizeof label, "%.*s:%d", (int)hl, host, p);
    memcpy(mb->label, label, sizeof label);
    numeric(mb->host, mb->ip);
    m->n++;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int oks_sync_members_parse(const char *text, size_t len, const char *what, oks_sync_members *m)
{
    m->n = m->malformed = 0;
    size_t off = 0, lineno = 0;
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - text) : len, next = nl ? end + 1 : len;
        lineno++;
        const char *hash = memchr(text + off, '#', end - off);
        if (hash)
            end = (size_t)(hash - text);
        /* words of the line, up to the first two; a NUL byte makes the line malformed */
        const char *w[2] = {NULL, NULL};
        size_t wl[2] = {0, 0}, nw = 0, i = off;
        int has_nul = memchr(text + off, '\0', end - off) != NULL;
        while (i < end && nw < 2) {
            while (i < end && is_space(text[i]))
                i++;
            if (i == end)
                break;
            w[nw] = text + i;
            while (i < end && !is_space(text[i]))
                i++;
            wl[nw] = (size_t)(text + i - w[nw]);
            nw++;
        }
        if (nw == 0 && !has_nul) {
            off = next;
            continue;
        }
        if (nw < 2 || has_nul || add_member(m, w[0], wl[0], oks_port_parse(w[1], wl[1])) != 0) {
            m->malformed++;
            oks_warn("membership %s line %zu: malformed entry skipped (expected \"HOST PORT\"%s)",
                     what, lineno, m->n >= OKS_SYNC_MAX_MEMBERS ? ", or too many members" : "");
        }
        off = next;
    }
    return 0;
}

int oks_sync_members_load(const char *path, oks_sync_members *m, oks_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "membership %s: %s", path,
                           strerror(errno));
    char *buf = oks_xmalloc(OKS_SYNC_MEMBERSHIP_MAX_BYTES + 1);
    size_t n = fread(buf, 1, OKS_SYNC_MEMBERSHIP_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc = 0;
    if (bad)
        rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "membership %s: read error", path);
    else if (n > OKS_SYNC_MEMBERSHIP_MAX_BYTES)
        rc = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "membership %s: larger than %d bytes",
                         path, OKS_SYNC_MEMBERSHIP_MAX_BYTES);
    else
        oks_sync_members_parse(buf, n, path, m);
    free(buf);
    return rc;
}

int oks_sync_members_add(oks_sync_members *m, const char *hostport, oks_err *e)
{
    char host[sizeof m->v[0].host];
    unsigned port;
    oks_err pe;
    if (oks_hostport_split(hostport, host, sizeof host, &port, &pe) != 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "partner: %s", pe.msg);
    if (add_member(m, host, strlen(host), (int)port) != 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "partner \"%s\": more than %d members",
                           hostport, OKS_SYNC_MAX_MEMBERS);
    return 0;
}

int oks_sync_members_find_ip(const oks_sync_members *m, const char *ip)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].ip[0] && strcmp(m->v[i].ip, ip) == 0)
            return (int)i;
    return -1;
}

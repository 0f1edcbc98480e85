/*
 * sync/peer: sockets, keyring trees and the hashquery client (see peer.h). The HTTP client is
 * deliberately minimal: HTTP/1.0, one request per connection, body read to EOF, as SKS does.
 */
#include "sync/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/pgp.h"

static int wait_ev(int fd, short ev, int timeout_ms)
{
    struct pollfd p = {fd, ev, 0};
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r;
}

int oks_sync_connect_start(const char *hostport, oks_err *e)
{
    char host[64];
    unsigned port;
    oks_err pe;
    if (oks_hostport_split(hostport, host, sizeof host, &port, &pe) != 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "peer: %s", pe.msg);
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    struct sockaddr *sa = (struct sockaddr *)&sa4;
    socklen_t sl = sizeof sa4;
    if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
        sa = (struct sockaddr *)&sa6;
        sl = sizeof sa6;
    } else if (inet_pton(AF_INET, host, &sa4.sin_addr) != 1) {
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "peer \"%s\": not an IPv4 or [IPv6] address", hostport);
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "socket: %s", strerror(errno));
    if (connect(fd, sa, sl) != 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "connect %s: %s", hostport,
                           strerror(err));
    }
    return fd;
}

int oks_sync_connect(const char *hostport, int timeout_ms, oks_err *e)
{
    int fd = oks_sync_connect_start(hostport, e);
    if (fd < 0)
        return fd;
    int soerr = 0;
    socklen_t el = sizeof soerr;
    if (wait_ev(fd, POLLOUT, timeout_ms) <= 0) {
        close(fd);
        return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "connect %s: timed out", hostport);
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
    if (soerr) {
        close(fd);
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "connect %s: %s", hostport,
                           strerror(soerr));
    }
    return fd;
}

int oks_sync_listen(int port, int backlog, oks_err *e)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (ls < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "socket: %s", strerror(errno));
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, backlog) != 0) {
        int err = errno;
        close(ls);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "listen on recon port %d: %s", port,
                           strerror(err));
    }
    return ls;
}

int oks_sync_accept_one(int port, int timeout_ms, oks_err *e)
{
    int ls = oks_sync_listen(port, 4, e);
    if (ls < 0)
        return ls;
    if (wait_ev(ls, POLLIN, timeout_ms) <= 0) {
        close(ls);
        return oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "no connection within %d ms",
                           timeout_ms);
    }
    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int err = errno;
    close(ls);
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "accept: %s", strerror(err));
    return fd;
}

int oks_sync_tree_add_keyring(oks_ptree *t, const char *path, size_t *n, oks_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: %s", path, strerror(errno));
    oks_buf b = OKS_BUF_INIT;
    uint8_t chunk[65536];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = oks_buf_append(&b, chunk, got);
    fclose(f);
    if (rc) {
        oks_buf_release(&b);
        return oks_err_set(e, rc, OKS_NO_OFFSET, "%s: out of memory", path);
    }
    size_t off = 0;
    *n = 0;
    for (;;) {
        oks_slice k;
        oks_err ke;
        int r = oks_pgp_split_next(b.data, b.len, &off, &k, &ke);
        if (r == 1)
            break;
        if (r < 0)
            continue;
        oks_pgp_key *key = NULL;
        if (oks_pgp_key_parse(k.ptr, k.len, NULL, OKS_PGP_TRUSTED, &key, &ke) != 0)
            continue;
        uint8_t h[16];
        oks_pgp_key_sks_hash(key, h);
        oks_pgp_key_free(key);
        r = oks_ptree_insert(t, h, e);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == 0)
            (*n)++;
    }
    oks_buf_release(&b);
    return rc;
}

int oks_sync_hashquery_request(oks_buf *req, const uint8_t (*h)[16], size_t n)
{
    int rc = oks_buf_printf(req, "POST /pks/hashquery HTTP/1.0\r\ncontent-length: %zu\r\n\r\n",
                            4 + n * 20);
    if (rc == 0)
        rc = oks_buf_put_be32(req, (uint32_t)n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = oks_buf_put_be32(req, 16);
        if (rc == 0)
            rc = oks_buf_append(req, h[i], 16);
    }
    return rc;
}

int oks_sync_http_body(const uint8_t *resp, size_t len, oks_buf *out, oks_err *e)
{
    /* status line "HTTP/x.y 2.." then headers up to CRLFCRLF */
    const uint8_t *end = len ? memmem(resp, len, "\r\n\r\n", 4) : NULL;
    if (len < 12 || memcmp(resp, "HTTP/", 5) != 0 || !end)
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "hashquery: not an HTTP answer");
    if (resp[9] != '2')
        return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET, "hashquery: status %.3s", resp + 9);
    if (oks_buf_append(out, end + 4, len - (size_t)(end + 4 - resp)))
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "hashquery: out of memory");
    return 0;
}

int oks_sync_hashquery(const char *host, int port, const uint8_t (*h)[16], size_t n,
                       int timeout_ms, oks_buf *out, oks_err *e)
{
    char hp[96];
    snprintf(hp, sizeof hp, "%s:%d", host, port);
    int fd = oks_sync_connect(hp, timeout_ms, e);
    if (fd < 0)
        return fd;
    oks_buf req = OKS_BUF_INIT, resp = OKS_BUF_INIT;
    int rc = oks_sync_hashquery_request(&req, h, n);
    size_t off = 0;
    while (rc == 0 && off < req.len) {
        ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_ev(fd, POLLOUT, timeout_ms) <= 0)
                rc = oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "hashquery: write timed out");
        } else
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "hashquery: send: %s", strerror(errno));
    }
    while (rc == 0) {
        if (wait_ev(fd, POLLIN, timeout_ms) <= 0) {
            rc = oks_err_set(e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "hashquery: read timed out");
            break;
        }
        if ((rc = oks_buf_reserve(&resp, 65536)) != 0)
            break;
        ssize_t r = recv(fd, resp.data + resp.len, 65536, 0);
        if (r == 0)
            break;
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "hashquery: recv: %s", strerror(errno));
        else
            resp.len += (size_t)r;
    }
    close(fd);
    if (rc == 0)
        rc = oks_sync_http_body(resp.data, resp.len, out, e);
    oks_buf_release(&req);
    oks_buf_release(&resp);
    return rc;
}

/*
 * sync/peer: what a recon session needs around it: TCP connect/accept with timeouts (loopback
 * or any numeric address), a tree built from keyring files (the SKS hash of every key as
 * parsed, for standalone sessions and interoperability tests), and the HKP /pks/hashquery
 * client that fetches keys by hash from a peer (protocols.md §1.11).
 */
#ifndef OKS_SYNC_PEER_H
#define OKS_SYNC_PEER_H

#include "lib/buf.h"
#include "lib/err.h"
#include "sync/ptree.h"

/* "IPV4:PORT" or "[IPV6]:PORT" (numeric) -> connected socket, or a negative error. */
int oks_sync_connect(const char *hostport, int timeout_ms, oks_err *e);
/* The same without waiting: a non-blocking socket whose connection may still be under way (it
 * becomes writable when connected; a failure shows as the error of the first send or recv). */
int oks_sync_connect_start(const char *hostport, oks_err *e);
/* A non-blocking listening socket on 127.0.0.1:port (SO_REUSEADDR), or a negative error. */
int oks_sync_listen(int port, int backlog, oks_err *e);
/* Listens on 127.0.0.1:port and accepts one connection within timeout_ms. */
int oks_sync_accept_one(int port, int timeout_ms, oks_err *e);
/* Adds the SKS hash of every key of a binary keyring file; *n = keys added. */
int oks_sync_tree_add_keyring(oks_ptree *t, const char *path, size_t *n, oks_err *e);
/* POSTs the hashes to http://host:port/pks/hashquery; appends the body (count + keys) to out. */
int oks_sync_hashquery(const char *host, int port, const uint8_t (*h)[16], size_t n,
                       int timeout_ms, oks_buf *out, oks_err *e);

/* The HTTP/1.0 request of a hashquery for h[0..n) (appended to req). */
int oks_sync_hashquery_request(oks_buf *req, const uint8_t (*h)[16], size_t n);
/* Checks a whole HTTP answer (2xx) and appends its body to out. */
int oks_sync_http_body(const uint8_t *resp, size_t len, oks_buf *out, oks_err *e);

#endif

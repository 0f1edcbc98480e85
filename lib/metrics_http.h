/*
 * The exposition server of the daemons without an HTTP server of their own (shard, router,
 * sync, mail gateway): GET /metrics on [SECTION] metrics_listen, answered with the registry in
 * the text format; clients outside metrics_allow get 403, other paths 404, other methods 405.
 *
 * It is libmicrohttpd on a thread of its own: the daemons' ZeroMQ loops and worker pools never
 * see an HTTP connection, a slow or stuck scraper costs that thread only, and the HTTP parsing
 * is a maintained library's. Connections are capped (16) and time out after 10 s.
 */
#ifndef OKS_METRICS_HTTP_H
#define OKS_METRICS_HTTP_H

#include "lib/conf.h"
#include "lib/err.h"
#include "lib/metrics.h"

typedef struct oks_metrics_http oks_metrics_http;

/* Listens on listen (host: an address or a name resolved now) and serves r until stopped.
 * allow: networks (lib/net.h) that may read; copied. r must outlive the server. Returns the
 * server, or NULL with e filled (address in use, not an address, no thread). */
oks_metrics_http *oks_metrics_http_start(oks_metrics *r, const oks_hostport *listen,
                                         const char *allow, oks_err *e);
/* The end of a daemon's metrics setup: rc is how registering its families went. When rc is 0,
 * starts the server on m (listen, allow) into *http and logs the address; when that or the
 * registering failed, frees *reg and sets it NULL (the caller forgets its families too).
 * Returns 0 or the error (e filled). */
int oks_metrics_http_serve(oks_metrics **reg, int rc, const oks_hostport *listen,
                           const char *allow, oks_metrics_http **http, oks_err *e);
/* The TCP port listened on (the one given, or the kernel's choice for port 0). */
unsigned oks_metrics_http_port(const oks_metrics_http *s);
/* Stops the thread, closes the socket and frees s (NULL: nothing). */
void oks_metrics_http_stop(oks_metrics_http *s);

#endif

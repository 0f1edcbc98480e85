/*
 * Glue around proto/oks.proto shared by every daemon: packing with size limits, version checks,
 * error responses, multipart ZeroMQ frames, and a small client for the router (blocking calls and
 * pipelined send/receive). Messages unpacked here are owned by the caller and released with
 * oks__request__free_unpacked / oks__response__free_unpacked (NULL allocator).
 */
#ifndef OKS_PROTO_H
#define OKS_PROTO_H

#include "lib/buf.h"
#include "lib/err.h"
#include "proto/oks.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#define OKS_PROTO_VERSION 1
/* The protocol's per-request maximum (proto/oks.proto): keys of an Add, hashes of a GetByHash,
 * and the page size of ChangeLog and ListKeys. Receivers refuse or cap anything larger. */
#define OKS_PROTO_MAX_ITEMS 10000
#define OKS_PROTO_STR_(x) #x
#define OKS_PROTO_STR(x) OKS_PROTO_STR_(x)
#define OKS_PROTO_MAX_ITEMS_TEXT OKS_PROTO_STR(OKS_PROTO_MAX_ITEMS) /* "10000", for messages */
#define OKS_ZMAX_FRAMES 8

/* Unpacks and validates a request: size <= max, version, exactly one op. On a version mismatch
 * returns OKS_E_UNSUPPORTED (and *out stays NULL). */
int oks_proto_request_unpack(const uint8_t *p, size_t n, size_t max, Oks__Request **out,
                             oks_err *e);
int oks_proto_response_unpack(const uint8_t *p, size_t n, size_t max, Oks__Response **out,
                              oks_err *e);
int oks_proto_pack_request(const Oks__Request *r, oks_buf *out);
int oks_proto_pack_response(const Oks__Response *r, oks_buf *out);
/* Packs a Response with only status and error text. */
int oks_proto_pack_error(Oks__Status st, const char *msg, oks_buf *out);
/* Maps an OKS_E_* code to the closest Status. */
Oks__Status oks_proto_status_of(int code);
const char *oks_proto_status_name(Oks__Status st);
/* The status of a packed Response without unpacking it (the router's hot path): protobuf-c
 * writes fields in number order, version (1) first, then status (2), which proto3 leaves out
 * when it is OK. Input in another order reads as OK; never reads past p[n). */
Oks__Status oks_proto_peek_status(const uint8_t *p, size_t n);

/* One multipart ZeroMQ message. */
typedef struct oks_zframes {
    zmq_msg_t f[OKS_ZMAX_FRAMES];
    size_t n;
    int truncated; /* more frames than OKS_ZMAX_FRAMES arrived; the extra ones were dropped */
} oks_zframes;

/* Receives a whole multipart message (flags: 0 or ZMQ_DONTWAIT). Returns 0 or -1 with errno. */
int oks_zrecv(void *sock, oks_zframes *m, int flags);
void oks_zframes_close(oks_zframes *m);
static inline oks_slice oks_zframe(oks_zframes *m, size_t i)
{
    return oks_slice_of(zmq_msg_data(&m->f[i]), zmq_msg_size(&m->f[i]));
}
/* Sends n parts as one message. Returns 0 or -1 with errno. */
int oks_zsend(void *sock, const oks_slice *parts, size_t n, int flags);
/* Sets LINGER 0 and the HWMs; every OKS socket goes through this. */
void oks_zsock_defaults(void *sock, size_t max_msg);

/* ---- client of the routers ----------------------------------------------------------- */

/* A client's DEALER connects to every router of [cluster] routers. ZMQ_IMMEDIATE keeps requests
 * off routers that are not connected (ZeroMQ spreads them over the connected ones), and
 * heartbeats drop the connection to a router that stops answering (host down, link cut, no
 * RST) within OKS_CLIENT_HEARTBEAT_IVL_MS + OKS_CLIENT_HEARTBEAT_TIMEOUT_MS. A request whose
 * router's connection dropped, or that got no answer within its per-try timeout while another
 * router may answer, is sent again under the same id within the caller's wait (requests are
 * reads, or adds, which are idempotent: a merge is a union); a second answer to an id is
 * handed over like any reply to an unknown id. */
#define OKS_CLIENT_HEARTBEAT_IVL_MS 500
#define OKS_CLIENT_HEARTBEAT_TIMEOUT_MS 1500
#define OKS_CLIENT_MIN_TRY_MS 1000

typedef struct oks_client oks_client;
struct oks_cluster;

/* A client of every router of conf ([cluster] routers), with its message cap and deadline
 * (for requests that carry none). zctx is shared by the process. */
oks_client *oks_client_new_routers(void *zctx, const struct oks_cluster *conf, oks_err *e);
/* A client of one router frontend endpoint. */
oks_client *oks_client_new(void *zctx, const char *endpoint, size_t max_msg, oks_err *e);
void oks_client_free(oks_client *c);
/* Requests sent again to another router so far (failovers). */
unsigned long oks_client_resent(const oks_client *c);
/* Pipelined use: send with an id of the caller's choice, receive replies in any order. The
 * request goes out with version OKS_PROTO_VERSION whatever req->version holds; at once when a
 * router is connected, else from the next oks_client_recv on (which also sends again). */
int oks_client_send(oks_client *c, uint64_t id, const Oks__Request *req, oks_err *e);
/* Waits up to timeout_ms (-1 = forever) for the next reply. OKS_E_TIMEOUT if none came; with
 * 0 only a reply already in is taken, by a receive that does not wait (no poll(2); one whose
 * arrival libzmq has not yet processed may be missed: a caller that then waits on the socket
 * with zmq_poll, or on ZMQ_FD after ZMQ_EVENTS, is woken for it). */
int oks_client_recv(oks_client *c, uint64_t *id, Oks__Response **resp, int timeout_ms, oks_err *e);
/* One request, one reply (replies to older ids are discarded). */
int oks_client_call(oks_client *c, const Oks__Request *req, Oks__Response **resp, int timeout_ms,
                    oks_err *e);

/* Which reply statuses oks_client_call_checked hands back to its caller. */
enum oks_call_accept {
    OKS_CALL_ANSWERS, /* every answer; only "the cluster could not serve it" is an error */
    OKS_CALL_OK_ONLY, /* STATUS_OK only */
};
/* True for the statuses that say the cluster could not serve a request (UNAVAILABLE, TIMEOUT,
 * INTERNAL, WRONG_SHARD): try again later, the request itself was fine. */
bool oks_proto_status_unavailable(Oks__Status st);
/* oks_client_call, then the status: a reply that acc does not accept is freed (*resp = NULL)
 * and becomes OKS_E_UNAVAILABLE, message "router: STATUS_NAME: error text". */
int oks_client_call_checked(oks_client *c, const Oks__Request *req, Oks__Response **resp,
                            int timeout_ms, enum oks_call_accept acc, oks_err *e);
/* The underlying DEALER socket (for polling; call oks_client_recv at least every
 * OKS_CLIENT_MIN_TRY_MS while requests are out, so it can send them again). */
void *oks_client_socket(oks_client *c);

/* For clients with their own DEALER (the HTTP gateway's loops): the socket options above, then
 * a connect to each of the n endpoints. OKS_E_ARG naming the endpoint if one is refused. */
int oks_client_connect_routers(void *sock, const char (*routers)[256], size_t n, oks_err *e);
/* A PAIR socket receiving sock's disconnect events (NULL if monitoring failed). */
void *oks_client_monitor_new(void *zctx, void *sock);
/* Reads every event waiting on mon (non-blocking): true if a connection dropped. */
bool oks_client_monitor_disconnected(void *mon);
/* The per-try timeout for a request that may wait deadline_ms in all. */
unsigned oks_client_try_ms(unsigned deadline_ms);

#endif

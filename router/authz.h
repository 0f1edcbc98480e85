/*
 * Request authorization at the router (docs/security.md): every request's op is checked
 * against the rights of the key that sent it (lib/zsec.h, User-Id set by the ZAP handler);
 * admin operations are forwarded to shards with the admin key's name as the request's
 * authority, which shards trust only from a router's key. Refusals and forwarded admin
 * operations go to the audit log (lib/audit.h).
 */
#ifndef OKS_ROUTER_AUTHZ_H
#define OKS_ROUTER_AUTHZ_H

#include "proto/oks.pb-c.h"

#include <stddef.h>
#include <zmq.h>

/* body: the request's frame as received on the frontend. Returns 0 if its sender may make q,
 * with authority (size bytes) = the admin key's name for an admin operation and "" otherwise
 * (the caller sends that, never the client's own authority); -1 if not, why filled. An Add
 * with verified_keys (what only a router sends a shard) is refused from every client; without
 * security set up (oks_zsec_start not called: tests on inproc) everything else is allowed. */
int oks_router_authorize(zmq_msg_t *body, const Oks__Request *q, char *authority, size_t size,
                         char *why, size_t why_size);

#endif

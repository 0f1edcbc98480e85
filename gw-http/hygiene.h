/*
 * Request hygiene checked before any handler runs: what h2o accepts but a proxy in front of the
 * gateway may read differently (request smuggling), and bytes no handler should ever see.
 */
#ifndef OKS_GW_HYGIENE_H
#define OKS_GW_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>

/* Checks the raw header block of an HTTP/1.x request (request line to the empty line, as
 * received): more than one Content-Length, or Content-Length beside Transfer-Encoding, is
 * refused, since h2o takes one and a proxy may frame the message by the other. Returns NULL when
 * the block is acceptable (also when it cannot be parsed: h2o parsed it already), else the
 * reason for a 400. */
const char *gw_hygiene_headers(const char *raw, size_t len);

/* Checks a request target (path and query as sent): a NUL, raw or percent-encoded, is refused
 * (C strings would cut a search short). Returns NULL or the reason for a 400. */
const char *gw_hygiene_target(const char *path, size_t len);

#endif

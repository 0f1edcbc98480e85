/*
 * Network address text shared by the daemons: "HOST:PORT" as written in oks.conf, on command
 * lines and in membership files. HOST is a name, an IPv4 address or a bracketed IPv6 address
 * ("[::1]:11371"); PORT is 1..65535 in decimal digits only.
 */
#ifndef OKS_NET_H
#define OKS_NET_H

#include <stddef.h>

#include "lib/err.h"

/* A TCP port of len bytes at s: 1..65535, digits only. Returns the port, or -1. */
int oks_port_parse(const char *s, size_t len);

/* Splits "HOST:PORT" or "[IPV6]:PORT" (s NUL-terminated). HOST goes into host (hsize bytes, NUL
 * included; the brackets of an IPv6 address are dropped), PORT into *port. Returns 0, or
 * OKS_E_FORMAT naming what is wrong: no port, a port out of range or not a number, an empty or
 * too long host, an unbracketed IPv6 address. host and *port are not touched on failure. */
int oks_hostport_split(const char *s, char *host, size_t hsize, unsigned *port, oks_err *e);

#endif

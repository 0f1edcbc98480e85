/*
 * Network address text shared by the daemons: "HOST:PORT" as written in oks.conf, on command
 * lines and in membership files. HOST is a name, an IPv4 address or a bracketed IPv6 address
 * ("[::1]:11371"); PORT is 1..65535 in decimal digits only.
 */
#ifndef OKS_NET_H
#define OKS_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* A TCP port of len bytes at s: 1..65535, digits only. Returns the port, or -1. */
int oks_port_parse(const char *s, size_t len);

/* Splits "HOST:PORT" or "[IPV6]:PORT" (s NUL-terminated). HOST goes into host (hsize bytes, NUL
 * included; the brackets of an IPv6 address are dropped), PORT into *port. Returns 0, or
 * OKS_E_FORMAT naming what is wrong: no port, a port out of range or not a number, an empty or
 * too long host, an unbracketed IPv6 address. host and *port are not touched on failure. */
int oks_hostport_split(const char *s, char *host, size_t hsize, unsigned *port, oks_err *e);

/* Networks as written in oks.conf: an address ("192.0.2.7", "::1") or a network in CIDR form
 * ("10.0.0.0/8", "2001:db8::/32"). "any" stands for every address. */
typedef struct oks_net {
    unsigned char addr[16]; /* IPv4 as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) */
    unsigned bits;          /* prefix length over the 128-bit form; 0 = any */
} oks_net;

/* Parses one network of len bytes at s into *out. Returns 0, or OKS_E_FORMAT naming what is
 * wrong (not an address, prefix out of range, host bits set). */
int oks_net_parse(const char *s, size_t len, oks_net *out, oks_err *e);

/* Checks a list of networks separated by spaces or commas. Returns 0 or the first error. */
int oks_nets_check(const char *list, oks_err *e);

/* Whether the address text addr (IPv4 or IPv6, an IPv4-mapped IPv6 address counts as IPv4)
 * lies in one of the networks of list. A list entry that does not parse matches nothing, and an
 * addr that is not an address matches nothing. */
bool oks_nets_match(const char *list, const char *addr);

#endif

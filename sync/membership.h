/*
 * sync/membership: the recon partner list in the format of SKS's `membership` file, so an SKS
 * operator's file works unchanged: one partner per line, `HOST PORT` (the recon port), anything
 * from `#` to the end of the line is a comment, empty lines are skipped, words after the second
 * are ignored, a line without two words is reported as malformed and skipped (SKS does the
 * same). HOST is an IPv4 address or a name, looked up (oks_sync_members_resolve, which may wait
 * on DNS, so the worker runs it in a thread of its own) each time the file is loaded. The server
 * side accepts a session only from the address of a member (the port is not compared, as in
 * SKS); the client side gossips with a random member.
 */
#ifndef OKS_SYNC_MEMBERSHIP_H
#define OKS_SYNC_MEMBERSHIP_H

#include <stddef.h>

#include "lib/err.h"

#define OKS_SYNC_MAX_MEMBERS 256          /* members kept; later lines are reported and dropped */
#define OKS_SYNC_MEMBERSHIP_MAX_BYTES 1048576

typedef struct oks_sync_member {
    char host[256];   /* as written */
    int port;         /* recon port */
    char ip[16];      /* dotted IPv4 of host; "" when the name did not resolve */
    char label[272];  /* "host:port", how logs and stats name the member */
} oks_sync_member;

typedef struct oks_sync_members {
    oks_sync_member v[OKS_SYNC_MAX_MEMBERS];
    size_t n;
    size_t malformed;  /* lines skipped */
} oks_sync_members;

/* Parses membership text into m (reset first). Malformed lines are logged with their line
 * number (warn) and counted; an IPv4 address fills ip, a name leaves it "" (no look-up here).
 * Never fails on bad lines; returns 0. */
int oks_sync_members_parse(const char *text, size_t len, const char *what, oks_sync_members *m);
/* Reads and parses a file; OKS_E_IO if unreadable, OKS_E_LIMIT above the size limit. */
int oks_sync_members_load(const char *path, oks_sync_members *m, oks_err *e);
/* Adds one "HOST:PORT" member (command-line partners); OKS_E_ARG if malformed. */
int oks_sync_members_add(oks_sync_members *m, const char *hostport, oks_err *e);
/* Members whose ip is "" (names not looked up yet, or that did not resolve). */
size_t oks_sync_members_unresolved(const oks_sync_members *m);
/* Looks up (getaddrinfo, IPv4; blocking) every member whose ip is ""; a name that does not
 * resolve is logged and kept with ip "". Returns how many resolved. */
size_t oks_sync_members_resolve(oks_sync_members *m);
/* Index of the first member whose address is ip (dotted IPv4), or -1. */
int oks_sync_members_find_ip(const oks_sync_members *m, const char *ip);

#endif

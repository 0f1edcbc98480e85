/*
 * Admission of the gateway's TCP connections, shared by all loop threads: a cap on the
 * connections open in all (kept below the process's descriptor limit, so accept never runs out
 * of descriptors in normal operation) and a cap per peer address, so one client cannot hold
 * every connection. Trusted proxies are exempt from the per-peer cap (every client behind them
 * shares their address) but count towards the total. IPv6 peers are counted per /64, the
 * smallest block a client is usually given.
 */
#ifndef OKS_GW_CONNS_H
#define OKS_GW_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct gw_conns gw_conns;
/* A connection admitted by gw_conns_admit; handed back to gw_conns_release when it closes. */
typedef struct gw_conn_ticket gw_conn_ticket;

enum gw_admit { GW_ADMIT_OK, GW_ADMIT_FULL, GW_ADMIT_PEER_FULL };

/* max_total: connections open at once in all; max_per_peer: per peer address (0 = no cap).
 * Returns NULL when out of memory. */
gw_conns *gw_conns_new(unsigned max_total, unsigned max_per_peer);
void gw_conns_free(gw_conns *c);

/* Counts a new connection from peer (AF_INET or AF_INET6; anything else is counted in the total
 * only). exempt: the peer is a trusted proxy. On GW_ADMIT_OK *ticket is set and must be released
 * exactly once; otherwise nothing was counted and the caller closes the connection. */
enum gw_admit gw_conns_admit(gw_conns *c, const struct sockaddr *peer, bool exempt,
                             gw_conn_ticket **ticket);
void gw_conns_release(gw_conn_ticket *ticket);

/* The same in two steps, for a listener shared by several threads: gw_conns_reserve takes a
 * place in the total before accept(2) (false at the cap: leave the connection in the kernel's
 * backlog), so two threads can never both accept the last place and one of them close what it
 * accepted. gw_conns_unreserve gives the place back when accept found nothing;
 * gw_conns_admit_reserved applies the per-peer cap to the accepted connection and, when it
 * refuses, gives the place back itself. */
bool gw_conns_reserve(gw_conns *c);
void gw_conns_unreserve(gw_conns *c);
enum gw_admit gw_conns_admit_reserved(gw_conns *c, const struct sockaddr *peer, bool exempt,
                                      gw_conn_ticket **ticket);

/* Counts one cluster request of the ticket's client, unless it has max in flight already
 * (false; max 0 = no cap; trusted proxies are never capped here). Requests outlive their
 * connection: a client that resets streams or closes connections still has its requests
 * counted until each is answered or given up, and its entry lives until then. */
bool gw_conns_inflight_take(gw_conn_ticket *ticket, unsigned max);
void gw_conns_inflight_release(gw_conn_ticket *ticket);
/* Requests refused by gw_conns_inflight_take so far. */
unsigned long gw_conns_refused_inflight(const gw_conns *c);

/* Connections open now (all peers); for /metrics and the listeners' pause logic. */
unsigned gw_conns_open(const gw_conns *c);
unsigned gw_conns_max(const gw_conns *c);
/* Peer addresses (or /64s) with connections open now. */
unsigned gw_conns_peers(const gw_conns *c);
/* Connections refused so far because of the total cap and of the per-peer cap. */
void gw_conns_refused(const gw_conns *c, unsigned long *full, unsigned long *peer_full);

#endif

/*
 * Per-client rate limits (token buckets), separately for lookups, uploads and the signature
 * work uploads cause, shared by all loop threads (striped locks). The client is the peer
 * address, or — only when the peer is a configured proxy — the right-most X-Forwarded-For entry
 * that is not itself a proxy; an IPv6 client is counted per /64 (gw_rl_key), since one host
 * commonly holds a whole /64.
 */
#ifndef OKS_GW_RATELIMIT_H
#define OKS_GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* GW_RL_VERIFY counts units of public-key work (oks_pgp_key_verify_estimate), not requests. */
enum gw_rl_class { GW_RL_LOOKUP, GW_RL_UPLOAD, GW_RL_VERIFY, GW_RL_CLASSES };

typedef struct gw_ratelimit gw_ratelimit;

/* rate: tokens per second (0 disables the class), burst: bucket size. */
gw_ratelimit *gw_rl_new(const double rate[GW_RL_CLASSES], const double burst[GW_RL_CLASSES]);
void gw_rl_free(gw_ratelimit *rl);
/* Takes one token for client (any string, e.g. an IP) at time now (seconds). Returns 0 if
 * allowed, otherwise the seconds to wait (>= 1). */
unsigned gw_rl_take(gw_ratelimit *rl, enum gw_rl_class cls, const char *client, double now);
/* The same for n tokens: allowed when the bucket holds min(n, burst), and then n are taken (the
 * bucket may go into debt, at most one burst deep, which later requests wait out). */
unsigned gw_rl_take_n(gw_ratelimit *rl, enum gw_rl_class cls, const char *client, double n,
                      double now);

/* The bucket key of a client address: IPv4 as is, IPv6 as its /64 ("2001:db8:1:2::/64"), an
 * IPv4-mapped IPv6 address as IPv4; anything else as is. out holds 64 bytes. */
void gw_rl_key(const char *client, char out[64]);

/* Picks the client address: peer, or from X-Forwarded-For when peer is a trusted proxy.
 * proxies: comma/space separated list of exact addresses. out holds 64 bytes. */
void gw_rl_client(const char *peer, const char *xff, size_t xff_len, const char *proxies,
                  char out[64]);

/* True when addr is one of the proxies (same list format as above). */
bool gw_rl_is_proxy(const char *proxies, const char *addr);

#endif

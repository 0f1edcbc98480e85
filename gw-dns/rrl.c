/*
 * Response rate limiting for UDP (the reflection defence of BIND's RRL, simplified): a token
 * bucket per client prefix (IPv4 /24, IPv6 /64) in a fixed table indexed by a keyed hash of the
 * prefix; a colliding prefix takes the slot over. Over the limit, every slip-th response goes
 * out empty with TC=1 (a real client retries over TCP; a forged source gets nothing larger than
 * its query), the others are dropped.
 */
#include "gw-dns/dns.h"

#include "lib/xalloc.h"

#include <gcrypt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

typedef struct bucket {
    uint8_t prefix[9]; /* family byte, then 3 (IPv4) or 8 (IPv6) octets */
    double tokens;
    uint64_t at_ms;
    unsigned limited;
} bucket;

struct gwd_rrl {
    double rate, burst;
    unsigned slip;
    size_t n;
    uint64_t key[2];
    bucket *b;
};

gwd_rrl *gwd_rrl_new(double rate, double burst, unsigned slip, size_t buckets)
{
    gwd_rrl *r = oks_xcalloc(1, sizeof *r);
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
    r->slip = slip;
    r->n = buckets ? buckets : 1;
    r->b = oks_xcalloc(r->n, sizeof *r->b);
    gcry_create_nonce(r->key, sizeof r->key);
    return r;
}

void gwd_rrl_free(gwd_rrl *r)
{
    if (!r)
        return;
    free(r->b);
    free(r);
}

static size_t slot_of(const gwd_rrl *r, const uint8_t p[9])
{
    uint64_t h = r->key[0] ^ 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 9; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    h ^= r->key[1];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (size_t)(h % r->n);
}

enum gwd_rrl_verdict gwd_rrl_check(gwd_rrl *r, const struct sockaddr *addr, uint64_t now_ms)
{
    if (r->rate <= 0)
        return GWD_RRL_SEND;
    uint8_t p[9] = {0};
    if (addr->sa_family == AF_INET) {
        p[0] = 4;
        memcpy(p + 1, &((const struct sockaddr_in *)addr)->sin_addr, 3);
    } else if (addr->sa_family == AF_INET6) {
        p[0] = 6;
        memcpy(p + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 8);
    } else {
        return GWD_RRL_SEND;
    }
    bucket *b = &r->b[slot_of(r, p)];
    if (memcmp(b->prefix, p, sizeof p) != 0) {
        memcpy(b->prefix, p, sizeof p);
        b->tokens = r->burst;
        b->at_ms = now_ms;
        b->limited = 0;
    }
    if (now_ms > b->at_ms) {
        b->tokens += (double)(now_ms - b->at_ms) * r->rate / 1000.0;
        if (b->tokens > r->burst)
            b->tokens = r->burst;
        b->at_ms = now_ms;
    }
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return GWD_RRL_SEND;
    }
    b->limited++;
    if (r->slip && b->limited % r->slip == 0)
        return GWD_RRL_SLIP;
    return GWD_RRL_DROP;
}

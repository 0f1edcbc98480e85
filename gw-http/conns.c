/* Connection admission (see conns.h): an atomic total and a striped hash table of per-peer
 * counts. An entry lives exactly as long as its peer has connections open, so the table never
 * holds more entries than there are connections. */
#include "gw-http/conns.h"
#include "lib/xalloc.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64
#define BUCKETS 256 /* per stripe */
#define KEY_BYTES 9 /* family byte + IPv4 address or IPv6 /64 */

struct gw_conn_ticket {
    struct gw_conn_ticket *next;
    gw_conns *owner;
    uint8_t key[KEY_BYTES];
    unsigned count;    /* connections open */
    unsigned inflight; /* cluster requests not yet answered, also of closed connections */
};

typedef struct stripe {
    pthread_mutex_t lock;
    gw_conn_ticket *b[BUCKETS];
} stripe;

struct gw_conns {
    unsigned max_total, max_per_peer;
    atomic_uint open;
    atomic_ulong refused_full, refused_peer, refused_inflight;
    atomic_uint peers; /* entries in the table */
    gw_conn_ticket untracked; /* shared by connections counted only in the total */
    stripe s[STRIPES];
};

gw_conns *gw_conns_new(unsigned max_total, unsigned max_per_peer)
{
    gw_conns *c = oks_xcalloc(1, sizeof *c);
    c->max_total = max_total;
    c->max_per_peer = max_per_peer;
    c->untracked.owner = c;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->s[i].lock, NULL);
    return c;
}

void gw_conns_free(gw_conns *c)
{
    if (!c)
        return;
    for (int i = 0; i < STRIPES; i++) {
        for (int j = 0; j < BUCKETS; j++) {
            gw_conn_ticket *t = c->s[i].b[j];
            while (t) {
                gw_conn_ticket *n = t->next;
                free(t);
                t = n;
            }
        }
        pthread_mutex_destroy(&c->s[i].lock);
    }
    free(c);
}

static bool peer_key(const struct sockaddr *sa, uint8_t key[KEY_BYTES])
{
    memset(key, 0, KEY_BYTES);
    if (sa && sa->sa_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) { /* an IPv4 client on a dual-stack socket */
            key[0] = 4;
            memcpy(key + 1, a + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, a, 8);
        }
        return true;
    }
    return false;
}

static uint32_t key_hash(const uint8_t key[KEY_BYTES])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < KEY_BYTES; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

bool gw_conns_reserve(gw_conns *c)
{
    unsigned n = atomic_load(&c->open);
    do {
        if (n >= c->max_total)
            return false;
    } while (!atomic_compare_exchange_weak(&c->open, &n, n + 1));
    return true;
}

void gw_conns_unreserve(gw_conns *c)
{
    atomic_fetch_sub(&c->open, 1);
}

enum gw_admit gw_conns_admit(gw_conns *c, const struct sockaddr *peer, bool exempt,
                             gw_conn_ticket **ticket)
{
    if (!gw_conns_reserve(c)) {
        atomic_fetch_add(&c->refused_full, 1);
        return GW_ADMIT_FULL;
    }
    return gw_conns_admit_reserved(c, peer, exempt, ticket);
}

enum gw_admit gw_conns_admit_reserved(gw_conns *c, const struct sockaddr *peer, bool exempt,
                                      gw_conn_ticket **ticket)
{
    uint8_t key[KEY_BYTES];
    if (exempt || !c->max_per_peer || !peer_key(peer, key)) {
        *ticket = &c->untracked;
        return GW_ADMIT_OK;
    }
    uint32_t h = key_hash(key);
    stripe *st = &c->s[h % STRIPES];
    gw_conn_ticket **slot = &st->b[(h / STRIPES) % BUCKETS], *t;
    enum gw_admit r = GW_ADMIT_OK;
    pthread_mutex_lock(&st->lock);
    for (t = *slot; t && memcmp(t->key, key, KEY_BYTES) != 0; t = t->next)
        ;
    if (!t) {
        t = oks_xcalloc(1, sizeof *t);
        if (t) {
            memcpy(t->key, key, KEY_BYTES);
            t->owner = c;
            t->next = *slot;
            *slot = t;
            atomic_fetch_add(&c->peers, 1);
        }
    }
    if (!t) {
        r = GW_ADMIT_FULL; /* no memory for one more entry: refuse rather than count wrongly */
    } else if (t->count >= c->max_per_peer) {
        r = GW_ADMIT_PEER_FULL;
    } else {
        t->count++;
        *ticket = t;
    }
    pthread_mutex_unlock(&st->lock);
    if (r != GW_ADMIT_OK) {
        atomic_fetch_sub(&c->open, 1);
        atomic_fetch_add(r == GW_ADMIT_FULL ? &c->refused_full : &c->refused_peer, 1);
    }
    return r;
}

/* Frees a peer's entry once it has neither connections nor requests left. Stripe lock held. */
static void drop_if_unused(gw_conns *c, stripe *st, uint32_t h, gw_conn_ticket *t)
{
    if (t->count || t->inflight)
        return;
    gw_conn_ticket **p = &st->b[(h / STRIPES) % BUCKETS];
    while (*p != t)
        p = &(*p)->next;
    *p = t->next;
    free(t);
    atomic_fetch_sub(&c->peers, 1);
}

void gw_conns_release(gw_conn_ticket *t)
{
    gw_conns *c = t->owner;
    atomic_fetch_sub(&c->open, 1);
    if (t == &c->untracked)
        return;
    uint32_t h = key_hash(t->key);
    stripe *st = &c->s[h % STRIPES];
    pthread_mutex_lock(&st->lock);
    t->count--;
    drop_if_unused(c, st, h, t);
    pthread_mutex_unlock(&st->lock);
}

bool gw_conns_inflight_take(gw_conn_ticket *t, unsigned max)
{
    gw_conns *c = t->owner;
    if (t == &c->untracked || !max)
        return true;
    stripe *st = &c->s[key_hash(t->key) % STRIPES];
    pthread_mutex_lock(&st->lock);
    bool ok = t->inflight < max;
    if (ok)
        t->inflight++;
    pthread_mutex_unlock(&st->lock);
    if (!ok)
        atomic_fetch_add(&c->refused_inflight, 1);
    return ok;
}

void gw_conns_inflight_release(gw_conn_ticket *t)
{
    gw_conns *c = t->owner;
    if (t == &c->untracked)
        return;
    uint32_t h = key_hash(t->key);
    stripe *st = &c->s[h % STRIPES];
    pthread_mutex_lock(&st->lock);
    t->inflight--;
    drop_if_unused(c, st, h, t);
    pthread_mutex_unlock(&st->lock);
}

unsigned long gw_conns_refused_inflight(const gw_conns *c)
{
    return atomic_load(&c->refused_inflight);
}

unsigned gw_conns_open(const gw_conns *c)
{
    return atomic_load(&c->open);
}

unsigned gw_conns_peers(const gw_conns *c)
{
    return atomic_load(&c->peers);
}

unsigned gw_conns_max(const gw_conns *c)
{
    return c->max_total;
}

void gw_conns_refused(const gw_conns *c, unsigned long *full, unsigned long *peer_full)
{
    *full = atomic_load(&c->refused_full);
    *peer_full = atomic_load(&c->refused_peer);
}

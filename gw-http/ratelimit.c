/* Token-bucket rate limits per client (see ratelimit.h). */
#include "gw-http/ratelimit.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64
#define SLOTS 256 /* per stripe: clients tracked; the least recently seen is replaced */

typedef struct bucket {
    char client[48];
    double tokens[GW_RL_CLASSES];
    double last;
} bucket;

typedef struct stripe {
    pthread_mutex_t lock;
    bucket b[SLOTS];
} stripe;

struct gw_ratelimit {
    double rate[GW_RL_CLASSES], burst[GW_RL_CLASSES];
    stripe s[STRIPES];
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

gw_ratelimit *gw_rl_new(const double rate[GW_RL_CLASSES], const double burst[GW_RL_CLASSES])
{
    gw_ratelimit *rl = oks_xcalloc(1, sizeof *rl);
    memcpy(rl->rate, rate, sizeof rl->rate);
    memcpy(rl->burst, burst, sizeof rl->burst);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->s[i].lock, NULL);
    return rl;
}

void gw_rl_free(gw_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->s[i].lock);
    free(rl);
}

unsigned gw_rl_take(gw_ratelimit *rl, enum gw_rl_class cls, const char *client, double now)
{
    return gw_rl_take_n(rl, cls, client, 1, now);
}

void gw_rl_key(const char *client, char out[64])
{
    struct in6_addr a;
    snprintf(out, 64, "%s", client);
    if (!strchr(client, ':') || inet_pton(AF_INET6, client, &a) != 1)
        return;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
        inet_ntop(AF_INET, &a.s6_addr[12], out, 64);
        return;
    }
    memset(&a.s6_addr[8], 0, 8);
    char t[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a, t, sizeof t);
    snprintf(out, 64, "%s/64", t);
}

unsigned gw_rl_take_n(gw_ratelimit *rl, enum gw_rl_class cls, const char *client, double n,
                      double now)
{
    if (!rl || rl->rate[cls] <= 0)
        return 0;
    uint32_t h = hash(client);
    stripe *st = &rl->s[h % STRIPES];
    pthread_mutex_lock(&st->lock);
    bucket *b = NULL, *oldest = &st->b[0];
    /* probe a small window of slots for the client, else take the stalest */
    for (unsigned i = 0; i < 8; i++) {
        bucket *c = &st->b[(h / STRIPES + i) % SLOTS];
        if (strcmp(c->client, client) == 0) {
            b = c;
            break;
        }
        if (i == 0 || c->last < oldest->last)
            oldest = c;
    }
    if (!b) {
        b = oldest;
        memset(b, 0, sizeof *b);
        strncpy(b->client, client, sizeof b->client - 1);
        for (int k = 0; k < GW_RL_CLASSES; k++)
            b->tokens[k] = rl->burst[k];
        b->last = now;
    }
    for (int k = 0; k < GW_RL_CLASSES; k++) {
        b->tokens[k] += (now - b->last) * rl->rate[k];
        if (b->tokens[k] > rl->burst[k])
            b->tokens[k] = rl->burst[k];
    }
    b->last = now;
    unsigned wait = 0;
    double need = n < rl->burst[cls] ? n : rl->burst[cls];
    if (b->tokens[cls] >= need) {
        b->tokens[cls] -= n;
        if (b->tokens[cls] < -rl->burst[cls])
            b->tokens[cls] = -rl->burst[cls];
    } else {
        wait = (unsigned)((need - b->tokens[cls]) / rl->rate[cls]) + 1;
    }
    pthread_mutex_unlock(&st->lock);
    return wait;
}

static bool listed(const char *list, const char *addr, size_t n)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t l = strcspn(p, ", ");
        if (l && l == n && strncmp(p, addr, n) == 0)
            return true;
        p += l;
    }
    return false;
}

bool gw_rl_is_proxy(const char *proxies, const char *addr)
{
    return proxies && listed(proxies, addr, strlen(addr));
}

void gw_rl_client(const char *peer, const char *xff, size_t xff_len, const char *proxies,
                  char out[64])
{
    strncpy(out, peer, 63);
    out[63] = '\0';
    if (!xff || !proxies || !listed(proxies, peer, strlen(peer)))
        return;
    /* right to left: the first entry that is not one of our proxies is the client */
    size_t end = xff_len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && xff[a] == ' ')
            a++;
        while (b > a && xff[b - 1] == ' ')
            b--;
        if (b > a && !listed(proxies, xff + a, b - a)) {
            size_t n = b - a < 63 ? b - a : 63;
            memcpy(out, xff + a, n);
            out[n] = '\0';
            return;
        }
        end = start ? start - 1 : 0;
    }
}

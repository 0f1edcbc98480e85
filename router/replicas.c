/* Replica groups and replica choice (see replicas.h). */
#include "router/replicas.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

void oks_replicas_init(oks_replicas *x, const oks_cluster *c)
{
    unsigned R = c->width;
    memset(x, 0, sizeof *x);
    x->conf = c;
    x->up = oks_xcalloc(c->n_shards, sizeof *x->up);
    x->group_of = oks_xmalloc(c->n_slots * sizeof *x->group_of);
    x->members = oks_xmalloc((size_t)c->n_slots * R * sizeof *x->members);
    for (unsigned s = 0; s < c->n_slots; s++) {
        const uint16_t *rs = oks_cluster_replicas_of(c, s);
        size_t g = 0;
        /* slots of one range share their set: compare with the previous slot's group first */
        if (s > 0 && memcmp(oks_replicas_group(x, x->group_of[s - 1]), rs, R * sizeof *rs) == 0)
            g = x->group_of[s - 1];
        else {
            for (g = 0; g < x->n_groups; g++)
                if (memcmp(oks_replicas_group(x, g), rs, R * sizeof *rs) == 0)
                    break;
            if (g == x->n_groups)
                memcpy(x->members + x->n_groups++ * R, rs, R * sizeof *rs);
        }
        x->group_of[s] = (uint32_t)g;
    }
}

void oks_replicas_release(oks_replicas *x)
{
    free(x->up);
    free(x->group_of);
    free(x->members);
    memset(x, 0, sizeof *x);
}

int oks_replicas_pick(oks_replicas *x, const uint16_t *members, const uint8_t *asked)
{
    return oks_replicas_pick_from(x, members, asked, x->turn++);
}

unsigned oks_replicas_count(const oks_replicas *x, const uint16_t *members)
{
    unsigned n = 0;
    while (n < x->conf->width && members[n] != UINT16_MAX)
        n++;
    return n;
}

int oks_replicas_pick_from(const oks_replicas *x, const uint16_t *members, const uint8_t *asked,
                           unsigned start)
{
    unsigned R = oks_replicas_count(x, members);
    if (!R)
        return -1;
    int down = -1;
    start %= R;
    for (unsigned k = 0; k < R; k++) {
        uint16_t i = members[(start + k) % R];
        if (asked[i] != OKS_ASK_NONE)
            continue;
        if (x->up[i])
            return i;
        if (down < 0)
            down = i;
    }
    return down;
}

unsigned oks_replicas_fan_out(oks_replicas *x)
{
    return x->fan++;
}

unsigned oks_replicas_untried(const oks_replicas *x, const uint16_t *members, const uint8_t *asked)
{
    unsigned n = 0, R = oks_replicas_count(x, members);
    for (unsigned k = 0; k < R; k++)
        n += asked[members[k]] == OKS_ASK_NONE;
    return n;
}

int oks_replicas_covering(const oks_replicas *x, size_t g, const uint8_t *asked)
{
    const uint16_t *m = oks_replicas_group(x, g);
    for (unsigned k = 0, R = oks_replicas_count(x, m); k < R; k++)
        if (asked[m[k]] == OKS_ASK_WAITING || asked[m[k]] == OKS_ASK_DONE)
            return m[k];
    return -1;
}

int oks_replicas_first(const uint16_t *m, unsigned n, const uint8_t keyid[8], const bool *up)
{
    for (unsigned k = 0; k < n; k++) {
        unsigned j = (keyid[7] + k) % n;
        if (up[m[j]])
            return m[j];
    }
    return -1;
}

int oks_replicas_receiver_pos(const oks_cluster *c, unsigned slot, size_t si)
{
    const uint16_t *m = oks_cluster_replicas_of(c, slot);
    unsigned n = oks_cluster_nreplicas(c, slot);
    for (unsigned k = 0; k < n; k++)
        if (m[k] == si)
            return (int)k;
    return c->slot_joining[slot] == si ? (int)n : -1;
}

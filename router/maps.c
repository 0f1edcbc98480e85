/* The router's slot maps (see maps.h). */
#include "router/maps.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

oks_router_map *oks_router_map_new(const oks_cluster *conf, oks_cluster *owned, bool *up,
                                   size_t *live)
{
    oks_router_map *m = oks_xcalloc(1, sizeof *m);
    m->refs = 1;
    m->owned = owned;
    m->conf = conf;
    m->live = live;
    if (owned && live)
        ++*live;
    oks_replicas_init(&m->rep, conf);
    free(m->rep.up);
    m->rep.up = up;
    return m;
}

oks_router_map *oks_router_map_hold(oks_router_map *m)
{
    m->refs++;
    return m;
}

void oks_router_map_drop(oks_router_map *m)
{
    if (!m || --m->refs > 0)
        return;
    m->rep.up = NULL; /* the router's */
    oks_replicas_release(&m->rep);
    if (m->owned) {
        oks_cluster_release(m->owned);
        free(m->owned);
        if (m->live)
            --*m->live;
    }
    free(m);
}

int oks_router_map_check(const oks_cluster *cur, const oks_cluster *next, oks_err *e)
{
    if (next->epoch <= cur->epoch)
        return oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                           "map epoch %u is not newer than epoch %u in force", next->epoch,
                           cur->epoch);
    if (next->n_slots != cur->n_slots)
        return oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET, "map epoch %u has %u slots, not %u",
                           next->epoch, next->n_slots, cur->n_slots);
    if (next->n_shards < cur->n_shards)
        return oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                           "map epoch %u drops shards of the map in force", next->epoch);
    for (size_t i = 0; i < cur->n_shards; i++)
        if (strcmp(next->shards[i].name, cur->shards[i].name) != 0 ||
            strcmp(next->shards[i].endpoint, cur->shards[i].endpoint) != 0)
            return oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                               "map epoch %u has shard %s (%s) where the map in force has %s (%s)",
                               next->epoch, next->shards[i].name, next->shards[i].endpoint,
                               cur->shards[i].name, cur->shards[i].endpoint);
    return 0;
}

bool oks_router_map_has_slots(const oks_cluster *c, size_t i)
{
    const oks_shard_conf *s = &c->shards[i];
    return (s->slot_spec && s->slot_spec[0]) || (s->joining_spec && s->joining_spec[0]);
}

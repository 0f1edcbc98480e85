/* The shard's slot map at run time (see shard.h): which slots it takes, and the change to a new
 * map handed over by the map watcher (lib/mapwatch.h). A new map must keep the shards of the
 * one before at their indexes, so a slot's replica set, this shard's index and every thread's
 * view stay meaningful across the change. Two maps are reachable, the one in force and the one
 * before it; the one a change makes unreachable is retired to sh->gc (lib/reclaim.h), which
 * frees it once every thread reported a state between two uses, so a thread that loaded it
 * keeps a valid map until its request is done. */
#include "lib/log.h"
#include "lib/reclaim.h"
#include "lib/xalloc.h"
#include "lib/zsec.h"
#include "shard/shard.h"

#include <stdlib.h>
#include <string.h>

typedef struct oks_shard_maps {
    oks_cluster c;
    atomic_uint *live; /* the shard's count of maps not freed */
} oks_shard_maps;

static void map_free(void *arg)
{
    oks_shard_maps *m = arg;
    atomic_fetch_sub(m->live, 1);
    oks_cluster_release(&m->c);
    free(m);
}

static bool takes(const oks_cluster *c, unsigned slot, size_t self)
{
    return c && slot < c->n_slots && oks_cluster_receives(c, slot, self);
}

bool oks_shard_takes_slot(const oks_shard *sh, unsigned slot)
{
    return takes(sh->conf, slot, (size_t)sh->self) || takes(sh->prev, slot, (size_t)sh->self);
}

bool oks_shard_holds_slot(const oks_shard *sh, unsigned slot)
{
    const oks_cluster *c = sh->conf;
    return slot < c->n_slots && oks_cluster_holds(c, slot, (size_t)sh->self);
}

int oks_shard_map_apply(oks_shard *sh, oks_cluster *next, oks_err *e)
{
    const oks_cluster *cur = sh->conf;
    int r = 0;
    if (next->n_slots != cur->n_slots)
        r = oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                        "map epoch %u has %u slots, this shard %u: refused", next->epoch,
                        next->n_slots, cur->n_slots);
    else if (next->n_shards < cur->n_shards)
        r = oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                        "map epoch %u drops shards of the map in force: refused", next->epoch);
    for (size_t i = 0; !r && i < cur->n_shards; i++)
        if (strcmp(next->shards[i].name, cur->shards[i].name) != 0)
            r = oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                            "map epoch %u has shard %s where the map in force has %s: refused",
                            next->epoch, next->shards[i].name, cur->shards[i].name);
    if (!r && next->epoch <= cur->epoch)
        r = oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                        "map epoch %u is not newer than epoch %u in force: ignored", next->epoch,
                        cur->epoch);
    if (r) {
        oks_cluster_release(next);
        return r;
    }
    for (size_t i = cur->n_shards; i < next->n_shards; i++)
        oks_zsec_add_shard(next->shards[i].endpoint); /* a new peer: the shards' key */
    oks_shard_maps *m = oks_xcalloc(1, sizeof *m);
    m->c = *next; /* takes its buffers */
    memset(next, 0, sizeof *next);
    m->live = &sh->maps_live;
    atomic_fetch_add(&sh->maps_live, 1);
    oks_shard_maps *gone = sh->map_prev; /* unreachable once prev moves on */
    atomic_store(&sh->prev, cur);
    atomic_store(&sh->conf, &m->c);
    sh->map_prev = sh->map_cur;
    sh->map_cur = m;
    atomic_fetch_add(&sh->map_gen, 1);
    if (!sh->gc) /* no thread started yet: they register with the one made here */
        sh->gc = oks_reclaim_new();
    if (gone)
        oks_reclaim_retire(sh->gc, gone, map_free);
    oks_info("map epoch %u applied: slots %s%s%s", m->c.epoch, m->c.shards[sh->self].slot_spec,
             m->c.shards[sh->self].joining_spec && m->c.shards[sh->self].joining_spec[0]
                 ? ", joining " : "",
             m->c.shards[sh->self].joining_spec ? m->c.shards[sh->self].joining_spec : "");
    return 0;
}

void oks_shard_maps_release(oks_shard *sh)
{
    oks_reclaim_free(sh->gc);
    sh->gc = NULL;
    if (sh->map_prev)
        map_free(sh->map_prev);
    if (sh->map_cur)
        map_free(sh->map_cur);
    sh->map_prev = sh->map_cur = NULL;
}

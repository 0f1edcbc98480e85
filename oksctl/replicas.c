/* oksctl slots add-replica, remove-replica and replicas: a range gains or loses one holder
 * online (docs/replicas.md "Adding and removing replicas"), each step a compare-and-swap of the
 * map with the record (slots.h) beside it, each followed by the wait for every member:
 *   add T:    copy (T joins: gets the writes, serves no reads, is no acknowledgement; wait until
 *             its per-slot digests equal every holder's), then switch (T holds: one map change,
 *             the record goes);
 *   remove S: leave (S holds no more: one map change), then purge (one more epoch: S removes
 *             the keys, the record goes).
 * replicas R sets [cluster] replicas (first when it lowers it, last when it raises it, so no
 * slot ever has fewer holders than write_quorum) and adds or removes a replica of one range at a
 * time until every range has R; its record stays (phase plan, target R) between ranges. */
#include "oksctl/oksctl.h"
#include "oksctl/slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks first..last against the map: a valid range; 1 (printed) if not. */
static int check_range(const oks_cluster *c, unsigned first, unsigned last, const char *shard,
                       int *idx)
{
    *idx = oks_cluster_shard_index(c, shard);
    if (*idx < 0) {
        fprintf(stderr, "oksctl: the map has no shard %s\n", shard);
        return 1;
    }
    if (first > last || last >= c->n_slots) {
        fprintf(stderr, "oksctl: slots %u-%u: outside 0-%u\n", first, last, c->n_slots - 1);
        return 1;
    }
    return 0;
}

static int check_add(const oks_cluster *c, const oksctl_move *m)
{
    int ti;
    if (check_range(c, m->first, m->last, m->to, &ti))
        return 1;
    for (unsigned s = m->first; s <= m->last; s++) {
        uint16_t j = c->slot_joining[s];
        if (oks_cluster_holds(c, s, (size_t)ti))
            fprintf(stderr, "oksctl: refused: slot %u is held already by %s\n", s, m->to);
        else if (j != UINT16_MAX)
            fprintf(stderr, "oksctl: refused: slot %u is being copied to %s\n", s,
                    c->shards[j].name);
        else if (oks_cluster_nreplicas(c, s) >= OKS_MAX_REPLICAS)
            fprintf(stderr, "oksctl: refused: slot %u has %u replicas, the most a map allows\n",
                    s, OKS_MAX_REPLICAS);
        else
            continue;
        return 1;
    }
    return 0;
}

static int check_remove(const oks_cluster *c, const oksctl_move *m)
{
    int si;
    if (check_range(c, m->first, m->last, m->from, &si))
        return 1;
    unsigned W = oks_cluster_write_quorum(c), below = 0, left = OKS_MAX_REPLICAS;
    for (unsigned s = m->first; s <= m->last; s++) {
        unsigned n = oks_cluster_nreplicas(c, s);
        if (!oks_cluster_holds(c, s, (size_t)si)) {
            fprintf(stderr, "oksctl: refused: slot %u is not held by %s\n", s, m->from);
            return 1;
        }
        if (c->slot_joining[s] != UINT16_MAX) {
            fprintf(stderr, "oksctl: refused: slot %u is being copied to %s\n", s,
                    c->shards[c->slot_joining[s]].name);
            return 1;
        }
        if (n - 1 < 1 || n - 1 < W) {
            fprintf(stderr, "oksctl: refused: slot %u would be left with %u replica%s (%s "
                            "removed); [cluster] write_quorum is %u and a slot needs at least "
                            "that many, and 1\n", s, n - 1, n - 1 == 1 ? "" : "s", m->from, W);
            return 1;
        }
        below += n - 1 < c->replicas;
        left = n - 1 < left ? n - 1 : left;
    }
    if (below)
        fprintf(stderr, "oksctl: warning: %u slot%s of %u-%u will have %u replica%s, fewer than "
                        "[cluster] replicas = %u\n", below, below == 1 ? "" : "s", m->first,
                m->last, left, left == 1 ? "" : "s", c->replicas);
    return 0;
}

/* Runs an add or a remove from its phase ("" = not started) to the end. */
static int run_one(oksctl_topo *t, oksctl_move *m)
{
    int rc = 0;
    if (!strcmp(m->kind, "add")) {
        if (!m->phase[0])
            rc = oksctl_move_step(t, m, "copy", "copy", OKS_MAP_JOINING, OKS_MAP_NONE, 0);
        if (rc == 0)
            rc = oksctl_move_copy_wait(t, m);
        if (rc == 0) /* one map change: T a full replica; the record goes */
            rc = oksctl_move_step(t, m, NULL, "switch", OKS_MAP_HOLDS, OKS_MAP_NONE, 0);
        return rc;
    }
    if (!m->phase[0])
        rc = oksctl_move_step(t, m, "purge", "leave", OKS_MAP_NONE, OKS_MAP_NONE, 0);
    if (rc == 0) /* one more epoch: S purges; the record goes */
        rc = oksctl_move_step(t, m, NULL, "purge", -1, 0, 0);
    return rc;
}

static int start_one(oksctl_topo *t, oksctl_move *m)
{
    if (oksctl_move_none(t))
        return 1;
    int rc = !strcmp(m->kind, "add")
                 ? check_add(&t->map, m) || oksctl_slots_need_live(t, m->to)
                 : check_remove(&t->map, m);
    return rc ? rc : run_one(t, m);
}

int oksctl_replica_add(oksctl_topo *t, unsigned first, unsigned last, const char *to)
{
    oksctl_move m = {.first = first, .last = last, .kind = "add", .from = "-"};
    snprintf(m.to, sizeof m.to, "%s", to);
    return start_one(t, &m);
}

int oksctl_replica_remove(oksctl_topo *t, unsigned first, unsigned last, const char *from)
{
    oksctl_move m = {.first = first, .last = last, .kind = "remove", .to = "-"};
    snprintf(m.from, sizeof m.from, "%s", from);
    return start_one(t, &m);
}

/* The next step of replicas R: the first run of slots with one replica set (and no joiner; at
 * most a live shard's share of the slots) holding fewer or more than R, with the live shard
 * holding the fewest slots that can take it, or the holder holding the most. False when every
 * range has R; *stuck set when a range needs a replica no live shard can give. */
static bool plan_next(const oks_cluster *c, const bool *live, unsigned R, oksctl_move *m,
                      bool *stuck)
{
    unsigned cnt[OKS_MAX_SHARDS] = {0}, nlive = 0;
    for (size_t i = 0; i < c->n_shards; i++)
        nlive += live[i];
    for (unsigned s = 0; s < c->n_slots; s++)
        for (size_t i = 0; i < c->n_shards; i++)
            cnt[i] += oks_cluster_receives(c, s, i);
    /* at most a live shard's share of the slots at a time, so that one long range (every slot
     * on the same shards) is spread too */
    unsigned most = nlive ? (c->n_slots + nlive - 1) / nlive : c->n_slots;
    *stuck = false;
    for (unsigned a = 0; a < c->n_slots;) {
        const uint16_t *rs = oks_cluster_replicas_of(c, a);
        unsigned b = a, n = oks_cluster_nreplicas(c, a);
        while (b + 1 < c->n_slots && b + 1 - a < most &&
               c->slot_joining[b + 1] == c->slot_joining[a] &&
               memcmp(oks_cluster_replicas_of(c, b + 1), rs, c->width * sizeof *rs) == 0)
            b++;
        long pick = -1;
        for (size_t i = 0; n != R && i < c->n_shards; i++) {
            bool holds = oks_cluster_holds(c, a, i);
            if (n < R && live[i] && !holds && c->slot_joining[a] != i &&
                (pick < 0 || cnt[i] < cnt[pick]))
                pick = (long)i;
            if (n > R && holds && (pick < 0 || cnt[i] >= cnt[pick]))
                pick = (long)i;
        }
        if (n != R && pick < 0) {
            *stuck = true;
            fprintf(stderr, "oksctl: slots %u-%u have %u replicas and no live shard can take "
                            "another\n", a, b, n);
            return false;
        }
        if (n != R) {
            memset(m, 0, sizeof *m);
            m->first = a;
            m->last = b;
            m->target = R;
            snprintf(m->kind, sizeof m->kind, "%s", n < R ? "add" : "remove");
            snprintf(m->from, sizeof m->from, "%s", n < R ? "-" : c->shards[pick].name);
            snprintf(m->to, sizeof m->to, "%s", n < R ? c->shards[pick].name : "-");
            return true;
        }
        a = b + 1;
    }
    return false;
}

/* Brings every range to R replicas from the plan record on, then sets [cluster] replicas = R
 * (when it was lower) and drops the record. steps: ranges changed already (a resumed one). */
static int run_plan(oksctl_topo *t, unsigned R, unsigned steps)
{
    for (;;) {
        bool live[OKS_MAX_SHARDS], stuck;
        oksctl_move m;
        if (oksctl_slots_live(t, live))
            return 1;
        if (!plan_next(&t->map, live, R, &m, &stuck)) {
            if (stuck)
                return 1;
            break;
        }
        if (run_one(t, &m))
            return 1;
        steps++;
    }
    oksctl_move done = {.target = R, .kind = "replicas", .from = "-", .to = "-"};
    if (oksctl_move_step(t, &done, NULL, "done", -1, 0, t->map.replicas != R ? R : 0))
        return 1;
    printf("replicas %u: %u range%s changed\n", R, steps, steps == 1 ? "" : "s");
    return 0;
}

int oksctl_replicas_set(oksctl_topo *t, unsigned R)
{
    const oks_cluster *c = &t->map;
    bool live[OKS_MAX_SHARDS];
    if (oksctl_move_none(t) || oksctl_slots_live(t, live))
        return 1;
    unsigned nlive = 0;
    for (size_t i = 0; i < c->n_shards; i++)
        nlive += live[i];
    if (R < 1 || R > OKS_MAX_REPLICAS || R > nlive) {
        fprintf(stderr, "oksctl: refused: replicas %u: from 1 to %u, and at most the live shards "
                        "(%u)\n", R, OKS_MAX_REPLICAS, nlive);
        return 1;
    }
    if (c->write_quorum > R) {
        fprintf(stderr, "oksctl: refused: [cluster] write_quorum = %u is more than %u\n",
                c->write_quorum, R);
        return 1;
    }
    /* lowering: R first (write_quorum by R can only fall), then the removals */
    oksctl_move p = {.target = R, .kind = "replicas", .from = "-", .to = "-"};
    if (oksctl_move_step(t, &p, "plan", "begin", -1, 0, R < c->replicas ? R : 0))
        return 1;
    return run_plan(t, R, 0);
}

int oksctl_replicas_resume(oksctl_topo *t, oksctl_move *m, bool abort_it)
{
    int rc = 0;
    if (abort_it || !strcmp(m->phase, "abort")) {
        /* undo what is half done, finish what cannot be undone (the record goes back to the
         * plan, if any), then drop the plan: audited as replicas R: abort */
        if (!strcmp(m->kind, "add"))
            rc = oksctl_move_step(t, m, "abort", "abort", OKS_MAP_NONE, OKS_MAP_NONE, 0);
        if (rc == 0 && strcmp(m->kind, "replicas") != 0)
            rc = oksctl_move_step(t, m, NULL, "purge", -1, 0, 0);
        if (rc == 0 && m->target) {
            oksctl_move p = {.target = m->target, .kind = "replicas", .from = "-", .to = "-"};
            rc = oksctl_move_step(t, &p, NULL, "abort", -1, 0, 0);
        }
        return rc;
    }
    bool one = strcmp(m->kind, "replicas") != 0;
    if (one)
        rc = run_one(t, m);
    return rc == 0 && m->target ? run_plan(t, m->target, one) : rc;
}

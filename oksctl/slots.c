/* oksctl slots: online slot moves on the map kept in etcd (docs/replicas.md "Slot moves").
 *
 * A move of slots A-B from shard S to shard T, each step a compare-and-swap of the map with the
 * move record (PREFIX/move) beside it, each followed by a wait until every live router and shard
 * applied it:
 *   1. copy:   T joins A-B (gets their writes, serves no reads); T compares itself with its
 *              peers now (Repair) and copies what it lacks; wait until T's per-slot digests
 *              (keys and tombstones) equal S's for every slot of A-B;
 *   2. switch: T holds A-B and S leaves them, in one map;
 *   3. purge:  one more epoch, so S's map and the one before both leave A-B out: S purges
 *              them; the move record goes.
 * --abort before the switch takes T out again (and T purges); after it only the purge is left,
 * which --resume finishes, as it finishes any step left by an oksctl that died. Adding and
 * removing a replica (oksctl/replicas.c) are the same steps with one side left out. */
#include "oksctl/oksctl.h"
#include "oksctl/slots.h"
#include "lib/clock.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: oksctl slots [-c CONFIG] [--wait SECONDS] [--epoch N] move A-B --to SHARD\n"
    "                    [--from SHARD]\n"
    "       oksctl slots [-c CONFIG] move --resume | --abort\n"
    "       oksctl slots [-c CONFIG] rebalance      (spreads the slots evenly over the shards)\n"
    "       oksctl slots [-c CONFIG] drain SHARD    (moves every slot of SHARD to the others)\n"
    "       oksctl slots [-c CONFIG] add-replica A-B --to SHARD\n"
    "       oksctl slots [-c CONFIG] remove-replica A-B --from SHARD\n"
    "       oksctl slots [-c CONFIG] add-replica | remove-replica --resume | --abort\n"
    "       oksctl slots [-c CONFIG] replicas R     (every range to R replicas)\n"
    "       oksctl slots [-c CONFIG] replicas --resume | --abort\n"
    "\n"
    "Online slot moves on the map kept in etcd ([cluster] etcd): the new replica copies the\n"
    "slots while the old one serves them, catches up with the writes made meanwhile, then\n"
    "reads and writes switch in one map change and the old copy is purged. --from: the replica\n"
    "that leaves the slots (default: the first of their replica set). --wait: how long to wait\n"
    "for the routers and shards to apply a map, and how long a copy may go without a slot\n"
    "becoming equal (default 120 s; a copy goes on as long as slots arrive). --epoch:\n"
    "only if the map is still at epoch N (oksctl map show). A move started from a map that\n"
    "someone changed meanwhile is refused. Each map change needs an admin key: the router\n"
    "writes it to its audit log first (begun, then done or failed), and nothing changes if\n"
    "it refuses.\n"
    "\n"
    "add-replica: SHARD joins the slots and copies them until its per-slot digests equal\n"
    "every holder's, then holds them too (one map change). remove-replica: SHARD leaves\n"
    "them (one map change) and purges them one epoch later; refused when a slot would be\n"
    "left with fewer than write_quorum holders (at least 1), a warning below replicas.\n"
    "replicas R: sets [cluster] replicas and adds or removes a replica of every range until\n"
    "each has R, taking the live shards holding the fewest slots (adding) or the most\n"
    "(removing). --resume finishes one an oksctl that died left; --abort stops it (a\n"
    "replica still copying is taken out again; the map keeps the replicas added so far).\n"
    "--resume and --abort act on the change under way whatever its kind. A shard that is\n"
    "not live (registered in etcd) is refused as a target: nothing changes.\n";

/* Per-slot digests of shard name for first..last into dig[slot - first] (16 bytes; have[] set
 * for the slots it answered). 0 or 1. */
static int digests(oksctl_conn *c, const char *name, unsigned first, unsigned last,
                   uint8_t (*dig)[16], bool *have)
{
    memset(have, 0, (size_t)(last - first + 1) * sizeof *have);
    for (unsigned next = first; next <= last;) {
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__SlotDigests d = OKS__SLOT_DIGESTS__INIT;
        q.op_case = OKS__REQUEST__OP_DIGESTS;
        q.digests = &d;
        d.shard = (char *)name;
        d.first = next;
        d.last = last;
        Oks__Response *r = oksctl_call(c, &q);
        if (!r)
            return 1;
        if (r->status != OKS__STATUS__STATUS_OK) {
            fprintf(stderr, "oksctl: digests of %s: %s\n", name, r->error);
            oks__response__free_unpacked(r, NULL);
            return 1;
        }
        next = last + 1;
        for (size_t i = 0; i < r->n_digests; i++) {
            const Oks__SlotDigest *g = r->digests[i];
            if (g->slot < first || g->slot > last || g->digest.len != 16)
                continue;
            memcpy(dig[g->slot - first], g->digest.data, 16);
            have[g->slot - first] = true;
            if (i + 1 == r->n_digests && r->n_digests == OKS_PROTO_MAX_ITEMS)
                next = g->slot + 1;
        }
        oks__response__free_unpacked(r, NULL);
    }
    return 0;
}

static void repair(oksctl_conn *c, const char *name)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Repair rp = OKS__REPAIR__INIT;
    q.op_case = OKS__REQUEST__OP_REPAIR;
    q.repair = &rp;
    rp.shard = (char *)name;
    Oks__Response *r = oksctl_call(c, &q);
    if (r)
        oks__response__free_unpacked(r, NULL);
}

/* The shards T's digests are compared with: S for a move, every holder of a slot of the range
 * for an added replica. cmp[] gets their indexes; how many. */
static size_t comparands(const oks_cluster *c, const oksctl_move *m, int *cmp)
{
    size_t n = 0;
    if (!strcmp(m->kind, "move")) {
        int si = oks_cluster_shard_index(c, m->from);
        if (si >= 0)
            cmp[n++] = si;
        return n;
    }
    for (size_t i = 0; i < c->n_shards; i++)
        for (unsigned s = m->first; s <= m->last && s < c->n_slots; s++)
            if (oks_cluster_holds(c, s, i)) {
                cmp[n++] = (int)i;
                break;
            }
    return n;
}

/* Slots of the range where T's digest differs from a comparand holding the slot (or either
 * did not answer); UINT_MAX when a digest request failed. */
static unsigned differing(oksctl_topo *t, oksctl_conn *c, const oksctl_move *m,
                          const int *cmp, size_t ncmp, uint8_t (*dt)[16], bool *ht,
                          uint8_t (*ds)[16], bool *hs)
{
    size_t n = m->last - m->first + 1;
    if (digests(c, m->to, m->first, m->last, dt, ht))
        return UINT_MAX;
    bool *bad = calloc(n, 1);
    if (!bad)
        return UINT_MAX;
    for (size_t k = 0; k < ncmp; k++) {
        if (digests(c, t->map.shards[cmp[k]].name, m->first, m->last, ds, hs)) {
            free(bad);
            return UINT_MAX;
        }
        for (size_t i = 0; i < n; i++)
            if (oks_cluster_holds(&t->map, m->first + (unsigned)i, (size_t)cmp[k]) &&
                (!hs[i] || !ht[i] || memcmp(ds[i], dt[i], 16) != 0))
                bad[i] = true;
    }
    unsigned differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += bad[i];
    free(bad);
    return differ;
}

void oksctl_copy_watch_start(oksctl_copy_watch *w, uint64_t now_ms)
{
    *w = (oksctl_copy_watch){UINT_MAX, UINT_MAX, now_ms, now_ms};
}

bool oksctl_copy_watch_stalled(oksctl_copy_watch *w, unsigned differ, uint64_t now_ms,
                               unsigned wait_s)
{
    if (differ != UINT_MAX) {
        w->differ = differ;
        if (differ < w->fewest) { /* a slot more is equal: the copy goes on */
            w->fewest = differ;
            w->progress_ms = now_ms;
        }
    }
    return now_ms - w->progress_ms >= (uint64_t)wait_s * 1000;
}

/* Waits until T's digests equal its comparands' over the slots (asking T to compare itself
 * with its peers now, and again every few seconds). The copy of a large range takes as long as
 * its keys need at [shard] background_rate: it goes on while slots keep becoming equal and is
 * given up after t->wait_s seconds in which none did. 0 or 1. */
static int copy_wait(oksctl_topo *t, const oksctl_move *m)
{
    oksctl_conn c;
    if (oksctl_connect(&c, t->path))
        return 1;
    size_t n = m->last - m->first + 1;
    int cmp[OKS_MAX_SHARDS];
    size_t ncmp = comparands(&t->map, m, cmp);
    uint8_t(*ds)[16] = malloc(n * 16), (*dt)[16] = malloc(n * 16);
    bool *hs = malloc(n), *ht = malloc(n);
    int rc = 1;
    oksctl_copy_watch w;
    oksctl_copy_watch_start(&w, oks_now_ms());
    uint64_t asked = 0;
    while (ds && dt && hs && ht && ncmp) {
        if (asked == 0 || oks_now_ms() - asked >= 5000) {
            repair(&c, m->to);
            asked = oks_now_ms();
        }
        unsigned d = differing(t, &c, m, cmp, ncmp, dt, ht, ds, hs);
        if (d == 0) {
            rc = 0;
            break;
        }
        uint64_t now = oks_now_ms();
        if (oksctl_copy_watch_stalled(&w, d, now, t->wait_s)) {
            char cnt[48] = "its digests unavailable";
            if (w.differ != UINT_MAX)
                snprintf(cnt, sizeof cnt, "%u of them differ", w.differ);
            fprintf(stderr,
                    "oksctl: %s still differs from %s in slots %u-%u (%s): no slot became "
                    "equal in %u s (%llu s in all)\n",
                    m->to, !strcmp(m->kind, "move") ? m->from : "their holders", m->first,
                    m->last, cnt, t->wait_s, (unsigned long long)((now - w.start_ms) / 1000));
            break;
        }
        usleep(300 * 1000);
    }
    free(ds);
    free(dt);
    free(hs);
    free(ht);
    oksctl_disconnect(&c);
    return rc;
}

/* What the audit log and the output call m: "slots A-B S -> T", "slots A-B + T" (added),
 * "slots A-B - S" (removed), "replicas R". */
static void describe(const oksctl_move *m, char *out, size_t n)
{
    if (!strcmp(m->kind, "add"))
        snprintf(out, n, "slots %u-%u + %s", m->first, m->last, m->to);
    else if (!strcmp(m->kind, "remove"))
        snprintf(out, n, "slots %u-%u - %s", m->first, m->last, m->from);
    else if (!strcmp(m->kind, "replicas"))
        snprintf(out, n, "replicas %u", m->target);
    else
        snprintf(out, n, "slots %u-%u %s -> %s", m->first, m->last, m->from, m->to);
}

static const char *action_of(const oksctl_move *m)
{
    return !strcmp(m->kind, "add")      ? "add-replica"
           : !strcmp(m->kind, "remove") ? "remove-replica"
           : !strcmp(m->kind, "replicas") ? "replicas"
                                          : "move";
}

int oksctl_move_step(oksctl_topo *t, const oksctl_move *m, const char *phase, const char *label,
                     int to_state, int from_state, unsigned replicas)
{
    oks_mapedit e;
    oks_mapedit_from(&e, &t->map);
    bool none_to = !strcmp(m->to, "-"), none_from = !strcmp(m->from, "-");
    int si = none_from ? -1 : oks_mapedit_find(&e, m->from),
        ti = none_to ? -1 : oks_mapedit_find(&e, m->to);
    if ((!none_from && si < 0) || (!none_to && ti < 0)) {
        fprintf(stderr, "oksctl: the map has no shard %s\n",
                si < 0 && !none_from ? m->from : m->to);
        oks_mapedit_release(&e);
        return 1;
    }
    for (unsigned s = m->first; to_state >= 0 && s <= m->last && s < e.n_slots; s++) {
        if (ti >= 0)
            e.shards[ti].slot[s] = (uint8_t)to_state;
        if (si >= 0)
            e.shards[si].slot[s] = (uint8_t)from_state;
    }
    if (replicas)
        e.replicas = replicas;
    e.epoch++;
    char rec[512] = "";
    oksctl_move r = *m;
    if (phase) {
        snprintf(r.phase, sizeof r.phase, "%s", phase);
        oksctl_move_render(&r, rec, sizeof rec);
    } else if (m->target && strcmp(m->kind, "replicas") != 0) {
        /* one step of `replicas R` done: the record goes back to the plan */
        oksctl_move p = {.target = m->target, .kind = "replicas", .from = "-", .to = "-",
                         .phase = "plan"};
        oksctl_move_render(&p, rec, sizeof rec);
    }
    char what[192], detail[256];
    describe(m, what, sizeof what);
    snprintf(detail, sizeof detail, "%s: %s, epoch %u", what, label, e.epoch);
    int rc = oksctl_topo_put(t, &e, rec, action_of(m), detail);
    unsigned epoch = e.epoch;
    oks_mapedit_release(&e);
    if (rc == 0)
        rc = oksctl_topo_wait(t, epoch);
    if (rc == 0)
        printf("%s: epoch %u %s\n", what, epoch, strcmp(label, "purge") ? label : "done");
    fflush(stdout);
    return rc;
}

static int step(oksctl_topo *t, const oksctl_move *m, const char *phase, int to_state,
                int from_state, bool edit)
{
    return oksctl_move_step(t, m, phase, phase ? phase : "purge", edit ? to_state : -1,
                            from_state, 0);
}

int oksctl_move_copy_wait(oksctl_topo *t, const oksctl_move *m)
{
    return copy_wait(t, m);
}

/* Runs a move from its phase ("" = not started) to the end. */
static int run_move(oksctl_topo *t, oksctl_move *m)
{
    int rc = 0;
    if (!m->phase[0])
        rc = step(t, m, "copy", OKS_MAP_JOINING, OKS_MAP_HOLDS, true);
    if (rc == 0 && strcmp(m->phase, "switch") != 0 && strcmp(m->phase, "purge") != 0)
        rc = copy_wait(t, m);
    if (rc == 0 && strcmp(m->phase, "switch") != 0 && strcmp(m->phase, "purge") != 0)
        rc = step(t, m, "switch", OKS_MAP_HOLDS, OKS_MAP_NONE, true);
    if (rc == 0)
        rc = step(t, m, NULL, 0, 0, false); /* the purge epoch; the record goes */
    return rc;
}

static int abort_move(oksctl_topo *t, oksctl_move *m)
{
    if (!strcmp(m->phase, "switch") || !strcmp(m->phase, "purge")) {
        printf("slots %u-%u switched to %s already: finishing the purge\n", m->first, m->last,
               m->to);
        return step(t, m, NULL, 0, 0, false);
    }
    int rc = step(t, m, "abort", OKS_MAP_NONE, OKS_MAP_HOLDS, true);
    return rc ? rc : step(t, m, NULL, 0, 0, false); /* T purges what it copied */
}

/* Checks a new move of first..last from `from` to `to` against the map; 0 or 1. */
static int check_move(const oksctl_topo *t, const oksctl_move *m)
{
    const oks_cluster *c = &t->map;
    int si = oks_cluster_shard_index(c, m->from), ti = oks_cluster_shard_index(c, m->to);
    if (si < 0 || ti < 0) {
        fprintf(stderr, "oksctl: the map has no shard %s\n", si < 0 ? m->from : m->to);
        return 1;
    }
    if (m->first > m->last || m->last >= c->n_slots) {
        fprintf(stderr, "oksctl: slots %u-%u: outside 0-%u\n", m->first, m->last, c->n_slots - 1);
        return 1;
    }
    for (unsigned s = m->first; s <= m->last; s++) {
        const char *why = !oks_cluster_holds(c, s, (size_t)si) ? "is not held by"
                          : oks_cluster_holds(c, s, (size_t)ti) ? "is held already by"
                          : c->slot_joining[s] != UINT16_MAX    ? "is being moved to"
                                                                : NULL;
        if (why) {
            fprintf(stderr, "oksctl: slot %u %s %s\n", s, why,
                    c->slot_joining[s] != UINT16_MAX && !strcmp(why, "is being moved to")
                        ? c->shards[c->slot_joining[s]].name
                    : !strcmp(why, "is not held by") ? m->from
                                                     : m->to);
            return 1;
        }
    }
    return 0;
}

int oksctl_move_none(oksctl_topo *t)
{
    oks_buf doc = OKS_BUF_INIT;
    oks_err e;
    int r = oks_mapstore_get_move(t->store, &doc, &e);
    if (r != 0 && r != OKS_E_NOTFOUND)
        fprintf(stderr, "oksctl: the move record: %s\n", e.msg);
    else if (r == 0)
        fprintf(stderr, "oksctl: refused: a slot move is under way (oksctl slots move --resume or "
                        "--abort):\n%.*s", (int)doc.len, (const char *)doc.data);
    oks_buf_release(&doc);
    return r == OKS_E_NOTFOUND ? 0 : 1;
}

int oksctl_move_get(oksctl_topo *t, oksctl_move *m)
{
    oks_buf doc = OKS_BUF_INIT;
    oks_err e;
    int r = oks_mapstore_get_move(t->store, &doc, &e);
    if (r != 0 && r != OKS_E_NOTFOUND) {
        fprintf(stderr, "oksctl: the move record: %s\n", e.msg);
        r = 1;
    } else if (r == 0 && (oksctl_move_parse((const char *)doc.data, doc.len, m, &e) != 0 ||
                          oksctl_move_fits(m, &t->map, &e) != 0)) {
        fprintf(stderr, "oksctl: unusable move record (%s); nothing changed:\n%.*s", e.msg,
                (int)(doc.len < 2048 ? doc.len : 2048), (const char *)doc.data);
        r = 1;
    }
    oks_buf_release(&doc);
    return r;
}

int oksctl_slots_need_live(oksctl_topo *t, const char *name)
{
    bool live[OKS_MAX_SHARDS];
    int i = oks_cluster_shard_index(&t->map, name);
    if (i < 0 || oksctl_slots_live(t, live))
        return 1;
    if (live[i])
        return 0;
    fprintf(stderr, "oksctl: refused: shard %s is not live (not registered in etcd): it could not "
                    "copy the slots; nothing changed\n", name);
    return 1;
}

/* A move from the map read last: refused while another is under way. */
static int new_move(oksctl_topo *t, oksctl_move *m)
{
    if (oksctl_move_none(t) || check_move(t, m) || oksctl_slots_need_live(t, m->to))
        return 1;
    return run_move(t, m);
}

static unsigned held(const oks_cluster *c, size_t i)
{
    unsigned n = 0;
    for (unsigned s = 0; s < c->n_slots; s++)
        n += oks_cluster_holds(c, s, i);
    return n;
}

/* The live shards (registered in etcd): a drained and stopped shard is left out. */
typedef struct live_set {
    const oks_cluster *c;
    bool *live;
} live_set;

static void note_live(const char *who, unsigned epoch, void *arg)
{
    (void)epoch;
    live_set *l = arg;
    if (strncmp(who, "shard/", 6) == 0) {
        int i = oks_cluster_shard_index(l->c, who + 6);
        if (i >= 0)
            l->live[i] = true;
    }
}

int oksctl_slots_live(oksctl_topo *t, bool *live)
{
    live_set l = {.c = &t->map, .live = live};
    oks_err e;
    char msg[400];
    memset(live, 0, t->map.n_shards * sizeof *live);
    if (oks_mapstore_members(t->store, note_live, &l, &e)) {
        fprintf(stderr, "oksctl: members: %s\n", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    return 0;
}

/* The first run of at most want slots that from holds and to neither holds nor is joining. */
static bool find_run(const oks_cluster *c, size_t from, size_t to, unsigned want, oksctl_move *m)
{
    for (unsigned a = 0; a < c->n_slots; a++) {
        if (!oks_cluster_holds(c, a, from) || oks_cluster_receives(c, a, to))
            continue;
        unsigned b = a;
        while (b + 1 < c->n_slots && b + 1 - a < want && oks_cluster_holds(c, b + 1, from) &&
               !oks_cluster_receives(c, b + 1, to))
            b++;
        m->first = a;
        m->last = b;
        snprintf(m->from, sizeof m->from, "%s", c->shards[from].name);
        snprintf(m->to, sizeof m->to, "%s", c->shards[to].name);
        snprintf(m->kind, sizeof m->kind, "move");
        m->phase[0] = '\0';
        m->target = 0;
        return true;
    }
    return false;
}

/* The next move that evens the live shards' slot counts (drain >= 0: that moves slots away from
 * shard drain to the others); false when none is left. */
static bool plan(const oks_cluster *c, const bool *up, int drain, oksctl_move *m)
{
    unsigned cnt[OKS_MAX_SHARDS];
    long from = drain;
    for (size_t i = 0; i < c->n_shards; i++) {
        cnt[i] = held(c, i);
        if (drain < 0 && up[i] && (from < 0 || cnt[i] > cnt[from]))
            from = (long)i;
    }
    if (from < 0 || !cnt[from])
        return false;
    unsigned others = 0, live = 0, total = 0;
    for (size_t i = 0; i < c->n_shards; i++) {
        others += up[i] && (long)i != from;
        live += up[i];
        total += up[i] ? cnt[i] : 0;
    }
    /* the even share: lo or lo + 1 slots each */
    unsigned lo = live ? total / live : 0, hi = lo + (live && total % live ? 1 : 0);
    /* targets by fewest slots first: the first with slots it can take */
    bool tried[OKS_MAX_SHARDS] = {false};
    for (unsigned k = 0; k < others; k++) {
        long to = -1;
        for (size_t i = 0; i < c->n_shards; i++)
            if (up[i] && (long)i != from && !tried[i] && (to < 0 || cnt[i] < cnt[to]))
                to = (long)i;
        if (to < 0)
            return false;
        tried[to] = true;
        unsigned want;
        if (drain >= 0) { /* up to the target's even share of everything, else all it can */
            unsigned share = others ? (total + others - 1) / others : 0;
            want = share > cnt[to] ? share - cnt[to] : cnt[from];
        }
        else if (cnt[from] <= cnt[to] + 1)
            return false; /* even: within one slot */
        else {
            unsigned give = cnt[from] > hi ? cnt[from] - hi : 1,
                     take = lo > cnt[to] ? lo - cnt[to] : 1;
            want = give < take ? give : take;
        }
        if (want && find_run(c, (size_t)from, (size_t)to, want, m))
            return true;
    }
    return false;
}

static int spread(oksctl_topo *t, const char *drain)
{
    int from = -1;
    if (drain && (from = oks_cluster_shard_index(&t->map, drain)) < 0) {
        fprintf(stderr, "oksctl: the map has no shard %s\n", drain);
        return 1;
    }
    oksctl_move m;
    unsigned moves = 0;
    for (;;) {
        bool live[OKS_MAX_SHARDS];
        if (oksctl_slots_live(t, live))
            return 1;
        if (!plan(&t->map, live, from, &m))
            break;
        if (new_move(t, &m))
            return 1;
        moves++;
    }
    if (from >= 0 && held(&t->map, (size_t)from)) {
        fprintf(stderr, "oksctl: %s still holds %u slots: no live shard can take them\n", drain,
                held(&t->map, (size_t)from));
        return 1;
    }
    printf("%s: %u move%s\n", drain ? "drained" : "balanced", moves, moves == 1 ? "" : "s");
    return 0;
}

int oksctl_slots(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", 1, NULL, 'c'}, {"help", 0, NULL, 'h'},   {"to", 1, NULL, 't'},
        {"from", 1, NULL, 'f'},   {"resume", 0, NULL, 'r'}, {"abort", 0, NULL, 'a'},
        {"wait", 1, NULL, 'w'},   {"epoch", 1, NULL, 'e'},  {NULL, 0, NULL, 0}};
    const char *conf = NULL, *to = NULL, *from = NULL;
    bool resume = false, abort_it = false;
    unsigned wait_s = 120;
    long epoch = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 't': to = optarg; break;
        case 'f': from = optarg; break;
        case 'r': resume = true; break;
        case 'a': abort_it = true; break;
        case 'w': wait_s = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'e': epoch = strtol(optarg, NULL, 10); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    const char *what = optind < argc ? argv[optind] : "";
    int args = argc - optind - 1;
    bool ranged = !strcmp(what, "move") || !strcmp(what, "add-replica") ||
                  !strcmp(what, "remove-replica");
    bool again = resume || abort_it;
    bool ok = (!strcmp(what, "move") && (again ? args == 0 && !to : args == 1 && to)) ||
              (!strcmp(what, "add-replica") &&
               (again ? args == 0 && !to && !from : args == 1 && to && !from)) ||
              (!strcmp(what, "remove-replica") &&
               (again ? args == 0 && !to && !from : args == 1 && from && !to)) ||
              (!strcmp(what, "replicas") && (again ? args == 0 : args == 1)) ||
              (!strcmp(what, "rebalance") && args == 0) || (!strcmp(what, "drain") && args == 1);
    ok = ok && !(resume && abort_it);
    unsigned a = 0, b = 0, want = 0;
    if (ok && ranged && !again) {
        int n = 0;
        ok = sscanf(argv[optind + 1], "%u-%u%n", &a, &b, &n) == 2 &&
             argv[optind + 1][n] == '\0';
        if (!ok && sscanf(argv[optind + 1], "%u%n", &a, &n) == 1 && !argv[optind + 1][n]) {
            b = a;
            ok = true;
        }
    }
    if (ok && !strcmp(what, "replicas") && !again) {
        int n = 0;
        ok = sscanf(argv[optind + 1], "%u%n", &want, &n) == 1 && !argv[optind + 1][n];
    }
    if (!ok) {
        fputs(usage, stderr);
        return 2;
    }
    oksctl_topo t;
    int r = oksctl_topo_open(&t, conf);
    if (r)
        return r;
    t.wait_s = wait_s ? wait_s : 120;
    r = oksctl_topo_read(&t);
    if (r == OKS_E_NOTFOUND)
        fprintf(stderr, "oksctl: no map in etcd yet (oksctl map init)\n");
    if (r) {
        oksctl_topo_close(&t);
        return 1;
    }
    if (epoch >= 0 && t.map.epoch != (unsigned long)epoch) {
        fprintf(stderr, "oksctl: refused: the map is at epoch %u, not %ld\n", t.map.epoch, epoch);
        oksctl_topo_close(&t);
        return 1;
    }
    if (again) {
        oksctl_move m;
        r = oksctl_move_get(&t, &m);
        if (r == OKS_E_NOTFOUND) {
            printf("no slot move under way\n");
            r = 0;
        } else if (r == 0 && strcmp(m.kind, "move") != 0)
            r = oksctl_replicas_resume(&t, &m, abort_it);
        else if (r == 0 && (abort_it || !strcmp(m.phase, "abort")))
            r = abort_move(&t, &m);
        else if (r == 0)
            r = run_move(&t, &m);
    } else if (!strcmp(what, "add-replica")) {
        r = oksctl_replica_add(&t, a, b, to);
    } else if (!strcmp(what, "remove-replica")) {
        r = oksctl_replica_remove(&t, a, b, from);
    } else if (!strcmp(what, "replicas")) {
        r = oksctl_replicas_set(&t, want);
    } else if (!strcmp(what, "move")) {
        oksctl_move m = {.first = a, .last = b, .kind = "move"};
        snprintf(m.to, sizeof m.to, "%s", to);
        int ti = oks_cluster_shard_index(&t.map, to);
        if (from)
            snprintf(m.from, sizeof m.from, "%s", from);
        else if (a < t.map.n_slots) {
            const uint16_t *rs = oks_cluster_replicas_of(&t.map, a);
            unsigned k = 0;
            while (k + 1 < oks_cluster_nreplicas(&t.map, a) && (int)rs[k] == ti)
                k++;
            snprintf(m.from, sizeof m.from, "%s", t.map.shards[rs[k]].name);
        }
        r = new_move(&t, &m);
    } else {
        r = spread(&t, !strcmp(what, "drain") ? argv[optind + 1] : NULL);
    }
    oksctl_topo_close(&t);
    return r ? 1 : 0;
}

/* oksctl map: the slot map kept in etcd (docs/replicas.md "Slot moves", docs/operations.md
 * "Resharding"). */
#include "oksctl/oksctl.h"
#include "oksctl/topo.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: oksctl map [-c CONFIG] init | show | add-shard NAME\n"
    "\n"
    "The slot map kept in etcd ([cluster] etcd of CONFIG):\n"
    "  init            puts the map of CONFIG there (epoch 1), unless there is one\n"
    "  show            prints it with its epoch, and the slot move under way if any\n"
    "  add-shard NAME  adds shard NAME (its endpoint from CONFIG's [shard.NAME]) holding no\n"
    "                  slot yet, and waits until every router and shard applied it; then\n"
    "                  'oksctl slots rebalance' gives it slots\n"
    "Every change is a compare-and-swap on the map: one made meanwhile by someone else makes\n"
    "it fail (read and try again).\n";

static int init(oksctl_topo *t)
{
    int r = oksctl_topo_read(t);
    if (r == 0) {
        printf("a map is in etcd already (epoch %u)\n", t->map.epoch);
        return 0;
    }
    if (r != OKS_E_NOTFOUND)
        return 1;
    oks_mapedit m;
    oks_mapedit_from(&m, &t->local);
    m.epoch = t->local.epoch ? t->local.epoch : 1;
    /* the first map, before any router runs: no router to record it (docs/replicas.md) */
    r = oksctl_topo_put(t, &m, NULL, NULL, NULL);
    oks_mapedit_release(&m);
    if (r == 0)
        printf("map of %s put in etcd (epoch %u)\n", t->path, t->map.epoch);
    return r;
}

static int show(oksctl_topo *t)
{
    int r = oksctl_topo_read(t);
    if (r == OKS_E_NOTFOUND) {
        fprintf(stderr, "oksctl: no map in etcd yet (oksctl map init)\n");
        return 1;
    }
    if (r)
        return 1;
    oks_mapedit m;
    oks_mapedit_from(&m, &t->map);
    oks_buf doc = OKS_BUF_INIT, move = OKS_BUF_INIT;
    oks_err e;
    oks_mapedit_render(&m, &doc);
    printf("; epoch %u (revision %llu)\n%.*s", t->map.epoch, (unsigned long long)t->rev,
           (int)doc.len, (const char *)doc.data);
    if (oks_mapstore_get_move(t->store, &move, &e) == 0)
        printf("\n; slot move under way:\n%.*s", (int)move.len, (const char *)move.data);
    oks_buf_release(&doc);
    oks_buf_release(&move);
    oks_mapedit_release(&m);
    return 0;
}

static int add_shard(oksctl_topo *t, const char *name)
{
    int i = oks_cluster_shard_index(&t->local, name);
    if (i < 0) {
        fprintf(stderr, "oksctl: %s has no [shard.%s] (its endpoint and data go there first)\n",
                t->path, name);
        return 1;
    }
    if (oksctl_topo_read(t))
        return 1;
    oks_mapedit m;
    oks_mapedit_from(&m, &t->map);
    int r = 0;
    if (oks_mapedit_find(&m, name) >= 0) {
        printf("shard %s is in the map already (epoch %u)\n", name, t->map.epoch);
    } else if (oks_mapedit_add_shard(&m, name, t->local.shards[i].endpoint) < 0) {
        fprintf(stderr, "oksctl: the map has %d shards already\n", OKS_MAX_SHARDS);
        r = 1;
    } else {
        m.epoch++;
        char detail[160];
        snprintf(detail, sizeof detail, "shard %s at %s, epoch %u", name,
                 t->local.shards[i].endpoint, m.epoch);
        r = oksctl_topo_put(t, &m, NULL, "add-shard", detail);
        if (r == 0)
            r = oksctl_topo_wait(t, m.epoch);
        if (r == 0)
            printf("shard %s added (epoch %u)\n", name, m.epoch);
    }
    oks_mapedit_release(&m);
    return r;
}

int oksctl_map(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", 1, NULL, 'c'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *conf = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            conf = optarg;
        else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    const char *what = optind < argc ? argv[optind] : "";
    bool add = strcmp(what, "add-shard") == 0;
    if ((add ? optind + 2 : optind + 1) != argc ||
        (!add && strcmp(what, "init") && strcmp(what, "show"))) {
        fputs(usage, stderr);
        return 2;
    }
    oksctl_topo t;
    int r = oksctl_topo_open(&t, conf);
    if (r)
        return r;
    r = add ? add_shard(&t, argv[optind + 1]) : strcmp(what, "init") == 0 ? init(&t) : show(&t);
    oksctl_topo_close(&t);
    return r;
}

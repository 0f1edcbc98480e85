/*
 * The topology in etcd as oksctl changes it (oksctl map, oksctl slots; docs/replicas.md "Slot
 * moves"): the map read with its revision, changed by compare-and-swap, and the wait until every
 * live router and shard applied an epoch.
 */
#ifndef OKSCTL_TOPO_H
#define OKSCTL_TOPO_H

#include "lib/mapdoc.h"
#include "lib/mapstore.h"
#include "oksctl/cluster.h"

typedef struct oksctl_topo {
    const char *path;  /* oks.conf */
    oks_cluster local; /* oks.conf as loaded */
    oks_buf text;      /* its text */
    oks_mapstore *store;
    oks_cluster map;   /* the map in etcd with the local settings (valid after topo_read) */
    bool have_map;
    uint64_t rev;      /* the map's mod revision */
    unsigned wait_s;   /* how long to wait for members, and for a copy */
} oksctl_topo;

/* Loads oks.conf and opens the store. Prints why and returns 1 on failure (2: no etcd). */
int oksctl_topo_open(oksctl_topo *t, const char *path);
void oksctl_topo_close(oksctl_topo *t);
/* Reads the map (OKS_E_NOTFOUND when there is none); prints other errors. */
int oksctl_topo_read(oksctl_topo *t);
/* Puts m (its epoch already raised) by compare-and-swap on the map read last, with the move
 * record move (NULL: untouched, "": deleted); then reads it back. A lost race is printed as a
 * refusal. With action set, the change is announced to a router first (action and detail, as
 * oksctl_topo_announce) and nothing is changed unless it answers OK; its outcome is announced
 * after. 0 or 1. */
int oksctl_topo_put(oksctl_topo *t, const oks_mapedit *m, const char *move, const char *action,
                    const char *detail);
/* Sends a Topology request through the router of config_path: the router checks that oksctl's
 * key is an admin's and writes action, detail and outcome with the key's name to its audit
 * log. 0 when it answered OK; otherwise prints why and returns 1. */
int oksctl_topo_announce(const char *config_path, const char *action, const char *detail,
                         const char *outcome);
/* Waits until every live member ran epoch (prints progress on failure). 0 or 1. */
int oksctl_topo_wait(oksctl_topo *t, unsigned epoch);

#endif

/*
 * The cluster topology kept in etcd ([cluster] etcd, docs/replicas.md "Slot moves"), over the
 * etcd client (lib/etcd.h). Keys under [cluster] etcd_prefix (PREFIX):
 *   PREFIX/map                 the map document (lib/mapdoc.h), its epoch inside
 *   PREFIX/move                the slot move under way (text, "key = value" lines), if any
 *   PREFIX/members/ROLE/NAME   the epoch a live router or shard applied (with a lease: gone
 *                              when the member is)
 * Every change of the map is a compare-and-swap on the map key's mod revision, so two operators
 * (or two oksctl) working from the same epoch cannot both change it: the second is refused.
 * Blocking calls: for threads and tools, never an event loop.
 */
#ifndef OKS_MAPSTORE_H
#define OKS_MAPSTORE_H

#include "lib/buf.h"
#include "lib/cluster.h"
#include "lib/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct oks_mapstore oks_mapstore;

/* Opens the store of c ([cluster] etcd and its TLS settings). OKS_E_ARG when c has no etcd. */
int oks_mapstore_open(const oks_cluster *c, oks_mapstore **out, oks_err *e);
void oks_mapstore_close(oks_mapstore *s);

/* The map document (appended to doc) and its mod revision; OKS_E_NOTFOUND when there is none.
 * rev (may be NULL): the store's revision at the read, where a watch starts from. */
int oks_mapstore_get_map(oks_mapstore *s, oks_buf *doc, uint64_t *mod_rev, uint64_t *rev,
                         oks_err *e);
/* The move record (appended to doc); OKS_E_NOTFOUND when none. */
int oks_mapstore_get_move(oks_mapstore *s, oks_buf *doc, oks_err *e);
/* One change, atomically: puts map when the map's mod revision is still expect (0: there is no
 * map yet) and, with move set, puts the move record too (move "" deletes it). OKS_E_STATE when
 * the map changed since (the change is refused); *new_rev: the map's new mod revision. */
int oks_mapstore_change(oks_mapstore *s, uint64_t expect, const oks_buf *map, const char *move,
                        uint64_t *new_rev, oks_err *e);

/* Calls fn with every new version of the map after revision from_rev, until *stop is set or an
 * error (the watch then returns it; the caller reads the map again and watches from there). */
typedef void (*oks_mapstore_fn)(const char *doc, size_t len, uint64_t mod_rev, void *arg);
int oks_mapstore_watch(oks_mapstore *s, uint64_t from_rev, oks_mapstore_fn fn, void *arg,
                       atomic_int *stop, oks_err *e);

/* Registers PREFIX/members/ROLE/NAME = epoch under a lease of ttl_s seconds (granted on the
 * first call, kept alive by every later call). */
int oks_mapstore_member(oks_mapstore *s, const char *role, const char *name, unsigned epoch,
                        unsigned ttl_s, oks_err *e);
/* The live members: fn(role/name, epoch) for each. */
typedef void (*oks_mapstore_member_fn)(const char *who, unsigned epoch, void *arg);
int oks_mapstore_members(oks_mapstore *s, oks_mapstore_member_fn fn, void *arg, oks_err *e);

#endif

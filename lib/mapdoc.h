/*
 * The slot map as a document of its own (docs/replicas.md "Slot moves"). With [cluster] etcd set
 * the map lives in etcd (PREFIX/map) in the INI form of oks.conf's map part:
 *   [cluster] slots, replicas, write_quorum, epoch
 *   [shard.NAME] endpoint, slots, joining
 * and oks.conf keeps the host-local settings (data, bind, keys, limits...). A daemon's config is
 * oks.conf without its map part followed by the map document, read as one file.
 *
 * oks_mapedit is the map as oksctl changes it: per shard and slot, whether the shard holds it,
 * is joining it or has nothing to do with it, rendered back into a document.
 */
#ifndef OKS_MAPDOC_H
#define OKS_MAPDOC_H

#include "lib/buf.h"
#include "lib/cluster.h"
#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether [section] key belongs to the map document. */
bool oks_mapdoc_is_map_key(const char *section, const char *key);
/* Appends the lines of an INI text to local (the lines that are not map keys, when local is
 * not NULL) and to map (the map keys under their section headers, when map is not NULL). */
int oks_mapdoc_split(const char *text, size_t len, oks_buf *local, oks_buf *map);
/* Loads a config: the local text without its map part, then the map document. A local
 * [shard.NAME] section of a shard the map does not list (yet) is left out. name: for
 * messages. */
int oks_mapdoc_load(const char *name, const char *local, size_t local_len, const char *map,
                    size_t map_len, oks_cluster *c, oks_err *e);
/* Reads a whole file (at most 1 MiB) into b. */
int oks_mapdoc_read_file(const char *path, oks_buf *b, oks_err *e);

enum { OKS_MAP_NONE = 0, OKS_MAP_HOLDS = 1, OKS_MAP_JOINING = 2 };

typedef struct oks_mapedit_shard {
    char name[64];
    char endpoint[256];
    uint8_t *slot; /* n_slots entries: OKS_MAP_* (owned) */
} oks_mapedit_shard;

typedef struct oks_mapedit {
    unsigned n_slots, replicas, write_quorum, epoch;
    size_t n_shards;
    oks_mapedit_shard shards[OKS_MAX_SHARDS];
} oks_mapedit;

/* The editable form of c's map. */
void oks_mapedit_from(oks_mapedit *m, const oks_cluster *c);
void oks_mapedit_release(oks_mapedit *m);
/* Index of shard name, or -1. */
int oks_mapedit_find(const oks_mapedit *m, const char *name);
/* Adds a shard holding nothing (its index, or -1 when full). */
int oks_mapedit_add_shard(oks_mapedit *m, const char *name, const char *endpoint);
/* Slots shard i holds (joining: is joining). */
unsigned oks_mapedit_count(const oks_mapedit *m, size_t i, int state);
/* The document of m (appended to out). */
int oks_mapedit_render(const oks_mapedit *m, oks_buf *out);

#endif

/*
 * sync/ptree: the recon prefix tree over the SKS hashes of all stored keys (protocols.md §2.5):
 * bitquantum 2 (4 children), split when a leaf exceeds 50 elements, join when an interior
 * node falls to 25 or fewer, 6 sample values per node maintained on insert and delete.
 * The element set is persisted in its own LevelDB (one record per hash, plus named metadata
 * such as change-log cursors written in the same batch); nodes and sample values are derived
 * data held in memory and rebuilt at open in O(n * depth). Not thread-safe: one owner thread;
 * a recon session runs between updates, so it always sees a consistent tree.
 */
#ifndef OKS_SYNC_PTREE_H
#define OKS_SYNC_PTREE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "sync/poly.h"
#include "sync/recon_wire.h"

#define OKS_PTREE_SPLIT 50
#define OKS_PTREE_JOIN 25

typedef struct oks_ptree oks_ptree;

/* Opens (creating) the tree stored in dir; dir NULL keeps it in memory only. */
int oks_ptree_open(const char *dir, oks_ptree **out, oks_err *e);
void oks_ptree_free(oks_ptree *t);

/* Adds a hash: 0 if added, 1 if it was already there. Hashes 0, 1 and 2 (as little-endian
 * integers) equal sample points and are refused (OKS_E_ARG), as in SKS. */
int oks_ptree_insert(oks_ptree *t, const uint8_t hash[16], oks_err *e);
/* Removes a hash: 0 if removed, 1 if it was not there. */
int oks_ptree_delete(oks_ptree *t, const uint8_t hash[16], oks_err *e);
int oks_ptree_has(const oks_ptree *t, const uint8_t hash[16]);
size_t oks_ptree_count(const oks_ptree *t);

/* Applies adds and deletes and sets one metadata value, in one LevelDB write batch (so a cursor
 * never runs ahead of the hashes it stands for). meta_key may be NULL. */
int oks_ptree_apply(oks_ptree *t, const uint8_t (*add)[16], size_t nadd,
                    const uint8_t (*del)[16], size_t ndel, const char *meta_key,
                    const void *meta, size_t meta_len, oks_err *e);
/* Reads a metadata value into a malloc'd buffer; OKS_E_NOTFOUND if absent. */
int oks_ptree_meta_get(oks_ptree *t, const char *key, uint8_t **val, size_t *len, oks_err *e);
/* Calls cb for every metadata entry whose name starts with prefix (key without the prefix
 * byte of the store, not NUL-terminated). */
int oks_ptree_meta_scan(oks_ptree *t, const char *prefix,
                        void (*cb)(void *arg, const char *key, size_t klen, const uint8_t *val,
                                   size_t vlen),
                        void *arg);

/* What the tree holds at a prefix. exact = a node with exactly this prefix exists; otherwise
 * the values describe the elements of the covering leaf that match the prefix (leaf = 1). */
typedef struct oks_ptree_node {
    int exact, leaf;
    uint32_t count;
    oks_zzp samples[OKS_RECON_SAMPLES];
} oks_ptree_node;

int oks_ptree_node_at(const oks_ptree *t, const oks_recon_bits *prefix, oks_ptree_node *out);
/* All elements under a prefix, in a malloc'd array (caller frees). */
int oks_ptree_elements(const oks_ptree *t, const oks_recon_bits *prefix, oks_zzp **out,
                       size_t *n);
/* Every hash in the tree (malloc'd, caller frees), for rebuild comparisons. */
int oks_ptree_all_hashes(const oks_ptree *t, uint8_t (**out)[16], size_t *n);

#endif

/*
 * Cluster configuration (one INI file, see deploy/oks.conf.example) and the slot map.
 *
 * Keys are partitioned into a fixed number of slots (default 4096) by their 64-bit key ID:
 * slot = top bits of the key ID (v4: low 64 bits of the fingerprint; v6: high 64 bits), so a
 * lookup by fingerprint or long key ID knows its slot without asking anyone. The config maps
 * every slot to exactly one shard. Its digest (SHA-256 over the normalised map) travels in every
 * router->shard request, so a router or shard running with a different map is detected.
 */
#ifndef OKS_CLUSTER_H
#define OKS_CLUSTER_H

#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OKS_MAX_SHARDS 256
#define OKS_MAX_ROUTERS 16
#define OKS_DEFAULT_SLOTS 4096

typedef struct oks_shard_conf {
    char name[64];
    char endpoint[256];  /* ZeroMQ endpoint the shard binds, routers connect */
    char data_dir[512];
    char *slot_spec;     /* as written, e.g. "0-1023,2048" (owned) */
} oks_shard_conf;

typedef struct oks_cluster {
    unsigned n_slots;
    uint16_t *slot_owner;  /* n_slots entries: index into shards */
    oks_shard_conf shards[OKS_MAX_SHARDS];
    size_t n_shards;
    char routers[OKS_MAX_ROUTERS][256]; /* router frontend endpoints */
    size_t n_routers;
    uint8_t digest[32];
    /* [router] */
    unsigned router_deadline_ms;  /* default 5000 */
    unsigned router_max_results;  /* default 500: fan-out results after merge */
    size_t max_message_bytes;     /* default 64 MiB: any ZeroMQ message */
    /* [shard] */
    unsigned shard_workers;       /* reader/verifier threads per shard; 0 = number of CPUs */
    unsigned shard_batch;         /* adds per synced write batch; default 256 */
    size_t shard_cache_mb;        /* LevelDB block cache; default 64 */
    unsigned search_max_matches;  /* per shard; default 500 */
    /* [limits] OpenPGP limits (oks_pgp_limits) */
    size_t max_key_bytes, max_packet_bytes, max_attribute_bytes, max_sig_bytes, max_packets,
        max_uids, max_subkeys, max_sigs_per_uid, max_third_party_per_uid;
    /* other sections are read by the daemons that own them, through oks_cluster_get */
    char *path;
} oks_cluster;

/* Loads and validates the config (every slot owned exactly once, names unique). */
int oks_cluster_load(const char *path, oks_cluster *c, oks_err *e);
void oks_cluster_release(oks_cluster *c);
/* Finds a shard by name; -1 if none. */
int oks_cluster_shard_index(const oks_cluster *c, const char *name);
/* Value of "key" in "[section]" of the same file, or NULL (returned string is malloc'd). */
char *oks_cluster_get(const oks_cluster *c, const char *section, const char *key);

/* Parses "a-b,c,..." into owner[] = idx for each slot listed; fails on overlap or range. */
int oks_slots_parse(const char *spec, unsigned n_slots, uint16_t *owner, uint16_t idx,
                    oks_err *e);

/* The slot of a 64-bit key ID. */
static inline unsigned oks_slot_of_keyid(const uint8_t keyid[8], unsigned n_slots)
{
    uint32_t top = (uint32_t)keyid[0] << 24 | (uint32_t)keyid[1] << 16 | (uint32_t)keyid[2] << 8 |
                   keyid[3];
    return (unsigned)(((uint64_t)top * n_slots) >> 32);
}
/* Key ID of a fingerprint (20 bytes v4: last 8; 32 bytes v6: first 8); -1 for other sizes. */
int oks_keyid_of_fpr(const uint8_t *fpr, size_t len, uint8_t keyid[8]);

#endif

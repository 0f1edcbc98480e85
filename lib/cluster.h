/*
 * Cluster configuration (one INI file, see deploy/oks.conf.example) and the slot map.
 *
 * Keys are partitioned into a fixed number of slots (default 4096) by their 64-bit key ID:
 * slot = top bits of the key ID (v4: low 64 bits of the fingerprint; v6: high 64 bits), so a
 * lookup by fingerprint or long key ID knows its slot without asking anyone. The config maps
 * every slot to [cluster] replicas shards (R, default 1): the shards whose slot lists name it,
 * its replica set, in the order of their sections (exactly R in a static map; a map kept in etcd
 * may have from write_quorum to OKS_MAX_REPLICAS while a replica is added or removed online).
 * Replicas are equals (no leader): writes go to all of them, reads to any one
 * (docs/replicas.md). The map's digest (SHA-256 over
 * the normalised map) travels in every router->shard request, so a router or shard running with
 * a different map is detected.
 *
 * Every setting of the file is checked against the table of lib/conf.c while it is read once;
 * the daemons read the fields below (docs/config.md lists them all).
 */
#ifndef OKS_CLUSTER_H
#define OKS_CLUSTER_H

#include "lib/buf.h"
#include "lib/conf.h"
#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OKS_MAX_SHARDS 256
#define OKS_MAX_ROUTERS 16
#define OKS_DEFAULT_SLOTS 4096
#define OKS_MAX_REPLICAS 8

typedef struct oks_shard_conf {
    char name[64];
    char endpoint[256];  /* ZeroMQ endpoint routers connect to (the shard binds it too, unless
                            bind is set) */
    char bind[256];      /* ZeroMQ endpoint the shard binds; "" = endpoint */
    char data_dir[512];
    char *slot_spec;     /* as written, e.g. "0-1023,2048" (owned) */
    char *joining_spec;  /* slots being copied to this shard by a move (owned; NULL = none) */
    oks_hostport metrics_listen; /* overrides [shard] metrics_listen; port 0 = not set */
} oks_shard_conf;

typedef struct oks_cluster {
    unsigned n_slots;
    uint16_t *slot_owner;  /* n_slots entries: index into shards of the slot's first replica */
    uint16_t *slot_replicas; /* n_slots * width entries: slot s is held by the shards
                              * slot_replicas[s * width ...], in config order, the places
                              * after its slot_nrep[s] holders UINT16_MAX */
    uint8_t *slot_nrep;    /* n_slots entries: holders of each slot (= replicas in a static map;
                            * from write_quorum to OKS_MAX_REPLICAS in a map kept in etcd, while
                            * a replica is added or removed) */
    unsigned width;        /* the most holders of any slot (>= replicas) */
    uint16_t *slot_joining; /* n_slots entries: the shard a move is adding to the slot (gets
                             * its writes, serves no reads), UINT16_MAX = none */
    unsigned epoch;        /* [cluster] epoch: version of the map (0 = static) */
    unsigned replicas;     /* [cluster] replicas: shards holding each slot (a map in etcd:
                            * the count `oksctl slots replicas` brings every range to) */
    unsigned write_quorum; /* [cluster] write_quorum as configured (0 = by replicas) */
    oks_shard_conf shards[OKS_MAX_SHARDS];
    size_t n_shards;
    char routers[OKS_MAX_ROUTERS][256]; /* [cluster] routers; clients use all of them */
    size_t n_routers;
    uint8_t digest[32];
    size_t max_message_bytes;     /* [cluster]: any ZeroMQ message */
    oks_conf_etcd etcd;           /* [cluster] etcd, etcd_*: the topology store */
    /* [router] */
    unsigned router_deadline_ms;
    char router_bind[256];        /* frontend a router binds; "" = routers[0] */
    unsigned router_max_results;  /* fan-out results after merge */
    /* [shard] */
    unsigned shard_workers;       /* reader/verifier threads per shard; 0 = number of CPUs */
    size_t shard_cache_mb;        /* LevelDB block cache */
    size_t shard_write_buffer_mb; /* LevelDB memtable */
    unsigned shard_max_open_files;
    int shard_table_reads;        /* 0 pread, 1 mmap (oks_store_reads) */
    unsigned search_max_matches;  /* per shard */
    unsigned shard_repair_interval_s; /* full comparison with each replica peer; 0 = never */
    unsigned shard_background_rate;   /* keys/s of paced copies and purges; 0 = no limit */
    unsigned shard_changelog_keep;    /* change-log entries kept; 0 = all */
    /* [limits] OpenPGP limits (oks_pgp_limits) */
    size_t max_key_bytes, max_packet_bytes, max_attribute_bytes, max_sig_bytes, max_packets,
        max_uids, max_subkeys, max_sigs_per_uid, max_third_party_per_uid;
    oks_conf_http http;
    oks_conf_dns dns;
    oks_conf_mail mail;
    oks_conf_sync sync;
    oks_conf_ldap ldap;
    oks_conf_security security;
    /* metrics_listen, metrics_allow of [shard], [router], [sync], [mail] */
    oks_conf_metrics shard_metrics, router_metrics, sync_metrics, mail_metrics, ldap_metrics;
    char *path;
} oks_cluster;

/* Loads and validates the config: every key against the table of lib/conf.c, then the slot map
 * (every slot owned exactly once). Errors read "FILE:LINE: [section] key: reason". */
int oks_cluster_load(const char *path, oks_cluster *c, oks_err *e);
/* The same from a text in memory (name is used in messages). */
int oks_cluster_load_text(const char *name, const char *text, size_t len, oks_cluster *c,
                          oks_err *e);
void oks_cluster_release(oks_cluster *c);
/* The replica set of a slot: oks_cluster_nreplicas() entries, indexes into shards (followed by
 * UINT16_MAX up to width entries, so two sets compare equal with memcmp over width). */
static inline const uint16_t *oks_cluster_replicas_of(const oks_cluster *c, unsigned slot)
{
    return c->slot_replicas + (size_t)slot * c->width;
}
/* How many shards hold slot. */
static inline unsigned oks_cluster_nreplicas(const oks_cluster *c, unsigned slot)
{
    return c->slot_nrep[slot];
}
/* Whether a slot may have more than one holder, so that shards have replica peers to follow:
 * replicas > 1, or a map kept in etcd (oksctl slots add-replica can give any slot another). */
static inline bool oks_cluster_replicated(const oks_cluster *c)
{
    return c->replicas > 1 || c->epoch;
}
/* Whether shard idx holds slot (is one of its replicas). */
bool oks_cluster_holds(const oks_cluster *c, unsigned slot, size_t idx);
/* Slots every replica of which is in down[] (n_shards entries), appended to out as ranges
 * "a-b,c"; returns how many. */
unsigned oks_cluster_uncovered(const oks_cluster *c, const bool *down, oks_buf *out);
/* Whether shard idx receives the writes of slot: a replica, or the shard joining it. */
static inline bool oks_cluster_receives(const oks_cluster *c, unsigned slot, size_t idx)
{
    return c->slot_joining[slot] == idx || oks_cluster_holds(c, slot, idx);
}
/* Acknowledgements an add needs before its answer: write_quorum, or when 0 the default for
 * replicas: 1 up to 2 replicas, a majority (R/2+1) from 3. */
unsigned oks_cluster_write_quorum(const oks_cluster *c);
/* Whether shards a and b hold a slot in common (replica peers). */
bool oks_cluster_share_slots(const oks_cluster *c, size_t a, size_t b);
/* Finds a shard by name; -1 if none. */
int oks_cluster_shard_index(const oks_cluster *c, const char *name);

/* Parses "a-b,c,..." into owner[] = idx for each slot listed; fails on a slot listed twice (or
 * already set in owner) and on a slot outside 0..n_slots-1. */
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

/*
 * Which replica the router asks (see docs/replicas.md).
 *
 * Every slot is held by the shards of its replica set ([cluster] replicas of them; one more or
 * fewer while a replica is added or removed online). Slots with the same
 * replica set form a group; a fan-out asks one replica per group, a single-slot read one replica
 * of its slot, and either moves to another replica of the same set when the one asked fails.
 * The router keeps each shard's connection state (up after a handshake, down after a
 * disconnect, which ZeroMQ heartbeats also report for a shard that stopped answering) and picks
 * among the replicas it believes up, in turn, so reads are spread over them.
 */
#ifndef OKS_ROUTER_REPLICAS_H
#define OKS_ROUTER_REPLICAS_H

#include "lib/cluster.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-request state of a shard in oks_pending.asked. */
enum {
    OKS_ASK_NONE = 0,   /* not asked */
    OKS_ASK_WAITING = 1, /* asked, no answer yet */
    OKS_ASK_DONE = 2,   /* answered */
    OKS_ASK_FAILED = 3, /* could not be sent, dropped, timed out or answered a failure */
};

typedef struct oks_replicas {
    const oks_cluster *conf;
    size_t n_groups;
    uint16_t *members; /* n_groups * conf->width shard indexes (UINT16_MAX after the last) */
    uint32_t *group_of; /* per slot: its group */
    bool *up;          /* per shard: connected, as far as the router knows */
    unsigned turn;     /* round-robin counter */
    unsigned fan;      /* fan-outs so far: where the next one starts (oks_replicas_fan_out) */
} oks_replicas;

void oks_replicas_init(oks_replicas *x, const oks_cluster *c);
void oks_replicas_release(oks_replicas *x);

static inline const uint16_t *oks_replicas_group(const oks_replicas *x, size_t g)
{
    return x->members + g * x->conf->width;
}

/* Shards among members (a replica set: up to conf->width entries, UINT16_MAX after the last). */
unsigned oks_replicas_count(const oks_replicas *x, const uint16_t *members);

/* A replica among members (a replica set, as oks_replicas_count) not yet asked for this request
 * (asked[i] == OKS_ASK_NONE): one that is up, taking turns between them, else one that is down
 * (its state may be stale; sending to it fails at once if it is). -1 when every one was asked. */
int oks_replicas_pick(oks_replicas *x, const uint16_t *members, const uint8_t *asked);

/* The same, trying members from members[start % their count] on (not taking a turn). */
int oks_replicas_pick_from(const oks_replicas *x, const uint16_t *members, const uint8_t *asked,
                           unsigned start);

/* A new fan-out's number f: it covers group (f + k) % n_groups k-th, picking in it from
 * member f / n_groups + k on (oks_replicas_pick_from), and a group already covered by a shard
 * asked for another is skipped. Both move per fan-out: covered always from group 0 with one
 * turn counter, fan-outs asked the same shards every time (with three shards and two replicas,
 * never the middle one). */
unsigned oks_replicas_fan_out(oks_replicas *x);

/* Replicas among members not asked yet. */
unsigned oks_replicas_untried(const oks_replicas *x, const uint16_t *members, const uint8_t *asked);

/* A replica of group g already asked and not failed (waiting or answered): -1 if none. */
int oks_replicas_covering(const oks_replicas *x, size_t g, const uint8_t *asked);

/* An add of a key to n replicas m of its slot (n > 0): the one that verifies it, chosen by the
 * low byte of its key ID (the slot is chosen by the high bytes) among the replicas up[] says are
 * up, so that the replicas of a slot share the verification work; -1 when none is up. */
int oks_replicas_first(const uint16_t *m, unsigned n, const uint8_t keyid[8], const bool *up);

/* Where shard si is among the receivers of slot's writes (its replicas, then a slot move's
 * joining shard), or -1 when it receives none. */
int oks_replicas_receiver_pos(const oks_cluster *c, unsigned slot, size_t si);

#endif

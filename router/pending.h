/*
 * In-flight requests of the router and how their shard replies are merged into one answer.
 */
#ifndef OKS_ROUTER_PENDING_H
#define OKS_ROUTER_PENDING_H

#include "lib/cluster.h"
#include "lib/proto.h"

#include <stdbool.h>
#include <stdint.h>

#define OKS_ROUTER_MAX_INFLIGHT 65536

/* A shard that gave no usable answer to a request, and why. */
typedef struct oks_pending_failure {
    char *shard; /* owned */
    char *why;   /* owned: "deadline passed", "disconnected", or the shard's own error */
    bool reply;  /* why is the error text of the shard's reply (which names the shard) */
} oks_pending_failure;

/* An add's key sent to one replica of its slot first, the others getting what that replica
 * stored once it answered (docs/replicas.md "Verifying once"). */
enum {
    OKS_FWD_NONE = 0,  /* sent to every replica at once (one receiver, or none up) */
    OKS_FWD_WAIT = 1,  /* sent to its first replica, which has not answered */
    OKS_FWD_READY = 2, /* to send on to the others (the stored form, or the upload itself) */
    OKS_FWD_DONE = 3,  /* not to be sent on (the first replica rejected it) */
};

typedef struct oks_pending_fwd {
    uint8_t stage;   /* OKS_FWD_* */
    bool verified;   /* bytes: the first replica's stored form (else the upload as it came) */
    int16_t first;   /* the shard asked first */
    uint32_t slot;
    uint16_t sent;   /* receivers (by position: replicas, then a slot move's joiner) sent to */
    oks_buf bytes;   /* owned */
} oks_pending_fwd;

typedef struct oks_pending {
    uint64_t id;          /* internal id; 0 = free slot */
    const void *map;      /* the router's map it was routed with (router/maps.h) */
    zmq_msg_t client, rid; /* client envelope */
    int op;               /* Oks__Request__OpCase */
    uint64_t deadline_ms; /* monotonic */
    uint64_t start_us;    /* when the request came (oks_now_us; metrics) */
    unsigned expected, received;
    uint8_t *asked;       /* per shard: OKS_ASK_* (router/replicas.h) */
    uint32_t **add_index; /* per shard: original indexes of the keys sent there, with
                           * OKS_PENDING_JOINER set for a copy to a slot move's new replica */
    uint32_t *add_n;      /* per shard: how many */
    size_t limit;
    bool raw_forward;     /* single-shard request: forward the shard's bytes unchanged */
    Oks__Response *merged; /* accumulated answer (heap, owned) */
    oks_pending_failure *failed; /* in the order they failed */
    size_t n_failed;
    Oks__Status worst;    /* first error status a shard returned */
    char *worst_msg;
    uint8_t fpr[32];      /* fingerprint lookup: the fingerprint asked for (its key first) */
    size_t fpr_len;
    /* replicas */
    int slot;             /* single-slot read: its slot (another replica may be asked); else -1 */
    unsigned first;       /* single-slot read: where the choice among its replicas starts */
    uint64_t attempt_ms;  /* single-slot read: when the replica asked counts as failed, if
                           * another one is left to ask (0 = not before the deadline) */
    oks_buf body;         /* the packed request, for asking another replica */
    int32_t *group_by;    /* fan-out: per replica group, the shard answering for it (-1: none) */
    uint8_t *acks;        /* add: per key, replicas that answered for it */
    uint8_t *need;        /* add: per key, answers needed (the write quorum) */
    size_t n_add, unacked; /* add: keys; keys still short of their quorum */
    bool not_found;       /* single-slot read: a replica answered NOT_FOUND */
    unsigned n_not_found; /* replies that were NOT_FOUND (a delete sent to every replica) */
    bool uncovered;       /* fan-out: some replica group has no replica left to answer */
    unsigned quorum;      /* delete, undelete: OK answers that make it succeed (write quorum) */
    unsigned n_ok;        /* replies that were OK (the joiner's not counted) */
    bool has_joiner;      /* delete, undelete: a slot move is adding shard joiner to the slot; */
    uint16_t joiner;      /* its answer does not count toward the quorum */
    char *note;           /* the first OK reply's note (delete, undelete) */
    oks_pending_fwd *fwd; /* add: per key (n_add), or NULL when every key went to all at once */
    int origin;           /* add: Add.origin, for what is sent on */
} oks_pending;

/* In add_index: the key went to a shard joining its slot (a slot move's new replica). It gets
 * the writes so that it misses none, but holds the slot only once its copy is complete: its
 * answer is not an acknowledgement and does not count toward write_quorum. */
#define OKS_PENDING_JOINER 0x80000000u

/* Merges one shard's reply into p->merged. shard_idx (named name) is used for add index
 * remapping; a reply with an error status also counts the shard as failed, with the shard's
 * error as the reason. */
void oks_pending_merge(oks_pending *p, size_t shard_idx, const char *name, Oks__Response *reply);
/* Replicated add of n keys: allocates the per-key counters (need[] set to 1, the caller raises
 * it per key). */
void oks_pending_add_start(oks_pending *p, size_t n_keys, size_t n_shards);
/* Counts one shard's reply to its part of an add: each key answered counts once towards its
 * quorum and its first answer is the one kept; a reply saying the shard could not answer
 * (storage error, unavailable) counts as its failure. Returns true once every key has its
 * quorum, so the answer need not wait for the other replicas. */
bool oks_pending_add_reply(oks_pending *p, size_t shard_idx, const char *name, Oks__Response *r);
/* Add, verifying once: key ix (of n_add) goes to shard first alone, its bytes kept to send on
 * (fwd allocated on the first call). */
void oks_pending_fwd_defer(oks_pending *p, size_t ix, uint32_t slot, int first,
                           const uint8_t *key, size_t len);
/* Shard si failed, or (si < 0) the first replicas' share of the deadline passed: the keys still
 * waiting for it (every shard's, si < 0) are to go on to the others as uploaded (they verify). */
void oks_pending_fwd_fallback(oks_pending *p, int si);
/* Whether any key of shard si's part waits for its answer (it is asked for stored forms). */
bool oks_pending_fwd_waits_on(const oks_pending *p, size_t si);
/* The part of the keys ready to go on (OKS_FWD_READY) that shard s, one of their slot's
 * receivers in map c and not their first replica, was not sent yet: packs into out the Add for
 * s (uploads as keys, stored forms as verified_keys), makes it s's part (add_index, add_n) and
 * marks those keys sent to s. False when there is none. */
bool oks_pending_fwd_part(oks_pending *p, const oks_cluster *c, size_t s, uint64_t now_ms,
                          oks_buf *out);
/* Whether a reply status says the shard could not answer (another replica may). */
bool oks_pending_shard_failed(Oks__Status st);
/* Notes that a shard failed (down, deadline, garbled reply) and why; both strings are copied. */
void oks_pending_fail(oks_pending *p, const char *name, const char *why);
/* Builds the final answer into out: the first error status a shard answered wins (its error
 * text first); otherwise failed shards make it PARTIAL (a fan-out that still has results) or
 * UNAVAILABLE. The error text names every failed shard with its reason, and failed_shards lists
 * their names. A fingerprint lookup lists the key with that primary fingerprint first. */
/* An add answers for the keys that reached their quorum; the replicas that failed are only named
 * when some key did not (its result is then left out, it was not acknowledged). A fan-out is
 * marked partial when a replica group had nobody answer. */
void oks_pending_finish(oks_pending *p, oks_buf *out);
void oks_pending_release(oks_pending *p, size_t n_shards);

#endif

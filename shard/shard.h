/*
 * One shard server: the state its threads share.
 *
 * Threads: one I/O thread owns the ROUTER socket that routers connect to and forwards each
 * request to a queue (shard/job.h): reads go to the reader pool, adds to the verifier pool,
 * deletes to the admin queue. Verifiers prepare adds in parallel (parse, merge, verify) and hand
 * them to the single writer, which commits whatever is pending in one synced LevelDB batch
 * (group commit) and answers them. The one admin worker runs each delete itself, holding the
 * store's write lock, so a delete never interleaves with a batch of the writer. So reads never
 * wait behind writes, verification uses every core, and an acknowledged add or delete is on
 * disk. Replies go back to the I/O thread over an inproc PULL socket.
 */
#ifndef OKS_SHARD_SHARD_H
#define OKS_SHARD_SHARD_H

#include "lib/cluster.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "shard/job.h"
#include "shard/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct oks_ingest;

/* A verifier's batch waiting for the writer. With job set (the usual add path) the verifier
 * does not wait: the writer answers job once the batch is on disk and frees everything. */
typedef struct oks_commit {
    struct oks_commit *next;
    struct oks_ingest *jobs;
    size_t n;
    bool done;
    int status;
    oks_job *job; /* owned when set: the request to answer after the commit */
} oks_commit;

struct oks_shard_maps;

typedef struct oks_shard {
    /* The slot map in force, and the one before it (NULL: none). A map kept in etcd changes at
     * run time (shard/map.c): readers load conf (and prev) through these pointers, without a
     * lock, as often as they like during one use. Every thread that does has a reader of gc
     * (lib/reclaim.h) and reports between two uses (a worker: between requests), so a map
     * that is neither conf nor prev any more is freed once no thread can still hold it. */
    const oks_cluster *_Atomic conf;
    const oks_cluster *_Atomic prev;
    atomic_uint map_gen;      /* raised by every map change */
    struct oks_shard_maps *map_cur, *map_prev; /* the heap maps behind conf and prev (NULL: the
                                                * caller's, not freed here) */
    struct oks_reclaim *gc;   /* frees replaced maps (created before the threads start) */
    atomic_uint maps_live;    /* maps from etcd not yet freed (metric oks_shard_maps_live) */
    int self;                 /* index in conf->shards: the same in every map (a new map keeps
                               * the shards of the old one in their order) */
    oks_pgp_limits lim;
    oks_store *store;
    void *zctx;
    oks_jobq readers, adders;
    oks_jobq searchers;       /* word searches (shard/server.c) */
    /* writer */
    pthread_mutex_t wlock;
    pthread_cond_t wcond, wdone;
    oks_commit *whead, *wtail;
    size_t wqueued;           /* commits handed over without waiting, not yet answered */
    char reply_ep[64];        /* inproc endpoint of the I/O thread's reply socket */
    oks_jobq admin;           /* deletes */
    bool wstop;
    atomic_ulong adds, sigs_verified;
    atomic_ulong expired;     /* jobs answered STATUS_TIMEOUT unworked: deadline passed queued */
    unsigned n_workers;
    /* anti-entropy (shard/replica.h) */
    atomic_int rstop;         /* set to stop the follower */
    char self_ep[64];         /* inproc endpoint the ROUTER also binds, for the follower */
    atomic_int repair_now;    /* set by a Repair request: compare with every peer now */
    /* first comparisons of an empty store (new or wiped) with its replica peers still to do:
     * meanwhile the keys it lacks may be on its peers, so lookups that find nothing are
     * answered UNAVAILABLE (the router asks another replica), not NOT_FOUND */
    atomic_int rebuilding;
    /* set while a wiped replica rebuilds itself (shard/repair.c): the writer writes groups made
     * only of the follower's copies without a sync; the rebuild syncs once at its end */
    atomic_int bulk;
} oks_shard;

/* Handles one read request (any thread). Fills resp; strings/bytes inside point to memory that
 * oks_shard_response_release frees. */
void oks_shard_handle_read(oks_shard *sh, const Oks__Request *req, Oks__Response *resp);
/* Handles the add request of job on a verifier thread without waiting for the write: prepares
 * (parse, merge, verify) and hands the batch to the writer, which answers over its own reply
 * socket once the batch is synced; batches with nothing to write are answered here over push.
 * Takes job. Blocks only while the writer has too many batches queued (backpressure). */
void oks_shard_add_async(oks_shard *sh, oks_job *job, void *push);
/* shard/tombs.c. A Delete or Undelete (admin worker): puts the tombstone (and removes the key)
 * under the store's write lock; the error of an OK answer is a note (deleted, already newer). */
void oks_shard_handle_tomb_op(oks_shard *sh, const Oks__Request *req, Oks__Response *resp);
/* Stores t unless the stored tombstone of its fingerprint is the same or wins (lib/tomb.h);
 * a winning delete removes the stored key in the same batch. *changed: t was stored; *had_key:
 * a key was removed. 0 or an error. */
int oks_shard_tomb_apply(oks_shard *sh, const oks_tomb *t, bool *changed, bool *had_key,
                         oks_err *e);
/* ListTombstones, SlotDigests, SlotHashes (reader threads). */
void oks_shard_handle_slots(oks_shard *sh, const Oks__Request *req, Oks__Response *resp);
/* Frees what oks_shard_handle_slots put in resp. */
void oks_shard_release_slots(Oks__Response *resp);
/* shard/authz.c (docs/security.md): whether the sender of body may make req. Admin operations
 * need an admin key, or a router's key with req->authority set (a direct admin's name is put
 * there); an Add with verified_keys (not verified again) needs a router's key. 0, or -1 with
 * why filled and the refusal logged and audited. Allows everything when security is not set
 * up (tests on inproc). */
int oks_shard_authorize(zmq_msg_t *body, Oks__Request *req, char *why, size_t why_size);
/* Writes an admin operation and its outcome to the audit log (nothing for other ops). */
void oks_shard_audit(const Oks__Request *req, const Oks__Response *r);
void oks_shard_response_release(Oks__Response *resp);
/* shard/backup.c: one page of a Backup request (admin worker), read from a LevelDB snapshot
 * kept between pages; releases the snapshots still held for sh (at shutdown). */
void oks_shard_handle_backup(oks_shard *sh, const Oks__Request *req, Oks__Response *resp);
void oks_shard_backup_release_all(const oks_shard *sh);
/* Checks map digest and slot ownership; fills resp with WRONG_SHARD and returns false if bad. */
bool oks_shard_check_route(oks_shard *sh, const Oks__Request *req, Oks__Response *resp);
/* Whether the slot of keyid is one the shard takes (oks_shard_takes_slot). */
bool oks_shard_owns_keyid(const oks_shard *sh, const uint8_t keyid[8]);

/* shard/map.c. Whether this shard takes the writes and reads of slot: it holds it, or is
 * joining it, in the map in force or the one before (a router may be one map behind or ahead). */
bool oks_shard_takes_slot(const oks_shard *sh, unsigned slot);
/* Whether it holds slot in the map in force (what it counts in its stats). */
bool oks_shard_holds_slot(const oks_shard *sh, unsigned slot);
/* Makes next the map in force (takes it, also on failure) and retires the one before the map
 * in force (freed once no thread holds it). Refused when it has another slot count or places
 * this shard at another index. Called by one thread at a time (the map watcher's). */
int oks_shard_map_apply(oks_shard *sh, oks_cluster *next, oks_err *e);
/* Frees every map applied except the first (the caller's), and gc; after the threads stopped. */
void oks_shard_maps_release(oks_shard *sh);
/* shard/purge.c: thread body removing the keys of slots the shard no longer takes (no change
 * log entry: its peers and readers keep them); runs after each map change until sh->rstop. */
void *oks_shard_purge_main(void *arg);
/* Paces background work to rate units per second ([shard] background_rate; 0: no limit), with
 * no credit for time spent idle: before n units, sleeps (in slices that notice sh->rstop) until
 * the units before them have had their time. The ms slept. */
typedef struct oks_pace {
    unsigned rate;
    uint64_t next_us; /* when the next units may go */
} oks_pace;
uint64_t oks_shard_pace(oks_shard *sh, oks_pace *p, size_t n);

/* Writer thread body. */
void *oks_shard_writer(void *arg);
/* Queues a batch of prepared adds for the writer and waits until it is committed. */
int oks_shard_commit_wait(oks_shard *sh, struct oks_ingest *jobs, size_t n);

/* Runs the server until *stop becomes non-zero. */
int oks_shard_run(oks_shard *sh, atomic_int *stop, oks_err *e);

#endif

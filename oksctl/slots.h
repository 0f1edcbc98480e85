/*
 * The steps oksctl slots takes on the map in etcd (docs/replicas.md "Slot moves", "Adding and
 * removing replicas"), shared by moves (slots.c) and replica changes (replicas.c). The record
 * PREFIX/move (moverec.h) says what is under way, so that --resume and --abort can finish or
 * undo it.
 */
#ifndef OKSCTL_SLOTS_H
#define OKSCTL_SLOTS_H

#include "oksctl/moverec.h"
#include "oksctl/topo.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One map change from the map read last, then the wait for every member: for slots
 * first..last, shard `to` gets to_state and `from` from_state (to_state < 0: no slot changes;
 * "-": that side left out), [cluster] replicas set when replicas is not 0, the epoch raised;
 * the record set to m with phase (NULL: the record goes, or goes back to the plan of m's target);
 * audited as m's action with label. 0 or 1. */
int oksctl_move_step(oksctl_topo *t, const oksctl_move *m, const char *phase, const char *label,
                     int to_state, int from_state, unsigned replicas);
/* Waits until m->to's per-slot digests equal those of m->from (a move) or of every holder of
 * each slot (an added replica). 0 or 1. */
int oksctl_move_copy_wait(oksctl_topo *t, const oksctl_move *m);
/* How a copy's wait judges progress: it may last as long as slots keep becoming equal, and
 * stalls when none did for wait_s seconds. Digest answers that failed (UINT_MAX) are no
 * progress. */
typedef struct oksctl_copy_watch {
    unsigned fewest, differ; /* the fewest differing slots seen; the last count known */
    uint64_t start_ms, progress_ms;
} oksctl_copy_watch;
void oksctl_copy_watch_start(oksctl_copy_watch *w, uint64_t now_ms);
/* After a count of differing slots at now_ms: true when the copy has stalled. */
bool oksctl_copy_watch_stalled(oksctl_copy_watch *w, unsigned differ, uint64_t now_ms,
                               unsigned wait_s);
/* 0 when no record is under way; else prints it (or why it cannot be read) and returns 1. */
int oksctl_move_none(oksctl_topo *t);
/* The record under way: 0 (parsed into m, and it fits the map read last), OKS_E_NOTFOUND, or 1
 * (printed why). */
int oksctl_move_get(oksctl_topo *t, oksctl_move *m);
/* Which shards are live (registered in etcd). 0 or 1. */
int oksctl_slots_live(oksctl_topo *t, bool *live);
/* 0 when shard name of the map is live; else 1 (printed why: a target that is down could never
 * copy, and the change would wait for it until --wait ran out). */
int oksctl_slots_need_live(oksctl_topo *t, const char *name);

/* oksctl slots add-replica / remove-replica A-B (replicas.c): checked against the map, then
 * run. 0 or 1. */
int oksctl_replica_add(oksctl_topo *t, unsigned first, unsigned last, const char *to);
int oksctl_replica_remove(oksctl_topo *t, unsigned first, unsigned last, const char *from);
/* oksctl slots replicas R. 0 or 1. */
int oksctl_replicas_set(oksctl_topo *t, unsigned r);
/* Finishes (or with abort_it, or when an abort was under way, undoes) a record of kind add,
 * remove or replicas; an abort drops the plan of replicas R too. 0 or 1. */
int oksctl_replicas_resume(oksctl_topo *t, oksctl_move *m, bool abort_it);

#endif

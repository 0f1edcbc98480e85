/*
 * Deferred freeing of what threads read without a lock: the slot map a daemon replaces while it
 * runs (docs/replicas.md "Slot moves"), which a shard's workers read through a plain pointer.
 *
 * Quiescent states: every thread that reads such an object has a reader (oks_reclaim_reader_new)
 * and reports, between two uses (a worker: between requests; a loop: once a round), that it holds
 * no pointer to any of them (oks_reclaim_quiescent), or that it holds none until further notice
 * (oks_reclaim_offline, before it blocks waiting for work; oks_reclaim_online after). The
 * publisher swaps the pointer first, then retires the old object (oks_reclaim_retire): that
 * raises a generation, and the object is freed (oks_reclaim_poll) once every reader online has
 * reported a state of that generation or later, so no reader can still hold it. A reader never
 * waits and never frees: a report is one atomic load and one store; freeing runs on the thread
 * that polls (the publisher's, and whoever polls periodically). A reader that takes long (a
 * repair pass) only delays the freeing of the maps it may hold.
 *
 * Invariant: an object retired is freed exactly once, by its free function, and only after
 * every reader registered at its retirement passed a quiescent state or went offline since.
 */
#ifndef OKS_RECLAIM_H
#define OKS_RECLAIM_H

#include <stddef.h>

typedef struct oks_reclaim oks_reclaim;
typedef struct oks_reclaim_reader oks_reclaim_reader;
typedef void (*oks_reclaim_free_fn)(void *obj);

/* A domain: its readers and the objects retired, not yet freed (heap; oks_reclaim_free). */
oks_reclaim *oks_reclaim_new(void);
/* Frees every object still retired, then d. No reader may use d any more. NULL: nothing. */
void oks_reclaim_free(oks_reclaim *d);

/* A reader for the calling thread, online (heap; oks_reclaim_reader_free before the thread
 * ends). d NULL: NULL, and every call below on a NULL reader does nothing. */
oks_reclaim_reader *oks_reclaim_reader_new(oks_reclaim *d);
void oks_reclaim_reader_free(oks_reclaim_reader *r);
/* The thread holds no pointer to an object of the domain now. */
void oks_reclaim_quiescent(oks_reclaim_reader *r);
/* Holds none until oks_reclaim_online (call it before blocking: an idle thread delays nothing). */
void oks_reclaim_offline(oks_reclaim_reader *r);
void oks_reclaim_online(oks_reclaim_reader *r);

/* obj, which no reader can reach any more from a use it starts now, is to be freed by fn once
 * the readers passed a quiescent state. Frees what it can already (oks_reclaim_poll). */
void oks_reclaim_retire(oks_reclaim *d, void *obj, oks_reclaim_free_fn fn);
/* Frees the objects every reader moved past; returns how many stay retired. With nothing
 * retired: one atomic load, no lock (a loop may call it every round). */
size_t oks_reclaim_poll(oks_reclaim *d);

#endif

/*
 * The record PREFIX/move that says which change of the slot map is under way (docs/replicas.md
 * "Slot moves", "Adding and removing replicas"), so that `oksctl slots ... --resume` and
 * `--abort` can finish or undo it. It is "key = value" lines, as oksctl_move_render writes them:
 *   kind   move | add | remove | replicas (absent: move)
 *   first, last   the slots (0-65535, first <= last)
 *   from, to      the shard leaving and the one joining ("-": none)
 *   phase  the step reached: a move copy, switch, purge or abort; an add copy or abort; a
 *          remove purge; replicas plan (between ranges)
 *   target R of an `oksctl slots replicas R` under way (absent: none; required by replicas)
 * A record is read from etcd, so anything else (an unknown or repeated key, a number out of
 * range, a shard on the wrong side for its kind, more than OKSCTL_MOVE_MAX bytes) is refused.
 */
#ifndef OKSCTL_MOVEREC_H
#define OKSCTL_MOVEREC_H

#include "lib/cluster.h"
#include "lib/err.h"

#include <stddef.h>

#define OKSCTL_MOVE_MAX 1024 /* bytes of a record; oksctl writes fewer than 256 */

typedef struct oksctl_move {
    unsigned first, last;
    unsigned target; /* replicas R under way; 0 = none */
    char kind[16];
    char from[64], to[64], phase[16];
} oksctl_move;

/* Reads a record into m: 0, or OKS_E_FORMAT / OKS_E_LIMIT with e naming the line and field. */
int oksctl_move_parse(const char *doc, size_t len, oksctl_move *m, oks_err *e);
/* The record of m into out (n bytes; 512 always suffice). */
void oksctl_move_render(const oksctl_move *m, char *out, size_t n);
/* Whether a record read fits the map c: its slots exist and its shards are in it. 0 or
 * OKS_E_STATE (e says what does not fit). */
int oksctl_move_fits(const oksctl_move *m, const oks_cluster *c, oks_err *e);

#endif

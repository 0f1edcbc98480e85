/*
 * The shard backup stream (oksctl backup / restore; docs/operations.md "Backup and restore").
 * Version 1, integers big-endian:
 *   header   "OKSBACKP" u32 version(1) u32 name_len name u64 last_seq
 *   entries  'E' u32 key_len u32 value_len key value        (LevelDB order)
 *   trailer  'Z' u64 entry_count, then SHA-256 of every byte before the digest
 * The reader checks all of it; entries reach the caller as they are read, so a caller that
 * writes them must undo its writes when the read fails at the end (bad checksum).
 */
#ifndef OKS_BACKUP_H
#define OKS_BACKUP_H

#include "lib/err.h"

#include <stddef.h>
#include <stdint.h>

#define OKS_BACKUP_MAGIC "OKSBACKP"
#define OKS_BACKUP_VERSION 1u
/* Longest key or value accepted (a shard record is one OpenPGP key: far below this). */
#define OKS_BACKUP_MAX_FIELD (64u << 20)
#define OKS_BACKUP_MAX_NAME 255

typedef struct oks_backup_info {
    char shard[OKS_BACKUP_MAX_NAME + 1];
    uint64_t last_seq; /* change-log sequence of the snapshot */
    uint64_t entries;  /* entries read */
} oks_backup_info;

/* Reads exactly n bytes into buf: 0, or -1 at the end of the input (or an error). */
typedef int (*oks_backup_read_fn)(void *arg, void *buf, size_t n);
/* One entry; non-zero stops the read (OKS_E_IO "cannot store the entry"). */
typedef int (*oks_backup_entry_fn)(void *arg, const uint8_t *key, size_t key_len,
                                   const uint8_t *value, size_t value_len);

/* Reads and checks one whole stream (through its checksum, and nothing after it), calling fn
 * (may be NULL) for each entry. 0, or OKS_E_FORMAT (not a backup, another version, truncated,
 * damaged framing, checksum or count mismatch, trailing bytes; e->offset is the stream offset),
 * OKS_E_NOMEM, or OKS_E_IO when fn failed. libgcrypt must be initialised. */
int oks_backup_read(oks_backup_read_fn rd, void *rd_arg, oks_backup_entry_fn fn, void *fn_arg,
                    oks_backup_info *info, oks_err *e);

#endif

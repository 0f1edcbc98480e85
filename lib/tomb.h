/*
 * Tombstones (docs/replicas.md "Tombstones"): what a shard keeps of an administrative delete of
 * a fingerprint, and of the lifting of one. One tombstone per fingerprint, a last-writer-wins
 * register: of two tombstones of a fingerprint the one with the higher stamp wins; at equal
 * stamps a delete wins over a lift, then the larger reason, then the larger who (bytes), so any
 * two replicas that saw the same tombstones in any order keep the same one. While the winning
 * tombstone is a delete, no copy of the key is stored and adds of it are refused.
 *
 * Stored form (the value of a shard's "t" fpr entry; oks_tomb_decode checks every length):
 *   u8 format (1), u8 flags (bit 0: lifted), BE64 stamp (Unix ms), u8 who length, who,
 *   BE16 reason length, reason
 */
#ifndef OKS_TOMB_H
#define OKS_TOMB_H

#include "lib/buf.h"
#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OKS_TOMB_MAX_REASON 200
#define OKS_TOMB_MAX_WHO 96
#define OKS_TOMB_NO_REASON "no reason given"

typedef struct oks_tomb {
    uint8_t fpr[32];
    size_t fpr_len;
    bool lifted;
    uint64_t stamp_ms;
    char reason[OKS_TOMB_MAX_REASON + 1];
    char who[OKS_TOMB_MAX_WHO + 1];
} oks_tomb;

/* Fills t (fingerprint of 20 or 32 bytes); reason and who are cut to their maximum and every
 * control character becomes a space; an empty reason becomes OKS_TOMB_NO_REASON. */
int oks_tomb_init(oks_tomb *t, const uint8_t *fpr, size_t fpr_len, bool lifted,
                  uint64_t stamp_ms, const char *reason, size_t reason_len, const char *who,
                  oks_err *e);
/* Appends the stored form of t (without the fingerprint) to out. */
int oks_tomb_encode(const oks_tomb *t, oks_buf *out);
/* Reads a stored form into t (its fingerprint is set from fpr). OKS_E_FORMAT/TRUNCATED on any
 * inconsistency (never reads past n). */
int oks_tomb_decode(const uint8_t *p, size_t n, const uint8_t *fpr, size_t fpr_len, oks_tomb *t,
                    oks_err *e);
/* > 0 when a wins over b, < 0 when b wins, 0 when they are the same tombstone. */
int oks_tomb_cmp(const oks_tomb *a, const oks_tomb *b);
/* 16 bytes that stand for t in a slot digest: MD5 of the fingerprint and the stored form. */
void oks_tomb_hash(const oks_tomb *t, uint8_t out[16]);
/* d ^= h (16 bytes): a slot digest is the XOR of the hashes of its keys and tombstones, so it is
 * kept up to date per change and does not depend on their order. */
static inline void oks_digest_xor(uint8_t d[16], const uint8_t h[16])
{
    for (int i = 0; i < 16; i++)
        d[i] ^= h[i];
}

#endif

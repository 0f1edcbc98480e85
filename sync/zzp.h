/*
 * sync/zzp: arithmetic in Z/pZ, p = 530512889551602322505127520352579437339 (129 bits), the
 * field of SKS set reconciliation. Elements are three 64-bit limbs kept in Montgomery form
 * (R = 2^192), so a multiplication is one CIOS pass with no division; all values are reduced.
 * On the wire an element is 17 bytes little-endian; a key hash (16 bytes) is an element read
 * little-endian. Pure functions, no allocation, thread-safe.
 */
#ifndef OKS_SYNC_ZZP_H
#define OKS_SYNC_ZZP_H

#include <stddef.h>
#include <stdint.h>

#define OKS_ZZP_BYTES 17

typedef struct oks_zzp {
    uint64_t w[3]; /* Montgomery form, always < p */
} oks_zzp;

oks_zzp oks_zzp_zero(void);
oks_zzp oks_zzp_one(void);
/* v mod p for a signed small integer (negative v gives p - |v|). */
oks_zzp oks_zzp_from_int(int64_t v);
/* 17 bytes little-endian, any value (reduced mod p, as conflux does). */
oks_zzp oks_zzp_from_bytes(const uint8_t b[OKS_ZZP_BYTES]);
/* Canonical 17 bytes little-endian. */
void oks_zzp_to_bytes(oks_zzp a, uint8_t b[OKS_ZZP_BYTES]);
/* Key hash (16-byte MD5) <-> element. to_hash fails (-1) if the element is >= 2^128. */
oks_zzp oks_zzp_from_hash(const uint8_t h[16]);
int oks_zzp_to_hash(oks_zzp a, uint8_t h[16]);
/* Decimal text of the canonical value into out (at least 41 bytes). */
char *oks_zzp_to_dec(oks_zzp a, char *out, size_t size);

oks_zzp oks_zzp_add(oks_zzp a, oks_zzp b);
oks_zzp oks_zzp_sub(oks_zzp a, oks_zzp b);
oks_zzp oks_zzp_neg(oks_zzp a);
oks_zzp oks_zzp_mul(oks_zzp a, oks_zzp b);
/* a^e, e given as three little-endian 64-bit limbs (plain integer). */
oks_zzp oks_zzp_pow(oks_zzp a, const uint64_t e[3]);
/* Multiplicative inverse; inv(0) = 0 (callers check oks_zzp_is_zero first). */
oks_zzp oks_zzp_inv(oks_zzp a);
oks_zzp oks_zzp_div(oks_zzp a, oks_zzp b);
int oks_zzp_eq(oks_zzp a, oks_zzp b);
int oks_zzp_is_zero(oks_zzp a);
/* Order on canonical values: <0, 0, >0. */
int oks_zzp_cmp(oks_zzp a, oks_zzp b);

/* The modulus p and (p-1)/2 as plain little-endian limbs. */
extern const uint64_t oks_zzp_p[3];
extern const uint64_t oks_zzp_p_half[3];

#endif

/*
 * Internal to lib/: the OpenPGP digest a signature covers (see pgp_verify.c). Public
 * verification entry points are declared in pgp.h.
 */
#ifndef OKS_PGP_VERIFY_H
#define OKS_PGP_VERIFY_H

#include "lib/pgp.h"

/* Hash of (salt,) primary key, [subkey], [user ID], hashed part and trailer; out >= 64 bytes. */
int oks_pgp_sig_digest(const oks_pgp_pubkey *primary, const oks_pgp_uid *uid,
                       const oks_pgp_pubkey *subkey, const oks_pgp_sig *sig, uint8_t *out,
                       size_t *out_len, oks_err *e);

/* The digest of a third-party certification as an attestation (type 0x16, attested
 * certifications subpacket) names it, under hash algorithm hash_algo: over 0x88, BE32 length and
 * the signature body with its unhashed area emptied, as a confirmation signature (0x50) hashes a
 * signature (rfc4880bis-10 5.2.3.30; v4 only: RFC 9580 left attestations out). out >= 64
 * bytes. */
int oks_pgp_sig_confirm_digest(const oks_pgp_sig *cert, uint8_t hash_algo, uint8_t *out,
                               size_t *out_len, oks_err *e);

#endif

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

#endif

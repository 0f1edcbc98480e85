/*
 * One OpenPGP key as a template context (lib/tmpl), shared by the HTML pages of the HTTP
 * gateway and the replies of the mail gateway, so both name the same values the same way:
 *   fpr, keyid (uppercase hex), algo, bits, created (YYYY-MM-DD, UTC), expires (when the key
 *   expires), revoked ("yes" when revoked; unset otherwise),
 *   uids[uid (control characters shown as '?'; "[user attribute]" for user attributes),
 *        sigs[issuer (hex key ID; unset when the signature names none), type ("0x13"),
 *             created, self ("yes" for a verified self-signature, or one whose issuer is the
             primary key)]]   (only with sigs),
 *   subkeys[fpr, keyid, algo, bits, created, revoked]
 */
#ifndef OKS_KEYCTX_H
#define OKS_KEYCTX_H

#include "lib/pgp.h"
#include "lib/tmpl.h"

#include <stdbool.h>
#include <stdint.h>

/* Sets name to the UTC date of when, as YYYY-MM-DD. Returns 0 or OKS_E_NOMEM. */
int oks_keyctx_date(oks_tmpl *t, const char *name, uint32_t when);
/* Sets name to the uppercase hex of n <= 32 bytes. Returns 0 or OKS_E_NOMEM. */
int oks_keyctx_hex(oks_tmpl *t, const char *name, const uint8_t *p, size_t n);
/* Fills kt (one item of a "keys" list) with k as listed above; the user IDs' signatures only
 * when sigs. Returns 0, or OKS_E_NOMEM (kt then holds part of the key). */
int oks_keyctx_key(oks_tmpl *kt, const oks_pgp_key *k, bool sigs);
/* Items a bounded listing left out. */
typedef struct oks_keyctx_omitted {
    size_t uids, sigs, subkeys;
} oks_keyctx_omitted;
/* The same with a budget: at most *lines list items (user IDs, signatures, subkeys) are listed,
 * *lines is lowered by those listed and om raised by those left out, so a page of several keys
 * shares one budget. */
int oks_keyctx_key_max(oks_tmpl *kt, const oks_pgp_key *k, bool sigs, size_t *lines,
                       oks_keyctx_omitted *om);

#endif

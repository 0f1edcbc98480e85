/* JSON form of one inspected key for `oksctl inspect --json` (oksctl/json.c). */
#ifndef OKSCTL_JSON_H
#define OKSCTL_JSON_H

#include "lib/json.h"
#include "lib/pgp.h"

/* The key as a JSON object: fingerprints, algorithms, dates, user IDs (strings; bytes that are
 * not valid UTF-8 become U+FFFD), subkeys, SKS hash and the verification counts of st.
 * NULL when out of memory. */
json_t *oksctl_json_key_object(const oks_pgp_key *k, const oks_pgp_verify_stats *st,
                               bool verified, const char *hash, uint32_t now);
/* Appends that object as one line to out. Returns 0 or OKS_E_NOMEM. */
int oksctl_json_key(oks_buf *out, const oks_pgp_key *k, const oks_pgp_verify_stats *st,
                    bool verified, const char *hash, uint32_t now);

#endif

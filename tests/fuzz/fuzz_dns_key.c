/* Fuzz target: RFC 7929 key minimisation (gw-dns/minimise.c) on arbitrary key bytes; a key it
 * writes must parse again and hold exactly one user ID. Compiled in because fuzz targets link
 * only lib/. */
#include "gw-dns/minimise.c"
#include "gw-dns/owner.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char hash[GWD_HASH_HEX + 1];
    if (!hash[0])
        gwd_owner_hash("hugh", 4, hash);
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    int r = gwd_minimise(data, size, hash, "example.org", 1700000000u, &out, &e);
    if (r == 1) {
        oks_pgp_key *k;
        if (oks_pgp_key_parse(out.data, out.len, NULL, 0, &k, &e) != 0 || k->n_uids != 1)
            abort();
        oks_pgp_key_free(k);
    }
    oks_buf_release(&out);
    return 0;
}

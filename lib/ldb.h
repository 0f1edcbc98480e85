/*
 * LevelDB error plumbing shared by the three stores (the shard's key store, the sync prefix tree,
 * the mail gateway's answered-mail record). LevelDB's C API reports a failure as a malloc'd
 * string in an out-parameter; this turns it into an oks_err and frees it.
 *
 * Header-only on purpose: lib/ objects are linked into every program, and an out-of-line copy
 * would make programs without a store (router, gw-http, oksctl) depend on libleveldb.
 */
#ifndef OKS_LDB_H
#define OKS_LDB_H

#include <leveldb/c.h>

#include "lib/err.h"

/* Sets e to OKS_E_IO "<store> <what>: <err>", frees err (LevelDB's message) and returns
 * OKS_E_IO. */
static inline int oks_ldb_error(oks_err *e, char *err, const char *store, const char *what)
{
    int r = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s %s: %s", store, what, err);
    leveldb_free(err);
    return r;
}

#endif

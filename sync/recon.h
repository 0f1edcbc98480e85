/*
 * sync/recon: one SKS reconciliation session over a connected TCP socket (protocols.md §2.7-2.8):
 * the Config exchange, then the requester (accepting side: walks its own tree, sends
 * ReconRqst_Poly/Full, at most max_outstanding unanswered, Flush before it blocks) or the
 * responder (connecting side: answers requests, writes replies only on Flush). Both collect the
 * hashes the peer holds and the local tree lacks ("to fetch"). Every read has a timeout and the
 * whole session a deadline; any protocol violation ends the session with an error naming it.
 * The tree must not change during the session (the caller owns it and updates it afterwards).
 */
#ifndef OKS_SYNC_RECON_H
#define OKS_SYNC_RECON_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "sync/ptree.h"
#include "sync/recon_wire.h"

typedef struct oks_recon_opts {
    oks_recon_limits lim;
    oks_recon_config cfg;        /* what we announce */
    int config_timeout_ms;       /* config exchange: 45000 (SKS) */
    int read_timeout_ms;         /* any other read or write: 60000 */
    int session_timeout_ms;      /* whole session: 3600000 (SKS) */
    int max_outstanding;         /* requester: 100 */
    uint32_t full_below;         /* requester sends Full for nodes under this many: 150 */
    size_t max_fetch;            /* hashes collected per session: 1000000 */
} oks_recon_opts;

void oks_recon_opts_default(oks_recon_opts *o);

typedef struct oks_recon_result {
    uint32_t peer_http_port;     /* from the peer's Config */
    uint8_t (*fetch)[16];        /* hashes to fetch, sorted, unique, absent locally; owned */
    size_t nfetch;
    size_t sent;                 /* elements we told the peer about (it will fetch them) */
    size_t messages;             /* recon messages received */
    int truncated;               /* max_fetch reached */
} oks_recon_result;

void oks_recon_result_release(oks_recon_result *r);

enum oks_recon_role { OKS_RECON_REQUESTER, OKS_RECON_RESPONDER };

/* Runs a whole session on fd (blocking socket; the function uses poll for timeouts). Returns 0
 * with *res filled, or a negative error (res then holds what was learned before the error). */
int oks_recon_session(int fd, enum oks_recon_role role, const oks_ptree *t,
                      const oks_recon_opts *o, oks_recon_result *res, oks_err *e);

#endif

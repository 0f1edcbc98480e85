/*
 * sync/recon: one SKS reconciliation session over a connected TCP socket (protocols.md §2.7-2.8):
 * the Config exchange, then the requester (accepting side: walks its own tree, sends
 * ReconRqst_Poly/Full, at most max_outstanding unanswered, Flush before it waits) or the
 * responder (connecting side: answers requests, writes replies only on Flush). Both collect the
 * hashes the peer holds and the local tree lacks ("to fetch").
 *
 * A session is a non-blocking state machine (oks_recon_sess_*) that an event loop drives: it
 * never waits, it says which poll events it needs and by when it must progress. Every bound is
 * on the whole, never reset by a byte: the Config exchange must end within config_timeout_ms of
 * the start, each awaited message must arrive whole (and each batch of output be read by the
 * peer) within read_timeout_ms, the session ends by session_timeout_ms; output the peer has not
 * read is capped (max_buffer) and so is the work a peer can make us do (max_work: elements
 * handled, local sets read from the tree included). Any violation ends the session with an
 * error naming it. oks_recon_session runs a whole session blocking, for tools and tests.
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
    int config_timeout_ms;       /* Config and verdict, from the start: 45000 (SKS) */
    int read_timeout_ms;         /* each awaited message whole, each output batch read: 60000 */
    int session_timeout_ms;      /* whole session: 3600000 (SKS) */
    int max_outstanding;         /* requester: 100 */
    uint32_t full_below;         /* requester sends Full for nodes under this many: 150 */
    size_t max_fetch;            /* hashes collected per session: 1000000 (then truncated) */
    size_t max_buffer;           /* output not yet read by the peer: 64 MiB */
    uint64_t max_work;           /* elements handled (received, read from the tree, sent) plus
                                    one per message: 0 = unlimited */
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

typedef struct oks_recon_sess oks_recon_sess;

/* A session on connected socket fd (not owned: the caller closes it); o is copied. The tree
 * must outlive the session; it may change between two steps (each message is answered from
 * the tree as it is then). */
oks_recon_sess *oks_recon_sess_new(int fd, enum oks_recon_role role, const oks_ptree *t,
                                   const oks_recon_opts *o);
void oks_recon_sess_free(oks_recon_sess *s);
/* Reads and writes what the socket allows without waiting, handles every whole message and
 * checks the time bounds. Returns 0 while the session runs, 1 when it ended well, or a negative
 * error (then the session is over; an Error message was offered to the peer). */
int oks_recon_sess_step(oks_recon_sess *s, oks_err *e);
/* The poll events the session waits for, and the oks_now_ms() time by which step must be
 * called again even without events (a bound ends there). */
short oks_recon_sess_events(const oks_recon_sess *s);
int64_t oks_recon_sess_deadline(const oks_recon_sess *s);
/* Moves what was learned into *res (also after an error). */
void oks_recon_sess_take(oks_recon_sess *s, oks_recon_result *res);
/* Work done so far (see max_work). */
uint64_t oks_recon_sess_work(const oks_recon_sess *s);

/* Runs a whole session on fd, blocking (poll between steps). Returns 0 with *res filled, or a
 * negative error (res then holds what was learned before the error). */
int oks_recon_session(int fd, enum oks_recon_role role, const oks_ptree *t,
                      const oks_recon_opts *o, oks_recon_result *res, oks_err *e);

#endif

/*
 * oks_etcd: a small etcd v3 client over etcd's JSON gateway (HTTP/1.1 POST to /v3/kv/range,
 * /v3/kv/put, /v3/kv/txn, /v3/kv/deleterange, /v3/lease/..., /v3/watch) with libcurl and
 * jansson. The cluster's topology (slot map, replica sets, map epochs, slot moves) lives in
 * etcd; this is the one way OKS talks to it (docs/etcd.md).
 *
 * Every call BLOCKS (up to timeout_ms; a watch until told to stop): use it from a thread of
 * its own or from a tool, never from an event loop.
 *
 * Endpoints are tried in turn: a call starts with the endpoint that answered last (after a
 * failed call, the one after it) and moves to the next when it cannot connect (each endpoint
 * gets at most its share of what is left of the deadline to connect), times out, or gets an
 * HTTP 5xx; when no endpoint answers within timeout_ms the call fails with OKS_E_UNAVAILABLE and
 * a message naming the last endpoint and what failed: "etcd http://127.0.0.1:2379: connect:
 * Connection refused". A write whose request may have reached a server before the failure is
 * sent again to the next endpoint only when that is harmless (compare-and-swap and
 * transactions are not: their outcome is then reported as unknown, OKS_E_UNAVAILABLE, and the
 * caller re-reads).
 *
 * Answers are parsed defensively (lib/etcd_json.c, fuzzed by tests/fuzz/fuzz_etcd.c): a
 * missing, mistyped or out-of-range field is OKS_E_PROTO, never a crash; answers larger than
 * max_answer are OKS_E_LIMIT.
 *
 * A handle is not thread-safe: one oks_etcd per thread (open is cheap).
 */
#ifndef OKS_ETCD_H
#define OKS_ETCD_H

#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oks_etcd oks_etcd;
struct oks_cluster;

#define OKS_ETCD_MAX_ENDPOINTS 16
#define OKS_ETCD_DEFAULT_TIMEOUT_MS 5000
#define OKS_ETCD_DEFAULT_MAX_ANSWER (32u << 20)

typedef struct oks_etcd_opts {
    const char *endpoints; /* "http://10.1.0.1:2379,https://h2:2379": tried in turn, failing
                              over (commas or spaces between them) */
    const char *ca_file;   /* TLS: CA to verify the server (NULL: the system's CAs) */
    const char *cert_file; /* TLS client certificate and key (NULL: none) */
    const char *key_file;  /* must pass oks_zsec_secret_mode_ok (chmod 600) */
    const char *user;          /* etcd auth (NULL: none): the user, and the file whose first */
    const char *password_file; /* line is its password (secret mode, like key_file); calls
                                  carry the token /v3/auth/authenticate gives, asked again
                                  when etcd says it is no longer valid */
    unsigned timeout_ms;   /* per call, whole call (connect + answer); 0: 5000 */
    size_t max_answer;     /* largest answer (a watch: largest event batch); 0: 32 MiB */
} oks_etcd_opts;

typedef struct oks_etcd_kv {
    char *key;    /* owned, NUL-terminated (etcd keys may hold any byte; OKS's do not) */
    uint8_t *val; /* owned, len bytes, followed by a NUL not counted in len */
    size_t len;
    int64_t mod_rev, create_rev;
    int64_t lease; /* 0: none */
} oks_etcd_kv;

/* A compare of a transaction: key's mod_revision == mod_rev (0: the key must not exist). */
typedef struct oks_etcd_cmp {
    const char *key;
    int64_t mod_rev;
} oks_etcd_cmp;

typedef enum oks_etcd_op_kind {
    OKS_ETCD_PUT,
    OKS_ETCD_DELETE,        /* the one key */
    OKS_ETCD_DELETE_PREFIX, /* every key under key */
} oks_etcd_op_kind;

/* An operation of a transaction, applied only when every compare holds. */
typedef struct oks_etcd_op {
    oks_etcd_op_kind kind;
    const char *key;
    const void *val; /* PUT: len bytes */
    size_t len;
    int64_t lease; /* PUT: attach to this lease (0: none) */
} oks_etcd_op;

/* Opens a handle (no network traffic). OKS_E_ARG for no endpoint, a bad URL, or a key file
 * with a loose mode; OKS_E_IO for a TLS file that cannot be read. *out freed by
 * oks_etcd_close. */
int oks_etcd_open(const oks_etcd_opts *o, oks_etcd **out, oks_err *e);
/* The same from [cluster] etcd, etcd_ca, etcd_cert, etcd_key, etcd_timeout_ms of oks.conf.
 * OKS_E_ARG when [cluster] etcd is empty (the slot map is the static one of oks.conf). */
int oks_etcd_open_conf(const struct oks_cluster *conf, oks_etcd **out, oks_err *e);
void oks_etcd_close(oks_etcd *c);
/* Frees the kvs[0..n) and the array itself. */
void oks_etcd_kvs_free(oks_etcd_kv *kvs, size_t n);
/* Frees what one kv owns and zeroes it. */
void oks_etcd_kv_release(oks_etcd_kv *kv);
/* The endpoint the next call tries first (the last that answered). */
const char *oks_etcd_endpoint(const oks_etcd *c);

/* One key. Absent: OKS_E_NOTFOUND (and *kv zeroed). *rev (may be NULL): the store's
 * revision. */
int oks_etcd_get(oks_etcd *c, const char *key, oks_etcd_kv *kv, int64_t *rev, oks_err *e);
/* Every key under prefix, sorted by key; at most max (0: no bound; more: OKS_E_LIMIT).
 * *kvs freed by oks_etcd_kvs_free (NULL when *n == 0). */
int oks_etcd_list(oks_etcd *c, const char *prefix, size_t max, oks_etcd_kv **kvs, size_t *n,
                  int64_t *rev, oks_err *e);
/* Writes key = val (attached to lease when not 0); *rev (may be NULL): the new revision. */
int oks_etcd_put(oks_etcd *c, const char *key, const void *val, size_t len, int64_t lease,
                 int64_t *rev, oks_err *e);
/* Compare-and-swap: writes only if key's mod_revision == expect_mod_rev (0: the key must not
 * exist). Lost the race: OKS_E_STATE with a message naming the key and the revisions. */
int oks_etcd_put_if(oks_etcd *c, const char *key, const void *val, size_t len,
                    int64_t expect_mod_rev, int64_t *new_rev, oks_err *e);
/* Several puts/deletes in one transaction, applied only if every compare holds (a map change
 * plus a move record in one step). A compare that fails: OKS_E_STATE naming the first key
 * whose mod_revision differs and both revisions. At most 64 compares and 128 operations
 * (etcd's --max-txn-ops default); more: OKS_E_ARG. */
int oks_etcd_txn(oks_etcd *c, const oks_etcd_cmp *cmps, size_t ncmp, const oks_etcd_op *ops,
                 size_t nops, int64_t *rev, oks_err *e);
/* Deletes key (absent: OKS_E_NOTFOUND). */
int oks_etcd_delete(oks_etcd *c, const char *key, oks_err *e);
int oks_etcd_lease_grant(oks_etcd *c, unsigned ttl_s, int64_t *lease, oks_err *e);
/* One renewal. An expired or unknown lease: OKS_E_NOTFOUND. */
int oks_etcd_lease_keepalive(oks_etcd *c, int64_t lease, oks_err *e);
int oks_etcd_lease_revoke(oks_etcd *c, int64_t lease, oks_err *e);

/* An event of a watch: a put (kv holds the new value) or a delete (kv->key, kv->mod_rev = the
 * delete's revision, no value). rev: the event's revision. A non-zero return stops the
 * watch, which returns that value. */
typedef int (*oks_etcd_watch_cb)(void *arg, int is_delete, const oks_etcd_kv *kv, int64_t rev);
/* Watch every key under prefix from revision from_rev (0: now): calls cb for each event (put or
 * delete, with the kv), in revision order; returns when cb returns non-zero (that value), on
 * error, or 0 when *stop becomes true (checked at least every 200 ms). Survives the loss of an
 * endpoint by resuming on another from the revision after the last one seen (TCP keepalive
 * notices a silent peer within about 15 s). A compacted revision is an error (OKS_E_STATE) so
 * the caller re-reads. When no endpoint can be reached: OKS_E_UNAVAILABLE. */
int oks_etcd_watch(oks_etcd *c, const char *prefix, int64_t from_rev, oks_etcd_watch_cb cb,
                   void *arg, const volatile int *stop, oks_err *e);

/* ---- the JSON side (lib/etcd_json.c): pure functions over buffers, fuzzed ---------------- */

/* The range_end that selects every key under prefix ("" = every key: "\0"). Owned by out
 * (plain bytes, not NUL-terminated; *n their count). */
int oks_etcd_prefix_end(const char *prefix, uint8_t **out, size_t *n);

/* What an answer says, for the calls that need more than the header. */
typedef struct oks_etcd_answer {
    int64_t revision;   /* header.revision */
    oks_etcd_kv *kvs;   /* range: owned */
    size_t n_kvs;
    bool more;          /* range: more keys than returned */
    int64_t count;      /* range: keys matching */
    bool succeeded;     /* txn */
    int64_t deleted;    /* deleterange */
    int64_t id, ttl;    /* lease grant / keepalive */
    char token[512];    /* authenticate */
    /* txn whose compares failed: the kvs of the range requests of its failure branch, one per
     * compare (mod_rev 0 when the key is absent) */
    oks_etcd_kv *failed;
    size_t n_failed;
} oks_etcd_answer;

void oks_etcd_answer_release(oks_etcd_answer *a);

typedef enum oks_etcd_call {
    OKS_ETCD_RANGE,
    OKS_ETCD_PUT_CALL,
    OKS_ETCD_TXN,
    OKS_ETCD_DELETERANGE,
    OKS_ETCD_LEASE_GRANT,
    OKS_ETCD_LEASE_KEEPALIVE,
    OKS_ETCD_LEASE_REVOKE,
    OKS_ETCD_AUTHENTICATE,
} oks_etcd_call;

/* Parses the body of a 200 answer to call into a (zeroed first). An etcd error object
 * ({"error": ..., "code": N, "message": ...}) in place of an answer: OKS_E_UNAVAILABLE for
 * gRPC code 14 (unavailable), else OKS_E_STATE, with its message. Anything else that is not
 * the expected shape: OKS_E_PROTO. max_kvs bounds a range's kvs (0: none; more:
 * OKS_E_LIMIT). */
int oks_etcd_parse_answer(oks_etcd_call call, const void *body, size_t n, size_t max_kvs,
                          oks_etcd_answer *a, oks_err *e);

/* One message of a watch stream ({"result": {...}} or an error object), events handed to cb.
 * *created set when this is the creation notice; *compact_rev set (non-zero) when the watch
 * was canceled because from_rev was compacted. *last_rev: the revision of the last event
 * handed to cb (unchanged when none). Returns 0, cb's non-zero value, or an error. */
typedef struct oks_etcd_watch_msg {
    bool created, canceled;
    int64_t compact_rev;
    int64_t header_rev;
    char cancel_reason[160];
} oks_etcd_watch_msg;
int oks_etcd_parse_watch(const void *body, size_t n, oks_etcd_watch_cb cb, void *arg,
                         oks_etcd_watch_msg *m, int64_t *last_rev, oks_err *e);

/* Base64 of p[0..n) as a new JSON string (NULL: out of memory). */
struct json_t;
struct json_t *oks_etcd_b64(const void *p, size_t n);

#endif

/*
 * oks-gw-ldap: the LDAP gateway of an OKS cluster (docs/ldap.md).
 *
 * slapd speaks LDAP; its back-sock database hands every operation under [ldap] base_dn to this
 * program over a UNIX socket, one connection per operation, as text (slapd-sock(5)): a command
 * line (SEARCH, ADD, MODIFY, ...), "name: value" lines, LDIF for entries and modifications, a
 * blank line. The gateway answers with LDIF entries and a RESULT block, then closes.
 *
 * The units, each a pure function of its input except server.c and serve.c:
 *   arena.c    one allocation region per request (every parsed string lives there)
 *   filter.c   RFC 4515 filter strings as slapd writes them -> a tree, bounded in size and
 *              depth; three-valued matching of the tree against an entry
 *   sockreq.c  the back-sock request text -> gwl_req
 *   plan.c     a filter -> the cluster lookups that find every key it can match, or a refusal
 *   entry.c    a stored key -> its LDAP entry (GnuPG's LDAP schema v2); LDIF output
 *   calls.c    the one router client: every operation's lookups pipelined over it
 *   serve.c    one request -> cluster calls -> the answer text, as a task the loop drives
 *   server.c   the socket and the event loop (one thread: back-sock connections and the
 *              router client), the [ldap] settings
 *   slapdconf.c  the slapd.conf and schema that go with the config
 *   metrics.c  the Prometheus /metrics on [ldap] metrics_listen
 */
#ifndef OKS_GWL_H
#define OKS_GWL_H

#include "lib/buf.h"
#include "lib/cluster.h"
#include "lib/err.h"
#include "lib/proto.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LDAP result codes (RFC 4511 4.1.9) the gateway answers with. */
enum {
    GWL_LDAP_SUCCESS = 0,
    GWL_LDAP_PROTOCOL_ERROR = 2,
    GWL_LDAP_TIMELIMIT = 3,
    GWL_LDAP_SIZELIMIT = 4,
    GWL_LDAP_ADMINLIMIT = 11,
    GWL_LDAP_CONSTRAINT = 19,
    GWL_LDAP_NO_SUCH_OBJECT = 32,
    GWL_LDAP_INVALID_CREDENTIALS = 49,
    GWL_LDAP_INSUFFICIENT_ACCESS = 50,
    GWL_LDAP_BUSY = 51,
    GWL_LDAP_UNAVAILABLE = 52,
    GWL_LDAP_UNWILLING = 53,
    GWL_LDAP_OTHER = 80,
};

/* ---- arena.c ------------------------------------------------------------------------------ */

/* Bump allocation in chunks; everything is freed at once by gwl_arena_release. Allocation
 * failure aborts, as lib/xalloc does. */
typedef struct gwl_arena {
    struct gwl_chunk *head;
    size_t used, cap; /* in head */
} gwl_arena;

void gwl_arena_init(gwl_arena *a);
void gwl_arena_release(gwl_arena *a);
void *gwl_alloc(gwl_arena *a, size_t n); /* zeroed, aligned for any object */
/* A NUL-terminated copy of p[0..n). */
char *gwl_strndup(gwl_arena *a, const char *p, size_t n);

/* A value: bytes with a NUL after them (not counted), may hold NUL bytes itself. */
typedef struct gwl_val {
    char *p;
    size_t n;
} gwl_val;

/* ---- filter.c ----------------------------------------------------------------------------- */

#define GWL_FILTER_MAX_DEPTH 32

typedef enum gwl_ftype {
    GWL_F_AND,
    GWL_F_OR,
    GWL_F_NOT,
    GWL_F_EQ,
    GWL_F_SUB,
    GWL_F_GE,
    GWL_F_LE,
    GWL_F_APPROX,
    GWL_F_PRESENT,
    GWL_F_EXT,     /* extensible match: never true here (evaluates to undefined) */
    GWL_F_TRUE,    /* "(&)" or slapd's "(?=true)" */
    GWL_F_FALSE,   /* "(|)" or slapd's "(?=false)" */
    GWL_F_UNDEF,   /* slapd's "(?=undefined)", "(?=error)", ...: undefined */
} gwl_ftype;

typedef struct gwl_filter {
    gwl_ftype type;
    bool undefined_attr; /* "(?attr...)": slapd did not know the attribute: undefined */
    char *attr;          /* lowercased attribute type, options cut off (items only) */
    bool has_options;    /* the description had ";option"s: never matches here */
    gwl_val value;       /* EQ, GE, LE, APPROX, EXT: the unescaped assertion value */
    gwl_val initial, final; /* SUB: .p NULL when absent */
    gwl_val *any;
    size_t n_any;
    struct gwl_filter **kids; /* AND, OR: n_kids; NOT: one */
    size_t n_kids;
} gwl_filter;

/* Parses a filter string (RFC 4515, with slapd's "(?...)" forms and RFC 4526's "(&)" and
 * "(|)"). Nodes and values are allocated in a. Returns 0, OKS_E_FORMAT for a malformed string,
 * OKS_E_LIMIT when it has more than max_terms nodes or is nested deeper than
 * GWL_FILTER_MAX_DEPTH; e names the offset and the reason. */
int gwl_filter_parse(const char *s, size_t n, unsigned max_terms, gwl_arena *a,
                     gwl_filter **out, oks_err *e);
/* Whether the filter names attr (lowercase) anywhere. */
bool gwl_filter_mentions(const gwl_filter *f, const char *attr);

/* Case folding as the caseIgnore matching rules do it, for the scripts keys mostly use (ASCII,
 * Latin-1, Latin Extended-A, Greek, Cyrillic), with runs of white space made one space and
 * leading and trailing space cut (trim) or kept. Writes at most n bytes to out; returns the
 * length. */
size_t gwl_fold(const char *in, size_t n, char *out, bool trim);

/* An entry to match filters against and write as LDIF. Attribute names are kept as written;
 * lookups ignore case. */
#define GWL_ENTRY_MAX_ATTRS 32
typedef struct gwl_attr {
    const char *name;
    gwl_val *v;
    size_t n, cap;
} gwl_attr;
typedef struct gwl_entry {
    char *dn;
    gwl_attr attrs[GWL_ENTRY_MAX_ATTRS];
    size_t n_attrs;
    gwl_arena *arena; /* where values live */
} gwl_entry;

void gwl_entry_init(gwl_entry *en, gwl_arena *a, const char *dn);
/* Adds a value (copied) to attribute name (a static string); names past
 * GWL_ENTRY_MAX_ATTRS are ignored. */
void gwl_entry_add(gwl_entry *en, const char *name, const void *p, size_t n);
void gwl_entry_adds(gwl_entry *en, const char *name, const char *s);
const gwl_attr *gwl_entry_get(const gwl_entry *en, const char *name);

typedef enum gwl_tri { GWL_FALSE = 0, GWL_TRUE = 1, GWL_UNDEFINED = 2 } gwl_tri;
/* RFC 4511 4.5.1.7 three-valued evaluation; every attribute matches with caseIgnore rules. */
gwl_tri gwl_filter_match(const gwl_filter *f, const gwl_entry *en);

/* ---- sockreq.c ---------------------------------------------------------------------------- */

typedef enum gwl_op {
    GWL_OP_SEARCH,
    GWL_OP_ADD,
    GWL_OP_MODIFY,
    GWL_OP_DELETE,
    GWL_OP_MODRDN,
    GWL_OP_COMPARE,
    GWL_OP_BIND,
    GWL_OP_UNBIND,
    GWL_OP_EXTENDED,
} gwl_op;

enum { GWL_MOD_ADD, GWL_MOD_DELETE, GWL_MOD_REPLACE, GWL_MOD_INCREMENT };
enum { GWL_SCOPE_BASE = 0, GWL_SCOPE_ONE = 1, GWL_SCOPE_SUB = 2, GWL_SCOPE_CHILDREN = 3 };

/* An attribute with its values (ADD entries) or a modification (MODIFY). */
typedef struct gwl_rattr {
    int mod;    /* GWL_MOD_* (MODIFY only) */
    char *name; /* as written */
    gwl_val *v;
    size_t n;
} gwl_rattr;

#define GWL_REQ_MAX_ATTRS 64 /* attributes of an entry or a modification list */
#define GWL_REQ_MAX_VALUES 1024 /* values in one request */

typedef struct gwl_req {
    gwl_op op;
    long msgid;
    char *suffix; /* the first suffix line */
    char *dn;     /* SEARCH: base; the others: dn (NULL when absent) */
    int scope, deref;
    long sizelimit, timelimit; /* as sent; <= 0: none */
    char *filter;
    bool attrsonly;
    bool all_attrs;   /* "attrs: all" */
    char **attrs;     /* otherwise these (as written) */
    size_t n_attrs;
    gwl_rattr *items; /* ADD: the entry's attributes; MODIFY: the modifications */
    size_t n_items;
} gwl_req;

/* Parses one request (the text up to and including its blank line) into r, allocating in a.
 * Returns 0, or OKS_E_FORMAT / OKS_E_LIMIT with e naming the line. Unknown "name: value"
 * lines of a command (slapd's extensions) are ignored. */
int gwl_req_parse(const char *text, size_t n, gwl_arena *a, gwl_req *r, oks_err *e);
/* Whether a search asks for attribute name (user attributes: "all", "*" or the name itself;
 * "1.1" alone asks for none). */
bool gwl_req_wants(const gwl_req *r, const char *name);

/* ---- plan.c ------------------------------------------------------------------------------- */

typedef enum gwl_lk_kind {
    GWL_LK_FPR,      /* primary fingerprint */
    GWL_LK_FPR_SUB,  /* primary or subkey fingerprint */
    GWL_LK_KEYID,    /* 64-bit primary key ID */
    GWL_LK_SUBKEYID, /* 64-bit key ID of the primary or a subkey */
    GWL_LK_SHORTID,  /* 32-bit primary key ID */
    GWL_LK_EMAIL,    /* exact address */
    GWL_LK_WORDS,    /* every word in one user ID */
} gwl_lk_kind;

#define GWL_LK_TEXT 256
typedef struct gwl_lookup {
    gwl_lk_kind kind;
    uint8_t id[32];
    size_t id_len;
    char text[GWL_LK_TEXT];
} gwl_lookup;

#define GWL_PLAN_MAX 64
typedef struct gwl_plan {
    gwl_lookup v[GWL_PLAN_MAX];
    size_t n;
    bool never; /* no key entry can match: no lookup needed */
} gwl_plan;

/* The lookups that find every key entry f can match (then f is evaluated on each). Returns 0,
 * or GWL_LDAP_UNWILLING when no lookup bounds the filter (it could match keys found only by
 * reading them all: presence, negation, ranges, a user ID part without a word of
 * min_word_length), or GWL_LDAP_ADMINLIMIT when more than max_lookups are needed; *why says
 * which. */
int gwl_plan_keys(const gwl_filter *f, unsigned max_lookups, unsigned min_word_length,
                  gwl_plan *out, const char **why);

/* ---- entry.c ------------------------------------------------------------------------------ */

/* Names of the fixed entries and of the key space below base_dn. */
#define GWL_KEYSPACE_RDN "ou=GnuPG Keys"
#define GWL_SERVERINFO_RDN "cn=pgpServerInfo"

struct oks_pgp_key;
/* The entry of a parsed key under keyspace (the DN of the key space, as configured):
 * pgpCertID=HEX16,KEYSPACE with GnuPG's schema v2 attributes; pgpKey (armored; the raw stored
 * bytes data/len) only when with_key. */
void gwl_entry_of_key(gwl_entry *en, gwl_arena *a, const struct oks_pgp_key *k,
                      const uint8_t *data, size_t len, const char *keyspace, bool with_key);
/* The user ID as a valid UTF-8 directory string: invalid bytes and NULs become '?', an empty
 * one a single '?'. Writes at most n bytes (out holds n+1); returns the length. */
size_t gwl_utf8_clean(const uint8_t *in, size_t n, char *out);

/* Where LDIF lines are folded. RFC 2849 asks for 76 columns (a SHOULD); the only reader is
 * slapd's back-sock, which handles every line with a few string calls and copies (an armored
 * pgpKey is some 30 lines at 76), and reads lines into a buffer of BUFSIZ (8192): a line longer
 * than that would reach it in two pieces, the second one looking like a line of its own. */
#define GWL_LDIF_FOLD 4000

/* LDIF (RFC 2849) of one entry, lines folded at GWL_LDIF_FOLD columns, values that are not
 * SAFE-STRINGs in base64; then a blank line. Only the attributes want accepts (NULL: all). */
void gwl_ldif_entry(oks_buf *out, const gwl_entry *en, bool (*want)(const void *, const char *),
                    const void *arg);
/* "RESULT\ncode: N\nmatched: DN\ninfo: TEXT\n\n" (the text on one line). */
void gwl_ldif_result(oks_buf *out, int code, const char *matched, const char *info);
/* DN comparison form: ASCII lowercase, no spaces around ',', '=' and '+'. */
void gwl_dn_norm(const char *dn, char *out, size_t size);

/* ---- serve.c / server.c ------------------------------------------------------------------- */

typedef struct gwl_conf {
    char socket[108];
    char base_dn[256];
    char keyspace[300];    /* GWL_KEYSPACE_RDN "," base_dn */
    char serverinfo[300];  /* GWL_SERVERINFO_RDN "," base_dn */
    bool allow_upload;
    unsigned threads, max_filter_terms, max_lookups, min_word_length;
    unsigned size_limit, time_limit, deadline_ms;
    size_t max_request;
} gwl_conf;

typedef struct gwl_stats {
    atomic_ulong requests, searches, entries, uploads, errors;
} gwl_stats;

typedef struct gwl_calls gwl_calls;

typedef struct gwl {
    oks_cluster cluster;
    gwl_conf conf;
    void *zctx;
    gwl_calls *calls; /* set while gwl_run runs */
    atomic_int stop;
    gwl_stats stats;
} gwl;

/* Fills g->conf from g->cluster ([ldap]); socket_override may be NULL. */
int gwl_load_conf(gwl *g, const char *socket_override, oks_err *e);

/* The answer of one cluster call of an operation. */
typedef struct gwl_answer {
    int rc;              /* 0, or the call's error (e says more) */
    Oks__Response *resp; /* rc == 0: the reply (the task frees it) */
    oks_err e;
} gwl_answer;

/* One operation in progress (serve.c): its request, the cluster calls it waits for, its answer.
 * Everything it parsed lives in its arena. Used by the event-loop thread only. */
typedef struct gwl_task {
    gwl *g;
    void *owner;      /* the connection it belongs to (server.c) */
    gwl_arena a;
    oks_buf *out;     /* the answer text */
    int op;           /* the request's gwl_op, or GWL_METRICS_OP_INVALID */
    int code;         /* its LDAP result, or GWL_METRICS_NO_ANSWER */
    bool answer;      /* false for UNBIND: nothing is written back */
    gwl_answer *calls; /* n_calls of them, in the order they were sent */
    size_t n_calls, n_done;
    void *state;      /* serve.c's, in the arena */
} gwl_task;

/* Starts the operation of one request text (as read from slapd; it must outlive the task):
 * parses it and either writes the whole answer to out or sends the cluster calls it needs
 * through g->calls. Once t->n_done == t->n_calls (at once when it needs none), gwl_task_finish
 * writes the rest of the answer. */
void gwl_task_start(gwl_task *t, gwl *g, const char *text, size_t n, oks_buf *out);
/* Records the answer of call i (calls.c); a reply becomes the task's. */
void gwl_task_answered(gwl_task *t, size_t i, int rc, Oks__Response *resp, const oks_err *e);
/* Writes the answer of a task whose calls are all answered; sets t->op and t->code. */
void gwl_task_finish(gwl_task *t);
/* Frees what the task holds (replies, arena); it can be started again. */
void gwl_task_release(gwl_task *t);

/* calls.c: the router client of [cluster] routers, owned by the event-loop thread. Calls are
 * pipelined over it (ids of its own, replies in any order); each waits at most its wait_ms. */
gwl_calls *gwl_calls_new(void *zctx, const oks_cluster *cluster, size_t max_pending, oks_err *e);
void gwl_calls_free(gwl_calls *cs);
/* The DEALER's ZMQ_FD, to wait on for replies with poll(2); -1 if libzmq has none. */
int gwl_calls_fd(gwl_calls *cs);
/* Sends rq as call i of t; its answer reaches gwl_task_answered (a send that fails at once
 * too). */
void gwl_calls_send(gwl_calls *cs, gwl_task *t, size_t i, const Oks__Request *rq,
                    unsigned wait_ms);
/* Hands the replies that wait (and, with tick, failures for the calls past their deadline) to
 * their tasks; calls done(t, arg) for each task whose last call that answered. With tick it
 * also lets the client send again requests whose router went away. woken: the descriptor of
 * gwl_calls_fd was readable. To be called before every wait on that descriptor: afterwards it
 * wakes the waiter for the next reply, unless this returns true (more replies may wait: do not
 * wait, call again). */
bool gwl_calls_pump(gwl_calls *cs, bool woken, bool tick, void (*done)(gwl_task *t, void *arg),
                    void *arg);
/* Forgets the calls of t still in flight (its connection is being closed). */
void gwl_calls_cancel(gwl_calls *cs, const gwl_task *t);

/* server.c: binds the socket and runs the event loop until g->stop. */
int gwl_run(gwl *g, oks_err *e);

/* ---- metrics.c ---------------------------------------------------------------------------- */

#define GWL_METRICS_OP_INVALID (GWL_OP_EXTENDED + 1) /* a request that did not parse */
#define GWL_METRICS_NO_ANSWER (-1)

typedef enum gwl_backend_error {
    GWL_BACKEND_TIMEOUT,
    GWL_BACKEND_UNAVAILABLE,
    GWL_BACKEND_PARTIAL,
    GWL_BACKEND_TOO_LARGE,
    GWL_BACKEND_REFUSED,
    GWL_BACKEND_OTHER,
} gwl_backend_error;

/* Registers the families and, when [ldap] metrics_listen is set, serves them. */
int gwl_metrics_start(const oks_cluster *c, oks_err *e);
void gwl_metrics_stop(void);
/* A request starts (in flight + 1); returns its start time for gwl_metrics_end. */
uint64_t gwl_metrics_begin(void);
/* It was answered: op (gwl_op or GWL_METRICS_OP_INVALID), code (an LDAP result or
 * GWL_METRICS_NO_ANSWER). */
void gwl_metrics_end(int op, int code, uint64_t start_us);
void gwl_metrics_lookup(int kind); /* a gwl_lk_kind */
void gwl_metrics_entry(void);
void gwl_metrics_backend(gwl_backend_error why);

/* slapdconf.c: writes DIR/slapd.conf and DIR/oks-pgp.schema for g's [ldap] settings; slapd's
 * schema files (core, cosine) and modules (back_sock) are looked up where paths says. */
typedef struct gwl_slapd_paths {
    const char *dir, *schema_dir, *module_dir;
} gwl_slapd_paths;
int gwl_slapd_conf(const gwl *g, const gwl_slapd_paths *paths, oks_err *e);

#endif

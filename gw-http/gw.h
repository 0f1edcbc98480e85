/*
 * The HTTP gateway: N event-loop threads (h2o evloop), each with its own ZeroMQ DEALER to the
 * router and its own table of requests waiting for a reply, so no loop ever blocks on the
 * cluster. Handlers send a request and return; the reply (or the deadline) completes the HTTP
 * response from the same loop.
 */
#ifndef OKS_GW_H
#define OKS_GW_H

#include "gw-http/cache.h"
#include "gw-http/conns.h"
#include "gw-http/follow.h"
#include "gw-http/query.h"
#include "gw-http/ratelimit.h"
#include "lib/cluster.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "lib/tmpl.h"

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#define GW_MAX_INFLIGHT 16384

typedef struct gw_conf {
    char listen_host[64];
    int listen_port;
    unsigned threads;
    size_t max_body;          /* bytes of a POST body; above: 413 */
    size_t max_url;           /* bytes of path + query; above: 414 */
    unsigned max_keys_per_upload;
    unsigned deadline_ms;     /* router round trip; above: 503 + Retry-After */
    unsigned max_results;     /* keys in one answer */
    char wkd_domains[1024];   /* domains served by WKD, comma/space separated */
    double rate[GW_RL_CLASSES], burst[GW_RL_CLASSES]; /* per client; rate 0 = no limit */
    char trusted_proxies[512]; /* peers whose X-Forwarded-For names the client */
    char metrics_allow[512];   /* networks that may read /metrics */
    char tls_host[64];        /* hkps listener (empty = none) */
    int tls_port;
    char tls_cert[512], tls_key[512];
    size_t cache_bytes;        /* answer cache budget; 0 = no cache */
    unsigned cache_check_ms;   /* pause between passes over the change logs */
    unsigned cache_max_stale_ms; /* change logs unread for longer: cached answers bypassed */
    char sync_state[512];     /* [sync] state: the sync worker's partner state (empty = none) */
    unsigned max_connections; /* open at once in all; 0 = from the descriptor limit */
    unsigned max_connections_per_client; /* per peer address (IPv6: per /64); proxies exempt */
    unsigned max_inflight_per_client; /* cluster requests in flight per client; 0 = no cap */
} gw_conf;

/* Counters for /metrics (atomic, shared by all threads): requests by op (enum gw_op, query.h)
 * and by the status class of their answer. */
enum gw_status_class { GW_HTTP_2XX, GW_HTTP_304, GW_HTTP_400, GW_HTTP_404, GW_HTTP_413,
                       GW_HTTP_4XX, GW_HTTP_503, GW_HTTP_5XX, GW_HTTP_CLASSES };
#define GW_LAT_BUCKETS 12

typedef struct gw_metrics {
    atomic_ulong requests[GW_OPS][GW_HTTP_CLASSES];
    atomic_ulong latency[GW_LAT_BUCKETS + 1]; /* router round trip, le buckets + inf */
    atomic_ulong latency_sum_us, latency_count;
    atomic_ulong keys_added, keys_updated, keys_unchanged, keys_rejected;
    atomic_ulong accept_errors; /* accept() failed for want of descriptors or memory */
    atomic_ulong orphaned;      /* cluster requests whose HTTP request went away first */
    atomic_ulong router_resent; /* cluster requests sent again after their router failed */
    atomic_ulong router_drops;  /* router connections seen dropping (socket monitor) */
    /* the last /pks/health answer: 0 none (or no router answered), 1 slots uncovered, 2 ready */
    atomic_int cluster_state;
    atomic_ulong cluster_shards_down, cluster_slots_uncovered;
} gw_metrics;

/* HTML page templates (pages.c; docs/web.md); GW_PAGE_STYLE is the CSS every page inlines */
enum gw_page { GW_PAGE_HOME, GW_PAGE_INDEX, GW_PAGE_KEY, GW_PAGE_STATS, GW_PAGE_UPLOAD,
               GW_PAGE_ERROR, GW_PAGE_SUBMIT, GW_PAGE_STYLE, GW_PAGES };

typedef struct gw gw;
typedef struct gw_thread gw_thread;

/* What SIGHUP changes without a restart (reload.c): the page templates, the rate limits
 * ([http] rate_* and burst_*; their buckets start afresh) and metrics_allow. The loop threads
 * read it through their own pointer (gw_live_of), taken again between two turns of their loop;
 * a reload swaps g->live, and the old one is freed once every loop has taken the new one. */
typedef struct gw_live {
    char *pages[GW_PAGES]; /* template sources */
    gw_ratelimit *rl;
    double rate[GW_RL_CLASSES], burst[GW_RL_CLASSES];
    char metrics_allow[512];
    unsigned long gen;     /* 1, 2, ...: one more per reload */
    struct gw_live *next;  /* retired ones, waiting for every loop to move on */
} gw_live;

/* Continuation run on the loop thread when the router answers (resp != NULL) or the request
 * failed (resp == NULL; status/why say how). resp is freed by the bridge afterwards. */
typedef void (*gw_cont)(h2o_req_t *req, void *data, Oks__Response *resp, int status,
                        const char *why);

typedef struct gw_ref {
    h2o_req_t *req;         /* NULL once the HTTP request is gone (orphan) */
    struct gw_ref **holder; /* in req's pool, points back here while req lives */
    gw_conn_ticket *ticket; /* the client's (counted in its requests in flight), or NULL */
    uint64_t id;
    gw_cont cb;
    void *data;
    uint64_t sent_us;
    h2o_timeout_entry_t tmo;
    gw_thread *t;
    oks_buf body;              /* the packed request, sent again if its router fails */
    h2o_timeout_entry_t retry; /* in try_tmo (sent) or wait_tmo (no router connected, or
                                * a router's connection dropped: sent again shortly) */
    unsigned tries;
    unsigned lost;             /* routers whose connection dropped while it was out */
} gw_ref;

struct gw_thread {
    h2o_context_t ctx; /* first: handlers find their thread from req->conn->ctx */
    h2o_accept_ctx_t actx, actx_tls;
    gw *g;
    pthread_t tid;
    int listen_fd, tls_fd; /* this thread's own listening sockets (SO_REUSEPORT), or -1 */
    h2o_socket_t *listener, *listener_tls;
    h2o_timeout_t pause;            /* how long listeners rest when no connection can be taken */
    h2o_timeout_entry_t pause_entry;
    void *dealer, *zmon; /* DEALER to every router; its disconnect events */
    h2o_socket_t *zsock, *zmon_sock;
    h2o_timeout_t deadline, try_tmo, wait_tmo;
    h2o_timeout_entry_t drain_entry;
    gw_live *live;           /* this loop's view of g->live, taken between turns of the loop */
    atomic_ulong live_gen;   /* its gen, published for the reclaimer */
    gw_ref *table[GW_MAX_INFLIGHT];
    uint64_t next_id;
};

struct gw {
    gw_conf conf;
    oks_cluster cluster;
    h2o_globalconf_t h2o;
    void *zctx;
    void *ssl_ctx; /* SSL_CTX for hkps, or NULL */
    gw_thread *threads;
    gw_metrics metrics;
    gw_conns *conns;
    gw_cache *cache; /* NULL when off */
    gw_follow follow;
    _Atomic(gw_live *) live; /* reload.c */
    gw_live *retired;        /* owned by loop thread 0, which reloads */
    const char *conf_path;   /* re-read on SIGHUP */
    atomic_int stop, reload;
};

static inline gw_thread *gw_thread_of(h2o_req_t *req)
{
    return (gw_thread *)req->conn->ctx;
}

static inline const gw_live *gw_live_of(h2o_req_t *req)
{
    return gw_thread_of(req)->live;
}

/* reload.c: the reloadable settings of http (templates loaded and checked); NULL after logging
 * why. gw_live_free frees one. */
gw_live *gw_live_new(const oks_conf_http *http);
void gw_live_free(gw_live *l);
/* On a loop thread between two turns of its loop: takes the current settings; on thread 0
 * also re-reads the config when SIGHUP asked for it, and frees retired settings no loop uses. */
void gw_live_turn(gw_thread *t);

/* server.c: the [http] settings of the cluster file into g->conf (listen_override, if not
 * NULL, replaces listen); then the listeners and the loop threads, until g->stop. */
int gw_load_conf(gw *g, const char *listen_override, oks_err *e);
int gw_run(gw *g, oks_err *e);
/* h2o on_close callback of every accepted client socket (data: its gw_conn_ticket). */
void gw_on_conn_closed(void *ticket);

/* bridge.c */
int gw_bridge_start(gw_thread *t);
/* Sends req to the router; cb runs later on this loop. Returns 0, or -1 after answering 503. */
int gw_call(h2o_req_t *req, Oks__Request *q, gw_cont cb, void *data);

/* respond.c: writes answers and counts them under the request's op (gw_request_op). */
void gw_respond(h2o_req_t *req, int status, const char *reason, const char *ctype,
                const void *body, size_t len);
/* The same with a body that already lives in the request's pool (not copied). */
void gw_respond_pooled(h2o_req_t *req, int status, const char *ctype, const void *body,
                       size_t len);
const char *gw_status_reason(int status);
/* X-HKP-Results-Count: n */
void gw_set_result_count(h2o_req_t *req, size_t n);
/* X-OKS-Truncated: work-budget when a shard's work budget cut the answer (Response.truncated);
 * returns r->truncated. */
bool gw_set_truncated(h2o_req_t *req, const Oks__Response *r);
/* True when the request's If-None-Match is etag (a non-empty quoted ETag). */
bool gw_not_modified(h2o_req_t *req, const char *etag);
void gw_count(gw *g, enum gw_op op, int status);

/* errors.c: content negotiation and error answers. */
/* True when the client asks for HTML (a browser). */
bool gw_wants_html(h2o_req_t *req);
/* Answers status with why: the HTML error page for browsers, "STATUS REASON: why" otherwise;
 * 429 and 503 carry Retry-After. */
void gw_error(h2o_req_t *req, int status, const char *why);
/* Maps a cluster status to an HTTP answer (404/400/413/503...). */
void gw_error_from(h2o_req_t *req, const Oks__Response *resp);

/* ratelimit_http.c: the client of a request and its rate limits. */
#define GW_ADDR_TEXT 46 /* INET6_ADDRSTRLEN */
/* The address of ss as text into out; "?" and false when ss is not IPv4 or IPv6. */
bool gw_addr_text(const struct sockaddr_storage *ss, char out[GW_ADDR_TEXT]);
/* The client req came from: the peer address, or the X-Forwarded-For entry a trusted proxy
 * names. */
void gw_client_of(h2o_req_t *req, char out[64]);
/* Applies the client's rate limit of cls; answers 429 with Retry-After and returns false when
 * the client is over it. */
bool gw_allow(h2o_req_t *req, enum gw_rl_class cls);
/* The same for n tokens of cls (GW_RL_VERIFY: units of signature work). */
bool gw_allow_n(h2o_req_t *req, enum gw_rl_class cls, double n);
/* add.c: the signature work one uploaded key (binary packets) can cause at a shard
 * (oks_pgp_key_verify_estimate), for GW_RL_VERIFY. */
double gw_upload_cost(const uint8_t *key, size_t len);

/* cache_http.c: the answer cache for lookups. Serves a cached answer to req; true when it did. */
bool gw_cache_serve(h2o_req_t *req, bool v6_ok);
/* Keeps the answer v to req (sent when the cache clock read tag), depending on the key dep
 * (dep_len bytes) or, with dep NULL, on every key. */
void gw_cache_store(h2o_req_t *req, bool v6_ok, uint64_t tag, const uint8_t *dep,
                    size_t dep_len, const gw_cached *v);
/* The keys of an add answer changed: forget what this gateway cached about them. */
void gw_cache_forget(gw *g, const Oks__Response *added);

/* pages.c: the templates of dir (NULL: the built-in ones) into pages, each checked. */
int gw_pages_load(char *pages[GW_PAGES], const char *dir);
int gw_pages_dump(const char *dir);
/* Renders page with ctx, after adding to ctx what every page may use: css (the style sheet,
 * inlined raw) and keyserver (hkp:// or hkps:// and the request's host, when it is a plain
 * host name). */
void gw_page(h2o_req_t *req, int status, enum gw_page page, oks_tmpl *ctx);
/* Sets the page-wide values of gw_page into t (the error page renders by itself). */
int gw_page_globals(h2o_req_t *req, oks_tmpl *t);
/* Work bounds of the HTML pages, which render on the event loop: list items (user IDs,
 * signatures, subkeys) of one key and of one index page, and key bytes shown armored on one key
 * page (more: a download link instead). */
#define GW_HTML_MAX_KEY_LINES 200
#define GW_HTML_MAX_LINES 5000
#define GW_HTML_MAX_ARMOR (256u << 10)

/* keyview.c: a key as the context of the HTML pages (see docs/web.md for the names). */
enum { GW_USE_CERTIFY = 0x01, GW_USE_SIGN = 0x02, GW_USE_ENCRYPT = 0x0C, GW_USE_AUTH = 0x20 };
/* hex (NUL-terminated) in blocks of four separated by a space (two in the middle of a 40-digit
 * fingerprint), truncated to out_size - 1 bytes. */
void gw_fpr_groups(const char *hex, char *out, size_t out_size);
/* GW_USE_* bits of a key: its key-flags subpacket when it has one, else what its algorithm can
 * do; a primary key always certifies. */
unsigned gw_key_usage(uint8_t algo, bool has_flags, uint8_t flags, bool primary);
/* "valid", "revoked" (a verified revocation not followed by a newer self-certification) or
 * "expired" (its newest self-certification expired before now, Unix seconds). */
const char *gw_uid_status(const oks_pgp_uid *u, uint64_t now);
/* Fills kt (an item of "keys") with k within *lines list items (lowered by those listed); a key
 * listed in part gets "truncated" ("N more signatures, M more user IDs ..."). Signatures of the
 * user IDs only when sigs; now (Unix seconds) decides what has expired. 0 or OKS_E_NOMEM. */
int gw_page_key(oks_tmpl *kt, const oks_pgp_key *k, bool sigs, uint64_t now, size_t *lines);
/* op=stats: the sync worker's partners and recent rounds (syncstats.c; the JSON form is in
 * json.h); nothing without it. */
void gw_sync_stats_tmpl(const char *path, oks_tmpl *t);

/* Handlers: hkp.c (lookup), add.c, hashquery.c, health.c, metrics.c, pages.c (home), vks.c,
 * wkd.c. */
int gw_on_lookup(h2o_handler_t *self, h2o_req_t *req);
int gw_on_add(h2o_handler_t *self, h2o_req_t *req);
int gw_on_hashquery(h2o_handler_t *self, h2o_req_t *req);
int gw_on_health(h2o_handler_t *self, h2o_req_t *req);
int gw_on_metrics(h2o_handler_t *self, h2o_req_t *req);
int gw_on_home(h2o_handler_t *self, h2o_req_t *req);
int gw_on_vks(h2o_handler_t *self, h2o_req_t *req);
int gw_on_wkd(h2o_handler_t *self, h2o_req_t *req);
/* z-base-32 of SHA-1 of the lowercased local part (WKD). */
void gw_wkd_hash(const char *local, size_t n, char out[33]);

#endif

/* Inside the etcd client (lib/etcd.c, lib/etcd_watch.c): the handle and the transport helpers
 * its units share. Not for other modules: they use lib/etcd.h. */
#ifndef OKS_ETCD_IMPL_H
#define OKS_ETCD_IMPL_H

#include "lib/buf.h"
#include "lib/etcd.h"
#include "lib/xalloc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <string.h>

struct oks_etcd {
    char *eps[OKS_ETCD_MAX_ENDPOINTS]; /* owned: "http://host:port", no trailing slash */
    size_t n_eps;
    size_t cur;                        /* the endpoint used last */
    char *ca, *cert, *key;             /* owned paths, NULL when not set */
    unsigned timeout_ms;
    size_t max_answer;
    CURL *h;                           /* the unary calls' handle (keeps its connection) */
    oks_buf body;                      /* the answer being received */
    bool too_big;                      /* body would have grown past max_answer */
    char *user, *password;             /* owned; NULL without etcd auth */
    char token[512];                   /* the auth token, "" when none yet */
};

/* The request headers: JSON, and the auth token when there is one (caller frees the list). */
struct curl_slist *oks_etcd_headers(const oks_etcd *c, bool watch);
/* With auth: gets a token when there is none (force: a new one). 0 without auth. */
int oks_etcd_auth(oks_etcd *c, bool force, oks_err *e);

uint64_t oks_etcd_now_ms(void);
/* Resets h for a request to url with the handle's TLS files; errbuf (CURL_ERROR_SIZE bytes)
 * receives libcurl's message. */
void oks_etcd_setup(const oks_etcd *c, CURL *h, const char *url, char *errbuf);
/* Fills e for a transfer that failed with rc on endpoint ep; returns OKS_E_LIMIT for an answer
 * past max_answer (c->too_big), else OKS_E_UNAVAILABLE. */
int oks_etcd_curl_fail(oks_etcd *c, CURL *h, CURLcode rc, const char *ep, const char *errbuf,
                       oks_err *e);

/* A message of the parser without its leading "etcd: " or "etcd ", for "etcd ENDPOINT: ..." */
static inline const char *oks_etcd_unprefixed(const char *m)
{
    return strncmp(m, "etcd: ", 6) == 0 ? m + 6 : strncmp(m, "etcd ", 5) == 0 ? m + 5 : m;
}

#endif

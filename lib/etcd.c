/*
 * The etcd client's transport and unary calls (lib/etcd.h): one libcurl easy handle per
 * oks_etcd (its connection is kept between calls), a whole-call deadline shared by the
 * endpoints tried in turn, and the requests of each call built as jansson trees. The watch
 * stream is in lib/etcd_watch.c, the answers' parsing in lib/etcd_json.c.
 */
#include "lib/etcd_impl.h"
#include "lib/zsec.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

uint64_t oks_etcd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int tls_file(const char *what, const char *path, bool secret, char **out, oks_err *e)
{
    *out = NULL;
    if (!path || !*path)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "etcd %s %s: %s", what, path,
                           strerror(errno));
    if (!S_ISREG(st.st_mode))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd %s %s: not a regular file", what,
                           path);
    if (secret && !oks_zsec_secret_mode_ok(st.st_uid, st.st_mode))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "etcd %s %s has mode %04o (owner uid %u): group and others must have "
                           "no access (chmod 600), except group read of a file root owns (0640)",
                           what, path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
    if (access(path, R_OK) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "etcd %s %s: %s", what, path,
                           strerror(errno));
    *out = oks_xstrdup(path);
    return 0;
}

/* The first line of the password file (checked like a key file). */
static int read_password(const char *path, char **out, oks_err *e)
{
    char *checked = NULL;
    int r = tls_file("password file", path, true, &checked, e);
    free(checked);
    if (r)
        return r;
    FILE *f = fopen(path, "r");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "etcd password file %s: %s", path,
                           strerror(errno));
    char line[256];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    if (n == 0 || (n == sizeof line - 1 && !strchr(line, '\n')))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "etcd password file %s: its first line must hold the password "
                           "(1 to 254 bytes)", path);
    line[n] = '\0';
    *out = oks_xstrdup(line);
    memset(line, 0, sizeof line);
    return 0;
}

static int parse_endpoints(oks_etcd *c, const char *list, oks_err *e)
{
    const char *p = list ? list : "";
    while (*p) {
        size_t skip = strspn(p, ", \t");
        p += skip;
        size_t n = strcspn(p, ", \t");
        if (!n)
            break;
        if (c->n_eps == OKS_ETCD_MAX_ENDPOINTS)
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd endpoints: more than %d",
                               OKS_ETCD_MAX_ENDPOINTS);
        bool http = n > 7 && strncmp(p, "http://", 7) == 0;
        bool https = n > 8 && strncmp(p, "https://", 8) == 0;
        if (!http && !https)
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                               "etcd endpoint %.*s: not http://HOST:PORT or https://HOST:PORT",
                               (int)(n > 100 ? 100 : n), p);
        while (n && p[n - 1] == '/')
            n--;
        c->eps[c->n_eps++] = strndup(p, n);
        if (!c->eps[c->n_eps - 1])
            return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd: out of memory");
        p += n;
        while (*p == '/')
            p++;
    }
    if (c->n_eps == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd: no endpoint given");
    return 0;
}

int oks_etcd_open(const oks_etcd_opts *o, oks_etcd **out, oks_err *e)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "etcd: curl_global_init: %s",
                           curl_easy_strerror(curl_init_rc));
    oks_etcd *c = oks_xcalloc(1, sizeof *c);
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : OKS_ETCD_DEFAULT_TIMEOUT_MS;
    c->max_answer = o->max_answer ? o->max_answer : OKS_ETCD_DEFAULT_MAX_ANSWER;
    int r = parse_endpoints(c, o->endpoints, e);
    if (r == 0)
        r = tls_file("CA file", o->ca_file, false, &c->ca, e);
    if (r == 0)
        r = tls_file("certificate", o->cert_file, false, &c->cert, e);
    if (r == 0)
        r = tls_file("key file", o->key_file, true, &c->key, e);
    if (r == 0 && (o->user && *o->user) != (o->password_file && *o->password_file))
        r = oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                        "etcd: a user needs its password file and the other way round");
    if (r == 0 && o->user && *o->user) {
        c->user = oks_xstrdup(o->user);
        r = read_password(o->password_file, &c->password, e);
    }
    if (r == 0 && !c->cert != !c->key)
        r = oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                        "etcd: a client certificate needs its key file and the other way round");
    if (r == 0 && !(c->h = curl_easy_init()))
        r = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd: curl_easy_init failed");
    if (r) {
        oks_etcd_close(c);
        return r;
    }
    *out = c;
    return 0;
}

void oks_etcd_close(oks_etcd *c)
{
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    for (size_t i = 0; i < c->n_eps; i++)
        free(c->eps[i]);
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c->user);
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    oks_buf_release(&c->body);
    free(c);
}

const char *oks_etcd_endpoint(const oks_etcd *c)
{
    return c->eps[c->cur];
}

/* libcurl's write callback: the answer into c->body, bounded */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    oks_etcd *c = arg;
    size_t n = size * nmemb;
    if (n > c->max_answer - c->body.len) {
        c->too_big = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    oks_buf_append(&c->body, p, n);
    return n;
}

void oks_etcd_setup(const oks_etcd *c, CURL *h, const char *url, char *errbuf)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* the JSON gateway as documented; ALPN would pick HTTP/2 with etcd over TLS */
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);
    if (c->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    if (c->cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
    }
    errbuf[0] = '\0';
}

int oks_etcd_curl_fail(oks_etcd *c, CURL *h, CURLcode rc, const char *ep, const char *errbuf,
                       oks_err *e)
{
    long os = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os);
    const char *phase = "answer";
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: phase = "resolve"; break;
    case CURLE_COULDNT_CONNECT: phase = "connect"; break;
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_CIPHER:
        phase = "TLS"; break;
    case CURLE_OPERATION_TIMEDOUT: phase = "timeout"; break;
    default: /* a handshake refused by the server shows as a failed read */
        if (strstr(errbuf, "TLS") || strstr(errbuf, "SSL") || strstr(errbuf, "certificate"))
            phase = "TLS";
        break;
    }
    if (rc == CURLE_WRITE_ERROR && c->too_big)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "etcd %s: answer larger than %zu bytes",
                           ep, c->max_answer);
    if (strncmp(ep, "https:", 6) == 0 && !c->cert &&
        (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
         strcmp(phase, "TLS") == 0))
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                           "etcd %s: TLS: %.100s (no client certificate given: a server with "
                           "--client-cert-auth refuses such clients)",
                           ep, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (rc == CURLE_COULDNT_CONNECT && os)
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "etcd %s: connect: %s", ep,
                           strerror((int)os));
    return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "etcd %s: %s: %s", ep, phase,
                       errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* Whether a failure after which the request may have been applied (it was sent and no answer
 * came back). */
static bool maybe_applied(CURL *h, CURLcode rc)
{
    if (rc != CURLE_OPERATION_TIMEDOUT && rc != CURLE_RECV_ERROR && rc != CURLE_GOT_NOTHING &&
        rc != CURLE_PARTIAL_FILE && rc != CURLE_SEND_ERROR)
        return false;
    curl_off_t pre = 0;
    curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre);
    return pre > 0;
}

/* One POST of body to path, endpoints in turn from the last that answered, under one deadline.
 * safe: the request may be sent again after a failure that may have applied it. The answer is
 * parsed as call into a. */
static int call_once(oks_etcd *c, const char *path, json_t *req, bool safe, oks_etcd_call kind,
                     size_t max_kvs, oks_etcd_answer *a, oks_err *e)
{
    memset(a, 0, sizeof *a);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "etcd: cannot build the request");
    uint64_t deadline = oks_etcd_now_ms() + c->timeout_ms;
    int r = OKS_E_UNAVAILABLE;
    bool final = false; /* an answer or a failure not worth another endpoint */
    oks_err last;
    oks_err_clear(&last);
    for (size_t tried = 0; tried < c->n_eps && !final; tried++) {
        size_t idx = (c->cur + tried) % c->n_eps;
        const char *ep = c->eps[idx];
        uint64_t now = oks_etcd_now_ms();
        if (now >= deadline)
            break;
        uint64_t left = deadline - now, share = left / (c->n_eps - tried);
        char url[600];
        snprintf(url, sizeof url, "%s%s", ep, path);
        char errbuf[CURL_ERROR_SIZE];
        oks_etcd_setup(c, c->h, url, errbuf);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, (long)(share < 100 ? left : share));
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        struct curl_slist *hdr = oks_etcd_headers(c, false);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
        c->body.len = 0;
        c->too_big = false;
        CURLcode rc = curl_easy_perform(c->h);
        curl_slist_free_all(hdr);
        c->cur = idx;
        if (rc != CURLE_OK) {
            r = oks_etcd_curl_fail(c, c->h, rc, ep, errbuf, &last);
            if (r == OKS_E_LIMIT) {
                final = true;
            } else if (!safe && maybe_applied(c->h, rc)) {
                char m[sizeof last.msg];
                snprintf(m, sizeof m, "%s", last.msg);
                oks_err_set(&last, r, OKS_NO_OFFSET,
                            "%.170s (the request may have been applied: outcome unknown)", m);
                final = true;
            }
            continue;
        }
        long status = 0;
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
        r = oks_etcd_parse_answer(kind, c->body.data ? c->body.data : (const uint8_t *)"",
                                  c->body.len, max_kvs, a, &last);
        if (status == 200 && r == 0)
            break;
        if (r == 0) { /* a valid answer under an error status */
            oks_etcd_answer_release(a);
            r = oks_err_set(&last, OKS_E_PROTO, OKS_NO_OFFSET, "HTTP status %ld", status);
        }
        char m[sizeof last.msg];
        snprintf(m, sizeof m, "%s", last.msg);
        oks_err_set(&last, r, OKS_NO_OFFSET, "etcd %s: %s", ep, oks_etcd_unprefixed(m));
        /* no leader, member stopping: another member may do */
        final = !(status >= 500 && r != OKS_E_LIMIT && (safe || r == OKS_E_UNAVAILABLE));
    }
    free(body);
    if (r == 0) {
        oks_err_clear(e);
        return 0;
    }
    if (final)
        return oks_err_set(e, r, OKS_NO_OFFSET, "%s", last.msg);
    c->cur = (c->cur + 1) % c->n_eps; /* the next call starts past the one that failed last */
    if (!last.msg[0])
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "etcd: no answer within %u ms",
                           c->timeout_ms);
    if (c->n_eps > 1)
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "%.180s (none of %zu endpoints "
                           "answered)", last.msg, c->n_eps);
    return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "%s", last.msg);
}

struct curl_slist *oks_etcd_headers(const oks_etcd *c, bool watch)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (watch)
        h = curl_slist_append(h, "Grpc-Metadata-hasleader: true");
    if (c->token[0]) {
        char a[sizeof c->token + 32];
        snprintf(a, sizeof a, "Authorization: %s", c->token);
        h = curl_slist_append(h, a);
    }
    return h;
}

int oks_etcd_auth(oks_etcd *c, bool force, oks_err *e)
{
    if (!c->user || (c->token[0] && !force))
        return 0;
    c->token[0] = '\0';
    json_t *req = json_pack("{s:s, s:s}", "name", c->user, "password", c->password);
    oks_etcd_answer a;
    int r = call_once(c, "/v3/auth/authenticate", req, true, OKS_ETCD_AUTHENTICATE, 0, &a, e);
    if (r)
        return r;
    memcpy(c->token, a.token, sizeof c->token);
    oks_etcd_answer_release(&a);
    return 0;
}

/* call_once, authenticated first when the client has a user; a token etcd no longer takes
 * (expired, or etcd restarted) is replaced once. */
static int call(oks_etcd *c, const char *path, json_t *req, bool safe, oks_etcd_call kind,
                size_t max_kvs, oks_etcd_answer *a, oks_err *e)
{
    memset(a, 0, sizeof *a);
    if (!c->user)
        return call_once(c, path, req, safe, kind, max_kvs, a, e);
    int r = oks_etcd_auth(c, false, e);
    if (r) {
        json_decref(req);
        return r;
    }
    oks_err e1;
    json_incref(req);
    r = call_once(c, path, req, safe, kind, max_kvs, a, &e1);
    if (r && strstr(e1.msg, "invalid auth token") &&
        (r = oks_etcd_auth(c, true, e)) == 0)
        return call_once(c, path, req, safe, kind, max_kvs, a, e);
    json_decref(req);
    if (r == 0)
        oks_err_clear(e);
    else if (e && e1.code == r)
        *e = e1;
    return r;
}

/* ---- requests ---------------------------------------------------------------------------- */

static json_t *key_range(const char *key, bool prefix)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", oks_etcd_b64(key, strlen(key)));
    if (prefix) {
        uint8_t *end;
        size_t n;
        if (oks_etcd_prefix_end(key, &end, &n) == 0) {
            json_object_set_new(o, "range_end", oks_etcd_b64(end, n));
            free(end);
        } else {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *jint(int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)v);
    return json_string(s);
}

static json_t *put_req(const char *key, const void *val, size_t len, int64_t lease)
{
    json_t *o = key_range(key, false);
    json_object_set_new(o, "value", oks_etcd_b64(val, len));
    if (lease)
        json_object_set_new(o, "lease", jint(lease));
    return o;
}

static int bad_key(const char *key, oks_err *e)
{
    if (!key || !*key)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd: empty key");
    return 0;
}

int oks_etcd_get(oks_etcd *c, const char *key, oks_etcd_kv *kv, int64_t *rev, oks_err *e)
{
    memset(kv, 0, sizeof *kv);
    if (bad_key(key, e))
        return OKS_E_ARG;
    oks_etcd_answer a;
    int r = call(c, "/v3/kv/range", key_range(key, false), true, OKS_ETCD_RANGE, 0, &a, e);
    if (r)
        return r;
    if (rev)
        *rev = a.revision;
    if (a.n_kvs != 1 || strcmp(a.kvs[0].key, key) != 0) {
        r = a.n_kvs ? oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET,
                                  "etcd %s: asked for %s, got another key", oks_etcd_endpoint(c),
                                  key)
                    : oks_err_set(e, OKS_E_NOTFOUND, OKS_NO_OFFSET, "etcd: no key %s", key);
    } else {
        *kv = a.kvs[0];
        memset(&a.kvs[0], 0, sizeof a.kvs[0]);
    }
    oks_etcd_answer_release(&a);
    return r;
}

int oks_etcd_list(oks_etcd *c, const char *prefix, size_t max, oks_etcd_kv **kvs, size_t *n,
                  int64_t *rev, oks_err *e)
{
    *kvs = NULL;
    *n = 0;
    json_t *req = key_range(prefix ? prefix : "", true);
    json_object_set_new(req, "sort_order", json_string("ASCEND"));
    json_object_set_new(req, "sort_target", json_string("KEY"));
    if (max)
        json_object_set_new(req, "limit", jint((int64_t)max + 1));
    oks_etcd_answer a;
    int r = call(c, "/v3/kv/range", req, true, OKS_ETCD_RANGE, max ? max + 1 : 0, &a, e);
    if (r)
        return r;
    if (max && (a.n_kvs > max || a.more)) {
        r = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "etcd: more than %zu keys under %s", max,
                        prefix);
        oks_etcd_answer_release(&a);
        return r;
    }
    size_t plen = strlen(prefix ? prefix : "");
    for (size_t i = 0; i < a.n_kvs; i++)
        if (strncmp(a.kvs[i].key, prefix ? prefix : "", plen) != 0 ||
            (i && strcmp(a.kvs[i - 1].key, a.kvs[i].key) >= 0)) {
            oks_etcd_answer_release(&a);
            return oks_err_set(e, OKS_E_PROTO, OKS_NO_OFFSET,
                               "etcd %s: keys out of order or outside %s", oks_etcd_endpoint(c),
                               prefix);
        }
    if (rev)
        *rev = a.revision;
    *kvs = a.kvs;
    *n = a.n_kvs;
    a.kvs = NULL;
    a.n_kvs = 0;
    oks_etcd_answer_release(&a);
    return 0;
}

int oks_etcd_put(oks_etcd *c, const char *key, const void *val, size_t len, int64_t lease,
                 int64_t *rev, oks_err *e)
{
    if (bad_key(key, e))
        return OKS_E_ARG;
    oks_etcd_answer a;
    int r = call(c, "/v3/kv/put", put_req(key, val, len, lease), true, OKS_ETCD_PUT_CALL, 0, &a,
                 e);
    if (r == 0 && rev)
        *rev = a.revision;
    oks_etcd_answer_release(&a);
    return r;
}

int oks_etcd_put_if(oks_etcd *c, const char *key, const void *val, size_t len,
                    int64_t expect_mod_rev, int64_t *new_rev, oks_err *e)
{
    oks_etcd_cmp cmp = {key, expect_mod_rev};
    oks_etcd_op op = {.kind = OKS_ETCD_PUT, .key = key, .val = val, .len = len};
    return oks_etcd_txn(c, &cmp, 1, &op, 1, new_rev, e);
}

#define MAX_CMPS 64
#define MAX_OPS 128

int oks_etcd_txn(oks_etcd *c, const oks_etcd_cmp *cmps, size_t ncmp, const oks_etcd_op *ops,
                 size_t nops, int64_t *rev, oks_err *e)
{
    if (ncmp > MAX_CMPS || nops > MAX_OPS || nops == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "etcd txn: %zu compares and %zu operations (1..%d operations, at "
                           "most %d compares)", ncmp, nops, MAX_OPS, MAX_CMPS);
    json_t *req = json_object(), *compare = json_array(), *success = json_array(),
           *failure = json_array();
    for (size_t i = 0; i < ncmp; i++) {
        if (bad_key(cmps[i].key, e) || cmps[i].mod_rev < 0) {
            json_decref(req), json_decref(compare), json_decref(success), json_decref(failure);
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd txn: compare %zu: bad key or "
                               "revision", i);
        }
        json_t *cmp = key_range(cmps[i].key, false);
        json_object_set_new(cmp, "target", json_string("MOD"));
        json_object_set_new(cmp, "result", json_string("EQUAL"));
        json_object_set_new(cmp, "mod_revision", jint(cmps[i].mod_rev));
        json_array_append_new(compare, cmp);
        json_t *rr = json_object();
        json_object_set_new(rr, "request_range", key_range(cmps[i].key, false));
        json_array_append_new(failure, rr);
    }
    for (size_t i = 0; i < nops; i++) {
        const oks_etcd_op *op = &ops[i];
        json_t *o = json_object();
        if (bad_key(op->key, e) || op->kind > OKS_ETCD_DELETE_PREFIX) {
            json_decref(o), json_decref(req), json_decref(compare), json_decref(success),
                json_decref(failure);
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd txn: operation %zu: bad key "
                               "or kind", i);
        }
        if (op->kind == OKS_ETCD_PUT)
            json_object_set_new(o, "request_put", put_req(op->key, op->val, op->len, op->lease));
        else
            json_object_set_new(o, "request_delete_range",
                                key_range(op->key, op->kind == OKS_ETCD_DELETE_PREFIX));
        json_array_append_new(success, o);
    }
    json_object_set_new(req, "compare", compare);
    json_object_set_new(req, "success", success);
    json_object_set_new(req, "failure", failure);
    oks_etcd_answer a;
    /* sent again only when the first try surely did not reach a server */
    int r = call(c, "/v3/kv/txn", req, ncmp == 0, OKS_ETCD_TXN, 0, &a, e);
    if (r)
        return r;
    if (!a.succeeded) {
        size_t i = 0;
        while (i < ncmp && i < a.n_failed && a.failed[i].mod_rev == cmps[i].mod_rev)
            i++;
        if (i == ncmp)
            i = 0;
        r = oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                        "etcd: %s changed: expected mod_revision %lld, found %lld%s",
                        ncmp ? cmps[i].key : "?", ncmp ? (long long)cmps[i].mod_rev : 0,
                        i < a.n_failed ? (long long)a.failed[i].mod_rev : -1,
                        i < a.n_failed && a.failed[i].mod_rev == 0 ? " (absent)" : "");
    } else if (rev) {
        *rev = a.revision;
    }
    oks_etcd_answer_release(&a);
    return r;
}

int oks_etcd_delete(oks_etcd *c, const char *key, oks_err *e)
{
    if (bad_key(key, e))
        return OKS_E_ARG;
    oks_etcd_answer a;
    int r = call(c, "/v3/kv/deleterange", key_range(key, false), true, OKS_ETCD_DELETERANGE, 0,
                 &a, e);
    if (r == 0 && a.deleted == 0)
        r = oks_err_set(e, OKS_E_NOTFOUND, OKS_NO_OFFSET, "etcd: no key %s", key);
    oks_etcd_answer_release(&a);
    return r;
}

static json_t *lease_req(int64_t id)
{
    json_t *o = json_object();
    json_object_set_new(o, "ID", jint(id));
    return o;
}

int oks_etcd_lease_grant(oks_etcd *c, unsigned ttl_s, int64_t *lease, oks_err *e)
{
    *lease = 0;
    if (ttl_s == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "etcd: lease TTL 0");
    json_t *req = json_object();
    json_object_set_new(req, "TTL", jint(ttl_s));
    oks_etcd_answer a;
    int r = call(c, "/v3/lease/grant", req, true, OKS_ETCD_LEASE_GRANT, 0, &a, e);
    if (r == 0)
        *lease = a.id;
    oks_etcd_answer_release(&a);
    return r;
}

int oks_etcd_lease_keepalive(oks_etcd *c, int64_t lease, oks_err *e)
{
    oks_etcd_answer a;
    int r = call(c, "/v3/lease/keepalive", lease_req(lease), true, OKS_ETCD_LEASE_KEEPALIVE, 0,
                 &a, e);
    if (r == 0 && a.ttl <= 0)
        r = oks_err_set(e, OKS_E_NOTFOUND, OKS_NO_OFFSET, "etcd: lease %llx expired or unknown",
                        (unsigned long long)lease);
    oks_etcd_answer_release(&a);
    return r;
}

int oks_etcd_lease_revoke(oks_etcd *c, int64_t lease, oks_err *e)
{
    oks_etcd_answer a;
    int r = call(c, "/v3/lease/revoke", lease_req(lease), true, OKS_ETCD_LEASE_REVOKE, 0, &a, e);
    oks_etcd_answer_release(&a);
    return r;
}

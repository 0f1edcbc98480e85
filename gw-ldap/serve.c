/*
 * One back-sock request -> cluster calls -> the answer text (LDIF entries, then RESULT).
 *
 * The directory tree under [ldap] base_dn:
 *   BASE_DN                       the suffix entry (extensibleObject, its RDN's value)
 *   cn=pgpServerInfo,BASE_DN      what dirmngr reads first: pgpBaseKeySpaceDN, schema version 2
 *   ou=GnuPG Keys,BASE_DN         the key space
 *   pgpCertID=HEX16,ou=GnuPG Keys,BASE_DN   one entry per stored key, found only through the
 *                                 lookups plan.c derives from the filter
 * A search whose filter no lookup bounds gets the fixed entries it matches and then
 * unwillingToPerform: the key space is never listed. Errors of the cluster are LDAP errors
 * (unavailable, busy, adminLimitExceeded for an answer cut by the cluster's work bound), never
 * an empty success.
 *
 * An operation is a task the event loop drives (server.c): gwl_task_start answers at once or
 * sends every cluster call the operation needs (a search's lookups all at once, an upload's add);
 * once all are answered gwl_task_finish reads the answers in order and writes the rest, so the
 * answer is the same as if the lookups had been made one after the other.
 */
#include "gw-ldap/gwl.h"

#include "lib/log.h"
#include "lib/pgp.h"
#include "lib/proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_UPLOAD_KEYS 100

/* A search in progress (the task's state). */
typedef struct sctx {
    gwl_task *t;
    const gwl_conf *cf;
    gwl_req *r;
    gwl_arena *a;
    oks_buf *out;
    const gwl_filter *f;
    long limit;       /* entries this search may return */
    long sent;
    bool over;        /* more entries matched than limit */
    struct timespec until;
    int code;         /* the result so far (a refused filter) */
    const char *info;
    char ibuf[400];
    size_t n_lookups;     /* the plan's lookups are the task's calls, in order */
} sctx;

static bool want_attr(const void *arg, const char *name)
{
    return gwl_req_wants(arg, name);
}

/* Evaluates the filter on en and writes it when it matches. */
static void offer(sctx *s, const gwl_entry *en)
{
    if (gwl_filter_match(s->f, en) != GWL_TRUE)
        return;
    if (s->sent >= s->limit) {
        s->over = true;
        return;
    }
    gwl_ldif_entry(s->out, en, want_attr, s->r);
    s->sent++;
    atomic_fetch_add(&s->t->g->stats.entries, 1);
    gwl_metrics_entry();
}

/* ---- the fixed entries -------------------------------------------------------------------- */

static void base_entry(const gwl_conf *cf, gwl_arena *a, gwl_entry *en)
{
    gwl_entry_init(en, a, cf->base_dn);
    gwl_entry_adds(en, "objectClass", "top");
    gwl_entry_adds(en, "objectClass", "extensibleObject");
    /* the RDN's attribute and value, so the entry holds its own naming value */
    const char *eq = strchr(cf->base_dn, '='), *end = strchr(cf->base_dn, ',');
    if (eq && (!end || eq < end)) {
        size_t an = (size_t)(eq - cf->base_dn), vn = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
        char *name = gwl_strndup(a, cf->base_dn, an);
        while (an && name[an - 1] == ' ')
            name[--an] = '\0';
        gwl_entry_add(en, name, eq + 1, vn);
    }
}

static void serverinfo_entry(const gwl_conf *cf, gwl_arena *a, gwl_entry *en)
{
    gwl_entry_init(en, a, cf->serverinfo);
    gwl_entry_adds(en, "objectClass", "top");
    gwl_entry_adds(en, "objectClass", "pgpServerInfo");
    gwl_entry_adds(en, "cn", "pgpServerInfo");
    gwl_entry_adds(en, "pgpBaseKeySpaceDN", cf->keyspace);
    /* pgpSoftware names the schema's origin; dirmngr uses schema version 2 (fingerprint and
     * mailbox attributes) only when it reads "GnuPG" and a version above 1 */
    gwl_entry_adds(en, "pgpSoftware", "GnuPG");
    gwl_entry_adds(en, "pgpVersion", "2");
}

static void keyspace_entry(const gwl_conf *cf, gwl_arena *a, gwl_entry *en)
{
    gwl_entry_init(en, a, cf->keyspace);
    gwl_entry_adds(en, "objectClass", "top");
    gwl_entry_adds(en, "objectClass", "organizationalUnit");
    gwl_entry_adds(en, "ou", "GnuPG Keys");
}

/* ---- cluster calls ------------------------------------------------------------------------ */

/* The wait for one call: [ldap] deadline_ms, and no longer than the search's time limit. */
static unsigned call_wait(const gwl_task *t, const struct timespec *until)
{
    unsigned d = t->g->conf.deadline_ms;
    if (until) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left = (long long)(until->tv_sec - now.tv_sec) * 1000 +
                         (until->tv_nsec - now.tv_nsec) / 1000000;
        if (left < (long long)d)
            d = left > 1 ? (unsigned)left : 1;
    }
    return d;
}

/* Sends call i of t, with the cluster's deadline a little inside the wait. */
static void call(gwl_task *t, size_t i, Oks__Request *rq, unsigned wait_ms)
{
    unsigned d = t->g->conf.deadline_ms;
    rq->deadline_ms = d > 200 ? d - 100 : 100;
    gwl_calls_send(t->g->calls, t, i, rq, wait_ms);
}

static void lookup(gwl_task *t, size_t i, const gwl_lookup *lk, unsigned limit, unsigned wait_ms)
{
    Oks__Request rq = OKS__REQUEST__INIT;
    Oks__GetByFingerprint gf = OKS__GET_BY_FINGERPRINT__INIT;
    Oks__GetByKeyId gk = OKS__GET_BY_KEY_ID__INIT;
    Oks__Search sr = OKS__SEARCH__INIT;
    gwl_metrics_lookup(lk->kind);
    switch (lk->kind) {
    case GWL_LK_FPR:
    case GWL_LK_FPR_SUB:
        rq.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
        rq.get_fingerprint = &gf;
        gf.fingerprint = (ProtobufCBinaryData){lk->id_len, (uint8_t *)lk->id};
        gf.subkeys = lk->kind == GWL_LK_FPR_SUB;
        break;
    case GWL_LK_KEYID:
    case GWL_LK_SUBKEYID:
    case GWL_LK_SHORTID:
        rq.op_case = OKS__REQUEST__OP_GET_KEY_ID;
        rq.get_key_id = &gk;
        gk.key_id = (ProtobufCBinaryData){lk->id_len, (uint8_t *)lk->id};
        gk.primary_only = lk->kind != GWL_LK_SUBKEYID;
        break;
    case GWL_LK_EMAIL:
    case GWL_LK_WORDS:
        rq.op_case = OKS__REQUEST__OP_SEARCH;
        rq.search = &sr;
        sr.text = (char *)lk->text;
        sr.kind = lk->kind == GWL_LK_EMAIL ? OKS__SEARCH_KIND__SEARCH_EMAIL
                                           : OKS__SEARCH_KIND__SEARCH_WORDS;
        sr.limit = limit;
        break;
    }
    call(t, i, &rq, wait_ms);
}

static bool past(const struct timespec *until)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > until->tv_sec ||
           (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

/* Offers every key the plan's lookups found (their answers, in plan order) once. Returns an
 * LDAP result code; *info says why when it is not success. */
static int search_keys(sctx *s, const char **info, char *ibuf, size_t isz)
{
    size_t seen_cap = 256, n_seen = 0;
    uint8_t(*seen)[32] = gwl_alloc(s->a, seen_cap * sizeof *seen);
    int code = GWL_LDAP_SUCCESS;
    for (size_t i = 0; i < s->n_lookups; i++) {
        gwl_answer *an = &s->t->calls[i];
        if (an->rc) {
            if (an->rc == OKS_E_TIMEOUT && past(&s->until)) {
                *info = "time limit reached before every lookup was answered";
                return GWL_LDAP_TIMELIMIT;
            }
            char m[200];
            snprintf(ibuf, isz, "the key cluster did not answer: %s",
                     oks_err_format(&an->e, m, sizeof m));
            *info = ibuf;
            gwl_metrics_backend(an->rc == OKS_E_TIMEOUT ? GWL_BACKEND_TIMEOUT
                                                        : GWL_BACKEND_UNAVAILABLE);
            return an->rc == OKS_E_TIMEOUT ? GWL_LDAP_BUSY : GWL_LDAP_UNAVAILABLE;
        }
        const Oks__Response *resp = an->resp;
        if (resp->status == OKS__STATUS__STATUS_PARTIAL || resp->partial) {
            snprintf(ibuf, isz, "some shards did not answer, keys may be missing: %s",
                     resp->error);
            *info = ibuf;
            code = GWL_LDAP_UNAVAILABLE;
            gwl_metrics_backend(GWL_BACKEND_PARTIAL);
        } else if (resp->status == OKS__STATUS__STATUS_TOO_LARGE || resp->truncated) {
            snprintf(ibuf, isz, "the cluster's work bound cut the answer: %s",
                     resp->status == OKS__STATUS__STATUS_TOO_LARGE ? resp->error
                                                                   : "narrow the search");
            *info = ibuf;
            code = GWL_LDAP_ADMINLIMIT;
            gwl_metrics_backend(GWL_BACKEND_TOO_LARGE);
        } else if (resp->status == OKS__STATUS__STATUS_BAD_REQUEST) {
            snprintf(ibuf, isz, "the cluster refused the lookup: %s", resp->error);
            *info = ibuf;
            code = GWL_LDAP_UNWILLING;
            gwl_metrics_backend(GWL_BACKEND_REFUSED);
        } else if (resp->status != OKS__STATUS__STATUS_OK &&
                   resp->status != OKS__STATUS__STATUS_NOT_FOUND) {
            snprintf(ibuf, isz, "the key cluster answered %s: %s",
                     oks_proto_status_name(resp->status), resp->error);
            *info = ibuf;
            code = GWL_LDAP_OTHER;
            gwl_metrics_backend(GWL_BACKEND_OTHER);
        }
        for (size_t k = 0; k < resp->n_keys && !s->over; k++) {
            const Oks__Key *key = resp->keys[k];
            uint8_t fp[32] = {0};
            memcpy(fp, key->fingerprint.data, key->fingerprint.len < 32 ? key->fingerprint.len : 32);
            bool dup = false;
            for (size_t j = 0; j < n_seen && !dup; j++)
                dup = memcmp(seen[j], fp, 32) == 0;
            if (dup)
                continue;
            if (n_seen == seen_cap) {
                uint8_t(*more)[32] = gwl_alloc(s->a, 2 * seen_cap * sizeof *more);
                memcpy(more, seen, n_seen * sizeof *seen);
                seen = more;
                seen_cap *= 2;
            }
            memcpy(seen[n_seen++], fp, 32);
            oks_pgp_key *pk;
            oks_err pe;
            if (oks_pgp_key_parse(key->data.data, key->data.len, NULL, OKS_PGP_TRUSTED, &pk,
                                  &pe)) {
                char m[200];
                oks_warn("stored key does not parse: %s", oks_err_format(&pe, m, sizeof m));
                continue;
            }
            bool with_key = gwl_req_wants(s->r, "pgpKey") || gwl_filter_mentions(s->f, "pgpkey");
            gwl_entry en;
            gwl_entry_of_key(&en, s->a, pk, key->data.data, key->data.len, s->cf->keyspace,
                             with_key);
            offer(s, &en);
            oks_pgp_key_free(pk);
        }
        if (s->over)
            break;
    }
    return code;
}

/* Which parts of the tree a search reaches. */
enum { R_BASE = 1, R_INFO = 2, R_SPACE = 4, R_KEYS = 8 };

/* Answers what it can at once (a malformed or refused filter, the fixed entries) and sends the
 * lookups of the key space. Returns the LDAP result when the answer is complete, -1 when the
 * calls are out (search_finish then). */
static int search_start(gwl_task *t, gwl_req *r)
{
    const gwl_conf *cf = &t->g->conf;
    gwl_arena *a = &t->a;
    oks_buf *out = t->out;
    atomic_fetch_add(&t->g->stats.searches, 1);
    oks_err e;
    gwl_filter *f;
    int rc = gwl_filter_parse(r->filter, strlen(r->filter), cf->max_filter_terms, a, &f, &e);
    if (rc) {
        char m[200];
        gwl_ldif_result(out, rc == OKS_E_LIMIT ? GWL_LDAP_ADMINLIMIT : GWL_LDAP_PROTOCOL_ERROR,
                        NULL, oks_err_format(&e, m, sizeof m));
        return rc == OKS_E_LIMIT ? GWL_LDAP_ADMINLIMIT : GWL_LDAP_PROTOCOL_ERROR;
    }
    char base[512], nb[300], ni[300], nk[300];
    gwl_dn_norm(r->dn, base, sizeof base);
    gwl_dn_norm(cf->base_dn, nb, sizeof nb);
    gwl_dn_norm(cf->serverinfo, ni, sizeof ni);
    gwl_dn_norm(cf->keyspace, nk, sizeof nk);
    int reach = 0;
    bool one_key = false;
    uint8_t certid[8];
    size_t bl = strlen(base), kl = strlen(nk);
    if (strcmp(base, nb) == 0) {
        reach = r->scope == GWL_SCOPE_BASE ? R_BASE
              : r->scope == GWL_SCOPE_ONE  ? R_INFO | R_SPACE
              : r->scope == GWL_SCOPE_SUB  ? R_BASE | R_INFO | R_SPACE | R_KEYS
                                           : R_INFO | R_SPACE | R_KEYS;
    } else if (strcmp(base, ni) == 0) {
        reach = r->scope == GWL_SCOPE_BASE || r->scope == GWL_SCOPE_SUB ? R_INFO : 0;
    } else if (strcmp(base, nk) == 0) {
        reach = r->scope == GWL_SCOPE_BASE ? R_SPACE
              : r->scope == GWL_SCOPE_SUB  ? R_SPACE | R_KEYS
                                           : R_KEYS;
    } else if (bl == 10 + 16 + 1 + kl && strncmp(base, "pgpcertid=", 10) == 0 &&
               base[26] == ',' && strcmp(base + 27, nk) == 0 &&
               oks_unhex(certid, base + 10, 8) == 0) {
        one_key = true;
        reach = r->scope == GWL_SCOPE_BASE || r->scope == GWL_SCOPE_SUB ? R_KEYS : 0;
    } else {
        gwl_ldif_result(out, GWL_LDAP_NO_SUCH_OBJECT, cf->base_dn, "no such entry");
        return GWL_LDAP_NO_SUCH_OBJECT;
    }
    sctx *s = gwl_alloc(a, sizeof *s);
    *s = (sctx){.t = t, .cf = cf, .r = r, .a = a, .out = out, .f = f};
    t->state = s;
    s->limit = r->sizelimit > 0 && r->sizelimit < (long)cf->size_limit ? r->sizelimit
                                                                        : (long)cf->size_limit;
    long tl = r->timelimit > 0 && r->timelimit < (long)cf->time_limit ? r->timelimit
                                                                       : (long)cf->time_limit;
    clock_gettime(CLOCK_MONOTONIC, &s->until);
    s->until.tv_sec += tl;
    gwl_entry en;
    if (reach & R_BASE) {
        base_entry(cf, a, &en);
        offer(s, &en);
    }
    if (reach & R_INFO) {
        serverinfo_entry(cf, a, &en);
        offer(s, &en);
    }
    if (reach & R_SPACE) {
        keyspace_entry(cf, a, &en);
        offer(s, &en);
    }
    if (!(reach & R_KEYS))
        return -1; /* no calls: search_finish writes the result */
    gwl_plan plan; /* on the stack: the arena would zero all GWL_PLAN_MAX lookups */
    const char *why = NULL;
    if (one_key) {
        /* the entry named by the base: its key ID is the lookup, the filter still applies */
        plan.n = 1;
        plan.never = false;
        memset(&plan.v[0], 0, sizeof plan.v[0]);
        plan.v[0].kind = GWL_LK_KEYID;
        memcpy(plan.v[0].id, certid, 8);
        plan.v[0].id_len = 8;
        rc = 0;
    } else {
        rc = gwl_plan_keys(f, cf->max_lookups, cf->min_word_length, &plan, &why);
    }
    if (rc) {
        s->code = rc;
        snprintf(s->ibuf, sizeof s->ibuf,
                 "%s (the key space is searched by pgpCertID, pgpKeyID, pgpSubKeyID, "
                 "gpgFingerprint, gpgSubFingerprint, gpgMailbox or pgpUserID words)",
                 why ? why : "the filter is not bounded");
        s->info = s->ibuf;
        return -1;
    }
    if (plan.never)
        return -1;
    /* every lookup at once: the answers are read in plan order when all are in */
    s->n_lookups = plan.n;
    t->calls = gwl_alloc(a, plan.n * sizeof *t->calls);
    t->n_calls = plan.n;
    unsigned wait = call_wait(t, &s->until);
    for (size_t i = 0; i < plan.n; i++)
        lookup(t, i, &plan.v[i], cf->size_limit, wait);
    return -1;
}

static int search_finish(gwl_task *t)
{
    sctx *s = t->state;
    int code = s->code;
    const char *info = s->info;
    if (code == GWL_LDAP_SUCCESS && s->n_lookups)
        code = search_keys(s, &info, s->ibuf, sizeof s->ibuf);
    if (code == GWL_LDAP_SUCCESS && s->over) {
        code = GWL_LDAP_SIZELIMIT;
        info = "more entries match than the size limit";
    }
    gwl_ldif_result(s->out, code, NULL, info);
    return code;
}

/* ---- uploads ------------------------------------------------------------------------------ */

static bool key_attr_name(const char *n)
{
    return strcasecmp(n, "pgpKey") == 0 || strcasecmp(n, "pgpKeyV2") == 0;
}

/* Appends the binary keys of one pgpKey value (armored, or binary packets) to keys. */
static int value_keys(const gwl_val *v, oks_buf *bin, oks_err *e)
{
    if (!oks_armor_detect((const uint8_t *)v->p, v->n))
        return oks_buf_append(bin, v->p, v->n);
    size_t off = 0;
    int n = 0, rc;
    while ((rc = oks_armor_decode(v->p, v->n, &off, bin, e)) == 0)
        n++;
    if (rc < 0)
        return rc;
    return n ? 0 : oks_err_set(e, OKS_E_ARMOR, 0, "no public key block in pgpKey");
}

/* Checks an add or modify and sends its keys to the cluster (one call). Returns the LDAP result
 * when it is answered at once (refused), -1 when the call is out (upload_finish then). */
static int upload_start(gwl_task *t, gwl_req *r)
{
    const gwl_conf *cf = &t->g->conf;
    oks_buf *out = t->out;
    if (!cf->allow_upload) {
        gwl_ldif_result(out, GWL_LDAP_INSUFFICIENT_ACCESS, NULL,
                        "uploads over LDAP are disabled on this server ([ldap] allow_upload)");
        return GWL_LDAP_INSUFFICIENT_ACCESS;
    }
    char dn[512], nk[300];
    gwl_dn_norm(r->dn ? r->dn : "", dn, sizeof dn);
    gwl_dn_norm(cf->keyspace, nk, sizeof nk);
    size_t dl = strlen(dn), kl = strlen(nk);
    if (!(dl > kl + 1 && dn[dl - kl - 1] == ',' && strcmp(dn + dl - kl, nk) == 0 &&
          strchr(dn, ',') == dn + dl - kl - 1)) {
        gwl_ldif_result(out, GWL_LDAP_UNWILLING, cf->base_dn,
                        "keys are added as entries directly below the key space");
        return GWL_LDAP_UNWILLING;
    }
    oks_buf bin = OKS_BUF_INIT;
    oks_err e = {0};
    int rc = 0;
    bool any = false;
    for (size_t i = 0; i < r->n_items && rc == 0; i++) {
        const gwl_rattr *it = &r->items[i];
        if (!key_attr_name(it->name) || it->mod == GWL_MOD_DELETE)
            continue;
        for (size_t j = 0; j < it->n && rc == 0; j++) {
            rc = value_keys(&it->v[j], &bin, &e);
            any = true;
        }
    }
    if (rc || !any) {
        char m[200];
        const char *why = rc ? oks_err_format(&e, m, sizeof m)
                             : "an add or modify must carry the key in pgpKey";
        oks_buf_release(&bin);
        gwl_ldif_result(out, rc ? GWL_LDAP_CONSTRAINT : GWL_LDAP_UNWILLING, NULL, why);
        return rc ? GWL_LDAP_CONSTRAINT : GWL_LDAP_UNWILLING;
    }
    ProtobufCBinaryData keys[MAX_UPLOAD_KEYS];
    size_t nk2 = 0, off = 0;
    oks_slice sl;
    int sr;
    while ((sr = oks_pgp_split_next(bin.data, bin.len, &off, &sl, &e)) != 1) {
        if (sr < 0)
            continue; /* not a key: the cluster never sees it */
        if (nk2 == MAX_UPLOAD_KEYS) {
            oks_buf_release(&bin);
            gwl_ldif_result(out, GWL_LDAP_ADMINLIMIT, NULL, "more than 100 keys in one upload");
            return GWL_LDAP_ADMINLIMIT;
        }
        keys[nk2++] = (ProtobufCBinaryData){sl.len, (uint8_t *)sl.ptr};
    }
    if (nk2 == 0) {
        oks_buf_release(&bin);
        gwl_ldif_result(out, GWL_LDAP_CONSTRAINT, NULL, "pgpKey holds no public key");
        return GWL_LDAP_CONSTRAINT;
    }
    atomic_fetch_add(&t->g->stats.uploads, 1);
    Oks__Request rq = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    rq.op_case = OKS__REQUEST__OP_ADD;
    rq.add = &add;
    add.keys = keys;
    add.n_keys = nk2;
    add.origin = OKS__ORIGIN__ORIGIN_LDAP;
    t->calls = gwl_alloc(&t->a, sizeof *t->calls);
    t->n_calls = 1;
    call(t, 0, &rq, t->g->conf.deadline_ms); /* the request is packed: bin may go */
    oks_buf_release(&bin);
    return -1;
}

static int upload_finish(gwl_task *t)
{
    oks_buf *out = t->out;
    const gwl_answer *an = &t->calls[0];
    if (an->rc) {
        char m[200], info[300];
        snprintf(info, sizeof info, "the key cluster did not answer: %s",
                 oks_err_format(&an->e, m, sizeof m));
        gwl_metrics_backend(an->rc == OKS_E_TIMEOUT ? GWL_BACKEND_TIMEOUT
                                                    : GWL_BACKEND_UNAVAILABLE);
        gwl_ldif_result(out, GWL_LDAP_UNAVAILABLE, NULL, info);
        return GWL_LDAP_UNAVAILABLE;
    }
    const Oks__Response *resp = an->resp;
    size_t ok = 0;
    char info[400] = "";
    for (size_t i = 0; i < resp->n_results; i++) {
        const Oks__AddResult *ar = resp->results[i];
        static const char *const names[] = {"new", "updated", "unchanged", "rejected"};
        unsigned o = ar->outcome <= 3 ? (unsigned)ar->outcome : 3;
        ok += o != 3;
        size_t l = strlen(info);
        if (l < sizeof info - 80)
            snprintf(info + l, sizeof info - l, "%s%s%s%s", l ? "; " : "", names[o],
                     *ar->reason ? ": " : "", ar->reason);
    }
    int code = ok ? GWL_LDAP_SUCCESS
             : resp->n_results ? GWL_LDAP_CONSTRAINT
             : oks_proto_status_unavailable(resp->status) ? GWL_LDAP_UNAVAILABLE
                                                          : GWL_LDAP_OTHER;
    if (!resp->n_results)
        snprintf(info, sizeof info, "%s: %s", oks_proto_status_name(resp->status), resp->error);
    gwl_ldif_result(out, code, NULL, info);
    return code;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

void gwl_task_start(gwl_task *t, gwl *g, const char *text, size_t n, oks_buf *out)
{
    atomic_fetch_add(&g->stats.requests, 1);
    t->g = g;
    t->out = out;
    t->calls = NULL;
    t->n_calls = t->n_done = 0;
    t->state = NULL;
    t->answer = true;
    t->op = GWL_METRICS_OP_INVALID;
    t->code = -1; /* -1 until the answer is complete */
    gwl_arena_init(&t->a);
    gwl_req *r = gwl_alloc(&t->a, sizeof *r);
    oks_err e;
    int rc = gwl_req_parse(text, n, &t->a, r, &e);
    if (rc) {
        char m[200];
        t->code = rc == OKS_E_LIMIT ? GWL_LDAP_ADMINLIMIT : GWL_LDAP_PROTOCOL_ERROR;
        gwl_ldif_result(out, t->code, NULL, oks_err_format(&e, m, sizeof m));
        return;
    }
    t->op = (int)r->op;
    switch (r->op) {
    case GWL_OP_SEARCH: t->code = search_start(t, r); break;
    case GWL_OP_ADD:
    case GWL_OP_MODIFY: t->code = upload_start(t, r); break;
    case GWL_OP_UNBIND: t->answer = false; t->code = 0; break;
    case GWL_OP_BIND:
        t->code = GWL_LDAP_INVALID_CREDENTIALS;
        gwl_ldif_result(out, t->code, NULL, "the key space has no accounts");
        break;
    case GWL_OP_DELETE:
    case GWL_OP_MODRDN:
        t->code = GWL_LDAP_UNWILLING;
        gwl_ldif_result(out, t->code, NULL, "keys are never deleted or renamed over LDAP");
        break;
    default:
        t->code = GWL_LDAP_UNWILLING;
        gwl_ldif_result(out, t->code, NULL, "operation not supported by this key server");
        break;
    }
}

void gwl_task_answered(gwl_task *t, size_t i, int rc, Oks__Response *resp, const oks_err *e)
{
    gwl_answer *an = &t->calls[i];
    an->rc = rc;
    an->resp = rc ? NULL : resp;
    if (rc && e)
        an->e = *e;
    /* as oks_client_call_checked with OKS_CALL_ANSWERS: only "could not serve" is an error */
    if (!rc && resp && oks_proto_status_unavailable(resp->status)) {
        an->rc = oks_err_set(&an->e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "router: %s: %s",
                             oks_proto_status_name(resp->status), resp->error);
        oks__response__free_unpacked(resp, NULL);
        an->resp = NULL;
    }
    t->n_done++;
}

void gwl_task_finish(gwl_task *t)
{
    if (t->code < 0)
        t->code = t->op == GWL_OP_SEARCH ? search_finish(t) : upload_finish(t);
    if (t->code != GWL_LDAP_SUCCESS && t->answer)
        atomic_fetch_add(&t->g->stats.errors, 1);
    if (!t->answer)
        t->code = GWL_METRICS_NO_ANSWER;
}

void gwl_task_release(gwl_task *t)
{
    for (size_t i = 0; i < t->n_calls; i++)
        if (t->calls[i].resp)
            oks__response__free_unpacked(t->calls[i].resp, NULL);
    t->calls = NULL;
    t->n_calls = t->n_done = 0;
    t->state = NULL;
    gwl_arena_release(&t->a);
}

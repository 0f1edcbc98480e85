/*
 * The mail commands against the router: GET/INDEX/VERBOSE INDEX (one search or lookup), ADD and
 * INCREMENTAL (Add with origin MAIL), LAST (shard change logs walked backwards from their end,
 * then GetByHash), MGET (ListKeys pages over every shard, user IDs matched with the bounded
 * regex). Every walk stops at a configured count, and replies hold at most max_reply_keys keys.
 * Reply bodies are rendered from templates (templates.c): each command fills a context.
 */
#include "gw-mail/exec.h"

#include "lib/pgp.h"
#include "gw-mail/templates.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void oks_mail_exec_defaults(oks_mail_exec *x)
{
    memset(x, 0, sizeof(*x));
    x->timeout_ms = 10000;
    x->max_reply_keys = 20;
    x->max_index_keys = 100;
    x->max_add_keys = 50;
    x->max_last_days = 7;
    x->mget_scan_max = 100000;
    x->last_scan_max = 100000;
}

void oks_mail_result_release(oks_mail_result *r)
{
    oks_buf_release(&r->text);
    oks_buf_release(&r->keys);
    oks_buf_release(&r->changed);
    memset(r, 0, sizeof(*r));
}

static Oks__Response *call(oks_mail_exec *x, Oks__Request *q, oks_mail_result *res, oks_err *e)
{
    Oks__Response *r = NULL;
    q->version = OKS_PROTO_VERSION;
    if (oks_client_call(x->client, q, &r, x->timeout_ms, e) != 0) {
        res->unavailable = true;
        return NULL;
    }
    if (r->status == OKS__STATUS__STATUS_UNAVAILABLE || r->status == OKS__STATUS__STATUS_TIMEOUT ||
        r->status == OKS__STATUS__STATUS_INTERNAL || r->status == OKS__STATUS__STATUS_WRONG_SHARD) {
        oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "router: %s: %s",
                    oks_proto_status_name(r->status), r->error ? r->error : "");
        oks__response__free_unpacked(r, NULL);
        res->unavailable = true;
        return NULL;
    }
    return r;
}

/* ---- listing ----------------------------------------------------------------------------- */

static void set_date(oks_tmpl *t, const char *name, uint32_t when)
{
    time_t tt = when;
    struct tm tm;
    char d[16] = "?";
    if (gmtime_r(&tt, &tm))
        strftime(d, sizeof(d), "%Y-%m-%d", &tm);
    oks_mail_tmpl_str(t, name, d);
}

static void set_hex(oks_tmpl *t, const char *name, const uint8_t *p, size_t n)
{
    char hex[65];
    if (n > 32)
        n = 32;
    oks_hex(hex, p, n, 1);
    oks_tmpl_set(t, name, hex, 2 * n);
}

static void set_uid(oks_tmpl *t, const oks_pgp_uid *u)
{
    if (u->tag != OKS_PGP_TAG_UID) {
        oks_mail_tmpl_str(t, "uid", "[user attribute]");
        return;
    }
    char *v = malloc(u->len + 1);
    if (v == NULL)
        return;
    for (size_t i = 0; i < u->len; i++) {
        uint8_t c = u->body[i];
        v[i] = (char)((c < 0x20 || c == 0x7f) ? '?' : c);
    }
    oks_tmpl_set(t, "uid", v, u->len);
    free(v);
}

/* One stored key as a "keys" item: fpr, keyid, algo, bits, created, revoked, uids[uid,
 * sigs[issuer, created, self] when verbose], subkeys[algo, bits, keyid, created], or
 * unreadable (the parse error) when it cannot be read. */
static void key_item(oks_tmpl *ctx, const uint8_t *data, size_t len, bool verbose)
{
    oks_tmpl *kt = oks_tmpl_push(ctx, "keys");
    if (kt == NULL)
        return;
    oks_pgp_key *k;
    oks_err e;
    if (oks_pgp_key_parse(data, len, NULL, OKS_PGP_TRUSTED, &k, &e) != 0) {
        oks_mail_tmpl_str(kt, "unreadable", e.msg);
        return;
    }
    set_hex(kt, "keyid", k->primary.keyid, 8);
    set_hex(kt, "fpr", k->primary.fpr, k->primary.fpr_len);
    oks_mail_tmpl_str(kt, "algo", oks_pgp_algo_name(k->primary.algo));
    oks_mail_tmpl_num(kt, "bits", k->primary.bits);
    set_date(kt, "created", k->primary.created);
    oks_mail_tmpl_flag(kt, "revoked", oks_pgp_key_revoked(k));
    for (size_t i = 0; i < k->n_uids; i++) {
        oks_tmpl *ut = oks_tmpl_push(kt, "uids");
        if (ut == NULL)
            break;
        set_uid(ut, &k->uids[i]);
        for (size_t j = 0; verbose && j < k->uids[i].sigs.n; j++) {
            const oks_pgp_sig *s = &k->uids[i].sigs.v[j];
            oks_tmpl *st = oks_tmpl_push(ut, "sigs");
            if (st == NULL)
                break;
            if (s->has_issuer)
                set_hex(st, "issuer", s->issuer, 8);
            else
                oks_mail_tmpl_str(st, "issuer", "????????????????");
            set_date(st, "created", s->created);
            oks_mail_tmpl_flag(st, "self",
                               s->has_issuer && memcmp(s->issuer, k->primary.keyid, 8) == 0);
        }
    }
    for (size_t i = 0; i < k->n_subkeys; i++) {
        oks_tmpl *st = oks_tmpl_push(kt, "subkeys");
        if (st == NULL)
            break;
        set_hex(st, "keyid", k->subkeys[i].key.keyid, 8);
        oks_mail_tmpl_str(st, "algo", oks_pgp_algo_name(k->subkeys[i].key.algo));
        oks_mail_tmpl_num(st, "bits", k->subkeys[i].key.bits);
        set_date(st, "created", k->subkeys[i].key.created);
    }
    oks_pgp_key_free(k);
}

/* count, found (count > 0) and plural (count != 1) */
static void set_count(oks_tmpl *ctx, size_t n)
{
    oks_mail_tmpl_num(ctx, "count", n);
    oks_mail_tmpl_flag(ctx, "found", n > 0);
    oks_mail_tmpl_flag(ctx, "plural", n != 1);
}

/* A "keys" item with just the fingerprint (GET, MGET, LAST list what they attach). */
static void key_fpr_item(oks_tmpl *ctx, const Oks__Key *k)
{
    oks_tmpl *kt = oks_tmpl_push(ctx, "keys");
    if (kt && k->fingerprint.len)
        set_hex(kt, "fpr", k->fingerprint.data, k->fingerprint.len);
}

/* ---- search argument --------------------------------------------------------------------- */

typedef struct lookup {
    Oks__Request q;
    Oks__GetByFingerprint gf;
    Oks__GetByKeyId gk;
    Oks__Search s;
    uint8_t id[32];
} lookup;

static void build_lookup(lookup *l, const char *arg, unsigned limit)
{
    Oks__Request q0 = OKS__REQUEST__INIT;
    Oks__GetByFingerprint gf0 = OKS__GET_BY_FINGERPRINT__INIT;
    Oks__GetByKeyId gk0 = OKS__GET_BY_KEY_ID__INIT;
    Oks__Search s0 = OKS__SEARCH__INIT;
    l->q = q0, l->gf = gf0, l->gk = gk0, l->s = s0;
    const char *h = arg;
    if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
        h += 2;
    char hex[65];
    size_t n = 0;
    bool allhex = true;
    for (const char *p = h; *p; p++) {
        if (*p == ' ')
            continue;
        if (!isxdigit((unsigned char)*p) || n == 64) {
            allhex = false;
            break;
        }
        hex[n++] = *p;
    }
    hex[n] = '\0';
    bool prefixed = h != arg;
    if (allhex && (n == 40 || n == 64) && oks_unhex(l->id, hex, n / 2) == 0) {
        l->q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
        l->q.get_fingerprint = &l->gf;
        l->gf.fingerprint = (ProtobufCBinaryData){n / 2, l->id};
        l->gf.subkeys = 1;
        return;
    }
    if (allhex && prefixed && (n == 8 || n == 16) && oks_unhex(l->id, hex, n / 2) == 0) {
        l->q.op_case = OKS__REQUEST__OP_GET_KEY_ID;
        l->q.get_key_id = &l->gk;
        l->gk.key_id = (ProtobufCBinaryData){n / 2, l->id};
        return;
    }
    l->q.op_case = OKS__REQUEST__OP_SEARCH;
    l->q.search = &l->s;
    l->s.limit = limit;
    const char *at = strchr(arg, '@');
    if (at && strchr(arg, ' ') == NULL) {
        l->s.kind = OKS__SEARCH_KIND__SEARCH_EMAIL;
        l->s.text = (char *)arg;
    } else {
        l->s.kind = OKS__SEARCH_KIND__SEARCH_WORDS;
        l->s.text = (char *)arg;
    }
}

/* An e-mail argument may be written <addr>: the brackets are dropped. */
static void strip_brackets(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

static void append_keys_armored(oks_mail_result *res, Oks__Key **keys, size_t n)
{
    oks_buf all = OKS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        oks_buf_append(&all, keys[i]->data.data, keys[i]->data.len);
    if (all.len)
        oks_armor_encode(all.data, all.len, &res->keys);
    oks_buf_release(&all);
}

static int do_lookup(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                     oks_tmpl *ctx, enum oks_mail_tmpl_id *tid, oks_err *e)
{
    char arg[sizeof(cmd->arg)];
    memcpy(arg, cmd->arg, sizeof(arg));
    strip_brackets(arg);
    bool get = cmd->kind == OKS_MAIL_CMD_GET;
    unsigned limit = get ? x->max_reply_keys : x->max_index_keys;
    lookup l;
    build_lookup(&l, arg, limit);
    Oks__Response *r = call(x, &l.q, res, e);
    if (r == NULL)
        return OKS_E_UNAVAILABLE;
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_PARTIAL &&
        r->status != OKS__STATUS__STATUS_NOT_FOUND) {
        oks_tmpl_setf(ctx, "message", "The search \"%s\" failed: %s.", arg,
                      r->error && *r->error ? r->error : oks_proto_status_name(r->status));
        *tid = OKS_MAIL_T_FAILED;
        snprintf(res->subject, sizeof(res->subject), "Your command, %s %s, failed",
                 oks_mail_cmd_name(cmd->kind), cmd->arg);
        oks__response__free_unpacked(r, NULL);
        return 0;
    }
    size_t n = r->n_keys;
    if (n > limit)
        n = limit;
    *tid = get ? OKS_MAIL_T_GET : OKS_MAIL_T_INDEX;
    oks_mail_tmpl_str(ctx, "search", arg);
    set_count(ctx, n);
    oks_mail_tmpl_flag(ctx, "verbose", cmd->kind == OKS_MAIL_CMD_VINDEX);
    if (get)
        append_keys_armored(res, r->keys, n);
    for (size_t i = 0; i < n; i++) {
        if (get)
            key_fpr_item(ctx, r->keys[i]);
        else
            key_item(ctx, r->keys[i]->data.data, r->keys[i]->data.len,
                     cmd->kind == OKS_MAIL_CMD_VINDEX);
    }
    size_t total = r->total > r->n_keys ? r->total : r->n_keys;
    if (total > n)
        oks_mail_tmpl_num(ctx, "more", total - n);
    oks_mail_tmpl_flag(ctx, "partial", r->status == OKS__STATUS__STATUS_PARTIAL);
    oks__response__free_unpacked(r, NULL);
    return 0;
}

/* ---- ADD --------------------------------------------------------------------------------- */

static int push_key(oks_buf **keys, size_t *n, const uint8_t *p, size_t len)
{
    oks_buf *nk = realloc(*keys, (*n + 1) * sizeof(*nk));
    if (nk == NULL)
        return OKS_E_NOMEM;
    *keys = nk;
    oks_buf_init(&nk[*n]);
    if (oks_buf_append(&nk[*n], p, len) != 0)
        return OKS_E_NOMEM;
    (*n)++;
    return 0;
}

static void split_binary(const uint8_t *p, size_t len, size_t max, oks_buf **keys, size_t *n,
                         size_t *skipped)
{
    size_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        oks_slice k;
        oks_err e;
        int r = oks_pgp_split_next(p, len, &off, &k, &e);
        if (r == 1)
            break;
        if (r != 0) {
            (*skipped)++;
            if (off >= len)
                break;
            continue;
        }
        if (*n >= max || push_key(keys, n, k.ptr, k.len) != 0)
            (*skipped)++;
    }
}

static void collect_armored(const char *text, size_t len, size_t max, oks_buf **keys, size_t *n,
                            size_t *skipped)
{
    size_t off = 0;
    for (int guard = 0; guard < 1000; guard++) {
        oks_buf bin = OKS_BUF_INIT;
        oks_err e;
        size_t before = off;
        int r = oks_armor_decode(text, len, &off, &bin, &e);
        if (r == 1) {
            oks_buf_release(&bin);
            break;
        }
        if (r != 0)
            (*skipped)++;
        else
            split_binary(bin.data, bin.len, max, keys, n, skipped);
        oks_buf_release(&bin);
        if (off <= before)
            break;
    }
}

size_t oks_mail_collect_keys(const oks_mail_msg *msg, size_t max, oks_buf **keys,
                             size_t *skipped)
{
    size_t n = 0;
    *keys = NULL;
    *skipped = 0;
    if (msg->text.len)
        collect_armored((const char *)msg->text.data, msg->text.len, max, keys, &n, skipped);
    for (size_t i = 0; i < msg->n_attachments; i++) {
        const oks_buf *a = &msg->attachments[i];
        if (oks_armor_detect(a->data, a->len))
            collect_armored((const char *)a->data, a->len, max, keys, &n, skipped);
        else
            split_binary(a->data, a->len, max, keys, &n, skipped);
    }
    *skipped += msg->attachments_dropped;
    return n;
}

static const char *outcome_text[] = {"new", "updated", "unchanged", "rejected"};

static int do_add(oks_mail_exec *x, const oks_mail_msg *msg, oks_mail_result *res,
                  oks_tmpl *ctx, oks_err *e)
{
    oks_buf *keys;
    size_t skipped;
    size_t n = oks_mail_collect_keys(msg, x->max_add_keys, &keys, &skipped);
    int rc = 0;
    set_count(ctx, n);
    if (skipped) {
        oks_mail_tmpl_num(ctx, "skipped", skipped);
        oks_mail_tmpl_flag(ctx, "skipped_plural", skipped != 1);
    }
    oks_mail_tmpl_num(ctx, "max_add_keys", x->max_add_keys);
    if (n == 0) {
        snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, failed",
                 msg->subject ? msg->subject : "ADD");
        goto done;
    }
    ProtobufCBinaryData *bd = calloc(n, sizeof(*bd));
    if (bd == NULL) {
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        bd[i] = (ProtobufCBinaryData){keys[i].len, keys[i].data};
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = bd;
    add.n_keys = n;
    add.origin = OKS__ORIGIN__ORIGIN_MAIL;
    Oks__Response *r = call(x, &q, res, e);
    free(bd);
    if (r == NULL) {
        rc = OKS_E_UNAVAILABLE;
        goto done;
    }
    for (size_t i = 0; i < r->n_results; i++) {
        Oks__AddResult *ar = r->results[i];
        char fpr[65] = "(unknown key)";
        if (ar->fingerprint.len && ar->fingerprint.len <= 32)
            oks_hex(fpr, ar->fingerprint.data, ar->fingerprint.len, 1);
        unsigned o = ar->outcome <= 3 ? (unsigned)ar->outcome : 3;
        oks_tmpl *it = oks_tmpl_push(ctx, "results");
        if (it) {
            oks_mail_tmpl_str(it, "fpr", fpr);
            oks_mail_tmpl_str(it, "outcome", outcome_text[o]);
            oks_mail_tmpl_str(it, "reason", ar->reason);
        }
        if ((o == 0 || o == 1) && ar->index < n) {
            oks_buf_append(&res->changed, keys[ar->index].data, keys[ar->index].len);
            res->n_changed++;
        }
    }
    if (r->status != OKS__STATUS__STATUS_OK)
        oks_tmpl_setf(ctx, "cluster_error", "%s %s", oks_proto_status_name(r->status),
                      r->error ? r->error : "");
    oks__response__free_unpacked(r, NULL);
done:
    for (size_t i = 0; i < n; i++)
        oks_buf_release(&keys[i]);
    free(keys);
    return rc;
}

/* ---- LAST -------------------------------------------------------------------------------- */

static int do_last(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                   oks_tmpl *ctx, oks_err *e)
{
    long days = strtol(cmd->arg, NULL, 10);
    uint64_t cutoff = (uint64_t)time(NULL) - (uint64_t)days * 86400u;
    ProtobufCBinaryData *hashes = calloc(x->max_reply_keys + 1, sizeof(*hashes));
    uint8_t (*hbuf)[16] = calloc(x->max_reply_keys + 1, 16);
    size_t nh = 0, scanned = 0;
    bool more = false;
    int rc = 0;
    if (hashes == NULL || hbuf == NULL) {
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < x->n_shards && !more; s++) {
        uint64_t hi = UINT64_MAX;
        const uint32_t page = 1000;
        for (;;) {
            Oks__Request q = OKS__REQUEST__INIT;
            Oks__ChangeLog cl = OKS__CHANGE_LOG__INIT;
            q.op_case = OKS__REQUEST__OP_CHANGES;
            q.changes = &cl;
            cl.shard = x->shards[s];
            cl.limit = hi == UINT64_MAX ? 1 : page;
            cl.after_seq = hi == UINT64_MAX ? UINT64_MAX - 1 : (hi > page ? hi - page : 0);
            Oks__Response *r = call(x, &q, res, e);
            if (r == NULL) {
                rc = OKS_E_UNAVAILABLE;
                goto out;
            }
            if (hi == UINT64_MAX) { /* first call only learns the end of the log */
                hi = r->last_seq;
                oks__response__free_unpacked(r, NULL);
                continue;
            }
            bool older = false;
            for (size_t i = r->n_changes; i-- > 0;) {
                Oks__Change *c = r->changes[i];
                if (c->seq > hi)
                    continue;
                scanned++;
                if (c->time < cutoff) {
                    older = true;
                    break;
                }
                if (c->new_hash.len != 16)
                    continue;
                bool dup = false;
                for (size_t k = 0; k < nh && !dup; k++)
                    dup = memcmp(hbuf[k], c->new_hash.data, 16) == 0;
                if (dup)
                    continue;
                if (nh >= x->max_reply_keys) {
                    more = true;
                    break;
                }
                memcpy(hbuf[nh], c->new_hash.data, 16);
                hashes[nh] = (ProtobufCBinaryData){16, hbuf[nh]};
                nh++;
            }
            uint64_t lo = cl.after_seq;
            oks__response__free_unpacked(r, NULL);
            if (older || more || lo == 0 || scanned >= x->last_scan_max)
                break;
            hi = lo;
        }
    }
    snprintf(res->subject, sizeof(res->subject), "Your command, LAST %s", cmd->arg);
    oks_mail_tmpl_num(ctx, "days", (unsigned long long)days);
    oks_mail_tmpl_num(ctx, "max_reply_keys", x->max_reply_keys);
    set_count(ctx, 0);
    if (nh == 0)
        goto out;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    q.op_case = OKS__REQUEST__OP_GET_HASH;
    q.get_hash = &gh;
    gh.hashes = hashes;
    gh.n_hashes = nh;
    Oks__Response *r = call(x, &q, res, e);
    if (r == NULL) {
        rc = OKS_E_UNAVAILABLE;
        goto out;
    }
    set_count(ctx, r->n_keys);
    oks_mail_tmpl_flag(ctx, "more", more);
    for (size_t i = 0; i < r->n_keys; i++)
        key_fpr_item(ctx, r->keys[i]);
    append_keys_armored(res, r->keys, r->n_keys);
    oks__response__free_unpacked(r, NULL);
out:
    free(hashes);
    free(hbuf);
    return rc;
}

/* ---- MGET -------------------------------------------------------------------------------- */

static bool key_matches(const oks_mail_regex *rx, const uint8_t *data, size_t len)
{
    oks_pgp_key *k;
    oks_err e;
    if (oks_pgp_key_parse(data, len, NULL, OKS_PGP_TRUSTED, &k, &e) != 0)
        return false;
    bool m = false;
    for (size_t i = 0; i < k->n_uids && !m; i++)
        if (k->uids[i].tag == OKS_PGP_TAG_UID)
            m = oks_mail_regex_match(rx, k->uids[i].body, k->uids[i].len);
    oks_pgp_key_free(k);
    return m;
}

static int do_mget(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                   oks_tmpl *ctx, enum oks_mail_tmpl_id *tid, oks_err *e)
{
    oks_mail_regex rx;
    oks_err re;
    snprintf(res->subject, sizeof(res->subject), "Your command, MGET %s", cmd->arg);
    if (oks_mail_regex_compile(&rx, cmd->arg, &re) != 0) {
        oks_tmpl_setf(ctx, "message", "MGET: %s", re.msg);
        *tid = OKS_MAIL_T_FAILED;
        snprintf(res->subject, sizeof(res->subject), "Your command, MGET %s, failed", cmd->arg);
        return 0;
    }
    oks_buf all = OKS_BUF_INIT;
    size_t found = 0, scanned = 0;
    bool more = false, cut = false;
    int rc = 0;
    for (size_t s = 0; s < x->n_shards && !more && !cut; s++) {
        uint8_t after[32];
        size_t after_len = 0;
        for (;;) {
            Oks__Request q = OKS__REQUEST__INIT;
            Oks__ListKeys lk = OKS__LIST_KEYS__INIT;
            q.op_case = OKS__REQUEST__OP_LIST;
            q.list = &lk;
            lk.shard = x->shards[s];
            lk.after = (ProtobufCBinaryData){after_len, after};
            lk.limit = 500;
            Oks__Response *r = call(x, &q, res, e);
            if (r == NULL) {
                rc = OKS_E_UNAVAILABLE;
                goto out;
            }
            size_t n = r->n_keys;
            for (size_t i = 0; i < n && !more; i++) {
                Oks__Key *k = r->keys[i];
                scanned++;
                if (key_matches(&rx, k->data.data, k->data.len)) {
                    if (found >= x->max_reply_keys)
                        more = true;
                    else {
                        oks_buf_append(&all, k->data.data, k->data.len);
                        key_fpr_item(ctx, k);
                        found++;
                    }
                }
            }
            if (n && r->keys[n - 1]->fingerprint.len <= 32) {
                after_len = r->keys[n - 1]->fingerprint.len;
                memcpy(after, r->keys[n - 1]->fingerprint.data, after_len);
            }
            oks__response__free_unpacked(r, NULL);
            if (scanned >= x->mget_scan_max) {
                cut = true;
                break;
            }
            if (n < 500 || more)
                break;
        }
    }
    oks_mail_tmpl_str(ctx, "pattern", cmd->arg);
    set_count(ctx, found);
    oks_mail_tmpl_flag(ctx, "more", more);
    oks_mail_tmpl_flag(ctx, "cut", cut);
    oks_mail_tmpl_num(ctx, "max_reply_keys", x->max_reply_keys);
    oks_mail_tmpl_num(ctx, "mget_scan_max", x->mget_scan_max);
    if (found)
        oks_armor_encode(all.data, all.len, &res->keys);
out:
    oks_buf_release(&all);
    oks_mail_regex_release(&rx);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int oks_mail_exec_run(oks_mail_exec *x, const oks_mail_msg *msg, const oks_mail_cmd *cmd,
                      oks_mail_result *res, oks_err *e)
{
    memset(res, 0, sizeof(*res));
    const char *subj = msg->subject ? msg->subject : "";
    snprintf(res->subject, sizeof(res->subject), "Your command, %.500s", subj);
    oks_tmpl *ctx = oks_tmpl_new();
    if (ctx == NULL)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    oks_mail_tmpl_str(ctx, "help", x->help_text ? x->help_text : "");
    oks_mail_tmpl_str(ctx, "subject", subj);
    oks_mail_tmpl_str(ctx, "command", oks_mail_cmd_name(cmd->kind));
    oks_mail_tmpl_str(ctx, "arg", cmd->arg);
    oks_mail_tmpl_str(ctx, "server_name", x->server_name);
    oks_mail_tmpl_str(ctx, "server_address", x->server_address);
    enum oks_mail_tmpl_id tid = OKS_MAIL_T_HELP;
    int rc = 0;
    if (cmd->kind == OKS_MAIL_CMD_NONE || cmd->kind == OKS_MAIL_CMD_UNKNOWN || cmd->error[0]) {
        tid = OKS_MAIL_T_INVALID;
        if (cmd->kind == OKS_MAIL_CMD_NONE)
            oks_mail_tmpl_flag(ctx, "no_command", 1);
        else if (cmd->error[0])
            oks_mail_tmpl_str(ctx, "error", cmd->error);
        else
            oks_tmpl_setf(ctx, "unknown", "%.500s", subj);
        snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, was invalid", subj);
    } else if (cmd->kind == OKS_MAIL_CMD_HELP) {
        tid = OKS_MAIL_T_HELP;
    } else if (cmd->kind == OKS_MAIL_CMD_ADD || cmd->kind == OKS_MAIL_CMD_INCREMENTAL) {
        tid = OKS_MAIL_T_ADD;
        rc = do_add(x, msg, res, ctx, e);
    } else if (cmd->kind == OKS_MAIL_CMD_LAST) {
        if (x->max_last_days == 0) {
            tid = OKS_MAIL_T_FAILED;
            oks_mail_tmpl_str(ctx, "message", "LAST is disabled on this server.");
            snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, failed", subj);
        } else {
            tid = OKS_MAIL_T_LAST;
            rc = do_last(x, cmd, res, ctx, e);
        }
    } else if (cmd->kind == OKS_MAIL_CMD_MGET) {
        tid = OKS_MAIL_T_MGET;
        rc = do_mget(x, cmd, res, ctx, &tid, e);
    } else {
        rc = do_lookup(x, cmd, res, ctx, &tid, e);
    }
    if (rc == 0)
        rc = oks_mail_tmpl_render(x->templates, tid, ctx, &res->text, e);
    oks_tmpl_free(ctx);
    if (rc == 0 && oks_buf_terminate(&res->text) != 0)
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (rc == 0 && res->keys.len)
        rc = oks_buf_terminate(&res->keys);
    return rc;
}

/*
 * The mail commands against the router: GET/INDEX/VERBOSE INDEX (one search or lookup), ADD and
 * INCREMENTAL (Add with origin MAIL), LAST (shard change logs walked backwards from their end,
 * then GetByHash), MGET (ListKeys pages over every shard, user IDs matched with the bounded
 * regex). Every walk stops at a configured count, and replies hold at most max_reply_keys keys.
 */
#include "gw-mail/exec.h"

#include "lib/pgp.h"

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

static void put_date(oks_buf *b, uint32_t t)
{
    time_t tt = t;
    struct tm tm;
    char d[16] = "?";
    if (gmtime_r(&tt, &tm))
        strftime(d, sizeof(d), "%Y-%m-%d", &tm);
    oks_buf_printf(b, "%s", d);
}

static void put_uid(oks_buf *b, const oks_pgp_uid *u)
{
    if (u->tag != OKS_PGP_TAG_UID) {
        oks_buf_printf(b, "[user attribute]");
        return;
    }
    for (size_t i = 0; i < u->len; i++) {
        uint8_t c = u->body[i];
        oks_buf_putc(b, (c < 0x20 || c == 0x7f) ? '?' : c);
    }
}

static void list_key(oks_buf *b, const uint8_t *data, size_t len, bool verbose)
{
    oks_pgp_key *k;
    oks_err e;
    if (oks_pgp_key_parse(data, len, NULL, OKS_PGP_TRUSTED, &k, &e) != 0) {
        oks_buf_printf(b, "(a stored key could not be read: %s)\n", e.msg);
        return;
    }
    char kid[17], fpr[65];
    oks_hex(kid, k->primary.keyid, 8, 1);
    oks_hex(fpr, k->primary.fpr, k->primary.fpr_len, 1);
    oks_buf_printf(b, "pub  %s%u/0x%s ", oks_pgp_algo_name(k->primary.algo), k->primary.bits, kid);
    put_date(b, k->primary.created);
    if (oks_pgp_key_revoked(k))
        oks_buf_printf(b, " [revoked]");
    oks_buf_printf(b, "\n     Fingerprint=%s\n", fpr);
    for (size_t i = 0; i < k->n_uids; i++) {
        oks_buf_printf(b, "uid  ");
        put_uid(b, &k->uids[i]);
        oks_buf_putc(b, '\n');
        for (size_t j = 0; verbose && j < k->uids[i].sigs.n; j++) {
            const oks_pgp_sig *s = &k->uids[i].sigs.v[j];
            char iss[17] = "????????????????";
            if (s->has_issuer)
                oks_hex(iss, s->issuer, 8, 1);
            oks_buf_printf(b, "sig  0x%s ", iss);
            put_date(b, s->created);
            oks_buf_printf(b, " %s\n", memcmp(s->issuer, k->primary.keyid, 8) == 0 && s->has_issuer
                                           ? "(self)"
                                           : "");
        }
    }
    for (size_t i = 0; i < k->n_subkeys; i++) {
        oks_hex(kid, k->subkeys[i].key.keyid, 8, 1);
        oks_buf_printf(b, "sub  %s%u/0x%s ", oks_pgp_algo_name(k->subkeys[i].key.algo),
                       k->subkeys[i].key.bits, kid);
        put_date(b, k->subkeys[i].key.created);
        oks_buf_putc(b, '\n');
    }
    oks_buf_putc(b, '\n');
    oks_pgp_key_free(k);
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
                     oks_err *e)
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
        oks_buf_printf(&res->text, "The search \"%s\" failed: %s.\n", arg,
                       r->error && *r->error ? r->error : oks_proto_status_name(r->status));
        snprintf(res->subject, sizeof(res->subject), "Your command, %s %s, failed",
                 oks_mail_cmd_name(cmd->kind), cmd->arg);
        oks__response__free_unpacked(r, NULL);
        return 0;
    }
    size_t n = r->n_keys;
    if (n > limit)
        n = limit;
    if (n == 0) {
        oks_buf_printf(&res->text, "No keys match \"%s\".\n", arg);
    } else if (get) {
        oks_buf_printf(&res->text, "%zu key%s matching \"%s\" %s attached.\n", n,
                       n == 1 ? "" : "s", arg, n == 1 ? "is" : "are");
        append_keys_armored(res, r->keys, n);
    } else {
        oks_buf_printf(&res->text, "%zu key%s matching \"%s\":\n\n", n, n == 1 ? "" : "s", arg);
        for (size_t i = 0; i < n; i++)
            list_key(&res->text, r->keys[i]->data.data, r->keys[i]->data.len,
                     cmd->kind == OKS_MAIL_CMD_VINDEX);
    }
    size_t total = r->total > r->n_keys ? r->total : r->n_keys;
    if (total > n)
        oks_buf_printf(&res->text, "(%zu more keys match; at most %zu are returned per mail.)\n",
                       total - n, n);
    if (r->status == OKS__STATUS__STATUS_PARTIAL)
        oks_buf_printf(&res->text, "(Some servers did not answer; results may be incomplete.)\n");
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
        if (memmem(a->data, a->len, "-----BEGIN PGP", 14))
            collect_armored((const char *)a->data, a->len, max, keys, &n, skipped);
        else
            split_binary(a->data, a->len, max, keys, &n, skipped);
    }
    *skipped += msg->attachments_dropped;
    return n;
}

static const char *outcome_text[] = {"new", "updated", "unchanged", "rejected"};

static int do_add(oks_mail_exec *x, const oks_mail_msg *msg, const oks_mail_cmd *cmd,
                  oks_mail_result *res, oks_err *e)
{
    oks_buf *keys;
    size_t skipped;
    size_t n = oks_mail_collect_keys(msg, x->max_add_keys, &keys, &skipped);
    int rc = 0;
    if (n == 0) {
        oks_buf_printf(&res->text, "No public keys were found in your mail.%s\n",
                       skipped ? " Some key blocks could not be read." : "");
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
    oks_buf_printf(&res->text, "%zu key%s processed:\n\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_results; i++) {
        Oks__AddResult *ar = r->results[i];
        char fpr[65] = "(unknown key)";
        if (ar->fingerprint.len && ar->fingerprint.len <= 32)
            oks_hex(fpr, ar->fingerprint.data, ar->fingerprint.len, 1);
        unsigned o = ar->outcome <= 3 ? (unsigned)ar->outcome : 3;
        oks_buf_printf(&res->text, "%s %s%s%s\n", fpr, outcome_text[o],
                       ar->reason && *ar->reason ? ": " : "", ar->reason ? ar->reason : "");
        if ((o == 0 || o == 1) && ar->index < n) {
            oks_buf_append(&res->changed, keys[ar->index].data, keys[ar->index].len);
            res->n_changed++;
        }
    }
    if (r->status != OKS__STATUS__STATUS_OK)
        oks_buf_printf(&res->text, "\nThe cluster reported: %s %s\n",
                       oks_proto_status_name(r->status), r->error ? r->error : "");
    oks__response__free_unpacked(r, NULL);
    if (skipped)
        oks_buf_printf(&res->text,
                       "\n%zu key block%s could not be read or were over the limit of %u keys "
                       "per mail.\n",
                       skipped, skipped == 1 ? "" : "s", x->max_add_keys);
    (void)cmd;
done:
    for (size_t i = 0; i < n; i++)
        oks_buf_release(&keys[i]);
    free(keys);
    return rc;
}

/* ---- LAST -------------------------------------------------------------------------------- */

static int do_last(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res, oks_err *e)
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
    if (nh == 0) {
        oks_buf_printf(&res->text, "No keys were added or changed in the last %ld days.\n", days);
        goto out;
    }
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
    oks_buf_printf(&res->text, "%zu key%s added or changed in the last %ld days %s attached.\n",
                   r->n_keys, r->n_keys == 1 ? "" : "s", days, r->n_keys == 1 ? "is" : "are");
    if (more)
        oks_buf_printf(&res->text, "(More keys changed; at most %u are returned per mail.)\n",
                       x->max_reply_keys);
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

static int do_mget(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res, oks_err *e)
{
    oks_mail_regex rx;
    oks_err re;
    snprintf(res->subject, sizeof(res->subject), "Your command, MGET %s", cmd->arg);
    if (oks_mail_regex_compile(&rx, cmd->arg, &re) != 0) {
        oks_buf_printf(&res->text, "MGET: %s\n", re.msg);
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
    if (found == 0)
        oks_buf_printf(&res->text, "No user IDs match the expression \"%s\".\n", cmd->arg);
    else {
        oks_buf_printf(&res->text, "%zu key%s with a user ID matching \"%s\" %s attached.\n",
                       found, found == 1 ? "" : "s", cmd->arg, found == 1 ? "is" : "are");
        oks_armor_encode(all.data, all.len, &res->keys);
    }
    if (more)
        oks_buf_printf(&res->text, "(More keys match; at most %u are returned per mail.)\n",
                       x->max_reply_keys);
    if (cut)
        oks_buf_printf(&res->text, "(Only the first %u keys were searched.)\n", x->mget_scan_max);
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
    int rc = 0;
    if (cmd->kind == OKS_MAIL_CMD_NONE || cmd->kind == OKS_MAIL_CMD_UNKNOWN || cmd->error[0]) {
        if (cmd->kind == OKS_MAIL_CMD_NONE)
            oks_buf_printf(&res->text, "Your mail had no command in its Subject line.\n\n");
        else if (cmd->error[0])
            oks_buf_printf(&res->text, "Your command could not be run: %s.\n\n", cmd->error);
        else
            oks_buf_printf(&res->text, "\"%.500s\" is not a command this server knows.\n\n",
                           subj);
        snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, was invalid", subj);
        oks_buf_printf(&res->text, "%s", x->help_text ? x->help_text : "");
    } else if (cmd->kind == OKS_MAIL_CMD_HELP) {
        oks_buf_printf(&res->text, "%s", x->help_text ? x->help_text : "");
    } else if (cmd->kind == OKS_MAIL_CMD_ADD || cmd->kind == OKS_MAIL_CMD_INCREMENTAL) {
        rc = do_add(x, msg, cmd, res, e);
    } else if (cmd->kind == OKS_MAIL_CMD_LAST) {
        if (x->max_last_days == 0) {
            oks_buf_printf(&res->text, "LAST is disabled on this server.\n");
            snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, failed", subj);
        } else
            rc = do_last(x, cmd, res, e);
    } else if (cmd->kind == OKS_MAIL_CMD_MGET) {
        rc = do_mget(x, cmd, res, e);
    } else {
        rc = do_lookup(x, cmd, res, e);
    }
    if (rc == 0 && oks_buf_terminate(&res->text) != 0)
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (rc == 0 && res->keys.len)
        rc = oks_buf_terminate(&res->keys);
    return rc;
}

/*
 * GET, INDEX and VERBOSE INDEX (see cmd.h): the argument becomes one GetByFingerprint,
 * GetByKeyId or Search; GET attaches the keys found (at most max_reply_keys), INDEX lists them
 * (at most max_index_keys), VERBOSE INDEX with their user ID signatures.
 */
#include "gw-mail/cmd.h"
#include "lib/keyctx.h"
#include "lib/xalloc.h"

#include "lib/pgp.h"
#include "gw-mail/templates.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void set_uid(oks_tmpl *t, const oks_pgp_uid *u)
{
    if (u->tag != OKS_PGP_TAG_UID) {
        oks_mail_tmpl_str(t, "uid", "[user attribute]");
        return;
    }
    char *v = oks_xmalloc(u->len + 1);
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
    oks_keyctx_hex(kt, "keyid", k->primary.keyid, 8);
    oks_keyctx_hex(kt, "fpr", k->primary.fpr, k->primary.fpr_len);
    oks_mail_tmpl_str(kt, "algo", oks_pgp_algo_name(k->primary.algo));
    oks_mail_tmpl_num(kt, "bits", k->primary.bits);
    oks_keyctx_date(kt, "created", k->primary.created);
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
                oks_keyctx_hex(st, "issuer", s->issuer, 8);
            else
                oks_mail_tmpl_str(st, "issuer", "????????????????");
            oks_keyctx_date(st, "created", s->created);
            oks_mail_tmpl_flag(st, "self",
                               s->has_issuer && memcmp(s->issuer, k->primary.keyid, 8) == 0);
        }
    }
    for (size_t i = 0; i < k->n_subkeys; i++) {
        oks_tmpl *st = oks_tmpl_push(kt, "subkeys");
        if (st == NULL)
            break;
        oks_keyctx_hex(st, "keyid", k->subkeys[i].key.keyid, 8);
        oks_mail_tmpl_str(st, "algo", oks_pgp_algo_name(k->subkeys[i].key.algo));
        oks_mail_tmpl_num(st, "bits", k->subkeys[i].key.bits);
        oks_keyctx_date(st, "created", k->subkeys[i].key.created);
    }
    oks_pgp_key_free(k);
}

/* ---- search argument --------------------------------------------------------------------- */

void oks_mail_lookup_build(oks_mail_lookup *l, const char *arg, unsigned limit)
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

/* ---- the command ------------------------------------------------------------------------ */

int oks_mail_run_get(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                     oks_tmpl *ctx, enum oks_mail_tmpl_id *tid, oks_err *e)
{
    char arg[sizeof(cmd->arg)];
    memcpy(arg, cmd->arg, sizeof(arg));
    strip_brackets(arg);
    bool get = cmd->kind == OKS_MAIL_CMD_GET;
    unsigned limit = get ? x->max_reply_keys : x->max_index_keys;
    oks_mail_lookup l;
    oks_mail_lookup_build(&l, arg, limit);
    Oks__Response *r = oks_mail_call(x, &l.q, res, e);
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
    oks_mail_set_count(ctx, n);
    oks_mail_tmpl_flag(ctx, "verbose", cmd->kind == OKS_MAIL_CMD_VINDEX);
    if (get)
        oks_mail_append_keys_armored(x, res, r->keys, n);
    for (size_t i = 0; i < n; i++) {
        if (get)
            oks_mail_key_fpr_item(ctx, r->keys[i]);
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

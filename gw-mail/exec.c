/*
 * The mail commands' core: exec.c picks the command of a mail, runs it (one file per command,
 * see cmd.h) and renders the reply from its template (templates.c): every command fills a
 * template context. It also holds what the commands share: the router call, which turns "the
 * cluster could not answer" into res->unavailable (the mail is kept and retried), and the
 * "keys" items and armored key blocks of the replies. Every walk over the cluster stops at a
 * configured count, and replies hold at most max_reply_keys keys.
 */
#include "gw-mail/cmd.h"
#include "lib/keyctx.h"

#include "lib/pgp.h"
#include "gw-mail/templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    x->scan_budget = UINT64_MAX;
    x->reply_bytes_max = UINT64_MAX;
}

void oks_mail_result_release(oks_mail_result *r)
{
    oks_buf_release(&r->text);
    oks_buf_release(&r->keys);
    oks_buf_release(&r->changed);
    memset(r, 0, sizeof(*r));
}

Oks__Response *oks_mail_call(oks_mail_exec *x, Oks__Request *q, oks_mail_result *res,
                             oks_err *e)
{
    Oks__Response *r = NULL;
    if (oks_client_call_checked(x->client, q, &r, x->timeout_ms, OKS_CALL_ANSWERS, e) != 0) {
        res->unavailable = true;
        return NULL;
    }
    return r;
}

/* ---- what the replies share --------------------------------------------------------------- */

void oks_mail_set_count(oks_tmpl *ctx, size_t n)
{
    oks_mail_tmpl_num(ctx, "count", n);
    oks_mail_tmpl_flag(ctx, "found", n > 0);
    oks_mail_tmpl_flag(ctx, "plural", n != 1);
}

void oks_mail_key_fpr_item(oks_tmpl *ctx, const Oks__Key *k)
{
    oks_tmpl *kt = oks_tmpl_push(ctx, "keys");
    if (kt && k->fingerprint.len)
        oks_keyctx_hex(kt, "fpr", k->fingerprint.data, k->fingerprint.len);
}

uint64_t oks_mail_armored_size(uint64_t binary)
{
    /* base64 (4/3) in lines of 64 plus CRLF, CRC line, BEGIN/END lines */
    uint64_t b64 = (binary + 2) / 3 * 4;
    return b64 + b64 / 64 * 2 + 128;
}

void oks_mail_armor_into(oks_mail_exec *x, oks_mail_result *res, const oks_buf *binary)
{
    if (binary->len == 0)
        return;
    uint64_t size = oks_mail_armored_size(binary->len);
    if (size > x->reply_bytes_max)
        res->withheld = size; /* never armored: the reply becomes a notice */
    else
        oks_armor_encode(binary->data, binary->len, &res->keys);
}

void oks_mail_append_keys_armored(oks_mail_exec *x, oks_mail_result *res, Oks__Key **keys,
                                  size_t n)
{
    oks_buf all = OKS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        oks_buf_append(&all, keys[i]->data.data, keys[i]->data.len);
    oks_mail_armor_into(x, res, &all);
    oks_buf_release(&all);
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
        rc = oks_mail_run_add(x, msg, res, ctx, e);
    } else if (cmd->kind == OKS_MAIL_CMD_LAST) {
        if (x->max_last_days == 0) {
            tid = OKS_MAIL_T_FAILED;
            oks_mail_tmpl_str(ctx, "message", "LAST is disabled on this server.");
            snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, failed", subj);
        } else {
            tid = OKS_MAIL_T_LAST;
            rc = oks_mail_run_last(x, cmd, res, ctx, e);
        }
    } else if (cmd->kind == OKS_MAIL_CMD_MGET) {
        tid = OKS_MAIL_T_MGET;
        rc = oks_mail_run_mget(x, cmd, res, ctx, &tid, e);
    } else {
        rc = oks_mail_run_get(x, cmd, res, ctx, &tid, e);
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

/*
 * POP3 polling and SMTP replies with libetpan (all blocking, in the gateway's single thread).
 *
 * Per mail: RETR -> header parse -> already answered? -> policy -> rate limits (charged before
 * any work) -> try count -> body parse (ADD, INCREMENTAL) -> command via the router -> SMTP reply
 * -> answered record; every delete_batch mails: one synced write of the store, then their DELEs.
 * A mail whose command fails is kept and the poll goes on with the next one; its tries are
 * counted in the store and after max_tries it is answered with an error and deleted.
 * One SMTP session serves the whole poll; both connections run with TCP_NODELAY. A mail is deleted only when its reply was accepted by the
 * SMTP server, or when no reply is due (ignored, rate limited, permanently undeliverable). When
 * the cluster or SMTP fails, the session ends without deleting that mail, QUIT commits the
 * deletions made so far, and the loop backs off. PKS incrementals from sync sites are added
 * without a reply; keys that changed are forwarded to the other sync sites (X-KeyServer-Sent).
 */
#include "gw-mail/poller.h"
#include "gw-mail/metrics.h"
#include "lib/xalloc.h"

#include "lib/log.h"
#include "lib/pgp.h"

#include <libetpan/libetpan.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

/* Turns Nagle's algorithm off on a libetpan connection: a message's last small write (the
 * ".\r\n" after the body) otherwise waits for the server's delayed ACK, ~40 ms per reply. */
static void no_delay(mailstream *st)
{
    mailstream_low *low = st ? mailstream_get_low(st) : NULL;
    int fd = low ? mailstream_low_get_fd(low) : -1, one = 1;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

typedef struct smtp_conn {
    mailsmtp *s;
    bool failed; /* a temporary failure happened in this session */
} smtp_conn;

static void smtp_close(smtp_conn *c)
{
    if (c->s) {
        mailsmtp_quit(c->s);
        mailsmtp_free(c->s);
        c->s = NULL;
    }
}

static int smtp_open(const oks_mail_conf *cf, smtp_conn *c, oks_err *e)
{
    if (c->s)
        return 0;
    c->s = mailsmtp_new(0, NULL);
    if (c->s == NULL)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    mailsmtp_set_timeout(c->s, cf->io_timeout_s);
    const char *step = "connect";
    int r = cf->smtp_tls == OKS_MAIL_TLS_IMPLICIT
                ? mailsmtp_ssl_connect(c->s, cf->smtp_host, (uint16_t)cf->smtp_port)
                : mailsmtp_socket_connect(c->s, cf->smtp_host, (uint16_t)cf->smtp_port);
    if (r == MAILSMTP_NO_ERROR) {
        no_delay(c->s->stream);
        step = "EHLO";
        r = mailesmtp_ehlo(c->s);
        if (r == MAILSMTP_ERROR_NOT_IMPLEMENTED)
            r = mailsmtp_helo(c->s);
    }
    if (r == MAILSMTP_NO_ERROR && cf->smtp_tls == OKS_MAIL_TLS_STARTTLS) {
        /* configured STARTTLS is required: never fall back to plain text */
        step = "STARTTLS";
        r = (c->s->esmtp & MAILSMTP_ESMTP_STARTTLS) ? mailsmtp_socket_starttls(c->s)
                                                     : MAILSMTP_ERROR_STARTTLS_NOT_SUPPORTED;
        if (r == MAILSMTP_NO_ERROR)
            r = mailesmtp_ehlo(c->s);
    }
    if (r == MAILSMTP_NO_ERROR && cf->smtp_user[0]) {
        step = "AUTH";
        r = mailsmtp_auth(c->s, cf->smtp_user, cf->smtp_password);
    }
    if (r != MAILSMTP_NO_ERROR) {
        oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "SMTP %s:%u %s: %s (%d %s)",
                    cf->smtp_host, cf->smtp_port, step, mailsmtp_strerror(r),
                    c->s->response_code, c->s->response ? c->s->response : "");
        mailsmtp_free(c->s);
        c->s = NULL;
        return OKS_E_UNAVAILABLE;
    }
    return 0;
}

/* Sends one mail. Returns 0 (accepted), OKS_E_FORMAT (permanently refused: 5xx for the
 * recipient) or OKS_E_UNAVAILABLE (try later). */
static int smtp_send(const oks_mail_conf *cf, smtp_conn *c, const char *to, const oks_buf *m,
                     oks_err *e)
{
    int r = smtp_open(cf, c, e);
    if (r != 0)
        return r;
    r = mailsmtp_mail(c->s, cf->address);
    if (r == MAILSMTP_NO_ERROR)
        r = mailsmtp_rcpt(c->s, to);
    if (r == MAILSMTP_NO_ERROR)
        r = mailsmtp_data(c->s);
    if (r == MAILSMTP_NO_ERROR)
        r = mailsmtp_data_message(c->s, (const char *)m->data, m->len);
    if (r == MAILSMTP_NO_ERROR)
        return 0;
    int code = c->s->response_code;
    oks_err_set(e, code >= 500 ? OKS_E_FORMAT : OKS_E_UNAVAILABLE, OKS_NO_OFFSET,
                "SMTP to %s: %d %s", to, code, mailsmtp_strerror(r));
    if (code >= 500 && code < 600) {
        mailsmtp_reset(c->s);
        return OKS_E_FORMAT;
    }
    smtp_close(c);
    return OKS_E_UNAVAILABLE;
}

static void make_msgid(const oks_mail_conf *cf, char *out, size_t size)
{
    static unsigned seq;
    const char *dom = strchr(cf->address, '@');
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, size, "oks.%lld.%09ld.%d.%u@%s", (long long)ts.tv_sec, ts.tv_nsec, (int)getpid(),
             ++seq, dom ? dom + 1 : "localhost");
}

/* Forwards keys that changed to every sync site not yet in the X-KeyServer-Sent list. */
static int send_incrementals(oks_mail_poller *p, smtp_conn *sc, const oks_mail_msg *msg,
                             const oks_buf *changed, size_t n_keys, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    if (cf->n_sync_sites == 0 || changed->len == 0)
        return 0;
    size_t nv = msg ? msg->n_ks_sent : 0;
    const char **names = oks_xcalloc(nv + 2, sizeof(*names));
    const char **values = oks_xcalloc(nv + 2, sizeof(*values));
    oks_buf armored = OKS_BUF_INIT, mail = OKS_BUF_INIT, text = OKS_BUF_INIT;
    oks_tmpl *ctx = oks_tmpl_new();
    int rc = 0;
    if (!names || !values || !ctx || oks_armor_encode(changed->data, changed->len, &armored) != 0) {
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        goto out;
    }
    oks_mail_tmpl_num(ctx, "count", n_keys);
    oks_mail_tmpl_str(ctx, "server_name", cf->name);
    oks_mail_tmpl_str(ctx, "server_address", cf->address);
    if ((rc = oks_mail_tmpl_render(p->exec->templates, OKS_MAIL_T_INCREMENTAL, ctx, &text, e)) ||
        (rc = oks_buf_terminate(&text)))
        goto out;
    size_t n = 0;
    bool self = false;
    names[n] = "Precedence", values[n++] = "list";
    for (size_t i = 0; i < nv; i++) {
        names[n] = "X-KeyServer-Sent", values[n++] = msg->ks_sent[i];
        self |= oks_mail_addr_eq(msg->ks_sent[i], cf->address);
    }
    if (!self)
        names[n] = "X-KeyServer-Sent", values[n++] = cf->address;
    for (size_t s = 0; s < cf->n_sync_sites; s++) {
        bool seen = false;
        for (size_t i = 0; i < nv && !seen; i++)
            seen = oks_mail_addr_eq(msg->ks_sent[i], cf->sync_sites[s]);
        if (seen || (msg && oks_mail_addr_eq(msg->from, cf->sync_sites[s])))
            continue;
        char mid[256];
        make_msgid(cf, mid, sizeof(mid));
        oks_mail_reply r = {.from = cf->address, .from_name = cf->name[0] ? cf->name : NULL,
                            .to = cf->sync_sites[s], .subject = "incremental",
                            .message_id = mid, .text = (const char *)text.data,
                            .keys = (const char *)armored.data, .keys_len = armored.len,
                            .extra_names = names, .extra_values = values, .n_extra = n};
        mail.len = 0;
        rc = oks_mail_reply_build(&r, &mail, e);
        if (rc == 0)
            rc = smtp_send(cf, sc, cf->sync_sites[s], &mail, e);
        if (rc == OKS_E_UNAVAILABLE)
            goto out;
        if (rc != 0)
            oks_warn("incremental to %s not sent: %s", cf->sync_sites[s], e->msg);
        else
            oks_info("incremental with %zu bytes of keys sent to %s", changed->len,
                     cf->sync_sites[s]);
        rc = 0;
    }
out:
    free(names);
    free(values);
    oks_tmpl_free(ctx);
    oks_buf_release(&armored);
    oks_buf_release(&mail);
    oks_buf_release(&text);
    return rc;
}

/* What became of a mail: deleted (answered, or no answer due); kept because the mail system
 * failed (the poll stops and backs off); or kept for a later try of this mail (the poll goes on
 * with the next mail; a second such mail in a row stops it like an outage). */
enum outcome { DELETE, KEEP, RETRY };

static const char *id_of(const oks_mail_msg *msg)
{
    return msg->message_id ? msg->message_id : "(no id)";
}

/* The "failed" template with message, into text (NUL-terminated). */
static int failed_text(oks_mail_poller *p, const char *message, oks_buf *text, oks_err *e)
{
    oks_tmpl *ctx = oks_tmpl_new();
    int rc = ctx ? 0 : oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (rc == 0) {
        oks_mail_tmpl_str(ctx, "message", message);
        oks_mail_tmpl_str(ctx, "server_name", p->conf->name);
        oks_mail_tmpl_str(ctx, "server_address", p->conf->address);
        rc = oks_mail_tmpl_render(p->exec->templates, OKS_MAIL_T_FAILED, ctx, text, e);
    }
    if (rc == 0)
        rc = oks_buf_terminate(text);
    oks_tmpl_free(ctx);
    return rc;
}

static int build(oks_mail_poller *p, const oks_mail_msg *msg, const char *to, const char *subject,
                 const char *text, const oks_buf *keys, oks_buf *out, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    char mid[256];
    make_msgid(cf, mid, sizeof(mid));
    oks_mail_reply r = {.from = cf->address, .from_name = cf->name[0] ? cf->name : NULL,
                        .to = to, .subject = subject, .in_reply_to = msg->message_id,
                        .references = msg->references, .message_id = mid, .text = text,
                        .keys = keys && keys->len ? (const char *)keys->data : NULL,
                        .keys_len = keys ? keys->len : 0, .auto_replied = true};
    out->len = 0;
    return oks_mail_reply_build(&r, out, e);
}

/* The largest reply to the reply address of msg now: unauth_reply_bytes when the receiving mail
 * system did not authenticate it, and what its mailbox and domain may still receive. */
static uint64_t reply_cap(oks_mail_poller *p, const oks_mail_msg *msg, int64_t now)
{
    const oks_mail_conf *cf = p->conf;
    uint64_t cap = oks_mail_rate_bytes_left(p->rate, oks_mail_reply_address(msg), now);
    if (cf->unauth_reply_bytes && cf->unauth_reply_bytes < cap &&
        !oks_mail_reply_authenticated(msg, cf->auth_serv_id, NULL))
        cap = cf->unauth_reply_bytes;
    return cap;
}

/* Replaces the reply in out by a short "failed" notice when it is too large for its recipient:
 * over unauth_reply_bytes to an address the receiving mail system did not authenticate, or
 * over what the recipient's mailbox or domain may still receive in this hour. withheld: bytes
 * of keys the command already left out as too large (exec's reply_bytes_max). Returns false
 * when not even the notice may be sent. */
static bool fit_reply(oks_mail_poller *p, const oks_mail_msg *msg, const char *to, oks_buf *out,
                      uint64_t withheld, int64_t now, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    const char *how;
    char note[600];
    note[0] = '\0';
    bool auth = oks_mail_reply_authenticated(msg, cf->auth_serv_id, &how);
    size_t size = out->len + (size_t)withheld;
    if (!auth && cf->unauth_reply_bytes && size > cf->unauth_reply_bytes)
        snprintf(note, sizeof(note),
                 "The answer is %zu bytes. This server sends at most %zu bytes to an address "
                 "that its mail system did not authenticate (%s). Send the command from an "
                 "address whose domain passes DMARC, DKIM or SPF, or fetch the keys over HKP.",
                 size, cf->unauth_reply_bytes, how);
    else if (withheld || !oks_mail_rate_bytes_fit(p->rate, to, size, now))
        snprintf(note, sizeof(note),
                 "The answer is %zu bytes, more than this server still sends to your address "
                 "or domain within the hour. Try again later, or fetch the keys over HKP.",
                 size);
    if (note[0] == '\0')
        return true;
    oks_info("mail %s: reply of %zu bytes to %s replaced by a notice (%s)", id_of(msg), size,
             to, auth ? "byte budget" : "unauthenticated address");
    char subj[600];
    snprintf(subj, sizeof(subj), "Your command, %.500s, failed", msg->subject ? msg->subject : "");
    oks_buf text = OKS_BUF_INIT;
    bool ok = failed_text(p, note, &text, e) == 0 &&
              build(p, msg, to, subj, (const char *)text.data, NULL, out, e) == 0 &&
              oks_mail_rate_bytes_fit(p->rate, to, out->len, now);
    oks_buf_release(&text);
    return ok;
}

static enum outcome reply(oks_mail_poller *p, smtp_conn *sc, const oks_mail_msg *msg,
                          const char *subject, const char *text, const oks_buf *keys,
                          uint64_t withheld, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    const char *to = oks_mail_reply_address(msg);
    if (!oks_mail_addr_valid(to)) {
        oks_warn("mail %s: reply address not usable, deleted without reply", id_of(msg));
        return DELETE;
    }
    int64_t now = (int64_t)time(NULL);
    oks_buf out = OKS_BUF_INIT;
    int rc = build(p, msg, to, subject, text, keys, &out, e);
    if (rc == 0 && !fit_reply(p, msg, to, &out, withheld, now, e)) {
        oks_warn("mail %s: no reply fits the byte budget of %s, deleted without reply",
                 id_of(msg), to);
        oks_buf_release(&out);
        return DELETE;
    }
    if (rc == 0)
        rc = smtp_send(cf, sc, to, &out, e);
    size_t sent = out.len;
    oks_buf_release(&out);
    if (rc == OKS_E_UNAVAILABLE) {
        sc->failed = true;
        oks_warn("mail %s: reply not sent, kept for the next poll: %s", id_of(msg), e->msg);
        return KEEP;
    }
    if (rc != 0) {
        oks_warn("mail %s: reply to %s refused, deleted: %s", id_of(msg), to, e->msg);
        return DELETE;
    }
    oks_mail_rate_charge_bytes(p->rate, to, sent, now);
    oks_err we;
    if (oks_mail_answered_put(p->answered, msg, now, &we) != 0)
        oks_error("answered record not written: %s", we.msg);
    p->replies++;
    oks_mail_metrics_reply(sent);
    oks_info("mail %s from %s: replied \"%s\" (%zu bytes)", id_of(msg), to, subject, sent);
    if (cf->crash_after_replies && p->replies >= cf->crash_after_replies) {
        oks_warn("exiting after %u replies, before deleting (test hook)", p->replies);
        _exit(3);
    }
    return DELETE;
}

/* A "failed" reply with message (the mail is answered but its command not run). */
static enum outcome reply_failed(oks_mail_poller *p, smtp_conn *sc, const oks_mail_msg *msg,
                                 const char *message, oks_err *e)
{
    char subj[600];
    snprintf(subj, sizeof(subj), "Your command, %.500s, failed", msg->subject ? msg->subject : "");
    oks_buf text = OKS_BUF_INIT;
    enum outcome out = KEEP;
    if (failed_text(p, message, &text, e) == 0)
        out = reply(p, sc, msg, subj, (const char *)text.data, NULL, 0, e);
    else
        oks_warn("mail %s: error reply not rendered, kept: %s", id_of(msg), e->msg);
    oks_buf_release(&text);
    return out;
}

static enum outcome reply_toobig(oks_mail_poller *p, smtp_conn *sc, const oks_mail_msg *msg,
                                 size_t full_size, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    char subj[600];
    snprintf(subj, sizeof(subj), "Your command, %.500s, failed", msg->subject ? msg->subject : "");
    oks_buf text = OKS_BUF_INIT;
    oks_tmpl *ctx = oks_tmpl_new();
    enum outcome out = KEEP;
    if (ctx == NULL || oks_mail_tmpl_num(ctx, "size", full_size) ||
        oks_mail_tmpl_num(ctx, "limit", cf->limits.max_message_bytes) ||
        oks_mail_tmpl_str(ctx, "subject", msg->subject) ||
        oks_mail_tmpl_str(ctx, "server_name", cf->name) ||
        oks_mail_tmpl_str(ctx, "server_address", cf->address) ||
        oks_mail_tmpl_render(p->exec->templates, OKS_MAIL_T_TOOBIG, ctx, &text, e) ||
        oks_buf_terminate(&text))
        oks_warn("mail %s: over the size limit; reply not rendered, kept", id_of(msg));
    else
        out = reply(p, sc, msg, subj, (const char *)text.data, NULL, 0, e);
    oks_tmpl_free(ctx);
    oks_buf_release(&text);
    return out;
}

/* Runs an admitted mail (try already counted): body parse when the command needs it, the
 * command within the requester's scan budget, the reply or the incrementals. */
static enum outcome run(oks_mail_poller *p, smtp_conn *sc, const char *raw, size_t len,
                        oks_mail_msg *msg, const oks_mail_cmd *cmd, enum oks_mail_verdict v,
                        unsigned tries, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    const char *id = id_of(msg), *to = oks_mail_reply_address(msg);
    int64_t now = (int64_t)time(NULL);
    if (cmd->kind == OKS_MAIL_CMD_ADD || cmd->kind == OKS_MAIL_CMD_INCREMENTAL) {
        int r = oks_mail_parse_body(raw, len, &cf->limits, msg, e);
        if (r != 0) {
            oks_warn("mail %s: body not processed: %s", id, e->msg);
            if (v != OKS_MAIL_ANSWER)
                return DELETE;
            char m[400];
            snprintf(m, sizeof(m), "Your mail was not processed: %s.", e->msg);
            return reply_failed(p, sc, msg, m, e);
        }
    }
    p->exec->scan_budget = v == OKS_MAIL_ANSWER ? oks_mail_rate_scan_left(p->rate, to, now)
                                                : UINT64_MAX;
    p->exec->reply_bytes_max = v == OKS_MAIL_ANSWER ? reply_cap(p, msg, now) : UINT64_MAX;
    oks_mail_result res;
    int r = oks_mail_exec_run(p->exec, msg, cmd, &res, e);
    if (v == OKS_MAIL_ANSWER && res.scanned)
        oks_mail_rate_charge_scan(p->rate, to, res.scanned, now);
    enum outcome out = DELETE;
    if (r != 0 || res.unavailable) {
        oks_warn("mail %s kept for a later try (%u of %u): %s%s", id, tries, cf->max_tries,
                 r == OKS_E_UNAVAILABLE || res.unavailable ? "cluster unavailable: " : "",
                 e->msg);
        out = RETRY;
    } else if (v == OKS_MAIL_SYNC) {
        oks_info("incremental %s from %s: %zu keys new or changed", id, msg->from,
                 res.n_changed);
        if (send_incrementals(p, sc, msg, &res.changed, res.n_changed, e) != 0) {
            sc->failed = true;
            out = KEEP;
        }
    } else {
        out = reply(p, sc, msg, res.subject, (const char *)res.text.data, &res.keys,
                    res.withheld, e);
        if (out == DELETE && cmd->kind == OKS_MAIL_CMD_ADD && res.n_changed)
            (void)send_incrementals(p, sc, msg, &res.changed, res.n_changed, e);
    }
    oks_mail_result_release(&res);
    return out;
}

/* Handles one mail's bytes (the whole mail, or only its header when it is over the limit). The
 * decisions that may leave the mail unanswered (answered before, policy, rate limits) are made
 * from the header alone, before any body is parsed or command run. */
static enum outcome handle(oks_mail_poller *p, smtp_conn *sc, const char *raw, size_t len,
                           size_t full_size, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    oks_mail_msg msg;
    oks_mail_cmd cmd;
    enum outcome out = DELETE;
    int kind = -1; /* metrics: the command, once the header parsed */
    int64_t now = (int64_t)time(NULL);
    if (oks_mail_parse_head(raw, len, &cf->limits, &msg, e) != 0) {
        oks_warn("mail of %zu bytes: header not parsable, deleted: %s", full_size, e->msg);
        goto done;
    }
    const char *id = id_of(&msg);
    if (oks_mail_answered_has(p->answered, &msg)) {
        oks_info("mail %s was answered before: deleted without a second reply", id);
        goto done;
    }
    oks_mail_cmd_parse(msg.subject, p->exec->max_last_days ? p->exec->max_last_days : 1, &cmd);
    kind = (int)cmd.kind;
    const char *const *sites = (const char *const *)cf->sync_sites;
    oks_mail_policy pol = {cf->address, sites, cf->n_sync_sites};
    const char *why;
    enum oks_mail_verdict v = oks_mail_decide(&msg, &cmd, &pol, &why);
    if (v == OKS_MAIL_IGNORE) {
        oks_info("mail %s from %s ignored: %s", id, msg.from ? msg.from : "(none)", why);
        goto done;
    }
    const char *to = oks_mail_reply_address(&msg);
    if (v == OKS_MAIL_ANSWER) {
        if (!oks_mail_addr_valid(to)) {
            oks_warn("mail %s: reply address not usable, deleted without reply", id);
            goto done;
        }
        bool scan = !cmd.error[0] &&
                    (cmd.kind == OKS_MAIL_CMD_MGET || cmd.kind == OKS_MAIL_CMD_LAST);
        const char *refused = oks_mail_rate_admit(p->rate, to, scan, now);
        if (refused) {
            oks_warn("mail %s for %s: %s, deleted without running it", id, to, refused);
            oks_mail_metrics_rate_limited();
            goto done;
        }
    }
    unsigned tries = oks_mail_answered_try_begin(p->answered, &msg, now);
    if (cf->max_tries && tries > cf->max_tries) {
        oks_warn("mail %s failed %u times: set aside with an error reply", id, tries - 1);
        if (v == OKS_MAIL_ANSWER) {
            char m[300];
            snprintf(m, sizeof(m), "This server tried %u times to run your command and could "
                     "not (the key server cluster did not answer it). The mail was removed; "
                     "please try again later.", tries - 1);
            out = reply_failed(p, sc, &msg, m, e);
        }
    } else if (full_size > cf->limits.max_message_bytes) {
        if (v == OKS_MAIL_ANSWER)
            out = reply_toobig(p, sc, &msg, full_size, e);
        else
            oks_warn("incremental %s of %zu bytes over the limit, deleted", id, full_size);
    } else {
        out = run(p, sc, raw, len, &msg, &cmd, v, tries, e);
    }
    if (out == KEEP) { /* the mail system failed, not the mail: neither try nor mail counts */
        oks_mail_answered_try_undo(p->answered, &msg, now);
        if (v == OKS_MAIL_ANSWER)
            oks_mail_rate_refund(p->rate, to, now);
    }
done:
    oks_mail_metrics_mail(kind, out == RETRY  ? OKS_MAIL_METRICS_RETRY
                                : out == KEEP ? OKS_MAIL_METRICS_KEPT
                                              : OKS_MAIL_METRICS_DELETED);
    oks_mail_msg_release(&msg);
    return out;
}

static int pop_connect(const oks_mail_conf *cf, mailpop3 **out, oks_err *e)
{
    mailpop3 *f = mailpop3_new(0, NULL);
    if (f == NULL)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    mailpop3_set_timeout(f, cf->io_timeout_s);
    int r;
    if (cf->pop3_tls == OKS_MAIL_TLS_IMPLICIT)
        r = mailpop3_ssl_connect(f, cf->pop3_host, (uint16_t)cf->pop3_port);
    else {
        r = mailpop3_socket_connect(f, cf->pop3_host, (uint16_t)cf->pop3_port);
        if (r == MAILPOP3_NO_ERROR && cf->pop3_tls == OKS_MAIL_TLS_STARTTLS)
            r = mailpop3_socket_starttls(f);
    }
    if (r == MAILPOP3_NO_ERROR) {
        no_delay(f->pop3_stream);
        r = mailpop3_login(f, cf->user, cf->password);
    }
    if (r != MAILPOP3_NO_ERROR) {
        oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "POP3 %s:%u as %s: error %d %s",
                    cf->pop3_host, cf->pop3_port, cf->user, r,
                    f->pop3_response ? f->pop3_response : "");
        mailpop3_free(f);
        return OKS_E_UNAVAILABLE;
    }
    *out = f;
    return 0;
}

/* Makes the answered records of the mails handled so far durable (one synced write for the
 * batch; each record already reached the store's log when its reply was accepted, so a dying
 * process loses none), then marks those mails deleted (DELE; the QUIT at the end of the session
 * commits). A failed sync deletes nothing: the mails are seen again and, found in the store,
 * deleted then without a second reply. */
static int flush_deletes(oks_mail_poller *p, mailpop3 *f, unsigned *pending, size_t *np,
                         oks_err *e)
{
    if (*np == 0)
        return 0;
    if (oks_mail_answered_sync(p->answered, e) != 0) {
        oks_error("%s: %zu handled mails kept in the mailbox", e->msg, *np);
        p->kept += *np;
        *np = 0;
        return OKS_E_UNAVAILABLE;
    }
    for (size_t i = 0; i < *np; i++) {
        int r = mailpop3_dele(f, pending[i]);
        if (r != MAILPOP3_NO_ERROR) {
            *np = 0;
            return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "POP3 DELE: error %d", r);
        }
        p->deleted++;
    }
    *np = 0;
    return 0;
}

int oks_mail_poll_once(oks_mail_poller *p, oks_err *e)
{
    const oks_mail_conf *cf = p->conf;
    mailpop3 *f = NULL;
    p->polls++;
    int rc = pop_connect(cf, &f, e);
    if (rc != 0)
        return rc;
    carray *msgs = NULL;
    int r = mailpop3_list(f, &msgs);
    if (r != MAILPOP3_NO_ERROR) {
        mailpop3_free(f);
        return oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "POP3 LIST: error %d", r);
    }
    smtp_conn sc = {NULL, false};
    unsigned n = carray_count(msgs), done = 0, retries = 0;
    oks_mail_metrics_backlog(n);
    unsigned batch = p->conf->delete_batch ? p->conf->delete_batch : 1;
    unsigned *pending = oks_xcalloc(batch, sizeof(*pending));
    size_t np = 0;
    if (pending == NULL) {
        mailpop3_free(f);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    }
    for (unsigned i = 0; i < n && done < cf->max_mails_per_poll && !*p->stop; i++) {
        struct mailpop3_msg_info *mi = carray_get(msgs, i);
        if (mi == NULL || mi->msg_deleted)
            continue;
        char *buf = NULL;
        size_t len = 0;
        bool oversize = mi->msg_size > cf->limits.max_message_bytes;
        r = oversize ? mailpop3_header(f, mi->msg_index, &buf, &len)
                     : mailpop3_retr(f, mi->msg_index, &buf, &len);
        if (r != MAILPOP3_NO_ERROR) {
            rc = oks_err_set(e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "POP3 fetch of %u: error %d",
                             mi->msg_index, r);
            break;
        }
        p->fetched++;
        done++;
        enum outcome o = handle(p, &sc, buf, len, oversize ? mi->msg_size : len, e);
        if (oversize)
            mailpop3_header_free(buf);
        else
            mailpop3_retr_free(buf);
        if (o == DELETE) {
            retries = 0;
            pending[np++] = mi->msg_index;
            if (np == batch && (rc = flush_deletes(p, f, pending, &np, e)) != 0)
                break;
        } else if (o == RETRY && ++retries < 2) {
            p->kept++; /* this mail alone failed so far: go on with the next */
        } else {
            p->kept++;
            rc = OKS_E_UNAVAILABLE; /* cluster or SMTP trouble: stop here, back off */
            break;
        }
    }
    oks_err fe;
    if (flush_deletes(p, f, pending, &np, &fe) != 0 && rc == 0) {
        rc = OKS_E_UNAVAILABLE;
        *e = fe;
    }
    free(pending);
    smtp_close(&sc);
    mailpop3_quit(f); /* commits the DELEs */
    mailpop3_free(f);
    return rc;
}

void oks_mail_poll_loop(oks_mail_poller *p)
{
    unsigned backoff = 0;
    time_t last_expire = 0;
    while (!*p->stop) {
        oks_err e;
        oks_err_clear(&e);
        time_t now = time(NULL);
        if (now - last_expire >= 3600) {
            size_t n = oks_mail_answered_expire(p->answered, now);
            if (n)
                oks_info("answered store: %zu expired entries removed", n);
            last_expire = now;
        }
        int r = oks_mail_poll_once(p, &e);
        oks_mail_metrics_poll(r == 0);
        unsigned wait = p->conf->poll_seconds;
        if (r != 0) {
            backoff = backoff ? backoff * 2 : 1;
            if (backoff > p->conf->backoff_max_s)
                backoff = p->conf->backoff_max_s;
            wait = backoff;
            oks_warn("poll failed, retry in %u s: %s", wait, e.msg);
        } else {
            backoff = 0;
        }
        for (unsigned s = 0; s < wait * 10 && !*p->stop; s++) {
            if (p->reload && atomic_exchange(p->reload, 0) && p->on_reload)
                p->on_reload(p);
            usleep(100000);
        }
    }
}

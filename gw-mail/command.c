/*
 * What a mail asks for and whether it may be answered: the Subject command (PKS words, with a
 * word boundary that pksd's prefix match lacked), the reply policy (bounces, auto-replies,
 * bulk mail, our own address, sync sites) and the bounded MGET matcher (rate limits: rate.c).
 *
 * MGET uses glibc's POSIX regcomp/regexec rather than an own engine: without back-references
 * glibc simulates the automaton over state sets (no exponential backtracking), so with the
 * pattern capped at 128 bytes, bounded repetition counts and each user ID cut to 1 KiB the work
 * per user ID is bounded; back-references, the one feature that backtracks, are refused.
 */
#include "gw-mail/mail.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *word;
    enum oks_mail_cmd_kind kind;
} commands[] = {
    {"HELP", OKS_MAIL_CMD_HELP},       {"ADD", OKS_MAIL_CMD_ADD},
    {"INCREMENTAL", OKS_MAIL_CMD_INCREMENTAL}, {"INDEX", OKS_MAIL_CMD_INDEX},
    {"VERBOSE INDEX", OKS_MAIL_CMD_VINDEX},    {"GET", OKS_MAIL_CMD_GET},
    {"MGET", OKS_MAIL_CMD_MGET},       {"LAST", OKS_MAIL_CMD_LAST},
};

const char *oks_mail_cmd_name(enum oks_mail_cmd_kind k)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].kind == k)
            return commands[i].word;
    return k == OKS_MAIL_CMD_NONE ? "(none)" : "(unknown)";
}

static bool is_sp(char c)
{
    return c == ' ' || c == '\t';
}

/* Matches word (which may hold single spaces, matched by runs of blanks) at s, ending at a
 * word boundary. Returns the length consumed or 0. */
static size_t match_word(const char *s, const char *word)
{
    size_t i = 0;
    for (const char *w = word; *w; w++) {
        if (*w == ' ') {
            if (!is_sp(s[i]))
                return 0;
            while (is_sp(s[i]))
                i++;
            continue;
        }
        if (toupper((unsigned char)s[i]) != *w)
            return 0;
        i++;
    }
    return (s[i] == '\0' || is_sp(s[i])) ? i : 0;
}

void oks_mail_cmd_parse(const char *subject, unsigned max_last_days, oks_mail_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    if (subject == NULL) {
        cmd->kind = OKS_MAIL_CMD_NONE;
        return;
    }
    const char *s = subject;
    while (is_sp(*s))
        s++;
    if (*s == '\0') {
        cmd->kind = OKS_MAIL_CMD_NONE;
        return;
    }
    cmd->kind = OKS_MAIL_CMD_UNKNOWN;
    size_t used = 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        size_t n = match_word(s, commands[i].word);
        if (n) {
            cmd->kind = commands[i].kind;
            used = n;
            break;
        }
    }
    if (cmd->kind == OKS_MAIL_CMD_UNKNOWN)
        return;
    const char *a = s + used;
    while (is_sp(*a))
        a++;
    size_t n = strlen(a);
    while (n > 0 && is_sp(a[n - 1]))
        n--;
    if (n >= sizeof(cmd->arg)) {
        snprintf(cmd->error, sizeof(cmd->error), "argument longer than %zu bytes",
                 sizeof(cmd->arg) - 1);
        return;
    }
    memcpy(cmd->arg, a, n);
    cmd->arg[n] = '\0';
    switch (cmd->kind) {
    case OKS_MAIL_CMD_INDEX:
    case OKS_MAIL_CMD_VINDEX:
    case OKS_MAIL_CMD_GET:
        if (n == 0)
            snprintf(cmd->error, sizeof(cmd->error), "%s needs a search argument",
                     oks_mail_cmd_name(cmd->kind));
        break;
    case OKS_MAIL_CMD_MGET:
        if (n < OKS_MAIL_REGEX_MIN || n > OKS_MAIL_REGEX_MAX)
            snprintf(cmd->error, sizeof(cmd->error),
                     "MGET needs a regular expression of %d to %d characters", OKS_MAIL_REGEX_MIN,
                     OKS_MAIL_REGEX_MAX);
        break;
    case OKS_MAIL_CMD_LAST: {
        char *end = NULL;
        long v = n ? strtol(cmd->arg, &end, 10) : 0;
        if (n == 0 || end == NULL || *end != '\0' || v < 1 || v > (long)max_last_days)
            snprintf(cmd->error, sizeof(cmd->error),
                     "LAST needs a number of days from 1 to %u", max_last_days);
        break;
    }
    default:
        break;
    }
}

/* ---- policy ------------------------------------------------------------------------------ */

bool oks_mail_addr_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    while (*a == ' ' || *a == '<')
        a++;
    while (*b == ' ' || *b == '<')
        b++;
    size_t na = strcspn(a, "> "), nb = strcspn(b, "> ");
    return na == nb && na > 0 && strncasecmp(a, b, na) == 0;
}

static bool is_daemon_address(const char *addr)
{
    if (addr == NULL)
        return false;
    const char *at = strchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);
    return (n == 13 && strncasecmp(addr, "mailer-daemon", 13) == 0) ||
           (n == 10 && strncasecmp(addr, "postmaster", 10) == 0);
}

static bool is_sync_site(const char *addr, const oks_mail_policy *pol)
{
    for (size_t i = 0; i < pol->n_sync_sites; i++)
        if (oks_mail_addr_eq(addr, pol->sync_sites[i]))
            return true;
    return false;
}

enum oks_mail_verdict oks_mail_decide(const oks_mail_msg *msg, const oks_mail_cmd *cmd,
                                      const oks_mail_policy *pol, const char **reason)
{
    const char *to = oks_mail_reply_address(msg);
    if (cmd->kind == OKS_MAIL_CMD_INCREMENTAL) {
        if (msg->from && is_sync_site(msg->from, pol)) {
            *reason = "incremental from a sync site";
            return OKS_MAIL_SYNC;
        }
        /* PKS never answers INCREMENTAL; from anyone else it is simply not sync */
        *reason = "incremental from a sender that is not a configured sync site";
        return OKS_MAIL_IGNORE;
    }
    if (msg->from == NULL || to == NULL) {
        *reason = "no sender address";
        return OKS_MAIL_IGNORE;
    }
    if (msg->null_return_path || is_daemon_address(msg->from) || is_daemon_address(to)) {
        *reason = "bounce (null return path or mailer daemon)";
        return OKS_MAIL_IGNORE;
    }
    if (msg->auto_submitted) {
        *reason = "Auto-Submitted mail";
        return OKS_MAIL_IGNORE;
    }
    if (msg->precedence_bulk) {
        *reason = "Precedence bulk/list/junk";
        return OKS_MAIL_IGNORE;
    }
    if (oks_mail_addr_eq(msg->from, pol->own_address) || oks_mail_addr_eq(to, pol->own_address)) {
        *reason = "mail from our own address";
        return OKS_MAIL_IGNORE;
    }
    for (size_t i = 0; i < msg->n_ks_sent; i++)
        if (oks_mail_addr_eq(msg->ks_sent[i], pol->own_address)) {
            *reason = "carries our own X-KeyServer-Sent";
            return OKS_MAIL_IGNORE;
        }
    *reason = "command";
    return OKS_MAIL_ANSWER;
}

/* ---- MGET -------------------------------------------------------------------------------- */

int oks_mail_regex_compile(oks_mail_regex *rx, const char *pat, oks_err *e)
{
    memset(rx, 0, sizeof(*rx));
    size_t n = strlen(pat);
    if (n < OKS_MAIL_REGEX_MIN || n > OKS_MAIL_REGEX_MAX)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "regular expression must have %d to %d characters", OKS_MAIL_REGEX_MIN,
                           OKS_MAIL_REGEX_MAX);
    /* glibc's regcomp copies the subtree of every repetition, so stacked or deeply nested
     * repetitions blow up its memory: keep them few, shallow and small */
    int depth = 0, quantifiers = 0;
    bool after_quant = false;
    for (size_t i = 0; i < n; i++) {
        char ch = pat[i];
        if (ch == '\\' && i + 1 < n && isdigit((unsigned char)pat[i + 1]))
            return oks_err_set(e, OKS_E_UNSUPPORTED, i, "back-references are not allowed");
        if (ch == '\\') {
            i++;
            after_quant = false;
            continue;
        }
        if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
            if (after_quant)
                return oks_err_set(e, OKS_E_LIMIT, i, "repetition of a repetition is not allowed");
            if (++quantifiers > OKS_MAIL_REGEX_MAX_QUANT)
                return oks_err_set(e, OKS_E_LIMIT, i, "more than %d repetitions",
                                   OKS_MAIL_REGEX_MAX_QUANT);
            if (ch == '{') {
                char *end;
                long v = strtol(pat + i + 1, &end, 10);
                if (v > OKS_MAIL_REGEX_MAX_COUNT ||
                    (*end == ',' && strtol(end + 1, NULL, 10) > OKS_MAIL_REGEX_MAX_COUNT) ||
                    (*end == ',' && end[1] == '}'))
                    return oks_err_set(e, OKS_E_LIMIT, i, "repetition counts above %d are not "
                                       "allowed", OKS_MAIL_REGEX_MAX_COUNT);
                const char *close = strchr(pat + i, '}');
                if (close)
                    i = (size_t)(close - pat);
            }
            after_quant = true;
            continue;
        }
        after_quant = false;
        if (ch == '[') { /* skip a bracket expression: its characters are literals */
            size_t j = i + 1;
            if (j < n && pat[j] == '^')
                j++;
            if (j < n && pat[j] == ']')
                j++;
            while (j < n && pat[j] != ']')
                j++;
            i = j;
        } else if (ch == '(') {
            if (++depth > OKS_MAIL_REGEX_MAX_DEPTH)
                return oks_err_set(e, OKS_E_LIMIT, i, "groups nested deeper than %d",
                                   OKS_MAIL_REGEX_MAX_DEPTH);
        } else if (ch == ')' && depth > 0) {
            depth--;
        }
    }
    int r = regcomp(&rx->re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (r != 0) {
        char msg[128];
        regerror(r, &rx->re, msg, sizeof(msg));
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "bad regular expression: %s", msg);
    }
    rx->ok = true;
    return 0;
}

bool oks_mail_regex_match(const oks_mail_regex *rx, const uint8_t *uid, size_t len)
{
    char buf[OKS_MAIL_REGEX_SUBJECT_MAX + 1];
    if (!rx->ok)
        return false;
    if (len > OKS_MAIL_REGEX_SUBJECT_MAX)
        len = OKS_MAIL_REGEX_SUBJECT_MAX;
    memcpy(buf, uid, len);
    buf[len] = '\0';
    return regexec(&rx->re, buf, 0, NULL, 0) == 0;
}

void oks_mail_regex_release(oks_mail_regex *rx)
{
    if (rx->ok)
        regfree(&rx->re);
    rx->ok = false;
}

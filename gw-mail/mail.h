/*
 * Mail gateway units: the pure parts (parse a fetched mail, read the command from its Subject,
 * decide whether it may be answered, build the reply, rate limits, the bounded MGET matcher).
 * Nothing here does I/O, so every function is unit-tested and fuzzed over plain buffers.
 */
#ifndef OKS_MAIL_H
#define OKS_MAIL_H

#include "lib/buf.h"
#include "lib/err.h"

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---------------------------------------------------------------------------- */

typedef struct oks_mail_limits {
    size_t max_message_bytes; /* whole mail as fetched; default 1 MiB */
    size_t max_parts;         /* MIME leaf parts walked; default 16 */
    size_t max_attachments;   /* key attachments kept; default 8 */
    size_t max_text_bytes;    /* decoded text body kept; default 512 KiB */
    size_t max_header_values; /* X-KeyServer-Sent headers kept; default 32 */
    unsigned max_depth;       /* MIME nesting; default 8 */
} oks_mail_limits;

void oks_mail_limits_default(oks_mail_limits *l);

/* ---- a parsed mail --------------------------------------------------------------------- */

typedef struct oks_mail_msg {
    char *from;        /* addr-spec of the first From mailbox, or NULL */
    char *reply_to;    /* addr-spec of the first Reply-To mailbox, or NULL */
    char *message_id;  /* without <>, or NULL */
    char *references;  /* References of the request, as written (msg-ids without <>, space
                          separated), or NULL */
    char *subject;     /* RFC 2047 decoded to UTF-8, unfolded, controls removed; NULL if absent */
    bool has_return_path;
    bool null_return_path; /* Return-Path: <> (a bounce) */
    bool auto_submitted;   /* Auto-Submitted present with a value other than "no" */
    bool precedence_bulk;  /* Precedence: bulk, list or junk */
    char **ks_sent;        /* X-KeyServer-Sent values (trimmed), n_ks_sent of them */
    size_t n_ks_sent;
    oks_buf text;          /* text/plain body parts (decoded), concatenated, NUL-terminated */
    oks_buf *attachments;  /* decoded application/pgp-keys (or armored text) attachments */
    size_t n_attachments;
    size_t attachments_dropped; /* over max_attachments */
    uint8_t digest[32];    /* SHA-256 of the raw mail as fetched */
} oks_mail_msg;

/* Parses raw (CRLF or LF) into msg (zeroed first; release with oks_mail_msg_release even on
 * failure). Fails with OKS_E_LIMIT (too large), OKS_E_FORMAT (no header block libetpan accepts).
 * A mail that parses but whose body parts are odd still yields the headers. */
int oks_mail_parse(const char *raw, size_t len, const oks_mail_limits *lim, oks_mail_msg *msg,
                   oks_err *e);
void oks_mail_msg_release(oks_mail_msg *msg);

/* The address a reply goes to: Reply-To wins over From. NULL when there is none. */
const char *oks_mail_reply_address(const oks_mail_msg *msg);

/* Collects the keys of a mail (armored blocks in the text and attachments, binary
 * application/pgp-keys attachments) as separate binary keys, at most max (keys.c). Returns the
 * count; *keys is a malloc'd array of that many buffers, each released with oks_buf_release and
 * the array with free(); *skipped counts blocks/keys that could not be used or were over max. */
size_t oks_mail_collect_keys(const oks_mail_msg *msg, size_t max, oks_buf **keys,
                             size_t *skipped);

/* ---- commands -------------------------------------------------------------------------- */

enum oks_mail_cmd_kind {
    OKS_MAIL_CMD_NONE = 0,   /* no or empty Subject */
    OKS_MAIL_CMD_UNKNOWN,    /* a Subject that is no command */
    OKS_MAIL_CMD_HELP,
    OKS_MAIL_CMD_ADD,
    OKS_MAIL_CMD_INDEX,
    OKS_MAIL_CMD_VINDEX,
    OKS_MAIL_CMD_GET,
    OKS_MAIL_CMD_MGET,
    OKS_MAIL_CMD_LAST,
    OKS_MAIL_CMD_INCREMENTAL,
};

typedef struct oks_mail_cmd {
    enum oks_mail_cmd_kind kind;
    char arg[512];  /* argument, trimmed (may be empty) */
    char error[160]; /* set when the command is known but its argument is malformed */
} oks_mail_cmd;

/* Reads the command from a decoded Subject (NULL = none): case-insensitive command word that
 * ends at a word boundary (space, tab or end), then the argument. "Re:"/"Fwd:" prefixes are
 * not commands. Never fails; the kind says what was found, error what is wrong with the
 * argument (missing search, LAST days not an integer in 1..max). */
void oks_mail_cmd_parse(const char *subject, unsigned max_last_days, oks_mail_cmd *cmd);
const char *oks_mail_cmd_name(enum oks_mail_cmd_kind k);

/* ---- reply policy ---------------------------------------------------------------------- */

enum oks_mail_verdict {
    OKS_MAIL_ANSWER = 0,     /* run the command and reply */
    OKS_MAIL_SYNC,           /* INCREMENTAL from a configured sync site: add, never reply */
    OKS_MAIL_IGNORE,         /* delete without running or replying (reason says why) */
};

typedef struct oks_mail_policy {
    const char *own_address;  /* the gateway's address */
    const char *const *sync_sites; /* addresses of configured sync sites */
    size_t n_sync_sites;
} oks_mail_policy;

/* Decides what to do with msg carrying cmd; *reason is a static text for the log. */
enum oks_mail_verdict oks_mail_decide(const oks_mail_msg *msg, const oks_mail_cmd *cmd,
                                      const oks_mail_policy *pol, const char **reason);

/* Case-insensitive address equality, ignoring surrounding <> and spaces. */
bool oks_mail_addr_eq(const char *a, const char *b);

/* ---- replies --------------------------------------------------------------------------- */

typedef struct oks_mail_reply {
    const char *from;        /* addr-spec of the gateway */
    const char *from_name;   /* display name, may be NULL */
    const char *to;          /* addr-spec of the requester */
    const char *subject;     /* UTF-8 */
    const char *in_reply_to; /* msg-id without <>, may be NULL */
    const char *references;  /* request's References (space separated, no <>), may be NULL */
    const char *message_id;  /* msg-id without <> for the reply; NULL = generated */
    const char *text;        /* UTF-8 text part (required) */
    const char *keys;        /* armored keys part (application/pgp-keys), may be NULL */
    size_t keys_len;
    /* extra header fields, e.g. X-KeyServer-Sent (values ASCII): names[i]: values[i] */
    const char *const *extra_names;
    const char *const *extra_values;
    size_t n_extra;
    bool auto_replied;       /* Auto-Submitted: auto-replied (every reply; not incrementals) */
} oks_mail_reply;

/* A bare ASCII addr-spec local@domain without quoting, spaces or brackets (what replies go to). */
bool oks_mail_addr_valid(const char *addr);

/* Renders the whole mail (headers with RFC 2047 where needed, MIME body) into out (CRLF). */
int oks_mail_reply_build(const oks_mail_reply *r, oks_buf *out, oks_err *e);

/* RFC 2047 Q-encoding of a UTF-8 header text when it has non-ASCII or control bytes (encoded
 * words of at most 75 characters, separated by a space); plain copy otherwise. */
int oks_mail_header_encode(const char *text, oks_buf *out);

/* ---- rate limits ----------------------------------------------------------------------- */

#define OKS_MAIL_RATE_SLOTS 1024

typedef struct oks_mail_rate {
    unsigned per_sender;      /* replies per sender per window; 0 = unlimited */
    unsigned sender_window_s; /* default 3600 */
    unsigned global;          /* replies per global window; 0 = unlimited */
    unsigned global_window_s; /* default 60 */
    struct {
        uint64_t h;
        int64_t start;
        unsigned n;
    } slot[OKS_MAIL_RATE_SLOTS];
    int64_t g_start;
    unsigned g_n;
} oks_mail_rate;

void oks_mail_rate_init(oks_mail_rate *r, unsigned per_sender, unsigned sender_window_s,
                        unsigned global, unsigned global_window_s);
/* True (and counted) when a reply to sender at time now is allowed. A sender that shares a
 * slot with another is tracked in that slot (the newer one replaces an expired entry). */
bool oks_mail_rate_allow(oks_mail_rate *r, const char *sender, int64_t now);

/* ---- MGET matcher ---------------------------------------------------------------------- */

typedef struct oks_mail_regex {
    regex_t re;
    bool ok;
} oks_mail_regex;

#define OKS_MAIL_REGEX_MIN 2
#define OKS_MAIL_REGEX_MAX 128
#define OKS_MAIL_REGEX_SUBJECT_MAX 1024
#define OKS_MAIL_REGEX_MAX_QUANT 16 /* repetition operators */
#define OKS_MAIL_REGEX_MAX_COUNT 8  /* largest {n,m} bound */
#define OKS_MAIL_REGEX_MAX_DEPTH 3  /* group nesting */

/* Compiles a POSIX extended, case-insensitive pattern of 2..128 bytes. Back-references are
 * refused (they make matching exponential); so are a repetition directly after a repetition,
 * more than 16 repetitions, counts over 8 or open-ended {n,}, and groups nested deeper than 3
 * (glibc's regcomp copies repeated subtrees, so these bound its memory). */
int oks_mail_regex_compile(oks_mail_regex *rx, const char *pattern, oks_err *e);
/* Matches one user ID (first 1024 bytes, NULs stop it). */
bool oks_mail_regex_match(const oks_mail_regex *rx, const uint8_t *uid, size_t len);
void oks_mail_regex_release(oks_mail_regex *rx);

#endif

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
    size_t max_parts;         /* MIME parts: leaf parts, and multipart/message containers
                                 declared; default 16 (more is an OKS_E_LIMIT error) */
    size_t max_attachments;   /* key attachments kept; default 8 */
    size_t max_text_bytes;    /* decoded text body kept; default 512 KiB */
    size_t max_header_values; /* X-KeyServer-Sent headers kept; default 32 */
    unsigned max_depth;       /* MIME nesting; default 8 (deeper is an OKS_E_LIMIT error) */
} oks_mail_limits;

#define OKS_MAIL_MAX_COMMENT_DEPTH 256 /* nested ( ) in a header (libetpan recurses per level) */

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
    char **auth_results;   /* Authentication-Results values, top to bottom (at most
                              max_header_values), n_auth_results of them */
    size_t n_auth_results;
    bool body_parsed;      /* oks_mail_parse_body ran: text and attachments are filled */
    oks_buf text;          /* text/plain body parts (decoded), concatenated, NUL-terminated */
    oks_buf *attachments;  /* decoded application/pgp-keys (or armored text) attachments */
    size_t n_attachments;
    size_t attachments_dropped; /* over max_attachments */
    uint8_t digest[32];    /* SHA-256 of the raw mail as fetched */
} oks_mail_msg;

/* Parsing is two steps, so that what decides whether a mail is answered (the headers) costs
 * little, and the body is parsed only for a mail that is answered and needs it (ADD,
 * INCREMENTAL).
 *
 * oks_mail_parse_head reads only the header block of raw (CRLF or LF) into msg (zeroed first;
 * release with oks_mail_msg_release even on failure) and the SHA-256 of raw. Fails with
 * OKS_E_LIMIT (raw over max_message_bytes, comments nested deeper than
 * OKS_MAIL_MAX_COMMENT_DEPTH), OKS_E_FORMAT (no header block libetpan accepts). */
int oks_mail_parse_head(const char *raw, size_t len, const oks_mail_limits *lim,
                        oks_mail_msg *msg, oks_err *e);
/* Parses the MIME body of raw (the same bytes) into msg's text and attachments. The structure is
 * bounded before libetpan sees it (oks_mail_mime_precheck) and after (max_parts leaf parts,
 * max_depth nesting): a mail over them fails with OKS_E_LIMIT and a message naming the limit.
 * OKS_E_FORMAT when libetpan finds no MIME structure. Odd parts are skipped, not errors. */
int oks_mail_parse_body(const char *raw, size_t len, const oks_mail_limits *lim,
                        oks_mail_msg *msg, oks_err *e);
/* Both steps. */
int oks_mail_parse(const char *raw, size_t len, const oks_mail_limits *lim, oks_mail_msg *msg,
                   oks_err *e);
/* The linear scan run before libetpan's MIME parser, whose work grows with the data times the
 * nesting (15,000 nested multiparts in 1 MB took ~10 s) and whose comment parser recurses once
 * per nested "(" (a header of 200,000 of them overflowed the stack): fails with OKS_E_LIMIT when
 * raw names "multipart" or "rfc822" (any case, anywhere: every container declaration does) more
 * than max_parts times, or a line holds ( ) nested deeper than OKS_MAIL_MAX_COMMENT_DEPTH
 * (folded lines count as one). */
int oks_mail_mime_precheck(const char *raw, size_t len, const oks_mail_limits *lim, oks_err *e);
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

/* ---- reply authentication (authres.c) ---------------------------------------------------- */

#define OKS_MAIL_AUTHRES_MAX_RESULTS 16
#define OKS_MAIL_AUTHRES_MAX_PROPS 8

/* One Authentication-Results header (RFC 8601), parsed: the authserv-id and up to 16 results,
 * each with up to 8 ptype.property=value pairs (values unquoted; all lowercased except values). */
typedef struct oks_mail_authres {
    char authserv_id[128];
    size_t n;
    struct {
        char method[32];  /* "dkim", "spf", "dmarc", ... (version stripped) */
        char result[32];  /* "pass", "fail", ... */
        size_t n_props;
        struct {
            char name[48];   /* "header.d", "smtp.mailfrom", ... */
            char value[256];
        } prop[OKS_MAIL_AUTHRES_MAX_PROPS];
    } res[OKS_MAIL_AUTHRES_MAX_RESULTS];
} oks_mail_authres;

/* Parses one header value. OKS_E_FORMAT when there is no authserv-id; results that do not
 * parse are skipped; results past 16 and properties past 8 are ignored. */
int oks_mail_authres_parse(const char *value, oks_mail_authres *out, oks_err *e);

/* Whether the address replies go to (oks_mail_reply_address) is authenticated by the receiving
 * mail system: the first Authentication-Results header whose authserv-id is authserv_id (later
 * ones, and every one with another id, are ignored: the receiving MTA adds its header above
 * those the sender wrote) has dmarc=pass (header.from), dkim=pass (header.d or header.i) or
 * spf=pass (smtp.mailfrom, else smtp.helo) for a domain equal to, or a parent of, the reply
 * address's domain. authserv_id NULL or empty: never. *how (may be NULL) names the result. */
bool oks_mail_reply_authenticated(const oks_mail_msg *msg, const char *authserv_id,
                                  const char **how);

/* ---- rate limits (rate.c) ----------------------------------------------------------------- */

/* The key a requester is counted under: the address lowercased, a +tag subaddress of the local
 * part removed and a trailing dot of the domain dropped ("Bob+x@Example.ORG." -> "bob@example.org").
 * Fails (OKS_E_FORMAT) when addr is not local@domain or the result does not fit size. */
int oks_mail_addr_normalize(const char *addr, char *out, size_t size);

typedef struct oks_mail_rate_conf {
    unsigned per_sender;        /* mails run per reply mailbox per sender window; 0 = no limit */
    unsigned per_domain;        /* mails run per reply domain per sender window; 0 = no limit */
    uint64_t bytes_per_sender;  /* reply bytes per mailbox per sender window; 0 = no limit */
    uint64_t bytes_per_domain;  /* reply bytes per domain per sender window; 0 = no limit */
    uint64_t scan_per_sender;   /* MGET/LAST scan units per mailbox per window; 0 = no limit */
    unsigned sender_window_s;   /* default 3600 */
    unsigned global;            /* mails run per global window; 0 = no limit */
    uint64_t scan_global;       /* scan units per global window; 0 = no limit */
    unsigned global_window_s;   /* default 60 */
    size_t max_entries;         /* counters kept; 0 = enough for every mail the global limit
                                   admits in a sender window (at most OKS_MAIL_RATE_MAX_ENTRIES) */
} oks_mail_rate_conf;

#define OKS_MAIL_RATE_MAX_ENTRIES (1u << 20)

/* Counters per reply mailbox and per reply domain in one exact-key map (the whole normalized
 * key is compared: addresses never share a counter), with a bounded number of entries. An
 * entry is dropped only when its window has passed; when the map is full of live entries a new
 * address is refused, never given someone else's counter. With the global limit set, the
 * default size holds every entry the global limit can create within a window, so the map
 * cannot fill. */
typedef struct oks_mail_rate oks_mail_rate;

oks_mail_rate *oks_mail_rate_new(const oks_mail_rate_conf *c);
void oks_mail_rate_free(oks_mail_rate *r);
/* New limits from c (SIGHUP), counters kept; the windows and the table size stay as created. */
void oks_mail_rate_set_limits(oks_mail_rate *r, const oks_mail_rate_conf *c);

/* Admits one mail whose replies go to addr at now, BEFORE its command runs: checks the global,
 * mailbox and domain counts (and that the mailbox's scan budget is not spent when
 * needs_scan), and charges all three when every one allows. Returns NULL when admitted, else a
 * static reason. */
const char *oks_mail_rate_admit(oks_mail_rate *r, const char *addr, bool needs_scan,
                                int64_t now);
/* Takes back the admission of a mail to addr (the mail system failed before its reply went out:
 * the mail is kept and admitted again at the next poll). */
void oks_mail_rate_refund(oks_mail_rate *r, const char *addr, int64_t now);
/* Scan units addr may still use now: the smaller of its own and the global budget left
 * (UINT64_MAX when neither is limited). */
uint64_t oks_mail_rate_scan_left(oks_mail_rate *r, const char *addr, int64_t now);
void oks_mail_rate_charge_scan(oks_mail_rate *r, const char *addr, uint64_t units, int64_t now);
/* True when a reply of bytes to addr fits the mailbox's and the domain's byte budgets; charge
 * it after sending. */
bool oks_mail_rate_bytes_fit(oks_mail_rate *r, const char *addr, uint64_t bytes, int64_t now);
/* Reply bytes addr may still receive now (UINT64_MAX when neither budget is limited). */
uint64_t oks_mail_rate_bytes_left(oks_mail_rate *r, const char *addr, int64_t now);
void oks_mail_rate_charge_bytes(oks_mail_rate *r, const char *addr, uint64_t bytes, int64_t now);
/* Entries held (for tests and the log). */
size_t oks_mail_rate_entries(const oks_mail_rate *r);

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

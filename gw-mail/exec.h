/*
 * Running a mail command against the cluster router (blocking client calls: the gateway is a
 * plain poll loop, not an event loop) and rendering the answer as reply text plus armored keys.
 * exec.c is the core; each command has its own file (cmd.h).
 */
#ifndef OKS_MAIL_EXEC_H
#define OKS_MAIL_EXEC_H

#include "gw-mail/mail.h"
#include "gw-mail/templates.h"
#include "lib/proto.h"

typedef struct oks_mail_exec {
    oks_client *client;
    int timeout_ms;
    char **shards;          /* shard names (LAST, MGET walk every shard) */
    size_t n_shards;
    const char *help_text;  /* HELP reply body ({{help}} in the templates) */
    const oks_mail_templates *templates; /* reply bodies; NULL = built-in */
    const char *server_name, *server_address; /* {{server_name}}, {{server_address}} */
    unsigned max_reply_keys;  /* keys in one reply (GET, MGET, LAST); default 20 */
    unsigned max_index_keys;  /* keys listed by INDEX/VERBOSE INDEX; default 100 */
    unsigned max_add_keys;    /* keys taken from one ADD / incremental; default 50 */
    unsigned max_last_days;   /* LAST argument cap; default 7 (0 disables LAST) */
    unsigned mget_scan_max;   /* keys MGET looks at, all shards together; default 100000 */
    unsigned last_scan_max;   /* change-log entries LAST looks at; default 100000 */
    uint64_t scan_budget;     /* set per run: scan units (keys MGET or entries LAST looks at)
                                 this run may use besides the caps above; 0 = none left */
    uint64_t reply_bytes_max; /* set per run: keys whose armor would be larger are not armored
                                 (res->withheld says how large); UINT64_MAX = no bound */
} oks_mail_exec;

void oks_mail_exec_defaults(oks_mail_exec *x);

typedef struct oks_mail_result {
    oks_buf text;      /* reply text (NUL-terminated) */
    oks_buf keys;      /* armored keys, or empty */
    char subject[600]; /* reply subject */
    bool unavailable;  /* the router could not answer: keep the mail, retry later */
    /* ADD / INCREMENTAL: binary packets of keys that were new or updated (for sync mails) */
    oks_buf changed;
    size_t n_changed;
    uint64_t scanned;  /* scan units used (MGET keys, LAST change-log entries) */
    uint64_t withheld; /* armored size of keys left out because of reply_bytes_max, or 0 */
} oks_mail_result;

void oks_mail_result_release(oks_mail_result *r);

/* Runs cmd for msg. Returns 0 with res filled (including error replies for bad commands), or
 * OKS_E_UNAVAILABLE (res->unavailable) when the cluster did not answer. */
int oks_mail_exec_run(oks_mail_exec *x, const oks_mail_msg *msg, const oks_mail_cmd *cmd,
                      oks_mail_result *res, oks_err *e);

#endif

/*
 * The mail commands, one file each over the exec.c core: cmd_get.c (GET, INDEX, VERBOSE INDEX),
 * cmd_add.c (ADD, INCREMENTAL), cmd_last.c (LAST), cmd_mget.c (MGET). Each fills the template
 * context of its reply (and the reply's subject and keys in res); the core picks the command,
 * renders the reply and owns what the commands share: the router call and the "keys" items.
 */
#ifndef OKS_MAIL_CMD_H
#define OKS_MAIL_CMD_H

#include "gw-mail/exec.h"
#include "lib/tmpl.h"

/* ---- the core (exec.c) ------------------------------------------------------------------ */

/* One router call. NULL when the cluster could not answer (res->unavailable set, e filled);
 * any other answer, NOT_FOUND and PARTIAL included, is returned for the command to read. */
Oks__Response *oks_mail_call(oks_mail_exec *x, Oks__Request *q, oks_mail_result *res,
                             oks_err *e);
/* count, found (count > 0) and plural (count != 1) */
void oks_mail_set_count(oks_tmpl *ctx, size_t n);
/* A "keys" item with just the fingerprint (GET, MGET, LAST list what they attach). */
void oks_mail_key_fpr_item(oks_tmpl *ctx, const Oks__Key *k);
/* The n keys, armored as one block, into res->keys (nothing when they are empty); not armored
 * when the armor would be over x->reply_bytes_max (res->withheld is its size then). */
void oks_mail_append_keys_armored(oks_mail_exec *x, oks_mail_result *res, Oks__Key **keys,
                                  size_t n);
/* The same for keys already concatenated as binary packets. */
void oks_mail_armor_into(oks_mail_exec *x, oks_mail_result *res, const oks_buf *binary);
/* Upper bound of the armored size of binary bytes. */
uint64_t oks_mail_armored_size(uint64_t binary);

/* ---- the commands ----------------------------------------------------------------------- */

/* GET, INDEX, VERBOSE INDEX: one lookup or search; *tid becomes GET, INDEX or FAILED. */
int oks_mail_run_get(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                     oks_tmpl *ctx, enum oks_mail_tmpl_id *tid, oks_err *e);
/* ADD, INCREMENTAL: the keys of msg (oks_mail_collect_keys) added with origin MAIL. */
int oks_mail_run_add(oks_mail_exec *x, const oks_mail_msg *msg, oks_mail_result *res,
                     oks_tmpl *ctx, oks_err *e);
/* LAST N: shard change logs walked backwards from their end, then GetByHash. */
int oks_mail_run_last(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                      oks_tmpl *ctx, oks_err *e);
/* MGET REGEX: ListKeys pages over every shard, user IDs matched with the bounded regex;
 * *tid becomes FAILED when the pattern does not compile. */
int oks_mail_run_mget(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                      oks_tmpl *ctx, enum oks_mail_tmpl_id *tid, oks_err *e);

/* The request a GET/INDEX argument makes (cmd_get.c): a 40 or 64 hex digit fingerprint
 * (optionally 0x, spaces ignored) is GetByFingerprint, 0x plus 8 or 16 hex digits is GetByKeyId,
 * anything else a Search (one word with '@': e-mail, else words) of at most limit keys. The
 * request points into l and at arg, which must outlive it. */
typedef struct oks_mail_lookup {
    Oks__Request q;
    Oks__GetByFingerprint gf;
    Oks__GetByKeyId gk;
    Oks__Search s;
    uint8_t id[32];
} oks_mail_lookup;

void oks_mail_lookup_build(oks_mail_lookup *l, const char *arg, unsigned limit);

#endif

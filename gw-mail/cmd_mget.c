/*
 * MGET REGEX (see cmd.h): ListKeys pages over every shard; a key matches when one of its user IDs
 * matches the bounded regex (oks_mail_regex). The walk stops at max_reply_keys matches or
 * mget_scan_max keys looked at (fewer when the run's scan budget is smaller: the reply says the
 * walk was cut); the matches are attached.
 */
#include "gw-mail/cmd.h"

#include "lib/pgp.h"
#include "gw-mail/templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int oks_mail_run_mget(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
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
    uint64_t max = x->mget_scan_max < x->scan_budget ? x->mget_scan_max : x->scan_budget;
    cut = max == 0;
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
            lk.limit = max - scanned < 500 ? (uint32_t)(max - scanned) : 500;
            Oks__Response *r = oks_mail_call(x, &q, res, e);
            if (r == NULL) {
                rc = OKS_E_UNAVAILABLE;
                goto out;
            }
            size_t n = r->n_keys;
            if (n > lk.limit)
                n = lk.limit;
            for (size_t i = 0; i < n && !more; i++) {
                Oks__Key *k = r->keys[i];
                scanned++;
                if (key_matches(&rx, k->data.data, k->data.len)) {
                    if (found >= x->max_reply_keys)
                        more = true;
                    else {
                        oks_buf_append(&all, k->data.data, k->data.len);
                        oks_mail_key_fpr_item(ctx, k);
                        found++;
                    }
                }
            }
            if (n && r->keys[n - 1]->fingerprint.len <= 32) {
                after_len = r->keys[n - 1]->fingerprint.len;
                memcpy(after, r->keys[n - 1]->fingerprint.data, after_len);
            }
            oks__response__free_unpacked(r, NULL);
            if (scanned >= max) {
                cut = true;
                break;
            }
            if (n < lk.limit || more)
                break;
        }
    }
    oks_mail_tmpl_str(ctx, "pattern", cmd->arg);
    oks_mail_set_count(ctx, found);
    oks_mail_tmpl_flag(ctx, "more", more);
    oks_mail_tmpl_flag(ctx, "cut", cut);
    oks_mail_tmpl_num(ctx, "max_reply_keys", x->max_reply_keys);
    oks_mail_tmpl_num(ctx, "mget_scan_max", max);
    oks_mail_armor_into(x, res, &all);
out:
    res->scanned += scanned;
    oks_buf_release(&all);
    oks_mail_regex_release(&rx);
    return rc;
}

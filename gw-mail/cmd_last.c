/*
 * LAST N (see cmd.h): every shard's change log is read backwards from its end, one page at a
 * time, until an entry is older than N days, max_reply_keys distinct keys are found or
 * last_scan_max entries (fewer when the run's scan budget is smaller) were looked at; the keys
 * found are fetched with one GetByHash and attached.
 */
#include "gw-mail/cmd.h"
#include "lib/xalloc.h"

#include "gw-mail/templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int oks_mail_run_last(oks_mail_exec *x, const oks_mail_cmd *cmd, oks_mail_result *res,
                      oks_tmpl *ctx, oks_err *e)
{
    long days = strtol(cmd->arg, NULL, 10);
    uint64_t cutoff = (uint64_t)time(NULL) - (uint64_t)days * 86400u;
    ProtobufCBinaryData *hashes = oks_xcalloc(x->max_reply_keys + 1, sizeof(*hashes));
    uint8_t (*hbuf)[16] = oks_xcalloc(x->max_reply_keys + 1, 16);
    size_t nh = 0, scanned = 0;
    bool more = false;
    int rc = 0;
    uint64_t max = x->last_scan_max < x->scan_budget ? x->last_scan_max : x->scan_budget;
    if (hashes == NULL || hbuf == NULL) {
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < x->n_shards && !more && scanned < max; s++) {
        uint64_t hi = UINT64_MAX;
        for (;;) {
            uint32_t page = max - scanned < 1000 ? (uint32_t)(max - scanned) : 1000;
            if (page == 0)
                break;
            Oks__Request q = OKS__REQUEST__INIT;
            Oks__ChangeLog cl = OKS__CHANGE_LOG__INIT;
            q.op_case = OKS__REQUEST__OP_CHANGES;
            q.changes = &cl;
            cl.shard = x->shards[s];
            cl.limit = hi == UINT64_MAX ? 1 : page;
            cl.after_seq = hi == UINT64_MAX ? UINT64_MAX - 1 : (hi > page ? hi - page : 0);
            Oks__Response *r = oks_mail_call(x, &q, res, e);
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
                if (scanned >= max)
                    break;
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
            if (older || more || lo == 0 || scanned >= max)
                break;
            hi = lo;
        }
    }
    snprintf(res->subject, sizeof(res->subject), "Your command, LAST %s", cmd->arg);
    oks_mail_tmpl_num(ctx, "days", (unsigned long long)days);
    oks_mail_tmpl_num(ctx, "max_reply_keys", x->max_reply_keys);
    oks_mail_set_count(ctx, 0);
    if (nh == 0)
        goto out;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByHash gh = OKS__GET_BY_HASH__INIT;
    q.op_case = OKS__REQUEST__OP_GET_HASH;
    q.get_hash = &gh;
    gh.hashes = hashes;
    gh.n_hashes = nh;
    Oks__Response *r = oks_mail_call(x, &q, res, e);
    if (r == NULL) {
        rc = OKS_E_UNAVAILABLE;
        goto out;
    }
    oks_mail_set_count(ctx, r->n_keys);
    oks_mail_tmpl_flag(ctx, "more", more);
    for (size_t i = 0; i < r->n_keys; i++)
        oks_mail_key_fpr_item(ctx, r->keys[i]);
    oks_mail_append_keys_armored(x, res, r->keys, r->n_keys);
    oks__response__free_unpacked(r, NULL);
out:
    res->scanned += scanned;
    free(hashes);
    free(hbuf);
    return rc;
}

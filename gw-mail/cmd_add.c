/*
 * ADD and INCREMENTAL (see cmd.h): the keys of the mail, at most max_add_keys, go to the cluster
 * in one Add with origin MAIL; the reply lists each key's outcome. Keys that were new or updated
 * are kept in res->changed for the sync mails to the configured sites.
 */
#include "gw-mail/cmd.h"
#include "lib/xalloc.h"

#include "gw-mail/templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *outcome_text[] = {"new", "updated", "unchanged", "rejected"};

int oks_mail_run_add(oks_mail_exec *x, const oks_mail_msg *msg, oks_mail_result *res,
                     oks_tmpl *ctx, oks_err *e)
{
    oks_buf *keys;
    size_t skipped;
    size_t n = oks_mail_collect_keys(msg, x->max_add_keys, &keys, &skipped);
    int rc = 0;
    oks_mail_set_count(ctx, n);
    if (skipped) {
        oks_mail_tmpl_num(ctx, "skipped", skipped);
        oks_mail_tmpl_flag(ctx, "skipped_plural", skipped != 1);
    }
    oks_mail_tmpl_num(ctx, "max_add_keys", x->max_add_keys);
    if (n == 0) {
        snprintf(res->subject, sizeof(res->subject), "Your command, %.500s, failed",
                 msg->subject ? msg->subject : "ADD");
        goto done;
    }
    ProtobufCBinaryData *bd = oks_xcalloc(n, sizeof(*bd));
    for (size_t i = 0; i < n; i++)
        bd[i] = (ProtobufCBinaryData){keys[i].len, keys[i].data};
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = bd;
    add.n_keys = n;
    add.origin = OKS__ORIGIN__ORIGIN_MAIL;
    Oks__Response *r = oks_mail_call(x, &q, res, e);
    free(bd);
    if (r == NULL) {
        rc = OKS_E_UNAVAILABLE;
        goto done;
    }
    for (size_t i = 0; i < r->n_results; i++) {
        Oks__AddResult *ar = r->results[i];
        char fpr[65] = "(unknown key)";
        if (ar->fingerprint.len && ar->fingerprint.len <= 32)
            oks_hex(fpr, ar->fingerprint.data, ar->fingerprint.len, 1);
        unsigned o = ar->outcome <= 3 ? (unsigned)ar->outcome : 3;
        oks_tmpl *it = oks_tmpl_push(ctx, "results");
        if (it) {
            oks_mail_tmpl_str(it, "fpr", fpr);
            oks_mail_tmpl_str(it, "outcome", outcome_text[o]);
            oks_mail_tmpl_str(it, "reason", ar->reason);
        }
        if ((o == 0 || o == 1) && ar->index < n) {
            oks_buf_append(&res->changed, keys[ar->index].data, keys[ar->index].len);
            res->n_changed++;
        }
    }
    if (r->status != OKS__STATUS__STATUS_OK)
        oks_tmpl_setf(ctx, "cluster_error", "%s %s", oks_proto_status_name(r->status),
                      r->error ? r->error : "");
    oks__response__free_unpacked(r, NULL);
done:
    for (size_t i = 0; i < n; i++)
        oks_buf_release(&keys[i]);
    free(keys);
    return rc;
}

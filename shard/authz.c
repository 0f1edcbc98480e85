/* Admin authority at the shard (see shard.h): admin operations only from an admin key, or from
 * a router's key on behalf of one (the request's authority); each one audited. */
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "lib/zsec.h"
#include "shard/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIRECT_SUFFIX " (direct)"

static const char *op_name(const Oks__Request *q)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&oks__request__descriptor, (unsigned)q->op_case);
    return f ? f->name : "unknown";
}

/* The fingerprint and reason of a delete or undelete (NULL for other ops). */
static const char *target_of(const Oks__Request *q, const uint8_t **t, size_t *tn)
{
    *t = NULL;
    *tn = 0;
    if (q->op_case == OKS__REQUEST__OP_DELETE && q->delete_) {
        *t = q->delete_->fingerprint.data;
        *tn = q->delete_->fingerprint.len;
        return q->delete_->reason;
    }
    if (q->op_case == OKS__REQUEST__OP_UNDELETE && q->undelete) {
        *t = q->undelete->fingerprint.data;
        *tn = q->undelete->fingerprint.len;
        return q->undelete->reason;
    }
    return NULL;
}

static void set_authority(Oks__Request *req, const char *s)
{
    if (req->authority && req->authority != protobuf_c_empty_string)
        free(req->authority);
    req->authority = oks_xstrdup(s);
}

int oks_shard_authorize(zmq_msg_t *body, Oks__Request *req, char *why, size_t why_size)
{
    if (oks_zsec_self() == OKS_ROLE_NONE)
        return 0;
    char name[64];
    oks_role who = oks_zsec_peer(body, name, sizeof name);
    oks_op_class cls = oks_zsec_op_class(req->op_case);
    if (req->op_case == OKS__REQUEST__OP_ADD && req->add->n_verified_keys &&
        who != OKS_ROLE_ROUTER) {
        /* keys whose signatures are not checked again: only a router sends them on, from
         * another replica's answer (docs/security.md "Verifying once") */
        snprintf(why, why_size,
                 "the key %s (%s) may not send keys verified elsewhere (Add.verified_keys): only "
                 "a router may", name[0] ? name : "-", oks_role_name(who));
        oks_warn("security: refused an add with verified keys from key %s (%s)",
                 name[0] ? name : "-", oks_role_name(who));
        oks_audit_reason(name, oks_role_name(who), op_name(req), NULL, 0, "refused",
                         "verified_keys");
        return -1;
    }
    if (cls != OKS_OP_ADMIN) {
        if (oks_zsec_may(who, cls))
            return 0;
        /* the shard's own replica follower, over inproc: no handshake there, so no key and no
         * peer address (every TCP connection went through CURVE and has both) */
        if (who == OKS_ROLE_NONE && !zmq_msg_gets(body, "Peer-Address"))
            return 0;
    } else if (who == OKS_ROLE_ADMIN) {
        char a[96];
        snprintf(a, sizeof a, "%s" DIRECT_SUFFIX, name);
        set_authority(req, a);
        return 0;
    } else if (who == OKS_ROLE_ROUTER && req->authority && req->authority[0]) {
        return 0; /* a router forwards it for the admin key it names */
    }
    snprintf(why, why_size, "the key %s (%s) may not make %s requests to a shard",
             name[0] ? name : "-", oks_role_name(who), op_name(req));
    oks_warn("security: refused %s from key %s (%s)", op_name(req), name[0] ? name : "-",
             oks_role_name(who));
    const uint8_t *t;
    size_t tn;
    const char *reason = target_of(req, &t, &tn);
    oks_audit_reason(name, oks_role_name(who), op_name(req), t, tn, "refused", reason);
    return -1;
}

void oks_shard_audit(const Oks__Request *req, const Oks__Response *r)
{
    if (oks_zsec_op_class(req->op_case) != OKS_OP_ADMIN)
        return;
    const uint8_t *t;
    size_t tn;
    const char *reason = target_of(req, &t, &tn);
    oks_audit_reason(req->authority && req->authority[0] ? req->authority : "-", "admin",
                     op_name(req), t, tn, oks_proto_status_name(r->status), reason);
}

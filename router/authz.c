/* Request authorization at the router (see authz.h). */
#include "router/authz.h"

#include "lib/audit.h"
#include "lib/log.h"
#include "lib/zsec.h"

#include <stdio.h>
#include <string.h>

/* The op's name for the audit log and messages. */
static const char *op_name(const Oks__Request *q)
{
    if (q->op_case == OKS__REQUEST__OP_TOPOLOGY && q->topology && q->topology->action[0])
        return q->topology->action; /* "move": what the audit log's reader looks for */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&oks__request__descriptor, (unsigned)q->op_case);
    return f ? f->name : "unknown";
}

/* The fingerprint and reason of a delete or undelete, the detail of a topology change (NULL
 * for other ops). */
static const char *target_of(const Oks__Request *q, const uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    if (q->op_case == OKS__REQUEST__OP_TOPOLOGY && q->topology)
        return q->topology->detail;
    if (q->op_case == OKS__REQUEST__OP_DELETE && q->delete_) {
        *p = q->delete_->fingerprint.data;
        *n = q->delete_->fingerprint.len;
        return q->delete_->reason;
    }
    if (q->op_case == OKS__REQUEST__OP_UNDELETE && q->undelete) {
        *p = q->undelete->fingerprint.data;
        *n = q->undelete->fingerprint.len;
        return q->undelete->reason;
    }
    return NULL;
}

int oks_router_authorize(zmq_msg_t *body, const Oks__Request *q, char *authority, size_t size,
                         char *why, size_t why_size)
{
    authority[0] = '\0';
    char name[64] = "";
    oks_role who = oks_zsec_self() == OKS_ROLE_NONE ? OKS_ROLE_NONE
                                                    : oks_zsec_peer(body, name, sizeof name);
    if (q->op_case == OKS__REQUEST__OP_ADD && q->add->n_verified_keys) {
        /* keys a shard stores without verifying: only the router itself makes them, from a
         * replica's answer (docs/security.md "Verifying once"); from a client, a forgery */
        snprintf(why, why_size, "Add.verified_keys is set by routers only, never by a client "
                 "(key %s, %s)", name[0] ? name : "-", oks_role_name(who));
        oks_warn("security: refused an add with verified keys from key %s (%s)",
                 name[0] ? name : "-", oks_role_name(who));
        oks_audit_reason(name[0] ? name : "-", oks_role_name(who), op_name(q), NULL, 0,
                         "refused", "verified_keys");
        return -1;
    }
    if (oks_zsec_self() == OKS_ROLE_NONE)
        return 0;
    oks_op_class cls = oks_zsec_op_class(q->op_case);
    const uint8_t *t;
    size_t tn;
    const char *reason = target_of(q, &t, &tn);
    if (!oks_zsec_may(who, cls)) {
        snprintf(why, why_size, "the key %s (%s) may not make %s requests",
                 name[0] ? name : "-", oks_role_name(who), op_name(q));
        oks_warn("security: refused %s from key %s (%s)", op_name(q), name[0] ? name : "-",
                 oks_role_name(who));
        oks_audit_reason(name, oks_role_name(who), op_name(q), t, tn, "refused", reason);
        return -1;
    }
    if (cls == OKS_OP_ADMIN) {
        snprintf(authority, size, "%s", name);
        const char *outcome = "forwarded";
        if (q->op_case == OKS__REQUEST__OP_TOPOLOGY && q->topology)
            outcome = q->topology->outcome[0] ? q->topology->outcome : "begun";
        oks_audit_reason(name, oks_role_name(who), op_name(q), t, tn, outcome, reason);
    }
    return 0;
}

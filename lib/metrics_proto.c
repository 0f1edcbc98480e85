/* Request operations and statuses as metric label values (see metrics_proto.h). */
#include "lib/metrics_proto.h"
#include "lib/proto.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void oks_metrics_proto_labels_init(oks_metrics_proto_labels *l) {
    memset(l, 0, sizeof *l);
    const ProtobufCMessageDescriptor *d = &oks__request__descriptor;
    for (unsigned i = 0; i < d->n_fields && l->n_ops < OKS_METRICS_PROTO_MAX; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        l->op_ids[l->n_ops] = (int)f->id;
        l->ops[l->n_ops++] = f->name;
    }
    l->ops[l->n_ops] = "other";
    const ProtobufCEnumDescriptor *s = &oks__status__descriptor;
    for (unsigned i = 0; i < s->n_values && l->n_status < OKS_METRICS_PROTO_MAX; i++) {
        const char *n = s->values[i].name;
        if (!strncmp(n, "STATUS_", 7))
            n += 7;
        char *out = l->names[l->n_status];
        size_t k = 0;
        for (; n[k] && k + 1 < sizeof l->names[0]; k++)
            out[k] = (char)tolower((unsigned char)n[k]);
        out[k] = 0;
        l->status_ids[l->n_status] = s->values[i].value;
        l->status[l->n_status] = out;
        l->n_status++;
    }
    l->status[l->n_status] = "other";
}

size_t oks_metrics_proto_op(const oks_metrics_proto_labels *l, int op_case) {
    for (size_t i = 0; i < l->n_ops; i++)
        if (l->op_ids[i] == op_case)
            return i;
    return l->n_ops;
}

size_t oks_metrics_proto_status(const oks_metrics_proto_labels *l, int status) {
    for (size_t i = 0; i < l->n_status; i++)
        if (l->status_ids[i] == status)
            return i;
    return l->n_status;
}

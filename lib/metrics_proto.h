/*
 * Label values for cluster requests in metrics: the operations of proto/oks.proto's Request
 * (the oneof's field names: "get_fingerprint", "add", ...) and the Status values ("ok",
 * "not_found", ...), read from the protobuf descriptors so that a new operation or status gets
 * its series without a change here. Each set ends with "other" (an operation or status this
 * build does not know, or none).
 */
#ifndef OKS_METRICS_PROTO_H
#define OKS_METRICS_PROTO_H

#include <stddef.h>

#define OKS_METRICS_PROTO_MAX 40

typedef struct oks_metrics_proto_labels {
    const char *ops[OKS_METRICS_PROTO_MAX + 2]; /* NULL-terminated */
    int op_ids[OKS_METRICS_PROTO_MAX];
    size_t n_ops;                                  /* without "other" */
    const char *status[OKS_METRICS_PROTO_MAX + 2]; /* NULL-terminated */
    int status_ids[OKS_METRICS_PROTO_MAX];
    size_t n_status;
    char names[OKS_METRICS_PROTO_MAX][40]; /* the status names, lower case */
} oks_metrics_proto_labels;

void oks_metrics_proto_labels_init(oks_metrics_proto_labels *l);
/* The index of an Oks__Request__OpCase / Oks__Status among the values (unknown: "other"). */
size_t oks_metrics_proto_op(const oks_metrics_proto_labels *l, int op_case);
size_t oks_metrics_proto_status(const oks_metrics_proto_labels *l, int status);

#endif

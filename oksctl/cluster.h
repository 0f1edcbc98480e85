/*
 * Shared by the oksctl commands that talk to a cluster: finding the config (-c or $OKS_CONFIG),
 * connecting to a router, parsing fingerprints and key IDs.
 */
#ifndef OKSCTL_CLUSTER_H
#define OKSCTL_CLUSTER_H

#include "lib/buf.h"
#include "lib/cluster.h"
#include "lib/proto.h"

#include <stdbool.h>

typedef struct oksctl_conn {
    oks_cluster conf;
    void *zctx;
    oks_client *client;
    int timeout_ms;
} oksctl_conn;

/* Loads the config (path or $OKS_CONFIG) and connects to its first router. Prints the error
 * and returns non-zero on failure. */
int oksctl_connect(oksctl_conn *c, const char *config_path);
/* The same, connecting to shard NAME directly instead of a router (with shard NULL: to the
 * router); the shard answers only an admin key. */
int oksctl_connect_to(oksctl_conn *c, const char *config_path, const char *shard);
void oksctl_disconnect(oksctl_conn *c);
/* One request; prints a message and returns NULL on transport failure. */
Oks__Response *oksctl_call(oksctl_conn *c, Oks__Request *req);

/* "0x"-optional hex: 40/64 digits -> fingerprint (kind 'f'), 16 -> long key ID ('l'), 8 -> short
 * ('s'). Returns the kind or 0 if not hex of those lengths. */
char oksctl_parse_id(const char *s, uint8_t out[32], size_t *len);


#endif

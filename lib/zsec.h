/*
 * ZeroMQ security: CURVE keys, roles and the ZAP handler (docs/security.md).
 *
 * Every ZeroMQ link between OKS processes runs CURVE (encrypted, the server authenticated by
 * its public key, the client by its). Each process has one role and one keypair, named in the
 * [security] section of oks.conf: ROLE_key = PATH, the secret key in PATH (Z85, mode 0600) and
 * the public one in PATH.pub. Servers (router, shard) run a ZAP handler that accepts only the
 * public keys the config lists for the roles that may talk to them: a shard accepts routers,
 * admins and its replica peers (shards), a router gateways (http, mail), sync workers and admins. Everyone else gets no
 * answer at all; each refused handshake is logged (rate-limited) with address and key.
 *
 * The ZAP handler sets the User-Id of every accepted connection to "ROLE:NAME" (NAME: the key
 * file's name without .pub), so a server learns who sent a message with oks_zsec_peer.
 *
 * The state is process-wide: oks_zsec_start once (before any socket), then the socket hooks
 * from any thread. Without oks_zsec_start the hooks do nothing; every daemon and oksctl call
 * it, and it refuses a config without keys. On inproc:// endpoints ZeroMQ runs no handshake.
 */
#ifndef OKS_ZSEC_H
#define OKS_ZSEC_H

#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

struct oks_cluster;

typedef enum oks_role {
    OKS_ROLE_NONE = 0,
    OKS_ROLE_ROUTER,
    OKS_ROLE_SHARD,
    OKS_ROLE_HTTP,
    OKS_ROLE_MAIL,
    OKS_ROLE_SYNC,
    OKS_ROLE_ADMIN,
    OKS_ROLE_COUNT
} oks_role;

/* "router", "shard", "http", "mail", "sync", "admin" ("none" for OKS_ROLE_NONE). */
const char *oks_role_name(oks_role r);
/* The role of a name as above; OKS_ROLE_NONE for anything else. */
oks_role oks_role_parse(const char *s, size_t n);

/* What a request does, for the rights table. */
typedef enum oks_op_class {
    OKS_OP_READ,  /* lookups, search, stats, health, change logs, export listing */
    OKS_OP_ADD,   /* adding keys */
    OKS_OP_ADMIN, /* delete, undelete, tombstone list, repair (and any future topology or
                   * maintenance operation) */
} oks_op_class;

/* The class of a request's op (an Oks__Request__OpCase); unknown ops are ADMIN. */
oks_op_class oks_zsec_op_class(int op_case);
/* The rights table: gateways and sync may read and add, admins everything, routers (acting
 * for their clients) read and add; nobody else anything. */
bool oks_zsec_may(oks_role who, oks_op_class c);
/* Whether a server of role server accepts connections from role client (the ZAP table). */
bool oks_zsec_accepts(oks_role server, oks_role client);

/* ---- key files ------------------------------------------------------------------------ */

/* Reads a key file: 40 Z85 characters, optional trailing white space. secret: the file's
 * owner and mode must pass oks_zsec_secret_mode_ok (OKS_E_ARG naming them otherwise). */
int oks_zsec_key_read(const char *path, bool secret, uint8_t key[32], oks_err *e);
/* Whether a secret key file with this owner and mode may be used: nobody but its owner may
 * access it (0600, 0400), or, when root owns it, its group may also read it (0640, 0440; no
 * group write, nothing for others), so that root can grant a service's group access, as
 * PostgreSQL allows for its TLS key, and as the kubelet leaves the files of a Secret volume
 * under a pod's fsGroup (root:fsGroup, 0440). */
bool oks_zsec_secret_mode_ok(uid_t owner, mode_t mode);
/* The text of a key file, n bytes read into a buffer of cap (n >= cap: the file may go on):
 * 40 Z85 characters, then only white space. what names the file in errors. */
int oks_zsec_key_parse(const char *text, size_t n, size_t cap, const char *what, uint8_t key[32],
                       oks_err *e);
/* Writes a new keypair: path (secret, mode 0600, created exclusively) and path.pub (0644).
 * Fails if either exists. */
int oks_zsec_keygen(const char *path, oks_err *e);
/* The name of a public key file: its basename without ".pub", into out. */
void oks_zsec_key_name(const char *path, char *out, size_t size);

/* ---- process-wide set-up ---------------------------------------------------------------- */

/* Loads this process's keypair (role self: [security] SELF_key) and, for a server role (router,
 * shard), the public keys of the roles it accepts, and starts the ZAP handler on zctx. For a
 * server role, SIGHUP makes the handler re-read the accepted keys from conf->path (key
 * rotation without a restart; connections already accepted stay). Refuses (OKS_E_ARG) a config
 * with no key for self or, for a server, no key of any role it accepts. */
int oks_zsec_start(const struct oks_cluster *conf, oks_role self, void *zctx, oks_err *e);
/* Stops the ZAP handler and forgets the keys; call before zmq_ctx_term. */
void oks_zsec_stop(void);
/* The role of this process (OKS_ROLE_NONE before oks_zsec_start). */
oks_role oks_zsec_self(void);

/* Hooks for every socket, called after zmq_socket and before bind/connect. A server socket
 * gets CURVE server options; a client socket gets this process's keypair and the server key of
 * endpoint (a shard's key when endpoint is a shard's endpoint in the config, else the
 * router's). Return 0 or OKS_E_* (no key for that server). Nothing to do before start. */
int oks_zsec_server(void *sock, oks_err *e);
int oks_zsec_client(void *sock, const char *endpoint, oks_err *e);
/* Notes endpoint as a shard's (a slot map from etcd that adds a shard): clients of it then use
 * the shard's public key. Any thread. */
void oks_zsec_add_shard(const char *endpoint);

/* Who sent a message received on a server socket: the role and (if name) the key name of
 * its User-Id; OKS_ROLE_NONE if it has none (inproc, or no security set up). */
oks_role oks_zsec_peer(zmq_msg_t *msg, char *name, size_t size);

/* Parses a User-Id "ROLE:NAME" (exposed for tests). */
oks_role oks_zsec_parse_user(const char *uid, char *name, size_t size);

#endif

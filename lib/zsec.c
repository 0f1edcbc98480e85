/* ZeroMQ security: CURVE keys, roles, the ZAP handler (see zsec.h). */
#include "lib/zsec.h"

#include "lib/audit.h"
#include "lib/cluster.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/logbudget.h"
#include "lib/proto.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "oks"
/* refused handshakes logged per minute; the rest are counted and summed up */
#define REFUSED_LOG_PER_MINUTE 20
/* server sockets watched for handshakes that fail before ZAP (no CURVE at all) */
#define MAX_MONITORS 8

static const char *const role_names[OKS_ROLE_COUNT] = {"none", "router", "shard", "http",
                                                       "mail", "sync",   "admin"};

const char *oks_role_name(oks_role r)
{
    return r >= 0 && r < OKS_ROLE_COUNT ? role_names[r] : "none";
}

oks_role oks_role_parse(const char *s, size_t n)
{
    for (int r = 1; r < OKS_ROLE_COUNT; r++)
        if (strlen(role_names[r]) == n && memcmp(role_names[r], s, n) == 0)
            return (oks_role)r;
    return OKS_ROLE_NONE;
}

oks_op_class oks_zsec_op_class(int op_case)
{
    switch (op_case) {
    case OKS__REQUEST__OP_GET_FINGERPRINT:
    case OKS__REQUEST__OP_GET_KEY_ID:
    case OKS__REQUEST__OP_SEARCH:
    case OKS__REQUEST__OP_GET_HASH:
    case OKS__REQUEST__OP_STATS:
    case OKS__REQUEST__OP_CHANGES:
    case OKS__REQUEST__OP_HEALTH:
    case OKS__REQUEST__OP_LIST:
    case OKS__REQUEST__OP_DIGESTS:     /* replica repair between shards */
    case OKS__REQUEST__OP_SLOT_HASHES: return OKS_OP_READ;
    case OKS__REQUEST__OP_ADD: return OKS_OP_ADD;
    default: return OKS_OP_ADMIN;
    }
}

bool oks_zsec_may(oks_role who, oks_op_class c)
{
    switch (who) {
    case OKS_ROLE_ADMIN: return true;
    case OKS_ROLE_HTTP:
    case OKS_ROLE_MAIL:
    case OKS_ROLE_SYNC:
    case OKS_ROLE_SHARD: /* a replica following its peers' change logs */
    case OKS_ROLE_ROUTER: return c == OKS_OP_READ || c == OKS_OP_ADD;
    default: return false;
    }
}

bool oks_zsec_accepts(oks_role server, oks_role client)
{
    if (server == OKS_ROLE_SHARD) /* routers, admins, and replica peers (shards) */
        return client == OKS_ROLE_ROUTER || client == OKS_ROLE_ADMIN || client == OKS_ROLE_SHARD;
    if (server == OKS_ROLE_ROUTER)
        return client == OKS_ROLE_HTTP || client == OKS_ROLE_MAIL || client == OKS_ROLE_SYNC ||
               client == OKS_ROLE_ADMIN;
    return false;
}

/* ---- key files ------------------------------------------------------------------------ */

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                ".-:+=^!/*?&<>()[]{}@%$#";

bool oks_zsec_secret_mode_ok(uid_t owner, mode_t mode)
{
    if ((mode & 077) == 0)
        return true;
    return owner == 0 && (mode & 077) == 040 /* group read only */;
}

int oks_zsec_key_read(const char *path, bool secret, uint8_t key[32], oks_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "key file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "key file %s: not a regular file", path);
    }
    if (secret && !oks_zsec_secret_mode_ok(st.st_uid, st.st_mode)) {
        close(fd);
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "secret key file %s has mode %04o (owner uid %u): group and others "
                           "must have no access (chmod 600), except group read of a file root "
                           "owns (0640)",
                           path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "key file %s: %s", path, strerror(errno));
    return oks_zsec_key_parse(buf, (size_t)n, sizeof buf, path, key, e);
}

int oks_zsec_key_parse(const char *text, size_t n, size_t cap, const char *what, uint8_t key[32],
                       oks_err *e)
{
    size_t len = n;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                   text[len - 1] == '\t'))
        len--;
    if (len != 40)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "key file %s: expected 40 Z85 characters, found %zu%s", what, len,
                           n >= cap ? " or more" : "");
    char z[41];
    for (size_t i = 0; i < len; i++) {
        if (!text[i] || !strchr(z85_chars, text[i]))
            return oks_err_set(e, OKS_E_FORMAT, i, "key file %s: character %zu is not Z85", what,
                               i + 1);
        z[i] = text[i];
    }
    z[40] = '\0';
    if (!zmq_z85_decode(key, z))
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "key file %s: not a Z85 key", what);
    return 0;
}

static int write_new(const char *path, const char *text, mode_t mode, oks_err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: %s", path, strerror(errno));
    size_t n = strlen(text);
    bool ok = fchmod(fd, mode) == 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(path);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: %s", path, strerror(err));
    }
    return 0;
}

int oks_zsec_keygen(const char *path, oks_err *e)
{
    char pub[41], sec[41], pubpath[1024], line[48];
    if (snprintf(pubpath, sizeof pubpath, "%s.pub", path) >= (int)sizeof pubpath)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "key path too long");
    if (!zmq_has("curve"))
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET, "libzmq has no CURVE support");
    if (access(path, F_OK) == 0 || access(pubpath, F_OK) == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%s or %s exists already", path,
                           pubpath);
    if (zmq_curve_keypair(pub, sec) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "zmq_curve_keypair: %s",
                           zmq_strerror(errno));
    snprintf(line, sizeof line, "%s\n", sec);
    int rc = write_new(path, line, 0600, e);
    memset(sec, 0, sizeof sec);
    memset(line, 0, sizeof line);
    if (rc)
        return rc;
    snprintf(line, sizeof line, "%s\n", pub);
    if ((rc = write_new(pubpath, line, 0644, e)) != 0)
        unlink(path);
    return rc;
}

void oks_zsec_key_name(const char *path, char *out, size_t size)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 4 && strcmp(b + n - 4, ".pub") == 0)
        n -= 4;
    snprintf(out, size, "%.*s", (int)n, b);
}

/* ---- process-wide state --------------------------------------------------------------- */

typedef struct accepted {
    oks_role role;
    char name[64];
    uint8_t key[32];
} accepted;

typedef struct accept_table {
    accepted *v;
    size_t n;
} accept_table;

static struct {
    oks_role self;
    uint8_t pub[32], sec[32];
    uint8_t router_pub[32], shard_pub[32];
    bool has_router_pub, has_shard_pub;
    char (*shard_eps)[256];
    size_t n_shard_eps;
    char conf_path[1024];
    /* the ZAP handler: owns table after start */
    void *zctx;
    pthread_t zap;
    bool zap_running;
    atomic_int zap_stop, hup;
    void *zap_sock;
    accept_table table;
    /* monitors of server sockets: added by oks_zsec_server under mon_lock, read by the ZAP
     * thread (which alone receives on them) */
    pthread_mutex_t mon_lock;
    void *mons[MAX_MONITORS];
    size_t n_mons;
} g = {.mon_lock = PTHREAD_MUTEX_INITIALIZER};

oks_role oks_zsec_self(void)
{
    return g.self;
}

static const char *key_path(const oks_cluster *c, oks_role r)
{
    const oks_conf_security *s = &c->security;
    switch (r) {
    case OKS_ROLE_ROUTER: return s->router_key;
    case OKS_ROLE_SHARD: return s->shard_key;
    case OKS_ROLE_HTTP: return s->http_key;
    case OKS_ROLE_MAIL: return s->mail_key;
    case OKS_ROLE_SYNC: return s->sync_key;
    case OKS_ROLE_ADMIN: return s->admin_key;
    default: return "";
    }
}

static const char *accept_list(const oks_cluster *c, oks_role r, const char **key)
{
    const oks_conf_security *s = &c->security;
    *key = NULL;
    switch (r) {
    case OKS_ROLE_ROUTER: *key = "routers"; return s->routers;
    case OKS_ROLE_HTTP: *key = "http_gateways"; return s->http_gateways;
    case OKS_ROLE_MAIL: *key = "mail_gateways"; return s->mail_gateways;
    case OKS_ROLE_SYNC: *key = "sync_workers"; return s->sync_workers;
    case OKS_ROLE_ADMIN: *key = "admins"; return s->admins;
    default: return "";
    }
}

static int table_add(accept_table *t, oks_role r, const char *path, oks_err *e)
{
    accepted a = {.role = r};
    int rc = oks_zsec_key_read(path, false, a.key, e);
    if (rc)
        return rc;
    oks_zsec_key_name(path, a.name, sizeof a.name);
    t->v = oks_xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n++] = a;
    return 0;
}

/* The public keys server role self accepts, from c. */
static int table_load(const oks_cluster *c, oks_role self, accept_table *t, oks_err *e)
{
    t->v = NULL;
    t->n = 0;
    for (int r = 1; r < OKS_ROLE_COUNT; r++) {
        if (!oks_zsec_accepts(self, (oks_role)r))
            continue;
        const char *setting, *list = accept_list(c, (oks_role)r, &setting);
        int rc = 0;
        if (list[0]) {
            char *copy = oks_xstrdup(list), *save = NULL;
            for (char *w = strtok_r(copy, " ", &save); w && !rc; w = strtok_r(NULL, " ", &save))
                rc = table_add(t, (oks_role)r, w, e);
            free(copy);
        } else if (key_path(c, (oks_role)r)[0]) {
            char pub[1040];
            snprintf(pub, sizeof pub, "%s.pub", key_path(c, (oks_role)r));
            rc = table_add(t, (oks_role)r, pub, e);
        }
        if (rc) {
            free(t->v);
            t->v = NULL;
            t->n = 0;
            return rc;
        }
    }
    if (!t->n)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "[security] lists no public key this %s accepts (see "
                           "docs/security.md)",
                           oks_role_name(self));
    return 0;
}

static const accepted *table_find(const accept_table *t, const uint8_t *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->v[i].key, key, 32) == 0)
            return &t->v[i];
    return NULL;
}

/* ---- the ZAP handler -------------------------------------------------------------------- */

/* refused keys (per address and key: a peer retrying in a loop gets one line a minute) and
 * handshakes without CURVE, each with its own budget, so neither kind can hide the other */
static oks_logbudget refused_keys = {.per_minute = REFUSED_LOG_PER_MINUTE},
                     refused_plain = {.per_minute = REFUSED_LOG_PER_MINUTE};

/* false when a refusal of src may not be logged now; says once a minute what was not */
static bool refused_budget(oks_logbudget *b, const void *src, size_t len)
{
    unsigned dropped;
    bool ok = oks_logbudget_take(b, time(NULL), src, len, &dropped);
    if (dropped)
        oks_warn("security: %u more refused connections (%s) were not logged in the last minute",
                 dropped, b == &refused_keys ? "keys not accepted" : "no CURVE");
    return ok;
}

static void log_refused(const char *addr, const char *mech, const uint8_t *key, size_t klen)
{
    char src[160];
    int n = snprintf(src, sizeof src, "%s|%s|", addr, mech);
    size_t sl = n < 0 ? 0 : (size_t)n >= sizeof src ? sizeof src - 1 : (size_t)n;
    if (klen == 32 && sl + 32 <= sizeof src) {
        memcpy(src + sl, key, 32);
        sl += 32;
    }
    if (!refused_budget(&refused_keys, src, sl))
        return;
    char z[41] = "-";
    if (klen == 32)
        zmq_z85_encode(z, key, 32);
    oks_warn("security: refused a %s connection from %s: key %s is not accepted by this %s",
             mech, addr, z, oks_role_name(g.self));
}

static void zap_reply(void *s, oks_zframes *m, const char *code, const char *text, const char *uid)
{
    oks_slice parts[6] = {
        oks_slice_of("1.0", 3),
        oks_zframe(m, 1),
        oks_slice_of(code, strlen(code)),
        oks_slice_of(text, strlen(text)),
        oks_slice_of(uid, strlen(uid)),
        oks_slice_of("", 0),
    };
    oks_zsend(s, parts, 6, 0);
}

static void zap_reload(void)
{
    oks_cluster c;
    oks_err e;
    accept_table t;
    char msg[400];
    if (oks_cluster_load(g.conf_path, &c, &e) != 0 || table_load(&c, g.self, &t, &e) != 0) {
        oks_error("security: SIGHUP: keys not reloaded, the old ones stay: %s",
                  oks_err_format(&e, msg, sizeof msg));
    } else {
        free(g.table.v);
        g.table = t;
        oks_info("security: SIGHUP: %zu accepted public keys reloaded from %s", t.n,
                 g.conf_path);
    }
    oks_cluster_release(&c);
}

static void zap_handle(void *s)
{
    oks_zframes m;
    if (oks_zrecv(s, &m, ZMQ_DONTWAIT) != 0)
        return;
    if (m.n < 6 || m.truncated) {
        if (m.n >= 2)
            zap_reply(s, &m, "500", "malformed ZAP request", "");
        oks_zframes_close(&m);
        return;
    }
    char addr[128], mech[16];
    oks_slice a = oks_zframe(&m, 3), mc = oks_zframe(&m, 5);
    snprintf(addr, sizeof addr, "%.*s", (int)(a.len < 127 ? a.len : 127), (const char *)a.ptr);
    snprintf(mech, sizeof mech, "%.*s", (int)(mc.len < 15 ? mc.len : 15), (const char *)mc.ptr);
    const accepted *ok = NULL;
    oks_slice cred = {NULL, 0};
    if (strcmp(mech, "CURVE") == 0 && m.n == 7) {
        cred = oks_zframe(&m, 6);
        if (cred.len == 32)
            ok = table_find(&g.table, cred.ptr);
    }
    if (ok) {
        char uid[80];
        snprintf(uid, sizeof uid, "%s:%s", oks_role_name(ok->role), ok->name);
        oks_debug("security: accepted %s from %s", uid, addr);
        zap_reply(s, &m, "200", "OK", uid);
    } else {
        log_refused(addr, mech, cred.ptr, cred.len);
        zap_reply(s, &m, "400", "key not accepted", "");
    }
    oks_zframes_close(&m);
}

/* One monitor event: a handshake that failed before ZAP was asked (a peer without CURVE, or
 * not speaking ZMTP at all). Event frames: [id (2) + value (4)][endpoint]. */
static void monitor_event(void *mon)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&ev) &&
        zmq_msg_recv(&addr, mon, 0) >= 0 && zmq_msg_size(&ev) >= 6 && refused_budget(&refused_plain, NULL, 0)) {
        uint16_t id;
        uint32_t value;
        memcpy(&id, zmq_msg_data(&ev), 2);
        memcpy(&value, (const char *)zmq_msg_data(&ev) + 2, 4);
        oks_warn("security: refused a connection on %.*s: handshake failed (%s, code 0x%x): the "
                 "peer does not speak CURVE",
                 (int)zmq_msg_size(&addr), (const char *)zmq_msg_data(&addr),
                 id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "no detail",
                 value);
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
}

static void *zap_main(void *arg)
{
    void *s = arg;
    zmq_pollitem_t it[1 + MAX_MONITORS];
    while (!atomic_load(&g.zap_stop)) {
        if (atomic_exchange(&g.hup, 0))
            zap_reload();
        it[0] = (zmq_pollitem_t){s, 0, ZMQ_POLLIN, 0};
        pthread_mutex_lock(&g.mon_lock);
        size_t nm = g.n_mons;
        for (size_t i = 0; i < nm; i++)
            it[1 + i] = (zmq_pollitem_t){g.mons[i], 0, ZMQ_POLLIN, 0};
        pthread_mutex_unlock(&g.mon_lock);
        int r = zmq_poll(it, (int)(1 + nm), 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (it[0].revents & ZMQ_POLLIN))
            zap_handle(s);
        for (size_t i = 0; r > 0 && i < nm; i++)
            if (it[1 + i].revents & ZMQ_POLLIN)
                monitor_event(it[1 + i].socket);
    }
    return NULL;
}

static int load_server_pub(const oks_cluster *c, oks_role r, uint8_t key[32], bool *has,
                           bool required, oks_err *e)
{
    const char *p = key_path(c, r);
    if (!p[0]) {
        if (!required)
            return 0;
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "[security] %s_key is not set: a %s cannot authenticate the %s it "
                           "connects to",
                           oks_role_name(r), oks_role_name(g.self), oks_role_name(r));
    }
    char pub[1040];
    snprintf(pub, sizeof pub, "%s.pub", p);
    int rc = oks_zsec_key_read(pub, false, key, e);
    if (rc == 0)
        *has = true;
    return required ? rc : 0;
}

int oks_zsec_start(const oks_cluster *conf, oks_role self, void *zctx, oks_err *e)
{
    oks_zsec_stop();
#ifdef OKS_ZSEC_PLAIN_FOR_BENCH
    /* bench/curve.sh's comparison build only: no CURVE, no ZAP, every request allowed */
    oks_warn("security: built with OKS_ZSEC_PLAIN_FOR_BENCH: links run without CURVE "
             "(a benchmark build, never for use)");
    return 0;
#endif
    if (!zmq_has("curve"))
        return oks_err_set(e, OKS_E_UNSUPPORTED, OKS_NO_OFFSET,
                           "this libzmq has no CURVE support: OKS needs it for every link");
    const char *kp = key_path(conf, self);
    if (!kp[0])
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "%s: [security] %s_key is not set: every ZeroMQ link runs CURVE, so "
                           "each program needs its keypair (oksctl keygen; docs/security.md)",
                           conf->path ? conf->path : "config", oks_role_name(self));
    int rc = oks_zsec_key_read(kp, true, g.sec, e);
    if (rc)
        return rc;
    char secz[41], pubz[41];
    zmq_z85_encode(secz, g.sec, 32);
    if (zmq_curve_public(pubz, secz) != 0 || !zmq_z85_decode(g.pub, pubz)) {
        memset(secz, 0, sizeof secz);
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "%s: not a CURVE secret key", kp);
    }
    memset(secz, 0, sizeof secz);
    g.self = self;
    if (self == OKS_ROLE_ROUTER || self == OKS_ROLE_SHARD) {
        /* a shard connects to its replica peers */
        rc = load_server_pub(conf, OKS_ROLE_SHARD, g.shard_pub, &g.has_shard_pub, true, e);
    } else {
        rc = load_server_pub(conf, OKS_ROLE_ROUTER, g.router_pub, &g.has_router_pub, true, e);
        if (rc == 0 && self == OKS_ROLE_ADMIN)
            load_server_pub(conf, OKS_ROLE_SHARD, g.shard_pub, &g.has_shard_pub, false, e);
    }
    if (rc) {
        oks_zsec_stop();
        return rc;
    }
    g.n_shard_eps = conf->n_shards;
    /* room for the shards a slot map from etcd adds later (oks_zsec_add_shard) */
    g.shard_eps = oks_xcalloc(OKS_MAX_SHARDS, sizeof *g.shard_eps);
    for (size_t i = 0; i < conf->n_shards; i++)
        memcpy(g.shard_eps[i], conf->shards[i].endpoint, sizeof g.shard_eps[i]);
    if (self != OKS_ROLE_ROUTER && self != OKS_ROLE_SHARD)
        return 0;
    if ((rc = table_load(conf, self, &g.table, e)) != 0) {
        oks_zsec_stop();
        return rc;
    }
    snprintf(g.conf_path, sizeof g.conf_path, "%s", conf->path ? conf->path : "");
    g.zctx = zctx;
    g.zap_sock = zmq_socket(zctx, ZMQ_REP);
    int zero = 0;
    if (g.zap_sock)
        zmq_setsockopt(g.zap_sock, ZMQ_LINGER, &zero, sizeof zero);
    if (!g.zap_sock || zmq_bind(g.zap_sock, ZAP_ENDPOINT) != 0) {
        rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start the ZAP handler: %s",
                         zmq_strerror(errno));
        oks_zsec_stop();
        return rc;
    }
    atomic_store(&g.zap_stop, 0);
    if ((errno = pthread_create(&g.zap, NULL, zap_main, g.zap_sock)) != 0) {
        rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot start the ZAP handler: %s",
                         strerror(errno));
        oks_zsec_stop();
        return rc;
    }
    g.zap_running = true;
    if ((rc = oks_audit_open(conf->security.audit_log, e)) != 0) {
        oks_zsec_stop();
        return rc;
    }
    if (g.conf_path[0])
        oks_daemon_signal(SIGHUP, &g.hup);
    return 0;
}

void oks_zsec_stop(void)
{
    if (g.zap_running) {
        atomic_store(&g.zap_stop, 1);
        pthread_join(g.zap, NULL);
        oks_daemon_signal(SIGHUP, NULL);
    }
    if (g.zap_sock)
        zmq_close(g.zap_sock);
    for (size_t i = 0; i < g.n_mons; i++)
        zmq_close(g.mons[i]);
    oks_audit_close();
    free(g.table.v);
    free(g.shard_eps);
    pthread_mutex_t lock = g.mon_lock;
    memset(&g, 0, sizeof g);
    g.mon_lock = lock;
}

/* Watches a server socket for handshakes that fail before ZAP is asked (logged by the ZAP
 * thread). Best effort: a socket beyond MAX_MONITORS is simply not watched. */
static void watch(void *sock)
{
    static atomic_uint seq;
    pthread_mutex_lock(&g.mon_lock);
    if (g.zap_running && g.n_mons < MAX_MONITORS) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://oks-zsec-mon-%u", atomic_fetch_add(&seq, 1));
        void *m = NULL;
        int zero = 0;
        if (zmq_socket_monitor(sock, ep,
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0 &&
            (m = zmq_socket(g.zctx, ZMQ_PAIR)) != NULL &&
            zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof zero) == 0 && zmq_connect(m, ep) == 0) {
            g.mons[g.n_mons++] = m;
        } else if (m) {
            zmq_close(m);
        }
    }
    pthread_mutex_unlock(&g.mon_lock);
}

int oks_zsec_server(void *sock, oks_err *e)
{
    if (g.self == OKS_ROLE_NONE)
        return 0;
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, g.sec, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "CURVE server options: %s",
                           zmq_strerror(errno));
    watch(sock);
    return 0;
}

/* g.shard_eps grows when a new map adds shards (any thread): under this lock */
static pthread_mutex_t shard_eps_lock = PTHREAD_MUTEX_INITIALIZER;

void oks_zsec_add_shard(const char *endpoint)
{
    pthread_mutex_lock(&shard_eps_lock);
    bool known = false;
    for (size_t i = 0; i < g.n_shard_eps && !known; i++)
        known = strcmp(g.shard_eps[i], endpoint) == 0;
    if (!known && g.shard_eps && g.n_shard_eps < OKS_MAX_SHARDS)
        snprintf(g.shard_eps[g.n_shard_eps++], sizeof g.shard_eps[0], "%s", endpoint);
    pthread_mutex_unlock(&shard_eps_lock);
}

int oks_zsec_client(void *sock, const char *endpoint, oks_err *e)
{
    if (g.self == OKS_ROLE_NONE || strncmp(endpoint, "inproc://", 9) == 0)
        return 0;
    bool shard = false;
    pthread_mutex_lock(&shard_eps_lock);
    for (size_t i = 0; i < g.n_shard_eps; i++)
        if (strcmp(g.shard_eps[i], endpoint) == 0)
            shard = true;
    pthread_mutex_unlock(&shard_eps_lock);
    const uint8_t *server = shard ? g.shard_pub : g.router_pub;
    if (!(shard ? g.has_shard_pub : g.has_router_pub))
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "no public key of the %s at %s ([security] %s_key)",
                           shard ? "shard" : "router", endpoint, shard ? "shard" : "router");
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, g.pub, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, g.sec, 32) != 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "CURVE client options: %s",
                           zmq_strerror(errno));
    return 0;
}

oks_role oks_zsec_parse_user(const char *uid, char *name, size_t size)
{
    if (name && size)
        name[0] = '\0';
    const char *colon = uid ? strchr(uid, ':') : NULL;
    if (!colon)
        return OKS_ROLE_NONE;
    oks_role r = oks_role_parse(uid, (size_t)(colon - uid));
    if (r != OKS_ROLE_NONE && name && size)
        snprintf(name, size, "%s", colon + 1);
    return r;
}

oks_role oks_zsec_peer(zmq_msg_t *msg, char *name, size_t size)
{
    const char *uid = zmq_msg_gets(msg, "User-Id");
    return oks_zsec_parse_user(uid, name, size);
}

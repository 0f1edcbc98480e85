/*
 * The configuration table of oks.conf: every section and key any daemon reads, with its type,
 * bounds, default, the field it fills and a one-line description. The file is parsed once
 * (libinih) into one oks_cluster (lib/cluster.h); daemons read the typed fields, never the file.
 *
 * Values are checked against the table while the file is read: an unknown section or key, a
 * key given twice, or a value outside its type or bounds stops the load with
 * "FILE:LINE: [section] key: reason". Defaults are written as text in the table and go through
 * the same parser as the file, so they obey the same rules.
 *
 * docs/config.md is generated from the table (`make config-doc`, which runs `oksctl config doc`);
 * a unit test keeps the two identical.
 */
#ifndef OKS_CONF_H
#define OKS_CONF_H

#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum oks_conf_type {
    OKS_CONF_UINT,     /* decimal digits within [min, max]; unsigned or size_t field */
    OKS_CONF_SIZE,     /* bytes: like UINT, with an optional K, M or G suffix (x1024) */
    OKS_CONF_DECIMAL,  /* digits with an optional fraction (e.g. 0.5) within [dmin, dmax];
                          double field */
    OKS_CONF_BOOL,     /* yes|no|true|false|on|off|1|0; bool field */
    OKS_CONF_STRING,   /* any text shorter than the char[] field */
    OKS_CONF_HOSTPORT, /* HOST:PORT (or [IPv6]:PORT), port 1..65535; oks_hostport field */
    OKS_CONF_ENUM,     /* one of names[]; int field = its index */
    OKS_CONF_LIST,     /* words separated by spaces or commas; stored space-separated in a
                          char[] field */
    OKS_CONF_ZMQ,      /* a ZeroMQ endpoint to connect to (tcp://HOST:PORT with HOST a name
                          or an address, ipc://, inproc://); char[] field */
    OKS_CONF_ZMQ_BIND, /* a ZeroMQ endpoint to bind (tcp://ADDRESS:PORT where ADDRESS may also
                          be an interface name or '*', ipc://, inproc://); char[] field */
    OKS_CONF_ZMQ_LIST, /* ZeroMQ endpoints, like LIST: the cluster's routers array */
    OKS_CONF_SLOTS,    /* a slot list "a-b,c,...": owned char * field */
    OKS_CONF_NETS,     /* addresses or CIDR networks ("any" = all), like LIST; char[] field */
} oks_conf_type;

/* Which programs read a key (docs/config.md's "read by" column). */
enum {
    OKS_CONF_SHARD = 1 << 0,
    OKS_CONF_ROUTER = 1 << 1,
    OKS_CONF_HTTP = 1 << 2,
    OKS_CONF_MAIL = 1 << 3,
    OKS_CONF_SYNC = 1 << 4,
    OKS_CONF_CTL = 1 << 5, /* oksctl */
    OKS_CONF_ALL = 0x3F,
    OKS_CONF_DNS = 1 << 6, /* oks-gw-dns (after ALL: the keys every program reads say "all") */
    OKS_CONF_LDAP = 1 << 7, /* oks-gw-ldap (after ALL, as DNS) */
};

typedef struct oks_conf_entry {
    const char *section;    /* "shard.*" for the keys of every [shard.NAME] section */
    const char *key;
    oks_conf_type type;
    size_t offset, size;    /* the field: in oks_cluster, or in oks_shard_conf for shard.* */
    const char *def;        /* the default, as it would be written in the file ("" = unset) */
    unsigned long long min, max;  /* UINT, SIZE */
    double dmin, dmax;            /* DECIMAL */
    const char *const *names;     /* ENUM: NULL-terminated */
    unsigned readers;       /* OKS_CONF_* bits */
    const char *doc;        /* one line */
} oks_conf_entry;

typedef struct oks_hostport {
    char host[256];
    unsigned port; /* 0: not set */
} oks_hostport;

/* [http]: oks-gw-http */
typedef struct oks_conf_http {
    oks_hostport listen;
    unsigned threads;
    size_t max_body, max_url;
    unsigned max_keys_per_upload;
    unsigned deadline_ms; /* 0: [router] deadline_ms + 500 */
    unsigned max_results;
    double rate_lookup, rate_upload, burst_lookup, burst_upload;
    double rate_verify, burst_verify; /* units of signature work per client */
    char trusted_proxies[512];
    char metrics_allow[512];             /* networks that may read /metrics */
    unsigned max_connections;            /* 0: the descriptor limit less a reserve */
    unsigned max_connections_per_client; /* per peer address, IPv6 per /64 */
    unsigned max_inflight_per_client;    /* cluster requests unanswered per client; 0 = no cap */
    char wkd_domains[1024];
    oks_hostport tls_listen;
    char tls_cert[512], tls_key[512];
    char templates[512];
    size_t cache_mb;
    unsigned cache_check_ms, cache_max_stale_ms;
} oks_conf_http;

/* [dns]: oks-gw-dns */
typedef struct oks_conf_dns {
    oks_hostport listen;
    char domains[1024];
    unsigned ttl, negative_ttl, deadline_ms, max_records;
    char soa_mname[256], soa_rname[256];
    unsigned soa_serial, soa_refresh, soa_retry, soa_expire;
    unsigned max_tcp, tcp_idle_ms, cache_entries;
    double rrl_rate, rrl_burst;
    unsigned rrl_slip;
} oks_conf_dns;

/* [mail]: oks-gw-mail */
enum { OKS_CONF_TLS_NONE, OKS_CONF_TLS_STARTTLS, OKS_CONF_TLS_IMPLICIT };
typedef struct oks_conf_mail {
    oks_hostport pop3, smtp;
    int pop3_tls, smtp_tls; /* OKS_CONF_TLS_* */
    char user[256], password[256], password_file[512];
    char smtp_user[256], smtp_password[256], smtp_password_file[512];
    char address[256], name[128];
    char state_dir[512], templates[512], help_file[512];
    char sync_sites[1024], auth_serv_id[128];
    unsigned answered_days, poll_seconds, io_timeout_seconds, backoff_max_seconds;
    unsigned max_mails_per_poll, delete_batch;
    size_t max_message_bytes, max_parts, max_attachments;
    unsigned max_add_keys, max_reply_keys, max_index_keys, max_last_days;
    unsigned mget_scan_max, last_scan_max;
    unsigned rate_per_sender_hour, rate_global_minute, rate_per_domain_hour, max_tries;
    size_t reply_bytes_per_sender_hour, reply_bytes_per_domain_hour, unauth_reply_bytes;
    unsigned scan_per_sender_hour, scan_global_minute;
} oks_conf_mail;

/* [sync]: oks-sync, and the HTTP gateway and oksctl for state */
typedef struct oks_conf_sync {
    char membership[512], tree[512], state[512];
    unsigned sessions, session_seconds, session_work, fetch_seconds, fetch_max;
    unsigned backoff_seconds, backoff_max_seconds;
    size_t session_buffer;
} oks_conf_sync;

/* [ldap]: oks-gw-ldap (docs/ldap.md) */
typedef struct oks_conf_ldap {
    char socket[108]; /* the back-sock socket slapd connects to (sun_path size) */
    char base_dn[256];
    bool allow_upload;
    unsigned threads, max_filter_terms, max_lookups, min_word_length;
    unsigned size_limit, time_limit, deadline_ms;
    size_t max_request;
} oks_conf_ldap;

/* metrics_listen and metrics_allow of [shard], [router], [sync], [mail] and [ldap]: the daemon's
 * Prometheus /metrics (lib/metrics_http.h) */
typedef struct oks_conf_metrics {
    oks_hostport listen; /* port 0: no /metrics */
    char allow[512];     /* networks that may read it */
} oks_conf_metrics;

/* [security]: CURVE keypairs by role and the public keys each role is accepted with
 * (lib/zsec.h, docs/security.md) */
typedef struct oks_conf_security {
    char router_key[512], shard_key[512], http_key[512], mail_key[512], sync_key[512],
        admin_key[512];
    char routers[4096], http_gateways[4096], mail_gateways[4096], sync_workers[4096],
        admins[4096];
    char audit_log[512];
} oks_conf_security;

/* etcd_* of [cluster]: where the topology lives when it is not the static map of oks.conf
 * (lib/etcd.h, docs/etcd.md) */
typedef struct oks_conf_etcd {
    char endpoints[1024]; /* "" = the static slot map of oks.conf */
    char prefix[256];
    char ca[512], cert[512], key[512];
    char user[128], password_file[512]; /* etcd auth: "" = none */
    unsigned timeout_ms;
} oks_conf_etcd;

/* The table (n entries). */
const oks_conf_entry *oks_conf_table(size_t *n);

/* Parses value by e's type and bounds into the field at base + e->offset. On failure returns
 * OKS_E_FORMAT (or OKS_E_LIMIT for a too-long value) and writes the reason into why; the field
 * may then hold a partial value. */
int oks_conf_set(const oks_conf_entry *e, void *base, const char *value, char *why,
                 size_t why_size);

/* Parses "HOST:PORT" or "[IPv6]:PORT" (port 1..65535), as the table does for HOSTPORT keys;
 * for command-line options that override one. */
int oks_hostport_parse(const char *s, oks_hostport *hp, oks_err *e);

/* conf_doc.c: the reference generated from the table. docs/config.md (Markdown: one table per
 * section) and the oks.conf(5) manual page (roff). 0, or OKS_E_IO when out failed. */
int oks_conf_doc(FILE *out);
int oks_conf_man(FILE *out);

struct oks_cluster;
/* Parses a whole config text (named name in messages) into c over the table's defaults. The
 * cluster-wide checks (slot map, digest) are lib/cluster.c's; this is oks_cluster_load's
 * first half. c is zeroed first; on error it may hold allocations: oks_cluster_release it. */
int oks_conf_parse(const char *name, const char *text, size_t len, struct oks_cluster *c,
                   oks_err *e);

#endif

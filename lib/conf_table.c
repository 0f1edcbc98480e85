/* The table of every oks.conf setting (see lib/conf.h); docs/config.md is generated from it. */
#include "lib/cluster.h"
#include "lib/conf.h"

#include <stddef.h>

#define C_(f) offsetof(oks_cluster, f), sizeof(((oks_cluster *)0)->f)
#define S_(f) offsetof(oks_shard_conf, f), sizeof(((oks_shard_conf *)0)->f)

#define UINT(sec, k, f, d, lo, hi, who, txt)                                                      \
    {.section = sec, .key = k, .type = OKS_CONF_UINT, C_(f), .def = d, .min = lo, .max = hi,     \
     .readers = who, .doc = txt}
#define SIZE(sec, k, f, d, lo, hi, who, txt)                                                      \
    {.section = sec, .key = k, .type = OKS_CONF_SIZE, C_(f), .def = d, .min = lo, .max = hi,     \
     .readers = who, .doc = txt}
#define DEC(sec, k, f, d, lo, hi, who, txt)                                                       \
    {.section = sec, .key = k, .type = OKS_CONF_DECIMAL, C_(f), .def = d, .dmin = lo,            \
     .dmax = hi, .readers = who, .doc = txt}
#define TYPED(sec, k, t, f, d, who, txt)                                                          \
    {.section = sec, .key = k, .type = t, C_(f), .def = d, .readers = who, .doc = txt}
#define ENUM(sec, k, f, d, list, who, txt)                                                        \
    {.section = sec, .key = k, .type = OKS_CONF_ENUM, C_(f), .def = d, .names = list,            \
     .readers = who, .doc = txt}
#define STR(sec, k, f, d, who, txt) TYPED(sec, k, OKS_CONF_STRING, f, d, who, txt)
#define HOSTPORT(sec, k, f, d, who, txt) TYPED(sec, k, OKS_CONF_HOSTPORT, f, d, who, txt)
#define LIST(sec, k, f, who, txt) TYPED(sec, k, OKS_CONF_LIST, f, "", who, txt)

#define CLIENTS                                                                                   \
    (OKS_CONF_HTTP | OKS_CONF_MAIL | OKS_CONF_SYNC | OKS_CONF_CTL | OKS_CONF_DNS | OKS_CONF_LDAP)
#define LDAP OKS_CONF_LDAP
#define MAIL OKS_CONF_MAIL
#define HTTP OKS_CONF_HTTP
#define DNS OKS_CONF_DNS
#define U32 0xFFFFFFFFull
#define ETCD (OKS_CONF_SHARD | OKS_CONF_ROUTER | OKS_CONF_CTL)
#define GIB (1ull << 30)

static const char *const table_reads[] = {"pread", "mmap", NULL};
static const char *const tls_modes[] = {"none", "starttls", "implicit", NULL};

static const oks_conf_entry table[] = {
    UINT("cluster", "slots", n_slots, "4096", 1, 65536, OKS_CONF_ALL,
         "number of slots keys are partitioned into by key ID; fixed for the life of a dataset"),
    TYPED("cluster", "routers", OKS_CONF_ZMQ_LIST, routers, "", OKS_CONF_ROUTER | CLIENTS,
          "router frontend endpoint(s) clients connect to: every client connects to all of them "
          "and sends a request again to another when its router fails; oks-router binds "
          "[router] bind, else the first (--bind overrides both)"),
    UINT("cluster", "replicas", replicas, "1", 1, OKS_MAX_REPLICAS, OKS_CONF_ALL,
         "shards holding each slot: every slot must be listed by exactly this many [shard.NAME] "
         "slots (a map in etcd: from write_quorum to 8 while a replica is added or removed "
         "online; docs/replicas.md)"),
    UINT("cluster", "write_quorum", write_quorum, "0", 0, OKS_MAX_REPLICAS,
         OKS_CONF_ROUTER | OKS_CONF_SHARD,
         "replicas that must store an upload before it is acknowledged (at most replicas; 0 = "
         "1 while replicas <= 2, a majority from 3)"),
    UINT("cluster", "epoch", epoch, "0", 0, U32, OKS_CONF_ALL,
         "version of the slot map: raised by every change oksctl makes to the map kept in etcd "
         "(docs/replicas.md \"Slot moves\"); 0 in a static map"),
    SIZE("cluster", "max_message_bytes", max_message_bytes, "64M", 4096, GIB, OKS_CONF_ALL,
         "hard cap on any ZeroMQ message"),
    LIST("cluster", "etcd", etcd.endpoints, ETCD,
         "etcd endpoints holding the cluster's topology (slot map, replica sets, slot moves), "
         "e.g. https://10.1.0.1:2379,https://10.1.0.2:2379, tried in turn (unset = the static "
         "slot map of this file; docs/etcd.md)"),
    STR("cluster", "etcd_prefix", etcd.prefix, "/oks/", ETCD,
        "prefix of every key OKS keeps in etcd (several clusters may share one etcd)"),
    STR("cluster", "etcd_ca", etcd.ca, "", ETCD,
        "PEM CA file that verifies the etcd servers' certificates (unset = the system's CAs)"),
    STR("cluster", "etcd_cert", etcd.cert, "", ETCD,
        "PEM client certificate presented to etcd (etcd --client-cert-auth; needs etcd_key)"),
    STR("cluster", "etcd_key", etcd.key, "", ETCD,
        "PEM private key of etcd_cert (mode 0600, or 0640 owned by root)"),
    STR("cluster", "etcd_user", etcd.user, "", ETCD,
        "etcd user to authenticate as (etcd auth enabled: the role it holds bounds what OKS "
        "may read and write; needs etcd_password_file; docs/etcd.md \"Access control\")"),
    STR("cluster", "etcd_password_file", etcd.password_file, "", ETCD,
        "file holding etcd_user's password (its first line; mode 0600, or 0640 owned by root)"),
    UINT("cluster", "etcd_timeout_ms", etcd.timeout_ms, "5000", 100, 600000, ETCD,
         "how long one etcd call may take, connection and answer, over all endpoints"),

    {.section = "shard.*", .key = "endpoint", .type = OKS_CONF_ZMQ, S_(endpoint), .def = "",
     .readers = OKS_CONF_SHARD | OKS_CONF_ROUTER,
     .doc = "ZeroMQ endpoint routers connect to, e.g. tcp://shard1.example.org:11410 "
            "(required); the shard binds it too unless bind is set"},
    {.section = "shard.*", .key = "bind", .type = OKS_CONF_ZMQ_BIND, S_(bind), .def = "",
     .readers = OKS_CONF_SHARD,
     .doc = "ZeroMQ endpoint the shard binds, e.g. tcp://0.0.0.0:11410 (unset = endpoint; "
            "needed when endpoint names a host or an address of another machine)"},
    {.section = "shard.*", .key = "data", .type = OKS_CONF_STRING, S_(data_dir), .def = "",
     .readers = OKS_CONF_SHARD, .doc = "the shard's LevelDB directory (required by oks-shard)"},
    {.section = "shard.*", .key = "slots", .type = OKS_CONF_SLOTS, S_(slot_spec), .def = "",
     .readers = OKS_CONF_ALL,
     .doc = "slots the shard holds, e.g. 0-2047,4000 (required; every slot in exactly [cluster] "
            "replicas shards' lists)"},
    {.section = "shard.*", .key = "joining", .type = OKS_CONF_SLOTS, S_(joining_spec),
     .def = "", .readers = OKS_CONF_ALL,
     .doc = "slots the shard is being added to by a slot move (docs/replicas.md \"Slot moves\"): "
            "it gets their writes but serves no reads of them; set by oksctl in the map kept in "
            "etcd, not by hand"},
    {.section = "shard.*", .key = "metrics_listen", .type = OKS_CONF_HOSTPORT,
     S_(metrics_listen), .def = "", .readers = OKS_CONF_SHARD,
     .doc = "address of this shard's Prometheus /metrics (overrides [shard] metrics_listen: "
            "shards on one host need one each)"},

    UINT("router", "deadline_ms", router_deadline_ms, "5000", 1, 3600000,
         OKS_CONF_ROUTER | CLIENTS,
         "per-request deadline; a shard that has not answered by then is reported unavailable"),
    TYPED("router", "bind", OKS_CONF_ZMQ_BIND, router_bind, "", OKS_CONF_ROUTER,
          "frontend endpoint oks-router binds, e.g. tcp://0.0.0.0:11400 (unset = the first of "
          "[cluster] routers; --bind overrides it)"),
    UINT("router", "max_results", router_max_results, "500", 1, 10000, OKS_CONF_ROUTER,
         "results kept after merging a fan-out (search, short key IDs, subkey IDs)"),
    HOSTPORT("router", "metrics_listen", router_metrics.listen, "", OKS_CONF_ROUTER,
             "address of oks-router's Prometheus /metrics, e.g. 127.0.0.1:9411 (unset = none)"),
    TYPED("router", "metrics_allow", OKS_CONF_NETS, router_metrics.allow, "127.0.0.0/8 ::1",
          OKS_CONF_ROUTER,
          "clients that may read oks-router's /metrics: addresses or CIDR networks, \"any\" for "
          "everyone, empty for nobody; others get 403"),

    UINT("shard", "workers", shard_workers, "0", 0, 256, OKS_CONF_SHARD,
         "reader threads, and as many verifier threads (0 = number of CPUs)"),
    UINT("shard", "cache_mb", shard_cache_mb, "64", 1, 65536, OKS_CONF_SHARD,
         "LevelDB block cache, MiB"),
    UINT("shard", "write_buffer_mb", shard_write_buffer_mb, "16", 1, 1024, OKS_CONF_SHARD,
         "LevelDB memtable, MiB (two exist while one is written to disk)"),
    UINT("shard", "max_open_files", shard_max_open_files, "500", 1, 50000, OKS_CONF_SHARD,
         "table files kept open (each holds a descriptor, its index block and bloom filter)"),
    ENUM("shard", "table_reads", shard_table_reads, "pread", table_reads, OKS_CONF_SHARD,
         "how table files are read: pread (memory bounded by the caches) or mmap (RSS grows "
         "with the database)"),
    UINT("shard", "search_max_matches", search_max_matches, "500", 1, 10000, OKS_CONF_SHARD,
         "most keys one shard returns for a search"),
    UINT("shard", "repair_interval_s", shard_repair_interval_s, "600", 0, 604800, OKS_CONF_SHARD,
         "with [cluster] replicas > 1: seconds between full comparisons (slot digests) with "
         "each replica peer; 0 = only at start after a wipe, when a peer's change log no "
         "longer covers the gap, and on oksctl repair"),
    UINT("shard", "background_rate", shard_background_rate, "2000", 0, 10000000,
         OKS_CONF_SHARD,
         "keys per second the shard's background work handles at most while it serves reads: "
         "a comparison's copies (a live replica's repair, the new replica of a slot move; in "
         "batches of at most 128) and the purge after a move, so lookups on the shards "
         "involved keep their latency; 0 = no limit. The rebuild of a wiped replica is never "
         "paced"),
    UINT("shard", "changelog_keep", shard_changelog_keep, "0", 0, 4000000000u, OKS_CONF_SHARD,
         "change-log entries kept (the newest); 0 = all. A replica peer left further behind "
         "repairs by a full comparison; oks-sync and the HTTP cache miss the pruned entries"),
    HOSTPORT("shard", "metrics_listen", shard_metrics.listen, "", OKS_CONF_SHARD,
             "address of oks-shard's Prometheus /metrics, e.g. 127.0.0.1:9411 (unset = none; "
             "[shard.NAME] metrics_listen overrides it)"),
    TYPED("shard", "metrics_allow", OKS_CONF_NETS, shard_metrics.allow, "127.0.0.0/8 ::1",
          OKS_CONF_SHARD,
          "clients that may read the shards' /metrics: addresses or CIDR networks, \"any\" for "
          "everyone, empty for nobody; others get 403"),

    SIZE("limits", "max_key_bytes", max_key_bytes, "1M", 1024, GIB, OKS_CONF_SHARD,
         "largest key accepted"),
    SIZE("limits", "max_packet_bytes", max_packet_bytes, "8192", 64, GIB, OKS_CONF_SHARD,
         "largest packet other than signatures and user attributes"),
    SIZE("limits", "max_attribute_bytes", max_attribute_bytes, "65536", 64, GIB, OKS_CONF_SHARD,
         "largest user attribute (photo)"),
    SIZE("limits", "max_sig_bytes", max_sig_bytes, "65536", 64, GIB, OKS_CONF_SHARD,
         "largest signature packet"),
    UINT("limits", "max_packets", max_packets, "20000", 1, 10000000, OKS_CONF_SHARD,
         "packets in one key"),
    UINT("limits", "max_uids", max_uids, "256", 1, 100000, OKS_CONF_SHARD, "user IDs in one key"),
    UINT("limits", "max_subkeys", max_subkeys, "256", 1, 100000, OKS_CONF_SHARD,
         "subkeys in one key"),
    UINT("limits", "max_sigs_per_uid", max_sigs_per_uid, "5000", 1, 10000000, OKS_CONF_SHARD,
         "signatures kept per user ID"),
    UINT("limits", "max_third_party_per_uid", max_third_party_per_uid, "256", 1, 10000,
         OKS_CONF_SHARD,
         "certifications by other keys kept per user ID (also at most 2048 per key, shared by "
         "its user IDs; the oldest kept, see docs/lib.md)"),

    HOSTPORT("http", "listen", http.listen, "127.0.0.1:11371", HTTP,
             "address the HTTP gateway listens on (IPv4; --listen overrides it)"),
    UINT("http", "threads", http.threads, "2", 1, 64, HTTP, "event-loop threads"),
    SIZE("http", "max_body", http.max_body, "5M", 1024, GIB, HTTP,
         "largest POST body; above: 413"),
    SIZE("http", "max_url", http.max_url, "8192", 256, 1ull << 20, HTTP,
         "longest path and query; above: 414"),
    UINT("http", "max_keys_per_upload", http.max_keys_per_upload, "100", 1, 10000, HTTP,
         "keys in one /pks/add; above: 413"),
    UINT("http", "deadline_ms", http.deadline_ms, "0", 0, 3600000, HTTP,
         "how long a request may wait for the cluster before 503 + Retry-After "
         "(0 = [router] deadline_ms + 500)"),
    UINT("http", "max_results", http.max_results, "500", 1, 10000, HTTP, "keys in one answer"),
    DEC("http", "rate_lookup", http.rate_lookup, "0", 0, 1e6, HTTP,
        "lookups per second per client (0 = no limit)"),
    DEC("http", "burst_lookup", http.burst_lookup, "100", 1, 1e6, HTTP,
        "lookups a client may make at once before rate_lookup applies"),
    DEC("http", "rate_upload", http.rate_upload, "0", 0, 1e6, HTTP,
        "uploads per second per client (0 = no limit)"),
    DEC("http", "burst_upload", http.burst_upload, "10", 1, 1e6, HTTP,
        "uploads a client may make at once before rate_upload applies"),
    DEC("http", "rate_verify", http.rate_verify, "200", 0, 1e9, HTTP,
        "signature checks per second per client that its uploads may cause, in units of one "
        "RSA-2048 or Ed25519 check, charged before the key is sent on (0 = no limit)"),
    DEC("http", "burst_verify", http.burst_verify, "20000", 1, 1e9, HTTP,
        "signature-check units a client may spend at once before rate_verify applies"),
    LIST("http", "trusted_proxies", http.trusted_proxies, HTTP,
         "peer addresses whose X-Forwarded-For names the client"),
    TYPED("http", "metrics_allow", OKS_CONF_NETS, http.metrics_allow, "127.0.0.0/8 ::1", HTTP,
          "clients that may read /metrics: addresses or CIDR networks, \"any\" for everyone; "
          "others get 403 (behind a trusted proxy the client is the one X-Forwarded-For names)"),
    UINT("http", "max_connections", http.max_connections, "0", 0, 1000000, HTTP,
         "client connections open at once (0 = the descriptor limit less 128); at the cap new "
         "connections wait in the kernel's backlog"),
    UINT("http", "max_connections_per_client", http.max_connections_per_client, "128", 1,
         1000000, HTTP,
         "connections one peer address (IPv6: one /64) may hold open; trusted proxies exempt"),
    UINT("http", "max_inflight_per_client", http.max_inflight_per_client, "64", 0, 16384, HTTP,
         "cluster requests one client may have unanswered, also of reset streams and closed "
         "connections; above: 429 (0 = no cap)"),
    LIST("http", "wkd_domains", http.wkd_domains, HTTP,
         "domains served by the Web Key Directory"),
    HOSTPORT("http", "tls_listen", http.tls_listen, "", HTTP,
             "hkps listener (needs tls_cert and tls_key; unset = no hkps)"),
    STR("http", "tls_cert", http.tls_cert, "", HTTP, "PEM certificate chain for tls_listen"),
    STR("http", "tls_key", http.tls_key, "", HTTP, "PEM private key for tls_listen"),
    STR("http", "templates", http.templates, "", HTTP,
        "directory of NAME.html page templates (unset = built-in pages)"),
    UINT("http", "cache_mb", http.cache_mb, "256", 0, 65536, HTTP,
         "answer cache for machine-readable answers, MiB (0 = off)"),
    UINT("http", "cache_check_ms", http.cache_check_ms, "100", 10, 60000, HTTP,
         "how often the shards' change logs are read to drop changed answers"),
    UINT("http", "cache_max_stale_ms", http.cache_max_stale_ms, "2000", 10, 3600000, HTTP,
         "change logs unread for longer: cached answers are bypassed (>= cache_check_ms)"),

    HOSTPORT("mail", "pop3", mail.pop3, "127.0.0.1:110", MAIL, "POP3 server of the mailbox"),
    ENUM("mail", "pop3_tls", mail.pop3_tls, "none", tls_modes, MAIL,
         "TLS to the POP3 server: none, starttls (STLS) or implicit (POP3S)"),
    STR("mail", "user", mail.user, "", MAIL, "POP3 login (required by oks-gw-mail)"),
    STR("mail", "password", mail.password, "", MAIL, "POP3 password (better: password_file)"),
    STR("mail", "password_file", mail.password_file, "", MAIL,
        "file whose first line is the POP3 password"),
    HOSTPORT("mail", "smtp", mail.smtp, "127.0.0.1:25", MAIL, "SMTP server for replies"),
    ENUM("mail", "smtp_tls", mail.smtp_tls, "none", tls_modes, MAIL,
         "TLS to the SMTP server: none, starttls or implicit (SMTPS)"),
    STR("mail", "smtp_user", mail.smtp_user, "", MAIL, "SMTP AUTH login (unset = no AUTH)"),
    STR("mail", "smtp_password", mail.smtp_password, "", MAIL, "SMTP AUTH password"),
    STR("mail", "smtp_password_file", mail.smtp_password_file, "", MAIL,
        "file whose first line is the SMTP password"),
    STR("mail", "address", mail.address, "", MAIL,
        "the gateway's own address: From of replies, envelope sender (required)"),
    STR("mail", "name", mail.name, "OpenPGP keyserver", MAIL, "display name in From"),
    STR("mail", "state_dir", mail.state_dir, "", MAIL,
        "the answered-mail store (LevelDB; required)"),
    UINT("mail", "answered_days", mail.answered_days, "14", 0, 3650, MAIL,
         "days answered-mail records are kept"),
    STR("mail", "templates", mail.templates, "", MAIL,
        "directory of NAME.txt reply templates (unset = built-in)"),
    STR("mail", "help_file", mail.help_file, "", MAIL, "HELP reply text (unset = built-in)"),
    UINT("mail", "poll_seconds", mail.poll_seconds, "30", 1, 86400, MAIL,
         "pause between polls of the mailbox"),
    UINT("mail", "io_timeout_seconds", mail.io_timeout_seconds, "30", 1, 3600, MAIL,
         "POP3 and SMTP timeout"),
    UINT("mail", "backoff_max_seconds", mail.backoff_max_seconds, "300", 0, 86400, MAIL,
         "longest pause after failed polls"),
    UINT("mail", "max_mails_per_poll", mail.max_mails_per_poll, "1000", 1, U32, MAIL,
         "mails handled in one poll"),
    UINT("mail", "delete_batch", mail.delete_batch, "50", 1, 10000, MAIL,
         "mails handled per synced write of the answered store (then their DELEs)"),
    SIZE("mail", "max_message_bytes", mail.max_message_bytes, "1M", 1024, GIB, MAIL,
         "largest mail handled"),
    UINT("mail", "max_parts", mail.max_parts, "16", 1, 1000, MAIL,
         "MIME parts of one mail, and multipart/message parts it declares (more: error)"),
    UINT("mail", "max_attachments", mail.max_attachments, "8", 0, 1000, MAIL,
         "key attachments of one mail"),
    UINT("mail", "max_add_keys", mail.max_add_keys, "50", 0, 100000, MAIL, "keys in one ADD"),
    UINT("mail", "max_reply_keys", mail.max_reply_keys, "20", 0, 100000, MAIL,
         "keys in one reply (GET, MGET, LAST)"),
    UINT("mail", "max_index_keys", mail.max_index_keys, "100", 0, 100000, MAIL,
         "keys listed by INDEX and VERBOSE INDEX"),
    UINT("mail", "max_last_days", mail.max_last_days, "7", 0, 3650, MAIL,
         "largest LAST argument (0 disables LAST)"),
    UINT("mail", "mget_scan_max", mail.mget_scan_max, "100000", 0, U32, MAIL,
         "keys MGET looks at, all shards together"),
    UINT("mail", "last_scan_max", mail.last_scan_max, "100000", 0, U32, MAIL,
         "change-log entries LAST looks at"),
    UINT("mail", "rate_per_sender_hour", mail.rate_per_sender_hour, "20", 0, U32, MAIL,
         "mails run per reply address per hour, counted before running (0 = unlimited)"),
    UINT("mail", "rate_per_domain_hour", mail.rate_per_domain_hour, "200", 0, U32, MAIL,
         "mails run per reply domain per hour (0 = unlimited)"),
    UINT("mail", "rate_global_minute", mail.rate_global_minute, "600", 0, U32, MAIL,
         "mails run per minute (0 = unlimited)"),
    SIZE("mail", "reply_bytes_per_sender_hour", mail.reply_bytes_per_sender_hour, "4M", 0, GIB,
         MAIL, "reply bytes per reply address per hour (0 = unlimited)"),
    SIZE("mail", "reply_bytes_per_domain_hour", mail.reply_bytes_per_domain_hour, "32M", 0, GIB,
         MAIL, "reply bytes per reply domain per hour (0 = unlimited)"),
    UINT("mail", "scan_per_sender_hour", mail.scan_per_sender_hour, "200000", 0, U32, MAIL,
         "keys (MGET) and change-log entries (LAST) looked at per reply address per hour"),
    UINT("mail", "scan_global_minute", mail.scan_global_minute, "300000", 0, U32, MAIL,
         "keys and change-log entries MGET and LAST look at per minute (0 = unlimited)"),
    STR("mail", "auth_serv_id", mail.auth_serv_id, "", MAIL,
        "authserv-id of the receiving MTA's Authentication-Results (unset = trust none)"),
    SIZE("mail", "unauth_reply_bytes", mail.unauth_reply_bytes, "16K", 0, GIB, MAIL,
         "largest reply to an address not authenticated by DMARC, DKIM or SPF (0 = no cap)"),
    UINT("mail", "max_tries", mail.max_tries, "5", 1, 1000, MAIL,
         "runs of a mail whose command fails before it is answered with an error"),
    LIST("mail", "sync_sites", mail.sync_sites, MAIL,
         "addresses of PKS sync peers sent incrementals"),
    HOSTPORT("mail", "metrics_listen", mail_metrics.listen, "", MAIL,
             "address of oks-gw-mail's Prometheus /metrics, e.g. 127.0.0.1:9411 (unset = none)"),
    TYPED("mail", "metrics_allow", OKS_CONF_NETS, mail_metrics.allow, "127.0.0.0/8 ::1",
          MAIL,
          "clients that may read oks-gw-mail's /metrics: addresses or CIDR networks, \"any\" for "
          "everyone, empty for nobody; others get 403"),

    STR("sync", "membership", sync.membership, "", OKS_CONF_SYNC,
        "partner list in SKS's membership format (\"HOST PORT\" per line, # comments)"),
    STR("sync", "tree", sync.tree, "", OKS_CONF_SYNC | OKS_CONF_CTL,
        "the worker's prefix tree (LevelDB)"),
    STR("sync", "state", sync.state, "", OKS_CONF_SYNC | OKS_CONF_HTTP | OKS_CONF_CTL,
        "partner state the worker writes after every round (op=stats, oksctl sync status)"),
    UINT("sync", "sessions", sync.sessions, "8", 1, 64, OKS_CONF_SYNC,
         "rounds (recon session, then fetch) run at once; one at a time per partner"),
    UINT("sync", "session_seconds", sync.session_seconds, "600", 1, 86400, OKS_CONF_SYNC,
         "whole time of one recon session (each message must also arrive within --timeout)"),
    UINT("sync", "session_work", sync.session_work, "0", 0, U32, OKS_CONF_SYNC,
         "elements one session may handle, sets read from the tree included (0 = 4 x tree "
         "size + 1,000,000)"),
    SIZE("sync", "session_buffer", sync.session_buffer, "16M", 65536, GIB, OKS_CONF_SYNC,
         "answers a session keeps that the peer has not read yet"),
    UINT("sync", "fetch_max", sync.fetch_max, "100000", 1, 10000000, OKS_CONF_SYNC,
         "hashes fetched per round; the rest wait for later rounds"),
    UINT("sync", "fetch_seconds", sync.fetch_seconds, "900", 1, 86400, OKS_CONF_SYNC,
         "whole time of one round's fetch from a partner's /pks/hashquery"),
    UINT("sync", "backoff_seconds", sync.backoff_seconds, "60", 1, 86400, OKS_CONF_SYNC,
         "a partner whose round failed waits this long, doubled per failure in a row"),
    UINT("sync", "backoff_max_seconds", sync.backoff_max_seconds, "3600", 1, 604800,
         OKS_CONF_SYNC, "longest back-off of a failing partner"),
    HOSTPORT("sync", "metrics_listen", sync_metrics.listen, "", OKS_CONF_SYNC,
             "address of oks-sync's Prometheus /metrics, e.g. 127.0.0.1:9411 (unset = none)"),
    TYPED("sync", "metrics_allow", OKS_CONF_NETS, sync_metrics.allow, "127.0.0.0/8 ::1",
          OKS_CONF_SYNC,
          "clients that may read oks-sync's /metrics: addresses or CIDR networks, \"any\" for "
          "everyone, empty for nobody; others get 403"),

    HOSTPORT("dns", "listen", dns.listen, "127.0.0.1:5353", DNS,
             "UDP and TCP address of oks-gw-dns (OPENPGPKEY, RFC 7929)"),
    LIST("dns", "domains", dns.domains, DNS,
         "mail domains whose _openpgpkey zones oks-gw-dns answers (others: REFUSED)"),
    UINT("dns", "ttl", dns.ttl, "3600", 0, 604800, DNS, "TTL of OPENPGPKEY records (seconds)"),
    UINT("dns", "negative_ttl", dns.negative_ttl, "300", 0, 86400, DNS,
         "SOA minimum and TTL of negative answers (NXDOMAIN, NODATA)"),
    UINT("dns", "deadline_ms", dns.deadline_ms, "0", 0, 3600000, DNS,
         "wait for the cluster per query (0 = [router] deadline_ms + 500; SERVFAIL above)"),
    UINT("dns", "max_records", dns.max_records, "10", 1, 100, DNS,
         "OPENPGPKEY records (keys) in one answer"),
    STR("dns", "soa_mname", dns.soa_mname, "", DNS,
        "SOA MNAME of each zone (unset = ns._openpgpkey.DOMAIN)"),
    STR("dns", "soa_rname", dns.soa_rname, "", DNS,
        "SOA RNAME of each zone (unset = hostmaster._openpgpkey.DOMAIN)"),
    UINT("dns", "soa_serial", dns.soa_serial, "1", 0, U32, DNS, "SOA serial"),
    UINT("dns", "soa_refresh", dns.soa_refresh, "3600", 0, U32, DNS, "SOA refresh (seconds)"),
    UINT("dns", "soa_retry", dns.soa_retry, "600", 0, U32, DNS, "SOA retry (seconds)"),
    UINT("dns", "soa_expire", dns.soa_expire, "604800", 0, U32, DNS, "SOA expire (seconds)"),
    UINT("dns", "max_tcp", dns.max_tcp, "64", 1, 10000, DNS, "TCP connections at once"),
    UINT("dns", "tcp_idle_ms", dns.tcp_idle_ms, "10000", 100, 600000, DNS,
         "a TCP connection idle this long is closed"),
    UINT("dns", "cache_entries", dns.cache_entries, "1024", 0, 1000000, DNS,
         "answers kept for up to negative_ttl (negative) or 60 s (0 = no cache)"),
    DEC("dns", "rrl_rate", dns.rrl_rate, "20", 0, 1e6, DNS,
        "UDP responses per second per client /24 (IPv4) or /64 (IPv6); 0 = no limit"),
    DEC("dns", "rrl_burst", dns.rrl_burst, "40", 1, 1e6, DNS, "UDP responses a prefix may burst"),
    UINT("dns", "rrl_slip", dns.rrl_slip, "2", 0, 10, DNS,
         "every Nth response over the limit is sent truncated (TC=1, empty) instead of dropped; "
         "0 = drop all"),

    STR("ldap", "socket", ldap.socket, "/run/oks/gw-ldap.sock", LDAP,
        "UNIX socket oks-gw-ldap listens on and slapd's back-sock database connects to"),
    STR("ldap", "base_dn", ldap.base_dn, "o=OpenKeyServer", LDAP,
        "suffix of slapd's sock database; keys are under ou=GnuPG Keys,BASE_DN and "
        "cn=pgpServerInfo,BASE_DN points there"),
    TYPED("ldap", "allow_upload", OKS_CONF_BOOL, ldap.allow_upload, "no", LDAP,
          "accept keys through LDAP add and modify (no: insufficientAccessRights)"),
    UINT("ldap", "threads", ldap.threads, "16", 1, 256, LDAP,
         "operations in progress at once (one event-loop thread serves them all and pipelines "
         "their lookups over one router client; more wait in the socket's backlog); slapd-conf "
         "writes it as slapd's threads (at least 2), one per operation in progress"),
    UINT("ldap", "max_filter_terms", ldap.max_filter_terms, "16", 1, 256, LDAP,
         "items and operators of one search filter (more: adminLimitExceeded)"),
    UINT("ldap", "max_lookups", ldap.max_lookups, "4", 1, 64, LDAP,
         "cluster lookups one search may make, e.g. branches of an OR (more: "
         "adminLimitExceeded)"),
    UINT("ldap", "min_word_length", ldap.min_word_length, "3", 1, 64, LDAP,
         "a user ID or mailbox search needs a word at least this long (else "
         "unwillingToPerform)"),
    UINT("ldap", "size_limit", ldap.size_limit, "100", 1, 10000, LDAP,
         "entries one search returns (slapd sizelimit; more: sizeLimitExceeded)"),
    UINT("ldap", "time_limit", ldap.time_limit, "10", 1, 3600, LDAP,
         "seconds one operation may take (slapd timelimit)"),
    UINT("ldap", "deadline_ms", ldap.deadline_ms, "0", 0, 3600000, LDAP,
         "wait for the cluster per lookup (0 = [router] deadline_ms + 500; above: busy)"),
    SIZE("ldap", "max_request", ldap.max_request, "4M", 4096, GIB, LDAP,
         "largest request slapd hands over (an upload's LDIF; more: adminLimitExceeded)"),
    HOSTPORT("ldap", "metrics_listen", ldap_metrics.listen, "", LDAP,
             "address of oks-gw-ldap's Prometheus /metrics, e.g. 127.0.0.1:9411 (unset = none)"),
    TYPED("ldap", "metrics_allow", OKS_CONF_NETS, ldap_metrics.allow, "127.0.0.0/8 ::1", LDAP,
          "clients that may read oks-gw-ldap's /metrics: addresses or CIDR networks, \"any\" for "
          "everyone, empty for nobody; others get 403"),

    STR("security", "router_key", security.router_key, "", OKS_CONF_ALL & ~OKS_CONF_SHARD,
        "CURVE secret key file of oks-router (mode 0600; public key in the same name + .pub, "
        "which every client of a router reads)"),
    STR("security", "shard_key", security.shard_key, "", OKS_CONF_SHARD | OKS_CONF_ROUTER,
        "CURVE secret key file of oks-shard (its .pub is read by routers)"),
    STR("security", "http_key", security.http_key, "",
        OKS_CONF_HTTP | OKS_CONF_DNS | LDAP | OKS_CONF_ROUTER,
        "CURVE secret key file of oks-gw-http (oks-gw-ldap uses the same role and key)"),
    STR("security", "mail_key", security.mail_key, "", MAIL | OKS_CONF_ROUTER,
        "CURVE secret key file of oks-gw-mail"),
    STR("security", "sync_key", security.sync_key, "", OKS_CONF_SYNC | OKS_CONF_ROUTER,
        "CURVE secret key file of oks-sync"),
    STR("security", "admin_key", security.admin_key, "", OKS_CONF_CTL | OKS_CONF_ROUTER |
        OKS_CONF_SHARD, "CURVE secret key file of oksctl: the cluster's administrator"),
    LIST("security", "routers", security.routers, OKS_CONF_SHARD,
         "public key files shards accept as routers (unset = router_key.pub); a key's name "
         "is its file name without .pub"),
    LIST("security", "http_gateways", security.http_gateways, OKS_CONF_ROUTER,
         "public key files routers accept as HTTP gateways (unset = http_key.pub)"),
    LIST("security", "mail_gateways", security.mail_gateways, OKS_CONF_ROUTER,
         "public key files routers accept as mail gateways (unset = mail_key.pub)"),
    LIST("security", "sync_workers", security.sync_workers, OKS_CONF_ROUTER,
         "public key files routers accept as sync workers (unset = sync_key.pub)"),
    LIST("security", "admins", security.admins, OKS_CONF_ROUTER | OKS_CONF_SHARD,
         "public key files routers and shards accept as administrators (unset = "
         "admin_key.pub)"),
    STR("security", "audit_log", security.audit_log, "", OKS_CONF_ROUTER | OKS_CONF_SHARD,
        "append-only log of administrative operations and refused requests (unset = the log)"),
};

const oks_conf_entry *oks_conf_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

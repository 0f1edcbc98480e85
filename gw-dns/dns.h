/*
 * oks-gw-dns: OPENPGPKEY records (RFC 7929) for the mail domains of [dns] domains, answered from
 * the keys of the cluster through its routers (SEARCH_DANE, the shards' index of addresses by
 * owner-name hash). Stateless apart from a small bounded answer cache. The wire format is
 * libknot's (packet parsing and writing, EDNS, name compression); docs/dns.md has the design.
 */
#ifndef OKS_GW_DNS_H
#define OKS_GW_DNS_H

#include "lib/buf.h"
#include "lib/cluster.h"
#include "lib/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GWD_HASH_LEN 28 /* octets of SHA2-256(local part) in an owner name */
#define GWD_HASH_HEX 56
#define GWD_MAX_DOMAINS 32
#define GWD_UDP_MAX 4096         /* largest UDP answer, whatever the client's EDNS buffer */
#define GWD_EDNS_ADVERTISED 1232 /* the UDP buffer size in our OPT records */

/* ---- owner names (owner.c) -------------------------------------------------------------- */

/* Hex (lowercase) of the first 28 octets of SHA2-256 of local[0..n) as given: the first label
 * of the OPENPGPKEY owner name of local@domain. */
void gwd_owner_hash(const char *local, size_t n, char out[GWD_HASH_HEX + 1]);

typedef struct gwd_zones {
    char names[GWD_MAX_DOMAINS][254]; /* mail domains, lowercase, no trailing dot */
    size_t n;
} gwd_zones;

/* Fills z from a space- or comma-separated list. OKS_E_ARG for a bad or too long list. */
int gwd_zones_parse(gwd_zones *z, const char *list, oks_err *e);

enum gwd_name_kind {
    GWD_NAME_OUTSIDE = 0, /* not under any served _openpgpkey zone: REFUSED */
    GWD_NAME_APEX,        /* _openpgpkey.DOMAIN itself */
    GWD_NAME_OWNER,       /* <56 hex>._openpgpkey.DOMAIN: hash filled */
    GWD_NAME_OTHER,       /* any other name in the zone: NXDOMAIN */
};

typedef struct gwd_name {
    enum gwd_name_kind kind;
    size_t zone;                 /* index in gwd_zones (APEX, OWNER, OTHER) */
    char hash[GWD_HASH_HEX + 1]; /* OWNER: lowercase hex */
} gwd_name;

/* Classifies a (lowercased) wire-format name. */
void gwd_name_classify(const gwd_zones *z, const uint8_t *qname, gwd_name *out);

/* ---- keys (minimise.c) ----------------------------------------------------------------- */

/* The RFC 7929 record data for addr from one stored key: the primary key with its direct-key
 * self-signatures, the one user ID whose address is addr with its newest self-certification,
 * and the encryption subkeys with their newest binding signatures; no third-party
 * certifications, no other user IDs. Returns 1 with the key appended to out, 0 when the key is
 * not served (revoked, expired at now, no valid user ID with that address), or a negative
 * OKS_E_* when the key does not parse. The address is the one whose local part hashes to
 * addr_hash (gwd_owner_hash, lowercase hex) at domain (lowercase). */
int gwd_minimise(const uint8_t *key, size_t n, const char *addr_hash, const char *domain,
                 uint32_t now, oks_buf *out, oks_err *e);

/* ---- answers (answer.c) ---------------------------------------------------------------- */

typedef struct gwd_soa {
    char mname[256], rname[256]; /* "" = ns. / hostmaster. under the zone */
    uint32_t serial, refresh, retry, expire, minimum;
} gwd_soa;

/* What a query asks, after gwd_query_parse. */
typedef struct gwd_query {
    uint16_t id, qtype, qclass;
    bool rd, edns, do_bit, has_question;
    uint16_t udp_size;  /* the client's buffer: 512 without EDNS */
    uint8_t qname[256]; /* lowercased wire name */
    int rcode;          /* -1: answerable; else the error to answer (FORMERR, NOTIMP, ...) */
} gwd_query;

/* Parses a query. Returns 0 (q filled; q->rcode may say FORMERR/NOTIMP), or -1 when nothing
 * may be answered (shorter than a header, or a response). */
int gwd_query_parse(const uint8_t *wire, size_t n, gwd_query *q);

/* The records of one answer: rdata blobs (each <= 65535 bytes) one after the other, all of
 * type (0 = OPENPGPKEY). Owns data (oks_buf_release). */
#define GWD_MAX_RECORDS 100
typedef struct gwd_records {
    oks_buf data;
    uint16_t len[GWD_MAX_RECORDS];
    size_t n;
    uint16_t type;
} gwd_records;

/* Appends one record; OKS_E_LIMIT when it is over 65535 bytes or the set is full. */
int gwd_records_add(gwd_records *r, const uint8_t *p, size_t n);

/* The SOA rdata of the zone of mail domain zone into rd; its length, 0 on error. */
size_t gwd_soa_rdata(const char *zone, const gwd_soa *soa, uint8_t *rd, size_t cap);

/* Builds the response to q (whose wire is qwire) into out (cap bytes at most, the transport's
 * limit). rcode: DNS rcode; records (may be NULL) go into the answer at the query name; a
 * negative answer (NXDOMAIN, or NOERROR without records) carries the zone's SOA in authority.
 * When the answer does not fit, it goes out empty with TC=1. Returns the length, or 0 if even
 * that cannot be written. */
size_t gwd_answer(const uint8_t *qwire, const gwd_query *q, int rcode, const gwd_records *recs,
                  uint32_t ttl, const char *zone, const gwd_soa *soa, uint8_t *out, size_t cap);

/* The bytes an answer may have over this transport: TCP 65535, UDP the client's EDNS buffer
 * (at least 512, at most GWD_UDP_MAX), 512 without EDNS. */
size_t gwd_answer_cap(const gwd_query *q, bool tcp);

/* ---- answer cache (cache.c) ------------------------------------------------------------ */

/* A direct-mapped table of lookups by (hash, zone): rcode and records, each with its own
 * expiry; a new entry replaces whatever held its slot. Bounded by its slot count. */
typedef struct gwd_cache gwd_cache;
gwd_cache *gwd_cache_new(size_t slots);
void gwd_cache_free(gwd_cache *c);
/* A fresh entry: its rcode, and its records copied into out (initialised by the caller).
 * Returns true on a hit. */
bool gwd_cache_get(gwd_cache *c, const char *hash, size_t zone, uint64_t now_ms, int *rcode,
                   gwd_records *out);
void gwd_cache_put(gwd_cache *c, const char *hash, size_t zone, uint64_t expires_ms, int rcode,
                   const gwd_records *recs);

/* ---- the server (server.c) ------------------------------------------------------------- */

/* Serves [dns] of conf on listen (NULL = [dns] listen) over UDP and TCP until *stop, asking
 * the routers through zctx (CURVE already set up). */
int gwd_run(const oks_cluster *conf, const char *listen, atomic_int *stop, void *zctx, oks_err *e);

/* ---- response rate limiting (rrl.c) ------------------------------------------------------ */

typedef struct gwd_rrl gwd_rrl;
enum gwd_rrl_verdict { GWD_RRL_SEND, GWD_RRL_SLIP, GWD_RRL_DROP };
/* rate responses/s per prefix (0 = unlimited), burst, every slip-th limited response slips
 * (0 = none); buckets: table size (fixed memory). */
gwd_rrl *gwd_rrl_new(double rate, double burst, unsigned slip, size_t buckets);
void gwd_rrl_free(gwd_rrl *r);
/* One UDP response to addr at now_ms: send it, send an empty TC=1 one, or drop it. IPv4 counts
 * per /24, IPv6 per /64. */
enum gwd_rrl_verdict gwd_rrl_check(gwd_rrl *r, const struct sockaddr *addr, uint64_t now_ms);

#endif

/*
 * sync/recon_wire: the SKS recon wire format (protocols.md §2.6-2.7) as pure functions over
 * buffers: framed messages (BE32 length covering type byte + body), their bodies, the Config
 * exchange and its unframed "passed"/"failed" verdict. Every length read is checked against what
 * remains and against explicit limits; parse errors name the field and byte offset.
 */
#ifndef OKS_SYNC_RECON_WIRE_H
#define OKS_SYNC_RECON_WIRE_H

#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "sync/poly.h"
#include "sync/zzp.h"

enum oks_recon_type {
    OKS_RECON_RQST_POLY = 0,
    OKS_RECON_RQST_FULL = 1,
    OKS_RECON_ELEMENTS = 2,
    OKS_RECON_FULL_ELEMENTS = 3,
    OKS_RECON_SYNC_FAIL = 4,
    OKS_RECON_DONE = 5,
    OKS_RECON_FLUSH = 6,
    OKS_RECON_ERROR = 7,
    OKS_RECON_DB_RQST = 8,
    OKS_RECON_DB_REPL = 9,
    OKS_RECON_CONFIG = 10,
};

/* Limits on what a peer may send; oks_recon_limits_default documents the defaults. */
typedef struct oks_recon_limits {
    uint32_t max_msg;       /* message length L (type + body): 16 MiB, as conflux */
    uint32_t max_elements;  /* elements in one ZSet: 500000 */
    uint32_t max_string;    /* one string (error text, config key/value): 65536 */
    uint32_t max_config;    /* config entries: 64 */
} oks_recon_limits;

void oks_recon_limits_default(oks_recon_limits *l);

/* A node prefix: bits MSB-first; at most 128 (the hash width). */
#define OKS_RECON_MAX_BITS 128
typedef struct oks_recon_bits {
    uint32_t nbits;
    uint8_t b[OKS_RECON_MAX_BITS / 8];
} oks_recon_bits;

/* bit i (0 = 0x80 of byte 0) */
static inline int oks_recon_bit(const uint8_t *b, uint32_t i)
{
    return (b[i / 8] >> (7 - i % 8)) & 1;
}
/* child prefix: prefix + 2 bits (c is 0..3, high bit first); fails past 128 bits */
int oks_recon_bits_child(const oks_recon_bits *p, int c, oks_recon_bits *out);
/* Text like "0110" (at most 129 bytes incl. NUL) for logs. */
const char *oks_recon_bits_str(const oks_recon_bits *p, char *out, size_t size);

typedef struct oks_recon_kv {
    char *key, *value;          /* owned, NUL-terminated (values may hold NULs: use value_len) */
    uint32_t value_len;
} oks_recon_kv;

typedef struct oks_recon_msg {
    int type;
    oks_recon_bits prefix;                  /* RQST_POLY, RQST_FULL */
    uint32_t size;                          /* RQST_POLY: element count under prefix */
    oks_zzp samples[OKS_RECON_SAMPLES];     /* RQST_POLY */
    oks_zzp *elems;                         /* RQST_FULL, ELEMENTS, FULL_ELEMENTS; owned */
    size_t nelems;
    char *text;                             /* ERROR, DB_RQST, DB_REPL; owned, NUL-terminated */
    uint32_t text_len;
    oks_recon_kv *kv;                       /* CONFIG; owned */
    size_t nkv;
} oks_recon_msg;

void oks_recon_msg_init(oks_recon_msg *m, int type);
void oks_recon_msg_release(oks_recon_msg *m);
const char *oks_recon_type_name(int type);

/* Checks a frame header: the BE32 length L must satisfy 1 <= L <= max_msg. */
int oks_recon_frame_len(const uint8_t hdr[4], const oks_recon_limits *lim, uint32_t *len,
                        oks_err *e);
/* Parses one message from its L bytes (type byte + body). Duplicates in sets are dropped. */
int oks_recon_msg_parse(const uint8_t *p, size_t len, const oks_recon_limits *lim,
                        oks_recon_msg *out, oks_err *e);
/* Appends the framed message (BE32 length, type, body). */
int oks_recon_msg_write(oks_buf *out, const oks_recon_msg *m);
/* Appends a framed message of type t with the given elements (convenience for replies). */
int oks_recon_write_set(oks_buf *out, int type, const oks_zzp *elems, size_t n);
int oks_recon_write_empty(oks_buf *out, int type);
int oks_recon_write_error(oks_buf *out, const char *text);

/* What a side announces in Config. */
typedef struct oks_recon_config {
    const char *version;    /* "1.1.6" */
    uint32_t http_port;
    uint32_t bitquantum;    /* 2 */
    uint32_t mbar;          /* 5 */
    const char *filters;    /* "yminsky.dedup,yminsky.merge" */
} oks_recon_config;

int oks_recon_config_write(oks_buf *out, const oks_recon_config *c);
/* Validates a peer's Config as SKS does (version >= 0.1.5, equal bitquantum and mbar, equal
 * filter sets); fills *http_port. On refusal returns OKS_E_PROTO with the reason in e->msg. */
int oks_recon_config_check(const oks_recon_msg *peer, const oks_recon_config *mine,
                           uint32_t *http_port, oks_err *e);
/* Unframed verdict: string "passed", or string "failed" + string reason. */
int oks_recon_verdict_write(oks_buf *out, const char *failed_reason);

#endif

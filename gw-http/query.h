/*
 * HKP request parsing as pure functions over buffers: application/x-www-form-urlencoded
 * decoding (query strings and POST bodies) and the classification of /pks/lookup parameters
 * into an operation and a search. Every rejection carries the HTTP status and a reason.
 */
#ifndef OKS_GW_QUERY_H
#define OKS_GW_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_FORM_MAX_FIELDS 32

typedef struct gw_form {
    char *buf; /* owned: decoded names and values, NUL-terminated */
    size_t n;
    struct {
        const char *name, *value;
        size_t len; /* value length (values may hold NUL bytes) */
    } f[GW_FORM_MAX_FIELDS];
} gw_form;

/* Decodes "a=b&c=d" ('+' = space, %XX escapes). Returns 0, or -1 with *why set for a bad escape
 * or more than GW_FORM_MAX_FIELDS fields. */
int gw_form_parse(gw_form *f, const char *s, size_t len, const char **why);
/* Percent-decodes s[0..n) into out (n+1 bytes, NUL-terminated); returns the length or -1. */
long gw_url_decode(const char *s, size_t n, char *out);
/* First value of name, or NULL. */
const char *gw_form_get(const gw_form *f, const char *name, size_t *len);
void gw_form_release(gw_form *f);

/* What a request asks for: the /pks/lookup operations, then the other endpoints. It is also the
 * op label of the request counters in /metrics. */
enum gw_op { GW_OP_GET, GW_OP_INDEX, GW_OP_VINDEX, GW_OP_STATS, GW_OP_HGET, GW_OP_ADD,
             GW_OP_HASHQUERY, GW_OP_HEALTH, GW_OP_OTHER, GW_OPS };
enum gw_search { GW_S_NONE, GW_S_FPR, GW_S_KEYID, GW_S_SHORTID, GW_S_EMAIL, GW_S_WORDS, GW_S_HASH };

typedef struct gw_lookup {
    enum gw_op op;
    bool mr, nm, exact, show_fpr;
    enum gw_search kind;
    uint8_t id[32]; /* fingerprint, key ID or hash */
    size_t id_len;
    const char *text; /* e-mail or words (borrowed from the form) */
} gw_lookup;

/* The /metrics label of op ("get", "add", "other", ...). */
const char *gw_op_name(enum gw_op op);
/* The op of a request from its normalized path and its query string (after '?'; may be NULL):
 * /pks/add, /pks/hashquery, /pks/health, and for /pks/lookup the op parameter read as
 * gw_lookup_parse reads it; GW_OP_OTHER for everything else, including unknown or malformed
 * ops. Allocates nothing. */
enum gw_op gw_request_op(const char *path, size_t path_len, const char *query, size_t query_len);

/* Classifies a /pks/lookup query. Returns 0, or the HTTP status to answer (400, 404, 501) with
 * *why set. */
int gw_lookup_parse(const gw_form *f, gw_lookup *l, const char **why);

#endif

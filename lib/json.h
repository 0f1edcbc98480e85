/*
 * JSON through jansson: every JSON document OKS writes or reads goes through a json_t tree,
 * never through printf or a hand-written escaper. These helpers add what jansson leaves to the
 * caller:
 *  - bytes from the outside (user IDs, e-mail addresses) may be invalid UTF-8, which jansson
 *    refuses; oks_json_text turns every byte that does not start a valid UTF-8 sequence into
 *    U+FFFD (the Unicode replacement character), so the output is always valid JSON and valid
 *    text still round-trips byte for byte;
 *  - building is NULL-safe (jansson's json_*_new and set/append calls accept a NULL value and
 *    report failure), so a builder checks once, at the end, by counting failed set calls;
 *  - the compact serialisation goes into an oks_buf.
 */
#ifndef OKS_JSON_H
#define OKS_JSON_H

#include "lib/buf.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdbool.h>

/* Appends p[0..n) to out as valid UTF-8: each byte that does not start a well-formed
 * sequence (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) becomes U+FFFD.
 * Returns 0 or OKS_E_NOMEM. */
int oks_json_utf8(oks_buf *out, const uint8_t *p, size_t n);
/* A JSON string holding p[0..n) (invalid UTF-8 replaced as above; NUL bytes kept, written as
 * \u0000). NULL when out of memory. */
json_t *oks_json_text(const void *p, size_t n);
/* The same for a C string; JSON null for s == NULL. */
json_t *oks_json_cstr(const char *s);
/* A JSON integer; values above INT64_MAX (jansson's json_int_t) are written as INT64_MAX. */
json_t *oks_json_uint(uint64_t v);
/* Hex string (uppercase when upper) of n <= 64 bytes. */
json_t *oks_json_hex(const uint8_t *p, size_t n, bool upper);
/* Sets obj[key] = v, taking v; key is any bytes (invalid UTF-8 replaced as above). Returns 0, or
 * -1 when v is NULL or memory ran out. */
int oks_json_set_key(json_t *obj, const void *key, size_t klen, json_t *v);
/* Appends j in compact form (no spaces; object members in insertion order) to out, plus a
 * newline when nl. Returns 0, or OKS_E_NOMEM (out then holds no partial document). */
int oks_json_dump(const json_t *j, oks_buf *out, bool nl);

/* Reads text[0..n) as one JSON object (RFC 8259; duplicate member names are rejected) and
 * appends the value of its string member key to out, NUL-terminated (not counted in len).
 * Returns 0, or OKS_E_FORMAT (not JSON, not an object, or key missing or not a string) with
 * e naming what was wrong and where, or OKS_E_NOMEM. */
int oks_json_get_string(const void *text, size_t n, const char *key, oks_buf *out, oks_err *e);

#endif

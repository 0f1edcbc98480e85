/* Request hygiene (see hygiene.h). The header block is re-parsed with h2o's own parser
 * (picohttpparser, exported by libh2o), since h2o keeps only the first Content-Length. */
#include "gw-http/hygiene.h"

#include <strings.h>
#include <string.h>

/* picohttpparser's interface, as exported by libh2o (its header is not installed). */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

#define MAX_HEADERS 100 /* as h2o's H2O_MAX_HEADERS: a request with more was refused already */

static bool named(const struct phr_header *h, const char *name)
{
    return h->name && h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static bool same_value(const struct phr_header *a, const struct phr_header *b)
{
    return a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0;
}

const char *gw_hygiene_headers(const char *raw, size_t len)
{
    const char *method, *path;
    size_t method_len, path_len, n = MAX_HEADERS;
    int minor;
    struct phr_header h[MAX_HEADERS];
    if (phr_parse_request(raw, len, &method, &method_len, &path, &path_len, &minor, h, &n, 0) <= 0)
        return NULL;
    const struct phr_header *cl = NULL;
    bool te = false;
    for (size_t i = 0; i < n; i++) {
        if (named(&h[i], "transfer-encoding")) {
            te = true;
        } else if (named(&h[i], "content-length")) {
            if (cl && !same_value(cl, &h[i]))
                return "conflicting Content-Length headers";
            cl = &h[i];
        }
    }
    if (cl && te)
        return "Content-Length together with Transfer-Encoding";
    return NULL;
}

const char *gw_hygiene_target(const char *path, size_t len)
{
    if (memchr(path, '\0', len))
        return "NUL byte in the request target";
    for (size_t i = 0; i + 2 < len; i++)
        if (path[i] == '%' && path[i + 1] == '0' && path[i + 2] == '0')
            return "NUL byte (%00) in the request target";
    return NULL;
}

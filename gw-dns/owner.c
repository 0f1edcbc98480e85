/* RFC 7929 owner names: the hash label and the zones served. */
#include "gw-dns/dns.h"

#include <gcrypt.h>
#include <string.h>
#include <strings.h>

void gwd_owner_hash(const char *local, size_t n, char out[GWD_HASH_HEX + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t h[32];
    gcry_md_hash_buffer(GCRY_MD_SHA256, h, local, n);
    for (size_t i = 0; i < GWD_HASH_LEN; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[GWD_HASH_HEX] = '\0';
}

int gwd_zones_parse(gwd_zones *z, const char *list, oks_err *e)
{
    memset(z, 0, sizeof *z);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t l = strcspn(p, " ,");
        if (!l)
            break;
        if (z->n == GWD_MAX_DOMAINS)
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "[dns] domains: more than %d",
                               GWD_MAX_DOMAINS);
        /* the zone _openpgpkey.DOMAIN must fit a name of 253 characters */
        if (p[l - 1] == '.')
            l--;
        if (l == 0 || l + 13 > 253)
            return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "[dns] domains: bad domain '%.*s'",
                               (int)(l > 64 ? 64 : l), p);
        for (size_t i = 0; i < l; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_'))
                return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                                   "[dns] domains: bad character in '%.*s'", (int)l, p);
            z->names[z->n][i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        z->names[z->n][l] = '\0';
        z->n++;
        p += l;
        if (*p == '.')
            p++;
    }
    return 0;
}

/* Compares the labels of wire name q from label index `from` on with the dotted text d. */
static bool tail_is(const uint8_t *q, const char *d)
{
    size_t dl = strlen(d), o = 0;
    while (*q) {
        size_t l = *q++;
        if (o + l > dl || memcmp(q, d + o, l) != 0)
            return false;
        o += l;
        q += l;
        if (*q) {
            if (o >= dl || d[o] != '.')
                return false;
            o++;
        }
    }
    return o == dl;
}

void gwd_name_classify(const gwd_zones *z, const uint8_t *qname, gwd_name *out)
{
    memset(out, 0, sizeof *out);
    /* labels: walk to find the "_openpgpkey" label followed by a served domain */
    const uint8_t *lab[128];
    size_t n = 0;
    for (const uint8_t *p = qname; *p && n < 128; p += *p + 1)
        lab[n++] = p;
    for (size_t i = 0; i < n; i++) {
        if (lab[i][0] != 11 || strncasecmp((const char *)lab[i] + 1, "_openpgpkey", 11) != 0)
            continue;
        for (size_t d = 0; d < z->n; d++) {
            if (!tail_is(lab[i] + 12, z->names[d]))
                continue;
            out->zone = d;
            if (i == 0) {
                out->kind = GWD_NAME_APEX;
                return;
            }
            out->kind = GWD_NAME_OTHER;
            if (i == 1 && lab[0][0] == GWD_HASH_HEX) {
                for (size_t k = 0; k < GWD_HASH_HEX; k++) {
                    char c = (char)lab[0][1 + k];
                    if (c >= 'A' && c <= 'F')
                        c = (char)(c + 32);
                    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return;
                    out->hash[k] = c;
                }
                out->hash[GWD_HASH_HEX] = '\0';
                out->kind = GWD_NAME_OWNER;
            }
            return;
        }
    }
    out->kind = GWD_NAME_OUTSIDE;
}

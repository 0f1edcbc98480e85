/* Fuzz target: the LDAP gateway's back-sock request parser (slapd-sock(5)) on arbitrary bytes;
 * a SEARCH that parses has its filter parsed and planned as serve.c does. The gateway units are
 * compiled in here because fuzz targets link only lib/. */
#include "gw-ldap/arena.c"
#include "gw-ldap/entry.c"
#include "gw-ldap/filter.c"
#include "gw-ldap/plan.c"
#include "gw-ldap/sockreq.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_req r;
    oks_err e;
    if (gwl_req_parse((const char *)data, size, &a, &r, &e) == 0) {
        (void)gwl_req_wants(&r, "pgpKey");
        if (r.op == GWL_OP_SEARCH) {
            gwl_filter *f;
            char dn[128];
            gwl_dn_norm(r.dn, dn, sizeof dn);
            if (gwl_filter_parse(r.filter, strlen(r.filter), 16, &a, &f, &e) == 0) {
                gwl_plan p;
                const char *why;
                (void)gwl_plan_keys(f, 4, 3, &p, &why);
            }
        }
    }
    gwl_arena_release(&a);
    return 0;
}

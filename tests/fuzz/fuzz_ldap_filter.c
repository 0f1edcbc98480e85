/* Fuzz target: the LDAP gateway's filter parser on arbitrary bytes, then the planner and the
 * three-valued matcher on whatever parses. The gateway units are compiled in here because fuzz
 * targets link only lib/. */
#include "gw-ldap/arena.c"
#include "gw-ldap/entry.c"
#include "gw-ldap/filter.c"
#include "gw-ldap/plan.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_filter *f;
    oks_err e;
    if (gwl_filter_parse((const char *)data, size, 256, &a, &f, &e) == 0) {
        gwl_plan p;
        const char *why;
        (void)gwl_plan_keys(f, 64, 1, &p, &why);
        (void)gwl_filter_mentions(f, "pgpkey");
        gwl_entry en;
        gwl_entry_init(&en, &a, "pgpCertID=0123456789ABCDEF,ou=GnuPG Keys,o=X");
        gwl_entry_adds(&en, "objectClass", "pgpKeyInfo");
        gwl_entry_adds(&en, "pgpCertID", "0123456789ABCDEF");
        gwl_entry_adds(&en, "pgpUserID", "\xc3\x80lice Example <alice@example.org>");
        gwl_entry_adds(&en, "gpgMailbox", "alice@example.org");
        gwl_entry_adds(&en, "pgpKeySize", "02048");
        (void)gwl_filter_match(f, &en);
    }
    gwl_arena_release(&a);
    return 0;
}

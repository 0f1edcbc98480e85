/* gw-ldap/entry.c: a stored key as a GnuPG schema v2 entry; LDIF, RESULT, DN forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-ldap/gwl.h"
#include "lib/pgp.h"

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 20];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static const char *first(const gwl_entry *en, const char *name)
{
    const gwl_attr *a = gwl_entry_get(en, name);
    return a && a->n ? a->v[0].p : NULL;
}

static void key_entry_has_the_schema_attributes(void **state)
{
    (void)state;
    size_t n;
    uint8_t *data = slurp("tests/data/matrix-ed25519.pgp", &n);
    oks_pgp_key *k;
    oks_err e;
    assert_int_equal(oks_pgp_key_parse(data, n, NULL, 0, &k, &e), 0);
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_entry en;
    gwl_entry_of_key(&en, &a, k, data, n, "ou=GnuPG Keys,o=X", true);
    assert_string_equal(en.dn, "pgpCertID=91C0A6AC72D102F0,ou=GnuPG Keys,o=X");
    assert_string_equal(first(&en, "pgpCertID"), "91C0A6AC72D102F0");
    assert_string_equal(first(&en, "pgpkeyid"), "72D102F0");
    assert_int_equal(strlen(first(&en, "gpgFingerprint")), 40);
    assert_string_equal(first(&en, "pgpRevoked"), "0");
    assert_int_equal(strlen(first(&en, "pgpKeyCreateTime")), 15); /* YYYYMMDDHHmmssZ */
    const gwl_attr *uids = gwl_entry_get(&en, "pgpUserID");
    assert_non_null(uids);
    assert_true(uids->n >= 3);
    const gwl_attr *mb = gwl_entry_get(&en, "gpgMailbox");
    assert_int_equal(mb->n, uids->n);
    assert_non_null(strstr(first(&en, "pgpKey"), "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    assert_non_null(gwl_entry_get(&en, "mail"));
    /* the filter matches the entry as slapd would */
    gwl_filter *f;
    const char *fs = "(&(gpgmailbox=ed25519-sha1@example.org)(!(|(pgprevoked=1)(pgpdisabled=1))))";
    assert_int_equal(gwl_filter_parse(fs, strlen(fs), 16, &a, &f, &e), 0);
    assert_int_equal(gwl_filter_match(f, &en), GWL_TRUE);
    /* without the key: no pgpKey */
    gwl_entry en2;
    gwl_entry_of_key(&en2, &a, k, data, n, "ou=GnuPG Keys,o=X", false);
    assert_null(gwl_entry_get(&en2, "pgpKey"));
    oks_buf out = OKS_BUF_INIT;
    gwl_ldif_entry(&out, &en, NULL, NULL);
    oks_buf_putc(&out, 0);
    const char *t = (const char *)out.data;
    assert_true(strncmp(t, "dn: pgpCertID=91C0A6AC72D102F0,", 31) == 0);
    assert_non_null(strstr(t, "\npgpKey:: ")); /* multi-line armor: base64 */
    for (const char *l = t; *l;) { /* folded at GWL_LDIF_FOLD columns */
        const char *nl = strchr(l, '\n');
        assert_non_null(nl);
        assert_true(nl - l <= GWL_LDIF_FOLD);
        l = nl + 1;
    }
    assert_true(out.len >= 3 && strcmp(t + out.len - 3, "\n\n") == 0);
    oks_buf_release(&out);
    oks_pgp_key_free(k);
    gwl_arena_release(&a);
}

static void utf8_is_cleaned(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(gwl_utf8_clean((const uint8_t *)"a\xff" "b\xc3\xa9", 5, out), 5);
    assert_string_equal(out, "a?bé");
    assert_int_equal(gwl_utf8_clean((const uint8_t *)"\xed\xa0\x80", 3, out), 3); /* surrogate */
    assert_string_equal(out, "???");
    assert_int_equal(gwl_utf8_clean((const uint8_t *)"\0", 1, out), 1);
    assert_string_equal(out, "?");
    assert_int_equal(gwl_utf8_clean((const uint8_t *)"", 0, out), 1);
    assert_string_equal(out, "?");
}

static bool only_cn(const void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "cn") == 0;
}

static void ldif_values_and_results(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_entry en;
    gwl_entry_init(&en, &a, "cn=x,o=X");
    gwl_entry_adds(&en, "cn", "plain");
    gwl_entry_adds(&en, "cn", " leading space");
    gwl_entry_adds(&en, "cn", "caf\xc3\xa9");
    gwl_entry_adds(&en, "sn", "hidden");
    oks_buf out = OKS_BUF_INIT;
    gwl_ldif_entry(&out, &en, only_cn, NULL);
    oks_buf_putc(&out, 0);
    assert_string_equal((char *)out.data, "dn: cn=x,o=X\ncn: plain\ncn:: IGxlYWRpbmcgc3BhY2U=\n"
                                          "cn:: Y2Fmw6k=\n\n");
    out.len = 0;
    gwl_ldif_result(&out, 53, "o=X", "line one\nline two");
    oks_buf_putc(&out, 0);
    assert_string_equal((char *)out.data, "RESULT\ncode: 53\nmatched:o=X\ninfo:line one line two\n\n");
    oks_buf_release(&out);
    gwl_arena_release(&a);
}

/* a value longer than GWL_LDIF_FOLD is folded (a space begins each continuation line) and
 * unfolds to itself; no line is longer than GWL_LDIF_FOLD, far below slapd's 8192-byte reads */
static void long_values_are_folded(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_entry en;
    gwl_entry_init(&en, &a, "cn=x,o=X");
    size_t n = 3 * GWL_LDIF_FOLD + 17;
    char *v = gwl_alloc(&a, n + 1);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)('a' + i % 26);
    gwl_entry_add(&en, "cn", v, n);
    oks_buf out = OKS_BUF_INIT;
    gwl_ldif_entry(&out, &en, NULL, NULL);
    oks_buf_putc(&out, 0);
    const char *t = (const char *)out.data;
    size_t lines = 0;
    oks_buf unfolded = OKS_BUF_INIT;
    for (const char *l = t; *l && *l != '\n';) {
        const char *nl = strchr(l, '\n');
        assert_non_null(nl);
        assert_true(nl - l <= GWL_LDIF_FOLD);
        if (*l == ' ')
            oks_buf_append(&unfolded, l + 1, (size_t)(nl - l - 1));
        else if (strncmp(l, "cn: ", 4) == 0)
            oks_buf_append(&unfolded, l + 4, (size_t)(nl - l - 4));
        lines++;
        l = nl + 1;
    }
    assert_int_equal(lines, 1 + 4); /* dn, then the value on four lines */
    assert_int_equal(unfolded.len, n);
    assert_memory_equal(unfolded.data, v, n);
    oks_buf_release(&unfolded);
    oks_buf_release(&out);
    gwl_arena_release(&a);
}

static void dn_norm_ignores_case_and_spaces(void **state)
{
    (void)state;
    char out[64];
    gwl_dn_norm(" OU = GnuPG Keys , o=OpenKeyServer ", out, sizeof out);
    assert_string_equal(out, "ou=gnupg keys,o=openkeyserver");
    gwl_dn_norm("o=a", out, 2);
    assert_string_equal(out, "o");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_entry_has_the_schema_attributes),
        cmocka_unit_test(utf8_is_cleaned),
        cmocka_unit_test(ldif_values_and_results),
        cmocka_unit_test(long_values_are_folded),
        cmocka_unit_test(dn_norm_ignores_case_and_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

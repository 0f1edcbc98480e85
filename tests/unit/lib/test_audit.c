/* lib/audit: lines appended to a private file, one per call, fields cleaned of spaces and
 * control characters, the file reopened (a restart) keeps what was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void lines_are_appended_and_survive_a_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/oks-test-audit-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/audit.log", dir);
    oks_err e;
    assert_int_equal(oks_audit_open(path, &e), 0);
    const uint8_t fpr[4] = {0xde, 0xad, 0xbe, 0xef};
    oks_audit("alice", "admin", "delete", fpr, sizeof fpr, "STATUS_OK");
    oks_audit_close();
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(oks_audit_open(path, &e), 0); /* a restart */
    oks_audit("bad name\nwho=admin", "http", "delete", NULL, 0, "refused");
    oks_audit_close();
    char *t = slurp(path);
    char *second = strchr(t, '\n');
    assert_non_null(second);
    assert_non_null(strstr(t, "Z who=alice role=admin op=delete target=DEADBEEF outcome=STATUS_OK\n"));
    /* a name cannot forge a field or a line */
    assert_non_null(strstr(second + 1, "who=bad_name_who=admin role=http op=delete target=- "
                                       "outcome=refused\n"));
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    assert_int_equal(oks_audit_open("/nonexistent-dir/audit.log", &e), OKS_E_IO);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_are_appended_and_survive_a_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

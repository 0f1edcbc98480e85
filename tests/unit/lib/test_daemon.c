/* lib/daemon: signals become atomic flags (delivered for real with raise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>

#include "lib/daemon.h"

static void each_signal_sets_its_own_flag_until_cleared(void **state)
{
    (void)state;
    static atomic_int stop, hup;
    oks_daemon_signals(&stop);
    assert_int_equal(oks_daemon_signal(SIGHUP, &hup), 0);
    assert_int_equal(raise(SIGHUP), 0);
    assert_int_equal(atomic_load(&hup), 1);
    assert_int_equal(atomic_load(&stop), 0);
    assert_int_equal(atomic_exchange(&hup, 0), 1);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(atomic_load(&stop), 1);
    assert_int_equal(atomic_load(&hup), 0);
    assert_int_equal(raise(SIGPIPE), 0); /* ignored: the test goes on */
    assert_int_equal(oks_daemon_signal(SIGHUP, NULL), 0); /* back to the default action */
    assert_int_equal(oks_daemon_signal(0, &hup), -1);
    assert_int_equal(oks_daemon_signal(NSIG, &hup), -1);
    oks_daemon_signal(SIGINT, NULL);
    oks_daemon_signal(SIGTERM, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_signal_sets_its_own_flag_until_cleared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

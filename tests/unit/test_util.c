/* test_util.c: unit tests for common/util.c (error buffers, clocks, signal-safe threads). */
#include "ovpbuild.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "util.h"

static void
errf__formats_truncates_and_tolerates_null(void **state)
{
    (void)state;
    char buf[8];
    ovp_errf(buf, sizeof(buf), "%s:%d", "file", 12345);
    assert_string_equal(buf, "file:12");
    ovp_errf(NULL, 10, "x");
    char one[1] = {'z'};
    ovp_errf(one, 0, "x");
    assert_int_equal(one[0], 'z');
}

static void
now__is_monotonic_and_consistent(void **state)
{
    (void)state;
    uint64_t a = ovp_now_ns();
    int64_t ma = ovp_now_ms();
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    uint64_t b = ovp_now_ns();
    int64_t mb = ovp_now_ms();
    assert_true(b - a >= 20 * 1000000u);
    assert_true(mb - ma >= 19);
    assert_true(mb - ma < 5000);
}

static void *
report_mask(void *arg)
{
    sigset_t *out = arg;
    pthread_sigmask(SIG_SETMASK, NULL, out);
    return NULL;
}

static void
thread_start__blocks_host_signals_but_not_faults(void **state)
{
    (void)state;
    sigset_t before, after, in_thread;
    pthread_t t;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    assert_int_equal(ovp_thread_start(&t, report_mask, &in_thread), 0);
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    assert_true(sigismember(&in_thread, SIGHUP));
    assert_true(sigismember(&in_thread, SIGTERM));
    assert_true(sigismember(&in_thread, SIGUSR1));
    assert_true(sigismember(&in_thread, SIGINT));
    assert_false(sigismember(&in_thread, SIGSEGV));
    assert_false(sigismember(&in_thread, SIGABRT));
    /* the caller's mask is as it was */
    assert_int_equal(sigismember(&after, SIGHUP), sigismember(&before, SIGHUP));
    assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errf__formats_truncates_and_tolerates_null),
        cmocka_unit_test(now__is_monotonic_and_consistent),
        cmocka_unit_test(thread_start__blocks_host_signals_but_not_faults),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}

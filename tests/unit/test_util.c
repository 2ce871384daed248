/* test_util.c: unit tests for common/util.c (error buffers, clocks, signal-safe threads). */
#include "ovpbuild.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
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
    struct ovp_thread *t;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    assert_int_equal(ovp_thread_start(&t, report_mask, &in_thread), 0);
    ovp_thread_join(t);
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

static void *
twice(void *arg)
{
    int *n = arg;
    return (void *)(intptr_t)(*n * 2);
}

static void
thread_join__parks_the_thread_and_start_reuses_it(void **state)
{
    (void)state;
    struct ovp_thread *t[3];
    int x = 21, y = 5;
    /* three threads exist afterwards, parked (some may be reused from earlier tests) */
    for (int i = 0; i < 3; i++)
    {
        assert_int_equal(ovp_thread_start(&t[i], twice, i ? &y : &x), 0);
    }
    assert_int_equal((intptr_t)ovp_thread_join(t[0]), 42);
    assert_int_equal((intptr_t)ovp_thread_join(t[1]), 10);
    assert_int_equal((intptr_t)ovp_thread_join(t[2]), 10);
    unsigned before = ovp_thread_created();
    /* a plugin reopened after the privilege drop: its three threads, none created */
    for (int i = 0; i < 3; i++)
    {
        assert_int_equal(ovp_thread_start(&t[i], twice, &x), 0);
    }
    assert_int_equal(ovp_thread_created(), before);
    struct ovp_thread *fourth;
    assert_int_equal(ovp_thread_start(&fourth, twice, &y), 0);
    assert_int_equal(ovp_thread_created(), before + 1); /* only a fourth is new */
    for (int i = 0; i < 3; i++)
    {
        assert_int_equal((intptr_t)ovp_thread_join(t[i]), 42);
    }
    assert_int_equal((intptr_t)ovp_thread_join(fourth), 10);
}

static void
thread_start__in_a_forked_child_creates_its_own(void **state)
{
    (void)state;
    struct ovp_thread *t;
    int x = 1;
    assert_int_equal(ovp_thread_start(&t, twice, &x), 0);
    ovp_thread_join(t); /* parked in the parent */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        /* the parked thread does not exist here: a new one must run the function */
        struct ovp_thread *c;
        int y = 4;
        if (ovp_thread_start(&c, twice, &y) != 0)
        {
            _exit(2);
        }
        _exit((intptr_t)ovp_thread_join(c) == 8 ? 0 : 3);
    }
    int st;
    alarm(10);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    alarm(0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errf__formats_truncates_and_tolerates_null),
        cmocka_unit_test(now__is_monotonic_and_consistent),
        cmocka_unit_test(thread_start__blocks_host_signals_but_not_faults),
        cmocka_unit_test(thread_join__parks_the_thread_and_start_reuses_it),
        cmocka_unit_test(thread_start__in_a_forked_child_creates_its_own),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}

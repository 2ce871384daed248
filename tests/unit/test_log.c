/* test_log.c: unit tests for common/log.c (host thread, worker queue, client context). */
#include "ovpbuild.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fakehost.h"
#include "log.h"

static int
setup(void **state)
{
    fakehost_reset();
    *state = ovp_log_new("ovp-test", fakehost_vlog, 4, 8);
    return *state ? 0 : -1;
}

static int
teardown(void **state)
{
    ovp_log_free(*state);
    return 0;
}

static void
host_thread__line_goes_straight_to_host_with_module_name(void **state)
{
    struct ovp_log *log = *state;
    ovp_note(log, "hello %d", 42);
    assert_int_equal(fakehost_count(), 1);
    assert_string_equal(fakehost_text(0), "hello 42");
    assert_string_equal(fakehost_name(0), "ovp-test");
    assert_int_equal(fakehost_flags(0), PLOG_NOTE);
}

static void
percent_in_values__is_not_reinterpreted(void **state)
{
    struct ovp_log *log = *state;
    ovp_note(log, "user %s", "%s%n%x");
    assert_string_equal(fakehost_text(0), "user %s%n%x");
}

struct worker_arg
{
    struct ovp_log *log;
    int n;
};

static void *
worker(void *p)
{
    struct worker_arg *a = p;
    for (int i = 0; i < a->n; i++)
    {
        ovp_warn(a->log, "worker line %d", i);
    }
    return NULL;
}

static void
worker_thread__lines_are_queued_until_drain(void **state)
{
    struct ovp_log *log = *state;
    struct worker_arg a = {log, 3};
    pthread_t t;
    pthread_create(&t, NULL, worker, &a);
    pthread_join(t, NULL);
    assert_int_equal(fakehost_count(), 0);
    assert_int_equal(ovp_log_drain(log), 3);
    assert_int_equal(fakehost_count(), 3);
    assert_string_equal(fakehost_text(0), "worker line 0");
    assert_string_equal(fakehost_text(2), "worker line 2");
    assert_int_equal(fakehost_foreign_calls(), 0);
}

static void
worker_thread__full_queue_drops_and_reports_count(void **state)
{
    struct ovp_log *log = *state; /* capacity 8 */
    struct worker_arg a = {log, 20};
    pthread_t t;
    pthread_create(&t, NULL, worker, &a);
    pthread_join(t, NULL);
    assert_int_equal(ovp_log_dropped(log), 12);
    ovp_log_drain(log);
    assert_int_equal(fakehost_count(), 9);
    assert_true(fakehost_find("12 log lines from worker threads were dropped") >= 0);
    assert_int_equal(fakehost_foreign_calls(), 0);
    /* reported once only */
    assert_int_equal(ovp_log_drain(log), 0);
}

static void
host_line__comes_after_queued_worker_lines(void **state)
{
    struct ovp_log *log = *state;
    struct worker_arg a = {log, 1};
    pthread_t t;
    pthread_create(&t, NULL, worker, &a);
    pthread_join(t, NULL);
    ovp_note(log, "host line");
    assert_int_equal(fakehost_count(), 2);
    assert_string_equal(fakehost_text(0), "worker line 0");
    assert_string_equal(fakehost_text(1), "host line");
}

static void
errno_flag__appends_strerror_and_keeps_errno(void **state)
{
    struct ovp_log *log = *state;
    errno = ENOENT;
    ovp_logf(log, PLOG_ERR | PLOG_ERRNO, "open %s", "/nope");
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(fakehost_text(0), "open /nope: No such file or directory"));
    assert_int_equal(fakehost_flags(0) & PLOG_ERRNO, 0);
}

static void
debug__dropped_below_verb_7(void **state)
{
    struct ovp_log *log = *state; /* verb 4 */
    ovp_debug(log, "invisible");
    assert_int_equal(fakehost_count(), 0);
    struct ovp_log *loud = ovp_log_new("loud", fakehost_vlog, 7, 4);
    ovp_debug(loud, "visible");
    assert_int_equal(fakehost_count(), 1);
    ovp_log_free(loud);
}

static void
control_chars__cannot_forge_a_second_line(void **state)
{
    struct ovp_log *log = *state;
    ovp_note(log, "user %s", "eve\nPLUGIN ovp: authentication succeeded");
    assert_int_equal(fakehost_count(), 1);
    assert_null(strchr(fakehost_text(0), '\n'));
}

static void
long_line__is_cut_and_marked(void **state)
{
    struct ovp_log *log = *state;
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    big[4999] = '\0';
    ovp_note(log, "%s", big);
    free(big);
    const char *t = fakehost_text(0);
    assert_int_equal(strlen(t), OVP_LOG_LINE_MAX - 1);
    assert_string_equal(t + strlen(t) - 3, "...");
}

static void
client_id__built_from_env(void **state)
{
    (void)state;
    struct ovp_client_id who;
    const char *const env[] = {"common_name=alice", "untrusted_ip=192.0.2.7",
                               "untrusted_port=1194", NULL};
    ovp_client_id_from_env(&who, env);
    assert_string_equal(who.text, "[alice@192.0.2.7:1194]");

    const char *const env2[] = {"username=bob", "trusted_ip6=2001:db8::2", NULL};
    ovp_client_id_from_env(&who, env2);
    assert_string_equal(who.text, "[bob@2001:db8::2]");

    ovp_client_id_from_env(&who, NULL);
    assert_string_equal(who.text, "[?]");

    const char *const env3[] = {"common_name=a\nb", NULL};
    ovp_client_id_from_env(&who, env3);
    assert_string_equal(who.text, "[a?b]");
}

static void
client_id__long_name_is_clipped(void **state)
{
    (void)state;
    char cn[400] = "common_name=";
    memset(cn + 12, 'x', 300);
    cn[312] = '\0';
    const char *const env[] = {cn, "untrusted_ip=192.0.2.7", "untrusted_port=1", NULL};
    struct ovp_client_id who;
    ovp_client_id_from_env(&who, env);
    assert_true(strlen(who.text) < sizeof(who.text));
    assert_non_null(strstr(who.text, "...@192.0.2.7:1]"));
}

static void
logf_client__prefixes_context(void **state)
{
    struct ovp_log *log = *state;
    struct ovp_client_id who = {"[carol@192.0.2.9:5]"};
    ovp_logf_client(log, &who, PLOG_NOTE, "authentication %s", "failed");
    assert_string_equal(fakehost_text(0), "[carol@192.0.2.9:5] authentication failed");
    ovp_logf_client(log, NULL, PLOG_NOTE, "no context");
    assert_string_equal(fakehost_text(1), "no context");
}

static void
null_log__is_harmless(void **state)
{
    (void)state;
    ovp_note(NULL, "nothing");
    assert_int_equal(ovp_log_drain(NULL), 0);
    ovp_log_free(NULL);
    assert_int_equal(fakehost_count(), 0);
}

static void
limited__burst_then_silence_then_one_summary(void **state)
{
    struct ovp_log *log = *state;
    struct ovp_log_limit lim = OVP_LOG_LIMIT_INIT("complaints", 3, 200);
    for (int i = 0; i < 10000; i++)
    {
        ovp_logf_client_limited(log, &lim, NULL, PLOG_NOTE, "bad message %d", i);
    }
    /* Three lines, then nothing for the rest of the window. */
    assert_int_equal(fakehost_count(), 3);
    assert_string_equal(fakehost_text(2), "bad message 2");
    /* The next window: the summary first, then the line. */
    usleep(250 * 1000);
    ovp_logf_client_limited(log, &lim, NULL, PLOG_NOTE, "bad message %d", 10000);
    assert_int_equal(fakehost_count(), 5);
    assert_non_null(strstr(fakehost_text(3), "9997 more complaints suppressed"));
    assert_int_equal(fakehost_flags(3), PLOG_WARN);
    assert_string_equal(fakehost_text(4), "bad message 10000");
    /* No budget: every line. */
    ovp_logf_client_limited(log, NULL, NULL, PLOG_NOTE, "free");
    assert_int_equal(fakehost_count(), 6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            host_thread__line_goes_straight_to_host_with_module_name, setup, teardown),
        cmocka_unit_test_setup_teardown(limited__burst_then_silence_then_one_summary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(percent_in_values__is_not_reinterpreted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(worker_thread__lines_are_queued_until_drain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(worker_thread__full_queue_drops_and_reports_count,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(host_line__comes_after_queued_worker_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(errno_flag__appends_strerror_and_keeps_errno, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(debug__dropped_below_verb_7, setup, teardown),
        cmocka_unit_test_setup_teardown(control_chars__cannot_forge_a_second_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(long_line__is_cut_and_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(client_id__built_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(client_id__long_name_is_clipped, setup, teardown),
        cmocka_unit_test_setup_teardown(logf_client__prefixes_context, setup, teardown),
        cmocka_unit_test_setup_teardown(null_log__is_harmless, setup, teardown),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

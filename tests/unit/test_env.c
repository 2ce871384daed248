/* test_env.c: unit tests for common/env.c (envp/argv look-ups). */
#include "ovpbuild.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "env.h"

static const char *const envp[] = {
    "username=alice",
    "empty=",
    "noequals",
    "verb=4",
    "big=99999999999999999999",
    "neg=-3",
    "junk=12abc",
    "user=not-username",
    "untrusted_ip=192.0.2.10",
    "untrusted_port=51000",
    "dup=first",
    "dup=second",
    NULL,
};

static void
get__returns_value_after_equals(void **state)
{
    (void)state;
    assert_string_equal(ovp_env_get(envp, "username"), "alice");
    assert_string_equal(ovp_env_get(envp, "user"), "not-username");
}

static void
get__prefix_of_a_name_does_not_match(void **state)
{
    (void)state;
    assert_null(ovp_env_get(envp, "usern"));
    assert_null(ovp_env_get(envp, "untrusted"));
}

static void
get__entry_without_equals_is_skipped(void **state)
{
    (void)state;
    assert_null(ovp_env_get(envp, "noequals"));
}

static void
get__null_envp_or_name_is_null(void **state)
{
    (void)state;
    assert_null(ovp_env_get(NULL, "username"));
    assert_null(ovp_env_get(envp, NULL));
    assert_null(ovp_env_get(envp, ""));
}

static void
get__empty_value_is_empty_string_but_not_nonempty(void **state)
{
    (void)state;
    assert_string_equal(ovp_env_get(envp, "empty"), "");
    assert_null(ovp_env_get_nonempty(envp, "empty"));
}

static void
get__first_of_duplicates_wins(void **state)
{
    (void)state;
    assert_string_equal(ovp_env_get(envp, "dup"), "first");
}

static void
get_long__parses_in_range_and_refuses_the_rest(void **state)
{
    (void)state;
    long v = -1;
    assert_int_equal(ovp_env_get_long(envp, "verb", 0, 15, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(ovp_env_get_long(envp, "verb", 5, 15, &v), -1);
    assert_int_equal(ovp_env_get_long(envp, "big", 0, 100, &v), -1);
    assert_int_equal(ovp_env_get_long(envp, "junk", 0, 100, &v), -1);
    assert_int_equal(ovp_env_get_long(envp, "empty", 0, 100, &v), -1);
    assert_int_equal(ovp_env_get_long(envp, "missing", 0, 100, &v), -1);
    assert_int_equal(ovp_env_get_long(envp, "neg", -5, 0, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(ovp_env_get_long(NULL, "verb", 0, 15, &v), -1);
}

static void
dup__copies_and_null_when_missing(void **state)
{
    (void)state;
    char *s = ovp_env_dup(envp, "username");
    assert_non_null(s);
    assert_string_equal(s, "alice");
    assert_ptr_not_equal(s, ovp_env_get(envp, "username"));
    free(s);
    assert_null(ovp_env_dup(envp, "missing"));
    assert_null(ovp_env_dup(NULL, "username"));
}

static void
argv__count_and_bounds_are_null_safe(void **state)
{
    (void)state;
    const char *const argv[] = {"/x.so", "a", NULL};
    assert_int_equal(ovp_argc(argv), 2);
    assert_int_equal(ovp_argc(NULL), 0);
    assert_string_equal(ovp_argv_get(argv, 1), "a");
    assert_null(ovp_argv_get(argv, 2));
    assert_null(ovp_argv_get(argv, 1000));
    assert_null(ovp_argv_get(NULL, 0));
}

static void
client_ip__prefers_untrusted_then_trusted(void **state)
{
    (void)state;
    assert_string_equal(ovp_env_client_ip(envp), "192.0.2.10");
    assert_string_equal(ovp_env_client_port(envp), "51000");
    const char *const v6[] = {"untrusted_ip6=2001:db8::1", "trusted_port=7", NULL};
    assert_string_equal(ovp_env_client_ip(v6), "2001:db8::1");
    assert_string_equal(ovp_env_client_port(v6), "7");
    const char *const tr[] = {"trusted_ip=192.0.2.1", "untrusted_ip=", NULL};
    assert_string_equal(ovp_env_client_ip(tr), "192.0.2.1");
    const char *const none[] = {NULL};
    assert_null(ovp_env_client_ip(none));
    assert_null(ovp_env_client_port(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get__returns_value_after_equals),
        cmocka_unit_test(get__prefix_of_a_name_does_not_match),
        cmocka_unit_test(get__entry_without_equals_is_skipped),
        cmocka_unit_test(get__null_envp_or_name_is_null),
        cmocka_unit_test(get__empty_value_is_empty_string_but_not_nonempty),
        cmocka_unit_test(get__first_of_duplicates_wins),
        cmocka_unit_test(get_long__parses_in_range_and_refuses_the_rest),
        cmocka_unit_test(dup__copies_and_null_when_missing),
        cmocka_unit_test(argv__count_and_bounds_are_null_safe),
        cmocka_unit_test(client_ip__prefers_untrusted_then_trusted),
    };
    return cmocka_run_group_tests_name("env", tests, NULL, NULL);
}

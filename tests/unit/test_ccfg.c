/* test_ccfg.c: unit tests for common/ccfg.c (client-config directives and return lists). */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ccfg.h"

static void
add__appends_one_line_per_directive(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    assert_int_equal(ovp_ccfg_add(&c, "push \"route 10.1.0.0 255.255.0.0\""), 0);
    assert_int_equal(ovp_ccfg_add(&c, "ifconfig-push 10.8.0.5 255.255.255.0"), 0);
    assert_string_equal(c.buf, "push \"route 10.1.0.0 255.255.0.0\"\n"
                               "ifconfig-push 10.8.0.5 255.255.255.0\n");
    assert_int_equal(c.lines, 2);
    assert_int_equal(c.len, strlen(c.buf));
    assert_true(c.cap > c.len);
    ovp_ccfg_clear(&c);
}

static void
add__refuses_empty_and_control_characters(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    static const char *const bad[] = {
        "",
        "push \"route 10.0.0.0 255.0.0.0\"\niroute 0.0.0.0 0.0.0.0", /* smuggled line */
        "disable\r",
        "push \"dhcp-option DOMAIN a\tb\"",
        "iroute 10.0.0.0\x01 255.0.0.0",
        "disable\x7f",
        "\n",
    };
    assert_int_equal(ovp_ccfg_add(&c, "disable"), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(ovp_ccfg_add(&c, bad[i]), -1);
    }
    assert_int_equal(ovp_ccfg_add(&c, NULL), -1);
    assert_int_equal(ovp_ccfg_add(NULL, "disable"), -1);
    /* Nothing refused left a trace. */
    assert_string_equal(c.buf, "disable\n");
    assert_int_equal(c.lines, 1);
    ovp_ccfg_clear(&c);
}

static void
add__refuses_what_would_exceed_the_maximum(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    char *line = malloc(OVP_CCFG_MAX + 1);
    assert_non_null(line);

    /* One line of OVP_CCFG_MAX characters plus its newline is too long. */
    memset(line, 'a', OVP_CCFG_MAX);
    line[OVP_CCFG_MAX] = '\0';
    assert_int_equal(ovp_ccfg_add(&c, line), -1);
    assert_int_equal(c.len, 0);

    /* One character less fits exactly; then not even one more byte does. */
    line[OVP_CCFG_MAX - 1] = '\0';
    assert_int_equal(ovp_ccfg_add(&c, line), 0);
    assert_int_equal(c.len, OVP_CCFG_MAX);
    assert_int_equal(ovp_ccfg_add(&c, "x"), -1);
    assert_int_equal(c.len, OVP_CCFG_MAX);
    assert_int_equal(c.lines, 1);
    ovp_ccfg_clear(&c);

    /* Many short lines stop at the same limit. */
    size_t added = 0;
    while (ovp_ccfg_add(&c, "push \"route 192.0.2.0 255.255.255.0\"") == 0)
    {
        added++;
    }
    assert_true(added > 100);
    assert_true(c.len <= OVP_CCFG_MAX);
    assert_true(c.len + strlen("push \"route 192.0.2.0 255.255.255.0\"\n") > OVP_CCFG_MAX);
    assert_int_equal(c.lines, added);
    ovp_ccfg_clear(&c);
    free(line);
}

static void
addf__formats_and_checks_like_add(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    assert_int_equal(ovp_ccfg_addf(&c, "ifconfig-push %s %s", "10.8.0.9", "255.255.255.0"), 0);
    assert_int_equal(ovp_ccfg_addf(&c, "push \"route %s\"", "10.2.0.0 255.255.0.0\nbad"), -1);
    assert_int_equal(ovp_ccfg_addf(&c, "%s", ""), -1);
    assert_int_equal(ovp_ccfg_addf(NULL, "disable"), -1);
    assert_string_equal(c.buf, "ifconfig-push 10.8.0.9 255.255.255.0\n");
    ovp_ccfg_clear(&c);
}

static void
to_list__gives_one_malloced_config_entry(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    struct openvpn_plugin_string_list *list = NULL;
    assert_int_equal(ovp_ccfg_add(&c, "iroute 10.9.0.0 255.255.0.0"), 0);
    assert_int_equal(ovp_ccfg_add(&c, "push \"route 10.9.0.0 255.255.0.0\""), 0);

    assert_int_equal(ovp_ccfg_to_list(&c, &list), 0);
    assert_non_null(list);
    assert_null(list->next);
    assert_string_equal(list->name, "config");
    assert_string_equal(list->value, c.buf);
    assert_ptr_not_equal(list->value, c.buf); /* the host frees its own copy */

    /* The ccfg stays usable and independent of the list. */
    assert_int_equal(ovp_ccfg_add(&c, "disable"), 0);
    assert_string_equal(list->value,
                        "iroute 10.9.0.0 255.255.0.0\npush \"route 10.9.0.0 255.255.0.0\"\n");
    /* Freed as OpenVPN does (ASan checks every part came from malloc). */
    ovp_string_list_free(list);
    ovp_ccfg_clear(&c);
}

static void
to_list__empty_ccfg_gives_null(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    struct openvpn_plugin_string_list sentinel = {0};
    struct openvpn_plugin_string_list *list = &sentinel;
    assert_int_equal(ovp_ccfg_to_list(&c, &list), 0);
    assert_null(list);
    assert_int_equal(ovp_ccfg_to_list(&c, NULL), -1);
}

static void
string_list_free__frees_every_node_and_is_null_safe(void **state)
{
    (void)state;
    struct openvpn_plugin_string_list *list = NULL;
    for (int i = 0; i < 3; i++)
    {
        struct openvpn_plugin_string_list *n = calloc(1, sizeof(*n));
        assert_non_null(n);
        n->name = strdup("config");
        n->value = i == 1 ? NULL : strdup("push \"ping 10\"");
        n->next = list;
        list = n;
    }
    ovp_string_list_free(list);
    ovp_string_list_free(NULL);
}

static char *
slurp(const char *path)
{
    static char buf[512];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}

static void
write_file__writes_directives_and_truncates(void **state)
{
    (void)state;
    char dir[] = "/tmp/ovp-test-ccfg-XXXXXX";
    char path[128], missing[160];
    struct ovp_ccfg c = {0};
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ccfile", dir);
    snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const char old[] = "an old and much longer content that must disappear\n";
    assert_int_equal(write(fd, old, sizeof(old) - 1), (ssize_t)(sizeof(old) - 1));
    close(fd);

    assert_int_equal(ovp_ccfg_add(&c, "ifconfig-push 10.8.0.7 255.255.255.0"), 0);
    assert_int_equal(ovp_ccfg_write_file(&c, path), 0);
    assert_string_equal(slurp(path), "ifconfig-push 10.8.0.7 255.255.255.0\n");

    ovp_ccfg_clear(&c);
    assert_int_equal(ovp_ccfg_write_file(&c, path), 0);
    assert_string_equal(slurp(path), "");

    errno = 0;
    assert_int_equal(ovp_ccfg_write_file(&c, missing), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(ovp_ccfg_write_file(&c, NULL), -1);
    assert_int_equal(errno, EINVAL);

    unlink(path);
    rmdir(dir);
}

static void
clear__zeroes_and_is_null_safe(void **state)
{
    (void)state;
    struct ovp_ccfg c = {0};
    assert_int_equal(ovp_ccfg_add(&c, "disable"), 0);
    ovp_ccfg_clear(&c);
    assert_null(c.buf);
    assert_int_equal(c.len, 0);
    assert_int_equal(c.cap, 0);
    assert_int_equal(c.lines, 0);
    ovp_ccfg_clear(&c);
    ovp_ccfg_clear(NULL);
    /* Usable again after a clear. */
    assert_int_equal(ovp_ccfg_add(&c, "disable"), 0);
    assert_string_equal(c.buf, "disable\n");
    ovp_ccfg_clear(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add__appends_one_line_per_directive),
        cmocka_unit_test(add__refuses_empty_and_control_characters),
        cmocka_unit_test(add__refuses_what_would_exceed_the_maximum),
        cmocka_unit_test(addf__formats_and_checks_like_add),
        cmocka_unit_test(to_list__gives_one_malloced_config_entry),
        cmocka_unit_test(to_list__empty_ccfg_gives_null),
        cmocka_unit_test(string_list_free__frees_every_node_and_is_null_safe),
        cmocka_unit_test(write_file__writes_directives_and_truncates),
        cmocka_unit_test(clear__zeroes_and_is_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

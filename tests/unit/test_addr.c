/* test_addr.c: unit tests for learn-address-db/addr.c (address parsing and normalisation). */
#include "ovpbuild.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"

/* Parses IN, expecting success with text WANT and kind KIND. */
static void
expect_norm(const char *in, const char *want, enum addr_kind kind)
{
    struct addr a;
    if (addr_parse(in, &a) != 0)
    {
        fail_msg("'%s' was refused, expected '%s'", in, want);
    }
    if (strcmp(a.text, want) != 0)
    {
        fail_msg("'%s' normalised to '%s', expected '%s'", in, a.text, want);
    }
    assert_int_equal(a.kind, kind);
}

static void
expect_refused(const char *in)
{
    struct addr a;
    if (addr_parse(in, &a) == 0)
    {
        fail_msg("'%s' was accepted as '%s', expected a refusal", in, a.text);
    }
}

static void
parse__ipv4_host_is_kept(void **state)
{
    (void)state;
    expect_norm("10.8.0.14", "10.8.0.14", ADDR_IPV4);
    expect_norm("0.0.0.0", "0.0.0.0", ADDR_IPV4);
    expect_norm("255.255.255.255", "255.255.255.255", ADDR_IPV4);
}

static void
parse__ipv4_malformed_is_refused(void **state)
{
    (void)state;
    expect_refused("10.8.0");
    expect_refused("10.8.0.14.1");
    expect_refused("256.1.1.1");
    expect_refused("010.8.0.14"); /* leading zero: octal in some parsers */
    expect_refused("10.8.0.14:1194");
    expect_refused("10..0.14");
    expect_refused("ARP/10.8.0.14");
}

static void
parse__ipv6_compressed_forms_normalise_alike(void **state)
{
    (void)state;
    expect_norm("2001:db8::1", "2001:db8::1", ADDR_IPV6);
    expect_norm("2001:DB8:0:0:0:0:0:1", "2001:db8::1", ADDR_IPV6);
    expect_norm("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", ADDR_IPV6);
    expect_norm("2001:db8:0::0:1", "2001:db8::1", ADDR_IPV6);
    expect_norm("::1", "::1", ADDR_IPV6);
    expect_norm("::", "::", ADDR_IPV6);
    expect_norm("fe80:0:0:0:0:0:0:1", "fe80::1", ADDR_IPV6);
    expect_norm("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", ADDR_IPV6);
}

static void
parse__ipv6_that_looks_like_a_mac_is_ipv6(void **state)
{
    (void)state;
    /* 17 characters with ':' where a MAC has them: still IPv6. */
    expect_norm("ab:cd:ef:12:34::1", "ab:cd:ef:12:34::1", ADDR_IPV6);
}

static void
parse__ipv4_mapped_ipv6_becomes_ipv4(void **state)
{
    (void)state;
    expect_norm("::ffff:10.8.0.14", "10.8.0.14", ADDR_IPV4);
    expect_norm("::FFFF:0a08:000e", "10.8.0.14", ADDR_IPV4);
    expect_norm("::ffff:10.9.0.0/120", "10.9.0.0/24", ADDR_IPV4_NET);
}

static void
parse__ipv6_malformed_is_refused(void **state)
{
    (void)state;
    expect_refused("2001:db8::1::2");
    expect_refused("2001:db8:::1");
    expect_refused("fe80::1%eth0");
    expect_refused("[2001:db8::1]");
    expect_refused("2001:db8::g");
    expect_refused("1:2:3:4:5:6:7:8:9");
}

static void
parse__ipv4_iroute_is_normalised(void **state)
{
    (void)state;
    expect_norm("10.9.0.0/24", "10.9.0.0/24", ADDR_IPV4_NET);
    expect_norm("10.9.0.77/24", "10.9.0.0/24", ADDR_IPV4_NET); /* host bits cleared */
    expect_norm("10.9.0.77/0", "0.0.0.0/0", ADDR_IPV4_NET);
    expect_norm("10.9.0.77/31", "10.9.0.76/31", ADDR_IPV4_NET);
    expect_norm("10.9.0.77/32", "10.9.0.77", ADDR_IPV4); /* a /32 is a host */
}

static void
parse__ipv6_iroute_is_normalised(void **state)
{
    (void)state;
    expect_norm("2001:db8:1::/48", "2001:db8:1::/48", ADDR_IPV6_NET);
    expect_norm("2001:DB8:1:ffff::1/48", "2001:db8:1::/48", ADDR_IPV6_NET);
    expect_norm("2001:db8::1/127", "2001:db8::/127", ADDR_IPV6_NET);
    expect_norm("2001:db8::1/128", "2001:db8::1", ADDR_IPV6);
}

static void
parse__bad_prefix_is_refused(void **state)
{
    (void)state;
    expect_refused("10.9.0.0/33");
    expect_refused("10.9.0.0/024");
    expect_refused("10.9.0.0/");
    expect_refused("10.9.0.0/-1");
    expect_refused("10.9.0.0/24/24");
    expect_refused("10.9.0.0/255.255.255.0");
    expect_refused("2001:db8::/129");
    expect_refused("/24");
}

static void
parse__mac_is_lower_case_with_colons(void **state)
{
    (void)state;
    expect_norm("02:00:5e:00:53:01", "02:00:5e:00:53:01", ADDR_MAC);
    expect_norm("02:00:5E:00:53:AB", "02:00:5e:00:53:ab", ADDR_MAC);
    expect_norm("02-00-5e-00-53-ab", "02:00:5e:00:53:ab", ADDR_MAC);
}

static void
parse__mac_vlan_suffix_is_kept_unless_zero(void **state)
{
    struct addr a;
    (void)state;
    /* OpenVPN 2.6 prints "@vid" on every MAC; vid 0 means untagged. */
    expect_norm("02:00:5e:00:53:01@0", "02:00:5e:00:53:01", ADDR_MAC);
    expect_norm("02:00:5e:00:53:01@12", "02:00:5e:00:53:01@12", ADDR_MAC);
    assert_int_equal(addr_parse("02:00:5e:00:53:01@4095", &a), 0);
    assert_int_equal(a.vid, 4095);
    expect_refused("02:00:5e:00:53:01@4096");
    expect_refused("02:00:5e:00:53:01@");
    expect_refused("02:00:5e:00:53:01@012");
    expect_refused("10.8.0.14@1");
}

static void
parse__malformed_mac_is_refused(void **state)
{
    (void)state;
    expect_refused("02:00:5e:00:53");
    expect_refused("02:00:5e:00:53:01:02");
    expect_refused("02:00:5e:00:53:0g");
    expect_refused("02:00-5e:00:53:01");
    expect_refused("2:0:5e:0:53:1");
}

static void
parse__garbage_is_refused(void **state)
{
    char long_one[200];
    (void)state;
    assert_int_equal(addr_parse(NULL, &(struct addr){0}), -1);
    assert_int_equal(addr_parse("10.8.0.14", NULL), -1);
    expect_refused("");
    expect_refused("UNKNOWN");
    expect_refused("[NULL]");
    expect_refused(" 10.8.0.14");
    expect_refused("10.8.0.14 ");
    expect_refused("10.8.0.14\n");
    expect_refused("10.8.0.14\n10.8.0.15");
    expect_refused("'; DROP TABLE session; --");
    expect_refused("cafe");
    memset(long_one, '1', sizeof(long_one) - 1);
    long_one[sizeof(long_one) - 1] = '\0';
    expect_refused(long_one);
}

static void
kind_name__every_kind_has_a_name(void **state)
{
    (void)state;
    assert_string_equal(addr_kind_name(ADDR_IPV4), "ipv4");
    assert_string_equal(addr_kind_name(ADDR_IPV6), "ipv6");
    assert_string_equal(addr_kind_name(ADDR_IPV4_NET), "ipv4-net");
    assert_string_equal(addr_kind_name(ADDR_IPV6_NET), "ipv6-net");
    assert_string_equal(addr_kind_name(ADDR_MAC), "mac");
}

static void
covering__ipv4_host_lists_itself_then_every_prefix(void **state)
{
    char keys[ADDR_COVER_MAX][ADDR_TEXT_MAX];
    struct addr a;
    (void)state;
    assert_int_equal(addr_parse("10.8.0.14", &a), 0);
    assert_int_equal(addr_covering(&a, keys, ADDR_COVER_MAX), 33);
    assert_string_equal(keys[0], "10.8.0.14");
    assert_string_equal(keys[1], "10.8.0.14/31");
    assert_string_equal(keys[2], "10.8.0.12/30");
    assert_string_equal(keys[8], "10.8.0.0/24");
    assert_string_equal(keys[32], "0.0.0.0/0");
}

static void
covering__ipv6_host_has_129_keys(void **state)
{
    char keys[ADDR_COVER_MAX][ADDR_TEXT_MAX];
    struct addr a;
    (void)state;
    assert_int_equal(addr_parse("2001:db8:1::77", &a), 0);
    assert_int_equal(addr_covering(&a, keys, ADDR_COVER_MAX), 129);
    assert_string_equal(keys[0], "2001:db8:1::77");
    assert_string_equal(keys[128 - 48], "2001:db8:1::/48");
    assert_string_equal(keys[128], "::/0");
}

static void
covering__network_starts_at_its_own_prefix(void **state)
{
    char keys[ADDR_COVER_MAX][ADDR_TEXT_MAX];
    struct addr a;
    (void)state;
    assert_int_equal(addr_parse("10.9.0.0/24", &a), 0);
    assert_int_equal(addr_covering(&a, keys, ADDR_COVER_MAX), 25);
    assert_string_equal(keys[0], "10.9.0.0/24");
    assert_string_equal(keys[1], "10.9.0.0/23");
}

static void
covering__mac_is_only_itself_and_max_is_honoured(void **state)
{
    char keys[ADDR_COVER_MAX][ADDR_TEXT_MAX];
    struct addr a;
    (void)state;
    assert_int_equal(addr_parse("02:00:5e:00:53:01", &a), 0);
    assert_int_equal(addr_covering(&a, keys, ADDR_COVER_MAX), 1);
    assert_int_equal(addr_parse("10.8.0.14", &a), 0);
    assert_int_equal(addr_covering(&a, keys, 3), 3);
    assert_int_equal(addr_covering(&a, keys, 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse__ipv4_host_is_kept),
        cmocka_unit_test(parse__ipv4_malformed_is_refused),
        cmocka_unit_test(parse__ipv6_compressed_forms_normalise_alike),
        cmocka_unit_test(parse__ipv6_that_looks_like_a_mac_is_ipv6),
        cmocka_unit_test(parse__ipv4_mapped_ipv6_becomes_ipv4),
        cmocka_unit_test(parse__ipv6_malformed_is_refused),
        cmocka_unit_test(parse__ipv4_iroute_is_normalised),
        cmocka_unit_test(parse__ipv6_iroute_is_normalised),
        cmocka_unit_test(parse__bad_prefix_is_refused),
        cmocka_unit_test(parse__mac_is_lower_case_with_colons),
        cmocka_unit_test(parse__mac_vlan_suffix_is_kept_unless_zero),
        cmocka_unit_test(parse__malformed_mac_is_refused),
        cmocka_unit_test(parse__garbage_is_refused),
        cmocka_unit_test(kind_name__every_kind_has_a_name),
        cmocka_unit_test(covering__ipv4_host_lists_itself_then_every_prefix),
        cmocka_unit_test(covering__ipv6_host_has_129_keys),
        cmocka_unit_test(covering__network_starts_at_its_own_prefix),
        cmocka_unit_test(covering__mac_is_only_itself_and_max_is_honoured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

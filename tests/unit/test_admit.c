/* test_admit.c: unit tests for common/admit.c: SipHash, the counting table, the gate. */
#include "ovpbuild.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "admit.h"

/* ---------------------------------------------------------------- table */

static void
siphash__matches_the_reference_vectors(void **state)
{
    unsigned char key[16], msg[15];
    (void)state;

    for (int i = 0; i < 16; i++)
    {
        key[i] = (unsigned char)i;
    }
    for (int i = 0; i < 15; i++)
    {
        msg[i] = (unsigned char)i;
    }
    assert_true(ovp_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
    assert_true(ovp_siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
}

static void
admit__caps_count_per_key_and_come_back(void **state)
{
    unsigned char seed[16] = {1, 2, 3};
    struct ovp_admit *a = ovp_admit_new(4, seed);
    unsigned long n = 99;
    uint64_t alice, alice2, bob, ip;
    int e1, e2, e3;
    (void)state;

    assert_non_null(a);
    alice = ovp_admit_key(a, OVP_ADMIT_USER, "alice");
    alice2 = ovp_admit_key(a, OVP_ADMIT_USER, "ALICE");
    bob = ovp_admit_key(a, OVP_ADMIT_USER, "bob");
    ip = ovp_admit_key(a, OVP_ADMIT_ADDR, "alice");
    assert_true(alice == alice2); /* ASCII case folded for users */
    assert_true(alice != bob);
    assert_true(alice != ip); /* an address never counts as a user */
    e1 = ovp_admit_take(a, alice, 2, &n);
    assert_true(e1 >= 0);
    assert_int_equal(n, 0);
    e2 = ovp_admit_take(a, alice2, 2, &n);
    assert_int_equal(e2, e1);
    assert_int_equal(n, 1);
    assert_int_equal(ovp_admit_take(a, alice, 2, &n), -1); /* over the cap */
    assert_int_equal(n, 2);
    assert_true(ovp_admit_take(a, bob, 2, NULL) >= 0);
    ovp_admit_give(a, e1);
    e3 = ovp_admit_take(a, alice, 2, NULL); /* one came back */
    assert_int_equal(e3, e1);
    ovp_admit_give(a, e1);
    ovp_admit_give(a, e1);
    ovp_admit_give(a, e1); /* one more than taken: ignored */
    /* at 0 the entry was freed: alice starts again from nothing */
    assert_true(ovp_admit_take(a, alice, 1, &n) >= 0);
    assert_int_equal(n, 0);
    ovp_admit_free(a);
}

static void
admit__ipv6_counts_by_64_and_the_table_is_bounded(void **state)
{
    unsigned char seed[16] = {9};
    struct ovp_admit *a = ovp_admit_new(2, seed);
    uint64_t k1, k2, k3;
    (void)state;

    assert_non_null(a);
    k1 = ovp_admit_key(a, OVP_ADMIT_ADDR, "2001:db8:1:2::10");
    k2 = ovp_admit_key(a, OVP_ADMIT_ADDR, "2001:db8:1:2:ffff::1");
    k3 = ovp_admit_key(a, OVP_ADMIT_ADDR, "2001:db8:1:3::10");
    assert_true(k1 == k2);
    assert_true(k1 != k3);
    assert_true(ovp_admit_key(a, OVP_ADMIT_ADDR, "192.0.2.7") !=
                ovp_admit_key(a, OVP_ADMIT_ADDR, "192.0.2.8"));
    /* IPv4-mapped: one IPv4 client each, not one /64 for all of them */
    assert_true(ovp_admit_key(a, OVP_ADMIT_ADDR, "::ffff:192.0.2.7") !=
                ovp_admit_key(a, OVP_ADMIT_ADDR, "::ffff:192.0.2.8"));
    assert_true(ovp_admit_take(a, k1, 5, NULL) >= 0);
    assert_true(ovp_admit_take(a, k3, 5, NULL) >= 0);
    /* two keys fill this table: a third is refused, not grown */
    assert_int_equal(ovp_admit_take(a, ovp_admit_key(a, OVP_ADMIT_USER, "x"), 5, NULL), -2);
    ovp_admit_free(a);
    ovp_admit_free(NULL);
}

/* ---------------------------------------------------------------- gate */

static void
gate__address_cap_refuses_with_a_message_and_gives_back(void **state)
{
    struct ovp_admit_gate *g = ovp_admit_gate_new(2, 100, 16, "MaxPerAddress ", "MaxPerUser ");
    struct ovp_admit_hold h[3] = {OVP_ADMIT_HOLD_INIT, OVP_ADMIT_HOLD_INIT,
                                  OVP_ADMIT_HOLD_INIT};
    char msg[200];
    (void)state;

    assert_non_null(g);
    assert_int_equal(ovp_admit_gate_take(g, "192.0.2.7", "a", &h[0], msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, "192.0.2.7", "b", &h[1], msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, "192.0.2.7", "c", &h[2], msg, sizeof(msg)),
                     OVP_ADMIT_OVER_ADDR);
    assert_string_equal(msg, "2 authentications in progress from 192.0.2.7 (MaxPerAddress 2)");
    assert_null(h[2].gate); /* a refusal holds nothing */
    assert_int_equal(ovp_admit_gate_held(g), 2);
    /* another address is not held up */
    assert_int_equal(ovp_admit_gate_take(g, "192.0.2.8", "c", &h[2], msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    ovp_admit_gate_give(&h[2]);
    ovp_admit_gate_give(&h[0]);
    ovp_admit_gate_give(&h[0]); /* given back once only */
    assert_int_equal(ovp_admit_gate_held(g), 1);
    assert_int_equal(ovp_admit_gate_take(g, "192.0.2.7", "c", &h[0], msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, "192.0.2.7", "d", &h[2], msg, sizeof(msg)),
                     OVP_ADMIT_OVER_ADDR);
    ovp_admit_gate_give(&h[0]);
    ovp_admit_gate_give(&h[1]);
    ovp_admit_gate_give(NULL);
    assert_int_equal(ovp_admit_gate_held(g), 0);
    assert_string_equal(ovp_admit_reason(OVP_ADMIT_OVER_ADDR),
                        "TEMP: too many authentications in progress from this address, try "
                        "again later");
    ovp_admit_gate_free(g);
    ovp_admit_gate_free(NULL);
}

static void
gate__user_cap_is_case_folded_and_a_refusal_gives_the_address_back(void **state)
{
    struct ovp_admit_gate *g = ovp_admit_gate_new(3, 1, 16, "per_address=", "per_user=");
    struct ovp_admit_hold a = OVP_ADMIT_HOLD_INIT, b = OVP_ADMIT_HOLD_INIT,
                          c = OVP_ADMIT_HOLD_INIT, d = OVP_ADMIT_HOLD_INIT;
    char msg[200];
    (void)state;

    assert_non_null(g);
    assert_int_equal(ovp_admit_gate_take(g, "2001:db8::1", "Alice", &a, msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, "2001:db8::2", "aLICE", &b, msg, sizeof(msg)),
                     OVP_ADMIT_OVER_USER);
    assert_string_equal(msg, "1 authentications in progress for user \"aLICE\" (per_user=1)");
    /* the refused one's address count came back: two more fit under per_address=3 */
    assert_int_equal(ovp_admit_gate_take(g, "2001:db8::3", "bob", &b, msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, "2001:db8::4", "carol", &c, msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    /* one /64: the fourth from it is over per_address=3 */
    assert_int_equal(ovp_admit_gate_take(g, "2001:db8::5", "dave", &d, msg, sizeof(msg)),
                     OVP_ADMIT_OVER_ADDR);
    ovp_admit_gate_give(&b);
    ovp_admit_gate_give(&c);
    ovp_admit_gate_give(&a);
    assert_int_equal(ovp_admit_gate_held(g), 0);
    ovp_admit_gate_free(g);
}

static void
gate__no_address_counts_the_user_only_and_names_are_cleaned(void **state)
{
    struct ovp_admit_gate *g = ovp_admit_gate_new(1, 2, 4, NULL, NULL);
    struct ovp_admit_hold h[3] = {OVP_ADMIT_HOLD_INIT, OVP_ADMIT_HOLD_INIT,
                                  OVP_ADMIT_HOLD_INIT};
    char msg[200];
    (void)state;

    assert_non_null(g);
    /* no address: not all such clients in one address count */
    assert_int_equal(ovp_admit_gate_take(g, "", "x\nforged", &h[0], msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, NULL, "x\nforged", &h[1], msg, sizeof(msg)),
                     OVP_ADMIT_IN);
    assert_int_equal(ovp_admit_gate_take(g, NULL, "x\nforged", &h[2], msg, sizeof(msg)),
                     OVP_ADMIT_OVER_USER);
    assert_non_null(strstr(msg, "\"x?forged\""));
    assert_null(strchr(msg, '\n'));
    ovp_admit_gate_give(&h[0]);
    ovp_admit_gate_give(&h[1]);
    assert_int_equal(ovp_admit_gate_held(g), 0);
    /* zero caps are refused at creation */
    assert_null(ovp_admit_gate_new(0, 1, 4, NULL, NULL));
    assert_null(ovp_admit_gate_new(1, 0, 4, NULL, NULL));
    ovp_admit_gate_free(g);
}

static void
gate__a_full_table_refuses_rather_than_grows(void **state)
{
    /* sized for 0 requests: 128 entries */
    struct ovp_admit_gate *g = ovp_admit_gate_new(1000, 1000, 0, NULL, NULL);
    struct ovp_admit_hold h[70];
    char msg[200], user[32], addr[32];
    int i, refused = -1;
    (void)state;

    assert_non_null(g);
    for (i = 0; i < 70; i++)
    {
        snprintf(user, sizeof(user), "u%d", i);
        snprintf(addr, sizeof(addr), "198.51.100.%d", i);
        if (ovp_admit_gate_take(g, addr, user, &h[i], msg, sizeof(msg)) != OVP_ADMIT_IN)
        {
            refused = i;
            break;
        }
    }
    assert_int_equal(refused, 64); /* two entries each */
    assert_string_equal(msg, "the admission table is full");
    assert_int_equal(ovp_admit_gate_held(g), 64);
    for (i = 0; i < 64; i++)
    {
        ovp_admit_gate_give(&h[i]);
    }
    assert_int_equal(ovp_admit_gate_held(g), 0);
    ovp_admit_gate_free(g);
}

/* Takes and gives from several threads at once: the counts end at zero. */
static void *
churn(void *arg)
{
    struct ovp_admit_gate *g = arg;
    char msg[128];
    for (int i = 0; i < 20000; i++)
    {
        struct ovp_admit_hold h = OVP_ADMIT_HOLD_INIT;
        if (ovp_admit_gate_take(g, i % 2 ? "192.0.2.1" : "2001:db8::1", "shared", &h, msg,
                                sizeof(msg)) == OVP_ADMIT_IN)
        {
            ovp_admit_gate_give(&h);
        }
    }
    return NULL;
}

static void
gate__takes_and_gives_from_threads_balance(void **state)
{
    struct ovp_admit_gate *g = ovp_admit_gate_new(3, 5, 64, NULL, NULL);
    pthread_t t[4];
    (void)state;

    assert_non_null(g);
    for (int i = 0; i < 4; i++)
    {
        assert_int_equal(pthread_create(&t[i], NULL, churn, g), 0);
    }
    for (int i = 0; i < 4; i++)
    {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(ovp_admit_gate_held(g), 0);
    ovp_admit_gate_free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(siphash__matches_the_reference_vectors),
        cmocka_unit_test(admit__caps_count_per_key_and_come_back),
        cmocka_unit_test(admit__ipv6_counts_by_64_and_the_table_is_bounded),
        cmocka_unit_test(gate__address_cap_refuses_with_a_message_and_gives_back),
        cmocka_unit_test(gate__user_cap_is_case_folded_and_a_refusal_gives_the_address_back),
        cmocka_unit_test(gate__no_address_counts_the_user_only_and_names_are_cleaned),
        cmocka_unit_test(gate__a_full_table_refuses_rather_than_grows),
        cmocka_unit_test(gate__takes_and_gives_from_threads_balance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

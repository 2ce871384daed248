/* test_core_units.c: cmocka tests of ovp-refcore's pieces: callbacks, env, options, pool, routes. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "authfiles.h"
#include "ccopts.h"
#include "envset.h"
#include "host.h"
#include "pool.h"
#include "refcore.h"

/* ------------------------------------------- learn-address stub for pool.c */

static char learned[16][64];
static int n_learned;
static int learn_result = 1;

int session_learn_address(struct server *s, struct inst *mi, const char *op, const char *addr);

int
session_learn_address(struct server *s, struct inst *mi, const char *op, const char *addr)
{
    (void)s;
    if (n_learned < 16)
    {
        snprintf(learned[n_learned++], sizeof(learned[0]), "%s %s%s", op, addr,
                 mi ? "" : " (no client)");
    }
    return learn_result;
}

static int
reset(void **state)
{
    (void)state;
    n_learned = 0;
    learn_result = 1;
    logbook_free();
    logbook_init(3, 1, 100);
    return 0;
}

/* ------------------------------------------------------------------ base64 */

static void
base64__encode_matches_rfc4648_vectors(void **state)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

    (void)state;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
    {
        char *s = NULL;

        assert_int_equal(host_base64_encode(in[i], (int)strlen(in[i]), &s), strlen(out[i]));
        assert_string_equal(s, out[i]);
        free(s);
    }
}

static void
base64__negative_size_is_refused(void **state)
{
    char *s = NULL;

    (void)state;
    assert_int_equal(host_base64_encode("x", -1, &s), -1);
    assert_null(s);
}

static void
base64__decode_roundtrips_and_checks_bounds(void **state)
{
    unsigned char buf[16];

    (void)state;
    assert_int_equal(host_base64_decode("Zm9vYmFy", buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "foobar", 6);
    assert_int_equal(host_base64_decode("Zg==", buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'f');
    /* too small an output, a cut group, padding in the middle: errors */
    assert_int_equal(host_base64_decode("Zm9vYmFy", buf, 5), -1);
    assert_int_equal(host_base64_decode("Zm9", buf, sizeof(buf)), -1);
    assert_int_equal(host_base64_decode("Z=9v", buf, sizeof(buf)), -1);
    /* a negative size means unbounded */
    assert_int_equal(host_base64_decode("Zm9v", buf, -1), 3);
    /* decoding stops at the first character outside the alphabet */
    assert_int_equal(host_base64_decode("Zm9v!!!!", buf, sizeof(buf)), 3);
}

/* -------------------------------------------------------------- log callback */

static void
vlog__prefixes_the_plugin_name(void **state)
{
    (void)state;
    host_callbacks.plugin_log(PLOG_NOTE, "myplug", "hello %d", 42);
    assert_int_equal(logbook_count(), 1);
    assert_string_equal(logbook_get(0), "PLUGIN myplug: hello 42");
}

static void
vlog__empty_name_is_suppressed(void **state)
{
    (void)state;
    host_callbacks.plugin_log(PLOG_ERR, "", "nobody");
    host_callbacks.plugin_log(PLOG_ERR, NULL, "nobody");
    assert_int_equal(logbook_find("nobody", 0), -1);
}

static void
vlog__debug_shows_only_at_verb_7(void **state)
{
    (void)state;
    host_callbacks.plugin_log(PLOG_DEBUG, "p", "quiet at 3");
    assert_int_equal(logbook_find("quiet at 3", 0), -1);
    logbook_free();
    logbook_init(7, 1, 100);
    host_callbacks.plugin_log(PLOG_DEBUG, "p", "loud at 7");
    assert_true(logbook_find("PLUGIN p: loud at 7", 0) >= 0);
}

static void
vlog__errno_is_appended(void **state)
{
    (void)state;
    errno = ENOENT;
    host_callbacks.plugin_log(PLOG_ERR | PLOG_ERRNO, "p", "open x");
    assert_true(logbook_find("PLUGIN p: open x: No such file or directory (errno=2)", 0) >= 0);
}

static void
memzero__clears(void **state)
{
    char buf[8] = "secret!";

    (void)state;
    host_callbacks.plugin_secure_memzero(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
    {
        assert_int_equal(buf[i], 0);
    }
}

/* --------------------------------------------------------------- env set */

static void
envset__newest_first_and_a_reset_moves_to_front(void **state)
{
    struct envset *es = envset_new();
    const char **a;

    (void)state;
    envset_set(es, "a", "1");
    envset_set(es, "b", "2");
    envset_set(es, "a", "3");
    a = envset_array(es);
    assert_string_equal(a[0], "a=3");
    assert_string_equal(a[1], "b=2");
    assert_null(a[2]);
    free(a);
    assert_string_equal(envset_get(es, "b"), "2");
    assert_null(envset_get(es, "ab"));
    envset_free(es);
}

static void
envset__delete_and_clone(void **state)
{
    struct envset *es = envset_new(), *c;

    (void)state;
    envset_set(es, "password", "hunter2");
    envset_add_line(es, "IV_SSO=crtext");
    c = envset_clone(es);
    assert_int_equal(envset_del(es, "password"), 1);
    assert_int_equal(envset_del(es, "password"), 0);
    assert_null(envset_get(es, "password"));
    assert_int_equal(envset_count(es), 1);
    /* the clone is independent */
    assert_string_equal(envset_get(c, "password"), "hunter2");
    envset_free(es);
    envset_free(c);
}

/* ------------------------------------------------------- client options */

static void
split__follows_openvpn_quoting(void **state)
{
    char *w[8];
    int n;

    (void)state;
    n = ccopts_split("push \"route 10.0.0.0 255.0.0.0\"", w, 8);
    assert_int_equal(n, 2);
    assert_string_equal(w[1], "route 10.0.0.0 255.0.0.0");
    for (int i = 0; i < n; i++)
    {
        free(w[i]);
    }
    n = ccopts_split("a 'b \\c' \"d\\\"e\" # comment", w, 8);
    assert_int_equal(n, 3);
    assert_string_equal(w[1], "b \\c");
    assert_string_equal(w[2], "d\"e");
    for (int i = 0; i < n; i++)
    {
        free(w[i]);
    }
    assert_int_equal(ccopts_split("push \"unterminated", w, 8), -1);
    assert_int_equal(ccopts_split("   ; a comment", w, 8), 0);
}

static void
import__directives_land_where_openvpn_puts_them(void **state)
{
    static char srv0[] = "dhcp-option DNS 10.8.0.1", srv1[] = "route 10.1.0.0 255.255.0.0";
    char *const server_push[] = {srv0, srv1};
    struct ccopts o;
    char buf[64];
    struct in_addr a;

    (void)state;
    ccopts_init(&o, server_push, 2);
    ccopts_import(&o,
                  "push \"route 10.2.0.0 255.255.0.0\"\n"
                  "push-remove \"route 10.1\"\n"
                  "ifconfig-push 10.8.1.2 255.255.0.0\n"
                  "iroute 192.168.7.9 255.255.255.0\n"
                  "iroute-ipv6 2001:db8:1::5/64\n"
                  "ifconfig-ipv6-push fd00:8::42/64\n",
                  "test");
    assert_int_equal(o.n_push, 2);
    assert_string_equal(o.push[0], "dhcp-option DNS 10.8.0.1");
    assert_string_equal(o.push[1], "route 10.2.0.0 255.255.0.0");
    assert_true(o.ifconfig_push);
    a.s_addr = htonl(o.push_local);
    assert_string_equal(inet_ntop(AF_INET, &a, buf, sizeof(buf)), "10.8.1.2");
    assert_int_equal(o.n_iroutes, 2);
    /* as learn-address prints them: network part only, with the prefix length */
    assert_string_equal(o.iroutes[0], "192.168.7.0/24");
    assert_string_equal(o.iroutes[1], "2001:db8:1::/64");
    assert_true(o.ifconfig_ipv6_push);
    assert_int_equal(o.push_v6_bits, 64);
    assert_false(o.disable);
    ccopts_import(&o, "push-reset\ndisable\n", "test");
    assert_int_equal(o.n_push, 0);
    assert_true(o.disable);
    ccopts_free(&o);
}

static void
import__unknown_directive_is_an_options_error(void **state)
{
    struct ccopts o;

    (void)state;
    ccopts_init(&o, NULL, 0);
    ccopts_import(&o, "dev tap0\n", "test");
    assert_true(logbook_find("Options error: option 'dev' cannot be used in this context", 0) >=
                0);
    ccopts_free(&o);
}

/* ------------------------------------------------------------------ pool */

static void
pool__a_common_name_gets_its_address_back(void **state)
{
    struct in6_addr net6, v6;
    struct pool *p;
    uint32_t v4a, v4b, v4c;
    char buf[64];
    int ha, hb;

    (void)state;
    inet_pton(AF_INET6, "fd00:8::", &net6);
    p = pool_new(0x0a080000u, 0xffffff00u, &net6, 64, 1, 0);
    ha = pool_acquire(p, "alice", &v4a, &v6);
    assert_int_equal(v4a, 0x0a080002u);
    assert_string_equal(inet_ntop(AF_INET6, &v6, buf, sizeof(buf)), "fd00:8::1000");
    hb = pool_acquire(p, "bob", &v4b, &v6);
    assert_int_equal(v4b, 0x0a080003u);
    pool_release(p, ha);
    pool_release(p, hb);
    /* someone new gets a fresh address; alice gets hers again */
    pool_acquire(p, "carol", &v4c, &v6);
    assert_int_equal(v4c, 0x0a080004u);
    pool_acquire(p, "alice", &v4a, &v6);
    assert_int_equal(v4a, 0x0a080002u);
    pool_free(p);
}

/* ifconfig_pool_find: a full pool reuses the address released earliest (not the last) */
static void
pool__reuses_the_earliest_released(void **state)
{
    struct pool *p;
    uint32_t v4;
    int h[5];

    (void)state;
    p = pool_new(0x0a080000u, 0xfffffff8u, NULL, 0, 0, 0); /* 5 addresses */
    for (int i = 0; i < 5; i++)
    {
        h[i] = pool_acquire(p, NULL, &v4, NULL);
    }
    /* released first (or in the same second, with the lower index): comes back first,
     * where a stack of released addresses would give the last one */
    pool_release(p, h[1]);
    pool_release(p, h[3]);
    assert_int_equal(pool_acquire(p, "x", &v4, NULL), h[1]);
    assert_int_equal(pool_acquire(p, "y", &v4, NULL), h[3]);
    pool_free(p);
}

/* clients that come back with their names leave stale released items behind (a
 * million of them in a soak); once those are dropped the earliest released free
 * address still comes first */
static void
pool__stale_releases_are_dropped(void **state)
{
    struct pool *p;
    uint32_t v4;
    int h[5], a;

    (void)state;
    p = pool_new(0x0a080000u, 0xfffffff8u, NULL, 0, 0, 0); /* 5 addresses */
    for (int i = 0; i < 5; i++)
    {
        char cn[8];

        snprintf(cn, sizeof(cn), "c%d", i);
        h[i] = pool_acquire(p, cn, &v4, NULL);
    }
    pool_release(p, h[2]);
    pool_release(p, h[4]);
    /* c0 comes and goes 1000 times: each release is an item, each but the last stale */
    for (int i = 0; i < 1000; i++)
    {
        pool_release(p, h[0]);
        a = pool_acquire(p, "c0", &v4, NULL);
        assert_int_equal(a, h[0]);
    }
    /* the earliest released: h[2] (released first, and the lower index in a tie) */
    a = pool_acquire(p, "x", &v4, NULL);
    assert_int_equal(a, h[2]);
    assert_int_equal(pool_acquire(p, "y", &v4, NULL), h[4]);
    assert_int_equal(pool_acquire(p, "z", &v4, NULL), -1);
    pool_free(p);
}

/* with duplicate-cn the lowest free address comes first, never-used or not */
static void
pool__duplicate_cn_takes_the_lowest_free(void **state)
{
    struct pool *p;
    uint32_t v4;
    int h[3];

    (void)state;
    p = pool_new(0x0a080000u, 0xffffff00u, NULL, 0, 0, 1);
    for (int i = 0; i < 3; i++)
    {
        h[i] = pool_acquire(p, NULL, &v4, NULL);
    }
    pool_release(p, h[2]);
    pool_release(p, h[0]);
    pool_acquire(p, NULL, &v4, NULL);
    assert_int_equal(v4, 0x0a080002u);
    pool_acquire(p, NULL, &v4, NULL);
    assert_int_equal(v4, 0x0a080004u);
    pool_acquire(p, NULL, &v4, NULL);
    assert_int_equal(v4, 0x0a080005u);
    pool_free(p);
}

static void
pool__exhaustion_is_reported(void **state)
{
    struct pool *p;
    uint32_t v4;
    int got = 0;

    (void)state;
    /* a /29: 8 addresses, minus network, server and broadcast */
    p = pool_new(0x0a080000u, 0xfffffff8u, NULL, 0, 0, 0);
    while (pool_acquire(p, NULL, &v4, NULL) >= 0)
    {
        got++;
    }
    assert_int_equal(got, 5);
    pool_free(p);
}

static void
routes__add_update_and_late_delete(void **state)
{
    struct rtable *rt = rt_new();
    struct route_owner *a = route_owner_new((struct inst *)&a);
    struct route_owner *b;

    (void)state;
    assert_int_equal(rt_learn(rt, NULL, a, "10.8.0.2"), 1);
    assert_int_equal(rt_learn(rt, NULL, a, "10.8.0.2"), 1); /* already ours: no call */
    assert_int_equal(n_learned, 1);
    assert_string_equal(learned[0], "add 10.8.0.2");
    /* the owner goes; its route stays until reaped, so a newcomer updates it */
    route_owner_halt(a);
    b = route_owner_new((struct inst *)&b);
    assert_int_equal(rt_learn(rt, NULL, b, "10.8.0.2"), 1);
    assert_string_equal(learned[1], "update 10.8.0.2");
    assert_int_equal(rt_count(rt), 1);
    route_owner_halt(b);
    assert_int_equal(rt_reap(rt, NULL, 1), 1);
    assert_string_equal(learned[2], "delete 10.8.0.2 (no client)");
    assert_int_equal(rt_count(rt), 0);
    rt_free(rt);
}

static void
routes__a_failed_add_is_not_learned(void **state)
{
    struct rtable *rt = rt_new();
    struct route_owner *a = route_owner_new((struct inst *)&a);

    (void)state;
    learn_result = 0;
    assert_int_equal(rt_learn(rt, NULL, a, "10.8.0.3"), 0);
    assert_int_equal(rt_count(rt), 0);
    route_owner_halt(a);
    rt_free(rt);
}

/* ------------------------------------------------------------- auth files */

static void
tmpfile__is_private_exclusive_and_named_like_openvpn(void **state)
{
    char dir[] = "/tmp/ovp-units.XXXXXX";
    struct stat sb;
    char *path;
    const char *base;

    (void)state;
    assert_non_null(mkdtemp(dir));
    path = tmpfile_create(dir, "acf");
    assert_non_null(path);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 0);
    base = strrchr(path, '/') + 1;
    assert_int_equal(strncmp(base, "openvpn_acf_", 12), 0);
    assert_int_equal(strlen(base), strlen("openvpn_acf_0123456789abcdef.tmp"));
    /* pending until a first byte says otherwise */
    assert_int_equal(file_first_byte_verdict(path), -1);
    {
        FILE *f = fopen(path, "w");

        fputs("1", f);
        fclose(f);
    }
    assert_int_equal(file_first_byte_verdict(path), 1);
    tmpfile_remove(&path);
    assert_null(path);
    assert_int_equal(rmdir(dir), 0);
}

static void
return_lists__freed_with_values_zeroed(void **state)
{
    struct host_return r;
    struct openvpn_plugin_string_list *l = malloc(sizeof(*l));
    const char *col[HOST_MAX_PLUGINS];

    (void)state;
    l->next = NULL;
    l->name = strdup("config");
    l->value = strdup("push \"route 10.0.0.0 255.0.0.0\"");
    memset(&r, 0, sizeof(r));
    r.n = 2;
    r.list[1] = l;
    host_return_column(&r, "config", col);
    assert_null(col[0]);
    assert_string_equal(col[1], "push \"route 10.0.0.0 255.0.0.0\"");
    host_return_column(&r, "other", col);
    assert_null(col[1]);
    host_return_free(&r); /* ASan reports a leak or double free */
    assert_int_equal(r.n, 0);
    assert_null(r.list[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(base64__encode_matches_rfc4648_vectors, reset),
        cmocka_unit_test_setup(base64__negative_size_is_refused, reset),
        cmocka_unit_test_setup(base64__decode_roundtrips_and_checks_bounds, reset),
        cmocka_unit_test_setup(vlog__prefixes_the_plugin_name, reset),
        cmocka_unit_test_setup(vlog__empty_name_is_suppressed, reset),
        cmocka_unit_test_setup(vlog__debug_shows_only_at_verb_7, reset),
        cmocka_unit_test_setup(vlog__errno_is_appended, reset),
        cmocka_unit_test_setup(memzero__clears, reset),
        cmocka_unit_test_setup(envset__newest_first_and_a_reset_moves_to_front, reset),
        cmocka_unit_test_setup(envset__delete_and_clone, reset),
        cmocka_unit_test_setup(split__follows_openvpn_quoting, reset),
        cmocka_unit_test_setup(import__directives_land_where_openvpn_puts_them, reset),
        cmocka_unit_test_setup(import__unknown_directive_is_an_options_error, reset),
        cmocka_unit_test_setup(pool__a_common_name_gets_its_address_back, reset),
        cmocka_unit_test_setup(pool__exhaustion_is_reported, reset),
        cmocka_unit_test_setup(pool__reuses_the_earliest_released, reset),
        cmocka_unit_test_setup(pool__stale_releases_are_dropped, reset),
        cmocka_unit_test_setup(pool__duplicate_cn_takes_the_lowest_free, reset),
        cmocka_unit_test_setup(routes__add_update_and_late_delete, reset),
        cmocka_unit_test_setup(routes__a_failed_add_is_not_learned, reset),
        cmocka_unit_test_setup(tmpfile__is_private_exclusive_and_named_like_openvpn, reset),
        cmocka_unit_test_setup(return_lists__freed_with_values_zeroed, reset),
    };
    int rc = cmocka_run_group_tests_name("refcore", tests, NULL, NULL);

    logbook_free();
    return rc;
}

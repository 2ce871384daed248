/* test_auth_ldap.c: unit tests for ovp-auth-ldap's pure parts: filters, SCRV1, AD, config. */
#include "ovpbuild.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../auth-ldap/ldap_cache.h"
#include "../../auth-ldap/ldap_conf.h"
#include "../../auth-ldap/ldap_filter.h"
#include "secret.h"
#include "testfs.h"

#define DEBIAN_EXAMPLE "/usr/share/doc/openvpn-auth-ldap/examples/auth-ldap.conf"

static void
check_escape(const char *in, size_t len, const char *want)
{
    char *out = al_filter_escape(in, len);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void
escape_filter__rfc4515_specials_are_escaped(void **state)
{
    (void)state;
    check_escape("*", 1, "\\2a");
    check_escape("(", 1, "\\28");
    check_escape(")", 1, "\\29");
    check_escape("\\", 1, "\\5c");
    check_escape("a\0b", 3, "a\\00b");
    check_escape("*)(uid=*", 8, "\\2a\\29\\28uid=\\2a");
    check_escape("admin)(|(uid=*", 14, "admin\\29\\28|\\28uid=\\2a");
}

static void
escape_filter__utf8_and_plain_text_are_kept_controls_escaped(void **state)
{
    (void)state;
    check_escape("j\xc3\xbcrgen", 7, "j\xc3\xbcrgen");
    check_escape("smith, john", 11, "smith, john");
    check_escape("o'brien \"q\"", 11, "o'brien \"q\"");
    check_escape("a\nb\x7f", 4, "a\\0ab\\7f");
    check_escape("", 0, "");
}

static void
subst__every_percent_u_is_the_escaped_name(void **state)
{
    char *f;
    (void)state;
    f = al_filter_subst("(&(uid=%u)(accountStatus=active))", "*)(uid=*");
    assert_string_equal(f, "(&(uid=\\2a\\29\\28uid=\\2a)(accountStatus=active))");
    free(f);
    f = al_filter_subst("(|(uid=%u)(mail=%u))", "a(b");
    assert_string_equal(f, "(|(uid=a\\28b)(mail=a\\28b))");
    free(f);
    /* Only %u is special; a template without parentheses is wrapped. */
    f = al_filter_subst("uid=%u%d", "x");
    assert_string_equal(f, "(uid=x%d)");
    free(f);
}

static void
member_filter__a_dn_with_escapes_is_escaped_again(void **state)
{
    char *f;
    (void)state;
    /* The DN "uid=smith\2C john,..." as a value: its backslash is a filter special. */
    f = al_member_filter("(cn=vpn)", "member", "uid=smith\\2C john,ou=People,dc=x");
    assert_string_equal(f, "(&(cn=vpn)(member=uid=smith\\5c2C john,ou=People,dc=x))");
    free(f);
    f = al_member_filter("cn=vpn", "memberUid", "a*b");
    assert_string_equal(f, "(&(cn=vpn)(memberUid=a\\2ab))");
    free(f);
    f = al_member_filter(NULL, "uniqueMember", "x)(y");
    assert_string_equal(f, "(uniqueMember=x\\29\\28y)");
    free(f);
}

static void
member_filter_any__or_of_escaped_values_and_the_ad_in_chain_rule(void **state)
{
    const char *dns[] = {"cn=a(1),dc=x", "cn=b*,dc=x"};
    const char *user[] = {"uid=dave,dc=x"};
    char *f;
    (void)state;
    f = al_member_filter_any("(cn=outer)", "member", NULL, dns, 2);
    assert_string_equal(f, "(&(cn=outer)(|(member=cn=a\\281\\29,dc=x)(member=cn=b\\2a,dc=x)))");
    free(f);
    f = al_member_filter_any(NULL, "member", NULL, dns, 2);
    assert_string_equal(f, "(|(member=cn=a\\281\\29,dc=x)(member=cn=b\\2a,dc=x))");
    free(f);
    f = al_member_filter_any("(cn=vpn)", "member", "1.2.840.113556.1.4.1941", user, 1);
    assert_string_equal(f, "(&(cn=vpn)(member:1.2.840.113556.1.4.1941:=uid=dave,dc=x))");
    free(f);
    assert_null(al_member_filter_any("(cn=vpn)", "member", NULL, user, 0));
}

static void
attr_name__only_attribute_descriptions(void **state)
{
    (void)state;
    assert_true(al_attr_name_ok("uniqueMember"));
    assert_true(al_attr_name_ok("member;binary"));
    assert_true(al_attr_name_ok("2.5.4.31"));
    assert_false(al_attr_name_ok("member)(x"));
    assert_false(al_attr_name_ok(""));
    assert_false(al_attr_name_ok("a b"));
}

static void
scrv1__password_part_decoded_else_refused(void **state)
{
    char out[64];
    (void)state;
    /* "secret" / "123456" */
    assert_int_equal(al_scrv1_password("SCRV1:c2VjcmV0:MTIzNDU2", out, sizeof(out)), 6);
    assert_string_equal(out, "secret");
    assert_int_equal(al_scrv1_password("SCRV1::MTIzNDU2", out, sizeof(out)), 0);
    assert_int_equal(al_scrv1_password("secret", out, sizeof(out)), -1);
    assert_int_equal(al_scrv1_password("SCRV1:c2VjcmV0", out, sizeof(out)), -1);
    assert_int_equal(al_scrv1_password("SCRV1:c2V*cmV0:MTIz", out, sizeof(out)), -1);
    assert_int_equal(al_scrv1_password("SCRV1:AA==:MTIz", out, sizeof(out)), -1); /* NUL */
    assert_int_equal(al_scrv1_password("SCRV1:c2VjcmV0:MTIz", out, 4), -1);       /* long */
    ovp_wipe(out, sizeof(out));
}

static void
ad_reason__diagnostic_codes_become_reasons(void **state)
{
    (void)state;
    assert_string_equal(al_ad_reason("80090308: LdapErr: DSID-0C09042A, comment: "
                                     "AcceptSecurityContext error, data 775, v3839"),
                        "account locked");
    assert_string_equal(al_ad_reason("... data 773, v2580"), "password must be changed");
    assert_string_equal(al_ad_reason("... data 532, v"), "password expired");
    assert_string_equal(al_ad_reason("... data 533, v"), "account disabled");
    assert_string_equal(al_ad_reason("... data 701, v"), "account expired");
    assert_string_equal(al_ad_reason("... data 530, v"),
                        "not permitted to log on at this time");
    assert_null(al_ad_reason("... data 52e, v3839")); /* a wrong password: plain */
    assert_null(al_ad_reason("Invalid credentials"));
    assert_null(al_ad_reason(NULL));
}

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
    /* SipHash-2-4 paper, appendix A / the reference implementation's vectors. */
    assert_true(al_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(al_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

static void
cache__same_password_hits_until_ttl_other_password_misses(void **state)
{
    struct al_cache *c = al_cache_new(8);
    (void)state;
    assert_non_null(c);
    assert_int_equal(al_cache_get(c, "alice", "pw1", 1000), -1);
    al_cache_put(c, "alice", "pw1", 1, 5000, 1000);
    assert_int_equal(al_cache_get(c, "alice", "pw1", 5999), 1);
    assert_int_equal(al_cache_get(c, "alice", "pw2", 2000), -1);
    assert_int_equal(al_cache_get(c, "alic", "epw1", 2000), -1); /* the NUL separates */
    assert_int_equal(al_cache_get(c, "alice", "pw1", 6000), -1); /* expired */
    al_cache_put(c, "bob", "bad", 0, 5000, 1000);
    assert_int_equal(al_cache_get(c, "bob", "bad", 2000), 0);
    /* A refusal of another password leaves alice's success in place. */
    al_cache_put(c, "alice", "pw1", 1, 5000, 1000);
    al_cache_put(c, "alice", "wrong", 0, 5000, 1000);
    assert_int_equal(al_cache_get(c, "alice", "wrong", 2000), 0);
    {
        /* Unless both landed in one of the 8 slots (then the newer one is kept). */
        int v = al_cache_get(c, "alice", "pw1", 2000);
        assert_true(v == 1 || v == -1);
    }
    al_cache_put(c, "bob", "bad", 0, 0, 1000); /* TTL 0: nothing new stored */
    al_cache_free(c);
    al_cache_free(NULL);
}

/* ---------------------------------------------------------------- config */

static int
load_text(const char *text, struct al_conf *c, char *err, size_t errlen, int files)
{
    const char *path = testfs_write("a.conf", text, strlen(text), 0600);
    const char *words[] = {path};
    return files ? al_conf_load(words, 1, c, err, errlen)
                 : al_conf_load_nofiles(words, 1, c, err, errlen);
}

static const char minimal[] = "<LDAP>\n URL ldap://a ldap://b:1389\n</LDAP>\n"
                              "<Authorization>\n BaseDN \"dc=x\"\n SearchFilter \"(uid=%u)\"\n"
                              "</Authorization>\n";

static void
conf__debian_example_loads_unchanged(void **state)
{
    struct al_conf c;
    char err[512];
    const char *words[] = {DEBIAN_EXAMPLE};
    (void)state;

    if (access(DEBIAN_EXAMPLE, R_OK) != 0)
    {
        if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
        {
            fail_msg("%s missing (CI=true: apt-get install openvpn-auth-ldap)", DEBIAN_EXAMPLE);
        }
        skip();
    }
    assert_int_equal(al_conf_load_nofiles(words, 1, &c, err, sizeof(err)), 0);
    assert_string_equal(c.urls[0], "ldap://ldap1.example.org");
    assert_int_equal(c.timeout_s, 15);
    assert_true(c.tls_enable);
    assert_true(c.follow_referrals);
    assert_string_equal(c.search_filter, "(&(uid=%u)(accountStatus=active))");
    assert_false(c.require_group);
    assert_int_equal(c.n_groups, 1);
    assert_string_equal(c.groups[0].member_attr, "uniqueMember");
    assert_true(c.groups[0].rfc2307bis);
    assert_true(c.groups[0].use_compare);
    al_conf_release(&c);
    /* With its TLS files checked (as at open), the missing CA file is named. */
    assert_int_equal(al_conf_load(words, 1, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "TLSCACertFile \"/usr/local/etc/ssl/ca.pem\" cannot be read"));
    al_conf_release(&c);
}

static void
conf__defaults_and_url_list(void **state)
{
    struct al_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load_text(minimal, &c, err, sizeof(err), 1), 0);
    assert_int_equal(c.n_urls, 2);
    assert_string_equal(c.urls[1], "ldap://b:1389");
    assert_int_equal(c.timeout_s, 15);
    assert_false(c.tls_enable);
    assert_false(c.follow_referrals);
    assert_int_equal(c.tls_verify, AL_VERIFY_DEMAND);
    assert_int_equal(c.tls_min, AL_TLS_1_2);
    assert_null(c.bind_dn);
    al_conf_release(&c);
}

static void
conf__admission_caps_default_and_bad_values_name_the_key(void **state)
{
    struct al_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load_text(minimal, &c, err, sizeof(err), 1), 0);
    assert_int_equal(c.per_address, 32);
    assert_int_equal(c.per_user, 8);
    al_conf_release(&c);
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n MaxPerAddress 200\n MaxPerUser 50\n"
                               "</LDAP>\n<Authorization>\n BaseDN x\n SearchFilter (uid=%u)\n"
                               "</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     0);
    assert_int_equal(c.per_address, 200);
    assert_int_equal(c.per_user, 50);
    al_conf_release(&c);
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n MaxPerUser 0\n</LDAP>\n"
                               "<Authorization>\n BaseDN x\n SearchFilter (uid=%u)\n"
                               "</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "MaxPerUser"));
    assert_non_null(strstr(err, "a.conf:3"));
    al_conf_release(&c);
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n MaxPerAddress lots\n</LDAP>\n"
                               "<Authorization>\n BaseDN x\n SearchFilter (uid=%u)\n"
                               "</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "MaxPerAddress"));
    assert_non_null(strstr(err, "lots"));
    al_conf_release(&c);
}

static void
conf__cache_combines_with_client_config(void **state)
{
    struct al_conf c;
    char err[512];
    (void)state;
    /* A success from the cache has its client config looked up at client-connect. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n PushAttribute description\n"
                               " CacheTTL 1m\n TokenSkip true\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     0);
    assert_true(c.client_config);
    assert_int_equal(c.cache_ttl_ms, 60000);
    assert_true(c.token_skip);
    al_conf_release(&c);
}

static void
conf__pftable_is_accepted_with_a_warning_naming_it(void **state)
{
    struct al_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n PFTable ips_vpn_users\n <Group>\n"
                               "  BaseDN g\n  SearchFilter (cn=x)\n  PFTable ips_eng\n"
                               " </Group>\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     0);
    assert_int_equal(c.n_warnings, 2);
    assert_non_null(strstr(c.warnings[0], "PFTable \"ips_eng\""));
    assert_non_null(strstr(c.warnings[1], "PFTable \"ips_vpn_users\""));
    assert_non_null(strstr(c.warnings[1], "not honoured"));
    al_conf_release(&c);
}

static void
conf__errors_say_what_and_never_show_the_password(void **state)
{
    struct al_conf c;
    char err[512];
    (void)state;
    /* No %u: every user would be the same. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=alice)\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "has no %u"));
    al_conf_release(&c);
    /* ldapi:// and others are refused by name. */
    assert_int_equal(load_text("<LDAP>\n URL ldapi:///\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "only ldap:// and ldaps://"));
    al_conf_release(&c);
    /* Unknown key, with the secret on the line before it: the value is never shown. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n BindDN cn=x\n Password Hunter-22\n"
                               " Timout 3\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "Timout"));
    assert_null(strstr(err, "Hunter-22"));
    al_conf_release(&c);
    /* RequireGroup without a group: nobody could log in. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n RequireGroup true\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "RequireGroup"));
    al_conf_release(&c);
    /* A MemberAttribute that would inject into the group filter. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n <Group>\n  BaseDN g\n"
                               "  SearchFilter (cn=x)\n  MemberAttribute \"member)(x\"\n"
                               " </Group>\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "MemberAttribute"));
    al_conf_release(&c);
    /* NestedGroups needs members by DN. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n<Authorization>\n BaseDN x\n"
                               " SearchFilter (uid=%u)\n <Group>\n  BaseDN g\n"
                               "  SearchFilter (cn=x)\n  MemberAttribute memberUid\n"
                               "  RFC2307bis false\n  NestedGroups search\n"
                               " </Group>\n</Authorization>\n",
                               &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "NestedGroups needs members listed by DN"));
    al_conf_release(&c);
    /* Missing section. */
    assert_int_equal(load_text("<LDAP>\n URL ldap://a\n</LDAP>\n", &c, err, sizeof(err), 1),
                     -1);
    assert_non_null(strstr(err, "<Authorization>"));
    al_conf_release(&c);
}

static void
conf__password_from_a_secret_file_and_its_mode_rule(void **state)
{
    struct al_conf c;
    char err[512], text[512];
    const char *pw = testfs_write("pw", "Svc-Pass-9\n", 11, 0600);
    (void)state;
    snprintf(text, sizeof(text),
             "<LDAP>\n URL ldap://a\n BindDN uid=svc\n PasswordFile %s\n</LDAP>\n"
             "<Authorization>\n BaseDN x\n SearchFilter (uid=%%u)\n</Authorization>\n",
             pw);
    assert_int_equal(load_text(text, &c, err, sizeof(err), 1), 0);
    assert_string_equal(c.password, "Svc-Pass-9");
    al_conf_release(&c);
    /* Readable by others: refused, the secret not shown. */
    testfs_write("pw", "Svc-Pass-9\n", 11, 0644);
    assert_int_equal(load_text(text, &c, err, sizeof(err), 1), -1);
    assert_null(strstr(err, "Svc-Pass-9"));
    al_conf_release(&c);
    /* A password inline in a config file others may read: refused too. */
    {
        const char inl[] = "<LDAP>\n URL ldap://a\n BindDN uid=svc\n Password Svc-Pass-9\n"
                           "</LDAP>\n<Authorization>\n BaseDN x\n SearchFilter (uid=%u)\n"
                           "</Authorization>\n";
        const char *path = testfs_write("b.conf", inl, strlen(inl), 0644);
        const char *words[] = {path};
        assert_int_equal(al_conf_load(words, 1, &c, err, sizeof(err)), -1);
        assert_null(strstr(err, "Svc-Pass-9"));
        al_conf_release(&c);
    }
}

/* Linked with -Wl,--wrap=free (Makefile.am): every free of the code under test passes
 * here and is searched for WATCHED, a secret that must have been wiped first. */
void __real_free(void *p);
void __wrap_free(void *p);
static const char *watched;
static int watched_frees, freed_with_secret;

void
__wrap_free(void *p)
{
    if (p && watched)
    {
        watched_frees++;
        if (memmem(p, malloc_usable_size(p), watched, strlen(watched)))
        {
            freed_with_secret++;
        }
    }
    __real_free(p);
}

static void
cache__no_copy_of_the_password_is_freed_unwiped(void **state)
{
    struct al_cache *c;
    (void)state;
    watched = "Cache-Pass-42";
    watched_frees = freed_with_secret = 0;
    c = al_cache_new(8);
    assert_non_null(c);
    al_cache_put(c, "alice", "Cache-Pass-42", 1, 5000, 1000);
    assert_int_equal(al_cache_get(c, "alice", "Cache-Pass-42", 2000), 1);
    assert_int_equal(al_cache_get(c, "alice", "xCache-Pass-42", 2000), -1);
    al_cache_free(c);
    /* tag_of's buffer (username, NUL, password) was freed twice per call, wiped. */
    assert_true(watched_frees >= 3);
    assert_int_equal(freed_with_secret, 0);
    watched = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escape_filter__rfc4515_specials_are_escaped),
        cmocka_unit_test(escape_filter__utf8_and_plain_text_are_kept_controls_escaped),
        cmocka_unit_test(subst__every_percent_u_is_the_escaped_name),
        cmocka_unit_test(member_filter__a_dn_with_escapes_is_escaped_again),
        cmocka_unit_test(member_filter_any__or_of_escaped_values_and_the_ad_in_chain_rule),
        cmocka_unit_test(attr_name__only_attribute_descriptions),
        cmocka_unit_test(scrv1__password_part_decoded_else_refused),
        cmocka_unit_test(ad_reason__diagnostic_codes_become_reasons),
        cmocka_unit_test(siphash__matches_the_reference_vectors),
        cmocka_unit_test(cache__same_password_hits_until_ttl_other_password_misses),
        cmocka_unit_test(cache__no_copy_of_the_password_is_freed_unwiped),
        cmocka_unit_test(conf__debian_example_loads_unchanged),
        cmocka_unit_test(conf__defaults_and_url_list),
        cmocka_unit_test(conf__admission_caps_default_and_bad_values_name_the_key),
        cmocka_unit_test(conf__cache_combines_with_client_config),
        cmocka_unit_test(conf__pftable_is_accepted_with_a_warning_naming_it),
        cmocka_unit_test(conf__errors_say_what_and_never_show_the_password),
        cmocka_unit_test(conf__password_from_a_secret_file_and_its_mode_rule),
    };
    return cmocka_run_group_tests(tests, testfs_setup, testfs_teardown);
}

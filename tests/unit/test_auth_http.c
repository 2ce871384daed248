/* test_auth_http.c: unit tests for ovp-auth-http's pure parts: config, URLs, JSON, reasons, HMAC. */
#include "ovpbuild.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "../../auth-http/http_backend.h"
#include "../../auth-http/http_conf.h"
#include "../../auth-http/http_json.h"
#include "secret.h"

/* Loads inline words; returns the result and leaves ERR for the caller. */
static int
load(struct ah_conf *c, char *err, size_t errlen, const char *w0, const char *w1,
     const char *w2)
{
    const char *w[3] = {w0, w1, w2};
    size_t n = w2 ? 3 : w1 ? 2 : 1;
    return ah_conf_load(w, n, c, err, errlen);
}

static void
conf__inline_url_and_defaults(void **state)
{
    struct ah_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load(&c, err, sizeof(err), "url=https://auth.example/vpn?k=1", NULL, NULL),
                     0);
    assert_int_equal(c.n_urls, 1);
    assert_string_equal(c.urls[0].shown, "https://auth.example/vpn");
    assert_int_equal(c.timeout_ms, 5000);
    assert_int_equal(c.connect_timeout_ms, 2000);
    assert_int_equal(c.retries, 1);
    assert_int_equal(c.max_in_flight, 256);
    assert_int_equal(c.max_body, 65536);
    assert_int_equal(c.verify_peer, 1);
    assert_true(c.hook_auth);
    assert_false(c.hook_connect);
    assert_int_equal(c.fields, AH_F_USERNAME | AH_F_PASSWORD | AH_F_COMMON_NAME |
                                   AH_F_UNTRUSTED_IP | AH_F_UNTRUSTED_PORT);
    ah_conf_release(&c);
}

static void
conf__admission_caps_default_and_bad_values_name_the_key(void **state)
{
    struct ah_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a.example/x", NULL, NULL), 0);
    assert_int_equal(c.per_address, 32);
    assert_int_equal(c.per_user, 8);
    ah_conf_release(&c);
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a.example/x", "maxperaddress=500",
                          "MaxPerUser=3"),
                     0);
    assert_int_equal(c.per_address, 500);
    assert_int_equal(c.per_user, 3);
    ah_conf_release(&c);
    assert_int_equal(
        load(&c, err, sizeof(err), "url=https://a.example/x", "MaxPerAddress=0", NULL), -1);
    assert_non_null(strstr(err, "MaxPerAddress"));
    ah_conf_release(&c);
    assert_int_equal(
        load(&c, err, sizeof(err), "url=https://a.example/x", "MaxPerUser=2000000", NULL), -1);
    assert_non_null(strstr(err, "MaxPerUser"));
    assert_non_null(strstr(err, "2000000"));
    ah_conf_release(&c);
}

static void
conf__several_urls_hooks_and_fields(void **state)
{
    struct ah_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a.example/x http://127.0.0.1:8/y",
                          "hooks=auth,client-connect", "fields=username peer_info hook"),
                     0);
    assert_int_equal(c.n_urls, 2);
    assert_false(c.urls[1].https);
    assert_true(c.urls[1].loopback);
    assert_true(c.hook_auth && c.hook_connect);
    assert_int_equal(c.fields, AH_F_USERNAME | AH_F_PEER_INFO | AH_F_HOOK);
    ah_conf_release(&c);
}

static void
conf__plain_http_to_another_host_is_refused_unless_allowed(void **state)
{
    struct ah_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load(&c, err, sizeof(err), "url=http://auth.example/vpn", NULL, NULL), -1);
    assert_non_null(strstr(err, "AllowPlainHTTP"));
    ah_conf_release(&c);
    assert_int_equal(
        load(&c, err, sizeof(err), "url=http://auth.example/vpn", "allowplainhttp=yes", NULL),
        0);
    ah_conf_release(&c);
}

static void
conf__bad_values_are_errors_that_say_what(void **state)
{
    struct ah_conf c;
    char err[512];
    (void)state;
    assert_int_equal(load(&c, err, sizeof(err), "url=https://u:pw@a.example/", NULL, NULL), -1);
    assert_non_null(strstr(err, "user:password@"));
    assert_null(strstr(err, "pw"));
    ah_conf_release(&c);
    assert_int_equal(load(&c, err, sizeof(err), "url=ftp://a.example/", NULL, NULL), -1);
    assert_non_null(strstr(err, "only http:// and https://"));
    ah_conf_release(&c);
    assert_int_equal(
        load(&c, err, sizeof(err), "url=https://a/", "fields=username shoesize", NULL), -1);
    assert_non_null(strstr(err, "shoesize"));
    ah_conf_release(&c);
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a/", "hooks=learn-address", NULL),
                     -1);
    ah_conf_release(&c);
    assert_int_equal(
        load(&c, err, sizeof(err), "url=https://a/", "clientcertfile=/etc/hostname", NULL), -1);
    assert_non_null(strstr(err, "ClientKeyFile"));
    ah_conf_release(&c);
    assert_int_equal(
        load(&c, err, sizeof(err), "url=https://a/", "timeout=1s", "connecttimeout=3s"), 0);
    assert_int_equal(c.connect_timeout_ms, 1000); /* part of the attempt: capped */
    ah_conf_release(&c);
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a/", "retries=9", NULL), -1);
    ah_conf_release(&c);
    /* A secret inline on the plugin line is refused (OpenVPN logs plugin lines). */
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a/", "bearertoken=abc", NULL), -1);
    assert_null(strstr(err, "abc"));
    ah_conf_release(&c);
    assert_int_equal(load(&c, err, sizeof(err), "url=https://a/", "colour=blue", NULL), -1);
    ah_conf_release(&c);
}

static void
conf__file_with_http_section_and_secret_files(void **state)
{
    char dir[] = "/tmp/ovp-ah-unit.XXXXXX", path[256], tok[256], text[1024];
    struct ah_conf c;
    char err[512];
    const char *w[1];
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(tok, sizeof(tok), "%s/token", dir);
    f = fopen(tok, "w");
    assert_non_null(f);
    fputs("tok-123\n", f);
    fclose(f);
    chmod(tok, 0600);
    snprintf(path, sizeof(path), "%s/a.conf", dir);
    snprintf(text, sizeof(text),
             "<HTTP>\n  URL https://a.example/one\n  URL https://b.example/two\n"
             "  BearerTokenFile %s\n  Timeout 750ms\n</HTTP>\n",
             tok);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
    w[0] = path;
    if (ah_conf_load(w, 1, &c, err, sizeof(err)) != 0)
    {
        fail_msg("%s", err);
    }
    assert_int_equal(c.n_urls, 2);
    assert_string_equal(c.bearer, "tok-123");
    assert_int_equal(c.timeout_ms, 750);
    ah_conf_release(&c);
    /* A token with a CR would add a header line: refused. */
    f = fopen(tok, "w");
    fputs("tok\r\nX-Evil: 1\n", f);
    fclose(f);
    assert_int_equal(ah_conf_load(w, 1, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "BearerTokenFile"));
    assert_null(strstr(err, "Evil"));
    ah_conf_release(&c);
    unlink(tok);
    unlink(path);
    rmdir(dir);
}

static void
url__shown_form_drops_query_and_fragment(void **state)
{
    struct ah_url u;
    char err[256];
    (void)state;
    assert_int_equal(
        ah_url_parse("https://h.example:8443/a/b?token=s3#f", &u, err, sizeof(err)), 0);
    assert_string_equal(u.shown, "https://h.example:8443/a/b");
    free(u.url);
    free(u.shown);
    assert_int_equal(ah_url_parse("http://[::1]:80", &u, err, sizeof(err)), 0);
    assert_string_equal(u.shown, "http://[::1]:80/");
    assert_true(u.loopback);
    free(u.url);
    free(u.shown);
    assert_int_equal(ah_url_parse("https://a b/", &u, err, sizeof(err)), -1);
    assert_int_equal(ah_url_parse("https:///x", &u, err, sizeof(err)), -1);
}

static void
loopback__only_loopback_names_and_addresses(void **state)
{
    (void)state;
    assert_true(ah_host_is_loopback("127.0.0.1"));
    assert_true(ah_host_is_loopback("127.9.8.7"));
    assert_true(ah_host_is_loopback("[::1]"));
    assert_true(ah_host_is_loopback("localhost"));
    assert_false(ah_host_is_loopback("128.0.0.1"));
    assert_false(ah_host_is_loopback("localhost.example"));
    assert_false(ah_host_is_loopback("127.0.0.1.nip.io"));
    assert_false(ah_host_is_loopback("[::2]"));
}

static json_t *
built(const char *const *envp, unsigned fields, int with_password, int *replaced)
{
    struct ah_body_in in;
    char err[128];
    char *text;
    json_t *j;
    memset(&in, 0, sizeof(in));
    in.envp = envp;
    in.fields = fields;
    in.hook = "auth";
    in.request_id = "00ff";
    in.with_password = with_password;
    text = ah_body_build(&in, replaced, err, sizeof(err));
    assert_non_null(text);
    j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    ovp_free_secret(text);
    return j;
}

static void
body__fields_encoded_by_jansson_intact(void **state)
{
    const char *envp[] = {
        "username=a\"b\\c,{}",    "password=p\"w",       "common_name=j\xc3\xbcrgen",
        "untrusted_ip=192.0.2.1", "untrusted_port=1194", "IV_SSO=openurl",
        "IV_VER=2.6.3",           "session_id=abc",      NULL};
    int replaced = 0;
    json_t *j;
    (void)state;
    j = built(envp,
              AH_F_USERNAME | AH_F_PASSWORD | AH_F_COMMON_NAME | AH_F_UNTRUSTED_IP |
                  AH_F_UNTRUSTED_PORT | AH_F_PEER_INFO | AH_F_REQUEST_ID,
              1, &replaced);
    assert_string_equal(json_string_value(json_object_get(j, "username")), "a\"b\\c,{}");
    assert_string_equal(json_string_value(json_object_get(j, "password")), "p\"w");
    assert_string_equal(json_string_value(json_object_get(j, "common_name")), "j\xc3\xbcrgen");
    assert_string_equal(json_string_value(json_object_get(j, "untrusted_port")), "1194");
    assert_string_equal(json_string_value(json_object_get(j, "hook")), "auth");
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "00ff");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "peer_info"), "IV_SSO")),
        "openurl");
    assert_null(json_object_get(j, "session_id")); /* not selected */
    assert_int_equal(replaced, 0);
    json_decref(j);
}

static void
body__password_never_sent_when_not_allowed(void **state)
{
    const char *envp[] = {"username=a", "password=secret", NULL};
    json_t *j;
    (void)state;
    j = built(envp, AH_F_USERNAME | AH_F_PASSWORD, 0, NULL);
    assert_null(json_object_get(j, "password"));
    json_decref(j);
}

static void
body__invalid_utf8_is_replaced_and_reported(void **state)
{
    const char *envp[] = {"username=bad\xff\xc3(x", NULL};
    int replaced = 0;
    json_t *j;
    (void)state;
    j = built(envp, AH_F_USERNAME, 1, &replaced);
    assert_string_equal(json_string_value(json_object_get(j, "username")),
                        "bad\xef\xbf\xbd\xef\xbf\xbd(x");
    assert_int_equal(replaced, 1);
    json_decref(j);
}

static void
answer__members_parsed_strictly(void **state)
{
    struct ah_answer a;
    char err[160];
    const char *ok = "{\"reason\":\"hi\",\"client_config\":[\"push \\\"route 1.2.3.0 "
                     "255.255.255.0\\\"\",\"ifconfig-push 10.8.0.9 255.255.255.0\"],\"x\":1}";
    (void)state;
    assert_int_equal(ah_answer_parse(ok, strlen(ok), &a, err, sizeof(err)), 0);
    assert_string_equal(a.reason, "hi");
    assert_int_equal(a.n_config, 2);
    assert_string_equal(a.client_config[1], "ifconfig-push 10.8.0.9 255.255.255.0");
    ah_answer_clear(&a);

    const char *pend =
        "{\"pending\":{\"url\":\"https://sso/x\",\"timeout\":90},\"ticket\":\"t1\"}";
    assert_int_equal(ah_answer_parse(pend, strlen(pend), &a, err, sizeof(err)), 0);
    assert_string_equal(a.pending_url, "https://sso/x");
    assert_int_equal(a.pending_timeout, 90);
    assert_string_equal(a.ticket, "t1");
    ah_answer_clear(&a);

    const char *ch = "{\"challenge\":{\"text\":\"Code?\",\"echo\":true},\"ticket\":\"t2\"}";
    assert_int_equal(ah_answer_parse(ch, strlen(ch), &a, err, sizeof(err)), 0);
    assert_string_equal(a.challenge_text, "Code?");
    assert_int_equal(a.challenge_echo, 1);
    ah_answer_clear(&a);
}

static void
answer__malformed_bodies_are_errors(void **state)
{
    static const char *const bad[] = {
        "{\"reason\":\"a\",\"reason\":\"b\"}", /* duplicate key */
        "{\"reason\":\"\xff\"}",               /* invalid UTF-8 */
        "[1,2]",                               /* not an object */
        "{\"client_config\":\"push x\"}",      /* not a list */
        "{\"client_config\":[1]}",             /* not strings */
        "{\"reason\":5}",
        "{\"pending\":{\"timeout\":5}}", /* no url */
        "{\"challenge\":{\"text\":\"x\",\"echo\":\"no\"}}",
        "not json",
        "",
    };
    struct ah_answer a;
    char err[160];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(ah_answer_parse(bad[i], strlen(bad[i]), &a, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        ah_answer_clear(&a);
    }
}

static void
reason__controls_become_spaces_and_length_is_capped(void **state)
{
    char out[512], in[600];
    (void)state;
    assert_string_equal(ah_reason_sanitize("  locked,\r\nsee IT\x07  ", out, sizeof(out)),
                        "locked,  see IT");
    assert_string_equal(ah_reason_sanitize(NULL, out, sizeof(out)), "");
    assert_string_equal(ah_reason_sanitize("bad\xff byte", out, sizeof(out)), "bad  byte");
    /* 199 ASCII bytes then a 2-byte character: the character would cross 200, dropped. */
    memset(in, 'a', 199);
    memcpy(in + 199,
           "\xc3\xbc"
           "zz",
           5);
    ah_reason_sanitize(in, out, sizeof(out));
    assert_int_equal(strlen(out), 199);
    memset(in, 'b', 500);
    in[500] = '\0';
    assert_int_equal(strlen(ah_reason_sanitize(in, out, sizeof(out))), AH_REASON_MAX);
}

static void
hmac__matches_a_known_signature(void **state)
{
    char hex[65];
    const char *body = "{\"hook\":\"auth\"}";
    (void)state;
    /* python3: hmac.new(b"Hmac-Key", b"1700000000." + body, hashlib.sha256).hexdigest() */
    assert_int_equal(ah_hmac_sign("Hmac-Key", 8, "1700000000", body, strlen(body), hex), 0);
    assert_string_equal(hex,
                        "a9bc2121e0241afd938e7fb4a2bbf5da38c8cf14ff356d164fa625b540cc462a");
}

static void
pending__texts_fit_openvpn_lines(void **state)
{
    char out[2048], url[1100];
    (void)state;
    assert_int_equal(ah_pending_text("openurl", "https://sso/x", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "OPEN_URL:https://sso/x");
    assert_int_equal(ah_pending_text("webauth", "https://sso/x", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "WEB_AUTH::https://sso/x");
    assert_int_equal(ah_pending_text("crtext", "Enter\nyour code", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "CR_TEXT:R:Enteryour code");
    assert_int_equal(ah_pending_text("crtext", "Code", 1, out, sizeof(out)), 0);
    assert_string_equal(out, "CR_TEXT:E,R:Code");
    /* A URL OpenVPN would cut is refused rather than sent broken. */
    memset(url, 'u', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    assert_int_equal(ah_pending_text("openurl", url, 0, out, sizeof(out)), -1);
}

/* Every block jansson frees is searched for WATCHED: a copy of a secret freed unwiped. */
static const char *watched;
static int jansson_frees, freed_with_secret;

static void
watching_free(void *p)
{
    if (p && watched)
    {
        jansson_frees++;
        if (memmem(p, malloc_usable_size(p), watched, strlen(watched)))
        {
            freed_with_secret++;
        }
    }
    free(p);
}

static void
body__no_copy_of_the_password_or_response_is_freed_unwiped(void **state)
{
    const char *envp[] = {"username=alice",         "password=Wipe-Pass-77", "common_name=a",
                          "untrusted_ip=192.0.2.1", "IV_SSO=crtext",         NULL};
    const char *secrets[] = {"Wipe-Pass-77", "Wipe-Resp-31"};
    struct ah_body_in in;
    char err[128];
    (void)state;
    for (size_t i = 0; i < 2; i++)
    {
        char *text;
        memset(&in, 0, sizeof(in));
        in.envp = envp;
        in.fields = AH_F_USERNAME | AH_F_PASSWORD | AH_F_COMMON_NAME | AH_F_UNTRUSTED_IP |
                    AH_F_PEER_INFO | AH_F_REQUEST_ID;
        in.hook = i == 0 ? "auth" : "crresponse";
        in.request_id = "00ff";
        in.with_password = i == 0;
        in.response = i == 1 ? "Wipe-Resp-31" : NULL;
        watched = secrets[i];
        jansson_frees = freed_with_secret = 0;
        json_set_alloc_funcs(malloc, watching_free);
        text = ah_body_build(&in, NULL, err, sizeof(err));
        json_set_alloc_funcs(malloc, free);
        assert_non_null(text);
        /* The request holds the secret (it is what is sent), jansson's copies do not. */
        assert_non_null(strstr(text, secrets[i]));
        assert_true(jansson_frees > 0);
        assert_int_equal(freed_with_secret, 0);
        ovp_free_secret(text);
    }
    watched = NULL;
}

/* Linked with -Wl,--wrap=free (Makefile.am): every free of the code under test passes
 * here and, while WRAP_WATCHED is set, is searched for each of its secrets (a
 * NULL-ended list): a copy of a secret freed unwiped. */
void __real_free(void *p);
void __wrap_free(void *p);
static const char *const *wrap_watched;
static int wrap_frees, wrap_freed_with_secret;

void
__wrap_free(void *p)
{
    if (p && wrap_watched)
    {
        wrap_frees++;
        for (const char *const *w = wrap_watched; *w; w++)
        {
            if (memmem(p, malloc_usable_size(p), *w, strlen(*w)))
            {
                wrap_freed_with_secret++;
            }
        }
    }
    __real_free(p);
}

/* A request after completion: ah_request_free wipes the body it sent (the password is
 * in it) and the service's ticket before it frees them. */
static void
request__free_wipes_the_body_and_ticket_before_freeing(void **state)
{
    static const char *const secrets[] = {"Req-Pass-58", "Req-Ticket-93", NULL};
    const char *envp[] = {"username=alice", "password=Req-Pass-58", "common_name=a",
                          "untrusted_ip=192.0.2.1", NULL};
    struct ah_body_in in;
    struct ah_request *r = calloc(1, sizeof(*r));
    char err[128];
    (void)state;

    assert_non_null(r);
    memset(&in, 0, sizeof(in));
    in.envp = envp;
    in.fields = AH_F_USERNAME | AH_F_PASSWORD | AH_F_COMMON_NAME | AH_F_UNTRUSTED_IP;
    in.hook = "auth";
    in.with_password = 1;
    r->body = ah_body_build(&in, NULL, err, sizeof(err));
    assert_non_null(r->body);
    assert_non_null(strstr(r->body, "Req-Pass-58"));
    r->body_len = strlen(r->body);
    r->kind = AH_K_POLL;
    r->ticket = ovp_strdup_secret("Req-Ticket-93");
    assert_non_null(r->ticket);
    wrap_watched = secrets;
    wrap_frees = wrap_freed_with_secret = 0;
    ah_request_free(r);
    wrap_watched = NULL;
    /* the body, the ticket and the request itself, none holding a secret */
    assert_int_equal(wrap_frees, 3);
    assert_int_equal(wrap_freed_with_secret, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conf__inline_url_and_defaults),
        cmocka_unit_test(conf__admission_caps_default_and_bad_values_name_the_key),
        cmocka_unit_test(conf__several_urls_hooks_and_fields),
        cmocka_unit_test(conf__plain_http_to_another_host_is_refused_unless_allowed),
        cmocka_unit_test(conf__bad_values_are_errors_that_say_what),
        cmocka_unit_test(conf__file_with_http_section_and_secret_files),
        cmocka_unit_test(url__shown_form_drops_query_and_fragment),
        cmocka_unit_test(loopback__only_loopback_names_and_addresses),
        cmocka_unit_test(body__fields_encoded_by_jansson_intact),
        cmocka_unit_test(body__password_never_sent_when_not_allowed),
        cmocka_unit_test(body__invalid_utf8_is_replaced_and_reported),
        cmocka_unit_test(body__no_copy_of_the_password_or_response_is_freed_unwiped),
        cmocka_unit_test(request__free_wipes_the_body_and_ticket_before_freeing),
        cmocka_unit_test(answer__members_parsed_strictly),
        cmocka_unit_test(answer__malformed_bodies_are_errors),
        cmocka_unit_test(reason__controls_become_spaces_and_length_is_capped),
        cmocka_unit_test(hmac__matches_a_known_signature),
        cmocka_unit_test(pending__texts_fit_openvpn_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

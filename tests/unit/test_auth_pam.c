/* test_auth_pam.c: unit tests for ovp-auth-pam's pure parts: options, mapping, crtext, wire. */
#include "ovpbuild.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../auth-pam/pam_args.h"
#include "../../auth-pam/pam_wire.h"
#include "defer.h"
#include "secret.h"

/* ------------------------------------------------------------ helpers */

static int
parse(struct ap_args *a, const char *const *words, size_t n, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    return ap_args_parse(words, n, a, err, errlen);
}

static char *
expand_with(const char *value, const struct ap_creds *c)
{
    const char *words[] = {"svc", "prompt", value};
    struct ap_args a;
    char err[256];
    char *out;

    assert_int_equal(parse(&a, words, 3, err, sizeof(err)), 0);
    out = ap_expand(&a.prompts[0], c);
    ap_args_free(&a);
    assert_non_null(out);
    return out;
}

static const struct ap_creds creds = {
    .username = "alice",
    .password = "s3cret",
    .common_name = "alice-cert",
    .otp = "123456",
};

static void
assert_expands(const char *value, const char *want)
{
    char *got = expand_with(value, &creds);
    assert_string_equal(got, want);
    ovp_free_secret(got);
}

/* ---------------------------------------------------------- arguments */

static void
args_parse__service_only_has_no_prompts(void **state)
{
    const char *words[] = {"openvpn"};
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(parse(&a, words, 1, err, sizeof(err)), 0);
    assert_string_equal(a.service, "openvpn");
    assert_int_equal(a.n_prompts, 0);
    ap_args_free(&a);
    assert_null(a.service);
}

static void
args_parse__pairs_are_kept_in_order(void **state)
{
    const char *words[] = {"openvpn",  "login", "USERNAME", "password",
                           "PASSWORD", "pin",   "OTP"};
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(parse(&a, words, 7, err, sizeof(err)), 0);
    assert_int_equal(a.n_prompts, 3);
    assert_string_equal(a.prompts[0].prefix, "login");
    assert_string_equal(a.prompts[1].value, "PASSWORD");
    assert_string_equal(a.prompts[2].prefix, "pin");
    ap_args_free(&a);
}

static void
args_parse__missing_service_is_error(void **state)
{
    struct ap_args a;
    char err[256] = "";
    (void)state;

    assert_int_equal(parse(&a, NULL, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no PAM service"));
}

static void
args_parse__odd_pair_words_are_error(void **state)
{
    const char *words[] = {"openvpn", "login", "USERNAME", "password"};
    struct ap_args a;
    char err[256] = "";
    (void)state;

    assert_int_equal(parse(&a, words, 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"password\" has no value"));
    assert_null(a.service);
}

static void
args_parse__too_many_pairs_is_error(void **state)
{
    const char *words[1 + 2 * (AP_PROMPTS_MAX + 1)];
    struct ap_args a;
    char err[256] = "";
    (void)state;

    words[0] = "openvpn";
    for (size_t i = 1; i < sizeof(words) / sizeof(words[0]); i++)
    {
        words[i] = "x";
    }
    assert_int_equal(parse(&a, words, sizeof(words) / sizeof(words[0]), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many"));
    /* exactly the maximum is fine */
    assert_int_equal(parse(&a, words, 1 + 2 * AP_PROMPTS_MAX, err, sizeof(err)), 0);
    assert_int_equal(a.n_prompts, AP_PROMPTS_MAX);
    ap_args_free(&a);
}

static void
args_parse__bad_service_names_are_error(void **state)
{
    const char *slash[] = {"../etc/shadow"};
    const char *empty[] = {""};
    const char *ctrl[] = {"open\nvpn"};
    struct ap_args a;
    char err[256] = "";
    (void)state;

    assert_int_equal(parse(&a, slash, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad PAM service name"));
    assert_int_equal(parse(&a, empty, 1, err, sizeof(err)), -1);
    assert_int_equal(parse(&a, ctrl, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "control character"));
}

static void
args_parse__control_or_long_words_are_error(void **state)
{
    char *long_word = malloc(AP_WORD_MAX + 2);
    const char *ctrl[] = {"openvpn", "pass\tword", "PASSWORD"};
    const char *big[] = {"openvpn", "password", long_word};
    struct ap_args a;
    char err[256] = "";
    (void)state;

    assert_non_null(long_word);
    memset(long_word, 'v', AP_WORD_MAX + 1);
    long_word[AP_WORD_MAX + 1] = '\0';
    assert_int_equal(parse(&a, ctrl, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "word 2"));
    assert_int_equal(parse(&a, big, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than"));
    free(long_word);
}

/* ----------------------------------------------------------- matching */

static void
prompt_matches__prefix_is_case_insensitive(void **state)
{
    (void)state;
    assert_true(ap_prompt_matches("Password: ", "password"));
    assert_true(ap_prompt_matches("PASSWORD:", "Pass"));
    assert_true(ap_prompt_matches("login:", "LOGIN"));
    assert_false(ap_prompt_matches("Pass:", "password"));
    assert_false(ap_prompt_matches("Username:", "password"));
    assert_false(ap_prompt_matches(NULL, "password"));
}

static void
prompt_matches__leading_punctuation_is_skipped(void **state)
{
    (void)state;
    assert_true(ap_prompt_matches("  [Token] code", "token"));
    assert_true(ap_prompt_matches("\n> Verification code:", "verification"));
    /* only the prompt's lead is skipped, not the prefix's */
    assert_false(ap_prompt_matches("Token", " token"));
}

static void
prompt_matches__empty_prefix_matches_any_real_prompt(void **state)
{
    (void)state;
    assert_true(ap_prompt_matches("Anything:", ""));
    /* a prompt without a letter or digit matches nothing (as the bundled plugin) */
    assert_false(ap_prompt_matches(": ", ""));
    assert_false(ap_prompt_matches("", ""));
}

static void
prompt_matches__non_ascii_is_compared_bytewise(void **state)
{
    (void)state;
    assert_true(ap_prompt_matches("Mot de passe: ", "mot de"));
    assert_true(ap_prompt_matches("Kennwort für VPN", "KENNWORT f\xc3\xbcr"));
    assert_false(ap_prompt_matches("Kennwort F\xc3\x9cR", "kennwort f\xc3\xbcr"));
}

static void
prompt_find__first_match_wins(void **state)
{
    const char *words[] = {"svc", "pass", "FIRST", "password", "SECOND", "", "CATCHALL"};
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(parse(&a, words, 7, err, sizeof(err)), 0);
    assert_int_equal(ap_prompt_find(&a, "Password:"), 0);
    assert_int_equal(ap_prompt_find(&a, "Token:"), 2);
    assert_int_equal(ap_prompt_find(&a, "::"), -1);
    ap_args_free(&a);
    assert_int_equal(ap_prompt_find(&a, "Password:"), -1); /* freed: no prompts */
}

/* -------------------------------------------------------------- values */

static void
expand__each_placeholder_alone(void **state)
{
    (void)state;
    assert_expands("USERNAME", "alice");
    assert_expands("PASSWORD", "s3cret");
    assert_expands("COMMONNAME", "alice-cert");
    assert_expands("OTP", "123456");
    assert_expands("literal text", "literal text");
    assert_expands("", "");
}

static void
expand__placeholders_combine_with_text(void **state)
{
    (void)state;
    assert_expands("PASSWORDOTP", "s3cret123456");
    assert_expands("PASSWORD,OTP", "s3cret,123456");
    assert_expands("USERNAME@example.org", "alice@example.org");
    assert_expands("CORP\\USERNAME", "CORP\\alice");
    assert_expands("cn=COMMONNAME,user=USERNAME", "cn=alice-cert,user=alice");
}

static void
expand__every_occurrence_is_replaced(void **state)
{
    (void)state;
    assert_expands("USERNAMEUSERNAME", "alicealice");
    assert_expands("OTP-OTP", "123456-123456");
}

static void
expand__words_match_case_sensitively_anywhere(void **state)
{
    (void)state;
    /* lower case is literal; an upper-case word is replaced even inside text */
    assert_expands("password username otp", "password username otp");
    assert_expands("TOTP", "T123456");
    assert_expands("USERNAM", "USERNAM");
}

static void
expand__empty_credentials_give_empty_parts(void **state)
{
    const struct ap_creds none = {
        .username = "", .password = "", .common_name = NULL, .otp = ""};
    char *got;
    (void)state;

    got = expand_with("[PASSWORD][OTP][COMMONNAME]", &none);
    assert_string_equal(got, "[][][]");
    ovp_free_secret(got);
}

static void
expand__values_are_not_reinterpreted(void **state)
{
    const struct ap_creds tricky = {
        .username = "OTP", .password = "USERNAME", .common_name = "%s%n", .otp = "PASSWORD"};
    char *got;
    (void)state;

    /* a client cannot smuggle a placeholder through a credential */
    got = expand_with("USERNAME|PASSWORD|COMMONNAME|OTP", &tricky);
    assert_string_equal(got, "OTP|USERNAME|%s%n|PASSWORD");
    ovp_free_secret(got);
}

static void
describe__shows_structure_never_credentials(void **state)
{
    const char *words[] = {"svc", "p", "PASSWORD|OTP", "u", "USERNAME@example.org"};
    struct ap_args a;
    char err[256], buf[160];
    (void)state;

    assert_int_equal(parse(&a, words, 5, err, sizeof(err)), 0);
    ap_describe(&a.prompts[0], buf, sizeof(buf));
    assert_string_equal(buf, "PASSWORD+\"|\"+OTP");
    ap_describe(&a.prompts[1], buf, sizeof(buf));
    assert_string_equal(buf, "USERNAME+\"@example.org\"");
    ap_describe(&a.prompts[1], buf, 8); /* cut, still terminated */
    assert_int_equal(strlen(buf), 7);
    ap_args_free(&a);
}

/* -------------------------------------------------------------- SCRV1 */

static void
base64__rfc4648_vectors_decode(void **state)
{
    static const struct
    {
        const char *in, *out;
    } v[] = {{"", ""},
             {"Zg==", "f"},
             {"Zm8=", "fo"},
             {"Zm9v", "foo"},
             {"Zm9vYg==", "foob"},
             {"Zm9vYmE=", "fooba"},
             {"Zm9vYmFy", "foobar"},
             {"Zg", "f"},
             {"Zm9vYmE", "fooba"},
             {"+/+/", "\xfb\xff\xbf"}};
    unsigned char out[16];
    (void)state;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    {
        long n = ap_base64_decode(v[i].in, strlen(v[i].in), out, sizeof(out));
        assert_int_equal(n, (long)strlen(v[i].out));
        assert_memory_equal(out, v[i].out, (size_t)n);
    }
}

static void
base64__malformed_input_is_refused(void **state)
{
    static const char *const bad[] = {"Z",     "Zg=",    "Zm9v=", "Zg==Zg==", "Zh==", "Zm9",
                                      "Zm 9v", "Zm9v\n", "====",  "Zg===",    "Z-_v", "Zm8==="};
    unsigned char out[16];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(ap_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -1);
    }
}

static void
base64__output_too_small_is_refused(void **state)
{
    unsigned char out[5];
    (void)state;
    assert_int_equal(ap_base64_decode("Zm9vYmFy", 8, out, sizeof(out)), -1);
    assert_int_equal(ap_base64_decode("Zm9vYg==", 8, out, 4), 4);
}

static void
scrv1__password_and_response_are_split(void **state)
{
    char *pw, *otp;
    (void)state;

    /* base64("s3cret") = czNjcmV0, base64("123456") = MTIzNDU2 */
    assert_int_equal(ap_scrv1_split("SCRV1:czNjcmV0:MTIzNDU2", &pw, &otp), AP_SCRV1_SPLIT);
    assert_string_equal(pw, "s3cret");
    assert_string_equal(otp, "123456");
    ovp_free_secret(pw);
    ovp_free_secret(otp);

    assert_int_equal(ap_scrv1_split("SCRV1::", &pw, &otp), AP_SCRV1_SPLIT);
    assert_string_equal(pw, "");
    assert_string_equal(otp, "");
    ovp_free_secret(pw);
    ovp_free_secret(otp);
}

static void
scrv1__plain_password_is_kept(void **state)
{
    char *pw, *otp;
    (void)state;

    assert_int_equal(ap_scrv1_split("plain:pass:word", &pw, &otp), AP_SCRV1_NONE);
    assert_string_equal(pw, "plain:pass:word");
    assert_string_equal(otp, "");
    ovp_free_secret(pw);
    ovp_free_secret(otp);
    assert_int_equal(ap_scrv1_split("scrv1:czNjcmV0:MTIz", &pw, &otp), AP_SCRV1_NONE);
    ovp_free_secret(pw);
    ovp_free_secret(otp);
    assert_int_equal(ap_scrv1_split(NULL, &pw, &otp), AP_SCRV1_NONE);
    assert_string_equal(pw, "");
    ovp_free_secret(pw);
    ovp_free_secret(otp);
}

static void
scrv1__malformed_is_used_whole(void **state)
{
    static const char *const bad[] = {
        "SCRV1:czNjcmV0",           /* no response part */
        "SCRV1:c*NjcmV0:MTIz",      /* bad character in the password */
        "SCRV1:czNjcmV0:MTI==",     /* bad padding in the response */
        "SCRV1:czNjcmV0:MTIz:NDU2", /* a third part */
        "SCRV1:YQBi:MTIz",          /* decodes to "a\0b": a NUL inside */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        char *pw, *otp;
        assert_int_equal(ap_scrv1_split(bad[i], &pw, &otp), AP_SCRV1_MALFORMED);
        assert_string_equal(pw, bad[i]);
        assert_string_equal(otp, "");
        ovp_free_secret(pw);
        ovp_free_secret(otp);
    }
}

/* --------------------------------------------------------------- wire */

static void
wire_req__round_trip_keeps_every_field(void **state)
{
    uint8_t data[4096];
    struct ovp_priv_buf b = {data, 0, sizeof(data)};
    struct ap_wire_out in = {.flags = AP_REQF_CRTEXT,
                             .cr_wait_ms = 119000,
                             .who = "[cn@1.2.3.4:5]",
                             .username = "O'Brien \"x\" $(id)",
                             .password = "pw:with:colons",
                             .common_name = "cn",
                             .otp = "",
                             .rhost = "2001:db8::1"};
    struct ap_wire_req out;
    uint32_t flags = 0;
    (void)state;

    assert_int_equal(ap_wire_req_encode(&b, &in), 0);
    assert_int_equal(ap_wire_req_flags(b.data, b.len, &flags), 0);
    assert_int_equal(flags, AP_REQF_CRTEXT);
    assert_int_equal(ap_wire_req_flags(b.data, 7, &flags), -1);
    assert_int_equal(ap_wire_req_decode(b.data, b.len, &out), 0);
    assert_int_equal(out.flags, AP_REQF_CRTEXT);
    assert_int_equal(out.cr_wait_ms, 119000);
    assert_string_equal(out.who, in.who);
    assert_string_equal(out.username, in.username);
    assert_string_equal(out.password, in.password);
    assert_string_equal(out.common_name, in.common_name);
    assert_string_equal(out.otp, "");
    assert_string_equal(out.rhost, in.rhost);
    ap_wire_req_clear(&out);
    assert_null(out.password);
}

static void
wire_req__truncated_or_trailing_bytes_are_refused(void **state)
{
    uint8_t data[4096];
    struct ovp_priv_buf b = {data, 0, sizeof(data)};
    struct ap_wire_out in = {.who = "w",
                             .username = "u",
                             .password = "p",
                             .common_name = "c",
                             .otp = "o",
                             .rhost = "r"};
    struct ap_wire_req out;
    (void)state;

    assert_int_equal(ap_wire_req_encode(&b, &in), 0);
    for (size_t cut = 0; cut < b.len; cut++)
    {
        assert_int_equal(ap_wire_req_decode(b.data, cut, &out), -1);
        assert_null(out.username);
    }
    data[b.len] = 0;
    assert_int_equal(ap_wire_req_decode(b.data, b.len + 1, &out), -1);
}

static void
wire_req__nul_or_oversize_fields_are_refused(void **state)
{
    uint8_t data[AP_FRAME_MAX];
    struct ovp_priv_buf b = {data, 0, sizeof(data)};
    struct ap_wire_out in = {.who = "w",
                             .username = "u",
                             .password = "p",
                             .common_name = "c",
                             .otp = "o",
                             .rhost = "r"};
    struct ap_wire_req out;
    char *big = malloc(AP_FIELD_MAX + 2);
    (void)state;

    assert_non_null(big);
    /* a NUL inside the username (the second field, right after "w") */
    assert_int_equal(ap_wire_req_encode(&b, &in), 0);
    data[8 + 4 + 1 + 4] = '\0';
    assert_int_equal(ap_wire_req_decode(b.data, b.len, &out), -1);

    memset(big, 'a', AP_FIELD_MAX + 1);
    big[AP_FIELD_MAX + 1] = '\0';
    in.password = big;
    assert_int_equal(ap_wire_req_encode(&b, &in), -1);
    big[AP_FIELD_MAX] = '\0'; /* exactly the limit: fine */
    assert_int_equal(ap_wire_req_encode(&b, &in), 0);
    assert_int_equal(ap_wire_req_decode(b.data, b.len, &out), 0);
    assert_int_equal(strlen(out.password), AP_FIELD_MAX);
    ap_wire_req_clear(&out);

    in.password = "p";
    in.rhost = big; /* far over the address limit */
    assert_int_equal(ap_wire_req_encode(&b, &in), -1);
    free(big);
}

static void
wire_req__every_field_at_its_limit_fits_one_frame(void **state)
{
    uint8_t *data = malloc(AP_FRAME_MAX);
    struct ovp_priv_buf b = {data, 0, AP_FRAME_MAX};
    char *big = malloc(AP_FIELD_MAX + 1);
    char who[AP_WHO_MAX + 1], rhost[AP_RHOST_MAX + 1];
    struct ap_wire_out in = {.who = who,
                             .username = big,
                             .password = big,
                             .common_name = big,
                             .otp = big,
                             .rhost = rhost};
    struct ap_wire_req out;
    (void)state;

    assert_non_null(data);
    assert_non_null(big);
    memset(big, 'x', AP_FIELD_MAX);
    big[AP_FIELD_MAX] = '\0';
    memset(who, 'w', AP_WHO_MAX);
    who[AP_WHO_MAX] = '\0';
    memset(rhost, 'r', AP_RHOST_MAX);
    rhost[AP_RHOST_MAX] = '\0';
    assert_int_equal(ap_wire_req_encode(&b, &in), 0);
    assert_true(b.len <= AP_FRAME_MAX);
    assert_int_equal(ap_wire_req_decode(b.data, b.len, &out), 0);
    assert_int_equal(strlen(out.otp), AP_FIELD_MAX);
    assert_int_equal(strlen(out.who), AP_WHO_MAX);
    ap_wire_req_clear(&out);
    free(big);
    free(data);
}

/* Linked with -Wl,--wrap=free (Makefile.am): every free of the code under test passes
 * here and, while WATCHED is set, is searched for each of its secrets (a NULL-ended list):
 * a copy of a secret freed unwiped. */
void __real_free(void *p);
void __wrap_free(void *p);
static const char *const *watched;
static int watched_frees, freed_with_secret;

void
__wrap_free(void *p)
{
    if (p && watched)
    {
        watched_frees++;
        for (const char *const *w = watched; *w; w++)
        {
            if (memmem(p, malloc_usable_size(p), *w, strlen(*w)))
            {
                freed_with_secret++;
            }
        }
    }
    __real_free(p);
}

/* The helper's request after completion: ap_wire_req_clear wipes the password and the
 * OTP before it frees them, and leaves the structure empty. */
static void
wire_req__clear_wipes_the_password_and_otp_before_freeing(void **state)
{
    uint8_t data[4096];
    struct ovp_priv_buf b = {data, 0, sizeof(data)};
    struct ap_wire_out in = {.who = "[cn@192.0.2.2:5]",
                             .username = "alice",
                             .password = "Wire-Pass-61",
                             .common_name = "cn",
                             .otp = "Wire-Otp-27",
                             .rhost = "192.0.2.2"};
    static const char *const secrets[] = {"Wire-Pass-61", "Wire-Otp-27", NULL};
    struct ap_wire_req out;
    (void)state;

    assert_int_equal(ap_wire_req_encode(&b, &in), 0);
    assert_int_equal(ap_wire_req_decode(b.data, b.len, &out), 0);
    assert_string_equal(out.password, "Wire-Pass-61");
    assert_string_equal(out.otp, "Wire-Otp-27");
    watched = secrets;
    watched_frees = freed_with_secret = 0;
    ap_wire_req_clear(&out);
    watched = NULL;
    /* who, username, password, common_name, otp, rhost: six blocks, none holding a secret */
    assert_int_equal(watched_frees, 6);
    assert_int_equal(freed_with_secret, 0);
    assert_null(out.password);
    assert_null(out.otp);
    assert_null(out.username);
    /* the frame it was decoded from is the caller's to wipe (pam_helper.c does) */
    ovp_wipe(data, b.len);
}

static void
wire_rep__round_trip(void **state)
{
    struct ap_wire_rep in, out;
    uint8_t buf[sizeof(in) + 16];
    long n;
    (void)state;

    memset(&in, 0, sizeof(in));
    in.verdict = OVP_DENY;
    in.pam_status = 13;
    in.delay_ms = 2000;
    snprintf(in.reason, sizeof(in.reason), "account expired");
    snprintf(in.detail, sizeof(in.detail), "user \"x\": pam_acct_mgmt: expired");
    n = ap_wire_rep_encode(&in, buf, sizeof(buf));
    assert_true(n > 8);
    assert_int_equal(ap_wire_rep_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.verdict, OVP_DENY);
    assert_int_equal(out.pam_status, 13);
    assert_int_equal(out.delay_ms, 2000);
    assert_string_equal(out.reason, "account expired");
    assert_string_equal(out.detail, in.detail);
}

static void
wire_rep__bad_replies_are_refused(void **state)
{
    struct ap_wire_rep in, out;
    uint8_t buf[sizeof(in) + 16];
    long n;
    (void)state;

    memset(buf, 0, sizeof(buf));
    memset(&in, 0, sizeof(in));
    in.verdict = OVP_ALLOW;
    n = ap_wire_rep_encode(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(ap_wire_rep_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(ap_wire_rep_decode(buf, (size_t)n - 1, &out), -1); /* truncated */
    assert_int_equal(ap_wire_rep_decode(buf, (size_t)n + 1, &out), -1); /* trailing */
    assert_int_equal(ap_wire_rep_decode(buf, 4, &out), -1);
    assert_int_equal(ap_wire_rep_decode(buf, 8, &out), -1); /* the old 8-byte head */
    {
        /* a delay past the maximum, from a confused or hostile PAM process */
        uint32_t big = AP_FAIL_DELAY_MAX_MS + 1;
        memcpy(buf + 8, &big, 4);
        assert_int_equal(ap_wire_rep_decode(buf, (size_t)n, &out), -1);
        big = 0;
        memcpy(buf + 8, &big, 4);
    }
    buf[0] = 7; /* no such verdict */
    assert_int_equal(ap_wire_rep_decode(buf, (size_t)n, &out), -1);
    assert_int_equal(ap_wire_rep_encode(&in, buf, 4), -1);
    in.delay_ms = AP_FAIL_DELAY_MAX_MS + 1;
    assert_int_equal(ap_wire_rep_encode(&in, buf, sizeof(buf)), -1);
}

/* ------------------------------------------------------------- options */

static int
conf_parse(struct ap_conf *c, struct ap_args *a, const char *const *words, size_t n, char *err,
           size_t errlen)
{
    memset(c, 0, sizeof(*c));
    err[0] = '\0';
    return ap_conf_parse(words, n, c, a, err, errlen);
}

static void
conf_parse__defaults_without_crtext(void **state)
{
    const char *words[] = {"openvpn"};
    struct ap_conf c;
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(conf_parse(&c, &a, words, 1, err, sizeof(err)), 0);
    assert_int_equal(c.workers, 16);
    assert_int_equal(c.timeout_ms, 50000);
    assert_null(c.crtext);
    assert_null(c.crtext_prompt);
    assert_int_equal(c.crtext_echo, 0);
    assert_int_equal(c.crtext_timeout_ms, 120000);
    assert_string_equal(a.service, "openvpn");
    ap_conf_release(&c);
    ap_args_free(&a);
}

static void
conf_parse__crtext_options_are_bound(void **state)
{
    const char *words[] = {"workers=2",
                           "crtext=Enter your one-time code",
                           "crtext_prompt=verification code",
                           "CRTEXT_ECHO=yes",
                           "crtext_timeout=90s",
                           "openvpn",
                           "login",
                           "USERNAME"};
    struct ap_conf c;
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(conf_parse(&c, &a, words, 8, err, sizeof(err)), 0);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.crtext, "Enter your one-time code");
    assert_string_equal(c.crtext_prompt, "verification code");
    assert_int_equal(c.crtext_echo, 1);
    assert_int_equal(c.crtext_timeout_ms, 90000);
    assert_string_equal(a.service, "openvpn");
    assert_int_equal(a.n_prompts, 1);
    ap_conf_release(&c);
    ap_args_free(&a);
    assert_null(c.crtext);
}

static void
conf_parse__crtext_options_need_crtext(void **state)
{
    static const char *const alone[] = {"crtext_prompt=code", "crtext_echo=no",
                                        "crtext_timeout=60s"};
    struct ap_conf c;
    struct ap_args a;
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
    {
        const char *words[] = {alone[i], "openvpn"};
        char key[32];
        assert_int_equal(conf_parse(&c, &a, words, 2, err, sizeof(err)), -1);
        snprintf(key, sizeof(key), "%.*s", (int)(strchr(alone[i], '=') - alone[i]), alone[i]);
        assert_non_null(strstr(err, key));
        assert_non_null(strstr(err, "without crtext"));
        assert_null(a.service);
        assert_null(c.crtext_prompt);
    }
}

static void
conf_parse__bad_crtext_is_error(void **state)
{
    char longest[AP_CRTEXT_MAX + 16], word[AP_CRTEXT_MAX + 32];
    struct ap_conf c;
    struct ap_args a;
    char err[256];
    (void)state;

    {
        const char *words[] = {"crtext=", "openvpn"};
        assert_int_equal(conf_parse(&c, &a, words, 2, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "bad crtext"));
    }
    {
        const char *words[] = {"crtext=Code\x7fhere", "openvpn"};
        assert_int_equal(conf_parse(&c, &a, words, 2, err, sizeof(err)), -1);
    }
    memset(longest, 'x', AP_CRTEXT_MAX);
    longest[AP_CRTEXT_MAX] = '\0';
    snprintf(word, sizeof(word), "crtext=%s", longest);
    {
        const char *words[] = {word, "openvpn"};
        assert_int_equal(conf_parse(&c, &a, words, 2, err, sizeof(err)), 0);
        assert_int_equal(strlen(c.crtext), AP_CRTEXT_MAX);
        ap_conf_release(&c);
        ap_args_free(&a);
        snprintf(word, sizeof(word), "crtext=%sy", longest);
        assert_int_equal(conf_parse(&c, &a, words, 2, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "bad crtext"));
    }
    {
        const char *words[] = {"crtext=Code", "crtext_prompt=", "openvpn"};
        assert_int_equal(conf_parse(&c, &a, words, 3, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "bad crtext_prompt"));
    }
    {
        /* The options are fine, the service is missing: still said. */
        const char *words[] = {"crtext=Code"};
        assert_int_equal(conf_parse(&c, &a, words, 1, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "no PAM service given"));
        assert_null(c.crtext);
    }
}

static void
conf_parse__crtext_timeout_bounds(void **state)
{
    static const struct
    {
        const char *word;
        int rc;
        long ms;
    } cases[] = {
        {"crtext_timeout=1s", 0, 1000},  {"crtext_timeout=1800", 0, 1800000},
        {"crtext_timeout=500ms", -1, 0}, {"crtext_timeout=31m", -1, 0},
        {"crtext_timeout=soon", -1, 0},
    };
    struct ap_conf c;
    struct ap_args a;
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        const char *words[] = {"crtext=Code", cases[i].word, "openvpn"};
        assert_int_equal(conf_parse(&c, &a, words, 3, err, sizeof(err)), cases[i].rc);
        if (cases[i].rc == 0)
        {
            assert_int_equal(c.crtext_timeout_ms, cases[i].ms);
            ap_conf_release(&c);
            ap_args_free(&a);
        }
        else
        {
            assert_non_null(strstr(err, "crtext_timeout"));
        }
    }
}

/* ------------------------------------------------------------ classify */

static void
classify__without_crtext_keeps_the_bundled_rules(void **state)
{
    const char *svc[] = {"svc"};
    const char *pairs[] = {"svc", "login", "USERNAME", "password", "PASSWORD"};
    const struct ap_challenge off = {0, NULL};
    struct ap_args a, p;
    char err[256];
    int k;
    (void)state;

    assert_int_equal(parse(&a, svc, 1, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&a, NULL, "login:", 0, 0, &k), AP_SRC_USERNAME);
    assert_int_equal(ap_classify(&a, NULL, "Password:", 1, 0, &k), AP_SRC_PASSWORD);
    assert_int_equal(ap_classify(&a, &off, "Code:", 1, 1, &k), AP_SRC_PASSWORD);
    assert_int_equal(parse(&p, pairs, 5, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&p, &off, "Password:", 1, 0, &k), AP_SRC_PAIR);
    assert_int_equal(k, 1);
    assert_int_equal(ap_classify(&p, NULL, "Verification code:", 1, 1, &k), AP_SRC_NONE);
    assert_int_equal(k, -1);
    ap_args_free(&a);
    ap_args_free(&p);
}

static void
classify__default_rule_without_pairs_second_echo_off_is_challenge(void **state)
{
    const char *svc[] = {"svc"};
    const struct ap_challenge on = {1, NULL};
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(parse(&a, svc, 1, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&a, &on, "Password:", 1, 0, NULL), AP_SRC_PASSWORD);
    assert_int_equal(ap_classify(&a, &on, "Verification code:", 1, 1, NULL), AP_SRC_CHALLENGE);
    assert_int_equal(ap_classify(&a, &on, "Token:", 0, 1, NULL), AP_SRC_USERNAME);
    ap_args_free(&a);
}

static void
classify__default_rule_with_pairs_unmatched_is_challenge(void **state)
{
    const char *pairs[] = {"svc", "login", "USERNAME", "password", "PASSWORD"};
    const struct ap_challenge on = {1, NULL};
    struct ap_args a;
    char err[256];
    int k;
    (void)state;

    assert_int_equal(parse(&a, pairs, 5, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&a, &on, "Password:", 1, 0, &k), AP_SRC_PAIR);
    assert_int_equal(k, 1);
    assert_int_equal(ap_classify(&a, &on, "Token:", 0, 1, &k), AP_SRC_CHALLENGE);
    assert_int_equal(k, -1);
    ap_args_free(&a);
}

static void
classify__crtext_prompt_comes_first_and_only_it(void **state)
{
    const char *catchall[] = {"svc", "", "PASSWORD"};
    const char *svc[] = {"svc"};
    const char *pairs[] = {"svc", "password", "PASSWORD"};
    const struct ap_challenge code = {1, "code"};
    struct ap_args a, b, p;
    char err[256];
    int k;
    (void)state;

    assert_int_equal(parse(&a, catchall, 3, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&a, &code, "  CODE?", 0, 1, &k), AP_SRC_CHALLENGE);
    assert_int_equal(ap_classify(&a, &code, "Password:", 1, 0, &k), AP_SRC_PAIR);
    assert_int_equal(ap_classify(&a, &code, "Coder:", 1, 0, &k), AP_SRC_CHALLENGE);
    /* Without pairs a later echo-off question is a password again, not the challenge. */
    assert_int_equal(parse(&b, svc, 1, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&b, &code, "Password:", 1, 1, &k), AP_SRC_PASSWORD);
    assert_int_equal(ap_classify(&b, &code, "Code:", 1, 1, &k), AP_SRC_CHALLENGE);
    /* With pairs, what neither answers fails. */
    assert_int_equal(parse(&p, pairs, 3, err, sizeof(err)), 0);
    assert_int_equal(ap_classify(&p, &code, "PIN:", 1, 1, &k), AP_SRC_NONE);
    ap_args_free(&a);
    ap_args_free(&b);
    ap_args_free(&p);
}

/* -------------------------------------------------------------- crtext */

static void
sso_has__whole_comma_separated_words_only(void **state)
{
    (void)state;
    assert_int_equal(ap_sso_has("crtext", "crtext"), 1);
    assert_int_equal(ap_sso_has("openurl,crtext", "crtext"), 1);
    assert_int_equal(ap_sso_has("crtext,webauth", "crtext"), 1);
    assert_int_equal(ap_sso_has(",crtext,", "crtext"), 1);
    assert_int_equal(ap_sso_has("crtextx", "crtext"), 0);
    assert_int_equal(ap_sso_has("xcrtext,openurl", "crtext"), 0);
    assert_int_equal(ap_sso_has("webauth,crtex", "crtext"), 0);
    assert_int_equal(ap_sso_has("CRTEXT", "crtext"), 0);
    assert_int_equal(ap_sso_has("", "crtext"), 0);
    assert_int_equal(ap_sso_has(NULL, "crtext"), 0);
    assert_int_equal(ap_sso_has("crtext", ""), 0);
}

static void
crtext_line__flags_follow_echo_and_must_fit(void **state)
{
    char buf[64];
    (void)state;

    assert_int_equal(ap_crtext_line(buf, sizeof(buf), 0, "Enter code"), 0);
    assert_string_equal(buf, "CR_TEXT:R:Enter code");
    assert_int_equal(ap_crtext_line(buf, sizeof(buf), 1, "Enter: code"), 0);
    assert_string_equal(buf, "CR_TEXT:E,R:Enter: code");
    assert_int_equal(ap_crtext_line(buf, strlen("CR_TEXT:R:Enter code") + 1, 0, "Enter code"),
                     0);
    assert_int_equal(ap_crtext_line(buf, strlen("CR_TEXT:R:Enter code"), 0, "Enter code"), -1);
    assert_string_equal(buf, "");
}

static void
pending_timeout__rounds_up_and_adds_the_margin(void **state)
{
    (void)state;
    assert_int_equal(ap_pending_timeout_s(120000), 120 + AP_PENDING_MARGIN_S);
    assert_int_equal(ap_pending_timeout_s(120001), 121 + AP_PENDING_MARGIN_S);
    assert_int_equal(ap_pending_timeout_s(999), 1 + AP_PENDING_MARGIN_S);
    assert_int_equal(AP_PENDING_MARGIN_S, 10); /* OpenVPN re-reads the control file every 8 s */
}

/* Test-only base64 encoder (RFC 4648, padded). */
static void
b64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3)
    {
        unsigned long v = (unsigned long)in[i] << 16;
        if (i + 1 < n)
        {
            v |= (unsigned long)in[i + 1] << 8;
        }
        if (i + 2 < n)
        {
            v |= in[i + 2];
        }
        out[o++] = al[(v >> 18) & 63];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? al[v & 63] : '=';
    }
    out[o] = '\0';
}

static void
cr_decode__valid_empty_and_malformed(void **state)
{
    char out[AP_CR_MAX + 1];
    (void)state;

    assert_int_equal(ap_cr_decode("MjQ2ODEw", out, sizeof(out)), 6);
    assert_string_equal(out, "246810");
    assert_int_equal(ap_cr_decode("", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(ap_cr_decode("not*base64", out, sizeof(out)), -1);
    assert_int_equal(ap_cr_decode("MjQ2ODEw\n", out, sizeof(out)), -1);
    /* "a\0b": a NUL byte cannot reach PAM; what was decoded is wiped */
    assert_int_equal(ap_cr_decode("YQBi", out, sizeof(out)), -1);
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[2], '\0');
    assert_int_equal(ap_cr_decode(NULL, out, sizeof(out)), -1);
}

static void
cr_decode__longest_response_fits_one_more_does_not(void **state)
{
    unsigned char raw[AP_CR_MAX + 1];
    char b64[(AP_CR_MAX + 1) / 3 * 4 + 8];
    char out[AP_CR_MAX + 1];
    (void)state;

    memset(raw, 'x', sizeof(raw));
    b64_encode(raw, AP_CR_MAX, b64);
    assert_int_equal(ap_cr_decode(b64, out, sizeof(out)), AP_CR_MAX);
    assert_int_equal(strlen(out), AP_CR_MAX);
    b64_encode(raw, AP_CR_MAX + 1, b64);
    assert_int_equal(ap_cr_decode(b64, out, sizeof(out)), -1);
}

static void
wire_cr__round_trip(void **state)
{
    uint8_t buf[AP_CR_FRAME_MAX];
    const uint8_t *resp;
    uint32_t status = 9;
    size_t len = 99;
    long n;
    char big[AP_CR_MAX];
    (void)state;

    n = ap_wire_cr_encode(AP_CR_OK, "246810", 6, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), 0);
    assert_int_equal(status, AP_CR_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(resp, "246810", 6);

    n = ap_wire_cr_encode(AP_CR_MALFORMED, NULL, 0, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), 0);
    assert_int_equal(status, AP_CR_MALFORMED);
    assert_int_equal(len, 0);

    memset(big, '7', sizeof(big));
    n = ap_wire_cr_encode(AP_CR_OK, big, sizeof(big), buf, sizeof(buf));
    assert_int_equal(n, AP_CR_FRAME_MAX);
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), 0);
    assert_int_equal(len, AP_CR_MAX);
}

static void
wire_cr__bad_frames_are_refused(void **state)
{
    uint8_t buf[AP_CR_FRAME_MAX + 16];
    const uint8_t *resp;
    uint32_t status, v;
    size_t len;
    long n;
    (void)state;

    /* what encode refuses */
    assert_int_equal(ap_wire_cr_encode(7, "x", 1, buf, sizeof(buf)), -1);
    assert_int_equal(ap_wire_cr_encode(AP_CR_MALFORMED, "x", 1, buf, sizeof(buf)), -1);
    assert_int_equal(ap_wire_cr_encode(AP_CR_OK, "x", AP_CR_MAX + 1, buf, sizeof(buf)), -1);
    assert_int_equal(ap_wire_cr_encode(AP_CR_OK, "123456", 6, buf, 9), -1);

    n = ap_wire_cr_encode(AP_CR_OK, "123456", 6, buf, sizeof(buf));
    assert_true(n > 0);
    for (long cut = 0; cut < n; cut++)
    {
        assert_int_equal(ap_wire_cr_decode(buf, (size_t)cut, &status, &resp, &len), -1);
    }
    buf[n] = 0;
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n + 1, &status, &resp, &len), -1);
    buf[8 + 2] = '\0'; /* a NUL inside the response */
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), -1);
    buf[8 + 2] = '3';
    v = 5; /* no such status */
    memcpy(buf, &v, 4);
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), -1);
    v = AP_CR_MALFORMED; /* a malformed marker carries nothing */
    memcpy(buf, &v, 4);
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), -1);
    /* a length field larger than the frame */
    v = AP_CR_OK;
    memcpy(buf, &v, 4);
    v = 1000;
    memcpy(buf + 4, &v, 4);
    assert_int_equal(ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len), -1);
}

/* ------------------------------------------------------- PAM_USER check */

static void
names_user__only_values_that_expand_username_alone(void **state)
{
    const char *words[] = {"svc",
                           "login",
                           "USERNAME@example.org",
                           "cn",
                           "COMMONNAME",
                           "domain",
                           "CORP",
                           "password",
                           "PASSWORD",
                           "code",
                           "PASSWORDOTP",
                           "who",
                           "xOTPx",
                           "mixed",
                           "USERNAME@COMMONNAME",
                           "twice",
                           "USERNAME-USERNAME",
                           "secret",
                           "USERNAMEPASSWORD"};
    struct ap_args a;
    char err[256];
    (void)state;

    assert_int_equal(parse(&a, words, 19, err, sizeof(err)), 0);
    assert_int_equal(ap_prompt_names_user(&a.prompts[0]), 1);
    /* one certificate, any username: the common name vouches for nobody */
    assert_int_equal(ap_prompt_names_user(&a.prompts[1]), 0);
    /* a fixed name is the same for every client */
    assert_int_equal(ap_prompt_names_user(&a.prompts[2]), 0);
    assert_int_equal(ap_prompt_names_user(&a.prompts[3]), 0);
    assert_int_equal(ap_prompt_names_user(&a.prompts[4]), 0);
    assert_int_equal(ap_prompt_names_user(&a.prompts[5]), 0);
    assert_int_equal(ap_prompt_names_user(&a.prompts[6]), 0);
    assert_int_equal(ap_prompt_names_user(&a.prompts[7]), 1);
    assert_int_equal(ap_prompt_names_user(&a.prompts[8]), 0);
    assert_int_equal(ap_prompt_names_user(NULL), 0);
    ap_args_free(&a);
}

static void
user_vouched__pam_user_must_be_the_clients_or_a_username_mapping(void **state)
{
    const char *const named[] = {"alice@example.org"};
    (void)state;

    assert_int_equal(ap_user_vouched("alice", "alice", NULL, 0), 1);
    assert_int_equal(ap_user_vouched("root", "alice", NULL, 0), 0);
    assert_int_equal(ap_user_vouched("Alice", "alice", NULL, 0), 0);
    assert_int_equal(ap_user_vouched("alice ", "alice", NULL, 0), 0);
    /* nobody identified: a module removed the user, or none ever set one */
    assert_int_equal(ap_user_vouched(NULL, "alice", NULL, 0), 0);
    assert_int_equal(ap_user_vouched(NULL, "alice", named, 1), 0);
    /* mapping: a name made from USERNAME is fine, any other is not */
    assert_int_equal(ap_user_vouched("alice@example.org", "alice", named, 1), 1);
    assert_int_equal(ap_user_vouched("alice", "alice", named, 1), 1);
    assert_int_equal(ap_user_vouched("mallory", "alice", named, 1), 0);
    assert_int_equal(ap_user_vouched("mallory", NULL, named, 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(args_parse__service_only_has_no_prompts),
        cmocka_unit_test(args_parse__pairs_are_kept_in_order),
        cmocka_unit_test(args_parse__missing_service_is_error),
        cmocka_unit_test(args_parse__odd_pair_words_are_error),
        cmocka_unit_test(args_parse__too_many_pairs_is_error),
        cmocka_unit_test(args_parse__bad_service_names_are_error),
        cmocka_unit_test(args_parse__control_or_long_words_are_error),
        cmocka_unit_test(prompt_matches__prefix_is_case_insensitive),
        cmocka_unit_test(prompt_matches__leading_punctuation_is_skipped),
        cmocka_unit_test(prompt_matches__empty_prefix_matches_any_real_prompt),
        cmocka_unit_test(prompt_matches__non_ascii_is_compared_bytewise),
        cmocka_unit_test(prompt_find__first_match_wins),
        cmocka_unit_test(expand__each_placeholder_alone),
        cmocka_unit_test(expand__placeholders_combine_with_text),
        cmocka_unit_test(expand__every_occurrence_is_replaced),
        cmocka_unit_test(expand__words_match_case_sensitively_anywhere),
        cmocka_unit_test(expand__empty_credentials_give_empty_parts),
        cmocka_unit_test(expand__values_are_not_reinterpreted),
        cmocka_unit_test(describe__shows_structure_never_credentials),
        cmocka_unit_test(base64__rfc4648_vectors_decode),
        cmocka_unit_test(base64__malformed_input_is_refused),
        cmocka_unit_test(base64__output_too_small_is_refused),
        cmocka_unit_test(scrv1__password_and_response_are_split),
        cmocka_unit_test(scrv1__plain_password_is_kept),
        cmocka_unit_test(scrv1__malformed_is_used_whole),
        cmocka_unit_test(wire_req__round_trip_keeps_every_field),
        cmocka_unit_test(wire_req__truncated_or_trailing_bytes_are_refused),
        cmocka_unit_test(wire_req__nul_or_oversize_fields_are_refused),
        cmocka_unit_test(wire_req__every_field_at_its_limit_fits_one_frame),
        cmocka_unit_test(wire_req__clear_wipes_the_password_and_otp_before_freeing),
        cmocka_unit_test(wire_rep__round_trip),
        cmocka_unit_test(wire_rep__bad_replies_are_refused),
        cmocka_unit_test(conf_parse__defaults_without_crtext),
        cmocka_unit_test(conf_parse__crtext_options_are_bound),
        cmocka_unit_test(conf_parse__crtext_options_need_crtext),
        cmocka_unit_test(conf_parse__bad_crtext_is_error),
        cmocka_unit_test(conf_parse__crtext_timeout_bounds),
        cmocka_unit_test(classify__without_crtext_keeps_the_bundled_rules),
        cmocka_unit_test(classify__default_rule_without_pairs_second_echo_off_is_challenge),
        cmocka_unit_test(classify__default_rule_with_pairs_unmatched_is_challenge),
        cmocka_unit_test(classify__crtext_prompt_comes_first_and_only_it),
        cmocka_unit_test(sso_has__whole_comma_separated_words_only),
        cmocka_unit_test(crtext_line__flags_follow_echo_and_must_fit),
        cmocka_unit_test(pending_timeout__rounds_up_and_adds_the_margin),
        cmocka_unit_test(cr_decode__valid_empty_and_malformed),
        cmocka_unit_test(cr_decode__longest_response_fits_one_more_does_not),
        cmocka_unit_test(wire_cr__round_trip),
        cmocka_unit_test(wire_cr__bad_frames_are_refused),
        cmocka_unit_test(names_user__only_values_that_expand_username_alone),
        cmocka_unit_test(user_vouched__pam_user_must_be_the_clients_or_a_username_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_config.c: cmocka tests for common/config.c (grammar, tree, key tables, errors). */
#include "ovpbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

/* The grammar's header by path, so no other config.h on the include path can shadow it. */
#include "../../common/config.h"
#include "secret.h"
#include "testfs.h"

static char err[2048];

/* ------------------------------------------------------------- fixtures */

static const char *
write_text(const char *name, const char *text)
{
    return testfs_write(name, text, strlen(text), 0600);
}

/* Parses TEXT (LEN bytes) under the name "t.conf"; fails the test on error. */
static struct ovp_cfg_node *
parse_ok_len(const char *text, size_t len)
{
    struct ovp_cfg_node *root = NULL;
    int rc;

    err[0] = '\0';
    rc = ovp_cfg_parse_string(text, len, "t.conf", &root, err, sizeof(err));
    if (rc != 0)
    {
        print_error("unexpected parse error: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_non_null(root);
    return root;
}

static struct ovp_cfg_node *
parse_ok(const char *text)
{
    return parse_ok_len(text, strlen(text));
}

/* Parses TEXT expecting an error that contains NEEDLE. */
static void
parse_fails_len(const char *text, size_t len, const char *needle)
{
    struct ovp_cfg_node *root = (struct ovp_cfg_node *)&root;
    int rc;

    err[0] = '\0';
    rc = ovp_cfg_parse_string(text, len, "t.conf", &root, err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_null(root);
    assert_has(err, needle);
}

static void
parse_fails(const char *text, const char *needle)
{
    parse_fails_len(text, strlen(text), needle);
}

static void
parse_file_fails(const char *path, const char *needle)
{
    struct ovp_cfg_node *root = (struct ovp_cfg_node *)&root;

    err[0] = '\0';
    assert_int_equal(ovp_cfg_parse_file(path, &root, err, sizeof(err)), -1);
    assert_null(root);
    assert_has(err, needle);
}

static void
assert_entry(const struct ovp_cfg_node *node, size_t i, const char *key, const char *value,
             int line)
{
    assert_true(i < node->n_entries);
    assert_string_equal(node->entries[i].key, key);
    assert_string_equal(node->entries[i].value, value);
    assert_int_equal(node->entries[i].line, line);
}

/* ---------------------------------------------------------- key table */

struct conf
{
    char *url;
    char *binddn;
    char *password;
    long timeout;
    int tls;
    int mode;
    long maxsize;
    long port;
    struct ovp_strv member;
    char *cafile;
    long pin;
    long count;
};

static const char *const mode_choices[] = {"fast", "safe", "paranoid", NULL};

static const struct ovp_cfg_key keys[] = {
    {.name = "URL",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = offsetof(struct conf, url),
     .help = "LDAP server URL"},
    {.name = "BindDN", .type = OVP_CFG_STRING, .offset = offsetof(struct conf, binddn)},
    {.name = "Password",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = offsetof(struct conf, password)},
    {.name = "Timeout",
     .type = OVP_CFG_DURATION,
     .def = "15s",
     .offset = offsetof(struct conf, timeout),
     .min = 1,
     .max = 7200000},
    {.name = "TLSEnable",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct conf, tls)},
    {.name = "Mode",
     .type = OVP_CFG_ENUM,
     .def = "safe",
     .offset = offsetof(struct conf, mode),
     .choices = mode_choices},
    {.name = "MaxSize",
     .type = OVP_CFG_SIZE,
     .def = "64k",
     .offset = offsetof(struct conf, maxsize)},
    {.name = "Port",
     .type = OVP_CFG_INT,
     .def = "389",
     .offset = offsetof(struct conf, port),
     .min = 1,
     .max = 65535},
    {.name = "Member",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_MULTI,
     .def = "nobody",
     .offset = offsetof(struct conf, member)},
    {.name = "CAFile",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_FILE_READABLE,
     .offset = offsetof(struct conf, cafile)},
    {.name = "Pin",
     .type = OVP_CFG_INT,
     .flags = OVP_CFG_SECRET,
     .offset = offsetof(struct conf, pin)},
    {.name = "Count", .type = OVP_CFG_INT, .offset = offsetof(struct conf, count)},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Parses TEXT and binds its root to KEYS into C (zeroed first). Returns bind's result. */
static int
bind_text(const char *text, struct conf *c, const char *const *sections)
{
    struct ovp_cfg_node *root = parse_ok(text);
    int rc;

    memset(c, 0, sizeof(*c));
    err[0] = '\0';
    rc = ovp_cfg_bind(root, keys, NKEYS, c, sections, err, sizeof(err));
    ovp_cfg_free(root);
    return rc;
}

static void
bind_ok(const char *text, struct conf *c)
{
    int rc = bind_text(text, c, NULL);

    if (rc != 0)
    {
        print_error("unexpected bind error: %s\n", err);
    }
    assert_int_equal(rc, 0);
}

/* Binds "URL u" plus KEY VALUE and expects an error containing NEEDLE. */
static void
bind_one_fails(const char *key, const char *value, const char *needle)
{
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL u\n%s %s\n", key, value);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, needle);
    ovp_cfg_release(keys, NKEYS, &c);
}

/* Binds "URL u" plus KEY VALUE; returns the conf for checks (release it). */
static void
bind_one_ok(const char *key, const char *value, struct conf *c)
{
    char text[512];

    snprintf(text, sizeof(text), "URL u\n%s %s\n", key, value);
    bind_ok(text, c);
}

/* ---------------------------------------------------------------- parse */

static void
parse__key_value_lines(void **state)
{
    struct ovp_cfg_node *root = parse_ok("URL ldap://a\nBindDN\tcn=x,dc=y\n  Port   636\n");

    assert_null(root->name);
    assert_string_equal(root->file, "t.conf");
    assert_int_equal(root->n_entries, 3);
    assert_int_equal(root->n_children, 0);
    assert_entry(root, 0, "URL", "ldap://a", 1);
    assert_entry(root, 1, "BindDN", "cn=x,dc=y", 2);
    assert_entry(root, 2, "Port", "636", 3);
    assert_int_equal(root->entries[0].used, 0);
    ovp_cfg_free(root);
}

static void
parse__value_is_rest_of_line_trimmed(void **state)
{
    struct ovp_cfg_node *root = parse_ok("Filter   a b\tc  \t\nK x\n");

    assert_entry(root, 0, "Filter", "a b\tc", 1);
    assert_entry(root, 1, "K", "x", 2);
    ovp_cfg_free(root);
}

static void
parse__quoted_value_keeps_hash_blanks_and_escapes(void **state)
{
    struct ovp_cfg_node *root =
        parse_ok("A \"  x # not a comment  \"\nB \"say \\\"hi\\\" \\\\ end\"  # comment\n"
                 "C \"\"\nD \"(&(uid=%u))\"\n");

    assert_entry(root, 0, "A", "  x # not a comment  ", 1);
    assert_entry(root, 1, "B", "say \"hi\" \\ end", 2);
    assert_entry(root, 2, "C", "", 3);
    assert_entry(root, 3, "D", "(&(uid=%u))", 4);
    ovp_cfg_free(root);
}

static void
parse__comments_and_blank_lines_are_ignored(void **state)
{
    struct ovp_cfg_node *root =
        parse_ok("# whole line\n\n   \t\n   # indented\nURL ldap://a # trailing\nK a#b\n");

    assert_int_equal(root->n_entries, 2);
    assert_entry(root, 0, "URL", "ldap://a", 5);
    /* Outside quotes '#' always starts a comment: quote values that contain one. */
    assert_entry(root, 1, "K", "a", 6);
    ovp_cfg_free(root);
}

static void
parse__unquoted_inner_quotes_are_kept(void **state)
{
    struct ovp_cfg_node *root = parse_ok("K a \"b\" c\n");

    assert_entry(root, 0, "K", "a \"b\" c", 1);
    ovp_cfg_free(root);
}

static void
parse__key_without_value_is_error(void **state)
{
    parse_fails("URL a\nTimeout\n", "t.conf:2: key Timeout has no value");
    parse_fails("URL a\nTimeout   # none\n", "t.conf:2: key Timeout has no value");
    assert_has(err, "Timeout \"\"");
}

static void
parse__unterminated_quote_is_error(void **state)
{
    parse_fails("URL a\nBindDN \"cn=x\n",
                "t.conf:2: unterminated quote in the value of BindDN");
    parse_fails("BindDN \"cn=x\\\"\n", "t.conf:1: unterminated quote");
    parse_fails("BindDN \"cn=x\\", "t.conf:1: unterminated quote");
}

static void
parse__unknown_escape_is_error(void **state)
{
    parse_fails("K \"a\\nb\"\n", "t.conf:1: unknown escape in the quoted value of K");
}

static void
parse__text_after_closing_quote_is_error(void **state)
{
    parse_fails("K \"a\" b\n", "t.conf:1: text after the closing quote in the value of K");
}

static void
parse__invalid_key_is_error(void **state)
{
    parse_fails("Ke\"y value\n", "t.conf:1: invalid character in a key");
    parse_fails("K(ey) value\n", "invalid character in a key");
    parse_fails("Password=hunter2\n", "t.conf:1: a key may not contain '='");
    assert_lacks(err, "hunter2");
}

static void
parse__sections_build_a_tree(void **state)
{
    struct ovp_cfg_node *root =
        parse_ok("Top 1\n<A>\n  K a\n  <B>\n    K b\n  </B>\n</A>\nTail 2\n");
    const struct ovp_cfg_node *a, *b;

    assert_int_equal(root->n_entries, 2);
    assert_entry(root, 0, "Top", "1", 1);
    assert_entry(root, 1, "Tail", "2", 8);
    assert_int_equal(root->n_children, 1);
    a = &root->children[0];
    assert_string_equal(a->name, "A");
    assert_int_equal(a->line, 2);
    assert_string_equal(a->file, "t.conf");
    assert_ptr_equal(a->file, root->file);
    assert_null(a->file_storage);
    assert_entry(a, 0, "K", "a", 3);
    assert_int_equal(a->n_children, 1);
    b = &a->children[0];
    assert_string_equal(b->name, "B");
    assert_int_equal(b->line, 4);
    assert_entry(b, 0, "K", "b", 5);
    ovp_cfg_free(root);
}

static void
parse__sections_repeat_and_match_case_insensitively(void **state)
{
    struct ovp_cfg_node *root =
        parse_ok("<ldap>\nURL a\n</LDAP>\n<Other>\n</Other>\n<Ldap>\nURL b\n</ldap>\n");
    struct ovp_cfg_node *s;

    assert_int_equal(root->n_children, 3);
    assert_int_equal(ovp_cfg_count_sections(root, "LDAP"), 2);
    assert_int_equal(ovp_cfg_count_sections(root, "other"), 1);
    assert_int_equal(ovp_cfg_count_sections(root, "none"), 0);
    s = ovp_cfg_section(root, "LDAP", 0);
    assert_non_null(s);
    assert_entry(s, 0, "URL", "a", 2);
    s = ovp_cfg_section(root, "lDaP", 1);
    assert_non_null(s);
    assert_entry(s, 0, "URL", "b", 7);
    assert_null(ovp_cfg_section(root, "LDAP", 2));
    assert_null(ovp_cfg_section(NULL, "LDAP", 0));
    assert_null(ovp_cfg_section(root, NULL, 0));
    assert_int_equal(ovp_cfg_count_sections(NULL, "LDAP"), 0);
    ovp_cfg_free(root);
}

static void
parse__unclosed_section_is_error(void **state)
{
    parse_fails("URL a\n<LDAP>\nURL b\n", "t.conf:2: <LDAP> is never closed");
    parse_fails("<A>\n<B>\n</B>\n", "t.conf:1: <A> is never closed");
}

static void
parse__mismatched_close_is_error(void **state)
{
    parse_fails("<LDAP>\n<Group>\n</LDAP>\n",
                "t.conf:3: </LDAP> does not close <Group> opened at line 2");
    parse_fails("<LDAP>\n</Other>\n", "t.conf:2: </Other> does not close <LDAP>");
}

static void
parse__stray_close_is_error(void **state)
{
    parse_fails("URL a\n</LDAP>\n", "t.conf:2: stray </LDAP>");
    parse_fails("<A>\n</A>\n</A>\n", "t.conf:3: stray </A>");
}

static void
parse__section_on_same_line_as_values_is_error(void **state)
{
    parse_fails("<LDAP> URL ldap://a\n</LDAP>\n",
                "t.conf:1: text after <LDAP> on the same line");
    parse_fails("<LDAP>\nURL a\n</LDAP> URL b\n", "t.conf:3: text after </LDAP>");
}

static void
parse__section_tag_with_comment_is_accepted(void **state)
{
    struct ovp_cfg_node *root = parse_ok("<LDAP>   # the server\nURL a\n</LDAP> # end\n");

    assert_int_equal(ovp_cfg_count_sections(root, "LDAP"), 1);
    ovp_cfg_free(root);
}

static void
parse__malformed_tag_is_error(void **state)
{
    parse_fails("<LDAP\n", "t.conf:1: malformed section tag");
    parse_fails("<>\n", "malformed section tag");
    parse_fails("</>\n", "malformed section tag");
    parse_fails("<LD AP>\n", "malformed section tag");
    parse_fails("<LDAP x=1>\n", "malformed section tag");
}

static void
parse__nesting_limit(void **state)
{
    char text[1024];
    size_t used = 0;
    int i;
    struct ovp_cfg_node *root;

    for (i = 0; i < OVP_CFG_DEPTH_MAX; i++)
    {
        used += (size_t)snprintf(text + used, sizeof(text) - used, "<S%d>\n", i);
    }
    used += (size_t)snprintf(text + used, sizeof(text) - used, "K deep\n");
    for (i = OVP_CFG_DEPTH_MAX - 1; i >= 0; i--)
    {
        used += (size_t)snprintf(text + used, sizeof(text) - used, "</S%d>\n", i);
    }
    root = parse_ok(text);
    ovp_cfg_free(root);

    used = 0;
    for (i = 0; i <= OVP_CFG_DEPTH_MAX; i++)
    {
        used += (size_t)snprintf(text + used, sizeof(text) - used, "<S%d>\n", i);
    }
    parse_fails(text, "deeper than");
    assert_has(err, "t.conf:9:");
}

static void
parse__long_line_is_error(void **state)
{
    const size_t big = 1u << 20; /* 1 MiB */
    char *text = malloc(big + 64);
    size_t len;

    assert_non_null(text);
    len = (size_t)snprintf(text, 64, "URL a\nK ");
    memset(text + len, 'a', big);
    len += big;
    text[len++] = '\n';
    parse_fails_len(text, len, "t.conf:2: line longer than 8192 bytes");
    parse_file_fails(testfs_write("long.conf", text, len, 0600), ":2: line longer than");
    free(text);
}

static void
parse__line_at_limit_is_accepted(void **state)
{
    char *text = malloc(OVP_CFG_LINE_MAX + 8);
    struct ovp_cfg_node *root;

    assert_non_null(text);
    memcpy(text, "K ", 2);
    memset(text + 2, 'a', OVP_CFG_LINE_MAX - 2);
    memcpy(text + OVP_CFG_LINE_MAX, "\r\n", 2);
    root = parse_ok_len(text, OVP_CFG_LINE_MAX + 2);
    assert_int_equal(strlen(root->entries[0].value), OVP_CFG_LINE_MAX - 2);
    ovp_cfg_free(root);

    text[OVP_CFG_LINE_MAX] = 'a';
    parse_fails_len(text, OVP_CFG_LINE_MAX + 1, "t.conf:1: line longer than");
    free(text);
}

static void
parse__nul_byte_is_error(void **state)
{
    static const char text[] = "URL a\nB b\nC c\0d\n";

    parse_fails_len(text, sizeof(text) - 1, "t.conf:3: NUL byte");
    parse_file_fails(testfs_write("nul.conf", text, sizeof(text) - 1, 0600), "nul.conf:3: NUL");
}

static void
parse__invalid_utf8_names_line(void **state)
{
    static const char *const bad[] = {
        "\x80",             /* lone continuation byte */
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* invalid lead byte */
        "\xe2\x82",         /* truncated sequence */
        "\xff",
    };
    size_t i;
    char text[64];

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        snprintf(text, sizeof(text), "URL a\nK x%sy\n", bad[i]);
        parse_fails(text, "t.conf:2: invalid UTF-8");
    }
    /* At the very end of the text, without newline. */
    parse_fails("URL a\nK \xe2\x82", "t.conf:2: invalid UTF-8");
}

static void
parse__valid_utf8_is_accepted(void **state)
{
    struct ovp_cfg_node *root =
        parse_ok("K caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\n");

    assert_string_equal(root->entries[0].value,
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    ovp_cfg_free(root);
}

static void
parse__crlf_line_endings_are_accepted(void **state)
{
    struct ovp_cfg_node *root =
        parse_ok("# c\r\n<LDAP>\r\nURL  \"a b\"  \r\nK v \r\n</LDAP>\r\n");
    const struct ovp_cfg_node *s = ovp_cfg_section(root, "LDAP", 0);

    assert_non_null(s);
    assert_entry(s, 0, "URL", "a b", 3);
    assert_entry(s, 1, "K", "v", 4);
    ovp_cfg_free(root);
}

static void
parse__no_trailing_newline_is_accepted(void **state)
{
    struct ovp_cfg_node *root = parse_ok("A 1\nURL ldap://a");

    assert_entry(root, 1, "URL", "ldap://a", 2);
    ovp_cfg_free(root);
    root = parse_ok("<A>\nK v\n</A>");
    assert_int_equal(root->n_children, 1);
    ovp_cfg_free(root);
}

static void
parse__byte_order_mark_is_skipped(void **state)
{
    struct ovp_cfg_node *root = parse_ok("\xef\xbb\xbfURL a\n");

    assert_entry(root, 0, "URL", "a", 1);
    ovp_cfg_free(root);
}

static void
parse__empty_text_gives_empty_tree(void **state)
{
    struct ovp_cfg_node *root = parse_ok("");

    assert_int_equal(root->n_entries, 0);
    assert_int_equal(root->n_children, 0);
    ovp_cfg_free(root);
    root = parse_ok("# only a comment\n\n");
    assert_int_equal(root->n_entries, 0);
    ovp_cfg_free(root);
    assert_int_equal(ovp_cfg_parse_string(NULL, 0, NULL, &root, err, sizeof(err)), 0);
    assert_string_equal(root->file, "config");
    ovp_cfg_free(root);
}

static void
parse__bad_arguments_are_errors(void **state)
{
    struct ovp_cfg_node *root = NULL;

    assert_int_equal(ovp_cfg_parse_string("K v\n", 4, "t", NULL, err, sizeof(err)), -1);
    assert_int_equal(ovp_cfg_parse_string(NULL, 4, "t", &root, err, sizeof(err)), -1);
    assert_null(root);
    assert_int_equal(ovp_cfg_parse_file(NULL, &root, err, sizeof(err)), -1);
    assert_int_equal(ovp_cfg_parse_file("", &root, err, sizeof(err)), -1);
    assert_null(root);
    ovp_cfg_free(NULL);
}

static void
parse__small_or_null_error_buffer_is_safe(void **state)
{
    struct ovp_cfg_node *root = NULL;
    char small[8];

    memset(small, 'x', sizeof(small));
    assert_int_equal(ovp_cfg_parse_string("<A>\n", 4, "t.conf", &root, small, sizeof(small)),
                     -1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(ovp_cfg_parse_string("<A>\n", 4, "t.conf", &root, NULL, 0), -1);
    assert_null(root);
}

/* --------------------------------------------------------------- files */

static void
parse_file__reads_and_names_the_file(void **state)
{
    const char *p = write_text("ok.conf", "URL a\n<S>\nK v\n</S>\n");
    struct ovp_cfg_node *root = NULL;

    assert_int_equal(ovp_cfg_parse_file(p, &root, err, sizeof(err)), 0);
    assert_string_equal(root->file, p);
    assert_string_equal(root->children[0].file, p);
    assert_entry(&root->children[0], 0, "K", "v", 3);
    ovp_cfg_free(root);

    p = write_text("bad.conf", "URL a\n\n<S>\n");
    parse_file_fails(p, "bad.conf:3: <S> is never closed");
    assert_has(err, p);
}

static void
parse_file__missing_path_is_error(void **state)
{
    const char *p = testfs_path("missing.conf");

    parse_file_fails(p, "cannot open: No such file or directory");
    assert_has(err, p);
}

static void
parse_file__directory_is_error(void **state)
{
    parse_file_fails(testfs_dir, "is a directory");
    assert_has(err, testfs_dir);
}

static void
parse_file__fifo_is_error(void **state)
{
    const char *p = testfs_path("fifo.conf");

    assert_int_equal(mkfifo(p, 0600), 0);
    parse_file_fails(p, "not a regular file");
    assert_int_equal(unlink(p), 0);
}

/* Run in a child that cannot read the file: as root, drop to nobody first. */
static void
parse_file__unreadable_is_error(void **state)
{
    const char *p = write_text("secret.conf", "URL a\n");
    pid_t pid;
    int status;

    assert_int_equal(chmod(p, 0), 0);
    assert_int_equal(chmod(testfs_dir, 0711), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        struct ovp_cfg_node *root = NULL;
        char cerr[1024] = "";
        int ok;

        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        {
            _exit(2);
        }
        ok = ovp_cfg_parse_file(p, &root, cerr, sizeof(cerr)) == -1 && root == NULL &&
             strstr(cerr, "Permission denied") != NULL && strstr(cerr, p) != NULL;
        if (!ok)
        {
            fprintf(stderr, "child: %s\n", cerr);
        }
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(chmod(testfs_dir, 0700), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void
parse_file__empty_file_gives_empty_tree(void **state)
{
    struct ovp_cfg_node *root = NULL;

    assert_int_equal(ovp_cfg_parse_file(write_text("empty.conf", ""), &root, err, sizeof(err)),
                     0);
    assert_non_null(root);
    assert_int_equal(root->n_entries + root->n_children, 0);
    ovp_cfg_free(root);
}

/* Written for this test in the layout openvpn-auth-ldap users have. */
static const char auth_ldap_sample[] =
    "# Directory connection\n"                              /* 1 */
    "<LDAP>\n"                                              /* 2 */
    "\tURL\t\tldap://ldap.example.net:389\n"                /* 3 */
    "\tBindDN\t\t\"cn=vpn-reader,dc=example,dc=net\"\n"     /* 4 */
    "\tPassword\t\"s3cr#t pass\"\n"                         /* 5 */
    "\tTimeout\t\t15\n"                                     /* 6 */
    "\tTLSEnable\tno   # plain on loopback\n"               /* 7 */
    "</LDAP>\n"                                             /* 8 */
    "\n"                                                    /* 9 */
    "<Authorization>\n"                                     /* 10 */
    "\tBaseDN\t\t\"ou=People,dc=example,dc=net\"\n"         /* 11 */
    "\tSearchFilter\t\"(&(uid=%u)(objectClass=person))\"\n" /* 12 */
    "\tRequireGroup\ttrue\n"                                /* 13 */
    "\t<Group>\n"                                           /* 14 */
    "\t\tBaseDN\t\t\"ou=Groups,dc=example,dc=net\"\n"       /* 15 */
    "\t\tSearchFilter\t\"(cn=vpn-users)\"\n"                /* 16 */
    "\t\tMemberAttribute\tmember\n"                         /* 17 */
    "\t</Group>\n"                                          /* 18 */
    "\t<Group>\n"                                           /* 19 */
    "\t\tBaseDN\t\t\"ou=Groups,dc=example,dc=net\"\n"       /* 20 */
    "\t\tSearchFilter\t\"(cn=vpn-admins)\"\n"               /* 21 */
    "\t\tMemberAttribute\tuniqueMember\n"                   /* 22 */
    "\t</Group>\n"                                          /* 23 */
    "</Authorization>\n";                                   /* 24 */

struct ldap_conf
{
    char *url;
    char *binddn;
    char *password;
    long timeout;
    int tls;
};

static const struct ovp_cfg_key ldap_keys[] = {
    {.name = "URL",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = offsetof(struct ldap_conf, url)},
    {.name = "BindDN", .type = OVP_CFG_STRING, .offset = offsetof(struct ldap_conf, binddn)},
    {.name = "Password",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = offsetof(struct ldap_conf, password)},
    {.name = "Timeout",
     .type = OVP_CFG_DURATION,
     .def = "15s",
     .offset = offsetof(struct ldap_conf, timeout)},
    {.name = "TLSEnable",
     .type = OVP_CFG_BOOL,
     .def = "yes",
     .offset = offsetof(struct ldap_conf, tls)},
};

struct authz_conf
{
    char *basedn;
    char *filter;
    int require_group;
};

static const struct ovp_cfg_key authz_keys[] = {
    {.name = "BaseDN", .type = OVP_CFG_STRING, .offset = offsetof(struct authz_conf, basedn)},
    {.name = "SearchFilter",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct authz_conf, filter)},
    {.name = "RequireGroup",
     .type = OVP_CFG_BOOL,
     .offset = offsetof(struct authz_conf, require_group)},
};

struct group_conf
{
    char *basedn;
    char *filter;
    char *attr;
};

static const struct ovp_cfg_key group_keys[] = {
    {.name = "BaseDN", .type = OVP_CFG_STRING, .offset = offsetof(struct group_conf, basedn)},
    {.name = "SearchFilter",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct group_conf, filter)},
    {.name = "MemberAttribute",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct group_conf, attr)},
};

static void
parse_file__openvpn_auth_ldap_sample_gives_the_right_tree(void **state)
{
    static const char *const authz_sections[] = {"Group", NULL};
    const char *p = write_text("auth-ldap.conf", auth_ldap_sample);
    struct ovp_cfg_node *root = NULL, *ldap, *authz, *g;
    struct ldap_conf lc;
    struct authz_conf ac;
    struct group_conf gc;

    assert_int_equal(ovp_cfg_parse_file(p, &root, err, sizeof(err)), 0);
    assert_int_equal(root->n_entries, 0);
    assert_int_equal(root->n_children, 2);

    ldap = ovp_cfg_section(root, "LDAP", 0);
    assert_ptr_equal(ldap, &root->children[0]);
    assert_int_equal(ldap->line, 2);
    assert_int_equal(ldap->n_entries, 5);
    assert_int_equal(ldap->n_children, 0);
    assert_entry(ldap, 0, "URL", "ldap://ldap.example.net:389", 3);
    assert_entry(ldap, 1, "BindDN", "cn=vpn-reader,dc=example,dc=net", 4);
    assert_entry(ldap, 2, "Password", "s3cr#t pass", 5);
    assert_entry(ldap, 3, "Timeout", "15", 6);
    assert_entry(ldap, 4, "TLSEnable", "no", 7);

    authz = ovp_cfg_section(root, "authorization", 0);
    assert_ptr_equal(authz, &root->children[1]);
    assert_int_equal(authz->line, 10);
    assert_int_equal(authz->n_entries, 3);
    assert_entry(authz, 0, "BaseDN", "ou=People,dc=example,dc=net", 11);
    assert_entry(authz, 1, "SearchFilter", "(&(uid=%u)(objectClass=person))", 12);
    assert_entry(authz, 2, "RequireGroup", "true", 13);
    assert_int_equal(ovp_cfg_count_sections(authz, "Group"), 2);
    g = ovp_cfg_section(authz, "Group", 0);
    assert_int_equal(g->line, 14);
    assert_entry(g, 1, "SearchFilter", "(cn=vpn-users)", 16);
    assert_entry(g, 2, "MemberAttribute", "member", 17);
    g = ovp_cfg_section(authz, "group", 1);
    assert_int_equal(g->line, 19);
    assert_entry(g, 0, "BaseDN", "ou=Groups,dc=example,dc=net", 20);
    assert_entry(g, 2, "MemberAttribute", "uniqueMember", 22);

    /* And it binds as a plugin would bind it. */
    memset(&lc, 0, sizeof(lc));
    assert_int_equal(ovp_cfg_bind(ldap, ldap_keys, 5, &lc, NULL, err, sizeof(err)), 0);
    assert_string_equal(lc.url, "ldap://ldap.example.net:389");
    assert_string_equal(lc.password, "s3cr#t pass");
    assert_int_equal(lc.timeout, 15000);
    assert_int_equal(lc.tls, 0);
    ovp_cfg_release(ldap_keys, 5, &lc);

    memset(&ac, 0, sizeof(ac));
    assert_int_equal(ovp_cfg_bind(authz, authz_keys, 3, &ac, NULL, err, sizeof(err)), -1);
    assert_has(err, ":14: unknown section <Group> in <Authorization>");
    ovp_cfg_release(authz_keys, 3, &ac);
    assert_int_equal(ovp_cfg_bind(authz, authz_keys, 3, &ac, authz_sections, err, sizeof(err)),
                     0);
    assert_int_equal(ac.require_group, 1);
    assert_string_equal(ac.filter, "(&(uid=%u)(objectClass=person))");
    ovp_cfg_release(authz_keys, 3, &ac);

    memset(&gc, 0, sizeof(gc));
    assert_int_equal(ovp_cfg_bind(g, group_keys, 3, &gc, NULL, err, sizeof(err)), 0);
    assert_string_equal(gc.attr, "uniqueMember");
    assert_string_equal(gc.filter, "(cn=vpn-admins)");
    ovp_cfg_release(group_keys, 3, &gc);

    /* The root allows exactly the two sections. */
    {
        static const char *const top[] = {"LDAP", "Authorization", NULL};
        assert_int_equal(ovp_cfg_bind(root, NULL, 0, NULL, top, err, sizeof(err)), 0);
    }
    ovp_cfg_free(root);
}

/* --------------------------------------------------------------- words */

static void
parse_words__stops_at_first_word_without_equals(void **state)
{
    const char *const words[] = {"URL=ldap://a", "Filter=(a=b)", "/etc/x.conf", "Port=1"};
    struct ovp_cfg_node *root = NULL;
    size_t consumed = 99;

    assert_int_equal(ovp_cfg_parse_words(words, 4, &consumed, &root, err, sizeof(err)), 0);
    assert_int_equal(consumed, 2);
    assert_int_equal(root->n_entries, 2);
    assert_entry(root, 0, "URL", "ldap://a", 0);
    /* Only the first '=' separates: values may hold more. */
    assert_entry(root, 1, "Filter", "(a=b)", 0);
    assert_string_equal(root->file, "plugin line");
    ovp_cfg_free(root);
}

static void
parse_words__all_consumed(void **state)
{
    const char *const words[] = {"a=1", "b=", "c=x y"};
    struct ovp_cfg_node *root = NULL;
    size_t consumed = 0;

    assert_int_equal(ovp_cfg_parse_words(words, 3, &consumed, &root, err, sizeof(err)), 0);
    assert_int_equal(consumed, 3);
    assert_entry(root, 1, "b", "", 0);
    assert_entry(root, 2, "c", "x y", 0);
    ovp_cfg_free(root);

    assert_int_equal(ovp_cfg_parse_words(NULL, 0, &consumed, &root, err, sizeof(err)), 0);
    assert_int_equal(consumed, 0);
    assert_int_equal(root->n_entries, 0);
    ovp_cfg_free(root);
}

static void
parse_words__bad_words_are_errors(void **state)
{
    const char *const empty_key[] = {"a=1", "=hunter2"};
    const char *const bad_key[] = {"a b=1"};
    const char *const null_word[] = {"a=1", NULL};
    const char *const bad_utf8[] = {"a=\xc0\x80"};
    struct ovp_cfg_node *root = (struct ovp_cfg_node *)&root;
    char *longw = malloc(OVP_CFG_LINE_MAX + 8);
    const char *long_words[1];
    size_t consumed;

    assert_int_equal(ovp_cfg_parse_words(empty_key, 2, &consumed, &root, err, sizeof(err)), -1);
    assert_null(root);
    assert_has(err, "plugin line: word 2 has an empty key");
    assert_lacks(err, "hunter2");
    assert_int_equal(ovp_cfg_parse_words(bad_key, 1, &consumed, &root, err, sizeof(err)), -1);
    assert_has(err, "invalid character in the key");
    assert_int_equal(ovp_cfg_parse_words(null_word, 2, &consumed, &root, err, sizeof(err)), -1);
    assert_has(err, "word 2 is missing");
    assert_int_equal(ovp_cfg_parse_words(bad_utf8, 1, &consumed, &root, err, sizeof(err)), -1);
    assert_has(err, "invalid UTF-8");
    assert_int_equal(ovp_cfg_parse_words(NULL, 1, &consumed, &root, err, sizeof(err)), -1);

    assert_non_null(longw);
    memcpy(longw, "k=", 2);
    memset(longw + 2, 'v', OVP_CFG_LINE_MAX + 1);
    longw[OVP_CFG_LINE_MAX + 3] = '\0';
    long_words[0] = longw;
    assert_int_equal(ovp_cfg_parse_words(long_words, 1, &consumed, &root, err, sizeof(err)),
                     -1);
    assert_has(err, "longer than");
    free(longw);
}

static void
parse_args__single_path_word_reads_file(void **state)
{
    const char *words[1];
    struct ovp_cfg_node *root = NULL;

    words[0] = write_text("args.conf", "URL ldap://f\n");
    assert_int_equal(ovp_cfg_parse_args(words, 1, &root, err, sizeof(err)), 0);
    assert_string_equal(root->file, words[0]);
    assert_entry(root, 0, "URL", "ldap://f", 1);
    ovp_cfg_free(root);

    words[0] = testfs_path("no-such.conf");
    assert_int_equal(ovp_cfg_parse_args(words, 1, &root, err, sizeof(err)), -1);
    assert_has(err, "no-such.conf: cannot open");
}

static void
parse_args__key_value_words(void **state)
{
    const char *const words[] = {"URL=ldap://w", "Port=636"};
    struct ovp_cfg_node *root = NULL;

    assert_int_equal(ovp_cfg_parse_args(words, 2, &root, err, sizeof(err)), 0);
    assert_int_equal(root->n_entries, 2);
    assert_entry(root, 1, "Port", "636", 0);
    ovp_cfg_free(root);

    assert_int_equal(ovp_cfg_parse_args(words, 1, &root, err, sizeof(err)), 0);
    assert_int_equal(root->n_entries, 1);
    ovp_cfg_free(root);
}

static void
parse_args__no_words_gives_empty_tree(void **state)
{
    struct ovp_cfg_node *root = NULL;

    assert_int_equal(ovp_cfg_parse_args(NULL, 0, &root, err, sizeof(err)), 0);
    assert_non_null(root);
    assert_int_equal(root->n_entries + root->n_children, 0);
    ovp_cfg_free(root);
}

static void
parse_args__path_mixed_with_words_is_error(void **state)
{
    const char *const mixed[] = {"URL=ldap://w", "/etc/x.conf"};
    const char *const two[] = {"/etc/a.conf", "/etc/b.conf"};
    struct ovp_cfg_node *root = (struct ovp_cfg_node *)&root;

    assert_int_equal(ovp_cfg_parse_args(mixed, 2, &root, err, sizeof(err)), -1);
    assert_null(root);
    assert_has(err, "word 2 is not key=value");
    assert_int_equal(ovp_cfg_parse_args(two, 2, &root, err, sizeof(err)), -1);
    assert_has(err, "word 1 is not key=value");
}

/* ----------------------------------------------------------------- bind */

static void
bind__defaults_apply(void **state)
{
    struct conf c;

    bind_ok("URL ldap://a\n", &c);
    assert_string_equal(c.url, "ldap://a");
    assert_null(c.binddn);
    assert_null(c.password);
    assert_int_equal(c.timeout, 15000);
    assert_int_equal(c.tls, 0);
    assert_int_equal(c.mode, 1);
    assert_int_equal(c.maxsize, 65536);
    assert_int_equal(c.port, 389);
    assert_int_equal(c.member.n, 1);
    assert_string_equal(c.member.v[0], "nobody");
    assert_null(c.member.v[1]);
    assert_null(c.cafile);
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__values_by_type(void **state)
{
    struct conf c;
    const char *ca = write_text("ca.pem", "-----\n");
    char text[1024];

    snprintf(text, sizeof(text),
             "url ldap://b\nBINDDN \"cn=x\"\nPassword \"p w\"\nTimeout 250ms\nTLSEnable on\n"
             "Mode Paranoid\nMaxSize 16M\nPort 636\nMember a\nmember b\nCAFile %s\n"
             "Pin -42\nCount +7\n",
             ca);
    bind_ok(text, &c);
    assert_string_equal(c.url, "ldap://b");
    assert_string_equal(c.binddn, "cn=x");
    assert_string_equal(c.password, "p w");
    assert_int_equal(c.timeout, 250);
    assert_int_equal(c.tls, 1);
    assert_int_equal(c.mode, 2);
    assert_int_equal(c.maxsize, 16L * 1024 * 1024);
    assert_int_equal(c.port, 636);
    /* Given values replace the default list rather than adding to it. */
    assert_int_equal(c.member.n, 2);
    assert_string_equal(c.member.v[0], "a");
    assert_string_equal(c.member.v[1], "b");
    assert_null(c.member.v[2]);
    assert_string_equal(c.cafile, ca);
    assert_int_equal(c.pin, -42);
    assert_int_equal(c.count, 7);
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__marks_entries_used(void **state)
{
    struct ovp_cfg_node *root = parse_ok("URL a\nPort 1\n");
    struct conf c;

    memset(&c, 0, sizeof(c));
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), 0);
    assert_int_equal(root->entries[0].used, 1);
    assert_int_equal(root->entries[1].used, 1);
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__unknown_key_suggests_close_match(void **state)
{
    struct conf c;

    assert_int_equal(bind_text("URL a\n\nTiemout 5\n", &c, NULL), -1);
    assert_has(err,
               "t.conf:3: unknown key 'Tiemout' at the top level (did you mean 'Timeout'?)");
    ovp_cfg_release(keys, NKEYS, &c);

    assert_int_equal(bind_text("URL a\nPasswrodFile /x\n", &c, NULL), -1);
    assert_has(err, "did you mean 'PasswordFile'?");
    ovp_cfg_release(keys, NKEYS, &c);

    assert_int_equal(bind_text("URL a\nurl_ b\n", &c, NULL), -1);
    assert_has(err, "did you mean 'URL'?");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__unknown_key_without_close_match_lists_valid_keys(void **state)
{
    struct conf c;

    assert_int_equal(bind_text("URL a\nFrobnicate 1\n", &c, NULL), -1);
    assert_has(err, "t.conf:2: unknown key 'Frobnicate'");
    assert_has(err, "valid keys: URL, BindDN, Password, PasswordFile, Timeout");
    assert_lacks(err, "did you mean");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__unknown_key_in_section_names_section(void **state)
{
    struct ovp_cfg_node *root = parse_ok("<LDAP>\nURL a\nBogus 1\n</LDAP>\n");
    struct conf c;

    memset(&c, 0, sizeof(c));
    assert_int_equal(
        ovp_cfg_bind(ovp_cfg_section(root, "LDAP", 0), keys, NKEYS, &c, NULL, err, sizeof(err)),
        -1);
    assert_has(err, "t.conf:3: unknown key 'Bogus' in <LDAP>");
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__duplicate_key_is_error(void **state)
{
    struct conf c;

    assert_int_equal(bind_text("URL a\nPort 1\nport 2\n", &c, NULL), -1);
    assert_has(err, "t.conf:3: duplicate key 'port' at the top level (first given at line 2)");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__multi_key_may_repeat(void **state)
{
    struct conf c;

    bind_ok("Member x\nURL a\nMember y\nMember \"\"\nMEMBER z\n", &c);
    assert_int_equal(c.member.n, 4);
    assert_string_equal(c.member.v[0], "x");
    assert_string_equal(c.member.v[2], "");
    assert_string_equal(c.member.v[3], "z");
    assert_null(c.member.v[4]);
    ovp_cfg_release(keys, NKEYS, &c);
    assert_int_equal(c.member.n, 0);
    assert_null(c.member.v);
}

static void
bind__required_missing_names_key_and_section(void **state)
{
    struct ovp_cfg_node *root = parse_ok("# x\n<LDAP>\nPort 1\n</LDAP>\n");
    struct conf c;

    memset(&c, 0, sizeof(c));
    assert_int_equal(
        ovp_cfg_bind(ovp_cfg_section(root, "LDAP", 0), keys, NKEYS, &c, NULL, err, sizeof(err)),
        -1);
    assert_has(err, "t.conf:2: required key URL is missing in <LDAP>");
    assert_has(err, "LDAP server URL");
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);

    assert_int_equal(bind_text("Port 1\n", &c, NULL), -1);
    assert_has(err, "t.conf: required key URL is missing at the top level");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__required_secret_accepts_file_variant(void **state)
{
    static const struct ovp_cfg_key k[] = {
        {.name = "Password",
         .type = OVP_CFG_STRING,
         .flags = OVP_CFG_REQUIRED | OVP_CFG_SECRET,
         .offset = 0},
    };
    const char *p = testfs_write("req.secret", "from-file\n", 10, 0600);
    char text[512];
    char *pw = NULL;
    struct ovp_cfg_node *root;

    root = parse_ok("# nothing\n");
    assert_int_equal(ovp_cfg_bind(root, k, 1, &pw, NULL, err, sizeof(err)), -1);
    assert_has(err, "required key Password (or PasswordFile) is missing");
    ovp_cfg_free(root);

    snprintf(text, sizeof(text), "PasswordFile %s\n", p);
    root = parse_ok(text);
    assert_int_equal(ovp_cfg_bind(root, k, 1, &pw, NULL, err, sizeof(err)), 0);
    assert_string_equal(pw, "from-file");
    ovp_cfg_release(k, 1, &pw);
    assert_null(pw);
    ovp_cfg_free(root);
}

static void
bind__unknown_section_is_error(void **state)
{
    static const char *const allowed[] = {"Group", "Filter", NULL};
    struct conf c;

    assert_int_equal(bind_text("URL a\n<Grop>\n</Grop>\n", &c, allowed), -1);
    assert_has(err,
               "t.conf:2: unknown section <Grop> at the top level (did you mean <Group>?)");
    ovp_cfg_release(keys, NKEYS, &c);

    assert_int_equal(bind_text("URL a\n<Elsewhere>\n</Elsewhere>\n", &c, allowed), -1);
    assert_has(err, "valid sections: <Group>, <Filter>");
    ovp_cfg_release(keys, NKEYS, &c);

    assert_int_equal(bind_text("URL a\n<Group>\n</Group>\n", &c, NULL), -1);
    assert_has(err, "no sections are valid here");
    ovp_cfg_release(keys, NKEYS, &c);

    /* Listed sections are left to the caller, whatever they hold. */
    bind_ok("URL a\n", &c);
    ovp_cfg_release(keys, NKEYS, &c);
    assert_int_equal(bind_text("URL a\n<group>\nAnything 1\n</group>\n", &c, allowed), 0);
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__int_values_and_range(void **state)
{
    struct conf c;

    bind_one_ok("Port", "65535", &c);
    assert_int_equal(c.port, 65535);
    ovp_cfg_release(keys, NKEYS, &c);
    bind_one_ok("Count", "-9223372036854775808", &c);
    assert_int_equal(c.count, LONG_MIN);
    ovp_cfg_release(keys, NKEYS, &c);

    bind_one_fails("Port", "0", "t.conf:2: Port '0': expected a whole number from 1 to 65535");
    bind_one_fails("Port", "65536", "from 1 to 65535");
    bind_one_fails("Port", "-1", "from 1 to 65535");
    bind_one_fails("Port", "abc", "Port 'abc'");
    bind_one_fails("Port", "12abc", "Port '12abc'");
    bind_one_fails("Port", "1 2", "Port '1 2'");
    bind_one_fails("Port", "0x10", "from 1 to 65535");
}

static void
bind__int_overflow_is_error(void **state)
{
    bind_one_fails("Count", "9223372036854775808",
                   "Count '9223372036854775808': expected a whole number from "
                   "-9223372036854775808 to 9223372036854775807");
    bind_one_fails("Count", "-9223372036854775809", "expected a whole number");
    bind_one_fails("Port", "99999999999999999999999999", "from 1 to 65535");
}

static void
bind__empty_value_is_error_except_for_strings(void **state)
{
    struct conf c;

    bind_one_fails("Port", "\"\"", "t.conf:2: Port '': empty value; expected a whole number");
    bind_one_fails("TLSEnable", "\"\"", "empty value; expected yes/no");
    bind_one_fails("Timeout", "\"\"", "empty value; expected a duration from 1ms to 2h");
    bind_one_fails("MaxSize", "\"\"", "empty value; expected a size");
    bind_one_fails("Mode", "\"\"", "empty value; expected one of");

    bind_one_ok("BindDN", "\"\"", &c);
    assert_non_null(c.binddn);
    assert_string_equal(c.binddn, "");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__bool_spellings(void **state)
{
    static const char *const yes[] = {"yes", "TRUE", "On", "1"};
    static const char *const no[] = {"no", "False", "OFF", "0"};
    struct conf c;
    size_t i;

    for (i = 0; i < 4; i++)
    {
        bind_one_ok("TLSEnable", yes[i], &c);
        assert_int_equal(c.tls, 1);
        ovp_cfg_release(keys, NKEYS, &c);
        bind_one_ok("TLSEnable", no[i], &c);
        assert_int_equal(c.tls, 0);
        ovp_cfg_release(keys, NKEYS, &c);
    }
    bind_one_fails("TLSEnable", "maybe",
                   "TLSEnable 'maybe': expected yes/no, true/false, on/off or 1/0");
}

static void
bind__enum_lists_choices(void **state)
{
    struct conf c;

    bind_one_ok("Mode", "FAST", &c);
    assert_int_equal(c.mode, 0);
    ovp_cfg_release(keys, NKEYS, &c);
    bind_one_fails("Mode", "slow", "Mode 'slow': expected one of: fast, safe, paranoid");
}

static void
bind__duration_suffixes(void **state)
{
    static const struct
    {
        const char *text;
        long ms;
    } ok[] = {
        {"250ms", 250}, {"15s", 15000}, {"2m", 120000}, {"1h", 3600000},
        {"3", 3000},    {"5 s", 5000},  {"1MS", 1},     {"2h", 7200000},
    };
    struct conf c;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
        bind_one_ok("Timeout", ok[i].text, &c);
        assert_int_equal(c.timeout, ok[i].ms);
        ovp_cfg_release(keys, NKEYS, &c);
    }
    bind_one_fails("Timeout", "0",
                   "Timeout '0': expected a duration from 1ms to 2h (such as 250ms");
    bind_one_fails("Timeout", "121m", "from 1ms to 2h");
    bind_one_fails("Timeout", "15x", "Timeout '15x'");
    bind_one_fails("Timeout", "-5s", "expected a duration");
    bind_one_fails("Timeout", "1.5s", "expected a duration");
    bind_one_fails("Timeout", "s", "expected a duration");
    bind_one_fails("Timeout", "9223372036854775807h", "expected a duration");
    bind_one_fails("Timeout", "99999999999999999999", "expected a duration");
}

static void
bind__duration_unbounded_overflow_is_error(void **state)
{
    static const struct ovp_cfg_key k[] = {
        {.name = "Wait", .type = OVP_CFG_DURATION, .offset = 0},
    };
    struct ovp_cfg_node *root = parse_ok("Wait 9223372036854775807s\n");
    long v = 0;

    assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), -1);
    assert_has(err, "t.conf:1: Wait '9223372036854775807s'");
    assert_has(err, "too large; expected a duration");
    ovp_cfg_free(root);
}

static void
bind__duration_us_units_and_range_error_with_help(void **state)
{
    static const struct ovp_cfg_key k[] = {
        {.name = "InlineWait",
         .type = OVP_CFG_DURATION_US,
         .offset = 0,
         .min = 0,
         .max = 10000,
         .help = "it stalls the event loop"},
    };
    static const struct
    {
        const char *text;
        long us;
    } ok[] = {{"0", 0}, {"300us", 300}, {"300 us", 300}, {"2ms", 2000}, {"10ms", 10000}};
    struct ovp_cfg_node *root;
    char text[64];
    long v;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
        snprintf(text, sizeof(text), "InlineWait %s\n", ok[i].text);
        root = parse_ok(text);
        v = -1;
        assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), 0);
        assert_int_equal(v, ok[i].us);
        ovp_cfg_free(root);
    }
    root = parse_ok("InlineWait 11ms\n");
    assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), -1);
    assert_has(err, "t.conf:1: InlineWait '11ms': expected a duration from 0us to 10ms");
    assert_has(err, "such as 300us or 2ms");
    assert_has(err, "it stalls the event loop");
    ovp_cfg_free(root);
    root = parse_ok("InlineWait 1\n"); /* a bare number is seconds */
    assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), -1);
    ovp_cfg_free(root);
    root = parse_ok("InlineWait 3ns\n");
    assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), -1);
    ovp_cfg_free(root);
}

static void
bind__size_suffixes(void **state)
{
    static const struct
    {
        const char *text;
        long bytes;
    } ok[] = {
        {"512", 512}, {"64k", 65536}, {"64K", 65536}, {"16M", 16777216}, {"1G", 1073741824},
    };
    struct conf c;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
        bind_one_ok("MaxSize", ok[i].text, &c);
        assert_int_equal(c.maxsize, ok[i].bytes);
        ovp_cfg_release(keys, NKEYS, &c);
    }
    bind_one_fails("MaxSize", "12q", "MaxSize '12q': expected a size (such as 512, 64k, 16M");
    bind_one_fails("MaxSize", "-1", "expected a size");
    bind_one_fails("MaxSize", "99999999999G", "expected a size");
}

static void
bind__size_range_is_shown_in_units(void **state)
{
    static const struct ovp_cfg_key k[] = {
        {.name = "Buf", .type = OVP_CFG_SIZE, .offset = 0, .min = 512, .max = 16L << 20},
    };
    struct ovp_cfg_node *root = parse_ok("Buf 17M\n");
    long v = 0;

    assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), -1);
    assert_has(err, "from 512 to 16M");
    ovp_cfg_free(root);
}

static void
bind__secret_value_is_masked_in_error(void **state)
{
    bind_one_fails("Pin", "12ab34zz", "t.conf:2: Pin '****': expected a whole number");
    assert_lacks(err, "12ab34zz");
    assert_lacks(err, "12ab");
}

static void
bind__secret_never_in_error_message(void **state)
{
    static const char *const cases[] = {
        "URL a\nPin 7hunter2\n",                                /* bad value */
        "URL a\nPassword hunter2\nPassword hunter2b\n",         /* duplicate */
        "URL a\nPassword hunter2\nPasswordFile /nonexistent\n", /* both forms */
        "URL a\nPasword hunter2\n",                             /* misspelt key */
        "URL a\nPassword hunter2\nBogus x\n",                   /* later error */
        "URL a\nPassword \"hunter2\"\nPort 0\n",                /* unrelated bad value */
    };
    static const char *const parse_cases[] = {
        "Password \"hunter2\\q\"\n", /* unknown escape */
        "Password \"hunter2\n",      /* unterminated */
        "Password \"hunter2\" x\n",  /* text after quote */
        "Password=hunter2\n",        /* key=value in a file */
    };
    const char *const words[] = {"URL=a", "Pasword=hunter2"};
    struct ovp_cfg_node *root = NULL;
    struct conf c;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        assert_int_equal(bind_text(cases[i], &c, NULL), -1);
        assert_true(err[0] != '\0');
        assert_lacks(err, "hunter2");
        ovp_cfg_release(keys, NKEYS, &c);
    }
    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++)
    {
        parse_fails(parse_cases[i], "t.conf:1:");
        assert_lacks(err, "hunter2");
    }
    assert_int_equal(ovp_cfg_parse_args(words, 2, &root, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), -1);
    assert_has(err, "plugin line: unknown key 'Pasword'");
    assert_lacks(err, "hunter2");
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__secret_file_is_read(void **state)
{
    const char *p = testfs_write("pw.secret", "s3cret value\n", 13, 0600);
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL a\npasswordfile %s\n", p);
    bind_ok(text, &c);
    assert_string_equal(c.password, "s3cret value");
    ovp_cfg_release(keys, NKEYS, &c);
    assert_null(c.password);

    p = testfs_write("pin.secret", "1234\n", 5, 0400);
    snprintf(text, sizeof(text), "URL a\nPinFile %s\n", p);
    bind_ok(text, &c);
    assert_int_equal(c.pin, 1234);
    ovp_cfg_release(keys, NKEYS, &c);
    assert_int_equal(c.pin, 0);
}

static void
bind__secret_file_readable_by_others_is_refused(void **state)
{
    const char *p = testfs_write("public.secret", "hunter2\n", 8, 0644);
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\n", p);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "t.conf:2: PasswordFile: ");
    assert_has(err, p);
    assert_has(err, "others may read it (mode 0644, owner uid");
    assert_lacks(err, "hunter2");
    assert_null(c.password);
    ovp_cfg_release(keys, NKEYS, &c);

    p = testfs_write("groupw.secret", "hunter2\n", 8, 0620);
    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\n", p);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "mode 0620");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__secret_file_must_be_regular_and_present(void **state)
{
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\n", testfs_dir);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "not a regular file");
    ovp_cfg_release(keys, NKEYS, &c);

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\n", testfs_path("absent.secret"));
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "absent.secret: cannot open");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__secret_file_bad_content_is_masked(void **state)
{
    const char *p = testfs_write("badpin.secret", "12ab34zz\n", 9, 0600);
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nPinFile %s\n", p);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "t.conf:2: PinFile: the content of ");
    assert_has(err, "is not valid: expected a whole number");
    assert_lacks(err, "12ab");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__secret_and_secret_file_together_is_error(void **state)
{
    const char *p = testfs_write("both.secret", "x\n", 2, 0600);
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nPassword hunter2\n\nPasswordFile %s\n", p);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "t.conf:4: both Password and PasswordFile given at the top level "
                    "(the other at line 2); give only one");
    assert_lacks(err, "hunter2");
    ovp_cfg_release(keys, NKEYS, &c);

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\nPassword hunter2\n", p);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "t.conf:3: both Password and PasswordFile given");
    ovp_cfg_release(keys, NKEYS, &c);

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\nPasswordFile %s\n", p, p);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "t.conf:3: duplicate key 'PasswordFile'");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__file_key_only_exists_for_secrets(void **state)
{
    struct conf c;

    assert_int_equal(bind_text("URL a\nBindDNFile /x\n", &c, NULL), -1);
    assert_has(err, "unknown key 'BindDNFile'");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__file_readable_path_is_checked(void **state)
{
    char text[512];
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nCAFile %s\n", testfs_path("no-ca.pem"));
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "t.conf:2: CAFile '");
    assert_has(err, "no-ca.pem' cannot be read: No such file or directory");
    ovp_cfg_release(keys, NKEYS, &c);

    snprintf(text, sizeof(text), "URL a\nCAFile %s\n", testfs_dir);
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_has(err, "is a directory");
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
bind__file_readable_default_is_checked(void **state)
{
    static const struct ovp_cfg_key k[] = {
        {.name = "CA",
         .type = OVP_CFG_STRING,
         .flags = OVP_CFG_FILE_READABLE,
         .def = "/nonexistent/ovp/ca.pem",
         .offset = 0},
    };
    struct ovp_cfg_node *root = parse_ok("");
    char *ca = NULL;

    assert_int_equal(ovp_cfg_bind(root, k, 1, &ca, NULL, err, sizeof(err)), -1);
    assert_has(err, "t.conf: CA (default) '/nonexistent/ovp/ca.pem' cannot be read");
    ovp_cfg_release(k, 1, &ca);
    assert_null(ca);
    ovp_cfg_free(root);
}

static void
bind__inline_words_bind_like_a_file(void **state)
{
    const char *const words[] = {"url=ldap://w", "Port=99999"};
    const char *const good[] = {"URL=ldap://w", "Timeout=2m", "Member=a", "Member=b"};
    struct ovp_cfg_node *root = NULL;
    struct conf c;

    assert_int_equal(ovp_cfg_parse_args(words, 2, &root, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), -1);
    assert_has(err, "plugin line: Port '99999': expected a whole number from 1 to 65535");
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);

    assert_int_equal(ovp_cfg_parse_args(good, 4, &root, err, sizeof(err)), 0);
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.url, "ldap://w");
    assert_int_equal(c.timeout, 120000);
    assert_int_equal(c.member.n, 2);
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__null_node_applies_defaults_and_checks_required(void **state)
{
    struct conf c;

    memset(&c, 0, sizeof(c));
    assert_int_equal(ovp_cfg_bind(NULL, keys, NKEYS, &c, NULL, err, sizeof(err)), -1);
    assert_has(err, "required key URL is missing");
    ovp_cfg_release(keys, NKEYS, &c);

    /* Without URL (the table's first key) nothing is required. */
    assert_int_equal(ovp_cfg_bind(NULL, keys + 1, NKEYS - 1, &c, NULL, err, sizeof(err)), 0);
    assert_int_equal(c.port, 389);
    ovp_cfg_release(keys + 1, NKEYS - 1, &c);
}

static void
bind__bad_table_is_internal_error(void **state)
{
    static const struct ovp_cfg_key multi_int[] = {
        {.name = "N", .type = OVP_CFG_INT, .flags = OVP_CFG_MULTI, .offset = 0},
    };
    static const struct ovp_cfg_key enum_no_choices[] = {
        {.name = "E", .type = OVP_CFG_ENUM, .offset = 0},
    };
    static const struct ovp_cfg_key bad_default[] = {
        {.name = "D", .type = OVP_CFG_INT, .def = "abc", .offset = 0, .min = 1, .max = 5},
    };
    struct ovp_cfg_node *root = parse_ok("");
    long v[4] = {0};

    assert_int_equal(ovp_cfg_bind(root, multi_int, 1, v, NULL, err, sizeof(err)), -1);
    assert_has(err, "internal error: key N");
    assert_int_equal(ovp_cfg_bind(root, enum_no_choices, 1, v, NULL, err, sizeof(err)), -1);
    assert_has(err, "internal error: key E");
    assert_int_equal(ovp_cfg_bind(root, bad_default, 1, v, NULL, err, sizeof(err)), -1);
    assert_has(err, "internal error: default of D is invalid");
    assert_int_equal(ovp_cfg_bind(root, NULL, 1, v, NULL, err, sizeof(err)), -1);
    assert_int_equal(ovp_cfg_bind(root, bad_default, 1, NULL, NULL, err, sizeof(err)), -1);
    ovp_cfg_free(root);
}

static void
release__frees_everything_and_is_null_safe(void **state)
{
    struct conf c;
    const char *p = testfs_write("rel.secret", "pw\n", 3, 0600);
    char text[512];

    snprintf(text, sizeof(text),
             "URL a\nBindDN b\nPasswordFile %s\nMember x\nMember y\nBogus 1\n", p);
    /* A failed bind leaves what it stored to the caller: release frees it (ASan checks). */
    assert_int_equal(bind_text(text, &c, NULL), -1);
    assert_string_equal(c.url, "a");
    assert_string_equal(c.password, "pw");
    ovp_cfg_release(keys, NKEYS, &c);
    assert_null(c.url);
    assert_null(c.binddn);
    assert_null(c.password);
    assert_null(c.member.v);
    assert_int_equal(c.member.n, 0);
    ovp_cfg_release(keys, NKEYS, &c); /* twice is harmless */
    ovp_cfg_release(NULL, 3, &c);
    ovp_cfg_release(keys, NKEYS, NULL);
}

/* ------------------------------------------------------ secrets given inline */

static void
bind__secret_on_plugin_line_is_refused(void **state)
{
    const char *const words[] = {"URL=a", "Password=hunter2"};
    const char *const pin[] = {"URL=a", "pin=7hunter2"};
    struct ovp_cfg_node *root = NULL;
    struct conf c;

    assert_int_equal(ovp_cfg_parse_args(words, 2, &root, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), -1);
    assert_has(err, "plugin line: Password is a secret and may not be written on the plugin "
                    "line");
    assert_has(err, "in its log");
    assert_has(err, "give PasswordFile=PATH instead, or write it in a config file");
    assert_lacks(err, "hunter2");
    assert_null(c.password);
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);

    /* Any type of secret, and through ovp_cfg_parse_words too. */
    assert_int_equal(ovp_cfg_parse_words(pin, 2, NULL, &root, err, sizeof(err)), 0);
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), -1);
    assert_has(err, "pin is a secret");
    assert_has(err, "PinFile=PATH");
    assert_lacks(err, "hunter2");
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__secret_file_on_plugin_line_is_accepted(void **state)
{
    const char *p = testfs_write("words.secret", "from-file\n", 10, 0600);
    char word[512];
    const char *words[] = {"URL=a", word};
    struct ovp_cfg_node *root = NULL;
    struct conf c;

    snprintf(word, sizeof(word), "PasswordFile=%s", p);
    assert_int_equal(ovp_cfg_parse_args(words, 2, &root, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ovp_cfg_bind(root, keys, NKEYS, &c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.password, "from-file");
    assert_int_equal(ovp_cfg_warning_count(root), 0);
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__inline_ok_secret_may_be_on_plugin_line(void **state)
{
    static const struct ovp_cfg_key k[] = {
        {.name = "password",
         .type = OVP_CFG_STRING,
         .flags = OVP_CFG_SECRET | OVP_CFG_INLINE_OK,
         .offset = 0},
    };
    static const struct ovp_cfg_key bad[] = {
        {.name = "user", .type = OVP_CFG_STRING, .flags = OVP_CFG_INLINE_OK, .offset = 0},
    };
    const char *const words[] = {"password=dummy"};
    struct ovp_cfg_node *root = NULL;
    char *v = NULL;

    assert_int_equal(ovp_cfg_parse_args(words, 1, &root, err, sizeof(err)), 0);
    assert_int_equal(ovp_cfg_bind(root, k, 1, &v, NULL, err, sizeof(err)), 0);
    assert_string_equal(v, "dummy");
    ovp_cfg_release(k, 1, &v);
    assert_int_equal(ovp_cfg_bind(root, bad, 1, &v, NULL, err, sizeof(err)), -1);
    assert_has(err, "internal error: key user: INLINE_OK needs SECRET");
    ovp_cfg_free(root);
}

/* Parses the file at PATH and binds it to KEYS into C. Returns bind's result. */
static int
bind_file(const char *path, struct conf *c, struct ovp_cfg_node **rootp)
{
    struct ovp_cfg_node *root = NULL;
    int rc;

    memset(c, 0, sizeof(*c));
    err[0] = '\0';
    if (ovp_cfg_parse_file(path, &root, err, sizeof(err)) != 0)
    {
        return -2;
    }
    rc = ovp_cfg_bind(root, keys, NKEYS, c, NULL, err, sizeof(err));
    if (rootp != NULL)
    {
        *rootp = root;
    }
    else
    {
        ovp_cfg_free(root);
    }
    return rc;
}

static void
bind__config_file_with_secret_must_be_private(void **state)
{
    const char *text = "URL a\nPassword hunter2\n";
    const char *p = testfs_write("inline.conf", text, strlen(text), 0644);
    struct conf c;

    assert_int_equal(bind_file(p, &c, NULL), -1);
    assert_has(err, ":2: Password is a secret written in ");
    assert_has(err, p);
    assert_has(err, "others may read it (mode 0644, owner uid");
    assert_has(err, "chmod o-r");
    assert_has(err, "give PasswordFile instead");
    assert_lacks(err, "hunter2");
    assert_null(c.password);
    ovp_cfg_release(keys, NKEYS, &c);

    /* group or others may write it */
    assert_int_equal(chmod(p, 0620), 0);
    assert_int_equal(bind_file(p, &c, NULL), -1);
    assert_has(err, "group or others may write it (mode 0620");
    ovp_cfg_release(keys, NKEYS, &c);

    /* private, or readable by OpenVPN's runtime group: accepted */
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(bind_file(p, &c, NULL), 0);
    assert_string_equal(c.password, "hunter2");
    ovp_cfg_release(keys, NKEYS, &c);

    /* another owner (root only can set one up) */
    if (geteuid() == 0)
    {
        assert_int_equal(chown(p, 1234, 0), 0);
        assert_int_equal(bind_file(p, &c, NULL), -1);
        assert_has(err, "neither root nor the user this process runs as");
        assert_has(err, "owner uid 1234");
        ovp_cfg_release(keys, NKEYS, &c);
    }
}

static void
bind__config_file_without_inline_secret_may_be_public(void **state)
{
    const char *s = testfs_write("pub.secret", "hunter2\n", 8, 0600);
    char text[512];
    const char *p;
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\nPort 99\n", s);
    p = testfs_write("public.conf", text, strlen(text), 0644);
    assert_int_equal(bind_file(p, &c, NULL), 0);
    assert_string_equal(c.password, "hunter2");
    ovp_cfg_release(keys, NKEYS, &c);
    /* A secret in a section of a public file is refused as well. */
    p = write_text("section.conf", "URL a\n<S>\nPassword hunter2\n</S>\n");
    assert_int_equal(chmod(p, 0604), 0);
    {
        struct ovp_cfg_node *root = NULL;

        assert_int_equal(ovp_cfg_parse_file(p, &root, err, sizeof(err)), 0);
        memset(&c, 0, sizeof(c));
        assert_int_equal(ovp_cfg_bind(ovp_cfg_section(root, "S", 0), keys, NKEYS, &c, NULL, err,
                                      sizeof(err)),
                         -1);
        assert_has(err, ":3: Password is a secret written in ");
        assert_lacks(err, "hunter2");
        ovp_cfg_release(keys, NKEYS, &c);
        ovp_cfg_free(root);
    }
}

/* -------------------------------------------- reload after the privilege drop */

static void
parse_file__unreadable_after_drop_keeps_the_earlier_text(void **state)
{
    const char *p = write_text("kept.conf", "URL ldap://first\nPassword hunter2\n");
    struct ovp_cfg_node *root = NULL;
    struct conf c;

    ovp_file_cache_clear();
    assert_int_equal(bind_file(p, &c, &root), 0); /* the first open, as root */
    assert_int_equal(ovp_cfg_warning_count(root), 0);
    ovp_cfg_free(root);
    ovp_cfg_release(keys, NKEYS, &c);

    write_text("kept.conf", "URL ldap://second\nPassword hunter3\n");
    testfs_drop(); /* the reopen at SIGHUP, as nobody */
    assert_int_equal(bind_file(p, &c, &root), 0);
    testfs_regain();
    assert_string_equal(c.url, "ldap://first");
    assert_string_equal(c.password, "hunter2");
    assert_int_equal(ovp_cfg_warning_count(root), 1);
    assert_has(ovp_cfg_warning(root, 0), "config file ");
    assert_has(ovp_cfg_warning(root, 0), p);
    assert_has(ovp_cfg_warning(root, 0), "Permission denied");
    assert_has(ovp_cfg_warning(root, 0), "although the file has changed since");
    assert_has(ovp_cfg_warning(root, 0), "only when OpenVPN is restarted");
    assert_lacks(ovp_cfg_warning(root, 0), "hunter");
    assert_null(ovp_cfg_warning(root, 1));
    /* any node of the tree reaches them */
    ovp_cfg_free(root);
    ovp_cfg_release(keys, NKEYS, &c);
}

static void
parse_file__other_errors_still_fail_after_drop(void **state)
{
    const char *p = write_text("err.conf", "URL a\n");
    struct ovp_cfg_node *root = NULL;

    ovp_file_cache_clear();
    assert_int_equal(ovp_cfg_parse_file(p, &root, err, sizeof(err)), 0);
    ovp_cfg_free(root);

    /* Readable with a parse error: the error, not the old text. */
    testfs_write("err.conf", "URL a\n<S>\n", 10, 0644);
    testfs_drop();
    parse_file_fails(p, "err.conf:2: <S> is never closed");
    testfs_regain();

    /* Readable and fine again: read again, no warning; then kept from that read. */
    testfs_write("err.conf", "URL b\n", 6, 0644);
    testfs_drop();
    assert_int_equal(ovp_cfg_parse_file(p, &root, err, sizeof(err)), 0);
    assert_int_equal(ovp_cfg_warning_count(root), 0);
    assert_entry(root, 0, "URL", "b", 1);
    ovp_cfg_free(root);
    testfs_regain();
    assert_int_equal(chmod(p, 0600), 0);
    testfs_drop();
    assert_int_equal(ovp_cfg_parse_file(p, &root, err, sizeof(err)), 0);
    assert_int_equal(ovp_cfg_warning_count(root), 1);
    assert_entry(root, 0, "URL", "b", 1);
    ovp_cfg_free(root);

    /* Missing: an error. Never parsed here: an error. */
    testfs_regain();
    assert_int_equal(unlink(p), 0);
    write_text("never.conf", "URL a\n");
    testfs_drop();
    parse_file_fails(p, "cannot open: No such file");
    parse_file_fails(testfs_path("never.conf"), "cannot open: Permission denied");
    testfs_regain();
}

static void
parse_file__kept_text_keeps_its_mode_for_the_secret_rule(void **state)
{
    const char *text = "URL a\nPassword hunter2\n";
    const char *p = testfs_write("mode.conf", text, strlen(text), 0604);
    struct ovp_cfg_node *root = NULL;
    struct conf c;

    ovp_file_cache_clear();
    /* parses (the rule is bind's), so its text is kept ... */
    assert_int_equal(bind_file(p, &c, NULL), -1);
    assert_has(err, "others may read it");
    ovp_cfg_release(keys, NKEYS, &c);
    /* ... but unreadable later it is judged by its mode when it was read */
    assert_int_equal(chmod(p, 0600), 0);
    testfs_drop();
    assert_int_equal(bind_file(p, &c, &root), -1);
    testfs_regain();
    assert_has(err, "others may read it (mode 0604");
    assert_lacks(err, "hunter2");
    ovp_cfg_release(keys, NKEYS, &c);
    ovp_cfg_free(root);
}

static void
bind__secret_file_unreadable_after_drop_is_kept_with_a_warning(void **state)
{
    const char *s = testfs_write("drop.secret", "Kept-Secret\n", 12, 0600);
    char text[512];
    const char *p;
    struct ovp_cfg_node *root = NULL;
    struct conf c;

    snprintf(text, sizeof(text), "URL a\nPasswordFile %s\n", s);
    p = testfs_write("drop.conf", text, strlen(text), 0644);
    ovp_file_cache_clear();
    assert_int_equal(bind_file(p, &c, &root), 0);
    assert_int_equal(ovp_cfg_warning_count(root), 0);
    ovp_cfg_free(root);
    ovp_cfg_release(keys, NKEYS, &c);

    testfs_drop();
    assert_int_equal(bind_file(p, &c, &root), 0);
    testfs_regain();
    assert_string_equal(c.password, "Kept-Secret");
    assert_int_equal(ovp_cfg_warning_count(root), 1);
    assert_has(ovp_cfg_warning(root, 0), "secret file ");
    assert_has(ovp_cfg_warning(root, 0), s);
    assert_lacks(ovp_cfg_warning(root, 0), "Kept-Secret");
    ovp_cfg_free(root);
    ovp_cfg_release(keys, NKEYS, &c);
    assert_int_equal(ovp_cfg_warning_count(NULL), 0);
    assert_null(ovp_cfg_warning(NULL, 0));
}

static void
strv_addf__appends_formatted_null_terminated(void **state)
{
    struct ovp_strv v = {0};
    (void)state;
    assert_int_equal(ovp_strv_addf(&v, "a %d", 1), 0);
    assert_int_equal(ovp_strv_addf(&v, "%s", "b"), 0);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.v[0], "a 1");
    assert_string_equal(v.v[1], "b");
    assert_null(v.v[2]);
    ovp_strv_clear(&v);
    assert_int_equal(v.n, 0);
    assert_null(v.v);
    ovp_strv_clear(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse__key_value_lines),
        cmocka_unit_test(parse__value_is_rest_of_line_trimmed),
        cmocka_unit_test(parse__quoted_value_keeps_hash_blanks_and_escapes),
        cmocka_unit_test(parse__comments_and_blank_lines_are_ignored),
        cmocka_unit_test(parse__unquoted_inner_quotes_are_kept),
        cmocka_unit_test(parse__key_without_value_is_error),
        cmocka_unit_test(parse__unterminated_quote_is_error),
        cmocka_unit_test(parse__unknown_escape_is_error),
        cmocka_unit_test(parse__text_after_closing_quote_is_error),
        cmocka_unit_test(parse__invalid_key_is_error),
        cmocka_unit_test(parse__sections_build_a_tree),
        cmocka_unit_test(parse__sections_repeat_and_match_case_insensitively),
        cmocka_unit_test(parse__unclosed_section_is_error),
        cmocka_unit_test(parse__mismatched_close_is_error),
        cmocka_unit_test(parse__stray_close_is_error),
        cmocka_unit_test(parse__section_on_same_line_as_values_is_error),
        cmocka_unit_test(parse__section_tag_with_comment_is_accepted),
        cmocka_unit_test(parse__malformed_tag_is_error),
        cmocka_unit_test(parse__nesting_limit),
        cmocka_unit_test(parse__long_line_is_error),
        cmocka_unit_test(parse__line_at_limit_is_accepted),
        cmocka_unit_test(parse__nul_byte_is_error),
        cmocka_unit_test(parse__invalid_utf8_names_line),
        cmocka_unit_test(parse__valid_utf8_is_accepted),
        cmocka_unit_test(parse__crlf_line_endings_are_accepted),
        cmocka_unit_test(parse__no_trailing_newline_is_accepted),
        cmocka_unit_test(parse__byte_order_mark_is_skipped),
        cmocka_unit_test(parse__empty_text_gives_empty_tree),
        cmocka_unit_test(parse__bad_arguments_are_errors),
        cmocka_unit_test(parse__small_or_null_error_buffer_is_safe),
        cmocka_unit_test(parse_file__reads_and_names_the_file),
        cmocka_unit_test(parse_file__missing_path_is_error),
        cmocka_unit_test(parse_file__directory_is_error),
        cmocka_unit_test(parse_file__fifo_is_error),
        cmocka_unit_test(parse_file__unreadable_is_error),
        cmocka_unit_test(parse_file__empty_file_gives_empty_tree),
        cmocka_unit_test(parse_file__openvpn_auth_ldap_sample_gives_the_right_tree),
        cmocka_unit_test(parse_words__stops_at_first_word_without_equals),
        cmocka_unit_test(parse_words__all_consumed),
        cmocka_unit_test(parse_words__bad_words_are_errors),
        cmocka_unit_test(parse_args__single_path_word_reads_file),
        cmocka_unit_test(parse_args__key_value_words),
        cmocka_unit_test(parse_args__no_words_gives_empty_tree),
        cmocka_unit_test(parse_args__path_mixed_with_words_is_error),
        cmocka_unit_test(bind__defaults_apply),
        cmocka_unit_test(bind__values_by_type),
        cmocka_unit_test(bind__marks_entries_used),
        cmocka_unit_test(bind__unknown_key_suggests_close_match),
        cmocka_unit_test(bind__unknown_key_without_close_match_lists_valid_keys),
        cmocka_unit_test(bind__unknown_key_in_section_names_section),
        cmocka_unit_test(bind__duplicate_key_is_error),
        cmocka_unit_test(bind__multi_key_may_repeat),
        cmocka_unit_test(bind__required_missing_names_key_and_section),
        cmocka_unit_test(bind__required_secret_accepts_file_variant),
        cmocka_unit_test(bind__unknown_section_is_error),
        cmocka_unit_test(bind__int_values_and_range),
        cmocka_unit_test(bind__int_overflow_is_error),
        cmocka_unit_test(bind__empty_value_is_error_except_for_strings),
        cmocka_unit_test(bind__bool_spellings),
        cmocka_unit_test(bind__enum_lists_choices),
        cmocka_unit_test(bind__duration_suffixes),
        cmocka_unit_test(bind__duration_unbounded_overflow_is_error),
        cmocka_unit_test(bind__duration_us_units_and_range_error_with_help),
        cmocka_unit_test(bind__size_suffixes),
        cmocka_unit_test(bind__size_range_is_shown_in_units),
        cmocka_unit_test(bind__secret_value_is_masked_in_error),
        cmocka_unit_test(bind__secret_never_in_error_message),
        cmocka_unit_test(bind__secret_file_is_read),
        cmocka_unit_test(bind__secret_file_readable_by_others_is_refused),
        cmocka_unit_test(bind__secret_file_must_be_regular_and_present),
        cmocka_unit_test(bind__secret_file_bad_content_is_masked),
        cmocka_unit_test(bind__secret_and_secret_file_together_is_error),
        cmocka_unit_test(bind__file_key_only_exists_for_secrets),
        cmocka_unit_test(bind__file_readable_path_is_checked),
        cmocka_unit_test(bind__file_readable_default_is_checked),
        cmocka_unit_test(bind__inline_words_bind_like_a_file),
        cmocka_unit_test(bind__null_node_applies_defaults_and_checks_required),
        cmocka_unit_test(bind__bad_table_is_internal_error),
        cmocka_unit_test(release__frees_everything_and_is_null_safe),
        cmocka_unit_test(bind__secret_on_plugin_line_is_refused),
        cmocka_unit_test(bind__secret_file_on_plugin_line_is_accepted),
        cmocka_unit_test(bind__inline_ok_secret_may_be_on_plugin_line),
        cmocka_unit_test(bind__config_file_with_secret_must_be_private),
        cmocka_unit_test(bind__config_file_without_inline_secret_may_be_public),
        cmocka_unit_test_teardown(parse_file__unreadable_after_drop_keeps_the_earlier_text,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(parse_file__other_errors_still_fail_after_drop,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(parse_file__kept_text_keeps_its_mode_for_the_secret_rule,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(
            bind__secret_file_unreadable_after_drop_is_kept_with_a_warning,
            testfs_regain_teardown),
        cmocka_unit_test(strv_addf__appends_formatted_null_terminated),
    };

    return cmocka_run_group_tests(tests, testfs_setup, testfs_teardown);
}

/* test_secret.c: cmocka tests for common/secret.c (wipe, constant-time compare, secret files). */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "secret.h"
#include "testfs.h"

static char err[1024];

static char *
read_ok(const char *path)
{
    char *s;

    err[0] = '\0';
    s = ovp_secret_file_read(path, err, sizeof(err));
    if (s == NULL)
    {
        print_error("unexpected error: %s\n", err);
    }
    assert_non_null(s);
    return s;
}

static void
read_fails(const char *path, const char *needle)
{
    char *s;

    err[0] = '\0';
    s = ovp_secret_file_read(path, err, sizeof(err));
    assert_null(s);
    assert_has(err, needle);
}

/* ------------------------------------------------------------------ wipe */

static void
wipe__zeroes_every_byte(void **state)
{
    unsigned char buf[64];
    size_t i;

    memset(buf, 0xa5, sizeof(buf));
    ovp_wipe(buf + 8, 48);
    for (i = 0; i < sizeof(buf); i++)
    {
        assert_int_equal(buf[i], i < 8 || i >= 56 ? 0xa5 : 0);
    }
}

static void
wipe__null_and_zero_length_are_safe(void **state)
{
    char c = 'x';

    ovp_wipe(NULL, 10);
    ovp_wipe(&c, 0);
    assert_int_equal(c, 'x');
    ovp_free_secret(NULL);
}

static void
strdup_secret__copies_and_frees(void **state)
{
    char *s = ovp_strdup_secret("hunter2");

    assert_non_null(s);
    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);
    assert_null(ovp_strdup_secret(NULL));
    s = ovp_strdup_secret("");
    assert_non_null(s);
    assert_string_equal(s, "");
    ovp_free_secret(s);
}

/* ------------------------------------------------------------- compare */

static void
ct_equal__equal_and_unequal(void **state)
{
    const char a[] = "0123456789abcdef";
    char b[sizeof(a)];

    memcpy(b, a, sizeof(a));
    assert_int_equal(ovp_ct_equal(a, b, sizeof(a)), 1);
    b[0] ^= 1;
    assert_int_equal(ovp_ct_equal(a, b, sizeof(a)), 0);
    b[0] ^= 1;
    b[sizeof(a) - 2] ^= 0x80;
    assert_int_equal(ovp_ct_equal(a, b, sizeof(a)), 0);
    assert_int_equal(ovp_ct_equal(a, b, sizeof(a) - 2), 1);
    assert_int_equal(ovp_ct_equal(a, b, 0), 1);
    assert_int_equal(ovp_ct_equal(NULL, b, 4), 0);
    assert_int_equal(ovp_ct_equal(a, NULL, 4), 0);
}

static void
ct_streq__compares_whole_strings(void **state)
{
    assert_int_equal(ovp_ct_streq("secret", "secret"), 1);
    assert_int_equal(ovp_ct_streq("", ""), 1);
    assert_int_equal(ovp_ct_streq("secret", "secreT"), 0);
    assert_int_equal(ovp_ct_streq("Secret", "secret"), 0);
    assert_int_equal(ovp_ct_streq("secret", "secret2"), 0);
    assert_int_equal(ovp_ct_streq("secret2", "secret"), 0);
    assert_int_equal(ovp_ct_streq("", "x"), 0);
    assert_int_equal(ovp_ct_streq("x", ""), 0);
}

static void
ct_streq__null_equals_nothing(void **state)
{
    assert_int_equal(ovp_ct_streq(NULL, NULL), 0);
    assert_int_equal(ovp_ct_streq(NULL, ""), 0);
    assert_int_equal(ovp_ct_streq("", NULL), 0);
}

static double
now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of several runs of comparing A and B, in seconds. */
static double
time_compare(const char *a, const char *b, size_t n, int strings)
{
    double best = 1e9;
    int run;

    for (run = 0; run < 5; run++)
    {
        double t0 = now_sec();
        int r = strings ? ovp_ct_streq(a, b) : ovp_ct_equal(a, b, n);
        double t = now_sec() - t0;

        assert_int_equal(r, 0);
        if (t < best)
        {
            best = t;
        }
    }
    return best;
}

/*
 * An early exit would make a first-byte difference thousands of times faster than a
 * last-byte one on 4 MiB; a constant-time loop takes about the same time for both.
 * The bound is loose (10x) so that a busy machine cannot make it flaky.
 */
static void
ct_compare__time_does_not_depend_on_where_bytes_differ(void **state)
{
    const size_t n = 4u << 20;
    char *a = malloc(n + 1);
    char *first = malloc(n + 1);
    char *last = malloc(n + 1);
    double t_first, t_last;

    assert_non_null(a);
    assert_non_null(first);
    assert_non_null(last);
    memset(a, 'a', n);
    a[n] = '\0';
    memcpy(first, a, n + 1);
    memcpy(last, a, n + 1);
    first[0] = 'b';
    last[n - 1] = 'b';

    t_first = time_compare(a, first, n, 0);
    t_last = time_compare(a, last, n, 0);
    assert_true(t_first * 10 > t_last);
    assert_true(t_last * 10 > t_first);

    t_first = time_compare(a, first, n, 1);
    t_last = time_compare(a, last, n, 1);
    assert_true(t_first * 10 > t_last);
    assert_true(t_last * 10 > t_first);

    free(a);
    free(first);
    free(last);
}

/* --------------------------------------------------------- secret files */

static void
file_read__returns_content_without_trailing_newline(void **state)
{
    char *s;

    s = read_ok(testfs_write("lf", "hunter2\n", 8, 0600));
    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);

    s = read_ok(testfs_write("crlf", "hunter2\r\n", 9, 0600));
    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);

    s = read_ok(testfs_write("none", "hunter2", 7, 0400));
    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);
}

static void
file_read__removes_only_one_newline(void **state)
{
    char *s = read_ok(testfs_write("two", "pass word\n\n", 11, 0600));

    assert_string_equal(s, "pass word\n");
    ovp_free_secret(s);
    s = read_ok(testfs_write("lead", "\nx", 2, 0600));
    assert_string_equal(s, "\nx");
    ovp_free_secret(s);
}

static void
file_read__readable_by_others_is_refused(void **state)
{
    const char *p = testfs_write("o", "hunter2\n", 8, 0604);
    char owner[64];

    read_fails(p, "others may read it");
    assert_has(err, p);
    assert_has(err, "mode 0604");
    snprintf(owner, sizeof(owner), "owner uid %lu", (unsigned long)geteuid());
    assert_has(err, owner);
    /* what would be accepted */
    assert_has(err, "chmod 0600, or chmod 0640 with the group OpenVPN runs as");
    assert_lacks(err, "hunter2");
    read_fails(testfs_write("o2", "hunter2\n", 8, 0644), "others may read it");
    read_fails(testfs_write("o3", "hunter2\n", 8, 0404), "others may read it");
}

/* OpenVPN's runtime group reads the file at a reload after the privilege drop. */
static void
file_read__group_readable_is_accepted(void **state)
{
    char *s = read_ok(testfs_write("gr", "hunter2\n", 8, 0640));

    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);
    s = read_ok(testfs_write("gr2", "hunter2\n", 8, 0440));
    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);
}

static void
file_read__writable_by_group_or_others_is_refused(void **state)
{
    read_fails(testfs_write("gw", "hunter2\n", 8, 0620), "group or others may write it");
    assert_has(err, "mode 0620");
    assert_lacks(err, "hunter2");
    read_fails(testfs_write("grw", "hunter2\n", 8, 0660), "group or others may write it");
    read_fails(testfs_write("ow", "hunter2\n", 8, 0602), "group or others may write it");
    read_fails(testfs_write("all", "hunter2\n", 8, 0666), "mode 0666");
}

/* Run as root: a file owned by another user (who could rewrite it) is refused. */
static void
file_read__owner_must_be_root_or_the_effective_user(void **state)
{
    const char *p = testfs_write("other-owner", "hunter2\n", 8, 0600);
    char *s;

    if (geteuid() != 0)
    {
        skip();
    }
    assert_int_equal(chown(p, 1234, 0), 0);
    read_fails(p, "its owner is neither root nor the user this process runs as");
    assert_has(err, "owner uid 1234");
    assert_has(err, "accepted: owned by root");
    assert_lacks(err, "hunter2");
    /* A file of the effective user is accepted (here root's own). */
    assert_int_equal(chown(p, 0, 1234), 0);
    s = read_ok(p);
    assert_string_equal(s, "hunter2");
    ovp_free_secret(s);
}

static void
perm_check__rules_and_message(void **state)
{
    char why[512];
    uid_t me = geteuid();

    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0600, 0, why, sizeof(why)), 0);
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0640, 0, why, sizeof(why)), 0);
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0400, me, why, sizeof(why)), 0);
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0700, me, why, sizeof(why)), 0);
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0641, 0, why, sizeof(why)), 0);

    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0644, 0, why, sizeof(why)), -1);
    assert_has(why, "others may read it (mode 0644, owner uid 0)");
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0622, 0, why, sizeof(why)), -1);
    assert_has(why, "group or others may write it (mode 0622");
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0600, me + 1, why, sizeof(why)), -1);
    assert_has(why, "neither root nor the user this process runs as");
    /* NULL and tiny buffers are safe */
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0644, 0, NULL, 0), -1);
    assert_int_equal(ovp_secret_perm_check(S_IFREG | 0644, 0, why, 4), -1);
    assert_int_equal(strlen(why), 3);
}

static void
file_read__symlink_to_private_file_is_accepted(void **state)
{
    const char *link;
    const char *target = testfs_write("target", "linked\n", 7, 0600);
    char *s;

    link = testfs_path("link");
    unlink(link);
    assert_int_equal(symlink(target, link), 0);
    s = read_ok(link);
    assert_string_equal(s, "linked");
    ovp_free_secret(s);
}

static void
file_read__symlink_to_public_file_is_refused(void **state)
{
    const char *link;
    const char *target = testfs_write("pubtarget", "linked\n", 7, 0644);

    link = testfs_path("publink");
    unlink(link);
    assert_int_equal(symlink(target, link), 0);
    read_fails(link, "others may read it");
}

static void
file_read__directory_is_refused(void **state)
{
    const char *dir;

    dir = testfs_path("adir");
    assert_int_equal(mkdir(dir, 0700), 0);
    read_fails(dir, "not a regular file");
    assert_int_equal(rmdir(dir), 0);
}

static void
file_read__fifo_is_refused_without_blocking(void **state)
{
    const char *fifo;

    fifo = testfs_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    read_fails(fifo, "not a regular file");
    assert_int_equal(unlink(fifo), 0);
}

static void
file_read__missing_file_is_error(void **state)
{
    const char *path;

    path = testfs_path("does-not-exist");
    read_fails(path, "No such file");
    assert_has(err, path);
    read_fails("", "no path");
    assert_null(ovp_secret_file_read(NULL, err, sizeof(err)));
    /* A NULL error buffer is allowed. */
    assert_null(ovp_secret_file_read(path, NULL, 0));
}

static void
file_read__empty_file_is_refused(void **state)
{
    read_fails(testfs_write("empty", "", 0, 0600), "empty");
    read_fails(testfs_write("nl", "\n", 1, 0600), "empty");
    read_fails(testfs_write("crlf-only", "\r\n", 2, 0600), "empty");
}

static void
file_read__nul_byte_is_refused(void **state)
{
    read_fails(testfs_write("nul", "hun\0ter2\n", 9, 0600), "NUL");
    assert_lacks(err, "ter2");
}

static void
file_read__length_limit(void **state)
{
    char *buf = malloc(OVP_SECRET_FILE_MAX + 3);
    char *s;

    assert_non_null(buf);
    memset(buf, 'k', OVP_SECRET_FILE_MAX + 2);
    buf[OVP_SECRET_FILE_MAX] = '\r';
    buf[OVP_SECRET_FILE_MAX + 1] = '\n';

    /* Exactly the maximum, with or without its line ending, is accepted. */
    s = read_ok(testfs_write("max", buf, OVP_SECRET_FILE_MAX, 0600));
    assert_int_equal(strlen(s), OVP_SECRET_FILE_MAX);
    ovp_free_secret(s);
    s = read_ok(testfs_write("maxcrlf", buf, OVP_SECRET_FILE_MAX + 2, 0600));
    assert_int_equal(strlen(s), OVP_SECRET_FILE_MAX);
    ovp_free_secret(s);

    memset(buf, 'k', OVP_SECRET_FILE_MAX + 3);
    read_fails(testfs_write("over", buf, OVP_SECRET_FILE_MAX + 1, 0600), "longer than");
    read_fails(testfs_write("over3", buf, OVP_SECRET_FILE_MAX + 3, 0600), "longer than");
    free(buf);
}

static void
file_read__error_never_contains_content(void **state)
{
    /* Every refusal path, with a recognisable secret in the file. */
    read_fails(testfs_write("leak1", "S3cretValue\n", 12, 0644), "secret file");
    assert_lacks(err, "S3cretValue");
    read_fails(testfs_write("leak2", "S3cretValue\0x", 13, 0600), "secret file");
    assert_lacks(err, "S3cretValue");
}

/* -------------------------------------------- reload after the privilege drop */

static char warn[1024];

/* ovp_secret_file_load expecting success; WARN holds the warning (if any). */
static char *
load_ok(const char *path)
{
    char *s;

    err[0] = '\0';
    s = ovp_secret_file_load(path, warn, sizeof(warn), err, sizeof(err));
    if (s == NULL)
    {
        print_error("unexpected error: %s\n", err);
    }
    assert_non_null(s);
    return s;
}

static void
load_fails(const char *path, const char *needle)
{
    char *s;

    err[0] = '\0';
    s = ovp_secret_file_load(path, warn, sizeof(warn), err, sizeof(err));
    assert_null(s);
    assert_has(err, needle);
    assert_string_equal(warn, "");
}

/* Rewrites NAME as root: CONTENT, MODE, owner root, group GID. */
static const char *
rewrite(const char *name, const char *content, mode_t mode, gid_t gid)
{
    const char *p = testfs_write(name, content, strlen(content), mode);

    assert_int_equal(chown(p, 0, gid), 0);
    return p;
}

static void
file_load__unreadable_after_drop_keeps_the_earlier_secret(void **state)
{
    const char *p = rewrite("kept.secret", "First-Secret\n", 0600, 0);
    char *s;

    ovp_file_cache_clear();
    s = load_ok(p); /* the first open, as root */
    assert_string_equal(s, "First-Secret");
    assert_string_equal(warn, "");
    ovp_free_secret(s);

    testfs_drop(); /* the reopen at SIGHUP, as nobody */
    s = load_ok(p);
    assert_string_equal(s, "First-Secret");
    assert_has(warn, "secret file ");
    assert_has(warn, p);
    assert_has(warn, "Permission denied");
    assert_has(warn, "kept the version this process read earlier");
    assert_has(warn, "unchanged since");
    assert_has(warn, "only when OpenVPN is restarted");
    assert_lacks(warn, "First-Secret");
    ovp_free_secret(s);
    testfs_regain();

    /* Changed meanwhile: still the old one (unreadable), and the warning says so. */
    rewrite("kept.secret", "Second-Secret\n", 0600, 0);
    testfs_drop();
    s = load_ok(p);
    assert_string_equal(s, "First-Secret");
    assert_has(warn, "although the file has changed since");
    assert_lacks(warn, "Secret\n");
    ovp_free_secret(s);
    testfs_regain();
}

static void
file_load__readable_again_is_read_again_and_kept(void **state)
{
    const char *p = rewrite("again.secret", "One-Secret\n", 0600, 0);
    char *s;

    ovp_file_cache_clear();
    ovp_free_secret(load_ok(p));

    /* Readable by the runtime group now: read as usual, no warning. */
    rewrite("again.secret", "Two-Secret\n", 0640, TESTFS_NOBODY);
    testfs_drop();
    s = load_ok(p);
    assert_string_equal(s, "Two-Secret");
    assert_string_equal(warn, "");
    ovp_free_secret(s);
    testfs_regain();

    /* Private again: what was read last is what is kept. */
    assert_int_equal(chmod(p, 0600), 0);
    testfs_drop();
    s = load_ok(p);
    assert_string_equal(s, "Two-Secret");
    assert_has(warn, "kept");
    ovp_free_secret(s);
    testfs_regain();
}

static void
file_load__other_errors_still_fail_after_drop(void **state)
{
    const char *p = rewrite("gone.secret", "Gone-Secret\n", 0600, 0);
    const char *never = rewrite("never.secret", "Never-Secret\n", 0600, 0);

    ovp_file_cache_clear();
    ovp_free_secret(load_ok(p));
    assert_int_equal(unlink(p), 0);
    testfs_drop();
    /* Missing: an error although it was read before. */
    load_fails(p, "No such file");
    /* Never read by this process: nothing to keep. */
    load_fails(never, "Permission denied");
    assert_lacks(err, "Never-Secret");
    testfs_regain();

    /* Readable but now refused (others may read it): refused, not kept. */
    p = rewrite("gone.secret", "Gone-Secret\n", 0604, 0);
    testfs_drop();
    load_fails(p, "others may read it");
    testfs_regain();
}

static void
file_load__only_files_that_passed_the_checks_are_kept(void **state)
{
    const char *p = rewrite("bad.secret", "Bad-Secret\n", 0644, 0);

    ovp_file_cache_clear();
    read_fails(p, "others may read it");
    p = rewrite("bad.secret", "", 0600, 0);
    read_fails(p, "empty");
    /* Unreadable after the drop: nothing was kept to fall back on. */
    testfs_drop();
    load_fails(p, "Permission denied");
    testfs_regain();
}

static void
file_read__never_falls_back(void **state)
{
    const char *p = rewrite("plain.secret", "Plain-Secret\n", 0600, 0);

    ovp_file_cache_clear();
    ovp_free_secret(read_ok(p));
    testfs_drop();
    /* Without a warning buffer nobody could tell the user: fail as always. */
    read_fails(p, "Permission denied");
    /* ovp_secret_file_read did keep it for a caller that can warn. */
    ovp_free_secret(load_ok(p));
    assert_has(warn, "kept");
    testfs_regain();
    assert_null(ovp_secret_file_load(p, NULL, 0, err, sizeof(err)));
}

static void
file_cache__fallback_rules(void **state)
{
    struct stat st, got;
    char *data = NULL;
    size_t len = 0;
    char w[256];

    memset(&st, 0, sizeof(st));
    st.st_mode = S_IFREG | 0600;
    ovp_file_cache_clear();
    assert_int_equal(ovp_file_cache_put(OVP_FILE_CONFIG, "/x/a.conf", "Key v\n", 6, &st), 0);
    /* As root: never (root's EACCES is not a privilege drop). */
    if (geteuid() == 0)
    {
        assert_int_equal(ovp_file_cache_fallback(OVP_FILE_CONFIG, "/x/a.conf", EACCES, "c",
                                                 &data, &len, &got, w, sizeof(w)),
                         -1);
    }
    testfs_drop();
    assert_int_equal(ovp_file_cache_fallback(OVP_FILE_CONFIG, "/x/a.conf", ENOENT, "c", &data,
                                             &len, &got, w, sizeof(w)),
                     -1);
    assert_int_equal(ovp_file_cache_fallback(OVP_FILE_CONFIG, "/x/a.conf", EIO, "c", &data,
                                             &len, &got, w, sizeof(w)),
                     -1);
    /* Another kind, another path: never served. */
    assert_int_equal(ovp_file_cache_fallback(OVP_FILE_SECRET, "/x/a.conf", EACCES, "c", &data,
                                             &len, &got, w, sizeof(w)),
                     -1);
    assert_int_equal(ovp_file_cache_fallback(OVP_FILE_CONFIG, "/x/a.conf/", EACCES, "c", &data,
                                             &len, &got, w, sizeof(w)),
                     -1);
    assert_null(data);
    assert_int_equal(ovp_file_cache_fallback(OVP_FILE_CONFIG, "/x/a.conf", EPERM, "config file",
                                             &data, &len, &got, w, sizeof(w)),
                     0);
    testfs_regain();
    assert_int_equal(len, 6);
    assert_string_equal(data, "Key v\n");
    assert_int_equal(got.st_mode, st.st_mode);
    assert_has(w, "config file /x/a.conf cannot be read any more");
    free(data);
    ovp_file_cache_clear();
}

static void
file_cache__is_bounded(void **state)
{
    struct stat st;
    char path[64];
    char *big;
    int i;

    memset(&st, 0, sizeof(st));
    ovp_file_cache_clear();
    for (i = 0; i < OVP_FILE_CACHE_FILES; i++)
    {
        snprintf(path, sizeof(path), "/c/%d", i);
        assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, path, "x", 1, &st), 0);
    }
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, "/c/one-more", "x", 1, &st), -1);
    /* Replacing a kept path is always possible. */
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, "/c/0", "yy", 2, &st), 0);

    /* Too big: not kept, and the older content of that path is dropped too. */
    big = calloc(1, OVP_FILE_CACHE_BYTES + 1);
    assert_non_null(big);
    assert_int_equal(
        ovp_file_cache_put(OVP_FILE_SECRET, "/c/1", big, OVP_FILE_CACHE_BYTES + 1, &st), -1);
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, "/c/new", "x", 1, &st), 0);
    free(big);
    ovp_file_cache_clear();
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, "/c/after-clear", "x", 1, &st), 0);
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, NULL, "x", 1, &st), -1);
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, "/c/n", NULL, 1, &st), -1);
    assert_int_equal(ovp_file_cache_put(OVP_FILE_SECRET, "/c/n", "x", 1, NULL), -1);
    ovp_file_cache_clear();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wipe__zeroes_every_byte),
        cmocka_unit_test(wipe__null_and_zero_length_are_safe),
        cmocka_unit_test(strdup_secret__copies_and_frees),
        cmocka_unit_test(ct_equal__equal_and_unequal),
        cmocka_unit_test(ct_streq__compares_whole_strings),
        cmocka_unit_test(ct_streq__null_equals_nothing),
        cmocka_unit_test(ct_compare__time_does_not_depend_on_where_bytes_differ),
        cmocka_unit_test(file_read__returns_content_without_trailing_newline),
        cmocka_unit_test(file_read__removes_only_one_newline),
        cmocka_unit_test(file_read__readable_by_others_is_refused),
        cmocka_unit_test(file_read__group_readable_is_accepted),
        cmocka_unit_test(file_read__writable_by_group_or_others_is_refused),
        cmocka_unit_test(file_read__owner_must_be_root_or_the_effective_user),
        cmocka_unit_test(perm_check__rules_and_message),
        cmocka_unit_test(file_read__symlink_to_private_file_is_accepted),
        cmocka_unit_test(file_read__symlink_to_public_file_is_refused),
        cmocka_unit_test(file_read__directory_is_refused),
        cmocka_unit_test(file_read__fifo_is_refused_without_blocking),
        cmocka_unit_test(file_read__missing_file_is_error),
        cmocka_unit_test(file_read__empty_file_is_refused),
        cmocka_unit_test(file_read__nul_byte_is_refused),
        cmocka_unit_test(file_read__length_limit),
        cmocka_unit_test(file_read__error_never_contains_content),
        cmocka_unit_test_teardown(file_load__unreadable_after_drop_keeps_the_earlier_secret,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(file_load__readable_again_is_read_again_and_kept,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(file_load__other_errors_still_fail_after_drop,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(file_load__only_files_that_passed_the_checks_are_kept,
                                  testfs_regain_teardown),
        cmocka_unit_test_teardown(file_read__never_falls_back, testfs_regain_teardown),
        cmocka_unit_test_teardown(file_cache__fallback_rules, testfs_regain_teardown),
        cmocka_unit_test(file_cache__is_bounded),
    };

    return cmocka_run_group_tests(tests, testfs_setup, testfs_teardown);
}

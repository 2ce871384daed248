/* testfs.c: a per-driver scratch directory for cmocka tests that need real files. */
#include "ovpbuild.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "testfs.h"

char testfs_dir[256];

int
testfs_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(testfs_dir, sizeof(testfs_dir), "%s/ovp-test.XXXXXX", t ? t : "/tmp");
    return mkdtemp(testfs_dir) != NULL ? 0 : -1;
}

int
testfs_teardown(void **state)
{
    (void)state;
    return testfs_rm_tree(testfs_dir);
}

int
testfs_rm_tree(const char *path)
{
    struct stat st;
    struct dirent *de;
    int rc = 0;

    if (lstat(path, &st) != 0)
    {
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
    {
        return unlink(path);
    }
    DIR *d = opendir(path);
    if (d == NULL)
    {
        return -1;
    }
    while ((de = readdir(d)) != NULL)
    {
        char sub[PATH_MAX];

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        if (testfs_rm_tree(sub) != 0)
        {
            rc = -1;
        }
    }
    closedir(d);
    return rmdir(path) != 0 ? -1 : rc;
}

const char *
testfs_path(const char *name)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *path = paths[next++ % 8];

    snprintf(path, PATH_MAX, "%s/%s", testfs_dir, name);
    return path;
}

const char *
testfs_write(const char *name, const void *data, size_t len, mode_t mode)
{
    const char *path = testfs_path(name);

    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/* Root's supplementary groups, saved by testfs_drop for testfs_regain. */
static gid_t saved_groups[64];
static int n_saved_groups = -1;

void
testfs_drop(void)
{
    const gid_t nogroup = TESTFS_NOBODY;

    if (getuid() != 0)
    {
        skip();
    }
    assert_int_equal(geteuid(), 0);
    n_saved_groups = getgroups(64, saved_groups);
    assert_true(n_saved_groups >= 0);
    assert_int_equal(chmod(testfs_dir, 0711), 0);
    assert_int_equal(setgroups(1, &nogroup), 0);
    assert_int_equal(setegid(TESTFS_NOBODY), 0);
    assert_int_equal(seteuid(TESTFS_NOBODY), 0);
}

void
testfs_regain(void)
{
    if (getuid() != 0)
    {
        return;
    }
    assert_int_equal(seteuid(0), 0);
    assert_int_equal(setegid(0), 0);
    if (n_saved_groups >= 0)
    {
        assert_int_equal(setgroups((size_t)n_saved_groups, saved_groups), 0);
        n_saved_groups = -1;
    }
    assert_int_equal(chmod(testfs_dir, 0700), 0);
}

int
testfs_regain_teardown(void **state)
{
    (void)state;
    if (getuid() == 0 &&
        (seteuid(0) != 0 || setegid(0) != 0 ||
         (n_saved_groups >= 0 && setgroups((size_t)n_saved_groups, saved_groups) != 0)))
    {
        return -1;
    }
    n_saved_groups = -1;
    return 0;
}

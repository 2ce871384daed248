/* testfs.h: a per-driver scratch directory and string assertions for cmocka tests. */
#ifndef OVP_TESTFS_H
#define OVP_TESTFS_H

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

/* The scratch directory of the running driver (set by testfs_setup). */
extern char testfs_dir[256];

/* cmocka group setup / teardown: make testfs_dir under $TMPDIR, remove it after. */
int testfs_setup(void **state);
int testfs_teardown(void **state);

/* Removes PATH and, for a directory, what it holds. Returns 0 or -1. */
int testfs_rm_tree(const char *path);

/* NAME inside testfs_dir (one of a few rotating static buffers). */
const char *testfs_path(const char *name);

/* Writes LEN bytes of DATA to NAME in testfs_dir with MODE; returns the path. */
const char *testfs_write(const char *name, const void *data, size_t len, mode_t mode);

/*
 * As OpenVPN after `user nobody` / `group nogroup`, for tests of a reopen without
 * root: effective uid and gid TESTFS_NOBODY, no supplementary groups, testfs_dir
 * searchable by others (0711). Only the effective ids change, so testfs_regain (also
 * a cmocka teardown, so that a failing test cannot leave the next one unprivileged)
 * returns to root. testfs_drop skips the test when the driver does not run as root.
 */
#define TESTFS_NOBODY 65534
void testfs_drop(void);
void testfs_regain(void);
int testfs_regain_teardown(void **state);

/* Fails the test unless HAY contains NEEDLE / unless it does not. */
#define assert_has(hay, needle)                                                                \
    do                                                                                         \
    {                                                                                          \
        if (strstr((hay), (needle)) == NULL)                                                   \
        {                                                                                      \
            print_error("\"%s\" does not contain \"%s\"\n", (hay), (needle));                  \
            fail();                                                                            \
        }                                                                                      \
    } while (0)

#define assert_lacks(hay, needle)                                                              \
    do                                                                                         \
    {                                                                                          \
        if (strstr((hay), (needle)) != NULL)                                                   \
        {                                                                                      \
            print_error("\"%s\" contains \"%s\"\n", (hay), (needle));                          \
            fail();                                                                            \
        }                                                                                      \
    } while (0)

#endif

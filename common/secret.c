/* secret.c: wiping, constant-time comparison and permission-checked secret files. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "util.h"

void
ovp_wipe(void *p, size_t n)
{
    /* explicit_bzero: a plain memset before free() may be removed as a dead store. */
    if (p != NULL && n > 0)
    {
        explicit_bzero(p, n);
    }
}

void
ovp_free_secret(char *s)
{
    if (s == NULL)
    {
        return;
    }
    ovp_wipe(s, strlen(s));
    free(s);
}

char *
ovp_strdup_secret(const char *s)
{
    char *copy;
    size_t n;

    if (s == NULL)
    {
        return NULL;
    }
    n = strlen(s);
    copy = malloc(n + 1);
    if (copy == NULL)
    {
        return NULL;
    }
    memcpy(copy, s, n + 1);
    return copy;
}

int
ovp_ct_equal(const void *a, const void *b, size_t n)
{
    /* volatile keeps the compiler from turning the loop into an early-exit memcmp. */
    const volatile unsigned char *pa = a;
    const volatile unsigned char *pb = b;
    unsigned char diff = 0;
    size_t i;

    if (n == 0)
    {
        return 1;
    }
    if (a == NULL || b == NULL)
    {
        return 0;
    }
    for (i = 0; i < n; i++)
    {
        diff |= (unsigned char)(pa[i] ^ pb[i]);
    }
    return diff == 0;
}

int
ovp_ct_streq(const char *a, const char *b)
{
    const volatile unsigned char *pa = (const unsigned char *)a;
    const volatile unsigned char *pb = (const unsigned char *)b;
    size_t la, lb, lim, i;
    unsigned diff;

    if (a == NULL || b == NULL)
    {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    lim = la > lb ? la : lb;
    /* Every position up to the longer length is visited: the branches below depend
     * only on the lengths, never on the bytes compared. */
    diff = (unsigned)(la != lb);
    for (i = 0; i < lim; i++)
    {
        unsigned char ca = i < la ? pa[i] : 0;
        unsigned char cb = i < lb ? pb[i] : 0;
        diff |= (unsigned)(ca ^ cb);
    }
    return diff == 0;
}

char *
ovp_secret_file_read(const char *path, char *err, size_t errlen)
{
    /* Room for the longest secret, its CRLF, and one byte that proves "too long". */
    char buf[OVP_SECRET_FILE_MAX + 3];
    char *result = NULL;
    struct stat st;
    size_t len = 0;
    int fd = -1;

    if (path == NULL || path[0] == '\0')
    {
        ovp_errf(err, errlen, "secret file: no path given");
        goto cleanup;
    }
    /*
     * Why open first and check with fstat: the checks then apply to the very file we
     * read, with no window for a swap between a stat() and the open(). Symlinks are
     * followed on purpose (a link to a protected file is a normal setup); what counts
     * is the file reached. O_NONBLOCK keeps a FIFO planted at PATH from hanging
     * open(); it is refused as not a regular file right after.
     */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
    {
        ovp_errf(err, errlen, "secret file %s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0)
    {
        ovp_errf(err, errlen, "secret file %s: cannot stat: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode))
    {
        ovp_errf(err, errlen, "secret file %s: not a regular file", path);
        goto cleanup;
    }
    /* Why refuse instead of warn: a secret others can read is already disclosed, and
     * one others can write lets them choose the credential. */
    if ((st.st_mode & 066) != 0)
    {
        ovp_errf(err, errlen,
                 "secret file %s: group or others may read or write it (mode %04o); "
                 "make it private with chmod 600",
                 path, (unsigned)(st.st_mode & 07777));
        goto cleanup;
    }
    while (len < sizeof(buf))
    {
        ssize_t got = read(fd, buf + len, sizeof(buf) - len);
        if (got < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            ovp_errf(err, errlen, "secret file %s: cannot read: %s", path, strerror(errno));
            goto cleanup;
        }
        if (got == 0)
        {
            break;
        }
        len += (size_t)got;
    }
    if (memchr(buf, '\0', len) != NULL)
    {
        ovp_errf(err, errlen, "secret file %s: contains a NUL byte", path);
        goto cleanup;
    }
    if (len > 0 && buf[len - 1] == '\n')
    {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
        {
            len--;
        }
    }
    if (len > OVP_SECRET_FILE_MAX)
    {
        ovp_errf(err, errlen, "secret file %s: longer than %d bytes", path,
                 OVP_SECRET_FILE_MAX);
        goto cleanup;
    }
    if (len == 0)
    {
        ovp_errf(err, errlen, "secret file %s: empty", path);
        goto cleanup;
    }
    result = malloc(len + 1);
    if (result == NULL)
    {
        ovp_errf(err, errlen, "secret file %s: out of memory", path);
        goto cleanup;
    }
    memcpy(result, buf, len);
    result[len] = '\0';

cleanup:
    ovp_wipe(buf, sizeof(buf));
    if (fd >= 0)
    {
        close(fd);
    }
    return result;
}

/* authfiles.c: the temporary files of deferred auth and client-connect, as OpenVPN makes them. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authfiles.h"
#include "refcore.h"

void
random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0)
    {
        ssize_t r = getrandom(p, n, 0);

        if (r < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            core_fatal("getrandom failed: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
    }
}

char *
tmpfile_create(const char *dir, const char *prefix)
{
    for (int attempt = 1; attempt <= 6; attempt++)
    {
        uint32_t r[2];
        char *path;
        int fd;

        random_bytes(r, sizeof(r));
        path = xasprintf("%s/openvpn_%s_%08lx%08lx.tmp", dir, prefix, (unsigned long)r[0],
                         (unsigned long)r[1]);
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0)
        {
            close(fd);
            return path;
        }
        if (errno != EEXIST)
        {
            core_msg(1, "Could not create temporary file '%s': %s (errno=%d)", path,
                     strerror(errno), errno);
            free(path);
            return NULL;
        }
        free(path);
    }
    core_msg(1, "Failed to create temporary file after 6 attempts");
    return NULL;
}

void
tmpfile_remove(char **path)
{
    if (*path)
    {
        unlink(*path);
        free(*path);
        *path = NULL;
    }
}

int
file_first_byte_verdict(const char *path)
{
    char c = 0;
    struct stat sb;
    int fd;
    ssize_t n;

    /* an empty file is still pending: one stat instead of open, read and close */
    if (stat(path, &sb) < 0 || sb.st_size == 0)
    {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
        return -1;
    }
    n = read(fd, &c, 1);
    close(fd);
    if (n == 1 && c == '1')
    {
        return 1;
    }
    if (n == 1 && c == '0')
    {
        return 0;
    }
    return -1;
}

char *
file_read_all(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    size_t n = 0;

    if (fd < 0)
    {
        return NULL;
    }
    buf = xmalloc(max + 1);
    while (n < max)
    {
        ssize_t r = read(fd, buf + n, max - n);

        if (r < 0 && errno == EINTR)
        {
            continue;
        }
        if (r <= 0)
        {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len)
    {
        *len = n;
    }
    return buf;
}

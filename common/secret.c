/* secret.c: wiping, constant-time comparison and permission-checked secret files. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

int
ovp_secret_perm_check(mode_t mode, uid_t uid, char *why, size_t whylen)
{
    unsigned long euid = (unsigned long)geteuid();
    const char *problem;
    char owners[96];

    /*
     * Why each rule: a secret others can read is already disclosed; one that group or
     * others can write lets them choose the credential; one owned by another user can
     * be rewritten (or chmod'ed) by that user. Group read stays allowed: that is how
     * OpenVPN's runtime group (nogroup) reads the file at a reload after the drop.
     */
    if ((mode & S_IROTH) != 0)
    {
        problem = "others may read it";
    }
    else if ((mode & (S_IWGRP | S_IWOTH)) != 0)
    {
        problem = "group or others may write it";
    }
    else if (uid != 0 && (unsigned long)uid != euid)
    {
        problem = "its owner is neither root nor the user this process runs as";
    }
    else
    {
        return 0;
    }
    if (euid == 0)
    {
        snprintf(owners, sizeof(owners), "root");
    }
    else
    {
        snprintf(owners, sizeof(owners), "root or uid %lu (this process)", euid);
    }
    ovp_errf(why, whylen,
             "%s (mode %04o, owner uid %lu); accepted: owned by %s, not readable by others, "
             "writable only by its owner: chmod 0600, or chmod 0640 with the group "
             "OpenVPN runs as (e.g. root:nogroup)",
             problem, (unsigned)(mode & 07777), (unsigned long)uid, owners);
    return -1;
}

/* ------------------------------------------------------------ file cache */

struct cache_entry
{
    enum ovp_file_kind kind;
    char *path;
    char *data; /* len bytes and a NUL; wiped before free */
    size_t len;
    struct stat st;
};

/* Why a fixed array: the cache never needs to allocate its index, and stays bounded. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[OVP_FILE_CACHE_FILES];
static size_t cache_n;
static size_t cache_bytes;

static void
entry_free(struct cache_entry *e)
{
    if (e->data != NULL)
    {
        ovp_wipe(e->data, e->len);
        free(e->data);
    }
    free(e->path);
    memset(e, 0, sizeof(*e));
}

/* Index of KIND/PATH or -1. Called with the lock held. */
static long
cache_find(enum ovp_file_kind kind, const char *path)
{
    size_t i;

    for (i = 0; i < cache_n; i++)
    {
        if (cache[i].kind == kind && strcmp(cache[i].path, path) == 0)
        {
            return (long)i;
        }
    }
    return -1;
}

/* Removes entry I. Called with the lock held. */
static void
cache_remove(size_t i)
{
    cache_bytes -= cache[i].len;
    entry_free(&cache[i]);
    cache[i] = cache[cache_n - 1];
    memset(&cache[cache_n - 1], 0, sizeof(cache[0]));
    cache_n--;
}

int
ovp_file_cache_put(enum ovp_file_kind kind, const char *path, const void *data, size_t len,
                   const struct stat *st)
{
    struct cache_entry e;
    long old;
    int rc = -1;

    if (path == NULL || (data == NULL && len > 0) || st == NULL)
    {
        return -1;
    }
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.len = len;
    e.st = *st;
    e.path = strdup(path);
    e.data = len < OVP_FILE_CACHE_BYTES ? malloc(len + 1) : NULL;
    if (e.data != NULL)
    {
        if (len > 0)
        {
            memcpy(e.data, data, len);
        }
        e.data[len] = '\0';
    }

    pthread_mutex_lock(&cache_lock);
    /* The old content goes in every case: it is no longer the last one read. */
    old = cache_find(kind, path);
    if (old >= 0)
    {
        cache_remove((size_t)old);
    }
    if (e.path != NULL && e.data != NULL && cache_n < OVP_FILE_CACHE_FILES &&
        len <= OVP_FILE_CACHE_BYTES - cache_bytes)
    {
        cache[cache_n++] = e;
        cache_bytes += len;
        memset(&e, 0, sizeof(e));
        rc = 0;
    }
    pthread_mutex_unlock(&cache_lock);
    entry_free(&e);
    return rc;
}

int
ovp_file_cache_fallback(enum ovp_file_kind kind, const char *path, int open_errno,
                        const char *what, char **data, size_t *len, struct stat *st, char *warn,
                        size_t warnlen)
{
    struct stat now;
    char *copy = NULL;
    size_t n = 0;
    long i;
    int changed;

    /*
     * Why only EACCES/EPERM without root: that is what OpenVPN's reopen after
     * `user`/`group` sees for a file only root could read. A missing file, or any
     * error root itself gets, means the file is really gone or broken: fail as always.
     */
    if ((open_errno != EACCES && open_errno != EPERM) || geteuid() == 0 || path == NULL ||
        data == NULL || len == NULL || st == NULL)
    {
        return -1;
    }
    pthread_mutex_lock(&cache_lock);
    i = cache_find(kind, path);
    if (i >= 0)
    {
        n = cache[i].len;
        copy = malloc(n + 1);
        if (copy != NULL)
        {
            memcpy(copy, cache[i].data, n + 1);
            *st = cache[i].st;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    if (copy == NULL)
    {
        return -1;
    }
    *data = copy;
    *len = n;
    /* stat() needs no read permission: it can still tell whether the content changed. */
    changed = -1;
    if (stat(path, &now) == 0)
    {
        changed = now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
                  now.st_size != st->st_size || now.st_mtim.tv_sec != st->st_mtim.tv_sec ||
                  now.st_mtim.tv_nsec != st->st_mtim.tv_nsec;
    }
    ovp_errf(warn, warnlen,
             "%s %s cannot be read any more (%s) now that OpenVPN runs without root "
             "(uid %lu): kept the version this process read earlier%s; changes to this "
             "file take effect only when OpenVPN is restarted, not at a reload (SIGHUP)",
             what != NULL ? what : "file", path, strerror(open_errno), (unsigned long)geteuid(),
             changed == 1   ? ", although the file has changed since"
             : changed == 0 ? " (the file is unchanged since)"
                            : "");
    return 0;
}

void
ovp_file_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    while (cache_n > 0)
    {
        cache_remove(cache_n - 1);
    }
    pthread_mutex_unlock(&cache_lock);
}

/*
 * At exit the cached secrets are wiped. trylock: exit() may come from a thread while
 * another one is inside the cache; then the memory goes with the process.
 */
__attribute__((destructor)) static void
cache_at_exit(void)
{
    if (pthread_mutex_trylock(&cache_lock) != 0)
    {
        return;
    }
    while (cache_n > 0)
    {
        cache_remove(cache_n - 1);
    }
    pthread_mutex_unlock(&cache_lock);
}

/* ---------------------------------------------------------- secret files */

/* ovp_secret_file_read, and with WARN the cache fallback of ovp_secret_file_load. */
static char *
secret_read(const char *path, char *warn, size_t warnlen, char *err, size_t errlen)
{
    /* Room for the longest secret, its CRLF, and one byte that proves "too long". */
    char buf[OVP_SECRET_FILE_MAX + 3];
    char why[512];
    char *result = NULL;
    struct stat st;
    size_t len = 0;
    int fd = -1;

    if (warn != NULL && warnlen > 0)
    {
        warn[0] = '\0';
    }
    if (path == NULL || path[0] == '\0')
    {
        ovp_errf(err, errlen, "secret file: no path given");
        goto cleanup;
    }
    /*
     * Why open first and check with fstat: the checks then apply to the very file we
     * read, with no window for a swap between a stat() and the open(). Symlinks are
     * followed on purpose (a link to a protected file is a normal setup, e.g. a
     * mounted secret store); what counts is the file reached, whose owner and mode are
     * checked. O_NONBLOCK keeps a FIFO planted at PATH from hanging open(); it is
     * refused as not a regular file right after.
     */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
    {
        int e = errno;
        char *kept = NULL;

        if (warn != NULL && warnlen > 0 &&
            ovp_file_cache_fallback(OVP_FILE_SECRET, path, e, "secret file", &kept, &len, &st,
                                    warn, warnlen) == 0)
        {
            return kept;
        }
        ovp_errf(err, errlen, "secret file %s: cannot open: %s", path, strerror(e));
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
    /* Why refuse instead of warn: see ovp_secret_perm_check. */
    if (ovp_secret_perm_check(st.st_mode, st.st_uid, why, sizeof(why)) != 0)
    {
        ovp_errf(err, errlen, "secret file %s: %s", path, why);
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
    /*
     * Kept for a reopen without root; only now, with every check passed. A failure to
     * keep it is no error here: it only means a later reopen cannot fall back.
     */
    (void)ovp_file_cache_put(OVP_FILE_SECRET, path, result, len, &st);

cleanup:
    ovp_wipe(buf, sizeof(buf));
    if (fd >= 0)
    {
        close(fd);
    }
    return result;
}

char *
ovp_secret_file_read(const char *path, char *err, size_t errlen)
{
    return secret_read(path, NULL, 0, err, errlen);
}

char *
ovp_secret_file_load(const char *path, char *warn, size_t warnlen, char *err, size_t errlen)
{
    if (warn == NULL || warnlen == 0)
    {
        ovp_errf(err, errlen, "secret file: internal error: no warning buffer");
        return NULL;
    }
    return secret_read(path, warn, warnlen, err, errlen);
}

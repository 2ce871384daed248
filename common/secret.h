/* secret.h: handling passwords and keys: wiping, comparing, reading secret files. */
#ifndef OVP_SECRET_H
#define OVP_SECRET_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Longest secret read from a file. */
#define OVP_SECRET_FILE_MAX 4096

/* Overwrites N bytes at P with zeros in a way the compiler may not remove. NULL-safe. */
void ovp_wipe(void *p, size_t n);

/* Wipes a NUL-terminated string's bytes, then frees it. NULL-safe. */
void ovp_free_secret(char *s);

/* malloc'd copy of S, or NULL (also for S == NULL). Free with ovp_free_secret. */
char *ovp_strdup_secret(const char *s);

/* 1 when the N bytes at A and B are equal, else 0; time independent of the content. */
int ovp_ct_equal(const void *a, const void *b, size_t n);

/*
 * 1 when strings A and B are equal, else 0. Time depends only on the lengths
 * (never on where they differ). NULL never equals anything.
 */
int ovp_ct_streq(const char *a, const char *b);

/*
 * Who may own a file holding a secret, and its mode (the rule for secret files and
 * for config files with a secret written inline). Accepted: owned by root or by the
 * effective user of this process; others may not read it (mode & 004); group and
 * others may not write it (mode & 022). Group read is allowed so that OpenVPN, after
 * its privilege drop to `user nobody` / `group nogroup`, can still read the file at a
 * reload: 0640 root:nogroup. Returns 0, or -1 with WHY saying what was found (mode,
 * owner) and what would be accepted; WHY names neither the file nor any content.
 */
int ovp_secret_perm_check(mode_t mode, uid_t uid, char *why, size_t whylen);

/*
 * Reads a secret from PATH: the whole file up to OVP_SECRET_FILE_MAX bytes, one
 * trailing newline (LF or CRLF) removed. Refuses a file that is not a regular file,
 * whose owner or mode ovp_secret_perm_check refuses, that is empty, too long, or
 * holds a NUL byte; checks apply to the opened file (fstat), symlinks are followed.
 * Returns a malloc'd string to free with ovp_free_secret, or NULL with a message in
 * ERR naming PATH, never containing the secret. A secret read successfully is also
 * remembered in the process's file cache (below) for ovp_secret_file_load.
 */
char *ovp_secret_file_read(const char *path, char *err, size_t errlen);

/*
 * ovp_secret_file_read for a plugin's open, which may be a reopen after OpenVPN
 * dropped its privileges (SIGHUP): when PATH cannot be opened any more with EACCES
 * or EPERM, in a process whose effective user is not root, and this process read
 * PATH successfully as a secret before, returns that earlier secret and puts a
 * warning for the log in WARN (non-empty only then: the file's changes need a
 * restart of OpenVPN). Every other failure is an error as for ovp_secret_file_read.
 * WARN must not be NULL (WARNLEN > 0); it never holds the secret.
 */
char *ovp_secret_file_load(const char *path, char *warn, size_t warnlen, char *err,
                           size_t errlen);

/*
 * The process-wide file cache behind the reload rule above: the content of files
 * this process read successfully (a secret file once every check passed, a config
 * file once it parsed: the mode and owner kept with it are judged again by
 * ovp_cfg_bind whenever the text is served), keyed by kind and path exactly as given. Each plugin .so links its own copy of libovp (linked
 * with -z nodelete, so it survives OpenVPN's dlclose at SIGHUP): the cache is per
 * plugin. Entries are wiped when replaced or freed; at most OVP_FILE_CACHE_FILES
 * files and OVP_FILE_CACHE_BYTES bytes (a file beyond that is not kept, and then
 * also drops what was kept for its path, so the cache never serves content older
 * than the last successful read). All functions are thread-safe.
 */
#define OVP_FILE_CACHE_FILES 32
#define OVP_FILE_CACHE_BYTES (16u * 1024 * 1024)

/* What a cache entry holds; an entry is only ever served as its own kind. */
enum ovp_file_kind
{
    OVP_FILE_SECRET, /* a secret file (content after newline removal) */
    OVP_FILE_CONFIG, /* a config file (raw text) */
};

/*
 * Remembers LEN bytes of DATA as the content of PATH (of KIND), with ST from fstat
 * on the file read. Call only after every check on the content passed. Returns 0,
 * or -1 when it could not be kept (out of memory, cache full).
 */
int ovp_file_cache_put(enum ovp_file_kind kind, const char *path, const void *data, size_t len,
                       const struct stat *st);

/*
 * The fallback: OPEN_ERRNO is what open(PATH) failed with. When it is EACCES or
 * EPERM, the effective user is not root and PATH is cached as KIND, sets *DATA to a
 * malloc'd NUL-terminated copy (LEN bytes, wipe with ovp_wipe before free), *ST to
 * the stat of the file as it was read, writes a warning naming WHAT and PATH into
 * WARN (whether the file changed since, when stat() can still tell) and returns 0.
 * Otherwise returns -1 and changes nothing.
 */
int ovp_file_cache_fallback(enum ovp_file_kind kind, const char *path, int open_errno,
                            const char *what, char **data, size_t *len, struct stat *st,
                            char *warn, size_t warnlen);

/* Wipes and forgets every cached file (tests; a plugin never needs it). */
void ovp_file_cache_clear(void);

#endif

/* secret.h: handling passwords and keys: wiping, comparing, reading secret files. */
#ifndef OVP_SECRET_H
#define OVP_SECRET_H

#include <stddef.h>

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
 * Reads a secret from PATH: the whole file up to OVP_SECRET_FILE_MAX bytes, one
 * trailing newline (LF or CRLF) removed. Refuses a file that is not a regular
 * file, that group or others may read or write (mode & 066), that is empty, too
 * long, or holds a NUL byte. Returns a malloc'd string to free with
 * ovp_free_secret, or NULL with a message in ERR (never containing the secret).
 */
char *ovp_secret_file_read(const char *path, char *err, size_t errlen);

#endif

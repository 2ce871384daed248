/* authfiles.h: the temporary files of deferred auth and client-connect, as OpenVPN makes them. */
#ifndef AUTHFILES_H
#define AUTHFILES_H

#include <stddef.h>

/*
 * Creates DIR/openvpn_PREFIX_<16 hex>.tmp with O_CREAT|O_EXCL, mode 0600
 * (platform_create_temp_file: up to 6 attempts). Returns the malloc'd path, or
 * NULL after logging why.
 */
char *tmpfile_create(const char *dir, const char *prefix);

/* Removes PATH (if any) and frees it; sets *PATH to NULL. */
void tmpfile_remove(char **path);

/* First byte of PATH: '1' -> 1, '0' -> 0, anything else / missing -> -1. */
int file_first_byte_verdict(const char *path);

/*
 * Whole content of PATH (at most MAX bytes), NUL-terminated, or NULL when the
 * file cannot be read. *LEN gets the length.
 */
char *file_read_all(const char *path, size_t max, size_t *len);

/* Fills BUF with N random bytes (getrandom). */
void random_bytes(void *buf, size_t n);

#endif

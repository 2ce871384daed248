/* env.h: look-ups in the argv/envp arrays OpenVPN hands to a plugin call. */
#ifndef OVP_ENV_H
#define OVP_ENV_H

#include <stddef.h>

/*
 * Returns the value of NAME in ENVP ("NAME=value" entries), or NULL when ENVP is
 * NULL, NAME is missing, or only entries without '=' match. The pointer is
 * borrowed from the host and valid only during the current call: never keep it.
 */
const char *ovp_env_get(const char *const *envp, const char *name);

/* Like ovp_env_get, but returns NULL for an empty value too. */
const char *ovp_env_get_nonempty(const char *const *envp, const char *name);

/*
 * Parses NAME as a decimal integer in [min, max] into *out.
 * Returns 0, or -1 when missing, empty, not a whole number, or out of range.
 */
int ovp_env_get_long(const char *const *envp, const char *name, long min, long max, long *out);

/* Returns a malloc'd copy of NAME's value, or NULL when missing or out of memory. */
char *ovp_env_dup(const char *const *envp, const char *name);

/* Number of entries in a NULL-terminated array; 0 for NULL. */
size_t ovp_argc(const char *const *argv);

/* argv[i] when it exists, else NULL (NULL-safe, bounds-checked). */
const char *ovp_argv_get(const char *const *argv, size_t i);

/*
 * The client's address as OpenVPN names it for this event: untrusted_ip or
 * untrusted_ip6 (before auth completes) else trusted_ip / trusted_ip6. NULL if none.
 */
const char *ovp_env_client_ip(const char *const *envp);

/* The client's port (untrusted_port, else trusted_port), or NULL. */
const char *ovp_env_client_port(const char *const *envp);

#endif

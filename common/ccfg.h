/* ccfg.h: building the client-config directives a plugin returns to OpenVPN. */
#ifndef OVP_CCFG_H
#define OVP_CCFG_H

#include <stddef.h>
#include <openvpn/openvpn-plugin.h>

/* Largest client config accepted (OpenVPN reads it into a bounded buffer too). */
#define OVP_CCFG_MAX (64 * 1024)

/*
 * A growing list of client-config directives (`push "route ..."`,
 * `ifconfig-push a b`, `iroute ...`, `disable`), one per line.
 * Zero-initialise (struct ovp_ccfg c = {0};) and release with ovp_ccfg_clear.
 */
struct ovp_ccfg
{
    char *buf; /* NUL-terminated, lines separated by '\n' */
    size_t len;
    size_t cap;
    size_t lines;
};

/*
 * Appends one directive. Refuses (returns -1) a NULL or empty line, one holding a
 * newline, carriage return or NUL-free control character, or one that would take
 * the whole over OVP_CCFG_MAX. Returns 0 on success.
 */
int ovp_ccfg_add(struct ovp_ccfg *c, const char *directive);

/* printf-style ovp_ccfg_add. */
int ovp_ccfg_addf(struct ovp_ccfg *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Hands the directives to the host as a return list with one entry named
 * "config". Every node, name and value is malloc'd, as the host frees them.
 * An empty ccfg sets *LIST to NULL. The ccfg itself stays valid (and is not
 * cleared). Returns 0, or -1 when out of memory (*LIST untouched).
 */
int ovp_ccfg_to_list(const struct ovp_ccfg *c, struct openvpn_plugin_string_list **list);

/*
 * Writes the directives to PATH (the v1 client-connect file OpenVPN names in
 * argv[1]), truncating it. Returns 0, or -1 with errno set.
 */
int ovp_ccfg_write_file(const struct ovp_ccfg *c, const char *path);

/* Frees the buffer and zeroes the struct. NULL-safe. */
void ovp_ccfg_clear(struct ovp_ccfg *c);

/*
 * Frees a return list the way OpenVPN does: each value zeroed, then value, name
 * and node freed. For tests and for the reference core. NULL-safe.
 */
void ovp_string_list_free(struct openvpn_plugin_string_list *list);

#endif

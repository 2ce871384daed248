/* ccopts.h: client-config directives a plugin hands back (return list "config", v1 file). */
#ifndef CCOPTS_H
#define CCOPTS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* The per-client options OpenVPN imports with CLIENT_CONNECT_OPT_MASK (the part modelled). */
struct ccopts
{
    char **push; /* push options, starting as the server's */
    size_t n_push;
    int ifconfig_push; /* ifconfig-push local netmask */
    uint32_t push_local, push_netmask;
    int ifconfig_ipv6_push; /* ifconfig-ipv6-push addr/bits */
    struct in6_addr push_v6;
    int push_v6_bits;
    char **iroutes; /* as learn-address prints them: "10.0.1.0/24", "2001:db8::/64" */
    size_t n_iroutes;
    int disable;
};

/* Starts with a copy of the server's push list. */
void ccopts_init(struct ccopts *o, char *const *server_push, size_t n);
void ccopts_free(struct ccopts *o);

/*
 * options_string_import: reads TEXT (lines of directives, OpenVPN quoting, '#'
 * and ';' comments) into O. A directive that cannot be used here is logged as an
 * "Options error" and ignored, as OpenVPN does. SOURCE names TEXT in messages.
 */
void ccopts_import(struct ccopts *o, const char *text, const char *source);

/*
 * Splits one line into at most MAX words the way OpenVPN's parse_line does
 * (whitespace; "double quotes" with backslash escapes; 'single quotes'; a '#' or
 * ';' starting a word starts a comment). Words are malloc'd. Returns the count,
 * or -1 on an unterminated quote.
 */
int ccopts_split(const char *line, char **words, int max);

#endif

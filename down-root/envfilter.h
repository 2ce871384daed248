/* envfilter.h: which environment variables a root command may see (pure logic). */
#ifndef OVP_DR_ENVFILTER_H
#define OVP_DR_ENVFILTER_H

#include <stddef.h>

/* The PATH every command runs with, whatever OpenVPN's environment said. */
#define DR_SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Longest value passed on; longer ones are dropped (and the drop is logged). */
#define DR_ENV_VALUE_MAX 4096
/* Most variables passed to one command, PATH included (a server with a thousand
 * routes has three thousand route_* variables). */
#define DR_ENV_MAX 4096

/* Why envfilter_check refused an entry. */
enum dr_env_verdict
{
    DR_ENV_OK = 0,
    DR_ENV_MALFORMED,   /* no '=', empty or odd name */
    DR_ENV_DANGEROUS,   /* changes how programs load or parse (LD_*, IFS, PATH...) */
    DR_ENV_NOT_ALLOWED, /* not in the allow-list */
    DR_ENV_TOO_LONG,    /* value over DR_ENV_VALUE_MAX */
    DR_ENV_CONTROL,     /* value holds a newline or another control character */
};

/*
 * Decides whether the "NAME=value" ENTRY may reach a root command. The built-in
 * allow-list holds what OpenVPN sets for up/down/route-pre-down (dev, tun_mtu,
 * ifconfig_*, route_*, signal, script_context, ...); EXTRA (N names, may be NULL)
 * adds operator-chosen names. Dangerous names are refused even when listed.
 */
enum dr_env_verdict envfilter_check(const char *entry, const char *const *extra, size_t n);

/* A short English reason for a verdict, for log lines. */
const char *envfilter_reason(enum dr_env_verdict v);

#endif

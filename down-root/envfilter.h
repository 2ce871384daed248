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
    DR_ENV_INVALID,     /* value is not of the variable's kind (see envfilter_kind) */
    DR_ENV_OWN,         /* (setenv at open) OpenVPN's own variable, not an operator's */
};

/* Most setenv variables taken at open, and their total size ("NAME=value" bytes). */
#define DR_SETENV_MAX       256
#define DR_SETENV_BYTES_MAX (64 * 1024)

/*
 * Decides whether the "NAME=value" ENTRY may reach a root command. The built-in
 * allow-list holds what OpenVPN sets for up/down/route-pre-down (dev, tun_mtu,
 * ifconfig_*, route_*, signal, script_context, ...); EXTRA (N names, may be NULL)
 * adds operator-chosen names. Dangerous names are refused even when listed. The
 * value must then be of the variable's kind (DR_ENV_INVALID otherwise): dev an
 * interface name, addresses and netmasks addresses, numbers numbers, enumerations
 * one of their words, and every other string (common_name, foreign_option_N, names
 * given with EXTRA...) printable ASCII without shell metacharacters.
 */
enum dr_env_verdict envfilter_check(const char *entry, const char *const *extra, size_t n);

/* A short English reason for a verdict, for log lines. */
const char *envfilter_reason(enum dr_env_verdict v);

/*
 * What the value of ENTRY's variable must be, for log lines ("an interface name
 * (1-15 of A-Z a-z 0-9 . _ -)"); never NULL. *SHOWABLE is set to 1 when the value
 * may be quoted in a log line (a typed value such as an address, not a peer's or
 * operator's string that might be sensitive).
 */
const char *envfilter_kind(const char *entry, const char *const *extra, size_t n,
                           int *showable);

/*
 * Checks the "NAME=value" ENTRY from the envp OpenVPN gives at open, where `setenv`
 * values of the configuration arrive. DR_ENV_OK: an operator's variable, passed to
 * every command with this value (fixed at open; its value is the operator's and may
 * hold any printable text). DR_ENV_OWN: one of OpenVPN's own (config, verb, daemon*,
 * remote_N, an allow-listed name...), left to the event's environment. Otherwise why
 * it is refused (malformed, dangerous, too long, control characters).
 */
enum dr_env_verdict envfilter_check_setenv(const char *entry);

/*
 * Checks standard script argument I (1 dev, 2 tun_mtu, 3 link_mtu, 4 ifconfig_local,
 * 5 ifconfig_remote or netmask, 6 init|restart) by the same rules as the variable of
 * that name. An empty argument is fine (OpenVPN passes "" for what is not set).
 * Returns 1 when ARG may be passed.
 */
int envfilter_arg_ok(size_t i, const char *arg);

/*
 * Writes a short, escaped excerpt of VALUE (at most 16 bytes of it; bytes outside
 * printable ASCII, '\\' and '"' as \xNN, "..." when cut) into OUT (OUTLEN > 0).
 */
void envfilter_excerpt(const char *value, char *out, size_t outlen);

#endif

/* envfilter.c: the allow-list between OpenVPN's environment and a command run as root. */
#include "ovpbuild.h"

#include <string.h>
#include <strings.h>

#include "envfilter.h"

/* Names OpenVPN sets around UP/DOWN/ROUTE_PREDOWN that a down script may use. */
static const char *const allowed_names[] = {
    "signal",
    "script_type",
    "script_context",
    "dev",
    "dev_type",
    "dev_idx",
    "tun_mtu",
    "link_mtu",
    "redirect_gateway",
    "daemon",
    "daemon_log_redirect",
    "daemon_pid",
    "daemon_start_time",
    "config",
    "verb",
    "common_name",
    "username",
    "trusted_ip",
    "trusted_ip6",
    "trusted_port",
    "untrusted_ip",
    "untrusted_ip6",
    "untrusted_port",
    "time_unix",
    "time_ascii",
    "route_vpn_gateway",
    "route_net_gateway",
    "route_ipv6_gateway",
};

/* Families of numbered or suffixed names: route_network_1, ifconfig_local, ... */
static const char *const allowed_prefixes[] = {
    "ifconfig_", "route_", "foreign_option_", "remote_", "local_", "proto_",
    "tun_",      "dev_",   "peer_",           "push_",
};

/*
 * Why each of these is refused even if an operator lists it: they change which code
 * a program loads (LD_*, GCONV_PATH, ...), how a shell parses (IFS, BASH_ENV, ENV,
 * SHELLOPTS, PS4) or where commands come from (PATH: we set our own).
 */
static const char *const dangerous_prefixes[] = {
    "LD_", "MALLOC_", "GLIBC_", "BASH_FUNC_", "PYTHON", "PERL", "RUBY", "NODE_", "LUA_",
};
static const char *const dangerous_names[] = {
    "IFS",
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "TMPDIR",
    "CDPATH",
    "GLOBIGNORE",
    "PROMPT_COMMAND",
    "LANGUAGE",
    "LC_ALL",
    "HOME",
    "SHELL",
    "TZDIR",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "SSL_CERT_FILE",
};

static int
name_in(const char *name, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
    {
        if (strlen(list[i]) == len && strncmp(list[i], name, len) == 0)
        {
            return 1;
        }
    }
    return 0;
}

static int
prefix_in(const char *name, size_t len, const char *const *list, size_t n, int nocase)
{
    for (size_t i = 0; i < n; i++)
    {
        size_t pl = strlen(list[i]);
        if (len > pl &&
            (nocase ? strncasecmp(name, list[i], pl) : strncmp(name, list[i], pl)) == 0)
        {
            return 1;
        }
    }
    return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum dr_env_verdict
envfilter_check(const char *entry, const char *const *extra, size_t n)
{
    if (!entry)
    {
        return DR_ENV_MALFORMED;
    }
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
    {
        return DR_ENV_MALFORMED;
    }
    size_t len = (size_t)(eq - entry);
    for (size_t i = 0; i < len; i++)
    {
        char c = entry[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
        {
            return DR_ENV_MALFORMED;
        }
    }
    if (name_in(entry, len, dangerous_names, COUNT(dangerous_names)) ||
        prefix_in(entry, len, dangerous_prefixes, COUNT(dangerous_prefixes), 1))
    {
        return DR_ENV_DANGEROUS;
    }
    if (!name_in(entry, len, allowed_names, COUNT(allowed_names)) &&
        !prefix_in(entry, len, allowed_prefixes, COUNT(allowed_prefixes), 0) &&
        !(extra && name_in(entry, len, extra, n)))
    {
        return DR_ENV_NOT_ALLOWED;
    }
    const char *v = eq + 1;
    size_t vlen = strlen(v);
    if (vlen > DR_ENV_VALUE_MAX)
    {
        return DR_ENV_TOO_LONG;
    }
    for (size_t i = 0; i < vlen; i++)
    {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f)
        {
            return DR_ENV_CONTROL;
        }
    }
    return DR_ENV_OK;
}

const char *
envfilter_reason(enum dr_env_verdict v)
{
    switch (v)
    {
        case DR_ENV_OK:
            return "allowed";
        case DR_ENV_MALFORMED:
            return "not a NAME=value entry";
        case DR_ENV_DANGEROUS:
            return "changes how programs load or parse, never passed to root";
        case DR_ENV_NOT_ALLOWED:
            return "not in the allow-list (add it with env=NAME)";
        case DR_ENV_TOO_LONG:
            return "value too long";
        case DR_ENV_CONTROL:
            return "value holds control characters";
    }
    return "refused";
}

/* envfilter.c: the allow-list between OpenVPN's environment and a command run as root. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
    "net_gateway_ipv6",
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

/*
 * Per-variable value rules. Why: the values come from the unprivileged OpenVPN
 * process (and some from the peer: common_name, pushed foreign_option_N) and end up
 * in shell scripts run as root, which often use them unquoted ($dev) or pass them
 * to ip(8) and iptables(8). A value of the wrong shape never reaches them, so
 * "tun0; reboot", "$(reboot)" or "-x" cannot become a command or an option there.
 */
enum kind
{
    K_SAFE,        /* printable ASCII without shell metacharacters (the default) */
    K_IFNAME,      /* a Linux interface name, strictly */
    K_IPV4,        /* dotted quad (addresses and netmasks) */
    K_IPV6,        /* an IPv6 address */
    K_IPV6_PREFIX, /* IPv6 address "/" 0-128 */
    K_UINT,        /* 1-20 decimal digits */
    K_NETBITS6,    /* 0-128 */
    K_PORT,        /* 0-65535, or a service name */
    K_HOST,        /* a host name or address */
    K_WORD,        /* [A-Za-z0-9_-], not starting with '-' (signal, proto_N) */
    K_SCRIPT_TYPE, /* up | down | route-pre-down */
    K_CONTEXT,     /* init | restart */
    K_DEV_TYPE,    /* tun | tap | null */
    K_TIME_ASCII,  /* letters, digits, ':' and blanks */
    K_SIGNAL,      /* OpenVPN's signal texts: "sigterm", "auth-failure (auth-token)" */
};

/* NAME patterns: a trailing '#' stands for 1-9 decimal digits (route_network_12). */
static const struct
{
    const char *pattern;
    enum kind kind;
} rules[] = {
    {"dev", K_IFNAME},
    {"dev_type", K_DEV_TYPE},
    {"dev_idx", K_UINT},
    {"script_type", K_SCRIPT_TYPE},
    {"script_context", K_CONTEXT},
    {"signal", K_SIGNAL},
    {"tun_mtu", K_UINT},
    {"link_mtu", K_UINT},
    {"redirect_gateway", K_UINT},
    {"route_redirect_gateway_ipv4", K_UINT},
    {"route_redirect_gateway_ipv6", K_UINT},
    {"daemon", K_UINT},
    {"daemon_log_redirect", K_UINT},
    {"daemon_pid", K_UINT},
    {"daemon_start_time", K_UINT},
    {"verb", K_UINT},
    {"time_unix", K_UINT},
    {"time_duration", K_UINT},
    {"bytes_received", K_UINT},
    {"bytes_sent", K_UINT},
    {"time_ascii", K_TIME_ASCII},
    {"trusted_ip", K_IPV4},
    {"untrusted_ip", K_IPV4},
    {"trusted_ip6", K_IPV6},
    {"untrusted_ip6", K_IPV6},
    {"trusted_port", K_PORT},
    {"untrusted_port", K_PORT},
    {"ifconfig_local", K_IPV4},
    {"ifconfig_remote", K_IPV4},
    {"ifconfig_netmask", K_IPV4},
    {"ifconfig_broadcast", K_IPV4},
    {"ifconfig_ipv6_local", K_IPV6},
    {"ifconfig_ipv6_remote", K_IPV6},
    {"ifconfig_ipv6_netbits", K_NETBITS6},
    {"ifconfig_pool_local_ip", K_IPV4},
    {"ifconfig_pool_remote_ip", K_IPV4},
    {"ifconfig_pool_netmask", K_IPV4},
    {"ifconfig_pool_local_ip6", K_IPV6},
    {"ifconfig_pool_remote_ip6", K_IPV6},
    {"ifconfig_pool_ip6_netbits", K_NETBITS6},
    {"route_vpn_gateway", K_IPV4},
    {"route_net_gateway", K_IPV4},
    {"route_ipv6_gateway", K_IPV6},
    {"net_gateway_ipv6", K_IPV6},
    {"route_network_#", K_IPV4},
    {"route_netmask_#", K_IPV4},
    {"route_gateway_#", K_IPV4},
    {"route_metric_#", K_UINT},
    {"route_ipv6_network_#", K_IPV6_PREFIX},
    {"route_ipv6_gateway_#", K_IPV6},
    {"route_ipv6_metric_#", K_UINT},
    {"remote_#", K_HOST},
    {"local_#", K_HOST},
    {"remote_port_#", K_PORT},
    {"local_port_#", K_PORT},
    {"proto_#", K_WORD},
};

static const char *const kind_text[] = {
    [K_SAFE] = "printable ASCII without shell metacharacters ( ` $ ; & | < > ( ) \\ \" ' * ? "
               "[ ] { } ~ ! # )",
    [K_IFNAME] = "an interface name (1-15 of A-Z a-z 0-9 . _ -, not starting with -)",
    [K_IPV4] = "an IPv4 address or netmask",
    [K_IPV6] = "an IPv6 address",
    [K_IPV6_PREFIX] = "an IPv6 network (address/bits)",
    [K_UINT] = "a number",
    [K_NETBITS6] = "a prefix length (0-128)",
    [K_PORT] = "a port (number or service name)",
    [K_HOST] = "a host name or address",
    [K_WORD] = "a word (A-Z a-z 0-9 _ -)",
    [K_SCRIPT_TYPE] = "up, down or route-pre-down",
    [K_CONTEXT] = "init or restart",
    [K_DEV_TYPE] = "tun, tap or null",
    [K_TIME_ASCII] = "a date (letters, digits, ':' and spaces)",
    [K_SIGNAL] = "a signal text (A-Z a-z 0-9 and space _ - / . ( ), starting with a letter "
                 "or digit)",
};

/* 1 when NAME (LEN bytes) matches PATTERN. */
static int
pattern_match(const char *pattern, const char *name, size_t len)
{
    size_t pl = strlen(pattern);
    if (pattern[pl - 1] != '#')
    {
        return pl == len && strncmp(pattern, name, len) == 0;
    }
    pl--;
    if (len <= pl || len - pl > 9 || strncmp(pattern, name, pl) != 0)
    {
        return 0;
    }
    for (size_t i = pl; i < len; i++)
    {
        if (name[i] < '0' || name[i] > '9')
        {
            return 0;
        }
    }
    return 1;
}

/* The kind of NAME (LEN bytes): by rule, else the default for strings. */
static enum kind
kind_of(const char *name, size_t len, const char *const *extra, size_t n)
{
    (void)extra;
    (void)n;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    {
        if (pattern_match(rules[i].pattern, name, len))
        {
            return rules[i].kind;
        }
    }
    /*
     * Why the strict default for names added with env= too: their values also come
     * from the unprivileged process (or the peer, like pushed setenv-safe values).
     */
    return K_SAFE;
}

/* 1 when every byte of V is in ALLOWED (and V is MIN to MAX bytes long). */
static int
chars_in(const char *v, const char *allowed, size_t min, size_t max)
{
    size_t len = strlen(v);
    return len >= min && len <= max && strspn(v, allowed) == len;
}

#define DIGITS "0123456789"
#define ALNUM  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" DIGITS

/* 1 when V is a decimal number of 1 to 20 digits not above MAX. */
static int
uint_ok(const char *v, unsigned long long max)
{
    if (!chars_in(v, DIGITS, 1, 20))
    {
        return 0;
    }
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    return errno == 0 && x <= max;
}

static int
addr_ok(int af, const char *v)
{
    unsigned char buf[16];
    return strlen(v) <= 45 && inet_pton(af, v, buf) == 1;
}

static int
value_ok(enum kind k, const char *v)
{
    switch (k)
    {
        case K_IFNAME:
            /* the kernel's rule (dev_valid_name) is looser: no '/', ':' or blanks */
            return chars_in(v, ALNUM "._-", 1, 15) && v[0] != '-' && strcmp(v, ".") != 0 &&
                   strcmp(v, "..") != 0;
        case K_IPV4:
            return addr_ok(AF_INET, v);
        case K_IPV6:
            return addr_ok(AF_INET6, v);
        case K_IPV6_PREFIX:
        {
            const char *slash = strchr(v, '/');
            char a[46];
            if (!slash || (size_t)(slash - v) >= sizeof(a) || !uint_ok(slash + 1, 128) ||
                strlen(slash + 1) > 3)
            {
                return 0;
            }
            memcpy(a, v, (size_t)(slash - v));
            a[slash - v] = '\0';
            return addr_ok(AF_INET6, a);
        }
        case K_UINT:
            return uint_ok(v, ~0ULL);
        case K_NETBITS6:
            return strlen(v) <= 3 && uint_ok(v, 128);
        case K_PORT:
            /* a service name (/etc/services) has a letter; all digits is a number */
            return (strlen(v) <= 5 && uint_ok(v, 65535)) ||
                   (chars_in(v, ALNUM "-", 1, 32) && v[0] != '-' &&
                    strspn(v, DIGITS) != strlen(v));
        case K_HOST:
            return chars_in(v, ALNUM ".-_:%", 1, 255) && v[0] != '-';
        case K_WORD:
            return chars_in(v, ALNUM "_-", 1, 32) && v[0] != '-';
        case K_SCRIPT_TYPE:
            return strcmp(v, "up") == 0 || strcmp(v, "down") == 0 ||
                   strcmp(v, "route-pre-down") == 0;
        case K_CONTEXT:
            return strcmp(v, "init") == 0 || strcmp(v, "restart") == 0;
        case K_DEV_TYPE:
            return strcmp(v, "tun") == 0 || strcmp(v, "tap") == 0 || strcmp(v, "null") == 0;
        case K_TIME_ASCII:
            return chars_in(v, ALNUM ": ", 1, 64);
        case K_SIGNAL:
            /*
             * OpenVPN's own texts hold blanks and parentheses ("auth-temp-failure
             * (server temporary reject)"); without $ ` ; & | < > quotes or newlines
             * and starting with a word, no such value is a command even to eval.
             */
            return chars_in(v, ALNUM " _-/.()", 1, 64) && strchr(ALNUM, v[0]);
        case K_SAFE:
            break;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    {
        if (*p < 0x20 || *p >= 0x7f || strchr("`$;&|<>()\\\"'*?[]{}~!#", *p))
        {
            return 0;
        }
    }
    return 1;
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
    return value_ok(kind_of(entry, len, extra, n), v) ? DR_ENV_OK : DR_ENV_INVALID;
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
        case DR_ENV_INVALID:
            return "value is not valid for this variable";
        case DR_ENV_OWN:
            return "one of OpenVPN's own variables";
    }
    return "refused";
}

/* Names OpenVPN itself puts in the open envp that are not in the allow-list. */
static const char *const own_open_prefixes[] = {
    "http_proxy_",
    "socks_proxy_",
};

/* The name's length when ENTRY is NAME=value with a well-formed NAME, else 0. */
static size_t
name_len(const char *entry)
{
    const char *eq = entry ? strchr(entry, '=') : NULL;
    if (!eq || eq == entry)
    {
        return 0;
    }
    size_t len = (size_t)(eq - entry);
    for (size_t i = 0; i < len; i++)
    {
        char c = entry[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
        {
            return 0;
        }
    }
    return len;
}

const char *
envfilter_kind(const char *entry, const char *const *extra, size_t n, int *showable)
{
    size_t len = name_len(entry);
    enum kind k = len ? kind_of(entry, len, extra, n) : K_SAFE;
    if (showable)
    {
        *showable = k != K_SAFE;
    }
    return kind_text[k];
}

enum dr_env_verdict
envfilter_check_setenv(const char *entry)
{
    size_t len = name_len(entry);
    if (!len)
    {
        return DR_ENV_MALFORMED;
    }
    if (name_in(entry, len, dangerous_names, COUNT(dangerous_names)) ||
        prefix_in(entry, len, dangerous_prefixes, COUNT(dangerous_prefixes), 1))
    {
        return DR_ENV_DANGEROUS;
    }
    /* Why: OpenVPN's own variables are current in each event's env and checked there. */
    if (name_in(entry, len, allowed_names, COUNT(allowed_names)) ||
        prefix_in(entry, len, allowed_prefixes, COUNT(allowed_prefixes), 0) ||
        prefix_in(entry, len, own_open_prefixes, COUNT(own_open_prefixes), 0))
    {
        return DR_ENV_OWN;
    }
    const char *v = entry + len + 1;
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

int
envfilter_arg_ok(size_t i, const char *arg)
{
    static const enum kind arg_kind[] = {K_SAFE, K_IFNAME, K_UINT,   K_UINT,
                                         K_IPV4, K_IPV4,   K_CONTEXT};
    if (!arg || i == 0 || i >= COUNT(arg_kind))
    {
        return 0;
    }
    if (!*arg)
    {
        return 1;
    }
    /* ifconfig_local may be IPv6 on a v6-only tunnel in later OpenVPN versions */
    if (i == 4 && value_ok(K_IPV6, arg))
    {
        return 1;
    }
    return value_ok(arg_kind[i], arg);
}

void
envfilter_excerpt(const char *value, char *out, size_t outlen)
{
    size_t o = 0, i;
    out[0] = '\0';
    for (i = 0; value && value[i] && i < 16; i++)
    {
        unsigned char c = (unsigned char)value[i];
        char piece[8];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
        {
            piece[0] = (char)c;
            piece[1] = '\0';
        }
        else
        {
            snprintf(piece, sizeof(piece), "\\x%02x", c);
        }
        size_t pl = strlen(piece);
        if (o + pl + 4 > outlen)
        {
            break;
        }
        memcpy(out + o, piece, pl + 1);
        o += pl;
    }
    if (value && value[i] && o + 4 <= outlen)
    {
        memcpy(out + o, "...", 4);
    }
}

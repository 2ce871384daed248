/* env.c: look-ups in the argv/envp arrays OpenVPN hands to a plugin call. */
#include "ovpbuild.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

const char *
ovp_env_get(const char *const *envp, const char *name)
{
    if (!envp || !name || !*name)
    {
        return NULL;
    }
    size_t n = strlen(name);
    for (size_t i = 0; envp[i]; i++)
    {
        /* An entry without '=' never matches: it has no value to return. */
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
        {
            return envp[i] + n + 1;
        }
    }
    return NULL;
}

const char *
ovp_env_get_nonempty(const char *const *envp, const char *name)
{
    const char *v = ovp_env_get(envp, name);
    return (v && *v) ? v : NULL;
}

int
ovp_env_get_long(const char *const *envp, const char *name, long min, long max, long *out)
{
    const char *v = ovp_env_get_nonempty(envp, name);
    if (!v || !out)
    {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < min || x > max)
    {
        return -1;
    }
    *out = x;
    return 0;
}

char *
ovp_env_dup(const char *const *envp, const char *name)
{
    const char *v = ovp_env_get(envp, name);
    return v ? strdup(v) : NULL;
}

size_t
ovp_argc(const char *const *argv)
{
    size_t n = 0;
    while (argv && argv[n])
    {
        n++;
    }
    return n;
}

const char *
ovp_argv_get(const char *const *argv, size_t i)
{
    return i < ovp_argc(argv) ? argv[i] : NULL;
}

const char *
ovp_env_client_ip(const char *const *envp)
{
    static const char *const names[] = {"untrusted_ip", "untrusted_ip6", "trusted_ip",
                                        "trusted_ip6"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    {
        const char *v = ovp_env_get_nonempty(envp, names[i]);
        if (v)
        {
            return v;
        }
    }
    return NULL;
}

const char *
ovp_env_client_port(const char *const *envp)
{
    const char *v = ovp_env_get_nonempty(envp, "untrusted_port");
    return v ? v : ovp_env_get_nonempty(envp, "trusted_port");
}

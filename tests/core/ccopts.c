/* ccopts.c: client-config directives a plugin hands back (return list "config", v1 file). */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccopts.h"
#include "refcore.h"

#define MAX_WORDS 16

void
ccopts_init(struct ccopts *o, char *const *server_push, size_t n)
{
    memset(o, 0, sizeof(*o));
    o->push = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
    {
        o->push[i] = xstrdup(server_push[i]);
    }
    o->n_push = n;
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
    {
        free(v[i]);
    }
    free(v);
}

void
ccopts_free(struct ccopts *o)
{
    strv_free(o->push, o->n_push);
    strv_free(o->iroutes, o->n_iroutes);
    memset(o, 0, sizeof(*o));
}

static void
strv_add(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = xstrdup(s);
    (*v)[*n] = NULL;
}

int
ccopts_split(const char *line, char **words, int max)
{
    int n = 0;
    const char *p = line;

    for (;;)
    {
        char *w;
        size_t len = 0;
        char quote = 0;

        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        {
            p++;
        }
        if (*p == '\0' || *p == '#' || *p == ';')
        {
            break;
        }
        if (n == max)
        {
            break;
        }
        w = xmalloc(strlen(p) + 1);
        while (*p)
        {
            if (quote == '"')
            {
                if (*p == '\\' && p[1])
                {
                    w[len++] = p[1];
                    p += 2;
                    continue;
                }
                if (*p == '"')
                {
                    quote = 0;
                    p++;
                    continue;
                }
                w[len++] = *p++;
                continue;
            }
            if (quote == '\'')
            {
                if (*p == '\'')
                {
                    quote = 0;
                    p++;
                    continue;
                }
                w[len++] = *p++;
                continue;
            }
            if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            {
                break;
            }
            if (*p == '"' || *p == '\'')
            {
                quote = *p++;
                continue;
            }
            if (*p == '\\' && p[1])
            {
                w[len++] = p[1];
                p += 2;
                continue;
            }
            w[len++] = *p++;
        }
        w[len] = '\0';
        if (quote)
        {
            free(w);
            for (int i = 0; i < n; i++)
            {
                free(words[i]);
            }
            return -1;
        }
        words[n++] = w;
    }
    return n;
}

static int
mask_bits(uint32_t mask)
{
    int bits = 0;

    while (mask & 0x80000000u)
    {
        bits++;
        mask <<= 1;
    }
    return mask ? -1 : bits;
}

static void __attribute__((format(printf, 2, 3)))
opt_error(const char *source, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    core_msg(1, "Options error: %s [%s]", msg, source);
}

/* One directive, already split. */
static void
import_words(struct ccopts *o, char **w, int n, const char *source)
{
    struct in_addr a, m;

    if (strcmp(w[0], "push") == 0 && n == 2)
    {
        strv_add(&o->push, &o->n_push, w[1]);
    }
    else if (strcmp(w[0], "push-reset") == 0 && n == 1)
    {
        strv_free(o->push, o->n_push);
        o->push = xcalloc(1, sizeof(char *));
        o->n_push = 0;
    }
    else if (strcmp(w[0], "push-remove") == 0 && n == 2)
    {
        size_t k = 0, len = strlen(w[1]);

        for (size_t i = 0; i < o->n_push; i++)
        {
            if (strncmp(o->push[i], w[1], len) == 0)
            {
                free(o->push[i]);
            }
            else
            {
                o->push[k++] = o->push[i];
            }
        }
        o->n_push = k;
        o->push[k] = NULL;
    }
    else if (strcmp(w[0], "ifconfig-push") == 0 && (n == 3 || n == 4))
    {
        if (inet_pton(AF_INET, w[1], &a) != 1 || inet_pton(AF_INET, w[2], &m) != 1)
        {
            opt_error(source, "bad ifconfig-push addresses in '%s'", w[1]);
            return;
        }
        o->ifconfig_push = 1;
        o->push_local = ntohl(a.s_addr);
        o->push_netmask = ntohl(m.s_addr);
    }
    else if (strcmp(w[0], "ifconfig-ipv6-push") == 0 && (n == 2 || n == 3))
    {
        char addr[INET6_ADDRSTRLEN + 8];
        char *slash;
        int bits = 64;

        snprintf(addr, sizeof(addr), "%s", w[1]);
        slash = strchr(addr, '/');
        if (slash)
        {
            *slash = '\0';
            bits = atoi(slash + 1);
        }
        if (inet_pton(AF_INET6, addr, &o->push_v6) != 1 || bits < 1 || bits > 128)
        {
            opt_error(source, "bad ifconfig-ipv6-push address '%s'", w[1]);
            return;
        }
        o->ifconfig_ipv6_push = 1;
        o->push_v6_bits = bits;
    }
    else if (strcmp(w[0], "iroute") == 0 && (n == 2 || n == 3))
    {
        int bits = 32;
        char buf[64];

        if (inet_pton(AF_INET, w[1], &a) != 1 ||
            (n == 3 &&
             (inet_pton(AF_INET, w[2], &m) != 1 || (bits = mask_bits(ntohl(m.s_addr))) < 0)))
        {
            opt_error(source, "bad iroute '%s'", w[1]);
            return;
        }
        if (bits < 32)
        {
            a.s_addr &= htonl(bits ? ~0u << (32 - bits) : 0);
        }
        inet_ntop(AF_INET, &a, buf, sizeof(buf));
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%d", bits);
        strv_add(&o->iroutes, &o->n_iroutes, buf);
    }
    else if (strcmp(w[0], "iroute-ipv6") == 0 && n == 2)
    {
        char addr[INET6_ADDRSTRLEN + 8], buf[INET6_ADDRSTRLEN + 8];
        struct in6_addr a6;
        char *slash;
        int bits = 128;

        snprintf(addr, sizeof(addr), "%s", w[1]);
        slash = strchr(addr, '/');
        if (slash)
        {
            *slash = '\0';
            bits = atoi(slash + 1);
        }
        if (inet_pton(AF_INET6, addr, &a6) != 1 || bits < 0 || bits > 128)
        {
            opt_error(source, "bad iroute-ipv6 '%s'", w[1]);
            return;
        }
        for (int i = 0; i < 16; i++)
        {
            int keep = bits - 8 * i;

            if (keep <= 0)
            {
                a6.s6_addr[i] = 0;
            }
            else if (keep < 8)
            {
                a6.s6_addr[i] &= (uint8_t)(0xff << (8 - keep));
            }
        }
        inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%d", bits);
        strv_add(&o->iroutes, &o->n_iroutes, buf);
    }
    else if (strcmp(w[0], "disable") == 0 && n == 1)
    {
        o->disable = 1;
    }
    else
    {
        opt_error(source,
                  "option '%s' cannot be used in this context (ovp-refcore models push, "
                  "push-reset, push-remove, ifconfig-push, ifconfig-ipv6-push, iroute, "
                  "iroute-ipv6 and disable)",
                  w[0]);
    }
}

void
ccopts_import(struct ccopts *o, const char *text, const char *source)
{
    const char *p = text;

    while (p && *p)
    {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xmalloc(len + 1);
        char *w[MAX_WORDS];
        int n;

        memcpy(line, p, len);
        line[len] = '\0';
        n = ccopts_split(line, w, MAX_WORDS);
        if (n < 0)
        {
            opt_error(source, "unterminated quote in '%s'", line);
        }
        else if (n > 0)
        {
            /* a leading "--" is allowed, as in config files */
            if (strncmp(w[0], "--", 2) == 0)
            {
                memmove(w[0], w[0] + 2, strlen(w[0]) - 1);
            }
            import_words(o, w, n, source);
            for (int i = 0; i < n; i++)
            {
                free(w[i]);
            }
        }
        free(line);
        p = nl ? nl + 1 : NULL;
    }
}

/* ccfg.c: building the client-config directives a plugin returns to OpenVPN. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccfg.h"
#include "secret.h"

int
ovp_ccfg_add(struct ovp_ccfg *c, const char *directive)
{
    size_t n;

    if (!c || !directive || !directive[0])
    {
        return -1;
    }
    /*
     * Why refuse control characters: OpenVPN splits the list on newlines, so a
     * value taken from a directory or a web service that holds one could smuggle
     * a second directive (an iroute, a push) into the client's config.
     */
    for (n = 0; directive[n]; n++)
    {
        unsigned char ch = (unsigned char)directive[n];
        if (ch < 0x20 || ch == 0x7f)
        {
            return -1;
        }
    }
    if (n + 1 > OVP_CCFG_MAX || c->len + n + 1 > OVP_CCFG_MAX)
    {
        return -1;
    }
    if (c->len + n + 2 > c->cap)
    {
        size_t cap = c->cap ? c->cap : 256;
        char *buf;
        while (cap < c->len + n + 2)
        {
            cap *= 2;
        }
        buf = realloc(c->buf, cap);
        if (!buf)
        {
            return -1;
        }
        c->buf = buf;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, directive, n);
    c->len += n;
    c->buf[c->len++] = '\n';
    c->buf[c->len] = '\0';
    c->lines++;
    return 0;
}

int
ovp_ccfg_addf(struct ovp_ccfg *c, const char *fmt, ...)
{
    va_list ap;
    char *line = NULL;
    int n;
    int ret;

    if (!c || !fmt)
    {
        return -1;
    }
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= OVP_CCFG_MAX || !(line = malloc((size_t)n + 1)))
    {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ret = ovp_ccfg_add(c, line);
    free(line);
    return ret;
}

int
ovp_ccfg_to_list(const struct ovp_ccfg *c, struct openvpn_plugin_string_list **list)
{
    struct openvpn_plugin_string_list *node = NULL;

    if (!list)
    {
        return -1;
    }
    if (!c || !c->buf || c->len == 0)
    {
        *list = NULL;
        return 0;
    }
    /* The host frees node, name and value with free(): all three from malloc. */
    node = calloc(1, sizeof(*node));
    if (!node)
    {
        return -1;
    }
    node->name = strdup("config");
    node->value = strdup(c->buf);
    if (!node->name || !node->value)
    {
        ovp_string_list_free(node);
        return -1;
    }
    *list = node;
    return 0;
}

int
ovp_ccfg_write_file(const struct ovp_ccfg *c, const char *path)
{
    const char *p = c && c->buf ? c->buf : "";
    size_t left = c && c->buf ? c->len : 0;
    int fd = -1;
    int ret = -1;
    int saved;

    if (!path)
    {
        errno = EINVAL;
        return -1;
    }
    do
    {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
    {
        return -1;
    }
    while (left > 0)
    {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n < 0)
        {
            goto cleanup;
        }
        p += n;
        left -= (size_t)n;
    }
    ret = 0;

cleanup:
    saved = errno;
    if (close(fd) < 0 && ret == 0)
    {
        return -1;
    }
    errno = saved;
    return ret;
}

void
ovp_ccfg_clear(struct ovp_ccfg *c)
{
    if (!c)
    {
        return;
    }
    free(c->buf);
    memset(c, 0, sizeof(*c));
}

void
ovp_string_list_free(struct openvpn_plugin_string_list *list)
{
    while (list)
    {
        struct openvpn_plugin_string_list *next = list->next;
        if (list->value)
        {
            ovp_wipe(list->value, strlen(list->value));
        }
        free(list->value);
        free(list->name);
        free(list);
        list = next;
    }
}

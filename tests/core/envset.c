/* envset.c: an environment set as OpenVPN keeps one per client (newest entry first). */
#include "ovpbuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envset.h"
#include "refcore.h"

struct envitem
{
    char *s; /* "NAME=value" */
    struct envitem *next;
};

struct envset
{
    struct envitem *head;
    size_t n;
};

struct envset *
envset_new(void)
{
    return xcalloc(1, sizeof(struct envset));
}

static void
item_free(struct envitem *it)
{
    wipe(it->s, strlen(it->s));
    free(it->s);
    free(it);
}

void
envset_free(struct envset *es)
{
    if (!es)
    {
        return;
    }
    while (es->head)
    {
        struct envitem *next = es->head->next;

        item_free(es->head);
        es->head = next;
    }
    free(es);
}

/* 1 when entry S has name NAME (of length LEN). */
static int
name_is(const char *s, const char *name, size_t len)
{
    return strncmp(s, name, len) == 0 && (s[len] == '=' || s[len] == '\0');
}

static int
del_len(struct envset *es, const char *name, size_t len)
{
    struct envitem **pp = &es->head;

    while (*pp)
    {
        if (name_is((*pp)->s, name, len))
        {
            struct envitem *it = *pp;

            *pp = it->next;
            item_free(it);
            es->n--;
            return 1;
        }
        pp = &(*pp)->next;
    }
    return 0;
}

int
envset_del(struct envset *es, const char *name)
{
    return del_len(es, name, strlen(name));
}

int
envset_del_prefix(struct envset *es, const char *prefix)
{
    struct envitem **pp = &es->head;
    size_t len = strlen(prefix);
    int n = 0;

    while (*pp)
    {
        if (strncmp((*pp)->s, prefix, len) == 0)
        {
            struct envitem *it = *pp;

            *pp = it->next;
            item_free(it);
            es->n--;
            n++;
            continue;
        }
        pp = &(*pp)->next;
    }
    return n;
}

static void
push_front(struct envset *es, char *s)
{
    struct envitem *it = xmalloc(sizeof(*it));

    it->s = s;
    it->next = es->head;
    es->head = it;
    es->n++;
}

void
envset_add_line(struct envset *es, const char *line)
{
    const char *eq = strchr(line, '=');
    size_t len = eq ? (size_t)(eq - line) : strlen(line);

    del_len(es, line, len);
    push_front(es, xstrdup(line));
}

void
envset_set(struct envset *es, const char *name, const char *value)
{
    del_len(es, name, strlen(name));
    push_front(es, xasprintf("%s=%s", name, value ? value : ""));
}

void
envset_setf(struct envset *es, const char *name, const char *fmt, ...)
{
    va_list ap;
    char *v = NULL;

    va_start(ap, fmt);
    if (vasprintf(&v, fmt, ap) < 0)
    {
        abort();
    }
    va_end(ap);
    envset_set(es, name, v);
    free(v);
}

const char *
envset_get(const struct envset *es, const char *name)
{
    size_t len = strlen(name);

    for (const struct envitem *it = es->head; it; it = it->next)
    {
        if (name_is(it->s, name, len))
        {
            return it->s[len] == '=' ? it->s + len + 1 : "";
        }
    }
    return NULL;
}

size_t
envset_count(const struct envset *es)
{
    return es->n;
}

struct envset *
envset_clone(const struct envset *es)
{
    struct envset *c = envset_new();
    struct envitem **tail = &c->head;

    for (const struct envitem *it = es->head; it; it = it->next)
    {
        struct envitem *n = xmalloc(sizeof(*n));

        n->s = xstrdup(it->s);
        n->next = NULL;
        *tail = n;
        tail = &n->next;
        c->n++;
    }
    return c;
}

const char **
envset_array(const struct envset *es)
{
    const char **a = xcalloc(es->n + 1, sizeof(char *));
    size_t i = 0;

    for (const struct envitem *it = es->head; it; it = it->next)
    {
        a[i++] = it->s;
    }
    a[i] = NULL;
    return a;
}

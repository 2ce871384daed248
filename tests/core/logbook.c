/* logbook.c: the core's log: printing at a verbosity, recording lines, fatal exits. */
#include "ovpbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refcore.h"
#include "host.h"

static struct
{
    int verb;
    int quiet;
    char **ring; /* recorded lines, oldest at head */
    size_t cap, head, count;
} book = {.verb = 3};

static struct host *fatal_host;

uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t
now_s(void)
{
    return now_ns() / NS_PER_S;
}

void
logbook_init(int verb, int quiet, size_t max_lines)
{
    book.verb = verb;
    book.quiet = quiet;
    book.cap = max_lines;
    book.ring = max_lines ? xcalloc(max_lines, sizeof(char *)) : NULL;
    book.head = book.count = 0;
}

void
logbook_free(void)
{
    for (size_t i = 0; i < book.count; i++)
    {
        free(book.ring[(book.head + i) % book.cap]);
    }
    free(book.ring);
    book.ring = NULL;
    book.cap = book.head = book.count = 0;
}

int
logbook_verb(void)
{
    return book.verb;
}

void
logbook_set_quiet(int quiet)
{
    book.quiet = quiet;
}

void
logbook_line(int level, const char *line)
{
    if (level > book.verb)
    {
        return;
    }
    if (!book.quiet)
    {
        fprintf(stderr, "%s\n", line);
    }
    if (book.cap == 0)
    {
        return;
    }
    if (book.count == book.cap)
    {
        /* full: forget the oldest line */
        free(book.ring[book.head]);
        book.ring[book.head] = NULL;
        book.head = (book.head + 1) % book.cap;
        book.count--;
    }
    book.ring[(book.head + book.count) % book.cap] = xstrdup(line);
    book.count++;
}

void
core_msg(int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    if (level > book.verb)
    {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    logbook_line(level, line);
}

size_t
logbook_count(void)
{
    return book.count;
}

const char *
logbook_get(size_t i)
{
    if (i >= book.count)
    {
        return NULL;
    }
    return book.ring[(book.head + i) % book.cap];
}

long
logbook_find(const char *text, size_t from)
{
    for (size_t i = from; i < book.count; i++)
    {
        if (strstr(logbook_get(i), text))
        {
            return (long)i;
        }
    }
    return -1;
}

void
core_set_fatal_host(struct host *h)
{
    fatal_host = h;
}

void
core_fatal(const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* always shown, whatever the verbosity or quiet flag */
    fprintf(stderr, "FATAL: %s\n", line);
    if (book.cap)
    {
        int saved = book.quiet;

        book.quiet = 1;
        logbook_line(0, line);
        book.quiet = saved;
    }
    fflush(stdout);
    fflush(stderr);
    /* what openvpn_exit does: plugin_abort, then exit */
    if (fatal_host)
    {
        host_abort(fatal_host);
    }
    exit(1);
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
    {
        fprintf(stderr, "ovp-refcore: out of memory\n");
        abort();
    }
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
    {
        fprintf(stderr, "ovp-refcore: out of memory\n");
        abort();
    }
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
    {
        fprintf(stderr, "ovp-refcore: out of memory\n");
        abort();
    }
    return q;
}

char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);

    memcpy(p, s, n);
    return p;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
    {
        fprintf(stderr, "ovp-refcore: out of memory\n");
        abort();
    }
    return s;
}

void
wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n--)
    {
        *v++ = 0;
    }
}

int
parse_duration_ns(const char *s, uint64_t *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0 || v > 1e7)
    {
        return -1;
    }
    if (*end == '\0' || strcmp(end, "s") == 0)
    {
        *out = (uint64_t)(v * 1e9);
    }
    else if (strcmp(end, "ms") == 0)
    {
        *out = (uint64_t)(v * 1e6);
    }
    else
    {
        return -1;
    }
    return 0;
}

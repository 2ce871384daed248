/* fakehost.c: captures what a plugin logs through the host callbacks, for assertions. */
#include "ovpbuild.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"

#define FAKEHOST_MAX 8192

struct line
{
    int flags;
    char name[64];
    char text[2048];
};

static struct line lines[FAKEHOST_MAX];
static size_t nlines;
static pthread_t host_thread;
static unsigned foreign;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void
fakehost_reset(void)
{
    pthread_mutex_lock(&lock);
    nlines = 0;
    foreign = 0;
    host_thread = pthread_self();
    pthread_mutex_unlock(&lock);
}

void
fakehost_vlog(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&lock);
    if (!pthread_equal(pthread_self(), host_thread))
    {
        foreign++;
    }
    if (nlines < FAKEHOST_MAX)
    {
        struct line *l = &lines[nlines++];
        l->flags = flags;
        snprintf(l->name, sizeof(l->name), "%s", name ? name : "");
        vsnprintf(l->text, sizeof(l->text), fmt, ap);
    }
    pthread_mutex_unlock(&lock);
}

static void fakehost_log(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));
static void
fakehost_log(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fakehost_vlog(flags, name, fmt, ap);
    va_end(ap);
}

static void
fakehost_memzero(void *data, size_t len)
{
    volatile unsigned char *p = data;
    while (len--)
    {
        *p++ = 0;
    }
}

static int
fakehost_b64enc(const void *data, int size, char **str)
{
    (void)data;
    (void)size;
    *str = NULL;
    return -1;
}

static int
fakehost_b64dec(const char *str, void *data, int size)
{
    (void)str;
    (void)data;
    (void)size;
    return -1;
}

struct openvpn_plugin_callbacks fakehost_callbacks = {
    .plugin_log = fakehost_log,
    .plugin_vlog = fakehost_vlog,
    .plugin_secure_memzero = fakehost_memzero,
    .plugin_base64_encode = fakehost_b64enc,
    .plugin_base64_decode = fakehost_b64dec,
};

size_t
fakehost_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = nlines;
    pthread_mutex_unlock(&lock);
    return n;
}

const char *
fakehost_text(size_t i)
{
    return i < nlines ? lines[i].text : NULL;
}

int
fakehost_flags(size_t i)
{
    return i < nlines ? lines[i].flags : -1;
}

const char *
fakehost_name(size_t i)
{
    return i < nlines ? lines[i].name : NULL;
}

int
fakehost_find(const char *needle)
{
    pthread_mutex_lock(&lock);
    int found = -1;
    for (size_t i = 0; i < nlines; i++)
    {
        if (strstr(lines[i].text, needle))
        {
            found = (int)i;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

unsigned
fakehost_foreign_calls(void)
{
    return foreign;
}

void
fakehost_dump(void)
{
    for (size_t i = 0; i < nlines; i++)
    {
        fprintf(stderr, "fakehost[%zu] %s: %s\n", i, lines[i].name, lines[i].text);
    }
}

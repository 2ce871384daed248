/* log.c: logging through OpenVPN's callbacks, with a queue for lines from other threads. */
#include "ovpbuild.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "log.h"
#include "util.h"

struct qline
{
    int flags;
    char *text;
};

struct ovp_log
{
    char *module;
    plugin_vlog_t vlog;
    int verb;
    pthread_t host;     /* the only thread that may call vlog */
    pthread_mutex_t mu; /* guards the queue and the counters */
    struct qline *ring;
    size_t cap, head, count;
    unsigned long dropped;  /* since creation */
    unsigned long reported; /* dropped lines already reported */
};

struct ovp_log *
ovp_log_new(const char *module, plugin_vlog_t vlog, int verb, size_t queue_cap)
{
    struct ovp_log *log = calloc(1, sizeof(*log));
    if (!log)
    {
        return NULL;
    }
    log->module = strdup(module ? module : "ovp");
    log->cap = queue_cap ? queue_cap : OVP_LOG_QUEUE_DEFAULT;
    log->ring = calloc(log->cap, sizeof(*log->ring));
    if (!log->module || !log->ring)
    {
        free(log->module);
        free(log->ring);
        free(log);
        return NULL;
    }
    log->vlog = vlog;
    log->verb = verb;
    log->host = pthread_self();
    pthread_mutex_init(&log->mu, NULL);
    return log;
}

/* Turns varargs into the va_list the host's vlog takes. */
static void call_vlog(plugin_vlog_t f, int flags, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
call_vlog(plugin_vlog_t f, int flags, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    f((openvpn_plugin_log_flags_t)flags, name, fmt, ap);
    va_end(ap);
}

/* Hands one finished line to the host (or stderr when there is no host callback). */
static void
emit(struct ovp_log *log, int flags, const char *text)
{
    if (log->vlog)
    {
        /* Always through "%s": the text may hold '%' from user data. */
        call_vlog(log->vlog, flags, log->module, "%s", text);
    }
    else
    {
        fprintf(stderr, "%s: %s\n", log->module, text);
    }
}

size_t
ovp_log_drain(struct ovp_log *log)
{
    if (!log)
    {
        return 0;
    }
    size_t written = 0;
    pthread_mutex_lock(&log->mu);
    log->host = pthread_self();
    /* Take the lines out under the lock, then call the host without it held. */
    while (log->count > 0)
    {
        struct qline l = log->ring[log->head];
        log->ring[log->head].text = NULL;
        log->head = (log->head + 1) % log->cap;
        log->count--;
        pthread_mutex_unlock(&log->mu);
        emit(log, l.flags, l.text);
        free(l.text);
        written++;
        pthread_mutex_lock(&log->mu);
    }
    unsigned long lost = log->dropped - log->reported;
    log->reported = log->dropped;
    pthread_mutex_unlock(&log->mu);
    if (lost)
    {
        char msg[128];
        snprintf(msg, sizeof(msg),
                 "%lu log lines from worker threads were dropped (queue full)", lost);
        emit(log, PLOG_WARN, msg);
        written++;
    }
    return written;
}

void
ovp_log_free(struct ovp_log *log)
{
    if (!log)
    {
        return;
    }
    ovp_log_drain(log);
    pthread_mutex_destroy(&log->mu);
    free(log->ring);
    free(log->module);
    free(log);
}

/*
 * Replaces control characters so that a hostile value (a username, a backend's
 * reason text) cannot start a forged log line.
 */
static void
defang(char *s)
{
    for (; *s; s++)
    {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
        {
            *s = '?';
        }
    }
}

/* Formats PREFIX + FMT into BUF, resolving PLOG_ERRNO here with the caller's errno. */
static int format_line(char *buf, size_t len, const char *prefix, int flags, int saved_errno,
                       const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static int
format_line(char *buf, size_t len, const char *prefix, int flags, int saved_errno,
            const char *fmt, va_list ap)
{
    size_t off = 0;
    if (prefix && *prefix)
    {
        off = (size_t)snprintf(buf, len, "%s ", prefix);
        if (off >= len)
        {
            off = len - 1;
        }
    }
    int n = vsnprintf(buf + off, len - off, fmt, ap);
    if (n < 0)
    {
        snprintf(buf + off, len - off, "(unformattable log line)");
    }
    if (flags & PLOG_ERRNO)
    {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, ": %s (errno=%d)", strerror(saved_errno), saved_errno);
    }
    if (strlen(buf) == len - 1)
    {
        memcpy(buf + len - 4, "...", 4); /* cut: say so */
    }
    defang(buf);
    return flags & ~PLOG_ERRNO;
}

static void log_line(struct ovp_log *log, const char *prefix, int flags, const char *fmt,
                     va_list ap) __attribute__((format(printf, 4, 0)));
static void
log_line(struct ovp_log *log, const char *prefix, int flags, const char *fmt, va_list ap)
{
    int saved_errno = errno;
    if (!log || !fmt)
    {
        return;
    }
    /* DEBUG shows only at verb >= 7 on the host: do not even format it below that. */
    if ((flags & PLOG_DEBUG) && log->verb < 7)
    {
        errno = saved_errno;
        return;
    }
    char buf[OVP_LOG_LINE_MAX];
    flags = format_line(buf, sizeof(buf), prefix, flags, saved_errno, fmt, ap);

    pthread_mutex_lock(&log->mu);
    int on_host = pthread_equal(pthread_self(), log->host);
    if (!on_host)
    {
        /* Worker thread: the host's callbacks are not thread-safe, so queue. */
        if (log->count < log->cap)
        {
            char *copy = strdup(buf);
            if (copy)
            {
                size_t slot = (log->head + log->count) % log->cap;
                log->ring[slot].flags = flags;
                log->ring[slot].text = copy;
                log->count++;
            }
            else
            {
                log->dropped++;
            }
        }
        else
        {
            log->dropped++;
        }
        pthread_mutex_unlock(&log->mu);
        errno = saved_errno;
        return;
    }
    pthread_mutex_unlock(&log->mu);
    /* Keep order: what workers queued before this line goes first. */
    ovp_log_drain(log);
    emit(log, flags, buf);
    errno = saved_errno;
}

void
ovp_vlogf(struct ovp_log *log, int flags, const char *fmt, va_list ap)
{
    log_line(log, NULL, flags, fmt, ap);
}

void
ovp_logf(struct ovp_log *log, int flags, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(log, NULL, flags, fmt, ap);
    va_end(ap);
}

void
ovp_logf_client(struct ovp_log *log, const struct ovp_client_id *who, int flags,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(log, who ? who->text : NULL, flags, fmt, ap);
    va_end(ap);
}

/*
 * Why a budget: OpenVPN logs from its one thread, so a client that sends messages the
 * plugin complains about (10,000 challenge responses nobody asked for) would otherwise
 * have that thread format and write a line each, and fill the disk.
 */
void
ovp_logf_client_limited(struct ovp_log *log, struct ovp_log_limit *lim,
                        const struct ovp_client_id *who, int flags, const char *fmt, ...)
{
    unsigned long summary = 0;
    int64_t now, window_s = 0;
    va_list ap;

    if (!log || !fmt)
    {
        return;
    }
    if (lim)
    {
        now = ovp_now_ms();
        pthread_mutex_lock(&log->mu);
        if (lim->start_ms == 0 || now - lim->start_ms >= lim->window_ms)
        {
            summary = lim->suppressed;
            window_s = (now - lim->start_ms) / 1000;
            lim->start_ms = now;
            lim->used = 0;
            lim->suppressed = 0;
        }
        if (lim->used >= lim->burst)
        {
            lim->suppressed++;
            pthread_mutex_unlock(&log->mu);
            return;
        }
        lim->used++;
        pthread_mutex_unlock(&log->mu);
        if (summary)
        {
            ovp_logf(
                log, PLOG_WARN,
                "%lu more %s suppressed in the last %lld s (at most %u lines every %lld s)",
                summary, lim->what ? lim->what : "lines", (long long)window_s, lim->burst,
                (long long)(lim->window_ms / 1000));
        }
    }
    va_start(ap, fmt);
    log_line(log, who ? who->text : NULL, flags, fmt, ap);
    va_end(ap);
}

/* Copies at most MAX characters of S into DST, marking a cut with "...". */
static void
clip(char *dst, size_t dstlen, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
    {
        snprintf(dst, dstlen, "%.*s...", (int)max, s);
    }
    else
    {
        snprintf(dst, dstlen, "%s", s);
    }
}

void
ovp_client_id_from_env(struct ovp_client_id *who, const char *const *envp)
{
    if (!who)
    {
        return;
    }
    const char *cn = ovp_env_get_nonempty(envp, "common_name");
    if (!cn)
    {
        cn = ovp_env_get_nonempty(envp, "username");
    }
    const char *ip = ovp_env_client_ip(envp);
    const char *port = ovp_env_client_port(envp);
    char name[80], addr[80];
    clip(name, sizeof(name), cn ? cn : "?", 64);
    if (ip && port)
    {
        char a[64];
        clip(a, sizeof(a), ip, 46);
        snprintf(addr, sizeof(addr), "@%s:%.8s", a, port);
    }
    else if (ip)
    {
        clip(addr + 1, sizeof(addr) - 1, ip, 46);
        addr[0] = '@';
    }
    else
    {
        addr[0] = '\0';
    }
    snprintf(who->text, sizeof(who->text), "[%s%s]", name, addr);
    defang(who->text);
}

unsigned long
ovp_log_dropped(const struct ovp_log *log)
{
    if (!log)
    {
        return 0;
    }
    pthread_mutex_lock((pthread_mutex_t *)&log->mu);
    unsigned long d = log->dropped;
    pthread_mutex_unlock((pthread_mutex_t *)&log->mu);
    return d;
}

int
ovp_log_verb(const struct ovp_log *log)
{
    return log ? log->verb : 0;
}

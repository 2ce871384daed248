/* conn.c: a non-blocking stream socket carrying lines of text, on the event loop. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "refcore.h"

static void conn_event(struct watcher *w, uint32_t events);

static struct conn *
conn_of_watcher(struct watcher *w)
{
    return (struct conn *)((char *)w - offsetof(struct conn, w));
}

static struct conn *
conn_of_timer(struct timer *t)
{
    return (struct conn *)((char *)t - offsetof(struct conn, linger));
}

static void
linger_expired(struct timer *t)
{
    conn_close(conn_of_timer(t));
}

int
conn_start(struct conn *c, struct loop *l, int fd, int connecting)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    {
        return -1;
    }
    c->loop = l;
    c->w.fd = fd;
    c->w.events = 0;
    c->w.cb = conn_event;
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_off = c->out_cap = 0;
    c->closing = 0;
    c->on_done = NULL;
    c->connecting = connecting;
    timer_init(&c->linger, linger_expired);
    if (loop_watch(l, &c->w, connecting ? EPOLLOUT : EPOLLIN) < 0)
    {
        return -1;
    }
    c->open = 1;
    return 0;
}

void
conn_close(struct conn *c)
{
    void (*done)(struct conn * c) = c->on_done;

    if (!c->open)
    {
        return;
    }
    c->open = 0;
    c->on_done = NULL;
    timer_cancel(c->loop, &c->linger);
    loop_unwatch(c->loop, &c->w);
    close(c->w.fd);
    c->w.fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_off = c->out_cap = 0;
    if (c->closing && done)
    {
        done(c);
    }
}

/* Closes and tells the owner why (peer gone or protocol error). */
static void
conn_fail(struct conn *c, const char *why)
{
    int was_closing = c->closing;

    conn_close(c);
    if (!was_closing && c->on_close)
    {
        c->on_close(c, why);
    }
}

/* Sends queued output; returns 0, or -1 when the connection failed. */
static int
flush_out(struct conn *c)
{
    while (c->out_off < c->out_len)
    {
        ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

        if (n < 0)
        {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
                break;
            }
            if (errno == EINTR)
            {
                continue;
            }
            return -1;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len)
    {
        c->out_off = c->out_len = 0;
    }
    if (!c->connecting)
    {
        uint32_t want = EPOLLIN | (c->out_len ? EPOLLOUT : 0);

        if ((c->w.events & (EPOLLIN | EPOLLOUT)) != want)
        {
            loop_watch(c->loop, &c->w, want);
        }
    }
    if (c->closing && c->out_len == 0)
    {
        shutdown(c->w.fd, SHUT_WR);
    }
    return 0;
}

void
conn_send(struct conn *c, const char *line)
{
    size_t n = strlen(line);

    if (!c->open || c->closing)
    {
        return;
    }
    if (c->out_len + n + 1 > c->out_cap)
    {
        c->out_cap = (c->out_len + n + 1) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, line, n);
    c->out[c->out_len + n] = '\n';
    c->out_len += n + 1;
    if (!c->connecting && flush_out(c) < 0)
    {
        /* the reader will see the error; report it from the loop, not from here */
        loop_watch(c->loop, &c->w, EPOLLIN | EPOLLOUT);
    }
}

void
conn_sendf(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
    {
        abort();
    }
    va_end(ap);
    conn_send(c, s);
    free(s);
}

void
conn_finish(struct conn *c, uint64_t linger_ns, void (*done)(struct conn *c))
{
    if (c->closing)
    {
        return;
    }
    c->closing = 1;
    c->on_done = done;
    if (!c->open)
    {
        /* already gone */
        c->on_done = NULL;
        if (done)
        {
            done(c);
        }
        return;
    }
    if (flush_out(c) < 0)
    {
        conn_close(c);
        return;
    }
    timer_arm(c->loop, &c->linger, now_ns() + linger_ns);
}

/* Reads what is there; calls on_line per complete line. Returns -1 on EOF/error. */
static int
read_in(struct conn *c, const char **why)
{
    for (;;)
    {
        ssize_t n;

        if (c->in_cap - c->in_len < 4096)
        {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
            c->in = xrealloc(c->in, c->in_cap);
        }
        n = recv(c->w.fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
        if (n == 0)
        {
            *why = "connection closed by peer";
            return -1;
        }
        if (n < 0)
        {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
                return 0;
            }
            if (errno == EINTR)
            {
                continue;
            }
            *why = strerror(errno);
            return -1;
        }
        c->in_len += (size_t)n;
        if (c->closing)
        {
            c->in_len = 0; /* draining until the peer's EOF */
            continue;
        }
        /* hand out complete lines */
        for (;;)
        {
            char *nl = memchr(c->in, '\n', c->in_len);
            size_t used;

            if (!nl)
            {
                if (c->in_len > CONN_LINE_MAX)
                {
                    *why = "line too long";
                    return -1;
                }
                break;
            }
            *nl = '\0';
            if (nl > c->in && nl[-1] == '\r')
            {
                nl[-1] = '\0';
            }
            used = (size_t)(nl - c->in) + 1;
            {
                /* the callback may close the conn (and free c->in): copy out first */
                char *line = xmalloc(used);

                memcpy(line, c->in, used);
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                if (c->on_line)
                {
                    c->on_line(c, line);
                }
                wipe(line, used); /* lines may carry passwords */
                free(line);
            }
            if (!c->open || c->closing)
            {
                return 0;
            }
        }
    }
}

static void
conn_event(struct watcher *w, uint32_t events)
{
    struct conn *c = conn_of_watcher(w);
    const char *why = NULL;

    if (!c->open)
    {
        return;
    }
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
    {
        int err = 0;
        socklen_t len = sizeof(err);

        getsockopt(c->w.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c->connecting = 0;
        if (err)
        {
            conn_close(c);
            if (c->on_connect)
            {
                c->on_connect(c, err);
            }
            return;
        }
        loop_watch(c->loop, &c->w, EPOLLIN | (c->out_len ? EPOLLOUT : 0));
        if (c->on_connect)
        {
            c->on_connect(c, 0);
        }
        if (!c->open)
        {
            return;
        }
        if (flush_out(c) < 0)
        {
            conn_fail(c, strerror(errno));
            return;
        }
    }
    if (events & EPOLLOUT)
    {
        if (flush_out(c) < 0)
        {
            conn_fail(c, strerror(errno));
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    {
        if (read_in(c, &why) < 0)
        {
            conn_fail(c, why);
            return;
        }
    }
}

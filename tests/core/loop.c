/* loop.c: the single-threaded event loop: epoll for sockets, a heap of timers. */
#include "ovpbuild.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "refcore.h"

#define MAX_EVENTS 512

struct later
{
    void (*fn)(void *arg);
    void *arg;
};

struct loop
{
    int epfd;
    struct timer **heap;
    size_t n, cap;
    struct later *later; /* run after the current dispatch */
    size_t n_later, cap_later;
};

void
loop_later(struct loop *l, void (*fn)(void *arg), void *arg)
{
    if (l->n_later == l->cap_later)
    {
        l->cap_later = l->cap_later ? l->cap_later * 2 : 64;
        l->later = xrealloc(l->later, l->cap_later * sizeof(struct later));
    }
    l->later[l->n_later].fn = fn;
    l->later[l->n_later].arg = arg;
    l->n_later++;
}

static void
run_later(struct loop *l)
{
    /* a deferred function may defer more: run until none is left */
    while (l->n_later)
    {
        struct later x = l->later[--l->n_later];

        x.fn(x.arg);
    }
}

struct loop *
loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof(*l));

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
    {
        free(l);
        return NULL;
    }
    return l;
}

void
loop_free(struct loop *l)
{
    if (!l)
    {
        return;
    }
    for (size_t i = 0; i < l->n; i++)
    {
        l->heap[i]->pos = SIZE_MAX;
    }
    run_later(l);
    free(l->later);
    free(l->heap);
    close(l->epfd);
    free(l);
}

int
loop_watch(struct loop *l, struct watcher *w, uint32_t events)
{
    struct epoll_event ev;
    int op = w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    memset(&ev, 0, sizeof(ev));
    ev.events = events | EPOLLRDHUP;
    ev.data.ptr = w;
    if (epoll_ctl(l->epfd, op, w->fd, &ev) < 0)
    {
        return -1;
    }
    w->events = events | EPOLLRDHUP;
    return 0;
}

void
loop_unwatch(struct loop *l, struct watcher *w)
{
    if (w->events)
    {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->events = 0;
    }
}

/* ------------------------------------------------------------------ timers */

static void
heap_set(struct loop *l, size_t i, struct timer *t)
{
    l->heap[i] = t;
    t->pos = i;
}

static void
sift_up(struct loop *l, size_t i)
{
    struct timer *t = l->heap[i];

    while (i > 0)
    {
        size_t parent = (i - 1) / 2;

        if (l->heap[parent]->at <= t->at)
        {
            break;
        }
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void
sift_down(struct loop *l, size_t i)
{
    struct timer *t = l->heap[i];

    for (;;)
    {
        size_t c = 2 * i + 1;

        if (c >= l->n)
        {
            break;
        }
        if (c + 1 < l->n && l->heap[c + 1]->at < l->heap[c]->at)
        {
            c++;
        }
        if (l->heap[c]->at >= t->at)
        {
            break;
        }
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void
timer_init(struct timer *t, void (*cb)(struct timer *t))
{
    t->at = 0;
    t->pos = SIZE_MAX;
    t->cb = cb;
}

int
timer_armed(const struct timer *t)
{
    return t->pos != SIZE_MAX;
}

void
timer_cancel(struct loop *l, struct timer *t)
{
    size_t i = t->pos;

    if (i == SIZE_MAX)
    {
        return;
    }
    t->pos = SIZE_MAX;
    l->n--;
    if (i == l->n)
    {
        return;
    }
    struct timer *moved = l->heap[l->n];

    heap_set(l, i, moved);
    sift_up(l, i);
    sift_down(l, moved->pos);
}

void
timer_arm(struct loop *l, struct timer *t, uint64_t at)
{
    timer_cancel(l, t);
    if (l->n == l->cap)
    {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->heap = xrealloc(l->heap, l->cap * sizeof(struct timer *));
    }
    t->at = at;
    heap_set(l, l->n, t);
    l->n++;
    sift_up(l, l->n - 1);
}

int
loop_run_once(struct loop *l, uint64_t max_wait_ns)
{
    struct epoll_event ev[MAX_EVENTS];
    uint64_t now = now_ns();
    uint64_t wait = max_wait_ns;
    int timeout_ms, n, ran = 0;

    if (l->n)
    {
        uint64_t next = l->heap[0]->at;

        wait = next <= now ? 0 : (next - now < wait ? next - now : wait);
    }
    /* round up so a timer is not woken a little early, over and over */
    timeout_ms = (int)((wait + NS_PER_MS - 1) / NS_PER_MS);
    n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);
    if (n < 0)
    {
        if (errno != EINTR)
        {
            return -1;
        }
        n = 0;
    }
    for (int i = 0; i < n; i++)
    {
        struct watcher *w = ev[i].data.ptr;

        w->cb(w, ev[i].events);
        ran++;
    }
    run_later(l);
    now = now_ns();
    /* bounded: timers re-armed for "now" run on the next turn, not forever */
    for (size_t budget = l->n; budget > 0 && l->n && l->heap[0]->at <= now; budget--)
    {
        struct timer *t = l->heap[0];

        timer_cancel(l, t);
        t->cb(t);
        ran++;
    }
    run_later(l);
    return ran;
}

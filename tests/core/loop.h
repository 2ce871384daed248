/* loop.h: the single-threaded event loop: epoll for sockets, a heap of timers. */
#ifndef LOOP_H
#define LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

/* A file descriptor watched by the loop; embed it and recover the owner in CB. */
struct watcher
{
    int fd;
    uint32_t events; /* EPOLLIN / EPOLLOUT currently asked for */
    void (*cb)(struct watcher *w, uint32_t events);
};

/* A one-shot timer; embed it. POS is the heap slot (or SIZE_MAX when not armed). */
struct timer
{
    uint64_t at; /* CLOCK_MONOTONIC ns */
    size_t pos;
    void (*cb)(struct timer *t);
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Starts watching W->fd for EVENTS, or changes the events. Returns 0 or -1. */
int loop_watch(struct loop *l, struct watcher *w, uint32_t events);

/* Stops watching W (before closing its fd). */
void loop_unwatch(struct loop *l, struct watcher *w);

/* Initialises T (not armed). */
void timer_init(struct timer *t, void (*cb)(struct timer *t));

/* Arms T to fire at AT (re-arming moves it). */
void timer_arm(struct loop *l, struct timer *t, uint64_t at);

/* Disarms T if armed. */
void timer_cancel(struct loop *l, struct timer *t);

/* 1 when T is armed. */
int timer_armed(const struct timer *t);

/*
 * Runs FN(ARG) once the current batch of callbacks is over: free objects here,
 * so a watcher later in the same epoll batch is never used after being freed.
 */
void loop_later(struct loop *l, void (*fn)(void *arg), void *arg);

/*
 * Waits for sockets up to MAX_WAIT_NS (or the next timer), dispatches ready
 * sockets, then due timers. Returns the number of callbacks run, -1 on error.
 */
int loop_run_once(struct loop *l, uint64_t max_wait_ns);

#endif

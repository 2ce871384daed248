/* conn.h: a non-blocking stream socket carrying lines of text, on the event loop. */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define CONN_LINE_MAX 65536

struct conn
{
    struct watcher w;
    struct loop *loop;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
    int open;       /* fd valid and watched */
    int closing;    /* our side is done: flushing, then waiting for the peer's EOF */
    int connecting; /* non-blocking connect in progress */
    struct timer linger;
    /* a full line arrived (NUL-terminated, newline removed); may close the conn */
    void (*on_line)(struct conn *c, char *line);
    /* the peer closed, reset, or sent garbage; the conn is already closed */
    void (*on_close)(struct conn *c, const char *why);
    /* a finishing connection is closed at last (from conn_finish) */
    void (*on_done)(struct conn *c);
    /* a non-blocking connect finished (0) or failed (errno) */
    void (*on_connect)(struct conn *c, int err);
    void *owner;
};

/* Takes FD (made non-blocking) and starts reading. Returns 0 or -1. */
int conn_start(struct conn *c, struct loop *l, int fd, int connecting);

/* Queues LINE plus a newline; sends what the socket takes now. */
void conn_send(struct conn *c, const char *line);
void conn_sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Closes now: no further callbacks. Safe to call twice. */
void conn_close(struct conn *c);

/*
 * Finishes gracefully: what is queued is sent, our side is shut down, and the
 * socket is closed when the peer closes (or after LINGER_NS); then DONE runs
 * (also at once, from the loop, if the conn was already closed). on_close is not
 * called. Incoming lines are ignored from now on.
 */
void conn_finish(struct conn *c, uint64_t linger_ns, void (*done)(struct conn *c));

#endif

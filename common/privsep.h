/* privsep.h: a root helper process forked at open, and the framed channel to it. */
#ifndef OVP_PRIVSEP_H
#define OVP_PRIVSEP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ovp_log;

/*
 * Frames on a SOCK_SEQPACKET socketpair: a 12-byte header (u32 length of the
 * payload, u16 type, u16 flags, u32 request id, all in host order since both ends
 * are one program) then the payload. A frame is never larger than the hard
 * maximum given at start (at most OVP_PRIV_FRAME_ABSMAX); larger, truncated or
 * inconsistent frames are protocol errors that end the channel.
 */
#define OVP_PRIV_HDR_LEN      12
#define OVP_PRIV_FRAME_ABSMAX (256 * 1024)

/* Types below 16 belong to the channel itself; plugins use 16 and up. */
enum ovp_priv_type
{
    OVP_PRIV_EXIT = 1,  /* unprivileged -> helper: finish and exit */
    OVP_PRIV_LOG = 2,   /* helper -> unprivileged: flags(u32) + text */
    OVP_PRIV_ERROR = 3, /* helper -> unprivileged: request refused, payload = reason */
    OVP_PRIV_USER = 16,
};

struct ovp_priv_frame
{
    uint16_t type;
    uint16_t flags;
    uint32_t id;
    uint8_t *payload; /* points into the receive buffer; valid until the next recv */
    size_t len;
};

/* The helper side's view of the channel, given to the answer callback. */
struct ovp_priv_chan;

/*
 * Called in the helper for each permitted request. Runs as root: treat the
 * payload as hostile. Answer with ovp_priv_reply (any number of times, e.g. zero
 * for fire-and-forget). Return 0 to go on, -1 to end the helper.
 */
typedef int (*ovp_priv_answer_fn)(struct ovp_priv_chan *chan, void *ctx,
                                  const struct ovp_priv_frame *req);

struct ovp_priv_spec
{
    const char *name;          /* for log lines, e.g. "down-root helper" */
    const uint16_t *permitted; /* request types the helper accepts (>= OVP_PRIV_USER) */
    size_t n_permitted;
    size_t max_frame;          /* hard maximum payload; 0 = 64 KiB */
    ovp_priv_answer_fn answer; /* runs in the helper */
    void *ctx;                 /* given to init and answer, in the helper's copy */
    /* Optional, runs in the helper right after fork and fd/signal reset. -1 exits. */
    int (*init)(struct ovp_priv_chan *chan, void *ctx);
    /* Optional, runs in the helper when it is about to exit. */
    void (*fini)(void *ctx);
};

/* The unprivileged side's handle. */
struct ovp_priv;

/*
 * Forks the helper. Must be called before any thread exists (at open). In the
 * child: every fd but the channel is closed, 0/1/2 point at /dev/null, signal
 * handlers are reset to default with SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE
 * ignored (the helper outlives OpenVPN's signals to serve DOWN) and the mask
 * cleared; the helper exits when the channel closes (OpenVPN gone).
 * LOG receives the helper's log frames in the parent. Returns NULL with ERR set.
 */
struct ovp_priv *ovp_priv_start(const struct ovp_priv_spec *spec, struct ovp_log *log,
                                char *err, size_t errlen);

/* Sends one request. Thread-safe. Returns 0, or -1 (helper gone / frame too big). */
int ovp_priv_send(struct ovp_priv *p, uint16_t type, uint32_t id, const void *payload,
                  size_t len);

/*
 * Receives the next non-LOG frame (LOG frames are passed to the logger on the
 * way), waiting at most TIMEOUT_MS (-1 forever). Use from one thread at a time.
 * Returns 1 with *F filled, 0 on timeout, -1 when the helper is gone or broke the
 * protocol (the reason is logged once; the handle then answers -1 forever).
 */
int ovp_priv_recv(struct ovp_priv *p, struct ovp_priv_frame *f, int timeout_ms);

/*
 * Send a request and wait for the frame with the same id (frames with other ids
 * are dropped with a debug line). Convenience for a single caller.
 * Returns 1, 0 on timeout, -1 as for recv.
 */
int ovp_priv_call(struct ovp_priv *p, uint16_t type, uint32_t id, const void *payload,
                  size_t len, struct ovp_priv_frame *reply, int timeout_ms);

/* 1 while the channel works and the helper has not exited. */
int ovp_priv_alive(struct ovp_priv *p);

/*
 * SIGKILLs the helper at once, without waiting or freeing: for abort paths, when
 * OpenVPN is exiting abnormally. Through the pidfd when there is one, so a recycled
 * pid is never hit. ovp_priv_stop still reaps and frees afterwards. NULL-safe.
 */
void ovp_priv_kill(struct ovp_priv *p);

/* The helper's pid (for tests), or -1. */
pid_t ovp_priv_pid(const struct ovp_priv *p);

/* The channel's fd, to poll for readability from an event loop. */
int ovp_priv_fd(const struct ovp_priv *p);

/*
 * Sends EXIT, waits up to TIMEOUT_MS for the helper to exit, then SIGKILLs it;
 * reaps it with waitpid and frees. Returns the helper's wait status, or -1.
 * NULL-safe.
 */
int ovp_priv_stop(struct ovp_priv *p, int timeout_ms);

/* --- helper side (runs as root in the child) --- */

/* Sends a reply frame. Returns 0 or -1. Safe from forked grandchildren too. */
int ovp_priv_reply(struct ovp_priv_chan *chan, uint16_t type, uint32_t id, const void *payload,
                   size_t len);

/* Sends a log line to the unprivileged side (which logs it as its own). */
void ovp_priv_log(struct ovp_priv_chan *chan, int flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The channel fd in the helper (for a helper running its own poll loop). */
int ovp_priv_chan_fd(const struct ovp_priv_chan *chan);

/*
 * Encoding helpers for payloads: a sequence of length-prefixed (u32) byte
 * strings. ovp_priv_pack appends; ovp_priv_unpack reads the next one, checking
 * bounds. Return 0, or -1 on overflow / truncation.
 */
struct ovp_priv_buf
{
    uint8_t *data;
    size_t len, cap; /* cap is a hard limit given by the caller */
};
int ovp_priv_pack(struct ovp_priv_buf *b, const void *s, size_t n);
int ovp_priv_pack_str(struct ovp_priv_buf *b, const char *s);
int ovp_priv_unpack(const uint8_t *data, size_t len, size_t *pos, const uint8_t **s, size_t *n);

#endif

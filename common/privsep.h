/* privsep.h: a root helper program exec'd at open, and the framed channel to it. */
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
    OVP_PRIV_EXIT = 1,   /* unprivileged -> helper: finish and exit */
    OVP_PRIV_LOG = 2,    /* helper -> unprivileged: flags(u32) + text */
    OVP_PRIV_ERROR = 3,  /* helper -> unprivileged: request refused, payload = reason */
    OVP_PRIV_CONFIG = 4, /* unprivileged -> helper, the first frame: what the helper does */
    OVP_PRIV_READY = 5,  /* helper -> unprivileged: configured, serving requests */
    OVP_PRIV_PARK = 6,   /* unprivileged -> helper: the plugin closed; drop what runs */
    OVP_PRIV_PARKED = 7, /* helper -> unprivileged: nothing of before will answer now */
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

/*
 * The unprivileged side: which program to exec and what to tell it. The helper
 * is a program of ours, exec'd (never a bare fork of OpenVPN's image, whose libc
 * state, such as a syslog fd or locks other threads held, must not reach root).
 */
struct ovp_priv_spec
{
    const char *name;    /* for log lines, e.g. "down-root helper" */
    const char *program; /* an absolute path, or a file name: see ovp_priv_start */
    const char *arg;     /* optional single argument for the program (tests), or NULL */
    size_t max_frame;    /* hard maximum payload; 0 = 64 KiB; the helper's must match */
    const void *config;  /* the CONFIG frame: everything the helper needs to know */
    size_t config_len;
    int start_timeout_ms; /* how long to wait for READY; 0 = 10 s */
};

/* The unprivileged side's handle. */
struct ovp_priv;

/*
 * Starts the helper, or adopts one this process started earlier (a SIGHUP
 * reload: OpenVPN closed the plugin with ovp_priv_park and opens it again, now
 * perhaps without root). A file-name PROGRAM is looked up beside the plugin when
 * the plugin runs from its libtool build directory (.libs), else in the
 * installed OVP_HELPERDIR; the program must be a regular executable file that
 * only root (or this user) can modify, in directories (up to /) only they can modify.
 *
 * Start: socketpair, fork, and in the child nothing but async-signal-safe calls
 * up to execve: the channel becomes fd 3, every other fd above 2 is closed,
 * handlers are reset and the mask cleared. Then the CONFIG frame is sent and
 * READY awaited (the helper's init may refuse the configuration: ERR says why).
 *
 * Adoption: a parked helper of the same program that is still alive is taken
 * over (its log lines go to LOG from now on). If its configuration differs and
 * this process is root, it is stopped and a new one started; without root the
 * running one is kept and a warning says the change needs a restart.
 *
 * Without root and with nothing to adopt no helper is started (a helper without
 * root would refuse right passwords): NULL with errno EPERM and ERR saying so.
 * Any other failure: NULL with ERR set. Call before starting threads of your own.
 */
struct ovp_priv *ovp_priv_start(const struct ovp_priv_spec *spec, struct ovp_log *log,
                                char *err, size_t errlen);

/*
 * 1 if ovp_priv_start adopted a running helper, 2 if it did so although the
 * configuration differed (the change was not applied), 0 for a new helper.
 */
int ovp_priv_adopted(const struct ovp_priv *p);

/*
 * At a plugin's close, after its own threads stopped using P: keeps the helper
 * running for the next open in this process instead of stopping it (OpenVPN may
 * reopen the plugin without root, which could not start a new one). Sends PARK
 * and waits (at most TIMEOUT_MS) for PARKED, dropping the replies that arrive
 * before it, so the adopter starts with an empty channel. The helper exits when
 * OpenVPN does (its channel closes). A dead or silent helper is stopped and
 * freed instead. NULL-safe; P must not be used afterwards. Needs the plugin
 * linked -z nodelete, so that the parked handle outlives dlclose.
 */
void ovp_priv_park(struct ovp_priv *p, int timeout_ms);

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

/* --- helper side (runs as root in the exec'd helper program) --- */

struct ovp_priv_helper
{
    const char *name;          /* for messages, e.g. "down-root helper" */
    const uint16_t *permitted; /* request types the helper accepts (>= OVP_PRIV_USER) */
    size_t n_permitted;
    size_t max_frame; /* hard maximum payload; 0 = 64 KiB; must match the spec's */
    /*
     * Runs once with the CONFIG frame's payload (hostile: validate all of it).
     * Sets *CTX for answer and fini. Returns 0, or -1 with ERR set (sent back to
     * the unprivileged side, which reports it); the helper then exits.
     */
    int (*init)(struct ovp_priv_chan *chan, const uint8_t *config, size_t len, void **ctx,
                char *err, size_t errlen);
    ovp_priv_answer_fn answer; /* for each permitted request */
    void (*fini)(void *ctx);   /* optional, when the helper is about to exit */
    /*
     * Optional, at OVP_PRIV_PARK (the plugin closed, a reload may follow): end
     * whatever is still running for requests of the closed plugin, so that no
     * answer to them can reach the plugin that adopts the helper. Replies already
     * sent arrive before PARKED and are dropped by the unprivileged side.
     */
    void (*park)(struct ovp_priv_chan *chan, void *ctx);
};

/*
 * The helper program's main: checks that fd 3 is the channel (else says the
 * program is not for running by hand and returns 64), leaves only 0/1/2 on
 * /dev/null and the channel, resets signals (default, with SIGINT, SIGHUP,
 * SIGTERM, SIGUSR1, SIGUSR2 and SIGPIPE ignored: the helper ends when OpenVPN's
 * end of the channel closes, so a signal to the whole process group, as systemd
 * sends at stop, still lets DOWN run), makes the process non-dumpable, reads the
 * CONFIG frame, runs init, answers READY and serves requests until EXIT or end
 * of file. Returns the exit code.
 */
int ovp_priv_helper_main(const struct ovp_priv_helper *h, int argc, char **argv);

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

/*
 * Checks one received datagram (N bytes in BUF) as a frame: the 12-byte header
 * (payload length, type, flags, id, host order) and a payload of exactly the
 * length it claims, at most MAX_FRAME. Fills F (payload points into BUF).
 * Returns 0, or -1 with the reason in WHY. Pure: the fuzzers drive it.
 */
int ovp_priv_frame_parse(const uint8_t *buf, size_t n, size_t max_frame,
                         struct ovp_priv_frame *f, char *why, size_t whylen);

/*
 * Decodes a LOG frame's payload (u32 flags, then text): FLAGS keeps only the level
 * bits and PLOG_NOMUTE (NOTE when none is set); TEXT gets at most TEXTLEN - 1
 * bytes, each control byte replaced by '?'. Returns 0, or -1 when shorter than
 * the flags.
 */
int ovp_priv_log_decode(const uint8_t *payload, size_t len, int *flags, char *text,
                        size_t textlen);

#endif

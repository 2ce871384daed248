/* log.h: logging through OpenVPN's callbacks, safe to call from any thread. */
#ifndef OVP_LOG_H
#define OVP_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <openvpn/openvpn-plugin.h>

/* Longest single log line; longer lines are cut and end in "...". */
#define OVP_LOG_LINE_MAX 1024
/* Default number of lines a worker thread may queue before lines are dropped. */
#define OVP_LOG_QUEUE_DEFAULT 4096

/*
 * Who a client-scoped line is about: "[cn@ip:port]". Filled from envp at the
 * entry point and copied into any request handed to a worker, so that a worker's
 * lines carry the same context. Fixed-size, so it is safe to copy by value.
 */
struct ovp_client_id
{
    char text[192];
};

struct ovp_log;

/*
 * Creates a logger that forwards to VLOG (the host's plugin_vlog; may be NULL, in
 * which case lines go to stderr) under module name MODULE (copied). QUEUE_CAP
 * bounds the lines worker threads may have waiting. The calling thread becomes
 * the host thread: only it calls VLOG. VERB is the host's verbosity (lines with
 * PLOG_DEBUG are dropped early below 7). Returns NULL when out of memory.
 */
struct ovp_log *ovp_log_new(const char *module, plugin_vlog_t vlog, int verb, size_t queue_cap);

/* Drains what is queued (from the host thread) and frees. NULL-safe. */
void ovp_log_free(struct ovp_log *log);

/*
 * Marks the calling thread as the host thread and writes every queued line
 * through the host callback. Call at each entry point and at close.
 * Returns the number of lines written.
 */
size_t ovp_log_drain(struct ovp_log *log);

/*
 * Logs one line. FLAGS are PLOG_* bits. On the host thread the line goes straight
 * to the host; on any other thread it is queued (PLOG_ERRNO is resolved first, on
 * the calling thread). When the queue is full the line is dropped and counted; the
 * count is reported at the next drain. Never pass a secret here.
 */
void ovp_logf(struct ovp_log *log, int flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ovp_vlogf(struct ovp_log *log, int flags, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Same, prefixed with the client context "[cn@ip:port] ". WHO may be NULL. */
void ovp_logf_client(struct ovp_log *log, const struct ovp_client_id *who, int flags,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A budget for lines a client can provoke at will (an unsolicited challenge response
 * costs it one message): at most BURST lines every WINDOW_MS, then silence, and one
 * summary line saying how many were suppressed when the next window opens. WHAT names
 * them in that summary ("challenge response complaints"). One per kind of line in the
 * plugin state; zero-initialised members, set with OVP_LOG_LIMIT_INIT. Guarded by the
 * log's lock: usable from any thread.
 */
struct ovp_log_limit
{
    const char *what;
    unsigned burst;
    int64_t window_ms;
    int64_t start_ms;         /* of the current window (0: none yet) */
    unsigned used;            /* lines logged in the current window */
    unsigned long suppressed; /* in the current window */
};
#define OVP_LOG_LIMIT_INIT(what, burst, window_ms)                                             \
    {                                                                                          \
        (what), (burst), (window_ms), 0, 0, 0                                                  \
    }
/* The budget for complaints about what one client sends: 10 lines every 10 s. */
#define OVP_LOG_LIMIT_CLIENT(what) OVP_LOG_LIMIT_INIT((what), 10, 10000)

/* ovp_logf_client within the budget LIM (NULL: no budget). */
void ovp_logf_client_limited(struct ovp_log *log, struct ovp_log_limit *lim,
                             const struct ovp_client_id *who, int flags, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Fills WHO from an event's envp: common_name (else username, else "?") and the
 * client address and port (untrusted_* else trusted_*). Control characters in
 * the name are replaced so a hostile name cannot forge log lines.
 */
void ovp_client_id_from_env(struct ovp_client_id *who, const char *const *envp);

/* Lines dropped because the queue was full, since creation. */
unsigned long ovp_log_dropped(const struct ovp_log *log);

/* The verbosity given at creation. */
int ovp_log_verb(const struct ovp_log *log);

/* Convenience macros: ovp_err(log, "x %d", n) and friends. */
#define ovp_err(log, ...)   ovp_logf((log), PLOG_ERR, __VA_ARGS__)
#define ovp_warn(log, ...)  ovp_logf((log), PLOG_WARN, __VA_ARGS__)
#define ovp_note(log, ...)  ovp_logf((log), PLOG_NOTE, __VA_ARGS__)
#define ovp_debug(log, ...) ovp_logf((log), PLOG_DEBUG, __VA_ARGS__)

#endif

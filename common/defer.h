/* defer.h: the asynchronous engine behind every deferred authentication. */
#ifndef OVP_DEFER_H
#define OVP_DEFER_H

#include <stddef.h>
#include <stdint.h>
#include "log.h"

/*
 * Life of a request: the auth hook copies what it needs with
 * ovp_defer_req_from_env, hands it to ovp_defer_submit and returns DEFERRED.
 * A worker (or the plugin's own event-driven backend thread) decides; the engine
 * writes the reason file, then the control file, logs one line with the client's
 * name and address, wipes the password and frees the request. A deadline below
 * OpenVPN's hand-window is enforced even if the backend never answers.
 */

enum ovp_verdict
{
    OVP_DENY = 0,  /* wrong credentials, account refused: AUTH_FAILED,<reason> */
    OVP_ALLOW = 1, /* authenticated */
    OVP_TEMP = 2,  /* the backend is at fault: AUTH_FAILED,TEMP...: client retries */
};

#define OVP_REASON_MAX 256

/* A copy of one auth call, owned by the engine once submitted. */
struct ovp_defer_req
{
    uint64_t id;              /* set at submit: 1, 2, ... */
    struct ovp_client_id who; /* "[cn@ip:port]" for log lines */
    char *username;
    char *password; /* secret: wiped and freed with the request */
    char *common_name;
    char *client_ip;
    char *client_port;
    char *control_file;            /* auth_control_file (required) */
    char *reason_file;             /* auth_failed_reason_file (may be NULL) */
    char *pending_file;            /* auth_pending_file (may be NULL) */
    char *session_state;           /* auth-gen-token state (may be NULL) */
    char *iv_sso;                  /* client's IV_SSO (may be NULL) */
    void *data;                    /* the plugin's own copy of anything else */
    void (*free_data)(void *data); /* frees DATA (wiping what it must); may be NULL */
    unsigned deadline_ms;          /* set before submit: this request's deadline (e.g. a
                                    * client given time to answer a challenge); 0: the
                                    * engine's conf.deadline_ms */

    /* engine-private */
    uint64_t submitted_ns;
    uint64_t deadline_ns;
    size_t heap_pos; /* index in the engine's deadline heap */
    int state;
    int held;
    int waiter;         /* the submitting thread waits inline for it */
    int inline_verdict; /* the holder's answer, handed to the waiter */
    char inline_reason[OVP_REASON_MAX];
    struct ovp_defer_req *prev, *next;
};

struct ovp_defer_result
{
    int verdict;                 /* enum ovp_verdict */
    char reason[OVP_REASON_MAX]; /* client-visible text; "" = a generic one */
};

struct ovp_defer_ops
{
    /*
     * Worker mode: decide REQ, blocking as long as the backend needs, and fill RES.
     * Runs on a worker thread: log only through ovp_logf / ovp_logf_client.
     */
    void (*run)(void *state, struct ovp_defer_req *req, struct ovp_defer_result *res);
    /*
     * Called once at close before workers are joined: make blocking calls in run
     * return soon (shut a socket down, wake a loop). May be NULL.
     */
    void (*cancel)(void *state);
};

struct ovp_defer_conf
{
    unsigned workers;     /* >0: worker threads calling ops.run; 0: event-driven
                           * (the plugin takes requests with ovp_defer_take) */
    unsigned queue_max;   /* requests waiting or in flight before submit fails */
    unsigned deadline_ms; /* from submit to a forced TEMP answer (a request may set its own) */
    const char *what;     /* backend name for messages, e.g. "PAM", "LDAP" */
};

/* Engine counters. */
struct ovp_defer_stats
{
    unsigned long submitted, allowed, denied, temp, timed_out, rejected, cancelled;
    unsigned long pending;         /* queued or in flight now */
    unsigned long answered_inline; /* of allowed, denied, temp: answered within the
                                    * submitter's inline wait (no control file) */
};

struct ovp_defer;

/*
 * Starts the engine (and its worker and deadline threads): call from open, after
 * any privsep helper was forked. STATE is passed to ops. Returns NULL with ERR set.
 */
struct ovp_defer *ovp_defer_new(const struct ovp_defer_conf *conf,
                                const struct ovp_defer_ops *ops, void *state,
                                struct ovp_log *log, char *err, size_t errlen);

/*
 * Copies an AUTH_USER_PASS_VERIFY call's envp into a new request. Returns NULL
 * with ERR set when auth_control_file is missing or memory runs out.
 */
struct ovp_defer_req *ovp_defer_req_from_env(const char *const *envp, char *err, size_t errlen);

/* Frees a request that was never submitted (wiping the password). NULL-safe. */
void ovp_defer_req_free(struct ovp_defer_req *req);

/*
 * Takes ownership of REQ and queues it. Returns 0: the hook returns DEFERRED.
 * Returns -1 when the queue is full or the engine is closing: the TEMP reason has
 * been written to the reason file and logged, REQ is freed, and the hook returns
 * ERROR (OpenVPN then sends AUTH_FAILED with that reason).
 */
int ovp_defer_submit(struct ovp_defer *d, struct ovp_defer_req *req);

/* The longest inline wait: it stalls OpenVPN's event loop (every tunnel) that long. */
#define OVP_DEFER_INLINE_WAIT_MAX_US 10000

/* What ovp_defer_submit_wait did with a request. */
enum ovp_defer_outcome
{
    OVP_DEFER_REJECTED = -1, /* as ovp_defer_submit's -1: reason written, return ERROR */
    OVP_DEFER_QUEUED = 0,    /* answered later, through the control file: DEFERRED */
    OVP_DEFER_ALLOWED = 1,   /* answered within the wait, allowed: return SUCCESS */
    OVP_DEFER_REFUSED = 2,   /* answered within the wait, refused or TEMP: the reason
                              * file is written and the line logged: return ERROR */
};

/*
 * ovp_defer_submit, then a bounded wait on the calling thread (OpenVPN's) for an
 * answer already on its way. WAKE (may be NULL) is called with ARG once REQ is
 * queued, before the wait: it tells an event-driven backend thread there is work.
 * Whoever answers first decides, under the engine's lock: a holder's verdict that
 * arrives within WAIT_US (capped at OVP_DEFER_INLINE_WAIT_MAX_US) is handed to this
 * thread, which writes only the reason file (OpenVPN reads it after a synchronous
 * ERROR and deletes the auth files after any non-deferred return) and logs the same
 * line as a deferred answer; otherwise the request stays deferred and its control
 * file is written later, as for ovp_defer_submit. Never both, never neither. A
 * request answered by the deadline or close during the wait is QUEUED (its control
 * file holds the answer). REQ is owned by the engine and must not be used after the
 * call. Returns enum ovp_defer_outcome. WAIT_US 0 is ovp_defer_submit plus WAKE.
 * Not to be called while ovp_defer_close runs on another thread.
 */
int ovp_defer_submit_wait(struct ovp_defer *d, struct ovp_defer_req *req, unsigned wait_us,
                          void (*wake)(void *arg), void *arg);

/*
 * Event-driven mode: the plugin's backend thread takes the next request, waiting
 * up to TIMEOUT_MS (-1 forever). NULL on timeout or when the engine is closing.
 * The taker holds REQ until it calls ovp_defer_finish, even if the deadline passed
 * meanwhile (then the answer was already sent and finish only frees).
 */
struct ovp_defer_req *ovp_defer_take(struct ovp_defer *d, int timeout_ms);

/*
 * Answers REQ (any thread), unless the deadline or close answered it first, and
 * frees it. VERDICT is enum ovp_verdict; REASON may be NULL. For OVP_TEMP the
 * reason is made to start with "TEMP" so the client retries.
 */
void ovp_defer_finish(struct ovp_defer *d, struct ovp_defer_req *req, int verdict,
                      const char *reason);

/* 1 when REQ was already answered (deadline or close): stop working on it. */
int ovp_defer_req_answered(const struct ovp_defer_req *req);

/*
 * Stops the engine: refuses new requests, answers queued and in-flight ones with
 * TEMP ("server is reloading"), calls ops.cancel, joins every thread, frees.
 * After it returns no engine thread runs plugin code, so the host may dlclose.
 * Event-driven plugins must stop their own backend thread in ops.cancel (or before
 * calling close); nothing may call ovp_defer_take or ovp_defer_finish afterwards.
 * NULL-safe.
 */
void ovp_defer_close(struct ovp_defer *d);

/* Snapshot of the counters. */
void ovp_defer_get_stats(struct ovp_defer *d, struct ovp_defer_stats *st);

/*
 * Writes a deferred answer the way OpenVPN wants it: REASON (if REASON_FILE and
 * REASON are non-NULL and non-empty) to the reason file first, then '1' (allow)
 * or '0' to the control file. Files are opened without O_CREAT: OpenVPN made them.
 * If the reason file cannot be written the control file is still written (a client
 * without a reason beats one left hanging until hand-window) and -1 is returned
 * with "(control file written)" in ERR. Returns 0, or -1 with ERR set.
 */
int ovp_auth_write_answer(const char *control_file, const char *reason_file, int allow,
                          const char *reason, char *err, size_t errlen);

/* Writes only the reason file (used before returning ERROR). Returns 0 or -1. */
int ovp_auth_write_reason(const char *reason_file, const char *reason, char *err,
                          size_t errlen);

/*
 * Writes auth_pending_file: line 1 TIMEOUT_S, line 2 METHOD (e.g. "crtext"),
 * line 3 TEXT (e.g. "CR_TEXT:E,R:Enter your code"). Must happen before the hook
 * returns DEFERRED: OpenVPN reads it once, right then. Returns 0 or -1.
 */
int ovp_auth_write_pending(const char *pending_file, unsigned timeout_s, const char *method,
                           const char *text, char *err, size_t errlen);

#endif

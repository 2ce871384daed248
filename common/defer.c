/* defer.c: the asynchronous engine behind deferred authentication (queue, deadline, answer). */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "defer.h"
#include "env.h"
#include "secret.h"
#include "util.h"

/*
 * Locking and ownership, in short:
 * - One mutex guards the engine and the list links of every request it owns.
 * - LIVE holds every unanswered request in submit order. Requests are taken
 *   oldest first, so the taken ones are a prefix of LIVE and NEXT_QUEUED marks
 *   where the waiting ones start.
 * - HEAP holds the same requests as a binary min-heap on the deadline (a request
 *   may carry its own deadline, so submit order is not deadline order): the
 *   deadline thread only ever looks at its top. Insert and removal are O(log n)
 *   under the mutex; the array is sized for queue_max at start, so no allocation
 *   happens on OpenVPN's thread.
 * - Whoever answers first (holder, deadline thread, close) claims the request under
 *   the mutex (state ANSWERING, unlinked from LIVE), then writes the files and logs
 *   with the mutex released. A holder that finishes while another party is still
 *   writing only drops its hold; the writer frees. A request answered while held
 *   waits on the ZOMBIE list until its holder calls finish, which only frees.
 * - Counters: every accepted request ends in exactly one of allowed, denied, temp
 *   (the holder's verdict), timed_out (deadline) or cancelled (close); rejected
 *   counts submits refused. pending counts what the engine owns (waiting, in
 *   flight, or answered but still held): that is what queue_max bounds.
 * - An event-driven plugin stops its backend thread in ops.cancel (or before
 *   close): close frees what that thread still holds, and nothing may call
 *   ovp_defer_take or ovp_defer_finish once close has returned.
 * - Inline wait (ovp_defer_submit_wait): the submitter marks the request WAITER
 *   under the mutex and waits on INLINE_CV. A holder that finishes while WAITER is
 *   set claims the request as usual but, instead of writing the files, leaves its
 *   verdict in the request (state INLINE) for the waiter, which writes only the
 *   reason file, logs and frees. A waiter that gives up clears WAITER under the same
 *   mutex, so a later finish takes the deferred path: exactly one of the two
 *   happens, whatever the timing. The waiter is a second hold: a request answered
 *   by the deadline or close while waited on goes to ZOMBIE, and the last of holder
 *   and waiter to let go frees it.
 */

enum req_state
{
    RS_QUEUED = 0,    /* in LIVE, waiting for a worker or taker */
    RS_HELD = 1,      /* in LIVE, a worker or taker works on it */
    RS_ANSWERING = 2, /* claimed: its answer is being written; in no list */
    RS_DONE = 3,      /* answered while held or waited on: in ZOMBIE until both let go */
    RS_INLINE = 4,    /* the holder's verdict went to the inline waiter; in no list */
};

struct ovp_defer
{
    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* a request is waiting, or closing */
    pthread_cond_t dl_cv;     /* HEAP got a new top, or closing */
    pthread_cond_t idle_cv;   /* a caller left take/finish, or a writer settled */
    pthread_cond_t inline_cv; /* a waited-on request was answered (any way) */

    struct ovp_defer_conf conf;
    char what[64];
    struct ovp_defer_ops ops;
    void *state;
    struct ovp_log *log;

    struct ovp_defer_req *live_head, *live_tail;
    struct ovp_defer_req *next_queued;
    struct ovp_defer_req **heap; /* queue_max slots; heap_len used */
    size_t heap_len;
    struct ovp_defer_req *zombies;

    int closing;
    unsigned users; /* threads inside ovp_defer_take / ovp_defer_finish */
    uint64_t next_id;
    unsigned long owned;
    struct ovp_defer_stats st;

    struct ovp_thread **workers;
    unsigned nworkers; /* started */
    struct ovp_thread *deadline_thread;
    int deadline_started;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen)
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
}

/* The state is read without the mutex by ovp_defer_req_answered: atomics. */
static void
req_set_state(struct ovp_defer_req *r, int s)
{
    __atomic_store_n(&r->state, s, __ATOMIC_RELEASE);
}

static int
req_get_state(const struct ovp_defer_req *r)
{
    return __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------ files */

/*
 * Copies TEXT into BUF, cut to fit and with control characters replaced: the
 * reason reaches the client inside a control message and our own log lines, so a
 * backend's text must not be able to add lines to either.
 */
static void
clean_text(char *buf, size_t len, const char *text)
{
    size_t i = 0;
    for (; text && text[i] && i + 1 < len; i++)
    {
        unsigned char c = (unsigned char)text[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    buf[i] = '\0';
}

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0)
    {
        ssize_t n = write(fd, buf, len);
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Writes BUF to PATH; with EMPTY_FIRST the file holds exactly BUF afterwards. Why
 * no O_CREAT: OpenVPN created these files in its tmp-dir and is the only party
 * that decides they exist; a missing file means the client is gone, and we must
 * not leave stray files behind. Why no O_TRUNC: OpenVPN creates them empty, and
 * truncating even an empty file costs a journal transaction on ext4 (about 30 us
 * measured, on OpenVPN's thread for the pending file); only a file that has
 * content is truncated.
 */
static int
write_file(const char *path, int empty_first, const char *buf, size_t len, char *err,
           size_t errlen)
{
    struct stat sb;
    int fd = -1;
    int ret = -1;

    do
    {
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
    {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (empty_first && (fstat(fd, &sb) < 0 || (sb.st_size > 0 && ftruncate(fd, 0) < 0)))
    {
        set_err(err, errlen, "cannot empty %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (write_all(fd, buf, len) < 0)
    {
        set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (fd >= 0 && close(fd) < 0 && ret == 0)
    {
        set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        ret = -1;
    }
    return ret;
}

int
ovp_auth_write_reason(const char *reason_file, const char *reason, char *err, size_t errlen)
{
    char text[OVP_REASON_MAX];

    if (!reason_file || !reason_file[0])
    {
        set_err(err, errlen, "no auth_failed_reason_file to write the reason to");
        return -1;
    }
    clean_text(text, sizeof(text), reason);
    return write_file(reason_file, 1, text, strlen(text), err, errlen);
}

/*
 * The reason goes first: OpenVPN reads the reason file as soon as it sees '0' in
 * the control file. If the reason cannot be written the control file is still
 * written (a client that gets no reason is better off than one left hanging until
 * hand-window) and -1 is returned with the reason file's error in ERR.
 */
int
ovp_auth_write_answer(const char *control_file, const char *reason_file, int allow,
                      const char *reason, char *err, size_t errlen)
{
    int ret = 0;
    char rerr[256] = "";

    if (!control_file || !control_file[0])
    {
        set_err(err, errlen, "no auth_control_file to write the answer to");
        return -1;
    }
    if (reason_file && reason_file[0] && reason && reason[0])
    {
        if (ovp_auth_write_reason(reason_file, reason, rerr, sizeof(rerr)) < 0)
        {
            ret = -1;
        }
    }
    if (write_file(control_file, 0, allow ? "1" : "0", 1, err, errlen) < 0)
    {
        return -1;
    }
    if (ret < 0)
    {
        set_err(err, errlen, "%s (control file written)", rerr);
    }
    return ret;
}

int
ovp_auth_write_pending(const char *pending_file, unsigned timeout_s, const char *method,
                       const char *text, char *err, size_t errlen)
{
    char *buf = NULL;
    char num[16];
    size_t nl, ml, tl, len;
    int ret = -1;

    if (!pending_file || !pending_file[0])
    {
        set_err(err, errlen, "no auth_pending_file to write to");
        goto cleanup;
    }
    if (!method || !method[0] || !text || !text[0] || strpbrk(method, "\r\n") ||
        strpbrk(text, "\r\n"))
    {
        set_err(err, errlen, "pending method and text must be single non-empty lines");
        goto cleanup;
    }
    snprintf(num, sizeof(num), "%u\n", timeout_s);
    nl = strlen(num);
    ml = strlen(method);
    tl = strlen(text);
    len = nl + ml + tl + 2;
    buf = malloc(len);
    if (!buf)
    {
        set_err(err, errlen, "out of memory");
        goto cleanup;
    }
    memcpy(buf, num, nl);
    memcpy(buf + nl, method, ml);
    buf[nl + ml] = '\n';
    memcpy(buf + nl + ml + 1, text, tl);
    buf[len - 1] = '\n';
    ret = write_file(pending_file, 1, buf, len, err, errlen);

cleanup:
    free(buf);
    return ret;
}

/* ---------------------------------------------------------- requests */

static int
dup_field(char **dst, const char *const *envp, const char *name, int always)
{
    const char *v = ovp_env_get(envp, name);
    if (!v && !always)
    {
        *dst = NULL;
        return 0;
    }
    *dst = strdup(v ? v : "");
    return *dst ? 0 : -1;
}

struct ovp_defer_req *
ovp_defer_req_from_env(const char *const *envp, char *err, size_t errlen)
{
    struct ovp_defer_req *r = NULL;
    const char *control = ovp_env_get_nonempty(envp, "auth_control_file");
    const char *ip = ovp_env_client_ip(envp);
    const char *port = ovp_env_client_port(envp);
    const char *pw = ovp_env_get(envp, "password");

    if (!control)
    {
        set_err(err, errlen,
                "no auth_control_file in the environment (is this OpenVPN 2.5 or later?)");
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
    {
        goto nomem;
    }
    ovp_client_id_from_env(&r->who, envp);
    r->password = ovp_strdup_secret(pw ? pw : "");
    r->control_file = strdup(control);
    r->client_ip = strdup(ip ? ip : "");
    r->client_port = strdup(port ? port : "");
    if (!r->password || !r->control_file || !r->client_ip || !r->client_port ||
        dup_field(&r->username, envp, "username", 1) < 0 ||
        dup_field(&r->common_name, envp, "common_name", 1) < 0 ||
        dup_field(&r->reason_file, envp, "auth_failed_reason_file", 0) < 0 ||
        dup_field(&r->pending_file, envp, "auth_pending_file", 0) < 0 ||
        dup_field(&r->session_state, envp, "session_state", 0) < 0 ||
        dup_field(&r->iv_sso, envp, "IV_SSO", 0) < 0)
    {
        goto nomem;
    }
    return r;

nomem:
    ovp_defer_req_free(r);
    set_err(err, errlen, "out of memory copying the authentication request");
    return NULL;
}

void
ovp_defer_req_free(struct ovp_defer_req *req)
{
    if (!req)
    {
        return;
    }
    /* Secrets are wiped before anything else runs, free_data included. */
    if (req->password)
    {
        ovp_wipe(req->password, strlen(req->password));
    }
    if (req->free_data)
    {
        req->free_data(req->data);
    }
    ovp_free_secret(req->password);
    free(req->username);
    free(req->common_name);
    free(req->client_ip);
    free(req->client_port);
    free(req->control_file);
    free(req->reason_file);
    free(req->pending_file);
    ovp_free_secret(req->session_state); /* a token's state: treat it as a secret */
    free(req->iv_sso);
    ovp_wipe(req, sizeof(*req));
    free(req);
}

int
ovp_defer_req_answered(const struct ovp_defer_req *req)
{
    return req && req_get_state(req) >= RS_ANSWERING;
}

/* ------------------------------------------------------------- lists */

static void
live_append(struct ovp_defer *d, struct ovp_defer_req *r)
{
    r->next = NULL;
    r->prev = d->live_tail;
    if (d->live_tail)
    {
        d->live_tail->next = r;
    }
    else
    {
        d->live_head = r;
    }
    d->live_tail = r;
    if (!d->next_queued)
    {
        d->next_queued = r;
    }
}

static void
live_unlink(struct ovp_defer *d, struct ovp_defer_req *r)
{
    if (d->next_queued == r)
    {
        d->next_queued = r->next;
    }
    if (r->prev)
    {
        r->prev->next = r->next;
    }
    else
    {
        d->live_head = r->next;
    }
    if (r->next)
    {
        r->next->prev = r->prev;
    }
    else
    {
        d->live_tail = r->prev;
    }
    r->prev = r->next = NULL;
}

static void
zombie_push(struct ovp_defer *d, struct ovp_defer_req *r)
{
    r->prev = NULL;
    r->next = d->zombies;
    if (d->zombies)
    {
        d->zombies->prev = r;
    }
    d->zombies = r;
}

static void
zombie_unlink(struct ovp_defer *d, struct ovp_defer_req *r)
{
    if (r->prev)
    {
        r->prev->next = r->next;
    }
    else
    {
        d->zombies = r->next;
    }
    if (r->next)
    {
        r->next->prev = r->prev;
    }
    r->prev = r->next = NULL;
}

/* ----------------------------------------------------- deadline heap */

static void
heap_set(struct ovp_defer *d, size_t i, struct ovp_defer_req *r)
{
    d->heap[i] = r;
    r->heap_pos = i;
}

/* Moves the request at I up or down until the heap order holds. Mutex held. */
static void
heap_fix(struct ovp_defer *d, size_t i)
{
    struct ovp_defer_req *r = d->heap[i];

    while (i > 0 && d->heap[(i - 1) / 2]->deadline_ns > r->deadline_ns)
    {
        heap_set(d, i, d->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;)
    {
        size_t c = 2 * i + 1;
        if (c >= d->heap_len)
        {
            break;
        }
        if (c + 1 < d->heap_len && d->heap[c + 1]->deadline_ns < d->heap[c]->deadline_ns)
        {
            c++;
        }
        if (d->heap[c]->deadline_ns >= r->deadline_ns)
        {
            break;
        }
        heap_set(d, i, d->heap[c]);
        i = c;
    }
    heap_set(d, i, r);
}

/* Adds R (room is guaranteed: the heap holds at most queue_max). Mutex held. */
static void
heap_push(struct ovp_defer *d, struct ovp_defer_req *r)
{
    heap_set(d, d->heap_len++, r);
    heap_fix(d, r->heap_pos);
}

/* Removes R, which is in the heap. Mutex held. */
static void
heap_remove(struct ovp_defer *d, struct ovp_defer_req *r)
{
    size_t i = r->heap_pos;
    struct ovp_defer_req *last = d->heap[--d->heap_len];

    if (last != r)
    {
        heap_set(d, i, last);
        heap_fix(d, i);
    }
}

/* Takes the oldest waiting request. Mutex held. */
static struct ovp_defer_req *
take_locked(struct ovp_defer *d)
{
    struct ovp_defer_req *r = d->next_queued;
    if (r)
    {
        d->next_queued = r->next;
        r->held = 1;
        req_set_state(r, RS_HELD);
    }
    return r;
}

/*
 * Claims R for answering: no one else will answer it. Mutex held; R is unanswered
 * (QUEUED or HELD) and in LIVE.
 */
static void
claim_locked(struct ovp_defer *d, struct ovp_defer_req *r)
{
    live_unlink(d, r);
    heap_remove(d, r);
    req_set_state(r, RS_ANSWERING);
}

/*
 * After an answer by the deadline thread or close: a held request waits for its
 * holder; any other is freed. Takes the mutex. Returns R when the caller must free
 * it (outside the mutex), else NULL.
 */
static struct ovp_defer_req *
settle(struct ovp_defer *d, struct ovp_defer_req *r)
{
    struct ovp_defer_req *to_free = NULL;

    pthread_mutex_lock(&d->mu);
    if (r->held || r->waiter)
    {
        req_set_state(r, RS_DONE);
        zombie_push(d, r);
        if (r->waiter)
        {
            pthread_cond_broadcast(&d->inline_cv); /* answered deferred: it may go */
        }
    }
    else
    {
        to_free = r;
        d->owned--;
    }
    pthread_cond_broadcast(&d->idle_cv);
    pthread_mutex_unlock(&d->mu);
    return to_free;
}

/* -------------------------------------------------------------- answer */

static const char *
log_reason(const char *reason)
{
    if (strncmp(reason, "TEMP: ", 6) == 0)
    {
        return reason + 6;
    }
    return reason;
}

/*
 * Writes R's answer (reason file, then control file) and logs one line. Runs
 * without the mutex, on whichever thread answers. INLINE: the answer is the
 * hook's return value, so only the reason file is written (none for an allow).
 */
static void
answer(struct ovp_defer *d, struct ovp_defer_req *r, int verdict, const char *reason,
       int inline_answer)
{
    char text[OVP_REASON_MAX];
    char err[512];
    unsigned long long ms = (now_ns() - r->submitted_ns) / 1000000u;
    const char *body;
    int generic;

    clean_text(text, sizeof(text), reason);
    generic = !text[0];
    if (verdict == OVP_TEMP && strncmp(text, "TEMP", 4) != 0)
    {
        /* The client retries only on a reason that starts with TEMP. */
        size_t n = strlen(text);
        if (n == 0)
        {
            snprintf(text, sizeof(text), "TEMP: %s is unavailable, try again", d->what);
        }
        else
        {
            if (n > sizeof(text) - 7)
            {
                n = sizeof(text) - 7;
            }
            memmove(text + 6, text, n);
            memcpy(text, "TEMP: ", 6);
            text[6 + n] = '\0';
        }
    }
    else if (verdict != OVP_TEMP && verdict != OVP_ALLOW && !text[0])
    {
        snprintf(text, sizeof(text), "authentication failed");
    }
    if (verdict == OVP_ALLOW)
    {
        text[0] = '\0';
    }
    body = log_reason(text);

    if (inline_answer)
    {
        if (verdict != OVP_ALLOW && r->reason_file && r->reason_file[0] &&
            ovp_auth_write_reason(r->reason_file, text, err, sizeof(err)) < 0 && d->log)
        {
            ovp_logf_client(d->log, &r->who, PLOG_ERR, "cannot write the reason: %s", err);
        }
    }
    else if (ovp_auth_write_answer(r->control_file, r->reason_file, verdict == OVP_ALLOW, text,
                                   err, sizeof(err)) < 0)
    {
        if (d->log)
        {
            ovp_logf_client(d->log, &r->who, PLOG_ERR,
                            "cannot deliver the authentication answer: %s", err);
        }
    }
    if (!d->log)
    {
        return;
    }
    if (verdict == OVP_ALLOW)
    {
        ovp_logf_client(d->log, &r->who, PLOG_NOTE, "authentication succeeded (%llu ms)", ms);
    }
    else if (verdict == OVP_TEMP)
    {
        ovp_logf_client(d->log, &r->who, PLOG_WARN, "temporary failure: %s (%llu ms)", body,
                        ms);
    }
    else
    {
        /* Why the prefix test: most reasons already say so ("authentication failed: ..."). */
        int said = strncmp(body, "authentication failed", 21) == 0;
        ovp_logf_client(d->log, &r->who, PLOG_NOTE, "%s%s%s (%llu ms)",
                        said ? "" : "authentication failed", generic || said ? "" : ": ",
                        generic && !said ? "" : body, ms);
    }
}

/* The deadline offset that applies to R. */
static unsigned
req_deadline_ms(const struct ovp_defer *d, const struct ovp_defer_req *r)
{
    return r->deadline_ms ? r->deadline_ms : d->conf.deadline_ms;
}

static void
deadline_reason(const struct ovp_defer *d, const struct ovp_defer_req *r, char *buf, size_t len)
{
    unsigned ms = req_deadline_ms(d, r);
    if (ms % 1000 == 0)
    {
        snprintf(buf, len, "TEMP: %s did not answer in %u s", d->what, ms / 1000);
    }
    else
    {
        snprintf(buf, len, "TEMP: %s did not answer in %u ms", d->what, ms);
    }
}

/* The holder's answer (worker or taker). Mutex not held; R is held by the caller. */
static void
finish_held(struct ovp_defer *d, struct ovp_defer_req *r, int verdict, const char *reason)
{
    int st;

    pthread_mutex_lock(&d->mu);
    st = req_get_state(r);
    r->held = 0;
    if (st == RS_DONE)
    {
        /* The deadline or close answered while we worked: only free (last to let go). */
        if (r->waiter)
        {
            pthread_mutex_unlock(&d->mu);
            return;
        }
        zombie_unlink(d, r);
        d->owned--;
    }
    else if (st == RS_ANSWERING)
    {
        /* Someone is writing the answer right now and frees it when done. */
        pthread_mutex_unlock(&d->mu);
        return;
    }
    else
    {
        claim_locked(d, r);
        if (verdict == OVP_ALLOW)
        {
            d->st.allowed++;
        }
        else if (verdict == OVP_TEMP)
        {
            d->st.temp++;
        }
        else
        {
            verdict = OVP_DENY; /* anything unexpected fails closed */
            d->st.denied++;
        }
        if (r->waiter)
        {
            /* The submitter still waits: the answer is its return value; it frees R. */
            d->st.answered_inline++;
            r->inline_verdict = verdict;
            snprintf(r->inline_reason, sizeof(r->inline_reason), "%s", reason ? reason : "");
            req_set_state(r, RS_INLINE);
            pthread_cond_broadcast(&d->inline_cv);
            pthread_mutex_unlock(&d->mu);
            return;
        }
        pthread_mutex_unlock(&d->mu);
        answer(d, r, verdict, reason, 0);
        pthread_mutex_lock(&d->mu);
        d->owned--;
    }
    pthread_mutex_unlock(&d->mu);
    ovp_defer_req_free(r);
}

/* ------------------------------------------------------------- threads */

static void *
worker_main(void *arg)
{
    struct ovp_defer *d = arg;

    pthread_mutex_lock(&d->mu);
    for (;;)
    {
        struct ovp_defer_req *r;
        struct ovp_defer_result res;

        while (!d->closing && !d->next_queued)
        {
            pthread_cond_wait(&d->work_cv, &d->mu);
        }
        if (d->closing)
        {
            break;
        }
        r = take_locked(d);
        pthread_mutex_unlock(&d->mu);

        memset(&res, 0, sizeof(res));
        res.verdict = OVP_TEMP; /* a run that fills nothing in is a backend fault */
        if (!ovp_defer_req_answered(r))
        {
            d->ops.run(d->state, r, &res);
            res.reason[sizeof(res.reason) - 1] = '\0';
        }
        finish_held(d, r, res.verdict, res.reason);

        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void *
deadline_main(void *arg)
{
    struct ovp_defer *d = arg;
    char reason[OVP_REASON_MAX];

    pthread_mutex_lock(&d->mu);
    while (!d->closing)
    {
        struct ovp_defer_req *r = d->heap_len ? d->heap[0] : NULL;
        struct timespec ts;

        if (!r)
        {
            pthread_cond_wait(&d->dl_cv, &d->mu);
            continue;
        }
        if (now_ns() < r->deadline_ns)
        {
            ts.tv_sec = (time_t)(r->deadline_ns / 1000000000u);
            ts.tv_nsec = (long)(r->deadline_ns % 1000000000u);
            pthread_cond_timedwait(&d->dl_cv, &d->mu, &ts);
            continue;
        }
        claim_locked(d, r);
        d->st.timed_out++;
        deadline_reason(d, r, reason, sizeof(reason));
        pthread_mutex_unlock(&d->mu);

        answer(d, r, OVP_TEMP, reason, 0);
        ovp_defer_req_free(settle(d, r));

        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---------------------------------------------------------------- API */

static void
destroy(struct ovp_defer *d)
{
    pthread_cond_destroy(&d->inline_cv);
    pthread_cond_destroy(&d->idle_cv);
    pthread_cond_destroy(&d->dl_cv);
    pthread_cond_destroy(&d->work_cv);
    pthread_mutex_destroy(&d->mu);
    free(d->heap);
    free(d->workers);
    free(d);
}

static void
stop_threads(struct ovp_defer *d)
{
    pthread_mutex_lock(&d->mu);
    d->closing = 1;
    pthread_cond_broadcast(&d->work_cv);
    pthread_cond_broadcast(&d->dl_cv);
    pthread_mutex_unlock(&d->mu);
    for (unsigned i = 0; i < d->nworkers; i++)
    {
        ovp_thread_join(d->workers[i]);
    }
    d->nworkers = 0;
    if (d->deadline_started)
    {
        ovp_thread_join(d->deadline_thread);
        d->deadline_started = 0;
    }
}

struct ovp_defer *
ovp_defer_new(const struct ovp_defer_conf *conf, const struct ovp_defer_ops *ops, void *state,
              struct ovp_log *log, char *err, size_t errlen)
{
    struct ovp_defer *d = NULL;
    pthread_condattr_t ca;
    int rc;

    if (!conf || !ops || conf->queue_max == 0 || conf->deadline_ms == 0 ||
        conf->workers > 1024 || (conf->workers > 0 && !ops->run))
    {
        set_err(err, errlen,
                "invalid engine settings (need queue_max > 0, deadline_ms > 0, "
                "at most 1024 workers, and a run callback for workers)");
        return NULL;
    }
    d = calloc(1, sizeof(*d));
    if (!d || (conf->workers && !(d->workers = calloc(conf->workers, sizeof(*d->workers)))) ||
        !(d->heap = calloc(conf->queue_max, sizeof(*d->heap))))
    {
        if (d)
        {
            free(d->workers);
        }
        free(d);
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    d->conf = *conf;
    snprintf(d->what, sizeof(d->what), "%s",
             conf->what && conf->what[0] ? conf->what : "the backend");
    d->conf.what = d->what;
    d->ops = *ops;
    d->state = state;
    d->log = log;

    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->dl_cv, &ca);
    pthread_cond_init(&d->work_cv, &ca);
    pthread_cond_init(&d->idle_cv, &ca);
    pthread_cond_init(&d->inline_cv, &ca);
    pthread_condattr_destroy(&ca);

    /* Signals stay with OpenVPN's thread; threads are reused across a reload (util.h). */
    rc = ovp_thread_start(&d->deadline_thread, deadline_main, d);
    if (rc == 0)
    {
        d->deadline_started = 1;
        for (unsigned i = 0; i < conf->workers && rc == 0; i++)
        {
            rc = ovp_thread_start(&d->workers[i], worker_main, d);
            if (rc == 0)
            {
                d->nworkers++;
            }
        }
    }
    if (rc != 0)
    {
        set_err(err, errlen, "cannot start the %s engine threads: %s", d->what, strerror(rc));
        stop_threads(d);
        destroy(d);
        return NULL;
    }
    return d;
}

/* ovp_defer_submit; WAITER: the caller waits inline next (a second hold on REQ). */
static int
submit(struct ovp_defer *d, struct ovp_defer_req *req, int waiter)
{
    char reason[OVP_REASON_MAX];
    char err[512];
    unsigned long pending = 0;
    int closing = 0;
    uint64_t now;

    if (!req)
    {
        return -1;
    }
    if (!d)
    {
        ovp_defer_req_free(req);
        return -1;
    }
    now = now_ns();
    pthread_mutex_lock(&d->mu);
    if (d->closing || d->owned >= d->conf.queue_max)
    {
        closing = d->closing;
        pending = d->owned;
        d->st.rejected++;
        pthread_mutex_unlock(&d->mu);
        goto reject;
    }
    req->id = ++d->next_id;
    req->submitted_ns = now;
    req->deadline_ns = now + (uint64_t)req_deadline_ms(d, req) * 1000000u;
    req->held = 0;
    req->waiter = waiter;
    if (waiter)
    {
        d->users++; /* close waits for the waiter to let go */
    }
    req_set_state(req, RS_QUEUED);
    live_append(d, req);
    heap_push(d, req);
    d->owned++;
    d->st.submitted++;
    if (d->heap[0] == req)
    {
        pthread_cond_signal(&d->dl_cv);
    }
    pthread_cond_signal(&d->work_cv);
    pthread_mutex_unlock(&d->mu);
    return 0;

reject:
    if (closing)
    {
        snprintf(reason, sizeof(reason), "TEMP: server is reloading, try again");
    }
    else
    {
        snprintf(reason, sizeof(reason),
                 "TEMP: too many %s authentications in progress, try again", d->what);
    }
    if (ovp_auth_write_reason(req->reason_file, reason, err, sizeof(err)) < 0 && d->log)
    {
        ovp_logf_client(d->log, &req->who, PLOG_ERR, "cannot write the reason: %s", err);
    }
    if (d->log)
    {
        ovp_logf_client(d->log, &req->who, PLOG_WARN, "authentication refused: %s (%lu %s)",
                        log_reason(reason), pending,
                        closing ? "in progress while closing" : "already in progress");
    }
    ovp_defer_req_free(req);
    return -1;
}

int
ovp_defer_submit(struct ovp_defer *d, struct ovp_defer_req *req)
{
    return submit(d, req, 0);
}

int
ovp_defer_submit_wait(struct ovp_defer *d, struct ovp_defer_req *req, unsigned wait_us,
                      void (*wake)(void *arg), void *arg)
{
    struct timespec ts;
    uint64_t until;
    int st, verdict, rc;

    if (wait_us > OVP_DEFER_INLINE_WAIT_MAX_US)
    {
        wait_us = OVP_DEFER_INLINE_WAIT_MAX_US;
    }
    if (submit(d, req, wait_us > 0) < 0)
    {
        return OVP_DEFER_REJECTED;
    }
    /* From here on REQ stays ours to look at until we let go of it (WAITER). */
    if (wake)
    {
        wake(arg);
    }
    if (wait_us == 0)
    {
        return OVP_DEFER_QUEUED;
    }
    until = req->submitted_ns + (uint64_t)wait_us * 1000u;
    ts.tv_sec = (time_t)(until / 1000000000u);
    ts.tv_nsec = (long)(until % 1000000000u);

    pthread_mutex_lock(&d->mu);
    while ((st = req_get_state(req)) < RS_ANSWERING)
    {
        if (pthread_cond_timedwait(&d->inline_cv, &d->mu, &ts) == ETIMEDOUT)
        {
            /* An answer handed over at this very instant still counts: look again. */
            st = req_get_state(req);
            break;
        }
    }
    /* Decided under the mutex: a finish from now on takes the deferred path. */
    req->waiter = 0;
    rc = OVP_DEFER_QUEUED;
    if (st == RS_INLINE)
    {
        verdict = req->inline_verdict;
        pthread_mutex_unlock(&d->mu);
        answer(d, req, verdict, req->inline_reason, 1);
        ovp_defer_req_free(req);
        pthread_mutex_lock(&d->mu);
        d->owned--;
        rc = verdict == OVP_ALLOW ? OVP_DEFER_ALLOWED : OVP_DEFER_REFUSED;
    }
    else if (st == RS_DONE && !req->held)
    {
        /* The deadline or close answered it (control file written) and settled it. */
        zombie_unlink(d, req);
        pthread_mutex_unlock(&d->mu);
        ovp_defer_req_free(req);
        pthread_mutex_lock(&d->mu);
        d->owned--;
    }
    /* QUEUED or HELD: deferred as usual; ANSWERING: the writer's settle frees it. */
    /* Last: close waits for this, so no plugin code (free_data) runs after close. */
    d->users--;
    pthread_cond_broadcast(&d->idle_cv);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

struct ovp_defer_req *
ovp_defer_take(struct ovp_defer *d, int timeout_ms)
{
    struct ovp_defer_req *r = NULL;
    struct timespec ts;

    if (!d)
    {
        return NULL;
    }
    if (timeout_ms > 0)
    {
        uint64_t until = now_ns() + (uint64_t)timeout_ms * 1000000u;
        ts.tv_sec = (time_t)(until / 1000000000u);
        ts.tv_nsec = (long)(until % 1000000000u);
    }
    pthread_mutex_lock(&d->mu);
    d->users++;
    while (!d->closing && !d->next_queued && timeout_ms != 0)
    {
        if (timeout_ms < 0)
        {
            pthread_cond_wait(&d->work_cv, &d->mu);
        }
        else if (pthread_cond_timedwait(&d->work_cv, &d->mu, &ts) == ETIMEDOUT)
        {
            break;
        }
    }
    if (!d->closing)
    {
        r = take_locked(d);
    }
    d->users--;
    pthread_cond_broadcast(&d->idle_cv);
    pthread_mutex_unlock(&d->mu);
    return r;
}

void
ovp_defer_finish(struct ovp_defer *d, struct ovp_defer_req *req, int verdict,
                 const char *reason)
{
    if (!req)
    {
        return;
    }
    if (!d)
    {
        ovp_defer_req_free(req);
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->users++;
    pthread_mutex_unlock(&d->mu);

    finish_held(d, req, verdict, reason);

    pthread_mutex_lock(&d->mu);
    d->users--;
    pthread_cond_broadcast(&d->idle_cv);
    pthread_mutex_unlock(&d->mu);
}

void
ovp_defer_close(struct ovp_defer *d)
{
    static const char reason[] = "TEMP: server is reloading, try again";
    struct ovp_defer_req *r;

    if (!d)
    {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->closing = 1;
    pthread_cond_broadcast(&d->work_cv);
    pthread_cond_broadcast(&d->dl_cv);
    while ((r = d->live_head) != NULL)
    {
        claim_locked(d, r);
        d->st.cancelled++;
        pthread_mutex_unlock(&d->mu);
        answer(d, r, OVP_TEMP, reason, 0);
        ovp_defer_req_free(settle(d, r));
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);

    if (d->ops.cancel)
    {
        d->ops.cancel(d->state);
    }
    stop_threads(d);

    /*
     * Wait for any caller still inside take or finish (an event-driven plugin
     * whose thread is winding down), then free what a holder never gave back:
     * after close returns nobody may touch the engine or its requests.
     */
    pthread_mutex_lock(&d->mu);
    while (d->users > 0)
    {
        pthread_cond_wait(&d->idle_cv, &d->mu);
    }
    while ((r = d->zombies) != NULL)
    {
        zombie_unlink(d, r);
        d->owned--;
        ovp_defer_req_free(r);
    }
    pthread_mutex_unlock(&d->mu);
    destroy(d);
}

void
ovp_defer_get_stats(struct ovp_defer *d, struct ovp_defer_stats *st)
{
    if (!st)
    {
        return;
    }
    if (!d)
    {
        memset(st, 0, sizeof(*st));
        return;
    }
    pthread_mutex_lock(&d->mu);
    *st = d->st;
    st->pending = d->owned;
    pthread_mutex_unlock(&d->mu);
}

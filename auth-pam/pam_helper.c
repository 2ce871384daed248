/* pam_helper.c: ovp-auth-pam's root side: the helper and its per-request PAM children. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "defer.h"
#include "pam_helper.h"
#include "pam_wire.h"
#include "secret.h"

/*
 * Design, and why.
 *
 * The helper is forked by privsep at open, as root, before any thread exists.
 * It never calls PAM itself: for each AP_REQ_AUTH it forks a child that runs one
 * whole transaction (pam_start, pam_authenticate, pam_acct_mgmt, pam_end),
 * replies on the channel with ovp_priv_reply (which only needs the fd) and
 * _exits. Why a process per transaction rather than threads or a pre-forked pool:
 * - PAM modules are not all thread-safe (getpwnam, static buffers, global state
 *   in vendor modules), so transactions must not share an address space;
 * - a module that crashes or leaks takes down one child, never the helper, so
 *   the helper (tiny, single-threaded, no PAM state) is what survives;
 * - a transaction that hangs is killed with SIGKILL at the timeout and its slot
 *   comes back, which a pooled worker stuck inside a module cannot offer;
 * - fork of the small helper costs well under a millisecond, noise next to the
 *   tens or hundreds of milliseconds a PAM stack takes.
 * Children count against root's process limit (exempt from RLIMIT_NPROC), not
 * against the unprivileged user's, which OpenVPN's systemd unit sets to 10.
 *
 * Reaping: the helper keeps pid -> request id. A SIGCHLD handler writes a byte
 * to a self-pipe; between requests the helper polls the channel and that pipe,
 * reaps with waitpid(WNOHANG) and answers TEMP for any child that ended without
 * replying. Why not trust the exit status: a module may call exit(0) itself.
 * Each child marks its entry in a shared page (MAP_SHARED, one byte per child)
 * once its reply is on the channel, and only that mark counts as "answered".
 * A child still running past its deadline plus AP_KILL_GRACE_MS is killed with
 * its whole process group (it leads one: unix_chkpwd and other helpers a module
 * forks go too) and answered TEMP at once, without waiting for the reap: a
 * process stuck in the kernel may never be reaped. So every request gets an
 * answer from the helper; OpenVPN's side also frees a request the helper never
 * answers (a stopped or wedged helper) after its deadline plus a grace period,
 * and drops a reply for a request it no longer holds. Each child resets SIGCHLD
 * to the default before PAM runs, because modules such as pam_unix fork helpers
 * (unix_chkpwd) and wait for them.
 *
 * The helper returns from the answer callback only when the channel is
 * readable, so privsep's blocking read never stalls reaping.
 *
 * crtext challenge: for a request flagged AP_REQF_CRTEXT the helper creates a
 * pipe before the fork; the child keeps the read end, the helper the write end
 * (non-blocking, one per such child). When PAM asks the challenge question the
 * child tells OpenVPN's side it is waiting (AP_REP_WAITING: its worker slot is
 * free while a person types) and waits on the pipe, bounded by the time the
 * request has left. An AP_REQ_CRRESPONSE frame is written to that child's pipe
 * in one atomic write and the helper closes its end at once: one response per
 * transaction. A response may arrive before PAM asks; the pipe keeps it. The
 * helper keeps no copy (the frame is wiped), and never logs a response.
 */

/* One running transaction. */
struct ap_child
{
    pid_t pid;
    uint32_t id;
    int64_t deadline_ms;
    long limit_ms; /* what deadline_ms allows, for the log */
    int killed;
    int answered;  /* the helper itself answered for it (killed at the deadline) */
    unsigned mark; /* its byte in the shared page of reply marks */
    int cr_fd;     /* write end of the response pipe, or -1 */
};

/* How long the park waits for the killed PAM processes to exit. */
#define AP_PARK_WAIT_MS 1000
/* Extra time a child gets past the timeout before SIGKILL. */
#define AP_KILL_GRACE_MS 500
/* Answers kept per transaction to check PAM_USER against (more are not kept). */
#define AP_NAMED_MAX 8
/* Child exit codes (the reply mark, not the code, says whether it replied). */
#define AP_CHILD_REPLIED 0
#define AP_CHILD_NOREPLY 1
/* States of a child's byte in the shared page. */
#define AP_MARK_FREE    0
#define AP_MARK_RUNNING 1
#define AP_MARK_REPLIED 2

static int sigchld_fd = -1; /* the helper's self-pipe write end */

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_sigchld(int sig)
{
    int saved = errno;
    (void)sig;
    if (sigchld_fd >= 0)
    {
        ssize_t n = write(sigchld_fd, "c", 1); /* a full pipe already holds a wake-up */
        (void)n;
    }
    errno = saved;
}

/* Sends a reply from the helper itself (not from a child). */
static void
helper_reply(struct ovp_priv_chan *chan, uint32_t id, int verdict, int pam_status,
             const char *reason, const char *detail)
{
    struct ap_wire_rep rep;
    uint8_t buf[sizeof(rep) + 16];
    long n;

    memset(&rep, 0, sizeof(rep));
    rep.verdict = (uint32_t)verdict;
    rep.pam_status = pam_status;
    snprintf(rep.reason, sizeof(rep.reason), "%s", reason ? reason : "");
    snprintf(rep.detail, sizeof(rep.detail), "%s", detail ? detail : "");
    n = ap_wire_rep_encode(&rep, buf, sizeof(buf));
    if (n < 0 || ovp_priv_reply(chan, AP_REP_RESULT, id, buf, (size_t)n) < 0)
    {
        ovp_priv_log(chan, PLOG_ERR | PLOG_ERRNO, "cannot answer request %u", (unsigned)id);
    }
}

/* ------------------------------------------------------------ the PAM child */

/* Why a challenge question got no answer. */
enum cr_fail
{
    CR_NONE = 0,
    CR_UNSUPPORTED, /* the client cannot answer a crtext challenge */
    CR_TIMEOUT,     /* no response in time */
    CR_MALFORMED,   /* the response did not decode */
    CR_AGAIN,       /* PAM asked a second challenge question: one response only */
    CR_LOST,        /* the response channel broke */
};

struct conv_ctx
{
    const struct ap_helper *h;
    struct ovp_priv_chan *chan;
    const struct ap_wire_req *req;
    uint32_t id;
    struct ap_creds creds;
    int in_acct;              /* pam_acct_mgmt is running */
    unsigned passwords_given; /* questions answered with the password */
    int cr_fd;                /* read end of the response pipe, or -1 */
    int64_t cr_deadline_ms;   /* when waiting for the response ends */
    int cr_used;              /* the challenge question was asked */
    int waiting_sent;         /* AP_REP_WAITING went out */
    enum cr_fail cr_fail;
    char unanswered[128];      /* the first prompt no mapping answered */
    char empty[128];           /* the first echo-off prompt whose answer was empty */
    char acct_msg[160];        /* what a module told the user during pam_acct_mgmt */
    char *named[AP_NAMED_MAX]; /* answers that may name the user (ap_prompt_names_user) */
    size_t n_named;
    unsigned fail_delay_us; /* the delay PAM asked for after a failure (PAM_FAIL_DELAY) */
    char *cr_copy;          /* the challenge response given (secret), to keep it out of logs */
};

/* Copies a module's text for a log line or a reason: no control bytes, cut. */
static void
copy_clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
    {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[i] = '\0';
}

static void
free_responses(struct pam_response *r, int n)
{
    for (int i = 0; r && i < n; i++)
    {
        ovp_free_secret(r[i].resp);
    }
    free(r);
}

/*
 * Waits for the client's challenge response on the pipe, until the request's
 * time is up. Returns it as a malloc'd secret, or NULL with CX->cr_fail set.
 * Runs in the child, as root: the pipe's content came from OpenVPN's process
 * through the helper, so it is decoded with the same bounds as a frame.
 */
static char *
await_response(struct conv_ctx *cx)
{
    uint8_t buf[AP_CR_FRAME_MAX + 1];
    const uint8_t *resp;
    uint32_t status;
    size_t len;
    ssize_t n;
    char *out = NULL;

    /* Why tell: a person is typing; the worker slot serves others meanwhile. */
    if (!cx->waiting_sent)
    {
        cx->waiting_sent = 1;
        if (ovp_priv_reply(cx->chan, AP_REP_WAITING, cx->id, NULL, 0) < 0)
        {
            cx->cr_fail = CR_LOST;
            return NULL;
        }
    }
    for (;;)
    {
        struct pollfd pfd = {.fd = cx->cr_fd, .events = POLLIN};
        int64_t left = cx->cr_deadline_ms - now_ms();
        int rc;

        if (left <= 0)
        {
            cx->cr_fail = CR_TIMEOUT;
            return NULL;
        }
        rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (rc < 0 && errno != EINTR)
        {
            cx->cr_fail = CR_LOST;
            return NULL;
        }
        if (rc > 0)
        {
            break;
        }
    }
    do
    {
        n = read(cx->cr_fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n == 0)
    {
        /*
         * End of file without a response: the helper closed its end without
         * writing, so it is exiting or dead. Go as PR_SET_PDEATHSIG would have
         * us go, without a reply: OpenVPN's side answers for the helper's loss.
         */
        _exit(AP_CHILD_NOREPLY);
    }
    if (n < 0)
    {
        cx->cr_fail = CR_LOST;
        return NULL;
    }
    if (ap_wire_cr_decode(buf, (size_t)n, &status, &resp, &len) < 0 || status != AP_CR_OK)
    {
        cx->cr_fail = CR_MALFORMED;
    }
    else if (!(out = malloc(len + 1)))
    {
        cx->cr_fail = CR_LOST;
    }
    else
    {
        memcpy(out, resp, len);
        out[len] = '\0';
    }
    ovp_wipe(buf, sizeof(buf));
    return out;
}

/* Answers the challenge question, or fails it (CX->cr_fail says why). */
static char *
answer_challenge(struct conv_ctx *cx)
{
    if (!(cx->req->flags & AP_REQF_CRTEXT) || cx->cr_fd < 0)
    {
        cx->cr_fail = CR_UNSUPPORTED;
        return NULL;
    }
    if (cx->cr_used)
    {
        cx->cr_fail = CR_AGAIN;
        return NULL;
    }
    cx->cr_used = 1;
    if (cx->h->verb >= 7)
    {
        ovp_priv_log(cx->chan, PLOG_DEBUG,
                     "%s waiting up to %lld ms for the client's challenge response",
                     cx->req->who, (long long)(cx->cr_deadline_ms - now_ms()));
    }
    return await_response(cx);
}

/*
 * The conversation. With prompt mappings on the plugin line, a question is
 * answered by the first mapping whose prefix matches; without, echo-off
 * questions get the password and echo-on ones the username (both as the
 * bundled plugin). With crtext configured, one question (ap_classify) is
 * answered with the client's challenge response. Messages (PAM_TEXT_INFO,
 * PAM_ERROR_MSG) need no answer and never fail the conversation; the last one
 * seen during pam_acct_mgmt may go to the client. No answer is ever logged.
 */
static int
conv(int n, const struct pam_message **msgs, struct pam_response **resp, void *appdata)
{
    struct conv_ctx *cx = appdata;
    struct pam_response *r;
    int ret = PAM_SUCCESS;

    *resp = NULL;
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
    {
        return PAM_CONV_ERR;
    }
    r = calloc((size_t)n, sizeof(*r));
    if (!r)
    {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < n && ret == PAM_SUCCESS; i++)
    {
        const struct pam_message *m = msgs[i];
        const char *text = m->msg ? m->msg : "";
        char shown[128];
        copy_clean(shown, sizeof(shown), text);
        switch (m->msg_style)
        {
            case PAM_PROMPT_ECHO_OFF:
            case PAM_PROMPT_ECHO_ON:
            {
                const struct ap_prompt *p = NULL;
                int k = -1;
                enum ap_source src =
                    ap_classify(cx->h->args, &cx->h->challenge, text,
                                m->msg_style == PAM_PROMPT_ECHO_OFF, cx->passwords_given, &k);
                switch (src)
                {
                    case AP_SRC_PAIR:
                        p = &cx->h->args->prompts[k];
                        r[i].resp = ap_expand(p, &cx->creds);
                        /* Remembered: PAM may take this answer as the user (user_ok). */
                        if (r[i].resp && ap_prompt_names_user(p) && cx->n_named < AP_NAMED_MAX)
                        {
                            cx->named[cx->n_named] = strdup(r[i].resp);
                            if (cx->named[cx->n_named])
                            {
                                cx->n_named++;
                            }
                        }
                        break;
                    case AP_SRC_PASSWORD:
                        cx->passwords_given++;
                        r[i].resp = ovp_strdup_secret(cx->creds.password);
                        break;
                    case AP_SRC_USERNAME:
                        r[i].resp = ovp_strdup_secret(cx->creds.username);
                        break;
                    case AP_SRC_CHALLENGE:
                        r[i].resp = answer_challenge(cx);
                        if (r[i].resp && !cx->cr_copy)
                        {
                            cx->cr_copy = ovp_strdup_secret(r[i].resp);
                        }
                        break;
                    default:
                        break;
                }
                /*
                 * Why: some modules take an empty secret as proof (an LDAP
                 * simple bind with no password is anonymous and succeeds), and
                 * PAM_DISALLOW_NULL_AUTHTOK binds only modules that honour it.
                 */
                if (r[i].resp && !r[i].resp[0] && m->msg_style == PAM_PROMPT_ECHO_OFF)
                {
                    if (!cx->empty[0])
                    {
                        snprintf(cx->empty, sizeof(cx->empty), "%s", shown);
                    }
                    ret = PAM_CONV_ERR;
                    break;
                }
                if (!r[i].resp && (src == AP_SRC_NONE || cx->cr_fail != CR_NONE))
                {
                    if (!cx->unanswered[0])
                    {
                        snprintf(cx->unanswered, sizeof(cx->unanswered), "%s", shown);
                    }
                    ret = PAM_CONV_ERR;
                    break;
                }
                if (!r[i].resp)
                {
                    ret = PAM_BUF_ERR;
                    break;
                }
                if (cx->h->verb >= 7)
                {
                    char desc[160];
                    if (p)
                    {
                        ap_describe(p, desc, sizeof(desc));
                    }
                    else
                    {
                        snprintf(desc, sizeof(desc), "%s",
                                 src == AP_SRC_CHALLENGE  ? "the client's challenge response"
                                 : src == AP_SRC_PASSWORD ? "PASSWORD"
                                                          : "USERNAME");
                    }
                    ovp_priv_log(cx->chan, PLOG_DEBUG,
                                 "%s PAM asks \"%s\" (echo %s): answered with %s", cx->req->who,
                                 shown, m->msg_style == PAM_PROMPT_ECHO_OFF ? "off" : "on",
                                 desc);
                }
                break;
            }
            case PAM_ERROR_MSG:
            case PAM_TEXT_INFO:
                if (cx->in_acct)
                {
                    copy_clean(cx->acct_msg, sizeof(cx->acct_msg), text);
                }
                if (cx->h->verb >= 7)
                {
                    ovp_priv_log(cx->chan, PLOG_DEBUG, "%s PAM says \"%s\"", cx->req->who,
                                 shown);
                }
                break;
            default:
                ovp_priv_log(
                    cx->chan, PLOG_WARN,
                    "%s PAM sent a message of style %d that ovp-auth-pam cannot answer",
                    cx->req->who, m->msg_style);
                ret = PAM_CONV_ERR;
                break;
        }
    }
    if (ret != PAM_SUCCESS)
    {
        free_responses(r, n);
        return ret;
    }
    *resp = r;
    return PAM_SUCCESS;
}

/*
 * PAM_FAIL_DELAY: libpam calls this at the end of pam_authenticate instead of
 * sleeping itself. Why: a module's delay after a wrong password (pam_unix asks
 * for 2 s) would hold this process, and with it a worker slot, while it does
 * nothing. The delay goes back in the reply, and OpenVPN's side holds the
 * refusal that long without a worker.
 */
static void
fail_delay(int status, unsigned usec, void *appdata)
{
    struct conv_ctx *cx = appdata;

    if (cx && status != PAM_SUCCESS && usec > cx->fail_delay_us)
    {
        cx->fail_delay_us = usec;
    }
}

/* 1 for PAM codes that say the service, not the user, is at fault. */
static int
is_service_fault(int status)
{
    switch (status)
    {
        case PAM_AUTHINFO_UNAVAIL:
        case PAM_SERVICE_ERR:
        case PAM_SYSTEM_ERR:
        case PAM_BUF_ERR:
        case PAM_ABORT:
        case PAM_TRY_AGAIN:
        case PAM_OPEN_ERR:
        case PAM_SYMBOL_ERR:
#ifdef PAM_MODULE_UNKNOWN
        case PAM_MODULE_UNKNOWN:
#endif
            return 1;
        default:
            return 0;
    }
}

/* Fills REP for a pam_authenticate that failed at the challenge question. */
static void
challenge_failed(const struct conv_ctx *cx, struct ap_wire_rep *rep)
{
    const char *user = cx->req->username;
    long s = (cx->h->crtext_timeout_ms + 999) / 1000;

    rep->verdict = OVP_DENY;
    switch (cx->cr_fail)
    {
        case CR_UNSUPPORTED:
            /* Why say so: the user can fix it (another client), unlike a wrong code. */
            snprintf(rep->reason, sizeof(rep->reason),
                     "a challenge response is required: use a client that supports crtext "
                     "(IV_SSO)");
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": PAM asked the challenge question \"%s\", and the client "
                     "cannot answer it (no crtext in its IV_SSO)",
                     user, cx->unanswered);
            break;
        case CR_TIMEOUT:
            snprintf(rep->reason, sizeof(rep->reason),
                     "no response to the challenge within %ld s", s);
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": no challenge response from the client in time (PAM asked "
                     "\"%s\")",
                     user, cx->unanswered);
            break;
        case CR_MALFORMED:
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": the client's challenge response does not decode (base64)",
                     user);
            break;
        case CR_AGAIN:
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": PAM asked a second challenge question \"%s\"; a client "
                     "answers one (set crtext_prompt, or a prompt pair for the other question)",
                     user, cx->unanswered);
            break;
        default:
            rep->verdict = OVP_TEMP;
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": the challenge response could not be read", user);
            break;
    }
}

/*
 * Why: OpenVPN goes on with the username the client sent (client-connect, CCD
 * files, auth-gen-token, logs), so the user PAM authenticated must be that one,
 * or one the operator's mapping derived from USERNAME alone. A module may change
 * PAM_USER (a mapper, a canonicaliser); a login question answered with a fixed
 * name, the common name, the password, the OTP or the challenge response would
 * let a client authenticate as one user and connect as another; a stack that
 * sets no PAM_USER identified nobody. Returns 1 when PAM_USER is vouched for (or
 * any_username=yes waives the rule); otherwise fills REP with a denial (generic
 * reason: the client learns nothing, not even that the password was right).
 */
static int
user_ok(const struct conv_ctx *cx, pam_handle_t *pamh, const char *step,
        struct ap_wire_rep *rep)
{
    const void *item = NULL;
    char shown[128];

    if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS)
    {
        item = NULL;
    }
    if (cx->h->conf->any_username ||
        ap_user_vouched(item, cx->req->username, (const char *const *)cx->named, cx->n_named))
    {
        return 1;
    }
    /*
     * Why hide it sometimes: a login question answered with the password, the
     * OTP or the challenge response makes that secret PAM's user. Anything that
     * holds one of them is not shown (a short secret hides more: fail safe).
     */
    if (item && ((cx->creds.password[0] && strstr(item, cx->creds.password)) ||
                 (cx->creds.otp[0] && strstr(item, cx->creds.otp)) ||
                 (cx->cr_copy && cx->cr_copy[0] && strstr(item, cx->cr_copy))))
    {
        item = "(not shown: it holds a secret the client sent)";
    }
    copy_clean(shown, sizeof(shown), item ? (const char *)item : "(none)");
    rep->verdict = OVP_DENY;
    snprintf(rep->detail, sizeof(rep->detail),
             "user \"%s\": after %s PAM's user is \"%s\", not the client's username%s: "
             "refused (any_username=yes would accept it)",
             cx->req->username, step, shown,
             cx->h->args->n_prompts ? " nor a name a USERNAME mapping made from it" : "");
    return 0;
}

/* Runs one transaction and fills REP. Runs in the child, as root. */
static void
run_pam(const struct ap_helper *h, struct ovp_priv_chan *chan, const struct ap_wire_req *req,
        uint32_t id, int cr_fd, struct ap_wire_rep *rep)
{
    struct conv_ctx cx;
    struct pam_conv pc;
    pam_handle_t *pamh = NULL;
    const char *user = req->username;
    long wait_ms = (long)req->cr_wait_ms;
    int status;

    memset(&cx, 0, sizeof(cx));
    cx.h = h;
    cx.chan = chan;
    cx.req = req;
    cx.id = id;
    cx.cr_fd = cr_fd;
    /* Why clamp: the helper kills a challenged child at crtext_timeout anyway. */
    cx.cr_deadline_ms =
        now_ms() + (wait_ms < h->crtext_timeout_ms ? wait_ms : h->crtext_timeout_ms);
    cx.creds.username = req->username;
    cx.creds.password = req->password;
    cx.creds.common_name = req->common_name;
    cx.creds.otp = req->otp;
    pc.conv = conv;
    pc.appdata_ptr = &cx;

    /*
     * As the bundled plugin: with prompt mappings PAM asks for the user name
     * itself (a mapping may answer it with, e.g., USERNAME@example.org).
     */
    status = pam_start(h->args->service, h->args->n_prompts > 0 ? NULL : user, &pc, &pamh);
    if (status != PAM_SUCCESS)
    {
        rep->verdict = OVP_TEMP;
        snprintf(rep->detail, sizeof(rep->detail), "pam_start(\"%s\") failed: %s",
                 h->args->service, pam_strerror(pamh, status));
        goto out;
    }
    if (req->rhost[0] && (status = pam_set_item(pamh, PAM_RHOST, req->rhost)) != PAM_SUCCESS)
    {
        rep->verdict = OVP_TEMP;
        snprintf(rep->detail, sizeof(rep->detail), "pam_set_item(PAM_RHOST) failed: %s",
                 pam_strerror(pamh, status));
        goto end;
    }
    {
        /* PAM keeps the delay function as an item; C has no cast from one to the other. */
        union
        {
            void (*fn)(int, unsigned, void *);
            const void *item;
        } fd = {.fn = fail_delay};
        if ((status = pam_set_item(pamh, PAM_FAIL_DELAY, fd.item)) != PAM_SUCCESS)
        {
            rep->verdict = OVP_TEMP;
            snprintf(rep->detail, sizeof(rep->detail),
                     "pam_set_item(PAM_FAIL_DELAY) failed: %s", pam_strerror(pamh, status));
            goto end;
        }
    }
    /*
     * Why PAM_DISALLOW_NULL_AUTHTOK: an account with an empty password (pam_unix
     * nullok) must never open a VPN. The bundled plugin passes 0 here.
     */
    status = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
    if (status != PAM_SUCCESS && cx.cr_fail != CR_NONE)
    {
        challenge_failed(&cx, rep);
        goto end;
    }
    if (status != PAM_SUCCESS)
    {
        /* An unanswered question is a mapping the user cannot fix by retrying. */
        rep->verdict =
            is_service_fault(status) && !cx.unanswered[0] && !cx.empty[0] ? OVP_TEMP : OVP_DENY;
        if (cx.empty[0])
        {
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": PAM asked \"%s\" (echo off) and the answer is empty: "
                     "refused",
                     req->username, cx.empty);
        }
        else if (cx.unanswered[0])
        {
            snprintf(rep->detail, sizeof(rep->detail),
                     "user \"%s\": PAM asked \"%s\", which no prompt mapping on the plugin "
                     "line answers",
                     req->username, cx.unanswered);
        }
        else
        {
            snprintf(rep->detail, sizeof(rep->detail), "user \"%s\": pam_authenticate: %s",
                     req->username, pam_strerror(pamh, status));
        }
        /* Why generic: before the password is proven, say nothing about the account. */
        goto end;
    }
    if (!user_ok(&cx, pamh, "pam_authenticate", rep))
    {
        status = PAM_PERM_DENIED;
        goto end;
    }
    cx.in_acct = 1;
    status = pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK);
    if (status != PAM_SUCCESS)
    {
        /* The password was right: the client may learn why the account is refused. */
        rep->verdict = is_service_fault(status) ? OVP_TEMP : OVP_DENY;
        snprintf(rep->detail, sizeof(rep->detail), "user \"%s\": pam_acct_mgmt: %s%s%s",
                 req->username, pam_strerror(pamh, status), cx.acct_msg[0] ? ": " : "",
                 cx.acct_msg);
        if (status == PAM_ACCT_EXPIRED)
        {
            snprintf(rep->reason, sizeof(rep->reason), "account expired");
        }
        else if (status == PAM_NEW_AUTHTOK_REQD)
        {
            snprintf(rep->reason, sizeof(rep->reason),
                     "password expired: change it before connecting");
        }
        else if (rep->verdict == OVP_DENY)
        {
            snprintf(rep->reason, sizeof(rep->reason), "account not permitted%s%s",
                     cx.acct_msg[0] ? ": " : "", cx.acct_msg);
        }
        goto end;
    }
    if (!user_ok(&cx, pamh, "pam_acct_mgmt", rep))
    {
        status = PAM_PERM_DENIED;
        goto end;
    }
    rep->verdict = OVP_ALLOW;
    snprintf(rep->detail, sizeof(rep->detail), "user \"%s\": PAM accepted", req->username);

end:
    pam_end(pamh, status);
    /* Only a refusal waits: a delay after a success would only slow the user down. */
    if (rep->verdict != OVP_ALLOW && cx.fail_delay_us)
    {
        unsigned ms = (cx.fail_delay_us + 999) / 1000;
        rep->delay_ms = ms > AP_FAIL_DELAY_MAX_MS ? AP_FAIL_DELAY_MAX_MS : ms;
    }
out:
    for (size_t i = 0; i < cx.n_named; i++)
    {
        free(cx.named[i]);
    }
    ovp_free_secret(cx.cr_copy);
    rep->pam_status = status;
}

static void __attribute__((noreturn))
child_main(struct ap_helper *h, struct ovp_priv_chan *chan, const struct ovp_priv_frame *f,
           int cr_read, int cr_write, unsigned mark)
{
    struct ap_wire_req req;
    struct ap_wire_rep rep;
    uint8_t buf[sizeof(rep) + 16];
    struct sigaction sa;
    sigset_t none;
    long n;
    int rc;

    /*
     * Why every signal back to default: PAM modules fork and wait for their own
     * helpers, which fails with SIGCHLD caught by ours (and the self-pipe is the
     * helper's); and the signals the helper ignores (SIGTERM, SIGHUP, ...) would
     * be ignored by what the modules exec, too.
     */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
    {
        if (sig != SIGKILL && sig != SIGSTOP)
        {
            sigaction(sig, &sa, NULL);
        }
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sigchld_fd = -1;
    close(h->sigpipe[0]);
    close(h->sigpipe[1]);
    /* Why: only the helper may write responses, and only this child's to it. */
    if (cr_write >= 0)
    {
        close(cr_write);
    }
    for (unsigned i = 0; i < h->n_children; i++)
    {
        if (h->children[i].cr_fd >= 0)
        {
            close(h->children[i].cr_fd);
        }
    }
    /*
     * Why: if the helper dies, its children must too, or they would hold the
     * channel open and OpenVPN's side would never see the helper go.
     */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != h->self)
    {
        _exit(AP_CHILD_NOREPLY);
    }
    /* Why a group of its own: a kill at the deadline takes what PAM forked too. */
    setpgid(0, 0);

    memset(&rep, 0, sizeof(rep));
    rc = ap_wire_req_decode(f->payload, f->len, &req);
    /* The frame is ours to wipe: privsep's receive buffer, copied by fork. */
    ovp_wipe((void *)(uintptr_t)f->payload, f->len);
    if (rc < 0)
    {
        rep.verdict = OVP_TEMP;
        snprintf(rep.detail, sizeof(rep.detail), "malformed request refused by the PAM helper");
    }
    else
    {
        run_pam(h, chan, &req, f->id, cr_read, &rep);
        ap_wire_req_clear(&req);
    }
    n = ap_wire_rep_encode(&rep, buf, sizeof(buf));
    if (n < 0 || ovp_priv_reply(chan, AP_REP_RESULT, f->id, buf, (size_t)n) < 0)
    {
        _exit(AP_CHILD_NOREPLY);
    }
    h->marks[mark] = AP_MARK_REPLIED;
    _exit(AP_CHILD_REPLIED);
}

/* ----------------------------------------------------------- the helper */

void
ap_helper_setup(struct ap_helper *h, const struct ap_conf *conf, const struct ap_args *args,
                int cr_on, int verb)
{
    memset(h, 0, sizeof(*h));
    h->args = args;
    h->conf = conf;
    /* Room for every worker's transaction, those being killed, and challenged ones. */
    h->max_children = 2 * (unsigned)conf->workers + 4 + (cr_on ? (unsigned)conf->queue : 0);
    h->timeout_ms = conf->timeout_ms;
    h->verb = verb;
    h->challenge.enabled = cr_on;
    h->challenge.prompt = conf->crtext_prompt;
    h->crtext_timeout_ms = conf->crtext_timeout_ms;
}

int
ap_helper_init(struct ovp_priv_chan *chan, void *ctx)
{
    struct ap_helper *h = ctx;
    struct sigaction sa;

    h->self = getpid();
    h->n_children = 0;
    /*
     * Why: the helper's children hold passwords, OTPs and challenge responses
     * while PAM runs, and a module that crashes would leave them in a core file
     * (or in systemd-coredump's store). Not dumpable also keeps unprivileged
     * processes from ptrace or /proc/PID/mem. Inherited by every child; an exec
     * (unix_chkpwd) starts afresh.
     */
    {
        struct rlimit no_core = {0, 0};
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &no_core) < 0)
        {
            ovp_priv_log(chan, PLOG_ERR | PLOG_ERRNO, "cannot turn core dumps off");
            return -1;
        }
    }
    h->children = calloc(h->max_children, sizeof(*h->children));
    /* Shared with every child (fork keeps MAP_SHARED): where each marks its reply sent. */
    h->marks =
        mmap(NULL, h->max_children, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (h->marks == MAP_FAILED)
    {
        h->marks = NULL;
    }
    if (!h->children || !h->marks || pipe2(h->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
    {
        ovp_priv_log(chan, PLOG_ERR | PLOG_ERRNO, "cannot set up the PAM helper");
        return -1;
    }
    sigchld_fd = h->sigpipe[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
    {
        ovp_priv_log(chan, PLOG_ERR | PLOG_ERRNO, "cannot watch PAM transactions (SIGCHLD)");
        return -1;
    }
    if (h->challenge.enabled)
    {
        /* Why: every child waiting for a person holds one pipe end here. */
        struct rlimit rl;
        rlim_t want = (rlim_t)h->max_children + 64;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
        {
            rl.rlim_cur =
                rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    return 0;
}

static struct ap_child *
find_child(struct ap_helper *h, pid_t pid)
{
    for (unsigned i = 0; i < h->n_children; i++)
    {
        if (h->children[i].pid == pid)
        {
            return &h->children[i];
        }
    }
    return NULL;
}

static struct ap_child *
find_child_id(struct ap_helper *h, uint32_t id)
{
    for (unsigned i = 0; i < h->n_children; i++)
    {
        if (h->children[i].id == id && !h->children[i].killed)
        {
            return &h->children[i];
        }
    }
    return NULL;
}

static void
drop_child(struct ap_helper *h, struct ap_child *c)
{
    if (c->cr_fd >= 0)
    {
        close(c->cr_fd);
    }
    h->marks[c->mark] = AP_MARK_FREE;
    *c = h->children[--h->n_children];
}

/* A free byte in the page of reply marks, or -1 (every child holds one). */
static int
free_mark(const struct ap_helper *h)
{
    for (unsigned i = 0; i < h->max_children; i++)
    {
        if (h->marks[i] == AP_MARK_FREE)
        {
            return (int)i;
        }
    }
    return -1;
}

/* SIGKILLs C and every process in its group (what its PAM modules forked). */
static void
kill_child(const struct ap_child *c)
{
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
}

void
ap_helper_park(struct ovp_priv_chan *chan, void *ctx)
{
    struct ap_helper *h = ctx;
    int64_t until = now_ms() + AP_PARK_WAIT_MS;
    (void)chan;
    /*
     * Why kill, wait and forget: the plugin that sent these requests is closed and
     * has answered them itself; an answer arriving later could carry an id that
     * the adopting plugin reuses for another client. A SIGKILL is only queued when
     * kill returns: a child inside sendmsg still delivers its reply. Once it has
     * exited nothing of it can reach the channel, so PARKED (sent after this) is
     * really the last word of the closed plugin; and reaped now, no zombie waits
     * at the parked helper for the next request. Bounded: a process stuck in the
     * kernel may never exit; it is forgotten (reap skips unknown pids).
     */
    for (unsigned i = 0; i < h->n_children; i++)
    {
        kill_child(&h->children[i]);
    }
    while (h->n_children > 0)
    {
        struct ap_child *c = &h->children[h->n_children - 1];
        siginfo_t si;
        int r;

        memset(&si, 0, sizeof(si));
        r = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r == 0 && si.si_pid == c->pid)
        {
            kill(-c->pid, SIGKILL); /* its group id is still held: what PAM forked */
            while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            {
            }
        }
        else if (r == 0 && now_ms() < until)
        {
            poll(NULL, 0, 1);
            continue;
        }
        drop_child(h, c);
    }
}

/* Reaps every child that ended; answers TEMP for those that did not reply. */
static void
reap(struct ap_helper *h, struct ovp_priv_chan *chan)
{
    int status;
    pid_t pid;

    for (;;)
    {
        struct ap_child *c;
        char detail[160];
        siginfo_t si;

        /*
         * Why peek first (WNOWAIT): the group may outlive its leader, and what a
         * module forked must go with it; while the leader is an unreaped zombie
         * its pid, and so the group's id, cannot be reused by anyone else.
         */
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid <= 0)
        {
            break;
        }
        pid = si.si_pid;
        c = find_child(h, pid);
        if (c)
        {
            kill(-pid, SIGKILL);
        }
        if (waitpid(pid, &status, 0) < 0 || !c)
        {
            continue;
        }
        if (c->answered || h->marks[c->mark] == AP_MARK_REPLIED)
        {
            drop_child(h, c);
            continue;
        }
        if (WIFSIGNALED(status))
        {
            snprintf(detail, sizeof(detail),
                     "the PAM transaction crashed (signal %d): a PAM module is faulty",
                     WTERMSIG(status));
        }
        else
        {
            snprintf(detail, sizeof(detail),
                     "the PAM transaction ended without an answer (exit status %d)%s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     WIFEXITED(status) && WEXITSTATUS(status) != AP_CHILD_NOREPLY
                         ? ": a PAM module ended the process"
                         : "");
        }
        helper_reply(chan, c->id, OVP_TEMP, PAM_SYSTEM_ERR, "", detail);
        drop_child(h, c);
    }
}

/*
 * Kills children past their deadline and answers TEMP for them at once (a
 * process stuck in the kernel may never be reaped); returns ms until the next
 * deadline, or -1.
 */
static int
expire(struct ap_helper *h, struct ovp_priv_chan *chan)
{
    int64_t now = now_ms(), next = -1;

    for (unsigned i = 0; i < h->n_children; i++)
    {
        struct ap_child *c = &h->children[i];
        if (c->killed)
        {
            continue;
        }
        if (c->deadline_ms <= now)
        {
            kill_child(c);
            c->killed = 1;
            if (h->marks[c->mark] != AP_MARK_REPLIED)
            {
                char detail[160];
                snprintf(detail, sizeof(detail),
                         "the PAM transaction did not finish within %ld ms and was killed",
                         c->limit_ms);
                helper_reply(chan, c->id, OVP_TEMP, PAM_SYSTEM_ERR, "", detail);
                c->answered = 1;
            }
            continue;
        }
        if (next < 0 || c->deadline_ms - now < next)
        {
            next = c->deadline_ms - now;
        }
    }
    return next < 0 ? -1 : (int)(next > 60000 ? 60000 : next);
}

/* Waits, reaping and expiring, until the channel is readable (or closed). */
static void
wait_for_channel(struct ap_helper *h, struct ovp_priv_chan *chan)
{
    for (;;)
    {
        struct pollfd pfd[2] = {
            {.fd = ovp_priv_chan_fd(chan), .events = POLLIN},
            {.fd = h->sigpipe[0], .events = POLLIN},
        };
        char drain[64];
        int timeout;

        reap(h, chan);
        timeout = expire(h, chan);
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
        {
            return; /* privsep's read reports what is wrong */
        }
        while (read(h->sigpipe[0], drain, sizeof(drain)) > 0)
        {
        }
        if (pfd[0].revents)
        {
            reap(h, chan);
            return;
        }
    }
}

/*
 * Passes a challenge response to the child of its request, once. A response for
 * a transaction that is over, or that already got one, is dropped: OpenVPN's
 * side sends at most one per request, so this only happens in a race with the
 * end of the transaction.
 */
static void
forward_response(struct ap_helper *h, struct ovp_priv_chan *chan,
                 const struct ovp_priv_frame *req)
{
    const uint8_t *resp;
    uint32_t status;
    size_t len;
    struct ap_child *c;
    ssize_t n;

    /* Why decode here too: as root, pass on only what the child's decoder accepts. */
    if (ap_wire_cr_decode(req->payload, req->len, &status, &resp, &len) < 0)
    {
        ovp_priv_log(chan, PLOG_WARN, "malformed challenge response for request %u dropped",
                     (unsigned)req->id);
        return;
    }
    reap(h, chan);
    c = find_child_id(h, req->id);
    if (!c || c->cr_fd < 0)
    {
        if (h->verb >= 7)
        {
            ovp_priv_log(chan, PLOG_DEBUG,
                         "challenge response for request %u, which waits for none, dropped",
                         (unsigned)req->id);
        }
        return;
    }
    /* One write of at most AP_CR_FRAME_MAX <= PIPE_BUF bytes into an empty pipe. */
    do
    {
        n = write(c->cr_fd, req->payload, req->len);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)req->len)
    {
        ovp_priv_log(chan, PLOG_WARN | PLOG_ERRNO,
                     "cannot pass the challenge response to request %u", (unsigned)req->id);
    }
    close(c->cr_fd);
    c->cr_fd = -1;
}

int
ap_helper_answer(struct ovp_priv_chan *chan, void *ctx, const struct ovp_priv_frame *req)
{
    struct ap_helper *h = ctx;
    uint32_t flags = 0;
    int cr[2] = {-1, -1};
    int mark;
    pid_t pid;

    if (req->type == AP_REQ_CRRESPONSE)
    {
        forward_response(h, chan, req);
        goto wipe;
    }
    if (req->type != AP_REQ_AUTH)
    {
        helper_reply(chan, req->id, OVP_TEMP, 0, "", "unexpected request type");
        goto wait;
    }
    reap(h, chan);
    /*
     * Why a cap here too: the unprivileged side keeps at most `workers` requests
     * in flight, but the helper does not trust it. The cap leaves room for
     * children that replied and have not been reaped yet.
     */
    if (h->n_children >= h->max_children)
    {
        helper_reply(chan, req->id, OVP_TEMP, 0, "",
                     "too many PAM transactions in progress in the helper");
        goto wipe;
    }
    /* A malformed payload has no flags: the child reports it. */
    if (ap_wire_req_flags(req->payload, req->len, &flags) == 0 && (flags & AP_REQF_CRTEXT) &&
        h->challenge.enabled)
    {
        if (pipe2(cr, O_CLOEXEC) < 0 || fcntl(cr[1], F_SETFL, O_NONBLOCK) < 0)
        {
            char detail[128];
            snprintf(detail, sizeof(detail), "the PAM helper cannot make a response pipe: %s",
                     strerror(errno));
            helper_reply(chan, req->id, OVP_TEMP, 0, "", detail);
            goto wipe;
        }
    }
    mark = free_mark(h);
    if (mark < 0)
    {
        /* (Cannot happen: a mark per child slot, and the slots were checked above.) */
        helper_reply(chan, req->id, OVP_TEMP, 0, "", "no room for another PAM transaction");
        goto wipe;
    }
    h->marks[mark] = AP_MARK_RUNNING;
    pid = fork();
    if (pid == 0)
    {
        child_main(h, chan, req, cr[0], cr[1], (unsigned)mark);
    }
    if (pid > 0)
    {
        setpgid(pid, pid); /* as the child does: whichever runs first */
    }
    if (cr[0] >= 0)
    {
        close(cr[0]);
    }
    if (pid < 0)
    {
        char detail[128];
        h->marks[mark] = AP_MARK_FREE;
        snprintf(detail, sizeof(detail), "the PAM helper cannot fork: %s", strerror(errno));
        helper_reply(chan, req->id, OVP_TEMP, 0, "", detail);
        goto wipe;
    }
    {
        long limit = cr[1] >= 0 ? h->crtext_timeout_ms : h->timeout_ms;
        h->children[h->n_children++] = (struct ap_child){
            .pid = pid,
            .id = req->id,
            .deadline_ms = now_ms() + limit + AP_KILL_GRACE_MS,
            .limit_ms = limit,
            .mark = (unsigned)mark,
            .cr_fd = cr[1],
        };
        cr[1] = -1;
    }

wipe:
    if (cr[1] >= 0)
    {
        close(cr[1]);
    }
    /* The credentials (or the response) now live only in the child. */
    ovp_wipe((void *)(uintptr_t)req->payload, req->len);
wait:
    wait_for_channel(h, chan);
    return 0;
}

void
ap_helper_fini(void *ctx)
{
    struct ap_helper *h = ctx;

    /* OpenVPN closed the plugin: the answers were already sent (TEMP), stop PAM. */
    for (unsigned i = 0; i < h->n_children; i++)
    {
        kill_child(&h->children[i]);
        if (h->children[i].cr_fd >= 0)
        {
            close(h->children[i].cr_fd);
        }
    }
    for (unsigned i = 0; i < h->n_children; i++)
    {
        while (waitpid(h->children[i].pid, NULL, 0) < 0 && errno == EINTR)
        {
        }
    }
    h->n_children = 0;
    free(h->children);
    h->children = NULL;
    if (h->marks)
    {
        munmap((void *)h->marks, h->max_children);
        h->marks = NULL;
    }
}

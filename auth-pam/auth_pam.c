/* auth_pam.c: ovp-auth-pam, OpenVPN's auth-pam that never blocks the server: the glue. */
#include "ovpbuild.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "defer.h"
#include "env.h"
#include "pam_args.h"
#include "pam_helper.h"
#include "pam_wire.h"
#include "plugin.h"
#include "privsep.h"
#include "secret.h"

/*
 * How a request travels (and why):
 * - OpenVPN's thread: the auth hook copies the request (ovp_defer_req_from_env),
 *   submits it to the defer engine and returns DEFERRED: microseconds, no I/O.
 * - The sender thread takes requests from the engine (event-driven mode), keeps
 *   at most `workers` of them at the helper, splits SCRV1 passwords, and sends
 *   each as one frame whose id is the request's.
 * - The root helper forks one child per request; the child runs PAM and replies
 *   on the channel (pam_helper.c).
 * - The receiver thread reads replies and finishes the request by id: the engine
 *   writes the reason file, then the control file. The engine's deadline answers
 *   TEMP if PAM takes longer than `timeout`; the helper kills such a transaction.
 * Two threads of our own, plus the engine's deadline thread: a fixed count
 * whatever `workers` is, since PAM runs in root's processes, not in our threads
 * (OpenVPN's systemd unit limits the unprivileged user to 10 tasks).
 */

#define AP_NAME "ovp-auth-pam"
static const char helper_gone_reason[] = "TEMP: PAM helper is gone, try again later";

struct ap_conf
{
    long workers;
    long queue;
    long timeout_ms;
    int token_skip;
};

static const char *const no_sections[] = {NULL};

static const struct ovp_cfg_key ap_keys[] = {
    {.name = "workers",
     .type = OVP_CFG_INT,
     .def = "16",
     .offset = offsetof(struct ap_conf, workers),
     .min = 1,
     .max = 1024,
     .help = "PAM transactions that run at the same time (one process each)"},
    {.name = "queue",
     .type = OVP_CFG_INT,
     .def = "1024",
     .offset = offsetof(struct ap_conf, queue),
     .min = 1,
     .max = 1000000,
     .help = "authentications waiting or running before new ones fail with TEMP"},
    {.name = "timeout",
     .type = OVP_CFG_DURATION,
     .def = "50s",
     .offset = offsetof(struct ap_conf, timeout_ms),
     .min = 100,
     .max = 3600000,
     .help = "longest time for one authentication; keep it below hand-window (60s)"},
    {.name = "token_skip",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct ap_conf, token_skip),
     .help = "accept a client whose auth-gen-token is valid (session_state Authenticated) "
             "without running PAM"},
};
#define AP_NKEYS (sizeof(ap_keys) / sizeof(ap_keys[0]))

/* A request at the helper, waiting for its reply. */
struct ap_slot
{
    uint32_t id;
    struct ovp_defer_req *req;
};

struct ap_state
{
    struct ovp_plugin *plugin;
    struct ovp_log *log;
    struct ap_conf conf;
    struct ap_args args;
    struct ap_helper helper; /* the helper's context, copied into it by fork */
    struct ovp_priv *priv;
    struct ovp_defer *defer;

    pthread_mutex_t mu;
    pthread_cond_t slot_cv; /* a slot came free, or stopping */
    struct ap_slot *slots;  /* outstanding at the helper: n_out of conf.workers */
    struct ap_slot *spare;  /* same size: where helper_lost moves them */
    unsigned n_out;
    int stopping;
    atomic_int helper_gone;

    int wake_fd;      /* eventfd: wakes the receiver at close */
    uint8_t *sendbuf; /* the sender's frame buffer (AP_FRAME_MAX) */
    pthread_t sender, receiver;
    int sender_started, receiver_started;
    int sync_ok; /* mu and slot_cv initialised */
};

/* --------------------------------------------------------- slot bookkeeping */

/* Removes and returns the request with ID, or NULL. Mutex held. */
static struct ovp_defer_req *
slot_take_locked(struct ap_state *st, uint32_t id)
{
    for (unsigned i = 0; i < st->n_out; i++)
    {
        if (st->slots[i].id == id)
        {
            struct ovp_defer_req *r = st->slots[i].req;
            st->slots[i] = st->slots[--st->n_out];
            pthread_cond_signal(&st->slot_cv);
            return r;
        }
    }
    return NULL;
}

/*
 * The helper is gone: every request at it fails with TEMP now, and every later
 * one at once. Why no respawn: by now OpenVPN has usually dropped root (user
 * nobody), and a process that is unprivileged and threaded cannot fork a new
 * root helper; a helper started without root would fail every PAM stack that
 * reads /etc/shadow. Restarting OpenVPN brings it back.
 */
static void
helper_lost(struct ap_state *st, const char *why)
{
    unsigned n;

    if (atomic_exchange(&st->helper_gone, 1))
    {
        return;
    }
    pthread_mutex_lock(&st->mu);
    n = st->n_out;
    memcpy(st->spare, st->slots, n * sizeof(*st->slots));
    st->n_out = 0;
    pthread_cond_broadcast(&st->slot_cv);
    pthread_mutex_unlock(&st->mu);

    ovp_err(st->log,
            "the PAM helper (pid %ld) is gone (%s): %u authentication(s) in progress fail "
            "with TEMP, and so will every later one until OpenVPN is restarted (an "
            "unprivileged OpenVPN cannot start a new root helper)",
            (long)ovp_priv_pid(st->priv), why, n);
    for (unsigned i = 0; i < n; i++)
    {
        ovp_defer_finish(st->defer, st->spare[i].req, OVP_TEMP, helper_gone_reason);
    }
}

/* ------------------------------------------------------------------ sender */

/* Sends REQ to the helper, or finishes it at once. The sender holds REQ. */
static void
dispatch(struct ap_state *st, struct ovp_defer_req *req)
{
    struct ap_wire_out w;
    struct ovp_priv_buf b = {st->sendbuf, 0, AP_FRAME_MAX};
    char *pw = NULL, *otp = NULL;
    uint32_t id = (uint32_t)req->id;
    int rc;

    if (ovp_defer_req_answered(req))
    {
        ovp_defer_finish(st->defer, req, OVP_TEMP, NULL); /* timed out in the queue: free */
        return;
    }
    if (atomic_load(&st->helper_gone))
    {
        ovp_defer_finish(st->defer, req, OVP_TEMP, helper_gone_reason);
        return;
    }
    switch (ap_scrv1_split(req->password, &pw, &otp))
    {
        case AP_SCRV1_NOMEM:
            ovp_defer_finish(st->defer, req, OVP_TEMP, NULL);
            return;
        case AP_SCRV1_MALFORMED:
            ovp_logf_client(st->log, &req->who, PLOG_WARN,
                            "the static-challenge (SCRV1) password does not decode; using it "
                            "whole as the password");
            break;
        default:
            break;
    }
    w.who = req->who.text;
    w.username = req->username;
    w.password = pw;
    w.common_name = req->common_name;
    w.otp = otp;
    w.rhost = req->client_ip;
    rc = ap_wire_req_encode(&b, &w);
    ovp_free_secret(pw);
    ovp_free_secret(otp);
    if (rc < 0)
    {
        ovp_wipe(b.data, b.cap);
        ovp_logf_client(st->log, &req->who, PLOG_WARN,
                        "username, password or common name is longer than %d bytes: refused",
                        AP_FIELD_MAX);
        ovp_defer_finish(st->defer, req, OVP_DENY, NULL);
        return;
    }

    /*
     * In the map before the send: the reply may come back at once. Checked under
     * the mutex: helper_lost sets the flag before it empties the map, so a request
     * is either in the map it empties or never enters it.
     */
    pthread_mutex_lock(&st->mu);
    if (atomic_load(&st->helper_gone))
    {
        pthread_mutex_unlock(&st->mu);
        ovp_wipe(b.data, b.len);
        ovp_defer_finish(st->defer, req, OVP_TEMP, helper_gone_reason);
        return;
    }
    st->slots[st->n_out++] = (struct ap_slot){.id = id, .req = req};
    pthread_mutex_unlock(&st->mu);

    rc = ovp_priv_send(st->priv, AP_REQ_AUTH, id, b.data, b.len);
    ovp_wipe(b.data, b.len);
    if (rc < 0)
    {
        /* Whoever removes it from the map finishes it (helper_lost may have). */
        pthread_mutex_lock(&st->mu);
        req = slot_take_locked(st, id);
        pthread_mutex_unlock(&st->mu);
        if (req)
        {
            ovp_defer_finish(st->defer, req, OVP_TEMP,
                             "TEMP: cannot reach the PAM helper, try again");
        }
    }
}

static void *
sender_main(void *arg)
{
    struct ap_state *st = arg;

    for (;;)
    {
        struct ovp_defer_req *req;
        int stop;

        /* The bound: at most `workers` transactions at the helper at once. */
        pthread_mutex_lock(&st->mu);
        while (!st->stopping && st->n_out >= (unsigned)st->conf.workers)
        {
            pthread_cond_wait(&st->slot_cv, &st->mu);
        }
        stop = st->stopping;
        pthread_mutex_unlock(&st->mu);
        if (stop)
        {
            break;
        }
        req = ovp_defer_take(st->defer, -1);
        if (!req)
        {
            break; /* the engine is closing */
        }
        dispatch(st, req);
    }
    return NULL;
}

/* ---------------------------------------------------------------- receiver */

/* Copies TEXT for a log line: control bytes replaced (usernames are the client's). */
static void
clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
    {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[i] = '\0';
}

static void
handle_reply(struct ap_state *st, const struct ovp_priv_frame *f)
{
    struct ap_wire_rep rep;
    struct ovp_defer_req *req;
    char detail[AP_DETAIL_MAX];

    memset(&rep, 0, sizeof(rep));
    if (f->type == AP_REP_RESULT && ap_wire_rep_decode(f->payload, f->len, &rep) == 0)
    {
        /* decoded */
    }
    else if (f->type == OVP_PRIV_ERROR)
    {
        rep.verdict = OVP_TEMP;
        snprintf(rep.detail, sizeof(rep.detail), "the helper refused the request: %.*s",
                 (int)(f->len > 200 ? 200 : f->len), (const char *)f->payload);
    }
    else
    {
        rep.verdict = OVP_TEMP;
        snprintf(rep.detail, sizeof(rep.detail), "malformed reply from the PAM helper");
    }

    pthread_mutex_lock(&st->mu);
    req = slot_take_locked(st, f->id);
    pthread_mutex_unlock(&st->mu);
    if (!req)
    {
        ovp_debug(st->log, "late reply for request %u ignored", (unsigned)f->id);
        return;
    }
    clean(detail, sizeof(detail), rep.detail);
    if (rep.verdict == OVP_ALLOW)
    {
        ovp_logf_client(st->log, &req->who, PLOG_DEBUG, "PAM: %s", detail);
    }
    else
    {
        ovp_logf_client(st->log, &req->who, rep.verdict == OVP_TEMP ? PLOG_WARN : PLOG_NOTE,
                        "PAM: %s", detail);
    }
    ovp_defer_finish(st->defer, req, (int)rep.verdict, rep.reason[0] ? rep.reason : NULL);
}

static void *
receiver_main(void *arg)
{
    struct ap_state *st = arg;

    for (;;)
    {
        struct pollfd pfd[2] = {
            {.fd = ovp_priv_fd(st->priv), .events = POLLIN},
            {.fd = st->wake_fd, .events = POLLIN},
        };
        struct ovp_priv_frame f;
        int stop, rc;

        /* Why a timeout: a look at the helper's pid catches a death the channel hides. */
        rc = poll(pfd, 2, 1000);
        pthread_mutex_lock(&st->mu);
        stop = st->stopping;
        pthread_mutex_unlock(&st->mu);
        if (stop)
        {
            break;
        }
        if (rc < 0 && errno != EINTR)
        {
            helper_lost(st, "cannot poll its channel");
            break;
        }
        if (rc == 0 || !pfd[0].revents)
        {
            if (!ovp_priv_alive(st->priv))
            {
                helper_lost(st, "it exited");
                break;
            }
            continue;
        }
        rc = ovp_priv_recv(st->priv, &f, 0);
        if (rc < 0)
        {
            helper_lost(st, "its channel closed: killed or crashed");
            break;
        }
        if (rc == 1)
        {
            handle_reply(st, &f);
        }
    }
    return NULL;
}

/* ops.cancel: the engine is closing; stop and join our two threads. */
static void
ap_cancel(void *state)
{
    struct ap_state *st = state;
    uint64_t one = 1;

    pthread_mutex_lock(&st->mu);
    st->stopping = 1;
    pthread_cond_broadcast(&st->slot_cv);
    pthread_mutex_unlock(&st->mu);
    if (write(st->wake_fd, &one, sizeof(one)) < 0)
    {
        ovp_err(st->log, "cannot wake the PAM receiver thread");
    }
    if (st->sender_started)
    {
        pthread_join(st->sender, NULL);
        st->sender_started = 0;
    }
    if (st->receiver_started)
    {
        pthread_join(st->receiver, NULL);
        st->receiver_started = 0;
    }
    /* What is still in the map was answered by the engine's close, which frees it. */
    st->n_out = 0;
}

/* ------------------------------------------------------------ open / close */

static void
ap_free(struct ap_state *st)
{
    if (!st)
    {
        return;
    }
    if (st->defer)
    {
        ovp_defer_close(st->defer); /* answers what is left, cancel joins our threads */
    }
    else if (st->sync_ok)
    {
        ap_cancel(st);
    }
    if (st->priv)
    {
        ovp_priv_stop(st->priv, 2000);
    }
    if (st->wake_fd >= 0)
    {
        close(st->wake_fd);
    }
    if (st->sync_ok)
    {
        pthread_cond_destroy(&st->slot_cv);
        pthread_mutex_destroy(&st->mu);
    }
    free(st->slots);
    free(st->spare);
    free(st->sendbuf);
    ap_args_free(&st->args);
    ovp_cfg_release(ap_keys, AP_NKEYS, &st->conf);
    free(st);
}

static int
start_threads(struct ap_state *st, char *err, size_t errlen)
{
    sigset_t all, old;
    int rc;

    /* As the engine's: OpenVPN's signals belong to its main thread. */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&st->receiver, NULL, receiver_main, st);
    st->receiver_started = rc == 0;
    if (rc == 0)
    {
        rc = pthread_create(&st->sender, NULL, sender_main, st);
        st->sender_started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
    {
        snprintf(err, errlen, "cannot start the PAM threads: %s", strerror(rc));
        return -1;
    }
    return 0;
}

static void
log_setup(struct ap_state *st)
{
    char line[OVP_LOG_LINE_MAX];
    size_t used;

    used = (size_t)snprintf(line, sizeof(line),
                            "PAM service \"%s\", helper pid %ld, workers=%ld queue=%ld "
                            "timeout=%ld ms token_skip=%s, ",
                            st->args.service, (long)ovp_priv_pid(st->priv), st->conf.workers,
                            st->conf.queue, st->conf.timeout_ms,
                            st->conf.token_skip ? "yes" : "no");
    if (st->args.n_prompts == 0 && used < sizeof(line))
    {
        snprintf(line + used, sizeof(line) - used,
                 "no prompt mapping (echo-off questions get the password, echo-on ones the "
                 "username)");
    }
    for (size_t i = 0; i < st->args.n_prompts && used < sizeof(line); i++)
    {
        char desc[160];
        ap_describe(&st->args.prompts[i], desc, sizeof(desc));
        used += (size_t)snprintf(line + used, sizeof(line) - used, "%s\"%s\" -> %s",
                                 i ? ", " : "prompts: ", st->args.prompts[i].prefix, desc);
    }
    ovp_note(st->log, "%s", line);
}

static int
ap_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    static const uint16_t permitted[] = {AP_REQ_AUTH};
    struct ovp_log *log = ovp_plugin_log(p);
    struct ovp_cfg_node *root = NULL;
    struct ovp_defer_conf dc;
    struct ovp_defer_ops ops;
    struct ovp_priv_spec spec;
    char err[512];
    size_t n = ovp_argc(argv), consumed = 0;
    const char *const *words = n > 1 ? argv + 1 : argv + n;
    size_t nwords = n > 1 ? n - 1 : 0;
    struct ap_state *st;
    (void)envp;

    st = calloc(1, sizeof(*st));
    if (!st)
    {
        ovp_err(log, "out of memory");
        return -1;
    }
    st->plugin = p;
    st->log = log;
    st->wake_fd = -1;
    if (ovp_cfg_parse_words(words, nwords, &consumed, &root, err, sizeof(err)) < 0 ||
        ovp_cfg_bind(root, ap_keys, AP_NKEYS, &st->conf, no_sections, err, sizeof(err)) < 0 ||
        ap_args_parse(words + consumed, nwords - consumed, &st->args, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    ovp_cfg_free(root);
    root = NULL;

    st->slots = calloc((size_t)st->conf.workers, sizeof(*st->slots));
    st->spare = calloc((size_t)st->conf.workers, sizeof(*st->spare));
    st->sendbuf = malloc(AP_FRAME_MAX);
    if (!st->slots || !st->spare || !st->sendbuf)
    {
        ovp_err(log, "out of memory");
        goto fail;
    }
    if (geteuid() != 0)
    {
        ovp_warn(log,
                 "opened without root (uid %u): PAM modules that read /etc/shadow will fail "
                 "for everyone but this user. After a SIGHUP OpenVPN reopens plugins without "
                 "privileges; restart OpenVPN instead",
                 (unsigned)geteuid());
    }

    /* The helper first: privsep must fork before any thread exists. */
    st->helper.args = &st->args;
    st->helper.max_children = 2 * (unsigned)st->conf.workers + 4;
    st->helper.timeout_ms = st->conf.timeout_ms;
    st->helper.verb = ovp_log_verb(log);
    memset(&spec, 0, sizeof(spec));
    spec.name = "PAM helper";
    spec.permitted = permitted;
    spec.n_permitted = 1;
    spec.max_frame = AP_FRAME_MAX;
    spec.answer = ap_helper_answer;
    spec.ctx = &st->helper;
    spec.init = ap_helper_init;
    spec.fini = ap_helper_fini;
    st->priv = ovp_priv_start(&spec, log, err, sizeof(err));
    if (!st->priv)
    {
        ovp_err(log, "cannot start the PAM helper: %s", err);
        goto fail;
    }

    st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (st->wake_fd < 0)
    {
        ovp_logf(log, PLOG_ERR | PLOG_ERRNO, "eventfd");
        goto fail;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->slot_cv, NULL);
    st->sync_ok = 1;

    memset(&dc, 0, sizeof(dc));
    dc.workers = 0; /* event-driven: our sender takes, our receiver finishes */
    dc.queue_max = (unsigned)st->conf.queue;
    dc.deadline_ms = (unsigned)st->conf.timeout_ms;
    dc.what = "PAM";
    memset(&ops, 0, sizeof(ops));
    ops.cancel = ap_cancel;
    st->defer = ovp_defer_new(&dc, &ops, st, log, err, sizeof(err));
    if (!st->defer || start_threads(st, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    log_setup(st);
    *state = st;
    return 0;

fail:
    ovp_cfg_free(root);
    ap_free(st);
    return -1;
}

static int
auth_refuse_now(struct ap_state *st, const struct ovp_event *ev, const char *reason)
{
    char err[256];
    const char *rf = ovp_env_get_nonempty(ev->envp, "auth_failed_reason_file");
    if (rf && ovp_auth_write_reason(rf, reason, err, sizeof(err)) < 0)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot write the reason: %s", err);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

static int
ap_auth(struct ap_state *st, const struct ovp_event *ev)
{
    struct ovp_defer_req *req;
    const char *user = ovp_env_get(ev->envp, "username");
    const char *state = ovp_env_get(ev->envp, "session_state");
    char err[256];

    /*
     * OpenVPN checked the token's HMAC and lifetime itself before calling us
     * (auth-gen-token ... external-auth); PAM would only see the token as a
     * password it cannot verify.
     */
    if (st->conf.token_skip && state &&
        (strcmp(state, "Authenticated") == 0 || strcmp(state, "AuthenticatedEmptyUser") == 0))
    {
        ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                        "auth-gen-token session is valid (%s): accepted without PAM "
                        "(token_skip=yes)",
                        state);
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    if (!user || !user[0])
    {
        ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                        "authentication failed: the client sent no username");
        return auth_refuse_now(st, ev, "authentication failed");
    }
    if (atomic_load(&st->helper_gone))
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "temporary failure: the PAM helper is gone (restart OpenVPN)");
        return auth_refuse_now(st, ev, helper_gone_reason);
    }
    req = ovp_defer_req_from_env(ev->envp, err, sizeof(err));
    if (!req)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot defer: %s", err);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (ovp_defer_submit(st->defer, req) < 0)
    {
        return OPENVPN_PLUGIN_FUNC_ERROR; /* TEMP reason written and logged */
    }
    return OPENVPN_PLUGIN_FUNC_DEFERRED;
}

static int
ap_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    (void)p;
    if (ev->type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY)
    {
        return ap_auth(state, ev);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

static void
ap_close(struct ovp_plugin *p, void *state)
{
    (void)p;
    ap_free(state);
}

static void
ap_abort(struct ovp_plugin *p, void *state)
{
    struct ap_state *st = state;
    (void)p;
    /* The helper's children die with it (PR_SET_PDEATHSIG). */
    if (st && st->priv && ovp_priv_pid(st->priv) > 0)
    {
        kill(ovp_priv_pid(st->priv), SIGKILL);
    }
}

static const struct ovp_plugin_desc ap_desc = {
    .name = AP_NAME,
    .events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY),
    .open = ap_open,
    .event = ap_event,
    .close = ap_close,
    .abort = ap_abort,
};
OVP_PLUGIN(ap_desc);

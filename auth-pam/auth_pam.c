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
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "defer.h"
#include "env.h"
#include "pam_args.h"
#include "pam_wire.h"
#include "plugin.h"
#include "privsep.h"
#include "secret.h"
#include "util.h"

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
 *
 * A crtext challenge (crtext=...), for a client whose IV_SSO has crtext:
 * - the auth hook writes the pending file before it returns DEFERRED (OpenVPN
 *   reads it once, then), records the request in the challenge table under its
 *   auth_control_file, and gives the request crtext_timeout as its deadline;
 * - CLIENT_CRRESPONSE (OpenVPN's thread) finds the entry by the same
 *   auth_control_file, decodes the response and stores it: once per request;
 * - whichever comes second of "the request reached the helper" (sender) and
 *   "the response arrived" (the receiver, woken by the hook) sends the response
 *   to the helper, which hands it to the PAM child of that request;
 * - a child waiting for a person sends AP_REP_WAITING: its worker slot is free
 *   for others until the answer (so `workers` bounds busy PAM processes).
 * The hook never sends on the channel itself: it stays a few microseconds.
 *
 * Admission (per_address, per_user, crtext_max): the hook counts each request
 * under its client address and its username in a table sized at open, and a
 * challenged one among those waiting for a response; over a cap it answers TEMP
 * at once, before any PAM runs. The counts are given back when the request is
 * freed (struct ap_rq), so a refusal held for PAM's fail delay still counts:
 * a password-guessing client gains nothing by not waiting for its answers.
 *
 * PAM's fail delay: the PAM process does not sleep (pam_helper.c); the reply
 * says how long, and the receiver keeps the refusal in a list until then, the
 * worker slot already free for the next client.
 */

#define AP_NAME           "ovp-auth-pam"
#define AP_HELPER_PROGRAM "ovp-auth-pam-helper"
static const char helper_gone_reason[] = "TEMP: PAM helper is gone, try again later";

/* Buckets of the challenge table (a power of two). */
#define AP_CR_BUCKETS 1024
/*
 * How long past its PAM time limit a request may stay at the helper before this
 * side frees its slot: the helper kills and answers at the limit plus half a
 * second, so only a helper that cannot answer (stopped, wedged) gets here.
 */
#define AP_SLOT_GRACE_MS 2000

/* A request at the helper, waiting for its reply. */
struct ap_slot
{
    uint32_t id;
    int waiting;     /* PAM waits for the client's challenge response: not busy */
    uint64_t due_ms; /* monotonic: past this, freed even without a reply */
    struct ovp_defer_req *req;
};

struct ap_state;
struct ap_cr;

/*
 * What this plugin keeps with every request (req->data), freed with it by the
 * engine (rq_release): the challenge if any, the admission counts it holds,
 * and a refusal held for PAM's fail delay.
 */
struct ap_rq
{
    struct ap_state *st;
    struct ovp_defer_req *req;
    struct ap_cr *cr;          /* the challenge, or NULL */
    struct ovp_admit_hold adm; /* admission counts held */
    uint64_t deadline_ms;      /* monotonic: when the engine answers TEMP */
    struct ap_rq *delayed;     /* next in the fail-delay list (receiver thread) */
    uint64_t due_ms;           /* when the held refusal goes out */
    int verdict;
    char *reason; /* NULL: generic */
};

/*
 * A request whose client was shown the challenge (the request's data). Found by
 * OpenVPN's thread through its auth_control_file, by our threads through the
 * request or the outbox. Freed when the last of the request (free_data), the
 * sender during a dispatch and the outbox lets go of it; fields under cr_mu.
 */
struct ap_cr
{
    struct ap_cr *next;     /* hash chain */
    struct ap_cr *out_next; /* outbox */
    struct ap_state *st;
    char *control_file; /* the key */
    uint64_t auth_ms;   /* when the challenge was sent (monotonic) */
    uint32_t id;        /* the request's id, set at dispatch */
    unsigned refs;
    int got;         /* a response arrived (only the first one counts) */
    int have;        /* ... and is here, not yet sent */
    int dispatched;  /* the request reached the helper */
    int dead;        /* the request is over */
    int counted;     /* counts among the clients waiting to answer (crtext_max) */
    uint32_t status; /* AP_CR_OK or AP_CR_MALFORMED */
    char *resp;      /* secret, resp_len bytes + NUL */
    size_t resp_len;
};

struct ap_state
{
    struct ovp_plugin *plugin;
    struct ovp_log *log;
    struct ovp_log_limit cr_limit; /* complaints about CLIENT_CRRESPONSE messages */
    struct ap_conf conf;
    struct ap_args args;
    struct ovp_priv *priv;
    struct ovp_defer *defer;

    pthread_mutex_t mu;
    pthread_cond_t slot_cv; /* a slot came free, or stopping */
    struct ap_slot *slots;  /* outstanding at the helper: n_out of slot_cap */
    struct ap_slot *spare;  /* same size: where helper_lost moves them */
    unsigned slot_cap;      /* workers, plus queue when challenges may wait */
    unsigned n_out;
    unsigned n_busy; /* n_out minus those waiting for a person: at most workers */
    int stopping;
    atomic_int helper_gone;

    /* crtext challenge (cr_on: configured and the host has CLIENT_CRRESPONSE) */
    int cr_on;
    char crtext_line[AP_CRTEXT_MAX + 16]; /* "CR_TEXT:R:..." */
    unsigned pending_s;                   /* the pending file's timeout */
    pthread_mutex_t cr_mu;                /* the table, the outbox, every ap_cr */
    struct ap_cr **cr_tab;
    struct ap_cr *out_head, *out_tail;
    unsigned long cr_waiting; /* challenged clients that have not answered (cr_mu) */

    /* admission: requests in flight per address and per username */
    struct ovp_admit_gate *admit;

    struct ap_rq *delayed; /* refusals held for PAM's fail delay, by due time (receiver) */

    int wake_fd;      /* eventfd: wakes the receiver (close, responses to send) */
    uint8_t *sendbuf; /* the sender's frame buffer (AP_FRAME_MAX) */
    struct ovp_thread *sender, *receiver;
    int sender_started, receiver_started;
    int sync_ok; /* mu, cr_mu and slot_cv initialised */
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
            if (!st->slots[i].waiting)
            {
                st->n_busy--;
            }
            st->slots[i] = st->slots[--st->n_out];
            pthread_cond_signal(&st->slot_cv);
            return r;
        }
    }
    return NULL;
}

static void cr_release(void *data);

static int release_refusals(struct ap_state *st, int all);

/* REQ's challenge, or NULL. */
static struct ap_cr *
req_cr(const struct ovp_defer_req *req)
{
    const struct ap_rq *rq = req->data;
    return rq ? rq->cr : NULL;
}

/*
 * PAM of request ID waits for a person: its slot no longer counts as busy. Why
 * only for a challenged request: slot_cap leaves room for waiting slots only
 * for those, so no other may leave the busy count.
 */
static void
slot_waiting(struct ap_state *st, uint32_t id)
{
    pthread_mutex_lock(&st->mu);
    for (unsigned i = 0; i < st->n_out; i++)
    {
        if (st->slots[i].id == id && !st->slots[i].waiting && req_cr(st->slots[i].req))
        {
            st->slots[i].waiting = 1;
            st->n_busy--;
            pthread_cond_signal(&st->slot_cv);
            break;
        }
    }
    pthread_mutex_unlock(&st->mu);
}

/* ------------------------------------------------------ challenge table */

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t
cr_bucket(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *key; key++)
    {
        h = (h ^ (unsigned char)*key) * 16777619u;
    }
    return h & (AP_CR_BUCKETS - 1);
}

static void
cr_free(struct ap_cr *e)
{
    if (!e)
    {
        return;
    }
    if (e->resp)
    {
        ovp_wipe(e->resp, e->resp_len + 1);
        free(e->resp);
    }
    free(e->control_file);
    free(e);
}

/* The live entry for CONTROL_FILE, or NULL. cr_mu held. */
static struct ap_cr *
cr_find_locked(struct ap_state *st, const char *control_file)
{
    for (struct ap_cr *e = st->cr_tab[cr_bucket(control_file)]; e; e = e->next)
    {
        if (strcmp(e->control_file, control_file) == 0)
        {
            return e;
        }
    }
    return NULL;
}

/* Drops one reference. cr_mu held. Returns E when the caller must free it. */
static struct ap_cr *
cr_unref_locked(struct ap_cr *e)
{
    return --e->refs == 0 ? e : NULL;
}

/* The request is over: out of the table, its response (if any) wiped. cr_mu held. */
static void
cr_retire_locked(struct ap_state *st, struct ap_cr *e)
{
    struct ap_cr **pp;

    if (e->dead)
    {
        return;
    }
    for (pp = &st->cr_tab[cr_bucket(e->control_file)]; *pp; pp = &(*pp)->next)
    {
        if (*pp == e)
        {
            *pp = e->next;
            break;
        }
    }
    e->dead = 1;
    e->have = 0;
    if (e->counted)
    {
        e->counted = 0;
        st->cr_waiting--;
    }
    if (e->resp)
    {
        ovp_wipe(e->resp, e->resp_len + 1);
        free(e->resp);
        e->resp = NULL;
    }
}

/* The request is over; no response is taken for it any more. */
static void
cr_release(void *data)
{
    struct ap_cr *e = data;
    struct ap_state *st = e->st;

    pthread_mutex_lock(&st->cr_mu);
    cr_retire_locked(st, e);
    e = cr_unref_locked(e);
    pthread_mutex_unlock(&st->cr_mu);
    cr_free(e);
}

/*
 * PAM decided REQ: retire its challenge before the answer is written, so that a
 * response OpenVPN passes on once it has seen the answer is reported as late.
 */
static void
cr_retire_req(struct ap_state *st, struct ovp_defer_req *req)
{
    struct ap_cr *cr = req_cr(req);
    if (cr)
    {
        pthread_mutex_lock(&st->cr_mu);
        cr_retire_locked(st, cr);
        pthread_mutex_unlock(&st->cr_mu);
    }
}

/*
 * Takes E's response if it can go now (the request reached the helper, is not
 * over, and the response was not sent). cr_mu held. The caller sends and wipes.
 */
static int
cr_take_locked(struct ap_cr *e, uint32_t *id, uint32_t *status, char **resp, size_t *len)
{
    if (e->dead || !e->dispatched || !e->have)
    {
        return 0;
    }
    e->have = 0;
    *id = e->id;
    *status = e->status;
    *resp = e->resp;
    *len = e->resp_len;
    e->resp = NULL;
    e->resp_len = 0;
    return 1;
}

/* Sends a response to the helper, then wipes and frees it. Our threads only. */
static void
cr_send(struct ap_state *st, uint32_t id, uint32_t status, char *resp, size_t len)
{
    uint8_t buf[AP_CR_FRAME_MAX];
    long n = ap_wire_cr_encode(status, resp, len, buf, sizeof(buf));

    if (n < 0 || ovp_priv_send(st->priv, AP_REQ_CRRESPONSE, id, buf, (size_t)n) < 0)
    {
        /* The helper is gone (its loss is reported once) or the request is over. */
        ovp_debug(st->log, "the challenge response of request %u could not be passed on",
                  (unsigned)id);
    }
    ovp_wipe(buf, sizeof(buf));
    if (resp)
    {
        ovp_wipe(resp, len + 1);
        free(resp);
    }
}

/* Receiver: sends what the auth hook queued for requests already at the helper. */
static void
cr_flush_outbox(struct ap_state *st)
{
    for (;;)
    {
        struct ap_cr *e, *drop;
        uint32_t id = 0, status = 0;
        char *resp = NULL;
        size_t len = 0;
        int take;

        pthread_mutex_lock(&st->cr_mu);
        e = st->out_head;
        if (!e)
        {
            pthread_mutex_unlock(&st->cr_mu);
            return;
        }
        st->out_head = e->out_next;
        if (!st->out_head)
        {
            st->out_tail = NULL;
        }
        e->out_next = NULL;
        take = cr_take_locked(e, &id, &status, &resp, &len);
        drop = cr_unref_locked(e);
        pthread_mutex_unlock(&st->cr_mu);
        if (take)
        {
            cr_send(st, id, status, resp, len);
        }
        cr_free(drop);
    }
}

/*
 * The helper is gone: every request at it fails with TEMP now, and every later
 * one at once. Why no respawn: by now OpenVPN has usually dropped root (user
 * nobody) and cannot start a root helper; a helper started without root would
 * fail every PAM stack that reads /etc/shadow. Restarting OpenVPN brings it back,
 * and on_helper_loss=restart asks for that.
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
    st->n_busy = 0;
    pthread_cond_broadcast(&st->slot_cv);
    pthread_mutex_unlock(&st->mu);

    if (st->conf.on_helper_loss == AP_LOSS_RESTART)
    {
        ovp_err(st->log,
                "the PAM helper (pid %ld) is gone (%s): %u authentication(s) in progress fail "
                "with TEMP; on_helper_loss=restart: asking OpenVPN to reload (SIGHUP), which "
                "starts a new helper as root or, without root, ends OpenVPN for its "
                "supervisor to restart",
                (long)ovp_priv_pid(st->priv), why, n);
        /*
         * Why SIGHUP and not an exit: OpenVPN closes everything in order, and the
         * reopen either starts a helper (root) or fails (no root), which OpenVPN
         * treats as fatal: exit status 1, and systemd's Restart=on-failure acts.
         * Our threads block it, so it reaches OpenVPN's main thread.
         */
        kill(getpid(), SIGHUP);
    }
    else
    {
        ovp_err(st->log,
                "the PAM helper (pid %ld) is gone (%s): %u authentication(s) in progress fail "
                "with TEMP, and so will every later one until OpenVPN is restarted (an "
                "unprivileged OpenVPN cannot start a new root helper; on_helper_loss=restart "
                "automates that)",
                (long)ovp_priv_pid(st->priv), why, n);
    }
    for (unsigned i = 0; i < n; i++)
    {
        ovp_defer_finish(st->defer, st->spare[i].req, OVP_TEMP, helper_gone_reason);
    }
    /* The receiver stops: what it holds for a fail delay goes now. */
    release_refusals(st, 1);
}

/* ------------------------------------------------- per request, admission */

/* Request free_data: gives back what REQ counted, and frees what we kept with it. */
static void
rq_release(void *data)
{
    struct ap_rq *rq = data;

    ovp_admit_gate_give(&rq->adm);
    if (rq->cr)
    {
        cr_release(rq->cr);
    }
    free(rq->reason);
    free(rq);
}

/*
 * Counts REQ under its address and its username, unless one of them already
 * has its cap of requests in flight. OpenVPN's thread: one lock, two lookups in
 * a table sized at open, no allocation. Returns NULL, or the client-visible
 * TEMP reason for a refusal (logged here, naming the client).
 */
static const char *
admit(struct ap_state *st, const struct ovp_event *ev, struct ovp_defer_req *req,
      struct ap_rq *rq)
{
    char msg[256];
    int rc = ovp_admit_gate_take(st->admit, req->client_ip, req->username, &rq->adm, msg,
                                 sizeof(msg));

    if (rc == OVP_ADMIT_IN)
    {
        return NULL;
    }
    ovp_logf_client(st->log, &ev->who, PLOG_WARN, "authentication refused without PAM: %s",
                    msg);
    return rc == OVP_ADMIT_FULL ? "TEMP: too many PAM authentications in progress, try again"
                                : ovp_admit_reason(rc);
}

/*
 * Holds REQ's refusal for PAM's fail delay (DELAY_MS), in the receiver's list
 * sorted by due time; the worker slot is already free. Never past the request's
 * deadline, which would turn the refusal into a TEMP. Receiver thread. Returns
 * 0, or -1 when it must go out now.
 */
static int
hold_refusal(struct ap_state *st, struct ovp_defer_req *req, int verdict, const char *reason,
             uint32_t delay_ms)
{
    struct ap_rq *rq = req->data, **pp;
    uint64_t now = mono_ms(), due = now + delay_ms;

    if (!rq || (reason && !(rq->reason = strdup(reason))))
    {
        return -1;
    }
    if (rq->deadline_ms > 250 && due > rq->deadline_ms - 250)
    {
        due = rq->deadline_ms - 250;
    }
    if (due <= now)
    {
        return -1;
    }
    rq->verdict = verdict;
    rq->due_ms = due;
    for (pp = &st->delayed; *pp && (*pp)->due_ms <= due; pp = &(*pp)->delayed)
    {
    }
    rq->delayed = *pp;
    *pp = rq;
    return 0;
}

/*
 * Sends the held refusals that are due (all of them with ALL). Receiver thread.
 * Returns ms until the next one is due, at most 1000.
 */
static int
release_refusals(struct ap_state *st, int all)
{
    uint64_t now = mono_ms();

    /* Strictly past: NOW is cut to whole ms, and a refusal must not go out early. */
    while (st->delayed && (all || st->delayed->due_ms < now))
    {
        struct ap_rq *rq = st->delayed;
        st->delayed = rq->delayed;
        /* The reason lives in RQ, which the finish frees only after writing it. */
        ovp_defer_finish(st->defer, rq->req, rq->verdict, rq->reason);
    }
    if (!st->delayed)
    {
        return 1000;
    }
    return st->delayed->due_ms - now >= 1000 ? 1000 : (int)(st->delayed->due_ms - now) + 1;
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
    struct ap_cr *cr = req_cr(req);
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
    memset(&w, 0, sizeof(w));
    if (cr)
    {
        /*
         * Why a margin: PAM's own "no response" answer (a clear reason) must reach
         * the engine before the request's deadline does (a generic TEMP).
         */
        long limit = st->conf.crtext_timeout_ms;
        long margin = limit / 10 < 1000 ? limit / 10 : 1000;
        long left = limit - (long)(mono_ms() - cr->auth_ms) - margin;
        w.flags = AP_REQF_CRTEXT;
        w.cr_wait_ms = left > 0 ? (uint32_t)left : 0;
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
    if (atomic_load(&st->helper_gone) || st->n_out >= st->slot_cap)
    {
        /* (A full map cannot happen: slot_cap holds workers plus every waiting one.) */
        int gone = atomic_load(&st->helper_gone);
        pthread_mutex_unlock(&st->mu);
        ovp_wipe(b.data, b.len);
        ovp_defer_finish(st->defer, req, OVP_TEMP, gone ? helper_gone_reason : NULL);
        return;
    }
    st->slots[st->n_out++] = (struct ap_slot){
        .id = id,
        .req = req,
        .due_ms = mono_ms() +
                  (uint64_t)(cr ? st->conf.crtext_timeout_ms : st->conf.timeout_ms) +
                  AP_SLOT_GRACE_MS,
    };
    st->n_busy++;
    pthread_mutex_unlock(&st->mu);

    /* From the send on, REQ may be finished and freed by others: hold CR ourselves. */
    if (cr)
    {
        pthread_mutex_lock(&st->cr_mu);
        cr->refs++;
        cr->id = id;
        pthread_mutex_unlock(&st->cr_mu);
    }
    rc = ovp_priv_send(st->priv, AP_REQ_AUTH, id, b.data, b.len);
    ovp_wipe(b.data, b.len);
    if (cr)
    {
        /* A response that came before the request reached the helper goes now, after it. */
        struct ap_cr *drop;
        uint32_t cid = 0, status = 0;
        char *resp = NULL;
        size_t len = 0;
        int take = 0;

        pthread_mutex_lock(&st->cr_mu);
        if (rc == 0 && !cr->dead)
        {
            cr->dispatched = 1;
            take = cr_take_locked(cr, &cid, &status, &resp, &len);
        }
        drop = cr_unref_locked(cr);
        pthread_mutex_unlock(&st->cr_mu);
        if (take)
        {
            cr_send(st, cid, status, resp, len);
        }
        cr_free(drop);
    }
    if (rc < 0)
    {
        /*
         * Why wake the receiver: a send can be the first to find the helper dead; the
         * channel is then closed and the receiver, which alone handles the loss
         * (helper_lost, on_helper_loss), would only look at its next timeout.
         */
        if (!ovp_priv_alive(st->priv))
        {
            uint64_t one = 1;
            if (write(st->wake_fd, &one, sizeof(one)) < 0)
            {
                ovp_err(st->log, "cannot wake the PAM receiver thread");
            }
        }
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
        while (!st->stopping && st->n_busy >= (unsigned)st->conf.workers)
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

static void
handle_reply(struct ap_state *st, const struct ovp_priv_frame *f)
{
    struct ap_wire_rep rep;
    struct ovp_defer_req *req;
    char detail[AP_DETAIL_MAX];

    if (f->type == AP_REP_WAITING)
    {
        slot_waiting(st, f->id);
        return;
    }
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
    cr_retire_req(st, req);
    ovp_copy_printable(detail, sizeof(detail), rep.detail);
    if (rep.verdict == OVP_ALLOW)
    {
        ovp_logf_client(st->log, &req->who, PLOG_DEBUG, "PAM: %s", detail);
        rep.delay_ms = 0;
    }
    else
    {
        char held[64] = "";
        if (rep.delay_ms)
        {
            snprintf(held, sizeof(held), "; refusal held for %u ms (PAM fail delay)",
                     (unsigned)rep.delay_ms);
        }
        ovp_logf_client(st->log, &req->who, rep.verdict == OVP_TEMP ? PLOG_WARN : PLOG_NOTE,
                        "PAM: %s%s", detail, held);
    }
    if (rep.delay_ms && hold_refusal(st, req, (int)rep.verdict,
                                     rep.reason[0] ? rep.reason : NULL, rep.delay_ms) == 0)
    {
        return;
    }
    ovp_defer_finish(st->defer, req, (int)rep.verdict, rep.reason[0] ? rep.reason : NULL);
}

/*
 * Frees every slot whose request passed its deadline plus AP_SLOT_GRACE_MS
 * without a reply: the engine answered the client TEMP at the deadline, and a
 * helper that never answers must not keep the worker slot forever. A reply that
 * comes later finds no slot and is dropped (handle_reply). Receiver thread only
 * (it owns SPARE, as helper_lost does). Returns ms until the next slot is due,
 * at most 1000.
 */
static int
reclaim_overdue(struct ap_state *st)
{
    uint64_t now = mono_ms(), next = 1000;
    unsigned n = 0;

    pthread_mutex_lock(&st->mu);
    for (unsigned i = 0; i < st->n_out;)
    {
        if (st->slots[i].due_ms <= now)
        {
            st->spare[n++] = st->slots[i];
            if (!st->slots[i].waiting)
            {
                st->n_busy--;
            }
            st->slots[i] = st->slots[--st->n_out];
            continue;
        }
        if (st->slots[i].due_ms - now < next)
        {
            next = st->slots[i].due_ms - now;
        }
        i++;
    }
    if (n)
    {
        pthread_cond_broadcast(&st->slot_cv);
    }
    pthread_mutex_unlock(&st->mu);
    for (unsigned i = 0; i < n; i++)
    {
        struct ovp_defer_req *req = st->spare[i].req;
        cr_retire_req(st, req);
        ovp_logf_client(st->log, &req->who, PLOG_WARN,
                        "no answer from the PAM helper %d ms after the request's time limit "
                        "(request %u): request dropped, its worker slot freed",
                        AP_SLOT_GRACE_MS, (unsigned)st->spare[i].id);
        ovp_defer_finish(st->defer, req, OVP_TEMP, "TEMP: PAM did not answer, try again");
    }
    return (int)next;
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
        {
            int a = reclaim_overdue(st), b = release_refusals(st, 0);
            rc = poll(pfd, 2, a < b ? a : b);
        }
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
        if (rc > 0 && pfd[1].revents)
        {
            uint64_t count;
            if (read(st->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            {
                helper_lost(st, "cannot read our wake-up eventfd");
                break;
            }
            cr_flush_outbox(st);
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
        ovp_thread_join(st->sender);
        st->sender_started = 0;
    }
    if (st->receiver_started)
    {
        ovp_thread_join(st->receiver);
        st->receiver_started = 0;
    }
    /* What is still in the map (or held for a fail delay) was answered by the
     * engine's close, which frees it. */
    st->n_out = 0;
    st->n_busy = 0;
    st->delayed = NULL;
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
    /* Kept for the next open: after a reload without root none could start. */
    ovp_priv_park(st->priv, 2000);
    if (st->wake_fd >= 0)
    {
        close(st->wake_fd);
    }
    if (st->sync_ok)
    {
        /* Every request is freed by now: what the outbox holds is over. */
        while (st->out_head)
        {
            struct ap_cr *e = st->out_head;
            st->out_head = e->out_next;
            cr_free(cr_unref_locked(e));
        }
        pthread_cond_destroy(&st->slot_cv);
        pthread_mutex_destroy(&st->mu);
        pthread_mutex_destroy(&st->cr_mu);
    }
    ovp_admit_gate_close(st->admit, st->log);
    free(st->cr_tab);
    free(st->slots);
    free(st->spare);
    free(st->sendbuf);
    ap_args_free(&st->args);
    ap_conf_release(&st->conf);
    free(st);
}

static int
start_threads(struct ap_state *st, char *err, size_t errlen)
{
    /* Signals stay with OpenVPN's thread; threads are reused across a reload (util.h). */
    int rc = ovp_thread_start(&st->receiver, receiver_main, st);
    st->receiver_started = rc == 0;
    if (rc == 0)
    {
        rc = ovp_thread_start(&st->sender, sender_main, st);
        st->sender_started = rc == 0;
    }
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
                            "timeout=%ld ms token_skip=%s any_username=%s per_address=%ld "
                            "per_user=%ld inline_wait=%ld us, ",
                            st->args.service, (long)ovp_priv_pid(st->priv), st->conf.workers,
                            st->conf.queue, st->conf.timeout_ms,
                            st->conf.token_skip ? "yes" : "no",
                            st->conf.any_username ? "yes" : "no", st->conf.per_address,
                            st->conf.per_user, st->conf.inline_wait_us);
    if (st->cr_on && used < sizeof(line))
    {
        used += (size_t)snprintf(line + used, sizeof(line) - used,
                                 "crtext challenge \"%.80s%s\" (pending file: %u s, echo %s, "
                                 "crtext_max=%ld) answers %s%s%s, ",
                                 st->conf.crtext, strlen(st->conf.crtext) > 80 ? "..." : "",
                                 st->pending_s, st->conf.crtext_echo ? "on" : "off",
                                 st->conf.crtext_max,
                                 st->conf.crtext_prompt ? "the question \"" : "",
                                 st->conf.crtext_prompt ? st->conf.crtext_prompt
                                                        : "the question nothing else answers",
                                 st->conf.crtext_prompt ? "...\"" : "");
    }
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

/*
 * Sets up the crtext challenge, if configured. Why it needs CLIENT_CRRESPONSE
 * (OpenVPN 2.6): without it a challenged client could never answer, so a host
 * that lacks it gets no challenge at all (and PAM's question then fails as it
 * would without crtext).
 */
static int
setup_challenge(struct ap_state *st)
{
    unsigned crmask = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE);

    if (st->conf.crtext && !(ovp_plugin_host_mask(st->plugin) & crmask))
    {
        ovp_warn(st->log, "this OpenVPN cannot pass challenge responses to plugins "
                          "(CLIENT_CRRESPONSE needs OpenVPN 2.6): crtext is off");
    }
    st->cr_on = st->conf.crtext && (ovp_plugin_host_mask(st->plugin) & crmask);
    if (!st->cr_on)
    {
        ovp_plugin_set_events(st->plugin,
                              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY));
        return 0;
    }
    st->pending_s = ap_pending_timeout_s(st->conf.crtext_timeout_ms);
    st->cr_tab = calloc(AP_CR_BUCKETS, sizeof(*st->cr_tab));
    if (!st->cr_tab || ap_crtext_line(st->crtext_line, sizeof(st->crtext_line),
                                      st->conf.crtext_echo, st->conf.crtext) < 0)
    {
        ovp_err(st->log, "out of memory");
        return -1;
    }
    return 0;
}

static int
ap_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    struct ovp_log *log = ovp_plugin_log(p);
    struct ovp_defer_conf dc;
    struct ovp_defer_ops ops;
    struct ovp_priv_spec spec;
    uint8_t cfgbuf[AP_FRAME_MAX / 2];
    struct ovp_priv_buf cfg = {cfgbuf, 0, sizeof(cfgbuf)};
    char err[512];
    size_t n = ovp_argc(argv);
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
    st->cr_limit = (struct ovp_log_limit)OVP_LOG_LIMIT_CLIENT("challenge response complaints");
    st->plugin = p;
    st->log = log;
    st->wake_fd = -1;
    if (ap_conf_parse(words, nwords, &st->conf, &st->args, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    if (setup_challenge(st) < 0)
    {
        goto fail;
    }

    /* Requests waiting for a person keep their slot but leave it idle: room for all. */
    st->slot_cap = (unsigned)st->conf.workers + (st->cr_on ? (unsigned)st->conf.queue : 0);
    st->slots = calloc(st->slot_cap, sizeof(*st->slots));
    st->spare = calloc(st->slot_cap, sizeof(*st->spare));
    st->sendbuf = malloc(AP_FRAME_MAX);
    if (!st->slots || !st->spare || !st->sendbuf)
    {
        ovp_err(log, "out of memory");
        goto fail;
    }
    /* The helper first: starting it is simplest before any thread of ours exists. */
    memset(&spec, 0, sizeof(spec));
    spec.name = "PAM helper";
    spec.program = AP_HELPER_PROGRAM;
    spec.max_frame = AP_FRAME_MAX;
    if (ap_wire_config_encode(&cfg, (uint32_t)ovp_log_verb(log), (uint32_t)st->cr_on, words,
                              nwords) < 0)
    {
        ovp_err(log, "the plugin's arguments are too many or too long for the PAM helper");
        goto fail;
    }
    spec.config = cfg.data;
    spec.config_len = cfg.len;
    st->priv = ovp_priv_start(&spec, log, err, sizeof(err));
    if (!st->priv && errno == EPERM)
    {
        /*
         * Why open anyway: failing here would make OpenVPN exit at a reload. Every
         * client gets TEMP (so it retries) and the log says what to do, once.
         */
        if (st->conf.on_helper_loss == AP_LOSS_RESTART)
        {
            /* Why fail: OpenVPN then exits with an error, and its supervisor restarts it. */
            ovp_err(log, "the PAM helper is %s; on_helper_loss=restart: failing the open", err);
            goto fail;
        }
        ovp_err(log,
                "the PAM helper is %s. Every client gets a temporary failure until "
                "OpenVPN is restarted as root",
                err);
        atomic_store(&st->helper_gone, 1);
        log_setup(st);
        *state = st;
        return 0;
    }
    if (!st->priv)
    {
        ovp_err(log, "cannot start the PAM helper: %s", err);
        goto fail;
    }
    if (ovp_priv_adopted(st->priv))
    {
        ovp_note(log,
                 "kept the PAM helper (pid %ld) that was started as root at the first "
                 "open",
                 (long)ovp_priv_pid(st->priv));
    }

    st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (st->wake_fd < 0)
    {
        ovp_logf(log, PLOG_ERR | PLOG_ERRNO, "eventfd");
        goto fail;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->cr_mu, NULL);
    pthread_cond_init(&st->slot_cv, NULL);
    st->sync_ok = 1;
    st->admit = ovp_admit_gate_new((unsigned long)st->conf.per_address,
                                   (unsigned long)st->conf.per_user, (size_t)st->conf.queue,
                                   "per_address=", "per_user=");
    if (!st->admit)
    {
        ovp_err(log, "out of memory");
        goto fail;
    }

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
    ap_free(st);
    return -1;
}

/*
 * Shows REQ's client the challenge: writes the pending file (OpenVPN reads it
 * once, right after we return DEFERRED) and records the request for its
 * response. Returns 0; -1 (logged) when the request goes on without one; -2
 * (logged) when crtext_max clients already wait to answer: refuse it.
 */
static int
challenge(struct ap_state *st, const struct ovp_event *ev, struct ovp_defer_req *req)
{
    struct ap_cr *e;
    char err[256];
    unsigned long waiting;
    size_t b;

    if (!req->pending_file || !req->pending_file[0])
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "no auth_pending_file in the environment: challenge not sent");
        return -1;
    }
    /*
     * Why a cap of its own: a challenged request holds a PAM process and a pipe
     * for up to crtext_timeout while nobody may ever type, so clients that
     * never answer must not fill the helper. Counted until the response comes.
     */
    pthread_mutex_lock(&st->cr_mu);
    waiting = st->cr_waiting;
    if (waiting < (unsigned long)st->conf.crtext_max)
    {
        st->cr_waiting++;
    }
    pthread_mutex_unlock(&st->cr_mu);
    if (waiting >= (unsigned long)st->conf.crtext_max)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "authentication refused without PAM: %lu clients are waiting for a "
                        "challenge response (crtext_max=%ld)",
                        waiting, st->conf.crtext_max);
        return -2;
    }
    e = calloc(1, sizeof(*e));
    if (!e || !(e->control_file = strdup(req->control_file)))
    {
        free(e);
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "out of memory: challenge not sent");
        e = NULL;
        goto uncount;
    }
    if (ovp_auth_write_pending(req->pending_file, st->pending_s, "crtext", st->crtext_line, err,
                               sizeof(err)) < 0)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot send the challenge: %s", err);
        cr_free(e);
        goto uncount;
    }
    e->st = st;
    e->counted = 1;
    e->refs = 1; /* the request's */
    e->auth_ms = mono_ms();
    b = cr_bucket(e->control_file);
    pthread_mutex_lock(&st->cr_mu);
    e->next = st->cr_tab[b];
    st->cr_tab[b] = e;
    pthread_mutex_unlock(&st->cr_mu);
    ((struct ap_rq *)req->data)->cr = e;
    req->deadline_ms = (unsigned)st->conf.crtext_timeout_ms;
    ovp_logf_client(st->log, &ev->who, PLOG_DEBUG,
                    "challenge sent (crtext): the client has %ld s to answer",
                    (st->conf.crtext_timeout_ms + 999) / 1000);
    return 0;

uncount:
    pthread_mutex_lock(&st->cr_mu);
    st->cr_waiting--;
    pthread_mutex_unlock(&st->cr_mu);
    return -1;
}

/*
 * CLIENT_CRRESPONSE: the client answered the challenge. OpenVPN ignores what
 * this returns; the verdict goes through the auth control file as always. The
 * response is a secret: decoded into a buffer that is wiped, never logged.
 */
static int
ap_crresponse(struct ap_state *st, const struct ovp_event *ev)
{
    const char *b64 = ovp_env_get(ev->envp, "crresponse");
    const char *acf = ovp_env_get_nonempty(ev->envp, "auth_control_file");
    char buf[AP_CR_MAX + 1];
    const char *why = NULL;
    char *copy = NULL;
    struct ap_cr *e;
    int wake = 0;
    long n;

    if (!st->cr_on || !st->sync_ok)
    {
        return OPENVPN_PLUGIN_FUNC_SUCCESS; /* no challenge, or no helper to answer */
    }
    if (!b64 || !acf)
    {
        ovp_logf_client_limited(st->log, &st->cr_limit, &ev->who, PLOG_WARN,
                                "challenge response without %s in the environment: ignored",
                                b64 ? "auth_control_file" : "crresponse");
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    n = ap_cr_decode(b64, buf, sizeof(buf));
    if (n >= 0)
    {
        copy = malloc((size_t)n + 1);
        if (copy)
        {
            memcpy(copy, buf, (size_t)n + 1);
        }
    }
    ovp_wipe(buf, sizeof(buf));
    if (n >= 0 && !copy)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "out of memory: challenge response lost");
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }

    pthread_mutex_lock(&st->cr_mu);
    e = cr_find_locked(st, acf);
    if (!e)
    {
        why = "no authentication of this client waits for one";
    }
    else if (e->got)
    {
        why = "the client already answered; only the first response counts";
    }
    else
    {
        e->got = 1;
        e->have = 1;
        if (e->counted)
        {
            /* Answered: no longer among those waiting for a person (crtext_max). */
            e->counted = 0;
            st->cr_waiting--;
        }
        e->status = n < 0 ? AP_CR_MALFORMED : AP_CR_OK;
        e->resp = copy;
        e->resp_len = n < 0 ? 0 : (size_t)n;
        copy = NULL;
        /* At the helper already: the receiver sends it (the sender does otherwise). */
        if (e->dispatched)
        {
            e->refs++;
            if (st->out_tail)
            {
                st->out_tail->out_next = e;
            }
            else
            {
                st->out_head = e;
            }
            st->out_tail = e;
            wake = 1;
        }
    }
    pthread_mutex_unlock(&st->cr_mu);
    if (copy)
    {
        ovp_wipe(copy, (size_t)n + 1);
        free(copy);
    }
    if (wake)
    {
        uint64_t one = 1;
        if (write(st->wake_fd, &one, sizeof(one)) < 0)
        {
            ovp_err(st->log, "cannot wake the PAM receiver thread");
        }
    }
    if (why)
    {
        /* A client can send these at will: within a budget (OpenVPN's one thread). */
        ovp_logf_client_limited(st->log, &st->cr_limit, &ev->who, PLOG_NOTE,
                                "challenge response ignored: %s", why);
    }
    else if (n < 0)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                        "the challenge response does not decode (base64, at most %d bytes, "
                        "no NUL): the authentication fails",
                        AP_CR_MAX);
    }
    else
    {
        ovp_logf_client(st->log, &ev->who, PLOG_DEBUG, "challenge response received");
    }
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}

static int
ap_auth(struct ap_state *st, const struct ovp_event *ev)
{
    struct ovp_defer_req *req;
    struct ap_rq *rq;
    const char *user = ovp_env_get(ev->envp, "username");
    const char *state = ovp_env_get(ev->envp, "session_state");
    const char *refusal;
    unsigned wait_us;
    char err[256];

    /*
     * OpenVPN checked the token's HMAC and lifetime itself before calling us
     * (auth-gen-token ... external-auth); PAM would only see the token as a
     * password it cannot verify. Only "Authenticated": AuthenticatedEmptyUser is
     * OpenVPN's workaround for clients that drop the username, and openvpn-plugin.h
     * advises treating it as invalid, so it goes to PAM (and fails there).
     */
    if (st->conf.token_skip && state && strcmp(state, "Authenticated") == 0)
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
        return ovp_plugin_refuse_auth(st->log, ev, "authentication failed");
    }
    if (atomic_load(&st->helper_gone))
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "temporary failure: the PAM helper is gone (restart OpenVPN)");
        return ovp_plugin_refuse_auth(st->log, ev, helper_gone_reason);
    }
    req = ovp_defer_req_from_env(ev->envp, err, sizeof(err));
    if (!req)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot defer: %s", err);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    rq = calloc(1, sizeof(*rq));
    if (!rq)
    {
        ovp_defer_req_free(req);
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot defer: out of memory");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    rq->st = st;
    rq->req = req;
    rq->adm = (struct ovp_admit_hold)OVP_ADMIT_HOLD_INIT;
    req->data = rq;
    req->free_data = rq_release; /* from here on, freeing REQ gives back what it counted */
    if ((refusal = admit(st, ev, req, rq)) != NULL)
    {
        ovp_defer_req_free(req);
        return ovp_plugin_refuse_auth(st->log, ev, refusal);
    }
    /*
     * Only a client that says it can answer: for any other OpenVPN fails the key
     * at once on a crtext pending file. Without a challenge, a PAM question meant
     * for it fails with a reason that says why (pam_helper.c).
     */
    if (st->cr_on && ap_sso_has(req->iv_sso, "crtext") && challenge(st, ev, req) == -2)
    {
        ovp_defer_req_free(req);
        return ovp_plugin_refuse_auth(
            st->log, ev,
            "TEMP: too many clients are answering a challenge, try again "
            "later");
    }
    rq->deadline_ms =
        mono_ms() + (uint64_t)(rq->cr ? st->conf.crtext_timeout_ms : st->conf.timeout_ms);
    /*
     * inline_wait: a verdict PAM gives within it is this call's return value. Not for
     * a challenged client: it waits for a person, and OpenVPN reads the pending file
     * only after DEFERRED. A refusal held for PAM's fail delay stays deferred too.
     */
    wait_us = rq->cr ? 0 : (unsigned)st->conf.inline_wait_us;
    switch (ovp_defer_submit_wait(st->defer, req, wait_us, NULL, NULL))
    {
        case OVP_DEFER_QUEUED:
            return OPENVPN_PLUGIN_FUNC_DEFERRED;
        case OVP_DEFER_ALLOWED:
            return OPENVPN_PLUGIN_FUNC_SUCCESS;
        default:
            return OPENVPN_PLUGIN_FUNC_ERROR; /* reason written and logged */
    }
}

static int
ap_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    (void)p;
    if (ev->type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY)
    {
        return ap_auth(state, ev);
    }
    if (ev->type == OPENVPN_PLUGIN_CLIENT_CRRESPONSE)
    {
        return ap_crresponse(state, ev);
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
    if (st)
    {
        ovp_priv_kill(st->priv);
    }
}

static const struct ovp_plugin_desc ap_desc = {
    .name = AP_NAME,
    .events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY),
    /* Registered only with crtext= (setup_challenge); OpenVPN 2.6 and later. */
    .optional_events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE),
    .open = ap_open,
    .event = ap_event,
    .close = ap_close,
    .abort = ap_abort,
};
OVP_PLUGIN(ap_desc);

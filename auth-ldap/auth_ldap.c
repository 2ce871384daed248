/* auth_ldap.c: ovp-auth-ldap, LDAP authentication that never blocks OpenVPN: the glue. */
#include "ovpbuild.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "ccdefer.h"
#include "defer.h"
#include "env.h"
#include "ldap_backend.h"
#include "ldap_conf.h"
#include "ldap_filter.h"
#include "plugin.h"
#include "secret.h"

/*
 * OpenVPN's thread only checks and copies: the auth hook refuses an empty
 * username or password (an empty password would be an anonymous bind, which a
 * directory "accepts"), answers TEMP at once while every server is down, else
 * copies the request into the defer engine, wakes the backend thread and returns
 * DEFERRED. Admission (MaxPerAddress, MaxPerUser): before that, the request is
 * counted under its client address and its username (common/admit.c); over a cap
 * it is answered TEMP at once, without LDAP. The counts stay with the request
 * (struct al_rq) and go back when the engine frees it, whoever answered it
 * (directory, deadline, close), so they also bound what the backend thread holds
 * for one client. Threads in OpenVPN's process: the backend thread and the engine's
 * deadline thread, two in all, started at open and parked across a reload.
 */

#define AL_NAME "ovp-auth-ldap"

struct al_state
{
    struct ovp_plugin *plugin;
    struct ovp_log *log;
    struct al_conf conf;
    struct ovp_defer *defer;
    struct al_backend *backend;
    struct ovp_admit_gate *admit;   /* MaxPerAddress, MaxPerUser */
    struct ovp_log_limit adm_limit; /* refusal lines: a flood cannot flood the log */
    unsigned deadline_ms;           /* the engine's, used for client-config lookups too */
    int can_defer_cc;               /* the host offers CLIENT_CONNECT_DEFER_V2 */
};

/*
 * Client config from the directory (PushAttribute, IfconfigPushAttribute, <Group>
 * Push): the backend thread stores it in the client's context (OpenVPN's per-client
 * context) before it writes the auth answer; CLIENT_CONNECT_V2, which OpenVPN calls
 * only after it has seen that answer, hands it over at once. When the auth answer
 * did not come from the directory (TokenSkip, or the cache), nothing is stored:
 * CLIENT_CONNECT_V2 then has the backend thread look the config up and returns
 * DEFERRED; CLIENT_CONNECT_DEFER_V2 gives the answer once it is there (ccdefer).
 * The context is counted: OpenVPN's destructor and a request in flight may let go
 * of it in either order.
 */
struct al_client
{
    atomic_int refs;
    pthread_mutex_t mu;
    int have;   /* a directory answer stored a config (maybe empty) */
    char *ccfg; /* lines, under mu */
    /* OpenVPN's thread only (and the last unref): this client's client-connect answer */
    struct ovp_ccdefer *ccd;
};

static void
client_unref(void *data)
{
    struct al_client *c = data;
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
    {
        pthread_mutex_destroy(&c->mu);
        if (c->ccfg)
        {
            ovp_wipe(c->ccfg, strlen(c->ccfg));
        }
        free(c->ccfg);
        ovp_ccdefer_unref(c->ccd); /* a lookup in flight holds its own reference */
        free(c);
    }
}

/*
 * What the plugin keeps with every auth request (req->data), freed with it by the
 * engine (rq_free): the client's context and the admission counts.
 */
struct al_rq
{
    struct al_client *c; /* a reference, or NULL */
    struct ovp_admit_hold adm;
};

static void
rq_free(void *data)
{
    struct al_rq *rq = data;
    ovp_admit_gate_give(&rq->adm);
    client_unref(rq->c);
    free(rq);
}

static void *
al_client_new(struct ovp_plugin *p, void *state)
{
    struct al_state *st = state;
    struct al_client *c;
    (void)p;
    if (!st || !st->conf.client_config || !(c = calloc(1, sizeof(*c))))
    {
        return NULL;
    }
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void
al_client_free(struct ovp_plugin *p, void *state, void *client)
{
    (void)p;
    (void)state;
    client_unref(client);
}

/* Backend thread: REQ is authenticated; CCFG is its client config. */
static void
store_ccfg(void *arg, struct ovp_defer_req *req, const char *ccfg)
{
    struct al_rq *rq = req->data;
    struct al_client *c = rq ? rq->c : NULL;
    char *copy;
    (void)arg;
    if (!c)
    {
        return;
    }
    copy = strdup(ccfg);
    pthread_mutex_lock(&c->mu);
    free(c->ccfg);
    c->ccfg = copy;
    c->have = copy != NULL;
    pthread_mutex_unlock(&c->mu);
}

/*
 * CLIENT_CONNECT_V2: the config the directory gave this client at auth, at once; or,
 * when the auth answer skipped the directory, a lookup on the backend thread and
 * DEFERRED. Either way the answer is kept in a ccdefer, because OpenVPN calls
 * CLIENT_CONNECT_DEFER_V2 on every plugin while any of them defers, and throws away
 * the lists of such rounds: ours is given again at each call.
 */
static int
al_connect(struct al_state *st, const struct ovp_event *ev)
{
    struct al_client *c = ev->client;
    const char *user = ovp_env_get(ev->envp, "username");
    char *text = NULL;
    char err[256];
    int have;
    int rc;

    if (!c)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR,
                        "client-connect refused: no per-client context (out of memory?)");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    ovp_ccdefer_unref(c->ccd);
    c->ccd = NULL;
    pthread_mutex_lock(&c->mu);
    have = c->have;
    text = have && c->ccfg ? strdup(c->ccfg) : NULL;
    pthread_mutex_unlock(&c->mu);

    if (have)
    {
        if (!text || !(c->ccd = ovp_ccdefer_new(st->deadline_ms)))
        {
            free(text);
            ovp_logf_client(st->log, &ev->who, PLOG_ERR,
                            "client-connect refused: out of memory handing the client config "
                            "over");
            return OPENVPN_PLUGIN_FUNC_ERROR;
        }
        ovp_ccdefer_finish(c->ccd, OVP_ALLOW, text, NULL);
        ovp_wipe(text, strlen(text));
        free(text);
        return ovp_ccdefer_poll(c->ccd, ev->return_list, st->log, &ev->who);
    }

    /*
     * Why not connect it without one: the directory may give this user routes,
     * an address or group options, and may no longer hold the user at all.
     */
    if (!st->can_defer_cc)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "client-connect refused: no client configuration from the directory "
                        "for this session (reconnected with a token, or answered from the "
                        "cache) and this OpenVPN cannot defer client-connect to look it up");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (!user || !user[0])
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "client-connect refused: no username to look the client "
                        "configuration up with");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (al_backend_all_down(st->backend))
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "client-connect refused: the client configuration cannot be looked up, "
                        "every LDAP server is down (circuit breaker open)");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    c->ccd = ovp_ccdefer_new(st->deadline_ms);
    if (!c->ccd)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "client-connect refused: out of memory");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (al_backend_lookup(st->backend, c->ccd, user, &ev->who, err, sizeof(err)) < 0)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "client-connect refused: cannot look the client configuration up: %s",
                        err);
        ovp_ccdefer_unref(c->ccd);
        c->ccd = NULL;
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    rc = ovp_ccdefer_poll(c->ccd, ev->return_list, st->log, &ev->who);
    if (rc == OPENVPN_PLUGIN_FUNC_DEFERRED)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_DEBUG,
                        "the auth answer did not come from the directory: client "
                        "configuration looked up (client-connect deferred)");
    }
    return rc;
}

/* CLIENT_CONNECT_DEFER_V2: the answer when it is there; SUCCESS when nothing is ours. */
static int
al_connect_poll(struct al_state *st, const struct ovp_event *ev)
{
    struct al_client *c = ev->client;
    return ovp_ccdefer_poll(c ? c->ccd : NULL, ev->return_list, st->log, &ev->who);
}

static void
al_cancel(void *state)
{
    struct al_state *st = state;
    al_backend_stop(st->backend);
}

static void
al_free(struct al_state *st)
{
    if (!st)
    {
        return;
    }
    if (st->defer)
    {
        ovp_defer_close(st->defer); /* answers what is left; cancel stops our thread */
    }
    al_backend_free(st->backend);
    ovp_admit_gate_close(st->admit, st->log);
    al_conf_release(&st->conf);
    free(st);
}

static void
log_setup(struct al_state *st)
{
    const struct al_conf *c = &st->conf;
    static const char *const verify[] = {"never", "allow", "try", "demand"};
    static const char *const tlsmin[] = {"1.0", "1.1", "1.2", "1.3"};

    ovp_note(st->log,
             "LDAP %s (%zu server%s), %s, service bind %s%s%s, Timeout %ld s, StartTLS %s, "
             "TLSVerify %s, TLSMinVersion %s, referrals %s, %zu group%s%s, %ld bind "
             "connection%s, TokenSkip %s, cache %ld/%ld ms, InlineWait %ld us, 2 threads",
             c->url, c->n_urls, c->n_urls == 1 ? "" : "s", c->search_filter,
             c->bind_dn ? "as \"" : "anonymous", c->bind_dn ? c->bind_dn : "",
             c->bind_dn ? "\"" : "", c->timeout_s, c->tls_enable ? "on" : "off",
             verify[c->tls_verify], tlsmin[c->tls_min],
             c->follow_referrals ? "followed" : "off", c->n_groups, c->n_groups == 1 ? "" : "s",
             c->require_group ? " (RequireGroup)" : "", c->bind_conns,
             c->bind_conns == 1 ? "" : "s", c->token_skip ? "on" : "off", c->cache_ttl_ms,
             c->neg_cache_ttl_ms, c->inline_wait_us);
    if (c->tls_verify < 3)
    {
        ovp_warn(st->log,
                 "TLSVerify %s: the directory server's certificate is not fully "
                 "checked; anyone on the path can read the passwords",
                 verify[c->tls_verify]);
    }
}

static int
al_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    struct ovp_log *log = ovp_plugin_log(p);
    struct ovp_defer_conf dc;
    struct ovp_defer_ops ops;
    char err[512];
    size_t n = ovp_argc(argv);
    struct al_state *st;
    long deadline;
    (void)envp;

    st = calloc(1, sizeof(*st));
    if (!st)
    {
        ovp_err(log, "out of memory");
        return -1;
    }
    st->plugin = p;
    st->log = log;
    st->adm_limit = (struct ovp_log_limit)OVP_LOG_LIMIT_CLIENT("admission refusals");
    if (al_conf_load(n > 1 ? argv + 1 : argv + n, n > 1 ? n - 1 : 0, &st->conf, err,
                     sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    for (size_t i = 0; i < st->conf.n_warnings; i++)
    {
        ovp_warn(log, "%s", st->conf.warnings[i]);
    }

    /*
     * The engine's deadline is the backstop: a search, a bind and a group search,
     * each bounded by Timeout, plus a connection; kept under OpenVPN's default
     * hand-window (60 s) so a client never hangs until it.
     */
    deadline = 4 * st->conf.timeout_s * 1000 + 1000;
    if (deadline > 55000)
    {
        deadline = 55000;
    }
    st->deadline_ms = (unsigned)deadline;
    st->admit = ovp_admit_gate_new((unsigned long)st->conf.per_address,
                                   (unsigned long)st->conf.per_user, (size_t)st->conf.queue,
                                   "MaxPerAddress ", "MaxPerUser ");
    if (!st->admit)
    {
        ovp_err(log, "out of memory");
        goto fail;
    }
    memset(&dc, 0, sizeof(dc));
    dc.workers = 0; /* event-driven: the backend thread takes and finishes */
    dc.queue_max = (unsigned)st->conf.queue;
    dc.deadline_ms = (unsigned)deadline;
    dc.what = "LDAP";
    memset(&ops, 0, sizeof(ops));
    ops.cancel = al_cancel;
    st->defer = ovp_defer_new(&dc, &ops, st, log, err, sizeof(err));
    if (st->conf.client_config)
    {
        unsigned want = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY) |
                        OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2);
        if ((ovp_plugin_set_events(p, want | OVP_CCDEFER_EVENTS) & want) != want)
        {
            ovp_err(log, "client config from the directory needs CLIENT_CONNECT_V2, which "
                         "this OpenVPN does not offer");
            goto fail;
        }
        st->can_defer_cc = ovp_plugin_has_event(p, OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2);
    }
    else
    {
        ovp_plugin_set_events(p, OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY));
    }
    if (!st->defer ||
        !(st->backend = al_backend_new(&st->conf, st->defer, log, err, sizeof(err))))
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    al_backend_on_allow(st->backend, store_ccfg, st);
    if (al_backend_start(st->backend, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    log_setup(st);
    *state = st;
    return 0;

fail:
    al_free(st);
    return -1;
}

/* Tells the backend thread a request is queued (before any inline wait). */
static void
wake(void *backend)
{
    al_backend_wake(backend);
}

static int
al_auth(struct al_state *st, const struct ovp_event *ev)
{
    const char *user = ovp_env_get(ev->envp, "username");
    const char *pass = ovp_env_get(ev->envp, "password");
    const char *state = ovp_env_get(ev->envp, "session_state");
    struct ovp_defer_req *req;
    struct al_rq *rq;
    const char *why;
    char err[256];

    /*
     * OpenVPN checked the token's HMAC and lifetime itself (auth-gen-token ...
     * external-auth) before calling us; the directory would only see the token as a
     * wrong password. Only "Authenticated": openvpn-plugin.h advises treating
     * AuthenticatedEmptyUser as invalid, so it goes to the directory (and fails).
     */
    if (st->conf.token_skip && state && strcmp(state, "Authenticated") == 0)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                        "auth-gen-token session is valid (Authenticated): accepted without "
                        "LDAP (TokenSkip)");
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    /* Before any network I/O: an empty password would be an anonymous bind. */
    if (!user || !user[0] || !pass || !pass[0])
    {
        ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                        "authentication failed: empty %s (refused without asking the "
                        "directory)",
                        !user || !user[0] ? "username" : "password");
        return ovp_plugin_refuse_auth(st->log, ev, "authentication failed");
    }
    /* With a cache the backend thread answers (from the cache, or TEMP at once). */
    if (st->conf.cache_ttl_ms == 0 && st->conf.neg_cache_ttl_ms == 0 &&
        al_backend_all_down(st->backend))
    {
        ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                        "temporary failure: every LDAP server is down (circuit breaker open)");
        return ovp_plugin_refuse_auth(st->log, ev,
                                      "TEMP: the directory is unreachable, try again later");
    }
    req = ovp_defer_req_from_env(ev->envp, err, sizeof(err));
    if (!req || !(rq = calloc(1, sizeof(*rq))))
    {
        ovp_defer_req_free(req);
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot defer: %s",
                        req ? "out of memory" : err);
        return ovp_plugin_refuse_auth(st->log, ev, "TEMP: out of resources, try again");
    }
    rq->adm = (struct ovp_admit_hold)OVP_ADMIT_HOLD_INIT;
    req->data = rq;
    req->free_data = rq_free; /* from here on, freeing REQ gives back what it counted */
    if ((why = ovp_admit_request(st->admit, req, &rq->adm, st->log, &st->adm_limit, "LDAP")))
    {
        ovp_defer_req_free(req);
        return ovp_plugin_refuse_auth(st->log, ev, why);
    }
    if (st->conf.password_is_cr)
    {
        /* The static challenge answer: only its password part goes to the directory. */
        char buf[1024];
        long len = al_scrv1_password(req->password, buf, sizeof(buf));
        char *copy = len > 0 ? ovp_strdup_secret(buf) : NULL;
        ovp_wipe(buf, sizeof(buf));
        if (!copy)
        {
            ovp_defer_req_free(req);
            ovp_logf_client(st->log, &ev->who, PLOG_NOTE,
                            "authentication failed: PasswordIsCR is true but the password is "
                            "not an SCRV1 answer with a non-empty password");
            return ovp_plugin_refuse_auth(st->log, ev, "authentication failed");
        }
        ovp_free_secret(req->password);
        req->password = copy;
    }
    if (st->conf.client_config && ev->client)
    {
        /* The request holds the client's context until it is freed. */
        struct al_client *c = ev->client;
        atomic_fetch_add(&c->refs, 1);
        rq->c = c;
    }
    /* InlineWait: an answer within it (a cache hit, a fast directory) is returned now. */
    switch (ovp_defer_submit_wait(st->defer, req, (unsigned)st->conf.inline_wait_us, wake,
                                  st->backend))
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
al_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    (void)p;
    if (ev->type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY)
    {
        return al_auth(state, ev);
    }
    if (ev->type == OPENVPN_PLUGIN_CLIENT_CONNECT_V2)
    {
        return al_connect(state, ev);
    }
    if (ev->type == OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2)
    {
        return al_connect_poll(state, ev);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

static void
al_close(struct ovp_plugin *p, void *state)
{
    (void)p;
    al_free(state);
}

static const struct ovp_plugin_desc al_desc = {
    .name = AL_NAME,
    .events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY),
    /* Registered only with a client config in the file (al_open). */
    .optional_events = OVP_CCDEFER_EVENTS,
    .open = al_open,
    .event = al_event,
    .close = al_close,
    .client_new = al_client_new,
    .client_free = al_client_free,
};
OVP_PLUGIN(al_desc);

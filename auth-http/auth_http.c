/* auth_http.c: ovp-auth-http, authentication and client config from a web service: the glue. */
#include "ovpbuild.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "admit.h"
#include "ccdefer.h"
#include "ccfg.h"
#include "defer.h"
#include "env.h"
#include "http_backend.h"
#include "http_conf.h"
#include "http_json.h"
#include "plugin.h"
#include "secret.h"
#include "util.h"

/*
 * OpenVPN's thread only copies: the auth hook builds the JSON body (jansson, a few
 * microseconds), hands it to the defer engine, wakes the backend thread
 * (curl_multi_wakeup) and returns DEFERRED. Admission (MaxPerAddress, MaxPerUser):
 * the request is first counted under its client address and its username
 * (common/admit.c); over a cap it is answered TEMP at once, without the service.
 * The counts stay with the request (struct ah_request) and go back when it is
 * freed, whoever answered it (service, deadline, close), so one client cannot
 * hold every transfer (MaxInFlight, MaxConnections). Threads in OpenVPN's process: the one
 * backend thread and the engine's deadline thread, two in all, started at open and
 * parked across a reload (ovp_thread_start); libcurl starts none (host names are
 * resolved at open).
 */

#define AH_NAME "ovp-auth-http"

struct ah_state
{
    struct ovp_plugin *plugin;
    struct ovp_log *log;
    struct ovp_log_limit cr_limit;  /* complaints about CLIENT_CRRESPONSE messages */
    struct ovp_log_limit adm_limit; /* admission refusals: a flood cannot flood the log */
    struct ovp_admit_gate *admit;   /* MaxPerAddress, MaxPerUser */
    struct ah_conf conf;
    struct ovp_defer *defer;
    struct ah_backend *backend;
    long cc_deadline_ms; /* Hooks client-connect: the deferral's deadline */
    uint32_t id_prefix;
    atomic_ullong id_next;
};

/*
 * Client config from the service's allow answer: the backend thread stores it in
 * the client's context before it writes the auth answer; CLIENT_CONNECT_V2, which
 * OpenVPN calls only after it has seen that answer, hands it over. Counted: the
 * destructor and a request in flight may let go of it in either order.
 */
struct ah_client
{
    atomic_int refs;
    pthread_mutex_t mu;
    int have;                /* an allow answer stored a config (maybe empty) */
    char *ccfg;              /* lines, under mu */
    struct ovp_ccdefer *ccd; /* Hooks client-connect: the pending answer, under mu */
};

static void
client_unref(void *data)
{
    struct ah_client *c = data;
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
    {
        pthread_mutex_destroy(&c->mu);
        ovp_ccdefer_unref(c->ccd);
        free(c->ccfg);
        free(c);
    }
}

static void *
ah_client_new(struct ovp_plugin *p, void *state)
{
    struct ah_client *c;
    (void)p;
    (void)state;
    if (!(c = calloc(1, sizeof(*c))))
    {
        return NULL;
    }
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void
ah_client_free(struct ovp_plugin *p, void *state, void *client)
{
    (void)p;
    (void)state;
    client_unref(client);
}

/* Backend thread: the service allowed CLIENT with CCFG. */
static void
store_ccfg(void *arg, void *client, const char *ccfg)
{
    struct ah_client *c = client;
    char *copy = strdup(ccfg);
    (void)arg;
    pthread_mutex_lock(&c->mu);
    free(c->ccfg);
    c->ccfg = copy;
    c->have = copy != NULL;
    pthread_mutex_unlock(&c->mu);
}

/* Hands LINES (newline-separated) to the host as the client-connect return list. */
static int
give_ccfg(const char *lines, struct openvpn_plugin_string_list **list, size_t *n)
{
    struct ovp_ccfg cc = {0};
    char *text = strdup(lines), *line, *save = NULL;
    int rc = 0;

    if (!text)
    {
        return -1;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
        if (ovp_ccfg_add(&cc, line) < 0)
        {
            rc = -1;
        }
    }
    if (rc == 0 && list && ovp_ccfg_to_list(&cc, list) < 0)
    {
        rc = -1;
    }
    *n = cc.lines;
    ovp_ccfg_clear(&cc);
    free(text);
    return rc;
}

/* CLIENT_CONNECT_V2 with Hooks auth: the config the service gave at auth. */
static int
ah_connect_stored(struct ah_state *st, const struct ovp_event *ev)
{
    struct ah_client *c = ev->client;
    char *text = NULL;
    size_t n = 0;

    if (c)
    {
        pthread_mutex_lock(&c->mu);
        text = c->have && c->ccfg ? strdup(c->ccfg) : NULL;
        pthread_mutex_unlock(&c->mu);
    }
    if (!text)
    {
        /*
         * Why refuse: this session was not allowed by the service here (an
         * auth-gen-token reconnect that OpenVPN checked itself), so its
         * configuration is unknown; connecting it without one could give it more
         * than it may have.
         */
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "no client configuration from the service for this session "
                        "(reconnected with a token? use auth-gen-token ... external-auth): "
                        "refused");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (give_ccfg(text, ev->return_list, &n) < 0)
    {
        free(text);
        ovp_logf_client(st->log, &ev->who, PLOG_ERR,
                        "cannot hand over the client config (out of memory?): refused");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    free(text);
    ovp_logf_client(st->log, &ev->who, PLOG_DEBUG,
                    "client config from the service: %zu line(s)", n);
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}

/* A new request for HOOK, body built from the event's env. NULL after logging. */
static struct ah_request *
new_request(struct ah_state *st, const struct ovp_event *ev, const char *hook, int password)
{
    struct ah_request *r = calloc(1, sizeof(*r));
    struct ah_body_in in;
    char err[160];
    int replaced = 0;

    if (!r)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "out of memory");
        return NULL;
    }
    snprintf(r->request_id, sizeof(r->request_id), "%08x%08llx", st->id_prefix,
             (unsigned long long)atomic_fetch_add(&st->id_next, 1));
    r->who = ev->who;
    memset(&in, 0, sizeof(in));
    in.envp = ev->envp;
    in.fields = st->conf.fields;
    in.hook = hook;
    in.request_id = r->request_id;
    in.with_password = password;
    r->body = ah_body_build(&in, &replaced, err, sizeof(err));
    if (!r->body)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "%s", err);
        free(r);
        return NULL;
    }
    r->body_len = strlen(r->body);
    if (replaced)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "a field is not valid UTF-8: each bad byte is sent as U+FFFD");
    }
    if (ev->client)
    {
        struct ah_client *c = ev->client;
        atomic_fetch_add(&c->refs, 1);
        r->client = c;
        r->unref = client_unref;
    }
    return r;
}

static void
free_request(void *data)
{
    ah_request_free(data);
}

/*
 * Round two of a 202 (see ovp-auth-http.5): this client reconnects with the
 * credentials a 202 was kept for. The pending file is written now, before the hook
 * returns DEFERRED (OpenVPN reads it only then), and the request becomes status
 * polls (web sign-in) or waits for CLIENT_CRRESPONSE (challenge). Returns 0 (R
 * changed or not), or -1 when out of memory.
 */
static int
round_two(struct ah_state *st, const struct ovp_event *ev, struct ovp_defer_req *req,
          struct ah_request *r)
{
    struct ah_pending p;
    const char *method;
    char text[1100], err[200];

    if (!ah_backend_pending_take(st->backend, ev->envp, &p))
    {
        return 0;
    }
    if (p.challenge)
    {
        method = "crtext";
    }
    else
    {
        /* OPEN_URL where the client has it; WEB_AUTH for one with only webauth. */
        const char *sso = req->iv_sso ? req->iv_sso : "";
        method = strstr(sso, "openurl") ? "openurl" : "webauth";
    }
    if (ah_pending_text(method, p.what, p.echo, text, sizeof(text)) < 0 ||
        /*
         * OpenVPN's own timeout gets 10 s more than the service's: the plugin's last
         * poll decides first, with a reason ("sign-in timed out"), and OpenVPN, which
         * looks at a long-deferred answer only every 8 s (ssl_verify.c
         * cache_intervals), still sees it before the client gives up and starts over.
         */
        ovp_auth_write_pending(req->pending_file, (unsigned)p.timeout_s + 10, method, text, err,
                               sizeof(err)) < 0)
    {
        /* The round's 202 is spent: ask the service afresh (a first question again). */
        ovp_logf_client(st->log, &ev->who, PLOG_WARN,
                        "cannot hand the %s to the client (%s): asking the service again",
                        p.challenge ? "challenge" : "sign-in URL",
                        p.challenge ? err
                                    : "a URL too long for OpenVPN's line, or a write error");
        ah_pending_clear(&p);
        return 0;
    }
    r->kind = p.challenge ? AH_K_CR : AH_K_POLL;
    r->url = p.url;
    r->timeout_s = p.timeout_s;
    r->ticket = p.ticket;
    p.ticket = NULL;
    if (r->body)
    {
        ovp_wipe(r->body, r->body_len);
        free(r->body);
        r->body = NULL;
    }
    if (!p.challenge)
    {
        struct ah_body_in in;
        memset(&in, 0, sizeof(in));
        in.fields = AH_F_REQUEST_ID;
        in.hook = "status";
        in.request_id = r->request_id;
        in.ticket = r->ticket;
        r->body = ah_body_build(&in, NULL, err, sizeof(err));
        if (!r->body)
        {
            ah_pending_clear(&p);
            return -1;
        }
        r->body_len = strlen(r->body);
    }
    /* The engine's backstop: the client's time, plus a little for the last poll. */
    req->deadline_ms = (unsigned)(p.timeout_s * 1000 + 4000);
    ovp_logf_client(st->log, &ev->who, PLOG_NOTE, "pending: %s sent to the client (%s, %ld s)",
                    p.challenge ? "the challenge" : "the sign-in URL", method, p.timeout_s);
    ah_pending_clear(&p);
    return 0;
}

/* CLIENT_CRRESPONSE: the client's answer to a challenge, for the backend thread. */
static int
ah_crresponse(struct ah_state *st, const struct ovp_event *ev)
{
    const char *b64 = ovp_env_get(ev->envp, "crresponse");
    const char *acf = ovp_env_get_nonempty(ev->envp, "auth_control_file");
    unsigned char buf[1024];
    size_t bl;
    int n;

    if (!b64 || !acf || (bl = strlen(b64)) == 0 || bl > 1024 * 4 / 3 || bl % 4 != 0)
    {
        /* A client can send these at will: within a budget (OpenVPN's one thread). */
        ovp_logf_client_limited(st->log, &st->cr_limit, &ev->who, PLOG_WARN,
                                "a challenge response that is missing or not base64: ignored");
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)bl);
    if (n < 0)
    {
        ovp_logf_client_limited(st->log, &st->cr_limit, &ev->who, PLOG_WARN,
                                "a challenge response that is not base64: ignored");
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    /* EVP_DecodeBlock counts the padding's zero bytes. */
    n -= (bl >= 1 && b64[bl - 1] == '=') + (bl >= 2 && b64[bl - 2] == '=');
    buf[n] = '\0';
    if (memchr(buf, '\0', (size_t)n) ||
        ah_backend_crresponse(st->backend, acf, (char *)buf) < 0)
    {
        ovp_logf_client_limited(
            st->log, &st->cr_limit, &ev->who, PLOG_WARN,
            "a challenge response with a NUL byte, or out of memory: ignored");
    }
    ovp_wipe(buf, sizeof(buf));
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}

/* Tells the backend thread a request is queued (before any inline wait). */
static void
wake(void *backend)
{
    ah_backend_wake(backend);
}

static int
ah_auth(struct ah_state *st, const struct ovp_event *ev)
{
    struct ovp_defer_req *req;
    struct ah_request *r;
    unsigned wait_us;
    char err[256];

    req = ovp_defer_req_from_env(ev->envp, err, sizeof(err));
    if (!req)
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR, "cannot defer: %s", err);
        return ovp_plugin_refuse_auth(st->log, ev, "TEMP: out of resources, try again");
    }
    /* The password is what is being checked: sent for this hook only. */
    r = new_request(st, ev, "auth", 1);
    if (!r)
    {
        ovp_defer_req_free(req);
        return ovp_plugin_refuse_auth(st->log, ev, "TEMP: out of resources, try again");
    }
    req->data = r;
    req->free_data = free_request; /* from here on, freeing REQ gives back what it counted */
    {
        const char *why =
            ovp_admit_request(st->admit, req, &r->adm, st->log, &st->adm_limit, "the service");
        if (why)
        {
            ovp_defer_req_free(req);
            return ovp_plugin_refuse_auth(st->log, ev, why);
        }
    }
    if (round_two(st, ev, req, r) < 0)
    {
        ovp_defer_req_free(req);
        return ovp_plugin_refuse_auth(st->log, ev, "TEMP: out of resources, try again");
    }
    /*
     * InlineWait: an answer within it is returned now. Not in round two: its pending
     * file is read only after DEFERRED, and a person answers it.
     */
    wait_us = r->kind == AH_K_ASK ? (unsigned)st->conf.inline_wait_us : 0;
    switch (ovp_defer_submit_wait(st->defer, req, wait_us, wake, st->backend))
    {
        case OVP_DEFER_QUEUED:
            return OPENVPN_PLUGIN_FUNC_DEFERRED;
        case OVP_DEFER_ALLOWED:
            return OPENVPN_PLUGIN_FUNC_SUCCESS;
        default:
            return OPENVPN_PLUGIN_FUNC_ERROR; /* reason written and logged */
    }
}

/*
 * CLIENT_CONNECT_V2 with Hooks client-connect: ask the service (no password) and
 * answer through the client-connect deferral; CLIENT_CONNECT_DEFER_V2 polls it.
 */
static int
ah_connect_ask(struct ah_state *st, const struct ovp_event *ev)
{
    struct ah_client *c = ev->client;
    struct ovp_ccdefer *d;
    struct ah_request *r;
    int rc;

    if (!c || !(d = ovp_ccdefer_new((unsigned)st->cc_deadline_ms)))
    {
        ovp_logf_client(st->log, &ev->who, PLOG_ERR,
                        "cannot defer client-connect (out of memory): refused");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    pthread_mutex_lock(&c->mu);
    ovp_ccdefer_unref(c->ccd); /* a reconnect's earlier round */
    c->ccd = d;
    pthread_mutex_unlock(&c->mu);
    r = new_request(st, ev, "client-connect", 0);
    if (!r)
    {
        ovp_ccdefer_finish(d, OVP_TEMP, NULL, "out of memory");
    }
    else
    {
        r->ccd = ovp_ccdefer_ref(d);
        if (ah_backend_submit(st->backend, r) < 0)
        {
            ovp_ccdefer_finish(d, OVP_TEMP, NULL,
                               "TEMP: too many requests in flight (MaxInFlight)");
            ah_request_free(r);
        }
    }
    /* The client's context holds D; the poll reads it (no lock needed on D itself). */
    rc = ovp_ccdefer_poll(d, ev->return_list, st->log, &ev->who);
    return rc;
}

static int
ah_connect_poll(struct ah_state *st, const struct ovp_event *ev)
{
    struct ah_client *c = ev->client;
    struct ovp_ccdefer *d = NULL;
    int rc;

    if (c)
    {
        pthread_mutex_lock(&c->mu);
        d = ovp_ccdefer_ref(c->ccd);
        pthread_mutex_unlock(&c->mu);
    }
    rc = ovp_ccdefer_poll(d, ev->return_list, st->log, &ev->who);
    ovp_ccdefer_unref(d);
    return rc;
}

static void
ah_cancel(void *state)
{
    struct ah_state *st = state;
    ah_backend_stop(st->backend);
}

static void
ah_free(struct ah_state *st)
{
    if (!st)
    {
        return;
    }
    if (st->backend)
    {
        struct ah_stats s;
        ah_backend_stats(st->backend, &s);
        if (s.requests > 0)
        {
            ovp_note(
                st->log,
                "requests %lu: allowed %lu, denied %lu, temp %lu, pending %lu, failovers %lu, "
                "bad answers %lu",
                s.requests, s.allowed, s.denied, s.temp, s.pending, s.failovers, s.bad_answers);
        }
    }
    if (st->defer)
    {
        ovp_defer_close(st->defer); /* answers what is left; cancel stops our thread */
    }
    ah_backend_free(st->backend);
    ovp_admit_gate_close(st->admit, st->log);
    ah_conf_release(&st->conf);
    free(st);
}

static void
log_setup(struct ah_state *st)
{
    const struct ah_conf *c = &st->conf;
    char urls[512];
    size_t o = 0;

    urls[0] = '\0';
    for (size_t i = 0; i < c->n_urls && o < sizeof(urls); i++)
    {
        int k = snprintf(urls + o, sizeof(urls) - o, "%s%s", i ? " " : "", c->urls[i].shown);
        o += k > 0 ? (size_t)k : 0;
    }
    ovp_note(st->log,
             "service %s, Hooks%s%s, Timeout %ld ms (connect %ld ms), Retries %ld, Backoff "
             "%ld ms, MaxInFlight %ld, MaxBody %ld, VerifyPeer %s%s%s%s, InlineWait %ld us, "
             "2 threads",
             urls, c->hook_auth ? " auth" : "", c->hook_connect ? " client-connect" : "",
             c->timeout_ms, c->connect_timeout_ms, c->retries, c->backoff_ms, c->max_in_flight,
             c->max_body, c->verify_peer ? "yes" : "no", c->client_cert ? ", mTLS" : "",
             c->bearer ? ", bearer token" : "", c->hmac_key ? ", HMAC-signed" : "",
             c->inline_wait_us);
}

static int
ah_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    struct ovp_log *log = ovp_plugin_log(p);
    struct ovp_defer_conf dc;
    struct ovp_defer_ops ops;
    char err[512];
    size_t n = ovp_argc(argv);
    struct ah_state *st;
    unsigned want;
    long deadline;
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
    if (getrandom(&st->id_prefix, sizeof(st->id_prefix), 0) != sizeof(st->id_prefix))
    {
        st->id_prefix = (uint32_t)ovp_now_ns();
    }
    atomic_init(&st->id_next, 1);
    if (ah_conf_load(n > 1 ? argv + 1 : argv + n, n > 1 ? n - 1 : 0, &st->conf, err,
                     sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    for (size_t i = 0; i < st->conf.warnings.n; i++)
    {
        ovp_warn(log, "%s", st->conf.warnings.v[i]);
    }

    /*
     * The engine's deadline is the backstop: every attempt bounded by Timeout, kept
     * under OpenVPN's default hand-window (60 s) so a client never hangs until it.
     */
    deadline = (st->conf.retries + 1) * st->conf.timeout_ms + 1000;
    if (deadline > 55000)
    {
        deadline = 55000;
    }
    memset(&dc, 0, sizeof(dc));
    dc.workers = 0; /* event-driven: the backend thread takes and finishes */
    dc.queue_max = (unsigned)st->conf.max_in_flight; /* more: TEMP at once */
    dc.deadline_ms = (unsigned)deadline;
    dc.what = "HTTP";
    memset(&ops, 0, sizeof(ops));
    ops.cancel = ah_cancel;
    want = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2);
    if (st->conf.hook_auth)
    {
        want |= OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY);
    }
    if (st->conf.hook_connect)
    {
        want |= OVP_CCDEFER_EVENTS;
    }
    st->cc_deadline_ms = deadline;
    st->adm_limit = (struct ovp_log_limit)OVP_LOG_LIMIT_CLIENT("admission refusals");
    st->admit = ovp_admit_gate_new(
        (unsigned long)st->conf.per_address, (unsigned long)st->conf.per_user,
        (size_t)st->conf.max_in_flight, "MaxPerAddress ", "MaxPerUser ");
    if (!st->admit)
    {
        ovp_err(log, "out of memory");
        goto fail;
    }
    /* CLIENT_CRRESPONSE (OpenVPN 2.6) only for challenges: optional. */
    if ((ovp_plugin_set_events(
             p,
             want | (st->conf.hook_auth ? OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE)
                                        : 0)) &
         want) != want)
    {
        ovp_err(log,
                "this OpenVPN does not offer CLIENT_CONNECT_V2%s, which the client "
                "config from the service needs",
                st->conf.hook_connect ? " and CLIENT_CONNECT_DEFER_V2" : "");
        goto fail;
    }
    st->defer = ovp_defer_new(&dc, &ops, st, log, err, sizeof(err));
    if (!st->defer ||
        !(st->backend = ah_backend_new(&st->conf, st->defer, log, err, sizeof(err))))
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    ah_backend_hooks(st->backend, store_ccfg, st);
    if (ah_backend_start(st->backend, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    log_setup(st);
    *state = st;
    return 0;

fail:
    ah_free(st);
    return -1;
}

static int
ah_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    struct ah_state *st = state;
    (void)p;
    if (ev->type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY)
    {
        return ah_auth(st, ev);
    }
    if (ev->type == OPENVPN_PLUGIN_CLIENT_CONNECT_V2)
    {
        return st->conf.hook_connect ? ah_connect_ask(st, ev) : ah_connect_stored(st, ev);
    }
    if (ev->type == OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2)
    {
        return ah_connect_poll(st, ev);
    }
    if (ev->type == OPENVPN_PLUGIN_CLIENT_CRRESPONSE)
    {
        return ah_crresponse(st, ev);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

static void
ah_close(struct ovp_plugin *p, void *state)
{
    (void)p;
    ah_free(state);
}

static const struct ovp_plugin_desc ah_desc = {
    .name = AH_NAME,
    .events = 0,
    /* Chosen at open from Hooks (ah_open). */
    .optional_events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY) |
                       OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2) |
                       OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2) |
                       OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE),
    .open = ah_open,
    .event = ah_event,
    .close = ah_close,
    .client_new = ah_client_new,
    .client_free = ah_client_free,
};
OVP_PLUGIN(ah_desc);

/* http_backend.c: ovp-auth-http's backend thread: libcurl's multi interface. */
#include "ovpbuild.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "ccfg.h"
#include "env.h"
#include "http_backend.h"
#include "secret.h"
#include "util.h"

/*
 * One thread drives every request: a curl multi handle keeps the connections to the
 * service (reused, HTTP/2 multiplexed when the service offers it over TLS) and runs
 * every transfer at once; curl_multi_poll sleeps until a socket is ready, a timeout
 * is due or curl_multi_wakeup (OpenVPN's thread, after a submit; close) rings.
 * Nothing here runs on OpenVPN's thread but ah_backend_wake and ah_backend_submit.
 *
 * A request goes to the first URL not in its backoff; a 5xx, a timeout, a
 * connection or TLS error, an oversized or (where JSON is needed) malformed body
 * puts that URL in its backoff and, while Retries allow, the request goes to the
 * next URL at once. Out of attempts: TEMP.
 */

struct job
{
    struct ovp_defer_req *req; /* auth: the engine's request (owns R) */
    struct ah_request *r;
    CURL *easy;
    struct curl_slist *hdrs;
    char *resp;
    size_t resp_len;
    int too_big;
    unsigned tried; /* bit i: URL i tried */
    long attempts;
    int url;
    int64_t start_ms;
    size_t max_body;
    int waiting;         /* not in curl: a poll due at next_at_ms, or a challenge */
    int64_t next_at_ms;  /* AH_K_POLL: when the next poll goes */
    int64_t pend_end_ms; /* AH_K_POLL: the client's pending timeout */
    struct job *prev, *next;
};

struct url_state
{
    int64_t down_until_ms;
};

struct ah_backend
{
    const struct ah_conf *conf;
    struct ovp_defer *d;
    struct ovp_log *log;
    CURLM *multi;
    struct curl_slist *resolve; /* host:port:addresses, resolved at open */
    struct url_state *urls;
    struct ovp_thread *thread;
    int started;
    atomic_int stop;

    pthread_mutex_t mu; /* the client-connect queue */
    struct ah_request *queue, **queue_tail;
    atomic_long in_flight; /* client-connect requests queued or running */

    struct job *jobs;
    ah_store_fn store;
    void *arg;

    atomic_ulong n_requests, n_allowed, n_denied, n_temp, n_failovers, n_bad, n_pending;

    /* The 202s kept between the two rounds, and challenge answers for the thread. */
    pthread_mutex_t pmu;
    struct pend *pend;
    struct crresp *crq;
    struct ovp_log_limit cr_limit; /* complaints about unsolicited responses */
    unsigned char pend_key[32];    /* random per open: keys the table */
};

struct pend
{
    unsigned char key[32]; /* HMAC(pend_key, username \0 password \0 cn \0 ip) */
    struct ah_pending p;
    int64_t expires_ms; /* PendingReconnect */
    struct pend *next;
};

struct crresp
{
    char *acf;  /* the auth's control file */
    char *resp; /* secret */
    struct crresp *next;
};

void
ah_request_free(struct ah_request *r)
{
    if (!r)
    {
        return;
    }
    if (r->body)
    {
        ovp_wipe(r->body, r->body_len);
        free(r->body);
    }
    if (r->ccd)
    {
        ovp_ccdefer_finish(r->ccd, OVP_TEMP, NULL, "TEMP: the request was dropped");
        ovp_ccdefer_unref(r->ccd);
    }
    if (r->unref && r->client)
    {
        r->unref(r->client);
    }
    ovp_free_secret(r->ticket);
    ovp_admit_gate_give(&r->adm);
    free(r);
}

/* ------------------------------------------------------------------ answers */

static void
job_unlink(struct ah_backend *b, struct job *j)
{
    if (j->prev)
    {
        j->prev->next = j->next;
    }
    else if (b->jobs == j)
    {
        b->jobs = j->next;
    }
    if (j->next)
    {
        j->next->prev = j->prev;
    }
    j->prev = j->next = NULL;
}

static void
job_reset_transfer(struct ah_backend *b, struct job *j)
{
    if (j->easy)
    {
        curl_multi_remove_handle(b->multi, j->easy);
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
    }
    /* curl_slist_append copied the Authorization line (the bearer token): curl frees
     * its copies without wiping, so we wipe them first. */
    for (struct curl_slist *h = j->hdrs; h; h = h->next)
    {
        ovp_wipe(h->data, strlen(h->data));
    }
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
    free(j->resp);
    j->resp = NULL;
    j->resp_len = 0;
    j->too_big = 0;
}

/* Answers J (auth: through the engine; client-connect: through the glue), frees J. */
static void
job_finish(struct ah_backend *b, struct job *j, int verdict, const char *ccfg,
           const char *reason)
{
    job_unlink(b, j);
    job_reset_transfer(b, j);
    atomic_fetch_add(verdict == OVP_ALLOW  ? &b->n_allowed
                     : verdict == OVP_DENY ? &b->n_denied
                                           : &b->n_temp,
                     1);
    if (j->req)
    {
        if (verdict == OVP_ALLOW && b->store && j->r->client)
        {
            b->store(b->arg, j->r->client, ccfg ? ccfg : "");
        }
        ovp_defer_finish(b->d, j->req, verdict, reason);
    }
    else
    {
        ovp_ccdefer_finish(j->r->ccd, verdict, ccfg, reason);
        ah_request_free(j->r); /* drops the reference */
        atomic_fetch_sub(&b->in_flight, 1);
    }
    free(j);
}

/* ---------------------------------------------------------------- transfers */

/* Collects the answer; past MaxBody the transfer is cut (fails closed: TEMP). */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t len = size * n;
    char *p;

    if (j->resp_len + len > j->max_body)
    {
        j->too_big = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    p = realloc(j->resp, j->resp_len + len + 1);
    if (!p)
    {
        return 0;
    }
    memcpy(p + j->resp_len, data, len);
    j->resp = p;
    j->resp_len += len;
    p[j->resp_len] = '\0';
    return len;
}

/* The URL for the next attempt of J: not tried yet, not in backoff; or -1. */
static int
pick_url(struct ah_backend *b, struct job *j)
{
    int64_t now = ovp_now_ms();
    int best = -1;

    if (j->r->kind != AH_K_ASK)
    {
        return j->r->url; /* round two: the URL that gave the 202, and only that one */
    }
    if ((j->tried & ((1u << b->conf->n_urls) - 1)) == ((1u << b->conf->n_urls) - 1))
    {
        j->tried = 0; /* every URL tried and attempts left: the list again */
    }
    for (size_t i = 0; i < b->conf->n_urls; i++)
    {
        if (j->tried & (1u << i))
        {
            continue;
        }
        if (b->urls[i].down_until_ms <= now)
        {
            return (int)i;
        }
        /* All in backoff: the one back soonest (unless all are down, try anyway). */
        if (best < 0 || b->urls[i].down_until_ms < b->urls[best].down_until_ms)
        {
            best = (int)i;
        }
    }
    return best;
}

#define SETOPT(e, opt, val) ok &= curl_easy_setopt((e), (opt), (val)) == CURLE_OK

/* Starts one attempt of J. Returns 0, or -1 (J not started: the caller answers). */
static int
start_attempt(struct ah_backend *b, struct job *j)
{
    const struct ah_conf *c = b->conf;
    const struct ah_url *u;
    char line[160];
    int ok = 1;

    j->url = pick_url(b, j);
    if (j->url < 0)
    {
        return -1;
    }
    u = &c->urls[j->url];
    j->tried |= 1u << j->url;
    j->attempts++;
    j->start_ms = ovp_now_ms();
    j->easy = curl_easy_init();
    if (!j->easy)
    {
        return -1;
    }
    j->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    j->hdrs = j->hdrs ? curl_slist_append(j->hdrs, "Accept: application/json") : NULL;
    /* No "Expect: 100-continue" round trip for a body over 1 KiB. */
    j->hdrs = j->hdrs ? curl_slist_append(j->hdrs, "Expect:") : NULL;
    snprintf(line, sizeof(line), "X-OVP-Request-Id: %s", j->r->request_id);
    j->hdrs = j->hdrs ? curl_slist_append(j->hdrs, line) : NULL;
    if (j->hdrs && c->bearer)
    {
        /* The token was checked at open: printable ASCII only, no CR/LF. */
        size_t tl = strlen(c->bearer) + 32;
        char *auth = malloc(tl);
        struct curl_slist *h = NULL;
        if (auth)
        {
            snprintf(auth, tl, "Authorization: Bearer %s", c->bearer);
            h = curl_slist_append(j->hdrs, auth);
            ovp_wipe(auth, tl);
            free(auth);
        }
        if (!h)
        {
            return -1;
        }
        j->hdrs = h;
    }
    if (j->hdrs && c->hmac_key)
    {
        char ts[32], hex[65];
        struct curl_slist *h;
        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
        if (ah_hmac_sign(c->hmac_key, strlen(c->hmac_key), ts, j->r->body, j->r->body_len,
                         hex) < 0)
        {
            ovp_logf_client(b->log, &j->r->who, PLOG_ERR, "cannot sign the request (OpenSSL)");
            return -1;
        }
        snprintf(line, sizeof(line), "X-OVP-Timestamp: %s", ts);
        h = curl_slist_append(j->hdrs, line);
        snprintf(line, sizeof(line), "X-OVP-Signature: sha256=%s", hex);
        h = h ? curl_slist_append(h, line) : NULL;
        if (!h)
        {
            return -1;
        }
        j->hdrs = h;
    }
    if (!j->hdrs)
    {
        return -1;
    }
    SETOPT(j->easy, CURLOPT_URL, u->url);
    SETOPT(j->easy, CURLOPT_NOSIGNAL, 1L);
    SETOPT(j->easy, CURLOPT_PRIVATE, j);
    SETOPT(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
    SETOPT(j->easy, CURLOPT_USERAGENT, "ovp-auth-http/" PACKAGE_VERSION);
    SETOPT(j->easy, CURLOPT_POSTFIELDS, j->r->body);
    SETOPT(j->easy, CURLOPT_POSTFIELDSIZE, (long)j->r->body_len);
    SETOPT(j->easy, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(j->easy, CURLOPT_WRITEDATA, j);
    SETOPT(j->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SETOPT(j->easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SETOPT(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Proxies from the environment (http_proxy...) would see every password. */
    SETOPT(j->easy, CURLOPT_PROXY, "");
    SETOPT(j->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SETOPT(j->easy, CURLOPT_PIPEWAIT, 1L);
    SETOPT(j->easy, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    if (b->resolve)
    {
        SETOPT(j->easy, CURLOPT_RESOLVE, b->resolve);
    }
    if (c->follow_redirects)
    {
        SETOPT(j->easy, CURLOPT_FOLLOWLOCATION, 1L);
        SETOPT(j->easy, CURLOPT_MAXREDIRS, 5L);
        SETOPT(j->easy, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
        /* A redirect never downgrades to clear text unless AllowPlainHTTP. */
        SETOPT(j->easy, CURLOPT_REDIR_PROTOCOLS_STR, c->allow_plain ? "http,https" : "https");
    }
    SETOPT(j->easy, CURLOPT_SSL_VERIFYPEER, c->verify_peer ? 1L : 0L);
    SETOPT(j->easy, CURLOPT_SSL_VERIFYHOST, c->verify_peer ? 2L : 0L);
    if (c->ca_file)
    {
        SETOPT(j->easy, CURLOPT_CAINFO, c->ca_file);
    }
    if (c->ca_dir)
    {
        SETOPT(j->easy, CURLOPT_CAPATH, c->ca_dir);
    }
    if (c->client_cert)
    {
        /*
         * The key was read at open with the secret-file rules (and is kept across a
         * reload as nobody, who cannot read it): it goes to curl from memory.
         */
        struct curl_blob key = {
            .data = c->client_key, .len = strlen(c->client_key), .flags = CURL_BLOB_NOCOPY};
        SETOPT(j->easy, CURLOPT_SSLCERT, c->client_cert);
        SETOPT(j->easy, CURLOPT_SSLKEY_BLOB, &key);
        SETOPT(j->easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!ok)
    {
        ovp_logf_client(b->log, &j->r->who, PLOG_ERR,
                        "libcurl refused an option (too old a libcurl?)");
        return -1;
    }
    if (curl_multi_add_handle(b->multi, j->easy) != CURLM_OK)
    {
        return -1;
    }
    return 0;
}

/* Takes a new request into the loop (or answers it TEMP at once). */
static void
job_start(struct ah_backend *b, struct ovp_defer_req *req, struct ah_request *r)
{
    struct job *j = calloc(1, sizeof(*j));

    atomic_fetch_add(&b->n_requests, 1);
    if (!j)
    {
        if (req)
        {
            ovp_defer_finish(b->d, req, OVP_TEMP, "TEMP: out of memory");
        }
        else
        {
            ovp_ccdefer_finish(r->ccd, OVP_TEMP, NULL, "TEMP: out of memory");
            ah_request_free(r);
            atomic_fetch_sub(&b->in_flight, 1);
        }
        return;
    }
    j->req = req;
    j->r = r;
    j->url = -1;
    j->max_body = (size_t)b->conf->max_body;
    j->next = b->jobs;
    if (b->jobs)
    {
        b->jobs->prev = j;
    }
    b->jobs = j;
    if (r->kind == AH_K_CR)
    {
        j->waiting = 1; /* until CLIENT_CRRESPONSE brings the answer */
        j->url = r->url;
        return;
    }
    if (r->kind == AH_K_POLL)
    {
        j->pend_end_ms = ovp_now_ms() + r->timeout_s * 1000;
    }
    if (start_attempt(b, j) < 0)
    {
        ovp_logf_client(b->log, &r->who, PLOG_ERR, "cannot start a request to the service");
        job_finish(b, j, OVP_TEMP, NULL, "TEMP: out of resources, try again");
    }
}

static void
take_all(struct ah_backend *b)
{
    struct ovp_defer_req *req;
    struct ah_request *q;

    while ((req = ovp_defer_take(b->d, 0)) != NULL)
    {
        job_start(b, req, req->data);
    }
    pthread_mutex_lock(&b->mu);
    q = b->queue;
    b->queue = NULL;
    b->queue_tail = &b->queue;
    pthread_mutex_unlock(&b->mu);
    while (q)
    {
        struct ah_request *next = q->next;
        q->next = NULL;
        job_start(b, NULL, q);
        q = next;
    }
}

/* The one log line of a decision (spec: [who] <what> by <URL>: HTTP <s> in <ms> ms: <why>). */
static void
log_decision(struct ah_backend *b, struct job *j, const char *what, long status, int64_t ms,
             const char *reason)
{
    char st[32];
    if (status > 0)
    {
        snprintf(st, sizeof(st), "HTTP %ld", status);
    }
    else
    {
        snprintf(st, sizeof(st), "no answer");
    }
    ovp_logf_client(b->log, &j->r->who, PLOG_NOTE, "%s by %s: %s in %lld ms: %s", what,
                    j->url >= 0 ? b->conf->urls[j->url].shown : "(none)", st, (long long)ms,
                    reason);
}

/* The service failed for J (WHY for the log): next URL while attempts last, else TEMP. */
static void
failed(struct ah_backend *b, struct job *j, long status, const char *why)
{
    int64_t now = ovp_now_ms();
    int64_t ms = now - j->start_ms;
    int from = j->url;

    b->urls[from].down_until_ms = now + b->conf->backoff_ms;
    job_reset_transfer(b, j);
    if (j->attempts <= b->conf->retries && !(j->req && ovp_defer_req_answered(j->req)) &&
        !(!j->req && ovp_ccdefer_answered(j->r->ccd)))
    {
        if (start_attempt(b, j) == 0)
        {
            atomic_fetch_add(&b->n_failovers, 1);
            ovp_logf_client(b->log, &j->r->who, PLOG_WARN,
                            "%s failed (%s, HTTP %ld after %lld ms): trying %s",
                            b->conf->urls[from].shown, why, status, (long long)ms,
                            b->conf->urls[j->url].shown);
            return;
        }
        job_reset_transfer(b, j);
    }
    j->url = from;
    log_decision(b, j, "temp", status, ms, why);
    job_finish(b, j, OVP_TEMP, NULL,
               "TEMP: the authentication service could not be asked, try again");
}

/* A 200 body's client_config as lines, validated. Returns 0, or -1 with WHY. */
static int
build_ccfg(const struct ah_answer *a, struct ovp_ccfg *cc, char *why, size_t wl)
{
    for (size_t i = 0; i < a->n_config; i++)
    {
        if (ovp_ccfg_add(cc, a->client_config[i]) < 0)
        {
            snprintf(why, wl,
                     "client_config line %zu is not a valid directive (empty, a control "
                     "character, or over 64 KiB in all)",
                     i + 1);
            return -1;
        }
    }
    return 0;
}

/* 200/204: allow, with the answer's client_config (validated) for the client. */
static void
answer_allow(struct ah_backend *b, struct job *j, long status, int64_t ms)
{
    struct ah_answer a;
    struct ovp_ccfg c = {0};
    char err[160], reason[AH_REASON_MAX + 1], why[256];

    memset(&a, 0, sizeof(a));
    if (j->resp_len > 0 && status == 200 &&
        ah_answer_parse(j->resp, j->resp_len, &a, err, sizeof(err)) < 0)
    {
        atomic_fetch_add(&b->n_bad, 1);
        snprintf(why, sizeof(why), "a malformed answer: %s", err);
        ah_answer_clear(&a);
        failed(b, j, status, why);
        return;
    }
    if (build_ccfg(&a, &c, why, sizeof(why)) < 0)
    {
        /* Fail closed: a config we cannot apply may be what limits this user. */
        atomic_fetch_add(&b->n_bad, 1);
        log_decision(b, j, "deny", status, ms, why);
        job_finish(b, j, OVP_DENY, NULL,
                   "authentication failed: the service's client configuration is invalid");
    }
    else
    {
        ah_reason_sanitize(a.reason, reason, sizeof(reason));
        log_decision(b, j, "allow", status, ms, reason[0] ? reason : "allowed");
        job_finish(b, j, OVP_ALLOW, c.buf ? c.buf : "", NULL);
    }
    ovp_ccfg_clear(&c);
    ah_answer_clear(&a);
}

/* 401/403: deny with the service's reason (JSON optional here). */
static void
answer_deny(struct ah_backend *b, struct job *j, long status, int64_t ms)
{
    struct ah_answer a;
    char err[160], reason[AH_REASON_MAX + 1];

    memset(&a, 0, sizeof(a));
    if (j->resp_len > 0)
    {
        (void)ah_answer_parse(j->resp, j->resp_len, &a, err, sizeof(err));
    }
    ah_reason_sanitize(a.reason, reason, sizeof(reason));
    if (!reason[0])
    {
        snprintf(reason, sizeof(reason), "authentication failed");
    }
    log_decision(b, j, "deny", status, ms, reason);
    job_finish(b, j, OVP_DENY, NULL, reason);
    ah_answer_clear(&a);
}

/* Any other status: deny, logged with what came back. */
static void
answer_other(struct ah_backend *b, struct job *j, long status, int64_t ms)
{
    char why[128];
    snprintf(why, sizeof(why), "unexpected status%s",
             status >= 300 && status < 400 ? " (a redirect, not followed: FollowRedirects no)"
                                           : "");
    log_decision(b, j, "deny", status, ms, why);
    job_finish(b, j, OVP_DENY, NULL, "authentication failed");
}

/* 1 when the comma-separated IV_SSO list holds METHOD. */
static int
sso_has(const char *iv_sso, const char *method)
{
    size_t ml = strlen(method);
    for (const char *p = iv_sso; p && *p;)
    {
        size_t l = strcspn(p, ",");
        if (l == ml && strncmp(p, method, ml) == 0)
        {
            return 1;
        }
        p += l;
        p += *p == ',';
    }
    return 0;
}

/* The table key of a client: HMAC(pend_key, username \0 password \0 cn \0 ip). */
static int
pend_key_of(const struct ah_backend *b, const char *user, const char *pass, const char *cn,
            const char *ip, unsigned char key[32])
{
    const char *parts[4] = {user ? user : "", pass ? pass : "", cn ? cn : "", ip ? ip : ""};
    size_t n = 0, o = 0;
    unsigned char *msg;
    unsigned int len = 0;
    int ok;

    for (int i = 0; i < 4; i++)
    {
        n += strlen(parts[i]) + 1;
    }
    if (!(msg = malloc(n)))
    {
        return -1;
    }
    for (int i = 0; i < 4; i++)
    {
        size_t l = strlen(parts[i]) + 1;
        memcpy(msg + o, parts[i], l);
        o += l;
    }
    ok = HMAC(EVP_sha256(), b->pend_key, sizeof(b->pend_key), msg, n, key, &len) != NULL &&
         len == 32;
    ovp_wipe(msg, n);
    free(msg);
    return ok ? 0 : -1;
}

static void
pend_free(struct pend *e)
{
    ah_pending_clear(&e->p);
    free(e);
}

/* Drops expired entries (under pmu). */
static void
pend_expire_locked(struct ah_backend *b, int64_t now)
{
    for (struct pend **pp = &b->pend; *pp;)
    {
        if ((*pp)->expires_ms <= now)
        {
            struct pend *e = *pp;
            *pp = e->next;
            pend_free(e);
        }
        else
        {
            pp = &(*pp)->next;
        }
    }
}

/*
 * 202, round one: OpenVPN read the pending file when the call returned DEFERRED,
 * long before this answer; so the 202 is kept for the client's reconnect (same
 * credentials), and the client told TEMP, which makes it reconnect at once.
 */
static void
round_one(struct ah_backend *b, struct job *j, long status, int64_t ms)
{
    struct ah_answer a;
    char err[160], why[256];
    const char *method;
    struct pend *e;
    int ok;

    memset(&a, 0, sizeof(a));
    if (!j->req || j->r->kind != AH_K_ASK)
    {
        log_decision(b, j, "deny", status, ms,
                     j->req ? "a second 202 for the same sign-in"
                            : "a 202 at client-connect (pending works only at auth)");
        job_finish(b, j, OVP_DENY, NULL, "authentication failed");
        return;
    }
    if (ah_answer_parse(j->resp ? j->resp : "", j->resp_len, &a, err, sizeof(err)) < 0 ||
        !a.ticket || (!a.pending_url == !a.challenge_text))
    {
        atomic_fetch_add(&b->n_bad, 1);
        snprintf(why, sizeof(why), "a malformed 202: %s",
                 err[0] ? err : "it needs a ticket and one of pending or challenge");
        ah_answer_clear(&a);
        failed(b, j, status, why);
        return;
    }
    if (a.challenge_text)
    {
        method = "crtext";
        ok = sso_has(j->req->iv_sso, "crtext");
    }
    else
    {
        method = "openurl";
        ok = sso_has(j->req->iv_sso, "openurl") || sso_has(j->req->iv_sso, "webauth");
    }
    if (!ok || !j->req->pending_file)
    {
        char reason[64];
        snprintf(reason, sizeof(reason), "this client cannot do %s", method);
        log_decision(b, j, "deny", status, ms, reason);
        job_finish(b, j, OVP_DENY, NULL, reason);
        ah_answer_clear(&a);
        return;
    }
    e = calloc(1, sizeof(*e));
    if (!e || pend_key_of(b, j->req->username, j->req->password, j->req->common_name,
                          j->req->client_ip, e->key) < 0)
    {
        free(e);
        ah_answer_clear(&a);
        failed(b, j, status, "out of memory");
        return;
    }
    e->p.timeout_s = a.pending_url && a.pending_timeout > 0 ? a.pending_timeout : 120;
    e->p.challenge = a.challenge_text != NULL;
    e->p.ticket = a.ticket;
    a.ticket = NULL;
    e->p.what = a.challenge_text ? a.challenge_text : a.pending_url;
    a.challenge_text = a.pending_url = NULL;
    e->p.echo = a.challenge_echo;
    e->p.url = j->url;
    e->expires_ms = ovp_now_ms() + b->conf->pending_reconnect_ms;
    pthread_mutex_lock(&b->pmu);
    pend_expire_locked(b, ovp_now_ms());
    /* A newer 202 for the same client replaces the older one. */
    for (struct pend **pp = &b->pend; *pp; pp = &(*pp)->next)
    {
        if (ovp_ct_equal((*pp)->key, e->key, sizeof(e->key)))
        {
            struct pend *old = *pp;
            *pp = old->next;
            pend_free(old);
            break;
        }
    }
    e->next = b->pend;
    b->pend = e;
    pthread_mutex_unlock(&b->pmu);
    ah_answer_clear(&a);
    atomic_fetch_add(&b->n_pending, 1);
    snprintf(why, sizeof(why), "%s required, kept for the client's reconnect",
             e->p.challenge ? "a challenge (crtext)" : "a web sign-in");
    log_decision(b, j, "pending", status, ms, why);
    job_finish(b, j, OVP_TEMP, NULL, "TEMP[backoff 1]: sign-in required, reconnecting");
}

/* Round two of a "pending": the answer to a status poll. */
static void
poll_decide(struct ah_backend *b, struct job *j, long status, int64_t ms, const char *fail_why)
{
    int64_t now = ovp_now_ms();

    if (!fail_why && (status == 200 || status == 204))
    {
        answer_allow(b, j, status, ms);
        return;
    }
    if (!fail_why && (status == 401 || status == 403))
    {
        answer_deny(b, j, status, ms);
        return;
    }
    if (!fail_why && status != 202)
    {
        answer_other(b, j, status, ms);
        return;
    }
    /* 202 ("not yet") or the service failed: ask again in a second, until the timeout. */
    if (fail_why)
    {
        ovp_logf_client(b->log, &j->r->who, PLOG_DEBUG, "status poll failed (%s): again in 1 s",
                        fail_why);
    }
    if (now >= j->pend_end_ms)
    {
        if (fail_why)
        {
            log_decision(b, j, "temp", status, ms, fail_why);
            job_finish(b, j, OVP_TEMP, NULL,
                       "TEMP: the authentication service could not be asked, try again");
        }
        else
        {
            log_decision(b, j, "deny", status, ms, "sign-in timed out");
            job_finish(b, j, OVP_DENY, NULL, "sign-in timed out");
        }
        return;
    }
    job_reset_transfer(b, j);
    j->waiting = 1;
    j->next_at_ms = now + 1000 < j->pend_end_ms ? now + 1000 : j->pend_end_ms;
}

static void
decide(struct ah_backend *b, struct job *j, CURLcode cc)
{
    long status = 0;
    int64_t ms = ovp_now_ms() - j->start_ms;
    char why[256];
    const char *fail_why = NULL;

    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    if (j->too_big)
    {
        snprintf(why, sizeof(why), "the body is over MaxBody (%ld bytes)", b->conf->max_body);
        atomic_fetch_add(&b->n_bad, 1);
        fail_why = why;
    }
    else if (cc != CURLE_OK)
    {
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
        fail_why = why;
    }
    else if (status >= 500 || status < 100)
    {
        fail_why = "server error";
    }
    if (j->r->kind == AH_K_POLL)
    {
        poll_decide(b, j, status, ms, fail_why);
    }
    else if (fail_why)
    {
        failed(b, j, status, fail_why);
    }
    else if (status == 200 || status == 204)
    {
        answer_allow(b, j, status, ms);
    }
    else if (status == 401 || status == 403)
    {
        answer_deny(b, j, status, ms);
    }
    else if (status == 202)
    {
        round_one(b, j, status, ms);
    }
    else
    {
        answer_other(b, j, status, ms);
    }
}

/* Challenge answers from CLIENT_CRRESPONSE: each to the auth waiting for it. */
static void
take_crresponses(struct ah_backend *b)
{
    struct crresp *q;

    pthread_mutex_lock(&b->pmu);
    q = b->crq;
    b->crq = NULL;
    pthread_mutex_unlock(&b->pmu);
    while (q)
    {
        struct crresp *next = q->next;
        struct job *j;
        for (j = b->jobs; j; j = j->next)
        {
            if (j->req && j->r->kind == AH_K_CR && j->waiting &&
                strcmp(j->req->control_file, q->acf) == 0)
            {
                break;
            }
        }
        if (!j)
        {
            /* Unsolicited responses cost the sender one message each: within a budget. */
            ovp_logf_client_limited(
                b->log, &b->cr_limit, NULL, PLOG_NOTE,
                "a challenge response for no authentication waiting for one: ignored");
        }
        else
        {
            struct ah_body_in in;
            char err[128];
            memset(&in, 0, sizeof(in));
            in.fields = AH_F_REQUEST_ID;
            in.hook = "crresponse";
            in.request_id = j->r->request_id;
            in.ticket = j->r->ticket;
            in.response = q->resp;
            if (j->r->body)
            {
                ovp_wipe(j->r->body, j->r->body_len);
                free(j->r->body);
            }
            j->r->body = ah_body_build(&in, NULL, err, sizeof(err));
            j->r->body_len = j->r->body ? strlen(j->r->body) : 0;
            j->waiting = 0;
            if (!j->r->body || start_attempt(b, j) < 0)
            {
                job_finish(b, j, OVP_TEMP, NULL, "TEMP: out of resources, try again");
            }
        }
        free(q->acf);
        ovp_free_secret(q->resp);
        free(q);
        q = next;
    }
}

/* Polls that are due go out; returns the ms until the next one (at most LIMIT). */
static long
due_polls(struct ah_backend *b, long limit)
{
    int64_t now = ovp_now_ms();
    for (struct job *j = b->jobs, *next; j; j = next)
    {
        next = j->next;
        if (!j->waiting || j->r->kind != AH_K_POLL)
        {
            continue;
        }
        if (j->next_at_ms <= now)
        {
            j->waiting = 0;
            if (start_attempt(b, j) < 0)
            {
                job_finish(b, j, OVP_TEMP, NULL, "TEMP: out of resources, try again");
            }
        }
        else if (j->next_at_ms - now < limit)
        {
            limit = (long)(j->next_at_ms - now);
        }
    }
    return limit;
}

static void
drain(struct ah_backend *b)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(b->multi, &left)) != NULL)
    {
        struct job *j = NULL;
        CURLcode rc = m->data.result;
        if (m->msg != CURLMSG_DONE)
        {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j)
        {
            decide(b, j, rc);
        }
    }
}

static void *
backend_main(void *arg)
{
    struct ah_backend *b = arg;
    int running;

    while (!atomic_load(&b->stop))
    {
        long wait_ms;
        take_all(b);
        take_crresponses(b);
        curl_multi_perform(b->multi, &running);
        drain(b);
        /* Requests the engine's deadline answered meanwhile are dropped. */
        for (struct job *j = b->jobs, *next; j; j = next)
        {
            next = j->next;
            if ((j->req && ovp_defer_req_answered(j->req)) ||
                (!j->req && ovp_ccdefer_answered(j->r->ccd)))
            {
                job_finish(b, j, OVP_TEMP, NULL, NULL);
            }
        }
        wait_ms = due_polls(b, 1000);
        if (curl_multi_poll(b->multi, NULL, 0, (int)wait_ms, NULL) != CURLM_OK)
        {
            ovp_logf(b->log, PLOG_ERR, "HTTP backend: curl_multi_poll failed");
        }
    }
    /* Closing: what we hold gets TEMP (the engine's close may have answered already). */
    take_all(b);
    while (b->jobs)
    {
        job_finish(b, b->jobs, OVP_TEMP, NULL, "TEMP: server is reloading, try again");
    }
    return NULL;
}

/* -------------------------------------------------------------- public */

/*
 * Host names are resolved here, at open (as root, before any thread): libcurl's
 * resolver would start a thread for each lookup, and OpenVPN's process may not
 * create threads after its privilege drop (LimitNPROC). A reload resolves again.
 */
static int
resolve_hosts(struct ah_backend *b, char *err, size_t errlen)
{
    for (size_t i = 0; i < b->conf->n_urls; i++)
    {
        CURLU *h = curl_url();
        char *host = NULL, *port = NULL;
        struct addrinfo hints, *res = NULL;
        struct in_addr tmp;
        char entry[1024];
        size_t o;

        if (!h || curl_url_set(h, CURLUPART_URL, b->conf->urls[i].url, 0) != CURLUE_OK ||
            curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        {
            ovp_errf(err, errlen, "URL %s: libcurl cannot parse it", b->conf->urls[i].shown);
            curl_free(host);
            curl_free(port);
            curl_url_cleanup(h);
            return -1;
        }
        curl_url_cleanup(h);
        if (host[0] == '[' || inet_pton(AF_INET, host, &tmp) == 1 ||
            strcasecmp(host, "localhost") == 0)
        {
            curl_free(host);
            curl_free(port);
            continue; /* an address (or localhost, which libcurl knows itself) */
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        {
            ovp_errf(err, errlen, "URL %s: cannot resolve %s", b->conf->urls[i].shown, host);
            curl_free(host);
            curl_free(port);
            return -1;
        }
        o = (size_t)snprintf(entry, sizeof(entry), "%s:%s:", host, port);
        for (struct addrinfo *ai = res; ai && o < sizeof(entry) - 64; ai = ai->ai_next)
        {
            char a[INET6_ADDRSTRLEN];
            const void *src =
                ai->ai_family == AF_INET
                    ? (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr
                    : (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
            if (!inet_ntop(ai->ai_family, src, a, sizeof(a)) || strstr(entry, a))
            {
                continue;
            }
            o += (size_t)snprintf(
                entry + o, sizeof(entry) - o, "%s%s%s%s", entry[o - 1] == ':' ? "" : ",",
                ai->ai_family == AF_INET6 ? "[" : "", a, ai->ai_family == AF_INET6 ? "]" : "");
        }
        freeaddrinfo(res);
        curl_free(host);
        curl_free(port);
        {
            struct curl_slist *l = curl_slist_append(b->resolve, entry);
            if (!l)
            {
                ovp_errf(err, errlen, "out of memory");
                return -1;
            }
            b->resolve = l;
        }
    }
    return 0;
}

static void
global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct ah_backend *
ah_backend_new(const struct ah_conf *conf, struct ovp_defer *d, struct ovp_log *log, char *err,
               size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct ah_backend *b;

    /* Process-wide, once; never cleaned up (the .so stays loaded: -z nodelete). */
    pthread_once(&once, global_init);
    b = calloc(1, sizeof(*b));
    if (!b)
    {
        ovp_errf(err, errlen, "out of memory");
        return NULL;
    }
    b->conf = conf;
    b->d = d;
    b->log = log;
    b->cr_limit = (struct ovp_log_limit)OVP_LOG_LIMIT_CLIENT("unsolicited challenge responses");
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->pmu, NULL);
    b->queue_tail = &b->queue;
    if (getrandom(b->pend_key, sizeof(b->pend_key), 0) != (ssize_t)sizeof(b->pend_key))
    {
        ovp_errf(err, errlen, "cannot get random bytes for the pending table");
        ah_backend_free(b);
        return NULL;
    }
    b->urls = calloc(conf->n_urls, sizeof(*b->urls));
    b->multi = curl_multi_init();
    if (!b->urls || !b->multi)
    {
        ovp_errf(err, errlen, "cannot set up libcurl");
        ah_backend_free(b);
        return NULL;
    }
    curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conf->max_conns);
    curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, conf->max_conns * (long)conf->n_urls);
    curl_multi_setopt(b->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (resolve_hosts(b, err, errlen) < 0)
    {
        ah_backend_free(b);
        return NULL;
    }
    return b;
}

void
ah_backend_hooks(struct ah_backend *b, ah_store_fn store, void *arg)
{
    b->store = store;
    b->arg = arg;
}

int
ah_backend_start(struct ah_backend *b, char *err, size_t errlen)
{
    int rc = ovp_thread_start(&b->thread, backend_main, b);
    if (rc != 0)
    {
        ovp_errf(err, errlen, "cannot start the HTTP thread: %s", strerror(rc));
        return -1;
    }
    b->started = 1;
    return 0;
}

void
ah_backend_wake(struct ah_backend *b)
{
    curl_multi_wakeup(b->multi);
}

int
ah_backend_submit(struct ah_backend *b, struct ah_request *r)
{
    if (atomic_load(&b->stop))
    {
        return -1;
    }
    /* Counted until the backend answers it (job_finish): MaxInFlight bounds both kinds. */
    if (atomic_fetch_add(&b->in_flight, 1) >= b->conf->max_in_flight)
    {
        atomic_fetch_sub(&b->in_flight, 1);
        return -1;
    }
    r->next = NULL;
    pthread_mutex_lock(&b->mu);
    *b->queue_tail = r;
    b->queue_tail = &r->next;
    pthread_mutex_unlock(&b->mu);
    curl_multi_wakeup(b->multi);
    return 0;
}

void
ah_pending_clear(struct ah_pending *p)
{
    if (!p)
    {
        return;
    }
    ovp_free_secret(p->ticket);
    free(p->what);
    memset(p, 0, sizeof(*p));
}

int
ah_backend_pending_take(struct ah_backend *b, const char *const *envp, struct ah_pending *p)
{
    unsigned char key[32];
    const char *ip = ovp_env_get(envp, "untrusted_ip");
    int found = 0;

    memset(p, 0, sizeof(*p));
    if (!ip)
    {
        ip = ovp_env_get(envp, "untrusted_ip6");
    }
    if (pend_key_of(b, ovp_env_get(envp, "username"), ovp_env_get(envp, "password"),
                    ovp_env_get(envp, "common_name"), ip, key) < 0)
    {
        return 0;
    }
    pthread_mutex_lock(&b->pmu);
    if (!b->pend)
    {
        pthread_mutex_unlock(&b->pmu);
        return 0;
    }
    pend_expire_locked(b, ovp_now_ms());
    for (struct pend **pp = &b->pend; *pp; pp = &(*pp)->next)
    {
        if (ovp_ct_equal((*pp)->key, key, sizeof(key)))
        {
            struct pend *e = *pp;
            *pp = e->next;
            *p = e->p; /* the ticket is used once: the entry goes */
            free(e);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&b->pmu);
    ovp_wipe(key, sizeof(key));
    return found;
}

int
ah_backend_crresponse(struct ah_backend *b, const char *acf, const char *response)
{
    struct crresp *q = calloc(1, sizeof(*q));
    if (!q || !(q->acf = strdup(acf)) || !(q->resp = ovp_strdup_secret(response)))
    {
        if (q)
        {
            free(q->acf);
            free(q);
        }
        return -1;
    }
    pthread_mutex_lock(&b->pmu);
    q->next = b->crq;
    b->crq = q;
    pthread_mutex_unlock(&b->pmu);
    curl_multi_wakeup(b->multi);
    return 0;
}

void
ah_backend_stats(struct ah_backend *b, struct ah_stats *st)
{
    st->requests = atomic_load(&b->n_requests);
    st->allowed = atomic_load(&b->n_allowed);
    st->denied = atomic_load(&b->n_denied);
    st->temp = atomic_load(&b->n_temp);
    st->failovers = atomic_load(&b->n_failovers);
    st->bad_answers = atomic_load(&b->n_bad);
    st->pending = atomic_load(&b->n_pending);
}

void
ah_backend_stop(struct ah_backend *b)
{
    if (!b || !b->started)
    {
        return;
    }
    atomic_store(&b->stop, 1);
    curl_multi_wakeup(b->multi);
    ovp_thread_join(b->thread);
    b->started = 0;
}

void
ah_backend_free(struct ah_backend *b)
{
    if (!b)
    {
        return;
    }
    ah_backend_stop(b);
    while (b->queue)
    {
        struct ah_request *r = b->queue;
        b->queue = r->next;
        ah_request_free(r); /* a client-connect left: answered TEMP */
    }
    curl_multi_cleanup(b->multi);
    curl_slist_free_all(b->resolve);
    while (b->pend)
    {
        struct pend *e = b->pend;
        b->pend = e->next;
        pend_free(e);
    }
    while (b->crq)
    {
        struct crresp *q = b->crq;
        b->crq = q->next;
        free(q->acf);
        ovp_free_secret(q->resp);
        free(q);
    }
    pthread_mutex_destroy(&b->pmu);
    pthread_mutex_destroy(&b->mu);
    free(b->urls);
    free(b);
}

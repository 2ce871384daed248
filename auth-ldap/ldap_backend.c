/* ldap_backend.c: ovp-auth-ldap's backend thread: libldap's asynchronous API. */
#include "ovpbuild.h"

#include <errno.h>
#include <ldap.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "ccdefer.h"
#include "ccfg.h"
#include "ldap_backend.h"
#include "ldap_cache.h"
#include "ldap_filter.h"
#include "secret.h"
#include "util.h"

/*
 * One thread drives every LDAP operation; nothing here runs on OpenVPN's thread
 * but al_backend_wake and al_backend_all_down.
 *
 * Connections (all to the same server, the first of the URL list not known down):
 * - the search connection, bound once as BindDN (or anonymous), carries every
 *   search of every client at once (msgids tell the answers apart);
 * - BindConnections connections for the users' binds, one bind at a time each (a
 *   bind changes a connection's identity; RFC 4511 4.2.1 forbids other operations
 *   during one), so a user's password never touches the search connection.
 * Opening a connection (TCP, StartTLS, the service bind) is synchronous, bounded by
 * Timeout, on this thread; everything after that is asynchronous. StartTLS always
 * completes (ldap_start_tls_s) before any bind is sent on a connection.
 *
 * A request goes: user search -> user bind -> group searches (RequireGroup only).
 * A client-config lookup (al_backend_lookup: client-connect of a session whose auth
 * answer did not come from the directory) goes: user search -> group searches, with
 * no bind, and is answered through its ovp_ccdefer rather than the defer engine.
 * Each operation has a deadline of Timeout seconds; past it the operation is
 * abandoned, the server counted as failed and the client told TEMP.
 *
 * Failover: a server that cannot be reached, times out or drops a connection is
 * skipped for a backoff that doubles (1 s, 2 s, ... RetryMax) and the next URL is
 * tried. When every server is in its backoff the circuit breaker opens: OpenVPN's
 * thread answers TEMP at once (al_backend_all_down) until the soonest backoff ends,
 * when the next client's request tries again.
 */

enum stage
{
    ST_NEW = 0,
    ST_SEARCH,    /* user search in flight */
    ST_WAIT_BIND, /* waiting for a free bind connection */
    ST_BIND,      /* user bind in flight */
    ST_GROUP,     /* group search in flight (group gi) */
    ST_NEST,      /* NestedGroups search: the groups holding the frontier */
};

struct conn
{
    LDAP *ld;
    int fd;
    int server; /* index in urls */
    int busy;   /* bind connections: a bind is in flight */
};

struct job
{
    struct ovp_defer_req *req;
    enum stage stage;
    struct conn *conn; /* where the operation in flight is */
    int msgid;
    int64_t due_ms;
    int entries; /* entries seen by the search in flight */
    char *dn;    /* the user's DN */
    char **memberof;
    size_t n_memberof;
    size_t gi;  /* group being checked */
    int member; /* the group search found the user a member */
    /* NestedGroups search: DNs whose groups are asked next, and every DN seen */
    struct strset
    {
        char **v;
        size_t n;
    } front, upnext, seen;
    long level;
    int cached;  /* answered from the cache: not put back */
    char **push; /* PushAttribute values of the user */
    size_t n_push;
    char *ifconfig;          /* IfconfigPushAttribute value */
    size_t group_hit;        /* 1 + the <Group> the user was found in; 0: none */
    struct ovp_ccdefer *ccd; /* a client-config lookup (borrowed from req->data); else NULL */
    char *ccfg;              /* a lookup's directives once built */
    struct job *next;
};

/* A client-config lookup waiting for the backend thread. */
struct lookup
{
    struct ovp_defer_req *req; /* username and who; data holds a reference to the ccdefer */
    struct lookup *next;
};

struct server
{
    int64_t down_until_ms; /* 0: not known down */
    unsigned fails;
};

struct al_backend
{
    const struct al_conf *conf;
    struct ovp_defer *d;
    struct ovp_log *log;
    int wake_fd;
    atomic_int stop;
    atomic_int all_down;
    atomic_int asleep; /* the thread is (about to be) in poll: a submit must wake it */
    struct ovp_thread *thread;
    int started;

    struct server *servers;
    int cur; /* server the connections go to */
    struct conn search;
    struct conn *binds;
    struct job *jobs; /* every request this thread holds */
    int need_memberof;
    struct al_cache *cache; /* CacheTTL / NegativeCacheTTL, else NULL */
    struct pollfd *pfd;     /* wake-up, search and bind connections */
    char *user_attrs[4];    /* what the user search returns */
    int group_cc;           /* a <Group> has Push lines: groups are looked up for it */
    void (*on_allow)(void *arg, struct ovp_defer_req *req, const char *ccfg);
    void *on_allow_arg;
    /* client-config lookups from OpenVPN's thread, under lk_mu */
    pthread_mutex_t lk_mu;
    struct lookup *lk_head, **lk_tail;
    size_t lk_n;
    int lk_closed;
};

static void finish(struct al_backend *b, struct job *j, int verdict, const char *reason);

/* ------------------------------------------------------------- servers */

static void
conn_close(struct conn *c)
{
    if (c->ld)
    {
        ldap_unbind_ext(c->ld, NULL, NULL);
    }
    c->ld = NULL;
    c->fd = -1;
    c->busy = 0;
}

/* Answers TEMP to every job with an operation on C, then closes C. */
static void
conn_fail(struct al_backend *b, struct conn *c, const char *reason)
{
    struct job *j, *next;
    for (j = b->jobs; j; j = next)
    {
        next = j->next;
        if (j->conn == c && j->stage != ST_WAIT_BIND)
        {
            finish(b, j, OVP_TEMP, reason);
        }
    }
    conn_close(c);
}

/* Server S failed: back it off, and drop every connection to it. */
static void
server_down(struct al_backend *b, int s, const char *why)
{
    struct server *sv = &b->servers[s];
    int64_t backoff = 1000;
    const char *reason = "TEMP: the directory server is unreachable, try again";

    for (unsigned i = 0; i < sv->fails && backoff < b->conf->retry_max_s * 1000; i++)
    {
        backoff *= 2;
    }
    if (backoff > b->conf->retry_max_s * 1000)
    {
        backoff = b->conf->retry_max_s * 1000;
    }
    if (sv->down_until_ms <= ovp_now_ms())
    {
        /* Counted once per outage: other connections to it fail alike. */
        sv->fails++;
        sv->down_until_ms = ovp_now_ms() + backoff;
        ovp_warn(b->log, "LDAP server %s: %s; not tried again for %lld ms", b->conf->urls[s],
                 why, (long long)backoff);
    }
    if (b->search.ld && b->search.server == s)
    {
        conn_fail(b, &b->search, reason);
    }
    for (long i = 0; i < b->conf->bind_conns; i++)
    {
        if (b->binds[i].ld && b->binds[i].server == s)
        {
            conn_fail(b, &b->binds[i], reason);
        }
    }
}

/* The first server not in its backoff, or -1 (the circuit breaker is open). */
static int
pick_server(struct al_backend *b)
{
    int64_t now = ovp_now_ms();
    for (size_t i = 0; i < b->conf->n_urls; i++)
    {
        if (b->servers[i].down_until_ms <= now)
        {
            return (int)i;
        }
    }
    return -1;
}

/* Sets an option, logging a failure. Returns 0 or -1. */
static int
set_opt(struct al_backend *b, LDAP *ld, int opt, const void *val, const char *what)
{
    int rc = ldap_set_option(ld, opt, val);
    if (rc != LDAP_OPT_SUCCESS)
    {
        ovp_err(b->log, "cannot set the LDAP option %s: %s", what, ldap_err2string(rc));
        return -1;
    }
    return 0;
}

/* The connection's own diagnostic (for TLS failures), or "". */
static void
diag_of(LDAP *ld, char *buf, size_t len)
{
    char *msg = NULL;
    buf[0] = '\0';
    if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg)
    {
        /* GnuTLS builds of libldap often say only "(unknown error code)". */
        if (strcmp(msg, "(unknown error code)") != 0 && msg[0])
        {
            snprintf(buf, len, " (%s)", msg);
        }
        ldap_memfree(msg);
    }
}

/*
 * The TLS version the connection negotiated is at least TLSMinVersion. Why check
 * after the handshake: libldap built with GnuTLS (Debian's) ignores
 * LDAP_OPT_X_TLS_PROTOCOL_MIN, so the option alone would let a TLS 1.0 server
 * through; nothing has been sent over the connection yet. Returns 0, or -1 with WHY.
 */
static int
tls_version_ok(const struct al_conf *cf, LDAP *ld, char *why, size_t wl)
{
    static const char *const names[] = {"1.0", "1.1", "1.2", "1.3"};
    char *v = NULL;
    const char *p;
    int minor = -1;

    if (ldap_get_option(ld, LDAP_OPT_X_TLS_VERSION, &v) != LDAP_OPT_SUCCESS || !v)
    {
        snprintf(why, wl, "cannot tell which TLS version was negotiated: refused");
        return -1;
    }
    /* "TLS1.2" (GnuTLS) or "TLSv1.3" (OpenSSL); "SSL3.0" and unknown names are too old. */
    p = strstr(v, "1.");
    if (strncasecmp(v, "TLS", 3) == 0 && p && p[2] >= '0' && p[2] <= '9')
    {
        minor = p[2] - '0';
    }
    if (minor < cf->tls_min)
    {
        snprintf(why, wl,
                 "the server negotiated %.16s, below TLSMinVersion %s: refused before any "
                 "bind",
                 v, names[cf->tls_min]);
        ldap_memfree(v);
        return -1;
    }
    ldap_memfree(v);
    return 0;
}

/*
 * Opens C to server S: options, TCP (and TLS for ldaps://), StartTLS when
 * TLSEnable, and for the search connection the service bind. Synchronous, each
 * step bounded by Timeout. Returns 0, or -1 with WHY set.
 */
static int
conn_open_to(struct al_backend *b, struct conn *c, int s, int service, char *why, size_t wl)
{
    const struct al_conf *cf = b->conf;
    const char *url = cf->urls[s];
    int ldaps = strncasecmp(url, "ldaps://", 8) == 0;
    int v3 = LDAP_VERSION3, zero = 0, rc;
    struct timeval tv = {cf->timeout_s, 0};
    static const int reqcert[] = {LDAP_OPT_X_TLS_NEVER, LDAP_OPT_X_TLS_ALLOW,
                                  LDAP_OPT_X_TLS_TRY, LDAP_OPT_X_TLS_DEMAND};
    static const int tlsmin[] = {LDAP_OPT_X_TLS_PROTOCOL_TLS1_0, LDAP_OPT_X_TLS_PROTOCOL_TLS1_1,
                                 LDAP_OPT_X_TLS_PROTOCOL_TLS1_2,
                                 LDAP_OPT_X_TLS_PROTOCOL_TLS1_3};
    char d[300];
    LDAP *ld = NULL;

    rc = ldap_initialize(&ld, url);
    if (rc != LDAP_SUCCESS || !ld)
    {
        snprintf(why, wl, "ldap_initialize: %s", ldap_err2string(rc));
        return -1;
    }
    if (set_opt(b, ld, LDAP_OPT_PROTOCOL_VERSION, &v3, "protocol version") < 0 ||
        set_opt(b, ld, LDAP_OPT_NETWORK_TIMEOUT, &tv, "network timeout") < 0 ||
        set_opt(b, ld, LDAP_OPT_TIMEOUT, &tv, "timeout") < 0 ||
        set_opt(b, ld, LDAP_OPT_REFERRALS, cf->follow_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF,
                "referrals") < 0)
    {
        snprintf(why, wl, "cannot set the connection's options");
        goto fail;
    }
    if (ldaps || cf->tls_enable)
    {
        /* Per connection, then a fresh TLS context built from them. */
        if (set_opt(b, ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &reqcert[cf->tls_verify], "TLSVerify") <
                0 ||
            set_opt(b, ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tlsmin[cf->tls_min], "TLSMinVersion") <
                0 ||
            (cf->ca_file &&
             set_opt(b, ld, LDAP_OPT_X_TLS_CACERTFILE, cf->ca_file, "TLSCACertFile") < 0) ||
            (cf->ca_dir &&
             set_opt(b, ld, LDAP_OPT_X_TLS_CACERTDIR, cf->ca_dir, "TLSCACertDir") < 0) ||
            (cf->cert_file &&
             set_opt(b, ld, LDAP_OPT_X_TLS_CERTFILE, cf->cert_file, "TLSCertFile") < 0) ||
            (cf->key_file &&
             set_opt(b, ld, LDAP_OPT_X_TLS_KEYFILE, cf->key_file, "TLSKeyFile") < 0) ||
            (cf->cipher_suite && set_opt(b, ld, LDAP_OPT_X_TLS_CIPHER_SUITE, cf->cipher_suite,
                                         "TLSCipherSuite") < 0) ||
            set_opt(b, ld, LDAP_OPT_X_TLS_NEWCTX, &zero, "TLS context") < 0)
        {
            snprintf(why, wl, "the TLS settings were refused by libldap");
            goto fail;
        }
    }
    rc = ldap_connect(ld);
    if (rc != LDAP_SUCCESS)
    {
        diag_of(ld, d, sizeof(d));
        snprintf(why, wl, "cannot connect: %s%s%s", ldap_err2string(rc), d,
                 ldaps ? " (or the TLS handshake failed: is the certificate signed by "
                         "TLSCACertFile, does it name the host of the URL, does the server "
                         "speak TLSMinVersion?)"
                       : "");
        goto fail;
    }
    if (!ldaps && cf->tls_enable)
    {
        /* Why here: nothing, least of all a bind, goes out before TLS is up. */
        rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS)
        {
            diag_of(ld, d, sizeof(d));
            snprintf(why, wl,
                     "StartTLS failed: %s%s (is the certificate signed by TLSCACertFile, and "
                     "does it name the host of the URL? does it speak TLSMinVersion?)",
                     ldap_err2string(rc), d);
            goto fail;
        }
    }
    if ((ldaps || cf->tls_enable) && tls_version_ok(cf, ld, why, wl) < 0)
    {
        goto fail;
    }
    if (service && cf->bind_dn)
    {
        struct berval cred = {0, NULL};
        char *msg = NULL;
        if (cf->password)
        {
            cred.bv_val = cf->password;
            cred.bv_len = strlen(cf->password);
        }
        rc = ldap_sasl_bind_s(ld, cf->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
        if (rc != LDAP_SUCCESS)
        {
            if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS &&
                msg)
            {
                snprintf(d, sizeof(d), " (%s)", msg);
                ldap_memfree(msg);
            }
            else
            {
                d[0] = '\0';
            }
            snprintf(why, wl, "the service bind as \"%s\" failed: %s%s", cf->bind_dn,
                     ldap_err2string(rc), d);
            goto fail;
        }
    }
    if (ldap_get_option(ld, LDAP_OPT_DESC, &c->fd) != LDAP_OPT_SUCCESS || c->fd < 0)
    {
        snprintf(why, wl, "no socket after connecting");
        goto fail;
    }
    c->ld = ld;
    c->server = s;
    c->busy = 0;
    return 0;

fail:
    ldap_unbind_ext(ld, NULL, NULL);
    return -1;
}

/*
 * Makes sure C is open to the current server, failing over down the URL list.
 * Returns 0, or -1 when every server is down (the breaker opens).
 */
static int
conn_ensure(struct al_backend *b, struct conn *c, int service)
{
    char why[512];
    int s;

    if (c->ld && c->server == b->cur && b->servers[b->cur].down_until_ms == 0)
    {
        return 0;
    }
    if (c->ld)
    {
        conn_fail(b, c, "TEMP: the directory connection was reset, try again");
    }
    while ((s = pick_server(b)) >= 0)
    {
        if (conn_open_to(b, c, s, service, why, sizeof(why)) == 0)
        {
            if (b->servers[s].fails > 0 || s != b->cur)
            {
                ovp_note(b->log, "LDAP server %s: connected", b->conf->urls[s]);
            }
            b->servers[s].fails = 0;
            b->servers[s].down_until_ms = 0;
            if (s != b->cur)
            {
                /* Every connection follows: close those still open to another server. */
                int old = b->cur;
                b->cur = s;
                if (b->search.ld && b->search.server == old && c != &b->search)
                {
                    conn_fail(b, &b->search, "TEMP: the directory changed, try again");
                }
                for (long i = 0; i < b->conf->bind_conns; i++)
                {
                    if (b->binds[i].ld && b->binds[i].server != s && c != &b->binds[i] &&
                        !b->binds[i].busy)
                    {
                        conn_close(&b->binds[i]);
                    }
                }
            }
            return 0;
        }
        server_down(b, s, why);
    }
    atomic_store(&b->all_down, 1);
    ovp_err(b->log, "every LDAP server is down: clients get a temporary failure at once until "
                    "the next retry");
    return -1;
}

/* ---------------------------------------------------------------- jobs */

/* Most DNs one NestedGroups search follows for one client (a bound on the work). */
#define AL_NEST_MAX 256

static void
set_clear(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++)
    {
        free(s->v[i]);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int
set_has(const struct strset *s, const char *dn)
{
    for (size_t i = 0; i < s->n; i++)
    {
        if (strcasecmp(s->v[i], dn) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* Adds a copy of DN. Returns 0, or -1 (out of memory). */
static int
set_add(struct strset *s, const char *dn)
{
    char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v)
    {
        return -1;
    }
    s->v = v;
    if (!(v[s->n] = strdup(dn)))
    {
        return -1;
    }
    s->n++;
    return 0;
}

static void
job_free(struct job *j)
{
    for (size_t i = 0; i < j->n_push; i++)
    {
        free(j->push[i]);
    }
    free(j->push);
    free(j->ifconfig);
    set_clear(&j->front);
    set_clear(&j->upnext);
    set_clear(&j->seen);
    for (size_t i = 0; i < j->n_memberof; i++)
    {
        free(j->memberof[i]);
    }
    free(j->memberof);
    free(j->dn);
    free(j->ccfg);
    free(j);
}

/* A lookup's reason for its log line: the client-facing "TEMP: " and "try again" left out. */
static void
lookup_reason(char *buf, size_t len, int verdict, const char *reason)
{
    static const char af[] = "authentication failed";
    const char *r = reason && reason[0] ? reason : af;
    const char *cut;
    int n;

    if (strncmp(r, "TEMP", 4) == 0 || strncmp(r, af, sizeof(af) - 1) == 0)
    {
        const char *colon = strchr(r, ':');
        r = colon ? colon + 1 : "the user was not found, or is not allowed";
        r += strspn(r, " ");
    }
    cut = strstr(r, ", try again");
    n = cut ? (int)(cut - r) : (int)strlen(r);
    snprintf(buf, len, "%s%.*s", verdict == OVP_TEMP ? "client config lookup: " : "", n, r);
}

/* Answers J's request and forgets J. */
static void
finish(struct al_backend *b, struct job *j, int verdict, const char *reason)
{
    struct job **pp;
    for (pp = &b->jobs; *pp; pp = &(*pp)->next)
    {
        if (*pp == j)
        {
            *pp = j->next;
            break;
        }
    }
    if (j->stage == ST_BIND && j->conn)
    {
        j->conn->busy = 0;
    }
    if (j->ccd)
    {
        char why[OVP_REASON_MAX];
        lookup_reason(why, sizeof(why), verdict, reason);
        ovp_ccdefer_finish(j->ccd, verdict, j->ccfg, verdict == OVP_ALLOW ? NULL : why);
        ovp_defer_req_free(j->req); /* drops the lookup's reference */
        job_free(j);
        return;
    }
    if (b->cache && !j->cached && (verdict == OVP_ALLOW || verdict == OVP_DENY))
    {
        al_cache_put(b->cache, j->req->username, j->req->password, verdict == OVP_ALLOW,
                     verdict == OVP_ALLOW ? b->conf->cache_ttl_ms : b->conf->neg_cache_ttl_ms,
                     ovp_now_ms());
    }
    ovp_defer_finish(b->d, j->req, verdict, reason);
    job_free(j);
}

static void deny(struct al_backend *b, struct job *j, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A plain failure: log why (the client sees only REASON or a generic text). */
static void
deny(struct al_backend *b, struct job *j, const char *reason, const char *fmt, ...)
{
    char line[OVP_LOG_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ovp_logf_client(b->log, &j->req->who, PLOG_NOTE, "%s", line);
    finish(b, j, OVP_DENY, reason ? reason : "authentication failed");
}

/* The directory could not answer: log why (with the server's diagnostic DIAG, if any:
 * Active Directory explains its "Operations error" there), the client gets TEMP. */
static void
temp(struct al_backend *b, struct job *j, const char *what, int rc, const char *diag)
{
    int d = diag && diag[0];

    ovp_logf_client(b->log, &j->req->who, PLOG_WARN, "LDAP %s failed: %s%s%s%s", what,
                    ldap_err2string(rc), d ? " (" : "", d ? diag : "", d ? ")" : "");
    finish(b, j, OVP_TEMP, "TEMP: the directory could not be asked, try again");
}

static void start_groups(struct al_backend *b, struct job *j);
static void allow_job(struct al_backend *b, struct job *j);

/* Sends a search for J on the search connection. Returns 0 or -1 (J answered). */
static int
send_search(struct al_backend *b, struct job *j, const char *base, const char *filter,
            int sizelimit, const char *what)
{
    static char none[] = LDAP_NO_ATTRS;
    static char *no_attrs[] = {none, NULL};
    struct timeval tv = {b->conf->timeout_s, 0};
    int rc;

    if (conn_ensure(b, &b->search, 1) < 0)
    {
        finish(b, j, OVP_TEMP, "TEMP: no directory server is reachable, try again later");
        return -1;
    }
    rc = ldap_search_ext(b->search.ld, base, LDAP_SCOPE_SUBTREE, filter,
                         j->stage == ST_SEARCH ? b->user_attrs : no_attrs, 0, NULL, NULL, &tv,
                         sizelimit, &j->msgid);
    if (rc != LDAP_SUCCESS)
    {
        if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)
        {
            server_down(b, b->search.server, ldap_err2string(rc));
        }
        temp(b, j, what, rc, NULL);
        return -1;
    }
    j->conn = &b->search;
    j->entries = 0;
    j->due_ms = ovp_now_ms() + b->conf->timeout_s * 1000;
    return 0;
}

static void
start_job(struct al_backend *b, struct job *j)
{
    char *filter;

    if (b->cache && !j->ccd)
    {
        int v = al_cache_get(b->cache, j->req->username, j->req->password, ovp_now_ms());
        if (v >= 0)
        {
            j->cached = 1;
            ovp_logf_client(b->log, &j->req->who, PLOG_NOTE,
                            "answered from the cache (the same username and password were "
                            "%s less than %s ago)",
                            v ? "accepted" : "refused", v ? "CacheTTL" : "NegativeCacheTTL");
            finish(b, j, v ? OVP_ALLOW : OVP_DENY, NULL);
            return;
        }
    }
    if (pick_server(b) < 0)
    {
        atomic_store(&b->all_down, 1);
        finish(b, j, OVP_TEMP, "TEMP: no directory server is reachable, try again later");
        return;
    }
    filter = al_filter_subst(b->conf->search_filter, j->req->username);
    if (!filter)
    {
        finish(b, j, OVP_TEMP, "TEMP: out of memory");
        return;
    }
    j->stage = ST_SEARCH;
    /* Size limit 2: one entry is the answer; a second one is enough to refuse. */
    send_search(b, j, b->conf->base_dn, filter, 2, "user search");
    free(filter);
}

/* Sends J's bind if a bind connection is free; else J waits. */
static void
try_bind(struct al_backend *b, struct job *j)
{
    struct berval cred;
    struct conn *c = NULL;
    int rc;

    j->stage = ST_WAIT_BIND;
    j->conn = NULL;
    for (long i = 0; i < b->conf->bind_conns; i++)
    {
        if (!b->binds[i].busy)
        {
            c = &b->binds[i];
            break;
        }
    }
    if (!c)
    {
        return; /* a finished bind picks it up (next_binds) */
    }
    if (conn_ensure(b, c, 0) < 0)
    {
        finish(b, j, OVP_TEMP, "TEMP: no directory server is reachable, try again later");
        return;
    }
    /* Borrowed: the engine wipes the password when the request is freed. */
    cred.bv_val = j->req->password;
    cred.bv_len = strlen(j->req->password);
    rc = ldap_sasl_bind(c->ld, j->dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, &j->msgid);
    if (rc != LDAP_SUCCESS)
    {
        if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)
        {
            conn_close(c);
        }
        temp(b, j, "user bind", rc, NULL);
        return;
    }
    c->busy = 1;
    j->stage = ST_BIND;
    j->conn = c;
    j->due_ms = ovp_now_ms() + b->conf->timeout_s * 1000;
}

/* Gives free bind connections to waiting jobs, oldest first. */
static void
next_binds(struct al_backend *b)
{
    struct job *j, *next;
    int free_conns = 0;

    for (long i = 0; i < b->conf->bind_conns; i++)
    {
        free_conns += !b->binds[i].busy;
    }
    for (j = b->jobs; j && free_conns > 0; j = next)
    {
        next = j->next;
        if (j->stage == ST_WAIT_BIND)
        {
            try_bind(b, j);
            free_conns--;
        }
    }
}

static int
is_memberof(const struct al_group *g)
{
    return strcasecmp(g->member_attr, "memberOf") == 0;
}

/* Asks whether group J->gi holds the user (or, nested, one of the frontier's groups). */
static void
send_group_check(struct al_backend *b, struct job *j)
{
    static const char in_chain[] = "1.2.840.113556.1.4.1941";
    const struct al_group *g = &b->conf->groups[j->gi];
    char *filter, *tmpl;
    const char *value = g->rfc2307bis ? j->dn : j->req->username;

    j->stage = ST_GROUP;
    j->member = 0;
    /* A %u in the group filter is the escaped username, as in the user filter. */
    tmpl = al_filter_subst(g->filter, j->req->username);
    if (!tmpl)
    {
        filter = NULL;
    }
    else if (is_memberof(g))
    {
        /* The groups themselves; each DN found is looked up in the user's memberOf. */
        filter = tmpl;
        tmpl = NULL;
    }
    else if (g->nested == AL_NEST_AD)
    {
        filter = al_member_filter_any(tmpl, g->member_attr, in_chain, &value, 1);
    }
    else if (j->level > 0)
    {
        filter = al_member_filter_any(tmpl, g->member_attr, NULL,
                                      (const char *const *)j->front.v, j->front.n);
    }
    else
    {
        /* RFC2307bis: members are DNs (escaped: a DN may hold '*', '(' ...). */
        filter = al_member_filter(tmpl, g->member_attr, value);
    }
    free(tmpl);
    if (!filter)
    {
        finish(b, j, OVP_TEMP, "TEMP: out of memory");
        return;
    }
    send_search(b, j, g->base_dn, filter, is_memberof(g) ? 0 : 1, "group search");
    free(filter);
}

/* Starts on group J->gi (or answers when there is none left). */
static void
check_group(struct al_backend *b, struct job *j)
{
    if (j->gi >= b->conf->n_groups && !b->conf->require_group)
    {
        allow_job(b, j); /* groups asked only for their Push lines */
        return;
    }
    if (j->gi >= b->conf->n_groups)
    {
        deny(b, j, "authentication failed: not in a required group",
             "user \"%s\" is in none of the <Group> blocks and RequireGroup is true", j->dn);
        return;
    }
    set_clear(&j->front);
    set_clear(&j->upnext);
    set_clear(&j->seen);
    j->level = 0;
    if (b->conf->groups[j->gi].nested == AL_NEST_SEARCH &&
        (set_add(&j->front, j->dn) < 0 || set_add(&j->seen, j->dn) < 0))
    {
        finish(b, j, OVP_TEMP, "TEMP: out of memory");
        return;
    }
    send_group_check(b, j);
}

/*
 * NestedGroups search: the groups (any, under the group BaseDN) that list one of
 * the frontier's DNs; those not seen yet are the next frontier.
 */
static void
send_nest(struct al_backend *b, struct job *j)
{
    const struct al_group *g = &b->conf->groups[j->gi];
    char *filter = al_member_filter_any(NULL, g->member_attr, NULL,
                                        (const char *const *)j->front.v, j->front.n);
    if (!filter)
    {
        finish(b, j, OVP_TEMP, "TEMP: out of memory");
        return;
    }
    j->stage = ST_NEST;
    send_search(b, j, g->base_dn, filter, AL_NEST_MAX, "nested group search");
    free(filter);
}

/* SRC for a log line, at most 100 bytes, control bytes shown as '?'. */
static const char *
clean(const char *src, char *buf, size_t len)
{
    size_t i;
    for (i = 0; src[i] && i + 1 < len && i < 100; i++)
    {
        unsigned char c = (unsigned char)src[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

/*
 * Builds J's client config (PushAttribute, IfconfigPushAttribute, the Push lines of
 * the <Group> it was found in) into C. Returns 0, or -1 with WHY set: a value that
 * is not a safe option refuses the client (fail closed) rather than connecting it
 * without the configuration the directory meant it to have.
 */
static int
build_ccfg(struct al_backend *b, struct job *j, struct ovp_ccfg *c, char *why, size_t wl)
{
    for (size_t i = 0; i < j->n_push; i++)
    {
        if (strpbrk(j->push[i], "\"\\") || ovp_ccfg_addf(c, "push \"%s\"", j->push[i]) < 0)
        {
            char shown_value[128];
            snprintf(why, wl,
                     "%s value \"%s\" cannot be pushed (quotes, backslashes or control "
                     "characters)",
                     b->conf->push_attr, clean(j->push[i], shown_value, sizeof(shown_value)));
            return -1;
        }
    }
    if (j->ifconfig)
    {
        char addr[64], mask[64], extra[2];
        struct in_addr a, m;
        int n = sscanf(j->ifconfig, "%63s %63s %1s", addr, mask, extra);
        if (n != 2 || inet_pton(AF_INET, addr, &a) != 1 || inet_pton(AF_INET, mask, &m) != 1 ||
            ovp_ccfg_addf(c, "ifconfig-push %s %s", addr, mask) < 0)
        {
            char shown_value[128];
            snprintf(why, wl, "%s value \"%s\" is not \"IPv4-address netmask\"",
                     b->conf->ifconfig_attr,
                     clean(j->ifconfig, shown_value, sizeof(shown_value)));
            return -1;
        }
    }
    if (j->group_hit > 0)
    {
        const struct ovp_strv *p = &b->conf->groups[j->group_hit - 1].push;
        for (size_t i = 0; i < p->n; i++)
        {
            if (ovp_ccfg_addf(c, "push \"%s\"", p->v[i]) < 0)
            {
                snprintf(why, wl, "<Group> %zu Push line too long", j->group_hit);
                return -1;
            }
        }
    }
    return 0;
}

/* J is authenticated (and authorized): its client config goes first, then the answer. */
static void
allow_job(struct al_backend *b, struct job *j)
{
    struct ovp_ccfg c = {0};
    char why[256];

    if (j->ccd)
    {
        /* A lookup: the directives go to client-connect through the ccdefer. */
        if (build_ccfg(b, j, &c, why, sizeof(why)) < 0)
        {
            ovp_ccfg_clear(&c);
            deny(b, j, "the directory's client configuration is invalid", "user \"%s\": %s",
                 j->dn, why);
            return;
        }
        if (c.buf && !(j->ccfg = strdup(c.buf)))
        {
            ovp_ccfg_clear(&c);
            finish(b, j, OVP_TEMP, "TEMP: out of memory");
            return;
        }
        ovp_ccfg_clear(&c);
    }
    else if (b->on_allow && b->conf->client_config)
    {
        if (build_ccfg(b, j, &c, why, sizeof(why)) < 0)
        {
            ovp_ccfg_clear(&c);
            deny(b, j, "authentication failed: the directory's client configuration is invalid",
                 "user \"%s\": %s", j->dn, why);
            return;
        }
        /* Before the answer: OpenVPN asks for the config once it has seen success. */
        b->on_allow(b->on_allow_arg, j->req, c.buf ? c.buf : "");
        ovp_ccfg_clear(&c);
    }
    finish(b, j, OVP_ALLOW, NULL);
}

static void
start_groups(struct al_backend *b, struct job *j)
{
    if (!b->conf->require_group && !b->group_cc)
    {
        allow_job(b, j);
        return;
    }
    j->gi = 0;
    check_group(b, j);
}

/* One search entry for J. */
static void
on_entry(struct al_backend *b, struct job *j, LDAP *ld, LDAPMessage *msg)
{
    char *dn = ldap_get_dn(ld, msg);

    j->entries++;
    if (j->stage == ST_SEARCH && j->entries == 1 && dn)
    {
        j->dn = strdup(dn);
        if (b->conf->push_attr)
        {
            struct berval **vals = ldap_get_values_len(ld, msg, b->conf->push_attr);
            size_t n = vals ? (size_t)ldap_count_values_len(vals) : 0;
            j->push = n ? calloc(n, sizeof(char *)) : NULL;
            for (size_t i = 0; j->push && i < n; i++)
            {
                j->push[i] = strndup(vals[i]->bv_val, vals[i]->bv_len);
                j->n_push += j->push[i] != NULL;
            }
            ldap_value_free_len(vals);
        }
        if (b->conf->ifconfig_attr)
        {
            struct berval **vals = ldap_get_values_len(ld, msg, b->conf->ifconfig_attr);
            if (vals && vals[0])
            {
                j->ifconfig = strndup(vals[0]->bv_val, vals[0]->bv_len);
            }
            ldap_value_free_len(vals);
        }
        if (b->need_memberof)
        {
            struct berval **vals = ldap_get_values_len(ld, msg, "memberOf");
            size_t n = vals ? (size_t)ldap_count_values_len(vals) : 0;
            j->memberof = n ? calloc(n, sizeof(char *)) : NULL;
            for (size_t i = 0; j->memberof && i < n; i++)
            {
                j->memberof[i] = strndup(vals[i]->bv_val, vals[i]->bv_len);
                j->n_memberof += j->memberof[i] != NULL;
            }
            ldap_value_free_len(vals);
        }
    }
    else if (j->stage == ST_NEST && dn)
    {
        if (!set_has(&j->seen, dn) && j->seen.n < AL_NEST_MAX)
        {
            if (set_add(&j->seen, dn) < 0 || set_add(&j->upnext, dn) < 0)
            {
                j->member = -1; /* out of memory: TEMP at the end of the search */
            }
        }
    }
    else if (j->stage == ST_GROUP && dn)
    {
        if (!is_memberof(&b->conf->groups[j->gi]))
        {
            j->member = 1;
        }
        else
        {
            for (size_t i = 0; i < j->n_memberof; i++)
            {
                if (j->memberof[i] && strcasecmp(j->memberof[i], dn) == 0)
                {
                    j->member = 1;
                }
            }
        }
    }
    ldap_memfree(dn);
}

/*
 * The client's username for a log line: control bytes (a forged line break) shown as
 * '?'. OpenVPN replaces them before the call already; this does not rely on it.
 */
static const char *
shown(const struct job *j, char *buf)
{
    size_t i;
    for (i = 0; j->req->username[i] && i + 1 < 128; i++)
    {
        unsigned char c = (unsigned char)j->req->username[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

/* The end of J's operation: RC and the server's diagnostic DIAG. */
static void
on_done(struct al_backend *b, struct job *j, int rc, const char *diag)
{
    char name[128];

    if (j->stage == ST_SEARCH)
    {
        if (rc == LDAP_REFERRAL)
        {
            /* With FollowReferrals on, libldap chased it and the chase failed. */
            ovp_logf_client(b->log, &j->req->who, PLOG_WARN,
                            "LDAP user search failed: the server answered with a referral, %s",
                            b->conf->follow_referrals
                                ? "which could not be followed (is the server it names up?)"
                                : "and FollowReferrals is off");
            finish(b, j, OVP_TEMP, "TEMP: the directory could not be asked, try again");
        }
        else if (rc != LDAP_SUCCESS && !(rc == LDAP_SIZELIMIT_EXCEEDED && j->entries > 1))
        {
            temp(b, j, "user search", rc, diag);
        }
        else if (j->entries == 0)
        {
            deny(b, j, NULL, "user \"%s\" not found in the directory", shown(j, name));
        }
        else if (j->entries == 1 && !j->dn)
        {
            finish(b, j, OVP_TEMP, "TEMP: out of memory");
        }
        else if (j->entries == 1 && !j->dn[0])
        {
            /* A bind with an empty DN is no proof of anything (RFC 4513 5.1.2). */
            deny(b, j, NULL, "the search for user \"%s\" found an entry with an empty DN",
                 shown(j, name));
        }
        else if (j->entries > 1)
        {
            deny(b, j, NULL,
                 "the search for user \"%s\" matched more than one entry: refused (fail "
                 "closed; make SearchFilter match one entry per user)",
                 shown(j, name));
        }
        else if (j->ccd)
        {
            /* A lookup: the session was authenticated already; no bind, groups next. */
            ovp_logf_client(b->log, &j->req->who, PLOG_DEBUG,
                            "client config lookup: user \"%s\" found", j->dn);
            start_groups(b, j);
        }
        else
        {
            try_bind(b, j);
        }
        return;
    }
    if (j->stage == ST_BIND)
    {
        struct conn *c = j->conn;
        c->busy = 0;
        j->conn = NULL;
        if (rc == LDAP_SUCCESS)
        {
            ovp_logf_client(b->log, &j->req->who, PLOG_DEBUG, "bind as \"%s\" succeeded",
                            j->dn);
            start_groups(b, j);
        }
        else if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_UNWILLING_TO_PERFORM ||
                 rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_CONSTRAINT_VIOLATION)
        {
            const char *ad = al_ad_reason(diag);
            char reason[OVP_REASON_MAX];
            snprintf(reason, sizeof(reason), "authentication failed%s%s", ad ? ": " : "",
                     ad ? ad : "");
            ovp_logf_client(b->log, &j->req->who, PLOG_NOTE, "bind as \"%s\" refused: %s%s%s%s",
                            j->dn, ldap_err2string(rc), diag && diag[0] ? " (" : "",
                            diag ? diag : "", diag && diag[0] ? ")" : "");
            finish(b, j, OVP_DENY, reason);
        }
        else
        {
            temp(b, j, "user bind", rc, diag);
        }
        next_binds(b);
        return;
    }
    if (j->stage == ST_GROUP)
    {
        if (rc != LDAP_SUCCESS && !(rc == LDAP_SIZELIMIT_EXCEEDED && j->member))
        {
            temp(b, j, "group search", rc, diag);
        }
        else if (j->member)
        {
            ovp_logf_client(b->log, &j->req->who, PLOG_DEBUG, "member of <Group> %zu (%s)",
                            j->gi + 1, b->conf->groups[j->gi].base_dn);
            j->group_hit = j->gi + 1;
            allow_job(b, j);
        }
        else if (b->conf->groups[j->gi].nested == AL_NEST_SEARCH &&
                 j->level < b->conf->groups[j->gi].nested_depth && j->front.n > 0)
        {
            send_nest(b, j);
        }
        else
        {
            j->gi++;
            check_group(b, j);
        }
        return;
    }
    if (j->stage == ST_NEST)
    {
        if (j->member < 0)
        {
            finish(b, j, OVP_TEMP, "TEMP: out of memory");
        }
        else if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED)
        {
            temp(b, j, "nested group search", rc, diag);
        }
        else
        {
            /* One level up: the groups found are asked about next. */
            set_clear(&j->front);
            j->front = j->upnext;
            j->upnext.v = NULL;
            j->upnext.n = 0;
            j->level++;
            if (j->front.n == 0)
            {
                j->gi++;
                check_group(b, j);
            }
            else
            {
                send_group_check(b, j);
            }
        }
    }
}

static struct job *
job_by_msgid(struct al_backend *b, struct conn *c, int msgid)
{
    for (struct job *j = b->jobs; j; j = j->next)
    {
        if (j->conn == c && j->msgid == msgid && j->stage != ST_WAIT_BIND)
        {
            return j;
        }
    }
    return NULL;
}

/* Reads every message waiting on C, without blocking. */
static void
drain(struct al_backend *b, struct conn *c)
{
    struct timeval zero = {0, 0};

    while (c->ld)
    {
        LDAPMessage *msg = NULL;
        int type = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &msg);
        struct job *j;

        if (type == 0)
        {
            return;
        }
        if (type < 0)
        {
            int rc = LDAP_SERVER_DOWN, busy = 0;
            ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &rc);
            ldap_msgfree(msg);
            for (j = b->jobs; j; j = j->next)
            {
                busy |= j->conn == c && j->stage != ST_WAIT_BIND;
            }
            if (!busy)
            {
                /*
                 * An idle connection closed (a server's idle timeout, or a restart):
                 * not a failure yet; the next request reconnects, failing over then.
                 */
                ovp_debug(b->log, "LDAP server %s closed an idle connection (%s)",
                          b->conf->urls[c->server], ldap_err2string(rc));
                conn_close(c);
                return;
            }
            server_down(b, c->server, ldap_err2string(rc));
            return;
        }
        j = job_by_msgid(b, c, ldap_msgid(msg));
        if (!j)
        {
            ldap_msgfree(msg); /* an abandoned operation's late answer */
            continue;
        }
        if (type == LDAP_RES_SEARCH_ENTRY)
        {
            on_entry(b, j, c->ld, msg);
        }
        else if (type == LDAP_RES_SEARCH_RESULT || type == LDAP_RES_BIND)
        {
            int rc = LDAP_OTHER;
            char *diag = NULL;
            if (ldap_parse_result(c->ld, msg, &rc, NULL, &diag, NULL, NULL, 0) != LDAP_SUCCESS)
            {
                rc = LDAP_OTHER;
            }
            on_done(b, j, rc, diag);
            ldap_memfree(diag);
        }
        /* LDAP_RES_SEARCH_REFERENCE: continuation references are not followed here. */
        ldap_msgfree(msg);
    }
}

/* Operations past their deadline: abandoned, the server counted down. */
static void
expire(struct al_backend *b)
{
    int64_t now = ovp_now_ms();
    for (struct job *j = b->jobs; j; j = j->next)
    {
        if (j->stage != ST_WAIT_BIND && j->conn && j->due_ms <= now)
        {
            char why[64];
            snprintf(why, sizeof(why), "no answer within %ld s", b->conf->timeout_s);
            ldap_abandon_ext(j->conn->ld, j->msgid, NULL, NULL);
            /* Fails J and every other job on that server's connections. */
            server_down(b, j->conn->server, why);
            expire(b);
            return;
        }
    }
}

/* Takes every submitted request. Returns how many. */
static int
take_all(struct al_backend *b)
{
    struct ovp_defer_req *req;
    int n = 0;
    while ((req = ovp_defer_take(b->d, 0)) != NULL)
    {
        n++;
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
        {
            ovp_defer_finish(b->d, req, OVP_TEMP, "TEMP: out of memory");
            continue;
        }
        j->req = req;
        j->msgid = -1;
        /* Appended: bind waiters are served oldest first. */
        {
            struct job **pp = &b->jobs;
            while (*pp)
            {
                pp = &(*pp)->next;
            }
            *pp = j;
        }
        start_job(b, j);
    }
    for (;;)
    {
        struct lookup *lk;
        struct job *j;
        pthread_mutex_lock(&b->lk_mu);
        lk = b->lk_head;
        if (lk)
        {
            b->lk_head = lk->next;
            if (!b->lk_head)
            {
                b->lk_tail = &b->lk_head;
            }
            b->lk_n--;
        }
        pthread_mutex_unlock(&b->lk_mu);
        if (!lk)
        {
            break;
        }
        n++;
        j = calloc(1, sizeof(*j));
        if (!j)
        {
            ovp_ccdefer_finish(lk->req->data, OVP_TEMP, NULL,
                               "client config lookup in the directory failed: out of memory");
            ovp_defer_req_free(lk->req);
            free(lk);
            continue;
        }
        j->req = lk->req;
        j->ccd = lk->req->data;
        j->msgid = -1;
        free(lk);
        {
            struct job **pp = &b->jobs;
            while (*pp)
            {
                pp = &(*pp)->next;
            }
            *pp = j;
        }
        start_job(b, j);
    }
    return n;
}

/* Answers every queued lookup TEMP (closing) and refuses new ones. */
static void
lookups_close(struct al_backend *b)
{
    struct lookup *lk;
    pthread_mutex_lock(&b->lk_mu);
    lk = b->lk_head;
    b->lk_head = NULL;
    b->lk_tail = &b->lk_head;
    b->lk_n = 0;
    b->lk_closed = 1;
    pthread_mutex_unlock(&b->lk_mu);
    while (lk)
    {
        struct lookup *next = lk->next;
        ovp_ccdefer_finish(lk->req->data, OVP_TEMP, NULL,
                           "client config lookup in the directory failed: server is reloading");
        ovp_defer_req_free(lk->req);
        free(lk);
        lk = next;
    }
}

static void *
backend_main(void *arg)
{
    struct al_backend *b = arg;
    struct pollfd *pfd = b->pfd;

    /*
     * Connections are opened when first needed, not here: OpenVPN drops its
     * privileges right after the plugins are opened, and glibc's setuid broadcast
     * interrupts this thread's system calls (a connection being opened then failed
     * with "Can't contact LDAP server").
     */
    while (!atomic_load(&b->stop))
    {
        uint64_t v;
        int64_t now, wait_ms = 1000;
        nfds_t n = 0;

        atomic_store(&b->asleep, 0);
        if (read(b->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        {
            ovp_logf(b->log, PLOG_ERR | PLOG_ERRNO, "LDAP backend: reading its wake-up");
        }
        take_all(b);
        next_binds(b);
        if (b->search.ld)
        {
            drain(b, &b->search);
        }
        for (long i = 0; i < b->conf->bind_conns; i++)
        {
            if (b->binds[i].ld)
            {
                drain(b, &b->binds[i]);
            }
        }
        expire(b);

        /* The circuit breaker closes when the soonest backoff ends. */
        now = ovp_now_ms();
        if (atomic_load(&b->all_down))
        {
            int64_t soonest = INT64_MAX;
            for (size_t i = 0; i < b->conf->n_urls; i++)
            {
                if (b->servers[i].down_until_ms < soonest)
                {
                    soonest = b->servers[i].down_until_ms;
                }
            }
            if (soonest <= now)
            {
                atomic_store(&b->all_down, 0);
            }
            else if (soonest - now < wait_ms)
            {
                wait_ms = soonest - now;
            }
        }
        for (struct job *j = b->jobs; j; j = j->next)
        {
            if (j->stage != ST_WAIT_BIND && j->conn)
            {
                int64_t left = j->due_ms - now;
                wait_ms = left < 0 ? 0 : (left < wait_ms ? left : wait_ms);
                /*
                 * A chased referral's answer comes on a connection libldap opened
                 * itself, whose socket is not polled here: look again soon.
                 */
                if (b->conf->follow_referrals && wait_ms > 20)
                {
                    wait_ms = 20;
                }
            }
        }
        pfd[n].fd = b->wake_fd;
        pfd[n++].events = POLLIN;
        if (b->search.ld)
        {
            pfd[n].fd = b->search.fd;
            pfd[n++].events = POLLIN;
        }
        for (long i = 0; i < b->conf->bind_conns; i++)
        {
            if (b->binds[i].ld)
            {
                pfd[n].fd = b->binds[i].fd;
                pfd[n++].events = POLLIN;
            }
        }
        /*
         * Why the flag: a wake-up is a write(2) on OpenVPN's thread, skipped while
         * this thread is busy. Set before the last look at the queue, so a request
         * submitted after that look finds it set and writes (no lost wake-up).
         */
        atomic_store(&b->asleep, 1);
        if (take_all(b) > 0)
        {
            atomic_store(&b->asleep, 0);
            continue;
        }
        if (poll(pfd, n, (int)wait_ms) < 0 && errno != EINTR)
        {
            ovp_logf(b->log, PLOG_ERR | PLOG_ERRNO, "LDAP backend: poll");
            usleep(10000);
        }
    }

    /* Closing: what we hold gets TEMP (the engine's close may have answered already). */
    lookups_close(b);
    while (b->jobs)
    {
        finish(b, b->jobs, OVP_TEMP, "TEMP: server is reloading, try again");
    }
    conn_close(&b->search);
    for (long i = 0; i < b->conf->bind_conns; i++)
    {
        conn_close(&b->binds[i]);
    }
    return NULL;
}

/* -------------------------------------------------------------- public */

struct al_backend *
al_backend_new(const struct al_conf *conf, struct ovp_defer *d, struct ovp_log *log, char *err,
               size_t errlen)
{
    struct al_backend *b = calloc(1, sizeof(*b));

    if (!b)
    {
        ovp_errf(err, errlen, "out of memory");
        return NULL;
    }
    b->conf = conf;
    b->d = d;
    b->log = log;
    pthread_mutex_init(&b->lk_mu, NULL);
    b->lk_tail = &b->lk_head;
    b->search.fd = -1;
    b->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    b->servers = calloc(conf->n_urls, sizeof(*b->servers));
    b->binds = calloc((size_t)conf->bind_conns, sizeof(*b->binds));
    b->pfd = calloc(2 + (size_t)conf->bind_conns, sizeof(*b->pfd));
    if (b->wake_fd < 0 || !b->servers || !b->binds || !b->pfd)
    {
        ovp_errf(err, errlen, "cannot set up the LDAP backend: %s",
                 b->wake_fd < 0 ? strerror(errno) : "out of memory");
        al_backend_free(b);
        return NULL;
    }
    for (long i = 0; i < conf->bind_conns; i++)
    {
        b->binds[i].fd = -1;
    }
    for (size_t i = 0; i < conf->n_groups; i++)
    {
        b->need_memberof |= is_memberof(&conf->groups[i]);
    }
    {
        size_t na = 0;
        static char memberof[] = "memberOf", none[] = LDAP_NO_ATTRS;
        if (b->need_memberof)
        {
            b->user_attrs[na++] = memberof;
        }
        if (conf->push_attr)
        {
            b->user_attrs[na++] = conf->push_attr;
        }
        if (conf->ifconfig_attr)
        {
            b->user_attrs[na++] = conf->ifconfig_attr;
        }
        if (na == 0)
        {
            b->user_attrs[na++] = none;
        }
        b->user_attrs[na] = NULL;
    }
    for (size_t i = 0; i < conf->n_groups; i++)
    {
        b->group_cc |= conf->groups[i].push.n > 0;
    }
    if ((conf->cache_ttl_ms > 0 || conf->neg_cache_ttl_ms > 0) &&
        !(b->cache = al_cache_new(4096)))
    {
        ovp_errf(err, errlen, "cannot set up the LDAP cache");
        al_backend_free(b);
        return NULL;
    }
    return b;
}

void
al_backend_on_allow(struct al_backend *b,
                    void (*fn)(void *arg, struct ovp_defer_req *req, const char *ccfg),
                    void *arg)
{
    b->on_allow = fn;
    b->on_allow_arg = arg;
}

int
al_backend_start(struct al_backend *b, char *err, size_t errlen)
{
    int rc = ovp_thread_start(&b->thread, backend_main, b);
    if (rc != 0)
    {
        ovp_errf(err, errlen, "cannot start the LDAP thread: %s", strerror(rc));
        return -1;
    }
    b->started = 1;
    return 0;
}

void
al_backend_wake(struct al_backend *b)
{
    uint64_t one = 1;
    if (!atomic_exchange(&b->asleep, 0))
    {
        return; /* busy: it looks at the queue again before it sleeps */
    }
    /* EAGAIN only when the counter is full: the thread is awake anyway. */
    if (write(b->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
    {
        ovp_logf(b->log, PLOG_ERR | PLOG_ERRNO, "cannot wake the LDAP thread");
    }
}

static void
unref_ccdefer(void *data)
{
    ovp_ccdefer_unref(data);
}

int
al_backend_lookup(struct al_backend *b, struct ovp_ccdefer *ccd, const char *username,
                  const struct ovp_client_id *who, char *err, size_t errlen)
{
    struct ovp_defer_req *req = calloc(1, sizeof(*req));
    struct lookup *lk = calloc(1, sizeof(*lk));
    int refused = 0;

    if (!req || !lk || !(req->username = strdup(username)))
    {
        ovp_errf(err, errlen, "out of memory");
        goto fail;
    }
    if (who)
    {
        req->who = *who;
    }
    req->data = ovp_ccdefer_ref(ccd);
    req->free_data = unref_ccdefer;
    lk->req = req;
    pthread_mutex_lock(&b->lk_mu);
    /* Bounded like the auth queue: a flood of reconnects cannot grow it without end. */
    if (b->lk_closed || b->lk_n >= (size_t)b->conf->queue)
    {
        refused = b->lk_closed ? 2 : 1;
    }
    else
    {
        *b->lk_tail = lk;
        b->lk_tail = &lk->next;
        b->lk_n++;
    }
    pthread_mutex_unlock(&b->lk_mu);
    if (refused)
    {
        ovp_errf(err, errlen, "%s",
                 refused == 2 ? "server is reloading" : "too many lookups waiting");
        goto fail;
    }
    al_backend_wake(b);
    return 0;

fail:
    ovp_defer_req_free(req); /* drops the reference taken, if any */
    free(lk);
    return -1;
}

int
al_backend_all_down(const struct al_backend *b)
{
    return atomic_load(&b->all_down);
}

void
al_backend_stop(struct al_backend *b)
{
    if (!b || !b->started)
    {
        return;
    }
    atomic_store(&b->stop, 1);
    atomic_store(&b->asleep, 1);
    al_backend_wake(b);
    ovp_thread_join(b->thread);
    b->started = 0;
}

void
al_backend_free(struct al_backend *b)
{
    if (!b)
    {
        return;
    }
    al_backend_stop(b);
    lookups_close(b); /* lookups queued to a thread that never ran */
    pthread_mutex_destroy(&b->lk_mu);
    if (b->wake_fd >= 0)
    {
        close(b->wake_fd);
    }
    al_cache_free(b->cache);
    free(b->pfd);
    free(b->servers);
    free(b->binds);
    free(b);
}

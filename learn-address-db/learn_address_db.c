/* learn_address_db.c: ovp-learn-address-db, the OpenVPN-facing glue (config, hooks, verdicts). */
#include "ovpbuild.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "env.h"
#include "plugin.h"
#include "store.h"

/* Minimum gap between two "queue full" or "refusing" lines, so a flood stays readable. */
#define REPORT_EVERY_MS 10000

enum on_error
{
    ON_ERROR_OPEN,
    ON_ERROR_CLOSED,
};

enum sync_mode
{
    SYNC_NORMAL,
    SYNC_FULL,
};

struct lad_config
{
    char *database;
    char *instance;
    long flush_ms;
    long retention_days;
    int on_error;
    long queue_size;
    long busy_ms;
    long close_ms;
    int synchronous;
    char *run_as_user;
};

static const char *const on_error_choices[] = {"open", "closed", NULL};
static const char *const sync_choices[] = {"normal", "full", NULL};

#define KEY(name, type, flags, def, field, choices, min, max, help)                            \
    {                                                                                          \
        name, type, flags, def, offsetof(struct lad_config, field), choices, min, max, help    \
    }

static const struct ovp_cfg_key lad_keys[] = {
    KEY("Database", OVP_CFG_STRING, OVP_CFG_REQUIRED, NULL, database, NULL, 0, 0,
        "path of the SQLite database file (created when missing)"),
    KEY("Instance", OVP_CFG_STRING, 0, NULL, instance, NULL, 0, 0,
        "name of this OpenVPN server, stored with every row (default: the host name)"),
    KEY("FlushInterval", OVP_CFG_DURATION, 0, "100ms", flush_ms, NULL, 1, 60000,
        "queued events are committed at most this long after they arrive"),
    KEY("RetentionDays", OVP_CFG_INT, 0, "0", retention_days, NULL, 0, 36500,
        "delete ended sessions and address events older than this many days (0: keep)"),
    KEY("OnDatabaseError", OVP_CFG_ENUM, 0, "open", on_error, on_error_choices, 0, 0,
        "open: keep the VPN working and log; closed: refuse clients and routes"),
    KEY("QueueSize", OVP_CFG_INT, 0, "65536", queue_size, NULL, 16, 10000000,
        "events waiting for the database, at most (a full queue drops and reports)"),
    KEY("BusyTimeout", OVP_CFG_DURATION, 0, "1s", busy_ms, NULL, 1, 60000,
        "how long one write waits for another process's lock before retrying"),
    KEY("CloseTimeout", OVP_CFG_DURATION, 0, "5s", close_ms, NULL, 0, 300000,
        "at close, how long to keep retrying a failing database"),
    KEY("Synchronous", OVP_CFG_ENUM, 0, "normal", synchronous, sync_choices, 0, 0,
        "normal: survives a crash of OpenVPN; full: also a power loss (slower)"),
    KEY("RunAsUser", OVP_CFG_STRING, 0, NULL, run_as_user, NULL, 0, 0,
        "the user OpenVPN drops to: checked (and given a new database) at start"),
};

#define N_KEYS (sizeof(lad_keys) / sizeof(lad_keys[0]))

struct lad
{
    struct lad_config cfg;
    struct ovp_log *log;
    struct store *store;
    int closed; /* OnDatabaseError closed */
    int64_t next_full_report, next_fail_report, next_bad_report;
    int full; /* drops happened since the queue last accepted */
    unsigned long long bad_addresses;
};

/* Per client instance. The host also creates one for its top-level context. */
struct lad_client
{
    uint64_t sid;
    int connected; /* client-connect recorded, no disconnect yet */
    int offered;   /* the client-connect env named a virtual address */
    int tap;       /* dev_type=tap: OpenVPN learns MACs later, from traffic */
    int learned;   /* a learn-address add/update came with this client's context */
};

/* ------------------------------------------------------------ reports */

/* Says, at most every REPORT_EVERY_MS, that events are being dropped. */
static void
report_full(struct lad *l, const struct ovp_client_id *who)
{
    int64_t now = store_now_ms();
    l->full = 1;
    if (now < l->next_full_report)
    {
        return;
    }
    l->next_full_report = now + REPORT_EVERY_MS;
    struct store_stats st;
    store_get_stats(l->store, &st);
    ovp_logf_client(l->log, who, PLOG_ERR,
                    "event queue full (QueueSize %ld): the database writer is behind or "
                    "failing; %llu event(s) dropped so far, %s",
                    l->cfg.queue_size, st.dropped,
                    l->closed ? "refusing (OnDatabaseError closed)"
                              : "not recorded; the VPN is unaffected (OnDatabaseError open)");
}

/* After drops: the first event the queue accepts again says how many were lost. */
static void
report_recovered(struct lad *l)
{
    struct store_stats st;
    store_get_stats(l->store, &st);
    l->full = 0;
    ovp_warn(l->log, "event queue accepting again; %llu event(s) were dropped in total",
             st.dropped);
}

/* OnDatabaseError closed and the database failing: refuse, saying why now and then. */
static int
refuse_failing(struct lad *l, const struct ovp_client_id *who, const char *what)
{
    int64_t now = store_now_ms();
    if (now >= l->next_fail_report)
    {
        l->next_fail_report = now + REPORT_EVERY_MS;
        ovp_logf_client(l->log, who, PLOG_ERR,
                        "refusing %s: the database cannot be written (OnDatabaseError closed)",
                        what);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

/* The verdict for an event the store did not take (queue full or out of memory). */
static int
not_queued(struct lad *l, const struct ovp_client_id *who, int may_refuse)
{
    report_full(l, who);
    return l->closed && may_refuse ? OPENVPN_PLUGIN_FUNC_ERROR : OPENVPN_PLUGIN_FUNC_SUCCESS;
}

static int
queued(struct lad *l)
{
    if (l->full)
    {
        report_recovered(l);
    }
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}

/* --------------------------------------------------------------- hooks */

/* learn-address OP ADDRESS [CN]: validate, enqueue, answer at once. */
static int
learn_address(struct lad *l, const struct ovp_event *ev)
{
    const char *op_s = ovp_argv_get(ev->argv, 1);
    const char *addr_s = ovp_argv_get(ev->argv, 2);
    enum store_op op;
    struct addr a;

    if (op_s && strcmp(op_s, "add") == 0)
    {
        op = STORE_ADD;
    }
    else if (op_s && strcmp(op_s, "update") == 0)
    {
        op = STORE_UPDATE;
    }
    else if (op_s && strcmp(op_s, "delete") == 0)
    {
        op = STORE_DELETE;
    }
    else
    {
        ovp_logf_client(l->log, &ev->who, PLOG_ERR,
                        "learn-address: unknown operation '%s' (expected add, update or "
                        "delete); not recorded",
                        op_s ? op_s : "(none)");
        return l->closed ? OPENVPN_PLUGIN_FUNC_ERROR : OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    /* A failed delete helps nobody: only add and update are ever refused. */
    int may_refuse = op != STORE_DELETE;
    /* OpenVPN learned an address for this client: it passed every client-connect handler. */
    struct lad_client *c = ev->client;
    if (op != STORE_DELETE && c && c->connected)
    {
        c->learned = 1;
    }

    if (addr_parse(addr_s, &a) < 0)
    {
        int64_t now = store_now_ms();
        l->bad_addresses++;
        if (now >= l->next_bad_report)
        {
            l->next_bad_report = now + REPORT_EVERY_MS;
            ovp_logf_client(l->log, &ev->who, PLOG_WARN,
                            "learn-address %s: '%.64s' is not an IPv4 or IPv6 address, an "
                            "a.b.c.d/nn route or a MAC; not recorded (%llu so far)",
                            op_s, addr_s ? addr_s : "(none)", l->bad_addresses);
        }
        return l->closed && may_refuse ? OPENVPN_PLUGIN_FUNC_ERROR
                                       : OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    if (l->closed && may_refuse && store_failing(l->store))
    {
        return refuse_failing(l, &ev->who, "a route");
    }

    const char *cn = NULL;
    uint64_t sid = 0;
    if (op != STORE_DELETE)
    {
        /* The host's client context is only trustworthy for add/update. */
        cn = ovp_argv_get(ev->argv, 3);
        if (!cn || !*cn)
        {
            cn = ovp_env_get_nonempty(ev->envp, "common_name");
        }
        sid = c && c->connected ? c->sid : 0;
    }
    if (store_address(l->store, op, &a, cn, sid, store_now_ms()) < 0)
    {
        return not_queued(l, &ev->who, may_refuse);
    }
    return queued(l);
}

/*
 * The client's real address in the spelling addr.c gives it (what ovp-addrdb
 * --real-ip matches), in BUF; an unparsable one is kept as OpenVPN gave it.
 */
static const char *
real_ip(const char *const *envp, struct addr *buf)
{
    const char *ip = ovp_env_client_ip(envp);
    if (ip && addr_parse(ip, buf) == 0 && (buf->kind == ADDR_IPV4 || buf->kind == ADDR_IPV6))
    {
        return buf->text;
    }
    return ip;
}

/*
 * The client's real address at client-disconnect, in BUF's spelling as real_ip.
 * OpenVPN sets trusted_ip (or trusted_ip6) and trusted_port afresh for the
 * disconnect (multi.c multi_client_disconnect_setenv, setenv_trusted) from the
 * address the client has now, which after a UDP float is not the one it
 * authenticated from: untrusted_ip keeps that one. OpenVPN never unsets a
 * variable, so after a float between IPv4 and IPv6 both trusted_ip and
 * trusted_ip6 are there; its env list puts the newest setting first
 * (env_set.c add_env_item, make_env_array), so the first one found is now's.
 */
static const char *
end_real_ip(const char *const *envp, struct addr *buf)
{
    for (size_t i = 0; envp && envp[i]; i++)
    {
        const char *v = NULL;
        if (strncmp(envp[i], "trusted_ip=", 11) == 0)
        {
            v = envp[i] + 11;
        }
        else if (strncmp(envp[i], "trusted_ip6=", 12) == 0)
        {
            v = envp[i] + 12;
        }
        if (v && *v)
        {
            if (addr_parse(v, buf) == 0 && (buf->kind == ADDR_IPV4 || buf->kind == ADDR_IPV6))
            {
                return buf->text;
            }
            return v;
        }
    }
    return real_ip(envp, buf);
}

/* The client's real port, or -1. */
static long
real_port(const char *const *envp)
{
    long port;
    if (ovp_env_get_long(envp, "trusted_port", 0, 65535, &port) == 0 ||
        ovp_env_get_long(envp, "untrusted_port", 0, 65535, &port) == 0)
    {
        return port;
    }
    return -1;
}

/* Reads a non-negative counter from the env, or -1 when missing or malformed. */
static long long
env_count(const char *const *envp, const char *name)
{
    long v;
    return ovp_env_get_long(envp, name, 0, LONG_MAX, &v) == 0 ? v : -1;
}

static int
client_connect(struct lad *l, const struct ovp_event *ev)
{
    struct lad_client *c = ev->client;
    struct store_session ss;
    struct addr ip;
    long t = 0;

    if (l->closed && store_failing(l->store))
    {
        return refuse_failing(l, &ev->who, "the client");
    }
    memset(&ss, 0, sizeof(ss));
    ss.id = store_new_session_id(l->store);
    /* time_unix is when OpenVPN created the instance: the start of the connection. */
    ss.connect_ms = ovp_env_get_long(ev->envp, "time_unix", 1, LONG_MAX, &t) == 0
                        ? (int64_t)t * 1000
                        : store_now_ms();
    ss.common_name = ovp_env_get_nonempty(ev->envp, "common_name");
    ss.username = ovp_env_get_nonempty(ev->envp, "username");
    ss.real_ip = real_ip(ev->envp, &ip);
    ss.real_port = real_port(ev->envp);
    ss.vaddr4 = ovp_env_get_nonempty(ev->envp, "ifconfig_pool_remote_ip");
    ss.vaddr6 = ovp_env_get_nonempty(ev->envp, "ifconfig_pool_remote_ip6");
    /* In the spelling ovp-addrdb looks them up by (who IP, TAP mode). */
    struct addr v4, v6;
    if (ss.vaddr4 && addr_parse(ss.vaddr4, &v4) == 0 && v4.kind == ADDR_IPV4)
    {
        ss.vaddr4 = v4.text;
    }
    if (ss.vaddr6 && addr_parse(ss.vaddr6, &v6) == 0 && v6.kind == ADDR_IPV6)
    {
        ss.vaddr6 = v6.text;
    }

    if (store_connect(l->store, &ss) < 0)
    {
        return not_queued(l, &ev->who, 1);
    }
    if (c)
    {
        const char *dev_type = ovp_env_get(ev->envp, "dev_type");
        c->sid = ss.id;
        c->connected = 1;
        c->offered = ss.vaddr4 || ss.vaddr6;
        c->tap = dev_type && strcmp(dev_type, "tap") == 0;
        c->learned = 0;
    }
    return queued(l);
}

/*
 * Fills the parts of a disconnect record that the env and the client context
 * give; IP keeps the real address's text alive for the call.
 */
static void
fill_disconnect(struct store_disconnect *sd, const struct lad_client *c,
                const char *const *envp, struct addr *ip)
{
    memset(sd, 0, sizeof(*sd));
    sd->id = c && c->connected ? c->sid : 0;
    sd->disconnect_ms = store_now_ms();
    sd->common_name = ovp_env_get_nonempty(envp, "common_name");
    sd->real_ip = end_real_ip(envp, ip);
    sd->real_port = real_port(envp);
    sd->bytes_received = env_count(envp, "bytes_received");
    sd->bytes_sent = env_count(envp, "bytes_sent");
    sd->duration_s = env_count(envp, "time_duration");
}

/*
 * Whether client C, at its end, never got the address its client-connect
 * offered. In TUN mode OpenVPN learns the client's addresses right after the
 * last client-connect handler succeeded, before anything else can happen to
 * the client; a disconnect before that is the one OpenVPN sends after a later
 * handler (another plugin, a script, 'disable') refused the client (multi.c:
 * its first, internal handler has always succeeded by then). In TAP mode
 * addresses are learned from traffic, so nothing can be told there.
 */
static int
never_established(const struct lad_client *c)
{
    return c && c->connected && c->offered && !c->tap && !c->learned;
}

static int
client_disconnect(struct lad *l, const struct ovp_event *ev)
{
    struct lad_client *c = ev->client;
    struct store_disconnect sd;
    struct addr ip;

    /*
     * No session of ours: the client was refused before our client-connect
     * (an earlier handler), or its connect was never queued. Nothing to end,
     * and guessing by name and address could end someone else's session.
     */
    if (!c || !c->connected)
    {
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    fill_disconnect(&sd, c, ev->envp, &ip);
    sd.refused = never_established(c);
    sd.reason = sd.refused ? "refused" : "disconnect";
    c->connected = 0;
    /* OpenVPN ignores this verdict; never refuse. */
    if (store_disconnect(l->store, &sd) < 0)
    {
        return not_queued(l, &ev->who, 0);
    }
    return queued(l);
}

/* ----------------------------------------------------- the descriptor */

static void
config_release(struct lad_config *cfg)
{
    ovp_cfg_release(lad_keys, N_KEYS, cfg);
}

/*
 * The default Instance: the host name and OpenVPN's configuration file (the
 * open env's "config", made absolute), e.g. "vpn1:/etc/openvpn/server/udp.conf",
 * so that two servers on one host never share a name. Derived at the first
 * open in this process and kept (the .so stays loaded): a reopen after the
 * privilege drop or inside a chroot might resolve the path differently, and a
 * new name would orphan the running rows. malloc'd, or NULL.
 */
static char *
default_instance(const char *const *envp)
{
    static char cached[PATH_MAX + 300];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    char host[256] = "", cwd[PATH_MAX] = "";
    char *out;

    pthread_mutex_lock(&mu);
    if (!cached[0])
    {
        const char *conf = ovp_env_get_nonempty(envp, "config");
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        {
            snprintf(host, sizeof(host), "openvpn");
        }
        if (!conf)
        {
            snprintf(cached, sizeof(cached), "%s", host);
        }
        else if (conf[0] != '/' && getcwd(cwd, sizeof(cwd)))
        {
            snprintf(cached, sizeof(cached), "%s:%s%s%s", host, cwd,
                     strcmp(cwd, "/") == 0 ? "" : "/", conf);
        }
        else
        {
            snprintf(cached, sizeof(cached), "%s:%s", host, conf);
        }
    }
    out = strdup(cached);
    pthread_mutex_unlock(&mu);
    return out;
}

static int
lad_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    struct ovp_log *log = ovp_plugin_log(p);
    struct ovp_cfg_node *root = NULL;
    struct lad *l = NULL;
    char err[1024];
    int degraded = 0;
    size_t argc = ovp_argc(argv);

    l = calloc(1, sizeof(*l));
    if (!l)
    {
        ovp_err(log, "out of memory");
        return -1;
    }
    l->log = log;
    if (ovp_cfg_parse_args(argc > 1 ? argv + 1 : argv, argc > 1 ? argc - 1 : 0, &root, err,
                           sizeof(err)) < 0 ||
        ovp_cfg_bind(root, lad_keys, N_KEYS, &l->cfg, NULL, err, sizeof(err)) < 0)
    {
        ovp_err(log, "configuration: %s", err);
        goto fail;
    }
    /* A file no longer readable after the privilege drop: the copy read at start is used. */
    for (size_t i = 0; i < ovp_cfg_warning_count(root); i++)
    {
        ovp_warn(log, "%s", ovp_cfg_warning(root, i));
    }
    if (!l->cfg.instance)
    {
        l->cfg.instance = default_instance(envp);
        if (!l->cfg.instance)
        {
            ovp_err(log, "out of memory");
            goto fail;
        }
    }
    if (!l->cfg.database[0] || !l->cfg.instance[0])
    {
        ovp_err(log, "configuration: %s must not be empty",
                l->cfg.database[0] ? "Instance" : "Database");
        goto fail;
    }
    /*
     * OpenVPN daemonizes before it opens plugins, and without --cd daemon(3)
     * moved it to /: a relative path would quietly make a database there.
     */
    long daemon = 0;
    char cwd[PATH_MAX];
    if (l->cfg.database[0] != '/' && ovp_env_get_long(envp, "daemon", 0, 1, &daemon) == 0 &&
        daemon == 1 && getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0)
    {
        ovp_err(log,
                "configuration: Database '%s' is a relative path, and OpenVPN runs as a "
                "daemon in the directory /: give an absolute path (or use --cd)",
                l->cfg.database);
        goto fail;
    }
    l->closed = l->cfg.on_error == ON_ERROR_CLOSED;

    struct store_config sc = {
        .path = l->cfg.database,
        .instance = l->cfg.instance,
        .flush_ms = l->cfg.flush_ms,
        .busy_ms = l->cfg.busy_ms,
        .close_ms = l->cfg.close_ms,
        .retention_days = l->cfg.retention_days,
        .queue_size = (size_t)l->cfg.queue_size,
        .synchronous_full = l->cfg.synchronous == SYNC_FULL,
        .run_as_user = l->cfg.run_as_user,
    };
    if (store_open(&sc, log, &l->store, &degraded) < 0)
    {
        goto fail;
    }
    if (degraded && l->closed)
    {
        ovp_err(log, "OnDatabaseError closed: not starting while %s cannot be written",
                l->cfg.database);
        goto fail;
    }
    char retention[48] = "off";
    if (l->cfg.retention_days)
    {
        snprintf(retention, sizeof(retention), "%ld day(s)", l->cfg.retention_days);
    }
    ovp_note(log,
             "recording to %s as instance '%s' (flush every %ld ms, queue %ld, retention %s, "
             "on database error: %s)",
             l->cfg.database, l->cfg.instance, l->cfg.flush_ms, l->cfg.queue_size, retention,
             l->closed ? "closed" : "open");
    ovp_cfg_free(root);
    *state = l;
    return 0;

fail:
    store_close(l->store);
    ovp_cfg_free(root);
    config_release(&l->cfg);
    free(l);
    return -1;
}

static int
lad_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    struct lad *l = state;
    (void)p;
    if (!l->store)
    {
        return OPENVPN_PLUGIN_FUNC_SUCCESS; /* after abort: OpenVPN is going down */
    }
    switch (ev->type)
    {
        case OPENVPN_PLUGIN_LEARN_ADDRESS:
            return learn_address(l, ev);
        case OPENVPN_PLUGIN_CLIENT_CONNECT_V2:
            return client_connect(l, ev);
        case OPENVPN_PLUGIN_CLIENT_DISCONNECT:
            return client_disconnect(l, ev);
        default:
            return OPENVPN_PLUGIN_FUNC_ERROR;
    }
}

/* Stops the writer (it commits everything queued first) and says what happened. */
static void
stop_store(struct lad *l)
{
    struct store_stats st;
    if (!l->store)
    {
        return;
    }
    store_get_stats(l->store, &st);
    unsigned long long queued_before = st.queued;
    store_close(l->store);
    l->store = NULL;
    ovp_note(l->log,
             "closed: %llu event(s) queued, %llu dropped because the queue was full, "
             "%llu address(es) not recognised",
             queued_before, st.dropped, l->bad_addresses);
}

static void
lad_close(struct ovp_plugin *p, void *state)
{
    struct lad *l = state;
    (void)p;
    if (!l)
    {
        return;
    }
    stop_store(l);
    config_release(&l->cfg);
    free(l);
}

/* OpenVPN is exiting on a fatal error: still commit what is queued (bounded by CloseTimeout). */
static void
lad_abort(struct ovp_plugin *p, void *state)
{
    (void)p;
    if (state)
    {
        stop_store(state);
    }
}

static void *
lad_client_new(struct ovp_plugin *p, void *state)
{
    (void)p;
    (void)state;
    return calloc(1, sizeof(struct lad_client));
}

/*
 * The host frees a client instance. One whose client-connect we recorded but
 * that never got a client-disconnect was refused later (another plugin or a
 * script): end its session here.
 */
static void
lad_client_free(struct ovp_plugin *p, void *state, void *client)
{
    struct lad *l = state;
    struct lad_client *c = client;
    (void)p;
    if (c && c->connected && l && l->store)
    {
        struct store_disconnect sd;
        struct addr ip;
        static const char *const empty[] = {NULL};
        fill_disconnect(&sd, c, empty, &ip);
        sd.reason = "refused";
        sd.refused = never_established(c);
        if (store_disconnect(l->store, &sd) < 0)
        {
            report_full(l, NULL);
        }
    }
    free(c);
}

static const struct ovp_plugin_desc lad_desc = {
    .name = "ovp-learn-address-db",
    .events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_LEARN_ADDRESS) |
              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2) |
              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_DISCONNECT),
    .optional_events = 0,
    .open = lad_open,
    .event = lad_event,
    .close = lad_close,
    .abort = lad_abort,
    .client_new = lad_client_new,
    .client_free = lad_client_free,
};

OVP_PLUGIN(lad_desc);

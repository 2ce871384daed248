/* test_plugin.c: ovp-test-plugin.so, a configurable plugin on the framework, for host tests. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ccfg.h"
#include "config.h"
#include "defer.h"
#include "env.h"
#include "plugin.h"
#include "secret.h"

/*
 * Everything is chosen on the plugin line with key=value words, e.g.
 *   plugin ovp-test-plugin.so user=alice password=s3cret mode=defer delay_ms=20
 * See the key table below; tests/core/README.md shows how the core tests use it.
 */
struct tp_conf
{
    char *user;
    char *password;
    int mode; /* 0 sync, 1 defer */
    long workers;
    long delay_ms;
    long deadline_ms;
    long queue_max;
    char *reason;
    int temp;
    int hang;
    char *crash_user;
    int pending;
    char *pending_method;
    char *pending_text;
    long pending_timeout;
    struct ovp_strv ccfg;
    long connect_defer_ms;
    char *record;
    int fail_open;
    char *events;
    char *fail_on;
    char *name;
    char *token;
    char *drop_to;
};

static const char *const modes[] = {"sync", "defer", NULL};

static const struct ovp_cfg_key tp_keys[] = {
    {.name = "user",
     .type = OVP_CFG_STRING,
     .def = "alice",
     .offset = offsetof(struct tp_conf, user),
     .help = "the one username accepted"},
    /* INLINE_OK: test lines carry dummy passwords; a real plugin's secrets never may. */
    {.name = "password",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET | OVP_CFG_INLINE_OK,
     .def = "secret",
     .offset = offsetof(struct tp_conf, password),
     .help = "its password"},
    {.name = "mode",
     .type = OVP_CFG_ENUM,
     .def = "sync",
     .choices = modes,
     .offset = offsetof(struct tp_conf, mode),
     .help = "sync: answer in the call; defer: workers"},
    {.name = "workers",
     .type = OVP_CFG_INT,
     .def = "2",
     .min = 1,
     .max = 256,
     .offset = offsetof(struct tp_conf, workers),
     .help = "worker threads in defer mode"},
    {.name = "delay_ms",
     .type = OVP_CFG_INT,
     .def = "0",
     .min = 0,
     .max = 600000,
     .offset = offsetof(struct tp_conf, delay_ms),
     .help = "time each decision takes (in the call when sync: a stall)"},
    {.name = "deadline_ms",
     .type = OVP_CFG_INT,
     .def = "50000",
     .min = 1,
     .max = 3600000,
     .offset = offsetof(struct tp_conf, deadline_ms),
     .help = "defer engine deadline"},
    {.name = "queue_max",
     .type = OVP_CFG_INT,
     .def = "100000",
     .min = 1,
     .max = 10000000,
     .offset = offsetof(struct tp_conf, queue_max),
     .help = "defer engine queue bound"},
    {.name = "reason",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct tp_conf, reason),
     .help = "text for the auth_failed_reason_file when refusing"},
    {.name = "temp",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct tp_conf, temp),
     .help = "answer every auth with a TEMP failure (a backend outage)"},
    {.name = "hang",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct tp_conf, hang),
     .help = "return DEFERRED and never answer (tests the hand-window)"},
    {.name = "crash_user",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct tp_conf, crash_user),
     .help = "for this username, defer to a worker process that crashes before answering"},
    {.name = "pending",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct tp_conf, pending),
     .help = "write an auth_pending_file before deferring"},
    {.name = "pending_method",
     .type = OVP_CFG_STRING,
     .def = "crtext",
     .offset = offsetof(struct tp_conf, pending_method),
     .help = "line 2 of the pending file"},
    {.name = "pending_text",
     .type = OVP_CFG_STRING,
     .def = "CR_TEXT:E,R:Enter your code",
     .offset = offsetof(struct tp_conf, pending_text),
     .help = "line 3 of the pending file"},
    {.name = "pending_timeout",
     .type = OVP_CFG_INT,
     .def = "60",
     .min = 0,
     .max = 86400,
     .offset = offsetof(struct tp_conf, pending_timeout),
     .help = "line 1 of the pending file"},
    {.name = "ccfg",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_MULTI,
     .offset = offsetof(struct tp_conf, ccfg),
     .help = "a client-config directive returned from client-connect (repeatable)"},
    {.name = "connect_defer_ms",
     .type = OVP_CFG_INT,
     .def = "0",
     .min = 0,
     .max = 600000,
     .offset = offsetof(struct tp_conf, connect_defer_ms),
     .help = "defer CLIENT_CONNECT_V2 and answer through DEFER_V2 after this long"},
    {.name = "record",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct tp_conf, record),
     .help = "append one line per event received to this file"},
    {.name = "fail_open",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct tp_conf, fail_open),
     .help = "refuse to open"},
    {.name = "events",
     .type = OVP_CFG_STRING,
     .def = "AUTH_USER_PASS_VERIFY",
     .offset = offsetof(struct tp_conf, events),
     .help = "comma-separated events to register (names as OpenVPN's, or all)"},
    {.name = "fail_on",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct tp_conf, fail_on),
     .help = "comma-separated events answered with ERROR"},
    {.name = "name",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct tp_conf, name),
     .help = "a label for record lines (to tell several instances apart)"},
    {.name = "token",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = offsetof(struct tp_conf, token),
     .help = "a secret held to a real plugin's rules (tokenFile, or a config file); when "
             "set, a client's password must be password + token"},
    {.name = "drop_to",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct tp_conf, drop_to),
     .help = "after an open as root, drop the process to this user and its group for good, "
             "as OpenVPN's user/group options do (reopens then run without root)"},
};
#define TP_NKEYS (sizeof(tp_keys) / sizeof(tp_keys[0]))

#define TP_MAX_CRASHED 64

struct tp_state
{
    pid_t crashed[TP_MAX_CRASHED]; /* worker processes that crashed, to reap */
    int n_crashed;
    struct ovp_plugin *plugin;
    struct tp_conf conf;
    unsigned fail_mask;
    struct ovp_defer *defer;
    int record_fd;
    unsigned next_client;
};

/* Per-client context: a number (0 is the server's own) and the connect deferral. */
struct tp_client
{
    unsigned id;
    uint64_t connect_started_ns;
};

/* Credentials a worker compares (the engine owns the request's copies). */
static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    {
    }
}

/* "AUTH_USER_PASS_VERIFY,LEARN_ADDRESS" or "all" -> mask; -1 on an unknown name. */
static int
parse_events(const char *list, unsigned *mask, char *bad, size_t badlen)
{
    char *copy = strdup(list ? list : ""), *save = NULL;

    *mask = 0;
    if (!copy)
    {
        return -1;
    }
    for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save))
    {
        int found = 0;

        if (strcasecmp(w, "all") == 0)
        {
            *mask |= ((1u << OPENVPN_PLUGIN_N) - 1) & ~(1u << 11);
            continue;
        }
        for (int t = 0; t < OPENVPN_PLUGIN_N; t++)
        {
            if (strcasecmp(w, ovp_event_name(t)) == 0)
            {
                *mask |= OPENVPN_PLUGIN_MASK(t);
                found = 1;
            }
        }
        if (!found)
        {
            snprintf(bad, badlen, "%s", w);
            free(copy);
            return -1;
        }
    }
    free(copy);
    return 0;
}

/* ------------------------------------------------------------------ record */

/* Appends TEXT; with CLEAN, blanks and controls become '_' (a record is one line). */
static size_t
put(char *buf, size_t off, size_t len, const char *text, int clean)
{
    for (const char *p = text; *p && off + 1 < len; p++)
    {
        buf[off++] = (clean && ((unsigned char)*p <= ' ' || *p == 127)) ? '_' : *p;
    }
    buf[off < len ? off : len - 1] = '\0';
    return off;
}

/* One line per event: what a host passed, so tests can assert it. */
static void
record(struct tp_state *st, const char *event, const char *const *argv, const char *const *envp,
       const struct tp_client *cli)
{
    static const char *const keys[] = {
        "username",
        "common_name",
        "untrusted_ip",
        "untrusted_ip6",
        "untrusted_port",
        "trusted_ip",
        "trusted_ip6",
        "trusted_port",
        "IV_SSO",
        "IV_PLAT",
        "IV_PROTO",
        "session_state",
        "session_id",
        "ifconfig_pool_remote_ip",
        "ifconfig_pool_netmask",
        "ifconfig_pool_remote_ip6",
        "bytes_received",
        "bytes_sent",
        "time_duration",
        "signal",
        "script_context",
        "dev",
        "tun_mtu",
        "ifconfig_local",
        "X509_0_CN",
        "X509_1_CN",
        "tls_serial_0",
        "tls_id_0",
        "verb",
        "daemon",
        "config",
        "crresponse",
    };
    char line[4096];
    size_t off, n_env = ovp_argc(envp);

    if (st->record_fd < 0)
    {
        return;
    }
    off = (size_t)snprintf(line, sizeof(line), "%s%s%s argv=[",
                           st->conf.name ? st->conf.name : "", st->conf.name ? ":" : "", event);
    for (size_t i = 1; argv && argv[i] && off < sizeof(line); i++)
    {
        if (i > 1)
        {
            off = put(line, off, sizeof(line), ",", 0);
        }
        off = put(line, off, sizeof(line), argv[i], 1);
    }
    off += (size_t)snprintf(line + off, off < sizeof(line) ? sizeof(line) - off : 0,
                            "] envc=%zu client=%d", n_env, cli ? (int)cli->id : -1);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && off < sizeof(line); k++)
    {
        const char *v = ovp_env_get(envp, keys[k]);

        if (v)
        {
            off = put(line, off, sizeof(line), " ", 0);
            off = put(line, off, sizeof(line), keys[k], 0);
            off = put(line, off, sizeof(line), "=", 0);
            off = put(line, off, sizeof(line), v, 1);
        }
    }
    /* secrets and file names: only whether they were there */
    if (off < sizeof(line))
    {
        off += (size_t)snprintf(line + off, sizeof(line) - off, " password=%s files=%s%s%s",
                                ovp_env_get(envp, "password") ? "set" : "absent",
                                ovp_env_get(envp, "auth_control_file") ? "acf" : "",
                                ovp_env_get(envp, "auth_pending_file") ? ",apf" : "",
                                ovp_env_get(envp, "auth_failed_reason_file") ? ",afr" : "");
    }
    if (off >= sizeof(line) - 1)
    {
        off = sizeof(line) - 2;
    }
    line[off++] = '\n';
    if (write(st->record_fd, line, off) < 0)
    {
        ovp_logf(ovp_plugin_log(st->plugin), PLOG_WARN | PLOG_ERRNO, "cannot write %s",
                 st->conf.record);
    }
}

/* -------------------------------------------------------------- auth */

/* PASS against the password, followed by the token when one is set. */
static int
password_ok(const struct tp_conf *c, const char *pass)
{
    size_t pl = strlen(c->password);

    if (c->token == NULL)
    {
        return ovp_ct_streq(pass, c->password);
    }
    return strlen(pass) == pl + strlen(c->token) && ovp_ct_equal(pass, c->password, pl) &&
           ovp_ct_streq(pass + pl, c->token);
}

/* The decision, as a worker or the call itself makes it. */
static int
decide(const struct tp_conf *c, const char *user, const char *pass, const char *session_state,
       char *reason, size_t len)
{
    reason[0] = '\0';
    if (c->delay_ms)
    {
        sleep_ms(c->delay_ms);
    }
    /* with auth-gen-token external-auth the host vouches for a token it issued */
    if (session_state && strcmp(session_state, "Authenticated") == 0 && user &&
        ovp_ct_streq(user, c->user))
    {
        return OVP_ALLOW;
    }
    if (c->temp)
    {
        snprintf(reason, len, "%s", c->reason ? c->reason : "TEMP: test backend unavailable");
        return OVP_TEMP;
    }
    if (user && pass && ovp_ct_streq(user, c->user) && password_ok(c, pass))
    {
        return OVP_ALLOW;
    }
    snprintf(reason, len, "%s", c->reason ? c->reason : "");
    return OVP_DENY;
}

static void
worker_run(void *state, struct ovp_defer_req *req, struct ovp_defer_result *res)
{
    struct tp_state *st = state;

    res->verdict = decide(&st->conf, req->username, req->password, req->session_state,
                          res->reason, sizeof(res->reason));
}

/* Reaps the crashed worker processes (only ours: the host has children of its own). */
static void
reap_crashed(struct tp_state *st, int block)
{
    for (int i = 0; i < st->n_crashed;)
    {
        if (waitpid(st->crashed[i], NULL, block ? 0 : WNOHANG) != 0)
        {
            st->crashed[i] = st->crashed[--st->n_crashed];
            continue;
        }
        i++;
    }
}

static int
auth(struct tp_state *st, const struct ovp_event *ev)
{
    struct ovp_log *log = ovp_plugin_log(st->plugin);
    const char *pending_file = ovp_env_get(ev->envp, "auth_pending_file");
    const char *user = ovp_env_get(ev->envp, "username");
    char err[256], reason[OVP_REASON_MAX];

    reap_crashed(st, 0);
    if (st->conf.crash_user && user && strcmp(user, st->conf.crash_user) == 0 &&
        st->n_crashed < TP_MAX_CRASHED)
    {
        /* A worker process that dies before it writes the control file. */
        pid_t pid = fork();
        if (pid == 0)
        {
            signal(SIGSEGV, SIG_DFL);
            raise(SIGSEGV);
            _exit(139);
        }
        if (pid < 0)
        {
            return OPENVPN_PLUGIN_FUNC_ERROR;
        }
        st->crashed[st->n_crashed++] = pid;
        ovp_logf_client(log, &ev->who, PLOG_NOTE, "deferred to worker process %ld (crash_user)",
                        (long)pid);
        return OPENVPN_PLUGIN_FUNC_DEFERRED;
    }

    if (st->conf.pending || st->conf.hang)
    {
        if (st->conf.pending && pending_file &&
            ovp_auth_write_pending(pending_file, (unsigned)st->conf.pending_timeout,
                                   st->conf.pending_method, st->conf.pending_text, err,
                                   sizeof(err)) < 0)
        {
            ovp_logf_client(log, &ev->who, PLOG_ERR, "%s", err);
            return OPENVPN_PLUGIN_FUNC_ERROR;
        }
        if (st->conf.hang)
        {
            ovp_logf_client(log, &ev->who, PLOG_NOTE,
                            "deferred, and never answering (hang=yes)");
            return OPENVPN_PLUGIN_FUNC_DEFERRED;
        }
    }
    if (st->conf.mode == 0)
    {
        int v = decide(&st->conf, ovp_env_get(ev->envp, "username"),
                       ovp_env_get(ev->envp, "password"),
                       ovp_env_get(ev->envp, "session_state"), reason, sizeof(reason));

        if (v == OVP_ALLOW)
        {
            ovp_logf_client(log, &ev->who, PLOG_NOTE, "authenticated");
            return OPENVPN_PLUGIN_FUNC_SUCCESS;
        }
        if (reason[0] && ovp_auth_write_reason(ovp_env_get(ev->envp, "auth_failed_reason_file"),
                                               reason, err, sizeof(err)) < 0)
        {
            ovp_logf_client(log, &ev->who, PLOG_WARN, "%s", err);
        }
        ovp_logf_client(log, &ev->who, PLOG_NOTE, "refused%s%s", reason[0] ? ": " : "", reason);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    {
        struct ovp_defer_req *req = ovp_defer_req_from_env(ev->envp, err, sizeof(err));

        if (!req)
        {
            ovp_logf_client(log, &ev->who, PLOG_ERR, "%s", err);
            return OPENVPN_PLUGIN_FUNC_ERROR;
        }
        req->who = ev->who;
        if (ovp_defer_submit(st->defer, req) < 0)
        {
            return OPENVPN_PLUGIN_FUNC_ERROR;
        }
        return OPENVPN_PLUGIN_FUNC_DEFERRED;
    }
}

/* --------------------------------------------------------- client-connect */

static int
connect_answer(struct tp_state *st, const struct ovp_event *ev)
{
    struct ovp_ccfg c = {0};
    int rc = OPENVPN_PLUGIN_FUNC_SUCCESS;

    for (size_t i = 0; i < st->conf.ccfg.n; i++)
    {
        if (ovp_ccfg_add(&c, st->conf.ccfg.v[i]) < 0)
        {
            ovp_logf_client(ovp_plugin_log(st->plugin), &ev->who, PLOG_ERR,
                            "ccfg directive refused: %s", st->conf.ccfg.v[i]);
            rc = OPENVPN_PLUGIN_FUNC_ERROR;
        }
    }
    if (rc == OPENVPN_PLUGIN_FUNC_SUCCESS && ev->return_list &&
        ovp_ccfg_to_list(&c, ev->return_list) < 0)
    {
        rc = OPENVPN_PLUGIN_FUNC_ERROR;
    }
    ovp_ccfg_clear(&c);
    return rc;
}

static int
tp_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    struct tp_state *st = state;
    struct tp_client *cli = ev->client;

    record(st, ovp_event_name(ev->type), ev->argv, ev->envp, cli);
    if (st->fail_mask & OPENVPN_PLUGIN_MASK(ev->type))
    {
        if (ev->type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY && st->conf.reason)
        {
            char err[256];

            ovp_auth_write_reason(ovp_env_get(ev->envp, "auth_failed_reason_file"),
                                  st->conf.reason, err, sizeof(err));
        }
        ovp_logf_client(ovp_plugin_log(p), &ev->who, PLOG_NOTE, "%s: ERROR (fail_on)",
                        ovp_event_name(ev->type));
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    switch (ev->type)
    {
        case OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY:
            return auth(st, ev);

        case OPENVPN_PLUGIN_CLIENT_CONNECT_V2:
            if (st->conf.connect_defer_ms && cli)
            {
                cli->connect_started_ns = mono_ns();
                return OPENVPN_PLUGIN_FUNC_DEFERRED;
            }
            return connect_answer(st, ev);

        case OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2:
            if (cli && cli->connect_started_ns &&
                mono_ns() - cli->connect_started_ns <
                    (uint64_t)st->conf.connect_defer_ms * 1000000u)
            {
                return OPENVPN_PLUGIN_FUNC_DEFERRED;
            }
            return connect_answer(st, ev);

        case OPENVPN_PLUGIN_CLIENT_CONNECT:
        {
            /* v1: the directives go to the file named in argv[1] */
            struct ovp_ccfg c = {0};
            const char *file = ovp_argv_get(ev->argv, 1);
            int rc = OPENVPN_PLUGIN_FUNC_SUCCESS;

            for (size_t i = 0; i < st->conf.ccfg.n; i++)
            {
                ovp_ccfg_add(&c, st->conf.ccfg.v[i]);
            }
            if (c.len && (!file || ovp_ccfg_write_file(&c, file) < 0))
            {
                rc = OPENVPN_PLUGIN_FUNC_ERROR;
            }
            ovp_ccfg_clear(&c);
            return rc;
        }

        default:
            return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
}

/* ------------------------------------------------------------ open / close */

/*
 * OpenVPN's `user`/`group` for a core that has none: the whole process, for good
 * (setgroups, setgid, setuid), after the first open, as OpenVPN does after opening
 * its plugins. Every later reopen (SIGHUP) then runs without root.
 */
static int
drop_privileges(struct ovp_log *log, const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (!pw)
    {
        ovp_err(log, "drop_to: no user %s", user);
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
    {
        ovp_logf(log, PLOG_ERR | PLOG_ERRNO, "drop_to: cannot become %s", user);
        return -1;
    }
    /* setuid made the process undumpable; LeakSanitizer needs to ptrace it at exit. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    ovp_note(log, "dropped to user %s (uid %lu, gid %lu)", user, (unsigned long)pw->pw_uid,
             (unsigned long)pw->pw_gid);
    return 0;
}

static void
tp_close(struct ovp_plugin *p, void *state)
{
    struct tp_state *st = state;

    if (!st)
    {
        return;
    }
    ovp_defer_close(st->defer);
    reap_crashed(st, 1);
    record(st, "CLOSE", NULL, NULL, NULL);
    if (st->record_fd >= 0)
    {
        close(st->record_fd);
    }
    ovp_cfg_release(tp_keys, TP_NKEYS, &st->conf);
    free(st);
}

static int
tp_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    struct ovp_log *log = ovp_plugin_log(p);
    struct ovp_cfg_node *root = NULL;
    struct tp_state *st = calloc(1, sizeof(*st));
    unsigned mask = 0;
    char err[512], bad[64];

    if (!st)
    {
        return -1;
    }
    st->plugin = p;
    st->record_fd = -1;
    if (ovp_cfg_parse_args(argv + 1, ovp_argc(argv) ? ovp_argc(argv) - 1 : 0, &root, err,
                           sizeof(err)) < 0 ||
        ovp_cfg_bind(root, tp_keys, TP_NKEYS, &st->conf, NULL, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    /* e.g. a config or secret file kept from before the privilege drop */
    for (size_t i = 0; i < ovp_cfg_warning_count(root); i++)
    {
        ovp_warn(log, "%s", ovp_cfg_warning(root, i));
    }
    ovp_cfg_free(root);
    root = NULL;
    if (parse_events(st->conf.events, &mask, bad, sizeof(bad)) < 0 ||
        parse_events(st->conf.fail_on, &st->fail_mask, bad, sizeof(bad)) < 0)
    {
        ovp_err(log, "unknown event '%s' (use OpenVPN's names, e.g. LEARN_ADDRESS, or all)",
                bad);
        goto fail;
    }
    if (st->conf.record)
    {
        st->record_fd = open(st->conf.record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (st->record_fd < 0)
        {
            ovp_logf(log, PLOG_ERR | PLOG_ERRNO, "cannot open record file %s", st->conf.record);
            goto fail;
        }
    }
    record(st, "OPEN", argv, envp, NULL);
    if (st->conf.fail_open)
    {
        ovp_err(log, "refusing to open (fail_open=yes)");
        goto fail;
    }
    if (st->conf.mode == 1)
    {
        struct ovp_defer_conf dc = {
            .workers = (unsigned)st->conf.workers,
            .queue_max = (unsigned)st->conf.queue_max,
            .deadline_ms = (unsigned)st->conf.deadline_ms,
            .what = "test backend",
        };
        struct ovp_defer_ops ops = {.run = worker_run, .cancel = NULL};

        st->defer = ovp_defer_new(&dc, &ops, st, log, err, sizeof(err));
        if (!st->defer)
        {
            ovp_err(log, "%s", err);
            goto fail;
        }
    }
    if (st->conf.drop_to && geteuid() == 0 && drop_privileges(log, st->conf.drop_to) < 0)
    {
        goto fail;
    }
    ovp_plugin_set_events(p, mask);
    ovp_note(log, "ready: mode=%s events=%s", modes[st->conf.mode], st->conf.events);
    *state = st;
    return 0;

fail:
    ovp_cfg_free(root);
    if (st->record_fd >= 0)
    {
        close(st->record_fd);
    }
    ovp_cfg_release(tp_keys, TP_NKEYS, &st->conf);
    free(st);
    return -1;
}

static void *
tp_client_new(struct ovp_plugin *p, void *state)
{
    struct tp_state *st = state;
    struct tp_client *c = calloc(1, sizeof(*c));

    if (c)
    {
        c->id = st->next_client++;
    }
    return c;
}

static void
tp_client_free(struct ovp_plugin *p, void *state, void *client)
{
    free(client);
}

static const struct ovp_plugin_desc tp_desc = {
    .name = "ovp-test-plugin",
    .events = 0,
    /* every event 2.6 has; open keeps those named by events= */
    .optional_events = ((1u << OPENVPN_PLUGIN_N) - 1) & ~(1u << 11),
    .open = tp_open,
    .event = tp_event,
    .close = tp_close,
    .client_new = tp_client_new,
    .client_free = tp_client_free,
};

OVP_PLUGIN(tp_desc);

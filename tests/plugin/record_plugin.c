/* record_plugin.c: ovp-record.so, records every call a host makes, for differential tests. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openvpn/openvpn-plugin.h>

/*
 * Written straight against openvpn-plugin.h, not on common/plugin.c: it must see what the
 * host really does (every init point, every return code, contexts as the host makes them),
 * with no framework in between. Each call appends one JSON object on one line to the file
 * named by `out=FILE` (or by a first argument without '='):
 *
 *   {"seq":3,"who":"r0","event":"AUTH_USER_PASS_VERIFY","ctx":2,"depth":-1,
 *    "argv":["/path/ovp-record.so","out=..."],"env":["username=alice",...],"ret":"DEFERRED"}
 *
 * env is in the host's order; bytes outside printable ASCII are \u00XX escapes of the byte.
 * ctx numbers the per-client contexts in construction order (0: none). Words (all optional):
 *   name=LABEL            "who" in each record (default r0)
 *   events=A,B|all        events registered (OpenVPN's names without OPENVPN_PLUGIN_; all =
 *                         every 2.6 event but the v1 CLIENT_CONNECT_DEFER)
 *   fail=A,B              events answered ERROR
 *   defer=A,B             AUTH_USER_PASS_VERIFY and CLIENT_CONNECT_V2 answered DEFERRED
 *   answer_ms=N           a deferred auth's control file is written N ms later (default 200)
 *                         by a detached child; a deferred connect's DEFER_V2 says DEFERRED
 *                         until N ms have passed
 *   auth_answer=1|0       what the control file gets (default 1)
 *   cc_answer=1|0         DEFER_V2's final answer: SUCCESS or ERROR (default 1)
 *   reason=TEXT, reason_len=N   written to auth_failed_reason_file when refusing an auth
 *                         (reason_len: TEXT padded with 'r' to N bytes)
 *   pending_len=N         before deferring an auth, write auth_pending_file whose third line
 *                         is "CR_TEXT:E,R:" padded with 'p' to N bytes
 *   pending_timeout=N, pending_method=M   its first and second lines (60, crtext)
 * The initialisation point (select_initialization_point_v1) is asked for before open, so
 * it comes from the environment: OVP_RECORD_INIT=PRE_CONFIG_PARSE|PRE_DAEMON|POST_DAEMON|
 * POST_UID_CHANGE.
 * Any other word is recorded (it is in argv) and otherwise ignored: lines at OpenVPN's
 * length limits are padded with such words.
 */

#define RP_LINE_MAX (1 << 20)
/* the tree builds with -fvisibility=hidden; the API symbols are this file's exports */
#define RP_EXPORT __attribute__((visibility("default")))

static const char *const ev_names[OPENVPN_PLUGIN_N] = {
    "UP",
    "DOWN",
    "ROUTE_UP",
    "IPCHANGE",
    "TLS_VERIFY",
    "AUTH_USER_PASS_VERIFY",
    "CLIENT_CONNECT",
    "CLIENT_DISCONNECT",
    "LEARN_ADDRESS",
    "CLIENT_CONNECT_V2",
    "TLS_FINAL",
    "ENABLE_PF",
    "ROUTE_PREDOWN",
    "CLIENT_CONNECT_DEFER",
    "CLIENT_CONNECT_DEFER_V2",
    "CLIENT_CRRESPONSE",
};

struct rp
{
    char *out;
    char name[64];
    int fd;
    unsigned mask, fail, defer;
    long answer_ms;
    int auth_answer, cc_answer;
    char *reason;
    long reason_len;
    long pending_len, pending_timeout;
    char pending_method[32];
    long seq;
    int next_ctx;
    plugin_log_t log;
};

struct rp_client
{
    int id;
    struct timespec cc_deferred_at; /* when CLIENT_CONNECT_V2 answered DEFERRED */
};

/* ------------------------------------------------------------ helpers */

static unsigned
parse_events(const char *list)
{
    unsigned m = 0;
    char *copy = strdup(list), *save = NULL;

    if (!copy)
    {
        return 0;
    }
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
    {
        if (strcmp(w, "all") == 0)
        {
            m |= 0xffffu & ~(OPENVPN_PLUGIN_MASK(11) |
                             OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER));
            continue;
        }
        for (int i = 0; i < OPENVPN_PLUGIN_N; i++)
        {
            if (strcmp(w, ev_names[i]) == 0)
            {
                m |= OPENVPN_PLUGIN_MASK(i);
            }
        }
    }
    free(copy);
    return m;
}

static int
parse_init_point(const char *v)
{
    if (strcmp(v, "PRE_CONFIG_PARSE") == 0)
    {
        return OPENVPN_PLUGIN_INIT_PRE_CONFIG_PARSE;
    }
    if (strcmp(v, "POST_DAEMON") == 0)
    {
        return OPENVPN_PLUGIN_INIT_POST_DAEMON;
    }
    if (strcmp(v, "POST_UID_CHANGE") == 0)
    {
        return OPENVPN_PLUGIN_INIT_POST_UID_CHANGE;
    }
    return OPENVPN_PLUGIN_INIT_PRE_DAEMON;
}

/* A JSON string of S into BUF at *OFF (bounded; a record that does not fit is cut). */
static void
put_json(char *buf, size_t *off, const char *s)
{
    size_t o = *off;

    if (o + 8 >= RP_LINE_MAX)
    {
        return;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < RP_LINE_MAX; p++)
    {
        if (*p == '"' || *p == '\\')
        {
            buf[o++] = '\\';
            buf[o++] = (char)*p;
        }
        else if (*p < 0x20 || *p >= 0x7f)
        {
            o += (size_t)snprintf(buf + o, 7, "\\u%04x", *p);
        }
        else
        {
            buf[o++] = (char)*p;
        }
    }
    buf[o++] = '"';
    *off = o;
}

static void
put_raw(char *buf, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off + 1 >= RP_LINE_MAX)
    {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + *off, RP_LINE_MAX - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
    {
        *off += (size_t)n < RP_LINE_MAX - *off ? (size_t)n : RP_LINE_MAX - *off - 1;
    }
}

static void
put_list(char *buf, size_t *off, const char *key, const char *const *v)
{
    put_raw(buf, off, ",\"%s\":[", key);
    for (int i = 0; v && v[i]; i++)
    {
        if (i)
        {
            put_raw(buf, off, ",");
        }
        put_json(buf, off, v[i]);
    }
    put_raw(buf, off, "]");
}

static const char *
ret_name(int r)
{
    switch (r)
    {
        case OPENVPN_PLUGIN_FUNC_SUCCESS:
            return "SUCCESS";
        case OPENVPN_PLUGIN_FUNC_ERROR:
            return "ERROR";
        case OPENVPN_PLUGIN_FUNC_DEFERRED:
            return "DEFERRED";
        default:
            return "?";
    }
}

/* Appends one record. Opened per record with O_APPEND: a reopened plugin (SIGHUP) and
 * several instances share the file; the host may have dropped privileges since open. */
static void
record(struct rp *rp, const char *event, int ctx, int depth, const char *const *argv,
       const char *const *envp, const char *ret)
{
    char *buf = malloc(RP_LINE_MAX);
    size_t off = 0;

    if (!buf)
    {
        return;
    }
    put_raw(buf, &off, "{\"seq\":%ld,\"who\":", rp->seq++);
    put_json(buf, &off, rp->name);
    put_raw(buf, &off, ",\"pid\":%ld,\"uid\":%ld,\"event\":\"%s\",\"ctx\":%d,\"depth\":%d",
            (long)getpid(), (long)geteuid(), event, ctx, depth);
    put_list(buf, &off, "argv", argv);
    put_list(buf, &off, "env", envp);
    put_raw(buf, &off, ",\"ret\":\"%s\"}\n", ret);
    if (rp->fd >= 0 && write(rp->fd, buf, off) < 0)
    {
        rp->log(PLOG_ERR | PLOG_ERRNO, "ovp-record", "cannot write %s", rp->out);
    }
    free(buf);
}

static const char *
env_get(const char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (int i = 0; envp && envp[i]; i++)
    {
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
        {
            return envp[i] + n + 1;
        }
    }
    return NULL;
}

/* Writes TEXT to the existing file PATH (the host made it; no create). */
static int
write_file(const char *path, const char *text, size_t len)
{
    int fd = path ? open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) : -1;
    int rc = -1;

    if (fd >= 0)
    {
        rc = write(fd, text, len) == (ssize_t)len ? 0 : -1;
        close(fd);
    }
    return rc;
}

/* TEXT padded with FILL up to LEN bytes (at least TEXT); malloc'd. */
static char *
padded(const char *text, long len, char fill)
{
    size_t t = strlen(text), n = len > (long)t ? (size_t)len : t;
    char *s = malloc(n + 1);

    if (s)
    {
        memcpy(s, text, t);
        memset(s + t, fill, n - t);
        s[n] = '\0';
    }
    return s;
}

static void
write_reason(struct rp *rp, const char *const *envp)
{
    char *r;

    if (!rp->reason && rp->reason_len <= 0)
    {
        return;
    }
    r = padded(rp->reason ? rp->reason : "", rp->reason_len, 'r');
    if (r)
    {
        write_file(env_get(envp, "auth_failed_reason_file"), r, strlen(r));
    }
    free(r);
}

/* A detached grandchild writes the control file later (nobody reaps it otherwise). */
static void
answer_later(struct rp *rp, const char *const *envp)
{
    const char *acf = env_get(envp, "auth_control_file");
    char *path = acf ? strdup(acf) : NULL;
    pid_t pid;

    if (!path)
    {
        return;
    }
    if (!rp->auth_answer)
    {
        write_reason(rp, envp); /* before the control file, as a plugin must */
    }
    pid = fork();
    if (pid == 0)
    {
        if (fork() == 0)
        {
            struct timespec ts = {rp->answer_ms / 1000, (rp->answer_ms % 1000) * 1000000L};

            nanosleep(&ts, NULL);
            write_file(path, rp->auth_answer ? "1" : "0", 1);
        }
        _exit(0);
    }
    if (pid > 0)
    {
        waitpid(pid, NULL, 0);
    }
    free(path);
}

static void
write_pending(struct rp *rp, const char *const *envp)
{
    char *text = padded("CR_TEXT:E,R:", rp->pending_len, 'p');
    char *all = NULL;
    int n;

    if (text)
    {
        n = asprintf(&all, "%ld\n%s\n%s\n", rp->pending_timeout, rp->pending_method, text);
        if (n > 0)
        {
            write_file(env_get(envp, "auth_pending_file"), all, (size_t)n);
        }
    }
    free(all);
    free(text);
}

static long
ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ------------------------------------------------------------ the API */

/*
 * The host asks at load time, before open and without the plugin's words, so the point
 * comes from the process environment: OVP_RECORD_INIT (a runner sets it for the host).
 */
RP_EXPORT int
openvpn_plugin_select_initialization_point_v1(void)
{
    const char *v = getenv("OVP_RECORD_INIT");

    return v ? parse_init_point(v) : OPENVPN_PLUGIN_INIT_PRE_DAEMON;
}

RP_EXPORT int
openvpn_plugin_min_version_required_v1(void)
{
    return 3;
}

RP_EXPORT int
openvpn_plugin_open_v3(const int version, struct openvpn_plugin_args_open_in const *in,
                       struct openvpn_plugin_args_open_return *ret)
{
    struct rp *rp = calloc(1, sizeof(*rp));

    if (!rp || version < 3)
    {
        free(rp);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    rp->fd = -1;
    rp->log = in->callbacks->plugin_log;
    snprintf(rp->name, sizeof(rp->name), "r0");
    rp->mask = parse_events("all");
    rp->answer_ms = 200;
    rp->auth_answer = rp->cc_answer = 1;
    rp->pending_timeout = 60;
    snprintf(rp->pending_method, sizeof(rp->pending_method), "crtext");
    for (int i = 1; in->argv[i]; i++)
    {
        const char *w = in->argv[i], *eq = strchr(w, '=');
        const char *v = eq ? eq + 1 : w;
        size_t k = eq ? (size_t)(eq - w) : 0;

#define KEY(s) (k == strlen(s) && strncmp(w, s, k) == 0)
        if (!eq && !rp->out)
        {
            rp->out = strdup(w);
        }
        else if (KEY("out"))
        {
            free(rp->out);
            rp->out = strdup(v);
        }
        else if (KEY("name"))
        {
            snprintf(rp->name, sizeof(rp->name), "%s", v);
        }
        else if (KEY("events"))
        {
            rp->mask = parse_events(v);
        }
        else if (KEY("fail"))
        {
            rp->fail = parse_events(v);
        }
        else if (KEY("defer"))
        {
            rp->defer = parse_events(v);
        }
        else if (KEY("answer_ms"))
        {
            rp->answer_ms = atol(v);
        }
        else if (KEY("auth_answer"))
        {
            rp->auth_answer = atoi(v);
        }
        else if (KEY("cc_answer"))
        {
            rp->cc_answer = atoi(v);
        }
        else if (KEY("reason"))
        {
            free(rp->reason);
            rp->reason = strdup(v);
        }
        else if (KEY("reason_len"))
        {
            rp->reason_len = atol(v);
        }
        else if (KEY("pending_len"))
        {
            rp->pending_len = atol(v);
        }
        else if (KEY("pending_timeout"))
        {
            rp->pending_timeout = atol(v);
        }
        else if (KEY("pending_method"))
        {
            snprintf(rp->pending_method, sizeof(rp->pending_method), "%s", v);
        }
#undef KEY
    }
    if (rp->out)
    {
        rp->fd = open(rp->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (rp->fd >= 0)
        {
            fchmod(rp->fd, 0666); /* a reopen after the privilege drop appends too */
        }
    }
    ret->type_mask = (int)rp->mask;
    ret->handle = (openvpn_plugin_handle_t *)rp;
    record(rp, "OPEN", 0, -1, (const char *const *)in->argv, (const char *const *)in->envp,
           "SUCCESS");
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}

RP_EXPORT void *
openvpn_plugin_client_constructor_v1(openvpn_plugin_handle_t handle)
{
    struct rp *rp = (struct rp *)handle;
    struct rp_client *c = calloc(1, sizeof(*c));

    if (c)
    {
        c->id = ++rp->next_ctx;
        record(rp, "CLIENT_CONSTRUCTOR", c->id, -1, NULL, NULL, "SUCCESS");
    }
    return c;
}

RP_EXPORT void
openvpn_plugin_client_destructor_v1(openvpn_plugin_handle_t handle, void *per_client_context)
{
    struct rp *rp = (struct rp *)handle;
    struct rp_client *c = per_client_context;

    record(rp, "CLIENT_DESTRUCTOR", c ? c->id : 0, -1, NULL, NULL, "SUCCESS");
    free(c);
}

RP_EXPORT int
openvpn_plugin_func_v3(const int version, struct openvpn_plugin_args_func_in const *in,
                       struct openvpn_plugin_args_func_return *ret)
{
    struct rp *rp = (struct rp *)in->handle;
    struct rp_client *c = in->per_client_context;
    const char *const *envp = (const char *const *)in->envp;
    int type = in->type, r = OPENVPN_PLUGIN_FUNC_SUCCESS;
    unsigned bit = OPENVPN_PLUGIN_MASK(type);

    (void)version;
    (void)ret;
    if (type < 0 || type >= OPENVPN_PLUGIN_N)
    {
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (type == OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2)
    {
        if (c && ms_since(&c->cc_deferred_at) < rp->answer_ms)
        {
            r = OPENVPN_PLUGIN_FUNC_DEFERRED;
        }
        else
        {
            r = rp->cc_answer ? OPENVPN_PLUGIN_FUNC_SUCCESS : OPENVPN_PLUGIN_FUNC_ERROR;
        }
        /* one record when it answers; the polls in between differ in number by design */
        if (r != OPENVPN_PLUGIN_FUNC_DEFERRED)
        {
            record(rp, ev_names[type], c ? c->id : 0, in->current_cert_depth,
                   (const char *const *)in->argv, envp, ret_name(r));
        }
        return r;
    }
    if (rp->fail & bit)
    {
        r = OPENVPN_PLUGIN_FUNC_ERROR;
        if (type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY)
        {
            write_reason(rp, envp);
        }
    }
    else if ((rp->defer & bit) && type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY)
    {
        if (rp->pending_len > 0)
        {
            write_pending(rp, envp);
        }
        answer_later(rp, envp);
        r = OPENVPN_PLUGIN_FUNC_DEFERRED;
    }
    else if ((rp->defer & bit) && type == OPENVPN_PLUGIN_CLIENT_CONNECT_V2 && c)
    {
        clock_gettime(CLOCK_MONOTONIC, &c->cc_deferred_at);
        r = OPENVPN_PLUGIN_FUNC_DEFERRED;
    }
    record(rp, ev_names[type], c ? c->id : 0, in->current_cert_depth,
           (const char *const *)in->argv, envp, ret_name(r));
    return r;
}

RP_EXPORT void
openvpn_plugin_close_v1(openvpn_plugin_handle_t handle)
{
    struct rp *rp = (struct rp *)handle;

    record(rp, "CLOSE", 0, -1, NULL, NULL, "SUCCESS");
    if (rp->fd >= 0)
    {
        close(rp->fd);
    }
    free(rp->out);
    free(rp->reason);
    free(rp);
}

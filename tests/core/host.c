/* host.c: hosting plugins with OpenVPN 2.6's exact semantics (src/openvpn/plugin.c). */
#include "ovpbuild.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "refcore.h"

/* What this host says it is (Debian 12's OpenVPN). */
#define HOST_VERSION       "2.6.14"
#define HOST_VERSION_MAJOR 2
#define HOST_VERSION_MINOR 6
#define HOST_VERSION_PATCH "14"

#define LOG_LINE_MAX 10240 /* OpenVPN's ERR_BUF_SIZE */

static pthread_t main_thread;
static int main_thread_set;
static atomic_ulong foreign_log_calls;

/* ------------------------------------------------------------------ callbacks */

/* plugin_vlog: level mapping, PLOG_ERRNO and the empty-name rule of OpenVPN. */
static void
cb_vlog(openvpn_plugin_log_flags_t flags, const char *name, const char *format, va_list arglist)
{
    int e = errno; /* M_ERRNO reports the errno at the time of the call */
    char text[LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 128];
    int level = 0;

    if (!format)
    {
        return;
    }
    if (main_thread_set && !pthread_equal(pthread_self(), main_thread))
    {
        /*
         * OpenVPN's log callback is not thread-safe: a plugin calling it from a
         * worker is a bug that may crash a real server. Say so (stdio is
         * thread-safe; the log book is not) and drop the line.
         */
        atomic_fetch_add(&foreign_log_calls, 1);
        fprintf(stderr,
                "ovp-refcore: WARNING: plugin '%s' called plugin_vlog from a "
                "thread other than the one that called it (OpenVPN's log is "
                "not thread-safe)\n",
                name ? name : "?");
        return;
    }
    if (!name || name[0] == '\0')
    {
        core_msg(7, "PLUGIN: suppressed log message from plugin with unknown name");
        return;
    }
    if (flags & PLOG_ERR)
    {
        level = 1;
    }
    else if (flags & PLOG_WARN)
    {
        level = 1;
    }
    else if (flags & PLOG_NOTE)
    {
        level = 1;
    }
    else if (flags & PLOG_DEBUG)
    {
        level = 7;
    }
    if (level > logbook_verb())
    {
        return;
    }
    vsnprintf(text, sizeof(text), format, arglist);
    if ((flags & PLOG_ERRNO) && e)
    {
        snprintf(line, sizeof(line), "PLUGIN %s: %s: %s (errno=%d)", name, text, strerror(e),
                 e);
    }
    else
    {
        snprintf(line, sizeof(line), "PLUGIN %s: %s", name, text);
    }
    logbook_line(level, line);
}

static void
cb_log(openvpn_plugin_log_flags_t flags, const char *name, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    cb_vlog(flags, name, format, ap);
    va_end(ap);
}

static void
cb_memzero(void *data, size_t len)
{
    wipe(data, len);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
host_base64_encode(const void *data, int size, char **str)
{
    const unsigned char *in = data;
    char *out, *o;

    if (size < 0)
    {
        return -1;
    }
    out = malloc((size_t)size / 3 * 4 + 5);
    if (!out)
    {
        return -1;
    }
    o = out;
    for (int i = 0; i < size; i += 3)
    {
        unsigned v = (unsigned)in[i] << 16;
        int left = size - i;

        if (left > 1)
        {
            v |= (unsigned)in[i + 1] << 8;
        }
        if (left > 2)
        {
            v |= in[i + 2];
        }
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = left > 2 ? b64_alphabet[v & 63] : '=';
    }
    *o = '\0';
    *str = out;
    return (int)(o - out);
}

static int
b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;

    return p ? (int)(p - b64_alphabet) : -1;
}

/*
 * Decodes whole 4-character groups until the text ends or a character outside
 * the alphabet (and '=') starts a group. SIZE < 0 means "no bound". Returns the
 * number of bytes written, or -1 on a malformed group or when DATA is too small.
 */
int
host_base64_decode(const char *str, void *data, int size)
{
    unsigned char *out = data;
    int n = 0;

    for (const char *p = str; *p && (*p == '=' || b64_value(*p) >= 0); p += 4)
    {
        unsigned v = 0;
        int pad = 0;

        for (int k = 0; k < 4; k++)
        {
            int d;

            if (p[k] == '\0')
            {
                return -1;
            }
            if (p[k] == '=')
            {
                pad++;
                d = 0;
            }
            else
            {
                d = b64_value(p[k]);
                if (d < 0 || pad)
                {
                    return -1;
                }
            }
            v = (v << 6) | (unsigned)d;
        }
        if (pad > 2)
        {
            return -1;
        }
        for (int k = 0; k < 3 - pad; k++)
        {
            if (size >= 0 && n >= size)
            {
                return -1;
            }
            out[n++] = (unsigned char)(v >> (16 - 8 * k));
        }
    }
    return n;
}

struct openvpn_plugin_callbacks host_callbacks = {
    cb_log, cb_vlog, cb_memzero, host_base64_encode, host_base64_decode,
};

/* ------------------------------------------------------------------- names */

const char *
host_type_name(int type)
{
    static const char *const names[OPENVPN_PLUGIN_N] = {
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

    if (type < 0 || type >= OPENVPN_PLUGIN_N)
    {
        return "???";
    }
    return names[type];
}

const char *
host_status_name(int status)
{
    static char buf[32];

    switch (status)
    {
        case OPENVPN_PLUGIN_FUNC_SUCCESS:
            return "SUCCESS";
        case OPENVPN_PLUGIN_FUNC_ERROR:
            return "ERROR";
        case OPENVPN_PLUGIN_FUNC_DEFERRED:
            return "DEFERRED";
        default:
            snprintf(buf, sizeof(buf), "status=%d", status);
            return buf;
    }
}

/* "PLUGIN_TLS_VERIFY|PLUGIN_AUTH_USER_PASS_VERIFY" for the init message. */
static void
mask_string(unsigned mask, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < OPENVPN_PLUGIN_N; i++)
    {
        if (mask & OPENVPN_PLUGIN_MASK(i))
        {
            off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%sPLUGIN_%s",
                                    off ? "|" : "", host_type_name(i));
        }
    }
}

/* ------------------------------------------------------------- load / open */

int
host_add(struct host *h, const char *path, const char *const *words, int n_words)
{
    struct host_plugin *p;

    if (h->n >= HOST_MAX_PLUGINS)
    {
        return -1;
    }
    p = &h->p[h->n++];
    memset(p, 0, sizeof(*p));
    p->argv = xcalloc((size_t)n_words + 2, sizeof(char *));
    p->argv[0] = xstrdup(path);
    for (int i = 0; i < n_words; i++)
    {
        p->argv[i + 1] = xstrdup(words[i]);
    }
    return 0;
}

static void *
resolve(struct host_plugin *p, const char *symbol, int required)
{
    void *sym;

    dlerror();
    sym = dlsym(p->dl, symbol);
    if (!sym && required)
    {
        const char *why = dlerror();

        core_fatal("PLUGIN: could not find required symbol '%s' in plugin shared object "
                   "%s: %s",
                   symbol, p->argv[0], why ? why : "undefined");
    }
    return sym;
}

/* plugin_init_item: dlopen and symbol lookup. */
static void
init_item(struct host_plugin *p)
{
    const char *so = p->argv[0];
    int rel = 0;

    /* a name that is neither absolute nor starts with '.' lives in the plugin dir */
    if (so[0] != '/' && so[0] != '.')
    {
        char full[PATH_MAX];

        snprintf(full, sizeof(full), "%s/%s", OPENVPN_PLUGINDIR, so);
        p->dl = dlopen(full, RTLD_NOW);
    }
    else
    {
        rel = so[0] != '/';
        p->dl = dlopen(so, RTLD_NOW);
    }
    if (!p->dl)
    {
        core_fatal("PLUGIN_INIT: could not load plugin shared object %s: %s", so, dlerror());
    }

    /* object pointers to function pointers: POSIX guarantees this works for dlsym */
#define SYM(field, name, req) *(void **)(&p->field) = resolve(p, name, req)
    SYM(open1, "openvpn_plugin_open_v1", 0);
    SYM(open2, "openvpn_plugin_open_v2", 0);
    SYM(open3, "openvpn_plugin_open_v3", 0);
    SYM(func1, "openvpn_plugin_func_v1", 0);
    SYM(func2, "openvpn_plugin_func_v2", 0);
    SYM(func3, "openvpn_plugin_func_v3", 0);
    SYM(close, "openvpn_plugin_close_v1", 1);
    SYM(abort, "openvpn_plugin_abort_v1", 0);
    SYM(client_constructor, "openvpn_plugin_client_constructor_v1", 0);
    SYM(client_destructor, "openvpn_plugin_client_destructor_v1", 0);
    SYM(min_version_required, "openvpn_plugin_min_version_required_v1", 0);
    SYM(initialization_point, "openvpn_plugin_select_initialization_point_v1", 0);
#undef SYM

    if (!p->open1 && !p->open2 && !p->open3)
    {
        core_fatal("PLUGIN: symbol openvpn_plugin_open_vX is undefined in plugin: %s", so);
    }
    if (!p->func1 && !p->func2 && !p->func3)
    {
        core_fatal("PLUGIN: symbol openvpn_plugin_func_vX is undefined in plugin: %s", so);
    }
    if (p->min_version_required)
    {
        int need = p->min_version_required();

        if (need > OPENVPN_PLUGIN_VERSION)
        {
            core_fatal("PLUGIN_INIT: plugin needs interface version %d, but this version "
                       "of OpenVPN only supports version %d: %s",
                       need, OPENVPN_PLUGIN_VERSION, so);
        }
    }
    p->init_point =
        p->initialization_point ? p->initialization_point() : OPENVPN_PLUGIN_INIT_PRE_DAEMON;
    if (rel)
    {
        core_msg(1,
                 "WARNING: plugin '%s' specified by a relative pathname -- using an "
                 "absolute pathname would be more secure",
                 so);
    }
    p->mask = HOST_TYPE_MASK;
    p->initialized = 1;
}

/* plugin_open_item: open v3, else v2, else v1, then the checks. */
static void
open_item(struct host_plugin *p, const char **envp)
{
    const char **argv = (const char **)p->argv;
    char maskbuf[512];

    if (p->open3)
    {
        struct openvpn_plugin_args_open_in in = {
            .type_mask = (int)p->mask,
            .argv = argv,
            .envp = envp,
            .callbacks = &host_callbacks,
            .ssl_api = SSLAPI_OPENSSL,
            .ovpn_version = HOST_VERSION,
            .ovpn_version_major = HOST_VERSION_MAJOR,
            .ovpn_version_minor = HOST_VERSION_MINOR,
            .ovpn_version_patch = HOST_VERSION_PATCH,
        };
        struct openvpn_plugin_args_open_return out;

        memset(&out, 0, sizeof(out));
        out.return_list = NULL; /* servers open at PRE_DAEMON without a return list */
        if (p->open3(OPENVPN_PLUGINv3_STRUCTVER, &in, &out) == OPENVPN_PLUGIN_FUNC_SUCCESS)
        {
            p->mask = (unsigned)out.type_mask;
            p->handle = out.handle;
        }
        else
        {
            p->handle = NULL;
        }
    }
    else if (p->open2)
    {
        p->handle = p->open2(&p->mask, argv, envp, NULL);
    }
    else
    {
        p->handle = p->open1(&p->mask, argv, envp);
    }

    mask_string(p->mask, maskbuf, sizeof(maskbuf));
    core_msg(3, "PLUGIN_INIT: POST %s intercepted=%s", p->argv[0], maskbuf);
    if ((p->mask | HOST_TYPE_MASK) != HOST_TYPE_MASK)
    {
        core_fatal("PLUGIN_INIT: plugin %s expressed interest in unsupported plugin types: "
                   "[want=0x%08x, have=0x%08x]",
                   p->argv[0], p->mask, HOST_TYPE_MASK);
    }
    if (!p->handle)
    {
        core_fatal("PLUGIN_INIT: plugin initialization function failed: %s", p->argv[0]);
    }
}

void
host_open(struct host *h, const struct envset *env, int init_point)
{
    const char **envp;

    if (!main_thread_set)
    {
        main_thread = pthread_self();
        main_thread_set = 1;
    }
    if (!h->opened)
    {
        /* plugin_list_init: every plugin is loaded before any is opened */
        for (int i = 0; i < h->n; i++)
        {
            init_item(&h->p[i]);
        }
        core_set_fatal_host(h);
        memset(&h->top, 0, sizeof(h->top));
        h->opened = 1;
    }
    /* plugin_list_open at INIT_POINT: only the plugins that asked for it, then their
     * server's own per-client context (plugin_per_client_init with the same point) */
    envp = envset_array(env);
    for (int i = 0; i < h->n; i++)
    {
        if (h->p[i].init_point == init_point)
        {
            open_item(&h->p[i], envp);
        }
    }
    free(envp);
    for (int i = 0; i < h->n; i++)
    {
        struct host_plugin *p = &h->p[i];

        if (p->init_point == init_point && p->handle && p->client_constructor)
        {
            h->top.ctx[i] = p->client_constructor(p->handle);
        }
    }
}

/* ------------------------------------------------------------------- calls */

int
host_defined(const struct host *h, int type)
{
    for (int i = 0; i < h->n; i++)
    {
        if (h->p[i].handle && (h->p[i].mask & OPENVPN_PLUGIN_MASK(type)))
        {
            return 1;
        }
    }
    return 0;
}

static void
note_stall(struct host *h, uint64_t ns)
{
    if (!h->keep_stall)
    {
        return;
    }
    if (h->n_stall == h->cap_stall)
    {
        h->cap_stall = h->cap_stall ? h->cap_stall * 2 : 4096;
        h->stall = xrealloc(h->stall, h->cap_stall * sizeof(uint64_t));
    }
    h->stall[h->n_stall++] = ns;
}

static void
note_call(struct host *h, int type, int index, const char **argv, size_t n_env, int status,
          uint64_t ns)
{
    char line[1024];
    size_t off;

    h->calls_by_type[type]++;
    if (!h->keep_calls)
    {
        return;
    }
    off = (size_t)snprintf(line, sizeof(line), "%s", host_type_name(type));
    for (int i = 1; argv[i] && off < sizeof(line); i++)
    {
        off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", argv[i]);
    }
    if (off < sizeof(line))
    {
        snprintf(line + off, sizeof(line) - off, " -> %s [plugin %d, env %zu, %.0f us]",
                 host_status_name(status), index, n_env, (double)ns / 1000.0);
    }
    if (h->n_calls == h->cap_calls)
    {
        h->cap_calls = h->cap_calls ? h->cap_calls * 2 : 256;
        h->calls = xrealloc(h->calls, h->cap_calls * sizeof(char *));
    }
    h->calls[h->n_calls++] = xstrdup(line);
}

/* plugin_call_item: one plugin, with argv = { so_pathname, ARGS... }. */
static int
call_item(struct host *h, int index, void *ctx, int type, const char *const *args,
          struct openvpn_plugin_string_list **retlist, const char **envp, size_t n_env)
{
    struct host_plugin *p = &h->p[index];
    const char *argv[64];
    size_t n = 0;
    int status = OPENVPN_PLUGIN_FUNC_SUCCESS;
    uint64_t t0, dt;

    if (retlist)
    {
        *retlist = NULL;
    }
    if (!p->handle || !(p->mask & OPENVPN_PLUGIN_MASK(type)))
    {
        return status;
    }
    argv[n++] = p->argv[0];
    for (size_t i = 0; args && args[i] && n < 63; i++)
    {
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    t0 = now_ns();
    if (p->func3)
    {
        struct openvpn_plugin_args_func_in in = {
            .type = type,
            .argv = argv,
            .envp = envp,
            .handle = p->handle,
            .per_client_context = ctx,
            /* no certificate object exists here: OpenVPN passes -1 without one */
            .current_cert_depth = -1,
            .current_cert = NULL,
        };
        struct openvpn_plugin_args_func_return out;

        memset(&out, 0, sizeof(out));
        out.return_list = retlist;
        status = p->func3(OPENVPN_PLUGINv3_STRUCTVER, &in, &out);
    }
    else if (p->func2)
    {
        status = p->func2(p->handle, type, argv, envp, ctx, retlist);
    }
    else
    {
        status = p->func1(p->handle, type, argv, envp);
    }
    dt = now_ns() - t0;
    note_stall(h, dt);
    note_call(h, type, index, argv, n_env, status, dt);

    core_msg(3, "PLUGIN_CALL: POST %s/PLUGIN_%s status=%d", p->argv[0], host_type_name(type),
             status);
    if (status == OPENVPN_PLUGIN_FUNC_ERROR)
    {
        core_msg(1, "PLUGIN_CALL: plugin function PLUGIN_%s failed with status %d: %s",
                 host_type_name(type), status, p->argv[0]);
    }
    return status;
}

int
host_call(struct host *h, int type, const char *const *args, struct envset *es,
          struct host_client *cli, struct host_return *ret)
{
    const char **envp;
    size_t n_env;
    int error = 0, deferred = 0;
    int i;

    if (ret)
    {
        ret->n = 0;
    }
    if (!host_defined(h, type))
    {
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    envset_del(es, "script_type");
    envp = envset_array(es);
    n_env = envset_count(es);
    if (!cli)
    {
        cli = &h->top;
    }
    for (i = 0; i < h->n; i++)
    {
        int status =
            call_item(h, i, cli->ctx[i], type, args, ret ? &ret->list[i] : NULL, envp, n_env);

        switch (status)
        {
            case OPENVPN_PLUGIN_FUNC_SUCCESS:
                break;
            case OPENVPN_PLUGIN_FUNC_DEFERRED:
                if (type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY && deferred)
                {
                    free(envp);
                    if (ret)
                    {
                        ret->n = i + 1;
                    }
                    core_fatal("Exiting due to multiple authentication plug-ins performing "
                               "deferred authentication. Only one authentication plug-in "
                               "doing deferred auth is allowed. Ignoring the result and "
                               "stopping now, the current authentication result is not to "
                               "be trusted.");
                }
                deferred = 1;
                break;
            default:
                error = 1;
                break;
        }
    }
    if (ret)
    {
        ret->n = i;
    }
    free(envp);
    if (error)
    {
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    return deferred ? OPENVPN_PLUGIN_FUNC_DEFERRED : OPENVPN_PLUGIN_FUNC_SUCCESS;
}

void
host_client_init(struct host *h, struct host_client *cli)
{
    memset(cli, 0, sizeof(*cli));
    for (int i = 0; i < h->n; i++)
    {
        struct host_plugin *p = &h->p[i];

        if (p->handle && p->client_constructor)
        {
            cli->ctx[i] = p->client_constructor(p->handle);
        }
    }
}

void
host_client_free(struct host *h, struct host_client *cli)
{
    for (int i = 0; i < h->n; i++)
    {
        struct host_plugin *p = &h->p[i];

        if (p->client_destructor && cli->ctx[i])
        {
            p->client_destructor(p->handle, cli->ctx[i]);
        }
    }
    memset(cli, 0, sizeof(*cli));
}

void
host_return_column(const struct host_return *ret, const char *name,
                   const char *values[HOST_MAX_PLUGINS])
{
    for (int i = 0; i < HOST_MAX_PLUGINS; i++)
    {
        values[i] = NULL;
    }
    for (int i = 0; i < ret->n; i++)
    {
        for (const struct openvpn_plugin_string_list *l = ret->list[i]; l; l = l->next)
        {
            if (l->name && strcmp(l->name, name) == 0)
            {
                values[i] = l->value;
                break;
            }
        }
    }
}

void
host_return_free(struct host_return *ret)
{
    for (int i = 0; i < ret->n; i++)
    {
        struct openvpn_plugin_string_list *l = ret->list[i];

        while (l)
        {
            struct openvpn_plugin_string_list *next = l->next;

            free(l->name);
            if (l->value)
            {
                wipe(l->value, strlen(l->value));
            }
            free(l->value);
            free(l);
            l = next;
        }
        ret->list[i] = NULL;
    }
    ret->n = 0;
}

void
host_close(struct host *h)
{
    if (!h->opened)
    {
        return;
    }
    host_client_free(h, &h->top);
    for (int i = 0; i < h->n; i++)
    {
        struct host_plugin *p = &h->p[i];

        if (!p->initialized)
        {
            continue;
        }
        core_msg(3, "PLUGIN_CLOSE: %s", p->argv[0]);
        if (p->handle)
        {
            p->close(p->handle);
        }
        if (dlclose(p->dl))
        {
            core_msg(1, "PLUGIN_CLOSE: dlclose() failed on plugin: %s", p->argv[0]);
        }
        p->dl = NULL;
        p->handle = NULL;
        p->initialized = 0;
    }
    h->opened = 0;
    core_set_fatal_host(NULL);
    if (atomic_load(&foreign_log_calls))
    {
        core_msg(1, "WARNING: %lu plugin log calls came from threads other than the host's",
                 (unsigned long)atomic_load(&foreign_log_calls));
    }
}

void
host_abort(struct host *h)
{
    for (int i = 0; i < h->n; i++)
    {
        struct host_plugin *p = &h->p[i];

        /* as plugin_abort: every loaded plugin, even one whose open failed */
        if (p->initialized && p->abort)
        {
            p->abort(p->handle);
        }
    }
}

void
host_free(struct host *h)
{
    for (int i = 0; i < h->n; i++)
    {
        for (char **a = h->p[i].argv; a && *a; a++)
        {
            free(*a);
        }
        free(h->p[i].argv);
        h->p[i].argv = NULL;
    }
    for (size_t i = 0; i < h->n_calls; i++)
    {
        free(h->calls[i]);
    }
    free(h->calls);
    free(h->stall);
    h->calls = NULL;
    h->stall = NULL;
    h->n = 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

void
host_stall_stats(const struct host *h, double *p50_us, double *p99_us, double *max_us,
                 size_t *n)
{
    uint64_t *v;
    size_t k = h->n_stall;

    *p50_us = *p99_us = *max_us = 0;
    *n = k;
    if (k == 0)
    {
        return;
    }
    v = xmalloc(k * sizeof(uint64_t));
    memcpy(v, h->stall, k * sizeof(uint64_t));
    qsort(v, k, sizeof(uint64_t), cmp_u64);
    *p50_us = (double)v[(k - 1) / 2] / 1000.0;
    *p99_us = (double)v[(k * 99 + 99) / 100 - 1] / 1000.0;
    *max_us = (double)v[k - 1] / 1000.0;
    free(v);
}

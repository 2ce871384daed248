/* plugin.c: the one place exporting OpenVPN's plugin entry points, built on a descriptor. */
#include "ovpbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "defer.h"
#include "plugin.h"

/* -fvisibility=hidden hides everything else; the .exports fence checks this set. */
#define OVP_EXPORT __attribute__((visibility("default")))

struct ovp_plugin
{
    const struct ovp_plugin_desc *desc;
    struct ovp_log *log;
    const struct openvpn_plugin_callbacks *cb;
    unsigned host_mask; /* what the host offered */
    unsigned mask;      /* what we registered */
    void *state;        /* the plugin's own, from desc->open */
};

static const char *const event_names[OPENVPN_PLUGIN_N] = {
    [OPENVPN_PLUGIN_UP] = "UP",
    [OPENVPN_PLUGIN_DOWN] = "DOWN",
    [OPENVPN_PLUGIN_ROUTE_UP] = "ROUTE_UP",
    [OPENVPN_PLUGIN_IPCHANGE] = "IPCHANGE",
    [OPENVPN_PLUGIN_TLS_VERIFY] = "TLS_VERIFY",
    [OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY] = "AUTH_USER_PASS_VERIFY",
    [OPENVPN_PLUGIN_CLIENT_CONNECT] = "CLIENT_CONNECT",
    [OPENVPN_PLUGIN_CLIENT_DISCONNECT] = "CLIENT_DISCONNECT",
    [OPENVPN_PLUGIN_LEARN_ADDRESS] = "LEARN_ADDRESS",
    [OPENVPN_PLUGIN_CLIENT_CONNECT_V2] = "CLIENT_CONNECT_V2",
    [OPENVPN_PLUGIN_TLS_FINAL] = "TLS_FINAL",
    [11] = "ENABLE_PF",
    [OPENVPN_PLUGIN_ROUTE_PREDOWN] = "ROUTE_PREDOWN",
    [OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER] = "CLIENT_CONNECT_DEFER",
    [OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2] = "CLIENT_CONNECT_DEFER_V2",
    [OPENVPN_PLUGIN_CLIENT_CRRESPONSE] = "CLIENT_CRRESPONSE",
};

const char *
ovp_event_name(int type)
{
    if (type >= 0 && type < OPENVPN_PLUGIN_N && event_names[type])
    {
        return event_names[type];
    }
    return "UNKNOWN";
}

struct ovp_log *
ovp_plugin_log(struct ovp_plugin *p)
{
    return p ? p->log : NULL;
}

const struct openvpn_plugin_callbacks *
ovp_plugin_callbacks(struct ovp_plugin *p)
{
    return p ? p->cb : NULL;
}

unsigned
ovp_plugin_host_mask(const struct ovp_plugin *p)
{
    return p ? p->host_mask : 0;
}

int
ovp_plugin_has_event(const struct ovp_plugin *p, int event)
{
    return p && event >= 0 && event < OPENVPN_PLUGIN_N &&
           (p->mask & OPENVPN_PLUGIN_MASK(event)) != 0;
}

unsigned
ovp_plugin_set_events(struct ovp_plugin *p, unsigned mask)
{
    if (!p)
    {
        return 0;
    }
    p->mask = mask & (p->desc->events | p->desc->optional_events) & p->host_mask;
    return p->mask;
}

/* Names the events in MASK into BUF, comma-separated. */
static void
mask_names(unsigned mask, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < OPENVPN_PLUGIN_N && off < len; i++)
    {
        if (mask & OPENVPN_PLUGIN_MASK(i))
        {
            int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", ovp_event_name(i));
            off = (n < 0 || (size_t)n >= len - off) ? len : off + (size_t)n;
        }
    }
}

static const char *const empty_list[] = {NULL};

/* Which events may answer DEFERRED; anything else doing so is a plugin bug. */
static int
may_defer(int type)
{
    /* DEFERRED from the DEFER calls means "not yet, ask again" (multi.c) */
    return type == OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY ||
           type == OPENVPN_PLUGIN_CLIENT_CONNECT || type == OPENVPN_PLUGIN_CLIENT_CONNECT_V2 ||
           type == OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER ||
           type == OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2;
}

OVP_EXPORT int
openvpn_plugin_min_version_required_v1(void)
{
    return 3;
}

OVP_EXPORT int
openvpn_plugin_open_v3(const int version, struct openvpn_plugin_args_open_in const *in,
                       struct openvpn_plugin_args_open_return *ret)
{
    const struct ovp_plugin_desc *desc = ovp_plugin_descriptor;
    struct ovp_plugin *p = NULL;

    if (!in || !ret || !desc)
    {
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    /* Older structs lack fields we read (callbacks, type_mask as used here). */
    if (version < OPENVPN_PLUGINv3_STRUCTVER)
    {
        fprintf(stderr,
                "%s: needs OpenVPN 2.5 or newer (plugin struct version %d, host has %d)\n",
                desc->name, OPENVPN_PLUGINv3_STRUCTVER, version);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    const char *const *argv = in->argv ? (const char *const *)in->argv : empty_list;
    const char *const *envp = in->envp ? (const char *const *)in->envp : empty_list;

    p = calloc(1, sizeof(*p));
    if (!p)
    {
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    p->desc = desc;
    p->cb = in->callbacks;
    p->host_mask = (unsigned)in->type_mask;
    long verb = 1;
    if (ovp_env_get_long(envp, "verb", 0, 15, &verb) < 0)
    {
        verb = 1;
    }
    p->log = ovp_log_new(desc->name, in->callbacks ? in->callbacks->plugin_vlog : NULL,
                         (int)verb, OVP_LOG_QUEUE_DEFAULT);
    if (!p->log)
    {
        goto fail;
    }

    /* Asking the host for events it lacks is fatal to it: check first, say which. */
    unsigned missing = desc->events & ~p->host_mask;
    if (missing)
    {
        char names[256];
        mask_names(missing, names, sizeof(names));
        ovp_err(p->log,
                "this OpenVPN does not offer the event(s) %s that %s needs "
                "(OpenVPN 2.6 or newer is required)",
                names, desc->name);
        goto fail;
    }
    p->mask = desc->events | (desc->optional_events & p->host_mask);

    if (desc->open(p, argv, envp, &p->state) < 0)
    {
        ovp_err(p->log, "not loaded: see the previous message(s)");
        goto fail;
    }
    ret->type_mask = (int)p->mask;
    ret->handle = p;
    ovp_log_drain(p->log);
    return OPENVPN_PLUGIN_FUNC_SUCCESS;

fail:
    if (p)
    {
        ovp_log_free(p->log);
        free(p);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

OVP_EXPORT int
openvpn_plugin_func_v3(const int version, struct openvpn_plugin_args_func_in const *in,
                       struct openvpn_plugin_args_func_return *ret)
{
    (void)version;
    if (!in || !in->handle)
    {
        return OPENVPN_PLUGIN_FUNC_ERROR; /* fail closed */
    }
    struct ovp_plugin *p = in->handle;
    ovp_log_drain(p->log);

    if (!ovp_plugin_has_event(p, in->type))
    {
        ovp_err(p->log, "called for event %s that was not registered: refusing",
                ovp_event_name(in->type));
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    struct ovp_event ev = {
        .type = in->type,
        .argv = in->argv ? (const char *const *)in->argv : empty_list,
        .envp = in->envp ? (const char *const *)in->envp : empty_list,
        .client = in->per_client_context,
        .return_list = NULL,
    };
    if (ret && (in->type == OPENVPN_PLUGIN_CLIENT_CONNECT_V2 ||
                in->type == OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2))
    {
        ev.return_list = ret->return_list;
    }
    ovp_client_id_from_env(&ev.who, ev.envp);

    int rc = p->desc->event(p, p->state, &ev);
    switch (rc)
    {
        case OPENVPN_PLUGIN_FUNC_SUCCESS:
        case OPENVPN_PLUGIN_FUNC_ERROR:
            return rc;

        case OPENVPN_PLUGIN_FUNC_DEFERRED:
            if (may_defer(in->type))
            {
                return rc;
            }
            ovp_logf_client(p->log, &ev.who, PLOG_ERR,
                            "internal error: %s cannot be deferred; failing it",
                            ovp_event_name(in->type));
            return OPENVPN_PLUGIN_FUNC_ERROR;

        default:
            ovp_logf_client(p->log, &ev.who, PLOG_ERR,
                            "internal error: %s returned %d; failing it",
                            ovp_event_name(in->type), rc);
            return OPENVPN_PLUGIN_FUNC_ERROR;
    }
}

OVP_EXPORT void
openvpn_plugin_close_v1(openvpn_plugin_handle_t handle)
{
    struct ovp_plugin *p = handle;
    if (!p)
    {
        return;
    }
    ovp_log_drain(p->log);
    if (p->desc->close)
    {
        p->desc->close(p, p->state);
    }
    ovp_log_free(p->log); /* drains what workers logged while stopping */
    free(p);
}

OVP_EXPORT void
openvpn_plugin_abort_v1(openvpn_plugin_handle_t handle)
{
    struct ovp_plugin *p = handle;
    if (!p)
    {
        return;
    }
    ovp_log_drain(p->log);
    if (p->desc->abort)
    {
        p->desc->abort(p, p->state);
    }
    ovp_log_drain(p->log);
}

OVP_EXPORT void *
openvpn_plugin_client_constructor_v1(openvpn_plugin_handle_t handle)
{
    struct ovp_plugin *p = handle;
    if (!p || !p->desc->client_new)
    {
        return NULL;
    }
    ovp_log_drain(p->log);
    return p->desc->client_new(p, p->state);
}

OVP_EXPORT void
openvpn_plugin_client_destructor_v1(openvpn_plugin_handle_t handle, void *per_client_context)
{
    struct ovp_plugin *p = handle;
    if (!p || !per_client_context)
    {
        return;
    }
    ovp_log_drain(p->log);
    if (p->desc->client_free)
    {
        p->desc->client_free(p, p->state, per_client_context);
    }
}

int
ovp_plugin_refuse_auth(struct ovp_log *log, const struct ovp_event *ev, const char *reason)
{
    char err[256];
    const char *rf = ev ? ovp_env_get_nonempty(ev->envp, "auth_failed_reason_file") : NULL;
    if (rf && ovp_auth_write_reason(rf, reason, err, sizeof(err)) < 0)
    {
        ovp_logf_client(log, &ev->who, PLOG_ERR, "cannot write the reason: %s", err);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

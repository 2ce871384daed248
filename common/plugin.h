/* plugin.h: the plugin framework: one descriptor per plugin, OpenVPN's entry points here. */
#ifndef OVP_PLUGIN_H
#define OVP_PLUGIN_H

#include <openvpn/openvpn-plugin.h>
#include "log.h"

struct ovp_plugin;

/* One call from the host, as the plugin's event callback sees it. */
struct ovp_event
{
    int type;                 /* OPENVPN_PLUGIN_* */
    const char *const *argv;  /* borrowed, valid during the call; never NULL */
    const char *const *envp;  /* borrowed, valid during the call; never NULL */
    void *client;             /* from client_new, or NULL */
    struct ovp_client_id who; /* "[cn@ip:port]" from envp (empty env: "[?]") */
    struct openvpn_plugin_string_list **return_list; /* v2 client-connect only, else NULL */
};

/*
 * What a plugin is. Each plugin defines one static const descriptor and names it
 * with OVP_PLUGIN(); common/plugin.c implements every OpenVPN entry point on it.
 */
struct ovp_plugin_desc
{
    const char *name;         /* module name in log lines, e.g. "ovp-auth-pam" */
    unsigned events;          /* OPENVPN_PLUGIN_MASK bits the plugin needs */
    unsigned optional_events; /* bits taken only when the host supports them */

    /*
     * Parses ARGV (argv[0] is the .so path; borrowed) and sets up. Runs at open,
     * as root before OpenVPN drops privileges: fork helpers here, before threads.
     * Returns 0 with *STATE set, or -1 after logging why (open then fails).
     */
    int (*open)(struct ovp_plugin *p, const char *const *argv, const char *const *envp,
                void **state);
    /* Handles one event. Returns OPENVPN_PLUGIN_FUNC_SUCCESS, _ERROR or _DEFERRED. */
    int (*event)(struct ovp_plugin *p, void *state, const struct ovp_event *ev);
    /* Releases STATE: join threads, reap children. Must not block for long. */
    void (*close)(struct ovp_plugin *p, void *state);
    /* Optional: OpenVPN is exiting abnormally; kill helpers, do not wait. */
    void (*abort)(struct ovp_plugin *p, void *state);
    /* Optional per-client context, created when a client instance is. */
    void *(*client_new)(struct ovp_plugin *p, void *state);
    void (*client_free)(struct ovp_plugin *p, void *state, void *client);
};

/* Names the descriptor of this .so. Use once, in the plugin's glue file. */
#define OVP_PLUGIN(desc) const struct ovp_plugin_desc *const ovp_plugin_descriptor = &(desc)

extern const struct ovp_plugin_desc *const ovp_plugin_descriptor;

/* The plugin's logger (valid from before open is called until after close). */
struct ovp_log *ovp_plugin_log(struct ovp_plugin *p);

/* The host's callbacks (log, secure_memzero, base64). */
const struct openvpn_plugin_callbacks *ovp_plugin_callbacks(struct ovp_plugin *p);

/* The event mask the host offered (in->type_mask). */
unsigned ovp_plugin_host_mask(const struct ovp_plugin *p);

/* 1 when EVENT was registered with the host (required, or optional and offered). */
int ovp_plugin_has_event(const struct ovp_plugin *p, int event);

/*
 * Narrows what is registered with the host to MASK, for a plugin whose hooks depend
 * on its configuration. Call it from open. Bits the descriptor did not name (events
 * or optional_events) or the host does not offer are dropped. Returns the new mask.
 */
unsigned ovp_plugin_set_events(struct ovp_plugin *p, unsigned mask);

/* Human name of an OPENVPN_PLUGIN_* event ("AUTH_USER_PASS_VERIFY"), never NULL. */
const char *ovp_event_name(int type);

/*
 * Refuses an AUTH_USER_PASS_VERIFY in the call itself: writes REASON to the event's
 * auth_failed_reason_file (OpenVPN then sends AUTH_FAILED,REASON; a reason starting
 * with TEMP makes the client retry) and returns OPENVPN_PLUGIN_FUNC_ERROR. A reason
 * that cannot be written is logged for the client; the refusal stands.
 */
int ovp_plugin_refuse_auth(struct ovp_log *log, const struct ovp_event *ev, const char *reason);

#endif

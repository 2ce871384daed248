/* host.h: hosting plugins with OpenVPN 2.6's exact semantics (src/openvpn/plugin.c). */
#ifndef HOST_H
#define HOST_H

#include <stdint.h>

/* Compile the header as OpenVPN does (host side): its entry points become typedefs. */
#define OPENVPN_PLUGIN_H 1
#include <openvpn/openvpn-plugin.h>

#include "envset.h"

#define HOST_MAX_PLUGINS 16 /* MAX_PLUGINS */

/* Every event 2.6 offers: (1 << OPENVPN_PLUGIN_N) - 1, ENABLE_PF's bit included. */
#define HOST_TYPE_MASK ((1u << OPENVPN_PLUGIN_N) - 1)

struct host_plugin
{
    char **argv; /* [0] the path as given, then its words; owned */
    void *dl;    /* dlopen handle */
    openvpn_plugin_open_v1 open1;
    openvpn_plugin_open_v2 open2;
    openvpn_plugin_open_v3 open3;
    openvpn_plugin_func_v1 func1;
    openvpn_plugin_func_v2 func2;
    openvpn_plugin_func_v3 func3;
    openvpn_plugin_close_v1 close;
    openvpn_plugin_abort_v1 abort;
    openvpn_plugin_client_constructor_v1 client_constructor;
    openvpn_plugin_client_destructor_v1 client_destructor;
    openvpn_plugin_min_version_required_v1 min_version_required;
    openvpn_plugin_select_initialization_point_v1 initialization_point;
    unsigned mask; /* events the plugin asked for */
    openvpn_plugin_handle_t handle;
    int init_point;
    int initialized;
};

/* A per-client set of plugin contexts (struct plugin_per_client). */
struct host_client
{
    void *ctx[HOST_MAX_PLUGINS];
};

/* What plugins returned from one call (struct plugin_return). */
struct host_return
{
    int n;
    struct openvpn_plugin_string_list *list[HOST_MAX_PLUGINS];
};

struct host
{
    struct host_plugin p[HOST_MAX_PLUGINS];
    int n;
    int opened;
    struct host_client top; /* the server's own contexts: UP/DOWN, learn-address delete */

    /* stall: nanoseconds spent inside each plugin call on this thread */
    uint64_t *stall;
    size_t n_stall, cap_stall;
    int keep_stall;

    /* call log: one line per plugin call ("TYPE argv... -> STATUS"), for stories */
    char **calls;
    size_t n_calls, cap_calls;
    int keep_calls;
    unsigned long calls_by_type[OPENVPN_PLUGIN_N];
};

/* Adds a plugin line: PATH then its words (copied). Returns -1 beyond 16 plugins. */
int host_add(struct host *h, const char *path, const char *const *words, int n_words);

/*
 * Opens, in order, the plugins whose select_initialization_point_v1 chose INIT_POINT
 * (OPENVPN_PLUGIN_INIT_*, PRE_DAEMON without the symbol), and makes their server's own
 * client contexts; the first call loads every plugin first (plugin_list_init: dlopen
 * RTLD_NOW, a bare name under OPENVPN_PLUGINDIR, symbol lookup, the min-version
 * check). Call it for each point in OpenVPN's order (server_start). Open v3/v2/v1 with
 * ENV and the type-mask check; any problem is fatal, as in OpenVPN (core_fatal).
 */
void host_open(struct host *h, const struct envset *env, int init_point);

/* 1 when a plugin registered TYPE (plugin_defined). */
int host_defined(const struct host *h, int type);

/*
 * plugin_call_ssl: calls every plugin with TYPE in its mask, in order, with argv
 * = { so path, ARGS... } and envp built from ES (after removing script_type).
 * CLI gives per-client contexts (NULL: the server's own). RET collects return
 * lists (may be NULL). current_cert is NULL (there is no certificate object), so
 * by OpenVPN's rule current_cert_depth is -1 even for TLS_VERIFY.
 * Returns the aggregate: ERROR if any plugin did not return SUCCESS/DEFERRED,
 * else DEFERRED if one deferred, else SUCCESS. Two DEFERRED answers to one
 * AUTH_USER_PASS_VERIFY are fatal.
 */
int host_call(struct host *h, int type, const char *const *args, struct envset *es,
              struct host_client *cli, struct host_return *ret);

/* Creates / destroys a client's contexts (client_constructor/destructor_v1). */
void host_client_init(struct host *h, struct host_client *cli);
void host_client_free(struct host *h, struct host_client *cli);

/* The value of the first entry named NAME across RET (plugin_return_get_column). */
void host_return_column(const struct host_return *ret, const char *name,
                        const char *values[HOST_MAX_PLUGINS]);

/* Frees return lists as OpenVPN does: value zeroed, then name, value, node. */
void host_return_free(struct host_return *ret);

/* Closes every plugin in order and dlcloses it (plugin_list_close). */
void host_close(struct host *h);

/* Calls abort_v1 of every plugin (plugin_abort); used on fatal errors. */
void host_abort(struct host *h);

/* Frees what host_add copied and the statistics. */
void host_free(struct host *h);

/* "AUTH_USER_PASS_VERIFY" etc. (plugin_type_name without "PLUGIN_"). */
const char *host_type_name(int type);

/* "SUCCESS" / "ERROR" / "DEFERRED" / "status=N". */
const char *host_status_name(int status);

/* Sorted copy of the stall samples' percentiles (microseconds). */
void host_stall_stats(const struct host *h, double *p50_us, double *p99_us, double *max_us,
                      size_t *n);

/* The callbacks given to plugins; also used by tests of this file. */
extern struct openvpn_plugin_callbacks host_callbacks;

/* OpenVPN's base64 (plugin_base64_encode/decode): written here from the RFC. */
int host_base64_encode(const void *data, int size, char **str);
int host_base64_decode(const char *str, void *data, int size);

#endif

/* server.h: the multi-client server context: configuration, start/stop/reload, statistics. */
#ifndef SERVER_H
#define SERVER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "loop.h"

struct inst;
struct pool;
struct rtable;
struct mux;
struct envset;

/* Everything a server.conf would say that matters to plugins. */
struct server_conf
{
    const char *listen;      /* "unix:PATH" or "tcp:HOST:PORT"; NULL: a socket in tmp_dir */
    const char *tmp_dir;     /* --tmp-dir; NULL: a fresh mkdtemp directory */
    int poll_fast;           /* --poll fast: auth files and DEFER_V2 every ms */
    uint64_t hand_window_ns; /* --hand-window (60 s) */
    uint64_t reneg_ns;       /* --reneg-sec (3600 s); 0 = off */
    int auth_gen_token;      /* --auth-gen-token */
    int auth_token_external; /* --auth-gen-token external-auth */
    int duplicate_cn;        /* --duplicate-cn */
    uint32_t net4, mask4;    /* --server NET MASK (host order) */
    struct in6_addr net6;    /* --server-ipv6 NET/BITS */
    int bits6, has_v6;
    char **push; /* --push "option" */
    size_t n_push;
    char **routes; /* --route "NET MASK" */
    size_t n_routes;
    char **setenv; /* --setenv NAME VALUE, as "NAME=VALUE" */
    size_t n_setenv;
    const char *dev;         /* tun0 */
    int tun_mtu;             /* 1500 */
    const char *config_name; /* "config" env, when given */
    const char *proto;       /* proto_1: "udp" (OpenVPN's default) or "tcp-server" */
    const char *local;       /* local_1, when given (OpenVPN's `local`) */
    uint64_t linger_ns;      /* how long a finished connection waits for the peer */
};

/* Outcome counters of the sessions (HELLOs) the server saw. */
struct server_stats
{
    unsigned long sessions;      /* HELLO received */
    unsigned long authenticated; /* PUSH_REPLY sent */
    unsigned long failed;        /* AUTH_FAILED or TLS_ERROR sent */
    unsigned long timed_out;     /* of failed: the deferred auth hit its deadline */
    unsigned long hung_up;       /* client left before an answer */
    unsigned long deferred;      /* auth calls answered DEFERRED */
    unsigned long renegotiated;  /* RENEG_OK sent */
    uint64_t first_hello_ns, last_resolved_ns;
    uint64_t *resolve_ns; /* HELLO to answer, per resolved session */
    size_t n_resolve, cap_resolve;
};

struct server
{
    struct server_conf conf;
    struct host *host;
    struct loop *loop;
    struct envset *env; /* the top context's env (setenv, verb, daemon, dev, ifconfig...) */
    char *tmp_dir;
    int tmp_dir_owned;
    int tmp_lock_fd; /* flock on TMP_DIR/.ovp-refcore.lock: one core per tmp dir */
    struct mux *mux;
    struct pool *pool;
    struct rtable *routes;
    unsigned char token_key[16]; /* auth-gen-token's "HMAC" key, random per run */
    struct inst *insts;          /* every live instance */
    struct inst *halted;         /* closed instances whose connection still lingers */
    size_t n_insts;
    uint64_t next_id;
    struct timer reaper;
    int running; /* plugins open, UP done */
    /* --poll fast: which auth control file changed (inotify on the tmp dir) */
    struct watcher notify;
    struct watched **watched; /* hash buckets: control file name -> instance */
    size_t n_watched;
    int auth_secret_set;
    unsigned char auth_secret[32];
    struct server_stats st;
};

/* Defaults of a server.conf (pool 10.8.0.0/16 and fd00:8::/64, tun0, 1500...). */
void server_conf_defaults(struct server_conf *c);
void server_conf_free(struct server_conf *c);

/*
 * Prepares the tmp dir, the top env (setenv_settings), the listening socket and
 * the pool. Returns 0, or -1 with a message logged.
 */
int server_init(struct server *s, const struct server_conf *conf, struct host *h,
                struct loop *l);

/* Opens the plugins, then UP and ROUTE_UP ("init"). Fatal errors exit. */
void server_start(struct server *s);

/*
 * Closes every client (client-disconnect for connected ones), reaps every route
 * (learn-address delete), ROUTE_PREDOWN (with routes), DOWN with SIGNAL_TEXT
 * ("sighup", "sigterm"), then closes the plugins.
 */
void server_stop(struct server *s, const char *signal_text);

/* OpenVPN's SIGHUP: server_stop("sighup") then server_start. Clients are dropped. */
void server_reload(struct server *s);

/* Removes the socket and, if we made it, the tmp dir; frees. */
void server_free(struct server *s);

/* Where clients connect: "unix:PATH" or "tcp:127.0.0.1:PORT". */
const char *server_address(const struct server *s);

/*
 * With --poll fast, reports changes of the control file PATH to MI at once, so it
 * need not be read every millisecond (server_watch_add returns -1 when inotify is
 * unavailable: then the caller polls).
 */
int server_watch_add(struct server *s, const char *path, struct inst *mi);
void server_watch_del(struct server *s, const char *path);

/* Records that a session was answered (for wall time and resolve percentiles). */
void server_note_resolved(struct server *s, uint64_t started_ns);

/* Percentiles of the resolve times in milliseconds. */
void server_resolve_stats(const struct server *s, double *p50, double *p99, double *max);

#endif

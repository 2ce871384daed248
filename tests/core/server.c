/* server.c: the multi-client server context: configuration, start/stop/reload, statistics. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "envset.h"
#include "mux.h"
#include "pool.h"
#include "refcore.h"
#include "authfiles.h"
#include "server.h"
#include "session.h"

#define WATCH_BUCKETS 4096

struct watched
{
    char *name; /* base name in the tmp dir */
    struct inst *mi;
    struct watched *next;
};

static size_t
name_bucket(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    {
        h = (h ^ *p) * 16777619u;
    }
    return h % WATCH_BUCKETS;
}

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

int
server_watch_add(struct server *s, const char *path, struct inst *mi)
{
    struct watched *w;
    size_t b;

    if (s->notify.fd < 0)
    {
        return -1;
    }
    b = name_bucket(base_name(path));
    w = xcalloc(1, sizeof(*w));
    w->name = xstrdup(base_name(path));
    w->mi = mi;
    w->next = s->watched[b];
    s->watched[b] = w;
    s->n_watched++;
    return 0;
}

void
server_watch_del(struct server *s, const char *path)
{
    struct watched **pp;

    if (s->notify.fd < 0)
    {
        return;
    }
    for (pp = &s->watched[name_bucket(base_name(path))]; *pp; pp = &(*pp)->next)
    {
        if (strcmp((*pp)->name, base_name(path)) == 0)
        {
            struct watched *w = *pp;

            *pp = w->next;
            free(w->name);
            free(w);
            s->n_watched--;
            return;
        }
    }
}

/* Every instance with a watched file looks again (after an inotify queue overflow). */
static void
wake_all_watched(struct server *s)
{
    for (struct inst *mi = s->insts; mi; mi = mi->next)
    {
        session_file_changed(mi);
    }
}

static void
on_notify(struct watcher *w, uint32_t events)
{
    struct server *s = (struct server *)((char *)w - offsetof(struct server, notify));
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;)
    {
        ssize_t n = read(s->notify.fd, buf, sizeof(buf));

        if (n <= 0)
        {
            return;
        }
        for (char *p = buf; p < buf + n;)
        {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            if (ev->mask & IN_Q_OVERFLOW)
            {
                wake_all_watched(s);
            }
            else if (ev->len)
            {
                for (struct watched *x = s->watched[name_bucket(ev->name)]; x; x = x->next)
                {
                    if (strcmp(x->name, ev->name) == 0)
                    {
                        session_file_changed(x->mi);
                        break;
                    }
                }
            }
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
}

/* --poll fast: inotify on the tmp dir, as OpenVPN built with --enable-async-push does. */
static void
notify_init(struct server *s)
{
    s->notify.fd = -1;
    if (!s->conf.poll_fast)
    {
        return;
    }
    s->notify.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->notify.fd < 0)
    {
        core_msg(1, "inotify unavailable (%s): control files are polled every ms",
                 strerror(errno));
        return;
    }
    s->notify.cb = on_notify;
    if (inotify_add_watch(s->notify.fd, s->tmp_dir, IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO) <
            0 ||
        loop_watch(s->loop, &s->notify, EPOLLIN) < 0)
    {
        core_msg(1, "cannot watch %s (%s): control files are polled every ms", s->tmp_dir,
                 strerror(errno));
        close(s->notify.fd);
        s->notify.fd = -1;
        return;
    }
    s->watched = xcalloc(WATCH_BUCKETS, sizeof(struct watched *));
}

void
server_conf_defaults(struct server_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->hand_window_ns = 60 * NS_PER_S;
    c->reneg_ns = 3600 * NS_PER_S;
    c->net4 = 0x0a080000u; /* 10.8.0.0/16: room for 65533 clients */
    c->mask4 = 0xffff0000u;
    inet_pton(AF_INET6, "fd00:8::", &c->net6);
    c->bits6 = 64;
    c->has_v6 = 1;
    c->dev = "tun0";
    c->tun_mtu = 1500;
    c->linger_ns = 2 * NS_PER_S;
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
    {
        free(v[i]);
    }
    free(v);
}

void
server_conf_free(struct server_conf *c)
{
    strv_free(c->push, c->n_push);
    strv_free(c->routes, c->n_routes);
    strv_free(c->setenv, c->n_setenv);
    c->push = c->routes = c->setenv = NULL;
    c->n_push = c->n_routes = c->n_setenv = 0;
}

/* setenv_settings: what a plugin sees at open. */
static void
build_top_env(struct server *s)
{
    const struct server_conf *c = &s->conf;

    envset_free(s->env);
    s->env = envset_new();
    for (size_t i = 0; i < c->n_setenv; i++)
    {
        envset_add_line(s->env, c->setenv[i]);
    }
    if (c->config_name)
    {
        envset_set(s->env, "config", c->config_name);
    }
    envset_setf(s->env, "verb", "%d", logbook_verb());
    envset_set(s->env, "daemon", "0");
    envset_set(s->env, "daemon_log_redirect", "0");
    envset_setf(s->env, "daemon_start_time", "%lld", (long long)time(NULL));
    envset_setf(s->env, "daemon_pid", "%d", (int)getpid());
    /* setenv_connection_entry, in OpenVPN's order: the server's one connection entry
     * (remote_port_1 is the default port, set even on a server) */
    envset_set(s->env, "proto_1", c->proto ? c->proto : "udp");
    if (c->local)
    {
        envset_set(s->env, "local_1", c->local);
    }
    envset_set(s->env, "local_port_1", "1194");
    envset_set(s->env, "remote_port_1", "1194");
}

static void
reaper_cb(struct timer *t)
{
    struct server *s = (struct server *)((char *)t - offsetof(struct server, reaper));

    rt_reap(s->routes, s, 0);
    timer_arm(s->loop, &s->reaper, now_ns() + (s->conf.poll_fast ? NS_PER_MS : NS_PER_S));
}

int
server_init(struct server *s, const struct server_conf *conf, struct host *h, struct loop *l)
{
    char err[512];

    memset(s, 0, sizeof(*s));
    s->notify.fd = -1;
    s->tmp_lock_fd = -1;
    s->conf = *conf;
    s->host = h;
    s->loop = l;
    s->next_id = 0;
    random_bytes(s->token_key, sizeof(s->token_key));
    timer_init(&s->reaper, reaper_cb);
    if (conf->tmp_dir)
    {
        s->tmp_dir = xstrdup(conf->tmp_dir);
    }
    else
    {
        const char *base = getenv("TMPDIR");
        char *tmpl = xasprintf("%s/ovp-refcore.XXXXXX", base && *base ? base : "/tmp");

        if (!mkdtemp(tmpl))
        {
            core_msg(1, "cannot create a tmp dir: %s", strerror(errno));
            free(tmpl);
            return -1;
        }
        s->tmp_dir = tmpl;
        s->tmp_dir_owned = 1;
    }
    if (access(s->tmp_dir, W_OK) != 0)
    {
        core_msg(1, "--tmp-dir %s is not writable: %s", s->tmp_dir, strerror(errno));
        free(s->tmp_dir);
        s->tmp_dir = NULL;
        return -1;
    }
    /* Two cores on one tmp dir would take each other's control socket (and could mix up
     * auth files): the first one holds a lock there, a second one refuses to start. */
    {
        char *lock = xasprintf("%s/.ovp-refcore.lock", s->tmp_dir);

        s->tmp_lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->tmp_lock_fd < 0 || flock(s->tmp_lock_fd, LOCK_EX | LOCK_NB) < 0)
        {
            core_msg(1,
                     "--tmp-dir %s is in use by another ovp-refcore (%s: %s); give each "
                     "its own",
                     s->tmp_dir, lock, strerror(errno));
            free(lock);
            if (s->tmp_lock_fd >= 0)
            {
                close(s->tmp_lock_fd);
            }
            s->tmp_lock_fd = -1;
            free(s->tmp_dir);
            s->tmp_dir = NULL;
            return -1;
        }
        free(lock);
    }
    s->mux = mux_new(s, conf->listen, s->tmp_dir, err, sizeof(err));
    if (!s->mux)
    {
        core_msg(1, "%s", err);
        return -1;
    }
    s->pool = pool_new(conf->net4, conf->mask4, &conf->net6, conf->bits6, conf->has_v6,
                       conf->duplicate_cn);
    s->routes = rt_new();
    build_top_env(s);
    notify_init(s);
    return 0;
}

const char *
server_address(const struct server *s)
{
    return mux_address(s->mux);
}

/* run_up_down: UP, DOWN and ROUTE_PREDOWN. A failure is fatal, as in OpenVPN. */
static void
run_up_down(struct server *s, int type, const char *signal_text)
{
    char mtu[16], local[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
    struct in_addr a;
    const char *args[7];

    if (signal_text)
    {
        envset_set(s->env, "signal", signal_text);
    }
    envset_set(s->env, "script_context", "init");
    envset_setf(s->env, "tun_mtu", "%d", s->conf.tun_mtu);
    envset_set(s->env, "dev", s->conf.dev);
    if (type == OPENVPN_PLUGIN_UP)
    {
        envset_set(s->env, "dev_type", "tun");
    }
    if (!host_defined(s->host, type))
    {
        return;
    }
    a.s_addr = htonl(pool_server_v4(s->pool));
    inet_ntop(AF_INET, &a, local, sizeof(local));
    a.s_addr = htonl(pool_netmask(s->pool));
    inet_ntop(AF_INET, &a, mask, sizeof(mask));
    snprintf(mtu, sizeof(mtu), "%d", s->conf.tun_mtu);
    args[0] = s->conf.dev;
    args[1] = mtu;
    args[2] = "0";
    args[3] = local;
    args[4] = mask;
    args[5] = "init";
    args[6] = NULL;
    if (host_call(s->host, type, args, s->env, NULL, NULL) != OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        core_fatal("ERROR: up/down plugin call failed");
    }
}

/* do_ifconfig_setenv and setenv_routes, for a tun device in topology subnet. */
static void
setenv_tun(struct server *s)
{
    char buf[INET6_ADDRSTRLEN], name[64];
    struct in_addr a;

    a.s_addr = htonl(pool_server_v4(s->pool));
    envset_set(s->env, "ifconfig_local", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
    a.s_addr = htonl(pool_netmask(s->pool));
    envset_set(s->env, "ifconfig_netmask", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
    if (pool_has_v6(s->pool))
    {
        struct in6_addr remote = *pool_server_v6(s->pool);

        envset_set(s->env, "ifconfig_ipv6_local",
                   inet_ntop(AF_INET6, pool_server_v6(s->pool), buf, sizeof(buf)));
        envset_setf(s->env, "ifconfig_ipv6_netbits", "%d", pool_bits6(s->pool));
        remote.s6_addr[15] = (uint8_t)(remote.s6_addr[15] + 1);
        envset_set(s->env, "ifconfig_ipv6_remote",
                   inet_ntop(AF_INET6, &remote, buf, sizeof(buf)));
    }
    /* the gateway of the server's own routes: network + 2, as `server` sets it */
    a.s_addr = htonl(pool_server_v4(s->pool) + 1);
    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    if (s->conf.n_routes)
    {
        envset_set(s->env, "route_vpn_gateway", buf);
    }
    for (size_t i = 0; i < s->conf.n_routes; i++)
    {
        char net[64] = "", mask[64] = "255.255.255.255";

        sscanf(s->conf.routes[i], "%63s %63s", net, mask);
        snprintf(name, sizeof(name), "route_network_%zu", i + 1);
        envset_set(s->env, name, net);
        snprintf(name, sizeof(name), "route_netmask_%zu", i + 1);
        envset_set(s->env, name, mask);
        snprintf(name, sizeof(name), "route_gateway_%zu", i + 1);
        envset_set(s->env, name, buf);
    }
}

void
server_start(struct server *s)
{
    /* init_instance's order: plugins that asked for PRE_CONFIG_PARSE or PRE_DAEMON (the
     * default) open before the tun device, so only they see UP and ROUTE_UP; POST_DAEMON
     * ones open after daemonizing, POST_UID_CHANGE ones after the privilege drop */
    {
        /* openvpn.c opens PRE_CONFIG_PARSE plugins before any setenv_settings: empty env */
        struct envset *none = envset_new();

        host_open(s->host, none, OPENVPN_PLUGIN_INIT_PRE_CONFIG_PARSE);
        envset_free(none);
    }
    host_open(s->host, s->env, OPENVPN_PLUGIN_INIT_PRE_DAEMON);
    setenv_tun(s);
    run_up_down(s, OPENVPN_PLUGIN_UP, NULL);
    /* do_route: the route list always exists on a tun server (do_alloc_route_list), so
     * redirect_gateway is set (0: a server never redirects its own gateway); ROUTE_UP is
     * called whether or not there are routes */
    envset_set(s->env, "redirect_gateway", "0");
    if (host_defined(s->host, OPENVPN_PLUGIN_ROUTE_UP) &&
        host_call(s->host, OPENVPN_PLUGIN_ROUTE_UP, NULL, s->env, NULL, NULL) !=
            OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        core_msg(1, "WARNING: route-up plugin call failed");
    }
    host_open(s->host, s->env, OPENVPN_PLUGIN_INIT_POST_DAEMON);
    host_open(s->host, s->env, OPENVPN_PLUGIN_INIT_POST_UID_CHANGE);
    core_msg(1, "Initialization Sequence Completed");
    s->running = 1;
    timer_arm(s->loop, &s->reaper, now_ns() + (s->conf.poll_fast ? NS_PER_MS : NS_PER_S));
}

void
server_stop(struct server *s, const char *signal_text)
{
    if (!s->running)
    {
        return;
    }
    core_msg(1, "%s received, process %s", signal_text,
             strcmp(signal_text, "sighup") == 0 ? "restarting" : "exiting");
    /* multi_uninit: every instance (client-disconnect for connected ones) */
    while (s->insts)
    {
        /* what a server with explicit-exit-notify tells its clients */
        session_send(s->insts, "RESTART");
        session_close(s->insts, signal_text);
    }
    rt_reap(s->routes, s, 1);
    timer_cancel(s->loop, &s->reaper);
    /* do_close_tun: OpenVPN allocates the route list whenever it opens the tun device
     * (do_alloc_route_list), so ROUTE_PREDOWN runs at every close, with or without --route */
    run_up_down(s, OPENVPN_PLUGIN_ROUTE_PREDOWN, signal_text);
    run_up_down(s, OPENVPN_PLUGIN_DOWN, signal_text);
    host_close(s->host);
    s->running = 0;
}

void
server_reload(struct server *s)
{
    server_stop(s, "sighup");
    build_top_env(s);
    server_start(s);
}

void
server_free(struct server *s)
{
    if (!s)
    {
        return;
    }
    while (s->insts)
    {
        session_close(s->insts, "server freed");
    }
    while (s->halted)
    {
        session_free_halted(s->halted);
    }
    timer_cancel(s->loop, &s->reaper);
    if (s->notify.fd >= 0)
    {
        loop_unwatch(s->loop, &s->notify);
        close(s->notify.fd);
        for (size_t b = 0; b < WATCH_BUCKETS; b++)
        {
            while (s->watched[b])
            {
                struct watched *w = s->watched[b];

                s->watched[b] = w->next;
                free(w->name);
                free(w);
            }
        }
        free(s->watched);
    }
    mux_free(s->mux);
    rt_free(s->routes);
    pool_free(s->pool);
    envset_free(s->env);
    if (s->tmp_lock_fd >= 0)
    {
        if (s->tmp_dir_owned)
        {
            char *lock = xasprintf("%s/.ovp-refcore.lock", s->tmp_dir);

            unlink(lock);
            free(lock);
        }
        close(s->tmp_lock_fd); /* a shared dir keeps the (unlocked) lock file */
    }
    if (s->tmp_dir_owned)
    {
        /* leftovers are the plugin's business; an empty dir is removed */
        if (rmdir(s->tmp_dir) < 0)
        {
            core_msg(1, "tmp dir %s not removed: %s", s->tmp_dir, strerror(errno));
        }
    }
    free(s->tmp_dir);
    free(s->st.resolve_ns);
    memset(s, 0, sizeof(*s));
}

void
server_note_resolved(struct server *s, uint64_t started_ns)
{
    struct server_stats *st = &s->st;
    uint64_t now = now_ns();

    st->last_resolved_ns = now;
    if (s->host && !s->host->keep_stall)
    {
        return; /* a mode that reports no percentiles (serve) keeps no samples */
    }
    if (st->n_resolve == st->cap_resolve)
    {
        st->cap_resolve = st->cap_resolve ? st->cap_resolve * 2 : 1024;
        st->resolve_ns = xrealloc(st->resolve_ns, st->cap_resolve * sizeof(uint64_t));
    }
    st->resolve_ns[st->n_resolve++] = started_ns ? now - started_ns : 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

void
server_resolve_stats(const struct server *s, double *p50, double *p99, double *max)
{
    size_t n = s->st.n_resolve;
    uint64_t *v;

    *p50 = *p99 = *max = 0;
    if (!n)
    {
        return;
    }
    v = xmalloc(n * sizeof(uint64_t));
    memcpy(v, s->st.resolve_ns, n * sizeof(uint64_t));
    qsort(v, n, sizeof(uint64_t), cmp_u64);
    *p50 = (double)v[(n - 1) / 2] / 1e6;
    *p99 = (double)v[(n * 99 + 99) / 100 - 1] / 1e6;
    *max = (double)v[n - 1] / 1e6;
    free(v);
}

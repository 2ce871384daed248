/* load.c: load mode: N clients at once through the whole state machine, then one JSON line. */
#include "ovpbuild.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modes.h"
#include "refcore.h"
#include "server.h"

static void
fill_load_opts(struct cli *c, const char *address, struct load_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->address = address;
    o->clients = c->clients;
    o->params.user = c->username;
    o->params.pass = c->password;
    o->params.cn = c->common_name;
    for (int i = 0; i < c->n_iv; i++)
    {
        o->params.iv[o->params.n_iv++] = c->ivs[i];
    }
    /* like distinct certificates; one shared CN needs --duplicate-cn to connect them all */
    o->distinct_cn = c->common_name == NULL;
    o->bytes_in = c->bytes_in;
    o->bytes_out = c->bytes_out;
    o->timeout_ns = c->timeout_ns;
    o->expect_ok = c->expect_ok;
    o->max_connecting = 1024;
}

int
mode_drive(struct cli *c)
{
    struct load_opts o;

    if (!c->timeout_ns)
    {
        c->timeout_ns = c->conf.hand_window_ns + 60 * NS_PER_S;
    }
    if (!c->clients)
    {
        c->clients = 1;
    }
    raise_nofile();
    fill_load_opts(c, c->drive, &o);
    return load_drive(&o);
}

int
mode_load(struct host *h, struct cli *c)
{
    struct server srv;
    struct loop *loop;
    uint64_t deadline;
    double p50, p99, max, r50, r99, rmax, wall;
    size_t samples;
    unsigned long calls = 0;
    int status = 0, child_rc = -1, rc;
    pid_t pid;

    if (!c->username || !c->password)
    {
        fprintf(stderr, "ovp-refcore: load mode needs --username and --password\n");
        return 2;
    }
    if (!c->timeout_ns)
    {
        c->timeout_ns = c->conf.hand_window_ns + 60 * NS_PER_S;
    }
    if (c->common_name && !c->conf.duplicate_cn)
    {
        /* N clients with one certificate: a server must allow it to keep them all */
        c->conf.duplicate_cn = 1;
    }
    raise_nofile();
    logbook_init(c->verb, c->quiet, 0);
    h->keep_stall = 1;
    loop = loop_new();
    if (!loop || server_init(&srv, &c->conf, h, loop) < 0)
    {
        loop_free(loop);
        return 1;
    }

    /* the clients live in a child: its sockets do not count against our fd limit */
    fflush(NULL);
    pid = fork();
    if (pid < 0)
    {
        core_msg(1, "fork: %s", strerror(errno));
        server_free(&srv);
        loop_free(loop);
        return 1;
    }
    if (pid == 0)
    {
        struct load_opts o;
        char *address = xstrdup(server_address(&srv));

        /* nothing of the server's belongs to the driver */
        close_range(3, ~0u, 0);
        fill_load_opts(c, address, &o);
        _exit(load_drive(&o));
    }

    server_start(&srv);
    deadline = now_ns() + c->timeout_ns + 5 * NS_PER_S;
    for (;;)
    {
        if (child_rc < 0 && waitpid(pid, &status, WNOHANG) == pid)
        {
            child_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        }
        if (child_rc >= 0 && srv.n_insts == 0)
        {
            break;
        }
        if (sig_term || now_ns() >= deadline)
        {
            core_msg(1, "load: giving up (%s)", sig_term ? "signal" : "timeout");
            if (child_rc < 0)
            {
                kill(pid, SIGTERM);
                waitpid(pid, &status, 0);
                child_rc = 128;
            }
            break;
        }
        if (sig_hup)
        {
            sig_hup = 0;
            server_reload(&srv);
        }
        if (loop_run_once(loop, 20 * NS_PER_MS) < 0)
        {
            break;
        }
    }
    server_stop(&srv, "sigterm");

    host_stall_stats(h, &p50, &p99, &max, &samples);
    server_resolve_stats(&srv, &r50, &r99, &rmax);
    for (int t = 0; t < OPENVPN_PLUGIN_N; t++)
    {
        calls += h->calls_by_type[t];
    }
    wall = srv.st.last_resolved_ns > srv.st.first_hello_ns
               ? (double)(srv.st.last_resolved_ns - srv.st.first_hello_ns) / 1e9
               : 0.0;
    printf("{\"clients\":%lu,\"authenticated\":%lu,\"failed\":%lu,\"timed_out\":%lu,"
           "\"hung_up\":%lu,\"unanswered\":%lu,\"deferred\":%lu,"
           "\"stall_us_p50\":%.1f,\"stall_us_p99\":%.1f,\"stall_us_max\":%.1f,"
           "\"stall_samples\":%zu,\"resolve_ms_p50\":%.3f,\"resolve_ms_p99\":%.3f,"
           "\"resolve_ms_max\":%.3f,\"wall_s\":%.3f,\"plugin_calls\":%lu,\"poll\":\"%s\"}\n",
           c->clients, srv.st.authenticated, srv.st.failed, srv.st.timed_out, srv.st.hung_up,
           c->clients - (srv.st.authenticated + srv.st.failed < c->clients
                             ? srv.st.authenticated + srv.st.failed
                             : c->clients),
           srv.st.deferred, p50, p99, max, samples, r50, r99, rmax, wall, calls,
           c->conf.poll_fast ? "fast" : "openvpn");
    fflush(stdout);

    if (c->expect_ok)
    {
        rc = (srv.st.authenticated == c->clients && child_rc == 0) ? 0 : 1;
    }
    else
    {
        rc = (srv.st.failed == c->clients && child_rc == 0) ? 0 : 1;
    }
    server_free(&srv);
    loop_free(loop);
    return rc;
}

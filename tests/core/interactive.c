/* interactive.c: "try my config" (one client from typed credentials) and serve mode. */
#include "ovpbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "modes.h"
#include "refcore.h"
#include "server.h"

/* Reads one line from stdin into BUF; without echo when HIDE and stdin is a tty. */
static int
read_line(const char *prompt, char *buf, size_t len, int hide)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO);
    int restore = 0;
    char *nl;

    if (tty)
    {
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        if (hide && tcgetattr(STDIN_FILENO, &old) == 0)
        {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    if (!fgets(buf, (int)len, stdin))
    {
        buf[0] = '\0';
        if (restore)
        {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        }
        return -1;
    }
    if (restore)
    {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    nl = strchr(buf, '\n');
    if (nl)
    {
        *nl = '\0';
    }
    return 0;
}

static void
run_until(struct loop *loop, struct csess *cs, uint64_t deadline, int (*done)(struct csess *))
{
    while (!done(cs) && now_ns() < deadline && !sig_term)
    {
        if (loop_run_once(loop, 50 * NS_PER_MS) < 0)
        {
            break;
        }
    }
}

static int
answered(struct csess *cs)
{
    return cs->state != CS_CONNECTING && cs->state != CS_WAITING;
}

static int
closed(struct csess *cs)
{
    return cs->closed;
}

int
mode_try(struct host *h, struct cli *c)
{
    struct server srv;
    struct loop *loop;
    struct cparams p;
    struct csess *cs;
    char user[512], pass[512];
    int rc;

    memset(&p, 0, sizeof(p));
    if (c->username)
    {
        snprintf(user, sizeof(user), "%s", c->username);
    }
    else if (read_line("Username: ", user, sizeof(user), 0) < 0)
    {
        fprintf(stderr, "ovp-refcore: no username on stdin\n");
        return 2;
    }
    if (c->password)
    {
        snprintf(pass, sizeof(pass), "%s", c->password);
    }
    else if (read_line("Password: ", pass, sizeof(pass), 1) < 0)
    {
        fprintf(stderr, "ovp-refcore: no password on stdin\n");
        return 2;
    }
    p.user = user;
    p.pass = pass;
    p.cn = c->common_name;
    for (int i = 0; i < c->n_iv; i++)
    {
        p.iv[p.n_iv++] = c->ivs[i];
    }

    /* every line is kept and shown at the end, in order */
    logbook_init(c->verb, 1, 100000);
    h->keep_calls = 1;
    h->keep_stall = 1;
    loop = loop_new();
    if (!loop || server_init(&srv, &c->conf, h, loop) < 0)
    {
        loop_free(loop);
        return 1;
    }
    server_start(&srv);
    cs = csess_new(loop, server_address(&srv), "you", &p, 1);
    wipe(pass, sizeof(pass));
    run_until(loop, cs, now_ns() + c->conf.hand_window_ns + 5 * NS_PER_S, answered);
    if (cs->state == CS_CONNECTED)
    {
        csess_bytes(cs, 1000, 2000);
        csess_bye(cs);
        run_until(loop, cs, now_ns() + 5 * NS_PER_S, closed);
    }
    server_stop(&srv, "sigterm");
    /* let the reaper's deletes and the last lines arrive */

    printf("decision: %s\n", cs->state == CS_CONNECTED ? "ACCEPTED"
                             : cs->state == CS_FAILED
                                 ? (cs->tls_error ? "REJECTED (TLS)" : "REJECTED")
                                 : "NO ANSWER");
    if (cs->state == CS_FAILED && !cs->tls_error)
    {
        printf("reason: %s\n", cs->reason && *cs->reason ? cs->reason : "(none given)");
    }
    if (cs->info)
    {
        printf("pending: %s\n", cs->info);
    }
    if (cs->push_reply)
    {
        printf("pushed: %s\n", cs->push_reply);
    }
    printf("time to answer: %.1f ms\n",
           cs->t_answer_ns ? (double)(cs->t_answer_ns - cs->t_start_ns) / 1e6 : 0.0);
    printf("\nplugin calls (%zu):\n", h->n_calls);
    for (size_t i = 0; i < h->n_calls; i++)
    {
        printf("  %s\n", h->calls[i]);
    }
    printf("\nlog (%zu lines at verb %d):\n", logbook_count(), c->verb);
    for (size_t i = 0; i < logbook_count(); i++)
    {
        printf("  %s\n", logbook_get(i));
    }
    rc = cs->state == CS_CONNECTED ? 0 : 1;
    csess_free(cs);
    server_free(&srv);
    loop_free(loop);
    return rc;
}

int
mode_serve(struct host *h, struct cli *c)
{
    struct server srv;
    struct loop *loop;

    raise_nofile();
    logbook_init(c->verb, c->quiet, 0);
    /* no samples (stalls, resolve times): serve mode never reports them, and a core
     * serving a million clients (tests/bench/soak.sh) would keep 8 bytes per plugin call
     * and per client for nothing */
    h->keep_stall = 0;
    loop = loop_new();
    if (!loop || server_init(&srv, &c->conf, h, loop) < 0)
    {
        loop_free(loop);
        return 1;
    }
    server_start(&srv);
    /* the one line a script waits for */
    printf("listening on %s\n", server_address(&srv));
    fflush(stdout);
    while (!sig_term)
    {
        if (sig_hup)
        {
            sig_hup = 0;
            server_reload(&srv);
        }
        if (loop_run_once(loop, 200 * NS_PER_MS) < 0)
        {
            break;
        }
    }
    server_stop(&srv, "sigterm");
    server_free(&srv);
    loop_free(loop);
    return 0;
}

/* client.c: the client driver: sessions that talk the control protocol to a core. */
#include "ovpbuild.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "mux.h"
#include "refcore.h"

/* What an OpenVPN 2.6 client sends by default (IV_PROTO 990 has AUTH_PENDING_KW). */
static const char *const default_iv[] = {
    "IV_VER=2.6.14", "IV_PLAT=linux", "IV_TCPNL=1",
    "IV_MTU=1600",   "IV_NCP=2",      "IV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305",
    "IV_PROTO=990",
};

static void csess_connect(struct csess *cs);

static struct csess *
cs_of_conn(struct conn *c)
{
    return c->owner;
}

static void
changed(struct csess *cs)
{
    if (cs->on_change)
    {
        cs->on_change(cs);
    }
}

static void
set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

/* Appends " key=escaped" to *LINE. */
static void
add_field(char **line, const char *key, const char *value)
{
    char *esc = mux_escape(value);
    char *n = xasprintf("%s %s=%s", *line, key, esc);

    wipe(esc, strlen(esc));
    free(esc);
    wipe(*line, strlen(*line));
    free(*line);
    *line = n;
}

static char *
build_hello(const struct cparams *p)
{
    char *line = xstrdup("HELLO");
    size_t nd = sizeof(default_iv) / sizeof(default_iv[0]);

    add_field(&line, "cn", p->cn ? p->cn : (p->user ? p->user : "client"));
    if (p->user)
    {
        add_field(&line, "user", p->user);
    }
    if (p->pass)
    {
        add_field(&line, "pass", p->pass);
    }
    if (p->addr)
    {
        add_field(&line, "addr", p->addr);
    }
    if (p->serial)
    {
        add_field(&line, "serial", p->serial);
    }
    for (size_t i = 0; i < nd; i++)
    {
        size_t klen = strcspn(default_iv[i], "=");
        int replaced = 0;

        for (int k = 0; k < p->n_iv; k++)
        {
            if (strncmp(p->iv[k], default_iv[i], klen) == 0 && p->iv[k][klen] == '=')
            {
                replaced = 1;
            }
        }
        if (!replaced)
        {
            add_field(&line, "iv", default_iv[i]);
        }
    }
    for (int k = 0; k < p->n_iv; k++)
    {
        add_field(&line, "iv", p->iv[k]);
    }
    return line;
}

static void
on_line(struct conn *c, char *line)
{
    struct csess *cs = cs_of_conn(c);

    if (cs->keep_lines)
    {
        cs->lines = xrealloc(cs->lines, (cs->n_lines + 1) * sizeof(char *));
        cs->lines[cs->n_lines++] = xstrdup(line);
    }
    if (strncmp(line, "AUTH_FAILED", 11) == 0 && (line[11] == '\0' || line[11] == ','))
    {
        set_str(&cs->reason, line[11] == ',' ? line + 12 : "");
        cs->state = CS_FAILED;
        cs->t_answer_ns = now_ns();
    }
    else if (strncmp(line, "PUSH_REPLY", 10) == 0)
    {
        const char *tok = strstr(line, ",auth-token ");

        set_str(&cs->push_reply, line);
        if (tok)
        {
            char *t = xstrdup(tok + 12);

            t[strcspn(t, ",")] = '\0';
            set_str(&cs->auth_token, t);
            free(t);
        }
        if (cs->state == CS_WAITING || cs->state == CS_CONNECTING)
        {
            cs->t_answer_ns = now_ns();
        }
        cs->state = CS_CONNECTED;
    }
    else if (strcmp(line, "TLS_ERROR") == 0)
    {
        cs->tls_error = 1;
        set_str(&cs->reason, "");
        cs->state = CS_FAILED;
        cs->t_answer_ns = now_ns();
    }
    else if (strncmp(line, "ADDR ", 5) == 0)
    {
        char a4[64] = "", a6[64] = "";

        sscanf(line + 5, "%63s %63s", a4, a6);
        set_str(&cs->addr4, strcmp(a4, "-") ? a4 : NULL);
        set_str(&cs->addr6, a6[0] ? a6 : NULL);
    }
    else if (strncmp(line, "AUTH_PENDING", 12) == 0)
    {
        cs->pending = 1;
    }
    else if (strncmp(line, "INFO_PRE,", 9) == 0)
    {
        set_str(&cs->info, line + 9);
    }
    else if (strcmp(line, "AUTH_OK") == 0)
    {
        cs->auth_ok = 1;
    }
    else if (strcmp(line, "RENEG_OK") == 0)
    {
        cs->reneg_ok++;
    }
    else if (strcmp(line, "RESTART") == 0)
    {
        cs->restart = 1;
    }
    else if (strncmp(line, "ERR", 3) == 0)
    {
        set_str(&cs->last_err, line);
    }
    changed(cs);
}

static void
on_close(struct conn *c, const char *why)
{
    struct csess *cs = cs_of_conn(c);

    cs->closed = 1;
    if (cs->state == CS_CONNECTING || cs->state == CS_WAITING)
    {
        cs->state = CS_CLOSED;
        cs->t_answer_ns = now_ns();
    }
    changed(cs);
}

static void
on_connect(struct conn *c, int err)
{
    struct csess *cs = cs_of_conn(c);

    if (err)
    {
        set_str(&cs->last_err, strerror(err));
        cs->closed = 1;
        cs->state = CS_CLOSED;
        changed(cs);
        return;
    }
    cs->state = CS_WAITING;
    changed(cs);
}

static void
retry_cb(struct timer *t)
{
    struct csess *cs = (struct csess *)((char *)t - offsetof(struct csess, retry));

    csess_connect(cs);
}

/* Opens a socket to ADDRESS; *PENDING when the connect is in progress. -1 + errno. */
static int
open_socket(const char *address, int *pending)
{
    int fd;

    *pending = 0;
    if (strncmp(address, "unix:", 5) == 0)
    {
        struct sockaddr_un sun;

        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", address + 5);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        {
            int e = errno;

            close(fd);
            errno = e;
            return -1;
        }
        return fd;
    }
    if (strncmp(address, "tcp:", 4) == 0)
    {
        char host[256];
        const char *colon = strrchr(address + 4, ':');
        struct addrinfo hints, *ai = NULL;

        if (!colon)
        {
            errno = EINVAL;
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - address - 4), address + 4);
        if (host[0] == '[')
        {
            memmove(host, host + 1, strlen(host));
            host[strcspn(host, "]")] = '\0';
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        {
            errno = EINVAL;
            return -1;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        {
            if (errno == EINPROGRESS)
            {
                *pending = 1;
            }
            else
            {
                int e = errno;

                close(fd);
                fd = -1;
                errno = e;
            }
        }
        freeaddrinfo(ai);
        return fd;
    }
    errno = EINVAL;
    return -1;
}

static void
csess_connect(struct csess *cs)
{
    int pending = 0;
    int fd = open_socket(cs->address, &pending);

    if (fd < 0)
    {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
            /* the listen backlog is full: try again shortly */
            timer_arm(cs->loop, &cs->retry, now_ns() + NS_PER_MS);
            return;
        }
        set_str(&cs->last_err, strerror(errno));
        cs->closed = 1;
        cs->state = CS_CLOSED;
        changed(cs);
        return;
    }
    if (conn_start(&cs->conn, cs->loop, fd, pending) < 0)
    {
        close(fd);
        cs->closed = 1;
        cs->state = CS_CLOSED;
        changed(cs);
        return;
    }
    conn_send(&cs->conn, cs->hello);
    wipe(cs->hello, strlen(cs->hello));
    if (!pending)
    {
        cs->state = CS_WAITING;
    }
}

struct csess *
csess_new(struct loop *l, const char *address, const char *name, const struct cparams *p,
          int keep_lines)
{
    struct csess *cs = xcalloc(1, sizeof(*cs));

    cs->loop = l;
    cs->address = xstrdup(address);
    cs->name = xstrdup(name ? name : "client");
    cs->keep_lines = keep_lines;
    cs->hello = build_hello(p);
    cs->password = p->pass ? xstrdup(p->pass) : NULL;
    cs->state = CS_CONNECTING;
    cs->conn.owner = cs;
    cs->conn.on_line = on_line;
    cs->conn.on_close = on_close;
    cs->conn.on_connect = on_connect;
    cs->t_start_ns = now_ns();
    timer_init(&cs->retry, retry_cb);
    csess_connect(cs);
    return cs;
}

void
csess_free(struct csess *cs)
{
    if (!cs)
    {
        return;
    }
    timer_cancel(cs->loop, &cs->retry);
    cs->conn.on_done = NULL;
    conn_close(&cs->conn);
    for (size_t i = 0; i < cs->n_lines; i++)
    {
        free(cs->lines[i]);
    }
    free(cs->lines);
    if (cs->password)
    {
        wipe(cs->password, strlen(cs->password));
    }
    free(cs->password);
    free(cs->hello);
    free(cs->address);
    free(cs->name);
    free(cs->reason);
    free(cs->push_reply);
    free(cs->info);
    free(cs->addr4);
    free(cs->addr6);
    free(cs->auth_token);
    free(cs->last_err);
    free(cs);
}

void
csess_reneg(struct csess *cs, const char *pass)
{
    /* A real client resends its token if the server pushed one, else the password. */
    if (!pass && !cs->auth_token)
    {
        pass = cs->password;
    }
    if (pass)
    {
        char *esc = mux_escape(pass);

        conn_sendf(&cs->conn, "RENEG pass=%s", esc);
        free(esc);
    }
    else
    {
        conn_send(&cs->conn, "RENEG");
    }
}

void
csess_bytes(struct csess *cs, uint64_t in, uint64_t out)
{
    conn_sendf(&cs->conn, "BYTES %llu %llu", (unsigned long long)in, (unsigned long long)out);
}

void
csess_crresponse(struct csess *cs, const char *b64)
{
    conn_sendf(&cs->conn, "CRRESPONSE %s", b64);
}

static void
bye_done(struct conn *c)
{
    struct csess *cs = cs_of_conn(c);

    cs->closed = 1;
    if (cs->state == CS_CONNECTING || cs->state == CS_WAITING)
    {
        cs->state = CS_CLOSED;
    }
    changed(cs);
}

void
csess_bye(struct csess *cs)
{
    conn_send(&cs->conn, "BYE");
    conn_finish(&cs->conn, 5 * NS_PER_S, bye_done);
}

void
csess_hangup(struct csess *cs)
{
    timer_cancel(cs->loop, &cs->retry);
    cs->conn.on_done = NULL;
    conn_close(&cs->conn);
    cs->closed = 1;
    if (cs->state == CS_CONNECTING || cs->state == CS_WAITING)
    {
        cs->state = CS_CLOSED;
    }
}

const char *
csess_describe(const struct csess *cs, char *buf, size_t len)
{
    switch (cs->state)
    {
        case CS_CONNECTING:
            snprintf(buf, len, "still connecting%s%s", cs->last_err ? ": " : "",
                     cs->last_err ? cs->last_err : "");
            break;
        case CS_WAITING:
            snprintf(buf, len, "no answer yet%s", cs->pending ? " (AUTH_PENDING)" : "");
            break;
        case CS_CONNECTED:
            snprintf(buf, len, "connected (%s)", cs->push_reply ? cs->push_reply : "");
            break;
        case CS_FAILED:
            if (cs->tls_error)
            {
                snprintf(buf, len, "TLS_ERROR");
            }
            else
            {
                snprintf(buf, len, "AUTH_FAILED%s%s", cs->reason && *cs->reason ? "," : "",
                         cs->reason ? cs->reason : "");
            }
            break;
        case CS_CLOSED:
            snprintf(buf, len, "closed without an answer%s%s", cs->last_err ? ": " : "",
                     cs->last_err ? cs->last_err : "");
            break;
    }
    return buf;
}

/* ------------------------------------------------------------- load driver */

struct load
{
    const struct load_opts *o;
    struct loop *loop;
    struct csess **cs;
    unsigned long started, connecting, waiting, closed;
    unsigned long ok, failed, gone;
    int bye_sent;
};

static int
is_waiting(enum cstate st)
{
    return st == CS_CONNECTING || st == CS_WAITING;
}

/* Keeps the driver's counters in step with each session's state. */
static void
load_change(struct csess *cs)
{
    struct load *ld = cs->owner;

    if (cs->seen_state == CS_CONNECTING && cs->state != CS_CONNECTING)
    {
        ld->connecting--;
    }
    if (is_waiting(cs->seen_state) && !is_waiting(cs->state))
    {
        ld->waiting--;
    }
    if (!cs->seen_closed && cs->closed)
    {
        ld->closed++;
    }
    cs->seen_state = cs->state;
    cs->seen_closed = cs->closed;
}

int
load_drive(const struct load_opts *o)
{
    struct load ld;
    uint64_t deadline;
    unsigned long i;
    int rc;

    memset(&ld, 0, sizeof(ld));
    ld.o = o;
    ld.loop = loop_new();
    ld.cs = xcalloc(o->clients, sizeof(struct csess *));
    deadline = now_ns() + o->timeout_ns;

    for (;;)
    {
        /* open more sessions while few are still connecting */
        while (ld.started < o->clients && ld.connecting < o->max_connecting)
        {
            struct cparams p = o->params;
            struct csess *cs;
            char cn[256];

            if (o->distinct_cn)
            {
                snprintf(cn, sizeof(cn), "%s-%lu", p.cn ? p.cn : (p.user ? p.user : "client"),
                         ld.started);
                p.cn = cn;
            }
            cs = csess_new(ld.loop, o->address, NULL, &p, 0);
            ld.cs[ld.started++] = cs;
            cs->owner = &ld;
            cs->seen_state = CS_CONNECTING;
            ld.connecting++;
            ld.waiting++;
            load_change(cs); /* it may have connected (or failed) at once */
            cs->on_change = load_change;
        }
        if (ld.started == o->clients && ld.waiting == 0 && !ld.bye_sent)
        {
            /* everyone has an answer: the connected ones talk a little and leave */
            for (i = 0; i < o->clients; i++)
            {
                struct csess *cs = ld.cs[i];

                if (cs->state == CS_CONNECTED && !cs->closed)
                {
                    if (o->bytes_in || o->bytes_out)
                    {
                        csess_bytes(cs, o->bytes_in, o->bytes_out);
                    }
                    csess_bye(cs);
                }
            }
            ld.bye_sent = 1;
            continue;
        }
        if (ld.bye_sent && ld.closed == o->clients)
        {
            break;
        }
        if (now_ns() >= deadline)
        {
            fprintf(stderr,
                    "ovp-refcore: load driver: timeout with %lu of %lu clients "
                    "unanswered\n",
                    ld.waiting + (o->clients - ld.started), o->clients);
            break;
        }
        if (loop_run_once(ld.loop, 50 * NS_PER_MS) < 0)
        {
            break;
        }
    }
    for (i = 0; i < ld.started; i++)
    {
        struct csess *cs = ld.cs[i];

        if (cs->state == CS_CONNECTED)
        {
            ld.ok++;
        }
        else if (cs->state == CS_FAILED)
        {
            ld.failed++;
        }
        else
        {
            ld.gone++;
        }
    }
    rc = o->expect_ok ? (ld.ok == o->clients ? 0 : 1) : (ld.failed == o->clients ? 0 : 1);
    if (rc)
    {
        char buf[512] = "";

        for (i = 0; i < ld.started; i++)
        {
            if ((o->expect_ok && ld.cs[i]->state != CS_CONNECTED) ||
                (!o->expect_ok && ld.cs[i]->state != CS_FAILED))
            {
                csess_describe(ld.cs[i], buf, sizeof(buf));
                break;
            }
        }
        fprintf(stderr,
                "ovp-refcore: load driver: %lu connected, %lu failed, %lu without answer "
                "(expected all %s); first unexpected: %s\n",
                ld.ok, ld.failed, ld.gone + (o->clients - ld.started),
                o->expect_ok ? "connected" : "failed", buf);
    }
    for (i = 0; i < ld.started; i++)
    {
        csess_free(ld.cs[i]);
    }
    free(ld.cs);
    loop_free(ld.loop);
    return rc;
}

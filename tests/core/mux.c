/* mux.c: the external multiplexer: a loopback listener and the client control protocol. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "mux.h"
#include "refcore.h"
#include "server.h"
#include "session.h"

struct mux
{
    struct server *srv;
    struct watcher w;
    int unix_socket;
    char *path; /* UNIX socket file */
    char *address;
    unsigned next_port; /* made-up source ports for UNIX clients */
    int emfile_logged;
};

static struct mux *
mux_of_watcher(struct watcher *w)
{
    return (struct mux *)((char *)w - offsetof(struct mux, w));
}

static void
on_accept(struct watcher *w, uint32_t events)
{
    struct mux *m = mux_of_watcher(w);

    for (;;)
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char ip[INET6_ADDRSTRLEN] = "127.0.0.1";
        unsigned port;
        int ip6 = 0;
        int fd = accept4(m->w.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            if ((errno == EMFILE || errno == ENFILE) && !m->emfile_logged)
            {
                core_msg(1, "MULTI: accept failed: %s (raise the open files limit)",
                         strerror(errno));
                m->emfile_logged = 1;
            }
            return;
        }
        if (m->unix_socket)
        {
            /* a UNIX peer has no address: give each one a distinct port */
            port = 1024 + (m->next_port++ % 64000);
        }
        else if (ss.ss_family == AF_INET6)
        {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
            ip6 = 1;
        }
        else
        {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        }
        if (!session_new(m->srv, fd, ip, port, ip6))
        {
            core_msg(1, "MULTI: could not create a client instance");
        }
    }
}

static int
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
    {
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6)
    {
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    }
    return 0;
}

struct mux *
mux_new(struct server *s, const char *addr, const char *dir, char *err, size_t errlen)
{
    struct mux *m = xcalloc(1, sizeof(*m));
    int fd = -1;

    m->srv = s;
    m->w.fd = -1;
    if (!addr || strncmp(addr, "unix:", 5) == 0)
    {
        struct sockaddr_un sun;

        m->unix_socket = 1;
        m->path = addr ? xstrdup(addr + 5) : xasprintf("%s/refcore.sock", dir);
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(m->path) >= sizeof(sun.sun_path))
        {
            snprintf(err, errlen, "socket path too long: %s", m->path);
            goto fail;
        }
        strcpy(sun.sun_path, m->path);
        unlink(m->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        {
            snprintf(err, errlen, "cannot listen on %s: %s", m->path, strerror(errno));
            goto fail;
        }
        m->address = xasprintf("unix:%s", m->path);
    }
    else if (strncmp(addr, "tcp:", 4) == 0)
    {
        char host[256];
        const char *colon = strrchr(addr + 4, ':');
        struct addrinfo hints, *ai = NULL;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char ip[INET6_ADDRSTRLEN];
        int one = 1, rc;

        if (!colon)
        {
            snprintf(err, errlen, "--listen tcp:HOST:PORT expected, not '%s'", addr);
            goto fail;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - addr - 4), addr + 4);
        if (host[0] == '[' && host[strlen(host) - 1] == ']')
        {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        rc = getaddrinfo(host, colon + 1, &hints, &ai);
        if (rc != 0)
        {
            snprintf(err, errlen, "bad --listen address '%s': %s", addr, gai_strerror(rc));
            goto fail;
        }
        if (!is_loopback(ai->ai_addr))
        {
            snprintf(err, errlen, "--listen must be a loopback address, not '%s'", host);
            freeaddrinfo(ai);
            goto fail;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0)
        {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        }
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        {
            snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
            freeaddrinfo(ai);
            goto fail;
        }
        freeaddrinfo(ai);
        getsockname(fd, (struct sockaddr *)&ss, &len);
        if (ss.ss_family == AF_INET6)
        {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
            m->address =
                xasprintf("tcp:[%s]:%u", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        }
        else
        {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
            m->address =
                xasprintf("tcp:%s:%u", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    }
    else
    {
        snprintf(err, errlen, "--listen takes unix:PATH or tcp:HOST:PORT, not '%s'", addr);
        goto fail;
    }
    if (listen(fd, 4096) < 0)
    {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        goto fail;
    }
    m->w.fd = fd;
    m->w.cb = on_accept;
    if (loop_watch(s->loop, &m->w, EPOLLIN) < 0)
    {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    return m;

fail:
    if (fd >= 0)
    {
        close(fd);
    }
    m->w.fd = -1;
    mux_free(m);
    return NULL;
}

const char *
mux_address(const struct mux *m)
{
    return m->address;
}

void
mux_free(struct mux *m)
{
    if (!m)
    {
        return;
    }
    if (m->w.fd >= 0)
    {
        loop_unwatch(m->srv->loop, &m->w);
        close(m->w.fd);
    }
    if (m->path)
    {
        unlink(m->path);
    }
    free(m->path);
    free(m->address);
    free(m);
}

/* -------------------------------------------------------------- protocol */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
    {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f')
    {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F')
    {
        return c - 'A' + 10;
    }
    return -1;
}

void
mux_unescape(char *s)
{
    char *o = s;

    while (*s)
    {
        if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0)
        {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        }
        else
        {
            *o++ = *s++;
        }
    }
    *o = '\0';
}

char *
mux_escape(const char *s)
{
    char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    {
        if (*p == '%' || *p <= ' ' || *p == 127)
        {
            o += sprintf(o, "%%%02X", *p);
        }
        else
        {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

/* Splits LINE at spaces into WORDS (in place). Returns the count. */
static int
split_words(char *line, char **words, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *w = strtok_r(line, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
    {
        words[n++] = w;
    }
    return n;
}

static void
do_hello(struct inst *mi, char **w, int n)
{
    struct hello h;

    memset(&h, 0, sizeof(h));
    for (int i = 1; i < n; i++)
    {
        char *eq = strchr(w[i], '=');
        char *v;

        if (!eq)
        {
            session_send(mi, "ERR HELLO takes key=value words");
            return;
        }
        *eq = '\0';
        v = eq + 1;
        mux_unescape(v);
        if (strcmp(w[i], "cn") == 0)
        {
            h.cn = v;
        }
        else if (strcmp(w[i], "user") == 0)
        {
            h.user = v;
        }
        else if (strcmp(w[i], "pass") == 0)
        {
            h.pass = v;
        }
        else if (strcmp(w[i], "addr") == 0)
        {
            h.addr = v;
        }
        else if (strcmp(w[i], "serial") == 0)
        {
            h.serial = v;
        }
        else if (strcmp(w[i], "iv") == 0 && h.n_iv < (int)(sizeof(h.iv) / sizeof(h.iv[0])))
        {
            h.iv[h.n_iv++] = v;
        }
        else
        {
            char msg[128];

            snprintf(msg, sizeof(msg), "ERR unknown HELLO field '%.60s'", w[i]);
            session_send(mi, msg);
            return;
        }
    }
    session_hello(mi, &h);
}

void
mux_on_line(struct conn *c, char *line)
{
    struct inst *mi = c->owner;
    char *w[80];
    int n = split_words(line, w, 80);

    if (n == 0 || mi->halted)
    {
        return;
    }
    if (strcmp(w[0], "HELLO") == 0)
    {
        do_hello(mi, w, n);
        return;
    }
    if (!mi->hello_done)
    {
        session_send(mi, "ERR HELLO first");
        return;
    }
    if (strcmp(w[0], "RENEG") == 0)
    {
        char *pass = NULL;

        if (n >= 2 && strncmp(w[1], "pass=", 5) == 0)
        {
            pass = w[1] + 5;
            mux_unescape(pass);
        }
        session_reneg(mi, pass);
    }
    else if (strcmp(w[0], "BYTES") == 0 && n == 3)
    {
        session_bytes(mi, strtoull(w[1], NULL, 10), strtoull(w[2], NULL, 10));
    }
    else if (strcmp(w[0], "CRRESPONSE") == 0 && n == 2)
    {
        session_crresponse(mi, w[1]);
    }
    else if (strcmp(w[0], "BYE") == 0)
    {
        if (!mi->resolved)
        {
            mi->srv->st.hung_up++;
        }
        session_close(mi, "client said BYE");
    }
    else
    {
        session_send(mi, "ERR unknown command");
    }
}

/* privsep.c: a root helper program exec'd at open, and the framed SOCK_SEQPACKET channel to it. */
#include "ovpbuild.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"
#include "secret.h"
#include "util.h"

#define PRIV_FRAME_DEFAULT (64 * 1024)
/* The channel fd's number in the helper: always 3, right after stdin/out/err. */
#define PRIV_CHAN_FD 3
/* How long a send from the unprivileged side may block on a full socket. */
#define PRIV_SEND_TIMEOUT_MS 5000
/* Kernel overhead per datagram that a send buffer must leave room for. */
#define PRIV_SKB_SLACK 4096

/* The helper's exit codes. */
#define PRIV_EXIT_OK       0 /* EXIT frame, or the channel closed */
#define PRIV_EXIT_INIT     1 /* setup or the init callback failed */
#define PRIV_EXIT_PROTOCOL 2 /* malformed frame from the unprivileged side */
#define PRIV_EXIT_ANSWER   3 /* the answer callback asked to end */
#define PRIV_EXIT_IO       4 /* the channel failed */

/* Outcomes of reading one frame. */
#define RD_FRAME 1  /* a frame for the caller */
#define RD_AGAIN 0  /* nothing to read (or a LOG frame, already handled) */
#define RD_BAD   -1 /* protocol error, reason in WHY */
#define RD_EOF   -2 /* the peer closed the channel */

struct ovp_priv
{
    char name[64];
    struct ovp_log *log;
    int fd;
    int pidfd; /* -1 when the kernel has no pidfd_open */
    pid_t pid;
    size_t max_frame;
    uint8_t *rbuf; /* OVP_PRIV_HDR_LEN + max_frame */
    pthread_mutex_t send_mu;
    atomic_int dead;
    char *path;      /* the helper program, as exec'd: the key for adoption */
    uint8_t *config; /* the CONFIG payload it runs with */
    size_t config_len;
    int adopted; /* see ovp_priv_adopted */
    struct ovp_priv *parked_next;
};

struct ovp_priv_chan
{
    int fd;
    size_t max_frame;
};

/* ------------------------------------------------------------ both sides */

/* Milliseconds left until DEADLINE (-1 = none), for poll. */
static int
ms_left(int64_t deadline)
{
    if (deadline < 0)
    {
        return -1;
    }
    int64_t left = deadline - ovp_now_ms();
    if (left <= 0)
    {
        return 0;
    }
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

static int64_t
deadline_from(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : ovp_now_ms() + timeout_ms;
}

/*
 * Sends one frame as one datagram. SOCK_SEQPACKET keeps it whole: the peer gets
 * the header and the payload together or not at all.
 */
static int
frame_send(int fd, size_t max_frame, uint16_t type, uint32_t id, const void *payload,
           size_t len)
{
    if (len > max_frame || (len > 0 && !payload))
    {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t hdr[OVP_PRIV_HDR_LEN];
    uint32_t len32 = (uint32_t)len;
    uint16_t flags = 0;
    memcpy(hdr, &len32, 4);
    memcpy(hdr + 4, &type, 2);
    memcpy(hdr + 6, &flags, 2);
    memcpy(hdr + 8, &id, 4);

    struct iovec iov[2] = {
        {.iov_base = hdr, .iov_len = sizeof(hdr)},
        {.iov_base = (void *)(uintptr_t)payload, .iov_len = len},
    };
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};
    ssize_t n;
    do
    {
        /* Why MSG_NOSIGNAL: a dead peer must give EPIPE, not kill us with SIGPIPE. */
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
    {
        return -1;
    }
    if ((size_t)n != sizeof(hdr) + len)
    {
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

int
ovp_priv_frame_parse(const uint8_t *buf, size_t n, size_t max_frame, struct ovp_priv_frame *f,
                     char *why, size_t whylen)
{
    if (n < OVP_PRIV_HDR_LEN)
    {
        snprintf(why, whylen, "frame of %zu bytes is shorter than the %d-byte header", n,
                 OVP_PRIV_HDR_LEN);
        return -1;
    }
    uint32_t len32;
    memcpy(&len32, buf, 4);
    memcpy(&f->type, buf + 4, 2);
    memcpy(&f->flags, buf + 6, 2);
    memcpy(&f->id, buf + 8, 4);
    /* Why both checks: the header is the peer's claim; only the datagram's size is fact. */
    if (len32 > max_frame)
    {
        snprintf(why, whylen, "oversize frame: header says %u bytes, the maximum is %zu",
                 (unsigned)len32, max_frame);
        return -1;
    }
    if ((size_t)len32 != n - OVP_PRIV_HDR_LEN)
    {
        snprintf(why, whylen, "frame length mismatch: header says %u bytes, %zu arrived",
                 (unsigned)len32, n - OVP_PRIV_HDR_LEN);
        return -1;
    }
    f->payload = (uint8_t *)buf + OVP_PRIV_HDR_LEN;
    f->len = len32;
    return 0;
}

/*
 * Reads one datagram into BUF (OVP_PRIV_HDR_LEN + MAX_FRAME bytes) and checks
 * that it is a well-formed frame. Returns RD_FRAME with F filled, RD_AGAIN when
 * DONTWAIT finds nothing, RD_EOF, or RD_BAD with the reason in WHY.
 */
static int
frame_read(int fd, uint8_t *buf, size_t max_frame, int dontwait, struct ovp_priv_frame *f,
           char *why, size_t whylen)
{
    struct iovec iov = {.iov_base = buf, .iov_len = OVP_PRIV_HDR_LEN + max_frame};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;
    do
    {
        n = recvmsg(fd, &msg, dontwait ? MSG_DONTWAIT : 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
    {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
            return RD_AGAIN;
        }
        if (errno == ECONNRESET || errno == EPIPE)
        {
            return RD_EOF;
        }
        snprintf(why, whylen, "reading the channel failed: %s", strerror(errno));
        return RD_BAD;
    }
    if (n == 0)
    {
        return RD_EOF;
    }
    /* Why: a datagram bigger than our buffer was cut by the kernel; never use a part. */
    if (msg.msg_flags & MSG_TRUNC)
    {
        snprintf(why, whylen, "truncated frame (more than %zu bytes)",
                 (size_t)OVP_PRIV_HDR_LEN + max_frame);
        return RD_BAD;
    }
    /* Why: no fds or credentials are part of the protocol; any sent were discarded. */
    if (msg.msg_flags & MSG_CTRUNC)
    {
        snprintf(why, whylen, "frame carried ancillary data");
        return RD_BAD;
    }
    return ovp_priv_frame_parse(buf, (size_t)n, max_frame, f, why, whylen) < 0 ? RD_BAD
                                                                               : RD_FRAME;
}

/* ------------------------------------------------------------ helper side */

int
ovp_priv_chan_fd(const struct ovp_priv_chan *chan)
{
    return chan ? chan->fd : -1;
}

int
ovp_priv_reply(struct ovp_priv_chan *chan, uint16_t type, uint32_t id, const void *payload,
               size_t len)
{
    /*
     * Why only ERROR and user types: EXIT and LOG mean something to the other side,
     * and a reply must never be mistaken for them. Only the fd is used (no lock,
     * no allocation), so a forked grandchild may reply too.
     */
    if (!chan || (type != OVP_PRIV_ERROR && type < OVP_PRIV_USER))
    {
        errno = EINVAL;
        return -1;
    }
    return frame_send(chan->fd, chan->max_frame, type, id, payload, len);
}

void
ovp_priv_log(struct ovp_priv_chan *chan, int flags, const char *fmt, ...)
{
    int saved_errno = errno;
    if (!chan || !fmt || chan->max_frame < 4)
    {
        return; /* a frame that small cannot carry the flags */
    }
    uint8_t buf[4 + OVP_LOG_LINE_MAX];
    char *text = (char *)buf + 4;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, OVP_LOG_LINE_MAX, fmt, ap);
    va_end(ap);
    if (n < 0)
    {
        snprintf(text, OVP_LOG_LINE_MAX, "(unformattable log line)");
    }
    /* Why here: errno means something only in the process where the call failed. */
    if (flags & PLOG_ERRNO)
    {
        size_t used = strlen(text);
        errno = saved_errno;
        snprintf(text + used, OVP_LOG_LINE_MAX - used, ": %m (errno=%d)", saved_errno);
        flags &= ~PLOG_ERRNO;
    }
    size_t len = 4 + strlen(text);
    if (len > chan->max_frame)
    {
        len = chan->max_frame;
    }
    uint32_t f32 = (uint32_t)flags;
    memcpy(buf, &f32, 4);
    frame_send(chan->fd, chan->max_frame, OVP_PRIV_LOG, 0, buf, len);
    errno = saved_errno;
}

/*
 * Leaves the helper with exactly 0/1/2 on /dev/null and the channel on fd 3.
 * Why: the helper runs as root for the life of OpenVPN; any inherited fd (a
 * listening socket, a tun device, a log file, another helper's channel) would
 * be a root-held handle that nothing audits, and would leak into what it runs.
 */
static int
priv_answer_setup_fds(int chan)
{
    if (chan != PRIV_CHAN_FD)
    {
        if (dup2(chan, PRIV_CHAN_FD) < 0)
        {
            return -1;
        }
        close(chan);
    }
    /* Why CLOEXEC: a command the helper execs must not be able to forge replies. */
    if (fcntl(PRIV_CHAN_FD, F_SETFD, FD_CLOEXEC) < 0)
    {
        return -1;
    }
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
    {
        return -1;
    }
    for (int i = 0; i <= 2; i++)
    {
        if (null != i && dup2(null, i) < 0)
        {
            return -1;
        }
    }
    if (null > 2)
    {
        close(null);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, PRIV_CHAN_FD + 1, ~0U, 0) == 0)
    {
        return 0;
    }
#endif
    /* Old kernel: walk /proc/self/fd until a pass closes nothing. */
    DIR *d = opendir("/proc/self/fd");
    if (d)
    {
        int closed;
        do
        {
            closed = 0;
            struct dirent *de;
            rewinddir(d);
            while ((de = readdir(d)) != NULL)
            {
                char *end;
                long fd = strtol(de->d_name, &end, 10);
                if (*end || end == de->d_name || fd <= PRIV_CHAN_FD || fd == dirfd(d))
                {
                    continue;
                }
                close((int)fd);
                closed = 1;
            }
        } while (closed);
        closedir(d);
        return 0;
    }
    /* No /proc: close every possible number. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 1048576)
    {
        max = 1048576;
    }
    for (long fd = PRIV_CHAN_FD + 1; fd < max; fd++)
    {
        close((int)fd);
    }
    return 0;
}

/*
 * Default handlers everywhere, then ignore what OpenVPN's signals are about.
 * Why: a SIGHUP, SIGUSR1, Ctrl-C or systemd's SIGTERM to the whole process group
 * aimed at OpenVPN must not kill the helper before it serves DOWN; it ends by
 * EXIT or by the channel closing (OpenVPN gone) instead. What it runs gets
 * default dispositions again (see the plugins' child setup).
 */
static void
priv_answer_reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
    {
        if (sig == SIGKILL || sig == SIGSTOP)
        {
            continue;
        }
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL); /* fails harmlessly for libc-reserved numbers */
    }
    const int ignored[] = {SIGINT, SIGHUP, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE};
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
    {
        sigaction(ignored[i], &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The helper's state: one per helper process. */
struct priv_helper_state
{
    const struct ovp_priv_helper *h;
    struct ovp_priv_chan chan;
    uint8_t *rbuf;
    void *ctx;
};

static int
priv_answer_permitted(const struct ovp_priv_helper *h, uint16_t type)
{
    for (size_t i = 0; i < h->n_permitted; i++)
    {
        if (h->permitted[i] == type)
        {
            return 1;
        }
    }
    return 0;
}

/* Serves requests until EXIT, EOF or an error; returns the exit code. */
static int
priv_answer_loop(struct priv_helper_state *hs)
{
    struct ovp_priv_chan *chan = &hs->chan;
    for (;;)
    {
        struct ovp_priv_frame f;
        char why[160];
        int r = frame_read(chan->fd, hs->rbuf, chan->max_frame, 0, &f, why, sizeof(why));
        if (r == RD_EOF)
        {
            /* Why: the only other end is OpenVPN's; EOF means it is gone. */
            return PRIV_EXIT_OK;
        }
        if (r != RD_FRAME)
        {
            /* Why exit: a root helper does not guess what a broken peer meant. */
            ovp_priv_log(chan, PLOG_ERR, "malformed request: %s; helper exits", why);
            return PRIV_EXIT_PROTOCOL;
        }
        if (f.type == OVP_PRIV_EXIT)
        {
            return PRIV_EXIT_OK;
        }
        if (f.type == OVP_PRIV_PARK)
        {
            if (hs->h->park)
            {
                hs->h->park(chan, hs->ctx);
            }
            if (frame_send(chan->fd, chan->max_frame, OVP_PRIV_PARKED, 0, NULL, 0) < 0)
            {
                return PRIV_EXIT_IO;
            }
            continue;
        }
        /*
         * Why a fixed list: the helper serves only the requests its plugin declared,
         * so a compromised unprivileged side cannot reach anything else as root.
         * A refusal is answered (the caller is not left waiting) and the helper
         * goes on, since the frame itself was well-formed.
         */
        if (!priv_answer_permitted(hs->h, f.type))
        {
            char reason[64];
            size_t n = (size_t)snprintf(reason, sizeof(reason), "request type %u not permitted",
                                        (unsigned)f.type);
            ovp_priv_log(chan, PLOG_WARN, "refused request type %u (id %u): not permitted",
                         (unsigned)f.type, (unsigned)f.id);
            if (ovp_priv_reply(chan, OVP_PRIV_ERROR, f.id, reason,
                               n < chan->max_frame ? n : chan->max_frame) < 0)
            {
                return PRIV_EXIT_IO;
            }
            continue;
        }
        if (hs->h->answer(chan, hs->ctx, &f) < 0)
        {
            return PRIV_EXIT_ANSWER;
        }
    }
}

/* Reads the CONFIG frame and runs init; answers READY or ERROR. Returns 0 or -1. */
static int
priv_answer_config(struct priv_helper_state *hs)
{
    struct ovp_priv_chan *chan = &hs->chan;
    struct ovp_priv_frame f;
    char why[256] = "";
    int r = frame_read(chan->fd, hs->rbuf, chan->max_frame, 0, &f, why, sizeof(why));
    if (r == RD_EOF)
    {
        return -1;
    }
    if (r == RD_FRAME && f.type != OVP_PRIV_CONFIG)
    {
        snprintf(why, sizeof(why), "the first frame is of type %u, not CONFIG",
                 (unsigned)f.type);
        r = RD_BAD;
    }
    if (r == RD_FRAME && hs->h->init &&
        hs->h->init(chan, f.payload, f.len, &hs->ctx, why, sizeof(why)) < 0)
    {
        if (!why[0])
        {
            snprintf(why, sizeof(why), "the configuration was refused");
        }
        r = RD_BAD;
    }
    /* Why wipe: the configuration may hold what a plugin keeps secret. */
    if (r == RD_FRAME)
    {
        ovp_wipe(f.payload, f.len);
        return frame_send(chan->fd, chan->max_frame, OVP_PRIV_READY, 0, NULL, 0) < 0 ? -1 : 0;
    }
    size_t n = strlen(why);
    frame_send(chan->fd, chan->max_frame, OVP_PRIV_ERROR, 0, why,
               n < chan->max_frame ? n : chan->max_frame);
    return -1;
}

int
ovp_priv_helper_main(const struct ovp_priv_helper *h, int argc, char **argv)
{
    (void)argc;
    int type = 0;
    socklen_t sl = sizeof(type);
    /*
     * Why check fd 3 first: started by hand (or by anything but our plugin) there
     * is no channel, and a root program must not treat a stray fd as one.
     */
    if (!h || !h->answer || h->max_frame > OVP_PRIV_FRAME_ABSMAX ||
        getsockopt(PRIV_CHAN_FD, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_SEQPACKET)
    {
        fprintf(stderr,
                "%s: this program is the root helper of an ovp OpenVPN plugin; the plugin "
                "starts it, it is not run by hand\n",
                argv && argv[0] ? argv[0] : "ovp helper");
        return 64;
    }
    priv_answer_reset_signals();
    if (priv_answer_setup_fds(PRIV_CHAN_FD) < 0)
    {
        /* Why no init/answer: without a clean fd table the helper must not run. */
        return PRIV_EXIT_INIT;
    }
    /* Why: a root process holding passwords must not leave a core file behind. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct priv_helper_state hs = {.h = h};
    hs.chan.fd = PRIV_CHAN_FD;
    hs.chan.max_frame = h->max_frame ? h->max_frame : PRIV_FRAME_DEFAULT;
    hs.rbuf = malloc(OVP_PRIV_HDR_LEN + hs.chan.max_frame);
    if (!hs.rbuf)
    {
        return PRIV_EXIT_INIT;
    }
    int code = PRIV_EXIT_INIT;
    if (priv_answer_config(&hs) == 0)
    {
        code = priv_answer_loop(&hs);
        if (h->fini)
        {
            h->fini(hs.ctx);
        }
    }
    free(hs.rbuf);
    return code;
}

/* ------------------------------------------------------ unprivileged side */

/* Marks the channel dead once, logs REASON once, and makes the helper see EOF. */
static void
priv_mark_dead(struct ovp_priv *p, const char *reason)
{
    if (atomic_exchange(&p->dead, 1))
    {
        return;
    }
    if (reason)
    {
        ovp_logf(p->log, PLOG_ERR, "%s: %s; channel closed", p->name, reason);
    }
    /*
     * Why shutdown and not close: another thread may be in poll or send on this
     * fd; the number stays ours until stop, while the helper reads EOF and exits.
     */
    shutdown(p->fd, SHUT_RDWR);
}

int
ovp_priv_log_decode(const uint8_t *payload, size_t len, int *flags, char *text, size_t textlen)
{
    if (len < 4 || textlen == 0)
    {
        return -1;
    }
    uint32_t raw;
    memcpy(&raw, payload, 4);
    /* Why a mask: PLOG_ERRNO was resolved in the helper; other bits are not its to set. */
    int fl = (int)raw & (PLOG_ERR | PLOG_WARN | PLOG_NOTE | PLOG_DEBUG | PLOG_NOMUTE);
    if (!(fl & (PLOG_ERR | PLOG_WARN | PLOG_NOTE | PLOG_DEBUG)))
    {
        fl |= PLOG_NOTE;
    }
    size_t n = len - 4;
    if (n > textlen - 1)
    {
        n = textlen - 1;
    }
    /* Why: the helper may log what a client typed; no control byte may forge a line. */
    for (size_t i = 0; i < n; i++)
    {
        uint8_t c = payload[4 + i];
        text[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    text[n] = '\0';
    *flags = fl;
    return 0;
}

/* Logs a LOG frame's text under the helper's name. Returns 0, or -1 if malformed. */
static int
priv_forward_log(struct ovp_priv *p, const struct ovp_priv_frame *f)
{
    char text[OVP_LOG_LINE_MAX];
    int fl;
    if (ovp_priv_log_decode(f->payload, f->len, &fl, text, sizeof(text)) < 0)
    {
        return -1;
    }
    ovp_logf(p->log, fl, "%s: %s", p->name, text);
    return 0;
}

/*
 * Reads one frame without blocking and checks it from the unprivileged side:
 * LOG frames are forwarded (RD_AGAIN), the helper may send only ERROR and user
 * types. Marks the channel dead on a protocol error (RD_BAD) but not at EOF.
 */
static int
priv_read(struct ovp_priv *p, struct ovp_priv_frame *f)
{
    char why[160];
    int r = frame_read(p->fd, p->rbuf, p->max_frame, 1, f, why, sizeof(why));
    if (r == RD_FRAME && f->type == OVP_PRIV_LOG)
    {
        if (priv_forward_log(p, f) == 0)
        {
            return RD_AGAIN;
        }
        snprintf(why, sizeof(why), "LOG frame of %zu bytes has no flags", f->len);
        r = RD_BAD;
    }
    else if (r == RD_FRAME && f->type != OVP_PRIV_ERROR && f->type != OVP_PRIV_READY &&
             f->type != OVP_PRIV_PARKED && f->type < OVP_PRIV_USER)
    {
        snprintf(why, sizeof(why), "frame of unknown type %u", (unsigned)f->type);
        r = RD_BAD;
    }
    if (r == RD_BAD)
    {
        char reason[200];
        snprintf(reason, sizeof(reason), "protocol error from the helper: %s", why);
        priv_mark_dead(p, reason);
    }
    return r;
}

/* Grows the socket's send buffer so that a frame of HDR + MAX_FRAME fits. */
static int
priv_size_sndbuf(int fd, size_t max_frame)
{
    /* Linux refuses a datagram larger than the send buffer minus a little. */
    int need = (int)(OVP_PRIV_HDR_LEN + max_frame + PRIV_SKB_SLACK);
    int cur = 0;
    socklen_t sl = sizeof(cur);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &sl) == 0 && cur >= need)
    {
        return 0;
    }
    /* The kernel doubles the value: this leaves room for two frames in flight. */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &need, sizeof(need));
    sl = sizeof(cur);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &sl) == 0 && cur >= need)
    {
        return 0;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &need, sizeof(need));
    sl = sizeof(cur);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &sl) == 0 && cur >= need)
    {
        return 0;
    }
    return -1;
}

static int
priv_check_spec(const struct ovp_priv_spec *spec, char *err, size_t errlen)
{
    if (!spec || !spec->program || !spec->program[0])
    {
        snprintf(err, errlen, "privsep: no helper program given");
        return -1;
    }
    if (spec->max_frame > OVP_PRIV_FRAME_ABSMAX)
    {
        snprintf(err, errlen, "privsep: max_frame %zu is above the limit %d", spec->max_frame,
                 OVP_PRIV_FRAME_ABSMAX);
        return -1;
    }
    if ((spec->config_len > 0 && !spec->config) ||
        spec->config_len > (spec->max_frame ? spec->max_frame : PRIV_FRAME_DEFAULT))
    {
        snprintf(err, errlen, "privsep: the configuration (%zu bytes) does not fit a frame",
                 spec->config_len);
        return -1;
    }
    return 0;
}

/*
 * 0 when DIR and every directory above it up to / can be changed only by root
 * (or the user running us): owned by one of them and not group- or
 * world-writable, unless sticky (like /tmp: others cannot rename our entries).
 * DIR is an absolute path and is cut down in place. -1 with the failing
 * directory left in DIR.
 */
static int
priv_dir_chain_ok(char *dir)
{
    for (;;)
    {
        struct stat sb;
        if (stat(dir[0] ? dir : "/", &sb) < 0 || !S_ISDIR(sb.st_mode) ||
            (sb.st_uid != 0 && sb.st_uid != geteuid()) ||
            ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX)))
        {
            return -1;
        }
        char *slash = strrchr(dir, '/');
        if (!dir[0] || !slash)
        {
            return 0;
        }
        *slash = '\0'; /* up one level; "/x" becomes "" (the root) */
    }
}

/*
 * The helper program is exec'd as root: only root (or the user running us)
 * may be able to change it. Returns 0, or -1 with ERR set.
 */
static int
priv_check_program(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
    {
        snprintf(err, errlen, "helper program %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode) || access(path, X_OK) < 0)
    {
        snprintf(err, errlen, "helper program %s is not an executable file", path);
        return -1;
    }
    if ((sb.st_mode & (S_IWGRP | S_IWOTH)) || (sb.st_uid != 0 && sb.st_uid != geteuid()))
    {
        snprintf(err, errlen,
                 "helper program %s (owner uid %u, mode %04o) could be changed by others; it "
                 "must belong to root and not be group- or world-writable",
                 path, (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
        return -1;
    }
    /*
     * Why every directory up to /, of the path as given and of the file it reaches
     * (a symlink): whoever may write to any of them can rename a directory below
     * away and put another program in its place, which then runs as root.
     */
    char dir[PATH_MAX];
    char real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (!slash || path[0] != '/' || dl >= sizeof(dir))
    {
        snprintf(err, errlen, "helper program %s: not an absolute path", path);
        return -1;
    }
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    int bad = priv_dir_chain_ok(dir) < 0;
    if (!bad)
    {
        if (!realpath(path, real) || !(slash = strrchr(real, '/')))
        {
            snprintf(err, errlen, "helper program %s: %s", path, strerror(errno));
            return -1;
        }
        memcpy(dir, real, (size_t)(slash - real));
        dir[slash - real] = '\0';
        bad = priv_dir_chain_ok(dir) < 0;
    }
    if (bad)
    {
        snprintf(err, errlen,
                 "the directory of helper program %s could be changed by others (%s); it "
                 "and every directory above it must belong to root and not be group- or "
                 "world-writable",
                 path, dir[0] ? dir : "/");
        return -1;
    }
    return 0;
}

/*
 * Finds the helper program. Why beside the plugin only under .libs: that is a
 * libtool build tree (the tests run there); an installed plugin always uses the
 * helper installed with it, never one found through the environment.
 */
static char *
priv_find_program(const char *program, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (strchr(program, '/'))
    {
        return strdup(program);
    }
    Dl_info info;
    char so[PATH_MAX];
    if (dladdr((void *)priv_find_program, &info) && info.dli_fname &&
        realpath(info.dli_fname, so))
    {
        char *slash = strrchr(so, '/');
        if (slash)
        {
            *slash = '\0';
            slash = strrchr(so, '/');
            if (slash && strcmp(slash, "/.libs") == 0)
            {
                *slash = '\0';
                size_t dl = strlen(so), pl = strlen(program);
                if (dl + 1 + pl < sizeof(buf))
                {
                    memcpy(buf, so, dl);
                    buf[dl] = '/';
                    memcpy(buf + dl + 1, program, pl + 1);
                }
                else
                {
                    buf[0] = '\0';
                }
                if (buf[0] && access(buf, F_OK) == 0)
                {
                    return strdup(buf);
                }
            }
        }
    }
    if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", OVP_HELPERDIR, program) >= sizeof(buf))
    {
        snprintf(err, errlen, "helper program name too long");
        return NULL;
    }
    return strdup(buf);
}

/* Helpers closed by a plugin (ovp_priv_park), kept for its next open. */
static pthread_mutex_t parked_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ovp_priv *parked;

/*
 * Removes and returns a parked helper of PATH, or NULL: one started with exactly
 * CONFIG if there is one (two plugin lines may use the same program with different
 * configurations, e.g. two PAM services), else the first of PATH parked. Why the
 * first: the list is in close order and OpenVPN reopens in the same (configuration)
 * order, so a line whose configuration changed gets its own old helper, not the one
 * of a later line that is unchanged and would then get this line's.
 */
static struct ovp_priv *
priv_unpark(const char *path, const void *config, size_t config_len)
{
    pthread_mutex_lock(&parked_mu);
    struct ovp_priv **found = NULL;
    for (struct ovp_priv **pp = &parked; *pp; pp = &(*pp)->parked_next)
    {
        struct ovp_priv *c = *pp;
        if (strcmp(c->path, path) != 0)
        {
            continue;
        }
        if (c->config_len == config_len &&
            (config_len == 0 || memcmp(c->config, config, config_len) == 0))
        {
            found = pp;
            break;
        }
        if (!found)
        {
            found = pp;
        }
    }
    struct ovp_priv *p = found ? *found : NULL;
    if (p)
    {
        *found = p->parked_next;
        p->parked_next = NULL;
    }
    pthread_mutex_unlock(&parked_mu);
    return p;
}

void
ovp_priv_park(struct ovp_priv *p, int timeout_ms)
{
    if (!p)
    {
        return;
    }
    int parked_ok = 0;
    if (!ovp_priv_alive(p))
    {
        ovp_priv_stop(p, 0); /* its end was logged when it was noticed */
        return;
    }
    if (ovp_priv_send(p, OVP_PRIV_PARK, 0, NULL, 0) == 0)
    {
        int64_t deadline = deadline_from(timeout_ms);
        struct ovp_priv_frame f;
        int r;
        while ((r = ovp_priv_recv(p, &f, ms_left(deadline))) == 1)
        {
            if (f.type == OVP_PRIV_PARKED)
            {
                parked_ok = 1;
                break;
            }
            /* Why drop: a reply to a request of the closed plugin has nobody to go to. */
        }
    }
    if (!parked_ok)
    {
        ovp_logf(p->log, PLOG_WARN, "%s: did not confirm the close; stopping it", p->name);
        ovp_priv_stop(p, 0);
        return;
    }
    /* Lines it sends while parked wait in the socket for the next owner. */
    p->log = NULL;
    p->parked_next = NULL;
    pthread_mutex_lock(&parked_mu);
    struct ovp_priv **tail = &parked;
    while (*tail)
    {
        tail = &(*tail)->parked_next;
    }
    *tail = p; /* in close order: see priv_unpark */
    pthread_mutex_unlock(&parked_mu);
}

int
ovp_priv_adopted(const struct ovp_priv *p)
{
    return p ? p->adopted : 0;
}

static void
priv_free(struct ovp_priv *p)
{
    if (p->pidfd >= 0)
    {
        close(p->pidfd);
    }
    if (p->fd >= 0)
    {
        close(p->fd);
    }
    pthread_mutex_destroy(&p->send_mu);
    if (p->config)
    {
        ovp_wipe(p->config, p->config_len);
    }
    free(p->config);
    free(p->path);
    free(p->rbuf);
    free(p);
}

/*
 * The child between fork and execve: async-signal-safe calls only (another
 * thread of OpenVPN may have held malloc's or stdio's lock at the fork).
 */
static void __attribute__((noreturn))
priv_exec_child(int chan, const char *path, char *const argv[], long maxfd)
{
    /* Why fd 3: the helper looks for its channel there and nowhere else. */
    if (chan == PRIV_CHAN_FD)
    {
        if (fcntl(chan, F_SETFD, 0) < 0)
        {
            _exit(127);
        }
    }
    else if (dup2(chan, PRIV_CHAN_FD) < 0) /* dup2 clears close-on-exec */
    {
        _exit(127);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, PRIV_CHAN_FD + 1, ~0U, 0) < 0)
#endif
    {
        for (long fd = PRIV_CHAN_FD + 1; fd < maxfd; fd++)
        {
            close((int)fd);
        }
    }
    /* Why: ignored signals and the blocked mask survive execve; the helper starts clean. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
    {
        if (sig != SIGKILL && sig != SIGSTOP)
        {
            sigaction(sig, &sa, NULL);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, environ);
    _exit(127);
}

/* Sends CONFIG and waits for READY. Returns 0, or -1 with ERR set. */
static int
priv_configure(struct ovp_priv *p, const struct ovp_priv_spec *spec, char *err, size_t errlen)
{
    if (frame_send(p->fd, p->max_frame, OVP_PRIV_CONFIG, 0, spec->config, spec->config_len) < 0)
    {
        snprintf(err, errlen, "%s: cannot send its configuration: %s", p->name,
                 errno == EPIPE ? "it exited (could it be executed?)" : strerror(errno));
        return -1;
    }
    int timeout = spec->start_timeout_ms > 0 ? spec->start_timeout_ms : 10000;
    struct ovp_priv_frame f;
    int r = ovp_priv_recv(p, &f, timeout);
    if (r == 1 && f.type == OVP_PRIV_READY)
    {
        return 0;
    }
    if (r == 1 && f.type == OVP_PRIV_ERROR)
    {
        snprintf(err, errlen, "%s refused its configuration: %.*s", p->name,
                 (int)(f.len > 400 ? 400 : f.len), (const char *)f.payload);
        for (char *c = err; *c; c++)
        {
            *c = ((unsigned char)*c < 0x20 || *c == 0x7f) ? '?' : *c;
        }
    }
    else if (r == 0)
    {
        snprintf(err, errlen, "%s did not answer within %d ms", p->name, timeout);
    }
    else if (r == 1)
    {
        snprintf(err, errlen, "%s answered its configuration with frame type %u", p->name,
                 (unsigned)f.type);
    }
    else
    {
        snprintf(err, errlen, "%s exited at start (see the lines above)", p->name);
    }
    return -1;
}

/* Forks and execs a new helper. Returns the handle, or NULL with ERR set. */
static struct ovp_priv *
priv_spawn(const struct ovp_priv_spec *spec, char *path, struct ovp_log *log, char *err,
           size_t errlen)
{
    int sv[2] = {-1, -1};
    struct ovp_priv *p = calloc(1, sizeof(*p));
    if (!p)
    {
        free(path);
        snprintf(err, errlen, "privsep: out of memory");
        return NULL;
    }
    p->fd = -1;
    p->pidfd = -1;
    p->pid = -1;
    p->path = path;
    atomic_init(&p->dead, 0);
    snprintf(p->name, sizeof(p->name), "%s", spec->name ? spec->name : "privsep helper");
    p->log = log;
    p->max_frame = spec->max_frame ? spec->max_frame : PRIV_FRAME_DEFAULT;
    pthread_mutex_init(&p->send_mu, NULL);
    p->rbuf = malloc(OVP_PRIV_HDR_LEN + p->max_frame);
    p->config_len = spec->config_len;
    p->config = malloc(spec->config_len ? spec->config_len : 1);
    if (!p->rbuf || !p->config)
    {
        snprintf(err, errlen, "privsep: out of memory");
        goto fail;
    }
    if (spec->config_len)
    {
        memcpy(p->config, spec->config, spec->config_len);
    }
    /*
     * Why an unnamed socketpair: only these two processes hold an end, so no other
     * process can connect or speak on the channel. SEQPACKET keeps frame edges and
     * reports EOF. CLOEXEC on both ends: no script OpenVPN runs gets either.
     */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
        snprintf(err, errlen, "privsep: socketpair: %s", strerror(errno));
        goto fail;
    }
    if (priv_size_sndbuf(sv[0], p->max_frame) < 0 || priv_size_sndbuf(sv[1], p->max_frame) < 0)
    {
        snprintf(err, errlen,
                 "privsep: max_frame %zu does not fit the socket buffers (net.core.wmem_max)",
                 p->max_frame);
        goto fail;
    }
    /* Why a send timeout: a wedged helper must not freeze OpenVPN's event loop. */
    struct timeval tv = {.tv_sec = PRIV_SEND_TIMEOUT_MS / 1000,
                         .tv_usec = (PRIV_SEND_TIMEOUT_MS % 1000) * 1000};
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    /* Everything the child needs is prepared here: after fork it may not allocate. */
    char *argv[3] = {p->path, (char *)(uintptr_t)spec->arg, NULL};
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536)
    {
        maxfd = 65536;
    }
    /*
     * Why block every signal across fork: until the child has reset its handlers,
     * one of OpenVPN's handlers could otherwise run in it.
     */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
    {
        priv_exec_child(sv[1], p->path, argv, maxfd);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
    {
        snprintf(err, errlen, "privsep: fork: %s", strerror(fork_errno));
        goto fail;
    }
    close(sv[1]);
    sv[1] = -1;
    p->fd = sv[0];
    sv[0] = -1;
    p->pid = pid;
#ifdef SYS_pidfd_open
    /* Why a pidfd: the SIGKILL at stop then cannot hit a recycled pid. */
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    if (priv_configure(p, spec, err, errlen) < 0)
    {
        ovp_priv_stop(p, 1000);
        return NULL;
    }
    return p;

fail:
    if (sv[0] >= 0)
    {
        close(sv[0]);
    }
    if (sv[1] >= 0)
    {
        close(sv[1]);
    }
    priv_free(p);
    return NULL;
}

struct ovp_priv *
ovp_priv_start(const struct ovp_priv_spec *spec, struct ovp_log *log, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0)
    {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (priv_check_spec(spec, err, errlen) < 0)
    {
        errno = EINVAL;
        return NULL;
    }
    char *path = priv_find_program(spec->program, err, errlen);
    if (!path)
    {
        errno = ENOMEM;
        return NULL;
    }
    struct ovp_priv *p = priv_unpark(path, spec->config, spec->config_len);
    if (p && !ovp_priv_alive(p))
    {
        ovp_priv_stop(p, 0);
        p = NULL;
    }
    if (p)
    {
        int same =
            p->config_len == spec->config_len &&
            (spec->config_len == 0 || memcmp(p->config, spec->config, p->config_len) == 0);
        if (same || geteuid() != 0)
        {
            free(path);
            p->log = log;
            p->adopted = same ? 1 : 2;
            snprintf(p->name, sizeof(p->name), "%s",
                     spec->name ? spec->name : "privsep helper");
            /*
             * Why keep a helper whose configuration is out of date: without root
             * no new one can start, and the old one still answers as configured at
             * the first open, which the operator chose then.
             */
            if (!same)
            {
                ovp_logf(log, PLOG_WARN,
                         "%s: the configuration of the root side changed at this reload; it "
                         "takes effect only when OpenVPN is restarted (no root to start a new "
                         "helper). Helper pid %ld keeps the configuration of the first start",
                         p->name, (long)p->pid);
            }
            return p;
        }
        /* Root: the old helper ends and a new one starts with the new configuration. */
        p->log = log;
        ovp_priv_stop(p, 2000);
    }
    if (geteuid() != 0)
    {
        snprintf(err, errlen,
                 "not started: this process runs without root (uid %u) and has no helper to "
                 "adopt; start OpenVPN as root (it may drop privileges with user/group later)",
                 (unsigned)geteuid());
        free(path);
        errno = EPERM;
        return NULL;
    }
    if (priv_check_program(path, err, errlen) < 0)
    {
        free(path);
        errno = EACCES;
        return NULL;
    }
    p = priv_spawn(spec, path, log, err, errlen);
    if (!p)
    {
        errno = EIO;
    }
    return p;
}

int
ovp_priv_send(struct ovp_priv *p, uint16_t type, uint32_t id, const void *payload, size_t len)
{
    /* Why: LOG and ERROR flow only from the helper; a plugin sends its own types. */
    if (!p || (type != OVP_PRIV_EXIT && type != OVP_PRIV_PARK && type < OVP_PRIV_USER) ||
        len > p->max_frame || (len > 0 && !payload))
    {
        return -1;
    }
    int rc = -1;
    pthread_mutex_lock(&p->send_mu);
    if (atomic_load(&p->dead))
    {
        goto out;
    }
    if (frame_send(p->fd, p->max_frame, type, id, payload, len) == 0)
    {
        rc = 0;
    }
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
    {
        /* The helper stopped reading; this request fails, the channel may recover. */
        ovp_logf(p->log, PLOG_WARN, "%s: request id %u not sent: the helper is not reading",
                 p->name, (unsigned)id);
    }
    else
    {
        char reason[128];
        snprintf(reason, sizeof(reason), "sending to the helper failed: %s", strerror(errno));
        priv_mark_dead(p, reason);
    }
out:
    pthread_mutex_unlock(&p->send_mu);
    return rc;
}

int
ovp_priv_recv(struct ovp_priv *p, struct ovp_priv_frame *f, int timeout_ms)
{
    if (!p || !f)
    {
        return -1;
    }
    int64_t deadline = deadline_from(timeout_ms);
    for (;;)
    {
        if (atomic_load(&p->dead))
        {
            return -1;
        }
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n == 0)
        {
            return 0;
        }
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue; /* the deadline is recomputed */
            }
            char reason[128];
            snprintf(reason, sizeof(reason), "poll on the channel failed: %s", strerror(errno));
            priv_mark_dead(p, reason);
            return -1;
        }
        int r = priv_read(p, f);
        if (r == RD_FRAME)
        {
            return 1;
        }
        if (r == RD_EOF)
        {
            priv_mark_dead(p, "the helper closed the channel (it exited)");
            return -1;
        }
        if (r == RD_BAD)
        {
            return -1;
        }
        /* RD_AGAIN: a LOG frame went to the logger; wait for the rest of the time. */
    }
}

int
ovp_priv_call(struct ovp_priv *p, uint16_t type, uint32_t id, const void *payload, size_t len,
              struct ovp_priv_frame *reply, int timeout_ms)
{
    if (!p || !reply)
    {
        return -1;
    }
    int64_t deadline = deadline_from(timeout_ms);
    if (ovp_priv_send(p, type, id, payload, len) < 0)
    {
        return -1;
    }
    for (;;)
    {
        int r = ovp_priv_recv(p, reply, ms_left(deadline));
        if (r <= 0 || reply->id == id)
        {
            return r;
        }
        ovp_logf(p->log, PLOG_DEBUG, "%s: dropped frame type %u id %u while waiting for id %u",
                 p->name, (unsigned)reply->type, (unsigned)reply->id, (unsigned)id);
    }
}

/*
 * For a helper that is not (or no longer) our child: 1 once it has exited.
 * Why this exists: OpenVPN 2.6 daemonizes before it opens plugins, so the helper
 * is normally its child; but a host that forks after opening (a daemonizing
 * wrapper, another host) or one that ignores SIGCHLD leaves waitpid saying ECHILD
 * although the helper runs fine. The pidfd still reports its exit; without one,
 * the channel's hang-up (the helper's end closed) does.
 */
static int
priv_foreign_exited(const struct ovp_priv *p)
{
    struct pollfd pfd;
    if (p->pidfd >= 0)
    {
        pfd = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
        return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
    }
    pfd = (struct pollfd){.fd = p->fd, .events = 0};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

int
ovp_priv_alive(struct ovp_priv *p)
{
    if (!p || atomic_load(&p->dead))
    {
        return 0;
    }
    /* WNOWAIT: look without reaping, so stop still gets the status. */
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if ((r == 0 && si.si_pid == p->pid) || (r < 0 && errno == ECHILD && priv_foreign_exited(p)))
    {
        priv_mark_dead(p, "the helper exited");
        return 0;
    }
    return 1;
}

void
ovp_priv_kill(struct ovp_priv *p)
{
    if (!p || p->pid <= 0)
    {
        return;
    }
#ifdef SYS_pidfd_send_signal
    if (p->pidfd >= 0 && syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) == 0)
    {
        return;
    }
#endif
    kill(p->pid, SIGKILL);
}

pid_t
ovp_priv_pid(const struct ovp_priv *p)
{
    return p ? p->pid : -1;
}

int
ovp_priv_fd(const struct ovp_priv *p)
{
    return p ? p->fd : -1;
}

/*
 * Waits until DEADLINE for the helper to exit, forwarding the LOG frames it sends
 * on its way out (fini may log). Returns 1 with *STATUS set once reaped, 0 if it
 * still runs.
 */
static int
priv_wait_exit(struct ovp_priv *p, int64_t deadline, int *status)
{
    int chan_open = !atomic_load(&p->dead);
    for (;;)
    {
        pid_t r = waitpid(p->pid, status, WNOHANG);
        if (r == p->pid)
        {
            return 1;
        }
        if (r < 0 && errno == ECHILD && (p->pidfd < 0 || priv_foreign_exited(p)))
        {
            /*
             * Not our child (a host that forked after open) or reaped elsewhere
             * (SIGCHLD ignored): no status to collect. With a pidfd we still wait
             * for the exit itself below, so that stop can kill a helper that hangs.
             */
            *status = -1;
            return 1;
        }
        int left = ms_left(deadline);
        if (left == 0)
        {
            return 0;
        }
        struct pollfd pfd[2];
        nfds_t n = 0;
        if (chan_open)
        {
            pfd[n++] = (struct pollfd){.fd = p->fd, .events = POLLIN};
        }
        if (p->pidfd >= 0)
        {
            pfd[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
        }
        else if (left < 0 || left > 10)
        {
            left = 10; /* no pidfd: check waitpid on a short tick */
        }
        int pr = poll(n ? pfd : NULL, n, left);
        if (pr > 0 && chan_open && pfd[0].revents)
        {
            struct ovp_priv_frame f;
            int rr = priv_read(p, &f); /* LOG frames are forwarded; replies dropped */
            if (rr == RD_EOF || rr == RD_BAD)
            {
                chan_open = 0;
            }
        }
    }
}

int
ovp_priv_stop(struct ovp_priv *p, int timeout_ms)
{
    if (!p)
    {
        return -1;
    }
    int status = -1;
    if (p->pid > 0)
    {
        if (!atomic_load(&p->dead))
        {
            ovp_priv_send(p, OVP_PRIV_EXIT, 0, NULL, 0);
        }
        if (!priv_wait_exit(p, deadline_from(timeout_ms), &status))
        {
            ovp_logf(p->log, PLOG_WARN, "%s: did not exit within %d ms; killing it", p->name,
                     timeout_ms);
#ifdef SYS_pidfd_send_signal
            if (p->pidfd < 0 || syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) < 0)
#endif
            {
                kill(p->pid, SIGKILL);
            }
            /* Why block here: SIGKILL cannot be refused, and a zombie must not stay. */
            pid_t r;
            do
            {
                r = waitpid(p->pid, &status, 0);
            } while (r < 0 && errno == EINTR);
            if (r < 0)
            {
                status = -1;
            }
        }
    }
    priv_free(p);
    return status;
}

/* ------------------------------------------------------------ payload codec */

int
ovp_priv_pack(struct ovp_priv_buf *b, const void *s, size_t n)
{
    if (!b || !b->data || (n > 0 && !s) || b->len > b->cap || n > UINT32_MAX)
    {
        return -1;
    }
    size_t room = b->cap - b->len;
    if (room < 4 || room - 4 < n)
    {
        return -1;
    }
    uint32_t n32 = (uint32_t)n;
    memcpy(b->data + b->len, &n32, 4);
    if (n > 0)
    {
        memcpy(b->data + b->len + 4, s, n);
    }
    b->len += 4 + n;
    return 0;
}

int
ovp_priv_pack_str(struct ovp_priv_buf *b, const char *s)
{
    if (!s)
    {
        return -1;
    }
    return ovp_priv_pack(b, s, strlen(s));
}

int
ovp_priv_unpack(const uint8_t *data, size_t len, size_t *pos, const uint8_t **s, size_t *n)
{
    /* Why so strict: the helper unpacks what an unprivileged process wrote. */
    if (!pos || !s || !n || (!data && len > 0) || *pos > len || len - *pos < 4)
    {
        return -1;
    }
    uint32_t n32;
    memcpy(&n32, data + *pos, 4);
    if ((size_t)n32 > len - *pos - 4)
    {
        return -1;
    }
    *s = data + *pos + 4;
    *n = n32;
    *pos += 4 + (size_t)n32;
    return 0;
}

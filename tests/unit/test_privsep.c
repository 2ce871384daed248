/* test_privsep.c: cmocka tests of the root helper channel, each with a really exec'd helper. */
#include "ovpbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fakehost.h"
#include "log.h"
#include "privsep.h"

/* Request types the test helper knows. */
enum
{
    T_ECHO = 16, /* reply with the same type, id and payload */
    T_HOLD,      /* hold three requests, then answer them in reverse order */
    T_STRAY,     /* reply once with id + 1000, then with the id */
    T_LOG,       /* log three lines, then reply */
    T_BOGUS,     /* write a malformed frame straight onto the socket */
    T_COUNT,     /* reply with the number of requests answered so far */
    T_SLEEP,     /* sleep 10 s without answering */
    T_BIGREPLY,  /* try a reply one byte over the maximum, then one of the maximum */
    T_FORK,      /* reply from a forked grandchild */
    T_QUIT,      /* the answer function returns -1 */
    T_REPORT,    /* what the helper's fds and signals look like */
    T_NOTPERM = 99,
};

static const uint16_t permitted[] = {T_ECHO,  T_HOLD,     T_STRAY, T_LOG,  T_BOGUS, T_COUNT,
                                     T_SLEEP, T_BIGREPLY, T_FORK,  T_QUIT, T_REPORT};

/* The helper is this test program, exec'd with this argument (and the frame maximum). */
#define HELPER_ARG "--privsep-test-helper="
static char self_exe[512];

#define WAIT_MS 5000 /* no single wait in these tests may take longer */

/* The helper's context: sent as the CONFIG frame, copied by the helper's init. */
struct tctx
{
    char fini_path[256];
    char park_path[256]; /* the park callback writes here */
    int init_fail;       /* init refuses the configuration */
    int variant;         /* only to make two configurations differ */
};

struct fixture
{
    struct ovp_log *log;
    struct tctx ctx;
    char dir[64];
};

/* -------------------------------------------------- the test helper (child) */

static unsigned answered;
static struct
{
    uint32_t id;
    uint8_t data[64];
    size_t len;
} held[3];
static size_t nheld;

static void
put_hdr(uint8_t *h, uint32_t len, uint16_t type, uint32_t id)
{
    uint16_t flags = 0;
    memcpy(h, &len, 4);
    memcpy(h + 4, &type, 2);
    memcpy(h + 6, &flags, 2);
    memcpy(h + 8, &id, 4);
}

/* Writes a frame that breaks the protocol in the way KIND says. */
static int
send_bogus(int fd, char kind, size_t max_frame, uint32_t id)
{
    static uint8_t buf[OVP_PRIV_HDR_LEN + 4096];
    size_t n = 0;
    memset(buf, 'x', sizeof(buf));
    switch (kind)
    {
        case 'O': /* header claims more than the maximum, few bytes follow */
            put_hdr(buf, (uint32_t)max_frame + 1, T_ECHO, id);
            n = OVP_PRIV_HDR_LEN + 10;
            break;
        case 'T': /* a datagram larger than any frame may be */
            put_hdr(buf, (uint32_t)max_frame + 100, T_ECHO, id);
            n = OVP_PRIV_HDR_LEN + max_frame + 100;
            break;
        case 'S': /* shorter than the header */
            n = 5;
            break;
        case 'M': /* header length disagrees with the bytes sent */
            put_hdr(buf, 10, T_ECHO, id);
            n = OVP_PRIV_HDR_LEN + 20;
            break;
        case 'U': /* a channel type nobody defined */
            put_hdr(buf, 0, 9, id);
            n = OVP_PRIV_HDR_LEN;
            break;
        case 'E': /* EXIT only flows the other way */
            put_hdr(buf, 0, OVP_PRIV_EXIT, id);
            n = OVP_PRIV_HDR_LEN;
            break;
        case 'L': /* a LOG frame too short for its flags */
            put_hdr(buf, 2, OVP_PRIV_LOG, 0);
            n = OVP_PRIV_HDR_LEN + 2;
            break;
        default:
            return -1;
    }
    if (n > sizeof(buf))
    {
        return -1;
    }
    return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static int report(struct ovp_priv_chan *chan, uint32_t id);

static int
t_answer(struct ovp_priv_chan *chan, void *vctx, const struct ovp_priv_frame *req)
{
    (void)vctx;
    answered++;
    switch (req->type)
    {
        case T_ECHO:
            return ovp_priv_reply(chan, req->type, req->id, req->payload, req->len);
        case T_HOLD:
            if (req->len > sizeof(held[0].data) || nheld >= 3)
            {
                return -1;
            }
            held[nheld].id = req->id;
            memcpy(held[nheld].data, req->payload, req->len);
            held[nheld].len = req->len;
            if (++nheld == 3)
            {
                while (nheld > 0)
                {
                    nheld--;
                    if (ovp_priv_reply(chan, T_HOLD, held[nheld].id, held[nheld].data,
                                       held[nheld].len) < 0)
                    {
                        return -1;
                    }
                }
            }
            return 0;
        case T_STRAY:
            if (ovp_priv_reply(chan, T_STRAY, req->id + 1000, "stray", 5) < 0)
            {
                return -1;
            }
            return ovp_priv_reply(chan, T_STRAY, req->id, "right", 5);
        case T_LOG:
            ovp_priv_log(chan, PLOG_WARN, "hello %d from helper", 42);
            ovp_priv_log(chan, PLOG_NOTE, "ctl\nchars\x1b[0m");
            errno = ENOENT;
            ovp_priv_log(chan, PLOG_ERR | PLOG_ERRNO, "open /nonexistent");
            return ovp_priv_reply(chan, T_LOG, req->id, "ok", 2);
        case T_BOGUS:
            if (req->len < 1)
            {
                return -1;
            }
            return send_bogus(ovp_priv_chan_fd(chan), (char)req->payload[0], 1024, req->id);
        case T_COUNT:
        {
            uint32_t n = answered;
            return ovp_priv_reply(chan, T_COUNT, req->id, &n, sizeof(n));
        }
        case T_SLEEP:
            sleep(10);
            return 0;
        case T_BIGREPLY:
        {
            static uint8_t big[1025];
            int rc = ovp_priv_reply(chan, T_BIGREPLY, req->id, big, sizeof(big));
            memset(big, 'b', sizeof(big));
            big[0] = rc == -1 ? 1 : 0;
            return ovp_priv_reply(chan, T_BIGREPLY, req->id, big, 1024);
        }
        case T_FORK:
        {
            pid_t pid = fork();
            if (pid == 0)
            {
                _exit(ovp_priv_reply(chan, T_FORK, req->id, "from grandchild", 15) == 0 ? 0
                                                                                        : 1);
            }
            int st;
            return pid > 0 && waitpid(pid, &st, 0) == pid ? 0 : -1;
        }
        case T_QUIT:
            return -1;
        case T_REPORT:
            return report(chan, req->id);
        default:
            return -1;
    }
}

static char
disposition(int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) < 0)
    {
        return '?';
    }
    return sa.sa_handler == SIG_IGN ? 'I' : sa.sa_handler == SIG_DFL ? 'D' : 'H';
}

/* Describes the helper's fd table and signals, as the helper sees them. */
static int
report(struct ovp_priv_chan *chan, uint32_t id)
{
    char out[512], fds[128] = "", link[256];
    int cfd = ovp_priv_chan_fd(chan);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
    {
        return -1;
    }
    int list[64], n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 64)
    {
        if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
        {
            list[n++] = atoi(de->d_name);
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: /proc does not promise an order */
    {
        for (int j = i; j > 0 && list[j - 1] > list[j]; j--)
        {
            int t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    }
    for (int i = 0; i < n; i++)
    {
        size_t used = strlen(fds);
        snprintf(fds + used, sizeof(fds) - used, "%s%d", i ? "," : "", list[i]);
    }
    char std[3][8];
    for (int i = 0; i < 3; i++)
    {
        char path[32];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
        ssize_t l = readlink(path, link, sizeof(link) - 1);
        link[l < 0 ? 0 : l] = '\0';
        snprintf(std[i], sizeof(std[i]), "%s",
                 strcmp(link, "/dev/null") == 0 ? "null" : "other");
    }
    char path[32];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", cfd);
    ssize_t l = readlink(path, link, sizeof(link) - 1);
    link[l < 0 ? 0 : l] = '\0';
    int flags = fcntl(cfd, F_GETFD);
    sigset_t mask;
    sigprocmask(SIG_SETMASK, NULL, &mask);
    int masked = 0;
    for (int s = 1; s < 32; s++)
    {
        masked |= sigismember(&mask, s) == 1;
    }
    snprintf(out, sizeof(out),
             "fds=%s std=%s,%s,%s chanfd=%d sock=%d cloexec=%d sig=%c%c%c%c%c%c mask=%s", fds,
             std[0], std[1], std[2], cfd, strncmp(link, "socket:", 7) == 0,
             flags >= 0 && (flags & FD_CLOEXEC), disposition(SIGINT), disposition(SIGHUP),
             disposition(SIGUSR1), disposition(SIGUSR2), disposition(SIGPIPE),
             disposition(SIGTERM), masked ? "set" : "empty");
    return ovp_priv_reply(chan, T_REPORT, id, out, strlen(out));
}

static struct tctx helper_ctx;

static int
t_init(struct ovp_priv_chan *chan, const uint8_t *config, size_t len, void **ctx, char *err,
       size_t errlen)
{
    (void)chan;
    if (len != sizeof(helper_ctx))
    {
        snprintf(err, errlen, "configuration of %zu bytes", len);
        return -1;
    }
    memcpy(&helper_ctx, config, len);
    helper_ctx.fini_path[sizeof(helper_ctx.fini_path) - 1] = '\0';
    helper_ctx.park_path[sizeof(helper_ctx.park_path) - 1] = '\0';
    *ctx = &helper_ctx;
    if (helper_ctx.init_fail)
    {
        snprintf(err, errlen, "init refused (test)");
        return -1;
    }
    return 0;
}

static void
t_park(struct ovp_priv_chan *chan, void *vctx)
{
    struct tctx *c = vctx;
    (void)chan;
    FILE *f = fopen(c->park_path, "a");
    if (f)
    {
        fputs("park ran\n", f);
        fclose(f);
    }
}

static void
t_fini(void *vctx)
{
    struct tctx *c = vctx;
    if (c->fini_path[0])
    {
        FILE *f = fopen(c->fini_path, "w");
        if (f)
        {
            fputs("fini ran\n", f);
            fclose(f);
        }
    }
}

/* ------------------------------------------------------------ the parent */

/* The helper argument for MAX_FRAME (static storage: one at a time is enough). */
static const char *
helper_arg(size_t max_frame)
{
    static char arg[64];
    snprintf(arg, sizeof(arg), HELPER_ARG "%zu", max_frame);
    return arg;
}

static struct ovp_priv_spec
spec_for(struct fixture *fx, size_t max_frame)
{
    struct ovp_priv_spec s = {
        .name = "test helper",
        .program = self_exe,
        .arg = helper_arg(max_frame),
        .max_frame = max_frame,
        .config = &fx->ctx,
        .config_len = sizeof(fx->ctx),
    };
    return s;
}

static struct ovp_priv *
start(struct fixture *fx, size_t max_frame)
{
    struct ovp_priv_spec s = spec_for(fx, max_frame);
    char err[256];
    struct ovp_priv *p = ovp_priv_start(&s, fx->log, err, sizeof(err));
    if (!p)
    {
        fprintf(stderr, "ovp_priv_start: %s\n", err);
    }
    assert_non_null(p);
    assert_true(ovp_priv_pid(p) > 0);
    return p;
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
    {
        return -1;
    }
    fakehost_reset();
    fx->log = ovp_log_new("t", fakehost_vlog, 4, 64);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ovp-privsep-XXXXXX");
    if (!fx->log || !mkdtemp(fx->dir))
    {
        ovp_log_free(fx->log);
        free(fx);
        return -1;
    }
    snprintf(fx->ctx.fini_path, sizeof(fx->ctx.fini_path), "%s/fini", fx->dir);
    snprintf(fx->ctx.park_path, sizeof(fx->ctx.park_path), "%s/park", fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    ovp_log_free(fx->log);
    unlink(fx->ctx.fini_path);
    unlink(fx->ctx.park_path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static int
fini_ran(const struct fixture *fx)
{
    char buf[32] = "";
    FILE *f = fopen(fx->ctx.fini_path, "r");
    if (!f)
    {
        return 0;
    }
    if (!fgets(buf, sizeof(buf), f))
    {
        buf[0] = '\0';
    }
    fclose(f);
    return strcmp(buf, "fini ran\n") == 0;
}

/* Waits up to MS for PID to exit, without reaping it (WNOWAIT). */
static int
exited_within(pid_t pid, int ms)
{
    for (int waited = 0; waited <= ms; waited += 10)
    {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
        {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

/* A stopped helper was reaped: nothing of it is left to wait for. */
static void
assert_reaped(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* Lines captured so far that contain NEEDLE. */
static int
count_lines(const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < fakehost_count(); i++)
    {
        if (strstr(fakehost_text(i), needle))
        {
            n++;
        }
    }
    return n;
}

static void
echo__round_trip_returns_same_payload(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_ECHO, 42, "hello", 5, &f, WAIT_MS), 1);
    assert_int_equal(f.type, T_ECHO);
    assert_int_equal(f.id, 42);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "hello", 5);
    assert_int_equal(ovp_priv_call(p, T_ECHO, 43, NULL, 0, &f, WAIT_MS), 1);
    assert_int_equal(f.len, 0);
    assert_int_equal(ovp_priv_alive(p), 1);
    assert_true(ovp_priv_fd(p) >= 0);
    pid_t pid = ovp_priv_pid(p);
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_reaped(pid);
}

static void
echo__largest_frame_round_trips(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, OVP_PRIV_FRAME_ABSMAX);
    uint8_t *big = malloc(OVP_PRIV_FRAME_ABSMAX);
    assert_non_null(big);
    for (size_t i = 0; i < OVP_PRIV_FRAME_ABSMAX; i++)
    {
        big[i] = (uint8_t)(i * 7 + 3);
    }
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_ECHO, 1, big, OVP_PRIV_FRAME_ABSMAX, &f, WAIT_MS), 1);
    assert_int_equal(f.len, OVP_PRIV_FRAME_ABSMAX);
    assert_memory_equal(f.payload, big, OVP_PRIV_FRAME_ABSMAX);
    free(big);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
recv__out_of_order_replies_matched_by_id(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    assert_int_equal(ovp_priv_send(p, T_HOLD, 101, "a", 1), 0);
    assert_int_equal(ovp_priv_send(p, T_HOLD, 102, "bb", 2), 0);
    assert_int_equal(ovp_priv_send(p, T_HOLD, 103, "ccc", 3), 0);
    const uint32_t want[] = {103, 102, 101};
    for (int i = 0; i < 3; i++)
    {
        struct ovp_priv_frame f;
        assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), 1);
        assert_int_equal(f.id, want[i]);
        assert_int_equal(f.len, want[i] - 100);
        assert_int_equal(f.payload[0], 'a' + (int)(want[i] - 101));
    }
    /* call skips a frame with another id and returns the one it waits for */
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_STRAY, 7, NULL, 0, &f, WAIT_MS), 1);
    assert_int_equal(f.id, 7);
    assert_memory_equal(f.payload, "right", 5);
    /* nothing left over, and a short timeout says so with 0 */
    assert_int_equal(ovp_priv_recv(p, &f, 50), 0);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

#define NTHREADS   4
#define PER_THREAD 50

struct sender
{
    struct ovp_priv *p;
    int t;
    int failures;
};

static void *
sender_main(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < PER_THREAD; i++)
    {
        uint32_t id = (uint32_t)(s->t * PER_THREAD + i);
        if (ovp_priv_send(s->p, T_ECHO, id, &id, sizeof(id)) < 0)
        {
            s->failures++;
        }
    }
    return NULL;
}

static void
send__concurrent_senders_every_reply_arrives_once(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pthread_t th[NTHREADS];
    struct sender s[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
    {
        s[t] = (struct sender){.p = p, .t = t};
        assert_int_equal(pthread_create(&th[t], NULL, sender_main, &s[t]), 0);
    }
    int seen[NTHREADS * PER_THREAD] = {0};
    for (int i = 0; i < NTHREADS * PER_THREAD; i++)
    {
        struct ovp_priv_frame f;
        assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), 1);
        assert_true(f.id < NTHREADS * PER_THREAD);
        assert_int_equal(f.len, sizeof(uint32_t));
        uint32_t v;
        memcpy(&v, f.payload, sizeof(v));
        assert_int_equal(v, f.id);
        seen[f.id]++;
    }
    for (int t = 0; t < NTHREADS; t++)
    {
        pthread_join(th[t], NULL);
        assert_int_equal(s[t].failures, 0);
    }
    for (int i = 0; i < NTHREADS * PER_THREAD; i++)
    {
        assert_int_equal(seen[i], 1);
    }
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
permitted__other_type_gets_error_reply_and_helper_lives(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_NOTPERM, 9, "x", 1, &f, WAIT_MS), 1);
    assert_int_equal(f.type, OVP_PRIV_ERROR);
    assert_int_equal(f.id, 9);
    char reason[64];
    snprintf(reason, sizeof(reason), "%.*s", (int)f.len, (const char *)f.payload);
    assert_non_null(strstr(reason, "not permitted"));
    /* the refusal was logged through the parent's logger */
    assert_true(fakehost_find("test helper: refused request type 99") >= 0);
    /* and the helper goes on */
    assert_int_equal(ovp_priv_alive(p), 1);
    assert_int_equal(ovp_priv_call(p, T_ECHO, 10, "y", 1, &f, WAIT_MS), 1);
    assert_int_equal(f.type, T_ECHO);
    /* channel types are refused locally before anything is sent */
    assert_int_equal(ovp_priv_send(p, OVP_PRIV_LOG, 1, NULL, 0), -1);
    assert_int_equal(ovp_priv_send(p, OVP_PRIV_ERROR, 1, NULL, 0), -1);
    assert_int_equal(ovp_priv_call(p, T_COUNT, 11, NULL, 0, &f, WAIT_MS), 1);
    uint32_t n;
    memcpy(&n, f.payload, sizeof(n));
    assert_int_equal(n, 2); /* the echo and this count; the refused one never reached answer */
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
send__oversize_frame_refused_and_nothing_sent(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 1024);
    uint8_t big[1025];
    memset(big, 'z', sizeof(big));
    assert_int_equal(ovp_priv_send(p, T_ECHO, 1, big, sizeof(big)), -1);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_ECHO, 2, big, 1024, &f, WAIT_MS), 1);
    assert_int_equal(f.len, 1024);
    assert_int_equal(f.id, 2);
    assert_int_equal(ovp_priv_call(p, T_COUNT, 3, NULL, 0, &f, WAIT_MS), 1);
    uint32_t n;
    memcpy(&n, f.payload, sizeof(n));
    assert_int_equal(n, 2); /* the helper saw the 1024-byte echo and the count only */
    assert_int_equal(ovp_priv_alive(p), 1);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
reply__oversize_refused_in_helper(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 1024);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_BIGREPLY, 5, NULL, 0, &f, WAIT_MS), 1);
    assert_int_equal(f.len, 1024);
    assert_int_equal(f.payload[0], 1); /* the 1025-byte reply returned -1 */
    assert_int_equal(ovp_priv_recv(p, &f, 50), 0);
    assert_int_equal(ovp_priv_alive(p), 1);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

/* The helper writes a bad frame of KIND; the parent must drop the channel. */
static void
bad_frame_from_helper(struct fixture *fx, char kind, const char *reason)
{
    struct ovp_priv *p = start(fx, 1024);
    pid_t pid = ovp_priv_pid(p);
    char k = kind;
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_send(p, T_BOGUS, 77, &k, 1), 0);
    assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), -1);
    assert_int_equal(ovp_priv_alive(p), 0);
    /* one clear line naming the problem */
    assert_int_equal(count_lines("protocol error"), 1);
    int i = fakehost_find("test helper: protocol error from the helper");
    assert_true(i >= 0);
    assert_non_null(strstr(fakehost_text(i), reason));
    assert_true(fakehost_flags(i) & PLOG_ERR);
    /* every later call fails, without logging again */
    assert_int_equal(ovp_priv_recv(p, &f, 10), -1);
    assert_int_equal(ovp_priv_send(p, T_ECHO, 1, "x", 1), -1);
    assert_int_equal(ovp_priv_call(p, T_ECHO, 1, "x", 1, &f, 10), -1);
    assert_int_equal(count_lines("protocol error"), 1);
    /* the helper saw the channel close and left by itself (fini ran) */
    assert_true(exited_within(pid, WAIT_MS));
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFEXITED(st));
    assert_true(fini_ran(fx));
    assert_reaped(pid);
}

static void
recv__oversize_header_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'O', "oversize");
}

static void
recv__truncated_frame_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'T', "truncated");
}

static void
recv__frame_shorter_than_header_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'S', "shorter than");
}

static void
recv__length_mismatch_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'M', "length mismatch");
}

static void
recv__unknown_type_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'U', "unknown type 9");
}

static void
recv__exit_type_from_helper_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'E', "unknown type 1");
}

static void
recv__log_frame_without_flags_kills_channel(void **state)
{
    bad_frame_from_helper(*state, 'L', "no flags");
}

static void
helper__malformed_request_ends_helper(void **state)
{
    struct fixture *fx = *state;
    const char kinds[] = {'O', 'T', 'S', 'M'};
    const char *reasons[] = {"oversize", "truncated", "shorter than", "length mismatch"};
    for (size_t k = 0; k < sizeof(kinds); k++)
    {
        fakehost_reset();
        struct ovp_priv *p = start(fx, 1024);
        pid_t pid = ovp_priv_pid(p);
        /* the parent's own fd, written raw: as a compromised unprivileged side would */
        assert_int_equal(send_bogus(ovp_priv_fd(p), kinds[k], 1024, 1), 0);
        struct ovp_priv_frame f;
        assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), -1); /* EOF, after its LOG frame */
        int i = fakehost_find("test helper: malformed request");
        assert_true(i >= 0);
        assert_non_null(strstr(fakehost_text(i), reasons[k]));
        int st = ovp_priv_stop(p, WAIT_MS);
        assert_true(WIFEXITED(st));
        assert_int_not_equal(WEXITSTATUS(st), 0);
        assert_true(fini_ran(fx));
        unlink(fx->ctx.fini_path);
        assert_reaped(pid);
    }
}

static void
helper__sigkill_seen_as_dead_and_reaped(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    assert_int_equal(kill(pid, SIGKILL), 0);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), -1);
    assert_int_equal(ovp_priv_alive(p), 0);
    assert_int_equal(ovp_priv_send(p, T_ECHO, 1, "x", 1), -1);
    assert_true(fakehost_find("test helper: the helper closed the channel") >= 0);
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    assert_false(fini_ran(fx));
    assert_reaped(pid);
}

static void
kill__ends_the_helper_at_once_and_stop_still_reaps(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    ovp_priv_kill(p);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), -1);
    assert_int_equal(ovp_priv_alive(p), 0);
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    assert_false(fini_ran(fx));
    assert_reaped(pid);
    ovp_priv_kill(NULL);
}

static void
alive__notices_exit_without_recv(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    assert_int_equal(ovp_priv_alive(p), 1);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_true(exited_within(pid, WAIT_MS));
    assert_int_equal(ovp_priv_alive(p), 0);
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFSIGNALED(st));
    assert_reaped(pid);
}

/*
 * A host that forks after opening plugins (a daemonizing wrapper; OpenVPN 2.6
 * itself daemonizes first): from then on the helper is not a child of the process
 * that talks to it (waitpid says ECHILD). A forked child of the test plays that
 * host; it reports through its exit code.
 */
static int
daemon_sees_helper_alive_then_dead(struct ovp_priv *p)
{
    struct ovp_priv_frame f;
    if (ovp_priv_alive(p) != 1)
    {
        return 1; /* a live helper taken for dead: DOWN would fail */
    }
    if (ovp_priv_call(p, T_ECHO, 7, "abc", 3, &f, WAIT_MS) != 1 || f.id != 7)
    {
        return 2;
    }
    if (ovp_priv_alive(p) != 1)
    {
        return 3;
    }
    kill(ovp_priv_pid(p), SIGKILL);
    for (int waited = 0; waited < WAIT_MS; waited += 10)
    {
        if (ovp_priv_alive(p) == 0)
        {
            return 0;
        }
        usleep(10000);
    }
    return 4; /* a dead helper taken for alive */
}

static void
alive__true_after_daemonizing_until_the_helper_dies(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    pid_t d = fork();
    assert_true(d >= 0);
    if (d == 0)
    {
        _exit(daemon_sees_helper_alive_then_dead(p));
    }
    int st;
    assert_int_equal(waitpid(d, &st, 0), d);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFSIGNALED(st));
    assert_reaped(pid);
}

static void
stop__after_daemonizing_kills_a_hung_helper(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    pid_t d = fork();
    assert_true(d >= 0);
    if (d == 0)
    {
        /* the helper sleeps 10 s without reading: stop must not just walk away */
        if (ovp_priv_send(p, T_SLEEP, 1, NULL, 0) < 0)
        {
            _exit(1);
        }
        ovp_priv_stop(p, 200);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(d, &st, 0), d);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(exited_within(pid, 2000));
    st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    assert_reaped(pid);
}

static void
stop__sends_exit_and_fini_runs(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_ECHO, 1, "x", 1, &f, WAIT_MS), 1);
    assert_false(fini_ran(fx));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = ovp_priv_stop(p, WAIT_MS);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(fini_ran(fx));
    assert_reaped(pid);
    /* it did not sit out the timeout */
    assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 2000);
    assert_int_equal(ovp_priv_stop(NULL, 0), -1);
}

static void
stop__busy_helper_killed_after_timeout(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    assert_int_equal(ovp_priv_send(p, T_SLEEP, 1, NULL, 0), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = ovp_priv_stop(p, 200);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_true(ms >= 150 && ms < 3000);
    assert_true(fakehost_find("did not exit within 200 ms") >= 0);
    assert_reaped(pid);
}

static void
answer__returning_error_ends_helper(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_send(p, T_QUIT, 1, NULL, 0), 0);
    assert_int_equal(ovp_priv_recv(p, &f, WAIT_MS), -1);
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFEXITED(st));
    assert_int_not_equal(WEXITSTATUS(st), 0);
    assert_true(fini_ran(fx));
}

static void
init__failure_ends_helper(void **state)
{
    struct fixture *fx = *state;
    fx->ctx.init_fail = 1;
    struct ovp_priv_spec s = spec_for(fx, 0);
    char err[256];
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "refused its configuration: init refused (test)"));
    /* the refusing helper was reaped */
    int st;
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void
handler(int sig)
{
    (void)sig;
}

static void
helper__only_std_and_channel_fds_and_clean_signals(void **state)
{
    struct fixture *fx = *state;
    /* things the helper must not inherit: open fds, handlers, a signal mask */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    int zero = open("/dev/zero", O_RDONLY);
    assert_true(zero >= 0);
    struct sigaction sa = {.sa_handler = handler}, old_term, old_usr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR2, &sa, &old_usr2);
    sigset_t block, before, after;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &before);

    struct ovp_priv *p = start(fx, 0);

    pthread_sigmask(SIG_SETMASK, NULL, &after);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR2, &old_usr2, NULL);
    close(pfd[0]);
    close(pfd[1]);
    close(zero);
    /* the parent's mask came back exactly as it was */
    assert_int_equal(sigismember(&after, SIGTERM), 1);
    assert_int_equal(sigismember(&after, SIGUSR1), 1);
    assert_int_equal(sigismember(&after, SIGINT), 0);

    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_REPORT, 2, NULL, 0, &f, WAIT_MS), 1);
    assert_int_equal(f.type, T_REPORT);
    char text[512];
    snprintf(text, sizeof(text), "%.*s", (int)f.len, (const char *)f.payload);
    assert_string_equal(text, "fds=0,1,2,3 std=null,null,null chanfd=3 sock=1 cloexec=1 "
                              "sig=IIIIII mask=empty");

    /* OpenVPN's signals, systemd's SIGTERM to the whole group among them, do not end it */
    pid_t pid = ovp_priv_pid(p);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_int_equal(kill(pid, SIGINT), 0);
    assert_int_equal(kill(pid, SIGUSR1), 0);
    assert_int_equal(kill(pid, SIGUSR2), 0);
    assert_int_equal(kill(pid, SIGPIPE), 0);
    assert_int_equal(ovp_priv_call(p, T_ECHO, 3, "still", 5, &f, WAIT_MS), 1);
    assert_memory_equal(f.payload, "still", 5);
    assert_int_equal(ovp_priv_alive(p), 1);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

/* Makes close_range fail with ENOSYS in this process and its children (test only). */
static int
deny_close_range(void)
{
#ifdef __NR_close_range
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
    {
        return -1;
    }
    return syscall(__NR_close_range, 100, 100, 0) < 0 && errno == ENOSYS ? 0 : -1;
#else
    return -1;
#endif
}

static void
helper__fds_closed_by_proc_walk_without_close_range(void **state)
{
#ifndef __NR_close_range
    skip();
#endif
    struct fixture *fx = *state;
    pid_t mid = fork();
    assert_true(mid >= 0);
    if (mid == 0)
    {
        /* An old kernel, played by seccomp: the fallback must do the whole job. */
        if (deny_close_range() < 0)
        {
            _exit(3);
        }
        int extra[2];
        if (pipe(extra) < 0 || open("/dev/zero", O_RDONLY) < 0)
        {
            _exit(4);
        }
        struct ovp_priv_spec s = spec_for(fx, 0);
        char err[128];
        struct ovp_priv *p = ovp_priv_start(&s, NULL, err, sizeof(err));
        struct ovp_priv_frame f;
        if (!p || ovp_priv_call(p, T_REPORT, 1, NULL, 0, &f, WAIT_MS) != 1 ||
            f.type != T_REPORT)
        {
            _exit(5);
        }
        const char *want = "fds=0,1,2,3 std=null,null,null chanfd=3 sock=1 cloexec=1 "
                           "sig=IIIIII mask=empty";
        int ok = f.len == strlen(want) && memcmp(f.payload, want, f.len) == 0;
        int st = ovp_priv_stop(p, WAIT_MS);
        _exit(ok && WIFEXITED(st) ? 0 : 6);
    }
    assert_true(exited_within(mid, 2 * WAIT_MS));
    int st;
    assert_int_equal(waitpid(mid, &st, 0), mid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void
log__helper_lines_reach_parent_logger(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_LOG, 1, NULL, 0, &f, WAIT_MS), 1);
    assert_memory_equal(f.payload, "ok", 2);
    ovp_log_drain(fx->log);
    int i = fakehost_find("test helper: hello 42 from helper");
    assert_true(i >= 0);
    assert_string_equal(fakehost_name(i), "t");
    assert_true(fakehost_flags(i) & PLOG_WARN);
    /* control characters cannot forge a line */
    assert_true(fakehost_find("test helper: ctl?chars?[0m") >= 0);
    /* errno was resolved in the helper, not re-resolved in the parent */
    i = fakehost_find("test helper: open /nonexistent: No such file or directory");
    assert_true(i >= 0);
    assert_true(fakehost_flags(i) & PLOG_ERR);
    assert_false(fakehost_flags(i) & PLOG_ERRNO);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void *
recv_main(void *arg)
{
    static int r;
    struct ovp_priv_frame f;
    r = ovp_priv_recv(arg, &f, WAIT_MS);
    return &r;
}

static void
log__lines_received_on_worker_are_queued_for_host(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    assert_int_equal(ovp_priv_send(p, T_LOG, 1, NULL, 0), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, recv_main, p), 0);
    void *res;
    pthread_join(th, &res);
    assert_int_equal(*(int *)res, 1);
    assert_int_equal(fakehost_find("hello 42 from helper"), -1); /* queued, not yet out */
    assert_true(ovp_log_drain(fx->log) >= 3);
    assert_true(fakehost_find("test helper: hello 42 from helper") >= 0);
    assert_int_equal(fakehost_foreign_calls(), 0);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
reply__works_from_forked_grandchild(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_call(p, T_FORK, 8, NULL, 0, &f, WAIT_MS), 1);
    assert_int_equal(f.len, 15);
    assert_memory_equal(f.payload, "from grandchild", 15);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
helper__exits_when_parent_shuts_channel(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    /* no EXIT: the parent's end just goes away */
    assert_int_equal(shutdown(ovp_priv_fd(p), SHUT_RDWR), 0);
    assert_true(exited_within(pid, WAIT_MS));
    assert_true(fini_ran(fx));
    int st = ovp_priv_stop(p, WAIT_MS);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_reaped(pid);
}

static void
helper__exits_when_parent_process_dies(void **state)
{
    struct fixture *fx = *state;
    /* Orphans come back to us, so the helper can be reaped and checked. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    pid_t mid = fork();
    assert_true(mid >= 0);
    if (mid == 0)
    {
        /* plays OpenVPN: starts the helper, then dies without EXIT or stop */
        close(pp[0]);
        struct ovp_priv_spec s = spec_for(fx, 0);
        char err[128];
        struct ovp_priv *p = ovp_priv_start(&s, NULL, err, sizeof(err));
        pid_t hp = ovp_priv_pid(p);
        ssize_t w = write(pp[1], &hp, sizeof(hp));
        _exit(p && w == (ssize_t)sizeof(hp) ? 0 : 1);
    }
    close(pp[1]);
    pid_t hp = -1;
    assert_int_equal(read(pp[0], &hp, sizeof(hp)), sizeof(hp));
    close(pp[0]);
    int st;
    assert_int_equal(waitpid(mid, &st, 0), mid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(hp > 0);
    assert_true(exited_within(hp, WAIT_MS));
    assert_int_equal(waitpid(hp, &st, 0), hp);
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(fini_ran(fx));
}

static void
start__bad_spec_refused_without_fork(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    struct ovp_priv_spec s = spec_for(fx, OVP_PRIV_FRAME_ABSMAX + 1);
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "max_frame"));

    s = spec_for(fx, 64);
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "does not fit a frame"));

    s = spec_for(fx, 0);
    s.program = NULL;
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "no helper program"));
    assert_null(ovp_priv_start(NULL, fx->log, NULL, 0));

    s = spec_for(fx, 0);
    s.program = "/nonexistent/ovp-test-helper";
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));

    /* a helper program that others could rewrite would be a way to root */
    char path[128];
    snprintf(path, sizeof(path), "%s/helper", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0775), 0);
    s.program = path;
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "could be changed by others"));
    assert_int_equal(chmod(path, 0644), 0);
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "not an executable file"));
    /* ... or one in a directory where others could put another file in its place */
    assert_int_equal(chmod(path, 0755), 0);
    assert_int_equal(chmod(fx->dir, 0777), 0);
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_non_null(strstr(err, "the directory of helper program"));
    assert_int_equal(chmod(fx->dir, 0700), 0);
    unlink(path);

    /* no child was forked for any of them */
    int st;
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void
start__program_that_is_no_helper_fails_and_is_reaped(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    struct ovp_priv_spec s = spec_for(fx, 0);
    s.program = "/bin/true"; /* exits without reading: no READY */
    s.arg = NULL;
    assert_null(ovp_priv_start(&s, fx->log, err, sizeof(err)));
    assert_true(strstr(err, "exited") != NULL || strstr(err, "cannot send") != NULL);
    int st;
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* Copies the file FROM to TO with MODE. Returns 0 or -1. */
static int
copy_file(const char *from, const char *to, mode_t mode)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC), rc = -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
    {
        if (write(out, buf, (size_t)n) != n)
        {
            goto out;
        }
    }
    rc = in >= 0 && out >= 0 && n == 0 && fchmod(out, mode) == 0 ? 0 : -1;
out:
    if (in >= 0)
    {
        close(in);
    }
    if (out >= 0)
    {
        close(out);
    }
    return rc;
}

/*
 * The helper runs as root for OpenVPN's lifetime: a user who owns any directory
 * above it can rename the root-owned one away and put another program in its
 * place (between the check and the exec, or before the next start). Every
 * directory up to / counts, as for down-root's commands; and a symlink is judged
 * by what it reaches.
 */
static void
start__helper_below_a_directory_another_user_owns_is_refused(void **state)
{
    struct fixture *fx = *state;
    if (geteuid() != 0)
    {
        skip(); /* needs root to give a directory to another user */
    }
    char outer[128], inner[160], prog[200], link[200], err[512];
    snprintf(outer, sizeof(outer), "%s/user", fx->dir);
    snprintf(inner, sizeof(inner), "%s/bin", outer);
    snprintf(prog, sizeof(prog), "%s/helper", inner);
    snprintf(link, sizeof(link), "%s/link", fx->dir);
    assert_int_equal(mkdir(outer, 0755), 0);
    assert_int_equal(chown(outer, 65534, 65534), 0); /* e.g. a user's home */
    assert_int_equal(mkdir(inner, 0755), 0);         /* root's, inside it */
    assert_int_equal(copy_file(self_exe, prog, 0755), 0);
    assert_int_equal(symlink(prog, link), 0);

    struct ovp_priv_spec s = spec_for(fx, 0);
    const char *paths[] = {prog, link};
    for (size_t i = 0; i < 2; i++)
    {
        s.program = paths[i];
        errno = 0;
        err[0] = '\0';
        struct ovp_priv *p = ovp_priv_start(&s, fx->log, err, sizeof(err));
        if (p)
        {
            ovp_priv_stop(p, WAIT_MS);
        }
        if (!p)
        {
            assert_int_equal(errno, EACCES);
        }
        assert_null(p);
    }
    unlink(link);
    unlink(prog);
    rmdir(inner);
    rmdir(outer);
}

static void
helper__run_by_hand_refuses_without_channel(void **state)
{
    (void)state;
    int err_pipe[2];
    assert_int_equal(pipe(err_pipe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        dup2(err_pipe[1], 2);
        close(3); /* no channel where the helper looks for it */
        execl(self_exe, self_exe, helper_arg(0), (char *)NULL);
        _exit(127);
    }
    close(err_pipe[1]);
    char buf[512] = "";
    ssize_t n = read(err_pipe[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(err_pipe[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 64);
    assert_non_null(strstr(buf, "not run by hand"));
}

/* How many lines "park ran" the test helper's park callback wrote. */
static int
park_count(const struct fixture *fx)
{
    char line[64];
    int n = 0;
    FILE *f = fopen(fx->ctx.park_path, "r");
    while (f && fgets(line, sizeof(line), f))
    {
        n += strcmp(line, "park ran\n") == 0;
    }
    if (f)
    {
        fclose(f);
    }
    return n;
}

static void
park__reopen_adopts_the_running_helper(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    assert_int_equal(ovp_priv_adopted(p), 0);
    /* a reply still on its way when the plugin closes must not reach the next one */
    assert_int_equal(ovp_priv_send(p, T_ECHO, 1, "old", 3), 0);
    ovp_priv_park(p, WAIT_MS);
    assert_int_equal(park_count(fx), 1);
    assert_int_equal(kill(pid, 0), 0); /* still running */

    p = start(fx, 0);
    assert_int_equal(ovp_priv_pid(p), pid);
    assert_int_equal(ovp_priv_adopted(p), 1);
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_recv(p, &f, 200), 0); /* the old reply was dropped */
    assert_int_equal(ovp_priv_call(p, T_ECHO, 1, "new", 3, &f, WAIT_MS), 1);
    assert_memory_equal(f.payload, "new", 3);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
    assert_reaped(pid);
}

static void
park__changed_configuration_as_root_starts_a_new_helper(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t old = ovp_priv_pid(p);
    ovp_priv_park(p, WAIT_MS);
    fx->ctx.variant = 1;
    p = start(fx, 0);
    assert_int_not_equal(ovp_priv_pid(p), old);
    assert_int_equal(ovp_priv_adopted(p), 0);
    assert_reaped(old); /* the old one was stopped and reaped */
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

static void
park__two_plugins_of_one_program_each_adopt_their_own(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *a = start(fx, 0);
    fx->ctx.variant = 1;
    struct ovp_priv *b = start(fx, 0);
    pid_t pa = ovp_priv_pid(a), pb = ovp_priv_pid(b);
    ovp_priv_park(a, WAIT_MS);
    ovp_priv_park(b, WAIT_MS);
    /* reopened in configuration order: the first line's helper is not the last parked */
    fx->ctx.variant = 0;
    a = start(fx, 0);
    fx->ctx.variant = 1;
    b = start(fx, 0);
    assert_int_equal(ovp_priv_pid(a), pa);
    assert_int_equal(ovp_priv_pid(b), pb);
    assert_int_equal(ovp_priv_adopted(a), 1);
    assert_int_equal(ovp_priv_adopted(b), 1);
    assert_true(WIFEXITED(ovp_priv_stop(a, WAIT_MS)));
    assert_true(WIFEXITED(ovp_priv_stop(b, WAIT_MS)));
}

static void
park__dead_helper_is_not_adopted(void **state)
{
    struct fixture *fx = *state;
    struct ovp_priv *p = start(fx, 0);
    pid_t old = ovp_priv_pid(p);
    ovp_priv_park(p, WAIT_MS);
    assert_int_equal(kill(old, SIGKILL), 0);
    assert_true(exited_within(old, WAIT_MS));
    p = start(fx, 0);
    assert_int_not_equal(ovp_priv_pid(p), old);
    assert_int_equal(ovp_priv_adopted(p), 0);
    assert_reaped(old);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

/*
 * The SIGHUP reload after `user nobody`: a forked child plays OpenVPN, drops root
 * and reopens. Exit codes say what went wrong.
 */
static int
unprivileged_reopen(struct fixture *fx, pid_t helper)
{
    if (setresuid(65534, 65534, 0) < 0) /* saved uid 0: only to leave cleanly */
    {
        return 10;
    }
    struct ovp_priv *p = start(fx, 0);
    if (ovp_priv_pid(p) != helper || ovp_priv_adopted(p) != 1)
    {
        return 11;
    }
    struct ovp_priv_frame f;
    if (ovp_priv_call(p, T_ECHO, 9, "as nobody", 9, &f, WAIT_MS) != 1)
    {
        return 12;
    }
    ovp_priv_park(p, WAIT_MS);
    /* changed configuration without root: the running helper is kept, with a warning */
    fx->ctx.variant = 7;
    p = start(fx, 0);
    if (ovp_priv_pid(p) != helper || ovp_priv_adopted(p) != 2 ||
        fakehost_find("takes effect only when OpenVPN is restarted") < 0)
    {
        return 13;
    }
    ovp_priv_park(p, WAIT_MS);
    /* another program with nothing to adopt: no helper without root */
    struct ovp_priv_spec s = spec_for(fx, 0);
    char other[600], err[256];
    snprintf(other, sizeof(other), "%s/../%s", self_exe, "nonexistent-helper");
    s.program = other;
    errno = 0;
    if (ovp_priv_start(&s, fx->log, err, sizeof(err)) != NULL || errno != EPERM ||
        !strstr(err, "without root"))
    {
        return 14;
    }
    return 0;
}

static void
park__reopen_without_root_adopts_and_never_starts_one(void **state)
{
    struct fixture *fx = *state;
    if (geteuid() != 0)
    {
        skip(); /* needs root to play the privilege drop */
    }
    struct ovp_priv *p = start(fx, 0);
    pid_t pid = ovp_priv_pid(p);
    ovp_priv_park(p, WAIT_MS);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
    {
        _exit(unprivileged_reopen(fx, pid));
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* back here, as root: the helper still serves */
    p = start(fx, 0);
    assert_int_equal(ovp_priv_pid(p), pid);
    assert_true(WIFEXITED(ovp_priv_stop(p, WAIT_MS)));
}

/*
 * Two plugin lines of one program (two PAM services); only the first line's
 * configuration changed at the reload, which runs without root. Reopened in
 * configuration order, the first line must keep its own old helper, and the
 * second, unchanged, must get its own helper back: never the other line's, which
 * would run the other line's configuration (another PAM service) for it.
 */
static int
unprivileged_reopen_two(struct fixture *fx, pid_t pa, pid_t pb)
{
    if (setresuid(65534, 65534, 0) < 0)
    {
        return 10;
    }
    fx->ctx.variant = 2; /* the first line changed */
    struct ovp_priv *a = start(fx, 0);
    fx->ctx.variant = 1; /* the second did not */
    struct ovp_priv *b = start(fx, 0);
    if (!a || !b)
    {
        return 11;
    }
    if (ovp_priv_pid(b) != pb || ovp_priv_adopted(b) != 1)
    {
        return 12;
    }
    if (ovp_priv_pid(a) != pa || ovp_priv_adopted(a) != 2)
    {
        return 13;
    }
    return 0;
}

static void
park__unchanged_line_keeps_its_helper_when_another_line_changed_without_root(void **state)
{
    struct fixture *fx = *state;
    if (geteuid() != 0)
    {
        skip(); /* needs root to play the privilege drop */
    }
    struct ovp_priv *a = start(fx, 0);
    fx->ctx.variant = 1;
    struct ovp_priv *b = start(fx, 0);
    pid_t pa = ovp_priv_pid(a), pb = ovp_priv_pid(b);
    /* OpenVPN closes in configuration order */
    ovp_priv_park(a, WAIT_MS);
    ovp_priv_park(b, WAIT_MS);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
    {
        _exit(unprivileged_reopen_two(fx, pa, pb));
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    /* back here, as root: both still parked; take them back and stop them */
    fx->ctx.variant = 0;
    a = start(fx, 0);
    fx->ctx.variant = 1;
    b = start(fx, 0);
    assert_int_equal(ovp_priv_pid(a), pa);
    assert_int_equal(ovp_priv_pid(b), pb);
    assert_true(WIFEXITED(ovp_priv_stop(a, WAIT_MS)));
    assert_true(WIFEXITED(ovp_priv_stop(b, WAIT_MS)));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void
null_handle__every_call_fails(void **state)
{
    (void)state;
    struct ovp_priv_frame f;
    assert_int_equal(ovp_priv_send(NULL, T_ECHO, 1, "x", 1), -1);
    assert_int_equal(ovp_priv_recv(NULL, &f, 0), -1);
    assert_int_equal(ovp_priv_call(NULL, T_ECHO, 1, "x", 1, &f, 0), -1);
    assert_int_equal(ovp_priv_alive(NULL), 0);
    assert_int_equal(ovp_priv_pid(NULL), -1);
    assert_int_equal(ovp_priv_fd(NULL), -1);
    assert_int_equal(ovp_priv_chan_fd(NULL), -1);
    assert_int_equal(ovp_priv_reply(NULL, T_ECHO, 1, "x", 1), -1);
    ovp_priv_log(NULL, PLOG_NOTE, "nothing");
}

/* ------------------------------------------------------------ pack / unpack */

static void
pack__round_trip(void **state)
{
    (void)state;
    uint8_t mem[64];
    struct ovp_priv_buf b = {.data = mem, .len = 0, .cap = sizeof(mem)};
    assert_int_equal(ovp_priv_pack(&b, "abc", 3), 0);
    assert_int_equal(ovp_priv_pack(&b, NULL, 0), 0);
    assert_int_equal(ovp_priv_pack_str(&b, "hello"), 0);
    assert_int_equal(b.len, 4 + 3 + 4 + 0 + 4 + 5);
    size_t pos = 0, n;
    const uint8_t *s;
    assert_int_equal(ovp_priv_unpack(mem, b.len, &pos, &s, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "abc", 3);
    assert_int_equal(ovp_priv_unpack(mem, b.len, &pos, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ovp_priv_unpack(mem, b.len, &pos, &s, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "hello", 5);
    assert_int_equal(pos, b.len);
    assert_int_equal(ovp_priv_unpack(mem, b.len, &pos, &s, &n), -1); /* at the end */
}

static void
pack__cap_exceeded_is_error_and_writes_nothing(void **state)
{
    (void)state;
    uint8_t mem[16];
    memset(mem, 0xee, sizeof(mem));
    struct ovp_priv_buf b = {.data = mem, .len = 0, .cap = 10};
    assert_int_equal(ovp_priv_pack(&b, "1234567", 7), -1); /* needs 11 */
    assert_int_equal(b.len, 0);
    assert_int_equal(mem[0], 0xee);
    assert_int_equal(ovp_priv_pack(&b, "123456", 6), 0); /* exactly 10 */
    assert_int_equal(b.len, 10);
    assert_int_equal(ovp_priv_pack(&b, NULL, 0), -1); /* even empty needs 4 */
    assert_int_equal(ovp_priv_pack_str(&b, ""), -1);
    assert_int_equal(b.len, 10);
    assert_int_equal(mem[10], 0xee);
    assert_int_equal(ovp_priv_pack_str(&b, NULL), -1);
    assert_int_equal(ovp_priv_pack(NULL, "x", 1), -1);
    assert_int_equal(ovp_priv_pack(&b, NULL, 1), -1);
    struct ovp_priv_buf bad = {.data = mem, .len = 11, .cap = 10};
    assert_int_equal(ovp_priv_pack(&bad, "x", 1), -1);
}

static void
unpack__truncated_length_prefix_is_error(void **state)
{
    (void)state;
    const uint8_t data[3] = {1, 0, 0};
    size_t pos = 0, n = 99;
    const uint8_t *s = NULL;
    assert_int_equal(ovp_priv_unpack(data, sizeof(data), &pos, &s, &n), -1);
    assert_int_equal(pos, 0);
    assert_null(s);
    assert_int_equal(n, 99);
}

static void
unpack__length_beyond_buffer_is_error(void **state)
{
    (void)state;
    uint8_t data[10] = {0};
    uint32_t len = 7; /* 4 + 7 > 10 */
    memcpy(data, &len, 4);
    size_t pos = 0, n;
    const uint8_t *s;
    assert_int_equal(ovp_priv_unpack(data, sizeof(data), &pos, &s, &n), -1);
    assert_int_equal(pos, 0);
    len = 6; /* 4 + 6 == 10: fits exactly */
    memcpy(data, &len, 4);
    assert_int_equal(ovp_priv_unpack(data, sizeof(data), &pos, &s, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(pos, 10);
    /* a huge prefix cannot wrap the bounds check */
    len = UINT32_MAX;
    memcpy(data, &len, 4);
    pos = 0;
    assert_int_equal(ovp_priv_unpack(data, sizeof(data), &pos, &s, &n), -1);
    /* a position past the end, and missing arguments */
    pos = 11;
    assert_int_equal(ovp_priv_unpack(data, sizeof(data), &pos, &s, &n), -1);
    pos = 0;
    assert_int_equal(ovp_priv_unpack(NULL, 10, &pos, &s, &n), -1);
    assert_int_equal(ovp_priv_unpack(data, sizeof(data), NULL, &s, &n), -1);
}

int
main(int argc, char **argv)
{
    /* Exec'd as the helper: serve, with the frame maximum the test asked for. */
    if (argc > 1 && strncmp(argv[1], HELPER_ARG, strlen(HELPER_ARG)) == 0)
    {
        static struct ovp_priv_helper h = {
            .name = "test helper",
            .permitted = permitted,
            .n_permitted = sizeof(permitted) / sizeof(permitted[0]),
            .init = t_init,
            .answer = t_answer,
            .fini = t_fini,
            .park = t_park,
        };
        h.max_frame = (size_t)strtoul(argv[1] + strlen(HELPER_ARG), NULL, 10);
        return ovp_priv_helper_main(&h, argc, argv);
    }
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (sl <= 0)
    {
        return 1;
    }
    self_exe[sl] = '\0';
    /* A guard against a hang: every wait above is bounded, this bounds the whole run. */
    alarm(90);
    const struct CMUnitTest tests[] = {
        /* first: it checks that no child exists, which earlier failures could spoil */
        cmocka_unit_test_setup_teardown(start__bad_spec_refused_without_fork, setup, teardown),
        cmocka_unit_test_setup_teardown(echo__round_trip_returns_same_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(echo__largest_frame_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(recv__out_of_order_replies_matched_by_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(send__concurrent_senders_every_reply_arrives_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(permitted__other_type_gets_error_reply_and_helper_lives,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(send__oversize_frame_refused_and_nothing_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reply__oversize_refused_in_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(recv__oversize_header_kills_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(recv__truncated_frame_kills_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(recv__frame_shorter_than_header_kills_channel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(recv__length_mismatch_kills_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(recv__unknown_type_kills_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(recv__exit_type_from_helper_kills_channel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(recv__log_frame_without_flags_kills_channel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(helper__malformed_request_ends_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(helper__sigkill_seen_as_dead_and_reaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(alive__notices_exit_without_recv, setup, teardown),
        cmocka_unit_test_setup_teardown(alive__true_after_daemonizing_until_the_helper_dies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(stop__after_daemonizing_kills_a_hung_helper, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stop__sends_exit_and_fini_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(stop__busy_helper_killed_after_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(answer__returning_error_ends_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(init__failure_ends_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(helper__only_std_and_channel_fds_and_clean_signals,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(helper__fds_closed_by_proc_walk_without_close_range,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(log__helper_lines_reach_parent_logger, setup, teardown),
        cmocka_unit_test_setup_teardown(log__lines_received_on_worker_are_queued_for_host,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(reply__works_from_forked_grandchild, setup, teardown),
        cmocka_unit_test_setup_teardown(helper__exits_when_parent_shuts_channel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(helper__exits_when_parent_process_dies, setup,
                                        teardown),
        cmocka_unit_test(null_handle__every_call_fails),
        cmocka_unit_test_setup_teardown(start__program_that_is_no_helper_fails_and_is_reaped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            start__helper_below_a_directory_another_user_owns_is_refused, setup, teardown),
        cmocka_unit_test(helper__run_by_hand_refuses_without_channel),
        cmocka_unit_test_setup_teardown(park__reopen_adopts_the_running_helper, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(park__changed_configuration_as_root_starts_a_new_helper,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(park__dead_helper_is_not_adopted, setup, teardown),
        cmocka_unit_test_setup_teardown(park__two_plugins_of_one_program_each_adopt_their_own,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(park__reopen_without_root_adopts_and_never_starts_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            park__unchanged_line_keeps_its_helper_when_another_line_changed_without_root, setup,
            teardown),
        cmocka_unit_test_setup_teardown(kill__ends_the_helper_at_once_and_stop_still_reaps,
                                        setup, teardown),
        cmocka_unit_test(pack__round_trip),
        cmocka_unit_test(pack__cap_exceeded_is_error_and_writes_nothing),
        cmocka_unit_test(unpack__truncated_length_prefix_is_error),
        cmocka_unit_test(unpack__length_beyond_buffer_is_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* dr_frames.c: forged requests straight to ovp-down-root's root helper, as a compromised OpenVPN. */
#include "ovpbuild.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* As a host: the header's entry points become typedefs. */
#define OPENVPN_PLUGIN_H 1
#include <openvpn/openvpn-plugin.h>

/*
 * The unprivileged side filters OpenVPN's environment before it asks the helper
 * to run a command; this driver skips that side. It opens the plugin as OpenVPN
 * does (its helper forks), finds the helper's channel among its own descriptors
 * and writes requests to it by hand, as code running in a compromised OpenVPN
 * process could: hostile environment entries, an embedded NUL, events without a
 * command, bad counts and lengths, too many variables, an oversized frame. Then
 * it checks that the helper refused or filtered each one and still serves the
 * plugin's own DOWN.
 *
 *   dr_frames PLUGIN.so COMMAND
 *
 * COMMAND is the DOWN command (a recorder: the calling test inspects what it saw).
 * Prints "ok:"/"FAIL:" lines and every log line; exits 1 on any failure.
 */

/* The channel's framing and down-root's messages (see common/privsep.h, down_root.c). */
#define HDR_LEN       12
#define T_LOG         2
#define T_RUN         16
#define T_DONE        17
#define FRAME_MAX     (256 * 1024)
#define HELPER_ENVMAX 4096

struct done
{
    int32_t started, exec_errno, status, timed_out, ms;
};

static int failures;
static long helper_pid = -1;
static char last_helper_log[4096];

static void
check(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s", cond ? "ok: " : "FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures += !cond;
    fflush(stdout);
}

static void
host_vlog(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, va_list ap)
{
    char text[4096];
    vsnprintf(text, sizeof(text), fmt, ap);
    const char *p = strstr(text, "root helper pid ");
    if (p && helper_pid < 0)
    {
        helper_pid = strtol(p + 16, NULL, 10);
    }
    printf("PLUGIN %s: %s%s\n", name, (flags & PLOG_ERR) ? "ERR " : "", text);
}

static void
host_log(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_vlog(flags, name, fmt, ap);
    va_end(ap);
}

static void
host_memzero(void *data, size_t len)
{
    explicit_bzero(data, len);
}

static struct openvpn_plugin_callbacks callbacks = {
    .plugin_log = host_log,
    .plugin_vlog = host_vlog,
    .plugin_secure_memzero = host_memzero,
};

/* A growing request payload: u32 event, u8 argument count, then u32-length strings. */
struct req
{
    uint8_t *d;
    size_t len;
};

static void
put(struct req *r, const void *s, size_t n)
{
    uint8_t *nd = realloc(r->d, r->len + n);
    if (!nd)
    {
        abort();
    }
    r->d = nd;
    memcpy(r->d + r->len, s, n);
    r->len += n;
}

static void
put_str(struct req *r, const void *s, size_t n)
{
    uint32_t n32 = (uint32_t)n;
    put(r, &n32, 4);
    put(r, s, n);
}

static void
put_head(struct req *r, uint32_t event, uint8_t nargs)
{
    r->len = 0;
    put(r, &event, 4);
    put(r, &nargs, 1);
}

/* Sends one frame as the unprivileged side would. Returns 0 or -1 (errno). */
static int
send_frame(int fd, uint16_t type, uint32_t id, const void *payload, size_t len)
{
    uint8_t *f = malloc(HDR_LEN + len);
    uint32_t len32 = (uint32_t)len;
    uint16_t flags = 0;
    if (!f)
    {
        return -1;
    }
    memcpy(f, &len32, 4);
    memcpy(f + 4, &type, 2);
    memcpy(f + 6, &flags, 2);
    memcpy(f + 8, &id, 4);
    if (len)
    {
        memcpy(f + HDR_LEN, payload, len);
    }
    ssize_t n = send(fd, f, HDR_LEN + len, MSG_NOSIGNAL);
    free(f);
    return n == (ssize_t)(HDR_LEN + len) ? 0 : -1;
}

/* Waits for the DONE of ID (helper log frames are printed). 1, or 0 when none came. */
static int
recv_done(int fd, uint32_t id, struct done *d)
{
    static uint8_t buf[HDR_LEN + FRAME_MAX];
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (;;)
    {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < HDR_LEN)
        {
            return 0;
        }
        uint32_t len, fid;
        uint16_t type;
        memcpy(&len, buf, 4);
        memcpy(&type, buf + 4, 2);
        memcpy(&fid, buf + 8, 4);
        if (type == T_LOG && len >= 4)
        {
            snprintf(last_helper_log, sizeof(last_helper_log), "%.*s", (int)(len - 4),
                     (const char *)buf + HDR_LEN + 4);
            printf("helper: %s\n", last_helper_log);
            continue;
        }
        if (type == T_DONE && fid == id && len == sizeof(*d))
        {
            memcpy(d, buf + HDR_LEN, sizeof(*d));
            return 1;
        }
        printf("unexpected frame type %u id %u len %u\n", type, fid, len);
    }
}

/* Sends R as request ID and returns the helper's answer (0 when none). */
static int
ask(int fd, uint32_t id, const struct req *r, struct done *d)
{
    memset(d, 0, sizeof(*d));
    last_helper_log[0] = '\0';
    if (send_frame(fd, T_RUN, id, r->d, r->len) < 0)
    {
        printf("send: %s\n", strerror(errno));
        return 0;
    }
    return recv_done(fd, id, d);
}

/* The descriptor of a SOCK_SEQPACKET socket the plugin opened (not in BEFORE). */
static int
find_channel(const char *before)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -1;
    while (d && (e = readdir(d)))
    {
        int fd = atoi(e->d_name);
        int type = 0;
        socklen_t sl = sizeof(type);
        if (e->d_name[0] == '.' || fd == dirfd(d) || (fd < 1024 && before[fd]))
        {
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) == 0 && type == SOCK_SEQPACKET)
        {
            found = fd;
        }
    }
    if (d)
    {
        closedir(d);
    }
    return found;
}

static void
mark_open_fds(char *before)
{
    for (int fd = 0; fd < 1024; fd++)
    {
        before[fd] = fcntl(fd, F_GETFD) >= 0;
    }
}

int
main(int argc, char **argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: dr_frames PLUGIN.so COMMAND\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    void *dl = dlopen(argv[1], RTLD_NOW);
    if (!dl)
    {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    openvpn_plugin_open_v3 open3 = (openvpn_plugin_open_v3)dlsym(dl, "openvpn_plugin_open_v3");
    openvpn_plugin_func_v3 func3 = (openvpn_plugin_func_v3)dlsym(dl, "openvpn_plugin_func_v3");
    openvpn_plugin_close_v1 close1 =
        (openvpn_plugin_close_v1)dlsym(dl, "openvpn_plugin_close_v1");
    if (!open3 || !func3 || !close1)
    {
        fprintf(stderr, "missing v3 entry points\n");
        return 1;
    }

    char before[1024];
    mark_open_fds(before);
    const char *pargv[] = {argv[1], "timeout=5s", "script_args=yes", argv[2], NULL};
    /* MY_SETENV: a setenv variable of the configuration, fixed at open */
    const char *penv[] = {"verb=4", "daemon=0", "MY_SETENV=fixed-at-open", NULL};
    struct openvpn_plugin_args_open_in oin = {
        .type_mask = 0xffff, .argv = pargv, .envp = penv, .callbacks = &callbacks};
    struct openvpn_plugin_args_open_return oret;
    memset(&oret, 0, sizeof(oret));
    if (open3(OPENVPN_PLUGINv3_STRUCTVER, &oin, &oret) != OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        fprintf(stderr, "open failed\n");
        return 1;
    }
    int fd = find_channel(before);
    check(fd >= 0 && helper_pid > 0, "the helper (pid %ld) and its channel (fd %d)", helper_pid,
          fd);
    if (fd < 0 || helper_pid <= 0)
    {
        return 1;
    }

    struct req r = {0};
    struct done d;
    uint32_t id = 1000;

    /* 1. Hostile entries the unprivileged side would have dropped, plus good ones. */
    static const char big_name[] = "route_big=";
    size_t big_len = 60 * 1024;
    char *big = malloc(sizeof(big_name) - 1 + big_len);
    memcpy(big, big_name, sizeof(big_name) - 1);
    memset(big + sizeof(big_name) - 1, 'x', big_len);
    static const char nul_entry[] = "route_nul=a\0LD_PRELOAD=/nonexistent/evil-nul.so";
    const char *hostile[] = {
        "script_type=down",
        "signal=sigterm",
        "dev=tun-forged",
        "LD_PRELOAD=/nonexistent/evil.so",
        "LD_AUDIT=/nonexistent/evil-audit.so",
        "IFS=/",
        "PATH=/nonexistent/evil-bin",
        "BASH_ENV=/nonexistent/evil-bash-env",
        "BASH_FUNC_id%%=() { echo evil-function; }",
        "route_nl=ok\nLD_PRELOAD=/nonexistent/evil-nl.so",
        "noequals",
        "=evil-empty-name",
        /* allow-listed names whose values are not of their kind */
        "dev=tun0;evil",
        "ifconfig_local=10.8.0.1$(evil)",
        "route_network_1=192.0.2.0`evil`",
        "tun_mtu=1500 evil",
        "script_context=evil",
        "common_name=$(evil)",
        "foreign_option_1=dhcp-option DNS 1.1.1.1;evil",
        /* names the helper sets itself: the event's script_type, setenv of the open */
        "script_type=evil-type",
        "MY_SETENV=evil-forged",
        NULL,
    };
    put_head(&r, OPENVPN_PLUGIN_DOWN, 0);
    for (size_t i = 0; hostile[i]; i++)
    {
        put_str(&r, hostile[i], strlen(hostile[i]));
    }
    put_str(&r, nul_entry, sizeof(nul_entry) - 1);
    put_str(&r, big, sizeof(big_name) - 1 + big_len);
    free(big);
    int got = ask(fd, ++id, &r, &d);
    check(got && d.started && WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
          "hostile environment: the command ran (status %d) with what passed the filter",
          d.status);
    check(strstr(last_helper_log, "variables or arguments the plugin should have filtered") !=
              NULL,
          "the helper says it dropped what the plugin should have filtered");

    /* 1b. Standard arguments of the wrong shape: passed empty by the helper itself. */
    const char *bad_args[] = {"tun$(evil)", "1500",        "0;evil",
                              "10.8.0.1",   "255.255.0.0", "init`evil`"};
    put_head(&r, OPENVPN_PLUGIN_DOWN, 6);
    for (size_t i = 0; i < 6; i++)
    {
        put_str(&r, bad_args[i], strlen(bad_args[i]));
    }
    put_str(&r, "dev=tun-args", 12);
    got = ask(fd, ++id, &r, &d);
    check(got && d.started && WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
          "bad standard arguments: the command ran (status %d)", d.status);

    /* 2. Requests the helper must refuse without running anything. */
    struct
    {
        const char *what;
        uint32_t event;
        int nargs;
        int shape; /* 0 plain, 1 truncated length, 2 control char in an argument, 3 short */
    } refuse[] = {
        {"an event without a command (TLS_VERIFY)", OPENVPN_PLUGIN_TLS_VERIFY, 0, 0},
        {"UP, for which no command was configured", OPENVPN_PLUGIN_UP, 0, 0},
        {"an event number out of range", 0x7fffffff, 0, 0},
        {"200 standard arguments", OPENVPN_PLUGIN_DOWN, 200, 0},
        {"a string length past the end", OPENVPN_PLUGIN_DOWN, 1, 1},
        {"an argument holding a newline", OPENVPN_PLUGIN_DOWN, 1, 2},
        {"a request shorter than its header", OPENVPN_PLUGIN_DOWN, 0, 3},
    };
    for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++)
    {
        put_head(&r, refuse[i].event, (uint8_t)refuse[i].nargs);
        if (refuse[i].shape == 1)
        {
            uint32_t lie = 1000000;
            put(&r, &lie, 4);
            put(&r, "abc", 3);
        }
        else if (refuse[i].shape == 2)
        {
            put_str(&r, "tun0\nrm -rf /", 13);
        }
        else if (refuse[i].shape == 3)
        {
            r.len = 2;
        }
        got = ask(fd, ++id, &r, &d);
        check(got && !d.started && strstr(last_helper_log, "refused a malformed run request"),
              "refused: %s", refuse[i].what);
    }

    /* 3. More variables than a command gets: the helper caps them and runs. */
    put_head(&r, OPENVPN_PLUGIN_DOWN, 0);
    put_str(&r, "script_type=down", 16);
    for (int i = 0; i < HELPER_ENVMAX + 1000; i++)
    {
        char e[32];
        int n = snprintf(e, sizeof(e), "route_many_%d=x", i);
        put_str(&r, e, (size_t)n);
    }
    got = ask(fd, ++id, &r, &d);
    check(got && d.started && WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
          "%d variables: capped, the command ran (status %d)", HELPER_ENVMAX + 1000, d.status);

    /* 4. After all that, the plugin's own DOWN still works through the same helper. */
    const char *dargv[] = {argv[1],    "tun0",        "1500", "0",
                           "10.8.0.1", "255.255.0.0", "init", NULL};
    const char *denv[] = {"signal=sigterm", "dev=tun0", "script_context=init", NULL};
    struct openvpn_plugin_args_func_in fin = {
        .type = OPENVPN_PLUGIN_DOWN, .argv = dargv, .envp = denv, .handle = oret.handle};
    struct openvpn_plugin_args_func_return fret = {0};
    check(func3(OPENVPN_PLUGINv3_STRUCTVER, &fin, &fret) == OPENVPN_PLUGIN_FUNC_SUCCESS,
          "the plugin's DOWN after the forged requests");
    check(kill((pid_t)helper_pid, 0) == 0, "the helper is still there");

    /* 5. A frame over the channel's maximum: the helper ends the channel and exits
     *    cleanly (no crash); the plugin then says the helper is gone. */
    r.len = 0;
    put_head(&r, OPENVPN_PLUGIN_DOWN, 0);
    uint8_t *pad = calloc(1, FRAME_MAX);
    put(&r, pad, FRAME_MAX);
    free(pad);
    int sent = send_frame(fd, T_RUN, ++id, r.d, r.len);
    siginfo_t si;
    int waited = -1;
    for (int i = 0; i < 200; i++)
    {
        memset(&si, 0, sizeof(si));
        waited = waitid(P_PID, (id_t)helper_pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (waited == 0 && si.si_pid == helper_pid)
        {
            break;
        }
        usleep(10000);
    }
    if (sent < 0)
    {
        printf("the oversized frame was not even accepted by the socket: %s\n",
               strerror(errno));
        check(1, "an oversized frame cannot be sent");
    }
    else
    {
        check(waited == 0 && si.si_pid == helper_pid && si.si_code == CLD_EXITED,
              "an oversized frame: the helper exited (code %d, status %d), not crashed",
              si.si_code, si.si_status);
        check(func3(OPENVPN_PLUGINv3_STRUCTVER, &fin, &fret) == OPENVPN_PLUGIN_FUNC_ERROR,
              "DOWN after the helper left fails");
    }
    free(r.d);
    close1(oret.handle);
    dlclose(dl);
    return failures ? 1 : 0;
}

/* ap_driver.c: a minimal OpenVPN-like host for ovp-auth-pam's integration tests. */
#include "ovpbuild.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* As a host: the header's entry points become typedefs. */
#define OPENVPN_PLUGIN_H 1
#include <openvpn/openvpn-plugin.h>

/*
 * Stands in for ovp-refcore (tests/core) until that lands: it loads the plugin
 * as OpenVPN 2.6 does (dlopen RTLD_NOW, open_v3 with structver 5, func_v3,
 * close_v1), creates the three auth files per client in a tmp dir, calls
 * AUTH_USER_PASS_VERIFY and polls the control file, measuring the time spent
 * inside each call (the stall) and until each client is answered.
 *
 *   ap_driver [--verb N] [--log FILE] [--tmp DIR] [--kill-helper-at MS]
 *             [--stop-helper-at MS] (SIGSTOP: a helper that never answers)
 *             [--close-at MS] [--limit S] [--max-stall-us N] [--expect-open-fail]
 *             CLIENTS PLUGIN.so [plugin words...]
 *
 * CLIENTS has one client per line, TAB-separated fields: name=, at=MS (submit
 * time), expect=allow|deny|temp, min_ms=, max_ms= (time to the answer),
 * reason=TEXT (must be in the reason), and any other NAME=VALUE as the
 * client's env (username=, password=, common_name=, session_state=, ...).
 * Prints one result line per client; exits 1 on any unmet expectation.
 */

#define MAX_CLIENTS 4096
#define MAX_ENV     32

struct client
{
    char *name;
    char *env[MAX_ENV + 8];
    int n_env;
    long at_ms, min_ms, max_ms;
    char expect[16];
    char *reason_want;
    char control[512], pending[512], reason[512];
    int state; /* 0 waiting to be submitted, 1 deferred, 2 answered */
    int rc;
    uint64_t submit_ns, done_ns, stall_ns;
    struct timespec submit_rt; /* wall clock at submit, to compare with the file's mtime */
    char result[16];
    char reason_text[512];
};

static struct client clients[MAX_CLIENTS];
static int n_clients;
static FILE *logfp;
static int verb = 4;
static pthread_t main_thread;
static unsigned foreign_log_calls;
static long helper_pid = -1;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How many processes (running or zombies) have PPID as their parent, from /proc. */
static int
children_of(long ppid)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
    {
        char path[300], buf[512];
        long pp = 0;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *f = de->d_name[0] >= '1' && de->d_name[0] <= '9' ? fopen(path, "r") : NULL;
        if (!f)
        {
            continue;
        }
        size_t got = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[got] = '\0';
        const char *p = strrchr(buf, ')');
        if (p && sscanf(p + 1, " %*c %ld", &pp) == 1 && pp == ppid)
        {
            n++;
        }
    }
    if (d)
    {
        closedir(d);
    }
    return n;
}

static void
host_vlog(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, va_list ap)
{
    char text[4096];
    const char *level = (flags & PLOG_ERR)     ? "ERR"
                        : (flags & PLOG_WARN)  ? "WARN"
                        : (flags & PLOG_DEBUG) ? "DEBUG"
                                               : "NOTE";

    if (!pthread_equal(pthread_self(), main_thread))
    {
        foreign_log_calls++;
    }
    if ((flags & PLOG_DEBUG) && verb < 7)
    {
        return;
    }
    vsnprintf(text, sizeof(text), fmt, ap);
    if (helper_pid < 0)
    {
        const char *p = strstr(text, "helper pid ");
        if (p)
        {
            helper_pid = strtol(p + 11, NULL, 10);
        }
    }
    if (logfp)
    {
        fprintf(logfp, "%s PLUGIN %s: %s\n", level, name, text);
        fflush(logfp);
    }
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

static int
host_b64_encode(const void *data, int size, char **str)
{
    (void)data;
    (void)size;
    *str = NULL;
    return -1;
}

static int
host_b64_decode(const char *str, void *data, int size)
{
    (void)str;
    (void)data;
    (void)size;
    return -1; /* the plugin must not need it: it decodes off the main thread */
}

static struct openvpn_plugin_callbacks callbacks = {
    .plugin_log = host_log,
    .plugin_vlog = host_vlog,
    .plugin_secure_memzero = host_memzero,
    .plugin_base64_encode = host_b64_encode,
    .plugin_base64_decode = host_b64_decode,
};

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ap_driver: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void
read_clients(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f)
    {
        die("cannot open %s: %s", path, strerror(errno));
    }
    while ((n = getline(&line, &cap, f)) >= 0)
    {
        struct client *c;
        char *save = NULL, *tok;
        if (n > 0 && line[n - 1] == '\n')
        {
            line[--n] = '\0';
        }
        if (n == 0 || line[0] == '#')
        {
            continue;
        }
        if (n_clients == MAX_CLIENTS)
        {
            die("too many clients");
        }
        c = &clients[n_clients];
        memset(c, 0, sizeof(*c));
        c->max_ms = -1;
        c->min_ms = -1;
        for (tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save))
        {
            if (strncmp(tok, "name=", 5) == 0)
            {
                c->name = strdup(tok + 5);
            }
            else if (strncmp(tok, "at=", 3) == 0)
            {
                c->at_ms = strtol(tok + 3, NULL, 10);
            }
            else if (strncmp(tok, "expect=", 7) == 0)
            {
                snprintf(c->expect, sizeof(c->expect), "%s", tok + 7);
            }
            else if (strncmp(tok, "min_ms=", 7) == 0)
            {
                c->min_ms = strtol(tok + 7, NULL, 10);
            }
            else if (strncmp(tok, "max_ms=", 7) == 0)
            {
                c->max_ms = strtol(tok + 7, NULL, 10);
            }
            else if (strncmp(tok, "reason=", 7) == 0)
            {
                c->reason_want = strdup(tok + 7);
            }
            else if (strchr(tok, '=') && c->n_env < MAX_ENV)
            {
                c->env[c->n_env++] = strdup(tok);
            }
        }
        if (!c->name)
        {
            char buf[32];
            snprintf(buf, sizeof(buf), "client%d", n_clients + 1);
            c->name = strdup(buf);
        }
        n_clients++;
    }
    free(line);
    fclose(f);
}

static int
has_env(const struct client *c, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < c->n_env; i++)
    {
        if (strncmp(c->env[i], name, len) == 0 && c->env[i][len] == '=')
        {
            return 1;
        }
    }
    return 0;
}

static char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
    {
        die("out of memory");
    }
    va_end(ap);
    return s;
}

static void
make_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
    {
        die("cannot create %s: %s", path, strerror(errno));
    }
    close(fd);
}

static void
read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = 0;
    buf[0] = '\0';
    if (fd >= 0)
    {
        n = read(fd, buf, cap - 1);
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
}

static void
classify(struct client *c, int answer_allow)
{
    read_file(c->reason, c->reason_text, sizeof(c->reason_text));
    if (answer_allow)
    {
        snprintf(c->result, sizeof(c->result), "allow");
    }
    else if (strncmp(c->reason_text, "TEMP", 4) == 0)
    {
        snprintf(c->result, sizeof(c->result), "temp");
    }
    else
    {
        snprintf(c->result, sizeof(c->result), "deny");
    }
    c->state = 2;
    c->done_ns = now_ns();
}

static void
submit(struct client *c, const char *tmp, int idx, openvpn_plugin_func_v3 func, void *handle)
{
    const char *argv[] = {"plugin", NULL};
    struct openvpn_plugin_args_func_return ret;
    struct openvpn_plugin_string_list *list = NULL;
    uint64_t t0;

    snprintf(c->control, sizeof(c->control), "%s/acf-%d", tmp, idx);
    snprintf(c->pending, sizeof(c->pending), "%s/apf-%d", tmp, idx);
    snprintf(c->reason, sizeof(c->reason), "%s/arf-%d", tmp, idx);
    make_file(c->control);
    make_file(c->pending);
    make_file(c->reason);
    c->env[c->n_env++] = xasprintf("auth_control_file=%s", c->control);
    c->env[c->n_env++] = xasprintf("auth_pending_file=%s", c->pending);
    c->env[c->n_env++] = xasprintf("auth_failed_reason_file=%s", c->reason);
    if (!has_env(c, "untrusted_ip") && !has_env(c, "untrusted_ip6"))
    {
        c->env[c->n_env++] = xasprintf("untrusted_ip=127.0.0.%d", 1 + idx % 250);
    }
    if (!has_env(c, "untrusted_port"))
    {
        c->env[c->n_env++] = xasprintf("untrusted_port=%d", 40000 + idx);
    }
    c->env[c->n_env] = NULL;

    struct openvpn_plugin_args_func_in in = {
        .type = OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY,
        .argv = argv,
        .envp = (const char **)c->env,
        .handle = handle,
    };
    memset(&ret, 0, sizeof(ret));
    ret.return_list = &list;
    clock_gettime(CLOCK_REALTIME, &c->submit_rt);
    c->submit_ns = now_ns();
    t0 = now_ns();
    c->rc = func(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret);
    c->stall_ns = now_ns() - t0;
    /* As OpenVPN: the password in the env is wiped right after the call. */
    for (int i = 0; i < c->n_env; i++)
    {
        if (strncmp(c->env[i], "password=", 9) == 0)
        {
            explicit_bzero(c->env[i] + 9, strlen(c->env[i] + 9));
        }
    }
    if (c->rc == OPENVPN_PLUGIN_FUNC_DEFERRED)
    {
        c->state = 1;
    }
    else
    {
        classify(c, c->rc == OPENVPN_PLUGIN_FUNC_SUCCESS);
    }
}

static void
poll_client(struct client *c)
{
    char buf[8];
    struct stat sb;
    read_file(c->control, buf, sizeof(buf));
    if (buf[0] == '1' || buf[0] == '0')
    {
        classify(c, buf[0] == '1');
        /*
         * Why the mtime: it says when the plugin wrote the answer, however long
         * this loop took to look (it polls up to thousands of files).
         */
        if (stat(c->control, &sb) == 0)
        {
            int64_t d = ((int64_t)sb.st_mtim.tv_sec - c->submit_rt.tv_sec) * 1000000000 +
                        (sb.st_mtim.tv_nsec - c->submit_rt.tv_nsec);
            c->done_ns = c->submit_ns + (uint64_t)(d > 0 ? d : 0);
        }
    }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median and 99th percentile of the stalls, and of the times to the answer. */
static void
report_stalls(void)
{
    uint64_t *st = calloc((size_t)n_clients + 1, sizeof(*st));
    uint64_t *ans = calloc((size_t)n_clients + 1, sizeof(*ans));
    uint64_t first = 0, last = 0;
    size_t n = 0, na = 0;

    if (!st || !ans || n_clients == 0)
    {
        free(st);
        free(ans);
        return;
    }
    for (int k = 0; k < n_clients; k++)
    {
        if (clients[k].submit_ns)
        {
            st[n++] = clients[k].stall_ns;
        }
        if (clients[k].submit_ns && (!first || clients[k].submit_ns < first))
        {
            first = clients[k].submit_ns;
        }
        if (clients[k].state == 2)
        {
            ans[na++] = clients[k].done_ns - clients[k].submit_ns;
            if (clients[k].done_ns > last)
            {
                last = clients[k].done_ns;
            }
        }
    }
    qsort(st, n, sizeof(*st), cmp_u64);
    qsort(ans, na, sizeof(*ans), cmp_u64);
    if (n)
    {
        printf("stall_us median=%.1f p99=%.1f\n", (double)st[n / 2] / 1000.0,
               (double)st[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0);
    }
    if (na)
    {
        printf("answered=%zu slowest_ms=%.0f median_ms=%.0f all_answered_after_ms=%.0f\n", na,
               (double)ans[na - 1] / 1e6, (double)ans[na / 2] / 1e6,
               (double)(last - first) / 1e6);
    }
    free(st);
    free(ans);
}

int
main(int argc, char **argv)
{
    const char *logpath = NULL, *tmpbase = "/tmp";
    long kill_at = -1, stop_at = -1, close_at = -1, limit_s = 30, max_stall_us = -1;
    int expect_open_fail = 0, i, failures = 0;
    char tmp[256];
    void *dl;
    openvpn_plugin_open_v3 open3;
    openvpn_plugin_func_v3 func3;
    openvpn_plugin_close_v1 close1;
    struct openvpn_plugin_args_open_return oret;
    const char *open_env[8];
    char verb_env[32];
    uint64_t start, close_ns = 0;
    int closed = 0, rc;
    uint64_t max_stall = 0;

    main_thread = pthread_self();
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++)
    {
        if (strcmp(argv[i], "--verb") == 0 && i + 1 < argc)
        {
            verb = atoi(argv[++i]);
        }
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
        {
            logpath = argv[++i];
        }
        else if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc)
        {
            tmpbase = argv[++i];
        }
        else if (strcmp(argv[i], "--kill-helper-at") == 0 && i + 1 < argc)
        {
            kill_at = atol(argv[++i]);
        }
        else if (strcmp(argv[i], "--stop-helper-at") == 0 && i + 1 < argc)
        {
            stop_at = atol(argv[++i]);
        }
        else if (strcmp(argv[i], "--close-at") == 0 && i + 1 < argc)
        {
            close_at = atol(argv[++i]);
        }
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
        {
            limit_s = atol(argv[++i]);
        }
        else if (strcmp(argv[i], "--max-stall-us") == 0 && i + 1 < argc)
        {
            max_stall_us = atol(argv[++i]);
        }
        else if (strcmp(argv[i], "--expect-open-fail") == 0)
        {
            expect_open_fail = 1;
        }
        else
        {
            die("unknown option %s", argv[i]);
        }
    }
    if (argc - i < 2)
    {
        die("usage: ap_driver [options] CLIENTS PLUGIN.so [words...]");
    }
    read_clients(argv[i]);
    logfp = logpath ? fopen(logpath, "a") : stderr;
    if (!logfp)
    {
        die("cannot open %s", logpath);
    }
    snprintf(tmp, sizeof(tmp), "%s/ap_driver.XXXXXX", tmpbase);
    if (!mkdtemp(tmp))
    {
        die("mkdtemp: %s", strerror(errno));
    }

    dl = dlopen(argv[i + 1], RTLD_NOW);
    if (!dl)
    {
        die("dlopen: %s", dlerror());
    }
    open3 = (openvpn_plugin_open_v3)dlsym(dl, "openvpn_plugin_open_v3");
    func3 = (openvpn_plugin_func_v3)dlsym(dl, "openvpn_plugin_func_v3");
    close1 = (openvpn_plugin_close_v1)dlsym(dl, "openvpn_plugin_close_v1");
    if (!open3 || !func3 || !close1)
    {
        die("missing v3 entry points");
    }
    snprintf(verb_env, sizeof(verb_env), "verb=%d", verb);
    open_env[0] = verb_env;
    open_env[1] = "daemon=0";
    open_env[2] = "daemon_log_redirect=0";
    open_env[3] = NULL;
    struct openvpn_plugin_args_open_in oin = {
        .type_mask = 0xffff,
        .argv = (const char **)(argv + i + 1),
        .envp = open_env,
        .callbacks = &callbacks,
    };
    memset(&oret, 0, sizeof(oret));
    rc = open3(OPENVPN_PLUGINv3_STRUCTVER, &oin, &oret);
    if (rc != OPENVPN_PLUGIN_FUNC_SUCCESS || !oret.handle)
    {
        printf("open=failed\n");
        dlclose(dl);
        rmdir(tmp);
        return expect_open_fail ? 0 : 1;
    }
    if (expect_open_fail)
    {
        printf("open=succeeded (a failure was expected)\n");
        close1(oret.handle);
        dlclose(dl);
        return 1;
    }
    printf("open=ok helper_pid=%ld\n", helper_pid);

    start = now_ns();
    for (;;)
    {
        long ms = (long)((now_ns() - start) / 1000000u);
        int open_left = 0;
        for (int k = 0; k < n_clients; k++)
        {
            struct client *c = &clients[k];
            if (c->state == 0 && !closed && c->at_ms <= ms)
            {
                submit(c, tmp, k, func3, oret.handle);
            }
            else if (c->state == 1)
            {
                poll_client(c);
            }
            if (c->state != 2)
            {
                open_left++;
            }
        }
        if (kill_at >= 0 && ms >= kill_at && helper_pid > 0)
        {
            printf("killing helper pid %ld at %ld ms\n", helper_pid, ms);
            kill((pid_t)helper_pid, SIGKILL);
            kill_at = -1;
        }
        if (stop_at >= 0 && ms >= stop_at && helper_pid > 0)
        {
            printf("stopping helper pid %ld at %ld ms\n", helper_pid, ms);
            kill((pid_t)helper_pid, SIGSTOP);
            stop_at = -1;
        }
        if (close_at >= 0 && ms >= close_at && !closed)
        {
            uint64_t t0 = now_ns();
            close1(oret.handle);
            close_ns = now_ns() - t0;
            closed = 1;
            for (int k = 0; k < n_clients; k++)
            {
                if (clients[k].state == 1)
                {
                    poll_client(&clients[k]);
                }
            }
            break;
        }
        if (!open_left || ms > limit_s * 1000)
        {
            break;
        }
        usleep(2000);
    }
    if (!closed)
    {
        uint64_t t0 = now_ns();
        close1(oret.handle);
        close_ns = now_ns() - t0;
    }
    printf("close_ms=%llu\n", (unsigned long long)(close_ns / 1000000u));
    if (helper_pid > 0)
    {
        printf("helper_after_close=%s\n", kill((pid_t)helper_pid, 0) == 0 ? "alive" : "gone");
        printf("helper_children_after_close=%d\n", children_of(helper_pid));
    }
    dlclose(dl);

    for (int k = 0; k < n_clients; k++)
    {
        struct client *c = &clients[k];
        long ms = c->state == 2 ? (long)((c->done_ns - c->submit_ns) / 1000000u) : -1;
        int bad = 0;
        if (c->state != 2)
        {
            snprintf(c->result, sizeof(c->result), c->state ? "unanswered" : "not-sent");
        }
        if (c->stall_ns > max_stall)
        {
            max_stall = c->stall_ns;
        }
        if (c->expect[0] && strcmp(c->expect, c->result) != 0)
        {
            bad = 1;
        }
        if ((c->max_ms >= 0 && (ms < 0 || ms > c->max_ms)) ||
            (c->min_ms >= 0 && ms < c->min_ms))
        {
            bad = 1;
        }
        if (c->reason_want && !strstr(c->reason_text, c->reason_want))
        {
            bad = 1;
        }
        printf("%s %s: result=%s rc=%d ms=%ld stall_us=%llu reason=\"%s\"%s\n",
               bad ? "FAIL" : "ok", c->name, c->result, c->rc, ms,
               (unsigned long long)(c->stall_ns / 1000u), c->reason_text,
               bad ? " (unexpected)" : "");
        failures += bad;
        unlink(c->control);
        unlink(c->pending);
        unlink(c->reason);
        for (int e = 0; e < c->n_env; e++)
        {
            free(c->env[e]);
        }
        free(c->name);
        free(c->reason_want);
    }
    rmdir(tmp);
    report_stalls();
    printf("max_stall_us=%llu foreign_log_calls=%u\n", (unsigned long long)(max_stall / 1000u),
           foreign_log_calls);
    if (max_stall_us >= 0 && max_stall / 1000u > (uint64_t)max_stall_us)
    {
        printf("FAIL: a call stalled %llu us (limit %ld)\n",
               (unsigned long long)(max_stall / 1000u), max_stall_us);
        failures++;
    }
    if (foreign_log_calls)
    {
        printf("FAIL: the log callback was called from another thread\n");
        failures++;
    }
    if (logpath)
    {
        fclose(logfp);
    }
    return failures ? 1 : 0;
}

/* runner.c: runs one configured command as root with a timeout; output read line by line. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "util.h"

#define LINE_MAX_BYTES 1024

/*
 * 1 when someone other than root and us may change ST's file: owned by another
 * user, writable by others, or by a group other than root's. A directory with
 * the sticky bit (like /tmp) only lets owners replace their own entries.
 */
static int
foreign_writable(const struct stat *st)
{
    if (st->st_uid != 0 && st->st_uid != geteuid())
    {
        return 1;
    }
    if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
    {
        return 0;
    }
    return (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

/*
 * Why: the command runs as root, while OpenVPN runs as an unprivileged user after
 * open. If that user (or anyone but root) can rewrite the command, or replace it
 * through a directory on its path, a compromised OpenVPN becomes root at the next
 * DOWN. The path is resolved first, so a symlink is judged by what it reaches.
 */
static int
check_owner_chain(const char *path, char *err, size_t errlen)
{
    char *real = realpath(path, NULL);
    struct stat st;
    int ret = -1;
    int is_file = 1;

    if (!real)
    {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;)
    {
        if (stat(real, &st) < 0)
        {
            snprintf(err, errlen, "%s: %s", real, strerror(errno));
            goto cleanup;
        }
        if (foreign_writable(&st))
        {
            snprintf(err, errlen,
                     "%s: %s%s can be changed by a user other than root (owner uid %u, mode "
                     "%04o); refusing to run it as root",
                     path, is_file ? "the file " : "its directory ", real, (unsigned)st.st_uid,
                     (unsigned)(st.st_mode & 07777));
            goto cleanup;
        }
        if (strcmp(real, "/") == 0)
        {
            break;
        }
        char *slash = strrchr(real, '/');
        slash[slash == real ? 1 : 0] = '\0'; /* up one level; "/x" becomes "/" */
        is_file = 0;
    }
    ret = 0;

cleanup:
    free(real);
    return ret;
}

int
dr_check_command(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (!path || path[0] != '/')
    {
        snprintf(err, errlen, "'%s': the command must be given by absolute path",
                 path ? path : "");
        return -1;
    }
    if (stat(path, &st) < 0)
    {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode))
    {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (access(path, X_OK) < 0)
    {
        snprintf(err, errlen, "%s: not executable (%s)", path, strerror(errno));
        return -1;
    }
    return check_owner_chain(path, err, errlen);
}

int
dr_check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (!dir || dir[0] != '/' || strlen(dir) >= PATH_MAX)
    {
        snprintf(err, errlen, "'%.64s': not an absolute path", dir ? dir : "");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)dir; *p; p++)
    {
        if (*p < 0x20 || *p == 0x7f)
        {
            snprintf(err, errlen, "the directory name holds control characters");
            return -1;
        }
    }
    if (stat(dir, &st) < 0)
    {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
    {
        snprintf(err, errlen, "%s: not a directory", dir);
        return -1;
    }
    return 0;
}

char *
dr_absolute_command(const char *cmd, const char *cwd, char *err, size_t errlen)
{
    char *abs = NULL;
    if (!cmd || !*cmd)
    {
        snprintf(err, errlen, "empty command");
        return NULL;
    }
    if (cmd[0] == '/')
    {
        abs = strdup(cmd);
    }
    else
    {
        char why[256];
        if (!cwd)
        {
            snprintf(err, errlen,
                     "'%s': a relative command, and OpenVPN's working directory is unknown; "
                     "give it by absolute path",
                     cmd);
            return NULL;
        }
        if (dr_check_dir(cwd, why, sizeof(why)) < 0)
        {
            snprintf(err, errlen, "'%s': cannot resolve it in the working directory: %s", cmd,
                     why);
            return NULL;
        }
        while (cmd[0] == '.' && cmd[1] == '/')
        {
            cmd += 2 + strspn(cmd + 2, "/");
        }
        size_t cl = strlen(cwd), n = cl + 1 + strlen(cmd) + 1;
        if (n > PATH_MAX || !*cmd)
        {
            snprintf(err, errlen, "'%s': not a command path in %s", cmd, cwd);
            return NULL;
        }
        if ((abs = malloc(n)))
        {
            /* Sized above: the three parts and the NUL fit exactly. */
            size_t ml = strlen(cmd), used = cl;
            memcpy(abs, cwd, cl);
            if (!cl || cwd[cl - 1] != '/')
            {
                abs[used++] = '/';
            }
            memcpy(abs + used, cmd, ml + 1);
        }
    }
    if (!abs)
    {
        snprintf(err, errlen, "out of memory");
    }
    return abs;
}

/* In the child: from here on only async-signal-safe calls until execve. */
static void __attribute__((noreturn))
child(const char *const *argv, const char *const *envp, int out, int errpipe)
{
    /* Own session and process group, so a timeout can kill everything it started. */
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
    {
        dup2(devnull, 0);
    }
    dup2(out, 1);
    dup2(out, 2);
    /* The helper ignores SIGINT/SIGHUP/...; ignored dispositions survive execve. */
    for (int s = 1; s < NSIG; s++)
    {
        signal(s, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* execve's prototype predates const; it does not modify the arrays. */
    execve(argv[0], (char *const *)argv, (char *const *)envp);
    int e = errno;
    if (write(errpipe, &e, sizeof(e)) < 0)
    {
        /* nothing more to do */
    }
    _exit(127);
}

/* Splits BUF (LEN bytes, plus what PEND holds) into lines for LINE. */
static void
feed(char *pend, size_t *plen, const char *buf, size_t len, dr_line_fn line, void *ctx)
{
    for (size_t i = 0; i < len; i++)
    {
        char c = buf[i];
        if (c == '\n' || *plen == LINE_MAX_BYTES - 1)
        {
            pend[*plen] = '\0';
            if (line)
            {
                line(ctx, pend);
            }
            *plen = 0;
            if (c == '\n')
            {
                continue;
            }
        }
        pend[(*plen)++] = c;
    }
}

int
dr_run(const char *const *argv, const char *const *envp, int timeout_ms, dr_line_fn line,
       void *ctx, struct dr_run_result *res)
{
    int out[2] = {-1, -1}, ep[2] = {-1, -1};
    memset(res, 0, sizeof(*res));
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
    {
        goto fail;
    }
    long start = ovp_now_ms();
    pid_t pid = fork();
    if (pid < 0)
    {
        goto fail;
    }
    if (pid == 0)
    {
        close(out[0]);
        close(ep[0]);
        child(argv, envp, out[1], ep[1]);
    }
    close(out[1]);
    close(ep[1]);
    out[1] = ep[1] = -1;
    /* Non-blocking on our side only: a grandchild may keep the pipe open forever. */
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);

    /* execve succeeded exactly when the CLOEXEC error pipe closes without data. */
    int e = 0;
    ssize_t n;
    do
    {
        n = read(ep[0], &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    close(ep[0]);
    ep[0] = -1;
    res->started = (n == 0);
    res->exec_errno = (n == sizeof(e)) ? e : 0;

    char pend[LINE_MAX_BYTES];
    size_t plen = 0;
    long deadline = start + timeout_ms;
    int term_sent = 0, open_out = 1;
    int status = 0;
    for (;;)
    {
        /*
         * Peek without reaping: while the leader is an unreaped zombie its pid stays
         * the group's id, so a kill(-pid) below cannot reach anyone else's group.
         */
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int exited =
            waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
        if (exited && !open_out)
        {
            break;
        }
        long now = ovp_now_ms();
        if (now >= deadline)
        {
            if (!term_sent)
            {
                kill(-pid, SIGTERM);
                kill(pid, SIGTERM);
                res->timed_out = 1;
                term_sent = 1;
                deadline = now + DR_KILL_GRACE_MS;
            }
            else
            {
                kill(pid, SIGKILL);
                break; /* the group gets SIGKILL below */
            }
        }
        if (exited)
        {
            /* Exited; children it left behind may still hold the pipe: not our wait. */
            if (open_out)
            {
                char buf[4096];
                ssize_t r;
                while ((r = read(out[0], buf, sizeof(buf))) > 0)
                {
                    feed(pend, &plen, buf, (size_t)r, line, ctx);
                    if (r < (ssize_t)sizeof(buf))
                    {
                        break;
                    }
                }
            }
            break;
        }
        struct pollfd pfd = {.fd = open_out ? out[0] : -1, .events = POLLIN};
        long wait = deadline - now;
        if (wait > 50)
        {
            wait = 50; /* re-check the child's exit at least this often */
        }
        if (poll(&pfd, 1, (int)wait) > 0 && open_out)
        {
            char buf[4096];
            ssize_t r = read(out[0], buf, sizeof(buf));
            if (r > 0)
            {
                feed(pend, &plen, buf, (size_t)r, line, ctx);
            }
            else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            {
                open_out = 0;
            }
        }
    }
    /*
     * A timed-out command takes its whole process group with it, including members
     * that ignore SIGTERM and so outlive a leader that obeyed it. A command that
     * finished in time may leave processes behind on purpose: those are not touched.
     */
    if (term_sent)
    {
        kill(-pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    {
    }
    if (plen && line)
    {
        pend[plen] = '\0';
        line(ctx, pend);
    }
    close(out[0]);
    res->status = status;
    res->ms = ovp_now_ms() - start;
    return 0;

fail:;
    int saved = errno;
    for (int i = 0; i < 2; i++)
    {
        if (out[i] >= 0)
        {
            close(out[i]);
        }
        if (ep[i] >= 0)
        {
            close(ep[i]);
        }
    }
    errno = saved;
    return -1;
}

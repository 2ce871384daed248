/* runner.h: running one command as root with a timeout, its output read line by line. */
#ifndef OVP_DR_RUNNER_H
#define OVP_DR_RUNNER_H

#include <stddef.h>

/* Grace between SIGTERM and SIGKILL to the command's process group at the timeout. */
#define DR_KILL_GRACE_MS 2000

struct dr_run_result
{
    int started;    /* 1 when execve succeeded */
    int exec_errno; /* why execve failed (started == 0) */
    int status;     /* wait status (valid when started) */
    int timed_out;  /* 1 when the timeout killed it */
    long ms;        /* how long it ran */
};

/* Receives each line (without newline) the command wrote to stdout or stderr. */
typedef void (*dr_line_fn)(void *ctx, const char *line);

/*
 * Runs ARGV[0] with ARGV and exactly ENVP (both NULL-terminated), in a new
 * session/process group, stdin from /dev/null, default signal dispositions. After
 * TIMEOUT_MS the whole group gets SIGTERM, then SIGKILL once the command has exited
 * or DR_KILL_GRACE_MS later, whichever comes first. Always reaps the child. Returns
 * 0 with RES filled (even when the command failed), or -1 when it could not even
 * fork (errno set).
 */
int dr_run(const char *const *argv, const char *const *envp, int timeout_ms, dr_line_fn line,
           void *ctx, struct dr_run_result *res);

/*
 * Checks at open that PATH is an absolute path to an executable regular file.
 * Returns 0, or -1 with a message in ERR.
 */
int dr_check_command(const char *path, char *err, size_t errlen);

/*
 * Checks that DIR, a working directory taken at open, is usable for resolving
 * relative commands: an absolute path without control characters, shorter than
 * PATH_MAX, naming a directory. Returns 0, or -1 with a message in ERR.
 */
int dr_check_dir(const char *dir, char *err, size_t errlen);

/*
 * Makes the command path CMD absolute: CMD itself when it starts with '/', else
 * CWD "/" CMD (a leading "./" dropped), CWD passing dr_check_dir (NULL: unknown).
 * Returns a malloc'd path (the caller frees), or NULL with a message in ERR.
 */
char *dr_absolute_command(const char *cmd, const char *cwd, char *err, size_t errlen);

#endif

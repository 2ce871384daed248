/* test_down_root.c: unit tests for down-root's pure parts: env allow-list and runner. */
#include "ovpbuild.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../down-root/envfilter.h"
#include "../../down-root/runner.h"

static void
envfilter__openvpn_variables_pass(void **state)
{
    (void)state;
    assert_int_equal(envfilter_check("signal=sigterm", NULL, 0), DR_ENV_OK);
    assert_int_equal(envfilter_check("dev=tun0", NULL, 0), DR_ENV_OK);
    assert_int_equal(envfilter_check("ifconfig_local=198.51.100.1", NULL, 0), DR_ENV_OK);
    assert_int_equal(envfilter_check("route_network_1=192.0.2.0", NULL, 0), DR_ENV_OK);
    assert_int_equal(envfilter_check("script_type=down", NULL, 0), DR_ENV_OK);
    assert_int_equal(envfilter_check("empty_ok=", NULL, 0), DR_ENV_NOT_ALLOWED);
    assert_int_equal(envfilter_check("dev=", NULL, 0), DR_ENV_OK);
}

static void
envfilter__loader_and_parser_variables_never_pass(void **state)
{
    (void)state;
    const char *const extra[] = {"LD_PRELOAD", "IFS", "PATH", "BASH_ENV", "ld_library_path"};
    assert_int_equal(envfilter_check("LD_PRELOAD=/tmp/evil.so", extra, 5), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check("ld_library_path=/tmp", extra, 5), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check("IFS=/", extra, 5), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check("PATH=/tmp", extra, 5), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check("BASH_ENV=/tmp/x", extra, 5), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check("BASH_FUNC_ls%%=() { :; }", NULL, 0), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check("MALLOC_CHECK_=3", NULL, 0), DR_ENV_DANGEROUS);
}

static void
envfilter__unknown_names_need_the_env_option(void **state)
{
    (void)state;
    const char *const extra[] = {"MY_SITE"};
    assert_int_equal(envfilter_check("MY_SITE=x", NULL, 0), DR_ENV_NOT_ALLOWED);
    assert_int_equal(envfilter_check("MY_SITE=x", extra, 1), DR_ENV_OK);
    assert_int_equal(envfilter_check("MY_SITE2=x", extra, 1), DR_ENV_NOT_ALLOWED);
    assert_int_equal(envfilter_check("MY=x", extra, 1), DR_ENV_NOT_ALLOWED);
}

static void
envfilter__hostile_values_are_refused(void **state)
{
    (void)state;
    assert_int_equal(envfilter_check("dev=tun0\nLD_PRELOAD=x", NULL, 0), DR_ENV_CONTROL);
    assert_int_equal(envfilter_check("dev=a\rb", NULL, 0), DR_ENV_CONTROL);
    size_t big = 1024 * 1024;
    char *e = malloc(big + 8);
    memcpy(e, "dev=", 4);
    memset(e + 4, 'a', big);
    e[big + 4] = '\0';
    assert_int_equal(envfilter_check(e, NULL, 0), DR_ENV_TOO_LONG);
    free(e);
}

static void
envfilter__malformed_entries_are_refused(void **state)
{
    (void)state;
    assert_int_equal(envfilter_check(NULL, NULL, 0), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check("noequals", NULL, 0), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check("=value", NULL, 0), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check("1dev=x", NULL, 0), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check("de v=x", NULL, 0), DR_ENV_MALFORMED);
    assert_non_null(envfilter_reason(DR_ENV_DANGEROUS));
}

struct lines
{
    int n;
    char text[16][256];
};

static void
collect(void *ctx, const char *line)
{
    struct lines *l = ctx;
    if (l->n < 16)
    {
        snprintf(l->text[l->n++], sizeof(l->text[0]), "%s", line);
    }
}

static void
run__exit_status_output_and_env_are_reported(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sh", "-c",
                          "echo out; echo err >&2; echo \"sig=$signal\"; exit 3", NULL};
    const char *envp[] = {"signal=sigterm", "PATH=/usr/bin:/bin", NULL};
    struct lines l = {0};
    struct dr_run_result res;
    assert_int_equal(dr_run(argv, envp, 5000, collect, &l, &res), 0);
    assert_true(res.started);
    assert_false(res.timed_out);
    assert_true(WIFEXITED(res.status));
    assert_int_equal(WEXITSTATUS(res.status), 3);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.text[0], "out");
    assert_string_equal(l.text[1], "err");
    assert_string_equal(l.text[2], "sig=sigterm");
}

static void
run__only_the_given_env_reaches_the_command(void **state)
{
    (void)state;
    setenv("OVP_TEST_LEAK", "leaked", 1);
    const char *argv[] = {"/usr/bin/env", NULL};
    const char *envp[] = {"dev=tun0", NULL};
    struct lines l = {0};
    struct dr_run_result res;
    assert_int_equal(dr_run(argv, envp, 5000, collect, &l, &res), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.text[0], "dev=tun0");
    unsetenv("OVP_TEST_LEAK");
}

static void
run__hanging_command_and_its_children_are_killed_at_the_timeout(void **state)
{
    (void)state;
    char pidfile[] = "/tmp/ovp-dr-test-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char script[512];
    snprintf(script, sizeof(script), "sleep 60 & echo $! > %s; trap '' TERM; sleep 60",
             pidfile);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    const char *envp[] = {NULL};
    struct dr_run_result res;
    time_t t0 = time(NULL);
    assert_int_equal(dr_run(argv, envp, 300, NULL, NULL, &res), 0);
    assert_true(res.timed_out);
    assert_true(time(NULL) - t0 < 10);
    assert_true(WIFSIGNALED(res.status));
    /* the background sleep of the same process group is gone too */
    FILE *f = fopen(pidfile, "r");
    long bg = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &bg), 1);
    fclose(f);
    unlink(pidfile);
    usleep(100 * 1000);
    assert_int_equal(kill((pid_t)bg, 0), -1);
}

/* 1 once PID has gone (or is a zombie waiting for whoever inherited it). */
static int
gone(long pid)
{
    char path[64], st[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
    {
        return kill((pid_t)pid, 0) < 0;
    }
    size_t n = fread(st, 1, sizeof(st) - 1, f);
    fclose(f);
    st[n] = '\0';
    const char *p = strrchr(st, ')');
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void
run__timeout_kills_group_members_that_ignore_sigterm(void **state)
{
    (void)state;
    char pidfile[] = "/tmp/ovp-dr-test-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    /* the command obeys SIGTERM; the child it started ignores it */
    char script[512];
    snprintf(script, sizeof(script),
             "sh -c 'trap \"\" TERM; exec sleep 60' & echo $! > %s; sleep 60", pidfile);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    const char *envp[] = {NULL};
    struct dr_run_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(dr_run(argv, envp, 300, NULL, NULL, &res), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(res.timed_out);
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGTERM);
    /* killed together with the command, without waiting out the grace period */
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < DR_KILL_GRACE_MS);
    FILE *f = fopen(pidfile, "r");
    long bg = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &bg), 1);
    fclose(f);
    unlink(pidfile);
    for (int i = 0; i < 50 && !gone(bg); i++)
    {
        usleep(20 * 1000);
    }
    int survived = !gone(bg);
    if (survived)
    {
        kill((pid_t)bg, SIGKILL);
    }
    assert_false(survived);
}

static void
run__missing_program_reports_exec_errno(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/ovp-cmd", NULL};
    const char *envp[] = {NULL};
    struct dr_run_result res;
    assert_int_equal(dr_run(argv, envp, 1000, NULL, NULL, &res), 0);
    assert_false(res.started);
    assert_int_equal(res.exec_errno, ENOENT);
}

static void
check_command__refuses_missing_relative_and_non_executable(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(dr_check_command("/bin/true", err, sizeof(err)), 0);
    assert_int_equal(dr_check_command("true", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "absolute path"));
    assert_int_equal(dr_check_command("/nonexistent/cmd", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(dr_check_command("/etc", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a regular file"));
    if (geteuid() != 0)
    {
        assert_int_equal(dr_check_command("/etc/hostname", err, sizeof(err)), -1);
        assert_non_null(strstr(err, "not executable"));
    }
}

/* Writes an executable script at PATH with MODE. */
static void
make_cmd(const char *path, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void
check_command__refuses_what_others_can_change(void **state)
{
    (void)state;
    char dir[] = "/tmp/ovp-dr-own-XXXXXX", cmd[64], sub[64], subcmd[96], link[64];
    char err[512];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    snprintf(cmd, sizeof(cmd), "%s/down.sh", dir);
    snprintf(sub, sizeof(sub), "%s/open", dir);
    snprintf(subcmd, sizeof(subcmd), "%s/down.sh", sub);
    snprintf(link, sizeof(link), "%s/link.sh", dir);

    make_cmd(cmd, 0755);
    assert_int_equal(dr_check_command(cmd, err, sizeof(err)), 0);

    /* anyone may rewrite it: a compromised unprivileged OpenVPN would become root */
    assert_int_equal(chmod(cmd, 0757), 0);
    assert_int_equal(dr_check_command(cmd, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "can be changed by a user other than root"));
    assert_non_null(strstr(err, "the file"));

    /* a symlink is judged by the file it reaches */
    assert_int_equal(symlink(cmd, link), 0);
    assert_int_equal(dr_check_command(link, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "can be changed"));
    assert_int_equal(chmod(cmd, 0755), 0);
    assert_int_equal(dr_check_command(link, err, sizeof(err)), 0);

    /* a directory anyone may write lets them replace the file */
    assert_int_equal(mkdir(sub, 0777), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    make_cmd(subcmd, 0755);
    assert_int_equal(dr_check_command(subcmd, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "its directory"));
    /* ... unless it is sticky, like /tmp */
    assert_int_equal(chmod(sub, 01777), 0);
    assert_int_equal(dr_check_command(subcmd, err, sizeof(err)), 0);

    /* a file owned by another user (only root can set this up) */
    if (geteuid() == 0)
    {
        assert_int_equal(chown(cmd, 65534, 0), 0);
        assert_int_equal(dr_check_command(cmd, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "owner uid 65534"));
    }

    unlink(subcmd);
    rmdir(sub);
    unlink(link);
    unlink(cmd);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envfilter__openvpn_variables_pass),
        cmocka_unit_test(envfilter__loader_and_parser_variables_never_pass),
        cmocka_unit_test(envfilter__unknown_names_need_the_env_option),
        cmocka_unit_test(envfilter__hostile_values_are_refused),
        cmocka_unit_test(envfilter__malformed_entries_are_refused),
        cmocka_unit_test(run__exit_status_output_and_env_are_reported),
        cmocka_unit_test(run__only_the_given_env_reaches_the_command),
        cmocka_unit_test(run__hanging_command_and_its_children_are_killed_at_the_timeout),
        cmocka_unit_test(run__timeout_kills_group_members_that_ignore_sigterm),
        cmocka_unit_test(run__missing_program_reports_exec_errno),
        cmocka_unit_test(check_command__refuses_missing_relative_and_non_executable),
        cmocka_unit_test(check_command__refuses_what_others_can_change),
    };
    return cmocka_run_group_tests_name("down_root", tests, NULL, NULL);
}

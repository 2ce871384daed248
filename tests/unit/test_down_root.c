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
    /* an empty interface name is no interface name */
    assert_int_equal(envfilter_check("dev=", NULL, 0), DR_ENV_INVALID);
}

static void
envfilter__dev_must_be_an_interface_name(void **state)
{
    (void)state;
    const char *good[] = {"dev=tun0",     "dev=tap-vpn",         "dev=wg.1",
                          "dev=ovpn_srv", "dev=abcdefghijklmno", "dev=null"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    {
        assert_int_equal(envfilter_check(good[i], NULL, 0), DR_ENV_OK);
    }
    const char *bad[] = {
        "dev=$(reboot)",   "dev=tun0;reboot", "dev=`id`", "dev=tun 0", "dev=a/b",
        "dev=eth0:1",      "dev=-x",          "dev=.",    "dev=..",    "dev=abcdefghijklmnop",
        "dev=tun\xc3\xa9", "dev=tun|x",       "dev=tun>x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(envfilter_check(bad[i], NULL, 0), DR_ENV_INVALID);
    }
    int showable = 0;
    assert_non_null(strstr(envfilter_kind("dev=x", NULL, 0, &showable), "interface name"));
    assert_true(showable);
}

static void
envfilter__addresses_netmasks_and_routes_are_typed(void **state)
{
    (void)state;
    const char *good[] = {
        "ifconfig_local=198.51.100.1",
        "ifconfig_remote=255.255.255.0",
        "ifconfig_netmask=255.255.0.0",
        "ifconfig_ipv6_local=2001:db8::1",
        "ifconfig_ipv6_netbits=64",
        "route_network_1=192.0.2.0",
        "route_netmask_12=255.255.255.0",
        "route_gateway_3=10.8.0.2",
        "route_metric_3=100",
        "route_vpn_gateway=10.8.0.2",
        "route_net_gateway=192.168.1.1",
        "route_ipv6_network_1=2001:db8:1::/48",
        "route_ipv6_gateway_1=2001:db8::2",
        "net_gateway_ipv6=fe80::1",
        "trusted_ip=203.0.113.9",
        "trusted_ip6=2001:db8::9",
        "trusted_port=1194",
        "remote_1=vpn.example.org",
        "remote_port_1=openvpn",
        "local_port_1=1194",
        "route_redirect_gateway_ipv4=1",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    {
        assert_int_equal(envfilter_check(good[i], NULL, 0), DR_ENV_OK);
    }
    const char *bad[] = {
        "ifconfig_local=198.51.100.1;reboot",
        "ifconfig_local=198.51.100",
        "ifconfig_remote=$(reboot)",
        "ifconfig_ipv6_local=2001:db8::1 x",
        "ifconfig_ipv6_netbits=129",
        "route_network_1=192.0.2.0/24",
        "route_netmask_1=256.255.255.0",
        "route_gateway_1=",
        "route_metric_1=-1",
        "route_vpn_gateway=10.8.0.2`id`",
        "route_ipv6_network_1=2001:db8::/129",
        "route_ipv6_network_1=2001:db8::",
        "route_ipv6_gateway_1=10.0.0.1",
        "trusted_ip=::1",
        "trusted_port=65536",
        "remote_1=-oProxyCommand=x",
        "remote_1=a b",
        "local_port_1=1194;x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(envfilter_check(bad[i], NULL, 0), DR_ENV_INVALID);
    }
}

static void
envfilter__numbers_and_enumerations_are_typed(void **state)
{
    (void)state;
    const char *good[] = {"tun_mtu=1500",
                          "link_mtu=0",
                          "daemon_pid=4242",
                          "time_unix=1764759600",
                          "verb=3",
                          "script_type=down",
                          "script_type=route-pre-down",
                          "script_context=init",
                          "script_context=restart",
                          "dev_type=tun",
                          "dev_type=tap",
                          "dev_type=null",
                          "signal=sigterm",
                          "signal=ping-restart",
                          "signal=auth-failure (auth-token)",
                          "signal=Could not determine IPv4/IPv6 protocol",
                          "proto_1=tcp-server",
                          "time_ascii=Thu Dec  3 10:58:57 2026"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    {
        assert_int_equal(envfilter_check(good[i], NULL, 0), DR_ENV_OK);
    }
    const char *bad[] = {"tun_mtu=15x0",       "tun_mtu=",
                         "tun_mtu=1500 ",      "tun_mtu=123456789012345678901",
                         "script_type=evil",   "script_context=init;x",
                         "dev_type=tun0",      "signal=sigterm;reboot",
                         "signal=-x",          "signal=(reboot)",
                         "signal=a $(reboot)", "proto_1=udp tcp",
                         "time_ascii=$(date)", "daemon=1`id`"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(envfilter_check(bad[i], NULL, 0), DR_ENV_INVALID);
    }
}

static void
envfilter__strings_refuse_shell_metacharacters(void **state)
{
    (void)state;
    const char *const extra[] = {"MY_SITE"};
    assert_int_equal(envfilter_check("common_name=alice@example.org", NULL, 0), DR_ENV_OK);
    assert_int_equal(envfilter_check("foreign_option_1=dhcp-option DNS 10.8.0.1", NULL, 0),
                     DR_ENV_OK);
    assert_int_equal(envfilter_check("MY_SITE=site-1, rack 2", extra, 1), DR_ENV_OK);
    const char *bad[] = {"common_name=$(reboot)",
                         "username=a`id`",
                         "common_name=a;b",
                         "foreign_option_1=dhcp-option DNS 1.1.1.1|x",
                         "config=/etc/openvpn/server.conf&",
                         "peer_id=\"q\"",
                         "route_x=a'b",
                         "push_reply=*",
                         "common_name=caf\xc3\xa9",
                         "MY_SITE=${IFS}",
                         "MY_SITE=a>b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(envfilter_check(bad[i], extra, 1), DR_ENV_INVALID);
    }
    /* a peer's or operator's string is never quoted in the log */
    int showable = 1;
    envfilter_kind("common_name=x", NULL, 0, &showable);
    assert_false(showable);
    envfilter_kind("MY_SITE=x", extra, 1, &showable);
    assert_false(showable);
}

static void
envfilter__setenv_variables_at_open(void **state)
{
    (void)state;
    /* the operator's value may hold any printable text */
    assert_int_equal(envfilter_check_setenv("MY_SITE=a b $HOME; `x`"), DR_ENV_OK);
    assert_int_equal(envfilter_check_setenv("OPENVPN_zone=dmz"), DR_ENV_OK);
    assert_int_equal(envfilter_check_setenv("EMPTY="), DR_ENV_OK);
    /* OpenVPN's own: left to each event's env */
    const char *own[] = {"verb=3",
                         "config=/etc/openvpn/s.conf",
                         "daemon_pid=1",
                         "proto_1=udp",
                         "local_port_1=1194",
                         "remote_1=x",
                         "dev=tun0",
                         "route_network_1=1.2.3.4",
                         "common_name=x",
                         "http_proxy_server_1=p",
                         "socks_proxy_port_1=1080"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
    {
        assert_int_equal(envfilter_check_setenv(own[i]), DR_ENV_OWN);
    }
    assert_int_equal(envfilter_check_setenv("LD_PRELOAD=/x.so"), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check_setenv("PATH=/tmp"), DR_ENV_DANGEROUS);
    assert_int_equal(envfilter_check_setenv("MY=a\nb"), DR_ENV_CONTROL);
    assert_int_equal(envfilter_check_setenv("BASH_FUNC_x%%=()"), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check_setenv("noequals"), DR_ENV_MALFORMED);
    assert_int_equal(envfilter_check_setenv(NULL), DR_ENV_MALFORMED);
    char *big = malloc(DR_ENV_VALUE_MAX + 8);
    memcpy(big, "MY=", 3);
    memset(big + 3, 'a', DR_ENV_VALUE_MAX + 1);
    big[DR_ENV_VALUE_MAX + 4] = '\0';
    assert_int_equal(envfilter_check_setenv(big), DR_ENV_TOO_LONG);
    free(big);
}

static void
envfilter__standard_arguments_are_typed(void **state)
{
    (void)state;
    const char *good[] = {NULL, "tun0", "1500", "0", "10.8.0.1", "255.255.255.0", "init"};
    for (size_t i = 1; i < 7; i++)
    {
        assert_true(envfilter_arg_ok(i, good[i]));
        assert_true(envfilter_arg_ok(i, "")); /* OpenVPN passes "" for what is unset */
    }
    assert_true(envfilter_arg_ok(4, "2001:db8::1"));
    assert_true(envfilter_arg_ok(6, "restart"));
    assert_false(envfilter_arg_ok(1, "tun0;reboot"));
    assert_false(envfilter_arg_ok(1, "$(reboot)"));
    assert_false(envfilter_arg_ok(2, "1500x"));
    assert_false(envfilter_arg_ok(4, "10.8.0.1 -x"));
    assert_false(envfilter_arg_ok(5, "`id`"));
    assert_false(envfilter_arg_ok(6, "init;x"));
    assert_false(envfilter_arg_ok(0, "x"));
    assert_false(envfilter_arg_ok(7, "x"));
    assert_false(envfilter_arg_ok(1, NULL));
}

static void
envfilter__excerpt_is_short_and_escaped(void **state)
{
    (void)state;
    char out[80];
    envfilter_excerpt("tun0", out, sizeof(out));
    assert_string_equal(out, "tun0");
    envfilter_excerpt("a\nb\"c\\d\x1b", out, sizeof(out));
    assert_string_equal(out, "a\\x0ab\\x22c\\x5cd\\x1b");
    envfilter_excerpt("0123456789abcdefSECRET", out, sizeof(out));
    assert_string_equal(out, "0123456789abcdef...");
    envfilter_excerpt("0123456789", out, 8);
    assert_string_equal(out, "0123...");
    envfilter_excerpt(NULL, out, sizeof(out));
    assert_string_equal(out, "");
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

static void
absolute_command__relative_is_resolved_against_the_working_directory(void **state)
{
    (void)state;
    char err[512];
    char *p = dr_absolute_command("down.sh", "/etc", err, sizeof(err));
    assert_non_null(p);
    assert_string_equal(p, "/etc/down.sh");
    free(p);
    p = dr_absolute_command("./scripts/down.sh", "/etc", err, sizeof(err));
    assert_string_equal(p, "/etc/scripts/down.sh");
    free(p);
    p = dr_absolute_command("../bin/down", "/", err, sizeof(err));
    assert_string_equal(p, "/../bin/down");
    free(p);
    /* absolute commands stay as they are, whatever the directory */
    p = dr_absolute_command("/bin/true", NULL, err, sizeof(err));
    assert_string_equal(p, "/bin/true");
    free(p);
    assert_null(dr_absolute_command("down.sh", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "working directory is unknown"));
    assert_null(dr_absolute_command("down.sh", "etc", err, sizeof(err)));
    assert_non_null(strstr(err, "not an absolute path"));
    assert_null(dr_absolute_command("down.sh", "/nonexistent/dir", err, sizeof(err)));
    assert_null(dr_absolute_command("down.sh", "/etc/hostname", err, sizeof(err)));
    assert_non_null(strstr(err, "not a directory"));
    assert_null(dr_absolute_command("down.sh", "/etc\n/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "control characters"));
    assert_null(dr_absolute_command("./", "/etc", err, sizeof(err)));
    assert_null(dr_absolute_command("", "/etc", err, sizeof(err)));
    assert_int_equal(dr_check_dir("/", err, sizeof(err)), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envfilter__openvpn_variables_pass),
        cmocka_unit_test(envfilter__dev_must_be_an_interface_name),
        cmocka_unit_test(envfilter__addresses_netmasks_and_routes_are_typed),
        cmocka_unit_test(envfilter__numbers_and_enumerations_are_typed),
        cmocka_unit_test(envfilter__strings_refuse_shell_metacharacters),
        cmocka_unit_test(envfilter__setenv_variables_at_open),
        cmocka_unit_test(envfilter__standard_arguments_are_typed),
        cmocka_unit_test(envfilter__excerpt_is_short_and_escaped),
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
        cmocka_unit_test(absolute_command__relative_is_resolved_against_the_working_directory),
    };
    return cmocka_run_group_tests_name("down_root", tests, NULL, NULL);
}

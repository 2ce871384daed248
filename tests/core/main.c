/* main.c: ovp-refcore's command line: plugin lines, server options, the mode to run. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "modes.h"
#include "refcore.h"

volatile int sig_hup, sig_term;

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
    {
        sig_hup = 1;
    }
    else
    {
        sig_term = 1;
    }
}

void
install_signal_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: ovp-refcore --plugin PATH [ARG...] [--plugin PATH [ARG...]]... [--] "
            "[OPTIONS] MODE\n"
            "\n"
            "Hosts OpenVPN plugins exactly as OpenVPN 2.6 does, without a VPN. A plugin's\n"
            "arguments run up to the next --plugin or a lone --. A bare plugin name is looked\n"
            "up in " OPENVPN_PLUGINDIR ".\n"
            "\n"
            "modes:\n"
            "  --clients N --username U --password P [--common-name CN] [--expect ok|fail]\n"
            "        load: N clients at once through the whole state machine, then one JSON\n"
            "        line (clients, authenticated, failed, timed_out, stall_us_p50/p99/max,\n"
            "        wall_s ...); exit 0 when every client got the expected answer\n"
            "  --scenario FILE   run a story (see README.md); exit 1 at the first unmet\n"
            "                    expectation\n"
            "  --try             read a username and password from stdin, run one client and\n"
            "                    show the decision, the reason, pushed config, every log line\n"
            "  --serve           serve clients on --listen until SIGTERM (SIGHUP reloads)\n"
            "  --drive ADDRESS   the load's client side, against a core started elsewhere\n"
            "\n"
            "options:\n"
            "  --verb N              OpenVPN verbosity (1); 7 shows PLOG_DEBUG lines\n"
            "  --quiet               record log lines but do not print them\n"
            "  --poll openvpn|fast   deferred auth: OpenVPN's polling schedule, or at once\n"
            "                        (inotify on the tmp dir) and DEFER_V2 every ms\n"
            "  --hand-window T       deferred auth deadline (60; \"500ms\" allowed)\n"
            "  --reneg-sec N         renegotiation interval, caps the deadline at N/2 (3600)\n"
            "  --tmp-dir DIR         where the auth files go (default: a fresh directory)\n"
            "  --listen ADDR         unix:PATH or tcp:127.0.0.1:PORT (default: a UNIX socket\n"
            "                        in the tmp dir)\n"
            "  --auth-gen-token [external-auth]\n"
            "  --duplicate-cn\n"
            "  --server NET MASK     IPv4 pool (10.8.0.0 255.255.0.0)\n"
            "  --server-ipv6 NET/BITS | --no-ipv6   IPv6 pool (fd00:8::/64)\n"
            "  --push OPTION         pushed to every client (repeatable)\n"
            "  --route NET MASK      a server route (route_* env)\n"
            "  --setenv NAME VALUE   env for every plugin call\n"
            "  --setenv-file NAME FILE  the same, the value read from FILE (one final\n"
            "                        newline dropped): big values, newlines\n"
            "  --dev NAME            tun device name in UP/DOWN (tun0)\n"
            "  --proto udp|tcp-server  proto_1 in the env (udp, OpenVPN's default)\n"
            "  --local ADDR          local_1 in the env (OpenVPN's `local`)\n"
            "  --config-name NAME    the \"config\" env value\n"
            "  --iv LINE             peer info the clients send, e.g. IV_SSO=crtext\n"
            "  --bytes IN OUT        bytes each load client moves before leaving\n"
            "  --timeout T           load-mode deadline (hand-window + 60 s)\n");
}

static void __attribute__((format(printf, 1, 2), noreturn)) die_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ovp-refcore: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(ovp-refcore --help for usage)\n");
    exit(2);
}

static void
strv_push(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = xstrdup(s);
}

static const char *
need(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
    {
        die_usage("%s needs a value", argv[*i]);
    }
    return argv[++*i];
}

static uint64_t
need_duration(int argc, char **argv, int *i)
{
    const char *opt = argv[*i];
    uint64_t ns;

    if (parse_duration_ns(need(argc, argv, i), &ns) < 0)
    {
        die_usage("bad duration for %s", opt);
    }
    return ns;
}

/*
 * --setenv-file: "NAME=<the file's bytes>" without one final newline. A value too big
 * for the command line (one exec argument is at most 128 KiB) or with newlines in it.
 */
static char *
setenv_from_file(const char *name, const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t nlen = strlen(name), len = nlen + 1, cap = nlen + 4096, r;
    char *line;

    if (!f)
    {
        die_usage("--setenv-file %s: cannot open %s: %s", name, path, strerror(errno));
    }
    line = xmalloc(cap);
    memcpy(line, name, nlen);
    line[nlen] = '=';
    while ((r = fread(line + len, 1, cap - len - 1, f)) > 0)
    {
        len += r;
        if (len > (size_t)64 << 20)
        {
            die_usage("--setenv-file %s: %s is larger than 64 MiB", name, path);
        }
        if (cap - len - 1 == 0)
        {
            line = xrealloc(line, cap *= 2);
        }
    }
    if (ferror(f))
    {
        die_usage("--setenv-file %s: cannot read %s: %s", name, path, strerror(errno));
    }
    fclose(f);
    if (memchr(line, '\0', len))
    {
        die_usage("--setenv-file %s: %s holds a NUL byte, which no env value can", name, path);
    }
    if (len > nlen + 1 && line[len - 1] == '\n')
    {
        len--;
    }
    line[len] = '\0';
    return line;
}

/* Parses the options (everything that is not a plugin line). */
static void
parse_option(struct cli *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    struct server_conf *conf = &c->conf;

    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
    {
        usage(stdout);
        exit(0);
    }
    else if (strcmp(a, "--verb") == 0)
    {
        c->verb = atoi(need(argc, argv, i));
    }
    else if (strcmp(a, "--quiet") == 0)
    {
        c->quiet = 1;
    }
    else if (strcmp(a, "--poll") == 0)
    {
        const char *v = need(argc, argv, i);

        if (strcmp(v, "fast") == 0)
        {
            conf->poll_fast = 1;
        }
        else if (strcmp(v, "openvpn") == 0)
        {
            conf->poll_fast = 0;
        }
        else
        {
            die_usage("--poll takes openvpn or fast, not '%s'", v);
        }
    }
    else if (strcmp(a, "--hand-window") == 0)
    {
        conf->hand_window_ns = need_duration(argc, argv, i);
    }
    else if (strcmp(a, "--reneg-sec") == 0)
    {
        conf->reneg_ns = need_duration(argc, argv, i);
    }
    else if (strcmp(a, "--tmp-dir") == 0)
    {
        conf->tmp_dir = need(argc, argv, i);
    }
    else if (strcmp(a, "--listen") == 0)
    {
        conf->listen = need(argc, argv, i);
    }
    else if (strcmp(a, "--auth-gen-token") == 0)
    {
        conf->auth_gen_token = 1;
        if (*i + 1 < argc && strcmp(argv[*i + 1], "external-auth") == 0)
        {
            conf->auth_token_external = 1;
            ++*i;
        }
    }
    else if (strcmp(a, "--duplicate-cn") == 0)
    {
        conf->duplicate_cn = 1;
    }
    else if (strcmp(a, "--server") == 0)
    {
        struct in_addr n, m;
        const char *net = need(argc, argv, i), *mask = need(argc, argv, i);

        if (inet_pton(AF_INET, net, &n) != 1 || inet_pton(AF_INET, mask, &m) != 1)
        {
            die_usage("bad --server %s", net);
        }
        conf->net4 = ntohl(n.s_addr);
        conf->mask4 = ntohl(m.s_addr);
    }
    else if (strcmp(a, "--server-ipv6") == 0)
    {
        char buf[128];
        const char *v = need(argc, argv, i);
        char *slash;

        snprintf(buf, sizeof(buf), "%s", v);
        slash = strchr(buf, '/');
        if (!slash || inet_pton(AF_INET6, (*slash = '\0', buf), &conf->net6) != 1)
        {
            die_usage("bad --server-ipv6 %s (NET/BITS)", v);
        }
        conf->bits6 = atoi(slash + 1);
        conf->has_v6 = 1;
    }
    else if (strcmp(a, "--no-ipv6") == 0)
    {
        conf->has_v6 = 0;
    }
    else if (strcmp(a, "--push") == 0)
    {
        strv_push(&conf->push, &conf->n_push, need(argc, argv, i));
    }
    else if (strcmp(a, "--route") == 0)
    {
        const char *net = need(argc, argv, i), *mask = need(argc, argv, i);
        char *r = xasprintf("%s %s", net, mask);

        strv_push(&conf->routes, &conf->n_routes, r);
        free(r);
    }
    else if (strcmp(a, "--setenv") == 0)
    {
        const char *name = need(argc, argv, i), *value = need(argc, argv, i);
        char *line = xasprintf("%s=%s", name, value);

        strv_push(&conf->setenv, &conf->n_setenv, line);
        free(line);
    }
    else if (strcmp(a, "--setenv-file") == 0)
    {
        const char *name = need(argc, argv, i), *path = need(argc, argv, i);
        char *line = setenv_from_file(name, path);

        strv_push(&conf->setenv, &conf->n_setenv, line);
        free(line);
    }
    else if (strcmp(a, "--dev") == 0)
    {
        conf->dev = need(argc, argv, i);
    }
    else if (strcmp(a, "--config-name") == 0)
    {
        conf->config_name = need(argc, argv, i);
    }
    else if (strcmp(a, "--proto") == 0)
    {
        const char *v = need(argc, argv, i);

        if (strcmp(v, "udp") != 0 && strcmp(v, "tcp-server") != 0)
        {
            die_usage("--proto takes udp or tcp-server, not '%s'", v);
        }
        conf->proto = v;
    }
    else if (strcmp(a, "--local") == 0)
    {
        conf->local = need(argc, argv, i);
    }
    else if (strcmp(a, "--clients") == 0)
    {
        c->clients = strtoul(need(argc, argv, i), NULL, 10);
    }
    else if (strcmp(a, "--username") == 0)
    {
        c->username = need(argc, argv, i);
    }
    else if (strcmp(a, "--password") == 0)
    {
        c->password = need(argc, argv, i);
    }
    else if (strcmp(a, "--common-name") == 0)
    {
        c->common_name = need(argc, argv, i);
    }
    else if (strcmp(a, "--iv") == 0)
    {
        if (c->n_iv == (int)(sizeof(c->ivs) / sizeof(c->ivs[0])))
        {
            die_usage("too many %s", a);
        }
        c->ivs[c->n_iv++] = need(argc, argv, i);
    }
    else if (strcmp(a, "--expect") == 0)
    {
        const char *v = need(argc, argv, i);

        if (strcmp(v, "ok") == 0)
        {
            c->expect_ok = 1;
        }
        else if (strcmp(v, "fail") == 0)
        {
            c->expect_ok = 0;
        }
        else
        {
            die_usage("--expect takes ok or fail, not '%s'", v);
        }
    }
    else if (strcmp(a, "--bytes") == 0)
    {
        c->bytes_in = strtoull(need(argc, argv, i), NULL, 10);
        c->bytes_out = strtoull(need(argc, argv, i), NULL, 10);
    }
    else if (strcmp(a, "--timeout") == 0)
    {
        c->timeout_ns = need_duration(argc, argv, i);
    }
    else if (strcmp(a, "--scenario") == 0)
    {
        c->scenario = need(argc, argv, i);
    }
    else if (strcmp(a, "--try") == 0)
    {
        c->try_mode = 1;
    }
    else if (strcmp(a, "--serve") == 0)
    {
        c->serve = 1;
    }
    else if (strcmp(a, "--drive") == 0)
    {
        c->drive = need(argc, argv, i);
    }
    else
    {
        die_usage("unknown option '%s'", a);
    }
}

/* OpenVPN's MAX_PARMS: the most words one option line splits into. */
#define MAX_SPLIT_WORDS 16
/* OpenVPN's OPTION_LINE_SIZE and OPTION_PARM_SIZE: a config line (and one word) has at
 * most 255 characters */
#define OPTION_LINE_SIZE 256
#define OPTION_PARM_SIZE 256

/* options.c space(): the end of the string counts as a blank */
static int
parse_space(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/*
 * OpenVPN's parse_line (options.c), which splits a config line, and again the lone
 * argument of a plugin line (misc.c make_extended_arg_array -> make_arg_array): blanks
 * separate words; a word that starts with '#' or ';' ends the line (a comment); one that
 * starts with "double quotes" runs to the closing quote, with backslash escapes; one
 * that starts with 'single quotes' runs to the closing quote, literally; elsewhere a
 * backslash escapes a blank, a '"' or a backslash, and any other escape is an error.
 * At most N words; more are silently dropped. On an error (a bad backslash, a missing
 * closing quote, a word of 256 characters or more) it says so as OpenVPN does and
 * returns 0 words. The words are malloc'd.
 */
static int
parse_line(const char *line, char **words, int n)
{
    enum
    {
        INITIAL,
        QUOTED,
        UNQUOTED,
        DONE,
        SQUOTED
    } state = INITIAL;
    char parm[OPTION_PARM_SIZE];
    size_t len = 0;
    int ret = 0, backslash = 0;
    const char *c = line;

    do
    {
        char in = *c, out = 0;

        if (!backslash && in == '\\' && state != SQUOTED)
        {
            backslash = 1;
        }
        else
        {
            if (state == INITIAL)
            {
                if (!parse_space(in))
                {
                    if (in == ';' || in == '#')
                    {
                        break;
                    }
                    if (!backslash && in == '"')
                    {
                        state = QUOTED;
                    }
                    else if (!backslash && in == '\'')
                    {
                        state = SQUOTED;
                    }
                    else
                    {
                        out = in;
                        state = UNQUOTED;
                    }
                }
            }
            else if (state == UNQUOTED)
            {
                if (!backslash && parse_space(in))
                {
                    state = DONE;
                }
                else
                {
                    out = in;
                }
            }
            else if (state == QUOTED)
            {
                if (!backslash && in == '"')
                {
                    state = DONE;
                }
                else
                {
                    out = in;
                }
            }
            else if (state == SQUOTED)
            {
                if (in == '\'')
                {
                    state = DONE;
                }
                else
                {
                    out = in;
                }
            }
            if (state == DONE)
            {
                words[ret] = xcalloc(len + 1, 1);
                memcpy(words[ret++], parm, len);
                state = INITIAL;
                len = 0;
            }
            if (backslash && out && !(out == '\\' || out == '"' || parse_space(out)))
            {
                fprintf(stderr,
                        "Options warning: Bad backslash ('\\') usage in make_arg_array:0\n");
                goto fail;
            }
            backslash = 0;
        }
        if (out)
        {
            if (len >= sizeof(parm))
            {
                fprintf(
                    stderr,
                    "Options error: Parameter at make_arg_array:0 is too long (%d chars max)\n",
                    OPTION_PARM_SIZE);
                goto fail;
            }
            parm[len++] = out;
        }
        if (ret >= n)
        {
            break;
        }
    } while (*c++ != '\0');
    if (state == QUOTED || state == SQUOTED)
    {
        fprintf(stderr, "Options error: No closing %squotation (%s) in make_arg_array:0\n",
                state == SQUOTED ? "single " : "", state == SQUOTED ? "\'" : "\"");
        goto fail;
    }
    if (state != INITIAL)
    {
        fprintf(stderr, "Options error: Residual parse state (%d) in make_arg_array:0\n",
                (int)state);
        goto fail;
    }
    return ret;
fail:
    for (int i = 0; i < ret; i++)
    {
        free(words[i]);
    }
    return 0;
}

/*
 * The plugin given as PATH ARGS... on the command line, held to what an OpenVPN config
 * line allows: written as `plugin PATH ARGS...` (a word with blanks quoted) it must stay
 * under 256 characters, or OpenVPN refuses the config ("Maximum option line length");
 * and a line splits into at most 16 words, so `plugin`, the path and 14 arguments: the
 * rest is dropped without a word, as OpenVPN drops it.
 */
static int
config_line_words(const char *path, char **args, int n_args)
{
    size_t len = strlen("plugin ") + strlen(path);

    for (int i = 0; i < n_args; i++)
    {
        len += 1 + strlen(args[i]) + (strpbrk(args[i], " \t") ? 2 : 0);
    }
    if (len >= OPTION_LINE_SIZE)
    {
        fprintf(stderr,
                "Options error: In [CMD-LINE]:1: Maximum option line length (%d) exceeded, "
                "line starts with plugin %s\n",
                OPTION_LINE_SIZE, path);
        exit(1);
    }
    return n_args > MAX_SPLIT_WORDS - 2 ? MAX_SPLIT_WORDS - 2 : n_args;
}

int
main(int argc, char **argv)
{
    struct host host;
    struct cli c;
    int rc, modes;

    memset(&host, 0, sizeof(host));
    memset(&c, 0, sizeof(c));
    server_conf_defaults(&c.conf);
    c.verb = 1;
    c.expect_ok = 1;

    for (int i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--plugin") == 0)
        {
            const char *path;
            int first;

            if (i + 1 >= argc)
            {
                die_usage("%s needs a path", argv[i]);
            }
            path = argv[++i];
            first = i + 1;
            while (i + 1 < argc && strcmp(argv[i + 1], "--plugin") != 0 &&
                   strcmp(argv[i + 1], "--") != 0)
            {
                i++;
            }
            int added;
            int n_args = config_line_words(path, &argv[first], i + 1 - first);

            if (n_args == 1)
            {
                /* OpenVPN re-splits a lone argument (make_extended_arg_array) */
                char *words[MAX_SPLIT_WORDS];
                int n = parse_line(argv[first], words, MAX_SPLIT_WORDS);

                added = host_add(&host, path, (const char *const *)words, n);
                for (int w = 0; w < n; w++)
                {
                    free(words[w]);
                }
            }
            else
            {
                added = host_add(&host, path, (const char *const *)&argv[first], n_args);
            }
            if (added < 0)
            {
                die_usage("at most 16 plugins (%s)", path);
            }
        }
        else if (strcmp(argv[i], "--") == 0)
        {
            continue;
        }
        else
        {
            parse_option(&c, argc, argv, &i);
        }
    }
    modes = (c.clients > 0 && !c.drive) + (c.scenario != NULL) + c.try_mode + c.serve +
            (c.drive != NULL);
    if (modes != 1)
    {
        fprintf(stderr, "ovp-refcore: choose exactly one mode: --clients N, --scenario FILE, "
                        "--try, --serve or --drive ADDRESS\n");
        usage(stderr);
        host_free(&host);
        server_conf_free(&c.conf);
        return 2;
    }
    if (host.n == 0 && !c.drive)
    {
        fprintf(stderr, "ovp-refcore: no --plugin given (a core without plugins has nothing "
                        "to show)\n");
        host_free(&host);
        server_conf_free(&c.conf);
        return 2;
    }
    install_signal_handlers();
    if (c.drive)
    {
        rc = mode_drive(&c);
    }
    else if (c.clients)
    {
        rc = mode_load(&host, &c);
    }
    else if (c.scenario)
    {
        rc = mode_scenario(&host, &c);
    }
    else if (c.try_mode)
    {
        rc = mode_try(&host, &c);
    }
    else
    {
        rc = mode_serve(&host, &c);
    }
    host_free(&host);
    server_conf_free(&c.conf);
    logbook_free();
    return rc;
}

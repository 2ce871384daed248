/* down_root.c: ovp-down-root: the plugin, and with DR_HELPER_PROGRAM its root helper program. */
#include "ovpbuild.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "env.h"
#include "dr_wire.h"
#include "envfilter.h"
#include "plugin.h"
#include "privsep.h"
#include "runner.h"

/* Request and reply types on the helper channel. */
enum
{
    DR_REQ_RUN = OVP_PRIV_USER, /* u32 event, argv strings, env strings */
    DR_REP_DONE,                /* struct dr_done */
};

/* What the helper tells the unprivileged side after a run. */
struct dr_done
{
    int32_t started;
    int32_t exec_errno;
    int32_t status;
    int32_t timed_out;
    int32_t ms;
};

/* Largest request (event, arguments, environment): the channel's hard maximum. */
#define DR_REQ_MAX OVP_PRIV_FRAME_ABSMAX

struct dr_conf
{
    long timeout_ms;
    int script_args;
    char *up;
    char *route_predown;
    struct ovp_strv env;
};

static const char *const no_sections[] = {NULL};

static const struct ovp_cfg_key dr_keys[] = {
    {.name = "timeout",
     .type = OVP_CFG_DURATION,
     .def = "30s",
     .offset = offsetof(struct dr_conf, timeout_ms),
     .min = 100,
     .max = 3600000,
     .help = "how long a command may run before its process group is killed"},
    {.name = "script_args",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct dr_conf, script_args),
     .help = "append dev tun_mtu link_mtu ifconfig_local ifconfig_remote init|restart"},
    {.name = "up",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct dr_conf, up),
     .help = "command run as root at UP (words split on spaces)"},
    {.name = "route_predown",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct dr_conf, route_predown),
     .help = "command run as root at ROUTE_PREDOWN (words split on spaces)"},
    {.name = "env",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_MULTI,
     .offset = offsetof(struct dr_conf, env),
     .help = "an extra environment variable name the commands may see"},
};
#define DR_NKEYS (sizeof(dr_keys) / sizeof(dr_keys[0]))

/* The three hooks a command can hang on, by OpenVPN event. */
struct dr_cmd
{
    char **argv; /* NULL: nothing configured for this event */
};

struct dr_state
{
    struct ovp_plugin *plugin;
    struct dr_conf conf;
    struct dr_cmd down, up, predown;
    struct ovp_priv *priv;
    uint32_t next_id;
    /*
     * Values taken at open besides the plugin's words, which the helper needs too:
     * OpenVPN's working directory then (relative commands were resolved against it)
     * and the operator's setenv variables ("NAME=value", fixed at open). Plain data,
     * checked again on the helper's side (priv_answer_init).
     */
    char *cwd;
    char **setenv;
    size_t nsetenv;
};

static void
strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
    {
        free(v[i]);
    }
    free(v);
}

/* Splits S on blanks into a malloc'd NULL-terminated vector. */
static char **
split_words(const char *s)
{
    size_t cap = 8, n = 0;
    char **v = calloc(cap, sizeof(*v));
    const char *p = s;
    while (v && *p)
    {
        while (*p == ' ' || *p == '\t')
        {
            p++;
        }
        if (!*p)
        {
            break;
        }
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t')
        {
            e++;
        }
        if (n + 2 > cap)
        {
            char **nv = realloc(v, (cap *= 2) * sizeof(*v));
            if (!nv)
            {
                strv_free(v);
                return NULL;
            }
            v = nv;
        }
        if (!(v[n] = strndup(p, (size_t)(e - p))))
        {
            strv_free(v);
            return NULL;
        }
        v[++n] = NULL;
        p = e;
    }
    return v;
}

static char **
copy_words(const char *const *w, size_t n)
{
    char **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; v && i < n; i++)
    {
        if (!(v[i] = strdup(w[i])))
        {
            strv_free(v);
            return NULL;
        }
    }
    return v;
}

static struct dr_cmd *
cmd_for(struct dr_state *st, int event)
{
    switch (event)
    {
        case OPENVPN_PLUGIN_DOWN:
            return &st->down;
        case OPENVPN_PLUGIN_UP:
            return &st->up;
        case OPENVPN_PLUGIN_ROUTE_PREDOWN:
            return &st->predown;
        default:
            return NULL;
    }
}

#ifdef DR_HELPER_PROGRAM
static const char *
script_type_for(int event)
{
    switch (event)
    {
        case OPENVPN_PLUGIN_UP:
            return "up";
        case OPENVPN_PLUGIN_ROUTE_PREDOWN:
            return "route-pre-down";
        default:
            return "down";
    }
}
#endif

/* 1 when NAME=... (the part of ENTRY before '=') is one of the setenv variables. */
static int
is_setenv_name(const struct dr_state *st, const char *entry)
{
    size_t len = strcspn(entry, "=");
    for (size_t i = 0; i < st->nsetenv; i++)
    {
        if (strncmp(st->setenv[i], entry, len) == 0 && st->setenv[i][len] == '=')
        {
            return 1;
        }
    }
    return 0;
}

#ifdef DR_HELPER_PROGRAM
/*
 * Runs in the helper before it serves anything. Trust: the values taken at open
 * (working directory, setenv variables, resolved commands) are checked again on
 * this side, so that a helper built from what the unprivileged side hands over
 * never runs a command or passes a variable that open would have refused.
 */
static int
priv_answer_init(struct ovp_priv_chan *chan, void *ctx)
{
    struct dr_state *st = ctx;
    char err[512];
    if (st->cwd && dr_check_dir(st->cwd, err, sizeof(err)) < 0)
    {
        ovp_priv_log(chan, PLOG_ERR, "working directory: %s; helper exits", err);
        return -1;
    }
    struct dr_cmd *cmds[] = {&st->down, &st->up, &st->predown};
    for (size_t i = 0; i < 3; i++)
    {
        if (cmds[i]->argv && dr_check_command(cmds[i]->argv[0], err, sizeof(err)) < 0)
        {
            ovp_priv_log(chan, PLOG_ERR, "%s; helper exits", err);
            return -1;
        }
    }
    size_t bytes = 0;
    for (size_t i = 0; i < st->nsetenv; i++)
    {
        bytes += strlen(st->setenv[i]);
        if (envfilter_check_setenv(st->setenv[i]) != DR_ENV_OK || i >= DR_SETENV_MAX ||
            bytes > DR_SETENV_BYTES_MAX)
        {
            ovp_priv_log(chan, PLOG_ERR, "setenv variable %zu refused; helper exits", i + 1);
            return -1;
        }
    }
    return 0;
}

#endif

#ifdef DR_HELPER_PROGRAM
/* ----------------------------------------------------------- root helper side */

struct line_ctx
{
    struct ovp_priv_chan *chan;
    const char *what;
};

static void
priv_answer_line(void *ctx, const char *line)
{
    struct line_ctx *lc = ctx;
    ovp_priv_log(lc->chan, PLOG_NOTE, "%s: %s", lc->what, line);
}

/*
 * Runs in the root helper for DR_REQ_RUN. Trust: the payload comes from the
 * unprivileged OpenVPN process and may be hostile. It only chooses WHICH of the
 * commands fixed at open runs (by event) and supplies env values and standard
 * arguments; every env entry is filtered again here and PATH is ours.
 */
static int
priv_answer_run(struct ovp_priv_chan *chan, void *ctx, const struct ovp_priv_frame *req)
{
    struct dr_state *st = ctx;
    struct dr_done done = {.exec_errno = EINVAL};
    const char *argv[64 + DR_ARGS_MAX + 1] = {0};
    char *owned[DR_ARGS_MAX] = {0};
    char **envp = calloc(DR_ENV_MAX + 2, sizeof(*envp));
    size_t pos = 0, na = 0, nowned = 0, ne = 0, unfiltered = 0;
    uint32_t event = 0;
    char first_unfiltered[96] = "";

    struct dr_wire_run run;
    if (!envp || dr_wire_run_decode(req->payload, req->len, &run) < 0)
    {
        goto refuse;
    }
    event = run.event;
    pos = run.env_pos;
    struct dr_cmd *cmd = cmd_for(st, (int)event);
    if (!cmd || !cmd->argv)
    {
        goto refuse; /* only the commands fixed at open, chosen by event */
    }
    for (; cmd->argv[na] && na < 64; na++)
    {
        argv[na] = cmd->argv[na];
    }

    /* Standard script arguments: checked, and used only when the operator asked. */
    for (uint8_t i = 0; st->conf.script_args && i < run.nargs; i++)
    {
        if (!(owned[nowned] = strndup((const char *)run.arg[i], run.arg_len[i])))
        {
            goto refuse;
        }
        /* typed like the variable of the same name; a bad one is passed empty */
        if (!envfilter_arg_ok(i + 1u, owned[nowned]))
        {
            owned[nowned][0] = '\0';
            if (!unfiltered++)
            {
                snprintf(first_unfiltered, sizeof(first_unfiltered), "argument %u", i + 1u);
            }
        }
        argv[na++] = owned[nowned++];
    }

    /*
     * The environment is filtered and validated again here, at the trust boundary.
     * PATH and script_type are ours (script_type from the event that the request
     * names); the setenv variables are the ones fixed at open, whatever the request
     * says about those names.
     */
    char script_type[32];
    snprintf(script_type, sizeof(script_type), "script_type=%s", script_type_for((int)event));
    if (!(envp[ne++] = strdup("PATH=" DR_SAFE_PATH)) || !(envp[ne++] = strdup(script_type)))
    {
        goto refuse;
    }
    for (size_t i = 0; i < st->nsetenv && ne < DR_ENV_MAX; i++)
    {
        if (!(envp[ne++] = strdup(st->setenv[i])))
        {
            goto refuse;
        }
    }
    while (ne < DR_ENV_MAX)
    {
        char *e;
        int got = dr_wire_run_next_env(req->payload, req->len, &pos, &e);
        if (got == 0)
        {
            break;
        }
        if (got == -1)
        {
            goto refuse;
        }
        enum dr_env_verdict v = DR_ENV_MALFORMED;
        if (e)
        {
            v = envfilter_check(e, (const char *const *)st->conf.env.v, st->conf.env.n);
        }
        if (v == DR_ENV_OK && strncmp(e, "script_type=", 12) != 0 && !is_setenv_name(st, e))
        {
            envp[ne++] = e;
            continue;
        }
        /*
         * The unprivileged side sends only what passes the same checks, so anything
         * dropped here was forged (or sent by a different build): said once below.
         */
        if (v != DR_ENV_OK && !unfiltered++)
        {
            char name[49], shown[80];
            snprintf(name, sizeof(name), "%.*s", e ? (int)strcspn(e, "=") : 0, e ? e : "");
            envfilter_excerpt(name, shown, sizeof(shown)); /* the name may be anything */
            snprintf(first_unfiltered, sizeof(first_unfiltered), "%s: %s", shown,
                     envfilter_reason(v));
        }
        free(e);
    }
    if (unfiltered)
    {
        ovp_priv_log(chan, PLOG_WARN,
                     "dropped %zu variables or arguments the plugin should have filtered "
                     "(the first: %s)",
                     unfiltered, first_unfiltered);
    }

    struct line_ctx lc = {chan, argv[0]};
    struct dr_run_result res;
    if (dr_run(argv, (const char *const *)envp, (int)st->conf.timeout_ms, priv_answer_line, &lc,
               &res) < 0)
    {
        done.exec_errno = errno;
        ovp_priv_log(chan, PLOG_ERR | PLOG_ERRNO, "cannot start %s", argv[0]);
    }
    else
    {
        done.started = res.started;
        done.exec_errno = res.exec_errno;
        done.status = res.status;
        done.timed_out = res.timed_out;
        done.ms = (int32_t)res.ms;
    }
    goto reply;

refuse:
    ovp_priv_log(chan, PLOG_ERR, "refused a malformed run request");
reply:
    for (size_t i = 0; i < nowned; i++)
    {
        free(owned[i]);
    }
    strv_free(envp);
    return ovp_priv_reply(chan, DR_REP_DONE, req->id, &done, sizeof(done)) < 0 ? -1 : 0;
}

#endif /* DR_HELPER_PROGRAM */

/*
 * Parses the plugin's argument words into ST's configuration and commands, and
 * checks each command. Shared by the plugin at open and by the helper program,
 * which checks again what it is told. Returns 0, or -1 with ERR set.
 */
static int
dr_parse(struct dr_state *st, const char *const *words, size_t nwords, char *err, size_t errlen)
{
    struct ovp_cfg_node *root = NULL;
    size_t consumed = 0;
    int rc = -1;

    if (ovp_cfg_parse_words(words, nwords, &consumed, &root, err, errlen) < 0 ||
        ovp_cfg_bind(root, dr_keys, DR_NKEYS, &st->conf, no_sections, err, errlen) < 0)
    {
        goto out;
    }
    if (consumed >= nwords)
    {
        snprintf(err, errlen,
                 "no command given: use plugin ovp-down-root.so [key=value...] "
                 "/path/to/command [args...]");
        goto out;
    }
    /*
     * OpenVPN splits a lone quoted argument on blanks itself (plugin x.so "/cmd arg")
     * but passes it whole when other words come first (plugin x.so timeout=5s "/cmd
     * arg"): a lone command word holding blanks is split the same way here.
     */
    if (nwords - consumed == 1 && strpbrk(words[consumed], " \t"))
    {
        st->down.argv = split_words(words[consumed]);
    }
    else
    {
        st->down.argv = copy_words(words + consumed, nwords - consumed);
    }
    if (st->conf.up && *st->conf.up)
    {
        st->up.argv = split_words(st->conf.up);
    }
    if (st->conf.route_predown && *st->conf.route_predown)
    {
        st->predown.argv = split_words(st->conf.route_predown);
    }
    if (!st->down.argv || (st->conf.up && !st->up.argv) ||
        (st->conf.route_predown && !st->predown.argv))
    {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* A missing command is found now, not at shutdown when nobody is watching. */
#ifdef DR_HELPER_PROGRAM
    int check_commands = 1; /* the helper always checks what it will run as root */
#else
    /*
     * Why not without root: that is a reopen after OpenVPN's user/group (a reload),
     * which cannot see a command only root may read (mode 0700, or in a directory
     * only root enters) and must not fail for it: a failed reopen ends OpenVPN. The
     * helper it adopts checked its commands as root at the first open and runs
     * those; with none to adopt nothing runs as root anyway.
     */
    int check_commands = geteuid() == 0;
#endif
    struct dr_cmd *cmds[] = {&st->down, &st->up, &st->predown};
    const char *names[] = {"down", "up", "route_predown"};
    for (size_t i = 0; i < 3; i++)
    {
        char why[400];
        /* the helper's argv has room for 63 words and the standard arguments */
        if (cmds[i]->argv && ovp_argc((const char *const *)cmds[i]->argv) > 63)
        {
            snprintf(err, errlen, "%s command: more than 63 words", names[i]);
            goto out;
        }
        /* A relative command is OpenVPN's working directory's (after --cd), as for
         * the bundled plugin; made absolute now, before a daemon or chroot moves it. */
        if (cmds[i]->argv && cmds[i]->argv[0] && cmds[i]->argv[0][0] != '/')
        {
            char *abs = dr_absolute_command(cmds[i]->argv[0], st->cwd, why, sizeof(why));
            if (!abs)
            {
                snprintf(err, errlen, "%s command: %s", names[i], why);
                goto out;
            }
            free(cmds[i]->argv[0]);
            cmds[i]->argv[0] = abs;
        }
        if (cmds[i]->argv &&
            (!cmds[i]->argv[0] ||
             (check_commands && dr_check_command(cmds[i]->argv[0], why, sizeof(why)) < 0)))
        {
            snprintf(err, errlen, "%s command: %s", names[i], cmds[i]->argv[0] ? why : "empty");
            goto out;
        }
    }
    rc = 0;
out:
    ovp_cfg_free(root);
    return rc;
}

#ifdef DR_HELPER_PROGRAM
/* ------------------------------------------- the helper program (ovp-down-root-helper) */

static struct dr_state helper_state;

/*
 * The CONFIG frame (built by dr_open): the working directory at open, the setenv
 * variables, and the plugin's argument words. Everything is parsed and checked
 * here again: the helper runs only what the plugin line could have said.
 */
static int
dr_helper_init(struct ovp_priv_chan *chan, const uint8_t *config, size_t len, void **ctx,
               char *err, size_t errlen)
{
    struct dr_state *st = &helper_state;
    struct dr_wire_config wc;
    int rc;

    if (dr_wire_config_decode(config, len, DR_SETENV_MAX, &wc) < 0)
    {
        snprintf(err, errlen, "malformed configuration frame");
        return -1;
    }
    /* the state takes the working directory and setenv variables */
    st->cwd = wc.cwd[0] ? wc.cwd : NULL; /* "": getcwd failed at open, so no relative
                                          * command was accepted then */
    if (!st->cwd)
    {
        free(wc.cwd);
    }
    wc.cwd = NULL;
    st->setenv = wc.setenv;
    st->nsetenv = wc.nsetenv;
    wc.setenv = NULL;
    *ctx = st;
    rc = dr_parse(st, (const char *const *)wc.words, wc.nwords, err, errlen);
    if (rc == 0 && priv_answer_init(chan, st) < 0)
    {
        snprintf(err, errlen, "the helper refused its configuration (see the line above)");
        rc = -1;
    }
    dr_wire_config_clear(&wc);
    return rc;
}

int
main(int argc, char **argv)
{
    static const uint16_t permitted[] = {DR_REQ_RUN};
    static const struct ovp_priv_helper spec = {
        .name = "down-root helper",
        .permitted = permitted,
        .n_permitted = 1,
        .max_frame = DR_REQ_MAX,
        .init = dr_helper_init,
        .answer = priv_answer_run,
    };
    return ovp_priv_helper_main(&spec, argc, argv);
}

#else
/* ------------------------------------------------------ unprivileged side */

static void
dr_free(struct dr_state *st)
{
    if (!st)
    {
        return;
    }
    strv_free(st->down.argv);
    strv_free(st->up.argv);
    strv_free(st->predown.argv);
    strv_free(st->setenv);
    free(st->cwd);
    ovp_cfg_release(dr_keys, DR_NKEYS, &st->conf);
    free(st);
}

/*
 * Takes what the helper needs at open besides the plugin's words: the working
 * directory (for relative commands) and the setenv variables of OpenVPN's config,
 * which arrive in the open's envp among OpenVPN's own. Returns 0 or -1 (no memory).
 */
static int
take_open_values(struct dr_state *st, const char *const *envp, struct ovp_log *log)
{
    char dir[PATH_MAX];
    if (getcwd(dir, sizeof(dir)))
    {
        if (!(st->cwd = strdup(dir)))
        {
            goto nomem;
        }
    }
    size_t n = ovp_argc(envp), bytes = 0;
    if (!(st->setenv = calloc(n + 1, sizeof(*st->setenv))))
    {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++)
    {
        enum dr_env_verdict v = envfilter_check_setenv(envp[i]);
        int nlen = (int)strcspn(envp[i], "=");
        nlen = nlen > 64 ? 64 : nlen;
        if (v == DR_ENV_OWN)
        {
            continue;
        }
        if (v == DR_ENV_OK &&
            (st->nsetenv >= DR_SETENV_MAX || bytes + strlen(envp[i]) > DR_SETENV_BYTES_MAX))
        {
            ovp_warn(log,
                     "setenv %.*s: not passed to the commands: more than %d setenv "
                     "variables or %d KiB of them",
                     nlen, envp[i], DR_SETENV_MAX, DR_SETENV_BYTES_MAX / 1024);
            continue;
        }
        if (v != DR_ENV_OK)
        {
            char shown[80];
            char name[65];
            snprintf(name, sizeof(name), "%.*s", nlen, envp[i]);
            envfilter_excerpt(name, shown, sizeof(shown));
            ovp_warn(log, "setenv %s: not passed to the commands: %s", shown,
                     envfilter_reason(v));
            continue;
        }
        if (!(st->setenv[st->nsetenv] = strdup(envp[i])))
        {
            goto nomem;
        }
        bytes += strlen(envp[i]);
        st->nsetenv++;
    }
    return 0;

nomem:
    ovp_err(log, "out of memory");
    return -1;
}

static int
dr_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    struct ovp_log *log = ovp_plugin_log(p);
    char err[512];
    size_t n = ovp_argc(argv);
    uint8_t *cfg = NULL;

    struct dr_state *st = calloc(1, sizeof(*st));
    if (!st)
    {
        ovp_err(log, "out of memory");
        return -1;
    }
    st->plugin = p;
    if (take_open_values(st, envp, log) < 0)
    {
        goto fail;
    }
    const char *const *words = n > 1 ? argv + 1 : argv + n;
    size_t nwords = n > 1 ? n - 1 : 0;
    if (nwords > DR_WORDS_MAX)
    {
        ovp_err(log, "more than %d arguments", DR_WORDS_MAX);
        goto fail;
    }
    if (dr_parse(st, words, nwords, err, sizeof(err)) < 0)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }

    /*
     * What the helper does is fixed by the working directory, the setenv variables
     * and these words (dr_helper_init parses and checks them again there).
     */
    struct ovp_priv_buf b = {cfg = malloc(DR_REQ_MAX), 0, DR_REQ_MAX};
    uint32_t ns = (uint32_t)st->nsetenv, nw = (uint32_t)nwords;
    int packed = cfg && ovp_priv_pack_str(&b, st->cwd ? st->cwd : "") == 0 &&
                 ovp_priv_pack(&b, &ns, sizeof(ns)) == 0;
    for (size_t i = 0; packed && i < st->nsetenv; i++)
    {
        packed = ovp_priv_pack_str(&b, st->setenv[i]) == 0;
    }
    packed = packed && ovp_priv_pack(&b, &nw, sizeof(nw)) == 0;
    for (size_t i = 0; packed && i < nwords; i++)
    {
        packed = ovp_priv_pack_str(&b, words[i]) == 0;
    }
    if (!packed)
    {
        ovp_err(log, cfg ? "the plugin's arguments and setenv variables are too long"
                         : "out of memory");
        goto fail;
    }
    struct ovp_priv_spec spec = {
        .name = "down-root helper",
        .program = "ovp-down-root-helper",
        .max_frame = DR_REQ_MAX,
        .config = b.data,
        .config_len = b.len,
    };
    st->priv = ovp_priv_start(&spec, log, err, sizeof(err));
    if (!st->priv && errno == EPERM)
    {
        /* Why open anyway: failing would end OpenVPN at a reload; DOWN says it again. */
        ovp_err(log,
                "the root helper is %s. The commands cannot run as root until OpenVPN is "
                "restarted as root",
                err);
        free(cfg);
        *state = st;
        return 0;
    }
    if (!st->priv)
    {
        ovp_err(log, "cannot start the root helper: %s", err);
        goto fail;
    }
    free(cfg);
    ovp_note(log, "root helper pid %ld %s: down=%s%s%s%s%s timeout=%ld ms",
             (long)ovp_priv_pid(st->priv),
             ovp_priv_adopted(st->priv) ? "kept from the first open" : "ready",
             st->down.argv[0], st->up.argv ? " up=" : "", st->up.argv ? st->up.argv[0] : "",
             st->predown.argv ? " route_predown=" : "",
             st->predown.argv ? st->predown.argv[0] : "", st->conf.timeout_ms);
    *state = st;
    return 0;

fail:
    free(cfg);
    dr_free(st);
    return -1;
}

/* Builds the request: event, standard arguments, the filtered env. */
static int
build_request(struct dr_state *st, const struct ovp_event *ev, struct ovp_priv_buf *b)
{
    struct ovp_log *log = ovp_plugin_log(st->plugin);
    uint32_t event = (uint32_t)ev->type;
    if (b->cap < sizeof(event) + 1)
    {
        return -1;
    }
    memcpy(b->data, &event, sizeof(event));
    b->len = sizeof(event);

    /* argv from OpenVPN: [0] .so, then dev tun_mtu link_mtu local remote init|restart */
    size_t argc = ovp_argc(ev->argv);
    uint8_t nargs = 0;
    size_t nargs_at = b->len++;
    for (size_t i = 1; i < argc && nargs < DR_ARGS_MAX; i++)
    {
        const char *a = ev->argv[i];
        if (!dr_wire_arg_ok((const uint8_t *)a, strlen(a)) || !envfilter_arg_ok(i, a))
        {
            char shown[80];
            envfilter_excerpt(a, shown, sizeof(shown));
            ovp_warn(log, "%s: argument %zu (\"%s\") is not valid there; passing it empty",
                     ovp_event_name(ev->type), i, shown);
            a = "";
        }
        if (ovp_priv_pack_str(b, a) < 0)
        {
            return -1;
        }
        nargs++;
    }
    b->data[nargs_at] = nargs;

    /* script_type is the helper's to set, for the event the request names */
    /*
     * What does not fit (DR_REQ_MAX bytes, DR_ENV_MAX variables with PATH and
     * script_type) is dropped and counted, and filtering goes on, so that every
     * refusal is still reported and the log says how much the command missed.
     */
    size_t kept = 0, dropped = 0;
    const char *first_dropped = NULL;
    for (size_t i = 0; ev->envp[i]; i++)
    {
        const char *e = ev->envp[i];
        if (strncmp(e, "script_type=", 12) == 0 || is_setenv_name(st, e))
        {
            continue; /* the helper's: for the event that happened, or fixed at open */
        }
        enum dr_env_verdict v =
            envfilter_check(e, (const char *const *)st->conf.env.v, st->conf.env.n);
        if (v == DR_ENV_OK)
        {
            if (kept + 2 + st->nsetenv >= DR_ENV_MAX || ovp_priv_pack_str(b, e) < 0)
            {
                first_dropped = first_dropped ? first_dropped : e;
                dropped++;
            }
            else
            {
                kept++;
            }
        }
        else if (v != DR_ENV_NOT_ALLOWED)
        {
            const char *eq = strchr(e, '=');
            int nlen = eq ? (int)(eq - e) : (int)strlen(e);
            if (v == DR_ENV_INVALID)
            {
                /* the value is quoted (escaped, cut short) only when it is typed */
                int showable = 0;
                char shown[80] = "";
                const char *kind = envfilter_kind(e, (const char *const *)st->conf.env.v,
                                                  st->conf.env.n, &showable);
                if (showable)
                {
                    envfilter_excerpt(eq + 1, shown, sizeof(shown));
                }
                ovp_warn(log, "%s: not passing %.*s to the command: not %s%s%s%s",
                         ovp_event_name(ev->type), nlen > 64 ? 64 : nlen, e, kind,
                         showable ? " (\"" : "", shown, showable ? "\")" : "");
                continue;
            }
            ovp_warn(log, "%s: not passing %.*s to the command: %s", ovp_event_name(ev->type),
                     nlen > 64 ? 64 : nlen, e, envfilter_reason(v));
        }
    }
    if (dropped)
    {
        int nlen = (int)strcspn(first_dropped, "=");
        ovp_warn(log,
                 "%s: environment too large for the command (%zu variables passed): %zu "
                 "more not passed, the first %.*s",
                 ovp_event_name(ev->type), kept, dropped, nlen > 64 ? 64 : nlen, first_dropped);
    }
    return 0;
}

static void
helper_gone(struct ovp_log *log, int type, const char *cmd, int never)
{
    ovp_err(log,
            "%s: the root helper is %s, so %s cannot run as root; failing the event "
            "(restart OpenVPN as root)",
            ovp_event_name(type),
            never ? "not running (this plugin was opened without root)"
                  : "gone (killed or crashed)",
            cmd);
}

static int
dr_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    struct dr_state *st = state;
    struct ovp_log *log = ovp_plugin_log(p);
    struct dr_cmd *cmd = cmd_for(st, ev->type);
    if (!cmd || !cmd->argv)
    {
        return OPENVPN_PLUGIN_FUNC_SUCCESS; /* nothing configured for this event */
    }
    /*
     * The one blocking call ovp makes on OpenVPN's thread: OpenVPN runs --down
     * scripts synchronously too, at a point where no client traffic is served.
     */
    if (!ovp_priv_alive(st->priv))
    {
        helper_gone(log, ev->type, cmd->argv[0], st->priv == NULL);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    struct ovp_priv_buf b = {malloc(DR_REQ_MAX), 0, DR_REQ_MAX};
    if (!b.data || build_request(st, ev, &b) < 0)
    {
        ovp_err(log, "%s: cannot build the request for %s", ovp_event_name(ev->type),
                cmd->argv[0]);
        free(b.data);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    struct ovp_priv_frame reply;
    uint32_t id = ++st->next_id;
    int wait_ms = (int)st->conf.timeout_ms + DR_KILL_GRACE_MS + 3000;
    int rc = ovp_priv_call(st->priv, DR_REQ_RUN, id, b.data, b.len, &reply, wait_ms);
    free(b.data);
    if (rc < 0)
    {
        helper_gone(log, ev->type, cmd->argv[0], 0); /* died just now, or during the run */
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (rc == 0 || reply.type != DR_REP_DONE || reply.len != sizeof(struct dr_done))
    {
        ovp_err(log, "%s: no answer from the root helper for %s (%s)", ovp_event_name(ev->type),
                cmd->argv[0], rc == 0 ? "timed out" : "unexpected reply");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    struct dr_done done;
    memcpy(&done, reply.payload, sizeof(done));
    const char *what = ovp_event_name(ev->type);
    if (!done.started)
    {
        ovp_err(log, "%s: cannot run %s: %s", what, cmd->argv[0], strerror(done.exec_errno));
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (done.timed_out)
    {
        ovp_err(log, "%s: %s did not finish within %ld ms and was killed", what, cmd->argv[0],
                st->conf.timeout_ms);
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    if (WIFEXITED(done.status) && WEXITSTATUS(done.status) == 0)
    {
        ovp_note(log, "%s: %s succeeded (%d ms)", what, cmd->argv[0], done.ms);
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }
    if (WIFEXITED(done.status))
    {
        ovp_err(log, "%s: %s failed with exit status %d", what, cmd->argv[0],
                WEXITSTATUS(done.status));
    }
    else
    {
        ovp_err(log, "%s: %s was killed by signal %d", what, cmd->argv[0],
                WIFSIGNALED(done.status) ? WTERMSIG(done.status) : -1);
    }
    return OPENVPN_PLUGIN_FUNC_ERROR;
}

static void
dr_close(struct ovp_plugin *p, void *state)
{
    struct dr_state *st = state;
    (void)p;
    if (st)
    {
        /* Kept for the next open: after a reload without root none could start. */
        ovp_priv_park(st->priv, 2000);
        dr_free(st);
    }
}

static void
dr_abort(struct ovp_plugin *p, void *state)
{
    struct dr_state *st = state;
    (void)p;
    if (st)
    {
        ovp_priv_kill(st->priv);
    }
}

static const struct ovp_plugin_desc dr_desc = {
    .name = "ovp-down-root",
    .events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_UP) |
              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_DOWN) |
              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_ROUTE_PREDOWN),
    .open = dr_open,
    .event = dr_event,
    .close = dr_close,
    .abort = dr_abort,
};
OVP_PLUGIN(dr_desc);
#endif /* DR_HELPER_PROGRAM */

/* scenario.c: stories: clients, what they should get, and what plugins should see and log. */
#include "ovpbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccopts.h"
#include "modes.h"
#include "pool.h"
#include "refcore.h"
#include "server.h"

#define MAX_WORDS 40

/* A named client of the story and what it claims. */
struct sclient
{
    char *name;
    char *words[MAX_WORDS]; /* its key=value words, kept for roam */
    int n_words;
    struct csess *cs;
};

struct story
{
    const char *file;
    int line;
    struct cli *cli;
    struct host *host;
    struct server srv;
    struct loop *loop;
    struct sclient *clients;
    size_t n_clients;
    struct csess **retired; /* replaced by roam, freed at the end */
    size_t n_retired;
    uint64_t timeout_ns;
    size_t log_mark, call_mark;
    int steps;
};

static void expect_file(struct story *s, char **w, int n);

static void __attribute__((format(printf, 2, 3), noreturn))
fail(struct story *s, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "scenario %s:%d: %s\n", s->file, s->line, msg);
    /* plugins are closed as on any normal exit: their helpers must not outlive us */
    logbook_set_quiet(1);
    server_stop(&s->srv, "sigterm");
    exit(1);
}

static struct sclient *
find_client(struct story *s, const char *name, int must)
{
    for (size_t i = 0; i < s->n_clients; i++)
    {
        if (strcmp(s->clients[i].name, name) == 0)
        {
            return &s->clients[i];
        }
    }
    if (must)
    {
        fail(s, "no client named '%s' (start one with: client %s user=... pass=...)", name,
             name);
    }
    return NULL;
}

/* Builds the client's parameters from its words and connects. */
static struct csess *
connect_client(struct story *s, struct sclient *c, const char *addr_override,
               const char *pass_override)
{
    struct cparams p;

    memset(&p, 0, sizeof(p));
    for (int i = 0; i < c->n_words; i++)
    {
        char *w = c->words[i];
        char *eq = strchr(w, '=');
        const char *v = eq ? eq + 1 : "";

        if (!eq)
        {
            fail(s, "client words are key=value, not '%s'", w);
        }
        if (strncmp(w, "user=", 5) == 0)
        {
            p.user = v;
        }
        else if (strncmp(w, "pass=", 5) == 0)
        {
            p.pass = v;
        }
        else if (strncmp(w, "cn=", 3) == 0)
        {
            p.cn = v;
        }
        else if (strncmp(w, "addr=", 5) == 0)
        {
            p.addr = v;
        }
        else if (strncmp(w, "serial=", 7) == 0)
        {
            p.serial = v;
        }
        else if (strncmp(w, "iv=", 3) == 0 && p.n_iv < (int)(sizeof(p.iv) / sizeof(p.iv[0])))
        {
            p.iv[p.n_iv++] = v;
        }
        else
        {
            fail(s, "unknown client word '%s' (user= pass= cn= addr= serial= iv=)", w);
        }
    }
    if (addr_override)
    {
        p.addr = addr_override;
    }
    if (pass_override)
    {
        p.pass = pass_override;
    }
    return csess_new(s->loop, server_address(&s->srv), c->name, &p, 1);
}

/* Runs the loop until COND holds or the timeout passes. Returns COND's last value. */
static int
run_until(struct story *s, int (*cond)(struct story *, void *), void *arg, uint64_t timeout)
{
    uint64_t deadline = now_ns() + timeout;

    for (;;)
    {
        if (cond(s, arg))
        {
            return 1;
        }
        if (now_ns() >= deadline || sig_term)
        {
            return cond(s, arg);
        }
        if (sig_hup)
        {
            sig_hup = 0;
            server_reload(&s->srv);
        }
        if (loop_run_once(s->loop, 10 * NS_PER_MS) < 0)
        {
            fail(s, "event loop failed: %s", strerror(errno));
        }
    }
}

/* ------------------------------------------------------- client conditions */

struct ccond
{
    struct sclient *c;
    const char *what;
    const char *arg;
    const char *arg2;
};

static int
client_cond(struct story *s, void *a)
{
    struct ccond *cc = a;
    struct csess *cs = cc->c->cs;

    if (strcmp(cc->what, "ok") == 0)
    {
        return cs->state == CS_CONNECTED;
    }
    if (strcmp(cc->what, "fail") == 0)
    {
        return cs->state == CS_FAILED && !cs->tls_error &&
               (!cc->arg || strcmp(cs->reason, cc->arg) == 0);
    }
    if (strcmp(cc->what, "fail-contains") == 0)
    {
        return cs->state == CS_FAILED && !cs->tls_error && strstr(cs->reason, cc->arg);
    }
    if (strcmp(cc->what, "tls-error") == 0)
    {
        return cs->tls_error;
    }
    if (strcmp(cc->what, "pending") == 0)
    {
        return cs->pending && (!cc->arg || (cs->info && strstr(cs->info, cc->arg)));
    }
    if (strcmp(cc->what, "push") == 0)
    {
        return cs->push_reply && strstr(cs->push_reply, cc->arg);
    }
    if (strcmp(cc->what, "addr") == 0)
    {
        return cs->addr4 && strcmp(cs->addr4, cc->arg) == 0 &&
               (!cc->arg2 || (cs->addr6 && strcmp(cs->addr6, cc->arg2) == 0));
    }
    if (strcmp(cc->what, "reneg-ok") == 0)
    {
        return cs->reneg_ok >= (cc->arg ? atoi(cc->arg) : 1);
    }
    if (strcmp(cc->what, "restart") == 0)
    {
        return cs->restart;
    }
    if (strcmp(cc->what, "closed") == 0)
    {
        return cs->closed;
    }
    if (strcmp(cc->what, "line") == 0)
    {
        for (size_t i = 0; i < cs->n_lines; i++)
        {
            if (strstr(cs->lines[i], cc->arg))
            {
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

static void
expect_client(struct story *s, struct sclient *c, char **w, int n)
{
    struct ccond cc = {c, w[0], n > 1 ? w[1] : NULL, n > 2 ? w[2] : NULL};
    char got[4096];
    static const char *const known[] = {"ok",      "fail",   "fail-contains", "tls-error",
                                        "pending", "push",   "addr",          "reneg-ok",
                                        "restart", "closed", "line"};
    int ok = 0;

    if (strcmp(w[0], "waiting") == 0)
    {
        if (c->cs->state != CS_WAITING && c->cs->state != CS_CONNECTING)
        {
            fail(s, "expected %s to be still waiting, but it has: %s", c->name,
                 csess_describe(c->cs, got, sizeof(got)));
        }
        return;
    }
    if (strcmp(w[0], "no-push") == 0)
    {
        if (n < 2)
        {
            fail(s, "expect NAME no-push TEXT");
        }
        if (c->cs->push_reply && strstr(c->cs->push_reply, w[1]))
        {
            fail(s, "expected %s's PUSH_REPLY not to contain '%s': %s", c->name, w[1],
                 c->cs->push_reply);
        }
        return;
    }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    {
        ok |= strcmp(w[0], known[i]) == 0;
    }
    if (!ok)
    {
        fail(s, "unknown expectation '%s' for client %s", w[0], c->name);
    }
    if ((strcmp(w[0], "push") == 0 || strcmp(w[0], "addr") == 0 ||
         strcmp(w[0], "fail-contains") == 0 || strcmp(w[0], "line") == 0) &&
        n < 2)
    {
        fail(s, "expect %s %s needs a value", c->name, w[0]);
    }
    if (!run_until(s, client_cond, &cc, s->timeout_ns))
    {
        csess_describe(c->cs, got, sizeof(got));
        if (strcmp(w[0], "addr") == 0)
        {
            fail(s, "expected %s to get address %s%s%s, got %s %s", c->name, w[1],
                 n > 2 ? " " : "", n > 2 ? w[2] : "", c->cs->addr4 ? c->cs->addr4 : "none",
                 c->cs->addr6 ? c->cs->addr6 : "");
        }
        if (strcmp(w[0], "pending") == 0 && c->cs->info)
        {
            fail(s, "expected %s to get AUTH_PENDING%s%s, it has INFO_PRE '%s' (%s)", c->name,
                 n > 1 ? " with " : "", n > 1 ? w[1] : "", c->cs->info, got);
        }
        fail(s, "expected %s %s%s%s%s, but after %.1f s it has: %s", c->name, w[0],
             n > 1 ? " \"" : "", n > 1 ? w[1] : "", n > 1 ? "\"" : "",
             (double)s->timeout_ns / 1e9, got);
    }
}

/* --------------------------------------------------------- log conditions */

static int
log_cond(struct story *s, void *a)
{
    return logbook_find(a, s->log_mark) >= 0;
}

static long
find_call(struct story *s, const char *text, size_t from)
{
    for (size_t i = from; i < s->host->n_calls; i++)
    {
        if (strstr(s->host->calls[i], text))
        {
            return (long)i;
        }
    }
    return -1;
}

static int
call_cond(struct story *s, void *a)
{
    return find_call(s, a, s->call_mark) >= 0;
}

static unsigned long
stat_value(struct story *s, const char *name)
{
    const struct server_stats *st = &s->srv.st;

    if (strcmp(name, "sessions") == 0)
    {
        return st->sessions;
    }
    if (strcmp(name, "authenticated") == 0)
    {
        return st->authenticated;
    }
    if (strcmp(name, "failed") == 0)
    {
        return st->failed;
    }
    if (strcmp(name, "timed_out") == 0)
    {
        return st->timed_out;
    }
    if (strcmp(name, "hung_up") == 0)
    {
        return st->hung_up;
    }
    if (strcmp(name, "deferred") == 0)
    {
        return st->deferred;
    }
    if (strcmp(name, "renegotiated") == 0)
    {
        return st->renegotiated;
    }
    if (strcmp(name, "clients") == 0)
    {
        return s->srv.n_insts;
    }
    if (strcmp(name, "routes") == 0)
    {
        return rt_count(s->srv.routes);
    }
    fail(s,
         "unknown stat '%s' (sessions authenticated failed timed_out hung_up deferred "
         "renegotiated clients routes)",
         name);
}

struct statcond
{
    const char *name;
    unsigned long want;
};

static int
stat_cond(struct story *s, void *a)
{
    struct statcond *sc = a;

    return stat_value(s, sc->name) == sc->want;
}

static void
expect_other(struct story *s, char **w, int n)
{
    if (strcmp(w[1], "log") == 0 && n == 3)
    {
        if (!run_until(s, log_cond, w[2], s->timeout_ns))
        {
            fail(s,
                 "expected a log line containing \"%s\" (%zu lines since the mark; run with "
                 "a higher --verb to see more)",
                 w[2], logbook_count() - s->log_mark);
        }
    }
    else if (strcmp(w[1], "no-log") == 0 && n == 3)
    {
        long i = logbook_find(w[2], s->log_mark);

        if (i >= 0)
        {
            fail(s, "expected no log line containing \"%s\", found: %s", w[2],
                 logbook_get((size_t)i));
        }
    }
    else if (strcmp(w[1], "call") == 0 && n == 3)
    {
        if (!run_until(s, call_cond, w[2], s->timeout_ns))
        {
            fail(s, "expected a plugin call matching \"%s\" (%zu calls since the mark)", w[2],
                 s->host->n_calls - s->call_mark);
        }
    }
    else if (strcmp(w[1], "no-call") == 0 && n == 3)
    {
        long i = find_call(s, w[2], s->call_mark);

        if (i >= 0)
        {
            fail(s, "expected no plugin call matching \"%s\", found: %s", w[2],
                 s->host->calls[i]);
        }
    }
    else if (strcmp(w[1], "calls") == 0 && n == 4)
    {
        unsigned long count = 0, want = strtoul(w[3], NULL, 10);

        for (size_t i = s->call_mark; i < s->host->n_calls; i++)
        {
            count += strstr(s->host->calls[i], w[2]) != NULL;
        }
        if (count != want)
        {
            fail(s, "expected %lu plugin calls matching \"%s\", saw %lu", want, w[2], count);
        }
    }
    else if (strcmp(w[1], "file") == 0 || strcmp(w[1], "no-file") == 0 ||
             strcmp(w[1], "file-order") == 0)
    {
        expect_file(s, w, n);
    }
    else if (strcmp(w[1], "stat") == 0 && n == 4)
    {
        struct statcond sc = {w[2], strtoul(w[3], NULL, 10)};

        if (!run_until(s, stat_cond, &sc, s->timeout_ns))
        {
            fail(s, "expected %s = %lu, it is %lu", w[2], sc.want, stat_value(s, w[2]));
        }
    }
    else
    {
        struct sclient *c = find_client(s, w[1], 1);

        if (n < 3)
        {
            fail(s, "expect %s WHAT ...", w[1]);
        }
        expect_client(s, c, w + 2, n - 2);
    }
}

/* ----------------------------------------------------------- file conditions */

/* Index of the first line of PATH at or after FROM containing TEXT, or -1. */
static long
file_find(const char *path, const char *text, long from)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    long i = 0, found = -1;

    if (!f)
    {
        return -1;
    }
    while (fgets(line, sizeof(line), f))
    {
        if (i >= from && strstr(line, text))
        {
            found = i;
            break;
        }
        i++;
    }
    fclose(f);
    return found;
}

struct fcond
{
    const char *path, *a, *b;
};

static int
file_cond(struct story *s, void *arg)
{
    struct fcond *fc = arg;
    long a = file_find(fc->path, fc->a, 0);

    if (!fc->b)
    {
        return a >= 0;
    }
    return a >= 0 && file_find(fc->path, fc->b, a + 1) > a;
}

static void
expect_file(struct story *s, char **w, int n)
{
    struct fcond fc = {w[2], w[3], NULL};

    if (strcmp(w[1], "file") == 0 && n == 4)
    {
        if (!run_until(s, file_cond, &fc, s->timeout_ns))
        {
            fail(s, "expected a line containing \"%s\" in %s", w[3], w[2]);
        }
    }
    else if (strcmp(w[1], "no-file") == 0 && n == 4)
    {
        if (file_find(w[2], w[3], 0) >= 0)
        {
            fail(s, "expected no line containing \"%s\" in %s", w[3], w[2]);
        }
    }
    else if (strcmp(w[1], "file-order") == 0 && n == 5)
    {
        fc.b = w[4];
        if (!run_until(s, file_cond, &fc, s->timeout_ns))
        {
            fail(s, "expected a line with \"%s\" and after it one with \"%s\" in %s", w[3],
                 w[4], w[2]);
        }
    }
    else
    {
        fail(s, "expect file PATH TEXT | no-file PATH TEXT | file-order PATH TEXT1 TEXT2");
    }
}

/* Replaces ${NAME} in WORD with the environment's NAME (which must be set). */
static char *
expand_vars(struct story *s, char *word)
{
    char *out = xstrdup(""), *p = word;

    while (*p)
    {
        char *start = strstr(p, "${"), *end, *name, *n2;
        const char *val;

        if (!start || !(end = strchr(start, '}')))
        {
            n2 = xasprintf("%s%s", out, p);
            free(out);
            out = n2;
            break;
        }
        name = xasprintf("%.*s", (int)(end - start - 2), start + 2);
        val = getenv(name);
        if (!val)
        {
            fail(s, "${%s} is not set in the environment", name);
        }
        n2 = xasprintf("%s%.*s%s", out, (int)(start - p), p, val);
        free(name);
        free(out);
        out = n2;
        p = end + 1;
    }
    free(word);
    return out;
}

/* ---------------------------------------------------------------- commands */

static int
never(struct story *s, void *a)
{
    return 0;
}

static void
step(struct story *s, char **w, int n)
{
    const char *cmd = w[0];

    if (strcmp(cmd, "client") == 0)
    {
        struct sclient *c;

        if (n < 2)
        {
            fail(s, "client NAME [user=U] [pass=P] [cn=CN] [iv=LINE]... [addr=IP:PORT]");
        }
        if (find_client(s, w[1], 0))
        {
            fail(s, "client '%s' exists already (use roam, or another name)", w[1]);
        }
        if (!strcmp(w[1], "log") || !strcmp(w[1], "no-log") || !strcmp(w[1], "call") ||
            !strcmp(w[1], "no-call") || !strcmp(w[1], "calls") || !strcmp(w[1], "stat") ||
            !strcmp(w[1], "file") || !strcmp(w[1], "no-file") || !strcmp(w[1], "file-order"))
        {
            fail(s, "'%s' is a reserved word, not a client name", w[1]);
        }
        s->clients = xrealloc(s->clients, (s->n_clients + 1) * sizeof(struct sclient));
        c = &s->clients[s->n_clients++];
        memset(c, 0, sizeof(*c));
        c->name = xstrdup(w[1]);
        for (int i = 2; i < n; i++)
        {
            c->words[c->n_words++] = xstrdup(w[i]);
        }
        c->cs = connect_client(s, c, NULL, NULL);
    }
    else if (strcmp(cmd, "float") == 0)
    {
        /* OpenVPN keeps a UDP session whose client changes address (its new address in
         * the env at disconnect); the core has no data channel to see that happen */
        fail(s, "float is not modelled: a client floating to a new address keeps its "
                "session on OpenVPN (tests/core/README.md, \"Not modelled\"); roam makes a "
                "new session");
    }
    else if (strcmp(cmd, "roam") == 0 && (n == 2 || n == 3))
    {
        struct sclient *c = find_client(s, w[1], 1);
        const char *addr = n == 3 && strncmp(w[2], "addr=", 5) == 0 ? w[2] + 5 : NULL;

        if (n == 3 && !addr)
        {
            fail(s, "roam NAME [addr=IP:PORT]");
        }
        s->retired = xrealloc(s->retired, (s->n_retired + 1) * sizeof(struct csess *));
        s->retired[s->n_retired++] = c->cs;
        /* a real client restarting (SIGUSR1) keeps the auth-token it was pushed and
         * presents it instead of its password */
        c->cs = connect_client(s, c, addr, c->cs->auth_token);
    }
    else if (strcmp(cmd, "expect") == 0 && n >= 3)
    {
        expect_other(s, w, n);
    }
    else if (strcmp(cmd, "bytes") == 0 && n == 4)
    {
        csess_bytes(find_client(s, w[1], 1)->cs, strtoull(w[2], NULL, 10),
                    strtoull(w[3], NULL, 10));
    }
    else if (strcmp(cmd, "reneg") == 0 && (n == 2 || n == 3))
    {
        const char *pass = n == 3 && strncmp(w[2], "pass=", 5) == 0 ? w[2] + 5 : NULL;

        if (n == 3 && !pass)
        {
            fail(s, "reneg NAME [pass=P]");
        }
        csess_reneg(find_client(s, w[1], 1)->cs, pass);
    }
    else if (strcmp(cmd, "crresponse") == 0 && n == 3)
    {
        csess_crresponse(find_client(s, w[1], 1)->cs, w[2]);
    }
    else if (strcmp(cmd, "bye") == 0 && n == 2)
    {
        csess_bye(find_client(s, w[1], 1)->cs);
    }
    else if (strcmp(cmd, "hangup") == 0 && n == 2)
    {
        csess_hangup(find_client(s, w[1], 1)->cs);
    }
    else if (strcmp(cmd, "reload") == 0 && n == 1)
    {
        server_reload(&s->srv);
    }
    else if (strcmp(cmd, "wait") == 0 && n == 2)
    {
        uint64_t ns;

        if (parse_duration_ns(w[1], &ns) < 0)
        {
            fail(s, "bad duration '%s' (e.g. 2, 1.5s, 300ms)", w[1]);
        }
        run_until(s, never, NULL, ns);
    }
    else if (strcmp(cmd, "timeout") == 0 && n == 2)
    {
        if (parse_duration_ns(w[1], &s->timeout_ns) < 0)
        {
            fail(s, "bad duration '%s'", w[1]);
        }
    }
    else if (strcmp(cmd, "mark") == 0 && n == 1)
    {
        s->log_mark = logbook_count();
        s->call_mark = s->host->n_calls;
    }
    else
    {
        fail(s, "cannot understand '%s' (%d words); see README.md for the story format", cmd,
             n);
    }
    s->steps++;
}

int
mode_scenario(struct host *h, struct cli *c)
{
    struct story s;
    FILE *f;
    char line[8192];

    memset(&s, 0, sizeof(s));
    s.file = c->scenario;
    s.cli = c;
    s.host = h;
    s.timeout_ns = 10 * NS_PER_S;
    f = fopen(c->scenario, "r");
    if (!f)
    {
        fprintf(stderr, "ovp-refcore: cannot read scenario %s: %s\n", c->scenario,
                strerror(errno));
        return 2;
    }
    logbook_init(c->verb, c->quiet, 1000000);
    h->keep_calls = 1;
    h->keep_stall = 1;
    s.loop = loop_new();
    if (!s.loop || server_init(&s.srv, &c->conf, h, s.loop) < 0)
    {
        fclose(f);
        loop_free(s.loop);
        return 1;
    }
    server_start(&s.srv);
    while (fgets(line, sizeof(line), f))
    {
        char *w[MAX_WORDS];
        int n;

        s.line++;
        n = ccopts_split(line, w, MAX_WORDS);
        if (n < 0)
        {
            fail(&s, "unterminated quote");
        }
        if (n == 0)
        {
            continue;
        }
        for (int i = 0; i < n; i++)
        {
            w[i] = expand_vars(&s, w[i]);
        }
        step(&s, w, n);
        for (int i = 0; i < n; i++)
        {
            free(w[i]);
        }
    }
    fclose(f);
    server_stop(&s.srv, "sigterm");
    printf("scenario %s: %d steps passed\n", c->scenario, s.steps);
    for (size_t i = 0; i < s.n_clients; i++)
    {
        csess_free(s.clients[i].cs);
        free(s.clients[i].name);
        for (int k = 0; k < s.clients[i].n_words; k++)
        {
            free(s.clients[i].words[k]);
        }
    }
    for (size_t i = 0; i < s.n_retired; i++)
    {
        csess_free(s.retired[i]);
    }
    free(s.retired);
    free(s.clients);
    server_free(&s.srv);
    loop_free(s.loop);
    return 0;
}

/* pam_ovptest.c: a PAM module for ovp-auth-pam's tests: scripted questions, delays, faults. */
#include "ovpbuild.h"

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_modules.h>
#include <security/pam_appl.h>

/*
 * Options (in the service file):
 *   ask=TEXT / askon=TEXT  ask TEXT with echo off / on (repeatable, in order;
 *                          '_' in TEXT stands for a space). Without any, the
 *                          module asks for the user (pam_get_user) and "Password: ".
 *   info=TEXT              send TEXT as PAM_TEXT_INFO before the questions
 *   delay=MS               wait MS before the first question
 *   accept=FILE            succeed when the answers joined by TABs are a line of FILE
 *   sleep=MS               wait MS before answering ...
 *   sleepfor=PREFIX        ... only when the first answer starts with PREFIX
 *   crashfor=PREFIX        raise SIGSEGV when the first answer starts with PREFIX
 *   acct=expired|newtok|perm|unavail   what pam_acct_mgmt returns (default success)
 *   acctmsg=TEXT           a PAM_ERROR_MSG sent before acct fails
 *   unavailfor=PREFIX      pam_authenticate returns PAM_AUTHINFO_UNAVAIL for such users
 *   setuser=NAME           on success, set PAM_USER to NAME (a module that maps users)
 *   acctuser=NAME          pam_acct_mgmt sets PAM_USER to NAME and succeeds
 *   nodump                 fail unless this process is not dumpable and has no core limit
 *   exitfor=PREFIX         call _exit(0) in pam_sm_authenticate for such users (a module
 *                          that ends the process: no answer is ever sent)
 *   hangfor=PREFIX         never return for such users: SIGTERM ignored, sleeping in a loop
 *   faildelay=MS           ask libpam for a delay of MS after a failure (pam_fail_delay,
 *                          as pam_unix does with 2 s)
 * On success the first answer becomes PAM_USER when the first question is echo-on
 * (as a login question would), unless setuser= says otherwise.
 * Test code only: it reads its answers from files and keeps nothing secret.
 */

#define MAX_ASK 8
/* The tree builds with -fvisibility=hidden: libpam must see these. */
#define TEST_EXPORT __attribute__((visibility("default")))

struct opts
{
    const char *ask[MAX_ASK];
    int echo_on[MAX_ASK];
    int n_ask;
    const char *info;
    long delay_ms;
    const char *accept;
    long sleep_ms;
    const char *sleepfor;
    const char *crashfor;
    const char *unavailfor;
    const char *acct;
    const char *acctmsg;
    const char *setuser;
    const char *acctuser;
    int nodump;
    const char *exitfor;
    const char *hangfor;
    long faildelay_ms;
};

static void
parse(int argc, const char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++)
    {
        const char *a = argv[i];
        if (strncmp(a, "ask=", 4) == 0 && o->n_ask < MAX_ASK)
        {
            o->ask[o->n_ask++] = a + 4;
        }
        else if (strncmp(a, "askon=", 6) == 0 && o->n_ask < MAX_ASK)
        {
            o->echo_on[o->n_ask] = 1;
            o->ask[o->n_ask++] = a + 6;
        }
        else if (strncmp(a, "info=", 5) == 0)
        {
            o->info = a + 5;
        }
        else if (strncmp(a, "delay=", 6) == 0)
        {
            o->delay_ms = strtol(a + 6, NULL, 10);
        }
        else if (strncmp(a, "accept=", 7) == 0)
        {
            o->accept = a + 7;
        }
        else if (strncmp(a, "sleep=", 6) == 0)
        {
            o->sleep_ms = strtol(a + 6, NULL, 10);
        }
        else if (strncmp(a, "sleepfor=", 9) == 0)
        {
            o->sleepfor = a + 9;
        }
        else if (strncmp(a, "crashfor=", 9) == 0)
        {
            o->crashfor = a + 9;
        }
        else if (strncmp(a, "unavailfor=", 11) == 0)
        {
            o->unavailfor = a + 11;
        }
        else if (strncmp(a, "acct=", 5) == 0)
        {
            o->acct = a + 5;
        }
        else if (strncmp(a, "acctmsg=", 8) == 0)
        {
            o->acctmsg = a + 8;
        }
        else if (strncmp(a, "setuser=", 8) == 0)
        {
            o->setuser = a + 8;
        }
        else if (strncmp(a, "acctuser=", 9) == 0)
        {
            o->acctuser = a + 9;
        }
        else if (strcmp(a, "nodump") == 0)
        {
            o->nodump = 1;
        }
        else if (strncmp(a, "exitfor=", 8) == 0)
        {
            o->exitfor = a + 8;
        }
        else if (strncmp(a, "hangfor=", 8) == 0)
        {
            o->hangfor = a + 8;
        }
        else if (strncmp(a, "faildelay=", 10) == 0)
        {
            o->faildelay_ms = strtol(a + 10, NULL, 10);
        }
    }
}

static char *
spaces(const char *s)
{
    char *c = strdup(s);
    for (char *p = c; p && *p; p++)
    {
        if (*p == '_')
        {
            *p = ' ';
        }
    }
    return c;
}

/* One question or message through the application's conversation. */
static int
say(pam_handle_t *pamh, int style, const char *text, char **answer)
{
    const struct pam_conv *conv = NULL;
    struct pam_message m = {.msg_style = style, .msg = text};
    const struct pam_message *mp = &m;
    struct pam_response *r = NULL;
    int rc = pam_get_item(pamh, PAM_CONV, (const void **)&conv);

    if (rc != PAM_SUCCESS || !conv || !conv->conv)
    {
        return PAM_CONV_ERR;
    }
    rc = conv->conv(1, &mp, &r, conv->appdata_ptr);
    if (rc != PAM_SUCCESS)
    {
        return rc;
    }
    if (answer)
    {
        *answer = r && r->resp ? strdup(r->resp) : strdup("");
    }
    if (r)
    {
        free(r->resp);
        free(r);
    }
    return PAM_SUCCESS;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
    {
    }
}

static int
starts(const char *s, const char *prefix)
{
    return prefix && s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
accepted(const char *file, const char *line)
{
    FILE *f = fopen(file, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int ok = 0;

    if (!f)
    {
        return 0;
    }
    while (!ok && (n = getline(&buf, &cap, f)) >= 0)
    {
        if (n > 0 && buf[n - 1] == '\n')
        {
            buf[--n] = '\0';
        }
        ok = strcmp(buf, line) == 0;
    }
    free(buf);
    fclose(f);
    return ok;
}

TEST_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct opts o;
    char *answers[MAX_ASK + 1] = {0};
    char *joined = NULL;
    size_t len = 1;
    int n = 0, rc = PAM_AUTH_ERR;
    (void)flags;

    parse(argc, argv, &o);
    if (o.faildelay_ms > 0)
    {
        pam_fail_delay(pamh, (unsigned)(o.faildelay_ms * 1000));
    }
    if (o.info)
    {
        char *t = spaces(o.info);
        say(pamh, PAM_TEXT_INFO, t, NULL);
        free(t);
    }
    if (o.delay_ms > 0)
    {
        sleep_ms(o.delay_ms);
    }
    if (o.n_ask == 0)
    {
        const char *user = NULL;
        if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || !user)
        {
            return PAM_AUTH_ERR;
        }
        answers[n++] = strdup(user);
        if ((rc = say(pamh, PAM_PROMPT_ECHO_OFF, "Password: ", &answers[n])) != PAM_SUCCESS)
        {
            goto out;
        }
        n++;
    }
    for (int i = 0; i < o.n_ask; i++)
    {
        char *t = spaces(o.ask[i]);
        rc = say(pamh, o.echo_on[i] ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, t, &answers[n]);
        free(t);
        if (rc != PAM_SUCCESS)
        {
            goto out;
        }
        n++;
    }
    if (starts(answers[0], o.crashfor))
    {
        raise(SIGSEGV);
    }
    if (starts(answers[0], o.exitfor))
    {
        _exit(0); /* as exit(0), without the sanitizers' exit-time checks */
    }
    if (starts(answers[0], o.hangfor))
    {
        signal(SIGTERM, SIG_IGN);
        for (;;)
        {
            sleep_ms(1000);
        }
    }
    if (starts(answers[0], o.unavailfor))
    {
        rc = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (o.sleep_ms > 0 && (!o.sleepfor || starts(answers[0], o.sleepfor)))
    {
        sleep_ms(o.sleep_ms);
    }
    for (int i = 0; i < n; i++)
    {
        len += strlen(answers[i]) + 1;
    }
    joined = calloc(1, len);
    for (int i = 0; joined && i < n; i++)
    {
        if (i)
        {
            strcat(joined, "\t");
        }
        strcat(joined, answers[i]);
    }
    rc = joined && o.accept && accepted(o.accept, joined) ? PAM_SUCCESS : PAM_AUTH_ERR;
    if (rc == PAM_SUCCESS && o.nodump)
    {
        struct rlimit rl;
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 || getrlimit(RLIMIT_CORE, &rl) != 0 ||
            rl.rlim_cur != 0)
        {
            rc = PAM_AUTH_ERR;
        }
    }
    if (rc == PAM_SUCCESS && o.setuser)
    {
        pam_set_item(pamh, PAM_USER, o.setuser);
    }
    else if (rc == PAM_SUCCESS && n > 0 && o.n_ask > 0 && o.echo_on[0])
    {
        pam_set_item(pamh, PAM_USER, answers[0]);
    }

out:
    for (int i = 0; i < n + 1 && i <= MAX_ASK; i++)
    {
        free(answers[i]);
    }
    free(joined);
    return rc;
}

TEST_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}

TEST_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct opts o;
    (void)flags;

    parse(argc, argv, &o);
    if (o.acctuser)
    {
        pam_set_item(pamh, PAM_USER, o.acctuser);
    }
    if (!o.acct)
    {
        return PAM_SUCCESS;
    }
    if (o.acctmsg)
    {
        char *t = spaces(o.acctmsg);
        say(pamh, PAM_ERROR_MSG, t, NULL);
        free(t);
    }
    if (strcmp(o.acct, "expired") == 0)
    {
        return PAM_ACCT_EXPIRED;
    }
    if (strcmp(o.acct, "newtok") == 0)
    {
        return PAM_NEW_AUTHTOK_REQD;
    }
    if (strcmp(o.acct, "unavail") == 0)
    {
        return PAM_AUTHINFO_UNAVAIL;
    }
    return PAM_PERM_DENIED;
}

/* ccdefer.c: one deferred client-connect answer, shared by OpenVPN's thread and a backend. */
#include "ovpbuild.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccdefer.h"
#include "ccfg.h"
#include "defer.h"
#include "secret.h"
#include "util.h"

enum ccd_state
{
    CCD_PENDING = 0,
    CCD_DONE = 1,
};

/* Why an answer is not an allow, for the poll's log line. */
enum ccd_cause
{
    CCD_CAUSE_NONE = 0,
    CCD_CAUSE_VERDICT,  /* the backend said deny or temp */
    CCD_CAUSE_BADLINE,  /* a config line failed the check */
    CCD_CAUSE_NOMEM,    /* could not keep the answer */
    CCD_CAUSE_DEADLINE, /* no answer in time */
};

struct ovp_ccdefer
{
    pthread_mutex_t mu; /* guards everything below */
    unsigned refs;
    int state;   /* enum ccd_state */
    int verdict; /* enum ovp_verdict, once DONE */
    int cause;   /* enum ccd_cause, once DONE and not allowed */
    int logged;  /* the poll said the outcome once */
    size_t bad_line;
    struct ovp_ccfg ccfg; /* validated directives, once allowed */
    char reason[OVP_REASON_MAX];
    unsigned deadline_ms;
    uint64_t deadline_ns;
};

struct ovp_ccdefer *
ovp_ccdefer_new(unsigned deadline_ms)
{
    struct ovp_ccdefer *d = calloc(1, sizeof(*d));

    if (!d)
    {
        return NULL;
    }
    if (pthread_mutex_init(&d->mu, NULL) != 0)
    {
        free(d);
        return NULL;
    }
    d->refs = 1;
    d->state = CCD_PENDING;
    d->deadline_ms = deadline_ms ? deadline_ms : OVP_CCDEFER_DEADLINE_DEFAULT_MS;
    d->deadline_ns = ovp_now_ns() + (uint64_t)d->deadline_ms * 1000000u;
    return d;
}

struct ovp_ccdefer *
ovp_ccdefer_ref(struct ovp_ccdefer *d)
{
    if (d)
    {
        pthread_mutex_lock(&d->mu);
        d->refs++;
        pthread_mutex_unlock(&d->mu);
    }
    return d;
}

void
ovp_ccdefer_unref(struct ovp_ccdefer *d)
{
    int last;

    if (!d)
    {
        return;
    }
    pthread_mutex_lock(&d->mu);
    last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (!last)
    {
        return;
    }
    /* No other reference exists: nobody can lock the mutex any more. */
    pthread_mutex_destroy(&d->mu);
    if (d->ccfg.buf)
    {
        ovp_wipe(d->ccfg.buf, d->ccfg.len);
    }
    ovp_ccfg_clear(&d->ccfg);
    free(d);
}

/*
 * Checks and copies LINES into C, outside the mutex. Returns 0, or the 1-based
 * number of the first bad line, or (size_t)-1 when out of memory.
 */
static size_t
build_ccfg(struct ovp_ccfg *c, const char *lines)
{
    const char *p = lines;
    size_t no = 0;

    while (p && *p)
    {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line;
        int rc;

        no++;
        if (n == 0)
        {
            p = nl ? nl + 1 : p + n;
            continue;
        }
        if (n >= OVP_CCFG_MAX)
        {
            return no;
        }
        line = malloc(n + 1);
        if (!line)
        {
            return (size_t)-1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        /* A value that holds a CR, a control character or overflows the whole is refused. */
        rc = ovp_ccfg_add(c, line);
        ovp_wipe(line, n);
        free(line);
        if (rc != 0)
        {
            return no;
        }
        p = nl ? nl + 1 : p + n;
    }
    return 0;
}

void
ovp_ccdefer_finish(struct ovp_ccdefer *d, int verdict, const char *ccfg_lines,
                   const char *reason)
{
    struct ovp_ccfg c = {0};
    size_t bad = 0;
    int cause = CCD_CAUSE_NONE;

    if (!d)
    {
        return;
    }
    if (verdict != OVP_ALLOW && verdict != OVP_DENY)
    {
        verdict = OVP_TEMP; /* anything unknown is the backend's fault: fail closed */
    }
    if (verdict == OVP_ALLOW)
    {
        bad = build_ccfg(&c, ccfg_lines);
        if (bad == (size_t)-1)
        {
            cause = CCD_CAUSE_NOMEM;
            verdict = OVP_TEMP;
        }
        else if (bad)
        {
            cause = CCD_CAUSE_BADLINE;
            verdict = OVP_TEMP;
        }
    }
    else
    {
        cause = CCD_CAUSE_VERDICT;
    }

    pthread_mutex_lock(&d->mu);
    if (d->state == CCD_PENDING)
    {
        d->state = CCD_DONE;
        d->verdict = verdict;
        d->cause = cause;
        d->bad_line = bad == (size_t)-1 ? 0 : bad;
        snprintf(d->reason, sizeof(d->reason), "%s", reason ? reason : "");
        if (verdict == OVP_ALLOW)
        {
            d->ccfg = c; /* moved: the object owns it now */
            memset(&c, 0, sizeof(c));
        }
    }
    pthread_mutex_unlock(&d->mu);

    if (c.buf)
    {
        ovp_wipe(c.buf, c.len);
    }
    ovp_ccfg_clear(&c);
}

/* Marks D timed out when its deadline passed while pending. Called with the mutex held. */
static void
check_deadline(struct ovp_ccdefer *d)
{
    if (d->state == CCD_PENDING && ovp_now_ns() >= d->deadline_ns)
    {
        d->state = CCD_DONE;
        d->verdict = OVP_TEMP;
        d->cause = CCD_CAUSE_DEADLINE;
    }
}

int
ovp_ccdefer_answered(struct ovp_ccdefer *d)
{
    int answered;

    if (!d)
    {
        return 1;
    }
    pthread_mutex_lock(&d->mu);
    check_deadline(d);
    answered = d->state != CCD_PENDING;
    pthread_mutex_unlock(&d->mu);
    return answered;
}

int
ovp_ccdefer_poll(struct ovp_ccdefer *d, struct openvpn_plugin_string_list **return_list,
                 struct ovp_log *log, const struct ovp_client_id *who)
{
    int ret = OPENVPN_PLUGIN_FUNC_ERROR;
    int say;
    char line[OVP_REASON_MAX + 128];

    if (!d)
    {
        if (return_list)
        {
            *return_list = NULL;
        }
        return OPENVPN_PLUGIN_FUNC_SUCCESS;
    }

    line[0] = '\0';
    pthread_mutex_lock(&d->mu);
    check_deadline(d);
    if (d->state == CCD_PENDING)
    {
        pthread_mutex_unlock(&d->mu);
        return OPENVPN_PLUGIN_FUNC_DEFERRED;
    }
    say = !d->logged;
    d->logged = 1;
    if (d->verdict == OVP_ALLOW)
    {
        /* A fresh list each time: the host frees what it is given, even in a round it
         * ends up deferring for another plugin's sake. */
        if (!return_list || ovp_ccfg_to_list(&d->ccfg, return_list) == 0)
        {
            ret = OPENVPN_PLUGIN_FUNC_SUCCESS;
            if (say)
            {
                snprintf(line, sizeof(line), "client-connect allowed (%zu config line%s)",
                         d->ccfg.lines, d->ccfg.lines == 1 ? "" : "s");
            }
        }
        else
        {
            /* Said every time: each such poll fails the client anew. */
            snprintf(line, sizeof(line),
                     "client-connect refused: out of memory building the config list");
        }
    }
    else if (say)
    {
        const char *why = d->reason[0] ? d->reason : "no reason given";
        switch (d->cause)
        {
            case CCD_CAUSE_DEADLINE:
                snprintf(line, sizeof(line),
                         "client-connect timed out after %u ms: no answer from the backend",
                         d->deadline_ms);
                break;
            case CCD_CAUSE_BADLINE:
                snprintf(line, sizeof(line),
                         "client-connect refused: client config line %zu from the backend is "
                         "invalid (control character or too long)",
                         d->bad_line);
                break;
            case CCD_CAUSE_NOMEM:
                snprintf(line, sizeof(line),
                         "client-connect refused: out of memory keeping the client config");
                break;
            default:
                snprintf(line, sizeof(line), "client-connect %s: %s",
                         d->verdict == OVP_DENY ? "refused" : "failed (backend unavailable)",
                         why);
                break;
        }
    }
    pthread_mutex_unlock(&d->mu);

    if (line[0])
    {
        ovp_logf_client(log, who, ret == OPENVPN_PLUGIN_FUNC_SUCCESS ? PLOG_NOTE : PLOG_ERR,
                        "%s", line);
    }
    return ret;
}

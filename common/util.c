/* util.c: small helpers every unit and plugin shares: error buffers, clocks, threads. */
#include "ovpbuild.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "util.h"

void
ovp_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
    {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void
ovp_copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
    {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[i] = '\0';
}

uint64_t
ovp_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t
ovp_now_ms(void)
{
    return (int64_t)(ovp_now_ns() / 1000000u);
}

/* A thread that runs one function after another, parked in between. */
struct ovp_thread
{
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *(*fn)(void *);
    void *arg;
    void *ret;
    int state; /* CARRIER_* */
    struct ovp_thread *next;
};

#define CARRIER_IDLE 0
#define CARRIER_JOB  1
#define CARRIER_DONE 2

static pthread_mutex_t parked_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ovp_thread *parked;
static unsigned created;

/*
 * In a forked child only the forking thread exists: the parked threads' structs
 * were copied, their threads were not. Forget them (a child never joins them).
 */
static void
forget_parked_in_child(void)
{
    pthread_mutex_init(&parked_mu, NULL);
    parked = NULL;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_parked_in_child);
}

static void *
carrier_main(void *arg)
{
    struct ovp_thread *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;)
    {
        while (t->state != CARRIER_JOB)
        {
            pthread_cond_wait(&t->cv, &t->mu);
        }
        pthread_mutex_unlock(&t->mu);
        void *ret = t->fn(t->arg);
        pthread_mutex_lock(&t->mu);
        t->ret = ret;
        t->state = CARRIER_DONE;
        pthread_cond_broadcast(&t->cv);
    }
    return NULL;
}

int
ovp_thread_start(struct ovp_thread **out, void *(*fn)(void *), void *arg)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&parked_mu);
    struct ovp_thread *t = parked;
    if (t)
    {
        parked = t->next;
    }
    pthread_mutex_unlock(&parked_mu);
    if (!t)
    {
        t = calloc(1, sizeof(*t));
        if (!t)
        {
            return ENOMEM;
        }
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
        sigset_t all, old;
        sigfillset(&all);
        sigdelset(&all, SIGSEGV);
        sigdelset(&all, SIGBUS);
        sigdelset(&all, SIGFPE);
        sigdelset(&all, SIGILL);
        sigdelset(&all, SIGABRT);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&t->tid, NULL, carrier_main, t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0)
        {
            pthread_cond_destroy(&t->cv);
            pthread_mutex_destroy(&t->mu);
            free(t);
            return rc;
        }
        /* Why detached: it is never joined, only parked; process exit ends it. */
        pthread_detach(t->tid);
        pthread_mutex_lock(&parked_mu);
        created++;
        pthread_mutex_unlock(&parked_mu);
    }
    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    t->state = CARRIER_JOB;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    *out = t;
    return 0;
}

void *
ovp_thread_join(struct ovp_thread *t)
{
    if (!t)
    {
        return NULL;
    }
    pthread_mutex_lock(&t->mu);
    while (t->state != CARRIER_DONE)
    {
        pthread_cond_wait(&t->cv, &t->mu);
    }
    void *ret = t->ret;
    t->state = CARRIER_IDLE;
    t->fn = NULL;
    t->arg = NULL;
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_lock(&parked_mu);
    t->next = parked;
    parked = t;
    pthread_mutex_unlock(&parked_mu);
    return ret;
}

unsigned
ovp_thread_created(void)
{
    pthread_mutex_lock(&parked_mu);
    unsigned n = created;
    pthread_mutex_unlock(&parked_mu);
    return n;
}

/* test_defer.c: unit tests for common/defer.c (workers, deadline, queue, close, answer files). */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "defer.h"
#include "fakehost.h"
#include "log.h"

#define PASSWORD "s3cr3t-PASSWORD-xyzzy"
#define MAXREQ   256

/* ------------------------------------------------------------ fixture */

struct files
{
    char ctl[128], reason[128], pending[128];
};

static char tdir[64];
static struct ovp_log *tlog;
static unsigned nfiles;
static struct files files[MAXREQ];

/* free_data bookkeeping: every request's data must be freed once, after the wipe. */
static int data_freed, data_wiped, data_not_wiped;

struct tdata
{
    struct ovp_defer_req *req;
    size_t pwlen;
};

static void
tdata_free(void *p)
{
    struct tdata *t = p;
    int wiped = 1;
    /* ovp_defer_req_free wipes the password before calling free_data: check it. */
    for (size_t i = 0; i < t->pwlen; i++)
    {
        if (t->req->password[i] != '\0')
        {
            wiped = 0;
        }
    }
    __atomic_add_fetch(wiped ? &data_wiped : &data_not_wiped, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&data_freed, 1, __ATOMIC_SEQ_CST);
    free(t);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tdir, sizeof(tdir), "/tmp/ovp-test-defer-XXXXXX");
    if (!mkdtemp(tdir))
    {
        return -1;
    }
    nfiles = 0;
    data_freed = data_wiped = data_not_wiped = 0;
    fakehost_reset();
    tlog = ovp_log_new("ovp-test", fakehost_vlog, 4, 1024);
    return tlog ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    ovp_log_free(tlog);
    tlog = NULL;
    for (unsigned i = 0; i < nfiles; i++)
    {
        unlink(files[i].ctl);
        unlink(files[i].reason);
        unlink(files[i].pending);
    }
    rmdir(tdir);
    return 0;
}

static void
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

/* Creates the three files OpenVPN would create for one auth call. Returns the index. */
static unsigned
new_files(void)
{
    assert_true(nfiles < MAXREQ);
    struct files *f = &files[nfiles];
    snprintf(f->ctl, sizeof(f->ctl), "%s/acf-%u", tdir, nfiles);
    snprintf(f->reason, sizeof(f->reason), "%s/afr-%u", tdir, nfiles);
    snprintf(f->pending, sizeof(f->pending), "%s/apf-%u", tdir, nfiles);
    touch(f->ctl);
    touch(f->reason);
    touch(f->pending);
    return nfiles++;
}

/* A request for the files of index I, as an AUTH_USER_PASS_VERIFY call would give it. */
static struct ovp_defer_req *
req_at(unsigned i)
{
    char user[64], ctl[160], reason[160], pending[160];
    snprintf(user, sizeof(user), "username=user%u", i);
    snprintf(ctl, sizeof(ctl), "auth_control_file=%s", files[i].ctl);
    snprintf(reason, sizeof(reason), "auth_failed_reason_file=%s", files[i].reason);
    snprintf(pending, sizeof(pending), "auth_pending_file=%s", files[i].pending);
    const char *envp[] = {user,
                          "password=" PASSWORD,
                          "common_name=client.example",
                          "untrusted_ip=192.0.2.7",
                          "untrusted_port=41000",
                          ctl,
                          reason,
                          pending,
                          NULL};
    char err[256] = "";
    struct ovp_defer_req *r = ovp_defer_req_from_env(envp, err, sizeof(err));
    assert_non_null(r);
    struct tdata *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->req = r;
    t->pwlen = strlen(r->password);
    r->data = t;
    r->free_data = tdata_free;
    return r;
}

/* A request with fresh files, with tracked data. */
static struct ovp_defer_req *
new_req(unsigned *idx)
{
    unsigned i = new_files();
    if (idx)
    {
        *idx = i;
    }
    return req_at(i);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reads a whole (small) file into BUF; "" when missing. */
static const char *
slurp(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
    {
        return buf;
    }
    ssize_t n = read(fd, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    return buf;
}

/* Waits (draining the log, as the host would) until request I's control file is set. */
static char
wait_answer(unsigned i, unsigned timeout_ms)
{
    char buf[8];
    uint64_t until = now_ms() + timeout_ms;
    while (now_ms() < until)
    {
        ovp_log_drain(tlog);
        if (slurp(files[i].ctl, buf, sizeof(buf))[0])
        {
            return buf[0];
        }
        sleep_ms(1);
    }
    return '\0';
}

static void
wait_pending(struct ovp_defer *d, unsigned long pending, unsigned timeout_ms)
{
    struct ovp_defer_stats st;
    uint64_t until = now_ms() + timeout_ms;
    do
    {
        ovp_log_drain(tlog);
        ovp_defer_get_stats(d, &st);
        if (st.pending == pending)
        {
            return;
        }
        sleep_ms(1);
    } while (now_ms() < until);
    fail_msg("pending stayed at %lu, expected %lu", st.pending, pending);
}

static const char *
reason_of(unsigned i)
{
    static char buf[OVP_REASON_MAX + 8];
    return slurp(files[i].reason, buf, sizeof(buf));
}

/* What every test checks at its end: host-thread logging only, no password in logs. */
static void
check_hygiene(void)
{
    ovp_log_drain(tlog);
    assert_int_equal(fakehost_foreign_calls(), 0);
    assert_int_equal(fakehost_find("s3cr3t"), -1);
    assert_int_equal(data_not_wiped, 0);
}

/* ------------------------------------------------------------ backend */

struct backend
{
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int verdict;
    char reason[OVP_REASON_MAX];
    int block; /* run waits until released or cancelled */
    int released;
    int cancelled;
    unsigned cancel_calls;
    unsigned runs, running;
    unsigned pw_ok;
    int fill_nothing;
};

static void
backend_init(struct backend *b, int verdict, const char *reason)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->verdict = verdict;
    snprintf(b->reason, sizeof(b->reason), "%s", reason ? reason : "");
}

static void
backend_destroy(struct backend *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void
backend_run(void *state, struct ovp_defer_req *req, struct ovp_defer_result *res)
{
    struct backend *b = state;
    pthread_mutex_lock(&b->mu);
    b->runs++;
    b->running++;
    if (strcmp(req->password, PASSWORD) == 0)
    {
        b->pw_ok++;
    }
    pthread_cond_broadcast(&b->cv);
    while (b->block && !b->released && !b->cancelled)
    {
        pthread_cond_wait(&b->cv, &b->mu);
    }
    b->running--;
    int verdict = b->verdict;
    int nothing = b->fill_nothing;
    pthread_mutex_unlock(&b->mu);

    /* A worker may log: the line must be queued, not sent to the host from here. */
    ovp_logf_client(tlog, &req->who, PLOG_NOTE, "backend ran for %s", req->username);
    if (!nothing)
    {
        res->verdict = verdict;
        snprintf(res->reason, sizeof(res->reason), "%s", b->reason);
    }
}

static void
backend_cancel(void *state)
{
    struct backend *b = state;
    pthread_mutex_lock(&b->mu);
    b->cancelled = 1;
    b->cancel_calls++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void
backend_release(struct backend *b)
{
    pthread_mutex_lock(&b->mu);
    b->released = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void
wait_running(struct backend *b, unsigned n)
{
    uint64_t until = now_ms() + 3000;
    pthread_mutex_lock(&b->mu);
    while (b->running < n && now_ms() < until)
    {
        pthread_mutex_unlock(&b->mu);
        sleep_ms(1);
        pthread_mutex_lock(&b->mu);
    }
    unsigned running = b->running;
    pthread_mutex_unlock(&b->mu);
    assert_int_equal(running, n);
}

static const struct ovp_defer_ops backend_ops = {backend_run, backend_cancel};

static struct ovp_defer *
engine(struct backend *b, unsigned workers, unsigned queue_max, unsigned deadline_ms)
{
    struct ovp_defer_conf conf = {workers, queue_max, deadline_ms, "TestBackend"};
    char err[256] = "";
    struct ovp_defer *d = ovp_defer_new(&conf, &backend_ops, b, tlog, err, sizeof(err));
    if (!d)
    {
        fail_msg("ovp_defer_new: %s", err);
    }
    return d;
}

/* ------------------------------------------------------- worker verdicts */

static void
worker__allow_writes_1_and_no_reason(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "ignored for allow");
    struct ovp_defer *d = engine(&b, 2, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '1');
    wait_pending(d, 0, 3000);
    assert_string_equal(reason_of(i), "");
    assert_true(fakehost_find("[client.example@192.0.2.7:41000] authentication succeeded (") >=
                0);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.denied + st.temp + st.timed_out + st.rejected + st.cancelled, 0);
    assert_int_equal(b.pw_ok, 1);

    ovp_defer_close(d);
    assert_int_equal(b.cancel_calls, 1);
    assert_int_equal(data_freed, 1);
    assert_int_equal(data_wiped, 1);
    check_hygiene();
    backend_destroy(&b);
}

static void
worker__deny_writes_reason_and_0(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_DENY, "wrong password");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "wrong password");
    wait_pending(d, 0, 3000);
    assert_true(fakehost_find("authentication failed: wrong password (") >= 0);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.denied, 1);
    assert_int_equal(st.allowed, 0);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
worker__deny_with_empty_reason_gets_generic_one(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    backend_init(&b, OVP_DENY, "");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "authentication failed");
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
worker__temp_reason_is_made_to_start_with_temp(void **state)
{
    (void)state;
    struct backend b;
    unsigned i, j;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_TEMP, "directory unreachable");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "TEMP: directory unreachable");
    wait_pending(d, 0, 3000);
    assert_true(fakehost_find("temporary failure: directory unreachable (") >= 0);

    /* A reason that already starts with TEMP is kept as it is. */
    pthread_mutex_lock(&b.mu);
    snprintf(b.reason, sizeof(b.reason), "TEMP[backoff 30]: busy");
    pthread_mutex_unlock(&b.mu);
    assert_int_equal(ovp_defer_submit(d, new_req(&j)), 0);
    assert_int_equal(wait_answer(j, 3000), '0');
    assert_string_equal(reason_of(j), "TEMP[backoff 30]: busy");
    wait_pending(d, 0, 3000);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.temp, 2);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
worker__result_left_unfilled_is_temp(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    backend_init(&b, OVP_ALLOW, "");
    b.fill_nothing = 1;
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "TEMP: TestBackend is unavailable, try again");
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
worker__control_characters_in_reason_are_replaced(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    backend_init(&b, OVP_DENY, "locked\nINJECTED line\r");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "locked INJECTED line ");
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
worker__log_lines_reach_host_only_at_drain(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    uint64_t until = now_ms() + 3000;
    do
    {
        sleep_ms(1);
        ovp_defer_get_stats(d, &st); /* no drain here, on purpose */
    } while (st.pending > 0 && now_ms() < until);
    assert_int_equal(st.pending, 0);
    assert_int_equal(fakehost_count(), 0);
    assert_true(ovp_log_drain(tlog) >= 2);
    int ran = fakehost_find("backend ran for user");
    int ok = fakehost_find("authentication succeeded");
    assert_true(ran >= 0);
    assert_true(ok > ran);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

/* ------------------------------------------------------- answer files */

static void
answer__reason_file_is_complete_before_control_file(void **state)
{
    (void)state;
    enum
    {
        N = 120
    };
    struct backend b;
    unsigned idx[N];
    int seen[N] = {0};
    unsigned nseen = 0, checks = 0;
    char expect[OVP_REASON_MAX];
    backend_init(&b, OVP_DENY, "account locked by the directory");
    struct ovp_defer *d = engine(&b, 2, N, 10000);
    snprintf(expect, sizeof(expect), "%s", b.reason);

    for (unsigned k = 0; k < N; k++)
    {
        assert_int_equal(ovp_defer_submit(d, new_req(&idx[k])), 0);
    }
    /* Poll from a third thread: whenever a control file has its byte, the reason is whole. */
    uint64_t until = now_ms() + 5000;
    while (nseen < N && now_ms() < until)
    {
        for (unsigned k = 0; k < N; k++)
        {
            char c[8];
            if (seen[k] || !slurp(files[idx[k]].ctl, c, sizeof(c))[0])
            {
                continue;
            }
            assert_string_equal(reason_of(idx[k]), expect);
            assert_int_equal(c[0], '0');
            seen[k] = 1;
            nseen++;
            checks++;
        }
        ovp_log_drain(tlog);
    }
    assert_int_equal(nseen, N);
    assert_int_equal(checks, N);
    ovp_defer_close(d);
    assert_int_equal(data_freed, N);
    check_hygiene();
    backend_destroy(&b);
}

static void
answer__control_file_waits_until_reason_is_written(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    char buf[64];
    backend_init(&b, OVP_DENY, "locked");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    /*
     * Make the reason write observable: with a FIFO as the reason file, the
     * writer blocks in open() until we read. Meanwhile the control file must stay
     * empty; it gets its byte only after the reason went through.
     */
    struct ovp_defer_req *r = new_req(&i);
    unlink(files[i].reason);
    assert_int_equal(mkfifo(files[i].reason, 0600), 0);
    assert_int_equal(ovp_defer_submit(d, r), 0);
    sleep_ms(100);
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "");

    int fd = open(files[i].reason, O_RDONLY);
    assert_true(fd >= 0);
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
    {
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    assert_string_equal(buf, "locked");
    assert_int_equal(wait_answer(i, 3000), '0');
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
write_answer__missing_reason_file_still_writes_control(void **state)
{
    (void)state;
    unsigned i = new_files();
    char err[256] = "";
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/no-such-reason-file", tdir);

    /* The deny still reaches OpenVPN (no hanging client), but the caller hears of it. */
    assert_int_equal(ovp_auth_write_answer(files[i].ctl, bad, 0, "locked", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no-such-reason-file"));
    assert_non_null(strstr(err, "control file written"));
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");
    /* And the missing file was not created. */
    assert_int_equal(access(bad, F_OK), -1);
}

static void
write_answer__missing_control_file_fails_and_creates_nothing(void **state)
{
    (void)state;
    unsigned i = new_files();
    char err[256] = "";
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/no-such-control-file", tdir);

    assert_int_equal(ovp_auth_write_answer(bad, files[i].reason, 0, "locked", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no-such-control-file"));
    assert_int_equal(access(bad, F_OK), -1);
    assert_int_equal(ovp_auth_write_answer(NULL, NULL, 1, NULL, err, sizeof(err)), -1);
}

static void
write_answer__allow_and_deny_bytes_and_truncated_reason(void **state)
{
    (void)state;
    unsigned i = new_files();
    char err[256] = "";
    char buf[64];
    int fd = open(files[i].reason, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "an old and much longer reason text", 34), 34);
    close(fd);

    assert_int_equal(
        ovp_auth_write_answer(files[i].ctl, files[i].reason, 0, "short", err, sizeof(err)), 0);
    assert_string_equal(slurp(files[i].reason, buf, sizeof(buf)), "short");
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");

    unsigned j = new_files();
    assert_int_equal(
        ovp_auth_write_answer(files[j].ctl, files[j].reason, 1, NULL, err, sizeof(err)), 0);
    assert_string_equal(slurp(files[j].ctl, buf, sizeof(buf)), "1");
    assert_string_equal(slurp(files[j].reason, buf, sizeof(buf)), "");
}

static void
write_reason__needs_a_file_and_cleans_text(void **state)
{
    (void)state;
    unsigned i = new_files();
    char err[256] = "";
    char buf[64];
    assert_int_equal(ovp_auth_write_reason(NULL, "x", err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(ovp_auth_write_reason(files[i].reason, "TEMP: a\nb", err, sizeof(err)), 0);
    assert_string_equal(slurp(files[i].reason, buf, sizeof(buf)), "TEMP: a b");
}

static void
write_pending__three_lines(void **state)
{
    (void)state;
    unsigned i = new_files();
    char err[256] = "";
    char buf[128];
    assert_int_equal(ovp_auth_write_pending(files[i].pending, 120, "crtext",
                                            "CR_TEXT:E,R:Enter your code", err, sizeof(err)),
                     0);
    assert_string_equal(slurp(files[i].pending, buf, sizeof(buf)),
                        "120\ncrtext\nCR_TEXT:E,R:Enter your code\n");

    /* A newline in the text would shift OpenVPN's lines: refused, file untouched. */
    assert_int_equal(ovp_auth_write_pending(files[i].pending, 60, "crtext", "CR_TEXT:E:a\nb",
                                            err, sizeof(err)),
                     -1);
    assert_string_equal(slurp(files[i].pending, buf, sizeof(buf)),
                        "120\ncrtext\nCR_TEXT:E,R:Enter your code\n");
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/no-such-pending", tdir);
    assert_int_equal(ovp_auth_write_pending(bad, 60, "crtext", "CR_TEXT:E:x", err, sizeof(err)),
                     -1);
    assert_int_equal(access(bad, F_OK), -1);
    assert_int_equal(
        ovp_auth_write_pending(NULL, 60, "crtext", "CR_TEXT:E:x", err, sizeof(err)), -1);
}

static void
write_pending__replaces_longer_content(void **state)
{
    (void)state;
    unsigned i = new_files();
    char err[256] = "";
    char buf[256];
    int fd = open(files[i].pending, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "9999\nwebauth\nWEB_AUTH::https://example.org/a/long/url\n", 52),
                     52);
    close(fd);

    assert_int_equal(ovp_auth_write_pending(files[i].pending, 130, "crtext", "CR_TEXT:R:Code",
                                            err, sizeof(err)),
                     0);
    assert_string_equal(slurp(files[i].pending, buf, sizeof(buf)),
                        "130\ncrtext\nCR_TEXT:R:Code\n");
}

/* ------------------------------------------------------------ deadline */

static void
deadline__stuck_run_is_answered_temp_and_late_result_ignored(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 8, 150);

    uint64_t t0 = now_ms();
    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    wait_running(&b, 1);
    assert_int_equal(wait_answer(i, 3000), '0');
    uint64_t took = now_ms() - t0;
    assert_true(took >= 140);
    assert_true(took < 2000);
    assert_string_equal(reason_of(i), "TEMP: TestBackend did not answer in 150 ms");
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.pending, 1); /* the worker still holds it */
    assert_int_equal(data_freed, 0);

    /* The backend answers ALLOW after the deadline: ignored, only freed. */
    backend_release(&b);
    wait_pending(d, 0, 3000);
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");
    assert_string_equal(reason_of(i), "TEMP: TestBackend did not answer in 150 ms");
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.allowed, 0);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(data_freed, 1);
    assert_true(fakehost_find("temporary failure: TestBackend did not answer in 150 ms") >= 0);
    assert_int_equal(fakehost_find("authentication succeeded"), -1);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
deadline__queued_request_is_answered_and_never_run(void **state)
{
    (void)state;
    struct backend b;
    unsigned i, j;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 8, 100);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    wait_running(&b, 1);
    assert_int_equal(ovp_defer_submit(d, new_req(&j)), 0); /* waits behind the stuck one */
    assert_int_equal(wait_answer(j, 3000), '0');
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(j), "TEMP: TestBackend did not answer in 100 ms");
    /* The queued one is gone at once; the held one waits for its worker. */
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.timed_out, 2);
    assert_int_equal(st.pending, 1);
    assert_int_equal(data_freed, 1);

    backend_release(&b);
    wait_pending(d, 0, 3000);
    sleep_ms(20);
    assert_int_equal(b.runs, 1);
    ovp_defer_close(d);
    assert_int_equal(data_freed, 2);
    check_hygiene();
    backend_destroy(&b);
}

static void
deadline__whole_second_is_said_in_seconds(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 0, 8, 1000); /* event-driven, nobody takes */

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "TEMP: TestBackend did not answer in 1 s");
    wait_pending(d, 0, 1000);
    ovp_defer_close(d);
    assert_int_equal(data_freed, 1);
    check_hygiene();
    backend_destroy(&b);
}

static void
deadline__request_deadline_overrides_the_engines(void **state)
{
    (void)state;
    struct backend b;
    unsigned i, j;
    char buf[8];
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, 8, 100); /* event-driven, nobody takes */

    /* The long one first: the short one behind it must not wait for it. */
    struct ovp_defer_req *longer = new_req(&i);
    longer->deadline_ms = 700;
    uint64_t t0 = now_ms();
    assert_int_equal(ovp_defer_submit(d, longer), 0);
    assert_int_equal(ovp_defer_submit(d, new_req(&j)), 0);

    assert_int_equal(wait_answer(j, 3000), '0');
    assert_true(now_ms() - t0 < 600);
    assert_string_equal(reason_of(j), "TEMP: TestBackend did not answer in 100 ms");
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "");

    assert_int_equal(wait_answer(i, 3000), '0');
    uint64_t took = now_ms() - t0;
    assert_true(took >= 690);
    assert_true(took < 2500);
    assert_string_equal(reason_of(i), "TEMP: TestBackend did not answer in 700 ms");
    wait_pending(d, 0, 1000);
    ovp_defer_close(d);
    assert_int_equal(data_freed, 2);
    check_hygiene();
    backend_destroy(&b);
}

static void
deadline__mixed_deadlines_fire_in_deadline_order(void **state)
{
    (void)state;
    enum
    {
        N = 24,
        FINISHED = 5
    };
    struct backend b;
    struct ovp_defer_req *reqs[N];
    unsigned idx[N], ms[N];
    struct timespec mtime[N];
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, N, 5000);

    /* Distinct deadlines 15 ms apart, in a scrambled submit order. */
    for (unsigned k = 0; k < N; k++)
    {
        reqs[k] = new_req(&idx[k]);
        ms[k] = 60 + ((k * 7) % N) * 15;
        reqs[k]->deadline_ms = ms[k];
    }
    for (unsigned k = 0; k < N; k++)
    {
        assert_int_equal(ovp_defer_submit(d, reqs[k]), 0);
    }
    /* The oldest ones are answered by their holder: removed from the middle of the heap. */
    for (unsigned k = 0; k < FINISHED; k++)
    {
        struct ovp_defer_req *r = ovp_defer_take(d, 1000);
        assert_non_null(r);
        ovp_defer_finish(d, r, OVP_ALLOW, NULL);
    }
    for (unsigned k = 0; k < N; k++)
    {
        struct stat sb;
        assert_int_equal(wait_answer(idx[k], 3000), k < FINISHED ? '1' : '0');
        assert_int_equal(stat(files[idx[k]].ctl, &sb), 0);
        mtime[k] = sb.st_mtim;
    }
    for (unsigned k = FINISHED; k < N; k++)
    {
        char want[OVP_REASON_MAX];
        snprintf(want, sizeof(want), "TEMP: TestBackend did not answer in %u ms", ms[k]);
        assert_string_equal(reason_of(idx[k]), want);
        /* The deadline thread writes in heap order: an earlier deadline is never later. */
        for (unsigned m = FINISHED; m < N; m++)
        {
            if (ms[k] < ms[m])
            {
                assert_true(mtime[k].tv_sec < mtime[m].tv_sec ||
                            (mtime[k].tv_sec == mtime[m].tv_sec &&
                             mtime[k].tv_nsec <= mtime[m].tv_nsec));
            }
        }
    }
    struct ovp_defer_stats st;
    wait_pending(d, 0, 1000);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.allowed, FINISHED);
    assert_int_equal(st.timed_out, N - FINISHED);
    ovp_defer_close(d);
    assert_int_equal(data_freed, N);
    check_hygiene();
    backend_destroy(&b);
}

/* -------------------------------------------------------------- queue */

static void
queue__overflow_fails_fast_with_temp(void **state)
{
    (void)state;
    struct backend b;
    unsigned i1, i2, i3;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 2, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i1)), 0);
    assert_int_equal(ovp_defer_submit(d, new_req(&i2)), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(ovp_defer_submit(d, new_req(&i3)), -1);
    assert_true(now_ms() - t0 < 100);
    assert_string_equal(reason_of(i3),
                        "TEMP: too many TestBackend authentications in progress, try again");
    char buf[8];
    assert_string_equal(slurp(files[i3].ctl, buf, sizeof(buf)), ""); /* the hook says ERROR */
    assert_int_equal(data_freed, 1);
    assert_true(fakehost_find("[client.example@192.0.2.7:41000] authentication refused: "
                              "too many TestBackend") >= 0);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.submitted, 2);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.pending, 2);

    ovp_defer_close(d);
    assert_string_equal(reason_of(i1), "TEMP: server is reloading, try again");
    assert_string_equal(reason_of(i2), "TEMP: server is reloading, try again");
    assert_int_equal(data_freed, 3);
    check_hygiene();
    backend_destroy(&b);
}

static void
submit__bad_arguments_free_and_fail(void **state)
{
    (void)state;
    unsigned i;
    assert_int_equal(ovp_defer_submit(NULL, new_req(&i)), -1);
    assert_int_equal(data_freed, 1);
    assert_int_equal(ovp_defer_submit(NULL, NULL), -1);
    ovp_defer_req_free(new_req(NULL));
    ovp_defer_req_free(NULL);
    assert_int_equal(data_freed, 2);
    assert_int_equal(data_wiped, 2);
    ovp_defer_close(NULL);
    ovp_defer_finish(NULL, NULL, OVP_ALLOW, NULL);
    assert_null(ovp_defer_take(NULL, 0));
    assert_int_equal(ovp_defer_req_answered(NULL), 0);
}

static void
new__invalid_settings_are_refused(void **state)
{
    (void)state;
    char err[256] = "";
    struct ovp_defer_ops noop = {NULL, NULL};
    struct ovp_defer_conf zero_queue = {1, 0, 1000, "X"};
    struct ovp_defer_conf no_run = {2, 10, 1000, "X"};
    struct ovp_defer_conf zero_deadline = {0, 10, 0, "X"};
    assert_null(ovp_defer_new(&zero_queue, &backend_ops, NULL, tlog, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_null(ovp_defer_new(&no_run, &noop, NULL, tlog, err, sizeof(err)));
    assert_null(ovp_defer_new(&zero_deadline, &noop, NULL, tlog, err, sizeof(err)));
    assert_null(ovp_defer_new(NULL, &noop, NULL, tlog, err, sizeof(err)));
}

/* -------------------------------------------------------------- close */

static void
close__in_flight_and_queued_are_answered_temp_and_cancel_called(void **state)
{
    (void)state;
    struct backend b;
    unsigned idx[5];
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1; /* run returns only when cancel is called */
    struct ovp_defer *d = engine(&b, 2, 16, 10000);

    for (unsigned k = 0; k < 5; k++)
    {
        assert_int_equal(ovp_defer_submit(d, new_req(&idx[k])), 0);
    }
    wait_running(&b, 2);
    uint64_t t0 = now_ms();
    ovp_defer_close(d);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(b.cancel_calls, 1);
    assert_int_equal(b.runs, 2); /* the queued three never ran */
    for (unsigned k = 0; k < 5; k++)
    {
        char buf[8];
        assert_string_equal(slurp(files[idx[k]].ctl, buf, sizeof(buf)), "0");
        assert_string_equal(reason_of(idx[k]), "TEMP: server is reloading, try again");
    }
    assert_int_equal(data_freed, 5);
    ovp_log_drain(tlog);
    assert_true(fakehost_find("temporary failure: server is reloading, try again") >= 0);
    assert_int_equal(fakehost_find("authentication succeeded"), -1);
    check_hygiene();
    backend_destroy(&b);
}

static void
close__twice_on_fresh_engines(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++)
    {
        struct backend b;
        unsigned i, j;
        backend_init(&b, OVP_DENY, "no");
        struct ovp_defer *d = engine(&b, 3, 8, 5000);
        assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
        assert_int_equal(wait_answer(i, 3000), '0');
        pthread_mutex_lock(&b.mu);
        b.block = 1;
        pthread_mutex_unlock(&b.mu);
        assert_int_equal(ovp_defer_submit(d, new_req(&j)), 0);
        wait_running(&b, 1);
        ovp_defer_close(d);
        assert_int_equal(b.cancel_calls, 1);
        assert_string_equal(reason_of(j), "TEMP: server is reloading, try again");
        backend_destroy(&b);
    }
    assert_int_equal(data_freed, 4);
    check_hygiene();
}

/* ------------------------------------------------------------ inline wait */

/* Waits until WANT requests' data were freed (or TIMEOUT_MS passed); the count. */
static int
wait_freed(int want, unsigned timeout_ms)
{
    uint64_t until = now_ms() + timeout_ms;
    int n;
    while ((n = __atomic_load_n(&data_freed, __ATOMIC_SEQ_CST)) < want && now_ms() < until)
    {
        sleep_ms(1);
    }
    /* A second free would show up here too. */
    return __atomic_load_n(&data_freed, __ATOMIC_SEQ_CST);
}

/* Host log lines that contain NEEDLE. */
static int
lines_with(const char *needle)
{
    int n = 0;
    for (size_t k = 0; k < fakehost_count(); k++)
    {
        n += strstr(fakehost_text(k), needle) != NULL;
    }
    return n;
}

/* Bytes in PATH (-1: missing). */
static long
file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void
inline__fast_allow_is_answered_inline_without_control_file(void **state)
{
    (void)state;
    struct backend b;
    struct ovp_defer_stats st;
    unsigned i;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 10000, NULL, NULL),
                     OVP_DEFER_ALLOWED);
    /* The request is freed before the call returns; nothing is left for OpenVPN to poll. */
    assert_int_equal(data_freed, 1);
    assert_int_equal(file_size(files[i].ctl), 0);
    assert_int_equal(file_size(files[i].reason), 0);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.answered_inline, 1);
    assert_int_equal(st.pending, 0);
    ovp_log_drain(tlog);
    assert_true(fakehost_find("authentication succeeded") >= 0);
    assert_true(fakehost_find("192.0.2.7") >= 0);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
inline__fast_deny_writes_reason_only_and_logs_one_line(void **state)
{
    (void)state;
    struct backend b;
    struct ovp_defer_stats st;
    unsigned i, j;
    backend_init(&b, OVP_DENY, "authentication failed: wrong password");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 10000, NULL, NULL),
                     OVP_DEFER_REFUSED);
    assert_int_equal(file_size(files[i].ctl), 0);
    assert_string_equal(reason_of(i), "authentication failed: wrong password");
    ovp_log_drain(tlog);
    assert_true(fakehost_find("authentication failed: wrong password") >= 0);
    assert_int_equal(lines_with("authentication failed"), 1);

    /* TEMP keeps its prefix, as on the deferred path. */
    b.verdict = OVP_TEMP;
    snprintf(b.reason, sizeof(b.reason), "directory busy");
    assert_int_equal(ovp_defer_submit_wait(d, new_req(&j), 10000, NULL, NULL),
                     OVP_DEFER_REFUSED);
    assert_int_equal(file_size(files[j].ctl), 0);
    assert_string_equal(reason_of(j), "TEMP: directory busy");
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.denied, 1);
    assert_int_equal(st.temp, 1);
    assert_int_equal(st.answered_inline, 2);
    assert_int_equal(data_freed, 2);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
inline__slow_backend_is_deferred_and_answered_through_the_control_file(void **state)
{
    (void)state;
    struct backend b;
    struct ovp_defer_stats st;
    unsigned i;
    backend_init(&b, OVP_DENY, "too late for inline");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    uint64_t t0 = now_ms();
    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 2000, NULL, NULL), OVP_DEFER_QUEUED);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(data_freed, 0);
    assert_int_equal(file_size(files[i].ctl), 0);
    backend_release(&b);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_string_equal(reason_of(i), "too late for inline");
    wait_pending(d, 0, 3000);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.denied, 1);
    assert_int_equal(st.answered_inline, 0);
    assert_int_equal(wait_freed(1, 3000), 1);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static int wake_calls;

static void
count_wake(void *arg)
{
    (void)arg;
    wake_calls++;
}

static void
inline__zero_wait_is_a_plain_submit_and_wakes(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    wake_calls = 0;
    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 0, count_wake, NULL),
                     OVP_DEFER_QUEUED);
    assert_int_equal(wake_calls, 1);
    assert_int_equal(wait_answer(i, 3000), '1');
    wait_pending(d, 0, 3000);
    ovp_defer_close(d);
    assert_int_equal(data_freed, 1);
    check_hygiene();
    backend_destroy(&b);
}

static void
inline__wait_is_capped(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 8, 5000);

    uint64_t t0 = now_ms();
    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 5000000, NULL, NULL),
                     OVP_DEFER_QUEUED);
    assert_true(now_ms() - t0 < 500); /* 10 ms, with room for a loaded machine */
    backend_release(&b);
    assert_int_equal(wait_answer(i, 3000), '1');
    ovp_defer_close(d);
    assert_int_equal(data_freed, 1);
    check_hygiene();
    backend_destroy(&b);
}

static void
inline__full_queue_is_rejected_with_temp(void **state)
{
    (void)state;
    struct backend b;
    unsigned i, j;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 1, 5000);

    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 200, NULL, NULL), OVP_DEFER_QUEUED);
    assert_int_equal(ovp_defer_submit_wait(d, new_req(&j), 200, NULL, NULL),
                     OVP_DEFER_REJECTED);
    assert_non_null(strstr(reason_of(j), "TEMP"));
    assert_int_equal(file_size(files[j].ctl), 0);
    backend_release(&b);
    assert_int_equal(wait_answer(i, 3000), '1');
    ovp_defer_close(d);
    assert_int_equal(data_freed, 2);
    check_hygiene();
    backend_destroy(&b);
}

/* No backend takes it: the request's own deadline answers during the wait. */
static void
inline__deadline_during_the_wait_answers_through_the_control_file(void **state)
{
    (void)state;
    struct backend b;
    struct ovp_defer_stats st;
    unsigned i;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, 8, 5000);
    struct ovp_defer_req *r = new_req(&i);
    r->deadline_ms = 2;

    assert_int_equal(ovp_defer_submit_wait(d, r, 10000, NULL, NULL), OVP_DEFER_QUEUED);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_non_null(strstr(reason_of(i), "TEMP: TestBackend did not answer in 2 ms"));
    wait_pending(d, 0, 3000);
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.answered_inline, 0);
    assert_int_equal(wait_freed(1, 3000), 1);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

/*
 * The handover race: a backend thread answers at about the moment the inline wait
 * ends, before, at or after it. Whatever the timing, every request is answered
 * exactly once, either inline (no control file) or deferred (control file), and
 * freed once; the counters add up.
 */
struct racer
{
    struct ovp_defer *d;
    pthread_t t;
    int stop;
    long offset_ns; /* answer this long after submit (set per round) */
    unsigned served;
};

static uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
racer_main(void *p)
{
    struct racer *k = p;
    while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE))
    {
        struct ovp_defer_req *r = ovp_defer_take(k->d, 20);
        if (!r)
        {
            continue;
        }
        long off = __atomic_load_n(&k->offset_ns, __ATOMIC_ACQUIRE);
        uint64_t at = r->submitted_ns + (uint64_t)(off > 0 ? off : 0);
        while (mono_ns() < at)
        {
            /* spin: a sleep's granularity would blur the moment */
        }
        ovp_defer_finish(k->d, r, (r->id % 2) ? OVP_ALLOW : OVP_DENY, "odd one out");
        k->served++;
    }
    return NULL;
}

static void
racer_cancel(void *state)
{
    struct racer *k = state;
    __atomic_store_n(&k->stop, 1, __ATOMIC_RELEASE);
    pthread_join(k->t, NULL);
}

static void
inline__answer_at_the_deadline_is_answered_exactly_once(void **state)
{
    (void)state;
    enum
    {
        ROUNDS = 3000,
        WAIT_US = 200
    };
    struct racer k = {0};
    struct ovp_defer_ops ops = {NULL, racer_cancel};
    struct ovp_defer_conf conf = {0, 8, 5000, "TestRace"};
    struct ovp_defer_stats st;
    unsigned long inl = 0, deferred = 0;
    char err[256];
    unsigned i = new_files();
    unsigned seed = 12345;

    k.d = ovp_defer_new(&conf, &ops, &k, tlog, err, sizeof(err));
    assert_non_null(k.d);
    assert_int_equal(pthread_create(&k.t, NULL, racer_main, &k), 0);
    for (unsigned n = 0; n < ROUNDS; n++)
    {
        /*
         * Around the deadline: from 60 us before it to 1 ms after (a waiter wakes a
         * little late, timer slack, so "after" needs the wider side).
         */
        seed = seed * 1103515245u + 12345u;
        __atomic_store_n(&k.offset_ns,
                         (long)WAIT_US * 1000 - 60000 + (long)((seed >> 8) % 1060000u),
                         __ATOMIC_RELEASE);
        touch(files[i].ctl);
        touch(files[i].reason);
        int rc = ovp_defer_submit_wait(k.d, req_at(i), WAIT_US, NULL, NULL);
        if (rc == OVP_DEFER_QUEUED)
        {
            char c = wait_answer(i, 3000);
            assert_true(c == '0' || c == '1');
            deferred++;
        }
        else
        {
            assert_true(rc == OVP_DEFER_ALLOWED || rc == OVP_DEFER_REFUSED);
            assert_int_equal(file_size(files[i].ctl), 0);
            if (rc == OVP_DEFER_REFUSED)
            {
                assert_string_equal(reason_of(i), "odd one out");
            }
            inl++;
        }
        wait_pending(k.d, 0, 3000);
        /*
         * Freed exactly once, whichever way it went (a holder frees just after it
         * lets go of the count wait_pending looks at: wait for it).
         */
        assert_int_equal(wait_freed((int)n + 1, 3000), (int)n + 1);
    }
    ovp_defer_get_stats(k.d, &st);
    assert_int_equal(st.submitted, ROUNDS);
    assert_int_equal(st.allowed + st.denied, ROUNDS);
    assert_int_equal(st.answered_inline, inl);
    assert_int_equal(st.timed_out + st.cancelled + st.temp, 0);
    ovp_defer_close(k.d);
    assert_int_equal(k.served, ROUNDS);
    print_message("inline race: %lu answered inline, %lu deferred\n", inl, deferred);
    /* Both sides of the moment were hit, or the test did not test the race. */
    assert_true(inl > 0);
    assert_true(deferred > 0);
    check_hygiene();
}

/* Close while a request is waited on (from another thread): answered once, freed once. */
struct closer
{
    struct ovp_defer *d;
    unsigned delay_ms;
};

static void *
closer_main(void *p)
{
    struct closer *c = p;
    sleep_ms(c->delay_ms);
    ovp_defer_close(c->d);
    return NULL;
}

static void
inline__close_during_the_wait_answers_temp_once(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    pthread_t t;
    backend_init(&b, OVP_ALLOW, "");
    b.block = 1;
    struct ovp_defer *d = engine(&b, 1, 8, 5000);
    struct closer c = {d, 2};

    assert_int_equal(pthread_create(&t, NULL, closer_main, &c), 0);
    assert_int_equal(ovp_defer_submit_wait(d, new_req(&i), 10000, NULL, NULL),
                     OVP_DEFER_QUEUED);
    pthread_join(t, NULL);
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");
    assert_non_null(strstr(reason_of(i), "reloading"));
    assert_int_equal(data_freed, 1);
    check_hygiene();
    backend_destroy(&b);
}

/* ------------------------------------------------------- event-driven */

static void
event__take_and_finish(void **state)
{
    (void)state;
    struct backend b;
    unsigned i, j;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, 8, 5000);

    assert_null(ovp_defer_take(d, 0));
    uint64_t t0 = now_ms();
    assert_null(ovp_defer_take(d, 50));
    assert_true(now_ms() - t0 >= 45);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    assert_int_equal(ovp_defer_submit(d, new_req(&j)), 0);
    struct ovp_defer_req *r1 = ovp_defer_take(d, 1000);
    struct ovp_defer_req *r2 = ovp_defer_take(d, 1000);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_string_equal(r1->username, "user0"); /* oldest first */
    assert_true(r1->id < r2->id);
    assert_int_equal(ovp_defer_req_answered(r1), 0);
    assert_null(ovp_defer_take(d, 0));

    ovp_defer_finish(d, r2, OVP_DENY, "bad code");
    ovp_defer_finish(d, r1, OVP_ALLOW, NULL);
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "1");
    assert_string_equal(slurp(files[j].ctl, buf, sizeof(buf)), "0");
    assert_string_equal(reason_of(j), "bad code");
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.denied, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(data_freed, 2);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
event__finish_after_deadline_only_frees(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, 8, 100);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    struct ovp_defer_req *r = ovp_defer_take(d, 1000);
    assert_non_null(r);
    assert_int_equal(wait_answer(i, 3000), '0');
    assert_int_equal(ovp_defer_req_answered(r), 1);
    assert_int_equal(data_freed, 0); /* still ours */
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.pending, 1);

    ovp_defer_finish(d, r, OVP_ALLOW, NULL);
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");
    assert_string_equal(reason_of(i), "TEMP: TestBackend did not answer in 100 ms");
    /*
     * Why wait: the control file is written before the deadline thread has settled
     * the request; a finish that arrives in that window leaves the free to the
     * deadline thread, a moment later (seen under ThreadSanitizer's slower timing).
     */
    for (int tries = 0; tries < 200 && __atomic_load_n(&data_freed, __ATOMIC_SEQ_CST) == 0;
         tries++)
    {
        usleep(10000);
    }
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.allowed, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(data_freed, 1);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
event__unknown_verdict_fails_closed(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    struct ovp_defer_stats st;
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, 8, 5000);

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    struct ovp_defer_req *r = ovp_defer_take(d, 1000);
    assert_non_null(r);
    ovp_defer_finish(d, r, 42, NULL);
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");
    assert_string_equal(reason_of(i), "authentication failed");
    ovp_defer_get_stats(d, &st);
    assert_int_equal(st.denied, 1);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

static void
event__long_temp_reason_is_cut_and_keeps_prefix(void **state)
{
    (void)state;
    struct backend b;
    unsigned i;
    char longr[400];
    backend_init(&b, OVP_ALLOW, "");
    struct ovp_defer *d = engine(&b, 0, 8, 5000);
    memset(longr, 'x', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';

    assert_int_equal(ovp_defer_submit(d, new_req(&i)), 0);
    struct ovp_defer_req *r = ovp_defer_take(d, 1000);
    assert_non_null(r);
    ovp_defer_finish(d, r, OVP_TEMP, longr);
    const char *got = reason_of(i);
    assert_int_equal(strlen(got), OVP_REASON_MAX - 1);
    assert_memory_equal(got, "TEMP: xxx", 9);
    ovp_defer_close(d);
    check_hygiene();
    backend_destroy(&b);
}

/* A backend thread like auth-ldap's: takes, answers, stops when cancelled. */
struct loop
{
    struct ovp_defer *d;
    pthread_t t;
    int stop;
    unsigned served;
};

static void *
loop_main(void *p)
{
    struct loop *l = p;
    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE))
    {
        struct ovp_defer_req *r = ovp_defer_take(l->d, 20);
        if (!r)
        {
            continue;
        }
        /* Odd user numbers allowed, even denied. */
        size_t n = strlen(r->username);
        int allow = (r->username[n - 1] - '0') % 2;
        ovp_defer_finish(l->d, r, allow ? OVP_ALLOW : OVP_DENY, "even");
        l->served++;
    }
    return NULL;
}

static void
loop_cancel(void *state)
{
    struct loop *l = state;
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    pthread_join(l->t, NULL);
}

static void
event__backend_thread_serves_many_and_closes(void **state)
{
    (void)state;
    enum
    {
        N = 150
    };
    struct loop l = {0};
    struct ovp_defer_ops ops = {NULL, loop_cancel};
    struct ovp_defer_conf conf = {0, 1000, 5000, "TestLoop"};
    struct ovp_defer_stats st;
    unsigned idx[N];
    char err[256];
    l.d = ovp_defer_new(&conf, &ops, &l, tlog, err, sizeof(err));
    assert_non_null(l.d);
    assert_int_equal(pthread_create(&l.t, NULL, loop_main, &l), 0);

    for (unsigned k = 0; k < N; k++)
    {
        assert_int_equal(ovp_defer_submit(l.d, new_req(&idx[k])), 0);
    }
    wait_pending(l.d, 0, 5000);
    for (unsigned k = 0; k < N; k++)
    {
        char buf[8];
        assert_int_equal(slurp(files[idx[k]].ctl, buf, sizeof(buf))[0], idx[k] % 2 ? '1' : '0');
    }
    ovp_defer_get_stats(l.d, &st);
    assert_int_equal(st.allowed + st.denied, N);
    assert_int_equal(st.allowed, N / 2);
    ovp_defer_close(l.d);
    assert_int_equal(l.served, N);
    assert_int_equal(data_freed, N);
    check_hygiene();
}

struct taker
{
    struct ovp_defer *d;
    pthread_t t;
    void *got;
    unsigned cancel_calls;
};

static void *
blocked_taker(void *p)
{
    struct taker *k = p;
    k->got = ovp_defer_take(k->d, -1);
    return NULL;
}

/* As a plugin would: stop the backend thread in cancel, so none outlives close. */
static void
taker_cancel(void *state)
{
    struct taker *k = state;
    k->cancel_calls++;
    pthread_join(k->t, NULL);
}

static void
event__close_wakes_taker_and_frees_what_it_holds(void **state)
{
    (void)state;
    struct taker k = {NULL, 0, (void *)1, 0};
    struct ovp_defer_ops ops = {NULL, taker_cancel};
    struct ovp_defer_conf conf = {0, 8, 5000, "TestTaker"};
    unsigned i;
    char err[256];
    k.d = ovp_defer_new(&conf, &ops, &k, tlog, err, sizeof(err));
    assert_non_null(k.d);

    assert_int_equal(ovp_defer_submit(k.d, new_req(&i)), 0);
    struct ovp_defer_req *held = ovp_defer_take(k.d, 0); /* taken and never finished */
    assert_non_null(held);
    assert_int_equal(pthread_create(&k.t, NULL, blocked_taker, &k), 0);
    sleep_ms(20);

    uint64_t t0 = now_ms();
    ovp_defer_close(k.d);
    assert_true(now_ms() - t0 < 1000);
    assert_null(k.got);
    assert_int_equal(k.cancel_calls, 1);
    assert_string_equal(reason_of(i), "TEMP: server is reloading, try again");
    char buf[8];
    assert_string_equal(slurp(files[i].ctl, buf, sizeof(buf)), "0");
    assert_int_equal(data_freed, 1); /* close freed what the holder never gave back */
    check_hygiene();
}

/* -------------------------------------------------------- from the env */

static void
req_from_env__copies_what_a_worker_needs(void **state)
{
    (void)state;
    const char *envp[] = {"username=alice",
                          "password=" PASSWORD,
                          "common_name=alice-laptop",
                          "untrusted_ip6=2001:db8::5",
                          "untrusted_port=1194",
                          "auth_control_file=/tmp/acf",
                          "auth_failed_reason_file=/tmp/afr",
                          "auth_pending_file=/tmp/apf",
                          "session_state=Initial",
                          "IV_SSO=crtext,webauth",
                          NULL};
    char err[256] = "";
    struct ovp_defer_req *r = ovp_defer_req_from_env(envp, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(r->username, "alice");
    assert_string_equal(r->password, PASSWORD);
    assert_true(r->password != envp[1] + 9); /* a copy, not the host's buffer */
    assert_string_equal(r->common_name, "alice-laptop");
    assert_string_equal(r->client_ip, "2001:db8::5");
    assert_string_equal(r->client_port, "1194");
    assert_string_equal(r->control_file, "/tmp/acf");
    assert_string_equal(r->reason_file, "/tmp/afr");
    assert_string_equal(r->pending_file, "/tmp/apf");
    assert_string_equal(r->session_state, "Initial");
    assert_string_equal(r->iv_sso, "crtext,webauth");
    assert_string_equal(r->who.text, "[alice-laptop@2001:db8::5:1194]");
    ovp_defer_req_free(r);
}

static void
req_from_env__optional_fields_missing_and_trusted_address(void **state)
{
    (void)state;
    const char *envp[] = {"trusted_ip=198.51.100.4", "trusted_port=5000",
                          "auth_control_file=/tmp/acf", NULL};
    char err[256] = "";
    struct ovp_defer_req *r = ovp_defer_req_from_env(envp, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(r->username, "");
    assert_string_equal(r->password, "");
    assert_string_equal(r->common_name, "");
    assert_string_equal(r->client_ip, "198.51.100.4");
    assert_string_equal(r->client_port, "5000");
    assert_null(r->reason_file);
    assert_null(r->pending_file);
    assert_null(r->session_state);
    assert_null(r->iv_sso);
    ovp_defer_req_free(r);
}

static void
req_from_env__missing_control_file_is_error(void **state)
{
    (void)state;
    const char *envp[] = {"username=bob", "password=" PASSWORD, "auth_control_file=", NULL};
    const char *empty[] = {NULL};
    char err[256] = "";
    assert_null(ovp_defer_req_from_env(envp, err, sizeof(err)));
    assert_non_null(strstr(err, "auth_control_file"));
    assert_null(strstr(err, "s3cr3t"));
    err[0] = '\0';
    assert_null(ovp_defer_req_from_env(empty, err, sizeof(err)));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(ovp_defer_req_from_env(NULL, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_null(ovp_defer_req_from_env(NULL, NULL, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(worker__allow_writes_1_and_no_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(worker__deny_writes_reason_and_0, setup, teardown),
        cmocka_unit_test_setup_teardown(worker__deny_with_empty_reason_gets_generic_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(worker__temp_reason_is_made_to_start_with_temp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(worker__result_left_unfilled_is_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(worker__control_characters_in_reason_are_replaced,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(worker__log_lines_reach_host_only_at_drain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(answer__reason_file_is_complete_before_control_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(answer__control_file_waits_until_reason_is_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(write_answer__missing_reason_file_still_writes_control,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            write_answer__missing_control_file_fails_and_creates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(write_answer__allow_and_deny_bytes_and_truncated_reason,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(write_reason__needs_a_file_and_cleans_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_pending__three_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(write_pending__replaces_longer_content, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            deadline__stuck_run_is_answered_temp_and_late_result_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(deadline__queued_request_is_answered_and_never_run,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(deadline__whole_second_is_said_in_seconds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deadline__request_deadline_overrides_the_engines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deadline__mixed_deadlines_fire_in_deadline_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue__overflow_fails_fast_with_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(submit__bad_arguments_free_and_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(new__invalid_settings_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            close__in_flight_and_queued_are_answered_temp_and_cancel_called, setup, teardown),
        cmocka_unit_test_setup_teardown(close__twice_on_fresh_engines, setup, teardown),
        cmocka_unit_test_setup_teardown(
            inline__fast_allow_is_answered_inline_without_control_file, setup, teardown),
        cmocka_unit_test_setup_teardown(inline__fast_deny_writes_reason_only_and_logs_one_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            inline__slow_backend_is_deferred_and_answered_through_the_control_file, setup,
            teardown),
        cmocka_unit_test_setup_teardown(inline__zero_wait_is_a_plain_submit_and_wakes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(inline__wait_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(inline__full_queue_is_rejected_with_temp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            inline__deadline_during_the_wait_answers_through_the_control_file, setup, teardown),
        cmocka_unit_test_setup_teardown(inline__answer_at_the_deadline_is_answered_exactly_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(inline__close_during_the_wait_answers_temp_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(event__take_and_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(event__finish_after_deadline_only_frees, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(event__unknown_verdict_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(event__long_temp_reason_is_cut_and_keeps_prefix, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(event__backend_thread_serves_many_and_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(event__close_wakes_taker_and_frees_what_it_holds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(req_from_env__copies_what_a_worker_needs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            req_from_env__optional_fields_missing_and_trusted_address, setup, teardown),
        cmocka_unit_test_setup_teardown(req_from_env__missing_control_file_is_error, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* store.c: the writer thread that batches queued events into SQLite transactions. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "schema.h"
#include "store.h"

/* Rows per transaction: bounds how long we hold the write lock at a time. */
#define CHUNK_ROWS 5000
/* Queue depth at which the writer starts a flush before the interval ends. */
#define HIWATER_MAX 8192
/* Idle heartbeat: how stale "last seen" can be when a crash is cleaned up. */
#define HEARTBEAT_MS 60000
/* Retention: first pass soon after open, then hourly, in small steps. */
#define RETENTION_FIRST_MS 5000
#define RETENTION_EVERY_MS 3600000
#define RETENTION_ROWS     1000
#define RETENTION_WINDOW   5000
/* A failing database is retried with backoff up to this, and re-reported this often. */
#define RETRY_MAX_MS 5000
#define REPORT_MS    10000
#define DAY_MS       86400000LL

enum rec_type
{
    REC_ADDR,
    REC_CONNECT,
    REC_DISCONNECT,
};

/* One queued event; its strings live in data[] (one allocation per event). */
struct rec
{
    enum rec_type type;
    enum store_op op;
    int64_t t_ms;
    uint64_t sid;
    long port;
    long long rx, tx, dur;
    int refused;      /* disconnect: the client never got its address */
    const char *kind; /* static, from addr_kind_name */
    const char *addr, *cn, *user, *ip, *v4, *v6, *reason;
    char data[];
};

/* Prepared statements, one set per connection (the writer thread's only). */
enum stmt
{
    ST_EVENT,
    ST_CUR_SET,
    ST_CUR_GET,
    ST_CUR_DEL,
    ST_SESSION_OF_CN,
    ST_CONNECT,
    ST_DISC_ID,
    ST_SEEN,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_EVENT] = "INSERT INTO address_event(time_ms, instance, op, address, kind, common_name,"
                 " session_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_CUR_SET] =
        "INSERT OR REPLACE INTO current_address(instance, address, kind, common_name,"
        " session_id, since_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_CUR_GET] = "SELECT common_name, session_id FROM current_address"
                   " WHERE instance = ?1 AND address = ?2",
    [ST_CUR_DEL] = "DELETE FROM current_address WHERE instance = ?1 AND address = ?2",
    [ST_SESSION_OF_CN] = "SELECT id FROM session WHERE common_name = ?1 AND instance = ?2"
                         " AND disconnect_ms IS NULL ORDER BY connect_ms DESC LIMIT 1",
    [ST_CONNECT] =
        "INSERT INTO session(id, instance, common_name, username, real_ip, real_port,"
        " vaddr4, vaddr6, connect_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /*
     * ?7: refused, the virtual addresses offered at connect were never the client's.
     * ?8, ?9: the real address and port at the end; kept only when the client floated
     * away from the one it connected from (an unknown port says nothing about a change).
     */
    [ST_DISC_ID] =
        "UPDATE session SET disconnect_ms = ?1, bytes_received = ?2, bytes_sent = ?3,"
        " duration_s = coalesce(?4, (?1 - connect_ms) / 1000), end_reason = ?5,"
        " vaddr4 = CASE WHEN ?7 THEN NULL ELSE vaddr4 END,"
        " vaddr6 = CASE WHEN ?7 THEN NULL ELSE vaddr6 END,"
        " end_real_ip = CASE WHEN ?8 IS NOT NULL AND (?8 IS NOT real_ip"
        "  OR (?9 IS NOT NULL AND ?9 IS NOT real_port)) THEN ?8 END,"
        " end_real_port = CASE WHEN ?8 IS NOT NULL AND (?8 IS NOT real_ip"
        "  OR (?9 IS NOT NULL AND ?9 IS NOT real_port)) THEN ?9 END"
        " WHERE id = ?6 AND disconnect_ms IS NULL",
    [ST_SEEN] = "UPDATE instance SET last_seen_ms = ?1 WHERE name = ?2",
};

struct store
{
    /* Set at open, read-only afterwards. */
    char *path, *instance, *run_as;
    long flush_ms, busy_ms, close_ms, retention_days;
    int sync_full;
    struct ovp_log *log;

    /* The queue, shared by the host thread and the writer. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct rec **ring;
    size_t cap, head, count, hiwater;
    int64_t oldest_mono; /* when the queue last went from empty to non-empty */
    int stop;
    struct ovp_thread *thread;
    int thread_started;

    _Atomic int failing;
    _Atomic unsigned long long queued, written, dropped, rejected, commits, failures, retained;

    uint64_t next_sid; /* host thread only */

    /* The writer thread's own. */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct rec **batch;
    size_t nbatch, batch_off;
    int started;         /* instance registered and stale rows cleaned up */
    int shared_instance; /* another live process uses our Instance name */
    int64_t retry_at, fail_since, next_report, next_heartbeat, next_retention;
    int64_t last_event_ms; /* newest address event time of this instance (clock steps) */
    int backoff_step;
    int retention_active;
    int64_t retention_cursor;
    unsigned long long retention_sessions, retention_events;
    char errmsg[512]; /* why the last transaction failed */
};

/* ------------------------------------------------------------ clocks */

int64_t
store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on the store's condition until the monotonic time AT (ms); mu held. */
static void
wait_until(struct store *s, int64_t at)
{
    struct timespec ts;
    if (at == INT64_MAX)
    {
        pthread_cond_wait(&s->cv, &s->mu);
        return;
    }
    ts.tv_sec = (time_t)(at / 1000);
    ts.tv_nsec = (long)(at % 1000) * 1000000;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------ records (host) */

static size_t
slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copies S into the record's data at *OFF; NULL stays NULL. */
static const char *
put(struct rec *r, size_t *off, const char *s)
{
    if (!s)
    {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = r->data + *off;
    memcpy(d, s, n);
    *off += n;
    return d;
}

static struct rec *
rec_new(enum rec_type type, size_t strings)
{
    struct rec *r = malloc(sizeof(*r) + strings);
    if (r)
    {
        memset(r, 0, sizeof(*r));
        r->type = type;
        r->port = -1;
        r->rx = r->tx = r->dur = -1;
    }
    return r;
}

/* Hands R to the writer, or drops it (counted) when the queue is full. */
static int
enqueue(struct store *s, struct rec *r)
{
    if (!r)
    {
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    if (s->count == s->cap || s->stop)
    {
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add(&s->dropped, 1);
        free(r);
        return -1;
    }
    s->ring[(s->head + s->count) % s->cap] = r;
    s->count++;
    atomic_fetch_add(&s->queued, 1);
    /* Wake the writer only when it has a new flush window to start, or much to do. */
    if (s->count == 1)
    {
        s->oldest_mono = mono_ms();
        pthread_cond_signal(&s->cv);
    }
    else if (s->count == s->hiwater)
    {
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int
store_address(struct store *s, enum store_op op, const struct addr *a, const char *cn,
              uint64_t session_id, int64_t t_ms)
{
    if (!s || !a)
    {
        return -1;
    }
    struct rec *r = rec_new(REC_ADDR, slen(a->text) + slen(cn));
    if (r)
    {
        size_t off = 0;
        r->op = op;
        r->t_ms = t_ms;
        r->sid = session_id;
        r->kind = addr_kind_name(a->kind);
        r->addr = put(r, &off, a->text);
        r->cn = put(r, &off, cn);
    }
    else
    {
        atomic_fetch_add(&s->dropped, 1);
    }
    return enqueue(s, r);
}

int
store_connect(struct store *s, const struct store_session *ss)
{
    if (!s || !ss)
    {
        return -1;
    }
    struct rec *r =
        rec_new(REC_CONNECT, slen(ss->common_name) + slen(ss->username) + slen(ss->real_ip) +
                                 slen(ss->vaddr4) + slen(ss->vaddr6));
    if (r)
    {
        size_t off = 0;
        r->t_ms = ss->connect_ms;
        r->sid = ss->id;
        r->port = ss->real_port;
        r->cn = put(r, &off, ss->common_name);
        r->user = put(r, &off, ss->username);
        r->ip = put(r, &off, ss->real_ip);
        r->v4 = put(r, &off, ss->vaddr4);
        r->v6 = put(r, &off, ss->vaddr6);
    }
    else
    {
        atomic_fetch_add(&s->dropped, 1);
    }
    return enqueue(s, r);
}

int
store_disconnect(struct store *s, const struct store_disconnect *sd)
{
    if (!s || !sd)
    {
        return -1;
    }
    if (!sd->id)
    {
        return 0; /* no session to end: nothing is guessed by name or address */
    }
    const char *reason = sd->reason ? sd->reason : "disconnect";
    struct rec *r =
        rec_new(REC_DISCONNECT, slen(sd->common_name) + slen(sd->real_ip) + slen(reason));
    if (r)
    {
        size_t off = 0;
        r->t_ms = sd->disconnect_ms;
        r->sid = sd->id;
        r->port = sd->real_port;
        r->rx = sd->bytes_received;
        r->tx = sd->bytes_sent;
        r->dur = sd->duration_s;
        r->refused = sd->refused != 0;
        r->cn = put(r, &off, sd->common_name);
        r->ip = put(r, &off, sd->real_ip);
        r->reason = put(r, &off, reason);
    }
    else
    {
        atomic_fetch_add(&s->dropped, 1);
    }
    return enqueue(s, r);
}

uint64_t
store_new_session_id(struct store *s)
{
    return s ? s->next_sid++ : 0;
}

int
store_failing(const struct store *s)
{
    return s ? atomic_load(&s->failing) : 0;
}

void
store_get_stats(const struct store *s, struct store_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!s)
    {
        return;
    }
    st->queued = atomic_load(&s->queued);
    st->written = atomic_load(&s->written);
    st->dropped = atomic_load(&s->dropped);
    st->rejected = atomic_load(&s->rejected);
    st->commits = atomic_load(&s->commits);
    st->failures = atomic_load(&s->failures);
    st->retention = atomic_load(&s->retained);
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    st->waiting = s->count;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
}

/* ------------------------------------------------------- SQL helpers */

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
    {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    }
    else
    {
        sqlite3_bind_null(st, i);
    }
}

/* Binds V, or NULL when V is negative (unknown). */
static void
bind_count(sqlite3_stmt *st, int i, long long v)
{
    if (v >= 0)
    {
        sqlite3_bind_int64(st, i, v);
    }
    else
    {
        sqlite3_bind_null(st, i);
    }
}

static void
bind_sid(sqlite3_stmt *st, int i, uint64_t sid)
{
    bind_count(st, i, sid ? (long long)sid : -1);
}

/* Steps a statement that returns no rows, then resets it. Returns the SQLite code. */
static int
run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int
exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Ends a failed transaction, keeping SQLite's reason (ROLLBACK would clear it). */
static int
tx_fail(struct store *s, int rc)
{
    int ext = sqlite3_extended_errcode(s->db);
    if ((ext & 0xff) == (rc & 0xff))
    {
        rc = ext;
    }
    snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
    exec(s->db, "ROLLBACK");
    return rc;
}

/* Errors about one row (skip it) as opposed to the database (retry the batch). */
static int
row_error(int rc)
{
    switch (rc & 0xff)
    {
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_TOOBIG:
        case SQLITE_RANGE:
            return 1;
        default:
            return 0;
    }
}

/* Errors after which the connection is reopened (permissions, a moved or broken file). */
static int
reopen_error(int rc)
{
    switch (rc & 0xff)
    {
        case SQLITE_READONLY:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
            return 1;
        default:
            return 0;
    }
}

static const char *
hint(int rc)
{
    switch (rc & 0xff)
    {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return "another process holds a lock on the database";
        case SQLITE_READONLY:
            return "the database (or its directory, for the -wal and -shm files) is not "
                   "writable by this process";
        case SQLITE_FULL:
            return "the disk is full";
        case SQLITE_CANTOPEN:
            return "the file cannot be opened";
        case SQLITE_IOERR:
            return "an I/O error";
        default:
            return "a database error";
    }
}

/* --------------------------------------------------- connection (writer) */

static void
db_close(struct store *s)
{
    for (int i = 0; i < ST_COUNT; i++)
    {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    sqlite3_close(s->db);
    s->db = NULL;
}

static int
prepare_all(struct store *s, char *err, size_t errlen)
{
    for (int i = 0; i < ST_COUNT; i++)
    {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK)
        {
            snprintf(err, errlen, "%s: cannot prepare statements: %s", s->path,
                     sqlite3_errmsg(s->db));
            return -1;
        }
    }
    return 0;
}

/* (Re)opens the writer's connection. Returns 0, or schema_open_rw's -1 / -2 with ERR. */
static int
db_open(struct store *s, int *created, char *err, size_t errlen)
{
    int rc =
        schema_open_rw(s->path, (int)s->busy_ms, s->sync_full, &s->db, created, err, errlen);
    if (rc < 0)
    {
        return rc;
    }
    if (prepare_all(s, err, errlen) < 0)
    {
        db_close(s);
        return -2;
    }
    return 0;
}

/* --------------------------------------------------------- writing */

/* Links an address learned without client context to the newest open session of CN. */
static uint64_t
session_of(struct store *s, const char *cn)
{
    sqlite3_stmt *st = s->st[ST_SESSION_OF_CN];
    uint64_t sid = 0;
    if (!cn)
    {
        return 0;
    }
    bind_text(st, 1, cn);
    bind_text(st, 2, s->instance);
    if (sqlite3_step(st) == SQLITE_ROW)
    {
        sid = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return sid;
}

static const char *const op_names[] = {"add", "update", "delete"};

static int
apply_addr(struct store *s, const struct rec *r)
{
    const char *cn = r->cn;
    uint64_t sid = r->sid;
    char *owner = NULL;
    int64_t t = r->t_ms;
    int rc;

    /*
     * Times never go back within an instance: a wall clock stepped back (NTP,
     * a VM restored) would otherwise date a later event before an earlier one.
     * Queries order an address's events by row id anyway; this keeps time_ms
     * telling the same story. Advanced as rows are applied; a rolled-back
     * batch restores it (write_chunk).
     */
    if (t < s->last_event_ms)
    {
        t = s->last_event_ms;
    }

    if (r->op == STORE_DELETE)
    {
        /* delete has no client context: it belongs to whoever holds the address now. */
        sqlite3_stmt *g = s->st[ST_CUR_GET];
        bind_text(g, 1, s->instance);
        bind_text(g, 2, r->addr);
        rc = sqlite3_step(g);
        if (rc == SQLITE_ROW)
        {
            const unsigned char *c = sqlite3_column_text(g, 0);
            owner = c ? strdup((const char *)c) : NULL;
            sid = (uint64_t)sqlite3_column_int64(g, 1);
            cn = owner;
            rc = SQLITE_OK;
        }
        sqlite3_reset(g);
        sqlite3_clear_bindings(g);
        if (rc != SQLITE_OK && rc != SQLITE_DONE)
        {
            goto cleanup;
        }
    }
    else if (!sid)
    {
        sid = session_of(s, cn);
    }

    sqlite3_stmt *e = s->st[ST_EVENT];
    sqlite3_bind_int64(e, 1, t);
    bind_text(e, 2, s->instance);
    bind_text(e, 3, op_names[r->op]);
    bind_text(e, 4, r->addr);
    bind_text(e, 5, r->kind);
    bind_text(e, 6, cn);
    bind_sid(e, 7, sid);
    if ((rc = run(e)) != SQLITE_OK)
    {
        goto cleanup;
    }

    if (r->op == STORE_DELETE)
    {
        sqlite3_stmt *d = s->st[ST_CUR_DEL];
        bind_text(d, 1, s->instance);
        bind_text(d, 2, r->addr);
        rc = run(d);
    }
    else
    {
        sqlite3_stmt *c = s->st[ST_CUR_SET];
        bind_text(c, 1, s->instance);
        bind_text(c, 2, r->addr);
        bind_text(c, 3, r->kind);
        bind_text(c, 4, cn);
        bind_sid(c, 5, sid);
        sqlite3_bind_int64(c, 6, t);
        rc = run(c);
    }
    if (rc == SQLITE_OK)
    {
        s->last_event_ms = t;
    }

cleanup:
    free(owner);
    return rc;
}

static int
apply_connect(struct store *s, const struct rec *r)
{
    sqlite3_stmt *st = s->st[ST_CONNECT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->sid);
    bind_text(st, 2, s->instance);
    bind_text(st, 3, r->cn);
    bind_text(st, 4, r->user);
    bind_text(st, 5, r->ip);
    bind_count(st, 6, r->port);
    bind_text(st, 7, r->v4);
    bind_text(st, 8, r->v6);
    sqlite3_bind_int64(st, 9, r->t_ms);
    return run(st);
}

static int
apply_disconnect(struct store *s, const struct rec *r)
{
    sqlite3_stmt *st = s->st[ST_DISC_ID];
    if (!r->sid)
    {
        return SQLITE_OK; /* store_disconnect queues none; never guess a session */
    }
    sqlite3_bind_int64(st, 1, r->t_ms);
    bind_count(st, 2, r->rx);
    bind_count(st, 3, r->tx);
    bind_count(st, 4, r->dur);
    bind_text(st, 5, r->reason);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)r->sid);
    sqlite3_bind_int(st, 7, r->refused);
    bind_text(st, 8, r->ip);
    bind_count(st, 9, r->port);
    return run(st);
}

static int
apply(struct store *s, const struct rec *r)
{
    switch (r->type)
    {
        case REC_ADDR:
            return apply_addr(s, r);
        case REC_CONNECT:
            return apply_connect(s, r);
        case REC_DISCONNECT:
            return apply_disconnect(s, r);
    }
    return SQLITE_MISUSE;
}

static int
mark_seen(struct store *s)
{
    sqlite3_stmt *st = s->st[ST_SEEN];
    sqlite3_bind_int64(st, 1, store_now_ms());
    bind_text(st, 2, s->instance);
    return run(st);
}

/* Says what was refused: the first ten one by one, then every thousandth. */
static void
report_rejected(struct store *s, const struct rec *r, int rc)
{
    unsigned long long n = atomic_fetch_add(&s->rejected, 1) + 1;
    if (n <= 10 || n % 1000 == 0)
    {
        ovp_err(s->log, "the database refused a %s row (%s: %s); skipped (%llu so far)",
                r->type == REC_ADDR ? "address" : "session", sqlite3_errstr(rc),
                sqlite3_errmsg(s->db), n);
    }
}

/* Commits rows [batch_off, batch_off + n) in one transaction. Returns the SQLite code. */
static int
write_chunk(struct store *s, size_t n)
{
    int64_t last_event = s->last_event_ms;
    int rc = exec(s->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
    {
        return tx_fail(s, rc);
    }
    for (size_t i = 0; i < n; i++)
    {
        const struct rec *r = s->batch[s->batch_off + i];
        rc = apply(s, r);
        if (rc != SQLITE_OK)
        {
            if (!row_error(rc))
            {
                goto fail;
            }
            report_rejected(s, r, rc);
        }
    }
    if ((rc = mark_seen(s)) != SQLITE_OK || (rc = exec(s->db, "COMMIT")) != SQLITE_OK)
    {
        goto fail;
    }
    return SQLITE_OK;

fail:
    s->last_event_ms = last_event;
    return tx_fail(s, rc);
}

/* ---------------------------------------------------- start and stop */

/* When process PID started, in Unix ms (from /proc; about a second exact), or -1. */
static int64_t
proc_start_ms(long long pid)
{
    char path[64], buf[1024];
    unsigned long long ticks = 0, btime = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
    if (!(f = fopen(path, "re")))
    {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Field 22 (starttime, clock ticks after boot), counted after the ')' of comm. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d"
                     " %*d %*d %*d %llu",
                     &ticks) != 1)
    {
        return -1;
    }
    if (!(f = fopen("/proc/stat", "re")))
    {
        return -1;
    }
    while (fgets(buf, sizeof(buf), f))
    {
        if (sscanf(buf, "btime %llu", &btime) == 1)
        {
            break;
        }
    }
    fclose(f);
    if (!btime || hz <= 0)
    {
        return -1;
    }
    return (int64_t)btime * 1000 + (int64_t)(ticks * 1000 / (unsigned long long)hz);
}

/*
 * Whether PID, registered at OPENED_MS, is another live process: alive, and
 * started before it registered (a pid reused by a later process, after a kill
 * -9 and a reboot say, is not the one that registered).
 */
static int
other_live_process(long long pid, int64_t opened_ms)
{
    if (pid <= 0 || pid > INT_MAX || pid == (long long)getpid())
    {
        return 0;
    }
    if (kill((pid_t)pid, 0) < 0 && errno != EPERM)
    {
        return 0;
    }
    int64_t started = proc_start_ms(pid);
    return started < 0 || started <= opened_ms + 2000;
}

/* Another process on this host, alive, registered under our Instance name. */
static int
instance_in_use(struct store *s, long long *pid_out)
{
    sqlite3_stmt *st = NULL;
    int in_use = 0;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT hostname, pid, opened_ms FROM instance WHERE name = ?1"
                           " AND closed_ms IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
    {
        return 0;
    }
    bind_text(st, 1, s->instance);
    if (sqlite3_step(st) == SQLITE_ROW)
    {
        const unsigned char *h = sqlite3_column_text(st, 0);
        long long pid = sqlite3_column_int64(st, 1);
        int64_t opened = sqlite3_column_type(st, 2) == SQLITE_NULL
                             ? INT64_MAX - 2000
                             : sqlite3_column_int64(st, 2);
        if (h && strcmp((const char *)h, host) == 0 && other_live_process(pid, opened))
        {
            in_use = 1;
            *pid_out = pid;
        }
    }
    sqlite3_finalize(st);
    return in_use;
}

/*
 * Ends what this instance left open: sessions get END_REASON and end at
 * END_MS (or their start, if later); held addresses get a 'reset' event.
 * LATEST_MS >= 0 says the end is only known to lie in [END_MS, LATEST_MS] (a
 * run that died); -1: exact. Returns the SQLite code; counts in *SESSIONS and
 * *ADDRESSES.
 */
static int
release_instance(struct store *s, int64_t end_ms, int64_t latest_ms, const char *end_reason,
                 int *sessions, int *addresses)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db,
        "UPDATE session SET disconnect_ms = max(?1, connect_ms),"
        " duration_s = (max(?1, connect_ms) - connect_ms) / 1000, end_reason = ?2,"
        " disconnect_latest_ms = CASE WHEN ?4 IS NULL THEN NULL"
        "  ELSE max(?4, ?1, connect_ms) END"
        " WHERE instance = ?3 AND disconnect_ms IS NULL",
        -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        sqlite3_bind_int64(st, 1, end_ms);
        bind_text(st, 2, end_reason);
        bind_text(st, 3, s->instance);
        bind_count(st, 4, latest_ms);
        rc = run(st);
        *sessions = sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
    {
        return rc;
    }
    rc =
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO address_event(time_ms, instance, op, address, kind,"
                           " common_name, session_id, time_latest_ms) SELECT max(?1, since_ms),"
                           " instance, 'reset', address, kind, common_name, session_id,"
                           " CASE WHEN ?3 IS NULL THEN NULL ELSE max(?3, ?1, since_ms) END"
                           " FROM current_address WHERE instance = ?2",
                           -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        sqlite3_bind_int64(st, 1, end_ms);
        bind_text(st, 2, s->instance);
        bind_count(st, 3, latest_ms);
        rc = run(st);
        *addresses = sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
    {
        return rc;
    }
    rc = sqlite3_prepare_v2(s->db, "DELETE FROM current_address WHERE instance = ?1", -1, &st,
                            NULL);
    if (rc == SQLITE_OK)
    {
        bind_text(st, 1, s->instance);
        rc = run(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * The writer's first transaction: clean up after a previous run of this
 * instance that ended without close (a crash, kill -9), and register this one.
 */
static int
startup(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int64_t now = store_now_ms(), last_seen = now;
    int sessions = 0, addresses = 0;
    long long other = 0;
    char host[256] = "";
    int rc = exec(s->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
    {
        return tx_fail(s, rc);
    }
    gethostname(host, sizeof(host) - 1);
    s->shared_instance = instance_in_use(s, &other);
    if (s->shared_instance)
    {
        ovp_warn(s->log,
                 "Instance '%s' is also in use by process %lld on this host: give each OpenVPN "
                 "server writing to %s its own Instance name (its open sessions are left "
                 "alone)",
                 s->instance, other, s->path);
    }
    else
    {
        if (sqlite3_prepare_v2(s->db, "SELECT last_seen_ms FROM instance WHERE name = ?1", -1,
                               &st, NULL) == SQLITE_OK)
        {
            bind_text(st, 1, s->instance);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            {
                last_seen = sqlite3_column_int64(st, 0);
            }
        }
        sqlite3_finalize(st);
        st = NULL;
        /* Died between its last sign of life and now: the end is that interval. */
        rc = release_instance(s, last_seen, now, "restart", &sessions, &addresses);
        if (rc != SQLITE_OK)
        {
            goto fail;
        }
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT coalesce(max(time_ms), 0) FROM address_event"
                           " WHERE instance = ?1",
                           -1, &st, NULL) == SQLITE_OK)
    {
        bind_text(st, 1, s->instance);
        if (sqlite3_step(st) == SQLITE_ROW)
        {
            s->last_event_ms = sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT OR REPLACE INTO instance(name, hostname, pid, opened_ms,"
                            " last_seen_ms, closed_ms) VALUES (?1, ?2, ?3, ?4, ?4, NULL)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        bind_text(st, 1, s->instance);
        bind_text(st, 2, host);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)getpid());
        sqlite3_bind_int64(st, 4, now);
        rc = run(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || (rc = exec(s->db, "COMMIT")) != SQLITE_OK)
    {
        goto fail;
    }
    if (sessions || addresses)
    {
        char when[64];
        time_t t = (time_t)(last_seen / 1000);
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", localtime_r(&t, &tm));
        ovp_note(s->log,
                 "the previous run of instance '%s' stopped without closing: ended %d "
                 "session(s) and released %d address(es) between its last sign of life (%s) "
                 "and now",
                 s->instance, sessions, addresses, when);
    }
    return SQLITE_OK;

fail:
    return tx_fail(s, rc);
}

/* The last transaction at close: nothing of this run stays "current". */
static int
shutdown_rows(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int sessions = 0, addresses = 0;
    int64_t now = store_now_ms();
    int rc = exec(s->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
    {
        return tx_fail(s, rc);
    }
    if (!s->shared_instance)
    {
        rc = release_instance(s, now, -1, "shutdown", &sessions, &addresses);
        if (rc != SQLITE_OK)
        {
            goto fail;
        }
    }
    rc = sqlite3_prepare_v2(s->db,
                            "UPDATE instance SET last_seen_ms = ?1, closed_ms = ?1"
                            " WHERE name = ?2 AND pid = ?3",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        sqlite3_bind_int64(st, 1, now);
        bind_text(st, 2, s->instance);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)getpid());
        rc = run(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || (rc = exec(s->db, "COMMIT")) != SQLITE_OK)
    {
        goto fail;
    }
    return SQLITE_OK;

fail:
    return tx_fail(s, rc);
}

/* ------------------------------------------------------------ retention */

/* Deletes at most RETENTION_ROWS old rows in one transaction; *DONE when none are left. */
static int
retention_step(struct store *s, int *done)
{
    sqlite3_stmt *st = NULL;
    int64_t cutoff = store_now_ms() - (int64_t)s->retention_days * DAY_MS;
    int sessions = 0, events = 0, more = 0;
    int rc = exec(s->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
    {
        return tx_fail(s, rc);
    }
    /* Only ended sessions: a long-running connection is never cut from the record. */
    rc = sqlite3_prepare_v2(s->db,
                            "DELETE FROM session WHERE id IN (SELECT id FROM session"
                            " WHERE disconnect_ms < ?1 LIMIT ?2)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        sqlite3_bind_int64(st, 1, cutoff);
        sqlite3_bind_int(st, 2, RETENTION_ROWS);
        rc = run(st);
        sessions = sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
    {
        goto fail;
    }
    /*
     * Events in rowid windows (rowid order is time order per instance, so no
     * index on time is needed). An old event goes when it no longer says who
     * held its address at the cutoff: it is a delete or reset, or a later event
     * of that address at or before the cutoff supersedes it. So the add of a
     * holding that began before the cutoff and lasted into the kept window
     * stays (who --at answers for every kept moment), and so does the event
     * that made a current owner.
     */
    if (s->retention_cursor == 0)
    {
        rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(min(id), 0) FROM address_event", -1,
                                &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        {
            s->retention_cursor = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    rc = sqlite3_prepare_v2(s->db,
                            "DELETE FROM address_event WHERE id >= ?1 AND id < ?1 + ?2"
                            " AND time_ms < ?3 AND NOT EXISTS (SELECT 1 FROM current_address c"
                            " WHERE c.instance = address_event.instance"
                            " AND c.address = address_event.address"
                            " AND c.since_ms = address_event.time_ms)"
                            " AND (op IN ('delete', 'reset') OR EXISTS (SELECT 1"
                            " FROM address_event n WHERE n.address = address_event.address"
                            " AND n.instance = address_event.instance AND n.time_ms <= ?3"
                            " AND n.id > address_event.id))",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        sqlite3_bind_int64(st, 1, s->retention_cursor);
        sqlite3_bind_int(st, 2, RETENTION_WINDOW);
        sqlite3_bind_int64(st, 3, cutoff);
        rc = run(st);
        events = sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
    {
        goto fail;
    }
    /* Go on while the next window still starts with an old event. */
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT id, time_ms FROM address_event WHERE id >= ?1"
                            " ORDER BY id LIMIT 1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        sqlite3_bind_int64(st, 1, s->retention_cursor + RETENTION_WINDOW);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 1) < cutoff)
        {
            s->retention_cursor = sqlite3_column_int64(st, 0);
            more = 1;
        }
    }
    sqlite3_finalize(st);
    if ((rc = exec(s->db, "COMMIT")) != SQLITE_OK)
    {
        goto fail;
    }
    s->retention_sessions += (unsigned)sessions;
    s->retention_events += (unsigned)events;
    atomic_fetch_add(&s->retained, (unsigned long long)(sessions + events));
    *done = !more && sessions < RETENTION_ROWS;
    if (*done)
    {
        s->retention_cursor = 0;
    }
    return SQLITE_OK;

fail:
    return tx_fail(s, rc);
}

/* -------------------------------------------------------- the writer */

static char *dir_of(const char *path);

/*
 * Names which of the database, its -wal and -shm files and its directory this
 * process cannot write (SQLite gives -wal/-shm the database's mode when it
 * creates them, so a file fixed later may still have a read-only -shm).
 */
static void
access_report(const struct store *s, char *buf, size_t len)
{
    char side[PATH_MAX + 8];
    char *dir = dir_of(s->path);
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < 4; i++)
    {
        const char *f = side;
        int need = W_OK;
        if (i == 3)
        {
            if (!dir)
            {
                break;
            }
            f = dir;
            need = W_OK | X_OK;
        }
        else
        {
            snprintf(side, sizeof(side), "%s%s", s->path,
                     i == 0   ? ""
                     : i == 1 ? "-wal"
                              : "-shm");
        }
        if (faccessat(AT_FDCWD, f, F_OK, AT_EACCESS) == 0 &&
            faccessat(AT_FDCWD, f, need, AT_EACCESS) < 0 && off < len)
        {
            int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", f);
            off = n < 0 ? len : off + (size_t)n;
        }
    }
    free(dir);
}

/* Records a failed attempt: loud at first, then a reminder every REPORT_MS. */
static void
note_failure(struct store *s, const char *what, int rc, const char *msg)
{
    int64_t now = mono_ms();
    char detail[768], denied[640] = "";
    size_t waiting;
    atomic_fetch_add(&s->failures, 1);
    pthread_mutex_lock(&s->mu);
    waiting = s->count;
    pthread_mutex_unlock(&s->mu);
    waiting += s->nbatch - s->batch_off;
    if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN)
    {
        access_report(s, denied, sizeof(denied));
    }
    if (denied[0])
    {
        snprintf(detail, sizeof(detail), "%s; not writable by uid %ld: %s", msg,
                 (long)geteuid(), denied);
        msg = detail;
    }
    if (!atomic_load(&s->failing))
    {
        atomic_store(&s->failing, 1);
        s->fail_since = now;
        s->next_report = now + REPORT_MS;
        ovp_err(s->log,
                "cannot write to %s while %s: %s (%s); %zu event(s) kept in memory, retrying",
                s->path, what, hint(rc), msg, waiting);
    }
    else if (now >= s->next_report)
    {
        s->next_report = now + REPORT_MS;
        ovp_err(s->log,
                "still cannot write to %s after %lld s: %s (%s); %zu event(s) waiting, %llu "
                "dropped so far because the queue was full",
                s->path, (long long)((now - s->fail_since) / 1000), hint(rc), msg, waiting,
                (unsigned long long)atomic_load(&s->dropped));
    }
    s->backoff_step = s->backoff_step < 5 ? s->backoff_step + 1 : 5;
    s->retry_at = now + min64((int64_t)100 << s->backoff_step, RETRY_MAX_MS);
    if (reopen_error(rc) && s->db)
    {
        db_close(s); /* e.g. opened read-only: only a fresh open sees fixed permissions */
    }
}

static void
note_success(struct store *s)
{
    if (atomic_load(&s->failing))
    {
        ovp_note(s->log, "%s is writable again after %lld s; writing what was kept", s->path,
                 (long long)((mono_ms() - s->fail_since) / 1000));
        atomic_store(&s->failing, 0);
    }
    s->backoff_step = 0;
    s->retry_at = 0;
}

/* One unit of database work. Returns 0 on success (or nothing to do), -1 after a failure. */
static int
work(struct store *s)
{
    char err[512];
    int rc;

    if (!s->db && db_open(s, NULL, err, sizeof(err)) < 0)
    {
        note_failure(s, "opening it", SQLITE_CANTOPEN, err);
        return -1;
    }
    if (!s->started)
    {
        rc = startup(s);
        if (rc != SQLITE_OK)
        {
            note_failure(s, "registering this instance", rc, s->errmsg);
            return -1;
        }
        s->started = 1;
        note_success(s);
        return 0;
    }
    if (s->batch_off < s->nbatch)
    {
        size_t n = s->nbatch - s->batch_off;
        n = n > CHUNK_ROWS ? CHUNK_ROWS : n;
        rc = write_chunk(s, n);
        if (rc != SQLITE_OK)
        {
            note_failure(s, "writing events", rc, s->errmsg);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
        {
            free(s->batch[s->batch_off + i]);
        }
        s->batch_off += n;
        if (s->batch_off == s->nbatch)
        {
            s->batch_off = s->nbatch = 0;
        }
        atomic_fetch_add(&s->written, n);
        atomic_fetch_add(&s->commits, 1);
        s->next_heartbeat = mono_ms() + HEARTBEAT_MS;
        note_success(s);
        return 0;
    }
    if (s->retention_active)
    {
        int done = 0;
        rc = retention_step(s, &done);
        if (rc != SQLITE_OK)
        {
            note_failure(s, "deleting old rows (retention)", rc, s->errmsg);
            return -1;
        }
        if (done)
        {
            s->retention_active = 0;
            s->next_retention = mono_ms() + RETENTION_EVERY_MS;
            if (s->retention_sessions || s->retention_events)
            {
                ovp_note(s->log,
                         "retention: deleted %llu session(s) and %llu address event(s) older "
                         "than %ld day(s)",
                         s->retention_sessions, s->retention_events, s->retention_days);
            }
            s->retention_sessions = s->retention_events = 0;
        }
        note_success(s);
        return 0;
    }
    /* Heartbeat: keeps "last seen" fresh so that a crash is closed near its time. */
    if ((rc = mark_seen(s)) != SQLITE_OK)
    {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
        note_failure(s, "recording a heartbeat", rc, s->errmsg);
        return -1;
    }
    s->next_heartbeat = mono_ms() + HEARTBEAT_MS;
    note_success(s);
    return 0;
}

/*
 * Moves what is queued into the writer's batch; mu held. At most HIWATER_MAX at
 * a time, so that the host thread never waits long for the lock.
 */
static void
take(struct store *s)
{
    size_t n = 0;
    while (s->count > 0 && n++ < HIWATER_MAX)
    {
        s->batch[s->nbatch++] = s->ring[s->head];
        s->ring[s->head] = NULL;
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
}

/* Drops what could not be written by the close deadline, loudly. */
static void
drop_rest(struct store *s)
{
    size_t lost = 0;
    for (;;)
    {
        for (size_t i = s->batch_off; i < s->nbatch; i++)
        {
            free(s->batch[i]);
            lost++;
        }
        s->nbatch = s->batch_off = 0;
        pthread_mutex_lock(&s->mu);
        take(s);
        pthread_mutex_unlock(&s->mu);
        if (s->nbatch == 0)
        {
            break;
        }
    }
    if (lost)
    {
        ovp_err(s->log,
                "closing: %zu event(s) could not be written to %s within %ld ms and are lost",
                lost, s->path, s->close_ms);
    }
}

static void *
writer_main(void *arg)
{
    struct store *s = arg;
    int64_t close_deadline = 0;

    for (;;)
    {
        int stopping;
        pthread_mutex_lock(&s->mu);
        for (;;)
        {
            int64_t now = mono_ms();
            if (s->stop && !close_deadline)
            {
                close_deadline = now + s->close_ms;
            }
            int pending = s->nbatch > s->batch_off;
            /*
             * CloseTimeout bounds retrying a failing database only: a healthy one
             * gets everything queued, however short the timeout (even 0).
             */
            if (s->stop && now >= close_deadline && atomic_load(&s->failing) &&
                (pending || s->count || !s->started))
            {
                break; /* give up: drop_rest below */
            }
            if (s->stop && !pending && !s->count && s->started)
            {
                break; /* nothing left to retry: the last transaction, at once */
            }
            if (atomic_load(&s->failing) && now < s->retry_at)
            {
                wait_until(s, s->stop ? min64(s->retry_at, close_deadline) : s->retry_at);
                continue;
            }
            if (pending || !s->started)
            {
                break;
            }
            if (s->count)
            {
                /* Batch: wait for the flush window unless there is a lot, or we stop. */
                int64_t due = s->oldest_mono + s->flush_ms;
                if (s->stop || s->count >= s->hiwater || now >= due)
                {
                    take(s);
                    break;
                }
                wait_until(s, due);
                continue;
            }
            if (s->stop)
            {
                break;
            }
            if (s->retention_days > 0 && !s->retention_active && now >= s->next_retention)
            {
                s->retention_active = 1;
            }
            if (s->retention_active || now >= s->next_heartbeat)
            {
                break;
            }
            int64_t wake = s->next_heartbeat;
            if (s->retention_days > 0)
            {
                wake = min64(wake, s->next_retention);
            }
            wait_until(s, wake);
        }
        stopping = s->stop;
        int give_up = stopping && atomic_load(&s->failing) && mono_ms() >= close_deadline;
        int idle = s->count == 0 && s->nbatch == s->batch_off;
        pthread_mutex_unlock(&s->mu);

        if (give_up && !(idle && s->started))
        {
            drop_rest(s);
            break;
        }
        if (stopping && idle && s->started)
        {
            char err[512];
            if (!s->db && db_open(s, NULL, err, sizeof(err)) < 0)
            {
                ovp_warn(s->log, "closing: could not mark this instance's sessions ended: %s",
                         err);
            }
            else if (shutdown_rows(s) != SQLITE_OK)
            {
                ovp_warn(s->log, "closing: could not mark this instance's sessions ended: %s",
                         s->errmsg);
            }
            break;
        }
        work(s);
    }
    return NULL;
}

/* -------------------------------------------------------- open checks */

/* Whether UID (in groups GIDS) may write and search directory or file SB. */
static int
may_write(const struct stat *sb, uid_t uid, const gid_t *gids, int ngids)
{
    mode_t need_w = S_ISDIR(sb->st_mode) ? (S_IWUSR | S_IXUSR) : S_IWUSR;
    if (uid == 0)
    {
        return 1;
    }
    if (sb->st_uid == uid)
    {
        return (sb->st_mode & need_w) == need_w;
    }
    for (int i = 0; i < ngids; i++)
    {
        if (sb->st_gid == gids[i])
        {
            return (sb->st_mode & (need_w >> 3)) == (need_w >> 3);
        }
    }
    return (sb->st_mode & (need_w >> 6)) == (need_w >> 6);
}

/* The directory part of PATH (malloc'd). */
static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
    {
        return strdup(".");
    }
    if (slash == path)
    {
        return strdup("/");
    }
    return strndup(path, (size_t)(slash - path));
}

/*
 * Opens the database with the file-system identity of the run-as user (UID,
 * GID) on this thread, so that the database, its -wal and its -shm, when this
 * open creates them, belong to that user without chown: Debian's unit keeps
 * CAP_SETUID and CAP_SETGID in OpenVPN's bounding set but not CAP_CHOWN.
 * setfsuid/setfsgid change only the calling thread (glibc does not broadcast
 * them), and both are restored before returning, so no other thread of
 * OpenVPN ever runs with them. Returns db_open's 0 / -1 / -2, or -3 when the
 * identity could not be switched (nothing was opened).
 */
static int
db_open_as(struct store *s, uid_t uid, gid_t gid, int *created, char *err, size_t errlen)
{
    uid_t old_uid = (uid_t)setfsuid((uid_t)-1);
    gid_t old_gid = (gid_t)setfsgid((gid_t)-1);
    int rc = -3;

    /* setfsuid reports no error: reading it back is the only check there is. */
    setfsgid(gid);
    if ((gid_t)setfsgid((gid_t)-1) != gid)
    {
        goto restore;
    }
    setfsuid(uid);
    if ((uid_t)setfsuid((uid_t)-1) != uid)
    {
        goto restore;
    }
    /*
     * Access is now checked as the run-as user (with root's supplementary
     * groups, which setfsgid cannot change), and a file made here is theirs.
     * A database in WAL mode gets its -wal and -shm at the first read (SQLite
     * keeps both while a connection is open), a new one at the migration's
     * first write: all three exist when this returns 0.
     */
    rc = db_open(s, created, err, errlen);

restore:
    setfsuid(old_uid);
    setfsgid(old_gid);
    return rc;
}

/*
 * The run-as user's ids and groups, when RunAsUser names one and this process
 * is root (the only case where the plugin can act for that user). Returns 1
 * with *PW filled from BUF, else 0 (the caller keeps the plain open).
 */
static int
run_as_ids(const struct store *s, struct passwd *pw, char *buf, size_t len)
{
    struct passwd *pwp = NULL;
    if (!s->run_as || geteuid() != 0)
    {
        return 0;
    }
    return getpwnam_r(s->run_as, pw, buf, len, &pwp) == 0 && pwp != NULL;
}

/*
 * chown for a file root just created, never through a symbolic link (one put
 * there since the open must not hand its target to the user). 0, or -1 with errno.
 */
static int
chown_file(const char *path, uid_t uid, gid_t gid)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int rc = -1, saved;
    if (fd < 0)
    {
        return -1;
    }
    if (fstat(fd, &sb) < 0)
    {
        goto out;
    }
    if (!S_ISREG(sb.st_mode))
    {
        errno = EINVAL;
        goto out;
    }
    rc = fchown(fd, uid, gid);
out:
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/*
 * As root: -1 with ERR when PATH, or a file SQLite keeps beside it, is a
 * symbolic link in a directory a user other than root may write. Why: that
 * directory is often the run-as user's (reloads after the privilege drop need
 * it), so an OpenVPN compromised after the drop can leave a link there to a
 * file only root may create or write (/etc/profile.d/x.sh, a systemd unit);
 * root would create or rewrite the target, and give it to RunAsUser. A link
 * in a directory only root may write is root's own choice. 0 otherwise.
 */
static int
planted_link(const struct store *s, char *err, size_t errlen)
{
    static const char *const side[] = {"", "-wal", "-shm", "-journal"};
    char *dir = dir_of(s->path);
    struct stat sb;
    int rc = 0;

    if (geteuid() != 0 || !dir || stat(dir, &sb) < 0 ||
        (sb.st_uid == 0 && !(sb.st_mode & S_IWOTH) &&
         !((sb.st_mode & S_IWGRP) && sb.st_gid != 0)))
    {
        free(dir);
        return 0;
    }
    for (size_t i = 0; i < sizeof(side) / sizeof(side[0]) && rc == 0; i++)
    {
        char p[PATH_MAX + 16];
        struct stat lsb;
        snprintf(p, sizeof(p), "%s%s", s->path, side[i]);
        if (lstat(p, &lsb) == 0 && S_ISLNK(lsb.st_mode))
        {
            snprintf(err, errlen,
                     "%.200s%s is a symbolic link in %.200s, a directory a user other than "
                     "root may write (owner %ld, mode %04o): refused, root would follow it; "
                     "remove the link and give the real path",
                     s->path, side[i], dir, (long)sb.st_uid, (unsigned)(sb.st_mode & 07777));
            rc = -1;
        }
    }
    free(dir);
    return rc;
}

/*
 * Opens the database at store_open. As root with a known RunAsUser, a
 * database that user can write (or that does not exist yet) is opened with
 * that user's file-system identity, so that what the open creates is theirs;
 * when that fails (a directory only root can write, no CAP_SETUID), it is
 * opened as root as before and check_run_as reports why a reload will fail.
 * *AS_USER says which way it was opened.
 */
static int
db_open_first(struct store *s, int *created, int *as_user, char *err, size_t errlen)
{
    struct passwd pw;
    char buf[4096];
    struct stat sb;

    *as_user = 0;
    if (planted_link(s, err, errlen) < 0)
    {
        return -1;
    }
    if (run_as_ids(s, &pw, buf, sizeof(buf)))
    {
        gid_t gids[256];
        int ngids = 256;
        if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
        {
            ngids = 1;
            gids[0] = pw.pw_gid;
        }
        /* A file that user cannot write would open read-only: leave it to root. */
        if (stat(s->path, &sb) < 0 ? errno == ENOENT
                                   : may_write(&sb, pw.pw_uid, gids, ngids) != 0)
        {
            int rc = db_open_as(s, pw.pw_uid, pw.pw_gid, created, err, errlen);
            if (rc == 0 || rc == -1)
            {
                *as_user = rc == 0;
                return rc;
            }
        }
    }
    return db_open(s, created, err, errlen);
}

/*
 * WAL mode creates PATH-wal and PATH-shm next to the database, also after
 * OpenVPN has dropped privileges (a reload reopens the file as that user): say
 * now, at start, when that user cannot. CREATED: this open created the
 * database as root (not as the run-as user). Returns 1 when a problem was
 * reported.
 */
static int
check_run_as(struct store *s, int created)
{
    char *dir = dir_of(s->path);
    struct stat dsb, fsb;
    int bad = 0;

    if (!dir)
    {
        return 0;
    }
    if (!s->run_as)
    {
        if (geteuid() == 0)
        {
            ovp_note(s->log,
                     "if OpenVPN drops privileges (user/group), that user must be able to "
                     "write %s and the directory %s (SQLite WAL files); set RunAsUser to have "
                     "this checked at start",
                     s->path, dir);
        }
        else if (access(dir, W_OK | X_OK) < 0)
        {
            ovp_err(s->log,
                    "the directory %s is not writable by uid %ld: SQLite's WAL mode creates "
                    "%s-wal and %s-shm there, so writes will fail; make it writable by this "
                    "user",
                    dir, (long)geteuid(), s->path, s->path);
            bad = 1;
        }
        free(dir);
        return bad;
    }

    struct passwd pw, *pwp = NULL;
    char buf[4096];
    gid_t gids[256];
    int ngids = 256;
    if (getpwnam_r(s->run_as, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
    {
        ovp_err(s->log, "RunAsUser '%s': no such user", s->run_as);
        free(dir);
        return 1;
    }
    if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
    {
        ngids = 1;
        gids[0] = pw.pw_gid;
    }
    /* A database we just created as root belongs to the user who will write it. */
    if (created && geteuid() == 0)
    {
        char side[PATH_MAX + 8];
        if (chown_file(s->path, pw.pw_uid, pw.pw_gid) < 0)
        {
            ovp_logf(s->log, PLOG_ERR | PLOG_ERRNO, "cannot give %s to RunAsUser '%s'", s->path,
                     s->run_as);
        }
        for (int i = 0; i < 2; i++)
        {
            snprintf(side, sizeof(side), "%s%s", s->path, i ? "-shm" : "-wal");
            if (chown_file(side, pw.pw_uid, pw.pw_gid) < 0 && errno != ENOENT)
            {
                ovp_logf(s->log, PLOG_ERR | PLOG_ERRNO, "cannot give %s to RunAsUser '%s'",
                         side, s->run_as);
            }
        }
    }
    if (stat(dir, &dsb) == 0 && !may_write(&dsb, pw.pw_uid, gids, ngids))
    {
        ovp_err(s->log,
                "RunAsUser '%s' cannot write the directory %s (owner %ld:%ld, mode %04o): "
                "SQLite's WAL mode creates %s-wal and %s-shm there, so writes will fail after "
                "OpenVPN drops privileges or reloads; fix: chown %s %s",
                s->run_as, dir, (long)dsb.st_uid, (long)dsb.st_gid,
                (unsigned)(dsb.st_mode & 07777), s->path, s->path, s->run_as, dir);
        bad = 1;
    }
    if (stat(s->path, &fsb) == 0 && !may_write(&fsb, pw.pw_uid, gids, ngids))
    {
        ovp_err(s->log,
                "RunAsUser '%s' cannot write %s (owner %ld:%ld, mode %04o): fix: chown %s %s",
                s->run_as, s->path, (long)fsb.st_uid, (long)fsb.st_gid,
                (unsigned)(fsb.st_mode & 07777), s->run_as, s->path);
        bad = 1;
    }
    free(dir);
    return bad;
}

/* ------------------------------------------------------- open / close */

static void
store_free(struct store *s)
{
    if (!s)
    {
        return;
    }
    db_close(s);
    if (s->ring)
    {
        for (size_t i = 0; i < s->count; i++)
        {
            free(s->ring[(s->head + i) % s->cap]);
        }
    }
    for (size_t i = s->batch_off; i < s->nbatch; i++)
    {
        free(s->batch[i]);
    }
    free(s->ring);
    free(s->batch);
    free(s->path);
    free(s->instance);
    free(s->run_as);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static uint64_t
random_base(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
    {
        r = (uint64_t)store_now_ms() * 6364136223846793005ULL ^ (uint64_t)getpid() << 32;
    }
    /* Positive in SQLite's signed 64 bits, with room to count up. */
    return (r >> 2) | 1;
}

int
store_open(const struct store_config *cfg, struct ovp_log *log, struct store **out,
           int *degraded)
{
    struct store *s = NULL;
    pthread_condattr_t ca;
    char err[768];
    int created = 0;

    *out = NULL;
    *degraded = 0;
    s = calloc(1, sizeof(*s));
    if (!s)
    {
        ovp_err(log, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->log = log;
    s->path = strdup(cfg->path);
    s->instance = strdup(cfg->instance);
    s->run_as = cfg->run_as_user ? strdup(cfg->run_as_user) : NULL;
    s->flush_ms = cfg->flush_ms > 0 ? cfg->flush_ms : 100;
    s->busy_ms = cfg->busy_ms > 0 ? cfg->busy_ms : 1000;
    s->close_ms = cfg->close_ms >= 0 ? cfg->close_ms : 5000;
    s->retention_days = cfg->retention_days;
    s->sync_full = cfg->synchronous_full;
    s->cap = cfg->queue_size ? cfg->queue_size : 65536;
    s->hiwater = s->cap / 2 < HIWATER_MAX ? s->cap / 2 : HIWATER_MAX;
    s->hiwater = s->hiwater ? s->hiwater : 1;
    s->ring = calloc(s->cap, sizeof(*s->ring));
    s->batch = calloc(s->cap, sizeof(*s->batch));
    if (!s->path || !s->instance || (cfg->run_as_user && !s->run_as) || !s->ring || !s->batch)
    {
        ovp_err(log, "out of memory");
        goto fail;
    }
    s->next_sid = random_base();

    /* Opened now, while still root: later opens (SIGHUP) run as the run-as user. */
    int as_user = 0;
    int rc = db_open_first(s, &created, &as_user, err, sizeof(err));
    if (rc == -1)
    {
        ovp_err(log, "%s", err);
        goto fail;
    }
    if (rc < 0)
    {
        /* A typo in the path is a configuration error; anything else may pass. */
        char *dir = dir_of(s->path);
        struct stat sb;
        if (dir && (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)))
        {
            ovp_err(log, "%s (the directory %s does not exist)", err, dir);
            free(dir);
            goto fail;
        }
        free(dir);
        /*
         * SQLite's reason alone misleads here: a WAL database on a read-only file
         * system, or in a directory where no -shm can be made, "cannot be opened".
         */
        char denied[640];
        access_report(s, denied, sizeof(denied));
        if (denied[0])
        {
            ovp_err(log,
                    "%s; not writable by uid %ld: %s: nothing can be recorded until this is "
                    "fixed (retrying)",
                    err, (long)geteuid(), denied);
        }
        else
        {
            ovp_err(log, "%s: nothing can be recorded until this is fixed (retrying)", err);
        }
        *degraded = 1;
    }
    /*
     * Two live servers under one Instance name would end each other's sessions
     * and addresses at every stop or reload: a configuration error, refused now.
     */
    long long other = 0;
    if (s->db && instance_in_use(s, &other))
    {
        ovp_err(log,
                "Instance '%s' is in use by process %lld on this host, which writes to %s "
                "too: give each OpenVPN server its own Instance name",
                s->instance, other, s->path);
        goto fail;
    }
    if (created)
    {
        ovp_note(log, "created the address database %s (schema version %d)", s->path,
                 SCHEMA_VERSION);
    }
    if (s->db && sqlite3_db_readonly(s->db, "main") == 1)
    {
        char denied[640];
        access_report(s, denied, sizeof(denied));
        ovp_err(log,
                "%s is read-only for uid %ld (%s): nothing can be recorded until it is "
                "writable (events are kept in memory up to QueueSize and retried)",
                s->path, (long)geteuid(), denied[0] ? denied : "no write permission");
        db_close(s); /* reopened by the writer, which then sees fixed permissions */
        *degraded = 1;
    }
    if (check_run_as(s, created && !as_user))
    {
        *degraded = 1;
    }

    int64_t now = mono_ms();
    s->next_heartbeat = now + HEARTBEAT_MS;
    s->next_retention = now + RETENTION_FIRST_MS;
    /* Signals stay with OpenVPN's thread; the thread is reused across a reload (util.h). */
    if (ovp_thread_start(&s->thread, writer_main, s) != 0)
    {
        ovp_err(log, "cannot start the writer thread");
        goto fail;
    }
    s->thread_started = 1;
    *out = s;
    return 0;

fail:
    store_free(s);
    return -1;
}

void
store_close(struct store *s)
{
    if (!s)
    {
        return;
    }
    if (s->thread_started)
    {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        ovp_thread_join(s->thread);
    }
    store_free(s);
}

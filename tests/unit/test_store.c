/* test_store.c: unit tests for learn-address-db's schema, writer thread and queries. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "addr.h"
#include "fakehost.h"
#include "query.h"
#include "schema.h"
#include "store.h"

/* ------------------------------------------------------------ fixture */

struct t
{
    char dir[64];
    char path[128];
    struct ovp_log *log;
    struct store *s;
};

static int
setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "/tmp/ovp-test-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/addr.sqlite", t->dir);
    fakehost_reset();
    t->log = ovp_log_new("lad", fakehost_vlog, 4, 1024);
    assert_non_null(t->log);
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct t *t = *state;
    char p[160];
    store_close(t->s);
    ovp_log_free(t->log);
    const char *const side[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++)
    {
        snprintf(p, sizeof(p), "%s%s", t->path, side[i]);
        unlink(p);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

static struct store_config
config_for(const struct t *t)
{
    struct store_config c = {
        .path = t->path,
        .instance = "test",
        .flush_ms = 20,
        .busy_ms = 100,
        .close_ms = 3000,
        .retention_days = 0,
        .queue_size = 4096,
    };
    return c;
}

static void
open_store(struct t *t, const struct store_config *c)
{
    int degraded = -1;
    assert_int_equal(store_open(c, t->log, &t->s, &degraded), 0);
    assert_int_equal(degraded, 0);
}

static void
close_store(struct t *t)
{
    store_close(t->s);
    t->s = NULL;
    ovp_log_drain(t->log);
}

/* First column of the first row of SQL on a fresh connection, or -1. */
static long long
q_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
    {
        sqlite3_busy_timeout(db, 2000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
        {
            v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs SQL (several statements) on a fresh read-write connection. */
static void
q_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
        fail_msg("%s: %s", sql, msg);
    }
    sqlite3_close(db);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls SQL until it answers WANT (draining the log meanwhile). Returns 1 when it did. */
static int
wait_for(struct t *t, const char *sql, long long want, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    do
    {
        ovp_log_drain(t->log);
        if (q_int(t->path, sql) == want)
        {
            return 1;
        }
        usleep(10000);
    } while (mono_ms() < end);
    return 0;
}

/* Drains the log until a line contains NEEDLE. Returns 1 when one did. */
static int
wait_log(struct t *t, const char *needle, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    do
    {
        ovp_log_drain(t->log);
        if (fakehost_find(needle) >= 0)
        {
            return 1;
        }
        usleep(10000);
    } while (mono_ms() < end);
    return 0;
}

static struct addr
A(const char *text)
{
    struct addr a;
    assert_int_equal(addr_parse(text, &a), 0);
    return a;
}

static void
add(struct t *t, enum store_op op, const char *addr, const char *cn, uint64_t sid, int64_t ms)
{
    struct addr a = A(addr);
    assert_int_equal(store_address(t->s, op, &a, cn, sid, ms), 0);
}

static void
connect_session(struct t *t, uint64_t sid, const char *cn, const char *user, const char *ip,
                long port, int64_t ms)
{
    struct store_session ss = {
        .id = sid,
        .connect_ms = ms,
        .common_name = cn,
        .username = user,
        .real_ip = ip,
        .real_port = port,
        .vaddr4 = "10.8.0.14",
        .vaddr6 = "fd00::14",
    };
    assert_int_equal(store_connect(t->s, &ss), 0);
}

static void
disconnect_session(struct t *t, uint64_t sid, const char *cn, const char *ip, long port,
                   int64_t ms)
{
    struct store_disconnect sd = {
        .id = sid,
        .disconnect_ms = ms,
        .common_name = cn,
        .real_ip = ip,
        .real_port = port,
        .bytes_received = 1000,
        .bytes_sent = 2000,
        .duration_s = 42,
        .reason = "disconnect",
    };
    assert_int_equal(store_disconnect(t->s, &sd), 0);
}

/* ------------------------------------------------------------- schema */

static void
schema__fresh_file_is_created_at_current_version(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512];
    int created = 0;
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 1);
    sqlite3_close(db);
    assert_int_equal(q_int(t->path, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_int_equal(q_int(t->path, "PRAGMA application_id"), SCHEMA_APP_ID);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                    " ('session', 'address_event', 'current_address',"
                                    " 'instance')"),
                     4);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                    " AND name = 'address_event_by_address'"),
                     1);
    /* WAL is a property of the file: a new connection sees it. */
    sqlite3_open(t->path, &db);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void
schema__reopen_keeps_rows_and_does_not_recreate(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512];
    int created = 0;
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, &created, err, sizeof(err)), 0);
    sqlite3_close(db);
    q_exec(t->path, "INSERT INTO instance(name) VALUES ('kept')");
    assert_int_equal(schema_open_rw(t->path, 100, 1, &db, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 0);
    sqlite3_close(db);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM instance WHERE name = 'kept'"), 1);
    /* And the query side accepts it. */
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), 0);
    sqlite3_close(db);
}

static void
schema__version_zero_of_ours_is_migrated(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512], sql[64];
    int created = 0;
    /* Our application id but no schema yet (an interrupted first start). */
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", SCHEMA_APP_ID);
    q_exec(t->path, sql);
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 1);
    sqlite3_close(db);
    assert_int_equal(q_int(t->path, "PRAGMA user_version"), SCHEMA_VERSION);
}

static void
schema__newer_version_is_refused(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512];
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, NULL, err, sizeof(err)), 0);
    sqlite3_close(db);
    q_exec(t->path, "PRAGMA user_version = 99");
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, NULL, err, sizeof(err)), -1);
    assert_null(db);
    assert_non_null(strstr(err, "newer"));
    assert_non_null(strstr(err, t->path));
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(q_int(t->path, "PRAGMA user_version"), 99);
}

static void
schema__foreign_database_is_refused_and_untouched(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512];
    q_exec(t->path, "CREATE TABLE accounts(id INTEGER); PRAGMA user_version = 1");
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "another application"));
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "another application"));
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM sqlite_master"), 1);
}

static void
schema__text_file_is_refused_and_untouched(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512], buf[64] = "";
    const char text[] = "not a database at all, just some text that is long enough\n";
    FILE *f = fopen(t->path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an SQLite database"));
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), -1);
    f = fopen(t->path, "r");
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_int_equal(strncmp(buf, text, 20), 0);
}

static void
schema__empty_file_is_initialised(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512];
    int created = 0;
    int fd = open(t->path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(schema_open_rw(t->path, 100, 0, &db, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 1);
    sqlite3_close(db);
}

/* What schema 3 added, taken away again: a database as the plugin of schema 2 left it. */
#define TO_SCHEMA_2                                                                            \
    "DROP INDEX session_by_end_real_ip;"                                                       \
    "ALTER TABLE session DROP COLUMN end_real_ip;"                                             \
    "ALTER TABLE session DROP COLUMN end_real_port;"

/*
 * Databases written by the plugins of schemas 1 and 2 (sessions in them, one still
 * open) are migrated to schema 3 at open: rows kept, the end address columns empty,
 * and the open session, ending after a float, gets its end address.
 */
static void
schema__older_databases_migrate_to_the_end_address_columns(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    static const char *const downgrade[] = {
        TO_SCHEMA_2 "PRAGMA user_version = 2",
        TO_SCHEMA_2 "ALTER TABLE session DROP COLUMN disconnect_latest_ms;"
                    "ALTER TABLE address_event DROP COLUMN time_latest_ms;"
                    "DROP INDEX session_by_vaddr4; DROP INDEX session_by_vaddr6;"
                    "PRAGMA user_version = 1",
    };
    for (int v = 0; v < 2; v++)
    {
        char p[160];
        const char *const side[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++)
        {
            snprintf(p, sizeof(p), "%s%s", t->path, side[i]);
            unlink(p);
        }
        int64_t now = store_now_ms();
        open_store(t, &c);
        connect_session(t, 810, "old", "old", "192.0.2.81", 81, now - 9000);
        disconnect_session(t, 810, "old", "192.0.2.81", 81, now - 8000);
        assert_true(
            wait_for(t, "SELECT count(*) FROM session WHERE disconnect_ms > 0", 1, 3000));
        /* An open session survives the downgrade: a kill -9 of the old plugin. */
        connect_session(t, 811, "roamer", "roamer", "192.0.2.82", 82, now - 7000);
        assert_true(wait_for(t, "SELECT count(*) FROM session", 2, 3000));
        close_store(t);
        /* Of another instance, so that this store's start does not end it as a restart. */
        q_exec(t->path, "UPDATE session SET disconnect_ms = NULL, end_reason = NULL,"
                        " duration_s = NULL, instance = 'other' WHERE id = 811");
        q_exec(t->path, downgrade[v]);
        assert_int_equal(q_int(t->path, "PRAGMA user_version"), 2 - v);

        sqlite3 *db = NULL;
        char err[512];
        int created = -1;
        assert_int_equal(schema_open_rw(t->path, 100, 0, &db, &created, err, sizeof(err)), 0);
        assert_int_equal(created, 0);
        sqlite3_close(db);
        assert_int_equal(q_int(t->path, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE end_real_ip IS NULL"
                                        " AND end_real_port IS NULL"),
                         2);
        assert_int_equal(q_int(t->path, "SELECT count(*) FROM sqlite_master WHERE name ="
                                        " 'session_by_end_real_ip'"),
                         1);
        /* The session still open in the old file ends at a new address. */
        struct store_disconnect sd = {
            .id = 811,
            .disconnect_ms = now,
            .real_ip = "203.0.113.82",
            .real_port = 4082,
            .bytes_received = -1,
            .bytes_sent = -1,
            .duration_s = -1,
            .reason = "disconnect",
        };
        open_store(t, &c);
        assert_int_equal(store_disconnect(t->s, &sd), 0);
        assert_true(wait_for(t,
                             "SELECT end_real_port FROM session WHERE id = 811"
                             " AND end_real_ip = '203.0.113.82'",
                             4082, 3000));
        close_store(t);
    }
}

/* ovp-addrdb reads a database the plugin of schema 1 wrote (no end intervals there). */
static void
schema__query_side_reads_schema_1(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    sqlite3 *db = NULL;
    char err[256];
    struct qresult r;
    open_store(t, &c);
    connect_session(t, 801, "ivy", "ivy", "192.0.2.80", 80, store_now_ms() - 5000);
    add(t, STORE_ADD, "10.8.0.80", "ivy", 801, store_now_ms() - 4000);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 1, 3000));
    close_store(t);
    q_exec(t->path, TO_SCHEMA_2 "ALTER TABLE session DROP COLUMN disconnect_latest_ms;"
                                "ALTER TABLE address_event DROP COLUMN time_latest_ms;"
                                "PRAGMA user_version = 1");
    if (schema_open_ro(t->path, 100, &db, err, sizeof(err)) < 0)
    {
        fail_msg("%s", err);
    }
    struct addr a = A("10.8.0.80");
    assert_int_equal(query_who(db, &a, store_now_ms() - 4500, &r, err, sizeof(err)), 0);
    query_result_free(&r);
    assert_int_equal(query_who(db, &a, store_now_ms() - 3000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_true(query_cell(&r, 0, "until_latest")->null);
    query_result_free(&r);
    assert_int_equal(query_history(db, QUERY_BY_CN, "ivy", 0, INT64_MAX, &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.nrows, 1);
    query_result_free(&r);
    assert_int_equal(query_current(db, &r, err, sizeof(err)), 0);
    query_result_free(&r);
    sqlite3_close(db);
}

static void
schema__query_side_never_creates_and_explains(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    char err[512];
    struct stat sb;
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(stat(t->path, &sb), -1);
    int fd = open(t->path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(stat(t->path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
}

/* -------------------------------------------------------------- writer */

static void
store__many_events_then_close_all_present(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    c.queue_size = 50000;
    c.flush_ms = 100;
    open_store(t, &c);
    int64_t now = store_now_ms();
    connect_session(t, 7, "bulk", "bulk-user", "192.0.2.1", 1194, now);
    for (int i = 0; i < 20000; i++)
    {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", 64 + i / 65536, (i / 256) % 256, i % 256);
        add(t, STORE_ADD, ip, "bulk", 7, now);
    }
    close_store(t);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'add'"),
                     20000);
    assert_int_equal(q_int(t->path, "SELECT count(DISTINCT address) FROM address_event"),
                     20000);
    /* A clean close releases what this run held, so nothing looks current afterwards. */
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'reset'"),
                     20000);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM current_address"), 0);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE end_reason ="
                                    " 'shutdown' AND disconnect_ms IS NOT NULL"),
                     1);
    assert_int_equal(q_int(t->path, "SELECT closed_ms IS NOT NULL FROM instance"), 1);
    assert_int_equal(fakehost_find("lost"), -1);
    assert_int_equal(fakehost_foreign_calls(), 0);
}

/* CloseTimeout bounds retrying a failing database; a healthy one gets everything. */
static void
store__close_timeout_zero_still_writes_what_is_queued(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    c.close_ms = 0;
    c.flush_ms = 60000; /* nothing is flushed before close */
    open_store(t, &c);
    int64_t now = store_now_ms();
    for (int i = 0; i < 300; i++)
    {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.8.%d.%d", i / 256, i % 256);
        add(t, STORE_ADD, ip, "late", 0, now);
    }
    close_store(t);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'add'"),
                     300);
    assert_int_equal(fakehost_find("lost"), -1);
}

static void
store__flush_interval_is_honoured(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    c.flush_ms = 400;
    open_store(t, &c);
    /* Let the writer's first transaction (registering the instance) pass. */
    assert_true(wait_for(t, "SELECT count(*) FROM instance", 1, 3000));
    int64_t t0 = mono_ms();
    add(t, STORE_ADD, "10.8.0.1", "one", 0, store_now_ms());
    usleep(100000);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event"), 0);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 1, 3000));
    int64_t took = mono_ms() - t0;
    assert_true(took >= 350);
    assert_true(took < 3000);
}

static void
store__a_full_batch_is_flushed_before_the_interval(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    c.flush_ms = 5000;
    c.queue_size = 64; /* the writer is woken at 32 waiting */
    open_store(t, &c);
    assert_true(wait_for(t, "SELECT count(*) FROM instance", 1, 3000));
    int64_t t0 = mono_ms();
    for (int i = 0; i < 32; i++)
    {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.8.1.%d", i);
        add(t, STORE_ADD, ip, "many", 0, store_now_ms());
    }
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 32, 4000));
    assert_true(mono_ms() - t0 < 4000);
}

static void
store__full_queue_drops_are_counted(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    struct store_stats st;
    sqlite3 *blocker = NULL;
    int refused = 0;
    c.queue_size = 16;
    c.busy_ms = 50;
    open_store(t, &c);
    assert_true(wait_for(t, "SELECT count(*) FROM instance", 1, 3000));
    /* Hold the write lock so that the writer cannot empty the queue. */
    assert_int_equal(sqlite3_open(t->path, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 60; i++)
    {
        struct addr a = A("10.8.2.1");
        refused += store_address(t->s, STORE_ADD, &a, "q", 0, store_now_ms()) < 0;
    }
    store_get_stats(t->s, &st);
    assert_true(refused >= 60 - 32); /* at most a queue and a batch in memory */
    assert_int_equal(st.dropped, (unsigned long long)refused);
    assert_int_equal(st.queued + st.dropped, 60);
    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    close_store(t);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'add'"),
                     60 - refused);
}

static void
store__delete_is_attributed_to_the_current_owner(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    open_store(t, &c);
    int64_t now = store_now_ms();
    connect_session(t, 1001, "alice", "alice@example.org", "198.51.100.7", 50000, now);
    add(t, STORE_ADD, "10.8.0.14", "alice", 1001, now + 1);
    add(t, STORE_DELETE, "10.8.0.14", NULL, 0, now + 2);
    /* Unknown address: recorded, owner unknown. */
    add(t, STORE_DELETE, "10.8.0.99", NULL, 0, now + 3);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 3, 3000));
    assert_int_equal(q_int(t->path, "SELECT session_id FROM address_event WHERE op = 'delete'"
                                    " AND address = '10.8.0.14' AND common_name = 'alice'"),
                     1001);
    assert_int_equal(q_int(t->path, "SELECT session_id FROM address_event WHERE op = 'delete'"
                                    " AND address = '10.8.0.99' AND common_name IS NULL"),
                     -2);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM current_address"), 0);
}

static void
store__update_moves_the_address_to_the_new_owner(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    open_store(t, &c);
    int64_t now = store_now_ms();
    add(t, STORE_ADD, "2001:db8::14", "alice", 11, now);
    add(t, STORE_UPDATE, "2001:DB8:0::14", "bob", 12, now + 1);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 2, 3000));
    assert_int_equal(q_int(t->path, "SELECT session_id FROM current_address WHERE address ="
                                    " '2001:db8::14' AND common_name = 'bob'"),
                     12);
    add(t, STORE_DELETE, "2001:db8::14", NULL, 0, now + 2);
    assert_true(
        wait_for(t, "SELECT session_id FROM address_event WHERE op = 'delete'", 12, 3000));
}

static void
store__add_without_client_context_joins_the_open_session(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    open_store(t, &c);
    int64_t now = store_now_ms();
    connect_session(t, 77, "carol", NULL, "192.0.2.9", 1000, now);
    add(t, STORE_ADD, "10.8.0.20", "carol", 0, now + 1);
    assert_true(wait_for(t, "SELECT session_id FROM address_event WHERE address = '10.8.0.20'",
                         77, 3000));
}

static void
store__disconnect_without_id_ends_no_session(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    open_store(t, &c);
    int64_t now = store_now_ms();
    connect_session(t, 501, "dave", "dave", "192.0.2.7", 5000, now - 42000);
    /* Same name, real address and port, but no session id: never someone else's end. */
    disconnect_session(t, 0, "dave", "192.0.2.7", 5000, now);
    disconnect_session(t, 501, "dave", "192.0.2.7", 5000, now);
    assert_true(wait_for(t, "SELECT bytes_sent FROM session WHERE id = 501", 2000, 3000));
    assert_int_equal(q_int(t->path, "SELECT duration_s FROM session WHERE id = 501"), 42);
    struct store_stats st;
    store_get_stats(t->s, &st);
    assert_int_equal(st.queued, 2);
}

/*
 * A UDP client that floated ends at another real address (or port) than it connected
 * from: that end is kept beside the start; an end at the start's address and port, or
 * with no address known, keeps nothing.
 */
static void
store__disconnect_after_a_float_keeps_the_end_address(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    open_store(t, &c);
    int64_t now = store_now_ms();
    connect_session(t, 701, "fay", "fay", "192.0.2.2", 50000, now - 5000);
    connect_session(t, 702, "gus", "gus", "192.0.2.4", 50001, now - 5000);
    connect_session(t, 703, "hal", "hal", "192.0.2.5", 50002, now - 5000);
    connect_session(t, 704, "ida", "ida", "2001:db8::6", 50003, now - 5000);
    connect_session(t, 705, "jon", "jon", "192.0.2.7", 50004, now - 5000);
    disconnect_session(t, 701, "fay", "192.0.2.3", 50000, now);    /* floated */
    disconnect_session(t, 702, "gus", "192.0.2.4", 50001, now);    /* stayed */
    disconnect_session(t, 703, "hal", "192.0.2.5", 61000, now);    /* NAT: new port */
    disconnect_session(t, 704, "ida", "198.51.100.6", 50003, now); /* IPv6 to IPv4 */
    disconnect_session(t, 705, "jon", NULL, -1, now);              /* nothing known */
    assert_true(
        wait_for(t, "SELECT count(*) FROM session WHERE disconnect_ms IS NOT NULL", 5, 3000));
    assert_int_equal(q_int(t->path, "SELECT end_real_port FROM session WHERE id = 701"
                                    " AND end_real_ip = '192.0.2.3' AND real_ip = '192.0.2.2'"),
                     50000);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE id IN (702, 705)"
                                    " AND end_real_ip IS NULL AND end_real_port IS NULL"),
                     2);
    assert_int_equal(q_int(t->path, "SELECT end_real_port FROM session WHERE id = 703"
                                    " AND end_real_ip = '192.0.2.5'"),
                     61000);
    assert_int_equal(q_int(t->path, "SELECT end_real_port FROM session WHERE id = 704"
                                    " AND end_real_ip = '198.51.100.6'"),
                     50003);
}

/* A refused client's end clears the virtual addresses it was offered and never got. */
static void
store__refused_disconnect_clears_the_offered_addresses(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    open_store(t, &c);
    int64_t now = store_now_ms();
    connect_session(t, 601, "erin", "erin", "192.0.2.9", 5000, now - 1000);
    struct store_disconnect sd = {
        .id = 601,
        .disconnect_ms = now,
        .real_port = -1,
        .bytes_received = -1,
        .bytes_sent = -1,
        .duration_s = -1,
        .reason = "refused",
        .refused = 1,
    };
    assert_int_equal(store_disconnect(t->s, &sd), 0);
    assert_true(
        wait_for(t,
                 "SELECT count(*) FROM session WHERE id = 601 AND end_reason = 'refused'"
                 " AND vaddr4 IS NULL AND vaddr6 IS NULL",
                 1, 3000));
}

static void
store__sql_fragments_in_names_are_stored_verbatim(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    static const char *const names[] = {
        "Robert'); DROP TABLE session;--",
        "x' OR '1'='1",
        "quote\"d;semi;colon",
        "back\\slash'--",
        "%s%n%x",
        "sn\xc3\xb6wman \xe2\x98\x83",
        "1); DELETE FROM address_event; SELECT (1",
    };
    const size_t n = sizeof(names) / sizeof(names[0]);
    open_store(t, &c);
    int64_t now = store_now_ms();
    for (size_t i = 0; i < n; i++)
    {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.8.3.%zu", i + 1);
        connect_session(t, 900 + i, names[i], names[i], "192.0.2.50", (long)(4000 + i), now);
        add(t, STORE_ADD, ip, names[i], 900 + i, now + 1);
    }
    close_store(t);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session"), (long long)n);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'add'"),
                     (long long)n);

    sqlite3 *db = NULL;
    char err[512];
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
    {
        struct qresult r;
        assert_int_equal(
            query_history(db, QUERY_BY_CN, names[i], 0, INT64_MAX, &r, err, sizeof(err)), 0);
        assert_int_equal(r.nrows, 1);
        assert_string_equal(query_cell(&r, 0, "common_name")->s, names[i]);
        assert_string_equal(query_cell(&r, 0, "username")->s, names[i]);
        query_result_free(&r);
    }
    sqlite3_close(db);
}

static void
store__locked_database_is_reported_and_rows_land_later(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    sqlite3 *blocker = NULL;
    c.busy_ms = 100;
    open_store(t, &c);
    assert_true(wait_for(t, "SELECT count(*) FROM instance", 1, 3000));

    assert_int_equal(sqlite3_open(t->path, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 10; i++)
    {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.8.4.%d", i);
        add(t, STORE_ADD, ip, "locked-out", 0, store_now_ms());
    }
    assert_true(wait_log(t, "another process holds a lock", 3000));
    assert_int_equal(store_failing(t->s), 1);
    usleep(300000); /* the lock is held for a while, with retries meanwhile */
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event"), 0);

    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 10, 8000));
    assert_true(wait_log(t, "writable again", 3000));
    assert_int_equal(store_failing(t->s), 0);
    assert_int_equal(fakehost_foreign_calls(), 0);
}

/*
 * Runs in a child (as nobody when root, since root writes anything): a
 * read-only database at open is reported, kept events land once it is
 * writable. Returns the exit status: 0 ok, else which check failed.
 */
static int
readonly_child(struct t *t)
{
    struct store_config c = config_for(t);
    sqlite3 *db = NULL;
    char err[512];
    int degraded = 0;

    if (geteuid() == 0 &&
        (chown(t->dir, 65534, 65534) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
    {
        return 10;
    }
    if (schema_open_rw(t->path, 100, 0, &db, NULL, err, sizeof(err)) < 0)
    {
        return 11;
    }
    sqlite3_close(db);
    if (chmod(t->path, 0444) < 0)
    {
        return 12;
    }
    if (store_open(&c, t->log, &t->s, &degraded) < 0 || !degraded)
    {
        return 13;
    }
    ovp_log_drain(t->log);
    if (fakehost_find("read-only") < 0)
    {
        return 14;
    }
    struct addr a = A("10.8.5.1");
    if (store_address(t->s, STORE_ADD, &a, "ro", 0, store_now_ms()) < 0)
    {
        return 15;
    }
    usleep(300000);
    if (q_int(t->path, "SELECT count(*) FROM address_event") != 0 || !store_failing(t->s))
    {
        return 16;
    }
    /* What our message names: the database and the -shm SQLite made with its mode. */
    ovp_log_drain(t->log);
    char shm[200];
    snprintf(shm, sizeof(shm), "%s-shm", t->path);
    if (fakehost_find(shm) < 0)
    {
        return 17;
    }
    if (chmod(t->path, 0644) < 0 || chmod(shm, 0644) < 0)
    {
        return 20;
    }
    if (!wait_for(t, "SELECT count(*) FROM address_event", 1, 10000))
    {
        return 18;
    }
    close_store(t);
    if (fakehost_find("writable again") < 0)
    {
        return 19;
    }
    return 0;
}

static void
store__read_only_database_is_reported_and_recovers(void **state)
{
    struct t *t = *state;
    int status = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        int rc = readonly_child(t);
        if (rc)
        {
            fakehost_dump();
        }
        _exit(rc);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
    {
        fail_msg("read-only child failed at check %d", WEXITSTATUS(status));
    }
}

/*
 * Runs in a child (as nobody when root): a WAL database whose directory cannot
 * take a -shm file cannot be opened at all; the open-time line names the
 * directory as not writable (SQLite alone says "unable to open database file"),
 * and kept events land once it is writable. Returns 0, else the failed check.
 */
static int
unopenable_child(struct t *t)
{
    struct store_config c = config_for(t);
    sqlite3 *db = NULL;
    char err[512], want[200];
    int degraded = 0;

    if (geteuid() == 0 &&
        (chown(t->dir, 65534, 65534) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
    {
        return 10;
    }
    if (schema_open_rw(t->path, 100, 0, &db, NULL, err, sizeof(err)) < 0)
    {
        return 11;
    }
    sqlite3_close(db); /* the last connection: -wal and -shm go */
    if (chmod(t->dir, 0555) < 0)
    {
        return 12;
    }
    if (store_open(&c, t->log, &t->s, &degraded) < 0 || !degraded)
    {
        return 13;
    }
    ovp_log_drain(t->log);
    snprintf(want, sizeof(want), "not writable by uid %ld: %s: nothing can be recorded",
             (long)geteuid(), t->dir);
    if (fakehost_find(want) < 0)
    {
        return 14;
    }
    struct addr a = A("10.8.6.1");
    if (store_address(t->s, STORE_ADD, &a, "shm", 0, store_now_ms()) < 0)
    {
        return 15;
    }
    if (chmod(t->dir, 0755) < 0)
    {
        return 16;
    }
    if (!wait_for(t, "SELECT count(*) FROM address_event", 1, 10000))
    {
        return 17;
    }
    close_store(t);
    return 0;
}

static void
store__unopenable_database_at_open_names_what_is_not_writable(void **state)
{
    struct t *t = *state;
    int status = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        int rc = unopenable_child(t);
        if (rc)
        {
            fakehost_dump();
        }
        _exit(rc);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
    {
        fail_msg("unopenable child failed at check %d", WEXITSTATUS(status));
    }
}

/*
 * Takes CAP_CHOWN from this process (effective, permitted and bounding set),
 * as Debian's openvpn-server@.service does. Returns 0, or -1.
 */
static int
drop_cap_chown(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
    {
        return -1;
    }
    d[0].effective &= ~(1u << CAP_CHOWN);
    d[0].permitted &= ~(1u << CAP_CHOWN);
    d[0].inheritable &= ~(1u << CAP_CHOWN);
    if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0) < 0)
    {
        return -1;
    }
    return 0;
}

/*
 * Runs in a child as root without CAP_CHOWN: the database the store creates
 * for RunAsUser nobody, and its -wal and -shm, belong to nobody; after the
 * privilege drop a reopen (SIGHUP) as nobody writes. Returns 0, 77 (not root),
 * else the failed check.
 */
static int
no_chown_child(struct t *t)
{
    struct store_config c = config_for(t);
    char side[200];
    struct stat sb;
    int degraded = 0;

    if (geteuid() != 0)
    {
        return 77;
    }
    c.run_as_user = "nobody";
    if (chown(t->dir, 65534, 65534) < 0 || chmod(t->dir, 0750) < 0)
    {
        return 10;
    }
    if (drop_cap_chown() < 0)
    {
        return 11;
    }
    if (store_open(&c, t->log, &t->s, &degraded) < 0 || degraded)
    {
        return 12;
    }
    for (int i = 0; i < 3; i++)
    {
        snprintf(side, sizeof(side), "%s%s", t->path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        if (stat(side, &sb) < 0 || sb.st_uid != 65534 || sb.st_gid != 65534)
        {
            fprintf(stderr, "%s: owner %ld\n", side, (long)sb.st_uid);
            return 20 + i;
        }
    }
    add(t, STORE_ADD, "10.8.7.1", "root-run", 0, store_now_ms());
    if (!wait_for(t, "SELECT count(*) FROM address_event", 1, 5000))
    {
        return 13;
    }
    if (fakehost_find("cannot give") >= 0 || fakehost_find("cannot write") >= 0)
    {
        return 14;
    }
    close_store(t);
    /* OpenVPN drops privileges; a SIGHUP reopens the plugin as nobody. */
    if (setgid(65534) < 0 || setuid(65534) < 0)
    {
        return 15;
    }
    if (store_open(&c, t->log, &t->s, &degraded) < 0 || degraded)
    {
        return 16;
    }
    add(t, STORE_ADD, "10.8.7.2", "after-reload", 0, store_now_ms());
    if (!wait_for(t, "SELECT count(*) FROM address_event", 2, 5000))
    {
        return 17;
    }
    close_store(t);
    if (fakehost_find("read-only") >= 0 || fakehost_find("cannot write") >= 0)
    {
        return 18;
    }
    return 0;
}

/*
 * The database directory belongs to RunAsUser (nobody), as it must for reloads
 * after the privilege drop. A compromised OpenVPN, running as nobody, may leave a
 * symlink there pointing at a file only root may create (/etc/profile.d/x.sh, a
 * systemd unit). At the next start, as root, the store must not follow it: no
 * file is created there, and none is given to nobody.
 */
static void
store__root_never_follows_a_symlink_the_run_as_user_planted(void **state)
{
    struct t *t = *state;
    if (geteuid() != 0)
    {
        skip(); /* needs root, as OpenVPN at start */
    }
    char victim[64], target[128], side[160];
    struct stat sb;
    int degraded = 0;
    snprintf(victim, sizeof(victim), "/tmp/ovp-test-victim-XXXXXX");
    assert_non_null(mkdtemp(victim));
    assert_int_equal(chmod(victim, 0755), 0); /* only root may create files here */
    snprintf(target, sizeof(target), "%s/profile.sh", victim);
    assert_int_equal(chown(t->dir, 65534, 65534), 0);
    assert_int_equal(chmod(t->dir, 0755), 0);
    assert_int_equal(symlink(target, t->path), 0); /* planted by nobody */

    struct store_config c = config_for(t);
    c.run_as_user = "nobody";
    int rc = store_open(&c, t->log, &t->s, &degraded);
    int created = lstat(target, &sb) == 0;
    uid_t owner = created ? sb.st_uid : 0;
    store_close(t->s);
    t->s = NULL;
    for (int i = 0; i < 3; i++)
    {
        snprintf(side, sizeof(side), "%s%s", target, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        unlink(side);
    }
    unlink(t->path);
    rmdir(victim);
    assert_int_equal(owner, 0);
    assert_false(created);
    assert_true(rc < 0 || degraded);
}

static void
store__new_database_belongs_to_run_as_user_without_cap_chown(void **state)
{
    struct t *t = *state;
    int status = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        int rc = no_chown_child(t);
        if (rc && rc != 77)
        {
            fakehost_dump();
        }
        _exit(rc);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
    {
        print_message("SKIP: needs root (switching to nobody)\n");
        skip();
    }
    if (WEXITSTATUS(status) != 0)
    {
        fail_msg("child without CAP_CHOWN failed at check %d", WEXITSTATUS(status));
    }
}

/* A process id that is certainly not running. */
static pid_t
dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
    {
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return pid;
}

static void
store__restart_closes_what_a_crashed_run_left_open(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    char host[256] = "", sql[1024];
    int64_t seen = store_now_ms() - 3600000;
    gethostname(host, sizeof(host) - 1);
    open_store(t, &c);
    close_store(t);
    /* What a kill -9 leaves: an open session, a held address, no closed_ms. */
    snprintf(
        sql, sizeof(sql),
        "UPDATE instance SET pid = %d, hostname = '%s', closed_ms = NULL,"
        " last_seen_ms = %lld;"
        "INSERT INTO session(id, instance, common_name, connect_ms)"
        " VALUES (5, 'test', 'eve', %lld);"
        "INSERT INTO address_event(time_ms, instance, op, address, kind, common_name,"
        " session_id) VALUES (%lld, 'test', 'add', '10.8.0.50', 'ipv4', 'eve', 5);"
        "INSERT INTO current_address VALUES ('test', '10.8.0.50', 'ipv4', 'eve', 5, %lld);",
        (int)dead_pid(), host, (long long)seen, (long long)(seen - 60000),
        (long long)(seen - 59000), (long long)(seen - 59000));
    q_exec(t->path, sql);

    /* Until the next start, current shows eve, flagged: her server is dead. */
    sqlite3 *db = NULL;
    char err[256];
    struct qresult r;
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), 0);
    assert_int_equal(query_current(db, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "eve");
    assert_string_equal(query_cell(&r, 0, "instance_state")->s, "dead");
    query_result_free(&r);

    fakehost_reset();
    int64_t before = store_now_ms();
    open_store(t, &c);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM session WHERE id = 5 AND end_reason = 'restart'"
             " AND disconnect_ms = %lld AND duration_s = 60 AND disconnect_latest_ms >= %lld",
             (long long)seen, (long long)before);
    assert_true(wait_for(t, sql, 1, 3000));
    /* The end lies between the last sign of life and the restart: who says both. */
    struct addr a = A("10.8.0.50");
    assert_int_equal(query_who(db, &a, seen + 30000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "eve");
    assert_int_equal(query_cell(&r, 0, "until")->i, seen);
    assert_true(query_cell(&r, 0, "until_latest")->i >= before);
    assert_string_equal(query_cell(&r, 0, "instance_state")->s, "running");
    query_result_free(&r);
    sqlite3_close(db);
    snprintf(sql, sizeof(sql),
             "SELECT session_id FROM address_event WHERE op = 'reset' AND time_ms = %lld"
             " AND address = '10.8.0.50' AND common_name = 'eve'",
             (long long)seen);
    assert_int_equal(q_int(t->path, sql), 5);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM current_address"), 0);
    assert_int_equal(q_int(t->path, "SELECT pid FROM instance"), getpid());
    assert_true(wait_log(t, "stopped without closing", 1000));
}

static void
store__instance_of_a_live_process_is_refused(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    char host[256] = "", sql[512];
    int degraded = 0;
    gethostname(host, sizeof(host) - 1);
    open_store(t, &c);
    close_store(t);
    /* The parent process, registered now (after it started): a live server. */
    snprintf(sql, sizeof(sql),
             "UPDATE instance SET pid = %d, hostname = '%s', closed_ms = NULL;"
             "INSERT INTO session(id, instance, common_name, connect_ms)"
             " VALUES (6, 'test', 'frank', 1);",
             (int)getppid(), host);
    q_exec(t->path, sql);

    fakehost_reset();
    assert_int_equal(store_open(&c, t->log, &t->s, &degraded), -1);
    assert_null(t->s);
    assert_true(wait_log(t, "Instance 'test' is in use by process", 1000));
    assert_int_equal(q_int(t->path, "SELECT disconnect_ms IS NULL FROM session WHERE id = 6"),
                     1);

    /* The same pid registered long before that process started: a reused pid. */
    q_exec(t->path, "UPDATE instance SET opened_ms = 1000, last_seen_ms = 1000");
    fakehost_reset();
    open_store(t, &c);
    assert_true(
        wait_for(t, "SELECT end_reason = 'restart' FROM session WHERE id = 6", 1, 3000));
}

static void
store__retention_deletes_old_rows_in_batches_and_keeps_current_ones(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    char sql[1024];
    int64_t now = store_now_ms(), old = now - 10 * 86400000LL;
    open_store(t, &c);
    close_store(t);
    /* Another instance's history: 1500 ended sessions and 1500 events, 10 days old. */
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)"
             " INSERT INTO session(id, instance, common_name, connect_ms, disconnect_ms)"
             " SELECT 10000 + i, 'other', 'old' || i, %lld, %lld FROM n;"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)"
             " INSERT INTO address_event(time_ms, instance, op, address, kind, common_name)"
             " SELECT %lld + j, 'other', CASE j WHEN 0 THEN 'add' ELSE 'reset' END,"
             " '10.20.' || (i / 256) || '.' || (i %% 256), 'ipv4', 'old' || i"
             " FROM n, (SELECT 0 AS j UNION ALL SELECT 500) ORDER BY i, j;",
             (long long)old, (long long)(old + 1000), (long long)old);
    q_exec(t->path, sql);
    /* Still current (connected 10 days ago): its session and its add stay. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO session(id, instance, common_name, connect_ms)"
             " VALUES (20000, 'other', 'long', %lld);"
             "INSERT INTO address_event(time_ms, instance, op, address, kind, common_name,"
             " session_id) VALUES (%lld, 'other', 'add', '10.30.0.1', 'ipv4', 'long', 20000);"
             "INSERT INTO current_address VALUES ('other', '10.30.0.1', 'ipv4', 'long', 20000,"
             " %lld);"
             "INSERT INTO address_event(time_ms, instance, op, address, kind)"
             " VALUES (%lld, 'other', 'delete', '10.20.0.1', 'ipv4');",
             (long long)old, (long long)old, (long long)old, (long long)now);
    q_exec(t->path, sql);

    c.retention_days = 1;
    fakehost_reset();
    open_store(t, &c);
    assert_true(wait_for(t, "SELECT count(*) FROM session WHERE instance = 'other'", 1, 15000));
    assert_true(
        wait_for(t, "SELECT count(*) FROM address_event WHERE instance = 'other'", 2, 5000));
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE id = 20000"), 1);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE address ="
                                    " '10.30.0.1'"),
                     1);
    assert_true(
        wait_log(t, "retention: deleted 1500 session(s) and 3000 address event(s)", 3000));
    struct store_stats st;
    store_get_stats(t->s, &st);
    assert_int_equal(st.retention, 4500);
}

/*
 * RetentionDays 1: a client that connected two days ago and left twelve hours
 * ago held its address eighteen hours ago, and who --at still says so; the
 * holdings that ended before the cutoff go.
 */
static void
store__retention_keeps_the_start_of_a_holding_that_reaches_into_the_window(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    char sql[1024];
    int64_t now = store_now_ms(), h = 3600000;
    open_store(t, &c);
    close_store(t);
    snprintf(sql, sizeof(sql),
             "INSERT INTO instance VALUES ('other', 'elsewhere', 1, 1, 1, 1);"
             "INSERT INTO session(id, instance, common_name, connect_ms, disconnect_ms)"
             " VALUES (7000, 'other', 'gina', %lld, %lld);"
             "INSERT INTO address_event(time_ms, instance, op, address, kind, common_name,"
             " session_id) VALUES (%lld, 'other', 'add', '10.40.0.1', 'ipv4', 'gina', 7000),"
             " (%lld, 'other', 'delete', '10.40.0.1', 'ipv4', 'gina', 7000),"
             " (%lld, 'other', 'add', '10.40.0.2', 'ipv4', 'hal', NULL),"
             " (%lld, 'other', 'delete', '10.40.0.2', 'ipv4', 'hal', NULL);",
             (long long)(now - 48 * h), (long long)(now - 12 * h), (long long)(now - 48 * h),
             (long long)(now - 12 * h), (long long)(now - 40 * h), (long long)(now - 30 * h));
    q_exec(t->path, sql);
    c.retention_days = 1;
    fakehost_reset();
    open_store(t, &c);
    assert_true(wait_log(t, "retention: deleted 0 session(s) and 2 address event(s)", 15000));

    sqlite3 *db = NULL;
    char err[256];
    struct qresult r;
    struct addr a = A("10.40.0.1");
    assert_int_equal(schema_open_ro(t->path, 100, &db, err, sizeof(err)), 0);
    assert_int_equal(query_who(db, &a, now - 18 * h, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "gina");
    assert_int_equal(query_cell(&r, 0, "since")->i, now - 48 * h);
    query_result_free(&r);
    sqlite3_close(db);
}

/* ------------------------------------------------------------- queries */

/*
 * A small history: alice holds 10.8.0.14 from T+1 s to T+5 s; bob gets it at
 * T+7 s with an iroute 10.9.0.0/24 and is still connected. T is an hour ago.
 */
static int64_t
story(struct t *t)
{
    struct store_config c = config_for(t);
    int64_t T = store_now_ms() - 3600000;
    open_store(t, &c);
    connect_session(t, 301, "alice", "alice@example.org", "198.51.100.7", 50000, T);
    add(t, STORE_ADD, "10.8.0.14", "alice", 301, T + 1000);
    disconnect_session(t, 301, "alice", "198.51.100.7", 50000, T + 4000);
    add(t, STORE_DELETE, "10.8.0.14", NULL, 0, T + 5000);
    connect_session(t, 302, "bob", "bob@example.org", "2001:db8:ffff::9", 40000, T + 6000);
    add(t, STORE_ADD, "10.8.0.14", "bob", 302, T + 7000);
    add(t, STORE_ADD, "10.9.0.0/24", "bob", 302, T + 7000);
    add(t, STORE_ADD, "02:00:5e:00:53:01@0", "bob", 302, T + 7000);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 5, 3000));
    return T;
}

static sqlite3 *
open_ro(struct t *t)
{
    sqlite3 *db = NULL;
    char err[512];
    if (schema_open_ro(t->path, 100, &db, err, sizeof(err)) < 0)
    {
        fail_msg("%s", err);
    }
    return db;
}

static void
query__who_answers_for_a_past_time(void **state)
{
    struct t *t = *state;
    struct qresult r;
    char err[256];
    int64_t T = story(t);
    sqlite3 *db = open_ro(t);
    struct addr a = A("10.8.0.14");

    assert_int_equal(query_who(db, &a, T + 2000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "alice");
    assert_string_equal(query_cell(&r, 0, "username")->s, "alice@example.org");
    assert_string_equal(query_cell(&r, 0, "real_ip")->s, "198.51.100.7");
    assert_int_equal(query_cell(&r, 0, "real_port")->i, 50000);
    assert_int_equal(query_cell(&r, 0, "since")->i, T + 1000);
    assert_int_equal(query_cell(&r, 0, "until")->i, T + 5000);
    assert_int_equal(query_cell(&r, 0, "session_ended")->i, T + 4000);
    assert_string_equal(query_cell(&r, 0, "instance")->s, "test");
    query_result_free(&r);

    assert_int_equal(query_who(db, &a, T + 5500, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);
    assert_int_equal(query_who(db, &a, T - 1, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);

    assert_int_equal(query_who(db, &a, T + 8000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    assert_string_equal(query_cell(&r, 0, "real_ip")->s, "2001:db8:ffff::9");
    assert_true(query_cell(&r, 0, "until")->null);
    query_result_free(&r);
    sqlite3_close(db);
}

/*
 * The wall clock steps back 5 s between alice's add and bob's takeover: bob's
 * event is stored no earlier than alice's, and who names bob, the holder now.
 */
static void
query__who_after_a_clock_step_back_names_the_later_holder(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    struct qresult r;
    char err[256];
    int64_t T = store_now_ms() - 60000;
    open_store(t, &c);
    add(t, STORE_ADD, "10.8.0.90", "alice", 0, T);
    add(t, STORE_UPDATE, "10.8.0.90", "bob", 0, T - 5000);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 2, 3000));
    assert_int_equal(q_int(t->path, "SELECT min(time_ms) FROM address_event WHERE"
                                    " common_name = 'bob'"),
                     T);
    sqlite3 *db = open_ro(t);
    struct addr a = A("10.8.0.90");
    assert_int_equal(query_who(db, &a, T + 1000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    query_result_free(&r);
    /* A database written before times were kept in order: the row order decides. */
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE address_event SET time_ms = %lld WHERE op = 'update'",
             (long long)(T - 5000));
    close_store(t);
    q_exec(t->path, sql);
    assert_int_equal(query_who(db, &a, T + 1000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    query_result_free(&r);
    sqlite3_close(db);
}

/*
 * TAP mode: OpenVPN learns the client's MAC, never its IP; who IP answers from
 * the session the address was given to, once (not again in TUN mode, where
 * the address has its own events).
 */
static void
query__who_ip_in_tap_mode_answers_from_the_session(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    struct qresult r;
    char err[256];
    int64_t T = store_now_ms() - 60000;
    open_store(t, &c);
    connect_session(t, 901, "tapper", "tapper", "192.0.2.90", 90, T);
    add(t, STORE_ADD, "02:00:5e:00:53:90", "tapper", 901, T + 100);
    disconnect_session(t, 901, "tapper", "192.0.2.90", 90, T + 5000);
    assert_true(
        wait_for(t, "SELECT count(*) FROM session WHERE disconnect_ms IS NOT NULL", 1, 3000));
    sqlite3 *db = open_ro(t);
    struct addr a = A("10.8.0.14");
    assert_int_equal(query_who(db, &a, T + 2000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "tapper");
    assert_string_equal(query_cell(&r, 0, "source")->s, "session");
    assert_int_equal(query_cell(&r, 0, "until")->i, T + 5000);
    query_result_free(&r);
    a = A("fd00:0::14");
    assert_int_equal(query_who(db, &a, T + 2000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    query_result_free(&r);
    assert_int_equal(query_who(db, &a, T + 6000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);
    /* TUN: the same vaddr learned by learn-address answers once, as learned. */
    connect_session(t, 902, "tunner", "tunner", "192.0.2.91", 91, T + 10000);
    add(t, STORE_ADD, "10.8.0.14", "tunner", 902, T + 10100);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 2, 3000));
    assert_int_equal(query_who(db, &a, T + 20000, &r, err, sizeof(err)), 0);
    query_result_free(&r);
    a = A("10.8.0.14");
    assert_int_equal(query_who(db, &a, T + 20000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "source")->s, "learn-address");
    query_result_free(&r);
    sqlite3_close(db);
}

static void
query__who_finds_an_address_inside_an_iroute_and_a_mac(void **state)
{
    struct t *t = *state;
    struct qresult r;
    char err[256];
    int64_t T = story(t);
    sqlite3 *db = open_ro(t);
    struct addr a = A("10.9.0.77");
    assert_int_equal(query_who(db, &a, T + 8000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "address")->s, "10.9.0.0/24");
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    query_result_free(&r);

    a = A("02:00:5E:00:53:01");
    assert_int_equal(query_who(db, &a, T + 8000, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    query_result_free(&r);
    sqlite3_close(db);
}

/*
 * Times are stored in milliseconds but shown and typed in seconds: a second
 * asked about covers the holder at its start and everyone who took the
 * address during it, so the second of a connect or of a quick reuse is answered.
 */
static void
query__who_over_a_second_covers_connect_disconnect_and_quick_reuse(void **state)
{
    struct t *t = *state;
    struct qresult r;
    char err[256];
    struct store_config c = config_for(t);
    int64_t S = (store_now_ms() / 1000 - 3600) * 1000; /* a whole second */
    open_store(t, &c);
    connect_session(t, 401, "carol", "carol", "192.0.2.3", 1000, S);
    add(t, STORE_ADD, "10.8.0.50", "carol", 401, S + 350);
    add(t, STORE_UPDATE, "10.8.0.50", "carol", 401, S + 600); /* roaming: same owner */
    /* carol leaves and dave gets the address within the same millisecond. */
    add(t, STORE_DELETE, "10.8.0.50", NULL, 0, S + 5250);
    connect_session(t, 402, "dave", "dave", "192.0.2.4", 1000, S + 5250);
    add(t, STORE_ADD, "10.8.0.50", "dave", 402, S + 5250);
    assert_true(wait_for(t, "SELECT count(*) FROM address_event", 4, 3000));
    sqlite3 *db = open_ro(t);
    struct addr a = A("10.8.0.50");

    /* The exact instant before the add: nobody. */
    assert_int_equal(query_who(db, &a, S, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);
    /* The second of the connect: carol, once (her update is no new holding). */
    assert_int_equal(query_who_between(db, &a, S, S + 999, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "carol");
    assert_int_equal(query_cell(&r, 0, "since")->i, S + 350);
    assert_int_equal(query_cell(&r, 0, "until")->i, S + 5250);
    query_result_free(&r);
    /* The second of the disconnect and reuse: carol until .250, then dave. */
    assert_int_equal(query_who_between(db, &a, S + 5000, S + 5999, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 2);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "carol");
    assert_string_equal(query_cell(&r, 1, "common_name")->s, "dave");
    assert_string_equal(query_cell(&r, 1, "real_ip")->s, "192.0.2.4");
    assert_true(query_cell(&r, 1, "until")->null);
    query_result_free(&r);
    /* Exactly at the reuse: dave only. */
    assert_int_equal(query_who(db, &a, S + 5250, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "dave");
    query_result_free(&r);
    sqlite3_close(db);
}

static void
query__current_lists_open_sessions_with_their_addresses(void **state)
{
    struct t *t = *state;
    struct qresult r;
    char err[256];
    story(t);
    sqlite3 *db = open_ro(t);
    assert_int_equal(query_current(db, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    assert_string_equal(query_cell(&r, 0, "addresses")->s,
                        "02:00:5e:00:53:01 10.8.0.14 10.9.0.0/24");
    assert_int_equal(query_cell(&r, 0, "session_id")->i, 302);
    query_result_free(&r);
    sqlite3_close(db);

    /* After a clean close nobody is current. */
    close_store(t);
    db = open_ro(t);
    assert_int_equal(query_current(db, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);
    sqlite3_close(db);
}

/* The statements a query ran, in order (sqlite3_trace_v2 on the reader's handle). */
struct stmt_log
{
    char stmt[32][24]; /* the first word of each */
    int n;
};

static int
log_stmt(unsigned type, void *ctx, void *p, void *x)
{
    struct stmt_log *l = ctx;
    (void)type;
    (void)x;
    const char *sql = sqlite3_sql((sqlite3_stmt *)p);
    if (l->n < 32 && sql)
    {
        while (*sql == ' ' || *sql == '\n')
        {
            sql++;
        }
        snprintf(l->stmt[l->n], sizeof(l->stmt[0]), "%.*s", (int)strcspn(sql, " \n("), sql);
        l->n++;
    }
    return 0;
}

/* Every statement behind one answer reads one snapshot: BEGIN first, COMMIT last. */
static void
query__statements_of_one_answer_share_one_read_transaction(void **state)
{
    struct t *t = *state;
    struct qresult r;
    char err[256];
    struct stmt_log l;
    story(t);
    sqlite3 *db = open_ro(t);
    memset(&l, 0, sizeof(l));
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, log_stmt, &l);
    assert_int_equal(query_current(db, &r, err, sizeof(err)), 0);
    query_result_free(&r);
    assert_true(l.n >= 3);
    assert_string_equal(l.stmt[0], "BEGIN");
    assert_string_equal(l.stmt[l.n - 1], "COMMIT");
    for (int i = 1; i < l.n - 1; i++)
    {
        assert_string_not_equal(l.stmt[i], "COMMIT"); /* no snapshot ends in between */
        assert_string_not_equal(l.stmt[i], "BEGIN");
    }
    memset(&l, 0, sizeof(l));
    assert_int_equal(
        query_history(db, QUERY_BY_CN, "alice", 0, INT64_MAX, &r, err, sizeof(err)), 0);
    query_result_free(&r);
    assert_true(l.n >= 3);
    assert_string_equal(l.stmt[0], "BEGIN");
    assert_string_equal(l.stmt[l.n - 1], "COMMIT");
    sqlite3_trace_v2(db, 0, NULL, NULL);
    sqlite3_close(db);
}

static void
query__history_filters_by_user_cn_real_ip_and_time(void **state)
{
    struct t *t = *state;
    struct qresult r;
    char err[256];
    int64_t T = story(t);
    sqlite3 *db = open_ro(t);

    assert_int_equal(
        query_history(db, QUERY_BY_CN, "alice", 0, INT64_MAX, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(query_cell(&r, 0, "bytes_sent")->i, 2000);
    assert_int_equal(query_cell(&r, 0, "disconnected")->i, T + 4000);
    assert_string_equal(query_cell(&r, 0, "end_reason")->s, "disconnect");
    assert_string_equal(query_cell(&r, 0, "addresses")->s, "10.8.0.14");
    query_result_free(&r);

    assert_int_equal(
        query_history(db, QUERY_BY_USER, "bob@example.org", 0, INT64_MAX, &r, err, sizeof(err)),
        0);
    assert_int_equal(r.nrows, 1);
    assert_true(query_cell(&r, 0, "disconnected")->null);
    query_result_free(&r);

    /* The real address is matched in its normalised spelling. */
    assert_int_equal(query_history(db, QUERY_BY_REAL_IP, "2001:DB8:FFFF:0::9", 0, INT64_MAX, &r,
                                   err, sizeof(err)),
                     0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "bob");
    query_result_free(&r);

    /* alice's session ended at T+4 s: a window after it finds nothing, one across it does. */
    assert_int_equal(
        query_history(db, QUERY_BY_CN, "alice", T + 4500, INT64_MAX, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);
    assert_int_equal(
        query_history(db, QUERY_BY_CN, "alice", T + 3000, T + 3500, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nrows, 1);
    query_result_free(&r);
    assert_int_equal(query_history(db, QUERY_BY_CN, "alice", 0, T - 1, &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.nrows, 0);
    query_result_free(&r);
    sqlite3_close(db);
}

/*
 * fay connected from 192.0.2.2 and floated to 192.0.2.3; gus connected from
 * 192.0.2.3 later: history --real-ip 192.0.2.3 finds both sessions, fay's with her
 * end address, and the start address still finds hers.
 */
static void
query__history_by_real_ip_finds_a_session_by_its_end_address(void **state)
{
    struct t *t = *state;
    struct store_config c = config_for(t);
    struct qresult r;
    char err[256];
    int64_t T = store_now_ms() - 60000;
    open_store(t, &c);
    connect_session(t, 711, "fay", "fay", "192.0.2.2", 50000, T);
    disconnect_session(t, 711, "fay", "192.0.2.3", 50001, T + 5000);
    connect_session(t, 712, "gus", "gus", "192.0.2.3", 40000, T + 6000);
    connect_session(t, 713, "hal", "hal", "192.0.2.9", 40000, T + 7000);
    disconnect_session(t, 713, "hal", "192.0.2.9", 40000, T + 8000);
    assert_true(wait_for(t, "SELECT count(*) FROM session", 3, 3000));
    assert_true(
        wait_for(t, "SELECT count(*) FROM session WHERE disconnect_ms IS NOT NULL", 2, 3000));
    sqlite3 *db = open_ro(t);

    assert_int_equal(
        query_history(db, QUERY_BY_REAL_IP, "192.0.2.3", 0, INT64_MAX, &r, err, sizeof(err)),
        0);
    assert_int_equal(r.nrows, 2);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "fay");
    assert_string_equal(query_cell(&r, 0, "real_ip")->s, "192.0.2.2");
    assert_int_equal(query_cell(&r, 0, "real_port")->i, 50000);
    assert_string_equal(query_cell(&r, 0, "end_real_ip")->s, "192.0.2.3");
    assert_int_equal(query_cell(&r, 0, "end_real_port")->i, 50001);
    assert_string_equal(query_cell(&r, 1, "common_name")->s, "gus");
    assert_true(query_cell(&r, 1, "end_real_ip")->null);
    assert_true(query_cell(&r, 1, "end_real_port")->null);
    query_result_free(&r);

    /* The window still applies: before fay's end, after gus's start. */
    assert_int_equal(query_history(db, QUERY_BY_REAL_IP, "192.0.2.3", T + 5500, INT64_MAX, &r,
                                   err, sizeof(err)),
                     0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "gus");
    query_result_free(&r);

    assert_int_equal(
        query_history(db, QUERY_BY_REAL_IP, "192.0.2.2", 0, INT64_MAX, &r, err, sizeof(err)),
        0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "fay");
    query_result_free(&r);
    /* An unchanged end is no second match. */
    assert_int_equal(
        query_history(db, QUERY_BY_REAL_IP, "192.0.2.9", 0, INT64_MAX, &r, err, sizeof(err)),
        0);
    assert_int_equal(r.nrows, 1);
    assert_true(query_cell(&r, 0, "end_real_ip")->null);
    query_result_free(&r);
    sqlite3_close(db);

    /* A schema 2 database (no end addresses) is read, by its start addresses only. */
    close_store(t);
    q_exec(t->path, TO_SCHEMA_2 "PRAGMA user_version = 2");
    db = open_ro(t);
    assert_int_equal(
        query_history(db, QUERY_BY_REAL_IP, "192.0.2.3", 0, INT64_MAX, &r, err, sizeof(err)),
        0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(query_cell(&r, 0, "common_name")->s, "gus");
    assert_true(query_cell(&r, 0, "end_real_ip")->null);
    query_result_free(&r);
    sqlite3_close(db);
}

static void
time__unix_seconds_and_iso8601_are_parsed(void **state)
{
    int64_t ms = 0;
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(query_parse_time("1715688180", &ms), 0);
    assert_int_equal(ms, 1715688180000LL);
    assert_int_equal(query_parse_time("@1715688180.25", &ms), 0);
    assert_int_equal(ms, 1715688180250LL);
    assert_int_equal(query_parse_time("2024-05-14T12:03:00Z", &ms), 0);
    assert_int_equal(ms, 1715688180000LL);
    assert_int_equal(query_parse_time("2024-05-14T14:03:00+02:00", &ms), 0);
    assert_int_equal(ms, 1715688180000LL);
    assert_int_equal(query_parse_time("2024-05-14T07:03:00-0500", &ms), 0);
    assert_int_equal(ms, 1715688180000LL);
    assert_int_equal(query_parse_time("2024-05-14 12:03:00.5Z", &ms), 0);
    assert_int_equal(ms, 1715688180500LL);
    assert_int_equal(query_parse_time("2024-05-14 12:03", &ms), 0); /* local = UTC here */
    assert_int_equal(ms, 1715688180000LL);
    assert_int_equal(query_parse_time("2024-05-14", &ms), 0);
    assert_int_equal(ms, 1715644800000LL);
    assert_int_equal(query_parse_time("2024-02-29T00:00Z", &ms), 0);
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    assert_int_equal(query_parse_time("2024-05-14 14:03", &ms), 0); /* CEST, +02:00 */
    assert_int_equal(ms, 1715688180000LL);
    unsetenv("TZ");
    tzset();
}

static void
time__span_is_the_unit_of_the_last_field_given(void **state)
{
    int64_t from = 0, to = 0;
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(query_parse_time_span("2024-05-14T12:03:07Z", &from, &to), 0);
    assert_int_equal(from, 1715688187000LL);
    assert_int_equal(to, 1715688187999LL);
    assert_int_equal(query_parse_time_span("1715688187", &from, &to), 0);
    assert_int_equal(to - from, 999);
    assert_int_equal(query_parse_time_span("2024-05-14T12:03:07.250Z", &from, &to), 0);
    assert_int_equal(from, 1715688187250LL);
    assert_int_equal(to, from);
    assert_int_equal(query_parse_time_span("@1715688187.0", &from, &to), 0);
    assert_int_equal(to, from);
    assert_int_equal(query_parse_time_span("2024-05-14 12:03", &from, &to), 0);
    assert_int_equal(to - from, 59999);
    assert_int_equal(query_parse_time_span("2024-05-14", &from, &to), 0);
    assert_int_equal(to - from, 86399999);
    /* A local day across the end of DST is 25 hours long. */
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    assert_int_equal(query_parse_time_span("2024-10-27", &from, &to), 0);
    assert_int_equal(to - from, 25 * 3600000LL - 1);
    assert_int_equal(query_parse_time_span("2024-13-27", &from, &to), -1);
    unsetenv("TZ");
    tzset();
}

static void
time__garbage_is_refused(void **state)
{
    int64_t ms = 0;
    (void)state;
    const char *const bad[] = {
        "",
        "yesterday",
        "12:00",
        "2024-13-01",
        "2024-02-30",
        "2023-02-29",
        "2024-5-14",
        "2024-05-14T25:00Z",
        "2024-05-14T12:60Z",
        "2024-05-14T12:03:00+2",
        "2024-05-14T12:03:00+02:00x",
        "1715688180x",
        "17156.",
        "@",
        "2024-05-14T",
        "1969-12-31",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        if (query_parse_time(bad[i], &ms) == 0)
        {
            fail_msg("'%s' was accepted as %lld", bad[i], (long long)ms);
        }
    }
    assert_int_equal(query_parse_time(NULL, &ms), -1);
}

static void
time__format_is_iso8601_utc_with_milliseconds(void **state)
{
    char buf[64];
    (void)state;
    query_format_time(1715688180123LL, 1, buf, sizeof(buf));
    assert_string_equal(buf, "2024-05-14T12:03:00.123Z");
    query_format_time(1715688180000LL, 1, buf, sizeof(buf));
    assert_string_equal(buf, "2024-05-14T12:03:00Z");
    setenv("TZ", "UTC", 1);
    tzset();
    query_format_time(1715688180000LL, 0, buf, sizeof(buf));
    assert_string_equal(buf, "2024-05-14 12:03:00+00:00");
    /* Local times carry their offset, and --at reads them back to the same moment. */
    setenv("TZ", "America/St_Johns", 1); /* -02:30 in May */
    tzset();
    query_format_time(1715688180000LL, 0, buf, sizeof(buf));
    assert_string_equal(buf, "2024-05-14 09:33:00-02:30");
    int64_t ms = 0;
    assert_int_equal(query_parse_time(buf, &ms), 0);
    assert_int_equal(ms, 1715688180000LL);
    unsetenv("TZ");
    tzset();
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(schema__fresh_file_is_created_at_current_version),
        T(schema__reopen_keeps_rows_and_does_not_recreate),
        T(schema__version_zero_of_ours_is_migrated),
        T(schema__newer_version_is_refused),
        T(schema__foreign_database_is_refused_and_untouched),
        T(schema__text_file_is_refused_and_untouched),
        T(schema__empty_file_is_initialised),
        T(schema__query_side_never_creates_and_explains),
        T(schema__query_side_reads_schema_1),
        T(schema__older_databases_migrate_to_the_end_address_columns),
        T(store__many_events_then_close_all_present),
        T(store__close_timeout_zero_still_writes_what_is_queued),
        T(store__flush_interval_is_honoured),
        T(store__a_full_batch_is_flushed_before_the_interval),
        T(store__full_queue_drops_are_counted),
        T(store__delete_is_attributed_to_the_current_owner),
        T(store__update_moves_the_address_to_the_new_owner),
        T(store__add_without_client_context_joins_the_open_session),
        T(store__disconnect_without_id_ends_no_session),
        T(store__refused_disconnect_clears_the_offered_addresses),
        T(store__disconnect_after_a_float_keeps_the_end_address),
        T(store__sql_fragments_in_names_are_stored_verbatim),
        T(store__locked_database_is_reported_and_rows_land_later),
        T(store__read_only_database_is_reported_and_recovers),
        T(store__unopenable_database_at_open_names_what_is_not_writable),
        T(store__new_database_belongs_to_run_as_user_without_cap_chown),
        T(store__root_never_follows_a_symlink_the_run_as_user_planted),
        T(store__restart_closes_what_a_crashed_run_left_open),
        T(store__instance_of_a_live_process_is_refused),
        T(store__retention_deletes_old_rows_in_batches_and_keeps_current_ones),
        T(store__retention_keeps_the_start_of_a_holding_that_reaches_into_the_window),
        T(query__who_answers_for_a_past_time),
        T(query__who_finds_an_address_inside_an_iroute_and_a_mac),
        T(query__who_ip_in_tap_mode_answers_from_the_session),
        T(query__who_after_a_clock_step_back_names_the_later_holder),
        T(query__who_over_a_second_covers_connect_disconnect_and_quick_reuse),
        T(query__current_lists_open_sessions_with_their_addresses),
        T(query__statements_of_one_answer_share_one_read_transaction),
        T(query__history_filters_by_user_cn_real_ip_and_time),
        T(query__history_by_real_ip_finds_a_session_by_its_end_address),
        cmocka_unit_test(time__unix_seconds_and_iso8601_are_parsed),
        cmocka_unit_test(time__span_is_the_unit_of_the_last_field_given),
        cmocka_unit_test(time__garbage_is_refused),
        cmocka_unit_test(time__format_is_iso8601_utc_with_milliseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

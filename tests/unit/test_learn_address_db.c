/* test_learn_address_db.c: ovp-learn-address-db.so driven through dlopen the way OpenVPN does. */
#include "ovpbuild.h"

#include <dlfcn.h>
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
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "fakehost.h"

typedef int (*open_v3_fn)(int, struct openvpn_plugin_args_open_in const *,
                          struct openvpn_plugin_args_open_return *);
typedef int (*func_v3_fn)(int, struct openvpn_plugin_args_func_in const *,
                          struct openvpn_plugin_args_func_return *);
typedef void (*close_fn)(openvpn_plugin_handle_t);
typedef void *(*ctor_fn)(openvpn_plugin_handle_t);
typedef void (*dtor_fn)(openvpn_plugin_handle_t, void *);

/* A minimal OpenVPN 2.6 host around the plugin. */
struct host
{
    void *so;
    open_v3_fn open;
    func_v3_fn func;
    close_fn close;
    ctor_fn ctor;
    dtor_fn dtor;
    openvpn_plugin_handle_t handle;
    int mask;
    void *top;    /* the host's own per-client context, used for learn-address delete */
    void *client; /* a client still connected when the host closes */
};

struct t
{
    char dir[64];
    char path[128];
    char dbarg[160];
    struct host h;
};

static char plugin_path[1024];
/* The open env of the next host_open, when a test sets one (reset by setup). */
static const char **open_envp;

static const char *
find_plugin(void)
{
    const char *p = getenv("OVP_LAD_PLUGIN");
    const char *top = getenv("top_builddir");
    if (p)
    {
        return p;
    }
    snprintf(plugin_path, sizeof(plugin_path),
             "%s/learn-address-db/.libs/ovp-learn-address-db.so", top ? top : "../..");
    return plugin_path;
}

static int
setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "/tmp/ovp-test-lad-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/addr.sqlite", t->dir);
    snprintf(t->dbarg, sizeof(t->dbarg), "database=%s", t->path);
    fakehost_reset();
    open_envp = NULL;
    *state = t;
    return 0;
}

static void
host_close(struct host *h)
{
    if (h->handle)
    {
        /* As OpenVPN at exit: client instances go, then the top context, then close. */
        if (h->client)
        {
            h->dtor(h->handle, h->client);
            h->client = NULL;
        }
        h->dtor(h->handle, h->top);
        h->close(h->handle);
        h->handle = NULL;
    }
    if (h->so)
    {
        dlclose(h->so);
        h->so = NULL;
    }
}

static int
teardown(void **state)
{
    struct t *t = *state;
    char p[200];
    host_close(&t->h);
    const char *const side[] = {"", "-wal", "-shm", "-journal", ".conf"};
    for (size_t i = 0; i < 5; i++)
    {
        snprintf(p, sizeof(p), "%s%s", t->path, side[i]);
        unlink(p);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

/* dlopen + open_v3 with ARGS after argv[0]. Returns the open's verdict. */
static int
host_open(struct host *h, const char *const *args)
{
    const char *argv[16] = {find_plugin()};
    static const char *default_envp[] = {"verb=4", "config=/etc/openvpn/server.conf", NULL};
    const char **envp = open_envp ? open_envp : default_envp;
    struct stat sb;
    size_t n = 1;

    if (stat(find_plugin(), &sb) < 0)
    {
        print_message("SKIP: %s not built\n", find_plugin());
        skip();
    }
    for (; args && args[n - 1] && n < 15; n++)
    {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    h->so = dlopen(find_plugin(), RTLD_NOW | RTLD_LOCAL);
    if (!h->so)
    {
        fail_msg("dlopen %s: %s", find_plugin(), dlerror());
    }
    h->open = (open_v3_fn)dlsym(h->so, "openvpn_plugin_open_v3");
    h->func = (func_v3_fn)dlsym(h->so, "openvpn_plugin_func_v3");
    h->close = (close_fn)dlsym(h->so, "openvpn_plugin_close_v1");
    h->ctor = (ctor_fn)dlsym(h->so, "openvpn_plugin_client_constructor_v1");
    h->dtor = (dtor_fn)dlsym(h->so, "openvpn_plugin_client_destructor_v1");
    assert_true(h->open && h->func && h->close && h->ctor && h->dtor);

    struct openvpn_plugin_args_open_in in = {
        .type_mask = 0xffff, .argv = argv, .envp = envp, .callbacks = &fakehost_callbacks};
    struct openvpn_plugin_args_open_return ret = {0};
    int rc = h->open(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret);
    if (rc == OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        assert_non_null(ret.handle);
        h->handle = ret.handle;
        h->mask = ret.type_mask;
        h->top = h->ctor(h->handle);
    }
    else
    {
        assert_null(ret.handle);
        dlclose(h->so);
        h->so = NULL;
    }
    return rc;
}

static int
call(struct host *h, int type, const char *const *args, const char *const *envp, void *client)
{
    const char *argv[8] = {find_plugin()};
    static const char *const no_env[] = {NULL};
    for (size_t i = 0; args && args[i] && i < 6; i++)
    {
        argv[i + 1] = args[i];
    }
    struct openvpn_plugin_string_list *list = NULL;
    struct openvpn_plugin_args_func_in in = {
        .type = type,
        .argv = argv,
        .envp = envp ? (const char **)envp : (const char **)no_env,
        .handle = h->handle,
        .per_client_context = client,
    };
    struct openvpn_plugin_args_func_return ret = {.return_list = &list};
    int rc = h->func(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret);
    assert_null(list); /* this plugin never pushes client config */
    return rc;
}

static int
learn(struct host *h, const char *op, const char *addr, const char *cn, const char *const *envp,
      void *client)
{
    const char *args[] = {op, addr, cn, NULL};
    return call(h, OPENVPN_PLUGIN_LEARN_ADDRESS, args, envp, client);
}

static const char *const alice_env[] = {
    "common_name=alice",
    "username=alice@example.org",
    "trusted_ip=198.51.100.7",
    "trusted_port=50000",
    "ifconfig_pool_remote_ip=10.8.0.14",
    "ifconfig_pool_remote_ip6=2001:db8::1000",
    "time_unix=1715688180",
    NULL,
};

static const char *const alice_gone_env[] = {
    "common_name=alice",       "username=alice@example.org",
    "trusted_ip=198.51.100.7", "trusted_port=50000",
    "bytes_received=12345",    "bytes_sent=67890",
    "time_duration=3600",      NULL,
};

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

/* --------------------------------------------------------------- open */

static void
open__inline_config_registers_three_events(void **state)
{
    struct t *t = *state;
    const char *args[] = {t->dbarg, "instance=vpn-a", "flushinterval=20ms", NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(t->h.mask, OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_LEARN_ADDRESS) |
                                    OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2) |
                                    OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_DISCONNECT));
    assert_true(fakehost_find("recording to") >= 0);
    assert_true(fakehost_find("instance 'vpn-a'") >= 0);
    /* Opened (and created) at open time, before OpenVPN would drop privileges. */
    assert_int_equal(q_int(t->path, "PRAGMA user_version"), 3);
}

/* Two servers on one host get different default names: host name and config file. */
static void
open__default_instance_names_host_and_config(void **state)
{
    struct t *t = *state;
    char host[256] = "", want[512];
    const char *args[] = {t->dbarg, NULL};
    gethostname(host, sizeof(host) - 1);
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    snprintf(want, sizeof(want), "instance '%s:/etc/openvpn/server.conf'", host);
    assert_true(fakehost_find(want) >= 0);
}

static void
open__unknown_key_fails_naming_it(void **state)
{
    struct t *t = *state;
    const char *args[] = {t->dbarg, "colour=blue", NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("colour") >= 0);
}

static void
open__missing_database_key_fails(void **state)
{
    struct t *t = *state;
    const char *args[] = {"instance=x", NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("Database") >= 0);
}

static void
open__missing_directory_fails_clearly(void **state)
{
    struct t *t = *state;
    const char *args[] = {"database=/nonexistent-ovp-dir/addr.sqlite", NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("does not exist") >= 0);
}

/* OpenVPN with daemon (no --cd) sits in /: a relative database path is refused. */
static void
open__relative_database_under_daemon_fails_clearly(void **state)
{
    struct t *t = *state;
    static const char *envp[] = {"verb=4", "daemon=1", NULL};
    const char *args[] = {"database=ovp-test-relative.sqlite", NULL};
    char cwd[1024];
    struct stat sb;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/"), 0);
    open_envp = envp;
    int rc = host_open(&t->h, args);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("is a relative path") >= 0);
    assert_int_equal(stat("/ovp-test-relative.sqlite", &sb), -1);
}

static void
open__foreign_database_fails(void **state)
{
    struct t *t = *state;
    sqlite3 *db = NULL;
    sqlite3_open(t->path, &db);
    sqlite3_exec(db, "CREATE TABLE users(name TEXT)", NULL, NULL, NULL);
    sqlite3_close(db);
    const char *args[] = {t->dbarg, NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("another application") >= 0);
}

static void
open__config_file_is_read(void **state)
{
    struct t *t = *state;
    char conf[200];
    snprintf(conf, sizeof(conf), "%s.conf", t->path);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "# learn-address-db test\n"
            "Database \"%s\"\n"
            "Instance \"vpn-1; DROP TABLE instance\"\n"
            "FlushInterval 20ms   # short for the test\n"
            "OnDatabaseError open\n"
            "RetentionDays 400\n",
            t->path);
    fclose(f);
    const char *args[] = {conf, NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    host_close(&t->h);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM instance WHERE name ="
                                    " 'vpn-1; DROP TABLE instance'"),
                     1);
}

static void
open__annotated_example_config_loads(void **state)
{
    struct t *t = *state;
    char example[1024], conf[200], line[1024];
    const char *top = getenv("top_srcdir");
    snprintf(example, sizeof(example), "%s/learn-address-db/learn-address-db.conf.example",
             top ? top : "../..");
    snprintf(conf, sizeof(conf), "%s.conf", t->path);
    FILE *in = fopen(example, "r");
    if (!in)
    {
        print_message("SKIP: %s not found (set top_srcdir)\n", example);
        skip();
    }
    FILE *out = fopen(conf, "w");
    assert_non_null(out);
    /* Every key as shipped, but this test's database and no user switch. */
    while (fgets(line, sizeof(line), in))
    {
        if (strncmp(line, "Database ", 9) == 0)
        {
            fprintf(out, "Database %s\n", t->path);
        }
        else if (strncmp(line, "RunAsUser ", 10) != 0)
        {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    const char *args[] = {conf, NULL};
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_true(fakehost_find("instance 'vpn-udp'") >= 0);
    assert_true(fakehost_find("retention 365 day(s)") >= 0);
}

/* ---------------------------------------------------------- lifecycle */

static void
lifecycle__connect_learn_delete_disconnect_are_recorded(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "instance=vpn-a", "flushinterval=20ms", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);

    void *alice = h->ctor(h->handle);
    assert_non_null(alice);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, alice),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(learn(h, "add", "10.8.0.14", "alice", alice_env, alice),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(learn(h, "add", "2001:DB8:0::1000", "alice", alice_env, alice),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(learn(h, "add", "10.9.0.0/24", "alice", alice_env, alice),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, alice_gone_env, alice),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    h->dtor(h->handle, alice);
    /* Later, from the reaper: no cn, an empty env, the host's top-level context. */
    assert_int_equal(learn(h, "delete", "10.8.0.14", NULL, NULL, h->top),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    host_close(h);

    const char *p = t->path;
    assert_int_equal(q_int(p, "SELECT count(*) FROM session WHERE common_name = 'alice'"
                              " AND username = 'alice@example.org' AND real_ip ="
                              " '198.51.100.7' AND real_port = 50000 AND vaddr4 = '10.8.0.14'"
                              " AND vaddr6 = '2001:db8::1000' AND bytes_received = 12345"
                              " AND bytes_sent = 67890 AND duration_s = 3600"
                              " AND end_reason = 'disconnect' AND instance = 'vpn-a'"
                              " AND connect_ms = 1715688180000"),
                     1);
    long long sid = q_int(p, "SELECT id FROM session");
    assert_true(sid > 0);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM address_event WHERE op = 'add' AND common_name = 'alice'"
             " AND session_id = %lld AND address IN ('10.8.0.14', '2001:db8::1000',"
             " '10.9.0.0/24')",
             sid);
    assert_int_equal(q_int(p, sql), 3);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM address_event WHERE op = 'delete' AND address ="
             " '10.8.0.14' AND common_name = 'alice' AND session_id = %lld",
             sid);
    assert_int_equal(q_int(p, sql), 1);
    /* The two addresses never deleted are released at close. */
    assert_int_equal(q_int(p, "SELECT count(*) FROM address_event WHERE op = 'reset'"), 2);
    assert_true(fakehost_find("closed: 6 event(s) queued, 0 dropped") >= 0);
    assert_int_equal(fakehost_foreign_calls(), 0);
}

static void
lifecycle__client_refused_later_ends_its_session(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "flushinterval=20ms", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *c = h->ctor(h->handle);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, c),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    /* Another plugin refused the client: OpenVPN never calls client-disconnect. */
    h->dtor(h->handle, c);
    host_close(h);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE end_reason = 'refused'"
                                    " AND disconnect_ms IS NOT NULL"),
                     1);
}

/*
 * OpenVPN 2.6 calls CLIENT_DISCONNECT after every client-connect failure: a
 * client refused by a later handler ends 'refused', without the address it was
 * offered and never learned (TUN mode).
 */
static void
lifecycle__refused_by_a_later_handler_has_no_address(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "flushinterval=20ms", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *c = h->ctor(h->handle);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, c),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    /* A script after us refused: the disconnect comes at once, no learn-address. */
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, alice_gone_env, c),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    h->dtor(h->handle, c);
    host_close(h);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE end_reason = 'refused'"
                                    " AND vaddr4 IS NULL AND vaddr6 IS NULL"
                                    " AND disconnect_ms IS NOT NULL"),
                     1);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session"), 1);
}

/* A connected client (its address learned) that leaves at once is an ordinary end. */
static void
lifecycle__quick_disconnect_after_learning_is_ordinary(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "flushinterval=20ms", NULL};
    static const char *const tap_env[] = {
        "common_name=tess", "trusted_ip=198.51.100.8",
        "trusted_port=1",   "ifconfig_pool_remote_ip=10.8.0.20",
        "dev_type=tap",     NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *c = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, c);
    learn(h, "add", "10.8.0.14", "alice", alice_env, c);
    call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, alice_gone_env, c);
    h->dtor(h->handle, c);
    /* TAP: addresses are learned from traffic, so no learn-address proves nothing. */
    void *tap = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, tap_env, tap);
    call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, tap_env, tap);
    h->dtor(h->handle, tap);
    host_close(h);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE end_reason ="
                                    " 'disconnect' AND vaddr4 IS NOT NULL"),
                     2);
}

/*
 * A v1 handler refused the client before our client-connect: OpenVPN still
 * sends us its disconnect. Nothing is ended, least of all another session with
 * the same name, real address and port.
 */
static void
lifecycle__disconnect_without_connect_ends_no_other_session(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "flushinterval=20ms", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *alice = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, alice);
    learn(h, "add", "10.8.0.14", "alice", alice_env, alice);
    void *again = h->ctor(h->handle);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, alice_gone_env, again),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    h->dtor(h->handle, again);
    h->client = alice;
    for (int i = 0; i < 100 && q_int(t->path, "SELECT count(*) FROM address_event") != 1; i++)
    {
        usleep(20000);
    }
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE disconnect_ms IS NULL"),
                     1);
}

static void
lifecycle__reopen_like_sighup_closes_the_previous_run(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "instance=vpn-a", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *c = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, c);
    learn(h, "add", "10.8.0.14", "alice", alice_env, c);
    h->dtor(h->handle, c); /* a restart frees instances without disconnects here */
    host_close(h);
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    host_close(h);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE disconnect_ms IS NULL"),
                     0);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM current_address"), 0);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'reset'"
                                    " AND common_name = 'alice'"),
                     1);
}

static void
lifecycle__names_with_sql_fragments_are_stored_verbatim(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, NULL};
    const char *cn = "x'); DROP TABLE session; --\"; SELECT '";
    char cn_env[128], user_env[128];
    snprintf(cn_env, sizeof(cn_env), "common_name=%s", cn);
    snprintf(user_env, sizeof(user_env), "username=%s", "o'brien;--");
    const char *env[] = {cn_env, user_env, "trusted_ip=192.0.2.5", "trusted_port=1", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *c = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, env, c);
    learn(h, "add", "10.8.0.66", cn, env, c);
    h->dtor(h->handle, c);
    host_close(h);

    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT s.common_name, s.username, e.common_name FROM"
                                        " session s JOIN address_event e ON e.session_id ="
                                        " s.id WHERE e.op = 'add'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), cn);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "o'brien;--");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), cn);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ------------------------------------------------------------ failures */

static void
learn_address__garbage_is_logged_and_passes_when_open(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(learn(h, "add", "10.8.0.14:1194", "alice", alice_env, NULL),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(learn(h, "frobnicate", "10.8.0.14", "alice", alice_env, NULL),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_true(fakehost_find("is not an IPv4 or IPv6 address") >= 0);
    assert_true(fakehost_find("unknown operation 'frobnicate'") >= 0);
    host_close(h);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM address_event"), 0);
}

static void
learn_address__garbage_add_is_refused_when_closed(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "ondatabaseerror=closed", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(learn(h, "add", "not-an-address", "alice", alice_env, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(learn(h, "delete", "not-an-address", NULL, NULL, h->top),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
}

/* Holds the database's write lock from another connection. */
static sqlite3 *
lock_db(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void
wait_registered(const char *path)
{
    for (int i = 0; i < 300 && q_int(path, "SELECT count(*) FROM instance") != 1; i++)
    {
        usleep(10000);
    }
}

static void
learn_address__full_queue_is_reported_and_the_vpn_unaffected_when_open(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "queuesize=16", "busytimeout=50ms", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    wait_registered(t->path);
    sqlite3 *blocker = lock_db(t->path);
    for (int i = 0; i < 60; i++)
    {
        assert_int_equal(learn(h, "add", "10.8.0.14", "alice", alice_env, NULL),
                         OPENVPN_PLUGIN_FUNC_SUCCESS);
    }
    assert_true(fakehost_find("event queue full (QueueSize 16)") >= 0);
    assert_true(fakehost_find("the VPN is unaffected") >= 0);
    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    host_close(h);
    assert_true(fakehost_find("dropped because the queue was full") >= 0);
    assert_int_equal(fakehost_find(" 0 dropped because"), -1);
}

static void
learn_address__failing_database_refuses_when_closed(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "ondatabaseerror=closed", "busytimeout=50ms",
                          "flushinterval=10ms", NULL};
    int refused = 0;
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    wait_registered(t->path);
    sqlite3 *blocker = lock_db(t->path);
    void *c = h->ctor(h->handle);
    /* The first events are accepted; once the writer fails, routes and clients are refused. */
    for (int i = 0; i < 200 && !refused; i++)
    {
        refused =
            learn(h, "add", "10.8.0.14", "alice", alice_env, c) == OPENVPN_PLUGIN_FUNC_ERROR;
        usleep(5000);
    }
    assert_true(refused);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, c),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(learn(h, "delete", "10.8.0.14", NULL, NULL, h->top),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_true(fakehost_find("OnDatabaseError closed") >= 0);
    assert_true(fakehost_find("another process holds a lock") >= 0);
    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    h->dtor(h->handle, c);
    host_close(h);
}

/* --------------------------------------------------------------- crash */

/* The child: load, write events; report how many were queued a few flushes ago. */
static void
crash_child(struct t *t, int fd)
{
    struct host h;
    const char *args[] = {t->dbarg, "flushinterval=20ms", NULL};
    memset(&h, 0, sizeof(h));
    if (host_open(&h, args) != OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        _exit(2);
    }
    void *c = h.ctor(h.handle);
    call(&h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, c);
    for (long i = 0;; i++)
    {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.%ld.%ld.%ld", 64 + (i / 65536) % 64, (i / 256) % 256,
                 i % 256);
        learn(&h, "add", ip, "alice", alice_env, c);
        if (i == 3000)
        {
            usleep(300000); /* many flush intervals: all of these are committed */
            char msg[32];
            int n = snprintf(msg, sizeof(msg), "%ld\n", i + 1);
            if (write(fd, msg, (size_t)n) != n)
            {
                _exit(3);
            }
        }
        if (i % 100 == 0)
        {
            usleep(1000);
        }
    }
}

static void
crash__kill9_under_load_keeps_what_was_flushed_and_the_file_intact(void **state)
{
    struct t *t = *state;
    struct stat sb;
    int fds[2];
    char buf[32] = "";
    if (stat(find_plugin(), &sb) < 0)
    {
        skip();
    }
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        close(fds[0]);
        crash_child(t, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    usleep(100000); /* still under load */
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(n > 0);
    assert_true(WIFSIGNALED(status));
    long flushed = strtol(buf, NULL, 10);
    assert_int_equal(flushed, 3001);

    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(q_int(t->path, "SELECT count(*) FROM address_event WHERE op = 'add'") >=
                flushed);
    assert_int_equal(q_int(t->path, "SELECT count(*) FROM session WHERE disconnect_ms IS NULL"),
                     1);

    /* The next start closes what the killed run left open. */
    const char *args[] = {t->dbarg, NULL};
    fakehost_reset();
    assert_int_equal(host_open(&t->h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    host_close(&t->h);
    assert_int_equal(
        q_int(t->path, "SELECT count(*) FROM session WHERE end_reason = 'restart'"), 1);
    assert_true(fakehost_find("stopped without closing") >= 0);
}

/* ------------------------------------------------------- the query tool */

static char tool_path[1024];

static const char *
find_tool(void)
{
    const char *p = getenv("OVP_ADDRDB");
    const char *top = getenv("top_builddir");
    if (p)
    {
        return p;
    }
    snprintf(tool_path, sizeof(tool_path), "%s/learn-address-db/ovp-addrdb",
             top ? top : "../..");
    return tool_path;
}

/* Reads FD to its end into BUF (NUL-terminated, cut at LEN - 1). */
static void
slurp(int fd, char *buf, size_t len)
{
    size_t off = 0;
    ssize_t n;
    char sink[256];
    while ((n = read(fd, off < len - 1 ? buf + off : sink,
                     off < len - 1 ? len - 1 - off : sizeof(sink))) > 0)
    {
        off += off < len - 1 ? (size_t)n : 0;
    }
    buf[off] = '\0';
}

/* Runs ovp-addrdb with ARGS; captures stdout and stderr. Returns its exit status. */
static int
tool(char *out, size_t outlen, char *err, size_t errlen, const char *const *args)
{
    const char *argv[16] = {find_tool()};
    int po[2], pe[2], status = 0;
    struct stat sb;
    if (stat(find_tool(), &sb) < 0)
    {
        print_message("SKIP: %s not built\n", find_tool());
        skip();
    }
    for (size_t i = 0; args[i] && i < 14; i++)
    {
        argv[i + 1] = args[i];
    }
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        setenv("TZ", "UTC", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    slurp(po[0], out, outlen); /* outputs here are small: stderr cannot fill meanwhile */
    slurp(pe[0], err, errlen);
    close(po[0]);
    close(pe[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static const char *const bob_env[] = {
    "common_name=bob",    "username=bob@example.org",          "trusted_ip6=2001:db8:ffff::9",
    "trusted_port=40000", "ifconfig_pool_remote_ip=10.8.0.14", NULL,
};

/* alice came and went; bob holds 10.8.0.14 and the iroute 10.9.0.0/24, and is on now. */
static void
populate(struct t *t)
{
    struct host *h = &t->h;
    const char *args[] = {t->dbarg, "instance=vpn-a", "flushinterval=10ms", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *a = h->ctor(h->handle), *b = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, alice_env, a);
    learn(h, "add", "10.8.0.14", "alice", alice_env, a);
    call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, alice_gone_env, a);
    h->dtor(h->handle, a);
    learn(h, "delete", "10.8.0.14", NULL, NULL, h->top);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, bob_env, b);
    learn(h, "add", "10.8.0.14", "bob", bob_env, b);
    learn(h, "add", "10.9.0.0/24", "bob", bob_env, b);
    for (int i = 0; i < 300 && q_int(t->path, "SELECT count(*) FROM address_event") != 4; i++)
    {
        usleep(10000);
    }
    /* bob stays connected: the tool reads while the plugin writes (WAL). */
    h->client = b;
}

static void
addrdb__who_answers_now_at_a_time_and_through_iroutes(void **state)
{
    struct t *t = *state;
    char out[8192], err[1024];
    populate(t);
    const char *now[] = {"--db", t->path, "who", "10.8.0.14", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), now), 0);
    assert_non_null(strstr(out, "common_name"));
    assert_non_null(strstr(out, "bob@example.org"));
    assert_non_null(strstr(out, "2001:db8:ffff::9"));
    assert_null(strstr(out, "alice"));

    const char *old[] = {"--db", t->path, "who", "10.8.0.14", "--at", "2000-01-01T00:00Z",
                         NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), old), 1);
    assert_non_null(strstr(err, "nobody held 10.8.0.14 at 2000-01-01 00:00:00"));

    const char *inner[] = {"--db", t->path, "--json", "who", "10.9.0.200", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), inner), 0);
    assert_non_null(strstr(out, "\"address\": \"10.9.0.0/24\""));
    assert_non_null(strstr(out, "\"common_name\": \"bob\""));
    assert_non_null(strstr(out, "\"until\": null"));

    const char *csv[] = {"--db", t->path, "--csv", "who", "10.8.0.14", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), csv), 0);
    assert_int_equal(strncmp(out, "instance,address,common_name,username,", 38), 0);
}

static void
addrdb__current_and_history(void **state)
{
    struct t *t = *state;
    char out[8192], err[1024];
    populate(t);
    const char *cur[] = {"--db", t->path, "current", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), cur), 0);
    assert_non_null(strstr(out, "bob"));
    assert_non_null(strstr(out, "10.8.0.14 10.9.0.0/24"));
    assert_null(strstr(out, "alice"));

    const char *hist[] = {"--db", t->path, "history", "--cn", "alice", "--json", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), hist), 0);
    assert_non_null(strstr(out, "\"connected\": \"2024-05-14T12:03:00Z\""));
    assert_non_null(strstr(out, "\"bytes_sent\": 67890"));
    assert_non_null(strstr(out, "\"end_reason\": \"disconnect\""));

    const char *ip[] = {"--db",    t->path,      "history", "--real-ip",  "198.51.100.7",
                        "--since", "1715688180", "--until", "2030-01-01", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), ip), 0);
    assert_non_null(strstr(out, "alice@example.org"));

    const char *none[] = {"--db", t->path, "history", "--user", "mallory", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), none), 1);
    assert_non_null(strstr(err, "no sessions match"));
}

static void
addrdb__errors_have_their_exit_codes(void **state)
{
    struct t *t = *state;
    char out[4096], err[1024];
    const char *missing[] = {"--db", t->path, "current", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), missing), 3);
    assert_non_null(strstr(err, "No such file"));

    sqlite3 *db = NULL;
    sqlite3_open(t->path, &db);
    sqlite3_exec(db, "CREATE TABLE users(name TEXT)", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), missing), 3);
    assert_non_null(strstr(err, "another application"));

    const char *nodb[] = {"current", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), nodb), 2);
    const char *badtime[] = {"--db", t->path, "who", "10.8.0.1", "--at", "noon", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), badtime), 2);
    assert_non_null(strstr(err, "not a time"));
    const char *badaddr[] = {"--db", t->path, "who", "10.8.0.1:1194", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), badaddr), 2);
    const char *nosel[] = {"--db", t->path, "history", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), nosel), 2);
    const char *twosel[] = {"--db", t->path, "history", "--cn", "a", "--user", "b", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), twosel), 2);
    const char *cmd[] = {"--db", t->path, "whom", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), cmd), 2);
    const char *opt[] = {"--db", t->path, "--frobnicate", "current", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), opt), 2);
    const char *help[] = {"--help", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), help), 0);
    assert_non_null(strstr(out, "usage: ovp-addrdb"));
}

static void
addrdb__control_characters_never_reach_the_terminal(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    char out[8192], err[1024];
    const char *args[] = {t->dbarg, "flushinterval=10ms", NULL};
    const char *env[] = {"common_name=evil\x1b]0;pwned\x07\n", "trusted_ip=192.0.2.9",
                         "trusted_port=9", NULL};
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *c = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, env, c);
    for (int i = 0; i < 300 && q_int(t->path, "SELECT count(*) FROM session") != 1; i++)
    {
        usleep(10000);
    }
    const char *cur[] = {"--db", t->path, "current", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), cur), 0);
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(out, "evil?]0;pwned??"));
    const char *json[] = {"--db", t->path, "--json", "current", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), json), 0);
    assert_non_null(strstr(out, "evil\\u001b]0;pwned\\u0007\\u000a"));
    h->client = c;
}

/*
 * A UDP client that floated: OpenVPN's client-disconnect env has the new address in
 * trusted_ip and trusted_port (set afresh for the disconnect) and still the old one
 * in untrusted_ip. After a float from IPv4 to IPv6 both trusted_ip (stale) and
 * trusted_ip6 are there, the newest first, as OpenVPN's env list orders them.
 * history --real-ip finds each session by its end address, which every output shows.
 */
static void
addrdb__a_client_that_floated_is_found_by_its_end_address(void **state)
{
    struct t *t = *state;
    struct host *h = &t->h;
    char out[8192], err[1024];
    const char *args[] = {t->dbarg, "instance=vpn-a", "flushinterval=10ms", NULL};
    static const char *const kim_env[] = {
        "untrusted_ip=192.0.2.2",
        "untrusted_port=40000",
        "trusted_ip=192.0.2.2",
        "trusted_port=40000",
        "common_name=kim",
        "username=kim",
        "time_unix=1715688180",
        "ifconfig_pool_remote_ip=10.8.0.30",
        NULL,
    };
    static const char *const kim_gone_env[] = {
        "trusted_ip=192.0.2.3", "trusted_port=40001", "time_duration=60",
        "bytes_sent=10",        "bytes_received=20",  "untrusted_ip=192.0.2.2",
        "untrusted_port=40000", "common_name=kim",    NULL,
    };
    static const char *const lou_env[] = {
        "untrusted_ip=192.0.2.5",
        "untrusted_port=50000",
        "trusted_ip=192.0.2.5",
        "trusted_port=50000",
        "common_name=lou",
        "username=lou",
        "time_unix=1715688190",
        "ifconfig_pool_remote_ip=10.8.0.31",
        NULL,
    };
    static const char *const lou_gone_env[] = {
        "trusted_port=50002",
        "trusted_ip6=2001:DB8:0::5",
        "time_duration=60",
        "trusted_ip=192.0.2.5",
        "untrusted_ip=192.0.2.5",
        "common_name=lou",
        NULL,
    };
    assert_int_equal(host_open(h, args), OPENVPN_PLUGIN_FUNC_SUCCESS);
    void *k = h->ctor(h->handle), *l = h->ctor(h->handle);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, kim_env, k);
    learn(h, "add", "10.8.0.30", "kim", kim_env, k);
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, lou_env, l);
    learn(h, "add", "10.8.0.31", "lou", lou_env, l);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, kim_gone_env, k),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(call(h, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, lou_gone_env, l),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    h->dtor(h->handle, k);
    h->dtor(h->handle, l);
    host_close(h);
    assert_int_equal(q_int(t->path, "SELECT end_real_port FROM session WHERE common_name ="
                                    " 'kim' AND real_ip = '192.0.2.2' AND real_port = 40000"
                                    " AND end_real_ip = '192.0.2.3'"),
                     40001);
    assert_int_equal(q_int(t->path, "SELECT end_real_port FROM session WHERE common_name ="
                                    " 'lou' AND real_ip = '192.0.2.5'"
                                    " AND end_real_ip = '2001:db8::5'"),
                     50002);

    const char *text[] = {"--db", t->path, "history", "--real-ip", "192.0.2.3", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), text), 0);
    assert_non_null(strstr(out, "end_real_ip"));
    assert_non_null(strstr(out, "kim"));
    assert_non_null(strstr(out, "192.0.2.3"));
    assert_null(strstr(out, "lou"));
    const char *json[] = {"--db",      t->path,       "--json", "history",
                          "--real-ip", "2001:db8::5", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), json), 0);
    assert_non_null(strstr(out, "\"common_name\": \"lou\""));
    assert_non_null(strstr(out, "\"real_ip\": \"192.0.2.5\""));
    assert_non_null(strstr(out, "\"end_real_ip\": \"2001:db8::5\", \"end_real_port\": 50002"));
    const char *csv[] = {"--db", t->path, "--csv", "history", "--cn", "kim", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), csv), 0);
    assert_non_null(strstr(out, ",end_real_ip,end_real_port\r\n"));
    assert_non_null(strstr(out, ",192.0.2.3,40001\r\n"));
    /* The start address still finds kim's session. */
    const char *start[] = {"--db", t->path, "history", "--real-ip", "192.0.2.2", NULL};
    assert_int_equal(tool(out, sizeof(out), err, sizeof(err), start), 0);
    assert_non_null(strstr(out, "kim"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(open__inline_config_registers_three_events),
        T(open__default_instance_names_host_and_config),
        T(open__unknown_key_fails_naming_it),
        T(open__missing_database_key_fails),
        T(open__missing_directory_fails_clearly),
        T(open__relative_database_under_daemon_fails_clearly),
        T(open__foreign_database_fails),
        T(open__config_file_is_read),
        T(open__annotated_example_config_loads),
        T(lifecycle__connect_learn_delete_disconnect_are_recorded),
        T(lifecycle__client_refused_later_ends_its_session),
        T(lifecycle__refused_by_a_later_handler_has_no_address),
        T(lifecycle__quick_disconnect_after_learning_is_ordinary),
        T(lifecycle__disconnect_without_connect_ends_no_other_session),
        T(lifecycle__reopen_like_sighup_closes_the_previous_run),
        T(lifecycle__names_with_sql_fragments_are_stored_verbatim),
        T(learn_address__garbage_is_logged_and_passes_when_open),
        T(learn_address__garbage_add_is_refused_when_closed),
        T(learn_address__full_queue_is_reported_and_the_vpn_unaffected_when_open),
        T(learn_address__failing_database_refuses_when_closed),
        T(crash__kill9_under_load_keeps_what_was_flushed_and_the_file_intact),
        T(addrdb__who_answers_now_at_a_time_and_through_iroutes),
        T(addrdb__current_and_history),
        T(addrdb__errors_have_their_exit_codes),
        T(addrdb__control_characters_never_reach_the_terminal),
        T(addrdb__a_client_that_floated_is_found_by_its_end_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

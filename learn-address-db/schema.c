/* schema.c: DDL, versioning and forward migrations of the address database. */
#include "ovpbuild.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"

/*
 * migrations[v] takes a database at user_version v-1 to v. Append, never edit:
 * a database written by an older build must reach the newest schema by running
 * every later step in order. Times are Unix milliseconds (UTC).
 */
static const char *const migrations[SCHEMA_VERSION + 1] = {
    [1] =
        /* One row per OpenVPN server writing here (Instance), for who/current. */
    "CREATE TABLE instance ("
    " name TEXT PRIMARY KEY,"
    " hostname TEXT,"
    " pid INTEGER,"
    " opened_ms INTEGER,"
    " last_seen_ms INTEGER," /* last write or heartbeat: bounds a crash */
    " closed_ms INTEGER"
    ") WITHOUT ROWID;"

    /* One row per client connection (client-connect .. client-disconnect). */
    "CREATE TABLE session ("
    " id INTEGER PRIMARY KEY," /* chosen by the plugin, see store.c */
    " instance TEXT NOT NULL,"
    " common_name TEXT,"
    " username TEXT,"
    " real_ip TEXT,"
    " real_port INTEGER,"
    " vaddr4 TEXT,"
    " vaddr6 TEXT,"
    " connect_ms INTEGER NOT NULL,"
    " disconnect_ms INTEGER," /* NULL while connected */
    " bytes_received INTEGER,"
    " bytes_sent INTEGER,"
    " duration_s INTEGER,"
    " end_reason TEXT" /* disconnect | refused | shutdown | restart */
    ");"
    "CREATE INDEX session_by_cn ON session(common_name, connect_ms);"
    "CREATE INDEX session_by_user ON session(username, connect_ms);"
    "CREATE INDEX session_by_real_ip ON session(real_ip, connect_ms);"
    "CREATE INDEX session_by_end ON session(disconnect_ms);"

    /* Every learn-address call, plus 'reset' when a server stopped holding one. */
    "CREATE TABLE address_event ("
    " id INTEGER PRIMARY KEY,"
    " time_ms INTEGER NOT NULL,"
    " instance TEXT NOT NULL,"
    " op TEXT NOT NULL,"      /* add | update | delete | reset */
    " address TEXT NOT NULL," /* normalised, see addr.h */
    " kind TEXT NOT NULL,"    /* ipv4 | ipv6 | ipv4-net | ipv6-net | mac */
    " common_name TEXT,"
    " session_id INTEGER"
    ");"
    /* who ADDRESS --at T: one seek per (address, instance). */
    "CREATE INDEX address_event_by_address ON address_event(address, instance, time_ms);"
    "CREATE INDEX address_event_by_session ON address_event(session_id)"
    " WHERE session_id IS NOT NULL;"

    /* Who holds what now: attributes 'delete' (which has no client context). */
    "CREATE TABLE current_address ("
    " instance TEXT NOT NULL,"
    " address TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " common_name TEXT,"
    " session_id INTEGER,"
    " since_ms INTEGER NOT NULL,"
    " PRIMARY KEY (instance, address)"
    ") WITHOUT ROWID;"
    "CREATE INDEX current_address_by_session ON current_address(session_id);",
    [2] =
        /*
         * A run that died (kill -9) is found at the next start: its sessions and
         * holdings ended between its last sign of life (disconnect_ms, time_ms)
         * and that start (these, NULL when the end is exact).
         */
    "ALTER TABLE session ADD COLUMN disconnect_latest_ms INTEGER;"
    "ALTER TABLE address_event ADD COLUMN time_latest_ms INTEGER;"
    /* who IP in TAP mode, where OpenVPN learns only MACs: through the session. */
    "CREATE INDEX session_by_vaddr4 ON session(vaddr4, connect_ms) WHERE vaddr4 IS NOT NULL;"
    "CREATE INDEX session_by_vaddr6 ON session(vaddr6, connect_ms) WHERE vaddr6 IS NOT NULL;",
    [3] =
        /*
         * A UDP client that floated (NAT rebinding, a new network) ends at another real
         * address than it connected from: OpenVPN's client-disconnect env has it in
         * trusted_ip/trusted_ip6 and trusted_port. NULL when it did not change (and for
         * sessions older than this migration); history --real-ip matches either.
         */
    "ALTER TABLE session ADD COLUMN end_real_ip TEXT;"
    "ALTER TABLE session ADD COLUMN end_real_port INTEGER;"
    "CREATE INDEX session_by_end_real_ip ON session(end_real_ip, connect_ms)"
    " WHERE end_real_ip IS NOT NULL;",
};

static void
set_db_err(char *err, size_t errlen, const char *path, const char *what, sqlite3 *db)
{
    snprintf(err, errlen, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "out of memory");
}

static int
pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
    {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
        {
            *out = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

int
schema_probe(sqlite3 *db, int *app_id, int *version, int *empty, char *err, size_t errlen)
{
    int tables = 0;
    if (pragma_int(db, "PRAGMA application_id", app_id) < 0 ||
        pragma_int(db, "PRAGMA user_version", version) < 0 ||
        pragma_int(db, "SELECT count(*) FROM sqlite_master", &tables) < 0)
    {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    *empty = tables == 0;
    return 0;
}

/*
 * Explains why an opened file cannot be used: -1 when it never can (not ours),
 * -2 when it cannot be read now (permissions, locks); 0 when it can (or is empty).
 */
static int
check_identity(sqlite3 *db, const char *path, int rw, int *version, int *empty, char *err,
               size_t errlen)
{
    int app_id = 0;
    char why[256];
    if (schema_probe(db, &app_id, version, empty, why, sizeof(why)) < 0)
    {
        if (sqlite3_errcode(db) == SQLITE_NOTADB)
        {
            snprintf(err, errlen, "%s is not an SQLite database (refusing to touch it)", path);
            return -1;
        }
        snprintf(err, errlen, "%s: cannot read the database: %s", path, why);
        return -2;
    }
    if (*empty && app_id == 0 && *version == 0)
    {
        return 0;
    }
    if (app_id != SCHEMA_APP_ID)
    {
        snprintf(err, errlen,
                 "%s is an SQLite database of another application (application_id 0x%08x, "
                 "expected 0x%08x): refusing to %s it; give ovp its own file",
                 path, (unsigned)app_id, (unsigned)SCHEMA_APP_ID, rw ? "write to" : "read");
        return -1;
    }
    if (*version > SCHEMA_VERSION)
    {
        snprintf(err, errlen,
                 "%s has schema version %d, newer than this build understands (%d): "
                 "upgrade ovp, or point it at another file",
                 path, *version, SCHEMA_VERSION);
        return -1;
    }
    return 0;
}

/* Runs every migration after the version found, in one write transaction (0, -1, -2). */
static int
migrate(sqlite3 *db, const char *path, int *created, char *err, size_t errlen)
{
    int version = 0, empty = 0;
    char sql[64];

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    {
        set_db_err(err, errlen, path, "cannot lock the database to set up its schema", db);
        return -2;
    }
    /* Read again under the lock: another process may have migrated meanwhile. */
    int rc = check_identity(db, path, 1, &version, &empty, err, errlen);
    if (rc < 0)
    {
        goto fail;
    }
    rc = -2;
    for (int v = version + 1; v <= SCHEMA_VERSION; v++)
    {
        if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
        {
            char what[96];
            snprintf(what, sizeof(what), "schema migration to version %d failed", v);
            set_db_err(err, errlen, path, what, db);
            goto fail;
        }
    }
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", SCHEMA_APP_ID);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
        set_db_err(err, errlen, path, "cannot set application_id", db);
        goto fail;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    {
        set_db_err(err, errlen, path, "cannot record the schema version", db);
        goto fail;
    }
    if (created && version == 0)
    {
        *created = 1;
    }
    return 0;

fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Turns off what an untrusted database file could abuse (triggers, views calling functions). */
static void
harden(sqlite3 *db)
{
#ifdef SQLITE_DBCONFIG_DEFENSIVE
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
#endif
}

int
schema_open_rw(const char *path, int busy_ms, int synchronous, sqlite3 **dbp, int *created,
               char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int version = 0, empty = 0, rc;
    char mode[16] = "";

    *dbp = NULL;
    if (created)
    {
        *created = 0;
    }
    rc = -2;
    if (sqlite3_open_v2(path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
    {
        set_db_err(err, errlen, path, "cannot open or create the database", db);
        goto fail;
    }
    harden(db);
    sqlite3_busy_timeout(db, busy_ms);
    if ((rc = check_identity(db, path, 1, &version, &empty, err, errlen)) < 0)
    {
        goto fail;
    }
    rc = -2;
    /* A read-only file cannot be migrated or switched to WAL: report, let the caller decide. */
    if (sqlite3_db_readonly(db, "main") == 1)
    {
        if (version != SCHEMA_VERSION)
        {
            snprintf(err, errlen, "%s is read-only and has no current schema (version %d)",
                     path, version);
            goto fail;
        }
        *dbp = db;
        return 0;
    }
    /* WAL: readers (ovp-addrdb) never block the writer, and commits are cheap. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    {
        snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (strcmp(mode, "wal") != 0)
    {
        snprintf(err, errlen, "%s: cannot switch to WAL mode (%s): %s", path,
                 mode[0] ? mode : "no answer", sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_exec(db, synchronous ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                 NULL, NULL, NULL);
    if (version < SCHEMA_VERSION && (rc = migrate(db, path, created, err, errlen)) < 0)
    {
        goto fail;
    }
    *dbp = db;
    return 0;

fail:
    sqlite3_close(db);
    return rc;
}

int
schema_open_ro(const char *path, int busy_ms, sqlite3 **dbp, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int version = 0, empty = 0;
    struct stat sb;

    *dbp = NULL;
    if (stat(path, &sb) < 0)
    {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode))
    {
        snprintf(err, errlen, "%s is not a regular file", path);
        return -1;
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    {
        set_db_err(err, errlen, path, "cannot open the database", db);
        goto fail;
    }
    harden(db);
    sqlite3_busy_timeout(db, busy_ms);
    if (check_identity(db, path, 0, &version, &empty, err, errlen) < 0)
    {
        goto fail;
    }
    if (empty || version == 0)
    {
        snprintf(err, errlen,
                 "%s is not an ovp address database (it is empty: the plugin creates the "
                 "schema when it first opens the file)",
                 path);
        goto fail;
    }
    if (version < SCHEMA_VERSION_MIN_READ)
    {
        snprintf(err, errlen,
                 "%s has the older schema version %d (this build reads %d to %d): start the "
                 "plugin once to upgrade it",
                 path, version, SCHEMA_VERSION_MIN_READ, SCHEMA_VERSION);
        goto fail;
    }
    *dbp = db;
    return 0;

fail:
    sqlite3_close(db);
    return -1;
}

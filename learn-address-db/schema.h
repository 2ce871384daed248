/* schema.h: the address database's schema, its version and forward migrations. */
#ifndef OVP_LAD_SCHEMA_H
#define OVP_LAD_SCHEMA_H

#include <stddef.h>
#include <sqlite3.h>

/* The schema this build writes (PRAGMA user_version). */
#define SCHEMA_VERSION 3

/* The oldest schema ovp-addrdb reads (queries fill what it lacks with NULL). */
#define SCHEMA_VERSION_MIN_READ 1

/* PRAGMA application_id of every ovp address database: "OVPA". */
#define SCHEMA_APP_ID 0x4f565041

/*
 * Opens (creating when missing) the database at PATH for writing, sets WAL mode,
 * SYNCHRONOUS (0 NORMAL, 1 FULL) and a busy timeout of BUSY_MS, and brings the
 * schema up to SCHEMA_VERSION with forward migrations, each in one transaction.
 * Refuses a file that is not SQLite, a database of another application, and a
 * schema newer than this build. *CREATED is set when the schema was created
 * now (may be NULL). A file that is read-only with the current schema opens
 * (writes then fail): check sqlite3_db_readonly. Returns 0 with *DB open (the
 * caller closes it); -1 when the file can never be used (not SQLite, another
 * application's, a newer schema); -2 when it cannot be opened, read, locked or
 * migrated now (permissions, locks, I/O), which may pass. ERR says why, naming
 * PATH; *DB is NULL on error.
 */
int schema_open_rw(const char *path, int busy_ms, int synchronous, sqlite3 **db, int *created,
                   char *err, size_t errlen);

/*
 * Opens PATH read-only for queries (never creates it) and checks that it is an
 * address database of a schema version from SCHEMA_VERSION_MIN_READ to
 * SCHEMA_VERSION. Returns 0 or -1 with ERR.
 */
int schema_open_ro(const char *path, int busy_ms, sqlite3 **db, char *err, size_t errlen);

/*
 * Reads application_id and user_version of DB. Returns 0, or -1 with the
 * SQLite error in ERR. *EMPTY is set when the file has no tables at all.
 */
int schema_probe(sqlite3 *db, int *app_id, int *version, int *empty, char *err, size_t errlen);

#endif

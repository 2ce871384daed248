/* query.c: who / current / history over the address database, and time parsing. */
#include "ovpbuild.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "query.h"
#include "schema.h"

/* ------------------------------------------------------------ results */

void
query_result_free(struct qresult *r)
{
    if (!r)
    {
        return;
    }
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
    {
        free(r->vals[i].s);
    }
    free(r->vals);
    r->vals = NULL;
    r->nrows = r->cap = 0;
}

const struct qval *
query_cell(const struct qresult *r, size_t row, const char *name)
{
    if (!r || row >= r->nrows || !name)
    {
        return NULL;
    }
    for (size_t c = 0; c < r->ncols; c++)
    {
        if (strcmp(r->cols[c].name, name) == 0)
        {
            return &r->vals[row * r->ncols + c];
        }
    }
    return NULL;
}

/* Appends the current row of ST (its columns match R's, in order). */
static int
add_row(struct qresult *r, sqlite3_stmt *st)
{
    if (r->nrows == r->cap)
    {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct qval *v = realloc(r->vals, cap * r->ncols * sizeof(*v));
        if (!v)
        {
            return -1;
        }
        r->vals = v;
        r->cap = cap;
    }
    struct qval *row = &r->vals[r->nrows * r->ncols];
    memset(row, 0, r->ncols * sizeof(*row));
    r->nrows++; /* counted now, so that a failure below is freed with the rest */
    for (size_t c = 0; c < r->ncols; c++)
    {
        int i = (int)c;
        if (sqlite3_column_type(st, i) == SQLITE_NULL)
        {
            row[c].null = 1;
        }
        else if (r->cols[c].type == Q_TEXT)
        {
            const unsigned char *t = sqlite3_column_text(st, i);
            row[c].s = strdup(t ? (const char *)t : "");
            if (!row[c].s)
            {
                return -1;
            }
        }
        else
        {
            row[c].i = sqlite3_column_int64(st, i);
        }
    }
    return 0;
}

/* Runs a prepared, bound statement to its end, adding every row. */
static int
collect(sqlite3 *db, sqlite3_stmt *st, struct qresult *r, char *err, size_t errlen)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    {
        if (add_row(r, st) < 0)
        {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (rc != SQLITE_DONE)
    {
        snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static int
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
    {
        snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* The database's schema version (PRAGMA user_version), or 0. */
static int
db_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
    {
        v = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/*
 * Every statement of one answer reads one snapshot: a read transaction, so
 * that a commit of the writer between two statements cannot mix two states.
 */
static int
read_begin(sqlite3 *db, char *err, size_t errlen)
{
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    {
        snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static void
read_end(sqlite3 *db)
{
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* An instance writing here, how it is doing now. */
struct inst_state
{
    char *name;
    const char *state;
};

/* No sign of life for this long (heartbeats come every minute): stale. */
#define STALE_MS 150000

/*
 * The state of every registered instance: "stopped" (closed cleanly), "dead"
 * (its process on this host is gone without closing: what it holds ended,
 * the next start records when), "stale" (no write or heartbeat for STALE_MS:
 * hung, cut off from the database, or dead on another host) or "running".
 * Returns the count (*OUT malloc'd), or -1 with ERR.
 */
static int
instance_states(sqlite3 *db, struct inst_state **out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    struct inst_state *v = NULL;
    int n = 0, cap = 0, rc;
    char host[256] = "";
    struct timespec ts;

    *out = NULL;
    gethostname(host, sizeof(host) - 1);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (prepare(db, "SELECT name, hostname, pid, last_seen_ms, closed_ms FROM instance", &st,
                err, errlen) < 0)
    {
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    {
        if (n == cap)
        {
            cap = cap ? cap * 2 : 8;
            struct inst_state *nv = realloc(v, (size_t)cap * sizeof(*v));
            if (!nv)
            {
                goto oom;
            }
            v = nv;
        }
        const unsigned char *name = sqlite3_column_text(st, 0);
        const unsigned char *h = sqlite3_column_text(st, 1);
        long long pid = sqlite3_column_int64(st, 2);
        v[n].name = strdup(name ? (const char *)name : "");
        if (!v[n].name)
        {
            goto oom;
        }
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        {
            v[n].state = "stopped";
        }
        else if (h && strcmp((const char *)h, host) == 0 && pid > 0 && pid <= 0x7fffffff &&
                 kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        {
            v[n].state = "dead";
        }
        else if (sqlite3_column_type(st, 3) == SQLITE_NULL ||
                 sqlite3_column_int64(st, 3) < now - STALE_MS)
        {
            v[n].state = "stale";
        }
        else
        {
            v[n].state = "running";
        }
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
    {
        snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
        for (int i = 0; i < n; i++)
        {
            free(v[i].name);
        }
        free(v);
        return -1;
    }
    *out = v;
    return n;

oom:
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++)
    {
        free(v[i].name);
    }
    free(v);
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Fills the column "instance_state" of every row of R from its "instance". */
static int
fill_states(sqlite3 *db, struct qresult *r, char *err, size_t errlen)
{
    struct inst_state *v = NULL;
    int n = instance_states(db, &v, err, errlen), rc = 0;
    if (n < 0)
    {
        return -1;
    }
    for (size_t row = 0; row < r->nrows; row++)
    {
        const struct qval *inst = query_cell(r, row, "instance");
        struct qval *cell = (struct qval *)query_cell(r, row, "instance_state");
        const char *state = "unregistered";
        for (int i = 0; inst && !inst->null && i < n; i++)
        {
            if (strcmp(v[i].name, inst->s) == 0)
            {
                state = v[i].state;
            }
        }
        free(cell->s);
        cell->s = strdup(state);
        cell->null = !cell->s;
        if (!cell->s)
        {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < n; i++)
    {
        free(v[i].name);
    }
    free(v);
    return rc;
}

/* ---------------------------------------------------------------- who */

static const struct qcol who_cols[] = {
    {"instance", Q_TEXT},       {"address", Q_TEXT},
    {"common_name", Q_TEXT},    {"username", Q_TEXT},
    {"real_ip", Q_TEXT},        {"real_port", Q_INT},
    {"since", Q_TIME},          {"until", Q_TIME},
    {"until_latest", Q_TIME},   {"session_connected", Q_TIME},
    {"session_ended", Q_TIME},  {"session_id", Q_INT},
    {"instance_state", Q_TEXT}, {"source", Q_TEXT},
};
enum
{
    WHO_CN = 2,
    WHO_SINCE = 6,
    WHO_UNTIL = 7,
    WHO_SID = 11,
};

/*
 * An address's events are ordered by row id, the order they were written in
 * (times may disagree after a clock step in a database written before the
 * plugin kept them non-decreasing). For one (instance, key): the last event
 * at or before ?3 and every add or
 * update in (?3, ?4]; each that made an owner is a row, and the first later
 * event that ended that holding (delete, reset, or a different owner) gives
 * "until". A reset written when a dead run was found (%1$s, its time_latest_ms,
 * NULL in a schema 1 database) happened somewhere in [time_ms, time_latest_ms]:
 * until then the holding may still have been on, so it counts as ended only
 * after, and "until_latest" says so.
 */
static const char who_sql_fmt[] =
    "WITH ev AS (SELECT * FROM (SELECT id, time_ms, op, common_name, session_id"
    "   FROM address_event WHERE address = ?1 AND instance = ?2 AND time_ms <= ?3"
    "   AND NOT (op = 'reset' AND coalesce(%1$s, time_ms) > ?3)"
    "   ORDER BY id DESC LIMIT 1)"
    "  UNION ALL SELECT id, time_ms, op, common_name, session_id FROM address_event"
    "   WHERE address = ?1 AND instance = ?2 AND time_ms > ?3 AND time_ms <= ?4"
    "   AND op IN ('add', 'update')),"
    " held AS (SELECT ev.*, (SELECT e.id FROM address_event e WHERE e.address = ?1"
    "    AND e.instance = ?2"
    "    AND e.id > ev.id"
    "    AND (e.op IN ('delete', 'reset') OR e.common_name IS NOT ev.common_name"
    "         OR e.session_id IS NOT ev.session_id)"
    "    ORDER BY e.id LIMIT 1) AS end_id FROM ev"
    "  WHERE ev.op IN ('add', 'update'))"
    " SELECT ?2, ?1, held.common_name, s.username, s.real_ip, s.real_port, held.time_ms,"
    "  x.time_ms, %1$s, s.connect_ms, s.disconnect_ms, held.session_id, NULL,"
    "  'learn-address'"
    " FROM held LEFT JOIN address_event x ON x.id = held.end_id"
    " LEFT JOIN session s ON s.id = held.session_id ORDER BY held.id";

/*
 * TAP mode: OpenVPN learns MACs, never the client's IP, so an IP address is
 * found through the sessions it was given to (vaddr4 / vaddr6, %2$s), from
 * connect to disconnect (its latest possible moment for a dead run, %1$s),
 * when the session learned no IP address at all: TUN mode learns the client's
 * addresses (answered above), maybe others than the pool offered at connect
 * (ifconfig-push). A refused client's session has no vaddr (it never got it).
 */
static const char who_session_sql_fmt[] =
    "SELECT s.instance, ?1, s.common_name, s.username, s.real_ip, s.real_port, s.connect_ms,"
    "  s.disconnect_ms, %1$s, s.connect_ms, s.disconnect_ms, s.id, NULL, 'session'"
    " FROM session s WHERE s.%2$s = ?1 AND s.connect_ms <= ?3"
    "  AND (s.disconnect_ms IS NULL OR coalesce(%1$s, s.disconnect_ms) > ?2)"
    "  AND NOT EXISTS (SELECT 1 FROM address_event e WHERE e.session_id = s.id"
    "   AND e.kind IN ('ipv4', 'ipv6'))"
    " ORDER BY s.instance, s.connect_ms, s.id";

/* Whether two cells hold the same value (both NULL, same text, or same number). */
static int
same_cell(const struct qval *a, const struct qval *b)
{
    if (a->null || b->null)
    {
        return a->null && b->null;
    }
    if (a->s || b->s)
    {
        return a->s && b->s && strcmp(a->s, b->s) == 0;
    }
    return a->i == b->i;
}

/*
 * Rows [FIRST, nrows) are the holdings of one key in time order: drops each
 * row that only continues the one before it (an update by the same owner).
 */
static void
drop_continuations(struct qresult *r, size_t first)
{
    size_t nc = r->ncols, out = first;
    for (size_t i = first; i < r->nrows; i++)
    {
        struct qval *row = &r->vals[i * nc];
        if (out > first)
        {
            const struct qval *prev = &r->vals[(out - 1) * nc];
            const struct qval *until = &prev[WHO_UNTIL], *since = &row[WHO_SINCE];
            if (same_cell(&prev[WHO_CN], &row[WHO_CN]) &&
                same_cell(&prev[WHO_SID], &row[WHO_SID]) &&
                (until->null || until->i > since->i))
            {
                for (size_t c = 0; c < nc; c++)
                {
                    free(row[c].s);
                }
                continue;
            }
        }
        if (out != i)
        {
            memcpy(&r->vals[out * nc], row, nc * sizeof(*row));
        }
        out++;
    }
    r->nrows = out;
}

int
query_who(sqlite3 *db, const struct addr *a, int64_t at_ms, struct qresult *out, char *err,
          size_t errlen)
{
    return query_who_between(db, a, at_ms, at_ms, out, err, errlen);
}

int
query_who_between(sqlite3 *db, const struct addr *a, int64_t from_ms, int64_t to_ms,
                  struct qresult *out, char *err, size_t errlen)
{
    char keys[ADDR_COVER_MAX][ADDR_TEXT_MAX];
    sqlite3_stmt *inst = NULL, *st = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->cols = who_cols;
    out->ncols = sizeof(who_cols) / sizeof(who_cols[0]);
    size_t nkeys = addr_covering(a, keys, ADDR_COVER_MAX);
    if (to_ms < from_ms)
    {
        to_ms = from_ms;
    }

    char sql[sizeof(who_sql_fmt) + 64];
    if (read_begin(db, err, errlen) < 0)
    {
        return -1;
    }
    snprintf(sql, sizeof(sql), who_sql_fmt, db_version(db) >= 2 ? "time_latest_ms" : "NULL");
    if (prepare(db, "SELECT name FROM instance ORDER BY name", &inst, err, errlen) < 0 ||
        prepare(db, sql, &st, err, errlen) < 0)
    {
        goto cleanup;
    }
    /* One index seek per (instance, key): fast at any table size. */
    while ((rc = sqlite3_step(inst)) == SQLITE_ROW)
    {
        const unsigned char *name = sqlite3_column_text(inst, 0);
        for (size_t k = 0; k < nkeys; k++)
        {
            size_t first = out->nrows;
            sqlite3_bind_text(st, 1, keys[k], -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, (const char *)name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 3, from_ms);
            sqlite3_bind_int64(st, 4, to_ms);
            if (collect(db, st, out, err, errlen) < 0)
            {
                rc = -1;
                goto cleanup;
            }
            sqlite3_reset(st);
            drop_continuations(out, first);
        }
    }
    if (rc != SQLITE_DONE)
    {
        snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
        rc = -1;
        goto cleanup;
    }
    if (a->kind == ADDR_IPV4 || a->kind == ADDR_IPV6)
    {
        char ssql[sizeof(who_session_sql_fmt) + 64];
        /* Fragments from fixed lists only; the address is a bound parameter. */
        snprintf(ssql, sizeof(ssql), who_session_sql_fmt,
                 db_version(db) >= 2 ? "s.disconnect_latest_ms" : "NULL",
                 a->kind == ADDR_IPV4 ? "vaddr4" : "vaddr6");
        sqlite3_finalize(st);
        st = NULL;
        if (prepare(db, ssql, &st, err, errlen) < 0)
        {
            rc = -1;
            goto cleanup;
        }
        sqlite3_bind_text(st, 1, a->text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        if (collect(db, st, out, err, errlen) < 0)
        {
            rc = -1;
            goto cleanup;
        }
    }
    rc = fill_states(db, out, err, errlen);

cleanup:
    sqlite3_finalize(inst);
    sqlite3_finalize(st);
    read_end(db);
    return rc;
}

/* ------------------------------------------------------------ current */

static const struct qcol current_cols[] = {
    {"instance", Q_TEXT},  {"common_name", Q_TEXT},    {"username", Q_TEXT},
    {"real_ip", Q_TEXT},   {"real_port", Q_INT},       {"vaddr4", Q_TEXT},
    {"vaddr6", Q_TEXT},    {"since", Q_TIME},          {"addresses", Q_TEXT},
    {"session_id", Q_INT}, {"instance_state", Q_TEXT},
};

static const char current_sql[] =
    "SELECT s.instance, s.common_name, s.username, s.real_ip, s.real_port, s.vaddr4,"
    "  s.vaddr6, s.connect_ms,"
    "  (SELECT group_concat(address, ' ') FROM (SELECT address FROM current_address c"
    "    WHERE c.session_id = s.id ORDER BY address)),"
    "  s.id, NULL"
    " FROM session s WHERE s.disconnect_ms IS NULL"
    " UNION ALL"
    " SELECT c.instance, c.common_name, NULL, NULL, NULL, NULL, NULL, c.since_ms, c.address,"
    "  c.session_id, NULL"
    " FROM current_address c WHERE c.session_id IS NULL OR NOT EXISTS (SELECT 1 FROM session s"
    "  WHERE s.id = c.session_id AND s.disconnect_ms IS NULL)"
    " ORDER BY 1, 2, 8";

int
query_current(sqlite3 *db, struct qresult *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    out->cols = current_cols;
    out->ncols = sizeof(current_cols) / sizeof(current_cols[0]);
    if (read_begin(db, err, errlen) < 0)
    {
        return -1;
    }
    int rc =
        prepare(db, current_sql, &st, err, errlen) < 0 ? -1 : collect(db, st, out, err, errlen);
    sqlite3_finalize(st);
    if (rc == 0)
    {
        rc = fill_states(db, out, err, errlen);
    }
    read_end(db);
    return rc;
}

/* ------------------------------------------------------------ history */

static const struct qcol history_cols[] = {
    {"instance", Q_TEXT},      {"common_name", Q_TEXT},
    {"username", Q_TEXT},      {"real_ip", Q_TEXT},
    {"real_port", Q_INT},      {"vaddr4", Q_TEXT},
    {"vaddr6", Q_TEXT},        {"connected", Q_TIME},
    {"disconnected", Q_TIME},  {"duration_s", Q_INT},
    {"bytes_received", Q_INT}, {"bytes_sent", Q_INT},
    {"end_reason", Q_TEXT},    {"addresses", Q_TEXT},
    {"session_id", Q_INT},     {"disconnected_latest", Q_TIME},
    {"end_real_ip", Q_TEXT},   {"end_real_port", Q_INT},
};

/*
 * %1$s is a column or NULL (schema 1), %2$s the end address columns or NULL, NULL
 * (before schema 3), %3$s the condition on the indexed column(s): all from fixed
 * lists, never from input.
 */
static const char history_sql[] =
    "SELECT s.instance, s.common_name, s.username, s.real_ip, s.real_port, s.vaddr4,"
    "  s.vaddr6, s.connect_ms, s.disconnect_ms, s.duration_s, s.bytes_received,"
    "  s.bytes_sent, s.end_reason,"
    "  (SELECT group_concat(address, ' ') FROM (SELECT DISTINCT address FROM address_event e"
    "    WHERE e.session_id = s.id AND e.op IN ('add', 'update') ORDER BY address)),"
    "  s.id, %1$s, %2$s"
    " FROM session s WHERE (%3$s) AND s.connect_ms <= ?3"
    "  AND (s.disconnect_ms IS NULL OR s.disconnect_ms >= ?2)"
    " ORDER BY s.connect_ms, s.id";

int
query_history(sqlite3 *db, enum query_by by, const char *value, int64_t since_ms,
              int64_t until_ms, struct qresult *out, char *err, size_t errlen)
{
    static const char *const column[] = {
        [QUERY_BY_USER] = "s.username = ?1",
        [QUERY_BY_CN] = "s.common_name = ?1",
        [QUERY_BY_REAL_IP] = "s.real_ip = ?1",
    };
    char sql[sizeof(history_sql) + 256];
    sqlite3_stmt *st = NULL;
    struct addr a;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->cols = history_cols;
    out->ncols = sizeof(history_cols) / sizeof(history_cols[0]);
    if ((int)by < 0 || by > QUERY_BY_REAL_IP || !value)
    {
        snprintf(err, errlen, "internal error: bad history query");
        return -1;
    }
    /* Real addresses are stored as the plugin normalised them. */
    if (by == QUERY_BY_REAL_IP && addr_parse(value, &a) == 0 &&
        (a.kind == ADDR_IPV4 || a.kind == ADDR_IPV6))
    {
        value = a.text;
    }
    if (read_begin(db, err, errlen) < 0)
    {
        return -1;
    }
    /*
     * The fragments come from fixed lists: nothing of the input reaches SQL text. A
     * client that floated (schema 3) is found by the address it ended at too; each
     * side of the OR has its index.
     */
    int version = db_version(db);
    const char *where = column[by];
    if (by == QUERY_BY_REAL_IP && version >= 3)
    {
        where = "s.real_ip = ?1 OR s.end_real_ip = ?1";
    }
    snprintf(sql, sizeof(sql), history_sql, version >= 2 ? "s.disconnect_latest_ms" : "NULL",
             version >= 3 ? "s.end_real_ip, s.end_real_port" : "NULL, NULL", where);
    if (prepare(db, sql, &st, err, errlen) == 0)
    {
        sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, since_ms);
        sqlite3_bind_int64(st, 3, until_ms);
        rc = collect(db, st, out, err, errlen);
    }
    sqlite3_finalize(st);
    read_end(db);
    return rc;
}

/* ------------------------------------------------------------- times */

/* Reads exactly N digits at *P into *OUT. */
static int
digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++)
    {
        if (!isdigit((unsigned char)(*p)[i]))
        {
            return -1;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Reads ".ddd..." (any number of digits) as milliseconds; none is 0. */
static int
fraction_ms(const char **p, int *ms)
{
    int v = 0, scale = 100, n = 0;
    if (**p != '.' && **p != ',')
    {
        *ms = 0;
        return 0;
    }
    (*p)++;
    while (isdigit((unsigned char)**p))
    {
        v += (**p - '0') * scale;
        scale /= 10;
        (*p)++;
        n++;
    }
    *ms = v;
    return n > 0 ? 0 : -1;
}

static int
days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

static int
parse_unix(const char *s, int64_t *ms, int64_t *span)
{
    const char *p = s + (*s == '@');
    long long sec = 0;
    int frac = 0, n = 0;
    while (isdigit((unsigned char)*p))
    {
        if (sec > (INT64_MAX / 1000 - 9) / 10)
        {
            return -1;
        }
        sec = sec * 10 + (*p++ - '0');
        n++;
    }
    if (n == 0 || fraction_ms(&p, &frac) < 0 || *p)
    {
        return -1;
    }
    *ms = (int64_t)sec * 1000 + frac;
    *span = strchr(s, '.') ? 1 : 1000;
    return 0;
}

int
query_parse_time(const char *s, int64_t *ms)
{
    int64_t from, to;
    if (query_parse_time_span(s, &from, &to) < 0)
    {
        return -1;
    }
    *ms = from;
    return 0;
}

int
query_parse_time_span(const char *s, int64_t *from_ms, int64_t *to_ms)
{
    int64_t span = 0, ms = 0;
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, zone = 0, off = 0;
    const char *p = s;

    if (!s || !*s)
    {
        return -1;
    }
    if (*s == '@' || strspn(s, "0123456789.") == strlen(s))
    {
        if (parse_unix(s, &ms, &span) < 0)
        {
            return -1;
        }
        *from_ms = ms;
        *to_ms = ms + span - 1;
        return 0;
    }
    /* The span is the unit of the last field given: a day, a minute, a second, or exact. */
    int has_time = 0, has_sec = 0;
    if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        digits(&p, 2, &d) < 0)
    {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || y < 1970)
    {
        return -1;
    }
    if (*p == 'T' || *p == 't' || *p == ' ')
    {
        p++;
        if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
        {
            return -1;
        }
        has_time = 1;
        if (*p == ':')
        {
            p++;
            if (digits(&p, 2, &sec) < 0)
            {
                return -1;
            }
            has_sec = *p == '.' || *p == ',' ? 2 : 1;
            if (fraction_ms(&p, &frac) < 0)
            {
                return -1;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
        {
            return -1;
        }
        if (*p == 'Z' || *p == 'z')
        {
            zone = 1;
            p++;
        }
        else if (*p == '+' || *p == '-')
        {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&p, 2, &oh) < 0)
            {
                return -1;
            }
            if (*p == ':')
            {
                p++;
            }
            if (*p && digits(&p, 2, &om) < 0)
            {
                return -1;
            }
            if (oh > 23 || om > 59)
            {
                return -1;
            }
            zone = 1;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p)
    {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    struct tm next = tm;
    time_t t, end;
    if (zone)
    {
        t = timegm(&tm) - off;
    }
    else
    {
        tm.tm_isdst = -1; /* local time, with the DST rule of that date */
        t = mktime(&tm);
    }
    if (t == (time_t)-1)
    {
        return -1;
    }
    ms = (int64_t)t * 1000 + frac;
    if (has_sec == 2)
    {
        span = 1;
    }
    else if (has_sec)
    {
        span = 1000;
    }
    else if (has_time)
    {
        span = 60000;
    }
    else
    {
        /* A local day is 23, 24 or 25 hours long: up to the next midnight. */
        next.tm_mday++;
        next.tm_isdst = -1;
        end = mktime(&next);
        span = end == (time_t)-1 || end <= t ? 86400000 : ((int64_t)end - t) * 1000;
    }
    *from_ms = ms;
    *to_ms = ms + span - 1;
    return 0;
}

void
query_format_time(int64_t ms, int utc, char *buf, size_t len)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0)
    {
        frac += 1000;
        t--;
    }
    if (utc)
    {
        char base[32];
        gmtime_r(&t, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        if (frac)
        {
            snprintf(buf, len, "%s.%03dZ", base, frac);
        }
        else
        {
            snprintf(buf, len, "%sZ", base);
        }
    }
    else
    {
        /* With the offset: a local time alone is ambiguous (DST, another reader's zone). */
        char base[32];
        localtime_r(&t, &tm);
        strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
        long off = tm.tm_gmtoff / 60;
        snprintf(buf, len, "%s%c%02ld:%02ld", base, off < 0 ? '-' : '+', labs(off) / 60,
                 labs(off) % 60);
    }
}

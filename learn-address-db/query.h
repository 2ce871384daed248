/* query.h: the questions ovp-addrdb answers (who / current / history), as result tables. */
#ifndef OVP_LAD_QUERY_H
#define OVP_LAD_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "addr.h"

/* How a column's values are shown: text, a number, or a time (Unix ms). */
enum qtype
{
    Q_TEXT,
    Q_INT,
    Q_TIME,
};

struct qcol
{
    const char *name;
    enum qtype type;
};

struct qval
{
    int null;
    long long i; /* Q_INT, Q_TIME */
    char *s;     /* Q_TEXT (malloc'd) */
};

/* Rows of NCOLS values each; VALS holds NROWS * NCOLS, row-major. */
struct qresult
{
    const struct qcol *cols;
    size_t ncols;
    struct qval *vals;
    size_t nrows, cap;
};

/* Frees the values of R (not R itself). NULL-safe. */
void query_result_free(struct qresult *r);

/* Row ROW's value of the column named NAME, or NULL when there is no such cell. */
const struct qval *query_cell(const struct qresult *r, size_t row, const char *name);

/*
 * Who held A at AT_MS: for every instance and every stored key covering A (A
 * itself, then the iroutes containing it, longest first), the owner whose add
 * or update was the last event at or before AT_MS, with the session (username,
 * real address), until when they held it (NULL: still; with until_latest when
 * a dead run's end is only known as an interval) and the instance's state
 * now (running, stopped, dead, stale, unregistered). All in one read
 * transaction. Returns 0 (maybe with no rows), or -1 with ERR.
 */
int query_who(sqlite3 *db, const struct addr *a, int64_t at_ms, struct qresult *out, char *err,
              size_t errlen);

/*
 * Who held A at any moment of [FROM_MS, TO_MS]: the owner at FROM_MS, as
 * query_who, then everyone who took A over until TO_MS, in time order (an
 * update by the same owner is not a new row). Same contract as query_who.
 */
int query_who_between(sqlite3 *db, const struct addr *a, int64_t from_ms, int64_t to_ms,
                      struct qresult *out, char *err, size_t errlen);

/* Sessions without a disconnect, with the addresses they hold; then held addresses
 * that belong to no open session; each with its instance's state. Same contract. */
int query_current(sqlite3 *db, struct qresult *out, char *err, size_t errlen);

enum query_by
{
    QUERY_BY_USER,
    QUERY_BY_CN,
    QUERY_BY_REAL_IP,
};

/*
 * Sessions of one user / common name / real IP that overlap [SINCE_MS, UNTIL_MS]. A
 * real IP matches the address a session connected from or, when the client floated
 * (schema 3), the one it ended at (end_real_ip / end_real_port, NULL when unchanged).
 */
int query_history(sqlite3 *db, enum query_by by, const char *value, int64_t since_ms,
                  int64_t until_ms, struct qresult *out, char *err, size_t errlen);

/*
 * Parses a time as Unix seconds ("1715688180", "1715688180.250", "@1715688180")
 * or ISO 8601 ("2024-05-14", "2024-05-14T14:03", "2024-05-14 14:03:07.5",
 * with "Z", "+02:00" or "+0200"; no zone means local time). Returns 0 with
 * *MS in Unix milliseconds, or -1.
 */
int query_parse_time(const char *s, int64_t *ms);

/*
 * As query_parse_time, also giving the span the text names, as the first and
 * last millisecond in it: the whole day of a date, the minute of "14:03", the
 * second of "14:03:07" or of Unix seconds, and one millisecond when a fraction
 * is given ("14:03:07.000", "1715688180.0"). Returns 0 or -1.
 */
int query_parse_time_span(const char *s, int64_t *from_ms, int64_t *to_ms);

/* Formats MS as local time with its offset, "2024-05-14 14:03:07+02:00" (which
 * --at reads back), or with UTC as "2024-05-14T12:03:07Z" (milliseconds shown when
 * not zero). */
void query_format_time(int64_t ms, int utc, char *buf, size_t len);

#endif

/* ovp_addrdb.c: ovp-addrdb, answers who had an address when, who is on now, and history. */
#include "ovpbuild.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "query.h"
#include "schema.h"

/* Exit codes (documented in ovp-addrdb(1)). */
#define EXIT_FOUND    0 /* the answer has at least one row */
#define EXIT_NONE     1 /* the query ran and nothing matched */
#define EXIT_USAGE    2 /* bad command line */
#define EXIT_DATABASE 3 /* the database is missing, foreign, too new, or unreadable */

enum format
{
    FMT_TEXT,
    FMT_JSON,
    FMT_CSV,
};

struct opts
{
    const char *db;
    const char *at, *since, *until;
    const char *user, *cn, *real_ip;
    enum format fmt;
    int utc;
    /* Checked before the database is opened, so usage errors come first. */
    struct addr addr;
    int64_t at_ms, at_end_ms, since_ms, until_ms;
};

static void
usage(FILE *f)
{
    fprintf(
        f, "usage: ovp-addrdb --db FILE [--json | --csv] [--utc] COMMAND\n"
           "\n"
           "commands:\n"
           "  who ADDRESS [--at TIME]     who held ADDRESS (now, or at TIME)\n"
           "  current                     who is connected now, with their addresses\n"
           "  history (--user NAME | --cn NAME | --real-ip IP) [--since TIME] [--until TIME]\n"
           "                              the sessions of a user, certificate or real address\n"
           "\n"
           "ADDRESS: IPv4, IPv6, a.b.c.d/nn (an iroute) or a MAC.\n"
           "TIME: ISO 8601 (2024-05-14T14:03:00Z, 2024-05-14 14:03 local time, 2024-05-14)\n"
           "      or Unix seconds (1715688180).\n"
           "Output: a text table (local times with their offset, --utc for UTC), --json or\n"
           "        --csv (UTC).\n"
           "Exit: 0 found, 1 nothing matched, 2 usage error, 3 database error.\n");
}

/* ------------------------------------------------------------ output */

/* Display width of UTF-8 text: one column per code point. */
static size_t
width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
    {
        n += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return n;
}

/* Length of the valid UTF-8 sequence at P (1 to 4), or 0 when the bytes are not UTF-8. */
static size_t
utf8_len(const unsigned char *p)
{
    size_t n = *p < 0x80                          ? 1
               : (*p & 0xe0) == 0xc0              ? 2
               : (*p & 0xf0) == 0xe0              ? 3
               : (*p & 0xf8) == 0xf0 && *p < 0xf5 ? 4
                                                  : 0;
    for (size_t i = 1; i < n; i++)
    {
        if ((p[i] & 0xc0) != 0x80)
        {
            return 0;
        }
    }
    /* overlong two-byte forms */
    if (n == 2 && p[0] < 0xc2)
    {
        return 0;
    }
    return n;
}

/*
 * S for a terminal (malloc'd): every control character -- C0, DEL and C1,
 * raw or UTF-8 encoded (U+0080..U+009F: a lone 0x9b or C2 9B is CSI to many
 * terminals) -- and every byte that is not UTF-8 becomes '?', so that a
 * certificate cannot send escape sequences to whoever reads the table.
 */
static char *
terminal_safe(const char *s)
{
    char *out = strdup(s);
    unsigned char *p = (unsigned char *)out;
    while (p && *p)
    {
        size_t n = utf8_len(p);
        size_t ok = n;
        /* The C1 block U+0080..U+009F (overlong forms are already not UTF-8). */
        if (ok == 2 && p[0] == 0xc2 && p[1] < 0xa0)
        {
            memset(p, '?', 2);
            p += 2;
            continue;
        }
        if (ok == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f)))
        {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return out;
}

/*
 * S for a CSV cell (malloc'd). A spreadsheet runs a cell that starts with
 * '=', '+', '-', '@', a tab or a carriage return as a formula ("CSV
 * injection"), so such a text value gets a leading apostrophe, the usual
 * neutraliser; --json is the lossless format. Documented in ovp-addrdb(1).
 */
static char *
csv_safe(const char *s)
{
    if (!strchr("=+-@\t\r", s[0]) || !s[0])
    {
        return strdup(s);
    }
    size_t n = strlen(s);
    char *out = malloc(n + 2);
    if (out)
    {
        out[0] = '\'';
        memcpy(out + 1, s, n + 1);
    }
    return out;
}

/* Text of one cell for text and CSV output (malloc'd). */
static char *
cell_text(const struct qcol *col, const struct qval *v, int utc, int text_mode)
{
    char buf[64];
    if (v->null)
    {
        return strdup(text_mode ? "-" : "");
    }
    switch (col->type)
    {
        case Q_TEXT:
            return text_mode ? terminal_safe(v->s) : csv_safe(v->s);
        case Q_INT:
            snprintf(buf, sizeof(buf), "%lld", v->i);
            return strdup(buf);
        case Q_TIME:
            query_format_time(v->i, utc, buf, sizeof(buf));
            return strdup(buf);
    }
    return strdup("?");
}

static int
print_text(const struct qresult *r, int utc)
{
    size_t n = r->nrows * r->ncols;
    char **cells = calloc(n ? n : 1, sizeof(*cells));
    size_t *w = calloc(r->ncols, sizeof(*w));
    int rc = -1;
    if (!cells || !w)
    {
        goto cleanup;
    }
    for (size_t c = 0; c < r->ncols; c++)
    {
        w[c] = width(r->cols[c].name);
    }
    for (size_t i = 0; i < n; i++)
    {
        cells[i] = cell_text(&r->cols[i % r->ncols], &r->vals[i], utc, 1);
        if (!cells[i])
        {
            goto cleanup;
        }
        size_t cw = width(cells[i]);
        w[i % r->ncols] = cw > w[i % r->ncols] ? cw : w[i % r->ncols];
    }
    for (size_t row = 0; row <= r->nrows; row++)
    {
        for (size_t c = 0; c < r->ncols; c++)
        {
            const char *t = row == 0 ? r->cols[c].name : cells[(row - 1) * r->ncols + c];
            int last = c + 1 == r->ncols;
            printf("%s%*s", t, last ? 0 : (int)(w[c] - width(t) + 2), "");
        }
        putchar('\n');
    }
    rc = 0;

cleanup:
    for (size_t i = 0; cells && i < n; i++)
    {
        free(cells[i]);
    }
    free(cells);
    free(w);
    return rc;
}

static void
csv_field(const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL)
    {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++)
    {
        if (*s == '"')
        {
            putchar('"');
        }
        putchar(*s);
    }
    putchar('"');
}

static int
print_csv(const struct qresult *r)
{
    for (size_t c = 0; c < r->ncols; c++)
    {
        printf("%s%s", c ? "," : "", r->cols[c].name);
    }
    fputs("\r\n", stdout);
    for (size_t row = 0; row < r->nrows; row++)
    {
        for (size_t c = 0; c < r->ncols; c++)
        {
            char *t = cell_text(&r->cols[c], &r->vals[row * r->ncols + c], 1, 0);
            if (!t)
            {
                return -1;
            }
            if (c)
            {
                putchar(',');
            }
            csv_field(t);
            free(t);
        }
        fputs("\r\n", stdout);
    }
    return 0;
}

/* S as a JSON string; a byte that is not UTF-8 becomes U+FFFD so the output stays JSON. */
static void
json_string(const char *s)
{
    putchar('"');
    while (*s)
    {
        unsigned char c = (unsigned char)*s;
        size_t n = utf8_len((const unsigned char *)s);
        if (n == 0)
        {
            fputs("\\ufffd", stdout);
            s++;
        }
        else if (c == '"' || c == '\\')
        {
            printf("\\%c", c);
            s++;
        }
        else if (c < 0x20 || c == 0x7f)
        {
            printf("\\u%04x", c);
            s++;
        }
        else
        {
            fwrite(s, 1, n, stdout);
            s += n;
        }
    }
    putchar('"');
}

/* An array of objects; times as ISO 8601 UTC strings plus NAME_unix in seconds. */
static int
print_json(const struct qresult *r)
{
    char buf[64];
    putchar('[');
    for (size_t row = 0; row < r->nrows; row++)
    {
        printf("%s\n  {", row ? "," : "");
        for (size_t c = 0; c < r->ncols; c++)
        {
            const struct qval *v = &r->vals[row * r->ncols + c];
            printf("%s\"%s\": ", c ? ", " : "", r->cols[c].name);
            if (v->null)
            {
                fputs("null", stdout);
                if (r->cols[c].type == Q_TIME)
                {
                    printf(", \"%s_unix\": null", r->cols[c].name);
                }
            }
            else if (r->cols[c].type == Q_TEXT)
            {
                json_string(v->s);
            }
            else if (r->cols[c].type == Q_INT)
            {
                printf("%lld", v->i);
            }
            else
            {
                query_format_time(v->i, 1, buf, sizeof(buf));
                json_string(buf);
                printf(", \"%s_unix\": %lld.%03lld", r->cols[c].name, v->i / 1000, v->i % 1000);
            }
        }
        putchar('}');
    }
    fputs(r->nrows ? "\n]\n" : "]\n", stdout);
    return 0;
}

static int
print_result(const struct qresult *r, const struct opts *o)
{
    int rc;
    switch (o->fmt)
    {
        case FMT_JSON:
            rc = print_json(r);
            break;
        case FMT_CSV:
            rc = print_csv(r);
            break;
        default:
            rc = r->nrows ? print_text(r, o->utc) : 0;
            break;
    }
    if (fflush(stdout) != 0 || ferror(stdout))
    {
        fprintf(stderr, "ovp-addrdb: cannot write the output\n");
        return -1;
    }
    return rc;
}

/* ---------------------------------------------------------- commands */

static int
parse_time_opt(const char *name, const char *v, int64_t *ms)
{
    if (query_parse_time(v, ms) < 0)
    {
        fprintf(stderr,
                "ovp-addrdb: %s '%s' is not a time (use ISO 8601 such as 2024-05-14T14:03:00Z "
                "or Unix seconds)\n",
                name, v);
        return -1;
    }
    return 0;
}

/* who ADDRESS [--at TIME]: checks the arguments. */
static int
check_who(struct opts *o, const char *address)
{
    struct timespec ts;
    if (addr_parse(address, &o->addr) < 0)
    {
        fprintf(stderr,
                "ovp-addrdb: '%s' is not an IPv4 or IPv6 address, an a.b.c.d/nn route or a "
                "MAC\n",
                address);
        return EXIT_USAGE;
    }
    if (o->at)
    {
        /* --at 14:03:07 means that whole second (times are stored in milliseconds). */
        if (query_parse_time_span(o->at, &o->at_ms, &o->at_end_ms) < 0)
        {
            return parse_time_opt("--at", o->at, &o->at_ms) < 0 ? EXIT_USAGE : EXIT_FOUND;
        }
        return EXIT_FOUND;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    o->at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    o->at_end_ms = o->at_ms;
    return EXIT_FOUND;
}

static int
cmd_who(sqlite3 *db, const struct opts *o, struct qresult *r)
{
    char err[512], when[64];
    if (query_who_between(db, &o->addr, o->at_ms, o->at_end_ms, r, err, sizeof(err)) < 0)
    {
        fprintf(stderr, "ovp-addrdb: %s\n", err);
        return EXIT_DATABASE;
    }
    if (r->nrows == 0 && o->fmt == FMT_TEXT)
    {
        query_format_time(o->at_ms, o->utc, when, sizeof(when));
        fprintf(stderr, "ovp-addrdb: nobody held %s at %s%s\n", o->addr.text, when,
                o->at_end_ms > o->at_ms ? " (or during the span --at names)" : "");
    }
    return r->nrows ? EXIT_FOUND : EXIT_NONE;
}

static int
cmd_current(sqlite3 *db, const struct opts *o, struct qresult *r)
{
    char err[512];
    if (query_current(db, r, err, sizeof(err)) < 0)
    {
        fprintf(stderr, "ovp-addrdb: %s\n", err);
        return EXIT_DATABASE;
    }
    if (r->nrows == 0 && o->fmt == FMT_TEXT)
    {
        fprintf(stderr, "ovp-addrdb: nobody is connected\n");
    }
    return r->nrows ? EXIT_FOUND : EXIT_NONE;
}

/* history (--user | --cn | --real-ip) [--since] [--until]: checks the arguments. */
static int
check_history(struct opts *o)
{
    o->since_ms = 0;
    o->until_ms = INT64_MAX;
    if (!!o->user + !!o->cn + !!o->real_ip != 1)
    {
        fprintf(stderr, "ovp-addrdb: history needs exactly one of --user, --cn, --real-ip\n");
        return EXIT_USAGE;
    }
    /* --until names its whole unit: "--until 2024-05-14" includes that day. */
    int64_t until_from;
    if ((o->since && parse_time_opt("--since", o->since, &o->since_ms) < 0) ||
        (o->until && parse_time_opt("--until", o->until, &until_from) < 0) ||
        (o->until && query_parse_time_span(o->until, &until_from, &o->until_ms) < 0))
    {
        return EXIT_USAGE;
    }
    if (o->since_ms > o->until_ms)
    {
        fprintf(stderr, "ovp-addrdb: --since is after --until\n");
        return EXIT_USAGE;
    }
    return EXIT_FOUND;
}

static int
cmd_history(sqlite3 *db, const struct opts *o, struct qresult *r)
{
    char err[512];
    enum query_by by = o->user ? QUERY_BY_USER : o->cn ? QUERY_BY_CN : QUERY_BY_REAL_IP;
    const char *value = o->user ? o->user : o->cn ? o->cn : o->real_ip;

    if (query_history(db, by, value, o->since_ms, o->until_ms, r, err, sizeof(err)) < 0)
    {
        fprintf(stderr, "ovp-addrdb: %s\n", err);
        return EXIT_DATABASE;
    }
    if (r->nrows == 0 && o->fmt == FMT_TEXT)
    {
        fprintf(stderr, "ovp-addrdb: no sessions match\n");
    }
    return r->nrows ? EXIT_FOUND : EXIT_NONE;
}

int
main(int argc, char **argv)
{
    enum
    {
        OPT_DB = 256,
        OPT_AT,
        OPT_SINCE,
        OPT_UNTIL,
        OPT_USER,
        OPT_CN,
        OPT_REAL_IP,
        OPT_JSON,
        OPT_CSV,
        OPT_UTC,
        OPT_HELP,
        OPT_VERSION,
    };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"at", required_argument, NULL, OPT_AT},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"user", required_argument, NULL, OPT_USER},
        {"cn", required_argument, NULL, OPT_CN},
        {"real-ip", required_argument, NULL, OPT_REAL_IP},
        {"json", no_argument, NULL, OPT_JSON},
        {"csv", no_argument, NULL, OPT_CSV},
        {"utc", no_argument, NULL, OPT_UTC},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    struct opts o;
    struct qresult r;
    sqlite3 *db = NULL;
    char err[1024];
    int c, rc;

    memset(&o, 0, sizeof(o));
    memset(&r, 0, sizeof(r));
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
    {
        switch (c)
        {
            case OPT_DB:
                o.db = optarg;
                break;
            case OPT_AT:
                o.at = optarg;
                break;
            case OPT_SINCE:
                o.since = optarg;
                break;
            case OPT_UNTIL:
                o.until = optarg;
                break;
            case OPT_USER:
                o.user = optarg;
                break;
            case OPT_CN:
                o.cn = optarg;
                break;
            case OPT_REAL_IP:
                o.real_ip = optarg;
                break;
            case OPT_JSON:
                o.fmt = FMT_JSON;
                break;
            case OPT_CSV:
                o.fmt = FMT_CSV;
                break;
            case OPT_UTC:
                o.utc = 1;
                break;
            case 'h':
            case OPT_HELP:
                usage(stdout);
                return EXIT_FOUND;
            case OPT_VERSION:
                printf("ovp-addrdb %s (schema version %d, SQLite %s)\n", PACKAGE_VERSION,
                       SCHEMA_VERSION, sqlite3_libversion());
                return EXIT_FOUND;
            default:
                fprintf(stderr, "ovp-addrdb: unknown or incomplete option '%s'\n",
                        argv[optind - 1]);
                usage(stderr);
                return EXIT_USAGE;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : NULL;
    int nargs = argc - optind - 1;
    if (!cmd)
    {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!o.db)
    {
        fprintf(stderr, "ovp-addrdb: --db FILE is required\n");
        return EXIT_USAGE;
    }
    int is_who = strcmp(cmd, "who") == 0, is_current = strcmp(cmd, "current") == 0,
        is_history = strcmp(cmd, "history") == 0;
    if (!is_who && !is_current && !is_history)
    {
        fprintf(stderr, "ovp-addrdb: unknown command '%s' (who, current or history)\n", cmd);
        return EXIT_USAGE;
    }
    if ((is_who && nargs != 1) || (!is_who && nargs != 0))
    {
        fprintf(stderr, "ovp-addrdb: %s takes %s\n", cmd,
                is_who ? "exactly one ADDRESS" : "no arguments besides options");
        return EXIT_USAGE;
    }
    if ((o.at && !is_who) ||
        ((o.since || o.until || o.user || o.cn || o.real_ip) && !is_history))
    {
        fprintf(stderr, "ovp-addrdb: option not valid with '%s' (see --help)\n", cmd);
        return EXIT_USAGE;
    }
    rc = is_who ? check_who(&o, argv[optind + 1]) : is_history ? check_history(&o) : EXIT_FOUND;
    if (rc != EXIT_FOUND)
    {
        return rc;
    }

    if (schema_open_ro(o.db, 5000, &db, err, sizeof(err)) < 0)
    {
        fprintf(stderr, "ovp-addrdb: %s\n", err);
        return EXIT_DATABASE;
    }
    if (is_who)
    {
        rc = cmd_who(db, &o, &r);
    }
    else if (is_current)
    {
        rc = cmd_current(db, &o, &r);
    }
    else
    {
        rc = cmd_history(db, &o, &r);
    }
    if ((rc == EXIT_FOUND || rc == EXIT_NONE) && print_result(&r, &o) < 0)
    {
        rc = EXIT_DATABASE;
    }
    query_result_free(&r);
    sqlite3_close(db);
    return rc;
}

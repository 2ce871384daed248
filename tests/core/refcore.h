/* refcore.h: what every part of ovp-refcore shares: clocks, the log book, fatal errors. */
#ifndef REFCORE_H
#define REFCORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* OpenVPN's "now": whole seconds (of the monotonic clock here). */
uint64_t now_s(void);

/*
 * The log book: every line the core or a plugin logs. Lines at or below the
 * verbosity are printed (unless quiet) and recorded, so the scenario and
 * interactive modes can show and assert them. OpenVPN's verb levels: 1 is
 * normal operation, 3 shows handshake details, 4 plugin init/calls, 7 debug.
 */
void logbook_init(int verb, int quiet, size_t max_lines);
void logbook_free(void);
int logbook_verb(void);
void logbook_set_quiet(int quiet);

/* Logs one core line at LEVEL. */
void core_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records an already formatted line at LEVEL (used by the plugin log callback). */
void logbook_line(int level, const char *line);

/* Number of recorded lines and line I (0 = oldest kept). */
size_t logbook_count(void);
const char *logbook_get(size_t i);

/* Index of the first recorded line at or after FROM containing TEXT, or -1. */
long logbook_find(const char *text, size_t from);

/*
 * A fatal error, as OpenVPN's M_FATAL: prints "FATAL: ...", lets every
 * plugin's abort_v1 run (openvpn_exit -> plugin_abort) and exits with status 1.
 */
void core_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Registers what core_fatal must abort (the host) before exiting. */
struct host;
void core_set_fatal_host(struct host *h);

/* malloc / strdup that abort the program with a message when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrites N bytes at P with zeros, in a way the compiler keeps. */
void wipe(void *p, size_t n);

/* Parses a duration: "250ms", "1.5s", "2" (seconds). Returns 0 or -1. */
int parse_duration_ns(const char *s, uint64_t *out);

#endif

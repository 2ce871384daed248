/* util.h: small helpers every unit and plugin shares: error buffers, clocks, threads. */
#ifndef OVP_UTIL_H
#define OVP_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/*
 * printf into the caller's error buffer ERR of ERRLEN bytes (library code fills an
 * error buffer; the caller decides how to report it). NULL or zero-sized: nothing.
 */
void ovp_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Copies SRC (NUL-terminated) into DST of CAP bytes (CAP > 0), cut to fit and always
 * NUL-terminated, with every control byte (below 0x20, and 0x7f) replaced by '?': for
 * client-given text (names, addresses) in a log line, which must not forge a line.
 */
void ovp_copy_printable(char *dst, size_t cap, const char *src);

/* CLOCK_MONOTONIC in nanoseconds and in milliseconds. */
uint64_t ovp_now_ns(void);
int64_t ovp_now_ms(void);

/* A thread of this plugin, from ovp_thread_start. */
struct ovp_thread;

/*
 * Runs FN(ARG) on a thread of this plugin: one parked by an earlier
 * ovp_thread_join in this process when there is one, else a new thread. Why
 * reuse: OpenVPN reopens plugins at SIGHUP after dropping privileges, and under
 * Debian's unit (LimitNPROC=10 for the run-as user, threads included) a thread
 * created then may be refused; a plugin reopened with the same number of
 * threads creates none. New threads have every signal blocked except the fault
 * signals (SEGV, BUS, FPE, ILL, ABRT): OpenVPN handles SIGHUP, SIGUSR1 and
 * SIGTERM on its main thread, and faults stay where they happened. The caller's
 * mask is unchanged. Returns 0 with *T set, or an error number.
 */
int ovp_thread_start(struct ovp_thread **t, void *(*fn)(void *), void *arg);

/*
 * Waits until the FN of T returned, and parks the thread for the next
 * ovp_thread_start in this process. Returns FN's return value. T is not used
 * afterwards. Needs the plugin linked -z nodelete (parked threads run its code).
 */
void *ovp_thread_join(struct ovp_thread *t);

/* Threads created (not reused) by ovp_thread_start in this process, for tests. */
unsigned ovp_thread_created(void);

#endif

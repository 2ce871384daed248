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

/* CLOCK_MONOTONIC in nanoseconds and in milliseconds. */
uint64_t ovp_now_ns(void);
int64_t ovp_now_ms(void);

/*
 * pthread_create with every signal blocked in the new thread except the fault
 * signals (SEGV, BUS, FPE, ILL, ABRT). Why: OpenVPN handles SIGHUP, SIGUSR1 and
 * SIGTERM on its main thread, and one delivered to a plugin's thread would not
 * interrupt the main loop's wait; faults stay deliverable so a crash is reported
 * where it happened. The caller's mask is unchanged afterwards.
 * Returns 0 or the pthread_create error number.
 */
int ovp_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif

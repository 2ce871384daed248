/* pam_wait.c: a PAM module for the benchmarks: waits, then lets the rest of the stack decide. */
#include "ovpbuild.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <security/pam_modules.h>

/*
 * auth optional pam_wait.so ms=N
 *
 * pam_sm_authenticate sleeps N milliseconds and returns PAM_IGNORE: a backend N ms away
 * in front of the real stack (pam_unix), since the kernel here has no netem.
 * Benchmark code only.
 */
#define BENCH_EXPORT __attribute__((visibility("default")))

static long
wait_ms(int argc, const char **argv)
{
    long ms = 0;

    for (int i = 0; i < argc; i++)
    {
        if (strncmp(argv[i], "ms=", 3) == 0)
        {
            ms = strtol(argv[i] + 3, NULL, 10);
        }
    }
    return ms > 0 ? ms : 0;
}

BENCH_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    long ms = wait_ms(argc, argv);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    (void)pamh;
    (void)flags;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    {
    }
    return PAM_IGNORE;
}

BENCH_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_IGNORE;
}

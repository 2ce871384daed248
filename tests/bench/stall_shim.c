/* stall_shim.c: LD_PRELOAD for the benchmarks: times every plugin call by event type. */
#include "ovpbuild.h"

#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openvpn/openvpn-plugin.h>

/*
 * The reference core reports the stall of all of a plugin's calls together (p50, p99,
 * max). The benchmarks want every sample, by event type, to draw distributions and to
 * tell the auth call from the cheap ones. Preloaded into the host, this shim hands out a
 * timing wrapper when the host looks up openvpn_plugin_func_v1/v2/v3 (one plugin per
 * host: the benchmarks load one), and at exit writes "TYPE NANOSECONDS" lines to
 * $OVP_BENCH_STALL_FILE. Every other dlsym passes through. Benchmark code only.
 */
#define BENCH_EXPORT __attribute__((visibility("default")))

typedef void *(*dlsym_fn)(void *, const char *);
typedef int (*func_v1_fn)(openvpn_plugin_handle_t, const int, const char *[], const char *[]);
typedef int (*func_v2_fn)(openvpn_plugin_handle_t, const int, const char *[], const char *[],
                          void *, struct openvpn_plugin_string_list **);
typedef int (*func_v3_fn)(const int, struct openvpn_plugin_args_func_in const *,
                          struct openvpn_plugin_args_func_return *);

static func_v1_fn real_v1;
static func_v2_fn real_v2;
static func_v3_fn real_v3;

struct sample
{
    int type;
    uint64_t ns;
};
static struct sample *samples;
static size_t n_samples, cap_samples;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* the host calls plugins from its one thread: no locking */
static void
note(int type, uint64_t ns)
{
    if (n_samples == cap_samples)
    {
        size_t cap = cap_samples ? cap_samples * 2 : 65536;
        struct sample *s = realloc(samples, cap * sizeof(*s));
        if (!s)
        {
            return;
        }
        samples = s;
        cap_samples = cap;
    }
    samples[n_samples].type = type;
    samples[n_samples].ns = ns;
    n_samples++;
}

static int
timed_v1(openvpn_plugin_handle_t h, const int type, const char *argv[], const char *envp[])
{
    uint64_t t0 = now_ns();
    int rc = real_v1(h, type, argv, envp);

    note(type, now_ns() - t0);
    return rc;
}

static int
timed_v2(openvpn_plugin_handle_t h, const int type, const char *argv[], const char *envp[],
         void *ctx, struct openvpn_plugin_string_list **ret)
{
    uint64_t t0 = now_ns();
    int rc = real_v2(h, type, argv, envp, ctx, ret);

    note(type, now_ns() - t0);
    return rc;
}

static int
timed_v3(const int version, struct openvpn_plugin_args_func_in const *in,
         struct openvpn_plugin_args_func_return *out)
{
    uint64_t t0 = now_ns();
    int rc = real_v3(version, in, out);

    note(in->type, now_ns() - t0);
    return rc;
}

BENCH_EXPORT void *
dlsym(void *handle, const char *symbol)
{
    static dlsym_fn real;
    void *p;

    if (!real)
    {
        real = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
        if (!real)
        {
            real = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
        }
    }
    p = real(handle, symbol);
    if (!p || strncmp(symbol, "openvpn_plugin_func_v", 21) != 0)
    {
        return p;
    }
    /* object pointers to function pointers: POSIX guarantees this works for dlsym */
    if (strcmp(symbol, "openvpn_plugin_func_v1") == 0)
    {
        *(void **)&real_v1 = p;
        return (void *)timed_v1;
    }
    if (strcmp(symbol, "openvpn_plugin_func_v2") == 0)
    {
        *(void **)&real_v2 = p;
        return (void *)timed_v2;
    }
    if (strcmp(symbol, "openvpn_plugin_func_v3") == 0)
    {
        *(void **)&real_v3 = p;
        return (void *)timed_v3;
    }
    return p;
}

__attribute__((destructor)) static void
dump(void)
{
    const char *path = getenv("OVP_BENCH_STALL_FILE");
    FILE *f;

    if (!path || !n_samples)
    {
        return;
    }
    f = fopen(path, "w");
    if (!f)
    {
        return;
    }
    for (size_t i = 0; i < n_samples; i++)
    {
        fprintf(f, "%d %llu\n", samples[i].type, (unsigned long long)samples[i].ns);
    }
    fclose(f);
}

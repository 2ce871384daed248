/* stall_shim.c: LD_PRELOAD for the benchmarks: times every plugin call by event type. */
#include "ovpbuild.h"

#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <openvpn/openvpn-plugin.h>

/*
 * The reference core reports the stall of all of a plugin's calls together (p50, p99,
 * max). The benchmarks want every sample, by event type, to draw distributions and to
 * tell the auth call from the cheap ones. Preloaded into the host, this shim hands out a
 * timing wrapper when the host looks up openvpn_plugin_func_v1/v2/v3 (one plugin per
 * host: the benchmarks load one), and at exit writes one line per call to
 * $OVP_BENCH_STALL_FILE: "TYPE WALL_NS CPU_NS VOLUNTARY INVOLUNTARY START_NS": the time
 * in the call, the thread's CPU time in it, and the context switches during it (a
 * voluntary one: the call blocked; an involuntary one: the machine preempted it), and
 * when it started. A line "CLOSE WALL_NS" gives openvpn_plugin_close_v1's time (a
 * plugin's final flush). Every other dlsym passes through. Benchmark code only.
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
    uint64_t ns, cpu_ns, start_ns;
    long vol, invol;
};
typedef void (*close_fn)(openvpn_plugin_handle_t);
static close_fn real_close;
static uint64_t close_ns;
static struct sample *samples;
static size_t n_samples, cap_samples;

static uint64_t
clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct probe
{
    struct rusage ru;
    uint64_t cpu, wall;
};

static void
probe_start(struct probe *p)
{
    getrusage(RUSAGE_THREAD, &p->ru);
    p->cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    p->wall = clock_ns(CLOCK_MONOTONIC);
}

/* the host calls plugins from its one thread: no locking */
static void
note(int type, const struct probe *p0)
{
    uint64_t wall = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
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
    samples[n_samples].ns = wall - p0->wall;
    samples[n_samples].cpu_ns = cpu - p0->cpu;
    samples[n_samples].start_ns = p0->wall;
    samples[n_samples].vol = ru.ru_nvcsw - p0->ru.ru_nvcsw;
    samples[n_samples].invol = ru.ru_nivcsw - p0->ru.ru_nivcsw;
    n_samples++;
}

static int
timed_v1(openvpn_plugin_handle_t h, const int type, const char *argv[], const char *envp[])
{
    struct probe p;
    int rc;

    probe_start(&p);
    rc = real_v1(h, type, argv, envp);
    note(type, &p);
    return rc;
}

static int
timed_v2(openvpn_plugin_handle_t h, const int type, const char *argv[], const char *envp[],
         void *ctx, struct openvpn_plugin_string_list **ret)
{
    struct probe p;
    int rc;

    probe_start(&p);
    rc = real_v2(h, type, argv, envp, ctx, ret);
    note(type, &p);
    return rc;
}

static int
timed_v3(const int version, struct openvpn_plugin_args_func_in const *in,
         struct openvpn_plugin_args_func_return *out)
{
    struct probe p;
    int rc;

    probe_start(&p);
    rc = real_v3(version, in, out);
    note(in->type, &p);
    return rc;
}

static void
timed_close(openvpn_plugin_handle_t h)
{
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);

    real_close(h);
    close_ns += clock_ns(CLOCK_MONOTONIC) - t0;
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
    if (p && strcmp(symbol, "openvpn_plugin_close_v1") == 0)
    {
        *(void **)&real_close = p;
        return (void *)timed_close;
    }
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
        const struct sample *x = &samples[i];
        fprintf(f, "%d %llu %llu %ld %ld %llu\n", x->type, (unsigned long long)x->ns,
                (unsigned long long)x->cpu_ns, x->vol, x->invol,
                (unsigned long long)x->start_ns);
    }
    fprintf(f, "CLOSE %llu\n", (unsigned long long)close_ns);
    fclose(f);
}

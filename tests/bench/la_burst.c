/* la_burst.c: learn-address events as fast as one thread can make them, for the benchmarks. */
#include "ovpbuild.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openvpn/openvpn-plugin.h>

/*
 * la_burst PLUGIN CONFIG N: opens PLUGIN (with CONFIG as its one argument) as OpenVPN
 * 2.6 does, calls LEARN_ADDRESS "add" for N addresses then "delete" for the same N, one
 * after the other on this thread, then closes it (the plugin's final flush), and prints
 * one JSON line: the stall of each call (p50/p99/max, µs), the time of the calls and of
 * the close, and events/s = 2N / (calls + close): how fast the events reached the
 * database. The reference core cannot offer events this fast (it runs a whole client
 * for every two addresses); this host offers nothing but learn-address.
 * Benchmark code only: the plugin's log lines go to stderr.
 */

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
host_vlog(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, va_list ap)
{
    (void)flags;
    fprintf(stderr, "PLUGIN %s: ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void
host_log(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    host_vlog(flags, name, fmt, ap);
    va_end(ap);
}

static void
host_memzero(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n--)
    {
        *v++ = 0;
    }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    typedef int (*open_fn)(int, struct openvpn_plugin_args_open_in const *,
                           struct openvpn_plugin_args_open_return *);
    typedef int (*func_fn)(int, struct openvpn_plugin_args_func_in const *,
                           struct openvpn_plugin_args_func_return *);
    typedef void (*close_fn)(openvpn_plugin_handle_t);
    struct openvpn_plugin_callbacks cb = {host_log, host_vlog, host_memzero, NULL, NULL};
    open_fn op;
    func_fn fn;
    close_fn cl;
    void *dl;
    long n;
    uint64_t *stall, t0, t_calls, t_close;

    if (argc != 4 || (n = strtol(argv[3], NULL, 10)) <= 0)
    {
        fprintf(stderr, "usage: la_burst PLUGIN CONFIG N\n");
        return 2;
    }
    dl = dlopen(argv[1], RTLD_NOW);
    if (!dl)
    {
        fprintf(stderr, "la_burst: %s\n", dlerror());
        return 1;
    }
    *(void **)&op = dlsym(dl, "openvpn_plugin_open_v3");
    *(void **)&fn = dlsym(dl, "openvpn_plugin_func_v3");
    *(void **)&cl = dlsym(dl, "openvpn_plugin_close_v1");
    if (!op || !fn || !cl)
    {
        fprintf(stderr, "la_burst: not a v3 plugin\n");
        return 1;
    }

    const char *oargv[] = {argv[1], argv[2], NULL};
    const char *oenvp[] = {"verb=1", "daemon=0", "config=la_burst", NULL};
    struct openvpn_plugin_args_open_in in = {
        .type_mask = (1 << OPENVPN_PLUGIN_N) - 1,
        .argv = oargv,
        .envp = oenvp,
        .callbacks = &cb,
        .ssl_api = SSLAPI_OPENSSL,
        .ovpn_version = "2.6.14",
        .ovpn_version_major = 2,
        .ovpn_version_minor = 6,
        .ovpn_version_patch = "14",
    };
    struct openvpn_plugin_args_open_return ret;
    memset(&ret, 0, sizeof(ret));
    if (op(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret) != OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        fprintf(stderr, "la_burst: open failed\n");
        return 1;
    }

    stall = calloc(2 * (size_t)n, sizeof(*stall));
    if (!stall)
    {
        return 1;
    }
    t0 = now_ns();
    for (long i = 0; i < 2 * n; i++)
    {
        long k = i % n;
        char addr[32], cn[32], cnenv[48];
        snprintf(addr, sizeof(addr), "10.%ld.%ld.%ld", (k >> 16) & 255, (k >> 8) & 255,
                 k & 255);
        snprintf(cn, sizeof(cn), "client-%ld", k);
        snprintf(cnenv, sizeof(cnenv), "common_name=%s", cn);
        const char *fargv[] = {argv[1], i < n ? "add" : "delete", addr, i < n ? cn : NULL,
                               NULL};
        const char *fenvp[] = {cnenv, NULL};
        struct openvpn_plugin_args_func_in fin = {
            .type = OPENVPN_PLUGIN_LEARN_ADDRESS,
            .argv = fargv,
            .envp = fenvp,
            .handle = ret.handle,
            .current_cert_depth = -1,
        };
        struct openvpn_plugin_args_func_return fret = {0};
        uint64_t s = now_ns();
        fn(OPENVPN_PLUGINv3_STRUCTVER, &fin, &fret);
        stall[i] = now_ns() - s;
    }
    t_calls = now_ns() - t0;
    t0 = now_ns();
    cl(ret.handle);
    t_close = now_ns() - t0;

    qsort(stall, 2 * (size_t)n, sizeof(*stall), cmp_u64);
    printf("{\"events\":%ld,\"stall_us_p50\":%.2f,\"stall_us_p99\":%.2f,\"stall_us_max\":%.1f,"
           "\"calls_s\":%.4f,\"close_s\":%.4f,\"events_s\":%.0f}\n",
           2 * n, stall[n] / 1e3, stall[(2 * n * 99) / 100] / 1e3, stall[2 * n - 1] / 1e3,
           t_calls / 1e9, t_close / 1e9, 2.0 * n / ((t_calls + t_close) / 1e9));
    free(stall);
    dlclose(dl);
    return 0;
}

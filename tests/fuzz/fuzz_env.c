/*
 * fuzz_env.c: what every plugin does with OpenVPN's envp: lookups, typed values,
 * the client's name and address for log lines, and the defer engine's copy of an
 * auth call. Input: NUL-separated "name=value" entries.
 */
#include <stdlib.h>

#include "defer.h"
#include "env.h"
#include "fuzz.h"
#include "log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *envp[129];
    char *buf, err[256];
    size_t n = fuzz_split(data, size, &buf, envp, 128);
    envp[n] = NULL;
    long v;
    struct ovp_client_id who;

    (void)ovp_env_get(envp, "username");
    (void)ovp_env_get_nonempty(envp, "common_name");
    (void)ovp_env_get_long(envp, "verb", 0, 11, &v);
    (void)ovp_env_get_long(envp, "untrusted_port", 1, 65535, &v);
    free(ovp_env_dup(envp, "password"));
    (void)ovp_env_client_ip(envp);
    (void)ovp_env_client_port(envp);
    (void)ovp_argc(envp);
    ovp_client_id_from_env(&who, envp);
    ovp_defer_req_free(ovp_defer_req_from_env(envp, err, sizeof(err)));
    free(buf);
    return 0;
}

/*
 * fuzz_ccfg.c: client-config directives from a backend (a directory attribute, a
 * web service's answer) checked line by line and handed to the host.
 * Input: NUL-separated lines.
 */
#include <stdlib.h>

#include "ccfg.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *w[64];
    char *buf;
    size_t n = fuzz_split(data, size, &buf, w, 64);
    struct ovp_ccfg c = {0};
    struct openvpn_plugin_string_list *list = NULL;
    for (size_t i = 0; i < n; i++)
    {
        (void)ovp_ccfg_add(&c, w[i]);
    }
    if (ovp_ccfg_to_list(&c, &list) == 0)
    {
        ovp_string_list_free(list);
    }
    ovp_ccfg_clear(&c);
    free(buf);
    return 0;
}

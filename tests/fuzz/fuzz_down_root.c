/*
 * fuzz_down_root.c: what the down-root helper (root) reads from the unprivileged
 * side: a RUN request with its environment, which the filter then judges, and the
 * CONFIG frame; and the filter on its own. The first byte chooses.
 */
#include <stdlib.h>

#include "dr_wire.h"
#include "envfilter.h"
#include "fuzz.h"

static void
judge(const char *entry)
{
    static const char *const extra[] = {"my_var", "X"};
    char shown[80];
    int showable;
    (void)envfilter_check(entry, extra, 2);
    (void)envfilter_kind(entry, extra, 2, &showable);
    (void)envfilter_check_setenv(entry);
    for (size_t i = 1; i <= 6; i++)
    {
        (void)envfilter_arg_ok(i, entry);
    }
    envfilter_excerpt(entry, shown, sizeof(shown));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
    {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3)
    {
        case 0:
        {
            struct dr_wire_run r;
            if (dr_wire_run_decode(p, n, &r) == 0)
            {
                size_t pos = r.env_pos;
                char *e;
                int got;
                while ((got = dr_wire_run_next_env(p, n, &pos, &e)) != 0 && got != -1)
                {
                    if (e)
                    {
                        judge(e);
                        free(e);
                    }
                }
            }
            break;
        }
        case 1:
        {
            struct dr_wire_config c;
            if (dr_wire_config_decode(p, n, DR_SETENV_MAX, &c) == 0)
            {
                dr_wire_config_clear(&c);
            }
            break;
        }
        default:
        {
            char *s = fuzz_str(p, n);
            if (s)
            {
                judge(s);
                free(s);
            }
            break;
        }
    }
    return 0;
}

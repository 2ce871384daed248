/*
 * fuzz_privsep.c: the helper channel's framing, as either side reads it: one
 * datagram's header and payload, a LOG frame's text, and the length-prefixed
 * strings inside payloads.
 */
#include <stdio.h>

#include "fuzz.h"
#include "log.h"
#include "privsep.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ovp_priv_frame f;
    char why[160], text[OVP_LOG_LINE_MAX];
    int flags;
    if (ovp_priv_frame_parse(data, size, 4096, &f, why, sizeof(why)) == 0)
    {
        (void)ovp_priv_log_decode(f.payload, f.len, &flags, text, sizeof(text));
        size_t pos = 0, n;
        const uint8_t *s;
        while (ovp_priv_unpack(f.payload, f.len, &pos, &s, &n) == 0)
        {
        }
    }
    (void)ovp_priv_log_decode(data, size, &flags, text, 8);
    return 0;
}

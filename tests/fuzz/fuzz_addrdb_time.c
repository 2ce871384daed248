/*
 * fuzz_addrdb_time.c: ovp-addrdb's time arguments (Unix seconds, ISO 8601 with
 * zones, spans) and formatting the result back.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "query.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size), buf[64];
    int64_t ms, from, to;
    if (s && query_parse_time(s, &ms) == 0)
    {
        query_format_time(ms, 1, buf, sizeof(buf));
    }
    if (s && query_parse_time_span(s, &from, &to) == 0)
    {
        query_format_time(from, 1, buf, sizeof(buf));
        query_format_time(to, 1, buf, 8);
    }
    free(s);
    return 0;
}

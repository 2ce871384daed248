/*
 * fuzz_addr.c: learn-address-db's address parsing (IPv4, IPv6, iroute networks,
 * MAC addresses from TAP) and the covering networks it looks an address up by.
 */
#include <stdlib.h>

#include "addr.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    struct addr a;
    static char keys[ADDR_COVER_MAX][ADDR_TEXT_MAX];
    if (s && addr_parse(s, &a) == 0)
    {
        (void)addr_kind_name(a.kind);
        (void)addr_covering(&a, keys, ADDR_COVER_MAX);
        (void)addr_covering(&a, keys, 2);
    }
    free(s);
    return 0;
}

/* fuzz_util.c: input helpers shared by the harnesses. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

size_t
fuzz_split(const uint8_t *data, size_t size, char **buf, const char **words, size_t max)
{
    size_t n = 0, start = 0;
    *buf = malloc(size + 1);
    if (!*buf)
    {
        return 0;
    }
    memcpy(*buf, data, size);
    (*buf)[size] = '\0';
    for (size_t i = 0; i <= size && n < max; i++)
    {
        if (i == size || (*buf)[i] == '\0')
        {
            if (i > start || i < size)
            {
                words[n++] = *buf + start;
            }
            start = i + 1;
        }
    }
    return n;
}

char *
fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s)
    {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

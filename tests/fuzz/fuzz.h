/* fuzz.h: what every harness shares (libFuzzer's entry point, splitting input). */
#ifndef OVP_FUZZ_H
#define OVP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Splits DATA at NUL bytes into at most MAX malloc'd strings (an empty input is
 * no word). Returns the count; *BUF holds the copy (free it), WORDS point into it.
 */
size_t fuzz_split(const uint8_t *data, size_t size, char **buf, const char **words, size_t max);

/* DATA as a malloc'd NUL-terminated string (a NUL inside ends it early). */
char *fuzz_str(const uint8_t *data, size_t size);

#endif

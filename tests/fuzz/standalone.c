/*
 * standalone.c: runs a harness over files without libFuzzer, so that every
 * `make check` (gcc, ASan/UBSan in CI) replays the seed corpora and the inputs
 * of past crashes. Arguments: files or directories (their regular files).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path, unsigned long *count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
    {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
    {
        n += got;
        if (n == cap)
        {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
            {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
    {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    /* an exact-size copy, so that ASan sees a read past the input's end */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact)
    {
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    free(buf);
    (*count)++;
    return exact ? 0 : -1;
}

int
main(int argc, char **argv)
{
    unsigned long count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
    {
        struct stat sb;
        if (stat(argv[i], &sb) < 0)
        {
            perror(argv[i]);
            rc = 1;
            continue;
        }
        if (!S_ISDIR(sb.st_mode))
        {
            rc |= run_file(argv[i], &count) < 0;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d)))
        {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (e->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            {
                rc |= run_file(path, &count) < 0;
            }
        }
        if (d)
        {
            closedir(d);
        }
    }
    printf("%s: %lu inputs\n", argv[0], count);
    return rc;
}

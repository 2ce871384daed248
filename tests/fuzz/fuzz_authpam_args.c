/*
 * fuzz_authpam_args.c: auth-pam's drop-in argument parser (the bundled plugin's
 * service name and prompt/value pairs, then ovp's key=value options), and the
 * prompt matching and expansion that follow from it. Input: NUL-separated words.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pam_args.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *words[80];
    char *buf, err[512];
    size_t n = fuzz_split(data, size, &buf, words, 80);
    struct ap_conf c;
    struct ap_args a;
    memset(&c, 0, sizeof(c));
    memset(&a, 0, sizeof(a));
    if (ap_conf_parse(words, n, &c, &a, err, sizeof(err)) == 0)
    {
        static const char *const prompts[] = {"Password: ", "login:", "Verification code: ", "",
                                              "password"};
        struct ap_challenge ch = {c.crtext != NULL, c.crtext_prompt};
        for (size_t i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++)
        {
            int pair;
            (void)ap_prompt_find(&a, prompts[i]);
            (void)ap_classify(&a, &ch, prompts[i], (int)(i % 2), (unsigned)i, &pair);
        }
    }
    ap_conf_release(&c);
    ap_args_free(&a);
    free(buf);
    return 0;
}

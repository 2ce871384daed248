/*
 * fuzz_challenge.c: the challenge/response texts auth-pam parses and builds:
 * SCRV1 passwords, CLIENT_CRRESPONSE values, base64, the client's IV_SSO list and
 * the pending-file CR_TEXT line. Input: NUL-separated parts.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pam_args.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *w[4] = {0};
    char *buf, out[AP_CR_MAX + 1], line[1024];
    unsigned char raw[256];
    size_t n = fuzz_split(data, size, &buf, w, 4);
    for (size_t i = n; i < 4; i++)
    {
        w[i] = "";
    }
    char *pw = NULL, *otp = NULL;
    if (ap_scrv1_split(w[0], &pw, &otp) != AP_SCRV1_NOMEM)
    {
        free(pw);
        free(otp);
    }
    (void)ap_cr_decode(w[1], out, sizeof(out));
    (void)ap_cr_decode(w[1], out, 2);
    (void)ap_base64_decode(w[1], strlen(w[1]), raw, sizeof(raw));
    (void)ap_base64_decode((const char *)data, size, raw, 3);
    (void)ap_sso_has(w[2], "crtext");
    (void)ap_sso_has(w[2], w[3]);
    (void)ap_crtext_line(line, sizeof(line), 1, w[3]);
    (void)ap_crtext_line(line, 16, 0, w[3]);
    free(buf);
    return 0;
}

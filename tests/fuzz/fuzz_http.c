/*
 * fuzz_http.c: what auth-http takes from a web service and from OpenVPN: the
 * service's JSON answer (strict parse), a reason shown to a client, the pending
 * line built from a service's URL or challenge text, the request body built from
 * a client's env, and URL and Fields settings. The first byte chooses.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_conf.h"
#include "http_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
    {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    char err[256], out[1100];
    switch (data[0] % 4)
    {
        case 0:
        {
            struct ah_answer a;
            memset(&a, 0, sizeof(a));
            if (ah_answer_parse((const char *)p, n, &a, err, sizeof(err)) == 0 && a.reason)
            {
                ah_reason_sanitize(a.reason, out, sizeof(out));
            }
            if (a.pending_url)
            {
                (void)ah_pending_text("openurl", a.pending_url, 0, out, sizeof(out));
                (void)ah_pending_text("webauth", a.pending_url, 0, out, sizeof(out));
            }
            if (a.challenge_text)
            {
                (void)ah_pending_text("crtext", a.challenge_text, a.challenge_echo, out,
                                      sizeof(out));
            }
            ah_answer_clear(&a);
            break;
        }
        case 1:
        {
            char *s = fuzz_str(p, n);
            if (s)
            {
                ah_reason_sanitize(s, out, sizeof(out));
                ah_reason_sanitize(s, out, 7);
                (void)ah_pending_text("crtext", s, 1, out, sizeof(out));
                (void)ah_pending_text("openurl", s, 0, out, 64);
                free(s);
            }
            break;
        }
        case 2:
        {
            const char *envp[65];
            char *buf;
            size_t ne = fuzz_split(p, n, &buf, envp, 64);
            envp[ne] = NULL;
            struct ah_body_in in = {.envp = envp,
                                    .fields = ~0u,
                                    .hook = "auth",
                                    .request_id = "00ff",
                                    .with_password = 1,
                                    .ticket = ne > 0 ? envp[0] : NULL,
                                    .response = ne > 1 ? envp[1] : NULL};
            int replaced;
            char *body = ah_body_build(&in, &replaced, err, sizeof(err));
            free(body);
            free(buf);
            break;
        }
        default:
        {
            char *s = fuzz_str(p, n);
            struct ah_url u;
            unsigned mask;
            memset(&u, 0, sizeof(u));
            if (s && ah_url_parse(s, &u, err, sizeof(err)) == 0)
            {
                free(u.url);
                free(u.shown);
            }
            if (s)
            {
                (void)ah_fields_parse(s, &mask, err, sizeof(err));
                (void)ah_host_is_loopback(s);
            }
            free(s);
            break;
        }
    }
    return 0;
}

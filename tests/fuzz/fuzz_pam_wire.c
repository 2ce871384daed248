/*
 * fuzz_pam_wire.c: auth-pam's helper payloads on both sides: requests, the
 * configuration and challenge responses (decoded by the root helper), replies
 * (decoded by the plugin). The first byte chooses the decoder.
 */
#include "fuzz.h"
#include "pam_wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
    {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5)
    {
        case 0:
        {
            struct ap_wire_req r;
            if (ap_wire_req_decode(p, n, &r) == 0)
            {
                ap_wire_req_clear(&r);
            }
            break;
        }
        case 1:
        {
            uint32_t flags;
            (void)ap_wire_req_flags(p, n, &flags);
            break;
        }
        case 2:
        {
            struct ap_wire_rep r;
            (void)ap_wire_rep_decode(p, n, &r);
            break;
        }
        case 3:
        {
            uint32_t status;
            const uint8_t *resp;
            size_t rlen;
            (void)ap_wire_cr_decode(p, n, &status, &resp, &rlen);
            break;
        }
        default:
        {
            uint32_t verb, cr_on;
            char **words;
            size_t nw;
            if (ap_wire_config_decode(p, n, &verb, &cr_on, &words, &nw) == 0)
            {
                ap_wire_words_free(words);
            }
            break;
        }
    }
    return 0;
}

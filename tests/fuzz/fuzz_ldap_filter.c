/*
 * fuzz_ldap_filter.c: auth-ldap's handling of what a client types and what a
 * directory answers: RFC 4515 escaping, %u substitution into a filter, group
 * member filters, SCRV1 passwords, Active Directory diagnostic texts.
 * Input: NUL-separated parts (template, user, attribute, ...).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ldap_filter.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *w[8] = {0};
    char *buf, out[512];
    size_t n = fuzz_split(data, size, &buf, w, 8);
    for (size_t i = n; i < 8; i++)
    {
        w[i] = "";
    }
    free(al_filter_escape((const char *)data, size));
    free(al_filter_subst(w[0], w[1]));
    free(al_member_filter(w[0], w[2], w[1]));
    free(al_member_filter_any(w[0], w[2], w[3], w + 4, 4));
    (void)al_attr_name_ok(w[2]);
    (void)al_scrv1_password(w[1], out, sizeof(out));
    (void)al_scrv1_password(w[1], out, 4);
    (void)al_ad_reason(w[1]);
    free(buf);
    return 0;
}

/* ldap_filter.h: ovp-auth-ldap's pure logic: filter escaping, %u, SCRV1, AD reasons. */
#ifndef OVP_AL_LDAP_FILTER_H
#define OVP_AL_LDAP_FILTER_H

#include <stddef.h>

/*
 * Escapes LEN bytes of IN as an RFC 4515 assertion value: '*', '(', ')', '\\',
 * NUL and every other control byte (below 0x20, and 0x7f) become "\\XX"; other
 * bytes, UTF-8 included, are kept. Returns a malloc'd string, or NULL when out of
 * memory.
 */
char *al_filter_escape(const char *in, size_t len);

/*
 * The filter TMPL with every "%u" replaced by the escaped USER (only "%u" is
 * special; other '%' are kept, as openvpn-auth-ldap does). A template that does
 * not start with '(' is wrapped in parentheses. Returns a malloc'd string, or
 * NULL when out of memory.
 */
char *al_filter_subst(const char *tmpl, const char *user);

/*
 * The membership filter "(&TMPL(ATTR=VALUE))" with VALUE escaped (a user's DN, or
 * the login name for memberUid). TMPL NULL or empty gives "(ATTR=VALUE)".
 * Returns a malloc'd string, or NULL when out of memory.
 */
char *al_member_filter(const char *tmpl, const char *attr, const char *value);

/*
 * The membership filter for any of N values: "(&TMPL(|(ATTR=V1)(ATTR=V2)...))", each
 * value escaped; one value gives no "(|...)", an empty TMPL no "(&...)". RULE, when
 * not NULL, is an extensible match rule: "(ATTR:RULE:=V)" (Active Directory's
 * in-chain rule 1.2.840.113556.1.4.1941 for nested groups). N must be at least 1.
 * Returns a malloc'd string, or NULL (out of memory, N == 0).
 */
char *al_member_filter_any(const char *tmpl, const char *attr, const char *rule,
                           const char *const *values, size_t n);

/* 1 when NAME is a usable attribute description (letters, digits, '-', ';', OID dots). */
int al_attr_name_ok(const char *name);

/*
 * PasswordIsCR: the password part of OpenVPN's static challenge answer
 * "SCRV1:<base64 password>:<base64 response>" (or of a dynamic one,
 * "CRV1::<state id>::<base64 response>" carries none and is refused). Writes the
 * decoded password (NUL-terminated) into OUT of OUTLEN bytes. Returns its length,
 * or -1 when IN is not in that form, does not decode, holds a NUL or is too long.
 * OUT is wiped by the caller.
 */
long al_scrv1_password(const char *in, char *out, size_t outlen);

/*
 * Active Directory's bind diagnostic ("80090308: LdapErr: DSID-..., data 775,
 * ...") as a reason a person understands ("account locked"), or NULL when DIAG
 * carries none of the known codes (52e, a plain wrong password, is NULL too).
 */
const char *al_ad_reason(const char *diag);

#endif

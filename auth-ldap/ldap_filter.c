/* ldap_filter.c: ovp-auth-ldap's pure logic: filter escaping, %u, SCRV1, AD reasons. */
#include "ovpbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldap_filter.h"

static int
needs_escape(unsigned char c)
{
    /* RFC 4515 section 3: these may not appear as themselves in a value. */
    return c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f;
}

char *
al_filter_escape(const char *in, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    char *out, *o;

    for (size_t i = 0; i < len; i++)
    {
        n += needs_escape((unsigned char)in[i]) ? 3 : 1;
    }
    out = malloc(n + 1);
    if (!out)
    {
        return NULL;
    }
    o = out;
    for (size_t i = 0; i < len; i++)
    {
        unsigned char c = (unsigned char)in[i];
        if (needs_escape(c))
        {
            *o++ = '\\';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        else
        {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

char *
al_filter_subst(const char *tmpl, const char *user)
{
    char *esc = al_filter_escape(user, strlen(user));
    size_t el, n = 0, count = 0;
    int wrap = tmpl[0] != '(';
    char *out, *o;

    if (!esc)
    {
        return NULL;
    }
    el = strlen(esc);
    for (const char *p = tmpl; (p = strstr(p, "%u")) != NULL; p += 2)
    {
        count++;
    }
    n = strlen(tmpl) - 2 * count + el * count + (wrap ? 2 : 0);
    out = malloc(n + 1);
    if (!out)
    {
        free(esc);
        return NULL;
    }
    o = out;
    if (wrap)
    {
        *o++ = '(';
    }
    for (const char *p = tmpl; *p;)
    {
        if (p[0] == '%' && p[1] == 'u')
        {
            memcpy(o, esc, el);
            o += el;
            p += 2;
        }
        else
        {
            *o++ = *p++;
        }
    }
    if (wrap)
    {
        *o++ = ')';
    }
    *o = '\0';
    free(esc);
    return out;
}

/* Appends TEXT to the growing string *BUF (length *LEN). Returns 0 or -1. */
static int
append(char **buf, size_t *len, const char *text)
{
    size_t tl = strlen(text);
    char *nb = realloc(*buf, *len + tl + 1);
    if (!nb)
    {
        return -1;
    }
    memcpy(nb + *len, text, tl + 1);
    *buf = nb;
    *len += tl;
    return 0;
}

char *
al_member_filter_any(const char *tmpl, const char *attr, const char *rule,
                     const char *const *values, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    int wrap = tmpl && tmpl[0] && tmpl[0] != '(';
    int ok = n > 0;

    if (ok && tmpl && tmpl[0])
    {
        ok = append(&out, &len, "(&") == 0 && append(&out, &len, wrap ? "(" : "") == 0 &&
             append(&out, &len, tmpl) == 0 && append(&out, &len, wrap ? ")" : "") == 0;
    }
    if (ok && n > 1)
    {
        ok = append(&out, &len, "(|") == 0;
    }
    for (size_t i = 0; ok && i < n; i++)
    {
        char *esc = al_filter_escape(values[i], strlen(values[i]));
        ok = esc && append(&out, &len, "(") == 0 && append(&out, &len, attr) == 0 &&
             (!rule || (append(&out, &len, ":") == 0 && append(&out, &len, rule) == 0 &&
                        append(&out, &len, ":") == 0)) &&
             append(&out, &len, "=") == 0 && append(&out, &len, esc) == 0 &&
             append(&out, &len, ")") == 0;
        free(esc);
    }
    if (ok && n > 1)
    {
        ok = append(&out, &len, ")") == 0;
    }
    if (ok && tmpl && tmpl[0])
    {
        ok = append(&out, &len, ")") == 0;
    }
    if (!ok)
    {
        free(out);
        return NULL;
    }
    return out;
}

char *
al_member_filter(const char *tmpl, const char *attr, const char *value)
{
    return al_member_filter_any(tmpl, attr, NULL, &value, 1);
}

int
al_attr_name_ok(const char *name)
{
    if (!name || !name[0])
    {
        return 0;
    }
    for (const char *p = name; *p; p++)
    {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == ';' || c == '.'))
        {
            return 0;
        }
    }
    return 1;
}

static int
b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
    {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z')
    {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9')
    {
        return c - '0' + 52;
    }
    if (c == '+')
    {
        return 62;
    }
    if (c == '/')
    {
        return 63;
    }
    return -1;
}

/* Decodes the base64 text IN[0..LEN) into OUT. Returns the length or -1. */
static long
b64_decode(const char *in, size_t len, char *out, size_t outlen)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0, i;

    for (i = 0; i < len && in[i] != '='; i++)
    {
        int v = b64val(in[i]);
        if (v < 0)
        {
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8)
        {
            bits -= 8;
            if (n + 1 >= outlen)
            {
                return -1;
            }
            out[n] = (char)((acc >> bits) & 0xff);
            if (out[n] == '\0')
            {
                return -1;
            }
            n++;
        }
    }
    for (; i < len; i++)
    {
        if (in[i] != '=')
        {
            return -1;
        }
    }
    out[n] = '\0';
    return (long)n;
}

long
al_scrv1_password(const char *in, char *out, size_t outlen)
{
    const char *a, *b;

    if (!in || strncmp(in, "SCRV1:", 6) != 0 || outlen == 0)
    {
        return -1;
    }
    a = in + 6;
    b = strchr(a, ':');
    if (!b || strchr(b + 1, ':'))
    {
        return -1;
    }
    return b64_decode(a, (size_t)(b - a), out, outlen);
}

const char *
al_ad_reason(const char *diag)
{
    /* Codes of the "data XXX" part of AD's LDAP_INVALID_CREDENTIALS diagnostic. */
    static const struct
    {
        const char *code;
        const char *reason;
    } map[] = {
        {"525", NULL}, /* no such user: reported as a plain failure */
        {"52e", NULL}, /* wrong password */
        {"530", "not permitted to log on at this time"},
        {"531", "not permitted to log on from this workstation"},
        {"532", "password expired"},
        {"533", "account disabled"},
        {"701", "account expired"},
        {"773", "password must be changed"},
        {"775", "account locked"},
    };
    const char *p;

    if (!diag || !(p = strstr(diag, "data ")))
    {
        return NULL;
    }
    p += 5;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    {
        size_t l = strlen(map[i].code);
        if (strncasecmp(p, map[i].code, l) == 0 && (p[l] == ',' || p[l] == '\0' || p[l] == ' '))
        {
            return map[i].reason;
        }
    }
    return NULL;
}

/* addr.c: parsing and normalising learn-address addresses (no SQLite here). */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Parses 1-4 decimal digits without a leading zero (except "0") up to MAX. */
static int
parse_small(const char *s, size_t len, unsigned max, unsigned *out)
{
    unsigned v = 0;
    if (len == 0 || len > 4 || (len > 1 && s[0] == '0'))
    {
        return -1;
    }
    for (size_t i = 0; i < len; i++)
    {
        if (s[i] < '0' || s[i] > '9')
        {
            return -1;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
    {
        return -1;
    }
    *out = v;
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
    {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f')
    {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F')
    {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * A MAC as OpenVPN prints it in TAP mode ("02:00:5e:00:53:01@0"; 2.5 omits
 * "@vid"), also accepted with '-' separators, as people type it in queries.
 */
static int
parse_mac(const char *s, size_t len, struct addr *out)
{
    const char *at = memchr(s, '@', len);
    size_t mlen = at ? (size_t)(at - s) : len;
    unsigned vid = 0;

    if (mlen != 17 || (s[2] != ':' && s[2] != '-'))
    {
        return -1;
    }
    for (int i = 0; i < 6; i++)
    {
        const char *p = s + i * 3;
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0 || (i < 5 && p[2] != s[2]))
        {
            return -1;
        }
        out->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    /* 802.1Q VLAN ids are 12 bits. */
    if (at && parse_small(at + 1, len - mlen - 1, 4095, &vid) < 0)
    {
        return -1;
    }
    out->kind = ADDR_MAC;
    out->prefix = 0;
    out->vid = vid;
    int n =
        snprintf(out->text, sizeof(out->text), "%02x:%02x:%02x:%02x:%02x:%02x", out->bytes[0],
                 out->bytes[1], out->bytes[2], out->bytes[3], out->bytes[4], out->bytes[5]);
    if (vid)
    {
        snprintf(out->text + n, sizeof(out->text) - (size_t)n, "@%u", vid);
    }
    return 0;
}

/* Clears every bit after the first PREFIX bits of the LEN-byte address B. */
static void
mask_bits(unsigned char *b, size_t len, int prefix)
{
    for (size_t i = 0; i < len; i++)
    {
        int keep = prefix - (int)(i * 8);
        if (keep <= 0)
        {
            b[i] = 0;
        }
        else if (keep < 8)
        {
            b[i] &= (unsigned char)(0xff << (8 - keep));
        }
    }
}

/* Writes the normalised text of an IP address or network from its fields. */
static void
format_ip(struct addr *a)
{
    int v4 = a->kind == ADDR_IPV4 || a->kind == ADDR_IPV4_NET;
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(v4 ? AF_INET : AF_INET6, a->bytes, buf, sizeof(buf));
    if (a->kind == ADDR_IPV4_NET || a->kind == ADDR_IPV6_NET)
    {
        snprintf(a->text, sizeof(a->text), "%s/%d", buf, a->prefix);
    }
    else
    {
        snprintf(a->text, sizeof(a->text), "%s", buf);
    }
}

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int
addr_parse(const char *s, struct addr *out)
{
    char ip[ADDR_TEXT_MAX];
    size_t len;
    unsigned prefix = 0;
    int has_prefix = 0, v6;

    if (!s || !out)
    {
        return -1;
    }
    len = strlen(s);
    if (len == 0 || len >= ADDR_TEXT_MAX)
    {
        return -1;
    }
    /* Only what addresses are made of: no spaces, ports, zone ids or controls. */
    if (strspn(s, "0123456789abcdefABCDEF.:/@-") != len)
    {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (strchr(s, '@') || strchr(s, '-'))
    {
        return parse_mac(s, len, out);
    }
    /* "ab:cd:ef:12:34::1" is IPv6 of a MAC's length: try MAC, then IP. */
    if (len == 17 && parse_mac(s, len, out) == 0)
    {
        return 0;
    }
    memset(out, 0, sizeof(*out));

    const char *slash = strchr(s, '/');
    size_t iplen = slash ? (size_t)(slash - s) : len;
    memcpy(ip, s, iplen);
    ip[iplen] = '\0';
    v6 = strchr(ip, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, out->bytes) != 1)
    {
        return -1;
    }
    if (slash)
    {
        if (parse_small(slash + 1, len - iplen - 1, v6 ? 128 : 32, &prefix) < 0)
        {
            return -1;
        }
        has_prefix = 1;
    }
    else
    {
        prefix = v6 ? 128 : 32;
    }

    /* OpenVPN prints IPv4-mapped IPv6 as plain IPv4: store it the same way. */
    if (v6 && memcmp(out->bytes, v4mapped, sizeof(v4mapped)) == 0 && prefix >= 96)
    {
        memmove(out->bytes, out->bytes + 12, 4);
        memset(out->bytes + 4, 0, 12);
        prefix -= 96;
        v6 = 0;
    }
    out->prefix = (int)prefix;
    mask_bits(out->bytes, v6 ? 16 : 4, out->prefix);
    if (has_prefix && prefix < (v6 ? 128u : 32u))
    {
        out->kind = v6 ? ADDR_IPV6_NET : ADDR_IPV4_NET;
    }
    else
    {
        out->kind = v6 ? ADDR_IPV6 : ADDR_IPV4;
    }
    format_ip(out);
    return 0;
}

const char *
addr_kind_name(enum addr_kind kind)
{
    switch (kind)
    {
        case ADDR_IPV4:
            return "ipv4";
        case ADDR_IPV6:
            return "ipv6";
        case ADDR_IPV4_NET:
            return "ipv4-net";
        case ADDR_IPV6_NET:
            return "ipv6-net";
        case ADDR_MAC:
            return "mac";
    }
    return "unknown";
}

size_t
addr_covering(const struct addr *a, char (*out)[ADDR_TEXT_MAX], size_t max)
{
    size_t n = 0;
    if (!a || !out || max == 0)
    {
        return 0;
    }
    snprintf(out[n++], ADDR_TEXT_MAX, "%s", a->text);
    if (a->kind == ADDR_MAC)
    {
        return n;
    }
    int v4 = a->kind == ADDR_IPV4 || a->kind == ADDR_IPV4_NET;
    struct addr net = *a;
    net.kind = v4 ? ADDR_IPV4_NET : ADDR_IPV6_NET;
    /* Longest prefix first: the most specific route is the one that matched. */
    for (int p = a->prefix - 1; p >= 0 && n < max; p--)
    {
        net.prefix = p;
        mask_bits(net.bytes, v4 ? 4 : 16, p);
        format_ip(&net);
        memcpy(out[n++], net.text, ADDR_TEXT_MAX);
    }
    return n;
}

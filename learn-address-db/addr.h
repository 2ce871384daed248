/* addr.h: parsing and normalising the addresses OpenVPN hands to learn-address. */
#ifndef OVP_LAD_ADDR_H
#define OVP_LAD_ADDR_H

#include <stddef.h>

/* Longest normalised address, with its NUL ("ffff:...:ffff/128" is 43 + 1). */
#define ADDR_TEXT_MAX 64

/* The most keys addr_covering can return (an IPv6 host: itself and /0../127). */
#define ADDR_COVER_MAX 129

enum addr_kind
{
    ADDR_IPV4 = 1, /* a host: 10.8.0.14 */
    ADDR_IPV6,     /* a host: 2001:db8::14 */
    ADDR_IPV4_NET, /* an iroute: 10.9.0.0/24 */
    ADDR_IPV6_NET, /* an iroute: 2001:db8:1::/48 */
    ADDR_MAC,      /* TAP mode: 02:00:5e:00:53:01, "@vid" when on a VLAN */
};

/* One parsed address. TEXT is the one spelling stored and compared. */
struct addr
{
    enum addr_kind kind;
    unsigned char bytes[16]; /* network order; IPv4 and MAC use the first 4 / 6 */
    int prefix;              /* network bits: 32 / 128 for hosts, 0 for a MAC */
    unsigned vid;            /* MAC only: 802.1Q VLAN id, 0 when untagged */
    char text[ADDR_TEXT_MAX];
};

/*
 * Parses S as OpenVPN prints a learned address (mroute_addr_print) and
 * normalises it: IPv4 dotted quad; IPv6 in inet_ntop's compressed lower-case
 * form (IPv4-mapped IPv6 becomes IPv4, as OpenVPN prints it); a.b.c.d/nn and
 * v6/nn with host bits cleared (/32 and /128 become plain hosts); a MAC as
 * lower-case colon-separated hex with "@vid" only for a non-zero VLAN.
 * Anything else (spaces, ports, zone ids, leading zeros, "UNKNOWN") is refused.
 * Returns 0, or -1 leaving *OUT unspecified.
 */
int addr_parse(const char *s, struct addr *out);

/* "ipv4", "ipv6", "ipv4-net", "ipv6-net" or "mac" (stored with every row). */
const char *addr_kind_name(enum addr_kind kind);

/*
 * The stored keys that hold A: A itself and, for an IP address or network,
 * every shorter prefix containing it ("10.8.0.0/24", ..., "0.0.0.0/0"), so that
 * an address routed through an iroute is found. Writes at most MAX keys to OUT
 * (A's own text first) and returns how many.
 */
size_t addr_covering(const struct addr *a, char (*out)[ADDR_TEXT_MAX], size_t max);

#endif

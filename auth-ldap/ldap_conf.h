/* ldap_conf.h: ovp-auth-ldap's configuration: openvpn-auth-ldap's file, bound and checked. */
#ifndef OVP_AL_LDAP_CONF_H
#define OVP_AL_LDAP_CONF_H

#include <stddef.h>

#include "config.h"

/* TLSVerify: how the server certificate is checked (libldap's TLS_REQCERT levels). */
enum
{
    AL_VERIFY_NEVER = 0, /* no check at all: for tests only */
    AL_VERIFY_ALLOW,     /* checked, failures ignored */
    AL_VERIFY_TRY,       /* checked when sent, a bad one refused */
    AL_VERIFY_DEMAND,    /* required, chain and host name: the default */
};

/* TLSMinVersion. */
enum
{
    AL_TLS_1_0 = 0,
    AL_TLS_1_1,
    AL_TLS_1_2,
    AL_TLS_1_3,
};

/* NestedGroups: groups that are members of groups. */
enum
{
    AL_NEST_NO = 0,
    AL_NEST_SEARCH, /* a bounded breadth-first search, level by level */
    AL_NEST_AD,     /* Active Directory's in-chain matching rule (one search) */
};

/* One <Group> block of <Authorization>. */
struct al_group
{
    char *base_dn;
    char *filter;         /* SearchFilter: which entries are the groups */
    char *member_attr;    /* MemberAttribute (uniqueMember); "memberOf": the user's attribute */
    int rfc2307bis;       /* 1: the member value is the user's DN; 0: the login name */
    int use_compare;      /* UseCompareOperation: accepted, see ovp-auth-ldap.5 */
    int nested;           /* NestedGroups: AL_NEST_* */
    long nested_depth;    /* NestedDepth: levels of groups in groups searched */
    char *pf_table;       /* accepted with a warning (OpenBSD pf) */
    struct ovp_strv push; /* Push (ovp): pushed to a member of this group */
};

struct al_conf
{
    /* <LDAP> */
    char *url;     /* one or more URLs, space-separated */
    char *bind_dn; /* NULL: anonymous searches */
    char *password;
    long timeout_s; /* network and per-operation timeout */
    int tls_enable; /* StartTLS on ldap:// URLs */
    int follow_referrals;
    char *ca_file, *ca_dir, *cert_file, *key_file, *cipher_suite;
    int tls_verify;      /* AL_VERIFY_* */
    int tls_min;         /* AL_TLS_* */
    long bind_conns;     /* connections for user binds */
    long queue;          /* requests in flight or waiting */
    long retry_max_s;    /* longest backoff of a server found down */
    long inline_wait_us; /* InlineWait: the auth hook waits this long (0: never) */
    /* <Authorization> */
    char *base_dn;
    char *search_filter;
    int require_group;
    int password_is_cr;
    int token_skip;    /* TokenSkip: an auth-gen-token session OpenVPN verified skips LDAP */
    long cache_ttl_ms; /* CacheTTL: how long a success is remembered (0: off) */
    long neg_cache_ttl_ms; /* NegativeCacheTTL: the same for a refusal */
    char *push_attr;       /* PushAttribute: each value pushed to the user */
    char *ifconfig_attr;   /* IfconfigPushAttribute: "address [netmask]" */
    int client_config;     /* derived: any of the above, or a group's Push */
    char *pf_table;
    struct al_group *groups;
    size_t n_groups;
    /* <LDAP> MaxPerAddress, MaxPerUser: authentications in progress from one address
     * (IPv6: its /64) and for one username */
    long per_address;
    long per_user;
    /* derived */
    char **urls; /* the URLs split, n_urls of them */
    size_t n_urls;
    char **warnings; /* lines for the log (keys accepted but not honoured) */
    size_t n_warnings;
};

/*
 * Parses the plugin's words (a config file path, as openvpn-auth-ldap takes it)
 * and binds the result into C. Checks everything that needs no network: sections
 * present once, SearchFilter holding %u, URL schemes (ldap:// or ldaps://),
 * attribute names, TLS files readable when TLS is in use. Returns 0, or -1 with
 * the error in ERR (never showing the password). Release C with al_conf_release
 * in both cases.
 */
int al_conf_load(const char *const *words, size_t n, struct al_conf *c, char *err,
                 size_t errlen);

/* As al_conf_load, without the checks on files (the unit tests use it). */
int al_conf_load_nofiles(const char *const *words, size_t n, struct al_conf *c, char *err,
                         size_t errlen);

/* Frees what al_conf_load stored (the password wiped). NULL-safe. */
void al_conf_release(struct al_conf *c);

#endif

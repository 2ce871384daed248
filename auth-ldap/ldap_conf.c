/* ldap_conf.c: ovp-auth-ldap's configuration: openvpn-auth-ldap's file, bound and checked. */
#include "ovpbuild.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admit.h"
#include "config.h"
#include "defer.h"
#include "ldap_conf.h"
#include "ldap_filter.h"
#include "util.h"

static const char *const verify_choices[] = {"never", "allow", "try", "demand", NULL};
static const char *const nest_choices[] = {"no", "search", "ad", NULL};
static const char *const tlsver_choices[] = {"1.0", "1.1", "1.2", "1.3", NULL};

#define LK(field) offsetof(struct al_conf, field)
static const struct ovp_cfg_key ldap_keys[] = {
    {.name = "URL",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = LK(url),
     .help = "ldap:// or ldaps:// URLs, space-separated, tried in order"},
    {.name = "BindDN",
     .type = OVP_CFG_STRING,
     .offset = LK(bind_dn),
     .help = "DN of the service bind used for searches (none: anonymous)"},
    {.name = "Password",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = LK(password),
     .help = "password of BindDN (or PasswordFile)"},
    {.name = "Timeout",
     .type = OVP_CFG_INT,
     .def = "15",
     .offset = LK(timeout_s),
     .min = 1,
     .max = 300,
     .help = "seconds for a connection and for each operation"},
    {.name = "TLSEnable",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = LK(tls_enable),
     .help = "StartTLS on ldap:// URLs before any bind"},
    {.name = "FollowReferrals",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = LK(follow_referrals),
     .help = "chase referrals"},
    {.name = "TLSCACertFile",
     .type = OVP_CFG_STRING,
     .offset = LK(ca_file),
     .help = "CA certificates (PEM)"},
    {.name = "TLSCACertDir",
     .type = OVP_CFG_STRING,
     .offset = LK(ca_dir),
     .help = "directory of CA certificates"},
    {.name = "TLSCertFile",
     .type = OVP_CFG_STRING,
     .offset = LK(cert_file),
     .help = "client certificate (PEM)"},
    {.name = "TLSKeyFile",
     .type = OVP_CFG_STRING,
     .offset = LK(key_file),
     .help = "client key (PEM)"},
    {.name = "TLSCipherSuite",
     .type = OVP_CFG_STRING,
     .offset = LK(cipher_suite),
     .help = "cipher suite string for the TLS library"},
    {.name = "TLSVerify",
     .type = OVP_CFG_ENUM,
     .def = "demand",
     .offset = LK(tls_verify),
     .choices = verify_choices,
     .help = "server certificate check"},
    {.name = "TLSMinVersion",
     .type = OVP_CFG_ENUM,
     .def = "1.2",
     .offset = LK(tls_min),
     .choices = tlsver_choices,
     .help = "lowest TLS version accepted"},
    {.name = "BindConnections",
     .type = OVP_CFG_INT,
     .def = "16",
     .offset = LK(bind_conns),
     .min = 1,
     .max = 256,
     .help = "connections for user binds (binds in parallel)"},
    {.name = "Queue",
     .type = OVP_CFG_INT,
     .def = "4096",
     .offset = LK(queue),
     .min = 1,
     .max = 1000000,
     .help = "authentications in flight or waiting"},
    OVP_ADMIT_CFG_KEYS(LK(per_address), LK(per_user)),
    {.name = "RetryMax",
     .type = OVP_CFG_INT,
     .def = "30",
     .offset = LK(retry_max_s),
     .min = 1,
     .max = 3600,
     .help = "longest wait in seconds before a down server is tried again"},
    {.name = "InlineWait",
     .type = OVP_CFG_DURATION_US,
     .def = "0",
     .offset = LK(inline_wait_us),
     .min = 0,
     .max = OVP_DEFER_INLINE_WAIT_MAX_US,
     .help = "how long the auth hook waits for an answer (the cache, a fast directory) "
             "before deferring it; OpenVPN's event loop (every tunnel) stalls up to that "
             "long per authentication, so 10ms is the limit"},
};

static const struct ovp_cfg_key authz_keys[] = {
    {.name = "BaseDN",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = LK(base_dn),
     .help = "where users are searched"},
    {.name = "SearchFilter",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = LK(search_filter),
     .help = "user filter; %u is the escaped username"},
    {.name = "RequireGroup",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = LK(require_group),
     .help = "the user must be in a <Group>"},
    {.name = "PasswordIsCR",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = LK(password_is_cr),
     .help = "the password is a static challenge answer (SCRV1)"},
    {.name = "CacheTTL",
     .type = OVP_CFG_DURATION,
     .def = "0",
     .offset = LK(cache_ttl_ms),
     .min = 0,
     .max = 86400000,
     .help = "how long a success is remembered for the same username and password"},
    {.name = "NegativeCacheTTL",
     .type = OVP_CFG_DURATION,
     .def = "0",
     .offset = LK(neg_cache_ttl_ms),
     .min = 0,
     .max = 86400000,
     .help = "how long a refusal is remembered for the same username and password"},
    {.name = "PushAttribute",
     .type = OVP_CFG_STRING,
     .offset = LK(push_attr),
     .help = "user attribute whose values are pushed (push \"VALUE\")"},
    {.name = "IfconfigPushAttribute",
     .type = OVP_CFG_STRING,
     .offset = LK(ifconfig_attr),
     .help = "user attribute holding \"address [netmask]\" for ifconfig-push"},
    {.name = "TokenSkip",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = LK(token_skip),
     .help = "accept a session OpenVPN's auth-gen-token proves without asking LDAP"},
    {.name = "PFTable",
     .type = OVP_CFG_STRING,
     .offset = LK(pf_table),
     .help = "OpenBSD pf table: not supported"},
};
#undef LK

#define GK(field) offsetof(struct al_group, field)
static const struct ovp_cfg_key group_keys[] = {
    {.name = "BaseDN",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = GK(base_dn),
     .help = "where the groups are"},
    {.name = "SearchFilter",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED,
     .offset = GK(filter),
     .help = "which entries are the groups"},
    {.name = "MemberAttribute",
     .type = OVP_CFG_STRING,
     .def = "uniqueMember",
     .offset = GK(member_attr),
     .help = "member, uniqueMember, memberUid or memberOf"},
    {.name = "RFC2307bis",
     .type = OVP_CFG_BOOL,
     .def = "yes",
     .offset = GK(rfc2307bis),
     .help = "members are DNs (no: login names, as memberUid)"},
    {.name = "UseCompareOperation",
     .type = OVP_CFG_BOOL,
     .def = "yes",
     .offset = GK(use_compare),
     .help = "compare (yes) or search (no)"},
    {.name = "Push",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_MULTI,
     .offset = GK(push),
     .help = "an option pushed to members of this group (repeatable)"},
    {.name = "NestedGroups",
     .type = OVP_CFG_ENUM,
     .def = "no",
     .offset = GK(nested),
     .choices = nest_choices,
     .help = "groups in groups: no, search (bounded) or ad (in-chain rule)"},
    {.name = "NestedDepth",
     .type = OVP_CFG_INT,
     .def = "5",
     .offset = GK(nested_depth),
     .min = 1,
     .max = 16,
     .help = "levels of groups in groups followed by NestedGroups search"},
    {.name = "PFTable",
     .type = OVP_CFG_STRING,
     .offset = GK(pf_table),
     .help = "OpenBSD pf table: not supported"},
};
#undef GK

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static int add_warning(struct al_conf *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_warning(struct al_conf *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    char **w = realloc(c->warnings, (c->n_warnings + 1) * sizeof(*w));
    if (!w)
    {
        return -1;
    }
    c->warnings = w;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (!(w[c->n_warnings] = strdup(buf)))
    {
        return -1;
    }
    c->n_warnings++;
    return 0;
}

/* The line of KEY in NODE, for messages (0 when not found). */
static int
key_line(const struct ovp_cfg_node *node, const char *key)
{
    for (size_t i = 0; i < node->n_entries; i++)
    {
        if (strcasecmp(node->entries[i].key, key) == 0)
        {
            return node->entries[i].line;
        }
    }
    return 0;
}

/* Splits the URL list; each must be ldap:// or ldaps://. */
static int
split_urls(struct al_conf *c, char *err, size_t errlen)
{
    char *copy = strdup(c->url), *save = NULL, *tok;
    int rc = 0;

    if (!copy)
    {
        ovp_errf(err, errlen, "out of memory");
        return -1;
    }
    for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save))
    {
        char **v;
        if (strncasecmp(tok, "ldap://", 7) != 0 && strncasecmp(tok, "ldaps://", 8) != 0)
        {
            ovp_errf(err, errlen,
                     "<LDAP> URL \"%s\": only ldap:// and ldaps:// URLs are supported "
                     "(ldapi:// and others are not)",
                     tok);
            rc = -1;
            break;
        }
        v = realloc(c->urls, (c->n_urls + 1) * sizeof(*v));
        if (!v || !(v[c->n_urls] = strdup(tok)))
        {
            if (v)
            {
                c->urls = v;
            }
            ovp_errf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        c->urls = v;
        c->n_urls++;
    }
    free(copy);
    if (rc == 0 && c->n_urls == 0)
    {
        ovp_errf(err, errlen, "<LDAP> URL is empty");
        rc = -1;
    }
    return rc;
}

static int
check_file(const char *key, const char *path, char *err, size_t errlen)
{
    if (path && access(path, R_OK) != 0)
    {
        ovp_errf(err, errlen, "<LDAP> %s \"%s\" cannot be read", key, path);
        return -1;
    }
    return 0;
}

static int
load(const char *const *words, size_t n, struct al_conf *c, int files, char *err, size_t errlen)
{
    static const char *const root_sections[] = {"LDAP", "Authorization", NULL};
    static const char *const authz_sections[] = {"Group", NULL};
    struct ovp_cfg_node *root = NULL, *ldap, *authz;
    int rc = -1, any_tls = 0;
    size_t ng;

    memset(c, 0, sizeof(*c));
    if (n != 1)
    {
        ovp_errf(err, errlen,
                 "expected one argument, the configuration file (openvpn-auth-ldap's "
                 "format), got %zu",
                 n);
        return -1;
    }
    if (ovp_cfg_parse_args(words, n, &root, err, errlen) < 0)
    {
        return -1;
    }
    if (ovp_cfg_bind(root, NULL, 0, c, root_sections, err, errlen) < 0)
    {
        goto out;
    }
    if (ovp_cfg_count_sections(root, "LDAP") != 1 ||
        ovp_cfg_count_sections(root, "Authorization") != 1)
    {
        ovp_errf(err, errlen, "%s: needs exactly one <LDAP> and one <Authorization> section",
                 root->file);
        goto out;
    }
    ldap = ovp_cfg_section(root, "LDAP", 0);
    authz = ovp_cfg_section(root, "Authorization", 0);
    if (ovp_cfg_bind(ldap, ldap_keys, NKEYS(ldap_keys), c, NULL, err, errlen) < 0 ||
        ovp_cfg_bind(authz, authz_keys, NKEYS(authz_keys), c, authz_sections, err, errlen) < 0)
    {
        goto out;
    }
    ng = ovp_cfg_count_sections(authz, "Group");
    if (ng > 0 && !(c->groups = calloc(ng, sizeof(*c->groups))))
    {
        ovp_errf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ng; i++)
    {
        struct ovp_cfg_node *g = ovp_cfg_section(authz, "Group", i);
        c->n_groups = i + 1;
        if (ovp_cfg_bind(g, group_keys, NKEYS(group_keys), &c->groups[i], NULL, err, errlen) <
            0)
        {
            goto out;
        }
        if (!al_attr_name_ok(c->groups[i].member_attr))
        {
            ovp_errf(err, errlen,
                     "%s:%d: MemberAttribute \"%s\" is not an attribute name (letters, "
                     "digits, '-')",
                     root->file, key_line(g, "MemberAttribute"), c->groups[i].member_attr);
            goto out;
        }
        if (c->groups[i].nested != AL_NEST_NO &&
            (!c->groups[i].rfc2307bis || strcasecmp(c->groups[i].member_attr, "memberOf") == 0))
        {
            ovp_errf(err, errlen,
                     "%s:%d: NestedGroups needs members listed by DN (RFC2307bis true, a "
                     "MemberAttribute other than memberOf)",
                     root->file, key_line(g, "NestedGroups"));
            goto out;
        }
        for (size_t k = 0; k < c->groups[i].push.n; k++)
        {
            if (strpbrk(c->groups[i].push.v[k], "\"\\"))
            {
                ovp_errf(err, errlen,
                         "%s:%d: Push \"%s\": a pushed option may not hold '\"' or '\\'",
                         root->file, key_line(g, "Push"), c->groups[i].push.v[k]);
                goto out;
            }
            c->client_config = 1;
        }
        if (c->groups[i].pf_table &&
            add_warning(c,
                        "<Group> PFTable \"%s\" (line %d) is accepted but not honoured: "
                        "pf tables exist only on OpenBSD",
                        c->groups[i].pf_table, key_line(g, "PFTable")) < 0)
        {
            ovp_errf(err, errlen, "out of memory");
            goto out;
        }
    }
    if (c->pf_table &&
        add_warning(c,
                    "<Authorization> PFTable \"%s\" (line %d) is accepted but not "
                    "honoured: pf tables exist only on OpenBSD",
                    c->pf_table, key_line(authz, "PFTable")) < 0)
    {
        ovp_errf(err, errlen, "out of memory");
        goto out;
    }
    if (!strstr(c->search_filter, "%u"))
    {
        ovp_errf(err, errlen,
                 "%s:%d: <Authorization> SearchFilter \"%s\" has no %%u: every user would "
                 "match the same entries",
                 root->file, key_line(authz, "SearchFilter"), c->search_filter);
        goto out;
    }
    if (c->require_group && c->n_groups == 0)
    {
        ovp_errf(err, errlen,
                 "%s: RequireGroup is true but <Authorization> has no <Group> block: nobody "
                 "could log in",
                 root->file);
        goto out;
    }
    if (c->password && !c->bind_dn)
    {
        ovp_errf(err, errlen, "%s: <LDAP> has a Password but no BindDN", root->file);
        goto out;
    }
    if ((c->push_attr && !al_attr_name_ok(c->push_attr)) ||
        (c->ifconfig_attr && !al_attr_name_ok(c->ifconfig_attr)))
    {
        ovp_errf(err, errlen,
                 "%s: PushAttribute and IfconfigPushAttribute must be attribute names",
                 root->file);
        goto out;
    }
    c->client_config |= c->push_attr || c->ifconfig_attr;
    if (split_urls(c, err, errlen) < 0)
    {
        goto out;
    }
    for (size_t i = 0; i < c->n_urls; i++)
    {
        any_tls |= strncasecmp(c->urls[i], "ldaps://", 8) == 0;
    }
    any_tls |= c->tls_enable;
    if (files && any_tls &&
        (check_file("TLSCACertFile", c->ca_file, err, errlen) < 0 ||
         check_file("TLSCACertDir", c->ca_dir, err, errlen) < 0 ||
         check_file("TLSCertFile", c->cert_file, err, errlen) < 0 ||
         check_file("TLSKeyFile", c->key_file, err, errlen) < 0))
    {
        goto out;
    }
    if (files && !any_tls && (c->ca_file || c->cert_file))
    {
        if (add_warning(c,
                        "TLS settings are given but no URL is ldaps:// and TLSEnable is no%s: "
                        "the directory is reached in clear text",
                        "") < 0)
        {
            ovp_errf(err, errlen, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < ovp_cfg_warning_count(root); i++)
    {
        if (add_warning(c, "%s", ovp_cfg_warning(root, i)) < 0)
        {
            ovp_errf(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    ovp_cfg_free(root);
    return rc;
}

int
al_conf_load(const char *const *words, size_t n, struct al_conf *c, char *err, size_t errlen)
{
    return load(words, n, c, 1, err, errlen);
}

int
al_conf_load_nofiles(const char *const *words, size_t n, struct al_conf *c, char *err,
                     size_t errlen)
{
    return load(words, n, c, 0, err, errlen);
}

void
al_conf_release(struct al_conf *c)
{
    if (!c)
    {
        return;
    }
    for (size_t i = 0; i < c->n_groups; i++)
    {
        ovp_cfg_release(group_keys, NKEYS(group_keys), &c->groups[i]);
    }
    free(c->groups);
    ovp_cfg_release(ldap_keys, NKEYS(ldap_keys), c);
    ovp_cfg_release(authz_keys, NKEYS(authz_keys), c);
    for (size_t i = 0; i < c->n_urls; i++)
    {
        free(c->urls[i]);
    }
    free(c->urls);
    for (size_t i = 0; i < c->n_warnings; i++)
    {
        free(c->warnings[i]);
    }
    free(c->warnings);
    memset(c, 0, sizeof(*c));
}

/* http_conf.c: ovp-auth-http's configuration: keys, URLs and secrets, checked at open. */
#include "ovpbuild.h"

#include <arpa/inet.h>
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
#include "http_conf.h"
#include "secret.h"
#include "util.h"

#define K(field) offsetof(struct ah_conf, field)
static const struct ovp_cfg_key http_keys[] = {
    {.name = "URL",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_REQUIRED | OVP_CFG_MULTI,
     .offset = K(url_lines),
     .help = "http(s) URLs of the service, tried in order (repeatable, or space-separated)"},
    {.name = "ConnectTimeout",
     .type = OVP_CFG_DURATION,
     .def = "2s",
     .offset = K(connect_timeout_ms),
     .min = 10,
     .max = 60000,
     .help = "time to connect (TCP and TLS) per attempt"},
    {.name = "Timeout",
     .type = OVP_CFG_DURATION,
     .def = "5s",
     .offset = K(timeout_ms),
     .min = 10,
     .max = 120000,
     .help = "total time per attempt"},
    {.name = "Retries",
     .type = OVP_CFG_INT,
     .def = "1",
     .offset = K(retries),
     .min = 0,
     .max = 5,
     .help = "further attempts (next URL first) after 5xx, timeout or connection error"},
    {.name = "Backoff",
     .type = OVP_CFG_DURATION,
     .def = "10s",
     .offset = K(backoff_ms),
     .min = 0,
     .max = 3600000,
     .help = "how long a URL that failed is skipped (unless all are down)"},
    {.name = "CACertFile",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_FILE_READABLE,
     .offset = K(ca_file),
     .help = "trust anchors (PEM) instead of the system store"},
    {.name = "CACertDir",
     .type = OVP_CFG_STRING,
     .offset = K(ca_dir),
     .help = "directory of trust anchors (c_rehash form)"},
    {.name = "VerifyPeer",
     .type = OVP_CFG_BOOL,
     .def = "yes",
     .offset = K(verify_peer),
     .help = "check the service's certificate and host name"},
    {.name = "ClientCertFile",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_FILE_READABLE,
     .offset = K(client_cert),
     .help = "client certificate (PEM) for mutual TLS"},
    {.name = "ClientKey",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = K(client_key),
     .help = "client key (PEM) for mutual TLS: give ClientKeyFile"},
    {.name = "BearerToken",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = K(bearer),
     .help = "sent as Authorization: Bearer: give BearerTokenFile"},
    {.name = "HMACSecret",
     .type = OVP_CFG_STRING,
     .flags = OVP_CFG_SECRET,
     .offset = K(hmac_key),
     .help = "key signing each request (X-OVP-Signature): give HMACSecretFile"},
    {.name = "Fields",
     .type = OVP_CFG_STRING,
     .def = "username password common_name untrusted_ip untrusted_port",
     .offset = K(fields_text),
     .help = "fields sent: username password common_name untrusted_ip untrusted_port "
             "session_id session_state peer_info request_id hook"},
    {.name = "MaxInFlight",
     .type = OVP_CFG_INT,
     .def = "256",
     .offset = K(max_in_flight),
     .min = 1,
     .max = 100000,
     .help = "requests waiting or in flight; more are answered TEMP at once"},
    OVP_ADMIT_CFG_KEYS(K(per_address), K(per_user)),
    {.name = "MaxBody",
     .type = OVP_CFG_SIZE,
     .def = "64k",
     .offset = K(max_body),
     .min = 256,
     .max = 16 * 1024 * 1024,
     .help = "largest response body accepted (larger: TEMP)"},
    {.name = "MaxConnections",
     .type = OVP_CFG_INT,
     .def = "128",
     .offset = K(max_conns),
     .min = 1,
     .max = 1024,
     .help = "connections to one service host at once (HTTP/2 multiplexes over one)"},
    {.name = "Hooks",
     .type = OVP_CFG_STRING,
     .def = "auth",
     .offset = K(hooks_text),
     .help = "auth, client-connect, or both"},
    {.name = "AllowPlainHTTP",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = K(allow_plain),
     .help = "allow http:// to hosts other than loopback"},
    {.name = "FollowRedirects",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = K(follow_redirects),
     .help = "follow 3xx answers (else they deny)"},
    {.name = "PendingReconnect",
     .type = OVP_CFG_DURATION,
     .def = "60s",
     .offset = K(pending_reconnect_ms),
     .min = 1000,
     .max = 3600000,
     .help = "how long a 202 answer waits for the client's reconnect"},
    {.name = "InlineWait",
     .type = OVP_CFG_DURATION_US,
     .def = "0",
     .offset = K(inline_wait_us),
     .min = 0,
     .max = OVP_DEFER_INLINE_WAIT_MAX_US,
     .help = "how long the auth hook waits for the service's answer before deferring it; "
             "OpenVPN's event loop (every tunnel) stalls up to that long per "
             "authentication, so 10ms is the limit"},
};
#undef K

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const struct
{
    const char *name;
    unsigned bit;
} field_names[] = {
    {"username", AH_F_USERNAME},
    {"password", AH_F_PASSWORD},
    {"common_name", AH_F_COMMON_NAME},
    {"untrusted_ip", AH_F_UNTRUSTED_IP},
    {"untrusted_port", AH_F_UNTRUSTED_PORT},
    {"session_id", AH_F_SESSION_ID},
    {"session_state", AH_F_SESSION_STATE},
    {"peer_info", AH_F_PEER_INFO},
    {"request_id", AH_F_REQUEST_ID},
    {"hook", AH_F_HOOK},
};

int
ah_fields_parse(const char *text, unsigned *mask, char *err, size_t errlen)
{
    char *copy = strdup(text ? text : ""), *save = NULL, *tok;
    int rc = 0;

    *mask = 0;
    if (!copy)
    {
        ovp_errf(err, errlen, "out of memory");
        return -1;
    }
    for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save))
    {
        size_t i;
        for (i = 0; i < NKEYS(field_names); i++)
        {
            if (strcasecmp(tok, field_names[i].name) == 0)
            {
                *mask |= field_names[i].bit;
                break;
            }
        }
        if (i == NKEYS(field_names))
        {
            ovp_errf(err, errlen,
                     "Fields \"%s\": unknown field; choose among username password "
                     "common_name untrusted_ip untrusted_port session_id session_state "
                     "peer_info request_id hook",
                     tok);
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

int
ah_host_is_loopback(const char *host)
{
    char buf[64];
    size_t n = strlen(host);
    struct in_addr a4;
    struct in6_addr a6;

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
    {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(buf))
    {
        return 0;
    }
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (strcasecmp(buf, "localhost") == 0 || strcasecmp(buf, "localhost.") == 0)
    {
        return 1;
    }
    if (inet_pton(AF_INET, buf, &a4) == 1)
    {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1)
    {
        return IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return 0;
}

int
ah_url_parse(const char *url, struct ah_url *u, char *err, size_t errlen)
{
    const char *auth, *end, *path, *pend, *hend;
    size_t slen, alen;
    char host[256];

    memset(u, 0, sizeof(*u));
    for (const char *s = url; *s; s++)
    {
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
        {
            ovp_errf(err, errlen, "URL \"%s\": blanks and control characters are not allowed",
                     url);
            return -1;
        }
    }
    if (strncasecmp(url, "https://", 8) == 0)
    {
        u->https = 1;
        slen = 8;
    }
    else if (strncasecmp(url, "http://", 7) == 0)
    {
        slen = 7;
    }
    else
    {
        ovp_errf(err, errlen, "URL \"%s\": only http:// and https:// URLs are supported", url);
        return -1;
    }
    auth = url + slen;
    end = auth + strcspn(auth, "/?#");
    alen = (size_t)(end - auth);
    if (memchr(auth, '@', alen))
    {
        /* Why: credentials belong in BearerTokenFile, not in a line that is logged. */
        ovp_errf(err, errlen,
                 "URL: user:password@ in a URL is not allowed (use BearerTokenFile or "
                 "HMACSecretFile)");
        return -1;
    }
    if (auth[0] == '[')
    {
        const char *rb = memchr(auth, ']', alen);
        hend = rb ? rb + 1 : end;
    }
    else
    {
        hend = memchr(auth, ':', alen);
        hend = hend ? hend : end;
    }
    if (hend == auth || (size_t)(hend - auth) >= sizeof(host))
    {
        ovp_errf(err, errlen, "URL \"%s\": no host", url);
        return -1;
    }
    memcpy(host, auth, (size_t)(hend - auth));
    host[hend - auth] = '\0';
    u->loopback = ah_host_is_loopback(host);
    path = end;
    pend = path[0] == '/' ? path + strcspn(path, "?#") : path;
    u->url = strdup(url);
    u->shown = malloc(slen + alen + (size_t)(pend - path) + 2);
    if (!u->url || !u->shown)
    {
        free(u->url);
        free(u->shown);
        memset(u, 0, sizeof(*u));
        ovp_errf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(u->shown, slen + alen + (size_t)(pend - path) + 2, "%.*s%.*s%.*s", (int)slen, url,
             (int)alen, auth, (int)(pend - path), path);
    if (u->shown[slen + alen] == '\0')
    {
        strcat(u->shown, "/");
    }
    return 0;
}

static int
split_urls(struct ah_conf *c, char *err, size_t errlen)
{
    for (size_t l = 0; l < c->url_lines.n; l++)
    {
        char *copy = strdup(c->url_lines.v[l]), *save = NULL, *tok;
        if (!copy)
        {
            ovp_errf(err, errlen, "out of memory");
            return -1;
        }
        for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
        {
            struct ah_url *v = realloc(c->urls, (c->n_urls + 1) * sizeof(*v));
            if (!v)
            {
                free(copy);
                ovp_errf(err, errlen, "out of memory");
                return -1;
            }
            c->urls = v;
            if (ah_url_parse(tok, &c->urls[c->n_urls], err, errlen) < 0)
            {
                free(copy);
                return -1;
            }
            c->n_urls++;
        }
        free(copy);
    }
    if (c->n_urls == 0)
    {
        ovp_errf(err, errlen, "URL is empty");
        return -1;
    }
    if (c->n_urls > 16)
    {
        ovp_errf(err, errlen, "URL: at most 16 URLs (%zu given)", c->n_urls);
        return -1;
    }
    return 0;
}

static int
parse_hooks(struct ah_conf *c, char *err, size_t errlen)
{
    char *copy = strdup(c->hooks_text), *save = NULL, *tok;
    int rc = 0;
    if (!copy)
    {
        ovp_errf(err, errlen, "out of memory");
        return -1;
    }
    for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save))
    {
        if (strcasecmp(tok, "auth") == 0)
        {
            c->hook_auth = 1;
        }
        else if (strcasecmp(tok, "client-connect") == 0)
        {
            c->hook_connect = 1;
        }
        else
        {
            ovp_errf(err, errlen, "Hooks \"%s\": choose auth, client-connect or both", tok);
            rc = -1;
            break;
        }
    }
    free(copy);
    if (rc == 0 && !c->hook_auth && !c->hook_connect)
    {
        ovp_errf(err, errlen, "Hooks is empty: choose auth, client-connect or both");
        rc = -1;
    }
    return rc;
}

/* A value that goes into a header line: printable ASCII only (no CR/LF). */
static int
header_safe(const char *s)
{
    for (; *s; s++)
    {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
        {
            return 0;
        }
    }
    return 1;
}

int
ah_conf_load(const char *const *words, size_t n, struct ah_conf *c, char *err, size_t errlen)
{
    static const char *const root_sections[] = {"HTTP", NULL};
    struct ovp_cfg_node *root = NULL, *node;
    int rc = -1;
    size_t ns;

    memset(c, 0, sizeof(*c));
    if (n == 0)
    {
        ovp_errf(err, errlen,
                 "no configuration: give a config file, or url=https://... on the plugin "
                 "line");
        return -1;
    }
    if (ovp_cfg_parse_args(words, n, &root, err, errlen) < 0)
    {
        return -1;
    }
    /*
     * Keys at the top level or inside one <HTTP> section, not both: a key in each
     * would be ambiguous.
     */
    ns = ovp_cfg_count_sections(root, "HTTP");
    if (ns > 1 || (ns == 1 && root->n_entries > 0))
    {
        ovp_errf(err, errlen,
                 "%s: keys go either at the top level or inside one <HTTP> section",
                 root->file);
        goto out;
    }
    if (ns == 1)
    {
        if (ovp_cfg_bind(root, NULL, 0, c, root_sections, err, errlen) < 0)
        {
            goto out;
        }
        node = ovp_cfg_section(root, "HTTP", 0);
        if (ovp_cfg_bind(node, http_keys, NKEYS(http_keys), c, NULL, err, errlen) < 0)
        {
            goto out;
        }
    }
    else if (ovp_cfg_bind(root, http_keys, NKEYS(http_keys), c, NULL, err, errlen) < 0)
    {
        goto out;
    }
    if (split_urls(c, err, errlen) < 0 || parse_hooks(c, err, errlen) < 0 ||
        ah_fields_parse(c->fields_text, &c->fields, err, errlen) < 0)
    {
        goto out;
    }
    for (size_t i = 0; i < c->n_urls; i++)
    {
        /* Why: the password (and the token) would cross the network in clear text. */
        if (!c->urls[i].https && !c->urls[i].loopback && !c->allow_plain)
        {
            ovp_errf(err, errlen,
                     "URL %s: http:// is allowed only to loopback addresses (127.0.0.0/8, "
                     "::1, localhost); use https:// or set AllowPlainHTTP yes",
                     c->urls[i].shown);
            goto out;
        }
    }
    if (c->connect_timeout_ms > c->timeout_ms)
    {
        c->connect_timeout_ms = c->timeout_ms; /* the connection is part of the attempt */
    }
    if (!c->client_cert != !c->client_key)
    {
        ovp_errf(err, errlen, "mutual TLS needs both ClientCertFile and ClientKeyFile");
        goto out;
    }
    if (c->bearer && !header_safe(c->bearer))
    {
        /* Why: CR/LF in a header value would let the file add headers of its own. */
        ovp_errf(err, errlen,
                 "BearerTokenFile: the token holds a control or non-ASCII character");
        goto out;
    }
    if (!c->verify_peer &&
        ovp_strv_addf(&c->warnings,
                      "VerifyPeer no: the service's certificate is not checked; anyone "
                      "on the path can read the passwords") < 0)
    {
        ovp_errf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ovp_cfg_warning_count(root); i++)
    {
        if (ovp_strv_addf(&c->warnings, "%s", ovp_cfg_warning(root, i)) < 0)
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

void
ah_conf_release(struct ah_conf *c)
{
    if (!c)
    {
        return;
    }
    ovp_cfg_release(http_keys, NKEYS(http_keys), c);
    for (size_t i = 0; i < c->n_urls; i++)
    {
        free(c->urls[i].url);
        free(c->urls[i].shown);
    }
    free(c->urls);
    ovp_strv_clear(&c->warnings);
    memset(c, 0, sizeof(*c));
}

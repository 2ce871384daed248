/* http_conf.h: ovp-auth-http's configuration: keys, URLs and secrets, checked at open. */
#ifndef OVP_AH_HTTP_CONF_H
#define OVP_AH_HTTP_CONF_H

#include <stddef.h>

#include "config.h"

/* Fields a request may carry (Fields). */
enum
{
    AH_F_USERNAME = 1u << 0,
    AH_F_PASSWORD = 1u << 1,
    AH_F_COMMON_NAME = 1u << 2,
    AH_F_UNTRUSTED_IP = 1u << 3,
    AH_F_UNTRUSTED_PORT = 1u << 4,
    AH_F_SESSION_ID = 1u << 5,
    AH_F_SESSION_STATE = 1u << 6,
    AH_F_PEER_INFO = 1u << 7,
    AH_F_REQUEST_ID = 1u << 8,
    AH_F_HOOK = 1u << 9,
};

/* One URL of the list, split at open. */
struct ah_url
{
    char *url;   /* as configured (may hold a query; never logged) */
    char *shown; /* scheme://host[:port]/path: what log lines show */
    int https;
    int loopback; /* the host is 127.0.0.0/8, ::1 or localhost */
};

struct ah_conf
{
    struct ovp_strv url_lines; /* URL, each line one or more URLs */
    long connect_timeout_ms;
    long timeout_ms;
    long retries;
    long backoff_ms;
    char *ca_file, *ca_dir;
    int verify_peer;
    char *client_cert;  /* ClientCertFile: a path */
    char *client_key;   /* ClientKeyFile: the key itself (secret file rules) */
    char *bearer;       /* BearerTokenFile: the token */
    char *hmac_key;     /* HMACSecretFile: the key */
    char *fields_text;  /* Fields */
    long max_in_flight; /* MaxInFlight */
    long per_address;   /* MaxPerAddress: auths in progress from one address (IPv6 /64) */
    long per_user;      /* MaxPerUser: auths in progress for one username */
    long max_body;      /* MaxBody */
    long max_conns;     /* MaxConnections */
    char *hooks_text;   /* Hooks */
    int allow_plain;    /* AllowPlainHTTP */
    int follow_redirects;
    long pending_reconnect_ms; /* PendingReconnect */
    long inline_wait_us;       /* InlineWait: the auth hook waits this long (0: never) */
    /* derived */
    struct ah_url *urls;
    size_t n_urls;
    unsigned fields; /* AH_F_* */
    int hook_auth, hook_connect;
    struct ovp_strv warnings; /* lines for the log */
};

/*
 * Parses the plugin's words (a config file path, or key=value words) and binds and
 * checks everything that needs no network: URLs (http or https only, no userinfo,
 * http only to loopback without AllowPlainHTTP), Fields and Hooks words, header-safe
 * secrets, mTLS given as a pair. Secrets are read with the secret file rules (also
 * after a reload as nobody). Returns 0, or -1 with the error in ERR (never showing
 * a secret). Release C with ah_conf_release in both cases.
 */
int ah_conf_load(const char *const *words, size_t n, struct ah_conf *c, char *err,
                 size_t errlen);

/* Frees what ah_conf_load stored (secrets wiped). NULL-safe. */
void ah_conf_release(struct ah_conf *c);

/*
 * Parses a Fields value ("username password ...", blanks or commas between) into
 * AH_F_* bits. Returns 0, or -1 with the unknown word in ERR.
 */
int ah_fields_parse(const char *text, unsigned *mask, char *err, size_t errlen);

/*
 * Splits URL into the log form and flags (U's strings malloc'd). Refuses a scheme
 * other than http/https, userinfo, a missing host. Returns 0 or -1 with ERR set.
 */
int ah_url_parse(const char *url, struct ah_url *u, char *err, size_t errlen);

/* 1 when HOST (as in a URL, IPv6 in brackets or not) is a loopback name or address. */
int ah_host_is_loopback(const char *host);

#endif

/* session.c: one client instance and its control state machine (ssl_verify.c, multi.c). */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authfiles.h"
#include "envset.h"
#include "pool.h"
#include "refcore.h"
#include "server.h"
#include "session.h"
#include "mux.h"

#define TLS_USERNAME_LEN         64   /* longest common name */
#define USER_PASS_LEN            128  /* username and password buffers, NUL included */
#define PENDING_LINE_MAX         1024 /* buffer_list_file(auth_pending_file, 1024) */
#define PUSH_BUNDLE_SIZE         1024 /* the largest control message OpenVPN builds */
#define IV_PROTO_AUTH_PENDING_KW (1u << 4)
#define PEER_INFO_LINE_MAX       256
#define TOKEN_PREFIX             "SESS_ID_AT_"

enum cc_ret
{
    CC_RET_FAILED,
    CC_RET_SUCCEEDED,
    CC_RET_DEFERRED,
    CC_RET_SKIPPED,
};

enum tas
{
    TAS_SUCCEEDED,
    TAS_FAILED,
    TAS_DEFERRED,
};

static void process(struct inst *mi);
static void connection_established(struct inst *mi);
static void wakeup_cb(struct timer *t);

/* --------------------------------------------------------------- helpers */

static struct inst *
inst_of_conn(struct conn *c)
{
    return c->owner;
}

/* string_mod(CC_PRINT, CC_CRLF, '_'): control characters become '_'. */
static void
remap_name(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
    {
        if (*p < 32 || *p == 127)
        {
            *p = '_';
        }
    }
}

static void
set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

/* The time OpenVPN decides with: whole seconds (openvpn schedule) or now (fast). */
static uint64_t
decision_now_ns(const struct inst *mi)
{
    uint64_t now = now_ns();

    return mi->srv->conf.poll_fast ? now : now / NS_PER_S * NS_PER_S;
}

/* auth_deferred_expire_window: min(hand-window, reneg-sec / 2). */
static uint64_t
expire_window_ns(const struct server *s)
{
    uint64_t w = s->conf.hand_window_ns;

    if (s->conf.reneg_ns && s->conf.reneg_ns / 2 < w)
    {
        w = s->conf.reneg_ns / 2;
    }
    return w;
}

static void
set_client_reason(struct inst *mi, const char *reason)
{
    free(mi->client_reason);
    mi->client_reason = NULL;
    if (reason && *reason)
    {
        mi->client_reason = xstrdup(reason);
    }
}

void
session_send(struct inst *mi, const char *line)
{
    /* OpenVPN logs the control messages it sends (send_control_channel_string_dowork,
     * verb 4 there); AUTH_FAILED is logged where it is built */
    if (strncmp(line, "AUTH_PENDING", 12) == 0 || strncmp(line, "INFO_PRE,", 9) == 0)
    {
        core_msg(3, "SENT CONTROL [%s]: '%s'", mi->cn ? mi->cn : "UNDEF", line);
    }
    conn_send(&mi->conn, line);
}

/* Sets untrusted_ip (or untrusted_ip6) and untrusted_port. */
static void
setenv_addr(struct inst *mi, const char *prefix)
{
    char name[64];

    snprintf(name, sizeof(name), "%s_%s", prefix, mi->ip6 ? "ip6" : "ip");
    envset_set(mi->es, name, mi->ip);
    snprintf(name, sizeof(name), "%s_port", prefix);
    envset_setf(mi->es, name, "%u", mi->port);
}

static void
key_files_remove(struct server *s, struct key *k)
{
    if (k->watched && k->acf)
    {
        server_watch_del(s, k->acf);
    }
    k->watched = 0;
    tmpfile_remove(&k->acf);
    tmpfile_remove(&k->afr);
    tmpfile_remove(&k->apf);
}

static void
key_free(struct server *s, struct key *k)
{
    key_files_remove(s, k);
    memset(k, 0, sizeof(*k));
}

/* Reads the reason file of K (if it has content) into the client reason. */
static void
check_for_client_reason(struct inst *mi, const struct key *k)
{
    char *text;
    size_t len = 0;

    if (!k->afr)
    {
        return;
    }
    text = file_read_all(k->afr, 4096, &len);
    if (text && len)
    {
        /* OpenVPN sends the file as is; this line protocol carries one line, so a final
         * newline is dropped and other controls are mapped (the text is cut at send) */
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        {
            text[--len] = '\0';
        }
        remap_name(text);
        set_client_reason(mi, text);
    }
    free(text);
}

/* ---------------------------------------------------------- resolution */

static void
resolve(struct inst *mi, int ok, int timed_out)
{
    struct server_stats *st = &mi->srv->st;

    if (mi->resolved)
    {
        return;
    }
    mi->resolved = 1;
    if (ok)
    {
        st->authenticated++;
    }
    else
    {
        st->failed++;
        if (timed_out)
        {
            st->timed_out++;
        }
    }
    server_note_resolved(mi->srv, mi->t_start_ns);
}

/* send_auth_failed, then the instance goes away. */
static void
auth_failed(struct inst *mi, int timed_out)
{
    /* send_auth_failed: one control message of at most PUSH_BUNDLE_SIZE bytes (its NUL
     * included): a longer reason is cut there, as OpenVPN's buf_printf cuts it */
    char line[PUSH_BUNDLE_SIZE];

    if (mi->client_reason)
    {
        snprintf(line, sizeof(line), "AUTH_FAILED,%s", mi->client_reason);
    }
    else
    {
        snprintf(line, sizeof(line), "AUTH_FAILED");
    }
    core_msg(3, "SENT CONTROL [%s]: '%s'", mi->cn ? mi->cn : "UNDEF", line);
    session_send(mi, line);
    resolve(mi, 0, timed_out);
    session_close(mi, "auth failed");
}

/* A failed TLS handshake: the client never gets AUTH_FAILED, only a broken link. */
static void
tls_error(struct inst *mi, const char *why)
{
    core_msg(1, "TLS Error: %s", why);
    session_send(mi, "TLS_ERROR");
    resolve(mi, 0, 0);
    session_close(mi, "TLS error");
}

/* ------------------------------------------------------ certificate check */

/* A stand-in certificate: serial and fingerprints derived from the subject. */
static void
synth_digest(const char *subject, int depth, unsigned char *out, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)depth;

    for (size_t i = 0; i < n; i++)
    {
        for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
        {
            h = (h ^ *p) * 1099511628211ull;
        }
        h = (h ^ i) * 1099511628211ull;
        out[i] = (unsigned char)(h >> 32);
    }
}

static void
hex_colon(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++)
    {
        *out++ = digits[d[i] >> 4];
        *out++ = digits[d[i] & 15];
        if (i + 1 < n)
        {
            *out++ = ':';
        }
    }
    *out = '\0';
}

/* verify_cert for one depth: env, then the TLS_VERIFY plugins. Returns 0 or -1. */
static int
verify_cert(struct inst *mi, int depth, const char *cn, const char *serial_claim)
{
    char subject[512], name[64], hex[3 * 32 + 1], serial[32];
    unsigned char dg[32];
    char *cnr = xstrdup(cn);

    remap_name(cnr);
    snprintf(subject, sizeof(subject), "CN=%s", cnr);
    if (subject[0] == '-')
    {
        subject[0] = '_';
    }
    if (strlen(cnr) > TLS_USERNAME_LEN || !*cnr)
    {
        if (depth == 0)
        {
            core_msg(1,
                     "VERIFY ERROR: could not extract CN from X509 subject string ('%s') "
                     "-- note that the field length is limited to %d characters",
                     subject, TLS_USERNAME_LEN);
            free(cnr);
            return -1;
        }
    }
    if (depth == 0)
    {
        set_str(&mi->cn, cnr);
        envset_set(mi->es, "common_name", cnr);
    }
    /* x509_setenv, tls_id, fingerprints, serials */
    snprintf(name, sizeof(name), "X509_%d_CN", depth);
    envset_set(mi->es, name, cnr);
    snprintf(name, sizeof(name), "tls_id_%d", depth);
    envset_set(mi->es, name, subject);
    synth_digest(subject, depth, dg, 20);
    hex_colon(dg, 20, hex);
    snprintf(name, sizeof(name), "tls_digest_%d", depth);
    envset_set(mi->es, name, hex);
    synth_digest(subject, depth + 100, dg, 32);
    hex_colon(dg, 32, hex);
    snprintf(name, sizeof(name), "tls_digest_sha256_%d", depth);
    envset_set(mi->es, name, hex);
    if (serial_claim && depth == 0)
    {
        snprintf(serial, sizeof(serial), "%s", serial_claim);
    }
    else
    {
        snprintf(serial, sizeof(serial), "%u", (unsigned)(dg[0] << 8 | dg[1]) + 1u);
    }
    snprintf(name, sizeof(name), "tls_serial_%d", depth);
    envset_set(mi->es, name, serial);
    {
        unsigned long v = strtoul(serial, NULL, 10);
        unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                              (unsigned char)(v >> 8), (unsigned char)v};
        size_t skip = 0;

        while (skip < 3 && b[skip] == 0)
        {
            skip++;
        }
        hex_colon(b + skip, 4 - skip, hex);
        snprintf(name, sizeof(name), "tls_serial_hex_%d", depth);
        envset_set(mi->es, name, hex);
    }
    setenv_addr(mi, "untrusted");

    if (host_defined(mi->srv->host, OPENVPN_PLUGIN_TLS_VERIFY))
    {
        char d[8];
        const char *args[] = {d, subject, NULL};
        int ret;

        snprintf(d, sizeof(d), "%d", depth);
        ret = host_call(mi->srv->host, OPENVPN_PLUGIN_TLS_VERIFY, args, mi->es, &mi->pc, NULL);
        if (ret != OPENVPN_PLUGIN_FUNC_SUCCESS)
        {
            core_msg(2, "VERIFY PLUGIN ERROR: depth=%d, %s", depth, subject);
            free(cnr);
            return -1;
        }
        core_msg(2, "VERIFY PLUGIN OK: depth=%d, %s", depth, subject);
    }
    core_msg(2, "VERIFY OK: depth=%d, %s", depth, subject);
    free(cnr);
    return 0;
}

/* --------------------------------------------------------- auth files */

static int
gen_auth_files(struct inst *mi, struct key *k)
{
    const char *dir = mi->srv->tmp_dir;

    key_files_remove(mi->srv, k);
    k->acf = tmpfile_create(dir, "acf");
    k->apf = tmpfile_create(dir, "apf");
    k->afr = tmpfile_create(dir, "afr");
    if (!k->acf || !k->apf)
    {
        key_files_remove(mi->srv, k);
        return -1;
    }
    k->acf_status = ACF_PENDING;
    envset_set(mi->es, "auth_control_file", k->acf);
    envset_set(mi->es, "auth_pending_file", k->apf);
    envset_set(mi->es, "auth_failed_reason_file", k->afr ? k->afr : "");
    return 0;
}

/* check_auth_pending_method: METHOD is one of the client's IV_SSO words. */
static int
pending_method_ok(const struct inst *mi, const char *method)
{
    const char *sso = envset_get(mi->es, "IV_SSO");
    char *copy, *save = NULL;
    int ok = 0;

    if (!sso)
    {
        return 0;
    }
    copy = xstrdup(sso);
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
    {
        if (strcmp(w, method) == 0)
        {
            ok = 1;
            break;
        }
    }
    free(copy);
    return ok;
}

/*
 * send_auth_pending_messages: AUTH_PENDING, then INFO_PRE and the deadline moved. An
 * INFO_PRE that would not fit in PUSH_BUNDLE_SIZE (1024) is not sent, and then the
 * deadline stays where it was (OpenVPN returns early; its caller ignores that).
 * TIMEOUT_S is what the file said, as OpenVPN's unsigned int: -1 is a huge value, so
 * a negative timeout means the whole window.
 */
static void
send_auth_pending(struct inst *mi, struct key *k, const char *extra, unsigned int timeout_s)
{
    const struct server *s = mi->srv;
    uint64_t now = decision_now_ns(mi);
    uint64_t max = s->conf.reneg_ns / 2 > s->conf.hand_window_ns ? s->conf.reneg_ns / 2
                                                                 : s->conf.hand_window_ns;
    uint64_t waited = now > k->initial_ns ? now - k->initial_ns : 0;
    uint64_t timeout = (uint64_t)timeout_s * NS_PER_S;

    max = max > waited ? max - waited : 0;
    if (timeout > max)
    {
        timeout = max;
    }
    if (mi->iv_proto & IV_PROTO_AUTH_PENDING_KW)
    {
        char line[64];

        snprintf(line, sizeof(line), "AUTH_PENDING,timeout %llu",
                 (unsigned long long)(timeout / NS_PER_S));
        session_send(mi, line);
    }
    else
    {
        session_send(mi, "AUTH_PENDING");
    }
    if (strlen(extra) + 1 + sizeof("INFO_PRE,") > PUSH_BUNDLE_SIZE)
    {
        core_msg(3,
                 "auth pending text of %zu bytes does not fit in INFO_PRE: not sent, "
                 "the deadline is unchanged",
                 strlen(extra));
        return;
    }
    {
        char *line = xasprintf("INFO_PRE,%s", extra);

        remap_name(line);
        session_send(mi, line);
        free(line);
    }
    k->expire_ns = now + timeout;
}

/* buf_chomp: trailing CR and LF removed. */
static void
chomp(char *line)
{
    size_t n = strlen(line);

    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    {
        line[--n] = '\0';
    }
}

/*
 * key_state_check_auth_pending_file: read once, right after DEFERRED, as OpenVPN's
 * buffer_list_file(file, 1024) does: fgets with a 1024-byte buffer, so a line longer
 * than 1023 bytes is cut there and its rest becomes the next "line". Returns 1 when the
 * file was fine (or empty), 0 when malformed or the method unsupported.
 */
static int
check_pending_file(struct inst *mi, struct key *k)
{
    int ok = 1;
    char *text;
    size_t len = 0;

    if (!k->apf)
    {
        return 1;
    }
    text = file_read_all(k->apf, 64 * 1024, &len);
    if (text && len)
    {
        char lines[3][PENDING_LINE_MAX];
        size_t off = 0;
        int n = 0;

        while (n < 3 && off < len)
        {
            size_t l = 0;

            while (off < len && l < PENDING_LINE_MAX - 1)
            {
                char ch = text[off++];

                lines[n][l++] = ch;
                if (ch == '\n')
                {
                    break;
                }
            }
            lines[n][l] = '\0'; /* a NUL inside ends the string, as for OpenVPN */
            chomp(lines[n]);
            n++;
        }
        if (n < 3)
        {
            core_msg(1, "auth pending control file is not at least three lines long.");
            ok = 0;
        }
        else
        {
            long timeout = strtol(lines[0], NULL, 10);

            if (timeout == 0)
            {
                core_msg(1, "could not parse auth pending file timeout");
                ok = 0;
            }
            else if (!pending_method_ok(mi, lines[1]))
            {
                char reason[PENDING_LINE_MAX + 128];

                snprintf(reason, sizeof(reason),
                         "Authentication failed, required pending auth method '%s' not "
                         "supported",
                         lines[1]);
                reason[127] = '\0'; /* OpenVPN's buffer is 128 bytes: a long name is cut */
                set_client_reason(mi, reason);
                core_msg(1, "Client does not supported auth pending method '%s'", lines[1]);
                ok = 0;
            }
            else
            {
                send_auth_pending(mi, k, lines[2], (unsigned int)timeout);
            }
        }
    }
    free(text);
    tmpfile_remove(&k->apf);
    return ok;
}

/* --------------------------------------------------------- auth-gen-token */

static int
is_auth_token(const char *pass)
{
    return strncmp(pass, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0;
}

/*
 * The token's "HMAC": OpenVPN's covers the username, the session id and the timestamps
 * with a server key; here a keyed FNV-1a over the key, the username and the session id
 * (no timestamps: tokens do not expire here). Any instance of this run can check it, as
 * any of OpenVPN's can: a client that reconnects presenting its token is recognised.
 */
static void
token_mac(const struct server *s, const char *user, const char *sid16, unsigned char out[24])
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < 24; i++)
    {
        for (size_t k = 0; k < sizeof(s->token_key); k++)
        {
            h = (h ^ s->token_key[k]) * 1099511628211ull;
        }
        for (const unsigned char *p = (const unsigned char *)user; *p; p++)
        {
            h = (h ^ *p) * 1099511628211ull;
        }
        for (size_t k = 0; k < 16 && sid16[k]; k++)
        {
            h = (h ^ (unsigned char)sid16[k]) * 1099511628211ull;
        }
        h = (h ^ i) * 1099511628211ull;
        out[i] = (unsigned char)(h >> 32);
    }
}

/* verify_auth_token: the token's MAC matches USER and the session id it carries. */
static int
token_valid(const struct server *s, const char *user, const char *token)
{
    const char *sid = token + strlen(TOKEN_PREFIX);
    unsigned char mac[24];
    char *mac64 = NULL;
    int ok;

    if (strlen(sid) != 16 + 32)
    {
        return 0;
    }
    token_mac(s, user, sid, mac);
    host_base64_encode(mac, sizeof(mac), &mac64);
    ok = mac64 && strcmp(sid + 16, mac64) == 0;
    free(mac64);
    return ok;
}

/* generate_auth_token: SESS_ID_AT_<16 chars session id><32 chars of "HMAC">. */
static void
generate_auth_token(struct inst *mi, const char *user)
{
    unsigned char sid[12], mac[24];
    char *sid64 = NULL, *mac64 = NULL;
    char sid16[17];

    if (mi->auth_token_initial)
    {
        /* keep the session id of the first token */
        snprintf(sid16, sizeof(sid16), "%.16s", mi->auth_token_initial + strlen(TOKEN_PREFIX));
    }
    else
    {
        random_bytes(sid, sizeof(sid));
        host_base64_encode(sid, sizeof(sid), &sid64);
        snprintf(sid16, sizeof(sid16), "%.16s", sid64);
    }
    token_mac(mi->srv, user, sid16, mac);
    host_base64_encode(mac, sizeof(mac), &mac64);
    free(mi->auth_token);
    mi->auth_token = xasprintf("%s%s%s", TOKEN_PREFIX, sid16, mac64);
    if (!mi->auth_token_initial)
    {
        mi->auth_token_initial = xstrdup(mi->auth_token);
    }
    free(sid64);
    free(mac64);
}

/* add_session_token_env: session_state and session_id. */
static void
add_session_token_env(struct inst *mi, const char *user, const char *pass, int token_ok)
{
    const char *state;
    char sid[17];

    if (!mi->srv->conf.auth_gen_token)
    {
        return;
    }
    if (!is_auth_token(pass))
    {
        state = "Initial";
    }
    else if (token_ok)
    {
        state = "Authenticated";
    }
    else
    {
        state = "Invalid";
    }
    envset_set(mi->es, "session_state", state);
    if (!token_ok && !mi->auth_token_initial)
    {
        generate_auth_token(mi, user);
    }
    snprintf(sid, sizeof(sid), "%.16s",
             (token_ok ? pass : mi->auth_token_initial) + strlen(TOKEN_PREFIX));
    envset_set(mi->es, "session_id", sid);
}

/* -------------------------------------------------------------- auth */

/* verify_user_pass_plugin */
static int
verify_user_pass_plugin(struct inst *mi, struct key *k, const char *pass)
{
    int ret;

    envset_set(mi->es, "password", pass);
    if (gen_auth_files(mi, k) < 0)
    {
        core_msg(1, "TLS Auth Error (verify_user_pass_plugin): could not create deferred auth "
                    "control file");
        envset_del(mi->es, "password");
        return OPENVPN_PLUGIN_FUNC_ERROR;
    }
    ret = host_call(mi->srv->host, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY, NULL, mi->es, &mi->pc,
                    NULL);
    if (ret == OPENVPN_PLUGIN_FUNC_DEFERRED)
    {
        mi->srv->st.deferred++;
        if (!check_pending_file(mi, k))
        {
            ret = OPENVPN_PLUGIN_FUNC_ERROR;
        }
        else if (server_watch_add(mi->srv, k->acf, mi) == 0)
        {
            k->watched = 1;
        }
    }
    if (ret == OPENVPN_PLUGIN_FUNC_ERROR)
    {
        check_for_client_reason(mi, k);
    }
    if (ret != OPENVPN_PLUGIN_FUNC_DEFERRED)
    {
        key_files_remove(mi->srv, k);
    }
    /* the password leaves the env (wiped) as soon as the plugins have seen it */
    envset_del(mi->es, "password");
    return ret;
}

/* tls_lock_username */
static int
lock_username(struct inst *mi, const char *user)
{
    if (mi->locked_username)
    {
        if (strcmp(user, mi->locked_username) != 0)
        {
            core_msg(1,
                     "TLS Auth Error: username attempted to change from '%s' to '%s' -- "
                     "tunnel disabled",
                     mi->locked_username, user);
            for (int i = 0; i < 2; i++)
            {
                mi->key[i].authenticated = KS_AUTH_FALSE;
            }
            return 0;
        }
        return 1;
    }
    mi->locked_username = xstrdup(user);
    return 1;
}

/* verify_user_pass: sets K's authenticated state. */
static void
verify_user_pass(struct inst *mi, struct key *k, char *user, char *pass)
{
    const struct server_conf *c = &mi->srv->conf;
    int skip_auth = 0, token_ok = 0;
    int status = OPENVPN_PLUGIN_FUNC_SUCCESS;

    remap_name(user);
    remap_name(pass);

    if (c->auth_gen_token && is_auth_token(pass))
    {
        token_ok = token_valid(mi->srv, user, pass);
        /* the first token this session sees keeps its session id for the next ones */
        if (!mi->auth_token_initial)
        {
            mi->auth_token_initial = xstrdup(pass);
        }
        if (c->auth_token_external)
        {
            /* the plugins decide, told about the token by session_state */
        }
        else if (token_ok)
        {
            core_msg(1,
                     "TLS: Username/auth-token authentication succeeded for username "
                     "'%s'",
                     user);
            skip_auth = 1;
        }
        else
        {
            free(mi->auth_token);
            mi->auth_token = NULL;
            k->authenticated = KS_AUTH_FALSE;
            core_msg(1, "TLS: Username/auth-token authentication failed for username '%s'",
                     user);
            return;
        }
    }

    /* set_verify_user_pass_env: a blank username fails without any plugin call (an empty
     * password goes to the plugins like any other) */
    if (!*user)
    {
        core_msg(1, "TLS Auth Error: peer provided a blank username");
        skip_auth = 1;
        status = OPENVPN_PLUGIN_FUNC_ERROR;
    }
    else
    {
        envset_set(mi->es, "username", user);
        envset_set(mi->es, "common_name", mi->cn);
        setenv_addr(mi, "untrusted");
        add_session_token_env(mi, user, pass, token_ok);
    }

    if (!skip_auth && host_defined(mi->srv->host, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY))
    {
        status = verify_user_pass_plugin(mi, k, pass);
    }
    if ((status == OPENVPN_PLUGIN_FUNC_SUCCESS || status == OPENVPN_PLUGIN_FUNC_DEFERRED) &&
        lock_username(mi, user))
    {
        k->authenticated =
            status == OPENVPN_PLUGIN_FUNC_DEFERRED ? KS_AUTH_DEFERRED : KS_AUTH_TRUE;
        if (c->auth_gen_token)
        {
            generate_auth_token(mi, user);
        }
        set_str(&mi->username, user);
        core_msg(2, "TLS: Username/Password authentication %s for username '%s' ",
                 k->authenticated == KS_AUTH_DEFERRED ? "deferred" : "succeeded", user);
    }
    else
    {
        k->authenticated = KS_AUTH_FALSE;
        core_msg(1, "TLS Auth Error: Auth Username/Password verification failed for peer");
    }
}

/*
 * The server's side of one TLS handshake on key K (verify_cert per depth, then
 * key_method_2_read): returns 0, or -1 when the handshake itself failed.
 */
static int
handshake(struct inst *mi, struct key *k, const char *cn, const char *serial, const char *user,
          const char *pass)
{
    struct server *s = mi->srv;
    uint64_t now = decision_now_ns(mi);

    memset(k, 0, sizeof(*k));
    k->live = 1;
    k->initial_ns = now;
    k->expire_ns = now + expire_window_ns(s);

    /* tls_x509_clear_env at S_START: a new TLS session starts without the X509_* of the
     * last one (a renegotiation's depth-1 call must not see the old depth-0 names) */
    envset_del_prefix(mi->es, "X509_");

    /* the chain, CA first */
    if (verify_cert(mi, 1, "ovp-refcore CA", NULL) < 0 ||
        verify_cert(mi, 0, cn ? cn : "", serial) < 0)
    {
        tls_error(mi, "TLS handshake failed (certificate verification)");
        return -1;
    }

    /* peer info: every IV_ / UV_ line the client sent */
    if (mi->peer_info)
    {
        char *copy = xstrdup(mi->peer_info), *save = NULL;

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        {
            char *eq = strchr(line, '=');
            int valid = eq && eq != line;

            if (strlen(line) >= PEER_INFO_LINE_MAX)
            {
                line[PEER_INFO_LINE_MAX - 1] = '\0';
            }
            for (char *q = line; valid && *q; q++)
            {
                unsigned char ch = (unsigned char)*q;

                if (q < eq && !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                                (ch >= 'A' && ch <= 'Z') || ch == '_'))
                {
                    valid = 0;
                }
                else if (q > eq && (ch < 32 || ch >= 127 || ch == ' ' || ch == '$' ||
                                    ch == '(' || ch == '`'))
                {
                    *q = '_';
                }
            }
            if (valid && (strncmp(line, "IV_", 3) == 0 || strncmp(line, "UV_", 3) == 0))
            {
                core_msg(1, "peer info: %s", line);
                envset_add_line(mi->es, line);
            }
            else
            {
                core_msg(1, "validation failed on peer_info line received from client");
            }
        }
        free(copy);
    }

    k->authenticated = KS_AUTH_FALSE;
    /* NULL: not sent at all (a client without auth-user-pass). A real client sends each
     * string with its NUL, so an empty one still has length 1 and goes on to the plugins
     * (key_method_2_read only refuses a length of 0). */
    if (host_defined(s->host, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY) && (!user || !pass))
    {
        tls_error(mi, "Auth Username/Password was not provided by peer");
        return -1;
    }
    user = user ? user : "";
    pass = pass ? pass : "";
    if (strlen(user) >= USER_PASS_LEN || strlen(pass) >= USER_PASS_LEN)
    {
        core_msg(1, "TLS Error: Username (%zu) or password (%zu) too long", strlen(user),
                 strlen(pass));
        set_client_reason(mi, "Username or password is too long. Maximum length is 128 bytes");
    }
    else if (host_defined(s->host, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY))
    {
        char *u, *p;

        u = xstrdup(user);
        p = xstrdup(pass);
        verify_user_pass(mi, k, u, p);
        wipe(p, strlen(p));
        free(p);
        free(u);
    }
    else
    {
        k->authenticated = KS_AUTH_TRUE;
    }

    /* verify_final_auth_checks: the CN may not change once locked */
    if (k->authenticated > KS_AUTH_FALSE && mi->locked_cn && strcmp(mi->cn, mi->locked_cn))
    {
        core_msg(1,
                 "TLS Auth Error: TLS object CN attempted to change from '%s' to '%s' -- "
                 "tunnel disabled",
                 mi->locked_cn, mi->cn);
        set_str(&mi->cn, mi->locked_cn);
        envset_set(mi->es, "common_name", mi->cn);
        mi->key[0].authenticated = mi->key[1].authenticated = KS_AUTH_FALSE;
    }

    /* TLS_FINAL: a last veto, even over a deferred auth */
    if (k->authenticated > KS_AUTH_FALSE && host_defined(s->host, OPENVPN_PLUGIN_TLS_FINAL))
    {
        if (host_call(s->host, OPENVPN_PLUGIN_TLS_FINAL, NULL, mi->es, &mi->pc, NULL) !=
            OPENVPN_PLUGIN_FUNC_SUCCESS)
        {
            k->authenticated = KS_AUTH_FALSE;
        }
    }
    return 0;
}

/* ------------------------------------------------- authentication status */

/* key_state_test_auth_control_file */
static int
test_auth_control_file(struct key *k, int cached)
{
    if (!k->acf)
    {
        return ACF_DISABLED;
    }
    if (k->acf_status == ACF_PENDING && !cached)
    {
        int v = file_first_byte_verdict(k->acf);

        if (v == 1)
        {
            k->acf_status = ACF_SUCCEEDED;
        }
        else if (v == 0)
        {
            k->acf_status = ACF_FAILED;
        }
    }
    return k->acf_status;
}

/* update_key_auth_status */
static void
update_key_auth_status(struct inst *mi, struct key *k, int cached)
{
    int st;

    if (k->authenticated == KS_AUTH_FALSE)
    {
        return;
    }
    st = test_auth_control_file(k, cached);
    if (st == ACF_FAILED)
    {
        k->authenticated = KS_AUTH_FALSE;
    }
    else if (st == ACF_PENDING)
    {
        if (decision_now_ns(mi) >= k->expire_ns)
        {
            k->authenticated = KS_AUTH_FALSE;
            k->expired = 1;
            core_msg(1,
                     "Key [%s] not authenticated: the deferred authentication did not "
                     "finish in time",
                     mi->cn ? mi->cn : "UNDEF");
        }
    }
    else
    {
        k->authenticated = KS_AUTH_TRUE;
    }
}

/*
 * tls_authentication_status_use_cache: the control file is read again only
 * after 0,0,0,0,0,1,1,2,2,4,8 seconds (by update count), on whole seconds.
 */
static int
use_cache(struct inst *mi)
{
    static const unsigned intervals[] = {0, 0, 0, 0, 0, 1, 1, 2, 2, 4, 8};
    unsigned n = sizeof(intervals) / sizeof(intervals[0]);
    unsigned idx = mi->tas_n < n - 1 ? mi->tas_n : n - 1;

    if (mi->srv->conf.poll_fast)
    {
        return 0;
    }
    return mi->tas_last_s + intervals[idx] >= now_s();
}

/* tls_authentication_status */
static enum tas
authentication_status(struct inst *mi, int *timed_out)
{
    int cached = use_cache(mi);
    int active = 0, failed = 0, deferred = 0, success = 0;

    *timed_out = 0;
    for (int i = 0; i < 2; i++)
    {
        struct key *k = &mi->key[i];

        if (!k->live)
        {
            continue;
        }
        active++;
        update_key_auth_status(mi, k, cached);
        if (k->authenticated == KS_AUTH_FALSE)
        {
            failed = 1;
            *timed_out |= k->expired;
        }
        else if (k->authenticated == KS_AUTH_DEFERRED)
        {
            deferred = 1;
        }
        else
        {
            success = 1;
        }
    }
    if (!cached)
    {
        mi->tas_last_s = now_s();
        mi->tas_n++;
    }
    if (failed)
    {
        /* the primary key is the newest one */
        check_for_client_reason(mi, mi->key[1].live ? &mi->key[1] : &mi->key[0]);
        return TAS_FAILED;
    }
    if (success)
    {
        return TAS_SUCCEEDED;
    }
    return (active == 0 || deferred) ? TAS_DEFERRED : TAS_FAILED;
}

/* ------------------------------------------------------ client-connect */

static void
set_virtual_addr_env(struct inst *mi)
{
    char buf[INET6_ADDRSTRLEN];
    struct in_addr a;

    envset_del(mi->es, "ifconfig_pool_local_ip");
    envset_del(mi->es, "ifconfig_pool_remote_ip");
    envset_del(mi->es, "ifconfig_pool_netmask");
    if (mi->has_v4)
    {
        a.s_addr = htonl(mi->v4);
        envset_set(mi->es, "ifconfig_pool_remote_ip", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
        a.s_addr = htonl(mi->v4mask);
        envset_set(mi->es, "ifconfig_pool_netmask", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
    }
    envset_del(mi->es, "ifconfig_pool_local_ip6");
    envset_del(mi->es, "ifconfig_pool_remote_ip6");
    envset_del(mi->es, "ifconfig_pool_ip6_netbits");
    if (mi->has_v6)
    {
        envset_set(mi->es, "ifconfig_pool_remote_ip6",
                   inet_ntop(AF_INET6, &mi->v6, buf, sizeof(buf)));
        envset_set(mi->es, "ifconfig_pool_local_ip6",
                   inet_ntop(AF_INET6, pool_server_v6(mi->srv->pool), buf, sizeof(buf)));
        envset_setf(mi->es, "ifconfig_pool_ip6_netbits", "%d", mi->v6bits);
    }
}

/* multi_select_virtual_addr */
static void
select_virtual_addr(struct inst *mi)
{
    struct pool *pool = mi->srv->pool;

    if (mi->opts.ifconfig_push)
    {
        if (mi->vaddr >= 0)
        {
            pool_release(pool, mi->vaddr);
            mi->vaddr = -1;
        }
        mi->has_v4 = 1;
        mi->v4 = mi->opts.push_local;
        mi->v4mask = mi->opts.push_netmask;
        mi->has_v6 = 0;
        if (pool_has_v6(pool) && !mi->opts.ifconfig_ipv6_push)
        {
            core_msg(1, "MULTI_sva: WARNING: if --ifconfig-push is used for IPv4, automatic "
                        "IPv6 assignment from --ifconfig-ipv6-pool does not work.  Use "
                        "--ifconfig-ipv6-push for IPv6 then.");
        }
    }
    else if (mi->vaddr < 0)
    {
        uint32_t v4;
        struct in6_addr v6;

        mi->vaddr = pool_acquire(pool, mi->srv->conf.duplicate_cn ? NULL : mi->cn, &v4, &v6);
        if (mi->vaddr >= 0)
        {
            mi->has_v4 = 1;
            mi->v4 = v4;
            mi->v4mask = pool_netmask(pool);
            if (pool_has_v6(pool))
            {
                mi->has_v6 = 1;
                mi->v6 = v6;
                mi->v6bits = pool_bits6(pool);
            }
        }
        else
        {
            core_msg(1, "MULTI: no free --ifconfig-pool addresses are available");
        }
    }
    if (mi->opts.ifconfig_ipv6_push)
    {
        mi->has_v6 = 1;
        mi->v6 = mi->opts.push_v6;
        mi->v6bits = mi->opts.push_v6_bits;
    }
}

/* multi_client_connect_setenv */
static void
client_connect_setenv(struct inst *mi)
{
    char when[64];
    struct tm tm;

    envset_set(mi->es, "common_name", mi->cn);
    setenv_addr(mi, "trusted");
    set_virtual_addr_env(mi);
    localtime_r(&mi->created_wall, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    envset_set(mi->es, "time_ascii", when);
    envset_setf(mi->es, "time_unix", "%lld", (long long)mi->created_wall);
}

/* multi_delete_dup: older instances with this common name are dropped. */
static void
delete_dup(struct inst *mi)
{
    struct inst *o = mi->srv->insts;

    while (o)
    {
        struct inst *next = o->next;

        if (o != mi && !o->halted && o->cn && strcmp(o->cn, mi->cn) == 0)
        {
            core_msg(1,
                     "MULTI: new connection by client '%s' will cause previous active "
                     "sessions by this client to be dropped.  Remember to use the "
                     "--duplicate-cn option if you want multiple clients using the same "
                     "certificate or username to concurrently connect.",
                     mi->cn);
            session_close(o, "replaced by a new connection with the same common name");
        }
        o = next;
    }
}

/* The deferred-file test of the v1 API (ccs_test_deferred_ret_file). */
static enum cc_ret
test_deferred_ret_file(struct inst *mi)
{
    char *text;
    size_t len = 0;
    enum cc_ret ret = CC_RET_SKIPPED;

    text = mi->cc_ret_file ? file_read_all(mi->cc_ret_file, 1, &len) : NULL;
    if (!text)
    {
        return CC_RET_SKIPPED;
    }
    if (len == 1)
    {
        switch (text[0])
        {
            case '0':
                ret = CC_RET_FAILED;
                break;
            case '1':
                ret = CC_RET_SUCCEEDED;
                break;
            case '2':
                ret = CC_RET_DEFERRED;
                break;
            default:
                core_msg(1, "WARNING: Unknown/unexpected value in deferred client-connect "
                            "resultfile");
                ret = CC_RET_FAILED;
        }
    }
    free(text);
    return ret;
}

static void
delete_cc_files(struct inst *mi)
{
    if (mi->cc_config_file)
    {
        envset_del(mi->es, "client_connect_config_file");
        tmpfile_remove(&mi->cc_config_file);
    }
    if (mi->cc_ret_file)
    {
        envset_del(mi->es, "client_connect_deferred_file");
        tmpfile_remove(&mi->cc_ret_file);
    }
}

/* multi_client_connect_call_plugin_v1: CLIENT_CONNECT with a config file in argv[1]. */
static enum cc_ret
client_connect_v1(struct inst *mi, int deferred)
{
    struct server *s = mi->srv;
    enum cc_ret ret;
    int type, status, file_ret;

    if (!host_defined(s->host, OPENVPN_PLUGIN_CLIENT_CONNECT))
    {
        return CC_RET_SKIPPED;
    }
    if (!deferred)
    {
        type = OPENVPN_PLUGIN_CLIENT_CONNECT;
        delete_cc_files(mi);
        mi->cc_config_file = tmpfile_create(s->tmp_dir, "cc");
        mi->cc_ret_file = tmpfile_create(s->tmp_dir, "ccr");
        if (!mi->cc_config_file || !mi->cc_ret_file)
        {
            delete_cc_files(mi);
            return CC_RET_FAILED;
        }
        envset_set(mi->es, "client_connect_config_file", mi->cc_config_file);
        envset_set(mi->es, "client_connect_deferred_file", mi->cc_ret_file);
    }
    else
    {
        type = OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER;
    }
    {
        const char *args[] = {mi->cc_config_file, NULL};

        status = host_call(s->host, type, args, mi->es, &mi->pc, NULL);
    }
    if (status == OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        ret = CC_RET_SUCCEEDED;
    }
    else if (status == OPENVPN_PLUGIN_FUNC_DEFERRED)
    {
        ret = CC_RET_DEFERRED;
    }
    else
    {
        core_msg(1, "WARNING: client-connect plugin call failed");
        ret = CC_RET_FAILED;
    }
    file_ret = test_deferred_ret_file(mi);
    if (file_ret == CC_RET_FAILED)
    {
        ret = CC_RET_FAILED;
    }
    else if (ret == CC_RET_SUCCEEDED && file_ret == CC_RET_DEFERRED)
    {
        ret = CC_RET_DEFERRED;
    }
    if (ret == CC_RET_SUCCEEDED)
    {
        size_t len = 0;
        char *text = file_read_all(mi->cc_config_file, 1 << 20, &len);

        if (text && len)
        {
            ccopts_import(&mi->opts, text, "client-connect file");
            select_virtual_addr(mi);
            set_virtual_addr_env(mi);
        }
        free(text);
    }
    if (ret != CC_RET_DEFERRED)
    {
        delete_cc_files(mi);
    }
    return ret;
}

/* multi_client_connect_call_plugin_v2: CLIENT_CONNECT_V2, or DEFER_V2 when polling. */
static enum cc_ret
client_connect_v2(struct inst *mi, int deferred)
{
    struct host *h = mi->srv->host;
    int type =
        deferred ? OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2 : OPENVPN_PLUGIN_CLIENT_CONNECT_V2;
    struct host_return pr;
    enum cc_ret ret;
    int status;

    if (!host_defined(h, type))
    {
        return CC_RET_SKIPPED;
    }
    status = host_call(h, type, NULL, mi->es, &mi->pc, &pr);
    if (status == OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        const char *config[HOST_MAX_PLUGINS];
        int any = 0;

        host_return_column(&pr, "config", config);
        for (int i = 0; i < pr.n; i++)
        {
            if (config[i])
            {
                ccopts_import(&mi->opts, config[i], "client-connect-v2 return list");
                any = 1;
            }
        }
        if (any || pr.n)
        {
            select_virtual_addr(mi);
            set_virtual_addr_env(mi);
        }
        ret = CC_RET_SUCCEEDED;
    }
    else if (status == OPENVPN_PLUGIN_FUNC_DEFERRED)
    {
        ret = CC_RET_DEFERRED;
        if (!host_defined(h, OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2))
        {
            core_msg(1, "A plugin that defers from the OPENVPN_PLUGIN_CLIENT_CONNECT_V2 call "
                        "must also declare support for OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2");
            ret = CC_RET_FAILED;
        }
    }
    else
    {
        core_msg(1, "WARNING: client-connect-v2 plugin call failed");
        ret = CC_RET_FAILED;
    }
    host_return_free(&pr);
    return ret;
}

/* multi_client_disconnect_script */
static void
client_disconnect(struct inst *mi)
{
    setenv_addr(mi, "trusted");
    envset_setf(mi->es, "bytes_received", "%llu", (unsigned long long)mi->bytes_in);
    envset_setf(mi->es, "bytes_sent", "%llu", (unsigned long long)mi->bytes_out);
    envset_setf(mi->es, "time_duration", "%llu", (unsigned long long)(now_s() - mi->created_s));
    if (host_defined(mi->srv->host, OPENVPN_PLUGIN_CLIENT_DISCONNECT) &&
        host_call(mi->srv->host, OPENVPN_PLUGIN_CLIENT_DISCONNECT, NULL, mi->es, &mi->pc,
                  NULL) != OPENVPN_PLUGIN_FUNC_SUCCESS)
    {
        core_msg(1, "WARNING: client-disconnect plugin call failed");
    }
}

static void
push_reply(struct inst *mi)
{
    char buf[INET6_ADDRSTRLEN], buf2[INET6_ADDRSTRLEN];
    size_t cap = 1024, len = 0;
    char *line = xmalloc(cap);
    struct in_addr a;

#define APPEND(...)                                                                            \
    do                                                                                         \
    {                                                                                          \
        int need_ = snprintf(NULL, 0, __VA_ARGS__);                                            \
        if (len + (size_t)need_ + 2 > cap)                                                     \
        {                                                                                      \
            cap = (len + (size_t)need_ + 2) * 2;                                               \
            line = xrealloc(line, cap);                                                        \
        }                                                                                      \
        len += (size_t)snprintf(line + len, cap - len, __VA_ARGS__);                           \
    } while (0)

    APPEND("PUSH_REPLY");
    for (size_t i = 0; i < mi->opts.n_push; i++)
    {
        APPEND(",%s", mi->opts.push[i]);
    }
    a.s_addr = htonl(pool_server_v4(mi->srv->pool));
    APPEND(",route-gateway %s,topology subnet", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
    if (mi->has_v6)
    {
        APPEND(",ifconfig-ipv6 %s/%d %s", inet_ntop(AF_INET6, &mi->v6, buf, sizeof(buf)),
               mi->v6bits,
               inet_ntop(AF_INET6, pool_server_v6(mi->srv->pool), buf2, sizeof(buf2)));
    }
    if (mi->has_v4)
    {
        a.s_addr = htonl(mi->v4);
        inet_ntop(AF_INET, &a, buf, sizeof(buf));
        a.s_addr = htonl(mi->v4mask);
        APPEND(",ifconfig %s %s", buf, inet_ntop(AF_INET, &a, buf2, sizeof(buf2)));
    }
    APPEND(",peer-id %llu", (unsigned long long)mi->id);
    if (mi->auth_token)
    {
        APPEND(",auth-token %s", mi->auth_token);
    }
#undef APPEND
    /* the protocol is line based: a directive with a newline cannot be sent as is */
    remap_name(line);
    session_send(mi, line);
    free(line);

    if (mi->has_v4 || mi->has_v6)
    {
        a.s_addr = htonl(mi->v4);
        snprintf(buf2, sizeof(buf2), "%s",
                 mi->has_v4 ? inet_ntop(AF_INET, &a, buf, sizeof(buf)) : "-");
        line = xasprintf("ADDR %s%s%s", buf2, mi->has_v6 ? " " : "",
                         mi->has_v6 ? inet_ntop(AF_INET6, &mi->v6, buf, sizeof(buf)) : "");
        session_send(mi, line);
        free(line);
    }
}

/* multi_client_connect_late_setup: routes learned, state CONNECT_DONE, PUSH_REPLY. */
static void
connect_late_setup(struct inst *mi)
{
    struct server *s = mi->srv;
    char buf[INET6_ADDRSTRLEN];

    if (!mi->has_v4)
    {
        core_msg(1,
                 "MULTI: no dynamic or static remote --ifconfig address is available for "
                 "%s",
                 mi->cn);
    }
    if (mi->has_v4)
    {
        struct in_addr a;

        a.s_addr = htonl(mi->v4);
        rt_learn(s->routes, s, mi->owner, inet_ntop(AF_INET, &a, buf, sizeof(buf)));
        core_msg(3, "MULTI: primary virtual IP for %s: %s", mi->cn, buf);
    }
    if (mi->has_v6)
    {
        rt_learn(s->routes, s, mi->owner, inet_ntop(AF_INET6, &mi->v6, buf, sizeof(buf)));
        core_msg(3, "MULTI: primary virtual IPv6 for %s: %s", mi->cn, buf);
    }
    for (size_t i = 0; i < mi->opts.n_iroutes; i++)
    {
        rt_learn(s->routes, s, mi->owner, mi->opts.iroutes[i]);
    }
    mi->cas = CAS_CONNECT_DONE;
    push_reply(mi);
    resolve(mi, 1, 0);
}

/*
 * multi_client_connect_compress_migrate: OpenVPN 2.6's first handler, which always
 * succeeds (with or without compression). So the state is already "partial" when the
 * first plugin runs, and any refusal is followed by CLIENT_DISCONNECT.
 */
static enum cc_ret
client_connect_compress_migrate(struct inst *mi, int deferred)
{
    (void)mi;
    (void)deferred;
    return CC_RET_SUCCEEDED;
}

/* multi_connection_established: the client-connect handlers, resumable. */
static void
connection_established(struct inst *mi)
{
    static enum cc_ret (*const handlers[])(struct inst *, int) = {
        client_connect_compress_migrate,
        client_connect_v1,
        client_connect_v2,
    };
    int from_deferred = mi->cas != CAS_PENDING;
    int succeeded = 1;

    if (!from_deferred)
    {
        mi->cc_index = 0;
        mi->cas = CAS_PENDING_DEFERRED;
        /* early setup */
        set_str(&mi->locked_cn, mi->cn);
        if (!mi->srv->conf.duplicate_cn)
        {
            delete_dup(mi);
        }
        mi->vaddr = -1;
        select_virtual_addr(mi);
        client_connect_setenv(mi);
    }
    while (succeeded && mi->cc_index < (int)(sizeof(handlers) / sizeof(handlers[0])))
    {
        enum cc_ret ret = handlers[mi->cc_index](mi, from_deferred);

        from_deferred = 0;
        switch (ret)
        {
            case CC_RET_SUCCEEDED:
                mi->cas = CAS_PENDING_DEFERRED_PARTIAL;
                break;
            case CC_RET_SKIPPED:
                break;
            case CC_RET_DEFERRED:
                return; /* polled again at the next wakeup */
            case CC_RET_FAILED:
                succeeded = 0;
                break;
        }
        if (mi->opts.disable)
        {
            core_msg(1, "MULTI: client has been rejected due to 'disable' directive");
            succeeded = 0;
        }
        mi->cc_index++;
    }
    if (succeeded)
    {
        connect_late_setup(mi);
        return;
    }
    /* a handler that already answered (always the internal first one) gets its disconnect */
    if (mi->cas == CAS_PENDING_DEFERRED_PARTIAL)
    {
        client_disconnect(mi);
    }
    mi->cas = CAS_FAILED;
    auth_failed(mi, 0);
}

/* ---------------------------------------------------------- processing */

static int
cas_pending(int cas)
{
    return cas == CAS_PENDING || cas == CAS_PENDING_DEFERRED ||
           cas == CAS_PENDING_DEFERRED_PARTIAL;
}

static void
schedule(struct inst *mi)
{
    struct server *s = mi->srv;
    int waiting = mi->key[0].authenticated == KS_AUTH_DEFERRED ||
                  mi->key[1].authenticated == KS_AUTH_DEFERRED || cas_pending(mi->cas);

    if (mi->halted || !waiting)
    {
        timer_cancel(s->loop, &mi->wakeup);
        return;
    }
    if (!timer_armed(&mi->wakeup))
    {
        timer_arm(s->loop, &mi->wakeup, now_ns() + (s->conf.poll_fast ? NS_PER_MS : NS_PER_S));
    }
}

/* tls_multi_process + multi_process_post for one instance. */
static void
process(struct inst *mi)
{
    int timed_out = 0;
    enum tas tas;

    if (mi->halted)
    {
        return;
    }
    tas = authentication_status(mi, &timed_out);
    if (tas == TAS_FAILED)
    {
        if (mi->key[1].live)
        {
            core_msg(1, "TLS: renegotiation of %s failed authentication", mi->cn);
        }
        auth_failed(mi, timed_out);
        return;
    }
    if (mi->key[1].live && mi->key[1].authenticated == KS_AUTH_TRUE)
    {
        /* the new key takes over; the old one is retired with its files */
        key_free(mi->srv, &mi->key[0]);
        mi->key[0] = mi->key[1];
        memset(&mi->key[1], 0, sizeof(mi->key[1]));
        mi->srv->st.renegotiated++;
        session_send(mi, "RENEG_OK");
    }
    if (mi->cas == CAS_WAITING_AUTH && tas == TAS_SUCCEEDED)
    {
        mi->cas = CAS_PENDING;
        session_send(mi, "AUTH_OK");
    }
    if (cas_pending(mi->cas))
    {
        connection_established(mi);
    }
    schedule(mi);
}

void
session_file_changed(struct inst *mi)
{
    if (!mi->halted)
    {
        process(mi);
    }
}

static void
wakeup_cb(struct timer *t)
{
    struct inst *mi = (struct inst *)((char *)t - offsetof(struct inst, wakeup));

    process(mi);
}

/* -------------------------------------------------------------- entry points */

static void
on_conn_close(struct conn *c, const char *why)
{
    struct inst *mi = inst_of_conn(c);

    if (!mi->resolved && mi->hello_done)
    {
        mi->srv->st.hung_up++;
    }
    session_close(mi, why);
}

struct inst *
session_new(struct server *s, int fd, const char *ip, unsigned port, int ip6)
{
    struct inst *mi = xcalloc(1, sizeof(*mi));

    mi->srv = s;
    mi->id = s->next_id++;
    snprintf(mi->ip, sizeof(mi->ip), "%s", ip);
    mi->port = port;
    mi->ip6 = ip6;
    mi->vaddr = -1;
    mi->created_s = now_s();
    mi->created_wall = time(NULL);
    timer_init(&mi->wakeup, wakeup_cb);
    mi->conn.owner = mi;
    mi->conn.on_line = mux_on_line;
    mi->conn.on_close = on_conn_close;
    if (conn_start(&mi->conn, s->loop, fd, 0) < 0)
    {
        close(fd);
        free(mi);
        return NULL;
    }
    /* inherit_context_child: the top env and the per-client plugin contexts */
    mi->es = envset_clone(s->env);
    host_client_init(s->host, &mi->pc);
    mi->owner = route_owner_new(mi);
    ccopts_init(&mi->opts, s->conf.push, s->conf.n_push);
    mi->next = s->insts;
    if (s->insts)
    {
        s->insts->prev = mi;
    }
    s->insts = mi;
    s->n_insts++;
    return mi;
}

void
session_hello(struct inst *mi, const struct hello *h)
{
    struct server *s = mi->srv;

    if (mi->hello_done)
    {
        session_send(mi, "ERR HELLO already received");
        return;
    }
    mi->hello_done = 1;
    mi->t_start_ns = now_ns();
    s->st.sessions++;
    if (!s->st.first_hello_ns)
    {
        s->st.first_hello_ns = mi->t_start_ns;
    }
    if (h->addr)
    {
        /* the address the client claims to come from (as if through NAT) */
        const char *colon = strrchr(h->addr, ':');

        if (h->addr[0] == '[' && colon && colon[-1] == ']')
        {
            snprintf(mi->ip, sizeof(mi->ip), "%.*s", (int)(colon - h->addr - 2), h->addr + 1);
            mi->ip6 = 1;
        }
        else if (colon)
        {
            snprintf(mi->ip, sizeof(mi->ip), "%.*s", (int)(colon - h->addr), h->addr);
            mi->ip6 = strchr(mi->ip, ':') != NULL;
        }
        mi->port = colon ? (unsigned)atoi(colon + 1) : mi->port;
    }
    {
        size_t len = 0;

        for (int i = 0; i < h->n_iv; i++)
        {
            len += strlen(h->iv[i]) + 1;
        }
        mi->peer_info = xcalloc(len + 1, 1);
        for (int i = 0; i < h->n_iv; i++)
        {
            strcat(mi->peer_info, h->iv[i]);
            strcat(mi->peer_info, "\n");
            if (strncmp(h->iv[i], "IV_PROTO=", 9) == 0)
            {
                mi->iv_proto = (unsigned)strtoul(h->iv[i] + 9, NULL, 10);
            }
        }
    }
    /* the initial handshake: the status is first checked when it starts */
    mi->tas_last_s = now_s();
    mi->tas_n = 1;
    mi->cas = CAS_WAITING_AUTH;
    if (handshake(mi, &mi->key[0], h->cn, h->serial, h->user, h->pass) < 0)
    {
        return;
    }
    process(mi);
}

void
session_reneg(struct inst *mi, const char *pass)
{
    if (mi->cas != CAS_CONNECT_DONE || mi->key[1].live)
    {
        session_send(mi, "ERR renegotiation needs a connected session and none in progress");
        return;
    }
    /* while connected OpenVPN checked the status about once a second, uncached */
    {
        uint64_t now = now_s();

        if (now > mi->tas_last_s)
        {
            mi->tas_n += (unsigned)(now - mi->tas_last_s);
            mi->tas_last_s = now;
        }
    }
    if (handshake(mi, &mi->key[1], mi->cn, NULL, mi->username,
                  pass ? pass : (mi->auth_token ? mi->auth_token : "")) < 0)
    {
        return;
    }
    process(mi);
}

void
session_bytes(struct inst *mi, uint64_t received, uint64_t sent)
{
    mi->bytes_in += received;
    mi->bytes_out += sent;
}

void
session_crresponse(struct inst *mi, const char *b64)
{
    envset_set(mi->es, "crresponse", b64);
    host_call(mi->srv->host, OPENVPN_PLUGIN_CLIENT_CRRESPONSE, NULL, mi->es, &mi->pc, NULL);
    envset_del(mi->es, "crresponse");
}

static void
inst_free(void *arg)
{
    struct inst *mi = arg;
    struct server *s = mi->srv;

    /* off the list of halted instances */
    if (mi->prev)
    {
        mi->prev->next = mi->next;
    }
    else
    {
        s->halted = mi->next;
    }
    if (mi->next)
    {
        mi->next->prev = mi->prev;
    }

    envset_free(mi->es);
    ccopts_free(&mi->opts);
    free(mi->cn);
    free(mi->username);
    free(mi->peer_info);
    free(mi->locked_cn);
    free(mi->locked_username);
    free(mi->client_reason);
    if (mi->auth_token)
    {
        wipe(mi->auth_token, strlen(mi->auth_token));
    }
    free(mi->auth_token);
    free(mi->auth_token_initial);
    free(mi);
}

static void
inst_done(struct conn *c)
{
    struct inst *mi = c->owner;

    loop_later(mi->srv->loop, inst_free, mi);
}

void
session_free_halted(struct inst *mi)
{
    mi->conn.on_done = NULL;
    conn_close(&mi->conn);
    inst_free(mi);
}

void
session_close(struct inst *mi, const char *why)
{
    struct server *s = mi->srv;

    if (mi->halted)
    {
        return;
    }
    mi->halted = 1;
    core_msg(3, "MULTI: closing instance %llu (%s): %s", (unsigned long long)mi->id,
             mi->cn ? mi->cn : "UNDEF", why);
    timer_cancel(s->loop, &mi->wakeup);
    if (mi->vaddr >= 0)
    {
        pool_release(s->pool, mi->vaddr);
        mi->vaddr = -1;
    }
    /* its routes now point at a halted instance: the reaper deletes them later */
    route_owner_halt(mi->owner);
    mi->owner = NULL;
    if (mi->cas >= CAS_CONNECT_DONE)
    {
        client_disconnect(mi);
    }
    host_client_free(s->host, &mi->pc);
    key_free(s, &mi->key[0]);
    key_free(s, &mi->key[1]);
    delete_cc_files(mi);
    /* unlinked now; freed once the connection has finished lingering */
    conn_finish(&mi->conn, s->conf.linger_ns, inst_done);
    if (mi->prev)
    {
        mi->prev->next = mi->next;
    }
    else
    {
        s->insts = mi->next;
    }
    if (mi->next)
    {
        mi->next->prev = mi->prev;
    }
    s->n_insts--;
    mi->next = s->halted;
    mi->prev = NULL;
    if (s->halted)
    {
        s->halted->prev = mi;
    }
    s->halted = mi;
}

int
session_learn_address(struct server *s, struct inst *mi, const char *op, const char *addr)
{
    int ok = 1;

    if (host_defined(s->host, OPENVPN_PLUGIN_LEARN_ADDRESS))
    {
        const char *args[] = {op, addr, mi ? mi->cn : NULL, NULL};
        int ret;

        if (mi)
        {
            ret = host_call(s->host, OPENVPN_PLUGIN_LEARN_ADDRESS, args, mi->es, &mi->pc, NULL);
        }
        else
        {
            struct envset *empty = envset_new();

            ret = host_call(s->host, OPENVPN_PLUGIN_LEARN_ADDRESS, args, empty, NULL, NULL);
            envset_free(empty);
        }
        if (ret != OPENVPN_PLUGIN_FUNC_SUCCESS)
        {
            core_msg(1, "WARNING: learn-address plugin call failed");
            ok = 0;
        }
    }
    return ok;
}

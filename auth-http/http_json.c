/* http_json.c: ovp-auth-http's messages: the request body, the answer, reasons, signatures. */
#include "ovpbuild.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "http_conf.h"
#include "http_json.h"
#include "secret.h"
#include "util.h"

/*
 * Why jansson: it validates UTF-8 strictly in both directions, rejects duplicate
 * keys on request (JSON_REJECT_DUPLICATES: a second "reason" or "client_config"
 * cannot hide behind the first), has a small API stable since 2.0 and is in
 * Debian main. Nothing here pastes strings into JSON by hand.
 */

/* Length of the valid UTF-8 sequence at S (N bytes left), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
    {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
    {
        len = 2;
        cp = s[0] & 0x1f;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
    {
        len = 3;
        cp = s[0] & 0x0f;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    {
        len = 4;
        cp = s[0] & 0x07;
    }
    else
    {
        return 0;
    }
    if (len > n)
    {
        return 0;
    }
    for (size_t i = 1; i < len; i++)
    {
        if ((s[i] & 0xc0) != 0x80)
        {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    {
        return 0;
    }
    return len;
}

/* A jansson string of S, each invalid UTF-8 byte replaced by U+FFFD. */
static json_t *
jstr(const char *s, int *replaced)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), o = 0;
    char *buf;
    json_t *j;

    j = json_stringn(s, n); /* NULL when S is not valid UTF-8 */
    if (j)
    {
        return j;
    }
    buf = malloc(n * 3 + 1);
    if (!buf)
    {
        return NULL;
    }
    for (size_t i = 0; i < n;)
    {
        size_t l = utf8_seq(p + i, n - i);
        if (l == 0)
        {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            if (replaced)
            {
                *replaced = 1;
            }
        }
        else
        {
            memcpy(buf + o, p + i, l);
            o += l;
            i += l;
        }
    }
    j = json_stringn(buf, o);
    ovp_wipe(buf, n * 3 + 1);
    free(buf);
    return j;
}

/* Sets KEY to the env's VAR (as a string) when present. 0, or -1 out of memory. */
static int
set_env(json_t *o, const char *key, const char *const *envp, const char *var, int *replaced)
{
    const char *v = ovp_env_get(envp, var);
    json_t *j;
    if (!v)
    {
        return 0;
    }
    j = jstr(v, replaced);
    return j && json_object_set_new(o, key, j) == 0 ? 0 : -1;
}

/* Wipes the string value of KEY in O, if any. Why: jansson keeps its own copy of every
 * string and frees it on json_decref without wiping; the password, the response and the
 * ticket must not outlive the request in freed memory. */
static void
wipe_value(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
    {
        ovp_wipe((char *)json_string_value(v), json_string_length(v));
    }
}

/* json_decref of a request or answer object, its secret strings wiped first. */
static void
decref_wiped(json_t *o)
{
    if (json_is_object(o))
    {
        wipe_value(o, "password");
        wipe_value(o, "response");
        wipe_value(o, "ticket");
    }
    json_decref(o);
}

char *
ah_body_build(const struct ah_body_in *in, int *replaced, char *err, size_t errlen)
{
    json_t *o = json_object();
    char *out = NULL;
    size_t n;
    int bad = 0;

    if (!o)
    {
        goto nomem;
    }
    if (json_object_set_new(o, "hook", json_string(in->hook)) < 0)
    {
        goto nomem;
    }
    if (in->envp)
    {
        const char *const *e = in->envp;
        if (((in->fields & AH_F_USERNAME) && set_env(o, "username", e, "username", &bad) < 0) ||
            ((in->fields & AH_F_PASSWORD) && in->with_password &&
             set_env(o, "password", e, "password", &bad) < 0) ||
            ((in->fields & AH_F_COMMON_NAME) &&
             set_env(o, "common_name", e, "common_name", &bad) < 0) ||
            ((in->fields & AH_F_UNTRUSTED_IP) &&
             (set_env(o, "untrusted_ip", e, "untrusted_ip", &bad) < 0 ||
              (!json_object_get(o, "untrusted_ip") &&
               set_env(o, "untrusted_ip", e, "untrusted_ip6", &bad) < 0))) ||
            ((in->fields & AH_F_UNTRUSTED_PORT) &&
             set_env(o, "untrusted_port", e, "untrusted_port", &bad) < 0) ||
            ((in->fields & AH_F_SESSION_ID) &&
             set_env(o, "session_id", e, "session_id", &bad) < 0) ||
            ((in->fields & AH_F_SESSION_STATE) &&
             set_env(o, "session_state", e, "session_state", &bad) < 0))
        {
            goto nomem;
        }
        if (in->fields & AH_F_PEER_INFO)
        {
            json_t *pi = json_object();
            if (!pi || json_object_set_new(o, "peer_info", pi) < 0)
            {
                goto nomem;
            }
            for (; *e; e++)
            {
                const char *eq = strchr(*e, '=');
                char name[128];
                json_t *v;
                if (strncmp(*e, "IV_", 3) != 0 || !eq || (size_t)(eq - *e) >= sizeof(name))
                {
                    continue;
                }
                memcpy(name, *e, (size_t)(eq - *e));
                name[eq - *e] = '\0';
                v = jstr(eq + 1, &bad);
                if (!v || json_object_set_new(pi, name, v) < 0)
                {
                    goto nomem;
                }
            }
        }
    }
    if (in->request_id && (in->fields & AH_F_REQUEST_ID) &&
        json_object_set_new(o, "request_id", json_string(in->request_id)) < 0)
    {
        goto nomem;
    }
    if (in->ticket && json_object_set_new(o, "ticket", jstr(in->ticket, &bad)) < 0)
    {
        goto nomem;
    }
    if (in->response && json_object_set_new(o, "response", jstr(in->response, &bad)) < 0)
    {
        goto nomem;
    }
    /* Straight into our buffer (wiped on free by ovp_free_secret): json_dumps would grow
     * a buffer of its own by reallocation, leaving unwiped partial bodies in freed memory. */
    n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (n == 0 || !(out = malloc(n + 1)))
    {
        goto nomem;
    }
    if (json_dumpb(o, out, n, JSON_COMPACT | JSON_PRESERVE_ORDER) != n)
    {
        ovp_wipe(out, n);
        free(out);
        out = NULL;
        goto nomem;
    }
    out[n] = '\0';
    decref_wiped(o);
    if (replaced)
    {
        *replaced = bad;
    }
    return out;

nomem:
    decref_wiped(o);
    ovp_errf(err, errlen, "out of memory building the request");
    return NULL;
}

static int
dup_str(json_t *v, const char *what, char **out, char *err, size_t errlen)
{
    if (!json_is_string(v))
    {
        ovp_errf(err, errlen, "\"%s\" is not a string", what);
        return -1;
    }
    *out = strdup(json_string_value(v));
    if (!*out)
    {
        ovp_errf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
ah_answer_parse(const char *body, size_t len, struct ah_answer *a, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root, *v;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
    {
        ovp_errf(err, errlen, "invalid JSON (%.80s at byte %d)", je.text, je.position);
        return -1;
    }
    if (!json_is_object(root))
    {
        ovp_errf(err, errlen, "the JSON is not an object");
        goto out;
    }
    if ((v = json_object_get(root, "reason")) && !json_is_null(v) &&
        dup_str(v, "reason", &a->reason, err, errlen) < 0)
    {
        goto out;
    }
    if ((v = json_object_get(root, "ticket")) &&
        dup_str(v, "ticket", &a->ticket, err, errlen) < 0)
    {
        goto out;
    }
    if ((v = json_object_get(root, "client_config")) && !json_is_null(v))
    {
        size_t i;
        json_t *line;
        if (!json_is_array(v))
        {
            ovp_errf(err, errlen, "\"client_config\" is not a list of strings");
            goto out;
        }
        a->client_config = calloc(json_array_size(v) + 1, sizeof(char *));
        if (!a->client_config)
        {
            ovp_errf(err, errlen, "out of memory");
            goto out;
        }
        json_array_foreach(v, i, line)
        {
            if (dup_str(line, "client_config", &a->client_config[i], err, errlen) < 0)
            {
                goto out;
            }
            a->n_config = i + 1;
        }
    }
    if ((v = json_object_get(root, "pending")))
    {
        json_t *u = json_object_get(v, "url"), *t = json_object_get(v, "timeout");
        if (!json_is_object(v) || dup_str(u, "pending.url", &a->pending_url, err, errlen) < 0)
        {
            if (!json_is_object(v))
            {
                ovp_errf(err, errlen, "\"pending\" is not an object");
            }
            goto out;
        }
        a->pending_timeout = 120;
        if (t && !json_is_integer(t))
        {
            ovp_errf(err, errlen, "\"pending.timeout\" is not an integer");
            goto out;
        }
        if (t)
        {
            json_int_t s = json_integer_value(t);
            a->pending_timeout = s < 1 ? 1 : (s > 3600 ? 3600 : (long)s);
        }
    }
    if ((v = json_object_get(root, "challenge")))
    {
        json_t *t = json_object_get(v, "text"), *e = json_object_get(v, "echo");
        if (!json_is_object(v) ||
            dup_str(t, "challenge.text", &a->challenge_text, err, errlen) < 0)
        {
            if (!json_is_object(v))
            {
                ovp_errf(err, errlen, "\"challenge\" is not an object");
            }
            goto out;
        }
        if (e && !json_is_boolean(e))
        {
            ovp_errf(err, errlen, "\"challenge.echo\" is not true or false");
            goto out;
        }
        a->challenge_echo = e && json_is_true(e);
    }
    rc = 0;
out:
    decref_wiped(root);
    return rc;
}

void
ah_answer_clear(struct ah_answer *a)
{
    if (!a)
    {
        return;
    }
    free(a->reason);
    for (size_t i = 0; a->client_config && a->client_config[i]; i++)
    {
        free(a->client_config[i]);
    }
    free(a->client_config);
    ovp_free_secret(a->ticket);
    free(a->pending_url);
    free(a->challenge_text);
    memset(a, 0, sizeof(*a));
}

char *
ah_reason_sanitize(const char *in, char *out, size_t outlen)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t n = strlen((const char *)p), o = 0, cap = outlen - 1;

    if (cap > AH_REASON_MAX)
    {
        cap = AH_REASON_MAX;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
    {
        p++;
        n--;
    }
    for (size_t i = 0; i < n && o < cap;)
    {
        size_t l = utf8_seq(p + i, n - i);
        if (l == 0 || (l == 1 && (p[i] < 0x20 || p[i] == 0x7f)) ||
            (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0))
        {
            out[o++] = ' '; /* a control character or a bad byte */
            i += l ? l : 1;
            continue;
        }
        if (o + l > cap)
        {
            break;
        }
        memcpy(out + o, p + i, l);
        o += l;
        i += l;
    }
    while (o > 0 && out[o - 1] == ' ')
    {
        o--;
    }
    out[o] = '\0';
    return out;
}

int
ah_hmac_sign(const char *key, size_t keylen, const char *timestamp, const char *body,
             size_t bodylen, char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t tl = strlen(timestamp), n = tl + 1 + bodylen;
    unsigned char *msg = malloc(n + 1);
    int ok;

    if (!msg)
    {
        return -1;
    }
    memcpy(msg, timestamp, tl);
    msg[tl] = '.';
    memcpy(msg + tl + 1, body, bodylen);
    /* HMAC() (one shot) is the part of OpenSSL's HMAC API that 3.0 did not deprecate. */
    ok = HMAC(EVP_sha256(), key, (int)keylen, msg, n, mac, &maclen) != NULL && maclen == 32;
    ovp_wipe(msg, n);
    free(msg);
    if (!ok)
    {
        return -1;
    }
    for (unsigned i = 0; i < 32; i++)
    {
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    }
    ovp_wipe(mac, sizeof(mac));
    return 0;
}

int
ah_pending_text(const char *method, const char *what, int echo, char *out, size_t outlen)
{
    char clean[1024];
    size_t o = 0;
    int n;

    /* Drop control characters: the file is read line by line. */
    for (const unsigned char *p = (const unsigned char *)what; *p && o < sizeof(clean) - 1; p++)
    {
        if (*p >= 0x20 && *p != 0x7f)
        {
            clean[o++] = (char)*p;
        }
    }
    clean[o] = '\0';
    if (strcmp(method, "crtext") == 0)
    {
        /* A challenge text can be cut (on a UTF-8 boundary); a URL cannot. */
        char cut[1024];
        size_t max = 1023 - strlen("CR_TEXT:E,R:");
        ah_reason_sanitize(clean, cut, sizeof(cut) < max + 1 ? sizeof(cut) : max + 1);
        /* flags are a comma-separated list: "E,R" (echo the answer) or "R" */
        n = snprintf(out, outlen, "CR_TEXT:%s:%s", echo ? "E,R" : "R", cut);
    }
    else if (strcmp(method, "webauth") == 0)
    {
        n = snprintf(out, outlen, "WEB_AUTH::%s", clean);
    }
    else
    {
        n = snprintf(out, outlen, "OPEN_URL:%s", clean);
    }
    if (n < 0 || (size_t)n >= outlen || n > 1023)
    {
        return -1;
    }
    return strcmp(method, "crtext") != 0 && o != strlen(what) ? -1 : 0;
}

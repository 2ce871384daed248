/* pam_args.c: ovp-auth-pam's pure logic: options, prompt mapping, SCRV1, crtext challenge. */
#include "ovpbuild.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "defer.h"
#include "pam_args.h"
#include "secret.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen)
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
}

/* ASCII only: a locale must not change which prompt a word matches. */
static int
is_alnum_ascii(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char
lower_ascii(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int
has_control(const char *s)
{
    for (; *s; s++)
    {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
        {
            return 1;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- values */

static const struct
{
    const char *word;
    size_t len;
    enum ap_part_kind kind;
} placeholders[] = {
    {"USERNAME", 8, AP_USERNAME},
    {"PASSWORD", 8, AP_PASSWORD},
    {"COMMONNAME", 10, AP_COMMONNAME},
    {"OTP", 3, AP_OTP},
};
#define N_PLACEHOLDERS (sizeof(placeholders) / sizeof(placeholders[0]))

/* The placeholder starting at S, or -1. No word is a prefix of another. */
static int
placeholder_at(const char *s)
{
    for (size_t i = 0; i < N_PLACEHOLDERS; i++)
    {
        if (strncmp(s, placeholders[i].word, placeholders[i].len) == 0)
        {
            return (int)i;
        }
    }
    return -1;
}

/* Splits P->value into parts (literal runs and placeholders). */
static int
parse_value(struct ap_prompt *p)
{
    const char *s = p->value;
    size_t n = 0, cap = 4;

    p->parts = calloc(cap, sizeof(*p->parts));
    if (!p->parts)
    {
        return -1;
    }
    while (*s)
    {
        struct ap_part part;
        int ph = placeholder_at(s);
        if (ph >= 0)
        {
            part.kind = placeholders[ph].kind;
            part.text = NULL;
            part.len = 0;
            s += placeholders[ph].len;
        }
        else
        {
            const char *start = s;
            while (*s && placeholder_at(s) < 0)
            {
                s++;
            }
            part.kind = AP_LIT;
            part.text = start;
            part.len = (size_t)(s - start);
        }
        if (n == cap)
        {
            struct ap_part *np = realloc(p->parts, 2 * cap * sizeof(*np));
            if (!np)
            {
                return -1;
            }
            p->parts = np;
            cap *= 2;
        }
        p->parts[n++] = part;
    }
    p->n_parts = n;
    return 0;
}

static const char *
cred_for(const struct ap_creds *c, enum ap_part_kind kind)
{
    const char *v = NULL;
    switch (kind)
    {
        case AP_USERNAME:
            v = c->username;
            break;
        case AP_PASSWORD:
            v = c->password;
            break;
        case AP_COMMONNAME:
            v = c->common_name;
            break;
        case AP_OTP:
            v = c->otp;
            break;
        default:
            break;
    }
    return v ? v : "";
}

char *
ap_expand(const struct ap_prompt *p, const struct ap_creds *c)
{
    size_t total = 1, pos = 0;
    char *out;

    if (!p || !c)
    {
        return NULL;
    }
    for (size_t i = 0; i < p->n_parts; i++)
    {
        total += p->parts[i].kind == AP_LIT ? p->parts[i].len
                                            : strlen(cred_for(c, p->parts[i].kind));
    }
    out = malloc(total);
    if (!out)
    {
        return NULL;
    }
    for (size_t i = 0; i < p->n_parts; i++)
    {
        const char *t =
            p->parts[i].kind == AP_LIT ? p->parts[i].text : cred_for(c, p->parts[i].kind);
        size_t len = p->parts[i].kind == AP_LIT ? p->parts[i].len : strlen(t);
        memcpy(out + pos, t, len);
        pos += len;
    }
    out[pos] = '\0';
    return out;
}

int
ap_prompt_names_user(const struct ap_prompt *p)
{
    int user = 0;

    if (!p)
    {
        return 0;
    }
    for (size_t i = 0; i < p->n_parts; i++)
    {
        if (p->parts[i].kind == AP_USERNAME)
        {
            user = 1;
        }
        else if (p->parts[i].kind != AP_LIT)
        {
            return 0;
        }
    }
    return user;
}

int
ap_user_vouched(const char *pam_user, const char *username, const char *const *named, size_t n)
{
    /* Why NULL fails: a stack that identified nobody vouched for no username. */
    if (!pam_user || !username)
    {
        return 0;
    }
    if (strcmp(pam_user, username) == 0)
    {
        return 1;
    }
    for (size_t i = 0; named && i < n; i++)
    {
        if (named[i] && strcmp(pam_user, named[i]) == 0)
        {
            return 1;
        }
    }
    return 0;
}

void
ap_describe(const struct ap_prompt *p, char *buf, size_t len)
{
    size_t used = 0;

    if (!buf || len == 0)
    {
        return;
    }
    buf[0] = '\0';
    if (!p || p->n_parts == 0)
    {
        snprintf(buf, len, "\"\"");
        return;
    }
    for (size_t i = 0; i < p->n_parts && used < len; i++)
    {
        const struct ap_part *pt = &p->parts[i];
        const char *sep = i ? "+" : "";
        int n;
        if (pt->kind == AP_LIT)
        {
            int lit = pt->len > 64 ? 64 : (int)pt->len;
            n = snprintf(buf + used, len - used, "%s\"%.*s%s\"", sep, lit, pt->text,
                         pt->len > 64 ? "..." : "");
        }
        else
        {
            n = snprintf(buf + used, len - used, "%s%s", sep,
                         placeholders[pt->kind - AP_USERNAME].word);
        }
        if (n < 0)
        {
            break;
        }
        used += (size_t)n;
    }
}

/* ------------------------------------------------------------ arguments */

static int
check_word(const char *w, const char *what, size_t index, char *err, size_t errlen)
{
    size_t len = strnlen(w, AP_WORD_MAX + 1);
    if (len > AP_WORD_MAX)
    {
        set_err(err, errlen, "%s (word %zu) is longer than %d characters", what, index + 1,
                AP_WORD_MAX);
        return -1;
    }
    if (has_control(w))
    {
        set_err(err, errlen, "%s (word %zu) holds a control character", what, index + 1);
        return -1;
    }
    return 0;
}

void
ap_args_free(struct ap_args *a)
{
    if (!a)
    {
        return;
    }
    for (size_t i = 0; i < a->n_prompts; i++)
    {
        free(a->prompts[i].prefix);
        free(a->prompts[i].value);
        free(a->prompts[i].parts);
    }
    free(a->prompts);
    free(a->service);
    memset(a, 0, sizeof(*a));
}

int
ap_args_parse(const char *const *words, size_t n, struct ap_args *a, char *err, size_t errlen)
{
    size_t pairs;

    if (!a)
    {
        set_err(err, errlen, "internal error: no argument storage");
        return -1;
    }
    memset(a, 0, sizeof(*a));
    if (n == 0 || !words || !words[0])
    {
        set_err(err, errlen,
                "no PAM service given: use plugin ovp-auth-pam.so [key=value...] <service> "
                "[<prompt-prefix> <value>]...");
        return -1;
    }
    if (check_word(words[0], "the PAM service", 0, err, errlen) < 0)
    {
        return -1;
    }
    /* Why: a service is a file name under /etc/pam.d; a path would escape it. */
    if (!words[0][0] || strchr(words[0], '/'))
    {
        set_err(err, errlen,
                "bad PAM service name \"%s\": it must be a file name in /etc/pam.d", words[0]);
        return -1;
    }
    if ((n - 1) % 2 != 0)
    {
        set_err(err, errlen,
                "prompt mapping needs pairs of <prompt-prefix> <value>: \"%s\" has no value",
                words[n - 1]);
        return -1;
    }
    pairs = (n - 1) / 2;
    if (pairs > AP_PROMPTS_MAX)
    {
        set_err(err, errlen, "too many prompt mappings: %zu, at most %d", pairs,
                AP_PROMPTS_MAX);
        return -1;
    }
    for (size_t i = 1; i < n; i++)
    {
        if (!words[i])
        {
            set_err(err, errlen, "internal error: word %zu missing", i + 1);
            return -1;
        }
        if (check_word(words[i], i % 2 ? "a prompt prefix" : "a prompt value", i, err, errlen) <
            0)
        {
            return -1;
        }
    }
    a->service = strdup(words[0]);
    if (pairs)
    {
        a->prompts = calloc(pairs, sizeof(*a->prompts));
    }
    if (!a->service || (pairs && !a->prompts))
    {
        goto nomem;
    }
    for (size_t i = 0; i < pairs; i++)
    {
        struct ap_prompt *p = &a->prompts[i];
        a->n_prompts = i + 1;
        p->prefix = strdup(words[1 + 2 * i]);
        p->value = strdup(words[2 + 2 * i]);
        if (!p->prefix || !p->value || parse_value(p) < 0)
        {
            goto nomem;
        }
    }
    return 0;

nomem:
    ap_args_free(a);
    set_err(err, errlen, "out of memory");
    return -1;
}

/* -------------------------------------------------------------- options */

static const char *const no_sections[] = {NULL};

static const char *const loss_choices[] = {"temp", "restart", NULL};

static const struct ovp_cfg_key conf_keys[] = {
    {.name = "workers",
     .type = OVP_CFG_INT,
     .def = "16",
     .offset = offsetof(struct ap_conf, workers),
     .min = 1,
     .max = 1024,
     .help = "PAM transactions that run at the same time (one process each)"},
    {.name = "queue",
     .type = OVP_CFG_INT,
     .def = "1024",
     .offset = offsetof(struct ap_conf, queue),
     .min = 1,
     .max = 1000000,
     .help = "authentications waiting or running before new ones fail with TEMP"},
    {.name = "timeout",
     .type = OVP_CFG_DURATION,
     .def = "50s",
     .offset = offsetof(struct ap_conf, timeout_ms),
     .min = 100,
     .max = 3600000,
     .help = "longest time for one authentication; keep it below hand-window (60s)"},
    {.name = "token_skip",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct ap_conf, token_skip),
     .help = "accept a client whose auth-gen-token is valid (session_state Authenticated) "
             "without running PAM"},
    {.name = "crtext",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct ap_conf, crtext),
     .help = "challenge text shown to clients that support crtext; their response "
             "answers a second PAM question"},
    {.name = "crtext_prompt",
     .type = OVP_CFG_STRING,
     .offset = offsetof(struct ap_conf, crtext_prompt),
     .help = "prefix of the PAM question the challenge response answers (default: the "
             "question nothing else answers)"},
    {.name = "crtext_echo",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct ap_conf, crtext_echo),
     .help = "the client shows the response while it is typed"},
    {.name = "crtext_timeout",
     .type = OVP_CFG_DURATION,
     .def = "120s",
     .offset = offsetof(struct ap_conf, crtext_timeout_ms),
     .min = 1000,
     .max = 1800000,
     .help = "how long a challenged client has to answer, PAM included"},
    {.name = "any_username",
     .type = OVP_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct ap_conf, any_username),
     .help = "accept a client whatever user PAM authenticated (OpenVPN then goes on with "
             "the username the client chose)"},
    {.name = "per_address",
     .type = OVP_CFG_INT,
     .def = "32",
     .offset = offsetof(struct ap_conf, per_address),
     .min = 1,
     .max = 1000000,
     .help = "authentications in progress from one client address (IPv6: one /64) before "
             "more fail with TEMP"},
    {.name = "per_user",
     .type = OVP_CFG_INT,
     .def = "8",
     .offset = offsetof(struct ap_conf, per_user),
     .min = 1,
     .max = 1000000,
     .help = "authentications in progress for one username before more fail with TEMP"},
    {.name = "crtext_max",
     .type = OVP_CFG_INT,
     .def = "256",
     .offset = offsetof(struct ap_conf, crtext_max),
     .min = 1,
     .max = 1000000,
     .help = "clients shown the challenge and not answering yet before more fail with "
             "TEMP"},
    {.name = "on_helper_loss",
     .type = OVP_CFG_ENUM,
     .def = "temp",
     .offset = offsetof(struct ap_conf, on_helper_loss),
     .choices = loss_choices,
     .help = "when the root helper is lost: temp (every client gets a temporary failure "
             "until OpenVPN is restarted) or restart (OpenVPN is made to reload; without "
             "root it then exits with an error for its supervisor to restart it)"},
    {.name = "inline_wait",
     .type = OVP_CFG_DURATION_US,
     .def = "0",
     .offset = offsetof(struct ap_conf, inline_wait_us),
     .min = 0,
     .max = OVP_DEFER_INLINE_WAIT_MAX_US,
     .help = "how long the auth hook waits for PAM's answer before deferring it; OpenVPN's "
             "event loop (every tunnel) stalls up to that long per authentication, so 10ms "
             "is the limit"},
};
#define N_CONF_KEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

/* 1 when KEY was written on the line (defaults do not count). */
static int
given(const struct ovp_cfg_node *root, const char *key)
{
    for (size_t i = 0; root && i < root->n_entries; i++)
    {
        if (strcasecmp(root->entries[i].key, key) == 0)
        {
            return 1;
        }
    }
    return 0;
}

static int
check_crtext(const struct ovp_cfg_node *root, const struct ap_conf *c, char *err, size_t errlen)
{
    static const char *const needs[] = {"crtext_prompt", "crtext_echo", "crtext_timeout",
                                        "crtext_max"};

    if (!c->crtext)
    {
        for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
        {
            if (given(root, needs[i]))
            {
                set_err(err, errlen,
                        "%s has no effect without crtext=<challenge text>: add crtext or "
                        "remove %s",
                        needs[i], needs[i]);
                return -1;
            }
        }
        return 0;
    }
    /* Why printable: the text becomes one line of the pending file and of a control message. */
    if (!c->crtext[0] || strlen(c->crtext) > AP_CRTEXT_MAX || has_control(c->crtext))
    {
        set_err(err, errlen,
                "bad crtext: the challenge must be 1 to %d bytes of text on one line, without "
                "control characters",
                AP_CRTEXT_MAX);
        return -1;
    }
    if (c->crtext_prompt && (!c->crtext_prompt[0] || strlen(c->crtext_prompt) > AP_WORD_MAX ||
                             has_control(c->crtext_prompt)))
    {
        set_err(err, errlen,
                "bad crtext_prompt \"%s\": it must be the non-empty start of a PAM question "
                "(leave it out to answer the question nothing else answers)",
                c->crtext_prompt[0] && !has_control(c->crtext_prompt) &&
                        strlen(c->crtext_prompt) <= 64
                    ? c->crtext_prompt
                    : "...");
        return -1;
    }
    return 0;
}

void
ap_conf_release(struct ap_conf *c)
{
    if (c)
    {
        ovp_cfg_release(conf_keys, N_CONF_KEYS, c);
    }
}

int
ap_conf_parse(const char *const *words, size_t n, struct ap_conf *c, struct ap_args *a,
              char *err, size_t errlen)
{
    struct ovp_cfg_node *root = NULL;
    size_t consumed = 0;
    int ret = -1;

    if (!c || !a)
    {
        set_err(err, errlen, "internal error: no option storage");
        return -1;
    }
    memset(a, 0, sizeof(*a));
    if (ovp_cfg_parse_words(words, n, &consumed, &root, err, errlen) < 0 ||
        ovp_cfg_bind(root, conf_keys, N_CONF_KEYS, c, no_sections, err, errlen) < 0 ||
        check_crtext(root, c, err, errlen) < 0 ||
        ap_args_parse(words + consumed, n - consumed, a, err, errlen) < 0)
    {
        ap_conf_release(c);
        ap_args_free(a);
        goto cleanup;
    }
    ret = 0;

cleanup:
    ovp_cfg_free(root);
    return ret;
}

/* ------------------------------------------------------------- matching */

int
ap_prompt_matches(const char *prompt, const char *prefix)
{
    if (!prompt || !prefix)
    {
        return 0;
    }
    /* As the bundled plugin: "Password: " and "  password?" both match "password". */
    while (*prompt && !is_alnum_ascii((unsigned char)*prompt))
    {
        prompt++;
    }
    if (!*prompt)
    {
        return 0;
    }
    for (; *prefix; prefix++, prompt++)
    {
        if (!*prompt ||
            lower_ascii((unsigned char)*prompt) != lower_ascii((unsigned char)*prefix))
        {
            return 0;
        }
    }
    return 1;
}

int
ap_prompt_find(const struct ap_args *a, const char *prompt)
{
    if (!a)
    {
        return -1;
    }
    for (size_t i = 0; i < a->n_prompts; i++)
    {
        if (ap_prompt_matches(prompt, a->prompts[i].prefix))
        {
            return (int)i;
        }
    }
    return -1;
}

enum ap_source
ap_classify(const struct ap_args *a, const struct ap_challenge *ch, const char *prompt,
            int echo_off, unsigned passwords_given, int *pair)
{
    int on = ch && ch->enabled;
    int k;

    if (pair)
    {
        *pair = -1;
    }
    if (!a)
    {
        return AP_SRC_NONE;
    }
    if (on && ch->prompt && ap_prompt_matches(prompt, ch->prompt))
    {
        return AP_SRC_CHALLENGE;
    }
    if (a->n_prompts > 0)
    {
        k = ap_prompt_find(a, prompt);
        if (k >= 0)
        {
            if (pair)
            {
                *pair = k;
            }
            return AP_SRC_PAIR;
        }
        return on && !ch->prompt ? AP_SRC_CHALLENGE : AP_SRC_NONE;
    }
    if (!echo_off)
    {
        return AP_SRC_USERNAME;
    }
    if (on && !ch->prompt && passwords_given > 0)
    {
        return AP_SRC_CHALLENGE;
    }
    return AP_SRC_PASSWORD;
}

/* ------------------------------------------------------------- crtext */

int
ap_sso_has(const char *iv_sso, const char *method)
{
    size_t mlen;

    if (!iv_sso || !method || !method[0])
    {
        return 0;
    }
    mlen = strlen(method);
    for (const char *p = iv_sso; *p;)
    {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == mlen && memcmp(p, method, mlen) == 0)
        {
            return 1;
        }
        if (!end)
        {
            break;
        }
        p = end + 1;
    }
    return 0;
}

int
ap_crtext_line(char *buf, size_t len, int echo, const char *text)
{
    int n;

    if (!buf || len == 0 || !text)
    {
        return -1;
    }
    n = snprintf(buf, len, "CR_TEXT:%s:%s", echo ? "E,R" : "R", text);
    if (n < 0 || (size_t)n >= len)
    {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

unsigned
ap_pending_timeout_s(long crtext_timeout_ms)
{
    long s = crtext_timeout_ms > 0 ? (crtext_timeout_ms + 999) / 1000 : 0;
    return (unsigned)s + AP_PENDING_MARGIN_S;
}

/* ------------------------------------------------------------- SCRV1 */

static int
b64_value(unsigned char c)
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

long
ap_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap)
{
    size_t data = inlen, o = 0;
    unsigned long acc = 0;
    int bits = 0;

    if (!in || (!out && outcap))
    {
        return -1;
    }
    /* Padding: at most two '=', only at the end, and only to a multiple of 4. */
    while (data > 0 && in[data - 1] == '=')
    {
        data--;
    }
    if (inlen - data > 2 || (inlen != data && inlen % 4 != 0) || data % 4 == 1)
    {
        return -1;
    }
    for (size_t i = 0; i < data; i++)
    {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
        {
            return -1;
        }
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8)
        {
            bits -= 8;
            if (o >= outcap)
            {
                return -1;
            }
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    /* Leftover bits must be zero: one text, one meaning. */
    if (acc != 0)
    {
        return -1;
    }
    return (long)o;
}

/* Decodes IN[0..LEN) into a malloc'd C string; NULL when malformed or holding a NUL. */
static char *
decode_part(const char *in, size_t len, int *nomem)
{
    size_t cap = len / 4 * 3 + 3;
    unsigned char *buf = malloc(cap + 1);
    long n;

    if (!buf)
    {
        *nomem = 1;
        return NULL;
    }
    n = ap_base64_decode(in, len, buf, cap);
    if (n < 0 || memchr(buf, '\0', (size_t)n))
    {
        ovp_wipe(buf, cap);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return (char *)buf;
}

enum ap_scrv1
ap_scrv1_split(const char *password, char **pw, char **otp)
{
    static const char tag[] = "SCRV1:";
    const char *body, *colon;
    char *p = NULL, *o = NULL;
    int nomem = 0;

    *pw = NULL;
    *otp = NULL;
    if (!password)
    {
        password = "";
    }
    if (strncmp(password, tag, sizeof(tag) - 1) != 0)
    {
        goto keep;
    }
    body = password + sizeof(tag) - 1;
    colon = strchr(body, ':');
    if (colon)
    {
        p = decode_part(body, (size_t)(colon - body), &nomem);
    }
    if (p)
    {
        o = decode_part(colon + 1, strlen(colon + 1), &nomem);
    }
    if (p && o)
    {
        *pw = p;
        *otp = o;
        return AP_SCRV1_SPLIT;
    }
    ovp_free_secret(p);
    if (nomem)
    {
        return AP_SCRV1_NOMEM;
    }
    /* Malformed: the whole text is the password, as with the bundled plugin. */
    *pw = ovp_strdup_secret(password);
    *otp = strdup("");
    if (!*pw || !*otp)
    {
        goto nomem;
    }
    return AP_SCRV1_MALFORMED;

keep:
    *pw = ovp_strdup_secret(password);
    *otp = strdup("");
    if (!*pw || !*otp)
    {
        goto nomem;
    }
    return AP_SCRV1_NONE;

nomem:
    ovp_free_secret(*pw);
    free(*otp);
    *pw = NULL;
    *otp = NULL;
    return AP_SCRV1_NOMEM;
}

long
ap_cr_decode(const char *b64, char *out, size_t cap)
{
    size_t inlen;
    long n;

    if (!b64 || !out || cap == 0)
    {
        return -1;
    }
    out[0] = '\0';
    inlen = strlen(b64);
    /* Why check first: never decode more than fits, and never touch OUT past CAP. */
    if (inlen / 4 * 3 > cap - 1 + 2)
    {
        return -1;
    }
    n = ap_base64_decode(b64, inlen, (unsigned char *)out, cap - 1);
    if (n < 0 || memchr(out, '\0', (size_t)n))
    {
        ovp_wipe(out, cap);
        out[0] = '\0';
        return -1;
    }
    out[n] = '\0';
    return n;
}

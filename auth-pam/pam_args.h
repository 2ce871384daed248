/* pam_args.h: ovp-auth-pam's pure logic: options, prompt mapping, SCRV1, crtext challenge. */
#ifndef OVP_AP_PAM_ARGS_H
#define OVP_AP_PAM_ARGS_H

#include <stddef.h>

/*
 * The plugin line after our key=value options, as OpenVPN's bundled auth-pam
 * takes it:  <service> [<prompt-prefix> <value>]...
 * A prompt matches a prefix when, after skipping the prompt's leading
 * characters that are not ASCII letters or digits, it starts with the prefix,
 * compared case-insensitively (ASCII). The first matching pair wins, so an
 * empty prefix ("") is a catch-all that belongs last.
 *
 * A value is literal text in which the words USERNAME, PASSWORD, COMMONNAME and
 * OTP (upper case, anywhere, also inside other text) are replaced by the
 * client's username, password, certificate common name and static-challenge
 * response. Every occurrence of every word is replaced, left to right
 * ("PASSWORDOTP", "USERNAME@example.org"); there is no escape for a literal
 * placeholder word.
 */

/*
 * Our key=value options, which come before the service on the plugin line
 * (see ovp-auth-pam.8). Bound by ap_conf_parse; release with ap_conf_release.
 */
/* on_helper_loss=: every client gets TEMP, or OpenVPN is made to restart. */
enum
{
    AP_LOSS_TEMP = 0,
    AP_LOSS_RESTART = 1,
};

struct ap_conf
{
    long workers;
    long queue;
    long timeout_ms;
    int token_skip;
    char *crtext;           /* challenge shown to crtext clients; NULL: none */
    char *crtext_prompt;    /* the PAM question it answers; NULL: the default rule */
    int crtext_echo;        /* the client shows the response as typed */
    long crtext_timeout_ms; /* how long a challenged client has, PAM included */
    int any_username;       /* PAM's user need not be the client's username */
    long per_address;       /* requests in flight from one source address (IPv6: /64) */
    long per_user;          /* requests in flight for one username (ASCII case folded) */
    long crtext_max;        /* clients shown the challenge and not yet answering */
    int on_helper_loss;     /* AP_LOSS_*: what losing the root helper does */
    long inline_wait_us;    /* the auth hook waits this long for a verdict (0: never) */
};

/* Longest challenge text (OpenVPN reads pending-file lines of up to 1024 bytes). */
#define AP_CRTEXT_MAX 512
/* Longest challenge response a client may send (decoded bytes). */
#define AP_CR_MAX 1024
/* Seconds added to crtext_timeout in the pending file (see ap_pending_timeout_s). */
#define AP_PENDING_MARGIN_S 10

/* Most prompt/value pairs (the bundled plugin takes 16). */
#define AP_PROMPTS_MAX 64
/* Longest service name, prompt prefix or value on the plugin line. */
#define AP_WORD_MAX 1024

enum ap_part_kind
{
    AP_LIT = 0,
    AP_USERNAME,
    AP_PASSWORD,
    AP_COMMONNAME,
    AP_OTP,
};

/* One piece of a value: literal text, or a placeholder. */
struct ap_part
{
    enum ap_part_kind kind;
    const char *text; /* AP_LIT: points into the prompt's value */
    size_t len;       /* AP_LIT: bytes of text */
};

struct ap_prompt
{
    char *prefix;
    char *value;
    struct ap_part *parts;
    size_t n_parts;
};

struct ap_args
{
    char *service;
    struct ap_prompt *prompts;
    size_t n_prompts;
};

/* What the placeholders stand for in one transaction (borrowed strings, never NULL). */
struct ap_creds
{
    const char *username;
    const char *password;
    const char *common_name;
    const char *otp;
};

/*
 * Parses WORDS (N of them: the service, then pairs) into A, which must be zeroed.
 * Errors (in ERR, naming the word): no service, an empty service or one with a
 * '/' or a control character, an odd number of pair words, more than
 * AP_PROMPTS_MAX pairs, a word longer than AP_WORD_MAX, control characters.
 * Returns 0, or -1 (A is then released). Free with ap_args_free.
 */
int ap_args_parse(const char *const *words, size_t n, struct ap_args *a, char *err,
                  size_t errlen);

/* Releases what ap_args_parse stored in A and zeroes it. NULL-safe. */
void ap_args_free(struct ap_args *a);

/*
 * Parses a whole plugin line after the .so path: our key=value options into C
 * (zeroed by the caller), then the service and pairs into A (zeroed). Checks
 * the options together: crtext must be one line of printable text of at most
 * AP_CRTEXT_MAX bytes; crtext_prompt, crtext_echo, crtext_timeout and
 * crtext_max need crtext; crtext_prompt may not be empty. The PAM helper derives
 * everything it needs from C and A, so every option lives here. Returns 0, or -1 with ERR set (C and
 * A are then released).
 */
int ap_conf_parse(const char *const *words, size_t n, struct ap_conf *c, struct ap_args *a,
                  char *err, size_t errlen);

/* Releases what ap_conf_parse stored in C. NULL-safe. */
void ap_conf_release(struct ap_conf *c);

/* 1 when PROMPT (a PAM message; NULL never matches) matches PREFIX, else 0. */
int ap_prompt_matches(const char *prompt, const char *prefix);

/* Index of the first mapping matching PROMPT, or -1. */
int ap_prompt_find(const struct ap_args *a, const char *prompt);

/* Where the answer to one PAM question comes from. */
enum ap_source
{
    AP_SRC_NONE = 0,  /* nothing answers it: the conversation fails */
    AP_SRC_PAIR,      /* a prompt pair (index in *PAIR) */
    AP_SRC_PASSWORD,  /* default mapping, echo off */
    AP_SRC_USERNAME,  /* default mapping, echo on */
    AP_SRC_CHALLENGE, /* the client's crtext challenge response */
};

/* The challenge as the conversation needs it (borrowed). */
struct ap_challenge
{
    int enabled;        /* crtext= is configured */
    const char *prompt; /* crtext_prompt=, or NULL for the default rule */
};

/*
 * Decides what answers PROMPT (ECHO_OFF: asked with echo off). PASSWORDS_GIVEN
 * counts the questions this transaction already answered with the password.
 * Rules: a question matching crtext_prompt is the challenge; then the pairs, in
 * order; with pairs and no crtext_prompt, a question no pair matches is the
 * challenge. Without pairs: echo on gets the username; echo off gets the
 * password, except that without crtext_prompt any echo-off question after the
 * first is the challenge. CH NULL or disabled: the bundled plugin's rules.
 */
enum ap_source ap_classify(const struct ap_args *a, const struct ap_challenge *ch,
                           const char *prompt, int echo_off, unsigned passwords_given,
                           int *pair);

/* 1 when IV_SSO (comma-separated, may be NULL) names METHOD exactly, as OpenVPN checks. */
int ap_sso_has(const char *iv_sso, const char *method);

/*
 * Writes the third line of the pending file, "CR_TEXT:R:TEXT" or, with ECHO,
 * "CR_TEXT:E,R:TEXT", into BUF. Returns 0, or -1 when it does not fit.
 */
int ap_crtext_line(char *buf, size_t len, int echo, const char *text);

/*
 * The timeout the pending file announces for CRTEXT_TIMEOUT_MS: whole seconds,
 * rounded up, plus AP_PENDING_MARGIN_S, so that OpenVPN (which reads the
 * control file at most every 8 s late in a handshake) sees our own answer before
 * its deadline ends the key.
 */
unsigned ap_pending_timeout_s(long crtext_timeout_ms);

/*
 * Decodes a CLIENT_CRRESPONSE value (base64) into OUT (CAP bytes, NUL
 * terminated). Returns the length, or -1 when it does not decode, holds a NUL
 * byte or is longer than CAP - 1 (CAP at most AP_CR_MAX + 1 makes the limit).
 */
long ap_cr_decode(const char *b64, char *out, size_t cap);

/*
 * Expands P's value with C into a malloc'd string (it may hold the password:
 * free it with ovp_free_secret). NULL when out of memory.
 */
char *ap_expand(const struct ap_prompt *p, const struct ap_creds *c);

/*
 * Describes P's value for a log line without any credential: e.g.
 * PASSWORD+OTP, USERNAME+"@example.org". Cut to fit BUF.
 */
void ap_describe(const struct ap_prompt *p, char *buf, size_t len);

/*
 * 1 when P's value may name the user PAM authenticates: it expands USERNAME,
 * and everything else in it is literal text, so each client username gives a
 * different answer and no client can reach another's through it. 0 for a fixed
 * name, COMMONNAME (one certificate, any username), PASSWORD or OTP (chosen by
 * the client through a secret), or NULL.
 */
int ap_prompt_names_user(const struct ap_prompt *p);

/*
 * Decides whether PAM_USER (the user PAM authenticated and checked; NULL when
 * no module set it) may stand for USERNAME, the name the client sent and
 * OpenVPN goes on using. NAMED (N of them) are the answers this transaction
 * gave from mappings that ap_prompt_names_user accepts. Returns 1 when PAM_USER
 * is USERNAME or one of NAMED; 0 otherwise: nobody was identified, a module
 * changed the user, or the login question was answered with a fixed name, the
 * common name, a secret or the challenge response.
 */
int ap_user_vouched(const char *pam_user, const char *username, const char *const *named,
                    size_t n);

/* Outcomes of ap_scrv1_split. */
enum ap_scrv1
{
    AP_SCRV1_NONE = 0,      /* not "SCRV1:...": *PW is a copy, *OTP is "" */
    AP_SCRV1_SPLIT = 1,     /* *PW and *OTP are the decoded parts */
    AP_SCRV1_MALFORMED = 2, /* looked like SCRV1 but did not decode: *PW is a copy of
                             * the whole password (as the bundled plugin does), *OTP "" */
    AP_SCRV1_NOMEM = -1,    /* nothing allocated */
};

/*
 * Splits OpenVPN's static-challenge password "SCRV1:<base64 password>:<base64
 * response>". Both *PW and *OTP are malloc'd (free with ovp_free_secret) unless
 * AP_SCRV1_NOMEM. A decoded part holding a NUL byte counts as malformed.
 */
enum ap_scrv1 ap_scrv1_split(const char *password, char **pw, char **otp);

/*
 * Decodes standard base64 (RFC 4648 alphabet, '=' padding optional but only at
 * the end, no whitespace) from IN (INLEN bytes) into OUT (OUTCAP bytes).
 * Returns the decoded length, or -1 when malformed or OUT is too small.
 */
long ap_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap);

#endif

/* http_json.h: ovp-auth-http's messages: the request body, the answer, reasons, signatures. */
#ifndef OVP_AH_HTTP_JSON_H
#define OVP_AH_HTTP_JSON_H

#include <stddef.h>

/* Longest reason shown to a client (bytes, a UTF-8 sequence is never cut). */
#define AH_REASON_MAX 200

/* What one request carries besides the envp fields. */
struct ah_body_in
{
    const char *const *envp; /* the event's env (borrowed) */
    unsigned fields;         /* AH_F_* */
    const char *hook;        /* "auth", "client-connect", "status", "crresponse" */
    const char *request_id;  /* sent when AH_F_REQUEST_ID is set (NULL: not sent) */
    int with_password;       /* 0: never send the password, whatever fields says */
    const char *ticket;      /* status / crresponse: the ticket (else NULL) */
    const char *response;    /* crresponse: the client's answer (secret; else NULL) */
};

/*
 * Builds the JSON request body (compact, UTF-8) with jansson: the selected fields,
 * always "hook". A string that is not valid UTF-8 is sent with each bad byte
 * replaced by U+FFFD, and *REPLACED (if not NULL) is set to 1. Returns a malloc'd
 * string (free with ovp_free_secret: it may hold the password), or NULL with ERR.
 */
char *ah_body_build(const struct ah_body_in *in, int *replaced, char *err, size_t errlen);

/* A service's answer, parsed. */
struct ah_answer
{
    char *reason;         /* "reason" (raw; sanitise before use), or NULL */
    char **client_config; /* "client_config" lines, n_config of them */
    size_t n_config;
    char *ticket;      /* "ticket" (202) */
    char *pending_url; /* "pending": {"url": ..., "timeout": s} */
    long pending_timeout;
    char *challenge_text; /* "challenge": {"text": ..., "echo": bool} */
    int challenge_echo;
};

/*
 * Parses BODY (LEN bytes, not NUL-terminated) as a JSON object, strictly: valid
 * UTF-8, no duplicate keys, known members of the right types (unknown members are
 * ignored). Returns 0, or -1 with what is wrong in ERR. Free A with
 * ah_answer_clear in both cases.
 */
int ah_answer_parse(const char *body, size_t len, struct ah_answer *a, char *err,
                    size_t errlen);

/* Frees what ah_answer_parse stored and zeroes A. NULL-safe. */
void ah_answer_clear(struct ah_answer *a);

/*
 * Copies a reason for a client into OUT (OUTLEN bytes): control characters (CR,
 * LF, tabs...) and invalid UTF-8 become spaces, blanks are trimmed, at most
 * AH_REASON_MAX bytes kept, never cutting a UTF-8 sequence. Returns OUT.
 */
char *ah_reason_sanitize(const char *in, char *out, size_t outlen);

/*
 * The request signature: lowercase hex of HMAC-SHA256(KEY, "<TIMESTAMP>.<BODY>")
 * into HEX (65 bytes). Returns 0, or -1 when OpenSSL fails.
 */
int ah_hmac_sign(const char *key, size_t keylen, const char *timestamp, const char *body,
                 size_t bodylen, char hex[65]);

/*
 * Makes the pending file's third line: "OPEN_URL:<url>", "WEB_AUTH::<url>" or
 * "CR_TEXT:R:<text>" ("CR_TEXT:E,R:<text>" with ECHO), with control characters
 * dropped, capped so OpenVPN reads it whole (1,023 bytes a line). METHOD is "openurl", "webauth" or
 * "crtext". Returns 0, or -1 when the result would be cut (URL too long).
 */
int ah_pending_text(const char *method, const char *what, int echo, char *out, size_t outlen);

#endif

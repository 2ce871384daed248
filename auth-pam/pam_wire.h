/* pam_wire.h: ovp-auth-pam's messages between OpenVPN's process and the PAM helper. */
#ifndef OVP_AP_PAM_WIRE_H
#define OVP_AP_PAM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pam_args.h"
#include "privsep.h"

/* Frame types on the helper channel. */
enum
{
    AP_REQ_AUTH = OVP_PRIV_USER, /* unprivileged -> helper: one PAM transaction */
    AP_REP_RESULT,               /* helper or its child -> unprivileged: the outcome */
    AP_REQ_CRRESPONSE,           /* unprivileged -> helper: a client's challenge response */
    AP_REP_WAITING,              /* child -> unprivileged: PAM waits for the client */
};

/* Request flags. */
#define AP_REQF_CRTEXT 1u /* the client was shown the challenge and may answer it */

/*
 * Longest credential field accepted. OpenVPN 2.6 (as Debian builds it, with
 * PKCS#11) reads usernames and passwords of up to 4095 bytes; a static-challenge
 * password carries both parts in base64, so the limit leaves room.
 */
#define AP_FIELD_MAX 16384
/* Longest client context ("[cn@ip:port]") and client address in a request. */
#define AP_WHO_MAX   192
#define AP_RHOST_MAX 64
/* Largest frame on the channel: room for every field at its maximum. */
#define AP_FRAME_MAX (80 * 1024)
_Static_assert(AP_FRAME_MAX >= 8 + 6 * 4 + AP_WHO_MAX + AP_RHOST_MAX + 4 * AP_FIELD_MAX,
               "a request with every field at its maximum must fit in one frame");
/* Longest operator-facing detail text in a reply. */
#define AP_DETAIL_MAX 512

/* One PAM transaction as the sender describes it (borrowed strings). */
struct ap_wire_out
{
    uint32_t flags;      /* AP_REQF_* */
    uint32_t cr_wait_ms; /* AP_REQF_CRTEXT: longest wait for the response */
    const char *who;
    const char *username;
    const char *password;
    const char *common_name;
    const char *otp;
    const char *rhost;
};

/* One PAM transaction as the helper decodes it (malloc'd copies). */
struct ap_wire_req
{
    uint32_t flags;
    uint32_t cr_wait_ms;
    char *who; /* "[cn@ip:port]" for the helper's log lines */
    char *username;
    char *password; /* secret */
    char *common_name;
    char *otp; /* secret */
    char *rhost;
};

/* Longest fail delay a reply may ask for (PAM's pam_fail_delay; pam_unix asks ~2 s). */
#define AP_FAIL_DELAY_MAX_MS 10000

/*
 * A transaction's outcome. On the wire: u32 verdict, i32 pam_status, u32
 * delay_ms, then reason and detail as length-prefixed strings.
 */
struct ap_wire_rep
{
    uint32_t verdict;           /* enum ovp_verdict */
    int32_t pam_status;         /* last PAM return code (PAM_SUCCESS = 0) */
    uint32_t delay_ms;          /* hold a refusal this long before answering (PAM's fail
                                 * delay); at most AP_FAIL_DELAY_MAX_MS, 0 for ALLOW */
    char reason[256];           /* client-visible; "" = generic */
    char detail[AP_DETAIL_MAX]; /* for the log: which step, PAM's message */
};

/*
 * Encodes R into B (whose cap bounds it). Fields must be non-NULL and within
 * their limits. Returns 0, or -1 (B's content is then undefined: wipe it).
 */
int ap_wire_req_encode(struct ovp_priv_buf *b, const struct ap_wire_out *r);

/*
 * Decodes a request payload into malloc'd copies in R (zeroed first). Refuses
 * fields over their limits, NUL bytes inside a field, missing or extra fields.
 * Returns 0, or -1 with nothing allocated. Release with ap_wire_req_clear.
 */
int ap_wire_req_decode(const uint8_t *data, size_t len, struct ap_wire_req *r);

/* Wipes the secrets, frees every field and zeroes R. NULL-safe. */
void ap_wire_req_clear(struct ap_wire_req *r);

/* Reads only the flags of a request payload (the helper forks on them). 0 or -1. */
int ap_wire_req_flags(const uint8_t *data, size_t len, uint32_t *flags);

/* Encodes a reply into BUF (CAP bytes). Returns the length, or -1. */
long ap_wire_rep_encode(const struct ap_wire_rep *r, uint8_t *buf, size_t cap);

/*
 * Decodes a reply payload into R. Refuses an unknown verdict, a delay over
 * AP_FAIL_DELAY_MAX_MS, text over its limit or holding a NUL byte, and trailing
 * bytes. Returns 0 or -1.
 */
int ap_wire_rep_decode(const uint8_t *data, size_t len, struct ap_wire_rep *r);

/*
 * A challenge response (AP_REQ_CRRESPONSE, with the request's id), forwarded
 * unchanged by the helper to the waiting PAM child: u32 status, then the
 * response as one length-prefixed string. The response is a secret.
 */
enum ap_cr_status
{
    AP_CR_OK = 0,        /* the response follows */
    AP_CR_MALFORMED = 1, /* the client sent something that does not decode: fail */
};
#define AP_CR_FRAME_MAX (8 + AP_CR_MAX)
_Static_assert(AP_CR_FRAME_MAX <= 4096, "a response must fit one atomic pipe write");

/* Encodes a response into BUF (CAP bytes). Returns the length, or -1. */
long ap_wire_cr_encode(uint32_t status, const char *resp, size_t len, uint8_t *buf, size_t cap);

/*
 * Decodes a response payload: *RESP points into DATA (*RLEN bytes). Refuses an
 * unknown status, a malformed one that carries bytes, more than AP_CR_MAX bytes,
 * a NUL byte, truncation and trailing bytes. Returns 0 or -1.
 */
int ap_wire_cr_decode(const uint8_t *data, size_t len, uint32_t *status, const uint8_t **resp,
                      size_t *rlen);

/*
 * The helper's configuration (the CONFIG frame at start): OpenVPN's verbosity,
 * whether the crtext challenge is on (it depends on the host), and the plugin's
 * argument words, which the helper parses again with ap_conf_parse. Why words
 * and not a parsed structure: the helper validates them with the same code as
 * the plugin, and trusts nothing it did not check itself.
 */
#define AP_CONFIG_WORDS_MAX 128

/* Encodes the configuration into B. Returns 0, or -1 if it does not fit. */
int ap_wire_config_encode(struct ovp_priv_buf *b, uint32_t verb, uint32_t cr_on,
                          const char *const *words, size_t n);

/*
 * Decodes a configuration into *WORDS (malloc'd, NULL-terminated, *N words).
 * Refuses more than AP_CONFIG_WORDS_MAX words, a word over AP_WORD_MAX bytes or
 * holding a NUL byte, and trailing bytes. Returns 0, or -1 with nothing
 * allocated. Free with ap_wire_words_free.
 */
int ap_wire_config_decode(const uint8_t *data, size_t len, uint32_t *verb, uint32_t *cr_on,
                          char ***words, size_t *n);

/* Frees what ap_wire_config_decode returned. NULL-safe. */
void ap_wire_words_free(char **words);

#endif

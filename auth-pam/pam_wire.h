/* pam_wire.h: ovp-auth-pam's messages between OpenVPN's process and the PAM helper. */
#ifndef OVP_AP_PAM_WIRE_H
#define OVP_AP_PAM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "privsep.h"

/* Frame types on the helper channel. */
enum
{
    AP_REQ_AUTH = OVP_PRIV_USER, /* unprivileged -> helper: one PAM transaction */
    AP_REP_RESULT,               /* helper or its child -> unprivileged: the outcome */
};

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
_Static_assert(AP_FRAME_MAX >= 6 * 4 + AP_WHO_MAX + AP_RHOST_MAX + 4 * AP_FIELD_MAX,
               "a request with every field at its maximum must fit in one frame");
/* Longest operator-facing detail text in a reply. */
#define AP_DETAIL_MAX 512

/* One PAM transaction as the sender describes it (borrowed strings). */
struct ap_wire_out
{
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
    char *who; /* "[cn@ip:port]" for the helper's log lines */
    char *username;
    char *password; /* secret */
    char *common_name;
    char *otp; /* secret */
    char *rhost;
};

/* A transaction's outcome. */
struct ap_wire_rep
{
    uint32_t verdict;           /* enum ovp_verdict */
    int32_t pam_status;         /* last PAM return code (PAM_SUCCESS = 0) */
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

/* Encodes a reply into BUF (CAP bytes). Returns the length, or -1. */
long ap_wire_rep_encode(const struct ap_wire_rep *r, uint8_t *buf, size_t cap);

/*
 * Decodes a reply payload into R. Refuses an unknown verdict, text over its
 * limit or holding a NUL byte, and trailing bytes. Returns 0 or -1.
 */
int ap_wire_rep_decode(const uint8_t *data, size_t len, struct ap_wire_rep *r);

#endif

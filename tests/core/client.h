/* client.h: the client driver: sessions that talk the control protocol to a core. */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "loop.h"

/* What a client claims: certificate name, credentials, peer info, address. */
struct cparams
{
    const char *cn; /* NULL: the username */
    const char *user;
    const char *pass;
    const char *addr; /* claimed real address "ip:port", or NULL */
    const char *serial;
    const char *iv[32]; /* extra peer info lines (replace defaults of the same name) */
    int n_iv;
};

enum cstate
{
    CS_CONNECTING, /* socket connecting, HELLO queued */
    CS_WAITING,    /* HELLO sent, no answer yet */
    CS_CONNECTED,  /* PUSH_REPLY received */
    CS_FAILED,     /* AUTH_FAILED or TLS_ERROR received */
    CS_CLOSED,     /* the connection ended without an answer (or after BYE) */
};

struct csess
{
    struct conn conn;
    struct loop *loop;
    struct timer retry; /* connect again after EAGAIN */
    char *address;
    char *hello; /* the HELLO line, sent on connect */
    char *name;
    enum cstate state;
    int auth_ok; /* AUTH_OK seen */
    int pending; /* AUTH_PENDING seen */
    int tls_error;
    int restart;  /* RESTART seen */
    int reneg_ok; /* RENEG_OK count */
    int closed;   /* the socket is gone */
    char *reason; /* text after AUTH_FAILED, ("" for none) */
    char *push_reply;
    char *info; /* last INFO_PRE text */
    char *addr4, *addr6;
    char *auth_token;
    char *last_err;
    char *password; /* kept for RENEG */
    char **lines;   /* every line received */
    size_t n_lines;
    int keep_lines;
    uint64_t t_start_ns, t_answer_ns;
    void (*on_change)(struct csess *cs); /* state or counters changed */
    void *owner;
    enum cstate seen_state; /* for the owner's bookkeeping */
    int seen_closed;
};

/* Starts connecting to ADDRESS and queues HELLO. NULL only if the socket fails. */
struct csess *csess_new(struct loop *l, const char *address, const char *name,
                        const struct cparams *p, int keep_lines);

/* Frees (closing first). NULL-safe. */
void csess_free(struct csess *cs);

/* Sends RENEG (PASS NULL: the pushed auth-token if any, else the first password). */
void csess_reneg(struct csess *cs, const char *pass);
void csess_bytes(struct csess *cs, uint64_t in, uint64_t out);
void csess_crresponse(struct csess *cs, const char *b64);

/* Says BYE and closes when the server does. */
void csess_bye(struct csess *cs);

/* Drops the connection at once, mid-whatever. */
void csess_hangup(struct csess *cs);

/* "connecting", "waiting", "connected", "AUTH_FAILED,..." etc., for messages. */
const char *csess_describe(const struct csess *cs, char *buf, size_t len);

/* ------------------------------------------------------------- load driver */

struct load_opts
{
    const char *address;
    unsigned long clients;
    struct cparams params;
    int distinct_cn; /* cn = <cn or user>-<index> */
    uint64_t bytes_in, bytes_out;
    uint64_t timeout_ns;
    int expect_ok; /* 1: all connected; 0: all failed */
    unsigned max_connecting;
};

/*
 * Runs the load: every client connects and says HELLO, all wait for an answer;
 * when all have one, connected clients send BYTES and BYE. Returns 0 when every
 * client got the expected answer, 1 otherwise (a summary goes to stderr).
 */
int load_drive(const struct load_opts *o);

#endif

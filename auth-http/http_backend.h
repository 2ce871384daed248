/* http_backend.h: ovp-auth-http's backend thread: libcurl's multi interface. */
#ifndef OVP_AH_HTTP_BACKEND_H
#define OVP_AH_HTTP_BACKEND_H

#include "admit.h"
#include "ccdefer.h"
#include "defer.h"
#include "http_conf.h"
#include "http_json.h"
#include "log.h"

struct ah_backend;

/* What a request is. */
enum
{
    AH_K_ASK = 0, /* auth or client-connect: the first question */
    AH_K_POLL,    /* round two of a 202 "pending": status polls every second */
    AH_K_CR,      /* round two of a 202 "challenge": waits for CLIENT_CRRESPONSE */
};

/* A 202 kept between the two rounds (ah_backend_pending_take). */
struct ah_pending
{
    int challenge;  /* 0: "pending" (web sign-in), 1: "challenge" */
    char *ticket;   /* malloc'd */
    char *what;     /* the URL to open, or the challenge text (malloc'd) */
    int echo;       /* challenge: echo the answer */
    long timeout_s; /* how long the client has */
    int url;        /* index of the URL that answered */
};

/* Frees P's strings. NULL-safe. */
void ah_pending_clear(struct ah_pending *p);

/*
 * One question to the service, built on OpenVPN's thread and owned by the backend
 * once handed over: an auth call (inside a defer request, as its data) or a
 * client-connect call (CCD set).
 */
struct ah_request
{
    char *body; /* JSON (secret: may hold the password) */
    size_t body_len;
    char request_id[24];         /* X-OVP-Request-Id */
    struct ovp_client_id who;    /* for log lines */
    void *client;                /* the client's context (a reference), or NULL */
    void *ccd;                   /* client-connect: the deferral to finish, else NULL */
    void (*unref)(void *client); /* drops CLIENT's reference (may be NULL) */
    int kind;                    /* AH_K_* */
    int url;                     /* AH_K_POLL / AH_K_CR: the URL that gave the 202 */
    long timeout_s;              /* AH_K_POLL / AH_K_CR: the pending timeout */
    char *ticket;                /* AH_K_POLL / AH_K_CR: the service's ticket */
    struct ah_request *next;     /* the backend's submit queue */
    struct ovp_admit_hold adm;   /* auth: the admission counts, given back when freed */
};

/*
 * Frees R (body wiped, client reference dropped through R->unref; a deferral not
 * answered yet is answered TEMP). NULL-safe.
 */
void ah_request_free(struct ah_request *r);

/*
 * Called on the backend thread when the service allowed: CLIENT (from the request)
 * gets CCFG (lines, maybe "") before the answer is written. For auth requests.
 */
typedef void (*ah_store_fn)(void *arg, void *client, const char *ccfg);

/*
 * Creates the backend for CONF (borrowed: it must outlive the backend), taking
 * auth requests from D. No thread yet. Resolves the URLs' host names now (open
 * runs as root, before threads), so libcurl never starts a resolver thread.
 * Returns NULL with ERR set.
 */
struct ah_backend *ah_backend_new(const struct ah_conf *conf, struct ovp_defer *d,
                                  struct ovp_log *log, char *err, size_t errlen);

/* Sets the glue's callbacks (before ah_backend_start). */
void ah_backend_hooks(struct ah_backend *b, ah_store_fn store, void *arg);

/* Starts the one backend thread (ovp_thread_start). Returns 0, or -1 with ERR set. */
int ah_backend_start(struct ah_backend *b, char *err, size_t errlen);

/* Tells the backend thread an auth request was submitted (curl_multi_wakeup). */
void ah_backend_wake(struct ah_backend *b);

/*
 * Hands a client-connect request to the backend (any thread). Returns 0, or -1
 * when MaxInFlight requests are already queued or in flight, or the backend is
 * stopping (R is then still the caller's).
 */
int ah_backend_submit(struct ah_backend *b, struct ah_request *r);

/*
 * Round two of the 202 design (OpenVPN's thread): the 202 kept for a client
 * reconnecting with the same username, password, common name and address, taken
 * (a ticket is used once) into P. Returns 1 when found, 0 when not. Never blocks
 * for long (a mutex and a hash).
 */
int ah_backend_pending_take(struct ah_backend *b, const char *const *envp,
                            struct ah_pending *p);

/*
 * CLIENT_CRRESPONSE (OpenVPN's thread): RESPONSE (secret; copied) answers the
 * challenge of the auth whose control file is ACF. Returns 0, or -1 when out of
 * memory.
 */
int ah_backend_crresponse(struct ah_backend *b, const char *acf, const char *response);

/* Counters for the log at close. */
struct ah_stats
{
    unsigned long requests, allowed, denied, temp, failovers, bad_answers, pending;
};
void ah_backend_stats(struct ah_backend *b, struct ah_stats *st);

/*
 * Stops the thread: requests it holds are answered TEMP, the thread joined
 * (parked for the next open). Safe to call twice. Used as the engine's ops.cancel.
 */
void ah_backend_stop(struct ah_backend *b);

/* Frees B (stopping it first). NULL-safe. */
void ah_backend_free(struct ah_backend *b);

#endif

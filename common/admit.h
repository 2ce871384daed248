/* admit.h: admission caps: authentications in flight per client address and per username. */
#ifndef OVP_ADMIT_H
#define OVP_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "defer.h"
#include "log.h"

/*
 * A fixed-size table of counters keyed by 64-bit keyed hashes (SipHash-2-4
 * under a random seed chosen at open), so that a client can neither make two
 * names collide on purpose nor grow the table: every entry is allocated at
 * creation, and a lookup walks one short chain. Not thread-safe: the caller
 * holds a lock.
 */
struct ovp_admit;

enum ovp_admit_kind
{
    OVP_ADMIT_ADDR = 1, /* a client address; IPv6 counts by its /64 */
    OVP_ADMIT_USER = 2, /* a username; ASCII letters compare without case */
};

/*
 * Creates a table for at most MAX_KEYS distinct keys at once, hashing under
 * SEED (16 bytes). Returns NULL when out of memory. Free with ovp_admit_free.
 */
struct ovp_admit *ovp_admit_new(size_t max_keys, const unsigned char seed[16]);

/* Frees A. NULL-safe. */
void ovp_admit_free(struct ovp_admit *a);

/*
 * The key for TEXT (NUL-terminated, not NULL) of KIND: an address that parses
 * as IPv6 is cut to its first 64 bits (one site or one host's privacy
 * addresses); a username is folded to lower case (ASCII).
 */
uint64_t ovp_admit_key(const struct ovp_admit *a, enum ovp_admit_kind kind, const char *text);

/*
 * Counts one more request under KEY if fewer than CAP are counted now. Returns
 * the entry (>= 0) to give back with ovp_admit_give; -1 when CAP are already
 * counted; -2 when the table has no free entry. *COUNT (may be NULL) receives
 * the count before this call.
 */
int ovp_admit_take(struct ovp_admit *a, uint64_t key, unsigned long cap, unsigned long *count);

/* Counts one request less on ENTRY (from ovp_admit_take); the entry is reused at 0. */
void ovp_admit_give(struct ovp_admit *a, int entry);

/* SipHash-2-4 of DATA (LEN bytes) under the 16-byte KEY (exposed for tests). */
uint64_t ovp_siphash(const unsigned char key[16], const void *data, size_t len);

/* ---------------------------------------------------------------- gate */

/*
 * What the auth plugins use: one table behind a lock with the plugin's two caps,
 * created at open and freed at close after every request is gone. Takes run on
 * OpenVPN's thread; gives may run on any thread (wherever a request is freed).
 */
struct ovp_admit_gate;

/* What ovp_admit_gate_take decided. */
enum ovp_admit_result
{
    OVP_ADMIT_IN = 0,        /* admitted: the hold counts it */
    OVP_ADMIT_OVER_ADDR = 1, /* the address already has its cap in flight */
    OVP_ADMIT_OVER_USER = 2, /* the username already has its cap in flight */
    OVP_ADMIT_FULL = 3,      /* no free entry in the table (sized for the queue) */
};

/*
 * The counts one admitted request holds, kept with the request and given back
 * once, when it is freed (ovp_admit_gate_give). Zero-initialised or
 * OVP_ADMIT_HOLD_INIT: holds nothing.
 */
struct ovp_admit_hold
{
    struct ovp_admit_gate *gate; /* NULL: holds nothing */
    int addr;                    /* table entries, or -1 */
    int user;
};
#define OVP_ADMIT_HOLD_INIT                                                                    \
    {                                                                                          \
        NULL, -1, -1                                                                           \
    }

/*
 * Creates a gate allowing PER_ADDRESS requests in flight per client address and
 * PER_USER per username (both >= 1), sized for MAX_REQUESTS requests in flight
 * at once (the engine's queue). ADDR_CAP and USER_CAP name the settings in
 * messages, with their separator ("per_address=", "MaxPerAddress "; copied).
 * The hash key is random (getrandom). Returns NULL when out of memory.
 */
struct ovp_admit_gate *ovp_admit_gate_new(unsigned long per_address, unsigned long per_user,
                                          size_t max_requests, const char *addr_cap,
                                          const char *user_cap);

/* Frees G. Every hold must have been given back. NULL-safe. */
void ovp_admit_gate_free(struct ovp_admit_gate *g);

/*
 * At a plugin's close, after every request is freed: frees G, unless a request
 * is still counted (a bug): then G is kept (never freed under a hold that may
 * still be given back) and LOG says so. NULL-safe.
 */
void ovp_admit_gate_close(struct ovp_admit_gate *g, struct ovp_log *log);

/*
 * Counts one request from ADDRESS (may be "" or NULL: then only the username
 * counts) for USERNAME (not NULL) in HOLD, unless the address or the username
 * already has its cap in flight. Never allocates. Returns OVP_ADMIT_IN (HOLD
 * filled), or a refusal with MSG (MSGLEN bytes) saying which cap, the count and
 * the address or name with control bytes replaced, e.g. "32 authentications in
 * progress from 192.0.2.7 (per_address=32)"; HOLD then holds nothing.
 */
int ovp_admit_gate_take(struct ovp_admit_gate *g, const char *address, const char *username,
                        struct ovp_admit_hold *hold, char *msg, size_t msglen);

/*
 * Gives back what HOLD counts, and empties it: a second call does nothing.
 * NULL-safe. Any thread.
 */
void ovp_admit_gate_give(struct ovp_admit_hold *hold);

/* Requests counted in G now (tests, and a check at close). */
unsigned long ovp_admit_gate_held(struct ovp_admit_gate *g);

/*
 * The auth hook's admission step for REQ (not submitted yet): counts its address
 * and username in HOLD (kept with REQ's data, given back when REQ is freed).
 * Returns NULL when admitted; else logs one line "authentication refused without
 * WHAT: <which cap>" for REQ's client within the budget LIM (NULL: none) and
 * returns the TEMP reason to refuse with (the caller frees REQ). OpenVPN's thread.
 */
const char *ovp_admit_request(struct ovp_admit_gate *g, const struct ovp_defer_req *req,
                              struct ovp_admit_hold *hold, struct ovp_log *log,
                              struct ovp_log_limit *lim, const char *what);

/*
 * MaxPerAddress and MaxPerUser, the caps' config keys in openvpn-auth-ldap's style
 * (auth-ldap, auth-http), as two entries of a plugin's ovp_cfg_key table (config.h):
 * ADDR_OFF and USER_OFF are the offsets of their long fields.
 */
/* clang-format off */
#define OVP_ADMIT_CFG_KEYS(addr_off, user_off)                                                 \
    {.name = "MaxPerAddress",                                                                  \
     .type = OVP_CFG_INT,                                                                      \
     .def = "32",                                                                              \
     .offset = (addr_off),                                                                     \
     .min = 1,                                                                                 \
     .max = 1000000,                                                                           \
     .help = "authentications in progress from one client address (IPv6: one /64) before "     \
             "more fail with TEMP"},                                                           \
    {.name = "MaxPerUser",                                                                     \
     .type = OVP_CFG_INT,                                                                      \
     .def = "8",                                                                               \
     .offset = (user_off),                                                                     \
     .min = 1,                                                                                 \
     .max = 1000000,                                                                           \
     .help = "authentications in progress for one username before more fail with TEMP"}
/* clang-format on */

/*
 * The client-visible TEMP reason for a refusal RESULT (not OVP_ADMIT_IN): the
 * client is told to try again later.
 */
const char *ovp_admit_reason(int result);

#endif

/* pam_admit.h: ovp-auth-pam's admission counts: requests in flight per address and per user. */
#ifndef OVP_AP_PAM_ADMIT_H
#define OVP_AP_PAM_ADMIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fixed-size table of counters keyed by 64-bit keyed hashes (SipHash-2-4
 * under a random seed chosen at open), so that a client can neither make two
 * names collide on purpose nor grow the table: every entry is allocated at
 * creation, and a lookup walks one short chain. Not thread-safe: the caller
 * holds a lock.
 */
struct ap_admit;

enum ap_admit_kind
{
    AP_ADMIT_ADDR = 1, /* a client address; IPv6 counts by its /64 */
    AP_ADMIT_USER = 2, /* a username; ASCII letters compare without case */
};

/*
 * Creates a table for at most MAX_KEYS distinct keys at once, hashing under
 * SEED (16 bytes). Returns NULL when out of memory. Free with ap_admit_free.
 */
struct ap_admit *ap_admit_new(size_t max_keys, const unsigned char seed[16]);

/* Frees A. NULL-safe. */
void ap_admit_free(struct ap_admit *a);

/*
 * The key for TEXT (NUL-terminated, not NULL) of KIND: an address that parses
 * as IPv6 is cut to its first 64 bits (one site or one host's privacy
 * addresses); a username is folded to lower case (ASCII).
 */
uint64_t ap_admit_key(const struct ap_admit *a, enum ap_admit_kind kind, const char *text);

/*
 * Counts one more request under KEY if fewer than CAP are counted now. Returns
 * the entry (>= 0) to give back with ap_admit_give; -1 when CAP are already
 * counted; -2 when the table has no free entry. *COUNT (may be NULL) receives
 * the count before this call.
 */
int ap_admit_take(struct ap_admit *a, uint64_t key, unsigned long cap, unsigned long *count);

/* Counts one request less on ENTRY (from ap_admit_take); the entry is reused at 0. */
void ap_admit_give(struct ap_admit *a, int entry);

/* SipHash-2-4 of DATA (LEN bytes) under the 16-byte KEY (exposed for tests). */
uint64_t ap_siphash(const unsigned char key[16], const void *data, size_t len);

#endif

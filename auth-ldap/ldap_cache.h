/* ldap_cache.h: ovp-auth-ldap's short cache of answers (off unless CacheTTL is set). */
#ifndef OVP_AL_LDAP_CACHE_H
#define OVP_AL_LDAP_CACHE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fixed number of slots, direct-mapped by a keyed hash of username and password:
 * a newer answer in the same slot replaces the older one, so memory is bounded. A slot holds the username, a 64-bit SipHash-2-4 tag of username and
 * password under a random key made at creation (never the password), the answer
 * and when it expires. Not thread-safe: the backend thread alone uses it.
 */
struct al_cache;

/* SLOTS is rounded up to a power of two. Returns NULL when out of memory. */
struct al_cache *al_cache_new(size_t slots);

/* Frees (wiping the tags). NULL-safe. */
void al_cache_free(struct al_cache *c);

/*
 * The cached answer for USER with PASSWORD at NOW_MS (monotonic): 1 allow, 0 deny,
 * or -1 when there is none (never seen, expired, another password).
 */
int al_cache_get(struct al_cache *c, const char *user, const char *password, int64_t now_ms);

/* Remembers VERDICT (1 allow, 0 deny) for USER with PASSWORD until NOW_MS + TTL_MS. */
void al_cache_put(struct al_cache *c, const char *user, const char *password, int verdict,
                  int64_t ttl_ms, int64_t now_ms);

/* SipHash-2-4 of LEN bytes at IN under the 16-byte KEY (exposed for the unit tests). */
uint64_t al_siphash(const unsigned char key[16], const void *in, size_t len);

#endif

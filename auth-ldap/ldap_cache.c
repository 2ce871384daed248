/* ldap_cache.c: ovp-auth-ldap's short cache of answers (off unless CacheTTL is set). */
#include "ovpbuild.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ldap_cache.h"
#include "secret.h"

struct slot
{
    char *user;
    uint64_t tag;
    int verdict;
    int64_t until_ms;
};

struct al_cache
{
    unsigned char key[16];
    size_t mask;
    struct slot *slots;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
    do                                                                                         \
    {                                                                                          \
        v0 += v1;                                                                              \
        v1 = ROTL(v1, 13);                                                                     \
        v1 ^= v0;                                                                              \
        v0 = ROTL(v0, 32);                                                                     \
        v2 += v3;                                                                              \
        v3 = ROTL(v3, 16);                                                                     \
        v3 ^= v2;                                                                              \
        v0 += v3;                                                                              \
        v3 = ROTL(v3, 21);                                                                     \
        v3 ^= v0;                                                                              \
        v2 += v1;                                                                              \
        v1 = ROTL(v1, 17);                                                                     \
        v1 ^= v2;                                                                              \
        v2 = ROTL(v2, 32);                                                                     \
    } while (0)

static uint64_t
le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
    {
        v = (v << 8) | p[i];
    }
    return v;
}

uint64_t
al_siphash(const unsigned char key[16], const void *in, size_t len)
{
    const unsigned char *m = in;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = (uint64_t)len << 56, mi;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8)
    {
        mi = le64(m + i);
        v3 ^= mi;
        SIPROUND;
        SIPROUND;
        v0 ^= mi;
    }
    for (size_t j = 0; j < left; j++)
    {
        b |= (uint64_t)m[i + j] << (8 * j);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

struct al_cache *
al_cache_new(size_t slots)
{
    struct al_cache *c = calloc(1, sizeof(*c));
    size_t n = 1;

    while (n < slots && n < ((size_t)1 << 24))
    {
        n <<= 1;
    }
    if (!c || !(c->slots = calloc(n, sizeof(*c->slots))))
    {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    /* Why random: names and tags must not be predictable from outside the process. */
    if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key))
    {
        free(c->slots);
        free(c);
        return NULL;
    }
    return c;
}

void
al_cache_free(struct al_cache *c)
{
    if (!c)
    {
        return;
    }
    for (size_t i = 0; i <= c->mask; i++)
    {
        free(c->slots[i].user);
    }
    ovp_wipe(c->slots, (c->mask + 1) * sizeof(*c->slots));
    free(c->slots);
    ovp_wipe(c->key, sizeof(c->key));
    free(c);
}

/* The tag of USER and PASSWORD: both, with a NUL between, under the key. */
static uint64_t
tag_of(const struct al_cache *c, const char *user, const char *password)
{
    size_t ul = strlen(user), pl = strlen(password);
    unsigned char *buf = malloc(ul + pl + 1);
    uint64_t t;

    if (!buf)
    {
        return 0; /* 0 is never stored as a tag: a miss */
    }
    memcpy(buf, user, ul + 1);
    memcpy(buf + ul + 1, password, pl);
    t = al_siphash(c->key, buf, ul + 1 + pl);
    ovp_wipe(buf, ul + pl + 1);
    free(buf);
    return t ? t : 1;
}

/* The slot of a tag: by username and password, so that a refusal of one password does
 * not push out the success of another for the same name. */
static struct slot *
slot_of(const struct al_cache *c, uint64_t tag)
{
    return &c->slots[(tag >> 7) & c->mask];
}

int
al_cache_get(struct al_cache *c, const char *user, const char *password, int64_t now_ms)
{
    uint64_t t = tag_of(c, user, password);
    struct slot *s = slot_of(c, t);

    if (t == 0 || !s->user || strcmp(s->user, user) != 0 || s->until_ms <= now_ms)
    {
        return -1;
    }
    if (!ovp_ct_equal(&t, &s->tag, sizeof(t)))
    {
        return -1;
    }
    return s->verdict;
}

void
al_cache_put(struct al_cache *c, const char *user, const char *password, int verdict,
             int64_t ttl_ms, int64_t now_ms)
{
    uint64_t t = tag_of(c, user, password);
    struct slot *s = slot_of(c, t);

    if (ttl_ms <= 0 || t == 0)
    {
        return;
    }
    if (!s->user || strcmp(s->user, user) != 0)
    {
        char *copy = strdup(user);
        if (!copy)
        {
            return;
        }
        free(s->user);
        s->user = copy;
    }
    s->tag = t;
    s->verdict = verdict;
    s->until_ms = now_ms + ttl_ms;
}

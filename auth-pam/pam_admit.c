/* pam_admit.c: ovp-auth-pam's admission counts: requests in flight per address and per user. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "pam_admit.h"

struct ap_admit_ent
{
    uint64_t key;
    uint32_t count;
    int32_t next; /* next in the bucket's chain or the free list, -1 at the end */
};

struct ap_admit
{
    unsigned char seed[16];
    struct ap_admit_ent *ents;
    int32_t *buckets;
    size_t n_ents;
    size_t mask;
    int32_t free_head;
};

/* ------------------------------------------------------------- SipHash */

struct sip
{
    uint64_t v0, v1, v2, v3;
    uint64_t m; /* bytes not yet compressed, little-endian */
    uint64_t len;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static uint64_t
load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
    {
        v = (v << 8) | p[i];
    }
    return v;
}

static void
sip_init(struct sip *s, const unsigned char key[16])
{
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    s->v0 = k0 ^ 0x736f6d6570736575ull;
    s->v1 = k1 ^ 0x646f72616e646f6dull;
    s->v2 = k0 ^ 0x6c7967656e657261ull;
    s->v3 = k1 ^ 0x7465646279746573ull;
    s->m = 0;
    s->len = 0;
}

static void
sip_compress(struct sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

static void
sip_byte(struct sip *s, unsigned char b)
{
    s->m |= (uint64_t)b << (8 * (s->len & 7));
    s->len++;
    if ((s->len & 7) == 0)
    {
        sip_compress(s, s->m);
        s->m = 0;
    }
}

static uint64_t
sip_final(struct sip *s)
{
    sip_compress(s, (s->len << 56) | s->m);
    s->v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
    {
        sip_round(s);
    }
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t
ap_siphash(const unsigned char key[16], const void *data, size_t len)
{
    const unsigned char *p = data;
    struct sip s;

    sip_init(&s, key);
    for (size_t i = 0; i < len; i++)
    {
        sip_byte(&s, p[i]);
    }
    return sip_final(&s);
}

/* --------------------------------------------------------------- table */

struct ap_admit *
ap_admit_new(size_t max_keys, const unsigned char seed[16])
{
    struct ap_admit *a = calloc(1, sizeof(*a));
    size_t nb = 16;

    if (!a || max_keys == 0 || max_keys > INT32_MAX / 2)
    {
        free(a);
        return NULL;
    }
    while (nb < max_keys)
    {
        nb *= 2;
    }
    memcpy(a->seed, seed, sizeof(a->seed));
    a->n_ents = max_keys;
    a->mask = nb - 1;
    a->ents = calloc(max_keys, sizeof(*a->ents));
    a->buckets = malloc(nb * sizeof(*a->buckets));
    if (!a->ents || !a->buckets)
    {
        ap_admit_free(a);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++)
    {
        a->buckets[i] = -1;
    }
    for (size_t i = 0; i < max_keys; i++)
    {
        a->ents[i].next = i + 1 < max_keys ? (int32_t)(i + 1) : -1;
    }
    a->free_head = 0;
    return a;
}

void
ap_admit_free(struct ap_admit *a)
{
    if (a)
    {
        free(a->ents);
        free(a->buckets);
        free(a);
    }
}

uint64_t
ap_admit_key(const struct ap_admit *a, enum ap_admit_kind kind, const char *text)
{
    unsigned char v6[16];
    struct sip s;

    sip_init(&s, a->seed);
    sip_byte(&s, (unsigned char)kind);
    /* (An IPv4-mapped address is one IPv4 client: all of it counts.) */
    if (kind == AP_ADMIT_ADDR && inet_pton(AF_INET6, text, v6) == 1 &&
        !IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)v6))
    {
        /* Why /64: one site gets a /64 at least, and one host rotates addresses in it. */
        sip_byte(&s, 6);
        for (int i = 0; i < 8; i++)
        {
            sip_byte(&s, v6[i]);
        }
        return sip_final(&s);
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    {
        unsigned char c = *p;
        if (kind == AP_ADMIT_USER && c >= 'A' && c <= 'Z')
        {
            c = (unsigned char)(c - 'A' + 'a');
        }
        sip_byte(&s, c);
    }
    return sip_final(&s);
}

int
ap_admit_take(struct ap_admit *a, uint64_t key, unsigned long cap, unsigned long *count)
{
    int32_t *head = &a->buckets[key & a->mask];
    int32_t i;

    for (i = *head; i >= 0; i = a->ents[i].next)
    {
        if (a->ents[i].key == key)
        {
            break;
        }
    }
    if (count)
    {
        *count = i >= 0 ? a->ents[i].count : 0;
    }
    if (i >= 0)
    {
        if (a->ents[i].count >= cap)
        {
            return -1;
        }
        a->ents[i].count++;
        return i;
    }
    if (cap == 0)
    {
        return -1;
    }
    if (a->free_head < 0)
    {
        return -2;
    }
    i = a->free_head;
    a->free_head = a->ents[i].next;
    a->ents[i].key = key;
    a->ents[i].count = 1;
    a->ents[i].next = *head;
    *head = i;
    return i;
}

void
ap_admit_give(struct ap_admit *a, int entry)
{
    struct ap_admit_ent *e;
    int32_t *pp;

    if (!a || entry < 0 || (size_t)entry >= a->n_ents || a->ents[entry].count == 0)
    {
        return;
    }
    e = &a->ents[entry];
    if (--e->count > 0)
    {
        return;
    }
    for (pp = &a->buckets[e->key & a->mask]; *pp >= 0; pp = &a->ents[*pp].next)
    {
        if (*pp == entry)
        {
            *pp = e->next;
            break;
        }
    }
    e->next = a->free_head;
    a->free_head = entry;
}

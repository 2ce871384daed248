/* admit.c: admission caps: authentications in flight per client address and per username. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "admit.h"
#include "secret.h"
#include "util.h"

struct ovp_admit_ent
{
    uint64_t key;
    uint32_t count;
    int32_t next; /* next in the bucket's chain or the free list, -1 at the end */
};

struct ovp_admit
{
    unsigned char seed[16];
    struct ovp_admit_ent *ents;
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
ovp_siphash(const unsigned char key[16], const void *data, size_t len)
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

struct ovp_admit *
ovp_admit_new(size_t max_keys, const unsigned char seed[16])
{
    struct ovp_admit *a = calloc(1, sizeof(*a));
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
        ovp_admit_free(a);
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
ovp_admit_free(struct ovp_admit *a)
{
    if (a)
    {
        free(a->ents);
        free(a->buckets);
        free(a);
    }
}

uint64_t
ovp_admit_key(const struct ovp_admit *a, enum ovp_admit_kind kind, const char *text)
{
    unsigned char v6[16];
    struct sip s;

    sip_init(&s, a->seed);
    sip_byte(&s, (unsigned char)kind);
    /* (An IPv4-mapped address is one IPv4 client: all of it counts.) */
    if (kind == OVP_ADMIT_ADDR && inet_pton(AF_INET6, text, v6) == 1 &&
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
        if (kind == OVP_ADMIT_USER && c >= 'A' && c <= 'Z')
        {
            c = (unsigned char)(c - 'A' + 'a');
        }
        sip_byte(&s, c);
    }
    return sip_final(&s);
}

int
ovp_admit_take(struct ovp_admit *a, uint64_t key, unsigned long cap, unsigned long *count)
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
ovp_admit_give(struct ovp_admit *a, int entry)
{
    struct ovp_admit_ent *e;
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

/* ---------------------------------------------------------------- gate */

struct ovp_admit_gate
{
    pthread_mutex_t mu;
    struct ovp_admit *tab;
    unsigned long per_address, per_user;
    unsigned long held; /* requests counted (under mu) */
    char addr_cap[32], user_cap[32];
};

struct ovp_admit_gate *
ovp_admit_gate_new(unsigned long per_address, unsigned long per_user, size_t max_requests,
                   const char *addr_cap, const char *user_cap)
{
    struct ovp_admit_gate *g;
    unsigned char seed[16];

    if (per_address == 0 || per_user == 0 || max_requests > INT32_MAX / 4 ||
        !(g = calloc(1, sizeof(*g))))
    {
        return NULL;
    }
    /*
     * Why a random seed: the keys are hashes of names clients choose, and a client
     * that could make them collide could lengthen our chains.
     */
    if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
    {
        uint64_t mix[2] = {ovp_now_ns() ^ (uint64_t)getpid() << 32, (uint64_t)(uintptr_t)g};
        memcpy(seed, mix, sizeof(seed));
    }
    /*
     * Two entries per request (address and user), for every request the engine
     * can own, plus what requests being freed still hold.
     */
    g->tab = ovp_admit_new(2 * max_requests + 128, seed);
    ovp_wipe(seed, sizeof(seed));
    if (!g->tab)
    {
        free(g);
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    g->per_address = per_address;
    g->per_user = per_user;
    snprintf(g->addr_cap, sizeof(g->addr_cap), "%s", addr_cap ? addr_cap : "per_address=");
    snprintf(g->user_cap, sizeof(g->user_cap), "%s", user_cap ? user_cap : "per_user=");
    return g;
}

void
ovp_admit_gate_free(struct ovp_admit_gate *g)
{
    if (g)
    {
        pthread_mutex_destroy(&g->mu);
        ovp_admit_free(g->tab);
        free(g);
    }
}

void
ovp_admit_gate_close(struct ovp_admit_gate *g, struct ovp_log *log)
{
    unsigned long n = ovp_admit_gate_held(g);

    if (n > 0)
    {
        ovp_logf(log, PLOG_ERR,
                 "admission: %lu authentication(s) still counted at close: their table is "
                 "kept (a bug, please report it)",
                 n);
        return;
    }
    ovp_admit_gate_free(g);
}

int
ovp_admit_gate_take(struct ovp_admit_gate *g, const char *address, const char *username,
                    struct ovp_admit_hold *hold, char *msg, size_t msglen)
{
    int has_addr = address && address[0];
    unsigned long na = 0, nu = 0;
    uint64_t ka = 0, ku;
    int ia = -1, iu = -1;
    char text[128];

    hold->gate = NULL;
    hold->addr = hold->user = -1;
    /* (The keys need no lock: the seed never changes after creation.) */
    if (has_addr)
    {
        ka = ovp_admit_key(g->tab, OVP_ADMIT_ADDR, address);
    }
    ku = ovp_admit_key(g->tab, OVP_ADMIT_USER, username);
    pthread_mutex_lock(&g->mu);
    /* (No address in the environment: not counted, rather than all such in one.) */
    if (has_addr)
    {
        ia = ovp_admit_take(g->tab, ka, g->per_address, &na);
    }
    if (ia >= 0 || !has_addr)
    {
        iu = ovp_admit_take(g->tab, ku, g->per_user, &nu);
        if (iu < 0 && ia >= 0)
        {
            ovp_admit_give(g->tab, ia);
        }
    }
    if (iu >= 0)
    {
        g->held++;
        hold->gate = g;
        hold->addr = ia;
        hold->user = iu;
    }
    pthread_mutex_unlock(&g->mu);

    if (iu >= 0)
    {
        return OVP_ADMIT_IN;
    }
    if (ia == -1 && has_addr)
    {
        ovp_copy_printable(text, sizeof(text), address);
        ovp_errf(msg, msglen, "%lu authentications in progress from %s (%s%lu)", na, text,
                 g->addr_cap, g->per_address);
        return OVP_ADMIT_OVER_ADDR;
    }
    if (ia == -2 || iu == -2)
    {
        ovp_errf(msg, msglen, "the admission table is full");
        return OVP_ADMIT_FULL;
    }
    ovp_copy_printable(text, sizeof(text), username);
    ovp_errf(msg, msglen, "%lu authentications in progress for user \"%s\" (%s%lu)", nu, text,
             g->user_cap, g->per_user);
    return OVP_ADMIT_OVER_USER;
}

void
ovp_admit_gate_give(struct ovp_admit_hold *hold)
{
    struct ovp_admit_gate *g = hold ? hold->gate : NULL;

    if (!g)
    {
        return;
    }
    pthread_mutex_lock(&g->mu);
    ovp_admit_give(g->tab, hold->addr);
    ovp_admit_give(g->tab, hold->user);
    g->held--;
    pthread_mutex_unlock(&g->mu);
    hold->gate = NULL;
    hold->addr = hold->user = -1;
}

unsigned long
ovp_admit_gate_held(struct ovp_admit_gate *g)
{
    unsigned long n;

    if (!g)
    {
        return 0;
    }
    pthread_mutex_lock(&g->mu);
    n = g->held;
    pthread_mutex_unlock(&g->mu);
    return n;
}

const char *
ovp_admit_request(struct ovp_admit_gate *g, const struct ovp_defer_req *req,
                  struct ovp_admit_hold *hold, struct ovp_log *log, struct ovp_log_limit *lim,
                  const char *what)
{
    char msg[256];
    int rc = ovp_admit_gate_take(g, req->client_ip, req->username ? req->username : "", hold,
                                 msg, sizeof(msg));

    if (rc == OVP_ADMIT_IN)
    {
        return NULL;
    }
    ovp_logf_client_limited(log, lim, &req->who, PLOG_WARN,
                            "authentication refused without %s: %s", what, msg);
    return ovp_admit_reason(rc);
}

const char *
ovp_admit_reason(int result)
{
    switch (result)
    {
        case OVP_ADMIT_OVER_ADDR:
            return "TEMP: too many authentications in progress from this address, try again "
                   "later";
        case OVP_ADMIT_OVER_USER:
            return "TEMP: too many authentications in progress for this user, try again later";
        default:
            return "TEMP: too many authentications in progress, try again";
    }
}

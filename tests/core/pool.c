/* pool.c: the internal multiplexer: address pool and routing table driving learn-address. */
#include "ovpbuild.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "refcore.h"
#include "session.h"

/* ------------------------------------------------------------ address pool */

struct pool_entry
{
    int in_use;
    unsigned gen;        /* releases so far: tells stale heap items apart */
    time_t last_release; /* 0: never handed out */
    char *cn;            /* who had it last */
    size_t cn_next;      /* next entry in the same CN bucket, or SIZE_MAX */
};

/* A released entry waiting in the heap; ordered by (key, idx). */
struct freed_item
{
    time_t key; /* release time, or 0 with duplicate-cn (then the lowest index wins) */
    size_t idx;
    unsigned gen;
};

#define CN_BUCKETS 4096

struct pool
{
    uint32_t net4, mask4;
    struct in6_addr net6;
    int bits6, has_v6;
    struct pool_entry *e;
    size_t n;
    int duplicate_cn;
    size_t fresh;             /* entries below this were handed out at least once */
    struct freed_item *freed; /* min-heap of released entries (may hold stale items) */
    size_t n_freed, cap_freed;
    size_t cn_head[CN_BUCKETS]; /* CN -> entries that CN had, chained */
};

static size_t
cn_bucket(const char *cn)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *q = (const unsigned char *)cn; *q; q++)
    {
        h = (h ^ *q) * 16777619u;
    }
    return h % CN_BUCKETS;
}

struct pool *
pool_new(uint32_t net4, uint32_t mask4, const struct in6_addr *net6, int bits6, int has_v6,
         int duplicate_cn)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    uint32_t hosts = ~mask4 + 1u; /* addresses in the subnet */

    p->net4 = net4 & mask4;
    p->mask4 = mask4;
    if (net6)
    {
        p->net6 = *net6;
    }
    p->bits6 = bits6;
    p->has_v6 = has_v6;
    p->duplicate_cn = duplicate_cn;
    /* network, server (.1) and broadcast are not handed out */
    p->n = hosts > 3 ? hosts - 3 : 0;
    if (p->n > 1u << 20)
    {
        p->n = 1u << 20;
    }
    p->e = xcalloc(p->n, sizeof(struct pool_entry));
    for (size_t i = 0; i < CN_BUCKETS; i++)
    {
        p->cn_head[i] = SIZE_MAX;
    }
    return p;
}

void
pool_free(struct pool *p)
{
    if (!p)
    {
        return;
    }
    for (size_t i = 0; i < p->n; i++)
    {
        free(p->e[i].cn);
    }
    free(p->e);
    free(p->freed);
    free(p);
}

static void
entry_addrs(const struct pool *p, size_t i, uint32_t *v4, struct in6_addr *v6)
{
    *v4 = p->net4 + 2 + (uint32_t)i;
    if (v6)
    {
        memset(v6, 0, sizeof(*v6));
        if (p->has_v6)
        {
            uint64_t add = 0x1000 + (uint64_t)i;
            int carry = 0;

            *v6 = p->net6;
            /* add to the low 64 bits, big-endian */
            for (int b = 15; b >= 8; b--)
            {
                unsigned sum = v6->s6_addr[b] + (unsigned)(add & 0xff) + (unsigned)carry;

                v6->s6_addr[b] = (uint8_t)sum;
                carry = sum > 0xff;
                add >>= 8;
            }
        }
    }
}

/* Moves entry I from its old CN's chain to CN's. */
static void
set_cn(struct pool *p, size_t i, const char *cn)
{
    struct pool_entry *e = &p->e[i];

    if (e->cn)
    {
        size_t *pp = &p->cn_head[cn_bucket(e->cn)];

        while (*pp != SIZE_MAX && *pp != i)
        {
            pp = &p->e[*pp].cn_next;
        }
        if (*pp == i)
        {
            *pp = e->cn_next;
        }
        free(e->cn);
        e->cn = NULL;
    }
    e->cn_next = SIZE_MAX;
    if (cn)
    {
        size_t b = cn_bucket(cn);

        e->cn = xstrdup(cn);
        e->cn_next = p->cn_head[b];
        p->cn_head[b] = i;
    }
}

static int
item_less(const struct freed_item *a, const struct freed_item *b)
{
    return a->key < b->key || (a->key == b->key && a->idx < b->idx);
}

/* Places IT at hole I or below it, restoring the heap order of the subtree under I. */
static void
heap_sift_down(struct pool *p, size_t i, struct freed_item it)
{
    for (;;)
    {
        size_t c = 2 * i + 1;

        if (c >= p->n_freed)
        {
            break;
        }
        if (c + 1 < p->n_freed && item_less(&p->freed[c + 1], &p->freed[c]))
        {
            c++;
        }
        if (!item_less(&p->freed[c], &it))
        {
            break;
        }
        p->freed[i] = p->freed[c];
        i = c;
    }
    p->freed[i] = it;
}

/*
 * Drops the stale items (entries handed out again, or released again later) and
 * rebuilds the heap. Only best_freed drops them otherwise, and it runs only when a CN
 * has no entry of its own: clients that keep coming back with their names would grow
 * the heap by one item per release for as long as the server runs. At most one item
 * per entry is live, so after this the heap holds at most n.
 */
static void
heap_compact(struct pool *p)
{
    size_t k = 0;

    for (size_t j = 0; j < p->n_freed; j++)
    {
        const struct pool_entry *e = &p->e[p->freed[j].idx];

        if (!e->in_use && e->gen == p->freed[j].gen)
        {
            p->freed[k++] = p->freed[j];
        }
    }
    p->n_freed = k;
    for (size_t j = k / 2; j-- > 0;)
    {
        heap_sift_down(p, j, p->freed[j]);
    }
}

static void
heap_push(struct pool *p, struct freed_item it)
{
    size_t i;

    if (p->n_freed == p->cap_freed && p->n_freed >= p->n)
    {
        heap_compact(p);
    }
    if (p->n_freed == p->cap_freed)
    {
        p->cap_freed = p->cap_freed ? p->cap_freed * 2 : 64;
        p->freed = xrealloc(p->freed, p->cap_freed * sizeof(*p->freed));
    }
    i = p->n_freed++;
    while (i > 0 && item_less(&it, &p->freed[(i - 1) / 2]))
    {
        p->freed[i] = p->freed[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    p->freed[i] = it;
}

static struct freed_item
heap_pop(struct pool *p)
{
    struct freed_item top = p->freed[0], last = p->freed[--p->n_freed];

    if (p->n_freed)
    {
        heap_sift_down(p, 0, last);
    }
    return top;
}

/* The best released entry still free, or SIZE_MAX; stale heap items are dropped. */
static size_t
best_freed(struct pool *p)
{
    while (p->n_freed)
    {
        const struct freed_item *top = &p->freed[0];
        const struct pool_entry *e = &p->e[top->idx];

        if (!e->in_use && e->gen == top->gen)
        {
            return top->idx;
        }
        heap_pop(p);
    }
    return SIZE_MAX;
}

/*
 * ifconfig_pool_find: with duplicate-cn the lowest free entry, at once (released ones
 * included); otherwise the entry this CN had before, else one never handed out (they
 * were "released" at time 0), else the one released earliest (whole seconds, ties to
 * the lowest index).
 */
int
pool_acquire(struct pool *p, const char *cn, uint32_t *v4, struct in6_addr *v6)
{
    size_t pick = SIZE_MAX, f;

    if (!p->duplicate_cn && cn)
    {
        for (size_t i = p->cn_head[cn_bucket(cn)]; i != SIZE_MAX; i = p->e[i].cn_next)
        {
            if (!p->e[i].in_use && strcmp(p->e[i].cn, cn) == 0)
            {
                pick = i;
                break;
            }
        }
    }
    if (pick == SIZE_MAX)
    {
        f = best_freed(p);
        if (p->duplicate_cn)
        {
            pick = f != SIZE_MAX && f < p->fresh ? f : p->fresh < p->n ? p->fresh : f;
        }
        else
        {
            pick = p->fresh < p->n ? p->fresh : f;
        }
    }
    if (pick == SIZE_MAX)
    {
        return -1;
    }
    if (pick == p->fresh)
    {
        p->fresh++;
    }
    p->e[pick].in_use = 1;
    if (!cn || !p->e[pick].cn || strcmp(p->e[pick].cn, cn) != 0)
    {
        set_cn(p, pick, cn);
    }
    entry_addrs(p, pick, v4, v6);
    return (int)pick;
}

void
pool_release(struct pool *p, int handle)
{
    if (handle >= 0 && (size_t)handle < p->n && p->e[handle].in_use)
    {
        struct pool_entry *e = &p->e[handle];
        struct freed_item it;

        e->in_use = 0;
        e->gen++;
        e->last_release = time(NULL);
        it.key = p->duplicate_cn ? 0 : e->last_release;
        it.idx = (size_t)handle;
        it.gen = e->gen;
        heap_push(p, it);
    }
}

uint32_t
pool_server_v4(const struct pool *p)
{
    return p->net4 + 1;
}

uint32_t
pool_netmask(const struct pool *p)
{
    return p->mask4;
}

const struct in6_addr *
pool_server_v6(const struct pool *p)
{
    static struct in6_addr a;

    a = p->net6;
    a.s6_addr[15] |= 1;
    return &a;
}

int
pool_bits6(const struct pool *p)
{
    return p->bits6;
}

int
pool_has_v6(const struct pool *p)
{
    return p->has_v6;
}

/* ----------------------------------------------------------- routing table */

#define RT_BUCKETS      256 /* OpenVPN's default virtual-hash-size */
#define RT_REAP_PER_RUN 16  /* REAP_MIN buckets per pass: 256/256 < 16 */

struct route
{
    char *addr;
    struct route_owner *owner;
    struct route *next;
};

struct rtable
{
    struct route *b[RT_BUCKETS];
    size_t n;
    size_t reap_base;
};

struct route_owner *
route_owner_new(struct inst *mi)
{
    struct route_owner *o = xcalloc(1, sizeof(*o));

    o->refs = 1;
    o->inst = mi;
    return o;
}

static void
owner_unref(struct route_owner *o)
{
    if (o && --o->refs == 0)
    {
        free(o);
    }
}

void
route_owner_halt(struct route_owner *o)
{
    o->halted = 1;
    o->inst = NULL;
    owner_unref(o);
}

struct rtable *
rt_new(void)
{
    return xcalloc(1, sizeof(struct rtable));
}

static void
route_free(struct route *r)
{
    owner_unref(r->owner);
    free(r->addr);
    free(r);
}

void
rt_free(struct rtable *rt)
{
    if (!rt)
    {
        return;
    }
    for (size_t i = 0; i < RT_BUCKETS; i++)
    {
        while (rt->b[i])
        {
            struct route *next = rt->b[i]->next;

            route_free(rt->b[i]);
            rt->b[i] = next;
        }
    }
    free(rt);
}

static size_t
bucket_of(const char *addr)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
    {
        h = (h ^ *p) * 16777619u;
    }
    return h % RT_BUCKETS;
}

int
rt_learn(struct rtable *rt, struct server *srv, struct route_owner *owner, const char *addr)
{
    size_t b = bucket_of(addr);
    struct route *old = NULL;

    for (struct route *r = rt->b[b]; r; r = r->next)
    {
        if (strcmp(r->addr, addr) == 0)
        {
            old = r;
            break;
        }
    }
    if (old && !old->owner->halted && old->owner == owner)
    {
        return 1; /* already ours */
    }
    if (old)
    {
        if (!session_learn_address(srv, owner->inst, "update", addr))
        {
            return 0;
        }
        owner_unref(old->owner);
        old->owner = owner;
        owner->refs++;
        return 1;
    }
    if (!session_learn_address(srv, owner->inst, "add", addr))
    {
        return 0;
    }
    old = xcalloc(1, sizeof(*old));
    old->addr = xstrdup(addr);
    old->owner = owner;
    owner->refs++;
    old->next = rt->b[b];
    rt->b[b] = old;
    rt->n++;
    return 1;
}

static size_t
reap_bucket(struct rtable *rt, struct server *srv, size_t b)
{
    struct route **pp = &rt->b[b];
    size_t n = 0;

    while (*pp)
    {
        struct route *r = *pp;

        if (r->owner->halted)
        {
            session_learn_address(srv, NULL, "delete", r->addr);
            *pp = r->next;
            route_free(r);
            rt->n--;
            n++;
        }
        else
        {
            pp = &r->next;
        }
    }
    return n;
}

size_t
rt_reap(struct rtable *rt, struct server *srv, int all)
{
    size_t n = 0;

    if (all)
    {
        for (size_t b = 0; b < RT_BUCKETS; b++)
        {
            n += reap_bucket(rt, srv, b);
        }
        return n;
    }
    if (rt->reap_base >= RT_BUCKETS)
    {
        rt->reap_base = 0;
    }
    for (size_t b = rt->reap_base; b < rt->reap_base + RT_REAP_PER_RUN && b < RT_BUCKETS; b++)
    {
        n += reap_bucket(rt, srv, b);
    }
    rt->reap_base += RT_REAP_PER_RUN;
    return n;
}

size_t
rt_count(const struct rtable *rt)
{
    return rt->n;
}

/* pool.h: the internal multiplexer: address pool and routing table driving learn-address. */
#ifndef POOL_H
#define POOL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct inst;

/* ------------------------------------------------------------ address pool */

struct pool;

/*
 * A pool over NET4/MASK4 (host order; topology subnet: the server is .1, clients
 * from .2) and, when HAS_V6, NET6/BITS6 (server ::1, clients from ::1000). With
 * DUPLICATE_CN it hands out the lowest free address, as OpenVPN's does with duplicate-cn.
 */
struct pool *pool_new(uint32_t net4, uint32_t mask4, const struct in6_addr *net6, int bits6,
                      int has_v6, int duplicate_cn);
void pool_free(struct pool *p);

/*
 * ifconfig_pool_acquire: a free address, chosen as OpenVPN's ifconfig_pool_find does
 * (pool.c: the one CN had last time, else never used, else released earliest; the
 * lowest free one with duplicate-cn). Returns a handle >= 0 with *V4 / *V6 set, or -1
 * when the pool is exhausted.
 */
int pool_acquire(struct pool *p, const char *cn, uint32_t *v4, struct in6_addr *v6);

/* Gives the address back; CN keeps its claim on it until someone else needs it. */
void pool_release(struct pool *p, int handle);

uint32_t pool_server_v4(const struct pool *p);
uint32_t pool_netmask(const struct pool *p);
const struct in6_addr *pool_server_v6(const struct pool *p);
int pool_bits6(const struct pool *p);
int pool_has_v6(const struct pool *p);

/* ----------------------------------------------------------- routing table */

/* What a route points at: an instance, or a closed one ("halted"). Refcounted. */
struct route_owner
{
    int refs;
    int halted;
    struct inst *inst; /* NULL once halted */
};

struct route_owner *route_owner_new(struct inst *mi);
void route_owner_halt(struct route_owner *o); /* instance closed: drops its reference */

struct rtable;

struct rtable *rt_new(void);

/* Frees the table without calling anything (the server is gone). */
void rt_free(struct rtable *rt);

/*
 * multi_learn_addr: ADDR (printed as OpenVPN prints it) now belongs to OWNER.
 * A route held by a live owner other than OWNER, or by a halted one, is taken
 * over with learn-address "update"; a new one is learned with "add". The route
 * is kept only when the plugins return SUCCESS. Returns 1 when learned.
 */
int rt_learn(struct rtable *rt, struct server *srv, struct route_owner *owner,
             const char *addr);

/*
 * multi_reap_process: deletes routes of halted owners with learn-address
 * "delete" (empty env, no client). ALL = every bucket (shutdown, reload);
 * otherwise the next 16 of the 256 buckets, as OpenVPN's reaper does per second.
 * Returns the number of routes deleted.
 */
size_t rt_reap(struct rtable *rt, struct server *srv, int all);

/* Number of routes in the table. */
size_t rt_count(const struct rtable *rt);

#endif

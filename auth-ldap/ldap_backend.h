/* ldap_backend.h: ovp-auth-ldap's backend thread: libldap's asynchronous API. */
#ifndef OVP_AL_LDAP_BACKEND_H
#define OVP_AL_LDAP_BACKEND_H

#include "ccdefer.h"
#include "defer.h"
#include "ldap_conf.h"
#include "log.h"

struct al_backend;

/*
 * Creates the backend for CONF (borrowed: it must outlive the backend), taking
 * requests from D and logging through LOG. No thread and no connection yet.
 * Returns NULL with ERR set.
 */
struct al_backend *al_backend_new(const struct al_conf *conf, struct ovp_defer *d,
                                  struct ovp_log *log, char *err, size_t errlen);

/*
 * With a client configuration in the config (PushAttribute, IfconfigPushAttribute,
 * <Group> Push): FN(ARG, REQ, CCFG) is called on the backend thread for every
 * authenticated request, before its answer is written, with the directives (lines,
 * possibly "") for client-connect. Set before al_backend_start.
 */
void al_backend_on_allow(struct al_backend *b,
                         void (*fn)(void *arg, struct ovp_defer_req *req, const char *ccfg),
                         void *arg);

/* Starts the one backend thread (ovp_thread_start). Returns 0, or -1 with ERR set. */
int al_backend_start(struct al_backend *b, char *err, size_t errlen);

/* Tells the backend thread a request was submitted (OpenVPN's thread: one write). */
void al_backend_wake(struct al_backend *b);

/*
 * Client-connect of a session whose auth answer did not come from the directory
 * (TokenSkip, or the cache): queues a lookup of USERNAME's client config (user
 * search, then the <Group> searches; no bind) and wakes the backend thread, which
 * answers through CCD (ovp_ccdefer_finish; the directives, or TEMP/DENY with a
 * reason). Takes its own reference to CCD. OpenVPN's thread; never blocks.
 * Returns 0, or -1 with ERR set (queue full, closing, out of memory): CCD untouched.
 */
int al_backend_lookup(struct al_backend *b, struct ovp_ccdefer *ccd, const char *username,
                      const struct ovp_client_id *who, char *err, size_t errlen);

/*
 * 1 while the circuit breaker is open: every directory server failed and none is
 * due for another try. OpenVPN's thread answers TEMP at once then.
 */
int al_backend_all_down(const struct al_backend *b);

/*
 * Stops the thread: requests it holds are answered TEMP, connections closed, the
 * thread joined (parked for the next open). Safe to call twice. Used as the
 * engine's ops.cancel.
 */
void al_backend_stop(struct al_backend *b);

/* Frees B (stopping it first). NULL-safe. */
void al_backend_free(struct al_backend *b);

#endif

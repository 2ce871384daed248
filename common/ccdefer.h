/* ccdefer.h: one deferred client-connect answer (CLIENT_CONNECT_V2 + CLIENT_CONNECT_DEFER_V2). */
#ifndef OVP_CCDEFER_H
#define OVP_CCDEFER_H

#include <openvpn/openvpn-plugin.h>
#include "log.h"

/*
 * OpenVPN 2.6's model (multi.c, multi_client_connect_call_plugin_v2): a
 * CLIENT_CONNECT_V2 call that returns DEFERRED is followed by
 * CLIENT_CONNECT_DEFER_V2 calls (the plugin must have event 14 in its mask, or the
 * client fails) at each of the host's checks of the instance, about every 1-2 s,
 * until one returns SUCCESS (its return_list is read) or ERROR. Each call must
 * return at once.
 *
 * Two facts shape this API:
 * - The host calls every plugin that has the event in its mask, in order, and
 *   frees every return list of a round whose aggregate is DEFERRED. A plugin whose
 *   answer is ready must therefore give it again, in full, at every later
 *   DEFER_V2 call: ovp_ccdefer_poll answers the same way each time it is called
 *   once decided. A plugin that answers CLIENT_CONNECT_V2 synchronously but has
 *   DEFER_V2 in its mask can keep a finished ovp_ccdefer for the same reason
 *   (another plugin may have deferred), or answer DEFER_V2 with SUCCESS and an
 *   empty list (ovp_ccdefer_poll with D NULL).
 * - The per-client context may be freed by OpenVPN (client gone) while the backend
 *   still works on the answer: the object is reference-counted, the last unref
 *   frees it, whichever side that is.
 *
 * Use: CLIENT_CONNECT_V2 does d = ovp_ccdefer_new(ms), keeps d in the per-client
 * context, hands ovp_ccdefer_ref(d) to the backend, and returns
 * ovp_ccdefer_poll(d, ...) (DEFERRED, or the answer when it was already there).
 * The backend calls ovp_ccdefer_finish then ovp_ccdefer_unref. DEFER_V2 returns
 * ovp_ccdefer_poll(d, ...). The client destructor calls ovp_ccdefer_unref.
 */

/* Event mask bits a plugin that defers client-connect needs in its descriptor. */
#define OVP_CCDEFER_EVENTS                                                                     \
    (OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2) |                                   \
     OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2))

/* Deadline used when ovp_ccdefer_new is given 0. */
#define OVP_CCDEFER_DEADLINE_DEFAULT_MS 30000u

struct ovp_ccdefer;

/*
 * A pending answer whose deadline is DEADLINE_MS from now (0: the default). The
 * caller holds the one reference. Returns NULL when out of memory.
 */
struct ovp_ccdefer *ovp_ccdefer_new(unsigned deadline_ms);

/* Takes one more reference (for the backend's work); returns D. NULL-safe. */
struct ovp_ccdefer *ovp_ccdefer_ref(struct ovp_ccdefer *d);

/* Drops one reference; the last one frees (wiping the stored config). NULL-safe. */
void ovp_ccdefer_unref(struct ovp_ccdefer *d);

/*
 * Answers D, from any thread; the first answer wins (a later one, or one after the
 * deadline passed at a poll, is ignored). VERDICT is enum ovp_verdict (defer.h).
 * CCFG_LINES ('\n'-separated client-config directives; empty lines are skipped;
 * may be NULL) counts only for OVP_ALLOW; each line is checked as ovp_ccfg_add
 * checks it, and one bad line turns the answer into a refusal (fail closed).
 * REASON (may be NULL) is said in the poll's log line; it is copied, cut at
 * OVP_REASON_MAX. Never pass a secret in either. Does not log.
 */
void ovp_ccdefer_finish(struct ovp_ccdefer *d, int verdict, const char *ccfg_lines,
                        const char *reason);

/*
 * 1 when D is answered (finish was called, or its deadline passed): the backend
 * may stop working on it. NULL-safe (1).
 */
int ovp_ccdefer_answered(struct ovp_ccdefer *d);

/*
 * For CLIENT_CONNECT_V2 and CLIENT_CONNECT_DEFER_V2, on OpenVPN's thread; never
 * blocks. Returns OPENVPN_PLUGIN_FUNC_DEFERRED while D waits for its answer;
 * OPENVPN_PLUGIN_FUNC_SUCCESS once allowed, with *RETURN_LIST set to a fresh
 * host-owned "config" list (NULL when there are no directives); or
 * OPENVPN_PLUGIN_FUNC_ERROR when refused, the backend failed, a config line was
 * bad, the deadline passed ("client-connect timed out after N ms") or memory ran
 * out. The first poll that sees the outcome logs one line naming WHO (may be
 * NULL) and why; later polls give the same answer without logging again. D NULL:
 * nothing pending for this plugin, SUCCESS with no list. RETURN_LIST may be NULL.
 */
int ovp_ccdefer_poll(struct ovp_ccdefer *d, struct openvpn_plugin_string_list **return_list,
                     struct ovp_log *log, const struct ovp_client_id *who);

#endif

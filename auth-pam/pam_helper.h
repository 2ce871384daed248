/* pam_helper.h: ovp-auth-pam's root side: the helper and its per-request PAM children. */
#ifndef OVP_AP_PAM_HELPER_H
#define OVP_AP_PAM_HELPER_H

#include <stdint.h>
#include <sys/types.h>

#include "pam_args.h"
#include "privsep.h"

struct ap_child;

/*
 * The helper's context, built in the helper program from its CONFIG frame
 * (ap_helper_setup; runtime fields start zeroed).
 */
struct ap_helper
{
    const struct ap_args *args; /* service and prompt mapping (parsed at open) */
    const struct ap_conf *conf; /* the options (ap_conf_parse); new settings come from here */
    unsigned max_children;      /* PAM transactions running at once, at most */
    long timeout_ms;            /* a transaction older than this is killed */
    int verb;                   /* OpenVPN's verbosity: debug lines only from 7 */
    struct ap_challenge challenge; /* crtext: which question the response answers */
    long crtext_timeout_ms;        /* replaces timeout_ms for a challenged client */

    /* helper-side runtime */
    struct ap_child *children;
    unsigned n_children;
    volatile unsigned char *marks; /* shared page: a child marks its reply sent */
    int sigpipe[2];
    pid_t self;
};

/*
 * Fills H from the parsed configuration (ARGS must outlive H). CR_ON: the
 * crtext challenge is on; VERB: OpenVPN's verbosity.
 */
void ap_helper_setup(struct ap_helper *h, const struct ap_conf *conf,
                     const struct ap_args *args, int cr_on, int verb);

/* privsep callbacks: run in the root helper (see pam_helper.c for the design). */
int ap_helper_init(struct ovp_priv_chan *chan, void *ctx);
int ap_helper_answer(struct ovp_priv_chan *chan, void *ctx, const struct ovp_priv_frame *req);
void ap_helper_fini(void *ctx);
void ap_helper_park(struct ovp_priv_chan *chan, void *ctx);

#endif

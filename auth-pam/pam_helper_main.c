/* pam_helper_main.c: ovp-auth-pam-helper, the root helper program ovp-auth-pam execs at open. */
#include "ovpbuild.h"

#include <stdio.h>
#include <stdlib.h>

#include "pam_args.h"
#include "pam_helper.h"
#include "pam_wire.h"
#include "privsep.h"

/*
 * Why a program of its own: it starts with clean libc state (no syslog fd, no
 * lock another thread of OpenVPN held at fork) and only the channel on fd 3.
 * Everything it does comes from the CONFIG frame, parsed here with the plugin's
 * own argument parser: the unprivileged side cannot hand it anything that the
 * plugin line could not say.
 */

/* What the helper's context points into, for the life of the process. */
static struct ap_conf conf;
static struct ap_args args;
static struct ap_helper helper;

static int
helper_init(struct ovp_priv_chan *chan, const uint8_t *config, size_t len, void **ctx,
            char *err, size_t errlen)
{
    uint32_t verb, cr_on;
    char **words = NULL;
    size_t n = 0;

    if (ap_wire_config_decode(config, len, &verb, &cr_on, &words, &n) < 0)
    {
        snprintf(err, errlen, "malformed configuration frame");
        return -1;
    }
    int rc = ap_conf_parse((const char *const *)words, n, &conf, &args, err, errlen);
    ap_wire_words_free(words);
    if (rc < 0)
    {
        return -1;
    }
    ap_helper_setup(&helper, &conf, &args, (int)cr_on, (int)verb);
    *ctx = &helper;
    if (ap_helper_init(chan, &helper) < 0)
    {
        snprintf(err, errlen, "the PAM helper could not set itself up (see the line above)");
        return -1;
    }
    return 0;
}

static void
helper_fini(void *ctx)
{
    ap_helper_fini(ctx);
    ap_args_free(&args);
    ap_conf_release(&conf);
}

int
main(int argc, char **argv)
{
    static const uint16_t permitted[] = {AP_REQ_AUTH, AP_REQ_CRRESPONSE};
    static const struct ovp_priv_helper spec = {
        .name = "PAM helper",
        .permitted = permitted,
        .n_permitted = sizeof(permitted) / sizeof(permitted[0]),
        .max_frame = AP_FRAME_MAX,
        .init = helper_init,
        .answer = ap_helper_answer,
        .fini = helper_fini,
        .park = ap_helper_park,
    };
    return ovp_priv_helper_main(&spec, argc, argv);
}

/* modes.h: the command line as parsed, and the ways ovp-refcore can run. */
#ifndef MODES_H
#define MODES_H

#include <stdint.h>

#include "client.h"
#include "host.h"
#include "server.h"

struct cli
{
    struct server_conf conf;
    int verb;
    int quiet;
    /* load mode */
    unsigned long clients;
    const char *username, *password, *common_name;
    const char *ivs[32];
    int n_iv;
    int expect_ok;
    uint64_t bytes_in, bytes_out;
    uint64_t timeout_ns;
    /* other modes */
    const char *scenario;
    int try_mode;
    int serve;
    const char *drive; /* address of a core to drive */
};

/* Load mode: N clients at once, then one JSON line. Returns the exit status. */
int mode_load(struct host *h, struct cli *c);

/* Drives a core elsewhere (--drive ADDRESS) with the load options. */
int mode_drive(struct cli *c);

/* Runs a story file. Returns the exit status. */
int mode_scenario(struct host *h, struct cli *c);

/* "Try my config": one client from stdin credentials. Returns the exit status. */
int mode_try(struct host *h, struct cli *c);

/* Serves clients until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit status. */
int mode_serve(struct host *h, struct cli *c);

/* Signals noticed by the handlers, consumed by the loops. */
extern volatile int sig_hup, sig_term;
void install_signal_handlers(void);

/* Raises the open files limit to its hard maximum. */
void raise_nofile(void);

#endif

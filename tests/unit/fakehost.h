/* fakehost.h: a fake OpenVPN host for unit tests: callbacks that capture log lines. */
#ifndef OVP_FAKEHOST_H
#define OVP_FAKEHOST_H

#include <stdarg.h>
#include <stddef.h>
#include <openvpn/openvpn-plugin.h>

/* Forgets captured lines and makes the calling thread the host thread. */
void fakehost_reset(void);

/* The host's vlog: records "flags name text" and which thread called. */
void fakehost_vlog(openvpn_plugin_log_flags_t flags, const char *name, const char *fmt,
                   va_list ap) __attribute__((format(printf, 3, 0)));

/* A callbacks struct as OpenVPN 2.6 passes it (log, vlog, memzero, base64). */
extern struct openvpn_plugin_callbacks fakehost_callbacks;

/* Number of captured lines; line I's text (after the host's formatting). */
size_t fakehost_count(void);
const char *fakehost_text(size_t i);
int fakehost_flags(size_t i);
const char *fakehost_name(size_t i);

/* Index of the first captured line containing NEEDLE, or -1. */
int fakehost_find(const char *needle);

/* Calls of the log callbacks from a thread other than the host thread (must be 0). */
unsigned fakehost_foreign_calls(void);

/* Prints all captured lines to stderr (for debugging a failing test). */
void fakehost_dump(void);

#endif

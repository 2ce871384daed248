/* mux.h: the external multiplexer: a loopback listener and the client control protocol. */
#ifndef MUX_H
#define MUX_H

#include <stddef.h>

struct server;
struct conn;
struct mux;

/*
 * Listens on ADDR ("unix:PATH" or "tcp:HOST:PORT", loopback only; NULL: a UNIX
 * socket in DIR). Returns NULL with ERR set.
 */
struct mux *mux_new(struct server *s, const char *addr, const char *dir, char *err,
                    size_t errlen);

/* The address clients use ("unix:/tmp/x/refcore.sock", "tcp:127.0.0.1:40001"). */
const char *mux_address(const struct mux *m);

/* Stops listening, removes a UNIX socket file. NULL-safe. */
void mux_free(struct mux *m);

/* One line from a client: decodes the command and drives its session. */
void mux_on_line(struct conn *c, char *line);

/* Percent-decodes S in place ("%20" -> ' '); a bad escape is kept as is. */
void mux_unescape(char *s);

/*
 * Percent-encodes S for the protocol: '%', space, control bytes and DEL become
 * %XX. Returns a malloc'd string.
 */
char *mux_escape(const char *s);

#endif

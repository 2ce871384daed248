/* session.h: one client instance and its control state machine (ssl_verify.c, multi.c). */
#ifndef SESSION_H
#define SESSION_H

#include <netinet/in.h>
#include <stdint.h>
#include <time.h>

#include "ccopts.h"
#include "conn.h"
#include "host.h"
#include "loop.h"

struct server;
struct route_owner;

/* ks->authenticated */
enum
{
    KS_AUTH_FALSE = 0,
    KS_AUTH_TRUE = 1,
    KS_AUTH_DEFERRED = 2,
};

/* auth_deferred_status.auth_control_status */
enum
{
    ACF_DISABLED = 0,
    ACF_PENDING,
    ACF_SUCCEEDED,
    ACF_FAILED,
};

/* tls_multi->multi_state */
enum
{
    CAS_NOT_CONNECTED = 0,
    CAS_WAITING_AUTH,
    CAS_PENDING,
    CAS_PENDING_DEFERRED,
    CAS_PENDING_DEFERRED_PARTIAL,
    CAS_FAILED,
    CAS_CONNECT_DONE,
};

/* One key's auth: the three files and what the control file said. */
struct key
{
    int live;
    int authenticated;
    char *acf, *apf, *afr; /* auth_control_file, auth_pending_file, auth_failed_reason_file */
    int acf_status;
    uint64_t initial_ns; /* handshake start */
    uint64_t expire_ns;  /* auth_deferred_expire */
    int expired;         /* failed because the deadline passed */
    int watched;         /* the server reports changes of acf (no polling needed) */
};

/* What the client claimed in HELLO (decoded). */
struct hello
{
    const char *cn;
    const char *user;
    const char *pass;
    const char *addr; /* "ip:port" or "[ip6]:port" */
    const char *serial;
    const char *iv[64]; /* peer info lines "IV_X=..." */
    int n_iv;
};

struct inst
{
    struct server *srv;
    uint64_t id;
    struct inst *prev, *next;
    struct conn conn;
    struct envset *es;
    struct host_client pc;
    struct route_owner *owner;
    char ip[64];
    unsigned port;
    int ip6;
    int hello_done;
    char *cn, *username, *peer_info;
    char *locked_cn, *locked_username;
    unsigned iv_proto;
    struct key key[2]; /* [0] primary, [1] the renegotiation in progress */
    uint64_t tas_last_s;
    unsigned tas_n;
    char *client_reason;
    char *auth_token, *auth_token_initial;
    int cas;
    int cc_index;
    char *cc_config_file, *cc_ret_file;
    struct ccopts opts;
    int vaddr;
    int has_v4, has_v6;
    uint32_t v4, v4mask;
    struct in6_addr v6;
    int v6bits;
    uint64_t bytes_in, bytes_out;
    uint64_t created_s;
    time_t created_wall;
    struct timer wakeup;
    uint64_t t_start_ns;
    int resolved;
    int halted;
};

/* multi_create_instance: a client connected on FD from IP:PORT. NULL on failure. */
struct inst *session_new(struct server *s, int fd, const char *ip, unsigned port, int ip6);

/* The client's first message: TLS verify, auth, TLS final, then on to connect. */
void session_hello(struct inst *mi, const struct hello *h);

/* A renegotiation: a new key, TLS verify and auth again with fresh files. */
void session_reneg(struct inst *mi, const char *pass);

/* Data moved through the tunnel (counted for client-disconnect). */
void session_bytes(struct inst *mi, uint64_t received, uint64_t sent);

/* The client answered a challenge (CLIENT_CRRESPONSE). */
void session_crresponse(struct inst *mi, const char *b64);

/* multi_close_instance: the client left (or is being dropped). */
void session_close(struct inst *mi, const char *why);

/* A watched control file of MI changed (--poll fast): look at it now. */
void session_file_changed(struct inst *mi);

/* Ends a halted instance's lingering connection now (server shutdown). */
void session_free_halted(struct inst *mi);

/* Sends one control message to the client. */
void session_send(struct inst *mi, const char *line);

/*
 * learn_address_script: calls LEARN_ADDRESS with OP and ADDR (and the common
 * name) using MI's env and contexts, or an empty env and the server's own
 * contexts when MI is NULL (delete). Returns 1 on SUCCESS.
 */
int session_learn_address(struct server *s, struct inst *mi, const char *op, const char *addr);

#endif

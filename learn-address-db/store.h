/* store.h: the address database writer: a bounded queue, a writer thread, batched commits. */
#ifndef OVP_LAD_STORE_H
#define OVP_LAD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "log.h"

/* What the plugin wants from the store (strings are copied at store_open). */
struct store_config
{
    const char *path;        /* database file */
    const char *instance;    /* this server's name, stored with every row */
    long flush_ms;           /* pending rows are committed at most this long after arrival */
    long busy_ms;            /* one write waits this long on another process's lock */
    long close_ms;           /* store_close retries a failing database this long */
    long retention_days;     /* 0: keep everything */
    size_t queue_size;       /* events waiting for the writer, at most */
    int synchronous_full;    /* PRAGMA synchronous=FULL (survives power loss) */
    const char *run_as_user; /* NULL, or the user OpenVPN drops to: checked at open */
};

/* learn-address operations (the writer adds its own 'reset' when a run ends). */
enum store_op
{
    STORE_ADD,
    STORE_UPDATE,
    STORE_DELETE,
};

/* A client-connect, as copied from the env (all strings may be NULL; copied). */
struct store_session
{
    uint64_t id;
    int64_t connect_ms;
    const char *common_name;
    const char *username;
    const char *real_ip;
    long real_port; /* -1: unknown */
    const char *vaddr4;
    const char *vaddr6;
};

/* A client-disconnect of session ID (0: ignored, never guessed). */
struct store_disconnect
{
    uint64_t id;
    int refused; /* the client never got its address: vaddr4/vaddr6 are cleared */
    int64_t disconnect_ms;
    const char *common_name;
    const char *real_ip; /* at the end (trusted_ip after a float); NULL: unknown */
    long real_port;      /* -1: unknown; both stored only when not the connect's */
    long long bytes_received, bytes_sent, duration_s; /* -1: unknown */
    const char *reason;                               /* "disconnect", "refused" */
};

struct store;

/*
 * Opens the database (creating and migrating it), checks that the run-as user
 * can keep writing there, and starts the writer thread. Call from the host
 * thread at plugin open (before OpenVPN drops privileges). LOG is borrowed and
 * must outlive the store. A read-only or locked database is not an error here:
 * *DEGRADED is set to 1 after logging why, and the writer retries. Returns 0
 * with *OUT set, or -1 after logging why the database cannot be used at all
 * (not SQLite, another application's, a newer schema, no such directory).
 */
int store_open(const struct store_config *cfg, struct ovp_log *log, struct store **out,
               int *degraded);

/*
 * Stops the writer after it has committed everything queued (retrying a
 * failing database for at most close_ms), releases this instance's current
 * addresses and open sessions, and frees S. Lost rows are logged. NULL-safe.
 */
void store_close(struct store *s);

/*
 * Queue one event for the writer: copies everything, never blocks on the
 * database. CN may be NULL (delete: the writer attributes it to the current
 * owner). Returns 0, or -1 when the queue is full (the event is dropped and
 * counted) or out of memory.
 */
int store_address(struct store *s, enum store_op op, const struct addr *a, const char *cn,
                  uint64_t session_id, int64_t t_ms);
int store_connect(struct store *s, const struct store_session *ss);
/* A disconnect with id 0 ends nothing: it is not queued, and 0 is returned. */
int store_disconnect(struct store *s, const struct store_disconnect *sd);

/* A fresh session id, unique across processes sharing a database (host thread only). */
uint64_t store_new_session_id(struct store *s);

/* 1 while the last write attempt failed (the writer is retrying), else 0. */
int store_failing(const struct store *s);

/* Counters since open. */
struct store_stats
{
    unsigned long long queued;    /* accepted by store_* */
    unsigned long long written;   /* committed */
    unsigned long long dropped;   /* refused because the queue was full */
    unsigned long long rejected;  /* refused by the database (logged one by one) */
    unsigned long long commits;   /* transactions */
    unsigned long long failures;  /* failed transaction attempts */
    unsigned long long retention; /* rows deleted by retention */
    size_t waiting;               /* in the queue now */
};
void store_get_stats(const struct store *s, struct store_stats *st);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t store_now_ms(void);

#endif

/* envset.h: an environment set as OpenVPN keeps one per client (newest entry first). */
#ifndef ENVSET_H
#define ENVSET_H

#include <stddef.h>

struct envset;

/* An empty set. */
struct envset *envset_new(void);

/* Frees the set, wiping every string first (as OpenVPN does). NULL-safe. */
void envset_free(struct envset *es);

/* A copy of every entry, in the same order. */
struct envset *envset_clone(const struct envset *es);

/* Sets NAME=VALUE: an older NAME is removed (wiped) and the new entry goes first. */
void envset_set(struct envset *es, const char *name, const char *value);
void envset_setf(struct envset *es, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds a whole "NAME=value" line (peer info), replacing NAME. */
void envset_add_line(struct envset *es, const char *line);

/* Removes NAME, wiping the string. Returns 1 if it was there. */
int envset_del(struct envset *es, const char *name);

/* Removes every entry whose "NAME=value" starts with PREFIX; returns how many. */
int envset_del_prefix(struct envset *es, const char *prefix);

/* Value of NAME, or NULL. Borrowed. */
const char *envset_get(const struct envset *es, const char *name);

/* Number of entries. */
size_t envset_count(const struct envset *es);

/*
 * A NULL-terminated array of the entries ("NAME=value"), newest first, as
 * make_env_array builds it. The strings are borrowed from ES; free the array
 * (only) with free().
 */
const char **envset_array(const struct envset *es);

#endif

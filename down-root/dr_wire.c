/* dr_wire.c: decoding the down-root helper's frames (see dr_wire.h). */
#include "dr_wire.h"

#include <stdlib.h>
#include <string.h>

#include "privsep.h"

int
dr_wire_arg_ok(const uint8_t *s, size_t n)
{
    if (n > DR_ARG_LEN_MAX)
    {
        return 0;
    }
    for (size_t i = 0; i < n; i++)
    {
        if (s[i] < 0x20 || s[i] == 0x7f)
        {
            return 0;
        }
    }
    return 1;
}

int
dr_wire_run_decode(const uint8_t *p, size_t len, struct dr_wire_run *r)
{
    size_t pos;
    memset(r, 0, sizeof(*r));
    if (!p || len < sizeof(r->event) + 1)
    {
        return -1;
    }
    memcpy(&r->event, p, sizeof(r->event));
    pos = sizeof(r->event);
    r->nargs = p[pos++];
    if (r->nargs > DR_ARGS_MAX)
    {
        return -1;
    }
    for (uint8_t i = 0; i < r->nargs; i++)
    {
        if (ovp_priv_unpack(p, len, &pos, &r->arg[i], &r->arg_len[i]) < 0 ||
            !dr_wire_arg_ok(r->arg[i], r->arg_len[i]))
        {
            return -1;
        }
    }
    r->env_pos = pos;
    return 0;
}

int
dr_wire_run_next_env(const uint8_t *p, size_t len, size_t *pos, char **entry)
{
    const uint8_t *s;
    size_t n;
    *entry = NULL;
    if (*pos >= len)
    {
        return 0;
    }
    if (ovp_priv_unpack(p, len, pos, &s, &n) < 0)
    {
        return -1;
    }
    if (memchr(s, '\0', n) || !(*entry = strndup((const char *)s, n)))
    {
        return -2;
    }
    return 1;
}

/* Reads the next string of a CONFIG frame as a malloc'd C string, or NULL. */
static char *
config_str(const uint8_t *p, size_t len, size_t *pos)
{
    const uint8_t *s;
    size_t sl;
    if (ovp_priv_unpack(p, len, pos, &s, &sl) < 0 || memchr(s, '\0', sl))
    {
        return NULL;
    }
    return strndup((const char *)s, sl);
}

/* Reads a count (a 4-byte string) of a CONFIG frame; -1 if malformed or over MAX. */
static long
config_count(const uint8_t *p, size_t len, size_t *pos, uint32_t max)
{
    const uint8_t *s;
    size_t sl;
    uint32_t v;
    if (ovp_priv_unpack(p, len, pos, &s, &sl) < 0 || sl != sizeof(v))
    {
        return -1;
    }
    memcpy(&v, s, sizeof(v));
    return v > max ? -1 : (long)v;
}

/* Reads COUNT strings into a new NULL-terminated array; NULL if one is malformed. */
static char **
config_strv(const uint8_t *p, size_t len, size_t *pos, long count)
{
    char **v = calloc((size_t)count + 1, sizeof(*v));
    for (long i = 0; v && i < count; i++)
    {
        if (!(v[i] = config_str(p, len, pos)))
        {
            for (long j = 0; j < i; j++)
            {
                free(v[j]);
            }
            free(v);
            return NULL;
        }
    }
    return v;
}

static void
strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
    {
        free(v[i]);
    }
    free(v);
}

int
dr_wire_config_decode(const uint8_t *p, size_t len, uint32_t setenv_max,
                      struct dr_wire_config *c)
{
    size_t pos = 0;
    long ns, nw;
    memset(c, 0, sizeof(*c));
    if (!p || !(c->cwd = config_str(p, len, &pos)) ||
        (ns = config_count(p, len, &pos, setenv_max)) < 0 ||
        !(c->setenv = config_strv(p, len, &pos, ns)) ||
        (nw = config_count(p, len, &pos, DR_WORDS_MAX)) < 0 ||
        !(c->words = config_strv(p, len, &pos, nw)) || pos != len)
    {
        dr_wire_config_clear(c);
        return -1;
    }
    c->nsetenv = (size_t)ns;
    c->nwords = (size_t)nw;
    return 0;
}

void
dr_wire_config_clear(struct dr_wire_config *c)
{
    if (!c)
    {
        return;
    }
    free(c->cwd);
    strv_free(c->setenv);
    strv_free(c->words);
    memset(c, 0, sizeof(*c));
}

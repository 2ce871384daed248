/* dr_wire.h: the down-root helper's frames, decoded without trusting the sender (pure). */
#ifndef OVP_DR_WIRE_H
#define OVP_DR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DR_WORDS_MAX   64  /* plugin argument words */
#define DR_ARGS_MAX    6   /* OpenVPN's standard script arguments */
#define DR_ARG_LEN_MAX 256 /* one standard argument */

/* A standard script argument: at most DR_ARG_LEN_MAX bytes, no control byte. */
int dr_wire_arg_ok(const uint8_t *s, size_t n);

/*
 * A RUN request (unprivileged side -> root helper): u32 event, u8 argument count,
 * that many standard arguments, then env entries to the end, each a
 * length-prefixed string (common/privsep ovp_priv_pack_str). ARG/ARG_LEN point
 * into the payload.
 */
struct dr_wire_run
{
    uint32_t event;
    uint8_t nargs;
    const uint8_t *arg[DR_ARGS_MAX];
    size_t arg_len[DR_ARGS_MAX];
    size_t env_pos; /* offset of the first env entry */
};

/*
 * Decodes the fixed part of a RUN request. Refuses a short payload, more than
 * DR_ARGS_MAX arguments, one over DR_ARG_LEN_MAX bytes or holding a control
 * byte (NUL included). Returns 0, or -1.
 */
int dr_wire_run_decode(const uint8_t *p, size_t len, struct dr_wire_run *r);

/*
 * The next env entry at *POS as a malloc'd C string (*POS advanced). Returns 1
 * with *ENTRY set, 0 at the end of the payload, -1 when malformed (cut short) and
 * -2 when the entry holds a NUL byte or memory runs out (*ENTRY NULL, *POS
 * advanced past it: the caller may drop it and go on).
 */
int dr_wire_run_next_env(const uint8_t *p, size_t len, size_t *pos, char **entry);

/*
 * The helper's configuration (the CONFIG frame at start): the working directory
 * at open ("" when unknown), the setenv variables, the plugin's argument words;
 * each a length-prefixed string, counts as 4-byte strings.
 */
struct dr_wire_config
{
    char *cwd;
    char **setenv; /* NULL-terminated */
    size_t nsetenv;
    char **words; /* NULL-terminated */
    size_t nwords;
};

/*
 * Decodes a CONFIG frame into malloc'd copies. Refuses more than SETENV_MAX
 * setenv entries or DR_WORDS_MAX words, a NUL byte in a string, truncation and
 * trailing bytes. Returns 0, or -1 with nothing allocated.
 */
int dr_wire_config_decode(const uint8_t *p, size_t len, uint32_t setenv_max,
                          struct dr_wire_config *c);

/* Frees what dr_wire_config_decode returned and zeroes C. NULL-safe. */
void dr_wire_config_clear(struct dr_wire_config *c);

#endif

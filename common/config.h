/* config.h: one configuration grammar and a declarative key table for every plugin. */
#ifndef OVP_CONFIG_H
#define OVP_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Grammar (that of openvpn-auth-ldap, so its files load unchanged):
 *   # comment                      whole-line or after a value
 *   Key value words                value = rest of the line, trimmed
 *   Key "quoted value"             \" and \\ escapes inside quotes; '#' kept
 *   <Section>  ...  </Section>     nested blocks; a section may repeat
 * or, inline on the plugin line, words of the form key=value (top level only).
 * Keys and section names match case-insensitively. Lines may be at most
 * OVP_CFG_LINE_MAX bytes; NUL bytes and invalid UTF-8 are errors.
 */
#define OVP_CFG_LINE_MAX  8192
#define OVP_CFG_DEPTH_MAX 8

/* One "Key value" as read, with where it was read. */
struct ovp_cfg_entry
{
    char *key;
    char *value;
    int line; /* 0 for inline words */
    int used; /* set by ovp_cfg_bind */
};

/* A section (or the document root, whose name is NULL). */
struct ovp_cfg_node
{
    char *name;
    const char *file; /* borrowed from the root; "plugin line" for inline words */
    int line;
    struct ovp_cfg_entry *entries;
    size_t n_entries;
    struct ovp_cfg_node *children;
    size_t n_children;
    struct ovp_cfg_node *root; /* the tree's root (a root points to itself) */
    /* The rest is meaningful in the root only. */
    char *file_storage; /* owns the file name */
    int from_file;      /* read by ovp_cfg_parse_file: file_mode and file_uid are set */
    mode_t file_mode;   /* the config file's mode and owner when read (fstat) */
    uid_t file_uid;
    char **warnings; /* see ovp_cfg_warning */
    size_t n_warnings;
};

/*
 * Parses the file at PATH into a fresh tree *ROOT. Returns 0, or -1 with an
 * error "file:line: what" in ERR. The tree is freed with ovp_cfg_free.
 * The file's mode and owner are kept in the root, for ovp_cfg_bind's rule on
 * secrets written inline. Reload after the privilege drop: when PATH cannot be
 * opened with EACCES or EPERM, the effective user is not root, and this process
 * parsed PATH successfully before, the text read then is parsed again (its mode
 * and owner as they were then) and a warning is added to the tree (ovp_cfg_warning):
 * changes to the file need a restart of OpenVPN. Any other failure is an error.
 */
int ovp_cfg_parse_file(const char *path, struct ovp_cfg_node **root, char *err, size_t errlen);

/* Parses an in-memory text (NAME is used in messages). Same contract. */
int ovp_cfg_parse_string(const char *text, size_t len, const char *name,
                         struct ovp_cfg_node **root, char *err, size_t errlen);

/*
 * Parses the leading key=value words of WORDS (N of them) into a tree; stops at
 * the first word without '=' and stores its index in *CONSUMED (N if all).
 * An empty key ("=x") is an error.
 */
int ovp_cfg_parse_words(const char *const *words, size_t n, size_t *consumed,
                        struct ovp_cfg_node **root, char *err, size_t errlen);

/*
 * The usual plugin line: exactly one word without '=' is a config file path
 * (read with ovp_cfg_parse_file); otherwise every word must be key=value.
 * N == 0 gives an empty tree.
 */
int ovp_cfg_parse_args(const char *const *words, size_t n, struct ovp_cfg_node **root,
                       char *err, size_t errlen);

/* Frees a tree from any parse function. NULL-safe. */
void ovp_cfg_free(struct ovp_cfg_node *root);

/* Value types a key table can ask for. */
enum ovp_cfg_type
{
    OVP_CFG_STRING,   /* char * (malloc'd) */
    OVP_CFG_INT,      /* long, checked against [min, max] */
    OVP_CFG_BOOL,     /* int 0/1: yes/no, true/false, on/off, 1/0 */
    OVP_CFG_ENUM,     /* int: index into choices */
    OVP_CFG_DURATION, /* long milliseconds: "250ms", "15s", "2m", "1h", bare = seconds */
    OVP_CFG_SIZE,     /* long bytes: "512", "64k", "16M" */
    /*
     * long microseconds, for short waits: "300us", "2ms", "0", bare = seconds as for
     * DURATION. A value out of [min, max] is reported with the key's help appended,
     * so the help can say why the limit is there.
     */
    OVP_CFG_DURATION_US,
};

/* Flags on a key. */
#define OVP_CFG_REQUIRED      (1u << 0) /* must be given (or its File variant) */
#define OVP_CFG_SECRET        (1u << 1) /* never shown; also accepted as <Key>File */
#define OVP_CFG_FILE_READABLE (1u << 2) /* STRING is a path that must be readable at open */
#define OVP_CFG_MULTI         (1u << 3) /* STRING may repeat: struct ovp_strv */
/* SECRET that may also be given inline on the plugin line: test fixtures only. */
#define OVP_CFG_INLINE_OK (1u << 4)

/* Storage for OVP_CFG_MULTI strings. */
struct ovp_strv
{
    char **v; /* n malloc'd strings, then NULL */
    size_t n;
};

/*
 * Appends one printf-formatted string (cut at 511 bytes) to V, keeping it
 * NULL-terminated; e.g. a plugin's warnings for the log. Returns 0, or -1 when out
 * of memory (V unchanged).
 */
int ovp_strv_addf(struct ovp_strv *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees the strings of V and zeroes it. NULL-safe. */
void ovp_strv_clear(struct ovp_strv *v);

/*
 * One key of a plugin's table. OFFSET is offsetof() into the plugin's config
 * struct; the field's C type follows from TYPE (and MULTI). DEF is a default in
 * the same text form a user would write (NULL: none; the field stays zero/NULL).
 */
struct ovp_cfg_key
{
    const char *name;
    enum ovp_cfg_type type;
    unsigned flags;
    const char *def;
    size_t offset;
    const char *const *choices; /* ENUM: NULL-terminated, case-insensitive */
    long min, max;              /* INT, DURATION, SIZE: inclusive (0, 0 = unbounded) */
    const char *help;           /* one line for messages and --help */
};

/*
 * Binds the entries of NODE to TABLE (N keys) into the struct at BASE:
 * defaults first, then each entry parsed by type. Errors, naming file:line, the
 * key and the value (masked when SECRET) and what would be valid:
 * unknown key (with a "did you mean" hint), duplicate key (unless MULTI), bad
 * value, REQUIRED key missing, both Key and KeyFile given, a FILE_READABLE path
 * that cannot be read, and the rules on secrets:
 *  - a SECRET key written inline on the plugin line (key=value words) is refused
 *    (OpenVPN logs its plugin lines at verb 3 and up), unless OVP_CFG_INLINE_OK;
 *    the message points to <Key>File=PATH and never shows the value;
 *  - a <Key>File is read with ovp_secret_file_load (owner root or the effective
 *    user, no access for others, no write for group: 0600, or 0640 root:nogroup);
 *  - a SECRET key written inline in a config file (ovp_cfg_parse_file) is refused
 *    when that file breaks the same owner and mode rule (others may read it, group
 *    or others may write it, another owner), saying to chmod o-r or use <Key>File.
 * A <Key>File that cannot be read any more after the privilege drop keeps its
 * earlier content with a warning added to the tree (ovp_cfg_warning), as for
 * ovp_cfg_parse_file.
 * Child sections whose names are not in SECTIONS (NULL-terminated, may be NULL)
 * are errors; the caller binds the allowed ones itself.
 * Returns 0, or -1 with the first error in ERR. On error, what was bound stays
 * owned by BASE: release it with ovp_cfg_release.
 */
int ovp_cfg_bind(struct ovp_cfg_node *node, const struct ovp_cfg_key *table, size_t n,
                 void *base, const char *const *sections, char *err, size_t errlen);

/*
 * Warnings gathered by ovp_cfg_parse_file and ovp_cfg_bind in the tree of NODE (any
 * node of it): each says that a file could not be read again after OpenVPN dropped
 * its privileges, that the content read earlier by this process was kept, and that
 * changes to the file need a restart of OpenVPN. The caller logs each one (as a
 * warning) after a successful bind; they never hold a secret. ovp_cfg_warning
 * returns NULL past the end; both accept NULL.
 */
size_t ovp_cfg_warning_count(const struct ovp_cfg_node *node);
const char *ovp_cfg_warning(const struct ovp_cfg_node *node, size_t index);

/* Frees the strings ovp_cfg_bind stored in BASE (secrets wiped first). */
void ovp_cfg_release(const struct ovp_cfg_key *table, size_t n, void *base);

/* Child sections of NODE named NAME (case-insensitive), in order, via index. */
size_t ovp_cfg_count_sections(const struct ovp_cfg_node *node, const char *name);
struct ovp_cfg_node *ovp_cfg_section(struct ovp_cfg_node *node, const char *name, size_t index);

#endif

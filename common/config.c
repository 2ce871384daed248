/* config.c: the configuration grammar, its parse tree, and binding to key tables. */
#include "ovpbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "secret.h"
#include "util.h"

/*
 * Ownership: a parse tree owns every string in it, and wipes all values when freed,
 * because it cannot tell which of them are secrets. ovp_cfg_bind copies what it stores
 * into BASE; the fields it fills must start zeroed (or hold an earlier bind's results),
 * as a stored value frees the one it replaces. ovp_cfg_release frees them again.
 */
/* Largest config file read; far above any real one, it bounds memory on a bad path. */
#define CFG_FILE_MAX (4u * 1024 * 1024)
/* How much of a (non-secret) value an error message shows. */
#define CFG_SHOW_MAX 64
/* Name used in messages for key=value words. */
#define CFG_WORDS_NAME "plugin line"

/* ------------------------------------------------------------------ tree */

static struct ovp_cfg_node *
node_new_root(const char *name)
{
    struct ovp_cfg_node *root = calloc(1, sizeof(*root));

    if (root == NULL)
    {
        return NULL;
    }
    root->file_storage = strdup(name);
    if (root->file_storage == NULL)
    {
        free(root);
        return NULL;
    }
    root->file = root->file_storage;
    root->root = root;
    return root;
}

/* Arrays grow by doubling at powers of two, so no capacity field is needed. */
static int
grow(void **arr, size_t n, size_t elem)
{
    size_t cap;
    void *p;

    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
    {
        return 0;
    }
    cap = n == 0 ? 4 : n * 2;
    if (cap > SIZE_MAX / elem)
    {
        return -1;
    }
    p = realloc(*arr, cap * elem);
    if (p == NULL)
    {
        return -1;
    }
    *arr = p;
    return 0;
}

/* Takes ownership of KEY and VALUE, also on failure. */
static int
node_add_entry(struct ovp_cfg_node *node, char *key, char *value, int line)
{
    struct ovp_cfg_entry *e;

    if (grow((void **)&node->entries, node->n_entries, sizeof(*node->entries)) != 0)
    {
        free(key);
        ovp_free_secret(value);
        return -1;
    }
    e = &node->entries[node->n_entries++];
    e->key = key;
    e->value = value;
    e->line = line;
    e->used = 0;
    return 0;
}

/* Takes ownership of NAME, also on failure. */
static struct ovp_cfg_node *
node_add_child(struct ovp_cfg_node *node, char *name, int line)
{
    struct ovp_cfg_node *c;

    if (grow((void **)&node->children, node->n_children, sizeof(*node->children)) != 0)
    {
        free(name);
        return NULL;
    }
    c = &node->children[node->n_children++];
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->file = node->file;
    c->root = node->root;
    c->line = line;
    return c;
}

static void
node_clear(struct ovp_cfg_node *node)
{
    size_t i;

    for (i = 0; i < node->n_entries; i++)
    {
        free(node->entries[i].key);
        /* The tree cannot know which values are secrets: wipe them all. */
        ovp_free_secret(node->entries[i].value);
    }
    free(node->entries);
    for (i = 0; i < node->n_children; i++)
    {
        node_clear(&node->children[i]);
    }
    free(node->children);
    free(node->name);
}

void
ovp_cfg_free(struct ovp_cfg_node *root)
{
    size_t i;

    if (root == NULL)
    {
        return;
    }
    node_clear(root);
    for (i = 0; i < root->n_warnings; i++)
    {
        free(root->warnings[i]);
    }
    free(root->warnings);
    free(root->file_storage);
    free(root);
}

/* Adds a copy of TEXT to the warnings of NODE's tree. Returns 0 or -1 (out of memory). */
static int
tree_warn(struct ovp_cfg_node *node, const char *text)
{
    struct ovp_cfg_node *root = node != NULL ? node->root : NULL;
    char *copy;

    if (root == NULL)
    {
        return -1;
    }
    copy = strdup(text);
    if (copy == NULL ||
        grow((void **)&root->warnings, root->n_warnings, sizeof(*root->warnings)) != 0)
    {
        free(copy);
        return -1;
    }
    root->warnings[root->n_warnings++] = copy;
    return 0;
}

size_t
ovp_cfg_warning_count(const struct ovp_cfg_node *node)
{
    return node != NULL && node->root != NULL ? node->root->n_warnings : 0;
}

const char *
ovp_cfg_warning(const struct ovp_cfg_node *node, size_t index)
{
    if (index >= ovp_cfg_warning_count(node))
    {
        return NULL;
    }
    return node->root->warnings[index];
}

size_t
ovp_cfg_count_sections(const struct ovp_cfg_node *node, const char *name)
{
    size_t i, count = 0;

    if (node == NULL || name == NULL)
    {
        return 0;
    }
    for (i = 0; i < node->n_children; i++)
    {
        if (strcasecmp(node->children[i].name, name) == 0)
        {
            count++;
        }
    }
    return count;
}

struct ovp_cfg_node *
ovp_cfg_section(struct ovp_cfg_node *node, const char *name, size_t index)
{
    size_t i;

    if (node == NULL || name == NULL)
    {
        return NULL;
    }
    for (i = 0; i < node->n_children; i++)
    {
        if (strcasecmp(node->children[i].name, name) == 0)
        {
            if (index == 0)
            {
                return &node->children[i];
            }
            index--;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- parser */

struct parser
{
    const char *name;
    char *err;
    size_t errlen;
    struct ovp_cfg_node *stack[OVP_CFG_DEPTH_MAX + 1];
    int depth; /* stack[depth] is the node being filled; stack[0] the root */
};

static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n)
    {
        unsigned char c = s[i];
        size_t k, need;
        unsigned long cp;

        if (c < 0x80)
        {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
        {
            need = 1;
            cp = c & 0x1f;
        }
        else if (c >= 0xe0 && c <= 0xef)
        {
            need = 2;
            cp = c & 0x0f;
        }
        else if (c >= 0xf0 && c <= 0xf4)
        {
            need = 3;
            cp = c & 0x07;
        }
        else
        {
            return 0;
        }
        if (n - i <= need)
        {
            return 0;
        }
        for (k = 1; k <= need; k++)
        {
            if ((s[i + k] & 0xc0) != 0x80)
            {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
        {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* 1 when [S, E) is empty, blank, or a comment. */
static int
rest_is_empty(const char *s, const char *e)
{
    while (s < e && is_blank(*s))
    {
        s++;
    }
    return s == e || *s == '#';
}

/* A key as written, checked to be letters, digits, '_', '-' or '.'. */
static char *
dup_key(struct parser *p, int line, const char *k, size_t klen)
{
    size_t i;
    char *key;

    for (i = 0; i < klen; i++)
    {
        if (k[i] == '=')
        {
            /* The word may be "Password=secret": never echo it. */
            ovp_errf(p->err, p->errlen,
                     "%s:%d: a key may not contain '=': in a file write 'Key value' "
                     "(key=value is for the plugin line)",
                     p->name, line);
            return NULL;
        }
        if (!is_name_char(k[i]))
        {
            ovp_errf(p->err, p->errlen,
                     "%s:%d: invalid character in a key: keys are letters, digits, '_', "
                     "'-' and '.'",
                     p->name, line);
            return NULL;
        }
    }
    key = strndup(k, klen);
    if (key == NULL)
    {
        ovp_errf(p->err, p->errlen, "%s:%d: out of memory", p->name, line);
    }
    return key;
}

static int
parse_tag(struct parser *p, int line, const char *s, const char *e)
{
    const char *name;
    size_t nlen;
    int closing = 0;
    struct ovp_cfg_node *top = p->stack[p->depth];

    s++; /* '<' */
    if (s < e && *s == '/')
    {
        closing = 1;
        s++;
    }
    name = s;
    while (s < e && is_name_char(*s))
    {
        s++;
    }
    nlen = (size_t)(s - name);
    if (s == e || *s != '>' || nlen == 0)
    {
        ovp_errf(p->err, p->errlen,
                 "%s:%d: malformed section tag: expected <Name> or </Name> (letters, digits, "
                 "'_', '-', '.')",
                 p->name, line);
        return -1;
    }
    s++;
    if (!rest_is_empty(s, e))
    {
        ovp_errf(p->err, p->errlen,
                 "%s:%d: text after <%s%.*s> on the same line: a section tag must stand "
                 "alone on its line",
                 p->name, line, closing ? "/" : "", (int)nlen, name);
        return -1;
    }
    if (closing)
    {
        if (p->depth == 0)
        {
            ovp_errf(p->err, p->errlen, "%s:%d: stray </%.*s>: no section is open", p->name,
                     line, (int)nlen, name);
            return -1;
        }
        if (strlen(top->name) != nlen || strncasecmp(top->name, name, nlen) != 0)
        {
            ovp_errf(p->err, p->errlen,
                     "%s:%d: </%.*s> does not close <%s> opened at line %d (expected </%s>)",
                     p->name, line, (int)nlen, name, top->name, top->line, top->name);
            return -1;
        }
        p->depth--;
        return 0;
    }
    if (p->depth >= OVP_CFG_DEPTH_MAX)
    {
        ovp_errf(p->err, p->errlen, "%s:%d: <%.*s> nests sections deeper than %d levels",
                 p->name, line, (int)nlen, name, OVP_CFG_DEPTH_MAX);
        return -1;
    }
    {
        char *dup = strndup(name, nlen);
        struct ovp_cfg_node *child;

        child = dup != NULL ? node_add_child(top, dup, line) : NULL;
        if (child == NULL)
        {
            ovp_errf(p->err, p->errlen, "%s:%d: out of memory", p->name, line);
            return -1;
        }
        p->stack[++p->depth] = child;
    }
    return 0;
}

/* A "quoted value" starting at S; '#' and blanks inside are kept. */
static char *
parse_quoted(struct parser *p, int line, const char *key, const char *s, const char *e)
{
    char *out = malloc((size_t)(e - s) + 1);
    size_t n = 0;
    int closed = 0;

    if (out == NULL)
    {
        ovp_errf(p->err, p->errlen, "%s:%d: out of memory", p->name, line);
        return NULL;
    }
    s++; /* opening quote */
    while (s < e)
    {
        if (*s == '"')
        {
            closed = 1;
            s++;
            break;
        }
        if (*s == '\\')
        {
            if (s + 1 == e)
            {
                break;
            }
            if (s[1] != '"' && s[1] != '\\')
            {
                /* The value may be a secret: say what is wrong, not where in it. */
                ovp_errf(p->err, p->errlen,
                         "%s:%d: unknown escape in the quoted value of %s: only \\\" and \\\\ "
                         "may follow a backslash",
                         p->name, line, key);
                goto fail;
            }
            s++;
        }
        out[n++] = *s++;
    }
    if (!closed)
    {
        ovp_errf(p->err, p->errlen,
                 "%s:%d: unterminated quote in the value of %s: the closing \" is missing",
                 p->name, line, key);
        goto fail;
    }
    if (!rest_is_empty(s, e))
    {
        ovp_errf(p->err, p->errlen,
                 "%s:%d: text after the closing quote in the value of %s (only a # comment "
                 "may follow)",
                 p->name, line, key);
        goto fail;
    }
    out[n] = '\0';
    return out;

fail:
    ovp_wipe(out, n);
    free(out);
    return NULL;
}

static int
parse_line(struct parser *p, int line, const char *s, const char *e)
{
    const char *k;
    char *key = NULL;
    char *value = NULL;

    while (s < e && is_blank(*s))
    {
        s++;
    }
    if (s == e || *s == '#')
    {
        return 0;
    }
    if (*s == '<')
    {
        return parse_tag(p, line, s, e);
    }
    k = s;
    while (s < e && !is_blank(*s))
    {
        s++;
    }
    key = dup_key(p, line, k, (size_t)(s - k));
    if (key == NULL)
    {
        return -1;
    }
    while (s < e && is_blank(*s))
    {
        s++;
    }
    if (s == e || *s == '#')
    {
        ovp_errf(p->err, p->errlen,
                 "%s:%d: key %s has no value (for an empty string write %s \"\")", p->name,
                 line, key, key);
        goto fail;
    }
    if (*s == '"')
    {
        value = parse_quoted(p, line, key, s, e);
        if (value == NULL)
        {
            goto fail;
        }
    }
    else
    {
        /* Unquoted: the rest of the line up to a '#', trimmed. */
        const char *v = s;
        const char *hash = memchr(s, '#', (size_t)(e - s));
        const char *ve = hash != NULL ? hash : e;

        while (ve > v && is_blank(ve[-1]))
        {
            ve--;
        }
        value = strndup(v, (size_t)(ve - v));
        if (value == NULL)
        {
            ovp_errf(p->err, p->errlen, "%s:%d: out of memory", p->name, line);
            goto fail;
        }
    }
    if (node_add_entry(p->stack[p->depth], key, value, line) != 0)
    {
        ovp_errf(p->err, p->errlen, "%s:%d: out of memory", p->name, line);
        return -1;
    }
    return 0;

fail:
    free(key);
    return -1;
}

static int
parse_text(struct parser *p, const char *text, size_t len)
{
    size_t pos = 0;
    int line = 0;

    /* A UTF-8 byte order mark, as some editors write, is not part of the first key. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    {
        pos = 3;
    }
    while (pos < len)
    {
        const char *ls = text + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - ls) : len - pos;

        pos += ll + (nl != NULL ? 1 : 0);
        if (line == INT_MAX)
        {
            ovp_errf(p->err, p->errlen, "%s: too many lines", p->name);
            return -1;
        }
        line++;
        if (ll > 0 && ls[ll - 1] == '\r')
        {
            ll--; /* CRLF line ending */
        }
        if (ll > OVP_CFG_LINE_MAX)
        {
            ovp_errf(p->err, p->errlen, "%s:%d: line longer than %d bytes", p->name, line,
                     OVP_CFG_LINE_MAX);
            return -1;
        }
        if (memchr(ls, '\0', ll) != NULL)
        {
            ovp_errf(p->err, p->errlen, "%s:%d: NUL byte in the line (is this a text file?)",
                     p->name, line);
            return -1;
        }
        if (!utf8_valid((const unsigned char *)ls, ll))
        {
            ovp_errf(p->err, p->errlen, "%s:%d: invalid UTF-8 in the line", p->name, line);
            return -1;
        }
        if (parse_line(p, line, ls, ls + ll) != 0)
        {
            return -1;
        }
    }
    if (p->depth > 0)
    {
        const struct ovp_cfg_node *open_node = p->stack[p->depth];
        ovp_errf(p->err, p->errlen, "%s:%d: <%s> is never closed (expected </%s>)", p->name,
                 open_node->line, open_node->name, open_node->name);
        return -1;
    }
    return 0;
}

int
ovp_cfg_parse_string(const char *text, size_t len, const char *name, struct ovp_cfg_node **root,
                     char *err, size_t errlen)
{
    struct parser p;
    struct ovp_cfg_node *tree;

    if (root == NULL)
    {
        ovp_errf(err, errlen, "config: no place for the result");
        return -1;
    }
    *root = NULL;
    if (name == NULL)
    {
        name = "config";
    }
    if (text == NULL && len > 0)
    {
        ovp_errf(err, errlen, "%s: no text", name);
        return -1;
    }
    tree = node_new_root(name);
    if (tree == NULL)
    {
        ovp_errf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    memset(&p, 0, sizeof(p));
    p.name = tree->file;
    p.err = err;
    p.errlen = errlen;
    p.stack[0] = tree;
    if (len > 0 && parse_text(&p, text, len) != 0)
    {
        ovp_cfg_free(tree);
        return -1;
    }
    *root = tree;
    return 0;
}

int
ovp_cfg_parse_file(const char *path, struct ovp_cfg_node **root, char *err, size_t errlen)
{
    struct stat st;
    char warn[1024];
    char *buf = NULL;
    size_t len = 0;
    int fd = -1;
    int kept = 0;
    int rc = -1;

    if (root != NULL)
    {
        *root = NULL;
    }
    if (path == NULL || path[0] == '\0')
    {
        ovp_errf(err, errlen, "config: no file name given");
        goto cleanup;
    }
    /* O_NONBLOCK: a FIFO at PATH must not hang open(); fstat then refuses it. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
    {
        int e = errno;

        /* A reopen after the privilege drop: the text this process parsed before. */
        if (root != NULL && ovp_file_cache_fallback(OVP_FILE_CONFIG, path, e, "config file",
                                                    &buf, &len, &st, warn, sizeof(warn)) == 0)
        {
            kept = 1;
            goto parse;
        }
        ovp_errf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0)
    {
        ovp_errf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto cleanup;
    }
    if (S_ISDIR(st.st_mode))
    {
        ovp_errf(err, errlen, "%s: is a directory, not a config file", path);
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode))
    {
        ovp_errf(err, errlen, "%s: not a regular file", path);
        goto cleanup;
    }
    if (st.st_size > (off_t)CFG_FILE_MAX)
    {
        ovp_errf(err, errlen, "%s: larger than %u bytes", path, CFG_FILE_MAX);
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
    {
        ovp_errf(err, errlen, "%s: out of memory", path);
        goto cleanup;
    }
    /* Read to the size fstat saw; a file growing meanwhile is cut, never overrun. */
    while (len < (size_t)st.st_size)
    {
        ssize_t got = read(fd, buf + len, (size_t)st.st_size - len);
        if (got < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            ovp_errf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto cleanup;
        }
        if (got == 0)
        {
            break;
        }
        len += (size_t)got;
    }

parse:
    rc = ovp_cfg_parse_string(buf, len, path, root, err, errlen);
    if (rc != 0)
    {
        goto cleanup;
    }
    (*root)->from_file = 1;
    (*root)->file_mode = st.st_mode;
    (*root)->file_uid = st.st_uid;
    if (kept)
    {
        if (tree_warn(*root, warn) != 0)
        {
            /* Unreported, a kept config would look like a fresh one: fail instead. */
            ovp_errf(err, errlen, "%s: out of memory", path);
            ovp_cfg_free(*root);
            *root = NULL;
            rc = -1;
        }
    }
    else
    {
        /*
         * Kept for a reopen without root, now that it parsed. A failure to keep it is
         * no error: a later reopen then cannot fall back, and fails as it always did.
         */
        (void)ovp_file_cache_put(OVP_FILE_CONFIG, path, buf, len, &st);
    }

cleanup:
    if (buf != NULL)
    {
        /* The file may hold passwords. */
        ovp_wipe(buf, len);
        free(buf);
    }
    if (fd >= 0)
    {
        close(fd);
    }
    return rc;
}

/* Parses WORDS[0..n) all as key=value into ROOT; STRICT: a word without '=' is an error. */
static int
parse_words_into(struct ovp_cfg_node *root, const char *const *words, size_t n,
                 size_t *consumed, int strict, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++)
    {
        const char *w = words[i];
        const char *eq;
        char *key, *value;
        size_t k;

        if (w == NULL)
        {
            ovp_errf(err, errlen, CFG_WORDS_NAME ": word %zu is missing", i + 1);
            return -1;
        }
        eq = strchr(w, '=');
        if (eq == NULL)
        {
            if (strict)
            {
                ovp_errf(err, errlen,
                         CFG_WORDS_NAME ": word %zu is not key=value (give either one config "
                                        "file path or only key=value words)",
                         i + 1);
                return -1;
            }
            break;
        }
        if (eq == w)
        {
            ovp_errf(err, errlen, CFG_WORDS_NAME ": word %zu has an empty key (\"=...\")",
                     i + 1);
            return -1;
        }
        for (k = 0; w + k < eq; k++)
        {
            if (!is_name_char(w[k]))
            {
                ovp_errf(err, errlen,
                         CFG_WORDS_NAME ": word %zu: invalid character in the key: keys are "
                                        "letters, digits, '_', '-' and '.'",
                         i + 1);
                return -1;
            }
        }
        if (strlen(eq + 1) > OVP_CFG_LINE_MAX)
        {
            ovp_errf(err, errlen, CFG_WORDS_NAME ": %.*s: value longer than %d bytes",
                     (int)(eq - w), w, OVP_CFG_LINE_MAX);
            return -1;
        }
        if (!utf8_valid((const unsigned char *)(eq + 1), strlen(eq + 1)))
        {
            ovp_errf(err, errlen, CFG_WORDS_NAME ": %.*s: invalid UTF-8 in the value",
                     (int)(eq - w), w);
            return -1;
        }
        key = strndup(w, (size_t)(eq - w));
        value = ovp_strdup_secret(eq + 1);
        if (key == NULL || value == NULL)
        {
            free(key);
            ovp_free_secret(value);
            ovp_errf(err, errlen, CFG_WORDS_NAME ": out of memory");
            return -1;
        }
        if (node_add_entry(root, key, value, 0) != 0)
        {
            ovp_errf(err, errlen, CFG_WORDS_NAME ": out of memory");
            return -1;
        }
    }
    if (consumed != NULL)
    {
        *consumed = i;
    }
    return 0;
}

static int
words_common(const char *const *words, size_t n, size_t *consumed, int strict,
             struct ovp_cfg_node **root, char *err, size_t errlen)
{
    struct ovp_cfg_node *tree;

    if (root == NULL)
    {
        ovp_errf(err, errlen, CFG_WORDS_NAME ": no place for the result");
        return -1;
    }
    *root = NULL;
    if (words == NULL && n > 0)
    {
        ovp_errf(err, errlen, CFG_WORDS_NAME ": no words");
        return -1;
    }
    tree = node_new_root(CFG_WORDS_NAME);
    if (tree == NULL)
    {
        ovp_errf(err, errlen, CFG_WORDS_NAME ": out of memory");
        return -1;
    }
    if (parse_words_into(tree, words, n, consumed, strict, err, errlen) != 0)
    {
        ovp_cfg_free(tree);
        return -1;
    }
    *root = tree;
    return 0;
}

int
ovp_cfg_parse_words(const char *const *words, size_t n, size_t *consumed,
                    struct ovp_cfg_node **root, char *err, size_t errlen)
{
    if (consumed != NULL)
    {
        *consumed = 0;
    }
    return words_common(words, n, consumed, 0, root, err, errlen);
}

int
ovp_cfg_parse_args(const char *const *words, size_t n, struct ovp_cfg_node **root, char *err,
                   size_t errlen)
{
    if (n == 1 && words != NULL && words[0] != NULL && strchr(words[0], '=') == NULL)
    {
        return ovp_cfg_parse_file(words[0], root, err, errlen);
    }
    return words_common(words, n, NULL, 1, root, err, errlen);
}

/* ---------------------------------------------------------------- values */

/* Decimal digits with an optional sign into *OUT. -1: not a number, -2: overflow. */
static int
parse_decimal(const char **sp, int allow_sign, long *out)
{
    const char *s = *sp;
    int neg = 0;
    long v = 0;

    if (allow_sign && (*s == '+' || *s == '-'))
    {
        neg = *s == '-';
        s++;
    }
    if (*s < '0' || *s > '9')
    {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++)
    {
        int d = *s - '0';
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, neg ? -d : d, &v))
        {
            return -2;
        }
    }
    *sp = s;
    *out = v;
    return 0;
}

/* Number with an optional unit suffix (after optional blanks), scaled by the unit. */
struct unit
{
    const char *suffix;
    long scale;
};

static const struct unit duration_units[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
};

static const struct unit duration_us_units[] = {
    {"", 1000000}, {"us", 1}, {"ms", 1000}, {"s", 1000000}, {NULL, 0},
};

static const struct unit size_units[] = {
    {"", 1}, {"k", 1024L}, {"M", 1024L * 1024}, {"G", 1024L * 1024 * 1024}, {NULL, 0},
};

static int
parse_scaled(const char *s, const struct unit *units, long *out)
{
    long v, r;
    int rc = parse_decimal(&s, 0, &v);

    if (rc != 0)
    {
        return rc;
    }
    while (is_blank(*s))
    {
        s++;
    }
    for (; units->suffix != NULL; units++)
    {
        if (strcasecmp(s, units->suffix) == 0)
        {
            if (__builtin_mul_overflow(v, units->scale, &r))
            {
                return -2;
            }
            *out = r;
            return 0;
        }
    }
    return -1;
}

/* Shows LONG V in the unit of UNITS (biggest exact one) for range messages. */
static void
fmt_scaled(char *buf, size_t len, long v, const struct unit *units, const char *base_name)
{
    const struct unit *best = NULL;
    const struct unit *u;

    for (u = units; u->suffix != NULL; u++)
    {
        if (u->suffix[0] != '\0' && v % u->scale == 0 &&
            (best == NULL || u->scale > best->scale))
        {
            best = u;
        }
    }
    if (best == NULL || v == 0)
    {
        snprintf(buf, len, "%ld%s", v, base_name);
    }
    else
    {
        snprintf(buf, len, "%ld%s", v / best->scale, best->suffix);
    }
}

static const char *const bool_true[] = {"yes", "true", "on", "1", NULL};
static const char *const bool_false[] = {"no", "false", "off", "0", NULL};

static int
in_list(const char *v, const char *const *list)
{
    int i;

    for (i = 0; list[i] != NULL; i++)
    {
        if (strcasecmp(v, list[i]) == 0)
        {
            return i;
        }
    }
    return -1;
}

/* Copies V for a message: control bytes replaced, long values cut at a UTF-8 boundary. */
static void
show_value(char *buf, size_t len, const char *v, int secret)
{
    size_t n, i;

    if (secret)
    {
        snprintf(buf, len, "****");
        return;
    }
    n = strlen(v);
    if (n > CFG_SHOW_MAX)
    {
        n = CFG_SHOW_MAX;
        while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
        {
            n--;
        }
    }
    if (n + 4 > len)
    {
        n = 0;
    }
    for (i = 0; i < n; i++)
    {
        unsigned char c = (unsigned char)v[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    strcpy(buf + n, n < strlen(v) ? "..." : "");
}

/*
 * Converts text V by K's type into *LV / *IV. Returns 0, or -1 with what would be
 * valid in WHY (never containing V).
 */
static int
convert(const struct ovp_cfg_key *k, const char *v, long *lv, int *iv, char *why, size_t wlen)
{
    char lo[32], hi[32];
    int rc, idx;
    size_t i, used;

    switch (k->type)
    {
        case OVP_CFG_STRING:
            return 0;
        case OVP_CFG_BOOL:
            if ((idx = in_list(v, bool_true)) >= 0)
            {
                *iv = 1;
                return 0;
            }
            if ((idx = in_list(v, bool_false)) >= 0)
            {
                *iv = 0;
                return 0;
            }
            snprintf(why, wlen, "expected yes/no, true/false, on/off or 1/0");
            return -1;
        case OVP_CFG_ENUM:
            idx = in_list(v, k->choices);
            if (idx >= 0)
            {
                *iv = idx;
                return 0;
            }
            used = (size_t)snprintf(why, wlen, "expected one of:");
            for (i = 0; k->choices[i] != NULL && used < wlen; i++)
            {
                used += (size_t)snprintf(why + used, wlen - used, "%s %s", i ? "," : "",
                                         k->choices[i]);
            }
            return -1;
        case OVP_CFG_INT:
            rc = parse_decimal(&v, 1, lv);
            if (rc == 0 && *v != '\0')
            {
                rc = -1;
            }
            if (k->min == 0 && k->max == 0)
            {
                if (rc != 0)
                {
                    snprintf(why, wlen, "expected a whole number from %ld to %ld", LONG_MIN,
                             LONG_MAX);
                    return -1;
                }
                return 0;
            }
            if (rc != 0 || *lv < k->min || *lv > k->max)
            {
                snprintf(why, wlen, "expected a whole number from %ld to %ld", k->min, k->max);
                return -1;
            }
            return 0;
        case OVP_CFG_DURATION:
        case OVP_CFG_DURATION_US:
        case OVP_CFG_SIZE:
        {
            int us = k->type == OVP_CFG_DURATION_US;
            const struct unit *units = k->type == OVP_CFG_DURATION ? duration_units
                                       : us                        ? duration_us_units
                                                                   : size_units;
            const char *base_name = k->type == OVP_CFG_DURATION ? "ms" : us ? "us" : "";
            const char *kind = k->type == OVP_CFG_SIZE ? "a size" : "a duration";
            const char *examples = k->type == OVP_CFG_DURATION
                                       ? "such as 250ms, 15s, 2m or 1h; a bare number is "
                                         "seconds"
                                   : us ? "such as 300us or 2ms; a bare number is seconds"
                                        : "such as 512, 64k, 16M or 1G";

            rc = parse_scaled(v, units, lv);
            if (k->min == 0 && k->max == 0)
            {
                if (rc != 0)
                {
                    snprintf(why, wlen, "%sexpected %s (%s)", rc == -2 ? "too large; " : "",
                             kind, examples);
                    return -1;
                }
                return 0;
            }
            if (rc != 0 || *lv < k->min || *lv > k->max)
            {
                fmt_scaled(lo, sizeof(lo), k->min, units, base_name);
                fmt_scaled(hi, sizeof(hi), k->max, units, base_name);
                snprintf(why, wlen, "expected %s from %s to %s (%s)%s%s", kind, lo, hi,
                         examples, us && k->help ? ": " : "", us && k->help ? k->help : "");
                return -1;
            }
            return 0;
        }
    }
    snprintf(why, wlen, "internal error: unknown type");
    return -1;
}

/* ------------------------------------------------------------------ bind */

static char **
field_str(void *base, const struct ovp_cfg_key *k)
{
    return (char **)(void *)((char *)base + k->offset);
}

static struct ovp_strv *
field_strv(void *base, const struct ovp_cfg_key *k)
{
    return (struct ovp_strv *)(void *)((char *)base + k->offset);
}

static long *
field_long(void *base, const struct ovp_cfg_key *k)
{
    return (long *)(void *)((char *)base + k->offset);
}

static int *
field_int(void *base, const struct ovp_cfg_key *k)
{
    return (int *)(void *)((char *)base + k->offset);
}

static void
free_str(const struct ovp_cfg_key *k, char *s)
{
    if (k->flags & OVP_CFG_SECRET)
    {
        ovp_free_secret(s);
    }
    else
    {
        free(s);
    }
}

static void
release_one(const struct ovp_cfg_key *k, void *base)
{
    size_t i;

    if (k->type == OVP_CFG_STRING && (k->flags & OVP_CFG_MULTI))
    {
        struct ovp_strv *sv = field_strv(base, k);
        for (i = 0; i < sv->n; i++)
        {
            free_str(k, sv->v[i]);
        }
        free(sv->v);
        sv->v = NULL;
        sv->n = 0;
    }
    else if (k->type == OVP_CFG_STRING)
    {
        char **sp = field_str(base, k);
        free_str(k, *sp);
        *sp = NULL;
    }
    else if (k->flags & OVP_CFG_SECRET)
    {
        if (k->type == OVP_CFG_BOOL || k->type == OVP_CFG_ENUM)
        {
            ovp_wipe(field_int(base, k), sizeof(int));
        }
        else
        {
            ovp_wipe(field_long(base, k), sizeof(long));
        }
    }
}

void
ovp_cfg_release(const struct ovp_cfg_key *table, size_t n, void *base)
{
    size_t i;

    if (table == NULL || base == NULL)
    {
        return;
    }
    for (i = 0; i < n; i++)
    {
        release_one(&table[i], base);
    }
}

/*
 * Stores text V (owned: taken on success and on failure) into K's field. APPEND:
 * a MULTI key adds to its list instead of replacing it. Returns 0, or -1 with
 * what would be valid in WHY.
 */
static int
store(const struct ovp_cfg_key *k, void *base, char *v, int append, char *why, size_t wlen)
{
    long lv = 0;
    int iv = 0;

    if (k->type != OVP_CFG_STRING && v[0] == '\0')
    {
        char expect[768];

        convert(k, "", &lv, &iv, expect, sizeof(expect));
        snprintf(why, wlen, "empty value; %s", expect);
        free_str(k, v);
        return -1;
    }
    if (convert(k, v, &lv, &iv, why, wlen) != 0)
    {
        free_str(k, v);
        return -1;
    }
    switch (k->type)
    {
        case OVP_CFG_STRING:
            if (k->flags & OVP_CFG_MULTI)
            {
                struct ovp_strv *sv = field_strv(base, k);
                char **nv;

                if (!append)
                {
                    release_one(k, base);
                }
                nv = realloc(sv->v, (sv->n + 2) * sizeof(*sv->v));
                if (nv == NULL)
                {
                    snprintf(why, wlen, "out of memory");
                    free_str(k, v);
                    return -1;
                }
                sv->v = nv;
                sv->v[sv->n++] = v;
                sv->v[sv->n] = NULL;
            }
            else
            {
                char **sp = field_str(base, k);
                free_str(k, *sp);
                *sp = v;
            }
            return 0;
        case OVP_CFG_BOOL:
        case OVP_CFG_ENUM:
            *field_int(base, k) = iv;
            break;
        case OVP_CFG_INT:
        case OVP_CFG_DURATION:
        case OVP_CFG_DURATION_US:
        case OVP_CFG_SIZE:
            *field_long(base, k) = lv;
            break;
    }
    free_str(k, v);
    ovp_wipe(&lv, sizeof(lv));
    return 0;
}

/* Case-insensitive Levenshtein distance, capped for long inputs. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    size_t i, j;

    if (la > 64 || lb > 64)
    {
        return SIZE_MAX;
    }
    for (j = 0; j <= lb; j++)
    {
        row[j] = j;
    }
    for (i = 1; i <= la; i++)
    {
        size_t diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++)
        {
            size_t up = row[j];
            size_t cost = (a[i - 1] | 0x20) == (b[j - 1] | 0x20) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
            {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best)
            {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* How far a name may be from a candidate to be suggested. */
static size_t
hint_limit(const char *name)
{
    size_t n = strlen(name);
    return n <= 4 ? 1 : n <= 8 ? 2 : 3;
}

/* Name of a section for messages: "<LDAP>" or "the top level". */
static void
where_node(char *buf, size_t len, const struct ovp_cfg_node *node)
{
    if (node->name == NULL)
    {
        snprintf(buf, len, "at the top level");
    }
    else
    {
        snprintf(buf, len, "in <%s>", node->name);
    }
}

/* "file:line" of an entry, or "plugin line" for inline words. */
static void
where_line(char *buf, size_t len, const struct ovp_cfg_node *node, int line)
{
    if (line > 0)
    {
        snprintf(buf, len, "%s:%d", node->file, line);
    }
    else
    {
        snprintf(buf, len, "%s", node->file != NULL ? node->file : CFG_WORDS_NAME);
    }
}

/* Finds KEY in TABLE; *VIA_FILE set when KEY is <SecretKey>File. Returns index or -1. */
static long
find_key(const struct ovp_cfg_key *table, size_t n, const char *key, int *via_file)
{
    size_t i, kl = strlen(key);

    *via_file = 0;
    for (i = 0; i < n; i++)
    {
        if (strcasecmp(table[i].name, key) == 0)
        {
            return (long)i;
        }
    }
    if (kl <= 4 || strcasecmp(key + kl - 4, "File") != 0)
    {
        return -1;
    }
    for (i = 0; i < n; i++)
    {
        if ((table[i].flags & OVP_CFG_SECRET) && strlen(table[i].name) == kl - 4 &&
            strncasecmp(table[i].name, key, kl - 4) == 0)
        {
            *via_file = 1;
            return (long)i;
        }
    }
    return -1;
}

static void
unknown_key(const struct ovp_cfg_key *table, size_t n, const struct ovp_cfg_node *node,
            const struct ovp_cfg_entry *e, char *err, size_t errlen)
{
    char loc[512], sect[300], list[1024], cand[300];
    const char *best = NULL;
    char best_buf[300];
    size_t best_d = SIZE_MAX, i, used = 0;
    int pass;

    where_line(loc, sizeof(loc), node, e->line);
    where_node(sect, sizeof(sect), node);
    list[0] = '\0';
    for (i = 0; i < n; i++)
    {
        for (pass = 0; pass < 2; pass++)
        {
            size_t d;
            if (pass == 1 && !(table[i].flags & OVP_CFG_SECRET))
            {
                continue;
            }
            snprintf(cand, sizeof(cand), "%s%s", table[i].name, pass ? "File" : "");
            d = edit_distance(e->key, cand);
            if (d < best_d)
            {
                best_d = d;
                snprintf(best_buf, sizeof(best_buf), "%s", cand);
                best = best_buf;
            }
            if (used < sizeof(list))
            {
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                         used ? ", " : "", cand);
            }
        }
    }
    /* The value is never shown: an unknown key may be a misspelt secret. */
    if (best != NULL && best_d <= hint_limit(e->key))
    {
        ovp_errf(err, errlen, "%s: unknown key '%s' %s (did you mean '%s'?)", loc, e->key, sect,
                 best);
    }
    else if (n > 0)
    {
        ovp_errf(err, errlen, "%s: unknown key '%s' %s; valid keys: %s", loc, e->key, sect,
                 list);
    }
    else
    {
        ovp_errf(err, errlen, "%s: unknown key '%s' %s; no keys are valid here", loc, e->key,
                 sect);
    }
}

static int
check_sections(const struct ovp_cfg_node *node, const char *const *sections, char *err,
               size_t errlen)
{
    size_t i, j;

    for (i = 0; i < node->n_children; i++)
    {
        const struct ovp_cfg_node *c = &node->children[i];
        char loc[512], sect[300], list[1024];
        const char *best = NULL;
        size_t best_d = SIZE_MAX, used = 0;
        int ok = 0;

        for (j = 0; sections != NULL && sections[j] != NULL; j++)
        {
            size_t d = edit_distance(c->name, sections[j]);
            if (strcasecmp(c->name, sections[j]) == 0)
            {
                ok = 1;
                break;
            }
            if (d < best_d)
            {
                best_d = d;
                best = sections[j];
            }
            if (used < sizeof(list))
            {
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s<%s>",
                                         used ? ", " : "", sections[j]);
            }
        }
        if (ok)
        {
            continue;
        }
        where_line(loc, sizeof(loc), node, c->line);
        where_node(sect, sizeof(sect), node);
        if (best != NULL && best_d <= hint_limit(c->name))
        {
            ovp_errf(err, errlen, "%s: unknown section <%s> %s (did you mean <%s>?)", loc,
                     c->name, sect, best);
        }
        else if (used > 0)
        {
            ovp_errf(err, errlen, "%s: unknown section <%s> %s; valid sections: %s", loc,
                     c->name, sect, list);
        }
        else
        {
            ovp_errf(err, errlen, "%s: unknown section <%s> %s; no sections are valid here",
                     loc, c->name, sect);
        }
        return -1;
    }
    return 0;
}

/* Catches programming mistakes in a key table before any user input is blamed. */
static int
check_table(const struct ovp_cfg_key *table, size_t n, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++)
    {
        const struct ovp_cfg_key *k = &table[i];
        if (k->name == NULL || k->name[0] == '\0')
        {
            ovp_errf(err, errlen, "internal error: key table entry %zu has no name", i);
            return -1;
        }
        if ((k->flags & OVP_CFG_MULTI) && k->type != OVP_CFG_STRING)
        {
            ovp_errf(err, errlen, "internal error: key %s: MULTI needs type STRING", k->name);
            return -1;
        }
        if ((k->flags & OVP_CFG_FILE_READABLE) && k->type != OVP_CFG_STRING)
        {
            ovp_errf(err, errlen, "internal error: key %s: FILE_READABLE needs type STRING",
                     k->name);
            return -1;
        }
        if ((k->flags & OVP_CFG_INLINE_OK) && !(k->flags & OVP_CFG_SECRET))
        {
            ovp_errf(err, errlen, "internal error: key %s: INLINE_OK needs SECRET", k->name);
            return -1;
        }
        if (k->type == OVP_CFG_ENUM && k->choices == NULL)
        {
            ovp_errf(err, errlen, "internal error: key %s: ENUM without choices", k->name);
            return -1;
        }
        if ((unsigned)k->type > (unsigned)OVP_CFG_DURATION_US)
        {
            ovp_errf(err, errlen, "internal error: key %s: unknown type", k->name);
            return -1;
        }
    }
    return 0;
}

/* What bind remembers per key. */
struct given
{
    int given;    /* set by the user (not by a default) */
    int line;     /* where (0: plugin line) */
    int via_file; /* through <Key>File */
};

static int
check_readable(const char *path, char *why, size_t wlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0)
    {
        snprintf(why, wlen, "cannot be read: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode))
    {
        snprintf(why, wlen, "is a directory; a readable file is needed");
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/*
 * The rules on a SECRET key K written with its value (entry E of NODE, at LOC): 1
 * with an error in ERR when refused, else 0. The value is never shown.
 */
static int
inline_secret_refused(const struct ovp_cfg_key *k, const struct ovp_cfg_node *node,
                      const struct ovp_cfg_entry *e, const char *loc, char *err, size_t errlen)
{
    const struct ovp_cfg_node *root = node->root;
    char why[512];

    if (e->line == 0)
    {
        /*
         * Why refuse: OpenVPN writes every plugin line to its log at verb 3 and up (and
         * ps shows them for ovp-refcore), so a secret there is disclosed to whoever
         * reads the log. A test fixture's dummy secret may say OVP_CFG_INLINE_OK.
         */
        if (k->flags & OVP_CFG_INLINE_OK)
        {
            return 0;
        }
        ovp_errf(err, errlen,
                 "%s: %s is a secret and may not be written on the plugin line, which "
                 "OpenVPN shows in its log (verb 3 and up): put it alone in a file that only "
                 "root (and the group OpenVPN runs as) can read and give %sFile=PATH instead, "
                 "or write it in a config file",
                 loc, e->key, k->name);
        return 1;
    }
    /*
     * A config file holding a secret is a secret file: the owner and mode rule of
     * <Key>File applies to it (others may not read it, only its owner may write it,
     * owned by root or this process's user). Checked only when a secret is in it, so
     * that a config file with <Key>File lines can stay world-readable.
     */
    if (root == NULL || !root->from_file ||
        ovp_secret_perm_check(root->file_mode, root->file_uid, why, sizeof(why)) == 0)
    {
        return 0;
    }
    ovp_errf(err, errlen,
             "%s: %s is a secret written in %s, but that file is not private: %s. "
             "Make the file private (chmod o-r,go-w %s) or put the secret alone in a "
             "private file and give %sFile instead",
             loc, e->key, root->file, why, root->file, k->name);
    return 1;
}

int
ovp_cfg_bind(struct ovp_cfg_node *node, const struct ovp_cfg_key *table, size_t n, void *base,
             const char *const *sections, char *err, size_t errlen)
{
    struct ovp_cfg_node empty = {.file = "config"};
    struct given *seen = NULL;
    char loc[512], shown[CFG_SHOW_MAX + 8], why[1024], sect[300];
    size_t i;
    int rc = -1;

    if ((table == NULL && n > 0) || (base == NULL && n > 0))
    {
        ovp_errf(err, errlen, "internal error: no key table or no config struct");
        goto cleanup;
    }
    if (check_table(table, n, err, errlen) != 0)
    {
        goto cleanup;
    }
    if (node == NULL)
    {
        node = &empty; /* an absent section: defaults and REQUIRED checks only */
    }
    seen = calloc(n > 0 ? n : 1, sizeof(*seen));
    if (seen == NULL)
    {
        ovp_errf(err, errlen, "%s: out of memory", node->file);
        goto cleanup;
    }
    where_node(sect, sizeof(sect), node);

    /* Defaults first, in the same text form a user writes. */
    for (i = 0; i < n; i++)
    {
        char *copy;
        if (table[i].def == NULL)
        {
            continue;
        }
        copy = ovp_strdup_secret(table[i].def);
        if (copy == NULL || store(&table[i], base, copy, 0, why, sizeof(why)) != 0)
        {
            ovp_errf(err, errlen, "internal error: default of %s is invalid: %s", table[i].name,
                     copy == NULL ? "out of memory" : why);
            goto cleanup;
        }
    }

    for (i = 0; i < node->n_entries; i++)
    {
        struct ovp_cfg_entry *e = &node->entries[i];
        const struct ovp_cfg_key *k;
        struct given *g;
        int via_file, secret;
        long idx = find_key(table, n, e->key, &via_file);
        char *v;

        if (idx < 0)
        {
            unknown_key(table, n, node, e, err, errlen);
            goto cleanup;
        }
        k = &table[idx];
        g = &seen[idx];
        secret = (k->flags & OVP_CFG_SECRET) != 0;
        where_line(loc, sizeof(loc), node, e->line);
        if (g->given && g->via_file != via_file)
        {
            if (g->line > 0)
            {
                ovp_errf(err, errlen,
                         "%s: both %s and %sFile given %s (the other at line %d); "
                         "give only one",
                         loc, k->name, k->name, sect, g->line);
            }
            else
            {
                ovp_errf(err, errlen, "%s: both %s and %sFile given %s; give only one", loc,
                         k->name, k->name, sect);
            }
            goto cleanup;
        }
        if (g->given && !(k->flags & OVP_CFG_MULTI))
        {
            if (g->line > 0)
            {
                ovp_errf(err, errlen, "%s: duplicate key '%s' %s (first given at line %d)", loc,
                         e->key, sect, g->line);
            }
            else
            {
                ovp_errf(err, errlen, "%s: duplicate key '%s' %s", loc, e->key, sect);
            }
            goto cleanup;
        }
        if (secret && !via_file && inline_secret_refused(k, node, e, loc, err, errlen))
        {
            goto cleanup;
        }
        e->used = 1;
        if (via_file)
        {
            char ferr[1024], warn[1024];

            v = ovp_secret_file_load(e->value, warn, sizeof(warn), ferr, sizeof(ferr));
            if (v == NULL)
            {
                /* ferr names the path and the reason, never the file's content. */
                ovp_errf(err, errlen, "%s: %s: %s", loc, e->key, ferr);
                goto cleanup;
            }
            if (warn[0] != '\0' && tree_warn(node, warn) != 0)
            {
                /* Unreported, a kept secret would look like a fresh one: fail instead. */
                ovp_free_secret(v);
                ovp_errf(err, errlen, "%s: out of memory", loc);
                goto cleanup;
            }
        }
        else
        {
            v = secret ? ovp_strdup_secret(e->value) : strdup(e->value);
            if (v == NULL)
            {
                ovp_errf(err, errlen, "%s: out of memory", loc);
                goto cleanup;
            }
        }
        if (store(k, base, v, g->given, why, sizeof(why)) != 0)
        {
            show_value(shown, sizeof(shown), e->value, secret || via_file);
            if (via_file)
            {
                ovp_errf(err, errlen, "%s: %s: the content of %s is not valid: %s", loc, e->key,
                         e->value, why);
            }
            else
            {
                ovp_errf(err, errlen, "%s: %s '%s': %s", loc, e->key, shown, why);
            }
            goto cleanup;
        }
        g->given = 1;
        g->line = e->line;
        g->via_file = via_file;
    }

    if (check_sections(node, sections, err, errlen) != 0)
    {
        goto cleanup;
    }

    for (i = 0; i < n; i++)
    {
        const struct ovp_cfg_key *k = &table[i];
        if ((k->flags & OVP_CFG_REQUIRED) && !seen[i].given)
        {
            int secret = (k->flags & OVP_CFG_SECRET) != 0;

            if (node->line > 0)
            {
                snprintf(loc, sizeof(loc), "%s:%d", node->file, node->line);
            }
            else
            {
                snprintf(loc, sizeof(loc), "%s", node->file);
            }
            ovp_errf(err, errlen, "%s: required key %s%s%s%s is missing %s%s%s", loc, k->name,
                     secret ? " (or " : "", secret ? k->name : "", secret ? "File)" : "", sect,
                     k->help ? ": " : "", k->help ? k->help : "");
            goto cleanup;
        }
    }

    for (i = 0; i < n; i++)
    {
        const struct ovp_cfg_key *k = &table[i];
        size_t j, count;
        char **paths;

        if (!(k->flags & OVP_CFG_FILE_READABLE))
        {
            continue;
        }
        if (k->flags & OVP_CFG_MULTI)
        {
            paths = field_strv(base, k)->v;
            count = field_strv(base, k)->n;
        }
        else
        {
            paths = field_str(base, k);
            count = *paths != NULL ? 1 : 0;
        }
        for (j = 0; j < count; j++)
        {
            if (paths[j][0] == '\0' || check_readable(paths[j], why, sizeof(why)) == 0)
            {
                continue;
            }
            show_value(shown, sizeof(shown), paths[j], (k->flags & OVP_CFG_SECRET) != 0);
            if (seen[i].given)
            {
                where_line(loc, sizeof(loc), node, seen[i].line);
                ovp_errf(err, errlen, "%s: %s '%s' %s", loc, k->name, shown, why);
            }
            else
            {
                ovp_errf(err, errlen, "%s: %s (default) '%s' %s", node->file, k->name, shown,
                         why);
            }
            goto cleanup;
        }
    }
    rc = 0;

cleanup:
    free(seen);
    return rc;
}

int
ovp_strv_addf(struct ovp_strv *v, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    char **nv = realloc(v->v, (v->n + 2) * sizeof(*nv));
    if (!nv)
    {
        return -1;
    }
    v->v = nv;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (!(nv[v->n] = strdup(buf)))
    {
        nv[v->n] = NULL;
        return -1;
    }
    nv[++v->n] = NULL;
    return 0;
}

void
ovp_strv_clear(struct ovp_strv *v)
{
    if (!v)
    {
        return;
    }
    for (size_t i = 0; i < v->n; i++)
    {
        free(v->v[i]);
    }
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

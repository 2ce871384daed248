/*
 * fuzz_config.c: the ovp config grammar (files in the openvpn-auth-ldap style, and
 * key=value words), then binding to a table of every value type. The first byte
 * chooses: even, the text as a file; odd, NUL-separated plugin-line words.
 */
#include <stddef.h>
#include <stdlib.h>

#include "config.h"
#include "fuzz.h"

struct fz_conf
{
    char *s;
    struct ovp_strv multi;
    long i, dur, size;
    int b, e;
};

static const char *const fz_choices[] = {"never", "allow", "try", "demand", NULL};

static const struct ovp_cfg_key fz_keys[] = {
    {"String", OVP_CFG_STRING, 0, "x", offsetof(struct fz_conf, s), NULL, 0, 0, "s"},
    {"Multi", OVP_CFG_STRING, OVP_CFG_MULTI, NULL, offsetof(struct fz_conf, multi), NULL, 0, 0,
     "m"},
    {"Int", OVP_CFG_INT, 0, "3", offsetof(struct fz_conf, i), NULL, -5, 1000000, "i"},
    {"Duration", OVP_CFG_DURATION, 0, "1s", offsetof(struct fz_conf, dur), NULL, 100, 3600000,
     "d"},
    {"Size", OVP_CFG_SIZE, 0, "64k", offsetof(struct fz_conf, size), NULL, 0, 0, "z"},
    {"Bool", OVP_CFG_BOOL, 0, "no", offsetof(struct fz_conf, b), NULL, 0, 0, "b"},
    {"Enum", OVP_CFG_ENUM, 0, "try", offsetof(struct fz_conf, e), fz_choices, 0, 0, "e"},
};

static void
bind_tree(struct ovp_cfg_node *root)
{
    static const char *const sections[] = {"LDAP", "Group", NULL};
    struct fz_conf c = {0};
    char err[512];
    (void)ovp_cfg_bind(root, fz_keys, sizeof(fz_keys) / sizeof(fz_keys[0]), &c, sections, err,
                       sizeof(err));
    ovp_cfg_release(fz_keys, sizeof(fz_keys) / sizeof(fz_keys[0]), &c);
    for (size_t k = 0; k < ovp_cfg_count_sections(root, "LDAP"); k++)
    {
        struct fz_conf sc = {0};
        (void)ovp_cfg_bind(ovp_cfg_section(root, "LDAP", k), fz_keys,
                           sizeof(fz_keys) / sizeof(fz_keys[0]), &sc, NULL, err, sizeof(err));
        ovp_cfg_release(fz_keys, sizeof(fz_keys) / sizeof(fz_keys[0]), &sc);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ovp_cfg_node *root = NULL;
    char err[512];
    if (size < 1)
    {
        return 0;
    }
    if (data[0] % 2 == 0)
    {
        if (ovp_cfg_parse_string((const char *)data + 1, size - 1, "fuzz.conf", &root, err,
                                 sizeof(err)) == 0)
        {
            bind_tree(root);
        }
    }
    else
    {
        const char *words[64];
        char *buf;
        size_t consumed, n = fuzz_split(data + 1, size - 1, &buf, words, 64);
        if (ovp_cfg_parse_words(words, n, &consumed, &root, err, sizeof(err)) == 0)
        {
            bind_tree(root);
        }
        free(buf);
    }
    ovp_cfg_free(root);
    return 0;
}

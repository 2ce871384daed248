/* pam_wire.c: ovp-auth-pam's messages between OpenVPN's process and the PAM helper. */
#include "ovpbuild.h"

#include <stdlib.h>
#include <string.h>

#include "defer.h"
#include "pam_wire.h"
#include "secret.h"

/* Per-field limits, in wire order. Why tight: the helper decodes as root. */
static const size_t field_max[6] = {AP_WHO_MAX,   AP_FIELD_MAX, AP_FIELD_MAX,
                                    AP_FIELD_MAX, AP_FIELD_MAX, AP_RHOST_MAX};

static char **
field_ptr(struct ap_wire_req *r, size_t i)
{
    char **f[6] = {&r->who, &r->username, &r->password, &r->common_name, &r->otp, &r->rhost};
    return f[i];
}

int
ap_wire_req_encode(struct ovp_priv_buf *b, const struct ap_wire_out *r)
{
    if (!b || !r)
    {
        return -1;
    }
    const char *f[6] = {r->who, r->username, r->password, r->common_name, r->otp, r->rhost};
    uint32_t head[2] = {r->flags, r->cr_wait_ms};
    if (b->cap < sizeof(head))
    {
        return -1;
    }
    memcpy(b->data, head, sizeof(head));
    b->len = sizeof(head);
    for (size_t i = 0; i < 6; i++)
    {
        const char *s = f[i];
        if (!s || strlen(s) > field_max[i] || ovp_priv_pack_str(b, s) < 0)
        {
            return -1;
        }
    }
    return 0;
}

void
ap_wire_req_clear(struct ap_wire_req *r)
{
    if (!r)
    {
        return;
    }
    ovp_free_secret(r->password);
    ovp_free_secret(r->otp);
    free(r->who);
    free(r->username);
    free(r->common_name);
    free(r->rhost);
    memset(r, 0, sizeof(*r));
}

int
ap_wire_req_flags(const uint8_t *data, size_t len, uint32_t *flags)
{
    if (!data || !flags || len < 8)
    {
        return -1;
    }
    memcpy(flags, data, 4);
    return 0;
}

int
ap_wire_req_decode(const uint8_t *data, size_t len, struct ap_wire_req *r)
{
    size_t pos = 8;

    if (!r)
    {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    if (!data || len < 8)
    {
        return -1;
    }
    memcpy(&r->flags, data, 4);
    memcpy(&r->cr_wait_ms, data + 4, 4);
    for (size_t i = 0; i < 6; i++)
    {
        const uint8_t *s;
        size_t n;
        char *copy;
        if (ovp_priv_unpack(data, len, &pos, &s, &n) < 0 || n > field_max[i] ||
            memchr(s, '\0', n))
        {
            goto fail;
        }
        copy = malloc(n + 1);
        if (!copy)
        {
            goto fail;
        }
        memcpy(copy, s, n);
        copy[n] = '\0';
        *field_ptr(r, i) = copy;
    }
    if (pos != len)
    {
        goto fail;
    }
    return 0;

fail:
    ap_wire_req_clear(r);
    return -1;
}

long
ap_wire_rep_encode(const struct ap_wire_rep *r, uint8_t *buf, size_t cap)
{
    struct ovp_priv_buf b = {buf, 0, cap};
    uint8_t head[12];

    if (!r || !buf || cap < sizeof(head) || r->delay_ms > AP_FAIL_DELAY_MAX_MS)
    {
        return -1;
    }
    memcpy(head, &r->verdict, 4);
    memcpy(head + 4, &r->pam_status, 4);
    memcpy(head + 8, &r->delay_ms, 4);
    memcpy(buf, head, sizeof(head));
    b.len = sizeof(head);
    if (ovp_priv_pack(&b, r->reason, strnlen(r->reason, sizeof(r->reason) - 1)) < 0 ||
        ovp_priv_pack(&b, r->detail, strnlen(r->detail, sizeof(r->detail) - 1)) < 0)
    {
        return -1;
    }
    return (long)b.len;
}

static int
unpack_text(const uint8_t *data, size_t len, size_t *pos, char *out, size_t cap)
{
    const uint8_t *s;
    size_t n;
    if (ovp_priv_unpack(data, len, pos, &s, &n) < 0 || n >= cap || memchr(s, '\0', n))
    {
        return -1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int
ap_wire_rep_decode(const uint8_t *data, size_t len, struct ap_wire_rep *r)
{
    size_t pos = 12;

    if (!r || !data || len < 12)
    {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    memcpy(&r->verdict, data, 4);
    memcpy(&r->pam_status, data + 4, 4);
    memcpy(&r->delay_ms, data + 8, 4);
    if ((r->verdict != OVP_ALLOW && r->verdict != OVP_DENY && r->verdict != OVP_TEMP) ||
        r->delay_ms > AP_FAIL_DELAY_MAX_MS)
    {
        memset(r, 0, sizeof(*r));
        return -1;
    }
    if (unpack_text(data, len, &pos, r->reason, sizeof(r->reason)) < 0 ||
        unpack_text(data, len, &pos, r->detail, sizeof(r->detail)) < 0 || pos != len)
    {
        memset(r, 0, sizeof(*r));
        return -1;
    }
    return 0;
}

long
ap_wire_cr_encode(uint32_t status, const char *resp, size_t len, uint8_t *buf, size_t cap)
{
    struct ovp_priv_buf b = {buf, 4, cap};

    if (!buf || cap < 4 || (status != AP_CR_OK && status != AP_CR_MALFORMED) ||
        (status == AP_CR_MALFORMED && len) || len > AP_CR_MAX || (len && !resp))
    {
        return -1;
    }
    memcpy(buf, &status, 4);
    if (ovp_priv_pack(&b, resp ? resp : "", len) < 0)
    {
        return -1;
    }
    return (long)b.len;
}

int
ap_wire_cr_decode(const uint8_t *data, size_t len, uint32_t *status, const uint8_t **resp,
                  size_t *rlen)
{
    size_t pos = 4;
    const uint8_t *s;
    size_t n;

    if (!data || !status || !resp || !rlen || len < 4 || len > AP_CR_FRAME_MAX)
    {
        return -1;
    }
    memcpy(status, data, 4);
    if ((*status != AP_CR_OK && *status != AP_CR_MALFORMED) ||
        ovp_priv_unpack(data, len, &pos, &s, &n) < 0 || pos != len || n > AP_CR_MAX ||
        (*status == AP_CR_MALFORMED && n) || memchr(s, '\0', n))
    {
        return -1;
    }
    *resp = s;
    *rlen = n;
    return 0;
}

int
ap_wire_config_encode(struct ovp_priv_buf *b, uint32_t verb, uint32_t cr_on,
                      const char *const *words, size_t n)
{
    uint32_t head[3] = {verb, cr_on, (uint32_t)n};
    if (n > AP_CONFIG_WORDS_MAX || b->cap - b->len < sizeof(head))
    {
        return -1;
    }
    memcpy(b->data + b->len, head, sizeof(head));
    b->len += sizeof(head);
    for (size_t i = 0; i < n; i++)
    {
        if (!words[i] || strlen(words[i]) > AP_WORD_MAX || ovp_priv_pack_str(b, words[i]) < 0)
        {
            return -1;
        }
    }
    return 0;
}

void
ap_wire_words_free(char **words)
{
    if (!words)
    {
        return;
    }
    for (size_t i = 0; words[i]; i++)
    {
        free(words[i]);
    }
    free(words);
}

int
ap_wire_config_decode(const uint8_t *data, size_t len, uint32_t *verb, uint32_t *cr_on,
                      char ***words, size_t *n)
{
    uint32_t head[3];
    size_t pos = sizeof(head);
    if (!data || len < sizeof(head))
    {
        return -1;
    }
    memcpy(head, data, sizeof(head));
    if (head[2] > AP_CONFIG_WORDS_MAX || head[1] > 1)
    {
        return -1;
    }
    char **w = calloc((size_t)head[2] + 1, sizeof(*w));
    if (!w)
    {
        return -1;
    }
    for (size_t i = 0; i < head[2]; i++)
    {
        const uint8_t *s;
        size_t sl;
        if (ovp_priv_unpack(data, len, &pos, &s, &sl) < 0 || sl > AP_WORD_MAX ||
            memchr(s, '\0', sl) || !(w[i] = strndup((const char *)s, sl)))
        {
            ap_wire_words_free(w);
            return -1;
        }
    }
    if (pos != len)
    {
        ap_wire_words_free(w);
        return -1;
    }
    *verb = head[0];
    *cr_on = head[1];
    *words = w;
    *n = head[2];
    return 0;
}

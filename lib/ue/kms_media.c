/* SPDX-License-Identifier: Apache-2.0 */
/* kms_media: SRTP policies, the session file and the session fingerprint (see kms_media.h). */
#include "ue/kms_media.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikey/kms_mikey_prf.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_mem.h"

/* RFC 3830 6.10.1 (Tables 6.10.1.a-c), RFC 6188 (AES-256-CM: Encryption algorithm AES-CM with a
 * 32-octet session encryption key; 7.1 names the suite AES_256_CM_HMAC_SHA1_80), RFC 7714 14.3
 * and 15 (AES-GCM = 6, AEAD authentication tag length type 20 = 16 octets; a 12-octet salt,
 * 8.2; the suite AEAD_AES_128_GCM, 14.2). */
static const struct kms_srtp_policy policies[] = {
    {KMS_SRTP_AES128_HMAC80, "aes128-hmac80", "AES_CM_128_HMAC_SHA1_80", 1, 16, 1, 20, 14, 10, 0},
    {KMS_SRTP_AES256_HMAC80, "aes256-hmac80", "AES_256_CM_HMAC_SHA1_80", 1, 32, 1, 20, 14, 10, 0},
    {KMS_SRTP_AES128_GCM, "aes128-gcm", "AEAD_AES_128_GCM", 6, 16, 0, 0, 12, 0, 16},
};

const struct kms_srtp_policy *kms_srtp_policy_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(policies) / sizeof(policies[0]); i++) {
        if (strcmp(policies[i].name, name) == 0) {
            return &policies[i];
        }
    }
    return NULL;
}

const struct kms_srtp_policy *kms_srtp_policy_by_id(enum kms_srtp_policy_id id)
{
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        if (policies[i].id == id) {
            return &policies[i];
        }
    }
    return NULL;
}

const struct kms_srtp_policy *kms_srtp_policy_default(void)
{
    return &policies[0];
}

/* RFC 3830 6.10.1 Table 6.10.1.a parameter types, and RFC 7714 14.3's. */
enum {
    SP_ENC_ALG = 0,
    SP_KEY_LEN = 1,
    SP_AUTH_ALG = 2,
    SP_AUTH_KEY_LEN = 3,
    SP_SALT_LEN = 4,
    SP_PRF = 5,
    SP_KDR = 6,
    SP_SRTP_ENC = 7,
    SP_SRTCP_ENC = 8,
    SP_FEC = 9,
    SP_SRTP_AUTH = 10,
    SP_TAG_LEN = 11,
    SP_PREFIX = 12,
    SP_AEAD_TAG_LEN = 20,
    SP_TYPES = 21,
};

kms_result kms_srtp_policy_sp_encode(const struct kms_srtp_policy *p, uint8_t *out, size_t cap,
                                     size_t *len)
{
    KMS_ENSURE(p != NULL && out != NULL && len != NULL, KMS_ERR_ARG);
    *len = 0;
    const uint8_t tv[][2] = {
        {SP_ENC_ALG, p->enc_alg},           {SP_KEY_LEN, p->key_len},
        {SP_AUTH_ALG, p->auth_alg},         {SP_AUTH_KEY_LEN, p->auth_key_len},
        {SP_SALT_LEN, p->salt_len},         {SP_TAG_LEN, p->auth_tag_len},
        {SP_AEAD_TAG_LEN, p->aead_tag_len},
    };
    struct kms_buf b;
    kms_buf_init_fixed(&b, out, cap, false);
    for (size_t i = 0; i < sizeof(tv) / sizeof(tv[0]); i++) {
        bool hmac_only = tv[i][0] == SP_AUTH_KEY_LEN || tv[i][0] == SP_TAG_LEN;
        if ((hmac_only && p->auth_alg == 0) || (tv[i][0] == SP_AEAD_TAG_LEN && tv[i][1] == 0)) {
            continue;
        }
        KMS_TRY(kms_buf_put_u8(&b, tv[i][0]));
        KMS_TRY(kms_buf_put_u8(&b, 1));
        KMS_TRY(kms_buf_put_u8(&b, tv[i][1]));
    }
    *len = kms_buf_len(&b);
    return KMS_RESULT_OK;
}

kms_result kms_srtp_policy_sp_decode(const uint8_t *params, size_t len,
                                     const struct kms_srtp_policy **p)
{
    KMS_ENSURE(p != NULL && (params != NULL || len == 0), KMS_ERR_ARG);
    *p = NULL;
    int v[SP_TYPES];
    for (size_t i = 0; i < SP_TYPES; i++) {
        v[i] = -1;
    }
    struct kms_cur c;
    kms_cur_init(&c, params, len);
    while (kms_cur_remaining(&c) > 0) {
        uint8_t type = 0, l = 0, val = 0;
        KMS_TRY(kms_cur_get_u8(&c, &type));
        KMS_TRY(kms_cur_get_u8(&c, &l));
        KMS_ENSURE(l == 1, KMS_ERR_MALFORMED); /* every type we know has a one-octet value */
        KMS_TRY(kms_cur_get_u8(&c, &val));
        KMS_ENSURE(type < SP_TYPES && (type <= SP_PREFIX || type == SP_AEAD_TAG_LEN),
                   KMS_ERR_UNSUPPORTED);
        KMS_ENSURE(v[type] < 0, KMS_ERR_MALFORMED); /* each type once */
        v[type] = val;
    }
    /* What must be off or on when sent. */
    const uint8_t must0[] = {SP_PRF, SP_KDR, SP_FEC, SP_PREFIX};
    const uint8_t must1[] = {SP_SRTP_ENC, SP_SRTCP_ENC, SP_SRTP_AUTH};
    for (size_t i = 0; i < sizeof(must0); i++) {
        KMS_ENSURE(v[must0[i]] <= 0, KMS_ERR_UNSUPPORTED);
    }
    for (size_t i = 0; i < sizeof(must1); i++) {
        KMS_ENSURE(v[must1[i]] < 0 || v[must1[i]] == 1, KMS_ERR_UNSUPPORTED);
    }
    /* RFC 3830 6.10.1 defaults; AES-GCM's from RFC 7714 14.3 and 15. */
    int enc = v[SP_ENC_ALG] < 0 ? 1 : v[SP_ENC_ALG];
    bool gcm = enc == 6;
    int def[SP_TYPES] = {0};
    def[SP_KEY_LEN] = 16;
    def[SP_AUTH_ALG] = gcm ? 0 : 1;
    def[SP_AUTH_KEY_LEN] = gcm ? 0 : 20;
    def[SP_SALT_LEN] = gcm ? 12 : 14;
    def[SP_TAG_LEN] = gcm ? 0 : 10;
    def[SP_AEAD_TAG_LEN] = gcm ? 16 : 0;
    const uint8_t used[] = {SP_KEY_LEN,  SP_AUTH_ALG, SP_AUTH_KEY_LEN,
                            SP_SALT_LEN, SP_TAG_LEN,  SP_AEAD_TAG_LEN};
    for (size_t i = 0; i < sizeof(used); i++) {
        if (v[used[i]] < 0) {
            v[used[i]] = def[used[i]];
        }
    }
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        const struct kms_srtp_policy *q = &policies[i];
        bool hmac = q->auth_alg != 0;
        if (q->enc_alg == enc && q->key_len == v[SP_KEY_LEN] && q->auth_alg == v[SP_AUTH_ALG] &&
            (!hmac || q->auth_key_len == v[SP_AUTH_KEY_LEN]) && q->salt_len == v[SP_SALT_LEN] &&
            (!hmac || q->auth_tag_len == v[SP_TAG_LEN]) && q->aead_tag_len == v[SP_AEAD_TAG_LEN]) {
            *p = q;
            return KMS_RESULT_OK;
        }
    }
    KMS_BAIL(KMS_ERR_UNSUPPORTED);
}

kms_result kms_media_derive(const uint8_t *tgk, size_t tgk_len, const struct kms_srtp_policy *p,
                            uint8_t cs_id, const uint8_t *randri, size_t randri_len,
                            const uint8_t *randrr, size_t randrr_len, struct kms_media_stream *st)
{
    KMS_ENSURE(tgk != NULL && tgk_len > 0 && p != NULL && st != NULL, KMS_ERR_ARG);
    KMS_ENSURE(randri_len >= 1 && randrr_len >= 1, KMS_ERR_ARG); /* H = 1, G = 1 */
    KMS_ENSURE(p->key_len <= sizeof(st->key) && p->salt_len <= sizeof(st->salt), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    const struct kms_mikey_rands r = {randri, randri_len, randrr, randrr_len};
    struct kms_mikey_label l;
    KMS_TRY_OUT(rc, kms_mikey_label_ticket_tgk(KMS_MIKEY_C_TGK_TEK, cs_id, &r, &l));
    KMS_TRY_OUT(rc,
                kms_mikey_derive(KMS_MIKEY_PRF_HMAC_SHA256, tgk, tgk_len, &l, st->key, p->key_len));
    KMS_TRY_OUT(rc, kms_mikey_label_ticket_tgk(KMS_MIKEY_C_TGK_SALT, cs_id, &r, &l));
    KMS_TRY_OUT(
        rc, kms_mikey_derive(KMS_MIKEY_PRF_HMAC_SHA256, tgk, tgk_len, &l, st->salt, p->salt_len));
    st->cs_id = cs_id;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_wipe(st->key, sizeof(st->key));
        kms_wipe(st->salt, sizeof(st->salt));
    }
    return rc;
}

kms_result kms_media_addr_split(const char *addr, uint16_t min_port, char *host, size_t host_cap,
                                uint16_t *port)
{
    KMS_ENSURE(addr != NULL && host != NULL && port != NULL && host_cap > 0, KMS_ERR_ARG);
    host[0] = '\0';
    *port = 0;
    const char *colon = strrchr(addr, ':');
    KMS_ENSURE(colon != NULL, KMS_ERR_MALFORMED);
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    bool v6 = hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']';
    if (v6) {
        h++;
        hl -= 2;
    }
    KMS_ENSURE(hl > 0 && hl < host_cap && hl < INET6_ADDRSTRLEN, KMS_ERR_MALFORMED);
    char tmp[INET6_ADDRSTRLEN];
    memcpy(tmp, h, hl);
    tmp[hl] = '\0';
    unsigned char bin[sizeof(struct in6_addr)];
    KMS_ENSURE(inet_pton(v6 ? AF_INET6 : AF_INET, tmp, bin) == 1, KMS_ERR_MALFORMED);
    uint64_t p = 0;
    KMS_ENSURE(kms_ok(kms_dec_decode_u64(colon + 1, 65535, &p)) && p >= min_port,
               KMS_ERR_MALFORMED);
    memcpy(host, tmp, hl + 1);
    *port = (uint16_t)p;
    return KMS_RESULT_OK;
}

static bool addr_ok(const char *addr)
{
    char host[INET6_ADDRSTRLEN];
    uint16_t port = 0;
    return strnlen(addr, KMS_MEDIA_ADDR_MAX) < KMS_MEDIA_ADDR_MAX &&
           kms_ok(kms_media_addr_split(addr, 1, host, sizeof(host), &port));
}

kms_result kms_media_session_check(const struct kms_media_session *s)
{
    KMS_ENSURE(s != NULL && s->policy != NULL, KMS_ERR_ARG);
    KMS_ENSURE(s->policy == kms_srtp_policy_by_id(s->policy->id), KMS_ERR_ARG);
    KMS_ENSURE((s->local.cs_id == 1 && s->remote.cs_id == 2) ||
                   (s->local.cs_id == 2 && s->remote.cs_id == 1),
               KMS_ERR_ARG);
    KMS_ENSURE(s->local.ssrc != s->remote.ssrc, KMS_ERR_ARG);
    KMS_ENSURE(addr_ok(s->local_addr) && addr_ok(s->remote_addr), KMS_ERR_ARG);
    return KMS_RESULT_OK;
}

static kms_result put_line(struct kms_buf *out, const char *name, const char *val)
{
    KMS_TRY(kms_buf_put_bytes(out, (const uint8_t *)name, strlen(name)));
    KMS_TRY(kms_buf_put_u8(out, '='));
    KMS_TRY(kms_buf_put_bytes(out, (const uint8_t *)val, strlen(val)));
    return kms_buf_put_u8(out, '\n');
}

static kms_result put_dec(struct kms_buf *out, const char *name, uint64_t v)
{
    char d[24];
    int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)v);
    KMS_ENSURE(n > 0 && (size_t)n < sizeof(d), KMS_ERR_TOO_LONG);
    return put_line(out, name, d);
}

static kms_result put_hex(struct kms_buf *out, const char *name, const uint8_t *p, size_t n)
{
    char h[KMS_HEX_ENC_LEN(KMS_MEDIA_KEY_MAX)];
    kms_result rc = KMS_RC_INIT;
    KMS_TRY_OUT(rc, kms_hex_encode(p, n, h, sizeof(h)));
    KMS_TRY_OUT(rc, put_line(out, name, h));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(h, sizeof(h));
    return rc;
}

/* The four lines of one direction after its cs id: key, salt, roc, seq. */
static kms_result put_stream(struct kms_buf *out, const char *side,
                             const struct kms_media_stream *st, const struct kms_srtp_policy *pol)
{
    char name[32];
    (void)snprintf(name, sizeof(name), "%s_cs_id", side);
    KMS_TRY(put_dec(out, name, st->cs_id));
    (void)snprintf(name, sizeof(name), "%s_key", side);
    KMS_TRY(put_hex(out, name, st->key, pol->key_len));
    (void)snprintf(name, sizeof(name), "%s_salt", side);
    KMS_TRY(put_hex(out, name, st->salt, pol->salt_len));
    (void)snprintf(name, sizeof(name), "%s_roc", side);
    KMS_TRY(put_dec(out, name, st->roc));
    (void)snprintf(name, sizeof(name), "%s_seq", side);
    return put_dec(out, name, st->seq);
}

kms_result kms_media_session_encode(const struct kms_media_session *s, struct kms_buf *out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_media_session_check(s));
    size_t mark = kms_buf_len(out);
    kms_result rc = KMS_RC_INIT;
    KMS_TRY_OUT(rc, put_line(out, "version", "1"));
    KMS_TRY_OUT(rc, put_line(out, "policy", s->policy->name));
    KMS_TRY_OUT(rc, put_dec(out, "local_ssrc", s->local.ssrc));
    KMS_TRY_OUT(rc, put_dec(out, "remote_ssrc", s->remote.ssrc));
    KMS_TRY_OUT(rc, put_line(out, "local_addr", s->local_addr));
    KMS_TRY_OUT(rc, put_line(out, "remote_addr", s->remote_addr));
    KMS_TRY_OUT(rc, put_stream(out, "local", &s->local, s->policy));
    KMS_TRY_OUT(rc, put_stream(out, "remote", &s->remote, s->policy));
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_buf_truncate(out, mark);
    }
    return rc;
}

static kms_result get_dec(struct kms_cur *c, const char *name, uint64_t max, uint64_t *v)
{
    char val[24];
    KMS_TRY(kms_cur_get_kv_line(c, name, val, sizeof(val)));
    return kms_dec_decode_u64(val, max, v);
}

static kms_result get_hex(struct kms_cur *c, const char *name, uint8_t *p, size_t n)
{
    char val[KMS_HEX_ENC_LEN(KMS_MEDIA_KEY_MAX)];
    kms_result rc = KMS_RC_INIT;
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(c, name, val, sizeof(val)));
    KMS_ENSURE_OUT(rc, strlen(val) == 2 * n, KMS_ERR_BAD_LENGTH);
    KMS_TRY_OUT(rc, kms_hex_decode_exact(val, p, n));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(val, sizeof(val));
    return rc;
}

static kms_result get_stream(struct kms_cur *c, const char *side, struct kms_media_stream *st,
                             const struct kms_srtp_policy *pol)
{
    char name[32];
    uint64_t v = 0;
    (void)snprintf(name, sizeof(name), "%s_cs_id", side);
    KMS_TRY(get_dec(c, name, 2, &v));
    KMS_ENSURE(v >= 1, KMS_ERR_MALFORMED);
    st->cs_id = (uint8_t)v;
    (void)snprintf(name, sizeof(name), "%s_key", side);
    KMS_TRY(get_hex(c, name, st->key, pol->key_len));
    (void)snprintf(name, sizeof(name), "%s_salt", side);
    KMS_TRY(get_hex(c, name, st->salt, pol->salt_len));
    (void)snprintf(name, sizeof(name), "%s_roc", side);
    KMS_TRY(get_dec(c, name, UINT32_MAX, &v));
    st->roc = (uint32_t)v;
    (void)snprintf(name, sizeof(name), "%s_seq", side);
    KMS_TRY(get_dec(c, name, UINT16_MAX, &v));
    st->seq = (uint16_t)v;
    return KMS_RESULT_OK;
}

kms_result kms_media_session_decode(const uint8_t *p, size_t n, struct kms_media_session *s)
{
    KMS_ENSURE(s != NULL, KMS_ERR_ARG);
    memset(s, 0, sizeof(*s));
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    char val[KMS_MEDIA_ADDR_MAX];
    uint64_t v = 0;
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "version", val, sizeof(val)));
    KMS_ENSURE_OUT(rc, strcmp(val, "1") == 0, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "policy", val, sizeof(val)));
    s->policy = kms_srtp_policy_by_name(val);
    KMS_ENSURE_OUT(rc, s->policy != NULL, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, get_dec(&c, "local_ssrc", UINT32_MAX, &v));
    s->local.ssrc = (uint32_t)v;
    KMS_TRY_OUT(rc, get_dec(&c, "remote_ssrc", UINT32_MAX, &v));
    s->remote.ssrc = (uint32_t)v;
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "local_addr", s->local_addr, sizeof(s->local_addr)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "remote_addr", s->remote_addr, sizeof(s->remote_addr)));
    KMS_TRY_OUT(rc, get_stream(&c, "local", &s->local, s->policy));
    KMS_TRY_OUT(rc, get_stream(&c, "remote", &s->remote, s->policy));
    KMS_TRY_OUT(rc, kms_cur_expect_end(&c));
    KMS_ENSURE_OUT(rc, kms_ok(kms_media_session_check(s)), KMS_ERR_MALFORMED);
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_media_session_wipe(s);
    }
    return rc;
}

kms_result kms_media_session_save(const char *dir, const struct kms_media_session *s)
{
    KMS_ENSURE(dir != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    char path[4096];
    struct kms_buf img;
    kms_buf_init(&img, KMS_MEDIA_SESSION_MAX, true);
    KMS_TRY_OUT(rc, kms_media_session_encode(s, &img));
    KMS_TRY_OUT(rc, kms_file_path(path, sizeof(path), dir, "srtp"));
    KMS_TRY_OUT(rc, kms_file_write_atomic(path, kms_buf_data(&img), kms_buf_len(&img)));
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&img);
    return rc;
}

kms_result kms_media_session_load(const char *dir, struct kms_media_session *s)
{
    KMS_ENSURE(dir != NULL && s != NULL, KMS_ERR_ARG);
    memset(s, 0, sizeof(*s));
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0;
    KMS_TRY_OUT(rc, kms_file_read_at(dir, "srtp", KMS_MEDIA_SESSION_MAX, true, &img, &n));
    KMS_TRY_OUT(rc, kms_media_session_decode(img, n, s));
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    return rc;
}

kms_result kms_media_fingerprint(const struct kms_media_session *s, uint8_t fp[KMS_MEDIA_FP_LEN])
{
    KMS_ENSURE(fp != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_media_session_check(s));
    const struct kms_media_stream *first = s->local.cs_id == 1 ? &s->local : &s->remote;
    const struct kms_media_stream *second = first == &s->local ? &s->remote : &s->local;
    const struct kms_srtp_policy *pol = s->policy;
    kms_result rc = KMS_RC_INIT;
    uint8_t h[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_ENSURE_OUT(rc,
                   EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
                       EVP_DigestUpdate(ctx, first->key, pol->key_len) == 1 &&
                       EVP_DigestUpdate(ctx, first->salt, pol->salt_len) == 1 &&
                       EVP_DigestUpdate(ctx, second->key, pol->key_len) == 1 &&
                       EVP_DigestUpdate(ctx, second->salt, pol->salt_len) == 1 &&
                       EVP_DigestFinal_ex(ctx, h, NULL) == 1,
                   KMS_ERR_CRYPTO);
    memcpy(fp, h, KMS_MEDIA_FP_LEN);
    rc = KMS_RESULT_OK;
out:
    EVP_MD_CTX_free(ctx);
    kms_wipe(h, sizeof(h));
    return rc;
}

void kms_media_session_wipe(struct kms_media_session *s)
{
    if (s != NULL) {
        kms_wipe(s, sizeof(*s));
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The media-session module (ue/kms_media.h): policies, the session file, the fingerprint. */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

#include "ue/kms_media.h"

/* CS 1: key 00..0f, salt 10..1d; CS 2: key 20..2f, salt 30..3d (aes128-hmac80). */
#define K1 "000102030405060708090a0b0c0d0e0f"
#define S1 "101112131415161718191a1b1c1d"
#define K2 "202122232425262728292a2b2c2d2e2f"
#define S2 "303132333435363738393a3b3c3d"

static int img(char *out, size_t cap, const char *policy, const char *lssrc, const char *laddr,
               const char *lcs, const char *lkey, const char *lseq)
{
    return snprintf(out, cap,
                    "version=1\npolicy=%s\nlocal_ssrc=%s\nremote_ssrc=2222\n"
                    "local_addr=%s\nremote_addr=[::1]:40002\n"
                    "local_cs_id=%s\nlocal_key=%s\nlocal_salt=" S2 "\nlocal_roc=0\nlocal_seq=%s\n"
                    "remote_cs_id=1\nremote_key=" K1 "\nremote_salt=" S1
                    "\nremote_roc=7\nremote_seq=65535\n",
                    policy, lssrc, laddr, lcs, lkey, lseq);
}

static kms_result decode(const char *policy, const char *lssrc, const char *laddr, const char *lcs,
                         const char *lkey, const char *lseq, struct kms_media_session *s)
{
    char b[1024];
    int n = img(b, sizeof(b), policy, lssrc, laddr, lcs, lkey, lseq);
    assert_true(n > 0 && (size_t)n < sizeof(b));
    return kms_media_session_decode((const uint8_t *)b, (size_t)n, s);
}

static void policies_carry_the_rfc_parameters(void **state)
{
    (void)state;
    const struct kms_srtp_policy *p = kms_srtp_policy_by_name("aes128-hmac80");
    assert_non_null(p);
    assert_ptr_equal(p, kms_srtp_policy_default());
    /* RFC 3830 6.10.1: AES-CM = 1, HMAC-SHA-1 = 1; 16-octet key, 14-octet salt, 80-bit tag. */
    assert_int_equal(p->enc_alg, 1);
    assert_int_equal(p->key_len, 16);
    assert_int_equal(p->auth_alg, 1);
    assert_int_equal(p->salt_len, 14);
    assert_int_equal(p->auth_tag_len, 10);
    p = kms_srtp_policy_by_name("aes256-hmac80"); /* RFC 6188 */
    assert_non_null(p);
    assert_int_equal(p->key_len, 32);
    assert_int_equal(p->salt_len, 14);
    assert_string_equal(p->suite, "AES_256_CM_HMAC_SHA1_80");
    p = kms_srtp_policy_by_name("aes128-gcm"); /* RFC 7714 14.3: AES-GCM = 6, tag 16 */
    assert_non_null(p);
    assert_int_equal(p->enc_alg, 6);
    assert_int_equal(p->salt_len, 12);
    assert_int_equal(p->aead_tag_len, 16);
    assert_int_equal(p->auth_alg, 0);
    assert_null(kms_srtp_policy_by_name("AES128-HMAC80"));
    assert_null(kms_srtp_policy_by_name(""));
    assert_null(kms_srtp_policy_by_name(NULL));
}

static void session_reads_and_writes_back(void **state)
{
    (void)state;
    char b[1024];
    int n = img(b, sizeof(b), "aes128-hmac80", "1111", "127.0.0.1:40000", "2", K2, "100");
    struct kms_media_session s;
    expect_ok(kms_media_session_decode((const uint8_t *)b, (size_t)n, &s));
    assert_int_equal(s.local.ssrc, 1111);
    assert_int_equal(s.remote.ssrc, 2222);
    assert_int_equal(s.local.cs_id, 2);
    assert_int_equal(s.remote.roc, 7);
    assert_int_equal(s.remote.seq, 65535);
    assert_int_equal(s.local.seq, 100);
    assert_int_equal(s.local.key[15], 0x2f);
    assert_string_equal(s.remote_addr, "[::1]:40002");
    struct kms_buf out;
    kms_buf_init(&out, 4096, true);
    expect_ok(kms_media_session_encode(&s, &out));
    assert_int_equal(kms_buf_len(&out), (size_t)n);
    assert_memory_equal(kms_buf_data(&out), b, (size_t)n);
    kms_buf_cleanup(&out);
    kms_media_session_wipe(&s);
}

/* The fingerprint is SHA-256 over key || salt of CS 1 then CS 2, first 8 octets; expected
 * value from Python's hashlib (and `openssl dgst -sha256`) over the same 60 octets. */
static void fingerprint_is_in_cs_order(void **state)
{
    (void)state;
    static const uint8_t want[8] = {0xd8, 0xdc, 0xe8, 0x8d, 0x13, 0x55, 0x98, 0x5a};
    struct kms_media_session s;
    expect_ok(decode("aes128-hmac80", "1111", "127.0.0.1:40000", "2", K2, "0", &s));
    uint8_t fp[KMS_MEDIA_FP_LEN];
    expect_ok(kms_media_fingerprint(&s, fp));
    assert_memory_equal(fp, want, sizeof(want));
    /* The other side of the call holds the same streams the other way round. */
    struct kms_media_stream t = s.local;
    s.local = s.remote;
    s.remote = t;
    expect_ok(kms_media_fingerprint(&s, fp));
    assert_memory_equal(fp, want, sizeof(want));
    s.remote.salt[0] ^= 1;
    expect_ok(kms_media_fingerprint(&s, fp));
    assert_memory_not_equal(fp, want, sizeof(want));
    kms_media_session_wipe(&s);
}

static void session_refuses_what_breaks_the_rules(void **state)
{
    (void)state;
    struct kms_media_session s;
    expect_err(decode("aes128-f8", "1111", "127.0.0.1:1", "2", K2, "0", &s), KMS_ERR_UNSUPPORTED);
    /* equal SSRCs, equal cs ids, a cs id out of range */
    expect_err(decode("aes128-hmac80", "2222", "127.0.0.1:1", "2", K2, "0", &s), KMS_ERR_MALFORMED);
    expect_err(decode("aes128-hmac80", "1111", "127.0.0.1:1", "1", K2, "0", &s), KMS_ERR_MALFORMED);
    expect_err(decode("aes128-hmac80", "1111", "127.0.0.1:1", "3", K2, "0", &s), KMS_ERR_MALFORMED);
    expect_err(decode("aes128-hmac80", "1111", "127.0.0.1:1", "0", K2, "0", &s), KMS_ERR_MALFORMED);
    /* a key not of the policy's length (aes256 wants 32 octets) */
    expect_err(decode("aes256-hmac80", "1111", "127.0.0.1:1", "2", K2, "0", &s),
               KMS_ERR_BAD_LENGTH);
    /* numbers with another spelling or out of range */
    expect_err(decode("aes128-hmac80", "4294967296", "127.0.0.1:1", "2", K2, "0", &s),
               KMS_ERR_MALFORMED);
    expect_err(decode("aes128-hmac80", "1111", "127.0.0.1:1", "2", K2, "65536", &s),
               KMS_ERR_MALFORMED);
    expect_err(decode("aes128-hmac80", "01111", "127.0.0.1:1", "2", K2, "0", &s),
               KMS_ERR_MALFORMED);
    /* addresses: no port, port 0, a name, an unbracketed IPv6, port too large */
    static const char *const bad[] = {"127.0.0.1",       "127.0.0.1:0",   "localhost:5", "::1:5",
                                      "127.0.0.1:65536", "[127.0.0.1]:5", "1.2.3:5",     ":5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&s, 0x5a, sizeof(s));
        expect_err(decode("aes128-hmac80", "1111", bad[i], "2", K2, "0", &s), KMS_ERR_MALFORMED);
        assert_null(s.policy);
        assert_int_equal(s.local.key[0], 0);
    }
}

static void session_refuses_truncation_and_trailing_bytes(void **state)
{
    (void)state;
    char b[1024];
    int n = img(b, sizeof(b), "aes128-hmac80", "1111", "127.0.0.1:40000", "2", K2, "0");
    struct kms_media_session s;
    for (int cut = 0; cut < n; cut++) {
        assert_false(kms_ok(kms_media_session_decode((const uint8_t *)b, (size_t)cut, &s)));
        assert_null(s.policy);
    }
    b[n] = '\n';
    assert_false(kms_ok(kms_media_session_decode((const uint8_t *)b, (size_t)n + 1, &s)));
    b[4] ^= 0x20; /* "version" -> "veRsion" */
    assert_false(kms_ok(kms_media_session_decode((const uint8_t *)b, (size_t)n, &s)));
}

static void addr_split_gives_host_and_port(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    expect_ok(kms_media_addr_split("[::1]:5004", 1, host, sizeof(host), &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 5004);
    expect_ok(kms_media_addr_split("192.0.2.1:65535", 1, host, sizeof(host), &port));
    assert_string_equal(host, "192.0.2.1");
    assert_int_equal(port, 65535);
    expect_err(kms_media_addr_split("192.0.2.1:65535", 1, host, 4, &port), KMS_ERR_MALFORMED);
    /* Port 0: a listen address (any free port), never a session file's. */
    expect_err(kms_media_addr_split("127.0.0.1:0", 1, host, sizeof(host), &port),
               KMS_ERR_MALFORMED);
    expect_ok(kms_media_addr_split("127.0.0.1:0", 0, host, sizeof(host), &port));
    assert_int_equal(port, 0);
}

/* TEK and salt per crypto session against srtp_tek_model.txt, computed by the independent Python
 * model (tests/vectors/mk_mikey_prf.py --srtp, re-checked by a CTest), never by this code. */
static void derive_matches_the_model(void **state)
{
    (void)state;
    struct tv_file f;
    size_t seen = 0;
    tv_load("srtp_tek_model.txt", &f);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        const struct kms_srtp_policy *p = kms_srtp_policy_by_name(tv_get(b, "policy"));
        assert_non_null(p);
        uint8_t tgk[32], ri[64], rr[64], cs[1], tek[32], salt[14];
        size_t tl = tv_hex_any(b, "tgk", tgk, sizeof(tgk));
        size_t ril = tv_hex_any(b, "randri", ri, sizeof(ri));
        size_t rrl = tv_hex_any(b, "randrr", rr, sizeof(rr));
        tv_hex(b, "cs_id", cs, 1);
        assert_int_equal(tv_hex_any(b, "tek", tek, sizeof(tek)), p->key_len);
        assert_int_equal(tv_hex_any(b, "salt", salt, sizeof(salt)), p->salt_len);
        struct kms_media_stream st;
        memset(&st, 0xAA, sizeof(st));
        expect_ok(kms_media_derive(tgk, tl, p, cs[0], ri, ril, rr, rrl, &st));
        assert_int_equal(st.cs_id, cs[0]);
        expect_bytes_eq(st.key, tek, p->key_len);
        expect_bytes_eq(st.salt, salt, p->salt_len);
        seen++;
    }
    assert_int_equal(seen, 12); /* 2 TGK lengths x 3 policies x 2 crypto sessions */
    tv_free(&f);
    /* H = 1, G = 1: both RANDs are required. */
    struct kms_media_stream st;
    uint8_t tgk[16] = {0}, r[16] = {0};
    expect_err(kms_media_derive(tgk, 16, kms_srtp_policy_default(), 1, r, 16, r, 0, &st),
               KMS_ERR_ARG);
}

/* The SP parameters of RFC 3830 6.10.1 (and RFC 7714 14.3), written out by hand. */
static void sp_params_encode_and_decode(void **state)
{
    (void)state;
    static const uint8_t cm128[] = {0, 1, 1, 1, 1, 16, 2, 1, 1, 3, 1, 20, 4, 1, 14, 11, 1, 10};
    static const uint8_t cm256[] = {0, 1, 1, 1, 1, 32, 2, 1, 1, 3, 1, 20, 4, 1, 14, 11, 1, 10};
    static const uint8_t gcm[] = {0, 1, 6, 1, 1, 16, 2, 1, 0, 4, 1, 12, 20, 1, 16};
    const struct {
        const char *name;
        const uint8_t *sp;
        size_t n;
    } want[] = {{"aes128-hmac80", cm128, sizeof(cm128)},
                {"aes256-hmac80", cm256, sizeof(cm256)},
                {"aes128-gcm", gcm, sizeof(gcm)}};
    for (size_t i = 0; i < 3; i++) {
        const struct kms_srtp_policy *p = kms_srtp_policy_by_name(want[i].name), *q = NULL;
        uint8_t b[KMS_SRTP_SP_MAX];
        size_t n = 0;
        expect_ok(kms_srtp_policy_sp_encode(p, b, sizeof(b), &n));
        assert_int_equal(n, want[i].n);
        expect_bytes_eq(b, want[i].sp, n);
        expect_ok(kms_srtp_policy_sp_decode(b, n, &q));
        assert_ptr_equal(q, p);
    }
    const struct kms_srtp_policy *q = NULL;
    /* Nothing sent: the RFC 3830 defaults are AES-CM-128 with HMAC-SHA-1-80. */
    expect_ok(kms_srtp_policy_sp_decode(NULL, 0, &q));
    assert_ptr_equal(q, kms_srtp_policy_default());
    /* AES-GCM with its defaults (RFC 7714 14.3). */
    static const uint8_t gcm_min[] = {0, 1, 6};
    expect_ok(kms_srtp_policy_sp_decode(gcm_min, sizeof(gcm_min), &q));
    assert_ptr_equal(q, kms_srtp_policy_by_name("aes128-gcm"));
    /* Explicit on/off switches as they must be are fine. */
    static const uint8_t on[] = {7, 1, 1, 8, 1, 1, 10, 1, 1, 5, 1, 0};
    expect_ok(kms_srtp_policy_sp_decode(on, sizeof(on), &q));
    /* Refused: a 4-octet tag (32-bit HMAC), SRTP encryption off, an unknown type, a NULL
     * cipher, a 20-octet key, twice a type, a 2-octet value, a truncated triple. */
    static const uint8_t tag4[] = {11, 1, 4}, off[] = {7, 1, 0}, unk[] = {13, 1, 0},
                         null_enc[] = {0, 1, 0}, key20[] = {1, 1, 20}, twice[] = {0, 1, 1, 0, 1, 1},
                         two[] = {1, 2, 0, 16}, trunc[] = {1, 1};
    expect_err(kms_srtp_policy_sp_decode(tag4, 3, &q), KMS_ERR_UNSUPPORTED);
    expect_err(kms_srtp_policy_sp_decode(off, 3, &q), KMS_ERR_UNSUPPORTED);
    expect_err(kms_srtp_policy_sp_decode(unk, 3, &q), KMS_ERR_UNSUPPORTED);
    expect_err(kms_srtp_policy_sp_decode(null_enc, 3, &q), KMS_ERR_UNSUPPORTED);
    expect_err(kms_srtp_policy_sp_decode(key20, 3, &q), KMS_ERR_UNSUPPORTED);
    expect_err(kms_srtp_policy_sp_decode(twice, 6, &q), KMS_ERR_MALFORMED);
    expect_err(kms_srtp_policy_sp_decode(two, 4, &q), KMS_ERR_MALFORMED);
    assert_false(kms_ok(kms_srtp_policy_sp_decode(trunc, 2, &q)));
    assert_null(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policies_carry_the_rfc_parameters),
        cmocka_unit_test(session_reads_and_writes_back),
        cmocka_unit_test(fingerprint_is_in_cs_order),
        cmocka_unit_test(session_refuses_what_breaks_the_rules),
        cmocka_unit_test(session_refuses_truncation_and_trailing_bytes),
        cmocka_unit_test(addr_split_gives_host_and_port),
        cmocka_unit_test(derive_matches_the_model),
        cmocka_unit_test(sp_params_encode_and_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/kms_kdf.h"
#include "imskms/imskms.h"
#include "crypto/kms_ossl.h"
#include "util/kms_buf.h"

static void hmac_sha256_rfc4231(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("hmac_sha256_rfc4231.txt", &f);
    assert_int_equal(f.n, 3);
    for (size_t i = 0; i < f.n; i++) {
        uint8_t key[64], data[128], mac[32], out[32];
        size_t klen = tv_hex_any(&f.blocks[i], "key", key, sizeof(key));
        size_t dlen = tv_hex_any(&f.blocks[i], "data", data, sizeof(data));
        tv_hex(&f.blocks[i], "mac", mac, 32);
        expect_ok(kms_hmac_sha256(key, klen, data, dlen, out));
        expect_bytes_eq(out, mac, 32);
    }
    tv_free(&f);
}

/* The MAC of one vector block with every HMAC entry point: kms_hmac over the data in one
 * part and split in three, and a prepared kms_hmac_key used twice (it is only read). */
static void check_hmac_block(const struct tv_block *b)
{
    uint8_t key[256], data[256], mac[32], out[32];
    const char *digest = tv_get(b, "digest");
    size_t klen = tv_hex_any(b, "key", key, sizeof(key));
    size_t dlen = tv_hex_any(b, "data", data, sizeof(data));
    size_t mlen = tv_hex_any(b, "mac", mac, sizeof(mac));
    size_t got = 0;
    struct kms_iov one = {data, dlen};
    memset(out, 0, sizeof(out));
    expect_ok(kms_hmac(digest, key, klen, &one, 1, out, sizeof(out), &got));
    assert_int_equal(got, mlen);
    expect_bytes_eq(out, mac, mlen);
    struct kms_iov three[3] = {{data, 3}, {data + 3, 0}, {data + 3, dlen - 3}};
    memset(out, 0, sizeof(out));
    expect_ok(kms_hmac(digest, key, klen, three, 3, out, sizeof(out), &got));
    expect_bytes_eq(out, mac, mlen);
    struct kms_hmac_key k;
    expect_ok(kms_hmac_key_init(&k, digest, key, klen));
    assert_int_equal(k.out_len, mlen);
    for (int i = 0; i < 2; i++) {
        memset(out, 0, sizeof(out));
        expect_ok(kms_hmac_key_mac(&k, three, 3, out, sizeof(out)));
        expect_bytes_eq(out, mac, mlen);
    }
    kms_hmac_key_cleanup(&k);
    assert_null(k.inner);
    kms_hmac_key_cleanup(&k); /* twice is harmless */
}

static void hmac_long_keys_and_sha1(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("hmac_rfc4231_rfc2202.txt", &f);
    assert_int_equal(f.n, 4);
    for (size_t i = 0; i < f.n; i++) {
        check_hmac_block(&f.blocks[i]);
    }
    tv_free(&f);
}

/* The prepared key against the RFC 4231 cases with short keys (tc2: shorter than the block). */
static void hmac_key_rfc4231(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("hmac_sha256_rfc4231.txt", &f);
    for (size_t i = 0; i < f.n; i++) {
        uint8_t key[64], data[128], mac[32], out[32];
        size_t klen = tv_hex_any(&f.blocks[i], "key", key, sizeof(key));
        size_t dlen = tv_hex_any(&f.blocks[i], "data", data, sizeof(data));
        tv_hex(&f.blocks[i], "mac", mac, 32);
        struct kms_hmac_key k;
        struct kms_iov part = {data, dlen};
        expect_ok(kms_hmac_key_init(&k, "SHA256", key, klen));
        expect_ok(kms_hmac_key_mac(&k, &part, 1, out, sizeof(out)));
        expect_bytes_eq(out, mac, 32);
        kms_hmac_key_cleanup(&k);
    }
    tv_free(&f);
}

static void hmac_refuses_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, out[32];
    size_t got = 7;
    struct kms_iov part = {key, sizeof(key)};
    struct kms_hmac_key k;
    expect_err(kms_hmac_key_init(&k, "MD5", key, sizeof(key)), KMS_ERR_ARG);
    assert_null(k.inner);
    expect_err(kms_hmac("MD5", key, sizeof(key), &part, 1, out, sizeof(out), &got), KMS_ERR_CRYPTO);
    assert_int_equal(got, 0);
    /* An output too small for the digest. */
    expect_err(kms_hmac("SHA256", key, sizeof(key), &part, 1, out, 31, &got), KMS_ERR_ARG);
    expect_ok(kms_hmac_key_init(&k, "SHA256", key, sizeof(key)));
    expect_err(kms_hmac_key_mac(&k, &part, 1, out, 31), KMS_ERR_ARG);
    kms_hmac_key_cleanup(&k);
    /* A cleaned-up key MACs nothing. */
    expect_err(kms_hmac_key_mac(&k, &part, 1, out, sizeof(out)), KMS_ERR_ARG);
}

/* The pooled draw: bounds, and no octet handed out twice across the pool's refills. */
static void random_pooled_hands_out_fresh_octets(void **state)
{
    (void)state;
    uint8_t a[KMS_RANDOM_POOLED_MAX], b[KMS_RANDOM_POOLED_MAX], big[KMS_RANDOM_POOLED_MAX + 1];
    expect_err(kms_random_pooled(a, 0), KMS_ERR_ARG);
    expect_err(kms_random_pooled(big, sizeof(big)), KMS_ERR_ARG);
    expect_err(kms_random_pooled(NULL, 16), KMS_ERR_ARG);
    /* 200 draws of 48 octets cross several 1 KiB refills; any two 16-octet prefixes equal
     * would be a repeat (2^-128 by chance). */
    static uint8_t seen[200][16];
    for (size_t i = 0; i < 200; i++) {
        expect_ok(kms_random_pooled(a, 48));
        memcpy(seen[i], a, 16);
        for (size_t j = 0; j < i; j++) {
            assert_false(memcmp(seen[i], seen[j], 16) == 0);
        }
    }
    expect_ok(kms_random_pooled(a, sizeof(a)));
    expect_ok(kms_random_pooled(b, sizeof(b)));
    assert_false(memcmp(a, b, sizeof(a)) == 0);
}

/* After fork() the child must not hand out what the parent's pool held: the parent draws the
 * next octets of its (pre-fork) pool only after the child reported its own draw. */
static void random_pooled_child_does_not_repeat_parent(void **state)
{
    (void)state;
    uint8_t warm[16], parent[32], child[32];
    expect_ok(kms_random_pooled(warm, sizeof(warm))); /* the pool is filled before the fork */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t c[32];
        int ok = kms_ok(kms_random_pooled(c, sizeof(c))) &&
                 write(fds[1], c, sizeof(c)) == (ssize_t)sizeof(c);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    expect_ok(kms_random_pooled(parent, sizeof(parent)));
    assert_false(memcmp(parent, child, sizeof(parent)) == 0);
}

/* S assembled here byte by byte from the table of TS 33.220 B.3 (protocol-facts.md 1.3),
 * without the library's KDF code, must equal what the library hashes. */
static void ks_naf_s_matches_the_b3_layout(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("kdf_ts33220.txt", &f);
    const struct tv_block *b = tv_find(&f, "ks_naf gba-me set1");
    uint8_t rand[16], ua[5], want_s[512], expect[512];
    const char *impi = tv_get(b, "impi"), *fqdn = tv_get(b, "naf_fqdn");
    size_t il = strlen(impi), fl = strlen(fqdn), n = 0;
    tv_hex(b, "rand", rand, 16);
    tv_hex(b, "ua_id", ua, 5);
    expect[n++] = 0x01; /* FC */
    memcpy(expect + n, "gba-me", 6);
    n += 6;
    expect[n++] = 0x00; /* L0 */
    expect[n++] = 0x06;
    memcpy(expect + n, rand, 16);
    n += 16;
    expect[n++] = 0x00; /* L1 */
    expect[n++] = 0x10;
    memcpy(expect + n, impi, il);
    n += il;
    expect[n++] = (uint8_t)(il >> 8); /* L2 */
    expect[n++] = (uint8_t)il;
    memcpy(expect + n, fqdn, fl); /* P3 = NAF_Id = FQDN || Ua id */
    n += fl;
    memcpy(expect + n, ua, 5);
    n += 5;
    expect[n++] = (uint8_t)((fl + 5) >> 8); /* L3 */
    expect[n++] = (uint8_t)(fl + 5);

    struct kms_buf s;
    kms_buf_init(&s, 4096, false);
    expect_ok(kms_gba_ks_naf_s(rand, impi, il, fqdn, fl, ua, &s));
    assert_int_equal(kms_buf_len(&s), n);
    expect_bytes_eq(kms_buf_data(&s), expect, n);
    size_t sl = tv_hex_any(b, "s", want_s, sizeof(want_s));
    assert_int_equal(sl, n);
    expect_bytes_eq(want_s, expect, n);
    kms_buf_cleanup(&s);
    tv_free(&f);
}

static void ks_naf_known_answer(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("kdf_ts33220.txt", &f);
    const struct tv_block *b = tv_find(&f, "ks_naf gba-me set1");
    uint8_t ck[16], ik[16], rand[16], ua[5], want[32], out[32];
    tv_hex(b, "ck", ck, 16);
    tv_hex(b, "ik", ik, 16);
    tv_hex(b, "rand", rand, 16);
    tv_hex(b, "ua_id", ua, 5);
    tv_hex(b, "ks_naf", want, 32);
    const char *impi = tv_get(b, "impi"), *fqdn = tv_get(b, "naf_fqdn");
    expect_ok(kms_gba_ks_naf(ck, ik, rand, impi, strlen(impi), fqdn, strlen(fqdn), ua, out));
    expect_bytes_eq(out, want, 32);
    /* the default Ua id of the KMS is 01 00 00 00 06 */
    expect_bytes_eq(KMS_UA_ID_KMS, ua, 5);
    /* Every input matters: one changed bit anywhere changes the key. */
    uint8_t *inputs[] = {ck, ik, rand, ua};
    size_t lens[] = {16, 16, 16, 5};
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < lens[k] * 8; i++) {
            uint8_t other[32];
            inputs[k][i / 8] ^= (uint8_t)(1u << (i % 8));
            expect_ok(
                kms_gba_ks_naf(ck, ik, rand, impi, strlen(impi), fqdn, strlen(fqdn), ua, other));
            inputs[k][i / 8] ^= (uint8_t)(1u << (i % 8));
            assert_memory_not_equal(other, want, 32);
        }
    }
    tv_free(&f);
}

static void generic_kdf_two_octet_fc_and_empty_param(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("kdf_ts33220.txt", &f);
    const struct tv_block *b = tv_find(&f, "kdf fc ff01, one text parameter, one empty parameter");
    uint8_t key[32], fc[2], p0[8], s[64], want[32], out[32];
    tv_hex(b, "key", key, 32);
    tv_hex(b, "fc", fc, 2);
    size_t p0l = tv_hex_any(b, "p0", p0, sizeof(p0));
    assert_string_equal(tv_get(b, "p1"), "");
    size_t sl = tv_hex_any(b, "s", s, sizeof(s));
    tv_hex(b, "out", want, 32);
    struct kms_kdf_param p[2] = {{p0, p0l}, {NULL, 0}};
    struct kms_buf sb;
    kms_buf_init(&sb, 256, false);
    expect_ok(kms_kdf_build_s(fc, 2, p, 2, &sb));
    assert_int_equal(kms_buf_len(&sb), sl);
    expect_bytes_eq(kms_buf_data(&sb), s, sl);
    expect_ok(kms_kdf(key, 32, fc, 2, p, 2, out));
    expect_bytes_eq(out, want, 32);
    kms_buf_cleanup(&sb);
    tv_free(&f);
}

static void kdf_refuses_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[32] = {0}, out[32], fc_ff = 0xff, fc1 = 0x01, fc2[2] = {0x01, 0x02};
    static uint8_t big[0x10000];
    struct kms_kdf_param p[KMS_KDF_MAX_PARAMS + 1];
    for (size_t i = 0; i < KMS_KDF_MAX_PARAMS + 1; i++) {
        p[i] = (struct kms_kdf_param){key, 1};
    }
    expect_err(kms_kdf(key, 32, &fc_ff, 1, p, 1, out), KMS_ERR_ARG);
    expect_err(kms_kdf(key, 32, fc2, 2, p, 1, out), KMS_ERR_ARG);
    expect_err(kms_kdf(key, 32, &fc1, 0, p, 1, out), KMS_ERR_ARG);
    expect_ok(kms_kdf(key, 32, &fc1, 1, p, KMS_KDF_MAX_PARAMS, out));
    expect_err(kms_kdf(key, 32, &fc1, 1, p, KMS_KDF_MAX_PARAMS + 1, out), KMS_ERR_ARG);
    /* Li is two octets: 65535 is the longest parameter */
    p[0] = (struct kms_kdf_param){big, 0xffff};
    expect_ok(kms_kdf(key, 32, &fc1, 1, p, 1, out));
    p[0] = (struct kms_kdf_param){big, 0x10000};
    expect_err(kms_kdf(key, 32, &fc1, 1, p, 1, out), KMS_ERR_ARG);
    p[0] = (struct kms_kdf_param){NULL, 3};
    expect_err(kms_kdf(key, 32, &fc1, 1, p, 1, out), KMS_ERR_ARG);
}

/* The identity rules themselves are tested in test_ident; here, that Ks_NAF applies them. */
static void ks_naf_refuses_bad_identities(void **state)
{
    (void)state;
    uint8_t rand[16] = {0}, ck[16] = {0}, ik[16] = {0}, out[32];
    struct kms_buf s;
    kms_buf_init(&s, 4096, false);
    expect_err(kms_gba_ks_naf_s(rand, "us er@x", 7, "kms.example.org", 15, KMS_UA_ID_KMS, &s),
               KMS_ERR_NOT_ASCII);
    expect_err(kms_gba_ks_naf_s(rand, "", 0, "kms.example.org", 15, KMS_UA_ID_KMS, &s),
               KMS_ERR_ARG);
    expect_err(kms_gba_ks_naf(ck, ik, rand, "a@b", 3, "kms..org", 8, KMS_UA_ID_KMS, out),
               KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&s), 0);
    kms_buf_cleanup(&s);
}

/* B-TID = base64(RAND)@BSF-FQDN; the expected value is protocol-facts.md 1.6's, copied with its
 * source into tests/vectors/protocol_facts.txt [btid set1]. */
static void btid_format(void **state)
{
    (void)state;
    uint8_t rand[16];
    char out[KMS_BTID_MAX];
    struct tv_file f;
    tv_load("protocol_facts.txt", &f);
    const struct tv_block *b = tv_find(&f, "btid set1");
    const char *fqdn = tv_get(b, "bsf_fqdn");
    tv_hex(b, "rand", rand, 16);
    expect_ok(kms_gba_btid(rand, fqdn, strlen(fqdn), out, sizeof(out)));
    assert_string_equal(out, tv_get(b, "btid"));
    expect_err(kms_gba_btid(rand, fqdn, strlen(fqdn), out, 24 + 1 + strlen(fqdn)),
               KMS_ERR_TOO_LONG);
    expect_ok(kms_gba_btid(rand, fqdn, strlen(fqdn), out, 24 + 1 + strlen(fqdn) + 1));
    expect_err(kms_gba_btid(rand, "bad fqdn", 8, out, sizeof(out)), KMS_ERR_ARG);
    tv_free(&f);
}

/* The daemons' power-on self-tests pass on this build. */
static void power_on_selftests_pass(void **state)
{
    (void)state;
    expect_ok(kms_selftest());
    assert_string_equal(kms_version(), IMSKMS_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(power_on_selftests_pass),
        cmocka_unit_test(hmac_sha256_rfc4231),
        cmocka_unit_test(hmac_long_keys_and_sha1),
        cmocka_unit_test(hmac_key_rfc4231),
        cmocka_unit_test(hmac_refuses_bad_arguments),
        cmocka_unit_test(random_pooled_hands_out_fresh_octets),
        cmocka_unit_test(random_pooled_child_does_not_repeat_parent),
        cmocka_unit_test(ks_naf_s_matches_the_b3_layout),
        cmocka_unit_test(ks_naf_known_answer),
        cmocka_unit_test(generic_kdf_two_octet_fc_and_empty_param),
        cmocka_unit_test(kdf_refuses_bad_arguments),
        cmocka_unit_test(ks_naf_refuses_bad_identities),
        cmocka_unit_test(btid_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ue/kms_usim.h"
#include "util/kms_codec.h"

/* Milenage test set 1 (TS 35.208 4.3.1). */
static void sample(struct kms_usim *u)
{
    memset(u, 0, sizeof(*u));
    strcpy(u->impi, "001010123456789@ims.mnc001.mcc001.3gppnetwork.org");
    strcpy(u->impu[0], "sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org");
    strcpy(u->impu[1], "tel:+15550100");
    u->n_impu = 2;
    th_hex("465b5ce8b199b49faa5f0a2ee238a6bc", u->k, 16);
    th_hex("cd63cb71954a9f4e48a5994e37a02baf", u->opc, 16);
    expect_ok(kms_sqn_ms_init(&u->sqn, KMS_SQN_IND_BITS_DEF, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_ms_accept(&u->sqn, 0x21ULL));
    expect_ok(kms_sqn_ms_accept(&u->sqn, 0x47ULL));
}

static void encode(const struct kms_usim *u, struct kms_buf *b)
{
    kms_buf_init(b, KMS_USIM_FILE_MAX, true);
    expect_ok(kms_usim_encode(u, b));
}

static void usim_round_trip(void **state)
{
    (void)state;
    struct kms_usim u, v;
    sample(&u);
    struct kms_buf b;
    encode(&u, &b);
    expect_ok(kms_usim_decode(kms_buf_data(&b), kms_buf_len(&b), &v));
    expect_bytes_eq(&u, &v, sizeof(u));
    /* the documented layout */
    const char *img = (const char *)kms_buf_data(&b);
    assert_true(strncmp(img, "imskms-usim=1\nimpi=001010123456789@", 35) == 0);
    assert_non_null(strstr(img, "\nk=465b5ce8b199b49faa5f0a2ee238a6bc\n"));
    assert_non_null(strstr(img, "\namf=0000\nind_bits=5\ndelta=268435456\nage_limit=0\nseq="));
    kms_buf_cleanup(&b);
    /* every IND width */
    for (unsigned bits = 0; bits <= KMS_SQN_IND_BITS_MAX; bits++) {
        expect_ok(kms_sqn_ms_init(&u.sqn, bits, 1, 0));
        u.sqn.seq[0] = KMS_SQN_MAX >> bits;
        encode(&u, &b);
        expect_ok(kms_usim_decode(kms_buf_data(&b), kms_buf_len(&b), &v));
        expect_bytes_eq(&u, &v, sizeof(u));
        kms_buf_cleanup(&b);
    }
    kms_usim_wipe(&u);
    kms_usim_wipe(&v);
}

/* Every truncation and every single-bit flip of an image is refused (or, which the checksum
 * makes impossible in practice, decodes to the same USIM). */
static void usim_every_truncation_and_flip_refused(void **state)
{
    (void)state;
    struct kms_usim u, v;
    sample(&u);
    struct kms_buf b;
    encode(&u, &b);
    size_t n = kms_buf_len(&b);
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t k = 0; k < n; k++) {
        memcpy(p, kms_buf_data(&b), k);
        kms_result r = kms_usim_decode(p, k, &v);
        if (kms_ok(r)) {
            fail_msg("prefix of %zu octets accepted", k);
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(p, kms_buf_data(&b), n);
            p[i] ^= (uint8_t)(1u << bit);
            kms_result r = kms_usim_decode(p, n, &v);
            if (kms_ok(r) && memcmp(&u, &v, sizeof(u)) != 0) {
                fail_msg("flip of bit %u at %zu accepted with other contents", bit, i);
            }
        }
    }
    free(p);
    kms_buf_cleanup(&b);
}

/* An image of body + its checksum line (to test the field rules behind the checksum). */
static kms_result decode_body(const char *body, struct kms_usim *u)
{
    uint8_t sum[32];
    unsigned len = 0;
    assert_int_equal(EVP_Digest(body, strlen(body), sum, &len, EVP_sha256(), NULL), 1);
    char hex[65];
    expect_ok(kms_hex_encode(sum, 32, hex, sizeof(hex)));
    size_t n = strlen(body) + 8 + 64;
    char *img = malloc(n + 1);
    assert_non_null(img);
    snprintf(img, n + 1, "%ssha256=%s\n", body, hex);
    kms_result r = kms_usim_decode((const uint8_t *)img, n, u);
    free(img);
    return r;
}

#define HDR  "imskms-usim=1\n"
#define ID   "impi=a@b\nimpu=sip:a@b\n"
#define KEYS "k=465b5ce8b199b49faa5f0a2ee238a6bc\nopc=cd63cb71954a9f4e48a5994e37a02baf\namf=8000\n"
#define SQ   "ind_bits=0\ndelta=268435456\nage_limit=0\nseq=000000000022\n"

static void usim_field_rules(void **state)
{
    (void)state;
    struct kms_usim u;
    expect_ok(decode_body(HDR ID KEYS SQ, &u));
    assert_int_equal(u.sqn.seq[0], 0x22);
    assert_int_equal(u.amf[0], 0x80);
    /* any order between the first and last lines */
    expect_ok(decode_body(HDR SQ KEYS "impu=sip:a@b\nimpi=a@b\n", &u));
    static const struct {
        const char *body;
        enum kms_err err;
    } bad[] = {
        {"imskms-usim=2\n" ID KEYS SQ, KMS_ERR_UNSUPPORTED},
        {ID KEYS SQ, KMS_ERR_MALFORMED},                     /* no header */
        {HDR ID KEYS SQ "colour=blue\n", KMS_ERR_MALFORMED}, /* unknown field */
        {HDR ID "impi=a@b\n" KEYS SQ, KMS_ERR_MALFORMED},    /* duplicate */
        {HDR ID KEYS SQ "k=465b5ce8b199b49faa5f0a2ee238a6bc\n", KMS_ERR_MALFORMED},
        {HDR "impi=a@b\n" KEYS SQ, KMS_ERR_MALFORMED},        /* no IMPU */
        {HDR ID "impu=sip:a@b\n" KEYS SQ, KMS_ERR_MALFORMED}, /* repeated IMPU */
        {HDR ID "impu=1\nimpu=2\nimpu=3\nimpu=4\nimpu=5\nimpu=6\nimpu=7\nimpu=8\n" KEYS SQ,
         KMS_ERR_MALFORMED}, /* nine IMPUs */
        {HDR ID "k=465b5ce8b199b49faa5f0a2ee238a6\nopc=cd63cb71954a9f4e48a5994e37a02baf\n"
                "amf=8000\n" SQ,
         KMS_ERR_MALFORMED}, /* short K */
        {HDR ID "k=465B5CE8B199B49FAA5F0A2EE238A6BC\nopc=cd63cb71954a9f4e48a5994e37a02baf\n"
                "amf=8000\n" SQ,
         KMS_ERR_MALFORMED}, /* upper-case hex */
        {HDR ID KEYS "ind_bits=00\ndelta=268435456\nage_limit=0\nseq=000000000022\n",
         KMS_ERR_MALFORMED}, /* leading zero */
        {HDR ID KEYS "ind_bits=9\ndelta=268435456\nage_limit=0\nseq=000000000022\n",
         KMS_ERR_MALFORMED}, /* > 8 */
        {HDR ID KEYS "ind_bits=0\ndelta=0\nage_limit=0\nseq=000000000022\n", KMS_ERR_MALFORMED},
        {HDR ID KEYS "ind_bits=0\ndelta=-1\nage_limit=0\nseq=000000000022\n", KMS_ERR_MALFORMED},
        {HDR ID KEYS "ind_bits=0\ndelta=18446744073709551616\nage_limit=0\nseq=000000000022\n",
         KMS_ERR_MALFORMED},
        {HDR ID KEYS "ind_bits=1\ndelta=268435456\nage_limit=0\nseq=000000000022\n",
         KMS_ERR_MALFORMED}, /* 1 SEQ for 2 */
        {HDR ID KEYS "ind_bits=1\ndelta=268435456\nage_limit=0\nseq=000000000022800000000000\n",
         KMS_ERR_MALFORMED}, /* SEQ over 47 bits */
        {HDR ID KEYS "ind_bits=0\ndelta=268435456\nage_limit=0\n", KMS_ERR_MALFORMED},
        {HDR ID KEYS SQ "\n", KMS_ERR_MALFORMED},                    /* empty line */
        {HDR "impi=a b\nimpu=sip:a@b\n" KEYS SQ, KMS_ERR_MALFORMED}, /* space */
        {HDR "impi=\nimpu=sip:a@b\n" KEYS SQ, KMS_ERR_MALFORMED},    /* empty */
        {HDR ID KEYS SQ "=x\n", KMS_ERR_MALFORMED},
        {HDR ID KEYS "ind_bits=0\r\ndelta=268435456\nage_limit=0\nseq=000000000022\n",
         KMS_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&u, 0x55, sizeof(u));
        kms_result r = decode_body(bad[i].body, &u);
        if (r.err != bad[i].err) {
            fail_msg("#%zu: expected %s, got %s", i, kms_err_name(bad[i].err), kms_err_name(r.err));
        }
        const uint8_t *z = (const uint8_t *)&u;
        for (size_t k = 0; k < sizeof(u); k++) {
            assert_int_equal(z[k], 0);
        }
    }
    /* after the checksum line: nothing */
    struct kms_buf b;
    sample(&u);
    encode(&u, &b);
    expect_ok(kms_buf_put_u8(&b, '\n'));
    struct kms_usim v;
    expect_err(kms_usim_decode(kms_buf_data(&b), kms_buf_len(&b), &v), KMS_ERR_TRAILING);
    kms_buf_cleanup(&b);
}

static void usim_check_refuses(void **state)
{
    (void)state;
    struct kms_usim u;
    struct kms_buf b;
    kms_buf_init(&b, KMS_USIM_FILE_MAX, true);
    sample(&u);
    u.n_impu = 0;
    expect_err(kms_usim_encode(&u, &b), KMS_ERR_ARG);
    sample(&u);
    u.sqn.seq[40] = 1; /* past 2^5 */
    expect_err(kms_usim_encode(&u, &b), KMS_ERR_ARG);
    sample(&u);
    strcpy(u.impu[1], u.impu[0]);
    expect_err(kms_usim_encode(&u, &b), KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&b), 0);
    kms_buf_cleanup(&b);
}

static void usim_files(void **state)
{
    (void)state;
    char dir[256], path[512], tmp[512];
    th_tmpdir(dir, sizeof(dir));
    th_path(path, sizeof(path), dir, "usim");
    th_path(tmp, sizeof(tmp), dir, "usim.tmp");
    struct kms_usim u, v;
    sample(&u);
    expect_err(kms_usim_load(path, &v), KMS_ERR_NOT_FOUND);
    expect_err(kms_usim_save(path, &u), KMS_ERR_NOT_FOUND);
    expect_ok(kms_usim_create(path, &u));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_not_equal(stat(tmp, &st), 0);
    expect_err(kms_usim_create(path, &u), KMS_ERR_EXISTS);
    expect_ok(kms_usim_load(path, &v));
    expect_bytes_eq(&u, &v, sizeof(u));
    /* loose modes are refused */
    static const mode_t loose[] = {0640, 0604, 0620, 0602, 0610, 0601, 0644};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        expect_err(kms_usim_load(path, &v), KMS_ERR_IO);
    }
    assert_int_equal(chmod(path, 0400), 0);
    expect_ok(kms_usim_load(path, &v));
    assert_int_equal(chmod(path, 0600), 0);
    /* an update accepts an SQN durably; a failing one writes nothing */
    expect_ok(kms_sqn_ms_accept(&u.sqn, 0x81ULL));
    expect_ok(kms_usim_save(path, &u));
    expect_ok(kms_usim_load(path, &v));
    expect_bytes_eq(&u, &v, sizeof(u));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    th_rmtree(dir);
}

static kms_result accept_sqn(struct kms_usim *u, void *arg)
{
    return kms_sqn_ms_accept(&u->sqn, *(const uint64_t *)arg);
}

static void usim_update(void **state)
{
    (void)state;
    char dir[256], path[512];
    th_tmpdir(dir, sizeof(dir));
    th_path(path, sizeof(path), dir, "usim");
    struct kms_usim u, v;
    sample(&u);
    expect_ok(kms_usim_create(path, &u));
    uint64_t sqn = 0xa1ULL;
    expect_ok(kms_usim_update(path, accept_sqn, &sqn));
    expect_ok(kms_usim_load(path, &v));
    assert_int_equal(kms_sqn_ms_highest(&v.sqn), sqn);
    /* the same SQN again is stale: refused, file unchanged */
    expect_err(kms_usim_update(path, accept_sqn, &sqn), KMS_ERR_SQN_STALE);
    struct kms_usim w;
    expect_ok(kms_usim_load(path, &w));
    expect_bytes_eq(&v, &w, sizeof(v));
    th_rmtree(dir);
}

/* A writer killed at random moments never leaves an unloadable file (rename is atomic). */
static void usim_kill_during_save_leaves_loadable_file(void **state)
{
    (void)state;
    char dir[256], path[512];
    th_tmpdir(dir, sizeof(dir));
    th_path(path, sizeof(path), dir, "usim");
    struct kms_usim u, v;
    sample(&u);
    expect_ok(kms_usim_create(path, &u));
    struct timespec ts = {0, 0};
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            uint64_t sqn = 0x1000ULL + (uint64_t)round * 0x100000;
            for (;;) {
                sqn += 32;
                kms_result r = kms_usim_update(path, accept_sqn, &sqn);
                (void)r;
            }
        }
        ts.tv_nsec = 1000000L + (long)(round % 7) * 1300000L;
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        expect_ok(kms_usim_load(path, &v));
        assert_true(kms_sqn_ms_highest(&v.sqn) >= kms_sqn_ms_highest(&u.sqn));
    }
    th_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usim_round_trip),
        cmocka_unit_test(usim_every_truncation_and_flip_refused),
        cmocka_unit_test(usim_field_rules),
        cmocka_unit_test(usim_check_refuses),
        cmocka_unit_test(usim_files),
        cmocka_unit_test(usim_update),
        cmocka_unit_test(usim_kill_during_save_leaves_loadable_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

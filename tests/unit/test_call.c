/* SPDX-License-Identifier: Apache-2.0 */
/* The call module (ue/kms_call.h): the responder's checks of a transfer before the KMS is asked,
 * and the replay record STATE/transfers (check, commit, pruning, the bound, the file format). */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ue/kms_call.h"
#include "util/kms_file.h"

static void make_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/test_call.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/transfers", dir);
    unlink(p);
    rmdir(dir);
}

/* A peeked transfer of 'ue offer' with the default policy. */
static void offer_transfer(struct kms_transfer *x)
{
    static const uint8_t cm128[] = {0, 1, 1, 1, 1, 16, 2, 1, 1, 3, 1, 20, 4, 1, 14, 11, 1, 10};
    memset(x, 0, sizeof(*x));
    x->ticket_flags = KMS_TMSG_MEDIA_FLAGS;
    x->media.n_cs = 1;
    x->media.cs[0] = (struct kms_tmsg_cs){1, 0x01020304, 0, 7};
    memcpy(x->media.sp, cm128, sizeof(cm128));
    x->media.sp_len = sizeof(cm128);
}

static void check_transfer_flags_policy_sessions(void **state)
{
    (void)state;
    struct kms_transfer *x = malloc(sizeof(*x));
    const struct kms_srtp_policy *p = NULL;
    offer_transfer(x);
    expect_ok(kms_call_check_transfer(x, &p));
    assert_ptr_equal(p, kms_srtp_policy_default());
    /* Each of F, G, H missing; each of I, L, M set: refused. D, E, J, K do not matter. */
    const uint16_t need[] = {KMS_MIKEY_TF_F, KMS_MIKEY_TF_G, KMS_MIKEY_TF_H};
    const uint16_t refused[] = {KMS_MIKEY_TF_I, KMS_MIKEY_TF_L, KMS_MIKEY_TF_M};
    for (size_t i = 0; i < 3; i++) {
        offer_transfer(x);
        x->ticket_flags &= (uint16_t)~need[i];
        expect_err(kms_call_check_transfer(x, &p), KMS_ERR_UNSUPPORTED);
        assert_null(p);
        offer_transfer(x);
        x->ticket_flags |= refused[i];
        expect_err(kms_call_check_transfer(x, &p), KMS_ERR_UNSUPPORTED);
    }
    offer_transfer(x);
    x->ticket_flags = KMS_MIKEY_TF_F | KMS_MIKEY_TF_G | KMS_MIKEY_TF_H | KMS_MIKEY_TF_E |
                      KMS_MIKEY_TF_J | KMS_MIKEY_TF_K;
    expect_ok(kms_call_check_transfer(x, &p));
    /* No crypto session (a 'ue request' transfer): not an offer. */
    offer_transfer(x);
    x->media.n_cs = 0;
    expect_err(kms_call_check_transfer(x, &p), KMS_ERR_MALFORMED);
    /* A policy we do not support: a 4-octet tag. */
    offer_transfer(x);
    x->media.sp[17] = 4; /* type 11, the authentication tag length */
    expect_err(kms_call_check_transfer(x, &p), KMS_ERR_UNSUPPORTED);
    free(x);
}

static void replay_record(void **state)
{
    (void)state;
    char dir[64];
    make_dir(dir, sizeof(dir));
    uint8_t ticket[40], r1[16], r2[16];
    memset(ticket, 0x33, sizeof(ticket));
    memset(r1, 0x01, sizeof(r1));
    memset(r2, 0x02, sizeof(r2));
    const uint64_t now = 1800000000;
    /* No file yet: fresh. T = now, expiry now + 60. */
    expect_ok(kms_call_replay_check(dir, ticket, sizeof(ticket), r1, now));
    expect_ok(kms_call_replay_commit(dir, ticket, sizeof(ticket), r1, now, now + 60, now));
    /* The same pair again: a replay; another RANDRi, or another ticket: fresh. */
    expect_err(kms_call_replay_check(dir, ticket, sizeof(ticket), r1, now), KMS_ERR_REPLAY);
    expect_err(kms_call_replay_commit(dir, ticket, sizeof(ticket), r1, now, now + 70, now + 10),
               KMS_ERR_REPLAY);
    expect_ok(kms_call_replay_check(dir, ticket, sizeof(ticket), r2, now));
    ticket[0] ^= 1;
    expect_ok(kms_call_replay_check(dir, ticket, sizeof(ticket), r1, now));
    ticket[0] ^= 1;
    /* The file: owner-only, the documented lines. */
    char path[512];
    snprintf(path, sizeof(path), "%s/transfers", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    uint8_t *img = NULL;
    size_t n = 0;
    expect_ok(kms_file_read(path, 4096, true, &img, &n));
    char want[256];
    /* The ticket hash: SHA-256 of forty '3' octets (0x33), first 16 octets, from Python's
     * hashlib.sha256(b"3" * 40). */
    int wl = snprintf(want, sizeof(want),
                      "version=2\nhorizon=0\nentry=%llu:%llu:%s:", (unsigned long long)now,
                      (unsigned long long)(now + 60), "e69e5e6f3541ea47026a711c50e1b0f7");
    assert_true(n == (size_t)wl + 33);
    assert_memory_equal(img, want, (size_t)wl);
    assert_memory_equal(img + wl, "01010101010101010101010101010101\n", 33);
    kms_file_free(img, n);
    /* After its expiry the entry still refuses the pair (an answer with a larger --skew would
     * take the transfer's T), until a commit prunes it: the horizon, its T, refuses it then. */
    expect_err(kms_call_replay_check(dir, ticket, sizeof(ticket), r1, now), KMS_ERR_REPLAY);
    expect_ok(
        kms_call_replay_commit(dir, ticket, sizeof(ticket), r2, now + 61, now + 200, now + 61));
    expect_ok(kms_file_read(path, 4096, true, &img, &n));
    snprintf(want, sizeof(want),
             "version=2\nhorizon=%llu\nentry=%llu:%llu:", (unsigned long long)now,
             (unsigned long long)(now + 61), (unsigned long long)(now + 200));
    assert_true(n == strlen(want) + 32 + 1 + 32 + 1);
    assert_memory_equal(img, want, strlen(want));
    kms_file_free(img, n);
    expect_err(kms_call_replay_check(dir, ticket, sizeof(ticket), r1, now), KMS_ERR_REPLAY);
    /* A transfer stamped at the horizon or before is refused whatever its pair; after it, fresh. */
    uint8_t r3[16];
    memset(r3, 0x03, sizeof(r3));
    expect_err(kms_call_replay_check(dir, ticket, sizeof(ticket), r3, now), KMS_ERR_REPLAY);
    expect_ok(kms_call_replay_check(dir, ticket, sizeof(ticket), r3, now + 1));
    /* The bound: KMS_CALL_REPLAY_MAX unexpired entries, then KMS_ERR_FULL. */
    for (size_t i = 1; i < KMS_CALL_REPLAY_MAX; i++) {
        uint8_t r[16] = {0};
        r[0] = (uint8_t)i;
        r[1] = (uint8_t)(i >> 8);
        r[2] = 0xEE;
        expect_ok(
            kms_call_replay_commit(dir, ticket, sizeof(ticket), r, now + 62, now + 1000, now + 62));
    }
    uint8_t last[16];
    memset(last, 0x77, sizeof(last));
    expect_err(
        kms_call_replay_commit(dir, ticket, sizeof(ticket), last, now + 62, now + 1000, now + 62),
        KMS_ERR_FULL);
    /* ... until they expire. */
    expect_ok(kms_call_replay_commit(dir, ticket, sizeof(ticket), last, now + 1001, now + 2000,
                                     now + 1001));
    /* A damaged record is refused, never taken as empty. */
    static const char junk[] = "version=2\nhorizon=0\nentry=12:13:zz\n";
    expect_ok(kms_file_write_atomic(path, (const uint8_t *)junk, sizeof(junk) - 1));
    assert_false(kms_ok(kms_call_replay_check(dir, ticket, sizeof(ticket), r1, now + 5000)));
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_transfer_flags_policy_sessions),
        cmocka_unit_test(replay_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

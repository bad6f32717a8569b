/* SPDX-License-Identifier: Apache-2.0 */
/* The call module (ue/kms_call.h): the responder's checks of a transfer before the KMS is asked,
 * the replay record STATE/transfers (check, commit, pruning, the bound, the file format), and the
 * decoders of the two state files, DIR/offer and STATE/transfers, against hand-written images of
 * the documented formats: every truncation, every bit flip, overlong values, signed or
 * zero-led decimals, bad versions, hex of the wrong length. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    snprintf(p, sizeof(p), "%s/transfers.lock", dir);
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

/* Eight processes commit one pair at the same moment (released together by closing a pipe):
 * exactly one succeeds, the others find it recorded (the commit's load, check and write are
 * one step under STATE/transfers.lock), and the record holds it once. */
static void replay_commit_races_accept_one(void **state)
{
    (void)state;
    enum { N = 8 };
    char dir[64];
    make_dir(dir, sizeof(dir));
    uint8_t ticket[40], r1[16];
    memset(ticket, 0x44, sizeof(ticket));
    memset(r1, 0x05, sizeof(r1));
    const uint64_t now = 1800000000;
    for (int round = 0; round < 3; round++) {
        r1[0] = (uint8_t)round; /* a fresh pair each round */
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t kids[N];
        for (int i = 0; i < N; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                char c;
                close(go[1]);
                (void)read(go[0], &c, 1); /* EOF when the parent closes its end */
                kms_result r =
                    kms_call_replay_commit(dir, ticket, sizeof(ticket), r1, now, now + 60, now);
                _exit(kms_ok(r) ? 0 : r.err == KMS_ERR_REPLAY ? 1 : 2);
            }
        }
        close(go[0]);
        close(go[1]);
        int won = 0, replays = 0;
        for (int i = 0; i < N; i++) {
            int st = 0;
            assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
            assert_true(WIFEXITED(st));
            won += WEXITSTATUS(st) == 0;
            replays += WEXITSTATUS(st) == 1;
        }
        assert_int_equal(won, 1);
        assert_int_equal(replays, N - 1);
    }
    /* One entry per round. */
    char p[512];
    snprintf(p, sizeof(p), "%s/transfers", dir);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char line[512];
    int entries = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        entries += strncmp(line, "entry=", 6) == 0;
    }
    fclose(f);
    assert_int_equal(entries, 3);
    remove_dir(dir);
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

/* ---- the state file decoders --------------------------------------------------------------- */

/* A DIR/offer written by hand from the format of ue/kms_call.h. */
#define OFFER_TGK "000102030405060708090a0b0c0d0e0f"
#define OFFER_MPK "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
static const char offer_img[] = "version=1\n"
                                "policy=aes128-hmac80\n"
                                "local_addr=127.0.0.1:40000\n"
                                "tgk=" OFFER_TGK "\n"
                                "mpk=" OFFER_MPK "\n"
                                "transfer_init=010b1a\n";

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

static bool hex_letter(uint8_t c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* a == b but for the case of hex letters. */
static bool same_up_to_hex_case(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] &&
            !(hex_letter(a[i]) && hex_letter(b[i]) && (a[i] | 0x20) == (b[i] | 0x20))) {
            return false;
        }
    }
    return true;
}

/* Whether octet i of img lies in a value (after its line's '=', before its '\n') on a line
 * after the first `skip`. */
static bool in_value(const char *img, size_t i, size_t skip)
{
    size_t line = 0, start = 0;
    for (size_t k = 0; k < i; k++) {
        if (img[k] == '\n') {
            line++;
            start = k + 1;
        }
    }
    return line >= skip && img[i] != '\n' && memchr(img + start, '=', i - start) != NULL;
}

static kms_result offer_dec(const void *img, size_t n, struct kms_call_offer *o)
{
    memset(o, 0x5a, sizeof(*o));
    return kms_call_offer_decode(img, n, o);
}

/* img refused with code, the output all zero. */
static void offer_refused(const char *img, enum kms_err code)
{
    struct kms_call_offer *o = malloc(sizeof(*o));
    assert_non_null(o);
    expect_err(offer_dec(img, strlen(img), o), code);
    assert_true(all_zero(o, sizeof(*o)));
    free(o);
}

/* offer_img with the value of line `name` replaced by val. */
static void offer_with(char *out, size_t cap, const char *name, const char *val)
{
    const char *names[] = {"version", "policy", "local_addr", "tgk", "mpk", "transfer_init"};
    const char *vals[] = {"1", "aes128-hmac80", "127.0.0.1:40000", OFFER_TGK, OFFER_MPK, "010b1a"};
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 6; i++) {
        int w = snprintf(out + at, cap - at, "%s=%s\n", names[i],
                         strcmp(names[i], name) == 0 ? val : vals[i]);
        assert_true(w > 0 && (size_t)w < cap - at);
        at += (size_t)w;
    }
}

static void offer_decode_reads_the_documented_lines(void **state)
{
    (void)state;
    struct kms_call_offer *o = malloc(sizeof(*o));
    assert_non_null(o);
    expect_ok(offer_dec(offer_img, strlen(offer_img), o));
    assert_ptr_equal(o->policy, kms_srtp_policy_by_name("aes128-hmac80"));
    assert_string_equal(o->local_addr, "127.0.0.1:40000");
    assert_int_equal(o->tgk_len, 16);
    for (size_t i = 0; i < 16; i++) {
        assert_int_equal(o->tgk[i], i);
    }
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(o->mpk[i], 0xa0 + i);
    }
    assert_int_equal(o->init_len, 3);
    assert_memory_equal(o->init, "\x01\x0b\x1a", 3);
    /* Written again: the same octets. */
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_OFFER_MAX, true);
    expect_ok(kms_call_offer_encode(o, &b));
    assert_int_equal(kms_buf_len(&b), strlen(offer_img));
    assert_memory_equal(kms_buf_data(&b), offer_img, strlen(offer_img));
    /* The encoder refuses what the decoder would. */
    kms_buf_truncate(&b, 0);
    const struct kms_srtp_policy *pol = o->policy;
    o->policy = NULL;
    expect_err(kms_call_offer_encode(o, &b), KMS_ERR_ARG);
    o->policy = pol;
    o->tgk_len = 24;
    expect_err(kms_call_offer_encode(o, &b), KMS_ERR_ARG);
    o->tgk_len = 32;
    o->init_len = KMS_CALL_INIT_MAX + 1;
    expect_err(kms_call_offer_encode(o, &b), KMS_ERR_ARG);
    o->init_len = 3;
    memcpy(o->local_addr, "a\nb", 4);
    expect_err(kms_call_offer_encode(o, &b), KMS_ERR_ARG);
    memset(o->local_addr, 'x', sizeof(o->local_addr));
    expect_err(kms_call_offer_encode(o, &b), KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&b), 0);
    /* Upper-case hex is read (and written back in lower case). */
    char img[512];
    offer_with(img, sizeof(img), "tgk", "000102030405060708090A0B0C0D0E0F");
    expect_ok(offer_dec(img, strlen(img), o));
    assert_int_equal(o->tgk[15], 0x0f);
    /* A TGK of 32 octets, an empty TRANSFER_INIT: read. */
    offer_with(img, sizeof(img), "tgk", OFFER_MPK);
    expect_ok(offer_dec(img, strlen(img), o));
    assert_int_equal(o->tgk_len, 32);
    offer_with(img, sizeof(img), "transfer_init", "");
    expect_ok(offer_dec(img, strlen(img), o));
    assert_int_equal(o->init_len, 0);
    kms_buf_cleanup(&b);
    free(o);
}

static void offer_decode_refuses_every_truncation_and_bit_flip(void **state)
{
    (void)state;
    struct kms_call_offer *o = malloc(sizeof(*o));
    assert_non_null(o);
    const size_t n = strlen(offer_img);
    uint8_t *img = malloc(n);
    assert_non_null(img);
    for (size_t k = 0; k < n; k++) {
        memcpy(img, offer_img, k); /* exact size: ASan sees a read past it */
        kms_result r = offer_dec(img, k, o);
        assert_false(kms_ok(r));
        assert_true(all_zero(o, sizeof(*o)));
    }
    /* Flips: outside local_addr and the hex values every one is refused; inside them the image
     * is refused, or read and written back as the flipped image (up to hex case). */
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_OFFER_MAX, true);
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        bool value = in_value(offer_img, i, 2);
        for (int bit = 0; bit < 8; bit++) {
            memcpy(img, offer_img, n);
            img[i] ^= (uint8_t)(1u << bit);
            kms_result r = offer_dec(img, n, o);
            if (!kms_ok(r)) {
                assert_true(all_zero(o, sizeof(*o)));
                continue;
            }
            assert_true(value);
            accepted++;
            kms_buf_truncate(&b, 0);
            expect_ok(kms_call_offer_encode(o, &b));
            assert_int_equal(kms_buf_len(&b), n);
            assert_true(same_up_to_hex_case(kms_buf_data(&b), img, n));
        }
    }
    assert_true(accepted > 0);
    kms_buf_cleanup(&b);
    free(img);
    free(o);
}

static void offer_decode_refuses_bad_values(void **state)
{
    (void)state;
    char img[2 * KMS_CALL_INIT_MAX + 512];
    char *v = malloc(2 * KMS_CALL_INIT_MAX + 8);
    assert_non_null(v);
    /* Versions. */
    const char *versions[] = {"0", "2", "01", "+1", "-1", " 1", "1 ", ""};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        offer_with(img, sizeof(img), "version", versions[i]);
        offer_refused(img, KMS_ERR_UNSUPPORTED);
    }
    /* Policies: ours only, case-sensitive. */
    offer_with(img, sizeof(img), "policy", "AES128-HMAC80");
    offer_refused(img, KMS_ERR_UNSUPPORTED);
    offer_with(img, sizeof(img), "policy", "aes128-hmac32");
    offer_refused(img, KMS_ERR_UNSUPPORTED);
    /* local_addr: 63 characters fit, 64 do not. */
    memset(v, 'a', 63);
    v[63] = '\0';
    offer_with(img, sizeof(img), "local_addr", v);
    struct kms_call_offer *o = malloc(sizeof(*o));
    assert_non_null(o);
    expect_ok(offer_dec(img, strlen(img), o));
    memset(v, 'a', 64);
    v[64] = '\0';
    offer_with(img, sizeof(img), "local_addr", v);
    offer_refused(img, KMS_ERR_TOO_LONG);
    /* The TGK: 16 or 32 octets of hex, nothing else. */
    const char *tgks[] = {"",
                          "00",
                          OFFER_TGK "0",
                          OFFER_TGK "00",
                          "0102030405060708090a0b0c0d0e0f",
                          OFFER_MPK "00",
                          OFFER_MPK "0",
                          OFFER_TGK OFFER_TGK "0102"};
    for (size_t i = 0; i < sizeof(tgks) / sizeof(tgks[0]); i++) {
        offer_with(img, sizeof(img), "tgk", tgks[i]);
        offer_refused(img, KMS_ERR_BAD_LENGTH);
    }
    offer_with(img, sizeof(img), "tgk", "000102030405060708090a0b0c0d0e0g");
    offer_refused(img, KMS_ERR_BAD_HEX);
    offer_with(img, sizeof(img), "tgk", "0x0102030405060708090a0b0c0d0e0f");
    offer_refused(img, KMS_ERR_BAD_HEX);
    /* The MPK: exactly 32 octets. */
    offer_with(img, sizeof(img), "mpk", OFFER_TGK);
    offer_refused(img, KMS_ERR_BAD_LENGTH);
    offer_with(img, sizeof(img), "mpk", OFFER_MPK "00");
    offer_refused(img, KMS_ERR_BAD_LENGTH);
    offer_with(img, sizeof(img), "mpk", OFFER_MPK "0");
    offer_refused(img, KMS_ERR_BAD_HEX);
    offer_with(img, sizeof(img), "mpk", "");
    offer_refused(img, KMS_ERR_BAD_LENGTH);
    /* The TRANSFER_INIT: up to KMS_CALL_INIT_MAX octets of hex. */
    offer_with(img, sizeof(img), "transfer_init", "010");
    offer_refused(img, KMS_ERR_BAD_HEX);
    offer_with(img, sizeof(img), "transfer_init", "01 0b");
    offer_refused(img, KMS_ERR_BAD_HEX);
    memset(v, '7', 2 * KMS_CALL_INIT_MAX);
    v[2 * KMS_CALL_INIT_MAX] = '\0';
    offer_with(img, sizeof(img), "transfer_init", v);
    expect_ok(offer_dec(img, strlen(img), o));
    assert_int_equal(o->init_len, KMS_CALL_INIT_MAX);
    memcpy(v + 2 * KMS_CALL_INIT_MAX, "77", 3);
    offer_with(img, sizeof(img), "transfer_init", v);
    offer_refused(img, KMS_ERR_TOO_LONG);
    /* The frame: a line after the last, lines out of order, a CR, a NUL, no final line end. */
    snprintf(img, sizeof(img), "%sx=1\n", offer_img);
    offer_refused(img, KMS_ERR_TRAILING);
    snprintf(img, sizeof(img), "%s\n", offer_img);
    offer_refused(img, KMS_ERR_TRAILING);
    offer_refused("policy=aes128-hmac80\nversion=1\n", KMS_ERR_MALFORMED);
    offer_with(img, sizeof(img), "local_addr", "127.0.0.1:40000\r");
    offer_refused(img, KMS_ERR_MALFORMED);
    offer_with(img, sizeof(img), "mpk", OFFER_MPK);
    img[strlen(img) - 1] = '\0'; /* the last '\n' */
    offer_refused(img, KMS_ERR_TRUNCATED);
    static const char nul[] = "version=1\npolicy=aes128\0-hmac80\n";
    expect_err(offer_dec(nul, sizeof(nul) - 1, o), KMS_ERR_MALFORMED);
    assert_true(all_zero(o, sizeof(*o)));
    free(o);
    free(v);
}

/* A STATE/transfers written by hand from the format of ue/kms_call.h. */
#define TR_HASH "e69e5e6f3541ea47026a711c50e1b0f7"
#define TR_RAND "000102030405060708090a0b0c0d0e0f"
static const char tr_img[] = "version=2\n"
                             "horizon=1800000000\n"
                             "entry=1800000005:1800000065:" TR_HASH ":" TR_RAND "\n"
                             "entry=0:18446744073709551615:" TR_RAND ":" TR_HASH "\n";

static kms_result tr_dec(const void *img, size_t n, struct kms_call_transfers *r)
{
    memset(r, 0x5a, sizeof(*r));
    return kms_call_transfers_decode(img, n, r);
}

static void tr_refused(const char *img, enum kms_err code)
{
    struct kms_call_transfers *r = malloc(sizeof(*r));
    assert_non_null(r);
    expect_err(tr_dec(img, strlen(img), r), code);
    assert_true(all_zero(r, sizeof(*r)));
    free(r);
}

/* version=2, horizon=0 and one entry line of value `entry`. */
static void tr_refused_entry(const char *entry, enum kms_err code)
{
    char img[1024];
    int w = snprintf(img, sizeof(img), "version=2\nhorizon=0\nentry=%s\n", entry);
    assert_true(w > 0 && (size_t)w < sizeof(img));
    tr_refused(img, code);
}

static void transfers_decode_reads_the_documented_lines(void **state)
{
    (void)state;
    struct kms_call_transfers *r = malloc(sizeof(*r));
    assert_non_null(r);
    expect_ok(tr_dec(tr_img, strlen(tr_img), r));
    assert_true(r->horizon == 1800000000u);
    assert_int_equal(r->n, 2);
    assert_true(r->e[0].t == 1800000005u && r->e[0].expires == 1800000065u);
    assert_true(r->e[1].t == 0 && r->e[1].expires == UINT64_MAX);
    static const uint8_t hash[16] = {0xe6, 0x9e, 0x5e, 0x6f, 0x35, 0x41, 0xea, 0x47,
                                     0x02, 0x6a, 0x71, 0x1c, 0x50, 0xe1, 0xb0, 0xf7};
    for (size_t i = 0; i < 16; i++) {
        assert_int_equal(r->e[0].randri[i], i);
        assert_int_equal(r->e[1].hash[i], i);
    }
    assert_memory_equal(r->e[0].hash, hash, 16);
    assert_memory_equal(r->e[1].randri, hash, 16);
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_TRANSFERS_MAX, false);
    expect_ok(kms_call_transfers_encode(r, &b));
    assert_int_equal(kms_buf_len(&b), strlen(tr_img));
    assert_memory_equal(kms_buf_data(&b), tr_img, strlen(tr_img));
    /* No entry: read (and written back the same). */
    static const char none[] = "version=2\nhorizon=0\n";
    expect_ok(tr_dec(none, strlen(none), r));
    assert_int_equal(r->n, 0);
    kms_buf_truncate(&b, 0);
    expect_ok(kms_call_transfers_encode(r, &b));
    assert_int_equal(kms_buf_len(&b), strlen(none));
    assert_memory_equal(kms_buf_data(&b), none, strlen(none));
    r->n = KMS_CALL_REPLAY_MAX + 1;
    expect_err(kms_call_transfers_encode(r, &b), KMS_ERR_ARG);
    /* KMS_CALL_REPLAY_MAX entries are read, one more is refused. */
    struct kms_buf big;
    kms_buf_init(&big, KMS_CALL_TRANSFERS_MAX + 256, false);
    expect_ok(kms_buf_put_bytes(&big, (const uint8_t *)none, strlen(none)));
    static const char line[] =
        "entry=18446744073709551615:18446744073709551615:" TR_HASH ":" TR_RAND "\n";
    for (size_t i = 0; i < KMS_CALL_REPLAY_MAX; i++) {
        expect_ok(kms_buf_put_bytes(&big, (const uint8_t *)line, strlen(line)));
    }
    assert_true(kms_buf_len(&big) <= KMS_CALL_TRANSFERS_MAX);
    expect_ok(tr_dec(kms_buf_data(&big), kms_buf_len(&big), r));
    assert_int_equal(r->n, KMS_CALL_REPLAY_MAX);
    expect_ok(kms_buf_put_bytes(&big, (const uint8_t *)line, strlen(line)));
    expect_err(tr_dec(kms_buf_data(&big), kms_buf_len(&big), r), KMS_ERR_TOO_LONG);
    assert_true(all_zero(r, sizeof(*r)));
    kms_buf_cleanup(&big);
    kms_buf_cleanup(&b);
    free(r);
}

static void transfers_decode_refuses_every_truncation_and_bit_flip(void **state)
{
    (void)state;
    struct kms_call_transfers *r = malloc(sizeof(*r));
    assert_non_null(r);
    const size_t n = strlen(tr_img);
    uint8_t *img = malloc(n);
    assert_non_null(img);
    for (size_t k = 0; k < n; k++) {
        memcpy(img, tr_img, k);
        kms_result res = tr_dec(img, k, r);
        /* A cut after a whole entry line is a shorter record, and fine; any other cut is not. */
        bool whole =
            k > 0 && tr_img[k - 1] == '\n' && k > strlen("version=2\nhorizon=1800000000\n") - 1;
        assert_true(kms_ok(res) == whole);
        if (!kms_ok(res)) {
            assert_true(all_zero(r, sizeof(*r)));
        }
    }
    /* Flips: the names, '=', ':' and line ends never survive one; a digit or hex digit may
     * become another, and the image then reads and writes back as flipped (up to hex case). */
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_TRANSFERS_MAX, false);
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        bool value = in_value(tr_img, i, 1) && tr_img[i] != ':';
        for (int bit = 0; bit < 8; bit++) {
            memcpy(img, tr_img, n);
            img[i] ^= (uint8_t)(1u << bit);
            kms_result res = tr_dec(img, n, r);
            if (!kms_ok(res)) {
                assert_true(all_zero(r, sizeof(*r)));
                continue;
            }
            assert_true(value);
            accepted++;
            kms_buf_truncate(&b, 0);
            expect_ok(kms_call_transfers_encode(r, &b));
            assert_int_equal(kms_buf_len(&b), n);
            assert_true(same_up_to_hex_case(kms_buf_data(&b), img, n));
        }
    }
    assert_true(accepted > 0);
    kms_buf_cleanup(&b);
    free(img);
    free(r);
}

static void transfers_decode_refuses_bad_values(void **state)
{
    (void)state;
    /* Versions: 2 only (version 1 had no horizon and no T). */
    tr_refused("version=1\nhorizon=0\n", KMS_ERR_UNSUPPORTED);
    tr_refused("version=3\nhorizon=0\n", KMS_ERR_UNSUPPORTED);
    tr_refused("version=02\nhorizon=0\n", KMS_ERR_UNSUPPORTED);
    tr_refused("version=+2\nhorizon=0\n", KMS_ERR_UNSUPPORTED);
    tr_refused("version=\nhorizon=0\n", KMS_ERR_UNSUPPORTED);
    tr_refused("version=1\nentry=68:" TR_HASH ":" TR_RAND "\n", KMS_ERR_UNSUPPORTED);
    /* The horizon: a decimal, no sign, no leading zero, at most UINT64_MAX. */
    const char *bad_dec[] = {"",
                             "+5",
                             "-5",
                             "05",
                             "00",
                             " 5",
                             "5 ",
                             "0x5",
                             "1e3",
                             "18446744073709551616",
                             "99999999999999999999",
                             "000000000000000000001"};
    char img[512];
    for (size_t i = 0; i < sizeof(bad_dec) / sizeof(bad_dec[0]); i++) {
        snprintf(img, sizeof(img), "version=2\nhorizon=%s\n", bad_dec[i]);
        tr_refused(img, KMS_ERR_MALFORMED);
        /* ... and T and expiry of an entry the same. */
        snprintf(img, sizeof(img), "%s:5:" TR_HASH ":" TR_RAND, bad_dec[i]);
        tr_refused_entry(img, KMS_ERR_MALFORMED);
        snprintf(img, sizeof(img), "5:%s:" TR_HASH ":" TR_RAND, bad_dec[i]);
        tr_refused_entry(img, KMS_ERR_MALFORMED);
    }
    snprintf(img, sizeof(img), "version=2\nhorizon=18446744073709551615\n");
    struct kms_call_transfers *r = malloc(sizeof(*r));
    assert_non_null(r);
    expect_ok(tr_dec(img, strlen(img), r));
    assert_true(r->horizon == UINT64_MAX);
    free(r);
    /* Hex of the wrong length, or not hex. */
    tr_refused_entry("5:6:" TR_HASH "00:" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:e69e5e6f3541ea47026a711c50e1b0:" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:" TR_HASH ":" TR_RAND "00", KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:" TR_HASH ":000102030405060708090a0b0c0d0e", KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:" TR_HASH ":000102030405060708090a0b0c0d0e0", KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:" TR_HASH ":", KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:e69e5e6f3541ea47026a711c50e1b0fg:" TR_RAND, KMS_ERR_BAD_HEX);
    tr_refused_entry("5:6:" TR_HASH ":00010203040506070809 a0b0c0d0e0f", KMS_ERR_BAD_HEX);
    /* Fields missing or too many, the separators wrong. */
    tr_refused_entry("5:" TR_HASH ":" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry(TR_HASH ":" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:7:" TR_HASH ":" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry("5:6:" TR_HASH ";" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry("5;6:" TR_HASH ":" TR_RAND, KMS_ERR_MALFORMED);
    tr_refused_entry("", KMS_ERR_MALFORMED);
    /* An overlong entry line (past the longest entry) is too long before anything else. */
    tr_refused_entry("5:6:" TR_HASH ":" TR_RAND "0000000000000000000000000000000000000000000000000"
                     "0000000000000000000000000",
                     KMS_ERR_TOO_LONG);
    /* The frame: another line name, a CR, no final line end, a missing horizon. */
    tr_refused("version=2\nhorizon=0\nentri=5:6:" TR_HASH ":" TR_RAND "\n", KMS_ERR_MALFORMED);
    tr_refused("version=2\nhorizon=0\r\n", KMS_ERR_MALFORMED);
    tr_refused("version=2\nhorizon=0", KMS_ERR_TRUNCATED);
    tr_refused("version=2\nentry=5:6:" TR_HASH ":" TR_RAND "\n", KMS_ERR_MALFORMED);
    tr_refused("", KMS_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_transfer_flags_policy_sessions),
        cmocka_unit_test(replay_record),
        cmocka_unit_test(replay_commit_races_accept_one),
        cmocka_unit_test(offer_decode_reads_the_documented_lines),
        cmocka_unit_test(offer_decode_refuses_every_truncation_and_bit_flip),
        cmocka_unit_test(offer_decode_refuses_bad_values),
        cmocka_unit_test(transfers_decode_reads_the_documented_lines),
        cmocka_unit_test(transfers_decode_refuses_every_truncation_and_bit_flip),
        cmocka_unit_test(transfers_decode_refuses_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_srtp: SRTP protect + unprotect of one 160-octet payload (a 20 ms PCMU packet) through
 * our code (kms_srtp_protect / kms_srtp_unprotect, which add the RTP header read, the SSRC
 * check and the counters) against raw libsrtp2 calls (srtp_protect / srtp_unprotect) on the
 * same packet with the same keys, in the same run, per policy. Each round runs both, the first
 * of them alternating round by round; the figures are medians of ns per protect + unprotect,
 * and the median of the rounds' ratios ours / raw (target <= 1.05).
 * usage: bench_srtp [ITERATIONS_PER_ROUND] [ROUNDS]   (defaults 200000, 5)
 */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srtp/kms_rtp.h"
#include "srtp/kms_srtp.h"
#include "ue/kms_media.h"

#define ROUNDS_MAX 15

static double now_ns(void)
{
    struct timespec t;
    (void)clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_srtp: %s failed\n", what);
    exit(1);
}

static void raw_ctx(const struct kms_srtp_policy *pol, uint8_t *ks, uint32_t ssrc,
                    srtp_ssrc_type_t type, srtp_t *out)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof(p));
    switch (pol->id) {
    case KMS_SRTP_AES128_HMAC80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
        break;
    case KMS_SRTP_AES256_HMAC80:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p.rtp);
        break;
    default:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        break;
    }
    p.rtcp = p.rtp;
    p.key = ks;
    p.ssrc.type = type;
    p.ssrc.value = ssrc;
    p.window_size = 128;
    if (srtp_create(out, &p) != srtp_err_status_ok) {
        die("srtp_create");
    }
}

/* iters protect + unprotect of one 160-octet PCMU payload through our code: ns in all. */
static double loop_ours(struct kms_srtp *tx, struct kms_srtp *rx, long iters)
{
    uint8_t pkt[12 + 160 + KMS_SRTP_TRAILER_MAX];
    uint8_t payload[160];
    memset(payload, 0xd5, sizeof(payload));
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kms_rtp_write_hdr(pkt, false, 0, (uint16_t)i, (uint32_t)i * 160, 1111);
        memcpy(pkt + 12, payload, 160);
        size_t n = 0;
        struct kms_rtp_hdr h;
        if (!kms_ok(kms_srtp_protect(tx, pkt, 172, sizeof(pkt), &n)) ||
            !kms_ok(kms_srtp_unprotect(rx, pkt, n, 0, &h))) {
            die("ours");
        }
    }
    return now_ns() - t0;
}

/* The same packets through raw libsrtp2 calls. */
static double loop_raw(srtp_t rtx, srtp_t rrx, long iters)
{
    uint8_t pkt[12 + 160 + KMS_SRTP_TRAILER_MAX];
    uint8_t payload[160];
    memset(payload, 0xd5, sizeof(payload));
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kms_rtp_write_hdr(pkt, false, 0, (uint16_t)i, (uint32_t)i * 160, 1111);
        memcpy(pkt + 12, payload, 160);
        int n = 172;
        if (srtp_protect(rtx, pkt, &n) != srtp_err_status_ok ||
            srtp_unprotect(rrx, pkt, &n) != srtp_err_status_ok) {
            die("raw");
        }
    }
    return now_ns() - t0;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (iters < 1000 || rounds < 1 || rounds > ROUNDS_MAX) {
        fprintf(stderr, "usage: bench_srtp [ITERATIONS_PER_ROUND >= 1000] [ROUNDS 1..15]\n");
        return 2;
    }
    if (!kms_ok(kms_srtp_init())) {
        die("kms_srtp_init");
    }
    printf("# %s, %ld protect+unprotect per round, %d rounds, medians\n", kms_srtp_version(), iters,
           rounds);
    static const char *const names[] = {"aes128-hmac80", "aes256-hmac80", "aes128-gcm"};
    for (size_t pi = 0; pi < 3; pi++) {
        const struct kms_srtp_policy *pol = kms_srtp_policy_by_name(names[pi]);
        struct kms_media_session a, b;
        memset(&a, 0, sizeof(a));
        a.policy = pol;
        strcpy(a.local_addr, "127.0.0.1:5004");
        strcpy(a.remote_addr, "127.0.0.1:5006");
        a.local = (struct kms_media_stream){.cs_id = 1, .ssrc = 1111};
        a.remote = (struct kms_media_stream){.cs_id = 2, .ssrc = 2222};
        for (int i = 0; i < KMS_MEDIA_KEY_MAX; i++) {
            a.local.key[i] = (uint8_t)(i * 3 + 1);
        }
        memset(a.local.salt, 0x5c, sizeof(a.local.salt));
        b = a;
        b.local = a.remote;
        b.remote = a.local;
        uint8_t ks[64];
        memcpy(ks, a.local.key, pol->key_len);
        memcpy(ks + pol->key_len, a.local.salt, pol->salt_len);
        double ours[ROUNDS_MAX], raw[ROUNDS_MAX], ratio[ROUNDS_MAX];
        for (int r = 0; r < rounds; r++) {
            /* Fresh contexts each round: the sequence numbers start again. */
            struct kms_srtp *tx = NULL, *rx = NULL;
            if (!kms_ok(kms_srtp_new(&a, KMS_SRTP_SEND, &tx)) ||
                !kms_ok(kms_srtp_new(&b, KMS_SRTP_RECV, &rx))) {
                die("kms_srtp_new");
            }
            srtp_t rtx, rrx;
            raw_ctx(pol, ks, 1111, ssrc_specific, &rtx);
            raw_ctx(pol, ks, 1111, ssrc_specific, &rrx);
            /* The two loops alternate which runs first, round by round, so that neither
             * gets the warm caches and clock of going second every time. */
            double t_ours = 0, t_raw = 0;
            if (r % 2 == 0) {
                t_ours = loop_ours(tx, rx, iters);
                t_raw = loop_raw(rtx, rrx, iters);
            } else {
                t_raw = loop_raw(rtx, rrx, iters);
                t_ours = loop_ours(tx, rx, iters);
            }
            ours[r] = t_ours / (double)iters;
            raw[r] = t_raw / (double)iters;
            ratio[r] = ours[r] / raw[r];
            kms_srtp_free(tx);
            kms_srtp_free(rx);
            (void)srtp_dealloc(rtx);
            (void)srtp_dealloc(rrx);
        }
        qsort(ours, (size_t)rounds, sizeof(double), cmp_d);
        qsort(raw, (size_t)rounds, sizeof(double), cmp_d);
        qsort(ratio, (size_t)rounds, sizeof(double), cmp_d);
        printf("srtp_%s_ours_ns=%.0f\nsrtp_%s_raw_ns=%.0f\nsrtp_%s_ratio=%.3f\n", pol->name,
               ours[rounds / 2], pol->name, raw[rounds / 2], pol->name, ratio[rounds / 2]);
    }
    kms_srtp_shutdown();
    return 0;
}

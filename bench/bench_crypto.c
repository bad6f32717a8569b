/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_crypto: Milenage vectors and Ks_NAF derivations per second, each beside a baseline
 * measured in the same run (single-block AES-128 EVP calls with a preset key; HMAC-SHA-256
 * over the same S string).
 *
 * The machines are shared and noisy, so the cases run interleaved: every round runs every
 * case for --seconds (starting at a different case each round), and the figures are medians
 * over the rounds. The ratios (cost of one vector in AES calls, of one Ks_NAF in HMACs) are
 * the median of the per-round ratios, so each ratio compares runs made a few tenths of a
 * second apart.
 *
 * Output: name=value lines; the human table's lines start with '#'.
 * Exit: 0 (the target verdict is informational), 2 bad usage, 3 a library call failed.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_ossl.h"
#include "util/kms_buf.h"

#define PROG "bench_crypto"

#define N_SUBS      1024 /* subscribers cycled through (a power of two) */
#define MAX_ROUNDS  101
#define MAX_SECONDS 60.0
#define TARGET_AES  10.0 /* one Milenage vector costs at most this many AES calls */

static const char impi[] = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
static const char naf_fqdn[] = "kms.ims.mnc001.mcc001.3gppnetwork.org";
static char digest_sha256[] = "SHA256"; /* OSSL_PARAM wants a non-const char * */

/* Defeats dead-code elimination: every case folds outputs into this. */
static volatile uint8_t sink;

struct sub {
    uint8_t k[16];
    uint8_t opc[16];
    uint8_t sqn[6];
    uint8_t ks[32]; /* CK || IK, the HMAC key of Ks_NAF */
};

struct bench {
    struct sub subs[N_SUBS];
    uint8_t op[16];   /* operator variant, for the set_key_op case */
    uint8_t rand[16]; /* RAND of the Ks_NAF derivation (S is fixed by it) */
    uint8_t s[512];   /* S of that derivation */
    size_t s_len;
    EVP_CIPHER_CTX *aes;            /* AES-128-ECB under a preset key, padding off */
    struct kms_milenage *mil;       /* re-keyed per vector */
    struct kms_milenage *mil_fixed; /* keyed once, for the diagnostic case */
    uint64_t ctr;                   /* iteration counter, shared by the cases */
};

static void die_kms(kms_result r, const char *what)
{
    fprintf(stderr, "%s: %s failed: %s (%s)\n", PROG, what, kms_strerror(r.err),
            kms_err_name(r.err));
    exit(3);
}

static void die_ossl(const char *what)
{
    fprintf(stderr, "%s: %s failed (OpenSSL)\n", PROG, what);
    exit(3);
}

static inline void check(kms_result r, const char *what)
{
    if (r.err != KMS_OK) {
        die_kms(r, what);
    }
}

static inline void check_ossl(int ret, const char *what)
{
    if (ret != 1) {
        die_ossl(what);
    }
}

static double now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        fprintf(stderr, "%s: clock_gettime: %s\n", PROG, strerror(errno));
        exit(3);
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A distinct 16-byte value per iteration: base with the counter in its first 8 bytes. */
static void stamp(uint8_t out[16], const uint8_t base[16], uint64_t ctr)
{
    memcpy(out, base, 16);
    for (int i = 0; i < 8; i++) {
        out[i] ^= (uint8_t)(ctr >> (8 * i));
    }
}

/* ---- the cases: each runs n iterations ---- */

/* Baseline: one 16-byte block through EVP_EncryptUpdate, key scheduled once up front. */
static void case_aes(struct bench *b, uint64_t n)
{
    uint8_t in[16], out[16];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        int outl = 0;
        stamp(in, b->rand, b->ctr++);
        check_ossl(EVP_EncryptUpdate(b->aes, out, &outl, in, 16), "EVP_EncryptUpdate");
        if (outl != 16) {
            die_ossl("EVP_EncryptUpdate length");
        }
        acc ^= out[0];
    }
    sink ^= acc;
}

/* One vector for the next subscriber: re-key with (K, OPc), then f1..f5*. */
static void case_milenage(struct bench *b, uint64_t n)
{
    static const uint8_t amf[2] = {0x80, 0x00};
    struct kms_aka_vec v;
    uint8_t rand[16];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sub *s = &b->subs[b->ctr & (N_SUBS - 1)];
        stamp(rand, b->rand, b->ctr++);
        check(kms_milenage_set_key(b->mil, s->k, s->opc), "kms_milenage_set_key");
        check(kms_milenage_vector(b->mil, rand, s->sqn, amf, &v), "kms_milenage_vector");
        acc ^= (uint8_t)(v.res[0] ^ v.ck[0] ^ v.autn[15]);
    }
    sink ^= acc;
}

/* As case_milenage, but the store holds OP: OPc = OP xor E_K(OP) per vector. */
static void case_milenage_op(struct bench *b, uint64_t n)
{
    static const uint8_t amf[2] = {0x80, 0x00};
    struct kms_aka_vec v;
    uint8_t rand[16];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sub *s = &b->subs[b->ctr & (N_SUBS - 1)];
        stamp(rand, b->rand, b->ctr++);
        check(kms_milenage_set_key_op(b->mil, s->k, b->op), "kms_milenage_set_key_op");
        check(kms_milenage_vector(b->mil, rand, s->sqn, amf, &v), "kms_milenage_vector");
        acc ^= (uint8_t)(v.res[0] ^ v.ck[0] ^ v.autn[15]);
    }
    sink ^= acc;
}

/* Diagnostic: vectors with the key set once (context keyed in setup, subscriber 0), to
 * separate the cost of the re-key from that of the vector itself. */
static void case_milenage_nokey(struct bench *b, uint64_t n)
{
    static const uint8_t amf[2] = {0x80, 0x00};
    struct kms_aka_vec v;
    uint8_t rand[16];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        stamp(rand, b->rand, b->ctr++);
        check(kms_milenage_vector(b->mil_fixed, rand, b->subs[0].sqn, amf, &v),
              "kms_milenage_vector");
        acc ^= (uint8_t)(v.res[0] ^ v.ck[0] ^ v.autn[15]);
    }
    sink ^= acc;
}

/* Baseline: HMAC-SHA-256 over S with a 32-byte key, a new EVP_MAC_CTX per MAC (the
 * handle fetched once, as lib/crypto/kms_ossl.c does). */
static void hmac_once(const struct bench *b, const uint8_t key[32], uint8_t out[32])
{
    size_t out_len = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(kms_ossl()->hmac);
    if (ctx == NULL) {
        die_ossl("EVP_MAC_CTX_new");
    }
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_sha256, 0),
        OSSL_PARAM_construct_end(),
    };
    check_ossl(EVP_MAC_init(ctx, key, 32, params), "EVP_MAC_init");
    check_ossl(EVP_MAC_update(ctx, b->s, b->s_len), "EVP_MAC_update");
    check_ossl(EVP_MAC_final(ctx, out, &out_len, 32), "EVP_MAC_final");
    if (out_len != 32) {
        die_ossl("EVP_MAC_final length");
    }
    EVP_MAC_CTX_free(ctx);
}

static void case_hmac(struct bench *b, uint64_t n)
{
    uint8_t out[32];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        hmac_once(b, b->subs[b->ctr++ & (N_SUBS - 1)].ks, out);
        acc ^= out[0];
    }
    sink ^= acc;
}

/* Ks_NAF for the next subscriber's Ks, same RAND, IMPI and NAF as the HMAC baseline. */
static void case_ks_naf(struct bench *b, uint64_t n)
{
    uint8_t out[KMS_KDF_OUT_LEN];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sub *s = &b->subs[b->ctr++ & (N_SUBS - 1)];
        check(kms_gba_ks_naf(s->ks, s->ks + 16, b->rand, impi, sizeof(impi) - 1, naf_fqdn,
                             sizeof(naf_fqdn) - 1, KMS_UA_ID_KMS, out),
              "kms_gba_ks_naf");
        acc ^= out[0];
    }
    sink ^= acc;
}

enum { C_AES, C_MIL, C_MIL_OP, C_MIL_NOKEY, C_HMAC, C_KS_NAF, N_CASES };

struct bcase {
    const char *name; /* prefix of the name=value lines */
    const char *what; /* table label */
    void (*fn)(struct bench *b, uint64_t n);
};

static const struct bcase cases[N_CASES] = {
    [C_AES] = {"aes128_block", "AES-128 1 block, preset key (baseline)", case_aes},
    [C_MIL] = {"milenage_vector", "Milenage set_key(K,OPc) + vector", case_milenage},
    [C_MIL_OP] = {"milenage_vector_op", "Milenage set_key_op(K,OP) + vector", case_milenage_op},
    [C_MIL_NOKEY] = {"milenage_vector_nokey", "Milenage vector, key set once (diag.)",
                     case_milenage_nokey},
    [C_HMAC] = {"hmac_sha256", "HMAC-SHA-256 over S (baseline)", case_hmac},
    [C_KS_NAF] = {"ks_naf", "Ks_NAF (kms_gba_ks_naf)", case_ks_naf},
};

/* Runs fn in batches for at least `seconds`; returns operations per second. */
static double run_for(const struct bcase *c, struct bench *b, uint64_t batch, double seconds)
{
    uint64_t done = 0;
    double t0 = now(), t;
    do {
        c->fn(b, batch);
        done += batch;
        t = now();
    } while (t - t0 < seconds);
    return (double)done / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double t[MAX_ROUNDS];
    memcpy(t, v, (size_t)n * sizeof(*t));
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) {
        m = v[i] < m ? v[i] : m;
    }
    return m;
}

static double max_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) {
        m = v[i] > m ? v[i] : m;
    }
    return m;
}

/* One table line for a cost ratio: median, then the range over the rounds. */
static void ratio_line(const char *what, double med, const double *per_round, int n,
                       const char *unit)
{
    printf("# %-32s = %6.2f %-9s (rounds %.2f..%.2f)\n", what, med, unit, min_of(per_round, n),
           max_of(per_round, n));
}

static void setup(struct bench *b)
{
    static const uint8_t aes_key[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                        0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
    const struct kms_ossl *o = kms_ossl();
    if (o == NULL) {
        die_ossl("algorithm fetch (kms_ossl)");
    }
    check(kms_random((uint8_t *)b->subs, sizeof(b->subs)), "kms_random");
    check(kms_random(b->op, sizeof(b->op)), "kms_random");
    check(kms_random(b->rand, sizeof(b->rand)), "kms_random");

    b->aes = EVP_CIPHER_CTX_new();
    if (b->aes == NULL) {
        die_ossl("EVP_CIPHER_CTX_new");
    }
    check_ossl(EVP_EncryptInit_ex2(b->aes, o->aes128_ecb, aes_key, NULL, NULL),
               "EVP_EncryptInit_ex2");
    check_ossl(EVP_CIPHER_CTX_set_padding(b->aes, 0), "EVP_CIPHER_CTX_set_padding");
    check(kms_milenage_new(&b->mil), "kms_milenage_new");
    check(kms_milenage_new(&b->mil_fixed), "kms_milenage_new");
    check(kms_milenage_set_key(b->mil_fixed, b->subs[0].k, b->subs[0].opc), "kms_milenage_set_key");

    struct kms_buf s;
    kms_buf_init_fixed(&s, b->s, sizeof(b->s), false);
    check(kms_gba_ks_naf_s(b->rand, impi, sizeof(impi) - 1, naf_fqdn, sizeof(naf_fqdn) - 1,
                           KMS_UA_ID_KMS, &s),
          "kms_gba_ks_naf_s");
    b->s_len = kms_buf_len(&s);

    /* The HMAC baseline must hash what Ks_NAF hashes: same key, same S, same output. */
    uint8_t want[KMS_KDF_OUT_LEN], got[32];
    check(kms_gba_ks_naf(b->subs[0].ks, b->subs[0].ks + 16, b->rand, impi, sizeof(impi) - 1,
                         naf_fqdn, sizeof(naf_fqdn) - 1, KMS_UA_ID_KMS, want),
          "kms_gba_ks_naf");
    hmac_once(b, b->subs[0].ks, got);
    if (memcmp(want, got, 32) != 0) {
        fprintf(stderr, "%s: HMAC baseline does not match Ks_NAF\n", PROG);
        exit(3);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--seconds S] [--rounds N]\n"
            "Milenage vectors/s (re-keyed per vector) and Ks_NAF derivations/s, beside\n"
            "single-block AES-128 EVP calls/s and HMAC-SHA-256/s measured in the same run.\n"
            "  --seconds S  time per case per round (default 0.2, at most 60)\n"
            "  --rounds N   interleaved rounds; figures are medians (default 5, 1..%d)\n"
            "  --help       this text\n"
            "Output: name=value lines; table lines start with '#'. Exit 0, 2 on bad usage.\n",
            MAX_ROUNDS);
}

static void bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s (try --help)\n", PROG, msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static void parse_args(int argc, char **argv, double *seconds, int *rounds)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--seconds") != 0 && strcmp(a, "--rounds") != 0) {
            bad_usage("unknown argument", a);
        }
        if (i + 1 >= argc) {
            bad_usage("missing value after", a);
        }
        const char *v = argv[++i];
        char *end = NULL;
        errno = 0;
        if (strcmp(a, "--seconds") == 0) {
            double d = strtod(v, &end);
            if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d <= 0 ||
                d > MAX_SECONDS) {
                bad_usage("--seconds wants a number in (0, 60]", v);
            }
            *seconds = d;
        } else {
            long n = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n < 1 || n > MAX_ROUNDS) {
                bad_usage("--rounds wants an integer in 1..101", v);
            }
            *rounds = (int)n;
        }
    }
}

int main(int argc, char **argv)
{
    double seconds = 0.2;
    int rounds = 5;
    parse_args(argc, argv, &seconds, &rounds);

    static struct bench b; /* ~80 KiB of subscriber data: not on the stack */
    setup(&b);

    /* Warm-up (caches, frequency, lazy OpenSSL init), and a batch size of ~1 ms per case
     * so that reading the clock costs nothing measurable. */
    uint64_t batch[N_CASES];
    for (int c = 0; c < N_CASES; c++) {
        double rate = run_for(&cases[c], &b, 16, seconds / 4 < 0.05 ? seconds / 4 : 0.05);
        batch[c] = rate / 1000 > 1 ? (uint64_t)(rate / 1000) : 1;
    }

    double rate[N_CASES][MAX_ROUNDS];
    double mil_aes[MAX_ROUNDS], mil_op_aes[MAX_ROUNDS], nokey_aes[MAX_ROUNDS];
    double naf_hmac[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < N_CASES; k++) {
            int c = (r + k) % N_CASES; /* rotate the order: no case always runs first */
            rate[c][r] = run_for(&cases[c], &b, batch[c], seconds);
        }
        mil_aes[r] = rate[C_AES][r] / rate[C_MIL][r];
        mil_op_aes[r] = rate[C_AES][r] / rate[C_MIL_OP][r];
        nokey_aes[r] = rate[C_AES][r] / rate[C_MIL_NOKEY][r];
        naf_hmac[r] = rate[C_HMAC][r] / rate[C_KS_NAF][r];
    }

    double med[N_CASES];
    for (int c = 0; c < N_CASES; c++) {
        med[c] = median(rate[c], rounds);
    }
    double cost_mil = median(mil_aes, rounds);
    double cost_mil_op = median(mil_op_aes, rounds);
    double cost_nokey = median(nokey_aes, rounds);
    double cost_naf = median(naf_hmac, rounds);

    printf("# %s: %d rounds x %.3g s per case, median over rounds; %s\n", PROG, rounds, seconds,
           OpenSSL_version(OPENSSL_VERSION));
    printf("# %-40s %12s %9s %21s\n", "case", "ops/s", "ns/op", "min..max ops/s");
    for (int c = 0; c < N_CASES; c++) {
        printf("# %-40s %12.0f %9.1f %10.0f..%.0f\n", cases[c].what, med[c], 1e9 / med[c],
               min_of(rate[c], rounds), max_of(rate[c], rounds));
    }
    ratio_line("Milenage vector, set_key", cost_mil, mil_aes, rounds, "AES calls");
    ratio_line("Milenage vector, set_key_op", cost_mil_op, mil_op_aes, rounds, "AES calls");
    ratio_line("Milenage vector, key set once", cost_nokey, nokey_aes, rounds, "AES calls");
    ratio_line("Ks_NAF", cost_naf, naf_hmac, rounds, "HMACs");
    printf("# target: a vector (set_key) costs <= %.0f AES calls: %s; S = %zu bytes\n", TARGET_AES,
           cost_mil <= TARGET_AES ? "met" : "NOT met", b.s_len);

    printf("openssl_version=%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("seconds_per_case=%g\n", seconds);
    printf("rounds=%d\n", rounds);
    printf("subscribers=%d\n", N_SUBS);
    printf("ks_naf_s_len=%zu\n", b.s_len);
    for (int c = 0; c < N_CASES; c++) {
        printf("%s_ops_per_s=%.0f\n", cases[c].name, med[c]);
        printf("%s_ops_per_s_min=%.0f\n", cases[c].name, min_of(rate[c], rounds));
        printf("%s_ops_per_s_max=%.0f\n", cases[c].name, max_of(rate[c], rounds));
    }
    printf("milenage_vector_cost_aes_calls=%.2f\n", cost_mil);
    printf("milenage_vector_cost_aes_calls_min=%.2f\n", min_of(mil_aes, rounds));
    printf("milenage_vector_cost_aes_calls_max=%.2f\n", max_of(mil_aes, rounds));
    printf("milenage_vector_op_cost_aes_calls=%.2f\n", cost_mil_op);
    printf("milenage_vector_nokey_cost_aes_calls=%.2f\n", cost_nokey);
    printf("ks_naf_cost_hmacs=%.2f\n", cost_naf);
    printf("ks_naf_cost_hmacs_min=%.2f\n", min_of(naf_hmac, rounds));
    printf("ks_naf_cost_hmacs_max=%.2f\n", max_of(naf_hmac, rounds));
    printf("target_milenage_le_10_aes=%s\n", cost_mil <= TARGET_AES ? "pass" : "fail");

    kms_milenage_free(b.mil);
    kms_milenage_free(b.mil_fixed);
    EVP_CIPHER_CTX_free(b.aes);
    return 0;
}

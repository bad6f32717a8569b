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
 * second apart. The harness (rounds, medians, options, printing) is bench_common.c's.
 *
 * Output: name=value lines; the human table's lines start with '#'.
 * Exit: 0 (the target verdict is informational), 2 bad usage, 3 a library call failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bench_common.h"
#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_ossl.h"
#include "util/kms_buf.h"

#define N_SUBS     1024 /* subscribers cycled through (a power of two) */
#define TARGET_AES 10.0 /* one Milenage vector costs at most this many AES calls */

const char bench_prog[] = "bench_crypto";

static const char impi[] = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
static const char naf_fqdn[] = "kms.ims.mnc001.mcc001.3gppnetwork.org";

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
static void case_aes(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t in[16], out[16];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        int outl = 0;
        stamp(in, b->rand, b->ctr++);
        bench_check_ossl(EVP_EncryptUpdate(b->aes, out, &outl, in, 16), "EVP_EncryptUpdate");
        if (outl != 16) {
            bench_die_ossl("EVP_EncryptUpdate length");
        }
        acc ^= out[0];
    }
    sink ^= acc;
}

/* How the Milenage cases key the context before each vector. */
enum keying {
    KEY_OPC,  /* the next subscriber's (K, OPc) */
    KEY_OP,   /* the next subscriber's K with OP: OPc = OP xor E_K(OP) per vector */
    KEY_ONCE, /* none: the context keyed in setup (subscriber 0) */
};

/* n vectors, keyed as `keying` says, then f1..f5*. Inlined into each case with a constant
 * `keying`, so that the timed loops carry no branch on it. */
static inline void milenage_vectors(struct bench *b, uint64_t n, enum keying keying)
{
    static const uint8_t amf[2] = {0x80, 0x00};
    struct kms_milenage *mil = keying == KEY_ONCE ? b->mil_fixed : b->mil;
    struct kms_aka_vec v;
    uint8_t rand[16];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sub *s = &b->subs[keying == KEY_ONCE ? 0 : b->ctr & (N_SUBS - 1)];
        stamp(rand, b->rand, b->ctr++);
        if (keying == KEY_OPC) {
            bench_check(kms_milenage_set_key(mil, s->k, s->opc), "kms_milenage_set_key");
        } else if (keying == KEY_OP) {
            bench_check(kms_milenage_set_key_op(mil, s->k, b->op), "kms_milenage_set_key_op");
        }
        bench_check(kms_milenage_vector(mil, rand, s->sqn, amf, &v), "kms_milenage_vector");
        acc ^= (uint8_t)(v.res[0] ^ v.ck[0] ^ v.autn[15]);
    }
    sink ^= acc;
}

/* One vector for the next subscriber: re-key with (K, OPc), then f1..f5*. */
static void case_milenage(void *ctx, uint64_t n)
{
    milenage_vectors(ctx, n, KEY_OPC);
}

/* As case_milenage, but the store holds OP: OPc = OP xor E_K(OP) per vector. */
static void case_milenage_op(void *ctx, uint64_t n)
{
    milenage_vectors(ctx, n, KEY_OP);
}

/* Diagnostic: vectors with the key set once (context keyed in setup, subscriber 0), to
 * separate the cost of the re-key from that of the vector itself. */
static void case_milenage_nokey(void *ctx, uint64_t n)
{
    milenage_vectors(ctx, n, KEY_ONCE);
}

/* Baseline: HMAC-SHA-256 over S with the next subscriber's Ks as the 32-byte key. */
static void case_hmac(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        bench_hmac_sha256(b->subs[b->ctr++ & (N_SUBS - 1)].ks, b->s, b->s_len, out);
        acc ^= out[0];
    }
    sink ^= acc;
}

/* Ks_NAF for the next subscriber's Ks, same RAND, IMPI and NAF as the HMAC baseline. */
static void case_ks_naf(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[KMS_KDF_OUT_LEN];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sub *s = &b->subs[b->ctr++ & (N_SUBS - 1)];
        bench_check(kms_gba_ks_naf(s->ks, s->ks + 16, b->rand, impi, sizeof(impi) - 1, naf_fqdn,
                                   sizeof(naf_fqdn) - 1, KMS_UA_ID_KMS, out),
                    "kms_gba_ks_naf");
        acc ^= out[0];
    }
    sink ^= acc;
}

enum { C_AES, C_MIL, C_MIL_OP, C_MIL_NOKEY, C_HMAC, C_KS_NAF, N_CASES };

static const struct bench_case cases[N_CASES] = {
    [C_AES] = {"aes128_block", "AES-128 1 block, preset key (baseline)", case_aes},
    [C_MIL] = {"milenage_vector", "Milenage set_key(K,OPc) + vector", case_milenage},
    [C_MIL_OP] = {"milenage_vector_op", "Milenage set_key_op(K,OP) + vector", case_milenage_op},
    [C_MIL_NOKEY] = {"milenage_vector_nokey", "Milenage vector, key set once (diag.)",
                     case_milenage_nokey},
    [C_HMAC] = {"hmac_sha256", "HMAC-SHA-256 over S (baseline)", case_hmac},
    [C_KS_NAF] = {"ks_naf", "Ks_NAF (kms_gba_ks_naf)", case_ks_naf},
};

/* The cost ratios: one vector in AES calls, one Ks_NAF in HMACs. */
enum { R_MIL, R_MIL_OP, R_MIL_NOKEY, R_KS_NAF, N_RATIOS };

static const struct bench_ratio ratios[N_RATIOS] = {
    [R_MIL] = {"milenage_vector_cost_aes_calls", "Milenage vector, set_key", "AES calls", C_AES,
               C_MIL, true},
    [R_MIL_OP] = {"milenage_vector_op_cost_aes_calls", "Milenage vector, set_key_op", "AES calls",
                  C_AES, C_MIL_OP, false},
    [R_MIL_NOKEY] = {"milenage_vector_nokey_cost_aes_calls", "Milenage vector, key set once",
                     "AES calls", C_AES, C_MIL_NOKEY, false},
    [R_KS_NAF] = {"ks_naf_cost_hmacs", "Ks_NAF", "HMACs", C_HMAC, C_KS_NAF, true},
};

static const struct bench_suite suite = {
    .about = "Milenage vectors/s (re-keyed per vector) and Ks_NAF derivations/s, beside\n"
             "single-block AES-128 EVP calls/s and HMAC-SHA-256/s measured in the same run.\n",
    .cases = cases,
    .n_cases = N_CASES,
    .ratios = ratios,
    .n_ratios = N_RATIOS,
    .warm_batch = 16,
    .layout = {.case_w = 40, .ops_w = 12, .ratio_w = 32, .unit_w = 9},
};

static void setup(struct bench *b)
{
    static const uint8_t aes_key[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                        0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
    const struct kms_ossl *o = kms_ossl();
    if (o == NULL) {
        bench_die_ossl("algorithm fetch (kms_ossl)");
    }
    bench_check(kms_random((uint8_t *)b->subs, sizeof(b->subs)), "kms_random");
    bench_check(kms_random(b->op, sizeof(b->op)), "kms_random");
    bench_check(kms_random(b->rand, sizeof(b->rand)), "kms_random");

    b->aes = EVP_CIPHER_CTX_new();
    if (b->aes == NULL) {
        bench_die_ossl("EVP_CIPHER_CTX_new");
    }
    bench_check_ossl(EVP_EncryptInit_ex2(b->aes, o->aes128_ecb, aes_key, NULL, NULL),
                     "EVP_EncryptInit_ex2");
    bench_check_ossl(EVP_CIPHER_CTX_set_padding(b->aes, 0), "EVP_CIPHER_CTX_set_padding");
    bench_check(kms_milenage_new(&b->mil), "kms_milenage_new");
    bench_check(kms_milenage_new(&b->mil_fixed), "kms_milenage_new");
    bench_check(kms_milenage_set_key(b->mil_fixed, b->subs[0].k, b->subs[0].opc),
                "kms_milenage_set_key");

    struct kms_buf s;
    kms_buf_init_fixed(&s, b->s, sizeof(b->s), false);
    bench_check(kms_gba_ks_naf_s(b->rand, impi, sizeof(impi) - 1, naf_fqdn, sizeof(naf_fqdn) - 1,
                                 KMS_UA_ID_KMS, &s),
                "kms_gba_ks_naf_s");
    b->s_len = kms_buf_len(&s);

    /* The HMAC baseline must hash what Ks_NAF hashes: same key, same S, same output. */
    uint8_t want[KMS_KDF_OUT_LEN], got[32];
    bench_check(kms_gba_ks_naf(b->subs[0].ks, b->subs[0].ks + 16, b->rand, impi, sizeof(impi) - 1,
                               naf_fqdn, sizeof(naf_fqdn) - 1, KMS_UA_ID_KMS, want),
                "kms_gba_ks_naf");
    bench_hmac_sha256(b->subs[0].ks, b->s, b->s_len, got);
    if (memcmp(want, got, 32) != 0) {
        bench_fail("HMAC baseline does not match Ks_NAF");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts opts;
    bench_parse_args(&suite, argc, argv, &opts);

    static struct bench b; /* ~80 KiB of subscriber data: not on the stack */
    setup(&b);

    static struct bench_results res;
    bench_run(&suite, &b, &opts, &res);
    double cost_mil = res.cost_med[R_MIL];

    bench_print_table(&suite, &res);
    printf("# target: a vector (set_key) costs <= %.0f AES calls: %s; S = %zu bytes\n", TARGET_AES,
           cost_mil <= TARGET_AES ? "met" : "NOT met", b.s_len);

    bench_print_keys_head(&res);
    printf("subscribers=%d\n", N_SUBS);
    printf("ks_naf_s_len=%zu\n", b.s_len);
    bench_print_keys(&suite, &res);
    printf("target_milenage_le_10_aes=%s\n", cost_mil <= TARGET_AES ? "pass" : "fail");

    kms_milenage_free(b.mil);
    kms_milenage_free(b.mil_fixed);
    EVP_CIPHER_CTX_free(b.aes);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_hmac: what one short HMAC-SHA-256 costs through each OpenSSL interface, measured
 * interleaved in the same run, to decide on the KMS handler's HMAC layer (docs/performance.md,
 * "The KMS handler alone"). A mode-3 ticket request makes 11 MACs of this size (the PRF blocks,
 * the two V payloads, the replay fingerprint) and prepares 3 keys.
 *
 * The message is 60 octets, the second HMAC of a PRF block (A_1 || label); the key 32 octets.
 *  - prepared, EVP (the library: kms_hmac_key_mac): the inner and outer states after the pad
 *    blocks, copied with EVP_MD_CTX_copy_ex into a per-thread context. On OpenSSL 3.0 every
 *    copy allocates the provider's digest state (and frees the previous one);
 *  - prepared, SHA256_CTX: the same with OpenSSL's low-level SHA-256 API, deprecated since 3.0,
 *    whose state is a plain struct copied by assignment (no allocation, no provider). Used here
 *    only, to measure what the library would gain; the library does not use it;
 *  - EVP_MAC re-init: an EVP_MAC_CTX keyed once, EVP_MAC_init(ctx, NULL, 0, NULL) per MAC;
 *  - one-shot, EVP (kms_hmac_sha256: the pads hashed on a per-thread context) and one-shot,
 *    SHA256_CTX;
 *  - key preparation, EVP (kms_hmac_key_init + cleanup) and SHA256_CTX.
 * The baseline is bench_mikey's and bench_service's: an EVP_MAC context per MAC. At start-up
 * every way is checked to give the baseline's MAC.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: the comparison only */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "bench_common.h"
#include "crypto/kms_ossl.h"

const char bench_prog[] = "bench_hmac";

#define MSG_LEN 60

static volatile uint8_t sink;

struct bench {
    uint8_t key[32];
    uint8_t msg[MSG_LEN];
    struct kms_hmac_key evp;  /* prepared through EVP */
    SHA256_CTX ll_in, ll_out; /* prepared, low level */
    EVP_MAC_CTX *mac;         /* keyed once */
};

static void ll_prepare(const uint8_t key[32], SHA256_CTX *in, SHA256_CTX *out)
{
    uint8_t pad[64];
    for (size_t i = 0; i < 64; i++) {
        pad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x36);
    }
    SHA256_Init(in);
    SHA256_Update(in, pad, 64);
    for (size_t i = 0; i < 64; i++) {
        pad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x5c);
    }
    SHA256_Init(out);
    SHA256_Update(out, pad, 64);
    OPENSSL_cleanse(pad, sizeof(pad));
}

static void ll_mac(const SHA256_CTX *in, const SHA256_CTX *out, const uint8_t *m, size_t n,
                   uint8_t mac[32])
{
    SHA256_CTX w = *in;
    uint8_t ih[32];
    SHA256_Update(&w, m, n);
    SHA256_Final(ih, &w);
    w = *out;
    SHA256_Update(&w, ih, 32);
    SHA256_Final(mac, &w);
    OPENSSL_cleanse(&w, sizeof(w));
    OPENSSL_cleanse(ih, sizeof(ih));
}

static void case_baseline(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    for (uint64_t i = 0; i < n; i++) {
        bench_hmac_sha256(b->key, b->msg, MSG_LEN, out);
        b->msg[0] ^= out[0];
    }
    sink ^= b->msg[0];
}

static void case_prepared_evp(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    for (uint64_t i = 0; i < n; i++) {
        const struct kms_iov part = {b->msg, MSG_LEN};
        bench_check(kms_hmac_key_mac(&b->evp, &part, 1, out, sizeof(out)), "kms_hmac_key_mac");
        b->msg[0] ^= out[0];
    }
    sink ^= b->msg[0];
}

static void case_prepared_ll(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    for (uint64_t i = 0; i < n; i++) {
        ll_mac(&b->ll_in, &b->ll_out, b->msg, MSG_LEN, out);
        b->msg[0] ^= out[0];
    }
    sink ^= b->msg[0];
}

static void case_mac_reinit(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    size_t len = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (EVP_MAC_init(b->mac, NULL, 0, NULL) != 1 ||
            EVP_MAC_update(b->mac, b->msg, MSG_LEN) != 1 ||
            EVP_MAC_final(b->mac, out, &len, sizeof(out)) != 1) {
            bench_die_ossl("EVP_MAC re-init");
        }
        b->msg[0] ^= out[0];
    }
    sink ^= b->msg[0];
}

static void case_oneshot_evp(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    for (uint64_t i = 0; i < n; i++) {
        bench_check(kms_hmac_sha256(b->key, 32, b->msg, MSG_LEN, out), "kms_hmac_sha256");
        b->msg[0] ^= out[0];
    }
    sink ^= b->msg[0];
}

static void case_oneshot_ll(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    SHA256_CTX in, o;
    for (uint64_t i = 0; i < n; i++) {
        ll_prepare(b->key, &in, &o);
        ll_mac(&in, &o, b->msg, MSG_LEN, out);
        b->msg[0] ^= out[0];
    }
    OPENSSL_cleanse(&in, sizeof(in));
    OPENSSL_cleanse(&o, sizeof(o));
    sink ^= b->msg[0];
}

static void case_prepare_evp(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    for (uint64_t i = 0; i < n; i++) {
        struct kms_hmac_key k;
        bench_check(kms_hmac_key_init(&k, "SHA256", b->key, 32), "kms_hmac_key_init");
        kms_hmac_key_cleanup(&k);
        b->key[0]++;
    }
    sink ^= b->key[0];
}

static void case_prepare_ll(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    SHA256_CTX in, o;
    for (uint64_t i = 0; i < n; i++) {
        ll_prepare(b->key, &in, &o);
        b->key[0]++;
    }
    OPENSSL_cleanse(&in, sizeof(in));
    OPENSSL_cleanse(&o, sizeof(o));
    sink ^= b->key[0];
}

enum { C_BASE, C_PREP_EVP, C_PREP_LL, C_REINIT, C_ONE_EVP, C_ONE_LL, C_KEY_EVP, C_KEY_LL, N_CASES };

static const struct bench_case cases[N_CASES] = {
    [C_BASE] = {"hmac_evp_mac", "EVP_MAC ctx per MAC (baseline)", case_baseline},
    [C_PREP_EVP] = {"hmac_prepared_evp", "prepared, EVP_MD_CTX_copy_ex (library)",
                    case_prepared_evp},
    [C_PREP_LL] = {"hmac_prepared_sha256_ctx", "prepared, SHA256_CTX (deprecated)",
                   case_prepared_ll},
    [C_REINIT] = {"hmac_evp_mac_reinit", "EVP_MAC keyed once, re-init", case_mac_reinit},
    [C_ONE_EVP] = {"hmac_oneshot_evp", "one-shot, EVP_MD (library)", case_oneshot_evp},
    [C_ONE_LL] = {"hmac_oneshot_sha256_ctx", "one-shot, SHA256_CTX (deprecated)", case_oneshot_ll},
    [C_KEY_EVP] = {"key_prepare_evp", "key preparation, EVP (library)", case_prepare_evp},
    [C_KEY_LL] = {"key_prepare_sha256_ctx", "key preparation, SHA256_CTX", case_prepare_ll},
};

enum { R_PREP_EVP, R_PREP_LL, R_REINIT, R_ONE_EVP, R_ONE_LL, R_KEY_EVP, R_KEY_LL, N_RATIOS };

static const struct bench_ratio ratios[N_RATIOS] = {
    [R_PREP_EVP] = {"prepared_evp_cost_hmacs", "prepared, EVP", "HMACs", C_BASE, C_PREP_EVP, true},
    [R_PREP_LL] = {"prepared_sha256_ctx_cost_hmacs", "prepared, SHA256_CTX", "HMACs", C_BASE,
                   C_PREP_LL, true},
    [R_REINIT] = {"evp_mac_reinit_cost_hmacs", "EVP_MAC re-init", "HMACs", C_BASE, C_REINIT, false},
    [R_ONE_EVP] = {"oneshot_evp_cost_hmacs", "one-shot, EVP", "HMACs", C_BASE, C_ONE_EVP, false},
    [R_ONE_LL] = {"oneshot_sha256_ctx_cost_hmacs", "one-shot, SHA256_CTX", "HMACs", C_BASE,
                  C_ONE_LL, false},
    [R_KEY_EVP] = {"key_prepare_evp_cost_hmacs", "key preparation, EVP", "HMACs", C_BASE, C_KEY_EVP,
                   false},
    [R_KEY_LL] = {"key_prepare_sha256_ctx_cost_hmacs", "key preparation, SHA256_CTX", "HMACs",
                  C_BASE, C_KEY_LL, false},
};

static const struct bench_suite suite = {
    .about = "One short HMAC-SHA-256 (60-octet message, 32-octet key) through the library's\n"
             "EVP path and through OpenSSL's deprecated SHA256_CTX API, beside an EVP_MAC\n"
             "context per MAC, measured interleaved in the same run.\n",
    .cases = cases,
    .n_cases = N_CASES,
    .ratios = ratios,
    .n_ratios = N_RATIOS,
    .warm_batch = 64,
    .layout = {.case_w = 40, .ops_w = 12, .ratio_w = 32, .unit_w = 6},
};

/* Every way gives the baseline's MAC. */
static void self_check(struct bench *b)
{
    uint8_t want[32], got[32];
    size_t len = 0;
    const struct kms_iov part = {b->msg, MSG_LEN};
    bench_hmac_sha256(b->key, b->msg, MSG_LEN, want);
    bench_check(kms_hmac_key_mac(&b->evp, &part, 1, got, sizeof(got)), "kms_hmac_key_mac");
    if (memcmp(got, want, 32) != 0) {
        bench_fail("prepared EVP MAC differs from the baseline");
    }
    ll_mac(&b->ll_in, &b->ll_out, b->msg, MSG_LEN, got);
    if (memcmp(got, want, 32) != 0) {
        bench_fail("SHA256_CTX MAC differs from the baseline");
    }
    if (EVP_MAC_init(b->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(b->mac, b->msg, MSG_LEN) != 1 ||
        EVP_MAC_final(b->mac, got, &len, sizeof(got)) != 1 || memcmp(got, want, 32) != 0) {
        bench_fail("EVP_MAC re-init MAC differs from the baseline");
    }
    bench_check(kms_hmac_sha256(b->key, 32, b->msg, MSG_LEN, got), "kms_hmac_sha256");
    if (memcmp(got, want, 32) != 0) {
        bench_fail("one-shot EVP MAC differs from the baseline");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts opts;
    bench_parse_args(&suite, argc, argv, &opts);
    static struct bench b;
    static struct bench_results res;
    for (size_t i = 0; i < sizeof(b.key); i++) {
        b.key[i] = (uint8_t)(0x40 + i);
    }
    for (size_t i = 0; i < sizeof(b.msg); i++) {
        b.msg[i] = (uint8_t)i;
    }
    bench_check(kms_hmac_key_init(&b.evp, "SHA256", b.key, 32), "kms_hmac_key_init");
    ll_prepare(b.key, &b.ll_in, &b.ll_out);
    const struct kms_ossl *o = kms_ossl();
    if (o == NULL || (b.mac = EVP_MAC_CTX_new(o->hmac)) == NULL) {
        bench_die_ossl("EVP_MAC_CTX_new");
    }
    static char sha256_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256_name, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(b.mac, b.key, 32, params) != 1) {
        bench_die_ossl("EVP_MAC_init");
    }
    self_check(&b);
    bench_run(&suite, &b, &opts, &res);
    bench_print_table(&suite, &res);
    double base_ns = 1e9 / res.rate_med[C_BASE];
    double d_mac = 1e9 / res.rate_med[C_PREP_EVP] - 1e9 / res.rate_med[C_PREP_LL];
    double d_one = 1e9 / res.rate_med[C_ONE_EVP] - 1e9 / res.rate_med[C_ONE_LL];
    double d_key = 1e9 / res.rate_med[C_KEY_EVP] - 1e9 / res.rate_med[C_KEY_LL];
    /* A mode-3 request: 9 MACs under prepared keys (PRF blocks, replay fingerprint), 2 one-shot
     * MACs (the two V payloads under their auth_keys), 1 key preparation (the Kue). */
    double per_req = 9 * d_mac + 2 * d_one + 1 * d_key;
    printf("# SHA256_CTX would save per mode-3 request (9 prepared MACs, 2 one-shot, 1 key):"
           " %.0f ns = %.2f baseline HMACs\n",
           per_req, per_req / base_ns);
    bench_print_keys_head(&res);
    bench_print_keys(&suite, &res);
    printf("sha256_ctx_saving_per_mode3_request_ns=%.0f\n"
           "sha256_ctx_saving_per_mode3_request_hmacs=%.2f\n",
           per_req, per_req / base_ns);
    kms_hmac_key_cleanup(&b.evp);
    EVP_MAC_CTX_free(b.mac);
    OPENSSL_cleanse(&b, sizeof(b));
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ticket: sealed tickets sealed and opened per second, with the file keystore and (when
 * IMSKMS_BENCH_HSM_URI names a PKCS#11 token, e.g. SoftHSM2 set up by bench/run.sh) with the
 * PKCS#11 keystore, beside raw EVP AES-256-GCM on the same sizes in the same run.
 *
 * The ticket is a realistic sealed Kue (32-byte Kue, an IMPI, two IMPUs, a NAF_Id). The raw
 * baseline is what any sealing must do at least: one AES-256-GCM encryption (or decryption
 * with tag check) of that many plaintext bytes with 6 bytes of associated data, on a context
 * keyed once, a new nonce each time. The ratios say what the format, the keyring lookup,
 * the payload codec and the claim checks add. Target (issue 4): file-keystore open <= 1.5 x
 * the raw AEAD.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bench_common.h"
#include "crypto/kms_ossl.h"
#include "keyring/kms_keyring.h"
#include "ticket/kms_ticket.h"

const char bench_prog[] = "bench_ticket";

#define NOW 1800000000ULL

static volatile uint8_t sink;

struct ring {
    struct kms_keystore *ks;
    struct kms_keyring *kr;
    uint8_t t[KMS_TICKET_MAX];
    size_t t_len;
};

struct bench {
    char dir[64];
    struct ring file, hsm;
    bool have_hsm;
    struct kms_ticket_claims claims;
    EVP_CIPHER_CTX *enc, *dec;
    uint8_t pt[KMS_TICKET_MAX], ct[KMS_TICKET_MAX], tag[16], nonce[12], aad[6];
    uint8_t scratch[KMS_TICKET_MAX], scratch_tag[16]; /* raw seal output */
    size_t pt_len;
    uint64_t ctr;
};

static void claims_init(struct kms_ticket_claims *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = KMS_TICKET_KUE;
    memset(c->token_id, 0x5c, sizeof(c->token_id));
    c->kue_len = 32;
    memset(c->kue, 0x4b, c->kue_len);
    bench_check(kms_ticket_ident_set(&c->impi, "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"),
                "impi");
    bench_check(kms_ticket_ident_set(&c->impu[0], "sip:+15550001234@ims.example.org"), "impu");
    bench_check(kms_ticket_ident_set(&c->impu[1], "tel:+15550001234"), "impu");
    c->n_impu = 2;
    c->mode = 3;
    memcpy(c->naf_id, "kms.ims.example.org\x01\x00\x00\x00\x06", 24);
    c->naf_id_len = 24;
}

static void seal_one(struct bench *b, struct ring *r)
{
    struct kms_buf out;
    kms_buf_init_fixed(&out, r->t, sizeof(r->t), false);
    b->claims.expires = NOW + 3600;
    b->claims.ks_naf_expires = NOW + 7200;
    bench_check(kms_ticket_seal(r->kr, NOW, &b->claims, &out), "kms_ticket_seal");
    r->t_len = kms_buf_len(&out);
}

static void ring_setup(struct bench *b, struct ring *r, const char *name, struct kms_keystore *ks)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", b->dir, name);
    r->ks = ks;
    /* A seal budget large enough that the measurement never rotates. */
    struct kms_keyring_policy pol = {86400, 86400, UINT64_C(1) << 32};
    bench_check(kms_keyring_create(path, ks, &pol, NOW, &r->kr), "kms_keyring_create");
    seal_one(b, r);
}

static void setup(struct bench *b)
{
    snprintf(b->dir, sizeof(b->dir), "/tmp/imskms-bench-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        bench_fail("mkdtemp failed");
    }
    claims_init(&b->claims);
    uint8_t kek[32];
    memset(kek, 0x33, sizeof(kek));
    struct kms_keystore *ks = NULL;
    bench_check(kms_keystore_file_open_kek(kek, &ks), "kms_keystore_file_open_kek");
    ring_setup(b, &b->file, "keyring-file", ks);
    const char *uri = getenv("IMSKMS_BENCH_HSM_URI");
    if (uri != NULL && uri[0] != '\0') {
        bench_check(kms_keystore_p11_open(uri, &ks), "kms_keystore_p11_open");
        ring_setup(b, &b->hsm, "keyring-hsm", ks);
        b->have_hsm = true;
    }

    /* The raw baseline on the same sizes: the ticket's payload length, 6 bytes of AAD. */
    struct kms_ticket_header h;
    bench_check(kms_ticket_header_parse(b->file.t, b->file.t_len, &h), "header");
    b->pt_len = h.ct_len;
    memset(b->pt, 0x42, b->pt_len);
    memcpy(b->aad, b->file.t, sizeof(b->aad));
    const struct kms_ossl *o = kms_ossl();
    if (o == NULL) {
        bench_fail("OpenSSL fetch failed");
    }
    b->enc = EVP_CIPHER_CTX_new();
    b->dec = EVP_CIPHER_CTX_new();
    bench_check_ossl(EVP_EncryptInit_ex2(b->enc, o->aes256_gcm, kek, NULL, NULL), "init");
    bench_check_ossl(EVP_DecryptInit_ex2(b->dec, o->aes256_gcm, kek, NULL, NULL), "init");
    int len = 0;
    /* One sealed blob for the raw open case. */
    bench_check_ossl(EVP_EncryptInit_ex2(b->enc, NULL, NULL, b->nonce, NULL), "iv");
    bench_check_ossl(EVP_EncryptUpdate(b->enc, NULL, &len, b->aad, 6), "aad");
    bench_check_ossl(EVP_EncryptUpdate(b->enc, b->ct, &len, b->pt, (int)b->pt_len), "enc");
    bench_check_ossl(EVP_EncryptFinal_ex(b->enc, b->ct + len, &len), "final");
    bench_check_ossl(EVP_CIPHER_CTX_ctrl(b->enc, EVP_CTRL_AEAD_GET_TAG, 16, b->tag), "tag");
}

static void raw_seal(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    int len = 0;
    for (uint64_t i = 0; i < n; i++) {
        b->ctr++;
        memcpy(b->nonce, &b->ctr, sizeof(b->ctr));
        bench_check_ossl(EVP_EncryptInit_ex2(b->enc, NULL, NULL, b->nonce, NULL), "iv");
        bench_check_ossl(EVP_EncryptUpdate(b->enc, NULL, &len, b->aad, 6), "aad");
        bench_check_ossl(EVP_EncryptUpdate(b->enc, b->scratch, &len, b->pt, (int)b->pt_len), "enc");
        bench_check_ossl(EVP_EncryptFinal_ex(b->enc, b->scratch + len, &len), "final");
        bench_check_ossl(EVP_CIPHER_CTX_ctrl(b->enc, EVP_CTRL_AEAD_GET_TAG, 16, b->scratch_tag),
                         "tag");
        sink ^= b->scratch[0];
    }
}

static void raw_open(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t zero[12] = {0};
    uint8_t out[KMS_TICKET_MAX];
    int len = 0;
    for (uint64_t i = 0; i < n; i++) {
        bench_check_ossl(EVP_DecryptInit_ex2(b->dec, NULL, NULL, zero, NULL), "iv");
        bench_check_ossl(EVP_DecryptUpdate(b->dec, NULL, &len, b->aad, 6), "aad");
        bench_check_ossl(EVP_DecryptUpdate(b->dec, out, &len, b->ct, (int)b->pt_len), "dec");
        bench_check_ossl(EVP_CIPHER_CTX_ctrl(b->dec, EVP_CTRL_AEAD_SET_TAG, 16, b->tag), "tag");
        bench_check_ossl(EVP_DecryptFinal_ex(b->dec, out + len, &len), "final");
        sink ^= out[0];
    }
}

static void ticket_seal(struct bench *b, struct ring *r, uint64_t n)
{
    uint8_t t[KMS_TICKET_MAX];
    for (uint64_t i = 0; i < n; i++) {
        struct kms_buf out;
        kms_buf_init_fixed(&out, t, sizeof(t), false);
        b->claims.expires = NOW + 3600;
        bench_check(kms_ticket_seal(r->kr, NOW, &b->claims, &out), "kms_ticket_seal");
        sink ^= t[20];
    }
}

static void ticket_open(struct ring *r, uint64_t n)
{
    struct kms_ticket_claims c;
    for (uint64_t i = 0; i < n; i++) {
        bench_check(kms_ticket_open(r->kr, NOW + 1, r->t, r->t_len, KMS_TICKET_KUE, &c),
                    "kms_ticket_open");
        sink ^= c.kue[0];
    }
}

static void file_seal(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    ticket_seal(b, &b->file, n);
}

static void file_open(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    ticket_open(&b->file, n);
}

static void hsm_seal(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    ticket_seal(b, &b->hsm, n);
}

static void hsm_open(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    ticket_open(&b->hsm, n);
}

enum { C_RAW_SEAL, C_RAW_OPEN, C_FILE_SEAL, C_FILE_OPEN, C_HSM_SEAL, C_HSM_OPEN };

static const struct bench_case cases[] = {
    {"raw_gcm_seal", "raw EVP AES-256-GCM seal", raw_seal},
    {"raw_gcm_open", "raw EVP AES-256-GCM open", raw_open},
    {"file_seal", "ticket seal, file keystore", file_seal},
    {"file_open", "ticket open, file keystore", file_open},
    {"hsm_seal", "ticket seal, PKCS#11", hsm_seal},
    {"hsm_open", "ticket open, PKCS#11", hsm_open},
};

static const struct bench_ratio ratios[] = {
    {"file_seal_cost", "file seal / raw seal", "raw AEADs", C_RAW_SEAL, C_FILE_SEAL, true},
    {"file_open_cost", "file open / raw open", "raw AEADs", C_RAW_OPEN, C_FILE_OPEN, true},
    {"hsm_seal_cost", "PKCS#11 seal / raw seal", "raw AEADs", C_RAW_SEAL, C_HSM_SEAL, true},
    {"hsm_open_cost", "PKCS#11 open / raw open", "raw AEADs", C_RAW_OPEN, C_HSM_OPEN, true},
};

static void cleanup(struct bench *b)
{
    struct ring *rings[] = {&b->file, &b->hsm};
    for (size_t i = 0; i < 2; i++) {
        kms_keyring_close(rings[i]->kr);
        kms_keystore_close(rings[i]->ks); /* PKCS#11: C_Finalize here, before exit */
    }
    EVP_CIPHER_CTX_free(b->enc);
    EVP_CIPHER_CTX_free(b->dec);
    char path[160];
    const char *names[] = {"keyring-file", "keyring-file.lock", "keyring-hsm", "keyring-hsm.lock"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", b->dir, names[i]);
        unlink(path);
    }
    rmdir(b->dir);
}

int main(int argc, char **argv)
{
    static struct bench b;
    struct bench_suite suite = {
        .about = "Sealed tickets (a sealed Kue of realistic size) sealed and opened per second\n"
                 "with the file keystore, and with the PKCS#11 keystore when the environment\n"
                 "variable IMSKMS_BENCH_HSM_URI names a token (bench/run.sh ticket sets up\n"
                 "SoftHSM2), beside raw EVP AES-256-GCM on the same sizes.\n",
        .cases = cases,
        .n_cases = 4,
        .ratios = ratios,
        .n_ratios = 2,
        .warm_batch = 64,
        .layout = {30, 12, 26, 9},
    };
    struct bench_opts opts;
    bench_parse_args(&suite, argc, argv, &opts);
    setup(&b);
    if (b.have_hsm) {
        suite.n_cases = 6;
        suite.n_ratios = 4;
    }
    static struct bench_results res;
    bench_run(&suite, &b, &opts, &res);
    bench_print_table(&suite, &res);
    printf("# ticket: %zu bytes (payload %zu); keystores: file%s\n", b.file.t_len, b.pt_len,
           b.have_hsm ? ", PKCS#11" : "");
    bench_print_keys_head(&res);
    printf("ticket_bytes=%zu\npayload_bytes=%zu\n", b.file.t_len, b.pt_len);
    bench_print_keys(&suite, &res);
    cleanup(&b);
    return 0;
}

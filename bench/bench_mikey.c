/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_mikey: REQUEST_INIT_PSK messages built and sealed, opened (verified), and both, per
 * second, beside a baseline measured in the same run: one HMAC-SHA-256 over exactly the bytes
 * the message's MAC covers (the encoded message up to the MAC field, then Identity_i and
 * Identity_kms). Diagnostic cases split the cost: the key derivation alone (PRF-HMAC-SHA-256
 * of the auth_key, as seal and open run it), the derivation a message with a KEMAC would need
 * (encr_key, auth_key, salt_key), the library's MAC alone, building and encoding alone, and
 * decoding with the shape check alone.
 *
 * As in bench_crypto, the cases run interleaved: every round runs every case for --seconds
 * (starting at a different case each round), and the figures are medians over the rounds. Each
 * cost ratio (how many baseline HMACs one operation costs) is the median of the per-round
 * ratios. The harness (rounds, medians, options, printing) is bench_common.c's.
 *
 * Output: name=value lines; the human table's lines start with '#'.
 * Exit: 0, 2 bad usage, 3 a library call failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "crypto/kms_ossl.h"
#include "mikey/kms_mikey.h"
#include "mikey/kms_mikey_msg.h"
#include "mikey/kms_mikey_prf.h"
#include "util/kms_buf.h"

#define N_MSGS     64 /* sealed messages cycled through by the open cases (a power of two) */
#define RANDRI_LEN 16
#define MSG_MAX    4096 /* output buffer cap */
#define POOL_MAX   512  /* a sealed request is ~300 octets */

const char bench_prog[] = "bench_mikey";

/* The identities of a UE asking the KMS for a media ticket towards one responder. */
static const char id_i[] = "sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
static const char id_kms[] = "sip:kms.ims.mnc001.mcc001.3gppnetwork.org";
static const char id_r[] = "sip:001010987654321@ims.mnc001.mcc001.3gppnetwork.org";
/* IDRpsk: a B-TID, base64(RAND) @ BSF name (TS 33.220). */
static const char btid[] = "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.ims.mnc001.mcc001.3gppnetwork.org";
static const uint8_t zero_mac[KMS_MIKEY_MAC_MAX];

/* Defeats dead-code elimination: every case folds outputs into this. */
static volatile uint8_t sink;

struct sealed_msg {
    uint8_t b[POOL_MAX];
    size_t len;
    uint8_t randri[RANDRI_LEN];
    uint32_t csb_id;
};

struct bench {
    uint8_t psk[32];
    uint8_t tp_data[128]; /* TP data chain: first-payload octet, then IDRr */
    size_t tp_len;
    struct kms_iov ids[2]; /* Identity_i || Identity_kms: the MAC's extra coverage */
    struct kms_mikey_prot prot;
    struct kms_mikey_open_params op;
    struct kms_mikey_msg build;  /* the message being built (reused) */
    struct kms_mikey_msg opened; /* kms_mikey_open's output */
    uint8_t randri[RANDRI_LEN];  /* RANDRi of the message being built */
    struct kms_buf out;          /* sealed output (storage kept across resets) */
    struct sealed_msg pool[N_MSGS];
    /* The baseline's input: pool[0] up to its MAC field, then Identity_i, Identity_kms. */
    uint8_t cover[POOL_MAX + sizeof(id_i) + sizeof(id_kms)];
    size_t cover_len;
    size_t mac_off;   /* of pool[0]; every pool message has the same layout */
    uint8_t auth[32]; /* auth_key of pool[0] */
    uint64_t ctr;     /* iteration counter, shared by the cases */
};

static struct kms_bytes B(const void *p, size_t n) {
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_bytes
S(const char *s) {
    return B(s, strlen(s));
}

/* Key callback of kms_mikey_open: the one PSK (a KMS with one subscriber; the store lookup of
 * a real KMS is not part of these figures). */
static kms_result
get_psk(void *ctx, const struct kms_mikey_msg *m, const uint8_t **key, size_t *key_len)
{
    const struct bench *b = ctx;
    (void)m;
    *key = b->psk;
    *key_len = sizeof(b->psk);
    return (kms_result){KMS_OK};
}

/* Builds a REQUEST_INIT_PSK in b->build as a UE does for each request: a fresh NTP-UTC T, a
 * fresh 16-octet RANDRi and a random CSB ID (one DRBG call), the identities, the TP with its
 * TP data chain (encoded once in setup: it is the same for every request), IDRpsk, and V with
 * a placeholder MAC. b->build was zeroed once in setup; the header's CS map stays empty. */
static void build_request(struct bench *b)
{
    uint8_t rnd[RANDRI_LEN + 4];
    bench_check(kms_random(rnd, sizeof(rnd)), "kms_random");
    memcpy(b->randri, rnd, RANDRI_LEN);

    struct kms_mikey_msg *m = &b->build;
    m->hdr.version = KMS_MIKEY_VERSION;
    m->hdr.data_type = KMS_MIKEY_DT_REQUEST_INIT_PSK;
    m->hdr.v = true;
    m->hdr.prf = KMS_MIKEY_PRF_HMAC_SHA256;
    m->hdr.csb_id =
        (uint32_t)rnd[16] << 24 | (uint32_t)rnd[17] << 16 | (uint32_t)rnd[18] << 8 | rnd[19];
    m->hdr.n_cs = 0;
    m->hdr.map_type = KMS_MIKEY_MAP_EMPTY;

    struct kms_mikey_payload *pl = m->body.pl;
    pl[0] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_T,
                                       .u.t = {KMS_MIKEY_TS_NTP_UTC, kms_mikey_ntp_now()}};
    pl[1] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_RANDR,
                                       .u.randr = {1, B(b->randri, RANDRI_LEN)}};
    pl[2] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_IDR, .u.id = {1, 1, S(id_i)}};
    pl[3] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_IDR, .u.id = {3, 1, S(id_kms)}};
    pl[4] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_TP,
                                       .u.ticket = {.type = KMS_TICKET_TYPE_MEDIA,
                                                    .subtype = KMS_MIKEY_TICKET_SUBTYPE,
                                                    .version = KMS_MIKEY_TICKET_VERSION,
                                                    .prf = KMS_MIKEY_PRF_HMAC_SHA256,
                                                    .flags = KMS_MIKEY_TF_E,
                                                    .tp_data = B(b->tp_data, b->tp_len)}};
    pl[5] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_IDR, .u.id = {4, 0, S(btid)}};
    pl[6] = (struct kms_mikey_payload){.type = KMS_MIKEY_PT_V,
                                       .u.v = {KMS_MIKEY_MAC_HMAC_SHA256_256, B(zero_mac, 32)}};
    m->body.n = 7;
}

/* Builds and seals one request into b->out. */
static void build_seal(struct bench *b)
{
    build_request(b);
    kms_buf_reset(&b->out);
    bench_check(kms_mikey_seal(&b->build, b->psk, sizeof(b->psk), &b->prot, &b->out),
                "kms_mikey_seal");
}

static void open_one(struct bench *b, const uint8_t *msg, size_t len)
{
    size_t eo;
    bench_check(kms_mikey_open(msg, len, &b->op, &b->opened, NULL, NULL, &eo), "kms_mikey_open");
}

/* ---- the cases: each runs n iterations ---- */

/* Baseline: HMAC-SHA-256 over the coverage bytes with pool[0]'s auth_key. */
static void case_hmac(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        bench_hmac_sha256(b->auth, b->cover, b->cover_len, out);
        acc ^= out[0];
    }
    sink ^= acc;
}

static void case_seal(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        build_seal(b);
        acc ^= kms_buf_data(&b->out)[kms_buf_len(&b->out) - 1];
    }
    b->ctr += n;
    sink ^= acc;
}

static void case_open(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sealed_msg *s = &b->pool[b->ctr++ & (N_MSGS - 1)];
        open_one(b, s->b, s->len);
        acc ^= (uint8_t)b->opened.hdr.csb_id;
    }
    sink ^= acc;
}

static void case_seal_open(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        build_seal(b);
        open_one(b, kms_buf_data(&b->out), kms_buf_len(&b->out));
        acc ^= (uint8_t)b->opened.hdr.csb_id;
    }
    b->ctr += n;
    sink ^= acc;
}

/* The keys of the next pool message, for a message protected with `encr` (the derivation
 * zeroes the keys it does not derive). Inlined into each case with a constant `encr`. */
static inline void derive_keys(struct bench *b, uint64_t n, enum kms_mikey_encr_alg encr)
{
    struct kms_mikey_msg_keys k;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sealed_msg *s = &b->pool[b->ctr++ & (N_MSGS - 1)];
        struct kms_mikey_rands r = {s->randri, RANDRI_LEN, NULL, 0};
        bench_check(kms_mikey_msg_keys_ticket(KMS_MIKEY_PRF_HMAC_SHA256, b->psk, sizeof(b->psk),
                                              s->csb_id, KMS_MIKEY_TICKET_INITIAL, &r, encr,
                                              KMS_MIKEY_MAC_HMAC_SHA256_256, &k),
                    "kms_mikey_msg_keys_ticket");
        acc ^= (uint8_t)(k.auth[0] ^ k.encr[0] ^ k.salt[0]);
        kms_mikey_msg_keys_cleanup(&k);
    }
    sink ^= acc;
}

/* Diagnostic: the keys seal and open derive for this message (no KEMAC: the auth_key only). */
static void case_derive(void *ctx, uint64_t n)
{
    derive_keys(ctx, n, KMS_MIKEY_ENCR_NULL);
}

/* Diagnostic: the keys of a message with an AES-CM-128 KEMAC (encr_key 16, auth_key 32,
 * salt_key 14 octets), i.e. what a KEMAC-less message does not derive. */
static void case_derive_kemac(void *ctx, uint64_t n)
{
    derive_keys(ctx, n, KMS_MIKEY_ENCR_AES_CM_128);
}

/* Diagnostic: the library's MAC over the coverage as seal and open feed it (three parts). */
static void case_mac(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    struct kms_iov iov[3] = {{b->pool[0].b, b->mac_off}, b->ids[0], b->ids[1]};
    uint8_t out[KMS_MIKEY_MAC_MAX];
    size_t len;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        bench_check(kms_mikey_mac(KMS_MIKEY_MAC_HMAC_SHA256_256, b->auth, sizeof(b->auth), iov, 3,
                                  out, sizeof(out), &len),
                    "kms_mikey_mac");
        acc ^= out[0];
    }
    sink ^= acc;
}

/* Diagnostic: build (T, DRBG call, payload list) and encode, without keys or MAC. */
static void case_build_encode(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        build_request(b);
        kms_buf_reset(&b->out);
        bench_check(kms_mikey_encode(&b->build, &b->out), "kms_mikey_encode");
        acc ^= kms_buf_data(&b->out)[kms_buf_len(&b->out) - 33];
    }
    b->ctr += n;
    sink ^= acc;
}

/* Diagnostic: decode and shape check of a sealed message, the first step of open. */
static void case_decode(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    size_t eo;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct sealed_msg *s = &b->pool[b->ctr++ & (N_MSGS - 1)];
        bench_check(kms_mikey_decode(s->b, s->len, &b->opened, &eo), "kms_mikey_decode");
        bench_check(kms_mikey_check_shape(&b->opened, &eo), "kms_mikey_check_shape");
        acc ^= (uint8_t)b->opened.hdr.csb_id;
    }
    sink ^= acc;
}

enum {
    C_HMAC,
    C_SEAL,
    C_OPEN,
    C_SEAL_OPEN,
    C_DERIVE,
    C_DERIVE_KEMAC,
    C_MAC,
    C_BUILD,
    C_DECODE,
    N_CASES
};

static const struct bench_case cases[N_CASES] = {
    [C_HMAC] = {"hmac_sha256", "HMAC-SHA-256 over the coverage (baseline)", case_hmac},
    [C_SEAL] = {"request_init_seal", "REQUEST_INIT_PSK build + seal", case_seal},
    [C_OPEN] = {"request_init_open", "REQUEST_INIT_PSK open (verify)", case_open},
    [C_SEAL_OPEN] = {"request_init_seal_open", "REQUEST_INIT_PSK build + seal + open",
                     case_seal_open},
    [C_DERIVE] = {"derive_auth_key", "keys: auth_key only (diag.)", case_derive},
    [C_DERIVE_KEMAC] = {"derive_kemac_keys", "keys: encr+auth+salt, AES-CM (diag.)",
                        case_derive_kemac},
    [C_MAC] = {"mikey_mac", "kms_mikey_mac, 3 parts (diag.)", case_mac},
    [C_BUILD] = {"build_encode", "build + encode, no MAC (diag.)", case_build_encode},
    [C_DECODE] = {"decode_shape", "decode + shape check (diag.)", case_decode},
};

/* The cost ratios reported: baseline HMACs per operation of a case. */
enum { R_SEAL, R_OPEN, R_SEAL_OPEN, R_DERIVE, R_DERIVE_KEMAC, R_MAC, R_BUILD, R_DECODE, N_RATIOS };

static const struct bench_ratio ratios[N_RATIOS] = {
    [R_SEAL] = {"seal_cost_hmacs", "build + seal", "HMACs", C_HMAC, C_SEAL, true},
    [R_OPEN] = {"open_cost_hmacs", "open", "HMACs", C_HMAC, C_OPEN, true},
    [R_SEAL_OPEN] = {"seal_open_cost_hmacs", "build + seal + open", "HMACs", C_HMAC, C_SEAL_OPEN,
                     true},
    [R_DERIVE] = {"derive_auth_key_cost_hmacs", "auth_key derivation", "HMACs", C_HMAC, C_DERIVE,
                  true},
    [R_DERIVE_KEMAC] = {"derive_kemac_keys_cost_hmacs", "encr+auth+salt derivation", "HMACs",
                        C_HMAC, C_DERIVE_KEMAC, true},
    [R_MAC] = {"mikey_mac_cost_hmacs", "kms_mikey_mac", "HMACs", C_HMAC, C_MAC, true},
    [R_BUILD] = {"build_encode_cost_hmacs", "build + encode", "HMACs", C_HMAC, C_BUILD, true},
    [R_DECODE] = {"decode_shape_cost_hmacs", "decode + shape", "HMACs", C_HMAC, C_DECODE, true},
};

static const struct bench_suite suite = {
    .about = "MIKEY-TICKET REQUEST_INIT_PSK messages built+sealed, opened, and both per second,\n"
             "beside HMAC-SHA-256/s over the same bytes (the MAC's coverage), measured in the\n"
             "same run; diagnostic cases split the cost (key derivation, MAC, encode, decode).\n",
    .cases = cases,
    .n_cases = N_CASES,
    .ratios = ratios,
    .n_ratios = N_RATIOS,
    .warm_batch = 4,
    .layout = {.case_w = 42, .ops_w = 10, .ratio_w = 28, .unit_w = 0},
};

static void setup(struct bench *b)
{
    if (kms_ossl() == NULL) {
        bench_die_ossl("algorithm fetch (kms_ossl)");
    }
    bench_check(kms_random(b->psk, sizeof(b->psk)), "kms_random");

    /* TP data: the responder the ticket is for. */
    struct kms_mikey_plist *tp = calloc(1, sizeof(*tp));
    if (tp == NULL) {
        bench_fail("out of memory");
    }
    tp->n = 1;
    tp->pl[0].type = KMS_MIKEY_PT_IDR;
    tp->pl[0].u.id = (struct kms_mikey_id){2, 1, S(id_r)};
    struct kms_buf tb;
    kms_buf_init_fixed(&tb, b->tp_data, sizeof(b->tp_data), false);
    bench_check(kms_mikey_chain_encode(tp, &tb), "kms_mikey_chain_encode");
    b->tp_len = kms_buf_len(&tb);
    free(tp);

    b->ids[0] = (struct kms_iov){(const uint8_t *)id_i, strlen(id_i)};
    b->ids[1] = (struct kms_iov){(const uint8_t *)id_kms, strlen(id_kms)};
    /* RANDRi is taken from the message, when sealing and when opening. */
    b->prot = (struct kms_mikey_prot){.keying = KMS_MIKEY_KEYING_INITIAL,
                                      .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                                      .extra = b->ids,
                                      .n_extra = 2};
    b->op = (struct kms_mikey_open_params){.data_type = KMS_MIKEY_DT_REQUEST_INIT_PSK,
                                           .prot = b->prot,
                                           .get_key = get_psk,
                                           .key_ctx = b};
    memset(&b->build, 0, sizeof(b->build));
    kms_buf_init(&b->out, MSG_MAX, false);

    for (size_t i = 0; i < N_MSGS; i++) {
        struct sealed_msg *s = &b->pool[i];
        build_seal(b);
        s->len = kms_buf_len(&b->out);
        if (s->len > sizeof(s->b) || (i > 0 && s->len != b->pool[0].len)) {
            bench_fail("unexpected sealed length %zu", s->len);
        }
        memcpy(s->b, kms_buf_data(&b->out), s->len);
        memcpy(s->randri, b->randri, RANDRI_LEN);
        s->csb_id = b->build.hdr.csb_id;
        open_one(b, s->b, s->len); /* every pool message verifies */
    }

    /* The baseline's input: the first message up to its MAC field (V is last, its MAC ends
     * the message), then the two identities. */
    const struct sealed_msg *s0 = &b->pool[0];
    b->mac_off = s0->len - 32;
    memcpy(b->cover, s0->b, b->mac_off);
    memcpy(b->cover + b->mac_off, id_i, strlen(id_i));
    memcpy(b->cover + b->mac_off + strlen(id_i), id_kms, strlen(id_kms));
    b->cover_len = b->mac_off + strlen(id_i) + strlen(id_kms);

    /* The baseline must hash what the MAC covers: with the message's auth_key it gives the
     * MAC in the message. */
    struct kms_mikey_msg_keys k;
    struct kms_mikey_rands r = {s0->randri, RANDRI_LEN, NULL, 0};
    bench_check(kms_mikey_msg_keys_ticket(KMS_MIKEY_PRF_HMAC_SHA256, b->psk, sizeof(b->psk),
                                          s0->csb_id, KMS_MIKEY_TICKET_INITIAL, &r,
                                          KMS_MIKEY_ENCR_NULL, KMS_MIKEY_MAC_HMAC_SHA256_256, &k),
                "kms_mikey_msg_keys_ticket");
    if (k.auth_len != 32 || k.encr_len != 0 || k.salt_len != 0) {
        bench_fail("unexpected key lengths %zu/%zu/%zu", k.encr_len, k.auth_len, k.salt_len);
    }
    memcpy(b->auth, k.auth, 32);
    kms_mikey_msg_keys_cleanup(&k);
    uint8_t got[32];
    bench_hmac_sha256(b->auth, b->cover, b->cover_len, got);
    if (memcmp(got, s0->b + b->mac_off, 32) != 0) {
        bench_fail("HMAC baseline does not match the message's MAC");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts opts;
    bench_parse_args(&suite, argc, argv, &opts);

    static struct bench b; /* sealed pool and two message structs: not on the stack */
    setup(&b);

    static struct bench_results res;
    bench_run(&suite, &b, &opts, &res);
    /* What deriving encr_key and salt_key as well would add, per message. */
    static double saved[BENCH_MAX_ROUNDS];
    for (int r = 0; r < res.rounds; r++) {
        saved[r] = res.cost[R_DERIVE_KEMAC][r] - res.cost[R_DERIVE][r];
    }
    double med_saved = bench_median(saved, res.rounds);

    bench_print_table(&suite, &res);
    printf("# encr_key + salt_key would add %.2f HMACs per derivation (not derived: no KEMAC)\n",
           med_saved);
    printf("# message %zu bytes, MAC at offset %zu; coverage %zu bytes (message %zu + "
           "identities %zu)\n",
           b.pool[0].len, b.mac_off, b.cover_len, b.mac_off, b.cover_len - b.mac_off);

    bench_print_keys_head(&res);
    printf("request_init_len=%zu\n", b.pool[0].len);
    printf("mac_coverage_len=%zu\n", b.cover_len);
    bench_print_keys(&suite, &res);
    printf("unneeded_keys_cost_hmacs=%.2f\n", med_saved);

    kms_buf_cleanup(&b.out);
    return 0;
}

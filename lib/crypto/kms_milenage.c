/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/kms_milenage.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "util/kms_mem.h"

struct kms_milenage {
    EVP_CIPHER_CTX *ecb; /* AES-128-ECB under K */
    uint8_t opc[16];
    bool keyed;
    bool has_cipher; /* ecb has been initialised with the cipher once */
};

/*= 3GPP TS 35.206, 4.1 (paraphrased)
 *# r1 = 64; r2 = 0; r3 = 32; r4 = 64; r5 = 96
 *# c1 = 0...0; c2 = 0...01; c3 = 0...010; c4 = 0...0100; c5 = 0...01000 (128 bits)
 */
static const unsigned rot_bits[5] = {64, 0, 32, 64, 96};
static const uint8_t c_last[5] = {0x00, 0x01, 0x02, 0x04, 0x08};

/* All OUT blocks of one Milenage evaluation. */
struct outs {
    uint8_t o[5][16];
};

kms_result kms_milenage_new(struct kms_milenage **out)
{
    *out = NULL;
    KMS_ENSURE(kms_ossl() != NULL, KMS_ERR_CRYPTO);
    struct kms_milenage *m = calloc(1, sizeof(*m));
    KMS_ENSURE(m != NULL, KMS_ERR_NOMEM);
    m->ecb = EVP_CIPHER_CTX_new();
    if (m->ecb == NULL) {
        free(m);
        KMS_BAIL(KMS_ERR_NOMEM);
    }
    *out = m;
    return KMS_RESULT_OK;
}

void kms_milenage_free(struct kms_milenage *m)
{
    if (m == NULL) {
        return;
    }
    EVP_CIPHER_CTX_free(m->ecb); /* cleanses the key schedule */
    kms_wipe(m, sizeof(*m));
    free(m);
}

static kms_result aes(struct kms_milenage *m, const uint8_t *in, uint8_t *out, size_t blocks)
{
    int outl = 0;
    KMS_TRY_OSSL(EVP_EncryptUpdate(m->ecb, out, &outl, in, (int)(16 * blocks)));
    KMS_ENSURE(outl == (int)(16 * blocks), KMS_ERR_CRYPTO);
    return KMS_RESULT_OK;
}

static kms_result set_k(struct kms_milenage *m, const uint8_t *k)
{
    m->keyed = false;
    kms_wipe(m->opc, sizeof(m->opc));
    KMS_ENSURE(k != NULL, KMS_ERR_ARG);
    /* Re-keying an initialised context with a NULL cipher skips the context reset and the
     * provider look-ups, which cost more than the key expansion itself (docs/performance.md).
     * Padding is left on: it only matters for EVP_EncryptFinal, which is never called, and
     * aes() checks that every block came out. */
    if (m->has_cipher) {
        KMS_TRY_OSSL(EVP_EncryptInit_ex2(m->ecb, NULL, k, NULL, NULL));
    } else {
        KMS_TRY_OSSL(EVP_EncryptInit_ex2(m->ecb, kms_ossl()->aes128_ecb, k, NULL, NULL));
        m->has_cipher = true;
    }
    return KMS_RESULT_OK;
}

kms_result kms_milenage_set_key(struct kms_milenage *m, const uint8_t k[KMS_AKA_K_LEN],
                                const uint8_t opc[16])
{
    KMS_ENSURE(m != NULL && opc != NULL, KMS_ERR_ARG);
    KMS_TRY(set_k(m, k));
    memcpy(m->opc, opc, 16);
    m->keyed = true;
    return KMS_RESULT_OK;
}

kms_result kms_milenage_set_key_op(struct kms_milenage *m, const uint8_t k[KMS_AKA_K_LEN],
                                   const uint8_t op[16])
{
    KMS_ENSURE(m != NULL && op != NULL, KMS_ERR_ARG);
    KMS_TRY(set_k(m, k));
    /*= 3GPP TS 35.206, 4.1 (paraphrased)
     *# OPC = OP XOR E[OP]K
     */
    uint8_t e[16];
    KMS_TRY(aes(m, op, e, 1));
    for (size_t i = 0; i < 16; i++) {
        m->opc[i] = op[i] ^ e[i];
    }
    kms_wipe(e, sizeof(e));
    m->keyed = true;
    return KMS_RESULT_OK;
}

kms_result kms_milenage_get_opc(const struct kms_milenage *m, uint8_t opc[16])
{
    KMS_ENSURE(m != NULL && m->keyed, KMS_ERR_ARG);
    memcpy(opc, m->opc, 16);
    return KMS_RESULT_OK;
}

/* A 128-bit block as two big-endian 64-bit words, so that XORs and the rotations by multiples
 * of 32 bits are a few word operations instead of a loop over bytes. */
struct blk {
    uint64_t hi, lo;
};

static uint64_t be64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

static struct blk load(const uint8_t b[16])
{
    struct blk x;
    memcpy(&x.hi, b, 8);
    memcpy(&x.lo, b + 8, 8);
    x.hi = be64(x.hi);
    x.lo = be64(x.lo);
    return x;
}

static void store(struct blk x, uint8_t b[16])
{
    x.hi = be64(x.hi);
    x.lo = be64(x.lo);
    memcpy(b, &x.hi, 8);
    memcpy(b + 8, &x.lo, 8);
}

static struct blk bxor(struct blk a, struct blk b)
{
    return (struct blk){a.hi ^ b.hi, a.lo ^ b.lo};
}

/* Cyclic left rotation by 0, 32, 64 or 96 bits. */
static struct blk rot(struct blk x, unsigned bits)
{
    if (bits >= 64) {
        x = (struct blk){x.lo, x.hi};
        bits -= 64;
    }
    if (bits == 32) {
        x = (struct blk){(x.hi << 32) | (x.lo >> 32), (x.lo << 32) | (x.hi >> 32)};
    }
    return x;
}

/* One evaluation: TEMP = E_K(RAND xor OPc), then OUT1..OUT5 in a single five-block call, so
 * that a whole vector costs two cipher calls. */
static kms_result core(struct kms_milenage *m, const uint8_t *rand, const uint8_t *sqn,
                       const uint8_t *amf, struct outs *o)
{
    /* Every temporary in one place, wiped once at the end. */
    struct {
        uint8_t x[16], temp[16], in[5][16];
        struct blk opc, t, tmp;
    } w;
    uint8_t *x = w.x, *temp = w.temp;
    uint8_t(*in)[16] = w.in;
    struct blk in1;
    kms_result rc = KMS_RC_INIT;
    KMS_ENSURE_OUT(rc, m != NULL && m->keyed && rand != NULL && sqn != NULL && amf != NULL,
                   KMS_ERR_ARG);
    w.opc = load(m->opc);
    store(bxor(load(rand), w.opc), x);
    KMS_TRY_OUT(rc, aes(m, x, temp, 1));
    w.t = load(temp);

    /*= 3GPP TS 35.206, 4.1 (paraphrased)
     *# IN1[0] .. IN1[47] = SQN[0] .. SQN[47]; IN1[48] .. IN1[63] = AMF[0] .. AMF[15]
     *# IN1[64] .. IN1[111] = SQN[0] .. SQN[47]; IN1[112] .. IN1[127] = AMF[0] .. AMF[15]
     *# OUT1 = E[TEMP XOR rot(IN1 XOR OPC, r1) XOR c1]K XOR OPC
     *# OUTk = E[rot(TEMP XOR OPC, rk) XOR ck]K XOR OPC, k = 2..5
     */
    memcpy(x, sqn, 6);
    memcpy(x + 6, amf, 2);
    memcpy(x + 8, sqn, 6);
    memcpy(x + 14, amf, 2);
    in1 = load(x);
    store(bxor(w.t, rot(bxor(in1, w.opc), rot_bits[0])), in[0]);
    in[0][15] ^= c_last[0];
    w.tmp = bxor(w.t, w.opc);
    for (size_t k = 1; k < 5; k++) {
        store(rot(w.tmp, rot_bits[k]), in[k]);
        in[k][15] ^= c_last[k];
    }
    KMS_TRY_OUT(rc, aes(m, &in[0][0], &o->o[0][0], 5));
    for (size_t k = 0; k < 5; k++) {
        store(bxor(load(o->o[k]), w.opc), o->o[k]);
    }
    rc = KMS_RESULT_OK;
out:
    kms_wipe(&w, sizeof(w));
    if (!kms_ok(rc)) {
        kms_wipe(o, sizeof(*o));
    }
    return rc;
}

/*= 3GPP TS 35.206, 4.1 (paraphrased)
 *# f1 = MAC-A = OUT1[0] .. OUT1[63]; f1* = MAC-S = OUT1[64] .. OUT1[127]
 *# f2 = RES = OUT2[64] .. OUT2[127]; f5 = AK = OUT2[0] .. OUT2[47]
 *# f3 = CK = OUT3; f4 = IK = OUT4; f5* = AK = OUT5[0] .. OUT5[47]
 */
static void fill_vec(const struct outs *o, struct kms_aka_vec *v)
{
    memcpy(v->mac_a, o->o[0], 8);
    memcpy(v->mac_s, o->o[0] + 8, 8);
    memcpy(v->ak, o->o[1], 6);
    memcpy(v->res, o->o[1] + 8, 8);
    memcpy(v->ck, o->o[2], 16);
    memcpy(v->ik, o->o[3], 16);
    memcpy(v->ak_star, o->o[4], 6);
}

kms_result kms_milenage_vector(struct kms_milenage *m, const uint8_t rand[KMS_AKA_RAND_LEN],
                               const uint8_t sqn[KMS_AKA_SQN_LEN],
                               const uint8_t amf[KMS_AKA_AMF_LEN], struct kms_aka_vec *v)
{
    struct outs o;
    kms_wipe(v, sizeof(*v));
    KMS_TRY(core(m, rand, sqn, amf, &o));
    fill_vec(&o, v);
    kms_wipe(&o, sizeof(o));
    /*= 3GPP TS 33.102, 6.3.2 (paraphrased)
     *# AUTN = SQN xor AK || AMF || MAC
     */
    for (size_t i = 0; i < 6; i++) {
        v->autn[i] = sqn[i] ^ v->ak[i];
    }
    memcpy(v->autn + 6, amf, 2);
    memcpy(v->autn + 8, v->mac_a, 8);
    return KMS_RESULT_OK;
}

/* f5 alone: AK depends on RAND only, so any SQN/AMF will do for OUT2. */
static kms_result ak_of(struct kms_milenage *m, const uint8_t *rand, bool star, uint8_t ak[6])
{
    static const uint8_t zero[6];
    struct outs o;
    KMS_TRY(core(m, rand, zero, zero, &o));
    memcpy(ak, star ? o.o[4] : o.o[1], 6);
    kms_wipe(&o, sizeof(o));
    return KMS_RESULT_OK;
}

kms_result kms_milenage_check_autn(struct kms_milenage *m, const uint8_t rand[KMS_AKA_RAND_LEN],
                                   const uint8_t autn[KMS_AKA_AUTN_LEN],
                                   uint8_t sqn[KMS_AKA_SQN_LEN], struct kms_aka_vec *v)
{
    uint8_t ak[6];
    kms_wipe(v, sizeof(*v));
    kms_wipe(sqn, KMS_AKA_SQN_LEN);
    KMS_ENSURE(autn != NULL, KMS_ERR_ARG);
    KMS_TRY(ak_of(m, rand, false, ak));
    for (size_t i = 0; i < 6; i++) {
        sqn[i] = autn[i] ^ ak[i];
    }
    kms_wipe(ak, sizeof(ak));
    kms_result r = kms_milenage_vector(m, rand, sqn, autn + 6, v);
    if (kms_ok(r) && !kms_ct_eq(v->mac_a, autn + 8, KMS_AKA_MAC_LEN)) {
        r = KMS_ERR(KMS_ERR_MAC_A);
    }
    if (!kms_ok(r)) {
        kms_wipe(v, sizeof(*v));
        kms_wipe(sqn, KMS_AKA_SQN_LEN);
    }
    return r;
}

/*= 3GPP TS 33.102, 6.3.3 (paraphrased)
 *# AUTS = Conc(SQNMS) || MACS, Conc(SQNMS) = SQNMS xor f5*K(RAND),
 *# MAC-S = f1*K(SQNMS || RAND || AMF) where AMF is a dummy value of all zeros
 */
static const uint8_t amf_star[2] = {0, 0};

kms_result kms_milenage_auts(struct kms_milenage *m, const uint8_t rand[KMS_AKA_RAND_LEN],
                             const uint8_t sqn_ms[KMS_AKA_SQN_LEN], uint8_t auts[KMS_AKA_AUTS_LEN])
{
    struct outs o;
    memset(auts, 0, KMS_AKA_AUTS_LEN);
    KMS_TRY(core(m, rand, sqn_ms, amf_star, &o));
    for (size_t i = 0; i < 6; i++) {
        auts[i] = sqn_ms[i] ^ o.o[4][i];
    }
    memcpy(auts + 6, o.o[0] + 8, 8);
    kms_wipe(&o, sizeof(o));
    return KMS_RESULT_OK;
}

kms_result kms_milenage_resync(struct kms_milenage *m, const uint8_t rand[KMS_AKA_RAND_LEN],
                               const uint8_t auts[KMS_AKA_AUTS_LEN],
                               uint8_t sqn_ms[KMS_AKA_SQN_LEN])
{
    uint8_t ak_star[6];
    struct outs o;
    memset(sqn_ms, 0, KMS_AKA_SQN_LEN);
    KMS_ENSURE(auts != NULL, KMS_ERR_ARG);
    KMS_TRY(ak_of(m, rand, true, ak_star));
    uint8_t sqn[6];
    for (size_t i = 0; i < 6; i++) {
        sqn[i] = auts[i] ^ ak_star[i];
    }
    kms_wipe(ak_star, sizeof(ak_star));
    kms_result r = core(m, rand, sqn, amf_star, &o);
    if (kms_ok(r) && !kms_ct_eq(o.o[0] + 8, auts + 6, KMS_AKA_MAC_LEN)) {
        r = KMS_ERR(KMS_ERR_MAC_S);
    }
    if (kms_ok(r)) {
        memcpy(sqn_ms, sqn, 6);
    }
    kms_wipe(&o, sizeof(o));
    kms_wipe(sqn, sizeof(sqn));
    return r;
}

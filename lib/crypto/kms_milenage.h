/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Milenage (3GPP TS 35.206) and the AKA tokens built from it (TS 33.102 6.3): AUTN for the
 * network, AUTN verification for the USIM, AUTS for a USIM that finds SQN stale, and SQN_MS
 * recovery with the MAC-S check for the network.
 *
 * A kms_milenage context holds one subscriber's AES key schedule and OPc. A server serving
 * many subscribers keeps one context per worker and re-keys it per request with
 * kms_milenage_set_key (cheap: no allocation, no algorithm fetch). Freeing or re-keying
 * wipes the previous key.
 */
#ifndef KMS_CRYPTO_MILENAGE_H
#define KMS_CRYPTO_MILENAGE_H

#include <stdint.h>

#include "err/kms_err.h"

#define KMS_AKA_K_LEN    16
#define KMS_AKA_RAND_LEN 16
#define KMS_AKA_SQN_LEN  6
#define KMS_AKA_AMF_LEN  2
#define KMS_AKA_MAC_LEN  8
#define KMS_AKA_RES_LEN  8
#define KMS_AKA_CK_LEN   16
#define KMS_AKA_IK_LEN   16
#define KMS_AKA_AK_LEN   6
#define KMS_AKA_AUTN_LEN 16
#define KMS_AKA_AUTS_LEN 14

/* Everything Milenage derives from (K, OPc, RAND, SQN, AMF). */
struct kms_aka_vec {
    uint8_t mac_a[KMS_AKA_MAC_LEN];  /* f1 */
    uint8_t mac_s[KMS_AKA_MAC_LEN];  /* f1* (with the AMF given, not AMF*) */
    uint8_t res[KMS_AKA_RES_LEN];    /* f2 */
    uint8_t ck[KMS_AKA_CK_LEN];      /* f3 */
    uint8_t ik[KMS_AKA_IK_LEN];      /* f4 */
    uint8_t ak[KMS_AKA_AK_LEN];      /* f5 */
    uint8_t ak_star[KMS_AKA_AK_LEN]; /* f5* */
    uint8_t autn[KMS_AKA_AUTN_LEN];  /* (SQN xor AK) || AMF || MAC-A */
};

struct kms_milenage;

KMS_MUST_CHECK kms_result kms_milenage_new(struct kms_milenage **out);
/* Wipes the key schedule and OPc; NULL does nothing. */
void kms_milenage_free(struct kms_milenage *m);

/* Keys the context with K and OPc. */
KMS_MUST_CHECK kms_result kms_milenage_set_key(struct kms_milenage *m,
                                               const uint8_t k[KMS_AKA_K_LEN],
                                               const uint8_t opc[16]);
/* Keys the context with K and OP: OPc = OP xor E_K(OP). */
KMS_MUST_CHECK kms_result kms_milenage_set_key_op(struct kms_milenage *m,
                                                  const uint8_t k[KMS_AKA_K_LEN],
                                                  const uint8_t op[16]);
/* The OPc in use (secret: the caller wipes it). */
KMS_MUST_CHECK kms_result kms_milenage_get_opc(const struct kms_milenage *m, uint8_t opc[16]);

/* All of f1, f1*, f2, f3, f4, f5, f5* and AUTN. v is wiped on failure. */
KMS_MUST_CHECK kms_result kms_milenage_vector(struct kms_milenage *m,
                                              const uint8_t rand[KMS_AKA_RAND_LEN],
                                              const uint8_t sqn[KMS_AKA_SQN_LEN],
                                              const uint8_t amf[KMS_AKA_AMF_LEN],
                                              struct kms_aka_vec *v);

/* USIM side: recovers SQN from AUTN and checks MAC-A (constant time). On success fills v (for
 * the SQN and AMF found in AUTN) and sqn; KMS_ERR_MAC_A when MAC-A does not verify, with v
 * and sqn wiped. SQN freshness is the caller's next step (kms_sqn_ms_accept). */
KMS_MUST_CHECK kms_result kms_milenage_check_autn(struct kms_milenage *m,
                                                  const uint8_t rand[KMS_AKA_RAND_LEN],
                                                  const uint8_t autn[KMS_AKA_AUTN_LEN],
                                                  uint8_t sqn[KMS_AKA_SQN_LEN],
                                                  struct kms_aka_vec *v);

/* USIM side: AUTS = (SQN_MS xor AK*) || MAC-S, MAC-S = f1*(K, SQN_MS, RAND, AMF* = 0000). */
KMS_MUST_CHECK kms_result kms_milenage_auts(struct kms_milenage *m,
                                            const uint8_t rand[KMS_AKA_RAND_LEN],
                                            const uint8_t sqn_ms[KMS_AKA_SQN_LEN],
                                            uint8_t auts[KMS_AKA_AUTS_LEN]);

/* Network side: SQN_MS = AUTS[0..5] xor f5*(RAND), accepted only if MAC-S verifies
 * (constant time); KMS_ERR_MAC_S otherwise, with sqn_ms zeroed. */
KMS_MUST_CHECK kms_result kms_milenage_resync(struct kms_milenage *m,
                                              const uint8_t rand[KMS_AKA_RAND_LEN],
                                              const uint8_t auts[KMS_AKA_AUTS_LEN],
                                              uint8_t sqn_ms[KMS_AKA_SQN_LEN]);

#endif

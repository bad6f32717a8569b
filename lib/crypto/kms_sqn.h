/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sequence number management of 3GPP TS 33.102 Annex C, for both ends:
 *
 *  - kms_sqn_ms, the USIM side (our simulated USIM): SQN = SEQ || IND, an array SEQ_MS(0..a-1)
 *    with a = 2^ind_bits, the wrap-around limit delta (C.2.1) and the optional age limit L
 *    (C.2.2).
 *  - kms_sqn_he, the network side (the BSF, standing in for the HE/AuC): the next-SQN rule of
 *    C.1.2 / C.3 (SEQ_HE + 1, with the IND the caller allocates), the resynchronisation rule of
 *    6.3.5, and *reservation*: the caller persists a high-water mark covering `count` future
 *    SEQ values in one durable write, then hands them out from memory. After a crash it resumes
 *    above the mark, so an SQN is never reused; at most `count` values are skipped.
 *
 * SQNs are 48-bit integers here (kms_sqn_from_bytes / kms_sqn_to_bytes convert).
 */
#ifndef KMS_CRYPTO_SQN_H
#define KMS_CRYPTO_SQN_H

#include <stdbool.h>
#include <stdint.h>

#include "err/kms_err.h"

#define KMS_SQN_MAX          0xffffffffffffULL
#define KMS_SQN_IND_BITS_DEF 5
#define KMS_SQN_IND_BITS_MAX 8
/* Delta suggested in TS 33.102 Annex C (2^28), as used by deployed USIMs. */
#define KMS_SQN_DELTA_DEF (1ULL << 28)

/* IND classes for a fleet of BSF nodes (TS 33.102 Annex C.1.2: the IND values may be allocated
 * to different vector generators). Node N of a fleet allocates only the IND values
 * N*KMS_SQN_IND_CLASS .. N*KMS_SQN_IND_CLASS + KMS_SQN_IND_CLASS - 1, round-robin. The USIM
 * keeps one SEQ_MS per IND, so two nodes never share a slot and each node's SEQ sequence is
 * checked for freshness on its own slots only: nodes need not agree on a counter. 4 values per
 * class tolerate 4 challenges of one node answered out of order; with the usual 5 IND bits
 * (a = 32) that allows 8 nodes (docs/scaling.md, "Sequence numbers across BSF nodes"). */
#define KMS_SQN_IND_CLASS 4

/* The IND values of node `node`: *first and *count (KMS_SQN_IND_CLASS). KMS_ERR_ARG when the
 * node does not fit (node >= 2^ind_bits / KMS_SQN_IND_CLASS, or ind_bits too large). */
KMS_MUST_CHECK kms_result kms_sqn_ind_class(unsigned ind_bits, unsigned node, unsigned *first,
                                            unsigned *count);
/* How many node classes ind_bits holds (0 when fewer than KMS_SQN_IND_CLASS IND values). */
unsigned kms_sqn_ind_nodes(unsigned ind_bits);

uint64_t kms_sqn_from_bytes(const uint8_t b[6]);
void kms_sqn_to_bytes(uint64_t sqn, uint8_t b[6]);

struct kms_sqn_ms {
    unsigned ind_bits;
    uint64_t delta;     /* accept only SEQ - SEQ_MS <= delta */
    uint64_t age_limit; /* L: accept only SEQ_MS - SEQ < L; 0 = not applied */
    uint64_t seq[1u << KMS_SQN_IND_BITS_MAX];
};

/* A fresh array (all SEQ_MS(i) = 0). KMS_ERR_ARG if ind_bits > KMS_SQN_IND_BITS_MAX or
 * delta == 0. */
KMS_MUST_CHECK kms_result kms_sqn_ms_init(struct kms_sqn_ms *ms, unsigned ind_bits, uint64_t delta,
                                          uint64_t age_limit);
/* SQN_MS: the highest previously accepted SQN anywhere in the array (what AUTS carries). */
uint64_t kms_sqn_ms_highest(const struct kms_sqn_ms *ms);
/* Checks sqn (C.2.1 delta, C.2.2 L, then freshness) without changing the array:
 * KMS_ERR_SQN_DELTA, KMS_ERR_SQN_AGE or KMS_ERR_SQN_STALE; KMS_ERR_ARG above 48 bits. */
KMS_MUST_CHECK kms_result kms_sqn_ms_check(const struct kms_sqn_ms *ms, uint64_t sqn);
/* kms_sqn_ms_check, then SEQ_MS(IND) := SEQ. */
KMS_MUST_CHECK kms_result kms_sqn_ms_accept(struct kms_sqn_ms *ms, uint64_t sqn);

struct kms_sqn_he {
    unsigned ind_bits;
    uint64_t delta;        /* the USIMs' delta, used by the resync rule */
    uint64_t seq_last;     /* highest SEQ handed out */
    uint64_t seq_reserved; /* highest SEQ covered by the durable high-water mark */
};

/* Resumes from the durable high-water mark (the subscriber's stored "last used SQN"). Nothing
 * is reserved yet: the first kms_sqn_he_next asks for a reservation. */
KMS_MUST_CHECK kms_result kms_sqn_he_init(struct kms_sqn_he *he, unsigned ind_bits, uint64_t delta,
                                          uint64_t durable_sqn);
/* True when kms_sqn_he_next would fail with KMS_ERR_SQN_RESERVE. */
bool kms_sqn_he_needs_reserve(const struct kms_sqn_he *he);
/* The high-water mark to persist to cover `count` (>= 1) more SEQ values; call
 * kms_sqn_he_reserved with it once it is durable. KMS_ERR_SQN_EXHAUSTED near the top of the
 * space. */
KMS_MUST_CHECK kms_result kms_sqn_he_reserve(const struct kms_sqn_he *he, uint32_t count,
                                             uint64_t *mark);
/* Records that `mark` (from kms_sqn_he_reserve) is durable. */
KMS_MUST_CHECK kms_result kms_sqn_he_reserved(struct kms_sqn_he *he, uint64_t mark);
/* The next SQN: SEQ_HE + 1 with the given IND. KMS_ERR_SQN_RESERVE when the reservation is
 * used up, KMS_ERR_ARG for an IND that does not fit ind_bits. */
KMS_MUST_CHECK kms_result kms_sqn_he_next(struct kms_sqn_he *he, unsigned ind, uint64_t *sqn);
/* Resynchronisation with the SQN_MS recovered from a verified AUTS (TS 33.102 6.3.5): if the
 * next SEQ_HE would be accepted by the USIM it is kept; otherwise SEQ_HE := SEQ_MS and the
 * reservation is dropped (the next kms_sqn_he_next asks for a new one). *moved tells which. */
KMS_MUST_CHECK kms_result kms_sqn_he_resync(struct kms_sqn_he *he, uint64_t sqn_ms, bool *moved);

#endif

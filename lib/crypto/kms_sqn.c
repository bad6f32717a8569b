/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/kms_sqn.h"

#include <string.h>

uint64_t kms_sqn_from_bytes(const uint8_t b[6])
{
    uint64_t v = 0;
    for (size_t i = 0; i < 6; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

void kms_sqn_to_bytes(uint64_t sqn, uint8_t b[6])
{
    for (size_t i = 0; i < 6; i++) {
        b[5 - i] = (uint8_t)(sqn >> (8 * i));
    }
}

unsigned kms_sqn_ind_nodes(unsigned ind_bits)
{
    return ind_bits <= KMS_SQN_IND_BITS_MAX ? (1u << ind_bits) / KMS_SQN_IND_CLASS : 0;
}

kms_result kms_sqn_ind_class(unsigned ind_bits, unsigned node, unsigned *first, unsigned *count)
{
    *first = 0;
    *count = 0;
    /*= 3GPP TS 33.102, C.1.2 (paraphrased)
     *# the IND values may be allocated to different service domains (vector generators) so
     *# that vectors of one are never checked against the array entries of another
     */
    KMS_ENSURE(node < kms_sqn_ind_nodes(ind_bits), KMS_ERR_ARG);
    *first = node * KMS_SQN_IND_CLASS;
    *count = KMS_SQN_IND_CLASS;
    return KMS_RESULT_OK;
}

static uint64_t seq_max(unsigned ind_bits)
{
    return KMS_SQN_MAX >> ind_bits;
}

kms_result kms_sqn_ms_init(struct kms_sqn_ms *ms, unsigned ind_bits, uint64_t delta,
                           uint64_t age_limit)
{
    memset(ms, 0, sizeof(*ms));
    KMS_ENSURE(ind_bits <= KMS_SQN_IND_BITS_MAX, KMS_ERR_ARG);
    KMS_ENSURE(delta > 0, KMS_ERR_ARG);
    ms->ind_bits = ind_bits;
    ms->delta = delta;
    ms->age_limit = age_limit;
    return KMS_RESULT_OK;
}

/* Index of the highest SEQ_MS(i) (the first one on ties). */
static size_t highest_index(const struct kms_sqn_ms *ms)
{
    size_t a = (size_t)1 << ms->ind_bits, best = 0;
    for (size_t i = 1; i < a; i++) {
        if (ms->seq[i] > ms->seq[best]) {
            best = i;
        }
    }
    return best;
}

uint64_t kms_sqn_ms_highest(const struct kms_sqn_ms *ms)
{
    size_t i = highest_index(ms);
    return (ms->seq[i] << ms->ind_bits) | i;
}

kms_result kms_sqn_ms_check(const struct kms_sqn_ms *ms, uint64_t sqn)
{
    KMS_ENSURE(sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    uint64_t seq = sqn >> ms->ind_bits;
    size_t ind = (size_t)(sqn & ((1ULL << ms->ind_bits) - 1));
    uint64_t seq_ms = ms->seq[highest_index(ms)];
    /*= 3GPP TS 33.102, C.2.1
     *# the received sequence number SQN shall only be accepted by the USIM if SEQ - SEQMS <= delta
     */
    KMS_ENSURE(seq <= seq_ms || seq - seq_ms <= ms->delta, KMS_ERR_SQN_DELTA);
    /*= 3GPP TS 33.102, C.2.2
     *# If such a limit L is applied then, before verifying the above conditions (a) and (b),
     *# the sequence number shall only be accepted by the USIM if SEQMS - SEQ < L.
     */
    if (ms->age_limit > 0) {
        KMS_ENSURE(seq >= seq_ms || seq_ms - seq < ms->age_limit, KMS_ERR_SQN_AGE);
    }
    /*= 3GPP TS 33.102, C.2.2
     *# If SEQ > SEQMS (i) the USIM shall consider the sequence number to be guaranteed fresh
     */
    KMS_ENSURE(seq > ms->seq[ind], KMS_ERR_SQN_STALE);
    return KMS_RESULT_OK;
}

kms_result kms_sqn_ms_accept(struct kms_sqn_ms *ms, uint64_t sqn)
{
    KMS_TRY(kms_sqn_ms_check(ms, sqn));
    ms->seq[sqn & ((1ULL << ms->ind_bits) - 1)] = sqn >> ms->ind_bits;
    return KMS_RESULT_OK;
}

kms_result kms_sqn_he_init(struct kms_sqn_he *he, unsigned ind_bits, uint64_t delta,
                           uint64_t durable_sqn)
{
    memset(he, 0, sizeof(*he));
    KMS_ENSURE(ind_bits <= KMS_SQN_IND_BITS_MAX, KMS_ERR_ARG);
    KMS_ENSURE(delta > 0, KMS_ERR_ARG);
    KMS_ENSURE(durable_sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    he->ind_bits = ind_bits;
    he->delta = delta;
    /* Every SEQ up to the mark may have been handed out before a crash: resume above it. */
    he->seq_last = durable_sqn >> ind_bits;
    he->seq_reserved = he->seq_last;
    return KMS_RESULT_OK;
}

bool kms_sqn_he_needs_reserve(const struct kms_sqn_he *he)
{
    return he->seq_last >= he->seq_reserved;
}

kms_result kms_sqn_he_reserve(const struct kms_sqn_he *he, uint32_t count, uint64_t *mark)
{
    *mark = 0;
    KMS_ENSURE(count > 0, KMS_ERR_ARG);
    uint64_t max = seq_max(he->ind_bits);
    KMS_ENSURE(he->seq_last < max, KMS_ERR_SQN_EXHAUSTED);
    uint64_t top = max - he->seq_last < count ? max : he->seq_last + count;
    /* The mark is a full SQN: the top SEQ with the highest IND, so that any SQN handed out
     * below it compares lower as a 48-bit number too. */
    *mark = (top << he->ind_bits) | ((1ULL << he->ind_bits) - 1);
    return KMS_RESULT_OK;
}

kms_result kms_sqn_he_reserved(struct kms_sqn_he *he, uint64_t mark)
{
    KMS_ENSURE(mark <= KMS_SQN_MAX, KMS_ERR_ARG);
    uint64_t seq = mark >> he->ind_bits;
    KMS_ENSURE(seq >= he->seq_last, KMS_ERR_ARG);
    he->seq_reserved = seq;
    return KMS_RESULT_OK;
}

kms_result kms_sqn_he_next(struct kms_sqn_he *he, unsigned ind, uint64_t *sqn)
{
    *sqn = 0;
    KMS_ENSURE(ind < (1u << he->ind_bits), KMS_ERR_ARG);
    KMS_ENSURE(he->seq_last < seq_max(he->ind_bits), KMS_ERR_SQN_EXHAUSTED);
    KMS_ENSURE(he->seq_last < he->seq_reserved, KMS_ERR_SQN_RESERVE);
    /*= 3GPP TS 33.102, C.3 (paraphrased)
     *# SEQ_HE is incremented by one for each new authentication vector
     */
    he->seq_last++;
    *sqn = (he->seq_last << he->ind_bits) | ind;
    return KMS_RESULT_OK;
}

kms_result kms_sqn_he_resync(struct kms_sqn_he *he, uint64_t sqn_ms, bool *moved)
{
    *moved = false;
    KMS_ENSURE(sqn_ms <= KMS_SQN_MAX, KMS_ERR_ARG);
    uint64_t seq_ms = sqn_ms >> he->ind_bits;
    uint64_t next = he->seq_last + 1;
    /*= 3GPP TS 33.102, 6.3.5 (paraphrased)
     *# The HLR/AuC checks whether SQNHE is in the correct range, i.e. whether the next
     *# sequence number generated SQNHE using would be accepted by the USIM. ... otherwise
     *# ... SQNHE is reset to SQNMS.
     */
    if (next > seq_ms && next - seq_ms <= he->delta) {
        return KMS_RESULT_OK;
    }
    he->seq_last = seq_ms;
    he->seq_reserved = seq_ms; /* the old mark no longer describes what was handed out */
    *moved = true;
    return KMS_RESULT_OK;
}

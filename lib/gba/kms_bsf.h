/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_bsf: the bootstrapping server's state and logic, independent of HTTP.
 *
 *   challenge  an IMPI asks to bootstrap: a fresh authentication vector (Milenage over the
 *              subscriber's K/OPc with the next SQN), kept single-use for `challenge_ttl`
 *              seconds under a random 128-bit challenge id carried in the nonce's server data;
 *   answer     the UE proves RES (Digest response): the challenge is consumed whatever the
 *              outcome; on success a bootstrap session (B-TID -> IMPI, Ks, RAND, times) lives
 *              until its lifetime; with a verified AUTS the SQN is resynchronised;
 *   zn         a NAF names a B-TID: Ks_NAF for the NAF_Id of its FQDN and Ua protocol id.
 *
 * Unknown IMPIs get challenges of the same shape from random bytes (never stored as a
 * subscriber, never answerable), so a 401 does not tell whether an identity exists: their AUTN
 * carries the configured default AMF (AUTN shows the AMF in clear), and an AUTS answering one
 * costs what a real one costs (a store read and a Milenage resync, on a per-process fake K/OPc)
 * before it fails as an AUTS that does not verify. Challenges
 * are rate-limited per IMPI (a token bucket keyed by a keyed hash of the IMPI, known or not).
 * SQNs come from per-subscriber ranges reserved durably in chunks, so an unauthenticated
 * request causes at most one durable write per `sqn_chunk` challenges of one subscriber (and
 * the rate limit bounds those).
 *
 * All tables are bounded and allocated at start. Times are UNIX seconds from the caller.
 * Thread-safe (one mutex; Milenage and the store run outside it where possible).
 */
#ifndef KMS_GBA_BSF_H
#define KMS_GBA_BSF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "err/kms_err.h"

#define KMS_BSF_IMPU_MAX    8
#define KMS_BSF_NAME_MAX    255
#define KMS_BSF_CHAL_ID_LEN 16

/* What the BSF needs of a subscriber (from the subscriber store). */
struct kms_bsf_sub {
    uint8_t k[16], opc[16], amf[2];
    char impu[KMS_BSF_IMPU_MAX][KMS_BSF_NAME_MAX + 1];
    size_t n_impu;
    uint64_t sqn_mark; /* durable high-water mark of SQNs handed out */
};

/* The subscriber store, as callbacks (the daemon adapts lib/gba/kms_subscriber). */
struct kms_bsf_store {
    void *ctx;
    /* KMS_ERR_NOT_FOUND for an unknown IMPI; out is wiped on failure. */
    kms_result (*get)(void *ctx, const char *impi, struct kms_bsf_sub *out);
    /* Makes `mark` the durable SQN high-water mark (never lowers it). */
    kms_result (*sqn_commit)(void *ctx, const char *impi, uint64_t mark);
};

struct kms_bsf_cfg {
    const char *realm;      /* the BSF FQDN: Digest realm and B-TID domain */
    uint64_t lifetime;      /* bootstrap session lifetime, seconds (> 0) */
    uint64_t challenge_ttl; /* seconds a challenge may be answered (default 30) */
    size_t max_challenges;  /* outstanding challenges (default 16384) */
    size_t max_sessions;    /* live bootstrap sessions (default 100000) */
    size_t max_identities;  /* IMPIs with SQN / rate state in memory (default 65536) */
    unsigned rate_burst;    /* challenges an IMPI may get at once (default 5) */
    unsigned rate_period;   /* seconds to earn one more (default 2) */
    unsigned ind_bits;      /* SQN IND bits (default 5, as kms_sqn) */
    uint32_t sqn_chunk;     /* SQNs reserved per durable write (default 32) */
    uint8_t amf[2];         /* AMF of fake challenges: the one most subscribers have (0000 as
                             * 'imskms subscriber add', unless configured) */
};

/* A challenge as the Digest layer needs it. */
struct kms_bsf_challenge {
    uint8_t rand[KMS_AKA_RAND_LEN];
    uint8_t autn[KMS_AKA_AUTN_LEN];
    uint8_t id[KMS_BSF_CHAL_ID_LEN]; /* the nonce's server data */
};

/* A consumed challenge, for verifying the answer (wipe with kms_wipe). */
struct kms_bsf_pending {
    char impi[KMS_BSF_NAME_MAX + 1];
    uint8_t rand[KMS_AKA_RAND_LEN];
    uint8_t xres[KMS_AKA_RES_LEN];
    uint8_t ck[KMS_AKA_CK_LEN], ik[KMS_AKA_IK_LEN];
    bool fake; /* made for an unknown IMPI: no answer can succeed */
};

struct kms_bsf_session {
    char btid[KMS_BTID_MAX];
    uint64_t created, expires;
};

struct kms_bsf;

KMS_MUST_CHECK kms_result kms_bsf_new(const struct kms_bsf_cfg *cfg,
                                      const struct kms_bsf_store *store, struct kms_bsf **out);
void kms_bsf_free(struct kms_bsf *b);
const char *kms_bsf_realm(const struct kms_bsf *b);

/* A new challenge for impi. KMS_ERR_RATE when the IMPI's rate is used up, KMS_ERR_FULL when too
 * many challenges are outstanding, KMS_ERR_SQN_* when the subscriber's SQN space is exhausted;
 * an unknown IMPI still gets a (fake) challenge. */
KMS_MUST_CHECK kms_result kms_bsf_challenge(struct kms_bsf *b, const char *impi, uint64_t now,
                                            struct kms_bsf_challenge *out);

/* Takes (removes) the challenge with this id: KMS_ERR_NOT_FOUND when unknown, used or expired.
 * The caller checks the username against out->impi and the response against out->xres. */
KMS_MUST_CHECK kms_result kms_bsf_take(struct kms_bsf *b, const uint8_t id[KMS_BSF_CHAL_ID_LEN],
                                       uint64_t now, struct kms_bsf_pending *out);

/* After a verified response: the bootstrap session (Ks = CK || IK) under B-TID. */
KMS_MUST_CHECK kms_result kms_bsf_bootstrap(struct kms_bsf *b, const struct kms_bsf_pending *p,
                                            uint64_t now, struct kms_bsf_session *out);

/* A resynchronisation request: AUTS checked with the subscriber's K against the consumed
 * challenge's RAND (KMS_ERR_MAC_S when it does not verify), then the SQN moves per TS 33.102
 * 6.3.5. The caller then issues a new challenge. For a fake challenge (unknown IMPI) the same
 * work runs (a store read, a Milenage resync on the BSF's fake K/OPc) and the answer is
 * KMS_ERR_MAC_S, as for a real AUTS that does not verify. */
KMS_MUST_CHECK kms_result kms_bsf_resync(struct kms_bsf *b, const struct kms_bsf_pending *p,
                                         const uint8_t auts[KMS_AKA_AUTS_LEN], uint64_t now);

/* Zn: Ks_NAF for (B-TID, NAF FQDN, Ua id). KMS_ERR_NOT_FOUND for an unknown or expired B-TID. */
struct kms_bsf_zn {
    char impi[KMS_BSF_NAME_MAX + 1];
    char impu[KMS_BSF_IMPU_MAX][KMS_BSF_NAME_MAX + 1];
    size_t n_impu;
    uint8_t ks_naf[KMS_KDF_OUT_LEN];
    uint64_t bootstrap_time, key_expiry;
};
KMS_MUST_CHECK kms_result kms_bsf_zn(struct kms_bsf *b, const char *btid, const char *naf_fqdn,
                                     const uint8_t ua_id[KMS_UA_ID_LEN], uint64_t now,
                                     struct kms_bsf_zn *out);

/* Drops expired challenges and sessions (the daemon calls it now and then). */
void kms_bsf_expire(struct kms_bsf *b, uint64_t now);

struct kms_bsf_stats {
    size_t challenges, sessions, identities;
    uint64_t fake_resyncs; /* AUTS of fake challenges checked on the fake K/OPc */
};
void kms_bsf_stats(struct kms_bsf *b, struct kms_bsf_stats *s);

#endif

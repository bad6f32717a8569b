/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_bsf: the bootstrapping server's state and logic, independent of HTTP.
 *
 *   challenge  an IMPI asks to bootstrap: a fresh authentication vector (Milenage over the
 *              subscriber's K/OPc with the next SQN). Nothing is kept: the challenge's state
 *              (expiry, fake or real) is sealed with AES-256-SIV into the nonce's server data,
 *              bound to the realm, the IMPI, RAND and AUTN (docs/bsf.md, "Sealed challenges");
 *   answer     the seal is opened (the username must be the challenge's IMPI), XRES, CK and IK
 *              are recomputed from K/OPc and RAND; only after the response verifies is the
 *              challenge recorded as answered (single use, until its expiry) and a bootstrap
 *              session (B-TID -> IMPI, Ks, RAND, times) kept until its lifetime; with a
 *              verified AUTS the SQN is resynchronised (and the challenge recorded as answered);
 *   zn         a NAF names a B-TID: Ks_NAF for the NAF_Id of its FQDN and Ua protocol id.
 *
 * The sealing key is all another BSF needs to verify a challenge this one issued (with the
 * same subscriber store). Unknown IMPIs get challenges of the same shape from random bytes,
 * sealed as fake (the flag is inside the seal), never answerable, so a 401 does not tell
 * whether an identity exists: their AUTN carries the configured default AMF (AUTN shows the
 * AMF in clear), and answering one costs what answering a real one costs (a store read and a
 * Milenage run, on a per-process fake K/OPc) before it fails. No durable write is ever made
 * for an unknown IMPI and no state is kept per challenge, so challenge requests for made-up
 * names cannot fill anything a subscriber needs.
 *
 * Challenges are rate-limited per IMPI (token buckets keyed by a keyed hash of the IMPI):
 * subscribers' buckets live beside their SQN state, made-up names' in a table of their own
 * (when that one is full of busy buckets, a made-up name goes unlimited rather than refused:
 * it costs one Milenage and nothing kept). SQNs come from per-subscriber ranges reserved
 * durably in chunks: kms_bsf_preload reserves a first range before serving, and a range
 * running low is refilled by kms_bsf_refill (the daemon's tick), off the request path.
 *
 * A node of a fleet (cfg.shared, lib/gba/kms_bsf_redis) keeps the answered challenges, the
 * sessions and subscribers' buckets in the shared store instead of its tables; its SQN ranges
 * stay its own (cfg.node_id's IND class, reserved through store.sqn_commit).
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

#define KMS_BSF_IMPU_MAX 8
#define KMS_BSF_NAME_MAX 255
/* The nonce's server data: AES-256-SIV's V (16) || the sealed state (16). */
#define KMS_BSF_SEAL_LEN 32
#define KMS_BSF_KEY_LEN  32

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

/* What the BSFs of a fleet share (lib/gba/kms_bsf_redis keeps it in Redis; docs/scaling.md):
 * with it, the rate of subscribers' challenges, the record of answered challenges and the
 * bootstrap sessions live there instead of this process's tables, so any node verifies another
 * node's challenge and serves Zn for any B-TID. Every callback answers KMS_ERR_STORE when the
 * shared store fails (the BSF then refuses: 503, never a success). */
struct kms_bsf_shared {
    void *ctx;
    /* A subscriber's challenge (known): takes a token of its bucket (burst, one more per period
     * seconds; KMS_ERR_RATE when none is left), or gives one back (give: a verified AUTS). A
     * made-up name (!known): the same round trip, nothing written (its bucket stays local, so
     * made-up names cannot fill the shared store). */
    kms_result (*rate)(void *ctx, const char *impi, bool known, bool give, unsigned burst,
                       unsigned period, uint64_t now);
    /* KMS_ERR_REPLAY when the challenge of rand is recorded as answered. */
    kms_result (*answered_check)(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN]);
    /* Records it as answered until expires, only if it was not (KMS_ERR_REPLAY when it was). */
    kms_result (*answered_set)(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN], uint64_t expires,
                               uint64_t now);
    /* Keeps the bootstrap session of rand until expires, only if none is (KMS_ERR_REPLAY). */
    kms_result (*session_put)(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN], const char *impi,
                              const uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN], uint64_t created,
                              uint64_t expires, uint64_t now);
    /* The session of rand: KMS_ERR_NOT_FOUND when none (expiry is the caller's to check). */
    kms_result (*session_get)(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN],
                              char impi[KMS_BSF_NAME_MAX + 1],
                              uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN], uint64_t *created,
                              uint64_t *expires);
};

struct kms_bsf_cfg {
    const char *realm;      /* the BSF FQDN: Digest realm and B-TID domain */
    uint64_t lifetime;      /* bootstrap session lifetime, seconds (> 0) */
    uint64_t challenge_ttl; /* seconds a challenge may be answered (default 30) */
    size_t max_answered;    /* answered challenges remembered until their expiry (single use;
                             * default 1000000, 64 bytes each); full: answers get KMS_ERR_FULL */
    size_t max_sessions;    /* live bootstrap sessions (default 100000); with shared state,
                             * max_answered and max_sessions size nothing */
    size_t max_identities;  /* subscribers with SQN / rate state in memory, and as many made-up
                             * names' rate buckets (default 65536) */
    unsigned rate_burst;    /* challenges an IMPI may get at once (default 5) */
    unsigned rate_period;   /* seconds to earn one more (default 2) */
    unsigned ind_bits;      /* SQN IND bits (default 5, as kms_sqn) */
    bool node_set;          /* a node of a fleet: SQNs carry only the IND values of node_id's
                             * class (kms_sqn_ind_class); unset, one BSF: every IND value */
    unsigned node_id;       /* 0 .. kms_sqn_ind_nodes(ind_bits) - 1 (KMS_ERR_ARG beyond) */
    uint32_t sqn_chunk;     /* SQNs reserved per durable write (default 32) */
    uint8_t amf[2];         /* AMF of fake challenges: the one most subscribers have (0000 as
                             * 'imskms subscriber add', unless configured) */
    const uint8_t *challenge_key; /* KMS_BSF_KEY_LEN bytes (copied): the key challenges are sealed
                                   * under, kms_kek_derive(KEK, KMS_KEK_CHALLENGE_SEAL, 1); BSFs
                                   * sharing it accept each other's challenges. NULL: a random
                                   * key of this process (tests) */
    const struct kms_bsf_shared *shared; /* copied; NULL: one BSF, everything in its tables */
};

/* A challenge as the Digest layer needs it. */
struct kms_bsf_challenge {
    uint8_t rand[KMS_AKA_RAND_LEN];
    uint8_t autn[KMS_AKA_AUTN_LEN];
    uint8_t sd[KMS_BSF_SEAL_LEN]; /* the nonce's server data: the sealed state */
};

/* An opened challenge, for verifying the answer (wipe with kms_wipe). */
struct kms_bsf_pending {
    char impi[KMS_BSF_NAME_MAX + 1];
    uint8_t rand[KMS_AKA_RAND_LEN];
    uint8_t xres[KMS_AKA_RES_LEN];
    uint8_t ck[KMS_AKA_CK_LEN], ik[KMS_AKA_IK_LEN];
    bool fake;        /* made for an unknown IMPI: no answer can succeed */
    uint64_t expires; /* the challenge's expiry (sealed) */
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
/* Seconds an IMPI waits to earn one more challenge (cfg.rate_period): a 429's Retry-After. */
unsigned kms_bsf_rate_period(const struct kms_bsf *b);
/* Changes the lifetime of the sessions bootstrapped from now on (a reload; sessions already
 * made keep theirs). KMS_ERR_ARG outside 1 .. 10 years. Thread-safe. */
KMS_MUST_CHECK kms_result kms_bsf_set_lifetime(struct kms_bsf *b, uint64_t lifetime);

/* A new challenge for impi. KMS_ERR_RATE when the IMPI's rate is used up, KMS_ERR_FULL when
 * the subscriber's state finds no room, KMS_ERR_SQN_* when its SQN space is exhausted; an
 * unknown IMPI still gets a (fake) challenge. */
KMS_MUST_CHECK kms_result kms_bsf_challenge(struct kms_bsf *b, const char *impi, uint64_t now,
                                            struct kms_bsf_challenge *out);

/* Opens the challenge (rand, autn, sd) answered under the username impi: KMS_ERR_AUTH when the
 * seal does not open (not ours, altered, another IMPI's, another sealing key), KMS_ERR_NOT_FOUND
 * when expired, KMS_ERR_REPLAY when already answered. Then reads the subscriber and recomputes
 * XRES, CK and IK from K/OPc and RAND; a fake challenge, or an IMPI no longer in the store, runs
 * Milenage on the fake K/OPc and comes back with out->fake set. Nothing is written. */
KMS_MUST_CHECK kms_result kms_bsf_open(struct kms_bsf *b, const char *impi,
                                       const uint8_t rand[KMS_AKA_RAND_LEN],
                                       const uint8_t autn[KMS_AKA_AUTN_LEN],
                                       const uint8_t sd[KMS_BSF_SEAL_LEN], uint64_t now,
                                       struct kms_bsf_pending *out);

/* After a verified response: records the challenge as answered (KMS_ERR_REPLAY when it already
 * was, KMS_ERR_FULL when the record of answered challenges holds only unexpired entries: none
 * is evicted) and keeps the bootstrap session (Ks = CK || IK) under B-TID (KMS_ERR_FULL when
 * the session table is full; the challenge is then not recorded). KMS_ERR_AUTH for a fake. */
KMS_MUST_CHECK kms_result kms_bsf_bootstrap(struct kms_bsf *b, const struct kms_bsf_pending *p,
                                            uint64_t now, struct kms_bsf_session *out);

/* A resynchronisation request: AUTS checked with the subscriber's K against the challenge's
 * RAND (KMS_ERR_MAC_S when it does not verify), then the challenge is recorded as answered (as
 * kms_bsf_bootstrap: KMS_ERR_REPLAY, KMS_ERR_FULL) and the SQN moves per TS 33.102 6.3.5. The
 * caller then issues a new challenge. For a fake challenge (unknown IMPI) the same work runs (a
 * store read, a Milenage resync on the BSF's fake K/OPc) and the answer is KMS_ERR_MAC_S, as
 * for a real AUTS that does not verify. */
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

/* Drops expired answered-challenge records and sessions (the daemon calls it now and then). */
void kms_bsf_expire(struct kms_bsf *b, uint64_t now);

/* Before serving: loads the subscriber's SQN state from its durable mark (sqn_mark, as the store
 * has it) and reserves its first range, so that its first challenge makes no durable write.
 * The store's sqn_commit runs here (one durable write per call). KMS_ERR_FULL when the
 * subscriber state table is full (the subscriber is then served as before, its first challenge
 * reserving). */
KMS_MUST_CHECK kms_result kms_bsf_preload(struct kms_bsf *b, const char *impi, uint64_t sqn_mark,
                                          uint64_t now);
/* The same in two steps, so that the caller can make many marks durable at once: _plan loads
 * the state and gives the mark to persist (*mark), _done records it once it is durable. Nothing
 * may be served between the two for this IMPI. */
KMS_MUST_CHECK kms_result kms_bsf_preload_plan(struct kms_bsf *b, const char *impi,
                                               uint64_t sqn_mark, uint64_t now, uint64_t *mark);
KMS_MUST_CHECK kms_result kms_bsf_preload_done(struct kms_bsf *b, const char *impi, uint64_t mark,
                                               uint64_t now);

/* Off the request path (the daemon's tick): reserves the next SQN range of subscribers whose
 * range runs low (fewer than half a chunk left), as queued by their challenges. Returns how
 * many ranges were reserved; store failures are left for the request path to meet again. */
size_t kms_bsf_refill(struct kms_bsf *b, uint64_t now);

struct kms_bsf_stats {
    size_t answered, sessions, identities, strangers;
    uint64_t fake_resyncs;      /* AUTS of fake challenges checked on the fake K/OPc */
    uint64_t sync_reserves;     /* SQN ranges reserved on the request path (none after preload,
                                 * while refills keep up) */
    uint64_t strangers_unrated; /* made-up names served without a bucket (their table full) */
};
void kms_bsf_stats(struct kms_bsf *b, struct kms_bsf_stats *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_keyring: the versions of Kkms, their life cycle and their durable record.
 *
 * Each Kkms version has an id (1, 2, ... never reused), a state and three times fixed when it
 * is created:
 *   activated    it became the active key (seals and opens);
 *   active_until it stops sealing: the keyring rotates to a new key (earlier when rotated by
 *                hand or when its seal budget runs out);
 *   grace_until  = active_until + grace: tickets under it open until then, never after.
 * A ticket's expiry is capped at its key's grace_until, so a valid ticket never meets a
 * destroyed key, however early its key was rotated out. `revoke` destroys a key at once.
 *
 *   ACTIVE --(time | seal budget | rotate)--> GRACE --(grace_until)--> DESTROYED
 *   ACTIVE or GRACE --(revoke)--> DESTROYED
 *
 * Exactly one key is ACTIVE; revoking it, or a rotation, creates the next one in the same
 * write. A key whose grace_until has passed opens nothing, even before the file records it as
 * destroyed, so opening never needs a write.
 *
 * The file (format in docs/protocol.md) is replaced atomically (temporary file, fsync,
 * rename, fsync of the directory) under an exclusive lock on PATH.lock, each change applied
 * to a fresh read of the file, so concurrent writers never lose each other's changes. Seal
 * counts are reserved durably in chunks before use (1, 2, 4, ... up to KMS_KEYRING_SEAL_CHUNK
 * per holder), so a crash can only over-count.
 *
 * A process holding the keyring notices a newer file at most KMS_KEYRING_RECHECK_MS after it
 * was written (a stat on the next acquire), or at once with kms_keyring_refresh().
 *
 * Times are UNIX seconds given by the caller. Thread-safe; loaded keys are reference counted,
 * so a reload or a revoke never frees a key another thread is using.
 */
#ifndef KMS_KEYRING_KEYRING_H
#define KMS_KEYRING_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "keyring/kms_keystore.h"
#include "redis/kms_redis.h"

#define KMS_KEYRING_DEFAULT_MAX_SEALS (UINT64_C(1) << 28) /* AES-GCM random nonces: 2^32 cap */
#define KMS_KEYRING_SEAL_CHUNK        1024 /* largest number of seals reserved per write */
#define KMS_KEYRING_SEAL_CHUNK_SERVER (UINT64_C(1) << 20) /* the same for a server (kmsd) */
#define KMS_KEYRING_MAX_RECORDS       64  /* key records kept, destroyed ones included */
#define KMS_KEYRING_MAX_GRACE_RATIO   32  /* grace <= 32 x lifetime: bounded live keys */
#define KMS_KEYRING_RECHECK_MS        200 /* how stale a holder's view may get */
#define KMS_KEYRING_FILE_MAX          16384
#define KMS_KEYRING_STALE_AFTER       30 /* failed reloads in a row before failing closed */

enum kms_key_state {
    KMS_KEY_ACTIVE = 1,
    KMS_KEY_GRACE = 2,
    KMS_KEY_DESTROYED = 3,
};

/* Why a key was destroyed. */
enum kms_key_end {
    KMS_KEY_END_NONE = 0,
    KMS_KEY_END_EXPIRED = 1, /* its grace period ended */
    KMS_KEY_END_REVOKED = 2, /* `revoke` */
};

struct kms_keyring_policy {
    uint64_t lifetime;  /* seconds a key seals for, >= 1 */
    uint64_t grace;     /* seconds it still opens afterwards, >= 1 */
    uint64_t max_seals; /* seals per key, 1 .. 2^32 */
};

struct kms_key_info {
    uint32_t id;
    enum kms_key_state state;     /* as recorded in the file */
    enum kms_key_state effective; /* at the `now` of the query (a passed grace = DESTROYED) */
    enum kms_key_end end;
    uint64_t activated, active_until, grace_until;
    uint64_t retired;   /* when it left ACTIVE (0: still active) */
    uint64_t destroyed; /* when it was destroyed (0: not yet) */
    uint64_t seals;     /* seals reserved durably (an upper bound of seals made) */
};

struct kms_keyring;
struct kms_kkms; /* a loaded key held by a caller */

/* Creates a new keyring file (KMS_ERR_EXISTS if PATH exists) with key 1 active. */
KMS_MUST_CHECK kms_result kms_keyring_create(const char *path, struct kms_keystore *ks,
                                             const struct kms_keyring_policy *pol, uint64_t now,
                                             struct kms_keyring **out);
/* Opens an existing keyring. ks must be of the kind the file records. The keyring borrows ks:
 * close the keyring first, then the keystore. */
KMS_MUST_CHECK kms_result kms_keyring_open(const char *path, struct kms_keystore *ks,
                                           struct kms_keyring **out);
void kms_keyring_close(struct kms_keyring *kr);

/* The keyring in Redis (`--keyring redis`; kms_keyring_redis.h, docs/keyring.md): the same
 * image and anchor as the file keyring (file keystore only: KMS_ERR_UNSUPPORTED for PKCS#11,
 * whose anchor lives in the token) in keys under prefix (NULL: KMS_KRR_PREFIX), every change a
 * compare-and-swap on the generation, so that a fleet of nodes never loses a change or
 * reserves overlapping seal windows. A holder polls the generation key at most every
 * KMS_KEYRING_RECHECK_MS on use and re-reads at once (at most every KMS_KEYRING_UNKNOWN_MS)
 * when asked to open under a key id it does not know. A keyring gone from Redis is never made
 * again except by kms_keyring_create_redis or kms_keyring_copy_to_redis: open says
 * KMS_ERR_NOT_FOUND, a holder goes stale as with a file. Redis failures: KMS_ERR_STORE. r is
 * borrowed: close the keyring first. */
#define KMS_KEYRING_UNKNOWN_MS 100
KMS_MUST_CHECK kms_result kms_keyring_create_redis(struct kms_redis *r, const char *prefix,
                                                   struct kms_keystore *ks,
                                                   const struct kms_keyring_policy *pol,
                                                   uint64_t now, struct kms_keyring **out);
KMS_MUST_CHECK kms_result kms_keyring_open_redis(struct kms_redis *r, const char *prefix,
                                                 struct kms_keystore *ks, struct kms_keyring **out);
/* Refuses (KMS_ERR_STORE, a one-line reason in why) a Redis that would lose an acknowledged
 * write: the keyring needs appendonly yes and appendfsync always. */
KMS_MUST_CHECK kms_result kms_keyring_redis_check(struct kms_redis *r, char *why, size_t why_cap);
/* Copies the keyring file at path (checked under its lock: MAC, anchor) into Redis, which
 * must hold none (KMS_ERR_EXISTS); the image keeps its bytes, generation and keys, so every
 * token it sealed still opens. KMS_ERR_UNSUPPORTED for a format-1 file (make one change to it
 * first, e.g. `imskms keys rotate`). *gen (may be NULL): the generation copied. */
KMS_MUST_CHECK kms_result kms_keyring_copy_to_redis(const char *path, struct kms_keystore *ks,
                                                    struct kms_redis *r, const char *prefix,
                                                    uint64_t *gen);
/* The reverse (a backup): the keyring in Redis (checked) to a new file at path and its anchor
 * (KMS_ERR_EXISTS when path exists). */
KMS_MUST_CHECK kms_result kms_keyring_copy_from_redis(struct kms_redis *r, const char *prefix,
                                                      struct kms_keystore *ks, const char *path,
                                                      uint64_t *gen);

/* Re-reads the file if it changed since it was last read. A newly read file must pass the
 * anchor (KMS_ERR_KEYRING_ROLLBACK, KMS_ERR_KEYRING_ANCHOR) and follow the view this process
 * holds: the same ring id, a higher generation (or the same file again), no key seen revoked
 * alive again (KMS_ERR_KEYRING_ROLLBACK). A refused reload keeps the last good view and is
 * logged (kms_log WARN, with the reason); after stale_after failed reloads in a row (default
 * KMS_KEYRING_STALE_AFTER; a failing file is retried at most once a second on use, and the
 * daemon refreshes every second) the keyring fails closed: seals and opens, and this call,
 * return KMS_ERR_KEYRING_STALE (logged as ERROR) until a reload succeeds. */
KMS_MUST_CHECK kms_result kms_keyring_refresh(struct kms_keyring *kr);
/* Sets the bound above (n >= 1; tests). */
void kms_keyring_set_stale_after(struct kms_keyring *kr, unsigned n);
/* Lets this holder's seal windows keep doubling up to max seals per reservation (at least
 * KMS_KEYRING_SEAL_CHUNK, at most KMS_KEYRING_SEAL_CHUNK_SERVER; the default is
 * KMS_KEYRING_SEAL_CHUNK). For a server sealing tens of thousands of tickets a second: each
 * reservation is a durable write of the file and the anchor (fsync) under the keyring's lock,
 * about a millisecond, which at 1024 seals per write is about a microsecond per seal and stalls
 * every other thread's seals and opens for the write. It is also the only disk write a mode-3
 * request needs: a window of 2^20 seals lasts 105 s at 10,000 seals/s, so a full disk stops
 * sealing only when a window runs out (KMS_ERR_IO, docs/reliability.md). A crash still only
 * over-counts: by at most the rest of one window (2^20 of a key's 2^28 default budget, 1/256). */
void kms_keyring_set_seal_chunk_max(struct kms_keyring *kr, uint64_t max);
/* For a server, off the request path (at start and on its housekeeping tick): when this
 * holder's seal window is used up or belongs to a key that no longer seals, reserves a full
 * window (the maximum set above) now, so that requests find seals reserved and write nothing.
 * Does nothing while the window is usable. KMS_ERR_IO and the like when the write fails (a full
 * disk): requests then reserve for themselves, and fail, only once the window runs out. */
KMS_MUST_CHECK kms_result kms_keyring_reserve_ahead(struct kms_keyring *kr, uint64_t now);
/* Whether the keyring has failed closed. */
bool kms_keyring_is_stale(struct kms_keyring *kr);

/* The active key for one seal, rotating first (one durable write) when its time or seal budget
 * is used up, and reserving a chunk of seals when this process has none left. *grace_until is
 * the cap for the expiry of what it seals. Release with kms_keyring_release. */
KMS_MUST_CHECK kms_result kms_keyring_acquire_seal(struct kms_keyring *kr, uint64_t now,
                                                   struct kms_kkms **key, uint32_t *key_id,
                                                   uint64_t *grace_until);
/* The key `id` for opening: KMS_ERR_KEY_UNKNOWN when the keyring has no such id,
 * KMS_ERR_KEY_DESTROYED when it is destroyed or its grace has passed at `now`. */
KMS_MUST_CHECK kms_result kms_keyring_acquire_open(struct kms_keyring *kr, uint64_t now,
                                                   uint32_t id, struct kms_kkms **key);
void kms_keyring_release(struct kms_kkms *key);

/* A fresh random 96-bit nonce for one seal (from a pool the keyring refills from the DRBG). */
KMS_MUST_CHECK kms_result kms_keyring_nonce(struct kms_keyring *kr, uint8_t nonce[12]);

/* AES-256-GCM with a held key (see kms_keystore_ops.seal / .open). */
KMS_MUST_CHECK kms_result kms_kkms_seal(struct kms_kkms *key, const uint8_t nonce[12],
                                        const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                                        size_t pt_len, uint8_t *ct, uint8_t tag[16]);
KMS_MUST_CHECK kms_result kms_kkms_open(struct kms_kkms *key, const uint8_t nonce[12],
                                        const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                                        size_t ct_len, const uint8_t tag[16], uint8_t *pt);

/* Manual rotation: a new active key; the old one enters its grace period. */
KMS_MUST_CHECK kms_result kms_keyring_rotate(struct kms_keyring *kr, uint64_t now,
                                             uint32_t *new_id);
/* Destroys key `id` now (erasing its material); when it was the active key a new one becomes
 * active in the same write (*new_id, 0 otherwise). KMS_ERR_NOT_FOUND for an unknown id,
 * KMS_ERR_KEY_DESTROYED when it is destroyed already. */
KMS_MUST_CHECK kms_result kms_keyring_revoke(struct kms_keyring *kr, uint64_t now, uint32_t id,
                                             uint32_t *new_id);
/* Housekeeping: destroys keys whose grace has passed, rotates an active key whose time is up,
 * drops the oldest destroyed records beyond KMS_KEYRING_MAX_RECORDS, removes orphaned token
 * objects. Writes only when something changed; *destroyed and *rotated may be NULL. */
KMS_MUST_CHECK kms_result kms_keyring_maintain(struct kms_keyring *kr, uint64_t now,
                                               size_t *destroyed, bool *rotated);

/* A snapshot of the key records, newest first. *n is the number written (at most cap). */
KMS_MUST_CHECK kms_result kms_keyring_list(struct kms_keyring *kr, uint64_t now,
                                           struct kms_key_info *out, size_t cap, size_t *n);
void kms_keyring_get_policy(struct kms_keyring *kr, struct kms_keyring_policy *pol);
/* Changes since open (for tests and metrics): the file generation last read. */
uint64_t kms_keyring_generation(struct kms_keyring *kr);

const char *kms_key_state_name(enum kms_key_state s);

#endif

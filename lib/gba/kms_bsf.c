/* SPDX-License-Identifier: Apache-2.0 */
/* The BSF's state and logic: see kms_bsf.h. */
#include "gba/kms_bsf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "crypto/kms_sqn.h"
#include "util/kms_codec.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"
#include "util/kms_tab.h"

/* A token bucket; the head of every per-IMPI record. */
struct head {
    uint8_t key[KMS_TAB_KEY_LEN]; /* HMAC-SHA-256(seed, IMPI), truncated */
    unsigned tokens;
    uint64_t refill_at; /* time the bucket was last topped up */
};

/* A subscriber's state: its bucket and its SQN generator. */
struct ident {
    struct head h;
    bool sqn_loaded;
    bool refill_queued; /* its IMPI waits in the refill queue */
    struct kms_sqn_he he;
    unsigned next_ind;
};

/* A made-up (or not yet provisioned) name: its bucket only. */
struct stranger {
    struct head h;
};

/* An answered challenge, remembered until it expires (single use). */
struct used {
    uint8_t rand[KMS_TAB_KEY_LEN];
    uint64_t expires;
};

struct sess {
    uint8_t rand[KMS_TAB_KEY_LEN]; /* B-TID = base64(RAND)@realm */
    char impi[KMS_BSF_NAME_MAX + 1];
    uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN];
    uint64_t created, expires;
};

/* Subscribers whose SQN range runs low, for kms_bsf_refill (a full queue drops the request:
 * the request path reserves on its own when a range does run out). */
#define REFILL_Q 256

struct kms_bsf {
    struct kms_bsf_cfg cfg;
    _Atomic uint64_t lifetime; /* cfg.lifetime, changed live by kms_bsf_set_lifetime */
    char realm[KMS_BSF_NAME_MAX + 1];
    struct kms_bsf_store store;
    struct kms_bsf_shared shared; /* cfg.shared copied (has_shared) */
    bool has_shared;
    uint8_t seed[32];
    uint8_t fake_k[16], fake_opc[16]; /* per process: answers to fake challenges run on these */
    uint8_t siv_key[64];              /* AES-256-SIV, from the challenge key */
    unsigned ind_first, ind_count;    /* the IND values this BSF hands out (its node's class) */
    uint64_t fake_resyncs, sync_reserves, strangers_unrated;
    pthread_mutex_t mu;
    struct kms_tab *idents, *strangers, *answered, *sessions;
    char refill[REFILL_Q][KMS_BSF_NAME_MAX + 1];
    size_t refill_head, refill_n;
};

kms_result kms_bsf_set_lifetime(struct kms_bsf *b, uint64_t lifetime)
{
    KMS_ENSURE(b != NULL && lifetime > 0 && lifetime <= 10u * 365 * 86400, KMS_ERR_ARG);
    atomic_store(&b->lifetime, lifetime);
    return KMS_RESULT_OK;
}

const char *kms_bsf_realm(const struct kms_bsf *b)
{
    return b->realm;
}

unsigned kms_bsf_rate_period(const struct kms_bsf *b)
{
    return b->cfg.rate_period;
}

/* The AES-256-SIV key (64 bytes) from the 32-byte challenge key: HKDF-Expand-SHA-256 with its
 * own info (RFC 5869 2.3), so the key the fleet shares is the registry's 32 bytes. */
static kms_result siv_key(const uint8_t key[KMS_BSF_KEY_LEN], uint8_t out[64])
{
    static const char info[] = "imskms bsf challenge AES-256-SIV";
    return kms_hkdf_expand_sha256(key, KMS_BSF_KEY_LEN, (const uint8_t *)info, sizeof(info) - 1,
                                  out, 64);
}

kms_result kms_bsf_new(const struct kms_bsf_cfg *cfg, const struct kms_bsf_store *store,
                       struct kms_bsf **out)
{
    KMS_ENSURE(cfg != NULL && store != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(cfg->realm != NULL && store->get != NULL && store->sqn_commit != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_ident_check_fqdn(cfg->realm, strlen(cfg->realm)));
    KMS_ENSURE(cfg->lifetime > 0 && cfg->lifetime <= 10u * 365 * 86400, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    uint8_t key[KMS_BSF_KEY_LEN];
    struct kms_bsf *b = calloc(1, sizeof(*b));
    KMS_ENSURE(b != NULL, KMS_ERR_NOMEM);
    pthread_mutex_init(&b->mu, NULL);
    b->cfg = *cfg;
    atomic_store(&b->lifetime, cfg->lifetime);
    struct kms_bsf_cfg *c = &b->cfg;
    c->challenge_key = NULL; /* copied into siv_key below */
    c->shared = NULL;        /* copied into shared below */
    if (cfg->shared != NULL) {
        b->shared = *cfg->shared;
        b->has_shared = true;
        KMS_ENSURE_OUT(rc,
                       b->shared.rate != NULL && b->shared.answered_check != NULL &&
                           b->shared.answered_set != NULL && b->shared.session_put != NULL &&
                           b->shared.session_get != NULL,
                       KMS_ERR_ARG);
    }
    c->challenge_ttl = c->challenge_ttl != 0 ? c->challenge_ttl : 30;
    c->max_answered = c->max_answered != 0 ? c->max_answered : 1000000;
    c->max_sessions = c->max_sessions != 0 ? c->max_sessions : 100000;
    c->max_identities = c->max_identities != 0 ? c->max_identities : 65536;
    c->rate_burst = c->rate_burst != 0 ? c->rate_burst : 5;
    c->rate_period = c->rate_period != 0 ? c->rate_period : 2;
    c->ind_bits = c->ind_bits != 0 ? c->ind_bits : KMS_SQN_IND_BITS_DEF;
    c->sqn_chunk = c->sqn_chunk != 0 ? c->sqn_chunk : 32;
    KMS_ENSURE_OUT(rc, c->ind_bits <= KMS_SQN_IND_BITS_MAX, KMS_ERR_ARG);
    b->ind_first = 0;
    b->ind_count = 1u << c->ind_bits;
    if (c->node_set) {
        KMS_TRY_OUT(rc, kms_sqn_ind_class(c->ind_bits, c->node_id, &b->ind_first, &b->ind_count));
    }
    KMS_ENSURE_OUT(rc, c->challenge_ttl <= 3600, KMS_ERR_ARG);
    memcpy(b->realm, cfg->realm, strlen(cfg->realm) + 1);
    c->realm = b->realm;
    b->store = *store;
    if (cfg->challenge_key != NULL) {
        memcpy(key, cfg->challenge_key, sizeof(key));
    } else {
        KMS_TRY_OUT(rc, kms_random(key, sizeof(key)));
    }
    KMS_TRY_OUT(rc, siv_key(key, b->siv_key));
    KMS_TRY_OUT(rc, kms_random(b->seed, sizeof(b->seed)));
    KMS_TRY_OUT(rc, kms_random(b->fake_k, sizeof(b->fake_k)));
    KMS_TRY_OUT(rc, kms_random(b->fake_opc, sizeof(b->fake_opc)));
    KMS_TRY_OUT(rc, kms_tab_new(c->max_identities, sizeof(struct ident), &b->idents));
    KMS_TRY_OUT(rc, kms_tab_new(c->max_identities, sizeof(struct stranger), &b->strangers));
    /* With shared state the answered challenges and the sessions live there: no tables here
     * (a token one each, so that sweeps and stats stay as they are). */
    KMS_TRY_OUT(
        rc, kms_tab_new(b->has_shared ? 1 : c->max_answered, sizeof(struct used), &b->answered));
    KMS_TRY_OUT(
        rc, kms_tab_new(b->has_shared ? 1 : c->max_sessions, sizeof(struct sess), &b->sessions));
    *out = b;
    b = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(key, sizeof(key));
    kms_bsf_free(b);
    return rc;
}

void kms_bsf_free(struct kms_bsf *b)
{
    if (b == NULL) {
        return;
    }
    kms_tab_free(b->idents);
    kms_tab_free(b->strangers);
    kms_tab_free(b->answered);
    kms_tab_free(b->sessions);
    pthread_mutex_destroy(&b->mu);
    kms_wipe(b, sizeof(*b));
    free(b);
}

/* ---- sealed challenges ---- */

/* The sealed state (16 octets, one AES block):
 *   version (1) = 1 || flags (1: bit 0 fake) || expires (8, big-endian) || zero (6)
 * sealed with AES-256-SIV (RFC 5297) under the associated data, as separate S2V vectors,
 *   realm, IMPI, RAND || AUTN
 * into V (16) || C (16): the nonce's server data. SIV needs no IV of its own (RAND, fresh per
 * challenge, is in the associated data), so nothing has to be coordinated between BSFs that
 * share the key, and the whole fits the 32 octets of server data a nonce carried before. */
#define SEAL_VERSION 1
#define SEAL_FAKE    1

static kms_result siv_run(const struct kms_bsf *b, bool enc, const char *impi,
                          const uint8_t rand[KMS_AKA_RAND_LEN],
                          const uint8_t autn[KMS_AKA_AUTN_LEN], const uint8_t in[16], uint8_t v[16],
                          uint8_t out[16])
{
    const struct kms_ossl *o = kms_ossl();
    KMS_ENSURE(o != NULL && o->aes256_siv != NULL, KMS_ERR_CRYPTO);
    kms_result rc = KMS_RC_INIT;
    uint8_t ra[KMS_AKA_RAND_LEN + KMS_AKA_AUTN_LEN];
    int n = 0;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    KMS_ENSURE(x != NULL, KMS_ERR_NOMEM);
    memcpy(ra, rand, KMS_AKA_RAND_LEN);
    memcpy(ra + KMS_AKA_RAND_LEN, autn, KMS_AKA_AUTN_LEN);
    KMS_TRY_OSSL_OUT(rc, EVP_CipherInit_ex2(x, o->aes256_siv, b->siv_key, NULL, enc ? 1 : 0, NULL));
    if (!enc) {
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, v));
    }
    KMS_TRY_OSSL_OUT(
        rc, EVP_CipherUpdate(x, NULL, &n, (const uint8_t *)b->realm, (int)strlen(b->realm)));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(x, NULL, &n, (const uint8_t *)impi, (int)strlen(impi)));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(x, NULL, &n, ra, (int)sizeof(ra)));
    /* Decryption checks V here: a failure is a seal that is not ours (or not this IMPI's). */
    KMS_ENSURE_OUT(rc, EVP_CipherUpdate(x, out, &n, in, 16) == 1 && n == 16,
                   enc ? KMS_ERR_CRYPTO : KMS_ERR_AUTH);
    KMS_ENSURE_OUT(rc, EVP_CipherFinal_ex(x, out + n, &n) == 1,
                   enc ? KMS_ERR_CRYPTO : KMS_ERR_AUTH);
    if (enc) {
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, v));
    }
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(x);
    if (!kms_ok(rc)) {
        kms_wipe(out, 16);
    }
    return rc;
}

static kms_result seal(const struct kms_bsf *b, const char *impi,
                       const uint8_t rand[KMS_AKA_RAND_LEN], const uint8_t autn[KMS_AKA_AUTN_LEN],
                       bool fake, uint64_t expires, uint8_t sd[KMS_BSF_SEAL_LEN])
{
    uint8_t p[16] = {SEAL_VERSION, fake ? SEAL_FAKE : 0};
    for (int i = 0; i < 8; i++) {
        p[2 + i] = (uint8_t)(expires >> (56 - 8 * i));
    }
    kms_result r = siv_run(b, true, impi, rand, autn, p, sd, sd + 16);
    kms_wipe(p, sizeof(p));
    return r;
}

/* KMS_ERR_AUTH unless the seal opens under this IMPI and holds a well-formed state. */
static kms_result unseal(const struct kms_bsf *b, const char *impi,
                         const uint8_t rand[KMS_AKA_RAND_LEN], const uint8_t autn[KMS_AKA_AUTN_LEN],
                         const uint8_t sd[KMS_BSF_SEAL_LEN], bool *fake, uint64_t *expires)
{
    uint8_t p[16], v[16];
    memcpy(v, sd, sizeof(v));
    kms_result r = siv_run(b, false, impi, rand, autn, sd + 16, v, p);
    static const uint8_t zero[6] = {0};
    if (kms_ok(r) && (p[0] != SEAL_VERSION || (p[1] & ~SEAL_FAKE) != 0 ||
                      !kms_ct_eq(p + 10, zero, sizeof(zero)))) {
        r = KMS_ERR(KMS_ERR_AUTH);
    }
    *fake = kms_ok(r) && p[1] == SEAL_FAKE;
    *expires = 0;
    for (int i = 0; kms_ok(r) && i < 8; i++) {
        *expires = *expires << 8 | p[2 + i];
    }
    kms_wipe(p, sizeof(p));
    return r;
}

/* ---- per-IMPI state ---- */

static kms_result ident_key(const struct kms_bsf *b, const char *impi, uint8_t key[KMS_TAB_KEY_LEN])
{
    uint8_t mac[32];
    KMS_TRY(kms_hmac_sha256(b->seed, sizeof(b->seed), (const uint8_t *)impi, strlen(impi), mac));
    memcpy(key, mac, KMS_TAB_KEY_LEN);
    return KMS_RESULT_OK;
}

static bool rested(const void *rec, void *arg)
{
    const struct head *h = rec;
    const struct kms_bsf *b = arg;
    /* A full bucket means nothing to remember about its rate; a subscriber's SQN state comes
     * back from the durable mark (the unused rest of a reserved range is skipped, which is
     * allowed), at the cost of a reservation on its next challenge. */
    return h->tokens >= b->cfg.rate_burst;
}

static void refill(const struct kms_bsf *b, struct head *h, uint64_t now)
{
    if (now <= h->refill_at) {
        h->refill_at = now < h->refill_at ? now : h->refill_at; /* a clock stepped back */
        return;
    }
    uint64_t earned = (now - h->refill_at) / b->cfg.rate_period;
    if (earned == 0) {
        return;
    }
    uint64_t t = h->tokens + earned;
    h->tokens = t > b->cfg.rate_burst ? b->cfg.rate_burst : (unsigned)t;
    h->refill_at =
        h->tokens == b->cfg.rate_burst ? now : h->refill_at + earned * b->cfg.rate_period;
}

/* The record of key in t (created with a full bucket), under the lock. */
static kms_result bucket_get(struct kms_bsf *b, struct kms_tab *t,
                             const uint8_t key[KMS_TAB_KEY_LEN], uint64_t now, struct head **out)
{
    struct head *h = kms_tab_find(t, key);
    if (h == NULL) {
        void *rec = NULL;
        kms_result r = kms_tab_insert(t, key, &rec);
        if (r.err == KMS_ERR_FULL) {
            (void)kms_tab_sweep(t, rested, b);
            r = kms_tab_insert(t, key, &rec);
        }
        KMS_TRY(r);
        h = rec;
        h->tokens = b->cfg.rate_burst;
        h->refill_at = now;
    }
    refill(b, h, now);
    *out = h;
    return KMS_RESULT_OK;
}

static kms_result ident_get(struct kms_bsf *b, const uint8_t key[KMS_TAB_KEY_LEN], uint64_t now,
                            struct ident **out)
{
    struct head *h = NULL;
    KMS_TRY(bucket_get(b, b->idents, key, now, &h));
    *out = (struct ident *)h;
    return KMS_RESULT_OK;
}

/* Takes a token of the IMPI's bucket, under the lock. A subscriber's bucket sits with its SQN
 * state; a made-up name's in the strangers' table, which a flood of names can fill (with
 * buckets not yet rested): the name then goes without a bucket, since refusing it would tell
 * it from a subscriber and its challenge costs one Milenage and leaves nothing behind. */
static kms_result take_token(struct kms_bsf *b, const uint8_t key[KMS_TAB_KEY_LEN], bool known,
                             uint64_t now)
{
    struct head *h = NULL;
    kms_result r = bucket_get(b, known ? b->idents : b->strangers, key, now, &h);
    if (!known && r.err == KMS_ERR_FULL) {
        b->strangers_unrated++;
        return KMS_RESULT_OK;
    }
    KMS_TRY(r);
    KMS_ENSURE(h->tokens > 0, KMS_ERR_RATE);
    h->tokens--;
    return KMS_RESULT_OK;
}

/* ---- expiry ---- */

static bool used_expired(const void *rec, void *arg)
{
    return ((const struct used *)rec)->expires <= *(const uint64_t *)arg;
}

static bool sess_expired(const void *rec, void *arg)
{
    return ((const struct sess *)rec)->expires <= *(const uint64_t *)arg;
}

void kms_bsf_expire(struct kms_bsf *b, uint64_t now)
{
    pthread_mutex_lock(&b->mu);
    (void)kms_tab_sweep(b->answered, used_expired, &now);
    (void)kms_tab_sweep(b->sessions, sess_expired, &now);
    pthread_mutex_unlock(&b->mu);
}

void kms_bsf_stats(struct kms_bsf *b, struct kms_bsf_stats *s)
{
    pthread_mutex_lock(&b->mu);
    s->answered = kms_tab_count(b->answered);
    s->sessions = kms_tab_count(b->sessions);
    s->identities = kms_tab_count(b->idents);
    s->strangers = kms_tab_count(b->strangers);
    s->fake_resyncs = b->fake_resyncs;
    s->sync_reserves = b->sync_reserves;
    s->strangers_unrated = b->strangers_unrated;
    pthread_mutex_unlock(&b->mu);
}

/* ---- SQN ranges ---- */

/* Reserves the next range of the subscriber (key, impi) and makes it durable. Called and
 * returns with b->mu held, but the durable commit (one fsync) runs without the lock, so one
 * subscriber's reservation never stalls the others; the IMPI's state is looked up again
 * afterwards (records move, and a rested entry may have been dropped meanwhile). `committed` is
 * the highest mark known durable (raised here). */
static kms_result reserve(struct kms_bsf *b, const uint8_t key[KMS_TAB_KEY_LEN], uint64_t now,
                          const char *impi, uint64_t *committed)
{
    struct ident *id = NULL;
    uint64_t mark = 0;
    KMS_TRY(ident_get(b, key, now, &id));
    if (!id->sqn_loaded) {
        KMS_TRY(kms_sqn_he_init(&id->he, b->cfg.ind_bits, KMS_SQN_DELTA_DEF, *committed));
        id->sqn_loaded = true;
    }
    KMS_TRY(kms_sqn_he_reserve(&id->he, b->cfg.sqn_chunk, &mark));
    pthread_mutex_unlock(&b->mu);
    kms_result r = b->store.sqn_commit(b->store.ctx, impi, mark);
    pthread_mutex_lock(&b->mu);
    KMS_TRY(r);
    *committed = mark > *committed ? mark : *committed;
    KMS_TRY(ident_get(b, key, now, &id));
    uint64_t seq = mark >> b->cfg.ind_bits;
    /* Another thread may have reserved further meanwhile: never move the reservation back. */
    if (id->sqn_loaded && seq > id->he.seq_reserved && seq >= id->he.seq_last) {
        KMS_TRY(kms_sqn_he_reserved(&id->he, mark));
    }
    return KMS_RESULT_OK;
}

/* Queues the subscriber for kms_bsf_refill when its range runs low (under the lock). */
static void want_refill(struct kms_bsf *b, struct ident *id, const char *impi)
{
    uint64_t left =
        id->he.seq_reserved > id->he.seq_last ? id->he.seq_reserved - id->he.seq_last : 0;
    if (id->refill_queued || left >= b->cfg.sqn_chunk / 2 || b->refill_n == REFILL_Q) {
        return;
    }
    size_t i = (b->refill_head + b->refill_n) % REFILL_Q;
    memcpy(b->refill[i], impi, strlen(impi) + 1);
    b->refill_n++;
    id->refill_queued = true;
}

/* The next SQN of a known subscriber, under the lock. Normally from its reserved range (a
 * preload or a refill reserved it beforehand); when the range is used up, reserved here, on
 * the request path (counted: sync_reserves). */
static kms_result next_sqn(struct kms_bsf *b, const uint8_t key[KMS_TAB_KEY_LEN], uint64_t now,
                           const char *impi, const struct kms_bsf_sub *sub,
                           uint8_t sqn[KMS_AKA_SQN_LEN])
{
    uint64_t committed = sub->sqn_mark;
    for (int tries = 0; tries < 4; tries++) {
        struct ident *id = NULL;
        KMS_TRY(ident_get(b, key, now, &id));
        if (!id->sqn_loaded) {
            KMS_TRY(kms_sqn_he_init(&id->he, b->cfg.ind_bits, KMS_SQN_DELTA_DEF, committed));
            id->sqn_loaded = true;
        }
        if (!kms_sqn_he_needs_reserve(&id->he)) {
            uint64_t v = 0;
            /* Round-robin within this node's IND class (the whole space for one BSF). */
            unsigned ind = b->ind_first + id->next_ind;
            id->next_ind = (id->next_ind + 1) % b->ind_count;
            KMS_TRY(kms_sqn_he_next(&id->he, ind, &v));
            kms_sqn_to_bytes(v, sqn);
            want_refill(b, id, impi);
            return KMS_RESULT_OK;
        }
        b->sync_reserves++;
        KMS_TRY(reserve(b, key, now, impi, &committed));
    }
    KMS_BAIL(KMS_ERR_SQN_RESERVE);
}

kms_result kms_bsf_preload_plan(struct kms_bsf *b, const char *impi, uint64_t sqn_mark,
                                uint64_t now, uint64_t *mark)
{
    KMS_ENSURE(b != NULL && impi != NULL && mark != NULL, KMS_ERR_ARG);
    *mark = 0;
    KMS_TRY(kms_ident_check_impi(impi, strlen(impi)));
    uint8_t key[KMS_TAB_KEY_LEN];
    KMS_TRY(ident_key(b, impi, key));
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&b->mu);
    struct ident *id = NULL;
    KMS_TRY_OUT(rc, ident_get(b, key, now, &id));
    KMS_TRY_OUT(rc, kms_sqn_he_init(&id->he, b->cfg.ind_bits, KMS_SQN_DELTA_DEF, sqn_mark));
    id->sqn_loaded = true;
    KMS_TRY_OUT(rc, kms_sqn_he_reserve(&id->he, b->cfg.sqn_chunk, mark));
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&b->mu);
    return rc;
}

kms_result kms_bsf_preload_done(struct kms_bsf *b, const char *impi, uint64_t mark, uint64_t now)
{
    KMS_ENSURE(b != NULL && impi != NULL, KMS_ERR_ARG);
    uint8_t key[KMS_TAB_KEY_LEN];
    KMS_TRY(ident_key(b, impi, key));
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&b->mu);
    struct ident *id = NULL;
    KMS_TRY_OUT(rc, ident_get(b, key, now, &id));
    KMS_ENSURE_OUT(rc, id->sqn_loaded, KMS_ERR_ARG);
    if ((mark >> b->cfg.ind_bits) > id->he.seq_reserved) {
        KMS_TRY_OUT(rc, kms_sqn_he_reserved(&id->he, mark));
    }
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&b->mu);
    return rc;
}

kms_result kms_bsf_preload(struct kms_bsf *b, const char *impi, uint64_t sqn_mark, uint64_t now)
{
    uint64_t mark = 0;
    KMS_TRY(kms_bsf_preload_plan(b, impi, sqn_mark, now, &mark));
    KMS_TRY(b->store.sqn_commit(b->store.ctx, impi, mark));
    return kms_bsf_preload_done(b, impi, mark, now);
}

size_t kms_bsf_refill(struct kms_bsf *b, uint64_t now)
{
    char impi[KMS_BSF_NAME_MAX + 1];
    uint8_t key[KMS_TAB_KEY_LEN];
    size_t done = 0;
    pthread_mutex_lock(&b->mu);
    while (b->refill_n > 0) {
        memcpy(impi, b->refill[b->refill_head], sizeof(impi));
        b->refill_head = (b->refill_head + 1) % REFILL_Q;
        b->refill_n--;
        struct ident *id = NULL;
        if (!kms_ok(ident_key(b, impi, key)) || (id = kms_tab_find(b->idents, key)) == NULL ||
            !id->sqn_loaded) {
            continue; /* dropped meanwhile: its next challenge starts from the durable mark */
        }
        id->refill_queued = false;
        uint64_t committed = 0;
        if (kms_ok(reserve(b, key, now, impi, &committed))) {
            done++;
        }
    }
    pthread_mutex_unlock(&b->mu);
    kms_wipe(impi, sizeof(impi));
    return done;
}

/* ---- challenges ---- */

static kms_result make_vector(const uint8_t k[16], const uint8_t opc[16], const uint8_t *rand,
                              const uint8_t sqn[6], const uint8_t amf[2], struct kms_aka_vec *v)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_milenage *m = NULL;
    KMS_TRY_OUT(rc, kms_milenage_new(&m));
    KMS_TRY_OUT(rc, kms_milenage_set_key(m, k, opc));
    KMS_TRY_OUT(rc, kms_milenage_vector(m, rand, sqn, amf, v));
    rc = KMS_RESULT_OK;
out:
    kms_milenage_free(m);
    return rc;
}

kms_result kms_bsf_challenge(struct kms_bsf *b, const char *impi, uint64_t now,
                             struct kms_bsf_challenge *out)
{
    KMS_ENSURE(b != NULL && impi != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    size_t impi_len = strlen(impi);
    KMS_TRY(kms_ident_check_impi(impi, impi_len));
    kms_result rc = KMS_RC_INIT;
    struct kms_bsf_sub sub;
    struct kms_aka_vec v;
    uint8_t key[KMS_TAB_KEY_LEN], sqn[KMS_AKA_SQN_LEN], rk[32];
    bool locked = false;
    memset(&v, 0, sizeof(v));
    KMS_TRY_OUT(rc, ident_key(b, impi, key));

    /* The store first: the rate state of a subscriber and of a made-up name live apart. */
    kms_result found = b->store.get(b->store.ctx, impi, &sub);
    KMS_ENSURE_OUT(rc, kms_ok(found) || found.err == KMS_ERR_NOT_FOUND, found.err);
    if (b->has_shared) {
        /* A subscriber's bucket is the fleet's; a made-up name's stays here, after the same
         * round trip (the time of a challenge does not tell the two apart). */
        KMS_TRY_OUT(rc, b->shared.rate(b->shared.ctx, impi, kms_ok(found), false, b->cfg.rate_burst,
                                       b->cfg.rate_period, now));
    }
    pthread_mutex_lock(&b->mu);
    locked = true;
    if (!b->has_shared || !kms_ok(found)) {
        KMS_TRY_OUT(rc, take_token(b, key, kms_ok(found), now));
    }
    KMS_TRY_OUT(rc, kms_random(out->rand, sizeof(out->rand)));
    if (kms_ok(found)) {
        KMS_TRY_OUT(rc, next_sqn(b, key, now, impi, &sub, sqn));
        pthread_mutex_unlock(&b->mu);
        locked = false;
        KMS_TRY_OUT(rc, make_vector(sub.k, sub.opc, out->rand, sqn, sub.amf, &v));
    } else {
        /* Same work, random key: the answer's timing and shape do not tell an unknown IMPI.
         * AUTN carries the AMF in clear, so it is the one most subscribers have. */
        KMS_TRY_OUT(rc, kms_random(rk, sizeof(rk)));
        KMS_TRY_OUT(rc, kms_random(sqn, sizeof(sqn)));
        pthread_mutex_unlock(&b->mu);
        locked = false;
        KMS_TRY_OUT(rc, make_vector(rk, rk + 16, out->rand, sqn, b->cfg.amf, &v));
    }
    memcpy(out->autn, v.autn, sizeof(out->autn));
    KMS_TRY_OUT(rc, seal(b, impi, out->rand, out->autn, !kms_ok(found), now + b->cfg.challenge_ttl,
                         out->sd));
    rc = KMS_RESULT_OK;
out:
    if (locked) {
        pthread_mutex_unlock(&b->mu);
    }
    kms_wipe(&sub, sizeof(sub));
    kms_wipe(&v, sizeof(v));
    kms_wipe(rk, sizeof(rk));
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

kms_result kms_bsf_open(struct kms_bsf *b, const char *impi, const uint8_t rand[KMS_AKA_RAND_LEN],
                        const uint8_t autn[KMS_AKA_AUTN_LEN], const uint8_t sd[KMS_BSF_SEAL_LEN],
                        uint64_t now, struct kms_bsf_pending *out)
{
    KMS_ENSURE(b != NULL && impi != NULL && rand != NULL && autn != NULL && sd != NULL &&
                   out != NULL,
               KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    size_t impi_len = strlen(impi);
    KMS_ENSURE(impi_len <= KMS_BSF_NAME_MAX, KMS_ERR_AUTH); /* never sealed for such a name */
    kms_result rc = KMS_RC_INIT;
    struct kms_bsf_sub sub;
    struct kms_aka_vec v;
    struct kms_milenage *m = NULL;
    memset(&sub, 0, sizeof(sub));
    memset(&v, 0, sizeof(v));
    bool fake = false;
    uint64_t expires = 0;
    KMS_TRY_OUT(rc, unseal(b, impi, rand, autn, sd, &fake, &expires));
    KMS_ENSURE_OUT(rc, now < expires, KMS_ERR_NOT_FOUND);
    if (b->has_shared) {
        KMS_TRY_OUT(rc, b->shared.answered_check(b->shared.ctx, rand));
    } else {
        pthread_mutex_lock(&b->mu);
        bool used = kms_tab_find(b->answered, rand) != NULL;
        pthread_mutex_unlock(&b->mu);
        KMS_ENSURE_OUT(rc, !used, KMS_ERR_REPLAY);
    }
    /* XRES, CK and IK do not depend on the SQN (TS 35.206 f2, f3, f4 over RAND): recomputed. A
     * fake challenge, or a subscriber gone since, runs on the fake K/OPc: the same work. */
    kms_result g = b->store.get(b->store.ctx, impi, &sub);
    KMS_ENSURE_OUT(rc, kms_ok(g) || g.err == KMS_ERR_NOT_FOUND, g.err);
    fake = fake || !kms_ok(g);
    static const uint8_t no_sqn[KMS_AKA_SQN_LEN] = {0}, no_amf[KMS_AKA_AMF_LEN] = {0};
    KMS_TRY_OUT(rc, kms_milenage_new(&m));
    KMS_TRY_OUT(rc,
                kms_milenage_set_key(m, fake ? b->fake_k : sub.k, fake ? b->fake_opc : sub.opc));
    KMS_TRY_OUT(rc, kms_milenage_vector(m, rand, no_sqn, no_amf, &v));
    memcpy(out->impi, impi, impi_len + 1);
    memcpy(out->rand, rand, sizeof(out->rand));
    memcpy(out->xres, v.res, sizeof(out->xres));
    memcpy(out->ck, v.ck, sizeof(out->ck));
    memcpy(out->ik, v.ik, sizeof(out->ik));
    out->fake = fake;
    out->expires = expires;
    rc = KMS_RESULT_OK;
out:
    kms_milenage_free(m);
    kms_wipe(&sub, sizeof(sub));
    kms_wipe(&v, sizeof(v));
    if (!kms_ok(rc)) {
        kms_wipe(out, sizeof(*out));
    }
    return rc;
}

/* Records p's challenge as answered, under the lock: KMS_ERR_REPLAY when it already is,
 * KMS_ERR_FULL when only unexpired records are held (they are never evicted). */
static kms_result mark_answered(struct kms_bsf *b, const struct kms_bsf_pending *p, uint64_t now)
{
    void *rec = NULL;
    kms_result ins = kms_tab_insert(b->answered, p->rand, &rec);
    if (ins.err == KMS_ERR_FULL) {
        (void)kms_tab_sweep(b->answered, used_expired, &now);
        ins = kms_tab_insert(b->answered, p->rand, &rec);
    }
    KMS_ENSURE(ins.err != KMS_ERR_EXISTS, KMS_ERR_REPLAY);
    KMS_TRY(ins);
    ((struct used *)rec)->expires = p->expires;
    return KMS_RESULT_OK;
}

/* kms_bsf_bootstrap on the fleet's store: the challenge recorded as answered first (only if it
 * was not: two nodes given the same answer at once, one wins), then the session, sealed by the
 * store, until the lifetime's end. */
static kms_result bootstrap_shared(struct kms_bsf *b, const struct kms_bsf_pending *p, uint64_t now,
                                   struct kms_bsf_session *out)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN];
    memcpy(ks, p->ck, KMS_AKA_CK_LEN);
    memcpy(ks + KMS_AKA_CK_LEN, p->ik, KMS_AKA_IK_LEN);
    uint64_t expires = now + atomic_load_explicit(&b->lifetime, memory_order_relaxed);
    KMS_TRY_OUT(rc, b->shared.answered_set(b->shared.ctx, p->rand, p->expires, now));
    KMS_TRY_OUT(rc, b->shared.session_put(b->shared.ctx, p->rand, p->impi, ks, now, expires, now));
    out->created = now;
    out->expires = expires;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(ks, sizeof(ks));
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

kms_result kms_bsf_bootstrap(struct kms_bsf *b, const struct kms_bsf_pending *p, uint64_t now,
                             struct kms_bsf_session *out)
{
    KMS_ENSURE(b != NULL && p != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    KMS_ENSURE(!p->fake, KMS_ERR_AUTH);
    KMS_TRY(kms_gba_btid(p->rand, b->realm, strlen(b->realm), out->btid, sizeof(out->btid)));
    if (b->has_shared) {
        return bootstrap_shared(b, p, now, out);
    }
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&b->mu);
    void *rec = NULL;
    kms_result ins = kms_tab_insert(b->sessions, p->rand, &rec);
    if (ins.err == KMS_ERR_FULL) {
        (void)kms_tab_sweep(b->sessions, sess_expired, &now);
        ins = kms_tab_insert(b->sessions, p->rand, &rec);
    }
    /* A session under this RAND means the challenge was answered (and its record may have
     * expired since): a replay as well. */
    KMS_ENSURE_OUT(rc, ins.err != KMS_ERR_EXISTS, KMS_ERR_REPLAY);
    KMS_TRY_OUT(rc, ins);
    kms_result m = mark_answered(b, p, now);
    if (!kms_ok(m)) {
        kms_tab_delete(b->sessions, rec);
        KMS_TRY_OUT(rc, m);
    }
    struct sess *s = rec;
    memcpy(s->impi, p->impi, sizeof(s->impi));
    memcpy(s->ks, p->ck, KMS_AKA_CK_LEN);
    memcpy(s->ks + KMS_AKA_CK_LEN, p->ik, KMS_AKA_IK_LEN);
    s->created = now;
    s->expires = now + atomic_load_explicit(&b->lifetime, memory_order_relaxed);
    out->created = s->created;
    out->expires = s->expires;
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&b->mu);
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* The AUTS of a fake challenge: the work of a real one (the store read of the IMPI, a Milenage
 * resync, here on the per-process fake K/OPc), then the failure of an AUTS that does not
 * verify, whatever the resync said. A store failure is reported as the real path would. */
static kms_result resync_fake(struct kms_bsf *b, const struct kms_bsf_pending *p,
                              const uint8_t auts[KMS_AKA_AUTS_LEN])
{
    kms_result rc = KMS_RC_INIT;
    struct kms_bsf_sub sub;
    struct kms_milenage *m = NULL;
    uint8_t sqn_ms[KMS_AKA_SQN_LEN];
    kms_result g = b->store.get(b->store.ctx, p->impi, &sub);
    KMS_ENSURE_OUT(rc, kms_ok(g) || g.err == KMS_ERR_NOT_FOUND, g.err);
    KMS_TRY_OUT(rc, kms_milenage_new(&m));
    KMS_TRY_OUT(rc, kms_milenage_set_key(m, b->fake_k, b->fake_opc));
    kms_result ignored = kms_milenage_resync(m, p->rand, auts, sqn_ms);
    (void)ignored;
    pthread_mutex_lock(&b->mu);
    b->fake_resyncs++;
    pthread_mutex_unlock(&b->mu);
    rc = KMS_ERR(KMS_ERR_MAC_S); /* an unknown IMPI's AUTS never verifies */
out:
    kms_milenage_free(m);
    kms_wipe(&sub, sizeof(sub));
    kms_wipe(sqn_ms, sizeof(sqn_ms));
    return rc;
}

kms_result kms_bsf_resync(struct kms_bsf *b, const struct kms_bsf_pending *p,
                          const uint8_t auts[KMS_AKA_AUTS_LEN], uint64_t now)
{
    KMS_ENSURE(b != NULL && p != NULL && auts != NULL, KMS_ERR_ARG);
    if (p->fake) {
        return resync_fake(b, p, auts);
    }
    kms_result rc = KMS_RC_INIT;
    struct kms_bsf_sub sub;
    struct kms_milenage *m = NULL;
    uint8_t sqn_ms[KMS_AKA_SQN_LEN], key[KMS_TAB_KEY_LEN];
    bool locked = false;
    KMS_TRY_OUT(rc, b->store.get(b->store.ctx, p->impi, &sub));
    KMS_TRY_OUT(rc, kms_milenage_new(&m));
    KMS_TRY_OUT(rc, kms_milenage_set_key(m, sub.k, sub.opc));
    KMS_TRY_OUT(rc, kms_milenage_resync(m, p->rand, auts, sqn_ms));
    KMS_TRY_OUT(rc, ident_key(b, p->impi, key));
    if (b->has_shared) {
        /* A verified AUTS answers the challenge, for every node; the token comes back. */
        KMS_TRY_OUT(rc, b->shared.answered_set(b->shared.ctx, p->rand, p->expires, now));
        KMS_TRY_OUT(rc, b->shared.rate(b->shared.ctx, p->impi, true, true, b->cfg.rate_burst,
                                       b->cfg.rate_period, now));
    }
    pthread_mutex_lock(&b->mu);
    locked = true;
    /* A verified AUTS answers the challenge: it cannot be replayed for more challenges. */
    if (!b->has_shared) {
        KMS_TRY_OUT(rc, mark_answered(b, p, now));
    }
    struct ident *id = NULL;
    KMS_TRY_OUT(rc, ident_get(b, key, now, &id));
    if (!id->sqn_loaded) {
        KMS_TRY_OUT(rc, kms_sqn_he_init(&id->he, b->cfg.ind_bits, KMS_SQN_DELTA_DEF, sub.sqn_mark));
        id->sqn_loaded = true;
    }
    bool moved = false;
    KMS_TRY_OUT(rc, kms_sqn_he_resync(&id->he, kms_sqn_from_bytes(sqn_ms), &moved));
    /* A moved generator needs a new durable range: the next challenge reserves it. A verified
     * AUTS also refunds the token the failed attempt cost, so a resync never rate-limits. */
    if (!b->has_shared && id->h.tokens < b->cfg.rate_burst) {
        id->h.tokens++;
    }
    rc = KMS_RESULT_OK;
out:
    if (locked) {
        pthread_mutex_unlock(&b->mu);
    }
    kms_milenage_free(m);
    kms_wipe(&sub, sizeof(sub));
    return rc;
}

/* "base64(RAND)@realm" -> RAND; KMS_ERR_NOT_FOUND for anything that is not one of ours. */
static kms_result parse_btid(const struct kms_bsf *b, const char *btid,
                             uint8_t rand[KMS_GBA_RAND_LEN])
{
    const char *at = strchr(btid, '@');
    KMS_ENSURE(at != NULL && strcmp(at + 1, b->realm) == 0, KMS_ERR_NOT_FOUND);
    size_t n = 0;
    KMS_ENSURE(kms_ok(kms_base64_decode(btid, (size_t)(at - btid), rand, KMS_GBA_RAND_LEN, &n)) &&
                   n == KMS_GBA_RAND_LEN,
               KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

kms_result kms_bsf_zn(struct kms_bsf *b, const char *btid, const char *naf_fqdn,
                      const uint8_t ua_id[KMS_UA_ID_LEN], uint64_t now, struct kms_bsf_zn *out)
{
    KMS_ENSURE(b != NULL && btid != NULL && naf_fqdn != NULL && ua_id != NULL && out != NULL,
               KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    KMS_ENSURE(strlen(btid) < KMS_BTID_MAX, KMS_ERR_NOT_FOUND);
    KMS_TRY(kms_ident_check_fqdn(naf_fqdn, strlen(naf_fqdn)));
    kms_result rc = KMS_RC_INIT;
    struct sess s;
    struct kms_bsf_sub sub;
    uint8_t rand[KMS_GBA_RAND_LEN];
    memset(&s, 0, sizeof(s));
    KMS_TRY_OUT(rc, parse_btid(b, btid, rand));
    bool live = false;
    if (b->has_shared) {
        KMS_TRY_OUT(
            rc, b->shared.session_get(b->shared.ctx, rand, s.impi, s.ks, &s.created, &s.expires));
        live = now < s.expires;
    } else {
        pthread_mutex_lock(&b->mu);
        struct sess *found = kms_tab_find(b->sessions, rand);
        live = found != NULL && now < found->expires;
        if (live) {
            s = *found;
        }
        pthread_mutex_unlock(&b->mu);
    }
    KMS_ENSURE_OUT(rc, live, KMS_ERR_NOT_FOUND);
    /* The identities as the store has them now (a deleted subscriber is gone for Zn too). */
    kms_result g = b->store.get(b->store.ctx, s.impi, &sub);
    KMS_ENSURE_OUT(rc, kms_ok(g) || g.err == KMS_ERR_NOT_FOUND, g.err);
    KMS_ENSURE_OUT(rc, kms_ok(g), KMS_ERR_NOT_FOUND);
    KMS_TRY_OUT(rc, kms_gba_ks_naf(s.ks, s.ks + KMS_AKA_CK_LEN, rand, s.impi, strlen(s.impi),
                                   naf_fqdn, strlen(naf_fqdn), ua_id, out->ks_naf));
    memcpy(out->impi, s.impi, sizeof(out->impi));
    for (size_t i = 0; i < sub.n_impu && i < KMS_BSF_IMPU_MAX; i++) {
        memcpy(out->impu[i], sub.impu[i], sizeof(out->impu[i]));
    }
    out->n_impu = sub.n_impu < KMS_BSF_IMPU_MAX ? sub.n_impu : KMS_BSF_IMPU_MAX;
    out->bootstrap_time = s.created;
    out->key_expiry = s.expires;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(&s, sizeof(s));
    kms_wipe(&sub, sizeof(sub));
    if (!kms_ok(rc)) {
        kms_wipe(out, sizeof(*out));
    }
    return rc;
}

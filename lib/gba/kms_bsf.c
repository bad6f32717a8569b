/* SPDX-License-Identifier: Apache-2.0 */
/* The BSF's state and logic: see kms_bsf.h. */
#include "gba/kms_bsf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "crypto/kms_sqn.h"
#include "util/kms_codec.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"
#include "util/kms_tab.h"

/* Per-IMPI state: rate bucket, and for a known subscriber its SQN generator. */
struct ident {
    uint8_t key[KMS_TAB_KEY_LEN]; /* HMAC-SHA-256(seed, IMPI), truncated */
    bool sqn_loaded;
    struct kms_sqn_he he;
    unsigned next_ind;
    unsigned tokens;
    uint64_t refill_at; /* time the bucket was last topped up */
};

struct chal {
    uint8_t id[KMS_TAB_KEY_LEN];
    struct kms_bsf_pending p;
    uint64_t expires;
};

struct sess {
    uint8_t rand[KMS_TAB_KEY_LEN]; /* B-TID = base64(RAND)@realm */
    char impi[KMS_BSF_NAME_MAX + 1];
    uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN];
    uint64_t created, expires;
};

struct kms_bsf {
    struct kms_bsf_cfg cfg;
    char realm[KMS_BSF_NAME_MAX + 1];
    struct kms_bsf_store store;
    uint8_t seed[32];
    uint8_t fake_k[16], fake_opc[16]; /* per process: AUTS of fake challenges run on these */
    uint64_t fake_resyncs;
    pthread_mutex_t mu;
    struct kms_tab *idents, *chals, *sessions;
};

const char *kms_bsf_realm(const struct kms_bsf *b)
{
    return b->realm;
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
    struct kms_bsf *b = calloc(1, sizeof(*b));
    KMS_ENSURE(b != NULL, KMS_ERR_NOMEM);
    pthread_mutex_init(&b->mu, NULL);
    b->cfg = *cfg;
    struct kms_bsf_cfg *c = &b->cfg;
    c->challenge_ttl = c->challenge_ttl != 0 ? c->challenge_ttl : 30;
    c->max_challenges = c->max_challenges != 0 ? c->max_challenges : 16384;
    c->max_sessions = c->max_sessions != 0 ? c->max_sessions : 100000;
    c->max_identities = c->max_identities != 0 ? c->max_identities : 65536;
    c->rate_burst = c->rate_burst != 0 ? c->rate_burst : 5;
    c->rate_period = c->rate_period != 0 ? c->rate_period : 2;
    c->ind_bits = c->ind_bits != 0 ? c->ind_bits : KMS_SQN_IND_BITS_DEF;
    c->sqn_chunk = c->sqn_chunk != 0 ? c->sqn_chunk : 32;
    KMS_ENSURE_OUT(rc, c->ind_bits <= KMS_SQN_IND_BITS_MAX, KMS_ERR_ARG);
    memcpy(b->realm, cfg->realm, strlen(cfg->realm) + 1);
    c->realm = b->realm;
    b->store = *store;
    KMS_TRY_OUT(rc, kms_random(b->seed, sizeof(b->seed)));
    KMS_TRY_OUT(rc, kms_random(b->fake_k, sizeof(b->fake_k)));
    KMS_TRY_OUT(rc, kms_random(b->fake_opc, sizeof(b->fake_opc)));
    KMS_TRY_OUT(rc, kms_tab_new(c->max_identities, sizeof(struct ident), &b->idents));
    KMS_TRY_OUT(rc, kms_tab_new(c->max_challenges, sizeof(struct chal), &b->chals));
    KMS_TRY_OUT(rc, kms_tab_new(c->max_sessions, sizeof(struct sess), &b->sessions));
    *out = b;
    b = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_bsf_free(b);
    return rc;
}

void kms_bsf_free(struct kms_bsf *b)
{
    if (b == NULL) {
        return;
    }
    kms_tab_free(b->idents);
    kms_tab_free(b->chals);
    kms_tab_free(b->sessions);
    pthread_mutex_destroy(&b->mu);
    kms_wipe(b, sizeof(*b));
    free(b);
}

/* ---- per-IMPI state ---- */

static kms_result ident_key(const struct kms_bsf *b, const char *impi, uint8_t key[KMS_TAB_KEY_LEN])
{
    uint8_t mac[32];
    KMS_TRY(kms_hmac_sha256(b->seed, sizeof(b->seed), (const uint8_t *)impi, strlen(impi), mac));
    memcpy(key, mac, KMS_TAB_KEY_LEN);
    return KMS_RESULT_OK;
}

static bool ident_rested(const void *rec, void *arg)
{
    const struct ident *id = rec;
    const struct kms_bsf *b = arg;
    /* A full bucket means nothing to remember about its rate; the SQN state comes back from
     * the durable mark (the unused rest of a reserved range is skipped, which is allowed). */
    return id->tokens >= b->cfg.rate_burst;
}

static void refill(const struct kms_bsf *b, struct ident *id, uint64_t now)
{
    if (now <= id->refill_at) {
        id->refill_at = now < id->refill_at ? now : id->refill_at; /* a clock stepped back */
        return;
    }
    uint64_t earned = (now - id->refill_at) / b->cfg.rate_period;
    if (earned == 0) {
        return;
    }
    uint64_t t = id->tokens + earned;
    id->tokens = t > b->cfg.rate_burst ? b->cfg.rate_burst : (unsigned)t;
    id->refill_at =
        id->tokens == b->cfg.rate_burst ? now : id->refill_at + earned * b->cfg.rate_period;
}

/* The IMPI's state (created with a full bucket), under the lock. */
static kms_result ident_get(struct kms_bsf *b, const uint8_t key[KMS_TAB_KEY_LEN], uint64_t now,
                            struct ident **out)
{
    struct ident *id = kms_tab_find(b->idents, key);
    if (id == NULL) {
        void *rec = NULL;
        kms_result r = kms_tab_insert(b->idents, key, &rec);
        if (r.err == KMS_ERR_FULL) {
            /* Rested entries first; refill everyone's bucket so that "rested" is current. */
            (void)kms_tab_sweep(b->idents, ident_rested, b);
            r = kms_tab_insert(b->idents, key, &rec);
        }
        KMS_TRY(r);
        id = rec;
        id->tokens = b->cfg.rate_burst;
        id->refill_at = now;
    }
    refill(b, id, now);
    *out = id;
    return KMS_RESULT_OK;
}

/* ---- expiry ---- */

static bool chal_expired(const void *rec, void *arg)
{
    return ((const struct chal *)rec)->expires <= *(const uint64_t *)arg;
}

static bool sess_expired(const void *rec, void *arg)
{
    return ((const struct sess *)rec)->expires <= *(const uint64_t *)arg;
}

static void expire_locked(struct kms_bsf *b, uint64_t now)
{
    (void)kms_tab_sweep(b->chals, chal_expired, &now);
    (void)kms_tab_sweep(b->sessions, sess_expired, &now);
}

void kms_bsf_expire(struct kms_bsf *b, uint64_t now)
{
    pthread_mutex_lock(&b->mu);
    expire_locked(b, now);
    pthread_mutex_unlock(&b->mu);
}

void kms_bsf_stats(struct kms_bsf *b, struct kms_bsf_stats *s)
{
    pthread_mutex_lock(&b->mu);
    s->challenges = kms_tab_count(b->chals);
    s->sessions = kms_tab_count(b->sessions);
    s->identities = kms_tab_count(b->idents);
    s->fake_resyncs = b->fake_resyncs;
    pthread_mutex_unlock(&b->mu);
}

/* ---- challenges ---- */

/* The next SQN of a known subscriber. Called and returns with b->mu held, but the durable
 * commit of a new range (one fsync per sqn_chunk challenges of one subscriber) runs without the
 * lock, so one subscriber's reservation never stalls the others; the IMPI's state is looked up
 * again afterwards (records move, and a rested entry may have been dropped meanwhile). */
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
            unsigned ind = id->next_ind;
            id->next_ind = (id->next_ind + 1) % (1u << b->cfg.ind_bits);
            KMS_TRY(kms_sqn_he_next(&id->he, ind, &v));
            kms_sqn_to_bytes(v, sqn);
            return KMS_RESULT_OK;
        }
        uint64_t mark = 0;
        KMS_TRY(kms_sqn_he_reserve(&id->he, b->cfg.sqn_chunk, &mark));
        pthread_mutex_unlock(&b->mu);
        kms_result r = b->store.sqn_commit(b->store.ctx, impi, mark);
        pthread_mutex_lock(&b->mu);
        KMS_TRY(r);
        committed = mark > committed ? mark : committed;
        KMS_TRY(ident_get(b, key, now, &id));
        uint64_t seq = mark >> b->cfg.ind_bits;
        /* Another thread may have reserved further meanwhile: never move the reservation back. */
        if (id->sqn_loaded && seq > id->he.seq_reserved && seq >= id->he.seq_last) {
            KMS_TRY(kms_sqn_he_reserved(&id->he, mark));
        }
    }
    KMS_BAIL(KMS_ERR_SQN_RESERVE);
}

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
    struct chal c;
    memset(&c, 0, sizeof(c));
    uint8_t key[KMS_TAB_KEY_LEN], sqn[KMS_AKA_SQN_LEN];
    bool locked = false;
    KMS_TRY_OUT(rc, ident_key(b, impi, key));

    /* The rate first: a flood for one IMPI, known or not, costs no store read. */
    pthread_mutex_lock(&b->mu);
    locked = true;
    struct ident *id = NULL;
    KMS_TRY_OUT(rc, ident_get(b, key, now, &id));
    KMS_ENSURE_OUT(rc, id->tokens > 0, KMS_ERR_RATE);
    id->tokens--;
    pthread_mutex_unlock(&b->mu);
    locked = false;

    kms_result found = b->store.get(b->store.ctx, impi, &sub);
    KMS_ENSURE_OUT(rc, kms_ok(found) || found.err == KMS_ERR_NOT_FOUND, found.err);
    memcpy(c.p.impi, impi, impi_len + 1);
    KMS_TRY_OUT(rc, kms_random(c.p.rand, sizeof(c.p.rand)));
    KMS_TRY_OUT(rc, kms_random(c.id, sizeof(c.id)));
    if (kms_ok(found)) {
        pthread_mutex_lock(&b->mu);
        locked = true;
        KMS_TRY_OUT(rc, next_sqn(b, key, now, impi, &sub, sqn));
        pthread_mutex_unlock(&b->mu);
        locked = false;
        KMS_TRY_OUT(rc, make_vector(sub.k, sub.opc, c.p.rand, sqn, sub.amf, &v));
    } else {
        /* Same work, random key: the answer's timing and shape do not tell an unknown IMPI.
         * AUTN carries the AMF in clear, so it is the one most subscribers have. */
        uint8_t rk[32];
        KMS_TRY_OUT(rc, kms_random(rk, sizeof(rk)));
        KMS_TRY_OUT(rc, kms_random(sqn, sizeof(sqn)));
        rc = make_vector(rk, rk + 16, c.p.rand, sqn, b->cfg.amf, &v);
        kms_wipe(rk, sizeof(rk));
        KMS_TRY_OUT(rc, rc);
        c.p.fake = true;
    }
    memcpy(c.p.xres, v.res, sizeof(c.p.xres));
    memcpy(c.p.ck, v.ck, sizeof(c.p.ck));
    memcpy(c.p.ik, v.ik, sizeof(c.p.ik));
    c.expires = now + b->cfg.challenge_ttl;

    pthread_mutex_lock(&b->mu);
    locked = true;
    void *rec = NULL;
    kms_result ins = kms_tab_insert(b->chals, c.id, &rec);
    if (ins.err == KMS_ERR_FULL) {
        expire_locked(b, now);
        ins = kms_tab_insert(b->chals, c.id, &rec);
    }
    KMS_TRY_OUT(rc, ins);
    memcpy(rec, &c, sizeof(c));
    memcpy(out->rand, c.p.rand, sizeof(out->rand));
    memcpy(out->autn, v.autn, sizeof(out->autn));
    memcpy(out->id, c.id, sizeof(out->id));
    rc = KMS_RESULT_OK;
out:
    if (locked) {
        pthread_mutex_unlock(&b->mu);
    }
    kms_wipe(&sub, sizeof(sub));
    kms_wipe(&v, sizeof(v));
    kms_wipe(&c, sizeof(c));
    return rc;
}

kms_result kms_bsf_take(struct kms_bsf *b, const uint8_t id[KMS_BSF_CHAL_ID_LEN], uint64_t now,
                        struct kms_bsf_pending *out)
{
    KMS_ENSURE(b != NULL && id != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&b->mu);
    struct chal *c = kms_tab_find(b->chals, id);
    bool live = c != NULL && now < c->expires;
    if (live) {
        *out = c->p;
    }
    if (c != NULL) {
        kms_tab_delete(b->chals, c); /* single use, answered or not */
    }
    pthread_mutex_unlock(&b->mu);
    KMS_ENSURE(live, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

kms_result kms_bsf_bootstrap(struct kms_bsf *b, const struct kms_bsf_pending *p, uint64_t now,
                             struct kms_bsf_session *out)
{
    KMS_ENSURE(b != NULL && p != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    KMS_ENSURE(!p->fake, KMS_ERR_AUTH);
    KMS_TRY(kms_gba_btid(p->rand, b->realm, strlen(b->realm), out->btid, sizeof(out->btid)));
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&b->mu);
    void *rec = NULL;
    kms_result ins = kms_tab_insert(b->sessions, p->rand, &rec);
    if (ins.err == KMS_ERR_FULL) {
        expire_locked(b, now);
        ins = kms_tab_insert(b->sessions, p->rand, &rec);
    }
    KMS_TRY_OUT(rc, ins);
    struct sess *s = rec;
    memcpy(s->impi, p->impi, sizeof(s->impi));
    memcpy(s->ks, p->ck, KMS_AKA_CK_LEN);
    memcpy(s->ks + KMS_AKA_CK_LEN, p->ik, KMS_AKA_IK_LEN);
    s->created = now;
    s->expires = now + b->cfg.lifetime;
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
    pthread_mutex_lock(&b->mu);
    locked = true;
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
    if (id->tokens < b->cfg.rate_burst) {
        id->tokens++;
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
    KMS_TRY_OUT(rc, parse_btid(b, btid, rand));
    pthread_mutex_lock(&b->mu);
    struct sess *found = kms_tab_find(b->sessions, rand);
    bool live = found != NULL && now < found->expires;
    if (live) {
        s = *found;
    }
    pthread_mutex_unlock(&b->mu);
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

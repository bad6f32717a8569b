/* SPDX-License-Identifier: Apache-2.0 */
/* The BSF core against an in-memory subscriber store and a simulated USIM (the library's
 * Milenage on the UE side, with the USIM's own SQN array). */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/kms_sqn.h"
#include "gba/kms_bsf.h"
#include "util/kms_codec.h"

#define T0    1800000000u
#define IMPI  "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
#define REALM "bsf.mnc001.mcc001.pub.3gppnetwork.org"
#define NAF   "kms.ims.mnc001.mcc001.3gppnetwork.org"

/* TS 35.208 test set 1 K and OPc. */
static const uint8_t K[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                              0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t OPC[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
                                0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};
static const uint8_t UA[5] = {0x01, 0x00, 0x00, 0x00, 0x06};

struct mem_store {
    bool present;
    uint8_t amf[2];
    uint64_t mark;
    unsigned commits;
};

static kms_result st_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    struct mem_store *m = ctx;
    memset(out, 0, sizeof(*out));
    if (!m->present || strcmp(impi, IMPI) != 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    memcpy(out->k, K, 16);
    memcpy(out->opc, OPC, 16);
    memcpy(out->amf, m->amf, 2);
    strcpy(out->impu[0], "sip:+15550001@ims.example.org");
    strcpy(out->impu[1], "tel:+15550001");
    out->n_impu = 2;
    out->sqn_mark = m->mark;
    return (kms_result){KMS_OK};
}

static kms_result st_commit(void *ctx, const char *impi, uint64_t mark)
{
    struct mem_store *m = ctx;
    assert_string_equal(impi, IMPI);
    if (mark > m->mark) {
        m->mark = mark;
    }
    m->commits++;
    return (kms_result){KMS_OK};
}

struct ue {
    struct kms_milenage *m;
    struct kms_sqn_ms ms;
};

static void ue_init(struct ue *u)
{
    expect_ok(kms_milenage_new(&u->m));
    expect_ok(kms_milenage_set_key(u->m, K, OPC));
    expect_ok(kms_sqn_ms_init(&u->ms, KMS_SQN_IND_BITS_DEF, KMS_SQN_DELTA_DEF, 0));
}

/* The USIM: AUTN must verify and the SQN be fresh; returns RES, CK, IK. */
static kms_result ue_run(struct ue *u, const struct kms_bsf_challenge *c, struct kms_aka_vec *v)
{
    uint8_t sqn[6];
    kms_result r = kms_milenage_check_autn(u->m, c->rand, c->autn, sqn, v);
    if (!kms_ok(r)) {
        return r;
    }
    return kms_sqn_ms_accept(&u->ms, kms_sqn_from_bytes(sqn));
}

/* Opens challenge c answered under impi. */
static kms_result open_c(struct kms_bsf *b, const char *impi, const struct kms_bsf_challenge *c,
                         uint64_t now, struct kms_bsf_pending *p)
{
    return kms_bsf_open(b, impi, c->rand, c->autn, c->sd, now, p);
}

static struct kms_bsf *bsf_new(struct mem_store *st, struct kms_bsf_store *bs)
{
    *bs = (struct kms_bsf_store){st, st_get, st_commit};
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600, .rate_burst = 100};
    struct kms_bsf *b = NULL;
    expect_ok(kms_bsf_new(&cfg, bs, &b));
    return b;
}

static void test_bootstrap_and_zn(void **state)
{
    (void)state;
    struct mem_store st = {.present = true};
    struct kms_bsf_store bs;
    struct kms_bsf *b = bsf_new(&st, &bs);
    struct ue u;
    ue_init(&u);
    struct kms_bsf_challenge c;
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &c));
    struct kms_aka_vec v;
    expect_ok(ue_run(&u, &c, &v));
    struct kms_bsf_pending p;
    expect_ok(open_c(b, IMPI, &c, T0 + 1, &p));
    assert_false(p.fake);
    assert_string_equal(p.impi, IMPI);
    expect_bytes_eq(p.xres, v.res, 8); /* the UE's RES is what the BSF expects */
    expect_bytes_eq(p.ck, v.ck, 16);
    expect_bytes_eq(p.ik, v.ik, 16);
    assert_int_equal(p.expires, T0 + 30);
    /* Opening writes nothing: until an answer verifies, the challenge stays open. */
    struct kms_bsf_pending p2;
    expect_ok(open_c(b, IMPI, &c, T0 + 1, &p2));
    struct kms_bsf_session s;
    expect_ok(kms_bsf_bootstrap(b, &p, T0 + 1, &s));
    /* Single use: answered, it opens no more, and a second bootstrap of it is refused. */
    expect_err(open_c(b, IMPI, &c, T0 + 2, &p2), KMS_ERR_REPLAY);
    struct kms_bsf_session s2;
    expect_err(kms_bsf_bootstrap(b, &p, T0 + 2, &s2), KMS_ERR_REPLAY);
    char want_btid[KMS_BTID_MAX];
    expect_ok(kms_gba_btid(c.rand, REALM, strlen(REALM), want_btid, sizeof(want_btid)));
    assert_string_equal(s.btid, want_btid);
    assert_int_equal(s.expires, T0 + 1 + 3600);

    /* Zn: the BSF's Ks_NAF equals the UE's own derivation from its CK, IK. */
    struct kms_bsf_zn z;
    expect_ok(kms_bsf_zn(b, s.btid, NAF, UA, T0 + 10, &z));
    uint8_t ue_ks_naf[32];
    expect_ok(
        kms_gba_ks_naf(v.ck, v.ik, c.rand, IMPI, strlen(IMPI), NAF, strlen(NAF), UA, ue_ks_naf));
    expect_bytes_eq(z.ks_naf, ue_ks_naf, 32);
    assert_string_equal(z.impi, IMPI);
    assert_int_equal(z.n_impu, 2);
    assert_int_equal(z.bootstrap_time, T0 + 1);
    /* Another NAF gets another key; unknown, foreign and expired B-TIDs are not found. */
    struct kms_bsf_zn z2;
    expect_ok(kms_bsf_zn(b, s.btid, "other.example.org", UA, T0 + 10, &z2));
    assert_memory_not_equal(z2.ks_naf, z.ks_naf, 32);
    expect_err(kms_bsf_zn(b, "AAAAAAAAAAAAAAAAAAAAAA==@" REALM, NAF, UA, T0, &z2),
               KMS_ERR_NOT_FOUND);
    char foreign[KMS_BTID_MAX];
    snprintf(foreign, sizeof(foreign), "%.24s@other.example.org", s.btid);
    expect_err(kms_bsf_zn(b, foreign, NAF, UA, T0, &z2), KMS_ERR_NOT_FOUND);
    expect_err(kms_bsf_zn(b, "garbage", NAF, UA, T0, &z2), KMS_ERR_NOT_FOUND);
    expect_err(kms_bsf_zn(b, s.btid, NAF, UA, s.expires, &z2), KMS_ERR_NOT_FOUND);
    kms_bsf_free(b);
    kms_milenage_free(u.m);
}

static void test_unknown_impi(void **state)
{
    (void)state;
    struct mem_store st = {.present = false};
    struct kms_bsf_store bs;
    struct kms_bsf *b = bsf_new(&st, &bs);
    struct kms_bsf_challenge c;
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &c)); /* a challenge all the same */
    struct kms_bsf_pending p;
    expect_ok(open_c(b, IMPI, &c, T0, &p));
    assert_true(p.fake);
    struct kms_bsf_session s;
    expect_err(kms_bsf_bootstrap(b, &p, T0, &s), KMS_ERR_AUTH);
    uint8_t auts[14] = {0};
    expect_err(kms_bsf_resync(b, &p, auts, T0), KMS_ERR_MAC_S);
    assert_int_equal(st.commits, 0); /* nothing durable for an unknown identity */
    expect_err(kms_bsf_challenge(b, "not an impi", T0, &c), KMS_ERR_NOT_ASCII);
    kms_bsf_free(b);
}

static void test_expiry_and_rate(void **state)
{
    (void)state;
    struct mem_store st = {.present = true};
    struct kms_bsf_store bs = {&st, st_get, st_commit};
    struct kms_bsf_cfg cfg = {
        .realm = REALM, .lifetime = 60, .challenge_ttl = 5, .rate_burst = 3, .rate_period = 10};
    struct kms_bsf *b = NULL;
    expect_ok(kms_bsf_new(&cfg, &bs, &b));
    struct kms_bsf_challenge c[4];
    for (int i = 0; i < 3; i++) {
        expect_ok(kms_bsf_challenge(b, IMPI, T0, &c[i]));
    }
    expect_err(kms_bsf_challenge(b, IMPI, T0 + 9, &c[3]), KMS_ERR_RATE);
    expect_err(kms_bsf_challenge(b, "x@" REALM, T0 + 9, &c[3]), KMS_OK); /* per IMPI */
    expect_ok(kms_bsf_challenge(b, IMPI, T0 + 10, &c[3]));               /* one more earned */
    struct kms_bsf_pending p;
    expect_ok(open_c(b, IMPI, &c[0], T0 + 4, &p));
    expect_err(open_c(b, IMPI, &c[1], T0 + 5, &p), KMS_ERR_NOT_FOUND); /* expired */
    struct kms_bsf_session s;
    expect_ok(kms_bsf_bootstrap(b, &p, T0 + 4, &s));
    struct kms_bsf_stats stats;
    kms_bsf_stats(b, &stats);
    assert_int_equal(stats.answered, 1);
    kms_bsf_expire(b, T0 + 100);
    kms_bsf_stats(b, &stats);
    assert_int_equal(stats.answered, 0);
    kms_bsf_free(b);
}

/* SQNs come from durable ranges: few commits, and a restarted BSF never repeats an SQN. */
static void test_sqn_ranges_and_restart(void **state)
{
    (void)state;
    struct mem_store st = {.present = true};
    struct kms_bsf_store bs;
    struct kms_bsf *b = bsf_new(&st, &bs);
    struct ue u;
    ue_init(&u);
    struct kms_aka_vec v;
    struct kms_bsf_challenge c;
    for (int i = 0; i < 40; i++) {
        expect_ok(kms_bsf_challenge(b, IMPI, T0 + (uint64_t)i, &c));
        expect_ok(ue_run(&u, &c, &v));
    }
    assert_int_equal(st.commits, 2); /* 32 per durable write */
    kms_bsf_free(b);
    b = bsf_new(&st, &bs); /* a restart: resumes above the durable mark */
    for (int i = 0; i < 40; i++) {
        expect_ok(kms_bsf_challenge(b, IMPI, T0 + 100 + (uint64_t)i, &c));
        expect_ok(ue_run(&u, &c, &v)); /* the USIM never sees an old SQN */
    }
    kms_bsf_free(b);
    kms_milenage_free(u.m);
}

/* The USIM is ahead (the network's SQN store was reset): AUTS resynchronises. */
static void test_resync(void **state)
{
    (void)state;
    struct mem_store st = {.present = true};
    struct kms_bsf_store bs;
    struct kms_bsf *b = bsf_new(&st, &bs);
    struct ue u;
    ue_init(&u);
    /* The USIM has accepted a high SQN elsewhere. */
    uint64_t high = UINT64_C(5000) << KMS_SQN_IND_BITS_DEF; /* IND 0: the BSF's first */
    expect_ok(kms_sqn_ms_accept(&u.ms, high));
    struct kms_bsf_challenge c;
    struct kms_aka_vec v;
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &c));
    expect_err(ue_run(&u, &c, &v), KMS_ERR_SQN_STALE);
    uint8_t sqn_ms[6], auts[14];
    kms_sqn_to_bytes(kms_sqn_ms_highest(&u.ms), sqn_ms);
    expect_ok(kms_milenage_auts(u.m, c.rand, sqn_ms, auts));
    struct kms_bsf_pending p;
    expect_ok(open_c(b, IMPI, &c, T0, &p));
    uint8_t bad[14];
    memcpy(bad, auts, 14);
    bad[13] ^= 1;
    expect_err(kms_bsf_resync(b, &p, bad, T0), KMS_ERR_MAC_S);
    expect_ok(kms_bsf_resync(b, &p, auts, T0));
    /* A verified AUTS answers the challenge: it cannot be replayed. */
    expect_err(kms_bsf_resync(b, &p, auts, T0), KMS_ERR_REPLAY);
    expect_ok(kms_bsf_challenge(b, IMPI, T0 + 1, &c));
    expect_ok(ue_run(&u, &c, &v));
    kms_bsf_free(b);
    kms_milenage_free(u.m);
}

/* AUTN = SQN ^ AK (6) || AMF (2) || MAC-A (8), TS 33.102 6.3.2: the AMF is in clear. A fake
 * challenge carries the configured default AMF, as a real subscriber with that AMF does, and
 * has the same shape; the default is 0000, as 'imskms subscriber add'. */
static void test_fake_challenge_amf(void **state)
{
    (void)state;
    static const uint8_t amf[2] = {0x80, 0x00};
    struct mem_store st = {.present = true, .amf = {0x80, 0x00}};
    struct kms_bsf_store bs = {&st, st_get, st_commit};
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600, .rate_burst = 100};
    memcpy(cfg.amf, amf, 2);
    struct kms_bsf *b = NULL;
    expect_ok(kms_bsf_new(&cfg, &bs, &b));
    struct kms_bsf_challenge real, fake;
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &real));
    expect_ok(kms_bsf_challenge(b, "unknown@" REALM, T0, &fake));
    expect_bytes_eq(real.autn + 6, amf, 2);
    expect_bytes_eq(fake.autn + 6, amf, 2);
    assert_int_equal(sizeof(real.autn), 16);
    assert_memory_not_equal(real.rand, fake.rand, 16);
    struct kms_bsf_pending p;
    expect_ok(open_c(b, "unknown@" REALM, &fake, T0, &p));
    assert_true(p.fake);
    expect_ok(open_c(b, IMPI, &real, T0, &p));
    assert_false(p.fake);
    kms_bsf_free(b);

    /* Unconfigured: 0000, the subscriber default. */
    b = bsf_new(&st, &bs);
    expect_ok(kms_bsf_challenge(b, "unknown@" REALM, T0, &fake));
    static const uint8_t zero[2] = {0, 0};
    expect_bytes_eq(fake.autn + 6, zero, 2);
    kms_bsf_free(b);
}

/* An AUTS for a fake challenge fails as a real AUTS that does not verify (KMS_ERR_MAC_S), after
 * the same work: the fake-K Milenage runs (counted), and the store is read. */
struct counting_store {
    struct mem_store m;
    unsigned gets;
};

static kms_result cst_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    struct counting_store *c = ctx;
    c->gets++;
    return st_get(&c->m, impi, out);
}

static kms_result cst_commit(void *ctx, const char *impi, uint64_t mark)
{
    return st_commit(&((struct counting_store *)ctx)->m, impi, mark);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_fake_auts_like_real(void **state)
{
    (void)state;
    struct counting_store cs = {.m = {.present = true}};
    struct kms_bsf_store bs = {&cs, cst_get, cst_commit};
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600, .rate_burst = 100};
    struct kms_bsf *b = NULL;
    expect_ok(kms_bsf_new(&cfg, &bs, &b));
    struct kms_bsf_challenge rc, fc;
    struct kms_bsf_pending rp, fp;
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &rc));
    expect_ok(kms_bsf_challenge(b, "unknown@" REALM, T0, &fc));
    expect_ok(open_c(b, IMPI, &rc, T0, &rp));
    expect_ok(open_c(b, "unknown@" REALM, &fc, T0, &fp));
    uint8_t auts[14];
    memset(auts, 0x5a, sizeof(auts));
    struct kms_bsf_stats s0, s1;
    kms_bsf_stats(b, &s0);
    assert_int_equal(s0.fake_resyncs, 0);
    unsigned gets = cs.gets, commits = cs.m.commits;
    kms_result real = kms_bsf_resync(b, &rp, auts, T0);
    assert_int_equal(cs.gets, gets + 1);
    kms_result fake = kms_bsf_resync(b, &fp, auts, T0);
    assert_int_equal(real.err, KMS_ERR_MAC_S);
    assert_int_equal(fake.err, real.err);
    assert_int_equal(cs.gets, gets + 2); /* the fake one read the store too */
    kms_bsf_stats(b, &s1);
    assert_int_equal(s1.fake_resyncs, 1);
    assert_int_equal(cs.m.commits, commits); /* nothing durable */

    /* A printed figure, never an assert (timing asserts are flaky): mean cost of N failed
     * AUTS, real and fake, interleaved. They should be within a factor of 2. */
    enum { N = 2000 };
    double t_real = 0, t_fake = 0;
    for (int i = 0; i < N; i++) {
        double t0 = now_s();
        real = kms_bsf_resync(b, &rp, auts, T0);
        double t1 = now_s();
        fake = kms_bsf_resync(b, &fp, auts, T0);
        t_fake += now_s() - t1;
        t_real += t1 - t0;
        assert_int_equal(real.err, fake.err);
    }
    kms_bsf_stats(b, &s1);
    assert_int_equal(s1.fake_resyncs, 1 + N);
    printf("# failed AUTS, mean of %d: real %.2f us, fake %.2f us (fake/real %.2f)\n", N,
           t_real * 1e6 / N, t_fake * 1e6 / N, t_fake / t_real);
    kms_bsf_free(b);
}

/* Made-up names never reach the store's SQN commits, and their rate buckets live apart from the
 * subscribers': a flood that fills the strangers' table (16 here) with busy buckets leaves the
 * names unlimited (counted) rather than refused, and the subscriber's own bucket and state are
 * untouched. */
static void test_made_up_names_cost_nothing_durable(void **state)
{
    (void)state;
    struct mem_store st = {.present = true};
    struct kms_bsf_store bs = {&st, st_get, st_commit};
    struct kms_bsf_cfg cfg = {
        .realm = REALM, .lifetime = 3600, .rate_burst = 2, .max_identities = 16};
    struct kms_bsf *b = NULL;
    expect_ok(kms_bsf_new(&cfg, &bs, &b));
    struct kms_bsf_challenge c;
    for (int i = 0; i < 1000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "made-up-%d@ims.example.org", i);
        expect_ok(kms_bsf_challenge(b, name, T0, &c));
    }
    assert_int_equal(st.commits, 0);
    struct kms_bsf_stats s;
    kms_bsf_stats(b, &s);
    assert_int_equal(s.identities, 0); /* no subscriber state for a made-up name */
    assert_int_equal(s.strangers, 16);
    assert_true(s.strangers_unrated > 0);
    /* One made-up name within the table is still limited like a subscriber (2 here). */
    kms_bsf_free(b);
    expect_ok(kms_bsf_new(&cfg, &bs, &b));
    expect_ok(kms_bsf_challenge(b, "x@" REALM, T0, &c));
    expect_ok(kms_bsf_challenge(b, "x@" REALM, T0, &c));
    expect_err(kms_bsf_challenge(b, "x@" REALM, T0, &c), KMS_ERR_RATE);
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &c));
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &c));
    expect_err(kms_bsf_challenge(b, IMPI, T0, &c), KMS_ERR_RATE);
    assert_int_equal(st.commits, 1); /* the subscriber's first range */
    kms_bsf_free(b);
}

/* A preloaded subscriber's first challenge makes no durable write on the request path, and a
 * range running low is refilled by kms_bsf_refill: 100 challenges, none reserving in line, and
 * every SQN fresh for the USIM. */
static void test_preload_and_refill(void **state)
{
    (void)state;
    struct mem_store st = {.present = true, .mark = 1000};
    struct kms_bsf_store bs;
    struct kms_bsf *b = bsf_new(&st, &bs);
    expect_ok(kms_bsf_preload(b, IMPI, st.mark, T0));
    assert_int_equal(st.commits, 1);
    expect_err(kms_bsf_preload(b, "not an impi", 0, T0), KMS_ERR_NOT_ASCII);
    struct ue u;
    ue_init(&u);
    struct kms_bsf_challenge c;
    struct kms_aka_vec v;
    struct kms_bsf_stats s;
    for (int i = 0; i < 100; i++) {
        unsigned commits = st.commits;
        expect_ok(kms_bsf_challenge(b, IMPI, T0 + (uint64_t)i, &c));
        assert_int_equal(st.commits, commits); /* never in line */
        expect_ok(ue_run(&u, &c, &v));
        (void)kms_bsf_refill(b, T0 + (uint64_t)i); /* the daemon's tick */
    }
    kms_bsf_stats(b, &s);
    assert_int_equal(s.sync_reserves, 0);
    assert_true(st.commits > 1);
    assert_int_equal(kms_bsf_refill(b, T0 + 200), 0); /* nothing queued */
    /* Without refills the range runs out and the request path reserves (counted). */
    for (int i = 0; i < 40; i++) {
        expect_ok(kms_bsf_challenge(b, IMPI, T0 + 300 + (uint64_t)i, &c));
        expect_ok(ue_run(&u, &c, &v));
    }
    kms_bsf_stats(b, &s);
    assert_true(s.sync_reserves > 0);
    kms_bsf_free(b);
    kms_milenage_free(u.m);
}

/* A challenge opened under another username (even an existing one) does not open: the seal
 * binds the IMPI. A made-up name's challenge opened under a real IMPI neither. */
static void test_seal_binds_impi(void **state)
{
    (void)state;
    struct mem_store st = {.present = true};
    struct kms_bsf_store bs;
    struct kms_bsf *b = bsf_new(&st, &bs);
    struct kms_bsf_challenge real, fake;
    struct kms_bsf_pending p;
    expect_ok(kms_bsf_challenge(b, IMPI, T0, &real));
    expect_ok(kms_bsf_challenge(b, "unknown@" REALM, T0, &fake));
    expect_err(open_c(b, "unknown@" REALM, &real, T0, &p), KMS_ERR_AUTH);
    expect_err(open_c(b, IMPI, &fake, T0, &p), KMS_ERR_AUTH);
    expect_ok(open_c(b, IMPI, &real, T0, &p));
    /* RAND and AUTN are sealed too. */
    real.autn[15] ^= 1;
    expect_err(open_c(b, IMPI, &real, T0, &p), KMS_ERR_AUTH);
    kms_bsf_free(b);
}

/* The SQN a challenge carries, recovered by the USIM from AUTN (SQN ^ AK, then MAC-A checked). */
static uint64_t challenge_sqn(struct ue *u, const struct kms_bsf_challenge *c)
{
    uint8_t sqn[6];
    struct kms_aka_vec v;
    expect_ok(kms_milenage_check_autn(u->m, c->rand, c->autn, sqn, &v));
    return kms_sqn_from_bytes(sqn);
}

/* One BSF (no node id): round-robin over all 32 IND values, as before fleets. Nodes 0 and 1 of
 * a fleet, each on its own store starting from the same mark: node 0 uses IND 0..3, node 1 IND
 * 4..7 (TS 33.102 C.1.2 classes of 4), and 20 alternating challenges all pass one USIM with no
 * SQN repeated. Node 8 does not fit 5 IND bits. */
static void test_node_ind_classes(void **state)
{
    (void)state;
    struct mem_store st1 = {.present = true}, st[2] = {{.present = true}, {.present = true}};
    struct kms_bsf_store bs1 = {&st1, st_get, st_commit}, bs[2];
    struct kms_bsf *one = NULL, *node[2] = {NULL, NULL};
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600, .rate_burst = 100};
    struct ue u;
    struct kms_aka_vec v;
    struct kms_bsf_challenge c;
    uint64_t seen[20];
    ue_init(&u);
    expect_ok(kms_bsf_new(&cfg, &bs1, &one));
    for (unsigned i = 0; i < 33; i++) {
        expect_ok(kms_bsf_challenge(one, IMPI, T0, &c));
        assert_int_equal(challenge_sqn(&u, &c) & 31, i % 32);
    }
    kms_bsf_free(one);
    kms_milenage_free(u.m);
    ue_init(&u);
    cfg.node_set = true;
    for (unsigned n = 0; n < 2; n++) {
        bs[n] = (struct kms_bsf_store){&st[n], st_get, st_commit};
        cfg.node_id = n;
        expect_ok(kms_bsf_new(&cfg, &bs[n], &node[n]));
    }
    for (unsigned i = 0; i < 20; i++) {
        unsigned n = i % 2;
        expect_ok(kms_bsf_challenge(node[n], IMPI, T0 + i, &c));
        uint64_t sqn = challenge_sqn(&u, &c);
        /* node n's IND values are 4n .. 4n+3, in turn; its SEQ counts from 1 on its own */
        assert_int_equal(sqn & 31, 4 * n + (i / 2) % 4);
        assert_int_equal(sqn >> 5, 1 + i / 2);
        for (unsigned j = 0; j < i; j++) {
            assert_true(seen[j] != sqn);
        }
        seen[i] = sqn;
        expect_ok(ue_run(&u, &c, &v));
    }
    kms_bsf_free(node[0]);
    kms_bsf_free(node[1]);
    cfg.node_id = 8;
    struct kms_bsf *b = NULL;
    expect_err(kms_bsf_new(&cfg, &bs1, &b), KMS_ERR_ARG);
    assert_null(b);
    kms_milenage_free(u.m);
}

/* ---- a fleet's shared state (kms_bsf_shared), as an in-memory fake ---- */

#define FAKE_N 16
struct fake_shared {
    bool fail; /* every callback KMS_ERR_STORE, as a Redis that is down */
    unsigned rate_known, rate_probe, rate_give;
    int tokens; /* the subscriber's one bucket (no refill: the test takes a few) */
    uint8_t answered[FAKE_N][16];
    size_t n_answered;
    struct {
        uint8_t rand[16], ks[32];
        char impi[KMS_BSF_NAME_MAX + 1];
        uint64_t created, expires;
    } ses[FAKE_N];
    size_t n_ses;
};

static kms_result fk_rate(void *ctx, const char *impi, bool known, bool give, unsigned burst,
                          unsigned period, uint64_t now)
{
    struct fake_shared *f = ctx;
    (void)impi, (void)burst, (void)period, (void)now;
    KMS_ENSURE(!f->fail, KMS_ERR_STORE);
    if (!known) {
        f->rate_probe++;
        return KMS_RESULT_OK;
    }
    if (give) {
        f->rate_give++;
        f->tokens++;
        return KMS_RESULT_OK;
    }
    f->rate_known++;
    KMS_ENSURE(f->tokens > 0, KMS_ERR_RATE);
    f->tokens--;
    return KMS_RESULT_OK;
}

static kms_result fk_answered_check(void *ctx, const uint8_t rand[16])
{
    struct fake_shared *f = ctx;
    KMS_ENSURE(!f->fail, KMS_ERR_STORE);
    for (size_t i = 0; i < f->n_answered; i++) {
        KMS_ENSURE(memcmp(f->answered[i], rand, 16) != 0, KMS_ERR_REPLAY);
    }
    return KMS_RESULT_OK;
}

static kms_result fk_answered_set(void *ctx, const uint8_t rand[16], uint64_t expires, uint64_t now)
{
    struct fake_shared *f = ctx;
    (void)expires, (void)now;
    KMS_TRY(fk_answered_check(ctx, rand));
    assert_true(f->n_answered < FAKE_N);
    memcpy(f->answered[f->n_answered++], rand, 16);
    return KMS_RESULT_OK;
}

static kms_result fk_session_put(void *ctx, const uint8_t rand[16], const char *impi,
                                 const uint8_t ks[32], uint64_t created, uint64_t expires,
                                 uint64_t now)
{
    struct fake_shared *f = ctx;
    (void)now;
    KMS_ENSURE(!f->fail, KMS_ERR_STORE);
    for (size_t i = 0; i < f->n_ses; i++) {
        KMS_ENSURE(memcmp(f->ses[i].rand, rand, 16) != 0, KMS_ERR_REPLAY);
    }
    assert_true(f->n_ses < FAKE_N);
    memcpy(f->ses[f->n_ses].rand, rand, 16);
    memcpy(f->ses[f->n_ses].ks, ks, 32);
    strcpy(f->ses[f->n_ses].impi, impi);
    f->ses[f->n_ses].created = created;
    f->ses[f->n_ses].expires = expires;
    f->n_ses++;
    return KMS_RESULT_OK;
}

static kms_result fk_session_get(void *ctx, const uint8_t rand[16], char impi[KMS_BSF_NAME_MAX + 1],
                                 uint8_t ks[32], uint64_t *created, uint64_t *expires)
{
    struct fake_shared *f = ctx;
    KMS_ENSURE(!f->fail, KMS_ERR_STORE);
    for (size_t i = 0; i < f->n_ses; i++) {
        if (memcmp(f->ses[i].rand, rand, 16) == 0) {
            strcpy(impi, f->ses[i].impi);
            memcpy(ks, f->ses[i].ks, 32);
            *created = f->ses[i].created;
            *expires = f->ses[i].expires;
            return KMS_RESULT_OK;
        }
    }
    return KMS_ERR(KMS_ERR_NOT_FOUND);
}

/* Two nodes sharing one fake store and one challenge key: a challenge of node 0 answered at
 * node 1, Zn at node 0, a replay refused at either node, the subscriber's rate the fleet's, a
 * made-up name's bucket local, and a store failure a failure (never a success). */
static void test_shared_state(void **state)
{
    (void)state;
    struct mem_store st0 = {.present = true}, st1 = {.present = true};
    struct kms_bsf_store bs0 = {&st0, st_get, st_commit}, bs1 = {&st1, st_get, st_commit};
    struct fake_shared f = {.tokens = 3};
    struct kms_bsf_shared sh = {
        &f, fk_rate, fk_answered_check, fk_answered_set, fk_session_put, fk_session_get};
    uint8_t key[KMS_BSF_KEY_LEN];
    memset(key, 0x5a, sizeof(key));
    struct kms_bsf_cfg cfg = {.realm = REALM,
                              .lifetime = 3600,
                              .rate_burst = 2,
                              .node_set = true,
                              .challenge_key = key,
                              .shared = &sh};
    struct kms_bsf *n0 = NULL, *n1 = NULL;
    expect_ok(kms_bsf_new(&cfg, &bs0, &n0));
    cfg.node_id = 1;
    expect_ok(kms_bsf_new(&cfg, &bs1, &n1));
    struct ue u;
    ue_init(&u);
    struct kms_bsf_challenge c, c2;
    struct kms_aka_vec v;
    struct kms_bsf_pending p, p2;
    struct kms_bsf_session s, s2;
    expect_ok(kms_bsf_challenge(n0, IMPI, T0, &c));
    assert_int_equal(f.rate_known, 1); /* the fleet's bucket, not node 0's own */
    expect_ok(ue_run(&u, &c, &v));
    expect_ok(open_c(n1, IMPI, &c, T0 + 1, &p));
    expect_ok(kms_bsf_bootstrap(n1, &p, T0 + 1, &s));
    assert_int_equal(f.n_answered, 1);
    assert_int_equal(f.n_ses, 1);
    expect_bytes_eq(f.ses[0].rand, c.rand, 16);
    /* answered at node 1: refused at node 0 as at node 1 */
    expect_err(open_c(n0, IMPI, &c, T0 + 2, &p2), KMS_ERR_REPLAY);
    expect_err(kms_bsf_bootstrap(n0, &p, T0 + 2, &s2), KMS_ERR_REPLAY);
    /* Zn at node 0 for node 1's B-TID: the UE's own Ks_NAF */
    struct kms_bsf_zn z;
    uint8_t ue_ks_naf[32];
    expect_ok(kms_bsf_zn(n0, s.btid, NAF, UA, T0 + 10, &z));
    expect_ok(
        kms_gba_ks_naf(v.ck, v.ik, c.rand, IMPI, strlen(IMPI), NAF, strlen(NAF), UA, ue_ks_naf));
    expect_bytes_eq(z.ks_naf, ue_ks_naf, 32);
    assert_int_equal(z.key_expiry, T0 + 1 + 3600);
    expect_err(kms_bsf_zn(n0, s.btid, NAF, UA, T0 + 1 + 3600, &z), KMS_ERR_NOT_FOUND);
    /* the fleet's bucket: 2 more tokens, whichever node, then 429 (the local burst is 2) */
    expect_ok(kms_bsf_challenge(n1, IMPI, T0 + 3, &c));
    expect_ok(kms_bsf_challenge(n0, IMPI, T0 + 3, &c));
    expect_err(kms_bsf_challenge(n1, IMPI, T0 + 3, &c), KMS_ERR_RATE);
    /* a made-up name: the shared round trip (a probe), then its own local bucket */
    unsigned probes = f.rate_probe;
    expect_ok(kms_bsf_challenge(n0, "nobody@example.org", T0, &c));
    expect_ok(kms_bsf_challenge(n0, "nobody@example.org", T0, &c));
    expect_err(kms_bsf_challenge(n0, "nobody@example.org", T0, &c), KMS_ERR_RATE);
    assert_int_equal(f.rate_probe, probes + 3);
    /* the store down: failures, never a success */
    f.tokens = 10;
    expect_ok(kms_bsf_challenge(n0, IMPI, T0 + 20, &c));
    expect_ok(ue_run(&u, &c, &v));
    f.fail = true;
    expect_err(kms_bsf_challenge(n0, IMPI, T0 + 20, &c2), KMS_ERR_STORE);
    expect_err(open_c(n1, IMPI, &c, T0 + 21, &p), KMS_ERR_STORE);
    f.fail = false;
    expect_ok(open_c(n1, IMPI, &c, T0 + 21, &p));
    f.fail = true;
    expect_err(kms_bsf_bootstrap(n1, &p, T0 + 21, &s2), KMS_ERR_STORE);
    expect_err(kms_bsf_zn(n0, s.btid, NAF, UA, T0 + 22, &z), KMS_ERR_STORE);
    /* back: the same answer now bootstraps */
    f.fail = false;
    expect_ok(kms_bsf_bootstrap(n1, &p, T0 + 22, &s2));
    expect_ok(kms_bsf_zn(n0, s2.btid, NAF, UA, T0 + 23, &z));
    /* an incomplete set of callbacks is refused */
    sh.session_get = NULL;
    struct kms_bsf *bad = NULL;
    expect_err(kms_bsf_new(&cfg, &bs1, &bad), KMS_ERR_ARG);
    assert_null(bad);
    kms_bsf_free(n0);
    kms_bsf_free(n1);
    kms_milenage_free(u.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_and_zn),
        cmocka_unit_test(test_unknown_impi),
        cmocka_unit_test(test_expiry_and_rate),
        cmocka_unit_test(test_sqn_ranges_and_restart),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_fake_challenge_amf),
        cmocka_unit_test(test_fake_auts_like_real),
        cmocka_unit_test(test_made_up_names_cost_nothing_durable),
        cmocka_unit_test(test_preload_and_refill),
        cmocka_unit_test(test_seal_binds_impi),
        cmocka_unit_test(test_node_ind_classes),
        cmocka_unit_test(test_shared_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

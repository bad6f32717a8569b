/* SPDX-License-Identifier: Apache-2.0 */
/* The Ub handler (kms_bsf_ub) end to end without HTTP: a real kms_bsf over an in-memory
 * subscriber store with two subscribers, a fixed clock, and the UE side computed with the
 * library's Digest and Milenage functions. Each wrong answer (a wrong RES, a username that is
 * not the challenge's IMPI, an AUTS that does not verify) must be a plain 401: no new challenge,
 * no body; a right answer to a fresh challenge is still a 200, and a verified AUTS is a 401 with
 * a new challenge the USIM accepts. */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

#include "crypto/kms_kek.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_bsf.h"
#include "gba/kms_bsf_ub.h"
#include "gba/kms_digest.h"

#define T0     1800000000u
#define IMPI_A "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
#define IMPI_B "001010000000002@ims.mnc001.mcc001.3gppnetwork.org"
#define REALM  "bsf.mnc001.mcc001.pub.3gppnetwork.org"

/* TS 35.208 test set 1 K and OPc (A); B has another K. */
static const uint8_t K_A[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t K_B[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t OPC[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
                                0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};

/* ---- the subscriber store: two subscribers, SQN marks in memory ---- */

struct mem_store {
    uint64_t mark[2];
};

static int sub_index(const char *impi)
{
    return strcmp(impi, IMPI_A) == 0 ? 0 : strcmp(impi, IMPI_B) == 0 ? 1 : -1;
}

static kms_result st_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    struct mem_store *m = ctx;
    memset(out, 0, sizeof(*out));
    int i = sub_index(impi);
    if (i < 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    memcpy(out->k, i == 0 ? K_A : K_B, 16);
    memcpy(out->opc, OPC, 16);
    strcpy(out->impu[0],
           i == 0 ? "sip:+15550001@ims.example.org" : "sip:+15550002@ims.example.org");
    out->n_impu = 1;
    out->sqn_mark = m->mark[i];
    return (kms_result){KMS_OK};
}

static kms_result st_commit(void *ctx, const char *impi, uint64_t mark)
{
    struct mem_store *m = ctx;
    int i = sub_index(impi);
    assert_true(i >= 0);
    if (mark > m->mark[i]) {
        m->mark[i] = mark;
    }
    return (kms_result){KMS_OK};
}

struct fixture {
    struct mem_store st;
    struct kms_bsf_store bs;
    struct kms_bsf *b;
    struct kms_milenage *usim; /* IMPI_A's USIM */
    struct kms_sqn_ms ms;
};

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    f->bs = (struct kms_bsf_store){&f->st, st_get, st_commit};
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600, .rate_burst = 100};
    expect_ok(kms_bsf_new(&cfg, &f->bs, &f->b));
    expect_ok(kms_milenage_new(&f->usim));
    expect_ok(kms_milenage_set_key(f->usim, K_A, OPC));
    expect_ok(kms_sqn_ms_init(&f->ms, KMS_SQN_IND_BITS_DEF, KMS_SQN_DELTA_DEF, 0));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kms_bsf_free(f->b);
    kms_milenage_free(f->usim);
    test_free(f);
    return 0;
}

/* ---- the UE side ---- */

/* One Ub request (GET / without a body) at time now; the reply is the caller's to clean up. */
static void ub(struct fixture *f, const char *authorization, uint64_t now,
               struct kms_bsf_ub_reply *r)
{
    kms_bsf_ub_reply_init(r);
    expect_ok(kms_bsf_ub(f->b, authorization, "GET", "/", NULL, 0, now, r));
}

/* The reply as HTTP (the daemon sends exactly this). */
static void ub_http(const struct kms_bsf_ub_reply *r, struct kms_http_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    kms_buf_init(&resp->body, 8192, false);
    expect_ok(kms_bsf_ub_http(r, resp));
}

static const char *resp_header(const struct kms_http_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_hdrs; i++) {
        if (strcmp(resp->hdrs[i].name, name) == 0) {
            return resp->hdrs[i].value;
        }
    }
    return NULL;
}

/* A refusal that says nothing: 401, an authentication or not-found reason for the log, no
 * WWW-Authenticate (no new challenge), no header at all, no body. */
static void expect_plain_401(const struct kms_bsf_ub_reply *r)
{
    assert_int_equal(r->status, 401);
    assert_true(kms_err_group(r->why) == KMS_ERR_G_AUTH || r->why == KMS_ERR_NOT_FOUND);
    assert_int_equal(kms_buf_len(&r->www_authenticate), 0);
    struct kms_http_resp resp;
    ub_http(r, &resp);
    assert_int_equal(resp.status, 401);
    assert_null(resp_header(&resp, "WWW-Authenticate"));
    assert_int_equal(resp.n_hdrs, 0);
    assert_int_equal(kms_buf_len(&resp.body), 0);
    assert_null(resp.content_type);
    kms_buf_cleanup(&resp.body);
}

/* A challenge read from a 401 WITH WWW-Authenticate. */
struct chal {
    struct kms_digest_params p;
    uint8_t rand[16], autn[16];
};

static void read_challenge(const struct kms_bsf_ub_reply *r, struct chal *c)
{
    assert_int_equal(r->status, 401);
    struct kms_http_resp resp;
    ub_http(r, &resp);
    const char *www = resp_header(&resp, "WWW-Authenticate");
    assert_non_null(www);
    expect_ok(kms_digest_parse_challenge(www, strlen(www), &c->p));
    assert_string_equal(kms_digest_get(&c->p, KMS_DIGEST_REALM), REALM);
    const char *nonce = kms_digest_get(&c->p, KMS_DIGEST_NONCE);
    uint8_t sd[KMS_DIGEST_SERVER_DATA_MAX];
    size_t sd_len = 0;
    expect_ok(
        kms_digest_nonce_decode(nonce, strlen(nonce), c->rand, c->autn, sd, sizeof(sd), &sd_len));
    kms_buf_cleanup(&resp.body);
}

/* The first request of TS 24.109 A.3 for impi, and the challenge it gets. */
static void challenge(struct fixture *f, const char *impi, uint64_t now, struct chal *c)
{
    char auth[512];
    snprintf(auth, sizeof(auth),
             "Digest username=\"%s\", realm=\"" REALM "\", nonce=\"\", uri=\"/\", response=\"\"",
             impi);
    struct kms_bsf_ub_reply r;
    ub(f, auth, now, &r);
    read_challenge(&r, c);
    kms_bsf_ub_reply_cleanup(&r);
}

/* The answer to c as username with password pw (RES, or empty with auts), as the header value,
 * NUL-terminated, and the credentials it holds. */
static void answer(const struct chal *c, const char *username, const uint8_t *pw, size_t pw_len,
                   const char *auts_b64, struct kms_buf *out, struct kms_digest_params *cred)
{
    static const char cnonce[] = "0a4f113b0a4f113b";
    struct kms_digest_req q = {
        .username = username,
        .realm = REALM,
        .nonce = kms_digest_get(&c->p, KMS_DIGEST_NONCE),
        .uri = "/",
        .qop = "auth-int",
        .nc = "00000001",
        .cnonce = cnonce,
        .method = "GET",
    };
    char response[KMS_DIGEST_HEX_BUF];
    expect_ok(kms_digest_response(pw, pw_len, &q, response));
    kms_digest_params_init(cred);
    expect_ok(kms_digest_set(cred, KMS_DIGEST_USERNAME, username));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_REALM, REALM));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_NONCE, q.nonce));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_URI, "/"));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_RESPONSE, response));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_ALGORITHM, "AKAv1-MD5"));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_QOP, "auth-int"));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_NC, "00000001"));
    expect_ok(kms_digest_set(cred, KMS_DIGEST_CNONCE, cnonce));
    if (auts_b64 != NULL) {
        expect_ok(kms_digest_set(cred, KMS_DIGEST_AUTS, auts_b64));
    }
    kms_buf_init(out, KMS_DIGEST_HEADER_MAX, false);
    expect_ok(kms_digest_format(KMS_DIGEST_CREDENTIALS, cred, out));
    expect_ok(kms_buf_put_u8(out, 0));
}

/* The USIM on c: AUTN must verify and its SQN be fresh; RES into v. */
static void usim_run(struct fixture *f, const struct chal *c, struct kms_aka_vec *v)
{
    uint8_t sqn[6];
    expect_ok(kms_milenage_check_autn(f->usim, c->rand, c->autn, sqn, v));
    expect_ok(kms_sqn_ms_accept(&f->ms, kms_sqn_from_bytes(sqn)));
}

/* Sends the answer and expects a 200 whose rspauth and body verify for the UE. */
static void expect_bootstrap(struct fixture *f, const struct chal *c, const struct kms_aka_vec *v,
                             uint64_t now)
{
    struct kms_buf auth;
    struct kms_digest_params cred, info;
    answer(c, IMPI_A, v->res, sizeof(v->res), NULL, &auth, &cred);
    struct kms_bsf_ub_reply r;
    ub(f, (const char *)kms_buf_data(&auth), now, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.why, KMS_OK);
    struct kms_http_resp resp;
    ub_http(&r, &resp);
    assert_int_equal(resp.status, 200);
    assert_null(resp_header(&resp, "WWW-Authenticate"));
    const char *ai = resp_header(&resp, "Authentication-Info");
    assert_non_null(ai);
    expect_ok(kms_digest_parse_info(ai, strlen(ai), &info));
    expect_ok(kms_digest_verify_rspauth(&cred, &info, v->res, sizeof(v->res),
                                        kms_buf_data(&resp.body), kms_buf_len(&resp.body)));
    char btid[KMS_BTID_MAX];
    uint64_t lifetime = 0;
    expect_ok(kms_bsfinfo_parse(kms_buf_data(&resp.body), kms_buf_len(&resp.body), btid,
                                sizeof(btid), &lifetime));
    assert_string_equal(btid, r.btid);
    assert_int_equal(lifetime, now + 3600);
    kms_buf_cleanup(&resp.body);
    kms_bsf_ub_reply_cleanup(&r);
    kms_buf_cleanup(&auth);
}

/* Sends the answer and expects a plain 401. */
static void expect_refused(struct fixture *f, const struct chal *c, const char *username,
                           const uint8_t *pw, size_t pw_len, const char *auts_b64, uint64_t now)
{
    struct kms_buf auth;
    struct kms_digest_params cred;
    answer(c, username, pw, pw_len, auts_b64, &auth, &cred);
    struct kms_bsf_ub_reply r;
    ub(f, (const char *)kms_buf_data(&auth), now, &r);
    expect_plain_401(&r);
    kms_bsf_ub_reply_cleanup(&r);
    kms_buf_cleanup(&auth);
}

/* ---- the tests ---- */

/* The control: the right RES bootstraps (so a refusal below is the check's doing). */
static void test_right_answer(void **state)
{
    struct fixture *f = *state;
    struct chal c;
    struct kms_aka_vec v;
    challenge(f, IMPI_A, T0, &c);
    usim_run(f, &c, &v);
    expect_bootstrap(f, &c, &v, T0 + 1);
}

/* A response computed with a wrong RES: a plain 401. Nothing is recorded for an answer that
 * does not verify (issue 13: an unauthenticated client must not be able to write state), so
 * the right RES to the same challenge afterwards bootstraps, once: answered, the challenge is
 * spent (single use). A fresh challenge still works. */
static void test_wrong_res(void **state)
{
    struct fixture *f = *state;
    struct chal c;
    struct kms_aka_vec v;
    challenge(f, IMPI_A, T0, &c);
    usim_run(f, &c, &v);
    uint8_t wrong[KMS_AKA_RES_LEN];
    memcpy(wrong, v.res, sizeof(wrong));
    wrong[7] ^= 0x01;
    expect_refused(f, &c, IMPI_A, wrong, sizeof(wrong), NULL, T0 + 1);
    expect_bootstrap(f, &c, &v, T0 + 1);
    expect_refused(f, &c, IMPI_A, v.res, sizeof(v.res), NULL, T0 + 1); /* single use */
    /* The empty password (the resynchronisation form) without auts is no answer either. */
    challenge(f, IMPI_A, T0 + 2, &c);
    usim_run(f, &c, &v);
    expect_refused(f, &c, IMPI_A, (const uint8_t *)"", 0, NULL, T0 + 2);
    challenge(f, IMPI_A, T0 + 3, &c);
    usim_run(f, &c, &v);
    expect_bootstrap(f, &c, &v, T0 + 3);
}

/* The right RES of A's challenge, answered under B's name (the response computed for B, so
 * that only the username check can refuse it): a plain 401. B's own subscriber entry exists. */
static void test_username_not_the_challenges_impi(void **state)
{
    struct fixture *f = *state;
    struct chal c;
    struct kms_aka_vec v;
    challenge(f, IMPI_A, T0, &c);
    usim_run(f, &c, &v);
    expect_refused(f, &c, IMPI_B, v.res, sizeof(v.res), NULL, T0 + 1);
    /* Even with B's own RES for A's RAND (what B's USIM would say): the challenge is sealed to
     * A's IMPI, so B cannot answer it. */
    struct kms_milenage *mb = NULL;
    struct kms_aka_vec vb;
    static const uint8_t zero_sqn[6] = {0}, zero_amf[2] = {0};
    expect_ok(kms_milenage_new(&mb));
    expect_ok(kms_milenage_set_key(mb, K_B, OPC));
    expect_ok(kms_milenage_vector(mb, c.rand, zero_sqn, zero_amf, &vb));
    kms_milenage_free(mb);
    expect_refused(f, &c, IMPI_B, vb.res, sizeof(vb.res), NULL, T0 + 1);
    /* B asking for its own challenge is not refused: the names are both real. */
    struct chal cb;
    challenge(f, IMPI_B, T0 + 1, &cb);
    /* A, for an unknown name: the same. */
    challenge(f, IMPI_A, T0 + 2, &c);
    usim_run(f, &c, &v);
    expect_refused(f, &c, "nobody@ims.example.org", v.res, sizeof(v.res), NULL, T0 + 2);
    challenge(f, IMPI_A, T0 + 3, &c);
    usim_run(f, &c, &v);
    expect_bootstrap(f, &c, &v, T0 + 3);
}

/* The USIM is ahead of the BSF (its SQN store was reset). An AUTS whose MAC-S does not verify,
 * and a good AUTS with a response that is not the empty-password one: plain 401s. A good AUTS:
 * a 401 with a new challenge, which the USIM accepts, and the answer to it bootstraps. */
static void test_auts(void **state)
{
    struct fixture *f = *state;
    uint64_t high = UINT64_C(7000) << KMS_SQN_IND_BITS_DEF;
    expect_ok(kms_sqn_ms_accept(&f->ms, high));
    uint8_t sqn_ms[6], auts[KMS_DIGEST_AUTS_LEN], sqn[6];
    char auts_b64[KMS_DIGEST_AUTS_BUF];
    kms_sqn_to_bytes(kms_sqn_ms_highest(&f->ms), sqn_ms);
    struct chal c;
    struct kms_aka_vec v;

    /* MAC-S flipped. */
    challenge(f, IMPI_A, T0, &c);
    expect_ok(kms_milenage_check_autn(f->usim, c.rand, c.autn, sqn, &v));
    expect_err(kms_sqn_ms_check(&f->ms, kms_sqn_from_bytes(sqn)), KMS_ERR_SQN_STALE);
    expect_ok(kms_milenage_auts(f->usim, c.rand, sqn_ms, auts));
    auts[13] ^= 0x80;
    expect_ok(kms_digest_auts_encode(auts, auts_b64));
    expect_refused(f, &c, IMPI_A, (const uint8_t *)"", 0, auts_b64, T0);

    /* An AUTS made for another RAND does not verify either. */
    struct chal c2;
    challenge(f, IMPI_A, T0 + 1, &c2);
    expect_ok(kms_milenage_auts(f->usim, c.rand, sqn_ms, auts));
    expect_ok(kms_digest_auts_encode(auts, auts_b64));
    expect_refused(f, &c2, IMPI_A, (const uint8_t *)"", 0, auts_b64, T0 + 1);

    /* A good AUTS, but the response computed with RES rather than the empty password. */
    challenge(f, IMPI_A, T0 + 2, &c);
    expect_ok(kms_milenage_check_autn(f->usim, c.rand, c.autn, sqn, &v));
    expect_ok(kms_milenage_auts(f->usim, c.rand, sqn_ms, auts));
    expect_ok(kms_digest_auts_encode(auts, auts_b64));
    expect_refused(f, &c, IMPI_A, v.res, sizeof(v.res), auts_b64, T0 + 2);

    /* The good one: a new challenge, fresh for the USIM. */
    challenge(f, IMPI_A, T0 + 3, &c);
    expect_ok(kms_milenage_auts(f->usim, c.rand, sqn_ms, auts));
    expect_ok(kms_digest_auts_encode(auts, auts_b64));
    struct kms_buf auth;
    struct kms_digest_params cred;
    answer(&c, IMPI_A, (const uint8_t *)"", 0, auts_b64, &auth, &cred);
    struct kms_bsf_ub_reply r;
    ub(f, (const char *)kms_buf_data(&auth), T0 + 3, &r);
    struct chal fresh;
    read_challenge(&r, &fresh);
    assert_int_equal(r.why, KMS_ERR_AUTH);
    kms_bsf_ub_reply_cleanup(&r);
    kms_buf_cleanup(&auth);
    usim_run(f, &fresh, &v);
    expect_bootstrap(f, &fresh, &v, T0 + 4);
}

/* The challenge with one bit of its nonce (RAND || AUTN || server data) flipped. */
static void flip_nonce_bit(struct chal *c, size_t bit)
{
    const char *nonce = kms_digest_get(&c->p, KMS_DIGEST_NONCE);
    uint8_t rand[16], autn[16], sd[KMS_DIGEST_SERVER_DATA_MAX];
    size_t sd_len = 0;
    expect_ok(kms_digest_nonce_decode(nonce, strlen(nonce), rand, autn, sd, sizeof(sd), &sd_len));
    assert_int_equal(sd_len, KMS_BSF_SEAL_LEN);
    uint8_t *part = bit < 128 ? rand : bit < 256 ? autn : sd;
    size_t at = bit % 128;
    part[at / 8] ^= (uint8_t)(1u << (at % 8));
    char tampered[KMS_DIGEST_NONCE_BUF];
    expect_ok(kms_digest_nonce_encode(rand, autn, sd, sd_len, tampered, sizeof(tampered)));
    expect_ok(kms_digest_set(&c->p, KMS_DIGEST_NONCE, tampered));
    memcpy(c->rand, rand, 16);
    memcpy(c->autn, autn, 16);
}

/* Issue 13: 20,000 challenge requests for made-up usernames (more than the old challenge table
 * held) leave nothing a subscriber needs: each gets its (fake) challenge, and then A still
 * gets a challenge and bootstraps. No SQN reservation ran for any of them. */
static void test_flood_of_made_up_names(void **state)
{
    struct fixture *f = *state;
    struct chal c;
    uint64_t before = f->st.mark[0] + f->st.mark[1];
    for (unsigned i = 0; i < 20000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "flood%u@ims.example.org", i);
        challenge(f, name, T0 + i / 5000, &c); /* a 401 with a challenge each, never a 503 */
    }
    assert_int_equal(f->st.mark[0] + f->st.mark[1], before);
    struct kms_aka_vec v;
    challenge(f, IMPI_A, T0 + 4, &c);
    usim_run(f, &c, &v);
    expect_bootstrap(f, &c, &v, T0 + 5);
}

/* An answer at or after the challenge's expiry (30 s): a plain 401, even with the right RES. */
static void test_expired_challenge(void **state)
{
    struct fixture *f = *state;
    struct chal c;
    struct kms_aka_vec v;
    challenge(f, IMPI_A, T0, &c);
    usim_run(f, &c, &v);
    expect_refused(f, &c, IMPI_A, v.res, sizeof(v.res), NULL, T0 + 30);
    expect_bootstrap(f, &c, &v, T0 + 29); /* the control: still good just before */
}

/* A nonce with any one bit flipped (in RAND, AUTN or the sealed server data) is not ours: a
 * plain 401, even with the response computed over it and the right RES. */
static void test_tampered_nonce(void **state)
{
    struct fixture *f = *state;
    static const size_t bits[] = {0, 77, 127, 128, 200, 255, 256, 300, 383, 384, 450, 511};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        struct chal c;
        struct kms_aka_vec v;
        challenge(f, IMPI_A, T0 + i, &c);
        usim_run(f, &c, &v);
        flip_nonce_bit(&c, bits[i]);
        expect_refused(f, &c, IMPI_A, v.res, sizeof(v.res), NULL, T0 + i);
    }
}

/* BSFs sharing the challenge key (a fleet over one store) accept each other's challenges; a BSF
 * under another KEK (another key) refuses them with a plain 401. */
static void test_other_bsf_key(void **state)
{
    struct fixture *f = *state;
    uint8_t kek_a[32], kek_b[32], key_a[32], key_b[32];
    memset(kek_a, 0xa5, sizeof(kek_a));
    memset(kek_b, 0x5a, sizeof(kek_b));
    expect_ok(kms_kek_derive(kek_a, KMS_KEK_CHALLENGE_SEAL, 1, key_a));
    expect_ok(kms_kek_derive(kek_b, KMS_KEK_CHALLENGE_SEAL, 1, key_b));
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600, .challenge_key = key_a};
    struct kms_bsf *issuer = NULL, *peer = NULL, *other = NULL;
    expect_ok(kms_bsf_new(&cfg, &f->bs, &issuer));
    expect_ok(kms_bsf_new(&cfg, &f->bs, &peer));
    cfg.challenge_key = key_b;
    expect_ok(kms_bsf_new(&cfg, &f->bs, &other));
    struct kms_bsf *own = f->b;
    struct chal c;
    struct kms_aka_vec v;
    f->b = issuer;
    challenge(f, IMPI_A, T0, &c);
    usim_run(f, &c, &v);
    f->b = other;
    expect_refused(f, &c, IMPI_A, v.res, sizeof(v.res), NULL, T0 + 1);
    f->b = own; /* the fixture's BSF has a random key of its own */
    expect_refused(f, &c, IMPI_A, v.res, sizeof(v.res), NULL, T0 + 1);
    f->b = peer;
    expect_bootstrap(f, &c, &v, T0 + 1);
    f->b = own;
    kms_bsf_free(issuer);
    kms_bsf_free(peer);
    kms_bsf_free(other);
}

/* The record of answered challenges is full (2 here): a verified answer gets 503, and no
 * unexpired record is evicted for it (the answered ones stay refused); once the records
 * expire, answers bootstrap again. */
static void test_answered_record_full(void **state)
{
    struct fixture *f = *state;
    struct kms_bsf_cfg cfg = {
        .realm = REALM, .lifetime = 3600, .rate_burst = 100, .max_answered = 2};
    struct kms_bsf *own = f->b;
    expect_ok(kms_bsf_new(&cfg, &f->bs, &f->b));
    struct chal c[4];
    struct kms_aka_vec v[4];
    for (int i = 0; i < 4; i++) {
        challenge(f, IMPI_A, T0, &c[i]);
        usim_run(f, &c[i], &v[i]);
    }
    expect_bootstrap(f, &c[0], &v[0], T0 + 1);
    expect_bootstrap(f, &c[1], &v[1], T0 + 2);
    struct kms_buf auth;
    struct kms_digest_params cred;
    answer(&c[2], IMPI_A, v[2].res, sizeof(v[2].res), NULL, &auth, &cred);
    struct kms_bsf_ub_reply r;
    ub(f, (const char *)kms_buf_data(&auth), T0 + 3, &r);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.why, KMS_ERR_FULL);
    kms_bsf_ub_reply_cleanup(&r);
    kms_buf_cleanup(&auth);
    /* Nothing was evicted: the answered ones are still refused as answered. */
    expect_refused(f, &c[0], IMPI_A, v[0].res, sizeof(v[0].res), NULL, T0 + 3);
    expect_refused(f, &c[1], IMPI_A, v[1].res, sizeof(v[1].res), NULL, T0 + 3);
    /* c[2] and c[3] were issued at T0 like the others, so they expire with their records: new
     * challenges after that bootstrap, and the old answered ones stay refused (expired). */
    expect_refused(f, &c[0], IMPI_A, v[0].res, sizeof(v[0].res), NULL, T0 + 30);
    challenge(f, IMPI_A, T0 + 30, &c[2]);
    usim_run(f, &c[2], &v[2]);
    expect_bootstrap(f, &c[2], &v[2], T0 + 31);
    kms_bsf_free(f->b);
    f->b = own;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_right_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_res, setup, teardown),
        cmocka_unit_test_setup_teardown(test_username_not_the_challenges_impi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_of_made_up_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_nonce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_bsf_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answered_record_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS request handler in one process: a file keyring, a memory store, a replay guard and a
 * fake Zn; the UE side built with lib/kms/kms_kue_msg. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "keyring/kms_keyring.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_service.h"
#include "kms/kms_ticket_msg.h"
#include "mikey/kms_mikey.h"
#include "mikey/kms_mikey_msg.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "ticket/kms_ticket.h"
#include "util/kms_mem.h"

#define NOW  1800000000u
#define FQDN "kms.example.org"
#define BTID "n/RZJSs/D2H9zi4XbK153w==@bsf.example.org"
#define IMPU "sip:+15550001@ims.example.org"

static const uint8_t KS_NAF[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
                                   3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};

/* The subscribers the fake BSF knows: user1 (the constants above), bob and carol. */
struct user {
    const char *btid, *impi, *impu;
    const uint8_t *ks_naf;
};
static const uint8_t KS_NAF_BOB[32] = {
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
static const uint8_t KS_NAF_CAROL[32] = {
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};
static const struct user USERS[3] = {
    {BTID, "user1@ims.example.org", IMPU, KS_NAF},
    {"Ym9iYm9iYm9iYm9iYm9iYg==@bsf.example.org", "bob@ims.example.org", "sip:bob@ims.example.org",
     KS_NAF_BOB},
    {"Y2Fyb2xjYXJvbGNhcm9sYw==@bsf.example.org", "carol@ims.example.org",
     "sip:carol@ims.example.org", KS_NAF_CAROL},
};
#define ALICE (&USERS[0])
#define BOB   (&USERS[1])
#define CAROL (&USERS[2])

static const struct user *user_of(const char *btid)
{
    for (size_t i = 0; i < sizeof(USERS) / sizeof(USERS[0]); i++) {
        if (strcmp(btid, USERS[i].btid) == 0) {
            return &USERS[i];
        }
    }
    return NULL;
}

struct fake_zn {
    enum kms_err answer; /* KMS_OK, KMS_ERR_NOT_FOUND, or a transport error */
    int calls;
};

static kms_result zn_get(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    struct fake_zn *z = ctx;
    (void)now;
    z->calls++;
    memset(out, 0, sizeof(*out));
    if (z->answer != KMS_OK) {
        return (kms_result){z->answer};
    }
    const struct user *u = user_of(btid);
    if (u == NULL) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    strcpy(out->impi, u->impi);
    strcpy(out->impu[0], u->impu);
    out->n_impu = 1;
    memcpy(out->ks_naf, u->ks_naf, 32);
    out->bootstrap_time = NOW - 10;
    out->key_expiry = NOW + 3600;
    return (kms_result){KMS_OK};
}

struct fx {
    char dir[64], path[128];
    struct kms_keystore *ks;
    struct kms_keyring *kr;
    struct kms_store *st;
    struct kms_replay *rg;
    struct fake_zn zn;
    struct kms_service *svc;
};

static struct fx *fx_new(bool mode2, bool mode3)
{
    struct fx *f = calloc(1, sizeof(*f));
    th_tmpdir(f->dir, sizeof(f->dir));
    th_path(f->path, sizeof(f->path), f->dir, "keyring");
    uint8_t kek[32];
    memset(kek, 0x11, sizeof(kek));
    expect_ok(kms_keystore_file_open_kek(kek, &f->ks));
    struct kms_keyring_policy pol = {86400, 86400, 1u << 20};
    expect_ok(kms_keyring_create(f->path, f->ks, &pol, NOW - 100, &f->kr));
    struct kms_store_backend *be = NULL;
    expect_ok(kms_store_backend_memory(64, &be));
    expect_ok(kms_store_new(be, kek, &f->st));
    struct kms_replay_cfg rc = {.skew = 60, .max_entries = 1000};
    expect_ok(kms_replay_new(&rc, NOW - 1000, &f->rg));
    struct kms_service_cfg cfg = {
        .fqdn = FQDN, .mode2 = mode2, .mode3 = mode3, .kue_lifetime = 600, .ticket_lifetime = 60};
    struct kms_service_deps deps = {f->kr, f->st, f->rg, {&f->zn, zn_get}};
    expect_ok(kms_service_new(&cfg, &deps, &f->svc));
    return f;
}

static void fx_free(struct fx *f)
{
    kms_service_free(f->svc);
    kms_replay_free(f->rg);
    kms_store_close(f->st);
    kms_keyring_close(f->kr);
    kms_keystore_close(f->ks);
    th_rmtree(f->dir);
    free(f);
}

static void request(struct kms_buf *out, uint8_t mode, const char *idri, const char *kms,
                    uint64_t t)
{
    struct kms_kue_request r;
    memset(&r, 0, sizeof(r));
    r.mode = mode;
    strcpy(r.idri, idri);
    strcpy(r.idrkms, kms);
    strcpy(r.btid, BTID);
    expect_ok(kms_random(r.randri, sizeof(r.randri)));
    r.ntp = kms_mikey_ntp_from_unix((int64_t)t, 0);
    kms_buf_init(out, 1 << 16, false);
    expect_ok(kms_kue_request_build(&r, KS_NAF, out));
}

/* A refusal: the status, and an Error message with the given ERR and no V. */
static void expect_refusal(const struct kms_service_reply *r, int status, uint8_t err_no)
{
    assert_int_equal(r->status, status);
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    size_t eo = 0;
    expect_ok(kms_mikey_decode(kms_buf_data(&r->body), kms_buf_len(&r->body), m, &eo));
    assert_int_equal(m->hdr.data_type, KMS_MIKEY_DT_ERROR);
    bool err_found = false, v_found = false;
    for (size_t i = 0; i < m->body.n; i++) {
        if (m->body.pl[i].type == KMS_MIKEY_PT_ERR) {
            err_found = true;
            assert_int_equal(m->body.pl[i].u.err.err_no, err_no);
        }
        v_found |= m->body.pl[i].type == KMS_MIKEY_PT_V;
    }
    assert_true(err_found);
    assert_false(v_found);
    free(m);
}

static kms_result psk_cb(void *ctx, const struct kms_mikey_msg *m, const uint8_t **key,
                         size_t *key_len)
{
    (void)ctx;
    (void)m;
    *key = KS_NAF;
    *key_len = 32;
    return (kms_result){KMS_OK};
}

static void serve(struct fx *f, const struct kms_buf *req, uint64_t now,
                  struct kms_service_reply *r)
{
    kms_service_reply_init(r);
    expect_ok(kms_service_handle(f->svc, kms_buf_data(req), kms_buf_len(req), now, r));
}

static void test_issue_mode3(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, true);
    struct kms_buf req;
    request(&req, 3, IMPU, FQDN, NOW);
    struct kms_service_reply r;
    serve(f, &req, NOW, &r);
    assert_int_equal(r.status, 200);
    struct kms_kue_grant g;
    expect_ok(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                                    kms_buf_len(&r.body), KS_NAF, &g));
    assert_int_equal(g.mode, 3);
    assert_int_equal(g.valid_to, NOW + 600);
    /* The token is a sealed Kue the KMS itself can open: same Kue, the UE's identities. */
    struct kms_ticket_claims c;
    expect_ok(kms_ticket_open(f->kr, NOW + 1, g.ticket, g.ticket_len, KMS_TICKET_KUE, &c));
    expect_bytes_eq(c.kue, g.kue, 32);
    assert_string_equal(c.impi.s, "user1@ims.example.org");
    assert_string_equal(c.impu[0].s, IMPU);
    assert_int_equal(c.mode, 3);
    assert_int_equal(c.ks_naf_expires, NOW + 3600);
    /* The same bytes again: a replay, refused like any authentication failure. */
    struct kms_service_reply r2;
    serve(f, &req, NOW + 1, &r2);
    expect_refusal(&r2, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_service_reply_cleanup(&r2);
    kms_buf_cleanup(&req);
    fx_free(f);
}

static void test_issue_mode2(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, true);
    struct kms_buf req;
    request(&req, 2, "user1@ims.example.org", FQDN, NOW); /* the IMPI is an identity too */
    struct kms_service_reply r;
    serve(f, &req, NOW, &r);
    assert_int_equal(r.status, 200);
    struct kms_kue_grant g;
    expect_ok(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                                    kms_buf_len(&r.body), KS_NAF, &g));
    assert_int_equal(g.mode, 2);
    assert_int_equal(g.ticket_len, KMS_KUE_REF_LEN);
    /* The reference names a stored record holding the same Kue. */
    struct kms_buf rec;
    kms_buf_init(&rec, 4096, true);
    uint64_t exp = 0;
    expect_ok(kms_store_kue_get(f->st, g.ticket, NOW + 1, &rec, &exp));
    struct kms_ticket_claims c;
    expect_ok(kms_ticket_payload_decode(kms_buf_data(&rec), kms_buf_len(&rec), KMS_TICKET_KUE, &c));
    expect_bytes_eq(c.kue, g.kue, 32);
    assert_int_equal(c.mode, 2);
    assert_int_equal(exp, NOW + 600);
    kms_buf_cleanup(&rec);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);
    fx_free(f);
}

static void test_refusals(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, true); /* mode 2 not allowed */
    struct kms_buf req;
    struct kms_service_reply r;

    request(&req, 3, "sip:mallory@ims.example.org", FQDN, NOW); /* not this bootstrap's */
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    request(&req, 3, IMPU, "other-kms.example.org", NOW); /* meant for another KMS */
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    request(&req, 3, IMPU, FQDN, NOW - 61); /* outside the 60 s skew */
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    request(&req, 2, IMPU, FQDN, NOW); /* a mode this KMS does not allow */
    serve(f, &req, NOW, &r);
    assert_int_equal(r.status, 403);
    assert_int_equal(r.why, KMS_ERR_UNSUPPORTED);
    {
        /* A MACed Error: it opens under the request's keys, ERR 15 (Invalid TPpar). */
        struct kms_mikey_msg *req_m = malloc(sizeof(*req_m)), *m = malloc(sizeof(*m));
        size_t eo = 0;
        expect_ok(kms_mikey_decode(kms_buf_data(&req), kms_buf_len(&req), req_m, &eo));
        const struct kms_mikey_payload *rr = NULL;
        for (size_t i = 0; i < req_m->body.n; i++) {
            if (req_m->body.pl[i].type == KMS_MIKEY_PT_RANDR) {
                rr = &req_m->body.pl[i];
            }
        }
        assert_non_null(rr);
        struct kms_mikey_open_params op = {
            .data_type = KMS_MIKEY_DT_ERROR,
            .prot = {.keying = KMS_MIKEY_KEYING_INITIAL,
                     .rands = {rr->u.randr.rand.p, rr->u.randr.rand.len, NULL, 0},
                     .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256},
            .get_key = psk_cb,
        };
        expect_ok(
            kms_mikey_open(kms_buf_data(&r.body), kms_buf_len(&r.body), &op, m, NULL, NULL, &eo));
        assert_int_equal(m->body.pl[1].u.err.err_no, 15);
        free(m);
        free(req_m);
    }
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    f->zn.answer = KMS_ERR_NOT_FOUND; /* an unknown B-TID */
    request(&req, 3, IMPU, FQDN, NOW);
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    f->zn.answer = KMS_ERR_HTTP; /* the BSF is down: a clear 503 */
    request(&req, 3, IMPU, FQDN, NOW);
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 503, 12);
    kms_service_reply_cleanup(&r);
    f->zn.answer = KMS_OK; /* ... and back */
    serve(f, &req, NOW, &r);
    assert_int_equal(r.status, 200);
    kms_service_reply_cleanup(&r);

    /* Malformed bytes: every truncation of a good request is a 400 or a 403, never a crash. */
    for (size_t len = 0; len < kms_buf_len(&req); len++) {
        kms_service_reply_init(&r);
        expect_ok(kms_service_handle(f->svc, kms_buf_data(&req), len, NOW, &r));
        assert_true(r.status == 400 || r.status == 403);
        kms_service_reply_cleanup(&r);
    }
    uint8_t junk[3] = {1, 2, 3};
    kms_service_reply_init(&r);
    expect_ok(kms_service_handle(f->svc, junk, sizeof(junk), NOW, &r));
    expect_refusal(&r, 400, 12);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);
    fx_free(f);
}

/* ---- media tickets: request (A) and resolve (B) ---- */

/* u's Kue in the given mode, issued by the service and opened as the UE does. */
static void obtain_kue(struct fx *f, const struct user *u, uint8_t mode, struct kms_kue_grant *g)
{
    struct kms_kue_request q;
    memset(&q, 0, sizeof(q));
    q.mode = mode;
    strcpy(q.idri, u->impu);
    strcpy(q.idrkms, FQDN);
    strcpy(q.btid, u->btid);
    expect_ok(kms_random(q.randri, sizeof(q.randri)));
    q.ntp = kms_mikey_ntp_from_unix((int64_t)NOW, 0);
    struct kms_buf req;
    struct kms_service_reply r;
    kms_buf_init(&req, 1 << 16, false);
    expect_ok(kms_kue_request_build(&q, u->ks_naf, &req));
    serve(f, &req, NOW, &r);
    assert_int_equal(r.status, 200);
    expect_ok(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                                    kms_buf_len(&r.body), u->ks_naf, g));
    assert_int_equal(g->mode, mode);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);
}

static void ticket_request(struct kms_buf *out, const char *idri, const char *idrr,
                           const struct kms_kue_grant *tok, const uint8_t *kue)
{
    struct kms_treq *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    strcpy(q->idri, idri);
    strcpy(q->idrkms, FQDN);
    strcpy(q->idrr, idrr);
    memcpy(q->psk_id, tok->ticket, tok->ticket_len);
    q->psk_id_len = tok->ticket_len;
    expect_ok(kms_random(q->randri, sizeof(q->randri)));
    q->ntp = kms_mikey_ntp_from_unix((int64_t)NOW, 0);
    kms_buf_init(out, 1 << 16, false);
    expect_ok(kms_treq_build(q, kue, out));
    free(q);
}

static void ticket_resolve(struct kms_buf *out, const char *idrr, const struct kms_kue_grant *tok,
                           const uint8_t *ticket, size_t ticket_len)
{
    struct kms_tres *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    strcpy(q->idrr, idrr);
    strcpy(q->idrkms, FQDN);
    memcpy(q->psk_id, tok->ticket, tok->ticket_len);
    q->psk_id_len = tok->ticket_len;
    memcpy(q->ticket, ticket, ticket_len);
    q->ticket_len = ticket_len;
    expect_ok(kms_random(q->randrr, sizeof(q->randrr)));
    q->ntp = kms_mikey_ntp_from_unix((int64_t)NOW, 0);
    kms_buf_init(out, 1 << 16, false);
    expect_ok(kms_tres_build(q, tok->kue, out));
    free(q);
}

/* A (mode 3) gets a media ticket for B; B (mode 2) resolves it to the same keys; C, who the
 * ticket does not name, and B with a tampered ticket are refused. */
static void test_ticket_request_and_resolve(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, true);
    struct kms_kue_grant *ka = calloc(1, sizeof(*ka)), *kb = calloc(1, sizeof(*kb)),
                         *kc = calloc(1, sizeof(*kc));
    struct kms_tgrant *ta = calloc(1, sizeof(*ta)), *tb = calloc(1, sizeof(*tb));
    assert_true(ka != NULL && kb != NULL && kc != NULL && ta != NULL && tb != NULL);
    obtain_kue(f, ALICE, 3, ka);
    obtain_kue(f, BOB, 2, kb);
    obtain_kue(f, CAROL, 3, kc);

    struct kms_buf req;
    struct kms_service_reply r;
    ticket_request(&req, ALICE->impu, BOB->impu, ka, ka->kue);
    serve(f, &req, NOW, &r);
    assert_int_equal(r.status, 200);
    expect_ok(kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                             kms_buf_len(&r.body), ka->kue, ta));
    assert_true(ta->tgk_len == 16 || ta->tgk_len == 32);
    assert_true(ta->ticket_len > 0);
    assert_int_equal(ta->valid_to, NOW + 60);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    /* B resolves A's ticket: the keys A holds. */
    ticket_resolve(&req, BOB->impu, kb, ta->ticket, ta->ticket_len);
    serve(f, &req, NOW + 1, &r);
    assert_int_equal(r.status, 200);
    expect_ok(kms_rresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                             kms_buf_len(&r.body), kb->kue, tb));
    assert_int_equal(tb->tgk_len, ta->tgk_len);
    expect_bytes_eq(tb->tgk, ta->tgk, ta->tgk_len);
    expect_bytes_eq(tb->mpk, ta->mpk, sizeof(ta->mpk));
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    /* C holds a valid Kue but is not the ticket's responder. */
    ticket_resolve(&req, CAROL->impu, kc, ta->ticket, ta->ticket_len);
    serve(f, &req, NOW + 1, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    /* A tampered ticket (one bit in its last octet, the tag): refused. */
    ta->ticket[ta->ticket_len - 1] ^= 0x01;
    ticket_resolve(&req, BOB->impu, kb, ta->ticket, ta->ticket_len);
    ta->ticket[ta->ticket_len - 1] ^= 0x01;
    serve(f, &req, NOW + 1, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    /* A's token and Kue, but B's identity as IDRi: the token does not name it. */
    ticket_request(&req, BOB->impu, CAROL->impu, ka, ka->kue);
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    kms_wipe(ka, sizeof(*ka));
    kms_wipe(kb, sizeof(*kb));
    kms_wipe(kc, sizeof(*kc));
    kms_wipe(ta, sizeof(*ta));
    kms_wipe(tb, sizeof(*tb));
    free(ka);
    free(kb);
    free(kc);
    free(ta);
    free(tb);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_mode3),
        cmocka_unit_test(test_issue_mode2),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ticket_request_and_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

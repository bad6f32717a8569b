/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS request handler in one process: a file keyring, a memory store, a replay guard and a
 * fake Zn; the UE side built with lib/kms/kms_kue_msg. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "keyring/kms_keyring.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_service.h"
#include "mikey/kms_mikey.h"
#include "mikey/kms_mikey_msg.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "ticket/kms_ticket.h"

#define NOW  1800000000u
#define FQDN "kms.example.org"
#define BTID "n/RZJSs/D2H9zi4XbK153w==@bsf.example.org"
#define IMPU "sip:+15550001@ims.example.org"

static const uint8_t KS_NAF[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
                                   3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};

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
    if (strcmp(btid, BTID) != 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    strcpy(out->impi, "user1@ims.example.org");
    strcpy(out->impu[0], IMPU);
    out->n_impu = 1;
    memcpy(out->ks_naf, KS_NAF, 32);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_mode3),
        cmocka_unit_test(test_issue_mode2),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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

/* (Re)creates f's service over f's keyring, store, replay guard and Zn, with the modes given:
 * what one service issued, another configuration of it can be asked to honour. */
static void fx_service(struct fx *f, bool mode1, bool mode2, bool mode3)
{
    kms_service_free(f->svc);
    f->svc = NULL;
    struct kms_service_cfg cfg = {.fqdn = FQDN,
                                  .mode1 = mode1,
                                  .mode2 = mode2,
                                  .mode3 = mode3,
                                  .kue_lifetime = 600,
                                  .ticket_lifetime = 60};
    struct kms_service_deps deps = {f->kr, f->st, f->rg, {&f->zn, zn_get, NULL}, {0}};
    expect_ok(kms_service_new(&cfg, &deps, &f->svc));
}

static struct fx *fx_new(bool mode1, bool mode2, bool mode3)
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
    fx_service(f, mode1, mode2, mode3);
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

static kms_result key_cb(void *ctx, const struct kms_mikey_msg *m, const uint8_t **key,
                         size_t *key_len)
{
    (void)m;
    *key = ctx;
    *key_len = 32;
    return (kms_result){KMS_OK};
}

/* A policy refusal: 403, and an Error with ERR 15 (Invalid TPpar) whose V verifies under the
 * request's own key with the response label (RFC 6043 5.1, 0x02) and the request's RAND in its
 * place (RANDRi, or RANDRr for a resolve), and under no other key or label: the UE can tell it
 * from a forgery, and it cannot be taken for a message in the UE's own direction. */
static void expect_policy_refusal(const struct kms_service_reply *r, const uint8_t key[32],
                                  const uint8_t *rand, size_t rand_len, bool resolve)
{
    assert_int_equal(r->status, 403);
    assert_int_equal(r->why, KMS_ERR_POLICY);
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    assert_non_null(m);
    size_t eo = 0;
    uint8_t k[32];
    memcpy(k, key, sizeof(k));
    struct kms_mikey_open_params op = {
        .data_type = KMS_MIKEY_DT_ERROR,
        .prot = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                 .rands = {resolve ? NULL : rand, resolve ? 0 : rand_len, resolve ? rand : NULL,
                           resolve ? rand_len : 0},
                 .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256},
        .get_key = key_cb,
        .key_ctx = k,
    };
    expect_ok(
        kms_mikey_open(kms_buf_data(&r->body), kms_buf_len(&r->body), &op, m, NULL, NULL, &eo));
    bool err15 = false;
    for (size_t i = 0; i < m->body.n; i++) {
        err15 |= m->body.pl[i].type == KMS_MIKEY_PT_ERR && m->body.pl[i].u.err.err_no == 15;
    }
    assert_true(err15);
    /* The initiator-direction label does not verify it. */
    struct kms_mikey_open_params init = op;
    init.prot.keying = KMS_MIKEY_KEYING_INITIAL;
    init.prot.rands = (struct kms_mikey_rands){rand, rand_len, NULL, 0};
    assert_false(kms_ok(
        kms_mikey_open(kms_buf_data(&r->body), kms_buf_len(&r->body), &init, m, NULL, NULL, &eo)));
    k[0] ^= 1;
    assert_false(kms_ok(
        kms_mikey_open(kms_buf_data(&r->body), kms_buf_len(&r->body), &op, m, NULL, NULL, &eo)));
    kms_wipe(k, sizeof(k));
    free(m);
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
    struct fx *f = fx_new(false, true, true);
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
    struct fx *f = fx_new(false, true, true);
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
    struct fx *f = fx_new(false, false, true); /* mode 2 not allowed */
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
    {
        /* A MACed Error: it opens under the request's keys (Ks_NAF, its RANDRi), ERR 15. */
        struct kms_mikey_msg *req_m = malloc(sizeof(*req_m));
        size_t eo = 0;
        expect_ok(kms_mikey_decode(kms_buf_data(&req), kms_buf_len(&req), req_m, &eo));
        const struct kms_mikey_payload *rr = NULL;
        for (size_t i = 0; i < req_m->body.n; i++) {
            if (req_m->body.pl[i].type == KMS_MIKEY_PT_RANDR) {
                rr = &req_m->body.pl[i];
            }
        }
        assert_non_null(rr);
        expect_policy_refusal(&r, KS_NAF, rr->u.randr.rand.p, rr->u.randr.rand.len, false);
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

/* The PSK side of a ticket request or resolve: IDRpsk and the key it MACs with. A Kue token
 * carries its Kue; in mode 1 IDRpsk is a B-TID and the builder derives Kue1 from that
 * bootstrap's Ks_NAF and the message's own RAND (into kue, for the caller to open the reply). */
struct psk {
    const uint8_t *tok;
    size_t tok_len;
    uint8_t kue[32];
    const uint8_t *ks_naf; /* mode 1 */
    bool other_rand;       /* mode 1: Kue1 from a RAND other than the message's */
};

static struct psk psk_token(const struct kms_kue_grant *g)
{
    struct psk k = {.tok = g->ticket, .tok_len = g->ticket_len};
    memcpy(k.kue, g->kue, sizeof(k.kue));
    return k;
}

static struct psk psk_bytes(const uint8_t *tok, size_t tok_len, const uint8_t kue[32])
{
    struct psk k = {.tok = tok, .tok_len = tok_len};
    memcpy(k.kue, kue, sizeof(k.kue));
    return k;
}

/* Mode 1 for bootstrap btid, whose Ks_NAF (as the UE derived it) is ks_naf. */
static struct psk psk_mode1(const char *btid, const uint8_t *ks_naf)
{
    struct psk k = {.tok = (const uint8_t *)btid, .tok_len = strlen(btid), .ks_naf = ks_naf};
    return k;
}

static void psk_key(struct psk *k, const uint8_t rand[16])
{
    if (k->ks_naf != NULL) {
        uint8_t r[16];
        memcpy(r, rand, sizeof(r));
        r[15] ^= k->other_rand ? 1 : 0;
        expect_ok(kms_kue1_derive(k->ks_naf, r, k->kue));
    }
}

/* A ticket request by idri for idrr under k, T = t; q (optional) keeps what was sent. */
static void ticket_request(struct kms_buf *out, struct kms_preq *q, const char *idri,
                           const char *idrr, struct psk *k, uint64_t t)
{
    struct kms_preq *mine = q != NULL ? q : calloc(1, sizeof(*mine));
    assert_non_null(mine);
    memset(mine, 0, sizeof(*mine));
    strcpy(mine->idri, idri);
    strcpy(mine->idrkms, FQDN);
    strcpy(mine->idrr, idrr);
    memcpy(mine->psk_id, k->tok, k->tok_len);
    mine->psk_id_len = k->tok_len;
    expect_ok(kms_random(mine->rand, sizeof(mine->rand)));
    mine->ntp = kms_mikey_ntp_from_unix((int64_t)t, 0);
    psk_key(k, mine->rand);
    kms_buf_init(out, 1 << 16, false);
    mine->kind = KMS_PREQ_REQUEST;
    expect_ok(kms_preq_build(mine, k->kue, out));
    if (q == NULL) {
        free(mine);
    }
}

/* A resolve of ticket by idrr under k, T = t; q (optional) keeps what was sent. */
static void ticket_resolve(struct kms_buf *out, struct kms_preq *q, const char *idrr, struct psk *k,
                           const uint8_t *ticket, size_t ticket_len, uint64_t t)
{
    struct kms_preq *mine = q != NULL ? q : calloc(1, sizeof(*mine));
    assert_non_null(mine);
    memset(mine, 0, sizeof(*mine));
    strcpy(mine->idrr, idrr);
    strcpy(mine->idrkms, FQDN);
    memcpy(mine->psk_id, k->tok, k->tok_len);
    mine->psk_id_len = k->tok_len;
    memcpy(mine->ticket, ticket, ticket_len);
    mine->ticket_len = ticket_len;
    expect_ok(kms_random(mine->rand, sizeof(mine->rand)));
    mine->ntp = kms_mikey_ntp_from_unix((int64_t)t, 0);
    psk_key(k, mine->rand);
    kms_buf_init(out, 1 << 16, false);
    mine->kind = KMS_PREQ_RESOLVE;
    expect_ok(kms_preq_build(mine, k->kue, out));
    if (q == NULL) {
        free(mine);
    }
}

/* Serves msg at now and expects the one authentication refusal: 403, ERR 0, no V. */
static void expect_auth_refusal(struct fx *f, const struct kms_buf *msg, uint64_t now)
{
    struct kms_service_reply r;
    serve(f, msg, now, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
}

/* Serves a ticket request at now; 200, and what the reply grants under k's key. */
static void expect_ticket(struct fx *f, const struct kms_buf *req, uint64_t now,
                          const struct psk *k, struct kms_tgrant *g)
{
    struct kms_service_reply r;
    serve(f, req, now, &r);
    assert_int_equal(r.status, 200);
    expect_ok(kms_tresp_open(kms_buf_data(req), kms_buf_len(req), kms_buf_data(&r.body),
                             kms_buf_len(&r.body), k->kue, g));
    kms_service_reply_cleanup(&r);
}

/* Serves a resolve at now; 200, and the keys the reply gives under k's key. */
static void expect_resolved(struct fx *f, const struct kms_buf *req, uint64_t now,
                            const struct psk *k, struct kms_tgrant *g)
{
    struct kms_service_reply r;
    serve(f, req, now, &r);
    assert_int_equal(r.status, 200);
    expect_ok(kms_rresp_open(kms_buf_data(req), kms_buf_len(req), kms_buf_data(&r.body),
                             kms_buf_len(&r.body), k->kue, g));
    kms_service_reply_cleanup(&r);
}

/* Both ends hold the same media keys. */
static void expect_same_keys(const struct kms_tgrant *a, const struct kms_tgrant *b)
{
    assert_true(a->tgk_len == 16 || a->tgk_len == 32);
    assert_int_equal(b->tgk_len, a->tgk_len);
    expect_bytes_eq(b->tgk, a->tgk, a->tgk_len);
    expect_bytes_eq(b->mpk, a->mpk, sizeof(a->mpk));
}

/* A (mode 3) gets a media ticket for B; B (mode 2) resolves it to the same keys; C, who the
 * ticket does not name, and B with a tampered ticket are refused. */
/* Two KMSs sharing one keyring and one state store (a mode-3 fleet): a Kue issued by one is
 * refused by the other, whose NAF_Id it does not carry, with the one authentication refusal;
 * the issuer still honours it. */
static void test_token_bound_to_its_kms(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, true, true);
    struct kms_service *other = NULL;
    struct kms_service_cfg cfg = {.fqdn = "kms-b.example.org",
                                  .mode2 = true,
                                  .mode3 = true,
                                  .kue_lifetime = 600,
                                  .ticket_lifetime = 60};
    struct kms_service_deps deps = {f->kr, f->st, f->rg, {&f->zn, zn_get, NULL}, {0}};
    expect_ok(kms_service_new(&cfg, &deps, &other));
    for (uint8_t mode = 2; mode <= 3; mode++) {
        struct kms_kue_grant *k = calloc(1, sizeof(*k));
        struct kms_preq *q = calloc(1, sizeof(*q));
        assert_true(k != NULL && q != NULL);
        obtain_kue(f, ALICE, mode, k);
        for (int to_other = 1; to_other >= 0; to_other--) {
            q->kind = KMS_PREQ_REQUEST;
            strcpy(q->idri, ALICE->impu);
            strcpy(q->idrr, BOB->impu);
            strcpy(q->idrkms, to_other ? cfg.fqdn : FQDN);
            memcpy(q->psk_id, k->ticket, k->ticket_len);
            q->psk_id_len = k->ticket_len;
            expect_ok(kms_random(q->rand, sizeof(q->rand)));
            q->ntp = kms_mikey_ntp_from_unix((int64_t)NOW, 0);
            struct kms_buf req;
            kms_buf_init(&req, 1 << 16, false);
            expect_ok(kms_preq_build(q, k->kue, &req));
            struct kms_service_reply r;
            kms_service_reply_init(&r);
            expect_ok(kms_service_handle(to_other ? other : f->svc, kms_buf_data(&req),
                                         kms_buf_len(&req), NOW, &r));
            if (to_other) {
                expect_refusal(&r, 403, 0);
                assert_int_equal(r.why, KMS_ERR_TICKET_NAF);
            } else {
                assert_int_equal(r.status, 200);
            }
            kms_service_reply_cleanup(&r);
            kms_buf_cleanup(&req);
        }
        free(k);
        free(q);
    }
    kms_service_free(other);
    fx_free(f);
}

static void test_ticket_request_and_resolve(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, true, true);
    struct kms_kue_grant *ka = calloc(1, sizeof(*ka)), *kb = calloc(1, sizeof(*kb)),
                         *kc = calloc(1, sizeof(*kc));
    struct kms_tgrant *ta = calloc(1, sizeof(*ta)), *tb = calloc(1, sizeof(*tb));
    assert_true(ka != NULL && kb != NULL && kc != NULL && ta != NULL && tb != NULL);
    obtain_kue(f, ALICE, 3, ka);
    obtain_kue(f, BOB, 2, kb);
    obtain_kue(f, CAROL, 3, kc);
    struct psk pa = psk_token(ka), pb = psk_token(kb), pc = psk_token(kc);

    struct kms_buf req;
    struct kms_service_reply r;
    ticket_request(&req, NULL, ALICE->impu, BOB->impu, &pa, NOW);
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
    ticket_resolve(&req, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, NOW + 1);
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
    ticket_resolve(&req, NULL, CAROL->impu, &pc, ta->ticket, ta->ticket_len, NOW + 1);
    serve(f, &req, NOW + 1, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    /* A tampered ticket (one bit in its last octet, the tag): refused. */
    ta->ticket[ta->ticket_len - 1] ^= 0x01;
    ticket_resolve(&req, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, NOW + 1);
    ta->ticket[ta->ticket_len - 1] ^= 0x01;
    serve(f, &req, NOW + 1, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    /* A's token and Kue, but B's identity as IDRi: the token does not name it. */
    ticket_request(&req, NULL, BOB->impu, CAROL->impu, &pa, NOW);
    serve(f, &req, NOW, &r);
    expect_refusal(&r, 403, 0);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);

    kms_wipe(&pa, sizeof(pa));
    kms_wipe(&pb, sizeof(pb));
    kms_wipe(&pc, sizeof(pc));
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

/* In mode 2 and in mode 3: A's request for B and B's resolve give both the same keys; then the
 * refusals that depend on the kind of token (replays, identities, tampering, expiry). */
static void test_ticket_exchanges(void **state)
{
    (void)state;
    for (uint8_t mode = 2; mode <= 3; mode++) {
        struct fx *f = fx_new(false, true, true);
        struct kms_kue_grant *ka = calloc(1, sizeof(*ka)), *kb = calloc(1, sizeof(*kb));
        struct kms_tgrant *ta = calloc(1, sizeof(*ta)), *tb = calloc(1, sizeof(*tb));
        assert_true(ka != NULL && kb != NULL && ta != NULL && tb != NULL);
        obtain_kue(f, ALICE, mode, ka);
        obtain_kue(f, BOB, mode, kb);
        struct psk pa = psk_token(ka), pb = psk_token(kb);
        struct kms_buf treq, tres, b;
        struct kms_service_reply r;

        ticket_request(&treq, NULL, ALICE->impu, BOB->impu, &pa, NOW + 1);
        /* A copy with a broken MAC (its last octet) first, as a forger racing the genuine
         * request would send: refused, and its (token, RAND) pair is not recorded (RFC 3830
         * 5.3: only a message whose MAC verified goes into the replay cache), so the genuine
         * request is still served. */
        uint8_t forged[8192];
        assert_true(kms_buf_len(&treq) <= sizeof(forged));
        memcpy(forged, kms_buf_data(&treq), kms_buf_len(&treq));
        forged[kms_buf_len(&treq) - 1] ^= 1;
        kms_buf_init(&b, sizeof(forged), false);
        expect_ok(kms_buf_put_bytes(&b, forged, kms_buf_len(&treq)));
        expect_auth_refusal(f, &b, NOW + 1);
        kms_buf_cleanup(&b);
        expect_ticket(f, &treq, NOW + 1, &pa, ta);
        assert_int_equal(ta->valid_to, NOW + 1 + 60);
        ticket_resolve(&tres, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, NOW + 2);
        expect_resolved(f, &tres, NOW + 2, &pb, tb);
        expect_same_keys(ta, tb);

        /* The same request bytes again: a replay. The same resolve bytes too. */
        expect_auth_refusal(f, &treq, NOW + 3);
        expect_auth_refusal(f, &tres, NOW + 3);

        /* A's token and Kue in a resolve as B (the ticket's responder): the token does not
         * name B. */
        ticket_resolve(&b, NULL, BOB->impu, &pa, ta->ticket, ta->ticket_len, NOW + 3);
        expect_auth_refusal(f, &b, NOW + 3);
        kms_buf_cleanup(&b);

        /* A's token with one bit flipped, 8 places spread over it (a sealed Kue that no longer
         * opens; a reference that names nothing), the request otherwise A's own. */
        for (size_t bit = 0; bit < ka->ticket_len * 8; bit += ka->ticket_len) {
            uint8_t tok[KMS_TICKET_MAX];
            memcpy(tok, ka->ticket, ka->ticket_len);
            tok[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            struct psk px = psk_bytes(tok, ka->ticket_len, ka->kue);
            ticket_request(&b, NULL, ALICE->impu, BOB->impu, &px, NOW + 3);
            expect_auth_refusal(f, &b, NOW + 3);
            kms_buf_cleanup(&b);
        }

        /* The media ticket at its expiry (60 s), the Kues still valid (600 s): refused; one
         * second earlier it still resolves to the same keys. */
        ticket_resolve(&b, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, ta->valid_to);
        expect_auth_refusal(f, &b, ta->valid_to);
        kms_buf_cleanup(&b);
        ticket_resolve(&b, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, ta->valid_to - 1);
        expect_resolved(f, &b, ta->valid_to - 1, &pb, tb);
        expect_same_keys(ta, tb);
        kms_buf_cleanup(&b);

        /* A's token at its expiry, T within the skew: refused; one second earlier, accepted
         * (the refusal is the token's expiry, not the clock). */
        assert_int_equal(ka->valid_to, NOW + 600);
        ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, ka->valid_to);
        expect_auth_refusal(f, &b, ka->valid_to);
        kms_buf_cleanup(&b);
        ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, ka->valid_to - 1);
        serve(f, &b, ka->valid_to - 1, &r);
        assert_int_equal(r.status, 200);
        kms_service_reply_cleanup(&r);
        kms_buf_cleanup(&b);

        kms_buf_cleanup(&treq);
        kms_buf_cleanup(&tres);
        kms_wipe(&pa, sizeof(pa));
        kms_wipe(&pb, sizeof(pb));
        kms_wipe(ka, sizeof(*ka));
        kms_wipe(kb, sizeof(*kb));
        kms_wipe(ta, sizeof(*ta));
        kms_wipe(tb, sizeof(*tb));
        free(ka);
        free(kb);
        free(ta);
        free(tb);
        fx_free(f);
    }
}

/* A 16-octet reference the store never issued, in a request and in a resolve, and the real
 * reference under another Kue: one answer, 403 ERR 0. */
static void test_ticket_unknown_reference(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, true, true);
    struct kms_kue_grant *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    obtain_kue(f, ALICE, 2, a);
    struct kms_buf b;
    uint8_t ref[KMS_KUE_REF_LEN];
    memcpy(ref, a->ticket, sizeof(ref));
    ref[0] ^= 0x80;
    struct psk unknown = psk_bytes(ref, sizeof(ref), a->kue);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &unknown, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);
    uint8_t ticket[64];
    memset(ticket, 0x5a, sizeof(ticket));
    ticket_resolve(&b, NULL, ALICE->impu, &unknown, ticket, sizeof(ticket), NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);
    uint8_t kue[32];
    memcpy(kue, a->kue, sizeof(kue));
    kue[31] ^= 1;
    struct psk wrong = psk_bytes(a->ticket, a->ticket_len, kue);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &wrong, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);
    /* The real reference and Kue: granted (the refusals above were the reference and the key). */
    struct psk pa = psk_token(a);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, NOW);
    struct kms_service_reply r;
    serve(f, &b, NOW, &r);
    assert_int_equal(r.status, 200);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&b);
    kms_wipe(&pa, sizeof(pa));
    kms_wipe(&unknown, sizeof(unknown));
    kms_wipe(&wrong, sizeof(wrong));
    kms_wipe(a, sizeof(*a));
    free(a);
    fx_free(f);
}

/* A service allowing only mode 3 (the same keyring and store) refuses a request with a mode-2
 * token after authenticating it: the policy refusal, MACed under the token's Kue. A mode-3
 * token is still served. */
static void test_ticket_mode_not_allowed(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, true, true);
    struct kms_kue_grant *k2 = calloc(1, sizeof(*k2)), *k3 = calloc(1, sizeof(*k3));
    struct kms_preq *q = calloc(1, sizeof(*q));
    assert_true(k2 != NULL && k3 != NULL && q != NULL);
    obtain_kue(f, ALICE, 2, k2);
    obtain_kue(f, ALICE, 3, k3);
    fx_service(f, false, false, true);
    struct psk p2 = psk_token(k2), p3 = psk_token(k3);
    struct kms_buf b;
    struct kms_service_reply r;
    ticket_request(&b, q, ALICE->impu, BOB->impu, &p2, NOW);
    serve(f, &b, NOW, &r);
    expect_policy_refusal(&r, k2->kue, q->rand, sizeof(q->rand), false);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&b);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &p3, NOW);
    serve(f, &b, NOW, &r);
    assert_int_equal(r.status, 200);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&b);
    kms_wipe(&p2, sizeof(p2));
    kms_wipe(&p3, sizeof(p3));
    kms_wipe(k2, sizeof(*k2));
    kms_wipe(k3, sizeof(*k3));
    free(k2);
    free(k3);
    free(q);
    fx_free(f);
}

/* ---- mode 1: requests keyed by Kue1 from a fresh bootstrap (docs/protocol.md 14) ---- */

/* A asks in mode 1, B resolves in mode 1: the same keys, Ks_NAF fetched over Zn. Replays of
 * either are refused. A mode-1 request is resolved by B with a mode-3 token just as well. */
static void test_mode1_request_and_resolve(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, true, true);
    struct kms_tgrant *ta = calloc(1, sizeof(*ta)), *tb = calloc(1, sizeof(*tb));
    struct kms_kue_grant *kb = calloc(1, sizeof(*kb));
    assert_true(ta != NULL && tb != NULL && kb != NULL);
    struct psk pa = psk_mode1(ALICE->btid, ALICE->ks_naf), pb = psk_mode1(BOB->btid, BOB->ks_naf);
    struct kms_buf req, res;

    int calls = f->zn.calls;
    ticket_request(&req, NULL, ALICE->impu, BOB->impu, &pa, NOW);
    expect_ticket(f, &req, NOW, &pa, ta);
    assert_int_equal(ta->valid_to, NOW + 60);
    assert_true(ta->ticket_len > 0);
    assert_true(f->zn.calls > calls);      /* Ks_NAF and the identities came over Zn */
    expect_auth_refusal(f, &req, NOW + 1); /* the same bytes again */
    kms_buf_cleanup(&req);

    ticket_resolve(&res, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, NOW + 1);
    expect_resolved(f, &res, NOW + 1, &pb, tb);
    expect_same_keys(ta, tb);
    expect_auth_refusal(f, &res, NOW + 2);
    kms_buf_cleanup(&res);

    /* Mixing modes: A in mode 1 (its IMPI, also the bootstrap's), B with a mode-3 token. */
    obtain_kue(f, BOB, 3, kb);
    struct psk pb3 = psk_token(kb);
    ticket_request(&req, NULL, "user1@ims.example.org", BOB->impu, &pa, NOW + 2);
    expect_ticket(f, &req, NOW + 2, &pa, ta);
    ticket_resolve(&res, NULL, BOB->impu, &pb3, ta->ticket, ta->ticket_len, NOW + 3);
    expect_resolved(f, &res, NOW + 3, &pb3, tb);
    expect_same_keys(ta, tb);
    kms_buf_cleanup(&req);
    kms_buf_cleanup(&res);

    kms_wipe(&pa, sizeof(pa));
    kms_wipe(&pb, sizeof(pb));
    kms_wipe(&pb3, sizeof(pb3));
    kms_wipe(ta, sizeof(*ta));
    kms_wipe(tb, sizeof(*tb));
    kms_wipe(kb, sizeof(*kb));
    free(ta);
    free(tb);
    free(kb);
    fx_free(f);
}

/* Mode 1's refusals: an unknown B-TID, the BSF down, an identity not the bootstrap's, Kue1 from
 * another RAND, Ks_NAF expired. */
static void test_mode1_refusals(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, true, true);
    struct kms_tgrant *ta = calloc(1, sizeof(*ta));
    assert_non_null(ta);
    struct psk pa = psk_mode1(ALICE->btid, ALICE->ks_naf), pb = psk_mode1(BOB->btid, BOB->ks_naf);
    struct kms_buf b;
    struct kms_service_reply r;

    /* A B-TID the BSF does not know. */
    struct psk pu = psk_mode1("dW5rbm93bnVua25vd24hIQ==@bsf.example.org", ALICE->ks_naf);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pu, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);

    /* The BSF cannot be asked: 503; the same bytes once it is back: 200 (nothing was spent). */
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, NOW);
    f->zn.answer = KMS_ERR_HTTP;
    serve(f, &b, NOW, &r);
    expect_refusal(&r, 503, 12);
    kms_service_reply_cleanup(&r);
    f->zn.answer = KMS_OK;
    expect_ticket(f, &b, NOW, &pa, ta);
    kms_buf_cleanup(&b);

    /* A's bootstrap with B's identity as IDRi; then as IDRr of a resolve of a ticket for B. */
    ticket_request(&b, NULL, BOB->impu, CAROL->impu, &pa, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);
    ticket_resolve(&b, NULL, BOB->impu, &pa, ta->ticket, ta->ticket_len, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);

    /* Kue1 derived from a RAND other than the message's own: the MAC fails. */
    pa.other_rand = true;
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);
    pb.other_rand = true;
    ticket_resolve(&b, NULL, BOB->impu, &pb, ta->ticket, ta->ticket_len, NOW);
    expect_auth_refusal(f, &b, NOW);
    kms_buf_cleanup(&b);
    pa.other_rand = false;
    pb.other_rand = false;

    /* Ks_NAF expires at NOW + 3600 (the fake BSF): a request then is refused, one second
     * earlier it is served. */
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, NOW + 3600);
    expect_auth_refusal(f, &b, NOW + 3600);
    kms_buf_cleanup(&b);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa, NOW + 3599);
    expect_ticket(f, &b, NOW + 3599, &pa, ta);
    kms_buf_cleanup(&b);

    kms_wipe(&pa, sizeof(pa));
    kms_wipe(&pb, sizeof(pb));
    kms_wipe(&pu, sizeof(pu));
    kms_wipe(ta, sizeof(*ta));
    free(ta);
    fx_free(f);
}

/* A service without mode 1 refuses a mode-1 request and a mode-1 resolve after authenticating
 * them: 403 ERR 15, MACed under Kue1 with the message's own RAND (RANDRi, RANDRr). */
static void test_mode1_not_allowed(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, true, true);
    struct kms_kue_grant *ka = calloc(1, sizeof(*ka));
    struct kms_tgrant *ta = calloc(1, sizeof(*ta));
    struct kms_preq *q = calloc(1, sizeof(*q));
    struct kms_preq *rq = calloc(1, sizeof(*rq));
    assert_true(ka != NULL && ta != NULL && q != NULL && rq != NULL);
    struct psk pa = psk_mode1(ALICE->btid, ALICE->ks_naf), pb = psk_mode1(BOB->btid, BOB->ks_naf);
    struct kms_buf b;
    struct kms_service_reply r;

    ticket_request(&b, q, ALICE->impu, BOB->impu, &pa, NOW);
    serve(f, &b, NOW, &r);
    expect_policy_refusal(&r, pa.kue, q->rand, sizeof(q->rand), false);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&b);

    /* A media ticket for B by A's mode-3 token, which B asks to resolve in mode 1. */
    obtain_kue(f, ALICE, 3, ka);
    struct psk pa3 = psk_token(ka);
    ticket_request(&b, NULL, ALICE->impu, BOB->impu, &pa3, NOW);
    expect_ticket(f, &b, NOW, &pa3, ta);
    kms_buf_cleanup(&b);
    ticket_resolve(&b, rq, BOB->impu, &pb, ta->ticket, ta->ticket_len, NOW);
    serve(f, &b, NOW, &r);
    expect_policy_refusal(&r, pb.kue, rq->rand, sizeof(rq->rand), true);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&b);

    kms_wipe(&pa, sizeof(pa));
    kms_wipe(&pb, sizeof(pb));
    kms_wipe(&pa3, sizeof(pa3));
    kms_wipe(ka, sizeof(*ka));
    kms_wipe(ta, sizeof(*ta));
    free(ka);
    free(ta);
    free(q);
    free(rq);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_mode3),
        cmocka_unit_test(test_issue_mode2),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_token_bound_to_its_kms),
        cmocka_unit_test(test_ticket_request_and_resolve),
        cmocka_unit_test(test_ticket_exchanges),
        cmocka_unit_test(test_ticket_unknown_reference),
        cmocka_unit_test(test_ticket_mode_not_allowed),
        cmocka_unit_test(test_mode1_request_and_resolve),
        cmocka_unit_test(test_mode1_refusals),
        cmocka_unit_test(test_mode1_not_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

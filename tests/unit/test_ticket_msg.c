/* SPDX-License-Identifier: Apache-2.0 */
/* The media ticket exchanges (lib/kms/kms_ticket_msg): A, B and the KMS in one process. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "kms/kms_kreq.h"
#include "kms/kms_ticket_msg.h"

static const char ID_A[] = "sip:+15550001@ims.example.org";
static const char ID_B[] = "sip:+15550002@ims.example.org";
static const char ID_KMS[] = "kms.example.org";

static uint8_t KUE_A[32], KUE_B[32], MPK[32], TGK[32];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < 32; i++) {
        KUE_A[i] = (uint8_t)(0x40 + i);
        KUE_B[i] = (uint8_t)(0x80 + i);
        MPK[i] = (uint8_t)(0xc0 + i);
        TGK[i] = (uint8_t)(0x10 + 3 * i);
    }
    return 0;
}

/* memmem without _GNU_SOURCE */
static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

/* The KMS's classifier, as the service calls it; the decoded message stays in kq for the open
 * that follows. A message the classifier reads as another exchange is not one of these. */
static struct kms_kreq kq;

static kms_result peek_kind(const uint8_t *msg, size_t len, enum kms_preq_kind kind,
                            struct kms_preq *p, size_t *eo)
{
    kms_result r = kms_kreq_classify(msg, len, &kq, eo);
    if (kms_ok(r) && (kq.kind != KMS_KREQ_TICKET || kq.u.p.kind != kind)) {
        r.err = KMS_ERR_UNSUPPORTED;
    }
    memset(p, 0, sizeof(*p));
    if (kms_ok(r)) {
        *p = kq.u.p;
    }
    return r;
}

static kms_result treq_peek(const uint8_t *msg, size_t len, struct kms_preq *p, size_t *eo)
{
    return peek_kind(msg, len, KMS_PREQ_REQUEST, p, eo);
}

static kms_result tres_peek(const uint8_t *msg, size_t len, struct kms_preq *p, size_t *eo)
{
    return peek_kind(msg, len, KMS_PREQ_RESOLVE, p, eo);
}

/* The KMS's answer to the request in msg (classified here into its own kms_kreq). */
static kms_result resp_build(const uint8_t *msg, size_t len, const uint8_t kue[32],
                             const struct kms_tgrant *g, struct kms_buf *out)
{
    static struct kms_kreq k;
    size_t eo = 0;
    kms_result r = kms_kreq_classify(msg, len, &k, &eo);
    if (kms_ok(r)) {
        r = kms_preq_resp_build(msg, len, &k.m, kue, g, out);
    }
    return r;
}

/* A's request; psk_len 300 stands for a sealed Kue, 16 for a Kue reference. */
static void make_treq(struct kms_preq *r, size_t psk_len, struct kms_buf *out)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->idri, ID_A);
    strcpy(r->idrkms, ID_KMS);
    strcpy(r->idrr, ID_B);
    r->psk_id_len = psk_len;
    for (size_t i = 0; i < psk_len; i++) {
        r->psk_id[i] = (uint8_t)i; /* a byte string: NUL and non-printable octets included */
    }
    expect_ok(kms_random(r->rand, sizeof(r->rand)));
    r->ntp = kms_mikey_ntp_from_unix(1800000000, 0);
    kms_buf_init(out, 1 << 16, false);
    r->kind = KMS_PREQ_REQUEST;
    expect_ok(kms_preq_build(r, KUE_A, out));
}

static void make_grant(struct kms_tgrant *g, size_t tgk_len)
{
    memset(g, 0, sizeof(*g));
    memcpy(g->mpk, MPK, 32);
    memcpy(g->tgk, TGK, tgk_len);
    g->tgk_len = tgk_len;
    g->ticket_len = 250;
    memset(g->ticket, 0x5c, g->ticket_len);
    g->valid_from = 1800000000;
    g->valid_to = 1800086400;
}

static void make_tres(struct kms_preq *r, const uint8_t *ticket, size_t ticket_len,
                      struct kms_buf *out)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->idrr, ID_B);
    strcpy(r->idrkms, ID_KMS);
    r->psk_id_len = 16;
    memset(r->psk_id, 0xb7, 16);
    memcpy(r->ticket, ticket, ticket_len);
    r->ticket_len = ticket_len;
    expect_ok(kms_random(r->rand, sizeof(r->rand)));
    r->ntp = kms_mikey_ntp_from_unix(1800000100, 0);
    kms_buf_init(out, 1 << 16, false);
    r->kind = KMS_PREQ_RESOLVE;
    expect_ok(kms_preq_build(r, KUE_B, out));
}

static void expect_grant_eq(const struct kms_tgrant *got, const struct kms_tgrant *want,
                            bool with_ticket)
{
    expect_bytes_eq(got->mpk, want->mpk, 32);
    assert_int_equal(got->tgk_len, want->tgk_len);
    expect_bytes_eq(got->tgk, want->tgk, want->tgk_len);
    assert_int_equal(got->valid_from, want->valid_from);
    assert_int_equal(got->valid_to, want->valid_to);
    if (with_ticket) {
        assert_int_equal(got->ticket_len, want->ticket_len);
        expect_bytes_eq(got->ticket, want->ticket, want->ticket_len);
    } else {
        assert_int_equal(got->ticket_len, 0);
    }
}

/* The receiving side of one message: peek (if any) and open. */
struct receiver {
    const char *what;
    kms_result (*accept)(const struct receiver *rv, const uint8_t *msg, size_t len);
    const uint8_t *req; /* for responses: the request answered */
    size_t req_len;
    const uint8_t *key;
};

static kms_result accept_treq(const struct receiver *rv, const uint8_t *msg, size_t len)
{
    struct kms_preq *p = malloc(sizeof(*p));
    size_t eo;
    kms_result r = treq_peek(msg, len, p, &eo);
    if (kms_ok(r)) {
        r = kms_preq_open(msg, len, &kq.m, p, rv->key, NULL);
    }
    free(p);
    return r;
}

static kms_result accept_tres(const struct receiver *rv, const uint8_t *msg, size_t len)
{
    struct kms_preq *p = malloc(sizeof(*p));
    size_t eo;
    kms_result r = tres_peek(msg, len, p, &eo);
    if (kms_ok(r)) {
        r = kms_preq_open(msg, len, &kq.m, p, rv->key, NULL);
    }
    free(p);
    return r;
}

static kms_result accept_transfer(const struct receiver *rv, const uint8_t *msg, size_t len)
{
    struct kms_transfer *p = malloc(sizeof(*p));
    size_t eo;
    kms_result r = kms_transfer_peek(msg, len, p, &eo);
    if (kms_ok(r)) {
        r = kms_transfer_open(msg, len, rv->key);
    }
    free(p);
    return r;
}

static kms_result accept_tresp(const struct receiver *rv, const uint8_t *msg, size_t len)
{
    struct kms_tgrant *g = malloc(sizeof(*g));
    kms_result r = kms_tresp_open(rv->req, rv->req_len, msg, len, rv->key, g);
    free(g);
    return r;
}

static kms_result accept_rresp(const struct receiver *rv, const uint8_t *msg, size_t len)
{
    struct kms_tgrant *g = malloc(sizeof(*g));
    kms_result r = kms_rresp_open(rv->req, rv->req_len, msg, len, rv->key, g);
    free(g);
    return r;
}

static void every_bit_flip_refused(const struct receiver *rv, struct kms_buf *b)
{
    uint8_t *bytes = b->d;
    size_t n = kms_buf_len(b);
    expect_ok(rv->accept(rv, bytes, n));
    for (size_t bit = 0; bit < n * 8; bit++) {
        bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        kms_result r = rv->accept(rv, bytes, n);
        bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (kms_ok(r)) {
            fail_msg("%s: bit %zu flipped was accepted", rv->what, bit);
        }
    }
    expect_ok(rv->accept(rv, bytes, n));
}

static void every_truncation_refused(const struct receiver *rv, const struct kms_buf *b)
{
    for (size_t len = 0; len < kms_buf_len(b); len++) {
        if (kms_ok(rv->accept(rv, kms_buf_data(b), len))) {
            fail_msg("%s: truncated to %zu octets was accepted", rv->what, len);
        }
    }
}

struct hook_counts {
    int checks, commits;
};

static kms_result h_check(void *ctx, const struct kms_mikey_msg *m)
{
    (void)m;
    ((struct hook_counts *)ctx)->checks++;
    return (kms_result){KMS_OK};
}

static kms_result h_commit(void *ctx, const struct kms_mikey_msg *m)
{
    (void)m;
    ((struct hook_counts *)ctx)->commits++;
    return (kms_result){KMS_OK};
}

static void test_request_exchange(void **state)
{
    (void)state;
    static const size_t psk_lens[] = {300, 16};
    for (size_t k = 0; k < 2; k++) {
        struct kms_preq *r = malloc(sizeof(*r)), *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
        struct kms_buf req, resp;
        make_treq(r, psk_lens[k], &req);
        size_t eo = 0;
        expect_ok(treq_peek(kms_buf_data(&req), kms_buf_len(&req), p, &eo));
        assert_string_equal(p->idri, ID_A);
        assert_string_equal(p->idrkms, ID_KMS);
        assert_string_equal(p->idrr, ID_B);
        assert_int_equal(p->psk_id_len, r->psk_id_len);
        expect_bytes_eq(p->psk_id, r->psk_id, r->psk_id_len);
        expect_bytes_eq(p->rand, r->rand, 16);
        assert_int_equal(p->ntp, r->ntp);
        assert_int_equal(p->csb_id, r->csb_id);
        struct hook_counts hc = {0};
        struct kms_mikey_replay_hook hook = {h_check, h_commit, &hc};
        expect_ok(kms_preq_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, p, KUE_A, &hook));
        assert_int_equal(hc.checks, 1);
        assert_int_equal(hc.commits, 1);
        /* Another Kue, or another identity in the MAC coverage: refused, and not committed. */
        expect_err(kms_preq_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, p, KUE_B, &hook),
                   KMS_ERR_AUTH);
        *q = *p;
        strcpy(q->idri, "sip:mallory@ims.example.org");
        expect_err(kms_preq_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, q, KUE_A, &hook),
                   KMS_ERR_AUTH);
        *q = *p;
        strcpy(q->idrkms, "kms.example.net");
        expect_err(kms_preq_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, q, KUE_A, &hook),
                   KMS_ERR_AUTH);
        assert_int_equal(hc.commits, 1);

        for (size_t tgk_len = 16; tgk_len <= 32; tgk_len += 16) {
            struct kms_tgrant *g = malloc(sizeof(*g)), *got = malloc(sizeof(*got));
            make_grant(g, tgk_len);
            kms_buf_init(&resp, 1 << 16, false);
            expect_ok(resp_build(kms_buf_data(&req), kms_buf_len(&req), KUE_A, g, &resp));
            expect_ok(kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp),
                                     kms_buf_len(&resp), KUE_A, got));
            expect_grant_eq(got, g, true);
            /* The keys are not in clear on the wire. */
            assert_false(contains(kms_buf_data(&resp), kms_buf_len(&resp), MPK, 16));
            assert_false(contains(kms_buf_data(&resp), kms_buf_len(&resp), TGK, 16));
            /* Another Kue: refused, and nothing handed out. */
            expect_err(kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp),
                                      kms_buf_len(&resp), KUE_B, got),
                       KMS_ERR_AUTH);
            assert_int_equal(got->tgk_len, 0);
            struct receiver rv = {"REQUEST_RESP", accept_tresp, kms_buf_data(&req),
                                  kms_buf_len(&req), KUE_A};
            every_bit_flip_refused(&rv, &resp);
            /* A response to another request is refused. */
            struct kms_preq *r2 = malloc(sizeof(*r2));
            struct kms_buf req2;
            make_treq(r2, psk_lens[k], &req2);
            expect_err(kms_tresp_open(kms_buf_data(&req2), kms_buf_len(&req2), kms_buf_data(&resp),
                                      kms_buf_len(&resp), KUE_A, got),
                       KMS_ERR_AUTH);
            /* A REQUEST_RESP is not a RESOLVE_RESP. */
            assert_false(
                kms_ok(kms_rresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp),
                                      kms_buf_len(&resp), KUE_A, got)));
            kms_buf_cleanup(&req2);
            kms_buf_cleanup(&resp);
            free(r2);
            free(g);
            free(got);
        }
        struct receiver rq = {"REQUEST_INIT_PSK", accept_treq, NULL, 0, KUE_A};
        every_bit_flip_refused(&rq, &req);
        every_truncation_refused(&rq, &req);
        kms_buf_cleanup(&req);
        free(r);
        free(p);
        free(q);
    }
}

/* A gets a ticket, transfers it to B, B resolves it and checks the transfer. */
static void test_transfer_and_resolve(void **state)
{
    (void)state;
    struct kms_preq *r = malloc(sizeof(*r));
    struct kms_tgrant *g = malloc(sizeof(*g)), *ga = malloc(sizeof(*ga)), *gb = malloc(sizeof(*gb));
    struct kms_buf req, resp, xfer, res, rresp;
    make_treq(r, 300, &req);
    make_grant(g, 16);
    kms_buf_init(&resp, 1 << 16, false);
    expect_ok(resp_build(kms_buf_data(&req), kms_buf_len(&req), KUE_A, g, &resp));
    expect_ok(kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp),
                             kms_buf_len(&resp), KUE_A, ga));

    /* A -> B: TRANSFER_INIT keyed by the MPK. */
    kms_buf_init(&xfer, 1 << 16, false);
    expect_ok(kms_transfer_build(ID_A, ID_B, ga->mpk, ga->ticket, ga->ticket_len, &xfer));
    assert_false(contains(kms_buf_data(&xfer), kms_buf_len(&xfer), MPK, 16));
    struct kms_transfer *t = malloc(sizeof(*t));
    size_t eo = 0;
    expect_ok(kms_transfer_peek(kms_buf_data(&xfer), kms_buf_len(&xfer), t, &eo));
    assert_string_equal(t->idri, ID_A);
    assert_string_equal(t->idrr, ID_B);
    assert_int_equal(t->ticket_len, ga->ticket_len);
    expect_bytes_eq(t->ticket, ga->ticket, ga->ticket_len);

    /* B -> KMS: RESOLVE_INIT_PSK with the ticket, keyed by B's Kue. */
    struct kms_preq *rs = malloc(sizeof(*rs)), *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    make_tres(rs, t->ticket, t->ticket_len, &res);
    expect_ok(tres_peek(kms_buf_data(&res), kms_buf_len(&res), p, &eo));
    assert_string_equal(p->idrr, ID_B);
    assert_string_equal(p->idrkms, ID_KMS);
    assert_int_equal(p->psk_id_len, 16);
    expect_bytes_eq(p->psk_id, rs->psk_id, 16);
    assert_int_equal(p->ticket_len, g->ticket_len);
    expect_bytes_eq(p->ticket, g->ticket, g->ticket_len);
    expect_bytes_eq(p->rand, rs->rand, 16);
    assert_int_equal(p->ntp, rs->ntp);
    assert_int_equal(p->csb_id, rs->csb_id);
    struct hook_counts hc = {0};
    struct kms_mikey_replay_hook hook = {h_check, h_commit, &hc};
    expect_ok(kms_preq_open(kms_buf_data(&res), kms_buf_len(&res), &kq.m, p, KUE_B, &hook));
    assert_int_equal(hc.checks, 1);
    assert_int_equal(hc.commits, 1);
    expect_err(kms_preq_open(kms_buf_data(&res), kms_buf_len(&res), &kq.m, p, KUE_A, NULL),
               KMS_ERR_AUTH);
    *q = *p;
    strcpy(q->idrr, ID_A);
    expect_err(kms_preq_open(kms_buf_data(&res), kms_buf_len(&res), &kq.m, q, KUE_B, NULL),
               KMS_ERR_AUTH);
    *q = *p;
    strcpy(q->idrkms, "kms.example.net");
    expect_err(kms_preq_open(kms_buf_data(&res), kms_buf_len(&res), &kq.m, q, KUE_B, NULL),
               KMS_ERR_AUTH);

    /* KMS -> B: RESOLVE_RESP with the keys. */
    kms_buf_init(&rresp, 1 << 16, false);
    expect_ok(resp_build(kms_buf_data(&res), kms_buf_len(&res), KUE_B, g, &rresp));
    assert_false(contains(kms_buf_data(&rresp), kms_buf_len(&rresp), MPK, 16));
    assert_false(contains(kms_buf_data(&rresp), kms_buf_len(&rresp), TGK, 16));
    expect_ok(kms_rresp_open(kms_buf_data(&res), kms_buf_len(&res), kms_buf_data(&rresp),
                             kms_buf_len(&rresp), KUE_B, gb));
    expect_grant_eq(gb, g, false);
    /* A and B now hold the same TGK, and B checks A's transfer with the MPK. */
    assert_int_equal(gb->tgk_len, ga->tgk_len);
    expect_bytes_eq(gb->tgk, ga->tgk, ga->tgk_len);
    uint8_t mpk_b[32], other[32];
    memcpy(mpk_b, gb->mpk, 32);
    expect_ok(kms_transfer_open(kms_buf_data(&xfer), kms_buf_len(&xfer), mpk_b));
    memcpy(other, mpk_b, 32);
    other[31] ^= 0x80;
    expect_err(kms_transfer_open(kms_buf_data(&xfer), kms_buf_len(&xfer), other), KMS_ERR_AUTH);
    expect_err(kms_rresp_open(kms_buf_data(&res), kms_buf_len(&res), kms_buf_data(&rresp),
                              kms_buf_len(&rresp), KUE_A, gb),
               KMS_ERR_AUTH);
    assert_int_equal(gb->tgk_len, 0);
    /* A response to another resolve is refused. */
    struct kms_preq *rs2 = malloc(sizeof(*rs2));
    struct kms_buf res2;
    make_tres(rs2, t->ticket, t->ticket_len, &res2);
    expect_err(kms_rresp_open(kms_buf_data(&res2), kms_buf_len(&res2), kms_buf_data(&rresp),
                              kms_buf_len(&rresp), KUE_B, gb),
               KMS_ERR_AUTH);
    /* A RESOLVE_RESP is not a REQUEST_RESP (nor does a resolve pass for a request). */
    assert_false(kms_ok(kms_tresp_open(kms_buf_data(&res), kms_buf_len(&res), kms_buf_data(&rresp),
                                       kms_buf_len(&rresp), KUE_B, gb)));
    struct kms_preq *tq = malloc(sizeof(*tq));
    assert_false(kms_ok(treq_peek(kms_buf_data(&res), kms_buf_len(&res), tq, &eo)));
    assert_false(kms_ok(tres_peek(kms_buf_data(&req), kms_buf_len(&req), q, &eo)));
    assert_false(kms_ok(kms_transfer_peek(kms_buf_data(&res), kms_buf_len(&res), t, &eo)));

    /* Every bit of every message flipped, every truncation of every request: refused. */
    struct receiver rx = {"TRANSFER_INIT", accept_transfer, NULL, 0, mpk_b};
    struct receiver rr = {"RESOLVE_INIT_PSK", accept_tres, NULL, 0, KUE_B};
    struct receiver rp = {"RESOLVE_RESP", accept_rresp, kms_buf_data(&res), kms_buf_len(&res),
                          KUE_B};
    every_bit_flip_refused(&rx, &xfer);
    every_bit_flip_refused(&rr, &res);
    every_bit_flip_refused(&rp, &rresp);
    every_truncation_refused(&rx, &xfer);
    every_truncation_refused(&rr, &res);
    every_truncation_refused(&rp, &rresp);

    kms_buf_cleanup(&req);
    kms_buf_cleanup(&resp);
    kms_buf_cleanup(&xfer);
    kms_buf_cleanup(&res);
    kms_buf_cleanup(&res2);
    kms_buf_cleanup(&rresp);
    free(r);
    free(g);
    free(ga);
    free(gb);
    free(t);
    free(rs);
    free(rs2);
    free(p);
    free(q);
    free(tq);
}

/* The offset of the ticket type of the first TP or TICKET payload (after its Next Payload). */
static size_t ticket_type_off(const struct kms_buf *b, uint8_t pt)
{
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    size_t eo = 0, off = 0;
    expect_ok(kms_mikey_decode(kms_buf_data(b), kms_buf_len(b), m, &eo));
    const struct kms_mikey_payload *pl = kms_mikey_find(&m->body, pt, NULL);
    assert_non_null(pl);
    off = pl->off + 1;
    free(m);
    return off;
}

static void set_u16(struct kms_buf *b, size_t off, uint16_t v)
{
    b->d[off] = (uint8_t)(v >> 8);
    b->d[off + 1] = (uint8_t)v;
}

/* A ticket type other than the media ticket is refused before any key is used. */
static void test_unsupported_ticket_type(void **state)
{
    (void)state;
    struct kms_preq *r = malloc(sizeof(*r)), *p = malloc(sizeof(*p));
    struct kms_preq *rs = malloc(sizeof(*rs)), *ps = malloc(sizeof(*ps));
    struct kms_transfer *pt = malloc(sizeof(*pt));
    struct kms_buf req, res, xfer;
    size_t eo = 0;
    static const uint16_t others[] = {KMS_TICKET_TYPE_SEALED_KUE, KMS_TICKET_TYPE_KUE_REF, 0x0001,
                                      0xF1A3};
    make_treq(r, 16, &req);
    size_t off = ticket_type_off(&req, KMS_MIKEY_PT_TP);
    /* Another TP type makes the REQUEST_INIT_PSK a Kue issue in the classifier's eyes, never a
     * ticket request; this one's IDRpsk is a Kue token, not a B-TID, so the Kue issue reader
     * refuses it before it looks at the type. */
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        set_u16(&req, off, others[i]);
        assert_false(kms_ok(treq_peek(kms_buf_data(&req), kms_buf_len(&req), p, &eo)));
        struct kms_kreq *k = malloc(sizeof(*k));
        kms_result cr = kms_kreq_classify(kms_buf_data(&req), kms_buf_len(&req), k, &eo);
        assert_int_equal(cr.err, KMS_ERR_MALFORMED);
        free(k);
    }
    uint8_t ticket[40];
    memset(ticket, 0x11, sizeof(ticket));
    make_tres(rs, ticket, sizeof(ticket), &res);
    off = ticket_type_off(&res, KMS_MIKEY_PT_TICKET);
    set_u16(&res, off, KMS_TICKET_TYPE_SEALED_KUE);
    expect_err(tres_peek(kms_buf_data(&res), kms_buf_len(&res), ps, &eo), KMS_ERR_UNSUPPORTED);
    kms_buf_init(&xfer, 1 << 16, false);
    expect_ok(kms_transfer_build(ID_A, ID_B, MPK, ticket, sizeof(ticket), &xfer));
    off = ticket_type_off(&xfer, KMS_MIKEY_PT_TICKET);
    set_u16(&xfer, off, KMS_TICKET_TYPE_KUE_REF);
    expect_err(kms_transfer_peek(kms_buf_data(&xfer), kms_buf_len(&xfer), pt, &eo),
               KMS_ERR_UNSUPPORTED);
    kms_buf_cleanup(&req);
    kms_buf_cleanup(&res);
    kms_buf_cleanup(&xfer);
    free(r);
    free(p);
    free(rs);
    free(ps);
    free(pt);
}

/* What the builders refuse to put on the wire. */
static void test_build_refusals(void **state)
{
    (void)state;
    struct kms_preq *r = malloc(sizeof(*r)), *bad = malloc(sizeof(*bad));
    struct kms_tgrant *g = malloc(sizeof(*g));
    struct kms_buf req, out;
    make_treq(r, 16, &req);
    kms_buf_init(&out, 1 << 16, false);
    *bad = *r;
    bad->idrr[0] = '\0';
    expect_err(kms_preq_build(bad, KUE_A, &out), KMS_ERR_ARG);
    *bad = *r;
    strcpy(bad->idri, "sip:a b@example.org");
    expect_err(kms_preq_build(bad, KUE_A, &out), KMS_ERR_ARG);
    *bad = *r;
    bad->psk_id_len = 0;
    expect_err(kms_preq_build(bad, KUE_A, &out), KMS_ERR_ARG);
    make_grant(g, 24);
    expect_err(resp_build(kms_buf_data(&req), kms_buf_len(&req), KUE_A, g, &out), KMS_ERR_ARG);
    make_grant(g, 16);
    g->valid_to = g->valid_from;
    expect_err(resp_build(kms_buf_data(&req), kms_buf_len(&req), KUE_A, g, &out), KMS_ERR_ARG);
    make_grant(g, 16);
    g->ticket_len = 0;
    expect_err(resp_build(kms_buf_data(&req), kms_buf_len(&req), KUE_A, g, &out), KMS_ERR_ARG);
    expect_err(kms_transfer_build(ID_A, "", MPK, g->ticket, 10, &out), KMS_ERR_ARG);
    expect_err(kms_transfer_build(ID_A, ID_B, MPK, g->ticket, 0, &out), KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&out), 0);
    kms_buf_cleanup(&req);
    kms_buf_cleanup(&out);
    free(r);
    free(bad);
    free(g);
}

/* The KMS serves the timestamp replay mode only: a ticket request or resolve whose T is
 * COUNTER (or any type but NTP-UTC) is refused by the classifier, and so is a Transfer by the
 * responder's reader. The same messages re-encoded with their NTP-UTC T pass. */
static void test_only_ntp_utc_timestamps(void **state)
{
    (void)state;
    const struct th_ts *others = th_ts_not_ntp_utc;
    struct kms_preq *r = malloc(sizeof(*r)), *p = malloc(sizeof(*p));
    struct kms_transfer *pt = malloc(sizeof(*pt));
    assert_true(r != NULL && p != NULL && pt != NULL);
    uint8_t ticket[40];
    memset(ticket, 0x11, sizeof(ticket));
    struct kms_buf msgs[4];
    size_t eo = 0;
    make_treq(r, 16, &msgs[0]);
    make_treq(r, 300, &msgs[1]);
    make_tres(r, ticket, sizeof(ticket), &msgs[2]);
    kms_buf_init(&msgs[3], 1 << 16, false);
    expect_ok(kms_transfer_build(ID_A, ID_B, MPK, ticket, sizeof(ticket), &msgs[3]));
    for (size_t k = 0; k < 4; k++) {
        const uint8_t *d = kms_buf_data(&msgs[k]);
        size_t n = kms_buf_len(&msgs[k]);
        kms_result (*peek)(const uint8_t *, size_t, struct kms_preq *, size_t *) =
            k == 2 ? tres_peek : treq_peek;
        struct kms_mikey_msg *m = calloc(1, sizeof(*m));
        assert_non_null(m);
        expect_ok(kms_mikey_decode(d, n, m, &eo));
        const struct kms_mikey_payload *t = kms_mikey_find(&m->body, KMS_MIKEY_PT_T, NULL);
        assert_non_null(t);
        assert_int_equal(t->u.t.ts_type, KMS_MIKEY_TS_NTP_UTC);
        struct kms_buf same;
        th_mikey_set_t(d, n, KMS_MIKEY_TS_NTP_UTC, t->u.t.value, &same);
        free(m);
        expect_bytes_eq(kms_buf_data(&same), d, n);
        if (k < 3) {
            expect_ok(peek(kms_buf_data(&same), kms_buf_len(&same), p, &eo));
        } else {
            expect_ok(kms_transfer_peek(kms_buf_data(&same), kms_buf_len(&same), pt, &eo));
        }
        kms_buf_cleanup(&same);
        for (size_t i = 0; i < TH_TS_NOT_NTP_UTC_N; i++) {
            struct kms_buf other;
            th_mikey_set_t(d, n, others[i].type, others[i].value, &other);
            kms_result got =
                k < 3 ? peek(kms_buf_data(&other), kms_buf_len(&other), p, &eo)
                      : kms_transfer_peek(kms_buf_data(&other), kms_buf_len(&other), pt, &eo);
            if (got.err != KMS_ERR_UNSUPPORTED) {
                fail_msg("message %zu, T type %u: %s", k, others[i].type, kms_err_name(got.err));
            }
            kms_buf_cleanup(&other);
        }
        kms_buf_cleanup(&msgs[k]);
    }
    free(r);
    free(p);
    free(pt);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

/* kms_kreq_wipe leaves a request that was zero before it was classified zero again (it wipes
 * only what was written: the service relies on it to reuse one kms_kreq per thread). */
static void test_kreq_wipe_leaves_zero(void **state)
{
    (void)state;
    struct kms_preq *r = calloc(1, sizeof(*r));
    struct kms_kreq *k = calloc(1, sizeof(*k));
    assert_non_null(r);
    assert_non_null(k);
    uint8_t ticket[300];
    memset(ticket, 0xe1, sizeof(ticket));
    for (int kind = 0; kind < 2; kind++) {
        struct kms_buf req;
        if (kind == 0) {
            make_treq(r, 300, &req);
        } else {
            make_tres(r, ticket, sizeof(ticket), &req);
        }
        size_t eo = 0;
        expect_ok(kms_kreq_classify(kms_buf_data(&req), kms_buf_len(&req), k, &eo));
        assert_int_equal(k->kind, KMS_KREQ_TICKET);
        assert_false(all_zero(k, sizeof(*k)));
        kms_kreq_wipe(k);
        assert_true(all_zero(k, sizeof(*k)));
        kms_buf_cleanup(&req);
    }
    free(r);
    free(k);
}

static kms_result accept_tr_resp(const struct receiver *rv, const uint8_t *msg, size_t len)
{
    struct kms_transfer_resp *o = malloc(sizeof(*o));
    kms_result r = kms_transfer_resp_open(rv->req, rv->req_len, msg, len, rv->key, o);
    free(o);
    return r;
}

/* The KMS issues media tickets with D, F, G, H (RFC 6043 6.10) and names the ticket's
 * initiator in the RESOLVE_RESP, inside the MAC; a transfer with a crypto session carries its
 * GENERIC-ID map and SP; the TRANSFER_RESP adds CS 2 and is bound to the TRANSFER_INIT. */
static void test_media_transfer_and_resp(void **state)
{
    (void)state;
    struct kms_preq *r = malloc(sizeof(*r)), *rs = malloc(sizeof(*rs));
    struct kms_tgrant *g = malloc(sizeof(*g)), *ga = malloc(sizeof(*ga)), *gb = malloc(sizeof(*gb));
    struct kms_buf req, resp, xfer, res, rresp, tr, tr2;
    make_treq(r, 16, &req);
    make_grant(g, 16);
    kms_buf_init(&resp, 1 << 16, false);
    expect_ok(resp_build(kms_buf_data(&req), kms_buf_len(&req), KUE_A, g, &resp));
    expect_ok(kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp),
                             kms_buf_len(&resp), KUE_A, ga));
    assert_int_equal(ga->ticket_flags,
                     KMS_MIKEY_TF_D | KMS_MIKEY_TF_F | KMS_MIKEY_TF_G | KMS_MIKEY_TF_H);
    /* The TICKET's flag octets on the wire (RFC 6043 6.10: octet 5 bit 0 D; octet 6
     * E F G H I J K L from the top): 0x03 (PRF 1, D) then 0x70 (F, G, H). */
    static const uint8_t tkt_hdr[] = {0xF1, 0xA2, 0x01, 0x01, 0x03, 0x70, 0x00};
    assert_true(contains(kms_buf_data(&resp), kms_buf_len(&resp), tkt_hdr, sizeof(tkt_hdr)));

    struct kms_tmsg_media md = {.sp = {0, 1, 1}, .sp_len = 3, .n_cs = 1};
    md.cs[0] = (struct kms_tmsg_cs){1, 0x11223344, 0, 0x5566};
    const struct kms_transfer_spec spec = {
        ID_A, ID_B, ga->mpk, ga->ticket, ga->ticket_len, ga->ticket_flags, &md};
    kms_buf_init(&xfer, 1 << 16, false);
    expect_ok(kms_transfer_build_spec(&spec, &xfer));
    struct kms_transfer *t = malloc(sizeof(*t));
    size_t eo = 0;
    expect_ok(kms_transfer_peek(kms_buf_data(&xfer), kms_buf_len(&xfer), t, &eo));
    assert_int_equal(t->ticket_flags, ga->ticket_flags);
    assert_true(t->v); /* V = F */
    assert_int_equal(t->media.n_cs, 1);
    assert_int_equal(t->media.cs[0].cs_id, 1);
    assert_int_equal(t->media.cs[0].ssrc, 0x11223344);
    assert_int_equal(t->media.cs[0].seq, 0x5566);
    assert_int_equal(t->media.sp_len, 3);
    expect_bytes_eq(t->media.sp, md.sp, 3);
    /* RFC 6043 6.1.1 on the wire: HDR #CS 1, map 2, then CS ID 1, Prot 0, S = 1 #P = 1, Ps 0,
     * Session Data length 10, SSRC, ROC, SEQ, SPI length 1, SPI 1. */
    static const uint8_t map[] = {0x01, 0x02, 0x01, 0x00, 0x81, 0x00, 0x00, 0x0a, 0x11, 0x22,
                                  0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0x55, 0x66, 0x01, 0x01};
    expect_bytes_eq(kms_buf_data(&xfer) + 8, map, sizeof(map));

    /* The resolve: the RESOLVE_RESP names the initiator (IDRi, inside the MAC). */
    make_tres(rs, t->ticket, t->ticket_len, &res);
    strcpy(g->initiator, ID_A);
    kms_buf_init(&rresp, 1 << 16, false);
    expect_ok(resp_build(kms_buf_data(&res), kms_buf_len(&res), KUE_B, g, &rresp));
    expect_ok(kms_rresp_open(kms_buf_data(&res), kms_buf_len(&res), kms_buf_data(&rresp),
                             kms_buf_len(&rresp), KUE_B, gb));
    assert_string_equal(gb->initiator, ID_A);
    struct receiver rp = {"RESOLVE_RESP with IDRi", accept_rresp, kms_buf_data(&res),
                          kms_buf_len(&res), KUE_B};
    every_bit_flip_refused(&rp, &rresp);
    /* Without an initiator in the grant, no IDRi (and the UE gets ""). */
    g->initiator[0] = '\0';
    kms_buf_reset(&rresp);
    expect_ok(resp_build(kms_buf_data(&res), kms_buf_len(&res), KUE_B, g, &rresp));
    expect_ok(kms_rresp_open(kms_buf_data(&res), kms_buf_len(&res), kms_buf_data(&rresp),
                             kms_buf_len(&rresp), KUE_B, gb));
    assert_string_equal(gb->initiator, "");

    /* B answers with CS 2; A opens it. */
    struct kms_transfer_resp *br = calloc(1, sizeof(*br)), *ar = malloc(sizeof(*ar));
    strcpy(br->idrr, ID_B);
    memset(br->randrr, 0x77, sizeof(br->randrr));
    br->media.n_cs = 2;
    br->media.cs[0] = t->media.cs[0];
    br->media.cs[1] = (struct kms_tmsg_cs){2, 0x99887766, 0, 0x0102};
    kms_buf_init(&tr, 1 << 16, false);
    expect_ok(kms_transfer_resp_build(kms_buf_data(&xfer), kms_buf_len(&xfer), ga->mpk, br, &tr));
    assert_int_equal(kms_buf_data(&tr)[1], KMS_MIKEY_DT_TRANSFER_RESP);
    assert_int_equal(kms_buf_data(&tr)[8], 2); /* #CS updated */
    expect_ok(kms_transfer_resp_open(kms_buf_data(&xfer), kms_buf_len(&xfer), kms_buf_data(&tr),
                                     kms_buf_len(&tr), ga->mpk, ar));
    assert_string_equal(ar->idrr, ID_B);
    expect_bytes_eq(ar->randrr, br->randrr, 16);
    assert_int_equal(ar->media.n_cs, 2);
    assert_int_equal(ar->media.cs[1].ssrc, 0x99887766);
    assert_int_equal(ar->media.cs[1].seq, 0x0102);
    struct receiver rt = {"TRANSFER_RESP", accept_tr_resp, kms_buf_data(&xfer), kms_buf_len(&xfer),
                          ga->mpk};
    every_bit_flip_refused(&rt, &tr);
    every_truncation_refused(&rt, &tr);
    /* Another MPK, or an answer to another TRANSFER_INIT: refused. */
    uint8_t other[32];
    memcpy(other, ga->mpk, 32);
    other[0] ^= 1;
    expect_err(kms_transfer_resp_open(kms_buf_data(&xfer), kms_buf_len(&xfer), kms_buf_data(&tr),
                                      kms_buf_len(&tr), other, ar),
               KMS_ERR_AUTH);
    struct kms_buf xfer2;
    kms_buf_init(&xfer2, 1 << 16, false);
    expect_ok(kms_transfer_build_spec(&spec, &xfer2));
    assert_false(kms_ok(kms_transfer_resp_open(kms_buf_data(&xfer2), kms_buf_len(&xfer2),
                                               kms_buf_data(&tr), kms_buf_len(&tr), ga->mpk, ar)));
    /* A responder that changes CS 1 (its SSRC, ROC or SEQ: the caller's packet index) is
     * refused even with a good MAC. */
    kms_buf_init(&tr2, 1 << 16, false);
    for (int f = 0; f < 3; f++) {
        br->media.cs[0] = t->media.cs[0];
        if (f == 0) {
            br->media.cs[0].ssrc ^= 1;
        } else if (f == 1) {
            br->media.cs[0].roc ^= 1;
        } else {
            br->media.cs[0].seq ^= 1;
        }
        kms_buf_reset(&tr2);
        expect_ok(
            kms_transfer_resp_build(kms_buf_data(&xfer), kms_buf_len(&xfer), ga->mpk, br, &tr2));
        expect_err(kms_transfer_resp_open(kms_buf_data(&xfer), kms_buf_len(&xfer),
                                          kms_buf_data(&tr2), kms_buf_len(&tr2), ga->mpk, ar),
                   KMS_ERR_UNSUPPORTED);
    }
    kms_buf_cleanup(&req);
    kms_buf_cleanup(&resp);
    kms_buf_cleanup(&xfer);
    kms_buf_cleanup(&xfer2);
    kms_buf_cleanup(&res);
    kms_buf_cleanup(&rresp);
    kms_buf_cleanup(&tr);
    kms_buf_cleanup(&tr2);
    free(r);
    free(rs);
    free(g);
    free(ga);
    free(gb);
    free(t);
    free(br);
    free(ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_exchange),
        cmocka_unit_test(test_transfer_and_resolve),
        cmocka_unit_test(test_unsupported_ticket_type),
        cmocka_unit_test(test_only_ntp_utc_timestamps),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_kreq_wipe_leaves_zero),
        cmocka_unit_test(test_media_transfer_and_resp),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

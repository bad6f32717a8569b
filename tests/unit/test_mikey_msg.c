/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "mikey/kms_mikey_msg.h"

static const uint8_t psk[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t randri[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                   0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t mpk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t tgk[16] = {0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
                                0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, 0x00};
static uint8_t zero_mac[32];
static uint8_t keydata_plain[128];
static size_t keydata_len;
static uint8_t tp_data[64];
static size_t tp_len;
static const char id_i[] = "sip:alice@example.org", id_kms[] = "sip:kms.example.org",
                  id_r[] = "sip:bob@example.org",
                  btid[] = "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.org";

/* memmem without _GNU_SOURCE */
static const uint8_t *find(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

static struct kms_bytes B(const void *p, size_t n) {
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_mikey_payload *
add(struct kms_mikey_msg *m, uint8_t type)
{
    struct kms_mikey_payload *pl = &m->body.pl[m->body.n++];
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    return pl;
}

static void hdr(struct kms_mikey_msg *m, uint8_t dt, uint8_t prf, bool empty)
{
    memset(m, 0, sizeof(*m));
    m->hdr.version = 1;
    m->hdr.data_type = dt;
    m->hdr.prf = prf;
    m->hdr.csb_id = 0x01020304;
    m->hdr.v = dt == KMS_MIKEY_DT_REQUEST_INIT_PSK || dt == KMS_MIKEY_DT_RESOLVE_INIT_PSK;
    m->hdr.map_type = empty ? KMS_MIKEY_MAP_EMPTY : KMS_MIKEY_MAP_SRTP_ID;
    if (!empty) {
        m->hdr.n_cs = 1;
        m->hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0xdeadbeef, .roc = 0};
    }
}

static void t_now(struct kms_mikey_msg *m)
{
    add(m, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, kms_mikey_ntp_now()};
}

static void v(struct kms_mikey_msg *m, uint8_t alg)
{
    add(m, KMS_MIKEY_PT_V)->u.v = (struct kms_mikey_v){alg, B(zero_mac, alg == 1 ? 20 : 32)};
}

static void idr(struct kms_mikey_msg *m, uint8_t role, const char *id)
{
    add(m, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){role, 1, B(id, strlen(id))};
}

/* MPK || TGK key data, plaintext. */
static void make_keydata(void)
{
    struct kms_mikey_keydata_list l = {0};
    l.n = 2;
    l.kd[0] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_MPK, .key = B(mpk, 16)};
    l.kd[1] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TGK,
                                         .kv = KMS_MIKEY_KV_SPI,
                                         .key = B(tgk, 16),
                                         .kv_a = B("\x00\x01", 2)};
    struct kms_buf b;
    kms_buf_init_fixed(&b, keydata_plain, sizeof(keydata_plain), false);
    expect_ok(kms_mikey_keydata_encode(&l, &b));
    keydata_len = kms_buf_len(&b);
}

static void make_tp_data(void)
{
    struct kms_mikey_plist l = {0};
    l.n = 1;
    l.pl[0].type = KMS_MIKEY_PT_IDR;
    l.pl[0].u.id = (struct kms_mikey_id){2, 1, B(id_r, strlen(id_r))};
    struct kms_buf b;
    kms_buf_init_fixed(&b, tp_data, sizeof(tp_data), false);
    expect_ok(kms_mikey_chain_encode(&l, &b));
    tp_len = kms_buf_len(&b);
}

static void ticket(struct kms_mikey_msg *m, uint8_t type, const uint8_t *init, size_t init_len)
{
    struct kms_mikey_payload *pl = add(m, type);
    pl->u.ticket = (struct kms_mikey_ticket){.type = 0xf000,
                                             .subtype = 1,
                                             .version = 1,
                                             .prf = 1,
                                             .flags = KMS_MIKEY_TF_E,
                                             .tp_data = B(tp_data, tp_len)};
    if (type == KMS_MIKEY_PT_TICKET) {
        pl->u.ticket.flags |= KMS_MIKEY_TF_D;
        pl->u.ticket.ticket_data = B("opaque-ticket-bytes", 19);
        pl->u.ticket.init_data = B(init, init_len);
    }
}

static void kemac(struct kms_mikey_msg *m, uint8_t encr, uint8_t mac_alg)
{
    add(m, KMS_MIKEY_PT_KEMAC)->u.kemac =
        (struct kms_mikey_kemac){encr, B(keydata_plain, keydata_len), mac_alg,
                                 B(zero_mac, mac_alg == 0   ? 0
                                             : mac_alg == 1 ? 20
                                                            : 32)};
}

/* Key callback: the PSK for anything (a test KMS with one subscriber). */
static int key_calls;
static kms_result get_psk(void *ctx, const struct kms_mikey_msg *m, const uint8_t **key,
                          size_t *key_len)
{
    (void)m;
    key_calls++;
    *key = ctx;
    *key_len = 32;
    return (kms_result){KMS_OK};
}

struct hook_state {
    int checks, commits;
    enum kms_err check_result;
};

static kms_result hook_check(void *ctx, const struct kms_mikey_msg *m)
{
    struct hook_state *h = ctx;
    (void)m;
    h->checks++;
    /* the key must not have been looked up yet (RFC 3830 5.3 order) */
    assert_int_equal(key_calls, 0);
    return (kms_result){h->check_result};
}

static kms_result hook_commit(void *ctx, const struct kms_mikey_msg *m)
{
    struct hook_state *h = ctx;
    (void)m;
    h->commits++;
    return (kms_result){KMS_OK};
}

struct sealed {
    struct kms_buf buf;
    struct kms_mikey_msg *m;
};

static void seal(struct sealed *s, const struct kms_mikey_prot *p)
{
    kms_buf_init(&s->buf, 1 << 16, false);
    expect_ok(kms_mikey_seal(s->m, psk, sizeof(psk), p, &s->buf));
}

static kms_result open_msg(const uint8_t *p, size_t n, uint8_t dt,
                           const struct kms_mikey_prot *prot, const struct kms_mikey_hdr *req,
                           struct kms_mikey_keydata_list *kd,
                           const struct kms_mikey_replay_hook *hook)
{
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    struct kms_buf keys;
    size_t eo;
    struct kms_mikey_open_params op = {.data_type = dt,
                                       .prot = *prot,
                                       .get_key = get_psk,
                                       .key_ctx = (void *)(uintptr_t)psk,
                                       .replay = hook,
                                       .request_hdr = req};
    kms_buf_init(&keys, 4096, true);
    key_calls = 0;
    kms_result r = kms_mikey_open(p, n, &op, m, &keys, kd, &eo);
    if (kms_ok(r) && kd != NULL && kd->n == 2) {
        /* copy the decrypted keys out before the buffer goes away */
        static uint8_t got_mpk[16];
        memcpy(got_mpk, kd->kd[0].key.p, 16);
        assert_memory_equal(got_mpk, mpk, 16);
        assert_memory_equal(kd->kd[1].key.p, tgk, 16);
    }
    kms_buf_cleanup(&keys);
    free(m);
    return r;
}

/* Every single-bit flip of a sealed message is refused (decoding or the MAC); every proper
 * prefix is truncated; a longer message has trailing bytes. */
static void every_bit_flip_refused(const struct kms_buf *b, uint8_t dt,
                                   const struct kms_mikey_prot *p, const struct kms_mikey_hdr *req)
{
    size_t n = kms_buf_len(b);
    uint8_t *c = malloc(n);
    memcpy(c, kms_buf_data(b), n);
    struct kms_mikey_keydata_list kd;
    for (size_t bit = 0; bit < n * 8; bit++) {
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        kms_result r = open_msg(c, n, dt, p, req, &kd, NULL);
        if (kms_ok(r)) {
            fail_msg("%s: flipping bit %zu of %zu bytes was accepted", kms_mikey_dt_name(dt), bit,
                     n);
        }
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(c);
    /* Every proper prefix is truncated, and one more byte is trailing. */
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    size_t eo;
    for (size_t len = 0; len < n; len++) {
        uint8_t *pre = malloc(len > 0 ? len : 1);
        memcpy(pre, kms_buf_data(b), len);
        kms_result r = kms_mikey_decode(pre, len, m, &eo);
        if (r.err != KMS_ERR_TRUNCATED) {
            fail_msg("%s: prefix of %zu/%zu bytes: %s", kms_mikey_dt_name(dt), len, n,
                     kms_err_name(r.err));
        }
        free(pre);
    }
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, kms_buf_data(b), n);
    longer[n] = 0;
    expect_err(kms_mikey_decode(longer, n + 1, m, &eo), KMS_ERR_TRAILING);
    free(longer);
    free(m);
}

static void ticket_request_exchange(void **state)
{
    (void)state;
    make_keydata();
    make_tp_data();
    for (uint8_t mac = 1; mac <= 2; mac++) {
        for (uint8_t encr = 1; encr <= 3; encr += 2) {
            struct sealed req = {.m = malloc(sizeof(struct kms_mikey_msg))};
            struct sealed resp = {.m = malloc(sizeof(struct kms_mikey_msg))};
            /* REQUEST_INIT_PSK, MAC over the message || Identity_i || Identity_kms */
            hdr(req.m, KMS_MIKEY_DT_REQUEST_INIT_PSK, 1, true);
            t_now(req.m);
            add(req.m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randri, 16)};
            idr(req.m, 1, id_i);
            idr(req.m, 3, id_kms);
            ticket(req.m, KMS_MIKEY_PT_TP, NULL, 0);
            idr(req.m, 4, btid);
            v(req.m, mac);
            struct kms_iov ids[2] = {{(const uint8_t *)id_i, strlen(id_i)},
                                     {(const uint8_t *)id_kms, strlen(id_kms)}};
            struct kms_mikey_prot p_init = {
                .keying = KMS_MIKEY_KEYING_INITIAL, .mac_alg = mac, .extra = ids, .n_extra = 2};
            seal(&req, &p_init);
            struct hook_state hs = {0};
            struct kms_mikey_replay_hook hook = {hook_check, hook_commit, &hs};
            expect_ok(open_msg(kms_buf_data(&req.buf), kms_buf_len(&req.buf),
                               KMS_MIKEY_DT_REQUEST_INIT_PSK, &p_init, NULL, NULL, &hook));
            assert_int_equal(hs.checks, 1);
            assert_int_equal(hs.commits, 1);
            /* a replay hook that refuses stops it before the key is looked up */
            hs.check_result = KMS_ERR_REPLAY;
            expect_err(open_msg(kms_buf_data(&req.buf), kms_buf_len(&req.buf),
                                KMS_MIKEY_DT_REQUEST_INIT_PSK, &p_init, NULL, NULL, &hook),
                       KMS_ERR_REPLAY);
            assert_int_equal(hs.commits, 1);
            /* another identity in the coverage: refused */
            struct kms_iov other[2] = {{(const uint8_t *)id_r, strlen(id_r)}, ids[1]};
            struct kms_mikey_prot p_other = p_init;
            p_other.extra = other;
            expect_err(open_msg(kms_buf_data(&req.buf), kms_buf_len(&req.buf),
                                KMS_MIKEY_DT_REQUEST_INIT_PSK, &p_other, NULL, NULL, NULL),
                       KMS_ERR_AUTH);
            every_bit_flip_refused(&req.buf, KMS_MIKEY_DT_REQUEST_INIT_PSK, &p_init, NULL);

            /* REQUEST_RESP: KEMAC(MPK || TGK) encrypted, MAC over RESP || REQUEST_INIT */
            struct kms_mikey_msg *dreq = malloc(sizeof(*dreq));
            size_t eo;
            expect_ok(kms_mikey_decode(kms_buf_data(&req.buf), kms_buf_len(&req.buf), dreq, &eo));
            hdr(resp.m, KMS_MIKEY_DT_REQUEST_RESP, 1, true);
            t_now(resp.m);
            idr(resp.m, 3, id_kms);
            ticket(resp.m, KMS_MIKEY_PT_TICKET, NULL, 0);
            kemac(resp.m, encr, 0);
            v(resp.m, mac);
            struct kms_iov reqcov = {kms_buf_data(&req.buf), kms_buf_len(&req.buf)};
            struct kms_mikey_prot p_resp = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                                            .rands = {randri, 16, NULL, 0},
                                            .mac_alg = mac,
                                            .extra = &reqcov,
                                            .n_extra = 1};
            seal(&resp, &p_resp);
            /* the key data is not in clear on the wire */
            assert_null(find(kms_buf_data(&resp.buf), kms_buf_len(&resp.buf), mpk, 16));
            struct kms_mikey_keydata_list kd;
            expect_ok(open_msg(kms_buf_data(&resp.buf), kms_buf_len(&resp.buf),
                               KMS_MIKEY_DT_REQUEST_RESP, &p_resp, &dreq->hdr, &kd, NULL));
            assert_int_equal(kd.n, 2);
            every_bit_flip_refused(&resp.buf, KMS_MIKEY_DT_REQUEST_RESP, &p_resp, &dreq->hdr);
            /* a response to another request (another CSB ID) is refused */
            dreq->hdr.csb_id ^= 1;
            expect_err(open_msg(kms_buf_data(&resp.buf), kms_buf_len(&resp.buf),
                                KMS_MIKEY_DT_REQUEST_RESP, &p_resp, &dreq->hdr, &kd, NULL),
                       KMS_ERR_AUTH);
            free(dreq);
            kms_buf_cleanup(&req.buf);
            kms_buf_cleanup(&resp.buf);
            free(req.m);
            free(resp.m);
        }
    }
}

static void resolve_and_transfer_exchanges(void **state)
{
    (void)state;
    make_keydata();
    make_tp_data();
    struct sealed s = {.m = malloc(sizeof(struct kms_mikey_msg))};
    /* RESOLVE_INIT_PSK keyed with RANDRr */
    hdr(s.m, KMS_MIKEY_DT_RESOLVE_INIT_PSK, 1, true);
    t_now(s.m);
    add(s.m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){2, B(randri, 16)};
    idr(s.m, 2, id_r);
    ticket(s.m, KMS_MIKEY_PT_TICKET, NULL, 0);
    v(s.m, 2);
    struct kms_iov ids[2] = {{(const uint8_t *)id_r, strlen(id_r)},
                             {(const uint8_t *)id_kms, strlen(id_kms)}};
    struct kms_mikey_prot p = {
        .keying = KMS_MIKEY_KEYING_INITIAL, .mac_alg = 2, .extra = ids, .n_extra = 2};
    seal(&s, &p);
    expect_ok(open_msg(kms_buf_data(&s.buf), kms_buf_len(&s.buf), KMS_MIKEY_DT_RESOLVE_INIT_PSK, &p,
                       NULL, NULL, NULL));
    /* keyed with RANDRr: the same bytes with RANDRi keys do not verify */
    struct kms_mikey_prot wrong = p;
    wrong.rands = (struct kms_mikey_rands){randri, 16, NULL, 0};
    expect_err(open_msg(kms_buf_data(&s.buf), kms_buf_len(&s.buf), KMS_MIKEY_DT_RESOLVE_INIT_PSK,
                        &wrong, NULL, NULL, NULL),
               KMS_ERR_AUTH);
    every_bit_flip_refused(&s.buf, KMS_MIKEY_DT_RESOLVE_INIT_PSK, &p, NULL);
    kms_buf_cleanup(&s.buf);

    /* RESOLVE_RESP: KEMAC, then V over RESP || RESOLVE_INIT */
    hdr(s.m, KMS_MIKEY_DT_RESOLVE_RESP, 1, true);
    t_now(s.m);
    kemac(s.m, 1, 0);
    add(s.m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){3, B(tgk, 16)};
    v(s.m, 2);
    struct kms_iov prev = {(const uint8_t *)"the resolve request", 19};
    struct kms_mikey_prot pr = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                                .rands = {NULL, 0, randri, 16},
                                .mac_alg = 2,
                                .extra = &prev,
                                .n_extra = 1};
    seal(&s, &pr);
    struct kms_mikey_keydata_list kd;
    expect_ok(open_msg(kms_buf_data(&s.buf), kms_buf_len(&s.buf), KMS_MIKEY_DT_RESOLVE_RESP, &pr,
                       NULL, &kd, NULL));
    assert_int_equal(kd.n, 2);
    every_bit_flip_refused(&s.buf, KMS_MIKEY_DT_RESOLVE_RESP, &pr, NULL);
    kms_buf_cleanup(&s.buf);

    /* TRANSFER_INIT with a key-forking initiator data: excluded from the MAC */
    uint8_t init[64];
    struct kms_mikey_plist il = {0};
    il.n = 1;
    il.pl[0].type = KMS_MIKEY_PT_V;
    il.pl[0].u.v = (struct kms_mikey_v){1, B(tgk, 16)};
    memset(zero_mac, 0, sizeof(zero_mac));
    il.pl[0].u.v.mac = B(zero_mac, 20);
    struct kms_buf ib;
    kms_buf_init_fixed(&ib, init, sizeof(init), false);
    expect_ok(kms_mikey_chain_encode(&il, &ib));
    hdr(s.m, KMS_MIKEY_DT_TRANSFER_INIT, 1, false);
    t_now(s.m);
    add(s.m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randri, 16)};
    idr(s.m, 1, id_i);
    idr(s.m, 2, id_r);
    ticket(s.m, KMS_MIKEY_PT_TICKET, init, kms_buf_len(&ib));
    v(s.m, 2);
    struct kms_iov ir[2] = {{(const uint8_t *)id_i, strlen(id_i)},
                            {(const uint8_t *)id_r, strlen(id_r)}};
    struct kms_mikey_prot pt = {
        .keying = KMS_MIKEY_KEYING_INITIAL, .mac_alg = 2, .extra = ir, .n_extra = 2};
    seal(&s, &pt);
    expect_ok(open_msg(kms_buf_data(&s.buf), kms_buf_len(&s.buf), KMS_MIKEY_DT_TRANSFER_INIT, &pt,
                       NULL, NULL, NULL));
    /* a change inside the initiator data's Vi MAC is outside the coverage */
    uint8_t *raw = malloc(kms_buf_len(&s.buf));
    memcpy(raw, kms_buf_data(&s.buf), kms_buf_len(&s.buf));
    const uint8_t *vi = find(raw, kms_buf_len(&s.buf), init, kms_buf_len(&ib));
    assert_non_null(vi);
    raw[(size_t)(vi - raw) + kms_buf_len(&ib) - 1] ^= 0x01;
    expect_ok(
        open_msg(raw, kms_buf_len(&s.buf), KMS_MIKEY_DT_TRANSFER_INIT, &pt, NULL, NULL, NULL));
    free(raw);
    kms_buf_cleanup(&s.buf);
    free(s.m);
}

/* RFC 3830 PSK exchange: I_MESSAGE with the MAC in KEMAC, R_MESSAGE with V. */
static void rfc3830_psk_exchange(void **state)
{
    (void)state;
    make_keydata();
    struct sealed s = {.m = malloc(sizeof(struct kms_mikey_msg))};
    hdr(s.m, KMS_MIKEY_DT_PSK_INIT, 0, false);
    s.m->hdr.v = true;
    t_now(s.m);
    add(s.m, KMS_MIKEY_PT_RAND)->u.rand.rand = B(randri, 16);
    add(s.m, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 1, B(id_i, strlen(id_i))};
    kemac(s.m, 1, 1);
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_PSK_3830, .mac_alg = 1};
    seal(&s, &p);
    struct kms_mikey_keydata_list kd;
    expect_ok(open_msg(kms_buf_data(&s.buf), kms_buf_len(&s.buf), KMS_MIKEY_DT_PSK_INIT, &p, NULL,
                       &kd, NULL));
    every_bit_flip_refused(&s.buf, KMS_MIKEY_DT_PSK_INIT, &p, NULL);
    struct kms_mikey_msg *i_msg = malloc(sizeof(*i_msg));
    size_t eo;
    expect_ok(kms_mikey_decode(kms_buf_data(&s.buf), kms_buf_len(&s.buf), i_msg, &eo));
    uint8_t ts[8];
    for (int i = 0; i < 8; i++) {
        ts[i] = (uint8_t)(i_msg->body.pl[0].u.t.value >> (56 - 8 * i));
    }
    /* R_MESSAGE reuses the initiator's timestamp; its MAC covers || IDi || IDr || T */
    struct sealed r = {.m = malloc(sizeof(struct kms_mikey_msg))};
    hdr(r.m, KMS_MIKEY_DT_PSK_RESP, 0, false);
    add(r.m, KMS_MIKEY_PT_T)->u.t = i_msg->body.pl[0].u.t;
    v(r.m, 1);
    struct kms_iov cov[3] = {{(const uint8_t *)id_i, strlen(id_i)}, {NULL, 0}, {ts, 8}};
    struct kms_mikey_prot pr = {.keying = KMS_MIKEY_KEYING_PSK_3830,
                                .rands = {randri, 16, NULL, 0},
                                .mac_alg = 1,
                                .extra = cov,
                                .n_extra = 3};
    seal(&r, &pr);
    expect_ok(open_msg(kms_buf_data(&r.buf), kms_buf_len(&r.buf), KMS_MIKEY_DT_PSK_RESP, &pr,
                       &i_msg->hdr, NULL, NULL));
    every_bit_flip_refused(&r.buf, KMS_MIKEY_DT_PSK_RESP, &pr, &i_msg->hdr);
    kms_buf_cleanup(&s.buf);
    kms_buf_cleanup(&r.buf);
    free(i_msg);
    free(s.m);
    free(r.m);
}

static void error_messages(void **state)
{
    (void)state;
    struct sealed s = {.m = malloc(sizeof(struct kms_mikey_msg))};
    hdr(s.m, KMS_MIKEY_DT_ERROR, 1, true);
    t_now(s.m);
    add(s.m, KMS_MIKEY_PT_ERR)->u.err.err_no = 0;
    /* without V: decodes, authenticates nothing; refused by a caller that wants a key */
    kms_buf_init(&s.buf, 1024, false);
    expect_ok(kms_mikey_encode(s.m, &s.buf));
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    struct kms_buf keys;
    struct kms_mikey_keydata_list kd;
    size_t eo;
    kms_buf_init(&keys, 64, true);
    struct kms_mikey_open_params op = {.data_type = KMS_MIKEY_DT_ERROR};
    expect_ok(kms_mikey_open(kms_buf_data(&s.buf), kms_buf_len(&s.buf), &op, m, &keys, &kd, &eo));
    op.get_key = get_psk;
    op.key_ctx = (void *)(uintptr_t)psk;
    expect_err(kms_mikey_open(kms_buf_data(&s.buf), kms_buf_len(&s.buf), &op, m, &keys, &kd, &eo),
               KMS_ERR_AUTH);
    kms_buf_cleanup(&s.buf);
    /* with V (policy refusal after authentication): MAC over the Error message alone */
    v(s.m, 2);
    struct kms_mikey_prot p = {
        .keying = KMS_MIKEY_KEYING_RESPONSE, .rands = {randri, 16, NULL, 0}, .mac_alg = 2};
    seal(&s, &p);
    expect_ok(open_msg(kms_buf_data(&s.buf), kms_buf_len(&s.buf), KMS_MIKEY_DT_ERROR, &p, NULL,
                       NULL, NULL));
    every_bit_flip_refused(&s.buf, KMS_MIKEY_DT_ERROR, &p, NULL);
    kms_buf_cleanup(&s.buf);
    kms_buf_cleanup(&keys);
    free(m);
    free(s.m);
}

static void shapes_are_enforced(void **state)
{
    (void)state;
    make_tp_data();
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    struct kms_buf b;
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_INITIAL, .mac_alg = 2};
    size_t eo;
    /* no TP */
    hdr(m, KMS_MIKEY_DT_REQUEST_INIT_PSK, 1, true);
    t_now(m);
    add(m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randri, 16)};
    v(m, 2);
    kms_buf_init(&b, 4096, false);
    expect_err(kms_mikey_seal(m, psk, 32, &p, &b), KMS_ERR_MALFORMED);
    /* IDRkms before IDRi */
    hdr(m, KMS_MIKEY_DT_REQUEST_INIT_PSK, 1, true);
    t_now(m);
    add(m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randri, 16)};
    idr(m, 3, id_kms);
    idr(m, 1, id_i);
    ticket(m, KMS_MIKEY_PT_TP, NULL, 0);
    v(m, 2);
    expect_err(kms_mikey_check_shape(m, &eo), KMS_ERR_MALFORMED);
    /* a CS ID map in a REQUEST_INIT: #CS must be 0 with the Empty map */
    hdr(m, KMS_MIKEY_DT_REQUEST_INIT_PSK, 1, false);
    t_now(m);
    add(m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randri, 16)};
    ticket(m, KMS_MIKEY_PT_TP, NULL, 0);
    v(m, 2);
    expect_err(kms_mikey_check_shape(m, &eo), KMS_ERR_MALFORMED);
    assert_int_equal(eo, 8);
    /* an unexpected known payload (a RAND) is ignored, and still MAC-covered */
    hdr(m, KMS_MIKEY_DT_REQUEST_INIT_PSK, 1, true);
    t_now(m);
    add(m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randri, 16)};
    add(m, KMS_MIKEY_PT_RAND)->u.rand.rand = B(tgk, 16);
    ticket(m, KMS_MIKEY_PT_TP, NULL, 0);
    v(m, 2);
    kms_buf_reset(&b);
    expect_ok(kms_mikey_seal(m, psk, 32, &p, &b));
    expect_ok(open_msg(kms_buf_data(&b), kms_buf_len(&b), KMS_MIKEY_DT_REQUEST_INIT_PSK, &p, NULL,
                       NULL, NULL));
    /* the wrong data type for the exchange */
    expect_err(open_msg(kms_buf_data(&b), kms_buf_len(&b), KMS_MIKEY_DT_RESOLVE_INIT_PSK, &p, NULL,
                        NULL, NULL),
               KMS_ERR_MALFORMED);
    /* a placeholder MAC of the wrong length, or another algorithm than the one asked */
    m->body.pl[m->body.n - 1].u.v.mac.len = 20;
    expect_err(kms_mikey_seal(m, psk, 32, &p, &b), KMS_ERR_ARG);
    kms_buf_cleanup(&b);
    free(m);
}

static void ntp_time(void **state)
{
    (void)state;
    assert_int_equal(kms_mikey_ntp_from_unix(0, 0), 2208988800ULL << 32);
    assert_int_equal(kms_mikey_ntp_from_unix(1, 500000000),
                     ((2208988800ULL + 1) << 32) | 0x80000000ULL);
    /* 2026 is after 2024-01-01 (NTP seconds 3913056000) */
    assert_true((kms_mikey_ntp_now() >> 32) > 3913056000ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ticket_request_exchange), cmocka_unit_test(resolve_and_transfer_exchanges),
        cmocka_unit_test(rfc3830_psk_exchange),    cmocka_unit_test(error_messages),
        cmocka_unit_test(shapes_are_enforced),     cmocka_unit_test(ntp_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* SRTP over libsrtp2 (srtp/kms_srtp.h) and the RTP header reader (srtp/kms_rtp.h). */
#include "testlib.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "srtp/kms_rtp.h"
#include "srtp/kms_srtp.h"
#include "ue/kms_media.h"

static void rtp_reader_accepts_csrc_extension_padding(void **state)
{
    (void)state;
    struct kms_rtp_hdr h;
    /* V=2 M=1 PT=0 seq 0x1234 ts 0x01020304 ssrc 0x0a0b0c0d, payload "abc" */
    uint8_t p1[] = {0x80, 0x80, 0x12, 0x34, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 'a', 'b', 'c'};
    expect_ok(kms_rtp_read(p1, sizeof(p1), 0, &h));
    assert_true(h.marker);
    assert_int_equal(h.seq, 0x1234);
    assert_int_equal(h.ts, 0x01020304);
    assert_int_equal(h.ssrc, 0x0a0b0c0d);
    assert_int_equal(h.payload_len, 3);
    assert_ptr_equal(h.payload, p1 + 12);
    /* CC=1, X with one word, P with 3 octets of padding (count 3), payload "xy" */
    uint8_t p2[] = {0xb1, 0x00, 0,    1,    0, 0, 0, 0, 0, 0, 0, 9, /* header */
                    0xde, 0xad, 0xbe, 0xef,                         /* CSRC */
                    0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4,             /* extension, 1 word */
                    'x',  'y',  0,    0,    3};
    expect_ok(kms_rtp_read(p2, sizeof(p2), 0, &h));
    assert_int_equal(h.cc, 1);
    assert_true(h.has_ext);
    assert_int_equal(h.padding, 3);
    assert_int_equal(h.payload_len, 2);
    assert_memory_equal(h.payload, "xy", 2);
    /* An empty payload with only the padding count. */
    uint8_t p3[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 1};
    expect_ok(kms_rtp_read(p3, sizeof(p3), 0, &h));
    assert_int_equal(h.payload_len, 0);
    assert_null(h.payload);
}

static void expect_refused(const uint8_t *p, size_t n, enum kms_err err)
{
    struct kms_rtp_hdr h;
    memset(&h, 0x5a, sizeof(h));
    expect_err(kms_rtp_read(p, n, 0, &h), err);
    struct kms_rtp_hdr zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&h, &zero, sizeof(h));
}

static void rtp_reader_refuses(void **state)
{
    (void)state;
    uint8_t ok[] = {0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 'a'};
    uint8_t b[64];
    expect_refused(ok, 11, KMS_ERR_TRUNCATED); /* shorter than the fixed header */
    expect_refused(ok, 0, KMS_ERR_TRUNCATED);
    memcpy(b, ok, sizeof(ok));
    b[0] = 0x40; /* version 1 */
    expect_refused(b, sizeof(ok), KMS_ERR_UNSUPPORTED);
    memcpy(b, ok, sizeof(ok));
    b[1] = 8; /* PCMA, not the payload type asked for */
    expect_refused(b, sizeof(ok), KMS_ERR_UNSUPPORTED);
    memcpy(b, ok, sizeof(ok));
    b[0] = 0x83; /* three CSRCs, one octet after the header */
    expect_refused(b, sizeof(ok), KMS_ERR_TRUNCATED);
    /* X: an extension header cut short, then one whose length runs past the end. */
    uint8_t x[] = {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4};
    expect_refused(x, 14, KMS_ERR_TRUNCATED);
    expect_refused(x, sizeof(x), KMS_ERR_TRUNCATED);
    /* P: a count of 0, a count beyond what follows the header, nothing after the header. */
    uint8_t p[] = {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 'a', 'b', 0};
    expect_refused(p, sizeof(p), KMS_ERR_MALFORMED);
    p[14] = 4;
    expect_refused(p, sizeof(p), KMS_ERR_MALFORMED);
    expect_refused(p, 12, KMS_ERR_TRUNCATED);
    p[14] = 3; /* exactly what follows: accepted, empty payload */
    struct kms_rtp_hdr h;
    expect_ok(kms_rtp_read(p, sizeof(p), 0, &h));
    assert_int_equal(h.payload_len, 0);
}

/* A session whose local stream (cs 1) sends with key/salt ks and SSRC ssrc. */
static void mk_session(struct kms_media_session *s, const struct kms_srtp_policy *pol,
                       const uint8_t *key, const uint8_t *salt, uint32_t lssrc, uint32_t rssrc)
{
    memset(s, 0, sizeof(*s));
    s->policy = pol;
    strcpy(s->local_addr, "127.0.0.1:5004");
    strcpy(s->remote_addr, "127.0.0.1:5006");
    s->local.cs_id = 1;
    s->local.ssrc = lssrc;
    memcpy(s->local.key, key, pol->key_len);
    memcpy(s->local.salt, salt, pol->salt_len);
    s->remote.cs_id = 2;
    s->remote.ssrc = rssrc;
    memcpy(s->remote.key, key, pol->key_len);
    memcpy(s->remote.salt, salt, pol->salt_len);
}

/* A's sending and B's receiving session of SSRC 1111 (to 2222) under the default policy, both
 * at ROC || SEQ = roc || seq. */
static void mk_pair(struct kms_media_session *a, struct kms_media_session *b, const uint8_t *key,
                    const uint8_t *salt, uint32_t roc, uint16_t seq)
{
    const struct kms_srtp_policy *pol = kms_srtp_policy_default();
    mk_session(a, pol, key, salt, 1111, 2222);
    mk_session(b, pol, key, salt, 2222, 1111);
    a->local.roc = roc;
    a->local.seq = seq;
    b->remote.roc = roc;
    b->remote.seq = seq;
}

/* The AES-CM PRF of RFC 3711 4.3.3 with AES-128 (OpenSSL's AES-128-CTR, not libsrtp's NSS):
 * x = master salt XOR (label << 48), keystream from IV x * 2^16. */
static void model_kdf(const uint8_t mk[16], const uint8_t ms[14], uint8_t label, uint8_t *out,
                      size_t n)
{
    uint8_t iv[16] = {0};
    memcpy(iv, ms, 14);
    iv[7] ^= label;
    uint8_t zero[64] = {0};
    int len = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mk, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out, &len, zero, (int)n), 1);
    EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 Appendix B.3 derives the session keys; the model then encrypts (AES-CM, 4.1.1: IV =
 * (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)) and authenticates (HMAC-SHA1 over the packet
 * and the ROC, 80 bits, 4.2) one packet, which must equal what kms_srtp_protect sends. */
static void protect_equals_rfc3711_model(void **state)
{
    (void)state;
    uint8_t mk[16], ms[14], ck[16], cs[14], ak[20], want[16];
    th_hex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, sizeof(mk));
    th_hex("0EC675AD498AFEEBB6960B3AABE6", ms, sizeof(ms));
    model_kdf(mk, ms, 0x00, ck, sizeof(ck));
    model_kdf(mk, ms, 0x02, cs, sizeof(cs));
    model_kdf(mk, ms, 0x01, ak, sizeof(ak));
    /* The model against the RFC's published values. */
    th_hex("C61E7A93744F39EE10734AFE3FF7A087", want, 16);
    assert_memory_equal(ck, want, 16);
    th_hex("30CBBC08863D8C85D49DB34A9AE1", want, 14);
    assert_memory_equal(cs, want, 14);
    th_hex("CEBE321F6FF7716B6FD4AB49AF256A15", want, 16);
    assert_memory_equal(ak, want, 16);

    const uint32_t ssrc = 0xdeadbeef, roc = 3;
    const uint16_t seq = 0xfff0;
    struct kms_media_session s;
    mk_session(&s, kms_srtp_policy_by_name("aes128-hmac80"), mk, ms, ssrc, 42);
    s.local.roc = roc;
    struct kms_srtp *tx = NULL;
    expect_ok(kms_srtp_new(&s, KMS_SRTP_SEND, &tx));
    uint8_t pkt[12 + 160 + KMS_SRTP_TRAILER_MAX], plain[12 + 160];
    kms_rtp_write_hdr(plain, true, 0, seq, 0x11223344, ssrc);
    for (size_t i = 0; i < 160; i++) {
        plain[12 + i] = (uint8_t)(i * 7 + 1);
    }
    memcpy(pkt, plain, sizeof(plain));
    size_t n = 0;
    expect_ok(kms_srtp_protect(tx, pkt, sizeof(plain), sizeof(pkt), &n));
    assert_int_equal(n, 12 + 160 + 10);

    uint8_t iv[16] = {0}, model[12 + 160 + 20];
    memcpy(iv, cs, 14);
    for (int i = 0; i < 4; i++) {
        iv[4 + i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
    }
    uint64_t index = (uint64_t)roc << 16 | seq;
    for (int i = 0; i < 6; i++) {
        iv[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
    }
    memcpy(model, plain, 12);
    int len = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, ck, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, model + 12, &len, plain + 12, 160), 1);
    EVP_CIPHER_CTX_free(c);
    uint8_t auth_in[12 + 160 + 4];
    memcpy(auth_in, model, 12 + 160);
    auth_in[172] = (uint8_t)(roc >> 24);
    auth_in[173] = (uint8_t)(roc >> 16);
    auth_in[174] = (uint8_t)(roc >> 8);
    auth_in[175] = (uint8_t)roc;
    unsigned int tl = 0;
    assert_non_null(HMAC(EVP_sha1(), ak, 20, auth_in, sizeof(auth_in), model + 172, &tl));
    assert_memory_equal(pkt, model, 12 + 160 + 10);
    kms_srtp_free(tx);
    kms_media_session_wipe(&s);
}

static void each_policy_round_trip_and_refusals(void **state)
{
    (void)state;
    static const char *const names[] = {"aes128-hmac80", "aes256-hmac80", "aes128-gcm"};
    uint8_t key[32], salt[14];
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)(0x40 + i);
    }
    memset(salt, 0x99, sizeof(salt));
    for (size_t p = 0; p < 3; p++) {
        const struct kms_srtp_policy *pol = kms_srtp_policy_by_name(names[p]);
        struct kms_media_session a, b, other;
        mk_session(&a, pol, key, salt, 1111, 2222);
        mk_session(&b, pol, key, salt, 2222, 1111);
        mk_session(&other, pol, key, salt, 3333, 2222);
        struct kms_srtp *tx = NULL, *rx = NULL, *tx3 = NULL;
        expect_ok(kms_srtp_new(&a, KMS_SRTP_SEND, &tx));
        expect_ok(kms_srtp_new(&b, KMS_SRTP_RECV, &rx));
        expect_ok(kms_srtp_new(&other, KMS_SRTP_SEND, &tx3));
        uint8_t pkt[12 + 160 + KMS_SRTP_TRAILER_MAX], copy[sizeof(pkt)];
        size_t n = 0;
        struct kms_rtp_hdr h;
        for (uint16_t seq = 65530; seq != 10; seq++) { /* across the wrap */
            kms_rtp_write_hdr(pkt, false, 0, seq, seq * 160u, 1111);
            memset(pkt + 12, (int)(seq & 0xff), 160);
            expect_ok(kms_srtp_protect(tx, pkt, 172, sizeof(pkt), &n));
            memcpy(copy, pkt, n);
            expect_ok(kms_srtp_unprotect(rx, pkt, n, 0, &h));
            assert_int_equal(h.seq, seq);
            assert_int_equal(h.payload_len, 160);
            assert_int_equal(h.payload[0], seq & 0xff);
            /* The same packet again: a replay. */
            expect_err(kms_srtp_unprotect(rx, copy, n, 0, &h), KMS_ERR_REPLAY);
        }
        /* Tampered: one bit of the payload. */
        kms_rtp_write_hdr(pkt, false, 0, 11, 0, 1111);
        expect_ok(kms_srtp_protect(tx, pkt, 172, sizeof(pkt), &n));
        pkt[40] ^= 1;
        expect_err(kms_srtp_unprotect(rx, pkt, n, 0, &h), KMS_ERR_AUTH);
        /* Another SSRC under the right key. */
        kms_rtp_write_hdr(pkt, false, 0, 12, 0, 3333);
        expect_ok(kms_srtp_protect(tx3, pkt, 172, sizeof(pkt), &n));
        expect_err(kms_srtp_unprotect(rx, pkt, n, 0, &h), KMS_ERR_POLICY);
        /* Garbage and a short datagram. */
        expect_err(kms_srtp_unprotect(rx, pkt, 5, 0, &h), KMS_ERR_AUTH);
        const struct kms_srtp_counters *k = kms_srtp_counters(rx);
        assert_int_equal(k->packets, 16);
        assert_int_equal(k->bytes, 16 * 160);
        assert_int_equal(k->replays, 16);
        assert_int_equal(k->auth_failures, 2);
        assert_int_equal(k->other_ssrc, 1);
        /* The sender refuses a buffer without room for the tag and another SSRC. */
        kms_rtp_write_hdr(pkt, false, 0, 13, 0, 1111);
        expect_err(kms_srtp_protect(tx, pkt, 172, 172 + 9, &n), KMS_ERR_ARG);
        kms_rtp_write_hdr(pkt, false, 0, 13, 0, 2222);
        expect_err(kms_srtp_protect(tx, pkt, 172, sizeof(pkt), &n), KMS_ERR_ARG);
        expect_err(kms_srtp_unprotect(tx, pkt, 172, 0, &h), KMS_ERR_ARG);
        kms_srtp_free(tx);
        kms_srtp_free(rx);
        kms_srtp_free(tx3);
        kms_media_session_wipe(&a);
        kms_media_session_wipe(&b);
        kms_media_session_wipe(&other);
    }
}

/* Protects one 160-octet packet of SSRC 1111 with sequence number seq into pkt (*n octets). */
static void protect_one(struct kms_srtp *tx, uint16_t seq, uint8_t *pkt, size_t cap, size_t *n)
{
    kms_rtp_write_hdr(pkt, false, 0, seq, seq * 160u, 1111);
    memset(pkt + 12, (int)(seq & 0xff), 160);
    expect_ok(kms_srtp_protect(tx, pkt, 172, cap, n));
}

/* A receiver of SSRC 1111 starting at remote ROC || SEQ = roc || seq, and the position it has
 * after a first packet at index ROC tx_roc, SEQ tx_seq (a new sender there) authenticated: the
 * index after it. */
static void first_packet(uint32_t roc, uint16_t seq, uint32_t tx_roc, uint16_t tx_seq,
                         const uint8_t *key, const uint8_t *salt)
{
    struct kms_media_session a, b;
    mk_pair(&a, &b, key, salt, roc, seq);
    a.local.roc = tx_roc;
    a.local.seq = tx_seq;
    struct kms_srtp *tx = NULL, *rx = NULL;
    expect_ok(kms_srtp_new(&a, KMS_SRTP_SEND, &tx));
    expect_ok(kms_srtp_new(&b, KMS_SRTP_RECV, &rx));
    uint8_t pkt[12 + 160 + KMS_SRTP_TRAILER_MAX];
    size_t n = 0;
    struct kms_rtp_hdr h;
    protect_one(tx, tx_seq, pkt, sizeof(pkt), &n);
    expect_ok(kms_srtp_unprotect(rx, pkt, n, 0, &h));
    uint32_t got_roc = 0;
    uint16_t got_seq = 0;
    expect_ok(kms_srtp_rx_position(rx, &got_roc, &got_seq));
    uint64_t next = ((uint64_t)tx_roc << 16 | tx_seq) + 1;
    assert_int_equal(got_roc, (uint32_t)(next >> 16));
    assert_int_equal(got_seq, (uint16_t)next);
    kms_srtp_free(tx);
    kms_srtp_free(rx);
    kms_media_session_wipe(&a);
    kms_media_session_wipe(&b);
}

/* kms_srtp_rx_position: the index after the highest authenticated (RFC 3711 3.3.1), none before
 * the first packet of remote_ssrc authenticated; a receiver started there estimates its first
 * packet from the session's ROC and s_l. */
static void rx_position_is_the_highest_index(void **state)
{
    (void)state;
    uint8_t key[16], salt[14];
    memset(key, 0x21, sizeof(key));
    memset(salt, 0x43, sizeof(salt));
    struct kms_media_session a, b, other;
    mk_pair(&a, &b, key, salt, 5, 65530);
    mk_session(&other, kms_srtp_policy_default(), key, salt, 3333, 2222);
    struct kms_srtp *tx = NULL, *rx = NULL, *tx3 = NULL;
    expect_ok(kms_srtp_new(&a, KMS_SRTP_SEND, &tx));
    expect_ok(kms_srtp_new(&b, KMS_SRTP_RECV, &rx));
    expect_ok(kms_srtp_new(&other, KMS_SRTP_SEND, &tx3));
    uint32_t roc = 99;
    uint16_t seq = 99;
    expect_err(kms_srtp_rx_position(rx, &roc, &seq), KMS_ERR_NOT_FOUND);
    assert_int_equal(roc, 0);
    assert_int_equal(seq, 0);
    expect_err(kms_srtp_rx_position(tx, &roc, &seq), KMS_ERR_ARG);
    uint8_t pkt[16][12 + 160 + KMS_SRTP_TRAILER_MAX];
    size_t len[16];
    struct kms_rtp_hdr h;
    /* Neither a tampered packet nor another SSRC under our key gives a position. */
    uint8_t bad[sizeof(pkt[0])];
    size_t bn = 0;
    kms_rtp_write_hdr(bad, false, 0, 65530, 0, 3333);
    expect_ok(kms_srtp_protect(tx3, bad, 172, sizeof(bad), &bn));
    expect_err(kms_srtp_unprotect(rx, bad, bn, 0, &h), KMS_ERR_POLICY);
    for (size_t i = 0; i < 16; i++) { /* 65530..65535 at ROC 5, then 0..9 at ROC 6 */
        protect_one(tx, (uint16_t)(65530 + i), pkt[i], sizeof(pkt[i]), &len[i]);
    }
    memcpy(bad, pkt[0], len[0]);
    bad[30] ^= 1;
    expect_err(kms_srtp_unprotect(rx, bad, len[0], 0, &h), KMS_ERR_AUTH);
    expect_err(kms_srtp_rx_position(rx, &roc, &seq), KMS_ERR_NOT_FOUND);
    /* All but 65535, which comes last (late, across the wrap). */
    for (size_t i = 0; i < 16; i++) {
        if (i != 5) {
            expect_ok(kms_srtp_unprotect(rx, pkt[i], len[i], 0, &h));
            expect_ok(kms_srtp_rx_position(rx, &roc, &seq));
            assert_int_equal(roc, i < 5 ? 5 : 6); /* 65535 at ROC 5 is followed by 0 at 6 */
            assert_int_equal(seq, (uint16_t)(65530 + i + 1));
        }
    }
    expect_ok(kms_srtp_unprotect(rx, pkt[5], len[5], 0, &h));
    assert_int_equal(h.seq, 65535);
    expect_ok(kms_srtp_rx_position(rx, &roc, &seq));
    assert_int_equal(roc, 6);
    assert_int_equal(seq, 10);
    kms_srtp_free(tx);
    kms_srtp_free(rx);
    kms_srtp_free(tx3);
    kms_media_session_wipe(&a);
    kms_media_session_wipe(&b);
    kms_media_session_wipe(&other);
    /* The next receiver, from the position: the sender goes on at 6 || 10. */
    first_packet(6, 10, 6, 10, key, salt);
    first_packet(6, 9, 6, 10, key, salt);
    /* s_l = 65535: SEQ 0 is at ROC + 1 (s_l - 2^15 > SEQ). */
    first_packet(6, 65535, 7, 0, key, salt);
    first_packet(0, 40000, 1, 7000, key, salt);
    /* SEQ - s_l > 2^15 would be ROC - 1: a first packet is taken at the session's ROC. */
    first_packet(6, 100, 6, 65000, key, salt);
    first_packet(0, 2000, 0, 65500, key, salt);
}

/* The session's remote position is a floor (RFC 3711 3.3.2 across runs): a second receiver on
 * the position the first one left refuses every packet the first accepted, before libsrtp's
 * window knows them and also once newer packets moved that window past them, and never moves
 * its own position for them. Before the run's first packet authenticated, the estimate is
 * forward only (kms_srtp_unprotect): an old packet of the previous ROC is then taken at the
 * floor's ROC and fails authentication instead; once a packet authenticated, it is a replay.
 * A packet at the floor is accepted. */
static void floor_refuses_what_an_earlier_run_received(void **state)
{
    (void)state;
    uint8_t key[16], salt[14];
    memset(key, 0x65, sizeof(key));
    memset(salt, 0x87, sizeof(salt));
    struct kms_media_session a, b;
    mk_pair(&a, &b, key, salt, 3, 65520);
    struct kms_srtp *tx = NULL, *rx1 = NULL, *rx2 = NULL;
    expect_ok(kms_srtp_new(&a, KMS_SRTP_SEND, &tx));
    expect_ok(kms_srtp_new(&b, KMS_SRTP_RECV, &rx1));
    enum { N = 40 }; /* 65520..65535 at ROC 3, then 0..23 at ROC 4 */
    uint8_t pkt[N][12 + 160 + KMS_SRTP_TRAILER_MAX], copy[N][sizeof(pkt[0])];
    size_t len[N];
    struct kms_rtp_hdr h;
    for (size_t i = 0; i < N; i++) {
        protect_one(tx, (uint16_t)(65520 + i), pkt[i], sizeof(pkt[i]), &len[i]);
        memcpy(copy[i], pkt[i], len[i]);
    }
    /* The first run receives the first 30 (up to ROC 4, SEQ 13). */
    for (size_t i = 0; i < 30; i++) {
        expect_ok(kms_srtp_unprotect(rx1, pkt[i], len[i], 0, &h));
    }
    uint32_t roc = 0;
    uint16_t seq = 0;
    expect_ok(kms_srtp_rx_position(rx1, &roc, &seq));
    assert_int_equal(roc, 4);
    assert_int_equal(seq, 14);
    kms_srtp_free(rx1);
    b.remote.roc = roc;
    b.remote.seq = seq;
    expect_ok(kms_srtp_new(&b, KMS_SRTP_RECV, &rx2));
    /* Every old packet, newest first and oldest first, before any new one: those of ROC 4
     * (i >= 16) are replays, those of ROC 3 fail authentication at ROC 4. */
    for (size_t k = 0; k < 30; k++) {
        size_t i = 29 - k;
        memcpy(pkt[i], copy[i], len[i]);
        expect_err(kms_srtp_unprotect(rx2, pkt[i], len[i], 0, &h),
                   i >= 16 ? KMS_ERR_REPLAY : KMS_ERR_AUTH);
        memcpy(pkt[k], copy[k], len[k]);
        expect_err(kms_srtp_unprotect(rx2, pkt[k], len[k], 0, &h),
                   k >= 16 ? KMS_ERR_REPLAY : KMS_ERR_AUTH);
    }
    expect_err(kms_srtp_rx_position(rx2, &roc, &seq), KMS_ERR_NOT_FOUND);
    /* The packet at the floor and the next ones are accepted; the old ones are still refused,
     * though libsrtp's 128-packet window now reaches back over them. */
    for (size_t i = 30; i < N; i++) {
        expect_ok(kms_srtp_unprotect(rx2, pkt[i], len[i], 0, &h));
        assert_int_equal(h.seq, (uint16_t)(65520 + i));
    }
    for (size_t i = 0; i < 30; i++) {
        memcpy(pkt[i], copy[i], len[i]);
        expect_err(kms_srtp_unprotect(rx2, pkt[i], len[i], 0, &h), KMS_ERR_REPLAY);
    }
    assert_int_equal(kms_srtp_counters(rx2)->replays, 2 * 14 + 30);
    assert_int_equal(kms_srtp_counters(rx2)->packets, N - 30);
    assert_int_equal(kms_srtp_counters(rx2)->auth_failures, 2 * 16);
    expect_ok(kms_srtp_rx_position(rx2, &roc, &seq));
    assert_int_equal(roc, 4);
    assert_int_equal(seq, 24);
    kms_srtp_free(tx);
    kms_srtp_free(rx2);
    kms_media_session_wipe(&a);
    kms_media_session_wipe(&b);
}

static int teardown(void **state)
{
    (void)state;
    kms_srtp_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtp_reader_accepts_csrc_extension_padding),
        cmocka_unit_test(rtp_reader_refuses),
        cmocka_unit_test(protect_equals_rfc3711_model),
        cmocka_unit_test(each_policy_round_trip_and_refusals),
        cmocka_unit_test(rx_position_is_the_highest_index),
        cmocka_unit_test(floor_refuses_what_an_earlier_run_received),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* kms_srtp: SRTP over libsrtp2 for the session file's two streams (see kms_srtp.h). */
#include "srtp/kms_srtp.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "util/kms_mem.h"

_Static_assert(KMS_SRTP_TRAILER_MAX == SRTP_MAX_TAG_LEN, "the largest tag of libsrtp");
_Static_assert(KMS_MEDIA_KEY_MAX + KMS_MEDIA_SALT_MAX <= SRTP_MAX_KEY_LEN, "key || salt fits");

struct kms_srtp {
    srtp_t ctx;
    enum kms_srtp_dir dir;
    uint32_t ssrc; /* the sender's local SSRC, the receiver's remote SSRC */
    struct kms_srtp_counters n;
    /* A receiver's floor: the session's remote ROC || SEQ, the first index this receiver
     * accepts (an earlier rtp-recv authenticated every index below, or the stream starts
     * there). Its position: the floor until a packet of remote_ssrc authenticated (have_pos
     * false), then the highest index libsrtp authenticated on it. */
    uint64_t floor;
    bool have_pos;
    uint64_t pos;
    uint64_t last; /* the index of the packet the last successful unprotect accepted */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_init_fail;
static bool initialised;

static void init_run(void)
{
    init_status = srtp_init();
    initialised = init_status == srtp_err_status_ok;
}

kms_result kms_srtp_init(void)
{
    KMS_ENSURE(pthread_once(&init_once, init_run) == 0, KMS_ERR_INTERNAL);
    KMS_ENSURE(init_status == srtp_err_status_ok, KMS_ERR_CRYPTO);
    return KMS_RESULT_OK;
}

void kms_srtp_shutdown(void)
{
    if (initialised) {
        initialised = false;
        (void)srtp_shutdown();
    }
}

const char *kms_srtp_version(void)
{
    return srtp_get_version_string();
}

/* The libsrtp crypto policy of one of our policies. */
static kms_result set_crypto(const struct kms_srtp_policy *pol, srtp_crypto_policy_t *cp)
{
    switch (pol->id) {
    case KMS_SRTP_AES128_HMAC80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(cp);
        break;
    case KMS_SRTP_AES256_HMAC80:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(cp);
        break;
    case KMS_SRTP_AES128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(cp);
        break;
    default:
        KMS_BAIL(KMS_ERR_UNSUPPORTED);
    }
    return KMS_RESULT_OK;
}

static kms_result fill_policy(srtp_policy_t *p, const struct kms_srtp_policy *pol, uint8_t *key,
                              srtp_ssrc_type_t type, uint32_t ssrc)
{
    memset(p, 0, sizeof(*p));
    KMS_TRY(set_crypto(pol, &p->rtp));
    KMS_TRY(set_crypto(pol, &p->rtcp)); /* not used: RTP only */
    p->key = key;
    p->ssrc.type = type;
    p->ssrc.value = ssrc;
    p->window_size = 128; /* srtp_create refuses less than 64; RFC 3711 3.3.2's minimum */
    p->allow_repeat_tx = 0;
    return KMS_RESULT_OK;
}

kms_result kms_srtp_new(const struct kms_media_session *s, enum kms_srtp_dir dir,
                        struct kms_srtp **out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(dir == KMS_SRTP_SEND || dir == KMS_SRTP_RECV, KMS_ERR_ARG);
    KMS_TRY(kms_media_session_check(s));
    KMS_TRY(kms_srtp_init());
    const struct kms_srtp_policy *pol = s->policy;
    const struct kms_media_stream *st = dir == KMS_SRTP_SEND ? &s->local : &s->remote;
    kms_result rc = KMS_RC_INIT;
    uint8_t key[SRTP_MAX_KEY_LEN];
    srtp_policy_t pols[2];
    struct kms_srtp *c = calloc(1, sizeof(*c));
    KMS_ENSURE_OUT(rc, c != NULL, KMS_ERR_NOMEM);
    c->dir = dir;
    c->ssrc = st->ssrc;
    c->floor = (uint64_t)st->roc << 16 | st->seq;
    c->pos = c->floor;
    memcpy(key, st->key, pol->key_len);
    memcpy(key + pol->key_len, st->salt, pol->salt_len);
    KMS_TRY_OUT(rc, fill_policy(&pols[0], pol, key, ssrc_specific, st->ssrc));
    if (dir == KMS_SRTP_RECV) {
        KMS_TRY_OUT(rc, fill_policy(&pols[1], pol, key, ssrc_any_inbound, 0));
        pols[0].next = &pols[1];
    }
    srtp_err_status_t e = srtp_create(&c->ctx, pols);
    if (e != srtp_err_status_ok) {
        c->ctx = NULL;
        KMS_BAIL_OUT(rc, e == srtp_err_status_bad_param ? KMS_ERR_UNSUPPORTED : KMS_ERR_CRYPTO);
    }
    /* libsrtp takes a pending ROC of 0 as "none": the first packet's index is then its SEQ. */
    KMS_ENSURE_OUT(rc, srtp_set_stream_roc(c->ctx, st->ssrc, st->roc) == srtp_err_status_ok,
                   KMS_ERR_CRYPTO);
    *out = c;
    c = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(key, sizeof(key));
    kms_wipe(pols, sizeof(pols));
    kms_srtp_free(c);
    return rc;
}

void kms_srtp_free(struct kms_srtp *c)
{
    if (c == NULL) {
        return;
    }
    if (c->ctx != NULL) {
        (void)srtp_dealloc(c->ctx);
    }
    kms_wipe(c, sizeof(*c));
    free(c);
}

const struct kms_srtp_counters *kms_srtp_counters(const struct kms_srtp *c)
{
    return &c->n;
}

static uint32_t hdr_ssrc(const uint8_t *pkt)
{
    return (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
}

/* RFC 3711 3.3.1: the index of a packet with sequence number seq, given the receiver's ROC and
 * s_l (hi = ROC || s_l): ROC - 1 when s_l < 2^15 and SEQ - s_l > 2^15, ROC + 1 when s_l >= 2^15
 * and s_l - 2^15 > SEQ, else ROC. An index is never negative (ROC 0 stays 0, as libsrtp's
 * srtp_rdbx_estimate_index does) nor beyond 48 bits. With forward_only the ROC - 1 case keeps
 * ROC (the first packet of a run, see kms_srtp_unprotect). */
static uint64_t index_guess(uint64_t hi, uint16_t seq, bool forward_only)
{
    uint32_t roc = (uint32_t)(hi >> 16);
    uint16_t s_l = (uint16_t)hi;
    uint32_t v = roc;
    if (s_l < 0x8000) {
        if (seq > s_l && seq - s_l > 0x8000 && roc > 0 && !forward_only) {
            v = roc - 1;
        }
    } else if (s_l - 0x8000 > seq && roc < UINT32_MAX) {
        v = roc + 1;
    }
    return (uint64_t)v << 16 | seq;
}

kms_result kms_srtp_protect(struct kms_srtp *c, uint8_t *pkt, size_t len, size_t cap,
                            size_t *out_len)
{
    KMS_ENSURE(out_len != NULL, KMS_ERR_ARG);
    *out_len = 0;
    KMS_ENSURE(c != NULL && c->dir == KMS_SRTP_SEND && pkt != NULL, KMS_ERR_ARG);
    KMS_ENSURE(len <= (size_t)INT32_MAX - KMS_SRTP_TRAILER_MAX, KMS_ERR_TOO_LONG);
    KMS_ENSURE(cap >= len + KMS_SRTP_TRAILER_MAX, KMS_ERR_ARG);
    struct kms_rtp_hdr h;
    KMS_ENSURE(len >= 2 && kms_ok(kms_rtp_read(pkt, len, pkt[1] & 0x7f, &h)), KMS_ERR_MALFORMED);
    KMS_ENSURE(h.ssrc == c->ssrc, KMS_ERR_ARG);
    int n = (int)len;
    KMS_ENSURE(srtp_protect(c->ctx, pkt, &n) == srtp_err_status_ok, KMS_ERR_CRYPTO);
    KMS_ENSURE(n >= (int)len && (size_t)n <= len + KMS_SRTP_TRAILER_MAX, KMS_ERR_INTERNAL);
    c->n.packets++;
    c->n.bytes += h.payload_len;
    *out_len = (size_t)n;
    return KMS_RESULT_OK;
}

kms_result kms_srtp_unprotect(struct kms_srtp *c, uint8_t *pkt, size_t len, uint8_t want_pt,
                              struct kms_rtp_hdr *h)
{
    KMS_ENSURE(h != NULL, KMS_ERR_ARG);
    memset(h, 0, sizeof(*h));
    KMS_ENSURE(c != NULL && c->dir == KMS_SRTP_RECV && (pkt != NULL || len == 0), KMS_ERR_ARG);
    if (len > (size_t)INT32_MAX) {
        c->n.auth_failures++;
        KMS_BAIL(KMS_ERR_AUTH);
    }
    /* The index of a packet of our stream, estimated as libsrtp will (RFC 3711 3.3.1). Until a
     * packet of the stream authenticated, from the session's ROC and SEQ (the floor, as ROC and
     * s_l) and given to libsrtp as the stream's pending ROC (libsrtp 2.5.0 takes the pending
     * ROC || SEQ as the index, and a pending ROC of 0 as "none": SEQ alone, which is the same
     * index). Forward only: remote_seq is either the Session Data's initial SEQ or the index
     * after the highest a previous rtp-recv authenticated (kms_srtp_rx_position), and in both
     * cases the sender goes on from there; a first packet that seems 2^15 behind is taken at
     * the session's ROC, and then refused below. */
    bool ours = len >= KMS_RTP_HDR_LEN && hdr_ssrc(pkt) == c->ssrc;
    uint64_t idx = ours ? index_guess(c->pos, (uint16_t)(pkt[2] << 8 | pkt[3]), !c->have_pos) : 0;
    /*= RFC 3711, 3.3.2 (paraphrased)
     *# a packet whose index the replay list shows as received, or that lies behind the
     *# window, is discarded before authentication
     *
     * libsrtp's replay list starts empty in every run, so an index below the floor (received
     * by an earlier run on this session, or before the stream's first) is a replay here: it is
     * refused before libsrtp sees it, whatever its tag, as libsrtp orders its own check. */
    if (ours && idx < c->floor) {
        c->n.replays++;
        KMS_BAIL(KMS_ERR_REPLAY);
    }
    if (ours && !c->have_pos) {
        KMS_ENSURE(srtp_set_stream_roc(c->ctx, c->ssrc, (uint32_t)(idx >> 16)) ==
                       srtp_err_status_ok,
                   KMS_ERR_INTERNAL);
    }
    int n = (int)len;
    srtp_err_status_t e = srtp_unprotect(c->ctx, pkt, &n);
    if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old) {
        c->n.replays++;
        KMS_BAIL(KMS_ERR_REPLAY);
    }
    if (e != srtp_err_status_ok || n < KMS_RTP_HDR_LEN || (size_t)n > len) {
        c->n.auth_failures++;
        KMS_BAIL(KMS_ERR_AUTH);
    }
    uint32_t ssrc = hdr_ssrc(pkt);
    if (ssrc != c->ssrc) {
        /* Authenticated by the any-inbound template: drop the clone libsrtp made for it. */
        (void)srtp_remove_stream(c->ctx, htonl(ssrc));
        c->n.other_ssrc++;
        KMS_BAIL(KMS_ERR_POLICY);
    }
    /* libsrtp added the index to the stream's replay database (kms_rtp_read below may still
     * refuse the packet): follow its highest index, the first one being first. The SSRC is
     * ours (checked above), so idx is the estimate libsrtp used. */
    if (!c->have_pos || idx > c->pos) {
        c->pos = idx;
        c->have_pos = true;
    }
    if (!kms_ok(kms_rtp_read(pkt, (size_t)n, want_pt, h))) {
        c->n.auth_failures++;
        KMS_BAIL(KMS_ERR_AUTH);
    }
    c->last = idx;
    c->n.packets++;
    c->n.bytes += h->payload_len;
    return KMS_RESULT_OK;
}

uint64_t kms_srtp_last_index(const struct kms_srtp *c)
{
    return c != NULL ? c->last : 0;
}

kms_result kms_srtp_rx_position(const struct kms_srtp *c, uint32_t *roc, uint16_t *seq)
{
    KMS_ENSURE(roc != NULL && seq != NULL, KMS_ERR_ARG);
    *roc = 0;
    *seq = 0;
    KMS_ENSURE(c != NULL && c->dir == KMS_SRTP_RECV, KMS_ERR_ARG);
    KMS_ENSURE(c->have_pos, KMS_ERR_NOT_FOUND);
    /* libsrtp 2.5.0's srtp_get_stream_roc is the ROC of the stream's replay database index
     * (srtp_rdbx_get_roc), the highest index authenticated: it must be ours. */
    uint32_t r = 0;
    KMS_ENSURE(srtp_get_stream_roc(c->ctx, c->ssrc, &r) == srtp_err_status_ok, KMS_ERR_INTERNAL);
    KMS_ENSURE(r == (uint32_t)(c->pos >> 16), KMS_ERR_INTERNAL);
    /* The index after it; the last of the 48-bit index space has none (RFC 3711 9.2: the
     * master key must be replaced before). */
    KMS_ENSURE(c->pos < KMS_MEDIA_INDEX_MAX, KMS_ERR_KEY_SPENT);
    *roc = (uint32_t)((c->pos + 1) >> 16);
    *seq = (uint16_t)(c->pos + 1);
    return KMS_RESULT_OK;
}

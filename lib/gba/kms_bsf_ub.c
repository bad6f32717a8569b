/* SPDX-License-Identifier: Apache-2.0 */
/* Ub request handling: see kms_bsf_ub.h. */
#include "gba/kms_bsf_ub.h"

#include <stdio.h>
#include <string.h>

#include "gba/kms_bsfinfo.h"
#include "gba/kms_digest.h"
#include "util/kms_mem.h"

#define HDR_MAX  1024
#define BODY_MAX 4096

void kms_bsf_ub_reply_init(struct kms_bsf_ub_reply *r)
{
    memset(r, 0, sizeof(*r));
    kms_buf_init(&r->www_authenticate, HDR_MAX, false);
    kms_buf_init(&r->authentication_info, HDR_MAX, false);
    kms_buf_init(&r->body, BODY_MAX, false);
}

void kms_bsf_ub_reply_cleanup(struct kms_bsf_ub_reply *r)
{
    kms_buf_cleanup(&r->www_authenticate);
    kms_buf_cleanup(&r->authentication_info);
    kms_buf_cleanup(&r->body);
}

void kms_bsf_ub_verdict(struct kms_bsf_ub_reply *r, enum kms_err why)
{
    r->status = kms_wire_of(KMS_IFACE_UB, why).status;
    r->why = why;
}

static void verdict(struct kms_bsf_ub_reply *r, enum kms_err why)
{
    kms_bsf_ub_verdict(r, why);
}

static void hex8(const uint8_t *p, char out[17])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 8; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[16] = '\0';
}

/* A new challenge for impi as a 401 (or 429 / 503). */
static kms_result challenge(struct kms_bsf *b, const char *impi, uint64_t now,
                            struct kms_bsf_ub_reply *r)
{
    struct kms_bsf_challenge c;
    kms_result cr = kms_bsf_challenge(b, impi, now, &c);
    switch (cr.err) {
    case KMS_OK:
        break;
    case KMS_ERR_RATE:
        verdict(r, cr.err);
        r->retry_after = kms_bsf_rate_period(b); /* when the next token is earned */
        return KMS_RESULT_OK;
    case KMS_ERR_NOT_ASCII:  /* a username that cannot be an IMPI */
    case KMS_ERR_BAD_LENGTH: /* ... */
    case KMS_ERR_ARG:        /* ... */
    case KMS_ERR_FULL:       /* no room for another challenge */
    case KMS_ERR_SQN_EXHAUSTED:
    case KMS_ERR_SQN_RESERVE:
        verdict(r, cr.err);
        return KMS_RESULT_OK;
    default:
        return cr;
    }
    char nonce[KMS_DIGEST_NONCE_BUF], opaque[17];
    KMS_TRY(kms_digest_nonce_encode(c.rand, c.autn, c.sd, sizeof(c.sd), nonce, sizeof(nonce)));
    hex8(c.rand + 8, opaque); /* echoed by the client; carries nothing we rely on */
    kms_buf_reset(&r->www_authenticate);
    KMS_TRY(
        kms_digest_write_challenge(kms_bsf_realm(b), nonce, opaque, false, &r->www_authenticate));
    KMS_TRY(kms_buf_put_u8(&r->www_authenticate, 0)); /* NUL-terminated for the HTTP layer */
    verdict(r, KMS_ERR_AUTH);                         /* a challenge is an authentication request */
    return KMS_RESULT_OK;
}

/* The answer to a challenge: verify, then bootstrap, resynchronise or refuse. */
static kms_result answer(struct kms_bsf *b, const struct kms_digest_params *cred,
                         const char *method, const uint8_t *body, size_t body_len, uint64_t now,
                         struct kms_bsf_ub_reply *r)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_bsf_pending p;
    memset(&p, 0, sizeof(p));
    uint8_t rand[16], autn[16], sd[KMS_BSF_SEAL_LEN], auts[KMS_DIGEST_AUTS_LEN];
    size_t sd_len = 0;
    const char *nonce = kms_digest_get(cred, KMS_DIGEST_NONCE);
    /* An answer names the algorithm (a missing one would mean plain MD5, RFC 2617 3.2.1), and
     * its nonce count is 1: our nonces are single-use. */
    const char *alg = kms_digest_get(cred, KMS_DIGEST_ALGORITHM);
    const char *nc = kms_digest_get(cred, KMS_DIGEST_NC);
    if (alg == NULL || nc == NULL || strcmp(nc, "00000001") != 0) {
        verdict(r, KMS_ERR_UNSUPPORTED);
        rc = KMS_RESULT_OK;
        goto out;
    }
    if (!kms_ok(
            kms_digest_nonce_decode(nonce, strlen(nonce), rand, autn, sd, sizeof(sd), &sd_len)) ||
        sd_len != sizeof(sd)) {
        verdict(r, KMS_ERR_AUTH); /* not one of our nonces */
        rc = KMS_RESULT_OK;
        goto out;
    }
    /* The seal binds the challenge to its IMPI: another username does not open it. */
    kms_result t =
        kms_bsf_open(b, kms_digest_get(cred, KMS_DIGEST_USERNAME), rand, autn, sd, now, &p);
    if (!kms_ok(t)) {
        /* not ours or another IMPI's (AUTH), expired (NOT_FOUND), answered (REPLAY): a 401;
         * a failed store stays what it is */
        verdict(r, t.err);
        rc = KMS_RESULT_OK;
        goto out;
    }
    const char *auts_b64 = kms_digest_get(cred, KMS_DIGEST_AUTS);
    if (auts_b64 != NULL) {
        /* Resynchronisation: the response uses the empty password (RFC 3310 3.4). */
        kms_result v =
            kms_digest_verify_response(cred, (const uint8_t *)"", 0, method, body, body_len);
        if (kms_ok(v)) {
            v = kms_digest_auts_decode(auts_b64, strlen(auts_b64), auts);
        }
        if (kms_ok(v)) {
            v = kms_bsf_resync(b, &p, auts, now);
        }
        if (!kms_ok(v)) {
            /* An AUTS that does not decode does not verify either; an answer without the
             * parameters an answer needs is unsupported; a failed store stays what it is. */
            verdict(r, v.err == KMS_ERR_UNSUPPORTED || kms_err_group(v.err) == KMS_ERR_G_STATE ||
                               kms_err_group(v.err) == KMS_ERR_G_INTERNAL ||
                               kms_err_group(v.err) == KMS_ERR_G_AUTH
                           ? v.err
                           : KMS_ERR_AUTH);
            rc = KMS_RESULT_OK;
            goto out;
        }
        KMS_TRY_OUT(rc, challenge(b, p.impi, now, r));
        goto out;
    }
    kms_result v = kms_digest_verify_response(cred, p.xres, sizeof(p.xres), method, body, body_len);
    if (!kms_ok(v) || p.fake) {
        verdict(r, kms_ok(v) || v.err != KMS_ERR_UNSUPPORTED ? KMS_ERR_AUTH : v.err);
        rc = KMS_RESULT_OK;
        goto out;
    }
    struct kms_bsf_session s;
    kms_result bs = kms_bsf_bootstrap(b, &p, now, &s);
    if (bs.err == KMS_ERR_FULL || bs.err == KMS_ERR_REPLAY) {
        verdict(r, bs.err);
        rc = KMS_RESULT_OK;
        goto out;
    }
    KMS_TRY_OUT(rc, bs);
    memcpy(r->btid, s.btid, sizeof(r->btid));
    KMS_TRY_OUT(rc, kms_bsfinfo_format(s.btid, s.expires, &r->body));
    /* rspauth: XRES as the password, A2 = ":" uri ":" H(the 200 body). */
    struct kms_digest_req q = {
        .username = kms_digest_get(cred, KMS_DIGEST_USERNAME),
        .realm = kms_digest_get(cred, KMS_DIGEST_REALM),
        .nonce = nonce,
        .uri = kms_digest_get(cred, KMS_DIGEST_URI),
        .qop = "auth-int",
        .nc = kms_digest_get(cred, KMS_DIGEST_NC),
        .cnonce = kms_digest_get(cred, KMS_DIGEST_CNONCE),
        .method = "",
        .body = kms_buf_data(&r->body),
        .body_len = kms_buf_len(&r->body),
    };
    char rspauth[KMS_DIGEST_HEX_BUF];
    KMS_TRY_OUT(rc, kms_digest_rspauth(p.xres, sizeof(p.xres), &q, rspauth));
    KMS_TRY_OUT(rc, kms_digest_write_info(q.nc, q.cnonce, rspauth, &r->authentication_info));
    KMS_TRY_OUT(rc, kms_buf_put_u8(&r->authentication_info, 0));
    verdict(r, KMS_OK);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(&p, sizeof(p));
    return rc;
}

kms_result kms_bsf_ub(struct kms_bsf *b, const char *authorization, const char *method,
                      const char *uri, const uint8_t *body, size_t body_len, uint64_t now,
                      struct kms_bsf_ub_reply *r)
{
    KMS_ENSURE(b != NULL && method != NULL && uri != NULL && r != NULL, KMS_ERR_ARG);
    KMS_ENSURE(body != NULL || body_len == 0, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_digest_params cred;
    if (authorization == NULL) {
        /* Without a username there is no IMPI to challenge (TS 24.109 sends one). */
        verdict(r, KMS_ERR_ARG);
        return KMS_RESULT_OK;
    }
    kms_result pr = kms_digest_parse_credentials(authorization, strlen(authorization), &cred);
    if (!kms_ok(pr)) {
        verdict(r, pr.err);
        rc = KMS_RESULT_OK;
        goto out;
    }
    const char *user = kms_digest_get(&cred, KMS_DIGEST_USERNAME);
    size_t ulen = strlen(user);
    if (ulen < sizeof(r->impi)) {
        memcpy(r->impi, user, ulen + 1);
    }
    if (strcmp(kms_digest_get(&cred, KMS_DIGEST_REALM), kms_bsf_realm(b)) != 0 ||
        strcmp(kms_digest_get(&cred, KMS_DIGEST_URI), uri) != 0) {
        verdict(r, KMS_ERR_ARG); /* another realm, or a uri that is not this request's */
        if (strcmp(kms_digest_get(&cred, KMS_DIGEST_REALM), kms_bsf_realm(b)) != 0) {
            r->realm = kms_bsf_realm(b);
        }
        rc = KMS_RESULT_OK;
        goto out;
    }
    if (kms_digest_get(&cred, KMS_DIGEST_NONCE)[0] == '\0') {
        rc = challenge(b, user, now, r);
    } else {
        rc = answer(b, &cred, method, body, body_len, now, r);
    }
    if (!kms_ok(rc) && kms_wire_of(KMS_IFACE_UB, rc.err).reason != NULL) {
        /* What the BSF depends on failed (the subscriber store, its SQN reservation on a full
         * disk, memory): the table's 503 with its reason, not a 500 (docs/api.md). */
        kms_buf_reset(&r->www_authenticate);
        kms_buf_reset(&r->authentication_info);
        kms_buf_reset(&r->body);
        r->retry_after = 0;
        verdict(r, rc.err);
        rc = KMS_RESULT_OK;
    }
out:
    kms_wipe(&cred, sizeof(cred));
    return rc;
}

kms_result kms_bsf_ub_http(const struct kms_bsf_ub_reply *r, struct kms_http_resp *resp)
{
    KMS_ENSURE(r != NULL && resp != NULL, KMS_ERR_ARG);
    resp->status = r->status;
    resp->content_type = NULL;
    kms_buf_reset(&resp->body);
    if (r->why == KMS_OK) {
        resp->content_type = KMS_BSFINFO_CONTENT_TYPE;
        KMS_TRY(kms_buf_put_bytes(&resp->body, kms_buf_data(&r->body), kms_buf_len(&r->body)));
        KMS_TRY(kms_http_resp_header(resp, "Authentication-Info",
                                     (const char *)kms_buf_data(&r->authentication_info)));
    } else if (kms_buf_len(&r->www_authenticate) > 0) {
        KMS_TRY(kms_http_resp_header(resp, "WWW-Authenticate",
                                     (const char *)kms_buf_data(&r->www_authenticate)));
    } else if (r->realm != NULL) {
        KMS_TRY(kms_http_resp_header(resp, "Imskms-Realm", r->realm));
    } else if (r->retry_after > 0) {
        /* 429: the IMPI's own rate, not the server's state (no Imskms-Reason). */
        char v[24];
        int n = snprintf(v, sizeof(v), "%u", r->retry_after);
        KMS_ENSURE(n > 0 && (size_t)n < sizeof(v), KMS_ERR_INTERNAL);
        KMS_TRY(kms_http_resp_header(resp, "Retry-After", v));
    } else {
        KMS_TRY(kms_http_resp_busy(resp, KMS_IFACE_UB, r->why, 0)); /* a 503's reason */
    }
    return KMS_RESULT_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the BSF's Ub request handler, kms_bsf_ub (Authorization header, method, body in;
 * status, headers and body out), with kms_bsf_ub_http.
 *
 * Per input a fresh BSF core (small tables) over the fake store of fuzz_bsf_common.h, so no
 * input depends on the ones before (rate buckets, SQNs and challenges start afresh). The clock
 * stands at FB_NOW. The harness plays the UE with the subscriber's K and OPc (Milenage).
 *
 * Input: octet 0 bits 0-1 select the mode:
 *   0  the rest is the Authorization header as is (an empty rest: no header at all);
 *   1  a challenge request (nonce="") whose username is the rest of the input;
 *   2  an answer to a challenge just issued by the handler (a VALID nonce);
 *   3  an AUTS resynchronisation answering a challenge just issued.
 * Modes 2 and 3, octet 0: bit 2 the harness computes the correct response (RES of the
 * challenge in mode 2, the empty password in mode 3; else the response is the hex of octets
 * 16-31), bit 3 no algorithm parameter, bit 4 a fuzzed username (the text after octet 46, up
 * to a newline; else the subscriber's IMPI), bit 5 POST with a body (what follows the
 * username's newline; else GET without one), bit 6 the challenge is for an unknown IMPI, bit 7
 * nc is the hex of octets 8-11 (else 00000001). Octet 1 bit 0: mode 3 sends AUTS octets 32-45
 * as they are instead of a valid AUTS computed with Milenage for SQN_MS = octets 2-7. cnonce is
 * the hex of octets 12-15.
 *
 * Oracles: kms_bsf_ub succeeds; the status is the Ub column's for why and one the table allows
 * on Ub at all; a 200 comes exactly when the harness computed the right response for the
 * subscriber's challenge with its username, the algorithm and nc 00000001, and then the UE's
 * check of rspauth passes and the BootstrappingInfo names the B-TID of the challenge's RAND;
 * a 401 with a challenge only for a challenge request (mode 1, or a raw header that parses
 * with nonce="") or a resync with a valid AUTS and the correct response; no header or body
 * holds K, OPc, or the RES, CK or IK of any challenge the harness saw (the one it answers and
 * any the reply carries); kms_bsf_ub_http succeeds with the headers the reply implies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "fuzz_bsf_common.h"
#include "gba/kms_bsf_ub.h"
#include "gba/kms_bsfinfo.h"
#include "gba/kms_digest.h"
#include "util/kms_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define URI      "/"
#define STRANGER "bob@ims.example.org"
#define HEAD     46 /* fixed octets before the text of modes 2 and 3 */
#define MAX_VECS 4

struct vec {
    uint8_t res[8], ck[16], ik[16];
};

/* The secrets no reply may show. */
struct seen {
    size_t n;
    struct vec v[MAX_VECS];
};

static struct kms_milenage *usim(void)
{
    static struct kms_milenage *m;
    if (m == NULL &&
        !(kms_ok(kms_milenage_new(&m)) && kms_ok(kms_milenage_set_key(m, FB_K, FB_OPC)))) {
        fprintf(stderr, "fuzz set-up: milenage\n");
        exit(2);
    }
    return m;
}

/* The UE side of a nonce: RAND, and RES/CK/IK when AUTN verifies (the subscriber's). */
static bool ue_run(const char *nonce, uint8_t rand[16], struct vec *out)
{
    uint8_t autn[16], sd[KMS_DIGEST_SERVER_DATA_MAX], sqn[6];
    size_t sd_len = 0;
    struct kms_aka_vec v;
    memset(out, 0, sizeof(*out));
    if (!kms_ok(
            kms_digest_nonce_decode(nonce, strlen(nonce), rand, autn, sd, sizeof(sd), &sd_len)) ||
        !kms_ok(kms_milenage_check_autn(usim(), rand, autn, sqn, &v))) {
        return false;
    }
    memcpy(out->res, v.res, 8);
    memcpy(out->ck, v.ck, 16);
    memcpy(out->ik, v.ik, 16);
    kms_wipe(&v, sizeof(v));
    return true;
}

/* The nonce of the challenge in r (into nonce), when there is one. */
static bool challenge_nonce(const struct kms_bsf_ub_reply *r, char nonce[KMS_DIGEST_NONCE_BUF])
{
    struct kms_digest_params c;
    size_t n = kms_buf_len(&r->www_authenticate);
    if (n == 0) {
        return false;
    }
    FB_CHECK(kms_buf_data(&r->www_authenticate)[n - 1] == 0); /* NUL-terminated */
    FB_CHECK(kms_ok(
        kms_digest_parse_challenge((const char *)kms_buf_data(&r->www_authenticate), n - 1, &c)));
    const char *v = kms_digest_get(&c, KMS_DIGEST_NONCE);
    FB_CHECK(strlen(v) < KMS_DIGEST_NONCE_BUF);
    memcpy(nonce, v, strlen(v) + 1);
    return true;
}

static void no_secret_in(const struct seen *s, const uint8_t *p, size_t n)
{
    fb_check_no_key(p, n, FB_K, 16);
    fb_check_no_key(p, n, FB_OPC, 16);
    for (size_t i = 0; i < s->n; i++) {
        fb_check_no_key(p, n, s->v[i].res, 8);
        fb_check_no_key(p, n, s->v[i].ck, 16);
        fb_check_no_key(p, n, s->v[i].ik, 16);
    }
}

static bool status_on_ub(int status)
{
    if (status == 200) {
        return true;
    }
    for (int e = 1; e < KMS_ERR_COUNT_; e++) {
        if (kms_wire_of(KMS_IFACE_UB, (enum kms_err)e).status == status) {
            return true;
        }
    }
    return false;
}

/* One request through the handler and its generic oracles; the reply is the caller's. */
static void serve(struct kms_bsf *b, const char *auth, const char *method, const uint8_t *body,
                  size_t body_len, struct kms_bsf_ub_reply *r, struct seen *s)
{
    char *a = auth != NULL ? (char *)fb_dup((const uint8_t *)auth, strlen(auth), true) : NULL;
    uint8_t *bd = fb_dup(body, body_len, false);
    kms_bsf_ub_reply_init(r);
    FB_CHECK(kms_ok(kms_bsf_ub(b, a, method, URI, body_len > 0 ? bd : NULL, body_len, FB_NOW, r)));
    FB_CHECK(r->status == kms_wire_of(KMS_IFACE_UB, r->why).status && status_on_ub(r->status));
    FB_CHECK((r->status == 200) == (r->why == KMS_OK));
    char nonce[KMS_DIGEST_NONCE_BUF];
    uint8_t rand[16];
    if (challenge_nonce(r, nonce)) {
        FB_CHECK(r->status == 401);
        if (s->n < MAX_VECS && ue_run(nonce, rand, &s->v[s->n])) {
            s->n++;
        }
    }
    no_secret_in(s, kms_buf_data(&r->www_authenticate), kms_buf_len(&r->www_authenticate));
    no_secret_in(s, kms_buf_data(&r->authentication_info), kms_buf_len(&r->authentication_info));
    no_secret_in(s, kms_buf_data(&r->body), kms_buf_len(&r->body));
    struct kms_http_resp resp = {.status = 0};
    kms_buf_init(&resp.body, KMS_HTTP_MAX_RESP_BODY, false);
    FB_CHECK(kms_ok(kms_bsf_ub_http(r, &resp)));
    FB_CHECK(resp.status == r->status);
    for (size_t i = 0; i < resp.n_hdrs; i++) {
        no_secret_in(s, (const uint8_t *)resp.hdrs[i].value, strlen(resp.hdrs[i].value));
    }
    no_secret_in(s, kms_buf_data(&resp.body), kms_buf_len(&resp.body));
    if (r->status == 200) {
        FB_CHECK(resp.n_hdrs == 1 && strcmp(resp.hdrs[0].name, "Authentication-Info") == 0);
        FB_CHECK(kms_buf_len(&resp.body) > 0);
    } else if (kms_buf_len(&r->www_authenticate) > 0) {
        FB_CHECK(resp.n_hdrs == 1 && strcmp(resp.hdrs[0].name, "WWW-Authenticate") == 0);
    } else if (r->status == 429) {
        FB_CHECK(resp.n_hdrs == 1 && strcmp(resp.hdrs[0].name, "Retry-After") == 0);
    } else if (r->realm != NULL) {
        /* a 400 for another realm names the BSF's own (public: every challenge does) */
        FB_CHECK(r->status == 400 && resp.n_hdrs == 1 &&
                 strcmp(resp.hdrs[0].name, "Imskms-Realm") == 0 &&
                 strcmp(resp.hdrs[0].value, r->realm) == 0 && kms_buf_len(&resp.body) == 0);
    } else {
        FB_CHECK(resp.n_hdrs == 0 && kms_buf_len(&resp.body) == 0);
    }
    kms_buf_cleanup(&resp.body);
    free(a);
    free(bd);
}

/* Formats Digest credentials from p into out (NUL-terminated); false when they do not format. */
static bool credentials(const struct kms_digest_params *p, char *out, size_t cap)
{
    struct kms_buf h;
    kms_buf_init(&h, KMS_DIGEST_HEADER_MAX, false);
    bool ok = kms_ok(kms_digest_format(KMS_DIGEST_CREDENTIALS, p, &h)) && kms_buf_len(&h) < cap;
    if (ok) {
        memcpy(out, kms_buf_data(&h), kms_buf_len(&h));
        out[kms_buf_len(&h)] = '\0';
    }
    kms_buf_cleanup(&h);
    return ok;
}

/* A challenge request for user (a header of its own when user does not format). */
static void challenge_request(const char *user, char *out, size_t cap)
{
    struct kms_digest_params p;
    kms_digest_params_init(&p);
    if (kms_ok(kms_digest_set(&p, KMS_DIGEST_USERNAME, user)) &&
        kms_ok(kms_digest_set(&p, KMS_DIGEST_REALM, FB_REALM)) &&
        kms_ok(kms_digest_set(&p, KMS_DIGEST_NONCE, "")) &&
        kms_ok(kms_digest_set(&p, KMS_DIGEST_URI, URI)) &&
        kms_ok(kms_digest_set(&p, KMS_DIGEST_RESPONSE, "")) && credentials(&p, out, cap)) {
        return;
    }
    (void)snprintf(out, cap,
                   "Digest username=\"%s\", realm=\"" FB_REALM "\", nonce=\"\", uri=\"" URI
                   "\", response=\"\"",
                   user);
}

/* Whether a raw header asks for a challenge (parses, nonce ""). */
static bool is_challenge_request(const char *auth)
{
    struct kms_digest_params p;
    return auth != NULL && kms_ok(kms_digest_parse_credentials(auth, strlen(auth), &p)) &&
           kms_digest_get(&p, KMS_DIGEST_NONCE)[0] == '\0';
}

static void raw_or_challenge(struct kms_bsf *b, bool raw, const uint8_t *t, size_t n)
{
    char text[KMS_DIGEST_HEADER_MAX + 1];
    char hdr[KMS_DIGEST_HEADER_MAX + 512];
    n = n < KMS_DIGEST_HEADER_MAX ? n : KMS_DIGEST_HEADER_MAX;
    memcpy(text, t, n);
    text[n] = '\0';
    const char *auth = text;
    if (!raw) {
        challenge_request(text, hdr, sizeof(hdr));
        auth = hdr;
    } else if (n == 0) {
        auth = NULL;
    }
    struct seen s = {0};
    struct kms_bsf_ub_reply r;
    serve(b, auth, "GET", NULL, 0, &r, &s);
    FB_CHECK(r.status != 200);
    if (kms_buf_len(&r.www_authenticate) > 0) {
        FB_CHECK(!raw || is_challenge_request(auth));
    }
    if (getenv("KMS_FUZZ_TRACE") != NULL) {
        fprintf(stderr, "bsf_ub: mode %d status %d %s%s\n", raw ? 0 : 1, r.status,
                kms_err_name(r.why), kms_buf_len(&r.www_authenticate) > 0 ? " challenge" : "");
    }
    kms_bsf_ub_reply_cleanup(&r);
    kms_wipe(&s, sizeof(s));
}

static void hex_of(const uint8_t *p, size_t n, char *out, size_t cap)
{
    FB_CHECK(kms_ok(kms_hex_encode(p, n, out, cap)));
}

static void answer(struct kms_bsf *b, bool resync, const uint8_t *data, size_t size)
{
    uint8_t h[HEAD];
    memset(h, 0, sizeof(h));
    memcpy(h, data, size < HEAD ? size : HEAD);
    const bool correct = (h[0] & 4) != 0, no_alg = (h[0] & 8) != 0, fuzz_user = (h[0] & 16) != 0;
    const bool post = (h[0] & 32) != 0, stranger = (h[0] & 64) != 0, fuzz_nc = (h[0] & 128) != 0;
    const bool raw_auts = (h[1] & 1) != 0;
    const uint8_t *t = data + (size < HEAD ? size : HEAD);
    size_t tn = size < HEAD ? 0 : size - HEAD;
    char user[KMS_DIGEST_VALUE_MAX + 1] = FB_IMPI;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    if (fuzz_user || post) {
        const uint8_t *nl = memchr(t, '\n', tn);
        size_t un = nl != NULL ? (size_t)(nl - t) : tn;
        if (fuzz_user) {
            un = un < KMS_DIGEST_VALUE_MAX ? un : KMS_DIGEST_VALUE_MAX;
            memcpy(user, t, un);
            user[un] = '\0';
        }
        if (post && nl != NULL) {
            body = nl + 1;
            body_len = tn - (size_t)(nl + 1 - t);
        }
    }

    struct seen s = {0};
    struct kms_bsf_ub_reply r;
    char hdr[KMS_DIGEST_HEADER_MAX + 512];
    char nonce[KMS_DIGEST_NONCE_BUF];
    uint8_t rand[16];
    struct vec ue;
    /* A real challenge from the handler itself. */
    challenge_request(stranger ? STRANGER : FB_IMPI, hdr, sizeof(hdr));
    serve(b, hdr, "GET", NULL, 0, &r, &s);
    FB_CHECK(r.status == 401 && challenge_nonce(&r, nonce));
    kms_bsf_ub_reply_cleanup(&r);
    bool known = ue_run(nonce, rand, &ue);
    FB_CHECK(known == !stranger); /* only the subscriber's AUTN verifies */

    char nc[9] = "00000001", cnonce[9], resp[KMS_DIGEST_HEX_BUF], auts_b64[KMS_DIGEST_AUTS_BUF];
    if (fuzz_nc) {
        hex_of(h + 8, 4, nc, sizeof(nc));
    }
    hex_of(h + 12, 4, cnonce, sizeof(cnonce));
    uint8_t auts[KMS_AKA_AUTS_LEN];
    if (resync) {
        if (raw_auts) {
            memcpy(auts, h + 32, sizeof(auts));
        } else {
            FB_CHECK(kms_ok(kms_milenage_auts(usim(), rand, h + 2, auts)));
        }
        FB_CHECK(kms_ok(kms_digest_auts_encode(auts, auts_b64)));
    }
    const char *method = post ? "POST" : "GET";
    if (correct) {
        struct kms_digest_req q = {.username = user,
                                   .realm = FB_REALM,
                                   .nonce = nonce,
                                   .uri = URI,
                                   .qop = "auth-int",
                                   .nc = nc,
                                   .cnonce = cnonce,
                                   .method = method,
                                   .body = body,
                                   .body_len = body_len};
        FB_CHECK(kms_ok(kms_digest_response(ue.res, resync ? 0 : sizeof(ue.res), &q, resp)));
    } else {
        hex_of(h + 16, 16, resp, sizeof(resp));
    }
    struct kms_digest_params p;
    kms_digest_params_init(&p);
    bool ok = kms_ok(kms_digest_set(&p, KMS_DIGEST_USERNAME, user)) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_REALM, FB_REALM)) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_NONCE, nonce)) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_URI, URI)) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_RESPONSE, resp)) &&
              (no_alg || kms_ok(kms_digest_set(&p, KMS_DIGEST_ALGORITHM, "AKAv1-MD5"))) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_QOP, "auth-int")) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_NC, nc)) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_CNONCE, cnonce)) &&
              kms_ok(kms_digest_set(&p, KMS_DIGEST_OPAQUE, "0011223344556677")) &&
              (!resync || kms_ok(kms_digest_set(&p, KMS_DIGEST_AUTS, auts_b64))) &&
              credentials(&p, hdr, sizeof(hdr));
    if (!ok) {
        kms_wipe(&s, sizeof(s));
        kms_wipe(&ue, sizeof(ue));
        return; /* a username the formatter will not write: modes 0 and 1 cover such headers */
    }
    const bool proper =
        correct && known && strcmp(user, FB_IMPI) == 0 && !no_alg && strcmp(nc, "00000001") == 0;
    serve(b, hdr, method, body, body_len, &r, &s);
    if (!resync) {
        FB_CHECK((r.status == 200) == proper);
        FB_CHECK(kms_buf_len(&r.www_authenticate) == 0);
    } else {
        FB_CHECK(r.status != 200);
        if (kms_buf_len(&r.www_authenticate) > 0) {
            FB_CHECK(proper && !raw_auts);
        }
    }
    if (r.status == 200) {
        /* The UE's view: rspauth verifies with XRES = RES, and the B-TID is RAND's. */
        struct kms_digest_params cred, info;
        char btid[KMS_BTID_MAX], want[KMS_BTID_MAX];
        uint64_t life = 0;
        size_t n = kms_buf_len(&r.authentication_info);
        FB_CHECK(n > 0 && kms_buf_data(&r.authentication_info)[n - 1] == 0);
        FB_CHECK(kms_ok(kms_digest_parse_credentials(hdr, strlen(hdr), &cred)));
        FB_CHECK(kms_ok(kms_digest_parse_info((const char *)kms_buf_data(&r.authentication_info),
                                              n - 1, &info)));
        FB_CHECK(kms_ok(kms_digest_verify_rspauth(&cred, &info, ue.res, sizeof(ue.res),
                                                  kms_buf_data(&r.body), kms_buf_len(&r.body))));
        FB_CHECK(kms_ok(kms_bsfinfo_parse(kms_buf_data(&r.body), kms_buf_len(&r.body), btid,
                                          sizeof(btid), &life)));
        FB_CHECK(kms_ok(kms_gba_btid(rand, FB_REALM, strlen(FB_REALM), want, sizeof(want))));
        FB_CHECK(strcmp(btid, want) == 0 && strcmp(r.btid, want) == 0);
    }
    if (getenv("KMS_FUZZ_TRACE") != NULL) {
        fprintf(stderr, "bsf_ub: mode %d status %d %s%s\n", resync ? 3 : 2, r.status,
                kms_err_name(r.why), kms_buf_len(&r.www_authenticate) > 0 ? " challenge" : "");
    }
    kms_bsf_ub_reply_cleanup(&r);
    kms_wipe(&s, sizeof(s));
    kms_wipe(&ue, sizeof(ue));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    struct kms_bsf *b = fb_bsf_new();
    switch (data[0] & 3) {
    case 0:
    case 1:
        raw_or_challenge(b, (data[0] & 3) == 0, data + 1, size - 1);
        break;
    default:
        answer(b, (data[0] & 3) == 3, data, size);
        break;
    }
    kms_bsf_free(b);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the BSF's Zn request handler, kms_bsf_zn_handle (method, path, the verified
 * certificate's names and a body in; status and JSON out), with kms_bsf_zn_http.
 *
 * Set-up (once): a BSF core over the fake store of fuzz_bsf_common.h and one bootstrap session
 * for its subscriber made through the core API at the fixed clock (the harness runs the USIM's
 * Milenage to know CK and IK). Zn only reads the core, so inputs stay independent.
 *
 * Input: octet 0
 *   bits 0-1  the client certificate: 0 none, 1 verified and naming the request's naf_fqdn (or
 *             kms.example.org when the body does not decode), 2 verified naming another FQDN,
 *             3 naming the right FQDN but not verified;
 *   bits 2-3  0 and 3: POST /zn/v1/bootstrap-info, 1: GET, 2: POST to another path;
 *   bit 4     the body is the rest of the input as is; otherwise a request built from octet 1:
 *             bit 0 the real B-TID (else the text from octet 9 on), bit 1 naf_fqdn another NAF,
 *             bit 2 ua_protocol_id the hex of octets 2-6 (else 0100000006), bit 3 the real
 *             B-TID with octet 7 XORed into its octet (octet 8 modulo its length).
 * Oracles: the verdict is exactly the one the documented order of checks gives (path, method,
 * certificate, decode (the decoder's own code), certificate name, B-TID), with the status, the
 * "error" name and the detail of the error table; every refusal body is exactly the JSON error
 * object for its code; a 200 decodes to the key the core derives for that B-TID, NAF and Ua id,
 * and comes only with the certificate naming naf_fqdn and the real B-TID; no body but a 200's
 * holds a Ks_NAF (of the request's NAF and Ua id, or of the default NAF), and none holds CK or
 * IK; kms_bsf_zn_http succeeds and carries the same status and bytes as application/json.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_milenage.h"
#include "fuzz_bsf_common.h"
#include "gba/kms_bsf_zn.h"
#include "gba/kms_zn_json.h"
#include "util/kms_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAF      "kms.example.org"
#define NAF2     "naf2.example.org"
#define WRONG    "wrong.example.org"
#define UA_DEF   "0100000006"
#define BODY_MAX 1024
#define TEXT_OFF 9

static const uint8_t UA[5] = {0x01, 0x00, 0x00, 0x00, 0x06};

static struct {
    bool ready;
    struct kms_bsf *b;
    char btid[KMS_BTID_MAX];
    uint8_t ck[16], ik[16];
    uint8_t ks_naf[32]; /* for NAF and UA */
} g;

static void once(void)
{
    if (g.ready) {
        return;
    }
    g.b = fb_bsf_new();
    struct kms_bsf_challenge c;
    struct kms_bsf_pending p;
    struct kms_bsf_session s;
    struct kms_milenage *m = NULL;
    struct kms_aka_vec v;
    uint8_t sqn[6];
    struct kms_bsf_zn z;
    bool ok = kms_ok(kms_bsf_challenge(g.b, FB_IMPI, FB_NOW, &c)) &&
              kms_ok(kms_bsf_open(g.b, FB_IMPI, c.rand, c.autn, c.sd, FB_NOW, &p)) &&
              kms_ok(kms_bsf_bootstrap(g.b, &p, FB_NOW, &s)) && kms_ok(kms_milenage_new(&m)) &&
              kms_ok(kms_milenage_set_key(m, FB_K, FB_OPC)) &&
              kms_ok(kms_milenage_check_autn(m, c.rand, c.autn, sqn, &v)) &&
              kms_ok(kms_bsf_zn(g.b, s.btid, NAF, UA, FB_NOW, &z));
    if (!ok) {
        fprintf(stderr, "fuzz set-up: bootstrap failed\n");
        exit(2);
    }
    kms_milenage_free(m);
    memcpy(g.btid, s.btid, sizeof(g.btid));
    memcpy(g.ck, v.ck, 16);
    memcpy(g.ik, v.ik, 16);
    memcpy(g.ks_naf, z.ks_naf, 32);
    kms_wipe(&p, sizeof(p));
    kms_wipe(&z, sizeof(z));
    g.ready = true;
}

/* The body a built request carries (into out, NUL-terminated); returns its length. */
static size_t build(const uint8_t *data, size_t size, char *out, size_t cap)
{
    uint8_t h[TEXT_OFF];
    memset(h, 0, sizeof(h));
    memcpy(h, data, size < TEXT_OFF ? size : TEXT_OFF);
    char btid[KMS_BTID_MAX + 64];
    char ua[11];
    if ((h[1] & 1) != 0 || (h[1] & 8) != 0) {
        memcpy(btid, g.btid, sizeof(g.btid));
        size_t n = strlen(btid);
        if ((h[1] & 8) != 0 && n > 0) {
            btid[h[8] % n] ^= (char)h[7];
            btid[n] = '\0';
        }
    } else {
        size_t n = size > TEXT_OFF ? size - TEXT_OFF : 0;
        n = n < sizeof(btid) - 1 ? n : sizeof(btid) - 1;
        memcpy(btid, data + TEXT_OFF, n);
        btid[n] = '\0'; /* stops at an embedded NUL too */
    }
    if ((h[1] & 4) != 0) {
        FB_CHECK(kms_ok(kms_hex_encode(h + 2, 5, ua, sizeof(ua))));
    } else {
        memcpy(ua, UA_DEF, sizeof(ua));
    }
    int n = snprintf(out, cap, "{\"btid\":\"%s\",\"naf_fqdn\":\"%s\",\"ua_protocol_id\":\"%s\"}",
                     btid, (h[1] & 2) != 0 ? NAF2 : NAF, ua);
    FB_CHECK(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* The error object the table gives why, exactly. */
static void check_refusal(const struct kms_bsf_zn_reply *r, enum kms_err why)
{
    struct kms_wire w = kms_wire_of(KMS_IFACE_ZN, why);
    struct kms_buf want;
    FB_CHECK(r->why == why && r->status == w.status && w.status != 200);
    kms_buf_init(&want, KMS_ZN_JSON_MAX, false);
    FB_CHECK(kms_ok(kms_zn_error_encode(w.zn_code, kms_strerror(why), &want)));
    FB_CHECK(kms_buf_len(&want) == kms_buf_len(&r->body));
    FB_CHECK(memcmp(kms_buf_data(&want), kms_buf_data(&r->body), kms_buf_len(&want)) == 0);
    kms_buf_cleanup(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    once();
    const uint8_t sel = data[0];
    char built[BODY_MAX];
    const uint8_t *body;
    size_t body_len;
    if ((sel & 16) != 0) {
        body = data + 1;
        body_len = size - 1;
    } else {
        body_len = build(data, size, built, sizeof(built));
        body = (const uint8_t *)built;
    }
    uint8_t *bcopy = fb_dup(body, body_len, false);

    /* What the harness reads from the body itself, for the certificate and the verdict. */
    struct kms_zn_req q;
    kms_result dec = kms_zn_req_decode(bcopy, body_len, &q);
    const char *asked = kms_ok(dec) ? q.naf_fqdn : NAF;
    const char *right[] = {"x.example.org", asked};
    const char *wrong[] = {WRONG};
    struct kms_bsf_zn_cert cert;
    switch (sel & 3) {
    case 0:
        cert = (struct kms_bsf_zn_cert){false, NULL, 0};
        break;
    case 1:
        cert = (struct kms_bsf_zn_cert){true, right, 2};
        break;
    case 2:
        cert = (struct kms_bsf_zn_cert){true, wrong, 1};
        break;
    default:
        cert = (struct kms_bsf_zn_cert){false, right, 2};
        break;
    }
    const int mp = (sel >> 2) & 3;
    const char *method = mp == 1 ? "GET" : "POST";
    const char *path = mp == 2 ? KMS_BSF_ZN_PATH "/" : KMS_BSF_ZN_PATH;

    struct kms_bsf_zn_reply r;
    kms_bsf_zn_reply_init(&r);
    FB_CHECK(kms_ok(kms_bsf_zn_handle(g.b, method, path, &cert, bcopy, body_len, FB_NOW, &r)));

    /* The documented order of checks. */
    bool names = false;
    for (size_t i = 0; kms_ok(dec) && cert.verified && i < cert.n_dns; i++) {
        names |= strcmp(cert.dns[i], q.naf_fqdn) == 0;
    }
    enum kms_err want = mp == 2                       ? KMS_ERR_NO_ROUTE
                        : mp == 1                     ? KMS_ERR_METHOD
                        : !cert.verified              ? KMS_ERR_AUTH
                        : !kms_ok(dec)                ? dec.err
                        : !names                      ? KMS_ERR_AUTH
                        : strcmp(q.btid, g.btid) != 0 ? KMS_ERR_NOT_FOUND
                                                      : KMS_OK;
    const uint8_t *out = kms_buf_data(&r.body);
    size_t out_len = kms_buf_len(&r.body);
    fb_check_no_key(out, out_len, g.ck, 16);
    fb_check_no_key(out, out_len, g.ik, 16);
    if (want == KMS_OK) {
        struct kms_zn_resp z;
        struct kms_bsf_zn core;
        FB_CHECK(r.status == 200 && r.why == KMS_OK && r.body.secret);
        FB_CHECK(strcmp(r.naf_fqdn, q.naf_fqdn) == 0 && strcmp(r.impi, FB_IMPI) == 0);
        FB_CHECK(kms_ok(kms_zn_resp_decode(out, out_len, &z)));
        FB_CHECK(kms_ok(kms_bsf_zn(g.b, g.btid, q.naf_fqdn, q.ua_id, FB_NOW, &core)));
        FB_CHECK(kms_ct_eq(z.ks_naf, core.ks_naf, 32));
        FB_CHECK(strcmp(z.impi, FB_IMPI) == 0 && z.n_impu == 2);
        FB_CHECK(z.bootstrap_time == FB_NOW && z.key_expiry == FB_NOW + 3600);
        kms_zn_resp_wipe(&z);
        kms_wipe(&core, sizeof(core));
    } else {
        check_refusal(&r, want);
        fb_check_no_key(out, out_len, g.ks_naf, 32);
        if (kms_ok(dec)) {
            struct kms_bsf_zn core;
            if (kms_ok(kms_bsf_zn(g.b, g.btid, q.naf_fqdn, q.ua_id, FB_NOW, &core))) {
                fb_check_no_key(out, out_len, core.ks_naf, 32);
            }
            kms_wipe(&core, sizeof(core));
        }
    }

    struct kms_http_resp resp = {.status = 0};
    kms_buf_init(&resp.body, KMS_HTTP_MAX_RESP_BODY, false);
    FB_CHECK(kms_ok(kms_bsf_zn_http(&r, &resp)));
    FB_CHECK(resp.status == r.status && resp.n_hdrs == 0 && resp.body.secret);
    FB_CHECK(resp.content_type != NULL && strcmp(resp.content_type, KMS_ZN_CONTENT_TYPE) == 0);
    FB_CHECK(kms_buf_len(&resp.body) == out_len &&
             memcmp(kms_buf_data(&resp.body), out, out_len) == 0);
    if (getenv("KMS_FUZZ_TRACE") != NULL) {
        fprintf(stderr, "bsf_zn: %d %s\n", r.status, kms_err_name(r.why));
    }
    kms_buf_cleanup(&resp.body);
    kms_bsf_zn_reply_cleanup(&r);
    kms_wipe(&q, sizeof(q));
    free(bcopy);
    return 0;
}

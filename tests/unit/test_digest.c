/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_digest.h"
#include "util/kms_buf.h"
#include "util/kms_codec.h"

static const char *opt(const struct tv_block *b, const char *key)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->kv[i].key, key) == 0) {
            return b->kv[i].val;
        }
    }
    return NULL;
}

static const char *nz(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

/* Every response (and rspauth) block of digest_rfc2617.txt: the RFC 2617 3.5 example, the
 * RFC 2069 2.4 example (erratum 749), and the AKA vectors computed with openssl. */
static void response_known_answers(void **state)
{
    (void)state;
    struct tv_file f;
    size_t n_resp = 0, n_rsp = 0;
    tv_load("digest_rfc2617.txt", &f);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        if (opt(b, "response") == NULL) {
            continue;
        }
        uint8_t pw[64], body[128], rbody[512];
        char out[KMS_DIGEST_HEX_BUF];
        size_t pwl = tv_hex_any(b, "password", pw, sizeof(pw));
        size_t bl = tv_hex_any(b, "body", body, sizeof(body));
        struct kms_digest_req r = {
            .username = tv_get(b, "username"),
            .realm = tv_get(b, "realm"),
            .nonce = tv_get(b, "nonce"),
            .uri = tv_get(b, "uri"),
            .qop = nz(tv_get(b, "qop")),
            .nc = nz(tv_get(b, "nc")),
            .cnonce = nz(tv_get(b, "cnonce")),
            .method = tv_get(b, "method"),
            .body = body,
            .body_len = bl,
        };
        expect_ok(kms_digest_response(pw, pwl, &r, out));
        assert_string_equal(out, tv_get(b, "response"));
        n_resp++;
        if (opt(b, "rspauth") != NULL) {
            r.body = rbody;
            r.body_len = tv_hex_any(b, "response_body", rbody, sizeof(rbody));
            r.method = "ignored";
            expect_ok(kms_digest_rspauth(pw, pwl, &r, out));
            assert_string_equal(out, tv_get(b, "rspauth"));
            /* rspauth is the response with an empty method */
            r.method = "";
            expect_ok(kms_digest_response(pw, pwl, &r, out));
            assert_string_equal(out, tv_get(b, "rspauth"));
            n_rsp++;
        }
    }
    assert_int_equal(n_resp, 5);
    assert_int_equal(n_rsp, 2);
    /* RFC 2617 3.5 by name, so that a renamed block cannot drop the published value. */
    assert_string_equal(tv_get(tv_find(&f, "rfc2617 3.5"), "response"),
                        "6629fae49393a05397450978507c4ef1");
    assert_string_equal(tv_get(tv_find(&f, "rfc2069 2.4 erratum 749"), "response"),
                        "1949323746fe6a43ef61f9606e7febea");
    tv_free(&f);
}

static void response_argument_errors(void **state)
{
    (void)state;
    char out[KMS_DIGEST_HEX_BUF];
    struct kms_digest_req r = {"u", "r", "n", "/", "auth-int", "00000001", "c", "GET", NULL, 0};
    expect_ok(kms_digest_response(NULL, 0, &r, out));
    r.qop = "auth-conf";
    memset(out, 'x', sizeof(out));
    expect_err(kms_digest_response(NULL, 0, &r, out), KMS_ERR_UNSUPPORTED);
    for (size_t i = 0; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0);
    }
    r.qop = "auth-int";
    r.nc = NULL;
    expect_err(kms_digest_response(NULL, 0, &r, out), KMS_ERR_ARG);
    r.nc = "00000001";
    r.body_len = 3; /* body length without a body */
    expect_err(kms_digest_response(NULL, 0, &r, out), KMS_ERR_ARG);
    r.body_len = 0;
    r.username = NULL;
    expect_err(kms_digest_response(NULL, 0, &r, out), KMS_ERR_ARG);
    expect_err(kms_digest_response(NULL, 0, NULL, out), KMS_ERR_ARG);
}

static void nonce_layout(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("digest_rfc2617.txt", &f);
    const char *names[] = {"nonce set1", "nonce set1 with server data"};
    for (size_t i = 0; i < 2; i++) {
        const struct tv_block *b = tv_find(&f, names[i]);
        uint8_t rand[16], autn[16], sd[32], r2[16], a2[16], sd2[32];
        char nonce[KMS_DIGEST_NONCE_BUF];
        size_t sdl2 = 99;
        tv_hex(b, "rand", rand, 16);
        tv_hex(b, "autn", autn, 16);
        size_t sdl = tv_hex_any(b, "server_data", sd, sizeof(sd));
        expect_ok(kms_digest_nonce_encode(rand, autn, sd, sdl, nonce, sizeof(nonce)));
        assert_string_equal(nonce, tv_get(b, "nonce"));
        expect_ok(kms_digest_nonce_decode(nonce, strlen(nonce), r2, a2, sd2, sizeof(sd2), &sdl2));
        expect_bytes_eq(r2, rand, 16);
        expect_bytes_eq(a2, autn, 16);
        assert_int_equal(sdl2, sdl);
        expect_bytes_eq(sd2, sd, sdl);
    }
    /* The AKA response vector's nonce is the set 1 nonce. */
    assert_string_equal(tv_get(tv_find(&f, "aka set1 auth-int GET"), "nonce"),
                        tv_get(tv_find(&f, "nonce set1"), "nonce"));
    tv_free(&f);
}

static void nonce_refusals(void **state)
{
    (void)state;
    uint8_t zero[64] = {0}, raw[80], rand[16], autn[16], sd[32];
    char b64[KMS_DIGEST_NONCE_BUF + 40];
    size_t sdl;
    memset(raw, 0x5a, sizeof(raw));
    /* 31 octets: too short */
    expect_ok(kms_base64_encode(raw, 31, b64, sizeof(b64)));
    memset(rand, 1, 16);
    expect_err(kms_digest_nonce_decode(b64, strlen(b64), rand, autn, sd, sizeof(sd), &sdl),
               KMS_ERR_TRUNCATED);
    expect_bytes_eq(rand, zero, 16);
    expect_bytes_eq(autn, zero, 16);
    /* 65 octets: over the server-data limit */
    expect_ok(kms_base64_encode(raw, 65, b64, sizeof(b64)));
    expect_err(kms_digest_nonce_decode(b64, strlen(b64), rand, autn, sd, sizeof(sd), &sdl),
               KMS_ERR_TOO_LONG);
    /* 33 octets without room for server data */
    expect_ok(kms_base64_encode(raw, 33, b64, sizeof(b64)));
    expect_err(kms_digest_nonce_decode(b64, strlen(b64), rand, autn, NULL, 0, &sdl),
               KMS_ERR_TOO_LONG);
    expect_bytes_eq(rand, zero, 16);
    expect_bytes_eq(autn, zero, 16);
    assert_int_equal(sdl, 0);
    /* 32 octets with no room is fine */
    expect_ok(kms_base64_encode(raw, 32, b64, sizeof(b64)));
    expect_ok(kms_digest_nonce_decode(b64, strlen(b64), rand, autn, NULL, 0, &sdl));
    assert_int_equal(sdl, 0);
    /* not strict base64: unpadded, non-canonical, bad characters */
    const char *bad[] = {"I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M",
                         "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7N=",
                         "I1U8vpY3qJ0hiuZNrke-NVXzKLQ1d7m5Sp_6w1Tfr7M=", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kms_result r = kms_digest_nonce_decode(bad[i], strlen(bad[i]), rand, autn, sd, 32, &sdl);
        assert_true(r.err == KMS_ERR_BAD_BASE64 || r.err == KMS_ERR_TRUNCATED);
    }
    expect_err(kms_digest_nonce_encode(raw, raw, raw, 33, b64, sizeof(b64)), KMS_ERR_TOO_LONG);
    expect_err(kms_digest_nonce_encode(raw, raw, NULL, 0, b64, 44), KMS_ERR_TOO_LONG);
    expect_ok(kms_digest_nonce_encode(raw, raw, NULL, 0, b64, 45));
}

static void auts_codec(void **state)
{
    (void)state;
    uint8_t auts[14], back[14], zero[14] = {0}, raw[16];
    char s[KMS_DIGEST_AUTS_BUF], b64[32];
    for (size_t i = 0; i < 14; i++) {
        auts[i] = (uint8_t)(0xf0 + i);
    }
    expect_ok(kms_digest_auts_encode(auts, s));
    assert_int_equal(strlen(s), 20);
    expect_ok(kms_digest_auts_decode(s, strlen(s), back));
    expect_bytes_eq(back, auts, 14);
    memset(raw, 7, sizeof(raw));
    for (size_t n = 12; n <= 16; n++) {
        if (n == 14) {
            continue;
        }
        expect_ok(kms_base64_encode(raw, n, b64, sizeof(b64)));
        memset(back, 1, 14);
        expect_err(kms_digest_auts_decode(b64, strlen(b64), back), KMS_ERR_BAD_LENGTH);
        expect_bytes_eq(back, zero, 14);
    }
    expect_err(kms_digest_auts_decode("8PHy8/T19vf4+fr7/P0", 19, back), KMS_ERR_BAD_BASE64);
    expect_err(kms_digest_auts_decode("8PHy8/T19vf4+fr7/P1=", 20, back), KMS_ERR_BAD_BASE64);
}

/* ---- parsers ---- */

static const char challenge_ok[] =
    "Digest realm=\"bsf.example.org\", nonce=\"I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=\", "
    "algorithm=AKAv1-MD5, qop=\"auth-int\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
static const char cred_ok[] =
    "Digest username=\"001010123456789@ims.example.org\", realm=\"bsf.example.org\", "
    "nonce=\"I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=\", uri=\"/\", "
    "response=\"71e2c435579177eb2593392025ec0e0a\", algorithm=AKAv1-MD5, qop=auth-int, "
    "nc=00000001, cnonce=\"6b8b4567327b23c6\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", "
    "auts=\"8PHy8/T19vf4+fr7/P0=\"";
static const char info_ok[] = "qop=auth-int, rspauth=\"f6077159ebcb45e8d2164631d02a7b89\", "
                              "cnonce=\"6b8b4567327b23c6\", nc=00000001";

static const char *const kind_ok[3] = {challenge_ok, cred_ok, info_ok};

static void parses_the_ub_headers(void **state)
{
    (void)state;
    struct kms_digest_params p;
    expect_ok(kms_digest_parse_challenge(challenge_ok, strlen(challenge_ok), &p));
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_REALM), "bsf.example.org");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_QOP), "auth-int");
    assert_null(kms_digest_get(&p, KMS_DIGEST_STALE));
    expect_ok(kms_digest_parse_credentials(cred_ok, strlen(cred_ok), &p));
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_USERNAME), "001010123456789@ims.example.org");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_NC), "00000001");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_AUTS), "8PHy8/T19vf4+fr7/P0=");
    expect_ok(kms_digest_parse_info(info_ok, strlen(info_ok), &p));
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_RSPAUTH), "f6077159ebcb45e8d2164631d02a7b89");

    /* TS 24.109 A.3 step 1: the first request, with empty nonce and response. */
    const char *first = "Digest username=\"001010123456789@ims.example.org\", "
                        "realm=\"bsf.example.org\", nonce=\"\", uri=\"/\", response=\"\"";
    expect_ok(kms_digest_parse_credentials(first, strlen(first), &p));
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_NONCE), "");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_RESPONSE), "");
    assert_null(kms_digest_get(&p, KMS_DIGEST_QOP));

    /* RFC 7230 #rule, RFC 7235 BWS, case-insensitive names and scheme, tokens for quoted
     * values, escapes, unknown parameters ignored, OWS around the whole value. */
    const char *loose =
        " \tdIgEsT  , REALM = \"a\\\"b\\\\c\" ,,nonce=abc ,algorithm=\"akav1-md5\",  "
        "QOP=\"auth , auth-int\", domain=\"/x /y\", stale=TRUE, x-ext=tok,rspauth=zz ,\t";
    expect_ok(kms_digest_parse_challenge(loose, strlen(loose), &p));
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_REALM), "a\"b\\c");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_NONCE), "abc");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_ALGORITHM), "akav1-md5");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_QOP), "auth , auth-int");
    assert_string_equal(kms_digest_get(&p, KMS_DIGEST_STALE), "TRUE");
    assert_null(kms_digest_get(&p, KMS_DIGEST_RSPAUTH)); /* not a challenge parameter */
    assert_int_equal(p.present, (1u << KMS_DIGEST_REALM) | (1u << KMS_DIGEST_NONCE) |
                                    (1u << KMS_DIGEST_ALGORITHM) | (1u << KMS_DIGEST_QOP) |
                                    (1u << KMS_DIGEST_STALE));
}

struct bad_case {
    enum kms_digest_kind kind;
    const char *s;
    enum kms_err want;
};

#define CH  KMS_DIGEST_CHALLENGE
#define CR  KMS_DIGEST_CREDENTIALS
#define INF KMS_DIGEST_INFO
#define RQ  "realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth-int\""
#define CQ  "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"\""
#define H32 "0123456789abcdef0123456789abcdef"

static const struct bad_case bad_cases[] = {
    /* scheme */
    {CH, "Basic realm=\"r\"", KMS_ERR_UNSUPPORTED},
    {CH, "Digestx " RQ, KMS_ERR_UNSUPPORTED},
    {CH, "Digest," RQ, KMS_ERR_MALFORMED},
    {CH, "Digest\t" RQ, KMS_ERR_MALFORMED},
    {CH, "", KMS_ERR_MALFORMED},
    {CH, "Digest", KMS_ERR_MALFORMED},
    {CH, "Digest ", KMS_ERR_MALFORMED},
    {CR, "Digest dXNlcjpwYXNz==", KMS_ERR_MALFORMED}, /* token68 */
    {CH, "Digest " RQ ", Basic realm=\"x\"", KMS_ERR_MALFORMED},
    /* syntax */
    {CH, "Digest realm \"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth-int\"",
     KMS_ERR_MALFORMED},
    {CH, "Digest realm=, nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth-int\"", KMS_ERR_MALFORMED},
    {CH, "Digest realm=\"r, nonce=\"n\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"x", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"x\\", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ " x", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"a\"b", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=a b", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", op@que=x", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", =x", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"a\tb\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"a\x01\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"a\x7f\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"\xc3\xa9\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", opaque=\"\\\x01\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ "\r\n", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ",\r\n opaque=x", KMS_ERR_MALFORMED},
    /* duplicates, case-insensitively; unknown duplicates are ignored */
    {CH, "Digest " RQ ", realm=\"r\"", KMS_ERR_MALFORMED},
    {CH, "Digest " RQ ", Realm=r", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", USERNAME=\"u\"", KMS_ERR_MALFORMED},
    /* required parameters */
    {CH, "Digest nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth-int\"", KMS_ERR_MALFORMED},
    {CH, "Digest realm=\"r\", algorithm=AKAv1-MD5, qop=\"auth-int\"", KMS_ERR_MALFORMED},
    {CR, "Digest realm=\"r\", nonce=\"n\", uri=\"/\", response=\"\"", KMS_ERR_MALFORMED},
    {CR, "Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"\"", KMS_ERR_MALFORMED},
    {CR, "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\"", KMS_ERR_MALFORMED},
    /* algorithm */
    {CH, "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", KMS_ERR_UNSUPPORTED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5, qop=\"auth-int\"", KMS_ERR_UNSUPPORTED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv2-MD5, qop=\"auth-int\"",
     KMS_ERR_UNSUPPORTED},
    {CR, "Digest " CQ ", algorithm=MD5-sess", KMS_ERR_UNSUPPORTED},
    /* qop */
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5", KMS_ERR_UNSUPPORTED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth\"", KMS_ERR_UNSUPPORTED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"AUTH-INT\"",
     KMS_ERR_UNSUPPORTED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth-int;x\"",
     KMS_ERR_MALFORMED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth auth-int\"",
     KMS_ERR_MALFORMED},
    {CH, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"\"", KMS_ERR_UNSUPPORTED},
    {CR, "Digest " CQ ", qop=auth, nc=00000001, cnonce=\"c\"", KMS_ERR_UNSUPPORTED},
    {CR, "Digest " CQ ", qop=\"auth-int,auth\", nc=00000001, cnonce=\"c\"", KMS_ERR_UNSUPPORTED},
    {INF, "qop=auth, rspauth=\"" H32 "\", nc=00000001, cnonce=\"c\"", KMS_ERR_UNSUPPORTED},
    /* qop and its companions */
    {CR, "Digest " CQ ", qop=auth-int, cnonce=\"c\"", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", qop=auth-int, nc=00000001", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", nc=00000001", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", cnonce=\"c\"", KMS_ERR_MALFORMED},
    {INF, "qop=auth-int, nc=00000001, cnonce=\"c\"", KMS_ERR_MALFORMED},
    {INF, "qop=auth-int, rspauth=\"" H32 "\", cnonce=\"c\"", KMS_ERR_MALFORMED},
    /* nc */
    {CR, "Digest " CQ ", qop=auth-int, nc=0000001, cnonce=\"c\"", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", qop=auth-int, nc=000000001, cnonce=\"c\"", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", qop=auth-int, nc=0000000A, cnonce=\"c\"", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", qop=auth-int, nc=0000000g, cnonce=\"c\"", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", qop=auth-int, nc=\"\", cnonce=\"c\"", KMS_ERR_MALFORMED},
    /* response, rspauth */
    {CR, "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0123\"",
     KMS_ERR_MALFORMED},
    {CR,
     "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
     "response=\"0123456789ABCDEF0123456789abcdef\"",
     KMS_ERR_MALFORMED},
    {CR,
     "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
     "response=\"0123456789abcdef0123456789abcdeg\"",
     KMS_ERR_MALFORMED},
    {CR, "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"" H32 "0\"",
     KMS_ERR_MALFORMED},
    {INF, "rspauth=\"\"", KMS_ERR_MALFORMED},
    {INF, "rspauth=\"0123456789abcdef0123456789abcdeF\"", KMS_ERR_MALFORMED},
    /* stale, auts */
    {CH, "Digest " RQ ", stale=yes", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", auts=\"AAAA\"", KMS_ERR_MALFORMED},
    {CR, "Digest " CQ ", auts=\"8PHy8/T19vf4+fr7/P1=\"", KMS_ERR_MALFORMED},
    /* info has no scheme */
    {INF, "Digest qop=auth-int", KMS_ERR_MALFORMED},
};

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

static void parser_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct kms_digest_params p;
        memset(&p, 0xa5, sizeof(p));
        kms_result r =
            kms_digest_parse(bad_cases[i].kind, bad_cases[i].s, strlen(bad_cases[i].s), &p);
        if (r.err != bad_cases[i].want) {
            fail_msg("case %zu <%s>: expected %s, got %s", i, bad_cases[i].s,
                     kms_err_name(bad_cases[i].want), kms_err_name(r.err));
        }
        assert_true(all_zero(&p, sizeof(p)));
    }
    /* what the table's prefixes alone give: all accepted */
    struct kms_digest_params p;
    expect_ok(kms_digest_parse_challenge("Digest " RQ, strlen("Digest " RQ), &p));
    expect_ok(kms_digest_parse_credentials("Digest " CQ, strlen("Digest " CQ), &p));
    expect_ok(kms_digest_parse_info("", 0, &p)); /* an empty list: nothing to check */
    assert_int_equal(p.present, 0);
    /* an embedded NUL is a control character */
    const char nul[] = "Digest " RQ ", opaque=\"a\0b\"";
    expect_err(kms_digest_parse_challenge(nul, sizeof(nul) - 1, &p), KMS_ERR_MALFORMED);
    expect_err(kms_digest_parse(INF, NULL, 1, &p), KMS_ERR_ARG);
    expect_err(kms_digest_parse((enum kms_digest_kind)3, "", 0, &p), KMS_ERR_ARG);
}

static void limits(void **state)
{
    (void)state;
    struct kms_digest_params p;
    char v[400], h[KMS_DIGEST_HEADER_MAX + 64];
    /* a value of 255 octets is fine, 256 is too long; escapes count once */
    for (size_t n = 254; n <= 256; n++) {
        memset(v, 'a', n);
        v[0] = '\\';
        v[1] = '"';
        v[n] = '\0';
        /* v holds n characters and n - 1 unescaped octets */
        snprintf(h, sizeof(h), "Digest " RQ ", opaque=\"%s\"", v);
        kms_result r = kms_digest_parse_challenge(h, strlen(h), &p);
        assert_int_equal(r.err, n - 1 <= KMS_DIGEST_VALUE_MAX ? KMS_OK : KMS_ERR_TOO_LONG);
        memset(v, 'a', n);
        v[n] = '\0';
        snprintf(h, sizeof(h), "Digest " RQ ", opaque=%s", v); /* token form */
        r = kms_digest_parse_challenge(h, strlen(h), &p);
        assert_int_equal(r.err, n <= KMS_DIGEST_VALUE_MAX ? KMS_OK : KMS_ERR_TOO_LONG);
        snprintf(h, sizeof(h), "Digest " RQ ", x-unknown=\"%s\"", v); /* unknown too */
        r = kms_digest_parse_challenge(h, strlen(h), &p);
        assert_int_equal(r.err, n <= KMS_DIGEST_VALUE_MAX ? KMS_OK : KMS_ERR_TOO_LONG);
    }
    /* a long unknown name is fine (skipped) */
    memset(v, 'x', 300);
    v[300] = '\0';
    snprintf(h, sizeof(h), "Digest " RQ ", %s=1", v);
    expect_ok(kms_digest_parse_challenge(h, strlen(h), &p));
    /* the whole header: 8192 octets with padding of empty elements, then 8193 */
    size_t n = (size_t)snprintf(h, sizeof(h), "Digest " RQ);
    while (n < KMS_DIGEST_HEADER_MAX) {
        h[n++] = ',';
    }
    expect_ok(kms_digest_parse_challenge(h, n, &p));
    h[n++] = ',';
    expect_err(kms_digest_parse_challenge(h, n, &p), KMS_ERR_TOO_LONG);
    assert_true(all_zero(&p, sizeof(p)));
}

/* ---- formatting ---- */

static void formats_and_round_trips(void **state)
{
    (void)state;
    struct kms_buf b;
    struct kms_digest_params p, q;
    kms_buf_init(&b, 4096, false);
    expect_ok(kms_digest_write_challenge("bsf.example.org",
                                         "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=",
                                         "5ccc069c403ebaf9f0171e9517f40e41", false, &b));
    assert_int_equal(kms_buf_len(&b), strlen(challenge_ok));
    expect_bytes_eq(kms_buf_data(&b), challenge_ok, strlen(challenge_ok));
    kms_buf_reset(&b);
    expect_ok(kms_digest_write_challenge("r", "n", NULL, true, &b));
    const char *stale = "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5, qop=\"auth-int\", "
                        "stale=true";
    assert_int_equal(kms_buf_len(&b), strlen(stale));
    expect_bytes_eq(kms_buf_data(&b), stale, strlen(stale));
    kms_buf_reset(&b);
    expect_ok(kms_digest_write_info("00000001", "6b8b4567327b23c6",
                                    "f6077159ebcb45e8d2164631d02a7b89", &b));
    const char *info = "qop=auth-int, nc=00000001, cnonce=\"6b8b4567327b23c6\", "
                       "rspauth=\"f6077159ebcb45e8d2164631d02a7b89\"";
    assert_int_equal(kms_buf_len(&b), strlen(info));
    expect_bytes_eq(kms_buf_data(&b), info, strlen(info));

    /* every valid header: format(parse(x)) parses back to the same set */
    for (int k = 0; k < 3; k++) {
        expect_ok(kms_digest_parse((enum kms_digest_kind)k, kind_ok[k], strlen(kind_ok[k]), &p));
        kms_buf_reset(&b);
        expect_ok(kms_digest_format((enum kms_digest_kind)k, &p, &b));
        expect_ok(kms_digest_parse((enum kms_digest_kind)k, (const char *)kms_buf_data(&b),
                                   kms_buf_len(&b), &q));
        expect_bytes_eq(&p, &q, sizeof(p));
    }

    /* an empty info list formats to nothing (into a buffer with no storage yet) */
    struct kms_buf empty;
    kms_buf_init(&empty, 64, false);
    kms_digest_params_init(&p);
    expect_ok(kms_digest_format(KMS_DIGEST_INFO, &p, &empty));
    assert_int_equal(kms_buf_len(&empty), 0);
    kms_buf_cleanup(&empty);

    /* escaping: '"' and '\' in a value */
    kms_digest_params_init(&p);
    expect_ok(kms_digest_set(&p, KMS_DIGEST_USERNAME, "a\"b\\c d"));
    expect_ok(kms_digest_set(&p, KMS_DIGEST_REALM, ""));
    expect_ok(kms_digest_set(&p, KMS_DIGEST_NONCE, ""));
    expect_ok(kms_digest_set(&p, KMS_DIGEST_URI, "/"));
    expect_ok(kms_digest_set(&p, KMS_DIGEST_RESPONSE, ""));
    kms_buf_reset(&b);
    expect_ok(kms_digest_format(KMS_DIGEST_CREDENTIALS, &p, &b));
    const char *esc =
        "Digest username=\"a\\\"b\\\\c d\", realm=\"\", nonce=\"\", uri=\"/\", response=\"\"";
    assert_int_equal(kms_buf_len(&b), strlen(esc));
    expect_bytes_eq(kms_buf_data(&b), esc, strlen(esc));
    expect_ok(kms_digest_parse_credentials(esc, strlen(esc), &q));
    expect_bytes_eq(&p, &q, sizeof(p));

    /* refusals leave the buffer as it was */
    size_t before = kms_buf_len(&b);
    expect_err(kms_digest_set(&p, KMS_DIGEST_CNONCE, "a\nb"), KMS_ERR_NOT_ASCII);
    expect_err(kms_digest_set(&p, KMS_DIGEST_CNONCE, "\xc3\xa9"), KMS_ERR_NOT_ASCII);
    char big[300];
    memset(big, 'a', sizeof(big));
    big[256] = '\0';
    expect_err(kms_digest_set(&p, KMS_DIGEST_CNONCE, big), KMS_ERR_TOO_LONG);
    big[255] = '\0';
    expect_ok(kms_digest_set(&p, KMS_DIGEST_OPAQUE, big));
    expect_err(kms_digest_set(&p, KMS_DIGEST_N_PARAMS, "x"), KMS_ERR_ARG);
    assert_null(kms_digest_get(&p, KMS_DIGEST_CNONCE));
    expect_ok(kms_digest_set(&p, KMS_DIGEST_RSPAUTH, H32));
    expect_err(kms_digest_format(KMS_DIGEST_CREDENTIALS, &p, &b), KMS_ERR_ARG);
    kms_digest_params_init(&q);
    expect_ok(kms_digest_set(&q, KMS_DIGEST_REALM, "r"));
    expect_err(kms_digest_format(KMS_DIGEST_CHALLENGE, &q, &b), KMS_ERR_MALFORMED);
    expect_err(kms_digest_write_info("1", "c", H32, &b), KMS_ERR_MALFORMED);
    expect_err(kms_digest_write_challenge("r", "n\x01", NULL, false, &b), KMS_ERR_NOT_ASCII);
    assert_int_equal(kms_buf_len(&b), before);
    /* a capped buffer: too long, nothing written */
    struct kms_buf small;
    uint8_t store[40];
    kms_buf_init_fixed(&small, store, sizeof(store), false);
    expect_err(kms_digest_write_challenge("r", "n", NULL, false, &small), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&small), 0);
    kms_buf_cleanup(&b);
}

/* ---- mutations: truncations and substitutions of every valid header ---- */

static void check_one(enum kms_digest_kind k, const char *s, size_t n)
{
    struct kms_digest_params p, q;
    struct kms_buf b;
    memset(&p, 0x5a, sizeof(p));
    kms_result r = kms_digest_parse(k, s, n, &p);
    if (!kms_ok(r)) {
        assert_true(r.err == KMS_ERR_MALFORMED || r.err == KMS_ERR_UNSUPPORTED ||
                    r.err == KMS_ERR_TOO_LONG);
        assert_true(all_zero(&p, sizeof(p)));
        return;
    }
    kms_buf_init(&b, 2 * KMS_DIGEST_HEADER_MAX, false);
    expect_ok(kms_digest_format(k, &p, &b));
    expect_ok(kms_digest_parse(k, (const char *)kms_buf_data(&b), kms_buf_len(&b), &q));
    expect_bytes_eq(&p, &q, sizeof(p));
    kms_buf_cleanup(&b);
}

static void mutations(void **state)
{
    (void)state;
    static const char subst[] = {0x00, 0x01, '\t', '\n', '\r', 0x1f, 0x7f,       '"',       ',',
                                 '\\', '=',  ' ',  'A',  '0',  ';',  (char)0x80, (char)0xff};
    for (int k = 0; k < 3; k++) {
        const char *s = kind_ok[k];
        size_t len = strlen(s);
        char *m = malloc(len + 1);
        assert_non_null(m);
        for (size_t n = 0; n <= len; n++) {
            memcpy(m, s, n); /* exact-size prefix in its own block */
            check_one((enum kms_digest_kind)k, m, n);
        }
        for (size_t i = 0; i < len; i++) {
            for (size_t j = 0; j < sizeof(subst); j++) {
                memcpy(m, s, len);
                m[i] = subst[j];
                check_one((enum kms_digest_kind)k, m, len);
            }
        }
        free(m);
    }
}

/* ---- verification, both ends of Ub ---- */

static void ub_round(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("digest_rfc2617.txt", &f);
    const struct tv_block *v = tv_find(&f, "aka set1 auth-int GET");
    uint8_t res[8], body200[512];
    tv_hex(v, "password", res, 8);
    size_t bl = tv_hex_any(v, "response_body", body200, sizeof(body200));
    struct kms_digest_params cred, info, p;
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);

    /* UE: credentials for the challenge, as a client builds them */
    kms_digest_params_init(&cred);
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_USERNAME, tv_get(v, "username")));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_REALM, tv_get(v, "realm")));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_NONCE, tv_get(v, "nonce")));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_URI, tv_get(v, "uri")));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_RESPONSE, tv_get(v, "response")));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_ALGORITHM, "AKAv1-MD5"));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_QOP, "auth-int"));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_NC, tv_get(v, "nc")));
    expect_ok(kms_digest_set(&cred, KMS_DIGEST_CNONCE, tv_get(v, "cnonce")));
    expect_ok(kms_digest_format(KMS_DIGEST_CREDENTIALS, &cred, &b));

    /* BSF: parse and verify with XRES */
    expect_ok(kms_digest_parse_credentials((const char *)kms_buf_data(&b), kms_buf_len(&b), &p));
    expect_ok(kms_digest_verify_response(&p, res, 8, "GET", NULL, 0));
    res[7] ^= 1;
    expect_err(kms_digest_verify_response(&p, res, 8, "GET", NULL, 0), KMS_ERR_AUTH);
    res[7] ^= 1;
    expect_err(kms_digest_verify_response(&p, res, 7, "GET", NULL, 0), KMS_ERR_AUTH);
    expect_err(kms_digest_verify_response(&p, res, 8, "POST", NULL, 0), KMS_ERR_AUTH);
    expect_err(kms_digest_verify_response(&p, res, 8, "GET", (const uint8_t *)"x", 1),
               KMS_ERR_AUTH);

    /* BSF: rspauth into Authentication-Info; UE: verify it against the 200 body */
    char rsp[KMS_DIGEST_HEX_BUF];
    struct kms_digest_req r = {
        .username = tv_get(v, "username"),
        .realm = tv_get(v, "realm"),
        .nonce = tv_get(v, "nonce"),
        .uri = "/",
        .qop = "auth-int",
        .nc = tv_get(v, "nc"),
        .cnonce = tv_get(v, "cnonce"),
        .body = body200,
        .body_len = bl,
    };
    expect_ok(kms_digest_rspauth(res, 8, &r, rsp));
    assert_string_equal(rsp, tv_get(v, "rspauth"));
    kms_buf_reset(&b);
    expect_ok(kms_digest_write_info(r.nc, r.cnonce, rsp, &b));
    expect_ok(kms_digest_parse_info((const char *)kms_buf_data(&b), kms_buf_len(&b), &info));
    expect_ok(kms_digest_verify_rspauth(&cred, &info, res, 8, body200, bl));
    expect_err(kms_digest_verify_rspauth(&cred, &info, res, 8, body200, bl - 1), KMS_ERR_AUTH);
    expect_err(kms_digest_verify_rspauth(&cred, &info, res, 0, body200, bl), KMS_ERR_AUTH);
    /* info for another nc or cnonce does not answer these credentials */
    struct kms_digest_params other = info;
    expect_ok(kms_digest_set(&other, KMS_DIGEST_NC, "00000002"));
    expect_err(kms_digest_verify_rspauth(&cred, &other, res, 8, body200, bl), KMS_ERR_AUTH);
    other = info;
    expect_ok(kms_digest_set(&other, KMS_DIGEST_CNONCE, "x"));
    expect_err(kms_digest_verify_rspauth(&cred, &other, res, 8, body200, bl), KMS_ERR_AUTH);
    kms_digest_params_init(&other);
    expect_err(kms_digest_verify_rspauth(&cred, &other, res, 8, body200, bl), KMS_ERR_MALFORMED);

    /* the first request (no qop, empty response) cannot be verified */
    const char *first = "Digest username=\"u\", realm=\"r\", nonce=\"\", uri=\"/\", response=\"\"";
    expect_ok(kms_digest_parse_credentials(first, strlen(first), &p));
    expect_err(kms_digest_verify_response(&p, res, 8, "GET", NULL, 0), KMS_ERR_UNSUPPORTED);
    /* a response with qop but empty is refused too */
    p = cred;
    expect_ok(kms_digest_set(&p, KMS_DIGEST_RESPONSE, ""));
    expect_err(kms_digest_verify_response(&p, res, 8, "GET", NULL, 0), KMS_ERR_UNSUPPORTED);

    /* resynchronisation: the response carrying auts is computed with the empty password */
    const struct tv_block *a = tv_find(&f, "aka set1 auts empty password");
    p = cred;
    expect_ok(kms_digest_set(&p, KMS_DIGEST_RESPONSE, tv_get(a, "response")));
    expect_ok(kms_digest_set(&p, KMS_DIGEST_AUTS, "8PHy8/T19vf4+fr7/P0="));
    expect_ok(kms_digest_verify_response(&p, NULL, 0, "GET", NULL, 0));
    expect_err(kms_digest_verify_response(&p, res, 8, "GET", NULL, 0), KMS_ERR_AUTH);
    uint8_t auts[14];
    const char *as = kms_digest_get(&p, KMS_DIGEST_AUTS);
    expect_ok(kms_digest_auts_decode(as, strlen(as), auts));
    assert_int_equal(auts[0], 0xf0);
    kms_buf_cleanup(&b);
    tv_free(&f);
}

static void hex_eq(void **state)
{
    (void)state;
    assert_true(kms_digest_hex_eq(H32, H32));
    assert_false(kms_digest_hex_eq(H32, "0123456789abcdef0123456789abcdee"));
    assert_false(kms_digest_hex_eq(H32, "0123456789abcdef0123456789abcde"));
    assert_false(kms_digest_hex_eq(H32 "0", H32 "0"));
    assert_false(kms_digest_hex_eq("", ""));
    assert_false(kms_digest_hex_eq(NULL, H32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(response_known_answers),
        cmocka_unit_test(response_argument_errors),
        cmocka_unit_test(nonce_layout),
        cmocka_unit_test(nonce_refusals),
        cmocka_unit_test(auts_codec),
        cmocka_unit_test(parses_the_ub_headers),
        cmocka_unit_test(parser_refusals),
        cmocka_unit_test(limits),
        cmocka_unit_test(formats_and_round_trips),
        cmocka_unit_test(mutations),
        cmocka_unit_test(ub_round),
        cmocka_unit_test(hex_eq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the SDP reader/writer (kms_sdp_parse, kms_sdp_mikey_for, kms_sdp_write;
 * sdp/kms_sdp.h).
 * Input: octet 0 bit 0 clear = the rest is SDP text, parsed as is; set = the rest is a MIKEY
 * message the harness writes into an offer with kms_sdp_write (address and port from octets 1-2
 * of the rest when it has them), then parses.
 * Oracles:
 *  - a refusal is one of TRUNCATED, TOO_LONG, MALFORMED, NOT_ASCII, UNSUPPORTED, BAD_BASE64,
 *    with the result all zero and err_off <= size; over KMS_SDP_MAX it is TOO_LONG at
 *    KMS_SDP_MAX;
 *  - an accepted text starts "v=0", ends in LF, holds only printable ASCII, CR and LF; its
 *    strings are NUL-terminated within their fields; at most KMS_SDP_MEDIA_MAX media; a level's
 *    message is 1..KMS_SDP_KEYMGMT_MAX octets; kms_sdp_mikey_for follows RFC 4567 3.1 (the
 *    media level's, else the session's, else NOT_FOUND); the text without its last octet is
 *    TRUNCATED (a cut never yields a shorter message);
 *  - when it has exactly one media line, "audio", with a message: written again with
 *    kms_sdp_write (its c= address, or 192.0.2.1 without one, and its port) it parses to the
 *    same message, port and address;
 *  - the wrapped mode: a message of 1..KMS_SDP_KEYMGMT_MAX octets is written, parses, and
 *    kms_sdp_mikey_for(0) gives it back; any other length is KMS_ERR_ARG with the buffer empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "sdp/kms_sdp.h"
#include "util/kms_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_ok(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void rewrite(const struct kms_sdp *s)
{
    const uint8_t *mk;
    size_t mn;
    if (s->n_media != 1 || strcmp(s->m[0].media, "audio") != 0 ||
        !kms_ok(kms_sdp_mikey_for(s, 0, &mk, &mn))) {
        return;
    }
    const char *addr = s->m[0].conn_addr[0] != '\0' ? s->m[0].conn_addr : "192.0.2.1";
    struct kms_sdp_out o = {.addr = addr,
                            .port = s->m[0].port,
                            .sess_id = 1,
                            .sess_version = 1,
                            .mikey = mk,
                            .mikey_len = mn};
    struct kms_buf b;
    kms_buf_init(&b, 2 * KMS_SDP_MAX, false);
    KF_CHECK(kms_ok(kms_sdp_write(&o, &b)));
    struct kms_sdp *t = malloc(sizeof(*t));
    KF_CHECK(t != NULL);
    uint8_t *q = kf_dup(kms_buf_data(&b), kms_buf_len(&b), 0);
    KF_CHECK(kms_ok(kms_sdp_parse(q, kms_buf_len(&b), t, NULL)));
    const uint8_t *mk2;
    size_t mn2;
    KF_CHECK(kms_ok(kms_sdp_mikey_for(t, 0, &mk2, &mn2)));
    KF_CHECK(mn2 == mn && memcmp(mk2, mk, mn) == 0);
    KF_CHECK(t->n_media == 1 && t->m[0].port == s->m[0].port);
    KF_CHECK(strcmp(t->m[0].conn_addr, addr) == 0);
    free(q);
    free(t);
    kms_buf_cleanup(&b);
}

static void check_level(bool has, size_t len)
{
    KF_CHECK(has ? len >= 1 && len <= KMS_SDP_KEYMGMT_MAX : len == 0);
}

static void check(const uint8_t *p, size_t n)
{
    struct kms_sdp *s = malloc(sizeof(*s));
    KF_CHECK(s != NULL);
    memset(s, 0x5a, sizeof(*s));
    size_t eo = SIZE_MAX;
    kms_result r = kms_sdp_parse(p, n, s, &eo);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(s, sizeof(*s)));
        KF_CHECK(eo <= n);
        KF_CHECK(r.err == KMS_ERR_TRUNCATED || r.err == KMS_ERR_TOO_LONG ||
                 r.err == KMS_ERR_MALFORMED || r.err == KMS_ERR_NOT_ASCII ||
                 r.err == KMS_ERR_UNSUPPORTED || r.err == KMS_ERR_BAD_BASE64);
        KF_CHECK(n <= KMS_SDP_MAX || (r.err == KMS_ERR_TOO_LONG && eo == KMS_SDP_MAX));
        free(s);
        return;
    }
    KF_CHECK(eo == 0);
    KF_CHECK(n >= 4 && memcmp(p, "v=0", 3) == 0 && p[n - 1] == '\n');
    for (size_t i = 0; i < n; i++) {
        KF_CHECK((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\r' || p[i] == '\n');
    }
    KF_CHECK(str_ok(s->conn_addr, sizeof s->conn_addr));
    KF_CHECK(s->n_media <= KMS_SDP_MEDIA_MAX);
    check_level(s->has_mikey, s->mikey_len);
    for (size_t i = 0; i < s->n_media; i++) {
        const struct kms_sdp_media *m = &s->m[i];
        KF_CHECK(str_ok(m->media, sizeof m->media) && m->media[0] != '\0');
        KF_CHECK(str_ok(m->proto, sizeof m->proto) && m->proto[0] != '\0');
        KF_CHECK(str_ok(m->fmts, sizeof m->fmts) && m->fmts[0] != '\0');
        KF_CHECK(str_ok(m->conn_addr, sizeof m->conn_addr));
        check_level(m->has_mikey, m->mikey_len);
        const uint8_t *mk;
        size_t mn;
        r = kms_sdp_mikey_for(s, i, &mk, &mn);
        if (m->has_mikey) {
            KF_CHECK(kms_ok(r) && mk == m->mikey && mn == m->mikey_len);
        } else if (s->has_mikey) {
            KF_CHECK(kms_ok(r) && mk == s->mikey && mn == s->mikey_len);
        } else {
            KF_CHECK(r.err == KMS_ERR_NOT_FOUND && mk == NULL && mn == 0);
        }
    }
    uint8_t *cut = kf_dup(p, n - 1, 0);
    KF_CHECK(kms_sdp_parse(cut, n - 1, s, &eo).err == KMS_ERR_TRUNCATED && eo == n - 1);
    free(cut);
    /* the parse above zeroed s: parse again for the rewrite */
    KF_CHECK(kms_ok(kms_sdp_parse(p, n, s, NULL)));
    rewrite(s);
    free(s);
}

static void wrapped(const uint8_t *p, size_t n)
{
    static const char *const addrs[4] = {"192.0.2.1", "2001:db8::7", "127.0.0.1", "::1"};
    struct kms_sdp_out o = {.addr = addrs[n > 0 ? p[0] & 3 : 0],
                            .port = (uint16_t)(n > 1 ? p[1] * 257u : 9),
                            .sess_id = n,
                            .sess_version = 1,
                            .mikey = p,
                            .mikey_len = n};
    struct kms_buf b;
    kms_buf_init(&b, 2 * KMS_SDP_MAX, false);
    kms_result r = kms_sdp_write(&o, &b);
    if (n == 0 || n > KMS_SDP_KEYMGMT_MAX) {
        KF_CHECK(r.err == KMS_ERR_ARG && kms_buf_len(&b) == 0);
        kms_buf_cleanup(&b);
        return;
    }
    KF_CHECK(kms_ok(r));
    uint8_t *q = kf_dup(kms_buf_data(&b), kms_buf_len(&b), 0);
    struct kms_sdp *s = malloc(sizeof(*s));
    KF_CHECK(s != NULL);
    KF_CHECK(kms_ok(kms_sdp_parse(q, kms_buf_len(&b), s, NULL)));
    const uint8_t *mk;
    size_t mn;
    KF_CHECK(kms_ok(kms_sdp_mikey_for(s, 0, &mk, &mn)));
    KF_CHECK(mn == n && memcmp(mk, p, n) == 0);
    KF_CHECK(s->n_media == 1 && s->m[0].port == o.port);
    KF_CHECK(strcmp(s->conn_addr, o.addr) == 0);
    free(s);
    free(q);
    kms_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > KMS_SDP_MAX + 2) {
        return 0;
    }
    uint8_t *p = kf_dup(data + 1, size - 1, 0);
    if ((data[0] & 1) == 0) {
        check(p, size - 1);
    } else {
        wrapped(p, size - 1);
    }
    free(p);
    return 0;
}

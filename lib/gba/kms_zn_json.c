/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Zn JSON codec over jansson. The rules are in the header; here: building and dumping objects
 * without leaving key material in freed memory, and reading typed fields strictly.
 */
#include "gba/kms_zn_json.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_bsfinfo.h"
#include "util/kms_codec.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

/* ---- a wiping allocator for jansson ---- */

/* Each block is preceded by its size, padded to the strictest alignment. */
union blk_hdr {
    max_align_t align;
    size_t n;
};

static void *wipe_malloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(union blk_hdr)) {
        return NULL;
    }
    union blk_hdr *h = malloc(sizeof(*h) + n);
    if (h == NULL) {
        return NULL;
    }
    h->n = n;
    return h + 1;
}

static void wipe_free(void *p)
{
    if (p == NULL) {
        return;
    }
    union blk_hdr *h = (union blk_hdr *)p - 1;
    kms_wipe(p, h->n);
    free(h);
}

/* Runs before main, so before any jansson object exists in the process: every block jansson
 * ever frees was allocated by wipe_malloc. Someone else's allocator is left alone. */
__attribute__((constructor)) static void zn_json_alloc_init(void)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (m == malloc && f == free) {
        json_set_alloc_funcs(wipe_malloc, wipe_free);
    }
}

/* ---- encoding ---- */

static kms_result set_str(json_t *o, const char *key, const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    KMS_ENSURE(v != NULL, KMS_ERR_NOMEM);
    KMS_ENSURE(json_object_set_new(o, key, v) == 0, KMS_ERR_NOMEM);
    return KMS_RESULT_OK;
}

static kms_result set_time(json_t *o, const char *key, uint64_t t)
{
    char s[KMS_TIME_STR_LEN];
    KMS_TRY(kms_time_format(t, s));
    return set_str(o, key, s, strlen(s));
}

/* Appends the compact dump of j to out (unchanged on failure). */
static kms_result dump(const json_t *j, struct kms_buf *out)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    KMS_ENSURE(n > 0, KMS_ERR_NOMEM);
    size_t mark = kms_buf_len(out);
    uint8_t *w;
    KMS_TRY(kms_buf_put_space(out, n, &w));
    if (json_dumpb(j, (char *)w, n, JSON_COMPACT) != n) {
        kms_buf_truncate(out, mark);
        KMS_BAIL(KMS_ERR_INTERNAL);
    }
    return KMS_RESULT_OK;
}

static size_t bounded_len(const char *s, size_t cap)
{
    return strnlen(s, cap);
}

kms_result kms_zn_req_encode(const struct kms_zn_req *q, struct kms_buf *out)
{
    KMS_ENSURE(q != NULL && out != NULL, KMS_ERR_ARG);
    size_t nb = bounded_len(q->btid, sizeof(q->btid));
    size_t nf = bounded_len(q->naf_fqdn, sizeof(q->naf_fqdn));
    KMS_TRY(kms_ident_check_btid(q->btid, nb));
    KMS_TRY(kms_ident_check_fqdn(q->naf_fqdn, nf));
    char ua[KMS_HEX_ENC_LEN(KMS_UA_ID_LEN)];
    KMS_TRY(kms_hex_encode(q->ua_id, KMS_UA_ID_LEN, ua, sizeof(ua)));
    kms_result rc = KMS_RC_INIT;
    json_t *o = json_object();
    KMS_ENSURE_OUT(rc, o != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, set_str(o, "btid", q->btid, nb));
    KMS_TRY_OUT(rc, set_str(o, "naf_fqdn", q->naf_fqdn, nf));
    KMS_TRY_OUT(rc, set_str(o, "ua_protocol_id", ua, strlen(ua)));
    KMS_TRY_OUT(rc, dump(o, out));
    rc = KMS_RESULT_OK;
out:
    json_decref(o);
    return rc;
}

/* IMPU list: each a valid identity, no repeats. */
static kms_result check_impus(const struct kms_zn_resp *r)
{
    KMS_ENSURE(r->n_impu <= KMS_ZN_MAX_IMPU, KMS_ERR_TOO_LONG);
    for (size_t i = 0; i < r->n_impu; i++) {
        size_t len = strnlen(r->impu[i], KMS_ZN_ID_MAX);
        KMS_TRY(kms_ident_check_impu(r->impu[i], len));
        for (size_t j = 0; j < i; j++) {
            KMS_ENSURE(strcmp(r->impu[i], r->impu[j]) != 0, KMS_ERR_MALFORMED);
        }
    }
    return KMS_RESULT_OK;
}

kms_result kms_zn_resp_encode(const struct kms_zn_resp *r, struct kms_buf *out)
{
    KMS_ENSURE(r != NULL && out != NULL, KMS_ERR_ARG);
    size_t ni = bounded_len(r->impi, sizeof(r->impi));
    KMS_TRY(kms_ident_check_impi(r->impi, ni));
    KMS_TRY(check_impus(r));
    KMS_ENSURE(r->key_expiry >= r->bootstrap_time, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    char hex[KMS_HEX_ENC_LEN(KMS_KDF_OUT_LEN)];
    json_t *o = json_object();
    json_t *a = json_array();
    KMS_ENSURE_OUT(rc, o != NULL && a != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, set_str(o, "impi", r->impi, ni));
    for (size_t i = 0; i < r->n_impu; i++) {
        json_t *v = json_stringn(r->impu[i], strlen(r->impu[i]));
        KMS_ENSURE_OUT(rc, v != NULL && json_array_append_new(a, v) == 0, KMS_ERR_NOMEM);
    }
    KMS_ENSURE_OUT(rc, json_object_set(o, "impus", a) == 0, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_hex_encode(r->ks_naf, sizeof(r->ks_naf), hex, sizeof(hex)));
    KMS_TRY_OUT(rc, set_str(o, "ks_naf", hex, strlen(hex)));
    KMS_TRY_OUT(rc, set_time(o, "bootstrap_time", r->bootstrap_time));
    KMS_TRY_OUT(rc, set_time(o, "key_expiry", r->key_expiry));
    KMS_TRY_OUT(rc, dump(o, out));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(hex, sizeof(hex));
    json_decref(a);
    json_decref(o); /* freed through wipe_free */
    return rc;
}

static bool code_ok(const char *s, size_t n)
{
    if (n == 0 || n > KMS_ZN_CODE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

static bool detail_ok(const char *s, size_t n)
{
    if (n > KMS_ZN_DETAIL_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

kms_result kms_zn_error_encode(const char *code, const char *detail, struct kms_buf *out)
{
    KMS_ENSURE(code != NULL && out != NULL, KMS_ERR_ARG);
    if (detail == NULL) {
        detail = "";
    }
    size_t nc = strnlen(code, KMS_ZN_CODE_MAX + 1);
    size_t nd = strnlen(detail, KMS_ZN_DETAIL_MAX + 1);
    KMS_ENSURE(code_ok(code, nc) && detail_ok(detail, nd), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    json_t *o = json_object();
    KMS_ENSURE_OUT(rc, o != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, set_str(o, "error", code, nc));
    KMS_TRY_OUT(rc, set_str(o, "detail", detail, nd));
    KMS_TRY_OUT(rc, dump(o, out));
    rc = KMS_RESULT_OK;
out:
    json_decref(o);
    return rc;
}

/* ---- decoding ---- */

/* One JSON object, nothing after it, no duplicate keys, at most KMS_ZN_JSON_MAX octets. */
static kms_result load(const uint8_t *p, size_t n, json_t **root)
{
    *root = NULL;
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    KMS_ENSURE(n <= KMS_ZN_JSON_MAX, KMS_ERR_TOO_LONG);
    json_error_t e;
    json_t *j = json_loadb(p != NULL ? (const char *)p : "", n, JSON_REJECT_DUPLICATES, &e);
    /* The error text may quote the input (a key, perhaps): not left on the stack. */
    kms_wipe(&e, sizeof(e));
    KMS_ENSURE(j != NULL, KMS_ERR_MALFORMED);
    if (!json_is_object(j)) {
        json_decref(j);
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    *root = j;
    return KMS_RESULT_OK;
}

/* A string value (no NUL inside), copied NUL-terminated into out (cap octets; a longer one is
 * TOO_LONG). MALFORMED when the key is absent or not a string. */
static kms_result get_str(const json_t *o, const char *key, char *out, size_t cap, size_t *len)
{
    const json_t *v = json_object_get(o, key);
    KMS_ENSURE(v != NULL && json_is_string(v), KMS_ERR_MALFORMED);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    KMS_ENSURE(memchr(s, 0, n) == NULL, KMS_ERR_MALFORMED);
    KMS_ENSURE(n < cap, KMS_ERR_TOO_LONG);
    memcpy(out, s, n);
    out[n] = '\0';
    *len = n;
    return KMS_RESULT_OK;
}

/* Exactly 2 * n lower-case hex digits. */
static kms_result get_hex(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    char s[2 * KMS_KDF_OUT_LEN + 1];
    size_t len = 0;
    kms_result r = get_str(o, key, s, sizeof(s), &len);
    if (r.err == KMS_ERR_TOO_LONG) {
        r = KMS_ERR(KMS_ERR_MALFORMED); /* every wrong length alike */
    }
    if (kms_ok(r)) {
        bool lower = len == 2 * n;
        for (size_t i = 0; i < len; i++) {
            lower = lower && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
        }
        r = lower ? kms_hex_decode_exact(s, out, n) : KMS_ERR(KMS_ERR_MALFORMED);
    }
    kms_wipe(s, sizeof(s));
    return r;
}

static kms_result get_time(const json_t *o, const char *key, uint64_t *t)
{
    char s[KMS_TIME_TEXT_MAX + 1];
    size_t len = 0;
    kms_result r = get_str(o, key, s, sizeof(s), &len);
    KMS_ENSURE(r.err != KMS_ERR_TOO_LONG, KMS_ERR_MALFORMED);
    KMS_TRY(r);
    return kms_time_parse(s, len, t);
}

static kms_result req_fields(const json_t *o, struct kms_zn_req *q)
{
    size_t n;
    KMS_TRY(get_str(o, "btid", q->btid, sizeof(q->btid), &n));
    KMS_TRY(kms_ident_check_btid(q->btid, n));
    KMS_TRY(get_str(o, "naf_fqdn", q->naf_fqdn, sizeof(q->naf_fqdn), &n));
    KMS_TRY(kms_ident_check_fqdn(q->naf_fqdn, n));
    return get_hex(o, "ua_protocol_id", q->ua_id, sizeof(q->ua_id));
}

kms_result kms_zn_req_decode(const uint8_t *p, size_t n, struct kms_zn_req *q)
{
    KMS_ENSURE_REF(q);
    memset(q, 0, sizeof(*q));
    json_t *o;
    KMS_TRY(load(p, n, &o));
    kms_result r = req_fields(o, q);
    json_decref(o);
    if (!kms_ok(r)) {
        memset(q, 0, sizeof(*q));
    }
    return r;
}

static kms_result resp_fields(const json_t *o, struct kms_zn_resp *r)
{
    size_t n;
    KMS_TRY(get_str(o, "impi", r->impi, sizeof(r->impi), &n));
    KMS_TRY(kms_ident_check_impi(r->impi, n));
    const json_t *a = json_object_get(o, "impus");
    KMS_ENSURE(a != NULL && json_is_array(a), KMS_ERR_MALFORMED);
    KMS_ENSURE(json_array_size(a) <= KMS_ZN_MAX_IMPU, KMS_ERR_TOO_LONG);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        KMS_ENSURE(json_is_string(v), KMS_ERR_MALFORMED);
        size_t len = json_string_length(v);
        KMS_ENSURE(len < KMS_ZN_ID_MAX, KMS_ERR_TOO_LONG);
        memcpy(r->impu[i], json_string_value(v), len);
        r->impu[i][len] = '\0';
        /* an embedded NUL makes strlen shorter: refused here */
        KMS_ENSURE(strlen(r->impu[i]) == len, KMS_ERR_MALFORMED);
        r->n_impu = i + 1;
    }
    KMS_TRY(check_impus(r));
    KMS_TRY(get_hex(o, "ks_naf", r->ks_naf, sizeof(r->ks_naf)));
    KMS_TRY(get_time(o, "bootstrap_time", &r->bootstrap_time));
    KMS_TRY(get_time(o, "key_expiry", &r->key_expiry));
    KMS_ENSURE(r->key_expiry >= r->bootstrap_time, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

kms_result kms_zn_resp_decode(const uint8_t *p, size_t n, struct kms_zn_resp *r)
{
    KMS_ENSURE_REF(r);
    kms_zn_resp_wipe(r);
    json_t *o;
    KMS_TRY(load(p, n, &o));
    kms_result rc = resp_fields(o, r);
    json_decref(o); /* the ks_naf string is wiped by wipe_free */
    if (!kms_ok(rc)) {
        kms_zn_resp_wipe(r);
    }
    return rc;
}

void kms_zn_resp_wipe(struct kms_zn_resp *r)
{
    if (r != NULL) {
        kms_wipe(r, sizeof(*r));
    }
}

static kms_result error_fields(const json_t *o, struct kms_zn_error *e)
{
    size_t n;
    KMS_TRY(get_str(o, "error", e->code, sizeof(e->code), &n));
    KMS_ENSURE(code_ok(e->code, n), KMS_ERR_MALFORMED);
    if (json_object_get(o, "detail") != NULL) {
        KMS_TRY(get_str(o, "detail", e->detail, sizeof(e->detail), &n));
        KMS_ENSURE(detail_ok(e->detail, n), KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

kms_result kms_zn_error_decode(const uint8_t *p, size_t n, struct kms_zn_error *e)
{
    KMS_ENSURE_REF(e);
    memset(e, 0, sizeof(*e));
    json_t *o;
    KMS_TRY(load(p, n, &o));
    kms_result r = error_fields(o, e);
    json_decref(o);
    if (!kms_ok(r)) {
        memset(e, 0, sizeof(*e));
    }
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the RFC 7512 PKCS#11 URI parser (kms_p11_uri_parse, keyring/kms_p11_uri.h);
 * input = the URI (cut at a NUL octet, as the C string the API takes).
 * Oracles: a refusal is KMS_ERR_HSM_URI and leaves the whole struct zero (nothing to free);
 * an accepted URI has token= or serial=, each set field 1..cap octets with no NUL inside and
 * NUL-terminated (token/manufacturer 32, serial/model 16), unset fields empty, an absolute
 * module-path, exactly one of pin-source (an absolute path) and pin-value (1..256 octets, no
 * NUL); the URI the harness writes back from the result (every value fully percent-encoded,
 * attributes in a fixed order) parses to the same result; the input longer than
 * KMS_P11_URI_MAX is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "keyring/kms_p11_uri.h"
#include "util/kms_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const struct kms_p11_field *f, size_t cap)
{
    if (!f->set) {
        KF_CHECK(f->len == 0 && kf_all_zero(f->v, sizeof(f->v)));
        return;
    }
    KF_CHECK(f->len >= 1 && f->len <= cap && f->v[f->len] == '\0' && strlen(f->v) == f->len);
}

static void check_path(const char *p)
{
    size_t n = strnlen(p, KMS_P11_PATH_MAX);
    KF_CHECK(n >= 1 && n < KMS_P11_PATH_MAX && p[0] == '/');
}

/* name=%XX%XX... for n octets of v, after sep (none when sep is 0). */
static void put_attr(struct kms_buf *b, char sep, const char *name, const char *prefix,
                     const uint8_t *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (sep != 0) {
        KF_CHECK(kms_ok(kms_buf_put_u8(b, (uint8_t)sep)));
    }
    KF_CHECK(kms_ok(kms_buf_put_bytes(b, (const uint8_t *)name, strlen(name))));
    KF_CHECK(kms_ok(kms_buf_put_u8(b, '=')));
    KF_CHECK(kms_ok(kms_buf_put_bytes(b, (const uint8_t *)prefix, strlen(prefix))));
    for (size_t i = 0; i < n; i++) {
        const uint8_t pct[3] = {'%', (uint8_t)hex[v[i] >> 4], (uint8_t)hex[v[i] & 15]};
        KF_CHECK(kms_ok(kms_buf_put_bytes(b, pct, sizeof(pct))));
    }
}

static void put_field(struct kms_buf *b, char *sep, const char *name, const struct kms_p11_field *f)
{
    if (f->set) {
        put_attr(b, *sep, name, "", (const uint8_t *)f->v, f->len);
        *sep = ';';
    }
}

static bool field_eq(const struct kms_p11_field *a, const struct kms_p11_field *b)
{
    return a->set == b->set && a->len == b->len && memcmp(a->v, b->v, sizeof(a->v)) == 0;
}

static void round_trip(const struct kms_p11_uri *u)
{
    struct kms_buf b;
    kms_buf_init(&b, 64 * 1024, true);
    KF_CHECK(kms_ok(kms_buf_put_bytes(&b, (const uint8_t *)"pkcs11:", 7)));
    char sep = 0;
    put_field(&b, &sep, "token", &u->token);
    put_field(&b, &sep, "serial", &u->serial);
    put_field(&b, &sep, "manufacturer", &u->manufacturer);
    put_field(&b, &sep, "model", &u->model);
    /* Paths keep their '/' as is: the parser checks the '/' after decoding anyway. */
    put_attr(&b, '?', "module-path", "", (const uint8_t *)u->module_path, strlen(u->module_path));
    if (u->has_pin_source) {
        put_attr(&b, '&', "pin-source", "file:", (const uint8_t *)u->pin_source,
                 strlen(u->pin_source));
    } else {
        put_attr(&b, '&', "pin-value", "", u->pin_value->d, u->pin_value_len);
    }
    KF_CHECK(kms_ok(kms_buf_put_u8(&b, 0)));
    struct kms_p11_uri u2;
    kms_result r = kms_p11_uri_parse((const char *)kms_buf_data(&b), &u2);
    if (kms_buf_len(&b) - 1 > KMS_P11_URI_MAX) {
        /* Fully escaped values can triple the length past the cap. */
        KF_CHECK(r.err == KMS_ERR_HSM_URI);
    } else {
        KF_CHECK(kms_ok(r));
        KF_CHECK(field_eq(&u->token, &u2.token) && field_eq(&u->serial, &u2.serial));
        KF_CHECK(field_eq(&u->manufacturer, &u2.manufacturer) && field_eq(&u->model, &u2.model));
        KF_CHECK(strcmp(u->module_path, u2.module_path) == 0);
        KF_CHECK(u->has_pin_source == u2.has_pin_source);
        KF_CHECK(strcmp(u->pin_source, u2.pin_source) == 0);
        KF_CHECK(u->pin_value_len == u2.pin_value_len);
        KF_CHECK((u->pin_value == NULL) == (u2.pin_value == NULL));
        if (u->pin_value != NULL) {
            KF_CHECK(memcmp(u->pin_value->d, u2.pin_value->d, u->pin_value_len) == 0);
        }
    }
    kms_p11_uri_cleanup(&u2);
    kms_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * KMS_P11_URI_MAX) {
        return 0;
    }
    char *s = malloc(size + 1);
    KF_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    struct kms_p11_uri *u = malloc(sizeof(*u));
    KF_CHECK(u != NULL);
    memset(u, 0x5a, sizeof(*u));
    kms_result r = kms_p11_uri_parse(s, u);
    if (!kms_ok(r)) {
        KF_CHECK(r.err == KMS_ERR_HSM_URI);
        KF_CHECK(kf_all_zero(u, sizeof(*u)));
    } else {
        KF_CHECK(strlen(s) <= KMS_P11_URI_MAX);
        KF_CHECK(u->token.set || u->serial.set);
        check_field(&u->token, KMS_P11_LABEL_LEN);
        check_field(&u->serial, KMS_P11_SERIAL_LEN);
        check_field(&u->manufacturer, KMS_P11_LABEL_LEN);
        check_field(&u->model, KMS_P11_SERIAL_LEN);
        check_path(u->module_path);
        if (u->has_pin_source) {
            check_path(u->pin_source);
            KF_CHECK(u->pin_value == NULL && u->pin_value_len == 0);
        } else {
            KF_CHECK(u->pin_source[0] == '\0' && u->pin_value != NULL);
            KF_CHECK(u->pin_value_len >= 1 && u->pin_value_len <= KMS_P11_PIN_MAX);
            KF_CHECK(memchr(u->pin_value->d, 0, u->pin_value_len) == NULL);
        }
        round_trip(u);
    }
    kms_p11_uri_cleanup(u);
    free(u);
    free(s);
    return 0;
}

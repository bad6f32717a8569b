/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 keystore against a real token: SoftHSM2, set up by tests/hsm/with_softhsm.sh,
 * which exports IMSKMS_TEST_HSM_URI. Without it the test fails (it never skips): a keystore
 * that was not exercised must not look like one that passed.
 *
 * Independent evidence: key attributes are read back both through PKCS#11 from the test and
 * with OpenSC's pkcs11-tool; the token's AES-256-GCM is compared with OpenSSL's EVP and with
 * the GCM specification's test case 16, through a key of known value imported here.
 */
#include "testlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "keyring/kms_keystore.h"
#include "keyring/kms_p11_uri.h"

#define TEST_LABEL "imskms-test"
#define TEST_PIN   "1234"

static const uint8_t ring_a[KMS_RING_ID_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                                0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t ring_b[KMS_RING_ID_LEN] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                                0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

static const char *hsm_uri(void)
{
    const char *u = getenv("IMSKMS_TEST_HSM_URI");
    if (u == NULL || *u == '\0') {
        fail_msg("IMSKMS_TEST_HSM_URI unset: run this test through tests/hsm/with_softhsm.sh");
    }
    return u;
}

static const char *hsm_module(void)
{
    const char *m = getenv("IMSKMS_SOFTHSM_MODULE");
    return m != NULL ? m : "/usr/lib/softhsm/libsofthsm2.so";
}

static struct kms_keystore *ks_open(void)
{
    struct kms_keystore *ks = NULL;
    expect_ok(kms_keystore_p11_open(hsm_uri(), &ks));
    assert_non_null(ks);
    assert_string_equal(ks->ops->name, "pkcs11");
    assert_int_equal(ks->ops->kind, KMS_KEYSTORE_PKCS11);
    return ks;
}

static void ks_close(struct kms_keystore *ks)
{
    ks->ops->close(ks);
}

/* PKCS#11 takes non-const pointers for what it only reads. */
static void *unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

static void make_id(const uint8_t ring[KMS_RING_ID_LEN], uint32_t key_id, uint8_t id[20])
{
    memcpy(id, ring, KMS_RING_ID_LEN);
    id[16] = (uint8_t)(key_id >> 24);
    id[17] = (uint8_t)(key_id >> 16);
    id[18] = (uint8_t)(key_id >> 8);
    id[19] = (uint8_t)key_id;
}

/* ---- the test's own PKCS#11 view of the token (used while a keystore is open) ------------ */

struct tp11 {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;
};

static void tp11_open(struct tp11 *t)
{
    CK_C_GetFunctionList get;
    t->dl = dlopen(hsm_module(), RTLD_NOW | RTLD_LOCAL);
    assert_non_null(t->dl);
    void *sym = dlsym(t->dl, "C_GetFunctionList");
    assert_non_null(sym);
    memcpy(&get, &sym, sizeof(get));
    assert_int_equal(get(&t->f), CKR_OK);
    /* The keystore under test is open, so the module is initialised already. */
    assert_int_equal(t->f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    assert_int_equal(t->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    bool found = false;
    for (CK_ULONG i = 0; i < n && !found; i++) {
        CK_TOKEN_INFO ti;
        assert_int_equal(t->f->C_GetTokenInfo(slots[i], &ti), CKR_OK);
        if (memcmp(ti.label, TEST_LABEL, strlen(TEST_LABEL)) == 0) {
            assert_int_equal(t->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                                 NULL, NULL, &t->s),
                             CKR_OK);
            found = true;
        }
    }
    assert_true(found);
    CK_RV rv = t->f->C_Login(t->s, CKU_USER, unconst(TEST_PIN), strlen(TEST_PIN));
    assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
}

static void tp11_close(struct tp11 *t)
{
    assert_int_equal(t->f->C_CloseSession(t->s), CKR_OK);
    dlclose(t->dl);
}

/* Handles of the AES keys with this CKA_ID (at most cap). */
static size_t tp11_find(struct tp11 *t, const uint8_t id[20], CK_OBJECT_HANDLE *h, size_t cap)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, unconst(id), 20}};
    CK_ULONG n = 0;
    assert_int_equal(t->f->C_FindObjectsInit(t->s, tmpl, 2), CKR_OK);
    assert_int_equal(t->f->C_FindObjects(t->s, h, cap, &n), CKR_OK);
    assert_int_equal(t->f->C_FindObjectsFinal(t->s), CKR_OK);
    return n;
}

static size_t count_objects(const uint8_t ring[KMS_RING_ID_LEN], uint32_t key_id)
{
    struct tp11 t;
    CK_OBJECT_HANDLE h[8];
    uint8_t id[20];
    make_id(ring, key_id, id);
    tp11_open(&t);
    size_t n = tp11_find(&t, id, h, 8);
    tp11_close(&t);
    return n;
}

/* Imports an AES-256 key of known value with this CKA_ID, with the keystore's attributes. */
static void tp11_import_id(const uint8_t *id, size_t id_len, const uint8_t key[32])
{
    struct tp11 t;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE, unconst(key), 32},      {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},   {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)}, {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},   {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},      {CKA_ID, unconst(id), id_len},
    };
    CK_OBJECT_HANDLE obj;
    tp11_open(&t);
    assert_int_equal(t.f->C_CreateObject(t.s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj), CKR_OK);
    tp11_close(&t);
}

/* The same under the keystore's CKA_ID layout for (ring, key_id). */
static void tp11_import(const uint8_t ring[KMS_RING_ID_LEN], uint32_t key_id, const uint8_t key[32])
{
    uint8_t id[20];
    make_id(ring, key_id, id);
    tp11_import_id(id, sizeof(id), key);
}

/* Destroys every secret key with this CKA_ID; returns how many. */
static size_t tp11_destroy_id(const uint8_t *id, size_t id_len)
{
    struct tp11 t;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, unconst(id), id_len}};
    CK_OBJECT_HANDLE h[8];
    CK_ULONG n = 0;
    tp11_open(&t);
    assert_int_equal(t.f->C_FindObjectsInit(t.s, tmpl, 2), CKR_OK);
    assert_int_equal(t.f->C_FindObjects(t.s, h, 8, &n), CKR_OK);
    assert_int_equal(t.f->C_FindObjectsFinal(t.s), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        assert_int_equal(t.f->C_DestroyObject(t.s, h[i]), CKR_OK);
    }
    tp11_close(&t);
    return n;
}

/* ---- URI parser (no token needed) ---------------------------------------------------------- */

static void uri_accepts_documented_forms(void **state)
{
    (void)state;
    struct kms_p11_uri u;
    expect_ok(kms_p11_uri_parse("pkcs11:token=imskms-test?module-path=/usr/lib/softhsm/"
                                "libsofthsm2.so&pin-source=file:/run/imskms/pin",
                                &u));
    assert_true(u.token.set);
    assert_string_equal(u.token.v, "imskms-test");
    assert_false(u.serial.set);
    assert_string_equal(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
    assert_true(u.has_pin_source);
    assert_string_equal(u.pin_source, "/run/imskms/pin");
    assert_null(u.pin_value);
    kms_p11_uri_cleanup(&u);

    /* Every path attribute, percent escapes, pin-value, scheme in capitals. */
    expect_ok(kms_p11_uri_parse("PKCS11:token=My%20Token;serial=ab9f5d5f6de81674;"
                                "manufacturer=SoftHSM%20project;model=SoftHSM%20v2"
                                "?pin-value=12%2634&module-path=/opt/p%3f11/lib.so",
                                &u));
    assert_string_equal(u.token.v, "My Token");
    assert_int_equal(u.token.len, 8);
    assert_string_equal(u.serial.v, "ab9f5d5f6de81674");
    assert_string_equal(u.manufacturer.v, "SoftHSM project");
    assert_string_equal(u.model.v, "SoftHSM v2");
    assert_string_equal(u.module_path, "/opt/p?11/lib.so");
    assert_false(u.has_pin_source);
    assert_non_null(u.pin_value);
    assert_int_equal(u.pin_value_len, 5);
    assert_memory_equal(u.pin_value->d, "12&34", 5);
    struct kms_secret *pin = NULL;
    size_t pin_len = 0;
    expect_ok(kms_p11_uri_pin(&u, &pin, &pin_len));
    assert_int_equal(pin_len, 5);
    assert_memory_equal(pin->d, "12&34", 5);
    kms_secret_free(pin);
    kms_p11_uri_cleanup(&u);

    /* serial alone selects a token; a 32-byte label is the longest. */
    expect_ok(kms_p11_uri_parse("pkcs11:serial=1?module-path=/m.so&pin-value=1", &u));
    kms_p11_uri_cleanup(&u);
    expect_ok(kms_p11_uri_parse(
        "pkcs11:token=0123456789abcdef0123456789abcdef?module-path=/m.so&pin-value=1", &u));
    assert_int_equal(u.token.len, 32);
    kms_p11_uri_cleanup(&u);

    /* Token-info fields match blank-padded. */
    expect_ok(kms_p11_uri_parse("pkcs11:token=ab?module-path=/m.so&pin-value=1", &u));
    assert_true(kms_p11_field_match(&u.token, (const unsigned char *)"ab      ", 8));
    assert_false(kms_p11_field_match(&u.token, (const unsigned char *)"abc     ", 8));
    assert_false(kms_p11_field_match(&u.token, (const unsigned char *)"a       ", 8));
    assert_true(kms_p11_field_match(&u.serial, (const unsigned char *)"anything", 8));
    kms_p11_uri_cleanup(&u);
}

static void uri_refuses_bad_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "pkcs11:",
        "pkcs11",
        "pkcs12:token=t?module-path=/m.so&pin-value=1",
        "file:token=t?module-path=/m.so&pin-value=1",
        " pkcs11:token=t?module-path=/m.so&pin-value=1",
        /* unknown attributes, standard but unsupported ones, attributes in the wrong part */
        "pkcs11:token=t;color=red?module-path=/m.so&pin-value=1",
        "pkcs11:token=t;object=k?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=1&module-name=softhsm2",
        "pkcs11:token=t;module-path=/m.so?pin-value=1",
        "pkcs11:pin-value=1;token=t?module-path=/m.so",
        "pkcs11:module-path=/m.so?token=t&pin-value=1",
        "pkcs11:Token=t?module-path=/m.so&pin-value=1",
        /* duplicates */
        "pkcs11:token=t;token=t?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=1&pin-value=1",
        /* missing pieces */
        "pkcs11:token=t?pin-value=1",
        "pkcs11:token=t?module-path=/m.so",
        "pkcs11:?module-path=/m.so&pin-value=1",
        "pkcs11:manufacturer=m?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=1&pin-source=file:/p",
        /* empty values, empty parts, missing '=' */
        "pkcs11:token=?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=",
        "pkcs11:token=t;?module-path=/m.so&pin-value=1",
        "pkcs11:;token=t?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=1&",
        "pkcs11:token?module-path=/m.so&pin-value=1",
        /* bad percent escapes */
        "pkcs11:token=a%2?module-path=/m.so&pin-value=1",
        "pkcs11:token=a%?module-path=/m.so&pin-value=1",
        "pkcs11:token=a%zz?module-path=/m.so&pin-value=1",
        "pkcs11:token=a%00b?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=1%g0",
        /* characters outside the RFC 7512 sets */
        "pkcs11:token=a b?module-path=/m.so&pin-value=1",
        "pkcs11:token=a/b?module-path=/m.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-value=1#frag",
        "pkcs11:token=t?module-path=/m.so&pin-value=1\"",
        "pkcs11:token=t?module-path=/m.so&pin-value=\xc3\xa9",
        /* relative paths, other pin sources */
        "pkcs11:token=t?module-path=libsofthsm2.so&pin-value=1",
        "pkcs11:token=t?module-path=/m.so&pin-source=/etc/pin",
        "pkcs11:token=t?module-path=/m.so&pin-source=file:pin",
        "pkcs11:token=t?module-path=/m.so&pin-source=file:",
        "pkcs11:token=t?module-path=/m.so&pin-source=env:PIN",
        /* longer than the token-info fields */
        "pkcs11:token=0123456789abcdef0123456789abcdefX?module-path=/m.so&pin-value=1",
        "pkcs11:serial=0123456789abcdefX?module-path=/m.so&pin-value=1",
        "pkcs11:model=0123456789abcdefX?module-path=/m.so&pin-value=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kms_p11_uri u;
        kms_result r = kms_p11_uri_parse(bad[i], &u);
        if (r.err != KMS_ERR_HSM_URI) {
            fail_msg("accepted or wrong error (%s) for \"%s\"", kms_err_name(r.err), bad[i]);
        }
        assert_null(u.pin_value);
    }
    struct kms_p11_uri u;
    expect_err(kms_p11_uri_parse(NULL, &u), KMS_ERR_HSM_URI);
    /* Overlong URIs and PINs. */
    char *big = malloc(KMS_P11_URI_MAX + 64);
    assert_non_null(big);
    int n = snprintf(big, 64, "pkcs11:token=t?module-path=/m.so&pin-value=");
    memset(big + n, '1', KMS_P11_URI_MAX);
    big[KMS_P11_URI_MAX + 1] = '\0';
    expect_err(kms_p11_uri_parse(big, &u), KMS_ERR_HSM_URI);
    big[n + KMS_P11_PIN_MAX + 1] = '\0';
    expect_err(kms_p11_uri_parse(big, &u), KMS_ERR_HSM_URI);
    big[n + KMS_P11_PIN_MAX] = '\0';
    expect_ok(kms_p11_uri_parse(big, &u));
    kms_p11_uri_cleanup(&u);
    free(big);
    /* The same URI through the keystore: refused before any module is loaded. */
    struct kms_keystore dummy, *ks = &dummy;
    expect_err(kms_keystore_p11_open("pkcs11:token=t?pin-value=1", &ks), KMS_ERR_HSM_URI);
    assert_null(ks);
}

static void write_file(const char *path, const char *data, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void uri_pin_source_reads_the_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/imskms-pin.XXXXXX", path[64], uri[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/pin", dir);
    snprintf(uri, sizeof(uri), "pkcs11:token=t?module-path=/m.so&pin-source=file:%s", path);
    struct kms_p11_uri u;
    struct kms_secret *pin = NULL;
    size_t pin_len = 0;
    expect_ok(kms_p11_uri_parse(uri, &u));
    /* absent */
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_IO);
    assert_null(pin);
    /* one trailing newline goes, the rest stays */
    write_file(path, "4321\n", 5, 0600);
    expect_ok(kms_p11_uri_pin(&u, &pin, &pin_len));
    assert_int_equal(pin_len, 4);
    assert_memory_equal(pin->d, "4321", 4);
    kms_secret_free(pin);
    write_file(path, "43 21\n\n", 7, 0400);
    expect_ok(kms_p11_uri_pin(&u, &pin, &pin_len));
    assert_int_equal(pin_len, 6);
    assert_memory_equal(pin->d, "43 21\n", 6);
    kms_secret_free(pin);
    /* readable by others, empty, only a newline, a directory */
    write_file(path, "4321\n", 5, 0644);
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    write_file(path, "4321\n", 5, 0640);
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    write_file(path, "", 0, 0600);
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    write_file(path, "\n", 1, 0600);
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    /* the longest PIN, with and without its newline, and one byte more */
    char big[KMS_P11_PIN_MAX + 2];
    memset(big, '7', sizeof(big));
    big[KMS_P11_PIN_MAX] = '\n';
    write_file(path, big, KMS_P11_PIN_MAX + 1, 0600);
    expect_ok(kms_p11_uri_pin(&u, &pin, &pin_len));
    assert_int_equal(pin_len, KMS_P11_PIN_MAX);
    kms_secret_free(pin);
    write_file(path, big, KMS_P11_PIN_MAX, 0600);
    expect_ok(kms_p11_uri_pin(&u, &pin, &pin_len));
    assert_int_equal(pin_len, KMS_P11_PIN_MAX);
    kms_secret_free(pin);
    big[KMS_P11_PIN_MAX] = '7';
    write_file(path, big, KMS_P11_PIN_MAX + 1, 0600);
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    big[KMS_P11_PIN_MAX + 1] = '\n';
    write_file(path, big, KMS_P11_PIN_MAX + 2, 0600);
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    assert_null(pin);
    kms_p11_uri_cleanup(&u);
    assert_int_equal(unlink(path), 0);
    snprintf(uri, sizeof(uri), "pkcs11:token=t?module-path=/m.so&pin-source=file:%s", dir);
    expect_ok(kms_p11_uri_parse(uri, &u));
    expect_err(kms_p11_uri_pin(&u, &pin, &pin_len), KMS_ERR_HSM_URI);
    kms_p11_uri_cleanup(&u);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- opening ------------------------------------------------------------------------------ */

/* The test URI with its query replaced, for the wrong-PIN and wrong-token cases. */
static void uri_with(char *out, size_t cap, const char *path, const char *query)
{
    snprintf(out, cap, "pkcs11:%s?module-path=%s&%s", path, hsm_module(), query);
}

static void open_refuses_wrong_pin_token_or_module(void **state)
{
    (void)state;
    char uri[512];
    struct kms_keystore *ks = NULL;
    uri_with(uri, sizeof(uri), "token=" TEST_LABEL, "pin-value=9999");
    expect_err(kms_keystore_p11_open(uri, &ks), KMS_ERR_HSM_LOGIN);
    assert_null(ks);
    uri_with(uri, sizeof(uri), "token=no-such-token", "pin-value=" TEST_PIN);
    expect_err(kms_keystore_p11_open(uri, &ks), KMS_ERR_HSM_TOKEN);
    uri_with(uri, sizeof(uri), "token=" TEST_LABEL ";serial=0000000000000000",
             "pin-value=" TEST_PIN);
    expect_err(kms_keystore_p11_open(uri, &ks), KMS_ERR_HSM_TOKEN);
    expect_err(kms_keystore_p11_open(
                   "pkcs11:token=t?module-path=/nonexistent/libnothing.so&pin-value=1", &ks),
               KMS_ERR_HSM_MODULE);
    /* a library that is not a PKCS#11 module */
    expect_err(kms_keystore_p11_open("pkcs11:token=t?module-path=/lib/x86_64-linux-gnu/"
                                     "libc.so.6&pin-value=1",
                                     &ks),
               KMS_ERR_HSM_MODULE);
    assert_null(ks);
    /* The right PIN works, also given inline, and after the failures above. */
    uri_with(uri, sizeof(uri), "token=" TEST_LABEL ";manufacturer=SoftHSM%20project",
             "pin-value=" TEST_PIN);
    expect_ok(kms_keystore_p11_open(uri, &ks));
    ks_close(ks);
    ks = ks_open();
    ks_close(ks);
    /* Two keystores at once share the module; closing one leaves the other working. */
    struct kms_keystore *a = ks_open(), *b = ks_open();
    uint8_t ref[KMS_KEYREF_MAX], tag[16], ct[4];
    size_t ref_len;
    struct kms_keystore_key *k;
    static const uint8_t nonce[12];
    expect_ok(a->ops->generate(a, ring_b, 99, ref, &ref_len));
    a->ops->close(a);
    expect_ok(b->ops->load(b, ring_b, 99, ref, ref_len, &k));
    expect_ok(b->ops->seal(k, nonce, NULL, 0, (const uint8_t *)"abcd", 4, ct, tag));
    b->ops->unload(k);
    expect_ok(b->ops->destroy(b, ring_b, 99, ref, ref_len));
    ks_close(b);
}

/* ---- keys and AES-GCM --------------------------------------------------------------------- */

static void seal_open_round_trip(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX], id[20];
    size_t ref_len = 0;
    expect_ok(ks->ops->generate(ks, ring_a, 1, ref, &ref_len));
    make_id(ring_a, 1, id);
    assert_int_equal(ref_len, 20);
    expect_bytes_eq(ref, id, 20);
    struct kms_keystore_key *k = NULL;
    expect_ok(ks->ops->load(ks, ring_a, 1, ref, ref_len, &k));
    /* sizes around the stack buffer, zero, and AAD or none */
    static const size_t sizes[] = {0, 1, 15, 16, 17, 200, 495, 496, 497, 512, 4000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *pt = malloc(n + 1), *ct = malloc(n + 1), *back = malloc(n + 1);
        uint8_t nonce[12], aad[40], tag[16];
        assert_true(pt != NULL && ct != NULL && back != NULL);
        for (size_t j = 0; j < n; j++) {
            pt[j] = (uint8_t)(j * 7 + i);
        }
        memset(nonce, (int)i, sizeof(nonce));
        memset(aad, 0x5a, sizeof(aad));
        size_t aad_len = i % 2 ? sizeof(aad) : 0;
        expect_ok(ks->ops->seal(k, nonce, aad, aad_len, pt, n, ct, tag));
        if (n >= 16) {
            assert_memory_not_equal(ct, pt, n);
        }
        expect_ok(ks->ops->open(k, nonce, aad, aad_len, ct, n, tag, back));
        expect_bytes_eq(back, pt, n);
        free(pt);
        free(ct);
        free(back);
    }
    /* A reference that is not this key's CKA_ID. */
    struct kms_keystore_key *other = NULL;
    expect_err(ks->ops->load(ks, ring_a, 2, ref, ref_len, &other), KMS_ERR_KEYRING_MAC);
    expect_err(ks->ops->load(ks, ring_a, 1, ref, 19, &other), KMS_ERR_KEYRING_MAC);
    assert_null(other);
    ks->ops->unload(k);
    ks->ops->unload(NULL);
    expect_ok(ks->ops->destroy(ks, ring_a, 1, ref, ref_len));
    ks_close(ks);
}

static void open_refuses_any_flipped_bit(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX];
    size_t ref_len;
    struct kms_keystore_key *k;
    expect_ok(ks->ops->generate(ks, ring_a, 2, ref, &ref_len));
    expect_ok(ks->ops->load(ks, ring_a, 2, ref, ref_len, &k));
    uint8_t nonce[12], aad[24], pt[200], ct[200], tag[16], back[200];
    for (size_t i = 0; i < sizeof(pt); i++) {
        pt[i] = (uint8_t)i;
    }
    memset(nonce, 0x11, sizeof(nonce));
    memset(aad, 0x22, sizeof(aad));
    expect_ok(ks->ops->seal(k, nonce, aad, sizeof(aad), pt, sizeof(pt), ct, tag));
    struct {
        uint8_t *p;
        size_t n;
    } parts[] = {{ct, sizeof(ct)}, {tag, sizeof(tag)}, {nonce, sizeof(nonce)}, {aad, sizeof(aad)}};
    for (size_t w = 0; w < 4; w++) {
        /* first, a middle and the last bit of each input */
        size_t bits[] = {0, parts[w].n * 4 + 3, parts[w].n * 8 - 1};
        for (size_t b = 0; b < 3; b++) {
            parts[w].p[bits[b] / 8] ^= (uint8_t)(1u << (bits[b] % 8));
            memset(back, 0xee, sizeof(back));
            expect_err(ks->ops->open(k, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, back),
                       KMS_ERR_TICKET_TAG);
            uint8_t zero[200] = {0};
            expect_bytes_eq(back, zero, sizeof(back)); /* wiped */
            parts[w].p[bits[b] / 8] ^= (uint8_t)(1u << (bits[b] % 8));
        }
    }
    /* AAD dropped, ciphertext truncated: also a tag failure. Then the session still works. */
    expect_err(ks->ops->open(k, nonce, NULL, 0, ct, sizeof(ct), tag, back), KMS_ERR_TICKET_TAG);
    expect_err(ks->ops->open(k, nonce, aad, sizeof(aad), ct, sizeof(ct) - 1, tag, back),
               KMS_ERR_TICKET_TAG);
    expect_ok(ks->ops->open(k, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, back));
    expect_bytes_eq(back, pt, sizeof(pt));
    ks->ops->unload(k);
    expect_ok(ks->ops->destroy(ks, ring_a, 2, ref, ref_len));
    ks_close(ks);
}

/* The Access line of pkcs11-tool's listing for the object with this CKA_ID (OpenSC prints
 * "sensitive, always sensitive, never extractable, local" and "extractable" when it is). */
static void pkcs11_tool_access(const uint8_t id[20], char *access, size_t cap)
{
    char cmd[512], line[512], want[64];
    for (size_t i = 0; i < 20; i++) {
        snprintf(want + 2 * i, 3, "%02x", id[i]);
    }
    /* The throwaway test PIN on argv: pkcs11-tool takes it no other way. */
    snprintf(cmd, sizeof(cmd),
             "pkcs11-tool --module '%s' --token-label " TEST_LABEL " --login --pin " TEST_PIN
             " --list-objects --type secrkey 2>/dev/null",
             hsm_module());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    bool in_obj = false;
    access[0] = '\0';
    while (fgets(line, sizeof(line), p) != NULL) {
        char *v = line + strspn(line, " ");
        if (strncmp(v, "ID:", 3) == 0) {
            v += 3;
            v += strspn(v, " ");
            in_obj = strncmp(v, want, 40) == 0 && (v[40] == '\n' || v[40] == '\0');
        } else if (in_obj && strncmp(v, "Access:", 7) == 0) {
            v += 7;
            v += strspn(v, " ");
            v[strcspn(v, "\n")] = '\0';
            snprintf(access, cap, "%s", v);
            in_obj = false;
        }
    }
    assert_int_equal(pclose(p), 0);
}

static bool has_word(const char *list, const char *w)
{
    /* comma-separated, exact entries */
    size_t n = strlen(w);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, w, n) == 0) {
            return true;
        }
        p += len;
        p += strspn(p, ", ");
    }
    return false;
}

static void generated_key_is_sensitive_and_never_extractable(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX], id[20];
    size_t ref_len;
    expect_ok(ks->ops->generate(ks, ring_a, 3, ref, &ref_len));
    make_id(ring_a, 3, id);

    /* Through PKCS#11 from the test. */
    struct tp11 t;
    CK_OBJECT_HANDLE h[4];
    tp11_open(&t);
    assert_int_equal(tp11_find(&t, id, h, 4), 1);
    CK_BBOOL sens = 0, ext = 1, never = 0, always = 0, tok = 0, priv = 0, wrap = 1, unwrap = 1;
    CK_BBOOL enc = 0, dec = 0;
    CK_ULONG vlen = 0;
    CK_KEY_TYPE kt = 0;
    char label[80] = {0};
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, 1},
        {CKA_EXTRACTABLE, &ext, 1},
        {CKA_NEVER_EXTRACTABLE, &never, 1},
        {CKA_ALWAYS_SENSITIVE, &always, 1},
        {CKA_TOKEN, &tok, 1},
        {CKA_PRIVATE, &priv, 1},
        {CKA_WRAP, &wrap, 1},
        {CKA_UNWRAP, &unwrap, 1},
        {CKA_ENCRYPT, &enc, 1},
        {CKA_DECRYPT, &dec, 1},
        {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, label, sizeof(label) - 1},
    };
    assert_int_equal(t.f->C_GetAttributeValue(t.s, h[0], a, sizeof(a) / sizeof(a[0])), CKR_OK);
    assert_true(sens && !ext && never && always && tok && priv && !wrap && !unwrap && enc && dec);
    assert_int_equal(vlen, 32);
    assert_int_equal(kt, CKK_AES);
    assert_string_equal(label, "imskms-kkms-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf-3");
    /* the value does not come out */
    uint8_t value[32];
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
    assert_int_equal(t.f->C_GetAttributeValue(t.s, h[0], &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    tp11_close(&t);

    /* Through OpenSC's pkcs11-tool, a separate process and an independent reader. */
    char access[256];
    pkcs11_tool_access(id, access, sizeof(access));
    assert_true(has_word(access, "sensitive"));
    assert_true(has_word(access, "always sensitive"));
    assert_true(has_word(access, "never extractable"));
    assert_false(has_word(access, "extractable"));

    expect_ok(ks->ops->destroy(ks, ring_a, 3, ref, ref_len));
    ks_close(ks);
}

static void destroy_then_load_is_not_found(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX];
    size_t ref_len;
    struct kms_keystore_key *k = NULL;
    expect_ok(ks->ops->generate(ks, ring_a, 4, ref, &ref_len));
    assert_int_equal(count_objects(ring_a, 4), 1);
    expect_ok(ks->ops->destroy(ks, ring_a, 4, ref, ref_len));
    assert_int_equal(count_objects(ring_a, 4), 0);
    expect_err(ks->ops->load(ks, ring_a, 4, ref, ref_len, &k), KMS_ERR_NOT_FOUND);
    assert_null(k);
    /* gone already: still success */
    expect_ok(ks->ops->destroy(ks, ring_a, 4, ref, ref_len));
    /* a wrong reference destroys nothing */
    expect_ok(ks->ops->generate(ks, ring_a, 5, ref, &ref_len));
    expect_err(ks->ops->destroy(ks, ring_a, 6, ref, ref_len), KMS_ERR_KEYRING_MAC);
    assert_int_equal(count_objects(ring_a, 5), 1);
    expect_ok(ks->ops->destroy(ks, ring_a, 5, ref, ref_len));
    ks_close(ks);
}

static void generate_twice_leaves_one_object(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX], nonce[12] = {1}, pt[32] = {2}, ct[32], tag[16], back[32];
    size_t ref_len;
    struct kms_keystore_key *k;
    expect_ok(ks->ops->generate(ks, ring_a, 7, ref, &ref_len));
    expect_ok(ks->ops->load(ks, ring_a, 7, ref, ref_len, &k));
    expect_ok(ks->ops->seal(k, nonce, NULL, 0, pt, sizeof(pt), ct, tag));
    ks->ops->unload(k);
    expect_ok(ks->ops->generate(ks, ring_a, 7, ref, &ref_len));
    assert_int_equal(count_objects(ring_a, 7), 1);
    /* It is a new key: the old ticket no longer opens. */
    expect_ok(ks->ops->load(ks, ring_a, 7, ref, ref_len, &k));
    expect_err(ks->ops->open(k, nonce, NULL, 0, ct, sizeof(ct), tag, back), KMS_ERR_TICKET_TAG);
    ks->ops->unload(k);
    expect_ok(ks->ops->destroy(ks, ring_a, 7, ref, ref_len));
    ks_close(ks);
}

static void sweep_destroys_only_unkept_keys_of_the_ring(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX];
    size_t ref_len, gone = 99;
    static const uint32_t ids[] = {10, 11, 12, 13, 0xfffffffe};
    for (size_t i = 0; i < 5; i++) {
        expect_ok(ks->ops->generate(ks, ring_a, ids[i], ref, &ref_len));
        expect_ok(ks->ops->generate(ks, ring_b, ids[i], ref, &ref_len));
    }
    /* An object of ours the keyring never recorded (imported here) goes; a key of another
     * application whose CKA_ID starts with the ring id but has another length stays. */
    uint8_t key[32] = {0}, foreign[21];
    tp11_import(ring_a, 1000, key);
    memcpy(foreign, ring_a, 16);
    memset(foreign + 16, 0, 5);
    tp11_import_id(foreign, sizeof(foreign), key);
    tp11_import_id(ring_a, 16, key);
    static const uint32_t keep[] = {11, 13, 12345};
    expect_ok(ks->ops->sweep(ks, ring_a, keep, 3, &gone));
    assert_int_equal(gone, 4); /* 10, 12, 0xfffffffe, 1000 */
    assert_int_equal(count_objects(ring_a, 10), 0);
    assert_int_equal(count_objects(ring_a, 11), 1);
    assert_int_equal(count_objects(ring_a, 12), 0);
    assert_int_equal(count_objects(ring_a, 13), 1);
    assert_int_equal(count_objects(ring_a, 0xfffffffe), 0);
    assert_int_equal(count_objects(ring_a, 1000), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(count_objects(ring_b, ids[i]), 1);
    }
    /* Nothing left to sweep; NULL count allowed; keep nothing clears the ring. */
    expect_ok(ks->ops->sweep(ks, ring_a, keep, 3, &gone));
    assert_int_equal(gone, 0);
    expect_ok(ks->ops->sweep(ks, ring_a, keep, 3, NULL));
    expect_ok(ks->ops->sweep(ks, ring_a, NULL, 0, &gone));
    assert_int_equal(gone, 2);
    expect_ok(ks->ops->sweep(ks, ring_b, NULL, 0, &gone));
    assert_int_equal(gone, 5);
    assert_int_equal(tp11_destroy_id(foreign, sizeof(foreign)), 1);
    assert_int_equal(tp11_destroy_id(ring_a, 16), 1);
    ks_close(ks);
}

struct worker {
    struct kms_keystore *ks;
    struct kms_keystore_key *k;
    unsigned id;
    unsigned ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < 1000; i++) {
        uint8_t nonce[12] = {0}, pt[64], ct[64], tag[16], back[64];
        nonce[0] = (uint8_t)w->id;
        nonce[8] = (uint8_t)(i >> 24);
        nonce[9] = (uint8_t)(i >> 16);
        nonce[10] = (uint8_t)(i >> 8);
        nonce[11] = (uint8_t)i;
        memset(pt, (int)(w->id + i), sizeof(pt));
        if (!kms_ok(w->ks->ops->seal(w->k, nonce, nonce, 12, pt, sizeof(pt), ct, tag)) ||
            !kms_ok(w->ks->ops->open(w->k, nonce, nonce, 12, ct, sizeof(ct), tag, back)) ||
            memcmp(back, pt, sizeof(pt)) != 0) {
            break;
        }
        w->ok++;
    }
    return NULL;
}

static void two_threads_seal_and_open_at_once(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX];
    size_t ref_len;
    struct kms_keystore_key *k;
    expect_ok(ks->ops->generate(ks, ring_a, 20, ref, &ref_len));
    expect_ok(ks->ops->load(ks, ring_a, 20, ref, ref_len, &k));
    struct worker w[2] = {{ks, k, 1, 0}, {ks, k, 2, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
    }
    assert_int_equal(w[0].ok, 1000);
    assert_int_equal(w[1].ok, 1000);
    ks->ops->unload(k);
    expect_ok(ks->ops->destroy(ks, ring_a, 20, ref, ref_len));
    ks_close(ks);
}

static void openssl_gcm(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                        size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0;
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_len), 1);
    assert_int_equal(EVP_EncryptUpdate(c, ct, &len, pt, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, ct + len, &len), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(c);
}

/* The token's GCM is real AES-256-GCM: a key of known value imported under the keystore's
 * CKA_ID layout seals exactly what OpenSSL computes, and the GCM specification's test case 16
 * (McGrew and Viega, "The Galois/Counter Mode of Operation", appendix B) comes out. */
static void token_gcm_matches_openssl_and_test_case_16(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t key[32], iv[12], pt[60], aad[20], want_ct[60], want_tag[16];
    th_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
    th_hex("cafebabefacedbaddecaf888", iv, 12);
    th_hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
           "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
           pt, 60);
    th_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
    th_hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
           "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
           want_ct, 60);
    th_hex("76fc6ece0f4e1768cddf8853bb2d551b", want_tag, 16);

    /* The published values hold for OpenSSL too (so neither side is checked only by us). */
    uint8_t ossl_ct[60], ossl_tag[16];
    openssl_gcm(key, iv, aad, sizeof(aad), pt, sizeof(pt), ossl_ct, ossl_tag);
    expect_bytes_eq(ossl_ct, want_ct, 60);
    expect_bytes_eq(ossl_tag, want_tag, 16);

    tp11_import(ring_a, 30, key);
    uint8_t ref[20], ct[60], tag[16], back[60];
    make_id(ring_a, 30, ref);
    struct kms_keystore_key *k;
    expect_ok(ks->ops->load(ks, ring_a, 30, ref, sizeof(ref), &k));
    expect_ok(ks->ops->seal(k, iv, aad, sizeof(aad), pt, sizeof(pt), ct, tag));
    expect_bytes_eq(ct, want_ct, 60);
    expect_bytes_eq(tag, want_tag, 16);
    expect_ok(ks->ops->open(k, iv, aad, sizeof(aad), ct, sizeof(ct), tag, back));
    expect_bytes_eq(back, pt, 60);

    /* Other sizes against OpenSSL, including what OpenSSL sealed opening in the token. */
    static const size_t sizes[] = {0, 1, 16, 200, 1000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *p = calloc(1, n + 1), *c1 = calloc(1, n + 1), *c2 = calloc(1, n + 1);
        uint8_t *b = calloc(1, n + 1), t1[16], t2[16], nonce[12];
        assert_true(p && c1 && c2 && b);
        for (size_t j = 0; j < n; j++) {
            p[j] = (uint8_t)(j ^ 0x3c);
        }
        memset(nonce, (int)(0x40 + i), sizeof(nonce));
        expect_ok(ks->ops->seal(k, nonce, aad, i, p, n, c1, t1));
        openssl_gcm(key, nonce, aad, i, p, n, c2, t2);
        expect_bytes_eq(c1, c2, n);
        expect_bytes_eq(t1, t2, 16);
        expect_ok(ks->ops->open(k, nonce, aad, i, c2, n, t2, b));
        expect_bytes_eq(b, p, n);
        free(p);
        free(c1);
        free(c2);
        free(b);
    }
    ks->ops->unload(k);
    expect_ok(ks->ops->destroy(ks, ring_a, 30, ref, sizeof(ref)));
    ks_close(ks);
}

static void file_mac_is_sha256(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t out[32], want[32];
    /* Format 1 (read only to migrate): FIPS 180-2 appendix B.1: SHA-256("abc") */
    th_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    expect_ok(ks->ops->file_mac(ks, ring_a, 1, (const uint8_t *)"abc", 3, out));
    expect_bytes_eq(out, want, 32);
    ks_close(ks);
}

/* The MAC key of a ring's files (format 2): made by ring_init, a sensitive, non-extractable
 * sign/verify key; file_mac is HMAC-SHA-256 under it, shown by a key of known value in its
 * place against RFC 4231 test case 6 (SoftHSM refuses HMAC keys under 32 bytes, so not the
 * shorter keys of cases 1-4). */
static void file_mac_is_hmac_under_a_token_key(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t out[32], out2[32], want[32];
    static const char msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    const uint8_t *m = (const uint8_t *)msg;
    const size_t mlen = sizeof(msg) - 1;
    uint8_t key6[131];
    memset(key6, 0xaa, sizeof(key6));
    expect_err(ks->ops->file_mac(ks, ring_b, 2, m, mlen, out), KMS_ERR_KEYRING_ANCHOR);
    expect_ok(ks->ops->ring_init(ks, ring_b));
    expect_ok(ks->ops->file_mac(ks, ring_b, 2, m, mlen, out));
    expect_ok(ks->ops->file_mac(ks, ring_b, 2, m, mlen, out2));
    expect_bytes_eq(out, out2, 32);
    /* a second ring_init replaces the key: the MAC changes */
    expect_ok(ks->ops->ring_init(ks, ring_b));
    expect_ok(ks->ops->file_mac(ks, ring_b, 2, m, mlen, out2));
    assert_memory_not_equal(out, out2, 32);

    uint8_t id[12 + KMS_RING_ID_LEN];
    memcpy(id, "imskms-krmac", 12);
    memcpy(id + 12, ring_b, KMS_RING_ID_LEN);
    struct tp11 t;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, sizeof(id)}};
    CK_OBJECT_HANDLE h[4];
    CK_ULONG n = 0;
    tp11_open(&t);
    assert_int_equal(t.f->C_FindObjectsInit(t.s, find, 2), CKR_OK);
    assert_int_equal(t.f->C_FindObjects(t.s, h, 4, &n), CKR_OK);
    assert_int_equal(t.f->C_FindObjectsFinal(t.s), CKR_OK);
    assert_int_equal(n, 1);
    CK_BBOOL sens = 0, ext = 1, sign = 0, verify = 0, enc = 1, tok = 0, priv = 0;
    CK_KEY_TYPE got_kt = 0;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, 1}, {CKA_EXTRACTABLE, &ext, 1},
        {CKA_SIGN, &sign, 1},      {CKA_VERIFY, &verify, 1},
        {CKA_ENCRYPT, &enc, 1},    {CKA_TOKEN, &tok, 1},
        {CKA_PRIVATE, &priv, 1},   {CKA_KEY_TYPE, &got_kt, sizeof(got_kt)},
    };
    assert_int_equal(t.f->C_GetAttributeValue(t.s, h[0], a, sizeof(a) / sizeof(a[0])), CKR_OK);
    assert_true(sens && !ext && sign && verify && !enc && tok && priv);
    assert_int_equal(got_kt, CKK_GENERIC_SECRET);
    uint8_t value[32];
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
    assert_int_equal(t.f->C_GetAttributeValue(t.s, h[0], &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    /* Replace it by the key of RFC 4231 test case 6, with the same attributes. */
    assert_int_equal(t.f->C_DestroyObject(t.s, h[0]), CKR_OK);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE, key6, sizeof(key6)},    {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},   {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)}, {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},    {CKA_ID, id, sizeof(id)},
    };
    CK_OBJECT_HANDLE obj;
    assert_int_equal(t.f->C_CreateObject(t.s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj), CKR_OK);
    tp11_close(&t);
    th_hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want, 32);
    expect_ok(ks->ops->file_mac(ks, ring_b, 2, m, mlen, out));
    expect_bytes_eq(out, want, 32);
    ks_close(ks);
}

/* The anchor object: absent, created, replaced, read back; one per ring. */
static void anchor_object_round_trip(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t rec[KMS_ANCHOR_MAX];
    size_t n = 0;
    expect_err(ks->ops->anchor_get(ks, "unused", ring_a, rec, sizeof(rec), &n), KMS_ERR_NOT_FOUND);
    expect_ok(ks->ops->anchor_put(ks, "unused", ring_a, (const uint8_t *)"first", 5));
    expect_ok(ks->ops->anchor_put(ks, "unused", ring_b, (const uint8_t *)"other ring", 10));
    expect_ok(ks->ops->anchor_get(ks, "unused", ring_a, rec, sizeof(rec), &n));
    assert_int_equal(n, 5);
    assert_memory_equal(rec, "first", 5);
    expect_ok(ks->ops->anchor_put(ks, "unused", ring_a, (const uint8_t *)"second one", 10));
    expect_ok(ks->ops->anchor_get(ks, "unused", ring_a, rec, sizeof(rec), &n));
    assert_int_equal(n, 10);
    assert_memory_equal(rec, "second one", 10);
    expect_ok(ks->ops->anchor_get(ks, "unused", ring_b, rec, sizeof(rec), &n));
    assert_memory_equal(rec, "other ring", 10);
    expect_err(ks->ops->anchor_get(ks, "unused", ring_a, rec, 4, &n), KMS_ERR_KEYRING_ANCHOR);
    ks_close(ks);
}

/* Throughput of seal+open of a 200-byte ticket through the token: printed, never asserted. */
static void report_seal_open_rate(void **state)
{
    (void)state;
    struct kms_keystore *ks = ks_open();
    uint8_t ref[KMS_KEYREF_MAX], nonce[12] = {0}, aad[32] = {0}, pt[200] = {0}, ct[200];
    uint8_t tag[16];
    size_t ref_len;
    struct kms_keystore_key *k;
    expect_ok(ks->ops->generate(ks, ring_a, 40, ref, &ref_len));
    expect_ok(ks->ops->load(ks, ring_a, 40, ref, ref_len, &k));
    struct timespec t0, t1;
    const unsigned n = 2000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < n; i++) {
        nonce[11] = (uint8_t)i;
        nonce[10] = (uint8_t)(i >> 8);
        expect_ok(ks->ops->seal(k, nonce, aad, sizeof(aad), pt, sizeof(pt), ct, tag));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seal_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < n; i++) {
        expect_ok(ks->ops->open(k, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, pt));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double open_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("softhsm2 AES-256-GCM, 200-byte plaintext, one thread: seal %.0f ops/s, "
                  "open %.0f ops/s\n",
                  n / seal_s, n / open_s);
    ks->ops->unload(k);
    expect_ok(ks->ops->destroy(ks, ring_a, 40, ref, ref_len));
    ks_close(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_accepts_documented_forms),
        cmocka_unit_test(uri_refuses_bad_forms),
        cmocka_unit_test(uri_pin_source_reads_the_file),
        cmocka_unit_test(open_refuses_wrong_pin_token_or_module),
        cmocka_unit_test(seal_open_round_trip),
        cmocka_unit_test(open_refuses_any_flipped_bit),
        cmocka_unit_test(generated_key_is_sensitive_and_never_extractable),
        cmocka_unit_test(destroy_then_load_is_not_found),
        cmocka_unit_test(generate_twice_leaves_one_object),
        cmocka_unit_test(sweep_destroys_only_unkept_keys_of_the_ring),
        cmocka_unit_test(two_threads_seal_and_open_at_once),
        cmocka_unit_test(token_gcm_matches_openssl_and_test_case_16),
        cmocka_unit_test(file_mac_is_sha256),
        cmocka_unit_test(file_mac_is_hmac_under_a_token_key),
        cmocka_unit_test(anchor_object_round_trip),
        cmocka_unit_test(report_seal_open_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

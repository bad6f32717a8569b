/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 keystore: every Kkms is a non-extractable CKK_AES object generated in the token
 * and AES-256-GCM runs there (CKM_AES_GCM). The library holds object handles, never key bytes.
 *
 * Objects: CKA_ID = ring_id (16) || key_id (4, big-endian), which is also the reference the
 * keyring stores, so sweep() can recognise the objects of one keyring after a crash.
 *
 * Threads: one R/W session per keystore, used under ks->lock (a PKCS#11 session runs one
 * operation at a time, and a GCM encryption is Init+Encrypt with its own IV, so each call
 * needs the session for both steps).
 *
 * Modules: a process may open several keystores on one module; dlopen hands back the same
 * library, and C_Initialize/C_Finalize and the login state belong to the process, not to a
 * keystore. A small refcounted table therefore initialises each module once and finalises it
 * (after C_Logout) when its last keystore closes. Finalising explicitly matters beyond
 * tidiness: SoftHSM 2.6 on OpenSSL 3 is reported to crash in its exit-time destructors when
 * the module is left initialised (not reproduced with Debian 12's 2.6.1-2.1, which exits
 * cleanly either way; we finalise regardless).
 */
#include "keyring/kms_keystore.h"

#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "keyring/kms_p11_uri.h"
#include "util/kms_mem.h"

#define P11_ID_LEN     (KMS_RING_ID_LEN + 4)
#define P11_STACK_BUF  512     /* GCM in/out below this size stays on the stack */
#define P11_FIND_BATCH 64      /* handles fetched per C_FindObjects call */
#define P11_FIND_MAX   1000000 /* more secret keys than this on one token: refuse to sweep */
#define P11_LABEL_MAX  64

/* PKCS#11 3.0 code; p11-kit 0.24 does not name it. */
#ifndef CKR_AEAD_DECRYPT_FAILED
#define CKR_AEAD_DECRYPT_FAILED 0x00000035UL
#endif

_Static_assert(sizeof(CK_ULONG) >= sizeof(size_t), "CK_ULONG holds every size_t");
_Static_assert(P11_ID_LEN <= KMS_KEYREF_MAX, "the CKA_ID is the reference");

struct p11_module {
    struct p11_module *next;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    unsigned refs;
    bool owned; /* we ran C_Initialize, so we run C_Finalize */
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *modules;

struct p11_ks {
    struct kms_keystore base; /* first: the ops table */
    struct p11_module *mod;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE session;
    bool have_session;
    pthread_mutex_t lock;
};

struct kms_keystore_key {
    struct p11_ks *ks;
    CK_OBJECT_HANDLE obj;
};

static const struct kms_keystore_ops p11_ops;

#define P11_OK(call)  KMS_ENSURE((call) == CKR_OK, KMS_ERR_HSM)
#define P11_OUT(call) KMS_ENSURE_OUT(rc, (call) == CKR_OK, KMS_ERR_HSM)

/* The PKCS#11 prototypes take non-const pointers for inputs the module only reads. */
static CK_BYTE_PTR s_unconst(const uint8_t *p)
{
    return (CK_BYTE_PTR)(uintptr_t)p;
}

static void s_make_id(const uint8_t ring_id[KMS_RING_ID_LEN], uint32_t key_id,
                      uint8_t id[P11_ID_LEN])
{
    memcpy(id, ring_id, KMS_RING_ID_LEN);
    id[16] = (uint8_t)(key_id >> 24);
    id[17] = (uint8_t)(key_id >> 16);
    id[18] = (uint8_t)(key_id >> 8);
    id[19] = (uint8_t)key_id;
}

/* The reference handed back must be the CKA_ID of (ring_id, key_id): a keyring entry whose
 * reference names another key is as bad as a wrapped key that does not unwrap. */
static kms_result s_check_ref(const uint8_t id[P11_ID_LEN], const uint8_t *ref, size_t ref_len)
{
    KMS_ENSURE(ref != NULL, KMS_ERR_ARG);
    KMS_ENSURE(ref_len == P11_ID_LEN && memcmp(ref, id, P11_ID_LEN) == 0, KMS_ERR_KEYRING_MAC);
    return KMS_RESULT_OK;
}

/* ---- modules ---------------------------------------------------------------------------- */

static kms_result s_module_load(const char *path, void **dl, CK_FUNCTION_LIST_PTR *f)
{
    CK_C_GetFunctionList get = NULL;
    *f = NULL;
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    KMS_ENSURE(*dl != NULL, KMS_ERR_HSM_MODULE);
    void *sym = dlsym(*dl, "C_GetFunctionList");
    if (sym != NULL) {
        /* POSIX guarantees a data pointer from dlsym converts to a function pointer. */
        _Static_assert(sizeof(get) == sizeof(sym), "function and data pointers differ");
        memcpy(&get, &sym, sizeof(get));
    }
    if (get == NULL || get(f) != CKR_OK || *f == NULL) {
        (void)dlclose(*dl);
        *dl = NULL;
        *f = NULL;
        KMS_BAIL(KMS_ERR_HSM_MODULE);
    }
    return KMS_RESULT_OK;
}

/* Takes a reference on the module at path, initialising it on first use. */
static kms_result s_module_get(const char *path, struct p11_module **out)
{
    kms_result rc = KMS_RC_INIT;
    void *dl = NULL;
    CK_FUNCTION_LIST_PTR f = NULL;
    struct p11_module *m = NULL;
    *out = NULL;
    (void)pthread_mutex_lock(&modules_lock);
    KMS_TRY_OUT(rc, s_module_load(path, &dl, &f));
    for (m = modules; m != NULL; m = m->next) {
        if (m->dl == dl) {
            break;
        }
    }
    if (m != NULL) {
        (void)dlclose(dl); /* the table holds its own dlopen reference */
        dl = NULL;
        m->refs++;
        *out = m;
        m = NULL; /* not ours to free at out */
        rc = KMS_RESULT_OK;
        goto out;
    }
    m = calloc(1, sizeof(*m));
    KMS_ENSURE_OUT(rc, m != NULL, KMS_ERR_NOMEM);
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv = f->C_Initialize(&args);
    /* Someone else in this process initialised it (another PKCS#11 user): share it, leave
     * finalising to them. */
    KMS_ENSURE_OUT(rc, rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED, KMS_ERR_HSM);
    m->owned = rv == CKR_OK;
    m->dl = dl;
    m->f = f;
    m->refs = 1;
    m->next = modules;
    modules = m;
    *out = m;
    m = NULL;
    dl = NULL;
    rc = KMS_RESULT_OK;
out:
    free(m);
    if (dl != NULL) {
        (void)dlclose(dl);
    }
    (void)pthread_mutex_unlock(&modules_lock);
    return rc;
}

/* Drops a reference; the last one logs out (when logout is set), finalises and unloads. */
static void s_module_put(struct p11_module *m, CK_SESSION_HANDLE session, bool have_session)
{
    (void)pthread_mutex_lock(&modules_lock);
    bool last = --m->refs == 0;
    if (have_session) {
        /* Login state is shared by every session of the process on the token: log out only
         * when no other keystore of this process can be using it. */
        if (last) {
            (void)m->f->C_Logout(session);
        }
        (void)m->f->C_CloseSession(session);
    }
    if (last) {
        for (struct p11_module **pp = &modules; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == m) {
                *pp = m->next;
                break;
            }
        }
        if (m->owned) {
            (void)m->f->C_Finalize(NULL);
        }
        (void)dlclose(m->dl);
        kms_wipe(m, sizeof(*m));
        free(m);
    }
    (void)pthread_mutex_unlock(&modules_lock);
}

/* ---- open and close ----------------------------------------------------------------------- */

static bool s_token_matches(const struct kms_p11_uri *u, const CK_TOKEN_INFO *ti)
{
    return (ti->flags & CKF_TOKEN_INITIALIZED) != 0 &&
           kms_p11_field_match(&u->token, ti->label, sizeof(ti->label)) &&
           kms_p11_field_match(&u->serial, ti->serialNumber, sizeof(ti->serialNumber)) &&
           kms_p11_field_match(&u->manufacturer, ti->manufacturerID, sizeof(ti->manufacturerID)) &&
           kms_p11_field_match(&u->model, ti->model, sizeof(ti->model));
}

/* The one slot whose token matches the URI; two matches are refused as ambiguous. */
static kms_result s_find_slot(CK_FUNCTION_LIST_PTR f, const struct kms_p11_uri *u, CK_SLOT_ID *slot)
{
    kms_result rc = KMS_RC_INIT;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_RV rv = CKR_BUFFER_TOO_SMALL;
    /* The slot count can change between the two calls (hot-plug): retry a few times. */
    for (int tries = 0; tries < 4 && rv == CKR_BUFFER_TOO_SMALL; tries++) {
        free(slots);
        slots = NULL;
        P11_OUT(f->C_GetSlotList(CK_TRUE, NULL, &n));
        KMS_ENSURE_OUT(rc, n > 0, KMS_ERR_HSM);
        KMS_ENSURE_OUT(rc, n <= 4096, KMS_ERR_HSM);
        slots = calloc(n, sizeof(*slots));
        KMS_ENSURE_OUT(rc, slots != NULL, KMS_ERR_NOMEM);
        rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    }
    KMS_ENSURE_OUT(rc, rv == CKR_OK, KMS_ERR_HSM);
    size_t found = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && s_token_matches(u, &ti)) {
            *slot = slots[i];
            found++;
        }
    }
    KMS_ENSURE_OUT(rc, found == 1, KMS_ERR_HSM_TOKEN);
    rc = KMS_RESULT_OK;
out:
    free(slots);
    return rc;
}

static kms_result s_login(struct p11_ks *ks, const struct kms_p11_uri *u)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_secret *pin = NULL;
    size_t pin_len = 0;
    KMS_TRY_OUT(rc, kms_p11_uri_pin(u, &pin, &pin_len));
    CK_RV rv = ks->f->C_Login(ks->session, CKU_USER, pin->d, pin_len);
    KMS_ENSURE_OUT(rc, rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN,
                   rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_INVALID ||
                           rv == CKR_PIN_LEN_RANGE
                       ? KMS_ERR_HSM_LOGIN
                       : KMS_ERR_HSM);
    rc = KMS_RESULT_OK;
out:
    kms_secret_free(pin);
    return rc;
}

static void p11_close(struct kms_keystore *base)
{
    if (base == NULL) {
        return;
    }
    struct p11_ks *ks = (struct p11_ks *)base;
    if (ks->mod != NULL) {
        s_module_put(ks->mod, ks->session, ks->have_session);
    }
    (void)pthread_mutex_destroy(&ks->lock);
    kms_wipe(ks, sizeof(*ks));
    free(ks);
}

kms_result kms_keystore_p11_open(const char *uri, struct kms_keystore **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_p11_uri *u = NULL;
    struct p11_ks *ks = NULL;
    KMS_ENSURE_REF(out);
    *out = NULL;
    /* The parsed URI is 8 KiB of paths: keep it off the stack. */
    u = calloc(1, sizeof(*u));
    KMS_ENSURE_OUT(rc, u != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_p11_uri_parse(uri, u));
    ks = calloc(1, sizeof(*ks));
    KMS_ENSURE_OUT(rc, ks != NULL, KMS_ERR_NOMEM);
    ks->base.ops = &p11_ops;
    if (pthread_mutex_init(&ks->lock, NULL) != 0) {
        free(ks);
        ks = NULL;
        KMS_BAIL_OUT(rc, KMS_ERR_INTERNAL);
    }
    KMS_TRY_OUT(rc, s_module_get(u->module_path, &ks->mod));
    ks->f = ks->mod->f;
    CK_SLOT_ID slot = 0;
    KMS_TRY_OUT(rc, s_find_slot(ks->f, u, &slot));
    P11_OUT(
        ks->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &ks->session));
    ks->have_session = true;
    KMS_TRY_OUT(rc, s_login(ks, u));
    *out = &ks->base;
    ks = NULL;
    rc = KMS_RESULT_OK;
out:
    p11_close(ks != NULL ? &ks->base : NULL);
    if (u != NULL) {
        kms_p11_uri_cleanup(u);
        free(u);
    }
    return rc;
}

/* ---- objects ------------------------------------------------------------------------------ */

static const CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY;
static const CK_KEY_TYPE type_aes = CKK_AES;

static CK_ATTRIBUTE s_attr(CK_ATTRIBUTE_TYPE t, const void *p, size_t n)
{
    return (CK_ATTRIBUTE){t, (void *)(uintptr_t)p, n};
}

/* Every AES secret key with CKA_ID = id (or every secret key when id is NULL), appended to
 * a heap array. The find operation is always finalised before returning, so the caller may
 * destroy what was found. Called with ks->lock held. */
static kms_result s_find(struct p11_ks *ks, const uint8_t *id, CK_OBJECT_HANDLE **out,
                         size_t *n_out)
{
    kms_result rc = KMS_RC_INIT;
    CK_OBJECT_HANDLE *h = NULL, batch[P11_FIND_BATCH];
    size_t n = 0, cap = 0;
    bool active = false;
    *out = NULL;
    *n_out = 0;
    CK_ATTRIBUTE tmpl[] = {
        s_attr(CKA_CLASS, &cls_secret, sizeof(cls_secret)),
        s_attr(CKA_KEY_TYPE, &type_aes, sizeof(type_aes)),
        s_attr(CKA_ID, id, P11_ID_LEN),
    };
    P11_OUT(ks->f->C_FindObjectsInit(ks->session, tmpl, id != NULL ? 3 : 2));
    active = true;
    for (;;) {
        CK_ULONG got = 0;
        P11_OUT(ks->f->C_FindObjects(ks->session, batch, P11_FIND_BATCH, &got));
        if (got == 0) {
            break;
        }
        KMS_ENSURE_OUT(rc, got <= P11_FIND_BATCH && n + got <= P11_FIND_MAX, KMS_ERR_HSM);
        if (n + got > cap) {
            size_t ncap = cap == 0 ? P11_FIND_BATCH : cap * 2;
            CK_OBJECT_HANDLE *nh = realloc(h, ncap * sizeof(*h));
            KMS_ENSURE_OUT(rc, nh != NULL, KMS_ERR_NOMEM);
            h = nh;
            cap = ncap;
        }
        memcpy(h + n, batch, got * sizeof(*batch));
        n += got;
    }
    active = false;
    P11_OUT(ks->f->C_FindObjectsFinal(ks->session));
    *out = h;
    *n_out = n;
    h = NULL;
    rc = KMS_RESULT_OK;
out:
    if (active) {
        (void)ks->f->C_FindObjectsFinal(ks->session);
    }
    free(h);
    return rc;
}

/* Destroys every AES key with CKA_ID = id. Called with ks->lock held. */
static kms_result s_destroy_id(struct p11_ks *ks, const uint8_t id[P11_ID_LEN])
{
    kms_result rc = KMS_RC_INIT;
    CK_OBJECT_HANDLE *h = NULL;
    size_t n = 0;
    KMS_TRY_OUT(rc, s_find(ks, id, &h, &n));
    for (size_t i = 0; i < n; i++) {
        CK_RV rv = ks->f->C_DestroyObject(ks->session, h[i]);
        KMS_ENSURE_OUT(rc, rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID, KMS_ERR_HSM);
    }
    rc = KMS_RESULT_OK;
out:
    free(h);
    return rc;
}

static void s_ring_hex(char rh[2 * KMS_RING_ID_LEN + 1], const uint8_t ring_id[KMS_RING_ID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < KMS_RING_ID_LEN; i++) {
        rh[2 * i] = hex[ring_id[i] >> 4];
        rh[2 * i + 1] = hex[ring_id[i] & 0x0f];
    }
    rh[2 * KMS_RING_ID_LEN] = '\0';
}

static void s_label(char label[P11_LABEL_MAX], const uint8_t ring_id[KMS_RING_ID_LEN],
                    uint32_t key_id)
{
    char rh[2 * KMS_RING_ID_LEN + 1];
    s_ring_hex(rh, ring_id);
    (void)snprintf(label, P11_LABEL_MAX, "imskms-kkms-%s-%lu", rh, (unsigned long)key_id);
}

static kms_result s_generate(struct p11_ks *ks, const uint8_t id[P11_ID_LEN], const char *label)
{
    static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    static const CK_ULONG value_len = KMS_KKMS_LEN;
    CK_ATTRIBUTE tmpl[] = {
        s_attr(CKA_CLASS, &cls_secret, sizeof(cls_secret)),
        s_attr(CKA_KEY_TYPE, &type_aes, sizeof(type_aes)),
        s_attr(CKA_VALUE_LEN, &value_len, sizeof(value_len)),
        s_attr(CKA_TOKEN, &yes, sizeof(yes)),
        s_attr(CKA_PRIVATE, &yes, sizeof(yes)),
        s_attr(CKA_SENSITIVE, &yes, sizeof(yes)),
        s_attr(CKA_EXTRACTABLE, &no, sizeof(no)),
        s_attr(CKA_ENCRYPT, &yes, sizeof(yes)),
        s_attr(CKA_DECRYPT, &yes, sizeof(yes)),
        s_attr(CKA_WRAP, &no, sizeof(no)),
        s_attr(CKA_UNWRAP, &no, sizeof(no)),
        s_attr(CKA_ID, id, P11_ID_LEN),
        s_attr(CKA_LABEL, label, strlen(label)),
    };
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE obj;
    P11_OK(ks->f->C_GenerateKey(ks->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj));
    return KMS_RESULT_OK;
}

static kms_result p11_generate(struct kms_keystore *base, const uint8_t ring_id[KMS_RING_ID_LEN],
                               uint32_t key_id, uint8_t *ref, size_t *ref_len)
{
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    uint8_t id[P11_ID_LEN];
    char label[P11_LABEL_MAX];
    KMS_ENSURE(ks != NULL && ring_id != NULL && ref != NULL && ref_len != NULL, KMS_ERR_ARG);
    *ref_len = 0;
    s_make_id(ring_id, key_id, id);
    s_label(label, ring_id, key_id);
    (void)pthread_mutex_lock(&ks->lock);
    /* A leftover of a crash between an earlier generate and the keyring write. */
    KMS_TRY_OUT(rc, s_destroy_id(ks, id));
    KMS_TRY_OUT(rc, s_generate(ks, id, label));
    memcpy(ref, id, P11_ID_LEN);
    *ref_len = P11_ID_LEN;
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    return rc;
}

/* The object must be a 256-bit AES key the token keeps secret. Called with ks->lock held. */
static kms_result s_check_key(struct p11_ks *ks, CK_OBJECT_HANDLE obj)
{
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, enc = CK_FALSE, dec = CK_FALSE;
    CK_ULONG len = 0;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
        {CKA_ENCRYPT, &enc, sizeof(enc)},
        {CKA_DECRYPT, &dec, sizeof(dec)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
    };
    P11_OK(ks->f->C_GetAttributeValue(ks->session, obj, a, sizeof(a) / sizeof(a[0])));
    KMS_ENSURE(sensitive == CK_TRUE && extractable == CK_FALSE, KMS_ERR_HSM);
    KMS_ENSURE(enc == CK_TRUE && dec == CK_TRUE && len == KMS_KKMS_LEN, KMS_ERR_HSM);
    return KMS_RESULT_OK;
}

static kms_result p11_load(struct kms_keystore *base, const uint8_t ring_id[KMS_RING_ID_LEN],
                           uint32_t key_id, const uint8_t *ref, size_t ref_len,
                           struct kms_keystore_key **out)
{
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    struct kms_keystore_key *k = NULL;
    CK_OBJECT_HANDLE *h = NULL;
    size_t n = 0;
    uint8_t id[P11_ID_LEN];
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(ks != NULL && ring_id != NULL, KMS_ERR_ARG);
    s_make_id(ring_id, key_id, id);
    KMS_TRY(s_check_ref(id, ref, ref_len));
    (void)pthread_mutex_lock(&ks->lock);
    KMS_TRY_OUT(rc, s_find(ks, id, &h, &n));
    KMS_ENSURE_OUT(rc, n > 0, KMS_ERR_NOT_FOUND);
    KMS_ENSURE_OUT(rc, n == 1, KMS_ERR_HSM); /* generate leaves one: someone else added more */
    KMS_TRY_OUT(rc, s_check_key(ks, h[0]));
    k = calloc(1, sizeof(*k));
    KMS_ENSURE_OUT(rc, k != NULL, KMS_ERR_NOMEM);
    k->ks = ks;
    k->obj = h[0];
    *out = k;
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    free(h);
    return rc;
}

static void p11_unload(struct kms_keystore_key *k)
{
    if (k == NULL) {
        return;
    }
    kms_wipe(k, sizeof(*k));
    free(k);
}

/* ---- AES-256-GCM -------------------------------------------------------------------------- */

/* A scratch buffer of n bytes: caller stack storage when it fits, the heap otherwise. */
static uint8_t *s_scratch(uint8_t *stack, size_t stack_len, size_t n)
{
    return n <= stack_len ? stack : malloc(n);
}

static void s_scratch_free(uint8_t *p, const uint8_t *stack, size_t n)
{
    if (p != NULL) {
        kms_wipe(p, n);
        if (p != stack) {
            free(p);
        }
    }
}

/*= PKCS #11 v2.40 Current Mechanisms, 2.12.3 (CK_GCM_PARAMS)
 *# pIv: pointer to initialization vector; ulIvLen: length of initialization vector in bytes;
 *# ulIvBits: length of initialization vector in bits (p11-kit 0.24 and SoftHSM 2.6 both
 *# declare this field, so the structure sizes agree); ulTagBits: length of tag in bits.
 */
static void s_gcm_mech(CK_GCM_PARAMS *p, CK_MECHANISM *m, uint8_t iv[KMS_GCM_NONCE_LEN],
                       const uint8_t *aad, size_t aad_len)
{
    static uint8_t empty[1];
    *p = (CK_GCM_PARAMS){0};
    p->pIv = iv;
    p->ulIvLen = KMS_GCM_NONCE_LEN;
    p->ulIvBits = 8 * KMS_GCM_NONCE_LEN;
    p->pAAD = aad_len > 0 ? s_unconst(aad) : empty;
    p->ulAADLen = aad_len;
    p->ulTagBits = 8 * KMS_GCM_TAG_LEN;
    *m = (CK_MECHANISM){CKM_AES_GCM, p, sizeof(*p)};
}

static kms_result p11_seal(struct kms_keystore_key *k, const uint8_t nonce[KMS_GCM_NONCE_LEN],
                           const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                           uint8_t *ct, uint8_t tag[KMS_GCM_TAG_LEN])
{
    kms_result rc = KMS_RC_INIT;
    uint8_t stack[P11_STACK_BUF], iv[KMS_GCM_NONCE_LEN], *buf = NULL;
    static uint8_t empty[1];
    bool locked = false;
    KMS_ENSURE(k != NULL && nonce != NULL && tag != NULL, KMS_ERR_ARG);
    KMS_ENSURE(aad_len == 0 || aad != NULL, KMS_ERR_ARG);
    KMS_ENSURE(pt_len == 0 || (pt != NULL && ct != NULL), KMS_ERR_ARG);
    KMS_ENSURE(pt_len <= SIZE_MAX - KMS_GCM_TAG_LEN, KMS_ERR_TOO_LONG);
    struct p11_ks *ks = k->ks;
    size_t n = pt_len + KMS_GCM_TAG_LEN;
    CK_ULONG out_len = n;
    CK_GCM_PARAMS gp;
    CK_MECHANISM mech;
    memcpy(iv, nonce, sizeof(iv));
    s_gcm_mech(&gp, &mech, iv, aad, aad_len);
    buf = s_scratch(stack, sizeof(stack), n);
    KMS_ENSURE_OUT(rc, buf != NULL, KMS_ERR_NOMEM);
    (void)pthread_mutex_lock(&ks->lock);
    locked = true;
    P11_OUT(ks->f->C_EncryptInit(ks->session, &mech, k->obj));
    /* One C_Encrypt with room for everything always ends the operation (PKCS#11 5.8). */
    P11_OUT(
        ks->f->C_Encrypt(ks->session, pt_len > 0 ? s_unconst(pt) : empty, pt_len, buf, &out_len));
    KMS_ENSURE_OUT(rc, out_len == n, KMS_ERR_HSM);
    if (pt_len > 0) {
        memcpy(ct, buf, pt_len);
    }
    memcpy(tag, buf + pt_len, KMS_GCM_TAG_LEN);
    rc = KMS_RESULT_OK;
out:
    if (locked) {
        (void)pthread_mutex_unlock(&ks->lock);
    }
    s_scratch_free(buf, stack, n);
    return rc;
}

/* What a token answers when the GCM tag does not verify: PKCS#11 3.0 names
 * CKR_AEAD_DECRYPT_FAILED; 2.40 tokens use CKR_ENCRYPTED_DATA_INVALID; SoftHSM 2.6 returns
 * CKR_GENERAL_ERROR (its OpenSSL decrypt-final failed), which we cannot tell apart from a
 * real token fault and so must read as a tag failure. */
static bool s_is_tag_failure(CK_RV rv)
{
    return rv == CKR_AEAD_DECRYPT_FAILED || rv == CKR_ENCRYPTED_DATA_INVALID ||
           rv == CKR_GENERAL_ERROR;
}

static kms_result p11_open(struct kms_keystore_key *k, const uint8_t nonce[KMS_GCM_NONCE_LEN],
                           const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                           const uint8_t tag[KMS_GCM_TAG_LEN], uint8_t *pt)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t in_stack[P11_STACK_BUF], out_stack[P11_STACK_BUF], iv[KMS_GCM_NONCE_LEN];
    uint8_t *in = NULL, *outb = NULL;
    bool locked = false;
    KMS_ENSURE(k != NULL && nonce != NULL && tag != NULL, KMS_ERR_ARG);
    KMS_ENSURE(aad_len == 0 || aad != NULL, KMS_ERR_ARG);
    KMS_ENSURE(ct_len == 0 || (ct != NULL && pt != NULL), KMS_ERR_ARG);
    KMS_ENSURE(ct_len <= SIZE_MAX - KMS_GCM_TAG_LEN, KMS_ERR_TOO_LONG);
    struct p11_ks *ks = k->ks;
    /* SoftHSM wants room for the whole input in the output buffer (it sizes the output as
     * the input length), so both buffers are ct_len + 16 bytes. */
    size_t n = ct_len + KMS_GCM_TAG_LEN;
    CK_ULONG out_len = n;
    CK_GCM_PARAMS gp;
    CK_MECHANISM mech;
    memcpy(iv, nonce, sizeof(iv));
    s_gcm_mech(&gp, &mech, iv, aad, aad_len);
    in = s_scratch(in_stack, sizeof(in_stack), n);
    outb = s_scratch(out_stack, sizeof(out_stack), n);
    KMS_ENSURE_OUT(rc, in != NULL && outb != NULL, KMS_ERR_NOMEM);
    if (ct_len > 0) {
        memcpy(in, ct, ct_len);
    }
    memcpy(in + ct_len, tag, KMS_GCM_TAG_LEN);
    (void)pthread_mutex_lock(&ks->lock);
    locked = true;
    P11_OUT(ks->f->C_DecryptInit(ks->session, &mech, k->obj));
    CK_RV rv = ks->f->C_Decrypt(ks->session, in, n, outb, &out_len);
    KMS_ENSURE_OUT(rc, !s_is_tag_failure(rv), KMS_ERR_TICKET_TAG);
    KMS_ENSURE_OUT(rc, rv == CKR_OK && out_len == ct_len, KMS_ERR_HSM);
    if (ct_len > 0) {
        memcpy(pt, outb, ct_len);
    }
    rc = KMS_RESULT_OK;
out:
    if (locked) {
        (void)pthread_mutex_unlock(&ks->lock);
    }
    if (!kms_ok(rc) && pt != NULL && ct_len > 0) {
        kms_wipe(pt, ct_len);
    }
    s_scratch_free(in, in_stack, n);
    s_scratch_free(outb, out_stack, n);
    return rc;
}

/* ---- destroy, sweep, file MAC ------------------------------------------------------------- */

static kms_result p11_destroy(struct kms_keystore *base, const uint8_t ring_id[KMS_RING_ID_LEN],
                              uint32_t key_id, const uint8_t *ref, size_t ref_len)
{
    struct p11_ks *ks = (struct p11_ks *)base;
    uint8_t id[P11_ID_LEN];
    KMS_ENSURE(ks != NULL && ring_id != NULL, KMS_ERR_ARG);
    s_make_id(ring_id, key_id, id);
    KMS_TRY(s_check_ref(id, ref, ref_len));
    (void)pthread_mutex_lock(&ks->lock);
    kms_result r = s_destroy_id(ks, id);
    (void)pthread_mutex_unlock(&ks->lock);
    return r;
}

static bool s_kept(uint32_t key_id, const uint32_t *keep, size_t n_keep)
{
    for (size_t i = 0; i < n_keep; i++) {
        if (keep[i] == key_id) {
            return true;
        }
    }
    return false;
}

/* Whether obj belongs to ring_id and is not kept; a CKA_ID of another length is not ours. */
static kms_result s_sweep_one(struct p11_ks *ks, CK_OBJECT_HANDLE obj,
                              const uint8_t ring_id[KMS_RING_ID_LEN], const uint32_t *keep,
                              size_t n_keep, bool *doomed)
{
    uint8_t id[P11_ID_LEN];
    CK_ATTRIBUTE a = {CKA_ID, NULL, 0};
    *doomed = false;
    P11_OK(ks->f->C_GetAttributeValue(ks->session, obj, &a, 1));
    if (a.ulValueLen != P11_ID_LEN) {
        return KMS_RESULT_OK;
    }
    a.pValue = id;
    P11_OK(ks->f->C_GetAttributeValue(ks->session, obj, &a, 1));
    KMS_ENSURE(a.ulValueLen == P11_ID_LEN, KMS_ERR_HSM);
    if (memcmp(id, ring_id, KMS_RING_ID_LEN) != 0) {
        return KMS_RESULT_OK;
    }
    uint32_t key_id =
        (uint32_t)id[16] << 24 | (uint32_t)id[17] << 16 | (uint32_t)id[18] << 8 | (uint32_t)id[19];
    *doomed = !s_kept(key_id, keep, n_keep);
    return KMS_RESULT_OK;
}

static kms_result p11_sweep(struct kms_keystore *base, const uint8_t ring_id[KMS_RING_ID_LEN],
                            const uint32_t *keep, size_t n_keep, size_t *n_destroyed)
{
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    CK_OBJECT_HANDLE *h = NULL;
    size_t n = 0, gone = 0;
    if (n_destroyed != NULL) {
        *n_destroyed = 0;
    }
    KMS_ENSURE(ks != NULL && ring_id != NULL, KMS_ERR_ARG);
    KMS_ENSURE(n_keep == 0 || keep != NULL, KMS_ERR_ARG);
    (void)pthread_mutex_lock(&ks->lock);
    KMS_TRY_OUT(rc, s_find(ks, NULL, &h, &n));
    for (size_t i = 0; i < n; i++) {
        bool doomed;
        KMS_TRY_OUT(rc, s_sweep_one(ks, h[i], ring_id, keep, n_keep, &doomed));
        if (doomed) {
            P11_OUT(ks->f->C_DestroyObject(ks->session, h[i]));
            gone++;
        }
    }
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    if (n_destroyed != NULL) {
        *n_destroyed = gone;
    }
    free(h);
    return rc;
}

/* ---- keyring integrity: the ring's MAC key and its anchor object ------------------------ */

/* The MAC key of a ring: CKA_ID "imskms-krmac" || ring id (not ring id || key id, so a sweep
 * or a count of the ring's Kkms objects never takes it for one). The anchor: a CKO_DATA
 * object labelled "imskms-anchor-<ring id hex>". */
static const char mac_id_prefix[] = "imskms-krmac";
#define P11_MAC_ID_LEN (sizeof(mac_id_prefix) - 1 + KMS_RING_ID_LEN)
#define P11_MAC_LEN    32
static const CK_KEY_TYPE type_generic = CKK_GENERIC_SECRET;
static const CK_OBJECT_CLASS cls_data = CKO_DATA;
static const char anchor_app[] = "imskms keyring anchor";

static void s_mac_id(const uint8_t ring_id[KMS_RING_ID_LEN], uint8_t id[P11_MAC_ID_LEN])
{
    memcpy(id, mac_id_prefix, sizeof(mac_id_prefix) - 1);
    memcpy(id + sizeof(mac_id_prefix) - 1, ring_id, KMS_RING_ID_LEN);
}

static void s_anchor_label(char label[P11_LABEL_MAX], const uint8_t ring_id[KMS_RING_ID_LEN])
{
    char rh[2 * KMS_RING_ID_LEN + 1];
    s_ring_hex(rh, ring_id);
    (void)snprintf(label, P11_LABEL_MAX, "imskms-anchor-%s", rh);
}

/* Every object matching tmpl[0..n) (at most max). Called with ks->lock held. */
static kms_result s_find_tmpl(struct p11_ks *ks, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                              CK_OBJECT_HANDLE *h, CK_ULONG max, CK_ULONG *got)
{
    *got = 0;
    P11_OK(ks->f->C_FindObjectsInit(ks->session, tmpl, n));
    CK_RV rv = ks->f->C_FindObjects(ks->session, h, max, got);
    CK_RV rf = ks->f->C_FindObjectsFinal(ks->session);
    KMS_ENSURE(rv == CKR_OK && rf == CKR_OK && *got <= max, KMS_ERR_HSM);
    return KMS_RESULT_OK;
}

/* The ring's MAC key: KMS_ERR_KEYRING_ANCHOR when the token has none (or more than one, or
 * one that is not a sensitive, non-extractable signing key). Called with ks->lock held. */
static kms_result s_mac_key(struct p11_ks *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                            CK_OBJECT_HANDLE *obj)
{
    uint8_t id[P11_MAC_ID_LEN];
    s_mac_id(ring_id, id);
    CK_ATTRIBUTE tmpl[] = {
        s_attr(CKA_CLASS, &cls_secret, sizeof(cls_secret)),
        s_attr(CKA_KEY_TYPE, &type_generic, sizeof(type_generic)),
        s_attr(CKA_ID, id, sizeof(id)),
    };
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    KMS_TRY(s_find_tmpl(ks, tmpl, 3, h, 2, &n));
    KMS_ENSURE(n == 1, KMS_ERR_KEYRING_ANCHOR);
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, sign = CK_FALSE;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
        {CKA_SIGN, &sign, sizeof(sign)},
    };
    P11_OK(ks->f->C_GetAttributeValue(ks->session, h[0], a, sizeof(a) / sizeof(a[0])));
    KMS_ENSURE(sensitive == CK_TRUE && extractable == CK_FALSE && sign == CK_TRUE,
               KMS_ERR_KEYRING_ANCHOR);
    *obj = h[0];
    return KMS_RESULT_OK;
}

static kms_result p11_file_mac(struct kms_keystore *base, const uint8_t ring_id[KMS_RING_ID_LEN],
                               unsigned format, const uint8_t *p, size_t n, uint8_t out[32])
{
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    static uint8_t empty[1];
    KMS_ENSURE(ks != NULL && out != NULL && (p != NULL || n == 0), KMS_ERR_ARG);
    if (format == 1) {
        /* Format 1 (before the token MAC): a plain digest, read only to migrate. */
        unsigned int len = 0;
        KMS_TRY_OSSL(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL));
        KMS_ENSURE(len == 32, KMS_ERR_CRYPTO);
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(ring_id != NULL, KMS_ERR_ARG);
    CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_ULONG out_len = P11_MAC_LEN;
    (void)pthread_mutex_lock(&ks->lock);
    KMS_TRY_OUT(rc, s_mac_key(ks, ring_id, &key));
    P11_OUT(ks->f->C_SignInit(ks->session, &mech, key));
    P11_OUT(ks->f->C_Sign(ks->session, n > 0 ? s_unconst(p) : empty, n, out, &out_len));
    KMS_ENSURE_OUT(rc, out_len == P11_MAC_LEN, KMS_ERR_HSM);
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    return rc;
}

static kms_result p11_ring_init(struct kms_keystore *base, const uint8_t ring_id[KMS_RING_ID_LEN])
{
    static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    static const CK_ULONG value_len = P11_MAC_LEN;
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    uint8_t id[P11_MAC_ID_LEN];
    char label[P11_LABEL_MAX];
    KMS_ENSURE(ks != NULL && ring_id != NULL, KMS_ERR_ARG);
    s_mac_id(ring_id, id);
    char rh[2 * KMS_RING_ID_LEN + 1];
    s_ring_hex(rh, ring_id);
    (void)snprintf(label, sizeof(label), "imskms-krmac-%s", rh);
    CK_ATTRIBUTE find[] = {
        s_attr(CKA_CLASS, &cls_secret, sizeof(cls_secret)),
        s_attr(CKA_KEY_TYPE, &type_generic, sizeof(type_generic)),
        s_attr(CKA_ID, id, sizeof(id)),
    };
    CK_ATTRIBUTE tmpl[] = {
        s_attr(CKA_CLASS, &cls_secret, sizeof(cls_secret)),
        s_attr(CKA_KEY_TYPE, &type_generic, sizeof(type_generic)),
        s_attr(CKA_VALUE_LEN, &value_len, sizeof(value_len)),
        s_attr(CKA_TOKEN, &yes, sizeof(yes)),
        s_attr(CKA_PRIVATE, &yes, sizeof(yes)),
        s_attr(CKA_SENSITIVE, &yes, sizeof(yes)),
        s_attr(CKA_EXTRACTABLE, &no, sizeof(no)),
        s_attr(CKA_SIGN, &yes, sizeof(yes)),
        s_attr(CKA_VERIFY, &yes, sizeof(yes)),
        s_attr(CKA_ENCRYPT, &no, sizeof(no)),
        s_attr(CKA_DECRYPT, &no, sizeof(no)),
        s_attr(CKA_WRAP, &no, sizeof(no)),
        s_attr(CKA_UNWRAP, &no, sizeof(no)),
        s_attr(CKA_DERIVE, &no, sizeof(no)),
        s_attr(CKA_ID, id, sizeof(id)),
        s_attr(CKA_LABEL, label, strlen(label)),
    };
    CK_MECHANISM mech = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE h[8], obj;
    CK_ULONG n = 0;
    (void)pthread_mutex_lock(&ks->lock);
    /* A leftover of an interrupted create or migration: no file is MACed under it. */
    KMS_TRY_OUT(rc, s_find_tmpl(ks, find, 3, h, 8, &n));
    for (CK_ULONG i = 0; i < n; i++) {
        CK_RV rv = ks->f->C_DestroyObject(ks->session, h[i]);
        KMS_ENSURE_OUT(rc, rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID, KMS_ERR_HSM);
    }
    P11_OUT(ks->f->C_GenerateKey(ks->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj));
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    return rc;
}

/* The anchor is a CKO_DATA object whose CKA_VALUE is a sequence number (8) || the record.
 * A data object's CKA_VALUE cannot be changed (PKCS#11 2.40 table 27; SoftHSM refuses), so a
 * new record is a new object with the next sequence number, and the old one is destroyed
 * after it exists: a crash between the two leaves both, and the highest sequence number is
 * the anchor. */
#define P11_SEQ_LEN    8
#define P11_ANCHOR_MAX 4

struct p11_anchor {
    CK_OBJECT_HANDLE h[P11_ANCHOR_MAX];
    CK_ULONG n;
    CK_ULONG best; /* index of the highest sequence number */
    uint64_t seq;  /* its sequence number */
    size_t len;    /* its record length (without the sequence number) */
};

/* The anchor objects of a ring, and which is current (its record copied to rec[0..cap) when
 * rec is not NULL). Called with ks->lock held. */
static kms_result s_anchor_objs(struct p11_ks *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                                struct p11_anchor *a, uint8_t *rec, size_t cap)
{
    char label[P11_LABEL_MAX];
    uint8_t v[P11_SEQ_LEN + KMS_ANCHOR_MAX];
    s_anchor_label(label, ring_id);
    CK_ATTRIBUTE tmpl[] = {
        s_attr(CKA_CLASS, &cls_data, sizeof(cls_data)),
        s_attr(CKA_LABEL, label, strlen(label)),
    };
    memset(a, 0, sizeof(*a));
    KMS_TRY(s_find_tmpl(ks, tmpl, 2, a->h, P11_ANCHOR_MAX, &a->n));
    KMS_ENSURE(a->n < P11_ANCHOR_MAX, KMS_ERR_KEYRING_ANCHOR); /* not what we leave */
    bool have = false;
    for (CK_ULONG i = 0; i < a->n; i++) {
        CK_ATTRIBUTE va = {CKA_VALUE, v, sizeof(v)};
        CK_RV rv = ks->f->C_GetAttributeValue(ks->session, a->h[i], &va, 1);
        KMS_ENSURE(rv != CKR_BUFFER_TOO_SMALL, KMS_ERR_KEYRING_ANCHOR);
        P11_OK(rv);
        KMS_ENSURE(va.ulValueLen > P11_SEQ_LEN && va.ulValueLen <= sizeof(v),
                   KMS_ERR_KEYRING_ANCHOR);
        uint64_t seq = 0;
        for (size_t j = 0; j < P11_SEQ_LEN; j++) {
            seq = seq << 8 | v[j];
        }
        if (!have || seq > a->seq) {
            have = true;
            a->best = i;
            a->seq = seq;
            a->len = va.ulValueLen - P11_SEQ_LEN;
            if (rec != NULL) {
                KMS_ENSURE(a->len <= cap, KMS_ERR_KEYRING_ANCHOR);
                memcpy(rec, v + P11_SEQ_LEN, a->len);
            }
        }
    }
    return KMS_RESULT_OK;
}

static kms_result p11_anchor_get(struct kms_keystore *base, const char *path,
                                 const uint8_t ring_id[KMS_RING_ID_LEN], uint8_t *rec, size_t cap,
                                 size_t *len)
{
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    struct p11_anchor a;
    (void)path; /* the token holds it */
    KMS_ENSURE(ks != NULL && ring_id != NULL && rec != NULL && len != NULL, KMS_ERR_ARG);
    (void)pthread_mutex_lock(&ks->lock);
    KMS_TRY_OUT(rc, s_anchor_objs(ks, ring_id, &a, rec, cap));
    KMS_ENSURE_OUT(rc, a.n > 0, KMS_ERR_NOT_FOUND);
    *len = a.len;
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    return rc;
}

static kms_result p11_anchor_put(struct kms_keystore *base, const char *path,
                                 const uint8_t ring_id[KMS_RING_ID_LEN], const uint8_t *rec,
                                 size_t len)
{
    static const CK_BBOOL yes = CK_TRUE;
    kms_result rc = KMS_RC_INIT;
    struct p11_ks *ks = (struct p11_ks *)base;
    struct p11_anchor a;
    char label[P11_LABEL_MAX];
    uint8_t v[P11_SEQ_LEN + KMS_ANCHOR_MAX];
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    (void)path;
    KMS_ENSURE(ks != NULL && ring_id != NULL && rec != NULL && len > 0 && len <= KMS_ANCHOR_MAX,
               KMS_ERR_ARG);
    s_anchor_label(label, ring_id);
    (void)pthread_mutex_lock(&ks->lock);
    KMS_TRY_OUT(rc, s_anchor_objs(ks, ring_id, &a, NULL, 0));
    uint64_t seq = a.n > 0 ? a.seq + 1 : 1;
    for (size_t j = 0; j < P11_SEQ_LEN; j++) {
        v[j] = (uint8_t)(seq >> (56 - 8 * j));
    }
    memcpy(v + P11_SEQ_LEN, rec, len);
    CK_ATTRIBUTE tmpl[] = {
        s_attr(CKA_CLASS, &cls_data, sizeof(cls_data)),
        s_attr(CKA_TOKEN, &yes, sizeof(yes)),
        s_attr(CKA_PRIVATE, &yes, sizeof(yes)),
        s_attr(CKA_LABEL, label, strlen(label)),
        s_attr(CKA_APPLICATION, anchor_app, sizeof(anchor_app) - 1),
        s_attr(CKA_VALUE, v, P11_SEQ_LEN + len),
    };
    /* Leftovers of an interrupted put first (the current one stays), then the new object,
     * then the old current one: whatever is interrupted, at most two objects remain. */
    for (CK_ULONG i = 0; i < a.n; i++) {
        if (i != a.best) {
            CK_RV rv = ks->f->C_DestroyObject(ks->session, a.h[i]);
            KMS_ENSURE_OUT(rc, rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID, KMS_ERR_HSM);
        }
    }
    P11_OUT(ks->f->C_CreateObject(ks->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj));
    if (a.n > 0) {
        CK_RV rv = ks->f->C_DestroyObject(ks->session, a.h[a.best]);
        KMS_ENSURE_OUT(rc, rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID, KMS_ERR_HSM);
    }
    rc = KMS_RESULT_OK;
out:
    (void)pthread_mutex_unlock(&ks->lock);
    kms_wipe(v, sizeof(v));
    return rc;
}

static const struct kms_keystore_ops p11_ops = {
    .name = "pkcs11",
    .kind = KMS_KEYSTORE_PKCS11,
    .generate = p11_generate,
    .load = p11_load,
    .unload = p11_unload,
    .seal = p11_seal,
    .open = p11_open,
    .destroy = p11_destroy,
    .sweep = p11_sweep,
    .file_mac = p11_file_mac,
    .anchor_get = p11_anchor_get,
    .anchor_put = p11_anchor_put,
    .ring_init = p11_ring_init,
    .set_epoch = NULL, /* keys never leave the token: a revoked one is destroyed there */
    .rewrap = NULL,
    .close = p11_close,
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PKCS#11 module for tests/integration/test_keyring_crash.c: forwards every call the
 * keystore makes to the real module (IMSKMS_SOFTHSM_MODULE) and lets the crash test's parent
 * deliver its SIGKILL only between token calls, never inside one.
 *
 * Why: a real HSM runs each call as a transaction in its own box, so a client killed mid-call
 * finds the object either made or not. SoftHSM 2.6 as Debian builds it has only the file
 * object store, which runs in the client process and rewrites token.object and the object
 * files in place: a SIGKILL inside C_Login, C_GenerateKey or C_DestroyObject leaves them empty
 * and the token uninitialised (seen with this very test). That is SoftHSM's durability, not
 * the keyring's; the keyring's crash windows lie between token calls, and those stay open to
 * the kill.
 *
 * Protocol, on a shared page the parent maps before the fork (fd IMSKMS_CRASH_GUARD_FD): a
 * call increments `busy`, then parks for ever if `stop` is set (as if killed just before the
 * call), else runs and decrements `busy`. The parent sets `stop`, waits for `busy` to reach
 * 0, then kills. Both are sequentially consistent, so either the parent sees the call or the
 * call sees `stop`. A call that sees `stop` may be killed before it takes its increment back,
 * so the parent zeroes `busy` once the child is reaped. Without the variable the shim only
 * forwards.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

struct kms_crash_guard {
    atomic_int stop;
    atomic_int busy;
};

static struct kms_crash_guard *guard;
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;

static void enter(void)
{
    if (guard == NULL) {
        return;
    }
    atomic_fetch_add(&guard->busy, 1);
    if (atomic_load(&guard->stop) != 0) {
        atomic_fetch_sub(&guard->busy, 1);
        for (;;) {
            pause();
        }
    }
}

static void leave(void)
{
    if (guard != NULL) {
        atomic_fetch_sub(&guard->busy, 1);
    }
}

#define SHIM(name, params, args)                                                                   \
    static CK_RV shim_##name params                                                                \
    {                                                                                              \
        enter();                                                                                   \
        CK_RV rv = real->name args;                                                                \
        leave();                                                                                   \
        return rv;                                                                                 \
    }

SHIM(C_Initialize, (CK_VOID_PTR a), (a))
SHIM(C_Finalize, (CK_VOID_PTR a), (a))
SHIM(C_GetSlotList, (CK_BBOOL p, CK_SLOT_ID_PTR l, CK_ULONG_PTR n), (p, l, n))
SHIM(C_GetTokenInfo, (CK_SLOT_ID s, CK_TOKEN_INFO_PTR i), (s, i))
SHIM(C_OpenSession, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h),
     (s, f, a, n, h))
SHIM(C_CloseSession, (CK_SESSION_HANDLE s), (s))
SHIM(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG n), (s, u, p, n))
SHIM(C_Logout, (CK_SESSION_HANDLE s), (s))
SHIM(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))
SHIM(C_FindObjects, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR h, CK_ULONG m, CK_ULONG_PTR n),
     (s, h, m, n))
SHIM(C_FindObjectsFinal, (CK_SESSION_HANDLE s), (s))
SHIM(C_GetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
     (s, o, t, n))
SHIM(C_GenerateKey,
     (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
      CK_OBJECT_HANDLE_PTR o),
     (s, m, t, n, o))
SHIM(C_DestroyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o), (s, o))
SHIM(C_CreateObject, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),
     (s, t, n, o))
SHIM(C_SetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
     (s, o, t, n))
SHIM(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE o), (s, m, o))
SHIM(C_Sign, (CK_SESSION_HANDLE s, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol),
     (s, i, il, o, ol))
SHIM(C_EncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE o), (s, m, o))
SHIM(C_Encrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol),
     (s, i, il, o, ol))
SHIM(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE o), (s, m, o))
SHIM(C_Decrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol),
     (s, i, il, o, ol))

static CK_RV load(void)
{
    const char *path = getenv("IMSKMS_SOFTHSM_MODULE");
    void *dl = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *sym = dl != NULL ? dlsym(dl, "C_GetFunctionList") : NULL;
    CK_C_GetFunctionList get = NULL;
    if (sym == NULL) {
        return CKR_GENERAL_ERROR;
    }
    memcpy(&get, &sym, sizeof(get));
    if (get(&real) != CKR_OK || real == NULL) {
        return CKR_GENERAL_ERROR;
    }
    const char *fd = getenv("IMSKMS_CRASH_GUARD_FD");
    if (fd != NULL) {
        void *p = mmap(NULL, sizeof(*guard), PROT_READ | PROT_WRITE, MAP_SHARED, atoi(fd), 0);
        if (p == MAP_FAILED) {
            return CKR_GENERAL_ERROR;
        }
        guard = p;
    }
    /* Calls the keystore never makes go straight to the real module, unguarded. */
    shim = *real;
#define SET(name) shim.name = shim_##name
    SET(C_Initialize);
    SET(C_Finalize);
    SET(C_GetSlotList);
    SET(C_GetTokenInfo);
    SET(C_OpenSession);
    SET(C_CloseSession);
    SET(C_Login);
    SET(C_Logout);
    SET(C_FindObjectsInit);
    SET(C_FindObjects);
    SET(C_FindObjectsFinal);
    SET(C_GetAttributeValue);
    SET(C_GenerateKey);
    SET(C_DestroyObject);
    SET(C_CreateObject);
    SET(C_SetAttributeValue);
    SET(C_SignInit);
    SET(C_Sign);
    SET(C_EncryptInit);
    SET(C_Encrypt);
    SET(C_DecryptInit);
    SET(C_Decrypt);
#undef SET
    shim.C_GetFunctionList = C_GetFunctionList;
    return CKR_OK;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    if (out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (real == NULL) {
        CK_RV rv = load();
        if (rv != CKR_OK) {
            return rv;
        }
    }
    *out = &shim;
    return CKR_OK;
}

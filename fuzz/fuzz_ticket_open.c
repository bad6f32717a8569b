/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: opening sealed tickets (kms_ticket_open, format v1 in kms_ticket.h).
 *
 * Set-up (once): a file keystore under the fixed KEK and a keyring in a private temporary
 * directory with three keys: 1 revoked (DESTROYED), 2 in its grace period, 3 ACTIVE; the clock
 * stands still at KF_NOW. The directory is removed at exit.
 *
 * The first input octet selects the mode: bit 0 clear = the rest is a whole ticket, set = the
 * rest is a ticket payload that the harness seals under the active key; bit 1 selects the kind
 * the caller expects (clear = sealed Kue, set = media ticket; also the kind sealed).
 *
 * Whole ticket: the verdict is exactly the documented one, in the documented order: fewer than
 * 34 octets TRUNCATED, more than KMS_TICKET_MAX TOO_LONG, another version or kind
 * TICKET_VERSION, key 1 KEY_DESTROYED, keys 2 and 3 TICKET_TAG (no forgery), any other key id
 * KEY_UNKNOWN. The claims are all zero afterwards.
 *
 * Sealed payload: the open succeeds iff the payload decodes alone (fuzz_ticket_common.h, with
 * its round-trip oracles) and the times pass (now < expires, issued <= now + 300), and the
 * ticket fits KMS_TICKET_MAX; a refusal carries the code of the first check that fails and
 * leaves the claims zero; an accepted ticket yields exactly the decoded claims plus the key id.
 * Then: one flipped bit chosen by the input gives the code its position implies (version,
 * kind, key id, or the tag), one octet less gives TICKET_TAG (TRUNCATED at 33 octets), the
 * other kind gives TICKET_VERSION, and opening at `expires` gives TICKET_EXPIRED.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "fuzz_ticket_common.h"
#include "keyring/kms_keyring.h"
#include "ticket/kms_ticket.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_REVOKED 1u
#define KEY_GRACE   2u
#define KEY_ACTIVE  3u
#define YEARS(n)    (UINT64_C(n) * 365 * 86400)

static struct kms_keystore *ks;
static struct kms_keyring *kr;
static uint64_t active_grace_until; /* key 3 opens nothing from then on */

static void teardown(void)
{
    kms_keyring_close(kr);
    kr = NULL;
    kms_keystore_close(ks);
    ks = NULL;
}

static void setup(void)
{
    const char *path = kf_dir_make();
    ks = kf_keystore();
    /* Registered after kf_dir_make's atexit, so it runs first: close, then remove. */
    if (atexit(teardown) != 0) {
        exit(2);
    }
    const struct kms_keyring_policy pol = {
        .lifetime = YEARS(50), .grace = YEARS(50), .max_seals = UINT64_C(1) << 32};
    const uint64_t t0 = KF_NOW - 1000;
    uint32_t id = 0, new_id = 0;
    kf_setup_ok(kms_keyring_create(path, ks, &pol, t0, &kr), "keyring create");
    kf_setup_ok(kms_keyring_rotate(kr, t0 + 1, &id), "rotate to key 2");
    kf_setup_ok(kms_keyring_rotate(kr, t0 + 2, &id), "rotate to key 3");
    kf_setup_ok(kms_keyring_revoke(kr, t0 + 3, KEY_REVOKED, &new_id), "revoke key 1");
    if (id != KEY_ACTIVE || new_id != 0) {
        fprintf(stderr, "fuzz set-up: unexpected key ids %u %u\n", id, new_id);
        exit(2);
    }
}

static void once(void)
{
    if (kr == NULL) {
        setup();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    once();
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens an exact-size heap copy; on failure the claims must be all zero. */
static kms_result open_copy(uint64_t now, const uint8_t *t, size_t n, enum kms_ticket_kind kind,
                            struct kms_ticket_claims *c)
{
    uint8_t *q = kf_dup(t, n, 0);
    memset(c, 0xa5, sizeof(*c)); /* whatever the caller left there */
    kms_result r = kms_ticket_open(kr, now, q, n, kind, c);
    free(q);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(c, sizeof(*c)));
        KF_CHECK(kms_err_group(r.err) == KMS_ERR_G_AUTH || r.err == KMS_ERR_TRUNCATED ||
                 r.err == KMS_ERR_TOO_LONG);
    }
    return r;
}

/* The code a ticket that no one sealed must get (see the top of the file). */
static enum kms_err whole_expected(const uint8_t *t, size_t n, enum kms_ticket_kind kind)
{
    if (n < KMS_TICKET_OVERHEAD) {
        return KMS_ERR_TRUNCATED;
    }
    if (n > KMS_TICKET_MAX) {
        return KMS_ERR_TOO_LONG;
    }
    if (t[0] != KMS_TICKET_VERSION || t[1] != (uint8_t)kind) {
        return KMS_ERR_TICKET_VERSION;
    }
    switch (be32(t + 2)) {
    case KEY_REVOKED:
        return KMS_ERR_KEY_DESTROYED;
    case KEY_GRACE:
    case KEY_ACTIVE:
        return KMS_ERR_TICKET_TAG;
    default:
        return KMS_ERR_KEY_UNKNOWN;
    }
}

static void whole_ticket(const uint8_t *t, size_t n, enum kms_ticket_kind kind)
{
    struct kms_ticket_claims c;
    kms_result r = open_copy(KF_NOW, t, n, kind, &c);
    enum kms_err want = whole_expected(t, n, kind);
    if (r.err != want) {
        fprintf(stderr, "ticket of %zu octets: %s, expected %s\n", n, kms_err_name(r.err),
                kms_err_name(want));
        kf_fail("an unsealed ticket gets the documented verdict", __FILE__, __LINE__);
    }
}

/* Seals payload p under the active key with a zero nonce (nonce reuse is harmless here). */
static uint8_t *seal_payload(const uint8_t *p, size_t n, enum kms_ticket_kind kind, size_t *tn)
{
    struct kms_kkms *key = NULL;
    uint32_t key_id = 0;
    uint64_t grace_until = 0;
    kf_setup_ok(kms_keyring_acquire_seal(kr, KF_NOW, &key, &key_id, &grace_until), "acquire");
    KF_CHECK(key_id == KEY_ACTIVE);
    active_grace_until = grace_until;
    *tn = KMS_TICKET_OVERHEAD + n;
    uint8_t *t = kf_dup(NULL, 0, *tn);
    memset(t, 0, KMS_TICKET_HEADER_LEN);
    t[0] = KMS_TICKET_VERSION;
    t[1] = (uint8_t)kind;
    t[2] = (uint8_t)(key_id >> 24);
    t[3] = (uint8_t)(key_id >> 16);
    t[4] = (uint8_t)(key_id >> 8);
    t[5] = (uint8_t)key_id;
    uint8_t nonce[KMS_GCM_NONCE_LEN];
    memcpy(nonce, t + KMS_TICKET_AAD_LEN, sizeof(nonce));
    kf_setup_ok(kms_kkms_seal(key, nonce, t, KMS_TICKET_AAD_LEN, p, n, t + KMS_TICKET_HEADER_LEN,
                              t + KMS_TICKET_HEADER_LEN + n),
                "seal");
    kms_keyring_release(key);
    return t;
}

/* A position and bit of the ticket to flip, chosen by the input. */
static size_t pick(const uint8_t *p, size_t n, size_t mod)
{
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        h = h * 131 + p[i];
    }
    return h % mod;
}

static void expect_err(kms_result r, enum kms_err want, const char *what)
{
    if (r.err != want) {
        fprintf(stderr, "%s: %s, expected %s\n", what, kms_err_name(r.err), kms_err_name(want));
        kf_fail(what, __FILE__, __LINE__);
    }
}

static void sealed_payload(const uint8_t *p, size_t n, enum kms_ticket_kind kind)
{
    struct kms_ticket_claims *want = malloc(sizeof(*want)), *c = malloc(sizeof(*c));
    KF_CHECK(want != NULL && c != NULL);
    memset(want, 0, sizeof(*want));
    bool decodes = tp_check(p, n, kind, want);
    size_t tn = 0;
    uint8_t *t = seal_payload(p, n, kind, &tn);
    kms_result r = open_copy(KF_NOW, t, tn, kind, c);
    if (tn > KMS_TICKET_MAX) {
        expect_err(r, KMS_ERR_TOO_LONG, "a sealed ticket above KMS_TICKET_MAX");
    } else if (!decodes) {
        expect_err(r, KMS_ERR_TICKET_FIELD, "a sealed payload that does not decode");
    } else if (!(KF_NOW < want->expires)) {
        expect_err(r, KMS_ERR_TICKET_EXPIRED, "a sealed payload past its expiry");
    } else if (!(want->issued <= KF_NOW + KMS_TICKET_ISSUE_SKEW)) {
        expect_err(r, KMS_ERR_TICKET_EARLY, "a sealed payload issued too far ahead");
    } else {
        if (!kms_ok(r)) {
            fprintf(stderr, "valid sealed payload refused: %s\n", kms_err_name(r.err));
            kf_fail("a valid sealed payload opens", __FILE__, __LINE__);
        }
        want->key_id = KEY_ACTIVE;
        KF_CHECK(tp_claims_eq(c, want));

        /* one flipped bit */
        size_t bit = pick(p, n, tn * 8);
        size_t pos = bit / 8;
        t[pos] ^= (uint8_t)(1u << (bit % 8));
        r = open_copy(KF_NOW, t, tn, kind, c);
        enum kms_err flip = KMS_ERR_TICKET_TAG;
        if (pos < 2) {
            flip = KMS_ERR_TICKET_VERSION;
        } else if (pos < KMS_TICKET_AAD_LEN) {
            uint32_t id = be32(t + 2);
            flip = id == KEY_REVOKED ? KMS_ERR_KEY_DESTROYED
                   : id == KEY_GRACE ? KMS_ERR_TICKET_TAG
                                     : KMS_ERR_KEY_UNKNOWN;
        }
        expect_err(r, flip, "a sealed ticket with one bit flipped");
        t[pos] ^= (uint8_t)(1u << (bit % 8));

        r = open_copy(KF_NOW, t, tn - 1, kind, c);
        expect_err(r, tn - 1 < KMS_TICKET_OVERHEAD ? KMS_ERR_TRUNCATED : KMS_ERR_TICKET_TAG,
                   "a sealed ticket one octet short");
        enum kms_ticket_kind other = kind == KMS_TICKET_KUE ? KMS_TICKET_MEDIA : KMS_TICKET_KUE;
        r = open_copy(KF_NOW, t, tn, other, c);
        expect_err(r, KMS_ERR_TICKET_VERSION, "a sealed ticket opened as the other kind");
        r = open_copy(want->expires, t, tn, kind, c);
        expect_err(
            r, want->expires >= active_grace_until ? KMS_ERR_KEY_DESTROYED : KMS_ERR_TICKET_EXPIRED,
            "a sealed ticket opened at its expiry");
    }
    free(t);
    kms_ticket_claims_wipe(c);
    kms_ticket_claims_wipe(want);
    free(c);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > KMS_TICKET_MAX + 1) {
        return 0;
    }
    once();
    enum kms_ticket_kind kind = (data[0] & 2) != 0 ? KMS_TICKET_MEDIA : KMS_TICKET_KUE;
    if ((data[0] & 1) == 0) {
        whole_ticket(data + 1, size - 1, kind);
    } else {
        sealed_payload(data + 1, size - 1, kind);
    }
    return 0;
}

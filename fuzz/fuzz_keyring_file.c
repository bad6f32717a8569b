/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the keyring file parser behind kms_keyring_open (decode_state in
 * lib/keyring/kms_keyring.c; format in docs/protocol.md): magic "IMSKMSKR", format, keystore
 * kind, ring id, generation, policy, next id, records, then a 32-byte MAC from the keystore's
 * file_mac.
 *
 * Input: one mode octet, then a file body. Mode bit 0 clear: the harness appends the correct
 * MAC (file keystore under the fixed KEK), so the parser proper is reached; set: the body is
 * written as it is, so its last 32 octets are the MAC to check. The file is written to one
 * path in a private temporary directory (removed at exit) and opened.
 *
 * Oracles:
 *  - the checks before the records give exactly their documented codes, in order: file above
 *    KMS_KEYRING_FILE_MAX TOO_LONG, under 42 octets TRUNCATED, bad magic MALFORMED, a format
 *    other than 1 or 2 UNSUPPORTED, another keystore kind KEYSTORE_KIND, then KEYRING_MAC
 *    exactly when the MAC is wrong; past the MAC only TRUNCATED, MALFORMED or TRAILING, and for
 *    format 2 also KEYRING_ANCHOR (the harness's directory holds no anchor: format 2 files are
 *    parsed in full, then refused for it);
 *  - an accepted file lists (kms_keyring_list, newest first) as many keys as its record count,
 *    1..64, ids strictly decreasing and below the file's next id, exactly one ACTIVE, every
 *    activated <= active_until <= grace_until, the per-state rules (an ACTIVE key not retired
 *    nor destroyed, a DESTROYED one with an end reason), the effective state consistent with
 *    `now`; generation and policy equal the file's and the policy is within its limits;
 *  - acquiring key 0 or the next id is KEY_UNKNOWN; a destroyed key, or any key at its
 *    grace_until, is KEY_DESTROYED; a live key either loads (then AES-GCM seals and opens a
 *    block with it) or its wrapped reference is refused with KEYRING_MAC.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_keyring_common.h"
#include "keyring/kms_keyring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAC_LEN  32
#define HDR_LEN  63 /* magic .. record count */
#define MIN_FILE (8 + 2 + MAC_LEN)

static struct kms_keystore *ks;
static const char *path;

static void teardown(void)
{
    kms_keystore_close(ks);
    ks = NULL;
}

static void once(void)
{
    if (ks == NULL) {
        path = kf_dir_make();
        ks = kf_keystore();
        if (atexit(teardown) != 0) {
            exit(2);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    once();
    return 0;
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void write_file(const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("fuzz: open keyring file");
        exit(2);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w <= 0) {
            perror("fuzz: write keyring file");
            exit(2);
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        perror("fuzz: close keyring file");
        exit(2);
    }
}

/* The code of the first pre-record check that refuses f[0..n), or KMS_OK. */
static enum kms_err header_verdict(const uint8_t *f, size_t n)
{
    static const uint8_t magic[8] = {'I', 'M', 'S', 'K', 'M', 'S', 'K', 'R'};
    if (n > KMS_KEYRING_FILE_MAX) {
        return KMS_ERR_TOO_LONG;
    }
    if (n < MIN_FILE) {
        return KMS_ERR_TRUNCATED;
    }
    if (memcmp(f, magic, sizeof(magic)) != 0) {
        return KMS_ERR_MALFORMED;
    }
    if (f[8] != 1 && f[8] != 2) {
        return KMS_ERR_UNSUPPORTED;
    }
    if (f[9] != KMS_KEYSTORE_FILE) {
        return KMS_ERR_KEYSTORE_KIND;
    }
    uint8_t mac[MAC_LEN];
    kf_setup_ok(ks->ops->file_mac(ks, f + 10, f[8], f, n - MAC_LEN, mac), "file_mac");
    if (memcmp(mac, f + n - MAC_LEN, MAC_LEN) != 0) {
        return KMS_ERR_KEYRING_MAC;
    }
    return KMS_OK;
}

static void check_key(const struct kms_key_info *k, uint64_t now)
{
    KF_CHECK(k->activated <= k->active_until && k->active_until <= k->grace_until);
    switch (k->state) {
    case KMS_KEY_ACTIVE:
        KF_CHECK(k->retired == 0 && k->destroyed == 0 && k->end == KMS_KEY_END_NONE);
        break;
    case KMS_KEY_GRACE:
        KF_CHECK(k->destroyed == 0 && k->end == KMS_KEY_END_NONE);
        break;
    case KMS_KEY_DESTROYED:
        KF_CHECK(k->end == KMS_KEY_END_EXPIRED || k->end == KMS_KEY_END_REVOKED);
        break;
    default:
        kf_fail("a listed key has a known state", __FILE__, __LINE__);
    }
    enum kms_key_state eff = k->state;
    if (k->state != KMS_KEY_DESTROYED && now >= k->grace_until) {
        eff = KMS_KEY_DESTROYED;
    } else if (k->state == KMS_KEY_ACTIVE && now >= k->active_until) {
        eff = KMS_KEY_GRACE;
    }
    KF_CHECK(k->effective == eff);
}

/* Acquires key `id` at `now` and checks the verdict; a loaded key seals and opens a block. */
static void check_acquire(struct kms_keyring *kr, const struct kms_key_info *k, uint32_t id,
                          uint64_t now)
{
    struct kms_kkms *key = NULL;
    kms_result r = kms_keyring_acquire_open(kr, now, id, &key);
    if (k == NULL) {
        KF_CHECK(r.err == KMS_ERR_KEY_UNKNOWN && key == NULL);
        return;
    }
    if (k->state == KMS_KEY_DESTROYED || now >= k->grace_until) {
        KF_CHECK(r.err == KMS_ERR_KEY_DESTROYED && key == NULL);
        return;
    }
    if (!kms_ok(r)) {
        KF_CHECK(r.err == KMS_ERR_KEYRING_MAC && key == NULL);
        return;
    }
    static const uint8_t nonce[KMS_GCM_NONCE_LEN] = {0};
    static const uint8_t aad[6] = {1, 2, 3, 4, 5, 6};
    const uint8_t pt[20] = "imskms keyring fuzz";
    uint8_t ct[sizeof(pt)], back[sizeof(pt)], tag[KMS_GCM_TAG_LEN];
    KF_CHECK(kms_ok(kms_kkms_seal(key, nonce, aad, sizeof(aad), pt, sizeof(pt), ct, tag)));
    KF_CHECK(kms_ok(kms_kkms_open(key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, back)));
    KF_CHECK(memcmp(back, pt, sizeof(pt)) == 0);
    tag[0] ^= 1;
    KF_CHECK(kms_kkms_open(key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, back).err ==
             KMS_ERR_TICKET_TAG);
    kms_keyring_release(key);
}

/* The invariants of an accepted file f (whose body is f[0..n - 32)). */
static void check_accepted(struct kms_keyring *kr, const uint8_t *f, size_t n)
{
    KF_CHECK(n >= HDR_LEN + MAC_LEN);
    const uint64_t gen = be(f + 26, 8);
    const struct kms_keyring_policy fpol = {be(f + 34, 8), be(f + 42, 8), be(f + 50, 8)};
    const uint32_t next_id = (uint32_t)be(f + 58, 4);
    const size_t nrec = f[62];

    KF_CHECK(kms_keyring_generation(kr) == gen);
    struct kms_keyring_policy pol;
    kms_keyring_get_policy(kr, &pol);
    KF_CHECK(memcmp(&pol, &fpol, sizeof(pol)) == 0);
    KF_CHECK(pol.lifetime >= 1 && pol.grace >= 1);
    KF_CHECK(pol.grace <= pol.lifetime * KMS_KEYRING_MAX_GRACE_RATIO);
    KF_CHECK(pol.max_seals >= 1 && pol.max_seals <= (UINT64_C(1) << 32));

    struct kms_key_info *keys = calloc(KMS_KEYRING_MAX_RECORDS + 1, sizeof(*keys));
    KF_CHECK(keys != NULL);
    size_t nk = 99;
    KF_CHECK(kms_ok(kms_keyring_list(kr, KF_NOW, NULL, 0, &nk)) && nk == 0);
    KF_CHECK(kms_ok(kms_keyring_list(kr, KF_NOW, keys, KMS_KEYRING_MAX_RECORDS + 1, &nk)));
    KF_CHECK(nk == nrec && nk >= 1 && nk <= KMS_KEYRING_MAX_RECORDS);
    size_t active = 0;
    for (size_t i = 0; i < nk; i++) {
        KF_CHECK(keys[i].id >= 1 && keys[i].id < next_id);
        KF_CHECK(i == 0 || keys[i].id < keys[i - 1].id);
        active += keys[i].state == KMS_KEY_ACTIVE;
        check_key(&keys[i], KF_NOW);
    }
    KF_CHECK(active == 1);
    struct kms_key_info newest;
    memset(&newest, 0, sizeof(newest));
    KF_CHECK(kms_ok(kms_keyring_list(kr, KF_NOW, &newest, 1, &nk)) && nk == 1);
    KF_CHECK(memcmp(&newest, &keys[0], sizeof(newest)) == 0);

    check_acquire(kr, NULL, 0, KF_NOW);
    check_acquire(kr, NULL, next_id, KF_NOW);
    for (size_t i = 0; i < nk; i++) {
        check_acquire(kr, &keys[i], keys[i].id, keys[i].activated);
        check_acquire(kr, &keys[i], keys[i].id, keys[i].grace_until);
    }
    free(keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > KMS_KEYRING_FILE_MAX + 2) {
        return 0;
    }
    once();
    const bool raw = (data[0] & 1) != 0;
    const size_t blen = size - 1;
    const size_t n = raw ? blen : blen + MAC_LEN;
    uint8_t *f = kf_dup(data + 1, blen, raw ? 0 : MAC_LEN);
    if (!raw) {
        /* The file keystore's MAC depends on neither the ring id nor the format. */
        static const uint8_t no_ring[KMS_RING_ID_LEN];
        kf_setup_ok(ks->ops->file_mac(ks, no_ring, 2, f, blen, f + blen), "file_mac");
    }
    write_file(f, n);
    enum kms_err want = header_verdict(f, n);

    struct kms_keyring *kr = NULL;
    kms_result r = kms_keyring_open(path, ks, &kr);
    if (want != KMS_OK) {
        if (r.err != want) {
            fprintf(stderr, "keyring file of %zu octets: %s, expected %s\n", n, kms_err_name(r.err),
                    kms_err_name(want));
            kf_fail("the checks before the records give their documented codes", __FILE__,
                    __LINE__);
        }
    } else if (!kms_ok(r)) {
        KF_CHECK(r.err == KMS_ERR_TRUNCATED || r.err == KMS_ERR_MALFORMED ||
                 r.err == KMS_ERR_TRAILING || (r.err == KMS_ERR_KEYRING_ANCHOR && f[8] == 2));
    }
    if (!kms_ok(r)) {
        KF_CHECK(kr == NULL);
    } else {
        KF_CHECK(kr != NULL);
        check_accepted(kr, f, n);
        kms_keyring_close(kr);
    }
    free(f);
    return 0;
}

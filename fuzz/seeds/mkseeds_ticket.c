/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the descriptively named seeds of the sealed-ticket and keyring fuzz surfaces:
 *   <dir>/ticket_payload/  ticket payloads (kms_ticket_payload_encode of realistic claims of
 *                          both kinds, at the limits, with a non-critical unknown field) and
 *                          near-misses (truncated, out of order, repeated, unknown critical...);
 *   <dir>/ticket_open/     mode octet || input (fuzz_ticket_open.c): the valid payloads and the
 *                          time edge cases to be sealed by the harness (odd modes), and whole
 *                          tickets sealed here (even modes) with header near-misses;
 *   <dir>/keyring_file/    mode octet || keyring file: bodies (MAC stripped, the harness
 *                          appends it) of real keyrings under the fuzz KEK after creation,
 *                          rotations, a revocation, expiry and at 64 records, plus near-misses
 *                          and whole files (mode 1) with a right and a wrong MAC.
 * Every seed meant to be valid is checked before it is written (exit 1 otherwise). The times
 * are relative to KF_NOW and the keyrings use the KEK of fuzz_keyring_common.h, so the
 * harnesses see what these seeds were written for.
 *
 * Not a test. Built as build/bin/fuzz_mkseeds_ticket by every KMS_FUZZ=OFF build; regenerate
 * the seeds with
 *     cmake --build build --target fuzz_mkseeds_ticket && build/bin/fuzz_mkseeds_ticket fuzz/corpus
 * Files of the same name are overwritten; inputs merged by libFuzzer are left alone.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz_keyring_common.h"
#include "err/kms_err.h"
#include "keyring/kms_keyring.h"
#include "ticket/kms_ticket.h"
#include "util/kms_buf.h"

static const char *out_dir;
static int n_written, failed;

static void ok_or_die(kms_result r, const char *what)
{
    if (!kms_ok(r)) {
        fprintf(stderr, "fuzz_mkseeds_ticket: %s: %s\n", what, kms_err_name(r.err));
        exit(1);
    }
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_mkseeds_ticket: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* Writes surface/name = prefix octet (unless < 0) || p[0..n). */
static void write_seed(const char *surface, const char *name, int prefix, const uint8_t *p,
                       size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, surface, name);
    FILE *f = fopen(path, "wb");
    uint8_t pre = (uint8_t)prefix;
    if (f == NULL || (prefix >= 0 && fwrite(&pre, 1, 1, f) != 1) ||
        (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_mkseeds_ticket: cannot write %s\n", path);
        exit(1);
    }
    n_written++;
}

/* ---- ticket payloads ---- */

static void kue_claims(struct kms_ticket_claims *c, size_t n_impu)
{
    static const char *const impu[KMS_TICKET_MAX_IDENTS] = {
        "sip:alice@ims.example.org",      "tel:+15551234567",
        "sip:alice.work@ims.example.org", "sip:+15551234567@ims.example.org;user=phone",
        "sip:a3@ims.example.org",         "sip:a4@ims.example.org",
        "sip:a5@ims.example.org",         "sip:a6@ims.example.org"};
    memset(c, 0, sizeof(*c));
    c->kind = KMS_TICKET_KUE;
    c->issued = KF_NOW - 10;
    c->expires = KF_NOW + 3600;
    memset(c->token_id, 0xa5, sizeof(c->token_id));
    c->kue_len = 32;
    for (size_t i = 0; i < c->kue_len; i++) {
        c->kue[i] = (uint8_t)(0x40 + i);
    }
    ok_or_die(kms_ticket_ident_set(&c->impi, "alice@ims.example.org"), "impi");
    for (size_t i = 0; i < n_impu; i++) {
        ok_or_die(kms_ticket_ident_set(&c->impu[i], impu[i]), "impu");
    }
    c->n_impu = n_impu;
    c->mode = 3;
    /* NAF-Id: FQDN || Ua security protocol id (TS 33.220 H.2: 01 00 00 00 06, MIKEY-TICKET) */
    memcpy(c->naf_id, "kms.ims.example.org\x01\x00\x00\x00\x06", 24);
    c->naf_id_len = 24;
    c->ks_naf_expires = KF_NOW + 86400;
}

static void media_claims(struct kms_ticket_claims *c, size_t n_resp, size_t mpk_len)
{
    static const char *const resp[KMS_TICKET_MAX_IDENTS] = {
        "sip:bob@ims.example.org", "tel:+15557654321",       "sip:carol@ims.example.org",
        "sip:r3@ims.example.org",  "sip:r4@ims.example.org", "sip:r5@ims.example.org",
        "sip:r6@ims.example.org",  "sip:r7@ims.example.org"};
    memset(c, 0, sizeof(*c));
    c->kind = KMS_TICKET_MEDIA;
    c->issued = KF_NOW - 1;
    c->expires = KF_NOW + 60;
    memset(c->token_id, 0x3c, sizeof(c->token_id));
    c->tgk_len = 16;
    memset(c->tgk, 0x11, 16);
    c->mpk_len = mpk_len;
    memset(c->mpk, 0x22, mpk_len);
    ok_or_die(kms_ticket_ident_set(&c->initiator, "sip:alice@ims.example.org"), "initiator");
    for (size_t i = 0; i < n_resp; i++) {
        ok_or_die(kms_ticket_ident_set(&c->responder[i], resp[i]), "responder");
    }
    c->n_responder = n_resp;
}

static size_t encode(const struct kms_ticket_claims *c, uint8_t *out, size_t cap)
{
    struct kms_buf b;
    kms_buf_init_fixed(&b, out, cap, false);
    ok_or_die(kms_ticket_payload_encode(c, &b), "payload encode");
    return kms_buf_len(&b);
}

/* A payload seed; also a ticket_open seed (sealed by the harness) under the same name. */
static void seed_payload(const char *name, const uint8_t *p, size_t n, enum kms_ticket_kind kind,
                         bool want_ok)
{
    struct kms_ticket_claims c;
    kms_result r = kms_ticket_payload_decode(p, n, kind, &c);
    if (kms_ok(r) != want_ok) {
        fprintf(stderr, "fuzz_mkseeds_ticket: ticket_payload/%s: %s, expected %s\n", name,
                kms_err_name(r.err), want_ok ? "success" : "a failure");
        failed = 1;
    }
    kms_ticket_claims_wipe(&c);
    write_seed("ticket_payload", name, -1, p, n);
    char sealed[128];
    snprintf(sealed, sizeof(sealed), "sealed_%s", name);
    write_seed("ticket_open", sealed, kind == KMS_TICKET_KUE ? 1 : 3, p, n);
}

/* Offset of the field of type `type` in a well-formed payload (its type octet). */
static size_t field_at(const uint8_t *p, size_t n, uint8_t type)
{
    size_t at = 0;
    while (at + 3 <= n) {
        if (p[at] == type) {
            return at;
        }
        at += 3 + (((size_t)p[at + 1] << 8) | p[at + 2]);
    }
    fprintf(stderr, "fuzz_mkseeds_ticket: no field %02x\n", type);
    exit(1);
}

static size_t field_len(const uint8_t *p, size_t at)
{
    return 3 + (((size_t)p[at + 1] << 8) | p[at + 2]);
}

static void payload_seeds(void)
{
    static uint8_t buf[KMS_TICKET_MAX], bad[KMS_TICKET_MAX + 16];
    struct kms_ticket_claims c;
    size_t n;

    /* valid Kue payloads */
    kue_claims(&c, 2);
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_two_impu", buf, n, KMS_TICKET_KUE, true);
    seed_payload("kue_as_media", buf, n, KMS_TICKET_MEDIA, false);

    /* non-critical unknown fields after the known ones (the order puts them last) */
    memcpy(bad, buf, n);
    const uint8_t nc[] = {0x90, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef, 0xff, 0x00, 0x00};
    memcpy(bad + n, nc, sizeof(nc));
    seed_payload("kue_noncritical_unknown", bad, n + sizeof(nc), KMS_TICKET_KUE, true);
    const uint8_t nc_known[] = {0x84, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(bad + n, nc_known, sizeof(nc_known));
    seed_payload("kue_noncritical_issued", bad, n + sizeof(nc_known), KMS_TICKET_KUE, true);
    const uint8_t crit[] = {0x20, 0x00, 0x01, 0x00};
    memcpy(bad + n, crit, sizeof(crit));
    seed_payload("kue_critical_unknown", bad, n + sizeof(crit), KMS_TICKET_KUE, false);

    /* near-misses of the Kue payload */
    seed_payload("kue_truncated", buf, n - 1, KMS_TICKET_KUE, false);
    memcpy(bad, buf, n);
    bad[n] = 0x00;
    seed_payload("kue_trailing_octet", bad, n + 1, KMS_TICKET_KUE, false);
    {
        /* swap IMPI and KUE: out of order */
        size_t a = field_at(buf, n, KMS_TF_KUE), b = field_at(buf, n, KMS_TF_IMPI);
        size_t la = field_len(buf, a), lb = field_len(buf, b);
        memcpy(bad, buf + b, lb);
        memcpy(bad + lb, buf + a, la);
        memcpy(bad + la + lb, buf + b + lb, n - la - lb);
        seed_payload("kue_out_of_order", bad, n, KMS_TICKET_KUE, false);
        /* IMPI twice */
        memcpy(bad, buf, b + lb);
        memcpy(bad + b + lb, buf + b, n - b);
        seed_payload("kue_impi_twice", bad, n + lb, KMS_TICKET_KUE, false);
    }
    {
        size_t m = field_at(buf, n, KMS_TF_MODE);
        memcpy(bad, buf, n);
        bad[m + 3] = 4;
        seed_payload("kue_mode_4", bad, n, KMS_TICKET_KUE, false);
        size_t ip = field_at(buf, n, KMS_TF_IMPI);
        memcpy(bad, buf, n);
        bad[ip + 8] = ' ';
        seed_payload("kue_impi_space", bad, n, KMS_TICKET_KUE, false);
        /* 0x07 (COUNTER_BASE, removed with the COUNTER replay mode) where it used to be: an
         * unknown critical field now */
        const uint8_t cb[] = {0x07, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 77};
        memcpy(bad, buf, m);
        memcpy(bad + m, cb, sizeof(cb));
        memcpy(bad + m + sizeof(cb), buf + m, n - m);
        seed_payload("kue_former_counter_base", bad, n + sizeof(cb), KMS_TICKET_KUE, false);
    }
    kue_claims(&c, 0);
    c.mode = 2;
    c.kue_len = KMS_TICKET_KEY_MAX;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_mode2_no_impu_key64", buf, n, KMS_TICKET_KUE, true);
    kue_claims(&c, KMS_TICKET_MAX_IDENTS);
    c.naf_id_len = KMS_TICKET_NAF_ID_MAX;
    memset(c.naf_id, 'n', KMS_TICKET_NAF_ID_MAX);
    c.kue_len = KMS_TICKET_KEY_MIN;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_eight_impu_long_naf_id", buf, n, KMS_TICKET_KUE, true);
    {
        /* a ninth IMPU */
        size_t i0 = field_at(buf, n, KMS_TF_IMPU), l0 = field_len(buf, i0);
        memcpy(bad, buf, i0 + l0);
        memcpy(bad + i0 + l0, buf + i0, n - i0);
        seed_payload("kue_nine_impu", bad, n + l0, KMS_TICKET_KUE, false);
    }
    kue_claims(&c, 1);
    c.expires = c.ks_naf_expires;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_expires_at_ks_naf_expiry", buf, n, KMS_TICKET_KUE, true);
    {
        size_t e = field_at(buf, n, KMS_TF_EXPIRES);
        memcpy(bad, buf, n);
        bad[e + 10] ^= 0x01; /* expires one past ks_naf_expires (KF_NOW+86400 is even) */
        seed_payload("kue_expires_after_ks_naf_expiry", bad, n, KMS_TICKET_KUE, false);
    }

    /* time edge cases for the sealed surface: expired, issued too far ahead, just inside */
    kue_claims(&c, 1);
    c.issued = KF_NOW - 7200;
    c.expires = KF_NOW;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_expired_now", buf, n, KMS_TICKET_KUE, true);
    c.issued = KF_NOW + KMS_TICKET_ISSUE_SKEW + 1;
    c.expires = KF_NOW + 7200;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_issued_too_early", buf, n, KMS_TICKET_KUE, true);
    c.issued = KF_NOW + KMS_TICKET_ISSUE_SKEW;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_issued_at_skew", buf, n, KMS_TICKET_KUE, true);
    c.issued = KF_NOW - 1;
    c.expires = KF_NOW + 1;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("kue_last_second", buf, n, KMS_TICKET_KUE, true);
    {
        size_t e = field_at(buf, n, KMS_TF_EXPIRES);
        memcpy(bad, buf, n);
        memcpy(bad + e + 3, bad + field_at(buf, n, KMS_TF_ISSUED) + 3, 8);
        seed_payload("kue_issued_equals_expires", bad, n, KMS_TICKET_KUE, false);
    }

    /* media payloads */
    media_claims(&c, 1, 32);
    n = encode(&c, buf, sizeof(buf));
    seed_payload("media_mpk", buf, n, KMS_TICKET_MEDIA, true);
    seed_payload("media_as_kue", buf, n, KMS_TICKET_KUE, false);
    seed_payload("media_truncated", buf, n - 1, KMS_TICKET_MEDIA, false);
    memcpy(bad, buf, n);
    memcpy(bad + n, nc, sizeof(nc));
    seed_payload("media_noncritical_unknown", bad, n + sizeof(nc), KMS_TICKET_MEDIA, true);
    {
        size_t t = field_at(buf, n, KMS_TF_TGK);
        memcpy(bad, buf, n);
        bad[t + 2] = 15; /* TGK of 15 octets: the rest shifts into the next field */
        seed_payload("media_tgk_len_15", bad, n, KMS_TICKET_MEDIA, false);
        /* no responder: drop the last field */
        size_t r = field_at(buf, n, KMS_TF_RESPONDER);
        seed_payload("media_no_responder", buf, r, KMS_TICKET_MEDIA, false);
    }
    media_claims(&c, KMS_TICKET_MAX_IDENTS, 0);
    c.tgk_len = KMS_TICKET_KEY_MAX;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("media_eight_responders_no_mpk", buf, n, KMS_TICKET_MEDIA, true);
    media_claims(&c, 2, 16);
    c.expires = UINT64_MAX;
    n = encode(&c, buf, sizeof(buf));
    seed_payload("media_expires_max", buf, n, KMS_TICKET_MEDIA, true);

    seed_payload("empty", buf, 0, KMS_TICKET_KUE, false);
    const uint8_t one_field[] = {0x04, 0x00, 0x08, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00};
    seed_payload("issued_only", one_field, sizeof(one_field), KMS_TICKET_MEDIA, false);
}

/* ---- whole tickets ---- */

static void keyring_reset(const char *path)
{
    static const char *const suffix[] = {"", ".lock", ".tmp"};
    char p[400];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        (void)unlink(p);
    }
}

/* Tickets sealed by a keyring like the harness's (key 3 active): in the harness key 3 holds
 * other material, so they get TICKET_TAG; the header variants get the other codes. */
static void ticket_seeds(const char *path, struct kms_keystore *ks)
{
    static uint8_t t[KMS_TICKET_MAX + 2];
    struct kms_keyring *kr = NULL;
    const struct kms_keyring_policy pol = {86400 * 365, 86400 * 365, UINT64_C(1) << 32};
    uint32_t id = 0;
    keyring_reset(path);
    ok_or_die(kms_keyring_create(path, ks, &pol, KF_NOW - 1000, &kr), "create");
    ok_or_die(kms_keyring_rotate(kr, KF_NOW - 999, &id), "rotate");
    ok_or_die(kms_keyring_rotate(kr, KF_NOW - 998, &id), "rotate");
    struct kms_ticket_claims c;
    struct kms_buf b;
    kue_claims(&c, 2);
    kms_buf_init_fixed(&b, t, sizeof(t), false);
    ok_or_die(kms_ticket_seal(kr, KF_NOW, &c, &b), "seal kue");
    size_t n = kms_buf_len(&b);
    write_seed("ticket_open", "whole_kue_key3", 0, t, n);
    write_seed("ticket_open", "whole_kue_key3_as_media", 2, t, n);
    write_seed("ticket_open", "whole_truncated_33", 0, t, KMS_TICKET_OVERHEAD - 1);
    write_seed("ticket_open", "whole_header_and_tag_only", 0, t, KMS_TICKET_OVERHEAD);
    t[5] = 1;
    write_seed("ticket_open", "whole_kue_key1_revoked", 0, t, n);
    t[5] = 2;
    write_seed("ticket_open", "whole_kue_key2_grace", 0, t, n);
    t[5] = 9;
    write_seed("ticket_open", "whole_kue_key9_unknown", 0, t, n);
    t[5] = 3;
    t[0] = 2;
    write_seed("ticket_open", "whole_version_2", 0, t, n);
    t[0] = 1;
    t[1] = 3;
    write_seed("ticket_open", "whole_kind_3", 0, t, n);
    t[1] = 1;
    memset(t + n, 0, sizeof(t) - n);
    write_seed("ticket_open", "whole_too_long", 0, t, KMS_TICKET_MAX + 1);

    media_claims(&c, 2, 32);
    kms_buf_init_fixed(&b, t, sizeof(t), false);
    ok_or_die(kms_ticket_seal(kr, KF_NOW, &c, &b), "seal media");
    write_seed("ticket_open", "whole_media_key3", 2, t, kms_buf_len(&b));
    kms_ticket_claims_wipe(&c);
    kms_keyring_close(kr);
    keyring_reset(path);
}

/* ---- keyring files ---- */

/* Reads the keyring file at path. */
static size_t read_file(const char *path, uint8_t *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_mkseeds_ticket: cannot read %s\n", path);
        exit(1);
    }
    size_t n = fread(out, 1, cap, f);
    fclose(f);
    if (n < 64 || n == cap) {
        fprintf(stderr, "fuzz_mkseeds_ticket: %s has %zu octets\n", path, n);
        exit(1);
    }
    return n;
}

/* The body of the current file (MAC stripped) as a mode-0 seed; returns its length. */
static size_t seed_body(const char *path, const char *name, uint8_t *img, size_t cap)
{
    size_t n = read_file(path, img, cap);
    write_seed("keyring_file", name, 0, img, n - 32);
    return n - 32;
}

static void keyring_seeds(const char *path, struct kms_keystore *ks)
{
    static uint8_t img[KMS_KEYRING_FILE_MAX + 1], bad[KMS_KEYRING_FILE_MAX + 1];
    struct kms_keyring *kr = NULL;
    const struct kms_keyring_policy pol = {86400, 3600, 1000000};
    uint32_t id = 0, new_id = 0;
    uint64_t now = KF_NOW - 5000;

    keyring_reset(path);
    ok_or_die(kms_keyring_create(path, ks, &pol, now, &kr), "create");
    size_t n = seed_body(path, "fresh_one_key", img, sizeof(img));
    /* the whole file, MAC and all, for the raw mode; and with a wrong MAC */
    write_seed("keyring_file", "raw_fresh_one_key", 1, img, n + 32);
    img[n + 31] ^= 1;
    write_seed("keyring_file", "raw_wrong_mac", 1, img, n + 32);
    img[n + 31] ^= 1;
    /* near-misses of the header */
    memcpy(bad, img, n);
    bad[0] = 'X';
    write_seed("keyring_file", "bad_magic", 0, bad, n);
    memcpy(bad, img, n);
    bad[8] = 2;
    write_seed("keyring_file", "format_2", 0, bad, n);
    memcpy(bad, img, n);
    bad[9] = KMS_KEYSTORE_PKCS11;
    write_seed("keyring_file", "kind_pkcs11", 0, bad, n);
    write_seed("keyring_file", "truncated_record", 0, img, n - 1);
    write_seed("keyring_file", "header_only", 0, img, 63);
    memcpy(bad, img, n);
    bad[n] = 0;
    write_seed("keyring_file", "trailing_octet", 0, bad, n + 1);
    memcpy(bad, img, n);
    bad[62] = 0;
    write_seed("keyring_file", "zero_records", 0, bad, n);
    memcpy(bad, img, n);
    bad[63 + 4] = KMS_KEY_GRACE;
    write_seed("keyring_file", "no_active_key", 0, bad, n);
    memcpy(bad, img, n);
    memset(bad + 58, 0, 3);
    bad[61] = 1;
    write_seed("keyring_file", "id_not_below_next_id", 0, bad, n);
    memcpy(bad, img, n);
    memset(bad + 34, 0, 8);
    bad[34 + 7] = 1; /* lifetime 1 s: grace 3600 s is more than 32 x that */
    write_seed("keyring_file", "grace_over_32x_lifetime", 0, bad, n);

    /* rotations, one revoked, one in grace */
    ok_or_die(kms_keyring_rotate(kr, now += 10, &id), "rotate");
    ok_or_die(kms_keyring_rotate(kr, now += 10, &id), "rotate");
    ok_or_die(kms_keyring_rotate(kr, now += 10, &id), "rotate");
    ok_or_die(kms_keyring_revoke(kr, now += 10, 2, &new_id), "revoke 2");
    n = seed_body(path, "four_keys_one_revoked", img, sizeof(img));
    write_seed("keyring_file", "raw_four_keys_one_revoked", 1, img, n + 32);
    /* two active keys: the grace key 3 marked active */
    memcpy(bad, img, n);
    {
        size_t at = 63;
        for (int k = 0; k < 2; k++) {
            at += 55 + bad[at + 54]; /* skip keys 1 and 2 */
        }
        bad[at + 4] = KMS_KEY_ACTIVE;
        memset(bad + at + 6 + 24, 0, 8); /* retired = 0 */
        write_seed("keyring_file", "two_active_keys", 0, bad, n);
    }
    /* revoking the active key brings the next one in the same write */
    ok_or_die(kms_keyring_revoke(kr, now += 10, id, &new_id), "revoke active");
    seed_body(path, "active_revoked_replaced", img, sizeof(img));
    /* expiry: grace of every old key passed */
    size_t destroyed = 0;
    bool rotated = false;
    ok_or_die(kms_keyring_maintain(kr, now + 86400 + 3600 + 5, &destroyed, &rotated), "maintain");
    seed_body(path, "all_old_keys_expired", img, sizeof(img));
    kms_keyring_close(kr);

    /* 64 records: short lifetimes, a rotation and an expiry per step */
    keyring_reset(path);
    const struct kms_keyring_policy fast = {100, 10, 1000};
    now = KF_NOW - 100000;
    ok_or_die(kms_keyring_create(path, ks, &fast, now, &kr), "create fast");
    for (int i = 0; i < 70; i++) {
        ok_or_die(kms_keyring_maintain(kr, now += 200, &destroyed, &rotated), "maintain fast");
    }
    size_t nk = 0;
    struct kms_key_info keys[KMS_KEYRING_MAX_RECORDS];
    ok_or_die(kms_keyring_list(kr, now, keys, KMS_KEYRING_MAX_RECORDS, &nk), "list");
    if (nk != KMS_KEYRING_MAX_RECORDS) {
        fprintf(stderr, "fuzz_mkseeds_ticket: %zu records, expected 64\n", nk);
        failed = 1;
    }
    n = seed_body(path, "sixty_four_records", img, sizeof(img));
    memcpy(bad, img, n);
    bad[62] = 65;
    write_seed("keyring_file", "sixty_five_records", 0, bad, n);
    kms_keyring_close(kr);
    keyring_reset(path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds_ticket CORPUS_DIR   (e.g. fuzz/corpus)\n");
        return 2;
    }
    out_dir = argv[1];
    char path[1024];
    const char *const surfaces[] = {"ticket_payload", "ticket_open", "keyring_file"};
    make_dir(out_dir);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", out_dir, surfaces[i]);
        make_dir(path);
    }
    const char *kr_path = kf_dir_make();
    struct kms_keystore *ks = kf_keystore();
    payload_seeds();
    ticket_seeds(kr_path, ks);
    keyring_seeds(kr_path, ks);
    kms_keystore_close(ks);
    printf("fuzz_mkseeds_ticket: %d seeds written under %s\n", n_written, out_dir);
    return failed;
}

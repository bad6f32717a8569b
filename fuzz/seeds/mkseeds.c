/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the descriptively named seeds of the MIKEY fuzz surfaces:
 *   <dir>/mikey_decode/   whole messages (RFC 3830, RFC 4563, RFC 6043, RFC 6509 shapes, the
 *                         foreign RTSP message of tests/vectors/mikey_foreign.txt) and
 *                         near-misses;
 *   <dir>/mikey_ticket/   selector octet (even TP, odd TICKET) || TP/TICKET payload onwards,
 *                         and TP data / initiator data chains;
 *   <dir>/mikey_keydata/  KEMAC encr_data plaintexts (Key data sub-payload chains).
 * Every seed meant to be valid is decoded before it is written (exit 1 otherwise).
 *
 * Not a test. Built as build/bin/fuzz_mkseeds by every KMS_FUZZ=OFF build (fuzz/CMakeLists.txt);
 * regenerate the seeds with
 *     cmake --build build --target fuzz_mkseeds && build/bin/fuzz_mkseeds fuzz/corpus
 * or by hand against the library:
 *     cc -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Ilib fuzz/seeds/mkseeds.c \
 *        build/lib/libimskms.a -lcrypto -lpthread -o /tmp/mkseeds && /tmp/mkseeds fuzz/corpus
 * Files of the same name are overwritten; inputs merged by libFuzzer (named by SHA-1) are left
 * alone.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err/kms_err.h"
#include "mikey/kms_mikey.h"
#include "util/kms_buf.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"

/* tests/vectors/mikey_foreign.txt, block "rtsp psk i_message null encr" */
static const char foreign_b64[] =
    "AQAFAElq4SIBAAA6zCzrAAAAAAsA7d5mHVUyqcsKEP9Ynnh3rIApS64s5GNDOb4BAAAAHgABAQEBEAIBAQMBFAQBDgUB"
    "AAcBAQgBAQoBAQsBCgAAACcAIQAepnM1qcQLCtXMUZ8imXhhE4K37b1PTMal3WhDgdssBAAAAAEA";

static const char *out_dir;
static int n_written, failed;

static struct kms_bytes B(const void *p, size_t n) {
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_bytes
S(const char *s) {
    return B(s, strlen(s));
}

static void
die(const char *what)
{
    fprintf(stderr, "fuzz_mkseeds: %s\n", what);
    exit(1);
}

static void ok_or_die(kms_result r, const char *what)
{
    if (!kms_ok(r)) {
        fprintf(stderr, "fuzz_mkseeds: %s: %s\n", what, kms_err_name(r.err));
        exit(1);
    }
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_mkseeds: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void write_seed(const char *surface, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, surface, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_mkseeds: cannot write %s\n", path);
        exit(1);
    }
    n_written++;
}

/* Writes a mikey_decode seed; want_ok says whether it must decode. */
static void seed_msg(const char *name, const uint8_t *p, size_t n, bool want_ok)
{
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    size_t eo;
    if (m == NULL) {
        die("out of memory");
    }
    kms_result r = kms_mikey_decode(p, n, m, &eo);
    if (kms_ok(r) != want_ok) {
        fprintf(stderr, "fuzz_mkseeds: mikey_decode/%s: %s at %zu, expected %s\n", name,
                kms_err_name(r.err), eo, want_ok ? "success" : "a failure");
        failed = 1;
    }
    free(m);
    write_seed("mikey_decode", name, p, n);
}

static void seed_chain(const char *name, const uint8_t *p, size_t n, bool want_ok)
{
    struct kms_mikey_plist *l = malloc(sizeof(*l));
    struct kms_cur c;
    size_t eo;
    if (l == NULL) {
        die("out of memory");
    }
    kms_cur_init(&c, p, n);
    kms_result r = kms_mikey_chain_decode(&c, l, &eo);
    if (kms_ok(r) != want_ok) {
        fprintf(stderr, "fuzz_mkseeds: mikey_ticket/%s (chain): %s at %zu\n", name,
                kms_err_name(r.err), eo);
        failed = 1;
    }
    free(l);
    write_seed("mikey_ticket", name, p, n);
}

static void seed_keydata(const char *name, const uint8_t *p, size_t n, bool want_ok)
{
    struct kms_mikey_keydata_list l;
    size_t eo;
    kms_result r = kms_mikey_keydata_decode(p, n, &l, &eo);
    if (kms_ok(r) != want_ok) {
        fprintf(stderr, "fuzz_mkseeds: mikey_keydata/%s: %s at %zu\n", name, kms_err_name(r.err),
                eo);
        failed = 1;
    }
    write_seed("mikey_keydata", name, p, n);
}

/* The ticket seed for a message whose payload k is TP or TICKET: selector octet, then the
 * message from that payload on (the harness puts its own header in front). */
static void seed_ticket_from(const char *name, const struct kms_mikey_msg *m, const uint8_t *msg,
                             size_t n, size_t k, bool want_ok)
{
    const struct kms_mikey_payload *pl = &m->body.pl[k];
    uint8_t *s = malloc(n + 1);
    if (s == NULL) {
        die("out of memory");
    }
    s[0] = pl->type == KMS_MIKEY_PT_TICKET ? 1 : 0;
    memcpy(s + 1, msg + pl->off, n - pl->off);
    size_t len = 1 + n - pl->off;
    /* check it the way the harness will see it */
    uint8_t *full = malloc(10 + len);
    struct kms_mikey_msg *d = malloc(sizeof(*d));
    size_t eo;
    if (full == NULL || d == NULL) {
        die("out of memory");
    }
    const uint8_t hdr[10] = {
        1, KMS_MIKEY_DT_REQUEST_INIT_PSK, pl->type, 1, 0, 0, 0, 0, 0, KMS_MIKEY_MAP_EMPTY};
    memcpy(full, hdr, 10);
    memcpy(full + 10, s + 1, len - 1);
    kms_result r = kms_mikey_decode(full, 10 + len - 1, d, &eo);
    if (kms_ok(r) != want_ok) {
        fprintf(stderr, "fuzz_mkseeds: mikey_ticket/%s: %s at %zu\n", name, kms_err_name(r.err),
                eo);
        failed = 1;
    }
    write_seed("mikey_ticket", name, s, len);
    free(d);
    free(full);
    free(s);
}

/* ---- building blocks ---------------------------------------------------------------------- */

static uint8_t mac20[20], mac32[32], rnd16[16], rnd32[32], psk_id[16], blob[256], dhv[192];
static uint8_t hash32[32], sig[128], ssrc_sd[10], spi4[4] = {0xde, 0xad, 0xbe, 0xef};
static const uint8_t sp_params[] = {0x00, 0x01, 0x01, 0x01, 0x01, 0x10, 0x0b, 0x01,
                                    0x0a, 0x02, 0x01, 0x14, 0x0d, 0x01, 0x01};

static void fill_patterns(void)
{
    for (size_t i = 0; i < sizeof(blob); i++) {
        blob[i] = (uint8_t)(i * 7 + 3);
    }
    for (size_t i = 0; i < 32; i++) {
        mac32[i] = (uint8_t)(0x80 + i);
        rnd32[i] = (uint8_t)(0x40 + 3 * i);
        hash32[i] = (uint8_t)(0xa0 + i);
    }
    for (size_t i = 0; i < 20; i++) {
        mac20[i] = (uint8_t)(0x5a ^ i);
    }
    for (size_t i = 0; i < 16; i++) {
        rnd16[i] = (uint8_t)(0x11 * (i + 1));
        psk_id[i] = (uint8_t)(0xc0 + i);
    }
    memset(dhv, 0x77, sizeof(dhv));
    memset(sig, 0x33, sizeof(sig));
    memcpy(ssrc_sd, "\x11\x22\x33\x44\x00\x00\x00\x01\x00\x02", 10);
}

static struct kms_mikey_payload *add(struct kms_mikey_plist *l, uint8_t type)
{
    if (l->n >= KMS_MIKEY_MAX_PAYLOADS) {
        die("too many payloads");
    }
    struct kms_mikey_payload *pl = &l->pl[l->n++];
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    return pl;
}

static void hdr_init(struct kms_mikey_msg *m, uint8_t data_type, bool v, uint8_t prf,
                     uint8_t map_type)
{
    memset(m, 0, sizeof(*m));
    m->hdr.version = KMS_MIKEY_VERSION;
    m->hdr.data_type = data_type;
    m->hdr.v = v;
    m->hdr.prf = prf;
    m->hdr.csb_id = 0x2a5b8c01;
    m->hdr.map_type = map_type;
}

static void add_t(struct kms_mikey_plist *l, uint8_t ts_type, uint64_t v)
{
    add(l, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){ts_type, v};
}

static void add_idr(struct kms_mikey_plist *l, uint8_t role, uint8_t type, struct kms_bytes d)
{
    add(l, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){role, type, d};
}

static void add_v(struct kms_mikey_plist *l, uint8_t alg)
{
    struct kms_bytes mac = alg == 2 ? B(mac32, 32) : alg == 1 ? B(mac20, 20) : B(NULL, 0);
    add(l, KMS_MIKEY_PT_V)->u.v = (struct kms_mikey_v){alg, mac};
}

static void add_randr(struct kms_mikey_plist *l, uint8_t role, struct kms_bytes r)
{
    add(l, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){role, r};
}

/* Encodes a chain into caller storage; returns its length. */
static size_t chain_into(struct kms_mikey_plist *l, uint8_t *out, size_t cap)
{
    struct kms_buf b;
    kms_buf_init_fixed(&b, out, cap, false);
    ok_or_die(kms_mikey_chain_encode(l, &b), "chain encode");
    return kms_buf_len(&b);
}

/* Plain Key data: one TGK (16 octets) or a TEK + SALT with an SPI. */
static uint8_t kd_tgk[64], kd_tek_salt[80], tp_chain[512], tp_chain_kms[512], init_vv[64];
static size_t kd_tgk_len, kd_tek_salt_len, tp_chain_len, tp_chain_kms_len, init_vv_len;

static size_t keydata_into(const struct kms_mikey_keydata_list *l, uint8_t *out, size_t cap)
{
    struct kms_buf b;
    kms_buf_init_fixed(&b, out, cap, false);
    ok_or_die(kms_mikey_keydata_encode(l, &b), "keydata encode");
    return kms_buf_len(&b);
}

static void build_blocks(void)
{
    struct kms_mikey_keydata_list kl = {0};
    kl.n = 1;
    kl.kd[0] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TGK, .key = B(rnd16, 16)};
    kd_tgk_len = keydata_into(&kl, kd_tgk, sizeof(kd_tgk));
    kl.kd[0] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TEK_SALT,
                                          .kv = KMS_MIKEY_KV_SPI,
                                          .key = B(rnd16, 16),
                                          .salt = B(rnd32, 14),
                                          .kv_a = B(spi4, 4)};
    kd_tek_salt_len = keydata_into(&kl, kd_tek_salt, sizeof(kd_tek_salt));

    /* TP data of a REQUEST_INIT: IDRr, TRs, TRe (RFC 6043 5.1.1 wishes of the initiator) */
    struct kms_mikey_plist l = {0};
    add_idr(&l, 2, 1, S("sip:bob@example.org"));
    add(&l, KMS_MIKEY_PT_TR)->u.tr = (struct kms_mikey_tr){2, KMS_MIKEY_TS_NTP_UTC_32, 0xe9b1c0deu};
    add(&l, KMS_MIKEY_PT_TR)->u.tr =
        (struct kms_mikey_tr){3, KMS_MIKEY_TS_NTP_UTC, 0xe9b2000000000000ULL};
    tp_chain_len = chain_into(&l, tp_chain, sizeof(tp_chain));

    /* TP data as a KMS fills it: IDRkms, IDRi, TRs, TRe, KEMAC (NULL/NULL), IDRr */
    memset(&l, 0, sizeof(l));
    add_idr(&l, 3, 1, S("sip:kms.example.org"));
    add_idr(&l, 1, 1, S("sip:alice@example.org"));
    add(&l, KMS_MIKEY_PT_TR)->u.tr = (struct kms_mikey_tr){2, KMS_MIKEY_TS_NTP_UTC_32, 0xe9b1c0deu};
    add(&l, KMS_MIKEY_PT_TR)->u.tr = (struct kms_mikey_tr){3, KMS_MIKEY_TS_COUNTER, 7};
    add(&l, KMS_MIKEY_PT_KEMAC)->u.kemac =
        (struct kms_mikey_kemac){0, B(kd_tgk, kd_tgk_len), 0, B(NULL, 0)};
    add_idr(&l, 2, 1, S("sip:bob@example.org"));
    tp_chain_kms_len = chain_into(&l, tp_chain_kms, sizeof(tp_chain_kms));

    /* Initiator data with key forking: Vi (HMAC-SHA-256), Vr (HMAC-SHA-1) */
    memset(&l, 0, sizeof(l));
    add_v(&l, 2);
    add_v(&l, 1);
    init_vv_len = chain_into(&l, init_vv, sizeof(init_vv));
}

static void add_tp(struct kms_mikey_plist *l, uint16_t flags, const uint8_t *tpd, size_t tpl)
{
    add(l, KMS_MIKEY_PT_TP)->u.ticket = (struct kms_mikey_ticket){
        .type = 1, .subtype = 1, .version = 1, .prf = 1, .flags = flags, .tp_data = B(tpd, tpl)};
}

static void add_ticket(struct kms_mikey_plist *l, uint16_t flags, uint8_t reserved,
                       struct kms_bytes tpd, struct kms_bytes td, struct kms_bytes initd)
{
    add(l, KMS_MIKEY_PT_TICKET)->u.ticket = (struct kms_mikey_ticket){.type = 2,
                                                                      .subtype = 1,
                                                                      .version = 1,
                                                                      .prf = 1,
                                                                      .flags = flags,
                                                                      .reserved = reserved,
                                                                      .tp_data = tpd,
                                                                      .ticket_data = td,
                                                                      .init_data = initd};
}

/* Encodes m, writes the decode seed and, for each TP/TICKET in it, a ticket seed. */
static void emit(const char *name, struct kms_mikey_msg *m)
{
    struct kms_buf b;
    kms_buf_init(&b, KMS_MIKEY_MAX_MSG, false);
    ok_or_die(kms_mikey_encode(m, &b), name);
    seed_msg(name, kms_buf_data(&b), kms_buf_len(&b), true);
    for (size_t k = 0; k < m->body.n; k++) {
        uint8_t t = m->body.pl[k].type;
        if (t == KMS_MIKEY_PT_TP || t == KMS_MIKEY_PT_TICKET) {
            char tname[256];
            snprintf(tname, sizeof(tname), "%s_%s%zu", name, t == KMS_MIKEY_PT_TP ? "tp" : "ticket",
                     k);
            seed_ticket_from(tname, m, kms_buf_data(&b), kms_buf_len(&b), k, true);
        }
        if (t == KMS_MIKEY_PT_KEMAC && m->body.pl[k].u.kemac.encr_alg == 0 &&
            m->body.pl[k].u.kemac.encr_data.len > 0) {
            char kname[256];
            snprintf(kname, sizeof(kname), "from_%s", name);
            seed_keydata(kname, m->body.pl[k].u.kemac.encr_data.p,
                         m->body.pl[k].u.kemac.encr_data.len, true);
        }
    }
    kms_buf_cleanup(&b);
}

/* ---- messages ----------------------------------------------------------------------------- */

static struct kms_mikey_msg msg;

static void rfc6043_messages(void)
{
    const uint64_t ntp = 0xe9b1c0de12345678ULL;
    struct kms_mikey_plist *l = &msg.body;

    /* REQUEST_INIT_PSK (RFC 6043 5.1.1): HDR, T, RANDRi, [IDRi], [IDRkms], TP, [IDRpsk], V */
    hdr_init(&msg, KMS_MIKEY_DT_REQUEST_INIT_PSK, true, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp);
    add_randr(l, 1, B(rnd16, 16));
    add_idr(l, 1, 1, S("sip:alice@example.org"));
    add_idr(l, 3, 1, S("sip:kms.example.org"));
    add_tp(l, KMS_MIKEY_TF_E | KMS_MIKEY_TF_G, tp_chain, tp_chain_len);
    add_idr(l, 4, 2, B(psk_id, 16));
    add_v(l, 2);
    emit("rfc6043_request_init_psk", &msg);

    /* the same with an empty TP data, and with only the mandatory payloads */
    hdr_init(&msg, KMS_MIKEY_DT_REQUEST_INIT_PSK, true, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC_32, 0xe9b1c0deu);
    add_randr(l, 1, B(rnd32, 32));
    add_tp(l, 0, NULL, 0);
    add_v(l, 2);
    emit("rfc6043_request_init_psk_minimal", &msg);

    /* REQUEST_INIT_PK (5.1.1): HDR, T, RANDRi, [IDRi], [CERTi], [IDRkms], TP, [CHASH], PKE,
     * SIGN */
    hdr_init(&msg, KMS_MIKEY_DT_REQUEST_INIT_PK, true, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp);
    add_randr(l, 1, B(rnd16, 16));
    add_idr(l, 1, 1, S("sip:alice@example.org"));
    add(l, KMS_MIKEY_PT_CERT)->u.id = (struct kms_mikey_id){0, 0, B(blob, 120)};
    add_idr(l, 3, 1, S("sip:kms.example.org"));
    add_tp(l, KMS_MIKEY_TF_D, tp_chain, tp_chain_len);
    add(l, KMS_MIKEY_PT_CHASH)->u.chash = (struct kms_mikey_chash){2, B(hash32, 32)};
    add(l, KMS_MIKEY_PT_PKE)->u.pke = (struct kms_mikey_pke){0, B(blob, 128)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){0, B(sig, 128)};
    emit("rfc6043_request_init_pk", &msg);

    /* REQUEST_RESP (5.1.2): HDR, T, [IDRkms], TICKET, KEMAC, V. KEMAC AES-CM-128, MAC NULL */
    hdr_init(&msg, KMS_MIKEY_DT_REQUEST_RESP, false, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 1);
    add_idr(l, 3, 1, S("sip:kms.example.org"));
    add_ticket(l, KMS_MIKEY_TF_E | KMS_MIKEY_TF_G, 0, B(tp_chain_kms, tp_chain_kms_len),
               B(blob, 96), B(NULL, 0));
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){1, B(blob, 44), 0, B(NULL, 0)};
    add_v(l, 2);
    emit("rfc6043_request_resp", &msg);

    /* REQUEST_RESP with key forking: initiator data Vi Vr, every flag, reserved bits */
    hdr_init(&msg, KMS_MIKEY_DT_REQUEST_RESP, false, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP, ntp);
    add_ticket(l, 0x0fff, 0x1f, B(tp_chain_kms, tp_chain_kms_len), B(blob, 32),
               B(init_vv, init_vv_len));
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){2, B(blob, 24), 0, B(NULL, 0)};
    add_v(l, 2);
    emit("rfc6043_request_resp_forking", &msg);

    /* TRANSFER_INIT_PSK (5.1.3) with a GENERIC-ID map: HDR, T, RANDRi, [IDRi], [IDRr],
     * {SP}, TICKET, [IDRpsk], V */
    hdr_init(&msg, KMS_MIKEY_DT_TRANSFER_INIT, true, 1, KMS_MIKEY_MAP_GENERIC_ID);
    static const uint8_t ps[2] = {0, 1};
    msg.hdr.n_cs = 2;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.cs_id = 1,
                                          .prot_type = 0,
                                          .s = true,
                                          .ps = B(ps, 2),
                                          .session_data = B(ssrc_sd, 10),
                                          .spi = B(spi4, 4)};
    msg.hdr.cs[1] =
        (struct kms_mikey_cs){.cs_id = 2, .ps = B(ps, 1), .session_data = B(ssrc_sd, 4)};
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 2);
    add_randr(l, 1, B(rnd16, 16));
    add_idr(l, 1, 1, S("sip:alice@example.org"));
    add_idr(l, 2, 1, S("sip:bob@example.org"));
    add(l, KMS_MIKEY_PT_SP)->u.sp = (struct kms_mikey_sp){0, 0, B(sp_params, sizeof(sp_params))};
    add_ticket(l, KMS_MIKEY_TF_E, 0, B(tp_chain_kms, tp_chain_kms_len), B(blob, 96), B(NULL, 0));
    add_idr(l, 4, 2, B(psk_id, 16));
    add_v(l, 2);
    emit("rfc6043_transfer_init_generic_id", &msg);

    /* TRANSFER_RESP (5.1.4): HDR, T, [IDRr], [RANDRr], [RANDRkms], [KEMAC], V */
    hdr_init(&msg, KMS_MIKEY_DT_TRANSFER_RESP, false, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 3);
    add_idr(l, 2, 1, S("sip:bob@example.org"));
    add_randr(l, 2, B(rnd16, 16));
    add_randr(l, 3, B(rnd32, 32));
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac =
        (struct kms_mikey_kemac){0, B(kd_tek_salt, kd_tek_salt_len), 0, B(NULL, 0)};
    add_v(l, 2);
    emit("rfc6043_transfer_resp", &msg);

    /* RESOLVE_INIT_PSK (5.1.5): HDR, T, RANDRr, [IDRr], [IDRkms], TICKET, [IDRpsk], V */
    hdr_init(&msg, KMS_MIKEY_DT_RESOLVE_INIT_PSK, true, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 4);
    add_randr(l, 2, B(rnd16, 16));
    add_idr(l, 2, 1, S("sip:bob@example.org"));
    add_idr(l, 3, 1, S("sip:kms.example.org"));
    add_ticket(l, KMS_MIKEY_TF_E | KMS_MIKEY_TF_G, 0, B(tp_chain_kms, tp_chain_kms_len),
               B(blob, 96), B(NULL, 0));
    add_idr(l, 4, 2, B(psk_id, 16));
    add_v(l, 2);
    emit("rfc6043_resolve_init_psk", &msg);

    /* RESOLVE_INIT_PK: ... TICKET, [CHASH], PKE, SIGN */
    hdr_init(&msg, KMS_MIKEY_DT_RESOLVE_INIT_PK, true, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 5);
    add_randr(l, 2, B(rnd16, 16));
    add_ticket(l, 0, 0, B(tp_chain_kms, tp_chain_kms_len), B(blob, 64), B(NULL, 0));
    add(l, KMS_MIKEY_PT_PKE)->u.pke = (struct kms_mikey_pke){1, B(blob, 64)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){1, B(sig, 64)};
    emit("rfc6043_resolve_init_pk", &msg);

    /* RESOLVE_RESP (5.1.6): HDR, T, [IDRkms], KEMAC, [IDRi], [RANDRkms], V */
    hdr_init(&msg, KMS_MIKEY_DT_RESOLVE_RESP, false, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 6);
    add_idr(l, 3, 1, S("sip:kms.example.org"));
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){1, B(blob, 28), 0, B(NULL, 0)};
    add_idr(l, 1, 1, S("sip:alice@example.org"));
    add_randr(l, 3, B(rnd16, 16));
    add_v(l, 2);
    emit("rfc6043_resolve_resp", &msg);

    /* Error message (RFC 3830 5.1.2 / RFC 6043 5.1.7): HDR, T, {ERR}, [V] */
    hdr_init(&msg, KMS_MIKEY_DT_ERROR, false, 1, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 7);
    add(l, KMS_MIKEY_PT_ERR)->u.err = (struct kms_mikey_err){14, 0};
    add(l, KMS_MIKEY_PT_ERR)->u.err = (struct kms_mikey_err){0, 0};
    add_v(l, 2);
    emit("rfc6043_error", &msg);
}

static void rfc3830_messages(void)
{
    const uint64_t ntp = 0xe9b1c0de00000001ULL;
    struct kms_mikey_plist *l = &msg.body;

    /* I_MESSAGE PSK (RFC 3830 3.1): HDR (SRTP-ID), T, RAND, [IDi, IDr], {SP}, KEMAC with
     * AES-CM-128 and HMAC-SHA-1-160 */
    hdr_init(&msg, KMS_MIKEY_DT_PSK_INIT, true, 0, KMS_MIKEY_MAP_SRTP_ID);
    msg.hdr.n_cs = 2;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0x3acc2ceb, .roc = 0};
    msg.hdr.cs[1] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0x12345678, .roc = 3};
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd16, 16);
    add(l, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 1, S("sip:alice@example.org")};
    add(l, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 1, S("sip:bob@example.org")};
    add(l, KMS_MIKEY_PT_SP)->u.sp = (struct kms_mikey_sp){0, 0, B(sp_params, sizeof(sp_params))};
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){1, B(blob, 24), 1, B(mac20, 20)};
    emit("rfc3830_i_message_psk", &msg);

    /* R_MESSAGE PSK: HDR, T, [IDr], V (HMAC-SHA-1-160) */
    hdr_init(&msg, KMS_MIKEY_DT_PSK_RESP, false, 0, KMS_MIKEY_MAP_SRTP_ID);
    msg.hdr.n_cs = 1;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0x3acc2ceb, .roc = 0};
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 1);
    add(l, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 1, S("sip:bob@example.org")};
    add_v(l, 1);
    emit("rfc3830_r_message_psk", &msg);

    /* I_MESSAGE PSK with NULL encryption and a plaintext TEK + SALT (like the RTSP one) */
    hdr_init(&msg, KMS_MIKEY_DT_PSK_INIT, false, 0, KMS_MIKEY_MAP_SRTP_ID);
    msg.hdr.n_cs = 1;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 1, .ssrc = 0xcafebabe, .roc = 0};
    add_t(l, KMS_MIKEY_TS_COUNTER, 42);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd16, 16);
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac =
        (struct kms_mikey_kemac){0, B(kd_tek_salt, kd_tek_salt_len), 1, B(mac20, 20)};
    emit("rfc3830_i_message_psk_null", &msg);

    /* PK_INIT (3.2): HDR, T, RAND, [IDi|CERTi], [IDr], {SP}, KEMAC, [CHASH], PKE, SIGN */
    hdr_init(&msg, KMS_MIKEY_DT_PK_INIT, true, 0, KMS_MIKEY_MAP_SRTP_ID);
    msg.hdr.n_cs = 1;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0x01020304, .roc = 0};
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 2);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd16, 16);
    add(l, KMS_MIKEY_PT_CERT)->u.id = (struct kms_mikey_id){0, 0, B(blob, 200)};
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){1, B(blob, 24), 1, B(mac20, 20)};
    add(l, KMS_MIKEY_PT_CHASH)->u.chash = (struct kms_mikey_chash){0, B(hash32, 20)};
    add(l, KMS_MIKEY_PT_PKE)->u.pke = (struct kms_mikey_pke){2, B(blob, 128)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){0, B(sig, 128)};
    emit("rfc3830_pk_init", &msg);

    /* PK_RESP: HDR, T, [IDr], V */
    hdr_init(&msg, KMS_MIKEY_DT_PK_RESP, false, 0, KMS_MIKEY_MAP_SRTP_ID);
    add_t(l, KMS_MIKEY_TS_NTP, ntp + 3);
    add_v(l, 1);
    emit("rfc3830_pk_resp", &msg);

    /* DH_INIT (3.3): HDR, T, RAND, [IDi|CERTi], [IDr], {SP}, DHi, SIGN; OAKLEY 5 */
    hdr_init(&msg, KMS_MIKEY_DT_DH_INIT, true, 0, KMS_MIKEY_MAP_SRTP_ID);
    msg.hdr.n_cs = 1;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0x0badf00d, .roc = 1};
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 4);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd32, 32);
    add(l, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 0, S("alice@example.org")};
    add(l, KMS_MIKEY_PT_DH)->u.dh =
        (struct kms_mikey_dh){0, B(dhv, 192), 0, KMS_MIKEY_KV_NULL, B(NULL, 0), B(NULL, 0)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){0, B(sig, 128)};
    emit("rfc3830_dh_init", &msg);

    /* DH_RESP: HDR, T, [IDr|CERTr], [IDi], DHr, DHi, SIGN; OAKLEY 1 and 2 with KV data */
    hdr_init(&msg, KMS_MIKEY_DT_DH_RESP, false, 0, KMS_MIKEY_MAP_SRTP_ID);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 5);
    add(l, KMS_MIKEY_PT_DH)->u.dh =
        (struct kms_mikey_dh){1, B(dhv, 96), 0, KMS_MIKEY_KV_SPI, B(spi4, 4), B(NULL, 0)};
    add(l, KMS_MIKEY_PT_DH)->u.dh =
        (struct kms_mikey_dh){2, B(dhv, 128), 3, KMS_MIKEY_KV_INTERVAL, B(spi4, 2), B(spi4, 3)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){15, B(sig, 0)};
    emit("rfc3830_dh_resp", &msg);

    /* DHHMAC_INIT (RFC 4650): HDR, T, RAND, [IDi], [IDr], {SP}, DHi, KEMAC (NULL, HMAC-SHA-1) */
    hdr_init(&msg, KMS_MIKEY_DT_DHHMAC_INIT, true, 0, KMS_MIKEY_MAP_SRTP_ID);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 6);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd16, 1);
    add(l, KMS_MIKEY_PT_DH)->u.dh =
        (struct kms_mikey_dh){2, B(dhv, 128), 0, KMS_MIKEY_KV_NULL, B(NULL, 0), B(NULL, 0)};
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){0, B(NULL, 0), 1, B(mac20, 20)};
    emit("rfc4650_dhhmac_init", &msg);

    /* RSA-R (RFC 4738) I_MESSAGE: HDR, T, RAND, [IDi|CERTi], [IDr], {SP}, SIGN */
    hdr_init(&msg, KMS_MIKEY_DT_RSA_R_INIT, true, 0, KMS_MIKEY_MAP_SRTP_ID);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 7);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd16, 16);
    add(l, KMS_MIKEY_PT_GENEXT)->u.genext = (struct kms_mikey_genext){1, S("sdp-session-id")};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){2, B(sig, 100)};
    emit("rfc4738_rsa_r_init", &msg);

    /* SAKKE I_MESSAGE (RFC 6509): HDR (Empty map), T, RAND, [IDRi], [IDRr], {SP}, SAKKE, SIGN */
    hdr_init(&msg, KMS_MIKEY_DT_SAKKE, false, 0, KMS_MIKEY_MAP_EMPTY);
    add_t(l, KMS_MIKEY_TS_NTP_UTC, ntp + 8);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rnd16, 16);
    add_idr(l, 1, 1, S("tel:+15555550100"));
    add_idr(l, 2, 1, S("tel:+15555550101"));
    add_idr(l, 6, 1, S("kms.example.org"));
    add(l, KMS_MIKEY_PT_SAKKE)->u.sakke = (struct kms_mikey_sakke){1, 1, B(blob, 129)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){2, B(sig, 129)};
    emit("rfc6509_sakke", &msg);

    /* No payload at all: only the header, Empty map with two CS */
    hdr_init(&msg, KMS_MIKEY_DT_PSK_INIT, false, 0, KMS_MIKEY_MAP_EMPTY);
    msg.hdr.n_cs = 2;
    emit("hdr_only_empty_map", &msg);
}

/* Every payload type and a GENERIC-ID map, as in tests/unit/test_mikey.c. */
static void everything_message(uint8_t *out, size_t cap, size_t *n)
{
    struct kms_mikey_plist *l = &msg.body;
    static const uint8_t ps[2] = {0, 1};
    hdr_init(&msg, KMS_MIKEY_DT_TRANSFER_INIT, true, 1, KMS_MIKEY_MAP_GENERIC_ID);
    msg.hdr.csb_id = 0x01020304;
    msg.hdr.n_cs = 2;
    msg.hdr.cs[0] = (struct kms_mikey_cs){.cs_id = 1,
                                          .prot_type = 0,
                                          .s = true,
                                          .ps = B(ps, 2),
                                          .session_data = B(ssrc_sd, 10),
                                          .spi = B(spi4, 4)};
    msg.hdr.cs[1] =
        (struct kms_mikey_cs){.cs_id = 2, .ps = B(ps, 1), .session_data = B(ssrc_sd, 4)};
    add_t(l, KMS_MIKEY_TS_NTP_UTC, 0xe9b1c0de12345678ULL);
    add_t(l, KMS_MIKEY_TS_COUNTER, 7);
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(hash32, 16);
    add_randr(l, 1, B(hash32, 32));
    add(l, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 0, S("alice@example.org")};
    add_idr(l, 4, 2, B(hash32, 20));
    add(l, KMS_MIKEY_PT_CERT)->u.id = (struct kms_mikey_id){0, 0, B(sig, 40)};
    add(l, KMS_MIKEY_PT_TR)->u.tr = (struct kms_mikey_tr){1, KMS_MIKEY_TS_NTP, 42};
    add(l, KMS_MIKEY_PT_SP)->u.sp = (struct kms_mikey_sp){0, 0, B(sp_params, 9)};
    add_tp(l, KMS_MIKEY_TF_E | KMS_MIKEY_TF_J, tp_chain_kms, tp_chain_kms_len);
    add_ticket(l,
               KMS_MIKEY_TF_D | KMS_MIKEY_TF_E | KMS_MIKEY_TF_I | KMS_MIKEY_TF_K | KMS_MIKEY_TF_O,
               0x05, B(tp_chain_kms, tp_chain_kms_len), B(sig, 48), B(init_vv, init_vv_len));
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){1, B(sig, 30), 2, B(mac32, 32)};
    add(l, KMS_MIKEY_PT_PKE)->u.pke = (struct kms_mikey_pke){2, B(sig, 64)};
    add(l, KMS_MIKEY_PT_DH)->u.dh =
        (struct kms_mikey_dh){2, B(dhv, 128), 0, 2, B(spi4, 4), B(spi4, 2)};
    add(l, KMS_MIKEY_PT_CHASH)->u.chash = (struct kms_mikey_chash){2, B(hash32, 32)};
    add(l, KMS_MIKEY_PT_ERR)->u.err = (struct kms_mikey_err){14, 0};
    add(l, KMS_MIKEY_PT_GENEXT)->u.genext = (struct kms_mikey_genext){1, S("sdp-id")};
    add(l, KMS_MIKEY_PT_SAKKE)->u.sakke = (struct kms_mikey_sakke){1, 1, B(sig, 33)};
    add_v(l, 1);
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){1, B(sig, 64)};
    emit("every_payload_generic_id", &msg);
    struct kms_buf b;
    kms_buf_init_fixed(&b, out, cap, false);
    ok_or_die(kms_mikey_encode(&msg, &b), "everything");
    *n = kms_buf_len(&b);
}

/* A minimal message: the REQUEST_INIT_PSK Empty-map header, then the given payload bytes. */
static size_t msg_with(uint8_t *out, uint8_t first, const uint8_t *body, size_t n)
{
    const uint8_t hdr[] = {0x01, 0x0b, first, 0x01, 0xca, 0xfe, 0xba, 0xbe, 0x00, 0x01};
    memcpy(out, hdr, sizeof(hdr));
    memcpy(out + sizeof(hdr), body, n);
    return sizeof(hdr) + n;
}

static void near_misses(const uint8_t *every, size_t every_len)
{
    static uint8_t buf[8192];
    size_t n;

    /* the foreign RTSP message itself, and one octet short / one octet long */
    uint8_t raw[512];
    ok_or_die(kms_base64_decode(foreign_b64, strlen(foreign_b64), raw, sizeof(raw), &n),
              "foreign base64");
    seed_msg("foreign_rtsp_psk_i_message_null", raw, n, true);
    seed_msg("foreign_rtsp_truncated", raw, n - 1, false);
    memcpy(buf, raw, n);
    buf[n] = 0;
    seed_msg("foreign_rtsp_trailing", buf, n + 1, false);
    {
        struct kms_mikey_msg *m = malloc(sizeof(*m));
        size_t eo;
        if (m == NULL) {
            die("out of memory");
        }
        ok_or_die(kms_mikey_decode(raw, n, m, &eo), "foreign decode");
        const struct kms_mikey_kemac *k = &m->body.pl[3].u.kemac;
        seed_keydata("foreign_rtsp_tek_spi", k->encr_data.p, k->encr_data.len, true);
        free(m);
    }

    seed_msg("every_payload_truncated", every, every_len - 1, false);
    memcpy(buf, every, every_len);
    buf[every_len] = 0;
    seed_msg("every_payload_trailing", buf, every_len + 1, false);

    /* header fields */
    const uint8_t rand1[] = {0x00, 0x01, 0xaa};
    n = msg_with(buf, KMS_MIKEY_PT_RAND, rand1, sizeof(rand1));
    seed_msg("min_rand", buf, n, true);
    buf[0] = 2;
    seed_msg("bad_version", buf, n, false);
    buf[0] = 1;
    buf[1] = 0x13;
    seed_msg("bad_data_type", buf, n, false);
    buf[1] = 0x0b;
    buf[8] = 33;
    seed_msg("too_many_cs", buf, n, false);
    buf[8] = 0;
    buf[2] = KMS_MIKEY_PT_KEYDATA;
    seed_msg("keydata_outside_kemac", buf, n, false);

    /* 32 RAND payloads (the cap) */
    uint8_t body[33 * 3];
    for (size_t i = 0; i < 32; i++) {
        body[3 * i] = i + 1 < 32 ? KMS_MIKEY_PT_RAND : 0;
        body[3 * i + 1] = 1;
        body[3 * i + 2] = (uint8_t)i;
    }
    n = msg_with(buf, KMS_MIKEY_PT_RAND, body, 3 * 32);
    seed_msg("max_payloads_32", buf, n, true);

    /* SIGN first and only */
    const uint8_t sign[] = {0x10, 0x02, 0xab, 0xcd};
    n = msg_with(buf, KMS_MIKEY_PT_SIGN, sign, sizeof(sign));
    seed_msg("sign_only", buf, n, true);

    /* TP inside TP data; TICKET initiator data holding a RAND */
    const uint8_t tp_in_tp[] = {0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x0b, KMS_MIKEY_PT_TP,
                                0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x00};
    n = msg_with(buf, KMS_MIKEY_PT_TP, tp_in_tp, sizeof(tp_in_tp));
    seed_msg("tp_inside_tp", buf, n, false);
    const uint8_t bad_init[] = {
        0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, KMS_MIKEY_PT_RAND,
        0x00, 0x01, 0x55};
    n = msg_with(buf, KMS_MIKEY_PT_TICKET, bad_init, sizeof(bad_init));
    seed_msg("ticket_init_data_rand", buf, n, false);

    /* TP data with an octet after its chain */
    const uint8_t tp_trailing[] = {0x00, 0xf0, 0x00, 1,   1, 2, 0, 0, 0x00, 0x05, KMS_MIKEY_PT_RAND,
                                   0x00, 0x01, 0x55, 0x99};
    n = msg_with(buf, KMS_MIKEY_PT_TP, tp_trailing, sizeof(tp_trailing));
    seed_msg("tp_data_trailing", buf, n, false);

    /* ticket-surface seeds written by hand: selector then payload */
    uint8_t t[64];
    t[0] = 0;
    memcpy(t + 1, tp_in_tp, sizeof(tp_in_tp));
    write_seed("mikey_ticket", "tp_inside_tp", t, 1 + sizeof(tp_in_tp));
    t[0] = 1;
    memcpy(t + 1, bad_init, sizeof(bad_init));
    write_seed("mikey_ticket", "ticket_init_data_rand", t, 1 + sizeof(bad_init));
    t[0] = 0;
    memcpy(t + 1, tp_trailing, sizeof(tp_trailing));
    write_seed("mikey_ticket", "tp_data_trailing", t, 1 + sizeof(tp_trailing));
    /* TP with TP data "00" (a chain with no payload) */
    const uint8_t tp_00[] = {0, 0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00};
    write_seed("mikey_ticket", "tp_data_empty_chain", tp_00, sizeof(tp_00));
    /* TICKET with everything empty */
    const uint8_t ticket_empty[] = {1,    0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    write_seed("mikey_ticket", "ticket_all_empty", ticket_empty, sizeof(ticket_empty));
}

static void chains(void)
{
    seed_chain("chain_tp_data_request", tp_chain, tp_chain_len, true);
    seed_chain("chain_tp_data_kms", tp_chain_kms, tp_chain_kms_len, true);
    seed_chain("chain_init_data_vi_vr", init_vv, init_vv_len, true);
    const uint8_t empty_chain[] = {0x00};
    seed_chain("chain_empty", empty_chain, sizeof(empty_chain), true);
    const uint8_t chain_tp[] = {KMS_MIKEY_PT_TP, 0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x00};
    seed_chain("chain_with_tp", chain_tp, sizeof(chain_tp), false);
    uint8_t trailing[600];
    memcpy(trailing, tp_chain, tp_chain_len);
    trailing[tp_chain_len] = 0x99;
    seed_chain("chain_trailing", trailing, tp_chain_len + 1, false);
}

static void keydata_seeds(void)
{
    static uint8_t out[4096];
    struct kms_mikey_keydata_list kl;
    size_t n;
    char name[64];
    static const char *const kd_names[] = {"tgk",  "tgk_salt",  "tek", "tek_salt",
                                           "gtgk", "gtgk_salt", "mpk"};
    static const char *const kv_names[] = {"null", "spi", "interval"};
    /* every type with a different KV, salts where the type has one */
    for (uint8_t type = 0; type <= KMS_MIKEY_KD_MPK; type++) {
        uint8_t kv = (uint8_t)(type % 3);
        memset(&kl, 0, sizeof(kl));
        kl.n = 1;
        kl.kd[0].type = type;
        kl.kd[0].kv = kv;
        kl.kd[0].key = B(rnd32, type == KMS_MIKEY_KD_MPK ? 32 : 16);
        if (type == KMS_MIKEY_KD_TGK_SALT || type == KMS_MIKEY_KD_TEK_SALT ||
            type == KMS_MIKEY_KD_GTGK_SALT) {
            kl.kd[0].salt = B(rnd16, 14);
        }
        if (kv >= KMS_MIKEY_KV_SPI) {
            kl.kd[0].kv_a = B(spi4, 4);
        }
        if (kv == KMS_MIKEY_KV_INTERVAL) {
            kl.kd[0].kv_b = B(spi4, 3);
        }
        n = keydata_into(&kl, out, sizeof(out));
        snprintf(name, sizeof(name), "%s_kv_%s", kd_names[type], kv_names[kv]);
        seed_keydata(name, out, n, true);
    }
    /* TEK + SALT for each of three CS, then a TGK */
    memset(&kl, 0, sizeof(kl));
    kl.n = 4;
    for (size_t i = 0; i < 3; i++) {
        kl.kd[i] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TEK_SALT,
                                              .kv = KMS_MIKEY_KV_SPI,
                                              .key = B(rnd32 + i, 16),
                                              .salt = B(rnd16, 14),
                                              .kv_a = B(spi4, 1 + i)};
    }
    kl.kd[3] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TGK, .key = B(rnd16, 16)};
    n = keydata_into(&kl, out, sizeof(out));
    seed_keydata("four_keys", out, n, true);
    /* 16 (the cap) empty TGKs, and 17 */
    memset(&kl, 0, sizeof(kl));
    kl.n = KMS_MIKEY_MAX_KEYDATA;
    n = keydata_into(&kl, out, sizeof(out));
    seed_keydata("max_16_empty_tgk", out, n, true);
    out[n - 4] = KMS_MIKEY_PT_KEYDATA; /* the last Next Payload: one more follows */
    memcpy(out + n, "\x00\x00\x00\x00", 4);
    seed_keydata("too_many_17", out, n + 4, false);
    /* the unit test vector: MPK, then TGK+SALT with KV interval */
    const uint8_t ut[] = {0x14, 0x60, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x12, 0x00, 0x01,
                          0x11, 0x00, 0x02, 0x22, 0x33, 0x01, 0x44, 0x02, 0x55, 0x66};
    seed_keydata("mpk_then_tgk_salt_interval", ut, sizeof(ut), true);
    seed_keydata("truncated", ut, sizeof(ut) - 1, false);
    uint8_t bad[sizeof(ut) + 1];
    memcpy(bad, ut, sizeof(ut));
    bad[sizeof(ut)] = 0;
    seed_keydata("trailing", bad, sizeof(ut) + 1, false);
    memcpy(bad, ut, sizeof(ut));
    bad[1] = 0x70;
    seed_keydata("bad_type_7", bad, sizeof(ut), false);
    memcpy(bad, ut, sizeof(ut));
    bad[7] = 0x13;
    seed_keydata("bad_kv_3", bad, sizeof(ut), false);
    memcpy(bad, ut, sizeof(ut));
    bad[0] = 0x05;
    seed_keydata("bad_next_payload", bad, sizeof(ut), false);
    seed_keydata("empty", ut, 0, false);
}

int main(int argc, char **argv)
{
    static uint8_t every[8192];
    size_t every_len;
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds CORPUS_DIR   (e.g. fuzz/corpus)\n");
        return 2;
    }
    out_dir = argv[1];
    char path[1024];
    const char *const surfaces[] = {"mikey_decode", "mikey_ticket", "mikey_keydata"};
    make_dir(out_dir);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", out_dir, surfaces[i]);
        make_dir(path);
    }
    fill_patterns();
    build_blocks();
    rfc6043_messages();
    rfc3830_messages();
    everything_message(every, sizeof(every), &every_len);
    near_misses(every, every_len);
    chains();
    keydata_seeds();
    printf("fuzz_mkseeds: %d seeds written under %s\n", n_written, out_dir);
    return failed;
}

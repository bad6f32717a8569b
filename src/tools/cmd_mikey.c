/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms mikey: MIKEY message tools. `decode` prints every field of one message.
 *
 * The message is decoded in full (kms_mikey_decode, then the TP data / initiator data chains and
 * the key data of NULL-encrypted KEMACs) while the text is rendered into a memory stream; only
 * when everything decoded is the text written to stdout. A malformed message therefore prints
 * nothing but its one error line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sdp/kms_sdp.h"
#include "cmds.h"
#include "err/kms_err.h"
#include "mikey/kms_mikey.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_mem.h"

#define MIKEY_IN_MAX ((size_t)1 << 20) /* 1 MiB of input, whatever its form */

/* ---- Names ------------------------------------------------------------------------------ */

struct names {
    const char *const *v;
    size_t n;
};

#define NAMES(a) ((struct names){(a), sizeof(a) / sizeof((a)[0])})

static const char *name_of(struct names t, unsigned v)
{
    return v < t.n && t.v[v] != NULL ? t.v[v] : "?";
}

/* PRF func: RFC 3830 6.1 (MIKEY-1), RFC 6043 6.1 (PRF-HMAC-SHA-256). */
static const char *const prf_names[] = {"MIKEY-1", "PRF-HMAC-SHA-256"};
/* CS ID map type: RFC 3830 6.1 (SRTP-ID), RFC 4563 (Empty), RFC 6043 6.1.1 (GENERIC-ID). */
static const char *const map_names[] = {"SRTP-ID", "Empty", "GENERIC-ID"};
/* Security protocol (SP Prot type, GENERIC-ID Prot type): RFC 3830 6.10. */
static const char *const prot_names[] = {"SRTP"};
/* TS type: RFC 3830 6.6, RFC 6043 6.3. */
static const char *const ts_names[] = {"NTP-UTC", "NTP", "COUNTER", "NTP-UTC-32"};
/* Encr alg: RFC 3830 6.2, RFC 6043 (AES-CM-256). */
static const char *const encr_names[] = {"NULL", "AES-CM-128", "AES-KW-128", "AES-CM-256"};
/* MAC alg (KEMAC) and Auth alg (V): RFC 3830 6.2, RFC 6043 (HMAC-SHA-256-256). */
static const char *const mac_names[] = {"NULL", "HMAC-SHA-1-160", "HMAC-SHA-256-256"};
/* ID Type: RFC 3830 6.7, RFC 6043 6.6 (byte string). */
static const char *const id_type_names[] = {"NAI", "URI", "byte string"};
/* ID Role: RFC 6043 6.6 (1-5), RFC 6509 4.4 (6 IDRkmsi, 7 IDRkmsr). */
static const char *const id_role_names[] = {NULL,     "IDRi",   "IDRr",    "IDRkms",
                                            "IDRpsk", "IDRapp", "IDRkmsi", "IDRkmsr"};
/* Cert Type: RFC 3830 6.7. */
static const char *const cert_names[] = {"X.509v3", "X.509v3 URL", "X.509v3 Sign", "X.509v3 Encr"};
/* TS Role: RFC 6043 6.4. */
static const char *const tr_role_names[] = {NULL, "TRi", "TRs", "TRe", "TRr"};
/* RAND Role: RFC 6043 6.8. */
static const char *const randr_role_names[] = {NULL, "RANDRi", "RANDRr", "RANDRkms"};
/* Key data Type: RFC 3830 6.13, RFC 6043 6.13. */
static const char *const kd_names[] = {"TGK",  "TGK+SALT",  "TEK", "TEK+SALT",
                                       "GTGK", "GTGK+SALT", "MPK"};
/* KV type: RFC 3830 6.13. */
static const char *const kv_names[] = {"Null", "SPI/MKI", "Interval"};
/* DH-Group: RFC 3830 6.4. */
static const char *const dh_names[] = {"OAKLEY 5", "OAKLEY 1", "OAKLEY 2"};
/* PKE C (envelope key cache indicator): RFC 3830 6.3. */
static const char *const pke_c_names[] = {"No cache", "Cache", "Cache for CSB"};
/* SIGN S type: RFC 3830 6.5, RFC 6509 (ECCSI). */
static const char *const sign_names[] = {"RSA/PKCS#1/1.5", "RSA/PSS", "ECCSI"};
/* CHASH Hash func: RFC 3830 6.8, RFC 6043 (SHA-256). */
static const char *const hash_names[] = {"SHA-1", "MD5", "SHA-256"};
/* Error no: RFC 3830 6.12 (0-12), RFC 6043 6.12 (14, 15). */
static const char *const err_names[] = {
    "Auth failure",      "Invalid TS", "Invalid PRF",    "Invalid MAC",
    "Invalid EA",        "Invalid HA", "Invalid DH",     "Invalid ID",
    "Invalid Cert",      "Invalid SP", "Invalid SPpar",  "Invalid DT",
    "Unspecified error", NULL,         "Invalid TICKET", "Invalid TPpar"};
/* General extension Type: RFC 3830 6.15 (0, 1), RFC 4563 (2). */
static const char *const genext_names[] = {"Vendor ID", "SDP IDs", "Key ID"};
/* SAKKE params and ID scheme: RFC 6509 4.2. */
static const char *const sakke_param_names[] = {NULL, "Parameter Set 1"};
static const char *const sakke_scheme_names[] = {NULL, "tel URI with monthly keys"};
/*= RFC 3830, 6.10.1
 *# SRTP policy parameter types 0-12
 */
static const char *const srtp_param_names[] = {
    "Encryption algorithm",     "Session Encr. key length",   "Authentication algorithm",
    "Session Auth. key length", "Session Salt key length",    "SRTP Pseudo Random Function",
    "Key derivation rate",      "SRTP encryption off/on",     "SRTCP encryption off/on",
    "sender's FEC order",       "SRTP authentication off/on", "Authentication tag length",
    "SRTP prefix length"};

/* ---- Rendering primitives ----------------------------------------------------------------- */

struct out {
    FILE *f;
    const uint8_t *msg; /* first octet of the message: error offsets count from here */
    size_t err_off;     /* set by a renderer that fails */
};

static void field(struct out *o, int ind, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void field(struct out *o, int ind, const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(o->f, "%*s%s: ", ind, "", name);
    va_start(ap, fmt);
    vfprintf(o->f, fmt, ap);
    va_end(ap);
    fputc('\n', o->f);
}

static void block(struct out *o, int ind, const char *name)
{
    fprintf(o->f, "%*s%s\n", ind, "", name);
}

static void put_hex(FILE *f, struct kms_bytes b)
{
    for (size_t i = 0; i < b.len; i++) {
        fprintf(f, "%02x", b.p[i]);
    }
}

static void field_num(struct out *o, int ind, const char *name, unsigned v)
{
    field(o, ind, name, "%u", v);
}

static void field_enum(struct out *o, int ind, const char *name, unsigned v, struct names t)
{
    field(o, ind, name, "%u (%s)", v, name_of(t, v));
}

/* Byte strings as lower-case hex; an empty one as "(empty)". */
static void field_hex(struct out *o, int ind, const char *name, struct kms_bytes b)
{
    fprintf(o->f, "%*s%s: ", ind, "", name);
    if (b.len == 0) {
        fputs("(empty)", o->f);
    }
    put_hex(o->f, b);
    fputc('\n', o->f);
}

/* Identities: as text when every octet is printable ASCII (0x20-0x7e), else as hex. */
static void field_id(struct out *o, int ind, const char *name, struct kms_bytes b)
{
    bool text = b.len > 0;
    for (size_t i = 0; i < b.len && text; i++) {
        text = b.p[i] >= 0x20 && b.p[i] <= 0x7e;
    }
    if (!text) {
        field_hex(o, ind, name, b);
        return;
    }
    fprintf(o->f, "%*s%s: ", ind, "", name);
    fwrite(b.p, 1, b.len, o->f);
    fputc('\n', o->f);
}

static void field_len_hex(struct out *o, int ind, const char *len_name, const char *name,
                          struct kms_bytes b)
{
    field(o, ind, len_name, "%zu", b.len);
    field_hex(o, ind, name, b);
}

static size_t off_of(const struct out *o, const uint8_t *p)
{
    return (size_t)(p - o->msg);
}

/*= RFC 5905, 6 (and RFC 4330, 3)
 *# NTP seconds count from 1900-01-01T00:00:00Z (era 0) and wrap in 2036. RFC 4330 3: when the
 *# most significant bit is set the time is in 1968-2036, when it is clear in 2036-2104.
 * type=exception: RFC 3830 does not say which era; the RFC 4330 rule is what deployed code uses.
 * With frac_us < 0 no fraction is printed. Returns false when the date cannot be represented.
 */
static bool ntp_to_iso(uint32_t secs, long frac_us, bool utc, char *buf, size_t cap)
{
    int64_t unix_s = (int64_t)secs - INT64_C(2208988800);
    if ((secs & 0x80000000u) == 0) {
        unix_s += INT64_C(4294967296);
    }
    time_t t = (time_t)unix_s;
    struct tm tm;
    char date[32];
    if ((int64_t)t != unix_s || gmtime_r(&t, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        return false;
    }
    if (frac_us >= 0) {
        snprintf(buf, cap, "%s.%06ld%s", date, frac_us, utc ? "Z" : "");
    } else {
        snprintf(buf, cap, "%s%s", date, utc ? "Z" : "");
    }
    return true;
}

/* A TS value: NTP types in hex plus a date (NTP-UTC types in UTC, "Z"; NTP carries no time
 * zone, so it is printed without one); COUNTER in decimal. */
static void field_ts(struct out *o, int ind, uint8_t ts_type, uint64_t v)
{
    char iso[64];
    uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
    switch (ts_type) {
    case KMS_MIKEY_TS_NTP_UTC:
    case KMS_MIKEY_TS_NTP:
        /* 32.32 fixed point: the fraction in microseconds, truncated */
        if (ntp_to_iso(hi, (long)(((uint64_t)lo * 1000000u) >> 32), ts_type == KMS_MIKEY_TS_NTP_UTC,
                       iso, sizeof(iso))) {
            field(o, ind, "ts_value", "%016" PRIx64 " (%s)", v, iso);
        } else {
            field(o, ind, "ts_value", "%016" PRIx64, v);
        }
        break;
    case KMS_MIKEY_TS_NTP_UTC_32:
        /* RFC 6043 6.3: the seconds of an NTP-UTC timestamp */
        if (ntp_to_iso(lo, -1, true, iso, sizeof(iso))) {
            field(o, ind, "ts_value", "%08" PRIx32 " (%s)", lo, iso);
        } else {
            field(o, ind, "ts_value", "%08" PRIx32, lo);
        }
        break;
    case KMS_MIKEY_TS_COUNTER:
        field(o, ind, "ts_value", "%" PRIu64, v);
        break;
    default:
        field(o, ind, "ts_value", "%016" PRIx64, v);
        break;
    }
}

/* KV data of DH and Key data (RFC 3830 6.13). */
static void field_kv(struct out *o, int ind, uint8_t kv, struct kms_bytes a, struct kms_bytes b)
{
    if (kv == KMS_MIKEY_KV_SPI) {
        field_hex(o, ind, "spi", a);
    } else if (kv == KMS_MIKEY_KV_INTERVAL) {
        field_hex(o, ind, "valid_from", a);
        field_hex(o, ind, "valid_to", b);
    }
}

/* ---- Payloads ------------------------------------------------------------------------------ */

typedef kms_result (*print_fn)(struct out *o, int ind, const struct kms_mikey_payload *pl);

static kms_result print_list(struct out *o, int ind, const struct kms_mikey_plist *l);

/* A nested chain (TP data, initiator data): its first-payload octet, then payloads, printed as
 * blocks at ind. Offsets in the chain are made absolute in the message. */
static kms_result print_chain(struct out *o, int ind, struct kms_bytes data)
{
    struct kms_cur c;
    size_t eo = 0;
    if (data.len == 0) {
        return KMS_RESULT_OK; /* no payloads, not even a first-payload octet */
    }
    struct kms_mikey_plist *l = malloc(sizeof(*l));
    if (l == NULL) {
        return (kms_result){KMS_ERR_NOMEM};
    }
    kms_cur_init(&c, data.p, data.len);
    kms_result r = kms_mikey_chain_decode(&c, l, &eo);
    if (kms_ok(r)) {
        r = print_list(o, ind, l);
    } else {
        o->err_off = off_of(o, data.p) + eo;
    }
    free(l);
    return r;
}

static kms_result p_keydata(struct out *o, int ind, struct kms_bytes data)
{
    struct kms_mikey_keydata_list *l = malloc(sizeof(*l));
    size_t eo = 0;
    if (l == NULL) {
        return (kms_result){KMS_ERR_NOMEM};
    }
    kms_result r = kms_mikey_keydata_decode(data.p, data.len, l, &eo);
    for (size_t i = 0; i < l->n && kms_ok(r); i++) {
        const struct kms_mikey_keydata *kd = &l->kd[i];
        block(o, ind, "KEYDATA");
        field_enum(o, ind + 2, "type", kd->type, NAMES(kd_names));
        field_enum(o, ind + 2, "kv", kd->kv, NAMES(kv_names));
        field_len_hex(o, ind + 2, "key_len", "key", kd->key);
        if (kd->type == KMS_MIKEY_KD_TGK_SALT || kd->type == KMS_MIKEY_KD_TEK_SALT ||
            kd->type == KMS_MIKEY_KD_GTGK_SALT) {
            field_len_hex(o, ind + 2, "salt_len", "salt", kd->salt);
        }
        field_kv(o, ind + 2, kd->kv, kd->kv_a, kd->kv_b);
    }
    if (!kms_ok(r)) {
        o->err_off = off_of(o, data.p) + eo;
    }
    kms_wipe(l, sizeof(*l));
    free(l);
    return r;
}

static kms_result p_kemac(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    const struct kms_mikey_kemac *k = &pl->u.kemac;
    field_enum(o, ind, "encr_alg", k->encr_alg, NAMES(encr_names));
    field_len_hex(o, ind, "encr_data_len", "encr_data", k->encr_data);
    /*= RFC 3830, 6.2
     *# Encr data: the encrypted key sub-payloads; with the NULL algorithm they are in the clear.
     */
    if (k->encr_alg == 0 && k->encr_data.len > 0) {
        KMS_TRY(p_keydata(o, ind + 2, k->encr_data));
    }
    field_enum(o, ind, "mac_alg", k->mac_alg, NAMES(mac_names));
    field_hex(o, ind, "mac", k->mac);
    return KMS_RESULT_OK;
}

static kms_result p_pke(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "c", pl->u.pke.c, NAMES(pke_c_names));
    field_len_hex(o, ind, "data_len", "data", pl->u.pke.data);
    return KMS_RESULT_OK;
}

static kms_result p_dh(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    const struct kms_mikey_dh *d = &pl->u.dh;
    field_enum(o, ind, "dh_group", d->group, NAMES(dh_names));
    field_hex(o, ind, "dh_value", d->value);
    field_num(o, ind, "reserved", d->reserved);
    field_enum(o, ind, "kv", d->kv, NAMES(kv_names));
    field_kv(o, ind, d->kv, d->kv_a, d->kv_b);
    return KMS_RESULT_OK;
}

static kms_result p_sign(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "s_type", pl->u.sign.s_type, NAMES(sign_names));
    field_len_hex(o, ind, "sig_len", "signature", pl->u.sign.sig);
    return KMS_RESULT_OK;
}

static kms_result p_t(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "ts_type", pl->u.t.ts_type, NAMES(ts_names));
    field_ts(o, ind, pl->u.t.ts_type, pl->u.t.value);
    return KMS_RESULT_OK;
}

static kms_result p_id(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    const struct kms_mikey_id *id = &pl->u.id;
    if (pl->type == KMS_MIKEY_PT_IDR) {
        field_enum(o, ind, "role", id->role, NAMES(id_role_names));
    }
    field_enum(o, ind, "id_type", id->type, NAMES(id_type_names));
    field(o, ind, "id_len", "%zu", id->data.len);
    field_id(o, ind, "id_data", id->data);
    return KMS_RESULT_OK;
}

static kms_result p_cert(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "cert_type", pl->u.id.type, NAMES(cert_names));
    field_len_hex(o, ind, "cert_len", "cert_data", pl->u.id.data);
    return KMS_RESULT_OK;
}

static kms_result p_chash(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "hash_func", pl->u.chash.func, NAMES(hash_names));
    field_hex(o, ind, "hash", pl->u.chash.hash);
    return KMS_RESULT_OK;
}

static kms_result p_v(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "auth_alg", pl->u.v.alg, NAMES(mac_names));
    field_hex(o, ind, "ver_data", pl->u.v.mac);
    return KMS_RESULT_OK;
}

static kms_result p_sp(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    const struct kms_mikey_sp *sp = &pl->u.sp;
    struct kms_cur c, v;
    struct names pn = sp->prot_type == 0 ? NAMES(srtp_param_names) : (struct names){NULL, 0};
    field_num(o, ind, "policy_no", sp->policy_no);
    field_enum(o, ind, "prot_type", sp->prot_type, NAMES(prot_names));
    field(o, ind, "param_len", "%zu", sp->params.len);
    kms_cur_init(&c, sp->params.p, sp->params.len);
    while (kms_cur_remaining(&c) > 0) {
        uint8_t type;
        size_t at = kms_cur_offset(&c);
        kms_result r = kms_cur_get_u8(&c, &type);
        if (kms_ok(r)) {
            r = kms_cur_get_lv8(&c, &v);
        }
        if (!kms_ok(r)) { /* the codec checked the list; kept for safety */
            o->err_off = off_of(o, sp->params.p) + at;
            return r;
        }
        fprintf(o->f, "%*sparam: type=%u (%s) len=%zu value=", ind, "", type, name_of(pn, type),
                kms_cur_remaining(&v));
        put_hex(o->f, (struct kms_bytes){kms_cur_peek_ptr(&v), kms_cur_remaining(&v)});
        fputc('\n', o->f);
    }
    return KMS_RESULT_OK;
}

static kms_result p_rand(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_len_hex(o, ind, "rand_len", "rand", pl->u.rand.rand);
    return KMS_RESULT_OK;
}

static kms_result p_err(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "err_no", pl->u.err.err_no, NAMES(err_names));
    field_num(o, ind, "reserved", pl->u.err.reserved);
    return KMS_RESULT_OK;
}

static kms_result p_tr(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "role", pl->u.tr.role, NAMES(tr_role_names));
    field_enum(o, ind, "ts_type", pl->u.tr.ts_type, NAMES(ts_names));
    field_ts(o, ind, pl->u.tr.ts_type, pl->u.tr.value);
    return KMS_RESULT_OK;
}

static kms_result p_randr(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "role", pl->u.randr.role, NAMES(randr_role_names));
    field_len_hex(o, ind, "rand_len", "rand", pl->u.randr.rand);
    return KMS_RESULT_OK;
}

/* TP and TICKET (RFC 6043 6.10): the policy fields, the TP data chain nested by 4, and for
 * TICKET the opaque ticket data and the initiator data chain (V payloads). */
static kms_result p_ticket(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    const struct kms_mikey_ticket *t = &pl->u.ticket;
    char flags[2 * 12 + 1] = "";
    size_t n = 0;
    for (unsigned i = 0; i < 12; i++) {
        /* KMS_MIKEY_TF_D .. KMS_MIKEY_TF_O are bits 0..11, letters D..O */
        if (t->flags & (1u << i)) {
            flags[n++] = (char)('D' + i);
            flags[n++] = ' ';
        }
    }
    flags[n > 0 ? n - 1 : 0] = '\0';
    field(o, ind, "ticket_type", "0x%04x", t->type);
    field_num(o, ind, "subtype", t->subtype);
    field_num(o, ind, "version", t->version);
    field_enum(o, ind, "prf", t->prf, NAMES(prf_names));
    field(o, ind, "flags", "%s", n > 0 ? flags : "(none)");
    field_num(o, ind, "reserved", t->reserved);
    field(o, ind, "tp_data_len", "%zu", t->tp_data.len);
    KMS_TRY(print_chain(o, ind + 2, t->tp_data));
    if (pl->type == KMS_MIKEY_PT_TICKET) {
        field_len_hex(o, ind, "ticket_data_len", "ticket_data", t->ticket_data);
        field(o, ind, "init_data_len", "%zu", t->init_data.len);
        KMS_TRY(print_chain(o, ind + 2, t->init_data));
    }
    return KMS_RESULT_OK;
}

static kms_result p_genext(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "type", pl->u.genext.type, NAMES(genext_names));
    field_len_hex(o, ind, "data_len", "data", pl->u.genext.data);
    return KMS_RESULT_OK;
}

static kms_result p_sakke(struct out *o, int ind, const struct kms_mikey_payload *pl)
{
    field_enum(o, ind, "sakke_params", pl->u.sakke.params, NAMES(sakke_param_names));
    field_enum(o, ind, "id_scheme", pl->u.sakke.id_scheme, NAMES(sakke_scheme_names));
    field_len_hex(o, ind, "sakke_data_len", "sakke_data", pl->u.sakke.data);
    return KMS_RESULT_OK;
}

static const print_fn printers[] = {
    [KMS_MIKEY_PT_KEMAC] = p_kemac,   [KMS_MIKEY_PT_PKE] = p_pke,
    [KMS_MIKEY_PT_DH] = p_dh,         [KMS_MIKEY_PT_SIGN] = p_sign,
    [KMS_MIKEY_PT_T] = p_t,           [KMS_MIKEY_PT_ID] = p_id,
    [KMS_MIKEY_PT_CERT] = p_cert,     [KMS_MIKEY_PT_CHASH] = p_chash,
    [KMS_MIKEY_PT_V] = p_v,           [KMS_MIKEY_PT_SP] = p_sp,
    [KMS_MIKEY_PT_RAND] = p_rand,     [KMS_MIKEY_PT_ERR] = p_err,
    [KMS_MIKEY_PT_TR] = p_tr,         [KMS_MIKEY_PT_IDR] = p_id,
    [KMS_MIKEY_PT_RANDR] = p_randr,   [KMS_MIKEY_PT_TP] = p_ticket,
    [KMS_MIKEY_PT_TICKET] = p_ticket, [KMS_MIKEY_PT_GENEXT] = p_genext,
    [KMS_MIKEY_PT_SAKKE] = p_sakke,
};

static kms_result print_list(struct out *o, int ind, const struct kms_mikey_plist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_payload *pl = &l->pl[i];
        print_fn fn = pl->type < sizeof(printers) / sizeof(printers[0]) ? printers[pl->type] : NULL;
        if (fn == NULL) { /* the decoder accepts only types it knows; so must we */
            o->err_off = pl->off;
            return (kms_result){KMS_ERR_INTERNAL};
        }
        block(o, ind, kms_mikey_pt_name(pl->type));
        KMS_TRY(fn(o, ind + 2, pl));
    }
    return KMS_RESULT_OK;
}

static void print_cs(struct out *o, int ind, const struct kms_mikey_hdr *h)
{
    for (size_t i = 0; i < h->n_cs; i++) {
        const struct kms_mikey_cs *cs = &h->cs[i];
        if (h->map_type == KMS_MIKEY_MAP_EMPTY) {
            continue; /* RFC 4563: no map info */
        }
        fprintf(o->f, "%*scs[%zu]\n", ind, "", i);
        if (h->map_type == KMS_MIKEY_MAP_SRTP_ID) {
            field_num(o, ind + 2, "policy_no", cs->policy_no);
            field(o, ind + 2, "ssrc", "0x%08" PRIx32, cs->ssrc);
            field(o, ind + 2, "roc", "%" PRIu32, cs->roc);
            continue;
        }
        /* GENERIC-ID (RFC 6043 6.1.1) */
        field_num(o, ind + 2, "cs_id", cs->cs_id);
        field_enum(o, ind + 2, "prot_type", cs->prot_type, NAMES(prot_names));
        field_num(o, ind + 2, "s", cs->s ? 1u : 0u);
        fprintf(o->f, "%*spolicies:", ind + 2, "");
        if (cs->ps.len == 0) {
            fputs(" (none)", o->f);
        }
        for (size_t k = 0; k < cs->ps.len; k++) {
            fprintf(o->f, " %u", cs->ps.p[k]);
        }
        fputc('\n', o->f);
        field_hex(o, ind + 2, "session_data", cs->session_data);
        /* RFC 6043 6.1.1: SRTP Session Data is SSRC, then ROC and SEQ when S = 1. */
        const uint8_t *sd = cs->session_data.p;
        if (cs->prot_type == 0 && cs->session_data.len == (cs->s ? 10u : 4u)) {
            field(o, ind + 2, "srtp_ssrc", "0x%08" PRIx32,
                  (uint32_t)sd[0] << 24 | (uint32_t)sd[1] << 16 | (uint32_t)sd[2] << 8 | sd[3]);
        }
        if (cs->prot_type == 0 && cs->s && cs->session_data.len == 10) {
            field(o, ind + 2, "srtp_roc", "%" PRIu32,
                  (uint32_t)sd[4] << 24 | (uint32_t)sd[5] << 16 | (uint32_t)sd[6] << 8 | sd[7]);
            field(o, ind + 2, "srtp_seq", "%u", (unsigned)(sd[8] << 8 | sd[9]));
        }
        field_hex(o, ind + 2, "spi", cs->spi);
    }
}

static void print_hdr(struct out *o, const struct kms_mikey_hdr *h)
{
    block(o, 0, "HDR");
    field_num(o, 2, "version", h->version);
    field(o, 2, "data_type", "%u (%s)", h->data_type, kms_mikey_dt_name(h->data_type));
    field(o, 2, "next_payload", "%u (%s)", h->next_payload, kms_mikey_pt_name(h->next_payload));
    field_num(o, 2, "v", h->v ? 1u : 0u);
    field_enum(o, 2, "prf", h->prf, NAMES(prf_names));
    field(o, 2, "csb_id", "0x%08" PRIx32, h->csb_id);
    field_num(o, 2, "cs_count", h->n_cs);
    field_enum(o, 2, "cs_id_map_type", h->map_type, NAMES(map_names));
    print_cs(o, 2, h);
}

/* ---- Input --------------------------------------------------------------------------------- */

/* Reads all of path (stdin for NULL or "-"), at most MIKEY_IN_MAX bytes. */
static int read_input(const struct cli_args *a, const char *path, uint8_t **out, size_t *len)
{
    bool use_stdin = path == NULL || strcmp(path, "-") == 0;
    const char *what = use_stdin ? "standard input" : path;
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = CLI_EXIT_USAGE;
    *out = NULL;
    *len = 0;
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", a->cmd, what, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    buf = malloc(MIKEY_IN_MAX + 1);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", a->cmd);
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    /* one byte more than the cap, to tell "exactly 1 MiB" from "more" */
    while (n < MIKEY_IN_MAX + 1) {
        size_t k = fread(buf + n, 1, MIKEY_IN_MAX + 1 - n, f);
        if (k == 0) {
            break;
        }
        n += k;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: %s: %s\n", a->cmd, what, errno != 0 ? strerror(errno) : "read error");
        goto out;
    }
    if (n > MIKEY_IN_MAX) {
        fprintf(stderr, "%s: input larger than 1 MiB (%zu bytes)\n", a->cmd, MIKEY_IN_MAX);
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = CLI_EXIT_OK;
out:
    if (buf != NULL) {
        kms_wipe(buf, n);
        free(buf);
    }
    if (!use_stdin) {
        fclose(f);
    }
    return rc;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int not_mikey(const struct cli_args *a)
{
    fprintf(stderr,
            "%s: error: input is neither a MIKEY message, base64, nor an "
            "a=key-mgmt:mikey line\n",
            a->cmd);
    return CLI_EXIT_USAGE;
}

/*
 * The message bytes of the input. Raw MIKEY starts with the version octet 0x01, which is never
 * a printable character, so a first octet of 0x01 means raw. Otherwise the input, stripped of
 * surrounding white space, is either an SDP attribute line or the base64 of the message.
 *= RFC 4567, 3.1 (paraphrased)
 *# key-mgmt-attribute = "a=key-mgmt:" prtcl-id SP keymgmt-data; for MIKEY, prtcl-id is "mikey"
 *# and keymgmt-data is the base64 of the MIKEY message.
 * On success *dec is the decoded buffer to free (NULL when the input itself is the message).
 */
static int input_message(const struct cli_args *a, const uint8_t *in, size_t n, uint8_t **dec,
                         const uint8_t **msg, size_t *msg_len)
{
    static const char sdp[] = "a=key-mgmt:";
    static const char mikey[] = "mikey";
    size_t s = 0, e = n, cap, got = 0;
    *dec = NULL;
    if (n > 0 && in[0] == KMS_MIKEY_VERSION) {
        *msg = in;
        *msg_len = n;
        return CLI_EXIT_OK;
    }
    while (s < e && is_space(in[s])) {
        s++;
    }
    while (e > s && is_space(in[e - 1])) {
        e--;
    }
    if (s == e) {
        fprintf(stderr, "%s: error: empty input\n", a->cmd);
        return CLI_EXIT_USAGE;
    }
    if (e - s >= sizeof(sdp) - 1 && memcmp(in + s, sdp, sizeof(sdp) - 1) == 0) {
        s += sizeof(sdp) - 1;
        if (e - s < sizeof(mikey) - 1 || memcmp(in + s, mikey, sizeof(mikey) - 1) != 0) {
            return not_mikey(a);
        }
        s += sizeof(mikey) - 1;
        if (s == e || in[s] != ' ') {
            return not_mikey(a);
        }
        while (s < e && in[s] == ' ') {
            s++;
        }
        /* the data ends the line, and the line ends the input */
        if (s == e || memchr(in + s, '\n', e - s) != NULL || memchr(in + s, '\r', e - s) != NULL) {
            return not_mikey(a);
        }
    }
    cap = (e - s) / 4 * 3;
    *dec = malloc(cap > 0 ? cap : 1);
    if (*dec == NULL) {
        fprintf(stderr, "%s: out of memory\n", a->cmd);
        return CLI_EXIT_INTERNAL;
    }
    if (!kms_ok(kms_base64_decode((const char *)in + s, e - s, *dec, cap, &got))) {
        free(*dec);
        *dec = NULL;
        return not_mikey(a);
    }
    *msg = *dec;
    *msg_len = got;
    return CLI_EXIT_OK;
}

/* ---- imskms mikey decode ------------------------------------------------------------------- */

static const char decode_help[] =
    "usage: imskms mikey decode [FILE]\n"
    "       imskms mikey decode --sdp [FILE]\n"
    "\n"
    "Decodes one MIKEY message (RFC 3830; MIKEY-TICKET, RFC 6043; RFC 4563; MIKEY-SAKKE,\n"
    "RFC 6509) and prints every field. Reads FILE, or standard input when FILE is absent or\n"
    "'-', at most 1 MiB. The input is one of:\n"
    "  - the message itself, raw bytes (recognised by its first octet, version 0x01);\n"
    "  - the message in standard padded base64 (RFC 4648 section 4), on one line;\n"
    "  - an SDP attribute line 'a=key-mgmt:mikey <base64>' (RFC 4567), alone in the input.\n"
    "White space around the base64 or the line (space, tab, CR, LF) is ignored.\n"
    "With --sdp the input is a whole SDP (an offer or answer of 'imskms ue offer|answer'): the\n"
    "message decoded is the a=key-mgmt:mikey that applies to its first media line (the media\n"
    "level's, else the session level's; the session level's when there is no m= line).\n"
    "\n"
    "Output: HDR and then each payload in message order, a line with the payload's name (HDR,\n"
    "T, RAND, RANDR, ID, IDR, CERT, TR, SP, TP, TICKET, KEMAC, PKE, DH, CHASH, V, ERR, GENEXT,\n"
    "SAKKE, SIGN) followed by its fields indented by 2, one 'field: value' per line:\n"
    "  - numbers in decimal; enumerations as 'N (name)', 'N (?)' when the value is unknown;\n"
    "  - csb_id, ssrc as 0x%08x, ticket_type as 0x%04x;\n"
    "  - identities (id_data) as text when every octet is printable ASCII, otherwise hex;\n"
    "    every other byte string in lower-case hex, '(empty)' when it has no octets;\n"
    "  - timestamps in hex, with the date for NTP types (NTP-UTC in UTC with 'Z'; NTP has no\n"
    "    time zone; the NTP era follows RFC 4330 section 3); COUNTER in decimal;\n"
    "  - ticket flags as the letters set (D..O), '(none)' when none;\n"
    "  - an SRTP crypto session's Session Data (RFC 6043 6.1.1) also as srtp_ssrc (0x%08x),\n"
    "    and srtp_roc and srtp_seq when S = 1;\n"
    "  - SP parameters as 'param: type=T (name) len=L value=HEX', one per parameter.\n"
    "Nested data is indented 2 more than its payload's fields: the header's crypto sessions\n"
    "(cs[i]), the TP data and initiator data chains of TP and TICKET, and, when a KEMAC's\n"
    "encr_alg is NULL, its key data sub-payloads (KEYDATA). Keys in NULL-encrypted key data\n"
    "are printed: they travel in the clear already.\n"
    "\n"
    "A malformed message prints nothing on stdout and one line on stderr:\n"
    "  imskms mikey decode: error at offset N: <reason>\n"
    "N is the 0-based decimal offset of the field that could not be read, counted in the\n"
    "message bytes (after base64 decoding), not in the input text.\n"
    "\n"
    "Exit status: 0 the message is well formed; 2 malformed message, input that is not a\n"
    "message, unreadable FILE, input over 1 MiB, or bad usage; 3 internal error.\n";

static int render(const struct cli_args *a, const uint8_t *p, size_t len)
{
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    char *text = NULL;
    size_t text_len = 0, eo = 0;
    struct out o = {NULL, p, 0};
    int rc = CLI_EXIT_INTERNAL;
    kms_result r;
    if (m == NULL || (o.f = open_memstream(&text, &text_len)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", a->cmd);
        goto out;
    }
    r = kms_mikey_decode(p, len, m, &eo);
    if (kms_ok(r)) {
        print_hdr(&o, &m->hdr);
        r = print_list(&o, 0, &m->body);
        eo = o.err_off;
    }
    if (fclose(o.f) != 0) {
        o.f = NULL;
        fprintf(stderr, "%s: out of memory\n", a->cmd);
        goto out;
    }
    o.f = NULL;
    if (!kms_ok(r)) {
        if (kms_err_exit_status(r.err) == CLI_EXIT_USAGE) {
            fprintf(stderr, "%s: error at offset %zu: %s\n", a->cmd, eo, kms_strerror(r.err));
            rc = CLI_EXIT_USAGE;
        } else {
            fprintf(stderr, "%s: %s\n", a->cmd, kms_strerror(r.err));
        }
        goto out;
    }
    if (fwrite(text, 1, text_len, stdout) != text_len || fflush(stdout) != 0) {
        fprintf(stderr, "%s: writing the output: %s\n", a->cmd, strerror(errno));
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    if (o.f != NULL) {
        fclose(o.f);
    }
    if (text != NULL) {
        kms_wipe(text, text_len);
        free(text);
    }
    if (m != NULL) {
        kms_wipe(m, sizeof(*m));
        free(m);
    }
    return rc;
}

/* --sdp: the input is a whole SDP (kms_sdp_parse); the message is the a=key-mgmt:mikey that
 * applies to its first media line (the media level's, else the session level's, RFC 4567 3.1),
 * or the session level's when there is no media line. Copied into *dec. */
static int sdp_message(const struct cli_args *a, const uint8_t *in, size_t n, uint8_t **dec,
                       const uint8_t **msg, size_t *msg_len)
{
    struct kms_sdp *s = calloc(1, sizeof(*s));
    size_t eo = 0, len = 0;
    const uint8_t *p = NULL;
    *dec = NULL;
    if (s == NULL) {
        fprintf(stderr, "%s: out of memory\n", a->cmd);
        return CLI_EXIT_INTERNAL;
    }
    kms_result r = kms_sdp_parse(in, n, s, &eo);
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: error: not an SDP we read, at offset %zu: %s\n", a->cmd, eo,
                kms_strerror(r.err));
        free(s);
        return CLI_EXIT_USAGE;
    }
    if (s->n_media > 0) {
        r = kms_sdp_mikey_for(s, 0, &p, &len);
    } else {
        r = s->has_mikey ? KMS_RESULT_OK : (kms_result){KMS_ERR_NOT_FOUND};
        p = s->mikey;
        len = s->mikey_len;
    }
    if (!kms_ok(r) || len == 0 || (*dec = malloc(len)) == NULL) {
        fprintf(stderr, "%s: error: %s\n", a->cmd,
                kms_ok(r) && len > 0 ? "out of memory" : "the SDP has no a=key-mgmt:mikey");
        free(s);
        return kms_ok(r) && len > 0 ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
    }
    memcpy(*dec, p, len);
    *msg = *dec;
    *msg_len = len;
    free(s);
    return CLI_EXIT_OK;
}

static int cmd_decode(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {CLI_FLAG("sdp")};
    struct cli_args a;
    uint8_t *in = NULL, *dec = NULL;
    const uint8_t *msg = NULL;
    size_t in_len = 0, msg_len = 0;
    int rc = cli_parse(prefix, opts, 1, 1, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(decode_help, stdout);
        }
        return rc;
    }
    if ((rc = read_input(&a, a.n_pos > 0 ? a.pos[0] : NULL, &in, &in_len)) != 0 ||
        (rc = a.seen[0] ? sdp_message(&a, in, in_len, &dec, &msg, &msg_len)
                        : input_message(&a, in, in_len, &dec, &msg, &msg_len)) != 0) {
        goto out;
    }
    rc = render(&a, msg, msg_len);
out:
    if (dec != NULL) {
        kms_wipe(dec, msg_len);
        free(dec);
    }
    if (in != NULL) {
        kms_wipe(in, in_len);
        free(in);
    }
    return rc;
}

static const struct cli_cmd mikey_cmds[] = {
    {"decode", "print every field of a MIKEY message (raw, base64 or a=key-mgmt line)", cmd_decode},
};

int cmd_mikey(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, mikey_cmds, sizeof(mikey_cmds) / sizeof(mikey_cmds[0]), NULL, argc,
                        argv);
}

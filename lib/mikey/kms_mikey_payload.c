/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One decoder and one encoder per MIKEY payload, each reading like its RFC figure. A decoder
 * starts after the payload's Next Payload octet (read by the walker in kms_mikey.c); an
 * encoder writes everything after it.
 */
#include <string.h>

#include "mikey/kms_mikey_internal.h"
#include "util/kms_mem.h"

/* Timestamp value size for a TS type (RFC 3830 6.6, RFC 6043 6.3), or 0 when unknown. */
static size_t ts_size(uint8_t ts_type)
{
    switch (ts_type) {
    case KMS_MIKEY_TS_NTP_UTC:
    case KMS_MIKEY_TS_NTP:
        return 8;
    case KMS_MIKEY_TS_COUNTER:
    case KMS_MIKEY_TS_NTP_UTC_32:
        return 4;
    default:
        return 0;
    }
}

static kms_result ts_value_decode(struct kms_cur *c, uint8_t ts_type, size_t at, uint64_t *v,
                                  size_t *eo)
{
    size_t n = ts_size(ts_type);
    CHECK(eo, n != 0, at, KMS_ERR_MALFORMED);
    if (n == 8) {
        RD(c, kms_cur_get_u64(c, v));
    } else {
        uint32_t v32;
        RD(c, kms_cur_get_u32(c, &v32));
        *v = v32;
    }
    return KMS_RESULT_OK;
}

static kms_result ts_value_encode(struct kms_buf *b, uint8_t ts_type, uint64_t v)
{
    size_t n = ts_size(ts_type);
    KMS_ENSURE(n != 0, KMS_ERR_ARG);
    if (n == 8) {
        return kms_buf_put_u64(b, v);
    }
    KMS_ENSURE(v <= UINT32_MAX, KMS_ERR_ARG);
    return kms_buf_put_u32(b, (uint32_t)v);
}

/* KV data of DH and Key data (RFC 3830 6.13): 0 Null; 1 SPI = SPI len(8) || SPI;
 * 2 Interval = VF len(8) || Valid From || VT len(8) || Valid To. */
static kms_result kv_decode(struct kms_cur *c, uint8_t kv, size_t at, struct kms_bytes *a,
                            struct kms_bytes *b, size_t *eo)
{
    switch (kv) {
    case KMS_MIKEY_KV_NULL:
        return KMS_RESULT_OK;
    case KMS_MIKEY_KV_SPI:
        RD(c, lv8(c, a));
        return KMS_RESULT_OK;
    case KMS_MIKEY_KV_INTERVAL:
        RD(c, lv8(c, a));
        RD(c, lv8(c, b));
        return KMS_RESULT_OK;
    default:
        BAD(eo, at, KMS_ERR_MALFORMED);
    }
}

static kms_result kv_encode(struct kms_buf *buf, uint8_t kv, struct kms_bytes a, struct kms_bytes b)
{
    switch (kv) {
    case KMS_MIKEY_KV_NULL:
        KMS_ENSURE(a.len == 0 && b.len == 0, KMS_ERR_ARG);
        return KMS_RESULT_OK;
    case KMS_MIKEY_KV_SPI:
        KMS_ENSURE(b.len == 0, KMS_ERR_ARG);
        return put_lv8(buf, a);
    case KMS_MIKEY_KV_INTERVAL:
        KMS_TRY(put_lv8(buf, a));
        return put_lv8(buf, b);
    default:
        KMS_BAIL(KMS_ERR_ARG);
    }
}

/*= RFC 3830, 6.2 (paraphrased; RFC 6043 adds encr alg 3 and MAC alg 2)
 *# Next payload(8) || Encr alg(8) || Encr data len(16) || Encr data || Mac alg(8) || MAC
 */
static kms_result kemac_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    struct kms_mikey_kemac *k = &pl->u.kemac;
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &k->encr_alg));
    CHECK(eo, k->encr_alg <= 3, at, KMS_ERR_MALFORMED);
    RD(c, lv16(c, &k->encr_data));
    if (k->encr_alg == 0 && k->encr_data.len > 0) {
        /* NULL encryption: the key data is in clear, so it is checked here like any other
         * payload (RFC 3830 6.2: Encr data is a list of Key data sub-payloads). */
        struct kms_mikey_keydata_list kd;
        size_t kd_eo, base = kms_cur_offset(c) - k->encr_data.len;
        kms_result r = kms_mikey_keydata_decode(k->encr_data.p, k->encr_data.len, &kd, &kd_eo);
        kms_wipe(&kd, sizeof(kd));
        if (!kms_ok(r)) {
            *eo = base + kd_eo;
            return r;
        }
    }
    at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &k->mac_alg));
    int n = kms_mikey_mac_size(k->mac_alg);
    CHECK(eo, n >= 0, at, KMS_ERR_MALFORMED);
    RD(c, view(c, (size_t)n, &k->mac));
    return KMS_RESULT_OK;
}

static kms_result kemac_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    const struct kms_mikey_kemac *k = &pl->u.kemac;
    int n = kms_mikey_mac_size(k->mac_alg);
    KMS_ENSURE(n >= 0 && k->mac.len == (size_t)n, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u8(b, k->encr_alg));
    KMS_TRY(put_lv16(b, k->encr_data));
    KMS_TRY(kms_buf_put_u8(b, k->mac_alg));
    return kms_buf_put_bytes(b, k->mac.p, k->mac.len);
}

/*= RFC 3830, 6.3 (paraphrased)
 *# Next payload(8) || C(2) || Data len(14) || Data
 */
static kms_result pke_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    uint16_t v;
    RD(c, kms_cur_get_u16(c, &v));
    pl->u.pke.c = (uint8_t)(v >> 14);
    RD(c, view(c, v & 0x3fff, &pl->u.pke.data));
    return KMS_RESULT_OK;
}

static kms_result pke_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    const struct kms_mikey_pke *k = &pl->u.pke;
    KMS_ENSURE(k->c <= 3 && k->data.len <= 0x3fff, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u16(b, (uint16_t)((unsigned)k->c << 14 | k->data.len)));
    return kms_buf_put_bytes(b, k->data.p, k->data.len);
}

/*= RFC 3830, 6.4 (paraphrased)
 *# Next payload(8) || DH-Group(8) || DH-value || Reserv(4) || KV(4) || KV data
 *# DH-value length by group: OAKLEY 5 1536 bits, OAKLEY 1 768 bits, OAKLEY 2 1024 bits
 */
static size_t dh_size(uint8_t group)
{
    static const size_t sizes[] = {192, 96, 128};
    return group < 3 ? sizes[group] : 0;
}

static kms_result dh_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    struct kms_mikey_dh *d = &pl->u.dh;
    uint8_t rkv;
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &d->group));
    CHECK(eo, dh_size(d->group) != 0, at, KMS_ERR_MALFORMED);
    RD(c, view(c, dh_size(d->group), &d->value));
    at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &rkv));
    d->reserved = rkv >> 4;
    d->kv = rkv & 0x0f;
    return kv_decode(c, d->kv, at, &d->kv_a, &d->kv_b, eo);
}

static kms_result dh_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    const struct kms_mikey_dh *d = &pl->u.dh;
    KMS_ENSURE(dh_size(d->group) != 0 && d->value.len == dh_size(d->group), KMS_ERR_ARG);
    KMS_ENSURE(d->reserved <= 0x0f && d->kv <= 0x0f, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u8(b, d->group));
    KMS_TRY(kms_buf_put_bytes(b, d->value.p, d->value.len));
    KMS_TRY(kms_buf_put_u8(b, (uint8_t)(d->reserved << 4 | d->kv)));
    return kv_encode(b, d->kv, d->kv_a, d->kv_b);
}

/*= RFC 3830, 6.5 (paraphrased)
 *# S type(4) || Signature len(12) || Signature   (no Next payload field)
 */
static kms_result sign_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    uint16_t v;
    RD(c, kms_cur_get_u16(c, &v));
    pl->u.sign.s_type = (uint8_t)(v >> 12);
    RD(c, view(c, v & 0x0fff, &pl->u.sign.sig));
    return KMS_RESULT_OK;
}

static kms_result sign_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    const struct kms_mikey_sign *s = &pl->u.sign;
    KMS_ENSURE(s->s_type <= 0x0f && s->sig.len <= 0x0fff, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u16(b, (uint16_t)((unsigned)s->s_type << 12 | s->sig.len)));
    return kms_buf_put_bytes(b, s->sig.p, s->sig.len);
}

/*= RFC 3830, 6.6 (paraphrased; RFC 6043 6.3 adds NTP-UTC-32)
 *# Next payload(8) || TS type(8) || TS value (64 bits NTP-UTC, NTP; 32 bits COUNTER,
 *# NTP-UTC-32)
 */
static kms_result t_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &pl->u.t.ts_type));
    return ts_value_decode(c, pl->u.t.ts_type, at, &pl->u.t.value, eo);
}

static kms_result t_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.t.ts_type));
    return ts_value_encode(b, pl->u.t.ts_type, pl->u.t.value);
}

/*= RFC 3830, 6.7 (paraphrased)
 *# ID: Next payload(8) || ID Type(8) || ID len(16) || ID data; CERT has the same layout
 */
static kms_result id_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.id.type));
    RD(c, lv16(c, &pl->u.id.data));
    return KMS_RESULT_OK;
}

static kms_result id_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.id.type));
    return put_lv16(b, pl->u.id.data);
}

/*= RFC 6043, 6.6 (paraphrased)
 *# IDR: Next payload(8) || ID Role(8) || ID Type(8) || ID len(16) || ID data
 */
static kms_result idr_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.id.role));
    return id_dec(c, pl, eo);
}

static kms_result idr_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.id.role));
    return id_enc(pl, b);
}

/*= RFC 3830, 6.8 (paraphrased; RFC 6043 adds SHA-256)
 *# Next payload(8) || Hash func(8) || Hash (SHA-1 160 bits, MD5 128 bits)
 */
static size_t hash_size(uint8_t func)
{
    static const size_t sizes[] = {20, 16, 32};
    return func < 3 ? sizes[func] : 0;
}

static kms_result chash_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &pl->u.chash.func));
    CHECK(eo, hash_size(pl->u.chash.func) != 0, at, KMS_ERR_MALFORMED);
    RD(c, view(c, hash_size(pl->u.chash.func), &pl->u.chash.hash));
    return KMS_RESULT_OK;
}

static kms_result chash_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    const struct kms_mikey_chash *h = &pl->u.chash;
    KMS_ENSURE(hash_size(h->func) != 0 && h->hash.len == hash_size(h->func), KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u8(b, h->func));
    return kms_buf_put_bytes(b, h->hash.p, h->hash.len);
}

/*= RFC 3830, 6.9 (paraphrased)
 *# Next payload(8) || Auth alg(8) || Ver data (length given by the algorithm)
 */
static kms_result v_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &pl->u.v.alg));
    int n = kms_mikey_mac_size(pl->u.v.alg);
    CHECK(eo, n >= 0, at, KMS_ERR_MALFORMED);
    RD(c, view(c, (size_t)n, &pl->u.v.mac));
    return KMS_RESULT_OK;
}

static kms_result v_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    int n = kms_mikey_mac_size(pl->u.v.alg);
    KMS_ENSURE(n >= 0 && pl->u.v.mac.len == (size_t)n, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u8(b, pl->u.v.alg));
    return kms_buf_put_bytes(b, pl->u.v.mac.p, pl->u.v.mac.len);
}

/*= RFC 3830, 6.10 (paraphrased)
 *# Next payload(8) || Policy no(8) || Prot type(8) || Policy param length(16) ||
 *# Policy param = { Type(8) || Length(8) || Value }
 */
static kms_result sp_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    struct kms_cur params, value;
    RD(c, kms_cur_get_u8(c, &pl->u.sp.policy_no));
    RD(c, kms_cur_get_u8(c, &pl->u.sp.prot_type));
    RD(c, kms_cur_get_lv16(c, &params));
    pl->u.sp.params = (struct kms_bytes){kms_cur_peek_ptr(&params), kms_cur_remaining(&params)};
    while (kms_cur_remaining(&params) > 0) {
        uint8_t type;
        RD(&params, kms_cur_get_u8(&params, &type));
        RD(&params, kms_cur_get_lv8(&params, &value));
    }
    return KMS_RESULT_OK;
}

static kms_result sp_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.sp.policy_no));
    KMS_TRY(kms_buf_put_u8(b, pl->u.sp.prot_type));
    return put_lv16(b, pl->u.sp.params);
}

/*= RFC 3830, 6.11 (paraphrased)
 *# Next payload(8) || RAND len(8) || RAND
 */
static kms_result rand_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    size_t at = kms_cur_offset(c);
    RD(c, lv8(c, &pl->u.rand.rand));
    CHECK(eo, pl->u.rand.rand.len > 0, at, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

static kms_result rand_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_ENSURE(pl->u.rand.rand.len > 0, KMS_ERR_ARG);
    return put_lv8(b, pl->u.rand.rand);
}

/*= RFC 3830, 6.12 (paraphrased)
 *# Next payload(8) || Error no(8) || Reserved(16)
 */
static kms_result err_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.err.err_no));
    RD(c, kms_cur_get_u16(c, &pl->u.err.reserved));
    return KMS_RESULT_OK;
}

static kms_result err_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.err.err_no));
    return kms_buf_put_u16(b, pl->u.err.reserved);
}

/*= RFC 6043, 6.4 (paraphrased)
 *# TR: Next payload(8) || TS Role(8) || TS Type(8) || TS Value
 */
static kms_result tr_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.tr.role));
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &pl->u.tr.ts_type));
    return ts_value_decode(c, pl->u.tr.ts_type, at, &pl->u.tr.value, eo);
}

static kms_result tr_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.tr.role));
    KMS_TRY(kms_buf_put_u8(b, pl->u.tr.ts_type));
    return ts_value_encode(b, pl->u.tr.ts_type, pl->u.tr.value);
}

/*= RFC 6043, 6.8 (paraphrased)
 *# RANDR: Next payload(8) || RAND Role(8) || RAND len(8) || RAND
 */
static kms_result randr_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.randr.role));
    size_t at = kms_cur_offset(c);
    RD(c, lv8(c, &pl->u.randr.rand));
    CHECK(eo, pl->u.randr.rand.len > 0, at, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

static kms_result randr_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_ENSURE(pl->u.randr.rand.len > 0, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u8(b, pl->u.randr.role));
    return put_lv8(b, pl->u.randr.rand);
}

/*= RFC 6043, 6.10 (paraphrased)
 *# Next Payload(8) || Ticket Type(16) || Subtype(8) || Version(8) || PRF Func(7) || D(1) ||
 *# E F G H I J K L || M N O || Res(5) || TP Data length(16) || TP Data
 *# TICKET adds: Ticket Data length(16) || Ticket Data || Initiator Data length(16) ||
 *# Initiator Data
 */
static const uint16_t flag_bits_6[8] = {KMS_MIKEY_TF_E, KMS_MIKEY_TF_F, KMS_MIKEY_TF_G,
                                        KMS_MIKEY_TF_H, KMS_MIKEY_TF_I, KMS_MIKEY_TF_J,
                                        KMS_MIKEY_TF_K, KMS_MIKEY_TF_L};
static const uint16_t flag_bits_7[3] = {KMS_MIKEY_TF_M, KMS_MIKEY_TF_N, KMS_MIKEY_TF_O};

/* A chain inside TP data or initiator data, validated (views stay in the message). */
static kms_result nested_dec(struct kms_cur *c, struct kms_bytes *out, uint32_t allowed, size_t *eo)
{
    struct kms_cur sub;
    struct kms_mikey_plist l;
    uint8_t first;
    RD(c, kms_cur_get_lv16(c, &sub));
    *out = (struct kms_bytes){kms_cur_peek_ptr(&sub), kms_cur_remaining(&sub)};
    if (kms_cur_remaining(&sub) == 0) {
        return KMS_RESULT_OK; /* no payloads, no first-payload octet */
    }
    RD(&sub, kms_cur_get_u8(&sub, &first));
    KMS_TRY(kms_mikey_walk(&sub, first, false, allowed, &l, eo));
    CHECK(eo, kms_cur_remaining(&sub) == 0, kms_cur_offset(&sub), KMS_ERR_TRAILING);
    return KMS_RESULT_OK;
}

static kms_result ticket_dec_common(struct kms_cur *c, struct kms_mikey_ticket *t, size_t *eo)
{
    uint8_t b5, b6, b7;
    RD(c, kms_cur_get_u16(c, &t->type));
    RD(c, kms_cur_get_u8(c, &t->subtype));
    RD(c, kms_cur_get_u8(c, &t->version));
    RD(c, kms_cur_get_u8(c, &b5));
    RD(c, kms_cur_get_u8(c, &b6));
    RD(c, kms_cur_get_u8(c, &b7));
    t->prf = b5 >> 1;
    t->flags = (b5 & 1) ? KMS_MIKEY_TF_D : 0;
    for (unsigned i = 0; i < 8; i++) {
        if (b6 & (0x80u >> i)) {
            t->flags |= flag_bits_6[i];
        }
    }
    for (unsigned i = 0; i < 3; i++) {
        if (b7 & (0x80u >> i)) {
            t->flags |= flag_bits_7[i];
        }
    }
    t->reserved = b7 & 0x1f;
    return nested_dec(c, &t->tp_data, 0, eo);
}

static kms_result tp_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    return ticket_dec_common(c, &pl->u.ticket, eo);
}

static kms_result ticket_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    struct kms_mikey_ticket *t = &pl->u.ticket;
    KMS_TRY(ticket_dec_common(c, t, eo));
    RD(c, lv16(c, &t->ticket_data));
    /* Initiator Data (key forking only): first-payload octet, then Vi and Vr. */
    return nested_dec(c, &t->init_data, 1u << KMS_MIKEY_PT_V, eo);
}

static kms_result ticket_enc_common(const struct kms_mikey_ticket *t, struct kms_buf *b)
{
    uint8_t b6 = 0, b7 = 0;
    KMS_ENSURE(t->prf <= 0x7f && t->reserved <= 0x1f && (t->flags & ~0x0fffu) == 0, KMS_ERR_ARG);
    for (unsigned i = 0; i < 8; i++) {
        if (t->flags & flag_bits_6[i]) {
            b6 |= (uint8_t)(0x80u >> i);
        }
    }
    for (unsigned i = 0; i < 3; i++) {
        if (t->flags & flag_bits_7[i]) {
            b7 |= (uint8_t)(0x80u >> i);
        }
    }
    KMS_TRY(kms_buf_put_u16(b, t->type));
    KMS_TRY(kms_buf_put_u8(b, t->subtype));
    KMS_TRY(kms_buf_put_u8(b, t->version));
    KMS_TRY(kms_buf_put_u8(b, (uint8_t)(t->prf << 1 | ((t->flags & KMS_MIKEY_TF_D) ? 1 : 0))));
    KMS_TRY(kms_buf_put_u8(b, b6));
    KMS_TRY(kms_buf_put_u8(b, (uint8_t)(b7 | t->reserved)));
    return put_lv16(b, t->tp_data);
}

static kms_result tp_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_ENSURE(pl->u.ticket.ticket_data.len == 0 && pl->u.ticket.init_data.len == 0, KMS_ERR_ARG);
    return ticket_enc_common(&pl->u.ticket, b);
}

static kms_result ticket_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(ticket_enc_common(&pl->u.ticket, b));
    KMS_TRY(put_lv16(b, pl->u.ticket.ticket_data));
    return put_lv16(b, pl->u.ticket.init_data);
}

/*= RFC 3830, 6.15 (paraphrased)
 *# Next payload(8) || Type(8) || Length(16) || Data
 */
static kms_result genext_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.genext.type));
    RD(c, lv16(c, &pl->u.genext.data));
    return KMS_RESULT_OK;
}

static kms_result genext_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.genext.type));
    return put_lv16(b, pl->u.genext.data);
}

/*= RFC 6509, 4.2 (paraphrased)
 *# Next payload(8) || SAKKE params(8) || ID scheme(8) || SAKKE data length(16) || SAKKE data
 */
static kms_result sakke_dec(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo)
{
    RD(c, kms_cur_get_u8(c, &pl->u.sakke.params));
    RD(c, kms_cur_get_u8(c, &pl->u.sakke.id_scheme));
    RD(c, lv16(c, &pl->u.sakke.data));
    return KMS_RESULT_OK;
}

static kms_result sakke_enc(const struct kms_mikey_payload *pl, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_u8(b, pl->u.sakke.params));
    KMS_TRY(kms_buf_put_u8(b, pl->u.sakke.id_scheme));
    return put_lv16(b, pl->u.sakke.data);
}

static const struct kms_mikey_codec codecs[] = {
    [KMS_MIKEY_PT_KEMAC] = {kemac_dec, kemac_enc},
    [KMS_MIKEY_PT_PKE] = {pke_dec, pke_enc},
    [KMS_MIKEY_PT_DH] = {dh_dec, dh_enc},
    [KMS_MIKEY_PT_SIGN] = {sign_dec, sign_enc},
    [KMS_MIKEY_PT_T] = {t_dec, t_enc},
    [KMS_MIKEY_PT_ID] = {id_dec, id_enc},
    [KMS_MIKEY_PT_CERT] = {id_dec, id_enc},
    [KMS_MIKEY_PT_CHASH] = {chash_dec, chash_enc},
    [KMS_MIKEY_PT_V] = {v_dec, v_enc},
    [KMS_MIKEY_PT_SP] = {sp_dec, sp_enc},
    [KMS_MIKEY_PT_RAND] = {rand_dec, rand_enc},
    [KMS_MIKEY_PT_ERR] = {err_dec, err_enc},
    [KMS_MIKEY_PT_TR] = {tr_dec, tr_enc},
    [KMS_MIKEY_PT_IDR] = {idr_dec, idr_enc},
    [KMS_MIKEY_PT_RANDR] = {randr_dec, randr_enc},
    [KMS_MIKEY_PT_TP] = {tp_dec, tp_enc},
    [KMS_MIKEY_PT_TICKET] = {ticket_dec, ticket_enc},
    [KMS_MIKEY_PT_GENEXT] = {genext_dec, genext_enc},
    [KMS_MIKEY_PT_SAKKE] = {sakke_dec, sakke_enc},
};

const struct kms_mikey_codec *kms_mikey_codec_of(uint8_t type)
{
    if (type < sizeof(codecs) / sizeof(codecs[0]) && codecs[type].dec != NULL) {
        return &codecs[type];
    }
    return NULL;
}

/*= RFC 3830, 6.13 (paraphrased; RFC 6043 6.13 adds GTGK, GTGK+SALT and MPK)
 *# Next Payload(8) || Type(4) || KV(4) || Key data len(16) || Key data ||
 *# [Salt len(16) || Salt data] || [KV data]
 */
static bool kd_has_salt(uint8_t type)
{
    return type == KMS_MIKEY_KD_TGK_SALT || type == KMS_MIKEY_KD_TEK_SALT ||
           type == KMS_MIKEY_KD_GTGK_SALT;
}

kms_result kms_mikey_keydata_decode(const uint8_t *p, size_t len, struct kms_mikey_keydata_list *l,
                                    size_t *err_off)
{
    struct kms_cur cur, *c = &cur;
    size_t *eo = err_off;
    uint8_t next = KMS_MIKEY_PT_KEYDATA;
    memset(l, 0, sizeof(*l));
    *err_off = 0;
    kms_cur_init(c, p, len);
    while (next != KMS_MIKEY_PT_LAST) {
        size_t at = kms_cur_offset(c);
        CHECK(eo, l->n < KMS_MIKEY_MAX_KEYDATA, at, KMS_ERR_TOO_LONG);
        struct kms_mikey_keydata *kd = &l->kd[l->n];
        uint8_t tkv;
        RD(c, kms_cur_get_u8(c, &next));
        CHECK(eo, next == KMS_MIKEY_PT_LAST || next == KMS_MIKEY_PT_KEYDATA, at, KMS_ERR_MALFORMED);
        at = kms_cur_offset(c);
        RD(c, kms_cur_get_u8(c, &tkv));
        kd->type = tkv >> 4;
        kd->kv = tkv & 0x0f;
        CHECK(eo, kd->type <= KMS_MIKEY_KD_MPK, at, KMS_ERR_MALFORMED);
        RD(c, lv16(c, &kd->key));
        if (kd_has_salt(kd->type)) {
            RD(c, lv16(c, &kd->salt));
        }
        KMS_TRY(kv_decode(c, kd->kv, at, &kd->kv_a, &kd->kv_b, eo));
        l->n++;
    }
    CHECK(eo, kms_cur_remaining(c) == 0, kms_cur_offset(c), KMS_ERR_TRAILING);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_keydata_encode(const struct kms_mikey_keydata_list *l, struct kms_buf *out)
{
    KMS_ENSURE(l->n > 0 && l->n <= KMS_MIKEY_MAX_KEYDATA, KMS_ERR_ARG);
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_keydata *kd = &l->kd[i];
        KMS_ENSURE(kd->type <= KMS_MIKEY_KD_MPK && kd->kv <= 0x0f, KMS_ERR_ARG);
        KMS_ENSURE(kd_has_salt(kd->type) || kd->salt.len == 0, KMS_ERR_ARG);
        KMS_TRY(kms_buf_put_u8(out, i + 1 < l->n ? KMS_MIKEY_PT_KEYDATA : KMS_MIKEY_PT_LAST));
        KMS_TRY(kms_buf_put_u8(out, (uint8_t)(kd->type << 4 | kd->kv)));
        KMS_TRY(put_lv16(out, kd->key));
        if (kd_has_salt(kd->type)) {
            KMS_TRY(put_lv16(out, kd->salt));
        }
        KMS_TRY(kv_encode(out, kd->kv, kd->kv_a, kd->kv_b));
    }
    return KMS_RESULT_OK;
}

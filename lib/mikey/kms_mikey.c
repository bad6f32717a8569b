/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIKEY message walk: the common header, the next-payload chain, names. The payload codecs are
 * in kms_mikey_payload.c.
 */
#include "mikey/kms_mikey.h"

#include <string.h>

#include "mikey/kms_mikey_internal.h"
#include "mikey/kms_mikey_prf.h"

static const char *const pt_names[] = {
    [KMS_MIKEY_PT_LAST] = "LAST",       [KMS_MIKEY_PT_KEMAC] = "KEMAC",
    [KMS_MIKEY_PT_PKE] = "PKE",         [KMS_MIKEY_PT_DH] = "DH",
    [KMS_MIKEY_PT_SIGN] = "SIGN",       [KMS_MIKEY_PT_T] = "T",
    [KMS_MIKEY_PT_ID] = "ID",           [KMS_MIKEY_PT_CERT] = "CERT",
    [KMS_MIKEY_PT_CHASH] = "CHASH",     [KMS_MIKEY_PT_V] = "V",
    [KMS_MIKEY_PT_SP] = "SP",           [KMS_MIKEY_PT_RAND] = "RAND",
    [KMS_MIKEY_PT_ERR] = "ERR",         [KMS_MIKEY_PT_TR] = "TR",
    [KMS_MIKEY_PT_IDR] = "IDR",         [KMS_MIKEY_PT_RANDR] = "RANDR",
    [KMS_MIKEY_PT_TP] = "TP",           [KMS_MIKEY_PT_TICKET] = "TICKET",
    [KMS_MIKEY_PT_KEYDATA] = "KEYDATA", [KMS_MIKEY_PT_GENEXT] = "GENEXT",
    [KMS_MIKEY_PT_SAKKE] = "SAKKE",
};

static const char *const dt_names[] = {
    [KMS_MIKEY_DT_PSK_INIT] = "PSK_INIT",
    [KMS_MIKEY_DT_PSK_RESP] = "PSK_RESP",
    [KMS_MIKEY_DT_PK_INIT] = "PK_INIT",
    [KMS_MIKEY_DT_PK_RESP] = "PK_RESP",
    [KMS_MIKEY_DT_DH_INIT] = "DH_INIT",
    [KMS_MIKEY_DT_DH_RESP] = "DH_RESP",
    [KMS_MIKEY_DT_ERROR] = "ERROR",
    [KMS_MIKEY_DT_DHHMAC_INIT] = "DHHMAC_INIT",
    [KMS_MIKEY_DT_DHHMAC_RESP] = "DHHMAC_RESP",
    [KMS_MIKEY_DT_RSA_R_INIT] = "RSA_R_INIT",
    [KMS_MIKEY_DT_RSA_R_RESP] = "RSA_R_RESP",
    [KMS_MIKEY_DT_REQUEST_INIT_PSK] = "REQUEST_INIT_PSK",
    [KMS_MIKEY_DT_REQUEST_INIT_PK] = "REQUEST_INIT_PK",
    [KMS_MIKEY_DT_REQUEST_RESP] = "REQUEST_RESP",
    [KMS_MIKEY_DT_TRANSFER_INIT] = "TRANSFER_INIT",
    [KMS_MIKEY_DT_TRANSFER_RESP] = "TRANSFER_RESP",
    [KMS_MIKEY_DT_RESOLVE_INIT_PSK] = "RESOLVE_INIT_PSK",
    [KMS_MIKEY_DT_RESOLVE_INIT_PK] = "RESOLVE_INIT_PK",
    [KMS_MIKEY_DT_RESOLVE_RESP] = "RESOLVE_RESP",
    [KMS_MIKEY_DT_SAKKE] = "SAKKE",
};

const char *kms_mikey_pt_name(uint8_t type)
{
    if (type < sizeof(pt_names) / sizeof(pt_names[0]) && pt_names[type] != NULL) {
        return pt_names[type];
    }
    return "?";
}

const char *kms_mikey_dt_name(uint8_t data_type)
{
    if (data_type < sizeof(dt_names) / sizeof(dt_names[0]) && dt_names[data_type] != NULL) {
        return dt_names[data_type];
    }
    return "?";
}

int kms_mikey_mac_size(uint8_t alg)
{
    size_t n;
    /* One table of MAC lengths: the PRF module's. */
    return kms_mikey_mac_len((enum kms_mikey_mac_alg)alg, &n) ? (int)n : -1;
}

const struct kms_mikey_payload *kms_mikey_find(const struct kms_mikey_plist *l, uint8_t type,
                                               size_t *from)
{
    size_t i = from != NULL ? *from : 0;
    for (; i < l->n; i++) {
        if (l->pl[i].type == type) {
            if (from != NULL) {
                *from = i + 1;
            }
            return &l->pl[i];
        }
    }
    return NULL;
}

/*= RFC 3830, 6.1 (paraphrased)
 *# version(8) || data type(8) || next payload(8) || V(1) || PRF func(7) || CSB ID(32) ||
 *# #CS(8) || CS ID map type(8) || CS ID map info
 */
static kms_result map_decode(struct kms_cur *c, struct kms_mikey_hdr *h, size_t *eo)
{
    for (size_t i = 0; i < h->n_cs; i++) {
        struct kms_mikey_cs *cs = &h->cs[i];
        switch (h->map_type) {
        case KMS_MIKEY_MAP_SRTP_ID:
            /* RFC 3830 6.1.1: Policy_no_i(8) || SSRC_i(32) || ROC_i(32) */
            RD(c, kms_cur_get_u8(c, &cs->policy_no));
            RD(c, kms_cur_get_u32(c, &cs->ssrc));
            RD(c, kms_cur_get_u32(c, &cs->roc));
            break;
        case KMS_MIKEY_MAP_GENERIC_ID: {
            /* RFC 6043 6.1.1: CS ID(8) || Prot type(8) || S(1) || #P(7) || Ps || Session Data
             * Length(16) || Session Data || SPI Length(8) || SPI */
            uint8_t sp;
            RD(c, kms_cur_get_u8(c, &cs->cs_id));
            RD(c, kms_cur_get_u8(c, &cs->prot_type));
            RD(c, kms_cur_get_u8(c, &sp));
            cs->s = (sp & 0x80) != 0;
            RD(c, view(c, sp & 0x7f, &cs->ps));
            RD(c, lv16(c, &cs->session_data));
            RD(c, lv8(c, &cs->spi));
            break;
        }
        case KMS_MIKEY_MAP_EMPTY:
            /* RFC 4563 5: no map info */
            break;
        default:
            BAD(eo, kms_cur_offset(c), KMS_ERR_MALFORMED);
        }
    }
    return KMS_RESULT_OK;
}

static bool known_data_type(uint8_t dt)
{
    return dt <= KMS_MIKEY_DT_RESOLVE_RESP || dt == KMS_MIKEY_DT_SAKKE;
}

static kms_result hdr_decode(struct kms_cur *c, struct kms_mikey_hdr *h, size_t *eo)
{
    uint8_t vprf;
    size_t at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &h->version));
    CHECK(eo, h->version == KMS_MIKEY_VERSION, at, KMS_ERR_MALFORMED);
    at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &h->data_type));
    CHECK(eo, known_data_type(h->data_type), at, KMS_ERR_MALFORMED);
    RD(c, kms_cur_get_u8(c, &h->next_payload));
    at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &vprf));
    h->v = (vprf & 0x80) != 0;
    h->prf = vprf & 0x7f;
    /* PRF func: 0 MIKEY-1 (RFC 3830 4.1.2), 1 PRF-HMAC-SHA-256 (RFC 6043 6.1) */
    CHECK(eo, h->prf <= 1, at, KMS_ERR_MALFORMED);
    RD(c, kms_cur_get_u32(c, &h->csb_id));
    at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &h->n_cs));
    CHECK(eo, h->n_cs <= KMS_MIKEY_MAX_CS, at, KMS_ERR_TOO_LONG);
    at = kms_cur_offset(c);
    RD(c, kms_cur_get_u8(c, &h->map_type));
    CHECK(eo, h->map_type <= KMS_MIKEY_MAP_GENERIC_ID, at, KMS_ERR_MALFORMED);
    return map_decode(c, h, eo);
}

kms_result kms_mikey_walk(struct kms_cur *c, uint8_t first, bool nested_ok, uint32_t allowed,
                          struct kms_mikey_plist *l, size_t *eo)
{
    uint8_t type = first;
    l->n = 0;
    while (type != KMS_MIKEY_PT_LAST) {
        size_t at = kms_cur_offset(c);
        CHECK(eo, l->n < KMS_MIKEY_MAX_PAYLOADS, at, KMS_ERR_TOO_LONG);
        const struct kms_mikey_codec *cd = kms_mikey_codec_of(type);
        /* No length field to skip by: an unknown payload type ends the parse. Key data
         * sub-payloads live only inside KEMAC. */
        CHECK(eo, cd != NULL && type != KMS_MIKEY_PT_KEYDATA, at, KMS_ERR_MALFORMED);
        CHECK(eo, nested_ok || (type != KMS_MIKEY_PT_TP && type != KMS_MIKEY_PT_TICKET), at,
              KMS_ERR_MALFORMED);
        CHECK(eo, allowed == 0 || (type < 32 && (allowed & (1u << type)) != 0), at,
              KMS_ERR_MALFORMED);
        struct kms_mikey_payload *pl = &l->pl[l->n];
        memset(pl, 0, sizeof(*pl));
        pl->type = type;
        pl->off = at;
        uint8_t next = KMS_MIKEY_PT_LAST;
        /*= RFC 3830, 6.5 (paraphrased; Wireshark's dissector agrees)
         *# The SIGN payload has no next payload field: it is always the last payload.
         */
        if (type != KMS_MIKEY_PT_SIGN) {
            RD(c, kms_cur_get_u8(c, &next));
        }
        KMS_TRY(cd->dec(c, pl, eo));
        pl->len = kms_cur_offset(c) - at;
        l->n++;
        type = next;
    }
    return KMS_RESULT_OK;
}

kms_result kms_mikey_decode(const uint8_t *p, size_t len, struct kms_mikey_msg *m, size_t *err_off)
{
    struct kms_cur c;
    size_t eo = 0;
    memset(m, 0, sizeof(*m));
    *err_off = 0;
    KMS_ENSURE(len <= KMS_MIKEY_MAX_MSG, KMS_ERR_TOO_LONG);
    kms_cur_init(&c, p, len);
    m->raw = (struct kms_bytes){p, len};
    kms_result r = hdr_decode(&c, &m->hdr, &eo);
    if (kms_ok(r)) {
        r = kms_mikey_walk(&c, m->hdr.next_payload, true, 0, &m->body, &eo);
    }
    if (kms_ok(r) && kms_cur_remaining(&c) != 0) {
        eo = kms_cur_offset(&c);
        r = KMS_ERR(KMS_ERR_TRAILING);
    }
    if (!kms_ok(r)) {
        *err_off = eo;
    }
    return r;
}

kms_result kms_mikey_chain_decode(struct kms_cur *c, struct kms_mikey_plist *l, size_t *err_off)
{
    uint8_t first;
    size_t eo = kms_cur_offset(c);
    l->n = 0;
    kms_result r = kms_cur_get_u8(c, &first);
    if (kms_ok(r)) {
        r = kms_mikey_walk(c, first, false, 0, l, &eo);
    }
    if (kms_ok(r) && kms_cur_remaining(c) != 0) {
        eo = kms_cur_offset(c);
        r = KMS_ERR(KMS_ERR_TRAILING);
    }
    *err_off = kms_ok(r) ? 0 : eo;
    return r;
}

static kms_result map_encode(const struct kms_mikey_hdr *h, struct kms_buf *b)
{
    for (size_t i = 0; i < h->n_cs; i++) {
        const struct kms_mikey_cs *cs = &h->cs[i];
        switch (h->map_type) {
        case KMS_MIKEY_MAP_SRTP_ID:
            KMS_TRY(kms_buf_put_u8(b, cs->policy_no));
            KMS_TRY(kms_buf_put_u32(b, cs->ssrc));
            KMS_TRY(kms_buf_put_u32(b, cs->roc));
            break;
        case KMS_MIKEY_MAP_GENERIC_ID:
            KMS_ENSURE(cs->ps.len <= 0x7f, KMS_ERR_ARG);
            KMS_TRY(kms_buf_put_u8(b, cs->cs_id));
            KMS_TRY(kms_buf_put_u8(b, cs->prot_type));
            KMS_TRY(kms_buf_put_u8(b, (uint8_t)((cs->s ? 0x80 : 0) | cs->ps.len)));
            KMS_TRY(kms_buf_put_bytes(b, cs->ps.p, cs->ps.len));
            KMS_TRY(put_lv16(b, cs->session_data));
            KMS_TRY(put_lv8(b, cs->spi));
            break;
        case KMS_MIKEY_MAP_EMPTY:
            break;
        default:
            KMS_BAIL(KMS_ERR_ARG);
        }
    }
    return KMS_RESULT_OK;
}

kms_result kms_mikey_plist_encode(struct kms_mikey_plist *l, size_t base, struct kms_buf *b)
{
    for (size_t i = 0; i < l->n; i++) {
        struct kms_mikey_payload *pl = &l->pl[i];
        const struct kms_mikey_codec *cd = kms_mikey_codec_of(pl->type);
        KMS_ENSURE(cd != NULL && pl->type != KMS_MIKEY_PT_KEYDATA, KMS_ERR_ARG);
        size_t start = kms_buf_len(b);
        pl->off = start - base;
        if (pl->type == KMS_MIKEY_PT_SIGN) {
            KMS_ENSURE(i + 1 == l->n, KMS_ERR_ARG);
        } else {
            KMS_TRY(kms_buf_put_u8(b, i + 1 < l->n ? l->pl[i + 1].type : KMS_MIKEY_PT_LAST));
        }
        KMS_TRY(cd->enc(pl, b));
        pl->len = kms_buf_len(b) - start;
    }
    return KMS_RESULT_OK;
}

kms_result kms_mikey_encode(struct kms_mikey_msg *m, struct kms_buf *out)
{
    const struct kms_mikey_hdr *h = &m->hdr;
    size_t base = kms_buf_len(out);
    KMS_ENSURE(h->prf <= 0x7f && h->n_cs <= KMS_MIKEY_MAX_CS, KMS_ERR_ARG);
    m->hdr.next_payload = m->body.n > 0 ? m->body.pl[0].type : KMS_MIKEY_PT_LAST;
    KMS_TRY(kms_buf_put_u8(out, h->version));
    KMS_TRY(kms_buf_put_u8(out, h->data_type));
    KMS_TRY(kms_buf_put_u8(out, h->next_payload));
    KMS_TRY(kms_buf_put_u8(out, (uint8_t)((h->v ? 0x80 : 0) | h->prf)));
    KMS_TRY(kms_buf_put_u32(out, h->csb_id));
    KMS_TRY(kms_buf_put_u8(out, h->n_cs));
    KMS_TRY(kms_buf_put_u8(out, h->map_type));
    KMS_TRY(map_encode(h, out));
    KMS_TRY(kms_mikey_plist_encode(&m->body, base, out));
    KMS_ENSURE(kms_buf_len(out) - base <= KMS_MIKEY_MAX_MSG, KMS_ERR_TOO_LONG);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_chain_encode(struct kms_mikey_plist *l, struct kms_buf *out)
{
    size_t base = kms_buf_len(out);
    KMS_TRY(kms_buf_put_u8(out, l->n > 0 ? l->pl[0].type : KMS_MIKEY_PT_LAST));
    return kms_mikey_plist_encode(l, base, out);
}

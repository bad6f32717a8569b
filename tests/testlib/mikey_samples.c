/* SPDX-License-Identifier: Apache-2.0 */
#include "mikey_samples.h"

#include <string.h>

#include "err/kms_err.h"

static struct kms_bytes B(const void *p, size_t n) {
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_bytes
S(const char *s) {
    return B(s, strlen(s));
}

/* Sets l to the n payloads of pl. */
static kms_result
set_chain(struct kms_mikey_plist *l, const struct kms_mikey_payload *pl, size_t n)
{
    KMS_ENSURE(n <= KMS_MIKEY_MAX_PAYLOADS, KMS_ERR_TOO_LONG);
    memcpy(l->pl, pl, n * sizeof(*pl));
    l->n = n;
    return KMS_RESULT_OK;
}

/* Buffers the "every payload" message points into. */
static uint8_t mac20[20], mac32[32], dhv[128], hash32[32], sig[64], tp_data[256], init_data[64];
static uint8_t session_data[10], spi[4], ps[2];
static const uint8_t sp_params[] = {0x00, 0x01, 0x01, 0x01, 0x01, 0x10, 0x0b, 0x01, 0x0a};
/* Key data: last (0), MPK (6) with KV Null, 16 zero octets of key. */
static const uint8_t zero_kd[] = {0x00, 0x60, 0x00, 0x10, 0, 0, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0, 0, 0, 0, 0, 0};

/* Encodes the chain of the n payloads of pl into buf (cap octets); *len is its length. */
static kms_result encode_chain(const struct kms_mikey_payload *pl, size_t n, uint8_t *buf,
                               size_t cap, size_t *len)
{
    struct kms_mikey_plist chain;
    struct kms_buf b;
    KMS_TRY(set_chain(&chain, pl, n));
    kms_buf_init_fixed(&b, buf, cap, false);
    KMS_TRY(kms_mikey_chain_encode(&chain, &b));
    *len = kms_buf_len(&b);
    return KMS_RESULT_OK;
}

/* TP data: IDRkms, IDRi, TRs, TRe, KEMAC (NULL/NULL, MPK of zeros), IDRr. */
static kms_result build_tp_data(size_t *len)
{
    const struct kms_mikey_payload pl[] = {
        {.type = KMS_MIKEY_PT_IDR, .u.id = {3, 1, S("sip:kms.example.org")}},
        {.type = KMS_MIKEY_PT_IDR, .u.id = {1, 1, S("sip:alice@example.org")}},
        {.type = KMS_MIKEY_PT_TR, .u.tr = {2, KMS_MIKEY_TS_NTP_UTC_32, 0xe9b1c0deu}},
        {.type = KMS_MIKEY_PT_TR, .u.tr = {3, KMS_MIKEY_TS_NTP_UTC, 0xe9b1c0de00000000ULL}},
        {.type = KMS_MIKEY_PT_KEMAC, .u.kemac = {0, B(zero_kd, sizeof(zero_kd)), 0, B(NULL, 0)}},
        {.type = KMS_MIKEY_PT_IDR, .u.id = {2, 1, S("sip:bob@example.org")}},
    };
    return encode_chain(pl, sizeof(pl) / sizeof(pl[0]), tp_data, sizeof(tp_data), len);
}

/* Initiator data: V (HMAC-SHA-256-256), V (HMAC-SHA-1-160). */
static kms_result build_init_data(size_t *len)
{
    const struct kms_mikey_payload pl[] = {
        {.type = KMS_MIKEY_PT_V, .u.v = {2, B(mac32, 32)}},
        {.type = KMS_MIKEY_PT_V, .u.v = {1, B(mac20, 20)}},
    };
    return encode_chain(pl, sizeof(pl) / sizeof(pl[0]), init_data, sizeof(init_data), len);
}

kms_result kms_sample_everything(struct kms_mikey_msg *m, struct kms_buf *out)
{
    size_t tpl = 0, idl = 0;
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < sizeof(mac32); i++) {
        mac32[i] = (uint8_t)i;
        hash32[i] = (uint8_t)(0xa0 + i);
    }
    memset(mac20, 0x5a, sizeof(mac20));
    memset(dhv, 0x77, sizeof(dhv));
    memset(sig, 0x33, sizeof(sig));
    memcpy(session_data, "\x11\x22\x33\x44\x00\x00\x00\x01\x00\x02", 10);
    memcpy(spi, "\xde\xad\xbe\xef", 4);
    ps[0] = 0;
    ps[1] = 1;
    KMS_TRY(build_tp_data(&tpl));
    KMS_TRY(build_init_data(&idl));

    struct kms_mikey_hdr *h = &m->hdr;
    h->version = 1;
    h->data_type = KMS_MIKEY_DT_TRANSFER_INIT;
    h->v = true;
    h->prf = 1;
    h->csb_id = 0x01020304;
    h->n_cs = 2;
    h->map_type = KMS_MIKEY_MAP_GENERIC_ID;
    h->cs[0] = (struct kms_mikey_cs){.cs_id = 1,
                                     .prot_type = 0,
                                     .s = true,
                                     .ps = B(ps, 2),
                                     .session_data = B(session_data, 10),
                                     .spi = B(spi, 4)};
    h->cs[1] =
        (struct kms_mikey_cs){.cs_id = 2, .ps = B(ps, 1), .session_data = B(session_data, 4)};

    const struct kms_mikey_payload body[] = {
        {.type = KMS_MIKEY_PT_T, .u.t = {KMS_MIKEY_TS_NTP_UTC, 0xe9b1c0de12345678ULL}},
        {.type = KMS_MIKEY_PT_T, .u.t = {KMS_MIKEY_TS_COUNTER, 7}},
        {.type = KMS_MIKEY_PT_RAND, .u.rand = {B(hash32, 16)}},
        {.type = KMS_MIKEY_PT_RANDR, .u.randr = {1, B(hash32, 32)}},
        {.type = KMS_MIKEY_PT_ID, .u.id = {0, 0, S("alice@example.org")}},
        {.type = KMS_MIKEY_PT_IDR, .u.id = {4, 2, B(hash32, 20)}},
        {.type = KMS_MIKEY_PT_CERT, .u.id = {0, 0, B(sig, 40)}},
        {.type = KMS_MIKEY_PT_TR, .u.tr = {1, KMS_MIKEY_TS_NTP, 42}},
        {.type = KMS_MIKEY_PT_SP, .u.sp = {0, 0, B(sp_params, sizeof(sp_params))}},
        {.type = KMS_MIKEY_PT_TP,
         .u.ticket = {.type = 0xf000,
                      .subtype = 1,
                      .version = 1,
                      .prf = 1,
                      .flags = KMS_MIKEY_TF_E | KMS_MIKEY_TF_J,
                      .tp_data = B(tp_data, tpl)}},
        {.type = KMS_MIKEY_PT_TICKET,
         .u.ticket = {.type = 0xf001,
                      .subtype = 1,
                      .version = 1,
                      .prf = 1,
                      .flags = KMS_MIKEY_TF_D | KMS_MIKEY_TF_E | KMS_MIKEY_TF_I | KMS_MIKEY_TF_K |
                               KMS_MIKEY_TF_O,
                      .reserved = 0x05,
                      .tp_data = B(tp_data, tpl),
                      .ticket_data = B(sig, 48),
                      .init_data = B(init_data, idl)}},
        {.type = KMS_MIKEY_PT_KEMAC, .u.kemac = {1, B(sig, 30), 2, B(mac32, 32)}},
        {.type = KMS_MIKEY_PT_PKE, .u.pke = {2, B(sig, 64)}},
        {.type = KMS_MIKEY_PT_DH, .u.dh = {2, B(dhv, 128), 0, 2, B(spi, 4), B(spi, 2)}},
        {.type = KMS_MIKEY_PT_CHASH, .u.chash = {2, B(hash32, 32)}},
        {.type = KMS_MIKEY_PT_ERR, .u.err = {14, 0}},
        {.type = KMS_MIKEY_PT_GENEXT, .u.genext = {1, S("sdp-id")}},
        {.type = KMS_MIKEY_PT_SAKKE, .u.sakke = {1, 1, B(sig, 33)}},
        {.type = KMS_MIKEY_PT_V, .u.v = {1, B(mac20, 20)}},
        {.type = KMS_MIKEY_PT_SIGN, .u.sign = {1, B(sig, 64)}},
    };
    KMS_TRY(set_chain(&m->body, body, sizeof(body) / sizeof(body[0])));
    return kms_mikey_encode(m, out);
}

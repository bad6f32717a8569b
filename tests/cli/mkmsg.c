/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper (built for the tests only): writes to stdout, as raw bytes, one MIKEY message
 * holding every payload type, built with the codec the way build_everything() in
 * tests/unit/test_mikey.c builds it. test_cli_mikey.sh decodes it with `imskms mikey decode`
 * and checks the printed fields against the values set here (not against earlier output).
 * Usage: mkmsg (no arguments). Exit 0, or 1 when the codec refuses to encode.
 */
#include <stdio.h>
#include <string.h>

#include "err/kms_err.h"
#include "mikey/kms_mikey.h"
#include "util/kms_buf.h"

#define MUST(expr)                                                                                 \
    do {                                                                                           \
        if (!kms_ok(expr)) {                                                                       \
            fprintf(stderr, "mkmsg: %s failed\n", #expr);                                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static struct kms_bytes B(const void *p, size_t n)
{
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_bytes S(const char *s)
{
    return B(s, strlen(s));
}

static struct kms_mikey_payload *add(struct kms_mikey_plist *l, uint8_t type)
{
    struct kms_mikey_payload *pl = &l->pl[l->n++];
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    return pl;
}

static uint8_t mac20[20], mac32[32], dhv[128], hash32[32], sig[64], tp_data[256], init_data[64];
static uint8_t session_data[10], spi[4], ps[2];
static const uint8_t sp_params[] = {0x00, 0x01, 0x01, 0x01, 0x01, 0x10, 0x0b, 0x01, 0x0a};
/* Key data: last (0), MPK (6) with KV Null, 16 zero octets of key */
static const uint8_t zero_kd[] = {0x00, 0x60, 0x00, 0x10, 0, 0, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0, 0, 0, 0, 0, 0};
static struct kms_mikey_plist tp_list, init_list;
static struct kms_mikey_msg msg;

/* TP data: IDRkms, IDRi, TRs, TRe, KEMAC (NULL/NULL, MPK of zeros), IDRr. */
static int build_tp_data(size_t *len)
{
    struct kms_mikey_plist *l = &tp_list;
    struct kms_buf b;
    add(l, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){3, 1, S("sip:kms.example.org")};
    add(l, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){1, 1, S("sip:alice@example.org")};
    add(l, KMS_MIKEY_PT_TR)->u.tr = (struct kms_mikey_tr){2, KMS_MIKEY_TS_NTP_UTC_32, 0xe9b1c0deu};
    add(l, KMS_MIKEY_PT_TR)->u.tr =
        (struct kms_mikey_tr){3, KMS_MIKEY_TS_NTP_UTC, 0xe9b1c0de00000000ULL};
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac =
        (struct kms_mikey_kemac){0, B(zero_kd, sizeof(zero_kd)), 0, B(NULL, 0)};
    add(l, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){2, 1, S("sip:bob@example.org")};
    kms_buf_init_fixed(&b, tp_data, sizeof(tp_data), false);
    MUST(kms_mikey_chain_encode(l, &b));
    *len = kms_buf_len(&b);
    return 0;
}

/* Initiator data: V (HMAC-SHA-256-256), V (HMAC-SHA-1-160). */
static int build_init_data(size_t *len)
{
    struct kms_mikey_plist *l = &init_list;
    struct kms_buf b;
    add(l, KMS_MIKEY_PT_V)->u.v = (struct kms_mikey_v){2, B(mac32, 32)};
    add(l, KMS_MIKEY_PT_V)->u.v = (struct kms_mikey_v){1, B(mac20, 20)};
    kms_buf_init_fixed(&b, init_data, sizeof(init_data), false);
    MUST(kms_mikey_chain_encode(l, &b));
    *len = kms_buf_len(&b);
    return 0;
}

int main(void)
{
    struct kms_mikey_msg *m = &msg;
    struct kms_buf out;
    size_t tpl = 0, idl = 0;
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
    if (build_tp_data(&tpl) != 0 || build_init_data(&idl) != 0) {
        return 1;
    }
    struct kms_mikey_hdr *h = &m->hdr;
    h->version = 1;
    h->data_type = KMS_MIKEY_DT_TRANSFER_INIT;
    h->v = true;
    h->prf = 1;
    h->csb_id = 0x01020304;
    h->n_cs = 2;
    h->map_type = KMS_MIKEY_MAP_GENERIC_ID;
    h->cs[0] = (struct kms_mikey_cs){.cs_id = 1, .prot_type = 0, .s = true, .ps = B(ps, 2),
                                     .session_data = B(session_data, 10), .spi = B(spi, 4)};
    h->cs[1] = (struct kms_mikey_cs){.cs_id = 2, .ps = B(ps, 1), .session_data = B(session_data, 4)};
    struct kms_mikey_plist *l = &m->body;
    struct kms_mikey_payload *pl;
    add(l, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, 0xe9b1c0de12345678ULL};
    add(l, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_COUNTER, 7};
    add(l, KMS_MIKEY_PT_RAND)->u.rand.rand = B(hash32, 16);
    add(l, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(hash32, 32)};
    add(l, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 0, S("alice@example.org")};
    add(l, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){4, 2, B(hash32, 20)};
    add(l, KMS_MIKEY_PT_CERT)->u.id = (struct kms_mikey_id){0, 0, B(sig, 40)};
    add(l, KMS_MIKEY_PT_TR)->u.tr = (struct kms_mikey_tr){1, KMS_MIKEY_TS_NTP, 42};
    add(l, KMS_MIKEY_PT_SP)->u.sp = (struct kms_mikey_sp){0, 0, B(sp_params, sizeof(sp_params))};
    pl = add(l, KMS_MIKEY_PT_TP);
    pl->u.ticket = (struct kms_mikey_ticket){.type = 0xf000, .subtype = 1, .version = 1,
                                             .prf = 1, .flags = KMS_MIKEY_TF_E | KMS_MIKEY_TF_J,
                                             .tp_data = B(tp_data, tpl)};
    pl = add(l, KMS_MIKEY_PT_TICKET);
    pl->u.ticket = (struct kms_mikey_ticket){
        .type = 0xf001, .subtype = 1, .version = 1, .prf = 1,
        .flags = KMS_MIKEY_TF_D | KMS_MIKEY_TF_E | KMS_MIKEY_TF_I | KMS_MIKEY_TF_K | KMS_MIKEY_TF_O,
        .reserved = 0x05, .tp_data = B(tp_data, tpl), .ticket_data = B(sig, 48),
        .init_data = B(init_data, idl)};
    add(l, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){1, B(sig, 30), 2, B(mac32, 32)};
    add(l, KMS_MIKEY_PT_PKE)->u.pke = (struct kms_mikey_pke){2, B(sig, 64)};
    add(l, KMS_MIKEY_PT_DH)->u.dh =
        (struct kms_mikey_dh){2, B(dhv, 128), 0, 2, B(spi, 4), B(spi, 2)};
    add(l, KMS_MIKEY_PT_CHASH)->u.chash = (struct kms_mikey_chash){2, B(hash32, 32)};
    add(l, KMS_MIKEY_PT_ERR)->u.err = (struct kms_mikey_err){14, 0};
    add(l, KMS_MIKEY_PT_GENEXT)->u.genext = (struct kms_mikey_genext){1, S("sdp-id")};
    add(l, KMS_MIKEY_PT_SAKKE)->u.sakke = (struct kms_mikey_sakke){1, 1, B(sig, 33)};
    add(l, KMS_MIKEY_PT_V)->u.v = (struct kms_mikey_v){1, B(mac20, 20)};
    add(l, KMS_MIKEY_PT_SIGN)->u.sign = (struct kms_mikey_sign){1, B(sig, 64)};
    kms_buf_init(&out, 1 << 16, false);
    MUST(kms_mikey_encode(m, &out));
    size_t n = kms_buf_len(&out);
    int rc = fwrite(kms_buf_data(&out), 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 1;
    kms_buf_cleanup(&out);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The Kue-issue exchange: see kms_kue_msg.h. */
#include "kms/kms_kue_msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "kms/kms_msgkit.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define MSG_MAX   (1u << 16)
#define MAC_LEN   32
#define NTP_EPOCH UINT64_C(2208988800) /* seconds from 1900 to 1970 */

static const char kue_label[] = "imskms Kue v1";
static const char kue1_label[] = "imskms Kue1 v1";
static const uint8_t zero_mac[MAC_LEN];

uint64_t kms_kue_ntp_to_unix(uint64_t ntp)
{
    uint64_t s = ntp >> 32;
    return s > NTP_EPOCH ? s - NTP_EPOCH : 0;
}

kms_result kms_kue_derive(const uint8_t ks_naf[32], const uint8_t kue_rand[KMS_KUE_RAND_LEN],
                          uint8_t kue[KMS_KUE_LEN])
{
    uint8_t label[sizeof(kue_label) - 1 + KMS_KUE_RAND_LEN];
    memcpy(label, kue_label, sizeof(kue_label) - 1);
    memcpy(label + sizeof(kue_label) - 1, kue_rand, KMS_KUE_RAND_LEN);
    return kms_mikey_prf(KMS_MIKEY_PRF_HMAC_SHA256, ks_naf, 32, label, sizeof(label), kue,
                         KMS_KUE_LEN);
}

kms_result kms_kue1_derive(const uint8_t ks_naf[32], const uint8_t rand[16],
                           uint8_t kue1[KMS_KUE_LEN])
{
    uint8_t label[sizeof(kue1_label) - 1 + 16];
    memcpy(label, kue1_label, sizeof(kue1_label) - 1);
    memcpy(label + sizeof(kue1_label) - 1, rand, 16);
    return kms_mikey_prf(KMS_MIKEY_PRF_HMAC_SHA256, ks_naf, 32, label, sizeof(label), kue1,
                         KMS_KUE_LEN);
}

bool kms_kue_psk_is_btid(const uint8_t *psk_id, size_t len)
{
    if (psk_id == NULL || len <= KMS_KUE_REF_LEN || len >= KMS_BTID_MAX) {
        return false;
    }
    return kms_ident_chars_ok(psk_id, len) && memchr(psk_id, '@', len) != NULL;
}

static uint16_t ticket_type(uint8_t mode)
{
    return mode == 3 ? KMS_TICKET_TYPE_SEALED_KUE : KMS_TICKET_TYPE_KUE_REF;
}

kms_result kms_kue_request_build(struct kms_kue_request *r, const uint8_t ks_naf[32],
                                 struct kms_buf *out)
{
    KMS_ENSURE(r != NULL && ks_naf != NULL && out != NULL, KMS_ERR_ARG);
    KMS_ENSURE(r->mode == 2 || r->mode == 3, KMS_ERR_ARG);
    KMS_ENSURE(r->idri[0] != '\0' && r->idrkms[0] != '\0' && r->btid[0] != '\0', KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE(m != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_random((uint8_t *)&r->csb_id, sizeof(r->csb_id)));
    m->hdr = (struct kms_mikey_hdr){.version = KMS_MIKEY_VERSION,
                                    .data_type = KMS_MIKEY_DT_REQUEST_INIT_PSK,
                                    .v = true, /* docs/protocol.md 5.1 */
                                    .prf = KMS_MIKEY_PRF_HMAC_SHA256,
                                    .csb_id = r->csb_id,
                                    .map_type = KMS_MIKEY_MAP_EMPTY};
    kms_mk_add(m, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, r->ntp};
    kms_mk_add(m, KMS_MIKEY_PT_RANDR)->u.randr =
        (struct kms_mikey_randr){1, kms_mk_bytes(r->randri, 16)};
    kms_mk_idr(m, 1, kms_mk_id_type(r->idri), r->idri);
    kms_mk_idr(m, 3, 0, r->idrkms);
    kms_mk_add(m, KMS_MIKEY_PT_TP)->u.ticket =
        (struct kms_mikey_ticket){.type = ticket_type(r->mode),
                                  .subtype = KMS_MIKEY_TICKET_SUBTYPE,
                                  .version = KMS_MIKEY_TICKET_VERSION,
                                  .prf = 1};
    kms_mk_idr(m, 4, 2, r->btid); /* IDRpsk: the B-TID, a byte string */
    kms_mk_add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, kms_mk_bytes(zero_mac, MAC_LEN)};
    struct kms_iov ids[2] = {{(const uint8_t *)r->idri, strlen(r->idri)},
                             {(const uint8_t *)r->idrkms, strlen(r->idrkms)}};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_INITIAL,
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                               .extra = ids,
                               .n_extra = 2};
    KMS_TRY_OUT(rc, kms_mikey_seal(m, ks_naf, 32, &p, out));
    rc = KMS_RESULT_OK;
out:
    free(m);
    return rc;
}

kms_result kms_kue_request_read(const struct kms_mikey_msg *m, struct kms_kue_request *out)
{
    KMS_ENSURE(m != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    kms_result rc = KMS_RC_INIT;
    KMS_ENSURE_OUT(rc, m->hdr.data_type == KMS_MIKEY_DT_REQUEST_INIT_PSK, KMS_ERR_MALFORMED);
    struct kms_bytes idri = kms_mikey_idr(&m->body, 1);
    struct kms_bytes idrkms = kms_mikey_idr(&m->body, 3);
    struct kms_bytes idrpsk = kms_mikey_idr(&m->body, 4);
    /* Our profile requires the three identities (RFC 6043 lets them be optional). */
    KMS_ENSURE_OUT(rc, idri.p != NULL && idrkms.p != NULL && idrpsk.p != NULL, KMS_ERR_MALFORMED);
    KMS_TRY_OUT(rc, kms_mk_copy_id(idri, out->idri, sizeof(out->idri)));
    KMS_TRY_OUT(rc, kms_mk_copy_id(idrkms, out->idrkms, sizeof(out->idrkms)));
    KMS_TRY_OUT(rc, kms_mk_copy_id(idrpsk, out->btid, sizeof(out->btid)));
    const struct kms_mikey_payload *tp = NULL, *t = NULL, *randr = NULL;
    for (size_t i = 0; i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        if (pl->type == KMS_MIKEY_PT_TP && tp == NULL) {
            tp = pl;
        } else if (pl->type == KMS_MIKEY_PT_T && t == NULL) {
            t = pl;
        } else if (pl->type == KMS_MIKEY_PT_RANDR && randr == NULL) {
            randr = pl;
        }
    }
    KMS_ENSURE_OUT(rc, tp != NULL && t != NULL && randr != NULL, KMS_ERR_MALFORMED);
    if (tp->u.ticket.type == KMS_TICKET_TYPE_SEALED_KUE) {
        out->mode = 3;
    } else if (tp->u.ticket.type == KMS_TICKET_TYPE_KUE_REF) {
        out->mode = 2;
    } else {
        KMS_BAIL_OUT(rc, KMS_ERR_UNSUPPORTED);
    }
    KMS_ENSURE_OUT(rc, t->u.t.ts_type == KMS_MIKEY_TS_NTP_UTC, KMS_ERR_UNSUPPORTED);
    out->ntp = t->u.t.value;
    KMS_ENSURE_OUT(rc, randr->u.randr.rand.len == sizeof(out->randri), KMS_ERR_MALFORMED);
    memcpy(out->randri, randr->u.randr.rand.p, sizeof(out->randri));
    out->csb_id = m->hdr.csb_id;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

kms_result kms_kue_request_open(const uint8_t *msg, size_t len, const struct kms_mikey_msg *m,
                                const struct kms_kue_request *peeked, const uint8_t ks_naf[32],
                                const struct kms_mikey_replay_hook *replay)
{
    return kms_kue_request_open_pk(msg, len, m, peeked, ks_naf, NULL, replay);
}

kms_result kms_kue_request_open_pk(const uint8_t *msg, size_t len, const struct kms_mikey_msg *m,
                                   const struct kms_kue_request *peeked, const uint8_t ks_naf[32],
                                   struct kms_mikey_prf_key *ks_naf_pk,
                                   const struct kms_mikey_replay_hook *replay)
{
    KMS_ENSURE(msg != NULL && m != NULL && peeked != NULL && ks_naf != NULL, KMS_ERR_ARG);
    return kms_mk_verify_init(msg, len, m, peeked->idri, peeked->idrkms, ks_naf, ks_naf_pk, replay);
}

kms_result kms_kue_response_build(const uint8_t *req, size_t req_len,
                                  const struct kms_mikey_msg *req_m, const uint8_t ks_naf[32],
                                  const struct kms_kue_grant *g, struct kms_buf *out)
{
    return kms_kue_response_build_pk(req, req_len, req_m, ks_naf, NULL, g, out);
}

kms_result kms_kue_response_build_pk(const uint8_t *req, size_t req_len,
                                     const struct kms_mikey_msg *req_m, const uint8_t ks_naf[32],
                                     struct kms_mikey_prf_key *ks_naf_pk,
                                     const struct kms_kue_grant *g, struct kms_buf *out)
{
    KMS_ENSURE(req != NULL && req_m != NULL && ks_naf != NULL && g != NULL && out != NULL,
               KMS_ERR_ARG);
    KMS_ENSURE(g->mode == 2 || g->mode == 3, KMS_ERR_ARG);
    KMS_ENSURE(g->ticket_len >= 1 && g->ticket_len <= sizeof(g->ticket), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    uint8_t kd_plain[256];
    struct kms_buf kd_buf;
    kms_buf_init_fixed(&kd_buf, kd_plain, sizeof(kd_plain), true);
    KMS_ENSURE_OUT(rc, m != NULL, KMS_ERR_NOMEM);
    struct kms_bytes randri = {NULL, 0}, idrkms = kms_mikey_idr(&req_m->body, 3);
    for (size_t i = 0; i < req_m->body.n; i++) {
        if (req_m->body.pl[i].type == KMS_MIKEY_PT_RANDR) {
            randri = req_m->body.pl[i].u.randr.rand;
            break;
        }
    }
    KMS_ENSURE_OUT(rc, randri.p != NULL && idrkms.p != NULL, KMS_ERR_MALFORMED);

    /* Key data: MPK = Kue, valid from / to as NTP-UTC (RFC 3830 6.13 KV interval). */
    uint8_t from[8], to[8];
    kms_mk_put_be64(from, kms_mikey_ntp_from_unix((int64_t)g->valid_from, 0));
    kms_mk_put_be64(to, kms_mikey_ntp_from_unix((int64_t)g->valid_to, 0));
    struct kms_mikey_keydata_list kl = {0};
    kl.n = 1;
    kl.kd[0] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_MPK,
                                          .kv = KMS_MIKEY_KV_INTERVAL,
                                          .key = kms_mk_bytes(g->kue, KMS_KUE_LEN),
                                          .kv_a = kms_mk_bytes(from, 8),
                                          .kv_b = kms_mk_bytes(to, 8)};
    KMS_TRY_OUT(rc, kms_mikey_keydata_encode(&kl, &kd_buf));

    m->hdr = req_m->hdr; /* version, PRF, CSB ID, #CS, map copied (RFC 6043 4.2.1.2) */
    m->hdr.data_type = KMS_MIKEY_DT_REQUEST_RESP;
    m->hdr.v = false;
    kms_mk_add(m, KMS_MIKEY_PT_T)->u.t =
        (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, kms_mikey_ntp_now()};
    kms_mk_add(m, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){3, 0, idrkms};
    kms_mk_add(m, KMS_MIKEY_PT_TICKET)->u.ticket =
        (struct kms_mikey_ticket){.type = ticket_type(g->mode),
                                  .subtype = KMS_MIKEY_TICKET_SUBTYPE,
                                  .version = KMS_MIKEY_TICKET_VERSION,
                                  .prf = 1,
                                  .ticket_data = kms_mk_bytes(g->ticket, g->ticket_len)};
    kms_mk_add(m, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){
        KMS_MIKEY_ENCR_AES_CM_256, kms_mk_bytes(kd_plain, kms_buf_len(&kd_buf)), KMS_MIKEY_MAC_NULL,
        kms_mk_bytes(NULL, 0)};
    kms_mk_add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, kms_mk_bytes(zero_mac, MAC_LEN)};
    struct kms_iov cov = {req, req_len};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                               .rands = {randri.p, randri.len, NULL, 0},
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                               .extra = &cov,
                               .n_extra = 1,
                               .prepared = ks_naf_pk};
    KMS_TRY_OUT(rc, kms_mikey_seal(m, ks_naf, 32, &p, out));
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&kd_buf);
    free(m);
    return rc;
}

kms_result kms_kue_response_open(const uint8_t *req, size_t req_len, const uint8_t *resp,
                                 size_t resp_len, const uint8_t ks_naf[32],
                                 struct kms_kue_grant *out)
{
    KMS_ENSURE(req != NULL && resp != NULL && ks_naf != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg *req_m = calloc(1, sizeof(*req_m));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    struct kms_buf keys;
    kms_buf_init(&keys, 4096, true);
    struct kms_mikey_keydata_list *kd = calloc(1, sizeof(*kd));
    KMS_ENSURE_OUT(rc, req_m != NULL && m != NULL && kd != NULL, KMS_ERR_NOMEM);
    size_t eo = 0;
    KMS_TRY_OUT(rc, kms_mikey_decode(req, req_len, req_m, &eo));
    struct kms_bytes randri = {NULL, 0};
    for (size_t i = 0; i < req_m->body.n; i++) {
        if (req_m->body.pl[i].type == KMS_MIKEY_PT_RANDR) {
            randri = req_m->body.pl[i].u.randr.rand;
            break;
        }
    }
    KMS_ENSURE_OUT(rc, randri.p != NULL, KMS_ERR_ARG);
    struct kms_iov cov = {req, req_len};
    const struct kms_mk_open o = {.data_type = KMS_MIKEY_DT_REQUEST_RESP,
                                  .prot = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                                           .rands = {randri.p, randri.len, NULL, 0},
                                           .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                                           .extra = &cov,
                                           .n_extra = 1},
                                  .key = ks_naf,
                                  .request_hdr = &req_m->hdr};
    KMS_TRY_OUT(rc, kms_mk_open(resp, resp_len, &o, m, &keys, kd));
    KMS_TRY_OUT(rc, kms_mk_check_kemac(m));
    const struct kms_mikey_payload *tk = NULL;
    for (size_t i = 0; i < m->body.n; i++) {
        if (m->body.pl[i].type == KMS_MIKEY_PT_TICKET) {
            tk = &m->body.pl[i];
            break;
        }
    }
    KMS_ENSURE_OUT(rc, tk != NULL, KMS_ERR_MALFORMED);
    if (tk->u.ticket.type == KMS_TICKET_TYPE_SEALED_KUE) {
        out->mode = 3;
    } else {
        KMS_ENSURE_OUT(rc, tk->u.ticket.type == KMS_TICKET_TYPE_KUE_REF, KMS_ERR_UNSUPPORTED);
        out->mode = 2;
    }
    struct kms_bytes td = tk->u.ticket.ticket_data;
    KMS_ENSURE_OUT(rc, td.len >= 1 && td.len <= sizeof(out->ticket), KMS_ERR_MALFORMED);
    memcpy(out->ticket, td.p, td.len);
    out->ticket_len = td.len;
    KMS_ENSURE_OUT(rc,
                   kd->n == 1 && kd->kd[0].type == KMS_MIKEY_KD_MPK &&
                       kd->kd[0].key.len == KMS_KUE_LEN && kd->kd[0].kv == KMS_MIKEY_KV_INTERVAL &&
                       kd->kd[0].kv_a.len == 8 && kd->kd[0].kv_b.len == 8,
                   KMS_ERR_MALFORMED);
    memcpy(out->kue, kd->kd[0].key.p, KMS_KUE_LEN);
    out->valid_from = kms_kue_ntp_to_unix(kms_mk_get_be64(kd->kd[0].kv_a.p));
    out->valid_to = kms_kue_ntp_to_unix(kms_mk_get_be64(kd->kd[0].kv_b.p));
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&keys);
    if (kd != NULL) {
        kms_wipe(kd, sizeof(*kd));
    }
    free(kd);
    free(req_m);
    free(m);
    if (!kms_ok(rc)) {
        kms_wipe(out, sizeof(*out));
    }
    return rc;
}

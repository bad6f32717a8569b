/* SPDX-License-Identifier: Apache-2.0 */
/* Shared MIKEY-TICKET message building blocks: see kms_msgkit.h. */
#include "kms/kms_msgkit.h"

#include <stdint.h>
#include <string.h>

#include "util/kms_ident.h"

struct kms_mikey_payload *kms_mk_add(struct kms_mikey_msg *m, uint8_t type)
{
    struct kms_mikey_payload *pl = &m->body.pl[m->body.n++];
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    return pl;
}

uint8_t kms_mk_id_type(const char *id)
{
    return strncmp(id, "sip:", 4) == 0 || strncmp(id, "sips:", 5) == 0 ||
                   strncmp(id, "tel:", 4) == 0
               ? 1
               : 0;
}

void kms_mk_idr(struct kms_mikey_msg *m, uint8_t role, uint8_t type, const char *id)
{
    kms_mk_add(m, KMS_MIKEY_PT_IDR)->u.id =
        (struct kms_mikey_id){role, type, kms_mk_bytes(id, strlen(id))};
}

kms_result kms_mk_copy_id(struct kms_bytes b, char *out, size_t cap)
{
    KMS_ENSURE(b.len >= 1 && b.len < cap, KMS_ERR_MALFORMED);
    KMS_ENSURE(kms_ident_chars_ok(b.p, b.len), KMS_ERR_MALFORMED);
    memcpy(out, b.p, b.len);
    out[b.len] = '\0';
    return KMS_RESULT_OK;
}

kms_result kms_mk_decode(const uint8_t *msg, size_t len, uint8_t dt, struct kms_mikey_msg *m,
                         size_t *err_off)
{
    KMS_TRY(kms_mikey_decode(msg, len, m, err_off));
    KMS_ENSURE(m->hdr.data_type == dt, KMS_ERR_MALFORMED);
    return kms_mikey_check_shape(m, err_off);
}

struct kms_mikey_prot kms_mk_answer_prot(const uint8_t *rand, size_t rand_len, bool resolve)
{
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256};
    if (resolve) {
        p.rands = (struct kms_mikey_rands){NULL, 0, rand, rand_len};
    } else {
        p.rands = (struct kms_mikey_rands){rand, rand_len, NULL, 0};
    }
    return p;
}

kms_result kms_mk_check_kemac(const struct kms_mikey_msg *m)
{
    const struct kms_mikey_payload *k = kms_mikey_find(&m->body, KMS_MIKEY_PT_KEMAC, NULL);
    KMS_ENSURE(k != NULL, KMS_ERR_MALFORMED);
    KMS_ENSURE(k->u.kemac.encr_alg == KMS_MIKEY_ENCR_AES_CM_256, KMS_ERR_UNSUPPORTED);
    return KMS_RESULT_OK;
}

static kms_result fixed_key(void *ctx, const struct kms_mikey_msg *m, const uint8_t **key,
                            size_t *key_len)
{
    (void)m;
    *key = ctx;
    *key_len = 32;
    return KMS_RESULT_OK;
}

static struct kms_mikey_open_params params_of(const struct kms_mk_open *o)
{
    return (struct kms_mikey_open_params){
        .data_type = o->data_type,
        .prot = o->prot,
        .get_key = fixed_key,
        .key_ctx = (void *)(uintptr_t)o->key, /* read only: fixed_key hands it back const */
        .replay = o->replay,
        .request_hdr = o->request_hdr,
    };
}

kms_result kms_mk_open(const uint8_t *msg, size_t len, const struct kms_mk_open *o,
                       struct kms_mikey_msg *m, struct kms_buf *keydata,
                       struct kms_mikey_keydata_list *kd)
{
    KMS_ENSURE(msg != NULL && o != NULL && o->key != NULL && m != NULL, KMS_ERR_ARG);
    const struct kms_mikey_open_params op = params_of(o);
    size_t eo = 0;
    return kms_mikey_open(msg, len, &op, m, keydata, kd, &eo);
}

kms_result kms_mk_verify(const uint8_t *msg, size_t len, const struct kms_mk_open *o,
                         const struct kms_mikey_msg *m, struct kms_buf *keydata,
                         struct kms_mikey_keydata_list *kd)
{
    KMS_ENSURE(msg != NULL && o != NULL && o->key != NULL && m != NULL, KMS_ERR_ARG);
    const struct kms_mikey_open_params op = params_of(o);
    size_t eo = 0;
    return kms_mikey_verify(msg, len, m, &op, keydata, kd, &eo);
}

kms_result kms_mk_verify_init(const uint8_t *msg, size_t len, const struct kms_mikey_msg *m,
                              const char *id1, const char *id2, const uint8_t key[32],
                              struct kms_mikey_prf_key *pk,
                              const struct kms_mikey_replay_hook *replay)
{
    KMS_ENSURE(m != NULL && id1 != NULL && id2 != NULL, KMS_ERR_ARG);
    const struct kms_iov ids[2] = {{(const uint8_t *)id1, strlen(id1)},
                                   {(const uint8_t *)id2, strlen(id2)}};
    const struct kms_mk_open o = {.data_type = m->hdr.data_type,
                                  .prot = {.keying = KMS_MIKEY_KEYING_INITIAL,
                                           .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                                           .extra = ids,
                                           .n_extra = 2,
                                           .prepared = pk},
                                  .key = key,
                                  .replay = replay};
    return kms_mk_verify(msg, len, &o, m, NULL, NULL);
}

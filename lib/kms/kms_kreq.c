/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS's request classifier: see kms_kreq.h. */
#include "kms/kms_kreq.h"

#include <string.h>

#include "kms/kms_msgkit.h"
#include "util/kms_mem.h"

/* The type of the first TP payload, or 0 when there is none. */
static uint16_t tp_type(const struct kms_mikey_msg *m)
{
    const struct kms_mikey_payload *tp = kms_mikey_find(&m->body, KMS_MIKEY_PT_TP, NULL);
    return tp != NULL ? tp->u.ticket.type : 0;
}

static kms_result classify(const uint8_t *msg, size_t len, struct kms_kreq *out, size_t *err_off)
{
    /* The header's second octet is the data type (RFC 3830 6.1): the only two we serve. */
    KMS_ENSURE(len > 1, KMS_ERR_TRUNCATED);
    uint8_t dt = msg[1];
    if (dt != KMS_MIKEY_DT_REQUEST_INIT_PSK && dt != KMS_MIKEY_DT_RESOLVE_INIT_PSK) {
        *err_off = 1;
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    KMS_TRY(kms_mk_decode(msg, len, dt, &out->m, err_off));
    if (dt == KMS_MIKEY_DT_REQUEST_INIT_PSK && tp_type(&out->m) != KMS_TICKET_TYPE_MEDIA) {
        out->kind = KMS_KREQ_KUE_ISSUE;
        return kms_kue_request_read(&out->m, &out->u.kue);
    }
    out->kind = KMS_KREQ_TICKET;
    return kms_preq_read(msg, &out->m, &out->u.p, err_off);
}

kms_result kms_kreq_classify(const uint8_t *msg, size_t len, struct kms_kreq *out, size_t *err_off)
{
    KMS_ENSURE(out != NULL && err_off != NULL && (msg != NULL || len == 0), KMS_ERR_ARG);
    /* Not zeroed here: kms_mikey_decode zeroes the message and kms_kue_request_read /
     * kms_preq_read the part of u they fill, so everything a caller may read is set (a
     * failure wipes the whole of out). */
    out->kind = 0;
    *err_off = 0;
    kms_result rc = classify(msg, len, out, err_off);
    if (!kms_ok(rc)) {
        kms_wipe(out, sizeof(*out)); /* whatever a decoder left half-written */
    }
    return rc;
}

void kms_kreq_wipe(struct kms_kreq *out)
{
    if (out == NULL) {
        return;
    }
    /* The payloads counted, and the one after them (a walk clears a payload before it
     * decodes it and counts it after). */
    struct kms_mikey_msg *m = &out->m;
    size_t n = m->body.n < KMS_MIKEY_MAX_PAYLOADS ? m->body.n + 1 : KMS_MIKEY_MAX_PAYLOADS;
    kms_wipe(m->body.pl, n * sizeof(m->body.pl[0]));
    m->body.n = 0;
    kms_wipe(&m->raw, sizeof(m->raw));
    kms_wipe(&m->hdr, sizeof(m->hdr));
    if (out->kind == KMS_KREQ_TICKET) {
        kms_preq_wipe(&out->u.p);
    } else if (out->kind == KMS_KREQ_KUE_ISSUE) {
        kms_wipe(&out->u.kue, sizeof(out->u.kue));
    }
    out->kind = 0;
}

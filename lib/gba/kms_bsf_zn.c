/* SPDX-License-Identifier: Apache-2.0 */
/* Zn request handling: see kms_bsf_zn.h. */
#include "gba/kms_bsf_zn.h"

#include <stdio.h>
#include <string.h>

#include "util/kms_mem.h"

void kms_bsf_zn_reply_init(struct kms_bsf_zn_reply *r)
{
    memset(r, 0, sizeof(*r));
    kms_buf_init(&r->body, KMS_ZN_JSON_MAX, true); /* a 200 carries Ks_NAF */
}

void kms_bsf_zn_reply_cleanup(struct kms_bsf_zn_reply *r)
{
    kms_buf_cleanup(&r->body);
}

static void note(struct kms_bsf_zn_reply *r, const char *what, const char *arg)
{
    (void)snprintf(r->detail, sizeof(r->detail), "%s%s", what, arg != NULL ? arg : "");
}

void kms_bsf_zn_refuse(struct kms_bsf_zn_reply *r, enum kms_err why, const char *what,
                       const char *arg)
{
    struct kms_wire w = kms_wire_of(KMS_IFACE_ZN, why);
    /* Every authentication failure reads the same: which check failed is for the log only. */
    const char *text = kms_strerror(kms_err_group(why) == KMS_ERR_G_AUTH ? KMS_ERR_AUTH : why);
    kms_buf_reset(&r->body);
    if (!kms_ok(kms_zn_error_encode(w.zn_code, text, &r->body))) {
        /* The table's names and messages always encode; should one not, say "internal" with
         * an empty body rather than anything half written. */
        kms_buf_reset(&r->body);
        why = KMS_ERR_INTERNAL;
        w = kms_wire_of(KMS_IFACE_ZN, why);
    }
    r->status = w.status;
    r->why = why;
    note(r, what != NULL ? what : "", arg);
}

static void refuse(struct kms_bsf_zn_reply *r, enum kms_err why, const char *what, const char *arg)
{
    kms_bsf_zn_refuse(r, why, what, arg);
}

/* A refusal of the request's content (PROTO, USAGE) stays what it is, and so does a failure of
 * what the BSF depends on (the table's busy column: the store, memory), a 503 with its reason;
 * any other failure is ours, and the peer is told no more than "internal". */
static enum kms_err request_fault(enum kms_err e)
{
    enum kms_err_group g = kms_err_group(e);
    bool busy = kms_wire_of(KMS_IFACE_ZN, e).reason != NULL;
    return g == KMS_ERR_G_USAGE || g == KMS_ERR_G_PROTO || busy ? e : KMS_ERR_INTERNAL;
}

/* Whether a verified certificate names fqdn (exact match; names are public). */
static bool cert_names(const struct kms_bsf_zn_cert *c, const char *fqdn)
{
    for (size_t i = 0; c->verified && c->dns != NULL && i < c->n_dns; i++) {
        if (c->dns[i] != NULL && strcmp(c->dns[i], fqdn) == 0) {
            return true;
        }
    }
    return false;
}

/* The B-TID lookup and the response, once the NAF may ask for naf_fqdn. */
static void deliver(struct kms_bsf *b, const struct kms_zn_req *q, uint64_t now,
                    struct kms_bsf_zn_reply *r)
{
    struct kms_bsf_zn z;
    struct kms_zn_resp out;
    memset(&out, 0, sizeof(out));
    kms_result l = kms_bsf_zn(b, q->btid, q->naf_fqdn, q->ua_id, now, &z);
    if (l.err == KMS_ERR_NOT_FOUND) {
        refuse(r, l.err, "unknown or expired btid", NULL);
        goto out;
    }
    if (!kms_ok(l)) {
        refuse(r, request_fault(l.err), kms_err_name(l.err), NULL);
        goto out;
    }
    memcpy(out.impi, z.impi, sizeof(out.impi));
    out.n_impu = z.n_impu < KMS_ZN_MAX_IMPU ? z.n_impu : KMS_ZN_MAX_IMPU;
    for (size_t i = 0; i < out.n_impu; i++) {
        memcpy(out.impu[i], z.impu[i], sizeof(out.impu[i]));
    }
    memcpy(out.ks_naf, z.ks_naf, sizeof(out.ks_naf));
    out.bootstrap_time = z.bootstrap_time;
    out.key_expiry = z.key_expiry;
    kms_buf_reset(&r->body);
    kms_result e = kms_zn_resp_encode(&out, &r->body);
    if (!kms_ok(e)) {
        refuse(r, KMS_ERR_INTERNAL, kms_err_name(e.err), NULL);
        goto out;
    }
    r->status = kms_wire_of(KMS_IFACE_ZN, KMS_OK).status;
    r->why = KMS_OK;
    memcpy(r->impi, out.impi, sizeof(r->impi));
    note(r, "ks_naf delivered", NULL);
out:
    kms_wipe(&z, sizeof(z));
    kms_zn_resp_wipe(&out);
}

kms_result kms_bsf_zn_handle(struct kms_bsf *b, const char *method, const char *path,
                             const struct kms_bsf_zn_cert *cert, const uint8_t *body,
                             size_t body_len, uint64_t now, struct kms_bsf_zn_reply *r)
{
    KMS_ENSURE(b != NULL && method != NULL && path != NULL && cert != NULL && r != NULL,
               KMS_ERR_ARG);
    KMS_ENSURE(body != NULL || body_len == 0, KMS_ERR_ARG);
    r->naf_fqdn[0] = '\0';
    r->impi[0] = '\0';
    if (strcmp(path, KMS_BSF_ZN_PATH) != 0) {
        refuse(r, KMS_ERR_NO_ROUTE, "no such resource", NULL);
        return KMS_RESULT_OK;
    }
    if (strcmp(method, "POST") != 0) {
        refuse(r, KMS_ERR_METHOD, "not POST", NULL);
        return KMS_RESULT_OK;
    }
    /* The certificate first: no NAF learns anything about a B-TID it may not ask for. */
    if (!cert->verified) {
        refuse(r, KMS_ERR_AUTH, "no verified client certificate", NULL);
        return KMS_RESULT_OK;
    }
    struct kms_zn_req q;
    kms_result d = kms_zn_req_decode(body, body_len, &q);
    if (!kms_ok(d)) {
        refuse(r, request_fault(d.err), "request body: ", kms_strerror(d.err));
        return KMS_RESULT_OK;
    }
    memcpy(r->naf_fqdn, q.naf_fqdn, sizeof(r->naf_fqdn));
    if (!cert_names(cert, q.naf_fqdn)) {
        refuse(r, KMS_ERR_AUTH, "certificate does not name ", q.naf_fqdn);
        return KMS_RESULT_OK;
    }
    deliver(b, &q, now, r);
    return KMS_RESULT_OK;
}

kms_result kms_bsf_zn_http(const struct kms_bsf_zn_reply *r, struct kms_http_resp *resp)
{
    KMS_ENSURE(r != NULL && resp != NULL, KMS_ERR_ARG);
    resp->status = r->status;
    resp->content_type = KMS_ZN_CONTENT_TYPE;
    resp->body.secret = true; /* Ks_NAF on a 200 */
    kms_buf_reset(&resp->body);
    KMS_TRY(kms_buf_put_bytes(&resp->body, kms_buf_data(&r->body), kms_buf_len(&r->body)));
    return kms_http_resp_busy(resp, KMS_IFACE_ZN, r->why, 0);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The media ticket exchanges: see kms_ticket_msg.h. */
#include "kms/kms_ticket_msg.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_msgkit.h"
#include "util/kms_cur.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define MAC_LEN   32
#define NTP_EPOCH UINT64_C(2208988800) /* seconds from 1900 to 1970 */

enum { ROLE_I = 1, ROLE_R = 2, ROLE_KMS = 3, ROLE_PSK = 4 };

static const uint8_t zero_mac[MAC_LEN];

static struct kms_iov iov_str(const char *s)
{
    return (struct kms_iov){(const uint8_t *)s, strlen(s)};
}

/* An identity we put on the wire: printable ASCII without spaces, 1..255 octets (the same rule
 * copy_id applies on the way in). */
static bool id_ok(const char *id)
{
    size_t n = id != NULL ? strnlen(id, KMS_TMSG_ID_MAX + 1) : 0;
    if (n < 1 || n > KMS_TMSG_ID_MAX) {
        return false;
    }
    return kms_ident_chars_ok((const uint8_t *)id, n);
}

static kms_result copy_bytes(struct kms_bytes b, uint8_t *out, size_t cap, size_t *len)
{
    KMS_ENSURE(b.len >= 1 && b.len <= cap, KMS_ERR_MALFORMED);
    memcpy(out, b.p, b.len);
    *len = b.len;
    return KMS_RESULT_OK;
}

/* The first payload of a type (and, for RANDR, of a role) in a list; NULL if none. */
static const struct kms_mikey_payload *first(const struct kms_mikey_plist *l, uint8_t type,
                                             uint8_t randr_role)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_payload *pl = &l->pl[i];
        if (pl->type == type && (type != KMS_MIKEY_PT_RANDR || pl->u.randr.role == randr_role)) {
            return pl;
        }
    }
    return NULL;
}

/* The media ticket's TP or TICKET: type, subtype and version of docs/protocol.md 6, the ticket
 * flags given (N = O = 0 always: the private type's processing is this profile). */
static struct kms_mikey_ticket media_ticket_flags(const uint8_t *data, size_t len, uint16_t flags)
{
    return (struct kms_mikey_ticket){.type = KMS_TICKET_TYPE_MEDIA,
                                     .subtype = KMS_MIKEY_TICKET_SUBTYPE,
                                     .version = KMS_MIKEY_TICKET_VERSION,
                                     .prf = 1,
                                     .flags = flags,
                                     .ticket_data = kms_mk_bytes(data, len)};
}

static struct kms_mikey_ticket media_ticket(const uint8_t *data, size_t len)
{
    return media_ticket_flags(data, len, 0);
}

static kms_result check_media_ticket(const struct kms_mikey_ticket *t)
{
    KMS_ENSURE(t->type == KMS_TICKET_TYPE_MEDIA && t->subtype == KMS_MIKEY_TICKET_SUBTYPE &&
                   t->version == KMS_MIKEY_TICKET_VERSION,
               KMS_ERR_UNSUPPORTED);
    return KMS_RESULT_OK;
}

/* Seals an initial message (REQUEST_INIT_PSK, TRANSFER_INIT, RESOLVE_INIT_PSK): label 0x01 with
 * the RAND the message carries, V over the message || id1 || id2 (RFC 6043 Table 5.2). */
static kms_result seal_init(struct kms_mikey_msg *m, const uint8_t key[32], const char *id1,
                            const char *id2, struct kms_buf *out)
{
    kms_mk_add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, kms_mk_bytes(zero_mac, MAC_LEN)};
    struct kms_iov ids[2] = {iov_str(id1), iov_str(id2)};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_INITIAL,
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                               .extra = ids,
                               .n_extra = 2};
    return kms_mikey_seal(m, key, 32, &p, out);
}

/* The header of a Request or Resolve: PRF-HMAC-SHA-256, V = 1 (docs/protocol.md 5.1), a random
 * CSB ID, #CS 0 and the Empty map (RFC 6043 4.2.1.1, 4.2.3.1). */
static kms_result init_hdr(struct kms_mikey_msg *m, uint8_t data_type, bool v, uint8_t map_type,
                           uint32_t *csb_id)
{
    KMS_TRY(kms_random((uint8_t *)csb_id, sizeof(*csb_id)));
    m->hdr = (struct kms_mikey_hdr){.version = KMS_MIKEY_VERSION,
                                    .data_type = data_type,
                                    .v = v,
                                    .prf = KMS_MIKEY_PRF_HMAC_SHA256,
                                    .csb_id = *csb_id,
                                    .map_type = map_type};
    return KMS_RESULT_OK;
}

/* ---- ticket request and resolve ---------------------------------------------------------- */

const char *kms_preq_sender(const struct kms_preq *p)
{
    return p->kind == KMS_PREQ_RESOLVE ? p->idrr : p->idri;
}

/* TP data of a ticket request: one IDRr naming the responder the ticket is for (RFC 6043 6.10:
 * (IDRr)). */
static kms_result tp_data_of(const char *idrr, struct kms_buf *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_plist *l = calloc(1, sizeof(*l));
    KMS_ENSURE(l != NULL, KMS_ERR_NOMEM);
    l->n = 1;
    l->pl[0].type = KMS_MIKEY_PT_IDR;
    l->pl[0].u.id =
        (struct kms_mikey_id){ROLE_R, kms_mk_id_type(idrr), kms_mk_bytes(idrr, strlen(idrr))};
    KMS_TRY_OUT(rc, kms_mikey_chain_encode(l, out));
    rc = KMS_RESULT_OK;
out:
    free(l);
    return rc;
}

kms_result kms_preq_build(struct kms_preq *r, const uint8_t kue[KMS_TMSG_KUE_LEN],
                          struct kms_buf *out)
{
    KMS_ENSURE(r != NULL && kue != NULL && out != NULL, KMS_ERR_ARG);
    bool resolve = r->kind == KMS_PREQ_RESOLVE;
    KMS_ENSURE(resolve || r->kind == KMS_PREQ_REQUEST, KMS_ERR_ARG);
    KMS_ENSURE(id_ok(r->idrr) && id_ok(r->idrkms) && (resolve || id_ok(r->idri)), KMS_ERR_ARG);
    KMS_ENSURE(r->psk_id_len >= 1 && r->psk_id_len <= sizeof(r->psk_id), KMS_ERR_ARG);
    KMS_ENSURE(!resolve || (r->ticket_len >= 1 && r->ticket_len <= sizeof(r->ticket)), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    uint8_t tp_data[KMS_TMSG_ID_MAX + 8];
    struct kms_buf tp_buf;
    kms_buf_init_fixed(&tp_buf, tp_data, sizeof(tp_data), false);
    KMS_ENSURE_OUT(rc, m != NULL, KMS_ERR_NOMEM);
    uint8_t role = resolve ? ROLE_R : ROLE_I;
    const char *sender = kms_preq_sender(r);
    KMS_TRY_OUT(rc,
                init_hdr(m, resolve ? KMS_MIKEY_DT_RESOLVE_INIT_PSK : KMS_MIKEY_DT_REQUEST_INIT_PSK,
                         true, KMS_MIKEY_MAP_EMPTY, &r->csb_id));
    kms_mk_add(m, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, r->ntp};
    kms_mk_add(m, KMS_MIKEY_PT_RANDR)->u.randr =
        (struct kms_mikey_randr){role, kms_mk_bytes(r->rand, KMS_TMSG_RAND_LEN)};
    kms_mk_idr(m, role, kms_mk_id_type(sender), sender);
    kms_mk_idr(m, ROLE_KMS, 0, r->idrkms);
    if (resolve) {
        kms_mk_add(m, KMS_MIKEY_PT_TICKET)->u.ticket = media_ticket(r->ticket, r->ticket_len);
    } else {
        KMS_TRY_OUT(rc, tp_data_of(r->idrr, &tp_buf));
        struct kms_mikey_ticket tp = media_ticket(NULL, 0);
        tp.tp_data = kms_mk_bytes(tp_data, kms_buf_len(&tp_buf));
        kms_mk_add(m, KMS_MIKEY_PT_TP)->u.ticket = tp;
    }
    kms_mk_add(m, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){
        ROLE_PSK, 2, kms_mk_bytes(r->psk_id, r->psk_id_len)}; /* byte string */
    KMS_TRY_OUT(rc, seal_init(m, kue, sender, r->idrkms, out));
    rc = KMS_RESULT_OK;
out:
    free(m);
    return rc;
}

/* The responder named in the TP data: exactly one IDRr; other payloads there are ignored. */
static kms_result tp_responder(const uint8_t *msg, const struct kms_mikey_ticket *tp, char *out,
                               size_t cap, size_t *err_off)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_plist tp_list; /* 2.8 KB on the stack: the walk sets n, then each entry */
    struct kms_mikey_plist *l = &tp_list;
    size_t base = (size_t)(tp->tp_data.p - msg), eo = 0;
    struct kms_cur c;
    kms_cur_init(&c, tp->tp_data.p, tp->tp_data.len);
    kms_result dr = kms_mikey_chain_decode(&c, l, &eo);
    if (!kms_ok(dr)) {
        *err_off = base + eo;
        KMS_BAIL_OUT(rc, dr.err);
    }
    const struct kms_mikey_payload *r = NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (l->pl[i].type == KMS_MIKEY_PT_IDR && l->pl[i].u.id.role == ROLE_R) {
            KMS_ENSURE_OUT(rc, r == NULL, KMS_ERR_UNSUPPORTED); /* one responder per ticket */
            r = &l->pl[i];
        }
    }
    *err_off = base;
    KMS_ENSURE_OUT(rc, r != NULL, KMS_ERR_MALFORMED);
    KMS_TRY_OUT(rc, kms_mk_copy_id(r->u.id.data, out, cap));
    *err_off = 0;
    rc = KMS_RESULT_OK;
out:
    return rc;
}

/* What the KMS reads of a request or a resolve: the three identities our profile requires (RFC
 * 6043 lets them be optional: the sender's, IDRkms and IDRpsk), T (NTP-UTC only) and the
 * sender's 16-octet RAND, then the responder (request) or the ticket (resolve). */
static kms_result read_preq(const uint8_t *msg, const struct kms_mikey_msg *m, struct kms_preq *out,
                            size_t *err_off)
{
    bool resolve = m->hdr.data_type == KMS_MIKEY_DT_RESOLVE_INIT_PSK;
    KMS_ENSURE(resolve || m->hdr.data_type == KMS_MIKEY_DT_REQUEST_INIT_PSK, KMS_ERR_MALFORMED);
    out->kind = resolve ? KMS_PREQ_RESOLVE : KMS_PREQ_REQUEST;
    uint8_t role = resolve ? ROLE_R : ROLE_I;
    struct kms_bytes id = kms_mikey_idr(&m->body, role);
    struct kms_bytes idrkms = kms_mikey_idr(&m->body, ROLE_KMS);
    struct kms_bytes idrpsk = kms_mikey_idr(&m->body, ROLE_PSK);
    KMS_ENSURE(id.p != NULL && idrkms.p != NULL && idrpsk.p != NULL, KMS_ERR_MALFORMED);
    KMS_TRY(kms_mk_copy_id(id, resolve ? out->idrr : out->idri, sizeof(out->idri)));
    KMS_TRY(kms_mk_copy_id(idrkms, out->idrkms, sizeof(out->idrkms)));
    KMS_TRY(copy_bytes(idrpsk, out->psk_id, sizeof(out->psk_id), &out->psk_id_len));
    /* The shape check guarantees one T and one RAND; the RAND must be the sender's. */
    const struct kms_mikey_payload *t = first(&m->body, KMS_MIKEY_PT_T, 0);
    const struct kms_mikey_payload *randr = first(&m->body, KMS_MIKEY_PT_RANDR, role);
    KMS_ENSURE(t != NULL && randr != NULL, KMS_ERR_MALFORMED);
    if (resolve) {
        const struct kms_mikey_payload *tk = first(&m->body, KMS_MIKEY_PT_TICKET, 0);
        KMS_ENSURE(tk != NULL, KMS_ERR_MALFORMED);
        KMS_TRY(check_media_ticket(&tk->u.ticket));
        KMS_ENSURE(tk->u.ticket.init_data.len == 0, KMS_ERR_UNSUPPORTED);
        KMS_TRY(copy_bytes(tk->u.ticket.ticket_data, out->ticket, sizeof(out->ticket),
                           &out->ticket_len));
    } else {
        const struct kms_mikey_payload *tp = first(&m->body, KMS_MIKEY_PT_TP, 0);
        KMS_ENSURE(tp != NULL, KMS_ERR_MALFORMED);
        KMS_TRY(check_media_ticket(&tp->u.ticket));
        KMS_TRY(tp_responder(msg, &tp->u.ticket, out->idrr, sizeof(out->idrr), err_off));
    }
    KMS_ENSURE(t->u.t.ts_type == KMS_MIKEY_TS_NTP_UTC, KMS_ERR_UNSUPPORTED);
    out->ntp = t->u.t.value;
    KMS_ENSURE(randr->u.randr.rand.len == KMS_TMSG_RAND_LEN, KMS_ERR_MALFORMED);
    memcpy(out->rand, randr->u.randr.rand.p, KMS_TMSG_RAND_LEN);
    out->csb_id = m->hdr.csb_id;
    return KMS_RESULT_OK;
}

/* Empties p without zeroing its 5 KB of storage (the ticket, the identities): every field is
 * read through a length or as a NUL-terminated string. */
static void preq_reset(struct kms_preq *p)
{
    p->kind = 0;
    p->idri[0] = '\0';
    p->idrr[0] = '\0';
    p->idrkms[0] = '\0';
    p->psk_id_len = 0;
    p->ticket_len = 0;
    memset(p->rand, 0, sizeof(p->rand));
    p->ntp = 0;
    p->csb_id = 0;
}

static void str_wipe_used(char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    kms_wipe(s, n < cap ? n + 1 : cap);
}

void kms_preq_wipe(struct kms_preq *p)
{
    if (p == NULL) {
        return;
    }
    str_wipe_used(p->idri, sizeof(p->idri));
    str_wipe_used(p->idrr, sizeof(p->idrr));
    str_wipe_used(p->idrkms, sizeof(p->idrkms));
    kms_wipe(p->psk_id, p->psk_id_len < sizeof(p->psk_id) ? p->psk_id_len : sizeof(p->psk_id));
    kms_wipe(p->ticket, p->ticket_len < sizeof(p->ticket) ? p->ticket_len : sizeof(p->ticket));
    preq_reset(p);
}

kms_result kms_preq_read(const uint8_t *msg, const struct kms_mikey_msg *m, struct kms_preq *out,
                         size_t *err_off)
{
    KMS_ENSURE(msg != NULL && m != NULL && out != NULL && err_off != NULL, KMS_ERR_ARG);
    preq_reset(out);
    *err_off = 0;
    kms_result rc = read_preq(msg, m, out, err_off);
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

kms_result kms_preq_open(const uint8_t *msg, size_t len, const struct kms_mikey_msg *m,
                         const struct kms_preq *p, const uint8_t kue[KMS_TMSG_KUE_LEN],
                         const struct kms_mikey_replay_hook *replay)
{
    return kms_preq_open_pk(msg, len, m, p, kue, NULL, replay);
}

kms_result kms_preq_open_pk(const uint8_t *msg, size_t len, const struct kms_mikey_msg *m,
                            const struct kms_preq *p, const uint8_t kue[KMS_TMSG_KUE_LEN],
                            struct kms_mikey_prf_key *kue_pk,
                            const struct kms_mikey_replay_hook *replay)
{
    KMS_ENSURE(msg != NULL && m != NULL && p != NULL && kue != NULL, KMS_ERR_ARG);
    KMS_ENSURE(m->hdr.data_type == (p->kind == KMS_PREQ_RESOLVE ? KMS_MIKEY_DT_RESOLVE_INIT_PSK
                                                                : KMS_MIKEY_DT_REQUEST_INIT_PSK),
               KMS_ERR_ARG);
    return kms_mk_verify_init(msg, len, m, kms_preq_sender(p), p->idrkms, kue, kue_pk, replay);
}

/* ---- responses (REQUEST_RESP, RESOLVE_RESP) ---------------------------------------------- */

/* What a response needs from the request it answers: the label RAND (RANDRi for a Request,
 * RANDRr for a Resolve, RFC 6043 5.1) and the identities it repeats. m: the request, decoded. */
struct req_view {
    const struct kms_mikey_msg *m;
    struct kms_bytes rand, idrkms;
    struct kms_mikey_id idrr; /* the resolve's IDRr payload (role, type, data) */
    bool resolve;
};

static kms_result req_view(const struct kms_mikey_msg *m, struct req_view *v)
{
    v->m = m;
    v->resolve = m->hdr.data_type == KMS_MIKEY_DT_RESOLVE_INIT_PSK;
    KMS_ENSURE(v->resolve || m->hdr.data_type == KMS_MIKEY_DT_REQUEST_INIT_PSK, KMS_ERR_ARG);
    const struct kms_mikey_payload *r =
        first(&m->body, KMS_MIKEY_PT_RANDR, v->resolve ? ROLE_R : ROLE_I);
    KMS_ENSURE(r != NULL, KMS_ERR_ARG);
    v->rand = r->u.randr.rand;
    v->idrkms = kms_mikey_idr(&m->body, ROLE_KMS);
    KMS_ENSURE(v->idrkms.p != NULL, KMS_ERR_ARG);
    for (size_t i = 0; v->resolve && i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        if (pl->type == KMS_MIKEY_PT_IDR && pl->u.id.role == ROLE_R) {
            v->idrr = pl->u.id;
            break;
        }
    }
    KMS_ENSURE(!v->resolve || v->idrr.data.p != NULL, KMS_ERR_ARG);
    return KMS_RESULT_OK;
}

static struct kms_mikey_prot resp_prot(const struct req_view *v, const struct kms_iov *cov)
{
    struct kms_mikey_prot p = kms_mk_answer_prot(v->rand.p, v->rand.len, v->resolve);
    p.extra = cov;
    p.n_extra = 1;
    return p;
}

kms_result kms_preq_resp_build(const uint8_t *req, size_t req_len,
                               const struct kms_mikey_msg *req_m,
                               const uint8_t kue[KMS_TMSG_KUE_LEN], const struct kms_tgrant *g,
                               struct kms_buf *out)
{
    return kms_preq_resp_build_pk(req, req_len, req_m, kue, NULL, g, out);
}

kms_result kms_preq_resp_build_pk(const uint8_t *req, size_t req_len,
                                  const struct kms_mikey_msg *req_m,
                                  const uint8_t kue[KMS_TMSG_KUE_LEN],
                                  struct kms_mikey_prf_key *kue_pk, const struct kms_tgrant *g,
                                  struct kms_buf *out)
{
    KMS_ENSURE(req != NULL && req_m != NULL && kue != NULL && g != NULL && out != NULL,
               KMS_ERR_ARG);
    KMS_ENSURE(g->tgk_len == 16 || g->tgk_len == 32, KMS_ERR_ARG);
    KMS_ENSURE(g->valid_from < g->valid_to && g->valid_to <= UINT32_MAX - NTP_EPOCH, KMS_ERR_ARG);
    bool resolve = req_m->hdr.data_type == KMS_MIKEY_DT_RESOLVE_INIT_PSK;
    KMS_ENSURE(resolve || (g->ticket_len >= 1 && g->ticket_len <= sizeof(g->ticket)), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct req_view v;
    /* On the stack (4.9 KB): the header is copied whole below and kms_mk_add clears each
     * payload it adds, so only the count and the raw view need setting. */
    struct kms_mikey_msg resp;
    struct kms_mikey_msg *m = &resp;
    m->raw = (struct kms_bytes){NULL, 0};
    m->body.n = 0;
    uint8_t kd_plain[256];
    struct kms_buf kd_buf;
    kms_buf_init_fixed(&kd_buf, kd_plain, sizeof(kd_plain), true);
    KMS_TRY_OUT(rc, req_view(req_m, &v));

    /* Key data (RFC 6043 4.2.1.2: MPKi, then the TGK): the MPK without validity, the TGK with a
     * Key Validity interval, Valid From / Valid To as NTP-UTC (RFC 3830 6.13). */
    uint8_t from[8], to[8];
    kms_mk_put_be64(from, kms_mikey_ntp_from_unix((int64_t)g->valid_from, 0));
    kms_mk_put_be64(to, kms_mikey_ntp_from_unix((int64_t)g->valid_to, 0));
    struct kms_mikey_keydata_list kl = {0};
    kl.n = 2;
    kl.kd[0] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_MPK,
                                          .kv = KMS_MIKEY_KV_NULL,
                                          .key = kms_mk_bytes(g->mpk, KMS_TMSG_MPK_LEN)};
    kl.kd[1] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TGK,
                                          .kv = KMS_MIKEY_KV_INTERVAL,
                                          .key = kms_mk_bytes(g->tgk, g->tgk_len),
                                          .kv_a = kms_mk_bytes(from, 8),
                                          .kv_b = kms_mk_bytes(to, 8)};
    KMS_TRY_OUT(rc, kms_mikey_keydata_encode(&kl, &kd_buf));

    m->hdr = v.m->hdr; /* version, PRF, CSB ID, #CS, map copied (RFC 6043 4.2.1.2, 4.2.3.2) */
    m->hdr.data_type = resolve ? KMS_MIKEY_DT_RESOLVE_RESP : KMS_MIKEY_DT_REQUEST_RESP;
    m->hdr.v = false;
    kms_mk_add(m, KMS_MIKEY_PT_T)->u.t =
        (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, kms_mikey_ntp_now()};
    kms_mk_add(m, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){ROLE_KMS, 0, v.idrkms};
    if (!resolve) {
        kms_mk_add(m, KMS_MIKEY_PT_TICKET)->u.ticket =
            media_ticket_flags(g->ticket, g->ticket_len, KMS_TMSG_MEDIA_FLAGS);
    }
    kms_mk_add(m, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){
        KMS_MIKEY_ENCR_AES_CM_256, kms_mk_bytes(kd_plain, kms_buf_len(&kd_buf)), KMS_MIKEY_MAC_NULL,
        kms_mk_bytes(NULL, 0)};
    if (resolve) {
        kms_mk_add(m, KMS_MIKEY_PT_IDR)->u.id = v.idrr; /* B's identity as its resolve gave it */
        /* The ticket's INITIATOR, inside the MAC (docs/protocol.md 13): an IDRi payload, the
         * one the transfer names A with, so B compares like with like. */
        if (g->initiator[0] != '\0') {
            KMS_ENSURE_OUT(rc, id_ok(g->initiator), KMS_ERR_ARG);
            kms_mk_idr(m, ROLE_I, kms_mk_id_type(g->initiator), g->initiator);
        }
    }
    kms_mk_add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, kms_mk_bytes(zero_mac, MAC_LEN)};
    struct kms_iov cov = {req, req_len};
    struct kms_mikey_prot p = resp_prot(&v, &cov);
    p.prepared = kue_pk;
    KMS_TRY_OUT(rc, kms_mikey_seal(m, kue, KMS_TMSG_KUE_LEN, &p, out));
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&kd_buf);
    return rc;
}

static kms_result resp_open(const uint8_t *req, size_t req_len, uint8_t req_type,
                            const uint8_t *resp, size_t resp_len,
                            const uint8_t kue[KMS_TMSG_KUE_LEN], struct kms_tgrant *out)
{
    KMS_ENSURE(req != NULL && resp != NULL && kue != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    bool resolve = req_type == KMS_MIKEY_DT_RESOLVE_INIT_PSK;
    kms_result rc = KMS_RC_INIT;
    struct req_view v;
    struct kms_mikey_msg *req_m = calloc(1, sizeof(*req_m));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    struct kms_buf keys;
    kms_buf_init(&keys, 4096, true);
    struct kms_mikey_keydata_list *kd = calloc(1, sizeof(*kd));
    KMS_ENSURE_OUT(rc, req_m != NULL && m != NULL && kd != NULL, KMS_ERR_NOMEM);
    size_t eo = 0;
    KMS_TRY_OUT(rc, kms_mikey_decode(req, req_len, req_m, &eo)); /* our own request */
    KMS_ENSURE_OUT(rc, req_m->hdr.data_type == req_type, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, req_view(req_m, &v));
    struct kms_iov cov = {req, req_len};
    const struct kms_mk_open o = {
        .data_type = resolve ? KMS_MIKEY_DT_RESOLVE_RESP : KMS_MIKEY_DT_REQUEST_RESP,
        .prot = resp_prot(&v, &cov),
        .key = kue,
        .request_hdr = &req_m->hdr,
    };
    KMS_TRY_OUT(rc, kms_mk_open(resp, resp_len, &o, m, &keys, kd));
    KMS_TRY_OUT(rc, kms_mk_check_kemac(m));
    if (!resolve) {
        const struct kms_mikey_payload *tk = first(&m->body, KMS_MIKEY_PT_TICKET, 0);
        KMS_ENSURE_OUT(rc, tk != NULL, KMS_ERR_MALFORMED);
        KMS_TRY_OUT(rc, check_media_ticket(&tk->u.ticket));
        KMS_ENSURE_OUT(rc, tk->u.ticket.init_data.len == 0, KMS_ERR_UNSUPPORTED);
        KMS_TRY_OUT(rc, copy_bytes(tk->u.ticket.ticket_data, out->ticket, sizeof(out->ticket),
                                   &out->ticket_len));
        out->ticket_flags = tk->u.ticket.flags;
    } else {
        struct kms_bytes idri = kms_mikey_idr(&m->body, ROLE_I);
        if (idri.p != NULL) {
            KMS_TRY_OUT(rc, kms_mk_copy_id(idri, out->initiator, sizeof(out->initiator)));
        }
    }
    const struct kms_mikey_keydata *mpk = &kd->kd[0], *tgk = &kd->kd[1];
    KMS_ENSURE_OUT(rc,
                   kd->n == 2 && mpk->type == KMS_MIKEY_KD_MPK &&
                       mpk->key.len == KMS_TMSG_MPK_LEN && mpk->kv == KMS_MIKEY_KV_NULL &&
                       tgk->type == KMS_MIKEY_KD_TGK &&
                       (tgk->key.len == 16 || tgk->key.len == 32) &&
                       tgk->kv == KMS_MIKEY_KV_INTERVAL && tgk->kv_a.len == 8 && tgk->kv_b.len == 8,
                   KMS_ERR_MALFORMED);
    memcpy(out->mpk, mpk->key.p, KMS_TMSG_MPK_LEN);
    memcpy(out->tgk, tgk->key.p, tgk->key.len);
    out->tgk_len = tgk->key.len;
    out->valid_from = kms_kue_ntp_to_unix(kms_mk_get_be64(tgk->kv_a.p));
    out->valid_to = kms_kue_ntp_to_unix(kms_mk_get_be64(tgk->kv_b.p));
    KMS_ENSURE_OUT(rc, out->valid_from < out->valid_to, KMS_ERR_MALFORMED);
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

kms_result kms_tresp_open(const uint8_t *req, size_t req_len, const uint8_t *resp, size_t resp_len,
                          const uint8_t kue[KMS_TMSG_KUE_LEN], struct kms_tgrant *out)
{
    return resp_open(req, req_len, KMS_MIKEY_DT_REQUEST_INIT_PSK, resp, resp_len, kue, out);
}

kms_result kms_rresp_open(const uint8_t *req, size_t req_len, const uint8_t *resp, size_t resp_len,
                          const uint8_t kue[KMS_TMSG_KUE_LEN], struct kms_tgrant *out)
{
    return resp_open(req, req_len, KMS_MIKEY_DT_RESOLVE_INIT_PSK, resp, resp_len, kue, out);
}

/* ---- ticket transfer --------------------------------------------------------------------- */

/* The storage behind the CS ID map of a message we build: Ps, Session Data and SPI per crypto
 * session. */
struct cs_store {
    uint8_t policy_no;
    uint8_t sd[KMS_TMSG_CS_MAX][10];
    uint8_t spi[KMS_TMSG_CS_MAX];
};

static void put_be(uint8_t *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

static uint64_t get_be(const uint8_t *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

/* The GENERIC-ID map of md's crypto sessions into h (storage in st). */
static kms_result cs_map_of(const struct kms_tmsg_media *md, struct kms_mikey_hdr *h,
                            struct cs_store *st)
{
    KMS_ENSURE(md->n_cs >= 1 && md->n_cs <= KMS_TMSG_CS_MAX, KMS_ERR_ARG);
    st->policy_no = 0;
    h->map_type = KMS_MIKEY_MAP_GENERIC_ID;
    h->n_cs = (uint8_t)md->n_cs;
    for (size_t i = 0; i < md->n_cs; i++) {
        const struct kms_tmsg_cs *c = &md->cs[i];
        KMS_ENSURE(c->cs_id == i + 1, KMS_ERR_ARG);
        put_be(st->sd[i], c->ssrc, 4);
        put_be(st->sd[i] + 4, c->roc, 4);
        put_be(st->sd[i] + 8, c->seq, 2);
        st->spi[i] = c->cs_id;
        h->cs[i] = (struct kms_mikey_cs){.cs_id = c->cs_id,
                                         .prot_type = 0, /* SRTP */
                                         .s = true,
                                         .ps = kms_mk_bytes(&st->policy_no, 1),
                                         .session_data = kms_mk_bytes(st->sd[i], 10),
                                         .spi = kms_mk_bytes(&st->spi[i], 1)};
    }
    return KMS_RESULT_OK;
}

kms_result kms_transfer_build(const char *idri, const char *idrr,
                              const uint8_t mpk[KMS_TMSG_MPK_LEN], const uint8_t *ticket,
                              size_t ticket_len, struct kms_buf *out)
{
    const struct kms_transfer_spec s = {
        .idri = idri, .idrr = idrr, .mpk = mpk, .ticket = ticket, .ticket_len = ticket_len};
    return kms_transfer_build_spec(&s, out);
}

kms_result kms_transfer_build_spec(const struct kms_transfer_spec *s, struct kms_buf *out)
{
    KMS_ENSURE(s != NULL && s->mpk != NULL && s->ticket != NULL && out != NULL, KMS_ERR_ARG);
    KMS_ENSURE(id_ok(s->idri) && id_ok(s->idrr), KMS_ERR_ARG);
    KMS_ENSURE(s->ticket_len >= 1 && s->ticket_len <= KMS_TICKET_MAX, KMS_ERR_ARG);
    KMS_ENSURE(s->media == NULL || (s->media->n_cs == 1 && s->media->sp_len >= 1 &&
                                    s->media->sp_len <= sizeof(s->media->sp)),
               KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    uint8_t randri[KMS_TMSG_RAND_LEN];
    uint32_t csb_id;
    struct cs_store st;
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE(m != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_random(randri, sizeof(randri)));
    /* V agrees with the F flag (RFC 6043 4.2.2.1); the GENERIC-ID map (RFC 6043 4.2.2: SHOULD
     * for the Transfer) with the caller's crypto session, or none when the media parameters
     * come from elsewhere ('ue request'). */
    bool v = (s->ticket_flags & KMS_MIKEY_TF_F) != 0;
    KMS_TRY_OUT(rc, init_hdr(m, KMS_MIKEY_DT_TRANSFER_INIT, v, KMS_MIKEY_MAP_GENERIC_ID, &csb_id));
    if (s->media != NULL) {
        KMS_TRY_OUT(rc, cs_map_of(s->media, &m->hdr, &st));
    }
    kms_mk_add(m, KMS_MIKEY_PT_T)->u.t =
        (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, kms_mikey_ntp_now()};
    kms_mk_add(m, KMS_MIKEY_PT_RANDR)->u.randr =
        (struct kms_mikey_randr){ROLE_I, kms_mk_bytes(randri, sizeof(randri))};
    kms_mk_idr(m, ROLE_I, kms_mk_id_type(s->idri), s->idri);
    kms_mk_idr(m, ROLE_R, kms_mk_id_type(s->idrr), s->idrr);
    if (s->media != NULL) {
        kms_mk_add(m, KMS_MIKEY_PT_SP)->u.sp = (struct kms_mikey_sp){
            .policy_no = 0, .prot_type = 0, .params = kms_mk_bytes(s->media->sp, s->media->sp_len)};
    }
    kms_mk_add(m, KMS_MIKEY_PT_TICKET)->u.ticket =
        media_ticket_flags(s->ticket, s->ticket_len, s->ticket_flags);
    KMS_TRY_OUT(rc, seal_init(m, s->mpk, s->idri, s->idrr, out));
    rc = KMS_RESULT_OK;
out:
    free(m);
    return rc;
}

/* The crypto sessions of a transfer message as this profile writes them (struct kms_tmsg_cs),
 * into md; with sp, the SP payload their policy names is copied too. KMS_ERR_UNSUPPORTED for
 * a crypto session of another protocol, another number of policies, without ROC and SEQ, or
 * naming no SP payload we received; KMS_ERR_MALFORMED for a map that breaks RFC 6043 6.1.1. */
static kms_result media_read(const struct kms_mikey_msg *m, bool sp, struct kms_tmsg_media *md)
{
    memset(md, 0, sizeof(*md));
    if (m->hdr.n_cs == 0) {
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(m->hdr.map_type == KMS_MIKEY_MAP_GENERIC_ID, KMS_ERR_MALFORMED);
    KMS_ENSURE(m->hdr.n_cs <= KMS_TMSG_CS_MAX, KMS_ERR_UNSUPPORTED);
    for (size_t i = 0; i < m->hdr.n_cs; i++) {
        const struct kms_mikey_cs *c = &m->hdr.cs[i];
        KMS_ENSURE(c->cs_id == i + 1, KMS_ERR_MALFORMED); /* 1, then 2 */
        KMS_ENSURE(c->prot_type == 0 && c->s && c->ps.len == 1, KMS_ERR_UNSUPPORTED);
        KMS_ENSURE(c->ps.p[0] == 0, KMS_ERR_UNSUPPORTED); /* the SP of policy_no 0 */
        KMS_ENSURE(c->session_data.len == 10, KMS_ERR_MALFORMED);
        KMS_ENSURE(c->spi.len == 1 && c->spi.p[0] == c->cs_id, KMS_ERR_UNSUPPORTED);
        md->cs[i] = (struct kms_tmsg_cs){.cs_id = c->cs_id,
                                         .ssrc = (uint32_t)get_be(c->session_data.p, 4),
                                         .roc = (uint32_t)get_be(c->session_data.p + 4, 4),
                                         .seq = (uint16_t)get_be(c->session_data.p + 8, 2)};
    }
    md->n_cs = m->hdr.n_cs;
    if (!sp) {
        return KMS_RESULT_OK;
    }
    const struct kms_mikey_payload *found = NULL;
    for (size_t i = 0; i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        if (pl->type == KMS_MIKEY_PT_SP && pl->u.sp.policy_no == 0) {
            KMS_ENSURE(found == NULL, KMS_ERR_MALFORMED); /* one policy per number */
            found = pl;
        }
    }
    KMS_ENSURE(found != NULL && found->u.sp.prot_type == 0, KMS_ERR_UNSUPPORTED);
    KMS_ENSURE(found->u.sp.params.len <= sizeof(md->sp), KMS_ERR_UNSUPPORTED);
    memcpy(md->sp, found->u.sp.params.p, found->u.sp.params.len);
    md->sp_len = found->u.sp.params.len;
    return KMS_RESULT_OK;
}

kms_result kms_transfer_read(const uint8_t *msg, const struct kms_mikey_msg *m,
                             struct kms_transfer *out, size_t *err_off)
{
    KMS_ENSURE(msg != NULL && m != NULL && out != NULL && err_off != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    *err_off = 0;
    kms_result rc = KMS_RC_INIT;
    KMS_ENSURE_OUT(rc, m->hdr.data_type == KMS_MIKEY_DT_TRANSFER_INIT, KMS_ERR_MALFORMED);
    /* RFC 6043 4.2.2: the SRTP-ID map SHALL NOT be used in the Transfer. */
    KMS_ENSURE_OUT(rc, m->hdr.map_type != KMS_MIKEY_MAP_SRTP_ID, KMS_ERR_MALFORMED);
    struct kms_bytes idri = kms_mikey_idr(&m->body, ROLE_I);
    struct kms_bytes idrr = kms_mikey_idr(&m->body, ROLE_R);
    /* Required in our profile: they are the MAC coverage. */
    KMS_ENSURE_OUT(rc, idri.p != NULL && idrr.p != NULL, KMS_ERR_MALFORMED);
    KMS_TRY_OUT(rc, kms_mk_copy_id(idri, out->idri, sizeof(out->idri)));
    KMS_TRY_OUT(rc, kms_mk_copy_id(idrr, out->idrr, sizeof(out->idrr)));
    const struct kms_mikey_payload *tk = first(&m->body, KMS_MIKEY_PT_TICKET, 0);
    const struct kms_mikey_payload *t = first(&m->body, KMS_MIKEY_PT_T, 0);
    const struct kms_mikey_payload *randr = first(&m->body, KMS_MIKEY_PT_RANDR, ROLE_I);
    KMS_ENSURE_OUT(rc, tk != NULL && t != NULL && randr != NULL, KMS_ERR_MALFORMED);
    KMS_TRY_OUT(rc, check_media_ticket(&tk->u.ticket));
    /* Initiator Data (key forking) lies outside the MAC (RFC 6043 Table 5.2) and a KEMAC would
     * carry keys we do not use: neither is part of this profile. */
    KMS_ENSURE_OUT(rc, tk->u.ticket.init_data.len == 0, KMS_ERR_UNSUPPORTED);
    KMS_ENSURE_OUT(rc, first(&m->body, KMS_MIKEY_PT_KEMAC, 0) == NULL, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, copy_bytes(tk->u.ticket.ticket_data, out->ticket, sizeof(out->ticket),
                               &out->ticket_len));
    out->ticket_flags = tk->u.ticket.flags;
    out->v = m->hdr.v;
    KMS_ENSURE_OUT(rc, t->u.t.ts_type == KMS_MIKEY_TS_NTP_UTC, KMS_ERR_UNSUPPORTED);
    out->ntp = t->u.t.value;
    KMS_ENSURE_OUT(rc, randr->u.randr.rand.len == sizeof(out->randri), KMS_ERR_MALFORMED);
    memcpy(out->randri, randr->u.randr.rand.p, sizeof(out->randri));
    out->csb_id = m->hdr.csb_id;
    /* One crypto session at most in a TRANSFER_INIT: the caller's stream. */
    KMS_ENSURE_OUT(rc, m->hdr.n_cs <= 1, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, media_read(m, true, &out->media));
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

kms_result kms_transfer_peek(const uint8_t *msg, size_t len, struct kms_transfer *out,
                             size_t *err_off)
{
    KMS_ENSURE(out != NULL && err_off != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    *err_off = 0;
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE(m != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_mk_decode(msg, len, KMS_MIKEY_DT_TRANSFER_INIT, m, err_off));
    KMS_TRY_OUT(rc, kms_transfer_read(msg, m, out, err_off));
    rc = KMS_RESULT_OK;
out:
    free(m);
    return rc;
}

kms_result kms_transfer_open(const uint8_t *msg, size_t len, const uint8_t mpk[KMS_TMSG_MPK_LEN])
{
    KMS_ENSURE(msg != NULL && mpk != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_transfer *p = calloc(1, sizeof(*p));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE_OUT(rc, p != NULL && m != NULL, KMS_ERR_NOMEM);
    size_t eo = 0;
    /* Decoded once: the same checks as B's peek, then the MAC over the identities it names. */
    KMS_TRY_OUT(rc, kms_mk_decode(msg, len, KMS_MIKEY_DT_TRANSFER_INIT, m, &eo));
    KMS_TRY_OUT(rc, kms_transfer_read(msg, m, p, &eo));
    KMS_TRY_OUT(rc, kms_mk_verify_init(msg, len, m, p->idri, p->idrr, mpk, NULL, NULL));
    rc = KMS_RESULT_OK;
out:
    free(p);
    free(m);
    return rc;
}

/* ---- TRANSFER_RESP ----------------------------------------------------------------------- */

/* The protection of a TRANSFER_RESP: the response label with both RANDs (RFC 6043 5.1.2, G =
 * 1), V over the response || the whole TRANSFER_INIT (Table 5.2). */
static struct kms_mikey_prot tr_resp_prot(const uint8_t *randri, const uint8_t *randrr,
                                          const struct kms_iov *init)
{
    return (struct kms_mikey_prot){
        .keying = KMS_MIKEY_KEYING_RESPONSE,
        .rands = {randri, KMS_TMSG_RAND_LEN, randrr, KMS_TMSG_RAND_LEN},
        .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
        .extra = init,
        .n_extra = 1,
    };
}

kms_result kms_transfer_resp_build(const uint8_t *init, size_t init_len,
                                   const uint8_t mpk[KMS_TMSG_MPK_LEN], struct kms_transfer_resp *r,
                                   struct kms_buf *out)
{
    KMS_ENSURE(init != NULL && mpk != NULL && r != NULL && out != NULL, KMS_ERR_ARG);
    KMS_ENSURE(id_ok(r->idrr) && r->media.n_cs == 2, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct cs_store st;
    struct kms_transfer *x = calloc(1, sizeof(*x));
    struct kms_mikey_msg *im = calloc(1, sizeof(*im));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE_OUT(rc, x != NULL && im != NULL && m != NULL, KMS_ERR_NOMEM);
    size_t eo = 0;
    KMS_TRY_OUT(rc, kms_mk_decode(init, init_len, KMS_MIKEY_DT_TRANSFER_INIT, im, &eo));
    KMS_TRY_OUT(rc, kms_transfer_read(init, im, x, &eo));
    /* RFC 6043 4.2.2.3: version, PRF func and CSB ID as in the TRANSFER_INIT, V = 0, #CS
     * updated with the responder's crypto session. */
    m->hdr = (struct kms_mikey_hdr){.version = im->hdr.version,
                                    .data_type = KMS_MIKEY_DT_TRANSFER_RESP,
                                    .v = false,
                                    .prf = im->hdr.prf,
                                    .csb_id = im->hdr.csb_id};
    KMS_TRY_OUT(rc, cs_map_of(&r->media, &m->hdr, &st));
    r->ntp = kms_mikey_ntp_now();
    kms_mk_add(m, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, r->ntp};
    kms_mk_add(m, KMS_MIKEY_PT_RANDR)->u.randr =
        (struct kms_mikey_randr){ROLE_R, kms_mk_bytes(r->randrr, KMS_TMSG_RAND_LEN)};
    kms_mk_idr(m, ROLE_R, kms_mk_id_type(r->idrr), r->idrr);
    kms_mk_add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, kms_mk_bytes(zero_mac, MAC_LEN)};
    struct kms_iov cov = {init, init_len};
    struct kms_mikey_prot p = tr_resp_prot(x->randri, r->randrr, &cov);
    KMS_TRY_OUT(rc, kms_mikey_seal(m, mpk, KMS_TMSG_MPK_LEN, &p, out));
    rc = KMS_RESULT_OK;
out:
    free(x);
    free(im);
    free(m);
    return rc;
}

kms_result kms_transfer_resp_open(const uint8_t *init, size_t init_len, const uint8_t *resp,
                                  size_t resp_len, const uint8_t mpk[KMS_TMSG_MPK_LEN],
                                  struct kms_transfer_resp *out)
{
    KMS_ENSURE(init != NULL && resp != NULL && mpk != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    kms_result rc = KMS_RC_INIT;
    struct kms_transfer *x = calloc(1, sizeof(*x));
    struct kms_mikey_msg *im = calloc(1, sizeof(*im));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE_OUT(rc, x != NULL && im != NULL && m != NULL, KMS_ERR_NOMEM);
    size_t eo = 0;
    KMS_TRY_OUT(rc, kms_mk_decode(init, init_len, KMS_MIKEY_DT_TRANSFER_INIT, im, &eo));
    KMS_TRY_OUT(rc, kms_transfer_read(init, im, x, &eo)); /* our own */
    KMS_TRY_OUT(rc, kms_mk_decode(resp, resp_len, KMS_MIKEY_DT_TRANSFER_RESP, m, &eo));
    /* The label needs RANDRr, which the response itself carries: read it, then verify. */
    const struct kms_mikey_payload *randr = first(&m->body, KMS_MIKEY_PT_RANDR, ROLE_R);
    const struct kms_mikey_payload *t = first(&m->body, KMS_MIKEY_PT_T, 0);
    struct kms_bytes idrr = kms_mikey_idr(&m->body, ROLE_R);
    KMS_ENSURE_OUT(rc, randr != NULL && t != NULL && idrr.p != NULL, KMS_ERR_MALFORMED);
    KMS_ENSURE_OUT(rc, randr->u.randr.rand.len == KMS_TMSG_RAND_LEN, KMS_ERR_MALFORMED);
    memcpy(out->randrr, randr->u.randr.rand.p, KMS_TMSG_RAND_LEN);
    struct kms_iov cov = {init, init_len};
    const struct kms_mk_open o = {.data_type = KMS_MIKEY_DT_TRANSFER_RESP,
                                  .prot = tr_resp_prot(x->randri, out->randrr, &cov),
                                  .key = mpk,
                                  .request_hdr = &im->hdr};
    KMS_TRY_OUT(rc, kms_mk_verify(resp, resp_len, &o, m, NULL, NULL));
    /* Authenticated from here on. */
    KMS_ENSURE_OUT(rc, first(&m->body, KMS_MIKEY_PT_KEMAC, 0) == NULL, KMS_ERR_UNSUPPORTED);
    KMS_ENSURE_OUT(rc, t->u.t.ts_type == KMS_MIKEY_TS_NTP_UTC, KMS_ERR_UNSUPPORTED);
    out->ntp = t->u.t.value;
    KMS_TRY_OUT(rc, kms_mk_copy_id(idrr, out->idrr, sizeof(out->idrr)));
    KMS_TRY_OUT(rc, media_read(m, false, &out->media));
    const struct kms_tmsg_cs *c1 = &out->media.cs[0], *i1 = &x->media.cs[0];
    KMS_ENSURE_OUT(rc, out->media.n_cs == 2 && x->media.n_cs == 1, KMS_ERR_MALFORMED);
    KMS_ENSURE_OUT(rc, c1->ssrc == i1->ssrc && c1->roc == i1->roc && c1->seq == i1->seq,
                   KMS_ERR_UNSUPPORTED); /* CS 1 is the initiator's: not changed */
    rc = KMS_RESULT_OK;
out:
    free(x);
    free(im);
    free(m);
    if (!kms_ok(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "mikey/kms_mikey_msg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/kms_mem.h"
#include "util/kms_time.h"

/* ---- message shapes ---------------------------------------------------------------------- */

struct shape_item {
    uint8_t type;
    uint8_t role; /* IDR / RANDR role; 0 = any */
    uint8_t min, max;
};

struct shape {
    uint8_t data_type;
    uint8_t mac_type; /* payload that carries the MAC: V or KEMAC (optional where the
                       * shape's count for it allows 0: Error) */
    bool empty_map;   /* #CS = 0 and the Empty map (RFC 6043 4.2.1.1, 4.2.3.1) */
    const struct shape_item *items;
    size_t n;
};

enum { R_I = 1, R_R = 2, R_KMS = 3, R_PSK = 4 };
#define MANY 255

#define SHAPE(dt, mac, empty, arr)                                                                 \
    {                                                                                              \
        dt, mac, empty, arr, sizeof(arr) / sizeof(arr[0])                                          \
    }

/*= RFC 6043, 4.2 (paraphrased)
 *# REQUEST_INIT_PSK = HDR, T, RANDRi, [IDRi], [IDRkms], TP, [IDRpsk], V
 *# REQUEST_RESP     = HDR, T, [IDRkms], TICKET, KEMAC, V
 *# TRANSFER_INIT    = HDR, T, RANDRi, [IDRi], [IDRr], {SP}, TICKET, [KEMAC], V
 *# TRANSFER_RESP    = HDR, T, [RANDRr], [IDRr], [RANDRkms], {SP}, [KEMAC], V
 *# RESOLVE_INIT_PSK = HDR, T, RANDRr, [IDRr], [IDRkms], TICKET, [IDRpsk], V
 *# RESOLVE_RESP     = HDR, T, [IDRkms], KEMAC, [IDRr], [RANDRkms], V
 *# Error            = HDR, T, (ERR), [V]
 * The Error shape also takes one IDRkms after the ERRs: RFC 6043 5.4 says "Unexpected payloads
 * in the Error message SHOULD be ignored", so a receiver that does not expect it skips it, and
 * our KMS names itself there (docs/protocol.md, "IDRkms in Error messages").
 */
static const struct shape_item req_init[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},     {KMS_MIKEY_PT_RANDR, R_I, 1, 1},
    {KMS_MIKEY_PT_IDR, R_I, 0, 1}, {KMS_MIKEY_PT_IDR, R_KMS, 0, 1},
    {KMS_MIKEY_PT_TP, 0, 1, 1},    {KMS_MIKEY_PT_IDR, R_PSK, 0, 1},
    {KMS_MIKEY_PT_V, 0, 1, 1},
};
static const struct shape_item req_resp[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},     {KMS_MIKEY_PT_IDR, R_KMS, 0, 1}, {KMS_MIKEY_PT_TICKET, 0, 1, 1},
    {KMS_MIKEY_PT_KEMAC, 0, 1, 1}, {KMS_MIKEY_PT_V, 0, 1, 1},
};
static const struct shape_item tr_init[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},     {KMS_MIKEY_PT_RANDR, R_I, 1, 1}, {KMS_MIKEY_PT_IDR, R_I, 0, 1},
    {KMS_MIKEY_PT_IDR, R_R, 0, 1}, {KMS_MIKEY_PT_SP, 0, 0, MANY},   {KMS_MIKEY_PT_TICKET, 0, 1, 1},
    {KMS_MIKEY_PT_KEMAC, 0, 0, 1}, {KMS_MIKEY_PT_V, 0, 1, 1},
};
static const struct shape_item tr_resp[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},     {KMS_MIKEY_PT_RANDR, R_R, 0, 1},
    {KMS_MIKEY_PT_IDR, R_R, 0, 1}, {KMS_MIKEY_PT_RANDR, R_KMS, 0, 1},
    {KMS_MIKEY_PT_SP, 0, 0, MANY}, {KMS_MIKEY_PT_KEMAC, 0, 0, 1},
    {KMS_MIKEY_PT_V, 0, 1, 1},
};
static const struct shape_item res_init[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},      {KMS_MIKEY_PT_RANDR, R_R, 1, 1},
    {KMS_MIKEY_PT_IDR, R_R, 0, 1},  {KMS_MIKEY_PT_IDR, R_KMS, 0, 1},
    {KMS_MIKEY_PT_TICKET, 0, 1, 1}, {KMS_MIKEY_PT_IDR, R_PSK, 0, 1},
    {KMS_MIKEY_PT_V, 0, 1, 1},
};
static const struct shape_item res_resp[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},     {KMS_MIKEY_PT_IDR, R_KMS, 0, 1},   {KMS_MIKEY_PT_KEMAC, 0, 1, 1},
    {KMS_MIKEY_PT_IDR, R_R, 0, 1}, {KMS_MIKEY_PT_RANDR, R_KMS, 0, 1}, {KMS_MIKEY_PT_V, 0, 1, 1},
};
static const struct shape_item error[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},
    {KMS_MIKEY_PT_ERR, 0, 1, MANY},
    {KMS_MIKEY_PT_IDR, R_KMS, 0, 1},
    {KMS_MIKEY_PT_V, 0, 0, 1},
};
/*= RFC 3830, 3.1 (paraphrased)
 *# I_MESSAGE = HDR, T, RAND, [IDi], [IDr], {SP}, KEMAC
 *# R_MESSAGE = HDR, T, [IDr], V
 */
static const struct shape_item i_msg[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},     {KMS_MIKEY_PT_RAND, 0, 1, 1},  {KMS_MIKEY_PT_ID, 0, 0, 2},
    {KMS_MIKEY_PT_SP, 0, 0, MANY}, {KMS_MIKEY_PT_KEMAC, 0, 1, 1},
};
static const struct shape_item r_msg[] = {
    {KMS_MIKEY_PT_T, 0, 1, 1},
    {KMS_MIKEY_PT_ID, 0, 0, 1},
    {KMS_MIKEY_PT_V, 0, 1, 1},
};

static const struct shape shapes[] = {
    SHAPE(KMS_MIKEY_DT_PSK_INIT, KMS_MIKEY_PT_KEMAC, false, i_msg),
    SHAPE(KMS_MIKEY_DT_PSK_RESP, KMS_MIKEY_PT_V, false, r_msg),
    SHAPE(KMS_MIKEY_DT_ERROR, KMS_MIKEY_PT_V, false, error),
    SHAPE(KMS_MIKEY_DT_REQUEST_INIT_PSK, KMS_MIKEY_PT_V, true, req_init),
    SHAPE(KMS_MIKEY_DT_REQUEST_RESP, KMS_MIKEY_PT_V, false, req_resp),
    SHAPE(KMS_MIKEY_DT_TRANSFER_INIT, KMS_MIKEY_PT_V, false, tr_init),
    SHAPE(KMS_MIKEY_DT_TRANSFER_RESP, KMS_MIKEY_PT_V, false, tr_resp),
    SHAPE(KMS_MIKEY_DT_RESOLVE_INIT_PSK, KMS_MIKEY_PT_V, true, res_init),
    SHAPE(KMS_MIKEY_DT_RESOLVE_RESP, KMS_MIKEY_PT_V, false, res_resp),
};

static const struct shape *shape_of(uint8_t data_type)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        if (shapes[i].data_type == data_type) {
            return &shapes[i];
        }
    }
    return NULL;
}

static uint8_t role_of(const struct kms_mikey_payload *pl)
{
    switch (pl->type) {
    case KMS_MIKEY_PT_IDR:
        return pl->u.id.role;
    case KMS_MIKEY_PT_RANDR:
        return pl->u.randr.role;
    default:
        return 0;
    }
}

static bool item_matches(const struct shape_item *it, const struct kms_mikey_payload *pl)
{
    return it->type == pl->type && (it->role == 0 || it->role == role_of(pl));
}

kms_result kms_mikey_check_shape(const struct kms_mikey_msg *m, size_t *err_off)
{
    const struct shape *s = shape_of(m->hdr.data_type);
    uint8_t count[16] = {0};
    size_t cur = 0;
    *err_off = 0;
    if (s == NULL) {
        *err_off = 1;
        KMS_BAIL(KMS_ERR_UNSUPPORTED);
    }
    if (s->empty_map && (m->hdr.n_cs != 0 || m->hdr.map_type != KMS_MIKEY_MAP_EMPTY)) {
        *err_off = 8;
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    for (size_t i = 0; i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        size_t j = cur;
        while (j < s->n && !(item_matches(&s->items[j], pl) && count[j] < s->items[j].max)) {
            j++;
        }
        if (j < s->n) {
            cur = j;
            count[j]++;
            continue;
        }
        /* Out of order, or more than allowed: malformed. Not in the list at all: ignored
         * (RFC 6043 4.2: unexpected payloads SHOULD be ignored). */
        for (size_t k = 0; k < s->n; k++) {
            if (item_matches(&s->items[k], pl)) {
                *err_off = pl->off;
                KMS_BAIL(KMS_ERR_MALFORMED);
            }
        }
    }
    for (size_t j = 0; j < s->n; j++) {
        if (count[j] < s->items[j].min) {
            *err_off = m->raw.len;
            KMS_BAIL(KMS_ERR_MALFORMED);
        }
    }
    /* The MAC covers everything before it, so nothing may follow its payload. */
    const struct kms_mikey_payload *last = m->body.n > 0 ? &m->body.pl[m->body.n - 1] : NULL;
    bool has_mac = kms_mikey_find(&m->body, s->mac_type, NULL) != NULL;
    if (has_mac && (last == NULL || last->type != s->mac_type)) {
        *err_off = last != NULL ? last->off : m->raw.len;
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

struct kms_bytes kms_mikey_idr(const struct kms_mikey_plist *l, uint8_t role)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->pl[i].type == KMS_MIKEY_PT_IDR && l->pl[i].u.id.role == role) {
            return l->pl[i].u.id.data;
        }
    }
    return (struct kms_bytes){NULL, 0};
}

/* ---- time -------------------------------------------------------------------------------- */

/*= RFC 3830, 6.6 (paraphrased)
 *# NTP-UTC: 64-bit NTP time (32 bits of seconds since 1900-01-01, 32 bits of fraction), UTC
 */
#define NTP_UNIX_OFFSET 2208988800LL

uint64_t kms_mikey_ntp_from_unix(int64_t sec, uint32_t nsec)
{
    uint64_t s = (uint64_t)(sec + NTP_UNIX_OFFSET);
    uint64_t frac = ((uint64_t)nsec << 32) / 1000000000ULL;
    return (s << 32) | (frac & 0xffffffffULL);
}

uint64_t kms_mikey_ntp_now(void)
{
    struct timespec ts;
    kms_now_ts(&ts);
    return kms_mikey_ntp_from_unix((int64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

/* ---- keys, coverage ---------------------------------------------------------------------- */

/* The 64-bit T of the AES-CM IV (RFC 3830 4.2.3, RFC 6043 6.3): the message's own T. */
static kms_result t64_of(const struct kms_mikey_msg *m, uint64_t *t)
{
    const struct kms_mikey_payload *pl = kms_mikey_find(&m->body, KMS_MIKEY_PT_T, NULL);
    KMS_ENSURE(pl != NULL, KMS_ERR_MALFORMED);
    switch (pl->u.t.ts_type) {
    case KMS_MIKEY_TS_NTP_UTC:
    case KMS_MIKEY_TS_NTP:
        *t = pl->u.t.value;
        break;
    case KMS_MIKEY_TS_COUNTER:
        *t = kms_mikey_t_from_counter((uint32_t)pl->u.t.value);
        break;
    case KMS_MIKEY_TS_NTP_UTC_32:
        *t = kms_mikey_t_from_ntp_utc32((uint32_t)pl->u.t.value);
        break;
    default:
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

/* The label RANDs: the caller's, or for an initial message the ones it carries. */
static struct kms_mikey_rands rands_of(const struct kms_mikey_msg *m,
                                       const struct kms_mikey_prot *p)
{
    struct kms_mikey_rands r = p->rands;
    if (r.ri_len > 0 || r.rr_len > 0) {
        return r;
    }
    if (p->keying == KMS_MIKEY_KEYING_PSK_3830) {
        const struct kms_mikey_payload *pl = kms_mikey_find(&m->body, KMS_MIKEY_PT_RAND, NULL);
        if (pl != NULL) {
            r.ri = pl->u.rand.rand.p;
            r.ri_len = pl->u.rand.rand.len;
        }
        return r;
    }
    for (size_t i = 0; i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        if (pl->type != KMS_MIKEY_PT_RANDR) {
            continue;
        }
        /* RFC 6043 5.1: RANDRi keys Request and Transfer, RANDRr keys Resolve. */
        bool resolve = m->hdr.data_type == KMS_MIKEY_DT_RESOLVE_INIT_PSK;
        if (!resolve && pl->u.randr.role == R_I && r.ri_len == 0) {
            r.ri = pl->u.randr.rand.p;
            r.ri_len = pl->u.randr.rand.len;
        } else if (resolve && pl->u.randr.role == R_R && r.rr_len == 0) {
            r.rr = pl->u.randr.rand.p;
            r.rr_len = pl->u.randr.rand.len;
        }
    }
    return r;
}

static kms_result derive(const struct kms_mikey_msg *m, const uint8_t *key, size_t key_len,
                         const struct kms_mikey_prot *p, enum kms_mikey_encr_alg encr,
                         struct kms_mikey_msg_keys *k)
{
    struct kms_mikey_rands r = rands_of(m, p);
    enum kms_mikey_prf_alg prf = (enum kms_mikey_prf_alg)m->hdr.prf;
    switch (p->keying) {
    case KMS_MIKEY_KEYING_PSK_3830:
        return kms_mikey_msg_keys_psk(prf, key, key_len, m->hdr.csb_id, r.ri, r.ri_len, encr,
                                      p->mac_alg, k);
    case KMS_MIKEY_KEYING_INITIAL:
    case KMS_MIKEY_KEYING_RESPONSE:
        return kms_mikey_msg_keys_ticket_pk(prf, key, key_len, p->prepared, m->hdr.csb_id,
                                            p->keying == KMS_MIKEY_KEYING_INITIAL
                                                ? KMS_MIKEY_TICKET_INITIAL
                                                : KMS_MIKEY_TICKET_RESPONSE,
                                            &r, encr, p->mac_alg, k);
    default:
        KMS_BAIL(KMS_ERR_ARG);
    }
}

#define MAX_COVER 8

/* The MAC input: the message up to the MAC field, then the extra coverage. In TRANSFER_INIT
 * the TICKET's Initiator Data fields are left out (RFC 6043 5.5). */
static kms_result coverage(const struct kms_mikey_msg *m, const uint8_t *msg, size_t mac_off,
                           const struct kms_mikey_prot *p, struct kms_iov *iov, size_t *n)
{
    size_t k = 0;
    const struct kms_mikey_payload *tk = kms_mikey_find(&m->body, KMS_MIKEY_PT_TICKET, NULL);
    KMS_ENSURE(p->n_extra <= MAX_COVER - 2, KMS_ERR_ARG);
    if (m->hdr.data_type == KMS_MIKEY_DT_TRANSFER_INIT && tk != NULL) {
        /*= RFC 6043, 5.5 Table 5.2 (paraphrased)
         *# TRANSFER_INIT || Identity_i || Identity_r, excluding the Initiator Data length and
         *# Initiator Data fields of the TICKET payload
         */
        size_t end = tk->off + tk->len, cut = end - 2 - tk->u.ticket.init_data.len;
        iov[k++] = (struct kms_iov){msg, cut};
        iov[k++] = (struct kms_iov){msg + end, mac_off - end};
    } else {
        iov[k++] = (struct kms_iov){msg, mac_off};
    }
    for (size_t i = 0; i < p->n_extra; i++) {
        iov[k++] = p->extra[i];
    }
    *n = k;
    return KMS_RESULT_OK;
}

/* The payload carrying the MAC (the last one) and the MAC's offset in the message. */
static kms_result mac_field(const struct kms_mikey_msg *m, const struct kms_mikey_payload **pl,
                            size_t *mac_off, size_t *mac_len)
{
    KMS_ENSURE(m->body.n > 0, KMS_ERR_MALFORMED);
    const struct kms_mikey_payload *last = &m->body.pl[m->body.n - 1];
    struct kms_bytes mac;
    if (last->type == KMS_MIKEY_PT_V) {
        mac = last->u.v.mac;
    } else if (last->type == KMS_MIKEY_PT_KEMAC && m->hdr.data_type == KMS_MIKEY_DT_PSK_INIT) {
        mac = last->u.kemac.mac;
    } else {
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    *pl = last;
    *mac_len = mac.len;
    *mac_off = last->off + last->len - mac.len;
    return KMS_RESULT_OK;
}

static uint8_t mac_alg_of(const struct kms_mikey_payload *pl)
{
    return pl->type == KMS_MIKEY_PT_V ? pl->u.v.alg : pl->u.kemac.mac_alg;
}

/* ---- seal -------------------------------------------------------------------------------- */

kms_result kms_mikey_seal(struct kms_mikey_msg *m, const uint8_t *key, size_t key_len,
                          const struct kms_mikey_prot *p, struct kms_buf *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg_keys k;
    struct kms_mikey_payload *kem = NULL;
    struct kms_bytes plain = {NULL, 0};
    uint8_t *ct = NULL;
    struct kms_iov iov[MAX_COVER];
    size_t n_iov = 0, eo = 0, mac_off = 0, mac_len = 0, base = kms_buf_len(out);
    const struct kms_mikey_payload *mp = NULL;
    uint64_t t = 0;
    memset(&k, 0, sizeof(k));

    KMS_TRY_OUT(rc, kms_mikey_check_shape(m, &eo));
    KMS_TRY_OUT(rc, mac_field(m, &mp, &mac_off, &mac_len));
    size_t want_len;
    KMS_ENSURE_OUT(rc, kms_mikey_mac_len(p->mac_alg, &want_len) && want_len > 0, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, mac_alg_of(mp) == p->mac_alg && mac_len == want_len, KMS_ERR_ARG);
    for (size_t i = 0; i < m->body.n; i++) {
        if (m->body.pl[i].type == KMS_MIKEY_PT_KEMAC) {
            kem = &m->body.pl[i];
        }
    }
    enum kms_mikey_encr_alg encr = KMS_MIKEY_ENCR_NULL;
    if (kem != NULL) {
        encr = (enum kms_mikey_encr_alg)kem->u.kemac.encr_alg;
        KMS_ENSURE_OUT(rc, encr != KMS_MIKEY_ENCR_AES_KW_128, KMS_ERR_UNSUPPORTED);
        /* With a V payload the KEMAC carries no MAC of its own (RFC 6043 4.2.2). */
        KMS_ENSURE_OUT(rc, kem == mp || kem->u.kemac.mac_alg == KMS_MIKEY_MAC_NULL, KMS_ERR_ARG);
    }
    KMS_TRY_OUT(rc, derive(m, key, key_len, p, encr, &k));
    if (kem != NULL && encr != KMS_MIKEY_ENCR_NULL) {
        plain = kem->u.kemac.encr_data;
        KMS_TRY_OUT(rc, t64_of(m, &t));
        ct = malloc(plain.len > 0 ? plain.len : 1);
        KMS_ENSURE_OUT(rc, ct != NULL, KMS_ERR_NOMEM);
        KMS_TRY_OUT(
            rc, kms_mikey_aes_cm(encr, k.encr, k.salt, m->hdr.csb_id, t, plain.p, plain.len, ct));
        kem->u.kemac.encr_data = (struct kms_bytes){ct, plain.len};
    }
    KMS_TRY_OUT(rc, kms_mikey_encode(m, out));
    /* The message now lies at out[base..] and the payload offsets are known: the MAC field is
     * the placeholder at its end. */
    KMS_TRY_OUT(rc, mac_field(m, &mp, &mac_off, &mac_len));
    const uint8_t *msg = kms_buf_data(out) + base;
    KMS_TRY_OUT(rc, coverage(m, msg, mac_off, p, iov, &n_iov));
    size_t got;
    uint8_t mac[KMS_MIKEY_MAC_MAX];
    KMS_TRY_OUT(rc,
                kms_mikey_mac(p->mac_alg, k.auth, k.auth_len, iov, n_iov, mac, sizeof(mac), &got));
    KMS_ENSURE_OUT(rc, got == mac_len, KMS_ERR_INTERNAL);
    memcpy(out->d + base + mac_off, mac, got);
    rc = KMS_RESULT_OK;
out:
    if (ct != NULL) {
        kem->u.kemac.encr_data = plain;
        free(ct);
    }
    kms_mikey_msg_keys_cleanup(&k);
    return rc;
}

/* ---- open -------------------------------------------------------------------------------- */

static bool header_copied(const struct kms_mikey_hdr *resp, const struct kms_mikey_hdr *req)
{
    bool same =
        resp->version == req->version && resp->prf == req->prf && resp->csb_id == req->csb_id;
    if (resp->data_type != KMS_MIKEY_DT_TRANSFER_RESP) {
        same = same && resp->n_cs == req->n_cs && resp->map_type == req->map_type;
    }
    return same;
}

kms_result kms_mikey_open(const uint8_t *msg, size_t len, const struct kms_mikey_open_params *op,
                          struct kms_mikey_msg *m, struct kms_buf *keydata,
                          struct kms_mikey_keydata_list *kd, size_t *err_off)
{
    if (kd != NULL) {
        memset(kd, 0, sizeof(*kd));
    }
    *err_off = 0;
    /* 1. Bytes and shape. */
    KMS_TRY(kms_mikey_decode(msg, len, m, err_off));
    if (m->hdr.data_type != op->data_type) {
        *err_off = 1;
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    KMS_TRY(kms_mikey_check_shape(m, err_off));
    return kms_mikey_verify(msg, len, m, op, keydata, kd, err_off);
}

kms_result kms_mikey_verify(const uint8_t *msg, size_t len, const struct kms_mikey_msg *m,
                            const struct kms_mikey_open_params *op, struct kms_buf *keydata,
                            struct kms_mikey_keydata_list *kd, size_t *err_off)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_msg_keys k;
    struct kms_iov iov[MAX_COVER];
    const struct kms_mikey_payload *mp = NULL, *kem;
    const uint8_t *key = NULL;
    size_t key_len = 0, n_iov = 0, mac_off = 0, mac_len = 0;
    struct kms_mikey_keydata_list unused_kd;
    if (kd == NULL) {
        kd = &unused_kd;
    }
    memset(&k, 0, sizeof(k));
    memset(kd, 0, sizeof(*kd));
    *err_off = 0;
    /* The caller decoded m from these very bytes and checked its type and shape (kms_mikey_open
     * does); the offsets of its payloads index msg. */
    KMS_ENSURE_OUT(rc, m->hdr.data_type == op->data_type && len > 0, KMS_ERR_ARG);
    bool has_mac = kms_ok(mac_field(m, &mp, &mac_off, &mac_len));
    KMS_ENSURE_OUT(rc, !has_mac || mac_off + mac_len <= len, KMS_ERR_ARG);
    if (!has_mac) {
        /* Only an Error message may come without V: it authenticates nothing, and is
         * accepted only by a caller that asked for no key. */
        KMS_ENSURE_OUT(rc, op->get_key == NULL && m->hdr.data_type == KMS_MIKEY_DT_ERROR,
                       KMS_ERR_AUTH);
        rc = KMS_RESULT_OK;
        goto out;
    }
    KMS_ENSURE_OUT(rc, op->get_key != NULL, KMS_ERR_ARG);
    if (op->request_hdr != NULL) {
        KMS_ENSURE_OUT(rc, header_copied(&m->hdr, op->request_hdr), KMS_ERR_AUTH);
    }
    /*= RFC 3830, 5.3 (paraphrased)
     *# check the timestamp is within the clock skew and not in the replay cache, then get the
     *# key from the identities, verify the MAC, and only then store the message in the cache
     */
    if (op->replay != NULL && op->replay->check != NULL) {
        KMS_TRY_OUT(rc, op->replay->check(op->replay->ctx, m));
    }
    kms_result kr = op->get_key(op->key_ctx, m, &key, &key_len);
    KMS_ENSURE_OUT(rc, kms_ok(kr) && key != NULL, KMS_ERR_AUTH);
    KMS_ENSURE_OUT(rc, mac_alg_of(mp) == op->prot.mac_alg, KMS_ERR_AUTH);
    kem = kms_mikey_find(&m->body, KMS_MIKEY_PT_KEMAC, NULL);
    enum kms_mikey_encr_alg encr =
        kem != NULL ? (enum kms_mikey_encr_alg)kem->u.kemac.encr_alg : KMS_MIKEY_ENCR_NULL;
    KMS_ENSURE_OUT(rc, encr != KMS_MIKEY_ENCR_AES_KW_128, KMS_ERR_UNSUPPORTED);
    KMS_ENSURE_OUT(rc, kem == NULL || kem == mp || kem->u.kemac.mac_alg == KMS_MIKEY_MAC_NULL,
                   KMS_ERR_AUTH);
    KMS_TRY_OUT(rc, derive(m, key, key_len, &op->prot, encr, &k));
    KMS_TRY_OUT(rc, coverage(m, msg, mac_off, &op->prot, iov, &n_iov));
    kms_result vr = kms_mikey_mac_verify(op->prot.mac_alg, k.auth, k.auth_len, iov, n_iov,
                                         msg + mac_off, mac_len);
    KMS_ENSURE_OUT(rc, kms_ok(vr), KMS_ERR_AUTH);
    if (op->replay != NULL && op->replay->commit != NULL) {
        KMS_TRY_OUT(rc, op->replay->commit(op->replay->ctx, m));
    }
    /* 2. Authenticated: the key data. */
    if (kem != NULL) {
        struct kms_bytes ed = kem->u.kemac.encr_data;
        uint8_t *plain;
        size_t eo;
        KMS_ENSURE_OUT(rc, keydata != NULL, KMS_ERR_ARG);
        KMS_TRY_OUT(rc, kms_buf_put_space(keydata, ed.len, &plain));
        if (encr == KMS_MIKEY_ENCR_NULL) {
            memcpy(plain, ed.p, ed.len);
        } else {
            uint64_t t;
            KMS_TRY_OUT(rc, t64_of(m, &t));
            KMS_TRY_OUT(
                rc, kms_mikey_aes_cm(encr, k.encr, k.salt, m->hdr.csb_id, t, ed.p, ed.len, plain));
        }
        kms_result dr = kms_mikey_keydata_decode(plain, ed.len, kd, &eo);
        if (!kms_ok(dr)) {
            *err_off = (size_t)(ed.p - msg); /* the key data field */
            KMS_BAIL_OUT(rc, dr.err);
        }
    }
    rc = KMS_RESULT_OK;
out:
    kms_mikey_msg_keys_cleanup(&k);
    if (!kms_ok(rc)) {
        memset(kd, 0, sizeof(*kd));
        if (keydata != NULL) {
            kms_buf_reset(keydata);
        }
    }
    return rc;
}

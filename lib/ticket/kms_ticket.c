/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed ticket format v1: see kms_ticket.h and docs/protocol.md. */
#include "ticket/kms_ticket.h"

#include <string.h>

#include "keyring/kms_keyring.h"
#include "util/kms_cur.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

_Static_assert(KMS_TICKET_IDENT_MAX == KMS_IDENT_NAME_MAX, "a ticket identity is an IMPI or IMPU");

kms_result kms_ticket_ident_set(struct kms_ticket_ident *id, const char *s)
{
    KMS_ENSURE_REF(id);
    KMS_ENSURE_REF(s);
    size_t n = strnlen(s, KMS_TICKET_IDENT_MAX + 1);
    /* The ticket field's bounds (KMS_ERR_BAD_LENGTH); its octets follow kms_ident. */
    KMS_ENSURE(n >= 1 && n <= KMS_TICKET_IDENT_MAX, KMS_ERR_BAD_LENGTH);
    KMS_TRY(kms_ident_check_impu(s, n));
    memcpy(id->s, s, n + 1);
    id->len = n;
    return KMS_RESULT_OK;
}

void kms_ticket_claims_wipe(struct kms_ticket_claims *c)
{
    if (c != NULL) {
        kms_wipe(c, sizeof(*c));
    }
}

/* An identity as kms_ticket_ident_set or the decoder writes it: len octets and a NUL. */
static void ident_wipe_used(struct kms_ticket_ident *id)
{
    size_t n = id->len < KMS_TICKET_IDENT_MAX ? id->len : KMS_TICKET_IDENT_MAX;
    kms_wipe(id->s, n + 1);
    id->len = 0;
}

bool kms_ticket_claims_name(const struct kms_ticket_claims *c, const char *id)
{
    if (c == NULL || id == NULL) {
        return false;
    }
    if (strcmp(c->impi.s, id) == 0) {
        return true;
    }
    for (size_t i = 0; i < c->n_impu && i < KMS_TICKET_MAX_IDENTS; i++) {
        if (strcmp(c->impu[i].s, id) == 0) {
            return true;
        }
    }
    return false;
}

void kms_ticket_claims_wipe_used(struct kms_ticket_claims *c)
{
    if (c == NULL) {
        return;
    }
    /* Each identity by its own length, not by the counts: a fill that failed half-way may have
     * set identities before their count. */
    ident_wipe_used(&c->impi);
    ident_wipe_used(&c->initiator);
    for (size_t i = 0; i < KMS_TICKET_MAX_IDENTS; i++) {
        ident_wipe_used(&c->impu[i]);
        ident_wipe_used(&c->responder[i]);
    }
    kms_wipe(c->naf_id, c->naf_id_len < sizeof(c->naf_id) ? c->naf_id_len : sizeof(c->naf_id));
    c->kind = 0;
    c->key_id = 0;
    c->issued = 0;
    c->expires = 0;
    kms_wipe(c->token_id, sizeof(c->token_id));
    kms_wipe(c->kue, sizeof(c->kue));
    c->kue_len = 0;
    c->n_impu = 0;
    c->mode = 0;
    c->naf_id_len = 0;
    c->ks_naf_expires = 0;
    kms_wipe(c->tgk, sizeof(c->tgk));
    c->tgk_len = 0;
    kms_wipe(c->mpk, sizeof(c->mpk));
    c->mpk_len = 0;
    c->n_responder = 0;
}

kms_result kms_ticket_header_parse(const uint8_t *t, size_t n, struct kms_ticket_header *h)
{
    KMS_ENSURE_REF(h);
    h->version = 0;
    h->kind = 0;
    h->key_id = 0;
    h->ct_len = 0;
    KMS_ENSURE(t != NULL || n == 0, KMS_ERR_ARG);
    KMS_ENSURE(n >= KMS_TICKET_OVERHEAD, KMS_ERR_TRUNCATED);
    KMS_ENSURE(n <= KMS_TICKET_MAX, KMS_ERR_TOO_LONG);
    /* The length is checked above, so these reads cannot fail; the cursor still bounds them. */
    struct kms_cur c;
    kms_cur_init(&c, t, n);
    KMS_TRY(kms_cur_get_u8(&c, &h->version));
    KMS_TRY(kms_cur_get_u8(&c, &h->kind));
    KMS_TRY(kms_cur_get_u32(&c, &h->key_id));
    KMS_TRY(kms_cur_get_bytes(&c, h->nonce, sizeof(h->nonce)));
    KMS_ENSURE(h->version == KMS_TICKET_VERSION, KMS_ERR_TICKET_VERSION);
    KMS_ENSURE(h->kind == KMS_TICKET_KUE || h->kind == KMS_TICKET_MEDIA, KMS_ERR_TICKET_VERSION);
    h->ct_len = kms_cur_remaining(&c) - KMS_GCM_TAG_LEN;
    return KMS_RESULT_OK;
}

/* ---- payload encoding ---- */

static kms_result put_field(struct kms_buf *b, uint8_t type, const void *p, size_t n)
{
    KMS_ENSURE(n <= UINT16_MAX, KMS_ERR_TOO_LONG);
    KMS_TRY(kms_buf_put_u8(b, type));
    KMS_TRY(kms_buf_put_u16(b, (uint16_t)n));
    return kms_buf_put_bytes(b, p, n);
}

static kms_result put_u64(struct kms_buf *b, uint8_t type, uint64_t v)
{
    KMS_TRY(kms_buf_put_u8(b, type));
    KMS_TRY(kms_buf_put_u16(b, 8));
    return kms_buf_put_u64(b, v);
}

static kms_result put_ident(struct kms_buf *b, uint8_t type, const struct kms_ticket_ident *id)
{
    KMS_ENSURE(id->len >= 1 && id->len <= KMS_TICKET_IDENT_MAX, KMS_ERR_ARG);
    return put_field(b, type, id->s, id->len);
}

static bool key_len_ok(size_t n)
{
    return n >= KMS_TICKET_KEY_MIN && n <= KMS_TICKET_KEY_MAX;
}

static kms_result check_claims(const struct kms_ticket_claims *c)
{
    KMS_ENSURE(c->issued < c->expires, KMS_ERR_ARG);
    if (c->kind == KMS_TICKET_KUE) {
        KMS_ENSURE(key_len_ok(c->kue_len), KMS_ERR_ARG);
        KMS_ENSURE(c->impi.len >= 1, KMS_ERR_ARG);
        KMS_ENSURE(c->n_impu <= KMS_TICKET_MAX_IDENTS, KMS_ERR_ARG);
        KMS_ENSURE(c->mode == 2 || c->mode == 3, KMS_ERR_ARG);
        KMS_ENSURE(c->naf_id_len >= 1 && c->naf_id_len <= KMS_TICKET_NAF_ID_MAX, KMS_ERR_ARG);
        KMS_ENSURE(c->expires <= c->ks_naf_expires, KMS_ERR_ARG);
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(c->kind == KMS_TICKET_MEDIA, KMS_ERR_ARG);
    KMS_ENSURE(key_len_ok(c->tgk_len), KMS_ERR_ARG);
    KMS_ENSURE(c->mpk_len == 0 || key_len_ok(c->mpk_len), KMS_ERR_ARG);
    KMS_ENSURE(c->initiator.len >= 1, KMS_ERR_ARG);
    KMS_ENSURE(c->n_responder >= 1 && c->n_responder <= KMS_TICKET_MAX_IDENTS, KMS_ERR_ARG);
    return KMS_RESULT_OK;
}

kms_result kms_ticket_payload_encode(const struct kms_ticket_claims *c, struct kms_buf *out)
{
    KMS_ENSURE_REF(c);
    KMS_ENSURE_REF(out);
    KMS_TRY(check_claims(c));
    if (c->kind == KMS_TICKET_KUE) {
        KMS_TRY(put_field(out, KMS_TF_KUE, c->kue, c->kue_len));
        KMS_TRY(put_ident(out, KMS_TF_IMPI, &c->impi));
        for (size_t i = 0; i < c->n_impu; i++) {
            KMS_TRY(put_ident(out, KMS_TF_IMPU, &c->impu[i]));
        }
    }
    KMS_TRY(put_u64(out, KMS_TF_ISSUED, c->issued));
    KMS_TRY(put_u64(out, KMS_TF_EXPIRES, c->expires));
    KMS_TRY(put_field(out, KMS_TF_TOKEN_ID, c->token_id, sizeof(c->token_id)));
    if (c->kind == KMS_TICKET_KUE) {
        KMS_TRY(put_field(out, KMS_TF_MODE, &c->mode, 1));
        KMS_TRY(put_field(out, KMS_TF_NAF_ID, c->naf_id, c->naf_id_len));
        KMS_TRY(put_u64(out, KMS_TF_KS_NAF_EXPIRES, c->ks_naf_expires));
        return KMS_RESULT_OK;
    }
    KMS_TRY(put_field(out, KMS_TF_TGK, c->tgk, c->tgk_len));
    if (c->mpk_len > 0) {
        KMS_TRY(put_field(out, KMS_TF_MPK, c->mpk, c->mpk_len));
    }
    KMS_TRY(put_ident(out, KMS_TF_INITIATOR, &c->initiator));
    for (size_t i = 0; i < c->n_responder; i++) {
        KMS_TRY(put_ident(out, KMS_TF_RESPONDER, &c->responder[i]));
    }
    return KMS_RESULT_OK;
}

/* ---- payload decoding ---- */

/* Which fields a kind takes: bit t set = field type t is allowed; required ones separately. */
#define BIT(t) (UINT32_C(1) << (t))
static const uint32_t kue_allowed = BIT(KMS_TF_KUE) | BIT(KMS_TF_IMPI) | BIT(KMS_TF_IMPU) |
                                    BIT(KMS_TF_ISSUED) | BIT(KMS_TF_EXPIRES) |
                                    BIT(KMS_TF_TOKEN_ID) | BIT(KMS_TF_MODE) | BIT(KMS_TF_NAF_ID) |
                                    BIT(KMS_TF_KS_NAF_EXPIRES);
static const uint32_t kue_required = kue_allowed & ~BIT(KMS_TF_IMPU);
static const uint32_t media_allowed = BIT(KMS_TF_ISSUED) | BIT(KMS_TF_EXPIRES) |
                                      BIT(KMS_TF_TOKEN_ID) | BIT(KMS_TF_TGK) | BIT(KMS_TF_MPK) |
                                      BIT(KMS_TF_INITIATOR) | BIT(KMS_TF_RESPONDER);
static const uint32_t media_required = media_allowed & ~BIT(KMS_TF_MPK);

static inline kms_result get_u64_field(struct kms_cur *v, uint64_t *out)
{
    KMS_ENSURE(kms_cur_remaining(v) == 8, KMS_ERR_TICKET_FIELD);
    return kms_cur_get_u64(v, out);
}

static inline kms_result get_key_field(struct kms_cur *v, uint8_t *dst, size_t *len)
{
    size_t n = kms_cur_remaining(v);
    KMS_ENSURE(key_len_ok(n), KMS_ERR_TICKET_FIELD);
    KMS_TRY(kms_cur_get_bytes(v, dst, n));
    *len = n;
    return KMS_RESULT_OK;
}

static inline kms_result get_ident_field(struct kms_cur *v, struct kms_ticket_ident *id)
{
    size_t n = kms_cur_remaining(v);
    KMS_ENSURE(n >= 1 && n <= KMS_TICKET_IDENT_MAX, KMS_ERR_TICKET_FIELD);
    KMS_ENSURE(kms_ident_chars_ok(kms_cur_peek_ptr(v), n), KMS_ERR_TICKET_FIELD);
    KMS_TRY(kms_cur_get_bytes(v, (uint8_t *)id->s, n));
    id->s[n] = '\0';
    id->len = n;
    return KMS_RESULT_OK;
}

static inline kms_result decode_field(uint8_t type, struct kms_cur *v, struct kms_ticket_claims *c)
{
    switch (type) {
    case KMS_TF_KUE:
        return get_key_field(v, c->kue, &c->kue_len);
    case KMS_TF_IMPI:
        return get_ident_field(v, &c->impi);
    case KMS_TF_IMPU:
        KMS_ENSURE(c->n_impu < KMS_TICKET_MAX_IDENTS, KMS_ERR_TICKET_FIELD);
        return get_ident_field(v, &c->impu[c->n_impu++]);
    case KMS_TF_ISSUED:
        return get_u64_field(v, &c->issued);
    case KMS_TF_EXPIRES:
        return get_u64_field(v, &c->expires);
    case KMS_TF_TOKEN_ID:
        KMS_ENSURE(kms_cur_remaining(v) == KMS_TICKET_ID_LEN, KMS_ERR_TICKET_FIELD);
        return kms_cur_get_bytes(v, c->token_id, KMS_TICKET_ID_LEN);
    case KMS_TF_MODE:
        KMS_ENSURE(kms_cur_remaining(v) == 1, KMS_ERR_TICKET_FIELD);
        KMS_TRY(kms_cur_get_u8(v, &c->mode));
        KMS_ENSURE(c->mode == 2 || c->mode == 3, KMS_ERR_TICKET_FIELD);
        return KMS_RESULT_OK;
    case KMS_TF_NAF_ID: {
        size_t n = kms_cur_remaining(v);
        KMS_ENSURE(n >= 1 && n <= KMS_TICKET_NAF_ID_MAX, KMS_ERR_TICKET_FIELD);
        c->naf_id_len = n;
        return kms_cur_get_bytes(v, c->naf_id, n);
    }
    case KMS_TF_KS_NAF_EXPIRES:
        return get_u64_field(v, &c->ks_naf_expires);
    case KMS_TF_TGK:
        return get_key_field(v, c->tgk, &c->tgk_len);
    case KMS_TF_MPK:
        return get_key_field(v, c->mpk, &c->mpk_len);
    case KMS_TF_INITIATOR:
        return get_ident_field(v, &c->initiator);
    case KMS_TF_RESPONDER:
        KMS_ENSURE(c->n_responder < KMS_TICKET_MAX_IDENTS, KMS_ERR_TICKET_FIELD);
        return get_ident_field(v, &c->responder[c->n_responder++]);
    default:
        KMS_BAIL(KMS_ERR_TICKET_FIELD);
    }
}

static kms_result decode_fields(struct kms_cur *cur, enum kms_ticket_kind kind,
                                struct kms_ticket_claims *c)
{
    const uint32_t allowed = kind == KMS_TICKET_KUE ? kue_allowed : media_allowed;
    const uint32_t required = kind == KMS_TICKET_KUE ? kue_required : media_required;
    uint32_t seen = 0;
    unsigned last = 0;
    c->kind = kind;
    while (kms_cur_remaining(cur) > 0) {
        uint8_t type = 0;
        struct kms_cur v;
        KMS_ENSURE(kms_ok(kms_cur_get_tlv8_16(cur, &type, &v)), KMS_ERR_TICKET_FIELD);
        unsigned base = type & 0x7fu;
        /* Ascending order; equal types only for the repeatable identity lists. */
        KMS_ENSURE(type >= last, KMS_ERR_TICKET_FIELD);
        bool repeat = type == last;
        last = type;
        if ((type & KMS_TF_NONCRITICAL) != 0 || base >= 32 || (allowed & BIT(base)) == 0) {
            /* Every field we know is critical: anything else is skipped only when marked. */
            KMS_ENSURE((type & KMS_TF_NONCRITICAL) != 0, KMS_ERR_TICKET_FIELD);
            continue;
        }
        KMS_ENSURE(!repeat || type == KMS_TF_IMPU || type == KMS_TF_RESPONDER,
                   KMS_ERR_TICKET_FIELD);
        KMS_ENSURE(kms_ok(decode_field(type, &v, c)), KMS_ERR_TICKET_FIELD);
        KMS_ENSURE(kms_cur_remaining(&v) == 0, KMS_ERR_TICKET_FIELD);
        seen |= BIT(base);
    }
    KMS_ENSURE((seen & required) == required, KMS_ERR_TICKET_FIELD);
    KMS_ENSURE(c->issued < c->expires, KMS_ERR_TICKET_FIELD);
    if (kind == KMS_TICKET_KUE) {
        KMS_ENSURE(c->expires <= c->ks_naf_expires, KMS_ERR_TICKET_FIELD);
    }
    return KMS_RESULT_OK;
}

/* Empties c without touching its ~4.6 KB of identity storage: every field is read through a
 * length or count, so zeroing those is enough for a fresh decode (a failure wipes it all). */
static void claims_reset(struct kms_ticket_claims *c)
{
    c->kind = 0;
    c->key_id = 0;
    c->issued = 0;
    c->expires = 0;
    memset(c->token_id, 0, sizeof(c->token_id));
    c->kue_len = 0;
    c->impi.len = 0;
    c->impi.s[0] = '\0';
    c->n_impu = 0;
    c->mode = 0;
    c->naf_id_len = 0;
    c->ks_naf_expires = 0;
    c->tgk_len = 0;
    c->mpk_len = 0;
    c->initiator.len = 0;
    c->initiator.s[0] = '\0';
    c->n_responder = 0;
}

kms_result kms_ticket_payload_decode(const uint8_t *p, size_t n, enum kms_ticket_kind kind,
                                     struct kms_ticket_claims *c)
{
    KMS_ENSURE_REF(c);
    claims_reset(c);
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    KMS_ENSURE(kind == KMS_TICKET_KUE || kind == KMS_TICKET_MEDIA, KMS_ERR_ARG);
    struct kms_cur cur;
    kms_cur_init(&cur, p, n);
    kms_result r = decode_fields(&cur, kind, c);
    if (!kms_ok(r)) {
        kms_ticket_claims_wipe(c);
    }
    return r;
}

/* ---- seal and open ---- */

static void write_aad(uint8_t aad[KMS_TICKET_AAD_LEN], uint8_t kind, uint32_t key_id)
{
    aad[0] = KMS_TICKET_VERSION;
    aad[1] = kind;
    aad[2] = (uint8_t)(key_id >> 24);
    aad[3] = (uint8_t)(key_id >> 16);
    aad[4] = (uint8_t)(key_id >> 8);
    aad[5] = (uint8_t)key_id;
}

kms_result kms_ticket_seal(struct kms_keyring *kr, uint64_t now, struct kms_ticket_claims *c,
                           struct kms_buf *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_kkms *key = NULL;
    uint8_t ptbuf[KMS_TICKET_MAX];
    struct kms_buf pt;
    kms_buf_init_fixed(&pt, ptbuf, sizeof(ptbuf), true);
    size_t start = out != NULL ? kms_buf_len(out) : 0;

    KMS_ENSURE_OUT(rc, kr != NULL && c != NULL && out != NULL, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, c->expires > now, KMS_ERR_ARG);
    uint32_t key_id = 0;
    uint64_t grace_until = 0;
    KMS_TRY_OUT(rc, kms_keyring_acquire_seal(kr, now, &key, &key_id, &grace_until));
    c->issued = now;
    c->key_id = key_id;
    if (c->expires > grace_until) {
        c->expires = grace_until;
    }
    KMS_TRY_OUT(rc, kms_ticket_payload_encode(c, &pt));
    KMS_ENSURE_OUT(rc, kms_buf_len(&pt) + KMS_TICKET_OVERHEAD <= KMS_TICKET_MAX, KMS_ERR_TOO_LONG);

    uint8_t *hdr = NULL;
    KMS_TRY_OUT(rc, kms_buf_put_space(out, KMS_TICKET_HEADER_LEN, &hdr));
    write_aad(hdr, (uint8_t)c->kind, key_id);
    KMS_TRY_OUT(rc, kms_keyring_nonce(kr, hdr + KMS_TICKET_AAD_LEN));
    uint8_t nonce[KMS_GCM_NONCE_LEN];
    uint8_t aad[KMS_TICKET_AAD_LEN];
    memcpy(aad, hdr, sizeof(aad));
    memcpy(nonce, hdr + KMS_TICKET_AAD_LEN, sizeof(nonce));
    uint8_t *ct = NULL;
    KMS_TRY_OUT(rc, kms_buf_put_space(out, kms_buf_len(&pt) + KMS_GCM_TAG_LEN, &ct));
    KMS_TRY_OUT(rc, kms_kkms_seal(key, nonce, aad, sizeof(aad), kms_buf_data(&pt), kms_buf_len(&pt),
                                  ct, ct + kms_buf_len(&pt)));
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&pt);
    kms_keyring_release(key);
    if (!kms_ok(rc) && out != NULL) {
        kms_buf_truncate(out, start); /* nothing half-written stays behind */
    }
    return rc;
}

kms_result kms_ticket_open(struct kms_keyring *kr, uint64_t now, const uint8_t *t, size_t n,
                           enum kms_ticket_kind kind, struct kms_ticket_claims *c)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_kkms *key = NULL;
    uint8_t pt[KMS_TICKET_MAX];
    size_t pt_len = 0;

    KMS_ENSURE_OUT(rc, kr != NULL && c != NULL, KMS_ERR_ARG);
    claims_reset(c);
    struct kms_ticket_header h;
    KMS_TRY_OUT(rc, kms_ticket_header_parse(t, n, &h));
    KMS_ENSURE_OUT(rc, h.kind == (uint8_t)kind, KMS_ERR_TICKET_VERSION);
    KMS_TRY_OUT(rc, kms_keyring_acquire_open(kr, now, h.key_id, &key));
    pt_len = h.ct_len;
    KMS_TRY_OUT(rc, kms_kkms_open(key, h.nonce, t, KMS_TICKET_AAD_LEN, t + KMS_TICKET_HEADER_LEN,
                                  h.ct_len, t + KMS_TICKET_HEADER_LEN + h.ct_len, pt));
    KMS_TRY_OUT(rc, kms_ticket_payload_decode(pt, pt_len, kind, c));
    c->key_id = h.key_id;
    KMS_ENSURE_OUT(rc, now < c->expires, KMS_ERR_TICKET_EXPIRED);
    KMS_ENSURE_OUT(rc, c->issued <= now || c->issued - now <= KMS_TICKET_ISSUE_SKEW,
                   KMS_ERR_TICKET_EARLY);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, pt_len);
    kms_keyring_release(key);
    if (!kms_ok(rc)) {
        kms_ticket_claims_wipe(c);
    }
    return rc;
}

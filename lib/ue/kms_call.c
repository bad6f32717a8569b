/* SPDX-License-Identifier: Apache-2.0 */
/* kms_call: offer, answer and accept (see kms_call.h). */
#include "ue/kms_call.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/kms_ossl.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_ticket_msg.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

#define OFFER_FILE     "offer"
#define REPLAY_FILE    "transfers"
#define OFFER_MAX      KMS_CALL_OFFER_MAX
#define INIT_MAX       KMS_CALL_INIT_MAX
#define HASH_LEN       KMS_CALL_HASH_LEN
#define ENTRY_LEN      KMS_CALL_ENTRY_LEN
#define REPLAY_IMG_MAX KMS_CALL_TRANSFERS_MAX

/* The session directory, created 0700 when absent (only once everything else succeeded: bad
 * input writes nothing). */
static kms_result session_mkdir(const char *dir)
{
    KMS_ENSURE(dir != NULL, KMS_ERR_ARG);
    if (mkdir(dir, 0700) == 0) {
        return KMS_RESULT_OK;
    }
    struct stat st;
    KMS_ENSURE(errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode), KMS_ERR_IO);
    return KMS_RESULT_OK;
}

/* Writes DIR/srtp under DIR/srtp.lock, the lock rtp-send and rtp-recv take to move their
 * positions: their read-modify-write then sees either the old call's file or this one, and
 * leaves a new call's alone. */
static kms_result session_write(const char *dir, const struct kms_media_session *s)
{
    char path[4096];
    int lock = -1;
    KMS_TRY(kms_file_path(path, sizeof(path), dir, "srtp"));
    KMS_TRY(kms_file_lock(path, &lock));
    kms_result rc = kms_media_session_save(dir, s);
    kms_file_unlock(&lock);
    return rc;
}

/* A random SSRC: never 0, never avoid (the peer's). */
static kms_result draw_ssrc(uint32_t avoid, bool have_avoid, uint32_t *ssrc)
{
    for (int i = 0; i < 16; i++) {
        uint8_t b[4];
        KMS_TRY(kms_random(b, sizeof(b)));
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (v != 0 && (!have_avoid || v != avoid)) {
            *ssrc = v;
            return KMS_RESULT_OK;
        }
    }
    KMS_BAIL(KMS_ERR_RANDOM);
}

static kms_result draw_seq(uint16_t *seq)
{
    uint8_t b[2];
    KMS_TRY(kms_random(b, sizeof(b)));
    *seq = (uint16_t)(b[0] << 8 | b[1]);
    return KMS_RESULT_OK;
}

/* The session of one side: the policy, the addresses and the two streams, keyed from the TGK
 * with the transfer's RANDRi and the answer's RANDRr; we send with local_cs. */
static kms_result session_of(const uint8_t *tgk, size_t tgk_len, const struct kms_srtp_policy *p,
                             const uint8_t randri[16], const uint8_t randrr[16],
                             const struct kms_tmsg_media *md, uint8_t local_cs,
                             const char *local_addr, const char *remote_addr,
                             struct kms_media_session *s)
{
    memset(s, 0, sizeof(*s));
    s->policy = p;
    KMS_TRY(kms_str_copy(s->local_addr, sizeof(s->local_addr), local_addr));
    KMS_TRY(kms_str_copy(s->remote_addr, sizeof(s->remote_addr), remote_addr));
    for (size_t i = 0; i < 2; i++) {
        const struct kms_tmsg_cs *c = &md->cs[i];
        struct kms_media_stream *st = c->cs_id == local_cs ? &s->local : &s->remote;
        KMS_TRY(kms_media_derive(tgk, tgk_len, p, c->cs_id, randri, 16, randrr, 16, st));
        st->ssrc = c->ssrc;
        st->roc = c->roc;
        st->seq = c->seq;
    }
    return kms_media_session_check(s);
}

/* ---- offer ------------------------------------------------------------------------------- */

static kms_result put_kv(struct kms_buf *b, const char *name, const char *val)
{
    KMS_TRY(kms_buf_put_bytes(b, (const uint8_t *)name, strlen(name)));
    KMS_TRY(kms_buf_put_u8(b, '='));
    KMS_TRY(kms_buf_put_bytes(b, (const uint8_t *)val, strlen(val)));
    return kms_buf_put_u8(b, '\n');
}

static kms_result put_kv_hex(struct kms_buf *b, const char *name, const uint8_t *p, size_t n)
{
    KMS_TRY(kms_buf_put_bytes(b, (const uint8_t *)name, strlen(name)));
    KMS_TRY(kms_buf_put_u8(b, '='));
    for (size_t i = 0; i < n; i++) {
        char h[3];
        KMS_TRY(kms_hex_encode(p + i, 1, h, sizeof(h)));
        KMS_TRY(kms_buf_put_bytes(b, (const uint8_t *)h, 2));
    }
    return kms_buf_put_u8(b, '\n');
}

/* The checks of kms_call_offer_encode: what the decoder would refuse is never written. */
static bool offer_ok(const struct kms_call_offer *o)
{
    size_t al = strnlen(o->local_addr, sizeof(o->local_addr));
    if (o->policy == NULL || al == sizeof(o->local_addr) ||
        (o->tgk_len != 16 && o->tgk_len != 32) || o->init_len > sizeof(o->init)) {
        return false;
    }
    for (size_t i = 0; i < al; i++) {
        if (o->local_addr[i] < 0x20 || o->local_addr[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

kms_result kms_call_offer_encode(const struct kms_call_offer *o, struct kms_buf *out)
{
    KMS_ENSURE(o != NULL && out != NULL && offer_ok(o), KMS_ERR_ARG);
    KMS_TRY(put_kv(out, "version", "1"));
    KMS_TRY(put_kv(out, "policy", o->policy->name));
    KMS_TRY(put_kv(out, "local_addr", o->local_addr));
    KMS_TRY(put_kv_hex(out, "tgk", o->tgk, o->tgk_len));
    KMS_TRY(put_kv_hex(out, "mpk", o->mpk, sizeof(o->mpk)));
    return put_kv_hex(out, "transfer_init", o->init, o->init_len);
}

kms_result kms_call_offer_decode(const uint8_t *p, size_t n, struct kms_call_offer *o)
{
    KMS_ENSURE(o != NULL, KMS_ERR_ARG);
    kms_wipe(o, sizeof(*o));
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    const size_t cap = 2 * INIT_MAX + 2;
    char *val = malloc(cap);
    KMS_ENSURE_OUT(rc, val != NULL, KMS_ERR_NOMEM);
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "version", val, cap));
    KMS_ENSURE_OUT(rc, strcmp(val, "1") == 0, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "policy", val, cap));
    o->policy = kms_srtp_policy_by_name(val);
    KMS_ENSURE_OUT(rc, o->policy != NULL, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "local_addr", o->local_addr, sizeof(o->local_addr)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "tgk", val, cap));
    o->tgk_len = strlen(val) / 2;
    KMS_ENSURE_OUT(rc, strlen(val) == 32 || strlen(val) == 64, KMS_ERR_BAD_LENGTH);
    KMS_TRY_OUT(rc, kms_hex_decode_exact(val, o->tgk, o->tgk_len));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "mpk", val, cap));
    KMS_TRY_OUT(rc, kms_hex_decode_exact(val, o->mpk, sizeof(o->mpk)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "transfer_init", val, cap));
    KMS_TRY_OUT(rc, kms_hex_decode(val, strlen(val), o->init, sizeof(o->init), &o->init_len));
    KMS_TRY_OUT(rc, kms_cur_expect_end(&c));
    rc = KMS_RESULT_OK;
out:
    if (val != NULL) {
        kms_wipe(val, cap);
    }
    free(val);
    if (!kms_ok(rc)) {
        kms_wipe(o, sizeof(*o));
    }
    return rc;
}

kms_result kms_call_offer(const struct kms_ue_kms_cfg *cfg, const char *peer,
                          const struct kms_srtp_policy *p, const char *local_addr,
                          const char *session_dir, struct kms_buf *init,
                          uint8_t tgk_fp[KMS_UE_TGK_FP_LEN], enum kms_call_part *part)
{
    KMS_ENSURE(cfg != NULL && peer != NULL && p != NULL && local_addr != NULL &&
                   session_dir != NULL && init != NULL && tgk_fp != NULL && part != NULL,
               KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    *part = KMS_CALL_PART_NONE;
    struct kms_tgrant *g = calloc(1, sizeof(*g));
    struct kms_tmsg_media *md = calloc(1, sizeof(*md));
    struct kms_call_offer *o = calloc(1, sizeof(*o));
    char idri[KMS_TMSG_ID_MAX + 1];
    char path[4096];
    size_t start = kms_buf_len(init);
    struct kms_buf f;
    kms_buf_init(&f, OFFER_MAX, true);
    KMS_ENSURE_OUT(rc, g != NULL && md != NULL && o != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_ue_ticket(cfg, peer, g, idri));
    *part = KMS_CALL_PART_SESSION;
    KMS_TRY_OUT(rc, kms_srtp_policy_sp_encode(p, md->sp, sizeof(md->sp), &md->sp_len));
    md->n_cs = 1;
    md->cs[0].cs_id = 1;
    KMS_TRY_OUT(rc, draw_ssrc(0, false, &md->cs[0].ssrc));
    KMS_TRY_OUT(rc, draw_seq(&md->cs[0].seq));
    const struct kms_transfer_spec spec = {.idri = idri,
                                           .idrr = peer,
                                           .mpk = g->mpk,
                                           .ticket = g->ticket,
                                           .ticket_len = g->ticket_len,
                                           .ticket_flags = g->ticket_flags,
                                           .media = md};
    KMS_TRY_OUT(rc, kms_transfer_build_spec(&spec, init));
    o->policy = p;
    KMS_TRY_OUT(rc, kms_str_copy(o->local_addr, sizeof(o->local_addr), local_addr));
    KMS_ENSURE_OUT(rc, g->tgk_len <= sizeof(o->tgk), KMS_ERR_INTERNAL);
    memcpy(o->tgk, g->tgk, g->tgk_len);
    o->tgk_len = g->tgk_len;
    memcpy(o->mpk, g->mpk, sizeof(o->mpk));
    o->init_len = kms_buf_len(init) - start;
    KMS_ENSURE_OUT(rc, o->init_len <= sizeof(o->init), KMS_ERR_TOO_LONG);
    memcpy(o->init, kms_buf_data(init) + start, o->init_len);
    KMS_TRY_OUT(rc, kms_call_offer_encode(o, &f));
    KMS_TRY_OUT(rc, session_mkdir(session_dir));
    KMS_TRY_OUT(rc, kms_file_path(path, sizeof(path), session_dir, OFFER_FILE));
    KMS_TRY_OUT(rc, kms_file_write_atomic(path, kms_buf_data(&f), kms_buf_len(&f)));
    KMS_TRY_OUT(rc, kms_ue_tgk_fingerprint(g, tgk_fp));
    *part = KMS_CALL_PART_NONE;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_buf_truncate(init, start);
    }
    kms_buf_cleanup(&f);
    if (g != NULL) {
        kms_wipe(g, sizeof(*g));
    }
    if (o != NULL) {
        kms_wipe(o, sizeof(*o));
    }
    free(g);
    free(md);
    free(o);
    return rc;
}

/* ---- the replay record ------------------------------------------------------------------- */

static kms_result ticket_hash(const uint8_t *ticket, size_t len, uint8_t out[HASH_LEN])
{
    uint8_t h[32];
    KMS_ENSURE(EVP_Digest(ticket, len, h, NULL, EVP_sha256(), NULL) == 1, KMS_ERR_CRYPTO);
    memcpy(out, h, HASH_LEN);
    return KMS_RESULT_OK;
}

/* A decimal up to the next ':' of *v, which moves past it. */
static kms_result dec_field(const char **v, uint64_t *out)
{
    const char *c1 = strchr(*v, ':');
    KMS_ENSURE(c1 != NULL && (size_t)(c1 - *v) <= 20, KMS_ERR_MALFORMED);
    char num[21];
    memcpy(num, *v, (size_t)(c1 - *v));
    num[c1 - *v] = '\0';
    KMS_TRY(kms_dec_decode_u64(num, UINT64_MAX, out));
    *v = c1 + 1;
    return KMS_RESULT_OK;
}

/* One "entry=" value: <T decimal>:<expiry decimal>:<32 hex>:<32 hex>. */
static kms_result entry_decode(const char *v, struct kms_call_transfer_entry *e)
{
    KMS_TRY(dec_field(&v, &e->t));
    KMS_TRY(dec_field(&v, &e->expires));
    const char *h = v;
    KMS_ENSURE(strlen(h) == 2 * HASH_LEN + 1 + 2 * KMS_TMSG_RAND_LEN && h[2 * HASH_LEN] == ':',
               KMS_ERR_MALFORMED);
    char hx[2 * HASH_LEN + 1];
    memcpy(hx, h, 2 * HASH_LEN);
    hx[2 * HASH_LEN] = '\0';
    KMS_TRY(kms_hex_decode_exact(hx, e->hash, HASH_LEN));
    KMS_TRY(kms_hex_decode_exact(h + 2 * HASH_LEN + 1, e->randri, KMS_TMSG_RAND_LEN));
    return KMS_RESULT_OK;
}

kms_result kms_call_transfers_decode(const uint8_t *p, size_t n, struct kms_call_transfers *r)
{
    KMS_ENSURE(r != NULL, KMS_ERR_ARG);
    memset(r, 0, sizeof(*r));
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    char val[ENTRY_LEN + 2];
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "version", val, sizeof(val)));
    KMS_ENSURE_OUT(rc, strcmp(val, "2") == 0, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "horizon", val, sizeof(val)));
    KMS_TRY_OUT(rc, kms_dec_decode_u64(val, UINT64_MAX, &r->horizon));
    while (kms_cur_remaining(&c) > 0) {
        KMS_ENSURE_OUT(rc, r->n < KMS_CALL_REPLAY_MAX, KMS_ERR_TOO_LONG);
        KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "entry", val, sizeof(val)));
        KMS_TRY_OUT(rc, entry_decode(val, &r->e[r->n]));
        r->n++;
    }
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        memset(r, 0, sizeof(*r));
    }
    return rc;
}

kms_result kms_call_transfers_encode(const struct kms_call_transfers *r, struct kms_buf *out)
{
    KMS_ENSURE(r != NULL && out != NULL && r->n <= KMS_CALL_REPLAY_MAX, KMS_ERR_ARG);
    char hz[24];
    (void)snprintf(hz, sizeof(hz), "%llu", (unsigned long long)r->horizon);
    KMS_TRY(put_kv(out, "version", "2"));
    KMS_TRY(put_kv(out, "horizon", hz));
    for (size_t i = 0; i < r->n; i++) {
        char line[ENTRY_LEN + 1], hx[2 * HASH_LEN + 1], rx[2 * KMS_TMSG_RAND_LEN + 1];
        KMS_TRY(kms_hex_encode(r->e[i].hash, HASH_LEN, hx, sizeof(hx)));
        KMS_TRY(kms_hex_encode(r->e[i].randri, KMS_TMSG_RAND_LEN, rx, sizeof(rx)));
        int w = snprintf(line, sizeof(line), "%llu:%llu:%s:%s", (unsigned long long)r->e[i].t,
                         (unsigned long long)r->e[i].expires, hx, rx);
        KMS_ENSURE(w > 0 && (size_t)w < sizeof(line), KMS_ERR_INTERNAL);
        KMS_TRY(put_kv(out, "entry", line));
    }
    return KMS_RESULT_OK;
}

/* Reads STATE/transfers into r (empty when there is none). */
static kms_result replay_load(const char *dir, struct kms_call_transfers *r)
{
    memset(r, 0, sizeof(*r));
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0;
    kms_result fr = kms_file_read_at(dir, REPLAY_FILE, REPLAY_IMG_MAX, true, &img, &n);
    if (fr.err == KMS_ERR_NOT_FOUND) {
        return KMS_RESULT_OK;
    }
    KMS_TRY_OUT(rc, fr);
    KMS_TRY_OUT(rc, kms_call_transfers_decode(img, n, r));
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    return rc;
}

static bool replay_has(const struct kms_call_transfers *r, const uint8_t hash[HASH_LEN],
                       const uint8_t randri[16], uint64_t t)
{
    if (t <= r->horizon) {
        return true; /* its entry, if it had one, may have been pruned */
    }
    for (size_t i = 0; i < r->n; i++) {
        /* Expired or not: an entry still in the file was accepted once. */
        if (kms_ct_eq(r->e[i].hash, hash, HASH_LEN) &&
            kms_ct_eq(r->e[i].randri, randri, KMS_TMSG_RAND_LEN)) {
            return true;
        }
    }
    return false;
}

kms_result kms_call_replay_check(const char *state_dir, const uint8_t *ticket, size_t ticket_len,
                                 const uint8_t randri[16], uint64_t t)
{
    KMS_ENSURE(state_dir != NULL && ticket != NULL && randri != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_call_transfers *r = calloc(1, sizeof(*r));
    uint8_t hash[HASH_LEN];
    KMS_ENSURE_OUT(rc, r != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, ticket_hash(ticket, ticket_len, hash));
    KMS_TRY_OUT(rc, replay_load(state_dir, r));
    KMS_ENSURE_OUT(rc, !replay_has(r, hash, randri, t), KMS_ERR_REPLAY);
    rc = KMS_RESULT_OK;
out:
    free(r);
    return rc;
}

kms_result kms_call_replay_commit(const char *state_dir, const uint8_t *ticket, size_t ticket_len,
                                  const uint8_t randri[16], uint64_t t, uint64_t expires,
                                  uint64_t now)
{
    KMS_ENSURE(state_dir != NULL && ticket != NULL && randri != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct kms_call_transfers *r = calloc(1, sizeof(*r));
    uint8_t hash[HASH_LEN];
    char path[4096];
    int lock = -1;
    struct kms_buf b;
    kms_buf_init(&b, REPLAY_IMG_MAX, false);
    KMS_ENSURE_OUT(rc, r != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, ticket_hash(ticket, ticket_len, hash));
    /* Load, check and write under STATE/transfers.lock: two answers of one transfer at once
     * must not both find it absent. */
    KMS_TRY_OUT(rc, kms_file_path(path, sizeof(path), state_dir, REPLAY_FILE));
    KMS_TRY_OUT(rc, kms_file_lock(path, &lock));
    KMS_TRY_OUT(rc, replay_load(state_dir, r));
    KMS_ENSURE_OUT(rc, !replay_has(r, hash, randri, t), KMS_ERR_REPLAY);
    /* Prune what has expired, raising the horizon past the pruned T, then add. */
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->e[i].expires >= now) {
            r->e[k++] = r->e[i];
        } else if (r->e[i].t > r->horizon) {
            r->horizon = r->e[i].t;
        }
    }
    r->n = k;
    KMS_ENSURE_OUT(rc, r->n < KMS_CALL_REPLAY_MAX, KMS_ERR_FULL);
    r->e[r->n].t = t;
    r->e[r->n].expires = expires;
    memcpy(r->e[r->n].hash, hash, HASH_LEN);
    memcpy(r->e[r->n].randri, randri, KMS_TMSG_RAND_LEN);
    r->n++;
    KMS_TRY_OUT(rc, kms_call_transfers_encode(r, &b));
    KMS_TRY_OUT(rc, kms_file_write_atomic(path, kms_buf_data(&b), kms_buf_len(&b)));
    rc = KMS_RESULT_OK;
out:
    kms_file_unlock(&lock);
    kms_buf_cleanup(&b);
    free(r);
    return rc;
}

/* ---- answer ------------------------------------------------------------------------------ */

kms_result kms_call_check_transfer(const struct kms_transfer *x, const struct kms_srtp_policy **p)
{
    KMS_ENSURE(x != NULL && p != NULL, KMS_ERR_ARG);
    *p = NULL;
    /* The caller's stream, and only it (docs/media.md: one m= line, one crypto session). */
    KMS_ENSURE(x->media.n_cs == 1, KMS_ERR_MALFORMED);
    /* RFC 6043 4.2.2.2: the responder checks the Ticket Policy before contacting the KMS. We
     * honour F (we answer), G (we draw RANDRr) and H (RANDRi is in the TEK label) and need all
     * three; key forking and session keys in a KEMAC we cannot honour. */
    const uint16_t need = KMS_MIKEY_TF_F | KMS_MIKEY_TF_G | KMS_MIKEY_TF_H;
    KMS_ENSURE((x->ticket_flags & need) == need, KMS_ERR_UNSUPPORTED);
    KMS_ENSURE((x->ticket_flags & KMS_TMSG_REFUSED_FLAGS) == 0, KMS_ERR_UNSUPPORTED);
    return kms_srtp_policy_sp_decode(x->media.sp, x->media.sp_len, p);
}

static uint64_t abs_diff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

kms_result kms_call_answer(const struct kms_ue_kms_cfg *cfg, const struct kms_call_answer_in *in,
                           struct kms_buf *resp, uint8_t tgk_fp[KMS_UE_TGK_FP_LEN],
                           uint8_t srtp_fp[KMS_MEDIA_FP_LEN], enum kms_call_part *part)
{
    KMS_ENSURE(cfg != NULL && in != NULL && in->init != NULL && resp != NULL && tgk_fp != NULL &&
                   srtp_fp != NULL && part != NULL,
               KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    *part = KMS_CALL_PART_OFFER;
    struct kms_transfer *x = calloc(1, sizeof(*x));
    struct kms_tgrant *g = calloc(1, sizeof(*g));
    struct kms_transfer_resp *r = calloc(1, sizeof(*r));
    struct kms_media_session *s = calloc(1, sizeof(*s));
    const struct kms_srtp_policy *p = NULL;
    size_t start = kms_buf_len(resp);
    KMS_ENSURE_OUT(rc, x != NULL && g != NULL && r != NULL && s != NULL, KMS_ERR_NOMEM);
    size_t eo = 0;
    KMS_TRY_OUT(rc, kms_transfer_peek(in->init, in->init_len, x, &eo));
    KMS_TRY_OUT(rc, kms_call_check_transfer(x, &p));
    /* Fresh and used once (docs/media.md): T within the skew, then the record. */
    *part = KMS_CALL_PART_FRESHNESS;
    uint64_t now = kms_now(), t = kms_kue_ntp_to_unix(x->ntp);
    KMS_ENSURE_OUT(rc, abs_diff(t, now) <= in->skew, KMS_ERR_TS_SKEW);
    KMS_TRY_OUT(rc, kms_call_replay_check(cfg->state_dir, x->ticket, x->ticket_len, x->randri, t));
    *part = KMS_CALL_PART_NONE;
    KMS_TRY_OUT(rc, kms_ue_resolve_ticket(cfg, x, g));
    *part = KMS_CALL_PART_TRANSFER;
    KMS_TRY_OUT(rc, kms_transfer_open(in->init, in->init_len, g->mpk));
    KMS_TRY_OUT(rc, kms_ue_check_initiator(x, g));
    /* Our crypto session and the answer. */
    *part = KMS_CALL_PART_SESSION;
    KMS_TRY_OUT(rc, kms_str_copy(r->idrr, sizeof(r->idrr), x->idrr));
    KMS_TRY_OUT(rc, kms_random(r->randrr, sizeof(r->randrr)));
    r->media.n_cs = 2;
    r->media.cs[0] = x->media.cs[0];
    r->media.cs[1].cs_id = 2;
    KMS_TRY_OUT(rc, draw_ssrc(x->media.cs[0].ssrc, true, &r->media.cs[1].ssrc));
    KMS_TRY_OUT(rc, draw_seq(&r->media.cs[1].seq));
    KMS_TRY_OUT(rc, kms_transfer_resp_build(in->init, in->init_len, g->mpk, r, resp));
    KMS_TRY_OUT(rc, session_of(g->tgk, g->tgk_len, p, x->randri, r->randrr, &r->media, 2,
                               in->local_addr, in->remote_addr, s));
    KMS_TRY_OUT(rc, kms_media_fingerprint(s, srtp_fp));
    KMS_TRY_OUT(rc, kms_ue_tgk_fingerprint(g, tgk_fp));
    KMS_TRY_OUT(rc, kms_call_replay_commit(cfg->state_dir, x->ticket, x->ticket_len, x->randri, t,
                                           t + in->skew, now));
    KMS_TRY_OUT(rc, session_mkdir(in->session_dir));
    KMS_TRY_OUT(rc, session_write(in->session_dir, s));
    *part = KMS_CALL_PART_NONE;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_buf_truncate(resp, start);
    }
    if (g != NULL) {
        kms_wipe(g, sizeof(*g));
    }
    if (s != NULL) {
        kms_media_session_wipe(s);
    }
    free(x);
    free(g);
    free(r);
    free(s);
    return rc;
}

/* ---- accept ------------------------------------------------------------------------------ */

kms_result kms_call_accept(const char *session_dir, const uint8_t *resp, size_t resp_len,
                           const char *remote_addr, uint8_t tgk_fp[KMS_UE_TGK_FP_LEN],
                           uint8_t srtp_fp[KMS_MEDIA_FP_LEN], enum kms_call_part *part)
{
    KMS_ENSURE(session_dir != NULL && resp != NULL && remote_addr != NULL && tgk_fp != NULL &&
                   srtp_fp != NULL && part != NULL,
               KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    *part = KMS_CALL_PART_SESSION;
    struct kms_call_offer *o = calloc(1, sizeof(*o));
    struct kms_tgrant *g = calloc(1, sizeof(*g));
    struct kms_transfer *x = calloc(1, sizeof(*x));
    struct kms_transfer_resp *r = calloc(1, sizeof(*r));
    struct kms_media_session *s = calloc(1, sizeof(*s));
    uint8_t *img = NULL;
    size_t n = 0;
    char path[4096];
    KMS_ENSURE_OUT(rc, o != NULL && g != NULL && x != NULL && r != NULL && s != NULL,
                   KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_file_read_at(session_dir, OFFER_FILE, OFFER_MAX, true, &img, &n));
    KMS_TRY_OUT(rc, kms_call_offer_decode(img, n, o));
    size_t eo = 0;
    KMS_TRY_OUT(rc, kms_transfer_peek(o->init, o->init_len, x, &eo));
    KMS_ENSURE_OUT(rc, x->media.n_cs == 1, KMS_ERR_MALFORMED);
    *part = KMS_CALL_PART_ANSWER;
    KMS_TRY_OUT(rc, kms_transfer_resp_open(o->init, o->init_len, resp, resp_len, o->mpk, r));
    /* Our own IDRr back (our KMS never adjusts the responder's identity, RFC 6043 4.2.3.5). */
    KMS_ENSURE_OUT(rc, strcmp(r->idrr, x->idrr) == 0, KMS_ERR_AUTH);
    *part = KMS_CALL_PART_SSRC;
    KMS_ENSURE_OUT(rc, r->media.cs[1].ssrc != r->media.cs[0].ssrc, KMS_ERR_MALFORMED);
    *part = KMS_CALL_PART_SESSION;
    KMS_TRY_OUT(rc, session_of(o->tgk, o->tgk_len, o->policy, x->randri, r->randrr, &r->media, 1,
                               o->local_addr, remote_addr, s));
    KMS_TRY_OUT(rc, kms_media_fingerprint(s, srtp_fp));
    memcpy(g->tgk, o->tgk, o->tgk_len);
    g->tgk_len = o->tgk_len;
    KMS_TRY_OUT(rc, kms_ue_tgk_fingerprint(g, tgk_fp));
    KMS_TRY_OUT(rc, session_write(session_dir, s));
    KMS_TRY_OUT(rc, kms_file_path(path, sizeof(path), session_dir, OFFER_FILE));
    KMS_ENSURE_OUT(rc, unlink(path) == 0, KMS_ERR_IO); /* an answer is accepted once */
    *part = KMS_CALL_PART_NONE;
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    if (o != NULL) {
        kms_wipe(o, sizeof(*o));
    }
    if (g != NULL) {
        kms_wipe(g, sizeof(*g));
    }
    if (s != NULL) {
        kms_media_session_wipe(s);
    }
    free(o);
    free(g);
    free(x);
    free(r);
    free(s);
    return rc;
}

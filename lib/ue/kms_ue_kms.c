/* SPDX-License-Identifier: Apache-2.0 */
/* The UE's exchanges with the KMS: see kms_ue_kms.h. */
#include "ue/kms_ue_kms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_ossl.h"
#include "http/kms_url.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_msgkit.h"
#include "kms/kms_ticket_msg.h"
#include "util/kms_cur.h"
#include "ue/kms_ue_boot.h"
#include "util/kms_codec.h"
#include "util/kms_file.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

struct trace {
    const char *dir;
    unsigned n;
};

static void trace_msg(struct trace *t, const char *what, const uint8_t *p, size_t n)
{
    if (t->dir == NULL) {
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%03u-%s.mikey", t->dir, ++t->n, what);
    FILE *f = fopen(path, "wb");
    if (f != NULL) { /* a trace is a debugging aid: never a reason to fail */
        (void)fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* POSTs a MIKEY message; the body of the answer in resp. */
static kms_result post(const struct kms_ue_kms_cfg *cfg, struct trace *t, const uint8_t *msg,
                       size_t len, struct kms_httpc_resp *resp)
{
    char url[2048];
    const char *u = cfg->kms_url;
    size_t ul = strlen(u);
    bool has = ul >= 6 && strcmp(u + ul - 6, "/mikey") == 0;
    int n = snprintf(url, sizeof(url), "%s%s", u,
                     has ? "" : (ul > 0 && u[ul - 1] == '/' ? "mikey" : "/mikey"));
    KMS_ENSURE(n > 0 && (size_t)n < sizeof(url), KMS_ERR_TOO_LONG);
    static const char *const headers[] = {"Content-Type: application/mikey", NULL};
    struct kms_httpc_req req = {
        .method = "POST", .url = url, .headers = headers, .body = msg, .body_len = len};
    trace_msg(t, "sent", msg, len);
    if (cfg->http.busy != NULL) {
        cfg->http.busy->who = "the KMS";
    }
    struct kms_httpc_cfg http = cfg->http; /* the timeout and busy; the KMS's own CA */
    http.ca_file = cfg->kms_ca_file;
    KMS_TRY(kms_httpc_request(&http, &req, resp));
    trace_msg(t, "recv", kms_buf_data(&resp->body), kms_buf_len(&resp->body));
    return KMS_RESULT_OK;
}

/* An answer other than 200: the IDRkms its Error message carries (docs/protocol.md, "IDRkms in
 * Error messages") and the name we used, into cfg->names when asked for. The Error is only
 * decoded, not verified: the name is a hint for the user's message, never trusted. */
static void note_names(const struct kms_ue_kms_cfg *cfg, const struct kms_httpc_resp *resp,
                       const char *used)
{
    struct kms_ue_kms_names *nm = cfg->names;
    if (nm == NULL || resp->status == 200) {
        return;
    }
    nm->kms_said[0] = '\0';
    if (!kms_ok(kms_str_copy(nm->we_used, sizeof(nm->we_used), used))) {
        nm->we_used[0] = '\0';
    }
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    size_t eo = 0;
    if (m == NULL ||
        !kms_ok(kms_mikey_decode(kms_buf_data(&resp->body), kms_buf_len(&resp->body), m, &eo)) ||
        m->hdr.data_type != KMS_MIKEY_DT_ERROR) {
        free(m);
        return;
    }
    for (size_t i = 0; i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        if (pl->type == KMS_MIKEY_PT_IDR && pl->u.id.role == 3 &&
            !kms_ok(kms_mk_copy_id(pl->u.id.data, nm->kms_said, sizeof(nm->kms_said)))) {
            nm->kms_said[0] = '\0';
        }
    }
    free(m);
}

/* A status other than 200 and 403: a 503 that says why is that reason's error (the CLI prints
 * it), any other is the client's error (400) or the transport's. */
static kms_result status_err(const struct kms_ue_kms_cfg *cfg, int status)
{
    const struct kms_httpc_busy *b = cfg->http.busy;
    KMS_ENSURE(status != 503 || b == NULL || b->err == KMS_OK, b->err);
    switch (status) {
    case 400:
        KMS_BAIL(KMS_ERR_MALFORMED);
    case 403:
        KMS_BAIL(KMS_ERR_AUTH);
    default:
        KMS_BAIL(KMS_ERR_HTTP);
    }
}

/* A 403 whose Error message verifies under the request's keys is a policy refusal (the KMS
 * authenticated us and declines); anything else is an authentication failure. */
static kms_result refusal_kind(const uint8_t *body, size_t len, const uint8_t psk[32],
                               const uint8_t rand[16], bool resolve)
{
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE(m != NULL, KMS_ERR_NOMEM);
    const struct kms_mk_open o = {
        .data_type = KMS_MIKEY_DT_ERROR, .prot = kms_mk_answer_prot(rand, 16, resolve), .key = psk};
    kms_result r = kms_mk_open(body, len, &o, m, NULL, NULL);
    bool maced = false;
    for (size_t i = 0; kms_ok(r) && i < m->body.n; i++) {
        maced |= m->body.pl[i].type == KMS_MIKEY_PT_V;
    }
    free(m);
    KMS_ENSURE(!maced, KMS_ERR_UNSUPPORTED);
    KMS_BAIL(KMS_ERR_AUTH);
}

static kms_result save_kue(const char *dir, const char *fqdn, const char *idri,
                           const struct kms_kue_grant *g)
{
    kms_result rc = KMS_RC_INIT;
    char path[4096], kh[2 * KMS_KUE_LEN + 1];
    char *text = NULL, *th = NULL;
    size_t cap = 2 * g->ticket_len + 1024;
    KMS_TRY(kms_file_path(path, sizeof(path), dir, "kue"));
    text = malloc(cap);
    th = malloc(2 * g->ticket_len + 1);
    KMS_ENSURE_OUT(rc, text != NULL && th != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_hex_encode(g->kue, KMS_KUE_LEN, kh, sizeof(kh)));
    KMS_TRY_OUT(rc, kms_hex_encode(g->ticket, g->ticket_len, th, 2 * g->ticket_len + 1));
    int n = snprintf(text, cap,
                     "version=1\nmode=%u\nkms=%s\nidentity=%s\nkue=%s\ntoken=%s\nvalid_from=%llu\n"
                     "valid_to=%llu\n",
                     g->mode, fqdn, idri, kh, th, (unsigned long long)g->valid_from,
                     (unsigned long long)g->valid_to);
    KMS_ENSURE_OUT(rc, n > 0 && (size_t)n < cap, KMS_ERR_TOO_LONG);
    KMS_TRY_OUT(rc, kms_file_write_atomic(path, (const uint8_t *)text, (size_t)n));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(kh, sizeof(kh));
    if (text != NULL) {
        kms_wipe(text, cap);
        free(text);
    }
    free(th);
    return rc;
}

/* The KMS's FQDN (cfg->kms_fqdn or the URL's host) into fqdn, the bootstrap state into st, and
 * Ks_NAF for NAF_Id = FQDN || 01 00 00 00 06 (both secret: the caller wipes them). */
static kms_result kms_ks_naf(const struct kms_ue_kms_cfg *cfg, char fqdn[256],
                             struct kms_ue_state *st, uint8_t ks_naf[32])
{
    if (cfg->kms_fqdn != NULL) {
        KMS_TRY(kms_str_copy(fqdn, 256, cfg->kms_fqdn));
    } else {
        KMS_TRY(kms_http_url_host(cfg->kms_url, fqdn, 256));
    }
    KMS_TRY(kms_ident_check_fqdn(fqdn, strlen(fqdn)));
    KMS_TRY(kms_ue_state_load(cfg->state_dir, st));
    return kms_gba_ks_naf(st->ks, st->ks + 16, st->rand, st->impi, strlen(st->impi), fqdn,
                          strlen(fqdn), KMS_UA_ID_KMS, ks_naf);
}

kms_result kms_ue_kue(const struct kms_ue_kms_cfg *cfg, uint8_t mode, struct kms_ue_kue_result *out)
{
    KMS_ENSURE(cfg != NULL && out != NULL && cfg->kms_url != NULL && cfg->state_dir != NULL,
               KMS_ERR_ARG);
    KMS_ENSURE(mode == 2 || mode == 3, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    kms_result rc = KMS_RC_INIT;
    struct trace t = {cfg->trace_dir, 0};
    struct kms_ue_state st;
    struct kms_kue_request *q = calloc(1, sizeof(*q));
    struct kms_kue_grant *g = calloc(1, sizeof(*g));
    uint8_t ks_naf[32];
    struct kms_buf req;
    kms_buf_init(&req, 1u << 16, false);
    struct kms_httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    memset(&st, 0, sizeof(st));
    KMS_ENSURE_OUT(rc, q != NULL && g != NULL, KMS_ERR_NOMEM);
    char fqdn[256];
    KMS_TRY_OUT(rc, kms_ks_naf(cfg, fqdn, &st, ks_naf));
    const char *id = cfg->identity != NULL ? cfg->identity : st.impi;
    q->mode = mode;
    KMS_TRY_OUT(rc, kms_str_copy(q->idri, sizeof(q->idri), id));
    KMS_TRY_OUT(rc, kms_str_copy(q->idrkms, sizeof(q->idrkms), fqdn));
    KMS_TRY_OUT(rc, kms_str_copy(q->btid, sizeof(q->btid), st.btid));
    KMS_TRY_OUT(rc, kms_random(q->randri, sizeof(q->randri)));
    q->ntp = kms_mikey_ntp_now();
    KMS_TRY_OUT(rc, kms_kue_request_build(q, ks_naf, &req));
    KMS_TRY_OUT(rc, post(cfg, &t, kms_buf_data(&req), kms_buf_len(&req), &resp));
    note_names(cfg, &resp, fqdn);
    if (resp.status == 403) {
        KMS_TRY_OUT(rc, refusal_kind(kms_buf_data(&resp.body), kms_buf_len(&resp.body), ks_naf,
                                     q->randri, false));
    }
    if (resp.status != 200) {
        KMS_TRY_OUT(rc, status_err(cfg, resp.status));
    }
    KMS_TRY_OUT(rc, kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req),
                                          kms_buf_data(&resp.body), kms_buf_len(&resp.body), ks_naf,
                                          g));
    KMS_ENSURE_OUT(rc, g->mode == mode, KMS_ERR_MALFORMED);
    KMS_TRY_OUT(rc, save_kue(cfg->state_dir, fqdn, id, g));
    out->mode = g->mode;
    out->valid_to = g->valid_to;
    rc = KMS_RESULT_OK;
out:
    kms_httpc_resp_cleanup(&resp);
    kms_buf_cleanup(&req);
    kms_wipe(ks_naf, sizeof(ks_naf));
    kms_wipe(&st, sizeof(st));
    if (g != NULL) {
        kms_wipe(g, sizeof(*g));
    }
    free(g);
    free(q);
    return rc;
}

/* ---- the Kue state ---- */

kms_result kms_ue_kue_state_decode(const uint8_t *p, size_t n, struct kms_ue_kue_state *st)
{
    KMS_ENSURE(st != NULL, KMS_ERR_ARG);
    memset(st, 0, sizeof(*st));
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    const size_t cap = 2 * KMS_TICKET_MAX + 2;
    char *val = malloc(cap);
    KMS_ENSURE_OUT(rc, val != NULL, KMS_ERR_NOMEM);
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "version", val, cap));
    KMS_ENSURE_OUT(rc, strcmp(val, "1") == 0, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "mode", val, cap));
    KMS_ENSURE_OUT(rc, strcmp(val, "2") == 0 || strcmp(val, "3") == 0, KMS_ERR_MALFORMED);
    st->mode = (uint8_t)(val[0] - '0');
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "kms", st->kms, sizeof(st->kms)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "identity", st->identity, sizeof(st->identity)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "kue", val, cap));
    KMS_TRY_OUT(rc, kms_hex_decode_exact(val, st->kue, sizeof(st->kue)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "token", val, cap));
    KMS_TRY_OUT(rc, kms_hex_decode(val, strlen(val), st->token, sizeof(st->token), &st->token_len));
    uint64_t valid_from = 0;
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "valid_from", val, cap));
    KMS_TRY_OUT(rc, kms_dec_decode_u64(val, UINT64_MAX, &valid_from));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "valid_to", val, cap));
    KMS_TRY_OUT(rc, kms_dec_decode_u64(val, UINT64_MAX, &st->valid_to));
    KMS_TRY_OUT(rc, kms_cur_expect_end(&c));
    rc = KMS_RESULT_OK;
out:
    if (val != NULL) {
        kms_wipe(val, cap);
        free(val);
    }
    if (!kms_ok(rc)) {
        kms_wipe(st, sizeof(*st));
    }
    return rc;
}

static kms_result kue_state_load(const char *dir, struct kms_ue_kue_state *st)
{
    memset(st, 0, sizeof(*st));
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0;
    KMS_TRY_OUT(rc, kms_file_read_at(dir, "kue", 4 * KMS_TICKET_MAX, true, &img, &n));
    KMS_TRY_OUT(rc, kms_ue_kue_state_decode(img, n, st));
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    if (!kms_ok(rc)) {
        kms_wipe(st, sizeof(*st));
    }
    return rc;
}

/* The key and identities of a ticket request or resolve whose RAND is rand: the Kue kept in the
 * state directory (modes 2 and 3), or, in mode 1, a fresh bootstrap: Kue1 from its Ks_NAF and
 * rand, IDRpsk = its B-TID. */
static kms_result request_keys(const struct kms_ue_kms_cfg *cfg, const uint8_t rand[16],
                               struct kms_ue_kue_state *st)
{
    if (cfg->mode != 1) {
        KMS_TRY(kue_state_load(cfg->state_dir, st));
        KMS_ENSURE(cfg->mode == 0 || cfg->mode == st->mode, KMS_ERR_ARG);
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(cfg->bsf_url != NULL && cfg->usim_path != NULL, KMS_ERR_ARG);
    memset(st, 0, sizeof(*st));
    struct kms_ue_boot_cfg bc = {.bsf_url = cfg->bsf_url,
                                 .usim_path = cfg->usim_path,
                                 .state_dir = cfg->state_dir,
                                 .trace_dir = cfg->trace_dir,
                                 .http = cfg->http};
    struct kms_ue_boot_result br;
    KMS_TRY(kms_ue_bootstrap(&bc, &br));
    kms_result rc = KMS_RC_INIT;
    struct kms_ue_state bs;
    uint8_t ks_naf[32];
    KMS_TRY_OUT(rc, kms_ks_naf(cfg, st->kms, &bs, ks_naf));
    KMS_TRY_OUT(rc, kms_kue1_derive(ks_naf, rand, st->kue));
    const char *id = cfg->identity != NULL ? cfg->identity : bs.impi;
    size_t bl = strlen(bs.btid);
    KMS_ENSURE_OUT(rc, bl <= sizeof(st->token), KMS_ERR_TOO_LONG);
    KMS_TRY_OUT(rc, kms_str_copy(st->identity, sizeof(st->identity), id));
    memcpy(st->token, bs.btid, bl);
    st->token_len = bl;
    st->mode = 1;
    st->valid_to = bs.lifetime;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(ks_naf, sizeof(ks_naf));
    kms_wipe(&bs, sizeof(bs));
    return rc;
}

kms_result kms_ue_tgk_fingerprint(const struct kms_tgrant *g, uint8_t fp[KMS_UE_TGK_FP_LEN])
{
    uint8_t h[32];
    KMS_ENSURE(EVP_Digest(g->tgk, g->tgk_len, h, NULL, EVP_sha256(), NULL) == 1, KMS_ERR_CRYPTO);
    memcpy(fp, h, KMS_UE_TGK_FP_LEN);
    return KMS_RESULT_OK;
}

/* The answer of a Kue-protected request: a 403 whose Error verifies under Kue is a policy
 * refusal. */
static kms_result kue_answer_status(const struct kms_ue_kms_cfg *cfg,
                                    const struct kms_httpc_resp *resp, const uint8_t kue[32],
                                    const struct kms_preq *q)
{
    if (resp->status == 403) {
        KMS_TRY(refusal_kind(kms_buf_data(&resp->body), kms_buf_len(&resp->body), kue, q->rand,
                             q->kind == KMS_PREQ_RESOLVE));
    }
    if (resp->status != 200) {
        KMS_TRY(status_err(cfg, resp->status));
    }
    return KMS_RESULT_OK;
}

/* A's ticket request for peer: g the grant, idri the identity A asked as (IDRi). */
static kms_result ticket_request(const struct kms_ue_kms_cfg *cfg, struct trace *t,
                                 const char *peer, struct kms_tgrant *g, char *idri, size_t cap)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_ue_kue_state *st = calloc(1, sizeof(*st));
    struct kms_preq *q = calloc(1, sizeof(*q));
    struct kms_buf req;
    kms_buf_init(&req, 1u << 16, false);
    struct kms_httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    KMS_ENSURE_OUT(rc, st != NULL && q != NULL, KMS_ERR_NOMEM);
    q->kind = KMS_PREQ_REQUEST;
    KMS_TRY_OUT(rc, kms_str_copy(q->idrr, sizeof(q->idrr), peer));
    KMS_TRY_OUT(rc, kms_random(q->rand, sizeof(q->rand)));
    KMS_TRY_OUT(rc, request_keys(cfg, q->rand, st));
    KMS_TRY_OUT(rc, kms_str_copy(q->idri, sizeof(q->idri), st->identity));
    KMS_TRY_OUT(rc, kms_str_copy(q->idrkms, sizeof(q->idrkms), st->kms));
    memcpy(q->psk_id, st->token, st->token_len);
    q->psk_id_len = st->token_len;
    q->ntp = kms_mikey_ntp_now();
    KMS_TRY_OUT(rc, kms_preq_build(q, st->kue, &req));
    KMS_TRY_OUT(rc, post(cfg, t, kms_buf_data(&req), kms_buf_len(&req), &resp));
    note_names(cfg, &resp, st->kms);
    KMS_TRY_OUT(rc, kue_answer_status(cfg, &resp, st->kue, q));
    KMS_TRY_OUT(rc, kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp.body),
                                   kms_buf_len(&resp.body), st->kue, g));
    KMS_TRY_OUT(rc, kms_str_copy(idri, cap, st->identity));
    rc = KMS_RESULT_OK;
out:
    kms_httpc_resp_cleanup(&resp);
    kms_buf_cleanup(&req);
    if (st != NULL) {
        kms_wipe(st, sizeof(*st));
    }
    free(st);
    free(q);
    return rc;
}

kms_result kms_ue_ticket(const struct kms_ue_kms_cfg *cfg, const char *peer, struct kms_tgrant *g,
                         char idri[KMS_TMSG_ID_MAX + 1])
{
    KMS_ENSURE(cfg != NULL && peer != NULL && g != NULL && idri != NULL, KMS_ERR_ARG);
    struct trace t = {cfg->trace_dir, 0};
    kms_result rc = ticket_request(cfg, &t, peer, g, idri, KMS_TMSG_ID_MAX + 1);
    if (!kms_ok(rc)) {
        kms_wipe(g, sizeof(*g));
    }
    return rc;
}

kms_result kms_ue_request(const struct kms_ue_kms_cfg *cfg, const char *peer,
                          const char *transfer_path, uint8_t tgk_fp[KMS_UE_TGK_FP_LEN])
{
    KMS_ENSURE(cfg != NULL && peer != NULL && transfer_path != NULL && tgk_fp != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct trace t = {cfg->trace_dir, 0};
    struct kms_tgrant *g = calloc(1, sizeof(*g));
    char idri[KMS_TMSG_ID_MAX + 1];
    struct kms_buf xfer;
    kms_buf_init(&xfer, 1u << 16, false);
    KMS_ENSURE_OUT(rc, g != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, ticket_request(cfg, &t, peer, g, idri, sizeof(idri)));
    /* The granted ticket flags travel with the ticket (V = F); no crypto session. */
    const struct kms_transfer_spec spec = {.idri = idri,
                                           .idrr = peer,
                                           .mpk = g->mpk,
                                           .ticket = g->ticket,
                                           .ticket_len = g->ticket_len,
                                           .ticket_flags = g->ticket_flags};
    KMS_TRY_OUT(rc, kms_transfer_build_spec(&spec, &xfer));
    trace_msg(&t, "sent", kms_buf_data(&xfer), kms_buf_len(&xfer)); /* to the peer */
    KMS_TRY_OUT(rc, kms_file_write_atomic(transfer_path, kms_buf_data(&xfer), kms_buf_len(&xfer)));
    KMS_TRY_OUT(rc, kms_ue_tgk_fingerprint(g, tgk_fp));
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&xfer);
    if (g != NULL) {
        kms_wipe(g, sizeof(*g));
    }
    free(g);
    return rc;
}

/* B's resolve of the ticket x carries (peeked, not yet trusted): g the grant. */
static kms_result ticket_resolve(const struct kms_ue_kms_cfg *cfg, struct trace *t,
                                 const struct kms_transfer *x, struct kms_tgrant *g)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_ue_kue_state *st = calloc(1, sizeof(*st));
    struct kms_preq *q = calloc(1, sizeof(*q));
    struct kms_buf req;
    kms_buf_init(&req, 1u << 16, false);
    struct kms_httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    KMS_ENSURE_OUT(rc, st != NULL && q != NULL, KMS_ERR_NOMEM);
    q->kind = KMS_PREQ_RESOLVE;
    KMS_TRY_OUT(rc, kms_random(q->rand, sizeof(q->rand)));
    KMS_TRY_OUT(rc, request_keys(cfg, q->rand, st));
    /* We resolve as the responder the transfer names: the KMS checks that this identity is one
     * of our token's and the one the media ticket names, so a transfer meant for someone else
     * is refused there. */
    KMS_TRY_OUT(rc, kms_str_copy(q->idrr, sizeof(q->idrr), x->idrr));
    KMS_TRY_OUT(rc, kms_str_copy(q->idrkms, sizeof(q->idrkms), st->kms));
    memcpy(q->psk_id, st->token, st->token_len);
    q->psk_id_len = st->token_len;
    memcpy(q->ticket, x->ticket, x->ticket_len);
    q->ticket_len = x->ticket_len;
    q->ntp = kms_mikey_ntp_now();
    KMS_TRY_OUT(rc, kms_preq_build(q, st->kue, &req));
    KMS_TRY_OUT(rc, post(cfg, t, kms_buf_data(&req), kms_buf_len(&req), &resp));
    note_names(cfg, &resp, st->kms);
    KMS_TRY_OUT(rc, kue_answer_status(cfg, &resp, st->kue, q));
    KMS_TRY_OUT(rc, kms_rresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp.body),
                                   kms_buf_len(&resp.body), st->kue, g));
    rc = KMS_RESULT_OK;
out:
    kms_httpc_resp_cleanup(&resp);
    kms_buf_cleanup(&req);
    if (st != NULL) {
        kms_wipe(st, sizeof(*st));
    }
    free(st);
    free(q);
    return rc;
}

kms_result kms_ue_resolve_ticket(const struct kms_ue_kms_cfg *cfg, const struct kms_transfer *x,
                                 struct kms_tgrant *g)
{
    KMS_ENSURE(cfg != NULL && x != NULL && g != NULL, KMS_ERR_ARG);
    struct trace t = {cfg->trace_dir, 0};
    kms_result rc = ticket_resolve(cfg, &t, x, g);
    if (!kms_ok(rc)) {
        kms_wipe(g, sizeof(*g));
    }
    return rc;
}

kms_result kms_ue_check_initiator(const struct kms_transfer *x, const struct kms_tgrant *g)
{
    KMS_ENSURE(x != NULL && g != NULL, KMS_ERR_ARG);
    /* Identities are public: a plain comparison. The KMS names the initiator in every
     * RESOLVE_RESP; one that names none, or another, fails like a bad MAC. */
    KMS_ENSURE(g->initiator[0] != '\0' && strcmp(g->initiator, x->idri) == 0, KMS_ERR_AUTH);
    return KMS_RESULT_OK;
}

kms_result kms_ue_resolve(const struct kms_ue_kms_cfg *cfg, const char *transfer_path,
                          uint8_t tgk_fp[KMS_UE_TGK_FP_LEN], bool *transfer_bad)
{
    KMS_ENSURE(cfg != NULL && transfer_path != NULL && tgk_fp != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    bool xfer = false; /* a failure now would be the transfer's own */
    struct trace t = {cfg->trace_dir, 0};
    struct kms_transfer *x = calloc(1, sizeof(*x));
    struct kms_tgrant *g = calloc(1, sizeof(*g));
    uint8_t *img = NULL;
    size_t n = 0;
    KMS_ENSURE_OUT(rc, x != NULL && g != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_file_read(transfer_path, 1u << 16, false, &img, &n));
    trace_msg(&t, "recv", img, n); /* from the peer */
    size_t eo = 0;
    xfer = true;
    KMS_TRY_OUT(rc, kms_transfer_peek(img, n, x, &eo));
    xfer = false;
    KMS_TRY_OUT(rc, ticket_resolve(cfg, &t, x, g));
    /* Now that the MPK is known, the transfer itself must verify, and name the ticket's
     * initiator as its sender. */
    xfer = true;
    KMS_TRY_OUT(rc, kms_transfer_open(img, n, g->mpk));
    KMS_TRY_OUT(rc, kms_ue_check_initiator(x, g));
    xfer = false;
    KMS_TRY_OUT(rc, kms_ue_tgk_fingerprint(g, tgk_fp));
    rc = KMS_RESULT_OK;
out:
    if (transfer_bad != NULL) {
        *transfer_bad = !kms_ok(rc) && xfer;
    }
    kms_file_free(img, n);
    if (g != NULL) {
        kms_wipe(g, sizeof(*g));
    }
    free(x);
    free(g);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The UE side of a GBA bootstrap: see kms_ue_boot.h. */
#include "ue/kms_ue_boot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_milenage.h"
#include "crypto/kms_ossl.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_bsfinfo.h"
#include "gba/kms_digest.h"
#include "http/kms_url.h"
#include "ue/kms_usim.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define MAX_RESYNCS 2
#define STATE_MAX   4096

struct session {
    const struct kms_ue_boot_cfg *cfg;
    char host[256];
    unsigned step;
};

static void trace(struct session *s, const char *what, const char *hdr_name, const char *hdr,
                  int status, const uint8_t *body, size_t body_len)
{
    if (s->cfg->trace_dir == NULL) {
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%02u-%s.txt", s->cfg->trace_dir, ++s->step, what);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return; /* a trace is a debugging aid: never a reason to fail */
    }
    if (status != 0) {
        fprintf(f, "status: %d\n", status);
    }
    if (hdr != NULL) {
        fprintf(f, "%s: %s\n", hdr_name, hdr);
    }
    if (body_len > 0) {
        fprintf(f, "\n%.*s\n", (int)body_len, (const char *)body);
    }
    fclose(f);
}

/* One GET with an Authorization header; captures WWW-Authenticate and Authentication-Info. */
static kms_result get(struct session *s, const char *authorization, struct kms_httpc_resp *resp)
{
    char hdr[KMS_DIGEST_HEADER_MAX + 32];
    snprintf(hdr, sizeof(hdr), "Authorization: %s", authorization);
    const char *headers[] = {hdr, NULL};
    struct kms_httpc_req req = {
        .method = "GET",
        .url = s->cfg->bsf_url,
        .headers = headers,
        .want = {"WWW-Authenticate", "Authentication-Info", "Imskms-Realm", NULL},
    };
    trace(s, "request", "Authorization", authorization, 0, NULL, 0);
    if (s->cfg->http.busy != NULL) {
        s->cfg->http.busy->who = "the BSF";
    }
    KMS_TRY(kms_httpc_request(&s->cfg->http, &req, resp));
    trace(s, "response", resp->got[0] != NULL ? "WWW-Authenticate" : "Authentication-Info",
          resp->got[0] != NULL ? resp->got[0] : resp->got[1], resp->status,
          kms_buf_data(&resp->body), kms_buf_len(&resp->body));
    return KMS_RESULT_OK;
}

/* Formats credentials into a NUL-terminated string. */
static kms_result credentials(const struct kms_digest_params *p, char *out, size_t cap)
{
    struct kms_buf b;
    kms_buf_init_fixed(&b, (uint8_t *)out, cap, false);
    KMS_TRY(kms_digest_format(KMS_DIGEST_CREDENTIALS, p, &b));
    KMS_TRY(kms_buf_put_u8(&b, 0));
    return KMS_RESULT_OK;
}

/* The error of a refused Ub answer: 429 the rate limit, a 503 naming its reason that reason's
 * (when the caller asked for it: cfg.http.busy), anything else an authentication failure. */
static enum kms_err refused(const struct kms_ue_boot_cfg *cfg, int status)
{
    const struct kms_httpc_busy *b = cfg->http.busy;
    if (status == 503 && b != NULL && b->err != KMS_OK) {
        return b->err;
    }
    return status == 429 ? KMS_ERR_RATE : KMS_ERR_AUTH;
}

/* A realm the BSF named that is not the one we expect, kept for the user's message when it is
 * printable (it came from the network). */
static void note_realm(const struct kms_ue_boot_cfg *cfg, const char *realm)
{
    size_t n = strlen(realm);
    if (cfg->realm_seen != NULL && n > 0 && n < KMS_UE_REALM_MAX &&
        kms_ident_chars_ok((const uint8_t *)realm, n)) {
        memcpy(cfg->realm_seen, realm, n + 1);
    }
}

/* The challenge of a 401: RAND, AUTN and the parameters to echo. */
static kms_result read_challenge(const struct kms_ue_boot_cfg *cfg,
                                 const struct kms_httpc_resp *resp, const char *host,
                                 struct kms_digest_params *ch, uint8_t rand[16], uint8_t autn[16])
{
    if (resp->status == 400 && resp->got[2] != NULL) {
        note_realm(cfg, resp->got[2]); /* the BSF refused our realm and named its own */
    }
    KMS_ENSURE(resp->status == 401, refused(cfg, resp->status));
    KMS_ENSURE(resp->got[0] != NULL, KMS_ERR_AUTH); /* a plain 401: refused */
    KMS_TRY(kms_digest_parse_challenge(resp->got[0], strlen(resp->got[0]), ch));
    const char *realm = kms_digest_get(ch, KMS_DIGEST_REALM);
    if (strcmp(realm, host) != 0) {
        note_realm(cfg, realm); /* refused: we do not answer another realm's challenge */
        KMS_BAIL(KMS_ERR_AUTH);
    }
    const char *nonce = kms_digest_get(ch, KMS_DIGEST_NONCE);
    uint8_t sd[KMS_DIGEST_SERVER_DATA_MAX];
    size_t sd_len = 0;
    return kms_digest_nonce_decode(nonce, strlen(nonce), rand, autn, sd, sizeof(sd), &sd_len);
}

struct accept_arg {
    uint64_t sqn;
};

static kms_result accept_sqn(struct kms_usim *u, void *arg)
{
    return kms_sqn_ms_accept(&u->sqn, ((struct accept_arg *)arg)->sqn);
}

static kms_result write_state(const char *dir, const char *impi, const char *btid,
                              const uint8_t rand[16], const uint8_t *ck, const uint8_t *ik,
                              uint64_t lifetime)
{
    kms_result rc = KMS_RC_INIT;
    char path[4096], text[STATE_MAX], rh[33], kh[65];
    uint8_t ks[32];
    memcpy(ks, ck, 16);
    memcpy(ks + 16, ik, 16);
    KMS_TRY_OUT(rc, kms_file_path(path, sizeof(path), dir, "bootstrap"));
    KMS_TRY_OUT(rc, kms_hex_encode(rand, 16, rh, sizeof(rh)));
    KMS_TRY_OUT(rc, kms_hex_encode(ks, sizeof(ks), kh, sizeof(kh)));
    int n =
        snprintf(text, sizeof(text), "version=1\nimpi=%s\nbtid=%s\nrand=%s\nks=%s\nlifetime=%llu\n",
                 impi, btid, rh, kh, (unsigned long long)lifetime);
    KMS_ENSURE_OUT(rc, n > 0 && (size_t)n < sizeof(text), KMS_ERR_TOO_LONG);
    KMS_TRY_OUT(rc, kms_file_write_atomic(path, (const uint8_t *)text, (size_t)n));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(ks, sizeof(ks));
    kms_wipe(kh, sizeof(kh));
    kms_wipe(text, sizeof(text));
    return rc;
}

kms_result kms_ue_bootstrap(const struct kms_ue_boot_cfg *cfg, struct kms_ue_boot_result *out)
{
    KMS_ENSURE(cfg != NULL && out != NULL && cfg->bsf_url != NULL && cfg->usim_path != NULL &&
                   cfg->state_dir != NULL,
               KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    kms_result rc = KMS_RC_INIT;
    struct session s = {.cfg = cfg};
    struct kms_usim u;
    struct kms_milenage *m = NULL;
    struct kms_aka_vec v;
    struct kms_digest_params ch, cred, info;
    struct kms_httpc_resp resp;
    char auth[KMS_DIGEST_HEADER_MAX];
    memset(&resp, 0, sizeof(resp));
    memset(&v, 0, sizeof(v));
    memset(&u, 0, sizeof(u));
    /* The realm we expect: the BSF's host name (TS 24.109: realm = BSF FQDN), or the one given
     * when the URL names the BSF otherwise (an address, another name). */
    if (cfg->realm_seen != NULL) {
        cfg->realm_seen[0] = '\0';
    }
    if (cfg->realm != NULL) {
        KMS_TRY_OUT(rc, kms_str_copy(s.host, sizeof(s.host), cfg->realm));
    } else {
        KMS_TRY_OUT(rc, kms_http_url_host(cfg->bsf_url, s.host, sizeof(s.host)));
    }
    KMS_TRY_OUT(rc, kms_usim_load(cfg->usim_path, &u));
    KMS_TRY_OUT(rc, kms_milenage_new(&m));
    KMS_TRY_OUT(rc, kms_milenage_set_key(m, u.k, u.opc));

    /* 1. Ask for a challenge (TS 24.109 A.3: username, empty nonce and response). */
    kms_digest_params_init(&cred);
    KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_USERNAME, u.impi));
    KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_REALM, s.host));
    KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_NONCE, ""));
    KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_URI, "/"));
    KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_RESPONSE, ""));
    KMS_TRY_OUT(rc, credentials(&cred, auth, sizeof(auth)));
    KMS_TRY_OUT(rc, get(&s, auth, &resp));

    uint8_t rand[16], autn[16], sqn[6];
    for (;;) {
        KMS_TRY_OUT(rc, read_challenge(cfg, &resp, s.host, &ch, rand, autn));
        kms_httpc_resp_cleanup(&resp);
        memset(&resp, 0, sizeof(resp));
        /* 2. The USIM: MAC-A first (a forged challenge changes nothing), then freshness. */
        KMS_TRY_OUT(rc, kms_milenage_check_autn(m, rand, autn, sqn, &v));
        uint64_t seq = kms_sqn_from_bytes(sqn);
        kms_result fresh = kms_sqn_ms_check(&u.sqn, seq);
        char cnonce[33];
        uint8_t cn[16];
        KMS_TRY_OUT(rc, kms_random(cn, sizeof(cn)));
        KMS_TRY_OUT(rc, kms_hex_encode(cn, sizeof(cn), cnonce, sizeof(cnonce)));
        kms_digest_params_init(&cred);
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_USERNAME, u.impi));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_REALM, s.host));
        KMS_TRY_OUT(rc,
                    kms_digest_set(&cred, KMS_DIGEST_NONCE, kms_digest_get(&ch, KMS_DIGEST_NONCE)));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_URI, "/"));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_QOP, "auth-int"));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_NC, "00000001"));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_CNONCE, cnonce));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_ALGORITHM, "AKAv1-MD5"));
        if (kms_digest_get(&ch, KMS_DIGEST_OPAQUE) != NULL) {
            KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_OPAQUE,
                                           kms_digest_get(&ch, KMS_DIGEST_OPAQUE)));
        }
        struct kms_digest_req q = {
            .username = u.impi,
            .realm = s.host,
            .nonce = kms_digest_get(&ch, KMS_DIGEST_NONCE),
            .uri = "/",
            .qop = "auth-int",
            .nc = "00000001",
            .cnonce = cnonce,
            .method = "GET",
        };
        char response[KMS_DIGEST_HEX_BUF];
        if (!kms_ok(fresh)) {
            /* 3a. Not fresh: AUTS with SQN_MS, response with the empty password (RFC 3310). */
            KMS_ENSURE_OUT(rc, out->resyncs < MAX_RESYNCS, fresh.err);
            uint8_t sqn_ms[6], auts[KMS_DIGEST_AUTS_LEN];
            char auts_b64[KMS_DIGEST_AUTS_BUF];
            kms_sqn_to_bytes(kms_sqn_ms_highest(&u.sqn), sqn_ms);
            KMS_TRY_OUT(rc, kms_milenage_auts(m, rand, sqn_ms, auts));
            KMS_TRY_OUT(rc, kms_digest_auts_encode(auts, auts_b64));
            KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_AUTS, auts_b64));
            KMS_TRY_OUT(rc, kms_digest_response((const uint8_t *)"", 0, &q, response));
            KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_RESPONSE, response));
            KMS_TRY_OUT(rc, credentials(&cred, auth, sizeof(auth)));
            KMS_TRY_OUT(rc, get(&s, auth, &resp));
            out->resyncs++;
            continue; /* the BSF answers with a new challenge */
        }
        /* 3b. Fresh: the USIM records the SQN durably before RES leaves it. */
        struct accept_arg aa = {seq};
        KMS_TRY_OUT(rc, kms_usim_update(cfg->usim_path, accept_sqn, &aa));
        KMS_TRY_OUT(rc, kms_sqn_ms_accept(&u.sqn, seq));
        KMS_TRY_OUT(rc, kms_digest_response(v.res, sizeof(v.res), &q, response));
        KMS_TRY_OUT(rc, kms_digest_set(&cred, KMS_DIGEST_RESPONSE, response));
        KMS_TRY_OUT(rc, credentials(&cred, auth, sizeof(auth)));
        KMS_TRY_OUT(rc, get(&s, auth, &resp));
        break;
    }
    /* 4. The 200: rspauth (XRES as the password, over the body) proves the BSF knew XRES. */
    KMS_ENSURE_OUT(rc, resp.status == 200, refused(cfg, resp.status));
    KMS_ENSURE_OUT(rc, resp.got[1] != NULL, KMS_ERR_AUTH);
    KMS_TRY_OUT(rc, kms_digest_parse_info(resp.got[1], strlen(resp.got[1]), &info));
    KMS_TRY_OUT(rc, kms_digest_verify_rspauth(&cred, &info, v.res, sizeof(v.res),
                                              kms_buf_data(&resp.body), kms_buf_len(&resp.body)));
    KMS_TRY_OUT(rc, kms_bsfinfo_parse(kms_buf_data(&resp.body), kms_buf_len(&resp.body), out->btid,
                                      sizeof(out->btid), &out->lifetime));
    KMS_TRY_OUT(rc,
                write_state(cfg->state_dir, u.impi, out->btid, rand, v.ck, v.ik, out->lifetime));
    memcpy(out->impi, u.impi, strlen(u.impi) + 1);
    rc = KMS_RESULT_OK;
out:
    kms_httpc_resp_cleanup(&resp);
    kms_milenage_free(m);
    kms_usim_wipe(&u);
    kms_wipe(&v, sizeof(v));
    kms_wipe(auth, sizeof(auth));
    if (!kms_ok(rc)) {
        memset(out->btid, 0, sizeof(out->btid));
    }
    return rc;
}

/* ---- the state file ---- */

kms_result kms_ue_state_decode(const uint8_t *p, size_t n, struct kms_ue_state *st)
{
    KMS_ENSURE(st != NULL, KMS_ERR_ARG);
    memset(st, 0, sizeof(*st));
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    char val[KMS_BTID_MAX + 1];
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "version", val, sizeof(val)));
    KMS_ENSURE_OUT(rc, strcmp(val, "1") == 0, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "impi", st->impi, sizeof(st->impi)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "btid", st->btid, sizeof(st->btid)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "rand", val, sizeof(val)));
    KMS_TRY_OUT(rc, kms_hex_decode_exact(val, st->rand, sizeof(st->rand)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "ks", val, sizeof(val)));
    KMS_TRY_OUT(rc, kms_hex_decode_exact(val, st->ks, sizeof(st->ks)));
    KMS_TRY_OUT(rc, kms_cur_get_kv_line(&c, "lifetime", val, sizeof(val)));
    KMS_TRY_OUT(rc, kms_dec_decode_u64(val, UINT64_MAX, &st->lifetime));
    KMS_TRY_OUT(rc, kms_cur_expect_end(&c));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(val, sizeof(val));
    if (!kms_ok(rc)) {
        kms_wipe(st, sizeof(*st));
    }
    return rc;
}

kms_result kms_ue_state_load(const char *state_dir, struct kms_ue_state *st)
{
    KMS_ENSURE(state_dir != NULL && st != NULL, KMS_ERR_ARG);
    memset(st, 0, sizeof(*st));
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0;
    KMS_TRY_OUT(rc, kms_file_read_at(state_dir, "bootstrap", STATE_MAX, true, &img, &n));
    KMS_TRY_OUT(rc, kms_ue_state_decode(img, n, st));
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    if (!kms_ok(rc)) {
        kms_wipe(st, sizeof(*st));
    }
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS request handler: see kms_service.h. */
#include "kms/kms_service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "keyring/kms_keyring.h"
#include "kms/kms_kreq.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_msgkit.h"
#include "kms/kms_ticket_msg.h"
#include "mikey/kms_mikey_msg.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "ticket/kms_ticket.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

struct kms_service {
    struct kms_service_cfg cfg;
    char fqdn[256];
    struct kms_service_deps deps;
};

kms_result kms_service_new(const struct kms_service_cfg *cfg, const struct kms_service_deps *deps,
                           struct kms_service **out)
{
    KMS_ENSURE(cfg != NULL && deps != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(cfg->fqdn != NULL && deps->keyring != NULL && deps->store != NULL &&
                   deps->replay != NULL && deps->zn.get != NULL,
               KMS_ERR_ARG);
    size_t n = strlen(cfg->fqdn);
    KMS_TRY(kms_ident_check_fqdn(cfg->fqdn, n));
    KMS_ENSURE(cfg->mode1 || cfg->mode2 || cfg->mode3, KMS_ERR_ARG);
    KMS_ENSURE(cfg->kue_lifetime > 0 && cfg->ticket_lifetime > 0, KMS_ERR_ARG);
    struct kms_service *s = calloc(1, sizeof(*s));
    KMS_ENSURE(s != NULL, KMS_ERR_NOMEM);
    s->cfg = *cfg;
    memcpy(s->fqdn, cfg->fqdn, n + 1);
    s->cfg.fqdn = s->fqdn;
    s->deps = *deps;
    *out = s;
    return KMS_RESULT_OK;
}

/* ---- per-thread scratch ---- */

/* The large objects one request needs (the decoded request, two sets of claims, a grant: about
 * 30 KB, too much for a libmicrohttpd worker's stack next to everything else): one set per
 * thread, allocated zeroed on the thread's first request and reused, so that the hot path
 * allocates and zeroes nothing. Every request wipes what it used before it returns (the
 * objects are zero again when the next request starts, as fresh calloc'ed ones were), and the
 * thread's exit wipes and frees the set. Thread-local: the handler runs on several threads at
 * once, and it never calls itself. */
struct scratch {
    struct kms_kreq k;
    struct kms_ticket_claims c, m;
    struct kms_tgrant g;
    struct kms_kue_grant kg;
    bool zn_nowait;  /* this call may not wait on Zn (kms_service_handle_nowait) */
    bool zn_pending; /* ... and needed a Zn query: its answer is not this call's to give */
};

/* Each scratch object is wiped after a request as far as it was written (the keys whole, the
 * identities, tokens and tickets up to their lengths), which leaves it zero again without
 * zeroing its kilobytes of unused storage. */
static void tgrant_wipe(struct kms_tgrant *g)
{
    kms_wipe(g->ticket, g->ticket_len < sizeof(g->ticket) ? g->ticket_len : sizeof(g->ticket));
    kms_wipe(g->mpk, sizeof(g->mpk));
    kms_wipe(g->tgk, sizeof(g->tgk));
    g->tgk_len = 0;
    g->ticket_len = 0;
    g->valid_from = 0;
    g->valid_to = 0;
    size_t il = strnlen(g->initiator, sizeof(g->initiator));
    kms_wipe(g->initiator, il < sizeof(g->initiator) ? il + 1 : sizeof(g->initiator));
    g->ticket_flags = 0;
}

static void kue_grant_wipe(struct kms_kue_grant *g)
{
    kms_wipe(g->ticket, g->ticket_len < sizeof(g->ticket) ? g->ticket_len : sizeof(g->ticket));
    kms_wipe(g->kue, sizeof(g->kue));
    g->mode = 0;
    g->ticket_len = 0;
    g->valid_from = 0;
    g->valid_to = 0;
}

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;
static _Thread_local struct scratch *tls_scratch;

static void scratch_free(void *p)
{
    if (p != NULL) {
        kms_wipe(p, sizeof(struct scratch));
        free(p);
    }
}

static void scratch_key_make(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

/* This thread's scratch (NULL when it cannot be had: out of memory). */
static struct scratch *scratch(void)
{
    if (tls_scratch == NULL) {
        if (pthread_once(&scratch_once, scratch_key_make) != 0 || !scratch_key_ok) {
            return NULL;
        }
        struct scratch *sc = calloc(1, sizeof(*sc));
        if (sc == NULL) {
            return NULL;
        }
        if (pthread_setspecific(scratch_key, sc) != 0) {
            free(sc);
            return NULL;
        }
        tls_scratch = sc;
    }
    return tls_scratch;
}

void kms_service_free(struct kms_service *s)
{
    if (s != NULL) {
        kms_wipe(s, sizeof(*s));
        free(s);
    }
}

void kms_service_reply_init(struct kms_service_reply *r)
{
    memset(r, 0, sizeof(*r));
    kms_buf_init(&r->body, KMS_SERVICE_MSG_MAX, false);
}

const char *kms_service_fqdn(const struct kms_service *s)
{
    return s != NULL ? s->fqdn : NULL;
}

void kms_service_reply_cleanup(struct kms_service_reply *r)
{
    kms_buf_cleanup(&r->body);
}

/* A response (about 350 octets for a ticket request) fits without the reply body growing from
 * 64 octets in four copies. */
#define REPLY_RESERVE 1024

/* ---- error replies ---- */

/* An Error message (RFC 3830 6.12): HDR (the request's CSB ID when it had a readable header,
 * PRF-HMAC-SHA-256, Empty map), T, ERR, IDRkms (r->idrkms, the KMS's own name, whatever
 * failed: the same in every refusal, so it tells nothing about the check; RFC 6043 5.4 lets a
 * receiver ignore it; docs/protocol.md), and V under psk with prot when psk is given. The
 * status and the error number are the error table's (kms_wire_of), never chosen here. */
static kms_result error_msg(struct kms_service_reply *r, enum kms_err why, uint32_t csb_id,
                            const uint8_t *psk, const struct kms_mikey_prot *prot)
{
    static const uint8_t zero_mac[32];
    struct kms_wire w = kms_wire_of(KMS_IFACE_KMS, why);
    r->status = w.status;
    r->why = why;
    kms_buf_reset(&r->body);
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    KMS_ENSURE(m != NULL, KMS_ERR_NOMEM);
    m->hdr = (struct kms_mikey_hdr){.version = KMS_MIKEY_VERSION,
                                    .data_type = KMS_MIKEY_DT_ERROR,
                                    .prf = KMS_MIKEY_PRF_HMAC_SHA256,
                                    .csb_id = csb_id,
                                    .map_type = KMS_MIKEY_MAP_EMPTY};
    m->body.n = 2;
    m->body.pl[0].type = KMS_MIKEY_PT_T;
    m->body.pl[0].u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, kms_mikey_ntp_now()};
    m->body.pl[1].type = KMS_MIKEY_PT_ERR;
    m->body.pl[1].u.err = (struct kms_mikey_err){(uint8_t)w.mikey_err, 0};
    if (r->idrkms != NULL && r->idrkms[0] != '\0') {
        kms_mk_idr(m, 3, 0, r->idrkms); /* role 3: IDRkms; type 0: NAI, as in the answers */
    }
    kms_result rc;
    if (psk == NULL) {
        rc = kms_mikey_encode(m, &r->body);
    } else {
        struct kms_mikey_payload *v = &m->body.pl[m->body.n++];
        v->type = KMS_MIKEY_PT_V;
        v->u.v =
            (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, (struct kms_bytes){zero_mac, 32}};
        rc = kms_mikey_seal(m, psk, 32, prot, &r->body);
    }
    free(m);
    return rc;
}

kms_result kms_service_refuse(struct kms_service_reply *r, enum kms_err why, uint32_t csb_id)
{
    KMS_ENSURE(r != NULL, KMS_ERR_ARG);
    return error_msg(r, why, csb_id, NULL, NULL);
}

static kms_result refuse(struct kms_service_reply *r, enum kms_err why, uint32_t csb_id)
{
    return error_msg(r, why, csb_id, NULL, NULL);
}

/* A policy refusal after the request authenticated: the Error carries V under the request's
 * PSK, MACed as the answer it stands in for (the response label with the request's RAND:
 * RANDRi, or RANDRr of a resolve; docs/protocol.md 5), so the UE can tell a genuine refusal from
 * a forged one. */
static kms_result policy_refusal(struct kms_service_reply *r, uint32_t csb_id, const uint8_t *psk,
                                 const uint8_t rand[16], bool resolve)
{
    const struct kms_mikey_prot p = kms_mk_answer_prot(rand, 16, resolve);
    return error_msg(r, KMS_ERR_POLICY, csb_id, psk, &p);
}

/* A refusal of a token or a message that did not verify: whatever failed in the token or the
 * message itself (AUTH, PROTO, USAGE, an unknown reference) is the one authentication failure;
 * a failure of ours or of a dependency (the store, the BSF, the keyring, the HSM, a full replay
 * cache, memory, the crypto library) stays what it is, and the table answers it (503). */
static kms_result refuse_token(struct kms_service_reply *r, kms_result why, uint32_t csb_id)
{
    enum kms_err e = why.err;
    enum kms_err_group g = kms_err_group(e);
    if (g == KMS_ERR_G_AUTH || g == KMS_ERR_G_PROTO || g == KMS_ERR_G_USAGE ||
        e == KMS_ERR_NOT_FOUND) {
        e = g == KMS_ERR_G_AUTH ? e : KMS_ERR_AUTH;
    }
    return refuse(r, e, csb_id);
}

/* ---- replay hook (timestamp mode) ---- */

struct replay_ctx {
    struct kms_replay *rg;
    const struct kms_service_shared *shared;
    uint8_t token_id[16];
    const uint8_t *rand;
    size_t rand_len;
    uint64_t ts, now;
    struct kms_replay_pair pair; /* set by the check, used by the commit */
    bool checked;
};

static kms_result replay_check(void *ctx, const struct kms_mikey_msg *m)
{
    (void)m;
    struct replay_ctx *c = ctx;
    KMS_TRY(kms_replay_pair_of(c->rg, c->token_id, c->rand, c->rand_len, c->ts, c->now, &c->pair));
    KMS_TRY(kms_replay_check_pair(c->rg, &c->pair, c->ts, c->now));
    c->checked = true;
    return KMS_RESULT_OK;
}

/* kms_mikey_open commits only after the check passed; anything else is a bug. A fleet's shared
 * cache decides first: a pair it refuses, or cannot record, is kept nowhere (a request refused
 * 503 store-unavailable can be sent again once the store is back). */
static kms_result replay_commit(void *ctx, const struct kms_mikey_msg *m)
{
    (void)m;
    struct replay_ctx *c = ctx;
    KMS_ENSURE(c->checked, KMS_ERR_INTERNAL);
    if (c->shared != NULL && c->shared->commit != NULL) {
        KMS_TRY(
            c->shared->commit(c->shared->ctx, c->token_id, c->rand, c->rand_len, c->ts, c->now));
    }
    return kms_replay_commit_pair(c->rg, &c->pair, c->ts, c->now);
}

/* ---- Kue issue ---- */

static bool identity_of(const struct kms_zn_resp *z, const char *id)
{
    if (strcmp(z->impi, id) == 0) {
        return true;
    }
    for (size_t i = 0; i < z->n_impu; i++) {
        if (strcmp(z->impu[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* This KMS's NAF_Id: its FQDN || the Ua security protocol id of the KMS (TS 33.220 B.3),
 * the NAF_Id of the Ks_NAF every Kue it issues comes from. */
static size_t naf_id_of(const struct kms_service *s, uint8_t out[KMS_TICKET_NAF_ID_MAX])
{
    size_t fl = strlen(s->fqdn);
    memcpy(out, s->fqdn, fl);
    memcpy(out + fl, KMS_UA_ID_KMS, KMS_UA_ID_LEN);
    return fl + KMS_UA_ID_LEN;
}

/* A Kue is bound to the NAF whose Ks_NAF it comes from (GBA: NAF-specific keys stay with their
 * NAF): a token another KMS issued, even one sealed under a keyring both share, is refused as
 * any other bad token is. */
static kms_result own_naf(const struct kms_service *s, const struct kms_ticket_claims *c)
{
    uint8_t mine[KMS_TICKET_NAF_ID_MAX];
    size_t n = naf_id_of(s, mine);
    KMS_ENSURE(c->naf_id_len == n && kms_ct_eq(c->naf_id, mine, n), KMS_ERR_TICKET_NAF);
    return KMS_RESULT_OK;
}

/* The grant: Kue from a fresh Kue-RAND; mode 3 seals it, mode 2 stores it. */
static kms_result issue(struct kms_service *s, const struct kms_kue_request *q,
                        const struct kms_zn_resp *z, uint64_t now, struct kms_ticket_claims *c,
                        struct kms_kue_grant *g)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_buf rec, tok;
    kms_buf_init(&rec, KMS_TICKET_MAX, true);
    kms_buf_init_fixed(&tok, g->ticket, sizeof(g->ticket), false);
    uint8_t kue_rand[KMS_KUE_RAND_LEN];
    KMS_TRY_OUT(rc, kms_random_pooled(kue_rand, sizeof(kue_rand)));
    g->mode = q->mode;
    KMS_TRY_OUT(rc, kms_kue_derive(z->ks_naf, kue_rand, g->kue));
    c->kind = KMS_TICKET_KUE;
    memcpy(c->kue, g->kue, KMS_KUE_LEN);
    c->kue_len = KMS_KUE_LEN;
    memcpy(c->token_id, kue_rand, sizeof(c->token_id));
    KMS_TRY_OUT(rc, kms_ticket_ident_set(&c->impi, z->impi));
    for (size_t i = 0; i < z->n_impu && i < KMS_TICKET_MAX_IDENTS; i++) {
        KMS_TRY_OUT(rc, kms_ticket_ident_set(&c->impu[i], z->impu[i]));
    }
    c->n_impu = z->n_impu < KMS_TICKET_MAX_IDENTS ? z->n_impu : KMS_TICKET_MAX_IDENTS;
    c->mode = q->mode;
    c->naf_id_len = naf_id_of(s, c->naf_id);
    c->ks_naf_expires = z->key_expiry;
    /* Kue never outlives its Ks_NAF (design.md 1); sealing also caps it at the key's grace. */
    c->expires = min3(now + s->cfg.kue_lifetime, z->key_expiry, UINT64_MAX);
    c->issued = now;
    if (q->mode == 3) {
        KMS_TRY_OUT(rc, kms_ticket_seal(s->deps.keyring, now, c, &tok));
        g->ticket_len = kms_buf_len(&tok);
    } else {
        /* Mode 2: an unguessable reference; the record is the ticket payload encoding. */
        KMS_TRY_OUT(rc, kms_random_pooled(g->ticket, KMS_KUE_REF_LEN));
        g->ticket_len = KMS_KUE_REF_LEN;
        memcpy(c->token_id, g->ticket, KMS_KUE_REF_LEN); /* the replay key of later requests */
        KMS_TRY_OUT(rc, kms_ticket_payload_encode(c, &rec));
        KMS_TRY_OUT(rc, kms_store_kue_put(s->deps.store, g->ticket, c->expires, kms_buf_data(&rec),
                                          kms_buf_len(&rec)));
    }
    g->valid_from = c->issued;
    g->valid_to = c->expires;
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&rec);
    kms_wipe(kue_rand, sizeof(kue_rand));
    kms_ticket_claims_wipe_used(c);
    return rc;
}

static void detail(struct kms_service_reply *r, const char *what, const struct kms_kue_request *q)
{
    snprintf(r->detail, sizeof(r->detail), "%s mode=%u idri=%.60s btid=%.60s", what, q->mode,
             q->idri, q->btid);
}

/* T alone, before any key is looked up or the BSF is asked: outside the skew is an
 * authentication failure like any other (403); inside it but stamped before this process's
 * replay window opened is the server's own state, 503 `starting` with Retry-After the seconds
 * until the window opens (docs/api.md). *ok when T passes both. The replay hook checks T again
 * with the cache, atomically. */
static kms_result check_time(const struct kms_service *s, uint64_t ntp, uint32_t csb_id,
                             uint64_t now, struct kms_service_reply *r, bool *ok)
{
    *ok = false;
    uint64_t ts = kms_kue_ntp_to_unix(ntp);
    kms_result tr = kms_replay_check_time(s->deps.replay, ts, now);
    /* A fleet's horizon (Redis lost its data, kms_fleet.h) refuses as the restart rule does. */
    uint64_t fleet =
        s->deps.shared.horizon != NULL ? s->deps.shared.horizon(s->deps.shared.ctx) : 0;
    if (kms_ok(tr) && ts < fleet) {
        tr = KMS_ERR(KMS_ERR_REPLAY_RESTART);
    }
    if (kms_ok(tr)) {
        *ok = true;
        return KMS_RESULT_OK;
    }
    if (tr.err == KMS_ERR_REPLAY_RESTART) {
        uint64_t open = kms_replay_open_at(s->deps.replay);
        open = open > fleet ? open : fleet;
        uint64_t wait = open > now ? open - now : 1;
        r->retry_after = (unsigned)(wait < 86400 ? wait : 86400);
    }
    return refuse(r, tr.err, csb_id);
}

/* Ks_NAF for a B-TID. In a kms_service_handle_nowait call only from the source's cache (peek):
 * when that would need a query, the call is marked pending and this fails (with an error the
 * caller handles as any Zn failure; kms_service_handle_nowait then replaces the reply). */
static kms_result zn_query(struct kms_service *s, const char *btid, uint64_t now,
                           struct kms_zn_resp *z)
{
    struct scratch *sc = scratch(); /* this call's: set up by kms_service_handle* */
    KMS_ENSURE(sc != NULL, KMS_ERR_NOMEM);
    if (!sc->zn_nowait) {
        return s->deps.zn.get(s->deps.zn.ctx, btid, now, z);
    }
    bool hit = false;
    if (s->deps.zn.peek != NULL) {
        KMS_TRY(s->deps.zn.peek(s->deps.zn.ctx, btid, now, z, &hit));
    }
    if (!hit) {
        sc->zn_pending = true;
        return KMS_ERR(KMS_ERR_ZN_UNAVAILABLE);
    }
    return KMS_RESULT_OK;
}

static kms_result kue_issue(struct kms_service *s, const uint8_t *req, size_t len,
                            const struct kms_kreq *k, struct scratch *sc, uint64_t now,
                            struct kms_service_reply *r)
{
    const struct kms_kue_request *q = &k->u.kue;
    kms_result rc = KMS_RC_INIT;
    struct kms_zn_resp z;
    struct kms_kue_grant *g = &sc->kg;
    struct kms_mikey_prf_key pk = {0}; /* Ks_NAF for the PRF: request and answer */
    memset(&z, 0, sizeof(z));
    detail(r, "kue-issue", q);
    if (strcmp(q->idrkms, s->fqdn) != 0) {
        KMS_TRY_OUT(rc, refuse(r, KMS_ERR_AUTH, q->csb_id)); /* meant for another KMS */
        goto out;
    }
    bool fresh = false;
    KMS_TRY_OUT(rc, check_time(s, q->ntp, q->csb_id, now, r, &fresh));
    if (!fresh) {
        goto out; /* no Zn query for a stale or early T */
    }
    /* Ks_NAF over Zn (cached by the client for its lifetime). */
    kms_result zr = zn_query(s, q->btid, now, &z);
    if (!kms_ok(zr)) {
        KMS_TRY_OUT(rc,
                    refuse(r, zr.err == KMS_ERR_NOT_FOUND ? KMS_ERR_AUTH : KMS_ERR_ZN_UNAVAILABLE,
                           q->csb_id));
        goto out;
    }
    /* T within the skew, V under Ks_NAF, the replay cache (RFC 3830 5.3 order, in the hook). */
    struct replay_ctx rx = {.rg = s->deps.replay,
                            .shared = &s->deps.shared,
                            .rand = q->randri,
                            .rand_len = sizeof(q->randri),
                            .ts = kms_kue_ntp_to_unix(q->ntp),
                            .now = now};
    uint8_t h[32];
    KMS_TRY_OUT(rc, kms_hmac_sha256((const uint8_t *)"imskms kue-issue", 16,
                                    (const uint8_t *)q->btid, strlen(q->btid), h));
    memcpy(rx.token_id, h, sizeof(rx.token_id));
    struct kms_mikey_replay_hook hook = {replay_check, replay_commit, &rx};
    kms_result vr = kms_kue_request_open_pk(req, len, &k->m, q, z.ks_naf, &pk, &hook);
    if (!kms_ok(vr)) {
        KMS_TRY_OUT(rc, refuse_token(r, vr, q->csb_id));
        goto out;
    }
    if (!identity_of(&z, q->idri)) {
        KMS_TRY_OUT(rc, refuse(r, KMS_ERR_AUTH, q->csb_id)); /* not this bootstrap's identity */
        goto out;
    }
    if ((q->mode == 2 && !s->cfg.mode2) || (q->mode == 3 && !s->cfg.mode3)) {
        /* A policy refusal after authentication: 403 with an Error the UE can verify. */
        KMS_TRY_OUT(rc, policy_refusal(r, q->csb_id, z.ks_naf, q->randri, false));
        goto out;
    }
    /* A mode-2 record that cannot be stored, or a keyring that cannot reserve seals, is
     * answered by kms_service_handle (busy_refusal). */
    KMS_TRY_OUT(rc, issue(s, q, &z, now, &sc->c, g));
    kms_buf_reset(&r->body);
    KMS_TRY_OUT(rc, kms_buf_reserve(&r->body, REPLY_RESERVE));
    KMS_TRY_OUT(rc, kms_kue_response_build_pk(req, len, &k->m, z.ks_naf, &pk, g, &r->body));
    r->status = kms_wire_of(KMS_IFACE_KMS, KMS_OK).status;
    r->why = KMS_OK;
    rc = KMS_RESULT_OK;
out:
    kms_mikey_prf_key_cleanup(&pk);
    kms_zn_resp_wipe(&z);
    kue_grant_wipe(g);
    return rc;
}

/* ---- Kue-protected requests: ticket request and resolve ---- */

/* Mode 1 (design.md 2): IDRpsk is the B-TID of a fresh bootstrap; Ks_NAF comes over Zn and
 * the request's key is Kue1 = PRF(Ks_NAF, "imskms Kue1 v1" || the request's RAND). The claims
 * are the bootstrap's (identities, Ks_NAF expiry); nothing is stored. KMS_ERR_KEY_UNKNOWN for a
 * B-TID the BSF does not know, KMS_ERR_ZN_UNAVAILABLE when the BSF cannot be asked. */
static kms_result btid_claims(struct kms_service *s, const uint8_t *btid, size_t len,
                              const uint8_t rand[16], uint64_t now, struct kms_ticket_claims *c)
{
    char id[KMS_BTID_MAX];
    memcpy(id, btid, len); /* kms_kue_psk_is_btid: len < KMS_BTID_MAX, printable */
    id[len] = '\0';
    struct kms_zn_resp z;
    memset(&z, 0, sizeof(z));
    kms_result rc = KMS_RC_INIT;
    kms_result zr = zn_query(s, id, now, &z);
    if (!kms_ok(zr)) {
        rc = KMS_ERR(zr.err == KMS_ERR_NOT_FOUND ? KMS_ERR_KEY_UNKNOWN : KMS_ERR_ZN_UNAVAILABLE);
        goto out;
    }
    KMS_ENSURE_OUT(rc, now < z.key_expiry, KMS_ERR_TICKET_EXPIRED);
    KMS_TRY_OUT(rc, kms_kue1_derive(z.ks_naf, rand, c->kue));
    c->kue_len = KMS_KUE_LEN;
    uint8_t h[32];
    KMS_TRY_OUT(rc, kms_hmac_sha256((const uint8_t *)"imskms mode-1", 13, btid, len, h));
    memcpy(c->token_id, h, sizeof(c->token_id)); /* the replay key: (B-TID, RAND) */
    KMS_TRY_OUT(rc, kms_ticket_ident_set(&c->impi, z.impi));
    for (size_t i = 0; i < z.n_impu && i < KMS_TICKET_MAX_IDENTS; i++) {
        KMS_TRY_OUT(rc, kms_ticket_ident_set(&c->impu[i], z.impu[i]));
    }
    c->n_impu = z.n_impu < KMS_TICKET_MAX_IDENTS ? z.n_impu : KMS_TICKET_MAX_IDENTS;
    c->mode = 1;
    c->issued = now;
    c->expires = z.key_expiry;
    rc = KMS_RESULT_OK;
out:
    kms_zn_resp_wipe(&z);
    return rc;
}

/* The claims behind an IDRpsk: a B-TID (mode 1, keyed by rand); a 16-octet reference names a
 * stored record (mode 2); anything else is a sealed Kue (mode 3), opened under Kkms (its key's
 * state, grace included, and its expiry checked). Every failure of the token itself is an
 * authentication failure. */
static kms_result token_claims(struct kms_service *s, const uint8_t *tok, size_t len,
                               const uint8_t rand[16], uint64_t now, struct kms_ticket_claims *c)
{
    if (kms_kue_psk_is_btid(tok, len)) {
        return btid_claims(s, tok, len, rand, now, c);
    }
    if (len == KMS_KUE_REF_LEN) {
        struct kms_buf rec;
        kms_buf_init(&rec, KMS_TICKET_MAX, true);
        uint64_t exp = 0;
        kms_result r = kms_store_kue_get(s->deps.store, tok, now, &rec, &exp);
        if (kms_ok(r)) {
            r = kms_ticket_payload_decode(kms_buf_data(&rec), kms_buf_len(&rec), KMS_TICKET_KUE, c);
        }
        kms_buf_cleanup(&rec);
        if (r.err == KMS_ERR_NOT_FOUND || r.err == KMS_ERR_TICKET_FIELD) {
            return KMS_ERR(KMS_ERR_KEY_UNKNOWN); /* no such reference, or expired */
        }
        KMS_TRY(r);
        KMS_ENSURE(c->mode == 2 && now < c->expires, KMS_ERR_TICKET_EXPIRED);
        return own_naf(s, c);
    }
    KMS_TRY(kms_ticket_open(s->deps.keyring, now, tok, len, KMS_TICKET_KUE, c));
    KMS_ENSURE(c->mode == 3, KMS_ERR_TICKET_FIELD);
    return own_naf(s, c);
}

static bool mode_allowed(const struct kms_service *s, uint8_t mode)
{
    return (mode == 1 && s->cfg.mode1) || (mode == 2 && s->cfg.mode2) ||
           (mode == 3 && s->cfg.mode3);
}

/* The keys and validity of a media ticket's claims, as the answers carry them. */
static void grant_of(const struct kms_ticket_claims *m, struct kms_tgrant *g)
{
    memcpy(g->mpk, m->mpk, sizeof(g->mpk));
    memcpy(g->tgk, m->tgk, m->tgk_len);
    g->tgk_len = m->tgk_len;
    g->valid_from = m->issued;
    g->valid_to = m->expires;
    /* The ticket's INITIATOR, for the RESOLVE_RESP's IDRi (docs/protocol.md 13); a request's
     * answer does not carry it. Fits: both are at most 255 octets. */
    size_t il = m->initiator.len < sizeof(g->initiator) ? m->initiator.len : 0;
    memcpy(g->initiator, m->initiator.s, il);
    g->initiator[il] = '\0';
}

/* The checks every Kue-protected request passes, in order: the KMS named, the token's claims
 * (c), T, V under the token's Kue and the replay cache (the hook), the identity, the mode.
 * *ok when they all pass; otherwise the refusal is in r. An error only when no reply could be
 * built. pk: the Kue prepared for the PRF by the verification (after the replay check), for the
 * answer. */
static kms_result authenticate(struct kms_service *s, const uint8_t *req, size_t len,
                               const struct kms_kreq *k, uint64_t now, struct kms_ticket_claims *c,
                               struct kms_mikey_prf_key *pk, struct kms_service_reply *r, bool *ok)
{
    const struct kms_preq *p = &k->u.p;
    *ok = false;
    if (strcmp(p->idrkms, s->fqdn) != 0) {
        return refuse(r, KMS_ERR_AUTH, p->csb_id); /* meant for another KMS */
    }
    kms_result tr = token_claims(s, p->psk_id, p->psk_id_len, p->rand, now, c);
    if (!kms_ok(tr)) {
        return refuse_token(r, tr, p->csb_id);
    }
    struct replay_ctx rx = {.rg = s->deps.replay,
                            .shared = &s->deps.shared,
                            .rand = p->rand,
                            .rand_len = KMS_TMSG_RAND_LEN,
                            .ts = kms_kue_ntp_to_unix(p->ntp),
                            .now = now};
    memcpy(rx.token_id, c->token_id, sizeof(rx.token_id));
    struct kms_mikey_replay_hook hook = {replay_check, replay_commit, &rx};
    kms_result vr = kms_preq_open_pk(req, len, &k->m, p, c->kue, pk, &hook);
    if (!kms_ok(vr)) {
        return refuse_token(r, vr, p->csb_id);
    }
    if (!kms_ticket_claims_name(c, kms_preq_sender(p))) {
        return refuse(r, KMS_ERR_AUTH, p->csb_id); /* a token of someone else */
    }
    if (!mode_allowed(s, c->mode)) {
        return policy_refusal(r, p->csb_id, c->kue, p->rand, p->kind == KMS_PREQ_RESOLVE);
    }
    *ok = true;
    return KMS_RESULT_OK;
}

/* A ticket request: new media keys, sealed with the initiator and the responder for the
 * responder's resolve. A refusal goes into r and leaves *ok false. */
static kms_result grant_request(struct kms_service *s, const struct kms_preq *q,
                                const struct kms_ticket_claims *a, uint64_t now,
                                struct kms_ticket_claims *m, struct kms_tgrant *g,
                                struct kms_service_reply *r, bool *ok)
{
    *ok = false;
    m->kind = KMS_TICKET_MEDIA;
    m->expires = now + s->cfg.ticket_lifetime;
    m->tgk_len = 16; /* an SRTP master key for AES-128 */
    m->mpk_len = KMS_TMSG_MPK_LEN;
    /* One draw for the ticket id, TGK and MPK, from this thread's pool (kms_random_pooled:
     * a DRBG call has a fixed cost of about a microsecond, whatever its length). */
    uint8_t rnd[sizeof(m->token_id) + 16 + KMS_TMSG_MPK_LEN];
    KMS_TRY(kms_random_pooled(rnd, sizeof(rnd)));
    memcpy(m->token_id, rnd, sizeof(m->token_id));
    memcpy(m->tgk, rnd + sizeof(m->token_id), m->tgk_len);
    memcpy(m->mpk, rnd + sizeof(m->token_id) + 16, m->mpk_len);
    kms_wipe(rnd, sizeof(rnd));
    kms_result idr = kms_ticket_ident_set(&m->initiator, q->idri);
    if (kms_ok(idr)) {
        idr = kms_ticket_ident_set(&m->responder[0], q->idrr);
    }
    if (!kms_ok(idr)) {
        return policy_refusal(r, q->csb_id, a->kue, q->rand, false);
    }
    m->n_responder = 1;
    struct kms_buf tok;
    kms_buf_init_fixed(&tok, g->ticket, sizeof(g->ticket), false);
    KMS_TRY(kms_ticket_seal(s->deps.keyring, now, m, &tok));
    g->ticket_len = kms_buf_len(&tok);
    *ok = true;
    return KMS_RESULT_OK;
}

/* A ticket resolve: the media ticket must be one we sealed, valid, and naming this responder.
 * A refusal goes into r and leaves *ok false. */
static kms_result grant_resolve(struct kms_service *s, const struct kms_preq *q, uint64_t now,
                                struct kms_ticket_claims *m, struct kms_service_reply *r, bool *ok)
{
    *ok = false;
    kms_result mr =
        kms_ticket_open(s->deps.keyring, now, q->ticket, q->ticket_len, KMS_TICKET_MEDIA, m);
    if (!kms_ok(mr)) {
        return refuse_token(r, mr, q->csb_id);
    }
    bool named = false;
    for (size_t i = 0; i < m->n_responder; i++) {
        named |= strcmp(m->responder[i].s, q->idrr) == 0;
    }
    if (!named) {
        return refuse(r, KMS_ERR_AUTH, q->csb_id); /* not this ticket's responder */
    }
    *ok = true;
    return KMS_RESULT_OK;
}

/* A ticket request or resolve: authenticate, grant, answer (one tail for both). */
static kms_result ticket(struct kms_service *s, const uint8_t *req, size_t len,
                         const struct kms_kreq *k, struct scratch *sc, uint64_t now,
                         struct kms_service_reply *r)
{
    const struct kms_preq *q = &k->u.p;
    bool request = q->kind == KMS_PREQ_REQUEST;
    kms_result rc = KMS_RC_INIT;
    struct kms_ticket_claims *c = &sc->c, *m = &sc->m;
    struct kms_tgrant *g = &sc->g;
    struct kms_mikey_prf_key pk = {0}; /* the Kue for the PRF: request and answer */
    if (request) {
        snprintf(r->detail, sizeof(r->detail), "ticket-request idri=%.60s idrr=%.60s", q->idri,
                 q->idrr);
    } else {
        snprintf(r->detail, sizeof(r->detail), "ticket-resolve idrr=%.60s", q->idrr);
    }
    bool ok = false;
    KMS_TRY_OUT(rc, check_time(s, q->ntp, q->csb_id, now, r, &ok));
    if (ok) {
        KMS_TRY_OUT(rc, authenticate(s, req, len, k, now, c, &pk, r, &ok));
    }
    if (ok) {
        KMS_TRY_OUT(rc, request ? grant_request(s, q, c, now, m, g, r, &ok)
                                : grant_resolve(s, q, now, m, r, &ok));
    }
    if (ok) {
        grant_of(m, g);
        kms_buf_reset(&r->body);
        KMS_TRY_OUT(rc, kms_buf_reserve(&r->body, REPLY_RESERVE));
        KMS_TRY_OUT(rc, kms_preq_resp_build_pk(req, len, &k->m, c->kue, &pk, g, &r->body));
        r->status = kms_wire_of(KMS_IFACE_KMS, KMS_OK).status;
        r->why = KMS_OK;
    }
    rc = KMS_RESULT_OK;
out:
    kms_mikey_prf_key_cleanup(&pk);
    kms_ticket_claims_wipe_used(c);
    kms_ticket_claims_wipe_used(m);
    tgrant_wipe(g);
    return rc;
}

/* A failure of what the KMS depends on rather than of the request (the error table's busy
 * column: the state store, the keyring's file or token, a full disk, memory) becomes the
 * table's 503 with a MIKEY Error, never a bare 500 (docs/api.md); the HTTP layer adds
 * Imskms-Reason and Retry-After. Anything else stays an error (the daemon's 500). */
static kms_result busy_refusal(kms_result rc, const struct kms_kreq *k, struct kms_service_reply *r)
{
    if (kms_ok(rc) || kms_wire_of(KMS_IFACE_KMS, rc.err).reason == NULL) {
        return rc;
    }
    r->retry_after = 0; /* the table's default */
    return refuse(r, rc.err, k->kind == KMS_KREQ_KUE_ISSUE ? k->u.kue.csb_id : k->u.p.csb_id);
}

static kms_result handle(struct kms_service *s, const uint8_t *req, size_t len, uint64_t now,
                         bool nowait, struct kms_service_reply *r)
{
    KMS_ENSURE(s != NULL && r != NULL && (req != NULL || len == 0), KMS_ERR_ARG);
    r->detail[0] = '\0';
    r->idrkms = s->fqdn;
    r->zn_pending = false;
    if (len == 0 || len > KMS_SERVICE_MSG_MAX) {
        return refuse(r, len == 0 ? KMS_ERR_TRUNCATED : KMS_ERR_TOO_LONG, 0);
    }
    /* Decoded once (kms_kreq): classified, then verified and answered from the same message. */
    struct scratch *sc = scratch();
    KMS_ENSURE(sc != NULL, KMS_ERR_NOMEM);
    sc->zn_nowait = nowait;
    sc->zn_pending = false;
    struct kms_kreq *k = &sc->k;
    size_t eo = 0;
    kms_result rc;
    kms_result pr = kms_kreq_classify(req, len, k, &eo);
    if (!kms_ok(pr)) {
        snprintf(r->detail, sizeof(r->detail), "malformed at offset %zu", eo);
        rc = refuse(r, kms_err_group(pr.err) == KMS_ERR_G_INTERNAL ? pr.err : KMS_ERR_MALFORMED, 0);
    } else if (k->kind == KMS_KREQ_KUE_ISSUE) {
        rc = kue_issue(s, req, len, k, sc, now, r);
    } else {
        rc = ticket(s, req, len, k, sc, now, r);
    }
    if (kms_ok(pr)) {
        rc = busy_refusal(rc, k, r);
    }
    if (sc->zn_pending && kms_ok(rc)) {
        /* Nothing was decided or kept (Zn comes before the replay cache and any grant): the
         * reply is the one to send when the request cannot wait for Zn elsewhere. */
        uint32_t csb_id = k->kind == KMS_KREQ_KUE_ISSUE ? k->u.kue.csb_id : k->u.p.csb_id;
        rc = refuse(r, KMS_ERR_FULL, csb_id);
        r->zn_pending = true;
    }
    sc->zn_nowait = false;
    sc->zn_pending = false;
    kms_kreq_wipe(k);
    return rc;
}

kms_result kms_service_handle(struct kms_service *s, const uint8_t *req, size_t len, uint64_t now,
                              struct kms_service_reply *r)
{
    return handle(s, req, len, now, false, r);
}

kms_result kms_service_handle_nowait(struct kms_service *s, const uint8_t *req, size_t len,
                                     uint64_t now, struct kms_service_reply *r)
{
    return handle(s, req, len, now, true, r);
}

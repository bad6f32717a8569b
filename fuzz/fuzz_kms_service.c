/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the KMS request handler, kms_service_handle (bytes in, reply out, no daemon).
 *
 * Set-up (once, on the first input): a file keyring in a private mkdtemp directory under the
 * fixed fuzz KEK (fuzz_keyring_common.h), and a fake Zn that knows one B-TID (a fixed Ks_NAF,
 * one IMPI, two IMPUs) and answers KMS_ERR_NOT_FOUND for any other. The clock stands still at
 * KF_NOW. Through a real service the set-up then obtains, as a UE would: a mode-3 token (sealed
 * Kue), a mode-2 token (Kue reference, with the store record it names) and a media ticket from
 * IMPU1 for IMPU2.
 *
 * Per input, a fresh world: a memory state store holding only the mode-2 record, a fresh replay
 * guard and a service over them (modes 1, 2 and 3 allowed). So one input's behaviour never depends
 * on the inputs before it (the replay cache and the mode-2 records issued are gone); only the
 * keyring's seal counter moves, which changes no verdict.
 *
 * Input: octet 0 selects
 *   bits 0-1  0 = the rest is the request as is;
 *             1 = a Kue issue (REQUEST_INIT_PSK under Ks_NAF), 2 = a ticket request, 3 = a
 *             ticket resolve, built by the harness; then
 *   bit 2     Kue issue: mode 2 instead of 3; ticket exchanges: the mode-2 token, not mode 3;
 *   bit 3     do not re-MAC after the mutations (the parser and the MAC check alone);
 *   bit 4     send the final request twice (the second must be a replay refusal after a 200,
 *             else the same status as the first);
 *   bit 5     ticket exchanges: mode 1 (IDRpsk the B-TID, PSK Kue1 = PRF(Ks_NAF, "imskms Kue1
 *             v1" || the message's own RAND)) instead of a Kue token; after the mutations the
 *             re-MAC derives Kue1 from the RAND the message then carries.
 * Built requests: octet 1 is T - now in seconds (signed); octet 2 picks the identities (bits 0-1
 * IDRi: IMPU1, IMPI, IMPU2, a stranger; bits 2-3 IDRr: IMPU2, IMPU1, IMPI, a stranger; bit 4
 * another KMS as IDRkms; bit 5 an unknown B-TID (the Kue issue and mode 1) or an unknown
 * 16-octet token). The rest are
 * triples (offset 16-bit big-endian modulo the length, x): XOR x into the octet, or delete it
 * when x is 0. Then the message is decoded and sealed again under the key and identities the
 * service will use, so that the MAC verifies and the checks behind it are reached.
 *
 * Oracles (abort on violation): kms_service_handle succeeds; status 200, 400 or 403 (503 is
 * impossible here: no dependency can fail); the body is one whole MIKEY message; a refusal is
 * an Error with ERR 12 (400) or ERR 0 (403) and no V, or ERR 15 with V (a policy refusal); a
 * 200 is the response its request asks for and opens under the request's key, its content
 * matching what was asked (the identities the token names, the time within the skew, a sealed
 * Kue or a stored record holding the granted Kue, a media ticket for the named responder with
 * the granted keys, the resolve giving the keys of the set-up's media ticket); the body never
 * holds, in clear, Ks_NAF, a Kue (the set-up's two, the request's Kue1) or any Kue, MPK or TGK
 * the reply grants (each key's two halves searched); an unmutated built request gets exactly
 * the verdict its parameters imply; the reply cleanup leaves the body empty and freed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "keyring/kms_keyring.h"
#include "kms/kms_kreq.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_service.h"
#include "kms/kms_ticket_msg.h"
#include "mikey/kms_mikey.h"
#include "mikey/kms_mikey_msg.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "ticket/kms_ticket.h"
#include "util/kms_mem.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW       KF_NOW
#define SKEW      60
#define KUE_LIFE  600
#define TKT_LIFE  60
#define KEY_LIFE  3600 /* Ks_NAF expiry, from NOW */
#define FQDN      "kms.example.org"
#define OTHER_KMS "other-kms.example.org"
#define BTID      "fuzzBTID0000000000000A==@bsf.example.org"
#define BTID_BAD  "fuzzBTID0000000000000B==@bsf.example.org"
#define IMPI      "alice@ims.example.org"
#define IMPU1     "sip:+15550001@ims.example.org"
#define IMPU2     "sip:+15550002@ims.example.org"
#define STRANGER  "sip:mallory@ims.example.org"
#define CSB_ID    0x2a5b8c01u /* fixed, so that built requests are the same in every run */
#define MAX_MUT   64
#define YEARS(n)  (UINT64_C(n) * 365 * 86400)

enum kind { K_RAW = 0, K_ISSUE = 1, K_TREQ = 2, K_TRES = 3, K_NONE = 4 };

static const uint8_t KS_NAF[32] = {0x4b, 0x73, 0x5f, 0x4e, 0x41, 0x46, 0x20, 0x66, 0x75, 0x7a, 0x7a,
                                   0x20, 0x6b, 0x65, 0x79, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                   0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const char *const ID_I[4] = {IMPU1, IMPI, IMPU2, STRANGER};
static const char *const ID_R[4] = {IMPU2, IMPU1, IMPI, STRANGER};
static const uint8_t UNKNOWN_REF[KMS_KUE_REF_LEN] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                                     5,    6,    7,    8,    9, 10, 11, 12};

/* What the set-up obtained. Test material, wiped at exit all the same. */
static struct {
    bool ready;
    struct kms_keystore *ks;
    struct kms_keyring *kr;
    uint8_t kue3[KMS_KUE_LEN], tok3[KMS_TICKET_MAX];
    size_t tok3_len;
    uint8_t kue2[KMS_KUE_LEN], ref2[KMS_KUE_REF_LEN], rec2[KMS_TICKET_MAX];
    size_t rec2_len;
    uint64_t rec2_exp;
    uint8_t mt[KMS_TICKET_MAX], mt_mpk[KMS_TMSG_MPK_LEN], mt_tgk[KMS_TMSG_TGK_MAX];
    size_t mt_len, mt_tgk_len;
} g;

/* One input's state: the store, the replay guard and the service over them. */
struct world {
    struct kms_store *st;
    struct kms_replay *rg;
    struct kms_service *svc;
};

/* ---- the fake Zn ---- */

static kms_result zn_get(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    (void)ctx;
    (void)now;
    memset(out, 0, sizeof(*out));
    if (strcmp(btid, BTID) != 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    strcpy(out->impi, IMPI);
    strcpy(out->impu[0], IMPU1);
    strcpy(out->impu[1], IMPU2);
    out->n_impu = 2;
    memcpy(out->ks_naf, KS_NAF, sizeof(KS_NAF));
    out->bootstrap_time = NOW - 10;
    out->key_expiry = NOW + KEY_LIFE;
    return KMS_RESULT_OK;
}

static bool is_subscriber(const char *id)
{
    return strcmp(id, IMPI) == 0 || strcmp(id, IMPU1) == 0 || strcmp(id, IMPU2) == 0;
}

/* ---- set-up ---- */

static void teardown(void)
{
    kms_keyring_close(g.kr);
    kms_keystore_close(g.ks);
    kms_wipe(&g, sizeof(g));
}

static void world_new(struct world *w)
{
    uint8_t kek[32];
    struct kms_store_backend *be = NULL;
    memset(w, 0, sizeof(*w));
    kf_kek(kek);
    kf_setup_ok(kms_store_backend_memory(8, &be), "memory store");
    kf_setup_ok(kms_store_new(be, kek, &w->st), "store");
    kms_wipe(kek, sizeof(kek));
    if (g.rec2_len > 0) {
        kf_setup_ok(kms_store_kue_put(w->st, g.ref2, g.rec2_exp, g.rec2, g.rec2_len), "mode-2 rec");
    }
    const struct kms_replay_cfg rc = {.skew = SKEW, .max_entries = 16};
    kf_setup_ok(kms_replay_new(&rc, NOW - 1000, &w->rg), "replay guard");
    const struct kms_service_cfg cfg = {.fqdn = FQDN,
                                        .mode1 = true,
                                        .mode2 = true,
                                        .mode3 = true,
                                        .kue_lifetime = KUE_LIFE,
                                        .ticket_lifetime = TKT_LIFE};
    const struct kms_service_deps deps = {g.kr, w->st, w->rg, {NULL, zn_get, NULL}, {0}};
    kf_setup_ok(kms_service_new(&cfg, &deps, &w->svc), "service");
}

static void world_free(struct world *w)
{
    kms_service_free(w->svc);
    kms_replay_free(w->rg);
    kms_store_close(w->st);
    memset(w, 0, sizeof(*w));
}

/* Serves req in w; set-up only: a 200 is required. */
static void setup_serve(struct world *w, const struct kms_buf *req, struct kms_service_reply *r)
{
    kms_service_reply_init(r);
    kf_setup_ok(kms_service_handle(w->svc, kms_buf_data(req), kms_buf_len(req), NOW, r), "serve");
    if (r->status != 200) {
        fprintf(stderr, "fuzz set-up: status %d (%s)\n", r->status, kms_err_name(r->why));
        exit(2);
    }
}

static void setup_kue(struct world *w, uint8_t mode, uint8_t kue[KMS_KUE_LEN], uint8_t *tok,
                      size_t *tok_len)
{
    struct kms_kue_request q;
    struct kms_kue_grant *gr = calloc(1, sizeof(*gr));
    struct kms_buf req;
    struct kms_service_reply r;
    if (gr == NULL) {
        exit(2);
    }
    memset(&q, 0, sizeof(q));
    q.mode = mode;
    strcpy(q.idri, IMPU1);
    strcpy(q.idrkms, FQDN);
    strcpy(q.btid, BTID);
    memset(q.randri, mode, sizeof(q.randri));
    q.ntp = kms_mikey_ntp_from_unix((int64_t)NOW, 0);
    kms_buf_init(&req, KMS_SERVICE_MSG_MAX, false);
    kf_setup_ok(kms_kue_request_build(&q, KS_NAF, &req), "kue request");
    setup_serve(w, &req, &r);
    kf_setup_ok(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                                      kms_buf_len(&r.body), KS_NAF, gr),
                "kue response");
    memcpy(kue, gr->kue, KMS_KUE_LEN);
    memcpy(tok, gr->ticket, gr->ticket_len);
    *tok_len = gr->ticket_len;
    kms_wipe(gr, sizeof(*gr));
    free(gr);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);
}

static void setup(void)
{
    const char *path = kf_dir_make();
    g.ks = kf_keystore();
    if (atexit(teardown) != 0) { /* runs before kf_dir_remove: close, then remove */
        exit(2);
    }
    const struct kms_keyring_policy pol = {
        .lifetime = YEARS(50), .grace = YEARS(50), .max_seals = UINT64_C(1) << 32};
    kf_setup_ok(kms_keyring_create(path, g.ks, &pol, NOW - 1000, &g.kr), "keyring create");

    struct world w;
    world_new(&w);
    setup_kue(&w, 3, g.kue3, g.tok3, &g.tok3_len);
    size_t ref_len = 0;
    setup_kue(&w, 2, g.kue2, g.ref2, &ref_len);
    if (ref_len != KMS_KUE_REF_LEN) {
        exit(2);
    }
    struct kms_buf rec;
    kms_buf_init(&rec, sizeof(g.rec2), true);
    kf_setup_ok(kms_store_kue_get(w.st, g.ref2, NOW, &rec, &g.rec2_exp), "mode-2 record");
    memcpy(g.rec2, kms_buf_data(&rec), kms_buf_len(&rec));
    g.rec2_len = kms_buf_len(&rec);
    kms_buf_cleanup(&rec);

    /* The media ticket every resolve asks about: IMPU1 asks for IMPU2 with the mode-3 token. */
    struct kms_preq *q = calloc(1, sizeof(*q));
    struct kms_tgrant *gr = calloc(1, sizeof(*gr));
    if (q == NULL || gr == NULL) {
        exit(2);
    }
    strcpy(q->idri, IMPU1);
    strcpy(q->idrkms, FQDN);
    strcpy(q->idrr, IMPU2);
    memcpy(q->psk_id, g.tok3, g.tok3_len);
    q->psk_id_len = g.tok3_len;
    memset(q->rand, 0x33, sizeof(q->rand));
    q->ntp = kms_mikey_ntp_from_unix((int64_t)NOW, 0);
    struct kms_buf req;
    struct kms_service_reply r;
    kms_buf_init(&req, KMS_SERVICE_MSG_MAX, false);
    q->kind = KMS_PREQ_REQUEST;
    kf_setup_ok(kms_preq_build(q, g.kue3, &req), "ticket request");
    setup_serve(&w, &req, &r);
    kf_setup_ok(kms_tresp_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                               kms_buf_len(&r.body), g.kue3, gr),
                "ticket response");
    memcpy(g.mt, gr->ticket, gr->ticket_len);
    g.mt_len = gr->ticket_len;
    memcpy(g.mt_mpk, gr->mpk, sizeof(g.mt_mpk));
    memcpy(g.mt_tgk, gr->tgk, gr->tgk_len);
    g.mt_tgk_len = gr->tgk_len;
    kms_wipe(gr, sizeof(*gr));
    free(gr);
    free(q);
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);
    world_free(&w);
    g.ready = true;
}

static void once(void)
{
    if (!g.ready) {
        setup();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    once();
    return 0;
}

/* ---- what a request is, as the service reads it ---- */

struct peeked {
    enum kind kind;
    struct kms_kue_request kq;
    struct kms_preq tq;
    struct kms_preq rq;
};

/* The service's classifier (kms_kreq), its verdict copied out. */
static void peek(const uint8_t *msg, size_t len, struct peeked *p)
{
    size_t eo = 0;
    memset(p, 0, sizeof(*p));
    struct kms_kreq *k = calloc(1, sizeof(*k));
    KF_CHECK(k != NULL);
    if (!kms_ok(kms_kreq_classify(msg, len, k, &eo))) {
        p->kind = K_NONE;
    } else if (k->kind == KMS_KREQ_KUE_ISSUE) {
        p->kind = K_ISSUE;
        p->kq = k->u.kue;
    } else if (k->u.p.kind == KMS_PREQ_REQUEST) {
        p->kind = K_TREQ;
        p->tq = k->u.p;
    } else {
        p->kind = K_TRES;
        p->rq = k->u.p;
    }
    kms_kreq_wipe(k);
    free(k);
}

/* The Kue of a token the set-up obtained, or NULL. */
static const uint8_t *kue_of(const uint8_t *tok, size_t len)
{
    if (len == g.tok3_len && memcmp(tok, g.tok3, len) == 0) {
        return g.kue3;
    }
    if (len == KMS_KUE_REF_LEN && memcmp(tok, g.ref2, len) == 0) {
        return g.kue2;
    }
    return NULL;
}

/* The key the service checks a ticket request or resolve against, when one exists: the Kue of
 * a set-up token, or (mode 1) Kue1 from the known B-TID's Ks_NAF and the message's RAND, into
 * buf. NULL for an unknown token or B-TID. */
static const uint8_t *psk_key(const uint8_t *psk, size_t len, const uint8_t rand[16],
                              uint8_t buf[KMS_KUE_LEN])
{
    if (kms_kue_psk_is_btid(psk, len)) {
        if (len != strlen(BTID) || memcmp(psk, BTID, len) != 0) {
            return NULL;
        }
        KF_CHECK(kms_ok(kms_kue1_derive(KS_NAF, rand, buf)));
        return buf;
    }
    return kue_of(psk, len);
}

static bool within_skew(uint64_t ntp)
{
    uint64_t ts = kms_kue_ntp_to_unix(ntp);
    return ts + SKEW >= NOW && ts <= NOW + SKEW;
}

/* Decodes msg and seals it again, under the key and with the identities the service uses for
 * it (CSB ID replaced when csb is set). False when msg is not a request the service serves or
 * cannot be sealed as it is (no V of HMAC-SHA-256-256 at the end). */
static bool reseal(const uint8_t *msg, size_t len, bool csb, struct kms_buf *out)
{
    struct peeked *p = calloc(1, sizeof(*p));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    bool ok = false;
    if (p == NULL || m == NULL) {
        abort();
    }
    peek(msg, len, p);
    const uint8_t *key = NULL;
    uint8_t kue1[KMS_KUE_LEN];
    const char *id1 = NULL, *id2 = NULL;
    switch (p->kind) {
    case K_ISSUE:
        key = KS_NAF;
        id1 = p->kq.idri;
        id2 = p->kq.idrkms;
        break;
    case K_TREQ:
        key = psk_key(p->tq.psk_id, p->tq.psk_id_len, p->tq.rand, kue1);
        id1 = p->tq.idri;
        id2 = p->tq.idrkms;
        break;
    case K_TRES:
        key = psk_key(p->rq.psk_id, p->rq.psk_id_len, p->rq.rand, kue1);
        id1 = p->rq.idrr;
        id2 = p->rq.idrkms;
        break;
    default:
        goto out;
    }
    if (key == NULL) {
        key = g.kue3; /* an unknown token: no key makes it pass */
    }
    size_t eo = 0;
    if (!kms_ok(kms_mikey_decode(msg, len, m, &eo))) {
        goto out; /* the peek decoded it: cannot happen */
    }
    if (csb) {
        m->hdr.csb_id = CSB_ID;
    }
    const struct kms_iov ids[2] = {{(const uint8_t *)id1, strlen(id1)},
                                   {(const uint8_t *)id2, strlen(id2)}};
    const struct kms_mikey_prot pr = {.keying = KMS_MIKEY_KEYING_INITIAL,
                                      .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                                      .extra = ids,
                                      .n_extra = 2};
    kms_buf_reset(out);
    ok = kms_ok(kms_mikey_seal(m, key, 32, &pr, out));
out:
    kms_wipe(kue1, sizeof(kue1));
    free(m);
    free(p);
    return ok;
}

/* ---- building requests ---- */

struct params {
    enum kind kind;
    bool mode2;       /* Kue issue in mode 2; the mode-2 token for the ticket exchanges */
    bool mode1;       /* ticket exchanges in mode 1: the B-TID and Kue1 (over mode2) */
    int64_t dt;       /* T - now */
    const char *idri; /* also the IDRr of a resolve: ID_R */
    const char *idrr;
    bool other_kms, unknown; /* IDRkms; B-TID or token */
};

/* The request p describes, with the fixed CSB ID. */
static void build(const struct params *p, struct kms_buf *out)
{
    struct kms_buf tmp;
    const uint64_t ntp = kms_mikey_ntp_from_unix((int64_t)NOW + p->dt, 0);
    const char *kms = p->other_kms ? OTHER_KMS : FQDN;
    const uint8_t *tok = p->mode2 ? g.ref2 : g.tok3;
    size_t tok_len = p->mode2 ? KMS_KUE_REF_LEN : g.tok3_len;
    const uint8_t *kue = p->mode2 ? g.kue2 : g.kue3;
    const char *btid = p->unknown ? BTID_BAD : BTID;
    uint8_t kue1[KMS_KUE_LEN];
    if (p->mode1) {
        tok = (const uint8_t *)btid; /* Kue1 is derived below, from the message's RAND */
        tok_len = strlen(btid);
        kue = kue1;
    } else if (p->unknown) {
        tok = UNKNOWN_REF;
        tok_len = sizeof(UNKNOWN_REF);
    }
    kms_buf_init(&tmp, KMS_SERVICE_MSG_MAX, false);
    kms_result rc = KMS_RESULT_OK;
    if (p->kind == K_ISSUE) {
        struct kms_kue_request q;
        memset(&q, 0, sizeof(q));
        q.mode = p->mode2 ? 2 : 3;
        strcpy(q.idri, p->idri);
        strcpy(q.idrkms, kms);
        strcpy(q.btid, btid);
        memset(q.randri, 0xa1, sizeof(q.randri));
        q.ntp = ntp;
        rc = kms_kue_request_build(&q, KS_NAF, &tmp);
    } else if (p->kind == K_TREQ) {
        struct kms_preq *q = calloc(1, sizeof(*q));
        KF_CHECK(q != NULL);
        strcpy(q->idri, p->idri);
        strcpy(q->idrkms, kms);
        strcpy(q->idrr, p->idrr);
        memcpy(q->psk_id, tok, tok_len);
        q->psk_id_len = tok_len;
        memset(q->rand, 0xa2, sizeof(q->rand));
        q->ntp = ntp;
        KF_CHECK(kms_ok(kms_kue1_derive(KS_NAF, q->rand, kue1)));
        q->kind = KMS_PREQ_REQUEST;
        rc = kms_preq_build(q, kue, &tmp);
        free(q);
    } else {
        struct kms_preq *q = calloc(1, sizeof(*q));
        KF_CHECK(q != NULL);
        strcpy(q->idrr, p->idrr);
        strcpy(q->idrkms, kms);
        memcpy(q->psk_id, tok, tok_len);
        q->psk_id_len = tok_len;
        memcpy(q->ticket, g.mt, g.mt_len);
        q->ticket_len = g.mt_len;
        memset(q->rand, 0xa3, sizeof(q->rand));
        q->ntp = ntp;
        KF_CHECK(kms_ok(kms_kue1_derive(KS_NAF, q->rand, kue1)));
        q->kind = KMS_PREQ_RESOLVE;
        rc = kms_preq_build(q, kue, &tmp);
        free(q);
    }
    KF_CHECK(kms_ok(rc));
    KF_CHECK(reseal(kms_buf_data(&tmp), kms_buf_len(&tmp), true, out));
    kms_wipe(kue1, sizeof(kue1));
    kms_buf_cleanup(&tmp);
}

/* The parameters of a built request: selector octet sel, octets b1 (T - now) and b2 (ids). */
static void params_of(uint8_t sel, uint8_t b1, uint8_t b2, struct params *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = (enum kind)(sel & 3);
    p->mode2 = (sel & 4) != 0;
    p->mode1 = (sel & 0x20) != 0 && (p->kind == K_TREQ || p->kind == K_TRES);
    p->dt = (int8_t)b1;
    p->idri = ID_I[b2 & 3];
    p->idrr = ID_R[(b2 >> 2) & 3];
    p->other_kms = (b2 & 0x10) != 0;
    p->unknown = (b2 & 0x20) != 0;
}

/* The verdict an unmutated built request must get. */
static int expected_status(const struct params *p)
{
    bool ok = !p->other_kms && !p->unknown && p->dt >= -SKEW && p->dt <= SKEW;
    if (p->kind == K_ISSUE || p->kind == K_TREQ) {
        ok = ok && is_subscriber(p->idri);
    }
    if (p->kind == K_TRES) {
        ok = ok && strcmp(p->idrr, IMPU2) == 0; /* the set-up's ticket names IMPU2 only */
    }
    return ok ? 200 : 403;
}

/* Applies the (offset, x) triples: XOR, or delete the octet when x is 0. */
static size_t mutate(uint8_t *msg, size_t len, const uint8_t *t, size_t n)
{
    for (size_t i = 0; i + 3 <= n && i / 3 < MAX_MUT && len > 0; i += 3) {
        size_t off = ((size_t)t[i] << 8 | t[i + 1]) % len;
        if (t[i + 2] != 0) {
            msg[off] ^= t[i + 2];
        } else {
            memmove(msg + off, msg + off + 1, len - off - 1);
            len--;
        }
    }
    return len;
}

/* ---- oracles ---- */

/* The keys no reply may carry in clear. */
#define MAX_SECRETS 8
struct secrets {
    size_t n;
    uint8_t k[MAX_SECRETS][32];
    size_t len[MAX_SECRETS];
};

static void add_secret(struct secrets *s, const uint8_t *k, size_t len)
{
    KF_CHECK(s->n < MAX_SECRETS && len >= 16 && len <= 32);
    memcpy(s->k[s->n], k, len);
    s->len[s->n] = len;
    s->n++;
}

static bool contains(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; n > 0 && i + n <= hn; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Neither half of any secret occurs in body (a key cut in two by the encoding is found too). */
static void check_no_secret(const struct secrets *s, const uint8_t *body, size_t n)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t h = s->len[i] / 2;
        KF_CHECK(!contains(body, n, s->k[i], h));
        KF_CHECK(!contains(body, n, s->k[i] + h, s->len[i] - h));
    }
}

static void check_error(const struct kms_service_reply *r, const struct kms_mikey_msg *m)
{
    const struct kms_mikey_payload *err = NULL;
    bool v = false;
    KF_CHECK(m->hdr.data_type == KMS_MIKEY_DT_ERROR);
    KF_CHECK(r->why != KMS_OK);
    for (size_t i = 0; i < m->body.n; i++) {
        if (m->body.pl[i].type == KMS_MIKEY_PT_ERR && err == NULL) {
            err = &m->body.pl[i];
        }
        v |= m->body.pl[i].type == KMS_MIKEY_PT_V;
    }
    KF_CHECK(err != NULL);
    if (r->status == 400) {
        KF_CHECK(err->u.err.err_no == 12 && !v);
    } else {
        KF_CHECK(r->status == 403);
        KF_CHECK(v ? err->u.err.err_no == 15 : err->u.err.err_no == 0);
    }
}

static bool same_str(const struct kms_ticket_ident *a, const char *b)
{
    return strcmp(a->s, b) == 0;
}

static void check_issue(const struct world *w, const uint8_t *req, size_t len,
                        const struct kms_kue_request *q, const struct kms_buf *body,
                        struct secrets *sec)
{
    struct kms_kue_grant *gr = calloc(1, sizeof(*gr));
    struct kms_ticket_claims *c = calloc(1, sizeof(*c));
    KF_CHECK(gr != NULL && c != NULL);
    KF_CHECK(strcmp(q->btid, BTID) == 0 && strcmp(q->idrkms, FQDN) == 0);
    KF_CHECK(is_subscriber(q->idri) && within_skew(q->ntp));
    KF_CHECK(
        kms_ok(kms_kue_response_open(req, len, kms_buf_data(body), kms_buf_len(body), KS_NAF, gr)));
    add_secret(sec, gr->kue, sizeof(gr->kue));
    KF_CHECK(gr->mode == q->mode && gr->valid_from == NOW && gr->valid_to == NOW + KUE_LIFE);
    if (q->mode == 3) {
        KF_CHECK(kms_ok(kms_ticket_open(g.kr, NOW, gr->ticket, gr->ticket_len, KMS_TICKET_KUE, c)));
    } else {
        struct kms_buf rec;
        uint64_t exp = 0;
        kms_buf_init(&rec, KMS_TICKET_MAX, true);
        KF_CHECK(gr->ticket_len == KMS_KUE_REF_LEN);
        KF_CHECK(kms_ok(kms_store_kue_get(w->st, gr->ticket, NOW, &rec, &exp)));
        KF_CHECK(kms_ok(
            kms_ticket_payload_decode(kms_buf_data(&rec), kms_buf_len(&rec), KMS_TICKET_KUE, c)));
        kms_buf_cleanup(&rec);
    }
    KF_CHECK(c->mode == q->mode && c->kue_len == KMS_KUE_LEN);
    KF_CHECK(memcmp(c->kue, gr->kue, KMS_KUE_LEN) == 0);
    KF_CHECK(same_str(&c->impi, IMPI) && c->n_impu == 2);
    kms_ticket_claims_wipe(c);
    free(c);
    kms_wipe(gr, sizeof(*gr));
    free(gr);
}

static void check_treq(const uint8_t *req, size_t len, const struct kms_preq *q,
                       const struct kms_buf *body, struct secrets *sec)
{
    uint8_t kue1[KMS_KUE_LEN];
    const uint8_t *kue = psk_key(q->psk_id, q->psk_id_len, q->rand, kue1);
    struct kms_tgrant *gr = calloc(1, sizeof(*gr));
    struct kms_ticket_claims *c = calloc(1, sizeof(*c));
    KF_CHECK(gr != NULL && c != NULL);
    KF_CHECK(kue != NULL); /* only the set-up's tokens and B-TID exist */
    KF_CHECK(strcmp(q->idrkms, FQDN) == 0 && is_subscriber(q->idri) && within_skew(q->ntp));
    KF_CHECK(kms_ok(kms_tresp_open(req, len, kms_buf_data(body), kms_buf_len(body), kue, gr)));
    add_secret(sec, gr->mpk, sizeof(gr->mpk));
    add_secret(sec, gr->tgk, gr->tgk_len);
    KF_CHECK(gr->valid_to == NOW + TKT_LIFE);
    KF_CHECK(kms_ok(kms_ticket_open(g.kr, NOW, gr->ticket, gr->ticket_len, KMS_TICKET_MEDIA, c)));
    KF_CHECK(same_str(&c->initiator, q->idri));
    KF_CHECK(c->n_responder == 1 && same_str(&c->responder[0], q->idrr));
    KF_CHECK(c->tgk_len == gr->tgk_len && memcmp(c->tgk, gr->tgk, gr->tgk_len) == 0);
    KF_CHECK(c->mpk_len == KMS_TMSG_MPK_LEN && memcmp(c->mpk, gr->mpk, KMS_TMSG_MPK_LEN) == 0);
    kms_ticket_claims_wipe(c);
    free(c);
    kms_wipe(kue1, sizeof(kue1));
    kms_wipe(gr, sizeof(*gr));
    free(gr);
}

static void check_tres(const uint8_t *req, size_t len, const struct kms_preq *q,
                       const struct kms_buf *body, struct secrets *sec)
{
    uint8_t kue1[KMS_KUE_LEN];
    const uint8_t *kue = psk_key(q->psk_id, q->psk_id_len, q->rand, kue1);
    struct kms_tgrant *gr = calloc(1, sizeof(*gr));
    KF_CHECK(gr != NULL);
    KF_CHECK(kue != NULL);
    KF_CHECK(strcmp(q->idrkms, FQDN) == 0 && strcmp(q->idrr, IMPU2) == 0 && within_skew(q->ntp));
    KF_CHECK(q->ticket_len == g.mt_len && memcmp(q->ticket, g.mt, g.mt_len) == 0);
    KF_CHECK(kms_ok(kms_rresp_open(req, len, kms_buf_data(body), kms_buf_len(body), kue, gr)));
    add_secret(sec, gr->mpk, sizeof(gr->mpk));
    add_secret(sec, gr->tgk, gr->tgk_len);
    KF_CHECK(gr->tgk_len == g.mt_tgk_len && memcmp(gr->tgk, g.mt_tgk, g.mt_tgk_len) == 0);
    KF_CHECK(memcmp(gr->mpk, g.mt_mpk, sizeof(g.mt_mpk)) == 0);
    kms_wipe(kue1, sizeof(kue1));
    kms_wipe(gr, sizeof(*gr));
    free(gr);
}

/* Serves req (an exact-size heap copy) once and checks the reply; returns the status. */
static int serve_check(struct world *w, const uint8_t *req, size_t len)
{
    struct kms_service_reply r;
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    struct peeked *p = calloc(1, sizeof(*p));
    struct secrets *sec = calloc(1, sizeof(*sec));
    uint8_t *q = kf_dup(req, len, 0);
    uint8_t kue1[KMS_KUE_LEN];
    KF_CHECK(m != NULL && p != NULL && sec != NULL);
    kms_service_reply_init(&r);
    KF_CHECK(kms_ok(kms_service_handle(w->svc, q, len, NOW, &r)));
    KF_CHECK(r.status == 200 || r.status == 400 || r.status == 403);
    KF_CHECK(kms_buf_len(&r.body) > 0);
    size_t eo = 0;
    KF_CHECK(kms_ok(kms_mikey_decode(kms_buf_data(&r.body), kms_buf_len(&r.body), m, &eo)));
    peek(q, len, p);
    /* Ks_NAF, the set-up's Kues and the request's own Kue1 never appear in a reply; what a 200
     * grants is added by its check. */
    add_secret(sec, KS_NAF, sizeof(KS_NAF));
    add_secret(sec, g.kue2, sizeof(g.kue2));
    add_secret(sec, g.kue3, sizeof(g.kue3));
    if (p->kind == K_TREQ && kms_kue_psk_is_btid(p->tq.psk_id, p->tq.psk_id_len)) {
        KF_CHECK(kms_ok(kms_kue1_derive(KS_NAF, p->tq.rand, kue1)));
        add_secret(sec, kue1, sizeof(kue1));
    } else if (p->kind == K_TRES && kms_kue_psk_is_btid(p->rq.psk_id, p->rq.psk_id_len)) {
        KF_CHECK(kms_ok(kms_kue1_derive(KS_NAF, p->rq.rand, kue1)));
        add_secret(sec, kue1, sizeof(kue1));
    }
    if (r.status != 200) {
        check_error(&r, m);
        KF_CHECK(r.status == 403 || p->kind == K_NONE); /* what peeks well is not malformed */
    } else {
        KF_CHECK(r.why == KMS_OK);
        switch (p->kind) {
        case K_ISSUE:
            KF_CHECK(m->hdr.data_type == KMS_MIKEY_DT_REQUEST_RESP);
            check_issue(w, q, len, &p->kq, &r.body, sec);
            break;
        case K_TREQ:
            KF_CHECK(m->hdr.data_type == KMS_MIKEY_DT_REQUEST_RESP);
            check_treq(q, len, &p->tq, &r.body, sec);
            break;
        case K_TRES:
            KF_CHECK(m->hdr.data_type == KMS_MIKEY_DT_RESOLVE_RESP);
            check_tres(q, len, &p->rq, &r.body, sec);
            break;
        default:
            KF_CHECK(!"a 200 for bytes that are no request");
        }
    }
    check_no_secret(sec, kms_buf_data(&r.body), kms_buf_len(&r.body));
    int status = r.status;
    if (getenv("KMS_FUZZ_TRACE") != NULL) { /* which verdicts a corpus reaches */
        fprintf(stderr, "kms_service: kind %d status %d %s\n", (int)p->kind, status,
                kms_err_name(r.why));
    }
    kms_service_reply_cleanup(&r);
    KF_CHECK(r.body.d == NULL && kms_buf_len(&r.body) == 0);
    kms_wipe(p, sizeof(*p));
    kms_wipe(sec, sizeof(*sec));
    kms_wipe(kue1, sizeof(kue1));
    free(p);
    free(sec);
    free(m);
    free(q);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    once();
    const uint8_t sel = data[0];
    struct kms_buf req;
    struct params p;
    int expect = 0;
    memset(&p, 0, sizeof(p));
    p.kind = (enum kind)(sel & 3);
    kms_buf_init(&req, KMS_SERVICE_MSG_MAX, false);
    if (p.kind == K_RAW) {
        KF_CHECK(kms_ok(kms_buf_put_bytes(&req, data + 1, size - 1)));
    } else {
        params_of(sel, size > 1 ? data[1] : 0, size > 2 ? data[2] : 0, &p);
        build(&p, &req);
        size_t n = size > 3 ? size - 3 : 0;
        size_t len = mutate(req.d, kms_buf_len(&req), data + 3, n);
        kms_buf_truncate(&req, len);
        if (n < 3) {
            expect = expected_status(&p);
        }
        if ((sel & 8) == 0 && n >= 3) {
            struct kms_buf re;
            kms_buf_init(&re, KMS_SERVICE_MSG_MAX, false);
            if (reseal(kms_buf_data(&req), kms_buf_len(&req), false, &re)) {
                kms_buf_reset(&req);
                KF_CHECK(kms_ok(kms_buf_put_bytes(&req, kms_buf_data(&re), kms_buf_len(&re))));
            }
            kms_buf_cleanup(&re);
        }
    }
    struct world w;
    world_new(&w);
    int first = serve_check(&w, kms_buf_data(&req), kms_buf_len(&req));
    if (expect != 0) {
        KF_CHECK(first == expect);
    }
    if ((sel & 16) != 0) {
        int second = serve_check(&w, kms_buf_data(&req), kms_buf_len(&req));
        KF_CHECK(second == (first == 200 ? 403 : first));
    }
    world_free(&w);
    kms_buf_cleanup(&req);
    return 0;
}

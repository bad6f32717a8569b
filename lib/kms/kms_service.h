/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_service: the KMS's request handler, bytes in, reply out (the daemon only adds HTTP; the
 * fuzz target drives it directly). Everything it needs is passed in: the keyring, the state
 * store (mode-2 Kues), the replay guard and a Ks_NAF source (the Zn client).
 *
 * Replies (design.md section 2):
 *   200  the response message;
 *   400  bytes that do not decode as a request we serve: a MIKEY Error (Unspecified), no V;
 *   403  any authentication failure (MAC, unknown B-TID or token, wrong identity, expired,
 *        replay, skew): one answer, a MIKEY Error (Auth failure) without V;
 *   a policy refusal after authentication (mode not allowed, KMS_ERR_POLICY): 403 with an
 *        Error (Invalid TPpar) MACed under the request's key, so the UE can tell it apart;
 *   503  a dependency is down (the BSF): an Error (Unspecified), no V.
 * The statuses and error numbers are the error table's (include/imskms/err_table.h); the handler
 * only names the error. The reason is in reply->why and reply->detail, for the log only.
 */
#ifndef KMS_KMS_SERVICE_H
#define KMS_KMS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "gba/kms_zn_json.h"
#include "util/kms_buf.h"

struct kms_keyring;
struct kms_store;
struct kms_replay;

#define KMS_SERVICE_MSG_MAX 65536

struct kms_service_cfg {
    const char *fqdn;         /* the KMS FQDN: IDRkms, and NAF_Id = fqdn || 01 00 00 00 06 */
    bool mode1, mode2, mode3; /* modes allowed (mode 1: requests keyed by a fresh bootstrap) */
    uint64_t kue_lifetime;    /* seconds */
    uint64_t ticket_lifetime; /* media tickets, seconds */
};

/* Where Ks_NAF comes from (kms_zn_client_get in the daemon). KMS_ERR_NOT_FOUND for an unknown
 * B-TID; any other error means the source is unavailable (503 zn-unavailable). peek (optional,
 * kms_zn_client_peek) answers from a cache without ever waiting: *hit false when only get
 * could answer. */
struct kms_service_zn {
    void *ctx;
    kms_result (*get)(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out);
    kms_result (*peek)(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out,
                       bool *hit);
};

/* A replay cache shared by a fleet of KMS nodes (kms_fleet, over Redis), beside the local
 * guard (optional: commit NULL for none). commit records a pair once the request's MAC
 * verified, after the local guard's check and before its commit: KMS_ERR_REPLAY when any node
 * accepted the pair before, another error (KMS_ERR_STORE) when the cache cannot say (503).
 * horizon: the first timestamp the fleet accepts (0: none), checked with the local guard's time
 * checks (503 starting before it). */
struct kms_service_shared {
    void *ctx;
    kms_result (*commit)(void *ctx, const uint8_t token_id[16], const uint8_t *rand,
                         size_t rand_len, uint64_t ts, uint64_t now);
    uint64_t (*horizon)(void *ctx);
};

struct kms_service_deps {
    struct kms_keyring *keyring;
    struct kms_store *store;   /* mode-2 Kue records */
    struct kms_replay *replay; /* timestamp-mode guard */
    struct kms_service_zn zn;
    struct kms_service_shared shared; /* a fleet's replay cache (zero: none) */
};

struct kms_service_reply {
    int status;
    struct kms_buf body;  /* a MIKEY message (application/mikey) */
    enum kms_err why;     /* KMS_OK for a 200 */
    char detail[160];     /* for the log: what was asked, by whom (never a key) */
    unsigned retry_after; /* a 503's Retry-After when the service knows it (0: the table's) */
    /* kms_service_handle_nowait only: the request needs a Zn query (a Kue issue or a mode-1
     * request whose B-TID is not cached). Serve it with kms_service_handle where waiting is
     * fine; the reply meanwhile holds what to send when that cannot be done (503 overloaded). */
    bool zn_pending;
    /* IDRkms of every Error message: the KMS's FQDN (set by kms_service_handle*, borrowed from
     * the service: read only while a reply is built), or NULL for none. */
    const char *idrkms;
};

struct kms_service;

KMS_MUST_CHECK kms_result kms_service_new(const struct kms_service_cfg *cfg,
                                          const struct kms_service_deps *deps,
                                          struct kms_service **out);
void kms_service_free(struct kms_service *s);

void kms_service_reply_init(struct kms_service_reply *r);

/* The KMS's FQDN (its IDRkms), borrowed from s: for a caller that refuses a request itself
 * (kms_service_refuse) to set r->idrkms. */
const char *kms_service_fqdn(const struct kms_service *s);
void kms_service_reply_cleanup(struct kms_service_reply *r);

/* The KMS's reply builder for a refusal: the Error message (HDR with csb_id, T, ERR; no V) and
 * the status the error table gives why (kms_wire_of on KMS_IFACE_KMS). Every refusal the
 * handler sends without V goes through it. */
KMS_MUST_CHECK kms_result kms_service_refuse(struct kms_service_reply *r, enum kms_err why,
                                             uint32_t csb_id);

/* Serves one request. Returns an error only when even an error reply could not be built (the
 * daemon then answers 500 with no body). May wait on the Zn source (deps.zn.get). */
KMS_MUST_CHECK kms_result kms_service_handle(struct kms_service *s, const uint8_t *req, size_t len,
                                             uint64_t now, struct kms_service_reply *r);

/* The same without ever waiting on Zn (only deps.zn.peek): for a server thread. When the answer
 * needs a Zn query, r->zn_pending is set and nothing has been decided or kept (no replay entry,
 * no grant): the caller serves the same bytes again with kms_service_handle elsewhere (kmsd:
 * its Zn pool), or sends r as it is (503 overloaded). */
KMS_MUST_CHECK kms_result kms_service_handle_nowait(struct kms_service *s, const uint8_t *req,
                                                    size_t len, uint64_t now,
                                                    struct kms_service_reply *r);

#endif

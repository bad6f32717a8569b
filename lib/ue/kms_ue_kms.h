/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_ue_kms: the UE's exchanges with the KMS over HTTP (POST /mikey, application/mikey).
 * Kue issue: from the bootstrap state (kms_ue_boot), Ks_NAF = KDF(Ks, ..., NAF_Id = KMS FQDN ||
 * 01 00 00 00 06); a REQUEST_INIT_PSK asking for a sealed Kue (mode 3) or a Kue reference (mode
 * 2); the answer's Kue and token are kept in the state directory (file `kue`, mode 0600).
 * With a trace directory every MIKEY message sent or received is written there as
 * NNN-sent.mikey / NNN-recv.mikey (raw bytes, NNN from 001 in order).
 */
#ifndef KMS_UE_KMS_H
#define KMS_UE_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "http/kms_httpc.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_ticket_msg.h"
#include "ticket/kms_ticket.h"

/* The KMS's name against ours, when it answered an Error message: for the message "the KMS
 * calls itself X; you used Y". Both "" until then. */
struct kms_ue_kms_names {
    char kms_said[256]; /* the IDRkms of its Error message (unauthenticated: a hint only) */
    char we_used[256];  /* the KMS FQDN this UE used: its request's IDRkms and NAF_Id */
};

struct kms_ue_kms_cfg {
    const char *kms_url;       /* "http://kms.example.org:8090/mikey" (/mikey appended if absent) */
    const char *kms_fqdn;      /* the KMS's FQDN (IDRkms, NAF_Id); NULL: the URL's host */
    const char *state_dir;     /* from `imskms ue bootstrap`; receives `kue` */
    const char *identity;      /* IDRi: the IMPI (default) or one of the IMPUs */
    const char *trace_dir;     /* optional */
    struct kms_httpc_cfg http; /* its ca_file is the BSF's (mode 1), never the KMS's */
    const char *kms_ca_file;   /* PEM CA(s) of an https:// KMS; NULL: the system's store */
    struct kms_ue_kms_names *names; /* optional: filled when the KMS answers an Error */
    /* Request and resolve only. 0: key the exchange with the Kue kept in the state directory
     * (modes 2 and 3); 2 or 3: the same, KMS_ERR_ARG unless that Kue is of this mode; 1: bootstrap
     * afresh over Ub first (bsf_url, usim_path; the new bootstrap replaces the one in state_dir)
     * and key it with Kue1 = PRF(Ks_NAF, "imskms Kue1 v1" || the request's RAND), IDRpsk = the new
     * B-TID. In mode 1, kms_fqdn and identity are used as by kms_ue_kue; a resolve still answers as
     * the responder the transfer names. */
    uint8_t mode;
    const char *bsf_url;
    const char *usim_path;
};

struct kms_ue_kue_result {
    uint8_t mode;
    uint64_t valid_to; /* UNIX seconds */
};

/* KMS_ERR_AUTH: the KMS refused (403); KMS_ERR_UNSUPPORTED: it refused the mode (a MACed
 * policy Error); KMS_ERR_MALFORMED: it found our request malformed (400) or its answer is;
 * with cfg->http.busy set, a 503 naming its reason is that reason's error
 * (KMS_ERR_ZN_UNAVAILABLE, ...: struct kms_httpc_busy, who "the KMS"); KMS_ERR_HTTP:
 * transport or any other 5xx. The same for request and resolve. */
KMS_MUST_CHECK kms_result kms_ue_kue(const struct kms_ue_kms_cfg *cfg, uint8_t mode,
                                     struct kms_ue_kue_result *out);

/* The first 8 octets of SHA-256(TGK): what the UE prints to compare keys, never the key. */
#define KMS_UE_TGK_FP_LEN 8

/* Ticket request (A): asks the KMS for media keys for `peer` with the Kue kept in the state
 * directory, and writes the TRANSFER_INIT for the peer (carrying the KMS's media ticket,
 * protected by the MPK) to transfer_path. */
KMS_MUST_CHECK kms_result kms_ue_request(const struct kms_ue_kms_cfg *cfg, const char *peer,
                                         const char *transfer_path,
                                         uint8_t tgk_fp[KMS_UE_TGK_FP_LEN]);

/* Ticket resolve (B): reads the TRANSFER_INIT at transfer_path, resolves its ticket with the
 * KMS under B's Kue, then verifies the transfer's MAC with the MPK the KMS returned and its
 * IDRi against the ticket's initiator the KMS named (KMS_ERR_AUTH). On failure
 * *transfer_bad (when not NULL) tells whether it was the transfer itself that failed (it does
 * not decode, or does not verify: KMS_ERR_AUTH) rather than the KMS or the transport. */
KMS_MUST_CHECK kms_result kms_ue_resolve(const struct kms_ue_kms_cfg *cfg,
                                         const char *transfer_path,
                                         uint8_t tgk_fp[KMS_UE_TGK_FP_LEN], bool *transfer_bad);

/* The TGK fingerprint of g (the first KMS_UE_TGK_FP_LEN octets of SHA-256(TGK)). */
KMS_MUST_CHECK kms_result kms_ue_tgk_fingerprint(const struct kms_tgrant *g,
                                                 uint8_t fp[KMS_UE_TGK_FP_LEN]);

/* The ticket request alone (A): the grant g (keys, ticket, ticket flags) for a call to peer,
 * and idri, the identity A asked as (the transfer's IDRi). Errors as kms_ue_kue; g wiped on
 * failure. */
KMS_MUST_CHECK kms_result kms_ue_ticket(const struct kms_ue_kms_cfg *cfg, const char *peer,
                                        struct kms_tgrant *g, char idri[KMS_TMSG_ID_MAX + 1]);

/* The ticket resolve alone (B): resolves the ticket of the peeked transfer x (as x's IDRr) and
 * returns the grant (MPK, TGK, the ticket's initiator). The transfer is not checked here:
 * kms_transfer_open with g->mpk, then kms_ue_check_initiator. */
KMS_MUST_CHECK kms_result kms_ue_resolve_ticket(const struct kms_ue_kms_cfg *cfg,
                                                const struct kms_transfer *x, struct kms_tgrant *g);

/* The transfer's IDRi against the ticket's INITIATOR the KMS returned (docs/protocol.md 13):
 * KMS_ERR_AUTH when they differ or the KMS named none. */
KMS_MUST_CHECK kms_result kms_ue_check_initiator(const struct kms_transfer *x,
                                                 const struct kms_tgrant *g);

/* The Kue kept in the state directory (file `kue`; Kue is secret: wipe). */
struct kms_ue_kue_state {
    uint8_t mode; /* 2 or 3 */
    char kms[256];
    char identity[256];
    uint8_t kue[KMS_KUE_LEN];
    uint8_t token[KMS_TICKET_MAX]; /* the sealed Kue (mode 3) or the Kue reference (mode 2) */
    size_t token_len;
    uint64_t valid_to; /* UNIX seconds */
};

/* Parses the image of a `kue` file (borrowed), exactly the lines kms_ue_kue writes:
 *   version=1 mode=<2|3> kms=<FQDN> identity=<IDRi> kue=<64 hex> token=<hex>
 *   valid_from=<UNIX seconds> valid_to=<UNIX seconds>
 * each "name=value\n", in this order, nothing after; decimals in their one spelling
 * (kms_dec_decode_u64), values of printable ASCII (kms_cur_get_kv_line). KMS_ERR_UNSUPPORTED for
 * another version; KMS_ERR_MALFORMED, KMS_ERR_TRUNCATED, KMS_ERR_TOO_LONG, KMS_ERR_TRAILING,
 * KMS_ERR_BAD_HEX or KMS_ERR_BAD_LENGTH for anything else. st is wiped on failure. */
KMS_MUST_CHECK kms_result kms_ue_kue_state_decode(const uint8_t *p, size_t n,
                                                  struct kms_ue_kue_state *st);

#endif

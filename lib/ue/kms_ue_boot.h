/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_ue_boot: the UE side of a GBA bootstrap over Ub (TS 24.109, RFC 3310), with a simulated
 * USIM (kms_usim): ask for a challenge, verify AUTN (MAC-A and SQN freshness, updating the
 * USIM file durably when an SQN is accepted), answer with RES, or with AUTS when the SQN is not
 * fresh, then verify rspauth and read the BootstrappingInfo. On success Ks = CK || IK, RAND,
 * the IMPI and the B-TID are written to the state directory (file `bootstrap`, mode 0600).
 */
#ifndef KMS_UE_BOOT_H
#define KMS_UE_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "err/kms_err.h"
#include "http/kms_httpc.h"

struct kms_ue_boot_cfg {
    const char *bsf_url;   /* "http://bsf.example.org:8080/" */
    const char *usim_path; /* kms_usim file */
    const char *state_dir; /* receives `bootstrap` */
    const char *trace_dir; /* optional: every request and response written there */
    struct kms_httpc_cfg http;
    const char *realm; /* the BSF's realm (its FQDN) to expect; NULL: the host of bsf_url */
    char *realm_seen;  /* optional, KMS_UE_REALM_MAX bytes: the realm of a challenge refused
                          because it was not the one expected ("" otherwise) */
};

#define KMS_UE_REALM_MAX 256

struct kms_ue_boot_result {
    char impi[KMS_IDENT_NAME_MAX + 1];
    char btid[KMS_BTID_MAX];
    uint64_t lifetime; /* UNIX seconds */
    unsigned resyncs;  /* AUTS round trips made */
};

/* KMS_ERR_MAC_A: the network failed authentication (AUTN); KMS_ERR_AUTH: the BSF refused our
 * answer, or its rspauth did not verify; KMS_ERR_HTTP / KMS_ERR_TLS_PEER: transport;
 * KMS_ERR_MALFORMED: the BSF's answer could not be read. */
KMS_MUST_CHECK kms_result kms_ue_bootstrap(const struct kms_ue_boot_cfg *cfg,
                                           struct kms_ue_boot_result *out);

/* The state written by a bootstrap (Ks is secret: wipe). */
struct kms_ue_state {
    char impi[KMS_IDENT_NAME_MAX + 1];
    char btid[KMS_BTID_MAX];
    uint8_t rand[KMS_GBA_RAND_LEN];
    uint8_t ks[32];
    uint64_t lifetime;
};
/* Reads `bootstrap` in state_dir (at most 4096 octets): kms_file_read's errors, then as
 * kms_ue_state_decode. st is wiped on failure. */
KMS_MUST_CHECK kms_result kms_ue_state_load(const char *state_dir, struct kms_ue_state *st);
/* Parses the image of a `bootstrap` file (borrowed), exactly the lines the bootstrap writes:
 *   version=1 impi=<IMPI> btid=<B-TID> rand=<32 hex> ks=<64 hex> lifetime=<UNIX seconds>
 * each "name=value\n", in this order, nothing after; decimals in their one spelling
 * (kms_dec_decode_u64), values of printable ASCII (kms_cur_get_kv_line). KMS_ERR_UNSUPPORTED for
 * another version; KMS_ERR_MALFORMED, KMS_ERR_TRUNCATED, KMS_ERR_TOO_LONG, KMS_ERR_TRAILING,
 * KMS_ERR_BAD_HEX or KMS_ERR_BAD_LENGTH for anything else (kms_cur_get_kv_line,
 * kms_hex_decode_exact). st is wiped on failure. */
KMS_MUST_CHECK kms_result kms_ue_state_decode(const uint8_t *p, size_t n, struct kms_ue_state *st);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_zn_client: the NAF side of Zn (the KMS asks the BSF for Ks_NAF), over HTTPS with mutual
 * TLS (lib/http/kms_httpc), JSON as in docs/api.md, with a bounded cache of answers that
 * honours each key's expiry: an entry is served only while now < key_expiry, so a Ks_NAF is
 * never used past the lifetime the BSF gave it.
 *
 * Thread-safe (one mutex around the cache; requests run outside it).
 */
#ifndef KMS_GBA_ZN_CLIENT_H
#define KMS_GBA_ZN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "err/kms_err.h"
#include "gba/kms_zn_json.h"

struct kms_zn_client_cfg {
    const char *url;       /* https://bsf:8443/zn/v1/bootstrap-info */
    const char *ca_file;   /* CA of the BSF's Zn certificate */
    const char *cert_file; /* our client certificate (its SAN names naf_fqdn) */
    const char *key_file;
    const char *naf_fqdn; /* our FQDN, as in the certificate */
    uint8_t ua_id[KMS_UA_ID_LEN];
    size_t cache_max;    /* cached answers (default 4096; entries hold Ks_NAF, wiped on drop) */
    unsigned timeout_ms; /* per request (default 5000) */
};

struct kms_zn_client_stats {
    uint64_t hits, misses, fetch_errors;
};

struct kms_zn_client;

KMS_MUST_CHECK kms_result kms_zn_client_new(const struct kms_zn_client_cfg *cfg,
                                            struct kms_zn_client **out);
void kms_zn_client_free(struct kms_zn_client *c);

/* Ks_NAF and the subscriber's identities for a B-TID, from the cache or the BSF.
 * KMS_ERR_NOT_FOUND: the BSF does not know the B-TID (or it expired); KMS_ERR_AUTH: the BSF
 * refused our certificate (403); KMS_ERR_HTTP / KMS_ERR_TLS_PEER: transport; KMS_ERR_MALFORMED:
 * an answer we cannot read, or one whose key has already expired at `now`. out is wiped on
 * failure (kms_zn_resp_wipe it after use). */
KMS_MUST_CHECK kms_result kms_zn_client_get(struct kms_zn_client *c, const char *btid, uint64_t now,
                                            struct kms_zn_resp *out);

void kms_zn_client_stats(struct kms_zn_client *c, struct kms_zn_client_stats *s);

#endif

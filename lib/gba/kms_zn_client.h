/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_zn_client: the NAF side of Zn (the KMS asks the BSF for Ks_NAF), over HTTPS with mutual
 * TLS (lib/http/kms_httpc), JSON as in docs/api.md, with a bounded cache of answers that
 * honours each key's expiry: an entry is served only while now < key_expiry, so a Ks_NAF is
 * never used past the lifetime the BSF gave it.
 *
 * A B-TID the BSF does not know (its 404) is remembered for neg_ttl_s seconds (default 10, at
 * most neg_max of them, default 1024): an unauthenticated Kue issue naming a made-up B-TID
 * costs one mutual-TLS query per B-TID and ten seconds, not one per message. Nothing is lost by
 * it: a B-TID only exists once the BSF has answered the UE's bootstrap with it, so one the BSF
 * did not know cannot become known later (a new bootstrap makes a new B-TID); only a BSF whose
 * stores lag behind one another could answer 404 and then 200 for the same B-TID, and then the
 * UE's retry succeeds after those seconds.
 *
 * Time: one query to the BSF takes at most timeout_ms (default 2000), connection and TLS
 * handshake included; there is one try per query (no retries inside it), so timeout_ms bounds
 * all of it. The KMS's callers wait on it only in a pool of their own (src/kmsd).
 *
 * Thread-safe (one mutex around the caches; requests run outside it).
 */
#ifndef KMS_GBA_ZN_CLIENT_H
#define KMS_GBA_ZN_CLIENT_H

#include <stdbool.h>
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
    unsigned timeout_ms; /* one query, all of it (default KMS_ZN_CLIENT_TIMEOUT_MS) */
    unsigned neg_ttl_s;  /* how long an unknown B-TID is remembered (default 10 s) */
    size_t neg_max;      /* unknown B-TIDs remembered at once (default 1024) */
};

#define KMS_ZN_CLIENT_TIMEOUT_MS 2000u
#define KMS_ZN_CLIENT_NEG_TTL_S  10u
#define KMS_ZN_CLIENT_NEG_MAX    1024u

struct kms_zn_client_stats {
    uint64_t hits, misses, fetch_errors;
    uint64_t neg_hits; /* answered KMS_ERR_NOT_FOUND from the negative cache, BSF not asked */
};

struct kms_zn_client;

KMS_MUST_CHECK kms_result kms_zn_client_new(const struct kms_zn_client_cfg *cfg,
                                            struct kms_zn_client **out);
void kms_zn_client_free(struct kms_zn_client *c);

/* Ks_NAF and the subscriber's identities for a B-TID, from the cache or the BSF (blocks up to
 * timeout_ms). KMS_ERR_NOT_FOUND: the BSF does not know the B-TID (or it expired), now or
 * within the last neg_ttl_s seconds; KMS_ERR_AUTH: the BSF
 * refused our certificate (403); KMS_ERR_HTTP / KMS_ERR_TLS_PEER: transport; KMS_ERR_MALFORMED:
 * an answer we cannot read, or one whose key has already expired at `now`. out is wiped on
 * failure (kms_zn_resp_wipe it after use). */
KMS_MUST_CHECK kms_result kms_zn_client_get(struct kms_zn_client *c, const char *btid, uint64_t now,
                                            struct kms_zn_resp *out);

/* The caches alone, never the BSF (never blocks beyond the mutex): *hit false, KMS_OK and out
 * zeroed when only a query could answer; otherwise *hit true and the result kms_zn_client_get
 * would give (an answer, or KMS_ERR_NOT_FOUND for a B-TID remembered as unknown). */
KMS_MUST_CHECK kms_result kms_zn_client_peek(struct kms_zn_client *c, const char *btid,
                                             uint64_t now, struct kms_zn_resp *out, bool *hit);

void kms_zn_client_stats(struct kms_zn_client *c, struct kms_zn_client_stats *s);

#endif

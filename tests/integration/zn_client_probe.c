/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's Zn client against a live imskms-bsfd (run by test_bsfd.sh):
 *   zn_client_probe URL CA CERT KEY NAF_FQDN BTID KS_NAF_HEX OTHER_CERT OTHER_KEY
 * Checks: the first get fetches (a miss) and returns the expected Ks_NAF; the second is a cache
 * hit; at the key's expiry the cache does not serve it and a fetched answer already past its
 * expiry is refused; an unknown B-TID is KMS_ERR_NOT_FOUND; a certificate that does not name
 * the FQDN is KMS_ERR_AUTH; an unknown B-TID is remembered for KMS_ZN_CLIENT_NEG_TTL_S seconds
 * (the BSF is not asked again meanwhile); kms_zn_client_peek answers from the caches only.
 * Exit 0 when all hold.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gba/kms_zn_client.h"
#include "util/kms_codec.h"

static int fails;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "zn_client_probe: FAIL: %s\n", what);
        fails++;
    }
}

static struct kms_zn_client *client(char **argv, const char *cert, const char *key)
{
    struct kms_zn_client_cfg cfg = {.url = argv[1],
                                    .ca_file = argv[2],
                                    .cert_file = cert,
                                    .key_file = key,
                                    .naf_fqdn = argv[5],
                                    .ua_id = {1, 0, 0, 0, 6}};
    struct kms_zn_client *c = NULL;
    if (!kms_ok(kms_zn_client_new(&cfg, &c))) {
        fprintf(stderr, "zn_client_probe: kms_zn_client_new failed\n");
        return NULL;
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: zn_client_probe URL CA CERT KEY NAF BTID KS_NAF_HEX OCERT OKEY\n");
        return 2;
    }
    uint8_t want[32];
    if (!kms_ok(kms_hex_decode_exact(argv[7], want, sizeof(want)))) {
        return 2;
    }
    struct kms_zn_client *c = client(argv, argv[3], argv[4]);
    if (c == NULL) {
        return 3;
    }
    uint64_t now = (uint64_t)time(NULL);
    struct kms_zn_resp r;
    struct kms_zn_client_stats st;
    kms_result res = kms_zn_client_get(c, argv[6], now, &r);
    check(kms_ok(res), "first get");
    check(kms_ok(res) && memcmp(r.ks_naf, want, 32) == 0, "Ks_NAF as the UE derives it");
    uint64_t expiry = r.key_expiry;
    kms_zn_resp_wipe(&r);
    check(kms_ok(kms_zn_client_get(c, argv[6], now + 1, &r)), "second get");
    kms_zn_resp_wipe(&r);
    kms_zn_client_stats(c, &st);
    check(st.misses == 1 && st.hits == 1, "the second get is served from the cache");
    res = kms_zn_client_get(c, argv[6], expiry, &r);
    check(res.err == KMS_ERR_MALFORMED, "at the key's expiry nothing is served");
    kms_zn_client_stats(c, &st);
    check(st.misses == 2 && st.hits == 1, "an expired entry is not a hit");
    const char *unknown = "AAAAAAAAAAAAAAAAAAAAAA==@localhost";
    bool hit = true;
    res = kms_zn_client_peek(c, unknown, now, &r, &hit);
    check(kms_ok(res) && !hit, "peek: a B-TID never asked about needs a query");
    res = kms_zn_client_get(c, unknown, now, &r);
    check(res.err == KMS_ERR_NOT_FOUND, "unknown B-TID");
    kms_zn_client_stats(c, &st);
    check(st.misses == 3 && st.neg_hits == 0, "the first unknown B-TID asks the BSF");
    /* Remembered for KMS_ZN_CLIENT_NEG_TTL_S seconds: neither get nor peek asks again. */
    res = kms_zn_client_get(c, unknown, now + KMS_ZN_CLIENT_NEG_TTL_S - 1, &r);
    check(res.err == KMS_ERR_NOT_FOUND, "unknown B-TID, again");
    res = kms_zn_client_peek(c, unknown, now + 1, &r, &hit);
    check(res.err == KMS_ERR_NOT_FOUND && hit, "peek: a remembered unknown B-TID");
    kms_zn_client_stats(c, &st);
    check(st.misses == 3 && st.neg_hits == 2, "a remembered unknown B-TID does not ask the BSF");
    res = kms_zn_client_get(c, unknown, now + KMS_ZN_CLIENT_NEG_TTL_S, &r);
    check(res.err == KMS_ERR_NOT_FOUND, "unknown B-TID after the negative entry expired");
    kms_zn_client_stats(c, &st);
    check(st.misses == 4 && st.neg_hits == 2, "after its time the BSF is asked again");
    check(kms_ok(kms_zn_client_get(c, argv[6], now, &r)), "fetched again"); /* cached again */
    kms_zn_resp_wipe(&r);
    res = kms_zn_client_peek(c, argv[6], now + 1, &r, &hit);
    check(kms_ok(res) && hit && memcmp(r.ks_naf, want, 32) == 0, "peek: a cached answer");
    kms_zn_resp_wipe(&r);
    kms_zn_client_free(c);

    c = client(argv, argv[8], argv[9]);
    if (c == NULL) {
        return 3;
    }
    res = kms_zn_client_get(c, argv[6], now, &r);
    check(res.err == KMS_ERR_AUTH, "a certificate for another NAF is refused");
    kms_zn_client_free(c);
    return fails == 0 ? 0 : 1;
}

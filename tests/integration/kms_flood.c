/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_flood (test-only): N ticket requests, each new (fresh RANDRi, current T), under the Kue
 * of a UE state directory, POSTed one after another to a KMS; prints how the KMS answered:
 *   ok=<200s> full=<503s> other=<anything else> first_full=<index of the first 503, or -1>
 * test_kmsd.sh uses it to fill the replay cache (--replay-entries) faster than a CLI run per
 * request could. Exit 0 when every request got an HTTP answer, 1 otherwise, 2 on bad usage.
 *
 * usage: kms_flood STATE_DIR KMS_URL PEER COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "http/kms_httpc.h"
#include "kms/kms_ticket_msg.h"
#include "ue/kms_ue_kms.h"
#include "util/kms_codec.h"
#include "util/kms_file.h"
#include "util/kms_mem.h"

static int flood(const struct kms_ue_kue_state *st, const char *url, const char *peer,
                 uint64_t count)
{
    static const char *const headers[] = {"Content-Type: application/mikey", NULL};
    const struct kms_httpc_cfg http = {.timeout_ms = 10000};
    struct kms_preq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return 1;
    }
    uint64_t ok = 0, full = 0, other = 0;
    long long first_full = -1;
    int rc = 0;
    for (uint64_t i = 0; i < count && rc == 0; i++) {
        memset(q, 0, sizeof(*q));
        q->kind = KMS_PREQ_REQUEST;
        snprintf(q->idri, sizeof(q->idri), "%s", st->identity);
        snprintf(q->idrr, sizeof(q->idrr), "%s", peer);
        snprintf(q->idrkms, sizeof(q->idrkms), "%s", st->kms);
        memcpy(q->psk_id, st->token, st->token_len);
        q->psk_id_len = st->token_len;
        q->ntp = kms_mikey_ntp_now();
        struct kms_buf req;
        kms_buf_init(&req, 1u << 16, false);
        struct kms_httpc_resp resp;
        memset(&resp, 0, sizeof(resp));
        if (!kms_ok(kms_random(q->rand, sizeof(q->rand))) ||
            !kms_ok(kms_preq_build(q, st->kue, &req))) {
            fprintf(stderr, "kms_flood: cannot build request %llu\n", (unsigned long long)i);
            rc = 1;
        } else {
            const struct kms_httpc_req hr = {.method = "POST",
                                             .url = url,
                                             .headers = headers,
                                             .body = kms_buf_data(&req),
                                             .body_len = kms_buf_len(&req)};
            if (!kms_ok(kms_httpc_request(&http, &hr, &resp))) {
                fprintf(stderr, "kms_flood: request %llu got no answer\n", (unsigned long long)i);
                rc = 1;
            } else if (resp.status == 200) {
                ok++;
            } else if (resp.status == 503) {
                full++;
                first_full = first_full < 0 ? (long long)i : first_full;
            } else {
                other++;
            }
            kms_httpc_resp_cleanup(&resp);
        }
        kms_buf_cleanup(&req);
    }
    kms_wipe(q, sizeof(*q));
    free(q);
    printf("ok=%llu full=%llu other=%llu first_full=%lld\n", (unsigned long long)ok,
           (unsigned long long)full, (unsigned long long)other, first_full);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t count = 0;
    if (argc != 5 || !kms_ok(kms_dec_decode_u64(argv[4], 1000000, &count)) || count == 0) {
        fputs("usage: kms_flood STATE_DIR KMS_URL PEER COUNT (1..1000000)\n", stderr);
        return 2;
    }
    uint8_t *img = NULL;
    size_t n = 0;
    struct kms_ue_kue_state *st = calloc(1, sizeof(*st));
    if (st == NULL || !kms_ok(kms_file_read_at(argv[1], "kue", 1u << 16, true, &img, &n)) ||
        !kms_ok(kms_ue_kue_state_decode(img, n, st))) {
        fprintf(stderr, "kms_flood: %s/kue: cannot be read\n", argv[1]);
        kms_file_free(img, n);
        free(st);
        return 2;
    }
    kms_file_free(img, n);
    int rc = flood(st, argv[2], argv[3], count);
    kms_wipe(st, sizeof(*st));
    free(st);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A peer that holds the MPK of a genuine grant and lies with it (test_call.sh):
 *   forge_transfer init INIT MPK_HEX IDRI SSRC OUT
 *       a TRANSFER_INIT with the ticket, flags, responder and policy of the genuine INIT (raw
 *       MIKEY), but naming IDRI as its initiator and SSRC as the caller's stream, keyed by MPK:
 *       its MAC verifies, so only the INITIATOR check (or nothing, for SSRC) can refuse it;
 *   forge_transfer resp INIT MPK_HEX IDRR SSRC OUT
 *       a TRANSFER_RESP to INIT keyed by MPK whose second crypto session has SSRC (the caller's,
 *       for the equal-SSRC refusal).
 * Exit 0 written, 1 on any failure (a message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms/kms_ticket_msg.h"
#include "util/kms_codec.h"
#include "util/kms_file.h"

static int die(const char *what)
{
    fprintf(stderr, "forge_transfer: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        return die("usage: forge_transfer init|resp INIT MPK_HEX ID SSRC OUT");
    }
    uint8_t mpk[KMS_TMSG_MPK_LEN], *init = NULL;
    size_t n = 0, eo = 0;
    if (!kms_ok(kms_hex_decode_exact(argv[3], mpk, sizeof(mpk))) ||
        !kms_ok(kms_file_read(argv[2], 1u << 16, false, &init, &n))) {
        return die("cannot read INIT or MPK_HEX");
    }
    uint32_t ssrc = (uint32_t)strtoul(argv[5], NULL, 0);
    struct kms_transfer *x = calloc(1, sizeof(*x));
    struct kms_transfer_resp *r = calloc(1, sizeof(*r));
    struct kms_buf out;
    kms_buf_init(&out, 1u << 16, false);
    kms_result rc =
        x != NULL && r != NULL ? kms_transfer_peek(init, n, x, &eo) : (kms_result){KMS_ERR_NOMEM};
    if (kms_ok(rc) && strcmp(argv[1], "init") == 0) {
        x->media.cs[0].ssrc = ssrc;
        const struct kms_transfer_spec s = {.idri = argv[4],
                                            .idrr = x->idrr,
                                            .mpk = mpk,
                                            .ticket = x->ticket,
                                            .ticket_len = x->ticket_len,
                                            .ticket_flags = x->ticket_flags,
                                            .media = &x->media};
        rc = kms_transfer_build_spec(&s, &out);
    } else if (kms_ok(rc) && strcmp(argv[1], "resp") == 0) {
        snprintf(r->idrr, sizeof(r->idrr), "%s", argv[4]);
        memset(r->randrr, 0x5a, sizeof(r->randrr));
        r->media.n_cs = 2;
        r->media.cs[0] = x->media.cs[0];
        r->media.cs[1] = (struct kms_tmsg_cs){.cs_id = 2, .ssrc = ssrc, .seq = 1};
        rc = kms_transfer_resp_build(init, n, mpk, r, &out);
    } else if (kms_ok(rc)) {
        rc = (kms_result){KMS_ERR_ARG};
    }
    if (kms_ok(rc)) {
        rc = kms_file_write_atomic(argv[6], kms_buf_data(&out), kms_buf_len(&out));
    }
    kms_file_free(init, n);
    kms_buf_cleanup(&out);
    free(x);
    free(r);
    return kms_ok(rc) ? 0 : die(kms_strerror(rc.err));
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper (built for the tests only): writes to stdout, as raw bytes, one MIKEY message
 * holding every payload type, built with the codec by kms_sample_everything()
 * (tests/testlib/mikey_samples.c, which tests/unit/test_mikey.c uses too). test_cli_mikey.sh
 * decodes it with `imskms mikey decode` and checks the printed fields against the values set
 * there (not against earlier output).
 * Usage: mkmsg (no arguments). Exit 0, or 1 when the codec refuses to encode or stdout fails.
 */
#include <stdio.h>

#include "mikey_samples.h"

static struct kms_mikey_msg msg; /* the payload lists are large: not on the stack */

int main(void)
{
    struct kms_buf out;
    kms_buf_init(&out, 1 << 16, false);
    kms_result r = kms_sample_everything(&msg, &out);
    if (r.err != KMS_OK) {
        fprintf(stderr, "mkmsg: kms_sample_everything failed: %s (%s)\n", kms_strerror(r.err),
                kms_err_name(r.err));
        kms_buf_cleanup(&out);
        return 1;
    }
    size_t n = kms_buf_len(&out);
    int rc = fwrite(kms_buf_data(&out), 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 1;
    kms_buf_cleanup(&out);
    return rc;
}

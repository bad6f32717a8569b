/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the subscriber export format (kms_subfile_parse, the reader behind `imskms
 * subscriber import`), and the same input as one record line (kms_subfile_rec_parse, the BSF's
 * Redis store values). Input: the file's bytes.
 * Oracles: the format is canonical, so an accepted file re-encodes (header, every record, the
 * end line) to exactly the input; a refused one names a line within the input's line count + 1;
 * every record handed out has 1..8 IMPUs and an SQN mark within 48 bits; a record line accepted
 * alone re-encodes to exactly the input (and its "\n").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_sqn.h"
#include "gba/kms_subfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    struct kms_buf b;
    uint64_t n;
};

static kms_result put(void *arg, const struct kms_subscriber_rec *rec)
{
    struct out *o = arg;
    if (rec->info.n_impu < 1 || rec->info.n_impu > KMS_SUBSCRIBER_IMPU_MAX ||
        rec->info.sqn > KMS_SQN_MAX) {
        abort();
    }
    if (!kms_ok(kms_subfile_put_rec(&o->b, rec))) {
        abort();
    }
    o->n++;
    return (kms_result){KMS_OK};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size > 0 ? size : 1); /* exact size: ASan sees a read past the end */
    struct out o = {.n = 0};
    size_t line = 0, lines = 0;
    if (p == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(p, data, size);
    }
    for (size_t i = 0; i < size; i++) {
        lines += p[i] == '\n';
    }
    kms_buf_init(&o.b, 2 * size + 256, false);
    if (!kms_ok(kms_subfile_put_header(&o.b))) {
        abort();
    }
    kms_result r = kms_subfile_parse(p, size, put, &o, &line);
    if (kms_ok(r)) {
        if (line != 0 || !kms_ok(kms_subfile_put_end(&o.b, o.n)) || kms_buf_len(&o.b) != size ||
            memcmp(kms_buf_data(&o.b), p, size) != 0) {
            abort();
        }
    } else if (line < 1 || line > lines + 1) {
        abort();
    }
    kms_buf_reset(&o.b);
    struct kms_subscriber_rec rec;
    if (kms_ok(kms_subfile_rec_parse(p, size, &rec))) {
        if (!kms_ok(kms_subfile_put_rec(&o.b, &rec)) || kms_buf_len(&o.b) != size + 1 ||
            memcmp(kms_buf_data(&o.b), p, size) != 0 || rec.info.n_impu < 1 ||
            rec.info.n_impu > KMS_SUBSCRIBER_IMPU_MAX) {
            abort();
        }
    }
    kms_buf_cleanup(&o.b);
    free(p);
    return 0;
}

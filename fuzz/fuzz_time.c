/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the UTC timestamp parser (kms_time_parse, util/kms_time.h), input = the text.
 * Oracles: a refusal is KMS_ERR_MALFORMED or KMS_ERR_UNSUPPORTED with *t = 0; an accepted text
 * is 20..KMS_TIME_TEXT_MAX characters, gives t <= KMS_TIME_MAX, and kms_time_format(t) equals
 * its first 19 characters plus "Z" (the formatter writes no fraction and always "Z"; the parser
 * truncates fractions and takes only "Z" or "+00:00"), so format(parse(x)) == x whenever x has
 * neither; parse(format(t)) == t; the same text one character shorter is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "util/kms_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint64_t t = 1;
    kms_result r = kms_time_parse(s, size, &t);
    if (!kms_ok(r)) {
        KF_CHECK(r.err == KMS_ERR_MALFORMED || r.err == KMS_ERR_UNSUPPORTED);
        KF_CHECK(t == 0);
        return 0;
    }
    KF_CHECK(size >= KMS_TIME_STR_LEN - 1 && size <= KMS_TIME_TEXT_MAX);
    KF_CHECK(t <= KMS_TIME_MAX);
    char f[KMS_TIME_STR_LEN];
    KF_CHECK(kms_ok(kms_time_format(t, f)));
    KF_CHECK(strlen(f) == KMS_TIME_STR_LEN - 1 && f[19] == 'Z');
    KF_CHECK(memcmp(f, s, 19) == 0);
    if (size == KMS_TIME_STR_LEN - 1) {
        KF_CHECK(memcmp(f, s, size) == 0);
    } else {
        /* A fraction ".d..." and/or the zone "+00:00" follow the seconds. */
        KF_CHECK(s[19] == '.' || (size == 25 && memcmp(s + 19, "+00:00", 6) == 0));
    }
    uint64_t t2 = 0;
    KF_CHECK(kms_ok(kms_time_parse(f, strlen(f), &t2)) && t2 == t);
    /* One character shorter: the zone is cut (or a fraction loses its zone): refused. An
     * exact-size copy so that ASan sees a read of the dropped character. */
    uint8_t *q = kf_dup(data, size - 1, 0);
    t2 = 1;
    r = kms_time_parse((const char *)q, size - 1, &t2);
    KF_CHECK(!kms_ok(r) && t2 == 0);
    free(q);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only helper (never installed): reads one subscriber through the library and prints what
 * the CLI never does, its stored keys, so that test_cli_subscriber.sh can check them against
 * published values.
 * Usage: subprobe DB KEK-FILE IMPI   -> k= opc= amf= sqn= (hex); exit 2 when it cannot.
 */
#include <stdio.h>

#include "crypto/kms_sqn.h"
#include "gba/kms_subscriber.h"
#include "keyring/kms_keystore.h"
#include "util/kms_mem.h"

static void hex(const char *name, const uint8_t *p, size_t n)
{
    printf("%s=", name);
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    putchar('\n');
}

int main(int argc, char **argv)
{
    uint8_t kek[32], sqn_b[6];
    struct kms_subscriber s;
    struct kms_subscriber_db *db = NULL;
    uint64_t sqn = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: subprobe DB KEK-FILE IMPI\n");
        return 2;
    }
    kms_result r = kms_kek_read(argv[2], kek);
    if (kms_ok(r)) {
        r = kms_subscriber_db_open(argv[1], kek, false, &db);
    }
    kms_wipe(kek, sizeof(kek));
    if (kms_ok(r)) {
        r = kms_subscriber_get(db, argv[3], &s, &sqn);
    }
    kms_subscriber_db_close(db);
    if (!kms_ok(r)) {
        fprintf(stderr, "subprobe: %s\n", kms_strerror(r.err));
        return 2;
    }
    hex("k", s.k, sizeof(s.k));
    hex("opc", s.opc, sizeof(s.opc));
    hex("amf", s.amf, sizeof(s.amf));
    kms_sqn_to_bytes(sqn, sqn_b);
    hex("sqn", sqn_b, sizeof(sqn_b));
    kms_subscriber_wipe(&s);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sample MIKEY messages built with the codec, shared by the unit tests (test_mikey.c) and the
 * test-only writer tests/cli/mkmsg.c (whose output test_cli_mikey.sh decodes and checks).
 * No cmocka here: failures come back as a kms_result.
 */
#ifndef KMS_MIKEY_SAMPLES_H
#define KMS_MIKEY_SAMPLES_H

#include "imskms/err.h"
#include "mikey/kms_mikey.h"
#include "util/kms_buf.h"

/*
 * One message holding every payload type and a GENERIC-ID map (not a meaningful exchange: a
 * codec test), built into *m and encoded (appended) to out. SIGN is last, as it must be.
 *
 * Header: TRANSFER_INIT, V set, PRF 1, CSB ID 0x01020304, two crypto sessions. Body: T (NTP-UTC
 * 0xe9b1c0de12345678), T (COUNTER 7), RAND, RANDR, ID, IDR, CERT, TR, SP, TP, TICKET (type
 * 0xf001, flags D|E|I|K|O, reserved 5, 48 octets of ticket data), KEMAC, PKE, DH, CHASH, ERR,
 * GENEXT, SAKKE, V, SIGN. The TP data chain is IDRkms, IDRi, TRs, TRe, KEMAC, IDRr; the
 * initiator data chain is V (HMAC-SHA-256-256), V (HMAC-SHA-1-160).
 *
 * *m points into static storage of mikey_samples.c, which every call rewrites with the same
 * values (not thread-safe). Errors: those of kms_mikey_chain_encode and kms_mikey_encode.
 */
KMS_MUST_CHECK kms_result kms_sample_everything(struct kms_mikey_msg *m, struct kms_buf *out);

#endif

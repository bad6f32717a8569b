/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_subfile: the subscriber export format of `imskms subscriber export` / `import`. Records
 * move as the store holds them: K and OPc stay sealed under the BSF's KEK (never opened on
 * export), so the file is as secret as the store itself, no more. The format says nothing about
 * the backend (SQLite, or Redis where each subscriber is one such line: lib/gba/kms_bsf_redis.h).
 *
 * Version 1, text, one record per line, every line ending in "\n" (no "\r"), nothing else:
 *
 *   imskms-subscribers 1
 *   impi=ID amf=HEX4 sqn=HEX12 sealed=HEX120 impu=URI [impu=URI]...
 *   ...
 *   end count=N
 *
 * Fields are separated by one space and come in exactly this order; hex is lower case of the
 * exact length (AMF 2 bytes, the SQN mark 6 bytes, the sealed keys 60 bytes: nonce (12) ||
 * K || OPc encrypted (32) || tag (16), bound to the IMPI, the AMF and the IMPUs in their order,
 * kms_subscriber.h); 1 to 8 IMPUs, no IMPU twice; identities as kms_subscriber_check. The last
 * line gives the number of records in decimal (no sign, no leading zero), so a file cut short
 * at a line boundary is refused (KMS_ERR_TRUNCATED), as is anything after it.
 *
 * The parser reads through the bounded cursor and refuses anything else: KMS_ERR_MALFORMED
 * (wrong header, field, separator, case or count), KMS_ERR_UNSUPPORTED (another version),
 * KMS_ERR_TOO_LONG (a line longer than KMS_SUBFILE_LINE_MAX), KMS_ERR_TRUNCATED (no end line,
 * or a last line without "\n"), KMS_ERR_TRAILING (a line after the end line), and the identity
 * checks' codes. A refused record leaves *rec zeroed.
 */
#ifndef KMS_GBA_SUBFILE_H
#define KMS_GBA_SUBFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "gba/kms_subscriber.h"
#include "util/kms_buf.h"

#define KMS_SUBFILE_VERSION 1
/* The longest line, without its "\n": a record of the longest IMPI and 8 longest IMPUs is
 * 2,502 bytes. */
#define KMS_SUBFILE_LINE_MAX 4096

/* Writers: the header line, one record line, the end line (each with its "\n"). */
KMS_MUST_CHECK kms_result kms_subfile_put_header(struct kms_buf *b);
KMS_MUST_CHECK kms_result kms_subfile_put_rec(struct kms_buf *b,
                                              const struct kms_subscriber_rec *rec);
KMS_MUST_CHECK kms_result kms_subfile_put_end(struct kms_buf *b, uint64_t count);

/* One record line alone (without its "\n"), as kms_subfile_put_rec wrote it less the "\n":
 * how the BSF's Redis store keeps a subscriber. The record checks and codes of the reader. */
KMS_MUST_CHECK kms_result kms_subfile_rec_parse(const uint8_t *line, size_t len,
                                                struct kms_subscriber_rec *rec);

/* A reader fed one line at a time (without its "\n"). */
struct kms_subfile_reader {
    unsigned state; /* 0: header expected, 1: records or the end line, 2: after the end line */
    uint64_t records;
};
void kms_subfile_reader_init(struct kms_subfile_reader *r);
/* One line: *is_rec tells whether *rec was filled (a record line) or the line was the header or
 * the end line. Any error leaves the reader failed for good (every later line is refused). */
KMS_MUST_CHECK kms_result kms_subfile_feed(struct kms_subfile_reader *r, const uint8_t *line,
                                           size_t len, struct kms_subscriber_rec *rec,
                                           bool *is_rec);
/* After the last line: KMS_ERR_TRUNCATED unless the end line was read. */
KMS_MUST_CHECK kms_result kms_subfile_finish(const struct kms_subfile_reader *r);

/* A whole file in memory: the lines split at "\n" and fed in turn, cb called for each record
 * (a result other than OK stops the walk and is returned), then finished. *line_no (may be
 * NULL) is the 1-based number of the line that failed, 0 when none did. */
KMS_MUST_CHECK kms_result kms_subfile_parse(const uint8_t *p, size_t n,
                                            kms_result (*cb)(void *arg,
                                                             const struct kms_subscriber_rec *rec),
                                            void *arg, size_t *line_no);

#endif

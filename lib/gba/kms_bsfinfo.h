/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BootstrappingInfo body of TS 24.109 annex C: the XML document a BSF returns in the
 * 200 OK of a successful bootstrap (Content-Type application/vnd.3gpp.bsf+xml), carrying the
 * B-TID and the absolute UTC expiry of Ks:
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <BootstrappingInfo xmlns="uri:3gpp-gba"><btid>...</btid>
 *   <lifetime>YYYY-MM-DDTHH:MM:SSZ</lifetime></BootstrappingInfo>
 *
 * The parser is not a general XML processor (no XML library): the document is tiny and fixed,
 * design.md section 3 allows "a strict cursor parser", and a full XML stack (DTDs, entities,
 * encodings) is attack surface a UE does not need. It is a well-formedness checker for the
 * subset below plus the extraction of two values, reading only through kms_cur.
 *
 * Accepted:
 *  - at most KMS_BSFINFO_MAX octets of UTF-8 (a leading BOM is skipped); every character must
 *    be an XML 1.0 Char (no NUL, no C0 controls other than TAB, LF, CR, no U+FFFE/U+FFFF);
 *  - an optional XML declaration at the very start: version="1.0", optional encoding (UTF-8,
 *    any case), optional standalone (yes|no), in that order;
 *  - comments and processing instructions anywhere outside tags (skipped), white space;
 *  - namespaces in full: the root must be {uri:3gpp-gba}BootstrappingInfo whether the
 *    namespace is the default one or bound to a prefix; btid and lifetime are recognised as
 *    {uri:3gpp-gba}btid / {uri:3gpp-gba}lifetime children of the root, in either order;
 *  - unknown attributes anywhere, and unknown child elements of the root with any content
 *    (including nested elements, e.g. <Extension><currenttime>..</currenttime></Extension>),
 *    are skipped, as TS 24.109 C.1 tells receivers to do; they must still be well formed;
 *  - in text and attribute values: the five predefined entities and numeric character
 *    references (&#N; / &#xH;) of XML Chars; CDATA sections.
 *  - <lifetime>: white space around the value is dropped (xs:dateTime collapses it); the value
 *    is parsed by kms_time_parse ("Z" or "+00:00", optional fraction truncated).
 *  - <btid>: taken verbatim (xs:string): it must pass kms_ident_check_btid, so surrounding
 *    white space makes it invalid rather than silently trimmed.
 * Refused:
 *  - DOCTYPE (KMS_ERR_UNSUPPORTED) and so every entity but the five predefined (MALFORMED);
 *  - names with non-ASCII characters (UNSUPPORTED: no B-TID document needs them);
 *  - missing, duplicate or empty btid / lifetime, elements inside them, non-white-space text
 *    directly inside the root, a root in another namespace, an undeclared prefix, duplicate
 *    attributes, mismatched end tags, "]]>" in text, anything after the root but white space,
 *    comments and PIs (MALFORMED / TRAILING);
 *  - more than KMS_BSFINFO_DEPTH_MAX nested elements, KMS_BSFINFO_ATTR_MAX attributes on one
 *    element or KMS_BSFINFO_NS_MAX namespace declarations in scope (TOO_LONG);
 *  - a document that ends early (TRUNCATED).
 */
#ifndef KMS_GBA_BSFINFO_H
#define KMS_GBA_BSFINFO_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "err/kms_err.h"
#include "util/kms_buf.h"

#define KMS_BSFINFO_NS           "uri:3gpp-gba"
#define KMS_BSFINFO_CONTENT_TYPE "application/vnd.3gpp.bsf+xml"
#define KMS_BSFINFO_MAX          16384
#define KMS_BSFINFO_DEPTH_MAX    8
#define KMS_BSFINFO_ATTR_MAX     16
#define KMS_BSFINFO_NS_MAX       16

/* Appends the document for (btid, lifetime) to out, exactly:
 *   <?xml version="1.0" encoding="UTF-8"?>\n<BootstrappingInfo xmlns="uri:3gpp-gba">
 *   <btid>BTID</btid><lifetime>YYYY-MM-DDTHH:MM:SSZ</lifetime></BootstrappingInfo>
 * (without line breaks after the declaration's). btid (NUL-terminated, borrowed) must pass
 * kms_ident_check_btid; XML specials in it are escaped all the same. KMS_ERR_ARG for a
 * lifetime beyond 9999, KMS_ERR_TOO_LONG when out is full (out is then as it was). */
KMS_MUST_CHECK kms_result kms_bsfinfo_format(const char *btid, uint64_t lifetime,
                                             struct kms_buf *out);

/* Parses the n octets at p (borrowed) as described above. On success btid holds the B-TID
 * NUL-terminated (cap octets available; KMS_ERR_TOO_LONG when it does not fit) and *lifetime
 * the expiry in UNIX seconds. On failure btid is all zero (cap octets) and *lifetime is 0. */
KMS_MUST_CHECK kms_result kms_bsfinfo_parse(const uint8_t *p, size_t n, char *btid, size_t cap,
                                            uint64_t *lifetime);

#endif

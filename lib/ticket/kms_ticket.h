/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_ticket: sealed ticket format v1 (the "encrypted Kue" of the seed, and media tickets).
 *
 *   offset  size  field
 *   0       1     version = 1
 *   1       1     kind: 1 sealed Kue, 2 media ticket
 *   2       4     Kkms key id (big-endian)
 *   6       12    nonce (random, 96 bits)
 *   18      n     AES-256-GCM ciphertext of the payload under Kkms
 *   18+n    16    GCM tag; associated data = bytes 0..5 (version, kind, key id)
 *
 * The payload is a sequence of typed fields: type (1 byte), length (2 bytes), value. Types
 * appear in ascending order (the repeatable IMPU and RESPONDER fields in runs); a type with
 * bit 0x80 set is non-critical and skipped when unknown, any other unknown type is refused.
 * Full field table: docs/protocol.md.
 *
 * Opening checks the header, then the key's state, then the tag, then the payload, then the
 * times, and reports the first failure with a distinct code (KMS_ERR_TICKET_VERSION,
 * KMS_ERR_KEY_UNKNOWN, KMS_ERR_KEY_DESTROYED, KMS_ERR_TICKET_TAG, KMS_ERR_TICKET_FIELD,
 * KMS_ERR_TICKET_EXPIRED, KMS_ERR_TICKET_EARLY); all are in the AUTH group, so a peer only
 * ever sees one answer. Input too short to hold a header is KMS_ERR_TRUNCATED.
 */
#ifndef KMS_TICKET_TICKET_H
#define KMS_TICKET_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "util/kms_buf.h"

struct kms_keyring;

#define KMS_TICKET_VERSION    1
#define KMS_TICKET_HEADER_LEN 18 /* version, kind, key id, nonce */
#define KMS_TICKET_AAD_LEN    6
#define KMS_TICKET_OVERHEAD   (KMS_TICKET_HEADER_LEN + 16)
#define KMS_TICKET_MAX        4096
#define KMS_TICKET_ID_LEN     16 /* token id: the Kue-RAND / media ticket RAND */
#define KMS_TICKET_KEY_MIN    16
#define KMS_TICKET_KEY_MAX    64
#define KMS_TICKET_IDENT_MAX  255 /* IMPI, IMPU, initiator, responder: printable ASCII */
#define KMS_TICKET_MAX_IDENTS 8   /* IMPUs per Kue, responders per media ticket */
#define KMS_TICKET_NAF_ID_MAX 260 /* FQDN (255) || Ua security protocol id (5) */
#define KMS_TICKET_ISSUE_SKEW 300 /* seconds a ticket's issue time may lie in the future */

enum kms_ticket_kind {
    KMS_TICKET_KUE = 1,   /* sealed Kue (mode 3), also the mode-2 Kue record */
    KMS_TICKET_MEDIA = 2, /* media keys for a responder */
};

/* Payload field types (docs/protocol.md). */
enum kms_ticket_field {
    KMS_TF_KUE = 0x01,
    KMS_TF_IMPI = 0x02,
    KMS_TF_IMPU = 0x03,
    KMS_TF_ISSUED = 0x04,
    KMS_TF_EXPIRES = 0x05,
    KMS_TF_TOKEN_ID = 0x06,
    /* 0x07: reserved (was COUNTER_BASE, removed with the COUNTER replay mode): refused */
    KMS_TF_MODE = 0x08,
    KMS_TF_NAF_ID = 0x09,
    KMS_TF_KS_NAF_EXPIRES = 0x0a,
    KMS_TF_TGK = 0x10,
    KMS_TF_MPK = 0x11,
    KMS_TF_INITIATOR = 0x12,
    KMS_TF_RESPONDER = 0x13,
    KMS_TF_NONCRITICAL = 0x80, /* flag bit */
};

struct kms_ticket_ident {
    size_t len;
    char s[KMS_TICKET_IDENT_MAX + 1]; /* NUL-terminated */
};

struct kms_ticket_claims {
    enum kms_ticket_kind kind;
    uint32_t key_id;  /* set by seal and open */
    uint64_t issued;  /* set by seal (= now) */
    uint64_t expires; /* requested by the caller; seal caps it at the key's grace_until */
    uint8_t token_id[KMS_TICKET_ID_LEN];

    /* KMS_TICKET_KUE */
    uint8_t kue[KMS_TICKET_KEY_MAX];
    size_t kue_len;
    struct kms_ticket_ident impi;
    struct kms_ticket_ident impu[KMS_TICKET_MAX_IDENTS];
    size_t n_impu;
    uint8_t mode; /* 2 or 3 */
    uint8_t naf_id[KMS_TICKET_NAF_ID_MAX];
    size_t naf_id_len;
    uint64_t ks_naf_expires; /* expires <= ks_naf_expires */

    /* KMS_TICKET_MEDIA */
    uint8_t tgk[KMS_TICKET_KEY_MAX];
    size_t tgk_len;
    uint8_t mpk[KMS_TICKET_KEY_MAX]; /* optional (mpk_len 0) */
    size_t mpk_len;
    struct kms_ticket_ident initiator;
    struct kms_ticket_ident responder[KMS_TICKET_MAX_IDENTS];
    size_t n_responder;
};

/* The clear header, readable without any key. */
struct kms_ticket_header {
    uint8_t version;
    uint8_t kind;
    uint32_t key_id;
    uint8_t nonce[12];
    size_t ct_len;
};

/* Sets an identity from a NUL-terminated string (KMS_ERR_NOT_ASCII, KMS_ERR_BAD_LENGTH). */
KMS_MUST_CHECK kms_result kms_ticket_ident_set(struct kms_ticket_ident *id, const char *s);

/* Wipes every key and identity in c. */
void kms_ticket_claims_wipe(struct kms_ticket_claims *c);
/* The same for claims filled by this module (decode, kms_ticket_ident_set) and by writes of the
 * caller that keep within the recorded lengths, for a hot path that reuses one claims object:
 * every key field and every scalar is wiped whole, the identities (about 4.6 KB of storage) and
 * the NAF_Id only up to their lengths. Claims that were zero before they were filled are zero
 * again after it. */
void kms_ticket_claims_wipe_used(struct kms_ticket_claims *c);

/* Does a Kue's claims name id: its IMPI, or one of its IMPUs (exact match)? */
bool kms_ticket_claims_name(const struct kms_ticket_claims *c, const char *id);

/* KMS_ERR_TRUNCATED when n < KMS_TICKET_OVERHEAD, KMS_ERR_TOO_LONG above KMS_TICKET_MAX,
 * KMS_ERR_TICKET_VERSION for another version or an unknown kind. */
KMS_MUST_CHECK kms_result kms_ticket_header_parse(const uint8_t *t, size_t n,
                                                  struct kms_ticket_header *h);

/* The payload alone (also the plaintext of a mode-2 Kue record in the state store).
 * encode refuses incomplete or inconsistent claims with KMS_ERR_ARG; decode refuses with
 * KMS_ERR_TICKET_FIELD (and leaves c wiped). */
KMS_MUST_CHECK kms_result kms_ticket_payload_encode(const struct kms_ticket_claims *c,
                                                    struct kms_buf *out);
KMS_MUST_CHECK kms_result kms_ticket_payload_decode(const uint8_t *p, size_t n,
                                                    enum kms_ticket_kind kind,
                                                    struct kms_ticket_claims *c);

/* Seals c under the keyring's active key: sets c->issued = now, c->key_id, and caps
 * c->expires at the key's end of grace (and refuses expires <= now, or a Kue whose expiry
 * passes ks_naf_expires, with KMS_ERR_ARG). Appends the ticket to out. */
KMS_MUST_CHECK kms_result kms_ticket_seal(struct kms_keyring *kr, uint64_t now,
                                          struct kms_ticket_claims *c, struct kms_buf *out);

/* Opens a ticket of the expected kind (see the order above). c is wiped on failure. */
KMS_MUST_CHECK kms_result kms_ticket_open(struct kms_keyring *kr, uint64_t now, const uint8_t *t,
                                          size_t n, enum kms_ticket_kind kind,
                                          struct kms_ticket_claims *c);

#endif

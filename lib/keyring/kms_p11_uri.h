/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_p11_uri: the strict RFC 7512 parser behind kms_keystore_p11_open (internal).
 *
 * Accepted form (every other attribute, a duplicate, or a malformed escape is refused):
 *   pkcs11:PATH?QUERY
 *   PATH  = attr *(";" attr), attr one of token=, serial=, manufacturer=, model=
 *   QUERY = attr *("&" attr), attr one of module-path=, pin-source=file:/path, pin-value=
 * token= or serial= must be present (a keystore never picks "the first token"), module-path=
 * must be an absolute path, and exactly one of pin-source= and pin-value= must be given.
 * Values are percent-decoded and may not decode to a NUL byte or exceed the size of the
 * CK_TOKEN_INFO field they are compared with.
 */
#ifndef KMS_KEYRING_P11_URI_H
#define KMS_KEYRING_P11_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "err/kms_err.h"
#include "util/kms_mem.h"

#define KMS_P11_URI_MAX    8192 /* longest URI accepted, in bytes */
#define KMS_P11_PATH_MAX   4096 /* module-path and pin-source file path, decoded, with NUL */
#define KMS_P11_PIN_MAX    256  /* longest PIN, in bytes */
#define KMS_P11_LABEL_LEN  32   /* CK_TOKEN_INFO.label and .manufacturerID */
#define KMS_P11_SERIAL_LEN 16   /* CK_TOKEN_INFO.serialNumber and .model */

/* One token-info field from the URI: the decoded bytes, compared with a blank-padded field. */
struct kms_p11_field {
    bool set;
    size_t len;
    char v[KMS_P11_LABEL_LEN + 1];
};

struct kms_p11_uri {
    struct kms_p11_field token, serial, manufacturer, model;
    char module_path[KMS_P11_PATH_MAX];
    bool has_pin_source;
    char pin_source[KMS_P11_PATH_MAX]; /* the file path after "file:" */
    /* pin-value= decoded, on the secret heap (NULL when the URI names a pin-source). */
    struct kms_secret *pin_value;
    size_t pin_value_len;
};

/* Parses the NUL-terminated uri into *u (zeroed first). On failure *u holds nothing to free.
 * Errors: KMS_ERR_HSM_URI for anything malformed or refused, KMS_ERR_NOMEM. */
KMS_MUST_CHECK kms_result kms_p11_uri_parse(const char *uri, struct kms_p11_uri *u);

/* Wipes *u and frees its PIN. Safe on a zeroed or already cleaned struct. */
void kms_p11_uri_cleanup(struct kms_p11_uri *u);

/* The PIN of a parsed URI in a new secret (*pin, *pin_len bytes of it are the PIN): a copy of
 * pin-value=, or the contents of the pin-source file less one trailing newline. The file must
 * be a regular file that neither group nor others can access (mode 0600 or stricter).
 * Errors: KMS_ERR_IO when the file cannot be read, KMS_ERR_HSM_URI when it has the wrong mode,
 * type or size (empty, longer than KMS_P11_PIN_MAX), KMS_ERR_NOMEM. */
KMS_MUST_CHECK kms_result kms_p11_uri_pin(const struct kms_p11_uri *u, struct kms_secret **pin,
                                          size_t *pin_len);

/* True when the blank-padded token-info field f[0..n) matches the URI field (an unset URI
 * field matches everything). */
bool kms_p11_field_match(const struct kms_p11_field *want, const unsigned char *f, size_t n);

#endif

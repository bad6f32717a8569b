/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret memory: allocation on OpenSSL's secure heap when it has been initialised (the daemons
 * do that at start), the ordinary heap otherwise; every byte is wiped before it is freed.
 * Comparisons of secrets run in constant time.
 */
#ifndef KMS_UTIL_MEM_H
#define KMS_UTIL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

/* A heap block of key material. `len` is fixed at allocation. */
struct kms_secret {
    size_t len;
    uint8_t *d;
};

/* Allocates a zeroed secret of len bytes (len > 0). *out is NULL on failure. */
KMS_MUST_CHECK kms_result kms_secret_new(size_t len, struct kms_secret **out);
/* A new secret holding a copy of p[0..len). */
KMS_MUST_CHECK kms_result kms_secret_from(const uint8_t *p, size_t len, struct kms_secret **out);
/* Wipes and frees; NULL does nothing. */
void kms_secret_free(struct kms_secret *s);

/* Sets up OpenSSL's secure heap (mlocked, excluded from core dumps) of `size` bytes. */
KMS_MUST_CHECK kms_result kms_mem_secure_init(size_t size);

/* Wipes n bytes in a way the compiler may not remove. */
void kms_wipe(void *p, size_t n);

/* Constant-time equality of two n-byte strings (time depends on n only). */
bool kms_ct_eq(const void *a, const void *b, size_t n);

/* Copies the NUL-terminated src into dst (cap bytes): KMS_ERR_TOO_LONG, with dst left "",
 * when src and its NUL do not fit; KMS_ERR_ARG for NULL or cap 0. The bounded strcpy. */
KMS_MUST_CHECK kms_result kms_str_copy(char *dst, size_t cap, const char *src);

#endif

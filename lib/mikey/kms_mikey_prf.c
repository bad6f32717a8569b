/* SPDX-License-Identifier: Apache-2.0 */
#include "mikey/kms_mikey_prf.h"

#include <string.h>

#include <openssl/core_names.h>

#include "util/kms_mem.h"

/* The largest HMAC output (SHA-256). */
#define HMAC_MAX 32

/*= RFC 3830, 4.1.2 (paraphrased, see protocol-facts.md 4.5)
 *# inkey is divided into n = ceil(inkey_len / 256) chunks s_1 ... s_n of 256 bits (the last
 *# may be shorter)
 */
#define PRF_CHUNK 32

bool kms_mikey_mac_len(enum kms_mikey_mac_alg alg, size_t *len)
{
    switch (alg) {
    case KMS_MIKEY_MAC_NULL:
        *len = 0;
        return true;
    /*= RFC 3830, 4.2.4 (paraphrased)
     *# HMAC-SHA-1 with a 160-bit authentication key and a 160-bit MAC
     */
    case KMS_MIKEY_MAC_HMAC_SHA1_160:
        *len = 20;
        return true;
    /*= RFC 6043, 6 (paraphrased, see protocol-facts.md 4.3, 5.3)
     *# HMAC-SHA-256-256: a 256-bit key and the full 256-bit MAC
     */
    case KMS_MIKEY_MAC_HMAC_SHA256_256:
        *len = 32;
        return true;
    default:
        *len = 0;
        return false;
    }
}

bool kms_mikey_encr_key_len(enum kms_mikey_encr_alg alg, size_t *len)
{
    switch (alg) {
    case KMS_MIKEY_ENCR_NULL:
        *len = 0;
        return true;
    case KMS_MIKEY_ENCR_AES_CM_128:
    case KMS_MIKEY_ENCR_AES_KW_128:
        *len = 16;
        return true;
    case KMS_MIKEY_ENCR_AES_CM_256:
        *len = 32;
        return true;
    default:
        *len = 0;
        return false;
    }
}

bool kms_mikey_encr_salt_len(enum kms_mikey_encr_alg alg, size_t *len)
{
    switch (alg) {
    case KMS_MIKEY_ENCR_NULL:
        *len = 0;
        return true;
    /*= RFC 3830, 4.2.3 (paraphrased, see protocol-facts.md 4.7)
     *# AES-CM as in SRTP with a 112-bit salt
     */
    case KMS_MIKEY_ENCR_AES_CM_128:
    /*= RFC 6043, 6 (paraphrased; clause text not re-read, see protocol-facts.md 4.7)
     *# AES-CM-256 is AES-CM-128 with a 256-bit key: the salt stays 112 bits (as in SRTP's
     *# AES_256_CM, RFC 6188)
     */
    case KMS_MIKEY_ENCR_AES_CM_256:
        *len = KMS_MIKEY_SALT_LEN;
        return true;
    /*= RFC 3830, 4.2.3 (paraphrased, see protocol-facts.md 4.7)
     *# AES key wrap with a 64-bit salt as its IV
     */
    case KMS_MIKEY_ENCR_AES_KW_128:
        *len = 8;
        return true;
    default:
        *len = 0;
        return false;
    }
}

/* The HMAC digest and its output size (the PRF's block size) of a PRF number. */
static kms_result prf_digest(enum kms_mikey_prf_alg alg, const char **digest, size_t *hlen)
{
    switch (alg) {
    case KMS_MIKEY_PRF_MIKEY1:
        *digest = "SHA1";
        *hlen = 20;
        return KMS_RESULT_OK;
    /*= RFC 6043, 6.1 (paraphrased, see protocol-facts.md 4.5)
     *# PRF-HMAC-SHA-256 is the PRF of RFC 3830 with HMAC-SHA-256 instead of HMAC-SHA-1 and
     *# 256 instead of 160
     */
    case KMS_MIKEY_PRF_HMAC_SHA256:
        *digest = "SHA256";
        *hlen = 32;
        return KMS_RESULT_OK;
    default:
        KMS_BAIL(KMS_ERR_ARG);
    }
}

/* out = HMAC(s, a || b) under the prepared key s. */
static kms_result hmac2(const struct kms_hmac_key *s, const uint8_t *a, size_t a_len,
                        const uint8_t *b, size_t b_len, uint8_t *out, size_t hlen)
{
    const struct kms_iov parts[2] = {{a, a_len}, {b, b_len}};
    return kms_hmac_key_mac(s, parts, b_len > 0 ? 2 : 1, out, hlen);
}

/*= RFC 3830, 4.1.2 (paraphrased, see protocol-facts.md 4.5)
 *# P (s, label, m) = HMAC (s, A_1 || label) || HMAC (s, A_2 || label) || ...
 *#                   HMAC (s, A_m || label)
 *# where A_0 = label, A_i = HMAC (s, A_(i-1))
 *# PRF (inkey, label) = P (s_1, label, m) XOR P (s_2, label, m) XOR ... XOR P (s_n, label, m)
 *# with m = ceil(outkey_len / 160), truncated to the first outkey_len bits
 *
 * Each P output is XORed into out block by block as it is produced, so the only intermediate
 * values held are A_i and one HMAC block.
 */
static kms_result p_xor(const struct kms_hmac_key *s, const uint8_t *label, size_t label_len,
                        size_t hlen, uint8_t *out, size_t out_len, uint8_t *a, uint8_t *blk)
{
    const uint8_t *prev = label;
    size_t prev_len = label_len;
    for (size_t pos = 0; pos < out_len; pos += hlen) {
        KMS_TRY(hmac2(s, prev, prev_len, NULL, 0, a, hlen)); /* A_i */
        KMS_TRY(hmac2(s, a, hlen, label, label_len, blk, hlen));
        size_t take = out_len - pos < hlen ? out_len - pos : hlen;
        for (size_t j = 0; j < take; j++) {
            out[pos + j] ^= blk[j];
        }
        prev = a;
        prev_len = hlen;
    }
    return KMS_RESULT_OK;
}

/* One output of a PRF run: PRF(inkey, label) into out. */
struct prf_job {
    const uint8_t *label;
    size_t label_len;
    uint8_t *out;
    size_t out_len;
};

/* XORs P(s, label_j) into the output of every job j: one chunk's share of the PRF. */
static kms_result chunk_jobs(const struct kms_hmac_key *s, size_t hlen, const struct prf_job *jobs,
                             size_t n, uint8_t *a, uint8_t *blk)
{
    for (size_t j = 0; j < n; j++) {
        KMS_TRY(
            p_xor(s, jobs[j].label, jobs[j].label_len, hlen, jobs[j].out, jobs[j].out_len, a, blk));
    }
    return KMS_RESULT_OK;
}

/* PRF(inkey, label_j) for every job j with the same inkey: each 256-bit chunk s_i is prepared
 * once as an HMAC key (kms_hmac_key: its pads hashed once) for all the jobs, or comes prepared
 * in pk (an inkey of one chunk). The outputs are zeroed first and wiped on failure. Arguments
 * are checked by the callers. */
static kms_result prf_jobs(enum kms_mikey_prf_alg alg, const uint8_t *inkey, size_t inkey_len,
                           const struct kms_mikey_prf_key *pk, const struct prf_job *jobs, size_t n)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_hmac_key s = {0};
    uint8_t a[HMAC_MAX], blk[HMAC_MAX];
    const char *digest = NULL;
    size_t hlen = 0;
    for (size_t j = 0; j < n; j++) {
        memset(jobs[j].out, 0, jobs[j].out_len);
    }
    KMS_TRY_OUT(rc, prf_digest(alg, &digest, &hlen));
    if (pk != NULL) {
        KMS_TRY_OUT(rc, chunk_jobs(&pk->s, hlen, jobs, n, a, blk));
    } else {
        for (size_t off = 0; off < inkey_len; off += PRF_CHUNK) {
            size_t s_len = inkey_len - off < PRF_CHUNK ? inkey_len - off : PRF_CHUNK;
            KMS_TRY_OUT(rc, kms_hmac_key_init(&s, digest, inkey + off, s_len));
            KMS_TRY_OUT(rc, chunk_jobs(&s, hlen, jobs, n, a, blk));
            kms_hmac_key_cleanup(&s); /* cleanses the keyed states */
        }
    }
    rc = KMS_RESULT_OK;
out:
    kms_hmac_key_cleanup(&s);
    kms_wipe(a, sizeof(a));
    kms_wipe(blk, sizeof(blk));
    for (size_t j = 0; !kms_ok(rc) && j < n; j++) {
        kms_wipe(jobs[j].out, jobs[j].out_len);
    }
    return rc;
}

/* ---- prepared inkeys ----------------------------------------------------------------- */

void kms_mikey_prf_key_cleanup(struct kms_mikey_prf_key *pk)
{
    if (pk != NULL) {
        kms_hmac_key_cleanup(&pk->s); /* frees (cleanses) the keyed states */
        kms_wipe(pk, sizeof(*pk));
    }
}

/* pk holding inkey prepared for alg: as it is when it already does (the key compared in
 * constant time), else (re)prepared here. KMS_ERR_ARG for an inkey longer than one chunk. */
static kms_result prf_key_use(struct kms_mikey_prf_key *pk, enum kms_mikey_prf_alg alg,
                              const uint8_t *inkey, size_t inkey_len)
{
    KMS_ENSURE(inkey_len > 0 && inkey_len <= KMS_MIKEY_PRF_KEY_MAX, KMS_ERR_ARG);
    if (pk->ready && pk->alg == alg && pk->len == inkey_len &&
        kms_ct_eq(pk->key, inkey, inkey_len)) {
        return KMS_RESULT_OK;
    }
    kms_mikey_prf_key_cleanup(pk);
    const char *digest = NULL;
    size_t hlen = 0;
    KMS_TRY(prf_digest(alg, &digest, &hlen));
    KMS_TRY(kms_hmac_key_init(&pk->s, digest, inkey, inkey_len));
    memcpy(pk->key, inkey, inkey_len);
    pk->len = inkey_len;
    pk->alg = alg;
    pk->ready = true;
    return KMS_RESULT_OK;
}

kms_result kms_mikey_prf(enum kms_mikey_prf_alg alg, const uint8_t *inkey, size_t inkey_len,
                         const uint8_t *label, size_t label_len, uint8_t *out, size_t out_len)
{
    bool out_ok = out != NULL && out_len > 0 && out_len <= KMS_MIKEY_PRF_OUT_MAX;
    if (out_ok) {
        memset(out, 0, out_len);
    }
    KMS_ENSURE(out_ok, KMS_ERR_ARG);
    KMS_ENSURE(inkey != NULL && inkey_len > 0, KMS_ERR_ARG);
    KMS_ENSURE(label != NULL || label_len == 0, KMS_ERR_ARG);
    const struct prf_job job = {label, label_len, out, out_len};
    return prf_jobs(alg, inkey, inkey_len, NULL, &job, 1);
}

kms_result kms_mikey_derive(enum kms_mikey_prf_alg alg, const uint8_t *inkey, size_t inkey_len,
                            const struct kms_mikey_label *l, uint8_t *out, size_t out_len)
{
    if (l == NULL || l->len > sizeof(l->b)) {
        if (out != NULL && out_len <= KMS_MIKEY_PRF_OUT_MAX) {
            kms_wipe(out, out_len);
        }
        KMS_BAIL(KMS_ERR_ARG);
    }
    return kms_mikey_prf(alg, inkey, inkey_len, l->b, l->len, out, out_len);
}

/* ---- labels ------------------------------------------------------------------------- */

static void put_u8(struct kms_mikey_label *l, uint8_t v)
{
    l->b[l->len++] = v;
}

static void put_u32(struct kms_mikey_label *l, uint32_t v)
{
    put_u8(l, (uint8_t)(v >> 24));
    put_u8(l, (uint8_t)(v >> 16));
    put_u8(l, (uint8_t)(v >> 8));
    put_u8(l, (uint8_t)v);
}

/* Callers check the lengths first: every label fits KMS_MIKEY_LABEL_MAX by construction. */
static void put_bytes(struct kms_mikey_label *l, const uint8_t *p, size_t n)
{
    if (n > 0) {
        memcpy(l->b + l->len, p, n);
        l->len += n;
    }
}

/* RAND of RFC 3830 labels: present, at most what a one-octet length can carry. */
static bool rand_ok(const uint8_t *rand, size_t rand_len)
{
    return rand != NULL && rand_len > 0 && rand_len <= KMS_MIKEY_RAND_MAX;
}

/* RANDRi / RANDRr of RFC 6043 labels: absent (length 0) or 1..255 octets. */
static bool randr_ok(const struct kms_mikey_rands *r)
{
    return r != NULL && r->ri_len <= KMS_MIKEY_RAND_MAX && r->rr_len <= KMS_MIKEY_RAND_MAX &&
           (r->ri != NULL || r->ri_len == 0) && (r->rr != NULL || r->rr_len == 0);
}

/*= RFC 6043, 5.1 (paraphrased, see protocol-facts.md 5.6)
 *# ... || RANDRi len || RANDRi || RANDRr len || RANDRr, where only the length and value of
 *# each RAND (not the whole payload) enter the label, and an absent RAND has length 0
 */
static void put_randr(struct kms_mikey_label *l, const struct kms_mikey_rands *r)
{
    put_u8(l, (uint8_t)r->ri_len);
    put_bytes(l, r->ri, r->ri_len);
    put_u8(l, (uint8_t)r->rr_len);
    put_bytes(l, r->rr, r->rr_len);
}

kms_result kms_mikey_label_tgk(uint32_t constant, uint8_t cs_id, uint32_t csb_id,
                               const uint8_t *rand, size_t rand_len, struct kms_mikey_label *l)
{
    KMS_ENSURE_REF(l);
    l->len = 0;
    KMS_ENSURE(rand_ok(rand, rand_len), KMS_ERR_ARG);
    /*= RFC 3830, 4.1.3 (paraphrased, see protocol-facts.md 4.6)
     *# label = constant || cs_id || csb_id || RAND
     *# (constant 4 octets, cs_id 1 octet, csb_id 4 octets, all in network order)
     */
    put_u32(l, constant);
    put_u8(l, cs_id);
    put_u32(l, csb_id);
    put_bytes(l, rand, rand_len);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_label_psk(uint32_t constant, uint32_t csb_id, const uint8_t *rand,
                               size_t rand_len, struct kms_mikey_label *l)
{
    KMS_ENSURE_REF(l);
    l->len = 0;
    KMS_ENSURE(rand_ok(rand, rand_len), KMS_ERR_ARG);
    /*= RFC 3830, 4.1.4 (paraphrased, see protocol-facts.md 4.6)
     *# label = constant || 0xFF || csb_id || RAND
     */
    put_u32(l, constant);
    put_u8(l, 0xff);
    put_u32(l, csb_id);
    put_bytes(l, rand, rand_len);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_label_ticket(uint32_t constant, uint32_t csb_id, enum kms_mikey_ticket_dir dir,
                                  const struct kms_mikey_rands *r, struct kms_mikey_label *l)
{
    KMS_ENSURE_REF(l);
    l->len = 0;
    KMS_ENSURE(dir == KMS_MIKEY_TICKET_INITIAL || dir == KMS_MIKEY_TICKET_RESPONSE, KMS_ERR_ARG);
    KMS_ENSURE(randr_ok(r), KMS_ERR_ARG);
    /*= RFC 6043, 5.1 (paraphrased, see protocol-facts.md 5.6)
     *# label = constant || 0xFF || csb_id || 0x01 || RANDRi len || RANDRi || RANDRr len ||
     *# RANDRr for initial messages, 0x02 instead of 0x01 for response messages; the constants
     *# are those of RFC 3830 4.1.4
     */
    put_u32(l, constant);
    put_u8(l, 0xff);
    put_u32(l, csb_id);
    put_u8(l, (uint8_t)dir);
    put_randr(l, r);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_label_ticket_tgk(uint32_t constant, uint8_t cs_id,
                                      const struct kms_mikey_rands *r, struct kms_mikey_label *l)
{
    KMS_ENSURE_REF(l);
    l->len = 0;
    KMS_ENSURE(randr_ok(r), KMS_ERR_ARG);
    /*= RFC 6043, 5.1 (paraphrased, see protocol-facts.md 5.6)
     *# keys from a TGK or GTGK in Ticket Transfer: label = constant || cs_id || 0xFFFFFFFF ||
     *# 0x03 || RANDRi len || RANDRi || RANDRr len || RANDRr, constants of RFC 3830 4.1.3
     */
    put_u32(l, constant);
    put_u8(l, cs_id);
    put_u32(l, UINT32_C(0xffffffff));
    put_u8(l, 0x03);
    put_randr(l, r);
    return KMS_RESULT_OK;
}

/* ---- the keys of a message ---------------------------------------------------------- */

void kms_mikey_msg_keys_cleanup(struct kms_mikey_msg_keys *k)
{
    if (k != NULL) {
        kms_wipe(k, sizeof(*k));
    }
}

/* Replaces the constant, the first four octets of every label layout (RFC 3830 4.1.3, 4.1.4;
 * RFC 6043 5.1), so one label serves the three keys of a message. */
static void set_constant(struct kms_mikey_label *l, uint32_t constant)
{
    l->b[0] = (uint8_t)(constant >> 24);
    l->b[1] = (uint8_t)(constant >> 16);
    l->b[2] = (uint8_t)(constant >> 8);
    l->b[3] = (uint8_t)constant;
}

/* Fills k with the keys the algorithms ask for; k is zeroed by the caller. */
static kms_result msg_keys(enum kms_mikey_prf_alg prf, const uint8_t *inkey, size_t inkey_len,
                           struct kms_mikey_prf_key *pk, struct kms_mikey_label *l,
                           enum kms_mikey_encr_alg encr, enum kms_mikey_mac_alg mac,
                           struct kms_mikey_msg_keys *k)
{
    size_t encr_len, salt_len, auth_len;
    KMS_ENSURE(kms_mikey_encr_key_len(encr, &encr_len), KMS_ERR_ARG);
    KMS_ENSURE(kms_mikey_encr_salt_len(encr, &salt_len), KMS_ERR_ARG);
    KMS_ENSURE(kms_mikey_mac_len(mac, &auth_len), KMS_ERR_ARG);
    /* AES-KW-128 is a known number, but not implemented. */
    KMS_ENSURE(encr != KMS_MIKEY_ENCR_AES_KW_128, KMS_ERR_ARG);
    /*= RFC 3830, 4.1.4 (paraphrased, see protocol-facts.md 4.6)
     *# constant 0x150533E1 for encr_key, 0x2D22AC75 for auth_key, 0x29B88916 for salt_key
     */
    const struct {
        uint32_t constant;
        uint8_t *out;
        size_t len;
    } want[] = {
        {KMS_MIKEY_C_MSG_ENCR, k->encr, encr_len},
        {KMS_MIKEY_C_MSG_AUTH, k->auth, auth_len},
        {KMS_MIKEY_C_MSG_SALT, k->salt, salt_len},
    };
    /* The three labels differ only in their constant: one PRF run keys each chunk once. */
    struct kms_mikey_label labels[3];
    struct prf_job jobs[3];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (want[i].len > 0) {
            labels[n] = *l;
            set_constant(&labels[n], want[i].constant);
            jobs[n] = (struct prf_job){labels[n].b, labels[n].len, want[i].out, want[i].len};
            n++;
        }
    }
    if (pk != NULL && n > 0) {
        KMS_TRY(prf_key_use(pk, prf, inkey, inkey_len));
    }
    KMS_TRY(prf_jobs(prf, inkey, inkey_len, n > 0 ? pk : NULL, jobs, n));
    k->encr_len = encr_len;
    k->auth_len = auth_len;
    k->salt_len = salt_len;
    return KMS_RESULT_OK;
}

/* The checks both entry points make before deriving anything, so that a NULL/NULL algorithm
 * pair still refuses a bad PRF or key. */
static kms_result msg_keys_args(enum kms_mikey_prf_alg prf, const uint8_t *inkey, size_t inkey_len)
{
    const char *digest;
    size_t hlen;
    KMS_TRY(prf_digest(prf, &digest, &hlen));
    KMS_ENSURE(inkey != NULL && inkey_len > 0, KMS_ERR_ARG);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_msg_keys_psk(enum kms_mikey_prf_alg prf, const uint8_t *psk, size_t psk_len,
                                  uint32_t csb_id, const uint8_t *rand, size_t rand_len,
                                  enum kms_mikey_encr_alg encr, enum kms_mikey_mac_alg mac,
                                  struct kms_mikey_msg_keys *k)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_label l;
    KMS_ENSURE_REF(k);
    memset(k, 0, sizeof(*k));
    KMS_TRY_OUT(rc, msg_keys_args(prf, psk, psk_len));
    KMS_TRY_OUT(rc, kms_mikey_label_psk(KMS_MIKEY_C_MSG_ENCR, csb_id, rand, rand_len, &l));
    KMS_TRY_OUT(rc, msg_keys(prf, psk, psk_len, NULL, &l, encr, mac, k));
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_mikey_msg_keys_cleanup(k);
    }
    return rc;
}

kms_result kms_mikey_msg_keys_ticket(enum kms_mikey_prf_alg prf, const uint8_t *inkey,
                                     size_t inkey_len, uint32_t csb_id,
                                     enum kms_mikey_ticket_dir dir, const struct kms_mikey_rands *r,
                                     enum kms_mikey_encr_alg encr, enum kms_mikey_mac_alg mac,
                                     struct kms_mikey_msg_keys *k)
{
    return kms_mikey_msg_keys_ticket_pk(prf, inkey, inkey_len, NULL, csb_id, dir, r, encr, mac, k);
}

kms_result kms_mikey_msg_keys_ticket_pk(enum kms_mikey_prf_alg prf, const uint8_t *inkey,
                                        size_t inkey_len, struct kms_mikey_prf_key *pk,
                                        uint32_t csb_id, enum kms_mikey_ticket_dir dir,
                                        const struct kms_mikey_rands *r,
                                        enum kms_mikey_encr_alg encr, enum kms_mikey_mac_alg mac,
                                        struct kms_mikey_msg_keys *k)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_mikey_label l;
    KMS_ENSURE_REF(k);
    memset(k, 0, sizeof(*k));
    KMS_TRY_OUT(rc, msg_keys_args(prf, inkey, inkey_len));
    KMS_TRY_OUT(rc, kms_mikey_label_ticket(KMS_MIKEY_C_MSG_ENCR, csb_id, dir, r, &l));
    /* An inkey longer than one chunk is derived from as it is. */
    KMS_TRY_OUT(rc, msg_keys(prf, inkey, inkey_len, inkey_len <= KMS_MIKEY_PRF_KEY_MAX ? pk : NULL,
                             &l, encr, mac, k));
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_mikey_msg_keys_cleanup(k);
    }
    return rc;
}

/* ---- AES-CM ------------------------------------------------------------------------- */

void kms_mikey_aes_cm_iv(const uint8_t salt[KMS_MIKEY_SALT_LEN], uint32_t csb_id, uint64_t t,
                         uint8_t iv[KMS_MIKEY_IV_LEN])
{
    /*= RFC 3830, 4.2.3 (paraphrased, see protocol-facts.md 4.7)
     *# IV = (S XOR (0x0000 || CSB ID || T)) || 0x0000, where S is the 112-bit salt key, CSB ID
     *# the 32-bit CSB ID of the header and T the 64-bit timestamp of the Initiator
     */
    uint8_t x[KMS_MIKEY_SALT_LEN] = {0};
    for (size_t i = 0; i < 4; i++) {
        x[2 + i] = (uint8_t)(csb_id >> (24 - 8 * i));
    }
    for (size_t i = 0; i < 8; i++) {
        x[6 + i] = (uint8_t)(t >> (56 - 8 * i));
    }
    for (size_t i = 0; i < KMS_MIKEY_SALT_LEN; i++) {
        iv[i] = (uint8_t)(salt[i] ^ x[i]);
    }
    /* the 16-bit block counter starts at zero */
    iv[14] = 0;
    iv[15] = 0;
    kms_wipe(x, sizeof(x));
}

kms_result kms_mikey_aes_cm(enum kms_mikey_encr_alg alg, const uint8_t *key,
                            const uint8_t salt[KMS_MIKEY_SALT_LEN], uint32_t csb_id, uint64_t t,
                            const uint8_t *in, size_t len, uint8_t *out)
{
    kms_result rc = KMS_RC_INIT;
    const struct kms_ossl *o = kms_ossl();
    EVP_CIPHER_CTX *ctx = NULL;
    const EVP_CIPHER *cipher = NULL;
    uint8_t iv[KMS_MIKEY_IV_LEN];
    int n = 0, fin = 0;
    bool out_ok = out != NULL && len <= KMS_MIKEY_AES_CM_MAX;
    memset(iv, 0, sizeof(iv));
    KMS_ENSURE_OUT(rc, out_ok && key != NULL && salt != NULL, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, in != NULL, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, o != NULL, KMS_ERR_CRYPTO);
    switch (alg) {
    case KMS_MIKEY_ENCR_AES_CM_128:
        cipher = o->aes128_ctr;
        break;
    case KMS_MIKEY_ENCR_AES_CM_256:
        cipher = o->aes256_ctr;
        break;
    default:
        KMS_BAIL_OUT(rc, KMS_ERR_ARG);
    }
    if (len == 0) {
        rc = KMS_RESULT_OK;
        goto out;
    }
    /*= RFC 3830, 4.2.3 (paraphrased, see protocol-facts.md 4.7)
     *# AES in counter mode as in SRTP with SRTP_PREFIX_LENGTH 0: keystream block j is
     *# AES(encr_key, IV + j) with a 16-bit block counter, so at most 2^16 blocks
     *
     * OpenSSL's CTR mode increments the whole 128-bit IV as a big-endian number. With the last
     * two octets of the IV zero and len at most 2^16 blocks the increment never carries out of
     * those two octets, so it is the 16-bit counter of SRTP.
     */
    kms_mikey_aes_cm_iv(salt, csb_id, t, iv);
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(ctx, out, &n, in, (int)len));
    KMS_ENSURE_OUT(rc, n >= 0 && (size_t)n == len, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptFinal_ex(ctx, out + len, &fin));
    KMS_ENSURE_OUT(rc, fin == 0, KMS_ERR_CRYPTO);
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    kms_wipe(iv, sizeof(iv));
    if (!kms_ok(rc) && out_ok) {
        kms_wipe(out, len);
    }
    return rc;
}

/* ---- MACs --------------------------------------------------------------------------- */

kms_result kms_mikey_mac(enum kms_mikey_mac_alg alg, const uint8_t *key, size_t key_len,
                         const struct kms_iov *parts, size_t n, uint8_t *out, size_t out_cap,
                         size_t *out_len)
{
    const char *digest;
    size_t want = 0;
    KMS_ENSURE_REF(out_len);
    *out_len = 0;
    KMS_ENSURE(key != NULL && out != NULL && (parts != NULL || n == 0), KMS_ERR_ARG);
    /*= RFC 3830, 4.2.4 (paraphrased, see protocol-facts.md 4.7)
     *# the MAC is HMAC-SHA-1 with a 160-bit auth_key and the full 160-bit output; RFC 6043 adds
     *# HMAC-SHA-256-256 with a 256-bit key and the full 256-bit output
     */
    switch (alg) {
    case KMS_MIKEY_MAC_HMAC_SHA1_160:
        digest = "SHA1";
        break;
    case KMS_MIKEY_MAC_HMAC_SHA256_256:
        digest = "SHA256";
        break;
    default:
        /* NULL has no MAC to compute or check: the caller decides whether NULL is allowed. */
        KMS_BAIL(KMS_ERR_ARG);
    }
    KMS_ENSURE(kms_mikey_mac_len(alg, &want), KMS_ERR_ARG);
    KMS_ENSURE(key_len == want && out_cap >= want, KMS_ERR_ARG);
    KMS_TRY(kms_hmac(digest, key, key_len, parts, n, out, out_cap, out_len));
    KMS_ENSURE(*out_len == want, KMS_ERR_CRYPTO);
    return KMS_RESULT_OK;
}

kms_result kms_mikey_mac_verify(enum kms_mikey_mac_alg alg, const uint8_t *key, size_t key_len,
                                const struct kms_iov *parts, size_t n, const uint8_t *mac,
                                size_t mac_len)
{
    uint8_t calc[KMS_MIKEY_MAC_MAX];
    size_t len = 0;
    KMS_ENSURE(mac != NULL, KMS_ERR_ARG);
    kms_result r = kms_mikey_mac(alg, key, key_len, parts, n, calc, sizeof(calc), &len);
    /* Length first (public: implied by the algorithm), then the bytes in constant time. */
    bool same = kms_ok(r) && mac_len == len && kms_ct_eq(calc, mac, len);
    kms_wipe(calc, sizeof(calc));
    KMS_TRY(r);
    KMS_ENSURE(same, KMS_ERR_AUTH);
    return KMS_RESULT_OK;
}

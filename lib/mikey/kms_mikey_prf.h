/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIKEY key derivation and key-data protection (RFC 3830, RFC 6043):
 *  - the MIKEY PRF: MIKEY-1 (HMAC-SHA-1, RFC 3830 4.1.2) and PRF-HMAC-SHA-256 (RFC 6043 6.1);
 *  - the derivation labels of RFC 3830 4.1.3 (from a TGK), 4.1.4 (from a PSK or envelope key)
 *    and RFC 6043 5.1 (MIKEY-TICKET messages; TGK/GTGK in Ticket Transfer), and the keys a
 *    message needs (encr_key, auth_key, salt_key) given its KEMAC algorithms;
 *  - AES-CM key-data encryption (RFC 3830 4.2.3, SRTP AES-CM with prefix length 0);
 *  - the KEMAC / V payload MACs (HMAC-SHA-1-160, HMAC-SHA-256-256) and their constant-time check.
 *
 * The algorithm numbers below are the wire values, so a decoded octet can be passed as is:
 * every function refuses a number it does not know (KMS_ERR_ARG). Every pointer argument is
 * borrowed for the duration of the call; nothing is retained. Derived keys are secrets: every
 * function that writes one wipes it on failure, and the caller wipes it after use. The functions
 * keep no state of their own (OpenSSL handles come from kms_ossl()) and are safe to call from
 * several threads at once.
 *
 * Not here: AES-KW-128 key wrap, the key-forking labels (0x00), the ticket labels (0x05, 0x06)
 * of RFC 6043, and the choice of T for response KEMACs (protocol-facts.md 5.6): the caller
 * passes the T it decided on.
 */
#ifndef KMS_MIKEY_PRF_H
#define KMS_MIKEY_PRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_ossl.h"
#include "err/kms_err.h"

/* HDR "PRF func" (RFC 3830 6.1; RFC 6043 6.1). */
enum kms_mikey_prf_alg {
    KMS_MIKEY_PRF_MIKEY1 = 0,      /* MIKEY-1: HMAC-SHA-1, 160-bit blocks */
    KMS_MIKEY_PRF_HMAC_SHA256 = 1, /* PRF-HMAC-SHA-256: 256-bit blocks */
};

/* KEMAC "Encr alg" (RFC 3830 6.2; value 3 from RFC 6043 6). */
enum kms_mikey_encr_alg {
    KMS_MIKEY_ENCR_NULL = 0,
    KMS_MIKEY_ENCR_AES_CM_128 = 1,
    KMS_MIKEY_ENCR_AES_KW_128 = 2, /* known, not implemented: refused where keys are needed */
    KMS_MIKEY_ENCR_AES_CM_256 = 3,
};

/* KEMAC "MAC alg" and V "Auth alg" (RFC 3830 6.2, 6.9; value 2 from RFC 6043 6). */
enum kms_mikey_mac_alg {
    KMS_MIKEY_MAC_NULL = 0,
    KMS_MIKEY_MAC_HMAC_SHA1_160 = 1,   /* 20-octet MAC, 160-bit auth_key */
    KMS_MIKEY_MAC_HMAC_SHA256_256 = 2, /* 32-octet MAC, 256-bit auth_key */
};

/* Largest PRF output we produce in one call (the longest MIKEY key is 32 octets). */
#define KMS_MIKEY_PRF_OUT_MAX 1024
/* Longest encr_key / auth_key / MAC. */
#define KMS_MIKEY_KEY_MAX 32
#define KMS_MIKEY_MAC_MAX 32
/* AES-CM salt_key (112 bits) and IV. */
#define KMS_MIKEY_SALT_LEN 14
#define KMS_MIKEY_IV_LEN   16
/* A RAND / RANDR value: its length travels in one octet. */
#define KMS_MIKEY_RAND_MAX 255
/* The longest label: constant(4) || 0xFF or cs_id(1) || csb_id(4) || type(1) ||
 * len(1) || RANDRi || len(1) || RANDRr. */
#define KMS_MIKEY_LABEL_MAX (4 + 1 + 4 + 1 + 1 + KMS_MIKEY_RAND_MAX + 1 + KMS_MIKEY_RAND_MAX)
/* AES-CM with a 16-bit block counter covers 2^16 blocks of 16 octets. */
#define KMS_MIKEY_AES_CM_MAX ((size_t)1 << 20)

/* Label constants, RFC 3830 4.1.3: keys derived from a TGK (also RFC 6043 5.1, Ticket Transfer). */
#define KMS_MIKEY_C_TGK_TEK  UINT32_C(0x2AD01C64)
#define KMS_MIKEY_C_TGK_AUTH UINT32_C(0x1B5C7973)
#define KMS_MIKEY_C_TGK_ENCR UINT32_C(0x15798CEF)
#define KMS_MIKEY_C_TGK_SALT UINT32_C(0x39A2C14B)
/* RFC 3830 4.1.4: keys protecting a MIKEY message, derived from a PSK or envelope key (also
 * RFC 6043 5.1 for MIKEY-TICKET messages). */
#define KMS_MIKEY_C_MSG_ENCR UINT32_C(0x150533E1)
#define KMS_MIKEY_C_MSG_AUTH UINT32_C(0x2D22AC75)
#define KMS_MIKEY_C_MSG_SALT UINT32_C(0x29B88916)

/* RFC 6043 5.1: the octet after the CSB ID in the label of a message's keys. */
enum kms_mikey_ticket_dir {
    KMS_MIKEY_TICKET_INITIAL = 0x01,  /* REQUEST_INIT, TRANSFER_INIT, RESOLVE_INIT */
    KMS_MIKEY_TICKET_RESPONSE = 0x02, /* REQUEST_RESP, TRANSFER_RESP, RESOLVE_RESP */
};

/* A label built by the kms_mikey_label_* functions (not secret). */
struct kms_mikey_label {
    uint8_t b[KMS_MIKEY_LABEL_MAX];
    size_t len;
};

/* The RANDRi and RANDRr values of RFC 6043 labels (borrowed). An absent value has length 0
 * (p may then be NULL); a present one is 1..255 octets. */
struct kms_mikey_rands {
    const uint8_t *ri;
    size_t ri_len;
    const uint8_t *rr;
    size_t rr_len;
};

/* The keys protecting one MIKEY message. A length is 0 when the algorithm needs no such key
 * (NULL encryption: no encr_key and no salt; NULL MAC: no auth_key). Secret: release with
 * kms_mikey_msg_keys_cleanup. */
struct kms_mikey_msg_keys {
    uint8_t encr[KMS_MIKEY_KEY_MAX];
    size_t encr_len;
    uint8_t auth[KMS_MIKEY_KEY_MAX];
    size_t auth_len;
    uint8_t salt[KMS_MIKEY_SALT_LEN];
    size_t salt_len;
};

/* ---- algorithm numbers ---------------------------------------------------------------- */

/* MAC length in octets of a MAC algorithm, which is also its auth_key length: 20 for
 * HMAC-SHA-1-160, 32 for HMAC-SHA-256-256, 0 for NULL. Returns false (and *len = 0) for an
 * unknown number. */
bool kms_mikey_mac_len(enum kms_mikey_mac_alg alg, size_t *len);
/* encr_key length of an encryption algorithm: 16 for AES-CM-128 and AES-KW-128, 32 for
 * AES-CM-256, 0 for NULL. Returns false (and *len = 0) for an unknown number. */
bool kms_mikey_encr_key_len(enum kms_mikey_encr_alg alg, size_t *len);
/* salt_key length of an encryption algorithm: 14 for AES-CM-128 and AES-CM-256, 8 for
 * AES-KW-128 (its 64-bit IV), 0 for NULL. Returns false (and *len = 0) for an unknown number. */
bool kms_mikey_encr_salt_len(enum kms_mikey_encr_alg alg, size_t *len);

/* ---- the PRF -------------------------------------------------------------------------- */

/* out = PRF(inkey, label) of out_len octets with the PRF numbered alg.
 * inkey: 1 or more octets; label: label_len octets (may be 0); out: out_len octets, 1..1024.
 * Errors: KMS_ERR_ARG (unknown alg, empty inkey, out_len 0 or over KMS_MIKEY_PRF_OUT_MAX,
 * a NULL pointer), KMS_ERR_NOMEM, KMS_ERR_CRYPTO. out is wiped on failure. */
KMS_MUST_CHECK kms_result kms_mikey_prf(enum kms_mikey_prf_alg alg, const uint8_t *inkey,
                                        size_t inkey_len, const uint8_t *label, size_t label_len,
                                        uint8_t *out, size_t out_len);

/* kms_mikey_prf over a built label (KMS_ERR_ARG also for a NULL label). Same errors. */
KMS_MUST_CHECK kms_result kms_mikey_derive(enum kms_mikey_prf_alg alg, const uint8_t *inkey,
                                           size_t inkey_len, const struct kms_mikey_label *l,
                                           uint8_t *out, size_t out_len);

/* ---- labels --------------------------------------------------------------------------- */
/* Each builder writes the whole label into *l (l->len = 0 on failure) and returns
 * KMS_ERR_ARG for a NULL pointer or a RAND outside the lengths stated. */

/* RFC 3830 4.1.3, from a TGK: constant || cs_id || csb_id || RAND; RAND 1..255 octets. */
KMS_MUST_CHECK kms_result kms_mikey_label_tgk(uint32_t constant, uint8_t cs_id, uint32_t csb_id,
                                              const uint8_t *rand, size_t rand_len,
                                              struct kms_mikey_label *l);
/* RFC 3830 4.1.4, from a PSK or envelope key: constant || 0xFF || csb_id || RAND; RAND
 * 1..255 octets. */
KMS_MUST_CHECK kms_result kms_mikey_label_psk(uint32_t constant, uint32_t csb_id,
                                              const uint8_t *rand, size_t rand_len,
                                              struct kms_mikey_label *l);
/* RFC 6043 5.1, keys of a MIKEY-TICKET message (from the PSK, envelope key or MPK):
 * constant || 0xFF || csb_id || dir || len(RANDRi) || RANDRi || len(RANDRr) || RANDRr.
 * dir must be KMS_MIKEY_TICKET_INITIAL or _RESPONSE. */
KMS_MUST_CHECK kms_result kms_mikey_label_ticket(uint32_t constant, uint32_t csb_id,
                                                 enum kms_mikey_ticket_dir dir,
                                                 const struct kms_mikey_rands *r,
                                                 struct kms_mikey_label *l);
/* RFC 6043 5.1, keys from a TGK or GTGK in Ticket Transfer:
 * constant || cs_id || 0xFFFFFFFF || 0x03 || len(RANDRi) || RANDRi || len(RANDRr) || RANDRr. */
KMS_MUST_CHECK kms_result kms_mikey_label_ticket_tgk(uint32_t constant, uint8_t cs_id,
                                                     const struct kms_mikey_rands *r,
                                                     struct kms_mikey_label *l);

/* ---- prepared inkeys ------------------------------------------------------------------ */

/* An inkey of one chunk (at most 256 bits: a PSK, a Kue, an MPK) prepared once for the PRF
 * (kms_hmac_key: its HMAC pads hashed once), for several derivations under the same key: a
 * server that verifies a request and seals its answer under one key prepares it once instead
 * of twice. It keeps a copy of the inkey, so that a derivation given another key (or PRF)
 * prepares that one instead of using the wrong states. Secret: start from a zeroed struct,
 * release with kms_mikey_prf_key_cleanup. It changes on first use: one thread at a time. */
#define KMS_MIKEY_PRF_KEY_MAX 32
struct kms_mikey_prf_key {
    bool ready;
    enum kms_mikey_prf_alg alg;
    uint8_t key[KMS_MIKEY_PRF_KEY_MAX];
    size_t len;
    struct kms_hmac_key s;
};
/* Frees the prepared states (cleansed) and wipes pk, which is then empty again (NULL does
 * nothing). */
void kms_mikey_prf_key_cleanup(struct kms_mikey_prf_key *pk);

/* ---- the keys of a message ------------------------------------------------------------ */
/* Both fill *k with the encr_key, auth_key and salt_key that the algorithms need (lengths from
 * kms_mikey_encr_key_len / _salt_len / kms_mikey_mac_len), each from its own label. *k is zeroed
 * first and wiped on failure.
 * Errors: KMS_ERR_ARG (unknown PRF or algorithm number, AES-KW-128, empty inkey, a RAND
 * outside its lengths, a NULL pointer), KMS_ERR_NOMEM, KMS_ERR_CRYPTO. */

/* RFC 3830 4.1.4: keys of a PSK-mode (or PKE envelope-key) message; RAND 1..255 octets. */
KMS_MUST_CHECK kms_result kms_mikey_msg_keys_psk(enum kms_mikey_prf_alg prf, const uint8_t *psk,
                                                 size_t psk_len, uint32_t csb_id,
                                                 const uint8_t *rand, size_t rand_len,
                                                 enum kms_mikey_encr_alg encr,
                                                 enum kms_mikey_mac_alg mac,
                                                 struct kms_mikey_msg_keys *k);
/* RFC 6043 5.1: keys of a MIKEY-TICKET initial or response message, from inkey = the PSK (or
 * envelope key) for Ticket Request and Resolve, MPKi (or MPKr') for Ticket Transfer. */
KMS_MUST_CHECK kms_result kms_mikey_msg_keys_ticket(
    enum kms_mikey_prf_alg prf, const uint8_t *inkey, size_t inkey_len, uint32_t csb_id,
    enum kms_mikey_ticket_dir dir, const struct kms_mikey_rands *r, enum kms_mikey_encr_alg encr,
    enum kms_mikey_mac_alg mac, struct kms_mikey_msg_keys *k);
/* kms_mikey_msg_keys_ticket with inkey prepared in pk (optional; NULL is the function above):
 * pk is used as it is when it holds inkey for prf, and otherwise (empty, or holding another key)
 * prepared here from inkey first. An inkey over KMS_MIKEY_PRF_KEY_MAX octets leaves pk alone.
 * Same errors. */
KMS_MUST_CHECK kms_result kms_mikey_msg_keys_ticket_pk(
    enum kms_mikey_prf_alg prf, const uint8_t *inkey, size_t inkey_len,
    struct kms_mikey_prf_key *pk, uint32_t csb_id, enum kms_mikey_ticket_dir dir,
    const struct kms_mikey_rands *r, enum kms_mikey_encr_alg encr, enum kms_mikey_mac_alg mac,
    struct kms_mikey_msg_keys *k);
/* Wipes *k (NULL does nothing). */
void kms_mikey_msg_keys_cleanup(struct kms_mikey_msg_keys *k);

/* ---- AES-CM key data (RFC 3830 4.2.3) ------------------------------------------------- */

/* T, the 64-bit timestamp of the IV, from the TS value of a T payload:
 *  - NTP-UTC and NTP (TS types 0, 1): the 64-bit value as it is;
 *  - COUNTER (TS type 2, 32 bits): zero-padded on the left, i.e. the same number
 *    (RFC 3830 6.6, paraphrased: padded with leading zeros to 64 bits);
 *  - NTP-UTC-32 (TS type 3, RFC 6043 6.3, seconds only): the seconds in the high half and a zero
 *    fraction, i.e. the NTP-UTC timestamp of that second. */
static inline uint64_t kms_mikey_t_from_counter(uint32_t counter)
{
    return (uint64_t)counter;
}
static inline uint64_t kms_mikey_t_from_ntp_utc32(uint32_t seconds)
{
    return (uint64_t)seconds << 32;
}

/* IV = (salt xor (0x0000 || CSB ID || T)) || 0x0000: the AES-CM IV of SRTP with its
 * 16-bit block counter in the last two octets, here zero. */
void kms_mikey_aes_cm_iv(const uint8_t salt[KMS_MIKEY_SALT_LEN], uint32_t csb_id, uint64_t t,
                         uint8_t iv[KMS_MIKEY_IV_LEN]);

/* Encrypts or decrypts (the same operation) len octets of Key data sub-payloads with AES-CM.
 * alg is KMS_MIKEY_ENCR_AES_CM_128 (key of 16 octets) or _AES_CM_256 (32 octets); salt is the
 * 14-octet salt_key (or the salt carried in the Key data, which takes precedence); t as
 * described above (the Initiator's T). in and out may be the same buffer (not otherwise
 * overlapping); len 0 does nothing.
 * Errors: KMS_ERR_ARG (another alg, len over KMS_MIKEY_AES_CM_MAX, a NULL pointer),
 * KMS_ERR_NOMEM, KMS_ERR_CRYPTO. out is wiped on failure. */
KMS_MUST_CHECK kms_result kms_mikey_aes_cm(enum kms_mikey_encr_alg alg, const uint8_t *key,
                                           const uint8_t salt[KMS_MIKEY_SALT_LEN], uint32_t csb_id,
                                           uint64_t t, const uint8_t *in, size_t len, uint8_t *out);

/* ---- MACs (KEMAC and V payloads) ------------------------------------------------------ */

/* out = the full-length MAC of alg over the concatenation of the n parts (the message up to the
 * MAC field, then whatever the exchange appends: identities, timestamps, the initial message).
 * key_len must be the algorithm's key length (20 or 32); out_cap at least the MAC length;
 * *out_len receives it.
 * Errors: KMS_ERR_ARG (NULL or unknown alg, wrong key_len, out_cap too small, a NULL pointer),
 * KMS_ERR_NOMEM, KMS_ERR_CRYPTO. */
KMS_MUST_CHECK kms_result kms_mikey_mac(enum kms_mikey_mac_alg alg, const uint8_t *key,
                                        size_t key_len, const struct kms_iov *parts, size_t n,
                                        uint8_t *out, size_t out_cap, size_t *out_len);
/* Recomputes the MAC and compares it with mac[0..mac_len) in constant time.
 * KMS_ERR_AUTH when it differs or mac_len is not the algorithm's MAC length; otherwise the
 * errors of kms_mikey_mac (a NULL MAC algorithm is KMS_ERR_ARG, never a pass). */
KMS_MUST_CHECK kms_result kms_mikey_mac_verify(enum kms_mikey_mac_alg alg, const uint8_t *key,
                                               size_t key_len, const struct kms_iov *parts,
                                               size_t n, const uint8_t *mac, size_t mac_len);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIKEY (RFC 3830) and MIKEY-TICKET (RFC 6043) wire codec: the common header, every payload,
 * and the message walk. Later RFCs add what is marked (RFC 4563 Empty map, RFC 6509 SAKKE).
 *
 * Decoding is zero-copy: a decoded message holds views (struct kms_bytes) into the caller's
 * buffer, which must outlive it. Decoding is strict (see kms_mikey_decode). Encoding writes
 * the same structures back; encode(decode(x)) == x for every x that decodes.
 *
 * Every payload starts with a Next Payload octet naming the payload after it (the header's
 * octet 2 names the first); SIGN is the exception, it has none and is always last. Payloads
 * share no length field, so an unknown payload type cannot be skipped: it is malformed.
 */
#ifndef KMS_MIKEY_H
#define KMS_MIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/kms_buf.h"
#include "util/kms_cur.h"

#define KMS_MIKEY_VERSION      1
#define KMS_MIKEY_MAX_PAYLOADS 32     /* payloads in one chain (message, TP data, initiator data) */
#define KMS_MIKEY_MAX_CS       32     /* crypto sessions in a CS ID map */
#define KMS_MIKEY_MAX_MSG      262144 /* 256 KiB: far above any real message */

/* A borrowed byte string. */
struct kms_bytes {
    const uint8_t *p;
    size_t len;
};

/* Data types: RFC 3830 6.1, RFC 4650, RFC 4738, RFC 6043 6.1, RFC 6509. */
enum kms_mikey_data_type {
    KMS_MIKEY_DT_PSK_INIT = 0,
    KMS_MIKEY_DT_PSK_RESP = 1,
    KMS_MIKEY_DT_PK_INIT = 2,
    KMS_MIKEY_DT_PK_RESP = 3,
    KMS_MIKEY_DT_DH_INIT = 4,
    KMS_MIKEY_DT_DH_RESP = 5,
    KMS_MIKEY_DT_ERROR = 6,
    KMS_MIKEY_DT_DHHMAC_INIT = 7,
    KMS_MIKEY_DT_DHHMAC_RESP = 8,
    KMS_MIKEY_DT_RSA_R_INIT = 9,
    KMS_MIKEY_DT_RSA_R_RESP = 10,
    KMS_MIKEY_DT_REQUEST_INIT_PSK = 11,
    KMS_MIKEY_DT_REQUEST_INIT_PK = 12,
    KMS_MIKEY_DT_REQUEST_RESP = 13,
    KMS_MIKEY_DT_TRANSFER_INIT = 14,
    KMS_MIKEY_DT_TRANSFER_RESP = 15,
    KMS_MIKEY_DT_RESOLVE_INIT_PSK = 16,
    KMS_MIKEY_DT_RESOLVE_INIT_PK = 17,
    KMS_MIKEY_DT_RESOLVE_RESP = 18,
    KMS_MIKEY_DT_SAKKE = 26,
};

/* Next payload values: RFC 3830 6.1 Table 6.1.b, RFC 6043 6, RFC 6509. */
enum kms_mikey_pt {
    KMS_MIKEY_PT_LAST = 0,
    KMS_MIKEY_PT_KEMAC = 1,
    KMS_MIKEY_PT_PKE = 2,
    KMS_MIKEY_PT_DH = 3,
    KMS_MIKEY_PT_SIGN = 4,
    KMS_MIKEY_PT_T = 5,
    KMS_MIKEY_PT_ID = 6,
    KMS_MIKEY_PT_CERT = 7,
    KMS_MIKEY_PT_CHASH = 8,
    KMS_MIKEY_PT_V = 9,
    KMS_MIKEY_PT_SP = 10,
    KMS_MIKEY_PT_RAND = 11,
    KMS_MIKEY_PT_ERR = 12,
    KMS_MIKEY_PT_TR = 13,
    KMS_MIKEY_PT_IDR = 14,
    KMS_MIKEY_PT_RANDR = 15,
    KMS_MIKEY_PT_TP = 16,
    KMS_MIKEY_PT_TICKET = 17,
    KMS_MIKEY_PT_KEYDATA = 20, /* only inside KEMAC */
    KMS_MIKEY_PT_GENEXT = 21,
    KMS_MIKEY_PT_SAKKE = 26,
};

/* CS ID map types: 0 SRTP-ID (RFC 3830), 1 Empty (RFC 4563), 2 GENERIC-ID (RFC 6043 6.1.1). */
enum kms_mikey_map_type {
    KMS_MIKEY_MAP_SRTP_ID = 0,
    KMS_MIKEY_MAP_EMPTY = 1,
    KMS_MIKEY_MAP_GENERIC_ID = 2,
};

/* Timestamp types (RFC 3830 6.6, RFC 6043 6.3): value sizes 8, 8, 4, 4 octets. */
enum kms_mikey_ts_type {
    KMS_MIKEY_TS_NTP_UTC = 0,
    KMS_MIKEY_TS_NTP = 1,
    KMS_MIKEY_TS_COUNTER = 2,
    KMS_MIKEY_TS_NTP_UTC_32 = 3,
};

/* One crypto session of the header's CS ID map. */
struct kms_mikey_cs {
    /* SRTP-ID map */
    uint8_t policy_no;
    uint32_t ssrc;
    uint32_t roc;
    /* GENERIC-ID map */
    uint8_t cs_id;
    uint8_t prot_type;
    bool s;              /* session data carries ROC and SEQ */
    struct kms_bytes ps; /* #P policy numbers, one octet each (#P <= 127) */
    struct kms_bytes session_data;
    struct kms_bytes spi; /* at most 255 octets */
};

struct kms_mikey_hdr {
    uint8_t version;
    uint8_t data_type;
    uint8_t next_payload; /* filled by the encoder from the payload list */
    bool v;
    uint8_t prf;
    uint32_t csb_id;
    uint8_t n_cs;
    uint8_t map_type;
    struct kms_mikey_cs cs[KMS_MIKEY_MAX_CS];
};

struct kms_mikey_t {
    uint8_t ts_type;
    uint64_t value; /* NTP types: 32.32 fixed point; COUNTER and NTP-UTC-32: the 32-bit value */
};

struct kms_mikey_tr { /* RFC 6043 6.4 */
    uint8_t role;     /* 1 TRi, 2 TRs, 3 TRe, 4 TRr */
    uint8_t ts_type;
    uint64_t value;
};

struct kms_mikey_rand {
    struct kms_bytes rand; /* 1..255 octets */
};

struct kms_mikey_randr {   /* RFC 6043 6.8 */
    uint8_t role;          /* 1 RANDRi, 2 RANDRr, 3 RANDRkms */
    struct kms_bytes rand; /* 1..255 octets */
};

struct kms_mikey_id { /* ID (RFC 3830 6.7), CERT (same layout), IDR (RFC 6043 6.6) */
    uint8_t role;     /* IDR only: 1 IDRi, 2 IDRr, 3 IDRkms, 4 IDRpsk, 5 IDRapp, 6-7 RFC 6509 */
    uint8_t type;     /* ID: 0 NAI, 1 URI, 2 byte string; CERT: certificate type */
    struct kms_bytes data;
};

struct kms_mikey_kemac { /* RFC 3830 6.2 */
    uint8_t encr_alg;
    struct kms_bytes encr_data; /* Key data sub-payloads, encrypted unless encr_alg is NULL */
    uint8_t mac_alg;
    struct kms_bytes mac; /* length implied by mac_alg: 0, 20 or 32 */
};

struct kms_mikey_pke {     /* RFC 3830 6.4 */
    uint8_t c;             /* cache indicator, 2 bits */
    struct kms_bytes data; /* < 2^14 octets */
};

struct kms_mikey_dh { /* RFC 3830 6.4 */
    uint8_t group;    /* 0 OAKLEY 5, 1 OAKLEY 1, 2 OAKLEY 2: value of 192, 96, 128 octets */
    struct kms_bytes value;
    uint8_t reserved;      /* 4 bits, kept for an exact re-encoding */
    uint8_t kv;            /* 0 Null, 1 SPI, 2 interval */
    struct kms_bytes kv_a; /* SPI, or Valid From */
    struct kms_bytes kv_b; /* Valid To */
};

struct kms_mikey_sign {   /* RFC 3830 6.5; no Next Payload octet */
    uint8_t s_type;       /* 4 bits */
    struct kms_bytes sig; /* < 4096 octets */
};

struct kms_mikey_chash { /* RFC 3830 6.8 */
    uint8_t func;        /* 0 SHA-1 (20), 1 MD5 (16), 2 SHA-256 (32, RFC 6043) */
    struct kms_bytes hash;
};

struct kms_mikey_v { /* RFC 3830 6.9 */
    uint8_t alg;     /* MAC algorithm: 0 NULL, 1 HMAC-SHA-1-160, 2 HMAC-SHA-256-256 */
    struct kms_bytes mac;
};

struct kms_mikey_sp { /* RFC 3830 6.10 */
    uint8_t policy_no;
    uint8_t prot_type;       /* 0 SRTP */
    struct kms_bytes params; /* a sequence of Type(1) || Length(1) || Value, checked */
};

struct kms_mikey_err { /* RFC 3830 6.12 */
    uint8_t err_no;
    uint16_t reserved;
};

struct kms_mikey_genext { /* RFC 3830 6.15 */
    uint8_t type;
    struct kms_bytes data;
};

struct kms_mikey_sakke { /* RFC 6509 4.2 */
    uint8_t params;
    uint8_t id_scheme;
    struct kms_bytes data;
};

/* Ticket flags (RFC 6043 6.10): octet 5 bit 0 is D; octet 6 is E..L, octet 7 bits 7..5 M N O. */
#define KMS_MIKEY_TF_D 0x0001u
#define KMS_MIKEY_TF_E 0x0002u
#define KMS_MIKEY_TF_F 0x0004u
#define KMS_MIKEY_TF_G 0x0008u
#define KMS_MIKEY_TF_H 0x0010u
#define KMS_MIKEY_TF_I 0x0020u
#define KMS_MIKEY_TF_J 0x0040u
#define KMS_MIKEY_TF_K 0x0080u
#define KMS_MIKEY_TF_L 0x0100u
#define KMS_MIKEY_TF_M 0x0200u
#define KMS_MIKEY_TF_N 0x0400u
#define KMS_MIKEY_TF_O 0x0800u

struct kms_mikey_ticket { /* TP (no ticket/initiator data) and TICKET, RFC 6043 6.10 */
    uint16_t type;
    uint8_t subtype;
    uint8_t version;
    uint8_t prf;                  /* 7 bits: PRF for key forking */
    uint16_t flags;               /* KMS_MIKEY_TF_* */
    uint8_t reserved;             /* the 5 low bits of octet 7, kept for re-encoding */
    struct kms_bytes tp_data;     /* first-payload octet, then a payload chain */
    struct kms_bytes ticket_data; /* TICKET only: opaque */
    struct kms_bytes init_data;   /* TICKET only: empty, or first-payload octet then V payloads */
};

struct kms_mikey_payload {
    uint8_t type; /* enum kms_mikey_pt */
    size_t off;   /* offset of the payload's first octet in the message */
    size_t len;   /* its length, Next Payload octet included */
    union {
        struct kms_mikey_kemac kemac;
        struct kms_mikey_pke pke;
        struct kms_mikey_dh dh;
        struct kms_mikey_sign sign;
        struct kms_mikey_t t;
        struct kms_mikey_id id; /* ID, CERT, IDR */
        struct kms_mikey_chash chash;
        struct kms_mikey_v v;
        struct kms_mikey_sp sp;
        struct kms_mikey_rand rand;
        struct kms_mikey_err err;
        struct kms_mikey_tr tr;
        struct kms_mikey_randr randr;
        struct kms_mikey_ticket ticket; /* TP, TICKET */
        struct kms_mikey_genext genext;
        struct kms_mikey_sakke sakke;
    } u;
};

/* A payload chain: the message body, TP data, or initiator data. */
struct kms_mikey_plist {
    size_t n;
    struct kms_mikey_payload pl[KMS_MIKEY_MAX_PAYLOADS];
};

struct kms_mikey_msg {
    struct kms_bytes raw; /* the whole message as received or encoded */
    struct kms_mikey_hdr hdr;
    struct kms_mikey_plist body;
};

/* One Key data sub-payload (RFC 3830 6.13, RFC 6043 6.13), from a decrypted KEMAC. */
enum kms_mikey_kd_type {
    KMS_MIKEY_KD_TGK = 0,
    KMS_MIKEY_KD_TGK_SALT = 1,
    KMS_MIKEY_KD_TEK = 2,
    KMS_MIKEY_KD_TEK_SALT = 3,
    KMS_MIKEY_KD_GTGK = 4,
    KMS_MIKEY_KD_GTGK_SALT = 5,
    KMS_MIKEY_KD_MPK = 6,
};

enum kms_mikey_kv { KMS_MIKEY_KV_NULL = 0, KMS_MIKEY_KV_SPI = 1, KMS_MIKEY_KV_INTERVAL = 2 };

struct kms_mikey_keydata {
    uint8_t type; /* enum kms_mikey_kd_type */
    uint8_t kv;   /* enum kms_mikey_kv */
    struct kms_bytes key;
    struct kms_bytes salt; /* only for the +SALT types */
    struct kms_bytes kv_a; /* SPI, or Valid From */
    struct kms_bytes kv_b; /* Valid To */
};

#define KMS_MIKEY_MAX_KEYDATA 16

struct kms_mikey_keydata_list {
    size_t n;
    struct kms_mikey_keydata kd[KMS_MIKEY_MAX_KEYDATA];
};

/* Decodes one whole message. Strict: version 1; a known data type, PRF, map type; at most
 * KMS_MIKEY_MAX_CS crypto sessions and KMS_MIKEY_MAX_PAYLOADS payloads, walked iteratively;
 * every length-prefixed block consumed exactly; the key data of a KEMAC with NULL encryption
 * checked as key data sub-payloads; known enumerations whose value fixes a length
 * (MAC and hash algorithms, timestamp types, DH groups, KV types) must be known; an unknown
 * payload type is KMS_ERR_MALFORMED; nothing may follow the last payload (KMS_ERR_TRAILING).
 * TP data and initiator data chains inside TP/TICKET are validated too (one level: no TP or
 * TICKET inside them). On failure *err_off is the offset of the field that could not be read.
 * m holds views into p. */
KMS_MUST_CHECK kms_result kms_mikey_decode(const uint8_t *p, size_t len, struct kms_mikey_msg *m,
                                           size_t *err_off);

/* Appends m (header and body; the next-payload fields follow the list order) to out and sets
 * each payload's off and len, counted from the start of the message. m->raw is not touched
 * (out may still move). KMS_ERR_ARG for a value that cannot be encoded (a length over its
 * field, a MAC length that does not match its algorithm, SIGN not last). */
KMS_MUST_CHECK kms_result kms_mikey_encode(struct kms_mikey_msg *m, struct kms_buf *out);

/* Decodes a payload chain that starts with a first-payload octet (TP data, initiator data).
 * TP and TICKET inside such a chain are malformed (one level of nesting only). Offsets are
 * absolute in the cursor's numbering. */
KMS_MUST_CHECK kms_result kms_mikey_chain_decode(struct kms_cur *c, struct kms_mikey_plist *l,
                                                 size_t *err_off);
/* Encodes a chain with its first-payload octet. */
KMS_MUST_CHECK kms_result kms_mikey_chain_encode(struct kms_mikey_plist *l, struct kms_buf *out);

/* Key data sub-payloads of a plaintext KEMAC encr_data (a chain of type 20 ending with 0). */
KMS_MUST_CHECK kms_result kms_mikey_keydata_decode(const uint8_t *p, size_t len,
                                                   struct kms_mikey_keydata_list *l,
                                                   size_t *err_off);
KMS_MUST_CHECK kms_result kms_mikey_keydata_encode(const struct kms_mikey_keydata_list *l,
                                                   struct kms_buf *out);

/* The first payload of the given type in a list at or after index *from; NULL if none. */
const struct kms_mikey_payload *kms_mikey_find(const struct kms_mikey_plist *l, uint8_t type,
                                               size_t *from);

/* Names for printing ("KEMAC", "REQUEST_INIT_PSK", ...); "?" when unknown. */
const char *kms_mikey_pt_name(uint8_t type);
const char *kms_mikey_dt_name(uint8_t data_type);
/* Octets of a MAC for the MAC algorithm (0, 20, 32), or -1 when unknown. */
int kms_mikey_mac_size(uint8_t alg);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_call: a call's SRTP keys from the ticket exchange, the UE side of `imskms ue offer`,
 * `ue answer` and `ue accept` (docs/media.md). The SDP around the MIKEY messages is the CLI's.
 *
 *  - offer (A): the ticket request, then a TRANSFER_INIT with one crypto session (CS 1, A's
 *    stream: a random SSRC, ROC 0, a random SEQ) and the SP of the policy; keeps what accept
 *    needs in DIR/offer (0600), lines "name=value\n" in this order, nothing after:
 *      version=1
 *      policy=<policy name>
 *      local_addr=<ADDR>          where A receives RTP (its m= line)
 *      tgk=<hex>  mpk=<hex>       the grant's TGK and MPK (secret)
 *      transfer_init=<hex>        the TRANSFER_INIT as sent (A's SSRC, RANDRi, the peer)
 *  - answer (B): checks the TRANSFER_INIT before the KMS is asked (one crypto session of our
 *    profile, the ticket flags D/F/G/H honoured with I, L, M clear, a policy we support, T
 *    within the skew, the (ticket, RANDRi) pair not seen), resolves the ticket, verifies the
 *    transfer with the MPK and its IDRi against the ticket's initiator, then answers with a
 *    TRANSFER_RESP adding CS 2 (B's stream: a random SSRC other than A's, ROC 0, a random SEQ)
 *    and a fresh RANDRr; records the pair in STATE/transfers and writes DIR/srtp.
 *  - accept (A): opens the TRANSFER_RESP with the MPK of DIR/offer, writes DIR/srtp and removes
 *    DIR/offer (an answer is accepted once).
 * Both sides derive the TEK and salt of CS 1 and CS 2 from the TGK with RANDRi and RANDRr
 * (kms_media_derive): A sends with CS 1, B with CS 2.
 *
 * SSRCs: we never draw 0 (nor the peer's SSRC); 0 has no special meaning in GENERIC-ID (RFC
 * 6043 6.1.1) and is accepted from the peer. Two equal SSRCs are refused.
 *
 * The replay record STATE/transfers (0600, written atomically): "version=2\n", "horizon=<T>\n",
 * then one line "entry=<T>:<expiry>:<ticket hash>:<RANDRi>\n" per accepted transfer: T the
 * transfer's (UNIX seconds), expiry the UNIX second after which T is outside the skew
 * (T + skew), ticket hash the first 16 octets of SHA-256(ticket data) in hex, RANDRi in hex;
 * the horizon the latest T of an entry pruned (0 before any). Entries past their expiry are
 * pruned on every write; at most KMS_CALL_REPLAY_MAX are kept, and a new transfer is refused
 * (KMS_ERR_FULL) rather than an unexpired entry dropped.
 *
 * Both files are read with kms_call_offer_decode / kms_call_transfers_decode and written with
 * their _encode counterparts: decimals without sign or leading zero, hex of exactly the field's
 * length (either case is read, lower case written), so an image that decodes encodes to the
 * same octets up to the case of its hex digits.
 */
#ifndef KMS_UE_CALL_H
#define KMS_UE_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "ue/kms_media.h"
#include "ue/kms_ue_kms.h"
#include "util/kms_buf.h"

#define KMS_CALL_SKEW_DEFAULT 60   /* seconds: imskms-kmsd's default --skew */
#define KMS_CALL_REPLAY_MAX   1024 /* entries of STATE/transfers */
#define KMS_CALL_HASH_LEN     16   /* the ticket hash of an entry */
/* A TRANSFER_INIT (the ticket and a few payloads); the largest DIR/offer image read. */
#define KMS_CALL_INIT_MAX  (KMS_TICKET_MAX + 2048)
#define KMS_CALL_OFFER_MAX (4 * KMS_TICKET_MAX + 1024)
/* One entry line's value: two 20-digit decimals, the hash and RANDRi in hex, three ':'. */
#define KMS_CALL_ENTRY_LEN (20 + 1 + 20 + 1 + 2 * KMS_CALL_HASH_LEN + 1 + 2 * KMS_TMSG_RAND_LEN)
/* The largest STATE/transfers image read: the two header lines, KMS_CALL_REPLAY_MAX entries. */
#define KMS_CALL_TRANSFERS_MAX (48 + KMS_CALL_REPLAY_MAX * (KMS_CALL_ENTRY_LEN + 8))

/* Which part failed, for the one-line error. */
enum kms_call_part {
    KMS_CALL_PART_NONE = 0,  /* the KMS exchange or the transport (as 'ue request') */
    KMS_CALL_PART_OFFER,     /* the offer's TRANSFER_INIT: bytes, crypto sessions, flags, policy */
    KMS_CALL_PART_TRANSFER,  /* the transfer does not verify, or names another initiator */
    KMS_CALL_PART_FRESHNESS, /* T outside the skew, or the transfer seen before */
    KMS_CALL_PART_ANSWER,    /* the answer's TRANSFER_RESP */
    KMS_CALL_PART_SESSION,   /* the session directory or the state directory's record */
    KMS_CALL_PART_SSRC,      /* the answer gives the callee the caller's SSRC */
};

/* A: the ticket request for peer, then the TRANSFER_INIT into init (appended) and DIR/offer.
 * local_addr: "IPV4:PORT" where A receives RTP. *part says what failed. */
KMS_MUST_CHECK kms_result kms_call_offer(const struct kms_ue_kms_cfg *cfg, const char *peer,
                                         const struct kms_srtp_policy *p, const char *local_addr,
                                         const char *session_dir, struct kms_buf *init,
                                         uint8_t tgk_fp[KMS_UE_TGK_FP_LEN],
                                         enum kms_call_part *part);

struct kms_call_answer_in {
    const uint8_t *init; /* the offer's TRANSFER_INIT (untrusted) */
    size_t init_len;
    const char *local_addr;  /* where B receives RTP */
    const char *remote_addr; /* where A receives RTP (the offer's c= and m=) */
    const char *session_dir;
    uint64_t skew; /* seconds */
};

/* B: see above. The TRANSFER_RESP is appended to resp. *part says what failed. */
KMS_MUST_CHECK kms_result kms_call_answer(const struct kms_ue_kms_cfg *cfg,
                                          const struct kms_call_answer_in *in, struct kms_buf *resp,
                                          uint8_t tgk_fp[KMS_UE_TGK_FP_LEN],
                                          uint8_t srtp_fp[KMS_MEDIA_FP_LEN],
                                          enum kms_call_part *part);

/* A: the TRANSFER_RESP resp (untrusted) against DIR/offer; remote_addr where B receives RTP. */
KMS_MUST_CHECK kms_result kms_call_accept(const char *session_dir, const uint8_t *resp,
                                          size_t resp_len, const char *remote_addr,
                                          uint8_t tgk_fp[KMS_UE_TGK_FP_LEN],
                                          uint8_t srtp_fp[KMS_MEDIA_FP_LEN],
                                          enum kms_call_part *part);

/* The checks answer makes of a peeked TRANSFER_INIT before the KMS is asked, except T and the
 * replay record: one crypto session of our profile, the ticket flags, the policy (into *p).
 * KMS_ERR_UNSUPPORTED / KMS_ERR_MALFORMED. */
KMS_MUST_CHECK kms_result kms_call_check_transfer(const struct kms_transfer *x,
                                                  const struct kms_srtp_policy **p);

/* The replay record: KMS_ERR_REPLAY when (ticket, randri) is in STATE/transfers (expired or
 * not: it was accepted once), or when the transfer's T is at or before the record's horizon,
 * the latest T of an entry pruned (check); or adds it, stamped t, with expiry `expires` after
 * pruning the expired entries and raising the horizon past their T (commit; KMS_ERR_FULL when
 * KMS_CALL_REPLAY_MAX unexpired entries remain). Commit checks again and writes under the lock
 * STATE/transfers.lock (kms_file_lock), so of two commits of one pair at once, one succeeds. The
 * horizon keeps a pruned transfer refused even when a later answer runs with a larger --skew than
 * the one that recorded it. t, expires, now: UNIX seconds. */
KMS_MUST_CHECK kms_result kms_call_replay_check(const char *state_dir, const uint8_t *ticket,
                                                size_t ticket_len, const uint8_t randri[16],
                                                uint64_t t);
KMS_MUST_CHECK kms_result kms_call_replay_commit(const char *state_dir, const uint8_t *ticket,
                                                 size_t ticket_len, const uint8_t randri[16],
                                                 uint64_t t, uint64_t expires, uint64_t now);

/* DIR/offer: what accept needs of the offer (tgk and mpk are secret: kms_wipe it). */
struct kms_call_offer {
    const struct kms_srtp_policy *policy;
    char local_addr[KMS_MEDIA_ADDR_MAX];
    uint8_t tgk[KMS_TMSG_TGK_MAX];
    size_t tgk_len; /* 16 or 32 */
    uint8_t mpk[KMS_TMSG_MPK_LEN];
    uint8_t init[KMS_CALL_INIT_MAX]; /* the TRANSFER_INIT as sent */
    size_t init_len;
};

/* Parses a DIR/offer image (borrowed), exactly the lines above in their order and nothing
 * after. KMS_ERR_UNSUPPORTED for a version other than 1 or an unknown policy;
 * KMS_ERR_MALFORMED (a line out of order, a control octet), KMS_ERR_TRUNCATED (the last line
 * without its '\n'), KMS_ERR_TOO_LONG (local_addr, transfer_init over their caps),
 * KMS_ERR_BAD_HEX, KMS_ERR_BAD_LENGTH (a TGK of other than 16 or 32 octets, an MPK of other than
 * 32) or KMS_ERR_TRAILING for anything else. On failure *o is all zero (the keys wiped). */
KMS_MUST_CHECK kms_result kms_call_offer_decode(const uint8_t *p, size_t n,
                                                struct kms_call_offer *o);
/* Appends the DIR/offer image of o to out (create out secret). KMS_ERR_ARG when o would not
 * decode: no policy, a TGK length other than 16 or 32, init_len over its cap, local_addr not
 * printable ASCII. */
KMS_MUST_CHECK kms_result kms_call_offer_encode(const struct kms_call_offer *o,
                                                struct kms_buf *out);

/* STATE/transfers: the replay record. */
struct kms_call_transfer_entry {
    uint64_t t;       /* the transfer's T (UNIX seconds) */
    uint64_t expires; /* T + skew */
    uint8_t hash[KMS_CALL_HASH_LEN];
    uint8_t randri[KMS_TMSG_RAND_LEN];
};

struct kms_call_transfers {
    uint64_t horizon; /* the latest T of a pruned entry: anything stamped at or before it is
                         refused, whatever --skew a later answer runs with */
    struct kms_call_transfer_entry e[KMS_CALL_REPLAY_MAX];
    size_t n;
};

/* Parses a STATE/transfers image (borrowed), exactly the lines above: version=2, horizon=, then
 * 0 to KMS_CALL_REPLAY_MAX entry lines. KMS_ERR_UNSUPPORTED for another version;
 * KMS_ERR_TOO_LONG for more entries (or a line over its cap); KMS_ERR_MALFORMED (a decimal
 * with a sign, a leading zero or over 20 digits, a field missing), KMS_ERR_TRUNCATED,
 * KMS_ERR_BAD_HEX or KMS_ERR_BAD_LENGTH for anything else. On failure *r is all zero. */
KMS_MUST_CHECK kms_result kms_call_transfers_decode(const uint8_t *p, size_t n,
                                                    struct kms_call_transfers *r);
/* Appends the STATE/transfers image of r to out. KMS_ERR_ARG when r->n is over
 * KMS_CALL_REPLAY_MAX. */
KMS_MUST_CHECK kms_result kms_call_transfers_encode(const struct kms_call_transfers *r,
                                                    struct kms_buf *out);

#endif

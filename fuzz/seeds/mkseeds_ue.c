/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the seeds of the fuzz surfaces whose valid inputs must be built by the library:
 *   <dir>/transfer/  mode 0 || TRANSFER_INIT built with kms_transfer_build under the harness's
 *                    MPK (fuzz_transfer.c), also with the media ticket's flags and one SRTP
 *                    crypto session and its SP (kms_transfer_build_spec, as 'ue offer'), and
 *                    mode 1 || parameters for the harness to build;
 *   <dir>/usim/      mode 0 || a whole USIM file from kms_usim_encode (two shapes), and
 *                    mode 1 || the same file without its checksum line (the harness appends it);
 *   <dir>/call_state/ mode 0 || a DIR/offer image from kms_call_offer_encode around a
 *                    TRANSFER_INIT of 'ue offer' (each policy, both TGK lengths), and
 *                    mode 1 || a STATE/transfers file as kms_call_replay_commit writes it
 *                    (one entry; entries after a prune, with a horizon), and a few near-misses.
 * Every seed is checked by running it through nothing but the encoders' own decoders: the
 * harnesses' oracles run on them when the corpus is replayed.
 *
 * Not a test. Built as build/bin/fuzz_mkseeds_ue by every KMS_FUZZ=OFF build:
 *     cmake --build build --target fuzz_mkseeds_ue && build/bin/fuzz_mkseeds_ue fuzz/corpus
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kms/kms_ticket_msg.h"
#include "ue/kms_call.h"
#include "ue/kms_usim.h"
#include "util/kms_file.h"
#include "util/kms_buf.h"

/* The MPK of fuzz_transfer.c. */
static const uint8_t MPK[KMS_TMSG_MPK_LEN] = {
    0x6d, 0x70, 0x6b, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};

static const char *out_dir;

static void ok_or_die(kms_result r, const char *what)
{
    if (!kms_ok(r)) {
        fprintf(stderr, "fuzz_mkseeds_ue: %s: %s\n", what, kms_err_name(r.err));
        exit(1);
    }
}

static void write_seed(const char *surface, const char *name, uint8_t prefix, const uint8_t *p,
                       size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", out_dir, surface);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_mkseeds_ue: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, surface, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputc(prefix, f) == EOF || (n > 0 && fwrite(p, 1, n, f) != n) ||
        fclose(f) != 0) {
        fprintf(stderr, "fuzz_mkseeds_ue: cannot write %s\n", path);
        exit(1);
    }
}

static void transfer(const char *name, const char *idri, const char *idrr, size_t ticket_len)
{
    uint8_t ticket[KMS_TICKET_MAX];
    for (size_t i = 0; i < ticket_len; i++) {
        ticket[i] = (uint8_t)(i * 7 + 1);
    }
    struct kms_buf b;
    kms_buf_init(&b, 4 * KMS_TICKET_MAX, false);
    ok_or_die(kms_transfer_build(idri, idrr, MPK, ticket, ticket_len, &b), name);
    ok_or_die(kms_transfer_open(kms_buf_data(&b), kms_buf_len(&b), MPK), name);
    write_seed("transfer", name, 0, kms_buf_data(&b), kms_buf_len(&b));
    kms_buf_cleanup(&b);
}

/* A transfer of 'ue offer': the media flags, CS 1 with SSRC/ROC/SEQ, the SP of a policy. */
static void build_media(const char *name, const uint8_t *sp, size_t sp_len, uint32_t ssrc,
                        struct kms_buf *b)
{
    uint8_t ticket[200];
    for (size_t i = 0; i < sizeof(ticket); i++) {
        ticket[i] = (uint8_t)(i * 5 + 3);
    }
    struct kms_tmsg_media md = {.n_cs = 1};
    memcpy(md.sp, sp, sp_len);
    md.sp_len = sp_len;
    md.cs[0] = (struct kms_tmsg_cs){.cs_id = 1, .ssrc = ssrc, .roc = 0, .seq = 0x1234};
    const struct kms_transfer_spec s = {.idri = "sip:+15550001@ims.example.org",
                                        .idrr = "sip:+15550002@ims.example.org",
                                        .mpk = MPK,
                                        .ticket = ticket,
                                        .ticket_len = sizeof(ticket),
                                        .ticket_flags = KMS_TMSG_MEDIA_FLAGS,
                                        .media = &md};
    ok_or_die(kms_transfer_build_spec(&s, b), name);
    ok_or_die(kms_transfer_open(kms_buf_data(b), kms_buf_len(b), MPK), name);
}

static void transfer_media(const char *name, const uint8_t *sp, size_t sp_len, uint32_t ssrc)
{
    struct kms_buf b;
    kms_buf_init(&b, 4 * KMS_TICKET_MAX, false);
    build_media(name, sp, sp_len, ssrc, &b);
    write_seed("transfer", name, 0, kms_buf_data(&b), kms_buf_len(&b));
    kms_buf_cleanup(&b);
}

/* A DIR/offer image of kms_call_offer_encode (decoded back before it is written). */
static void call_offer(const char *name, const char *policy, const char *local_addr, size_t tgk_len,
                       const uint8_t *sp, size_t sp_len)
{
    struct kms_call_offer *o = calloc(1, sizeof(*o)), *o2 = calloc(1, sizeof(*o2));
    if (o == NULL || o2 == NULL) {
        exit(1);
    }
    o->policy = kms_srtp_policy_by_name(policy);
    snprintf(o->local_addr, sizeof(o->local_addr), "%s", local_addr);
    for (size_t i = 0; i < tgk_len; i++) {
        o->tgk[i] = (uint8_t)(0xa0 + i);
    }
    o->tgk_len = tgk_len;
    memcpy(o->mpk, MPK, sizeof(o->mpk));
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_OFFER_MAX, true);
    build_media(name, sp, sp_len, 0x11223344, &b);
    o->init_len = kms_buf_len(&b);
    memcpy(o->init, kms_buf_data(&b), o->init_len);
    kms_buf_truncate(&b, 0);
    ok_or_die(kms_call_offer_encode(o, &b), name);
    ok_or_die(kms_call_offer_decode(kms_buf_data(&b), kms_buf_len(&b), o2), name);
    write_seed("call_state", name, 0, kms_buf_data(&b), kms_buf_len(&b));
    kms_buf_cleanup(&b);
    free(o2);
    free(o);
}

/* STATE/transfers as kms_call_replay_commit writes it: n_before entries stamped T0 + i, each
 * expiring 60 s later, then (when prune) one more at T0 + 100, which prunes them all (the
 * horizon becomes the latest of their T). */
static void call_transfers(const char *name, size_t n_before, bool prune)
{
    char dir[] = "/tmp/fuzz_mkseeds_call.XXXXXX", path[64];
    if (mkdtemp(dir) == NULL) {
        exit(1);
    }
    const uint64_t t0 = 1800000000;
    uint8_t ticket[40], randri[16];
    memset(ticket, 0x33, sizeof(ticket));
    for (size_t i = 0; i < n_before + (prune ? 1 : 0); i++) {
        memset(randri, (int)(i + 1), sizeof(randri));
        randri[15] = 0xab;
        uint64_t t = i < n_before ? t0 + i : t0 + 100;
        ok_or_die(kms_call_replay_commit(dir, ticket, sizeof(ticket), randri, t, t + 60, t), name);
    }
    snprintf(path, sizeof(path), "%s/transfers", dir);
    uint8_t *img = NULL;
    size_t n = 0;
    ok_or_die(kms_file_read(path, KMS_CALL_TRANSFERS_MAX, false, &img, &n), name);
    struct kms_call_transfers *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        exit(1);
    }
    ok_or_die(kms_call_transfers_decode(img, n, r), name);
    write_seed("call_state", name, 1, img, n);
    free(r);
    kms_file_free(img, n);
    unlink(path);
    snprintf(path, sizeof(path), "%s/transfers.lock", dir);
    unlink(path);
    rmdir(dir);
}

static void usim(const char *name, unsigned ind_bits, size_t n_impu)
{
    struct kms_usim u;
    memset(&u, 0, sizeof(u));
    snprintf(u.impi, sizeof(u.impi), "001010123456789@ims.mnc001.mcc001.3gppnetwork.org");
    for (size_t i = 0; i < n_impu; i++) {
        snprintf(u.impu[i], sizeof(u.impu[i]), "sip:user%zu@ims.example.org", i);
    }
    u.n_impu = n_impu;
    for (size_t i = 0; i < 16; i++) {
        u.k[i] = (uint8_t)(0x40 + i);
        u.opc[i] = (uint8_t)(0x80 + i);
    }
    u.amf[0] = 0x80;
    ok_or_die(kms_sqn_ms_init(&u.sqn, ind_bits, KMS_SQN_DELTA_DEF, 0), name);
    if (ind_bits > 0) {
        ok_or_die(kms_sqn_ms_accept(&u.sqn, 0x21ULL), name);
    }
    struct kms_buf b;
    kms_buf_init(&b, KMS_USIM_FILE_MAX, true);
    ok_or_die(kms_usim_encode(&u, &b), name);
    struct kms_usim v;
    ok_or_die(kms_usim_decode(kms_buf_data(&b), kms_buf_len(&b), &v), name);
    kms_usim_wipe(&v);
    char nm[128];
    snprintf(nm, sizeof(nm), "%s-whole", name);
    write_seed("usim", nm, 0, kms_buf_data(&b), kms_buf_len(&b));
    /* The body: everything before the last line, "sha256=<64 hex>\n". */
    snprintf(nm, sizeof(nm), "%s-body", name);
    write_seed("usim", nm, 1, kms_buf_data(&b), kms_buf_len(&b) - (7 + 64 + 1));
    kms_buf_cleanup(&b);
    kms_usim_wipe(&u);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds_ue CORPUS_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    transfer("tinit-short", "alice@example.org", "bob@example.org", 40);
    transfer("tinit-tel", "tel:+15550100", "sip:bob@ims.example.org", 200);
    transfer("tinit-long-ticket", "a", "b", KMS_TICKET_MAX);
    /* SP parameters of aes128-hmac80, aes256-hmac80, aes128-gcm (docs/media.md). */
    static const uint8_t cm128[] = {0, 1, 1, 1, 1, 16, 2, 1, 1, 3, 1, 20, 4, 1, 14, 11, 1, 10};
    static const uint8_t cm256[] = {0, 1, 1, 1, 1, 32, 2, 1, 1, 3, 1, 20, 4, 1, 14, 11, 1, 10};
    static const uint8_t gcm[] = {0, 1, 6, 1, 1, 16, 2, 1, 0, 4, 1, 12, 20, 1, 16};
    transfer_media("tinit-cs-aes128-hmac80", cm128, sizeof(cm128), 0x11223344);
    transfer_media("tinit-cs-aes256-hmac80", cm256, sizeof(cm256), 0xfedcba98);
    transfer_media("tinit-cs-aes128-gcm-ssrc0", gcm, sizeof(gcm), 0);
    /* Built by the harness: mode 1, lengths (n-1 of IDRi, IDRr, ticket), the octets, triples. */
    static const uint8_t build_plain[] = {4,   2, 7, 'a', 'l', 'i', 'c', 'e', 'b', 'o',
                                          'b', 1, 2, 3,   4,   5,   6,   7,   8};
    write_seed("transfer", "build-plain", 1, build_plain, sizeof(build_plain));
    static const uint8_t build_flip[] = {4,   2,    7,    'a',  'l',  'i',  'c', 'e', 'b',
                                         'o', 'b',  1,    2,    3,    4,    5,   6,   7,
                                         8,   0x00, 0x10, 0x01, 0x00, 0x20, 0x00};
    write_seed("transfer", "build-flip-delete", 1, build_flip, sizeof(build_flip));
    call_offer("offer-aes128-hmac80-tgk16", "aes128-hmac80", "127.0.0.1:40000", 16, cm128,
               sizeof(cm128));
    call_offer("offer-aes256-hmac80-tgk32", "aes256-hmac80", "[::1]:40000", 32, cm256,
               sizeof(cm256));
    call_offer("offer-aes128-gcm-tgk32", "aes128-gcm", "192.0.2.7:65534", 32, gcm, sizeof(gcm));
    call_transfers("transfers-one", 1, false);
    call_transfers("transfers-three", 3, false);
    call_transfers("transfers-pruned-horizon", 2, true);
    /* By hand, from the format of ue/kms_call.h: upper-case hex (accepted), no entry (accepted),
     * the pre-horizon version 1 (refused), a decimal with a leading zero (refused). */
    static const char upper[] = "version=2\nhorizon=7\nentry=8:68:E69E5E6F3541EA47026A711C50E1B0F7:"
                                "0101010101010101010101010101ABCD\n";
    write_seed("call_state", "transfers-upper-hex", 1, (const uint8_t *)upper, sizeof(upper) - 1);
    static const char empty[] = "version=2\nhorizon=0\n";
    write_seed("call_state", "transfers-empty", 1, (const uint8_t *)empty, sizeof(empty) - 1);
    static const char v1[] = "version=1\nentry=68:e69e5e6f3541ea47026a711c50e1b0f7:"
                             "01010101010101010101010101010101\n";
    write_seed("call_state", "transfers-v1-refused", 1, (const uint8_t *)v1, sizeof(v1) - 1);
    static const char lead0[] = "version=2\nhorizon=07\n";
    write_seed("call_state", "transfers-leading-zero-refused", 1, (const uint8_t *)lead0,
               sizeof(lead0) - 1);
    usim("usim-ind5-2impu", KMS_SQN_IND_BITS_DEF, 2);
    usim("usim-ind0-1impu", 0, 1);
    usim("usim-ind2-8impu", 2, 8);
    return 0;
}

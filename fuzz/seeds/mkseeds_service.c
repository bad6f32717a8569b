/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the descriptively named seeds of the kms_service surface into <dir>/kms_service/.
 * It includes the harness itself (fuzz_kms_service.c), so the seeds use its selector octet, its
 * constants and its request builder, and each seed is run through the harness (all its oracles)
 * and must get the status named here before it is written (exit 1 otherwise).
 *
 * Selector seeds (a few octets): valid Kue issues in both modes, ticket requests and resolves
 * with both tokens and in mode 1 (200), each sent twice (the replay refusal), and the refusals
 * the parameter octets select (stranger IDRi, another KMS, unknown B-TID or token, T outside
 * the skew, a resolve by someone the ticket does not name), plus mutated and re-MACed variants.
 * Raw seeds (octet 0 = 0): whole requests. A Kue issue under the fixed Ks_NAF, and a mode-1
 * ticket request (Kue1 from the same Ks_NAF), are valid in any process (200); ticket requests
 * and resolves with an unknown 16-octet token (403: the tokens of this process would be unknown
 * to any other), and malformed bytes (400).
 *
 * Not a test. Built as build/bin/fuzz_mkseeds_service by every KMS_FUZZ=OFF build:
 *     cmake --build build --target fuzz_mkseeds_service && build/bin/fuzz_mkseeds_service
 * fuzz/corpus
 */
#include "../fuzz_kms_service.c"

#include <errno.h>
#include <sys/stat.h>

static const char *out_dir;
static int n_written;

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/kms_service/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_mkseeds_service: cannot write %s\n", path);
        exit(1);
    }
    n_written++;
}

/* Runs the seed through the harness's checks once, requires its status, writes it. */
static void seed(const char *name, const uint8_t *in, size_t n, int want)
{
    struct world w;
    int got = 0;
    KF_CHECK(n >= 1);
    if (in[0] == 0) {
        world_new(&w);
        got = serve_check(&w, in + 1, n - 1);
        world_free(&w);
    } else {
        struct kms_buf req;
        struct params p;
        params_of(in[0], n > 1 ? in[1] : 0, n > 2 ? in[2] : 0, &p);
        kms_buf_init(&req, KMS_SERVICE_MSG_MAX, false);
        build(&p, &req);
        size_t len = mutate(req.d, kms_buf_len(&req), in + 3, n > 3 ? n - 3 : 0);
        kms_buf_truncate(&req, len);
        if ((in[0] & 8) == 0 && n >= 6) {
            struct kms_buf re;
            kms_buf_init(&re, KMS_SERVICE_MSG_MAX, false);
            if (reseal(kms_buf_data(&req), kms_buf_len(&req), false, &re)) {
                kms_buf_reset(&req);
                KF_CHECK(kms_ok(kms_buf_put_bytes(&req, kms_buf_data(&re), kms_buf_len(&re))));
            }
            kms_buf_cleanup(&re);
        }
        world_new(&w);
        got = serve_check(&w, kms_buf_data(&req), kms_buf_len(&req));
        world_free(&w);
        kms_buf_cleanup(&req);
    }
    if (got != want) {
        fprintf(stderr, "fuzz_mkseeds_service: %s: status %d, expected %d\n", name, got, want);
        exit(1);
    }
    LLVMFuzzerTestOneInput(in, n); /* and the whole harness, send-twice included */
    write_file(name, in, n);
}

#define SEED(name, want, ...)                                                                      \
    do {                                                                                           \
        static const uint8_t in_[] = {__VA_ARGS__};                                                \
        seed(name, in_, sizeof(in_), want);                                                        \
    } while (0)

/* A raw seed: 0 then the request the harness would build for p (before any mutation). */
static void raw_seed(const char *name, const struct params *p, size_t cut, int want)
{
    struct kms_buf req, in;
    kms_buf_init(&req, KMS_SERVICE_MSG_MAX, false);
    kms_buf_init(&in, KMS_SERVICE_MSG_MAX, false);
    build(p, &req);
    if (cut > 0 && cut < kms_buf_len(&req)) {
        kms_buf_truncate(&req, cut);
    }
    KF_CHECK(kms_ok(kms_buf_put_u8(&in, 0)));
    KF_CHECK(kms_ok(kms_buf_put_bytes(&in, kms_buf_data(&req), kms_buf_len(&req))));
    seed(name, kms_buf_data(&in), kms_buf_len(&in), want);
    kms_buf_cleanup(&req);
    kms_buf_cleanup(&in);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds_service CORPUS_DIR   (e.g. fuzz/corpus)\n");
        return 2;
    }
    out_dir = argv[1];
    char path[1024];
    snprintf(path, sizeof(path), "%s/kms_service", out_dir);
    if ((mkdir(out_dir, 0777) != 0 && errno != EEXIST) ||
        (mkdir(path, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "fuzz_mkseeds_service: mkdir %s: %s\n", path, strerror(errno));
        return 1;
    }
    once();

    /* Selector seeds: octet 0 kind | mode | no-reMAC | twice, octet 1 T - now, octet 2 ids. */
    SEED("sel_issue_mode3", 200, 0x01, 0x00, 0x00);
    SEED("sel_issue_mode2_impi", 200, 0x05, 0x00, 0x01);
    SEED("sel_issue_mode3_twice", 200, 0x11, 0x00, 0x00);
    SEED("sel_issue_t_plus_60", 200, 0x01, 60, 0x00);
    SEED("sel_issue_t_minus_61", 403, 0x01, 0xc3, 0x00);
    SEED("sel_issue_stranger", 403, 0x01, 0x00, 0x03);
    SEED("sel_issue_other_kms", 403, 0x01, 0x00, 0x10);
    SEED("sel_issue_unknown_btid", 403, 0x05, 0x00, 0x20);
    SEED("sel_treq_mode3", 200, 0x02, 0x00, 0x00);
    SEED("sel_treq_mode2", 200, 0x06, 0x00, 0x00);
    SEED("sel_treq_mode3_twice", 200, 0x12, 0x00, 0x00);
    SEED("sel_treq_idri_stranger", 403, 0x02, 0x00, 0x03);
    SEED("sel_treq_unknown_token", 403, 0x02, 0x00, 0x20);
    SEED("sel_tres_mode3", 200, 0x03, 0x00, 0x00);
    SEED("sel_tres_mode2", 200, 0x07, 0xf0, 0x00);
    SEED("sel_tres_mode2_twice", 200, 0x17, 0x00, 0x00);
    SEED("sel_tres_not_the_responder", 403, 0x03, 0x00, 0x04);
    SEED("sel_tres_other_kms", 403, 0x03, 0x00, 0x10);
    /* Mode 1: the B-TID as IDRpsk, Kue1 from the message's RAND. */
    SEED("sel_treq_mode1", 200, 0x22, 0x00, 0x00);
    SEED("sel_treq_mode1_twice_impi", 200, 0x32, 0x00, 0x01);
    SEED("sel_treq_mode1_unknown_btid", 403, 0x22, 0x00, 0x20);
    SEED("sel_treq_mode1_idri_stranger", 403, 0x22, 0x00, 0x03);
    SEED("sel_tres_mode1", 200, 0x23, 0x00, 0x00);
    /* A mode-1 request with RANDRi changed after the build: re-MACed under the Kue1 of the new
     * RAND, still valid; without the re-MAC, the MAC fails. */
    SEED("mut_treq_mode1_remac_rand", 200, 0x22, 0x00, 0x00, 0x00, 0x20, 0x5a);
    SEED("mut_treq_mode1_rand_no_remac", 403, 0x2a, 0x00, 0x00, 0x00, 0x20, 0x5a);
    /* Mutated: T's fraction (re-MACed: still a valid request), T's seconds without re-MAC (the
     * MAC fails), and a deleted header octet (no longer decodes). */
    SEED("mut_treq_remac_t_fraction", 200, 0x02, 0x00, 0x00, 0x00, 0x13, 0x5a);
    SEED("mut_issue_t_bit_no_remac", 403, 0x09, 0x00, 0x00, 0x00, 0x0f, 0x01);
    SEED("mut_tres_deleted_octet", 400, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00);

    /* Raw seeds. */
    struct params p;
    memset(&p, 0, sizeof(p));
    p.idri = IMPU1;
    p.idrr = IMPU2;
    p.kind = K_ISSUE;
    raw_seed("raw_issue_mode3", &p, 0, 200);
    p.mode2 = true;
    raw_seed("raw_issue_mode2", &p, 0, 200);
    raw_seed("raw_issue_half", &p, 40, 400);
    p.kind = K_TREQ;
    p.unknown = true; /* this process's tokens would be unknown to the harness's anyway */
    raw_seed("raw_treq_unknown_token", &p, 0, 403);
    p.kind = K_TRES;
    p.mode2 = false;
    raw_seed("raw_tres_unknown_token", &p, 0, 403);
    p.kind = K_TREQ;
    p.unknown = false;
    p.mode1 = true;
    raw_seed("raw_treq_mode1", &p, 0, 200);
    SEED("raw_junk", 400, 0x00, 0x01, 0x02, 0x03);
    SEED("raw_empty", 400, 0x00);
    printf("fuzz_mkseeds_service: %d seeds written under %s/kms_service\n", n_written, out_dir);
    return 0;
}

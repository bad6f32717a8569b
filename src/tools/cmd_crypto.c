/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms crypto: known-answer tools. They print derived values (keys included) from given
 * inputs, so that every published vector can be reproduced from the shell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "gba/kms_digest.h"
#include "mikey/kms_mikey_prf.h"
#include "util/kms_buf.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define EXIT_NOTE                                                                                  \
    "\nExit status: 0 success, 1 a check failed, 2 bad usage or malformed input,\n"                \
    "3 internal error. Hex input in either case, output in lower case.\n"

/* Common subscriber options of milenage, auts, resync and check-autn. */
enum { O_K, O_OP, O_OPC, O_RAND, O_X1, O_X2 };

struct sub_keys {
    uint8_t k[16];
    uint8_t op_or_opc[16];
    bool is_op;
};

static int read_sub_keys(const struct cli_args *a, struct sub_keys *s)
{
    int rc;
    if ((rc = cli_hex_exact(a, "k", a->val[O_K], s->k, 16)) != 0) {
        return rc;
    }
    if (a->seen[O_OP] == a->seen[O_OPC]) {
        return cli_usage_error(a, "give exactly one of --op and --opc (see --help)");
    }
    s->is_op = a->seen[O_OP];
    return cli_hex_exact(a, s->is_op ? "op" : "opc", a->val[s->is_op ? O_OP : O_OPC], s->op_or_opc,
                         16);
}

/* A Milenage context keyed from the options; prints the error itself. */
static int keyed(const struct cli_args *a, const struct sub_keys *s, struct kms_milenage **m)
{
    kms_result r = kms_milenage_new(m);
    if (r.err == KMS_OK) {
        r = s->is_op ? kms_milenage_set_key_op(*m, s->k, s->op_or_opc)
                     : kms_milenage_set_key(*m, s->k, s->op_or_opc);
    }
    if (r.err != KMS_OK) {
        return cli_fail(a, "milenage", r.err);
    }
    return CLI_EXIT_OK;
}

static const char milenage_help[] =
    "usage: imskms crypto milenage --k HEX (--op HEX | --opc HEX) --rand HEX --sqn HEX --amf HEX\n"
    "\n"
    "Runs Milenage (3GPP TS 35.206) and prints every output:\n"
    "  opc= mac_a= (f1) mac_s= (f1*) res= (f2) ck= (f3) ik= (f4) ak= (f5) ak_star= (f5*)\n"
    "  autn= ((SQN xor AK) || AMF || MAC-A)\n"
    "\n"
    "  --k HEX     subscriber key K, 16 bytes\n"
    "  --op HEX    operator variant OP, 16 bytes (OPc is derived: OP xor E_K(OP))\n"
    "  --opc HEX   OPc, 16 bytes (instead of --op)\n"
    "  --rand HEX  RAND, 16 bytes\n"
    "  --sqn HEX   SQN, 6 bytes\n"
    "  --amf HEX   AMF, 2 bytes\n" EXIT_NOTE;

static int cmd_milenage(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        CLI_VALUE("k"),    CLI_VALUE("op"),  CLI_VALUE("opc"),
        CLI_VALUE("rand"), CLI_VALUE("sqn"), CLI_VALUE("amf"),
    };
    struct cli_args a;
    struct sub_keys s;
    uint8_t rand[16], sqn[6], amf[2], opc[16];
    struct kms_aka_vec v;
    struct kms_milenage *m = NULL;
    int rc = cli_parse(prefix, opts, 6, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(milenage_help, stdout);
        }
        return rc;
    }
    memset(&v, 0, sizeof(v));
    memset(opc, 0, sizeof(opc));
    if ((rc = read_sub_keys(&a, &s)) != 0 ||
        (rc = cli_hex_exact(&a, "rand", a.val[O_RAND], rand, 16)) != 0 ||
        (rc = cli_hex_exact(&a, "sqn", a.val[O_X1], sqn, 6)) != 0 ||
        (rc = cli_hex_exact(&a, "amf", a.val[O_X2], amf, 2)) != 0 ||
        (rc = keyed(&a, &s, &m)) != 0) {
        goto out;
    }
    kms_result r = kms_milenage_get_opc(m, opc);
    if (r.err == KMS_OK) {
        r = kms_milenage_vector(m, rand, sqn, amf, &v);
    }
    if (r.err != KMS_OK) {
        rc = cli_fail(&a, "milenage", r.err);
        goto out;
    }
    struct {
        const char *name;
        const uint8_t *p;
        size_t n;
    } outs[] = {
        {"opc", opc, 16},  {"mac_a", v.mac_a, 8},     {"mac_s", v.mac_s, 8},
        {"res", v.res, 8}, {"ck", v.ck, 16},          {"ik", v.ik, 16},
        {"ak", v.ak, 6},   {"ak_star", v.ak_star, 6}, {"autn", v.autn, 16},
    };
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]) && rc == 0; i++) {
        rc = cli_print_hex(outs[i].name, outs[i].p, outs[i].n);
    }
out:
    kms_milenage_free(m);
    kms_wipe(&s, sizeof(s));
    kms_wipe(&v, sizeof(v));
    kms_wipe(opc, sizeof(opc));
    return rc;
}

static const char auts_help[] =
    "usage: imskms crypto auts --k HEX (--op HEX | --opc HEX) --rand HEX --sqn-ms HEX\n"
    "\n"
    "USIM side of AKA resynchronisation (3GPP TS 33.102 6.3.3): prints\n"
    "  auts= ((SQN_MS xor f5*(RAND)) || f1*(K, SQN_MS, RAND, AMF* = 0000)), 14 bytes\n"
    "\n"
    "  --k HEX       subscriber key K, 16 bytes\n"
    "  --op HEX      OP, 16 bytes  (or --opc HEX: OPc, 16 bytes)\n"
    "  --rand HEX    RAND of the challenge the USIM refused, 16 bytes\n"
    "  --sqn-ms HEX  SQN_MS, the highest SQN the USIM accepted, 6 bytes\n" EXIT_NOTE;

static int cmd_auts(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        CLI_VALUE("k"), CLI_VALUE("op"), CLI_VALUE("opc"), CLI_VALUE("rand"), CLI_VALUE("sqn-ms"),
    };
    struct cli_args a;
    struct sub_keys s;
    uint8_t rand[16], sqn_ms[6], auts[KMS_AKA_AUTS_LEN];
    struct kms_milenage *m = NULL;
    int rc = cli_parse(prefix, opts, 5, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(auts_help, stdout);
        }
        return rc;
    }
    if ((rc = read_sub_keys(&a, &s)) != 0 ||
        (rc = cli_hex_exact(&a, "rand", a.val[O_RAND], rand, 16)) != 0 ||
        (rc = cli_hex_exact(&a, "sqn-ms", a.val[O_X1], sqn_ms, 6)) != 0 ||
        (rc = keyed(&a, &s, &m)) != 0) {
        goto out;
    }
    kms_result r = kms_milenage_auts(m, rand, sqn_ms, auts);
    rc = r.err == KMS_OK ? cli_print_hex("auts", auts, sizeof(auts)) : cli_fail(&a, NULL, r.err);
out:
    kms_milenage_free(m);
    kms_wipe(&s, sizeof(s));
    return rc;
}

static const char resync_help[] =
    "usage: imskms crypto resync --k HEX (--op HEX | --opc HEX) --rand HEX --auts HEX\n"
    "\n"
    "Network side of AKA resynchronisation (3GPP TS 33.102 6.3.5): recovers SQN_MS from AUTS\n"
    "and checks MAC-S (with AMF* = 0000). Prints sqn_ms=, or exits 1 when MAC-S does not\n"
    "verify.\n"
    "\n"
    "  --k HEX     subscriber key K, 16 bytes\n"
    "  --op HEX    OP, 16 bytes  (or --opc HEX: OPc, 16 bytes)\n"
    "  --rand HEX  RAND of the challenge the AUTS answers, 16 bytes\n"
    "  --auts HEX  AUTS, 14 bytes\n" EXIT_NOTE;

static int cmd_resync(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        CLI_VALUE("k"), CLI_VALUE("op"), CLI_VALUE("opc"), CLI_VALUE("rand"), CLI_VALUE("auts"),
    };
    struct cli_args a;
    struct sub_keys s;
    uint8_t rand[16], auts[KMS_AKA_AUTS_LEN], sqn_ms[6];
    struct kms_milenage *m = NULL;
    int rc = cli_parse(prefix, opts, 5, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(resync_help, stdout);
        }
        return rc;
    }
    if ((rc = read_sub_keys(&a, &s)) != 0 ||
        (rc = cli_hex_exact(&a, "rand", a.val[O_RAND], rand, 16)) != 0 ||
        (rc = cli_hex_exact(&a, "auts", a.val[O_X1], auts, sizeof(auts))) != 0 ||
        (rc = keyed(&a, &s, &m)) != 0) {
        goto out;
    }
    kms_result r = kms_milenage_resync(m, rand, auts, sqn_ms);
    rc = r.err == KMS_OK ? cli_print_hex("sqn_ms", sqn_ms, 6) : cli_fail(&a, NULL, r.err);
out:
    kms_milenage_free(m);
    kms_wipe(&s, sizeof(s));
    return rc;
}

static const char check_autn_help[] =
    "usage: imskms crypto check-autn --k HEX (--op HEX | --opc HEX) --rand HEX --autn HEX\n"
    "\n"
    "USIM side of AKA (3GPP TS 33.102 6.3.3): recovers SQN from AUTN with f5(RAND), checks\n"
    "MAC-A, and prints sqn= amf= res= ck= ik=. Exits 1 when MAC-A does not verify.\n"
    "(Freshness of SQN is the USIM's next check; it needs the USIM's SQN array and is done by\n"
    "the simulated USIM, not here.)\n"
    "\n"
    "  --k HEX     subscriber key K, 16 bytes\n"
    "  --op HEX    OP, 16 bytes  (or --opc HEX: OPc, 16 bytes)\n"
    "  --rand HEX  RAND from the challenge, 16 bytes\n"
    "  --autn HEX  AUTN from the challenge, 16 bytes\n" EXIT_NOTE;

static int cmd_check_autn(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        CLI_VALUE("k"), CLI_VALUE("op"), CLI_VALUE("opc"), CLI_VALUE("rand"), CLI_VALUE("autn"),
    };
    struct cli_args a;
    struct sub_keys s;
    uint8_t rand[16], autn[16], sqn[6];
    struct kms_aka_vec v;
    struct kms_milenage *m = NULL;
    int rc = cli_parse(prefix, opts, 5, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(check_autn_help, stdout);
        }
        return rc;
    }
    memset(&v, 0, sizeof(v));
    if ((rc = read_sub_keys(&a, &s)) != 0 ||
        (rc = cli_hex_exact(&a, "rand", a.val[O_RAND], rand, 16)) != 0 ||
        (rc = cli_hex_exact(&a, "autn", a.val[O_X1], autn, 16)) != 0 ||
        (rc = keyed(&a, &s, &m)) != 0) {
        goto out;
    }
    kms_result r = kms_milenage_check_autn(m, rand, autn, sqn, &v);
    if (r.err != KMS_OK) {
        rc = cli_fail(&a, NULL, r.err);
        goto out;
    }
    if ((rc = cli_print_hex("sqn", sqn, 6)) == 0 && (rc = cli_print_hex("amf", autn + 6, 2)) == 0 &&
        (rc = cli_print_hex("res", v.res, 8)) == 0 && (rc = cli_print_hex("ck", v.ck, 16)) == 0) {
        rc = cli_print_hex("ik", v.ik, 16);
    }
out:
    kms_milenage_free(m);
    kms_wipe(&s, sizeof(s));
    kms_wipe(&v, sizeof(v));
    return rc;
}

static const char kdf_help[] =
    "usage: imskms crypto kdf --key HEX --fc HEX [--param HEX]...\n"
    "\n"
    "The 3GPP generic key derivation function (TS 33.220 Annex B.2):\n"
    "  out = HMAC-SHA-256(key, FC || P0 || L0 || P1 || L1 || ...), Li = 2-byte length of Pi\n"
    "Prints out= (32 bytes).\n"
    "\n"
    "  --key HEX    the key, 1 to 1024 bytes\n"
    "  --fc HEX     function code: one byte other than ff, or two bytes ff xx\n"
    "  --param HEX  P0, P1, ... in order, up to 16 of them, each up to 4096 bytes here\n"
    "               (the KDF allows 65535); an empty parameter is --param ''\n" EXIT_NOTE;

#define KDF_KEY_MAX   1024
#define KDF_PARAM_MAX 4096

static int cmd_kdf(const char *prefix, int argc, char **argv)
{
    enum { K_KEY, K_FC, K_PARAM };
    static const struct cli_opt opts[] = {CLI_VALUE("key"), CLI_VALUE("fc"), CLI_MULTI("param")};
    static uint8_t params[KMS_KDF_MAX_PARAMS][KDF_PARAM_MAX];
    struct kms_kdf_param p[KMS_KDF_MAX_PARAMS];
    struct cli_args a;
    uint8_t key[KDF_KEY_MAX], fc[2], out[KMS_KDF_OUT_LEN];
    size_t key_len = 0, fc_len = 0;
    int rc = cli_parse(prefix, opts, 3, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(kdf_help, stdout);
        }
        return rc;
    }
    if ((rc = cli_hex(&a, "key", a.val[K_KEY], key, sizeof(key), &key_len)) != 0 ||
        (rc = cli_hex(&a, "fc", a.val[K_FC], fc, sizeof(fc), &fc_len)) != 0) {
        goto out;
    }
    if (key_len == 0) {
        rc = cli_usage_error(&a, "--key: must not be empty");
        goto out;
    }
    if (!((fc_len == 1 && fc[0] != 0xff) || (fc_len == 2 && fc[0] == 0xff))) {
        rc =
            cli_usage_error(&a, "--fc: must be one byte other than ff, or ff followed by one byte");
        goto out;
    }
    size_t n = a.n_multi[K_PARAM];
    if (n > KMS_KDF_MAX_PARAMS) {
        rc = cli_usage_error(&a, "--param: at most 16 parameters");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if ((rc = cli_hex(&a, "param", a.multi[K_PARAM][i], params[i], KDF_PARAM_MAX, &len)) != 0) {
            goto out;
        }
        p[i] = (struct kms_kdf_param){params[i], len};
    }
    kms_result r = kms_kdf(key, key_len, fc, fc_len, p, n, out);
    rc = r.err == KMS_OK ? cli_print_hex("out", out, sizeof(out)) : cli_fail(&a, NULL, r.err);
out:
    kms_wipe(key, sizeof(key));
    kms_wipe(out, sizeof(out));
    return rc;
}

static const char ks_naf_help[] =
    "usage: imskms crypto ks-naf --ck HEX --ik HEX --rand HEX --impi TEXT --naf-fqdn TEXT\n"
    "                            [--ua-id HEX] [--show-s]\n"
    "\n"
    "GBA_ME NAF key (3GPP TS 33.220 Annex B.3):\n"
    "  Ks_NAF = KDF(Ks = CK || IK, FC = 01, \"gba-me\", RAND, IMPI, NAF_Id = FQDN || Ua id)\n"
    "Prints ks_naf= (32 bytes).\n"
    "\n"
    "  --ck HEX         CK, 16 bytes\n"
    "  --ik HEX         IK, 16 bytes\n"
    "  --rand HEX       RAND of the bootstrap, 16 bytes\n"
    "  --impi TEXT      the subscriber's IMPI (printable ASCII, no spaces, at most 255)\n"
    "  --naf-fqdn TEXT  the NAF's FQDN (letters, digits, '-', '.')\n"
    "  --ua-id HEX      Ua security protocol id, 5 bytes (default 0100000006, the IMS UE to\n"
    "                   KMS protocol of TS 33.220 Annex H.3)\n"
    "  --show-s         also print s=, the KDF input string S\n"
    "\n"
    "Non-ASCII IMPIs are refused: TS 33.220 asks for NFKC normalisation, which imskms does\n"
    "not implement.\n" EXIT_NOTE;

static int cmd_ks_naf(const char *prefix, int argc, char **argv)
{
    enum { N_CK, N_IK, N_RAND, N_IMPI, N_FQDN, N_UA, N_SHOW_S };
    static const struct cli_opt opts[] = {
        CLI_VALUE("ck"),       CLI_VALUE("ik"),    CLI_VALUE("rand"),  CLI_VALUE("impi"),
        CLI_VALUE("naf-fqdn"), CLI_VALUE("ua-id"), CLI_FLAG("show-s"),
    };
    struct cli_args a;
    uint8_t ck[16], ik[16], rand[16], ua[KMS_UA_ID_LEN], out[KMS_KDF_OUT_LEN];
    struct kms_buf s;
    int rc = cli_parse(prefix, opts, 7, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(ks_naf_help, stdout);
        }
        return rc;
    }
    kms_buf_init(&s, 4096, false);
    memcpy(ua, KMS_UA_ID_KMS, sizeof(ua));
    if ((rc = cli_hex_exact(&a, "ck", a.val[N_CK], ck, 16)) != 0 ||
        (rc = cli_hex_exact(&a, "ik", a.val[N_IK], ik, 16)) != 0 ||
        (rc = cli_hex_exact(&a, "rand", a.val[N_RAND], rand, 16)) != 0 ||
        (a.seen[N_UA] && (rc = cli_hex_exact(&a, "ua-id", a.val[N_UA], ua, sizeof(ua))) != 0)) {
        goto out;
    }
    if (!a.seen[N_IMPI]) {
        rc = cli_missing(&a, "impi");
        goto out;
    }
    if (!a.seen[N_FQDN]) {
        rc = cli_missing(&a, "naf-fqdn");
        goto out;
    }
    const char *impi = a.val[N_IMPI], *fqdn = a.val[N_FQDN];
    kms_result r = kms_ident_check_impi(impi, strlen(impi));
    if (r.err != KMS_OK) {
        rc = cli_fail(&a, "--impi", r.err);
        goto out;
    }
    r = kms_ident_check_fqdn(fqdn, strlen(fqdn));
    if (r.err != KMS_OK) {
        rc = cli_fail(&a, "--naf-fqdn: not a valid FQDN", r.err);
        goto out;
    }
    r = kms_gba_ks_naf(ck, ik, rand, impi, strlen(impi), fqdn, strlen(fqdn), ua, out);
    if (r.err == KMS_OK && a.seen[N_SHOW_S]) {
        r = kms_gba_ks_naf_s(rand, impi, strlen(impi), fqdn, strlen(fqdn), ua, &s);
    }
    if (r.err != KMS_OK) {
        rc = cli_fail(&a, NULL, r.err);
        goto out;
    }
    rc = cli_print_hex("ks_naf", out, sizeof(out));
    if (rc == 0 && a.seen[N_SHOW_S]) {
        rc = cli_print_hex("s", kms_buf_data(&s), kms_buf_len(&s));
    }
out:
    kms_buf_cleanup(&s);
    kms_wipe(ck, sizeof(ck));
    kms_wipe(ik, sizeof(ik));
    kms_wipe(out, sizeof(out));
    return rc;
}

static const char btid_help[] =
    "usage: imskms crypto btid --rand HEX --bsf-fqdn TEXT\n"
    "\n"
    "Bootstrapping transaction identifier (3GPP TS 33.220 4.5.2): prints\n"
    "  btid= base64(RAND) \"@\" BSF FQDN\n"
    "\n"
    "  --rand HEX       RAND of the bootstrap, 16 bytes\n"
    "  --bsf-fqdn TEXT  the BSF's FQDN\n" EXIT_NOTE;

static int cmd_btid(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {CLI_VALUE("rand"), CLI_VALUE("bsf-fqdn")};
    struct cli_args a;
    uint8_t rand[16];
    char btid[KMS_BTID_MAX];
    int rc = cli_parse(prefix, opts, 2, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(btid_help, stdout);
        }
        return rc;
    }
    if ((rc = cli_hex_exact(&a, "rand", a.val[0], rand, 16)) != 0) {
        return rc;
    }
    if (!a.seen[1]) {
        return cli_missing(&a, "bsf-fqdn");
    }
    kms_result r = kms_gba_btid(rand, a.val[1], strlen(a.val[1]), btid, sizeof(btid));
    if (r.err != KMS_OK) {
        return cli_fail(&a, "--bsf-fqdn: not a valid FQDN", r.err);
    }
    printf("btid=%s\n", btid);
    return CLI_EXIT_OK;
}

static const char mikey_prf_help[] =
    "usage: imskms crypto mikey-prf --prf hmac-sha1|hmac-sha256 --inkey HEX --label HEX\n"
    "                               --len BYTES\n"
    "\n"
    "The MIKEY PRF: MIKEY-1 (RFC 3830 4.1.2, HMAC-SHA-1) or PRF-HMAC-SHA-256 (RFC 6043 6.1).\n"
    "  inkey is cut into 256-bit chunks s1..sn; out = P(s1, label, m) xor ... xor\n"
    "  P(sn, label, m), P(s, label, m) = HMAC(s, A1 || label) || ... || HMAC(s, Am || label),\n"
    "  A0 = label, Ai = HMAC(s, A(i-1)). Prints out= (--len bytes).\n"
    "\n"
    "  --prf NAME     hmac-sha1 (MIKEY-1, PRF func 0) or hmac-sha256 (PRF func 1)\n"
    "  --inkey HEX    the input key (TGK, PSK, envelope key, MPK), 1 to 1024 bytes\n"
    "  --label HEX    the label, up to 1024 bytes, e.g. 150533e1 ff <CSB ID> <RAND> for the\n"
    "                 encr_key of an RFC 3830 PSK message (4.1.4)\n"
    "  --len BYTES    output length, a decimal number from 1 to 1024\n" EXIT_NOTE;

#define MIKEY_PRF_IN_MAX 1024

/* A decimal length 1..max: digits only (no sign, space or prefix), no overflow. */
static int parse_len(const struct cli_args *a, const char *s, size_t max, size_t *out)
{
    char *end = NULL;
    unsigned long v;
    if (s == NULL) {
        return cli_missing(a, "len");
    }
    if (s[0] < '0' || s[0] > '9') {
        return cli_usage_error(a, "--len: expected a decimal number from 1 to 1024");
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max) {
        return cli_usage_error(a, "--len: expected a decimal number from 1 to 1024");
    }
    *out = (size_t)v;
    return CLI_EXIT_OK;
}

static int cmd_mikey_prf(const char *prefix, int argc, char **argv)
{
    enum { P_PRF, P_INKEY, P_LABEL, P_LEN };
    static const struct cli_opt opts[] = {CLI_VALUE("prf"), CLI_VALUE("inkey"), CLI_VALUE("label"),
                                          CLI_VALUE("len")};
    struct cli_args a;
    uint8_t inkey[MIKEY_PRF_IN_MAX], label[MIKEY_PRF_IN_MAX], out[KMS_MIKEY_PRF_OUT_MAX];
    size_t inkey_len = 0, label_len = 0, out_len = 0;
    enum kms_mikey_prf_alg alg;
    int rc = cli_parse(prefix, opts, 4, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(mikey_prf_help, stdout);
        }
        return rc;
    }
    if (!a.seen[P_PRF]) {
        return cli_missing(&a, "prf");
    }
    if (strcmp(a.val[P_PRF], "hmac-sha1") == 0) {
        alg = KMS_MIKEY_PRF_MIKEY1;
    } else if (strcmp(a.val[P_PRF], "hmac-sha256") == 0) {
        alg = KMS_MIKEY_PRF_HMAC_SHA256;
    } else {
        return cli_usage_error(&a, "--prf: expected hmac-sha1 or hmac-sha256");
    }
    if ((rc = cli_hex(&a, "inkey", a.val[P_INKEY], inkey, sizeof(inkey), &inkey_len)) != 0 ||
        (rc = cli_hex(&a, "label", a.val[P_LABEL], label, sizeof(label), &label_len)) != 0 ||
        (rc = parse_len(&a, a.val[P_LEN], KMS_MIKEY_PRF_OUT_MAX, &out_len)) != 0) {
        goto out;
    }
    if (inkey_len == 0) {
        rc = cli_usage_error(&a, "--inkey: must not be empty");
        goto out;
    }
    kms_result r = kms_mikey_prf(alg, inkey, inkey_len, label, label_len, out, out_len);
    rc = r.err == KMS_OK ? cli_print_hex("out", out, out_len) : cli_fail(&a, NULL, r.err);
out:
    kms_wipe(inkey, sizeof(inkey));
    kms_wipe(out, sizeof(out));
    return rc;
}

static const char digest_aka_help[] =
    "usage: imskms crypto digest-aka --username TEXT --realm TEXT --nonce TEXT --uri TEXT\n"
    "                                --nc HEX8 --cnonce TEXT [--qop auth-int|auth]\n"
    "                                [--method NAME] (--res HEX | --empty-password)\n"
    "                                [--body-file FILE] [--response-body-file FILE]\n"
    "\n"
    "HTTP Digest AKAv1-MD5 (RFC 3310 on RFC 2617 3.2.2.1, 3.2.3). Prints\n"
    "  response= KD(H(A1), nonce:nc:cnonce:qop:H(A2)), A1 = username:realm:password,\n"
    "            A2 = method:uri[:H(request body)]\n"
    "  rspauth=  the same with an empty method, A2 = :uri[:H(response body)]\n"
    "with H = MD5 in lower-case hex; [:H(body)] only for qop auth-int. The password is the\n"
    "raw octets of RES (the BSF uses XRES for both values), or empty for a response that\n"
    "carries auts (RFC 3310 3.4).\n"
    "\n"
    "  --username TEXT            the IMPI (printable ASCII, at most 255 bytes, as are all\n"
    "                             TEXT values; used as written, without quotes)\n"
    "  --realm TEXT               the realm, the BSF's FQDN on Ub\n"
    "  --nonce TEXT               the nonce as sent, base64(RAND || AUTN || server data)\n"
    "  --uri TEXT                 the digest-uri, \"/\" on Ub\n"
    "  --nc HEX8                  nonce count, exactly 8 lower-case hex digits\n"
    "  --cnonce TEXT              the client nonce\n"
    "  --qop NAME                 auth-int (default, Ub) or auth\n"
    "  --method NAME              request method (default GET)\n"
    "  --res HEX                  RES, 4 to 16 bytes, used as raw octets\n"
    "  --empty-password           the empty password instead of --res\n"
    "  --body-file FILE           request entity body (default empty), at most 1 MiB\n"
    "  --response-body-file FILE  entity body of the 200 response for rspauth (default\n"
    "                             empty), at most 1 MiB\n" EXIT_NOTE;

#define DIGEST_BODY_MAX (1024 * 1024)

/* Reads a whole file of at most DIGEST_BODY_MAX bytes into a new heap block. */
static int read_body(const struct cli_args *a, const char *opt, const char *path, uint8_t **out,
                     size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: --%s: %s: %s\n", a->cmd, opt, path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    uint8_t *buf = malloc(DIGEST_BODY_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "%s: out of memory\n", a->cmd);
        return CLI_EXIT_INTERNAL;
    }
    size_t n = fread(buf, 1, DIGEST_BODY_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > DIGEST_BODY_MAX) {
        free(buf);
        fprintf(stderr, "%s: --%s: %s: %s\n", a->cmd, opt, path,
                bad ? "read error" : "larger than 1 MiB");
        return CLI_EXIT_USAGE;
    }
    *out = buf;
    *len = n;
    return CLI_EXIT_OK;
}

static int cmd_digest_aka(const char *prefix, int argc, char **argv)
{
    enum {
        D_USER,
        D_REALM,
        D_NONCE,
        D_URI,
        D_NC,
        D_CNONCE,
        D_QOP,
        D_METHOD,
        D_RES,
        D_EMPTY,
        D_BODY,
        D_RBODY,
        D_N
    };
    static const struct cli_opt opts[] = {
        CLI_VALUE("username"),      CLI_VALUE("realm"),     CLI_VALUE("nonce"),
        CLI_VALUE("uri"),           CLI_VALUE("nc"),        CLI_VALUE("cnonce"),
        CLI_VALUE("qop"),           CLI_VALUE("method"),    CLI_VALUE("res"),
        CLI_FLAG("empty-password"), CLI_VALUE("body-file"), CLI_VALUE("response-body-file"),
    };
    static const char *const text_opts[] = {"username", "realm", "nonce", "uri", "cnonce"};
    struct cli_args a;
    struct kms_digest_params scratch;
    uint8_t res[16];
    size_t res_len = 0, body_len = 0, rbody_len = 0;
    uint8_t *body = NULL, *rbody = NULL;
    char resp[KMS_DIGEST_HEX_BUF], rsp[KMS_DIGEST_HEX_BUF];
    int rc = cli_parse(prefix, opts, D_N, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(digest_aka_help, stdout);
        }
        return rc;
    }
    kms_digest_params_init(&scratch);
    for (size_t i = 0; i < 5; i++) {
        size_t o = i < 4 ? i : D_CNONCE;
        if (!a.seen[o]) {
            return cli_missing(&a, text_opts[i]);
        }
        kms_result r = kms_digest_set(&scratch, KMS_DIGEST_USERNAME, a.val[o]);
        if (r.err != KMS_OK) {
            fprintf(stderr, "%s: --%s: %s\n", a.cmd, text_opts[i], kms_strerror(r.err));
            return CLI_EXIT_USAGE;
        }
    }
    if (!a.seen[D_NC]) {
        return cli_missing(&a, "nc");
    }
    bool nc_ok = strlen(a.val[D_NC]) == 8;
    for (size_t i = 0; nc_ok && i < 8; i++) {
        char c = a.val[D_NC][i];
        nc_ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
    if (!nc_ok) {
        return cli_usage_error(&a, "--nc: expected exactly 8 lower-case hex digits");
    }
    const char *qop = a.seen[D_QOP] ? a.val[D_QOP] : "auth-int";
    if (strcmp(qop, "auth-int") != 0 && strcmp(qop, "auth") != 0) {
        return cli_usage_error(&a, "--qop: expected auth-int or auth");
    }
    const char *method = a.seen[D_METHOD] ? a.val[D_METHOD] : "GET";
    if (method[0] == '\0' || !kms_ok(kms_digest_set(&scratch, KMS_DIGEST_URI, method))) {
        return cli_usage_error(&a, "--method: expected a non-empty printable name");
    }
    if (a.seen[D_RES] == a.seen[D_EMPTY]) {
        return cli_usage_error(&a, "give exactly one of --res and --empty-password");
    }
    if (a.seen[D_RES]) {
        if ((rc = cli_hex(&a, "res", a.val[D_RES], res, sizeof(res), &res_len)) != 0) {
            goto out;
        }
        if (res_len < 4) {
            rc = cli_usage_error(&a, "--res: expected 4 to 16 bytes");
            goto out;
        }
    }
    if ((a.seen[D_BODY] &&
         (rc = read_body(&a, "body-file", a.val[D_BODY], &body, &body_len)) != 0) ||
        (a.seen[D_RBODY] &&
         (rc = read_body(&a, "response-body-file", a.val[D_RBODY], &rbody, &rbody_len)) != 0)) {
        goto out;
    }
    struct kms_digest_req req = {
        .username = a.val[D_USER],
        .realm = a.val[D_REALM],
        .nonce = a.val[D_NONCE],
        .uri = a.val[D_URI],
        .qop = qop,
        .nc = a.val[D_NC],
        .cnonce = a.val[D_CNONCE],
        .method = method,
        .body = body,
        .body_len = body_len,
    };
    kms_result r = kms_digest_response(res, res_len, &req, resp);
    if (r.err == KMS_OK) {
        req.body = rbody;
        req.body_len = rbody_len;
        r = kms_digest_rspauth(res, res_len, &req, rsp);
    }
    if (r.err != KMS_OK) {
        rc = cli_fail(&a, NULL, r.err);
        goto out;
    }
    printf("response=%s\nrspauth=%s\n", resp, rsp);
    rc = CLI_EXIT_OK;
out:
    kms_wipe(res, sizeof(res));
    free(body);
    free(rbody);
    return rc;
}

static const struct cli_cmd crypto_cmds[] = {
    {"milenage", "Milenage f1-f5* and AUTN (TS 35.206)", cmd_milenage},
    {"check-autn", "USIM: verify AUTN, print SQN, RES, CK, IK", cmd_check_autn},
    {"auts", "USIM: resynchronisation token AUTS", cmd_auts},
    {"resync", "network: SQN_MS from AUTS, MAC-S checked", cmd_resync},
    {"kdf", "3GPP generic KDF (TS 33.220 B.2)", cmd_kdf},
    {"ks-naf", "GBA Ks_NAF (TS 33.220 B.3)", cmd_ks_naf},
    {"btid", "B-TID = base64(RAND)@BSF-FQDN", cmd_btid},
    {"mikey-prf", "MIKEY PRF (RFC 3830 4.1.2, RFC 6043 6.1)", cmd_mikey_prf},
    {"digest-aka", "HTTP Digest AKAv1-MD5 response and rspauth (RFC 3310)", cmd_digest_aka},
};

int cmd_crypto(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, crypto_cmds, sizeof(crypto_cmds) / sizeof(crypto_cmds[0]),
                        "\nThese commands print keys: they exist to reproduce published and\n"
                        "derived values from given inputs, not to handle live secrets.\n",
                        argc, argv);
}

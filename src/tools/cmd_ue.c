/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms ue: the simulated UE. For now its USIM: usim-init writes a new USIM file
 * (lib/ue/kms_usim.h), usim-show prints what it holds except the keys.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_keyring.h"
#include "cmds.h"
#include "crypto/kms_milenage.h"
#include "ue/kms_usim.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define UE_EXIT_NOTE                                                                               \
    "\nExit status: 0 success, 2 bad usage (missing or malformed option, an existing file for\n"   \
    "usim-init, a missing, malformed or group/world-accessible one otherwise), 3 a file system\n"  \
    "or internal failure.\n"

enum { O_USIM, O_IMPI, O_IMPU, O_K, O_OP, O_OPC, O_AMF, O_IND_BITS };
static const struct cli_opt init_opts[] = {
    CLI_VALUE("usim"), CLI_VALUE("impi"), CLI_MULTI("impu"), CLI_VALUE("k"),
    CLI_VALUE("op"),   CLI_VALUE("opc"),  CLI_VALUE("amf"),  CLI_VALUE("ind-bits"),
};

static const char init_help[] =
    "usage: imskms ue usim-init --usim FILE --impi ID --impu URI [--impu URI]...\n"
    "                           --k HEX (--op HEX | --opc HEX) [--amf HEX] [--ind-bits N]\n"
    "\n"
    "Writes a new simulated USIM/ISIM file (mode 0600; refuses to overwrite one): the private\n"
    "identity, 1 to 8 public identities, K, OPc (computed from --op when given), the AMF, and\n"
    "a fresh SQN array (TS 33.102 Annex C: every SEQ_MS 0, delta 2^28, no age limit).\n"
    "\n"
    "  --usim FILE     the USIM file to create\n"
    "  --impi ID       private identity (printable ASCII without spaces, at most 255 bytes)\n"
    "  --impu URI      public identity, e.g. sip:user@domain or tel:+15550100 (up to 8)\n"
    "  --k HEX         subscriber key K, 16 bytes\n"
    "  --op HEX        operator variant OP, 16 bytes (or --opc HEX: OPc, 16 bytes)\n"
    "  --amf HEX       AMF of the subscription, 2 bytes (default 0000: separation bit 0, not\n"
    "                  E-UTRAN; the subscriber store's default)\n"
    "  --ind-bits N    IND bits of SQN, 0 to 8 (default 5: 32 SEQ_MS entries)\n"
    "\n"
    "Prints usim= and impi= (never the keys).\n" UE_EXIT_NOTE;

static const char show_help[] =
    "usage: imskms ue usim-show --usim FILE\n"
    "\n"
    "Prints what the USIM file holds except K and OPc: usim=, impi=, one impu= line each,\n"
    "amf=, ind_bits=, delta=, age_limit=, sqn_ms= (the highest accepted SQN, hex).\n" UE_EXIT_NOTE;

/* Errors about the file: a missing, existing or loose file is the user's to fix (exit 2). */
static int usim_fail(const struct cli_args *a, const char *path, enum kms_err err)
{
    struct stat st;
    if (err == KMS_ERR_IO && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_mode & 077) != 0) {
        fprintf(stderr, "%s: --usim: %s: group or others can access it (chmod 600)\n", a->cmd,
                path);
        return CLI_EXIT_USAGE;
    }
    if (err == KMS_ERR_EXISTS || err == KMS_ERR_NOT_FOUND) {
        fprintf(stderr, "%s: --usim: %s: %s\n", a->cmd, path, kms_strerror(err));
        return CLI_EXIT_USAGE;
    }
    errno = err == KMS_ERR_IO ? errno : 0;
    return cli_fail(a, "--usim", err);
}

static int fill_identities(const struct cli_args *a, struct kms_usim *u)
{
    const char *impi = a->val[O_IMPI];
    if (impi == NULL) {
        return cli_missing(a, "impi");
    }
    if (a->n_multi[O_IMPU] == 0) {
        return cli_missing(a, "impu");
    }
    if (a->n_multi[O_IMPU] > KMS_USIM_MAX_IMPU) {
        return cli_usage_error(a, "--impu: at most 8 public identities");
    }
    kms_result r = kms_ident_check_impi(impi, strlen(impi));
    if (!kms_ok(r)) {
        return cli_fail(a, "--impi", r.err);
    }
    memcpy(u->impi, impi, strlen(impi) + 1);
    for (size_t i = 0; i < a->n_multi[O_IMPU]; i++) {
        const char *s = a->multi[O_IMPU][i];
        r = kms_ident_check_impi(s, strlen(s));
        if (!kms_ok(r)) {
            return cli_fail(a, "--impu", r.err);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s, u->impu[j]) == 0) {
                return cli_usage_error(a, "--impu: the same identity twice");
            }
        }
        memcpy(u->impu[i], s, strlen(s) + 1);
    }
    u->n_impu = a->n_multi[O_IMPU];
    return CLI_EXIT_OK;
}

/* K, and OPc from --opc or computed from --op. */
static int fill_keys(const struct cli_args *a, struct kms_usim *u)
{
    int rc = cli_hex_exact(a, "k", a->val[O_K], u->k, sizeof(u->k));
    if (rc != 0) {
        return rc;
    }
    if (a->seen[O_OP] == a->seen[O_OPC]) {
        return cli_usage_error(a, "give exactly one of --op and --opc (see --help)");
    }
    if (a->seen[O_OPC]) {
        return cli_hex_exact(a, "opc", a->val[O_OPC], u->opc, sizeof(u->opc));
    }
    uint8_t op[16];
    rc = cli_hex_exact(a, "op", a->val[O_OP], op, sizeof(op));
    struct kms_milenage *m = NULL;
    kms_result r = KMS_RESULT_OK;
    if (rc == 0) {
        r = kms_milenage_new(&m);
        if (kms_ok(r)) {
            r = kms_milenage_set_key_op(m, u->k, op);
        }
        if (kms_ok(r)) {
            r = kms_milenage_get_opc(m, u->opc);
        }
        if (!kms_ok(r)) {
            rc = cli_fail(a, "milenage", r.err);
        }
    }
    kms_milenage_free(m);
    kms_wipe(op, sizeof(op));
    return rc;
}

static int fill(const struct cli_args *a, struct kms_usim *u)
{
    int rc;
    if ((rc = fill_identities(a, u)) != 0 || (rc = fill_keys(a, u)) != 0) {
        return rc;
    }
    if (a->val[O_AMF] != NULL &&
        (rc = cli_hex_exact(a, "amf", a->val[O_AMF], u->amf, sizeof(u->amf))) != 0) {
        return rc;
    }
    uint64_t ind_bits = KMS_SQN_IND_BITS_DEF;
    if (a->val[O_IND_BITS] != NULL && (rc = cli_parse_u64(a, "ind-bits", a->val[O_IND_BITS], 0,
                                                          KMS_SQN_IND_BITS_MAX, &ind_bits)) != 0) {
        return rc;
    }
    kms_result r = kms_sqn_ms_init(&u->sqn, (unsigned)ind_bits, KMS_SQN_DELTA_DEF, 0);
    return kms_ok(r) ? CLI_EXIT_OK : cli_fail(a, "--ind-bits", r.err);
}

static int usim_init(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    int rc =
        cli_parse(prefix, init_opts, sizeof(init_opts) / sizeof(init_opts[0]), 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(init_help, stdout);
        }
        return rc;
    }
    if (a.val[O_USIM] == NULL) {
        return cli_missing(&a, "usim");
    }
    struct kms_usim u;
    memset(&u, 0, sizeof(u));
    rc = fill(&a, &u);
    if (rc == 0) {
        kms_result r = kms_usim_create(a.val[O_USIM], &u);
        if (kms_ok(r)) {
            printf("usim=%s\nimpi=%s\n", a.val[O_USIM], u.impi);
        } else {
            rc = usim_fail(&a, a.val[O_USIM], r.err);
        }
    }
    kms_usim_wipe(&u);
    return rc;
}

static int usim_show(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    int rc = cli_parse(prefix, init_opts, 1, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(show_help, stdout);
        }
        return rc;
    }
    if (a.val[O_USIM] == NULL) {
        return cli_missing(&a, "usim");
    }
    struct kms_usim u;
    kms_result r = kms_usim_load(a.val[O_USIM], &u);
    if (!kms_ok(r)) {
        return usim_fail(&a, a.val[O_USIM], r.err);
    }
    printf("usim=%s\nimpi=%s\n", a.val[O_USIM], u.impi);
    for (size_t i = 0; i < u.n_impu; i++) {
        printf("impu=%s\n", u.impu[i]);
    }
    printf("amf=%02x%02x\nind_bits=%u\ndelta=%llu\nage_limit=%llu\nsqn_ms=%012llx\n", u.amf[0],
           u.amf[1], u.sqn.ind_bits, (unsigned long long)u.sqn.delta,
           (unsigned long long)u.sqn.age_limit, (unsigned long long)kms_sqn_ms_highest(&u.sqn));
    kms_usim_wipe(&u);
    return CLI_EXIT_OK;
}

int ue_bootstrap(const char *prefix, int argc, char **argv);   /* cmd_ue_boot.c */
int ue_kue(const char *prefix, int argc, char **argv);         /* cmd_ue_kms.c */
int ue_request(const char *prefix, int argc, char **argv);     /* cmd_ue_kms.c */
int ue_resolve(const char *prefix, int argc, char **argv);     /* cmd_ue_kms.c */
int ue_rtp_send(const char *prefix, int argc, char **argv);    /* cmd_ue_media.c */
int ue_rtp_recv(const char *prefix, int argc, char **argv);    /* cmd_ue_media.c */
int ue_srtp_export(const char *prefix, int argc, char **argv); /* cmd_ue_media.c */
int ue_offer(const char *prefix, int argc, char **argv);       /* cmd_ue_call.c */
int ue_answer(const char *prefix, int argc, char **argv);      /* cmd_ue_call.c */
int ue_accept(const char *prefix, int argc, char **argv);      /* cmd_ue_call.c */

static const struct cli_cmd ue_cmds[] = {
    {"usim-init", "create a simulated USIM file (identities, K, OPc, AMF, SQN array)", usim_init},
    {"usim-show", "print a USIM file's identities, AMF and SQN state (never the keys)", usim_show},
    {"bootstrap", "GBA bootstrap with a BSF over Ub (Digest AKA)", ue_bootstrap},
    {"kue", "get Kue and its token from the KMS (mode 2 or 3)", ue_kue},
    {"request", "ticket request: media keys for a peer, and the TRANSFER_INIT for it", ue_request},
    {"resolve", "ticket resolve: the media keys of a TRANSFER_INIT received", ue_resolve},
    {"offer", "a call's SDP offer: ticket request, TRANSFER_INIT with the caller's stream",
     ue_offer},
    {"answer", "a call's SDP answer: resolve, check, TRANSFER_RESP with the callee's stream",
     ue_answer},
    {"accept", "the caller takes the SDP answer: the session's SRTP keys", ue_accept},
    {"rtp-send", "send SRTP (PCMU, 20 ms packets) with a session's sending key", ue_rtp_send},
    {"rtp-recv", "receive SRTP with a session's receiving key; counts and payload hash",
     ue_rtp_recv},
    {"srtp-export", "print the sending SRTP key as an RFC 4568 line (a secret)", ue_srtp_export},
};

int cmd_ue(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, ue_cmds, sizeof(ue_cmds) / sizeof(ue_cmds[0]), NULL, argc, argv);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms token: sealed tickets from the command line (an operator and test tool).
 *   seal     a sealed Kue for an identity, under the keyring's active key;
 *   inspect  the clear header, without any key;
 *   open     the claims, or why the ticket is refused (an operator tool may say why; the
 *            daemon never tells a peer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_keyring.h"
#include "cmds.h"
#include "crypto/kms_kdf.h"
#include "crypto/kms_ossl.h"
#include "ticket/kms_ticket.h"
#include "util/kms_codec.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define TOKEN_EXIT_NOTE                                                                            \
    "\nExit status: 0 success, 1 the ticket (or keyring) was refused, 2 bad usage or a TOKEN\n"    \
    "that is not base64 or too short to hold a header, 3 internal error.\n"

static const char seal_help[] =
    "usage: imskms token seal --keyring PATH (--kek-file FILE | --hsm URI) --impi ID\n"
    "                         [--impu URI]... --lifetime SECONDS [--mode 2|3]\n"
    "                         [--naf-fqdn FQDN] [--show-secrets]\n"
    "\n"
    "Seals a fresh random Kue (32 bytes) for the identity under the active key, as the KMS\n"
    "does at Kue issue, and prints token= (standard base64), key_id=, token_id=, issued=,\n"
    "expires=. The expiry is capped at the key's end of grace. kue= is printed only with\n"
    "--show-secrets.\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP
    "  --impi ID           the UE's private identity (printable ASCII, no spaces, <= 255)\n"
    "  --impu URI          a public identity (up to 8)\n"
    "  --lifetime SECONDS  the token's lifetime (1 .. 31622400)\n"
    "  --mode 2|3          the mode recorded in the token (default 3)\n"
    "  --naf-fqdn FQDN     the KMS FQDN of the NAF_Id (default localhost; Ua id 0100000006)\n"
    "  --show-secrets      also print kue= (hex)\n" TOKEN_EXIT_NOTE;

static const char inspect_help[] =
    "usage: imskms token inspect TOKEN\n"
    "\n"
    "Prints the clear header of a sealed ticket (no key needed): version=, kind=, key_id=,\n"
    "nonce=, ciphertext_len=. TOKEN is base64, or - to read it from standard "
    "input.\n" TOKEN_EXIT_NOTE;

static const char open_help[] =
    "usage: imskms token open --keyring PATH (--kek-file FILE | --hsm URI) TOKEN\n"
    "\n"
    "Opens a sealed ticket: checks its header, its key's state, its tag, its payload and its\n"
    "times, in this order, and prints the claims (Kue hidden unless --show-secrets), or exits\n"
    "1 with the reason. TOKEN is base64, or - to read it from standard input.\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP
    "  --show-secrets    also print kue= / tgk= / mpk= (hex)\n" TOKEN_EXIT_NOTE;

static const char *kind_name(uint8_t kind)
{
    return kind == KMS_TICKET_KUE ? "sealed-kue" : kind == KMS_TICKET_MEDIA ? "media" : "unknown";
}

static int print_b64(const char *name, const uint8_t *p, size_t n)
{
    char s[KMS_BASE64_ENC_LEN(KMS_TICKET_MAX)];
    if (!kms_ok(kms_base64_encode(p, n, s, sizeof(s)))) {
        return CLI_EXIT_INTERNAL;
    }
    printf("%s=%s\n", name, s);
    return CLI_EXIT_OK;
}

static int token_seal(const char *prefix, int argc, char **argv)
{
    enum {
        S_KEYRING,
        S_KEK,
        S_HSM,
        S_IMPI,
        S_IMPU,
        S_LIFETIME,
        S_MODE,
        S_NAF,
        S_SHOW,
        S_REDIS,
        S_REDIS_PW
    };
    static const struct cli_opt opts[] = {
        CLI_VALUE("keyring"),
        CLI_VALUE("kek-file"),
        CLI_VALUE("hsm"),
        CLI_VALUE("impi"),
        CLI_MULTI("impu"),
        CLI_VALUE("lifetime"),
        CLI_VALUE("mode"),
        CLI_VALUE("naf-fqdn"),
        CLI_FLAG("show-secrets"),
        CLI_VALUE("redis"),
        CLI_VALUE("redis-password-file"),
    };
    struct cli_args a;
    struct kms_ticket_claims c;
    memset(&c, 0, sizeof(c));
    uint8_t t[KMS_TICKET_MAX];
    struct kms_buf b;
    kms_buf_init_fixed(&b, t, sizeof(t), false);
    struct cli_ring ring = {0};
    uint64_t lifetime = 0, mode = 3;
    int rc = cli_parse(prefix, opts, 11, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(seal_help, stdout);
        }
        return rc;
    }
    c.kind = KMS_TICKET_KUE;
    if (a.val[S_IMPI] == NULL) {
        return cli_missing(&a, "impi");
    }
    kms_result r = kms_ticket_ident_set(&c.impi, a.val[S_IMPI]);
    if (!kms_ok(r)) {
        return cli_fail(&a, "--impi", r.err);
    }
    if (a.n_multi[S_IMPU] > KMS_TICKET_MAX_IDENTS) {
        return cli_usage_error(&a, "--impu: at most 8");
    }
    for (size_t i = 0; i < a.n_multi[S_IMPU]; i++) {
        r = kms_ticket_ident_set(&c.impu[i], a.multi[S_IMPU][i]);
        if (!kms_ok(r)) {
            return cli_fail(&a, "--impu", r.err);
        }
    }
    c.n_impu = a.n_multi[S_IMPU];
    if ((rc = cli_parse_u64(&a, "lifetime", a.val[S_LIFETIME], 1, 31622400, &lifetime)) != 0) {
        return rc;
    }
    if (a.val[S_MODE] != NULL &&
        (rc = cli_parse_u64(&a, "mode", a.val[S_MODE], 2, 3, &mode)) != 0) {
        return rc;
    }
    c.mode = (uint8_t)mode;
    const char *fqdn = a.val[S_NAF] != NULL ? a.val[S_NAF] : "localhost";
    r = kms_ident_check_fqdn(fqdn, strlen(fqdn));
    if (!kms_ok(r)) {
        return cli_fail(&a, "--naf-fqdn", r.err);
    }
    size_t fl = strlen(fqdn);
    memcpy(c.naf_id, fqdn, fl);
    memcpy(c.naf_id + fl, KMS_UA_ID_KMS, 5);
    c.naf_id_len = fl + 5;
    if ((rc = cli_ring_open(&a, a.val[S_KEYRING], a.val[S_KEK], a.val[S_HSM], a.val[S_REDIS],
                            a.val[S_REDIS_PW], &ring)) != 0) {
        return rc;
    }
    struct kms_keyring *kr = ring.kr;
    uint64_t now = cli_now();
    c.expires = now + lifetime;
    c.ks_naf_expires = c.expires; /* an operator token: its own Ks_NAF bound */
    c.kue_len = 32;
    r = kms_random(c.kue, c.kue_len);
    if (kms_ok(r)) {
        r = kms_random(c.token_id, sizeof(c.token_id));
    }
    if (kms_ok(r)) {
        r = kms_ticket_seal(kr, now, &c, &b);
    }
    if (!kms_ok(r)) {
        rc = cli_fail(&a, NULL, r.err);
        goto out;
    }
    if ((rc = print_b64("token", kms_buf_data(&b), kms_buf_len(&b))) != 0) {
        goto out;
    }
    printf("key_id=%u\n", c.key_id);
    cli_print_hex("token_id", c.token_id, sizeof(c.token_id));
    cli_print_time("issued", c.issued);
    cli_print_time("expires", c.expires);
    if (a.seen[S_SHOW]) {
        cli_print_hex("kue", c.kue, c.kue_len);
    }
out:
    kms_ticket_claims_wipe(&c);
    cli_ring_close(&ring);
    return rc;
}

static int token_inspect(const char *prefix, int argc, char **argv)
{
    static const struct cli_opt opts[] = {CLI_FLAG("unused")};
    struct cli_args a;
    uint8_t t[KMS_TICKET_MAX];
    size_t n = 0;
    int rc = cli_parse(prefix, opts, 0, 1, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(inspect_help, stdout);
        }
        return rc;
    }
    if ((rc = cli_read_token(&a, a.n_pos > 0 ? a.pos[0] : NULL, t, sizeof(t), &n)) != 0) {
        return rc;
    }
    struct kms_ticket_header h;
    kms_result r = kms_ticket_header_parse(t, n, &h);
    if (!kms_ok(r)) {
        return cli_fail(&a, "TOKEN", r.err);
    }
    printf("version=%u\nkind=%s\nkey_id=%u\n", h.version, kind_name(h.kind), h.key_id);
    cli_print_hex("nonce", h.nonce, sizeof(h.nonce));
    printf("ciphertext_len=%zu\n", h.ct_len);
    return CLI_EXIT_OK;
}

static void print_ident(const char *name, const struct kms_ticket_ident *id)
{
    printf("%s=%s\n", name, id->s);
}

static int token_open(const char *prefix, int argc, char **argv)
{
    enum { P_KEYRING, P_KEK, P_HSM, P_SHOW, P_REDIS, P_REDIS_PW };
    static const struct cli_opt opts[] = {
        CLI_VALUE("keyring"),     CLI_VALUE("kek-file"), CLI_VALUE("hsm"),
        CLI_FLAG("show-secrets"), CLI_VALUE("redis"),    CLI_VALUE("redis-password-file"),
    };
    struct cli_args a;
    uint8_t t[KMS_TICKET_MAX];
    size_t n = 0;
    struct kms_ticket_claims c;
    struct cli_ring ring = {0};
    int rc = cli_parse(prefix, opts, 6, 1, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(open_help, stdout);
        }
        return rc;
    }
    if ((rc = cli_read_token(&a, a.n_pos > 0 ? a.pos[0] : NULL, t, sizeof(t), &n)) != 0) {
        return rc;
    }
    struct kms_ticket_header h;
    kms_result r = kms_ticket_header_parse(t, n, &h);
    if (r.err == KMS_ERR_TRUNCATED || r.err == KMS_ERR_TOO_LONG) {
        return cli_fail(&a, "TOKEN", r.err);
    }
    if ((rc = cli_ring_open(&a, a.val[P_KEYRING], a.val[P_KEK], a.val[P_HSM], a.val[P_REDIS],
                            a.val[P_REDIS_PW], &ring)) != 0) {
        return rc;
    }
    r = kms_ticket_open(ring.kr, cli_now(), t, n, (enum kms_ticket_kind)h.kind, &c);
    if (!kms_ok(r)) {
        /* The operator may know why; a peer of the daemon never does. */
        rc = cli_fail(&a, "refused", r.err);
        goto out;
    }
    printf("kind=%s\nkey_id=%u\n", kind_name(h.kind), c.key_id);
    cli_print_hex("token_id", c.token_id, sizeof(c.token_id));
    cli_print_time("issued", c.issued);
    cli_print_time("expires", c.expires);
    if (c.kind == KMS_TICKET_KUE) {
        print_ident("impi", &c.impi);
        for (size_t i = 0; i < c.n_impu; i++) {
            print_ident("impu", &c.impu[i]);
        }
        printf("mode=%u\n", c.mode);
        cli_print_hex("naf_id", c.naf_id, c.naf_id_len);
        cli_print_time("ks_naf_expires", c.ks_naf_expires);
        if (a.seen[P_SHOW]) {
            cli_print_hex("kue", c.kue, c.kue_len);
        } else {
            printf("kue=hidden (%zu bytes; --show-secrets prints it)\n", c.kue_len);
        }
    } else {
        print_ident("initiator", &c.initiator);
        for (size_t i = 0; i < c.n_responder; i++) {
            print_ident("responder", &c.responder[i]);
        }
        if (a.seen[P_SHOW]) {
            cli_print_hex("tgk", c.tgk, c.tgk_len);
            if (c.mpk_len > 0) {
                cli_print_hex("mpk", c.mpk, c.mpk_len);
            }
        } else {
            printf("tgk=hidden (%zu bytes)\n", c.tgk_len);
        }
    }
out:
    kms_ticket_claims_wipe(&c);
    cli_ring_close(&ring);
    return rc;
}

static const struct cli_cmd token_cmds[] = {
    {"seal", "seal a fresh Kue for an identity under the active key", token_seal},
    {"inspect", "print a ticket's clear header", token_inspect},
    {"open", "open a ticket and print its claims or why it is refused", token_open},
};

int cmd_token(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, token_cmds, sizeof(token_cmds) / sizeof(token_cmds[0]), NULL, argc,
                        argv);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* imskms ue offer | answer | accept: a call's SRTP keys through SDP (lib/ue/kms_call,
 * lib/sdp/kms_sdp; docs/media.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "kms/kms_ticket_msg.h"
#include "sdp/kms_sdp.h"
#include "ue/kms_call.h"
#include "ue/kms_media.h"
#include "util/kms_file.h"
#include "util/kms_time.h"

#define OFFER_PORT_DEFAULT  40000
#define ANSWER_PORT_DEFAULT 40002
#define LOCAL_HOST          "127.0.0.1"

#define CALL_MODE_HELP                                                                             \
    "  --mode 1|2|3     2 or 3: key the exchange with the Kue in --state ('imskms ue kue'),\n"     \
    "                   which must be of that mode (default: whichever it is); 1: bootstrap\n"     \
    "                   afresh with the BSF first and key it with Kue1 (as 'ue request')\n"        \
    "  --bsf URL        mode 1: the BSF's Ub address\n"                                            \
    "  --usim FILE      mode 1: the USIM file\n"                                                   \
    "  --ca-file FILE   mode 1: PEM CA for an https:// BSF (not the KMS's: --kms-ca-file)\n"       \
    "  --kms-fqdn FQDN  mode 1: the KMS's FQDN, when it differs from the URL's host\n"             \
    "  --trace DIR      write each MIKEY message as NNN-sent.mikey / NNN-recv.mikey\n"             \
    "  --timeout S      seconds to wait for each HTTP exchange (default 10)\n"                     \
    "  --kms-ca-file FILE PEM CA(s) that issued an https:// KMS's certificate\n"

static const char offer_help[] =
    "usage: imskms ue offer --kms URL --state DIR --peer IMPU --session DIR --out FILE\n"
    "                       [--policy P] [--port N] [--trace DIR] [--timeout S]\n"
    "                       [--kms-ca-file FILE]\n"
    "                       [--mode 1 --bsf URL --usim FILE [--ca-file FILE]\n"
    "                        [--kms-fqdn FQDN] [--identity ID]]\n"
    "\n"
    "The caller's side of a call: the ticket request for --peer, then an SDP offer in --out\n"
    "(m=audio PORT RTP/SAVP 0, PCMU, c=IN IP4 127.0.0.1) whose session-level\n"
    "a=key-mgmt:mikey carries the TRANSFER_INIT with one crypto session (the caller's stream: a\n"
    "random SSRC, ROC 0, a random SEQ) and the SP payload of the policy. Keeps what 'ue accept'\n"
    "needs in --session DIR/offer (0600; DIR created 0700). Prints tgk_fingerprint= (the\n"
    "SRTP keys need the answer's RANDRr: 'ue accept' prints srtp_fingerprint=).\n"
    "\n"
    "  --kms URL        the KMS (POST /mikey)\n"
    "  --state DIR      the UE's state (bootstrap and kue)\n"
    "  --peer IMPU      the callee, as its own bootstrap or Kue token names it\n"
    "  --session DIR    this call's directory\n"
    "  --out FILE       where the SDP offer goes\n"
    "  --policy P       aes128-hmac80 (default), aes256-hmac80 or aes128-gcm\n"
    "  --port N         the m= port, where this side receives RTP (default 40000)\n"
    "  --identity ID    mode 1: IDRi, the IMPI (default) or one of the subscriber's "
    "IMPUs\n" CALL_MODE_HELP "\n"
    "Exit status: 0 done; 1 the KMS refused; 2 bad usage or a malformed answer; 3 transport\n"
    "or internal error, or the KMS cannot serve now.\n";

static const char answer_help[] =
    "usage: imskms ue answer --kms URL --state DIR --offer FILE --session DIR --out FILE\n"
    "                        [--port N] [--skew S] [--trace DIR] [--timeout S]\n"
    "                        [--kms-ca-file FILE]\n"
    "                        [--mode 1 --bsf URL --usim FILE [--ca-file FILE]\n"
    "                         [--kms-fqdn FQDN]]\n"
    "\n"
    "The callee's side: reads the SDP offer in --offer (a=key-mgmt:mikey at session or media\n"
    "level; the media level's wins), checks its TRANSFER_INIT (one crypto session for the one\n"
    "m= line, ticket flags F, G, H set and I, L, M clear, a policy we support, T within --skew\n"
    "of now, never seen before), resolves the ticket with the KMS as the responder the transfer\n"
    "names, verifies the transfer with the MPK and its IDRi against the ticket's initiator, then\n"
    "writes the SDP answer in --out with the TRANSFER_RESP (a second crypto session for this\n"
    "side's stream, a fresh RANDRr) and the session in --session DIR/srtp (0600; DIR created\n"
    "0700). The transfer is recorded in --state DIR/transfers for --skew seconds: the same\n"
    "transfer again is refused. Prints tgk_fingerprint= and srtp_fingerprint= (the caller's\n"
    "'ue accept' prints the same).\n"
    "\n"
    "  --kms URL        the KMS (POST /mikey)\n"
    "  --state DIR      this UE's state (bootstrap, kue, transfers)\n"
    "  --offer FILE     the caller's SDP offer\n"
    "  --session DIR    this call's directory\n"
    "  --out FILE       where the SDP answer goes\n"
    "  --port N         the m= port, where this side receives RTP (default 40002)\n"
    "  --skew S         allowed distance of the transfer's T from now, in seconds (default 60,\n"
    "                   imskms-kmsd's default --skew)\n" CALL_MODE_HELP "\n"
    "Exit status: 0 done; 1 the KMS refused, the transfer does not verify or names another\n"
    "initiator, its T is outside --skew, or it was seen before; 2 bad usage or bad input (the\n"
    "offer, its MIKEY message, a policy or ticket flags we do not support), nothing written;\n"
    "3 transport or internal error, or the KMS cannot serve now.\n";

static const char accept_help[] =
    "usage: imskms ue accept --session DIR --answer FILE\n"
    "\n"
    "The caller's side, last step: reads the SDP answer in --answer, verifies its\n"
    "TRANSFER_RESP with the MPK kept in DIR/offer by 'ue offer' (it must answer that\n"
    "TRANSFER_INIT, keep its crypto session and add one with another SSRC), writes the session\n"
    "in DIR/srtp (0600) and removes DIR/offer: an answer is accepted once. Prints\n"
    "tgk_fingerprint= and srtp_fingerprint= (equal to the callee's).\n"
    "\n"
    "  --session DIR    the directory of 'ue offer'\n"
    "  --answer FILE    the callee's SDP answer\n"
    "\n"
    "Exit status: 0 done; 1 the TRANSFER_RESP does not verify; 2 bad usage or bad input (the\n"
    "answer, its MIKEY message, equal SSRCs), nothing written; 3 no offer in DIR, or an\n"
    "internal error.\n";

static void print_hex_line(const char *name, const uint8_t *p, size_t n)
{
    printf("%s=", name);
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

/* The options of offer and answer: answer has no --identity (X_ID last). */
enum {
    C_KMS,
    C_STATE,
    C_SESSION,
    C_OUT,
    C_IN, /* offer: --peer; answer: --offer */
    C_PORT,
    C_EXTRA, /* offer: --policy; answer: --skew */
    C_TRACE,
    C_TIMEOUT,
    C_KCA,
    C_MODE,
    C_BSF,
    C_USIM,
    C_CA,
    C_FQDN,
    C_ID,
    C_N
};

/* Parses offer or answer into cfg; *done when the command ends here. */
static int parse_call(const char *prefix, int argc, char **argv, bool offer, struct cli_args *a,
                      struct kms_ue_kms_cfg *cfg, struct kms_httpc_busy *busy, uint16_t *port,
                      bool *done)
{
    const struct cli_opt opts[C_N] = {
        CLI_REQUIRED("kms"),
        CLI_REQUIRED("state"),
        CLI_REQUIRED("session"),
        CLI_REQUIRED("out"),
        CLI_REQUIRED(offer ? "peer" : "offer"),
        CLI_VALUE("port"),
        CLI_VALUE(offer ? "policy" : "skew"),
        CLI_VALUE("trace"),
        CLI_VALUE("timeout"),
        CLI_VALUE("kms-ca-file"),
        CLI_VALUE("mode"),
        CLI_VALUE("bsf"),
        CLI_VALUE("usim"),
        CLI_VALUE("ca-file"),
        CLI_VALUE("kms-fqdn"),
        CLI_VALUE("identity"), /* offer only */
    };
    size_t n_opts = offer ? C_N : C_ID;
    *done = true;
    int rc = cli_parse(prefix, opts, n_opts, 0, argc, argv, a);
    if (rc != 0 || a->help) {
        if (rc == 0) {
            fputs(offer ? offer_help : answer_help, stdout);
        }
        return rc;
    }
    rc = cli_require(a, opts, n_opts);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const char *url = a->val[C_KMS];
    if ((rc = ue_check_kms_url(a, url, a->val[C_KCA])) != CLI_EXIT_OK) {
        return rc;
    }
    uint64_t p = offer ? OFFER_PORT_DEFAULT : ANSWER_PORT_DEFAULT;
    if (!cli_uint(a->val[C_PORT], 1, 65535, &p)) {
        return cli_usage_error(a, "--port: 1 to 65535");
    }
    *port = (uint16_t)p;
    const char *m = a->val[C_MODE];
    if (m != NULL && strcmp(m, "1") != 0 && strcmp(m, "2") != 0 && strcmp(m, "3") != 0) {
        return cli_usage_error(a, "--mode: 1, 2 or 3");
    }
    bool mode1 = m != NULL && strcmp(m, "1") == 0;
    if (mode1 && (a->val[C_BSF] == NULL || a->val[C_USIM] == NULL)) {
        return cli_usage_error(a, "--mode 1 bootstraps afresh: give --bsf and --usim");
    }
    if (!mode1 && (a->seen[C_BSF] || a->seen[C_USIM] || a->seen[C_CA] || a->seen[C_FQDN] ||
                   (offer && a->seen[C_ID]))) {
        return cli_usage_error(a, "--bsf, --usim, --ca-file, --kms-fqdn and --identity are for "
                                  "--mode 1 (modes 2 and 3 use the Kue in --state)");
    }
    if (mode1 && strncmp(a->val[C_BSF], "http://", 7) != 0 &&
        strncmp(a->val[C_BSF], "https://", 8) != 0) {
        return cli_usage_error(a, "--bsf: an http:// or https:// URL");
    }
    if ((rc = ue_dir(a, "--state", a->val[C_STATE])) != CLI_EXIT_OK ||
        (rc = ue_dir(a, "--trace", a->val[C_TRACE])) != CLI_EXIT_OK) {
        return rc;
    }
    *cfg = (struct kms_ue_kms_cfg){.kms_url = url,
                                   .kms_fqdn = a->val[C_FQDN],
                                   .state_dir = a->val[C_STATE],
                                   .identity = offer ? a->val[C_ID] : NULL,
                                   .trace_dir = a->val[C_TRACE],
                                   .http = {.ca_file = a->val[C_CA], .busy = busy},
                                   .kms_ca_file = a->val[C_KCA],
                                   .mode = m != NULL ? (uint8_t)(m[0] - '0') : 0,
                                   .bsf_url = a->val[C_BSF],
                                   .usim_path = a->val[C_USIM]};
    if (!ue_timeout(a->val[C_TIMEOUT], &cfg->http)) {
        return cli_usage_error(a, "--timeout: seconds from 1 to 3600");
    }
    *done = false;
    return CLI_EXIT_OK;
}

/* "ADDR:PORT" of an SDP address, [v6]:port for IPv6. */
static bool addr_of(const char *host, uint16_t port, char *out, size_t cap)
{
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, cap, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
    return n > 0 && (size_t)n < cap;
}

/* The SDP in path, parsed, with the MIKEY message of its one audio line: KMS_ERR_* with a
 * one-line reason in *why. */
static kms_result read_sdp(const char *path, struct kms_sdp *s, const uint8_t **mikey,
                           size_t *mikey_len, char *remote, size_t cap, const char **why)
{
    uint8_t *img = NULL;
    size_t n = 0, eo = 0;
    kms_result rc = kms_file_read(path, KMS_SDP_MAX, false, &img, &n);
    *why = "cannot be read";
    if (kms_ok(rc)) {
        *why = "not an SDP we read";
        rc = kms_sdp_parse(img, n, s, &eo);
    }
    kms_file_free(img, n);
    if (!kms_ok(rc)) {
        return rc;
    }
    *why = "one m=audio line with RTP/SAVP and a c= address expected";
    if (s->n_media != 1 || strcmp(s->m[0].media, "audio") != 0 ||
        strcmp(s->m[0].proto, "RTP/SAVP") != 0 || s->m[0].port == 0 ||
        s->m[0].conn_addr[0] == '\0') {
        return (kms_result){KMS_ERR_UNSUPPORTED};
    }
    *why = "no a=key-mgmt:mikey attribute";
    rc = kms_sdp_mikey_for(s, 0, mikey, mikey_len);
    if (!kms_ok(rc)) {
        return (kms_result){KMS_ERR_MALFORMED};
    }
    *why = "address too long";
    if (!addr_of(s->m[0].conn_addr, s->m[0].port, remote, cap)) {
        return (kms_result){KMS_ERR_MALFORMED};
    }
    *why = NULL;
    return KMS_RESULT_OK;
}

static int sdp_fail(const struct cli_args *a, const char *opt, const char *path, const char *why,
                    kms_result r)
{
    fprintf(stderr, "%s: %s %s: %s (%s)\n", a->cmd, opt, path, why, kms_strerror(r.err));
    int st = kms_err_exit_status(r.err);
    return st == 3 && r.err != KMS_ERR_IO && r.err != KMS_ERR_NOT_FOUND ? st : 2;
}

/* Writes an SDP around mikey to path. */
static kms_result write_sdp(const char *path, uint16_t port, const uint8_t *mikey, size_t n)
{
    uint8_t id[8];
    KMS_TRY(kms_random(id, sizeof(id)));
    uint64_t sid = 0;
    for (size_t i = 0; i < 7; i++) { /* 56 bits: a positive decimal (RFC 4566 5.2) */
        sid = sid << 8 | id[i];
    }
    const struct kms_sdp_out o = {.addr = LOCAL_HOST,
                                  .port = port,
                                  .sess_id = sid,
                                  .sess_version = 1,
                                  .mikey = mikey,
                                  .mikey_len = n};
    struct kms_buf b;
    kms_buf_init(&b, 4 * KMS_SDP_KEYMGMT_MAX, false);
    kms_result rc = kms_sdp_write(&o, &b);
    if (kms_ok(rc)) {
        rc = kms_file_write_atomic(path, kms_buf_data(&b), kms_buf_len(&b));
    }
    kms_buf_cleanup(&b);
    return rc;
}

int ue_offer(const char *prefix, int argc, char **argv);

int ue_offer(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_ue_kms_cfg cfg;
    struct kms_httpc_busy busy = {0};
    uint16_t port = 0;
    bool done = false;
    int rc = parse_call(prefix, argc, argv, true, &a, &cfg, &busy, &port, &done);
    if (done) {
        return rc;
    }
    const struct kms_srtp_policy *p = a.val[C_EXTRA] != NULL
                                          ? kms_srtp_policy_by_name(a.val[C_EXTRA])
                                          : kms_srtp_policy_default();
    if (p == NULL) {
        return cli_usage_error(&a, "--policy: aes128-hmac80, aes256-hmac80 or aes128-gcm");
    }
    struct kms_ue_kms_names names = {{0}, {0}};
    cfg.names = &names;
    char local[KMS_MEDIA_ADDR_MAX];
    if (!addr_of(LOCAL_HOST, port, local, sizeof(local))) {
        return CLI_EXIT_INTERNAL;
    }
    uint8_t fp[KMS_UE_TGK_FP_LEN];
    struct kms_buf init;
    kms_buf_init(&init, 1u << 16, false);
    enum kms_call_part part = KMS_CALL_PART_NONE;
    kms_result r = kms_call_offer(&cfg, a.val[C_IN], p, local, a.val[C_SESSION], &init, fp, &part);
    if (!kms_ok(r)) {
        kms_buf_cleanup(&init);
        return part == KMS_CALL_PART_SESSION ? cli_fail(&a, "--session", r.err)
                                             : ue_kms_fail(&a, &cfg, "offer", r);
    }
    r = write_sdp(a.val[C_OUT], port, kms_buf_data(&init), kms_buf_len(&init));
    kms_buf_cleanup(&init);
    if (!kms_ok(r)) {
        return cli_fail(&a, "--out", r.err);
    }
    print_hex_line("tgk_fingerprint", fp, sizeof(fp));
    return CLI_EXIT_OK;
}

int ue_answer(const char *prefix, int argc, char **argv);

int ue_answer(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_ue_kms_cfg cfg;
    struct kms_httpc_busy busy = {0};
    uint16_t port = 0;
    bool done = false;
    int rc = parse_call(prefix, argc, argv, false, &a, &cfg, &busy, &port, &done);
    if (done) {
        return rc;
    }
    uint64_t skew = KMS_CALL_SKEW_DEFAULT;
    if (!cli_uint(a.val[C_EXTRA], 1, 86400, &skew)) {
        return cli_usage_error(&a, "--skew: seconds from 1 to 86400");
    }
    struct kms_ue_kms_names names = {{0}, {0}};
    cfg.names = &names;
    struct kms_sdp *s = calloc(1, sizeof(*s));
    struct kms_transfer *x = calloc(1, sizeof(*x));
    if (s == NULL || x == NULL) {
        free(s);
        free(x);
        return CLI_EXIT_INTERNAL;
    }
    const uint8_t *mikey = NULL;
    size_t mikey_len = 0, eo = 0;
    char remote[KMS_MEDIA_ADDR_MAX], local[KMS_MEDIA_ADDR_MAX];
    const char *why = NULL;
    const struct kms_srtp_policy *p = NULL;
    kms_result r = read_sdp(a.val[C_IN], s, &mikey, &mikey_len, remote, sizeof(remote), &why);
    if (!kms_ok(r)) {
        rc = sdp_fail(&a, "--offer", a.val[C_IN], why, r);
        goto out;
    }
    /* The offer's checks, each with its own words, before anything is asked or written. */
    r = kms_transfer_peek(mikey, mikey_len, x, &eo);
    if (!kms_ok(r)) {
        rc = sdp_fail(&a, "--offer", a.val[C_IN],
                      "its a=key-mgmt:mikey is no TRANSFER_INIT we read", r);
        goto out;
    }
    if (x->media.n_cs != s->n_media) {
        rc = sdp_fail(&a, "--offer", a.val[C_IN],
                      "the TRANSFER_INIT's crypto sessions do not match the media lines",
                      (kms_result){KMS_ERR_MALFORMED});
        goto out;
    }
    r = kms_call_check_transfer(x, &p);
    if (!kms_ok(r)) {
        bool flags = (x->ticket_flags & (KMS_MIKEY_TF_F | KMS_MIKEY_TF_G | KMS_MIKEY_TF_H)) !=
                         (KMS_MIKEY_TF_F | KMS_MIKEY_TF_G | KMS_MIKEY_TF_H) ||
                     (x->ticket_flags & KMS_TMSG_REFUSED_FLAGS) != 0;
        rc = sdp_fail(&a, "--offer", a.val[C_IN],
                      flags ? "ticket flags we cannot honour (F, G, H needed; I, L, M refused)"
                            : "an SRTP policy we do not support",
                      r);
        goto out;
    }
    if (!addr_of(LOCAL_HOST, port, local, sizeof(local))) {
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    const struct kms_call_answer_in in = {.init = mikey,
                                          .init_len = mikey_len,
                                          .local_addr = local,
                                          .remote_addr = remote,
                                          .session_dir = a.val[C_SESSION],
                                          .skew = skew};
    uint8_t tfp[KMS_UE_TGK_FP_LEN], sfp[KMS_MEDIA_FP_LEN];
    enum kms_call_part part = KMS_CALL_PART_NONE;
    struct kms_buf resp;
    kms_buf_init(&resp, 1u << 16, false);
    r = kms_call_answer(&cfg, &in, &resp, tfp, sfp, &part);
    if (kms_ok(r)) {
        r = write_sdp(a.val[C_OUT], port, kms_buf_data(&resp), kms_buf_len(&resp));
        part = kms_ok(r) ? KMS_CALL_PART_NONE : KMS_CALL_PART_ANSWER;
    }
    kms_buf_cleanup(&resp);
    if (kms_ok(r)) {
        print_hex_line("tgk_fingerprint", tfp, sizeof(tfp));
        print_hex_line("srtp_fingerprint", sfp, sizeof(sfp));
        rc = CLI_EXIT_OK;
        goto out;
    }
    switch (part) {
    case KMS_CALL_PART_NONE:
        rc = ue_kms_fail(&a, &cfg, "answer", r);
        break;
    case KMS_CALL_PART_OFFER:
        rc = sdp_fail(&a, "--offer", a.val[C_IN], "the TRANSFER_INIT", r);
        break;
    case KMS_CALL_PART_TRANSFER:
        rc = cli_fail(&a, "the transfer (TRANSFER_INIT in --offer)", r.err);
        break;
    case KMS_CALL_PART_FRESHNESS:
        rc = cli_fail(&a,
                      r.err == KMS_ERR_REPLAY    ? "the transfer (TRANSFER_INIT in --offer) was "
                                                   "accepted before"
                      : r.err == KMS_ERR_TS_SKEW ? "the transfer (TRANSFER_INIT in --offer)"
                                                 : "--state DIR/transfers",
                      r.err);
        break;
    case KMS_CALL_PART_ANSWER:
        rc = cli_fail(&a, "--out", r.err);
        break;
    default:
        rc = cli_fail(&a, "--session or --state", r.err);
        break;
    }
out:
    free(s);
    free(x);
    return rc;
}

int ue_accept(const char *prefix, int argc, char **argv);

int ue_accept(const char *prefix, int argc, char **argv)
{
    enum { A_SESSION, A_ANSWER, A_N };
    static const struct cli_opt opts[A_N] = {CLI_REQUIRED("session"), CLI_REQUIRED("answer")};
    struct cli_args a;
    int rc = cli_parse(prefix, opts, A_N, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(accept_help, stdout);
        }
        return rc;
    }
    rc = cli_require(&a, opts, A_N);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct kms_sdp *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CLI_EXIT_INTERNAL;
    }
    const uint8_t *mikey = NULL;
    size_t mikey_len = 0;
    char remote[KMS_MEDIA_ADDR_MAX];
    const char *why = NULL;
    kms_result r = read_sdp(a.val[A_ANSWER], s, &mikey, &mikey_len, remote, sizeof(remote), &why);
    if (!kms_ok(r)) {
        rc = sdp_fail(&a, "--answer", a.val[A_ANSWER], why, r);
        free(s);
        return rc;
    }
    uint8_t tfp[KMS_UE_TGK_FP_LEN], sfp[KMS_MEDIA_FP_LEN];
    enum kms_call_part part = KMS_CALL_PART_NONE;
    r = kms_call_accept(a.val[A_SESSION], mikey, mikey_len, remote, tfp, sfp, &part);
    free(s);
    if (kms_ok(r)) {
        print_hex_line("tgk_fingerprint", tfp, sizeof(tfp));
        print_hex_line("srtp_fingerprint", sfp, sizeof(sfp));
        return CLI_EXIT_OK;
    }
    if (part == KMS_CALL_PART_SSRC) {
        fprintf(stderr, "%s: --answer %s: the callee's SSRC equals ours (%s)\n", a.cmd,
                a.val[A_ANSWER], kms_strerror(r.err));
        return kms_err_exit_status(r.err);
    }
    if (part == KMS_CALL_PART_ANSWER) {
        return cli_fail(&a, "--answer: the TRANSFER_RESP", r.err);
    }
    if (r.err == KMS_ERR_NOT_FOUND) {
        fprintf(stderr, "%s: --session %s: no offer (DIR/offer) to accept\n", a.cmd,
                a.val[A_SESSION]);
        return kms_err_exit_status(r.err);
    }
    return cli_fail(&a, "--session", r.err);
}

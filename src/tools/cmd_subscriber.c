/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms subscriber: the BSF's subscriber store (add, list, del, set-sqn, export, import).
 * Every command opens the database named by --db, or a fleet's Redis named by --redis
 * (lib/gba/kms_bsf_redis.h), with the KEK in --kek-file; K, OP and OPc go in and are never
 * printed. export and import move the records with their keys still sealed
 * (lib/gba/kms_subfile.h). set-sqn with --sqn-db sets one BSF node's own SQN mark.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_bsf_redis.h"
#include "gba/kms_sqndb.h"
#include "gba/kms_subfile.h"
#include "gba/kms_subscriber.h"
#include "keyring/kms_keystore.h"
#include "util/kms_buf.h"
#include "util/kms_mem.h"

#define SUB_EXIT_NOTE                                                                              \
    "\nExit status: 0 success, 1 wrong KEK for this database, 2 bad usage (also: no such\n"        \
    "subscriber or database, IMPI taken, a KEK file not 32 bytes or not owner-only),\n"            \
    "3 internal, file system or database error.\n"

#define DB_OPTS_HELP                                                                               \
    "  --db PATH         the subscriber database (SQLite, mode 0600)\n"                            \
    "  --kek-file FILE   the KEK sealing K and OPc (32 bytes, mode 0600 or 0400)\n"                \
    "  --redis URL       instead of --db, a BSF fleet's Redis (redis://[USER@]HOST:PORT[/DB] or\n" \
    "                    unix://[USER@]/PATH[?db=N]; docs/scaling.md)\n"                           \
    "  --redis-password-file FILE\n"                                                               \
    "                    its AUTH password (an owner-only file)\n"

enum { O_DB, O_KEK, O_REDIS, O_RPASS, O_IMPI, O_SQN, O_SQNDB, O_IMPU, O_K, O_OP, O_OPC, O_AMF };
static const struct cli_opt opts[] = {
    CLI_VALUE("db"),   CLI_VALUE("kek-file"), CLI_VALUE("redis"),  CLI_VALUE("redis-password-file"),
    CLI_VALUE("impi"), CLI_VALUE("sqn"),      CLI_VALUE("sqn-db"), CLI_MULTI("impu"),
    CLI_VALUE("k"),    CLI_VALUE("op"),       CLI_VALUE("opc"),    CLI_VALUE("amf"),
};
/* Each command takes a prefix of opts: list the first 4, del 5, set-sqn 7, add all (but
 * --sqn-db). */
#define N_LIST   4
#define N_DEL    5
#define N_SETSQN 7
#define N_ADD    (sizeof(opts) / sizeof(opts[0]))

static const char add_help[] =
    "usage: imskms subscriber add (--db PATH | --redis URL) --kek-file FILE --impi ID\n"
    "                             --impu URI [--impu URI]... --k HEX (--op HEX | --opc HEX)\n"
    "                             [--amf HEX] [--sqn HEX]\n"
    "\n"
    "Adds a subscriber; creates the database (mode 0600) when it is missing. K and OPc are\n"
    "sealed under the KEK; with --op, OPc is derived (TS 35.206) and OP is not kept.\n"
    "\n" DB_OPTS_HELP
    "  --impi ID         private identity: 1..255 printable ASCII characters, no space\n"
    "  --impu URI        public identity (same rule), 1 to 8 of them, e.g. sip:alice@example.org\n"
    "  --k HEX           K, 16 bytes\n"
    "  --op HEX          OP, 16 bytes (or --opc HEX: OPc, 16 bytes)\n"
    "  --amf HEX         AMF, 2 bytes (default 0000)\n"
    "  --sqn HEX         the last SQN used, 6 bytes (default 000000000000): the BSF starts\n"
    "                    above it\n"
    "\n"
    "Prints impi= and sqn=. Never prints K, OP or OPc.\n" SUB_EXIT_NOTE;

static const char list_help[] = "usage: imskms subscriber list (--db PATH | --redis URL) "
                                "--kek-file FILE\n"
                                "\n"
                                "One line per subscriber, in IMPI order:\n"
                                "  impi=ID impus=URI[,URI]... amf=HEX sqn=HEX\n"
                                "sqn is the stored high-water mark (the highest SQN the BSF may "
                                "have used). Keys are\nnever printed.\n"
                                "\n" DB_OPTS_HELP SUB_EXIT_NOTE;

static const char del_help[] = "usage: imskms subscriber del (--db PATH | --redis URL) "
                               "--kek-file FILE --impi ID\n"
                               "\n"
                               "Deletes the subscriber. Prints deleted=ID.\n"
                               "\n" DB_OPTS_HELP SUB_EXIT_NOTE;

static const char setsqn_help[] =
    "usage: imskms subscriber set-sqn --db PATH --kek-file FILE --impi ID --sqn HEX\n"
    "       imskms subscriber set-sqn --sqn-db PATH --impi ID --sqn HEX\n"
    "\n"
    "Operator reset of the stored SQN mark to HEX (6 bytes), for a replaced USIM or a manual\n"
    "resynchronisation. It may LOWER the mark: a USIM that has seen a higher SQN then rejects\n"
    "the next challenge as stale and the BSF resynchronises (AUTS). A running BSF may keep\n"
    "using the range it has reserved already. Prints impi= and sqn=.\n"
    "With --redis, SQN marks are per BSF node (each node's --sqn-db; docs/scaling.md): set-sqn\n"
    "--redis is refused; give --sqn-db PATH of the node instead (no KEK needed). A node uses the\n"
    "higher of its own mark and the mark its subscriber's record was added or imported with.\n"
    "\n" DB_OPTS_HELP
    "  --sqn-db PATH     one BSF node's SQN marks (imskms-bsfd --sqn-db)\n" SUB_EXIT_NOTE;

/* An identity option, checked with the store's rule so that the error names the option. */
static int check_impi(const struct cli_args *a)
{
    const char *impi = a->val[O_IMPI];
    struct kms_subscriber s;
    if (impi == NULL) {
        return cli_missing(a, "impi");
    }
    memset(&s, 0, sizeof(s));
    s.n_impu = 1;
    s.impu[0][0] = 'x';
    size_t n = strlen(impi);
    if (n > KMS_SUBSCRIBER_ID_MAX) {
        return cli_fail(a, "--impi", KMS_ERR_TOO_LONG);
    }
    memcpy(s.impi, impi, n + 1);
    kms_result r = kms_subscriber_check(&s);
    return kms_ok(r) ? CLI_EXIT_OK : cli_fail(a, "--impi", r.err);
}

/* The 6-byte hex --sqn as an integer. */
static int parse_sqn(const struct cli_args *a, uint64_t *sqn)
{
    uint8_t b[KMS_AKA_SQN_LEN];
    *sqn = 0;
    if (a->val[O_SQN] == NULL) {
        return CLI_EXIT_OK;
    }
    int rc = cli_hex_exact(a, "sqn", a->val[O_SQN], b, sizeof(b));
    if (rc == CLI_EXIT_OK) {
        *sqn = kms_sqn_from_bytes(b);
    }
    return rc;
}

static void print_sqn(const char *name, uint64_t sqn)
{
    uint8_t b[KMS_AKA_SQN_LEN];
    kms_sqn_to_bytes(sqn, b);
    (void)cli_print_hex(name, b, sizeof(b));
}

/* A subscriber store: the SQLite database (--db) or a fleet's Redis (--redis). */
struct store {
    struct kms_subscriber_db *db;
    struct kms_redis *redis;
    struct kms_bsf_redis *br;
};

static void store_close(struct store *st)
{
    kms_subscriber_db_close(st->db);
    kms_bsf_redis_free(st->br);
    kms_redis_free(st->redis);
    memset(st, 0, sizeof(*st));
}

/* --redis URL [--redis-password-file FILE] (their indices in a's table) with the KEK; prints
 * why not. */
static int open_redis(const struct cli_args *a, int o_redis, int o_pass, struct store *st)
{
    const char *url = a->val[o_redis], *pass = a->val[o_pass];
    struct kms_redis_cfg cfg = {.password_file = pass};
    uint8_t kek[32];
    if (a->val[O_KEK] == NULL) {
        return cli_missing(a, "kek-file");
    }
    if (!kms_ok(kms_redis_url_parse(url, strlen(url), &cfg.url))) {
        return cli_usage_error(a, "--redis: expected redis://[USER@]HOST:PORT[/DB] or "
                                  "unix://[USER@]/PATH[?db=N]");
    }
    kms_result r = kms_redis_new(&cfg, &st->redis);
    if (!kms_ok(r)) {
        return cli_fail(a, pass != NULL ? "--redis-password-file" : "--redis", r.err);
    }
    char why[160] = "";
    r = kms_redis_check(st->redis, why, sizeof(why));
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: --redis %s: %s\n", a->cmd, url,
                why[0] != '\0' ? why : kms_strerror(r.err));
        store_close(st);
        return CLI_EXIT_INTERNAL;
    }
    r = kms_kek_read(a->val[O_KEK], kek);
    if (!kms_ok(r)) {
        kms_wipe(kek, sizeof(kek));
        store_close(st);
        return cli_fail(a, "--kek-file", r.err);
    }
    r = kms_bsf_redis_new(st->redis, kek, &st->br);
    kms_wipe(kek, sizeof(kek));
    if (!kms_ok(r)) {
        store_close(st);
        return cli_fail(a, "--redis", r.err);
    }
    return CLI_EXIT_OK;
}

/* Reads the KEK and opens the database; prints why not. */
static int open_db(const struct cli_args *a, bool create, struct kms_subscriber_db **db)
{
    uint8_t kek[32];
    const char *path = a->val[O_DB];
    *db = NULL;
    if (path == NULL) {
        return cli_missing(a, "db");
    }
    if (a->val[O_KEK] == NULL) {
        return cli_missing(a, "kek-file");
    }
    kms_result r = kms_kek_read(a->val[O_KEK], kek);
    if (kms_ok(r)) {
        errno = 0;
        r = kms_subscriber_db_open(path, kek, create, db);
    } else {
        kms_wipe(kek, sizeof(kek));
        return cli_fail(a, "--kek-file", r.err);
    }
    kms_wipe(kek, sizeof(kek));
    struct stat sb;
    switch (r.err) {
    case KMS_OK:
        return CLI_EXIT_OK;
    case KMS_ERR_NOT_FOUND:
        fprintf(stderr, "%s: --db %s: no such database (create one with 'imskms subscriber add')\n",
                a->cmd, path);
        return CLI_EXIT_USAGE;
    case KMS_ERR_AUTH:
        fprintf(stderr, "%s: --kek-file: not the KEK this database was created with\n", a->cmd);
        return CLI_EXIT_CHECK;
    case KMS_ERR_STORE:
        if (stat(path, &sb) == 0 && (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0)) {
            fprintf(stderr,
                    "%s: --db %s: must be a regular file of mode 0600 (no group or other "
                    "access)\n",
                    a->cmd, path);
            return CLI_EXIT_USAGE;
        }
        fprintf(stderr, "%s: --db %s: not a subscriber database this version reads, or %s\n",
                a->cmd, path, kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    default:
        return cli_fail(a, "--db", r.err);
    }
}

/* --db or --redis (one of them; --redis-password-file only with --redis): opens it. The
 * indices of --redis and its password file in a's table (export and import have their own). */
static int open_store_at(const struct cli_args *a, bool create, int o_redis, int o_pass,
                         struct store *st)
{
    memset(st, 0, sizeof(*st));
    if (a->val[o_redis] != NULL && a->val[O_DB] != NULL) {
        return cli_usage_error(a, "--db and --redis: give one subscriber store, not both");
    }
    if (a->val[o_redis] == NULL && a->val[o_pass] != NULL) {
        return cli_usage_error(a, "--redis-password-file: only with --redis");
    }
    if (a->val[o_redis] != NULL) {
        return open_redis(a, o_redis, o_pass, st);
    }
    return open_db(a, create, &st->db);
}

static int open_store(const struct cli_args *a, bool create, struct store *st)
{
    return open_store_at(a, create, O_REDIS, O_RPASS, st);
}

static int no_such(const struct cli_args *a)
{
    fprintf(stderr, "%s: --impi %s: no such subscriber\n", a->cmd, a->val[O_IMPI]);
    return CLI_EXIT_USAGE;
}

/* Fills s from the add options (keys included); prints why not. */
static int read_add_opts(const struct cli_args *a, struct kms_subscriber *s, uint64_t *sqn)
{
    int rc;
    uint8_t op[16];
    if ((rc = check_impi(a)) != 0) {
        return rc;
    }
    memcpy(s->impi, a->val[O_IMPI], strlen(a->val[O_IMPI]) + 1);
    if (a->n_multi[O_IMPU] == 0) {
        return cli_missing(a, "impu");
    }
    if (a->n_multi[O_IMPU] > KMS_SUBSCRIBER_IMPU_MAX) {
        return cli_usage_error(a, "--impu: at most 8 public identities");
    }
    for (size_t i = 0; i < a->n_multi[O_IMPU]; i++) {
        const char *u = a->multi[O_IMPU][i];
        if (strlen(u) > KMS_SUBSCRIBER_ID_MAX) {
            return cli_fail(a, "--impu", KMS_ERR_TOO_LONG);
        }
        memcpy(s->impu[i], u, strlen(u) + 1);
    }
    s->n_impu = a->n_multi[O_IMPU];
    kms_result r = kms_subscriber_check(s);
    if (!kms_ok(r)) {
        return r.err == KMS_ERR_ARG ? cli_usage_error(a, "--impu: the same identity given twice")
                                    : cli_fail(a, "--impu", r.err);
    }
    if ((rc = cli_hex_exact(a, "k", a->val[O_K], s->k, 16)) != 0) {
        return rc;
    }
    if (a->seen[O_OP] == a->seen[O_OPC]) {
        return cli_usage_error(a, "give exactly one of --op and --opc (see --help)");
    }
    if (a->seen[O_OPC]) {
        rc = cli_hex_exact(a, "opc", a->val[O_OPC], s->opc, 16);
    } else if ((rc = cli_hex_exact(a, "op", a->val[O_OP], op, 16)) == 0) {
        /* OPc = OP xor E_K(OP), TS 35.206 4.1 */
        struct kms_milenage *m = NULL;
        r = kms_milenage_new(&m);
        if (kms_ok(r)) {
            r = kms_milenage_set_key_op(m, s->k, op);
        }
        if (kms_ok(r)) {
            r = kms_milenage_get_opc(m, s->opc);
        }
        kms_milenage_free(m);
        rc = kms_ok(r) ? CLI_EXIT_OK : cli_fail(a, "--op", r.err);
    }
    kms_wipe(op, sizeof(op));
    if (rc != 0) {
        return rc;
    }
    if (a->val[O_AMF] != NULL &&
        (rc = cli_hex_exact(a, "amf", a->val[O_AMF], s->amf, sizeof(s->amf))) != 0) {
        return rc;
    }
    return parse_sqn(a, sqn);
}

static int sub_add(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_subscriber s;
    struct store st;
    uint64_t sqn = 0;
    int rc = cli_parse_help(prefix, opts, N_ADD, 0, argc, argv, add_help, &a);
    if (rc != 0 || a.help) {
        return rc;
    }
    if (a.seen[O_SQNDB]) {
        return cli_usage_error(&a, "--sqn-db: only for set-sqn");
    }
    memset(&s, 0, sizeof(s));
    if ((rc = read_add_opts(&a, &s, &sqn)) != 0 || (rc = open_store(&a, true, &st)) != 0) {
        kms_subscriber_wipe(&s);
        return rc;
    }
    kms_result r =
        st.br != NULL ? kms_bsf_redis_sub_add(st.br, &s, sqn) : kms_subscriber_add(st.db, &s, sqn);
    kms_subscriber_wipe(&s);
    store_close(&st);
    if (r.err == KMS_ERR_EXISTS) {
        fprintf(stderr, "%s: --impi %s: subscriber exists (delete it first)\n", a.cmd,
                a.val[O_IMPI]);
        return CLI_EXIT_USAGE;
    }
    if (!kms_ok(r)) {
        return cli_fail(&a, "add", r.err);
    }
    printf("impi=%s\n", a.val[O_IMPI]);
    print_sqn("sqn", sqn);
    return CLI_EXIT_OK;
}

static kms_result print_line(void *arg, const struct kms_subscriber_info *info)
{
    (void)arg;
    printf("impi=%s impus=", info->impi);
    for (size_t i = 0; i < info->n_impu; i++) {
        printf("%s%s", i > 0 ? "," : "", info->impu[i]);
    }
    uint8_t sqn[KMS_AKA_SQN_LEN];
    kms_sqn_to_bytes(info->sqn, sqn);
    printf(" amf=%02x%02x sqn=%02x%02x%02x%02x%02x%02x\n", info->amf[0], info->amf[1], sqn[0],
           sqn[1], sqn[2], sqn[3], sqn[4], sqn[5]);
    return (kms_result){KMS_OK};
}

static kms_result print_rec(void *arg, const struct kms_subscriber_rec *rec)
{
    return print_line(arg, &rec->info);
}

static int sub_list(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct store st;
    int rc = cli_parse_help(prefix, opts, N_LIST, 0, argc, argv, list_help, &a);
    if (rc != 0 || a.help || (rc = open_store(&a, false, &st)) != 0) {
        return rc;
    }
    kms_result r = st.br != NULL ? kms_bsf_redis_sub_list(st.br, print_rec, NULL)
                                 : kms_subscriber_list(st.db, print_line, NULL);
    store_close(&st);
    return kms_ok(r) ? CLI_EXIT_OK : cli_fail(&a, "list", r.err);
}

static int sub_del(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct store st;
    int rc = cli_parse_help(prefix, opts, N_DEL, 0, argc, argv, del_help, &a);
    if (rc != 0 || a.help || (rc = check_impi(&a)) != 0 || (rc = open_store(&a, false, &st)) != 0) {
        return rc;
    }
    kms_result r = st.br != NULL ? kms_bsf_redis_sub_del(st.br, a.val[O_IMPI])
                                 : kms_subscriber_del(st.db, a.val[O_IMPI]);
    store_close(&st);
    if (r.err == KMS_ERR_NOT_FOUND) {
        return no_such(&a);
    }
    if (!kms_ok(r)) {
        return cli_fail(&a, "del", r.err);
    }
    printf("deleted=%s\n", a.val[O_IMPI]);
    return CLI_EXIT_OK;
}

/* set-sqn --sqn-db: one node's own mark (no KEK: the file holds none). */
static int set_node_sqn(const struct cli_args *a, uint64_t sqn)
{
    struct kms_sqndb *sd = NULL;
    if (a->val[O_DB] != NULL || a->val[O_REDIS] != NULL) {
        return cli_usage_error(a, "--sqn-db: give it alone, without --db or --redis");
    }
    kms_result r = kms_sqndb_open(a->val[O_SQNDB], false, &sd);
    if (r.err == KMS_ERR_NOT_FOUND) {
        fprintf(stderr, "%s: --sqn-db %s: no such file (imskms-bsfd --sqn-db creates it)\n", a->cmd,
                a->val[O_SQNDB]);
        return CLI_EXIT_USAGE;
    }
    if (kms_ok(r)) {
        r = kms_sqndb_set(sd, a->val[O_IMPI], sqn);
    }
    kms_sqndb_close(sd);
    if (!kms_ok(r)) {
        return cli_fail(a, "--sqn-db", r.err);
    }
    printf("impi=%s\n", a->val[O_IMPI]);
    print_sqn("sqn", sqn);
    return CLI_EXIT_OK;
}

static int sub_set_sqn(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_subscriber_db *db = NULL;
    uint64_t sqn = 0;
    int rc = cli_parse_help(prefix, opts, N_SETSQN, 0, argc, argv, setsqn_help, &a);
    if (rc != 0 || a.help || (rc = check_impi(&a)) != 0) {
        return rc;
    }
    if (a.val[O_SQN] == NULL) {
        return cli_missing(&a, "sqn");
    }
    if ((rc = parse_sqn(&a, &sqn)) != 0) {
        return rc;
    }
    if (a.val[O_SQNDB] != NULL) {
        return set_node_sqn(&a, sqn);
    }
    if (a.val[O_REDIS] != NULL || a.val[O_RPASS] != NULL) {
        fprintf(stderr,
                "%s: --redis: SQN marks are per BSF node with --redis, each in the node's own "
                "--sqn-db (docs/scaling.md); give that node's --sqn-db PATH instead\n",
                a.cmd);
        return CLI_EXIT_USAGE;
    }
    if ((rc = open_db(&a, false, &db)) != 0) {
        return rc;
    }
    kms_result r = kms_subscriber_set_sqn(db, a.val[O_IMPI], sqn);
    kms_subscriber_db_close(db);
    if (r.err == KMS_ERR_NOT_FOUND) {
        return no_such(&a);
    }
    if (!kms_ok(r)) {
        return cli_fail(&a, "set-sqn", r.err);
    }
    printf("impi=%s\n", a.val[O_IMPI]);
    print_sqn("sqn", sqn);
    return CLI_EXIT_OK;
}

/* ---- export and import ---- */

/* --out (export) or --in (import) after --db and --kek-file, then --redis and its password */
enum { O_XFILE = 2, O_XREDIS, O_XRPASS };
static const struct cli_opt export_opts[] = {CLI_VALUE("db"), CLI_VALUE("kek-file"),
                                             CLI_VALUE("out"), CLI_VALUE("redis"),
                                             CLI_VALUE("redis-password-file")};
static const struct cli_opt import_opts[] = {CLI_VALUE("db"), CLI_VALUE("kek-file"),
                                             CLI_VALUE("in"), CLI_VALUE("redis"),
                                             CLI_VALUE("redis-password-file")};

#define XFER_NOTE                                                                                  \
    "The file format (docs/cli.md, \"Subscriber export\"; lib/gba/kms_subfile.h), version 1:\n"    \
    "  imskms-subscribers 1\n"                                                                     \
    "  impi=ID amf=HEX4 sqn=HEX12 sealed=HEX120 impu=URI [impu=URI]...   (one per subscriber)\n"   \
    "  end count=N\n"                                                                              \
    "K and OPc stay sealed under the KEK (sealed=): the file is as secret as the database and\n"   \
    "holds personal data (IMPIs, IMPUs). sqn= is the record's SQN mark and moves with it.\n"

static const char export_help[] =
    "usage: imskms subscriber export (--db PATH | --redis URL) --kek-file FILE [--out FILE]\n"
    "\n"
    "Writes every subscriber, in IMPI order, to FILE (created mode 0600; an existing file is\n"
    "refused) or to standard output. The keys are never opened: the KEK only opens the\n"
    "database (its KEK check). Prints exported=N (to standard error without --out).\n"
    "\n" DB_OPTS_HELP "  --out FILE        the export file (default: standard output)\n"
    "\n" XFER_NOTE SUB_EXIT_NOTE;

static const char import_help[] =
    "usage: imskms subscriber import (--db PATH | --redis URL) --kek-file FILE [--in FILE]\n"
    "\n"
    "Adds every subscriber of FILE (default: standard input) to the database (created when\n"
    "missing), in one transaction: all or nothing. With --redis the whole file is read and\n"
    "checked first, then each record is written (SET NX); on a failure the records this run\n"
    "wrote are deleted again, so it is all or nothing as well. Each record's sealed keys are\n"
    "opened under\n"
    "this KEK before anything is committed: a record sealed under another KEK (or altered)\n"
    "fails the import with exit status 1; an IMPI already in the database, or a line that is\n"
    "not of the format, with exit status 2 (the line is named). Each record keeps its SQN mark.\n"
    "Prints imported=N.\n"
    "\n" DB_OPTS_HELP "  --in FILE         the export file (default: standard input)\n"
    "\n" XFER_NOTE SUB_EXIT_NOTE;

struct xport {
    FILE *f;
    struct kms_buf b;
    uint64_t n;
};

static kms_result export_one(void *arg, const struct kms_subscriber_rec *rec)
{
    struct xport *x = arg;
    kms_buf_reset(&x->b);
    KMS_TRY(kms_subfile_put_rec(&x->b, rec));
    KMS_ENSURE(fwrite(kms_buf_data(&x->b), 1, kms_buf_len(&x->b), x->f) == kms_buf_len(&x->b),
               KMS_ERR_IO);
    x->n++;
    return KMS_RESULT_OK;
}

/* The header, the records, the end line, flushed (and synced, for a file). */
static kms_result export_all(const struct store *st, struct xport *x, bool sync)
{
    KMS_TRY(kms_subfile_put_header(&x->b));
    KMS_ENSURE(fwrite(kms_buf_data(&x->b), 1, kms_buf_len(&x->b), x->f) == kms_buf_len(&x->b),
               KMS_ERR_IO);
    KMS_TRY(st->br != NULL ? kms_bsf_redis_sub_list(st->br, export_one, x)
                           : kms_subscriber_export(st->db, export_one, x));
    kms_buf_reset(&x->b);
    KMS_TRY(kms_subfile_put_end(&x->b, x->n));
    KMS_ENSURE(fwrite(kms_buf_data(&x->b), 1, kms_buf_len(&x->b), x->f) == kms_buf_len(&x->b),
               KMS_ERR_IO);
    KMS_ENSURE(fflush(x->f) == 0, KMS_ERR_IO);
    KMS_ENSURE(!sync || fsync(fileno(x->f)) == 0, KMS_ERR_IO);
    return KMS_RESULT_OK;
}

static int sub_export(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct store st;
    struct xport x = {.f = stdout};
    int rc = cli_parse_help(prefix, export_opts, 5, 0, argc, argv, export_help, &a);
    if (rc != 0 || a.help || (rc = open_store_at(&a, false, O_XREDIS, O_XRPASS, &st)) != 0) {
        return rc;
    }
    const char *out = a.val[O_XFILE];
    if (out != NULL) {
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        x.f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (x.f == NULL) {
            fprintf(stderr, "%s: --out %s: %s\n", a.cmd, out, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            int e = errno;
            store_close(&st);
            return e == EEXIST ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
        }
    }
    kms_buf_init(&x.b, KMS_SUBFILE_LINE_MAX + 1, false);
    kms_result r = export_all(&st, &x, out != NULL);
    kms_buf_cleanup(&x.b);
    store_close(&st);
    if (out != NULL && fclose(x.f) != 0 && kms_ok(r)) {
        r = KMS_ERR(KMS_ERR_IO);
    }
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: export failed: %s%s\n", a.cmd, kms_strerror(r.err),
                out != NULL ? " (the file is incomplete: delete it)" : "");
        return CLI_EXIT_INTERNAL;
    }
    fprintf(out != NULL ? stdout : stderr, "exported=%llu\n", (unsigned long long)x.n);
    return CLI_EXIT_OK;
}

struct xin {
    FILE *f;
    struct kms_subfile_reader r;
    size_t line;      /* lines read */
    bool read_failed; /* the stream, not its content */
    char buf[KMS_SUBFILE_LINE_MAX + 1];
};

/* One line into x->buf without its "\n" (*len; *eof when nothing is left). A line longer than
 * the format allows is KMS_ERR_TOO_LONG; a last line without "\n" KMS_ERR_TRUNCATED. */
static kms_result read_line(struct xin *x, size_t *len, bool *eof)
{
    size_t n = 0;
    int ch;
    *len = 0;
    *eof = false;
    while ((ch = getc(x->f)) != EOF && ch != '\n') {
        KMS_ENSURE(n < sizeof(x->buf), KMS_ERR_TOO_LONG);
        x->buf[n++] = (char)ch;
    }
    if (ferror(x->f)) {
        x->read_failed = true;
        KMS_BAIL(KMS_ERR_IO);
    }
    if (ch == EOF) {
        KMS_ENSURE(n == 0, KMS_ERR_TRUNCATED);
        *eof = true;
        return KMS_RESULT_OK;
    }
    x->line++;
    *len = n;
    return KMS_RESULT_OK;
}

/* kms_subscriber_import's source: the next record line (header and end lines are checked and
 * passed over); done at the end of the stream, once the end line was read. */
static kms_result import_next(void *arg, struct kms_subscriber_rec *rec, bool *done)
{
    struct xin *x = arg;
    for (;;) {
        size_t len = 0;
        bool eof = false, is_rec = false;
        kms_result r = read_line(x, &len, &eof);
        if (kms_ok(r) && eof) {
            x->line++; /* a missing end line is reported on the line after the last */
            KMS_TRY(kms_subfile_finish(&x->r));
            *done = true;
            return KMS_RESULT_OK;
        }
        if (!kms_ok(r)) {
            x->line++;
            return r;
        }
        KMS_TRY(kms_subfile_feed(&x->r, (const uint8_t *)x->buf, len, rec, &is_rec));
        if (is_rec) {
            return KMS_RESULT_OK;
        }
    }
}

/* import --redis: every record read and checked first (the format, to the end line), then
 * written one by one; a failure deletes what this run wrote. *line is the failing record's. */
static kms_result import_redis(struct kms_bsf_redis *br, struct xin *x, uint64_t *count,
                               size_t *line)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_subscriber_rec *v = NULL;
    size_t *lines = NULL, n = 0, cap = 0, added = 0;
    bool done = false;
    *count = 0;
    while (!done) {
        if (n == cap) {
            cap = cap != 0 ? 2 * cap : 64;
            struct kms_subscriber_rec *nv = realloc(v, cap * sizeof(*nv));
            KMS_ENSURE_OUT(rc, nv != NULL, KMS_ERR_NOMEM);
            v = nv;
            size_t *nl = realloc(lines, cap * sizeof(*nl));
            KMS_ENSURE_OUT(rc, nl != NULL, KMS_ERR_NOMEM);
            lines = nl;
        }
        KMS_TRY_OUT(rc, import_next(x, &v[n], &done));
        lines[n] = x->line;
        n += done ? 0 : 1;
    }
    for (; added < n; added++) {
        *line = lines[added];
        *count = added;
        KMS_TRY_OUT(rc, kms_bsf_redis_sub_put(br, &v[added]));
    }
    *count = n;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        for (size_t i = 0; i < added; i++) {
            kms_result ignored = kms_bsf_redis_sub_del(br, v[i].info.impi);
            (void)ignored; /* best effort: the error reported is the first one */
        }
    }
    if (v != NULL) {
        kms_wipe(v, cap * sizeof(*v));
    }
    free(v);
    free(lines);
    return rc;
}

static int sub_import(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct store st;
    struct xin *x = NULL;
    int rc = cli_parse_help(prefix, import_opts, 5, 0, argc, argv, import_help, &a);
    if (rc != 0 || a.help) {
        return rc;
    }
    const char *in = a.val[O_XFILE];
    const char *name = in != NULL ? in : "(standard input)";
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return cli_fail(&a, "import", KMS_ERR_NOMEM);
    }
    x->f = in != NULL ? fopen(in, "re") : stdin;
    if (x->f == NULL) {
        fprintf(stderr, "%s: --in %s: %s\n", a.cmd, in, strerror(errno));
        free(x);
        return CLI_EXIT_USAGE;
    }
    kms_subfile_reader_init(&x->r);
    uint64_t n = 0;
    kms_result r = KMS_RESULT_OK;
    size_t line_at = 0;
    if ((rc = open_store_at(&a, true, O_XREDIS, O_XRPASS, &st)) == 0) {
        r = st.br != NULL ? import_redis(st.br, x, &n, &line_at)
                          : kms_subscriber_import(st.db, import_next, x, &n);
        if (st.br != NULL && line_at != 0 && !kms_ok(r) &&
            (r.err == KMS_ERR_AUTH || r.err == KMS_ERR_EXISTS)) {
            x->line = line_at; /* the record that failed, not the end of the file */
        }
        store_close(&st);
    }
    if (in != NULL) {
        (void)fclose(x->f);
    }
    size_t line = x->line;
    bool read_failed = x->read_failed;
    kms_wipe(x, sizeof(*x));
    free(x);
    if (rc != 0) {
        return rc;
    }
    if (kms_ok(r)) {
        printf("imported=%llu\n", (unsigned long long)n);
        return CLI_EXIT_OK;
    }
    switch (r.err) {
    case KMS_ERR_AUTH:
        fprintf(stderr,
                "%s: %s: line %zu: the record's keys do not open under this --kek-file (sealed "
                "under another KEK, or altered); nothing imported\n",
                a.cmd, name, line);
        return CLI_EXIT_CHECK;
    case KMS_ERR_EXISTS:
        fprintf(stderr, "%s: %s: line %zu: the IMPI is in %s %s already; nothing imported\n", a.cmd,
                name, line, a.val[O_DB] != NULL ? "--db" : "--redis",
                a.val[O_DB] != NULL ? a.val[O_DB] : a.val[O_XREDIS]);
        return CLI_EXIT_USAGE;
    case KMS_ERR_STORE:
    case KMS_ERR_NOMEM:
        return cli_fail(&a, "import", r.err);
    default:
        if (read_failed) {
            fprintf(stderr, "%s: %s: read error; nothing imported\n", a.cmd, name);
            return CLI_EXIT_INTERNAL;
        }
        fprintf(stderr, "%s: %s: line %zu: not a subscriber export line (%s); nothing imported\n",
                a.cmd, name, line, kms_strerror(r.err));
        return CLI_EXIT_USAGE;
    }
}

static const struct cli_cmd sub_cmds[] = {
    {"add", "add a subscriber (creates the database when missing)", sub_add},
    {"list", "every subscriber: IMPI, IMPUs, AMF, SQN mark (never keys)", sub_list},
    {"del", "delete a subscriber", sub_del},
    {"set-sqn", "operator reset of a subscriber's SQN mark (may lower it)", sub_set_sqn},
    {"export", "every subscriber to a file, keys still sealed (never opened)", sub_export},
    {"import", "subscribers from an export file, all or nothing, keys checked", sub_import},
};

int cmd_subscriber(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, sub_cmds, sizeof(sub_cmds) / sizeof(sub_cmds[0]), NULL, argc, argv);
}

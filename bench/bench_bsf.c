/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_bsf: complete GBA bootstraps per second against a running imskms-bsfd (Ub, HTTP Digest
 * AKAv1-MD5), beside the same client doing the same number of HTTP round trips against a static
 * baseline server (nginx) in the same run. bench/run_bsf.sh starts both servers and runs this.
 *
 * One bootstrap is both round trips of TS 24.109 A.3 with the UE's whole part of the protocol:
 *   1. GET / with Authorization: Digest username=IMPI, nonce="", response="" -> 401 with a
 *      challenge, parsed (kms_digest_parse_challenge), realm checked, nonce decoded;
 *   2. the simulated USIM: MAC-A checked (kms_milenage_check_autn) and SQN accepted into that
 *      UE's own SEQ_MS array (kms_sqn_ms_accept; a stale SQN is a failure: no resync here);
 *   3. GET / with the answer (response over RES, qop=auth-int) -> 200 with a BootstrappingInfo
 *      body; Authentication-Info parsed and its rspauth (XRES over the body) checked, the body
 *      parsed for the B-TID (kms_bsfinfo_parse).
 * The client is lean: everything in memory, one keep-alive HTTP/1.1 connection per thread over
 * a plain socket, the same code for both servers. A baseline "pair" is two GETs with
 * Authorization headers of the same sizes, of two small static files.
 *
 * Subscribers are ue<N>@bench.example.org, N = 0 .. --subscribers - 1, all with the K and OP
 * of TS 35.208 test set 1 (--setup-db creates such a store). The BSF lets an IMPI ask for a
 * small burst of challenges (5) and then one every 2 s, and every first challenge of an IMPI
 * since the daemon started reserves a range of 32 SQNs (a durable SQLite write). So the run
 * first bootstraps every IMPI once (the "cold" pass: one reservation each, reported on its own)
 * and then cycles through the IMPIs in the measured rounds; max_uses_per_impi and rate_limited
 * say whether an IMPI went over its burst.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_bsfinfo.h"
#include "gba/kms_digest.h"
#include "gba/kms_subscriber.h"
#include "keyring/kms_keystore.h"
#include "util/kms_codec.h"
#include "util/kms_mem.h"

const char bench_prog[] = "bench_bsf";

#define IMPI_FMT       "ue%u@bench.example.org"
#define MAX_THREADS    64
#define MAX_SUBS       60000 /* the BSF remembers 65536 IMPIs */
#define RX_CAP         16384
#define BASE_CHALLENGE "/ub-401.txt"
#define BASE_INFO      "/ub-200.xml"

/* TS 35.208 4.3 test set 1. */
static const uint8_t test_k[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                   0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t test_op[16] = {0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6,
                                    0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3, 0x18};

static const char usage_text[] =
    "usage: bench_bsf --bsf URL --baseline URL [--realm FQDN] [--threads T] [--subscribers N]\n"
    "                 [--seconds S] [--rounds R] [--bsf-pid PID] [--baseline-pid PID]\n"
    "       bench_bsf --setup-db PATH --kek-file FILE [--subscribers N]\n"
    "\n"
    "Complete GBA bootstraps (Ub, both round trips, AUTN and rspauth checked) per second against\n"
    "imskms-bsfd at --bsf, and the same client doing two GETs of small static files per 'pair'\n"
    "against --baseline (nginx), in interleaved rounds; figures are medians over the rounds and\n"
    "the ratio is taken per round. Normally run by bench/run_bsf.sh (see docs/performance.md).\n"
    "\n"
    "  --bsf URL           the BSF's Ub URL, http://127.0.0.1:PORT/\n"
    "  --baseline URL      the static server, http://127.0.0.1:PORT/ (serving " BASE_CHALLENGE
    " and\n"
    "                      " BASE_INFO ")\n"
    "  --realm FQDN        the realm the BSF must announce (default: bsf.bench.example.org)\n"
    "  --threads T         client threads, one connection each (default 4, 1..64)\n"
    "  --subscribers N     IMPIs ue0..ue<N-1>@bench.example.org (default 20000, 1..60000)\n"
    "  --seconds S         time per server per round (default 0.5, at most 60)\n"
    "  --rounds R          interleaved rounds (default 5, 1..101)\n"
    "  --bsf-pid PID       also report the BSF's CPU time per bootstrap (from /proc)\n"
    "  --baseline-pid PID  also report the baseline server's CPU time per pair\n"
    "  --setup-db PATH     create a subscriber store with the N subscribers (K, OP of TS 35.208\n"
    "                      test set 1), sealed under --kek-file, and exit\n"
    "Output: name=value lines; table lines start with '#'. Exit 0, 2 on bad usage, 3 when the\n"
    "setup or a connection fails. Failed bootstraps are counted (failures=), not fatal.\n";

/* ---- options ---- */

struct target {
    char host[64];
    char port[8];
    char path[256];
};

struct opts {
    const char *bsf_url, *base_url, *realm, *setup_db, *kek_file;
    struct target bsf, base;
    unsigned threads, subs, rounds;
    double seconds;
    long bsf_pid, base_pid;
};

static void bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s (try --help)\n", bench_prog, msg, arg ? ": " : "", arg ? arg : "");
    exit(BENCH_EXIT_USAGE);
}

static long num_arg(const char *name, const char *v, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        bad_usage(name, v);
    }
    return n;
}

/* http://HOST:PORT/PATH with a numeric or resolvable host. */
static void parse_url(const char *url, struct target *t)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0) {
        bad_usage("only http:// URLs", url);
    }
    p += 7;
    size_t h = strcspn(p, ":/");
    if (h == 0 || h >= sizeof(t->host) || p[h] != ':') {
        bad_usage("URL without host:port", url);
    }
    memcpy(t->host, p, h);
    t->host[h] = '\0';
    p += h + 1;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= sizeof(t->port)) {
        bad_usage("bad port in URL", url);
    }
    memcpy(t->port, p, n);
    t->port[n] = '\0';
    p += n;
    snprintf(t->path, sizeof(t->path), "%s", *p ? p : "/");
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->realm = "bsf.bench.example.org";
    o->threads = 4;
    o->subs = 20000;
    o->rounds = 5;
    o->seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            bad_usage("missing value or unknown argument", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--bsf") == 0) {
            o->bsf_url = v;
        } else if (strcmp(a, "--baseline") == 0) {
            o->base_url = v;
        } else if (strcmp(a, "--realm") == 0) {
            o->realm = v;
        } else if (strcmp(a, "--setup-db") == 0) {
            o->setup_db = v;
        } else if (strcmp(a, "--kek-file") == 0) {
            o->kek_file = v;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = (unsigned)num_arg("--threads wants 1..64", v, 1, MAX_THREADS);
        } else if (strcmp(a, "--subscribers") == 0) {
            o->subs = (unsigned)num_arg("--subscribers wants 1..60000", v, 1, MAX_SUBS);
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = (unsigned)num_arg("--rounds wants 1..101", v, 1, BENCH_MAX_ROUNDS);
        } else if (strcmp(a, "--bsf-pid") == 0) {
            o->bsf_pid = num_arg("--bsf-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--baseline-pid") == 0) {
            o->base_pid = num_arg("--baseline-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--seconds") == 0) {
            char *end = NULL;
            double d = strtod(v, &end);
            if (end == v || *end != '\0' || !(d > 0 && d <= BENCH_MAX_SECONDS)) {
                bad_usage("--seconds wants a number in (0, 60]", v);
            }
            o->seconds = d;
        } else {
            bad_usage("unknown argument", a);
        }
    }
    if (o->setup_db != NULL) {
        if (o->kek_file == NULL) {
            bad_usage("--setup-db needs --kek-file", NULL);
        }
        return;
    }
    if (o->bsf_url == NULL || o->base_url == NULL) {
        bad_usage("--bsf and --baseline are required", NULL);
    }
    parse_url(o->bsf_url, &o->bsf);
    parse_url(o->base_url, &o->base);
}

/* ---- the subscriber store ---- */

static int setup_db(const struct opts *o)
{
    uint8_t kek[32];
    struct kms_subscriber_db *db = NULL;
    struct kms_milenage *m = NULL;
    struct kms_subscriber s;
    bench_check(kms_kek_read(o->kek_file, kek), "--kek-file");
    bench_check(kms_subscriber_db_open(o->setup_db, kek, true, &db), "subscriber store");
    kms_wipe(kek, sizeof(kek));
    bench_check(kms_milenage_new(&m), "milenage");
    bench_check(kms_milenage_set_key_op(m, test_k, test_op), "milenage key");
    memset(&s, 0, sizeof(s));
    memcpy(s.k, test_k, sizeof(s.k));
    bench_check(kms_milenage_get_opc(m, s.opc), "OPc");
    s.n_impu = 1;
    for (unsigned i = 0; i < o->subs; i++) {
        snprintf(s.impi, sizeof(s.impi), IMPI_FMT, i);
        snprintf(s.impu[0], sizeof(s.impu[0]), "sip:ue%u@bench.example.org", i);
        bench_check(kms_subscriber_add(db, &s, 0), "subscriber add");
    }
    kms_subscriber_wipe(&s);
    kms_milenage_free(m);
    kms_subscriber_db_close(db);
    printf("subscribers=%u\n", o->subs);
    return 0;
}

/* ---- a keep-alive HTTP/1.1 client over a plain socket ---- */

struct conn {
    int fd;
    const struct target *t;
    char rx[RX_CAP + 1];
    size_t have; /* bytes in rx */
};

struct resp {
    int status;
    const char *www_auth, *auth_info; /* NUL-terminated, in rx; NULL when absent */
    const uint8_t *body;
    size_t body_len;
    size_t used; /* bytes of rx this response took */
};

static int conn_open(struct conn *c, const struct target *t)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    c->fd = -1;
    c->t = t;
    c->have = 0;
    if (getaddrinfo(t->host, t->port, &hints, &ai) != 0) {
        return -1;
    }
    for (struct addrinfo *p = ai; p != NULL && c->fd < 0; p = p->ai_next) {
        int fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            c->fd = fd;
        } else {
            close(fd);
        }
    }
    freeaddrinfo(ai);
    return c->fd >= 0 ? 0 : -1;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

/* Finds "name: value" among the header lines in [p, end) (each ended by NUL after parsing). */
static bool header_is(const char *line, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':') {
        return false;
    }
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    *value = v;
    return true;
}

/* Parses a complete header block in c->rx[0 .. hdr_end) in place. -1 on a malformed one. */
static int parse_head(struct conn *c, size_t hdr_end, struct resp *r, size_t *clen)
{
    char *p = c->rx, *end = c->rx + hdr_end;
    const char *v = NULL;
    bool have_len = false;
    *clen = 0;
    if (hdr_end < 12 || strncmp(p, "HTTP/1.", 7) != 0) {
        return -1;
    }
    r->status = atoi(p + 9);
    while (p < end) {
        char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL || eol + 1 >= end || eol[1] != '\n') {
            return -1;
        }
        *eol = '\0';
        if (header_is(p, "Content-Length", &v)) {
            *clen = strtoul(v, NULL, 10);
            have_len = true;
        } else if (header_is(p, "WWW-Authenticate", &v)) {
            r->www_auth = v;
        } else if (header_is(p, "Authentication-Info", &v)) {
            r->auth_info = v;
        } else if (header_is(p, "Transfer-Encoding", &v)) {
            return -1; /* neither server chunks a fixed body */
        }
        p = eol + 2;
    }
    return have_len ? 0 : -1;
}

/* One GET on the connection; the response is in c->rx until the next call. 0 or -1. */
static int http_get(struct conn *c, const char *path, const char *authorization, struct resp *r)
{
    char req[KMS_DIGEST_HEADER_MAX];
    /* Drop the previous response (there is no pipelining: nothing else can follow it). */
    c->have = 0;
    memset(r, 0, sizeof(*r));
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: %s\r\n\r\n",
                 path, c->t->host, c->t->port, authorization);
    if (n <= 0 || (size_t)n >= sizeof(req)) {
        return -1;
    }
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = send(c->fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        off += (size_t)w;
    }
    size_t hdr_end = 0, clen = 0;
    bool head = false;
    for (;;) {
        if (!head) {
            c->rx[c->have] = '\0';
            char *e = strstr(c->rx, "\r\n\r\n");
            if (e != NULL) {
                hdr_end = (size_t)(e - c->rx) + 2; /* keep the last header's CRLF */
                if (parse_head(c, hdr_end, r, &clen) != 0 || clen > RX_CAP - hdr_end - 2) {
                    return -1;
                }
                head = true;
            }
        }
        if (head && c->have >= hdr_end + 2 + clen) {
            break;
        }
        if (c->have >= RX_CAP) {
            return -1;
        }
        ssize_t got = recv(c->fd, c->rx + c->have, RX_CAP - c->have, 0);
        if (got <= 0) {
            return -1;
        }
        c->have += (size_t)got;
    }
    r->body = (const uint8_t *)c->rx + hdr_end + 2;
    r->body_len = clen;
    r->used = hdr_end + 2 + clen;
    return 0;
}

/* ---- the run ---- */

struct ue {
    atomic_flag busy;
    uint32_t uses;
    struct kms_sqn_ms sqn;
};

enum fail_kind {
    F_HTTP,    /* connection or framing */
    F_RATE,    /* 429 */
    F_STATUS,  /* another unexpected status */
    F_PROTO,   /* a header or body that does not parse, a realm that differs */
    F_MAC,     /* MAC-A did not verify */
    F_SQN,     /* the SQN was not fresh */
    F_RSPAUTH, /* rspauth did not verify */
    F_N
};

static const char *const fail_names[F_N] = {"http",  "rate_limited", "status", "protocol",
                                            "mac_a", "sqn",          "rspauth"};

struct shared {
    const struct opts *o;
    struct ue *ues;
    atomic_uint_fast64_t next_ue;
    atomic_bool stop;
    atomic_uint_fast64_t limit; /* the cold pass: stop after this many UEs were handed out */
    pthread_barrier_t start;
    bool baseline;
    uint64_t ok[MAX_THREADS], fail[MAX_THREADS][F_N];
    char base_auth1[512], base_auth2[512];
};

struct worker {
    struct shared *sh;
    unsigned idx;
    struct conn conn;
    struct kms_milenage *m;
    uint64_t cnonce_ctr;
    int conn_err;
};

/* Takes the next UE that no other thread holds; -1 once the cold pass has handed out all. */
static long take_ue(struct shared *sh)
{
    for (;;) {
        uint64_t i = atomic_fetch_add(&sh->next_ue, 1);
        uint64_t lim = atomic_load(&sh->limit);
        if (lim != 0 && i >= lim) {
            return -1;
        }
        struct ue *u = &sh->ues[i % sh->o->subs];
        if (!atomic_flag_test_and_set(&u->busy)) {
            return (long)(i % sh->o->subs);
        }
    }
}

/* One complete bootstrap of UE i. Returns F_N on success, else the failure kind. */
static enum fail_kind bootstrap(struct worker *w, unsigned i)
{
    const struct opts *o = w->sh->o;
    struct ue *u = &w->sh->ues[i];
    char impi[64], auth[KMS_DIGEST_HEADER_MAX], cnonce[17], response[KMS_DIGEST_HEX_BUF];
    char want[KMS_DIGEST_HEX_BUF], nonce[KMS_DIGEST_VALUE_MAX + 1],
        opaque[KMS_DIGEST_VALUE_MAX + 1];
    struct kms_digest_params ch, info;
    struct kms_aka_vec v;
    struct resp r;
    uint8_t rand[16], autn[16], sqn[6], sd[KMS_DIGEST_SERVER_DATA_MAX];
    size_t sd_len = 0;
    snprintf(impi, sizeof(impi), IMPI_FMT, i);
    u->uses++;

    /* 1. Ask for a challenge. */
    snprintf(auth, sizeof(auth),
             "Digest username=\"%s\", realm=\"%s\", nonce=\"\", uri=\"%s\", response=\"\"", impi,
             o->realm, o->bsf.path);
    if (http_get(&w->conn, o->bsf.path, auth, &r) != 0) {
        return F_HTTP;
    }
    if (r.status != 401) {
        return r.status == 429 ? F_RATE : F_STATUS;
    }
    if (r.www_auth == NULL ||
        !kms_ok(kms_digest_parse_challenge(r.www_auth, strlen(r.www_auth), &ch)) ||
        strcmp(kms_digest_get(&ch, KMS_DIGEST_REALM), o->realm) != 0) {
        return F_PROTO;
    }
    snprintf(nonce, sizeof(nonce), "%s", kms_digest_get(&ch, KMS_DIGEST_NONCE));
    const char *op = kms_digest_get(&ch, KMS_DIGEST_OPAQUE);
    snprintf(opaque, sizeof(opaque), "%s", op != NULL ? op : "");
    if (!kms_ok(
            kms_digest_nonce_decode(nonce, strlen(nonce), rand, autn, sd, sizeof(sd), &sd_len))) {
        return F_PROTO;
    }

    /* 2. The USIM: MAC-A, then freshness into this UE's SEQ_MS array. */
    if (!kms_ok(kms_milenage_check_autn(w->m, rand, autn, sqn, &v))) {
        return F_MAC;
    }
    if (!kms_ok(kms_sqn_ms_accept(&u->sqn, kms_sqn_from_bytes(sqn)))) {
        kms_wipe(&v, sizeof(v));
        return F_SQN;
    }

    /* 3. The answer: response over RES (A2 = GET:uri:MD5(empty body)). */
    snprintf(cnonce, sizeof(cnonce), "%02x%014llx", w->idx & 0xff,
             (unsigned long long)(++w->cnonce_ctr & 0xffffffffffffffULL));
    struct kms_digest_req q = {
        .username = impi,
        .realm = o->realm,
        .nonce = nonce,
        .uri = o->bsf.path,
        .qop = "auth-int",
        .nc = "00000001",
        .cnonce = cnonce,
        .method = "GET",
    };
    enum fail_kind rc = F_N;
    if (!kms_ok(kms_digest_response(v.res, sizeof(v.res), &q, response))) {
        rc = F_PROTO;
        goto out;
    }
    snprintf(auth, sizeof(auth),
             "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", "
             "algorithm=AKAv1-MD5, qop=auth-int, nc=00000001, cnonce=\"%s\"%s%s%s",
             impi, o->realm, nonce, o->bsf.path, response, cnonce, op != NULL ? ", opaque=\"" : "",
             op != NULL ? opaque : "", op != NULL ? "\"" : "");
    if (http_get(&w->conn, o->bsf.path, auth, &r) != 0) {
        rc = F_HTTP;
        goto out;
    }
    if (r.status != 200) {
        rc = r.status == 429 ? F_RATE : F_STATUS;
        goto out;
    }

    /* 4. rspauth: XRES over the 200 body (A2 = ":" uri ":" MD5(body)); then the B-TID. */
    const char *nc = NULL, *cn = NULL, *got = NULL;
    if (r.auth_info == NULL ||
        !kms_ok(kms_digest_parse_info(r.auth_info, strlen(r.auth_info), &info)) ||
        (nc = kms_digest_get(&info, KMS_DIGEST_NC)) == NULL ||
        (cn = kms_digest_get(&info, KMS_DIGEST_CNONCE)) == NULL ||
        (got = kms_digest_get(&info, KMS_DIGEST_RSPAUTH)) == NULL) {
        rc = F_PROTO;
        goto out;
    }
    q.method = "";
    q.body = r.body;
    q.body_len = r.body_len;
    if (strcmp(nc, "00000001") != 0 || strcmp(cn, cnonce) != 0 ||
        !kms_ok(kms_digest_rspauth(v.res, sizeof(v.res), &q, want)) ||
        !kms_digest_hex_eq(want, got)) {
        rc = F_RSPAUTH;
        goto out;
    }
    char btid[KMS_BTID_MAX];
    uint64_t lifetime = 0;
    if (!kms_ok(kms_bsfinfo_parse(r.body, r.body_len, btid, sizeof(btid), &lifetime))) {
        rc = F_PROTO;
    }
out:
    kms_wipe(&v, sizeof(v));
    return rc;
}

/* One baseline pair: two GETs with Authorization headers of a bootstrap's sizes. */
static enum fail_kind pair(struct worker *w)
{
    const struct opts *o = w->sh->o;
    struct resp r;
    if (http_get(&w->conn, BASE_CHALLENGE, w->sh->base_auth1, &r) != 0) {
        return F_HTTP;
    }
    if (r.status != 200 || r.body_len == 0) {
        return F_STATUS;
    }
    if (http_get(&w->conn, BASE_INFO, w->sh->base_auth2, &r) != 0) {
        return F_HTTP;
    }
    (void)o;
    return r.status == 200 && r.body_len > 0 ? F_N : F_STATUS;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    const struct target *t = sh->baseline ? &sh->o->base : &sh->o->bsf;
    w->conn_err = conn_open(&w->conn, t);
    pthread_barrier_wait(&sh->start);
    while (w->conn_err == 0 && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        enum fail_kind f;
        long ue = -1;
        if (sh->baseline) {
            f = pair(w);
        } else {
            ue = take_ue(sh);
            if (ue < 0) {
                break; /* the cold pass is done */
            }
            f = bootstrap(w, (unsigned)ue);
            atomic_flag_clear(&sh->ues[ue].busy);
        }
        if (f == F_N) {
            if (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
                sh->ok[w->idx]++;
            }
        } else {
            sh->fail[w->idx][f]++;
            if (f == F_HTTP) {
                /* The connection is in an unknown state: a new one. */
                conn_close(&w->conn);
                w->conn_err = conn_open(&w->conn, t);
            }
        }
    }
    conn_close(&w->conn);
    return NULL;
}

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system, all threads) of another process, or -1. */
static double proc_cpu(long pid)
{
    if (pid <= 0) {
        return -1;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime (fields 3 .. 15). */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return -1;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct phase_result {
    double ops_per_s;
    uint64_t ok, fail[F_N];
    double server_cpu, client_cpu, elapsed;
};

/* Runs T threads against one server for `seconds` (or, with limit, until limit UEs were
 * handed out). */
static void run_phase(struct shared *sh, bool baseline, double seconds, uint64_t limit,
                      struct phase_result *out)
{
    const struct opts *o = sh->o;
    struct worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    memset(out, 0, sizeof(*out));
    memset(sh->ok, 0, sizeof(sh->ok));
    memset(sh->fail, 0, sizeof(sh->fail));
    sh->baseline = baseline;
    atomic_store(&sh->stop, false);
    atomic_store(&sh->limit, limit);
    if (limit != 0) {
        atomic_store(&sh->next_ue, 0);
    }
    pthread_barrier_init(&sh->start, NULL, o->threads + 1);
    for (unsigned i = 0; i < o->threads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].sh = sh;
        w[i].idx = i;
        w[i].cnonce_ctr = 0;
        bench_check(kms_milenage_new(&w[i].m), "milenage");
        bench_check(kms_milenage_set_key_op(w[i].m, test_k, test_op), "milenage key");
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            bench_fail("pthread_create failed");
        }
    }
    long pid = baseline ? o->base_pid : o->bsf_pid;
    pthread_barrier_wait(&sh->start);
    double s0 = proc_cpu(pid), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now_s(CLOCK_MONOTONIC);
    if (limit == 0) {
        struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (nanosleep(&d, &d) != 0 && errno == EINTR) {
        }
        atomic_store(&sh->stop, true);
    }
    double t1 = 0, s1 = 0, c1 = 0;
    if (limit == 0) {
        t1 = now_s(CLOCK_MONOTONIC);
        s1 = proc_cpu(pid);
        c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    }
    for (unsigned i = 0; i < o->threads; i++) {
        pthread_join(th[i], NULL);
        kms_milenage_free(w[i].m);
        if (w[i].conn_err != 0) {
            bench_fail("cannot connect to %s:%s", baseline ? o->base.host : o->bsf.host,
                       baseline ? o->base.port : o->bsf.port);
        }
    }
    if (limit != 0) {
        t1 = now_s(CLOCK_MONOTONIC);
        s1 = proc_cpu(pid);
        c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    }
    pthread_barrier_destroy(&sh->start);
    for (unsigned i = 0; i < o->threads; i++) {
        out->ok += sh->ok[i];
        for (int f = 0; f < F_N; f++) {
            out->fail[f] += sh->fail[i][f];
        }
    }
    out->elapsed = t1 - t0;
    out->ops_per_s = (double)out->ok / out->elapsed;
    out->server_cpu = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1;
    out->client_cpu = c1 - c0;
}

static uint64_t fail_total(const struct phase_result *p)
{
    uint64_t n = 0;
    for (int f = 0; f < F_N; f++) {
        n += p->fail[f];
    }
    return n;
}

static void base_headers(struct shared *sh)
{
    /* The same shapes and sizes as a bootstrap's two Authorization headers. */
    const struct opts *o = sh->o;
    snprintf(sh->base_auth1, sizeof(sh->base_auth1),
             "Digest username=\"ue0@bench.example.org\", realm=\"%s\", nonce=\"\", uri=\"/\", "
             "response=\"\"",
             o->realm);
    snprintf(sh->base_auth2, sizeof(sh->base_auth2),
             "Digest username=\"ue0@bench.example.org\", realm=\"%s\", "
             "nonce=\"%.88s\", uri=\"/\", response=\"%.32s\", algorithm=AKAv1-MD5, "
             "qop=auth-int, nc=00000001, cnonce=\"%.16s\", opaque=\"%.16s\"",
             o->realm,
             "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk"
             "rLzAx",
             "0123456789abcdef0123456789abcdef", "0000000000000001", "0123456789abcdef");
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_args(argc, argv, &o);
    if (o.setup_db != NULL) {
        return setup_db(&o);
    }
    struct shared *sh = calloc(1, sizeof(*sh));
    struct ue *ues = calloc(o.subs, sizeof(*ues));
    if (sh == NULL || ues == NULL) {
        bench_fail("out of memory");
    }
    sh->o = &o;
    sh->ues = ues;
    for (unsigned i = 0; i < o.subs; i++) {
        atomic_flag_clear(&ues[i].busy);
        bench_check(kms_sqn_ms_init(&ues[i].sqn, KMS_SQN_IND_BITS_DEF, KMS_SQN_DELTA_DEF, 0),
                    "sqn");
    }
    base_headers(sh);

    /* The cold pass: every IMPI bootstraps once (its first challenge reserves SQNs). */
    struct phase_result cold;
    run_phase(sh, false, 0, o.subs, &cold);
    uint64_t fails = fail_total(&cold), rate_limited = cold.fail[F_RATE];

    const unsigned n = o.rounds;
    double bsf[BENCH_MAX_ROUNDS], base[BENCH_MAX_ROUNDS], ratio[BENCH_MAX_ROUNDS];
    double bsf_cpu = 0, base_cpu = 0, bsf_ccpu = 0, base_ccpu = 0;
    uint64_t bsf_ops = 0, base_ops = 0, fail_kinds[F_N] = {0};
    bool cpu_ok = true;
    atomic_store(&sh->next_ue, 0);
    for (unsigned r = 0; r < n; r++) {
        struct phase_result pb, pn;
        /* Alternate which server goes first. */
        for (int k = 0; k < 2; k++) {
            bool baseline = (k == 0) == (r % 2 == 1);
            struct phase_result *p = baseline ? &pn : &pb;
            run_phase(sh, baseline, o.seconds, 0, p);
            for (int f = 0; f < F_N; f++) {
                fail_kinds[f] += p->fail[f];
            }
            fails += fail_total(p);
            rate_limited += p->fail[F_RATE];
        }
        bsf[r] = pb.ops_per_s;
        base[r] = pn.ops_per_s;
        ratio[r] = pb.ops_per_s / pn.ops_per_s;
        bsf_ops += pb.ok;
        base_ops += pn.ok;
        cpu_ok = cpu_ok && pb.server_cpu >= 0 && pn.server_cpu >= 0;
        bsf_cpu += pb.server_cpu;
        base_cpu += pn.server_cpu;
        bsf_ccpu += pb.client_cpu;
        base_ccpu += pn.client_cpu;
        fprintf(stderr, "%s: round %u: %.0f bootstraps/s, %.0f pairs/s, ratio %.3f\n", bench_prog,
                r + 1, pb.ops_per_s, pn.ops_per_s, ratio[r]);
    }
    uint32_t max_uses = 0;
    for (unsigned i = 0; i < o.subs; i++) {
        max_uses = ues[i].uses > max_uses ? ues[i].uses : max_uses;
    }

    printf("# %s: %u rounds x %g s per server, %u client threads, %u subscribers\n", bench_prog, n,
           o.seconds, o.threads, o.subs);
    printf("# BSF bootstraps/s     %10.0f  (rounds %.0f..%.0f)\n", bench_median(bsf, (int)n),
           bench_min(bsf, (int)n), bench_max(bsf, (int)n));
    printf("# baseline pairs/s     %10.0f  (rounds %.0f..%.0f)\n", bench_median(base, (int)n),
           bench_min(base, (int)n), bench_max(base, (int)n));
    printf("# ratio BSF/baseline   %10.4f  (rounds %.4f..%.4f)\n", bench_median(ratio, (int)n),
           bench_min(ratio, (int)n), bench_max(ratio, (int)n));
    printf("# cold pass (first bootstrap of each IMPI): %.0f bootstraps/s\n", cold.ops_per_s);
    printf("threads=%u\nsubscribers=%u\nseconds_per_phase=%g\nrounds=%u\n", o.threads, o.subs,
           o.seconds, n);
    printf("bootstraps_per_s=%.0f\nbootstraps_per_s_min=%.0f\nbootstraps_per_s_max=%.0f\n",
           bench_median(bsf, (int)n), bench_min(bsf, (int)n), bench_max(bsf, (int)n));
    printf("baseline_pairs_per_s=%.0f\nbaseline_pairs_per_s_min=%.0f\n"
           "baseline_pairs_per_s_max=%.0f\n",
           bench_median(base, (int)n), bench_min(base, (int)n), bench_max(base, (int)n));
    printf("ratio=%.4f\nratio_min=%.4f\nratio_max=%.4f\n", bench_median(ratio, (int)n),
           bench_min(ratio, (int)n), bench_max(ratio, (int)n));
    printf("cold_bootstraps=%llu\ncold_bootstraps_per_s=%.0f\n", (unsigned long long)cold.ok,
           cold.ops_per_s);
    if (cold.server_cpu >= 0 && cold.ok > 0) {
        printf("cold_bsf_cpu_us_per_bootstrap=%.1f\n", cold.server_cpu * 1e6 / (double)cold.ok);
    }
    if (cpu_ok && bsf_ops > 0 && base_ops > 0) {
        double b = bsf_cpu * 1e6 / (double)bsf_ops, p = base_cpu * 1e6 / (double)base_ops;
        printf("bsf_cpu_us_per_bootstrap=%.1f\nbaseline_cpu_us_per_pair=%.1f\ncpu_ratio=%.2f\n", b,
               p, b / p);
    }
    if (bsf_ops > 0 && base_ops > 0) {
        printf("client_cpu_us_per_bootstrap=%.1f\nclient_cpu_us_per_pair=%.1f\n",
               bsf_ccpu * 1e6 / (double)bsf_ops, base_ccpu * 1e6 / (double)base_ops);
    }
    printf("max_uses_per_impi=%u\n", max_uses);
    /* Every bootstrap holds one of the BSF's 100000 session slots for --lifetime. */
    printf("sessions_created=%llu\n", (unsigned long long)(cold.ok + bsf_ops));
    printf("failures=%llu\n", (unsigned long long)fails);
    printf("rate_limited=%llu\n", (unsigned long long)rate_limited);
    for (int f = 0; f < F_N; f++) {
        if (f != F_RATE && (fail_kinds[f] != 0 || cold.fail[f] != 0)) {
            printf("failures_%s=%llu\n", fail_names[f],
                   (unsigned long long)(fail_kinds[f] + cold.fail[f]));
        }
    }
    free(ues);
    free(sh);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The load generators' HTTP client, Ub bootstrap and /proc readings: see bench_http.h. */
#include "bench_http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "gba/kms_bsfinfo.h"
#include "gba/kms_digest.h"
#include "gba/kms_subscriber.h"
#include "keyring/kms_keystore.h"
#include "util/kms_mem.h"

const char *const bench_fail_names[BENCH_F_N] = {"http",  "rate_limited", "status",  "protocol",
                                                 "mac_a", "sqn",          "rspauth", "kms_verify"};

/* TS 35.208 4.3 test set 1. */
static const uint8_t test_k[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                   0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t test_op[16] = {0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6,
                                    0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3, 0x18};

static void url_usage(const char *opt, const char *msg, const char *url)
{
    fprintf(stderr, "%s: %s: %s: %s (try --help)\n", bench_prog, opt, msg, url);
    exit(BENCH_EXIT_USAGE);
}

void bench_parse_url(const char *opt, const char *url, struct bench_target *t)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0) {
        url_usage(opt, "only http:// URLs", url);
    }
    p += 7;
    size_t h = strcspn(p, ":/");
    if (h == 0 || h >= sizeof(t->host) || p[h] != ':') {
        url_usage(opt, "URL without host:port", url);
    }
    memcpy(t->host, p, h);
    t->host[h] = '\0';
    p += h + 1;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= sizeof(t->port)) {
        url_usage(opt, "bad port in URL", url);
    }
    memcpy(t->port, p, n);
    t->port[n] = '\0';
    p += n;
    snprintf(t->path, sizeof(t->path), "%s", *p ? p : "/");
}

/* ---- the HTTP client ---- */

int bench_conn_open(struct bench_conn *c, const struct bench_target *t)
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

void bench_conn_close(struct bench_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

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
static int parse_head(struct bench_conn *c, size_t hdr_end, struct bench_resp *r, size_t *clen)
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
            return -1; /* none of the servers chunks a fixed body */
        }
        p = eol + 2;
    }
    return have_len ? 0 : -1;
}

static int send_all(int fd, const void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, (const char *)p + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int bench_http(struct bench_conn *c, const char *method, const char *path, const char *hname,
               const char *hvalue, const char *ctype, const uint8_t *body, size_t body_len,
               struct bench_resp *r)
{
    char req[KMS_DIGEST_HEADER_MAX + 4096];
    c->have = 0; /* the previous response is dropped: nothing is pipelined behind it */
    memset(r, 0, sizeof(*r));
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s:%s\r\n", method, path,
                     c->t->host, c->t->port);
    if (n > 0 && hname != NULL && (size_t)n < sizeof(req)) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "%s: %s\r\n", hname, hvalue);
    }
    if (n > 0 && body != NULL && (size_t)n < sizeof(req)) {
        n += snprintf(req + n, sizeof(req) - (size_t)n,
                      "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, body_len);
    }
    if (n > 0 && (size_t)n < sizeof(req)) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    }
    if (n <= 0 || (size_t)n + body_len >= sizeof(req)) {
        return -1;
    }
    if (body != NULL) { /* one send, one segment, as a client with a small body would */
        memcpy(req + n, body, body_len);
        n += (int)body_len;
    }
    if (send_all(c->fd, req, (size_t)n) != 0) {
        return -1;
    }
    size_t hdr_end = 0, clen = 0;
    bool head = false;
    for (;;) {
        if (!head) {
            c->rx[c->have] = '\0';
            char *e = strstr(c->rx, "\r\n\r\n");
            if (e != NULL) {
                hdr_end = (size_t)(e - c->rx) + 2; /* keep the last header's CRLF */
                if (parse_head(c, hdr_end, r, &clen) != 0 || clen > BENCH_RX_CAP - hdr_end - 2) {
                    return -1;
                }
                head = true;
            }
        }
        if (head && c->have >= hdr_end + 2 + clen) {
            break;
        }
        if (c->have >= BENCH_RX_CAP) {
            return -1;
        }
        ssize_t got = recv(c->fd, c->rx + c->have, BENCH_RX_CAP - c->have, 0);
        if (got <= 0) {
            return -1;
        }
        c->have += (size_t)got;
    }
    r->body = (const uint8_t *)c->rx + hdr_end + 2;
    r->body_len = clen;
    return 0;
}

/* ---- the Ub bootstrap ---- */

struct kms_milenage *bench_ub_milenage(void)
{
    struct kms_milenage *m = NULL;
    bench_check(kms_milenage_new(&m), "milenage");
    bench_check(kms_milenage_set_key_op(m, test_k, test_op), "milenage key");
    return m;
}

void bench_ub_setup_db(const char *path, const char *kek_file, unsigned n)
{
    uint8_t kek[32];
    struct kms_subscriber_db *db = NULL;
    struct kms_subscriber s;
    bench_check(kms_kek_read(kek_file, kek), "--kek-file");
    bench_check(kms_subscriber_db_open(path, kek, true, &db), "subscriber store");
    kms_wipe(kek, sizeof(kek));
    struct kms_milenage *m = bench_ub_milenage();
    memset(&s, 0, sizeof(s));
    memcpy(s.k, test_k, sizeof(s.k));
    bench_check(kms_milenage_get_opc(m, s.opc), "OPc");
    s.n_impu = 1;
    for (unsigned i = 0; i < n; i++) {
        snprintf(s.impi, sizeof(s.impi), BENCH_IMPI_FMT, i);
        snprintf(s.impu[0], sizeof(s.impu[0]), BENCH_IMPU_FMT, i);
        bench_check(kms_subscriber_add(db, &s, 0), "subscriber add");
    }
    kms_subscriber_wipe(&s);
    kms_milenage_free(m);
    kms_subscriber_db_close(db);
}

enum bench_fail bench_ub_bootstrap(struct bench_conn *c, const char *path, const char *realm,
                                   unsigned i, struct kms_milenage *m, struct kms_sqn_ms *sqn_ms,
                                   unsigned tag, uint64_t *ctr, struct bench_boot *out)
{
    char impi[64], auth[KMS_DIGEST_HEADER_MAX], cnonce[17], response[KMS_DIGEST_HEX_BUF];
    char want[KMS_DIGEST_HEX_BUF], nonce[KMS_DIGEST_VALUE_MAX + 1],
        opaque[KMS_DIGEST_VALUE_MAX + 1];
    struct kms_digest_params ch, info;
    struct kms_aka_vec v;
    struct bench_resp r;
    uint8_t rand[16], autn[16], sqn[6], sd[KMS_DIGEST_SERVER_DATA_MAX];
    size_t sd_len = 0;
    snprintf(impi, sizeof(impi), BENCH_IMPI_FMT, i);

    /* 1. Ask for a challenge. */
    snprintf(auth, sizeof(auth),
             "Digest username=\"%s\", realm=\"%s\", nonce=\"\", uri=\"%s\", response=\"\"", impi,
             realm, path);
    if (bench_http(c, "GET", path, "Authorization", auth, NULL, NULL, 0, &r) != 0) {
        return BENCH_F_HTTP;
    }
    if (r.status != 401) {
        return r.status == 429 ? BENCH_F_RATE : BENCH_F_STATUS;
    }
    if (r.www_auth == NULL ||
        !kms_ok(kms_digest_parse_challenge(r.www_auth, strlen(r.www_auth), &ch)) ||
        strcmp(kms_digest_get(&ch, KMS_DIGEST_REALM), realm) != 0) {
        return BENCH_F_PROTO;
    }
    snprintf(nonce, sizeof(nonce), "%s", kms_digest_get(&ch, KMS_DIGEST_NONCE));
    const char *op = kms_digest_get(&ch, KMS_DIGEST_OPAQUE);
    snprintf(opaque, sizeof(opaque), "%s", op != NULL ? op : "");
    if (!kms_ok(
            kms_digest_nonce_decode(nonce, strlen(nonce), rand, autn, sd, sizeof(sd), &sd_len))) {
        return BENCH_F_PROTO;
    }

    /* 2. The USIM: MAC-A, then freshness into this UE's SEQ_MS array. */
    if (!kms_ok(kms_milenage_check_autn(m, rand, autn, sqn, &v))) {
        return BENCH_F_MAC;
    }
    enum bench_fail rc = BENCH_F_N;
    if (!kms_ok(kms_sqn_ms_accept(sqn_ms, kms_sqn_from_bytes(sqn)))) {
        rc = BENCH_F_SQN;
        goto out;
    }

    /* 3. The answer: response over RES (A2 = GET:uri:MD5(empty body)). */
    snprintf(cnonce, sizeof(cnonce), "%02x%014llx", tag & 0xff,
             (unsigned long long)(++*ctr & 0xffffffffffffffULL));
    struct kms_digest_req q = {
        .username = impi,
        .realm = realm,
        .nonce = nonce,
        .uri = path,
        .qop = "auth-int",
        .nc = "00000001",
        .cnonce = cnonce,
        .method = "GET",
    };
    if (!kms_ok(kms_digest_response(v.res, sizeof(v.res), &q, response))) {
        rc = BENCH_F_PROTO;
        goto out;
    }
    snprintf(auth, sizeof(auth),
             "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", "
             "algorithm=AKAv1-MD5, qop=auth-int, nc=00000001, cnonce=\"%s\"%s%s%s",
             impi, realm, nonce, path, response, cnonce, op != NULL ? ", opaque=\"" : "",
             op != NULL ? opaque : "", op != NULL ? "\"" : "");
    if (bench_http(c, "GET", path, "Authorization", auth, NULL, NULL, 0, &r) != 0) {
        rc = BENCH_F_HTTP;
        goto out;
    }
    if (r.status != 200) {
        rc = r.status == 429 ? BENCH_F_RATE : BENCH_F_STATUS;
        goto out;
    }

    /* 4. rspauth: XRES over the 200 body (A2 = ":" uri ":" MD5(body)); then the B-TID. */
    const char *nc = NULL, *cn = NULL, *got = NULL;
    if (r.auth_info == NULL ||
        !kms_ok(kms_digest_parse_info(r.auth_info, strlen(r.auth_info), &info)) ||
        (nc = kms_digest_get(&info, KMS_DIGEST_NC)) == NULL ||
        (cn = kms_digest_get(&info, KMS_DIGEST_CNONCE)) == NULL ||
        (got = kms_digest_get(&info, KMS_DIGEST_RSPAUTH)) == NULL) {
        rc = BENCH_F_PROTO;
        goto out;
    }
    q.method = "";
    q.body = r.body;
    q.body_len = r.body_len;
    if (strcmp(nc, "00000001") != 0 || strcmp(cn, cnonce) != 0 ||
        !kms_ok(kms_digest_rspauth(v.res, sizeof(v.res), &q, want)) ||
        !kms_digest_hex_eq(want, got)) {
        rc = BENCH_F_RSPAUTH;
        goto out;
    }
    char btid[KMS_BTID_MAX];
    uint64_t lifetime = 0;
    if (!kms_ok(kms_bsfinfo_parse(r.body, r.body_len, btid, sizeof(btid), &lifetime))) {
        rc = BENCH_F_PROTO;
        goto out;
    }
    if (out != NULL) {
        memcpy(out->btid, btid, sizeof(out->btid));
        memcpy(out->rand, rand, 16);
        memcpy(out->ck, v.ck, 16);
        memcpy(out->ik, v.ik, 16);
    }
out:
    kms_wipe(&v, sizeof(v));
    return rc;
}

/* ---- options ---- */

void bench_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s (try --help)\n", bench_prog, msg, arg ? ": " : "", arg ? arg : "");
    exit(BENCH_EXIT_USAGE);
}

long long bench_num(const char *name, const char *v, long long lo, long long hi)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        bench_usage(name, v);
    }
    return n;
}

double bench_seconds(const char *v)
{
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d > 0 && d <= BENCH_MAX_SECONDS)) {
        bench_usage("--seconds wants a number in (0, 60]", v);
    }
    return d;
}

/* ---- clocks and /proc ---- */

double bench_now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_sleep(double s)
{
    struct timespec d = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
}

double bench_proc_cpu(long pid)
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

long bench_proc_rss_kib(long pid)
{
    if (pid <= 0) {
        return -1;
    }
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/http over loopback: the libmicrohttpd server and the libcurl client against each other,
 * plain and with mutual TLS, plus malformed requests over raw TCP.
 * Runs under tests/http/with_pki.sh, which makes the test PKI (tests/http/mkca.sh) and names its
 * directory in IMSKMS_TEST_PKI_DIR.
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http/kms_httpc.h"
#include "http/kms_httpd.h"

/* What the handler saw last, and how many requests it served. */
struct seen {
    int count;
    bool tls, verified;
    size_t n_dns;
    char dns[KMS_HTTP_MAX_CLIENT_DNS][KMS_HTTP_DNS_MAX + 1];
    char peer[64];
    char method[16];
    char path[256];
    char query[256];
    bool has_query;
    char xtest[256];
    size_t body_len;
    int resp_header_rc; /* result of the handler's kms_http_resp_header in /inject */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seen g_seen;

static void copy_str(char *dst, size_t cap, const char *src)
{
    (void)snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* The handler runs on server threads, where cmocka's assertions must not be used: a failure
 * there turns the answer into a 500, which the test thread then sees. */
static void check(struct kms_http_resp *resp, kms_result r)
{
    if (!kms_ok(r)) {
        resp->status = 500;
    }
}

static void put_str(struct kms_http_resp *resp, const char *s)
{
    check(resp, kms_buf_put_bytes(&resp->body, (const uint8_t *)s, strlen(s)));
}

/*
 * Routes: /big answers 100 KiB, /dup sends X-Dup twice, /inject tries header splitting; every
 * other path echoes "METHOD PATH" and the body back with X-Echo-Len.
 */
static void handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct seen *s = ctx;
    pthread_mutex_lock(&g_mu);
    s->count++;
    s->tls = req->tls;
    s->verified = req->client_verified;
    s->n_dns = req->n_client_dns;
    for (size_t i = 0; i < req->n_client_dns; i++) {
        copy_str(s->dns[i], sizeof s->dns[i], req->client_dns[i]);
    }
    copy_str(s->peer, sizeof s->peer, req->peer_addr);
    copy_str(s->method, sizeof s->method, req->method);
    copy_str(s->path, sizeof s->path, req->path);
    s->has_query = req->query != NULL;
    copy_str(s->query, sizeof s->query, req->query);
    copy_str(s->xtest, sizeof s->xtest, kms_http_req_header(req, "x-test"));
    s->body_len = req->body_len;
    pthread_mutex_unlock(&g_mu);

    resp->status = 200;
    resp->content_type = "text/plain";
    if (strcmp(req->path, "/big") == 0) {
        for (int i = 0; i < 100; i++) {
            char kb[1024];
            memset(kb, 'x', sizeof kb);
            check(resp, kms_buf_put_bytes(&resp->body, (uint8_t *)kb, sizeof kb));
        }
        return;
    }
    if (strcmp(req->path, "/dup") == 0) {
        check(resp, kms_http_resp_header(resp, "X-Dup", "1"));
        check(resp, kms_http_resp_header(resp, "X-Dup", "2"));
        return;
    }
    if (strcmp(req->path, "/inject") == 0) {
        kms_result r = kms_http_resp_header(resp, "X-A", "a\r\nSet-Cookie: evil=1");
        pthread_mutex_lock(&g_mu);
        s->resp_header_rc = (int)r.err;
        pthread_mutex_unlock(&g_mu);
        return;
    }
    char line[600];
    (void)snprintf(line, sizeof line, "%s %s\n", req->method, req->path);
    put_str(resp, line);
    if (req->body_len > 0) {
        check(resp, kms_buf_put_bytes(&resp->body, req->body, req->body_len));
    }
    (void)snprintf(line, sizeof line, "%zu", req->body_len);
    check(resp, kms_http_resp_header(resp, "X-Echo-Len", line));
    (void)snprintf(line, sizeof line, "%zu", kms_http_req_header_count(req, "x-test"));
    check(resp, kms_http_resp_header(resp, "X-Test-Count", line));
}

static void seen_reset(void)
{
    pthread_mutex_lock(&g_mu);
    g_seen = (struct seen){0};
    pthread_mutex_unlock(&g_mu);
}

static const char *pki(const char *name)
{
    static __thread char path[8][512];
    static __thread int next;
    const char *dir = getenv("IMSKMS_TEST_PKI_DIR");
    if (dir == NULL) {
        fail_msg("IMSKMS_TEST_PKI_DIR unset: run under tests/http/with_pki.sh");
    }
    char *p = path[next++ % 8];
    th_path(p, sizeof path[0], dir, name);
    return p;
}

static struct kms_httpd *start_plain(size_t max_body)
{
    struct kms_httpd_cfg cfg = {.listen = "127.0.0.1:0",
                                .max_body = max_body,
                                .threads = 4,
                                .max_conns = 64,
                                .timeout_s = 5};
    struct kms_httpd *d = NULL;
    expect_ok(kms_httpd_start(&cfg, handler, &g_seen, &d));
    assert_non_null(d);
    assert_true(kms_httpd_port(d) != 0);
    seen_reset();
    return d;
}

static struct kms_httpd *start_tls_opt(const char *cert, bool client_ca, bool optional)
{
    char crt[64], key[64];
    (void)snprintf(crt, sizeof crt, "%s.crt", cert);
    (void)snprintf(key, sizeof key, "%s.key", cert);
    struct kms_httpd_cfg cfg = {.listen = "127.0.0.1:0",
                                .threads = 2,
                                .timeout_s = 5,
                                .cert_file = pki(crt),
                                .key_file = pki(key),
                                .client_ca_file = client_ca ? pki("ca.crt") : NULL,
                                .client_cert_optional = optional};
    struct kms_httpd *d = NULL;
    expect_ok(kms_httpd_start(&cfg, handler, &g_seen, &d));
    seen_reset();
    return d;
}

static struct kms_httpd *start_tls(const char *cert, bool client_ca)
{
    return start_tls_opt(cert, client_ca, false);
}

static void url(char *out, size_t cap, const char *scheme, const char *host,
                const struct kms_httpd *d, const char *path)
{
    (void)snprintf(out, cap, "%s://%s:%u%s", scheme, host, kms_httpd_port(d), path);
}

/* ---- plain HTTP --------------------------------------------------------------------------- */

static void get_and_post_round_trip_with_headers(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(0);
    char u[128];
    url(u, sizeof u, "http", "127.0.0.1", d, "/hello?b-tid=abc%40bsf&x=1");
    const char *const hdrs[] = {"X-Test: value one", NULL};
    struct kms_httpc_cfg cc = {0};
    struct kms_httpc_req rq = {.method = "GET",
                               .url = u,
                               .headers = hdrs,
                               .want = {"x-echo-len", "Cache-Control", "Content-Type", "X-None"}};
    struct kms_httpc_resp rs;
    expect_ok(kms_httpc_request(&cc, &rq, &rs));
    assert_int_equal(rs.status, 200);
    const char *want_body = "GET /hello\n";
    assert_int_equal(kms_buf_len(&rs.body), strlen(want_body));
    assert_memory_equal(kms_buf_data(&rs.body), want_body, strlen(want_body));
    assert_string_equal(rs.got[0], "0");
    assert_string_equal(rs.got[1], "no-store");
    assert_string_equal(rs.got[2], "text/plain");
    assert_null(rs.got[3]);
    kms_httpc_resp_cleanup(&rs);
    assert_string_equal(g_seen.method, "GET");
    assert_string_equal(g_seen.path, "/hello");
    assert_true(g_seen.has_query);
    assert_string_equal(g_seen.query, "b-tid=abc%40bsf&x=1"); /* raw, not decoded */
    assert_string_equal(g_seen.xtest, "value one");
    assert_string_equal(g_seen.peer, "127.0.0.1");
    assert_false(g_seen.tls);
    assert_false(g_seen.verified);

    /* POST with binary body (NUL bytes included) */
    url(u, sizeof u, "http", "127.0.0.1", d, "/zn");
    uint8_t body[300];
    for (size_t i = 0; i < sizeof body; i++) {
        body[i] = (uint8_t)i;
    }
    const char *const ph[] = {"Content-Type: application/json", NULL};
    struct kms_httpc_req pq = {.method = "POST",
                               .url = u,
                               .headers = ph,
                               .body = body,
                               .body_len = sizeof body,
                               .want = {"X-Echo-Len"}};
    expect_ok(kms_httpc_request(&cc, &pq, &rs));
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.got[0], "300");
    size_t hl = strlen("POST /zn\n");
    assert_int_equal(kms_buf_len(&rs.body), hl + sizeof body);
    assert_memory_equal(kms_buf_data(&rs.body) + hl, body, sizeof body);
    kms_httpc_resp_cleanup(&rs);
    assert_false(g_seen.has_query);
    assert_int_equal(g_seen.body_len, sizeof body);

    /* An empty POST reaches the handler with no body. */
    struct kms_httpc_req eq = {.method = "POST", .url = u};
    expect_ok(kms_httpc_request(&cc, &eq, &rs));
    assert_int_equal(rs.status, 200);
    assert_int_equal(g_seen.body_len, 0);
    kms_httpc_resp_cleanup(&rs);
    kms_httpd_stop(d);
}

static void body_over_max_body_gets_413_and_server_survives(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(1024);
    char u[128];
    url(u, sizeof u, "http", "127.0.0.1", d, "/zn");
    struct kms_httpc_cfg cc = {0};
    uint8_t body[4096] = {0};
    struct kms_httpc_resp rs;
    /* exactly the cap: served */
    struct kms_httpc_req ok = {.method = "POST", .url = u, .body = body, .body_len = 1024};
    expect_ok(kms_httpc_request(&cc, &ok, &rs));
    assert_int_equal(rs.status, 200);
    kms_httpc_resp_cleanup(&rs);
    /* one byte more: 413, and the handler never runs */
    int before = g_seen.count;
    struct kms_httpc_req big = {.method = "POST", .url = u, .body = body, .body_len = 1025};
    expect_ok(kms_httpc_request(&cc, &big, &rs));
    assert_int_equal(rs.status, 413);
    kms_httpc_resp_cleanup(&rs);
    big.body_len = sizeof body;
    expect_ok(kms_httpc_request(&cc, &big, &rs));
    assert_int_equal(rs.status, 413);
    kms_httpc_resp_cleanup(&rs);
    assert_int_equal(g_seen.count, before);
    /* still serving */
    struct kms_httpc_req get = {.method = "GET", .url = u};
    expect_ok(kms_httpc_request(&cc, &get, &rs));
    assert_int_equal(rs.status, 200);
    kms_httpc_resp_cleanup(&rs);
    kms_httpd_stop(d);
}

/* ---- raw TCP ------------------------------------------------------------------------------ */

static int raw_connect(const struct kms_httpd *d)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(kms_httpd_port(d))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return; /* the server may close early (413, 431): what it answered still counts */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Sends raw bytes and returns the status of the answer (0 when the server just closed). */
static int raw_status(const struct kms_httpd *d, const char *req, size_t len)
{
    int fd = raw_connect(d);
    send_all(fd, req, len);
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL) {
            break;
        }
    }
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*[01] %d", &status) != 1) {
        return 0;
    }
    return status;
}

static int raw_status_str(const struct kms_httpd *d, const char *req)
{
    return raw_status(d, req, strlen(req));
}

static void malformed_requests_get_4xx_and_server_keeps_serving(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(1024);
    int st = raw_status_str(d, "GARBAGE\r\n\r\n");
    assert_true(st == 400 || st == 0);
    assert_int_equal(raw_status_str(d, "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"), 400);
    assert_int_equal(raw_status_str(d, "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"), 400);
    assert_int_equal(raw_status_str(d, "GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
    assert_int_equal(raw_status_str(d, "GET / HTTP/9.9\r\nHost: x\r\n\r\n") / 100, 5);
    /* a 20 KiB header against the 16 KiB default: 431 */
    size_t n = 20 * 1024;
    char *big = malloc(n + 128);
    assert_non_null(big);
    int off = snprintf(big, 128, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + off, 'a', n);
    memcpy(big + (size_t)off + n, "\r\n\r\n", 5);
    assert_int_equal(raw_status_str(d, big), 431);
    /* a 20 KiB URI: 414 */
    off = snprintf(big, 128, "GET /");
    memset(big + off, 'a', n);
    memcpy(big + (size_t)off + n, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
    assert_int_equal(raw_status_str(d, big), 414);
    free(big);
    /* A chunked body past the cap: libmicrohttpd 0.9.75 takes no response while a body is being
     * read, so the connection is closed at once (status 0 here) rather than the rest read. */
    char chunked[2600];
    off = snprintf(chunked, sizeof chunked,
                   "POST /zn HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
    memset(chunked + off, 'b', 2048);
    memcpy(chunked + off + 2048, "\r\n800\r\n", 8);
    assert_int_equal(raw_status(d, chunked, (size_t)off + 2048 + 7), 0);
    assert_int_equal(g_seen.count, 0);
    /* a bad Content-Length, and one beside chunked encoding (request smuggling) */
    assert_int_equal(raw_status_str(d, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
                     400);
    assert_int_equal(raw_status_str(d, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n"),
                     400);
    assert_int_equal(g_seen.count, 0);
    /* and a good one still works */
    assert_int_equal(raw_status_str(d, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                     200);
    assert_int_equal(g_seen.count, 1);
    kms_httpd_stop(d);
}

static void handler_cannot_split_response_headers(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(0);
    char u[128];
    url(u, sizeof u, "http", "127.0.0.1", d, "/inject");
    struct kms_httpc_cfg cc = {0};
    struct kms_httpc_req rq = {.method = "GET", .url = u, .want = {"Set-Cookie", "X-A"}};
    struct kms_httpc_resp rs;
    expect_ok(kms_httpc_request(&cc, &rq, &rs));
    assert_int_equal(rs.status, 200);
    assert_null(rs.got[0]);
    assert_null(rs.got[1]);
    kms_httpc_resp_cleanup(&rs);
    assert_int_equal(g_seen.resp_header_rc, KMS_ERR_ARG);
    kms_httpd_stop(d);

    struct kms_http_resp r = {0};
    expect_err(kms_http_resp_header(&r, "Bad Name", "v"), KMS_ERR_ARG);
    expect_err(kms_http_resp_header(&r, "", "v"), KMS_ERR_ARG);
    expect_err(kms_http_resp_header(&r, "X-Nl", "a\nb"), KMS_ERR_ARG);
    expect_err(kms_http_resp_header(&r, "X-Hi", "\x80"), KMS_ERR_ARG);
    expect_err(kms_http_resp_header(&r, "content-length", "1"), KMS_ERR_ARG);
    expect_err(kms_http_resp_header(&r, "Cache-Control", "public"), KMS_ERR_ARG);
    char longv[KMS_HTTP_HDR_VALUE_MAX + 2];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    expect_err(kms_http_resp_header(&r, "X-Long", longv), KMS_ERR_TOO_LONG);
    for (int i = 0; i < KMS_HTTP_MAX_RESP_HDRS; i++) {
        expect_ok(kms_http_resp_header(&r, "WWW-Authenticate", "Digest realm=\"x\""));
    }
    expect_err(kms_http_resp_header(&r, "X-One-More", "v"), KMS_ERR_TOO_LONG);
}

struct worker {
    const char *url;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct kms_httpc_cfg cc = {.timeout_ms = 20000};
    for (int i = 0; i < 20; i++) {
        uint8_t body[64];
        memset(body, i, sizeof body);
        struct kms_httpc_req rq = {
            .method = "POST", .url = w->url, .body = body, .body_len = sizeof body};
        struct kms_httpc_resp rs;
        kms_result r = kms_httpc_request(&cc, &rq, &rs);
        if (r.err == KMS_OK && rs.status == 200 &&
            kms_buf_len(&rs.body) == strlen("POST /conc\n") + sizeof body) {
            w->ok++;
        }
        kms_httpc_resp_cleanup(&rs);
    }
    return NULL;
}

static void many_concurrent_requests_are_all_answered(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(0);
    char u[128];
    url(u, sizeof u, "http", "127.0.0.1", d, "/conc");
    enum { N = 16 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.url = u};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        ok += w[i].ok;
    }
    assert_int_equal(ok, N * 20);
    assert_int_equal(g_seen.count, N * 20);
    kms_httpd_stop(d);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stop_with_open_connections_returns_promptly(void **state)
{
    (void)state;
    /* Idle connections time out after 60 s: a stop that waited for them would take that long,
     * one that does not takes milliseconds. The 20 s bound between the two holds on any
     * loaded machine, so no timing window decides the result. */
    struct kms_httpd_cfg cfg = {
        .listen = "127.0.0.1:0", .threads = 4, .max_conns = 64, .timeout_s = 60};
    struct kms_httpd *d = NULL;
    expect_ok(kms_httpd_start(&cfg, handler, &g_seen, &d));
    seen_reset();
    int fds[6];
    for (int i = 0; i < 6; i++) {
        fds[i] = raw_connect(d);
    }
    send_all(fds[0], "GET / HTTP/1.1\r\nHost: x\r\n", 25); /* headers never finished */
    send_all(fds[1], "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 53);
    /* fds[2]: a complete keep-alive exchange, then idle */
    send_all(fds[2], "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    char buf[512];
    assert_true(recv(fds[2], buf, sizeof buf, 0) > 0);
    double t0 = now_s();
    kms_httpd_stop(d);
    assert_true(now_s() - t0 < 20.0);
    for (int i = 0; i < 6; i++) {
        close(fds[i]);
    }
}

static void listen_addresses_are_checked(void **state)
{
    (void)state;
    const char *bad[] = {"",       "127.0.0.1", "localhost:80", "127.0.0.1:65536", "127.0.0.1:-1",
                         "::1:80", "[::1]80",   "[::1]:",       "127.0.0.1:80x",   "[]:80",
                         NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        struct kms_httpd_cfg cfg = {.listen = bad[i]};
        struct kms_httpd *d = (struct kms_httpd *)&cfg; /* must come back NULL */
        expect_err(kms_httpd_start(&cfg, handler, &g_seen, &d), KMS_ERR_ARG);
        assert_null(d);
    }
    struct kms_httpd_cfg nocfg = {.listen = "127.0.0.1:0", .key_file = "x"};
    struct kms_httpd *d = NULL;
    expect_err(kms_httpd_start(&nocfg, handler, &g_seen, &d), KMS_ERR_ARG);
    struct kms_httpd_cfg nofile = {
        .listen = "127.0.0.1:0", .cert_file = "/nonexistent", .key_file = "/nonexistent"};
    expect_err(kms_httpd_start(&nofile, handler, &g_seen, &d), KMS_ERR_IO);
    /* a key that does not match the certificate: the server does not start */
    struct kms_httpd_cfg mismatch = {
        .listen = "127.0.0.1:0", .cert_file = pki("server.crt"), .key_file = pki("naf.key")};
    expect_err(kms_httpd_start(&mismatch, handler, &g_seen, &d), KMS_ERR_HTTP);
    kms_httpd_stop(NULL);

    /* IPv6 loopback, when the host has it */
    struct kms_httpd_cfg v6 = {.listen = "[::1]:0"};
    kms_result r = kms_httpd_start(&v6, handler, &g_seen, &d);
    if (r.err != KMS_OK) {
        print_message("no IPv6 loopback here (%s): v6 part not run\n", kms_err_name(r.err));
        return;
    }
    char u[128];
    url(u, sizeof u, "http", "[::1]", d, "/v6");
    struct kms_httpc_cfg cc = {0};
    struct kms_httpc_req rq = {.method = "GET", .url = u};
    struct kms_httpc_resp rs;
    expect_ok(kms_httpc_request(&cc, &rq, &rs));
    assert_int_equal(rs.status, 200);
    kms_httpc_resp_cleanup(&rs);
    assert_string_equal(g_seen.peer, "::1");
    kms_httpd_stop(d);
}

/* ---- limits ------------------------------------------------------------------------------- */

/* Reads what the server sends until it closes (or cap_s seconds pass). Returns the bytes read
 * (NUL-terminated in buf); *closed tells whether the server closed. */
static size_t read_until_close(int fd, char *buf, size_t cap, double cap_s, bool *closed);

static double now_s(void);

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

/* Waits (polling, at most cap_s) until the server holds n connections. */
static bool wait_connections(struct kms_httpd *d, unsigned n, double cap_s)
{
    double t0 = now_s();
    while (kms_httpd_connections(d) != n) {
        if (now_s() - t0 > cap_s) {
            return false;
        }
        sleep_ms(10);
    }
    return true;
}

/* Seconds until the server closes fd (polling every 10 ms, at most cap_s); -1 if it does not. */
static double seconds_until_closed(int fd, double cap_s)
{
    double t0 = now_s();
    char buf[4096];
    while (now_s() - t0 < cap_s) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return now_s() - t0;
        }
        if (r < 0) {
            sleep_ms(10);
        }
    }
    return -1.0;
}

static struct kms_httpd *start_limited(unsigned per_ip, unsigned header_s, unsigned idle_s)
{
    struct kms_httpd_cfg cfg = {.listen = "127.0.0.1:0",
                                .threads = 2,
                                .max_conns = 64,
                                .max_conns_per_ip = per_ip,
                                .timeout_s = idle_s,
                                .header_timeout_s = header_s};
    struct kms_httpd *d = NULL;
    expect_ok(kms_httpd_start(&cfg, handler, &g_seen, &d));
    seen_reset();
    return d;
}

static void per_ip_limit_closes_the_connection_past_it(void **state)
{
    (void)state;
    struct kms_httpd *d = start_limited(3, 30, 30);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = raw_connect(d);
    }
    assert_true(wait_connections(d, 3, 5.0));
    /* The fourth from the same address: accepted by the kernel, closed by the server at once,
     * without a byte of answer. */
    int extra = raw_connect(d);
    double t = seconds_until_closed(extra, 5.0);
    assert_true(t >= 0.0);
    close(extra);
    assert_int_equal(kms_httpd_connections(d), 3);
    /* the three held are served */
    const char *get = "GET /held HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fds[0], get, strlen(get));
    char buf[1024];
    ssize_t r = recv(fds[0], buf, sizeof buf - 1, 0);
    assert_true(r > 12);
    buf[r] = '\0';
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    /* one closed: room for one more */
    close(fds[1]);
    assert_true(wait_connections(d, 2, 5.0));
    assert_int_equal(raw_status_str(d, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    close(fds[0]);
    close(fds[2]);
    kms_httpd_stop(d);
}

static void header_deadline_closes_slow_requests(void **state)
{
    (void)state;
    /* Header deadline 1 s, idle timeout 30 s: only the deadline can close these. */
    struct kms_httpd *d = start_limited(0, 1, 30);
    /* silent after a partial header line */
    int partial = raw_connect(d);
    send_all(partial, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a", 35);
    /* slowloris: a byte every 100 ms, so the idle timeout never fires */
    /* t0 before the slowloris connects: its deadline runs from an accept after t0, however long
     * a loaded machine takes over the connections below (t0 after them could be late by more
     * than the 0.2 s of slack in the lower bound). */
    double t0 = now_s();
    int loris = raw_connect(d);
    send_all(loris, "GET / HTTP/1.1\r\n", 16);
    /* headers complete, the body short of its Content-Length */
    int body = raw_connect(d);
    const char *post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde";
    send_all(body, post, strlen(post));
    double t_loris = -1.0;
    char ch[1];
    while (now_s() - t0 < 5.0) {
        send_all(loris, "X", 1);
        ssize_t r = recv(loris, ch, 1, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            t_loris = now_s() - t0;
            break;
        }
        sleep_ms(100);
    }
    assert_true(t_loris >= 0.8 && t_loris < 5.0);
    double t_partial = seconds_until_closed(partial, 5.0);
    double t_body = seconds_until_closed(body, 5.0);
    assert_true(t_partial >= 0.0 && t_body >= 0.0);
    /* none reached the handler, and the server still serves */
    assert_int_equal(g_seen.count, 0);
    assert_int_equal(raw_status_str(d, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    close(partial);
    close(loris);
    close(body);
    assert_true(wait_connections(d, 0, 5.0));
    kms_httpd_stop(d);
}

static void a_prompt_request_is_not_cut_by_the_deadline(void **state)
{
    (void)state;
    /* A deadline of 3 s: the pieces take 0.4 s, and a loaded machine may stretch the sleeps. */
    struct kms_httpd *d = start_limited(0, 3, 30);
    int fd = raw_connect(d);
    /* sent in pieces well inside the deadline */
    send_all(fd, "POST / HTTP/1.1\r\n", 17);
    sleep_ms(200);
    send_all(fd, "Host: x\r\nContent-Length: 3\r\n\r\n", 31);
    sleep_ms(200);
    send_all(fd, "abc", 3);
    char buf[1024];
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(r > 12);
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    close(fd);
    kms_httpd_stop(d);
}

static void idle_timeout_closes_a_kept_alive_connection(void **state)
{
    (void)state;
    /* Header deadline 1 s, idle timeout 6 s: a kept-alive connection waits for its next request
     * up to the idle timeout, longer than the header deadline, then is closed. (6 s, not 3: the
     * silent connection below must close well before the idle timeout could close it, even when
     * a loaded machine delays the close by a second or two.) */
    struct kms_httpd *d = start_limited(0, 1, 6);
    int fd = raw_connect(d);
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, get, strlen(get));
    char buf[1024];
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(r > 12);
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    double t = seconds_until_closed(fd, 10.0);
    assert_true(t >= 1.5 && t < 10.0);
    close(fd);
    /* and a connection that never sends anything: the header deadline, not the idle timeout */
    fd = raw_connect(d);
    t = seconds_until_closed(fd, 10.0);
    assert_true(t >= 0.5 && t < 4.0);
    close(fd);
    kms_httpd_stop(d);
}

/* ---- framing ------------------------------------------------------------------------------ */

static size_t read_until_close(int fd, char *buf, size_t cap, double cap_s, bool *closed)
{
    size_t got = 0;
    double t0 = now_s();
    *closed = false;
    while (got < cap - 1 && now_s() - t0 < cap_s) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            *closed = true;
            break;
        }
        if (r > 0) {
            got += (size_t)r;
        }
    }
    buf[got] = '\0';
    return got;
}

/* The answer to raw bytes: the first status, how many status lines came, whether the server
 * closed the connection after it. */
struct raw_answer {
    int status;
    int n_status_lines;
    bool closed;
};

static struct raw_answer raw_answer(const struct kms_httpd *d, const char *req)
{
    int fd = raw_connect(d);
    send_all(fd, req, strlen(req));
    char buf[8192];
    struct raw_answer a = {0};
    (void)read_until_close(fd, buf, sizeof buf, 5.0, &a.closed);
    close(fd);
    if (sscanf(buf, "HTTP/1.%*[01] %d", &a.status) != 1) {
        a.status = 0;
    }
    for (const char *p = buf; (p = strstr(p, "HTTP/1.")) != NULL; p++) {
        a.n_status_lines += (p == buf || p[-1] == '\n') ? 1 : 0;
    }
    return a;
}

/* libmicrohttpd 0.9.75 answers a Content-Length it cannot parse itself, before any handler:
 * transmit_error_response() builds the status line and headers, and its caller's state machine
 * (the MHD_CONNECTION_HEADERS_RECEIVED case of MHD_connection_handle_idle) then overwrites the
 * state and builds them a second time, so they go out twice. No API of 0.9.75 runs our code in
 * between; only a later libmicrohttpd can answer once. The test pins the behaviour to the
 * version: when the library is fixed (any other version), one status line is expected. */
static int mhd_parsed_status_lines(void)
{
    return strcmp(MHD_get_version(), "0.9.75") == 0 ? 2 : 1;
}

static void invalid_content_length_gets_one_400_and_closes(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(1024);
    /* Refused by this server: exactly one 400, then the connection is closed. */
    const char *ours[] = {
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        NULL,
    };
    for (size_t i = 0; ours[i] != NULL; i++) {
        struct raw_answer a = raw_answer(d, ours[i]);
        if (a.status != 400 || a.n_status_lines != 1 || !a.closed) {
            fail_msg("case %zu: status %d, %d status lines, closed %d", i, a.status,
                     a.n_status_lines, (int)a.closed);
        }
    }
    /* Refused by libmicrohttpd before the handler: the first answer is a 400 (413 for a number
     * past 2^64), the connection is closed; see mhd_parsed_status_lines for the count. */
    struct {
        const char *cl;
        int status;
    } theirs[] = {{"-1", 400}, {"abc", 400}, {"1 2", 400},
                  {"+5", 400}, {"", 400},    {"99999999999999999999999", 413}};
    for (size_t i = 0; i < sizeof theirs / sizeof theirs[0]; i++) {
        char req[256];
        (void)snprintf(req, sizeof req, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n",
                       theirs[i].cl);
        struct raw_answer a = raw_answer(d, req);
        if (a.status != theirs[i].status || a.n_status_lines != mhd_parsed_status_lines() ||
            !a.closed) {
            fail_msg("Content-Length '%s': status %d, %d status lines, closed %d", theirs[i].cl,
                     a.status, a.n_status_lines, (int)a.closed);
        }
    }
    assert_int_equal(g_seen.count, 0);
    /* A bare LF ends a line in libmicrohttpd 0.9.75 at every strictness level: accepted (the
     * limit docs/api.md states). */
    assert_int_equal(raw_status_str(d, "GET /lf HTTP/1.1\nHost: x\nConnection: close\n\n"), 200);
    assert_int_equal(g_seen.count, 1);
    kms_httpd_stop(d);
}

static void header_count_and_media_type(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(0);
    int fd = raw_connect(d);
    const char *req =
        "GET /c HTTP/1.1\r\nHost: x\r\nX-Test: a\r\nx-test: b\r\nConnection: close\r\n\r\n";
    send_all(fd, req, strlen(req));
    char buf[2048];
    bool closed = false;
    (void)read_until_close(fd, buf, sizeof buf, 5.0, &closed);
    close(fd);
    assert_non_null(strstr(buf, "X-Test-Count: 2\r\n"));
    assert_string_equal(g_seen.xtest, "a");
    kms_httpd_stop(d);

    assert_true(kms_http_media_type_is("application/mikey", "application/mikey"));
    assert_true(kms_http_media_type_is("Application/MIKEY", "application/mikey"));
    assert_true(kms_http_media_type_is("application/mikey; charset=x", "application/mikey"));
    assert_true(kms_http_media_type_is("application/mikey ;a=b", "application/mikey"));
    assert_true(kms_http_media_type_is("application/mikey;", "application/mikey"));
    assert_false(kms_http_media_type_is(NULL, "application/mikey"));
    assert_false(kms_http_media_type_is("", "application/mikey"));
    assert_false(kms_http_media_type_is("application/mikeyx", "application/mikey"));
    assert_false(kms_http_media_type_is("application/mike", "application/mikey"));
    assert_false(kms_http_media_type_is("application/octet-stream", "application/mikey"));
    assert_false(kms_http_media_type_is("text/mikey", "application/mikey"));
    assert_false(kms_http_media_type_is("application/mikey, text/plain", "application/mikey"));
}

/* ---- client side checks ------------------------------------------------------------------- */

static void client_checks_its_arguments(void **state)
{
    (void)state;
    struct kms_httpc_cfg cc = {0};
    struct kms_httpc_resp rs;
    const char *const crlf[] = {"X-A: a\r\nX-B: b", NULL};
    const char *const nocolon[] = {"X-A", NULL};
    struct kms_httpc_req bad[] = {
        {.method = "GET", .url = "ftp://127.0.0.1/"},
        {.method = "GET", .url = "file:///etc/passwd"},
        {.method = "GET", .url = "http://127.0.0.1/a b"},
        {.method = "G T", .url = "http://127.0.0.1/"},
        {.method = "GET", .url = "http://127.0.0.1/", .headers = crlf},
        {.method = "GET", .url = "http://127.0.0.1/", .headers = nocolon},
        {.method = NULL, .url = "http://127.0.0.1/"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_err(kms_httpc_request(&cc, &bad[i], &rs), KMS_ERR_ARG);
        kms_httpc_resp_cleanup(&rs);
    }
    /* nothing listens on port 1 */
    struct kms_httpc_req refused = {.method = "GET", .url = "http://127.0.0.1:1/"};
    expect_err(kms_httpc_request(&cc, &refused, &rs), KMS_ERR_HTTP);
    kms_httpc_resp_cleanup(&rs);
}

static void client_caps_the_response_body(void **state)
{
    (void)state;
    struct kms_httpd *d = start_plain(0);
    char u[128];
    url(u, sizeof u, "http", "127.0.0.1", d, "/big");
    struct kms_httpc_cfg cc = {.max_body = 100 * 1024 - 1};
    struct kms_httpc_req rq = {.method = "GET", .url = u};
    struct kms_httpc_resp rs;
    expect_err(kms_httpc_request(&cc, &rq, &rs), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&rs.body), 0);
    kms_httpc_resp_cleanup(&rs);
    cc.max_body = 100 * 1024;
    expect_ok(kms_httpc_request(&cc, &rq, &rs));
    assert_int_equal(kms_buf_len(&rs.body), 100 * 1024);
    kms_httpc_resp_cleanup(&rs);
    /* a wanted header sent twice is refused */
    url(u, sizeof u, "http", "127.0.0.1", d, "/dup");
    struct kms_httpc_req dq = {.method = "GET", .url = u, .want = {"x-dup"}};
    expect_err(kms_httpc_request(&cc, &dq, &rs), KMS_ERR_MALFORMED);
    assert_null(rs.got[0]);
    kms_httpc_resp_cleanup(&rs);
    kms_httpd_stop(d);
}

/* ---- mutual TLS --------------------------------------------------------------------------- */

/* A GET over TLS with the given client certificate ("naf", ...; NULL: none). */
static kms_result tls_get(const struct kms_httpd *d, const char *host, const char *ca,
                          const char *client, int *status)
{
    char u[128], crt[64], key[64];
    url(u, sizeof u, "https", host, d, "/zn");
    struct kms_httpc_cfg cc = {.ca_file = pki(ca), .timeout_ms = 5000};
    if (client != NULL) {
        (void)snprintf(crt, sizeof crt, "%s.crt", client);
        (void)snprintf(key, sizeof key, "%s.key", client);
        cc.cert_file = pki(crt);
        cc.key_file = pki(key);
    }
    struct kms_httpc_req rq = {.method = "GET", .url = u};
    struct kms_httpc_resp rs;
    kms_result r = kms_httpc_request(&cc, &rq, &rs);
    *status = rs.status;
    kms_httpc_resp_cleanup(&rs);
    return r;
}

static void tls_client_cert_names_reach_the_handler(void **state)
{
    (void)state;
    struct kms_httpd *d = start_tls("server", true);
    int st = 0;
    expect_ok(tls_get(d, "localhost", "ca.crt", "naf", &st));
    assert_int_equal(st, 200);
    assert_true(g_seen.tls);
    assert_true(g_seen.verified);
    assert_int_equal(g_seen.n_dns, 1);
    assert_string_equal(g_seen.dns[0], "kms.example.org");

    expect_ok(tls_get(d, "127.0.0.1", "ca.crt", "other", &st)); /* IP SAN of the server */
    assert_int_equal(st, 200);
    assert_true(g_seen.verified);
    assert_int_equal(g_seen.n_dns, 1);
    assert_string_equal(g_seen.dns[0], "other-naf.example.org");

    /* The FQDN only in the subject CN: verified, but no name to match a NAF_Id against. */
    expect_ok(tls_get(d, "localhost", "ca.crt", "cnonly", &st));
    assert_int_equal(st, 200);
    assert_true(g_seen.verified);
    assert_int_equal(g_seen.n_dns, 0);
    assert_int_equal(g_seen.count, 3);
    kms_httpd_stop(d);
}

/*
 * With client_ca_file the handshake itself requires a certificate from that CA, for TLS client
 * use: a client without one, with one from another CA, or with a server-only certificate never
 * reaches the handler. What the client sees is a TLS alert; over TLS 1.3 it may only notice when
 * it reads the answer, so the client's error is KMS_ERR_HTTP (or KMS_ERR_TLS_PEER), not a status.
 */
static void tls_handshake_refuses_missing_untrusted_or_wrong_purpose_certs(void **state)
{
    (void)state;
    struct kms_httpd *d = start_tls("server", true);
    const char *bad[] = {NULL, "rogue", "serveronly"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = -1;
        kms_result r = tls_get(d, "localhost", "ca.crt", bad[i], &st);
        if (r.err != KMS_ERR_HTTP && r.err != KMS_ERR_TLS_PEER) {
            fail_msg("client cert %s: got %s (status %d)", bad[i] ? bad[i] : "(none)",
                     kms_err_name(r.err), st);
        }
    }
    assert_int_equal(g_seen.count, 0);
    /* and the server still serves a good client */
    int st = 0;
    expect_ok(tls_get(d, "localhost", "ca.crt", "naf", &st));
    assert_int_equal(st, 200);
    assert_int_equal(g_seen.count, 1);
    kms_httpd_stop(d);
}

/*
 * With client_cert_optional the same clients get through the handshake, and the per-request
 * GnuTLS check (chain, TLS client purpose) marks them unverified, with no names.
 */
static void optional_client_cert_dispatches_unverified_requests(void **state)
{
    (void)state;
    struct kms_httpd *d = start_tls_opt("server", true, true);
    const char *bad[] = {NULL, "rogue", "serveronly"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = 0;
        expect_ok(tls_get(d, "localhost", "ca.crt", bad[i], &st));
        assert_int_equal(st, 200);
        assert_int_equal(g_seen.count, (int)i + 1);
        assert_true(g_seen.tls);
        assert_false(g_seen.verified);
        assert_int_equal(g_seen.n_dns, 0);
    }
    int st = 0;
    expect_ok(tls_get(d, "localhost", "ca.crt", "naf", &st));
    assert_true(g_seen.verified);
    assert_int_equal(g_seen.n_dns, 1);
    assert_string_equal(g_seen.dns[0], "kms.example.org");
    kms_httpd_stop(d);
}

/* Without client_ca_file no certificate is asked for: tls, but never client_verified. */
static void tls_without_client_ca_never_verifies_clients(void **state)
{
    (void)state;
    struct kms_httpd *d = start_tls("server", false);
    int st = 0;
    expect_ok(tls_get(d, "localhost", "ca.crt", "naf", &st));
    assert_int_equal(st, 200);
    assert_true(g_seen.tls);
    assert_false(g_seen.verified);
    assert_int_equal(g_seen.n_dns, 0);
    kms_httpd_stop(d);
}

static void client_refuses_server_with_wrong_name_or_ca(void **state)
{
    (void)state;
    struct kms_httpd *d = start_tls("wrongname", true);
    int st = 0;
    expect_err(tls_get(d, "localhost", "ca.crt", "naf", &st), KMS_ERR_TLS_PEER);
    kms_httpd_stop(d);
    d = start_tls("server", true);
    expect_err(tls_get(d, "localhost", "rogue-ca.crt", "naf", &st), KMS_ERR_TLS_PEER);
    /* plain HTTP to a TLS port is not an answer either */
    char u[128];
    url(u, sizeof u, "http", "localhost", d, "/zn");
    struct kms_httpc_cfg cc = {.timeout_ms = 3000};
    struct kms_httpc_req rq = {.method = "GET", .url = u};
    struct kms_httpc_resp rs;
    kms_result r = kms_httpc_request(&cc, &rq, &rs);
    assert_true(r.err != KMS_OK || rs.status >= 400);
    kms_httpc_resp_cleanup(&rs);
    assert_int_equal(g_seen.count, 0);
    kms_httpd_stop(d);
}

/* ---- deferred answers ---- */

/* /slow defers its answer to the test thread (g_df); /now defers and completes at once, from
 * the handler itself (the answer is ready before the connection could be suspended); anything
 * else answers 200 "fast" at once. */
enum { MAX_DF = 8 };
static struct kms_http_defer *g_df[MAX_DF];
static int g_n_df;

static void defer_handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    (void)ctx;
    bool slow = strcmp(req->path, "/slow") == 0;
    if (slow || strcmp(req->path, "/now") == 0) {
        struct kms_http_defer *df = kms_http_defer(req);
        if (df == NULL || kms_http_defer(req) != NULL) { /* a second defer must be refused */
            resp->status = 500;
            return;
        }
        resp->status = 418; /* ignored: the deferred answer is the one sent */
        if (!slow) {
            struct kms_http_resp *r = kms_http_defer_resp(df);
            r->status = 200;
            put_str(r, "now");
            kms_http_defer_done(df);
            return;
        }
        pthread_mutex_lock(&g_mu);
        if (g_n_df < MAX_DF) {
            g_df[g_n_df++] = df;
            df = NULL;
        }
        pthread_mutex_unlock(&g_mu);
        if (df != NULL) {
            kms_http_defer_done(df); /* more than the test asked for: a 500 */
        }
        return;
    }
    resp->status = 200;
    put_str(resp, "fast");
}

static int n_deferred(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_n_df;
    pthread_mutex_unlock(&g_mu);
    return n;
}

struct getter {
    char url[128];
    int status;
    char body[32];
    double took;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    struct kms_httpc_cfg cc = {.timeout_ms = 20000};
    struct kms_httpc_req rq = {.method = "GET", .url = g->url, .want = {"X-Deferred", NULL}};
    struct kms_httpc_resp rs;
    double t0 = now_s();
    kms_result r = kms_httpc_request(&cc, &rq, &rs);
    g->took = now_s() - t0;
    g->status = kms_ok(r) ? rs.status : -1;
    (void)snprintf(g->body, sizeof g->body, "%.*s%s", (int)kms_buf_len(&rs.body),
                   kms_buf_len(&rs.body) > 0 ? (const char *)kms_buf_data(&rs.body) : "",
                   rs.got[0] != NULL ? rs.got[0] : "");
    kms_httpc_resp_cleanup(&rs);
    return NULL;
}

static struct kms_httpd *start_defer(void)
{
    /* One server thread: with the deferred requests holding it, nothing else could be served. */
    struct kms_httpd_cfg cfg = {
        .listen = "127.0.0.1:0", .threads = 1, .max_conns = 64, .timeout_s = 30};
    struct kms_httpd *d = NULL;
    expect_ok(kms_httpd_start(&cfg, defer_handler, NULL, &d));
    pthread_mutex_lock(&g_mu);
    g_n_df = 0;
    pthread_mutex_unlock(&g_mu);
    return d;
}

static bool wait_deferred(int n, double cap_s)
{
    double t0 = now_s();
    while (n_deferred() < n) {
        if (now_s() - t0 > cap_s) {
            return false;
        }
        sleep_ms(10);
    }
    return true;
}

static void deferred_answers_leave_the_thread_free(void **state)
{
    (void)state;
    struct kms_httpd *d = start_defer();
    enum { N = 4 };
    pthread_t t[N];
    struct getter g[N];
    for (int i = 0; i < N; i++) {
        g[i] = (struct getter){0};
        url(g[i].url, sizeof g[i].url, "http", "127.0.0.1", d, "/slow");
        assert_int_equal(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
    }
    assert_true(wait_deferred(N, 10.0));
    /* Four answers pending on the only server thread: others are still served at once. */
    struct getter f = {0}, now = {0};
    url(f.url, sizeof f.url, "http", "127.0.0.1", d, "/fast");
    url(now.url, sizeof now.url, "http", "127.0.0.1", d, "/now");
    getter_main(&f);
    getter_main(&now);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.body, "fast");
    assert_true(f.took < 2.0);
    assert_int_equal(now.status, 200);
    assert_string_equal(now.body, "now");
    /* Completed from this thread, each answer reaches its own client. */
    for (int i = 0; i < N; i++) {
        struct kms_http_resp *r = kms_http_defer_resp(g_df[i]);
        r->status = 202;
        put_str(r, "late");
        expect_ok(kms_http_resp_header(r, "X-Deferred", i % 2 == 0 ? "even" : "odd"));
        kms_http_defer_done(g_df[i]);
    }
    int even = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(g[i].status, 202);
        even += strcmp(g[i].body, "lateeven") == 0;
        assert_true(strcmp(g[i].body, "lateeven") == 0 || strcmp(g[i].body, "lateodd") == 0);
    }
    assert_int_equal(even, N / 2);
    kms_httpd_stop(d);
}

struct stopper {
    struct kms_httpd *d;
    volatile int done;
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    kms_httpd_stop(s->d);
    __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void stop_waits_for_deferred_answers(void **state)
{
    (void)state;
    struct kms_httpd *d = start_defer();
    pthread_t t;
    struct getter g = {0};
    url(g.url, sizeof g.url, "http", "127.0.0.1", d, "/slow");
    assert_int_equal(pthread_create(&t, NULL, getter_main, &g), 0);
    assert_true(wait_deferred(1, 10.0));
    struct stopper s = {.d = d};
    pthread_t st;
    assert_int_equal(pthread_create(&st, NULL, stopper_main, &s), 0);
    sleep_ms(300);
    assert_int_equal(__atomic_load_n(&s.done, __ATOMIC_SEQ_CST), 0); /* still waiting */
    struct kms_http_resp *r = kms_http_defer_resp(g_df[0]);
    r->status = 503;
    kms_http_defer_done(g_df[0]);
    assert_int_equal(pthread_join(st, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* The answer completed during the stop was sent, or the connection closed: never a hang. */
    assert_true(g.status == 503 || g.status == -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_and_post_round_trip_with_headers),
        cmocka_unit_test(body_over_max_body_gets_413_and_server_survives),
        cmocka_unit_test(malformed_requests_get_4xx_and_server_keeps_serving),
        cmocka_unit_test(handler_cannot_split_response_headers),
        cmocka_unit_test(many_concurrent_requests_are_all_answered),
        cmocka_unit_test(stop_with_open_connections_returns_promptly),
        cmocka_unit_test(listen_addresses_are_checked),
        cmocka_unit_test(per_ip_limit_closes_the_connection_past_it),
        cmocka_unit_test(header_deadline_closes_slow_requests),
        cmocka_unit_test(a_prompt_request_is_not_cut_by_the_deadline),
        cmocka_unit_test(idle_timeout_closes_a_kept_alive_connection),
        cmocka_unit_test(invalid_content_length_gets_one_400_and_closes),
        cmocka_unit_test(header_count_and_media_type),
        cmocka_unit_test(client_checks_its_arguments),
        cmocka_unit_test(client_caps_the_response_body),
        cmocka_unit_test(tls_client_cert_names_reach_the_handler),
        cmocka_unit_test(tls_handshake_refuses_missing_untrusted_or_wrong_purpose_certs),
        cmocka_unit_test(optional_client_cert_dispatches_unverified_requests),
        cmocka_unit_test(tls_without_client_ca_never_verifies_clients),
        cmocka_unit_test(client_refuses_server_with_wrong_name_or_ca),
        cmocka_unit_test(deferred_answers_leave_the_thread_free),
        cmocka_unit_test(stop_waits_for_deferred_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "http/kms_httpc.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_BODY   (64u * 1024u)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe; run it once for the process. It is never undone:
 * curl_global_cleanup would race with requests still running in other threads. */
static pthread_key_t handle_key;

static void free_handle(void *h)
{
    curl_easy_cleanup(h);
}

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (global_rc == CURLE_OK && pthread_key_create(&handle_key, free_handle) != 0) {
        global_rc = CURLE_FAILED_INIT;
    }
}

/* This thread's easy handle, reset to the defaults (its connection and TLS session caches
 * stay); NULL when none can be made. */
static CURL *thread_handle(void)
{
    CURL *h = pthread_getspecific(handle_key);
    if (h != NULL) {
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h != NULL && pthread_setspecific(handle_key, h) != 0) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

/* The busy headers of the final response (when cfg->busy is set); a header sent twice is
 * taken as absent. */
#define BUSY_VALUE_MAX 24
struct busy_hdr {
    const char *name;
    char value[BUSY_VALUE_MAX + 1];
    unsigned seen;
};

struct call {
    const struct kms_httpc_req *req;
    struct kms_httpc_resp *resp;
    enum kms_err fail; /* why a callback stopped the transfer */
    int last_wanted;   /* index of the wanted header on the previous line, -1 if none */
    bool busy_on;
    struct busy_hdr busy[2]; /* Imskms-Reason, Retry-After */
};

/* The reasons of docs/api.md and the error each stands for. */
static const struct {
    const char *reason;
    enum kms_err err;
    const char *text;
} busy_reasons[] = {
    {"zn-unavailable", KMS_ERR_ZN_UNAVAILABLE, "could not reach the BSF"},
    {"store-unavailable", KMS_ERR_STORE, "cannot use its store"},
    {"starting", KMS_ERR_REPLAY_RESTART, "is starting"},
    {"overloaded", KMS_ERR_FULL, "is overloaded"},
};

static bool is_token(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Printable ASCII and tab only. */
static bool is_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch != '\t' && (ch < 0x20 || ch > 0x7e)) {
            return false;
        }
    }
    return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = size * n;
    if (!kms_ok(kms_buf_put_bytes(&c->resp->body, (const uint8_t *)p, len))) {
        c->fail = KMS_ERR_TOO_LONG;
        return 0; /* anything but len aborts the transfer */
    }
    return len;
}

static void forget_headers(struct kms_httpc_resp *r)
{
    for (size_t i = 0; i < KMS_HTTPC_MAX_WANT; i++) {
        free(r->got[i]);
        r->got[i] = NULL;
    }
}

/* Keeps Imskms-Reason and Retry-After (trimmed, cut at BUSY_VALUE_MAX: longer is no value
 * we know anyway). */
static void busy_header(struct call *c, const char *name, size_t nlen, const char *v, size_t vlen)
{
    for (size_t i = 0; c->busy_on && i < 2; i++) {
        struct busy_hdr *h = &c->busy[i];
        if (strlen(h->name) != nlen || strncasecmp(h->name, name, nlen) != 0) {
            continue;
        }
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
            vlen--;
        }
        size_t n = vlen < BUSY_VALUE_MAX ? vlen : BUSY_VALUE_MAX;
        memcpy(h->value, v, n);
        h->value[n] = '\0';
        h->seen++;
    }
}

/* A 503's reason into b (see struct kms_httpc_busy). */
static void busy_of(const struct call *c, int status, struct kms_httpc_busy *b)
{
    b->err = KMS_OK;
    b->reason = NULL;
    b->retry_after = 0;
    if (status != 503 || c->busy[0].seen != 1) {
        return;
    }
    for (size_t i = 0; i < sizeof(busy_reasons) / sizeof(busy_reasons[0]); i++) {
        if (strcmp(c->busy[0].value, busy_reasons[i].reason) == 0) {
            b->err = busy_reasons[i].err;
            b->reason = busy_reasons[i].reason;
        }
    }
    /*= RFC 9110, 10.2.3
     *# Retry-After = HTTP-date / delay-seconds
     *# delay-seconds  = 1*DIGIT
     */
    const char *ra = c->busy[1].value;
    size_t n = strlen(ra);
    if (b->err == KMS_OK || c->busy[1].seen != 1 || n == 0 || n > 9 ||
        strspn(ra, "0123456789") != n) {
        return; /* an HTTP-date, or nothing usable: no figure given */
    }
    unsigned long v = strtoul(ra, NULL, 10);
    b->retry_after = (unsigned)(v < 86400 ? v : 86400);
}

const char *kms_httpc_busy_text(const struct kms_httpc_busy *b)
{
    for (size_t i = 0; b != NULL && i < sizeof(busy_reasons) / sizeof(busy_reasons[0]); i++) {
        if (b->err != KMS_OK && b->err == busy_reasons[i].err) {
            return busy_reasons[i].text;
        }
    }
    return NULL;
}

/* One header line ("Name: value\r\n", or a status line) of any response curl reads. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response starts (after a 100 Continue): only the final one counts. */
        forget_headers(c->resp);
        c->last_wanted = -1;
        for (size_t i = 0; i < 2; i++) {
            c->busy[i].seen = 0;
        }
        return len;
    }
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r')) {
        len--;
    }
    if (len > 0 && (p[0] == ' ' || p[0] == '\t') && c->last_wanted >= 0) {
        c->fail = KMS_ERR_MALFORMED; /* obsolete line folding of a header we read: refuse */
        return 0;
    }
    c->last_wanted = -1;
    const char *colon = memchr(p, ':', len);
    if (colon == NULL) {
        return size * n;
    }
    size_t nlen = (size_t)(colon - p);
    busy_header(c, p, nlen, colon + 1, len - nlen - 1);
    for (int i = 0; i < KMS_HTTPC_MAX_WANT && c->req->want[i] != NULL; i++) {
        const char *w = c->req->want[i];
        if (strlen(w) != nlen || strncasecmp(w, p, nlen) != 0) {
            continue;
        }
        const char *v = colon + 1;
        size_t vlen = len - nlen - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
            vlen--;
        }
        if (c->resp->got[i] != NULL || !is_text(v, vlen)) {
            c->fail = KMS_ERR_MALFORMED; /* sent twice: which one would count is ambiguous */
            return 0;
        }
        if (vlen > KMS_HTTPC_VALUE_MAX) {
            c->fail = KMS_ERR_TOO_LONG;
            return 0;
        }
        c->resp->got[i] = strndup(v, vlen);
        if (c->resp->got[i] == NULL) {
            c->fail = KMS_ERR_NOMEM;
            return 0;
        }
        c->last_wanted = i;
        break;
    }
    return size * n;
}

static kms_result map_curl(CURLcode cc, enum kms_err fail)
{
    /* A callback that stopped the transfer knows why better than curl's code does. */
    KMS_ENSURE(cc == CURLE_OK || fail == KMS_OK, fail);
    switch (cc) {
    case CURLE_OK:
        return KMS_RESULT_OK;
    case CURLE_FILESIZE_EXCEEDED:
        KMS_BAIL(KMS_ERR_TOO_LONG);
    case CURLE_PEER_FAILED_VERIFICATION:
        KMS_BAIL(KMS_ERR_TLS_PEER);
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        KMS_BAIL(KMS_ERR_IO);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        KMS_BAIL(KMS_ERR_ARG);
    case CURLE_OUT_OF_MEMORY:
        KMS_BAIL(KMS_ERR_NOMEM);
    default:
        KMS_BAIL(KMS_ERR_HTTP);
    }
}

static kms_result check_req(const struct kms_httpc_req *req)
{
    KMS_ENSURE(req->method != NULL && req->url != NULL, KMS_ERR_ARG);
    KMS_ENSURE(is_token(req->method, strlen(req->method)), KMS_ERR_ARG);
    size_t ulen = strlen(req->url);
    KMS_ENSURE(is_text(req->url, ulen) && strpbrk(req->url, " \t") == NULL, KMS_ERR_ARG);
    KMS_ENSURE(strncasecmp(req->url, "http://", 7) == 0 ||
                   strncasecmp(req->url, "https://", 8) == 0,
               KMS_ERR_ARG);
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        const char *h = req->headers[i];
        const char *colon = strchr(h, ':');
        KMS_ENSURE(colon != NULL && is_token(h, (size_t)(colon - h)), KMS_ERR_ARG);
        KMS_ENSURE(is_text(colon + 1, strlen(colon + 1)), KMS_ERR_ARG);
    }
    return KMS_RESULT_OK;
}

/* A failed setopt is a programming error or out of memory; either way the request cannot go. */
#define SETOPT(rc, h, opt, val)                                                                    \
    KMS_ENSURE_OUT(rc, curl_easy_setopt((h), (opt), (val)) == CURLE_OK, KMS_ERR_HTTP)

kms_result kms_httpc_request(const struct kms_httpc_cfg *cfg, const struct kms_httpc_req *req,
                             struct kms_httpc_resp *resp)
{
    kms_result rc = KMS_RC_INIT;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    KMS_ENSURE_REF(resp);
    *resp = (struct kms_httpc_resp){0};
    KMS_ENSURE(cfg != NULL && req != NULL, KMS_ERR_ARG);
    kms_buf_init(&resp->body, cfg->max_body != 0 ? cfg->max_body : DEFAULT_MAX_BODY, true);
    KMS_TRY(check_req(req));
    KMS_ENSURE((cfg->cert_file == NULL) == (cfg->key_file == NULL), KMS_ERR_ARG);
    KMS_ENSURE(pthread_once(&global_once, global_init) == 0 && global_rc == CURLE_OK, KMS_ERR_HTTP);

    struct call c = {.req = req,
                     .resp = resp,
                     .fail = KMS_OK,
                     .last_wanted = -1,
                     .busy_on = cfg->busy != NULL,
                     .busy = {{.name = "Imskms-Reason"}, {.name = "Retry-After"}}};
    if (cfg->busy != NULL) {
        busy_of(&c, 0, cfg->busy); /* nothing yet */
    }
    h = thread_handle();
    KMS_ENSURE_OUT(rc, h != NULL, KMS_ERR_NOMEM);
    SETOPT(rc, h, CURLOPT_URL, req->url);
    SETOPT(rc, h, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(rc, h, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(rc, h, CURLOPT_PROXY, ""); /* "" overrides http_proxy & co. from the environment */
    SETOPT(rc, h, CURLOPT_NOSIGNAL, 1L);
    long ms = (long)(cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
    SETOPT(rc, h, CURLOPT_TIMEOUT_MS, ms);
    SETOPT(rc, h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    SETOPT(rc, h, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(rc, h, CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(rc, h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file != NULL) {
        /* Trust exactly this file: drop the built-in CA directory as well. */
        SETOPT(rc, h, CURLOPT_CAINFO, cfg->ca_file);
        SETOPT(rc, h, CURLOPT_CAPATH, (const char *)NULL);
    }
    if (cfg->cert_file != NULL) {
        SETOPT(rc, h, CURLOPT_SSLCERT, cfg->cert_file);
        SETOPT(rc, h, CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT(rc, h, CURLOPT_SSLKEY, cfg->key_file);
        SETOPT(rc, h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_off_t max = (curl_off_t)resp->body.max;
    SETOPT(rc, h, CURLOPT_MAXFILESIZE_LARGE, max); /* refuses a larger Content-Length early */
    SETOPT(rc, h, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(rc, h, CURLOPT_WRITEDATA, &c);
    SETOPT(rc, h, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(rc, h, CURLOPT_HEADERDATA, &c);

    bool post = strcmp(req->method, "POST") == 0;
    if (req->body != NULL || post) {
        static const uint8_t empty[1];
        SETOPT(rc, h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(rc, h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : empty);
        if (!post) {
            SETOPT(rc, h, CURLOPT_CUSTOMREQUEST, req->method);
        }
    } else if (strcmp(req->method, "GET") == 0) {
        SETOPT(rc, h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        SETOPT(rc, h, CURLOPT_NOBODY, 1L);
    } else {
        SETOPT(rc, h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        struct curl_slist *next = curl_slist_append(hdrs, req->headers[i]);
        KMS_ENSURE_OUT(rc, next != NULL, KMS_ERR_NOMEM);
        hdrs = next;
    }
    if (hdrs != NULL) {
        SETOPT(rc, h, CURLOPT_HTTPHEADER, hdrs);
    }

    CURLcode cc = curl_easy_perform(h); /* before reading c.fail, which the callbacks set */
    KMS_TRY_OUT(rc, map_curl(cc, c.fail));
    long status = 0;
    KMS_ENSURE_OUT(rc, curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK,
                   KMS_ERR_HTTP);
    KMS_ENSURE_OUT(rc, status >= 100 && status <= 599, KMS_ERR_HTTP);
    resp->status = (int)status;
    if (cfg->busy != NULL) {
        busy_of(&c, resp->status, cfg->busy);
    }
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        forget_headers(resp);
        kms_buf_reset(&resp->body);
    }
    curl_slist_free_all(hdrs);
    if (h != NULL) {
        /* Drop the pointers into this call's stack before the handle outlives it. */
        curl_easy_reset(h);
    }
    return rc;
}

void kms_httpc_resp_cleanup(struct kms_httpc_resp *resp)
{
    if (resp == NULL) {
        return;
    }
    forget_headers(resp);
    kms_buf_cleanup(&resp->body);
    resp->status = 0;
}

/* ---- start-up checks of the TLS files ---- */

static FILE *open_pem(const char *path)
{
    return fopen(path, "re");
}

kms_result kms_httpc_check_files(const struct kms_httpc_cfg *cfg, const char **which)
{
    KMS_ENSURE(cfg != NULL && which != NULL, KMS_ERR_ARG);
    *which = NULL;
    kms_result rc = KMS_RC_INIT;
    X509 *cert = NULL, *ca = NULL;
    EVP_PKEY *key = NULL;
    FILE *f = NULL;
    if (cfg->ca_file != NULL) {
        *which = "ca";
        f = open_pem(cfg->ca_file);
        KMS_ENSURE_OUT(rc, f != NULL, KMS_ERR_IO);
        ca = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        KMS_ENSURE_OUT(rc, ca != NULL, KMS_ERR_MALFORMED);
    }
    if (cfg->cert_file != NULL) {
        *which = "cert";
        f = open_pem(cfg->cert_file);
        KMS_ENSURE_OUT(rc, f != NULL, KMS_ERR_IO);
        cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        KMS_ENSURE_OUT(rc, cert != NULL, KMS_ERR_MALFORMED);
    }
    if (cfg->key_file != NULL) {
        *which = "key";
        f = open_pem(cfg->key_file);
        KMS_ENSURE_OUT(rc, f != NULL, KMS_ERR_IO);
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL); /* no passphrase prompt: NULL cb */
        fclose(f);
        KMS_ENSURE_OUT(rc, key != NULL, KMS_ERR_MALFORMED);
        KMS_ENSURE_OUT(rc, cert == NULL || X509_check_private_key(cert, key) == 1, KMS_ERR_ARG);
    }
    *which = NULL;
    rc = KMS_RESULT_OK;
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(key); /* frees (and cleanses) the key material */
    return rc;
}

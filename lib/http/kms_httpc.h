/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_httpc: one HTTP(S) request over libcurl (OpenSSL backend), for the KMS's Zn client and
 * the UE side of Ub and MIKEY.
 *
 * Each thread keeps one curl easy handle (reset between requests, freed when the thread exits),
 * so that its connections and TLS sessions are reused: libcurl only reuses a connection whose
 * TLS settings (CA, client certificate) match the request's. No state is shared between threads
 * (curl's global init runs once under pthread_once). A fresh mutual-TLS handshake per Zn query
 * cost the KMS about 2.4 ms of CPU per mode-1 exchange (bench_kms), hence the reuse.
 *
 * Fixed policy, not configurable: server certificates are always verified (chain and host name);
 * redirects are never followed; proxies from the environment (http_proxy, ...) are ignored;
 * only the http and https schemes are allowed; TLS 1.2 at least; no signals (timeouts work in
 * threads).
 */
#ifndef KMS_HTTP_HTTPC_H
#define KMS_HTTP_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "util/kms_buf.h"

/* Most response headers one request can ask for, and the longest value kept. */
#define KMS_HTTPC_MAX_WANT  4
#define KMS_HTTPC_VALUE_MAX 4096

/* Why an imskms server answered 503 (docs/api.md, "503 Service Unavailable, and why"): its
 * `Imskms-Reason` and `Retry-After` headers. */
struct kms_httpc_busy {
    enum kms_err err;     /* the reason's error: KMS_ERR_ZN_UNAVAILABLE (zn-unavailable),
                             KMS_ERR_STORE (store-unavailable), KMS_ERR_REPLAY_RESTART
                             (starting), KMS_ERR_FULL (overloaded); KMS_OK when the last answer
                             was no 503 or named no reason we know */
    const char *reason;   /* the reason as sent (a static string), NULL with KMS_OK */
    unsigned retry_after; /* Retry-After in seconds (delta-seconds only, at most 86400); 0
                             when absent or unreadable */
    const char *who;      /* the caller's name for the server ("the KMS"); never touched here */
};

struct kms_httpc_cfg {
    const char *ca_file;         /* PEM CA(s) trusted for https servers; NULL: the system store */
    const char *cert_file;       /* PEM client certificate (chain) for mutual TLS; NULL: none */
    const char *key_file;        /* its PEM private key */
    unsigned timeout_ms;         /* whole request, connect included (0: 10 s) */
    size_t max_body;             /* response body cap (0: 64 KiB) */
    struct kms_httpc_busy *busy; /* optional, written by every request: a 503's reason */
};

struct kms_httpc_req {
    const char *method;         /* "GET", "POST", ... (an HTTP token) */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; NULL for none */
    const uint8_t *body;        /* sent when non-NULL or when method is POST (may be empty) */
    size_t body_len;
    const char *want[KMS_HTTPC_MAX_WANT]; /* response headers to capture (case-insensitive),
                                             NULL-terminated when fewer */
};

struct kms_httpc_resp {
    int status;                    /* the final status code */
    struct kms_buf body;           /* the response body, capped at cfg.max_body */
    char *got[KMS_HTTPC_MAX_WANT]; /* value of want[i], NUL-terminated, trimmed; NULL if absent */
};

/*
 * Sends one request and reads the whole answer into *resp (set up here: the caller passes
 * uninitialised storage and always calls kms_httpc_resp_cleanup afterwards, on failure too).
 * Any status is a success of this call: the caller judges resp->status.
 * Errors: KMS_ERR_ARG (bad method, URL or a header with CR/LF), KMS_ERR_IO (a cfg file cannot be
 * read), KMS_ERR_TLS_PEER (server certificate not trusted or not for the URL's host; also a
 * client certificate the server refused at the handshake when the server says so),
 * KMS_ERR_TOO_LONG (body above cfg.max_body, or a wanted header above KMS_HTTPC_VALUE_MAX),
 * KMS_ERR_MALFORMED (a wanted header sent twice), KMS_ERR_HTTP (connect, timeout, protocol,
 * a TLS failure that is not about the server's certificate), KMS_ERR_NOMEM.
 */
KMS_MUST_CHECK kms_result kms_httpc_request(const struct kms_httpc_cfg *cfg,
                                            const struct kms_httpc_req *req,
                                            struct kms_httpc_resp *resp);

/* Checks, before any request, that the TLS files of cfg can be used: ca_file holds at least one
 * PEM certificate, cert_file a PEM certificate and key_file a PEM private key that belongs to it
 * (each only when set). On failure *which names the option's file that is at fault ("ca",
 * "cert" or "key"): KMS_ERR_IO when it cannot be read, KMS_ERR_MALFORMED when it holds no such
 * PEM object, KMS_ERR_ARG when the key is not the certificate's. */
KMS_MUST_CHECK kms_result kms_httpc_check_files(const struct kms_httpc_cfg *cfg,
                                                const char **which);

/* What a server that cannot serve now says, in a few words after b->who: "could not reach the
 * BSF", "cannot use its store", "is starting", "is overloaded"; NULL when b names no reason. */
const char *kms_httpc_busy_text(const struct kms_httpc_busy *b);

/* Frees the body (wiping it: a Zn answer carries Ks_NAF) and the captured headers. */
void kms_httpc_resp_cleanup(struct kms_httpc_resp *resp);

#endif

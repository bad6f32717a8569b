/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_httpd: a small HTTP(S) server over libmicrohttpd, for the daemons' Ub, Zn and MIKEY
 * interfaces. It does framing, limits and TLS; handlers are plain request -> response
 * functions that never see libmicrohttpd or GnuTLS.
 *
 * Limits (all enforced before a handler runs):
 *  - request line + headers: at most cfg.max_header bytes (libmicrohttpd's per-connection memory
 *    pool); a longer URI gets 414, longer headers 431 (both from libmicrohttpd);
 *  - body: accumulated in a capped buffer per connection; a declared Content-Length above
 *    cfg.max_body gets 413 before the body is read; a chunked body that grows past it gets the
 *    connection closed as soon as it does (libmicrohttpd 0.9.75 cannot queue a response while it
 *    reads a body, and reading on just to say 413 at the end would let a peer stream forever).
 *    A handler only runs once the whole body is in;
 *  - connections: at most cfg.max_conns at once, at most cfg.max_conns_per_ip from one
 *    address (libmicrohttpd closes any connection beyond either right after accepting it);
 *  - time: a request's headers and body must be complete cfg.header_timeout_s seconds after the
 *    connection was accepted, or the connection is shut down (a slow sender, slowloris, cannot
 *    hold a connection longer); on a keep-alive connection the next request must be complete
 *    within the larger of cfg.timeout_s and cfg.header_timeout_s after the previous one ended.
 *    Meanwhile a connection silent for cfg.timeout_s seconds is closed (libmicrohttpd's idle
 *    timeout, which any byte resets: alone it would let a byte every few seconds hold a
 *    connection forever).
 *
 * Framing: libmicrohttpd 0.9.75 parses the request line and headers. On top of it this server
 * refuses with 400 a request with more than one Content-Length, more than one Transfer-Encoding,
 * a Transfer-Encoding other than "chunked", both of those at once, or a header name that is not
 * a token. What it cannot change (docs/api.md, "Framing"): a bare LF ends a header line in
 * libmicrohttpd 0.9.75 at every strictness level, and a Content-Length that libmicrohttpd itself
 * cannot parse ("-1", "abc", "1 2", more than 20 digits) gets libmicrohttpd's own 400 (413 for
 * too many digits), whose status line and headers 0.9.75 writes twice before closing.
 *
 * TLS (cfg.cert_file set): libmicrohttpd's GnuTLS backend, TLS 1.2 and 1.3 only. With
 * cfg.client_ca_file the server asks for a client certificate and GnuTLS verifies it against that
 * CA *during the handshake*: a client without a certificate, or with one the CA did not issue,
 * never gets a request through (the handshake fails with a TLS alert; libmicrohttpd itself would
 * only *request* one, so the server sets GNUTLS_CERT_REQUIRE on each new session). With
 * cfg.client_cert_optional the handshake lets such clients through instead, and their requests
 * reach the handler with client_verified false. Either way every request on such a
 * connection is then checked again (gnutls_certificate_verify_peers, TLS client purpose) and the
 * result handed to the handler in client_verified / client_dns, so a handler that serves peers by
 * name (Zn: the NAF's FQDN, design.md section 2) always checks client_verified itself: the
 * handshake check is a first wall, not the only one.
 *
 * Threads: libmicrohttpd's internal epoll threads in a fixed pool of cfg.threads; a handler runs
 * on a pool thread, so handlers must be thread-safe and should not block for long (every
 * connection served by that thread waits meanwhile). A handler that has to wait on something
 * slow (the KMS's Zn queries) defers its answer instead (kms_http_defer): the connection is
 * suspended, the thread serves others, and the answer is completed later from any thread.
 */
#ifndef KMS_HTTP_HTTPD_H
#define KMS_HTTP_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "util/kms_buf.h"

/* Most subjectAltName dNSName entries handed to a handler (later ones are dropped). */
#define KMS_HTTP_MAX_CLIENT_DNS 8
/* Longest dNSName kept (RFC 1035: 253 characters); longer or non-LDH entries are dropped. */
#define KMS_HTTP_DNS_MAX 253
/* Extra response headers a handler may set, and their size limits. */
#define KMS_HTTP_MAX_RESP_HDRS 4
#define KMS_HTTP_HDR_NAME_MAX  64
#define KMS_HTTP_HDR_VALUE_MAX 1024
/* Cap on a handler's response body. */
#define KMS_HTTP_MAX_RESP_BODY (1024u * 1024u)

struct kms_http_conn; /* the server's per-connection state (opaque) */

/* One request, valid only during the handler call. Every pointer is borrowed from the server. */
struct kms_http_req {
    const char *method;   /* as sent: "GET", "POST", ... */
    const char *path;     /* the request target before any '?', raw (not percent-decoded) */
    const char *query;    /* raw text after the first '?', NULL when there is none */
    const uint8_t *body;  /* the whole body (NULL when body_len is 0); not NUL-terminated */
    size_t body_len;      /* at most cfg.max_body */
    bool tls;             /* the request came over TLS */
    bool client_verified; /* a client certificate chain verified against cfg.client_ca_file */
    const char *client_dns[KMS_HTTP_MAX_CLIENT_DNS]; /* its subjectAltName dNSName entries */
    size_t n_client_dns;         /* 0 unless client_verified; never taken from the subject CN */
    const char *peer_addr;       /* numeric peer address, "127.0.0.1" or "::1" */
    const char *request_id;      /* this request's id (16 hex digits), also sent back in the
                                    X-Request-Id header; made by the server, never the client's */
    struct kms_http_conn *conn_; /* private: header lookups */
};

/* The value of request header `name` (case-insensitive), NULL when absent. With repeated
 * headers, the first one. Borrowed until the handler returns. */
const char *kms_http_req_header(const struct kms_http_req *req, const char *name);

/* How many times request header `name` (case-insensitive) occurred: 0 when absent. A header a
 * handler reads once (Authorization) and finds more than once is the client's error (400). */
size_t kms_http_req_header_count(const struct kms_http_req *req, const char *name);

/* Does a Content-Type value name the media type `type` ("application/mikey")? Compared without
 * regard to case, parameters ignored ("Application/MIKEY; charset=x" names application/mikey,
 * RFC 9110 8.3.1); NULL (no Content-Type) names none. */
bool kms_http_media_type_is(const char *value, const char *type);

struct kms_http_resp_hdr {
    char name[KMS_HTTP_HDR_NAME_MAX + 1];
    char value[KMS_HTTP_HDR_VALUE_MAX + 1];
};

/* What a handler tells the request log and the metrics about its answer (kms_httpd_cfg.done):
 * the error code behind the status, the line's level, the identities the request named and a
 * message. Identities (IMPI, IMPU, B-TID) go to the log only, never into metrics labels. */
#define KMS_HTTP_NOTE_IDS    4
#define KMS_HTTP_NOTE_ID_MAX 128
#define KMS_HTTP_NOTE_MSG    1024
struct kms_http_note {
    enum kms_err code; /* KMS_OK for a success */
    int level;         /* the log line's enum kms_log_level; -1: from the status */
    bool quiet;        /* no line of its own (counted all the same: a flood's summary) */
    bool probe;        /* a health or readiness probe: not counted with the traffic */
    size_t n_ids;
    const char *id_key[KMS_HTTP_NOTE_IDS]; /* static: "impi", "impu", "btid", "naf", ... */
    char id_val[KMS_HTTP_NOTE_IDS][KMS_HTTP_NOTE_ID_MAX + 1];
    char msg[KMS_HTTP_NOTE_MSG]; /* "" when none */
};

/* The handler's answer. The server initialises it (status 500, no content type, an empty body
 * capped at KMS_HTTP_MAX_RESP_BODY) before the call and frees it after. Every response also
 * carries `Cache-Control: no-store`. */
struct kms_http_resp {
    int status;               /* 100..599; anything else is answered with 500 */
    const char *content_type; /* a static string, e.g. "application/json"; NULL: none */
    struct kms_buf body;      /* write with kms_buf_put_*; mark .secret if it holds keys */
    struct kms_http_resp_hdr hdrs[KMS_HTTP_MAX_RESP_HDRS];
    size_t n_hdrs;
    struct kms_http_note note; /* code KMS_OK, level -1, nothing else until the handler sets it */
};

/* Adds an identity to resp->note (copied, cut at KMS_HTTP_NOTE_ID_MAX; dropped beyond
 * KMS_HTTP_NOTE_IDS or when val is NULL or empty). key must be a static string. */
void kms_http_note_id(struct kms_http_resp *resp, const char *key, const char *val);

/* Adds a response header (copied). The name must be an HTTP token, the value printable ASCII
 * (tab allowed, no CR/LF), and neither may be a header the server owns (Content-Length,
 * Content-Type, Transfer-Encoding, Connection, Cache-Control, X-Request-Id). KMS_ERR_ARG for a bad
 * name or value, KMS_ERR_TOO_LONG when too long or when KMS_HTTP_MAX_RESP_HDRS are already set. */
KMS_MUST_CHECK kms_result kms_http_resp_header(struct kms_http_resp *resp, const char *name,
                                               const char *value);

/* A text/plain answer: the status is the error table's for err on iface (kms_wire_of), the
 * body `text`, or the error's message and a newline when text is NULL; with the busy headers of
 * kms_http_resp_busy; resp->note.code becomes err. For a daemon's own answers (health, unknown
 * path, wrong method, internal failure). */
void kms_http_resp_text(struct kms_http_resp *resp, enum kms_iface iface, enum kms_err err,
                        const char *text);

/* For a refusal because the server itself cannot serve now (the error table's busy column:
 * kms_wire_of(iface, err).reason set, on a 503): adds `Imskms-Reason: <reason>`
 * and `Retry-After: <seconds>` (retry_after, or the table's default when 0). Adds nothing for
 * any other error, in particular never for an authentication failure (docs/api.md). */
KMS_MUST_CHECK kms_result kms_http_resp_busy(struct kms_http_resp *resp, enum kms_iface iface,
                                             enum kms_err err, unsigned retry_after);

/* Called once per complete request, on a server thread; must fill resp, or defer the answer
 * (kms_http_defer) and leave resp alone. */
typedef void (*kms_http_handler)(void *ctx, const struct kms_http_req *req,
                                 struct kms_http_resp *resp);

/* ---- deferred answers ----
 * A handler that cannot answer without waiting calls kms_http_defer(req), hands the returned
 * handle to another thread and returns at once (whatever it put in its resp is ignored). The
 * connection is suspended: the server thread serves other connections meanwhile, no time-out of
 * the server's closes it (neither the header deadline, over once the request is in, nor the idle
 * timeout, which restarts when the answer is completed), so the completer must bound the wait
 * itself. The other thread fills kms_http_defer_resp(df) like a handler fills its resp and calls
 * kms_http_defer_done(df) exactly once; the server then sends that answer.
 *
 * Every handle handed out must be completed: kms_httpd_stop first waits for all of them
 * (libmicrohttpd cannot stop with a connection suspended), so the completers must be told to
 * finish (or to answer at once) before or while the server stops. The request (req and what it
 * points to) is the handler's only until it returns: copy what the completer needs. */
struct kms_http_defer;

/* From inside a handler, once per request: the handle, or NULL when the answer cannot be
 * deferred (out of memory, already deferred, or the server is stopping): the handler then
 * answers in resp as usual. */
struct kms_http_defer *kms_http_defer(const struct kms_http_req *req);

/* The answer to fill, initialised like a handler's resp (status 500, no content type, an empty
 * body capped at KMS_HTTP_MAX_RESP_BODY, wiped when sent). Borrowed until kms_http_defer_done. */
struct kms_http_resp *kms_http_defer_resp(struct kms_http_defer *df);

/* Hands the answer over, from any thread; df is not to be used again. When the client's
 * connection went away meanwhile, the answer is dropped. */
void kms_http_defer_done(struct kms_http_defer *df);

/* One answered request, for the request log and the metrics (kms_httpd_cfg.done): called on
 * the server thread that queued the answer, after it is queued, for every request that reached
 * the access handler: a handler's answer (deferred or not), and the server's own refusals
 * (400 framing, 413; note->code says which). Borrowed for the call. */
struct kms_http_done {
    enum kms_iface iface;
    const char *request_id;
    const char *peer_addr;
    const char *method; /* "" when unknown */
    const char *path;   /* the target before any '?', cut at 128 characters */
    int status;
    uint64_t duration_us; /* from the request line read to the answer queued */
    bool tls;
    const struct kms_http_note *note;
};
typedef void (*kms_http_done_fn)(void *ctx, const struct kms_http_done *done);

struct kms_httpd_cfg {
    const char *listen;         /* numeric "127.0.0.1:8080", "[::1]:8443", "[::]:80"; port 0 picks
                                   a free one (kms_httpd_port); "::" listens dual-stack */
    size_t max_body;            /* request body cap (0: 64 KiB) */
    size_t max_header;          /* request line + headers cap (0: 16 KiB; at least 4 KiB) */
    unsigned max_conns;         /* simultaneous connections (0: 64); at least threads */
    unsigned max_conns_per_ip;  /* simultaneous connections from one address (0: max_conns) */
    unsigned timeout_s;         /* idle timeout per connection (0: 30 s) */
    unsigned header_timeout_s;  /* a request's headers and body complete within this many
                                   seconds of the accept (0: 5 s); see Limits above */
    unsigned threads;           /* server threads (0: 2) */
    const char *cert_file;      /* PEM certificate chain: TLS when set */
    const char *key_file;       /* PEM private key (read, handed over, then wiped) */
    const char *client_ca_file; /* PEM CA(s): require and verify client certificates */
    bool client_cert_optional;  /* with client_ca_file: ask for a certificate but let the
                                   handshake through without a valid one; such requests reach
                                   the handler with client_verified false (it answers 403) */
    enum kms_iface iface;       /* the interface served: the error table's column for the
                                   server's own answers (400, 413, 500); default KMS_IFACE_KMS */
    kms_http_done_fn done;      /* NULL: none; see struct kms_http_done */
    void *done_ctx;             /* borrowed; must outlive the server */
};

struct kms_httpd;

/* Starts serving in background threads. The files are read once here; ctx is borrowed and must
 * outlive the server. KMS_ERR_ARG for a bad cfg or listen address, KMS_ERR_IO when a file cannot
 * be read, KMS_ERR_HTTP when the server cannot start (port in use, bad key or certificate).
 * *out is NULL on failure. */
KMS_MUST_CHECK kms_result kms_httpd_start(const struct kms_httpd_cfg *cfg, kms_http_handler h,
                                          void *ctx, struct kms_httpd **out);

/* The port the server listens on (the one picked when cfg.listen asked for port 0). */
uint16_t kms_httpd_port(const struct kms_httpd *d);

/* How many connections the server holds now (for tests and the log). */
unsigned kms_httpd_connections(struct kms_httpd *d);

/* Seconds a drain waits for requests in flight: a reload's old daemon, and a stop. Every
 * request must be whole within the header timeout (5 s by default) and handlers are short, so
 * 10 s lets in-flight requests finish; a client that is still sending after that is cut off. */
#define KMS_HTTPD_DRAIN_S 10u

/* Checks cfg as kms_httpd_start would, without binding its address: the fields, the listen
 * address's syntax, and with TLS that the certificate and key files read, parse and match and
 * that the client CA file holds at least one certificate. On failure *which names the part at
 * fault: "listen", "cert", "key" or "client-ca". KMS_ERR_IO: a file cannot be read;
 * KMS_ERR_MALFORMED: no PEM certificate, key or CA in it; KMS_ERR_ARG: the key is not the
 * certificate's, or a bad field. */
KMS_MUST_CHECK kms_result kms_httpd_check(const struct kms_httpd_cfg *cfg, const char **which);

/* Reloads a TLS server's certificate, key and client CA files from cfg (its other fields are
 * ignored: listen address, threads and limits need a restart). libmicrohttpd loads
 * certificates once, so this starts a new libmicrohttpd daemon with the new files on (a
 * duplicate of) the same listening socket, then has the old one stop accepting
 * (MHD_quiesce_daemon) and drain: its idle kept-alive connections are closed at once, its
 * requests in flight finish with "Connection: close", and it is stopped when it has no
 * connection left or after KMS_HTTPD_DRAIN_S. New connections get the new certificate at once.
 * Either it fully succeeds, or the old daemon serves on untouched and the result says why
 * (kms_httpd_check's errors; KMS_ERR_ARG for a server without TLS or a change between a
 * required and an optional client certificate; KMS_ERR_FULL while MAX_GENS - 1 earlier reloads
 * still drain; KMS_ERR_HTTP when the new daemon does not start). Main thread only. */
KMS_MUST_CHECK kms_result kms_httpd_reload(struct kms_httpd *d, const struct kms_httpd_cfg *cfg);

/* Stops accepting: the listening socket stops listening (new clients are refused) and the
 * drain described at kms_httpd_reload begins. For a daemon with several servers, to drain them
 * all at once before kms_httpd_stop. NULL or a second call does nothing. */
void kms_httpd_quiesce(struct kms_httpd *d);

/* Stops: kms_httpd_quiesce if not done, then waits until every request in flight is answered
 * and its connection closed, at most KMS_HTTPD_DRAIN_S (then closes what is left); a request
 * whose answer was deferred is always waited for: new deferrals are refused and every deferred
 * answer handed out must be completed (kms_http_defer_done) first (a daemon suspended for one
 * is never stopped). Then waits for running handlers to return, frees everything. NULL does
 * nothing. */
void kms_httpd_stop(struct kms_httpd *d);

#endif

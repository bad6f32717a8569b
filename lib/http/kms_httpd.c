/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server glue over libmicrohttpd (MHD) 0.9.75 with its GnuTLS backend.
 *
 * State lives in one struct per *connection*, created and destroyed by MHD's connection
 * notifications (which always come in pairs), not per request: MHD only reports the end of a
 * request that reached the access handler, so anything allocated earlier for a request that MHD
 * then rejects (bad header line, header too large) would leak. The per-request fields are reset
 * when MHD reports the start of the next request (the URI log callback).
 *
 * Threading choice: MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL with a fixed thread pool
 * (MHD_OPTION_THREAD_POOL_SIZE), not a thread per connection. The handlers are short and CPU
 * bound (crypto, one SQLite or PKCS#11 call); a fixed pool keeps the thread count, and with it
 * memory, independent of how many peers connect or how slowly they send (a thread per connection
 * would give every slow client a thread and an 8 MiB stack reservation up to max_conns).
 *
 * The header deadline (cfg.header_timeout_s): MHD 0.9.75 only has an idle timeout, which every
 * byte resets, so a client sending one header byte a second holds a connection forever. Each
 * connection therefore carries a deadline, armed when MHD reports it (accept) and again when a
 * request on it completes (keep-alive), disarmed when a whole request is in and answered. Armed
 * connections sit on one list in deadline order, and a sweeper thread shuts down the socket of
 * every connection at the head whose deadline has passed; MHD then sees the socket closed and
 * cleans up as usual.
 */
#include "http/kms_httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/kms_mem.h"

#define DEFAULT_MAX_BODY   (64u * 1024u)
#define DEFAULT_MAX_HEADER (16u * 1024u)
#define MIN_MAX_HEADER     (4u * 1024u)
#define DEFAULT_MAX_CONNS  64u
#define DEFAULT_TIMEOUT_S  30u
#define DEFAULT_HEADER_S   5u
#define SWEEP_PERIOD_MS    100u
#define DEFAULT_THREADS    2u
#define MAX_PEM_FILE       (256u * 1024u)
#define DRAIN_MS           (KMS_HTTPD_DRAIN_S * 1000u)
/* MHD daemons of one server at once: the serving one and those still draining after reloads. */
#define MAX_GENS 4

/* TLS 1.2 and 1.3 only; GnuTLS's NORMAL set otherwise (forward-secret AEAD suites first). */
static char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE";

/* One libmicrohttpd daemon of a server. A reload starts a new one on the same listening socket
 * (a dup of it) and retires the old one, which finishes its connections (each answer then
 * says "Connection: close") and is stopped by the sweeper once it has none left or its drain
 * time is over. Everything but mhd and retired is under the server's mu. */
struct httpd_gen {
    struct kms_httpd *d;
    struct MHD_Daemon *mhd; /* NULL: a free slot */
    int quiesced_fd;        /* the listening descriptor MHD_quiesce_daemon handed back, or -1:
                               closed only after MHD_stop_daemon (libmicrohttpd's rule) */
    unsigned n_conns;
    unsigned n_suspended; /* connections suspended for a deferred answer: never stopped while
                             any is (MHD 0.9.75 panics), whatever until_ms says */
    uint64_t until_ms;    /* retired: stopped at this time at the latest */
    atomic_bool retired;  /* read by the server threads without the lock */
    bool reaping;         /* the sweeper is stopping it (outside the lock) */
};

struct kms_httpd {
    struct httpd_gen gens[MAX_GENS];
    struct httpd_gen *cur;     /* the one accepting connections; NULL once draining */
    struct kms_httpd_cfg base; /* cfg of kms_httpd_start, without its strings (reloads) */
    unsigned mhd_flags;
    kms_http_handler handler;
    void *ctx;
    kms_http_done_fn done; /* the request log and metrics (NULL: none) */
    void *done_ctx;
    size_t max_body;
    enum kms_iface iface;
    bool tls;
    bool require_client_cert;
    uint16_t port;
    /* the header deadline: everything below under mu */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the sweeper's sleep, on CLOCK_MONOTONIC */
    pthread_t sweeper;
    bool mu_ready, sweeper_running, stopping;
    uint64_t header_ms; /* a new connection's deadline: cfg.header_timeout_s */
    uint64_t next_ms;   /* a kept-alive connection's: the larger of it and timeout_s */
    struct kms_http_conn *armed_head, *armed_tail; /* armed connections, earliest first */
    unsigned n_conns;
    /* deferred answers (kms_http_defer), under mu */
    pthread_cond_t defer_cv; /* signalled when n_defer_open drops to 0 */
    bool defer_cv_ready;
    bool defer_closed;     /* kms_httpd_stop has begun: no new deferred answers */
    unsigned n_defer_open; /* handed out and not yet completed */
};

/* A deferred answer (kms_http_defer): created by a handler, completed by any thread. Owned by
 * its connection (c->df) from creation until it is answered or the connection closes; the
 * fields below are under d->mu. */
struct kms_http_defer {
    struct kms_httpd *d;
    struct kms_http_conn *c; /* NULL once the connection is gone (the completer frees) */
    struct kms_http_resp resp;
    bool suspended; /* MHD_suspend_connection was called for it */
    bool ready;     /* kms_http_defer_done was called */
};

struct kms_http_conn {
    struct kms_httpd *d;
    struct httpd_gen *gen; /* the daemon that accepted it */
    struct MHD_Connection *mc;
    char peer[INET6_ADDRSTRLEN];
    /* the header deadline, under d->mu */
    int fd;               /* the socket, owned by MHD; -1 when unknown */
    uint64_t deadline_ms; /* monotonic; meaningful while armed */
    bool armed;           /* on d's armed list */
    bool idle;            /* kept alive between two requests: closed at once by a drain */
    struct kms_http_conn *armed_prev, *armed_next;
    /* per request, reset by uri_log() */
    char *uri;           /* raw request target as sent (MHD bounds it by the memory limit) */
    char rid[17];        /* the request id (X-Request-Id) */
    char method[16];     /* as sent, cut (for the log) */
    uint64_t t0_us;      /* monotonic: the request line was read */
    struct kms_buf body; /* capped at max_body */
    bool started;        /* the access handler has seen this request */
    bool too_big;        /* the body went past max_body */
    bool verified;
    size_t n_dns;
    char dns[KMS_HTTP_MAX_CLIENT_DNS][KMS_HTTP_DNS_MAX + 1];
    struct kms_http_defer *df; /* this request's deferred answer, under d->mu */
};

/* The TLS client purpose (extendedKeyUsage clientAuth) every client certificate must allow. A
 * certificate without extendedKeyUsage allows every purpose (RFC 5280 4.2.1.12). */
static char kp_tls_client[] = GNUTLS_KP_TLS_WWW_CLIENT;
static gnutls_typed_vdata_st client_purpose[] = {
    {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)kp_tls_client, .size = 0},
};

/* ---- the header deadline ------------------------------------------------------------------ */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- request ids ----
 * 16 hex digits: a random 64-bit start drawn once per process plus a counter shared by every
 * listener, so ids are unique within a run and do not repeat across restarts in practice. Not
 * secret and not a capability: only a handle to find a request's log line. A client's own
 * X-Request-Id is never used (it could forge or collide with another's). */
static atomic_uint_fast64_t rid_next;
static pthread_once_t rid_once = PTHREAD_ONCE_INIT;

static void rid_seed(void)
{
    uint64_t seed = 0;
    if (getentropy(&seed, sizeof(seed)) != 0) {
        seed = mono_us() ^ ((uint64_t)getpid() << 32);
    }
    atomic_store(&rid_next, seed);
}

static void rid_make(char out[17])
{
    static const char hex[] = "0123456789abcdef";
    (void)pthread_once(&rid_once, rid_seed);
    uint64_t v = atomic_fetch_add_explicit(&rid_next, 1, memory_order_relaxed);
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[v & 0xf];
        v >>= 4;
    }
    out[16] = '\0';
}

/* Both under d->mu. */
static void deadline_disarm_locked(struct kms_httpd *d, struct kms_http_conn *c)
{
    if (!c->armed) {
        return;
    }
    if (c->armed_prev != NULL) {
        c->armed_prev->armed_next = c->armed_next;
    } else {
        d->armed_head = c->armed_next;
    }
    if (c->armed_next != NULL) {
        c->armed_next->armed_prev = c->armed_prev;
    } else {
        d->armed_tail = c->armed_prev;
    }
    c->armed_prev = c->armed_next = NULL;
    c->armed = false;
}

/* Every armed deadline of d is now + header_ms or now + next_ms: two lists would keep the order
 * exactly; one list sorted on insertion from the tail costs a step or two per arm in practice
 * (the newest deadline is nearly always the latest). */
static void deadline_arm_locked(struct kms_httpd *d, struct kms_http_conn *c, uint64_t ms)
{
    deadline_disarm_locked(d, c);
    if (c->fd < 0) {
        return;
    }
    c->deadline_ms = mono_ms() + ms;
    struct kms_http_conn *after = d->armed_tail;
    while (after != NULL && after->deadline_ms > c->deadline_ms) {
        after = after->armed_prev;
    }
    c->armed_prev = after;
    c->armed_next = after != NULL ? after->armed_next : d->armed_head;
    if (c->armed_next != NULL) {
        c->armed_next->armed_prev = c;
    } else {
        d->armed_tail = c;
    }
    if (after != NULL) {
        after->armed_next = c;
    } else {
        d->armed_head = c;
    }
    c->armed = true;
}

/* ms 0: disarm. */
static void deadline_arm(struct kms_http_conn *c, uint64_t ms)
{
    struct kms_httpd *d = c->d;
    pthread_mutex_lock(&d->mu);
    if (ms != 0) {
        deadline_arm_locked(d, c, ms);
    } else {
        deadline_disarm_locked(d, c);
    }
    pthread_mutex_unlock(&d->mu);
}

/*
 * Why the sweeper never shuts down a descriptor that belongs to someone else: a connection is on
 * the armed list from its MHD_CONNECTION_NOTIFY_STARTED until its MHD_CONNECTION_NOTIFY_CLOSED
 * at the latest, and notify_conn takes it off the list under d->mu before returning. MHD 0.9.75
 * calls the CLOSED notification *before* it closes the socket (daemon.c, MHD_cleanup_connections
 * and the failure path of internal_add_connection), and closes it only after that call returns.
 * The sweeper calls shutdown() only while holding d->mu and only on connections on the list, so
 * each descriptor it touches is still open and still this connection's: the kernel cannot have
 * handed the number to a new socket, because it has not been closed yet. shutdown() (not close())
 * leaves the descriptor to MHD, which reads end-of-stream, closes the connection and notifies.
 */
static void gens_reap_locked(struct kms_httpd *d);

static void *sweeper_main(void *arg)
{
    struct kms_httpd *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stopping) {
        uint64_t now = mono_ms();
        while (d->armed_head != NULL && d->armed_head->deadline_ms <= now) {
            struct kms_http_conn *c = d->armed_head;
            deadline_disarm_locked(d, c);
            (void)shutdown(c->fd, SHUT_RDWR);
        }
        gens_reap_locked(d);
        struct timespec until;
        (void)clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)SWEEP_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&d->wake, &d->mu, &until);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static kms_result sweeper_start(struct kms_httpd *d)
{
    pthread_condattr_t ca;
    KMS_ENSURE(pthread_condattr_init(&ca) == 0, KMS_ERR_NOMEM);
    bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&d->wake, &ca) == 0;
    (void)pthread_condattr_destroy(&ca);
    KMS_ENSURE(ok, KMS_ERR_NOMEM);
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        (void)pthread_cond_destroy(&d->wake);
        return KMS_ERR(KMS_ERR_NOMEM);
    }
    d->mu_ready = true;
    KMS_ENSURE(pthread_create(&d->sweeper, NULL, sweeper_main, d) == 0, KMS_ERR_NOMEM);
    d->sweeper_running = true;
    return KMS_RESULT_OK;
}

static void sweeper_stop(struct kms_httpd *d)
{
    if (d->sweeper_running) {
        pthread_mutex_lock(&d->mu);
        d->stopping = true;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->mu);
        (void)pthread_join(d->sweeper, NULL);
        d->sweeper_running = false;
    }
}

/* ---- request side ------------------------------------------------------------------------- */

const char *kms_http_req_header(const struct kms_http_req *req, const char *name)
{
    if (req == NULL || req->conn_ == NULL || name == NULL) {
        return NULL;
    }
    return MHD_lookup_connection_value(req->conn_->mc, MHD_HEADER_KIND, name);
}

struct header_count {
    const char *name;
    size_t n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                    const char *value)
{
    struct header_count *hc = cls;
    (void)kind;
    (void)value;
    if (name != NULL && strcasecmp(name, hc->name) == 0) {
        hc->n++;
    }
    return MHD_YES;
}

static size_t header_count(struct MHD_Connection *mc, const char *name)
{
    struct header_count hc = {name, 0};
    (void)MHD_get_connection_values(mc, MHD_HEADER_KIND, count_header, &hc);
    return hc.n;
}

size_t kms_http_req_header_count(const struct kms_http_req *req, const char *name)
{
    if (req == NULL || req->conn_ == NULL || name == NULL) {
        return 0;
    }
    return header_count(req->conn_->mc, name);
}

bool kms_http_media_type_is(const char *value, const char *type)
{
    if (value == NULL || type == NULL) {
        return false;
    }
    size_t n = strlen(type);
    if (strncasecmp(value, type, n) != 0) {
        return false;
    }
    /*= RFC 9110, 8.3.1
     *# media-type = type "/" subtype parameters
     *# parameters = *( OWS ";" OWS [ parameter ] )
     */
    const char *rest = value + n;
    rest += strspn(rest, " \t");
    return *rest == '\0' || *rest == ';';
}

static void conn_reset_request(struct kms_http_conn *c)
{
    free(c->uri);
    c->uri = NULL;
    kms_buf_reset(&c->body);
    c->started = false;
    c->too_big = false;
    c->verified = false;
    c->n_dns = 0;
}

static struct kms_http_defer *defer_detach_locked(struct kms_http_conn *c);
static void defer_free(struct kms_http_defer *df);

static void conn_free(struct kms_http_conn *c)
{
    if (c == NULL) {
        return;
    }
    struct kms_httpd *d = c->d;
    pthread_mutex_lock(&d->mu);
    deadline_disarm_locked(d, c); /* before MHD closes the socket: see sweeper_main */
    d->n_conns--;
    c->gen->n_conns--;
    struct kms_http_defer *df = defer_detach_locked(c);
    pthread_mutex_unlock(&d->mu);
    defer_free(df);
    conn_reset_request(c);
    kms_buf_cleanup(&c->body);
    free(c);
}

static void peer_address(struct kms_http_conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const void *a = NULL;
    int af = AF_UNSPEC;
    if (ci != NULL && ci->client_addr != NULL) {
        af = ci->client_addr->sa_family;
        if (af == AF_INET) {
            a = &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr;
        } else if (af == AF_INET6) {
            a = &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr;
        }
    }
    if (a == NULL || inet_ntop(af, a, c->peer, sizeof c->peer) == NULL) {
        (void)snprintf(c->peer, sizeof c->peer, "?");
    }
}

/* Between two requests of a kept-alive connection, or not. A connection of a draining daemon
 * that falls idle is shut down at once (it is on the armed list: see sweeper_main); its client
 * reconnects, to the new daemon. */
static void conn_set_idle(struct kms_http_conn *c, bool idle)
{
    struct kms_httpd *d = c->d;
    pthread_mutex_lock(&d->mu);
    c->idle = idle;
    if (idle && c->armed && atomic_load(&c->gen->retired)) {
        deadline_disarm_locked(d, c);
        (void)shutdown(c->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&d->mu);
}

/* Connection start and end: MHD calls both for every accepted connection. */
static void notify_conn(void *cls, struct MHD_Connection *mc, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    struct httpd_gen *g = cls;
    struct kms_httpd *d = g->d;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_free(*socket_context);
        *socket_context = NULL;
        return;
    }
    struct kms_http_conn *c = calloc(1, sizeof *c);
    *socket_context = c;
    if (c == NULL) {
        return; /* the access handler refuses every request of this connection */
    }
    c->d = d;
    c->gen = g;
    c->mc = mc;
    kms_buf_init(&c->body, d->max_body, true);
    peer_address(c);
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = fi != NULL ? (int)fi->connect_fd : -1;
    pthread_mutex_lock(&d->mu);
    d->n_conns++;
    g->n_conns++;
    deadline_arm_locked(d, c, d->header_ms);
    pthread_mutex_unlock(&d->mu);
    if (d->require_client_cert) {
        /* MHD itself only *requests* a client certificate (GNUTLS_CERT_REQUEST) when given a
         * trust store; the session exists before the handshake starts, so require one here and
         * have GnuTLS verify it (chain to the CA, TLS client purpose) inside the handshake. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci != NULL && ci->tls_session != NULL) {
            gnutls_session_t s = ci->tls_session;
            gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
            gnutls_session_set_verify_cert2(s, client_purpose, 1, 0);
        }
    }
}

/* Start of every request (MHD has read the request line, not yet the headers). Its return value
 * becomes the access handler's *req_cls. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    (void)cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct kms_http_conn *c = ci != NULL ? ci->socket_context : NULL;
    if (c == NULL) {
        return NULL;
    }
    conn_reset_request(c);
    conn_set_idle(c, false);
    c->uri = strdup(uri != NULL ? uri : "");
    c->t0_us = mono_us();
    c->method[0] = '\0';
    rid_make(c->rid);
    return c;
}

/* End of a request (MHD_OPTION_NOTIFY_COMPLETED). On a connection kept alive, the next request
 * must be complete within next_ms from now: the larger of the idle and header timeouts, so that
 * a keep-alive connection may wait its idle timeout for the next request but no slow request
 * holds it longer. On one being closed, the CLOSED notification follows and takes the
 * connection off the list anyway. */
static void request_done(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)req_cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct kms_http_conn *c = ci != NULL ? ci->socket_context : NULL;
    if (c != NULL) {
        deadline_arm(c, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? c->d->next_ms : 0);
        conn_set_idle(c, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    }
}

/* Is s a host name of letters, digits, hyphens and dots (no wildcard, no empty label)? */
static bool is_ldh_name(const char *s, size_t len)
{
    if (len == 0 || len > KMS_HTTP_DNS_MAX || s[0] == '.' || s[len - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || (ch == '.' && s[i + 1] != '.');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The subjectAltName dNSName entries of a verified peer certificate (never the subject CN). */
static void collect_dns_names(struct kms_http_conn *c, gnutls_x509_crt_t crt)
{
    for (unsigned i = 0; c->n_dns < KMS_HTTP_MAX_CLIENT_DNS; i++) {
        char name[KMS_HTTP_DNS_MAX + 2];
        size_t len = sizeof name;
        int t = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len, NULL);
        if (t == GNUTLS_E_SHORT_MEMORY_BUFFER) {
            continue; /* longer than any host name: not one of ours */
        }
        if (t < 0) {
            break; /* GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE: no more entries */
        }
        /* A NUL inside the name (len counts up to the real end) would let
         * "good.example\0.evil" pass as "good.example": drop such entries. */
        if (t != GNUTLS_SAN_DNSNAME || len >= sizeof name || strlen(name) != len ||
            !is_ldh_name(name, len)) {
            continue;
        }
        memcpy(c->dns[c->n_dns], name, len + 1);
        c->n_dns++;
    }
}

/* Verifies the client certificate chain of this TLS session against the configured CA, for the
 * TLS client purpose, and reads its names. Any failure leaves verified false and no names. */
static void check_client_cert(struct kms_http_conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL) {
        return;
    }
    gnutls_session_t s = ci->tls_session;
    unsigned status = 0;
    unsigned n = 0;
    if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 ||
        gnutls_certificate_verify_peers(s, client_purpose, 1, &status) != GNUTLS_E_SUCCESS ||
        status != 0) {
        return;
    }
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
    if (chain == NULL || n == 0) {
        return;
    }
    gnutls_x509_crt_t crt = NULL;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS) {
        c->verified = true;
        collect_dns_names(c, crt);
    }
    gnutls_x509_crt_deinit(crt);
}

/* ---- response side ------------------------------------------------------------------------ */

static bool is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Printable ASCII and tab: never CR, LF or other controls (no header splitting). */
static bool is_header_value(const char *v)
{
    for (; *v != '\0'; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch != '\t' && (ch < 0x20 || ch > 0x7e)) {
            return false;
        }
    }
    return true;
}

static const char *const owned_headers[] = {"Content-Length", "Content-Type",  "Transfer-Encoding",
                                            "Connection",     "Cache-Control", "X-Request-Id"};

kms_result kms_http_resp_busy(struct kms_http_resp *resp, enum kms_iface iface, enum kms_err err,
                              unsigned retry_after)
{
    struct kms_wire w = kms_wire_of(iface, err);
    if (w.reason == NULL) {
        return KMS_RESULT_OK;
    }
    char v[16];
    int n = snprintf(v, sizeof(v), "%u", retry_after > 0 ? retry_after : w.retry_after);
    KMS_ENSURE(n > 0 && (size_t)n < sizeof(v), KMS_ERR_INTERNAL);
    KMS_TRY(kms_http_resp_header(resp, "Imskms-Reason", w.reason));
    return kms_http_resp_header(resp, "Retry-After", v);
}

void kms_http_resp_text(struct kms_http_resp *resp, enum kms_iface iface, enum kms_err err,
                        const char *text)
{
    resp->status = kms_wire_of(iface, err).status;
    resp->note.code = err;
    resp->content_type = "text/plain";
    kms_buf_reset(&resp->body);
    bool ok = text != NULL
                  ? kms_ok(kms_buf_put_bytes(&resp->body, (const uint8_t *)text, strlen(text)))
                  : kms_ok(kms_buf_put_bytes(&resp->body, (const uint8_t *)kms_strerror(err),
                                             strlen(kms_strerror(err)))) &&
                        kms_ok(kms_buf_put_u8(&resp->body, '\n'));
    if (!ok) {
        kms_buf_reset(&resp->body);
        resp->content_type = NULL; /* an empty body still carries the status */
    }
    /* The table's reasons and small numbers always fit the header limits. */
    if (!kms_ok(kms_http_resp_busy(resp, iface, err, 0))) {
        resp->n_hdrs = 0; /* the status alone then */
    }
}

kms_result kms_http_resp_header(struct kms_http_resp *resp, const char *name, const char *value)
{
    KMS_ENSURE(resp != NULL && name != NULL && value != NULL, KMS_ERR_ARG);
    size_t nlen = strlen(name);
    size_t vlen = strlen(value);
    KMS_ENSURE(nlen > 0, KMS_ERR_ARG);
    KMS_ENSURE(nlen <= KMS_HTTP_HDR_NAME_MAX && vlen <= KMS_HTTP_HDR_VALUE_MAX, KMS_ERR_TOO_LONG);
    for (size_t i = 0; i < nlen; i++) {
        KMS_ENSURE(is_token_char(name[i]), KMS_ERR_ARG);
    }
    KMS_ENSURE(is_header_value(value), KMS_ERR_ARG);
    for (size_t i = 0; i < sizeof owned_headers / sizeof owned_headers[0]; i++) {
        KMS_ENSURE(strcasecmp(name, owned_headers[i]) != 0, KMS_ERR_ARG);
    }
    KMS_ENSURE(resp->n_hdrs < KMS_HTTP_MAX_RESP_HDRS, KMS_ERR_TOO_LONG);
    struct kms_http_resp_hdr *h = &resp->hdrs[resp->n_hdrs];
    memcpy(h->name, name, nlen + 1);
    memcpy(h->value, value, vlen + 1);
    resp->n_hdrs++;
    return KMS_RESULT_OK;
}

void kms_http_note_id(struct kms_http_resp *resp, const char *key, const char *val)
{
    struct kms_http_note *n = resp != NULL ? &resp->note : NULL;
    if (n == NULL || key == NULL || val == NULL || val[0] == '\0' ||
        n->n_ids >= KMS_HTTP_NOTE_IDS) {
        return;
    }
    n->id_key[n->n_ids] = key;
    (void)snprintf(n->id_val[n->n_ids], sizeof(n->id_val[0]), "%s", val);
    n->n_ids++;
}

/* A response body copy that is wiped when MHD is done with it (it may hold Ks_NAF). */
struct body_copy {
    size_t len;
    uint8_t data[];
};

static void body_copy_free(void *cls)
{
    struct body_copy *b = cls;
    if (b != NULL) {
        kms_wipe(b->data, b->len);
        free(b);
    }
}

static struct MHD_Response *build_response(const struct kms_http_resp *r, const char *rid)
{
    size_t len = kms_buf_len(&r->body);
    struct body_copy *b = malloc(sizeof *b + len + 1);
    if (b == NULL) {
        return NULL;
    }
    b->len = len;
    if (len > 0) {
        memcpy(b->data, kms_buf_data(&r->body), len);
    }
    struct MHD_Response *mr =
        MHD_create_response_from_buffer_with_free_callback_cls(len, b->data, body_copy_free, b);
    if (mr == NULL) {
        body_copy_free(b);
        return NULL;
    }
    bool ok = MHD_add_response_header(mr, "Cache-Control", "no-store") == MHD_YES &&
              MHD_add_response_header(mr, "X-Request-Id", rid) == MHD_YES;
    if (ok && r->content_type != NULL) {
        ok = is_header_value(r->content_type) &&
             MHD_add_response_header(mr, "Content-Type", r->content_type) == MHD_YES;
    }
    for (size_t i = 0; ok && i < r->n_hdrs && i < KMS_HTTP_MAX_RESP_HDRS; i++) {
        ok = MHD_add_response_header(mr, r->hdrs[i].name, r->hdrs[i].value) == MHD_YES;
    }
    if (!ok) {
        MHD_destroy_response(mr);
        return NULL;
    }
    return mr;
}

/* The answers of a draining daemon close their connection (the client comes back to the new
 * daemon, or finds the server stopped). */
static void drain_close(const struct kms_http_conn *c, struct MHD_Response *mr)
{
    if (atomic_load_explicit(&c->gen->retired, memory_order_relaxed)) {
        (void)MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    }
}

/* The request log and metrics hook (d->done) for an answer just queued. */
static void report(const struct kms_http_conn *c, unsigned status, const struct kms_http_note *note)
{
    const struct kms_httpd *d = c->d;
    if (d->done == NULL) {
        return;
    }
    char path[129];
    const char *uri = c->uri != NULL ? c->uri : "";
    size_t n = strcspn(uri, "?");
    n = n < sizeof(path) - 1 ? n : sizeof(path) - 1;
    memcpy(path, uri, n);
    path[n] = '\0';
    uint64_t now = mono_us();
    struct kms_http_done done = {.iface = d->iface,
                                 .request_id = c->rid,
                                 .peer_addr = c->peer,
                                 .method = c->method,
                                 .path = path,
                                 .status = (int)status,
                                 .duration_us = now > c->t0_us ? now - c->t0_us : 0,
                                 .tls = d->tls,
                                 .note = note};
    d->done(d->done_ctx, &done);
}

/* An empty-bodied error answer of the server's own (400, 413, 500), its status the error
 * table's for the interface served. The request is over: its deadline no longer applies. */
static enum MHD_Result queue_status(struct kms_http_conn *c, enum kms_err err)
{
    struct MHD_Connection *mc = c->mc;
    const struct kms_httpd *d = c->d;
    deadline_arm(c, 0);
    unsigned status = (unsigned)kms_wire_of(d->iface, err).status;
    struct kms_http_resp r = {.status = (int)status, .note = {.code = err, .level = -1}};
    kms_buf_init(&r.body, 0, false);
    struct MHD_Response *mr = build_response(&r, c->rid);
    if (mr == NULL) {
        return MHD_NO;
    }
    drain_close(c, mr);
    enum MHD_Result ret = MHD_queue_response(mc, status, mr);
    MHD_destroy_response(mr);
    report(c, status, &r.note);
    return ret;
}

/* A handler's response storage, as every handler gets it. */
static void resp_init(const struct kms_httpd *d, struct kms_http_resp *resp)
{
    *resp = (struct kms_http_resp){.status = kms_wire_of(d->iface, KMS_ERR_INTERNAL).status,
                                   .note = {.code = KMS_OK, .level = -1}};
    kms_buf_init(&resp->body, KMS_HTTP_MAX_RESP_BODY, false);
}

static void resp_cleanup(struct kms_http_resp *resp)
{
    /* The body may hold keys whether or not the handler marked it secret. */
    resp->body.secret = true;
    kms_buf_cleanup(&resp->body);
}

/* Queues a handler's answer (500 when it is not one) and frees resp's storage. */
static enum MHD_Result queue_resp(struct kms_http_conn *c, struct kms_http_resp *resp)
{
    struct MHD_Response *mr = NULL;
    unsigned status = 0;
    if (resp->status >= 100 && resp->status <= 599) {
        status = (unsigned)resp->status;
        mr = build_response(resp, c->rid);
    }
    resp_cleanup(resp);
    if (mr == NULL) {
        return queue_status(c, KMS_ERR_INTERNAL);
    }
    drain_close(c, mr);
    enum MHD_Result ret = MHD_queue_response(c->mc, status, mr);
    MHD_destroy_response(mr);
    report(c, status, &resp->note);
    return ret;
}

static enum MHD_Result defer_suspend(struct kms_http_conn *c);
static enum MHD_Result defer_answer(struct kms_http_conn *c);

static enum MHD_Result dispatch(struct kms_http_conn *c, const char *method)
{
    struct kms_httpd *d = c->d;
    deadline_arm(c, 0); /* the whole request is in: the idle timeout takes over */
    const char *uri = c->uri != NULL ? c->uri : "";
    char *query = strchr(c->uri != NULL ? c->uri : "", '?');
    struct kms_http_req req = {
        .method = method,
        .path = uri,
        .body = kms_buf_len(&c->body) > 0 ? kms_buf_data(&c->body) : NULL,
        .body_len = kms_buf_len(&c->body),
        .tls = d->tls,
        .client_verified = c->verified,
        .n_client_dns = c->verified ? c->n_dns : 0,
        .peer_addr = c->peer,
        .request_id = c->rid,
        .conn_ = c,
    };
    if (query != NULL) {
        *query = '\0'; /* c->uri is ours: split path and query in place */
        req.query = query + 1;
    }
    for (size_t i = 0; i < req.n_client_dns; i++) {
        req.client_dns[i] = c->dns[i];
    }
    struct kms_http_resp resp;
    resp_init(d, &resp);
    d->handler(d->ctx, &req, &resp);
    if (c->df != NULL) { /* the handler deferred its answer (kms_http_defer) */
        resp_cleanup(&resp);
        return defer_suspend(c);
    }
    return queue_resp(c, &resp);
}

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                    const char *value)
{
    bool *ok = cls;
    (void)kind;
    size_t n = name != NULL ? strlen(name) : 0;
    bool good = n > 0;
    for (size_t i = 0; good && i < n; i++) {
        good = is_token_char(name[i]);
    }
    if (!good || (value != NULL && !is_header_value(value))) {
        *ok = false;
        return MHD_NO;
    }
    return MHD_YES;
}

/* MHD 0.9.75 lets header names with spaces and the like through even in strict mode; our peers
 * have no reason to send them, and handlers should never have to think about them. */
static bool headers_well_formed(struct MHD_Connection *mc)
{
    bool ok = true;
    (void)MHD_get_connection_values(mc, MHD_HEADER_KIND, check_header, &ok);
    return ok;
}

/* Is the declared Content-Length above the cap? (MHD has already rejected values it cannot
 * parse, and framing_ok more than one.) */
static bool declared_too_big(struct MHD_Connection *mc, size_t max)
{
    const char *cl =
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl == NULL) {
        return false;
    }
    size_t v = 0;
    for (; *cl >= '0' && *cl <= '9'; cl++) {
        size_t digit = (size_t)(*cl - '0');
        if (v > (max - digit) / 10) {
            return true;
        }
        v = v * 10 + digit;
    }
    return false;
}

/* The framing MHD 0.9.75 lets through and we refuse (RFC 9112 6.1, 6.3): more than one
 * Content-Length (MHD silently uses the first), more than one Transfer-Encoding or one other than
 * "chunked" (MHD would read such a body until the peer closes), and both at once (the
 * request-smuggling pattern). */
static bool framing_ok(struct MHD_Connection *mc)
{
    size_t n_cl = header_count(mc, MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t n_te = header_count(mc, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (n_cl > 1 || n_te > 1 || (n_cl > 0 && n_te > 0)) {
        return false;
    }
    const char *te =
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te == NULL || strcasecmp(te, "chunked") == 0;
}

/*
 * MHD's calling pattern: a first call per request with *upload_size == 0 (headers read), then
 * one call per body chunk (we must consume it: *upload_size = 0), then a final call with 0.
 */
static enum MHD_Result access_handler(void *cls, struct MHD_Connection *mc, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_size, void **req_cls)
{
    (void)cls;
    (void)url; /* percent-decoded by MHD; handlers get the raw target instead */
    (void)version;
    struct kms_http_conn *c = *req_cls;
    if (c == NULL || c->uri == NULL) {
        return MHD_NO; /* out of memory earlier: drop the connection */
    }
    if (c->df != NULL) {
        return defer_answer(c); /* called again after a resume */
    }
    if (!c->started) {
        c->started = true;
        (void)snprintf(c->method, sizeof(c->method), "%s", method != NULL ? method : "");
        if (!framing_ok(mc) || !headers_well_formed(mc) || !is_header_value(c->uri)) {
            return queue_status(c, KMS_ERR_MALFORMED);
        }
        if (c->d->tls) {
            check_client_cert(c);
        }
        if (declared_too_big(mc, c->d->max_body)) {
            /* Answered before the body is read: MHD then closes the connection. */
            return queue_status(c, KMS_ERR_BODY_TOO_LARGE);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!c->too_big &&
            !kms_ok(kms_buf_put_bytes(&c->body, (const uint8_t *)upload, *upload_size))) {
            c->too_big = true;
            kms_buf_reset(&c->body);
        }
        *upload_size = 0;
        if (c->too_big) {
            /* A chunked body past the cap. MHD 0.9.75 refuses a response in mid-body and then
             * closes the connection, which is what we want: never read an unbounded body just
             * to say 413 at its end. (A later MHD that accepts it sends the 413.) */
            return queue_status(c, KMS_ERR_BODY_TOO_LARGE);
        }
        return MHD_YES;
    }
    if (c->too_big) {
        return queue_status(c, KMS_ERR_BODY_TOO_LARGE);
    }
    return dispatch(c, method);
}

/* ---- deferred answers --------------------------------------------------------------------- */

/*
 * A handler that must wait (kmsd: a Zn query) calls kms_http_defer and returns; the connection
 * is then suspended (MHD_suspend_connection, called from the access handler as MHD requires)
 * and the server thread goes on serving others. kms_http_defer_done, from any thread, marks the
 * answer ready and resumes the connection (MHD_resume_connection, safe from any thread; the
 * daemon runs with MHD_ALLOW_SUSPEND_RESUME, whose inter-thread channel wakes the connection's
 * thread); MHD then calls the access handler again, which queues the answer.
 *
 * Exactly one resume per suspend: the completer may finish before the access handler has
 * suspended the connection, and MHD 0.9.75 turns a resume that comes before the suspend into a
 * cancelled suspend (the connection would stay active with no answer queued). So both steps
 * happen under d->mu: defer_suspend suspends only when the answer is not ready yet, and the
 * completer resumes only a connection defer_suspend has suspended. MHD takes its own
 * cleanup_connection_mutex inside both calls and never calls back into us while holding it
 * (daemon.c 0.9.75: MHD_cleanup_connections drops it around the CLOSED notification), so
 * holding d->mu across them cannot deadlock.
 *
 * Time limits: the header deadline was disarmed when the whole request came in (dispatch), and
 * MHD does not time out a suspended connection (nor see its peer close); its idle timeout
 * restarts at the resume. The completer bounds the wait (kmsd: the Zn time-out).
 *
 * Stop: MHD 0.9.75 panics when stopped with a connection still suspended ("MHD_stop_daemon()
 * called while we have suspended connections"); a resumed one it closes cleanly. So
 * kms_httpd_stop first refuses new deferrals and waits until every deferred answer handed out
 * has been completed (see kms_httpd.h), then stops MHD.
 */

static void defer_free(struct kms_http_defer *df)
{
    if (df != NULL) {
        resp_cleanup(&df->resp);
        free(df);
    }
}

/* The connection is going away (under d->mu): a ready answer is freed by the caller; one still
 * pending is left to its completer, which frees it (kms_http_defer_done). */
static struct kms_http_defer *defer_detach_locked(struct kms_http_conn *c)
{
    struct kms_http_defer *df = c->df;
    c->df = NULL;
    if (df == NULL) {
        return NULL;
    }
    df->c = NULL;
    return df->ready ? df : NULL;
}

struct kms_http_defer *kms_http_defer(const struct kms_http_req *req)
{
    if (req == NULL || req->conn_ == NULL) {
        return NULL;
    }
    struct kms_http_conn *c = req->conn_;
    struct kms_httpd *d = c->d;
    struct kms_http_defer *df = calloc(1, sizeof(*df));
    if (df == NULL) {
        return NULL;
    }
    df->d = d;
    df->c = c;
    resp_init(d, &df->resp);
    pthread_mutex_lock(&d->mu);
    bool ok = c->df == NULL && !d->defer_closed;
    if (ok) {
        c->df = df;
        d->n_defer_open++;
    }
    pthread_mutex_unlock(&d->mu);
    if (!ok) {
        defer_free(df);
        return NULL;
    }
    return df;
}

struct kms_http_resp *kms_http_defer_resp(struct kms_http_defer *df)
{
    return df != NULL ? &df->resp : NULL;
}

void kms_http_defer_done(struct kms_http_defer *df)
{
    if (df == NULL) {
        return;
    }
    struct kms_httpd *d = df->d;
    pthread_mutex_lock(&d->mu);
    df->ready = true;
    bool orphan = df->c == NULL;
    if (!orphan && df->suspended) {
        MHD_resume_connection(df->c->mc);
        df->c->gen->n_suspended--;
    }
    if (--d->n_defer_open == 0) {
        pthread_cond_broadcast(&d->defer_cv);
    }
    pthread_mutex_unlock(&d->mu);
    if (orphan) {
        defer_free(df); /* its connection closed first: nobody to answer */
    }
}

/* After the handler deferred: suspend the connection unless the answer is ready already. */
static enum MHD_Result defer_suspend(struct kms_http_conn *c)
{
    struct kms_httpd *d = c->d;
    pthread_mutex_lock(&d->mu);
    bool ready = c->df->ready;
    if (!ready) {
        MHD_suspend_connection(c->mc);
        c->df->suspended = true;
        c->gen->n_suspended++;
    }
    pthread_mutex_unlock(&d->mu);
    return ready ? defer_answer(c) : MHD_YES;
}

/* The access handler's call for a request whose answer was deferred: queue it once ready. */
static enum MHD_Result defer_answer(struct kms_http_conn *c)
{
    struct kms_httpd *d = c->d;
    pthread_mutex_lock(&d->mu);
    struct kms_http_defer *df = c->df;
    if (df->ready) {
        c->df = NULL;
    } else {
        df = NULL; /* not ours to answer yet (MHD calls again after the resume) */
    }
    pthread_mutex_unlock(&d->mu);
    if (df == NULL) {
        return MHD_YES;
    }
    enum MHD_Result ret = queue_resp(c, &df->resp);
    free(df); /* queue_resp freed the response's storage */
    return ret;
}

/* kms_httpd_stop's first step: no new deferrals, and every open one completed. */
static void defer_close(struct kms_httpd *d)
{
    if (!d->mu_ready || !d->defer_cv_ready) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->defer_closed = true;
    while (d->n_defer_open > 0) {
        pthread_cond_wait(&d->defer_cv, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
}

/* ---- start and stop ----------------------------------------------------------------------- */

/* Reads a whole PEM file (bounded) as a NUL-terminated string. */
static kms_result read_pem(const char *path, char **out, size_t *out_len)
{
    kms_result rc = KMS_RC_INIT;
    char *buf = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    KMS_ENSURE_OUT(rc, fd >= 0, KMS_ERR_IO);
    struct stat st;
    KMS_ENSURE_OUT(rc, fstat(fd, &st) == 0 && S_ISREG(st.st_mode), KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, st.st_size > 0 && (size_t)st.st_size <= MAX_PEM_FILE, KMS_ERR_TOO_LONG);
    size_t cap = (size_t)st.st_size;
    buf = malloc(cap + 1);
    KMS_ENSURE_OUT(rc, buf != NULL, KMS_ERR_NOMEM);
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        KMS_ENSURE_OUT(rc, n > 0, KMS_ERR_IO);
        len += (size_t)n;
    }
    buf[len] = '\0';
    KMS_ENSURE_OUT(rc, strlen(buf) == len, KMS_ERR_MALFORMED);
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = KMS_RESULT_OK;
out:
    if (buf != NULL) {
        kms_wipe(buf, cap + 1);
        free(buf);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    return rc;
}

static void free_pem(char *p, size_t len)
{
    if (p != NULL) {
        kms_wipe(p, len);
        free(p);
    }
}

/* "a.b.c.d:port", "[v6]:port": numeric addresses only (a listener never resolves names). */
static kms_result parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
                               bool *any6)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    size_t hlen;
    KMS_ENSURE_REF(s);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        KMS_ENSURE(end != NULL && end[1] == ':', KMS_ERR_ARG);
        hlen = (size_t)(end - s - 1);
        KMS_ENSURE(hlen > 0 && hlen < sizeof host, KMS_ERR_ARG);
        memcpy(host, s + 1, hlen);
        port = end + 2;
    } else {
        const char *colon = strchr(s, ':');
        KMS_ENSURE(colon != NULL && strchr(colon + 1, ':') == NULL, KMS_ERR_ARG);
        hlen = (size_t)(colon - s);
        KMS_ENSURE(hlen > 0 && hlen < sizeof host, KMS_ERR_ARG);
        memcpy(host, s, hlen);
        port = colon + 1;
    }
    host[hlen] = '\0';
    size_t plen = strlen(port);
    KMS_ENSURE(plen > 0 && plen <= 5 && strspn(port, "0123456789") == plen, KMS_ERR_ARG);
    KMS_ENSURE(strtoul(port, NULL, 10) <= 65535, KMS_ERR_ARG);

    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    KMS_ENSURE(getaddrinfo(host, port, &hints, &ai) == 0 && ai != NULL, KMS_ERR_ARG);
    bool fits = ai->ai_addrlen <= sizeof *ss;
    if (fits) {
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        *sl = ai->ai_addrlen;
    }
    freeaddrinfo(ai);
    KMS_ENSURE(fits, KMS_ERR_ARG);
    *any6 = false;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)ss;
        *any6 = memcmp(&a6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
    }
    return KMS_RESULT_OK;
}

struct pems {
    char *cert, *key, *ca;
    size_t cert_len, key_len, ca_len;
};

static void pems_free(struct pems *p)
{
    free_pem(p->cert, p->cert_len);
    free_pem(p->key, p->key_len);
    free_pem(p->ca, p->ca_len);
    *p = (struct pems){0};
}

/* Starts g, a libmicrohttpd daemon of d with cfg's limits and TLS files: on a new socket bound
 * to *ss, or (ss NULL, a reload) on listen_fd, which it then owns. */
static kms_result gen_start(struct kms_httpd *d, struct httpd_gen *g,
                            const struct kms_httpd_cfg *cfg, const struct sockaddr_storage *ss,
                            int listen_fd)
{
    kms_result rc = KMS_RC_INIT;
    struct pems pem = {0};
    size_t max_header = cfg->max_header != 0 ? cfg->max_header : DEFAULT_MAX_HEADER;
    unsigned idle_s = cfg->timeout_s != 0 ? cfg->timeout_s : DEFAULT_TIMEOUT_S;
    unsigned threads = cfg->threads != 0 ? cfg->threads : DEFAULT_THREADS;
    unsigned max_conns = cfg->max_conns != 0 ? cfg->max_conns : DEFAULT_MAX_CONNS;
    /* MHD divides the connection limit among the pool's threads. */
    KMS_ENSURE_OUT(rc, max_conns >= threads, KMS_ERR_ARG);

    struct MHD_OptionItem ops[18];
    size_t n = 0;
    if (ss != NULL) {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)ss};
    } else {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, (intptr_t)listen_fd, NULL};
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)max_conns, NULL};
    ops[n++] = (struct MHD_OptionItem){
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (intptr_t)(cfg->max_conns_per_ip != 0 ? cfg->max_conns_per_ip : max_conns), NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)idle_s, NULL};
    ops[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)max_header, NULL};
    /* Level 1 in MHD 0.9.75 refuses an HTTP/1.1 request without Host and a space inside the
     * request target, nothing more: a bare LF still ends a line, and whitespace before a header's
     * colon is refused only at level -1 (sic). headers_well_formed refuses such names itself;
     * bare LF stays accepted (docs/api.md, "Framing"). */
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
    if (d->tls) {
        KMS_TRY_OUT(rc, read_pem(cfg->cert_file, &pem.cert, &pem.cert_len));
        KMS_TRY_OUT(rc, read_pem(cfg->key_file, &pem.key, &pem.key_len));
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, pem.cert};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, pem.key};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, tls_priorities};
        if (cfg->client_ca_file != NULL) {
            KMS_TRY_OUT(rc, read_pem(cfg->client_ca_file, &pem.ca, &pem.ca_len));
            ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, pem.ca};
        }
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    g->d = d;
    g->quiesced_fd = -1;
    g->n_conns = 0;
    atomic_store(&g->retired, false);
    struct MHD_Daemon *mhd = MHD_start_daemon(
        d->mhd_flags, 0, NULL, NULL, access_handler, d, MHD_OPTION_NOTIFY_CONNECTION, notify_conn,
        g, MHD_OPTION_URI_LOG_CALLBACK, uri_log, d, MHD_OPTION_NOTIFY_COMPLETED, request_done, d,
        MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    KMS_ENSURE_OUT(rc, mhd != NULL, KMS_ERR_HTTP);
    pthread_mutex_lock(&d->mu);
    g->mhd = mhd;
    pthread_mutex_unlock(&d->mu);
    rc = KMS_RESULT_OK;
out:
    /* MHD loaded the PEM data into its GnuTLS credentials at start and keeps no use for our
     * copies: the key copy is wiped now, not at exit. */
    pems_free(&pem);
    return rc;
}

/* Stops a daemon that is not (or no longer) on any list: MHD_stop_daemon closes its
 * connections and waits for its threads; then the listening descriptor it gave back. */
static void gen_stop(struct httpd_gen *g)
{
    MHD_stop_daemon(g->mhd); /* the CLOSED notifications still take d->mu */
    if (g->quiesced_fd >= 0) {
        (void)close(g->quiesced_fd);
        g->quiesced_fd = -1;
    }
}

/* Under d->mu: g stops accepting connections (its listening descriptor was handed back), its
 * idle connections are shut down now, the others get "Connection: close" with their answer;
 * the sweeper stops it once it has no connection left, or at until_ms. */
static void gen_retire_locked(struct kms_httpd *d, struct httpd_gen *g, uint64_t until_ms)
{
    g->until_ms = until_ms;
    atomic_store(&g->retired, true);
    for (struct kms_http_conn *c = d->armed_head; c != NULL;) {
        struct kms_http_conn *next = c->armed_next;
        if (c->gen == g && c->idle) {
            deadline_disarm_locked(d, c);
            (void)shutdown(c->fd, SHUT_RDWR);
        }
        c = next;
    }
    pthread_cond_signal(&d->wake);
}

static void gens_reap_locked(struct kms_httpd *d)
{
    for (size_t i = 0; i < MAX_GENS; i++) {
        struct httpd_gen *g = &d->gens[i];
        if (g->mhd == NULL || g->reaping || !atomic_load(&g->retired) || g->n_suspended > 0 ||
            (g->n_conns > 0 && mono_ms() < g->until_ms)) {
            continue;
        }
        /* MHD_stop_daemon waits for its threads, whose CLOSED notifications take the lock. */
        g->reaping = true;
        pthread_mutex_unlock(&d->mu);
        gen_stop(g);
        pthread_mutex_lock(&d->mu);
        g->mhd = NULL;
        g->reaping = false;
    }
}

kms_result kms_httpd_check(const struct kms_httpd_cfg *cfg, const char **which)
{
    kms_result rc = KMS_RC_INIT;
    struct pems pem = {0};
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_x509_crt_t *crts = NULL;
    unsigned n_crts = 0;
    gnutls_x509_privkey_t key = NULL;
    KMS_ENSURE(which != NULL, KMS_ERR_ARG);
    *which = "listen";
    KMS_ENSURE(cfg != NULL, KMS_ERR_ARG);
    size_t max_header = cfg->max_header != 0 ? cfg->max_header : DEFAULT_MAX_HEADER;
    KMS_ENSURE(max_header >= MIN_MAX_HEADER, KMS_ERR_ARG);
    unsigned threads = cfg->threads != 0 ? cfg->threads : DEFAULT_THREADS;
    KMS_ENSURE((cfg->max_conns != 0 ? cfg->max_conns : DEFAULT_MAX_CONNS) >= threads, KMS_ERR_ARG);
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool any6 = false;
    KMS_TRY(parse_listen(cfg->listen, &ss, &sl, &any6));
    *which = "cert";
    KMS_ENSURE((cfg->key_file != NULL) == (cfg->cert_file != NULL), KMS_ERR_ARG);
    KMS_ENSURE(cfg->client_ca_file == NULL || cfg->cert_file != NULL, KMS_ERR_ARG);
    KMS_ENSURE(!cfg->client_cert_optional || cfg->client_ca_file != NULL, KMS_ERR_ARG);
    if (cfg->cert_file != NULL) {
        KMS_TRY_OUT(rc, read_pem(cfg->cert_file, &pem.cert, &pem.cert_len));
        gnutls_datum_t d = {(unsigned char *)pem.cert, (unsigned)pem.cert_len};
        KMS_ENSURE_OUT(rc,
                       gnutls_x509_crt_list_import2(&crts, &n_crts, &d, GNUTLS_X509_FMT_PEM, 0) >=
                               0 &&
                           n_crts > 0,
                       KMS_ERR_MALFORMED);
        *which = "key";
        KMS_TRY_OUT(rc, read_pem(cfg->key_file, &pem.key, &pem.key_len));
        gnutls_datum_t k = {(unsigned char *)pem.key, (unsigned)pem.key_len};
        KMS_ENSURE_OUT(rc, gnutls_x509_privkey_init(&key) >= 0, KMS_ERR_NOMEM);
        KMS_ENSURE_OUT(rc, gnutls_x509_privkey_import2(key, &k, GNUTLS_X509_FMT_PEM, NULL, 0) >= 0,
                       KMS_ERR_MALFORMED);
        KMS_ENSURE_OUT(rc, gnutls_certificate_allocate_credentials(&cred) >= 0, KMS_ERR_NOMEM);
        /* The pair must match, as GnuTLS checks it when libmicrohttpd loads it. */
        KMS_ENSURE_OUT(
            rc,
            gnutls_certificate_set_x509_key_mem2(cred, &d, &k, GNUTLS_X509_FMT_PEM, NULL, 0) >= 0,
            KMS_ERR_ARG);
        if (cfg->client_ca_file != NULL) {
            *which = "client-ca";
            KMS_TRY_OUT(rc, read_pem(cfg->client_ca_file, &pem.ca, &pem.ca_len));
            gnutls_datum_t ca = {(unsigned char *)pem.ca, (unsigned)pem.ca_len};
            KMS_ENSURE_OUT(
                rc, gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM) > 0,
                KMS_ERR_MALFORMED);
        }
    }
    *which = NULL;
    rc = KMS_RESULT_OK;
out:
    if (cred != NULL) {
        gnutls_certificate_free_credentials(cred);
    }
    if (key != NULL) {
        gnutls_x509_privkey_deinit(key);
    }
    for (unsigned i = 0; i < n_crts; i++) {
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);
    pems_free(&pem);
    return rc;
}

kms_result kms_httpd_start(const struct kms_httpd_cfg *cfg, kms_http_handler h, void *ctx,
                           struct kms_httpd **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_httpd *d = NULL;
    KMS_ENSURE_REF(out);
    *out = NULL;
    KMS_ENSURE(cfg != NULL && h != NULL, KMS_ERR_ARG);
    KMS_ENSURE((cfg->key_file != NULL) == (cfg->cert_file != NULL), KMS_ERR_ARG);
    KMS_ENSURE(cfg->client_ca_file == NULL || cfg->cert_file != NULL, KMS_ERR_ARG);
    KMS_ENSURE(!cfg->client_cert_optional || cfg->client_ca_file != NULL, KMS_ERR_ARG);
    size_t max_header = cfg->max_header != 0 ? cfg->max_header : DEFAULT_MAX_HEADER;
    KMS_ENSURE(max_header >= MIN_MAX_HEADER, KMS_ERR_ARG);

    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool any6 = false;
    KMS_TRY(parse_listen(cfg->listen, &ss, &sl, &any6));

    d = calloc(1, sizeof *d);
    KMS_ENSURE_OUT(rc, d != NULL, KMS_ERR_NOMEM);
    d->handler = h;
    d->ctx = ctx;
    d->done = cfg->done;
    d->done_ctx = cfg->done_ctx;
    d->max_body = cfg->max_body != 0 ? cfg->max_body : DEFAULT_MAX_BODY;
    d->iface = cfg->iface;
    d->tls = cfg->cert_file != NULL;
    d->require_client_cert = cfg->client_ca_file != NULL && !cfg->client_cert_optional;
    d->base = *cfg;
    d->base.listen = d->base.cert_file = d->base.key_file = d->base.client_ca_file = NULL;
    unsigned idle_s = cfg->timeout_s != 0 ? cfg->timeout_s : DEFAULT_TIMEOUT_S;
    unsigned header_s = cfg->header_timeout_s != 0 ? cfg->header_timeout_s : DEFAULT_HEADER_S;
    d->header_ms = (uint64_t)header_s * 1000u;
    d->next_ms = (uint64_t)(idle_s > header_s ? idle_s : header_s) * 1000u;
    KMS_TRY_OUT(rc, sweeper_start(d));
    KMS_ENSURE_OUT(rc, pthread_cond_init(&d->defer_cv, NULL) == 0, KMS_ERR_NOMEM);
    d->defer_cv_ready = true;

    /* MHD_ALLOW_SUSPEND_RESUME (it implies MHD_USE_ITC): deferred answers, see above. */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6) {
        /* Dual stack only for the unspecified address "::"; a specific v6 address is v6 only. */
        flags |= any6 ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    }
    if (d->tls) {
        flags |= MHD_USE_TLS;
    }
    d->mhd_flags = flags;
    KMS_TRY_OUT(rc, gen_start(d, &d->gens[0], cfg, &ss, -1));
    d->cur = &d->gens[0];
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d->cur->mhd, MHD_DAEMON_INFO_BIND_PORT);
    KMS_ENSURE_OUT(rc, di != NULL && di->port != 0, KMS_ERR_HTTP);
    d->port = di->port;
    *out = d;
    d = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_httpd_stop(d);
    return rc;
}

/* Closes fd unless libmicrohttpd already did (a failed start may close the listening socket it
 * was given): fd is ours while it still names the listening socket `of` names. */
static void close_dup(int fd, int of)
{
    struct stat a, b;
    if (fstat(fd, &a) == 0 && fstat(of, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        (void)close(fd);
    }
}

kms_result kms_httpd_reload(struct kms_httpd *d, const struct kms_httpd_cfg *cfg)
{
    KMS_ENSURE(d != NULL && cfg != NULL && d->cur != NULL, KMS_ERR_ARG);
    /* TLS files only; the rest of a listener needs a restart (see the header). */
    KMS_ENSURE(d->tls && cfg->cert_file != NULL && cfg->key_file != NULL, KMS_ERR_ARG);
    KMS_ENSURE((cfg->client_ca_file != NULL) ==
                       (d->require_client_cert || d->base.client_cert_optional) &&
                   cfg->client_cert_optional == d->base.client_cert_optional,
               KMS_ERR_ARG);
    struct kms_httpd_cfg nc = d->base;
    nc.listen = "0.0.0.0:0"; /* only parsed by the check: the socket is the running one */
    nc.cert_file = cfg->cert_file;
    nc.key_file = cfg->key_file;
    nc.client_ca_file = cfg->client_ca_file;
    const char *which = NULL;
    KMS_TRY(kms_httpd_check(&nc, &which));

    struct httpd_gen *g = NULL;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < MAX_GENS && g == NULL; i++) {
        if (d->gens[i].mhd == NULL && !d->gens[i].reaping) {
            g = &d->gens[i];
        }
    }
    pthread_mutex_unlock(&d->mu);
    KMS_ENSURE(g != NULL, KMS_ERR_FULL); /* earlier reloads still draining */
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d->cur->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    KMS_ENSURE(di != NULL && di->listen_fd >= 0, KMS_ERR_HTTP);
    int lfd = di->listen_fd;
    int fd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
    KMS_ENSURE(fd >= 0, KMS_ERR_IO);
    /* For a moment both daemons accept on the socket; a failed start leaves the old alone. */
    kms_result r = gen_start(d, g, &nc, NULL, fd);
    if (!kms_ok(r)) {
        close_dup(fd, lfd);
        return r;
    }
    struct httpd_gen *old = d->cur;
    MHD_socket q = MHD_quiesce_daemon(old->mhd);
    pthread_mutex_lock(&d->mu);
    old->quiesced_fd = q;
    d->cur = g;
    gen_retire_locked(d, old, mono_ms() + DRAIN_MS);
    pthread_mutex_unlock(&d->mu);
    return KMS_RESULT_OK;
}

uint16_t kms_httpd_port(const struct kms_httpd *d)
{
    return d != NULL ? d->port : 0;
}

unsigned kms_httpd_connections(struct kms_httpd *d)
{
    if (d == NULL || !d->mu_ready) {
        return 0;
    }
    pthread_mutex_lock(&d->mu);
    unsigned n = d->n_conns;
    pthread_mutex_unlock(&d->mu);
    return n;
}

void kms_httpd_quiesce(struct kms_httpd *d)
{
    if (d == NULL || d->cur == NULL) {
        return;
    }
    struct httpd_gen *g = d->cur;
    MHD_socket q = MHD_quiesce_daemon(g->mhd);
    if (q != MHD_INVALID_SOCKET) {
        /* The socket (every daemon's descriptor names it) stops listening: a new client is
         * refused now rather than left in the backlog until exit. */
        (void)shutdown(q, SHUT_RDWR);
    }
    pthread_mutex_lock(&d->mu);
    g->quiesced_fd = q;
    d->cur = NULL;
    gen_retire_locked(d, g, mono_ms() + DRAIN_MS);
    pthread_mutex_unlock(&d->mu);
}

void kms_httpd_stop(struct kms_httpd *d)
{
    if (d == NULL) {
        return;
    }
    kms_httpd_quiesce(d);
    /* The sweeper stops each daemon once drained (at the latest at its until_ms). */
    uint64_t give_up = mono_ms() + DRAIN_MS + 1000u;
    while (d->sweeper_running && mono_ms() < give_up) {
        bool left = false;
        pthread_mutex_lock(&d->mu);
        for (size_t i = 0; i < MAX_GENS; i++) {
            left = left || d->gens[i].mhd != NULL;
        }
        pthread_mutex_unlock(&d->mu);
        if (!left) {
            break;
        }
        struct timespec nap = {0, 10 * 1000000L};
        (void)nanosleep(&nap, NULL);
    }
    defer_close(d); /* MHD must not be stopped with a connection suspended */
    sweeper_stop(d);
    for (size_t i = 0; i < MAX_GENS; i++) {
        if (d->gens[i].mhd != NULL) {
            gen_stop(&d->gens[i]);
            d->gens[i].mhd = NULL;
        }
    }
    if (d->mu_ready) {
        (void)pthread_mutex_destroy(&d->mu);
        (void)pthread_cond_destroy(&d->wake);
    }
    if (d->defer_cv_ready) {
        (void)pthread_cond_destroy(&d->defer_cv);
    }
    free(d);
}

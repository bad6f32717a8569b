/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mhd_floor: the least a libmicrohttpd (MHD) server can cost for the KMS's traffic, the floor
 * imskms-kmsd's HTTP layer is measured against (bench/run_kms.sh runs it beside nginx and the
 * KMS, bench_kms's "floor" case posts to it; docs/performance.md).
 *
 * It answers POST /mikey (any other target or method: 404, 405), reads the body into a buffer
 * capped at 64 KiB as lib/http/kms_httpd.c does (413 past the cap), and answers 200 with a
 * fixed body of --resp-bytes octets (Content-Type: application/mikey, Cache-Control:
 * no-store). No logging, no per-connection state, no header checks.
 *
 * --mode chooses the server:
 *   pool    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC with a thread pool
 *           of --threads: kms_httpd's flags and options (connection limits, idle timeout,
 *           memory limit, strict level) as imskms-kmsd sets them by default (the default)
 *   single  the same with one epoll thread (no pool)
 *   tpc     MHD_USE_THREAD_PER_CONNECTION (poll() per connection thread)
 *   glue    lib/http's kms_httpd itself (pool mode, kmsd's configuration) with a handler that
 *           answers the fixed body as kmsd's does (status, Content-Type, a secret body), and
 *           with --log one log line per request of the KMS's length: the KMS without its
 *           request handler
 * --response fresh (default): a response object built per request from a copy of the body, as
 * any server with a per-request answer must; shared: one response object made at start and
 * queued for every request (MHD's cheapest path; not with glue).
 *
 * --requests N: stop after N answered requests (for callgrind: a fixed amount of work).
 * Prints "mhd_floor listening on port P" on stderr once serving; stops on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/kms_httpd.h"
#include "util/kms_buf.h"
#include "util/kms_log.h"

#define MAX_BODY       (64u * 1024u) /* kms_httpd's default cap and KMS_SERVICE_MSG_MAX's order */
#define MAX_HEADER     (16u * 1024u) /* kms_httpd's DEFAULT_MAX_HEADER */
#define MAX_CONNS      10000u        /* imskms-kmsd's default --max-connections */
#define MAX_CONNS_IP   1000u         /* its default per-IP limit */
#define IDLE_S         30u           /* its default idle timeout */
#define HEADER_S       5u            /* its default header deadline (glue only) */
#define MAX_RESP_BYTES 8192u

enum mode { M_POOL, M_SINGLE, M_TPC, M_GLUE };

static const char usage_text[] =
    "usage: mhd_floor [--listen ADDR:PORT] [--mode pool|single|tpc|glue] [--threads N]\n"
    "                 [--resp-bytes N] [--response fresh|shared] [--requests N] [--log]\n"
    "\n"
    "A minimal libmicrohttpd POST server: POST /mikey, the body read (at most 64 KiB), a fixed\n"
    "answer of --resp-bytes octets. The floor imskms-kmsd's HTTP layer is measured against\n"
    "(bench/run_kms.sh; docs/performance.md).\n"
    "\n"
    "  --listen ADDR:PORT  numeric IPv4 address and port (default 127.0.0.1:0)\n"
    "  --mode M            pool: kms_httpd's MHD flags and options, a pool of --threads epoll\n"
    "                      threads (default); single: one epoll thread; tpc: a thread per\n"
    "                      connection; glue: lib/http's kms_httpd with a fixed-answer handler\n"
    "  --threads N         pool size, 1..64 (default: online CPUs, as imskms-kmsd)\n"
    "  --resp-bytes N      answer size, 0..8192 (default 351)\n"
    "  --response R        fresh: a response object per request (default); shared: one for all\n"
    "  --requests N        exit after N answered requests\n"
    "  --log               (glue) one log line per request on stderr, as long as the KMS's\n"
    "Prints \"mhd_floor listening on port P\" on stderr; stops on SIGTERM or SIGINT. Exit 0,\n"
    "2 on bad usage, 3 when the server does not start.\n";

static struct {
    enum mode mode;
    bool shared, log;
    unsigned threads;
    size_t resp_bytes;
    uint64_t stop_after;
} opt;

static uint8_t answer[MAX_RESP_BYTES];
static struct MHD_Response *shared_resp;
static atomic_uint_fast64_t answered;

static void usage_exit(const char *msg, const char *arg)
{
    fprintf(stderr, "mhd_floor: %s%s%s (try --help)\n", msg, arg != NULL ? ": " : "",
            arg != NULL ? arg : "");
    exit(2);
}

static unsigned long long num(const char *name, const char *v, unsigned long long lo,
                              unsigned long long hi)
{
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end != '\0' || v[0] == '-' || x < lo || x > hi) {
        usage_exit(name, v);
    }
    return x;
}

static void parse_args(int argc, char **argv, const char **listen)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = ncpu >= 1 && ncpu <= 64 ? (unsigned)ncpu : 2;
    opt.resp_bytes = 351;
    *listen = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (strcmp(a, "--log") == 0) {
            opt.log = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage_exit("missing value or unknown argument", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--listen") == 0) {
            *listen = v;
        } else if (strcmp(a, "--mode") == 0) {
            static const char *const names[] = {"pool", "single", "tpc", "glue"};
            int m = -1;
            for (int k = 0; k < 4; k++) {
                if (strcmp(v, names[k]) == 0) {
                    m = k;
                }
            }
            if (m < 0) {
                usage_exit("--mode wants pool, single, tpc or glue", v);
            }
            opt.mode = (enum mode)m;
        } else if (strcmp(a, "--threads") == 0) {
            opt.threads = (unsigned)num("--threads wants 1..64", v, 1, 64);
        } else if (strcmp(a, "--resp-bytes") == 0) {
            opt.resp_bytes = (size_t)num("--resp-bytes wants 0..8192", v, 0, MAX_RESP_BYTES);
        } else if (strcmp(a, "--response") == 0) {
            if (strcmp(v, "fresh") != 0 && strcmp(v, "shared") != 0) {
                usage_exit("--response wants fresh or shared", v);
            }
            opt.shared = strcmp(v, "shared") == 0;
        } else if (strcmp(a, "--requests") == 0) {
            opt.stop_after = num("--requests wants 1..10^12", v, 1, 1000000000000ull);
        } else {
            usage_exit("unknown argument", a);
        }
    }
    if (opt.shared && opt.mode == M_GLUE) {
        usage_exit("--response shared is not for --mode glue", NULL);
    }
    if (opt.log && opt.mode != M_GLUE) {
        usage_exit("--log is for --mode glue", NULL);
    }
}

/* One more request answered; the last of --requests wakes main (which waits in sigwait). */
static void count_answer(void)
{
    uint64_t n = atomic_fetch_add(&answered, 1) + 1;
    if (opt.stop_after != 0 && n == opt.stop_after) {
        (void)kill(getpid(), SIGTERM);
    }
}

/* ---- the plain MHD server ---- */

static struct MHD_Response *make_response(enum MHD_ResponseMemoryMode mem)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(opt.resp_bytes, answer, mem);
    if (r != NULL && (MHD_add_response_header(r, "Cache-Control", "no-store") != MHD_YES ||
                      MHD_add_response_header(r, "Content-Type", "application/mikey") != MHD_YES)) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return r;
}

static enum MHD_Result answer_status(struct MHD_Connection *mc, unsigned status)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The request's body, accumulated as kms_httpd does (a capped buffer, wiped at the end). */
struct req_state {
    struct kms_buf body;
    bool too_big;
};

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *mc, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_size, void **req_cls)
{
    (void)cls;
    (void)version;
    struct req_state *s = *req_cls;
    if (s == NULL) { /* headers in */
        if (strcmp(url, "/mikey") != 0) {
            return answer_status(mc, MHD_HTTP_NOT_FOUND);
        }
        if (strcmp(method, "POST") != 0) {
            return answer_status(mc, MHD_HTTP_METHOD_NOT_ALLOWED);
        }
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            return MHD_NO;
        }
        kms_buf_init(&s->body, MAX_BODY, true);
        *req_cls = s;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!s->too_big &&
            !kms_ok(kms_buf_put_bytes(&s->body, (const uint8_t *)upload, *upload_size))) {
            s->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (s->too_big) {
        return answer_status(mc, MHD_HTTP_CONTENT_TOO_LARGE);
    }
    enum MHD_Result ret;
    if (opt.shared) {
        ret = MHD_queue_response(mc, MHD_HTTP_OK, shared_resp);
    } else {
        struct MHD_Response *r = make_response(MHD_RESPMEM_MUST_COPY);
        if (r == NULL) {
            return MHD_NO;
        }
        ret = MHD_queue_response(mc, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
    }
    count_answer();
    return ret;
}

static void request_done(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)mc;
    (void)toe;
    struct req_state *s = *req_cls;
    if (s != NULL) {
        kms_buf_cleanup(&s->body);
        free(s);
        *req_cls = NULL;
    }
}

static struct MHD_Daemon *start_mhd(const char *listen, uint16_t *port)
{
    unsigned a, b, c, dd, p;
    char tail;
    if (sscanf(listen, "%u.%u.%u.%u:%u%c", &a, &b, &c, &dd, &p, &tail) != 5 || a > 255 || b > 255 ||
        c > 255 || dd > 255 || p > 65535) {
        usage_exit("--listen wants a numeric IPv4 address and port (glue mode takes IPv6)", listen);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)p),
                             .sin_addr.s_addr = htonl(a << 24 | b << 16 | c << 8 | dd)};
    unsigned flags = MHD_USE_ITC;
    struct MHD_OptionItem ops[8];
    size_t n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sa};
    if (opt.mode == M_TPC) {
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    } else {
        flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
        if (opt.mode == M_POOL) {
            ops[n++] =
                (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)opt.threads, NULL};
        }
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)MAX_CONNS, NULL};
    ops[n++] =
        (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)MAX_CONNS_IP, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)IDLE_S, NULL};
    ops[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)MAX_HEADER, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, access_handler, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                         request_done, NULL, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (d != NULL) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        *port = di != NULL ? di->port : 0;
    }
    return d;
}

/* ---- the same through lib/http ---- */

/* As long as the KMS's line for a mode-3 ticket request of bench_kms. */
static const char log_detail[] =
    "ticket-request idri=ue19999@bench.example.org idrr=sip:ue0@bench.example.org";

static void glue_handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    (void)ctx;
    if (strcmp(req->path, "/mikey") != 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_NO_ROUTE, NULL);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_METHOD, NULL);
        return;
    }
    resp->status = 200;
    resp->content_type = "application/mikey";
    resp->body.secret = true;
    if (!kms_ok(kms_buf_put_bytes(&resp->body, answer, opt.resp_bytes))) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
    }
    if (opt.log) {
        kms_log(KMS_LOG_INFO, "mikey %d %s (%s)", 200, log_detail, "ok");
    }
    count_answer();
}

int main(int argc, char **argv)
{
    const char *listen = NULL;
    parse_args(argc, argv, &listen);
    for (size_t i = 0; i < sizeof answer; i++) {
        answer[i] = (uint8_t)(i * 131u + 7u);
    }
    kms_log_init("mhd_floor", KMS_LOG_INFO);
    /* SIGTERM and SIGINT are taken by sigwait below: blocked before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *mhd = NULL;
    struct kms_httpd *glue = NULL;
    uint16_t port = 0;
    if (opt.mode == M_GLUE) {
        struct kms_httpd_cfg hc = {.listen = listen,
                                   .max_body = MAX_BODY,
                                   .threads = opt.threads,
                                   .max_conns = MAX_CONNS,
                                   .max_conns_per_ip = MAX_CONNS_IP,
                                   .timeout_s = IDLE_S,
                                   .header_timeout_s = HEADER_S,
                                   .iface = KMS_IFACE_KMS};
        if (kms_ok(kms_httpd_start(&hc, glue_handler, NULL, &glue))) {
            port = kms_httpd_port(glue);
        }
    } else {
        if (opt.shared && (shared_resp = make_response(MHD_RESPMEM_PERSISTENT)) == NULL) {
            fprintf(stderr, "mhd_floor: cannot make the response\n");
            return 3;
        }
        mhd = start_mhd(listen, &port);
    }
    if (port == 0) {
        fprintf(stderr, "mhd_floor: cannot serve on %s\n", listen);
        kms_httpd_stop(glue);
        if (mhd != NULL) {
            MHD_stop_daemon(mhd);
        }
        return 3;
    }
    fprintf(stderr, "mhd_floor listening on port %u\n", port);
    int sig = 0;
    (void)sigwait(&sigs, &sig);
    kms_httpd_stop(glue);
    if (mhd != NULL) {
        MHD_stop_daemon(mhd);
    }
    if (shared_resp != NULL) {
        MHD_destroy_response(shared_resp);
    }
    fprintf(stderr, "mhd_floor: %llu requests answered\n", (unsigned long long)answered);
    return 0;
}

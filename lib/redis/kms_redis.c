/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis client of a KMS fleet: see kms_redis.h. */
#include "redis/kms_redis.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "crypto/kms_ossl.h"
#include "util/kms_buf.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_mem.h"

const uint64_t kms_redis_lat_bounds_us[KMS_REDIS_LAT_BUCKETS] = {100,  250,   500,   1000,  2500,
                                                                 5000, 10000, 50000, 200000};

/* ---- URL ---- */

static bool is_digit(uint8_t ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alnum(uint8_t ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Consumes the longest run of bytes `ok` accepts into out (cap includes the NUL): at least one
 * byte, KMS_ERR_TOO_LONG past cap - 1. */
static kms_result get_run(struct kms_cur *c, bool (*ok)(uint8_t), char *out, size_t cap)
{
    size_t n = 0;
    const uint8_t *p = kms_cur_peek_ptr(c);
    while (n < kms_cur_remaining(c) && ok(p[n])) {
        n++;
    }
    KMS_ENSURE(n > 0, KMS_ERR_MALFORMED);
    KMS_ENSURE(n < cap, KMS_ERR_TOO_LONG);
    KMS_TRY(kms_cur_get_bytes(c, (uint8_t *)out, n));
    out[n] = '\0';
    return KMS_RESULT_OK;
}

static bool host_ch(uint8_t ch)
{
    return is_alnum(ch) || ch == '.' || ch == '-';
}

static bool user_ch(uint8_t ch)
{
    return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

/* A path byte: printable ASCII but '?' (the query) and '%' (no escapes are decoded). */
static bool path_ch(uint8_t ch)
{
    return ch > 0x20 && ch < 0x7f && ch != '?' && ch != '%';
}

/* A decimal number of at most 5 digits, no leading zero (but "0"), up to max. */
static kms_result get_num(struct kms_cur *c, uint32_t max, uint32_t *out)
{
    char d[8];
    KMS_TRY(get_run(c, is_digit, d, 6));
    KMS_ENSURE(d[0] != '0' || d[1] == '\0', KMS_ERR_MALFORMED);
    uint32_t v = 0;
    for (size_t i = 0; d[i] != '\0'; i++) {
        v = v * 10 + (uint32_t)(d[i] - '0');
    }
    KMS_ENSURE(v <= max, KMS_ERR_MALFORMED);
    *out = v;
    return KMS_RESULT_OK;
}

/* Whether the cursor's next bytes are lit (public bytes: a plain loop, memcmp being kept out
 * of lib/). */
static bool has_lit(const struct kms_cur *c, const char *lit)
{
    size_t n = strlen(lit);
    if (kms_cur_remaining(c) < n) {
        return false;
    }
    const uint8_t *p = kms_cur_peek_ptr(c);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)lit[i]) {
            return false;
        }
    }
    return true;
}

static kms_result expect_lit(struct kms_cur *c, const char *lit)
{
    KMS_ENSURE(has_lit(c, lit), KMS_ERR_MALFORMED);
    return kms_cur_skip(c, strlen(lit));
}

static kms_result parse_tcp(struct kms_cur *c, struct kms_redis_url *u)
{
    /* USER@ when an '@' comes before the end. */
    size_t left = kms_cur_remaining(c);
    if (left > 0 && memchr(kms_cur_peek_ptr(c), '@', left) != NULL) {
        KMS_TRY(get_run(c, user_ch, u->user, sizeof(u->user)));
        KMS_TRY(expect_lit(c, "@"));
    }
    KMS_TRY(get_run(c, host_ch, u->host, sizeof(u->host)));
    KMS_TRY(expect_lit(c, ":"));
    uint32_t port = 0;
    KMS_TRY(get_num(c, 65535, &port));
    KMS_ENSURE(port > 0, KMS_ERR_MALFORMED);
    u->port = (uint16_t)port;
    if (has_lit(c, "/")) {
        KMS_TRY(kms_cur_skip(c, 1));
        KMS_TRY(get_num(c, KMS_REDIS_DB_MAX, &u->db));
    }
    return kms_cur_expect_end(c);
}

static kms_result parse_unix(struct kms_cur *c, struct kms_redis_url *u)
{
    /* USER@ before the path (redis-py's unix://[username@]/path form): the path begins with
     * '/', a user name never does. */
    if (!has_lit(c, "/")) {
        KMS_TRY(get_run(c, user_ch, u->user, sizeof(u->user)));
        KMS_TRY(expect_lit(c, "@"));
    }
    KMS_ENSURE(has_lit(c, "/"), KMS_ERR_MALFORMED);
    KMS_TRY(get_run(c, path_ch, u->path, sizeof(u->path)));
    if (has_lit(c, "?")) {
        KMS_TRY(expect_lit(c, "?db="));
        KMS_TRY(get_num(c, KMS_REDIS_DB_MAX, &u->db));
    }
    u->unix_socket = true;
    return kms_cur_expect_end(c);
}

kms_result kms_redis_url_parse(const char *s, size_t len, struct kms_redis_url *out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    KMS_ENSURE(s != NULL, KMS_ERR_ARG);
    struct kms_cur c;
    kms_cur_init(&c, (const uint8_t *)s, len);
    kms_result r;
    if (has_lit(&c, "redis://")) {
        KMS_TRY(kms_cur_skip(&c, 8));
        r = parse_tcp(&c, out);
    } else {
        KMS_TRY(expect_lit(&c, "unix://"));
        r = parse_unix(&c, out);
    }
    if (!kms_ok(r)) {
        memset(out, 0, sizeof(*out));
        if (r.err != KMS_ERR_TOO_LONG) {
            r = KMS_ERR(KMS_ERR_MALFORMED); /* truncated or trailing bytes alike */
        }
    }
    return r;
}

/* ---- client ---- */

struct slot {
    pthread_t owner;
    bool used;
    redisContext *ctx;
};

struct kms_redis {
    struct kms_redis_cfg cfg;
    struct kms_secret *pass; /* NULL: no AUTH */
    size_t pass_len;
    uint64_t id;        /* tells clients apart in the thread-local cache */
    pthread_mutex_t mu; /* slot allocation */
    struct slot slots[KMS_REDIS_MAX_THREADS];
    _Atomic uint64_t round_trips, errors, connects, lat_sum_us;
    _Atomic uint64_t lat[KMS_REDIS_LAT_BUCKETS + 1];
};

struct kms_redis_conn {
    struct kms_redis *r;
    redisContext *ctx;
};

static _Atomic uint64_t next_id = 1;

/* This thread's slots, by client: a few clients at most per thread. */
#define TL_CACHE 4
static _Thread_local struct {
    uint64_t id;
    struct slot *s;
} tl_slots[TL_CACHE];

static struct slot *my_slot(struct kms_redis *r)
{
    for (size_t i = 0; i < TL_CACHE; i++) {
        if (tl_slots[i].id == r->id) {
            return tl_slots[i].s;
        }
    }
    struct slot *s = NULL;
    pthread_t self = pthread_self();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < KMS_REDIS_MAX_THREADS && s == NULL; i++) {
        if (r->slots[i].used && pthread_equal(r->slots[i].owner, self)) {
            s = &r->slots[i];
        }
    }
    for (size_t i = 0; i < KMS_REDIS_MAX_THREADS && s == NULL; i++) {
        if (!r->slots[i].used) {
            s = &r->slots[i];
            s->used = true;
            s->owner = self;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (s != NULL) {
        /* The first free cache entry, else the oldest one's place (round robin by id). */
        size_t at = (size_t)(r->id % TL_CACHE);
        for (size_t i = 0; i < TL_CACHE; i++) {
            if (tl_slots[i].id == 0) {
                at = i;
                break;
            }
        }
        tl_slots[at].id = r->id;
        tl_slots[at].s = s;
    }
    return s;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void count(struct kms_redis *r, uint64_t us, bool failed)
{
    atomic_fetch_add(&r->round_trips, 1);
    if (failed) {
        atomic_fetch_add(&r->errors, 1);
    }
    atomic_fetch_add(&r->lat_sum_us, us);
    size_t b = 0;
    while (b < KMS_REDIS_LAT_BUCKETS && us > kms_redis_lat_bounds_us[b]) {
        b++;
    }
    atomic_fetch_add(&r->lat[b], 1);
}

/* One command on ctx. *stale: the connection was found closed by the server (worth one more
 * try on a new one). */
static kms_result run(struct kms_redis *r, redisContext *ctx, int argc, const char **argv,
                      const size_t *lens, redisReply **out, bool *stale)
{
    *out = NULL;
    if (stale != NULL) {
        *stale = false;
    }
    uint64_t t0 = mono_us();
    redisReply *rep = redisCommandArgv(ctx, argc, argv, lens);
    bool failed = rep == NULL || rep->type == REDIS_REPLY_ERROR;
    count(r, mono_us() - t0, failed);
    if (rep == NULL) {
        if (stale != NULL) {
            *stale = ctx->err == REDIS_ERR_EOF ||
                     (ctx->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
        }
        KMS_BAIL(KMS_ERR_STORE);
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);
        KMS_BAIL(KMS_ERR_STORE);
    }
    *out = rep;
    return KMS_RESULT_OK;
}

static kms_result run0(struct kms_redis *r, redisContext *ctx, redisReply **out, const char *a0,
                       const char *a1, const char *a2)
{
    const char *argv[3] = {a0, a1, a2};
    size_t lens[3] = {strlen(a0), a1 != NULL ? strlen(a1) : 0, a2 != NULL ? strlen(a2) : 0};
    int argc = a1 == NULL ? 1 : a2 == NULL ? 2 : 3;
    return run(r, ctx, argc, argv, lens, out, NULL);
}

/* The value of "field:" in an INFO reply's text (up to the line end) into out. */
static bool info_field(const redisReply *rep, const char *field, char *out, size_t cap)
{
    if (rep->type != REDIS_REPLY_STRING) {
        return false;
    }
    size_t fl = strlen(field);
    const char *p = rep->str, *end = rep->str + rep->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        if ((size_t)(le - p) > fl && strncmp(p, field, fl) == 0 && p[fl] == ':') {
            size_t n = (size_t)(le - p) - fl - 1;
            while (n > 0 && (p[fl + 1 + n - 1] == '\r')) {
                n--;
            }
            if (n >= cap) {
                return false;
            }
            memcpy(out, p + fl + 1, n);
            out[n] = '\0';
            return true;
        }
        p = le + 1;
    }
    return false;
}

/* CONFIG GET name: the value, or false when CONFIG is refused (or the reply is odd). */
static bool config_get(struct kms_redis *r, redisContext *ctx, const char *name, char *out,
                       size_t cap)
{
    redisReply *rep = NULL;
    if (!kms_ok(run0(r, ctx, &rep, "CONFIG", "GET", name))) {
        return false;
    }
    bool ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
              rep->element[1]->type == REDIS_REPLY_STRING && rep->element[1]->len < cap;
    if (ok) {
        memcpy(out, rep->element[1]->str, rep->element[1]->len);
        out[rep->element[1]->len] = '\0';
    }
    freeReplyObject(rep);
    return ok;
}

static kms_result info_get(struct kms_redis *r, redisContext *ctx, const char *section,
                           const char *field, char *out, size_t cap)
{
    redisReply *rep = NULL;
    KMS_TRY(run0(r, ctx, &rep, "INFO", section, NULL));
    bool ok = info_field(rep, field, out, cap);
    freeReplyObject(rep);
    KMS_ENSURE(ok, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

static void say(char *why, size_t cap, const char *msg)
{
    if (why != NULL && cap > 0) {
        (void)snprintf(why, cap, "%s", msg);
    }
}

/* One RESP bulk string "$<len>\r\n<bytes>\r\n" into b. */
static kms_result put_bulk(struct kms_buf *b, const char *p, size_t n)
{
    char hdr[24];
    int w = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
    KMS_ENSURE(w > 0 && (size_t)w < sizeof(hdr), KMS_ERR_INTERNAL);
    KMS_TRY(kms_buf_put_bytes(b, (const uint8_t *)hdr, (size_t)w));
    KMS_TRY(kms_buf_put_bytes(b, (const uint8_t *)p, n));
    return kms_buf_put_bytes(b, (const uint8_t *)"\r\n", 2);
}

/* AUTH [user] password, written to the socket from a buffer we wipe, never through hiredis's
 * output buffer (which hiredis 0.14 frees without wiping, leaving the password in freed heap);
 * the reply ("+OK" or an error, never the password) is read back through hiredis. The socket
 * is blocking with the command time-out (redisSetTimeout), so send() gives up with it. */
static kms_result auth_direct(struct kms_redis *r, redisContext *ctx)
{
    uint8_t store[64 + KMS_REDIS_USER_MAX + KMS_REDIS_PASS_MAX];
    struct kms_buf b;
    kms_buf_init_fixed(&b, store, sizeof(store), true);
    kms_result rc = KMS_RC_INIT;
    redisReply *rep = NULL;
    bool user = r->cfg.url.user[0] != '\0';
    uint64_t t0 = mono_us();
    KMS_TRY_OUT(rc, kms_buf_put_bytes(&b, (const uint8_t *)(user ? "*3\r\n" : "*2\r\n"), 4));
    KMS_TRY_OUT(rc, put_bulk(&b, "AUTH", 4));
    if (user) {
        KMS_TRY_OUT(rc, put_bulk(&b, r->cfg.url.user, strlen(r->cfg.url.user)));
    }
    KMS_TRY_OUT(rc, put_bulk(&b, (const char *)r->pass->d, r->pass_len));
    for (size_t off = 0; off < kms_buf_len(&b);) {
        ssize_t w = send(ctx->fd, kms_buf_data(&b) + off, kms_buf_len(&b) - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        KMS_ENSURE_OUT(rc, w > 0, KMS_ERR_STORE);
        off += (size_t)w;
    }
    KMS_ENSURE_OUT(rc, redisGetReply(ctx, (void **)&rep) == REDIS_OK && rep != NULL, KMS_ERR_STORE);
    KMS_ENSURE_OUT(rc, rep->type == REDIS_REPLY_STATUS, KMS_ERR_STORE);
    rc = KMS_RESULT_OK;
out:
    count(r, mono_us() - t0, !kms_ok(rc));
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    kms_buf_cleanup(&b);
    return rc;
}

/* AUTH, SELECT, the server checks and on_connect on a new connection. */
static kms_result setup(struct kms_redis *r, redisContext *ctx, char *why, size_t cap)
{
    redisReply *rep = NULL;
    if (r->pass != NULL) {
        kms_result a = auth_direct(r, ctx);
        if (!kms_ok(a)) {
            say(why, cap, "AUTH refused (user or password)");
            return a;
        }
    }
    if (r->cfg.url.db != 0) {
        char db[16];
        (void)snprintf(db, sizeof(db), "%u", (unsigned)r->cfg.url.db);
        if (!kms_ok(run0(r, ctx, &rep, "SELECT", db, NULL))) {
            say(why, cap, "SELECT of the URL's database refused");
            KMS_BAIL(KMS_ERR_STORE);
        }
        freeReplyObject(rep);
    }
    char pol[64];
    if (!config_get(r, ctx, "maxmemory-policy", pol, sizeof(pol)) &&
        !kms_ok(info_get(r, ctx, "memory", "maxmemory_policy", pol, sizeof(pol)))) {
        say(why, cap, "maxmemory-policy unreadable (neither CONFIG GET nor INFO memory)");
        KMS_BAIL(KMS_ERR_STORE);
    }
    if (strcmp(pol, "noeviction") != 0) {
        if (why != NULL && cap > 0) {
            (void)snprintf(why, cap, "maxmemory-policy is %s: it must be noeviction", pol);
        }
        KMS_BAIL(KMS_ERR_STORE);
    }
    struct kms_redis_server srv = {0};
    if (!kms_ok(info_get(r, ctx, "server", "run_id", srv.run_id, sizeof(srv.run_id)))) {
        say(why, cap, "INFO server gave no run_id");
        KMS_BAIL(KMS_ERR_STORE);
    }
    char aof[8] = "", fsync[16] = "";
    srv.durable = kms_ok(info_get(r, ctx, "persistence", "aof_enabled", aof, sizeof(aof))) &&
                  strcmp(aof, "1") == 0 &&
                  config_get(r, ctx, "appendfsync", fsync, sizeof(fsync)) &&
                  strcmp(fsync, "always") == 0;
    if (r->cfg.on_connect != NULL) {
        struct kms_redis_conn c = {r, ctx};
        kms_result oc = r->cfg.on_connect(r->cfg.ctx, &c, &srv);
        if (!kms_ok(oc)) {
            say(why, cap, "fleet check on connect failed (see the log)");
            return oc;
        }
    }
    return KMS_RESULT_OK;
}

static kms_result connect_slot(struct kms_redis *r, struct slot *s, char *why, size_t cap)
{
    unsigned ms = r->cfg.timeout_ms != 0 ? r->cfg.timeout_ms : KMS_REDIS_TIMEOUT_MS;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    const struct kms_redis_url *u = &r->cfg.url;
    redisContext *ctx = u->unix_socket ? redisConnectUnixWithTimeout(u->path, tv)
                                       : redisConnectWithTimeout(u->host, u->port, tv);
    atomic_fetch_add(&r->connects, 1);
    if (ctx == NULL || ctx->err != 0) {
        if (why != NULL && cap > 0) {
            (void)snprintf(why, cap, "cannot connect: %s",
                           ctx != NULL ? ctx->errstr : "out of memory");
        }
        redisFree(ctx);
        count(r, 0, true);
        KMS_BAIL(KMS_ERR_STORE);
    }
    kms_result rc = redisSetTimeout(ctx, tv) == REDIS_OK ? KMS_RESULT_OK : KMS_ERR(KMS_ERR_STORE);
    if (kms_ok(rc)) {
        rc = setup(r, ctx, why, cap);
    }
    if (!kms_ok(rc)) {
        redisFree(ctx);
        return rc;
    }
    s->ctx = ctx;
    return KMS_RESULT_OK;
}

kms_result kms_redis_new(const struct kms_redis_cfg *cfg, struct kms_redis **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_redis *r = NULL;
    uint8_t *pw = NULL;
    size_t pw_read = 0, pw_len = 0;
    KMS_ENSURE_OUT(rc, cfg != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE_OUT(rc, cfg->password_file != NULL || cfg->url.user[0] == '\0', KMS_ERR_ARG);
    r = calloc(1, sizeof(*r));
    KMS_ENSURE_OUT(rc, r != NULL, KMS_ERR_NOMEM);
    r->cfg = *cfg;
    r->cfg.password_file = NULL; /* borrowed only here */
    r->id = atomic_fetch_add(&next_id, 1);
    /* hiredis writes with write(2): a connection the server closed would raise SIGPIPE and
     * kill the process. The daemons ignore it already (kms_daemon); the CLI and tests get the
     * same here, unless the program chose a handler of its own. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        signal(SIGPIPE, SIG_IGN);
    }
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&r->mu, NULL) == 0, KMS_ERR_NOMEM);
    if (cfg->password_file != NULL) {
        KMS_TRY_OUT(rc,
                    kms_file_read(cfg->password_file, KMS_REDIS_PASS_MAX + 1, true, &pw, &pw_read));
        pw_len = pw_read;
        if (pw_len > 0 && pw[pw_len - 1] == '\n') {
            pw_len--;
        }
        KMS_ENSURE_OUT(rc, pw_len > 0 && pw_len <= KMS_REDIS_PASS_MAX, KMS_ERR_TOO_LONG);
        KMS_ENSURE_OUT(rc, memchr(pw, '\n', pw_len) == NULL, KMS_ERR_MALFORMED);
        /* One byte more for a NUL: hiredis takes lengths, the buffer stays a C string. */
        KMS_TRY_OUT(rc, kms_secret_new(pw_len + 1, &r->pass));
        memcpy(r->pass->d, pw, pw_len);
        r->pass_len = pw_len;
    }
    *out = r;
    r = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_file_free(pw, pw_read);
    if (r != NULL) {
        kms_redis_free(r);
    }
    return rc;
}

void kms_redis_free(struct kms_redis *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < KMS_REDIS_MAX_THREADS; i++) {
        redisFree(r->slots[i].ctx);
    }
    for (size_t i = 0; i < TL_CACHE; i++) {
        if (tl_slots[i].id == r->id) {
            tl_slots[i].id = 0;
        }
    }
    kms_secret_free(r->pass);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

kms_result kms_redis_check(struct kms_redis *r, char *why, size_t why_cap)
{
    KMS_ENSURE(r != NULL, KMS_ERR_ARG);
    struct slot *s = my_slot(r);
    if (s == NULL) {
        say(why, why_cap, "too many threads");
        KMS_BAIL(KMS_ERR_STORE);
    }
    if (s->ctx != NULL) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    return connect_slot(r, s, why, why_cap);
}

kms_result kms_redis_cmd(struct kms_redis *r, int argc, const char **argv, const size_t *lens,
                         redisReply **out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(r != NULL && argc > 0 && argv != NULL && lens != NULL, KMS_ERR_ARG);
    struct slot *s = my_slot(r);
    KMS_ENSURE(s != NULL, KMS_ERR_STORE);
    for (int attempt = 0;; attempt++) {
        bool fresh = s->ctx == NULL;
        if (fresh) {
            KMS_TRY(connect_slot(r, s, NULL, 0));
        }
        bool stale = false;
        kms_result rc = run(r, s->ctx, argc, argv, lens, out, &stale);
        if (kms_ok(rc) || s->ctx->err == 0) {
            return rc; /* a reply, or an error reply on a sound connection */
        }
        redisFree(s->ctx);
        s->ctx = NULL;
        if (!stale || fresh || attempt > 0) {
            return rc;
        }
    }
}

kms_result kms_redis_conn_cmd(struct kms_redis_conn *c, int argc, const char **argv,
                              const size_t *lens, redisReply **out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(c != NULL && argc > 0 && argv != NULL && lens != NULL, KMS_ERR_ARG);
    return run(c->r, c->ctx, argc, argv, lens, out, NULL);
}

void kms_redis_stats(const struct kms_redis *r, struct kms_redis_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (r == NULL) {
        return;
    }
    struct kms_redis *m = (struct kms_redis *)(uintptr_t)r; /* atomics load from non-const */
    out->round_trips = atomic_load(&m->round_trips);
    out->errors = atomic_load(&m->errors);
    out->connects = atomic_load(&m->connects);
    out->lat_sum_us = atomic_load(&m->lat_sum_us);
    for (size_t i = 0; i <= KMS_REDIS_LAT_BUCKETS; i++) {
        out->lat_count[i] = atomic_load(&m->lat[i]);
    }
}

kms_result kms_redis_tag(const uint8_t key[32], const uint8_t *id, size_t len,
                         char out[KMS_REDIS_TAG_LEN + 1])
{
    uint8_t h[32];
    KMS_TRY(kms_hmac_sha256(key, 32, id, len, h));
    out[0] = '{';
    kms_result r = kms_hex_encode(h, 8, out + 1, 17);
    out[17] = '}';
    out[18] = '\0';
    kms_wipe(h, sizeof(h));
    return r;
}

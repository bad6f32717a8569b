/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_redis: the Redis client of a KMS fleet (docs/scaling.md), over hiredis 0.14.
 *
 * hiredis contexts are not thread-safe: each thread that runs a command gets its own
 * connection, made on its first command and kept in a slot of the client (at most
 * KMS_REDIS_MAX_THREADS threads). Connect and command time-out: cfg.timeout_ms (about 200 ms).
 * A connection that fails (an I/O error, a time-out, a protocol error) is dropped and the next
 * command connects again; a stale connection (the server closed it: EOF or a reset) is retried
 * once at once on a new one. Every failure, a time-out, an error reply (OOM, NOPERM, ...) is
 * KMS_ERR_STORE: the KMS answers 503 store-unavailable, never an accepted request.
 *
 * Each new connection authenticates (AUTH [user] password, the password read from an owner-only
 * file and wiped after use), selects its database, and checks the server: maxmemory-policy must
 * be noeviction (CONFIG GET, or INFO memory when the ACL user may not run CONFIG), else the
 * connection is refused (KMS_ERR_STORE; kms_redis_check at start names the reason). Then it
 * reads the server's run_id and durability (INFO server, INFO persistence and CONFIG GET
 * appendfsync; a user without CONFIG counts as not durable) and calls cfg.on_connect, which
 * may run commands on that connection (kms_redis_conn_cmd).
 */
#ifndef KMS_REDIS_REDIS_H
#define KMS_REDIS_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "err/kms_err.h"

#define KMS_REDIS_HOST_MAX    255
#define KMS_REDIS_PATH_MAX    107 /* sun_path, less its NUL */
#define KMS_REDIS_USER_MAX    64
#define KMS_REDIS_DB_MAX      65535
#define KMS_REDIS_PASS_MAX    512
#define KMS_REDIS_RUNID_LEN   40
#define KMS_REDIS_MAX_THREADS 512
#define KMS_REDIS_TIMEOUT_MS  200

/* A parsed --redis URL. */
struct kms_redis_url {
    bool unix_socket;
    char host[KMS_REDIS_HOST_MAX + 1]; /* TCP: a DNS name or an IPv4 address */
    uint16_t port;                     /* TCP: 1..65535 */
    char path[KMS_REDIS_PATH_MAX + 1]; /* unix: an absolute path */
    char user[KMS_REDIS_USER_MAX + 1]; /* the ACL user ("" for the default user) */
    uint32_t db;                       /* 0..KMS_REDIS_DB_MAX */
};

/* Parses s[0..len): `redis://[USER@]HOST:PORT[/DB]` or `unix://[USER@]/PATH[?db=N]`. HOST is
 * letters, digits, '.', '-' (no IPv6 literal); USER letters, digits, '.', '_', '-'; PORT and DB
 * decimal without leading zeros or sign. KMS_ERR_MALFORMED for anything else (or KMS_ERR_TOO_LONG
 * for a part past its size); out is zeroed first. */
KMS_MUST_CHECK kms_result kms_redis_url_parse(const char *s, size_t len, struct kms_redis_url *out);

/* What a new connection found on the server. */
struct kms_redis_server {
    char run_id[KMS_REDIS_RUNID_LEN + 1];
    bool durable; /* appendonly yes and appendfsync always */
};

struct kms_redis_conn; /* one thread's connection, inside on_connect */

struct kms_redis_cfg {
    struct kms_redis_url url;
    const char *password_file; /* NULL: no AUTH (then url.user must be empty) */
    unsigned timeout_ms;       /* connect and command time-out; 0: KMS_REDIS_TIMEOUT_MS */
    /* Called on every new connection after the checks (may be NULL); a failure drops it. */
    kms_result (*on_connect)(void *ctx, struct kms_redis_conn *c,
                             const struct kms_redis_server *srv);
    void *ctx;
};

struct kms_redis;

/* Reads the password file (owner-only, at most KMS_REDIS_PASS_MAX bytes, a final newline
 * dropped): KMS_ERR_IO, KMS_ERR_NOT_FOUND or KMS_ERR_TOO_LONG for a file that will not do,
 * KMS_ERR_ARG for a user without a password file. Connects nothing. Sets SIGPIPE to be ignored
 * when it has its default action (a write to a closed connection must fail, not kill). */
KMS_MUST_CHECK kms_result kms_redis_new(const struct kms_redis_cfg *cfg, struct kms_redis **out);
/* Closes every thread's connection: call it when no other thread uses the client. */
void kms_redis_free(struct kms_redis *r);

/* Connects this thread now (when it is not) and runs the connection checks: for a start-up
 * error. why (may be NULL) receives a one-line reason on failure. */
KMS_MUST_CHECK kms_result kms_redis_check(struct kms_redis *r, char *why, size_t why_cap);

/* Runs one command (argv[i] of lens[i] bytes) on this thread's connection. *out is the reply
 * (free it with freeReplyObject) of any type but an error: an error reply, a failed connection
 * or a time-out is KMS_ERR_STORE with *out NULL. */
KMS_MUST_CHECK kms_result kms_redis_cmd(struct kms_redis *r, int argc, const char **argv,
                                        const size_t *lens, redisReply **out);
/* The same on the connection on_connect was given. */
KMS_MUST_CHECK kms_result kms_redis_conn_cmd(struct kms_redis_conn *c, int argc, const char **argv,
                                             const size_t *lens, redisReply **out);

/* Latency histogram bounds, microseconds (the last bucket is +Inf). */
#define KMS_REDIS_LAT_BUCKETS 9
extern const uint64_t kms_redis_lat_bounds_us[KMS_REDIS_LAT_BUCKETS];

struct kms_redis_stats {
    uint64_t round_trips; /* commands sent (connection set-up included) */
    uint64_t errors;      /* of them, failed: error reply, I/O, time-out */
    uint64_t connects;    /* connections made */
    uint64_t lat_sum_us;
    uint64_t lat_count[KMS_REDIS_LAT_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
};
void kms_redis_stats(const struct kms_redis *r, struct kms_redis_stats *out);

/* "{" hex(HMAC-SHA-256(key, id)[0..8]) "}": 18 characters and a NUL. A hash tag (Redis Cluster
 * hashes only what is between the braces), keyed so that names in Redis reveal no token id. */
#define KMS_REDIS_TAG_LEN 18
KMS_MUST_CHECK kms_result kms_redis_tag(const uint8_t key[32], const uint8_t *id, size_t len,
                                        char out[KMS_REDIS_TAG_LEN + 1]);

#endif

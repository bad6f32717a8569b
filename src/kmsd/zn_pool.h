/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zn_pool: imskms-kmsd's threads for the requests that wait on Zn (issue 14).
 *
 * A server thread serves every request it can without waiting (kms_service_handle_nowait: the
 * Zn client's caches only). The few that need a Zn query (a Kue issue or a mode-1 request whose
 * B-TID is not cached) are deferred (kms_http_defer) and queued here with a copy of their bytes;
 * a pool thread serves them with kms_service_handle, which may wait up to the Zn time-out, and
 * completes the deferred answer. The queue is bounded: a request that finds it full (or the pool
 * stopping) is answered at once with the 503 `overloaded` the service prepared.
 */
#ifndef KMSD_ZN_POOL_H
#define KMSD_ZN_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/kms_httpd.h"

struct kms_service;
struct zn_pool;

/* Fills resp for one request (the bytes, the peer's address) exactly as the daemon's handler
 * would, and logs: on a pool thread, waiting on Zn as needed; with `nowait` (the pool is
 * stopping) without waiting, which answers a request that needs Zn 503 `overloaded`. */
typedef void (*zn_pool_serve)(void *ctx, const uint8_t *req, size_t len, const char *peer,
                              bool nowait, struct kms_http_resp *resp);

/* threads >= 1, queue_max >= 1. NULL on failure (out of memory, threads not created). */
struct zn_pool *zn_pool_new(unsigned threads, size_t queue_max, zn_pool_serve serve, void *ctx);

/* Queues one deferred request (the bytes are copied). false when the queue is full or the pool
 * is stopping: df is untouched and the caller completes it itself. */
bool zn_pool_submit(struct zn_pool *p, struct kms_http_defer *df, const uint8_t *req, size_t len,
                    const char *peer);

/* How many requests wait in the queue or are being served (for the log and tests). */
size_t zn_pool_busy(struct zn_pool *p);

/* Refuses new work from now on (zn_pool_submit returns false), answers every queued request at
 * once (serve with nowait), lets the running ones finish (each within the Zn time-out) and joins
 * the threads. Call before kms_httpd_stop, which waits for every deferred answer; free the pool
 * after it (the server's handlers may still call zn_pool_submit until then). NULL does nothing. */
void zn_pool_stop(struct zn_pool *p);

/* Stops (when not done yet) and frees. NULL does nothing. */
void zn_pool_free(struct zn_pool *p);

#endif

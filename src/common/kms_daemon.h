/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The start-up and main loop both daemons share: hardening (no core dumps), the secure heap,
 * the power-on self-test, signals taken synchronously by the main thread, and a tick loop
 * that runs until SIGTERM or SIGINT. A daemon reads as: options -> configuration ->
 * kms_daemon_start -> wiring -> kms_daemon_run -> tear-down.
 */
#ifndef KMS_DAEMON_H
#define KMS_DAEMON_H

#include <stdint.h>

#include "util/kms_log.h"

/* What the run loop calls back, all on the main thread, with the daemon's ctx. Issue 15 adds
 * here a reload hook (SIGHUP) and the sd_notify points (READY before the first wait,
 * RELOADING around reload, STOPPING on the way out). */
struct kms_daemon_hooks {
    void *ctx;
    unsigned tick_seconds; /* period of tick, at least 1 */
    /* Housekeeping: n counts the wake-ups from 0, now is the wall clock (seconds). */
    void (*tick)(void *ctx, unsigned n, uint64_t now);
};

/* Starts logging as name at level, forbids core dumps, sets up the secure heap (a warning
 * when unavailable), runs the known-answer self-test, blocks SIGTERM and SIGINT (every thread
 * created later inherits the mask) and ignores SIGPIPE. Call before any thread exists.
 * Returns 0, or 3 (the daemons' start-failure status) after logging why. */
int kms_daemon_start(const char *name, enum kms_log_level level);

/* Waits for SIGTERM or SIGINT, calling hooks->tick every tick_seconds meanwhile; logs
 * "signal N: stopping" and returns 0 (the exit status of a clean stop). */
int kms_daemon_run(const struct kms_daemon_hooks *hooks);

#endif

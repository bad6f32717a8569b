/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The start-up and main loop both daemons share: hardening (no core dumps), the secure heap,
 * the power-on self-test, signals taken synchronously by the main thread, and a tick loop
 * that runs until SIGTERM or SIGINT. A daemon reads as: options -> configuration ->
 * kms_daemon_start -> wiring -> kms_daemon_run -> tear-down.
 */
#ifndef KMS_DAEMON_H
#define KMS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "cli_conf.h"
#include "util/kms_log.h"

/* What the run loop calls back, all on the main thread, with the daemon's ctx. The run loop
 * tells systemd (sd_notify, Type=notify units): READY=1 before the first wait, RELOADING=1
 * then READY=1 around a reload, STOPPING=1 on the way out. */
struct kms_daemon_hooks {
    void *ctx;
    unsigned tick_seconds; /* period of tick, at least 1 */
    /* Housekeeping: n counts the wake-ups from 0, now is the wall clock (seconds). */
    void (*tick)(void *ctx, unsigned n, uint64_t now);
    /* SIGHUP: re-read the configuration and apply what can change live (NULL: ignored). Never
     * stops the daemon: a reload that fails keeps every old setting and logs why. */
    void (*reload)(void *ctx);
};

/* The daemons' step right after cli_parse: with --version (opts[o_version] seen) prints
 * "<prog> <version>" and sets *done (exit 0); with --config FILE (opts[o_config]) reads the file
 * for section `section` into *file and applies it under the command line (the command line
 * wins), or prints its one-line error (FILE:LINE: what) and sets *done (exit 2). Returns the
 * exit status when *done, CLI_EXIT_OK otherwise. */
int kms_daemon_options(const char *prog, const char *section, const struct cli_opt *opts,
                       size_t n_opts, size_t o_version, size_t o_config, struct cli_args *a,
                       struct cli_conf *file, bool *done);

/* A reload's log of what changed between two configurations (old_raw, new_raw: each option's
 * text as given, NULL when not given): "reload: OPT: OLD -> NEW" for an option that live[i] says
 * applies at once, "reload: OPT: needs a restart (keeps OLD)" for any other. Options without a
 * value (--check-config, --version) and --config itself (opts[o_config]) are not settings. */
void kms_daemon_reload_report(const struct cli_opt *opts, size_t n_opts, size_t o_config,
                              const bool *live, const char *const *old_raw,
                              const char *const *new_raw);

/* Starts logging as name at level, forbids core dumps, sets up the secure heap (a warning
 * when unavailable), runs the known-answer self-test, blocks SIGTERM, SIGINT and SIGHUP (every
 * thread created later inherits the mask) and ignores SIGPIPE. Call before any thread exists.
 * Returns 0, or 3 (the daemons' start-failure status) after logging why. */
int kms_daemon_start(const char *name, enum kms_log_level level);

/* The connection limits every listener of a daemon applies (kms_httpd_cfg; docs/cli.md). */
struct kms_daemon_conn_limits {
    uint64_t max_conns; /* --max-connections, per listener (default 10000) */
    uint64_t per_ip;    /* --max-connections-per-ip (default 1000) */
    uint64_t header_s;  /* --header-timeout (default 5) */
    uint64_t idle_s;    /* --idle-timeout (default 30) */
};

/* Checks the four option values (NULL: the default) into out. Returns NULL, or the one-line
 * usage message naming the option at fault. */
const char *kms_daemon_conn_limits_parse(const char *max_conns, const char *per_ip,
                                         const char *header_s, const char *idle_s,
                                         struct kms_daemon_conn_limits *out);

/* Makes room for `listeners` x *max_conns connections and `reserve` other descriptors (files,
 * the store, epoll and wake-up descriptors of the server threads): raises the soft
 * RLIMIT_NOFILE as far as the hard limit allows. When the hard limit is too low for an
 * explicit --max-connections (`given`), logs one line naming the option, its value and the
 * limit and returns 2 (bad usage: more than the system grants). When it is too low for the
 * default, lowers *max_conns to what fits (at least 64, else 2 as above) with a warning.
 * Returns 0 otherwise. */
int kms_daemon_fd_limit(bool given, unsigned listeners, uint64_t reserve, uint64_t *max_conns);

/* Waits for SIGTERM or SIGINT, calling hooks->tick every tick_seconds meanwhile and
 * hooks->reload on each SIGHUP; logs "signal N: stopping" and returns 0 (the exit status of a
 * clean stop). The caller then stops its servers, which drain (kms_httpd_stop). */
int kms_daemon_run(const struct kms_daemon_hooks *hooks);

#endif

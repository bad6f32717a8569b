/* SPDX-License-Identifier: Apache-2.0 */
#include "kms_daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#define IMSKMS_NO_VERSION /* kms_version() at most: no rebuild per commit */
#include "imskms/imskms.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

#define SECURE_HEAP_BYTES (1u << 20)

/* The signals the run loop waits for; blocked in every thread by kms_daemon_start. */
static sigset_t stop_sigs;

static void no_core_dumps(void)
{
    /* Core dumps would hold K, OPc, Ks, Kkms. */
    struct rlimit no = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void take_signals(void)
{
    /* Taken synchronously by the main thread only (sigtimedwait in kms_daemon_run); server
     * threads inherit the mask. SIGHUP reloads (a daemon killed by it, its default, would take
     * logrotate's or systemctl reload's nudge as an order to die). */
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int kms_daemon_options(const char *prog, const char *section, const struct cli_opt *opts,
                       size_t n_opts, size_t o_version, size_t o_config, struct cli_args *a,
                       struct cli_conf *file, bool *done)
{
    *done = false;
    if (a->seen[o_version]) {
        printf("%s %s\n", prog, kms_version());
        *done = true;
        return CLI_EXIT_OK;
    }
    if (a->val[o_config] != NULL) {
        char err[512];
        if (cli_conf_read(a->val[o_config], section, opts, n_opts, file, err, sizeof(err)) !=
            CLI_EXIT_OK) {
            fprintf(stderr, "%s\n", err);
            *done = true;
            return CLI_EXIT_USAGE;
        }
        cli_conf_apply(file, n_opts, a);
    }
    return CLI_EXIT_OK;
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void kms_daemon_reload_report(const struct cli_opt *opts, size_t n_opts, size_t o_config,
                              const bool *live, const char *const *old_raw,
                              const char *const *new_raw)
{
    for (size_t i = 0; i < n_opts; i++) {
        if (!opts[i].has_arg || i == o_config || same(old_raw[i], new_raw[i])) {
            continue;
        }
        if (live[i]) {
            kms_log(KMS_LOG_INFO, "reload: %s: %s -> %s", opts[i].name,
                    old_raw[i] != NULL ? old_raw[i] : "(default)",
                    new_raw[i] != NULL ? new_raw[i] : "(default)");
        } else {
            kms_log(KMS_LOG_WARN, "reload: %s: needs a restart (keeps %s)", opts[i].name,
                    old_raw[i] != NULL ? old_raw[i] : "its default");
        }
    }
}

int kms_daemon_start(const char *name, enum kms_log_level level)
{
    kms_log_init(name, level);
    const char *test_clock = kms_now_test_file();
    if (test_clock != NULL) {
        kms_log(KMS_LOG_WARN,
                "TEST CLOCK: IMSKMS_TEST_NOW_FILE=%s moves this daemon's clock (a test build; "
                "never set it in production)",
                test_clock);
    }
    no_core_dumps();
    kms_result r = kms_mem_secure_init(SECURE_HEAP_BYTES);
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_WARN, "secure heap unavailable (%s): keys stay on the ordinary heap",
                kms_strerror(r.err));
    }
    if (!kms_ok(r = kms_selftest())) {
        kms_log(KMS_LOG_ERROR, "known-answer self-test: %s", kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    take_signals();
    return CLI_EXIT_OK;
}

const char *kms_daemon_conn_limits_parse(const char *max_conns, const char *per_ip,
                                         const char *header_s, const char *idle_s,
                                         struct kms_daemon_conn_limits *out)
{
    *out = (struct kms_daemon_conn_limits){
        .max_conns = 10000, .per_ip = 1000, .header_s = 5, .idle_s = 30};
    /* At least 64: each listener's limit is shared out among up to 64 server threads. */
    if (!cli_uint(max_conns, 64, 1000000, &out->max_conns)) {
        return "--max-connections: a number from 64 to 1000000";
    }
    if (!cli_uint(per_ip, 1, 1000000, &out->per_ip)) {
        return "--max-connections-per-ip: a number from 1 to 1000000";
    }
    if (!cli_uint(header_s, 1, 3600, &out->header_s)) {
        return "--header-timeout: seconds from 1 to 3600";
    }
    if (!cli_uint(idle_s, 1, 86400, &out->idle_s)) {
        return "--idle-timeout: seconds from 1 to 86400";
    }
    return NULL;
}

int kms_daemon_fd_limit(bool given, unsigned listeners, uint64_t reserve, uint64_t *max_conns)
{
    unsigned long long want = (unsigned long long)*max_conns;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        kms_log(KMS_LOG_ERROR, "--max-connections %llu: cannot read the file descriptor limit",
                want);
        return CLI_EXIT_USAGE;
    }
    uint64_t need = listeners * *max_conns + reserve;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        return CLI_EXIT_OK;
    }
    uint64_t hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
    if (hard < need) {
        uint64_t fits = hard > reserve ? (hard - reserve) / listeners : 0;
        if (given || fits < 64) {
            kms_log(KMS_LOG_ERROR,
                    "--max-connections %llu needs %llu file descriptors, above the hard limit "
                    "(ulimit -Hn) of %llu: lower --max-connections or raise the limit",
                    want, (unsigned long long)need, (unsigned long long)hard);
            return CLI_EXIT_USAGE;
        }
        kms_log(KMS_LOG_WARN,
                "--max-connections: %llu by default, %llu here (the file descriptor hard limit "
                "is %llu)",
                want, (unsigned long long)fits, (unsigned long long)hard);
        *max_conns = fits;
        need = hard;
    }
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        kms_log(KMS_LOG_ERROR,
                "--max-connections %llu needs %llu file descriptors; the limit stays %llu", want,
                (unsigned long long)need, (unsigned long long)old);
        return CLI_EXIT_USAGE;
    }
    kms_log(KMS_LOG_INFO, "file descriptor limit raised from %llu to %llu", (unsigned long long)old,
            (unsigned long long)need);
    return CLI_EXIT_OK;
}

/* systemd's readiness protocol (sd_notify(3); the units are Type=notify). Without
 * NOTIFY_SOCKET, outside systemd, sd_notify does nothing. Its failures change nothing here:
 * systemd then times the start or reload out itself and says so. */
static void notify(const char *state)
{
    (void)sd_notify(0, state);
}

int kms_daemon_run(const struct kms_daemon_hooks *hooks)
{
    /* Called once every listener is bound and the first request can be served. */
    notify("READY=1\nSTATUS=serving");
    for (unsigned n = 0;; n++) {
        struct timespec period = {(time_t)hooks->tick_seconds, 0};
        int sig = sigtimedwait(&stop_sigs, NULL, &period);
        if (sig == SIGTERM || sig == SIGINT) {
            notify("STOPPING=1\nSTATUS=stopping: finishing the requests in flight");
            kms_log(KMS_LOG_INFO, "signal %d: stopping", sig);
            return CLI_EXIT_OK;
        }
        if (sig == SIGHUP) {
            kms_log(KMS_LOG_INFO, "signal %d: reloading", sig);
            /* MONOTONIC_USEC: what systemd 253's notify-reload wants; 252 ignores it. */
            struct timespec mono;
            char msg[96];
            (void)clock_gettime(CLOCK_MONOTONIC, &mono);
            (void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
                           (unsigned long long)mono.tv_sec * 1000000ULL +
                               (unsigned long long)mono.tv_nsec / 1000ULL);
            notify(msg);
            if (hooks->reload != NULL) {
                hooks->reload(hooks->ctx);
            }
            notify("READY=1\nSTATUS=serving");
            continue; /* the tick keeps its period: the next one comes at most a period later */
        }
        hooks->tick(hooks->ctx, n, kms_now());
    }
}

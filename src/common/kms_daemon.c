/* SPDX-License-Identifier: Apache-2.0 */
#include "kms_daemon.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
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
     * threads inherit the mask. Issue 15 adds SIGHUP (reload) to this set. */
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
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

int kms_daemon_run(const struct kms_daemon_hooks *hooks)
{
    for (unsigned n = 0;; n++) {
        struct timespec period = {(time_t)hooks->tick_seconds, 0};
        int sig = sigtimedwait(&stop_sigs, NULL, &period);
        if (sig == SIGTERM || sig == SIGINT) {
            kms_log(KMS_LOG_INFO, "signal %d: stopping", sig);
            return CLI_EXIT_OK;
        }
        /* Issue 15: SIGHUP -> hooks->reload here. */
        hooks->tick(hooks->ctx, n, kms_now());
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms ue rtp-send | rtp-recv | srtp-export: protected media (SRTP over libsrtp2,
 * lib/srtp/kms_srtp.h) from the session file DIR/srtp that `ue answer` / `ue accept` write
 * (lib/ue/kms_media.h).
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "srtp/kms_rtp.h"
#include "srtp/kms_srtp.h"
#include "ue/kms_media.h"
#include "util/kms_codec.h"
#include "util/kms_file.h"
#include "util/kms_mem.h"

#define MEDIA_PAYLOAD   160 /* 20 ms of PCMU at 8000 Hz */
#define MEDIA_PTIME_NS  20000000L
#define MEDIA_IDLE_MS   2000        /* rtp-recv ends after this long without a datagram */
#define MEDIA_SAVE_MS   1000        /* rtp-recv saves its position at least this often */
#define MEDIA_POLL_MS   200         /* the longest poll: how long a stop request may wait */
#define MEDIA_SECONDS   3600        /* --seconds at most */
#define MEDIA_STORE_MAX (64u << 20) /* payload octets rtp-recv keeps for the in-order hash */
#define MEDIA_DGRAM_MAX 2048

#define MEDIA_EXIT_NOTE                                                                            \
    "\nExit status: 0 done; 2 bad usage (an option, a missing, malformed or "                      \
    "group/world-readable\n"                                                                       \
    "session file, an address that cannot be used); 3 a socket, file or internal failure.\n"

static const char send_help[] =
    "usage: imskms ue rtp-send --session DIR [--remote HOST:PORT] --seconds S [--file RAW]\n"
    "                          [--first-seq N]\n"
    "\n"
    "Sends S seconds of PCMU (payload type 0) over SRTP: one packet of 160 payload octets\n"
    "(20 ms) every 20 ms, protected with the sending stream of DIR/srtp (the session file that\n"
    "'imskms ue answer' or 'imskms ue accept' writes: policy, SSRC, master key and salt, initial\n"
    "ROC and SEQ).\n"
    "\n"
    "  --session DIR   the session directory holding srtp (mode 0600)\n"
    "  --remote ADDR   where to send, IPV4:PORT or [IPV6]:PORT (default: the session's\n"
    "                  remote_addr, the peer's address and port from the offer or answer)\n"
    "  --seconds S     how long, 1..3600 (50 packets a second)\n"
    "  --file RAW      send these raw mu-law octets, 160 per packet (the last one shorter),\n"
    "                  stopping at the end of the file or after S seconds; default: a\n"
    "                  generated 440 Hz tone\n"
    "  --first-seq N   the first sequence number, 0..65535, instead of the session's (65500\n"
    "                  crosses the wrap after 36 packets: the ROC advances). A test knob: a\n"
    "                  number below where the session stands sends packet indices again\n"
    "\n"
    "Before the first packet it writes to DIR/srtp the sequence number and ROC this run will\n"
    "end at, so that the next run continues there: a key never protects one packet index twice\n"
    "(RFC 3711 9.1), even after a crash (which only skips indices).\n"
    "Prints at the end packets=, bytes= (payload octets), auth_failures=0, replays=0 and\n"
    "payload_sha256= (SHA-256 over the payloads sent, in sequence order).\n" MEDIA_EXIT_NOTE;

static const char recv_help[] =
    "usage: imskms ue rtp-recv --session DIR [--listen HOST:PORT] --seconds S [--out RAW]\n"
    "\n"
    "Receives SRTP with the receiving stream of DIR/srtp: prints port= (the UDP port it listens\n"
    "on, flushed) once it listens, then unprotects every datagram. It receives for S seconds\n"
    "counted from the first datagram, and stops earlier when no datagram came for 2 seconds\n"
    "after the first one, or after S seconds when none comes at all.\n"
    "\n"
    "  --session DIR   the session directory holding srtp (mode 0600)\n"
    "  --listen ADDR   IPV4:PORT or [IPV6]:PORT, port 0 for any free port (default: the\n"
    "                  session's local_addr, the port of our m= line)\n"
    "  --seconds S     1..3600\n"
    "  --out RAW       write the payloads accepted, in sequence order, to this file\n"
    "\n"
    "SIGINT or SIGTERM ends it early, as the time limit would. One rtp-recv runs on a\n"
    "session at a time (DIR/srtp.recv.lock): a second one exits 2.\n"
    "\n"
    "Prints at the end packets= and bytes= (payload octets) of the packets accepted,\n"
    "auth_failures= (a tag that does not verify: another key, tampering; or anything else\n"
    "libsrtp or the RTP header check refuses), replays= (an index already seen, older than\n"
    "the 128-packet window, or below the session's remote position), other_ssrc= (authentic\n"
    "under our key but not the peer's SSRC),\n"
    "payload_sha256= (SHA-256 over the payloads accepted, in sequence order: equal to the\n"
    "sender's when every packet decrypted).\n"
    "\n"
    "The session's remote_roc and remote_seq are the first packet index it accepts: a packet\n"
    "below is counted in replays= (an earlier run received it, or it precedes the stream),\n"
    "and the first packet's index is estimated from there (RFC 3711 3.3.1). When at least\n"
    "one packet authenticated, it writes to DIR/srtp remote_roc= and remote_seq= of the index\n"
    "after the highest it authenticated, every second while packets come and at the end\n"
    "(also after an error or a stop signal), so that the next run on this session goes on\n"
    "from there (also after the sender's SEQ wrapped) and refuses what this one received; a\n"
    "run killed outright (SIGKILL, a crash) leaves at most its last second unrecorded. When\n"
    "no packet authenticated, the file stays as it was.\n" MEDIA_EXIT_NOTE;

static const char export_help[] =
    "usage: imskms ue srtp-export --session DIR --show-secrets\n"
    "\n"
    "Prints the sending stream's SRTP master key and salt as an RFC 4568 crypto attribute\n"
    "line (9.1: tag, crypto-suite, key-params \"inline:\" base64 of key || salt, 6.1) for lab\n"
    "tools such as Wireshark or a test SRTP peer:\n"
    "  crypto=1 AES_CM_128_HMAC_SHA1_80 inline:BASE64\n"
    "(AES_256_CM_HMAC_SHA1_80, RFC 6188; AEAD_AES_128_GCM, RFC 7714 14.2, for those policies).\n"
    "THIS PRINTS A SECRET: whoever reads it decrypts the call and can forge its media. Without\n"
    "--show-secrets it refuses.\n"
    "\n"
    "  --session DIR   the session directory holding srtp (mode 0600)\n"
    "  --show-secrets  required: yes, print the key\n" MEDIA_EXIT_NOTE;

/* DIR/srtp into s, or one line and exit 2 (the user's to fix) or 3. */
static int load_session(const struct cli_args *a, const char *dir, struct kms_media_session *s)
{
    errno = 0;
    kms_result r = kms_media_session_load(dir, s);
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    int e = errno;
    fprintf(stderr, "%s: --session: %s/srtp: %s%s%s\n", a->cmd, dir, kms_strerror(r.err),
            r.err == KMS_ERR_IO && e != 0 ? ": " : "",
            r.err == KMS_ERR_IO && e != 0 ? strerror(e) : "");
    return r.err == KMS_ERR_NOMEM || r.err == KMS_ERR_INTERNAL ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
}

/* ADDR (IPV4:PORT or [IPV6]:PORT) as a socket address; port 0 allowed when any_port. */
static int resolve(const struct cli_args *a, const char *opt, const char *addr, bool any_port,
                   struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[64];
    uint16_t port = 0;
    if (!kms_ok(kms_media_addr_split(addr, any_port ? 0 : 1, host, sizeof(host), &port))) {
        fprintf(stderr, "%s: %s: '%s' is not IPV4:PORT or [IPV6]:PORT\n", a->cmd, opt, addr);
        return CLI_EXIT_USAGE;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[8];
    (void)snprintf(ps, sizeof(ps), "%u", (unsigned)port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
        if (res != NULL) {
            freeaddrinfo(res);
        }
        fprintf(stderr, "%s: %s: '%s' cannot be used\n", a->cmd, opt, addr);
        return CLI_EXIT_USAGE;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return CLI_EXIT_OK;
}

static int sys_fail(const struct cli_args *a, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", a->cmd, what, strerror(errno));
    return CLI_EXIT_INTERNAL;
}

static void print_hash(EVP_MD_CTX *md)
{
    uint8_t h[32];
    unsigned int hl = 0;
    if (EVP_DigestFinal_ex(md, h, &hl) != 1 || hl != sizeof(h)) {
        memset(h, 0, sizeof(h));
    }
    (void)cli_print_hex("payload_sha256", h, sizeof(h));
}

/* G.711 mu-law of a 16-bit linear sample (ITU-T G.711, the segment/quantisation table as the
 * usual bias-and-shift form: bias 0x84, clip 32635). */
static uint8_t mulaw(int16_t pcm)
{
    int s = pcm;
    int sign = 0;
    if (s < 0) {
        s = -s;
        sign = 0x80;
    }
    if (s > 32635) {
        s = 32635;
    }
    s += 0x84;
    int exp = 7;
    for (int mask = 0x4000; (s & mask) == 0 && exp > 0; mask >>= 1) {
        exp--;
    }
    int mant = (s >> (exp + 3)) & 0x0f;
    return (uint8_t) ~(sign | exp << 4 | mant);
}

/* 440 Hz at 8000 samples/s repeats every 200 samples (440/8000 = 11/200). */
#define TONE_PERIOD 200
static void make_tone(uint8_t tone[TONE_PERIOD])
{
    for (int i = 0; i < TONE_PERIOD; i++) {
        double v = 8000.0 * sin(2.0 * 3.14159265358979323846 * 440.0 * i / 8000.0);
        tone[i] = mulaw((int16_t)lrint(v));
    }
}

/* Moves one stream of DIR/srtp forward to ROC || SEQ = index, as a read-modify-write under
 * DIR/srtp.lock: rtp-send and rtp-recv of one session run at once, and each must keep the
 * other's stream as the file has it. Never back: a sending index moved back would protect
 * indices twice, a receiving one would accept replays of indices already received. The file
 * is left alone when it no longer holds the stream of s (a new call's session written
 * meanwhile: its indices are its own). */
static kms_result session_move(const char *dir, const struct kms_media_session *s, bool local,
                               uint64_t index)
{
    kms_result rc = KMS_RC_INIT;
    char path[4096];
    int lock = -1;
    struct kms_media_session t;
    memset(&t, 0, sizeof(t));
    KMS_TRY_OUT(rc, kms_file_path(path, sizeof(path), dir, "srtp"));
    KMS_TRY_OUT(rc, kms_file_lock(path, &lock));
    KMS_TRY_OUT(rc, kms_media_session_load(dir, &t));
    struct kms_media_stream *st = local ? &t.local : &t.remote;
    const struct kms_media_stream *was = local ? &s->local : &s->remote;
    bool same = t.policy == s->policy && st->ssrc == was->ssrc && st->cs_id == was->cs_id &&
                kms_ct_eq(st->key, was->key, sizeof(st->key)) &&
                kms_ct_eq(st->salt, was->salt, sizeof(st->salt));
    if (same && index > ((uint64_t)st->roc << 16 | st->seq)) {
        st->roc = (uint32_t)(index >> 16);
        st->seq = (uint16_t)(index & 0xffff);
        KMS_TRY_OUT(rc, kms_media_session_save(dir, &t));
    }
    rc = KMS_RESULT_OK;
out:
    kms_media_session_wipe(&t);
    kms_file_unlock(&lock);
    return rc;
}

/* Writes DIR/srtp with the sending stream's next packet index moved past the count packets
 * this run sends from seq (at the session's ROC), unless the session is further on already (a
 * --first-seq below it: a test knob that may repeat indices, as its help says). */
static int reserve_indices(const struct cli_args *a, const char *dir,
                           const struct kms_media_session *s, uint16_t seq, uint64_t count)
{
    uint64_t stored = ((uint64_t)s->local.roc << 16) | s->local.seq;
    uint64_t end = (((uint64_t)s->local.roc << 16) | seq) + count;
    if (end > stored) {
        if (end > KMS_MEDIA_INDEX_MAX) {
            fprintf(stderr,
                    "%s: --session: %s/srtp: the sending stream's packet indices are spent\n",
                    a->cmd, dir);
            return CLI_EXIT_USAGE;
        }
        kms_result r = session_move(dir, s, true, end);
        if (!kms_ok(r)) {
            fprintf(stderr, "%s: --session: %s/srtp: %s\n", a->cmd, dir, kms_strerror(r.err));
            return CLI_EXIT_INTERNAL;
        }
    }
    return CLI_EXIT_OK;
}

/* Writes the receiving stream's position to DIR/srtp (remote_roc, remote_seq: the index after
 * the highest this run authenticated), so that the next rtp-recv estimates its first packet
 * from there (RFC 3711 3.3.1) and refuses every index below as a replay; nothing when no
 * packet authenticated. */
static int save_position(const struct cli_args *a, const char *dir,
                         const struct kms_media_session *s, const struct kms_srtp *c)
{
    uint32_t roc = 0;
    uint16_t seq = 0;
    kms_result r = kms_srtp_rx_position(c, &roc, &seq);
    if (r.err == KMS_ERR_NOT_FOUND) {
        return CLI_EXIT_OK;
    }
    if (kms_ok(r)) {
        r = session_move(dir, s, false, (uint64_t)roc << 16 | seq);
    }
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: --session: %s/srtp: %s\n", a->cmd, dir, kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static void ts_add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static int rtp_send(const char *prefix, int argc, char **argv)
{
    enum { S_SESSION, S_REMOTE, S_SECONDS, S_FILE, S_FIRST_SEQ, S_N };
    static const struct cli_opt opts[S_N] = {
        CLI_REQUIRED("session"), CLI_VALUE("remote"),    CLI_REQUIRED("seconds"),
        CLI_VALUE("file"),       CLI_VALUE("first-seq"),
    };
    struct cli_args a;
    int rc = cli_parse_help(prefix, opts, S_N, 0, argc, argv, send_help, &a);
    if (rc != 0 || a.help || (rc = cli_require(&a, opts, S_N)) != 0) {
        return rc;
    }
    uint64_t secs = 0, first_seq = 0;
    if (!cli_uint(a.val[S_SECONDS], 1, MEDIA_SECONDS, &secs)) {
        return cli_usage_error(&a, "--seconds: a whole number of seconds, 1..3600");
    }
    if (a.val[S_FIRST_SEQ] != NULL && !cli_uint(a.val[S_FIRST_SEQ], 0, 65535, &first_seq)) {
        return cli_usage_error(&a, "--first-seq: a sequence number, 0..65535");
    }
    struct kms_media_session s;
    if ((rc = load_session(&a, a.val[S_SESSION], &s)) != 0) {
        return rc;
    }
    uint16_t seq = a.val[S_FIRST_SEQ] != NULL ? (uint16_t)first_seq : s.local.seq;
    /* RFC 3711 3.3.1: the packet index is ROC * 2^16 + SEQ; a key never protects the same index
     * twice (9.1: keystream reuse). So the index this run will reach is written to DIR/srtp
     * before the first packet: a later run starts there, and a crash only skips indices. */
    if ((rc = reserve_indices(&a, a.val[S_SESSION], &s, seq, secs * 50)) != 0) {
        goto out_session;
    }
    struct sockaddr_storage to;
    socklen_t tol = 0;
    FILE *in = NULL;
    struct kms_srtp *c = NULL;
    EVP_MD_CTX *md = NULL;
    int fd = -1;
    const char *remote = a.val[S_REMOTE] != NULL ? a.val[S_REMOTE] : s.remote_addr;
    if ((rc = resolve(&a, a.val[S_REMOTE] != NULL ? "--remote" : "remote_addr", remote, false, &to,
                      &tol)) != 0) {
        goto out;
    }
    if (a.val[S_FILE] != NULL && (in = fopen(a.val[S_FILE], "rb")) == NULL) {
        fprintf(stderr, "%s: --file: %s: %s\n", a.cmd, a.val[S_FILE], strerror(errno));
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    kms_result r = kms_srtp_new(&s, KMS_SRTP_SEND, &c);
    if (!kms_ok(r)) {
        rc = cli_fail(&a, s.policy->name, r.err);
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = cli_fail(&a, "sha256", KMS_ERR_CRYPTO);
        goto out;
    }
    fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, tol) != 0) {
        rc = sys_fail(&a, remote);
        goto out;
    }
    uint8_t tone[TONE_PERIOD];
    make_tone(tone);
    uint32_t ts = 0;
    if (RAND_bytes((unsigned char *)&ts, sizeof(ts)) != 1) {
        rc = cli_fail(&a, "timestamp", KMS_ERR_RANDOM);
        goto out;
    }
    uint8_t pkt[KMS_RTP_HDR_LEN + MEDIA_PAYLOAD + KMS_SRTP_TRAILER_MAX];
    struct timespec next;
    (void)clock_gettime(CLOCK_MONOTONIC, &next);
    size_t phase = 0;
    for (uint64_t i = 0; i < secs * 50; i++) {
        uint8_t *pl = pkt + KMS_RTP_HDR_LEN;
        size_t n = MEDIA_PAYLOAD;
        if (in != NULL) {
            n = fread(pl, 1, MEDIA_PAYLOAD, in);
            if (n == 0) {
                if (ferror(in)) {
                    rc = sys_fail(&a, a.val[S_FILE]);
                    goto out;
                }
                break;
            }
        } else {
            for (size_t k = 0; k < n; k++) {
                pl[k] = tone[phase];
                phase = (phase + 1) % TONE_PERIOD;
            }
        }
        (void)EVP_DigestUpdate(md, pl, n);
        kms_rtp_write_hdr(pkt, i == 0, KMS_RTP_PT_PCMU, seq, ts, s.local.ssrc);
        size_t out_len = 0;
        r = kms_srtp_protect(c, pkt, KMS_RTP_HDR_LEN + n, sizeof(pkt), &out_len);
        if (!kms_ok(r)) {
            rc = cli_fail(&a, "srtp protect", r.err);
            goto out;
        }
        (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        if (send(fd, pkt, out_len, 0) < 0 && errno != ECONNREFUSED) {
            rc = sys_fail(&a, "send");
            goto out;
        }
        ts_add_ns(&next, MEDIA_PTIME_NS);
        seq++;
        ts += MEDIA_PAYLOAD;
        if (in != NULL && n < MEDIA_PAYLOAD) {
            break;
        }
    }
    const struct kms_srtp_counters *k = kms_srtp_counters(c);
    printf("packets=%llu\nbytes=%llu\nauth_failures=0\nreplays=0\n", (unsigned long long)k->packets,
           (unsigned long long)k->bytes);
    print_hash(md);
    rc = CLI_EXIT_OK;
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    if (in != NULL) {
        (void)fclose(in);
    }
    EVP_MD_CTX_free(md);
    kms_srtp_free(c);
    kms_srtp_shutdown();
out_session:
    kms_media_session_wipe(&s);
    return rc;
}

/* The payloads accepted, to hash and write in sequence order. */
struct rx_item {
    uint64_t index; /* our estimate of the extended index, ROC || SEQ */
    size_t off, len;
};

struct rx_store {
    struct rx_item *items;
    size_t n, cap;
    uint8_t *data;
    size_t len, data_cap;
    bool full;
};

static bool rx_add(struct rx_store *st, uint64_t index, const uint8_t *p, size_t n)
{
    if (st->len + n > MEDIA_STORE_MAX) {
        st->full = true;
        return false;
    }
    if (st->n == st->cap) {
        size_t nc = st->cap ? 2 * st->cap : 1024;
        struct rx_item *ni = realloc(st->items, nc * sizeof(*ni));
        if (ni == NULL) {
            return false;
        }
        st->items = ni;
        st->cap = nc;
    }
    if (st->len + n > st->data_cap) {
        size_t nc = st->data_cap ? 2 * st->data_cap : 1024 * MEDIA_PAYLOAD;
        while (nc < st->len + n) {
            nc *= 2;
        }
        uint8_t *nd = realloc(st->data, nc);
        if (nd == NULL) {
            return false;
        }
        st->data = nd;
        st->data_cap = nc;
    }
    if (n > 0) {
        memcpy(st->data + st->len, p, n);
    }
    st->items[st->n++] = (struct rx_item){index, st->len, n};
    st->len += n;
    return true;
}

static int rx_cmp(const void *x, const void *y)
{
    const struct rx_item *a = x, *b = y;
    return a->index < b->index ? -1 : a->index > b->index;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* SIGINT or SIGTERM during rtp-recv: the run ends as at its time limit, its position saved. */
static volatile sig_atomic_t recv_stop;

static void on_stop(int sig)
{
    (void)sig;
    recv_stop = 1;
}

static int rtp_recv(const char *prefix, int argc, char **argv)
{
    enum { R_SESSION, R_LISTEN, R_SECONDS, R_OUT, R_N };
    static const struct cli_opt opts[R_N] = {
        CLI_REQUIRED("session"),
        CLI_VALUE("listen"),
        CLI_REQUIRED("seconds"),
        CLI_VALUE("out"),
    };
    struct cli_args a;
    int rc = cli_parse_help(prefix, opts, R_N, 0, argc, argv, recv_help, &a);
    if (rc != 0 || a.help || (rc = cli_require(&a, opts, R_N)) != 0) {
        return rc;
    }
    uint64_t secs = 0;
    if (!cli_uint(a.val[R_SECONDS], 1, MEDIA_SECONDS, &secs)) {
        return cli_usage_error(&a, "--seconds: a whole number of seconds, 1..3600");
    }
    struct kms_media_session s;
    if ((rc = load_session(&a, a.val[R_SESSION], &s)) != 0) {
        return rc;
    }
    struct sockaddr_storage me;
    socklen_t mel = 0;
    struct kms_srtp *c = NULL;
    struct rx_store st = {0};
    EVP_MD_CTX *md = NULL;
    FILE *out = NULL;
    int fd = -1, rlock = -1;
    char rpath[4096];
    /* One receiver per session at a time (DIR/srtp.recv.lock, held for the run): two would
     * share one floor, each accepting what the other received. */
    kms_result lr = kms_file_path(rpath, sizeof(rpath), a.val[R_SESSION], "srtp.recv");
    if (kms_ok(lr)) {
        lr = kms_file_trylock(rpath, &rlock);
    }
    if (lr.err == KMS_ERR_EXISTS) {
        fprintf(stderr, "%s: --session %s: another rtp-recv runs on this session\n", a.cmd,
                a.val[R_SESSION]);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (!kms_ok(lr)) {
        fprintf(stderr, "%s: --session: %s.lock: %s\n", a.cmd, rpath, kms_strerror(lr.err));
        rc = CLI_EXIT_INTERNAL;
        goto done;
    }
    const char *listen = a.val[R_LISTEN] != NULL ? a.val[R_LISTEN] : s.local_addr;
    if ((rc = resolve(&a, a.val[R_LISTEN] != NULL ? "--listen" : "local_addr", listen, true, &me,
                      &mel)) != 0) {
        goto done;
    }
    kms_result r = kms_srtp_new(&s, KMS_SRTP_RECV, &c);
    if (!kms_ok(r)) {
        rc = cli_fail(&a, s.policy->name, r.err);
        goto done;
    }
    fd = socket(me.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, mel) != 0 ||
        getsockname(fd, (struct sockaddr *)&me, &mel) != 0) {
        fprintf(stderr, "%s: %s: %s\n", a.cmd, listen, strerror(errno));
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    uint16_t port = me.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&me)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&me)->sin_port);
    /* Not SA_RESTART: poll returns EINTR; a signal between the check and poll waits at most
     * MEDIA_POLL_MS. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    printf("port=%u\n", (unsigned)port);
    (void)fflush(stdout);
    struct timespec start, first, last, saved;
    (void)clock_gettime(CLOCK_MONOTONIC, &start);
    saved = start;
    bool got = false, failed = false, save_failed = false;
    uint8_t buf[MEDIA_DGRAM_MAX];
    while (recv_stop == 0) {
        long left =
            got ? (long)secs * 1000 - ms_since(&first) : (long)secs * 1000 - ms_since(&start);
        if (got && MEDIA_IDLE_MS - ms_since(&last) < left) {
            left = MEDIA_IDLE_MS - ms_since(&last);
        }
        if (left <= 0) {
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(left < MEDIA_POLL_MS ? left : MEDIA_POLL_MS));
        if (pr < 0 && errno != EINTR) {
            rc = sys_fail(&a, "poll");
            failed = true;
            break;
        }
        if (pr <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            continue;
        }
        (void)clock_gettime(CLOCK_MONOTONIC, &last);
        if (!got) {
            first = last;
            got = true;
        }
        struct kms_rtp_hdr h;
        if (!kms_ok(kms_srtp_unprotect(c, buf, (size_t)n, KMS_RTP_PT_PCMU, &h))) {
            continue;
        }
        if (!rx_add(&st, kms_srtp_last_index(c), h.payload, h.payload_len) && !st.full) {
            rc = cli_fail(&a, "receive", KMS_ERR_NOMEM);
            failed = true;
            break;
        }
        /* The floor for the next run, now and then: a run killed outright loses at most this
         * much of it (the packets since could be replayed to the next run). */
        if (ms_since(&saved) >= MEDIA_SAVE_MS) {
            if ((rc = save_position(&a, a.val[R_SESSION], &s, c)) != 0) {
                failed = save_failed = true;
                break;
            }
            (void)clock_gettime(CLOCK_MONOTONIC, &saved);
        }
    }
    /* Whatever ended the run (its time, a stop signal, an error), what it accepted is recorded. */
    int sr = save_failed ? rc : save_position(&a, a.val[R_SESSION], &s, c);
    if (failed) {
        goto done;
    }
    if ((rc = sr) != 0) {
        goto done;
    }
    if (st.full) {
        fprintf(stderr, "%s: more than %u payload octets: not kept for the hash\n", a.cmd,
                MEDIA_STORE_MAX);
        rc = CLI_EXIT_INTERNAL;
        goto done;
    }
    if (st.n > 0) {
        qsort(st.items, st.n, sizeof(st.items[0]), rx_cmp);
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = cli_fail(&a, "sha256", KMS_ERR_CRYPTO);
        goto done;
    }
    if (a.val[R_OUT] != NULL && (out = fopen(a.val[R_OUT], "wb")) == NULL) {
        rc = sys_fail(&a, a.val[R_OUT]);
        goto done;
    }
    for (size_t i = 0; i < st.n; i++) {
        const uint8_t *p = st.data + st.items[i].off;
        (void)EVP_DigestUpdate(md, p, st.items[i].len);
        if (out != NULL && st.items[i].len > 0 &&
            fwrite(p, 1, st.items[i].len, out) != st.items[i].len) {
            rc = sys_fail(&a, a.val[R_OUT]);
            goto done;
        }
    }
    if (out != NULL) {
        FILE *f = out;
        out = NULL;
        if (fclose(f) != 0) {
            rc = sys_fail(&a, a.val[R_OUT]);
            goto done;
        }
    }
    const struct kms_srtp_counters *k = kms_srtp_counters(c);
    printf("packets=%llu\nbytes=%llu\nauth_failures=%llu\nreplays=%llu\nother_ssrc=%llu\n",
           (unsigned long long)k->packets, (unsigned long long)k->bytes,
           (unsigned long long)k->auth_failures, (unsigned long long)k->replays,
           (unsigned long long)k->other_ssrc);
    print_hash(md);
    rc = CLI_EXIT_OK;
done:
    if (out != NULL) {
        (void)fclose(out);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    EVP_MD_CTX_free(md);
    free(st.items);
    free(st.data);
    kms_srtp_free(c);
    kms_srtp_shutdown();
    kms_media_session_wipe(&s);
    kms_file_unlock(&rlock);
    return rc;
}

static int srtp_export(const char *prefix, int argc, char **argv)
{
    enum { E_SESSION, E_SHOW, E_N };
    static const struct cli_opt opts[E_N] = {CLI_REQUIRED("session"), CLI_FLAG("show-secrets")};
    struct cli_args a;
    int rc = cli_parse_help(prefix, opts, E_N, 0, argc, argv, export_help, &a);
    if (rc != 0 || a.help || (rc = cli_require(&a, opts, E_N)) != 0) {
        return rc;
    }
    if (!a.seen[E_SHOW]) {
        return cli_usage_error(&a, "this prints the SRTP master key: add --show-secrets");
    }
    struct kms_media_session s;
    if ((rc = load_session(&a, a.val[E_SESSION], &s)) != 0) {
        return rc;
    }
    uint8_t ks[KMS_MEDIA_KEY_MAX + KMS_MEDIA_SALT_MAX];
    char b64[(sizeof(ks) + 2) / 3 * 4 + 1];
    size_t n = (size_t)s.policy->key_len + s.policy->salt_len;
    memcpy(ks, s.local.key, s.policy->key_len);
    memcpy(ks + s.policy->key_len, s.local.salt, s.policy->salt_len);
    kms_result r = kms_base64_encode(ks, n, b64, sizeof(b64));
    if (kms_ok(r)) {
        /* RFC 4568 9.1: "a=crypto:" tag crypto-suite key-params; 6.1: inline:key||salt. */
        printf("crypto=1 %s inline:%s\n", s.policy->suite, b64);
        rc = CLI_EXIT_OK;
    } else {
        rc = cli_fail(&a, "base64", r.err);
    }
    kms_wipe(ks, sizeof(ks));
    kms_wipe(b64, sizeof(b64));
    kms_media_session_wipe(&s);
    return rc;
}

int ue_rtp_send(const char *prefix, int argc, char **argv);
int ue_rtp_recv(const char *prefix, int argc, char **argv);
int ue_srtp_export(const char *prefix, int argc, char **argv);

int ue_rtp_send(const char *prefix, int argc, char **argv)
{
    return rtp_send(prefix, argc, argv);
}

int ue_rtp_recv(const char *prefix, int argc, char **argv)
{
    return rtp_recv(prefix, argc, argv);
}

int ue_srtp_export(const char *prefix, int argc, char **argv)
{
    return srtp_export(prefix, argc, argv);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_mkmikey: builds and seals fixed MIKEY messages for the tshark interop test
 * (tests/interop/test_tshark.sh). Test-only, never installed.
 *
 *   test_mkmikey i_message|r_message|request_init|request_resp --od|--expect
 *
 * --od      the sealed message as an od-style hex dump that text2pcap reads
 *           ("000000 01 00 05 ...", 16 octets a line, 6-digit hex offsets);
 * --expect  the values tshark should show, one "field=value" line per tshark field
 *           (several occurrences joined with ','), computed from the structures built
 *           here and from the keys, never by decoding the message just encoded.
 *
 * Every input is fixed (PSK, CSB ID, RANDs, identities, NTP timestamp), so the output is the
 * same on every run. The messages:
 *   i_message    RFC 3830 PSK I_MESSAGE: HDR (PRF MIKEY-1, SRTP-ID map, 2 CS), T (NTP-UTC),
 *                RAND, ID (IDi), ID (IDr), SP (SRTP), KEMAC (AES-CM-128, HMAC-SHA-1-160) over a
 *                TGK key data sub-payload;
 *   r_message    its R_MESSAGE: HDR, T (the I_MESSAGE's), ID (IDr), V (HMAC-SHA-1-160), MAC
 *                over R_MESSAGE || IDi || IDr || T (as tests/unit/test_mikey_msg.c);
 *   request_init RFC 6043 REQUEST_INIT_PSK: HDR (PRF-HMAC-SHA-256, Empty map), T, RANDRi,
 *                IDRi, IDRkms, TP, IDRpsk, V (HMAC-SHA-256-256);
 *   request_resp RFC 6043 REQUEST_RESP: HDR, T, IDRkms, TICKET, KEMAC (AES-CM-128, MPK || TGK),
 *                V (HMAC-SHA-256-256) over REQUEST_RESP || REQUEST_INIT_PSK.
 *
 * tshark 4.0 stops dissecting at the first RFC 6043-only payload (TR, RANDR, TP, TICKET), so
 * for request_init and request_resp the expectations end there: the Next Payload octets up to
 * and including that payload's own, and the fields of the payloads before it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikey/kms_mikey_msg.h"

/* ---- fixed inputs ------------------------------------------------------------------------ */

static const uint8_t psk[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t rand_i[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                   0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t randr_i[16] = {0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f, 0x90, 0x81,
                                    0x72, 0x63, 0x54, 0x45, 0x36, 0x27, 0x18, 0x09};
static const uint8_t tgk[16] = {0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
                                0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, 0x00};
static const uint8_t mpk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
#define CSB_ID   UINT32_C(0x01020304)
#define CSB_ID_T UINT32_C(0x8badf00d) /* the RFC 6043 exchange */
/* 2024-05-06 07:08:09.25 UTC: NTP seconds 1714979289 + 2208988800, fraction 0.25. */
#define NTP_T (((uint64_t)(1714979289ULL + 2208988800ULL) << 32) | 0x40000000ULL)
/* A second, later time for the REQUEST_RESP (its own T): 2024-05-06 07:08:10.5 UTC. */
#define NTP_T2 (((uint64_t)(1714979290ULL + 2208988800ULL) << 32) | 0x80000000ULL)

static const char id_i[] = "alice@example.org", id_r[] = "bob@example.org";
static const char idr_i[] = "sip:alice@example.org", idr_kms[] = "sip:kms.example.org",
                  idr_psk[] = "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.org";

/* SRTP policy parameters (RFC 3830 6.10.1): type, length, value. */
static const uint8_t sp_params[] = {
    0,  1, 1,  /* encryption algorithm: AES-CM */
    1,  1, 16, /* session encryption key length */
    2,  1, 1,  /* authentication algorithm: HMAC-SHA-1 */
    3,  1, 20, /* session authentication key length */
    4,  1, 14, /* session salt key length */
    7,  1, 1,  /* SRTP encryption: on */
    8,  1, 1,  /* SRTCP encryption: on */
    10, 1, 1,  /* SRTP authentication: on */
    11, 1, 10, /* authentication tag length */
};

static uint8_t zero_mac[32];

/* ---- expectations ------------------------------------------------------------------------ */

#define MAX_EXP 64
struct expectation {
    char name[48];
    char val[2048];
};
static struct expectation exps[MAX_EXP];
static size_t n_exp;

static void die(const char *what)
{
    fprintf(stderr, "test_mkmikey: %s\n", what);
    exit(3);
}

static void check(kms_result r, const char *what)
{
    if (!kms_ok(r)) {
        fprintf(stderr, "test_mkmikey: %s: %s\n", what, kms_strerror(r.err));
        exit(3);
    }
}

/* Adds one occurrence of a field: a new line, or ",value" after the earlier ones. */
__attribute__((format(printf, 2, 3))) static void expect(const char *name, const char *fmt, ...)
{
    char v[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(v)) {
        die("expectation too long");
    }
    struct expectation *e = NULL;
    for (size_t i = 0; i < n_exp; i++) {
        if (strcmp(exps[i].name, name) == 0) {
            e = &exps[i];
        }
    }
    if (e == NULL) {
        if (n_exp == MAX_EXP || strlen(name) >= sizeof(e->name)) {
            die("too many expectations");
        }
        e = &exps[n_exp++];
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->val[0] = '\0';
    } else if (strlen(e->val) + 1 < sizeof(e->val)) {
        strcat(e->val, ",");
    }
    if (strlen(e->val) + strlen(v) >= sizeof(e->val)) {
        die("expectation too long");
    }
    strcat(e->val, v);
}

static void expect_hex(const char *name, const uint8_t *p, size_t n)
{
    char h[1024];
    if (2 * n >= sizeof(h)) {
        die("hex value too long");
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(h + 2 * i, 3, "%02x", p[i]);
    }
    h[2 * n] = '\0';
    expect(name, "%s", h);
}

static void print_expectations(void)
{
    for (size_t i = 0; i < n_exp; i++) {
        printf("%s=%s\n", exps[i].name, exps[i].val);
    }
}

/* Payloads tshark 4.0.17 cannot dissect (protocol-facts.md section 6): it stops there. */
static bool tshark_stops_at(uint8_t type)
{
    return type == KMS_MIKEY_PT_TR || type == KMS_MIKEY_PT_RANDR || type == KMS_MIKEY_PT_TP ||
           type == KMS_MIKEY_PT_TICKET;
}

/* The values a message shows, from its structure. The KEMAC's key data as sent (encrypted)
 * and the MAC of its last payload are passed in: sealing computes them, the structure keeps the
 * plaintext and the placeholder. */
struct wire_values {
    struct kms_bytes kemac_data; /* encrypted key data */
    struct kms_bytes mac;        /* the MAC of the last payload (KEMAC or V) */
};

static void expect_hdr(const struct kms_mikey_msg *m)
{
    const struct kms_mikey_hdr *h = &m->hdr;
    expect("mikey.version", "%u", h->version);
    expect("mikey.type", "%u", h->data_type);
    expect("mikey.v.set", "%u", h->v ? 1u : 0u);
    expect("mikey.prf_func", "%u", h->prf);
    expect("mikey.csb_id", "0x%08x", (unsigned)h->csb_id);
    expect("mikey.cs_count", "%u", h->n_cs);
    expect("mikey.cs_id_map_type", "%u", h->map_type);
    for (size_t i = 0; i < h->n_cs && h->map_type == KMS_MIKEY_MAP_SRTP_ID; i++) {
        expect("mikey.srtp_id.policy_no", "%u", h->cs[i].policy_no);
        expect("mikey.srtp_id.ssrc", "0x%08x", (unsigned)h->cs[i].ssrc);
        expect("mikey.srtp_id.roc", "0x%08x", (unsigned)h->cs[i].roc);
    }
}

static void expect_payload(const struct kms_mikey_payload *pl, const struct wire_values *w,
                           bool last)
{
    switch (pl->type) {
    case KMS_MIKEY_PT_T:
        expect("mikey.t.ts_type", "%u", pl->u.t.ts_type);
        /* the raw 64-bit NTP value: the script turns it into tshark's date string */
        expect("mikey.t.ntp", "0x%016llx", (unsigned long long)pl->u.t.value);
        break;
    case KMS_MIKEY_PT_RAND:
        expect("mikey.rand.len", "%zu", pl->u.rand.rand.len);
        expect_hex("mikey.rand.data", pl->u.rand.rand.p, pl->u.rand.rand.len);
        break;
    case KMS_MIKEY_PT_IDR:
        expect("mikey.id.role", "%u", pl->u.id.role);
        /* fall through */
    case KMS_MIKEY_PT_ID:
        expect("mikey.id.type", "%u", pl->u.id.type);
        expect("mikey.id.len", "%zu", pl->u.id.data.len);
        expect("mikey.id.data", "%.*s", (int)pl->u.id.data.len, (const char *)pl->u.id.data.p);
        break;
    case KMS_MIKEY_PT_SP: {
        expect("mikey.sp.no", "%u", pl->u.sp.policy_no);
        expect("mikey.sp.proto_type", "%u", pl->u.sp.prot_type);
        expect("mikey.sp.param_len", "%zu", pl->u.sp.params.len);
        /* each parameter: its type, its length, and for SRTP its one-octet value under the
         * field tshark names after the type */
        static const char *const srtp_field[] = {
            "mikey.sp.encr_alg",     "mikey.sp.encr_len",  "mikey.sp.auth_alg",
            "mikey.sp.auth_key_len", "mikey.sp.salt_len",  "mikey.sp.prf",
            "mikey.sp.kd_rate",      "mikey.sp.srtp_encr", "mikey.sp.srtcp_encr",
            "mikey.sp.fec",          "mikey.sp.srtp_auth", "mikey.sp.auth_tag_len",
            "mikey.sp.srtp_prefix"};
        const uint8_t *p = pl->u.sp.params.p;
        for (size_t i = 0; i + 2 <= pl->u.sp.params.len; i += 2u + p[i + 1]) {
            if (i + 2u + p[i + 1] > pl->u.sp.params.len) {
                die("bad SP parameters");
            }
            expect("mikey.sp.param.type", "%u", p[i]);
            expect("mikey.sp.param.len", "%u", p[i + 1]);
            /* tshark's own field name, misspelt "patam" in 4.0 */
            expect_hex("mikey.sp.patam.value", p + i + 2, p[i + 1]);
            if (p[i + 1] == 1 && p[i] < sizeof(srtp_field) / sizeof(srtp_field[0])) {
                expect(srtp_field[p[i]], "%u", p[i + 2]);
            }
        }
        break;
    }
    case KMS_MIKEY_PT_KEMAC:
        expect("mikey.kemac.encr_alg", "%u", pl->u.kemac.encr_alg);
        expect("mikey.kemac.key_data_len", "%zu", pl->u.kemac.encr_data.len);
        expect_hex("mikey.kemac.key_data", w->kemac_data.p, w->kemac_data.len);
        expect("mikey.kemac.mac_alg", "%u", pl->u.kemac.mac_alg);
        if (pl->u.kemac.mac_alg != KMS_MIKEY_MAC_NULL) {
            expect_hex("mikey.kemac.mac", last ? w->mac.p : pl->u.kemac.mac.p,
                       last ? w->mac.len : pl->u.kemac.mac.len);
        }
        break;
    case KMS_MIKEY_PT_V:
        expect("mikey.v.auth_alg", "%u", pl->u.v.alg);
        expect_hex("mikey.v.ver_data", w->mac.p, w->mac.len);
        break;
    default:
        die("no expectation written for this payload type");
    }
}

/* The expectations of a whole message: the Next Payload octets in wire order (HDR's, then each
 * payload's), and each payload's fields, up to where tshark stops. */
static void expect_msg(const struct kms_mikey_msg *m, const struct wire_values *w)
{
    expect_hdr(m);
    char np[256] = "";
    size_t stop = m->body.n;
    for (size_t i = 0; i < m->body.n; i++) {
        if (tshark_stops_at(m->body.pl[i].type)) {
            stop = i;
            break;
        }
    }
    /* HDR's octet, then every payload's up to and including the stopping one */
    size_t n_np = stop < m->body.n ? stop + 2 : m->body.n + 1;
    for (size_t i = 0; i < n_np; i++) {
        uint8_t v = i < m->body.n ? m->body.pl[i].type : KMS_MIKEY_PT_LAST;
        size_t l = strlen(np);
        snprintf(np + l, sizeof(np) - l, "%s%u", i ? "," : "", v);
    }
    expect("mikey.next_payload", "%s", np);
    for (size_t i = 0; i < stop; i++) {
        expect_payload(&m->body.pl[i], w, i + 1 == m->body.n);
    }
    if (stop < m->body.n) {
        printf("# tshark stops at %s (payload %zu of %zu)\n",
               kms_mikey_pt_name(m->body.pl[stop].type), stop + 1, m->body.n);
    }
}

/* ---- building ---------------------------------------------------------------------------- */

static struct kms_bytes B(const void *p, size_t n) {
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_mikey_payload *
add(struct kms_mikey_msg *m, uint8_t type)
{
    if (m->body.n == KMS_MIKEY_MAX_PAYLOADS) {
        die("too many payloads");
    }
    struct kms_mikey_payload *pl = &m->body.pl[m->body.n++];
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    return pl;
}

static void hdr(struct kms_mikey_msg *m, uint8_t dt, uint8_t prf, uint32_t csb, bool v)
{
    memset(m, 0, sizeof(*m));
    m->hdr.version = KMS_MIKEY_VERSION;
    m->hdr.data_type = dt;
    m->hdr.prf = prf;
    m->hdr.csb_id = csb;
    m->hdr.v = v;
}

static void srtp_map(struct kms_mikey_msg *m)
{
    m->hdr.map_type = KMS_MIKEY_MAP_SRTP_ID;
    m->hdr.n_cs = 2;
    m->hdr.cs[0] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0x11223344, .roc = 0};
    m->hdr.cs[1] = (struct kms_mikey_cs){.policy_no = 0, .ssrc = 0xcafebabe, .roc = 0x00000102};
}

static void t_payload(struct kms_mikey_msg *m, uint64_t ntp)
{
    add(m, KMS_MIKEY_PT_T)->u.t = (struct kms_mikey_t){KMS_MIKEY_TS_NTP_UTC, ntp};
}

static void ts_bytes(uint64_t ntp, uint8_t out[8])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(ntp >> (56 - 8 * i));
    }
}

/* The MAC of a sealed message recomputed from the keys: over the message without its MAC
 * field, then the extra coverage. */
static void recompute_mac(const struct kms_mikey_msg_keys *k, enum kms_mikey_mac_alg alg,
                          const struct kms_buf *out, const struct kms_mikey_prot *p,
                          uint8_t mac[KMS_MIKEY_MAC_MAX], size_t *mac_len)
{
    size_t want;
    if (!kms_mikey_mac_len(alg, &want) || want == 0 || kms_buf_len(out) < want) {
        die("bad MAC algorithm");
    }
    struct kms_iov iov[8];
    size_t n = 0;
    iov[n++] = (struct kms_iov){kms_buf_data(out), kms_buf_len(out) - want};
    for (size_t i = 0; i < p->n_extra && n < 8; i++) {
        iov[n++] = p->extra[i];
    }
    check(kms_mikey_mac(alg, k->auth, k->auth_len, iov, n, mac, KMS_MIKEY_MAC_MAX, mac_len), "MAC");
}

struct built {
    struct kms_mikey_msg *m;
    struct kms_buf out;
    uint8_t kd_plain[128];
    size_t kd_len;
    uint8_t kd_enc[128];
    uint8_t mac[KMS_MIKEY_MAC_MAX];
    size_t mac_len;
    uint8_t tp_data[64];
    size_t tp_len;
};

static void built_init(struct built *b)
{
    memset(b, 0, sizeof(*b));
    b->m = malloc(sizeof(*b->m));
    if (b->m == NULL) {
        die("out of memory");
    }
    kms_buf_init(&b->out, 1 << 16, false);
}

static void built_cleanup(struct built *b)
{
    kms_buf_cleanup(&b->out);
    free(b->m);
}

static void keydata(struct built *b, const struct kms_mikey_keydata_list *l)
{
    struct kms_buf kb;
    kms_buf_init_fixed(&kb, b->kd_plain, sizeof(b->kd_plain), false);
    check(kms_mikey_keydata_encode(l, &kb), "key data");
    b->kd_len = kms_buf_len(&kb);
}

/* RFC 3830 I_MESSAGE. */
static void build_i_message(struct built *b)
{
    struct kms_mikey_msg *m = b->m;
    hdr(m, KMS_MIKEY_DT_PSK_INIT, KMS_MIKEY_PRF_MIKEY1, CSB_ID, true);
    srtp_map(m);
    t_payload(m, NTP_T);
    add(m, KMS_MIKEY_PT_RAND)->u.rand.rand = B(rand_i, sizeof(rand_i));
    add(m, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 0, B(id_i, strlen(id_i))};
    add(m, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 0, B(id_r, strlen(id_r))};
    add(m, KMS_MIKEY_PT_SP)->u.sp = (struct kms_mikey_sp){0, 0, B(sp_params, sizeof(sp_params))};
    struct kms_mikey_keydata_list l = {0};
    l.n = 1;
    l.kd[0] = (struct kms_mikey_keydata){
        .type = KMS_MIKEY_KD_TGK, .kv = KMS_MIKEY_KV_NULL, .key = B(tgk, sizeof(tgk))};
    keydata(b, &l);
    add(m, KMS_MIKEY_PT_KEMAC)->u.kemac =
        (struct kms_mikey_kemac){KMS_MIKEY_ENCR_AES_CM_128, B(b->kd_plain, b->kd_len),
                                 KMS_MIKEY_MAC_HMAC_SHA1_160, B(zero_mac, 20)};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_PSK_3830,
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA1_160};
    check(kms_mikey_seal(m, psk, sizeof(psk), &p, &b->out), "seal I_MESSAGE");

    /* the key data as sent and the MAC, from the keys (RFC 3830 4.1.4, 4.2.3) */
    struct kms_mikey_msg_keys k;
    check(kms_mikey_msg_keys_psk(KMS_MIKEY_PRF_MIKEY1, psk, sizeof(psk), CSB_ID, rand_i,
                                 sizeof(rand_i), KMS_MIKEY_ENCR_AES_CM_128,
                                 KMS_MIKEY_MAC_HMAC_SHA1_160, &k),
          "keys");
    check(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, k.encr, k.salt, CSB_ID, NTP_T, b->kd_plain,
                           b->kd_len, b->kd_enc),
          "AES-CM");
    recompute_mac(&k, KMS_MIKEY_MAC_HMAC_SHA1_160, &b->out, &p, b->mac, &b->mac_len);
    kms_mikey_msg_keys_cleanup(&k);
}

/* RFC 3830 R_MESSAGE answering build_i_message. */
static void build_r_message(struct built *b)
{
    struct kms_mikey_msg *m = b->m;
    hdr(m, KMS_MIKEY_DT_PSK_RESP, KMS_MIKEY_PRF_MIKEY1, CSB_ID, false);
    srtp_map(m);
    t_payload(m, NTP_T);
    add(m, KMS_MIKEY_PT_ID)->u.id = (struct kms_mikey_id){0, 0, B(id_r, strlen(id_r))};
    add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA1_160, B(zero_mac, 20)};
    uint8_t ts[8];
    ts_bytes(NTP_T, ts);
    struct kms_iov cov[3] = {{(const uint8_t *)id_i, strlen(id_i)},
                             {(const uint8_t *)id_r, strlen(id_r)},
                             {ts, sizeof(ts)}};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_PSK_3830,
                               .rands = {rand_i, sizeof(rand_i), NULL, 0},
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA1_160,
                               .extra = cov,
                               .n_extra = 3};
    check(kms_mikey_seal(m, psk, sizeof(psk), &p, &b->out), "seal R_MESSAGE");
    struct kms_mikey_msg_keys k;
    check(kms_mikey_msg_keys_psk(KMS_MIKEY_PRF_MIKEY1, psk, sizeof(psk), CSB_ID, rand_i,
                                 sizeof(rand_i), KMS_MIKEY_ENCR_NULL, KMS_MIKEY_MAC_HMAC_SHA1_160,
                                 &k),
          "keys");
    recompute_mac(&k, KMS_MIKEY_MAC_HMAC_SHA1_160, &b->out, &p, b->mac, &b->mac_len);
    kms_mikey_msg_keys_cleanup(&k);
}

static void idr(struct kms_mikey_msg *m, uint8_t role, const char *id)
{
    add(m, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){role, 1, B(id, strlen(id))};
}

/* TP / TICKET (RFC 6043 6.10) with TP data = IDRr. */
static void ticket(struct built *b, uint8_t type)
{
    struct kms_mikey_plist l = {0};
    l.n = 1;
    l.pl[0].type = KMS_MIKEY_PT_IDR;
    l.pl[0].u.id = (struct kms_mikey_id){2, 1, B("sip:bob@example.org", 19)};
    struct kms_buf tb;
    kms_buf_init_fixed(&tb, b->tp_data, sizeof(b->tp_data), false);
    check(kms_mikey_chain_encode(&l, &tb), "TP data");
    b->tp_len = kms_buf_len(&tb);
    struct kms_mikey_payload *pl = add(b->m, type);
    pl->u.ticket = (struct kms_mikey_ticket){.type = 1,
                                             .subtype = 1,
                                             .version = 1,
                                             .prf = 1,
                                             .flags = KMS_MIKEY_TF_E,
                                             .tp_data = B(b->tp_data, b->tp_len)};
    if (type == KMS_MIKEY_PT_TICKET) {
        pl->u.ticket.flags |= KMS_MIKEY_TF_D;
        pl->u.ticket.ticket_data = B("opaque-ticket-bytes", 19);
    }
}

static const struct kms_iov ids_i_kms[2] = {{(const uint8_t *)idr_i, sizeof(idr_i) - 1},
                                            {(const uint8_t *)idr_kms, sizeof(idr_kms) - 1}};

/* RFC 6043 REQUEST_INIT_PSK: MAC over the message || Identity_i || Identity_kms. */
static void build_request_init(struct built *b)
{
    struct kms_mikey_msg *m = b->m;
    hdr(m, KMS_MIKEY_DT_REQUEST_INIT_PSK, KMS_MIKEY_PRF_HMAC_SHA256, CSB_ID_T, true);
    m->hdr.map_type = KMS_MIKEY_MAP_EMPTY;
    t_payload(m, NTP_T);
    add(m, KMS_MIKEY_PT_RANDR)->u.randr = (struct kms_mikey_randr){1, B(randr_i, 16)};
    idr(m, 1, idr_i);
    idr(m, 3, idr_kms);
    ticket(b, KMS_MIKEY_PT_TP);
    idr(m, 4, idr_psk);
    add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, B(zero_mac, 32)};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_INITIAL,
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                               .extra = ids_i_kms,
                               .n_extra = 2};
    check(kms_mikey_seal(m, psk, sizeof(psk), &p, &b->out), "seal REQUEST_INIT_PSK");
    struct kms_mikey_rands r = {randr_i, sizeof(randr_i), NULL, 0};
    struct kms_mikey_msg_keys k;
    check(kms_mikey_msg_keys_ticket(KMS_MIKEY_PRF_HMAC_SHA256, psk, sizeof(psk), CSB_ID_T,
                                    KMS_MIKEY_TICKET_INITIAL, &r, KMS_MIKEY_ENCR_NULL,
                                    KMS_MIKEY_MAC_HMAC_SHA256_256, &k),
          "keys");
    recompute_mac(&k, KMS_MIKEY_MAC_HMAC_SHA256_256, &b->out, &p, b->mac, &b->mac_len);
    kms_mikey_msg_keys_cleanup(&k);
}

/* RFC 6043 REQUEST_RESP answering req: MAC over the message || the REQUEST_INIT_PSK. */
static void build_request_resp(struct built *b, const struct built *req)
{
    struct kms_mikey_msg *m = b->m;
    hdr(m, KMS_MIKEY_DT_REQUEST_RESP, KMS_MIKEY_PRF_HMAC_SHA256, CSB_ID_T, false);
    m->hdr.map_type = KMS_MIKEY_MAP_EMPTY;
    t_payload(m, NTP_T2);
    idr(m, 3, idr_kms);
    ticket(b, KMS_MIKEY_PT_TICKET);
    struct kms_mikey_keydata_list l = {0};
    l.n = 2;
    l.kd[0] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_MPK, .key = B(mpk, sizeof(mpk))};
    l.kd[1] = (struct kms_mikey_keydata){.type = KMS_MIKEY_KD_TGK,
                                         .kv = KMS_MIKEY_KV_SPI,
                                         .key = B(tgk, sizeof(tgk)),
                                         .kv_a = B("\x00\x01", 2)};
    keydata(b, &l);
    add(m, KMS_MIKEY_PT_KEMAC)->u.kemac = (struct kms_mikey_kemac){
        KMS_MIKEY_ENCR_AES_CM_128, B(b->kd_plain, b->kd_len), KMS_MIKEY_MAC_NULL, B(NULL, 0)};
    add(m, KMS_MIKEY_PT_V)->u.v =
        (struct kms_mikey_v){KMS_MIKEY_MAC_HMAC_SHA256_256, B(zero_mac, 32)};
    struct kms_iov reqcov = {kms_buf_data(&req->out), kms_buf_len(&req->out)};
    struct kms_mikey_prot p = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                               .rands = {randr_i, sizeof(randr_i), NULL, 0},
                               .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                               .extra = &reqcov,
                               .n_extra = 1};
    check(kms_mikey_seal(m, psk, sizeof(psk), &p, &b->out), "seal REQUEST_RESP");
    struct kms_mikey_msg_keys k;
    check(kms_mikey_msg_keys_ticket(KMS_MIKEY_PRF_HMAC_SHA256, psk, sizeof(psk), CSB_ID_T,
                                    KMS_MIKEY_TICKET_RESPONSE, &p.rands, KMS_MIKEY_ENCR_AES_CM_128,
                                    KMS_MIKEY_MAC_HMAC_SHA256_256, &k),
          "keys");
    check(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, k.encr, k.salt, CSB_ID_T, NTP_T2, b->kd_plain,
                           b->kd_len, b->kd_enc),
          "AES-CM");
    recompute_mac(&k, KMS_MIKEY_MAC_HMAC_SHA256_256, &b->out, &p, b->mac, &b->mac_len);
    kms_mikey_msg_keys_cleanup(&k);
}

/* ---- output ------------------------------------------------------------------------------ */

static void print_od(const struct kms_buf *out)
{
    const uint8_t *p = kms_buf_data(out);
    size_t n = kms_buf_len(out);
    for (size_t i = 0; i < n; i += 16) {
        printf("%06zx", i);
        for (size_t j = i; j < i + 16 && j < n; j++) {
            printf(" %02x", p[j]);
        }
        printf("\n");
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: test_mkmikey i_message|r_message|request_init|request_resp "
                    "--od|--expect\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        return usage();
    }
    const char *which = argv[1];
    bool od;
    if (strcmp(argv[2], "--od") == 0) {
        od = true;
    } else if (strcmp(argv[2], "--expect") == 0) {
        od = false;
    } else {
        return usage();
    }
    struct built a, c;
    built_init(&a);
    built_init(&c);
    struct built *b = &a;
    if (strcmp(which, "i_message") == 0) {
        build_i_message(&a);
    } else if (strcmp(which, "r_message") == 0) {
        build_r_message(&a);
    } else if (strcmp(which, "request_init") == 0) {
        build_request_init(&a);
    } else if (strcmp(which, "request_resp") == 0) {
        build_request_init(&a);
        build_request_resp(&c, &a);
        b = &c;
    } else {
        built_cleanup(&a);
        built_cleanup(&c);
        return usage();
    }
    if (od) {
        print_od(&b->out);
    } else {
        struct wire_values w = {B(b->kd_enc, b->kd_len), B(b->mac, b->mac_len)};
        expect_msg(b->m, &w);
        print_expectations();
    }
    built_cleanup(&a);
    built_cleanup(&c);
    return fflush(stdout) == 0 ? 0 : 3;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The SDP reader/writer (sdp/kms_sdp.h): RFC 4566 text around RFC 4567's a=key-mgmt:mikey. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp/kms_sdp.h"

/* RFC 4567 5.1 (Example 1), its key-mgmt line joined into one line as SDP carries it, with
 * c= given the numeric address 192.0.2.1 (RFC 5737) instead of w-land.example.com, which we
 * refuse (sdp/kms_sdp.h). */
#define RFC_B64                                                                                    \
    "AQAFgM0XflABAAAAAAAAAAAAAAsAyONQ6gAAAAAGEEoo2pee4hp2UaDX8ZE22YwKAAAPZG9uYWxkQGR1Y2suY29tAQAA" \
    "AAAAAQAk0JKpgaVkDaawi9whVBtBt0KZ14ymNuu62+Nv3ozPLygwK/GbAV9iemnGUIZ19fWQUOSrzKTAv9zV"
#define RFC_HEAD                                                                                   \
    "v=0\r\n"                                                                                      \
    "o=alice 2891092738 2891092738 IN IP4 w-land.example.com\r\n"                                  \
    "s=Cool stuff\r\n"                                                                             \
    "e=alice@w-land.example.com\r\n"                                                               \
    "t=0 0\r\n"
#define RFC_TAIL                                                                                   \
    "a=key-mgmt:mikey " RFC_B64 "\r\n"                                                             \
    "m=audio 49000 RTP/SAVP 98\r\n"                                                                \
    "a=rtpmap:98 AMR/8000\r\n"                                                                     \
    "m=video 52230 RTP/SAVP 31\r\n"                                                                \
    "a=rtpmap:31 H261/90000\r\n"
static const char rfc_offer[] = RFC_HEAD "c=IN IP4 192.0.2.1\r\n" RFC_TAIL;

/* What Python's base64.b64decode makes of RFC_B64 (132 octets): the MIKEY common header
 * (RFC 3830 6.1) version 1, data type 0 (Initiator's PSK), next payload 5 (T), V 1 / PRF 0,
 * CSB ID 0xcd177e50; and its last four octets. */
static const uint8_t rfc_head[8] = {0x01, 0x00, 0x05, 0x80, 0xcd, 0x17, 0x7e, 0x50};
static const uint8_t rfc_last[4] = {0xc0, 0xbf, 0xdc, 0xd5};

static struct kms_sdp sdp; /* 20 KB: static, not on the stack */

static kms_result parse_str(const char *s, size_t *eo)
{
    return kms_sdp_parse((const uint8_t *)s, strlen(s), &sdp, eo);
}

static void assert_rfc_blob(const uint8_t *p, size_t n)
{
    assert_int_equal(n, 132);
    assert_memory_equal(p, rfc_head, sizeof rfc_head);
    assert_memory_equal(p + n - 4, rfc_last, sizeof rfc_last);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Parses s expecting err, and err_off when want_off is not SIZE_MAX; *out must be zeroed. */
static void refuse(const char *s, enum kms_err err, size_t want_off)
{
    size_t eo = 12345;
    kms_result r = parse_str(s, &eo);
    if (r.err != err) {
        print_error("input: %s\n", s);
    }
    assert_int_equal(r.err, err);
    assert_true(all_zero(&sdp, sizeof sdp));
    assert_true(eo <= strlen(s));
    if (want_off != SIZE_MAX) {
        assert_int_equal(eo, want_off);
    }
}

static size_t off_of(const char *s, const char *needle)
{
    const char *p = strstr(s, needle);
    assert_non_null(p);
    return (size_t)(p - s);
}

static void rfc_offer_parses(void **state)
{
    (void)state;
    size_t eo = 99;
    assert_int_equal(parse_str(rfc_offer, &eo).err, KMS_OK);
    assert_int_equal(eo, 0);
    assert_string_equal(sdp.conn_addr, "192.0.2.1");
    assert_true(sdp.has_mikey);
    assert_rfc_blob(sdp.mikey, sdp.mikey_len);
    assert_int_equal(sdp.n_media, 2);
    assert_string_equal(sdp.m[0].media, "audio");
    assert_int_equal(sdp.m[0].port, 49000);
    assert_string_equal(sdp.m[0].proto, "RTP/SAVP");
    assert_string_equal(sdp.m[0].fmts, "98");
    assert_string_equal(sdp.m[0].conn_addr, "192.0.2.1"); /* the session's */
    assert_false(sdp.m[0].has_mikey);
    assert_string_equal(sdp.m[1].media, "video");
    assert_int_equal(sdp.m[1].port, 52230);
    assert_string_equal(sdp.m[1].fmts, "31");
    /* RFC 4567 5.1: at session level, MIKEY keys both streams. */
    for (size_t i = 0; i < 2; i++) {
        const uint8_t *p = NULL;
        size_t n = 0;
        assert_int_equal(kms_sdp_mikey_for(&sdp, i, &p, &n).err, KMS_OK);
        assert_ptr_equal(p, sdp.mikey);
        assert_rfc_blob(p, n);
    }
    const uint8_t *p = (const uint8_t *)"x";
    size_t n = 7;
    assert_int_equal(kms_sdp_mikey_for(&sdp, 2, &p, &n).err, KMS_ERR_ARG);
    assert_null(p);
    assert_int_equal(n, 0);

    /* The same with LF line ends (RFC 4566 lets a parser take them). */
    char lf[sizeof rfc_offer];
    size_t j = 0;
    for (size_t i = 0; rfc_offer[i] != '\0'; i++) {
        if (rfc_offer[i] != '\r') {
            lf[j++] = rfc_offer[i];
        }
    }
    lf[j] = '\0';
    assert_int_equal(parse_str(lf, NULL).err, KMS_OK);
    assert_int_equal(sdp.n_media, 2);
    assert_rfc_blob(sdp.mikey, sdp.mikey_len);

    /* The RFC's own c= names a host: refused, the offset at the name. */
    static const char host[] = RFC_HEAD "c=IN IP4 w-land.example.com\r\n" RFC_TAIL;
    refuse(host, KMS_ERR_MALFORMED, off_of(host, "w-land.example.com\r\na="));
}

static void write_then_parse(void **state)
{
    (void)state;
    static const uint8_t mk[5] = {0x01, 0x02, 0x03, 0x04, 0x05};
    struct kms_buf b;
    kms_buf_init(&b, 65536, false);
    assert_int_equal(kms_buf_put_bytes(&b, (const uint8_t *)"X", 1).err, KMS_OK);
    struct kms_sdp_out o = {.addr = "192.0.2.7",
                            .port = 40000,
                            .sess_id = 18446744073709551615u,
                            .sess_version = 2,
                            .mikey = mk,
                            .mikey_len = sizeof mk};
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_OK);
    /* The brief's layout, base64 of 01..05 being "AQIDBAU=" (RFC 4648 4). Appended after "X". */
    static const char want[] = "Xv=0\r\n"
                               "o=- 18446744073709551615 2 IN IP4 192.0.2.7\r\n"
                               "s=-\r\n"
                               "c=IN IP4 192.0.2.7\r\n"
                               "t=0 0\r\n"
                               "a=key-mgmt:mikey AQIDBAU=\r\n"
                               "m=audio 40000 RTP/SAVP 0\r\n"
                               "a=rtpmap:0 PCMU/8000\r\n"
                               "a=sendrecv\r\n";
    assert_int_equal(kms_buf_len(&b), strlen(want));
    assert_memory_equal(kms_buf_data(&b), want, strlen(want));
    assert_int_equal(kms_sdp_parse(kms_buf_data(&b) + 1, kms_buf_len(&b) - 1, &sdp, NULL).err,
                     KMS_OK);
    assert_int_equal(sdp.n_media, 1);
    assert_true(sdp.has_mikey);
    assert_int_equal(sdp.mikey_len, sizeof mk);
    assert_memory_equal(sdp.mikey, mk, sizeof mk);
    assert_int_equal(sdp.m[0].port, 40000);
    assert_string_equal(sdp.m[0].conn_addr, "192.0.2.7");

    /* A message of the largest size, over IPv6, port 0. */
    uint8_t *big = malloc(KMS_SDP_KEYMGMT_MAX);
    assert_non_null(big);
    for (size_t i = 0; i < KMS_SDP_KEYMGMT_MAX; i++) {
        big[i] = (uint8_t)(i * 7 + 3);
    }
    kms_buf_reset(&b);
    o = (struct kms_sdp_out){.addr = "2001:db8::1", .mikey = big, .mikey_len = KMS_SDP_KEYMGMT_MAX};
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_OK);
    assert_non_null(strstr((const char *)kms_buf_data(&b), "c=IN IP6 2001:db8::1\r\n"));
    assert_int_equal(kms_sdp_parse(kms_buf_data(&b), kms_buf_len(&b), &sdp, NULL).err, KMS_OK);
    assert_string_equal(sdp.conn_addr, "2001:db8::1");
    assert_int_equal(sdp.m[0].port, 0);
    const uint8_t *p;
    size_t n;
    assert_int_equal(kms_sdp_mikey_for(&sdp, 0, &p, &n).err, KMS_OK);
    assert_int_equal(n, KMS_SDP_KEYMGMT_MAX);
    assert_memory_equal(p, big, KMS_SDP_KEYMGMT_MAX);

    /* Refusals leave the buffer as it was. */
    size_t len = kms_buf_len(&b);
    o.mikey_len = KMS_SDP_KEYMGMT_MAX + 1;
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_ERR_ARG);
    o.mikey_len = 0;
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_ERR_ARG);
    o.mikey_len = 10;
    o.addr = "host.example";
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_ERR_ARG);
    o.addr = "10.0.0.1/8";
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&b), len);
    free(big);
    kms_buf_cleanup(&b);

    /* A buffer too small fails in the middle and is left empty. */
    uint8_t small[100];
    kms_buf_init_fixed(&b, small, sizeof small, false);
    o = (struct kms_sdp_out){.addr = "192.0.2.7", .mikey = mk, .mikey_len = sizeof mk};
    assert_int_equal(kms_sdp_write(&o, &b).err, KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&b), 0);
}

/* Session level AQIDBAU= (01..05), media 0 its own AAEC (00 01 02), media 1 none. */
static void media_level_overrides_session(void **state)
{
    (void)state;
    static const char s[] = "v=0\r\nc=IN IP6 ::1\r\na=key-mgmt:mikey AQIDBAU=\r\n"
                            "m=audio 1 RTP/SAVP 0\r\nc=IN IP4 10.1.2.3\r\n"
                            "a=key-mgmt:mikey AAEC\r\n"
                            "m=audio 2 RTP/SAVP 0 8\r\n";
    assert_int_equal(parse_str(s, NULL).err, KMS_OK);
    const uint8_t *p;
    size_t n;
    assert_int_equal(kms_sdp_mikey_for(&sdp, 0, &p, &n).err, KMS_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x00\x01\x02", 3);
    assert_int_equal(kms_sdp_mikey_for(&sdp, 1, &p, &n).err, KMS_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "\x01\x02\x03\x04\x05", 5);
    assert_string_equal(sdp.m[0].conn_addr, "10.1.2.3");
    assert_string_equal(sdp.m[1].conn_addr, "::1");
    assert_string_equal(sdp.m[1].fmts, "0 8");

    /* Without the session attribute, media 1 has none. */
    static const char s2[] = "v=0\r\nm=audio 1 RTP/SAVP 0\r\na=key-mgmt:mikey AAEC\r\n"
                             "m=audio 2 RTP/SAVP 0\r\n";
    assert_int_equal(parse_str(s2, NULL).err, KMS_OK);
    assert_false(sdp.has_mikey);
    assert_int_equal(kms_sdp_mikey_for(&sdp, 0, &p, &n).err, KMS_OK);
    assert_int_equal(kms_sdp_mikey_for(&sdp, 1, &p, &n).err, KMS_ERR_NOT_FOUND);
    assert_null(p);
    assert_int_equal(n, 0);
    /* One mikey in each of two media sections is one per level: fine. */
    static const char s3[] = "v=0\r\nm=audio 1 RTP/SAVP 0\r\na=key-mgmt:mikey AAEC\r\n"
                             "m=audio 2 RTP/SAVP 0\r\na=key-mgmt:mikey AQIDBAU=\r\n";
    assert_int_equal(parse_str(s3, NULL).err, KMS_OK);
    assert_int_equal(sdp.m[1].mikey_len, 5);
}

static void other_protocols_and_no_mikey(void **state)
{
    (void)state;
    /* RFC 4567 4.1.2's example lists keyp1 and keyp2 beside mikey; their data is not read
     * (keyp2's holds a space, as in the RFC). A leading SP is allowed (0*1SP). */
    static const char s[] = "v=0\r\na=key-mgmt:keyp1 727gkdOshsuiSDF9sdhsdKnD/dhsoSJokdo7eWD\r\n"
                            "a=key-mgmt: mikey AAEC\r\n"
                            "a=key-mgmt:keyp2 DFsnuiSDSh9sdh Kksd/dhsoddo7eOok727gWsJD\r\n"
                            "a=key-mgmtx:mikey !!\r\na=rtcp-mux\r\nm=audio 1 RTP/SAVP 0\r\n"
                            "a=key-mgmt:MIKEY AAAA\r\n";
    assert_int_equal(parse_str(s, NULL).err, KMS_OK);
    assert_true(sdp.has_mikey);
    assert_int_equal(sdp.mikey_len, 3);
    assert_false(sdp.m[0].has_mikey); /* prtcl-id is case-sensitive (RFC 4567 3) */

    static const char none[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
                               "a=key-mgmt:keyp1 AAAA\r\nm=audio 9 RTP/AVP 0\r\n";
    assert_int_equal(parse_str(none, NULL).err, KMS_OK);
    assert_false(sdp.has_mikey);
    assert_false(sdp.m[0].has_mikey);
    assert_string_equal(sdp.conn_addr, "");
    assert_string_equal(sdp.m[0].conn_addr, "");
    const uint8_t *p;
    size_t n;
    assert_int_equal(kms_sdp_mikey_for(&sdp, 0, &p, &n).err, KMS_ERR_NOT_FOUND);
    /* No media at all: nothing to ask for. */
    assert_int_equal(parse_str("v=0\r\n", NULL).err, KMS_OK);
    assert_int_equal(sdp.n_media, 0);
    assert_int_equal(kms_sdp_mikey_for(&sdp, 0, &p, &n).err, KMS_ERR_ARG);
}

static void key_mgmt_refusals(void **state)
{
    (void)state;
    static const char two_s[] = "v=0\r\na=key-mgmt:mikey AAEC\r\na=key-mgmt:mikey AAEC\r\n";
    refuse(two_s, KMS_ERR_MALFORMED, 28); /* the second line */
    static const char two_m[] = "v=0\r\na=key-mgmt:mikey AAEC\r\nm=audio 1 RTP/SAVP 0\r\n"
                                "a=key-mgmt:mikey AAEC\r\na=key-mgmt: mikey AQIDBAU=\r\n";
    refuse(two_m, KMS_ERR_MALFORMED, off_of(two_m, "a=key-mgmt: "));
    static const char bad64[] = "v=0\r\na=key-mgmt:mikey AA*C\r\n";
    refuse(bad64, KMS_ERR_BAD_BASE64, off_of(bad64, "AA*C"));
    refuse("v=0\r\na=key-mgmt:mikey AAE\r\n", KMS_ERR_BAD_BASE64, SIZE_MAX);   /* unpadded */
    refuse("v=0\r\na=key-mgmt:mikey AB==\r\n", KMS_ERR_BAD_BASE64, SIZE_MAX);  /* not canonical */
    refuse("v=0\r\na=key-mgmt:mikey AAEC \r\n", KMS_ERR_BAD_BASE64, SIZE_MAX); /* trailing SP */
    refuse("v=0\r\na=key-mgmt:mikey \r\n", KMS_ERR_MALFORMED, SIZE_MAX);       /* no data */
    refuse("v=0\r\na=key-mgmt:mikey\r\n", KMS_ERR_MALFORMED, SIZE_MAX);        /* no SP */
    refuse("v=0\r\na=key-mgmt:mikey  AAEC\r\n", KMS_ERR_BAD_BASE64, SIZE_MAX); /* two SP */
    refuse("v=0\r\na=key-mgmt:  mikey AAEC\r\n", KMS_ERR_MALFORMED, SIZE_MAX); /* 0*1SP */
    refuse("v=0\r\na=key-mgmt:mi-key AAEC\r\n", KMS_ERR_MALFORMED, SIZE_MAX);  /* KMPID */
    refuse("v=0\r\na=key-mgmt\r\n", KMS_ERR_MALFORMED, SIZE_MAX);
    /* Decoded data over KMS_SDP_KEYMGMT_MAX: 4100 octets are 5468 characters. */
    char *big = malloc(KMS_SDP_MAX + 1);
    assert_non_null(big);
    int w = snprintf(big, KMS_SDP_MAX, "v=0\r\na=key-mgmt:mikey ");
    assert_true(w > 0);
    for (size_t i = 0; i < 5468; i++) {
        big[(size_t)w + i] = 'A';
    }
    memcpy(big + w + 5468, "\r\n", 3);
    refuse(big, KMS_ERR_TOO_LONG, SIZE_MAX);
    free(big);
}

static void line_refusals(void **state)
{
    (void)state;
    refuse("", KMS_ERR_TRUNCATED, 0);
    refuse("v=0", KMS_ERR_TRUNCATED, 3);
    refuse("v=0\r\ns=-\r", KMS_ERR_TRUNCATED, 9); /* cut between CR and LF */
    refuse("s=-\r\nv=0\r\n", KMS_ERR_MALFORMED, 0);
    refuse("\r\nv=0\r\n", KMS_ERR_MALFORMED, 0);
    refuse("v=1\r\n", KMS_ERR_UNSUPPORTED, 2);
    refuse("v=00\r\n", KMS_ERR_UNSUPPORTED, 2);
    refuse("v=0\r\nv=0\r\n", KMS_ERR_MALFORMED, 5);
    refuse("v=0\r\n\r\n", KMS_ERR_MALFORMED, 5);
    refuse("v=0\r\ns =x\r\n", KMS_ERR_MALFORMED, 5);
    refuse("v=0\r\n1=x\r\n", KMS_ERR_MALFORMED, 5);
    refuse("v=0\r\ns=caf\xc3\xa9\r\n", KMS_ERR_NOT_ASCII, 10); /* UTF-8 in s= */
    refuse("v=0\r\ns=a\tb\r\n", KMS_ERR_NOT_ASCII, 8);
    refuse("v=0\r\ns=a\rb\r\n", KMS_ERR_NOT_ASCII, 8);
    static const char nul[] = "v=0\r\ns=a\0b\r\n";
    size_t eo = 0;
    assert_int_equal(kms_sdp_parse((const uint8_t *)nul, sizeof nul - 1, &sdp, &eo).err,
                     KMS_ERR_NOT_ASCII);
    assert_int_equal(eo, 8);
    /* Unknown types and attributes are skipped, and o=, s=, t= are not required. */
    assert_int_equal(parse_str("v=0\r\nx=anything at all\r\nZ=\r\na=\r\na=foo:bar\r\n", NULL).err,
                     KMS_OK);

    /* Line length: KMS_SDP_LINE_MAX octets pass, one more does not. */
    char *s = malloc(KMS_SDP_MAX + 2);
    assert_non_null(s);
    memcpy(s, "v=0\r\ns=", 7);
    memset(s + 7, 'x', KMS_SDP_LINE_MAX - 2);
    memcpy(s + 7 + KMS_SDP_LINE_MAX - 2, "\r\n", 3);
    assert_int_equal(parse_str(s, NULL).err, KMS_OK);
    memset(s + 7, 'x', KMS_SDP_LINE_MAX - 1);
    memcpy(s + 7 + KMS_SDP_LINE_MAX - 1, "\r\n", 3);
    refuse(s, KMS_ERR_TOO_LONG, 5 + KMS_SDP_LINE_MAX);
    /* Lines: KMS_SDP_LINES_MAX pass, one more does not. */
    size_t n = 0;
    memcpy(s, "v=0\n", 4);
    n = 4;
    for (size_t i = 1; i < KMS_SDP_LINES_MAX; i++) {
        memcpy(s + n, "z=\n", 3);
        n += 3;
    }
    assert_int_equal(kms_sdp_parse((const uint8_t *)s, n, &sdp, NULL).err, KMS_OK);
    memcpy(s + n, "z=\n", 4);
    refuse(s, KMS_ERR_TOO_LONG, n);
    /* The whole: KMS_SDP_MAX octets at most. */
    memset(s, 'x', KMS_SDP_MAX + 1);
    assert_int_equal(kms_sdp_parse((const uint8_t *)s, KMS_SDP_MAX + 1, &sdp, &eo).err,
                     KMS_ERR_TOO_LONG);
    assert_int_equal(eo, KMS_SDP_MAX);
    free(s);
    assert_int_equal(kms_sdp_parse(NULL, 1, &sdp, NULL).err, KMS_ERR_ARG);
    assert_int_equal(kms_sdp_parse((const uint8_t *)"v=0\n", 4, NULL, NULL).err, KMS_ERR_ARG);
}

static void media_and_connection_refusals(void **state)
{
    (void)state;
    static const char *bad_m[] = {
        "m=audio 65536 RTP/SAVP 0",
        "m=audio -1 RTP/SAVP 0",
        "m=audio 49000/2 RTP/SAVP 0",
        "m=audio 049 RTP/SAVP 0",
        "m=audio  49 RTP/SAVP 0",
        "m=audio 49 RTP/SAVP",
        "m=audio 49 RTP/SAVP ",
        "m=audio 49 RTP/SAVP 0  8",
        "m=audio 49 RTP/SAVP 0 ",
        "m=audio",
        "m=",
        "m=audio 4x RTP/SAVP 0",
        "m=aud\"io 49 RTP/SAVP 0",
        "m=audioaudioaudio1 1 RTP/SAVP 0",
    };
    char s[256];
    for (size_t i = 0; i < sizeof bad_m / sizeof bad_m[0]; i++) {
        snprintf(s, sizeof s, "v=0\r\n%s\r\n", bad_m[i]);
        refuse(s, KMS_ERR_MALFORMED, SIZE_MAX);
    }
    refuse("v=0\r\nm=audio 65536 RTP/SAVP 0\r\n", KMS_ERR_MALFORMED, 13);
    assert_int_equal(parse_str("v=0\r\nm=audio 65535 RTP/SAVP 0\r\n", NULL).err, KMS_OK);
    assert_int_equal(sdp.m[0].port, 65535);
    /* KMS_SDP_MEDIA_MAX media pass, one more does not. */
    size_t n = (size_t)snprintf(s, sizeof s, "v=0\r\n");
    for (size_t i = 0; i < KMS_SDP_MEDIA_MAX; i++) {
        n += (size_t)snprintf(s + n, sizeof s - n, "m=audio %zu RTP/SAVP 0\r\n", i);
    }
    assert_int_equal(parse_str(s, NULL).err, KMS_OK);
    assert_int_equal(sdp.n_media, KMS_SDP_MEDIA_MAX);
    size_t at = n;
    snprintf(s + n, sizeof s - n, "m=audio 9 RTP/SAVP 0\r\n");
    refuse(s, KMS_ERR_TOO_LONG, at);

    static const char *bad_c[] = {
        "c=IN IP4 224.2.1.1/127", "c=IN IP4 ::1", "c=IN IP6 192.0.2.1",
        "c=IN IP4 host.example",  "c=ATM NSAP 1", "c=IN IP5 1.2.3.4",
        "c=IN IP4  1.2.3.4",      "c=IN IP4",     "c=IN IP4 ",
        "c=IN IP4 1.2.3.4 ",
    };
    for (size_t i = 0; i < sizeof bad_c / sizeof bad_c[0]; i++) {
        snprintf(s, sizeof s, "v=0\r\n%s\r\n", bad_c[i]);
        refuse(s, KMS_ERR_MALFORMED, SIZE_MAX);
    }
    refuse("v=0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n", KMS_ERR_MALFORMED, 23);
    refuse("v=0\r\nm=audio 9 RTP/SAVP 0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n",
           KMS_ERR_MALFORMED, SIZE_MAX);
}

/* Every prefix of a valid SDP: accepted exactly when it ends at a line end, and then whatever
 * MIKEY message it carries is the whole one; otherwise refused (never a shorter message). */
static void truncations(void **state)
{
    (void)state;
    size_t n = strlen(rfc_offer);
    size_t blob_end = off_of(rfc_offer, RFC_B64 "\r\n") + strlen(RFC_B64 "\r\n");
    for (size_t k = 0; k <= n; k++) {
        size_t eo = 0;
        kms_result r = kms_sdp_parse((const uint8_t *)rfc_offer, k, &sdp, &eo);
        bool at_line_end = k > 0 && rfc_offer[k - 1] == '\n';
        if (at_line_end) {
            assert_int_equal(r.err, KMS_OK);
            assert_int_equal(sdp.has_mikey, k >= blob_end);
            if (sdp.has_mikey) {
                assert_rfc_blob(sdp.mikey, sdp.mikey_len);
            }
        } else {
            assert_int_equal(r.err, KMS_ERR_TRUNCATED);
            assert_int_equal(eo, k);
            assert_true(all_zero(&sdp, sizeof sdp));
        }
    }
}

/* Every single-bit flip of a valid SDP: no crash; a refusal zeroes the result; an acceptance
 * carries the original MIKEY message when the flip is outside its base64, and another message
 * when inside (canonical base64: one text per message). */
static void bit_flips(void **state)
{
    (void)state;
    size_t n = strlen(rfc_offer);
    size_t b64_at = off_of(rfc_offer, RFC_B64);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    static uint8_t orig[KMS_SDP_KEYMGMT_MAX];
    assert_int_equal(parse_str(rfc_offer, NULL).err, KMS_OK);
    size_t orig_len = sdp.mikey_len;
    memcpy(orig, sdp.mikey, orig_len);
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, rfc_offer, n);
            buf[i] ^= (uint8_t)(1u << bit);
            size_t eo = 0;
            kms_result r = kms_sdp_parse(buf, n, &sdp, &eo);
            if (!kms_ok(r)) {
                assert_true(eo <= n);
                assert_true(all_zero(&sdp, sizeof sdp));
                continue;
            }
            accepted++;
            assert_true(i >= 3); /* "v=0" admits no flip */
            bool in_b64 = i >= b64_at && i < b64_at + strlen(RFC_B64);
            if (in_b64) {
                assert_true(sdp.has_mikey);
                assert_true(sdp.mikey_len != orig_len || memcmp(sdp.mikey, orig, orig_len) != 0);
            } else if (sdp.has_mikey) {
                assert_rfc_blob(sdp.mikey, sdp.mikey_len);
            }
        }
    }
    assert_true(accepted > 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc_offer_parses),
        cmocka_unit_test(write_then_parse),
        cmocka_unit_test(media_level_overrides_session),
        cmocka_unit_test(other_protocols_and_no_mikey),
        cmocka_unit_test(key_mgmt_refusals),
        cmocka_unit_test(line_refusals),
        cmocka_unit_test(media_and_connection_refusals),
        cmocka_unit_test(truncations),
        cmocka_unit_test(bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

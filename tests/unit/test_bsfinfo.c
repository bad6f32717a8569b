/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_bsfinfo.h"

/* protocol-facts.md 1.6 (B-TID of Milenage test set 1's RAND) and 2.3 (a Go BSF's document):
 * values and sources in tests/vectors/protocol_facts.txt [btid set1] and [bsfinfo go bsf]. */
#define BTID "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org"
#define LIFE 1711751774 /* 2024-03-29T22:36:14Z */
#define GO_BSF                                                                                     \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><BootstrappingInfo "                                \
    "xmlns=\"uri:3gpp-gba\"><btid>" BTID                                                           \
    "</btid><lifetime>2024-03-29T22:36:14Z</lifetime></BootstrappingInfo>"

static kms_result parse_str(const char *s, char *btid, size_t cap, uint64_t *t)
{
    /* An exact-size heap copy so that ASan sees a read past the end. */
    size_t n = strlen(s);
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    kms_result r = kms_bsfinfo_parse(p, n, btid, cap, t);
    free(p);
    return r;
}

static void expect_doc(const char *doc, const char *btid, uint64_t t)
{
    char got[KMS_BTID_MAX];
    uint64_t gt = 0;
    kms_result r = parse_str(doc, got, sizeof(got), &gt);
    if (r.err != KMS_OK) {
        fail_msg("refused (%s): %s", kms_err_name(r.err), doc);
    }
    assert_string_equal(got, btid);
    assert_int_equal(gt, t);
}

static void bsfinfo_format_exact(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);
    expect_ok(kms_bsfinfo_format(BTID, LIFE, &b));
    const char *want = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<BootstrappingInfo xmlns=\"uri:3gpp-gba\"><btid>" BTID
                       "</btid><lifetime>2024-03-29T22:36:14Z</lifetime></BootstrappingInfo>";
    assert_int_equal(kms_buf_len(&b), strlen(want));
    expect_bytes_eq(kms_buf_data(&b), want, strlen(want));
    /* and it parses back */
    char got[KMS_BTID_MAX];
    uint64_t t = 0;
    expect_ok(kms_bsfinfo_parse(kms_buf_data(&b), kms_buf_len(&b), got, sizeof(got), &t));
    assert_string_equal(got, BTID);
    assert_int_equal(t, LIFE);
    kms_buf_cleanup(&b);
}

static void bsfinfo_format_escapes_and_checks(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);
    expect_ok(kms_bsfinfo_format("a&b<c>d\"e'f@x", 0, &b));
    char got[KMS_BTID_MAX];
    uint64_t t = 9;
    expect_ok(kms_bsfinfo_parse(kms_buf_data(&b), kms_buf_len(&b), got, sizeof(got), &t));
    assert_string_equal(got, "a&b<c>d\"e'f@x");
    assert_int_equal(t, 0);
    assert_non_null(strstr((const char *)kms_buf_data(&b), "a&amp;b&lt;c&gt;d&quot;e&apos;f"));
    size_t len = kms_buf_len(&b);
    expect_err(kms_bsfinfo_format("", 0, &b), KMS_ERR_ARG);
    expect_err(kms_bsfinfo_format("a b", 0, &b), KMS_ERR_NOT_ASCII);
    expect_err(kms_bsfinfo_format("a", UINT64_C(253402300800), &b), KMS_ERR_ARG);
    char longid[KMS_BTID_MAX + 1];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    expect_err(kms_bsfinfo_format(longid, 0, &b), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&b), len);
    kms_buf_cleanup(&b);
    /* a full buffer leaves it as it was */
    uint8_t small[64];
    kms_buf_init_fixed(&b, small, sizeof(small), false);
    expect_ok(kms_buf_put_u8(&b, 'x'));
    expect_err(kms_bsfinfo_format(BTID, LIFE, &b), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&b), 1);
}

static void bsfinfo_parses_variants(void **state)
{
    (void)state;
    expect_doc(GO_BSF, BTID, LIFE);
    /* BOM, standalone, comments, PIs, white space, attributes, reversed order, an Extension
     * with nested unknown elements, lifetime with white space, a fraction and +00:00. */
    expect_doc("\xef\xbb\xbf<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n"
               "<!-- from a BSF --><?render hint?>\n"
               "<BootstrappingInfo xmlns=\"uri:3gpp-gba\" xmlns:x=\"urn:other\" x:a=\"1\" b='2'>\n"
               "  <lifetime>\n  2024-03-29T22:36:14.75+00:00 </lifetime>\n"
               "  <x:btid>not this one</x:btid>\n"
               "  <btid id=\"7\">" BTID "</btid>\n"
               "  <Extension><currenttime>2024-03-29T20:36:14Z</currenttime><y><z/></y>"
               "text &amp; <![CDATA[<cdata>]]></Extension>\n"
               "</BootstrappingInfo>\n<!-- end -->\n",
               BTID, LIFE);
    /* the namespace bound to a prefix; no declaration at all */
    expect_doc("<g:BootstrappingInfo xmlns:g=\"uri:3gpp-gba\"><g:btid>a@b</g:btid>"
               "<g:lifetime>1970-01-01T00:00:00Z</g:lifetime></g:BootstrappingInfo >",
               "a@b", 0);
    /* references and CDATA inside btid; the default namespace redeclared on a child */
    expect_doc("<BootstrappingInfo xmlns='uri:3gpp-gba'><btid>a&#x40;<![CDATA[b&c]]>&#64;d"
               "</btid><lifetime>2024-03-29T22:36:14Z</lifetime>"
               "<btid xmlns='urn:x'>ignored, other namespace</btid></BootstrappingInfo>",
               "a@b&c@d", LIFE);
    /* the namespace URI written with a reference is the same namespace */
    expect_doc("<BootstrappingInfo xmlns='uri:3gpp&#45;gba'><btid>x</btid>"
               "<lifetime>2024-03-29T22:36:14Z</lifetime></BootstrappingInfo>",
               "x", LIFE);
}

static void bsfinfo_rejects(void **state)
{
    (void)state;
#define R  "<BootstrappingInfo xmlns=\"uri:3gpp-gba\">"
#define RE "</BootstrappingInfo>"
#define B  "<btid>a@b</btid>"
#define L  "<lifetime>2024-03-29T22:36:14Z</lifetime>"
    static const struct {
        const char *doc;
        enum kms_err err;
    } bad[] = {
        {"", KMS_ERR_TRUNCATED},
        {R B RE, KMS_ERR_MALFORMED},                          /* no lifetime */
        {R L RE, KMS_ERR_MALFORMED},                          /* no btid */
        {R B B L RE, KMS_ERR_MALFORMED},                      /* duplicate btid */
        {R B L L RE, KMS_ERR_MALFORMED},                      /* duplicate lifetime */
        {R "<btid></btid>" L RE, KMS_ERR_ARG},                /* empty btid */
        {R "<btid/>" L RE, KMS_ERR_ARG},                      /* empty btid */
        {R "<btid> a@b</btid>" L RE, KMS_ERR_NOT_ASCII},      /* space in btid */
        {R "<btid>a@b<x/></btid>" L RE, KMS_ERR_MALFORMED},   /* element in btid */
        {R "<btid>a&#xe9;b</btid>" L RE, KMS_ERR_NOT_ASCII},  /* non-ASCII btid */
        {R "<btid>a\xc3\xa9</btid>" L RE, KMS_ERR_NOT_ASCII}, /* non-ASCII btid */
        {R B "<lifetime>2024-03-29T22:36:14</lifetime>" RE, KMS_ERR_MALFORMED},
        {R B "<lifetime>2024-03-29T22:36:14+01:00</lifetime>" RE, KMS_ERR_UNSUPPORTED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gbx\">" B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo>" B L RE, KMS_ERR_MALFORMED}, /* no namespace */
        {"<g:BootstrappingInfo>" B L "</g:BootstrappingInfo>", KMS_ERR_MALFORMED},
        {"<Bootstrappinginfo xmlns=\"uri:3gpp-gba\">" B L "</Bootstrappinginfo>",
         KMS_ERR_MALFORMED},
        {R B L "</BootstrappingInf>", KMS_ERR_MALFORMED}, /* mismatched end */
        {R "text" B L RE, KMS_ERR_MALFORMED},             /* text in the root */
        {R "&#32;" B L RE, KMS_ERR_MALFORMED},            /* reference in the root */
        {R "<![CDATA[x]]>" B L RE, KMS_ERR_MALFORMED},
        {R B L RE "x", KMS_ERR_TRAILING},
        {R B L RE R B L RE, KMS_ERR_TRAILING},
        {R B L RE "</x>", KMS_ERR_TRAILING},
        {"<!DOCTYPE x [<!ENTITY e \"a@b\">]>" R "<btid>&e;</btid>" L RE, KMS_ERR_UNSUPPORTED},
        {R "<btid>&e;</btid>" L RE, KMS_ERR_MALFORMED}, /* undeclared entity */
        {R "<btid>a&amp</btid>" L RE, KMS_ERR_MALFORMED},
        {R "<btid>&#0;</btid>" L RE, KMS_ERR_MALFORMED}, /* not a Char */
        {R "<btid>&#xD800;</btid>" L RE, KMS_ERR_MALFORMED},
        {R "<btid>&#X41;</btid>" L RE, KMS_ERR_MALFORMED},
        {R "<btid>a]]>b</btid>" L RE, KMS_ERR_MALFORMED},
        {R "<!ELEMENT x>" B L RE, KMS_ERR_MALFORMED},
        {R "<!-- a -- b -->" B L RE, KMS_ERR_MALFORMED},
        {R "<!-- a --->" B L RE, KMS_ERR_MALFORMED},
        {R "<?xml version='1.0'?>" B L RE, KMS_ERR_MALFORMED}, /* declaration not first */
        {" <?xml version='1.0'?>" R B L RE, KMS_ERR_MALFORMED},
        {"<?xml version='1.1'?>" R B L RE, KMS_ERR_UNSUPPORTED},
        {"<?xml encoding='UTF-8'?>" R B L RE, KMS_ERR_MALFORMED},
        {"<?xml version='1.0' encoding='ISO-8859-1'?>" R B L RE, KMS_ERR_UNSUPPORTED},
        {"<?xml version='1.0' standalone='yes' encoding='UTF-8'?>" R B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gba\" a='1' a='2'>" B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gba\" a='1'b='2'>" B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gba\" a=1>" B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gba\" a='<'>" B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gba\" p:a='1'>" B L RE, KMS_ERR_MALFORMED},
        {"<BootstrappingInfo xmlns=\"uri:3gpp-gba\" xmlns:p=''>" B L RE, KMS_ERR_MALFORMED},
        {R "<p:x/>" B L RE, KMS_ERR_MALFORMED}, /* undeclared prefix */
        {R "<a:b:c/>" B L RE, KMS_ERR_MALFORMED},
        {R "<\xc3\xa9/>" B L RE, KMS_ERR_UNSUPPORTED}, /* non-ASCII name */
        {R "<1x/>" B L RE, KMS_ERR_MALFORMED},
        {R B L "\x01" RE, KMS_ERR_MALFORMED},         /* control character */
        {R B L "\xc0\xaf" RE, KMS_ERR_MALFORMED},     /* overlong UTF-8 */
        {R B L "\xed\xa0\x80" RE, KMS_ERR_MALFORMED}, /* surrogate */
        {R B L "\xef\xbf\xbe" RE, KMS_ERR_MALFORMED}, /* U+FFFE */
        {R B L "\xff" RE, KMS_ERR_MALFORMED},
        {R B L, KMS_ERR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char btid[KMS_BTID_MAX];
        uint64_t t = 7;
        kms_result r = parse_str(bad[i].doc, btid, sizeof(btid), &t);
        if (r.err != bad[i].err) {
            fail_msg("#%zu: expected %s, got %s: %s", i, kms_err_name(bad[i].err),
                     kms_err_name(r.err), bad[i].doc);
        }
        assert_int_equal(t, 0);
        for (size_t k = 0; k < sizeof(btid); k++) {
            assert_int_equal(btid[k], 0);
        }
    }
}

/* Every proper prefix of a valid document is TRUNCATED, never a crash or a success. */
static void bsfinfo_every_prefix_truncated(void **state)
{
    (void)state;
    static const char *docs[] = {
        GO_BSF,
        "\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?><!--c--><?pi x?>"
        "<g:BootstrappingInfo xmlns:g='uri:3gpp-gba' a=\"&lt;\"><g:btid>a&amp;<![CDATA[x]]>"
        "</g:btid><g:lifetime> 2024-03-29T22:36:14Z </g:lifetime><e>\xc3\xa9</e>"
        "</g:BootstrappingInfo>",
    };
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        size_t n = strlen(docs[d]);
        for (size_t k = 0; k < n; k++) {
            uint8_t *p = malloc(k > 0 ? k : 1);
            assert_non_null(p);
            memcpy(p, docs[d], k);
            char btid[KMS_BTID_MAX];
            uint64_t t;
            kms_result r = kms_bsfinfo_parse(p, k, btid, sizeof(btid), &t);
            free(p);
            if (r.err != KMS_ERR_TRUNCATED) {
                fail_msg("doc %zu prefix %zu: %s", d, k, kms_err_name(r.err));
            }
        }
    }
}

static void bsfinfo_limits(void **state)
{
    (void)state;
    char btid[KMS_BTID_MAX];
    uint64_t t;
    /* nesting: the root plus 7 levels is the limit */
    char doc[KMS_BSFINFO_MAX + 64];
    snprintf(doc, sizeof(doc), R B L "<a><a><a><a><a><a><a></a></a></a></a></a></a></a>" RE);
    expect_ok(parse_str(doc, btid, sizeof(btid), &t));
    snprintf(doc, sizeof(doc), R B L "<a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a>" RE);
    expect_err(parse_str(doc, btid, sizeof(btid), &t), KMS_ERR_TOO_LONG);
    /* size: exactly the maximum passes, one more octet does not */
    size_t head = strlen(R B L), tail = strlen(RE);
    memcpy(doc, R B L, head);
    memset(doc + head, ' ', KMS_BSFINFO_MAX - head - tail);
    memcpy(doc + KMS_BSFINFO_MAX - tail, RE, tail + 1);
    assert_int_equal(strlen(doc), KMS_BSFINFO_MAX);
    expect_ok(parse_str(doc, btid, sizeof(btid), &t));
    memmove(doc + 1, doc, KMS_BSFINFO_MAX + 1);
    doc[0] = ' ';
    expect_err(parse_str(doc, btid, sizeof(btid), &t), KMS_ERR_TOO_LONG);
    /* attributes */
    expect_ok(parse_str(R "<x a0='' a1='' a2='' a3='' a4='' a5='' a6='' a7='' a8='' a9='' b0=''"
                          " b1='' b2='' b3='' b4='' b5=''/>" B L RE,
                        btid, sizeof(btid), &t));
    expect_err(parse_str(R "<x a0='' a1='' a2='' a3='' a4='' a5='' a6='' a7='' a8='' a9='' b0=''"
                           " b1='' b2='' b3='' b4='' b5='' b6=''/>" B L RE,
                         btid, sizeof(btid), &t),
               KMS_ERR_TOO_LONG);
    /* the output buffer: exactly enough, one short */
    expect_ok(parse_str(R B L RE, btid, 4, &t));
    assert_string_equal(btid, "a@b");
    expect_err(parse_str(R B L RE, btid, 3, &t), KMS_ERR_TOO_LONG);
    assert_int_equal(btid[0], 0);
    assert_int_equal(t, 0);
    /* a btid longer than any B-TID */
    char big[1024];
    memset(big, 0, sizeof(big));
    strcpy(big, R "<btid>");
    memset(big + strlen(big), 'a', 600);
    strcat(big, "</btid>" L RE);
    expect_err(parse_str(big, btid, sizeof(btid), &t), KMS_ERR_TOO_LONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bsfinfo_format_exact),
        cmocka_unit_test(bsfinfo_format_escapes_and_checks),
        cmocka_unit_test(bsfinfo_parses_variants),
        cmocka_unit_test(bsfinfo_rejects),
        cmocka_unit_test(bsfinfo_every_prefix_truncated),
        cmocka_unit_test(bsfinfo_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

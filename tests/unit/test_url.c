/* SPDX-License-Identifier: Apache-2.0 */
/* http/kms_url: the host out of the BSF and KMS URLs the UE is given. */
#include "testlib.h"

#include <string.h>

#include "http/kms_url.h"

static void host_of(const char *url, const char *want)
{
    char host[64];
    kms_result r = kms_http_url_host(url, host, sizeof(host));
    if (r.err != KMS_OK || strcmp(host, want) != 0) {
        fail_msg("%s: %s, host \"%s\" (want \"%s\")", url, kms_err_name(r.err),
                 r.err == KMS_OK ? host : "", want);
    }
}

static void host_ends_at_port_path_query_or_fragment(void **state)
{
    (void)state;
    host_of("https://bsf.example.org", "bsf.example.org");
    host_of("https://bsf.example.org/", "bsf.example.org");
    host_of("http://127.0.0.1:8080/bsf", "127.0.0.1");
    host_of("https://kms.example.org:443/mikey", "kms.example.org");
    host_of("https://kms.example.org?x=1", "kms.example.org");
    host_of("https://kms.example.org#top", "kms.example.org");
    host_of("https://KMS.Example.ORG/", "KMS.Example.ORG"); /* case is kept */
    host_of("x://a", "a");                                  /* the scheme is not judged here */
    host_of("https://a/b://c", "a");                        /* the first "://" counts */
}

static void refuses_no_scheme_empty_host_and_no_room(void **state)
{
    (void)state;
    char host[16] = "unchanged";
    expect_err(kms_http_url_host("bsf.example.org", host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https:/bsf.example.org", host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https://", host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https://:443/", host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https:///path", host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host(NULL, host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https://a", NULL, 4), KMS_ERR_ARG);
    assert_string_equal(host, "unchanged");
    /* the host and its NUL must fit: 15 octets in 16 do, 16 do not */
    expect_ok(kms_http_url_host("https://abcdefghijklmno/", host, sizeof(host)));
    assert_string_equal(host, "abcdefghijklmno");
    expect_err(kms_http_url_host("https://abcdefghijklmnop/", host, sizeof(host)), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https://a", host, 1), KMS_ERR_ARG);
    expect_err(kms_http_url_host("https://a", host, 0), KMS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_ends_at_port_path_query_or_fragment),
        cmocka_unit_test(refuses_no_scheme_empty_host_and_no_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

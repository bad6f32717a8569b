/* SPDX-License-Identifier: Apache-2.0 */
/* The Zn client with its Ks_NAF cache: see kms_zn_client.h. */
#include "gba/kms_zn_client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/kms_ossl.h"
#include "http/kms_httpc.h"
#include "util/kms_ident.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"
#include "util/kms_tab.h"

struct entry {
    uint8_t key[KMS_TAB_KEY_LEN]; /* HMAC(seed, B-TID), truncated */
    char btid[KMS_BTID_MAX];
    struct kms_zn_resp resp;
};

/* A B-TID the BSF said it does not know (404), until `until` (the caller's clock). */
struct neg_entry {
    uint8_t key[KMS_TAB_KEY_LEN];
    char btid[KMS_BTID_MAX];
    uint64_t until;
};

struct kms_zn_client {
    char *url, *ca_file, *cert_file, *key_file, *naf_fqdn;
    uint8_t ua_id[KMS_UA_ID_LEN];
    unsigned timeout_ms;
    unsigned neg_ttl_s;
    uint8_t seed[32];
    pthread_mutex_t mu;
    struct kms_tab *cache;
    struct kms_tab *neg; /* unknown B-TIDs */
    struct kms_zn_client_stats stats;
    uint64_t told_at; /* monotonic second of the last "why Zn fails" log line (under mu) */
};

/* Seconds between two log lines saying why Zn queries fail: a storm of requests gets one. */
#define ZN_WHY_EVERY_S 10

/* Logs why a Zn query failed in the words of what to fix, at most once per ZN_WHY_EVERY_S:
 * the BSF's 403 is its refusal of our client certificate (it answers 403 for nothing else:
 * kms_bsf_zn.c), a TLS_PEER failure its server certificate, anything else the transport. */
static void tell_why(struct kms_zn_client *c, enum kms_err err)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec;
    pthread_mutex_lock(&c->mu);
    bool tell = (err == KMS_ERR_AUTH || err == KMS_ERR_TLS_PEER) &&
                (c->told_at == 0 || now >= c->told_at + ZN_WHY_EVERY_S);
    if (tell) {
        c->told_at = now != 0 ? now : 1;
    }
    pthread_mutex_unlock(&c->mu);
    if (!tell) {
        return;
    }
    switch (err) {
    case KMS_ERR_AUTH:
        kms_log(KMS_LOG_ERROR,
                "Zn: the BSF refused our certificate (403): its subjectAltName must name %s "
                "(--fqdn), and it must be issued by a CA of the BSF's --zn-client-ca "
                "(--zn-cert %s)",
                c->naf_fqdn, c->cert_file != NULL ? c->cert_file : "");
        break;
    case KMS_ERR_TLS_PEER:
        kms_log(KMS_LOG_ERROR,
                "Zn: the BSF's certificate at %s is not trusted by --zn-ca %s or not issued for "
                "its host",
                c->url, c->ca_file != NULL ? c->ca_file : "");
        break;
    default:
        break; /* a transport failure: every request says so (503 zn-unavailable) */
    }
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void kms_zn_client_free(struct kms_zn_client *c)
{
    if (c == NULL) {
        return;
    }
    kms_tab_free(c->cache);
    kms_tab_free(c->neg);
    free(c->url);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->naf_fqdn);
    pthread_mutex_destroy(&c->mu);
    kms_wipe(c, sizeof(*c));
    free(c);
}

kms_result kms_zn_client_new(const struct kms_zn_client_cfg *cfg, struct kms_zn_client **out)
{
    KMS_ENSURE(cfg != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(cfg->url != NULL && cfg->naf_fqdn != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_ident_check_fqdn(cfg->naf_fqdn, strlen(cfg->naf_fqdn)));
    kms_result rc = KMS_RC_INIT;
    struct kms_zn_client *c = calloc(1, sizeof(*c));
    KMS_ENSURE(c != NULL, KMS_ERR_NOMEM);
    pthread_mutex_init(&c->mu, NULL);
    c->url = dup_or_null(cfg->url);
    c->ca_file = dup_or_null(cfg->ca_file);
    c->cert_file = dup_or_null(cfg->cert_file);
    c->key_file = dup_or_null(cfg->key_file);
    c->naf_fqdn = dup_or_null(cfg->naf_fqdn);
    KMS_ENSURE_OUT(rc,
                   c->url != NULL && c->naf_fqdn != NULL &&
                       (cfg->ca_file == NULL) == (c->ca_file == NULL) &&
                       (cfg->cert_file == NULL) == (c->cert_file == NULL) &&
                       (cfg->key_file == NULL) == (c->key_file == NULL),
                   KMS_ERR_NOMEM);
    memcpy(c->ua_id, cfg->ua_id, sizeof(c->ua_id));
    c->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : KMS_ZN_CLIENT_TIMEOUT_MS;
    c->neg_ttl_s = cfg->neg_ttl_s != 0 ? cfg->neg_ttl_s : KMS_ZN_CLIENT_NEG_TTL_S;
    KMS_TRY_OUT(rc, kms_random(c->seed, sizeof(c->seed)));
    KMS_TRY_OUT(rc, kms_tab_new(cfg->cache_max != 0 ? cfg->cache_max : 4096, sizeof(struct entry),
                                &c->cache));
    KMS_TRY_OUT(rc, kms_tab_new(cfg->neg_max != 0 ? cfg->neg_max : KMS_ZN_CLIENT_NEG_MAX,
                                sizeof(struct neg_entry), &c->neg));
    *out = c;
    c = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_zn_client_free(c);
    return rc;
}

void kms_zn_client_stats(struct kms_zn_client *c, struct kms_zn_client_stats *s)
{
    pthread_mutex_lock(&c->mu);
    *s = c->stats;
    pthread_mutex_unlock(&c->mu);
}

static bool entry_expired(const void *rec, void *arg)
{
    return ((const struct entry *)rec)->resp.key_expiry <= *(const uint64_t *)arg;
}

static bool neg_expired(const void *rec, void *arg)
{
    return ((const struct neg_entry *)rec)->until <= *(const uint64_t *)arg;
}

/* One POST to the BSF. */
static kms_result fetch(struct kms_zn_client *c, const char *btid, struct kms_zn_resp *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_zn_req q;
    memset(&q, 0, sizeof(q));
    struct kms_buf body;
    kms_buf_init(&body, 4096, false);
    struct kms_httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    size_t bl = strlen(btid), fl = strlen(c->naf_fqdn);
    KMS_ENSURE_OUT(rc, bl < sizeof(q.btid) && fl < sizeof(q.naf_fqdn), KMS_ERR_TOO_LONG);
    memcpy(q.btid, btid, bl + 1);
    memcpy(q.naf_fqdn, c->naf_fqdn, fl + 1);
    memcpy(q.ua_id, c->ua_id, sizeof(q.ua_id));
    KMS_TRY_OUT(rc, kms_zn_req_encode(&q, &body));
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    struct kms_httpc_cfg hc = {.ca_file = c->ca_file,
                               .cert_file = c->cert_file,
                               .key_file = c->key_file,
                               .timeout_ms = c->timeout_ms,
                               .max_body = KMS_ZN_JSON_MAX};
    struct kms_httpc_req req = {.method = "POST",
                                .url = c->url,
                                .headers = headers,
                                .body = kms_buf_data(&body),
                                .body_len = kms_buf_len(&body)};
    kms_result hr = kms_httpc_request(&hc, &req, &resp);
    if (hr.err == KMS_ERR_TLS_PEER) {
        tell_why(c, hr.err);
    }
    KMS_TRY_OUT(rc, hr);
    resp.body.secret = true; /* Ks_NAF */
    switch (resp.status) {
    case 200:
        break;
    case 404:
        KMS_BAIL_OUT(rc, KMS_ERR_NOT_FOUND);
    case 403:
        tell_why(c, KMS_ERR_AUTH);
        KMS_BAIL_OUT(rc, KMS_ERR_AUTH);
    default:
        KMS_BAIL_OUT(rc, KMS_ERR_HTTP);
    }
    KMS_TRY_OUT(rc, kms_zn_resp_decode(kms_buf_data(&resp.body), kms_buf_len(&resp.body), out));
    rc = KMS_RESULT_OK;
out:
    kms_httpc_resp_cleanup(&resp);
    kms_buf_cleanup(&body);
    return rc;
}

enum lookup { L_MISS, L_HIT, L_UNKNOWN };

/* The caches, under c->mu: a live answer (into out), a B-TID the BSF recently did not know, or
 * neither. Expired entries found on the way are dropped. */
static enum lookup lookup_locked(struct kms_zn_client *c, const uint8_t key[KMS_TAB_KEY_LEN],
                                 const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    struct entry *e = kms_tab_find(c->cache, key);
    if (e != NULL && strcmp(e->btid, btid) == 0 && now < e->resp.key_expiry) {
        *out = e->resp;
        c->stats.hits++;
        return L_HIT;
    }
    if (e != NULL) {
        kms_tab_delete(c->cache, e); /* expired: never served again */
    }
    struct neg_entry *n = kms_tab_find(c->neg, key);
    if (n != NULL && strcmp(n->btid, btid) == 0 && now < n->until) {
        c->stats.neg_hits++;
        return L_UNKNOWN;
    }
    if (n != NULL) {
        kms_tab_delete(c->neg, n);
    }
    return L_MISS;
}

/* Remembers, under c->mu, that the BSF does not know btid. A full table of live entries just
 * means this one is not remembered (the next query for it asks the BSF again). */
static void remember_unknown_locked(struct kms_zn_client *c, const uint8_t key[KMS_TAB_KEY_LEN],
                                    const char *btid, uint64_t now)
{
    void *rec = NULL;
    kms_result ins = kms_tab_insert(c->neg, key, &rec);
    if (ins.err == KMS_ERR_FULL) {
        (void)kms_tab_sweep(c->neg, neg_expired, &now);
        ins = kms_tab_insert(c->neg, key, &rec);
    }
    if (kms_ok(ins)) {
        struct neg_entry *n = rec;
        memcpy(n->btid, btid, strlen(btid) + 1);
        n->until = now + c->neg_ttl_s;
    }
}

static kms_result cache_key(const struct kms_zn_client *c, const char *btid,
                            uint8_t key[KMS_TAB_KEY_LEN])
{
    KMS_ENSURE(strlen(btid) < KMS_BTID_MAX, KMS_ERR_TOO_LONG);
    uint8_t mac[32];
    KMS_TRY(kms_hmac_sha256(c->seed, sizeof(c->seed), (const uint8_t *)btid, strlen(btid), mac));
    memcpy(key, mac, KMS_TAB_KEY_LEN);
    return KMS_RESULT_OK;
}

kms_result kms_zn_client_peek(struct kms_zn_client *c, const char *btid, uint64_t now,
                              struct kms_zn_resp *out, bool *hit)
{
    KMS_ENSURE(c != NULL && btid != NULL && out != NULL && hit != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    *hit = false;
    uint8_t key[KMS_TAB_KEY_LEN];
    KMS_TRY(cache_key(c, btid, key));
    pthread_mutex_lock(&c->mu);
    enum lookup l = lookup_locked(c, key, btid, now, out);
    pthread_mutex_unlock(&c->mu);
    *hit = l != L_MISS;
    KMS_ENSURE(l != L_UNKNOWN, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

kms_result kms_zn_client_get(struct kms_zn_client *c, const char *btid, uint64_t now,
                             struct kms_zn_resp *out)
{
    KMS_ENSURE(c != NULL && btid != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    uint8_t key[KMS_TAB_KEY_LEN];
    KMS_TRY(cache_key(c, btid, key));

    pthread_mutex_lock(&c->mu);
    enum lookup l = lookup_locked(c, key, btid, now, out);
    if (l == L_MISS) {
        c->stats.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    KMS_ENSURE(l != L_UNKNOWN, KMS_ERR_NOT_FOUND);
    if (l == L_HIT) {
        return KMS_RESULT_OK;
    }

    kms_result r = fetch(c, btid, out);
    if (kms_ok(r) && now >= out->key_expiry) {
        r = KMS_ERR(KMS_ERR_MALFORMED); /* the BSF handed out a key already past its expiry */
    }
    pthread_mutex_lock(&c->mu);
    if (r.err == KMS_ERR_NOT_FOUND) {
        remember_unknown_locked(c, key, btid, now);
    }
    if (!kms_ok(r)) {
        c->stats.fetch_errors++;
    } else {
        void *rec = NULL;
        kms_result ins = kms_tab_insert(c->cache, key, &rec);
        if (ins.err == KMS_ERR_FULL) {
            (void)kms_tab_sweep(c->cache, entry_expired, &now);
            ins = kms_tab_insert(c->cache, key, &rec);
        }
        if (kms_ok(ins)) { /* a full cache of live keys just means no caching for this one */
            struct entry *ne = rec;
            memcpy(ne->btid, btid, strlen(btid) + 1);
            ne->resp = *out;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (!kms_ok(r)) {
        kms_zn_resp_wipe(out);
    }
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* imskms-kmsd's Zn pool: see zn_pool.h. */
#include "zn_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct job *next;
    struct kms_http_defer *df;
    char peer[64];
    size_t len;
    uint8_t req[]; /* the request's bytes (public: the UE sent them in the clear) */
};

struct zn_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct job *head, *tail;
    size_t queued, running, queue_max;
    bool stopping, joined;
    zn_pool_serve serve;
    void *ctx;
    unsigned n_threads; /* created */
    pthread_t threads[];
};

static void *worker(void *arg)
{
    struct zn_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping) {
            pthread_cond_wait(&p->work, &p->mu);
        }
        if (p->head == NULL) {
            break; /* stopping, and nothing left to serve */
        }
        struct job *j = p->head;
        p->head = j->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        p->serve(p->ctx, j->req, j->len, j->peer, false, kms_http_defer_resp(j->df));
        kms_http_defer_done(j->df);
        free(j);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct zn_pool *zn_pool_new(unsigned threads, size_t queue_max, zn_pool_serve serve, void *ctx)
{
    if (threads == 0 || queue_max == 0 || serve == NULL) {
        return NULL;
    }
    struct zn_pool *p = calloc(1, sizeof(*p) + threads * sizeof(pthread_t));
    if (p == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->work, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    p->queue_max = queue_max;
    p->serve = serve;
    p->ctx = ctx;
    for (; p->n_threads < threads; p->n_threads++) {
        if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) != 0) {
            zn_pool_free(p);
            return NULL;
        }
    }
    return p;
}

bool zn_pool_submit(struct zn_pool *p, struct kms_http_defer *df, const uint8_t *req, size_t len,
                    const char *peer)
{
    struct job *j = malloc(sizeof(*j) + len);
    if (j == NULL) {
        return false;
    }
    *j = (struct job){.df = df, .len = len};
    memcpy(j->req, req, len);
    size_t pl = strnlen(peer != NULL ? peer : "", sizeof(j->peer) - 1);
    memcpy(j->peer, peer != NULL ? peer : "", pl);
    j->peer[pl] = '\0';
    pthread_mutex_lock(&p->mu);
    bool ok = !p->stopping && p->queued < p->queue_max;
    if (ok) {
        if (p->tail != NULL) {
            p->tail->next = j;
        } else {
            p->head = j;
        }
        p->tail = j;
        p->queued++;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    if (!ok) {
        free(j);
    }
    return ok;
}

size_t zn_pool_busy(struct zn_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->queued + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void zn_pool_stop(struct zn_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    bool joined = p->joined;
    p->stopping = true;
    struct job *q = p->head; /* answered here, not served */
    p->head = p->tail = NULL;
    p->queued = 0;
    p->joined = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    while (q != NULL) {
        struct job *next = q->next;
        p->serve(p->ctx, q->req, q->len, q->peer, true, kms_http_defer_resp(q->df));
        kms_http_defer_done(q->df);
        free(q);
        q = next;
    }
    for (unsigned i = 0; !joined && i < p->n_threads; i++) {
        (void)pthread_join(p->threads[i], NULL);
    }
}

void zn_pool_free(struct zn_pool *p)
{
    if (p == NULL) {
        return;
    }
    zn_pool_stop(p);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
